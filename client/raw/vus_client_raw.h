/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus_client_raw: TEST-ONLY protocol access below libvus-client's typed
 * calls, for protocol and hostile-input tests: connecting without VERSION,
 * negotiating by hand, any command with any payload and fds, arbitrary
 * bytes with no framing, the next message whatever it is.
 *
 * Never installed and not in libvus-client.so: tests link the static
 * vus-client-raw library with the client's internal objects. A VMM or a
 * tool has no use for it; the protocol stays an implementation detail of
 * the public headers.
 */
#ifndef VUS_CLIENT_RAW_H
#define VUS_CLIENT_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "vus/client.h"
#include "wire_cmds.h"

/**
 * As vus_client_attach_fd() / vus_client_connect(), without sending
 * VERSION: the test negotiates with one of the calls below, or not at all.
 */
int vus_client_attach_fd_raw(int fd, const struct vus_client_config *cfg,
			     vus_client **out);
int vus_client_connect_raw(const char *path,
			   const struct vus_client_config *cfg,
			   vus_client **out);

/**
 * Send VERSION proposing @major.@minor with @json (NUL-terminated text,
 * sent with its NUL, or NULL for none) and record the server's answer.
 * -EALREADY if negotiated, -E2BIG for JSON over 8 KiB, and the errors of
 * vus_client_connect().
 */
int vus_client_negotiate(vus_client *c, uint16_t major, uint16_t minor,
			 const char *json);

/**
 * As vus_client_negotiate() with the capabilities vus_client_connect()
 * builds from the config, proposing @major.@minor.
 */
int vus_client_negotiate_ours(vus_client *c, uint16_t major, uint16_t minor);

/** vfio-user command numbers (VUS_CMD_VERSION...), from the core's list. */
enum vus_client_cmd {
#define VUS_CMD_ENUM(name, num) VUS_CMD_##name = num,
	WIRE_COMMANDS(VUS_CMD_ENUM)
#undef VUS_CMD_ENUM
};

#define VUS_CLIENT_F_NO_REPLY 0x10u

/** A message as received. Free with vus_client_reply_free(). */
struct vus_client_reply {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t flags;
	int error;        /**< errno of an error reply, else 0 */
	uint8_t *payload; /**< malloc'd */
	uint32_t len;
	int fds[16];      /**< owned by the reply until taken (set to -1) */
	unsigned int nfds;
};

void vus_client_reply_free(struct vus_client_reply *r);

/**
 * Send @cmd with @payload and @fds (borrowed) under the next message id,
 * @flags as the header's flags verbatim, and wait for its reply (unless
 * @flags has VUS_CLIENT_F_NO_REPLY; @reply may then be NULL), serving
 * server requests meanwhile. Returns 0 when a reply (error or not) was
 * received, else -errno (-EPROTO: the reply names another command or was
 * too large or carried too many fds); the reply's own errno is in
 * reply->error. The reply is not checked otherwise.
 */
int vus_client_request(vus_client *c, uint16_t cmd, uint32_t flags,
		       const void *payload, size_t len, const int *fds,
		       unsigned int nfds, struct vus_client_reply *reply);

/**
 * Send arbitrary bytes with @fds attached to the first byte: no framing,
 * no checks (hostile tests). Output the client had queued goes first.
 * Returns 0 once the socket took everything, -ETIMEDOUT, or -errno.
 */
int vus_client_send_raw(vus_client *c, const void *bytes, size_t len,
			const int *fds, unsigned int nfds);

/**
 * Wait up to @timeout_ms (-1: forever) for the next message from the
 * server (any reply or request) and return it in @reply, serving nothing.
 * For raw tests. -EMSGSIZE / -EINVAL for a message that was too large or
 * had too many fds (read and dropped), -ETIMEDOUT, -ENOTCONN.
 */
int vus_client_recv(vus_client *c, struct vus_client_reply *reply,
		    int timeout_ms);

/** The message id the next request will use. */
uint16_t vus_client_next_id(const vus_client *c);

#endif /* VUS_CLIENT_RAW_H */
