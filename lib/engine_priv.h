/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_priv: state and helpers shared by the engine's files only
 * (engine.c: lifecycle and message loop; engine_cmds.c: the command table;
 * engine_info.c, engine_io.c, engine_irq.c, engine_dma.c, engine_mig.c:
 * handlers).
 */
#ifndef VUS_ENGINE_PRIV_H
#define VUS_ENGINE_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "caps.h"
#include "engine.h"
#include "loop.h"
#include "transport.h"
#include "wire.h"

enum conn_state {
	CONN_IDLE = 0,        /* no client */
	CONN_NEGOTIATING = 1, /* connected, waiting for VERSION */
	CONN_READY = 2,       /* negotiated */
	CONN_TEARDOWN = 3,    /* client gone; waiting for the device to quiesce */
};

#define CONN_BIT(s) (1u << (s))

/* Where the client reads our DMA_READ/DMA_WRITE payloads (engine_dma.c). */
enum engine_dma_layout {
	ENGINE_DMA_LAYOUT_UNKNOWN = 0, /* not asked yet on this connection */
	ENGINE_DMA_LAYOUT_SPEC,        /* {u64 addr; u64 count; data} */
	ENGINE_DMA_LAYOUT_QEMU,        /* {u64 addr; u32 count; data; 4 pad} */
};

/* Bounds on what a client can make us hold. */
#define ENGINE_OUT_HIGH (4u << 20)      /* stop reading above this backlog */
#define ENGINE_OUT_HIGH_FDS 64u         /* ... or above this many queued fds */
#define ENGINE_DEFER_MAX_MSGS 1024u    /* queued while awaiting our reply */
#define ENGINE_DEFER_MAX_BYTES (16u << 20)
#define ENGINE_DEFER_MAX_FDS 256u
#define ENGINE_REQUEST_TIMEOUT_MS 5000 /* as QEMU's own x-msg-timeout */
#define ENGINE_BUDGET 64u              /* messages per wakeup */

/* What a handler fills in. */
/* Pieces a reply may have after its buffer: the transport sends at most
 * 7 parts after the header. */
#define REPLY_IOV_MAX 6u

struct reply {
	uint8_t *buf;   /* payload buffer */
	uint32_t cap;   /* its size */
	uint32_t len;   /* payload bytes to send from @buf */
	const void *tail;  /* more payload sent from here (no copy), or NULL */
	uint32_t tail_len;
	void *tail_own;    /* @tail when the reply owns it (engine_reply_tail) */
	/* More payload after @buf, in pieces sent from where they are (a
	 * migration stream's blocks); not with @tail. */
	struct iovec iov[REPLY_IOV_MAX];
	unsigned int iovcnt;
	int fds[WIRE_MAX_FDS_LIMIT]; /* borrowed; attached to the reply */
	unsigned int nfds;
	bool close_after; /* hang up once the reply is out */
};

struct engine;

/* One entry per command: the engine, the validator and the fuzzer read it. */
struct cmd_desc {
	uint32_t min_len;    /* payload bytes */
	uint32_t max_len;    /* payload bytes; see data_max */
	bool data_max;       /* max_len is min_len + the transfer limit */
	uint8_t max_fds;     /* 0xff: the negotiated per-message limit */
	uint32_t argsz_min;  /* non-zero: payload starts with argsz >= this */
	uint32_t states;     /* CONN_BIT()s it is allowed in */
	bool quiesce;        /* runs with the device quiesced */
	/* When set, decides per message instead of @quiesce. */
	bool (*quiesce_if)(const struct msg *m);
	/* Pure check beyond the table (run before quiescing); may be NULL. */
	int (*check)(struct engine *e, const struct msg *m);
	int (*handler)(struct engine *e, struct msg *m, struct reply *r);
	/* Kept state it may change (KEPT_* of recovery.h), saved before
	 * the reply goes out. */
	uint32_t changes;
};

struct deferred {
	struct deferred *next;
	struct msg m;
};

struct engine {
	vus_ctx *ctx;
	struct log *log;
	struct engine_limits lim;
	uint32_t max_msg;     /* receive limit, header included */
	enum conn_state state;
	struct transport *t;
	struct watch w;
	/* What the client announced, and what we may send it. */
	struct caps peer;
	uint32_t peer_fds;
	uint32_t peer_xfer;
	bool notify_connected;
	/* The message a handler is running for (NULL outside handlers). */
	struct msg *cur;
	/* A message waiting for the device to quiesce. */
	bool has_held;
	struct msg held;
	const struct cmd_desc *held_desc;
	bool quiesce_pending; /* device answered -EBUSY */
	/* Client commands received while we awaited our own reply. */
	struct deferred *dq_head;
	struct deferred *dq_tail;
	unsigned int dq_count;
	size_t dq_bytes;
	unsigned int dq_fds;
	/* Server-to-client requests. */
	uint16_t next_id;
	bool in_request;
	enum engine_dma_layout dma_layout;
	bool broken;          /* failed inside a handler; tear down after */
	bool closing;         /* read no more; hang up once output is out */
	/* This client's eventfds for the device's doorbells (doorbell.h). */
	struct doorbell *doorbells;
	uint8_t *scratch;     /* reply payload buffer */
	uint32_t scratch_cap;
	struct reply reply;   /* handlers never nest: one is enough */
	/* Crash recovery (engine_kept.c): the connection is kept; the last
	 * journaled message and its reply's length. */
	bool kept;
	uint64_t kept_seq;
	size_t kept_total;
	engine_idle_fn *idle_fn;
	void *idle_opaque;
	struct engine_stats st;
	enum engine_hold hold; /* a hand-over holds the connection still */
};

/* engine_cmds.c */
const struct cmd_desc *engine_cmd(uint32_t cmd);
int engine_cmd_check(const struct engine *e, const struct cmd_desc *d,
		     const struct msg *m);
/** The most fds command @d may carry on this connection. */
uint32_t engine_cmd_max_fds(const struct engine *e, const struct cmd_desc *d);
/**
 * A zeroed buffer of @len bytes sent as @r's tail (after @r->len bytes of
 * @r->buf). The reply owns it; it is freed once written to the socket, or
 * when the reply is not sent. NULL when out of memory.
 */
void *engine_reply_tail(struct reply *r, size_t len);

/** The payload's leading argsz (caller checked the length). */
uint32_t engine_argsz(const struct msg *m);

/* engine.c */
/** Watch the connection for what it can handle now (and the hold allows). */
void engine_update_events(struct engine *e);
/** Whole numbers of regions/IRQ indexes the client sees. */
uint32_t engine_num_regions(const struct engine *e);
uint32_t engine_num_irqs(const struct engine *e);
uint32_t engine_dev_flags(const struct engine *e);
/** Report a message to the context's trace hook. */
void engine_trace(struct engine *e, enum vus_trace_dir dir,
		  const struct wire_hdr *h, unsigned int nfds);

/* Handlers (one file per family). */
int handle_version(struct engine *e, struct msg *m, struct reply *r);
int handle_device_get_info(struct engine *e, struct msg *m, struct reply *r);
int handle_device_get_region_info(struct engine *e, struct msg *m,
				  struct reply *r);
int handle_device_get_region_io_fds(struct engine *e, struct msg *m,
				    struct reply *r);
int handle_device_get_irq_info(struct engine *e, struct msg *m,
			       struct reply *r);
int handle_device_set_irqs(struct engine *e, struct msg *m, struct reply *r);
int handle_region_read(struct engine *e, struct msg *m, struct reply *r);
int handle_region_write(struct engine *e, struct msg *m, struct reply *r);
int handle_region_write_multi(struct engine *e, struct msg *m,
			      struct reply *r);
int handle_device_reset(struct engine *e, struct msg *m, struct reply *r);
int handle_dma_map(struct engine *e, struct msg *m, struct reply *r);
int handle_dma_unmap(struct engine *e, struct msg *m, struct reply *r);
int dma_unmap_check(struct engine *e, const struct msg *m);

/** Drop the client (engine.c's disconnect, for the kept-connection code). */
void engine_drop(struct engine *e, int why);

/* engine_dma.c */
/** Queue @m to be handled before the next message is received. */
int engine_defer(struct engine *e, struct msg *m);

/*
 * engine_kept.c: crash recovery on a kept connection (no-ops otherwise).
 * finish: commit what the message changed with its journal (@rh NULL:
 * no reply), then take it out of the socket; -EPROTO when the socket
 * lost it. sending/sent: right before and after writing the reply (or
 * what is left of it). attached/detached: the connection enters or leaves
 * the fd store.
 */
int engine_kept_finish(struct engine *e, uint32_t changes, struct msg *m,
		       const struct wire_hdr *rh, const struct iovec *iov,
		       int iovcnt, unsigned int nfds);
/**
 * A command that may carry fds (@max_fds > 0): its fds come only by
 * taking it out of the socket, which is journaled first. 0 or -EPROTO.
 */
int engine_kept_take_fds(struct engine *e, uint32_t max_fds, struct msg *m);
/** A message that gets no answer (a stray reply): out of the socket. */
int engine_kept_drop(struct engine *e, struct msg *m);
void engine_kept_sending(struct engine *e);
void engine_kept_sent(struct engine *e);
int engine_kept_attached(struct engine *e);
void engine_kept_detached(struct engine *e, int why);

/* engine_mig.c: the migration commands. */
/** Whether DEVICE_FEATURE @m changes the device's state or logging. */
bool engine_mig_needs_quiesce(const struct msg *m);
int handle_device_feature(struct engine *e, struct msg *m, struct reply *r);
int handle_mig_data_read(struct engine *e, struct msg *m, struct reply *r);
int handle_mig_data_write(struct engine *e, struct msg *m, struct reply *r);

/* engine_dma.c: server-to-client DMA through messages (dma_msg_fn). */
int engine_dma_msg(void *opaque, bool write, uint64_t addr, void *buf,
		   size_t len);

#endif /* VUS_ENGINE_PRIV_H */
