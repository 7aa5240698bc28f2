/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade refused: another compat version, another kind of device, a
 * device without state sections, a damaged stream (each refused whole,
 * the reason sent to the old process), a new process that refuses late or
 * says nothing. The old process serves on as if nothing happened. Both
 * contexts are in this process (test_handover_util.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ho.h"
#include "test_handover_util.h"

/* Refused before the old process stopped anything: it never noticed. */
static void assert_old_serves_untouched(struct tserver *o, unsigned int quiesces)
{
	uint8_t buf[8];

	assert_false(vus_ctx_handed_over(o->ctx));
	assert_int_equal(o->dev.quiesces, quiesces);
	assert_int_equal(get_info(o), 0);
	assert_int_equal(peer_region_rw(o, 0, 0, buf, 8, false, m), 0);
	assert_memory_equal(buf, "original", 8);
}

static void another_compat_version_is_refused(void **state)
{
	struct tserver_opts no = old_opts;
	struct tserver o, n;
	unsigned int q;

	(void)state;
	no.compat = 2;
	start_pair(&o, &n, &no);
	assert_int_equal(peer_region_rw(&o, 0, 0, "original", 8, true, m), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -EPROTONOSUPPORT);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

static vus_ctx *other_kind_of_device(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id),
				   .vendor_id = 0x1af4, .device_id = 0x10f0 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1 };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_ERR, NULL, NULL);
	assert_int_equal(vus_pci_init(ctx, &id), 0);
	assert_int_equal(vus_mig_setup(ctx, &mc), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	return ctx;
}

static void another_kind_of_device_is_refused(void **state)
{
	struct tserver o, n;
	unsigned int q;

	(void)state;
	start_pair(&o, &n, NULL);
	vus_ctx_destroy(n.ctx);
	n.ctx = other_kind_of_device();
	assert_int_equal(peer_region_rw(&o, 0, 0, "original", 8, true, m), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -ENODEV);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

/* Without state sections there is nothing to hand over: refused at once. */
static void a_device_without_sections_refuses(void **state)
{
	struct tserver_opts oo = old_opts;
	struct tserver o, n;
	unsigned int q;

	(void)state;
	oo.with_migration = false;
	oo.listen_path = path;
	tserver_start(&o, &oo);
	peer_connect(&o, path, true);
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true });
	assert_int_equal(peer_region_rw(&o, 0, 0, "original", 8, true, m), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -EOPNOTSUPP);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * A stream as a real old process sends it, caught by a new process that
 * gives up afterwards (the old one resumes): its INFO, bytes and fds.
 */
struct capture {
	uint8_t info[1024];
	uint32_t info_len;
	uint8_t *bytes;
	size_t len;
	int fds[64];
	unsigned int nfds;
};

static void recv_msg(struct transport *t, struct msg *msg, uint16_t cmd)
{
	assert_int_equal(ho_recv_wait(t, msg, now_ms() + vtest_ms(10000)), 0);
	assert_int_equal(msg->hdr.cmd, cmd);
}

static void capture(struct tserver *o, struct capture *c)
{
	uint32_t hello = HO_PROTOCOL;
	struct transport *t;
	struct msg msg;
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(o);
	assert_int_equal(vus_ctx_handover_serve_fd(o->ctx, sv[0]), 0);
	tserver_resume(o);
	assert_int_equal(ho_chan_open(sv[1], &t), 0);
	assert_int_equal(ho_send(t, HO_MSG_HELLO, &hello, 4, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_INFO);
	assert_true(msg.len <= sizeof(c->info));
	memcpy(c->info, msg.payload, msg.len);
	c->info_len = msg.len;
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_START, NULL, 0, NULL, 0), 0);
	for (;;) {
		assert_int_equal(ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)), 0);
		if (msg.hdr.cmd == HO_MSG_END)
			break;
		assert_int_equal(msg.hdr.cmd, HO_MSG_DATA);
		c->bytes = realloc(c->bytes, c->len + msg.len);
		memcpy(c->bytes + c->len, msg.payload, msg.len);
		c->len += msg.len;
		for (unsigned int i = 0; i < msg.nfds; i++)
			c->fds[c->nfds++] = msg_take_fd(&msg, i);
		msg_release(&msg);
	}
	msg_release(&msg);
	assert_int_equal(ho_send_abort(t, ECANCELED, "caught it"), 0);
	assert_int_equal(ho_flush_wait(t, now_ms() + vtest_ms(10000)), 0);
	transport_destroy(t);
}

static void capture_free(struct capture *c)
{
	free(c->bytes);
	close_fds(c->fds, c->nfds);
}

/* A fake old process that sends what @c holds, as it says. */
struct fake_old {
	pthread_t th;
	int fd;
	const struct capture *c;
	uint16_t verdict;
	char abort_why[HO_WHY_MAX];
};

static void *fake_old_main(void *arg)
{
	struct fake_old *f = arg;
	const struct capture *c = f->c;
	uint8_t end[12];
	uint64_t len = c->len;
	uint32_t nfds = c->nfds;
	struct transport *t;
	struct msg msg;

	assert_int_equal(ho_chan_open(f->fd, &t), 0);
	recv_msg(t, &msg, HO_MSG_HELLO);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_INFO, c->info, c->info_len, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_START);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_DATA, c->bytes, c->len, c->fds,
				 c->nfds), 0);
	memcpy(end, &len, 8);
	memcpy(end + 8, &nfds, 4);
	assert_int_equal(ho_send(t, HO_MSG_END, end, sizeof(end), NULL, 0), 0);
	/* The verdict: ABORT with the reason, or READY (EOF then commits). */
	f->abort_why[0] = '\0';
	f->verdict = ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)) == 0
		     ? msg.hdr.cmd : 0;
	if (f->verdict == HO_MSG_ABORT)
		ho_abort_why(&msg, f->abort_why, sizeof(f->abort_why));
	msg_release(&msg);
	transport_destroy(t);
	return NULL;
}

/* Take over from a fake old process that sends @c. */
static int take_from_fake(struct tserver *n, const struct capture *c,
			  struct fake_old *f)
{
	struct vus_takeover_config cfg = quiet;
	vus_takeover *tk;
	int sv[2], ret;

	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[0];
	f->c = c;
	assert_int_equal(pthread_create(&f->th, NULL, fake_old_main, f), 0);
	ret = vus_takeover_begin_fd(sv[1], &cfg, &tk);
	if (ret == 0)
		ret = vus_ctx_take_over(n->ctx, tk);
	pthread_join(f->th, NULL);
	return ret;
}

/*
 * What a damaged stream gets: refused whole, with the reason sent to the
 * old process, and the new context left unused (nothing listens, no
 * client, no mapping kept).
 */
static void damaged_streams_are_refused(void **state)
{
	struct tserver o, n;
	struct capture c;
	struct fake_old f;
	int dup0;

	(void)state;
	start_pair(&o, &n, NULL);
	{
		int fd;
		uint8_t *ram = grant_ram(&o, &fd);

		munmap(ram, RAM_SIZE);
		close(fd);
	}
	capture(&o, &c);
	assert_int_equal(get_info(&o), 0); /* the old one resumed */
	tserver_stop(&n);

	/* One bit flipped in the middle: the CRC says no. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	c.bytes[c.len / 2] ^= 0x10;
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "corrupted"));
	assert_int_equal(vus_dma_nr_regions(n.ctx), 0);
	c.bytes[c.len / 2] ^= 0x10;
	tserver_stop(&n);

	/* Cut short (and END agreeing): refused the same way. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	c.len -= 9;
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "truncated"));
	c.len += 9;
	tserver_stop(&n);

	/* The connection's fd replaced by a memfd: not a socket. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	dup0 = c.fds[1];
	c.fds[1] = memfd_create("not-a-socket", MFD_CLOEXEC);
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "fd 1 is not a connection"));
	close(c.fds[1]);
	c.fds[1] = dup0;
	assert_int_equal(vus_dma_nr_regions(n.ctx), 0);
	tserver_stop(&n);

	/* And the stream as it was: accepted (then the client is ours). */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	assert_int_equal(take_from_fake(&n, &c, &f), 0);
	assert_int_equal(f.verdict, HO_MSG_READY);
	assert_int_equal(vus_dma_nr_regions(n.ctx), 1);
	capture_free(&c);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * The new process refuses after the old one had stopped and sent it all
 * (here: a new process that only wanted to look): the old one runs again
 * exactly as before, its device resumed and its migration state RUNNING.
 */
static void a_late_refusal_resumes_the_old_process(void **state)
{
	struct tserver o, n;
	struct capture c;
	uint8_t buf[8];

	(void)state;
	start_pair(&o, &n, NULL);
	assert_int_equal(peer_region_rw(&o, 0, 0, "original", 8, true, m), 0);
	capture(&o, &c);
	capture_free(&c);
	assert_int_equal(get_info(&o), 0);
	assert_false(vus_ctx_handed_over(o.ctx));
	tserver_pause(&o);
	assert_int_equal(vus_mig_state(o.ctx), VUS_MIG_RUNNING);
	assert_true(o.dev.quiesces > 0);
	assert_int_equal(o.dev.quiesces, o.dev.resumes);
	tserver_resume(&o);
	assert_int_equal(peer_region_rw(&o, 0, 0, buf, 8, false, m), 0);
	assert_memory_equal(buf, "original", 8);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * A new process that takes everything and then says nothing: after the
 * hand-over timeout the old process resumes and tells it so.
 */
static void a_silent_new_process_times_out(void **state)
{
	uint32_t hello = HO_PROTOCOL;
	struct tserver o, n;
	struct transport *t;
	struct msg msg;
	int sv[2];

	(void)state;
	start_pair(&o, &n, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(&o);
	assert_int_equal(vus_ctx_set_handover_timeout(o.ctx, 300), 0);
	assert_int_equal(vus_ctx_handover_serve_fd(o.ctx, sv[0]), 0);
	tserver_resume(&o);
	assert_int_equal(ho_chan_open(sv[1], &t), 0);
	assert_int_equal(ho_send(t, HO_MSG_HELLO, &hello, 4, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_INFO);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_START, NULL, 0, NULL, 0), 0);
	do {
		assert_int_equal(ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)), 0);
		msg_release(&msg);
	} while (msg.hdr.cmd == HO_MSG_DATA);
	assert_int_equal(msg.hdr.cmd, HO_MSG_END);
	/* Silence; the old process gives up by itself. */
	recv_msg(t, &msg, HO_MSG_ABORT);
	assert_int_equal(msg.hdr.error, ETIMEDOUT);
	msg_release(&msg);
	transport_destroy(t);
	assert_int_equal(get_info(&o), 0);
	assert_false(vus_ctx_handed_over(o.ctx));
	tserver_stop(&n);
	tserver_stop(&o);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		HO_TEST(another_compat_version_is_refused),
		HO_TEST(another_kind_of_device_is_refused),
		HO_TEST(a_device_without_sections_refuses),
		HO_TEST(damaged_streams_are_refused),
		HO_TEST(a_late_refusal_resumes_the_old_process),
		HO_TEST(a_silent_new_process_times_out),
	};

	return vtest_run("handover_refusal", tests, argc, argv);
}
