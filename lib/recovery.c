/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery: a context's kept state in the state area (vus/recovery.h).
 *
 * Layout: one block per migration section ("s.<name>"), the library's
 * first, each two slots of max_section_size bytes. A section is saved
 * when it changed -- the library's after a message that may change them
 * (the command table's .changes), the device's when it says so -- and the
 * saves of one message or loop turn are committed together, before the
 * message's reply goes out.
 *
 * At realize, an area inherited from a dead process ("vus.<ctx>.state")
 * is checked whole (kind, identity, layout, checksums), then every
 * section's check() runs, then every load(): the device comes up with the
 * dead process's state or, if anything was refused, clean, with the
 * reason logged. Never half of each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "engine.h"
#include "log.h"
#include "mig.h"
#include "recovery_priv.h"
#include "state_area.h"

#define ENGINE_STATE_MAX 512u
/* The journal's head as stored: seq, request header, CRC, flags, length. */
#define JOURNAL_HEAD (8u + WIRE_HDR_SIZE + 12u)
#define DEFAULT_SECTION_MAX (64u << 10)
#define MIN_SECTION_MAX (4u << 10)
#define MAX_SECTION_MAX (64u << 20)
/* A device that does not park within this is not restored. */
#define RESTORE_QUIESCE_MS 10000u

static struct log *rlog(struct recovery *r)
{
	return ctx_log(r->ctx);
}

VUS_EXPORT int vus_ctx_enable_recovery(vus_ctx *ctx,
				       const struct vus_recovery_config *cfg)
{
	struct vus_recovery_config c = { .struct_size = sizeof(c) };
	struct recovery *r;
	int ret;

	if (ctx == NULL || (cfg != NULL && copy_sized(&c, sizeof(c), cfg) < 0))
		return -EINVAL;
	if (c.max_section_size == 0)
		c.max_section_size = DEFAULT_SECTION_MAX;
	if (c.max_section_size < MIN_SECTION_MAX ||
	    c.max_section_size > MAX_SECTION_MAX)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	if (ctx_recovery(ctx) != NULL)
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->ctx = ctx;
	r->cfg = c;
	r->sec_block0 = -1;
	recovery_kill_init(r);
	ret = recovery_inherit_init();
	if (ret == 0)
		recovery_kill_point(r, "inherited");
	if (ret == 0)
		ret = notify_open_env(&r->n);
	if (ret == 0 && r->n == NULL)
		ret = -ENOTCONN;
	if (ret == 0 &&
	    (recovery_fd_name(r->prefix, sizeof(r->prefix), "vus", ctx_log(ctx)->name) < 0 ||
	     recovery_fd_name(r->dev_prefix, sizeof(r->dev_prefix), "dev", ctx_log(ctx)->name) < 0 ||
	     !fdstore_name_ok(r->prefix)))
		ret = -EINVAL;
	if (ret < 0) {
		recovery_destroy(r);
		return ret;
	}
	ctx_set_recovery(ctx, r);
	return 0;
}

void recovery_destroy(struct recovery *r)
{
	if (r == NULL)
		return;
	sa_destroy(r->sa);
	recovery_client_destroy(r);
	notify_close(r->n);
	free(r->dirty);
	free(r);
}

/* What the area belongs to: the device's identity and compatibility. */
static void identity(struct recovery *r, char *buf, size_t len)
{
	char id[SA_IDENTITY_MAX + 1] = "generic";
	const struct bus_ops *b = ctx_bus_ops(r->ctx);
	struct migration *m = ctx_mig(r->ctx);

	if (b != NULL && b->identity != NULL &&
	    b->identity(ctx_bus(r->ctx, b), id, sizeof(id)) < 0)
		snprintf(id, sizeof(id), "generic");
	snprintf(buf, len, "%s/%u/%s", id, mig_compat_version(m), r->prefix);
}

/* The area's blocks, in an order fixed by the device's set-up. */
static int build_layout(struct recovery *r, struct state_area **out)
{
	struct migration *m = ctx_mig(r->ctx);
	char id[SA_IDENTITY_MAX + 1], name[SA_NAME_MAX + 1];
	struct state_area *sa;
	int ret;

	identity(r, id, sizeof(id));
	ret = sa_create(id, &sa);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; ret >= 0 && i < r->nr_sec; i++) {
		snprintf(name, sizeof(name), "s.%s", mig_section_name(m, i));
		ret = sa_add_block(sa, name, mig_section_version(m, i),
				   r->cfg.max_section_size, 1);
		if (i == 0)
			r->sec_block0 = ret;
	}
	if (ret >= 0)
		ret = r->engine_block = sa_add_block(sa, "engine", 1,
						     ENGINE_STATE_MAX, 1);
	if (ret >= 0)
		ret = r->msg_block = sa_add_block(sa, "msg", 1, JOURNAL_HEAD +
						  KEPT_JOURNAL_MAX, 1);
	if (ret >= 0)
		ret = recovery_client_size(r) == 0 ? -E2BIG :
		      (r->client_block = sa_add_block(sa, "client", 1,
						      recovery_client_size(r), 1));
	if (ret < 0) {
		sa_destroy(sa);
		return ret;
	}
	*out = sa;
	return 0;
}

/* Turn recovery off: the store forgets the area, a restart starts clean. */
static void give_up(struct recovery *r, const char *what, int err)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (r->broken)
		return;
	r->broken = true;
	log_msg(rlog(r), VUS_LOG_ERR,
		"recovery: %s failed (%s): crash recovery is off for this process",
		what, strerror(-err));
	if (recovery_fd_name(name, sizeof(name), r->prefix, "state") == 0)
		recovery_unstore(r, name);
}

static int save_section(struct recovery *r, unsigned int i)
{
	unsigned int blk = (unsigned int)r->sec_block0 + i;
	uint32_t cap = sa_elem_size(r->sa, blk);
	struct mig_buf b = { .p = sa_write_begin(r->sa, blk, 0), .cap = cap,
			     .limit = cap };
	int ret;

	/* The section writes straight into the slot; it cannot grow it. */
	ret = mig_section_save(ctx_mig(r->ctx), i, &b);
	if (ret == 0)
		ret = sa_write_end(r->sa, blk, 0, (uint32_t)b.len);
	if (ret == -EFBIG)
		log_msg(rlog(r), VUS_LOG_ERR,
			"recovery: section \"%s\" saves more than %u bytes (see max_section_size)",
			mig_section_name(ctx_mig(r->ctx), i), cap);
	return ret;
}

/*
 * Save every dirty section (one that answers -EBUSY stays dirty) and the
 * client block if it changed: how many were written, or -errno (recovery
 * is then off).
 */
static int save_dirty(struct recovery *r)
{
	bool busy = false;
	int ret = 0, n = 0;

	for (unsigned int i = 0; ret == 0 && i < r->nr_sec; i++) {
		if (!r->dirty[i])
			continue;
		ret = save_section(r, i);
		/* Cannot be saved now (a device in the middle of something):
		 * the older copy stands, the next commit tries again. */
		if (ret == -EBUSY) {
			busy = true;
			ret = 0;
			continue;
		}
		r->dirty[i] = false;
		n += ret == 0;
	}
	r->any_dirty = busy;
	if (ret < 0) {
		give_up(r, "saving the device state", ret);
		return ret;
	}
	if (r->client_dirty) {
		ret = recovery_client_save(r);
		if (ret < 0)
			give_up(r, "keeping the client's fds", ret);
		else
			recovery_kill_point(r, "stored");
		n++;
	}
	return ret < 0 ? ret : n;
}

static void flush(struct recovery *r)
{
	if (!r->any_dirty || r->broken || r->sa == NULL)
		return;
	/* A section still busy is no reason to commit at every turn. */
	if (save_dirty(r) > 0) {
		sa_commit(r->sa);
		recovery_client_committed(r);
	}
}

static void mark_all(struct recovery *r, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		r->dirty[i] = true;
	r->any_dirty |= to > from;
}

/* The journal of message @j with its reply, when it fits. */
static int write_journal(struct recovery *r, struct kept_journal *j,
			 const struct iovec *reply, int iovcnt)
{
	unsigned int blk = (unsigned int)r->msg_block;
	uint8_t *p = sa_write_begin(r->sa, blk, 0);
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += reply[i].iov_len;
	j->seq = ++r->seq;
	j->reply_len = 0;
	if (total > KEPT_JOURNAL_MAX)
		j->flags |= KEPT_J_UNJOURNALED;
	else
		for (int i = 0; i < iovcnt; i++) {
			memcpy(p + JOURNAL_HEAD + j->reply_len, reply[i].iov_base,
			       reply[i].iov_len);
			j->reply_len += (uint32_t)reply[i].iov_len;
		}
	le_put(p, j->seq, 8);
	memcpy(p + 8, &j->req, WIRE_HDR_SIZE);
	le_put(p + 8 + WIRE_HDR_SIZE, j->req_crc, 4);
	le_put(p + 12 + WIRE_HDR_SIZE, j->flags, 4);
	le_put(p + 16 + WIRE_HDR_SIZE, j->reply_len, 4);
	return sa_write_end(r->sa, blk, 0, JOURNAL_HEAD + j->reply_len);
}

int recovery_message_done(struct recovery *r, uint32_t changes,
			  struct kept_journal *j, const struct iovec *reply,
			  int iovcnt)
{
	if (r == NULL || r->sa == NULL)
		return r == NULL ? 0 : -EIO;
	if (changes & KEPT_BUS)
		mark_all(r, 0, r->nr_lib_sec);
	if (changes & KEPT_DEVICE)
		mark_all(r, r->nr_lib_sec, r->nr_sec);
	if (changes & (KEPT_DMA | KEPT_DOORBELL))
		r->client_dirty = r->any_dirty = true;
	if (r->broken || (j == NULL && !r->any_dirty))
		return r->broken ? -EIO : 0;
	if (save_dirty(r) < 0 ||
	    (j != NULL && write_journal(r, j, reply, iovcnt) < 0))
		return -EIO;
	/* What the message changed and its reply become one commit. */
	sa_commit(r->sa);
	recovery_client_committed(r);
	return 0;
}

void recovery_mark(struct recovery *r, uint64_t seq, enum kept_stage stage)
{
	if (r != NULL && r->sa != NULL && !r->broken)
		sa_set_mark(r->sa, seq << 4 | stage);
}

int recovery_last_message(struct recovery *r, struct kept_journal *j,
			  const void **reply, enum kept_stage *stage)
{
	const uint8_t *p;
	uint32_t len;
	uint64_t mark;

	if (r->sa == NULL ||
	    sa_get(r->sa, (unsigned int)r->msg_block, 0, (const void **)&p, &len) < 0 ||
	    len < JOURNAL_HEAD)
		return -ENOENT;
	j->seq = le_get(p, 8);
	memcpy(&j->req, p + 8, WIRE_HDR_SIZE);
	j->req_crc = (uint32_t)le_get(p + 8 + WIRE_HDR_SIZE, 4);
	j->flags = (uint32_t)le_get(p + 12 + WIRE_HDR_SIZE, 4);
	j->reply_len = (uint32_t)le_get(p + 16 + WIRE_HDR_SIZE, 4);
	if (j->reply_len != len - JOURNAL_HEAD)
		return -EBADMSG;
	*reply = p + JOURNAL_HEAD;
	mark = sa_get_mark(r->sa);
	/* A mark for an older message says nothing about this one. */
	*stage = (mark >> 4) == j->seq ? (enum kept_stage)(mark & 0xf)
				       : KEPT_COMMITTED;
	return 0;
}

int recovery_save_engine(struct recovery *r, const void *p, size_t len)
{
	if (r == NULL || r->sa == NULL || r->broken)
		return 0;
	if (len > ENGINE_STATE_MAX)
		return -E2BIG;
	return sa_write(r->sa, (unsigned int)r->engine_block, 0, p, (uint32_t)len);
}

int recovery_engine_state(struct recovery *r, const void **p, size_t *len)
{
	uint32_t l = 0;
	int ret = sa_get(r->sa, (unsigned int)r->engine_block, 0, p, &l);

	*len = l;
	return ret;
}

void recovery_turn_done(struct recovery *r)
{
	if (r != NULL)
		flush(r);
}

/* Check (@load false) or load every kept section: 0, or the first error. */
static int apply_all(struct recovery *r, bool load)
{
	struct migration *m = ctx_mig(r->ctx);

	for (unsigned int i = 0; i < r->nr_sec; i++) {
		const void *p;
		uint32_t len;
		int ret = sa_get(r->sa, (unsigned int)r->sec_block0 + i, 0, &p,
				 &len);

		/* Every section is saved before the first commit. */
		if (ret == 0 && len == 0)
			ret = -ENODATA;
		if (ret == 0)
			ret = mig_section_apply(m, i, p, len, load);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The session cannot go on: its memory and eventfds go, and its socket. */
static void drop_session(struct recovery *r, int *conn)
{
	recovery_client_abandon(r);
	close_fd(conn);
	r->conn_kept = true; /* still in the store: removed now */
	recovery_drop_conn(r);
}

/*
 * Check every kept section, then load them all: all or nothing; -EIO
 * when a load failed after every check passed. With a session to go on
 * (*conn), its memory comes back before the device's state (which points
 * into it), and its interrupts after. The device stays quiesced
 * throughout and learns (client_lost) that its client must show it is
 * back, as after a disconnect: a device that works from guest memory
 * (virtio rings) takes up from what the memory says then, not from what
 * it saved last.
 */
static int restore(struct recovery *r, int *conn)
{
	struct device *dev = ctx_device(r->ctx);
	int ret = apply_all(r, false);

	if (ret < 0)
		return ret;
	ret = ctx_quiesce_wait(r->ctx, RESTORE_QUIESCE_MS);
	if (ret < 0)
		return ret;
	if (*conn >= 0 && recovery_client_restore_dma(r) < 0)
		drop_session(r, conn);
	ret = apply_all(r, true) < 0 ? -EIO : 0;
	if (ret == 0) {
		device_client_lost(dev);
		if (*conn >= 0 && recovery_client_restore_irqs(r) < 0)
			drop_session(r, conn);
	} else if (*conn >= 0) {
		drop_session(r, conn);
	}
	device_resume(dev);
	return ret;
}

/* A new area: stored, then every section saved and committed. */
static int start_clean(struct recovery *r)
{
	char name[FDSTORE_NAME_MAX + 1];
	int ret = build_layout(r, &r->sa);

	if (ret == 0)
		ret = sa_open_new(r->sa);
	if (ret == 0)
		ret = recovery_fd_name(name, sizeof(name), r->prefix, "state");
	if (ret == 0)
		ret = recovery_store(r, name, sa_fd(r->sa));
	if (ret < 0)
		return ret;
	mark_all(r, 0, r->nr_sec);
	r->any_dirty = true; /* commit even without sections */
	r->client_dirty = true;
	flush(r);
	return r->broken ? -EIO : 0;
}

/* Adopt the dead process's area and its state; false if refused. */
static bool adopt(struct recovery *r, int fd, int *conn)
{
	char why[160] = "";
	int ret = build_layout(r, &r->sa);

	if (ret == 0)
		ret = sa_open_fd(r->sa, fd, why, sizeof(why));
	else
		close_fd(&fd);
	if (ret == 0) {
		ret = restore(r, conn);
		if (ret == -EIO) {
			/* A load failed after every check passed. */
			snprintf(why, sizeof(why), "a section did not load");
			(void)ctx_reset(r->ctx, VUS_RESET_BUS);
		} else if (ret < 0) {
			snprintf(why, sizeof(why), "the kept state was refused (%s)",
				 strerror(-ret));
		}
	}
	if (ret < 0) {
		log_msg(rlog(r), VUS_LOG_WARNING,
			"recovery: not continuing the previous process: %s; starting clean",
			why[0] ? why : strerror(-ret));
		sa_destroy(r->sa);
		r->sa = NULL;
		return false;
	}
	log_msg(rlog(r), VUS_LOG_NOTICE,
		"recovery: continuing the previous process's state (epoch %llu)",
		(unsigned long long)sa_epoch(r->sa));
	/* Message numbers go on from the last one journaled. */
	{
		struct kept_journal j;
		const void *p;
		enum kept_stage st;

		if (recovery_last_message(r, &j, &p, &st) == 0)
			r->seq = j.seq;
	}
	return true;
}

int recovery_realize(vus_ctx *ctx, struct recovery *r)
{
	struct migration *m = ctx_mig(ctx);
	char name[FDSTORE_NAME_MAX + 1];
	int fd, conn;

	r->nr_sec = mig_nr_sections(m);
	r->nr_lib_sec = mig_nr_lib_sections(m);
	r->dirty = calloc(r->nr_sec ? r->nr_sec : 1, sizeof(*r->dirty));
	if (r->dirty == NULL || recovery_client_init(r) < 0)
		return -ENOMEM;
	if (recovery_fd_name(name, sizeof(name), r->prefix, "state") < 0)
		return -EINVAL;
	fd = recovery_inherit_take(name);
	/* The client's session, if one was kept, goes on where the dead
	 * process left it: its connection, memory, interrupts, doorbells. */
	conn = fd >= 0 ? recovery_take_lib_fd(r, "conn") : -ENOENT;
	r->conn_kept = conn >= 0;
	if (fd >= 0) {
		r->recovered = adopt(r, fd, &conn);
		if (!r->recovered)
			/* The store drops the refused area; a new one follows. */
			recovery_unstore(r, name);
	}
	if (!r->recovered) {
		int ret = start_clean(r);

		/* A kept connection without its state is of no use. */
		close_fd(&conn);
		fd = recovery_take_conn(r);
		close_fd(&fd);
		recovery_sweep(r, "fd.");
		return ret ? ret : recovery_client_regions(r, false);
	}
	recovery_kill_point(r, "restored");
	if (recovery_client_regions(r, true) < 0)
		give_up(r, "keeping region memory", -EIO);
	if (conn >= 0 && engine_adopt(ctx_engine(ctx), conn) == 0)
		recovery_kill_point(r, "resumed");
	else
		/* No session: the kept block is rewritten empty. */
		r->client_dirty = r->any_dirty = true;
	recovery_sweep(r, "fd.");
	return 0;
}

VUS_EXPORT int vus_ctx_recovered(vus_ctx *ctx)
{
	struct recovery *r = ctx ? ctx_recovery(ctx) : NULL;

	if (r == NULL || !ctx_realized(ctx))
		return -EINVAL;
	return r->recovered ? 1 : 0;
}

VUS_EXPORT int vus_ctx_state_changed(vus_ctx *ctx, const char *section)
{
	struct recovery *r = ctx ? ctx_recovery(ctx) : NULL;
	int i;

	if (r == NULL || r->dirty == NULL)
		return -EINVAL;
	if (section == NULL) {
		mark_all(r, r->nr_lib_sec, r->nr_sec);
		return 0;
	}
	i = mig_section_find(ctx_mig(ctx), section);
	if (i < (int)r->nr_lib_sec)
		return -ENOENT; /* unknown, or the library's own */
	r->dirty[i] = true;
	r->any_dirty = true;
	return 0;
}

VUS_EXPORT int vus_ctx_state_commit(vus_ctx *ctx)
{
	struct recovery *r = ctx ? ctx_recovery(ctx) : NULL;

	if (r == NULL || r->sa == NULL)
		return -EINVAL;
	flush(r);
	return r->broken ? -EIO : 0;
}
