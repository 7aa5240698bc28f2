/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tserver: a real libvus server on its own thread, and a raw peer that
 * speaks bytes to it over a socketpair. Server-side tests use these to send
 * exactly the messages they mean, well-formed or not.
 */
#ifndef TSERVER_H
#define TSERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vus.h"
#include "wire.h"

/* A tiny SysBus-style device: region 0 is 4 KiB of callback registers,
 * region 1 is 64 KiB of memory with sparse mmap areas, region 2 is 2 MiB of
 * plain memory; IRQ index 0 has one level line (maskable, automasked),
 * index 1 has four edge vectors. */
struct tdev {
	uint8_t regs[4096];
	unsigned int reads, writes, resets;
	enum vus_reset_reason last_reset;
	unsigned int disconnect_resets; /* resets with VUS_RESET_DISCONNECT */
	unsigned int maps, unmaps;
	bool quiesce_busy;     /* answer quiesce with -EBUSY */
	unsigned int quiesces, resumes;
	unsigned int connects;       /* the connected() callback */
	unsigned int client_losts;   /* the client_lost() callback */
	unsigned int early_accesses; /* region accesses before connected() */
	int (*write_hook)(struct tdev *d, uint64_t off, const void *buf,
			  size_t len);
	void (*lost_hook)(struct tdev *d); /* runs in client_lost() */
	vus_ctx *ctx;
	int ioev_fd;           /* doorbell at region 0 offset 0x100 */
};

struct tserver {
	vus_ctx *ctx;
	struct tdev dev;
	pthread_t thread;
	int run_ret;
	bool running;
	int peer;       /* our end of the socketpair */
	uint16_t next_id;
};

/* Options for tserver_start(). */
struct tserver_opts {
	uint32_t max_xfer;  /* 0: default */
	uint32_t max_fds;   /* 0: default */
	uint32_t max_dma_maps;
	bool with_quiesce;  /* register quiesce/resume callbacks */
	bool no_negotiate;  /* leave VERSION to the test */
	const char *listen_path; /* serve a listening socket, not a socketpair */
	int listen_fd;      /* >= 0: serve this listening socket instead */
	bool no_thread;     /* the test drives vus_ctx_run_once itself */
	/* More doorbells on region 0: 4 bytes each from 0x400, one eventfd. */
	unsigned int extra_doorbells;
	bool with_migration; /* vus_mig_setup(), one 8-byte section */
	bool migrate_mem;    /* region 1's memory migrates ("regions") */
	uint32_t compat;     /* its compatibility version; 0: 1 */
	/* Realize only: a new process that will take a device over. */
	bool no_serve;
	const struct vus_handover_ops *handover_ops; /* opaque: &dev */
	bool reset_on_disconnect; /* VUS_CTX_RESET_ON_DISCONNECT */
	vus_log_fn *log_fn;  /* NULL: silenced */
	int log_level;       /* with log_fn */
	void *log_opaque;
};

void tserver_start(struct tserver *s, const struct tserver_opts *o);
/** Stop the thread (if running), destroy the context, close the peer. */
void tserver_stop(struct tserver *s);
/** Wait for the server thread to end by itself; returns its result. */
int tserver_join(struct tserver *s);

/** Stop the server thread (vus_ctx_stop), so the test may use the context. */
void tserver_pause(struct tserver *s);
/** Serve on a (new) thread again. */
void tserver_resume(struct tserver *s);

/** Connect the raw peer to the listening path (and negotiate unless told). */
void peer_connect(struct tserver *s, const char *path, bool negotiate);

/* Raw peer. */
/** Wait until the server has read everything the peer sent. */
void peer_wait_taken(struct tserver *s);
void peer_send_raw(struct tserver *s, const void *buf, size_t len,
		   const int *fds, unsigned int nfds);
uint16_t peer_send(struct tserver *s, uint16_t cmd, uint32_t flags,
		   const void *payload, size_t len, const int *fds,
		   unsigned int nfds);

struct peer_msg {
	struct wire_hdr hdr;
	uint8_t payload[(1u << 20) + 64];
	uint32_t len;
	int fds[16];
	unsigned int nfds;
};

/** Receive one whole message; -ETIMEDOUT (nothing for vtest_ms(@timeout_ms)),
 * or -EPIPE on EOF. */
int peer_recv(struct tserver *s, struct peer_msg *m, int timeout_ms);
/** Whether the server closed the connection within vtest_ms(@timeout_ms):
 * EOF, or ECONNRESET when it left bytes of ours unread. */
bool peer_eof(struct tserver *s, int timeout_ms);
void peer_msg_close_fds(struct peer_msg *m);

/**
 * Send a command and receive its reply (asserting id and cmd match);
 * returns the reply's errno negated, or 0. @m receives the reply.
 */
int peer_call(struct tserver *s, uint16_t cmd, const void *payload, size_t len,
	      const int *fds, unsigned int nfds, struct peer_msg *m);
void peer_negotiate(struct tserver *s);

/**
 * REGION_WRITE @len bytes of @buf (at most 64), or REGION_READ them into
 * @buf (asserting the reply's size), at @off of @region. Returns
 * peer_call()'s result; @m receives the reply.
 */
int peer_region_rw(struct tserver *s, uint32_t region, uint64_t off,
		   void *buf, uint32_t len, bool write, struct peer_msg *m);

#endif /* TSERVER_H */
