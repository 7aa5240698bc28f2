/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery (internal): one context's crash recovery (vus/recovery.h): the
 * state area with the context's kept state, the fds in the service
 * manager's store, and when they are saved. The context calls in at
 * realize, after each client message and at the end of each loop turn.
 */
#ifndef VUS_RECOVERY_INTERNAL_H
#define VUS_RECOVERY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vus/recovery.h"
#include "wire.h"

struct recovery;

/*
 * What a client message may change in the kept state (the command table's
 * .changes): the engine reports it once the handler has run.
 */
#define KEPT_BUS 0x1u    /* the bus adapter's sections (config, MSI-X) */
#define KEPT_ENGINE 0x2u /* negotiated capabilities, connection state */
#define KEPT_DEVICE 0x4u /* the device's sections (a reset, a load) */
#define KEPT_DMA 0x8u    /* the client's DMA mappings */
#define KEPT_DOORBELL 0x10u /* the doorbell fds given to the client */

/**
 * Build the area's layout from what realize froze, then adopt the area a
 * dead process kept (restoring its state) or start a new one. A refused
 * area is logged and the device starts clean; only resource errors fail.
 */
int recovery_realize(vus_ctx *ctx, struct recovery *r);

/*
 * The message handled last on a kept connection, as the area records it
 * in the same commit as what handling it changed; its reply follows when
 * it fits (a restarted process sends it if the dead one could not).
 */
#define KEPT_JOURNAL_MAX 4096u    /* reply bytes journaled, header included */
#define KEPT_J_PEEKED 0x1u        /* it was in the socket until committed */
#define KEPT_J_NO_REPLY 0x2u      /* nothing to send */
#define KEPT_J_UNJOURNALED 0x4u   /* its reply was too large to journal,
				   * or carried fds */
#define KEPT_J_BIG 0x8u           /* its reply may go out in pieces */
#define KEPT_J_INTENT 0x10u       /* its fds were about to be taken out of
				   * the socket, before it was handled */

struct kept_journal {
	uint64_t seq;           /* messages journaled in this area so far */
	struct wire_hdr req;
	uint32_t req_crc;       /* CRC32C of the request's bytes, if peeked */
	uint32_t flags;         /* KEPT_J_* */
	uint32_t reply_len;     /* journaled reply bytes */
};

/* How far the dead process got with that reply (recovery_mark()). */
enum kept_stage {
	KEPT_COMMITTED = 0, /* committed; maybe still in the socket */
	KEPT_DEQUEUED = 1,  /* taken out of the socket, reply not sent */
	KEPT_SENDING = 2,   /* a send began: it went out whole, or not at all
			     * (journaled replies), or in part */
	KEPT_SENT = 3,
};

/**
 * A message was handled (@changes: KEPT_*): save what changed and commit
 * it, with @j and its reply (@reply/@iovcnt, header first) when the
 * connection is kept (@j NULL otherwise). Fills j->seq. 0, or -EIO when
 * recovery is off (the message is answered all the same).
 */
int recovery_message_done(struct recovery *r, uint32_t changes,
			  struct kept_journal *j, const struct iovec *reply,
			  int iovcnt);

/** Record that message @seq reached @stage (one store, no commit). */
void recovery_mark(struct recovery *r, uint64_t seq, enum kept_stage stage);

/**
 * After a recovery: the last journaled message, its reply (valid until
 * the next message is journaled) and the stage it reached. -ENOENT when
 * none was journaled.
 */
int recovery_last_message(struct recovery *r, struct kept_journal *j,
			  const void **reply, enum kept_stage *stage);

/** Save the engine's own state (opaque bytes) with the next commit. */
int recovery_save_engine(struct recovery *r, const void *p, size_t len);

/** After a recovery: the engine's saved bytes; *len 0 if none. */
int recovery_engine_state(struct recovery *r, const void **p, size_t *len);

/*
 * The connection and the listening socket in the fd store. The listener
 * is stored when this context made it, not when it was handed one (a
 * systemd socket unit or vus-supervise --listen keeps that one itself).
 */
int recovery_keep_conn(struct recovery *r, int fd);
void recovery_drop_conn(struct recovery *r);
int recovery_keep_listener(struct recovery *r, int fd);
/** The inherited connection or listener (caller owns it), or -ENOENT. */
int recovery_take_conn(struct recovery *r);
int recovery_take_listener(struct recovery *r);
/** Whether state was restored (the inherited fds belong to it). */
bool recovery_recovered(const struct recovery *r);

/**
 * SET_IRQS changed vectors [@first, @first + @count) of @index (count 0:
 * to the end); @fresh: it brought eventfds (any bound one is new).
 */
void recovery_irq_touched(struct recovery *r, uint32_t index, uint32_t first,
			  uint32_t count, bool fresh);

/**
 * A continued session (engine_adopt()), its memory and interrupts back
 * already: the doorbell eventfds of the committed state from the
 * inherited fds. 0, or -errno (logged; the caller drops the client).
 */
int recovery_client_restore(struct recovery *r);

/** The client is gone, its fds closed: they leave the store. */
void recovery_client_gone(struct recovery *r);

/** End of a loop turn: save and commit what devices marked changed. */
void recovery_turn_done(struct recovery *r);

void recovery_destroy(struct recovery *r);

/**
 * Fault injection for tests: with $VUS_TEST_KILL_AT set to
 * "<point>[@<n>]:<file>" when recovery was enabled, the process kills
 * itself with SIGKILL the n-th time (default the first) it reaches @point,
 * if it can create <file> (so the restarted process goes on). Points:
 * "taking", "taken" (a message with fds: before and after they leave the
 * socket), "stored" (the client's new fds in the store, not yet
 * committed), "committed", "dequeued", "sending", "written" (its reply
 * written, not yet noted), "sent" (a kept message's steps), "inherited", "restored",
 * "resumed" (a restarted process's steps). Does nothing otherwise.
 */
void recovery_kill_point(struct recovery *r, const char *point);

#endif /* VUS_RECOVERY_INTERNAL_H */
