/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_util: the hand-over tests' shared rig (test_handover_util.h).
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_handover_util.h"

struct peer_msg *m;
const char *path;

int setup(void **state)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	path = vtest_sock_path("ho");
	return vtest_setup(state);
}

int teardown(void **state)
{
	free(m);
	return vtest_teardown(state);
}

uint64_t events(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

uint8_t *grant_ram(struct tserver *s, int *fd)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .flags = 3, .addr = RAM,
				  .size = RAM_SIZE };
	void *p;

	*fd = memfd_create("ho-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(*fd, RAM_SIZE), 0);
	p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(peer_call(s, WIRE_CMD_DMA_MAP, &q, sizeof(q), fd, 1, m), 0);
	return p;
}

int get_info(struct tserver *s)
{
	struct wire_device_info di = { .argsz = sizeof(di) };

	return peer_call(s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, m);
}

static void no_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

const struct vus_takeover_config quiet = {
	.struct_size = sizeof(quiet), .log = no_log,
};

int hand_over(struct tserver *o, struct tserver *n)
{
	struct vus_takeover_config cfg = quiet;
	vus_takeover *tk;
	int sv[2], ret;

	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(o);
	assert_int_equal(vus_ctx_handover_serve_fd(o->ctx, sv[0]), 0);
	tserver_resume(o);
	ret = vus_takeover_begin_fd(sv[1], &cfg, &tk);
	return ret < 0 ? ret : vus_ctx_take_over(n->ctx, tk);
}

void move_client(struct tserver *o, struct tserver *n)
{
	assert_int_equal(tserver_join(o), 0);
	assert_true(vus_ctx_handed_over(o->ctx));
	n->peer = o->peer;
	n->next_id = o->next_id;
	o->peer = -1;
	tserver_resume(n);
}

const struct tserver_opts old_opts = {
	.with_migration = true, .with_quiesce = true,
};

void start_pair(struct tserver *o, struct tserver *n,
		const struct tserver_opts *nopts)
{
	struct tserver_opts no = nopts ? *nopts : old_opts;
	struct tserver_opts oo = old_opts;

	oo.handover_ops = no.handover_ops;

	oo.listen_path = path;
	tserver_start(o, &oo);
	peer_connect(o, path, true);
	no.no_serve = true;
	tserver_start(n, &no);
}
