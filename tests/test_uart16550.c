/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 16550A register model of samples/sysbus-uart on its own: every
 * register, the divisor latch, FIFOs and trigger levels, interrupt
 * priorities, THRE, the character timeout, overrun and line status,
 * loopback with the modem lines, non-FIFO mode and reset. No I/O: bytes go
 * in with rx_push and out with tx_peek/tx_consume, time with char_timeout.
 */
#include <string.h>

#include "vtest.h"

#include "../samples/sysbus-uart/uart16550.h"

#define CLOCK 1843200u

static struct uart16550 u;

static uint8_t R(unsigned int reg)
{
	return uart16550_read(&u, reg);
}

static void W(unsigned int reg, uint8_t val)
{
	uart16550_write(&u, reg, val);
}

static void fresh(void)
{
	uart16550_init(&u, CLOCK, 1);
}

static void push(const char *s)
{
	while (*s)
		uart16550_rx_push(&u, (uint8_t)*s++, 0);
}

/* FIFOs on, trigger @fcr_trig (FCR bits 7:6), everything else as reset. */
static void fifo_on(uint8_t fcr_trig)
{
	W(UART_FCR, UART_FCR_ENABLE | fcr_trig);
}

static void power_on_values(void **state)
{
	(void)state;
	fresh();
	assert_int_equal(R(UART_IER), 0);
	assert_int_equal(R(UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(R(UART_LCR), 0);
	assert_int_equal(R(UART_MCR), 0);
	assert_int_equal(R(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(R(UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	assert_int_equal(R(UART_SCR), 0);
	assert_false(uart16550_irq(&u));
	assert_int_equal(uart16550_rx_room(&u), 1); /* FIFOs off */
	assert_int_equal(uart16550_baud(&u), 115200);
}

static void plain_registers_read_back(void **state)
{
	(void)state;
	fresh();
	for (unsigned int v = 0; v < 256; v++) {
		W(UART_SCR, (uint8_t)v);
		assert_int_equal(R(UART_SCR), v);
		W(UART_LCR, (uint8_t)(v & 0x7f));
		assert_int_equal(R(UART_LCR), v & 0x7f);
	}
	W(UART_LCR, 0);
	W(UART_IER, 0xff);
	assert_int_equal(R(UART_IER), 0x0f); /* bits 7:4 do not exist */
	W(UART_IER, 0);
	W(UART_MCR, 0xef);
	assert_int_equal(R(UART_MCR), 0x0f); /* bits 7:5 read 0, no LOOP */
	/* LSR and MSR ignore writes. */
	W(UART_LSR, 0xff);
	W(UART_MSR, 0xff);
	assert_int_equal(R(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(R(UART_MSR) & 0x0f, 0);
}

static void dlab_selects_divisor_latch(void **state)
{
	(void)state;
	fresh();
	W(UART_IER, UART_IER_RDI);
	W(UART_LCR, UART_LCR_DLAB | 0x03);
	assert_int_equal(R(UART_DLL), 1);
	assert_int_equal(R(UART_DLM), 0);
	W(UART_DLL, 0x0c);
	W(UART_DLM, 0x01);
	assert_int_equal(R(UART_DLL), 0x0c);
	assert_int_equal(R(UART_DLM), 0x01);
	/* Under DLAB a THR write is a DLL write: nothing is sent. */
	assert_int_equal(uart16550_tx_peek(&u, (uint8_t[4]){ 0 }, 4), 0);
	W(UART_LCR, 0x03);
	assert_int_equal(R(UART_IER), UART_IER_RDI); /* untouched */
	assert_int_equal(uart16550_baud(&u), CLOCK / 16 / 0x10c);
	/* The divisor survives DLAB going off and on again. */
	W(UART_LCR, UART_LCR_DLAB);
	assert_int_equal(R(UART_DLL), 0x0c);
	/* 0 counts as 65536. */
	W(UART_DLL, 0);
	W(UART_DLM, 0);
	assert_int_equal(uart16550_baud(&u), CLOCK / 16 / 65536);
}

static void character_time_follows_lcr_and_divisor(void **state)
{
	(void)state;
	fresh();
	W(UART_LCR, 0x03); /* 8N1: 10 bits at 115200 baud */
	assert_int_equal(uart16550_char_ns(&u), 86805);
	W(UART_LCR, 0x03 | UART_LCR_PARITY | UART_LCR_STOP); /* 8E2: 12 bits */
	assert_int_equal(uart16550_char_ns(&u), 104166);
	W(UART_LCR, 0x00 | UART_LCR_STOP); /* 5 bits, 1.5 stop: 7.5 bits */
	assert_int_equal(uart16550_char_ns(&u), 65104);
	W(UART_LCR, UART_LCR_DLAB | 0x03);
	W(UART_DLL, 12); /* 9600 baud */
	W(UART_LCR, 0x03);
	assert_int_equal(uart16550_char_ns(&u), 1041666);
}

static void fcr_enables_fifos_and_iir_shows_it(void **state)
{
	(void)state;
	fresh();
	fifo_on(0);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	assert_int_equal(uart16550_rx_room(&u), 16);
	push("abc");
	W(UART_THR, 'x');
	/* Turning the FIFOs off empties both. */
	W(UART_FCR, 0);
	assert_int_equal(R(UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(R(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	/* Trigger bits are not programmed without FCR0. */
	W(UART_FCR, 0xc0);
	assert_int_equal(uart16550_rx_room(&u), 1);
	fifo_on(0);
	W(UART_IER, UART_IER_RDI);
	push("a");
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
}

static void fcr_clear_bits_empty_one_fifo(void **state)
{
	uint8_t buf[16];

	(void)state;
	fresh();
	fifo_on(0x80);
	push("abcd");
	W(UART_THR, 'x');
	W(UART_THR, 'y');
	W(UART_FCR, UART_FCR_ENABLE | 0x80 | UART_FCR_CLEAR_RX);
	assert_int_equal(R(UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 2);
	W(UART_IER, UART_IER_THRI);
	W(UART_FCR, UART_FCR_ENABLE | 0x80 | UART_FCR_CLEAR_TX);
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 0);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	/* Trigger 8 stayed programmed. */
	W(UART_IER, UART_IER_RDI);
	push("1234567");
	assert_false(uart16550_irq(&u));
	push("8");
	assert_true(uart16550_irq(&u));
}

static void trigger_levels_1_4_8_14(void **state)
{
	static const struct { uint8_t bits; unsigned int level; } t[] = {
		{ 0x00, 1 }, { 0x40, 4 }, { 0x80, 8 }, { 0xc0, 14 },
	};

	(void)state;
	for (unsigned int i = 0; i < 4; i++) {
		fresh();
		fifo_on(t[i].bits);
		W(UART_IER, UART_IER_RDI);
		for (unsigned int n = 1; n < t[i].level; n++) {
			uart16550_rx_push(&u, (uint8_t)n, 0);
			assert_false(uart16550_irq(&u));
		}
		uart16550_rx_push(&u, 0xaa, 0);
		assert_true(uart16550_irq(&u));
		assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
		/* One read takes it below the trigger: the line drops. */
		(void)R(UART_RBR);
		assert_false(uart16550_irq(&u));
		assert_int_equal(R(UART_LSR) & UART_LSR_DR,
				 t[i].level > 1 ? UART_LSR_DR : 0);
	}
}

static void rx_fifo_keeps_order_and_overruns_at_17(void **state)
{
	(void)state;
	fresh();
	fifo_on(0xc0);
	W(UART_IER, UART_IER_RLSI | UART_IER_RDI);
	for (unsigned int i = 0; i < 16; i++)
		uart16550_rx_push(&u, (uint8_t)('A' + i), 0);
	assert_int_equal(uart16550_rx_room(&u), 0);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	uart16550_rx_push(&u, '!', 0); /* lost */
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
	assert_int_equal(R(UART_LSR), UART_LSR_DR | UART_LSR_OE |
					 UART_LSR_THRE | UART_LSR_TEMT);
	/* Reading LSR cleared OE, and with it the line status interrupt. */
	assert_int_equal(R(UART_LSR) & UART_LSR_OE, 0);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(R(UART_RBR), 'A' + i);
	assert_int_equal(R(UART_LSR) & UART_LSR_DR, 0);
	assert_false(uart16550_irq(&u));
	/* An empty RBR keeps showing the last byte. */
	assert_int_equal(R(UART_RBR), 'P');
}

static void non_fifo_mode_has_one_byte_holding_registers(void **state)
{
	uint8_t buf[4];

	(void)state;
	fresh();
	W(UART_IER, UART_IER_RDI | UART_IER_RLSI);
	assert_int_equal(uart16550_rx_room(&u), 1);
	push("a");
	assert_int_equal(uart16550_rx_room(&u), 0);
	assert_int_equal(R(UART_IIR), UART_IIR_RDI); /* bits 7:6 clear */
	push("b"); /* overrun: replaces the unread byte */
	assert_int_equal(R(UART_IIR), UART_IIR_RLSI);
	assert_int_equal(R(UART_LSR) & (UART_LSR_OE | UART_LSR_DR),
			 UART_LSR_OE | UART_LSR_DR);
	assert_int_equal(R(UART_RBR), 'b');
	assert_false(uart16550_irq(&u));
	/* No character timeout without FIFOs. */
	push("c");
	assert_false(uart16550_timer_needed(&u));
	(void)R(UART_RBR);
	/* THR holds one byte; a second write replaces it. */
	W(UART_THR, '1');
	assert_int_equal(R(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), 0);
	W(UART_THR, '2');
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], '2');
}

static void thre_interrupt_rules(void **state)
{
	uint8_t buf[16];

	(void)state;
	fresh();
	fifo_on(0);
	/* Enabling ETBEI with THR empty raises THRE at once. */
	W(UART_IER, UART_IER_THRI);
	assert_true(uart16550_irq(&u));
	/* Reading IIR while THRE is the source clears it. */
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	/* Off and on again: raised again (Linux's THRE test relies on it). */
	W(UART_IER, 0);
	W(UART_IER, UART_IER_THRI);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	/* Writing THR clears it; while bytes wait THRE and TEMT are clear. */
	W(UART_IER, 0);
	W(UART_IER, UART_IER_THRI);
	W(UART_THR, 'a');
	W(UART_THR, 'b');
	assert_false(uart16550_irq(&u));
	assert_int_equal(R(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), 0);
	/* Enabling ETBEI with bytes waiting raises nothing. */
	W(UART_IER, 0);
	W(UART_IER, UART_IER_THRI);
	assert_false(uart16550_irq(&u));
	/* Partly sent: still not empty. Fully sent: THRE again. */
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 2);
	uart16550_tx_consume(&u, 1);
	assert_false(uart16550_irq(&u));
	uart16550_tx_consume(&u, 1);
	assert_true(uart16550_irq(&u));
	assert_int_equal(R(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
			 UART_LSR_THRE | UART_LSR_TEMT);
	/* Disabling ETBEI hides it. */
	W(UART_IER, 0);
	assert_false(uart16550_irq(&u));
}

static void tx_fifo_holds_16_in_order(void **state)
{
	uint8_t buf[32];

	(void)state;
	fresh();
	fifo_on(0);
	for (unsigned int i = 0; i < 20; i++)
		W(UART_THR, (uint8_t)i);
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 16);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(buf[i], i);
	assert_int_equal(uart16550_tx_peek(&u, buf, 3), 3);
	uart16550_tx_consume(&u, 3);
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 13);
	assert_int_equal(buf[0], 3);
	uart16550_tx_consume(&u, 100); /* more than there is: all of it */
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 0);
}

/* Every source pending at once, then cleared one by one in order. */
static void iir_reports_sources_by_priority(void **state)
{
	(void)state;
	fresh();
	fifo_on(0x40); /* trigger 4 */
	W(UART_IER, 0x0f);
	/* THRE (raised by enabling ETBEI), MS, RDA, RLS. */
	uart16550_set_modem_inputs(&u, UART_MSR_DSR | UART_MSR_DCD);
	push("wxyz");
	uart16550_rx_push(&u, 'e', UART_LSR_PE);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	/* Fill up and overrun: RLS outranks everything. */
	push("0123456789a!");
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
	assert_int_equal(R(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
	/* PE is not shown before its byte reaches the top. */
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	for (int i = 0; i < 4; i++)
		(void)R(UART_RBR);
	/* 'e' is at the top now: PE shows, RLS again. */
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
	assert_int_equal(R(UART_LSR) & (UART_LSR_PE | UART_LSR_FIFOE),
			 UART_LSR_PE | UART_LSR_FIFOE);
	while (R(UART_LSR) & UART_LSR_DR)
		(void)R(UART_RBR);
	/* THRE next; reading IIR clears it, and modem status remains. */
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_MSI);
	assert_int_equal(R(UART_MSR), UART_MSR_DSR | UART_MSR_DCD | UART_MSR_DCTS);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	assert_false(uart16550_irq(&u));
}

static void character_timeout_below_trigger(void **state)
{
	uint32_t epoch;

	(void)state;
	fresh();
	fifo_on(0x80); /* trigger 8 */
	W(UART_IER, UART_IER_RDI);
	assert_false(uart16550_timer_needed(&u));
	push("abc");
	assert_true(uart16550_timer_needed(&u));
	epoch = uart16550_rx_epoch(&u);
	push("d"); /* activity restarts the timer */
	assert_int_not_equal(uart16550_rx_epoch(&u), epoch);
	assert_false(uart16550_irq(&u));
	uart16550_char_timeout(&u);
	assert_true(uart16550_irq(&u));
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_TIMEOUT);
	assert_false(uart16550_timer_needed(&u)); /* until the next activity */
	/* A byte arriving does not clear it; a read does. */
	push("e");
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_TIMEOUT);
	assert_int_equal(R(UART_RBR), 'a');
	assert_false(uart16550_irq(&u));
	assert_true(uart16550_timer_needed(&u));
	/* At the trigger the timer is not needed: data available says it. */
	push("fghi");
	assert_false(uart16550_timer_needed(&u));
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	uart16550_char_timeout(&u); /* a stale expiry changes nothing */
	while (R(UART_LSR) & UART_LSR_DR)
		(void)R(UART_RBR);
	assert_false(uart16550_timer_needed(&u));
	assert_false(uart16550_irq(&u));
	/* Pending but not enabled: no line. */
	W(UART_IER, 0);
	push("z");
	uart16550_char_timeout(&u);
	assert_false(uart16550_irq(&u));
	W(UART_IER, UART_IER_RDI);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_TIMEOUT);
}

static void line_status_errors_and_break(void **state)
{
	(void)state;
	fresh();
	fifo_on(0xc0);
	W(UART_IER, UART_IER_RLSI);
	push("ok");
	uart16550_rx_push(&u, 0, UART_LSR_BI | UART_LSR_FE);
	uart16550_rx_push(&u, 'p', UART_LSR_PE);
	/* FIFOE says an error byte is in the FIFO; BI/FE wait for the top. */
	assert_int_equal(R(UART_LSR) & 0x9f, UART_LSR_FIFOE | UART_LSR_DR);
	assert_false(uart16550_irq(&u));
	assert_int_equal(R(UART_RBR), 'o');
	assert_int_equal(R(UART_RBR), 'k');
	assert_true(uart16550_irq(&u));
	assert_int_equal(R(UART_LSR) & 0x9f,
			 UART_LSR_FIFOE | UART_LSR_BI | UART_LSR_FE | UART_LSR_DR);
	assert_false(uart16550_irq(&u));
	assert_int_equal(R(UART_RBR), 0);
	assert_int_equal(R(UART_LSR) & 0x9f,
			 UART_LSR_FIFOE | UART_LSR_PE | UART_LSR_DR);
	assert_int_equal(R(UART_RBR), 'p');
	/* Nothing left in the FIFO: FIFOE clears on this read. */
	assert_int_equal(R(UART_LSR) & 0x9f, UART_LSR_FIFOE);
	assert_int_equal(R(UART_LSR) & 0x9f, 0);
	/* Without FIFOs the bits show at once and FIFOE never does. */
	W(UART_FCR, 0);
	uart16550_rx_push(&u, 'q', UART_LSR_FE);
	assert_int_equal(R(UART_LSR) & 0x9f, UART_LSR_FE | UART_LSR_DR);
}

static void loopback_sends_tx_to_rx(void **state)
{
	uint8_t buf[16];

	(void)state;
	fresh();
	fifo_on(0);
	W(UART_IER, UART_IER_RDI);
	W(UART_MCR, UART_MCR_LOOP);
	assert_int_equal(uart16550_rx_room(&u), 0); /* the line is not heard */
	W(UART_THR, 'L');
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 0);
	assert_int_equal(R(UART_LSR) & (UART_LSR_DR | UART_LSR_THRE),
			 UART_LSR_DR | UART_LSR_THRE);
	assert_int_equal(R(UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	assert_int_equal(R(UART_RBR), 'L');
	/* 17 bytes round the loop overrun the 16-byte FIFO. */
	for (unsigned int i = 0; i < 17; i++)
		W(UART_THR, (uint8_t)i);
	assert_int_equal(R(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(R(UART_RBR), i);
	/* Bytes waiting when loopback starts go round the loop. */
	W(UART_MCR, 0);
	W(UART_THR, 'w');
	W(UART_MCR, UART_MCR_LOOP);
	assert_int_equal(R(UART_RBR), 'w');
	W(UART_MCR, 0);
	assert_int_equal(uart16550_rx_room(&u), 16);
}

static void loopback_modem_lines(void **state)
{
	(void)state;
	fresh();
	W(UART_IER, UART_IER_MSI);
	/* Entering loopback with all outputs off drops CTS, DSR and DCD. */
	W(UART_MCR, UART_MCR_LOOP);
	assert_int_equal(R(UART_IIR), UART_IIR_MSI);
	assert_int_equal(R(UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	assert_false(uart16550_irq(&u));
	W(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(R(UART_MSR), UART_MSR_CTS | UART_MSR_DCTS);
	W(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR);
	assert_int_equal(R(UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DDSR);
	W(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	assert_int_equal(R(UART_MSR), UART_MSR_DCD | UART_MSR_DDCD |
					 UART_MSR_DCTS | UART_MSR_DDSR);
	/* RI reports only its trailing edge. */
	W(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_OUT1);
	assert_int_equal(R(UART_MSR), UART_MSR_DCD | UART_MSR_RI);
	assert_false(uart16550_irq(&u));
	W(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	assert_true(uart16550_irq(&u));
	assert_int_equal(R(UART_MSR), UART_MSR_DCD | UART_MSR_TERI);
	/* Linux's loopback probe: MCR = LOOP | OUT2 | RTS reads 0x90. */
	W(UART_MCR, UART_MCR_LOOP | 0x0a);
	assert_int_equal(R(UART_MSR) & 0xf0, 0x90);
	/* Leaving loopback: the outside lines (CTS, DSR, DCD) are back. */
	W(UART_MCR, 0);
	assert_int_equal(R(UART_MSR) & 0xf0, 0xb0);
}

static void modem_inputs_outside_loopback(void **state)
{
	(void)state;
	fresh();
	uart16550_set_modem_inputs(&u, UART_MSR_CTS | UART_MSR_DSR |
					       UART_MSR_DCD | UART_MSR_RI);
	assert_int_equal(R(UART_MSR), 0xf0);
	W(UART_IER, UART_IER_MSI);
	uart16550_set_modem_inputs(&u, 0);
	assert_true(uart16550_irq(&u));
	assert_int_equal(R(UART_MSR), 0x0f);
	assert_false(uart16550_irq(&u));
}

static void reset_restores_power_on_state(void **state)
{
	uint8_t buf[16];

	(void)state;
	fresh();
	fifo_on(0xc0);
	W(UART_IER, 0x0f);
	W(UART_LCR, UART_LCR_DLAB);
	W(UART_DLL, 0x30);
	W(UART_LCR, 0x1b);
	W(UART_MCR, 0x0b);
	W(UART_SCR, 0x5a);
	push("0123456789abcdefX"); /* and an overrun */
	W(UART_THR, 't');
	assert_true(uart16550_irq(&u));
	uart16550_reset(&u);
	assert_false(uart16550_irq(&u));
	assert_int_equal(uart16550_tx_peek(&u, buf, sizeof(buf)), 0);
	assert_int_equal(R(UART_IER), 0);
	assert_int_equal(R(UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(R(UART_LCR), 0);
	assert_int_equal(R(UART_MCR), 0);
	assert_int_equal(R(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(R(UART_MSR), 0xb0);
	assert_int_equal(R(UART_SCR), 0);
	assert_int_equal(uart16550_baud(&u), 115200);
	assert_int_equal(uart16550_rx_room(&u), 1);
	assert_false(uart16550_timer_needed(&u));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(power_on_values),
		VTEST(plain_registers_read_back),
		VTEST(dlab_selects_divisor_latch),
		VTEST(character_time_follows_lcr_and_divisor),
		VTEST(fcr_enables_fifos_and_iir_shows_it),
		VTEST(fcr_clear_bits_empty_one_fifo),
		VTEST(trigger_levels_1_4_8_14),
		VTEST(rx_fifo_keeps_order_and_overruns_at_17),
		VTEST(non_fifo_mode_has_one_byte_holding_registers),
		VTEST(thre_interrupt_rules),
		VTEST(tx_fifo_holds_16_in_order),
		VTEST(iir_reports_sources_by_priority),
		VTEST(character_timeout_below_trigger),
		VTEST(line_status_errors_and_break),
		VTEST(loopback_sends_tx_to_rx),
		VTEST(loopback_modem_lines),
		VTEST(modem_inputs_outside_loopback),
		VTEST(reset_restores_power_on_state),
	};

	return vtest_run("uart16550", tests, argc, argv);
}
