/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_priv: state shared by recovery.c (the state area: layout,
 * saving, restoring), recovery_fds.c (fds in the service manager's
 * store: the inherited ones and the ones this process keeps) and
 * recovery_client*.c (what the client gave) only.
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

struct kept_client;

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
	int client_block;       /* the client's resources (recovery_client.c) */
	struct kept_client *kc;
	bool client_dirty;
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

/** Store the library's own @fd as "<prefix>.<what>". */
int recovery_keep_lib_fd(struct recovery *r, const char *what, int fd);

/** Take the inherited "<prefix>.<what>" (caller owns it), or -ENOENT. */
int recovery_take_lib_fd(struct recovery *r, const char *what);

/**
 * Close every inherited fd named "<prefix>.<what><digits>" nobody took,
 * and remove its name from the store (spares a crash left there).
 */
void recovery_sweep(struct recovery *r, const char *what);

/* recovery_client.c: the client's kept fds and their ids */

/** Size the client's tables (after realize froze irqs and regions). */
int recovery_client_init(struct recovery *r);
/** The "client" block's element size, 0 if past the area's bound. */
uint32_t recovery_client_size(const struct recovery *r);
void recovery_client_destroy(struct recovery *r);
/** The commit is made: remove the ids it no longer refers to. */
void recovery_client_committed(struct recovery *r);
/* recovery_client_save.c */
/**
 * Write the client block for the next commit, storing new fds first.
 * -EMFILE (too many files), -EIO (the store refused an fd), -EFBIG.
 */
int recovery_client_save(struct recovery *r);
/* recovery_client_restore.c */
/**
 * A continued session, before the device's sections load: re-create the
 * client's DMA mappings of the committed state from the inherited fds
 * (the device's dma_map runs for each). 0, or -errno (logged).
 */
int recovery_client_restore_dma(struct recovery *r);
/** After the sections loaded: the client's interrupt eventfds. */
int recovery_client_restore_irqs(struct recovery *r);
/* recovery_client.c */
/**
 * The session cannot go on after all (device quiesced): its mappings go,
 * its eventfds close, the device learns it as after a disconnect.
 */
void recovery_client_abandon(struct recovery *r);
/**
 * Region memory: adopt the dead process's (@adopt) or store ours. 0 or
 * -errno of the store.
 */
int recovery_client_regions(struct recovery *r, bool adopt);

/** Take $VUS_TEST_KILL_AT (recovery_kill_point()). */
void recovery_kill_init(struct recovery *r);

#endif /* VUS_RECOVERY_PRIV_H */
