/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine: one connection's state machine (negotiate, serve, tear down), the
 * command table and its handlers, and the server's own requests to the
 * client (DMA_READ/DMA_WRITE). The only layer that sees both messages and
 * the device model; it never touches socket bytes (the transport does).
 */
#ifndef VUS_ENGINE_H
#define VUS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "caps.h"
#include "transport.h"
#include "vus/ctx.h"
#include "wire.h"

struct engine;
struct caps;

struct engine_limits {
	uint32_t max_xfer;     /* largest data transfer we accept */
	uint32_t max_fds;      /* most fds per message we accept */
	uint32_t max_dma_maps; /* announced in VERSION */
};

int engine_create(vus_ctx *ctx, const struct engine_limits *lim,
		  struct engine **out);

/** Drop any client at once (device quiesce is not waited for) and free. */
void engine_destroy(struct engine *e);

/**
 * Serve a connected socket (taken, closed on error). -EBUSY while a client
 * or its teardown is in progress.
 */
int engine_attach(struct engine *e, int fd);

/**
 * Crash recovery: continue the client session a dead process kept, on
 * its connection @fd (taken): the negotiated state from the state area,
 * then the message it handled last settled (taken out of the socket,
 * answered as far as it was not). -ENOENT (no session was kept: @fd
 * closed), -EBUSY, or the errno that made it give up (logged).
 */
int engine_adopt(struct engine *e, int fd);

/** Crash recovery: the connection's doorbell list (doorbell.h). */
struct doorbell **engine_doorbells(struct engine *e);

/** A client is connected, or the teardown after one is still running. */
bool engine_busy(const struct engine *e);

/** A client is connected. */
bool engine_connected(const struct engine *e);

/* Errno values counted one by one in engine_stats.errors; [0]: others. */
#define ENGINE_ERRNO_MAX 134u

/*
 * Message counters since the context was created, for the management
 * plane (query-stats). Written and read on the context thread only, so
 * plain increments suffice.
 */
struct engine_stats {
	uint64_t cmds[WIRE_CMD_MAX];        /* requests received; [0]: unknown */
	uint64_t errors[ENGINE_ERRNO_MAX];  /* error replies sent, per errno */
	uint64_t msgs_in, msgs_out;
	uint64_t bytes_in, bytes_out;       /* whole messages, headers included */
	uint64_t clients;                   /* connections served */
};

const struct engine_stats *engine_get_stats(const struct engine *e);

/**
 * What the connected client negotiated, into @out: true once VERSION is
 * done, false (nothing written) otherwise.
 */
bool engine_negotiated(const struct engine *e, struct caps *out);

/** The context's wake eventfd fired: look for quiesce confirmations. */
void engine_wakeup(struct engine *e);

/** Messages were deferred while the engine waited for a reply. */
bool engine_has_work(const struct engine *e);

/** Process deferred messages (context thread, outside any handler). */
void engine_run_deferred(struct engine *e);

/** Called when the engine becomes free for the next client. */
typedef void engine_idle_fn(void *opaque);
void engine_set_idle_cb(struct engine *e, engine_idle_fn *fn, void *opaque);

/*
 * Hand-over (engine_ho.c). The old process holds the engine still, saves
 * the connection at a message boundary and, once the new process has it,
 * forgets it; the new process continues it.
 */

/** How much of its connection the engine may use. */
enum engine_hold {
	ENGINE_RUN = 0,    /* everything */
	ENGINE_PAUSE = 1,  /* no new client messages (replies still go out) */
	ENGINE_FREEZE = 2, /* no I/O at all: its state was saved */
};

void engine_hold(struct engine *e, enum engine_hold h);

/**
 * At a message boundary: no message held for a quiesce, none deferred,
 * no handler running, no teardown in progress.
 */
bool engine_at_rest(const struct engine *e);

/* What a connection's engine state is beyond its transport. */
struct engine_state {
	int conn;              /* the connection state; 0: no client */
	struct caps peer;      /* what the client announced */
	uint32_t peer_fds;
	uint32_t peer_xfer;
	uint16_t next_id;      /* of our own requests */
	bool notify_connected;
};

bool engine_state_idle(const struct engine_state *st);
/** A state a peer may have sent (no client, negotiating, ready). */
bool engine_state_valid(const struct engine_state *st);

/** The connection's state and transport (borrowed; NULL with no client). */
void engine_save(const struct engine *e, struct engine_state *st,
		 struct transport **t);

/** A transport for a continued connection, with this engine's limits. */
int engine_transport_restore(struct engine *e, int fd,
			     const struct transport_saved_in *in,
			     struct transport **out);

/** Serve @t (taken) in state @st, as the old process left it. -EINVAL. */
int engine_restore(struct engine *e, const struct engine_state *st,
		   struct transport *t);

/** Entry @i of the client's doorbell eventfds (doorbell_get()). */
int engine_doorbell_get(const struct engine *e, unsigned int i,
			uint32_t *region, unsigned int *index, int *fd);

/**
 * The client's eventfd @fd (taken) for doorbell @index of region @region,
 * as the old process handed it out; the device is kicked once. -EBADMSG
 * (no such doorbell), doorbell_adopt()'s errors.
 */
int engine_doorbell_adopt(struct engine *e, uint32_t region,
			  unsigned int index, int fd);

/**
 * The new process has the connection: close ours without a teardown (no
 * device callbacks, nothing sent), and the client's doorbell eventfds.
 */
void engine_forget(struct engine *e);

#endif /* VUS_ENGINE_H */
