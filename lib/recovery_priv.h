/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_priv: state shared by recovery.c (the state area: layout,
 * saving, restoring) and recovery_fds.c (fds in the service manager's
 * store: the inherited ones and the ones this process keeps) only.
 */
#ifndef VUS_RECOVERY_PRIV_H
#define VUS_RECOVERY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "fdstore.h"
#include "recovery.h"

/* Device names for kept fds: [a-z0-9._-], as section names. */
#define KEPT_NAME_MAX 63u
/* Most fds one device keeps by name. */
#define KEPT_DEV_FDS_MAX 64u

struct kept_fd {
	char name[KEPT_NAME_MAX + 1];
};

struct recovery {
	vus_ctx *ctx;
	struct vus_recovery_config cfg;
	struct notify *n;
	char prefix[64];        /* "vus.<context name>" */
	char dev_prefix[64];    /* "dev.<context name>" */
	struct state_area *sa;
	bool recovered;         /* state restored from a dead process */
	bool broken;            /* saving failed: recovery is off */
	unsigned int nr_sec;    /* migration sections (library's first) */
	unsigned int nr_lib_sec;
	int sec_block0;         /* block id of section 0 */
	int engine_block;       /* the engine's state */
	int msg_block;          /* the last message's journal */
	uint64_t seq;           /* messages journaled so far */
	bool conn_kept;         /* the connection is in the store */
	bool *dirty;            /* per section */
	bool any_dirty;
	char kill_at[64];       /* $VUS_TEST_KILL_AT's point, or "" */
	char kill_file[192];
	unsigned int kill_nth;  /* at the n-th time the point is reached */
	unsigned int kill_seen;
	struct kept_fd kept[KEPT_DEV_FDS_MAX];
	unsigned int nr_kept;
};

/* recovery_fds.c */

/**
 * The process's inherited fds ($LISTEN_FDS), read once: 0 or -errno of
 * listen_fds_from_env() (then nothing is inherited).
 */
int recovery_inherit_init(void);

/** Take the inherited fd named @name (caller owns it), or -ENOENT. */
int recovery_inherit_take(const char *name);

/** Whether a device name is acceptable: 1..63 of [a-z0-9._-]. */
bool recovery_name_ok(const char *name);

/** "<prefix>.<what>" into @buf; -ENAMETOOLONG if it does not fit. */
int recovery_fd_name(char *buf, size_t len, const char *prefix,
		     const char *what);

/** Store @fd under @name (FDPOLL=0: the manager keeps it until removed). */
int recovery_store(struct recovery *r, const char *name, int fd);

/** Remove @name from the store (its copies are closed there). */
void recovery_unstore(struct recovery *r, const char *name);

/** Take $VUS_TEST_KILL_AT (recovery_kill_point()). */
void recovery_kill_init(struct recovery *r);

#endif /* VUS_RECOVERY_PRIV_H */
