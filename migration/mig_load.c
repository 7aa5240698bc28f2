/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_load: the destination's side of a stream (RESUMING). The stream is
 * parsed as MIG_DATA_WRITE brings it: the header checked, each record's
 * bytes copied once into its section's staging block (the CRC summed on
 * the way), nothing kept of the framing. Leaving RESUMING commits only a
 * stream that ended with the right CRC, came from this kind of device and
 * version, and has every section, each accepted by its check() on the
 * staged bytes; then every load() runs. Anything else leaves the device
 * as it was.
 *
 * Memory: the staged sections, each at most its bound (the library's
 * region section: the memory it migrates; every other one: the config's
 * max_stream_size), allocated to the size its records announce, all
 * together at most stage_mem_max. A section that would pass either goes
 * to an unnamed file in the stage directory instead (mig_spill.c; its
 * bytes so far moved there), all files together at most stage_disk_max;
 * without a stage directory it is refused (EFBIG). The stream itself may
 * be longer than any bound. Staging and disk faults are refused at once.
 *
 * Errors keep the old precedence: a malformed stream (framing, CRC,
 * truncation) is refused as EBADMSG whatever it claims; what it claims
 * (identity, version, sections) is judged only once it proved intact.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "mig_priv.h"
#include "mig_spill.h"

/* The fixed part of the header: magic, format, compat, identity length. */
#define HDR_FIXED 18u
/* A record's head after its kind: name length, name, version, length. */
#define REC_FIXED 9u

enum ld_phase { LD_HEADER, LD_KIND, LD_RECHEAD, LD_DATA, LD_CRC, LD_DONE };

struct stage {
	uint8_t *p;       /* in memory: cap bytes allocated */
	uint64_t len;
	size_t cap;
	uint32_t version;
	bool present;
	bool spilled;     /* the bytes are in the file @fd instead */
	int fd;
};

struct mig_load {
	enum ld_phase phase;
	uint8_t head[HDR_FIXED + MIG_IDENTITY_MAX];
	size_t head_len;
	size_t head_want;
	uint32_t crc;         /* of every byte before the CRC field */
	uint64_t seen;        /* stream bytes so far, for the log */
	struct stage *cur;    /* where the record's data goes; NULL: nowhere */
	uint32_t data_left;
	int err;              /* the stream is malformed or too large */
	int claim;            /* an intact stream would still be refused */
	char why[128];        /* what the claim error is about */
	char why_section[MIG_NAME_MAX + 1]; /* the section it is about, or "" */
	uint64_t mem;         /* bytes allocated for staging in memory */
	uint64_t disk;        /* and spilled (announced by the records) */
	unsigned int nr;
	struct stage st[];
};

const struct mig_refusal *mig_last_refusal(const struct migration *m)
{
	return &m->refused;
}

/*
 * Refuse the stream: log why and keep it for the management socket
 * (the client's reply carries only @err). Returns @err.
 */
static int refuse(struct migration *m, const char *phase, const char *section,
		  int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int refuse(struct migration *m, const char *phase, const char *section,
		  int err, const char *fmt, ...)
{
	struct mig_refusal *r = &m->refused;
	va_list ap;

	r->err = err;
	r->phase = phase;
	snprintf(r->section, sizeof(r->section), "%s", section);
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	if (r->section[0] != '\0')
		log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
			"migration: section \"%s\" %s failed: %s", r->section,
			phase, r->reason);
	else
		log_msg(ctx_log(m->ctx), VUS_LOG_WARNING, "migration: %s",
			r->reason);
	return err;
}

static void stage_free_all(struct mig_load *l)
{
	for (unsigned int i = 0; i < l->nr; i++) {
		mig_mem_free(l->st[i].p, l->st[i].cap);
		if (l->st[i].spilled)
			close_fd(&l->st[i].fd);
		l->st[i] = (struct stage){ 0 };
	}
	l->mem = 0;
	l->disk = 0;
}

void mig_stage_stats(const struct migration *m, uint64_t *mem, uint64_t *disk)
{
	*mem = m->staged_mem;
	*disk = m->staged_disk;
}

void mig_load_end(struct migration *m)
{
	if (m->load == NULL)
		return;
	stage_free_all(m->load);
	free(m->load);
	m->load = NULL;
}

int mig_load_begin(struct migration *m)
{
	mig_load_end(m);
	m->refused = (struct mig_refusal){ 0 };
	m->staged_mem = 0;
	m->staged_disk = 0;
	m->load = calloc(1, sizeof(*m->load) +
			    (m->nr_sec ? m->nr_sec : 1) * sizeof(struct stage));
	if (m->load == NULL)
		return -ENOMEM;
	m->load->nr = m->nr_sec;
	m->load->head_want = HDR_FIXED;
	return 0;
}

static void fail(struct mig_load *l, int err)
{
	if (l->err == 0)
		l->err = err;
	stage_free_all(l);
	l->cur = NULL;
}

/* What the stream claims cannot be taken; go on to learn if it is intact. */
static void refuse_claim(struct mig_load *l, int err, const char *section,
			 const char *why)
{
	if (l->claim == 0) {
		l->claim = err;
		snprintf(l->why, sizeof(l->why), "%s", why);
		snprintf(l->why_section, sizeof(l->why_section), "%s", section);
	}
	stage_free_all(l);
	l->cur = NULL;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static bool printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return n > 0;
}

/* The header's fixed part, then (head_want grown) the identity. */
static void header_step(struct migration *m, struct mig_load *l)
{
	char id[MIG_IDENTITY_MAX + 1];
	size_t n = (size_t)l->head[16] | (size_t)l->head[17] << 8;

	if (l->head_len == HDR_FIXED) {
		if (memcmp(l->head, MIG_STREAM_MAGIC, 8) != 0)
			fail(l, -EBADMSG);
		else if (le32_at(l->head + 8) != MIG_STREAM_FORMAT)
			fail(l, -EPROTONOSUPPORT);
		else if (n > MIG_IDENTITY_MAX)
			fail(l, -EBADMSG);
		l->head_want = HDR_FIXED + n;
		if (n > 0 || l->err)
			return;
	}
	if (!printable(l->head + HDR_FIXED, n)) {
		fail(l, -EBADMSG);
		return;
	}
	mig_identity(m, id, sizeof(id));
	/* The stream's identity is the client's text: not logged. */
	if (strlen(id) != n || memcmp(id, l->head + HDR_FIXED, n) != 0)
		refuse_claim(l, -ENODEV, "", "stream is from another kind of device");
	else if (le32_at(l->head + 12) != m->cfg.compat_version)
		refuse_claim(l, -EPROTONOSUPPORT, "",
			     "stream has another compatibility version");
	l->phase = LD_KIND;
	l->head_len = 0;
	l->head_want = 1;
}

static uint64_t bound_of(const struct migration *m, const struct mig_section *s)
{
	return s->bound ? s->bound : m->cfg.max_stream_size;
}

/*
 * Room in memory for @add more bytes of @st: 0, 1 when they pass @bound
 * or the memory budget, -ENOMEM.
 */
static int mem_room(struct migration *m, struct stage *st, uint64_t bound,
		    uint32_t add)
{
	struct mig_load *l = m->load;
	uint64_t left = m->cfg.stage_mem_max - l->mem;
	uint64_t need = st->len + add, cap;
	void *p;

	if (add > bound || st->len > bound - add)
		return 1;
	if (need <= st->cap)
		return 0;
	if (need - st->cap > left)
		return 1;
	/* The first record's own size; later parts (pre-copy) grow it. */
	cap = st->cap ? MIN(MIN(MAX(need, 2 * (uint64_t)st->cap), bound),
			    st->cap + left) : need;
	p = mig_mem_resize(st->p, st->cap, (size_t)cap);
	if (p == NULL)
		return -ENOMEM;
	l->mem += cap - st->cap;
	m->staged_mem = MAX(m->staged_mem, l->mem);
	st->p = p;
	st->cap = (size_t)cap;
	return 0;
}

/* Move section @i's staged bytes to a new file in the stage directory. */
static int spill_start(struct migration *m, unsigned int i)
{
	struct stage *st = &m->load->st[i];
	int fd = mig_spill_create(m->stage_dirfd);
	int ret = fd < 0 ? fd : write_all(fd, st->p, (size_t)st->len);

	if (ret < 0) {
		close_fd(&fd);
		return refuse(m, "stream", m->sec[i].name, ret, "cannot spill "
			      "to the stage directory: %s", strerror(-ret));
	}
	mig_mem_free(st->p, st->cap);
	m->load->mem -= st->cap;
	st->p = NULL;
	st->cap = 0;
	st->fd = fd;
	st->spilled = true;
	return 0;
}

/*
 * Room for @add more bytes of section @i: in memory within its bound and
 * the budget, else on disk within the stage directory's limit. A refusal
 * is logged here (and reported at once); -ENOMEM is not.
 */
static int stage_room(struct migration *m, unsigned int i, uint32_t add)
{
	struct mig_load *l = m->load;
	struct stage *st = &l->st[i];
	struct mig_section *s = &m->sec[i];
	uint64_t bound = bound_of(m, s), disk_max = m->cfg.stage_disk_max;
	uint64_t more = add;
	int ret;

	/* A library section's bound is its exact size: never more. */
	if (s->bound && (add > s->bound || st->len > s->bound - add))
		return refuse(m, "stream", s->name, -EFBIG, "longer than %llu "
			      "bytes", (unsigned long long)s->bound);
	if (!st->spilled) {
		ret = mem_room(m, st, bound, add);
		if (ret <= 0)
			return ret;
		if (m->stage_dirfd < 0)
			return refuse(m, "stream", s->name, -EFBIG, "longer than "
				      "%llu bytes, or past the staging budget "
				      "of %llu", (unsigned long long)bound,
				      (unsigned long long)m->cfg.stage_mem_max);
		more += st->len;
	}
	if (more > disk_max - l->disk)
		return refuse(m, "stream", s->name, -EFBIG, "past the stage "
			      "directory's limit of %llu bytes",
			      (unsigned long long)disk_max);
	if (!st->spilled) {
		ret = spill_start(m, i);
		if (ret < 0)
			return ret;
	}
	l->disk += more;
	m->staged_disk = MAX(m->staged_disk, l->disk);
	return 0;
}

/* @k bytes of the current record's data to where its section is staged. */
static void stage_put(struct migration *m, struct mig_load *l,
		      const uint8_t *p, size_t k)
{
	struct stage *st = l->cur;
	int ret;

	if (!st->spilled) {
		memcpy(st->p + st->len, p, k);
		st->len += k;
		return;
	}
	ret = write_all(st->fd, p, k);
	if (ret < 0) {
		refuse(m, "stream", m->sec[st - l->st].name, ret, "spilling to "
		       "the stage directory: %s", strerror(-ret));
		fail(l, ret);
		return;
	}
	st->len += k;
}

/* A record's head is complete: where do its bytes go? */
static void record_step(struct migration *m, struct mig_load *l)
{
	uint8_t n = l->head[0];
	char name[MIG_NAME_MAX + 1];
	uint32_t version, len;
	int i, ret;

	if (l->head_len == 1) {
		if (n == 0 || n > MIG_NAME_MAX)
			fail(l, -EBADMSG);
		l->head_want = REC_FIXED + n;
		return;
	}
	if (!printable(l->head + 1, n)) {
		fail(l, -EBADMSG);
		return;
	}
	memcpy(name, l->head + 1, n);
	name[n] = '\0';
	version = le32_at(l->head + 1 + n);
	len = le32_at(l->head + 5 + n);
	l->phase = len ? LD_DATA : LD_KIND;
	l->head_want = 1;
	l->data_left = len;
	l->cur = NULL;
	if (l->claim)
		return;
	i = mig_section_find(m, name);
	if (i < 0) {
		refuse_claim(l, -EBADMSG, name, "no such section in this device");
		return;
	}
	/* One version per section, and none newer than ours. */
	if ((l->st[i].present && version != l->st[i].version) ||
	    version > m->sec[i].version || version == 0) {
		refuse_claim(l, -EPROTONOSUPPORT, name,
			     "a record of another version than this device reads");
		return;
	}
	ret = stage_room(m, (unsigned int)i, len);
	if (ret < 0) {
		fail(l, ret);
		return;
	}
	l->st[i].present = true;
	l->st[i].version = version;
	l->cur = &l->st[i];
}

/* @k bytes for the head buffer (header, kind, record head, CRC). */
static void take_head(struct migration *m, struct mig_load *l,
		      const uint8_t *p, size_t k)
{
	memcpy(l->head + l->head_len, p, k);
	l->head_len += k;
	if (l->head_len < l->head_want)
		return;
	switch (l->phase) {
	case LD_HEADER:
		header_step(m, l);
		break;
	case LD_KIND:
		l->head_len = 0;
		if (l->head[0] == MIG_REC_END) {
			l->phase = LD_CRC;
			l->head_want = 4;
		} else if (l->head[0] == MIG_REC_SECTION) {
			l->phase = LD_RECHEAD;
		} else {
			fail(l, -EBADMSG);
		}
		break;
	case LD_RECHEAD:
		record_step(m, l);
		if (l->phase != LD_RECHEAD)
			l->head_len = 0;
		break;
	default: /* LD_CRC */
		if (le32_at(l->head) != l->crc)
			fail(l, -EBADMSG);
		l->phase = LD_DONE;
		break;
	}
}

int mig_load_write(struct migration *m, const void *buf, size_t len)
{
	struct mig_load *l = m->load;
	const uint8_t *p = buf;

	if (l == NULL)
		return -EINVAL;
	l->seen += len;
	while (len > 0 && l->err == 0) {
		size_t k;

		if (l->phase == LD_DONE) {
			fail(l, -EBADMSG); /* nothing may follow the CRC */
			break;
		}
		if (l->phase == LD_DATA) {
			k = MIN(len, (size_t)l->data_left);
			l->crc = mig_crc32c(l->crc, p, k);
			if (l->cur != NULL)
				stage_put(m, l, p, k);
			l->data_left -= (uint32_t)k;
			if (l->data_left == 0)
				l->phase = LD_KIND;
		} else {
			k = MIN(len, l->head_want - l->head_len);
			if (l->phase != LD_CRC)
				l->crc = mig_crc32c(l->crc, p, k);
			take_head(m, l, p, k);
		}
		p += k;
		len -= k;
	}
	/* Staging refused (a bound, the disk) is reported at once, as before. */
	return m->refused.err ? l->err : 0;
}

/* Run section @i's check() or load() on its staged bytes. */
static int run_section(struct migration *m, unsigned int i, bool load,
		       struct vus_mig_in *in)
{
	struct mig_section *s = &m->sec[i];
	struct stage *st = &m->load->st[i];
	struct mig_spill_view view;
	int ret = 0;

	/* A spilled section reads through a window of its file. */
	if (st->spilled) {
		ret = mig_spill_view_init(&view, st->fd);
		in->spill = &view;
	}
	if (ret == 0 && load)
		ret = s->ops.load(m->ctx, s->opaque, in, st->version);
	else if (ret == 0 && s->ops.check != NULL)
		ret = s->ops.check(m->ctx, s->opaque, in, st->version);
	if (st->spilled)
		mig_spill_view_free(&view);
	return ret;
}

/* Phase 1 (check) or phase 2 (load) over every staged section. */
static int each_section(struct migration *m, bool load)
{
	for (unsigned int i = 0; i < m->nr_sec; i++) {
		struct stage *st = &m->load->st[i];
		char why[sizeof(m->refused.reason)] = "";
		struct vus_mig_in in = { .p = st->p, .len = (size_t)st->len,
					 .why = why, .why_len = sizeof(why) };
		int ret = run_section(m, i, load, &in);

		if (ret < 0)
			return refuse(m, load ? "load" : "check", m->sec[i].name,
				      ret, "%s", why[0] ? why : strerror(-ret));
	}
	return 0;
}

/* The stream as a whole: intact, ours, complete. 0 or the errno. */
static int judge(struct migration *m)
{
	struct mig_load *l = m->load;

	if (l->err == 0 && l->phase != LD_DONE)
		l->err = -EBADMSG; /* truncated */
	if (m->refused.err)
		return l->err; /* refused where it was found */
	if (l->err < 0)
		return refuse(m, "stream", "", l->err, "refusing a malformed "
			      "stream (%llu bytes): %s",
			      (unsigned long long)l->seen, strerror(-l->err));
	/* Record names were checked printable: they may be shown. */
	if (l->claim < 0)
		return refuse(m, "header", l->why_section, l->claim, "%s", l->why);
	/* The device's state would be incomplete. */
	for (unsigned int i = 0; i < m->nr_sec; i++)
		if (!l->st[i].present)
			return refuse(m, "stream", m->sec[i].name, -EBADMSG,
				      "missing from the stream");
	return 0;
}

int mig_load_finish(struct migration *m)
{
	int ret;

	if (m->load == NULL)
		return -EINVAL;
	ret = judge(m);
	if (ret == 0)
		ret = each_section(m, false);
	if (ret == 0)
		ret = each_section(m, true);
	mig_load_end(m);
	return ret;
}
