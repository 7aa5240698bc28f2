/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_mig: the UART's migration. The section carries every register and
 * latch of the model and both FIFOs, so a guest in the middle of a
 * transfer finds the bytes it had not read yet and the ones it had queued
 * for sending. The serial backend does not move: the destination sends
 * the queued bytes to its own backend once it runs.
 *
 * Section "uart16550" version 1 (little-endian):
 *   u32 clock_hz | u8 reg_shift |
 *   u8 ier lcr mcr scr fcr | u16 divisor |
 *   u8 lsr_err msr modem_in rbr | u8 flags (0 THRE pending, 1 timeout) |
 *   u8 rx count | u16 rx slots (oldest first) |
 *   u8 tx count | u8 tx bytes (oldest first)
 *
 * A stream from a UART with another clock or register spacing is refused
 * (-ENODEV): the guest's divisor and offsets would mean something else.
 *
 * Stopped (STOP, STOP_COPY, RESUMING), the port moves no bytes, runs no
 * timer and leaves the line alone (port_sync()), so the saved state is
 * the state the destination starts from.
 */
#include <errno.h>

#include "port.h"

#define SECTION_VERSION 1u
#define FLAG_THRE 0x1
#define FLAG_TIMEOUT 0x2
#define RX_ERRORS ((UART_LSR_PE | UART_LSR_FE | UART_LSR_BI) << 8)

static int put_fifo(vus_mig_out *out, const struct uart_fifo *f, bool wide)
{
	int ret = vus_mig_put_u8(out, f->count);

	for (unsigned int i = 0; ret == 0 && i < f->count; i++) {
		uint16_t v = f->slot[(f->head + i) % UART16550_FIFO_SIZE];

		ret = wide ? vus_mig_put_u16(out, v) : vus_mig_put_u8(out, (uint8_t)v);
	}
	return ret;
}

static int save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	const struct port *p = opaque;
	const struct uart16550 *u = &p->uart;
	const uint8_t regs[] = { u->ier, u->lcr, u->mcr, u->scr, u->fcr };
	const uint8_t latches[] = { u->lsr_err, u->msr, u->modem_in, u->rbr,
		(uint8_t)((u->thre_pending ? FLAG_THRE : 0) |
			  (u->timeout_pending ? FLAG_TIMEOUT : 0)) };
	int ret;

	ret = vus_mig_put_u32(out, u->clock_hz);
	ret = ret ? ret : vus_mig_put_u8(out, (uint8_t)p->shift);
	ret = ret ? ret : vus_mig_put(out, regs, sizeof(regs));
	ret = ret ? ret : vus_mig_put_u16(out, u->divisor);
	ret = ret ? ret : vus_mig_put(out, latches, sizeof(latches));
	ret = ret ? ret : put_fifo(out, &u->rx, true);
	return ret ? ret : put_fifo(out, &u->tx, false);
}

static int get_fifo(vus_mig_in *in, struct uart_fifo *f, bool wide,
		    unsigned int cap)
{
	int ret = vus_mig_get_u8(in, &f->count);

	f->head = 0;
	if (ret == 0 && f->count > cap)
		return -EBADMSG;
	for (unsigned int i = 0; ret == 0 && i < f->count; i++) {
		uint8_t b;

		if (wide) {
			ret = vus_mig_get_u16(in, &f->slot[i]);
			if (ret == 0 && (f->slot[i] & 0xff00 & ~RX_ERRORS))
				ret = -EBADMSG;
		} else {
			ret = vus_mig_get_u8(in, &b);
			f->slot[i] = b;
		}
	}
	return ret;
}

/* Parse the section into @u (a copy of the port's model) and validate it. */
static int parse(const struct port *p, vus_mig_in *in, struct uart16550 *u)
{
	uint8_t regs[5], latches[5], shift;
	uint32_t clock;
	unsigned int cap;
	int ret;

	ret = vus_mig_get_u32(in, &clock);
	ret = ret ? ret : vus_mig_get_u8(in, &shift);
	if (ret == 0 && (clock != p->uart.clock_hz || shift != p->shift))
		return -ENODEV;
	ret = ret ? ret : vus_mig_get(in, regs, sizeof(regs));
	ret = ret ? ret : vus_mig_get_u16(in, &u->divisor);
	ret = ret ? ret : vus_mig_get(in, latches, sizeof(latches));
	if (ret < 0)
		return ret;
	u->ier = regs[0];
	u->lcr = regs[1];
	u->mcr = regs[2];
	u->scr = regs[3];
	u->fcr = regs[4];
	u->lsr_err = latches[0];
	u->msr = latches[1];
	u->modem_in = latches[2];
	u->rbr = latches[3];
	u->thre_pending = latches[4] & FLAG_THRE;
	u->timeout_pending = latches[4] & FLAG_TIMEOUT;
	/* Only values the model itself can reach. */
	if ((u->ier & 0xf0) || (u->mcr & 0xe0) ||
	    (u->fcr & ~(UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG_MASK)) ||
	    (u->fcr != 0 && !(u->fcr & UART_FCR_ENABLE)) ||
	    (u->lsr_err & ~(UART_LSR_ERRORS | UART_LSR_FIFOE)) ||
	    (u->modem_in & ~UART_MSR_LINES) ||
	    (latches[4] & ~(FLAG_THRE | FLAG_TIMEOUT)))
		return -EBADMSG;
	cap = (u->fcr & UART_FCR_ENABLE) ? UART16550_FIFO_SIZE : 1;
	ret = get_fifo(in, &u->rx, true, cap);
	ret = ret ? ret : get_fifo(in, &u->tx, false, cap);
	if (ret == 0 && vus_mig_remaining(in) != 0)
		ret = -EBADMSG;
	return ret;
}

static int check(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct port *p = opaque;
	struct uart16550 u = p->uart;

	(void)version; /* only version 1 exists */
	return parse(p, in, &u);
}

static int load(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct port *p = opaque;
	struct uart16550 u = p->uart;
	int ret;

	(void)version;
	ret = parse(p, in, &u);
	if (ret < 0)
		return ret;
	u.rx_epoch = p->uart.rx_epoch + 1; /* the timer starts afresh */
	p->uart = u;
	return 0;
}

static void state_changed(vus_ctx *ctx, void *opaque, enum vus_mig_state from,
			  enum vus_mig_state to)
{
	struct port *p = opaque;

	(void)from;
	p->stopped = vus_mig_state_stopped(to);
	port_sync(p);
}

int port_mig_setup(struct port *p, const struct vus_mig_config *cfg)
{
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = save, .check = check,
		.load = load,
	};
	int ret;

	ret = vus_mig_setup(p->ctx, cfg);
	ret = ret ? ret : vus_mig_add_section(p->ctx, "uart16550",
					      SECTION_VERSION, &ops, p);
	return ret ? ret : vus_mig_set_state_cb(p->ctx, state_changed, p);
}
