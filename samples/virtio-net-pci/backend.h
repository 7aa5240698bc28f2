/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: where frames go to and come from. Three kinds:
 *
 *  - tap: a Linux TAP interface (/dev/net/tun, IFF_TAP | IFF_NO_PI), with
 *    IFF_VNET_HDR when offloads are wanted: every frame then carries the
 *    12-byte virtio-net header (checksum and segmentation offload);
 *  - dgram: an AF_UNIX SOCK_DGRAM socket bound to a path and sending to a
 *    peer path, one Ethernet frame per datagram, no header. Two instances
 *    with swapped --bind/--peer form a link without privileges;
 *  - shm: two frame rings in shared memory with one peer, which connects
 *    to or listens at a UNIX socket path (backend_shm.h).
 *
 * All fds are non-blocking. Used by the worker thread only (after setup).
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <vus.h>

/** Size of the virtio-net header a vnet-header backend carries. */
#define BACKEND_VNET_HDR_LEN 12u

struct backend;

/**
 * Open TAP interface @name (created if missing; needs CAP_NET_ADMIN).
 * With @vnet_hdr frames carry a virtio-net header. With @multi_queue
 * (IFF_MULTI_QUEUE) the fd is one queue of the interface: open it once
 * per queue, and the kernel spreads flows over them. 0 or -errno.
 */
int backend_open_tap(const char *name, bool vnet_hdr, bool multi_queue,
		     struct backend **out);

/**
 * Attach a multi-queue TAP's queue to its interface or detach it
 * (TUNSETQUEUE): the kernel steers frames to attached queues only, and
 * a detached one polls EPOLLERR. 0, -EOPNOTSUPP (not a TAP), ioctl's errno.
 */
int backend_tap_queue(struct backend *b, bool attach);

/**
 * Open a datagram socket bound at @bind_path (NULL: unbound, send only;
 * a stale socket file is replaced) sending to @peer_path. The peer need
 * not exist yet: frames sent meanwhile are dropped. 0 or -errno.
 */
int backend_open_dgram(const char *bind_path, const char *peer_path,
		       struct backend **out);

/**
 * Open a shared-memory link listening at @path (@listen; a stale socket
 * file is replaced) or connecting to it (retried until the listener is
 * there). Frames sent while no peer is there are dropped. Not for a
 * hand-over (backend_prepare). 0 or -errno.
 */
int backend_open_shm(const char *path, bool listen, struct backend **out);

/**
 * A backend as the first two above describe it, without its fd: for a process
 * that takes the device over and gets the fd from the old one (then
 * backend_adopt()). The dgram backend's @bind_path is the old process's:
 * it is removed at close like one bound here. 0 or -errno.
 */
int backend_prepare(bool tap, bool vnet_hdr, const char *bind_path,
		    const char *peer_path, struct backend **out);

/**
 * Take @fd (taken, also on error) as the prepared backend's: a character
 * device for TAP, an AF_UNIX datagram socket otherwise (-EINVAL if not).
 */
int backend_adopt(struct backend *b, int fd);

/** The backend's fd now belongs to another process too: keep its path. */
void backend_keep_path(struct backend *b);

/** Close the fd, remove the bound path. NULL is ignored. */
void backend_close(struct backend *b);

int backend_fd(const struct backend *b);

/** Whether it is a TAP (else a datagram socket or a shm link). */
bool backend_is_tap(const struct backend *b);

/** Whether it is a shared-memory link (its fd cannot be handed over). */
bool backend_is_shm(const struct backend *b);

/** Whether frames can reach a peer: a shm link's peer is there (the
 * others: always, as far as we can tell). */
bool backend_carrier(const struct backend *b);

/**
 * The events to ask epoll for on backend_fd() when the data path waits
 * for @want (EPOLLIN: frames, EPOLLOUT: room). The same for a socket or
 * TAP; always EPOLLIN for a shm link.
 */
uint32_t backend_poll_events(const struct backend *b, uint32_t want);

/**
 * backend_fd() reported @events: what the backend is ready for
 * (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as for a socket). A shm link
 * deals with its peer's arrival, departure and kicks here.
 */
uint32_t backend_ready(struct backend *b, uint32_t events);

/**
 * The data path goes to sleep waiting for @want: a shm link asks its
 * peer to kick (and wakes its fd at once if that came meanwhile).
 * Nothing for the others, whose readiness the kernel tracks.
 */
void backend_arm(struct backend *b, uint32_t want);

/**
 * After EPOLLERR/EPOLLHUP: 0 if the error was a passing one (a socket's
 * pending error, now cleared), or -errno if the backend is gone for good
 * (a TAP interface that was deleted).
 */
int backend_take_error(struct backend *b);

/** BACKEND_VNET_HDR_LEN if frames carry a virtio-net header, else 0. */
size_t backend_hdr_len(const struct backend *b);

/* Offloads the guest accepts (TUN_F_* of linux/if_tun.h). */
#define BACKEND_OFF_CSUM 0x01u
#define BACKEND_OFF_TSO4 0x02u
#define BACKEND_OFF_TSO6 0x04u
#define BACKEND_OFF_TSO_ECN 0x08u

/**
 * Tell a vnet-header backend which offloads it may use towards the guest
 * (only what the guest negotiated). 0, -EOPNOTSUPP (no vnet header), or
 * ioctl's errno.
 */
int backend_set_offloads(struct backend *b, unsigned int offloads);

/**
 * Send frames @msgs[0, n) in order, each gathered from its msg_hdr.msg_iov
 * (msg_name, msg_control and msg_flags zero), with as few system calls as
 * the backend allows: one sendmmsg() for a datagram socket (a confined
 * one, which may not sendmmsg, and a TAP: one writev per frame). Returns
 * how many were dealt with, in order, before the backend filled up (the
 * rest: wait for EPOLLOUT and send them again); of those, msgs[i].msg_len
 * is non-zero for a frame sent and 0 for one dropped (no peer, too large,
 * refused).
 */
unsigned int backend_send_batch(struct backend *b, struct mmsghdr *msgs,
				unsigned int n);

/**
 * Receive up to @n frames (with header for a vnet-header backend), frame
 * i into msgs[i].msg_hdr's msg_iov (msg_iovlen 1; msg_name and
 * msg_control NULL): one recvmmsg() for a datagram socket, one read per
 * frame for a TAP. Returns how many arrived (1..n), -EAGAIN when none,
 * another -errno on error. msgs[i].msg_len is the frame's real length:
 * one longer than its buffer was cut short and must be dropped.
 */
int backend_recv_batch(struct backend *b, struct mmsghdr *msgs, unsigned int n);

/**
 * Add to @sb what this backend needs once confined, and no more: a TAP
 * only its offload and queue (TUNSETQUEUE) ioctls on its own fd; a datagram socket connect() to
 * its peer (or AF_UNSPEC) and nothing else, getsockopt(SO_ERROR) and
 * recv on its fd, and sendmsg() refused on it (frames leave with
 * writev() on the connected socket). Read/readv/writev are the caller's
 * to allow; recvmmsg on its fd; sendmmsg refused on it like sendmsg (a
 * confined datagram link sends one writev per frame). 0 or the errno of
 * vus_sandbox_*().
 */
int backend_sandbox(const struct backend *b, vus_sandbox *sb);

#endif /* BACKEND_H */
