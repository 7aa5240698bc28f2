/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl-mig: the migration commands. vus-ctl plays the VMM's part of
 * VFIO migration v2: "save" stops the device and writes its stream to a
 * file, "load" resumes a device from one, "migration" shows what the
 * device offers and where it is. GPL-2.0-or-later with the rest of
 * vus-ctl (it links libpci; see vus-ctl-config.c).
 *
 * A loaded state lives as long as the connection (the device resets when
 * its client leaves, as it would when a VMM goes): chain commands with ","
 * to look at it, e.g. "load state.bin , read 2 0 1".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vus-ctl.h"

static const char *const state_names[] = {
	"error", "stop", "running", "stop-copy", "resuming", "running-p2p",
	"pre-copy", "pre-copy-p2p",
};

static const char *state_name(uint32_t s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s]
								 : "unknown";
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Print the outcome of save/load: a line, or a JSON object. */
static int report(struct ctl *x, const char *what, const char *file,
		  uint64_t bytes, double ms)
{
	uint32_t st = 0;
	struct json_object *o;
	int err;

	if (vus_client_mig_get_state(x->c, &st) < 0)
		st = UINT32_MAX;
	if (!x->json) {
		printf("%s %" PRIu64 " bytes %s %s in %.2f ms; device %s\n", what,
		       bytes, what[0] == 's' ? "to" : "from", file, ms,
		       state_name(st));
		return 0;
	}
	o = json_object_new_object();
	err = ctl_json_add(o, "file", json_object_new_string(file));
	err |= ctl_json_add(o, "bytes", json_object_new_uint64(bytes));
	err |= ctl_json_add(o, "ms", json_object_new_double(ms));
	err |= ctl_json_add(o, "state", json_object_new_string(state_name(st)));
	if (err) {
		json_object_put(o);
		return ctl_fail(-ENOMEM, "JSON output");
	}
	return ctl_print_json(o);
}

int ctl_mig_save(struct ctl *x, const char *file)
{
	uint64_t size = 0;
	double t0;
	int fd, ret;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ctl_fail(-errno, "%s", file);
	t0 = now_ms();
	ret = vus_client_mig_save(x->c, fd, &size);
	if (ret == 0 && fsync(fd) < 0 && errno != EINVAL)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0) {
		(void)unlink(file); /* no half stream left behind */
		return ctl_fail(ret, ret == -ENOTTY ? "save: the device does not migrate"
						    : "save to %s", file);
	}
	return report(x, "saved", file, size, now_ms() - t0);
}

/*
 * The stream's framing, checked here before it is sent: 0, or 1 after
 * naming the section and byte where it is truncated or damaged.
 */
static int precheck(int fd, off_t size, const char *file)
{
	struct vus_client_mig_stream_problem pr = { .struct_size = sizeof(pr) };
	void *p = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE,
				  fd, 0) : NULL;
	int ret;

	if (p == MAP_FAILED)
		return ctl_fail(-errno, "%s", file);
	ret = vus_client_mig_stream_check(p, (size_t)size, &pr);
	if (p != NULL)
		munmap(p, (size_t)size);
	if (ret == 0)
		return 0;
	if (pr.section[0] != '\0')
		return ctl_error("load %s: section \"%s\" (record %u, byte 0x%"
				 PRIx64 "): %s", file, pr.section, pr.record,
				 pr.offset, pr.what);
	if (pr.record == 0)
		return ctl_error("load %s: header (byte 0x%" PRIx64 "): %s", file,
				 pr.offset, pr.what);
	return ctl_error("load %s: record %u (byte 0x%" PRIx64 "): %s", file,
			 pr.record, pr.offset, pr.what);
}

int ctl_mig_load(struct ctl *x, const char *file)
{
	char why[320];
	double t0;
	off_t size;
	int fd, ret;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail(-errno, "%s", file);
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		ret = -errno;
		close(fd);
		return ctl_fail(ret, "%s", file);
	}
	if (precheck(fd, size, file)) {
		close(fd);
		return 1;
	}
	t0 = now_ms();
	ret = vus_client_mig_load(x->c, fd);
	close(fd);
	if (ret == 0)
		return report(x, "loaded", file, (uint64_t)size, now_ms() - t0);
	/* The reply had the errno; the management socket has the why. */
	if (x->rpc != NULL && ctl_rpc_load_error(x, x->timeout_ms, why,
						 sizeof(why)) == 0)
		return ctl_fail(ret, "load %s: refused by the device: %s", file,
				why);
	switch (ret) {
	case -ENODEV:
		return ctl_fail(ret, "load %s: saved from another kind of device, "
				"or one configured differently", file);
	case -EPROTONOSUPPORT:
		return ctl_fail(ret, "load %s: another compatibility version", file);
	case -EBADMSG: /* the framing and checksum were checked here */
		return ctl_fail(ret, "load %s: the device refused a section "
				"(its check, or one it does not have; --rpc "
				"with its management socket says which)", file);
	default:
		return ctl_fail(ret, "load %s", file);
	}
}

int ctl_mig_info(struct ctl *x)
{
	static const char *const flag_names[] = { "stop-copy", "p2p", "pre-copy" };
	struct json_object *o, *a;
	uint64_t flags;
	uint32_t st;
	int ret, err;

	ret = vus_client_mig_flags(x->c, &flags);
	if (ret == 0)
		ret = vus_client_mig_get_state(x->c, &st);
	if (ret == -ENOTTY)
		return ctl_fail(ret, "the device does not migrate");
	if (ret < 0)
		return ctl_fail(ret, "DEVICE_FEATURE MIGRATION");
	if (!x->json) {
		printf("migration: state %s, flags", state_name(st));
		for (unsigned int i = 0; i < 3; i++)
			if (flags & (1u << i))
				printf(" %s", flag_names[i]);
		putchar('\n');
		return 0;
	}
	o = json_object_new_object();
	a = json_object_new_array();
	err = a == NULL;
	for (unsigned int i = 0; i < 3 && a != NULL; i++)
		if (flags & (1u << i))
			err |= json_object_array_add(a, json_object_new_string(flag_names[i]));
	err |= ctl_json_add(o, "state", json_object_new_string(state_name(st)));
	err |= ctl_json_add(o, "flags", a);
	if (err) {
		json_object_put(o);
		return ctl_fail(-ENOMEM, "JSON output");
	}
	return ctl_print_json(o);
}
