/* SPDX-License-Identifier: BSD-3-Clause */
/* test_hostile_util: shared by the hostile-client suites (see the header). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_priv.h"
#include "test_hostile_util.h"

struct peer_msg *m;
struct tserver s;

int hostile_setup_opts(void **state, const struct tserver_opts *o)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	tserver_start(&s, o);
	return 0;
}

int hostile_setup(void **state)
{
	return hostile_setup_opts(state, &(struct tserver_opts){ .max_dma_maps = 8 });
}

int hostile_setup_raw(void **state)
{
	return hostile_setup_opts(state, &(struct tserver_opts){ .no_negotiate = true });
}

int hostile_teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

/* One well-formed payload per command, as data. */
static const struct wire_dma_map good_map = {
	.argsz = 32, .flags = WIRE_DMA_READ, .addr = 0x100000, .size = 0x1000,
};
static const struct wire_dma_unmap good_unmap = {
	.argsz = 24, .flags = WIRE_DMA_UNMAP_ALL,
};
static const struct wire_irq_set good_irqs = { /* disable index 1 */
	.argsz = 20, .index = 1,
	.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_NONE,
};
static const uint8_t good_version[] = { 0, 0, 0, 0, '{', '}', 0 };
static const uint8_t good_argsz16[16] = { 16 };       /* index 0 */
static const uint8_t good_region_info[32] = { 32 };   /* index 0 */
static const uint8_t good_access[20] = { [12] = 4 };  /* region 0, 4 bytes */
static const uint8_t good_dma_access[16] = { [8] = 4 };
static const uint8_t good_multi[32] = { 1, [20] = 4 }; /* one 4-byte write */
static const uint8_t good_feature[8] = { 16, 0, 0, 0, 1, 0, 1, 0 }; /* GET 1 */
static const uint8_t good_mig[16] = { 16, 0, 0, 0, 8 }; /* argsz, size 8 */
static const uint8_t junk[8] = { 'j', 'u', 'n', 'k', 'j', 'u', 'n', 'k' };

static const struct {
	const void *p;
	size_t len;
} goods[NCMDS] = {
	[WIRE_CMD_VERSION] = { good_version, sizeof(good_version) },
	[WIRE_CMD_DMA_MAP] = { &good_map, sizeof(good_map) },
	[WIRE_CMD_DMA_UNMAP] = { &good_unmap, sizeof(good_unmap) },
	[WIRE_CMD_DEVICE_GET_INFO] = { good_argsz16, 16 },
	[WIRE_CMD_DEVICE_GET_REGION_INFO] = { good_region_info, 32 },
	[WIRE_CMD_DEVICE_GET_REGION_IO_FDS] = { good_argsz16, 16 },
	[WIRE_CMD_DEVICE_GET_IRQ_INFO] = { good_argsz16, 16 },
	[WIRE_CMD_DEVICE_SET_IRQS] = { &good_irqs, sizeof(good_irqs) },
	[WIRE_CMD_REGION_READ] = { good_access, 16 },
	[WIRE_CMD_REGION_WRITE] = { good_access, 20 },
	[WIRE_CMD_DMA_READ] = { good_dma_access, 16 },
	[WIRE_CMD_DMA_WRITE] = { good_dma_access, 16 },
	[WIRE_CMD_DEVICE_RESET] = { good_version, 0 },
	[WIRE_CMD_REGION_WRITE_MULTI] = { good_multi, 32 },
	[WIRE_CMD_DEVICE_FEATURE] = { good_feature, 8 },
	[WIRE_CMD_MIG_DATA_READ] = { good_mig, 8 },
	[WIRE_CMD_MIG_DATA_WRITE] = { good_mig, 16 },
};

size_t good(uint16_t cmd, uint8_t *buf)
{
	const void *p = cmd < NCMDS ? goods[cmd].p : NULL;
	size_t len = p ? goods[cmd].len : sizeof(junk);

	memset(buf, 0, 64);
	memcpy(buf, p ? p : junk, len);
	return len;
}

int good_answer(uint16_t cmd)
{
	switch (cmd) {
	case WIRE_CMD_VERSION:   /* only once */
	case WIRE_CMD_DMA_READ:  /* server to client only */
	case WIRE_CMD_DMA_WRITE:
		return -EINVAL;
	case WIRE_CMD_DEVICE_FEATURE:
		return -ENOTTY;  /* no features without migration */
	case WIRE_CMD_MIG_DATA_READ:
	case WIRE_CMD_MIG_DATA_WRITE:
		return -ENOTSUP;
	default:
		return engine_cmd(cmd) ? 0 : -ENOSYS;
	}
}

void undo(uint16_t cmd, int ret)
{
	struct wire_dma_unmap q = { .argsz = 24, .flags = WIRE_DMA_UNMAP_ALL };

	if (cmd == WIRE_CMD_DMA_MAP && ret == 0)
		assert_int_equal(peer_call(&s, WIRE_CMD_DMA_UNMAP, &q, sizeof(q),
					   NULL, 0, m), 0);
}

void assert_serves(void)
{
	struct wire_device_info di = { .argsz = 16 };

	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), 0);
	assert_int_equal(m->len, 16);
}

int call(uint16_t cmd, uint32_t flags, const void *p, size_t len,
	 const int *fds, unsigned int nfds)
{
	uint16_t id = peer_send(&s, cmd, flags, p, len, fds, nfds);

	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.cmd, cmd);
	assert_int_equal(m->hdr.flags & WIRE_F_TYPE_MASK, WIRE_F_TYPE_REPLY);
	peer_msg_close_fds(m);
	if (!(m->hdr.flags & WIRE_F_ERROR)) {
		assert_int_equal(m->hdr.error, 0);
		return 0;
	}
	/* An error reply is the bare header with a positive errno < 4096. */
	assert_int_equal(m->hdr.msg_size, 16);
	assert_true(m->hdr.error > 0 && m->hdr.error < 4096);
	return -(int)m->hdr.error;
}

int make_fd(enum fd_kind k)
{
	int p[2], fd = -1;

	switch (k) {
	case FD_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	case FD_PIPE:
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		close(p[1]);
		fd = p[0];
		break;
	case FD_MEMFD:
		fd = memfd_create("hostile", MFD_CLOEXEC);
		assert_int_equal(ftruncate(fd, 0x1000), 0);
		break;
	case FD_SOCKET:
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
		close(p[1]);
		fd = p[0];
		break;
	default:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	}
	assert_true(fd >= 0);
	return fd;
}

void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/* After a round trip the server has released the message before: every
 * fd it received and did not keep is closed again. */
void assert_fds_back_to(int before)
{
	assert_serves();
	assert_int_equal(vtest_count_fds(), before);
}

