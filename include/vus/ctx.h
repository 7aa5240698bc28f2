/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus device context: one emulated device served to one vfio-user client
 * at a time over a UNIX socket.
 *
 * Lifecycle: vus_ctx_create() -> describe the device (regions, interrupts,
 * or a bus adapter such as vus_pci_*) -> vus_ctx_realize() -> vus_ctx_listen()
 * (or _listen_fd / _attach_fd) -> vus_ctx_run() or vus_ctx_run_once() from
 * your own event loop -> vus_ctx_destroy().
 *
 * Errors: every function that can fail returns 0 (or a non-negative count)
 * on success and a negative errno on failure.
 *
 * Threads: the library starts none. Device callbacks run on the thread that
 * calls vus_ctx_run()/vus_ctx_run_once(). Functions marked "thread-safe" may
 * be called from any thread; all others only from that thread.
 *
 * Callbacks: every device callback (region, config space, device ops, fd
 * handlers, interrupt binding changes, migration sections and state) gets
 * the context it belongs to as its first argument and its opaque pointer
 * as its second, so a callback can raise interrupts, reach DMA or log
 * without keeping the context itself. The log and trace sinks are not
 * device callbacks (they may run on any thread that logs, and one sink may
 * serve several contexts): they get their opaque pointer only.
 */
#ifndef VUS_CTX_H
#define VUS_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque device context. */
typedef struct vus_ctx vus_ctx;

/** Log levels, with syslog's values. */
enum vus_log_level {
	VUS_LOG_OFF = -1, /**< as a threshold: no message passes */
	VUS_LOG_ERR = 3,
	VUS_LOG_WARNING = 4,
	VUS_LOG_NOTICE = 5,
	VUS_LOG_INFO = 6,
	VUS_LOG_DEBUG = 7,
};

/**
 * Log sink. @msg has no trailing newline and is only valid during the call.
 * Errors caused by the client are logged at VUS_LOG_DEBUG or rate-limited.
 */
typedef void vus_log_fn(void *opaque, int level, const char *msg);

/** The bus model the device presents to the client. */
enum vus_bus {
	VUS_BUS_PCI = 1,    /**< vfio-pci model: set up with vus_pci_*() */
	VUS_BUS_SYSBUS = 2, /**< platform device: MMIO windows and IRQ lines */
};

/** Context creation parameters. Zero-initialise, then set what you need. */
struct vus_ctx_config {
	/** sizeof(struct vus_ctx_config); lets the struct grow compatibly. */
	size_t struct_size;
	enum vus_bus bus;
	/** Name used in log lines; copied. NULL: "vus". */
	const char *name;
	/** Passed to every device callback unless a callback has its own. */
	void *opaque;
	/**
	 * Largest data transfer (REGION_READ/WRITE count) accepted from the
	 * client. 0 selects 1 MiB. Range 4 KiB .. 64 MiB.
	 */
	uint32_t max_data_xfer_size;
	/** Most fds accepted in one message. 0 selects 16. Range 1 .. 253. */
	uint32_t max_msg_fds;
	/**
	 * Most DMA mappings at the same time. Range 1 .. 65535 (the most QEMU
	 * accepts a server to announce). 0 selects a default from the
	 * kernel's per-process mapping limit (vm.max_map_count, read at
	 * create): half of what it leaves after 4096 for the process's own
	 * mappings, 30717 with the usual 65530, so that a client filling its
	 * maps leaves room for the process and for a second context; 65535
	 * at most, 1024 if the limit cannot be read.
	 */
	uint32_t max_dma_maps;
	/** VUS_CTX_* flags. */
	uint32_t flags;
};

/**
 * Reset the device when its client goes away (bus state, then the
 * device's reset callback with VUS_RESET_DISCONNECT), as libvus did before
 * device state persisted. Without it the device keeps its state for the
 * next client (see vus_device_ops.client_lost).
 */
#define VUS_CTX_RESET_ON_DISCONNECT 0x1u

/**
 * Reach all client memory with DMA_READ/DMA_WRITE messages, also where the
 * client's DMA_MAP brings an fd (the fd is closed unused). For VMM
 * developers exercising their client's message path, and for clients
 * whose fds should not be mapped. Every mapping is then message-only:
 * vus_dma_region.vaddr is NULL, vus_dma_sg() and the untorn accessors
 * return -EOPNOTSUPP, and vus_dma_read()/vus_dma_write() work on the
 * context thread only (see include/vus/dma.h).
 */
#define VUS_CTX_DMA_MESSAGES 0x2u

/**
 * Create a context. On success *out owns a new context; free it with
 * vus_ctx_destroy(). Returns -EINVAL for a bad config (unknown bus, a limit
 * out of range, an unknown flag, struct_size larger than this library
 * knows), -ENOMEM.
 */
int vus_ctx_create(const struct vus_ctx_config *cfg, vus_ctx **out);

/**
 * Destroy a context: disconnects the client (unmapping its memory and
 * closing its eventfds; client_lost, or the reset with
 * VUS_CTX_RESET_ON_DISCONNECT, runs as for any disconnect), closes the
 * listening socket and removes the socket path if vus_ctx_listen() created
 * it. NULL is ignored.
 */
void vus_ctx_destroy(vus_ctx *ctx);

/** The opaque pointer given in the config. */
void *vus_ctx_opaque(const vus_ctx *ctx);

/**
 * Route log messages at or above @level (VUS_LOG_*) to @fn, which may run
 * on any thread that logs (e.g. a device thread in vus_dma_*()). @fn NULL
 * keeps the default sink, one line per message on stderr, at @level (the
 * default is VUS_LOG_WARNING). To silence the context, pass VUS_LOG_OFF.
 */
void vus_ctx_set_log(vus_ctx *ctx, int level, vus_log_fn *fn, void *opaque);

/** Direction of a traced message. */
enum vus_trace_dir { VUS_TRACE_RX = 0, VUS_TRACE_TX = 1 };

/** One protocol message, as seen by the trace hook. */
struct vus_trace_event {
	enum vus_trace_dir dir;
	uint16_t msg_id;
	uint16_t cmd;       /**< vfio-user command number */
	uint32_t flags;     /**< header flags */
	uint32_t size;      /**< whole message including the 16-byte header */
	uint32_t nr_fds;
	int error;          /**< errno of an error reply; 0 otherwise */
};

/**
 * Observe every message received and sent (tests, tools). @fn runs on the
 * context thread; NULL removes the hook.
 */
typedef void vus_trace_fn(void *opaque, const struct vus_trace_event *ev);
void vus_ctx_set_trace(vus_ctx *ctx, vus_trace_fn *fn, void *opaque);

/** Why a device is being reset. */
enum vus_reset_reason {
	VUS_RESET_CLIENT = 1,     /**< the client asked (DEVICE_RESET) */
	/** the client went away (only with VUS_CTX_RESET_ON_DISCONNECT) */
	VUS_RESET_DISCONNECT = 2,
	VUS_RESET_BUS = 3,        /**< bus-level reset, e.g. PCI function-level */
};

struct vus_dma_region;

/**
 * Device-wide callbacks. Every member may be NULL. All run on the context
 * thread with the ops opaque (or the context's opaque when NULL).
 */
struct vus_device_ops {
	size_t struct_size; /**< sizeof(struct vus_device_ops) */
	/**
	 * Return to power-on state. Runs while quiesced. The library has
	 * already reset what it emulates (config space, MSI-X table). Return
	 * 0 or -errno (reported to the client; the device stays usable).
	 */
	int (*reset)(vus_ctx *ctx, void *opaque, enum vus_reset_reason why);
	/**
	 * Stop using DMA memory and raising interrupts from other threads.
	 * Return 0 when done, or -EBUSY and call vus_ctx_quiesced() later;
	 * the library holds further client messages until then. A device
	 * without threads need not set this.
	 */
	int (*quiesce)(vus_ctx *ctx, void *opaque);
	/** The operation that needed the quiesce is done; carry on. */
	void (*resume)(vus_ctx *ctx, void *opaque);
	/** The client mapped memory for DMA (already usable). */
	void (*dma_map)(vus_ctx *ctx, void *opaque,
			const struct vus_dma_region *r);
	/** The client is unmapping memory; runs quiesced, before munmap. */
	void (*dma_unmap)(vus_ctx *ctx, void *opaque,
			  const struct vus_dma_region *r);
	/**
	 * A client finished VERSION negotiation; after client_lost this is
	 * the client coming back. Its DMA mappings (dma_map) and interrupt
	 * eventfds follow in later messages.
	 */
	void (*connected)(vus_ctx *ctx, void *opaque);
	/**
	 * The client went away and the device keeps its state (the default;
	 * see VUS_CTX_RESET_ON_DISCONNECT). Runs quiesced, after every DMA
	 * mapping was removed (dma_unmap ran for each) and the client's
	 * eventfds were closed; config space, MSI-X table and pending bits,
	 * interrupt masks, pending vectors and levels, region memory and the
	 * device's own registers all stay. Stop using DMA and park until a
	 * client is back (connected, then its dma_map calls): resume runs
	 * after this callback, but there is no guest memory to use. An
	 * interrupt raised meanwhile stays pending and fires when the next
	 * client binds an eventfd to it. A new VM sends DEVICE_RESET when it
	 * starts, so it still finds a power-on device.
	 */
	void (*client_lost)(vus_ctx *ctx, void *opaque);
};

/**
 * Set the device callbacks (copied). Only before vus_ctx_realize().
 * @opaque NULL means the context's opaque. -EINVAL, -EBUSY after realize.
 */
int vus_ctx_set_device_ops(vus_ctx *ctx, const struct vus_device_ops *ops,
			   void *opaque);

/**
 * Confirm a quiesce that was answered -EBUSY. Thread-safe and
 * async-signal-safe.
 */
void vus_ctx_quiesced(vus_ctx *ctx);

/**
 * Freeze the configuration and check it as a whole (region sizes, interrupt
 * layout, bus rules). After this, serve with listen/attach. -EINVAL with a
 * log line naming the problem; -EBUSY if already realized.
 */
int vus_ctx_realize(vus_ctx *ctx);

/**
 * Create a listening UNIX socket at @path. A stale socket file nobody
 * listens on is replaced; a live one gives -EADDRINUSE. The path is removed
 * by vus_ctx_destroy(). Needs a realized context (-EINVAL otherwise).
 */
int vus_ctx_listen(vus_ctx *ctx, const char *path);

/**
 * Serve clients accepted on an already listening socket, e.g. from systemd
 * socket activation. Takes ownership of @fd (closed by destroy, also on
 * error). -ENOTSOCK, -EINVAL if it is not a listening AF_UNIX stream socket.
 */
int vus_ctx_listen_fd(vus_ctx *ctx, int fd);

/**
 * Serve one client on an already connected AF_UNIX stream socket (e.g. one
 * end of a socketpair). Takes ownership of @fd (also on error). -EBUSY if a
 * client is connected.
 */
int vus_ctx_attach_fd(vus_ctx *ctx, int fd);

/**
 * A file descriptor that becomes readable when vus_ctx_run_once() has work
 * to do: add it to your poll/epoll loop. Valid until destroy.
 */
int vus_ctx_get_poll_fd(const vus_ctx *ctx);

/**
 * Handle whatever is ready: new connections, client messages, unmask
 * eventfds, device fd handlers. Waits at most @timeout_ms for work
 * (0: do not wait, -1: wait forever); never blocks inside a handler.
 * Returns the number of events handled (>= 0), or -ENOTCONN once the client
 * has gone and there is no listening socket, or another -errno on a fatal
 * error. A misbehaving client is disconnected, not reported as an error.
 */
int vus_ctx_run_once(vus_ctx *ctx, int timeout_ms);

/**
 * Serve until vus_ctx_stop() (returns 0) or until the client has gone with
 * nothing listening (-ENOTCONN), or a fatal error (-errno).
 */
int vus_ctx_run(vus_ctx *ctx);

/** Make vus_ctx_run() return. Thread-safe and async-signal-safe. */
void vus_ctx_stop(vus_ctx *ctx);

/** Whether a client is connected (negotiated or not). */
bool vus_ctx_has_client(const vus_ctx *ctx);

/** Callback for a device fd watched by the context loop. */
typedef void vus_fd_fn(vus_ctx *ctx, void *opaque, int fd, uint32_t events);

/**
 * Watch @fd in the context's loop; @fn runs on the context thread when any
 * of @events (EPOLLIN, EPOLLOUT, ...) is ready. The caller keeps ownership
 * of @fd and must vus_ctx_del_fd() it before closing it. -EEXIST if watched.
 */
int vus_ctx_add_fd(vus_ctx *ctx, int fd, uint32_t events, vus_fd_fn *fn,
		   void *opaque);

/**
 * Change the events watched for @fd (0: none for now, e.g. while a buffer
 * is full). -ENOENT if it is not watched.
 */
int vus_ctx_mod_fd(vus_ctx *ctx, int fd, uint32_t events);

/** Stop watching @fd. -ENOENT if it was not watched. */
int vus_ctx_del_fd(vus_ctx *ctx, int fd);

/** Library version string, e.g. "0.1.0". */
const char *vus_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VUS_CTX_H */
