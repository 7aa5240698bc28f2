/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_cli: what the sample device servers share on their command line
 * and around vus_ctx_run(): the options every sample takes (--socket-path,
 * --fd, --rpc-path, --log-level, --compat-version, --sandbox,
 * --reset-on-disconnect, --print-capabilities, --mig-stage-dir,
 * --mig-stage-mem), a log sink on stderr, listening, SIGINT/SIGTERM
 * stopping the context, and the sandbox.
 *
 * A sample lists SAMPLE_CLI_LONGOPTS in its getopt_long() table, passes
 * every option it does not know to sample_cli_option(), and ends with
 * sample_cli_listen() and sample_cli_run().
 */
#ifndef SAMPLE_CLI_H
#define SAMPLE_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vus.h>

/* getopt_long() codes of the shared options, beyond any character. */
enum {
	SAMPLE_OPT_SOCKET = 0x100,
	SAMPLE_OPT_FD,
	SAMPLE_OPT_LOG_LEVEL,
	SAMPLE_OPT_COMPAT,
	SAMPLE_OPT_SANDBOX,
	SAMPLE_OPT_RECOVER,
	SAMPLE_OPT_RESET_ON_DISCONNECT,
	SAMPLE_OPT_RPC,
	SAMPLE_OPT_CAPS,
	SAMPLE_OPT_MIG_STAGE_DIR,
	SAMPLE_OPT_MIG_STAGE_MEM,
};

#define SAMPLE_CLI_LONGOPTS                                                     \
	{ "socket-path", required_argument, NULL, SAMPLE_OPT_SOCKET },         \
	{ "fd", required_argument, NULL, SAMPLE_OPT_FD },                       \
	{ "log-level", required_argument, NULL, SAMPLE_OPT_LOG_LEVEL },         \
	{ "compat-version", required_argument, NULL, SAMPLE_OPT_COMPAT },       \
	{ "sandbox", optional_argument, NULL, SAMPLE_OPT_SANDBOX },             \
	{ "recover", no_argument, NULL, SAMPLE_OPT_RECOVER },                   \
	{ "reset-on-disconnect", no_argument, NULL,                             \
	  SAMPLE_OPT_RESET_ON_DISCONNECT },                                     \
	{ "rpc-path", required_argument, NULL, SAMPLE_OPT_RPC },                \
	{ "print-capabilities", no_argument, NULL, SAMPLE_OPT_CAPS },          \
	{ "mig-stage-dir", required_argument, NULL, SAMPLE_OPT_MIG_STAGE_DIR }, \
	{ "mig-stage-mem", required_argument, NULL, SAMPLE_OPT_MIG_STAGE_MEM }

/* --sandbox: off unless given; bare --sandbox kills on a forbidden call. */
enum sample_sandbox {
	SAMPLE_SANDBOX_OFF,
	SAMPLE_SANDBOX_KILL,
	SAMPLE_SANDBOX_EPERM,
	SAMPLE_SANDBOX_LOG,
};

struct sample_cli {
	const char *socket_path;
	const char *rpc_path;    /* --rpc-path: JSON-RPC management socket */
	int listen_fd;           /* --fd, -1 if not given */
	int log_level;           /* VUS_LOG_*, default VUS_LOG_NOTICE */
	uint32_t compat_version; /* default 1 */
	enum sample_sandbox sandbox;
	bool recover;            /* --recover: crash recovery (fd store) */
	bool reset_on_disconnect;
	bool print_caps;        /* --print-capabilities (sample_caps.h) */
	/* --mig-stage-dir: where a migration destination spills what does
	 * not fit in memory (vus_mig_config.stage_dir); NULL: /var/tmp if it
	 * is there, "none": no spilling. */
	const char *mig_stage_dir;
	/* --mig-stage-mem: vus_mig_config.stage_mem_max (0: its default). */
	uint64_t mig_stage_mem;
};

/** The migration parameters the options give (compat, staging). */
void sample_cli_mig_config(const struct sample_cli *c,
			   struct vus_mig_config *mc);

/** Defaults for every shared option. */
void sample_cli_init(struct sample_cli *c);

/**
 * Take shared option @code with argument @arg. Returns 1 if it was one,
 * 0 if it is not a shared option, -EINVAL for a bad value.
 */
int sample_cli_option(struct sample_cli *c, int code, const char *arg);

/** -EINVAL unless exactly one of --socket-path and --fd was given (or
 * --print-capabilities, which needs neither). */
int sample_cli_check(const struct sample_cli *c);

/** struct vus_ctx_config flags the options ask for. */
uint32_t sample_cli_ctx_flags(const struct sample_cli *c);

/** Help lines for the shared options, aligned at column @col. */
void sample_cli_usage(FILE *f, int col);

/** A log level name (error..debug) or number 3..7; -1 if neither. */
int sample_parse_level(const char *s);

/** vus_log_fn printing "[level] message" on stderr. */
void sample_log_sink(void *opaque, int level, const char *msg);

/**
 * With --recover, make @ctx recoverable (vus_ctx_enable_recovery()): call
 * right after vus_ctx_create(). 0 when not asked for, or -errno (a
 * message is printed).
 */
int sample_cli_recovery(vus_ctx *ctx, const struct sample_cli *c);

/**
 * Start serving: the management plane at --rpc-path if given, then listen
 * at --socket-path or on the --fd socket; or, with --take-over, take the
 * device over from the running server (both its listeners come with it).
 * Then give the effective command line as the hand-over configuration,
 * for the next process. 0 or -errno.
 */
int sample_cli_listen(vus_ctx *ctx, const struct sample_cli *c);

/*
 * --take-over RPC_PATH (sample_takeover.c). First thing in main():
 * sample_takeover_prepare() replaces the command line by the running
 * server's followed by ours (without --take-over), having asked that
 * server for the hand-over; without --take-over it changes nothing.
 * sample_taking_over() then says whether to take back-end fds from the
 * old process instead of opening them; sample_cli_listen() completes the
 * take-over. Any failure before that: sample_takeover_abort() (the old
 * server carries on). sample_takeover_free() at the end.
 */
int sample_takeover_prepare(int *argc, char ***argv);
bool sample_taking_over(void);
int sample_takeover_serve(vus_ctx *ctx);
void sample_takeover_abort(const char *why);
void sample_takeover_free(void);

/* A command line as a JSON array of strings, and back (sample_args.c). */
int sample_args_to_json(int argc, char *const *argv, char **out);
int sample_args_from_json(const char *json, int *argc, char ***argv);
void sample_args_free(int argc, char **argv);

/**
 * Adds what a sample's own code (back-ends, threads) needs once it
 * serves, on top of libvus's list. Returns 0 or -errno.
 */
typedef int sample_sandbox_fn(vus_sandbox *sb, void *opaque);

/**
 * Serve until SIGINT or SIGTERM: install the handlers, apply the sandbox
 * if --sandbox asked for one (libvus's list plus what @add allows; @add
 * may be NULL), then vus_ctx_run(). Call it once everything that opens
 * files or sockets is done. Returns vus_ctx_run()'s result, or the error
 * that kept the sandbox from being applied (then nothing is served).
 */
int sample_cli_run(vus_ctx *ctx, const struct sample_cli *c,
		   sample_sandbox_fn *add, void *opaque);

/**
 * The signals sample_cli_run()'s handler takes to stop the context. A
 * sample's own threads must block them from their first instruction (in
 * the creating thread around pthread_create(), the new thread inherits
 * its mask): delivered to another thread, the handler could still be
 * running when the loop's thread destroys the context. sample_cli_run()
 * unblocks them on its thread.
 */
void sample_stop_signals(sigset_t *set);

/**
 * Block those signals: called first in main(), so that one sent while the
 * sample sets up waits for sample_cli_run()'s handler and then stops the
 * loop as soon as it starts (exit 0), rather than killing the process
 * halfway (a supervisor stopping a server it has just restarted, whose
 * device may already be moving traffic). Threads created meanwhile
 * inherit the block. Setup is bounded: a take-over waits at most its
 * timeout for each step.
 */
void sample_hold_stop_signals(void);

/** Allow each of @nrs[0..n): a helper for sample_sandbox_fn. */
int sample_allow_all(vus_sandbox *sb, const long *nrs, size_t n);

#endif /* SAMPLE_CLI_H */
