/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_stream: the hand-over stream and its fd table (ho.h). The bytes use
 * the migration stream's framing (header, records, CRC32C end record)
 * under their own magic, so a migration stream is never taken for a
 * hand-over or the other way round. Fds travel beside the bytes, in
 * channel messages, and records name them by their index; the "fds"
 * record gives every fd's kind, and the receiver checks each fd against
 * it before any record is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "ho.h"
#include "mig.h"

void ho_identity(vus_ctx *ctx, char *buf, size_t len, uint32_t *compat)
{
	struct migration *m = ctx_mig(ctx);

	if (m == NULL) {
		snprintf(buf, len, "none");
		*compat = 0;
		return;
	}
	mig_identity(m, buf, len);
	*compat = mig_compat_version(m);
}

void ho_out_init(struct ho_out *o)
{
	memset(o, 0, sizeof(*o));
	mig_buf_init(&o->b, HO_MAX_STREAM);
}

void ho_out_free(struct ho_out *o)
{
	mig_buf_free(&o->b);
	free(o->fds);
	free(o->kinds);
	memset(o, 0, sizeof(*o));
}

int ho_out_fd(struct ho_out *o, int fd, uint8_t kind, uint32_t *idx)
{
	if (fd < 0)
		return -EINVAL;
	if (o->nfds >= HO_MAX_FDS)
		return -EMFILE;
	if (o->nfds == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 64;
		int *f = realloc(o->fds, cap * sizeof(*f));
		uint8_t *k;

		if (f == NULL)
			return -ENOMEM;
		o->fds = f;
		k = realloc(o->kinds, cap);
		if (k == NULL)
			return -ENOMEM;
		o->kinds = k;
		o->cap = cap;
	}
	o->fds[o->nfds] = fd;
	o->kinds[o->nfds] = kind;
	*idx = o->nfds++;
	return 0;
}

int ho_out_begin(struct ho_out *o, const char *identity, uint32_t compat)
{
	return mig_stream_header_as(&o->b, HO_STREAM_MAGIC, HO_STREAM_FORMAT,
				    identity, compat);
}

int ho_out_end(struct ho_out *o)
{
	vus_mig_out out = { .buf = &o->b };
	size_t at;
	int ret = mig_stream_record_begin(&o->b, "fds", 1, &at);

	ret = ret ? ret : vus_mig_put_u32(&out, o->nfds);
	ret = ret ? ret : vus_mig_put(&out, o->kinds, o->nfds);
	ret = ret ? ret : mig_stream_record_end(&o->b, at);
	return ret ? ret : mig_stream_end(&o->b);
}

void ho_in_init(struct ho_in *in)
{
	memset(in, 0, sizeof(*in));
}

void ho_in_free(struct ho_in *in)
{
	if (in->fds != NULL)
		close_fds(in->fds, in->nfds);
	free(in->fds);
	free(in->kinds);
	free(in->p);
	if (in->parsed)
		mig_parsed_free(&in->pp);
	memset(in, 0, sizeof(*in));
}

static bool kind_known(uint8_t k)
{
	return k <= VUS_FD_FILE || (k >= HO_FD_LISTEN && k <= HO_FD_MEM);
}

const char *ho_fd_kind_name(uint8_t kind)
{
	static const char *const lib[] = { "listening socket", "connection",
					   "eventfd", "memory file" };
	static const char *const dev[] = { "any fd", "socket", "terminal",
					   "character device", "eventfd",
					   "file" };

	if (kind <= VUS_FD_FILE)
		return dev[kind];
	if (kind >= HO_FD_LISTEN && kind <= HO_FD_MEM)
		return lib[kind - HO_FD_LISTEN];
	return "unknown";
}

static bool is_eventfd(int fd)
{
	char path[32], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventfd]") == 0;
}

int ho_fd_check(int fd, uint8_t kind)
{
	struct stat st;
	bool ok;

	if (fstat(fd, &st) < 0)
		return -EBADMSG;
	switch (kind) {
	case HO_FD_LISTEN: ok = unix_stream_check(fd, true) == 0; break;
	case HO_FD_CONN: ok = unix_stream_check(fd, false) == 0; break;
	case HO_FD_EVENTFD:
	case VUS_FD_EVENTFD: ok = is_eventfd(fd); break;
	case HO_FD_MEM:
	case VUS_FD_FILE: ok = S_ISREG(st.st_mode); break;
	case VUS_FD_SOCKET: ok = S_ISSOCK(st.st_mode); break;
	case VUS_FD_TTY: ok = isatty(fd) == 1; break;
	case VUS_FD_CHAR: ok = S_ISCHR(st.st_mode); break;
	case VUS_FD_ANY: ok = true; break;
	default: ok = false; break;
	}
	return ok ? 0 : -EBADMSG;
}

/* The "fds" record: as many kinds as fds arrived, each fd of its kind. */
static int fd_table_check(struct ho_in *in)
{
	vus_mig_in rec;
	uint32_t n;
	int ret = ho_in_record(in, "fds", &rec);

	if (ret == 0 && (vus_mig_get_u32(&rec, &n) < 0 ||
			 vus_mig_remaining(&rec) != n))
		ret = -EBADMSG;
	if (ret < 0) {
		snprintf(in->why, sizeof(in->why), "no valid fd table");
		return ret;
	}
	if (n != in->nfds) {
		snprintf(in->why, sizeof(in->why),
			 "the stream names %u fds, %u arrived", n, in->nfds);
		return -EBADMSG;
	}
	in->kinds = malloc(n ? n : 1);
	if (in->kinds == NULL)
		return -ENOMEM;
	(void)vus_mig_get(&rec, in->kinds, n);
	for (uint32_t i = 0; i < n; i++) {
		if (!kind_known(in->kinds[i]) ||
		    ho_fd_check(in->fds[i], in->kinds[i]) < 0) {
			snprintf(in->why, sizeof(in->why),
				 "fd %u is not a %s", i,
				 ho_fd_kind_name(in->kinds[i]));
			return -EBADMSG;
		}
	}
	return 0;
}

int ho_in_check(struct ho_in *in)
{
	int ret = mig_stream_parse_as(in->p, in->len, HO_STREAM_MAGIC,
				      HO_STREAM_FORMAT, &in->pp);

	if (ret < 0) {
		snprintf(in->why, sizeof(in->why),
			 "a truncated or corrupted hand-over stream (%zu bytes)",
			 in->len);
		return ret;
	}
	in->parsed = true;
	return fd_table_check(in);
}

int ho_in_record(struct ho_in *in, const char *name, vus_mig_in *rec)
{
	size_t n = strlen(name);
	int found = 0;

	for (unsigned int i = 0; i < in->pp.nr_rec; i++) {
		const struct mig_record *r = &in->pp.rec[i];

		if (r->name_len != n || memcmp(r->name, name, n) != 0)
			continue;
		if (found++ || r->version != 1)
			return -EBADMSG;
		*rec = (vus_mig_in){ .p = r->data, .len = r->len };
	}
	return found ? 0 : -EBADMSG;
}

int ho_in_take_fd(struct ho_in *in, uint32_t idx, uint8_t kind, int *fd)
{
	if (idx >= in->nfds || in->kinds[idx] != kind || in->fds[idx] < 0)
		return -EBADMSG;
	*fd = in->fds[idx];
	in->fds[idx] = -1;
	return 0;
}
