/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_priv: the client connection's state and the helpers its files
 * share (client.c: connection, negotiation, request/reply matching and
 * waiting; client_region.c, client_irq.c, client_dma.c, client_mig.c,
 * client_sysbus.c: the command families; raw/client_raw.c: the test-only
 * raw access). Nothing outside client/ includes this.
 *
 * Every request goes through client_call(): it sends under the next message
 * id and pumps the socket until the reply with that id arrives, serving the
 * server's own requests (DMA_READ/DMA_WRITE) meanwhile and dropping stray
 * replies. The reply it returns still lives in the transport's buffer:
 * callers check it, copy what they need and msg_release() it before the
 * next call.
 */
#ifndef VUS_CLIENT_PRIV_H
#define VUS_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "transport.h"
#include "vus/client.h"
#include "wire.h"

/* Most fds per message we accept: the raw reply has room for 16. */
#define CLIENT_MAX_FDS 16u
#define CLIENT_DEFAULT_FDS 16u
#define CLIENT_DEFAULT_TIMEOUT_MS 5000
/* Deadline meaning "wait forever". */
#define CLIENT_FOREVER UINT64_MAX

/* One DMA mapping we granted. */
struct client_map {
	uint64_t addr;
	uint64_t last;   /* inclusive: a mapping may end at 2^64 */
	uint32_t prot;   /* VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE */
	uint8_t *mem;    /* the byte at @addr in our address space */
	void *map;       /* what we mmap'd (memfd, a caller's fd), or NULL */
	size_t map_len;  /* and its length, munmap'd with the mapping */
};

/* Eventfds made by vus_client_irq_enable() for one index. */
struct client_irq {
	uint32_t index;
	uint32_t count;
	int *fds; /* ours; the server holds its own copies */
};

/* What the server announced (caps_defaults() until negotiated). */
struct client_server {
	uint16_t major;
	uint16_t minor;
	uint32_t max_msg_fds;    /* fds we may send per message */
	uint32_t max_xfer;       /* largest data transfer it accepts */
	uint64_t pgsizes;
	uint64_t max_dma_maps;
	bool write_multiple;
};

struct vus_client {
	struct transport *t;
	/* Our limits: what we accept from the server. */
	uint32_t max_xfer;
	uint32_t max_fds;
	int timeout_ms;
	uint16_t next_id;
	bool dead;       /* the connection is gone: everything -ENOTCONN */
	bool negotiated;
	struct client_server srv;
	/* DMA mappings, sorted by address, not overlapping. */
	struct client_map *maps;
	uint32_t nr_maps;
	uint32_t cap_maps;
	/* Indexes enabled with vus_client_irq_enable(). */
	struct client_irq *irqs;
	unsigned int nr_irqs;
};

/* A request to send: payload in up to two pieces, fds borrowed. */
struct client_req {
	uint16_t cmd;
	uint32_t flags; /* header flags: WIRE_F_NO_REPLY, or raw bits */
	struct iovec iov[2];
	int iovcnt;
	const int *fds;
	unsigned int nfds;
};

/* client.c */

/**
 * vus_client_attach_fd() / vus_client_connect(), sending VERSION only with
 * @negotiate (the raw test API connects without).
 */
int client_attach(int fd, const struct vus_client_config *cfg,
		  bool negotiate, vus_client **out);
int client_connect(const char *path, const struct vus_client_config *cfg,
		   bool negotiate, vus_client **out);

/**
 * Send VERSION proposing @major.@minor with our own capabilities (@build),
 * or @json as given (NULL: none), and record the server's answer.
 * -EALREADY if negotiated, -E2BIG, or the errors of vus_client_connect().
 */
int client_negotiate(vus_client *c, uint16_t major, uint16_t minor,
		     const char *json, bool build);

/** Absolute deadline @timeout_ms from now; negative: CLIENT_FOREVER. */
uint64_t client_deadline_in(int timeout_ms);

/** The deadline for one reply: the configured timeout from now. */
uint64_t client_deadline(const vus_client *c);

/** Mark the connection gone; returns -ENOTCONN for the caller to pass on. */
int client_broken(vus_client *c);

/**
 * Wait until the socket has input (or room for queued output), or @extra
 * (if >= 0) is readable, or @deadline passes. Returns 1 for @extra, 0 for
 * the socket, -ETIMEDOUT, -errno of poll.
 */
int client_poll(vus_client *c, int extra, uint64_t deadline);

/** Write queued output until none is left: 0, -ETIMEDOUT, -ENOTCONN. */
int client_flush_all(vus_client *c, uint64_t deadline);

/**
 * Receive the next whole message without waiting: 0 (*m valid until the
 * next receive), -EAGAIN, -ENOTCONN (framing broken or peer gone).
 */
int client_recv_one(vus_client *c, struct msg *m);

/**
 * Deal with a message nobody waits for: serve a server request (returns
 * 1), drop anything else (0). Releases @m.
 */
int client_dispatch(vus_client *c, struct msg *m);

/**
 * Send @rq under the next message id and, unless it is NO_REPLY, wait for
 * its reply, serving server requests meanwhile. Returns 0 with *reply set
 * (an error reply included; the caller releases it), -ETIMEDOUT,
 * -ENOTCONN, -ENOMEM, or -EPROTO for a reply the transport had to refuse
 * (too large, too many fds) or one that names another command.
 */
int client_call(vus_client *c, const struct client_req *rq,
		struct msg *reply);

/**
 * client_call() plus the checks every typed command makes: an error reply
 * becomes its -errno, and a payload outside [min_len, max_len] or more
 * than @max_fds fds is -EPROTO. On failure the reply is released.
 */
int client_call_checked(vus_client *c, const struct client_req *rq,
			uint32_t min_len, uint32_t max_len,
			unsigned int max_fds, struct msg *reply);

/**
 * A request whose reply has the request's own fixed layout and size
 * (DEVICE_GET_INFO, DEVICE_GET_IRQ_INFO): send @len bytes from @req_out,
 * and on success overwrite them with the reply. Errors as
 * client_call_checked().
 */
int client_call_fixed(vus_client *c, uint16_t cmd, void *req_out, size_t len);

/** The errno an error reply carries, as -errno (-EPROTO if out of range). */
int client_reply_errno(const struct msg *m);

/* client_dma.c */

/** Serve a DMA_READ/DMA_WRITE request (or refuse another request). */
void client_serve_request(vus_client *c, struct msg *m);

/** Forget every mapping, unmapping the memfd ones (on close). */
void client_dma_release(vus_client *c);

/* client_irq.c */

/** Close every eventfd made by vus_client_irq_enable() (on close). */
void client_irq_release(vus_client *c);

#endif /* VUS_CLIENT_PRIV_H */
