/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho (internal): the hand-over of a running device to a new process.
 *
 *   ho_stream.c  the stream (mig_stream framing, magic "VUSHOV\0\1") and
 *                its fd table: every fd has a kind the receiver checks
 *   ho_state.c   the library's state as records: listener, connection,
 *                DMA, interrupts, region memory, the device's fds and
 *                sections; saved in the old process, checked then
 *                installed in the new one
 *   ho_chan.c    the channel's messages (vfio-user framing, own numbers)
 *   ho_serve.c   the old side, a state machine in the context's loop
 *   ho_take.c    the new side, blocking, before the context serves
 *
 * Channel (N = new process, O = old):
 *   N: HELLO {protocol}            O: INFO {protocol, compat, identity,
 *                                           config} or ABORT
 *   N: START (same device) or ABORT (O carries on)
 *   O: stops the device at a message boundary, saves;
 *      DATA* {stream bytes, <= 253 fds each}, END {bytes, fds}
 *   N: checks and loads; READY, or ABORT {errno, why} (O resumes)
 *   O: committed once it has read READY: ACK, then it stops for good.
 *   N: serves after ACK, or after EOF with no ABORT (O died after it had
 *      sent everything); an ABORT from O (its timeout) means O resumed.
 */
#ifndef VUS_HO_H
#define VUS_HO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "engine.h"
#include "mig_stream.h"
#include "transport.h"
#include "vus/handover.h"
#include "vus/migration.h"

#define HO_PROTOCOL 1u
#define HO_STREAM_MAGIC "VUSHOV\0\1"
#define HO_STREAM_FORMAT 1u
/* Channel messages: payload bytes per DATA, fds per message. */
#define HO_CHUNK (256u << 10)
#define HO_MAX_MSG (WIRE_HDR_SIZE + HO_CHUNK + 64u * 1024u)
#define HO_MAX_FDS_PER_MSG SCM_FDS_MAX
/* What a receiver accepts in all. */
#define HO_MAX_STREAM (256ull << 20)
#define HO_MAX_FDS 65536u
#define HO_WHY_MAX 640u
#define HO_CONFIG_MAX (64u << 10)
#define HO_DEV_FDS_MAX 64u
#define HO_DEFAULT_TIMEOUT_MS 10000u

/* Channel message numbers (the header's cmd field). */
enum ho_msg {
	HO_MSG_HELLO = 1,
	HO_MSG_INFO = 2,
	HO_MSG_START = 3,
	HO_MSG_DATA = 4,
	HO_MSG_END = 5,
	HO_MSG_READY = 6,
	HO_MSG_ACK = 7,
	HO_MSG_ABORT = 8,
};

/* Kinds of fds in the stream: the library's, then the device's. */
enum ho_fd_kind {
	HO_FD_LISTEN = 0x10,  /* listening AF_UNIX stream socket */
	HO_FD_CONN = 0x11,    /* connected AF_UNIX stream socket */
	HO_FD_EVENTFD = 0x12,
	HO_FD_MEM = 0x13,     /* regular file or memfd, mmap-able */
	/* enum vus_fd_kind values 0..5 for the device's own fds */
};

/** The device's identity and compatibility version, as in its streams. */
void ho_identity(vus_ctx *ctx, char *buf, size_t len, uint32_t *compat);

/** Whether @fd is of @kind (ho_fd_kind or vus_fd_kind). 0 or -EBADMSG. */
int ho_fd_check(int fd, uint8_t kind);
const char *ho_fd_kind_name(uint8_t kind);

/* The stream as the old process builds it. Fds are borrowed: they must
 * stay open until sent. */
struct ho_out {
	struct mig_buf b;
	int *fds;
	uint8_t *kinds;
	uint32_t nfds;
	uint32_t cap;
};

void ho_out_init(struct ho_out *o);
void ho_out_free(struct ho_out *o);
/** Add @fd of @kind to the table; *idx is its number in the stream. */
int ho_out_fd(struct ho_out *o, int fd, uint8_t kind, uint32_t *idx);
/** Header with the device's identity and compatibility version. */
int ho_out_begin(struct ho_out *o, const char *identity, uint32_t compat);
/** Close the stream: the fd table record and the end record. */
int ho_out_end(struct ho_out *o);

/* The stream as the new process received it. Fds are owned until taken. */
struct ho_in {
	uint8_t *p;
	size_t len;
	int *fds;
	uint32_t nfds;
	uint8_t *kinds;      /* from the stream's fd table, checked */
	struct mig_parsed pp;
	bool parsed;
	char why[HO_WHY_MAX];
};

void ho_in_init(struct ho_in *in);
/** Close untaken fds, free. */
void ho_in_free(struct ho_in *in);
/**
 * Everything arrived: parse (format, CRC), check the fd table against the
 * fds received and each fd's kind. 0 or -errno with in->why set.
 */
int ho_in_check(struct ho_in *in);
/**
 * The data of record @name (exactly one; version 1): 0 and *data, *len,
 * or -EBADMSG (missing, duplicated, another version).
 */
int ho_in_record(struct ho_in *in, const char *name, vus_mig_in *rec);
/**
 * Take fd @idx, which the table says is of @kind: the caller owns it.
 * -EBADMSG (no such fd, another kind, taken already).
 */
int ho_in_take_fd(struct ho_in *in, uint32_t idx, uint8_t kind, int *fd);

/* A fd reference in a record: its index, or HO_NO_FD. */
#define HO_NO_FD 0xffffffffu

/*
 * Fault injection (tests only): called at each step of the protocol with
 * its name ("old.start", "new.data"...); a test sets it to kill the
 * process there. NULL in every program.
 */
extern void (*ho_fault_hook)(const char *step);

static inline void ho_fault(const char *step)
{
	if (ho_fault_hook != NULL)
		ho_fault_hook(step);
}

/* Channel (ho_chan.c). */

/** Send a message (@fds borrowed). 0 or -errno. */
int ho_send(struct transport *t, enum ho_msg kind, const void *p, size_t len,
	    const int *fds, unsigned int nfds);
/** ABORT with @err (positive or negative errno) and a reason. */
int ho_send_abort(struct transport *t, int err, const char *why);
/** A transport for the channel over connected @fd (taken). */
int ho_chan_open(int fd, struct transport **out);
/**
 * Blocking receive with a deadline (CLOCK_MONOTONIC ms): 0 with a whole
 * message, -ETIMEDOUT, -ECONNRESET at EOF, or the transport's -errno.
 * Flushes pending output meanwhile.
 */
int ho_recv_wait(struct transport *t, struct msg *m, uint64_t deadline_ms);
/** Write everything queued, waiting until @deadline_ms. */
int ho_flush_wait(struct transport *t, uint64_t deadline_ms);
/** The reason text of an ABORT message, NUL-terminated into @buf. */
void ho_abort_why(const struct msg *m, char *buf, size_t len);

/* The device's own fds (ho_state.c). */
struct vus_handover_fds {
	char name[HO_DEV_FDS_MAX][64];
	int fd[HO_DEV_FDS_MAX];
	uint8_t kind[HO_DEV_FDS_MAX];
	unsigned int n;
};

/* State (ho_state.c). */

/**
 * Old process, device stopped and the engine at a message boundary:
 * write the whole stream: the context, the connection, DMA, region
 * memory, interrupts, the device's fds, its sections (@mig: the
 * migration stream, @mig_len bytes). @devfds is filled by the device and
 * must live until the stream is sent. 0 or -errno with @why.
 */
int ho_state_save(vus_ctx *ctx, struct ho_out *o, const uint8_t *mig,
		  size_t mig_len, struct vus_handover_fds *devfds, char *why,
		  size_t why_len);

/* What the new process installs only once the old one has let go. */
struct ho_pending {
	vus_ctx *ctx;
	int listen_fd;
	char *sock_path;       /* the old process's listen() made it */
	int rpc_fd;            /* its management listener, or -1 */
	char *rpc_path;
	struct transport *conn;
	struct engine_state engine;
};

/**
 * New process: install the state of a checked stream into @ctx, in the
 * order the device needs it (client_lost first if there is no client,
 * DMA, region memory, the device's fds, the sections, interrupts). What
 * would make @ctx serve (listener, connection) goes to @pend for
 * ho_state_activate(). 0 or -errno with in->why.
 */
int ho_state_load(vus_ctx *ctx, struct ho_in *in, struct ho_pending *pend);
/** Commit: serve the listener and the connection; resume the device. */
int ho_state_activate(vus_ctx *ctx, struct ho_pending *pend);
/** Failure: close what ho_state_load kept for activation. */
void ho_pending_free(struct ho_pending *pend);

/* The old side (ho_serve.c). */

/**
 * vus_ctx_handover_serve_fd() on @fd (taken) known to be a connected
 * AF_UNIX stream socket (the management plane's: no check, so a
 * sandboxed server needs no getsockopt).
 */
int ctx_handover_serve(vus_ctx *ctx, int fd);
/** Serve a hand-over request on connected @fd (taken). -EBUSY, -errno. */
int ho_serve_start(vus_ctx *ctx, int fd);
/** After each loop turn: a hand-over waiting for quiet goes on. */
void ho_serve_poll(vus_ctx *ctx);
/** The context goes away mid-hand-over: tell the new process, free. */
void ho_serve_destroy(vus_ctx *ctx);

#endif /* VUS_HO_H */
