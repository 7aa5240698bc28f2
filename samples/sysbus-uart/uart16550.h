/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uart16550: the register model of a 16550A UART, with no I/O at all.
 *
 * The model owns the eight registers (plus the divisor latch), the 16-byte
 * receive and transmit FIFOs and the interrupt logic, with the 16550A data
 * sheet's semantics. The world outside talks to it through byte queues and
 * queries, never through callbacks, so a caller can do one register access
 * or one backend event and then look at what changed ("sync"):
 *
 *   - received bytes go in with uart16550_rx_push(), at most
 *     uart16550_rx_room() of them (0 in loopback: the receiver then
 *     listens to the transmitter, not to the line);
 *   - bytes to send come out with uart16550_tx_peek() and
 *     uart16550_tx_consume() (nothing in loopback);
 *   - uart16550_irq() is the level of the INTR output;
 *   - the character timeout needs a clock the model does not have: while
 *     uart16550_timer_needed(), the caller runs a timer of
 *     4 * uart16550_char_ns() restarted whenever uart16550_rx_epoch()
 *     changes, and calls uart16550_char_timeout() when it expires.
 *
 * Register numbers are indexes (0-7), not byte offsets: the bus glue
 * applies reg-shift. Every function runs on one thread (no locking).
 */
#ifndef UART16550_H
#define UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART16550_FIFO_SIZE 16

/* Register indexes. DLL and DLM replace RBR/THR and IER while LCR.DLAB. */
enum {
	UART_RBR = 0, /* read: receive buffer; write: THR */
	UART_THR = 0,
	UART_DLL = 0,
	UART_IER = 1,
	UART_DLM = 1,
	UART_IIR = 2, /* read: interrupt identification; write: FCR */
	UART_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
	UART_NR_REGS = 8,
};

/* IER */
#define UART_IER_RDI 0x01  /* received data available (and timeout) */
#define UART_IER_THRI 0x02 /* transmitter holding register empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI 0x08  /* modem status */

/* IIR: bit 0 set means "no interrupt pending"; bits 3:1 the source. */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_TIMEOUT 0x0c
#define UART_IIR_FIFO 0xc0 /* both set while the FIFOs are enabled */

/* FCR */
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_DMA 0x08
#define UART_FCR_TRIG_MASK 0xc0 /* 00: 1, 01: 4, 10: 8, 11: 14 bytes */

/* LCR */
#define UART_LCR_WLEN_MASK 0x03 /* 5 + n data bits */
#define UART_LCR_STOP 0x04      /* 2 stop bits (1.5 with 5 data bits) */
#define UART_LCR_PARITY 0x08
#define UART_LCR_EPAR 0x10
#define UART_LCR_SPAR 0x20
#define UART_LCR_SBC 0x40 /* set break */
#define UART_LCR_DLAB 0x80

/* MCR */
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

/* LSR */
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_PE 0x04
#define UART_LSR_FE 0x08
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LSR_FIFOE 0x80 /* an error byte is somewhere in the RX FIFO */
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

/* MSR: deltas in 3:0, line states in 7:4. */
#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04 /* RI went from on to off */
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_LINES 0xf0
#define UART_MSR_DELTAS 0x0f

/* A FIFO of received (byte | error bits << 8) or transmitted bytes. */
struct uart_fifo {
	uint16_t slot[UART16550_FIFO_SIZE];
	uint8_t head;
	uint8_t count;
};

struct uart16550 {
	/* Fixed at init. */
	uint32_t clock_hz;
	uint16_t reset_divisor;

	/* Registers as the guest programs them. */
	uint8_t ier, lcr, mcr, scr;
	uint8_t fcr; /* what was written, minus the self-clearing bits */
	uint16_t divisor;

	/* State behind the read-only registers. */
	uint8_t lsr_err; /* OE, PE, FE, BI, FIFOE: sticky until LSR is read */
	uint8_t msr;     /* line states and deltas as MSR reads them */
	uint8_t modem_in; /* CTS/DSR/RI/DCD presented by the outside world */
	uint8_t rbr;     /* the byte RBR shows when nothing is left */
	bool thre_pending;    /* THR-empty interrupt condition */
	bool timeout_pending; /* character timeout interrupt condition */
	uint32_t rx_epoch;    /* bumped by every RX FIFO push, pop or clear */

	struct uart_fifo rx, tx;
};

/**
 * Power the UART up: @clock_hz is the input clock (baud = clock / (16 *
 * divisor)); @divisor is the latch value at power-on and reset (0 is the
 * hardware's 65536). Modem inputs start as CTS, DSR and DCD asserted.
 */
void uart16550_init(struct uart16550 *u, uint32_t clock_hz, uint16_t divisor);

/** Master reset: registers to power-on values, FIFOs emptied. */
void uart16550_reset(struct uart16550 *u);

/** Guest read of register @reg (0-7), with its side effects. */
uint8_t uart16550_read(struct uart16550 *u, unsigned int reg);

/** Guest write of register @reg (0-7). */
void uart16550_write(struct uart16550 *u, unsigned int reg, uint8_t val);

/** Level of the INTR output: an enabled interrupt is pending. */
bool uart16550_irq(const struct uart16550 *u);

/** How many bytes the line may deliver now without an overrun. */
size_t uart16550_rx_room(const struct uart16550 *u);

/**
 * A byte arrived on the line, with @errors a mix of UART_LSR_PE, _FE and
 * _BI for how it was received (0 for a clean byte). Beyond the room it
 * is an overrun: OE is set and the byte lost (FIFO mode) or written over
 * the unread one (non-FIFO mode), as the 16550A does.
 */
void uart16550_rx_push(struct uart16550 *u, uint8_t byte, uint8_t errors);

/** Copy up to @max bytes waiting to be sent, oldest first; returns how many. */
size_t uart16550_tx_peek(const struct uart16550 *u, uint8_t *buf, size_t max);

/** The first @n peeked bytes left the transmitter. */
void uart16550_tx_consume(struct uart16550 *u, size_t n);

/** Whether the character timeout timer must run now. */
bool uart16550_timer_needed(const struct uart16550 *u);

/** Changes with every RX FIFO activity: restart the timer when it does. */
uint32_t uart16550_rx_epoch(const struct uart16550 *u);

/** One character time (start, data, parity, stop bits) at the programmed rate. */
uint64_t uart16550_char_ns(const struct uart16550 *u);

/** The timer ran out: 4 character times without RX FIFO activity. */
void uart16550_char_timeout(struct uart16550 *u);

/** Baud rate from the clock and the divisor latch. */
uint32_t uart16550_baud(const struct uart16550 *u);

/**
 * Set the modem input lines (UART_MSR_CTS | _DSR | _RI | _DCD) seen
 * outside loopback; changes set MSR's delta bits.
 */
void uart16550_set_modem_inputs(struct uart16550 *u, uint8_t lines);

#endif /* UART16550_H */
