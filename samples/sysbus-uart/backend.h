/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: the far end of the UART's serial line. One of
 *
 *   stdio              stdin/stdout (a terminal is put in raw mode, with
 *                      ISIG kept so Ctrl-C still stops the server, and
 *                      restored on close)
 *   pty                a new pseudo-terminal; its slave path is printed on
 *                      stderr ("pty: /dev/pts/N")
 *   unix:PATH          a UNIX stream socket we connect to
 *   unix-listen:PATH   a UNIX stream socket we listen on; one peer at a
 *                      time, the next one is accepted when it leaves
 *
 * Everything is non-blocking on the context loop, and the backend buffers
 * nothing: it reads only when the device asks for input
 * (backend_want_input) and at most what the caller can take, and writes
 * straight from the caller's FIFO, saying how much the line took. A
 * backend that cannot take output makes backend_write() return short and
 * calls the kick function once it can; the loop never waits for it.
 *
 * With no one at the other end (no peer on a socket, a peer that went
 * away, a closed stdout) output is discarded, as a UART sends into an
 * unplugged cable, so the guest never waits for nobody. A pty keeps its
 * slave open itself, so output there is held (bounded by the kernel's pty
 * buffer) until someone reads it.
 */
#ifndef UART_BACKEND_H
#define UART_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vus.h>

struct backend;

/**
 * Something may have changed: input to read, room to write, a peer came
 * or went. Called on the context thread, never from inside
 * backend_read/backend_write.
 */
typedef void backend_kick_fn(void *opaque);

struct backend_config {
	const char *spec;  /**< "stdio", "pty", "unix:PATH", "unix-listen:PATH" */
	int log_level;     /**< VUS_LOG_*: what to print on stderr */
	backend_kick_fn *kick;
	void *opaque;
};

/**
 * Open the backend and watch it on @ctx's loop. -EINVAL for an unknown
 * spec, or the errno of the system calls involved (-EADDRINUSE for a
 * listening path that is not a stale socket, -ECONNREFUSED...).
 */
int backend_open(struct backend **out, vus_ctx *ctx,
		 const struct backend_config *cfg);

/**
 * As backend_open() without opening anything: for a process that takes
 * the device over and gets the line's fds from the old one (then
 * backend_load_fds()). A unix-listen path is removed at close as if we
 * had bound it. -EINVAL for an unknown spec.
 */
int backend_prepare(struct backend **out, vus_ctx *ctx,
		    const struct backend_config *cfg);

/**
 * Hand-over: put the line's fds ("line": the pty master or the socket
 * peer, "slave": the pty's slave we hold, "listen": a unix-listen
 * socket). stdio has none: the new process uses its own. 0 or -errno.
 */
int backend_save_fds(struct backend *b, vus_handover_fds *h);

/** Take what backend_save_fds() put, into a prepared backend. 0, -errno. */
int backend_load_fds(struct backend *b, vus_handover_fds *h);

/**
 * Crash recovery: keep the line (pty, unix), a pty's slave and a
 * listener in the fd store (vus_ctx_keep_fd()); a backend prepared after
 * a crash takes them back. 0 or -errno (-ENOENT: nothing was kept).
 */
int backend_keep_fds(struct backend *b);
int backend_take_kept_fds(struct backend *b);

/** Another process uses our fds now: remove nothing at close. */
void backend_keep_path(struct backend *b);

/** Stop watching, close what the backend opened, restore the terminal. */
void backend_close(struct backend *b);

/**
 * Read at most @len bytes that have arrived; 0 when none are there now.
 * Never blocks; a peer that went away is handled inside.
 */
size_t backend_read(struct backend *b, uint8_t *buf, size_t len);

/**
 * Send @len bytes: returns how many the line took (all of them when they
 * are discarded). Fewer than @len: the line is full; the kick function
 * runs when it has room again.
 */
size_t backend_write(struct backend *b, const uint8_t *buf, size_t len);

/** Whether the device has room for input (watch for it only then). */
void backend_want_input(struct backend *b, bool want);

#endif /* UART_BACKEND_H */
