/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_state: save-state and load-state, the device's state to and from a
 * file without a vfio-user client, as the same stream a migration sends.
 * They drive the migration state machine as a VMM would (RUNNING ->
 * STOP_COPY, read the stream, back to RUNNING; RUNNING -> RESUMING,
 * write the stream, back to RUNNING, which checks it whole before
 * loading any section), with the device quiesced (VUS_RPC_QUIESCE).
 * The file is written under a temporary name and renamed, so a reader
 * never sees half a state. File I/O blocks the context thread for as
 * long as it takes: state streams are small.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "engine.h"
#include "mig.h"
#include "rpc_priv.h"

#define CHUNK (64u << 10)

/* What both need: a migratable device, running, allowed to open files. */
static int state_check(vus_rpc_req *req, struct migration **m)
{
	vus_ctx *ctx = req->rpc->ctx;

	*m = ctx_mig(ctx);
	if (ctx_sandboxed(ctx)) {
		vus_rpc_set_error(req, "the sandbox does not let this server "
				  "open files");
		return -EPERM;
	}
	if (*m == NULL)
		return -EOPNOTSUPP; /* not listed then; kept for safety */
	if (mig_state(*m) != VUS_MIG_RUNNING ||
	    dma_log_active(ctx_dma(ctx))) {
		vus_rpc_set_error(req, "a migration is in progress");
		return -EBUSY;
	}
	return 0;
}

/* STOP_COPY: the whole stream into @fd; *bytes counts it. */
static int save_to(struct migration *m, int fd, uint64_t *bytes)
{
	char *buf = malloc(CHUNK);
	size_t got;
	int ret = buf ? 0 : -ENOMEM;

	*bytes = 0;
	while (ret == 0) {
		ret = mig_data_read(m, buf, CHUNK, &got);
		if (ret < 0 || got == 0)
			break;
		ret = write_all(fd, buf, got);
		*bytes += got;
	}
	free(buf);
	return ret;
}

static int save_file(vus_rpc_req *req, struct migration *m, const char *path,
		     uint64_t *bytes)
{
	char tmp[4200];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		vus_rpc_set_error(req, "cannot create %s: %s", tmp, strerror(-ret));
		return ret;
	}
	ret = save_to(m, fd, bytes);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		vus_rpc_set_error(req, "cannot write %s: %s", path, strerror(-ret));
		(void)unlink(tmp);
	}
	return ret;
}

/* Back to RUNNING whatever happened; a failed arc leaves ERROR. */
static void back_to_running(struct migration *m)
{
	if (mig_set_state(m, VUS_MIG_RUNNING) < 0)
		mig_reset(m);
}

int rpc_save_state(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		   vus_rpc_out *res)
{
	struct migration *m;
	const char *path;
	uint64_t bytes = 0;
	int ret = state_check(req, &m);

	if (ret == 0)
		ret = vus_rpc_get_str(req, "path", &path);
	if (ret < 0)
		return ret;
	ret = mig_set_state(m, VUS_MIG_STOP_COPY);
	if (ret < 0)
		vus_rpc_set_error(req, "the device's state could not be saved: %s",
				  strerror(-ret));
	else
		ret = save_file(req, m, path, &bytes);
	back_to_running(m);
	if (ret < 0)
		return ret == -EINVAL ? -EIO : ret;
	vus_rpc_out_str(res, "path", path);
	return vus_rpc_out_uint(res, "bytes", bytes);
}

/* RESUMING: the file's bytes into the migration, in chunks. */
static int load_from(vus_rpc_req *req, struct migration *m, int fd,
		     uint64_t *bytes)
{
	char *buf = malloc(CHUNK);
	int ret = buf ? 0 : -ENOMEM;

	*bytes = 0;
	while (ret == 0) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		ret = mig_data_write(m, buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
	free(buf);
	if (ret == -EFBIG)
		vus_rpc_set_error(req, "the state is larger than the device "
				  "accepts");
	return ret;
}

int rpc_load_state(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		   vus_rpc_out *res)
{
	struct migration *m;
	const char *path;
	uint64_t bytes = 0;
	int fd, ret = state_check(req, &m);

	if (ret == 0 && engine_connected(ctx_engine(req->rpc->ctx))) {
		vus_rpc_set_error(req, "a vfio-user client is connected");
		ret = -EBUSY;
	}
	if (ret == 0)
		ret = vus_rpc_get_str(req, "path", &path);
	if (ret < 0)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		vus_rpc_set_error(req, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = mig_set_state(m, VUS_MIG_RESUMING);
	if (ret == 0)
		ret = load_from(req, m, fd, &bytes);
	close(fd);
	/* Leaving RESUMING checks the whole stream, then loads it. */
	if (ret == 0 && (ret = mig_set_state(m, VUS_MIG_RUNNING)) < 0)
		vus_rpc_set_error(req, "the state was refused (another device, "
				  "another compat version, or damaged): %s",
				  strerror(-ret));
	if (ret < 0) {
		back_to_running(m);
		return ret == -EINVAL ? -EBADMSG : ret;
	}
	return vus_rpc_out_uint(res, "bytes", bytes);
}
