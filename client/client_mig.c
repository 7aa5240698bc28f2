/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_mig: migration from the VMM's side: the MIGRATION and
 * MIG_DEVICE_STATE features, MIG_DATA_READ/WRITE, DMA logging, and
 * save/load of a whole stream to an fd (vus-ctl save/load, tests). Replies
 * are checked like every other: sizes, echoed fields, no fds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_priv.h"
#include "common.h"

/* The public range is the wire's DMA_LOGGING range, sent as it is. */
_Static_assert(sizeof(struct vus_client_range) ==
	       sizeof(struct wire_feature_dma_range), "range layout");

#define CHUNK (1u << 20)

/* A DEVICE_FEATURE call: send head + @in, expect head + exactly @out_len. */
static int feature(vus_client *c, uint32_t flags, const void *in, size_t in_len,
		   void *out, size_t out_len)
{
	struct wire_feature f = {
		.argsz = (uint32_t)(sizeof(f) + MAX(in_len, out_len)), .flags = flags };
	struct client_req rq = {
		.cmd = WIRE_CMD_DEVICE_FEATURE, .iovcnt = in_len ? 2 : 1,
		.iov = { { .iov_base = &f, .iov_len = sizeof(f) },
			 { .iov_base = (void *)in, .iov_len = in_len } },
	};
	uint32_t want = (uint32_t)(sizeof(f) + out_len);
	struct msg m;
	int ret;

	if (c == NULL)
		return -EINVAL;
	ret = client_call_checked(c, &rq, want, want, 0, &m);
	if (ret < 0)
		return ret;
	memcpy(&f, m.payload, sizeof(f));
	if (f.argsz != want || f.flags != flags)
		ret = -EPROTO;
	else if (out_len)
		memcpy(out, m.payload + sizeof(f), out_len);
	msg_release(&m);
	return ret;
}

VUS_EXPORT int vus_client_mig_flags(vus_client *c, uint64_t *flags)
{
	return flags ? feature(c, WIRE_FEAT_GET | WIRE_FEAT_MIGRATION, NULL, 0,
			       flags, sizeof(struct wire_feature_migration))
		     : -EINVAL;
}

VUS_EXPORT int vus_client_mig_get_state(vus_client *c, uint32_t *state)
{
	struct wire_feature_mig_state st;
	int ret;

	if (state == NULL)
		return -EINVAL;
	ret = feature(c, WIRE_FEAT_GET | WIRE_FEAT_MIG_DEVICE_STATE, NULL, 0,
		      &st, sizeof(st));
	if (ret == 0)
		*state = st.device_state;
	return ret;
}

VUS_EXPORT int vus_client_mig_set_state(vus_client *c, uint32_t state)
{
	/* data_fd -1 as the kernel's clients send it; the echo is exact. */
	struct wire_feature_mig_state st = { .device_state = state,
					      .data_fd = -1 }, back;
	int ret = feature(c, WIRE_FEAT_SET | WIRE_FEAT_MIG_DEVICE_STATE, &st,
			  sizeof(st), &back, sizeof(back));

	if (ret == 0 && memcmp(&back, &st, sizeof(st)) != 0)
		ret = -EPROTO;
	return ret;
}

VUS_EXPORT int vus_client_mig_data_size(vus_client *c, uint64_t *bytes)
{
	return bytes ? feature(c, WIRE_FEAT_GET | WIRE_FEAT_MIG_DATA_SIZE, NULL,
			       0, bytes, sizeof(struct wire_feature_mig_data_size))
		     : -EINVAL;
}

/*
 * One MIG_DATA_READ of at most @len bytes (already within both sides'
 * limits): the reply in *m (release it), its data at m->payload + 8, *got
 * bytes of it.
 */
static int read_reply(vus_client *c, size_t len, struct msg *m, size_t *got)
{
	struct wire_mig_data q = { .argsz = (uint32_t)(sizeof(q) + len),
				   .size = (uint32_t)len };
	struct client_req rq = {
		.cmd = WIRE_CMD_MIG_DATA_READ, .iovcnt = 1,
		.iov = { { .iov_base = &q, .iov_len = sizeof(q) } },
	};
	/* The server pads the data to the size asked for. */
	int ret = client_call_checked(c, &rq, sizeof(q),
				      (uint32_t)(sizeof(q) + len), 0, m);

	if (ret < 0)
		return ret;
	memcpy(&q, m->payload, sizeof(q));
	if (q.size > len || q.argsz != sizeof(q) + q.size ||
	    m->len < sizeof(q) + q.size) {
		msg_release(m);
		return -EPROTO;
	}
	*got = q.size;
	return 0;
}

VUS_EXPORT int vus_client_mig_read(vus_client *c, void *buf, size_t len,
				   size_t *got)
{
	struct msg m;
	int ret;

	if (c == NULL || buf == NULL || got == NULL)
		return -EINVAL;
	len = MIN(len, (size_t)MIN(c->srv.max_xfer, c->max_xfer));
	ret = read_reply(c, len, &m, got);
	if (ret < 0)
		return ret;
	memcpy(buf, m.payload + sizeof(struct wire_mig_data), *got);
	msg_release(&m);
	return 0;
}

VUS_EXPORT int vus_client_mig_write(vus_client *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (c == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	while (len > 0) {
		size_t n = MIN(len, (size_t)c->srv.max_xfer);
		struct wire_mig_data q = { .argsz = (uint32_t)(sizeof(q) + n),
					   .size = (uint32_t)n };
		struct client_req rq = {
			.cmd = WIRE_CMD_MIG_DATA_WRITE, .iovcnt = 2,
			.iov = { { .iov_base = &q, .iov_len = sizeof(q) },
				 { .iov_base = (void *)p, .iov_len = n } },
		};
		struct msg m;
		int ret = client_call_checked(c, &rq, 0, 0, 0, &m);

		if (ret < 0)
			return ret;
		msg_release(&m);
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Reads start small and grow while they come back full: a server pads a
 * short reply to the size asked for (libvfio-user's client needs that),
 * so a tiny device's stream must not cost a megabyte of zeros.
 */
#define FIRST_READ (16u << 10)

VUS_EXPORT int vus_client_mig_save(vus_client *c, int fd, uint64_t *size)
{
	size_t max, ask = FIRST_READ, got = 0;
	uint64_t total = 0;
	int ret;

	if (c == NULL)
		return -EINVAL;
	max = MIN((size_t)CHUNK, (size_t)MIN(c->srv.max_xfer, c->max_xfer));
	ret = vus_client_mig_set_state(c, 3 /* STOP_COPY */);
	while (ret == 0) {
		struct msg m;

		ask = MIN(ask, max);
		ret = read_reply(c, ask, &m, &got);
		if (ret < 0)
			break;
		/* Written from the reply as it came in: no copy of ours. */
		ret = write_all(fd, m.payload + sizeof(struct wire_mig_data), got);
		msg_release(&m);
		total += got;
		/* In STOP_COPY a short read is the end of the stream. */
		if (got < ask)
			break;
		ask *= 4;
	}
	if (ret == 0)
		ret = vus_client_mig_set_state(c, 1 /* STOP */);
	if (ret == 0 && size != NULL)
		*size = total;
	return ret;
}

VUS_EXPORT int vus_client_mig_load(vus_client *c, int fd)
{
	uint8_t *buf = malloc(CHUNK);
	ssize_t n = 1;
	int ret;

	if (buf == NULL)
		return -ENOMEM;
	ret = vus_client_mig_set_state(c, 4 /* RESUMING, via STOP */);
	while (ret == 0 && n > 0) {
		n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else if (n > 0)
			ret = vus_client_mig_write(c, buf, (size_t)n);
	}
	free(buf);
	/* Leaving RESUMING (through STOP, in the same request) is where the
	 * server checks and loads it. */
	return ret ? ret : vus_client_mig_set_state(c, 2 /* RUNNING */);
}

VUS_EXPORT int vus_client_dirty_start(vus_client *c, uint64_t page_size,
				      const struct vus_client_range *ranges,
				      unsigned int n)
{
	struct wire_feature_dma_logging lc = { .page_size = page_size,
					       .num_ranges = n };
	size_t len = sizeof(lc) + (size_t)n * sizeof(*ranges);
	size_t after_page = offsetof(struct wire_feature_dma_logging, num_ranges);
	uint8_t *d, *echo;
	int ret;

	if (n > 256 || (ranges == NULL && n > 0))
		return -EINVAL;
	d = calloc(2, len);
	if (d == NULL)
		return -ENOMEM;
	echo = d + len;
	memcpy(d, &lc, sizeof(lc));
	if (n)
		memcpy(d + sizeof(lc), ranges, (size_t)n * sizeof(*ranges));
	/* The reply echoes the request, with the page size the server chose. */
	ret = feature(c, WIRE_FEAT_SET | WIRE_FEAT_DMA_LOGGING_START, d, len,
		      echo, len);
	if (ret == 0 &&
	    memcmp(echo + after_page, d + after_page, len - after_page) != 0)
		ret = -EPROTO;
	free(d);
	return ret;
}

VUS_EXPORT int vus_client_dirty_stop(vus_client *c)
{
	return feature(c, WIRE_FEAT_SET | WIRE_FEAT_DMA_LOGGING_STOP, NULL, 0, NULL, 0);
}

/* One REPORT request whose reply fits our receive limit. */
static int report_one(vus_client *c, uint64_t iova, uint64_t len,
		      uint64_t psize, uint64_t *out, size_t words)
{
	struct wire_feature_dma_report q = { .iova = iova, .length = len,
					     .page_size = psize };
	struct wire_feature f = {
		.argsz = (uint32_t)(sizeof(f) + sizeof(q) + words * 8),
		.flags = WIRE_FEAT_GET | WIRE_FEAT_DMA_LOGGING_REPORT };
	struct client_req rq = {
		.cmd = WIRE_CMD_DEVICE_FEATURE, .iovcnt = 2,
		.iov = { { .iov_base = &f, .iov_len = sizeof(f) },
			 { .iov_base = &q, .iov_len = sizeof(q) } },
	};
	uint32_t want = f.argsz;
	struct msg m;
	int ret = client_call_checked(c, &rq, want, want, 0, &m);

	if (ret < 0)
		return ret;
	memcpy(&f, m.payload, sizeof(f));
	if (f.argsz != want || memcmp(m.payload + sizeof(f), &q, sizeof(q)) != 0)
		ret = -EPROTO;
	else
		memcpy(out, m.payload + sizeof(f) + sizeof(q), words * 8);
	msg_release(&m);
	return ret;
}

VUS_EXPORT int vus_client_dirty_report(vus_client *c, uint64_t iova,
				       uint64_t len, uint64_t page_size,
				       uint64_t *bitmap, size_t words)
{
	uint64_t pages, per, bytes;

	if (c == NULL || bitmap == NULL || !is_pow2_u64(page_size) ||
	    !span_ok(iova, len) ||
	    dirty_bitmap_bytes(len, page_size, (uint64_t)words * 8, &bytes) < 0)
		return -EINVAL;
	pages = (len - 1) / page_size + 1;
	/* Whole words per request, as many as our receive buffer holds. */
	per = (uint64_t)(c->max_xfer - 64) / 8 * 64;
	for (uint64_t done = 0; done < pages; done += per) {
		uint64_t n = MIN(per, pages - done);
		uint64_t l = MIN(n * page_size, len - done * page_size);
		int ret = report_one(c, iova + done * page_size, l, page_size,
				     bitmap + done / 64, (size_t)((n + 63) / 64));

		if (ret < 0)
			return ret;
	}
	return 0;
}
