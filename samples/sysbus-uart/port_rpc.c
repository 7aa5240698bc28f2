/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_rpc: the UART's management method (port.h):
 *
 *   uart.query-line  the line as the guest programmed it (baud, data bits,
 *                    parity, stop bits, break), the modem lines both ways,
 *                    FIFO use and the interrupt line
 *
 * Runs on the context thread like everything of the port.
 */
#include "port.h"

static const char *parity_name(uint8_t lcr)
{
	static const char *const names[] = { "odd", "even", "mark", "space" };

	if (!(lcr & UART_LCR_PARITY))
		return "none";
	return names[((lcr & UART_LCR_EPAR) ? 1 : 0) +
		     ((lcr & UART_LCR_SPAR) ? 2 : 0)];
}

static const char *stop_bits(uint8_t lcr)
{
	if (!(lcr & UART_LCR_STOP))
		return "1";
	return (lcr & UART_LCR_WLEN_MASK) == 0 ? "1.5" : "2";
}

static void modem_out(vus_rpc_out *res, const struct uart16550 *u)
{
	vus_rpc_out_begin_object(res, "modem");
	vus_rpc_out_bool(res, "dtr", u->mcr & UART_MCR_DTR);
	vus_rpc_out_bool(res, "rts", u->mcr & UART_MCR_RTS);
	vus_rpc_out_bool(res, "out1", u->mcr & UART_MCR_OUT1);
	vus_rpc_out_bool(res, "out2", u->mcr & UART_MCR_OUT2);
	vus_rpc_out_bool(res, "cts", u->msr & UART_MSR_CTS);
	vus_rpc_out_bool(res, "dsr", u->msr & UART_MSR_DSR);
	vus_rpc_out_bool(res, "ri", u->msr & UART_MSR_RI);
	vus_rpc_out_bool(res, "dcd", u->msr & UART_MSR_DCD);
	vus_rpc_out_end(res);
}

static int query_line(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		      vus_rpc_out *res)
{
	const struct port *p = opaque;
	const struct uart16550 *u = &p->uart;

	(void)ctx;
	(void)req;
	vus_rpc_out_uint(res, "baud", uart16550_baud(u));
	vus_rpc_out_uint(res, "data-bits", 5u + (u->lcr & UART_LCR_WLEN_MASK));
	vus_rpc_out_str(res, "parity", parity_name(u->lcr));
	vus_rpc_out_str(res, "stop-bits", stop_bits(u->lcr));
	vus_rpc_out_bool(res, "break", u->lcr & UART_LCR_SBC);
	vus_rpc_out_bool(res, "loopback", u->mcr & UART_MCR_LOOP);
	vus_rpc_out_bool(res, "fifo", u->fcr & UART_FCR_ENABLE);
	vus_rpc_out_uint(res, "rx-fifo", u->rx.count);
	vus_rpc_out_uint(res, "tx-fifo", u->tx.count);
	vus_rpc_out_bool(res, "irq", p->line);
	modem_out(res, u);
	return vus_rpc_out_bool(res, "stopped", p->stopped);
}

const struct vus_rpc_method port_rpc_methods[PORT_RPC_N_METHODS] = {
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "uart.query-line",
	  .summary = "the serial line as the guest programmed it",
	  .handler = query_line },
};

int port_rpc_setup(struct port *p)
{
	return vus_rpc_register(p->ctx, &port_rpc_methods[0], p);
}
