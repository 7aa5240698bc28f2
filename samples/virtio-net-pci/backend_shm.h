/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend_shm: the shared-memory link (backend.c's third kind). Two
 * frame rings in a sealed memfd (shm_ring.h), set up over a UNIX stream
 * socket: one side listens at a path, the other connects; the listener
 * sends the memfd with SCM_RIGHTS, and the connection stays open: it
 * says the peer is there, and carries kicks (one byte each, only to a
 * side that said it sleeps; see backend_shm.c for why not eventfds).
 *
 * Every rendezvous starts with empty rings: frames in them when a peer
 * goes away are dropped. A connector retries every SHM_RETRY_MS until
 * the listener is there. While no peer is there, frames sent are
 * dropped (counted by the device), as on an unplugged cable. A peer
 * that writes an impossible index into the map is disconnected (logged);
 * a bad frame length only loses that frame (logged).
 *
 * One fd (an epoll set of the socket, the listener, the retry timer)
 * stands for the link: it reads EPOLLIN when anything happened, and
 * shm_link_ready() says what (ring readiness as EPOLLIN / EPOLLOUT).
 * Worker thread only after open.
 */
#ifndef BACKEND_SHM_H
#define BACKEND_SHM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <vus.h>

#define SHM_RETRY_MS 100

struct shm_link;

/** Listen at @path (@listen) or connect to it. 0 or -errno. */
int shm_link_open(const char *path, bool listen, struct shm_link **out);

/** Close everything; a listener removes its path. NULL is ignored. */
void shm_link_close(struct shm_link *l);

/** The fd to watch for EPOLLIN. */
int shm_link_fd(const struct shm_link *l);

/** Whether a peer is there now. */
bool shm_link_up(const struct shm_link *l);

/**
 * Deal with what woke the fd (a peer arriving or leaving, a kick, the
 * retry timer) and say what the rings allow now: EPOLLIN if frames wait,
 * EPOLLOUT if there is room (always, with no peer: frames are dropped).
 */
uint32_t shm_link_ready(struct shm_link *l);

/**
 * The data path is about to sleep waiting for @want (EPOLLIN: frames,
 * EPOLLOUT: room): ask the peer to kick, and if what it waits for came
 * meanwhile, make the fd readable at once.
 */
void shm_link_arm(struct shm_link *l, uint32_t want);

/** backend_send_batch() on the link (same contract). */
unsigned int shm_link_send(struct shm_link *l, struct mmsghdr *msgs,
			   unsigned int n);

/** backend_recv_batch() on the link (same contract; -EPROTO once when
 * the peer broke the ring and was disconnected). */
int shm_link_recv(struct shm_link *l, struct mmsghdr *msgs, unsigned int n);

/** What the link needs confined: a connector its socket() and connect()
 * to the one path; a listener nothing beyond libvus's own. */
int shm_link_sandbox(const struct shm_link *l, vus_sandbox *sb);

#endif /* BACKEND_SHM_H */
