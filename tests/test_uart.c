/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vus-sysbus-uart sample as a VMM and the far end of its serial line
 * see it: the real binary (argv[1]) serving over a real socket, driven
 * through the client library, with a unix-listen: backend whose peer is
 * this test. Description, THR to the line, the line to RBR with the
 * interrupt, IIR priorities, trigger levels, the character timeout,
 * overrun, loopback, backpressure both ways (a flooding peer, a peer that
 * does not read), reset, reconnects, peers that come and go, and the pty
 * and stdio backends.
 *
 *   test_uart VUS_SYSBUS_UART [TEST-FILTER]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"

#include "test_uart_util.h"

#define IIR(src) (UART_IIR_FIFO | (src))

static struct rig r;

static void irq_on(void)
{
	assert_int_equal(vus_client_irq_enable(r.c, 0, 1), 0);
}

/* The line fired; after handling it the VMM unmasks (level, automasked). */
static void expect_irq(int timeout_ms)
{
	assert_true(vus_client_irq_wait(r.c, 0, 0, vtest_ms(timeout_ms)) >= 1);
}

static void unmask(void)
{
	assert_int_equal(vus_client_irq_mask(r.c, 0, 0, 1, false), 0);
}

static void expect_no_irq(int timeout_ms)
{
	assert_int_equal(vus_client_irq_wait(r.c, 0, 0, timeout_ms), -ETIMEDOUT);
}

static void description_says_ns16550a(void **state)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_sysbus_desc *d;
	uint64_t v;

	(void)state;
	rig_start(&r, NULL);
	assert_int_equal(vus_client_device_info(r.c, &di), 0);
	assert_true(di.flags & VUS_CLIENT_DEV_PLATFORM);
	assert_int_equal(vus_client_sysbus_desc(r.c, &d), 0);
	assert_int_equal(d->nr_compatible, 1);
	assert_string_equal(d->compatible[0], "ns16550a");
	assert_int_equal(d->nr_mmio, 1);
	assert_int_equal(d->mmio[0].size, 8);
	assert_false(d->mmio[0].has_base);
	assert_int_equal(d->nr_irqs, 1);
	assert_int_equal(d->irqs[0].trigger, VUS_CLIENT_LEVEL_HIGH);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "clock-frequency", &v), 0);
	assert_int_equal(v, 1843200);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "reg-shift", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "reg-io-width", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "current-speed", &v), 0);
	assert_int_equal(v, 115200);
	vus_client_sysbus_desc_free(d);
	rig_stop(&r);
}

/* reg-shift 2: 32-bit registers whose upper bytes read 0. */
static void reg_shift_2_spaces_registers_by_four(void **state)
{
	static const char *const args[] = { "--reg-shift", "2", "--clock",
					     "7372800", "--base", "0x10000000",
					     NULL };
	struct vus_client_sysbus_desc *d;
	uint32_t v;
	uint64_t p;
	uint8_t b;

	(void)state;
	rig_start(&r, args);
	assert_int_equal(vus_client_sysbus_desc(r.c, &d), 0);
	assert_int_equal(d->mmio[0].size, 32);
	assert_true(d->mmio[0].has_base);
	assert_int_equal(d->mmio[0].base, 0x10000000);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "reg-io-width", &p), 0);
	assert_int_equal(p, 4);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "clock-frequency", &p), 0);
	assert_int_equal(p, 7372800);
	vus_client_sysbus_desc_free(d);
	assert_int_equal(vus_client_region_read(r.c, 0, 5 * 4, &v, 4), 0);
	assert_int_equal(v, UART_LSR_THRE | UART_LSR_TEMT);
	v = 0xdeadbe5a;
	assert_int_equal(vus_client_region_write(r.c, 0, 7 * 4, &v, 4), 0);
	assert_int_equal(rd(&r, UART_SCR), 0x5a);
	assert_int_equal(vus_client_region_read(r.c, 0, 7 * 4 + 1, &b, 1), 0);
	assert_int_equal(b, 0);
	/* Crossing into the next register is refused, by one byte too. */
	assert_true(vus_client_region_read(r.c, 0, 7 * 4 - 2, &v, 4) < 0);
	assert_true(vus_client_region_read(r.c, 0, 7 * 4 - 3, &v, 4) < 0);
	assert_int_equal(vus_client_region_read(r.c, 0, 7 * 4 + 2, &v, 2), 0);
	assert_true(vus_client_region_read(r.c, 0, 7 * 4 + 3, &v, 2) < 0);
	/* 7372800 / 16 / 115200 = 4 */
	wr(&r, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(rd(&r, UART_DLL), 4);
	rig_stop(&r);
}

static void thr_bytes_reach_the_line_in_order(void **state)
{
	static const char hello[] = "Hello from the UART\r\n";
	uint8_t got[2048], want[2048];
	size_t n = 0, m = 0;

	(void)state;
	rig_start(&r, NULL);
	memcpy(want, hello, sizeof(hello) - 1);
	for (size_t i = sizeof(hello) - 1; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7);
	/* FIFO mode, as Linux drives it: up to 16 bytes per THRE. */
	wr(&r, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX);
	while (n < sizeof(want)) {
		/* Read as we go: a full socket would hold THRE clear. */
		if (!(rd(&r, UART_LSR) & UART_LSR_THRE)) {
			m += peer_recv(&r, got + m, sizeof(got) - m, 10);
			continue;
		}
		for (int i = 0; i < 16 && n < sizeof(want); i++)
			wr(&r, UART_THR, want[n++]);
	}
	m += peer_recv(&r, got + m, sizeof(got) - m, 5000);
	assert_int_equal(m, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	rig_stop(&r);
}

static void line_bytes_raise_the_interrupt(void **state)
{
	(void)state;
	rig_start(&r, NULL);
	irq_on();
	wr(&r, UART_FCR, UART_FCR_ENABLE); /* trigger 1 */
	wr(&r, UART_IER, UART_IER_RDI);
	expect_no_irq(50);
	peer_send(&r, "x", 1);
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_RDI));
	assert_int_equal(rd(&r, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(rd(&r, UART_RBR), 'x');
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_NO_INT));
	unmask();
	expect_no_irq(100);
	/* Again, and this time unmask before handling: it fires again. */
	peer_send(&r, "y", 1);
	expect_irq(5000);
	unmask();
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_RBR), 'y');
	unmask();
	expect_no_irq(100);
	rig_stop(&r);
}

/* All four sources at once (loopback makes the overrun), cleared in order. */
static void iir_priorities_over_the_wire(void **state)
{
	(void)state;
	rig_start(&r, NULL);
	irq_on();
	wr(&r, UART_FCR, UART_FCR_ENABLE | 0x40); /* trigger 4 */
	wr(&r, UART_MCR, UART_MCR_LOOP);          /* CTS, DSR, DCD drop */
	for (int i = 0; i < 17; i++)
		wr(&r, UART_THR, (uint8_t)('a' + i));
	wr(&r, UART_IER, 0x0f);
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_RLSI));
	assert_int_equal(rd(&r, UART_LSR) & (UART_LSR_OE | UART_LSR_DR),
			 UART_LSR_OE | UART_LSR_DR);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_RDI));
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(&r, UART_RBR), 'a' + i);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_THRI));
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_MSI));
	assert_int_equal(rd(&r, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR |
					     UART_MSR_DDCD);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_NO_INT));
	unmask();
	expect_no_irq(100);
	rig_stop(&r);
}

static void trigger_levels_1_4_8_14(void **state)
{
	static const struct { uint8_t bits; int level; } t[] = {
		{ 0x00, 1 }, { 0x40, 4 }, { 0x80, 8 }, { 0xc0, 14 },
	};
	char buf[16];

	(void)state;
	rig_start(&r, NULL);
	irq_on();
	/* 50 baud: a timeout would take 800 ms, so only the trigger fires. */
	set_divisor(&r, 2304);
	wr(&r, UART_IER, UART_IER_RDI);
	for (int i = 0; i < 4; i++) {
		wr(&r, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX | t[i].bits);
		memset(buf, '0' + i, sizeof(buf));
		peer_send(&r, buf, (size_t)t[i].level);
		expect_irq(5000);
		assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_RDI));
		for (int n = 0; n < t[i].level; n++)
			assert_int_equal(rd(&r, UART_RBR), '0' + i);
		assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_NO_INT));
		unmask();
	}
	rig_stop(&r);
}

/* Below the trigger, the timeout comes after 4 characters at the baud rate. */
static void character_timeout_follows_the_baud_rate(void **state)
{
	long long t0, dt;

	(void)state;
	rig_start(&r, NULL);
	irq_on();
	set_divisor(&r, 2304); /* 50 baud, 8N1: 200 ms a character */
	wr(&r, UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger 8 */
	wr(&r, UART_IER, UART_IER_RDI);
	peer_send(&r, "abc", 3);
	wait_dr(&r, 5000);
	t0 = now_ms();
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_NO_INT));
	expect_irq(5000);
	dt = now_ms() - t0;
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_TIMEOUT));
	fprintf(stderr, "timeout at 50 baud after ~%lld ms (800 expected)\n", dt);
	assert_true(dt >= 500);
	/* A read clears it; the rest times out again. */
	assert_int_equal(rd(&r, UART_RBR), 'a');
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_NO_INT));
	unmask();
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_TIMEOUT));
	assert_int_equal(rd(&r, UART_RBR), 'b');
	assert_int_equal(rd(&r, UART_RBR), 'c');
	unmask();
	/* At 115200 baud it is 350 us: here at once. */
	set_divisor(&r, 1);
	peer_send(&r, "d", 1);
	t0 = now_ms();
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_IIR), IIR(UART_IIR_TIMEOUT));
	fprintf(stderr, "timeout at 115200 baud after ~%lld ms\n", now_ms() - t0);
	assert_int_equal(rd(&r, UART_RBR), 'd');
	unmask();
	rig_stop(&r);
}

static void overrun_sets_oe_until_lsr_is_read(void **state)
{
	(void)state;
	rig_start(&r, NULL);
	irq_on();
	wr(&r, UART_IER, UART_IER_RLSI);
	/* Without FIFOs, in loopback: the second byte overruns the first. */
	wr(&r, UART_MCR, UART_MCR_LOOP);
	wr(&r, UART_THR, '1');
	wr(&r, UART_THR, '2');
	expect_irq(5000);
	assert_int_equal(rd(&r, UART_IIR), UART_IIR_RLSI);
	assert_int_equal(rd(&r, UART_LSR) & (UART_LSR_OE | UART_LSR_DR),
			 UART_LSR_OE | UART_LSR_DR);
	assert_int_equal(rd(&r, UART_LSR) & UART_LSR_OE, 0);
	assert_int_equal(rd(&r, UART_RBR), '2');
	assert_int_equal(rd(&r, UART_IIR), UART_IIR_NO_INT);
	unmask();
	expect_no_irq(100);
	rig_stop(&r);
}

/* The line never overruns the FIFO: the backend reads only what fits. */
static void send_and_read_back(size_t len, unsigned int seed)
{
	uint8_t buf[512];

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i + seed) % 251);
	peer_send(&r, buf, len);
	for (size_t i = 0; i < len; i++) {
		uint8_t lsr = wait_dr(&r, 5000);

		assert_int_equal(lsr & UART_LSR_OE, 0);
		assert_int_equal(rd(&r, UART_RBR), buf[i]);
	}
}

static void backend_input_never_overruns(void **state)
{
	(void)state;
	rig_start(&r, NULL);
	send_and_read_back(100, 0); /* FIFOs off: one byte at a time */
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	send_and_read_back(500, 7);
	rig_stop(&r);
}

static void loopback_keeps_the_line_out(void **state)
{
	uint8_t b;

	(void)state;
	rig_start(&r, NULL);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	wr(&r, UART_MCR, UART_MCR_LOOP | 0x0f);
	assert_int_equal(rd(&r, UART_MSR) & UART_MSR_LINES, 0xf0);
	wr(&r, UART_THR, 'a');
	wr(&r, UART_THR, 'b');
	assert_int_equal(rd(&r, UART_RBR), 'a');
	assert_int_equal(rd(&r, UART_RBR), 'b');
	assert_int_equal(peer_recv(&r, &b, 1, 100), 0); /* nothing went out */
	/* What the peer sends meanwhile waits until loopback ends. */
	peer_send(&r, "x", 1);
	usleep((useconds_t)vtest_ms(50) * 1000);
	assert_int_equal(rd(&r, UART_LSR) & UART_LSR_DR, 0);
	wr(&r, UART_MCR, 0);
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'x');
	assert_int_equal(rd(&r, UART_MSR) & UART_MSR_LINES, 0xb0);
	rig_stop(&r);
}

/*
 * A peer pushing 32 MiB as fast as the socket takes it while the guest
 * reads slowly: the server reads only what the FIFO can hold, so its
 * memory stays flat and the kernel's socket buffer pushes back.
 */
static void flooding_peer_leaves_memory_flat(void **state)
{
	static uint8_t chunk[64 << 10];
	const size_t total = 32u << 20;
	size_t sent = 0, got = 0;
	long rss0, rss1;
	long long end;

	(void)state;
	rig_start(&r, NULL);
	wr(&r, UART_FCR, UART_FCR_ENABLE | 0xc0);
	rss0 = server_rss_kib(&r);
	end = now_ms() + vtest_ms(1500);
	while (now_ms() < end && sent < total) {
		size_t len = sizeof(chunk);
		ssize_t n;

		for (size_t i = 0; i < len; i++)
			chunk[i] = (uint8_t)((sent + i) % 251);
		n = send(r.peer, chunk, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		for (int i = 0; i < 16; i++) {
			uint8_t lsr = rd(&r, UART_LSR);

			assert_int_equal(lsr & UART_LSR_OE, 0);
			if (!(lsr & UART_LSR_DR))
				break;
			assert_int_equal(rd(&r, UART_RBR), got % 251);
			got++;
		}
	}
	/* FIFO full, the socket full: the server waits without spinning. */
	assert_server_idle(&r, 300);
	rss1 = server_rss_kib(&r);
	fprintf(stderr, "flood: the peer had %zu MiB to send; in %d ms the "
		"socket took %zu KiB and the guest read %zu bytes; server "
		"VmRSS %ld -> %ld KiB\n", total >> 20, vtest_ms(1500),
		sent >> 10, got, rss0, rss1);
	assert_true(got > 16);
	assert_true(sent - got < (8u << 20)); /* the rest is the kernel's */
	assert_true(rss1 - rss0 < 512);
	rig_stop(&r);
}

/*
 * A peer that does not read: THRE stays clear once the socket is full,
 * the server keeps answering, and nothing is lost when the peer reads.
 */
static void stalled_peer_holds_thre_and_loses_nothing(void **state)
{
	static uint8_t got[256 << 10];
	size_t written = 0, n;
	long rss0, rss1;
	int idle = 0;

	(void)state;
	rig_start(&r, NULL);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	rss0 = server_rss_kib(&r);
	while (written < sizeof(got) && idle < 50) {
		if (!(rd(&r, UART_LSR) & UART_LSR_THRE)) {
			idle++;
			continue;
		}
		idle = 0;
		for (int i = 0; i < 16; i++, written++)
			wr(&r, UART_THR, (uint8_t)(written % 253));
	}
	assert_server_idle(&r, 300); /* waiting for EPOLLOUT, not polling */
	rss1 = server_rss_kib(&r);
	fprintf(stderr, "stalled peer: THRE stayed clear after %zu bytes; "
		"server VmRSS %ld -> %ld KiB\n", written, rss0, rss1);
	assert_int_equal(idle, 50);
	assert_true(rss1 - rss0 < 512);
	n = peer_recv(&r, got, written, 10000);
	assert_int_equal(n, written);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], i % 253);
	while (!(rd(&r, UART_LSR) & UART_LSR_TEMT))
		usleep(1000);
	rig_stop(&r);
}

static void reset_restores_power_on_state(void **state)
{
	uint8_t b;

	(void)state;
	rig_start(&r, NULL);
	irq_on();
	wr(&r, UART_FCR, UART_FCR_ENABLE | 0xc0);
	wr(&r, UART_LCR, 0x1b);
	wr(&r, UART_SCR, 0x5a);
	wr(&r, UART_MCR, UART_MCR_LOOP | 0x0f);
	wr(&r, UART_THR, 'q');
	wr(&r, UART_IER, 0x0f);
	expect_irq(5000);
	assert_int_equal(vus_client_reset(r.c), 0);
	assert_int_equal(rd(&r, UART_IER), 0);
	assert_int_equal(rd(&r, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(rd(&r, UART_LCR), 0);
	assert_int_equal(rd(&r, UART_MCR), 0);
	assert_int_equal(rd(&r, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(&r, UART_MSR), 0xb0);
	assert_int_equal(rd(&r, UART_SCR), 0);
	unmask();
	expect_no_irq(100); /* the line went down */
	/* The backend stayed connected, both ways. */
	peer_send(&r, "r", 1);
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'r');
	wr(&r, UART_THR, 'k');
	assert_int_equal(peer_recv(&r, &b, 1, 5000), 1);
	assert_int_equal(b, 'k');
	rig_stop(&r);
}

/* The opt-in: with --reset-on-disconnect a client finds a power-on UART. */
static void next_client_gets_a_reset_uart_when_asked(void **state)
{
	static const char *const extra[] = { "--reset-on-disconnect", NULL };
	uint8_t b;

	(void)state;
	rig_start(&r, extra);
	wr(&r, UART_SCR, 0xa5);
	wr(&r, UART_LCR, 0x1f);
	wr(&r, UART_IER, 0x05);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	peer_send(&r, "left", 4); /* unread when the client goes */
	wait_dr(&r, 5000);
	vus_client_close(r.c);
	rig_client_connect(&r);
	assert_int_equal(rd(&r, UART_SCR), 0);
	assert_int_equal(rd(&r, UART_LCR), 0);
	assert_int_equal(rd(&r, UART_IER), 0);
	assert_int_equal(rd(&r, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(rd(&r, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	/* The backend is still there. */
	wr(&r, UART_THR, 'n');
	assert_int_equal(peer_recv(&r, &b, 1, 5000), 1);
	assert_int_equal(b, 'n');
	rig_stop(&r);
}

/*
 * By default the UART outlives its client: registers, the receive FIFO
 * with what arrived, and the interrupt it raised are there for the next.
 */
static void next_client_finds_the_uart_as_it_was(void **state)
{
	uint8_t b;

	(void)state;
	rig_start(&r, NULL);
	wr(&r, UART_SCR, 0xa5);
	wr(&r, UART_LCR, 0x1b);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	wr(&r, UART_IER, 0x05);
	peer_send(&r, "left", 4); /* unread when the client goes */
	wait_dr(&r, 5000);
	vus_client_close(r.c);
	peer_send(&r, "!", 1);    /* arrives with nobody connected */
	rig_client_connect(&r);
	assert_int_equal(rd(&r, UART_SCR), 0xa5);
	assert_int_equal(rd(&r, UART_LCR), 0x1b);
	assert_int_equal(rd(&r, UART_IER), 0x05);
	assert_int_equal(rd(&r, UART_IIR) & 0x0f, UART_IIR_RDI);
	for (const char *p = "left!"; *p != '\0'; p++) {
		wait_dr(&r, 5000);
		assert_int_equal(rd(&r, UART_RBR), (uint8_t)*p);
	}
	assert_int_equal(rd(&r, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* The backend is still there. */
	wr(&r, UART_THR, 'n');
	assert_int_equal(peer_recv(&r, &b, 1, 5000), 1);
	assert_int_equal(b, 'n');
	rig_stop(&r);
}

/* A peer leaves: output is discarded, the next peer is accepted. */
static void next_peer_is_accepted_and_output_meanwhile_dropped(void **state)
{
	uint8_t buf[8];

	(void)state;
	rig_start(&r, NULL);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	close(r.peer);
	r.peer = -1;
	for (int i = 0; i < 64; i++) {
		while (!(rd(&r, UART_LSR) & UART_LSR_THRE))
			usleep(1000); /* never waits long: nobody to wait for */
		wr(&r, UART_THR, 'L');
	}
	wr(&r, UART_FCR, 0); /* back to what rig_peer_connect expects */
	rig_peer_connect(&r);
	wr(&r, UART_THR, '2');
	assert_int_equal(peer_recv(&r, buf, 1, 5000), 1);
	assert_int_equal(buf[0], '2');
	assert_int_equal(peer_recv(&r, buf, sizeof(buf), 100), 0);
	rig_stop(&r);
}

/* Bytes a peer sent just before hanging up still reach the guest. */
static void bytes_sent_before_hangup_arrive(void **state)
{
	(void)state;
	rig_start(&r, NULL);
	peer_send(&r, "bye", 3);
	close(r.peer);
	r.peer = -1;
	/* Hung up with bytes left and no room for them: no busy loop. */
	assert_server_idle(&r, 300);
	for (int i = 0; i < 3; i++) {
		wait_dr(&r, 5000);
		assert_int_equal(rd(&r, UART_RBR), "bye"[i]);
	}
	rig_peer_connect(&r);
	rig_stop(&r);
}

/* The pty backend: both ways, raw (no echo), output held while nobody reads. */
static void pty_backend_carries_both_ways(void **state)
{
	char line[256] = "", path[256];
	int err[2];
	uint8_t b[4];
	FILE *f;

	(void)state;
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	rig_spawn(&r, "pty", (const int[3]){ -1, -1, err[1] });
	close(err[1]);
	f = fdopen(err[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(sscanf(line, "pty: %255s", path), 1);
	r.peer = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(r.peer >= 0);
	wr(&r, UART_THR, 'h');
	wr(&r, UART_THR, 'i');
	assert_int_equal(peer_recv(&r, b, 2, 5000), 2);
	assert_memory_equal(b, "hi", 2);
	peer_send(&r, "yo", 2);
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'y');
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'o');
	assert_int_equal(peer_recv(&r, b, 1, 100), 0); /* no echo */
	/* Nobody on the pty: output waits in it, the server idles. */
	close(r.peer);
	wr(&r, UART_THR, 'z');
	assert_server_idle(&r, 300);
	r.peer = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(r.peer >= 0);
	assert_int_equal(peer_recv(&r, b, 1, 5000), 1);
	assert_int_equal(b[0], 'z');
	rig_stop(&r);
}

/*
 * stdio on pipes; a reader that leaves and an input that ends are survived
 * without spinning (a broken stdout once went back into epoll, whose
 * EPOLLERR then fired forever).
 */
static void stdio_backend_survives_closed_pipes(void **state)
{
	int in[2], out[2];
	uint8_t b[4];

	(void)state;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	rig_spawn(&r, "stdio", (const int[3]){ in[0], out[1], -1 });
	close(in[0]);
	close(out[1]);
	r.peer = out[0];
	assert_int_equal(write(in[1], "in", 2), 2);
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'i');
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'n');
	wr(&r, UART_THR, 'o');
	wr(&r, UART_THR, 'k');
	assert_int_equal(peer_recv(&r, b, 2, 5000), 2);
	assert_memory_equal(b, "ok", 2);
	/* The reader leaves: output is discarded, never waited for. */
	close(r.peer);
	r.peer = -1;
	for (int i = 0; i < 64; i++) {
		while (!(rd(&r, UART_LSR) & UART_LSR_THRE))
			usleep(1000);
		wr(&r, UART_THR, '.');
	}
	assert_server_idle(&r, 300);
	close(in[1]); /* end of input */
	assert_server_idle(&r, 300);
	assert_int_equal(rd(&r, UART_LSR) & UART_LSR_DR, 0);
	rig_stop(&r);
}

/* uart.query-line shows the line as the guest programmed it. */
static void query_line_shows_what_the_guest_programmed(void **state)
{
	char rpc[256];
	const char *const extra[] = { "--rpc-path", rpc, NULL };
	struct json_object *q;
	int m;

	/* Our copy: the rig takes socket paths from the same buffer. */
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("uartrpc"));
	rig_start(&r, extra);
	m = trpc_connect(rpc);
	assert_true(m >= 0);
	set_divisor(&r, 12); /* 1843200 / (16 * 12) */
	wr(&r, UART_LCR, 0x03 | UART_LCR_PARITY | UART_LCR_EPAR);
	wr(&r, UART_MCR, UART_MCR_DTR | UART_MCR_OUT2);
	wr(&r, UART_FCR, UART_FCR_ENABLE);
	peer_send(&r, "abc", 3);
	(void)wait_dr(&r, 5000);
	q = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"uart.query-line\"}");
	assert_int_equal(trpc_int(q, "result.baud"), 9600);
	assert_int_equal(trpc_int(q, "result.data-bits"), 8);
	assert_string_equal(trpc_str(q, "result.parity"), "even");
	assert_string_equal(trpc_str(q, "result.stop-bits"), "1");
	assert_true(json_object_get_boolean(trpc_get(q, "result.fifo")));
	assert_true(json_object_get_boolean(trpc_get(q, "result.modem.dtr")));
	assert_false(json_object_get_boolean(trpc_get(q, "result.modem.rts")));
	assert_true(json_object_get_boolean(trpc_get(q, "result.modem.cts")));
	assert_true(trpc_int(q, "result.rx-fifo") >= 1); /* the rest may be on its way */
	json_object_put(q);
	/* 5 data bits with "2" stop bits is 1.5; odd parity, a break. */
	wr(&r, UART_LCR, UART_LCR_STOP | UART_LCR_PARITY | UART_LCR_SBC);
	q = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"uart.query-line\"}");
	assert_int_equal(trpc_int(q, "result.data-bits"), 5);
	assert_string_equal(trpc_str(q, "result.stop-bits"), "1.5");
	assert_string_equal(trpc_str(q, "result.parity"), "odd");
	assert_true(json_object_get_boolean(trpc_get(q, "result.break")));
	json_object_put(q);
	close(m);
	rig_stop(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(description_says_ns16550a),
		VTEST(reg_shift_2_spaces_registers_by_four),
		VTEST(thr_bytes_reach_the_line_in_order),
		VTEST(line_bytes_raise_the_interrupt),
		VTEST(iir_priorities_over_the_wire),
		VTEST(trigger_levels_1_4_8_14),
		VTEST(character_timeout_follows_the_baud_rate),
		VTEST(overrun_sets_oe_until_lsr_is_read),
		VTEST(backend_input_never_overruns),
		VTEST(loopback_keeps_the_line_out),
		VTEST(flooding_peer_leaves_memory_flat),
		VTEST(stalled_peer_holds_thre_and_loses_nothing),
		VTEST(reset_restores_power_on_state),
		VTEST(next_client_gets_a_reset_uart_when_asked),
		VTEST(next_client_finds_the_uart_as_it_was),
		VTEST(next_peer_is_accepted_and_output_meanwhile_dropped),
		VTEST(bytes_sent_before_hangup_arrive),
		VTEST(pty_backend_carries_both_ways),
		VTEST(stdio_backend_survives_closed_pipes),
		VTEST(query_line_shows_what_the_guest_programmed),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS_SYSBUS_UART [FILTER]\n", argv[0]);
		return 2;
	}
	uart_exe = argv[1];
	signal(SIGPIPE, SIG_IGN); /* a peer write to a closed line fails instead */
	return vtest_run("uart", tests, argc - 1, argv + 1);
}
