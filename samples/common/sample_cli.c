/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_cli: the options every sample takes and its log sink
 * (sample_cli.h). Serving and the sandbox are in sample_run.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sample_cli.h"

void sample_cli_init(struct sample_cli *c)
{
	*c = (struct sample_cli){ .listen_fd = -1, .log_level = VUS_LOG_NOTICE,
				  .compat_version = 1,
				  .sandbox = SAMPLE_SANDBOX_OFF };
}

/* A decimal or 0x number in 0..@max, nothing after it. */
static int parse_num(const char *s, unsigned long long max,
		     unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 ||
	    *out > max)
		return -EINVAL;
	return 0;
}

static int parse_sandbox(const char *arg, enum sample_sandbox *out)
{
	if (arg == NULL || strcmp(arg, "kill") == 0)
		*out = SAMPLE_SANDBOX_KILL;
	else if (strcmp(arg, "eperm") == 0)
		*out = SAMPLE_SANDBOX_EPERM;
	else if (strcmp(arg, "log") == 0)
		*out = SAMPLE_SANDBOX_LOG;
	else
		return -EINVAL;
	return 0;
}

int sample_cli_option(struct sample_cli *c, int code, const char *arg)
{
	unsigned long long v;
	int ret = 0;

	switch (code) {
	case SAMPLE_OPT_SOCKET:
		c->socket_path = arg;
		break;
	case SAMPLE_OPT_RPC:
		c->rpc_path = arg;
		break;
	case SAMPLE_OPT_FD:
		ret = parse_num(arg, 1 << 20, &v);
		c->listen_fd = (int)v;
		break;
	case SAMPLE_OPT_LOG_LEVEL:
		c->log_level = sample_parse_level(arg);
		ret = c->log_level < 0 ? -EINVAL : 0;
		break;
	case SAMPLE_OPT_COMPAT:
		/* 0 is not a version: the stream format reserves it. */
		ret = parse_num(arg, UINT32_MAX, &v);
		if (ret == 0 && v == 0)
			ret = -EINVAL;
		c->compat_version = (uint32_t)v;
		break;
	case SAMPLE_OPT_SANDBOX:
		ret = parse_sandbox(arg, &c->sandbox);
		break;
	case SAMPLE_OPT_RECOVER:
		c->recover = true;
		break;
	case SAMPLE_OPT_RESET_ON_DISCONNECT:
		c->reset_on_disconnect = true;
		break;
	case SAMPLE_OPT_CAPS:
		c->print_caps = true;
		break;
	case SAMPLE_OPT_MIG_STAGE_DIR:
		c->mig_stage_dir = arg;
		break;
	case SAMPLE_OPT_MIG_STAGE_MEM:
		ret = parse_num(arg, UINT64_MAX, &v);
		c->mig_stage_mem = v;
		break;
	default:
		return 0;
	}
	return ret < 0 ? ret : 1;
}

void sample_cli_mig_config(const struct sample_cli *c,
			   struct vus_mig_config *mc)
{
	const char *dir = c->mig_stage_dir;

	/* The default only where there is one (not in every container). */
	if (dir == NULL && access("/var/tmp", W_OK | X_OK) == 0)
		dir = "/var/tmp";
	else if (dir != NULL && strcmp(dir, "none") == 0)
		dir = NULL;
	*mc = (struct vus_mig_config){ .struct_size = sizeof(*mc),
		.compat_version = c->compat_version, .stage_dir = dir,
		.stage_mem_max = c->mig_stage_mem };
}

int sample_cli_check(const struct sample_cli *c)
{
	/* --socket-path and --fd are mutually exclusive (vfio-user convention). */
	if (c->print_caps)
		return 0;
	return (c->socket_path == NULL) == (c->listen_fd < 0) ? -EINVAL : 0;
}

uint32_t sample_cli_ctx_flags(const struct sample_cli *c)
{
	return c->reset_on_disconnect ? VUS_CTX_RESET_ON_DISCONNECT : 0;
}

void sample_cli_usage(FILE *f, int col)
{
	static const char *const lines[][2] = {
		{ "--socket-path PATH", "listen for a vfio-user client at PATH" },
		{ "--fd N", "serve clients of an inherited listening socket" },
		{ "--rpc-path PATH", "JSON-RPC 2.0 management socket (doc/management.md)" },
		{ "--compat-version N", "guest-visible version for migration (default 1):" },
		{ "", "a destination accepts only the same version" },
		{ "--log-level LEVEL", "error, warning, notice, info or debug" },
		{ "--sandbox[=MODE]", "once listening, confine the server to the system" },
		{ "", "calls it needs (seccomp); others: kill (default)," },
		{ "", "eperm (they fail), log (allowed, logged by the kernel)" },
		{ "--recover", "survive a crash: keep fds and state in the fd store" },
		{ "", "of $NOTIFY_SOCKET (systemd, vus-supervise)" },
		{ "--reset-on-disconnect", "reset the device when its client leaves" },
		{ "", "(default: keep its state for the next client)" },
		{ "--print-capabilities", "print what this program offers (JSON), exit" },
		{ "--mig-stage-dir DIR", "a migration destination spills state past its" },
		{ "", "memory budget to DIR (default /var/tmp if there is" },
		{ "", "one; none: off)" },
		{ "--mig-stage-mem BYTES", "that budget (default 256 MiB)" },
		{ "--take-over RPC_PATH", "replace the server managed at RPC_PATH:" },
		{ "", "take its device, client and options over" },
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(f, "  %-*s%s\n", col - 2, lines[i][0], lines[i][1]);
}

int sample_parse_level(const char *s)
{
	static const char *const names[] = { "error", "warning", "notice",
					     "info", "debug" };

	for (int i = 0; i < 5; i++)
		if (strcasecmp(s, names[i]) == 0)
			return VUS_LOG_ERR + i;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

void sample_log_sink(void *opaque, int level, const char *msg)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };

	(void)opaque;
	fprintf(stderr, "[%s] %s\n", names[level & 7], msg);
}
