/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Migrating the vus-sysbus-uart sample between two real processes, each
 * with its own serial line whose far end is this test: registers, the
 * bytes a guest has not read yet, the bytes it queued for sending, the
 * pending interrupt; the source frozen while stopped; mismatched
 * destinations refused without harm.
 *
 *   test_uart_mig VUS_SYSBUS_UART [TEST-FILTER]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtest.h"

#include "test_uart_util.h"

static struct rig a, b;

static int stream_fd(void)
{
	int fd = memfd_create("uart-state", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Save @from into a new memfd (the source stays stopped). */
static int save(struct rig *from)
{
	uint64_t size = 0;
	int fd = stream_fd();

	assert_int_equal(vus_client_mig_save(from->c, fd, &size), 0);
	assert_true(size > 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void load(struct rig *to, int fd, int want)
{
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(to->c, fd), want);
}

static void read_bytes(struct rig *r, const char *want)
{
	for (size_t i = 0; want[i]; i++) {
		wait_dr(r, 2000);
		assert_int_equal(rd(r, UART_RBR), (uint8_t)want[i]);
	}
	assert_int_equal(rd(r, UART_LSR) & UART_LSR_DR, 0);
}

static void wait_iir(struct rig *r, uint8_t want, int timeout_ms)
{
	long long end = now_ms() + vtest_ms(timeout_ms);

	while ((rd(r, UART_IIR) & 0x0f) != want) {
		if (now_ms() > end)
			fail_msg("IIR never showed %#x", want);
		usleep(500);
	}
}

static void registers_and_unread_bytes_move(void **state)
{
	char got[8] = { 0 };
	int fd;

	(void)state;
	rig_start(&a, NULL);
	rig_start(&b, NULL);
	set_divisor(&a, 12); /* 9600 baud */
	wr(&a, UART_LCR, 0x1f); /* 8 bits, 2 stop, even parity */
	wr(&a, UART_SCR, 0x5a);
	wr(&a, UART_MCR, UART_MCR_DTR | UART_MCR_OUT2);
	wr(&a, UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger at 8 */
	wr(&a, UART_IER, UART_IER_RDI);
	/* Five bytes under the trigger: the character timeout reports them. */
	peer_send(&a, "hello", 5);
	wait_iir(&a, UART_IIR_TIMEOUT, 2000);
	assert_int_equal(vus_client_irq_enable(b.c, 0, 1), 0);
	fd = save(&a);
	load(&b, fd, 0);
	/* The destination raises the line it inherited... */
	assert_true(vus_client_irq_wait(b.c, 0, 0, vtest_ms(2000)) >= 1);
	/* ...and shows what the source showed. */
	assert_int_equal(rd(&b, UART_IIR), UART_IIR_FIFO | UART_IIR_TIMEOUT);
	assert_int_equal(rd(&b, UART_SCR), 0x5a);
	assert_int_equal(rd(&b, UART_MCR), UART_MCR_DTR | UART_MCR_OUT2);
	assert_int_equal(rd(&b, UART_IER), UART_IER_RDI);
	wr(&b, UART_LCR, 0x9f);
	assert_int_equal(rd(&b, UART_DLL), 12);
	assert_int_equal(rd(&b, UART_DLM), 0);
	wr(&b, UART_LCR, 0x1f);
	read_bytes(&b, "hello");
	/* It runs on its own line now: both ways. */
	peer_send(&b, "x", 1);
	read_bytes(&b, "x");
	wr(&b, UART_THR, 'o');
	wr(&b, UART_THR, 'k');
	assert_int_equal(peer_recv(&b, got, 2, 2000), 2);
	assert_string_equal(got, "ok");
	close(fd);
	rig_stop(&a);
	rig_stop(&b);
}

static void stopped_source_takes_nothing_in(void **state)
{
	int fd;

	(void)state;
	rig_start(&a, NULL);
	rig_start(&b, NULL);
	wr(&a, UART_FCR, UART_FCR_ENABLE);
	peer_send(&a, "ab", 2);
	wait_dr(&a, 2000);
	usleep((useconds_t)vtest_ms(100) * 1000); /* both bytes in */
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_STOP), 0);
	peer_send(&a, "cd", 2); /* on the wire while the device is stopped */
	usleep((useconds_t)vtest_ms(200) * 1000);
	fd = save(&a);
	load(&b, fd, 0);
	read_bytes(&b, "ab");
	/* Migration abandoned: the source runs on and takes the rest. */
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	read_bytes(&a, "abcd");
	close(fd);
	rig_stop(&a);
	rig_stop(&b);
}

static void queued_output_is_sent_by_the_destination(void **state)
{
	static uint8_t got[256 << 10];
	size_t written = 0, na, nb;
	int idle = 0, fd;

	(void)state;
	rig_start(&a, NULL);
	rig_start(&b, NULL);
	wr(&a, UART_FCR, UART_FCR_ENABLE);
	/* The peer of A reads nothing: the line stalls, THR fills up. */
	while (written < sizeof(got) && idle < 50) {
		if (!(rd(&a, UART_LSR) & UART_LSR_THRE)) {
			idle++;
			continue;
		}
		idle = 0;
		for (int i = 0; i < 16; i++, written++)
			wr(&a, UART_THR, (uint8_t)(written % 251));
	}
	assert_int_equal(idle, 50);
	fd = save(&a);
	load(&b, fd, 0);
	/* What left A before the stop, then what B sends: all, in order. */
	na = peer_recv(&a, got, written, 10000);
	nb = peer_recv(&b, got + na, written - na, 5000);
	fprintf(stderr, "%zu bytes written: %zu sent by the source, %zu "
		"migrated and sent by the destination\n", written, na, nb);
	assert_true(nb >= 1 && nb <= 16);
	assert_int_equal(na + nb, written);
	for (size_t i = 0; i < written; i++)
		assert_int_equal(got[i], i % 251);
	assert_true(rd(&b, UART_LSR) & UART_LSR_TEMT);
	close(fd);
	rig_stop(&a);
	rig_stop(&b);
}

/* A refused load: the error, ERROR until a reset, the device untouched. */
static void refused(struct rig *r, int fd, int err)
{
	uint32_t st;

	wr(r, UART_SCR, 0x33);
	load(r, fd, err);
	assert_int_equal(vus_client_mig_get_state(r->c, &st), 0);
	assert_int_equal(st, VUS_MIG_ERROR);
	assert_int_equal(rd(r, UART_SCR), 0x33);
	assert_int_equal(vus_client_reset(r->c), 0);
	assert_int_equal(vus_client_mig_get_state(r->c, &st), 0);
	assert_int_equal(st, VUS_MIG_RUNNING);
}

static void mismatched_destinations_refuse(void **state)
{
	static const char *const clock[] = { "--clock", "3686400", NULL };
	static const char *const compat[] = { "--compat-version", "2", NULL };
	static const char *const shift[] = { "--reg-shift", "2", NULL };
	static struct rig c;
	int fd;

	(void)state;
	rig_start(&a, NULL);
	wr(&a, UART_SCR, 0x11);
	fd = save(&a);
	rig_start(&b, clock);
	refused(&b, fd, -ENODEV);
	rig_stop(&b);
	rig_start(&b, compat);
	refused(&b, fd, -EPROTONOSUPPORT);
	rig_stop(&b);
	rig_start(&c, shift);
	refused(&c, fd, -ENODEV);
	rig_stop(&c);
	/* A matching destination still takes it. */
	rig_start(&b, NULL);
	load(&b, fd, 0);
	assert_int_equal(rd(&b, UART_SCR), 0x11);
	close(fd);
	rig_stop(&a);
	rig_stop(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(registers_and_unread_bytes_move),
		VTEST(stopped_source_takes_nothing_in),
		VTEST(queued_output_is_sent_by_the_destination),
		VTEST(mismatched_destinations_refuse),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_uart_mig VUS_SYSBUS_UART [FILTER]\n");
		return 2;
	}
	uart_exe = argv[1];
	return vtest_run("uart_mig", tests, argc - 1, argv + 1);
}
