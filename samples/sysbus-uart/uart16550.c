/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uart16550: the 16550A register model (see uart16550.h). Written from the
 * data sheet's description of the registers; the comments name the rule
 * each piece follows.
 */
#include <string.h>

#include "uart16550.h"

/* Modem inputs of a line with the other end present and ready. */
#define MODEM_IN_DEFAULT (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

/* ---- FIFOs ---- */

static void fifo_clear(struct uart_fifo *f)
{
	f->head = 0;
	f->count = 0;
}

static void fifo_push(struct uart_fifo *f, uint16_t v)
{
	f->slot[(f->head + f->count) % UART16550_FIFO_SIZE] = v;
	f->count++;
}

static uint16_t fifo_at(const struct uart_fifo *f, unsigned int i)
{
	return f->slot[(f->head + i) % UART16550_FIFO_SIZE];
}

static uint16_t fifo_pop(struct uart_fifo *f)
{
	uint16_t v = f->slot[f->head];

	f->head = (uint8_t)((f->head + 1) % UART16550_FIFO_SIZE);
	f->count--;
	return v;
}

static bool fifo_mode(const struct uart16550 *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

/* Holding capacity: the FIFOs, or the single 8250-style holding registers. */
static unsigned int capacity(const struct uart16550 *u)
{
	return fifo_mode(u) ? UART16550_FIFO_SIZE : 1;
}

static unsigned int rx_trigger(const struct uart16550 *u)
{
	static const uint8_t level[4] = { 1, 4, 8, 14 };

	return level[(u->fcr & UART_FCR_TRIG_MASK) >> 6];
}

static bool rx_errors_in_fifo(const struct uart16550 *u)
{
	for (unsigned int i = 0; i < u->rx.count; i++)
		if (fifo_at(&u->rx, i) >> 8)
			return true;
	return false;
}

/* ---- receiver ---- */

/*
 * PE, FE and BI describe the byte at the top of the FIFO: they show in
 * LSR when that byte gets there (and stay until LSR is read).
 */
static void rx_reveal_top(struct uart16550 *u)
{
	if (u->rx.count > 0)
		u->lsr_err |= (uint8_t)(fifo_at(&u->rx, 0) >> 8);
}

static void rx_clear(struct uart16550 *u)
{
	fifo_clear(&u->rx);
	u->timeout_pending = false;
	u->rx_epoch++;
	if (!rx_errors_in_fifo(u))
		u->lsr_err &= (uint8_t)~UART_LSR_FIFOE;
}

static void receive(struct uart16550 *u, uint8_t byte, uint8_t errors)
{
	uint16_t v;

	errors &= UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;
	v = (uint16_t)(byte | errors << 8);
	u->rx_epoch++;
	if (u->rx.count >= capacity(u)) {
		/*
		 * Overrun. FIFO mode: the byte in the shift register is lost,
		 * the FIFO keeps its contents. Without FIFOs the new byte
		 * replaces the unread one in RBR.
		 */
		u->lsr_err |= UART_LSR_OE;
		if (fifo_mode(u))
			return;
		fifo_clear(&u->rx);
	}
	fifo_push(&u->rx, v);
	if (!fifo_mode(u) || u->rx.count == 1)
		u->lsr_err |= errors;
	if (fifo_mode(u) && errors)
		u->lsr_err |= UART_LSR_FIFOE;
}

static uint8_t read_rbr(struct uart16550 *u)
{
	if (u->rx.count == 0)
		return u->rbr; /* RBR keeps showing the last byte */
	u->rbr = (uint8_t)fifo_pop(&u->rx);
	/* A read clears the timeout interrupt and restarts its timer. */
	u->timeout_pending = false;
	u->rx_epoch++;
	if (fifo_mode(u))
		rx_reveal_top(u);
	return u->rbr;
}

/* ---- transmitter ---- */

/* THR (or the TX FIFO) became empty: the THRE interrupt condition. */
static void tx_emptied(struct uart16550 *u)
{
	u->thre_pending = true;
}

/* Loopback: the transmitter's output feeds the receiver directly. */
static void loop_tx(struct uart16550 *u)
{
	if (!(u->mcr & UART_MCR_LOOP) || u->tx.count == 0)
		return;
	while (u->tx.count > 0)
		receive(u, (uint8_t)fifo_pop(&u->tx), 0);
	tx_emptied(u);
}

static void write_thr(struct uart16550 *u, uint8_t val)
{
	if (u->tx.count >= capacity(u)) {
		/* Full: a FIFO drops the byte, a holding register is overwritten. */
		if (fifo_mode(u))
			goto out;
		fifo_clear(&u->tx);
	}
	fifo_push(&u->tx, val);
out:
	u->thre_pending = false; /* writing THR clears the THRE interrupt */
	loop_tx(u);
}

/* ---- interrupts ---- */

static bool rx_data_ready(const struct uart16550 *u)
{
	return fifo_mode(u) ? u->rx.count >= rx_trigger(u) : u->rx.count > 0;
}

/* The highest-priority enabled source, as IIR bits 3:0 show it. */
static uint8_t iir_source(const struct uart16550 *u)
{
	if ((u->ier & UART_IER_RLSI) && (u->lsr_err & UART_LSR_ERRORS))
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && rx_data_ready(u))
		return UART_IIR_RDI;
	if ((u->ier & UART_IER_RDI) && u->timeout_pending)
		return UART_IIR_TIMEOUT;
	if ((u->ier & UART_IER_THRI) && u->thre_pending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTAS))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

bool uart16550_irq(const struct uart16550 *u)
{
	return !(iir_source(u) & UART_IIR_NO_INT);
}

static uint8_t read_iir(struct uart16550 *u)
{
	uint8_t src = iir_source(u);

	/* Reading IIR while THRE is the source it shows clears THRE. */
	if (src == UART_IIR_THRI)
		u->thre_pending = false;
	return (uint8_t)(src | (fifo_mode(u) ? UART_IIR_FIFO : 0));
}

static void write_ier(struct uart16550 *u, uint8_t val)
{
	uint8_t old = u->ier;

	u->ier = val & 0x0f; /* bits 7:4 are always 0 on a 16550A */
	/* Enabling ETBEI with THR empty raises THRE at once. */
	if (!(old & UART_IER_THRI) && (u->ier & UART_IER_THRI) &&
	    u->tx.count == 0)
		u->thre_pending = true;
}

/* ---- FIFO control, line status ---- */

static void write_fcr(struct uart16550 *u, uint8_t val)
{
	bool was_on = fifo_mode(u), on = val & UART_FCR_ENABLE;

	/* Switching the FIFOs on or off empties both. */
	if (was_on != on)
		val |= UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX;
	if (val & UART_FCR_CLEAR_RX)
		rx_clear(u);
	if ((val & UART_FCR_CLEAR_TX) && u->tx.count > 0) {
		fifo_clear(&u->tx);
		tx_emptied(u);
	}
	/* The other bits are only programmed together with FCR0 set. */
	u->fcr = on ? (uint8_t)(val & (UART_FCR_ENABLE | UART_FCR_DMA |
				       UART_FCR_TRIG_MASK))
		    : 0;
}

static uint8_t lsr_value(const struct uart16550 *u)
{
	uint8_t v = u->lsr_err;

	if (u->rx.count > 0)
		v |= UART_LSR_DR;
	/* No shift register is modelled: THR empty means all sent. */
	if (u->tx.count == 0)
		v |= UART_LSR_THRE | UART_LSR_TEMT;
	if (!fifo_mode(u))
		v &= (uint8_t)~UART_LSR_FIFOE;
	return v;
}

static uint8_t read_lsr(struct uart16550 *u)
{
	uint8_t v = lsr_value(u);

	/* Reading LSR clears the error bits; FIFOE only if none is left. */
	u->lsr_err &= (uint8_t)~UART_LSR_ERRORS;
	if (!rx_errors_in_fifo(u))
		u->lsr_err &= (uint8_t)~UART_LSR_FIFOE;
	return v;
}

/* ---- modem lines ---- */

/* MSR 7:4 from the outside world, or from MCR's outputs in loopback. */
static uint8_t modem_lines(const struct uart16550 *u)
{
	uint8_t m = u->mcr, v = 0;

	if (!(m & UART_MCR_LOOP))
		return u->modem_in;
	if (m & UART_MCR_RTS)
		v |= UART_MSR_CTS;
	if (m & UART_MCR_DTR)
		v |= UART_MSR_DSR;
	if (m & UART_MCR_OUT1)
		v |= UART_MSR_RI;
	if (m & UART_MCR_OUT2)
		v |= UART_MSR_DCD;
	return v;
}

static void update_msr(struct uart16550 *u)
{
	uint8_t old = u->msr & UART_MSR_LINES, now = modem_lines(u);
	uint8_t changed = old ^ now, d = 0;

	if (changed & UART_MSR_CTS)
		d |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		d |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		d |= UART_MSR_TERI; /* trailing edge only */
	if (changed & UART_MSR_DCD)
		d |= UART_MSR_DDCD;
	u->msr = (uint8_t)(now | (u->msr & UART_MSR_DELTAS) | d);
}

static uint8_t read_msr(struct uart16550 *u)
{
	uint8_t v = u->msr;

	u->msr &= UART_MSR_LINES; /* reading clears the deltas */
	return v;
}

static void write_mcr(struct uart16550 *u, uint8_t val)
{
	u->mcr = val & 0x1f; /* bits 7:5 are always 0 on a 16550A */
	update_msr(u);
	loop_tx(u); /* bytes waiting in the TX FIFO now go round the loop */
}

void uart16550_set_modem_inputs(struct uart16550 *u, uint8_t lines)
{
	u->modem_in = lines & UART_MSR_LINES;
	update_msr(u);
}

/* ---- register access ---- */

static bool dlab(const struct uart16550 *u)
{
	return u->lcr & UART_LCR_DLAB;
}

uint8_t uart16550_read(struct uart16550 *u, unsigned int reg)
{
	switch (reg) {
	case UART_RBR:
		return dlab(u) ? (uint8_t)u->divisor : read_rbr(u);
	case UART_IER:
		return dlab(u) ? (uint8_t)(u->divisor >> 8) : u->ier;
	case UART_IIR: return read_iir(u);
	case UART_LCR: return u->lcr;
	case UART_MCR: return u->mcr;
	case UART_LSR: return read_lsr(u);
	case UART_MSR: return read_msr(u);
	case UART_SCR: return u->scr;
	default: return 0xff;
	}
}

void uart16550_write(struct uart16550 *u, unsigned int reg, uint8_t val)
{
	switch (reg) {
	case UART_THR:
		if (dlab(u))
			u->divisor = (uint16_t)((u->divisor & 0xff00) | val);
		else
			write_thr(u, val);
		break;
	case UART_IER:
		if (dlab(u))
			u->divisor = (uint16_t)((u->divisor & 0x00ff) | val << 8);
		else
			write_ier(u, val);
		break;
	case UART_FCR: write_fcr(u, val); break;
	case UART_LCR: u->lcr = val; break;
	case UART_MCR: write_mcr(u, val); break;
	case UART_SCR: u->scr = val; break;
	default: break; /* LSR and MSR writes are factory test only: ignored */
	}
}

/* ---- the outside world ---- */

size_t uart16550_rx_room(const struct uart16550 *u)
{
	if (u->mcr & UART_MCR_LOOP)
		return 0; /* the receiver is disconnected from the line */
	return u->rx.count < capacity(u) ? capacity(u) - u->rx.count : 0;
}

void uart16550_rx_push(struct uart16550 *u, uint8_t byte, uint8_t errors)
{
	receive(u, byte, errors);
}

size_t uart16550_tx_peek(const struct uart16550 *u, uint8_t *buf, size_t max)
{
	size_t n = u->tx.count;

	if (u->mcr & UART_MCR_LOOP)
		return 0; /* the line is held marking; loop_tx moves the bytes */
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)fifo_at(&u->tx, (unsigned int)i);
	return n;
}

void uart16550_tx_consume(struct uart16550 *u, size_t n)
{
	if (n == 0 || u->tx.count == 0)
		return;
	if (n > u->tx.count)
		n = u->tx.count;
	while (n-- > 0)
		(void)fifo_pop(&u->tx);
	if (u->tx.count == 0)
		tx_emptied(u);
}

/*
 * The 16550A times out when at least one byte waits and nothing entered
 * or left the RX FIFO for 4 character times. Below the trigger level is
 * where it matters (at or above it, "data available" is already pending),
 * so the timer only runs then.
 */
bool uart16550_timer_needed(const struct uart16550 *u)
{
	return fifo_mode(u) && u->rx.count > 0 &&
	       u->rx.count < rx_trigger(u) && !u->timeout_pending;
}

uint32_t uart16550_rx_epoch(const struct uart16550 *u)
{
	return u->rx_epoch;
}

void uart16550_char_timeout(struct uart16550 *u)
{
	if (uart16550_timer_needed(u))
		u->timeout_pending = true;
}

static uint32_t divisor_value(const struct uart16550 *u)
{
	/* The baud counter reloads with 0 as 65536 steps. */
	return u->divisor ? u->divisor : 65536u;
}

uint32_t uart16550_baud(const struct uart16550 *u)
{
	return u->clock_hz / (16u * divisor_value(u));
}

uint64_t uart16550_char_ns(const struct uart16550 *u)
{
	uint8_t lcr = u->lcr;
	unsigned int wlen = 5 + (lcr & UART_LCR_WLEN_MASK);
	/* Counted in half bits: 1.5 stop bits with 5-bit words. */
	unsigned int half = 2 * (1 + wlen + ((lcr & UART_LCR_PARITY) ? 1 : 0));

	half += (lcr & UART_LCR_STOP) ? (wlen == 5 ? 3 : 4) : 2;
	/* One bit lasts 16 * divisor clock periods. */
	return (uint64_t)half * 16u * divisor_value(u) * 1000000000ull /
	       (2ull * u->clock_hz);
}

/* ---- life cycle ---- */

void uart16550_reset(struct uart16550 *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->divisor = u->reset_divisor;
	u->lsr_err = 0;
	u->rbr = 0;
	u->thre_pending = false;
	u->timeout_pending = false;
	fifo_clear(&u->rx);
	fifo_clear(&u->tx);
	u->rx_epoch++;
	/* Lines as they are now, no deltas: reset is not a modem event. */
	u->msr = modem_lines(u);
}

void uart16550_init(struct uart16550 *u, uint32_t clock_hz, uint16_t divisor)
{
	memset(u, 0, sizeof(*u));
	u->clock_hz = clock_hz ? clock_hz : 1843200;
	u->reset_divisor = divisor;
	u->modem_in = MODEM_IN_DEFAULT;
	uart16550_reset(u);
}
