/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The seccomp sandbox (vus/sandbox.h). A filter cannot be removed, so every
 * case that applies one does it in a forked child and the parent judges the
 * child's end: SIGSYS for a forbidden call in the default mode, exit 0
 * when everything the child checked held. A child that finishes calls
 * exit(), so in sanitizer builds LeakSanitizer runs at exit inside the
 * sandbox. getpgid stands for "a call nobody allowed": neither libvus nor
 * a sanitizer runtime needs it.
 *
 * Skipped under valgrind, whose own system calls the filter would judge.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"

/* Exit codes of a child: which check failed. */
enum { CHILD_OK = 0, CHILD_SETUP = 10, CHILD_APPLY, CHILD_CHECK, CHILD_THREAD };

static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* Run @fn in a child that ends with exit(fn()); returns its wait status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status = -1;
	pid_t pid;

	if (under_valgrind())
		skip();
	fflush(NULL); /* the child's exit() must not repeat our output */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* SIGSYS dumps core by default: not for expected deaths. */
		setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
		exit(fn(arg));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exit_ok(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void assert_sigsys(int status)
{
	if (WIFEXITED(status))
		fail_msg("child exited with %d, expected SIGSYS", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* A sandbox with @action and nothing added, applied; false on failure. */
static bool apply(enum vus_sandbox_action action)
{
	vus_sandbox *sb;
	bool ok;

	if (vus_sandbox_create(&sb) < 0)
		return false;
	ok = vus_sandbox_set_action(sb, action) == 0 &&
	     vus_sandbox_apply(sb, NULL) == 0;
	vus_sandbox_destroy(sb);
	return ok;
}

static bool fails_with(long r, int err)
{
	return r == -1 && errno == err;
}

/* --- Actions. --- */

static int forbidden_call(void *arg)
{
	if (!apply(VUS_SANDBOX_KILL))
		return CHILD_APPLY;
	(void)syscall(SYS_getpgid, 0);
	return CHILD_CHECK; /* still alive: not confined */
}

static void forbidden_call_kills_with_sigsys(void **state)
{
	assert_sigsys(in_child(forbidden_call, NULL));
}

static int errno_action(void *arg)
{
	enum vus_sandbox_action action = *(enum vus_sandbox_action *)arg;
	int err = action == VUS_SANDBOX_EPERM ? EPERM : ENOSYS;

	if (!apply(action))
		return CHILD_APPLY;
	return fails_with(syscall(SYS_getpgid, 0), err) ? CHILD_OK : CHILD_CHECK;
}

static void forbidden_call_fails_with_eperm_or_enosys(void **state)
{
	enum vus_sandbox_action a = VUS_SANDBOX_EPERM;

	assert_exit_ok(in_child(errno_action, &a));
	a = VUS_SANDBOX_ENOSYS;
	assert_exit_ok(in_child(errno_action, &a));
}

static int log_action(void *arg)
{
	pid_t group = getpgid(0);

	if (!apply(VUS_SANDBOX_LOG))
		return CHILD_APPLY;
	return syscall(SYS_getpgid, 0) == group ? CHILD_OK : CHILD_CHECK;
}

static void log_action_lets_the_call_through(void **state)
{
	assert_exit_ok(in_child(log_action, NULL));
}

/* What a serving context does, with the default action. */
static int allowed_calls(void *arg)
{
	struct timespec ts;
	char buf[4] = "abc";
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0 || !apply(VUS_SANDBOX_KILL))
		return CHILD_SETUP;
	if (write(p[1], buf, 3) != 3 || read(p[0], buf, 3) != 3 ||
	    clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return CHILD_CHECK;
	free(malloc(1 << 20)); /* the allocator: mmap, munmap */
	close(p[0]);
	close(p[1]);
	return CHILD_OK;
}

static void allowed_calls_work(void **state)
{
	assert_exit_ok(in_child(allowed_calls, NULL));
}

/* --- Threads. --- */

struct gate {
	int fd[2]; /* the thread waits for a byte on fd[0] */
	int result;
};

static void *call_after_gate(void *arg)
{
	struct gate *g = arg;
	char b;

	if (read(g->fd[0], &b, 1) != 1)
		g->result = CHILD_THREAD;
	else
		g->result = fails_with(syscall(SYS_getpgid, 0), EPERM)
			    ? CHILD_OK : CHILD_CHECK;
	return NULL;
}

static bool open_gate(struct gate *g)
{
	return write(g->fd[1], "x", 1) == 1;
}

/*
 * Threads, and nothing else: clone with the C library's thread flags (not
 * fork's); clone3 keeps its flags in memory, out of the filter's sight, so
 * it fails with ENOSYS and the C library falls back to clone.
 */
static int allow_threads(vus_sandbox *sb)
{
	const uint32_t thread_flags = CLONE_VM | CLONE_FS | CLONE_FILES |
		CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
		CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	int ret = vus_sandbox_allow_if(sb, SYS_clone, 0, thread_flags);

	return ret == 0 ? vus_sandbox_deny(sb, SYS_clone3, ENOSYS) : ret;
}

static int threads_filtered(void *arg)
{
	struct gate before = { .result = -1 }, after = { .result = -1 };
	pthread_t t1, t2;
	vus_sandbox *sb;
	int ret;

	if (pipe(before.fd) < 0 || pipe(after.fd) < 0 ||
	    pthread_create(&t1, NULL, call_after_gate, &before) != 0 ||
	    vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	ret = vus_sandbox_set_action(sb, VUS_SANDBOX_EPERM);
	if (ret == 0)
		ret = allow_threads(sb);
	if (ret == 0)
		ret = vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (ret < 0)
		return CHILD_APPLY;
	/* Created before, running when the filter came: TSYNC's job. */
	if (!open_gate(&before) || pthread_join(t1, NULL) != 0)
		return CHILD_THREAD;
	/* Created after: inherits it (clone with thread flags only). */
	if (pthread_create(&t2, NULL, call_after_gate, &after) != 0 ||
	    !open_gate(&after) || pthread_join(t2, NULL) != 0)
		return CHILD_THREAD;
	return before.result != CHILD_OK ? before.result : after.result;
}

static void threads_before_and_after_apply_are_filtered(void **state)
{
	assert_exit_ok(in_child(threads_filtered, NULL));
}

static void *forbidden_in_thread(void *arg)
{
	struct gate *g = arg;
	char b;

	if (read(g->fd[0], &b, 1) == 1)
		(void)syscall(SYS_getpgid, 0);
	return NULL;
}

static int thread_kills(void *arg)
{
	struct gate g;
	pthread_t t;

	if (pipe(g.fd) < 0 || pthread_create(&t, NULL, forbidden_in_thread, &g) != 0)
		return CHILD_SETUP;
	if (!apply(VUS_SANDBOX_KILL))
		return CHILD_APPLY;
	open_gate(&g);
	pthread_join(t, NULL);
	return CHILD_CHECK; /* the process should be gone, not the thread */
}

static void forbidden_call_in_a_thread_kills_the_process(void **state)
{
	assert_sigsys(in_child(thread_kills, NULL));
}

/* A thread that installed a filter of its own cannot be synchronised. */
struct loner {
	int up[2];   /* thread -> main: filter installed */
	int down[2]; /* main -> thread: you may end */
	int result;
};

static void *own_filter(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	struct loner *l = arg;
	char b;

	l->result = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0
		    ? CHILD_OK : CHILD_THREAD;
	if (write(l->up[1], "r", 1) == 1)
		(void)!read(l->down[0], &b, 1);
	return NULL;
}

static int tsync_fails(void *arg)
{
	struct loner l = { .result = -1 };
	vus_sandbox *sb;
	pthread_t t;
	char b;
	int ret;

	if (pipe(l.up) < 0 || pipe(l.down) < 0 ||
	    pthread_create(&t, NULL, own_filter, &l) != 0 ||
	    read(l.up[0], &b, 1) != 1 || vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	ret = vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (write(l.down[1], "d", 1) != 1 || pthread_join(t, NULL) != 0 ||
	    l.result != CHILD_OK)
		return CHILD_THREAD;
	/* Refused as a whole: the main thread is still unconfined. */
	return ret == -EBUSY && syscall(SYS_getpgid, 0) > 0 ? CHILD_OK : CHILD_CHECK;
}

static void tsync_failure_is_reported_and_installs_nothing(void **state)
{
	assert_exit_ok(in_child(tsync_fails, NULL));
}

/* --- What a device adds. --- */

static int device_rules(void *arg)
{
	vus_sandbox *sb;
	int ret;

	if (vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	ret = vus_sandbox_set_action(sb, VUS_SANDBOX_EPERM);
	if (ret == 0)
		ret = vus_sandbox_allow(sb, SYS_getpgid);
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_getpriority, 0, PRIO_PROCESS);
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_getpriority, 0, PRIO_USER);
	if (ret == 0)
		ret = vus_sandbox_deny(sb, SYS_getuid, EACCES);
	if (ret == 0)
		ret = vus_sandbox_deny(sb, SYS_getgid, EACCES);
	if (ret == 0)
		ret = vus_sandbox_deny(sb, SYS_getgid, ENOTTY); /* replaces */
	/* Allowing wins over denying, whatever the order. */
	if (ret == 0)
		ret = vus_sandbox_deny(sb, SYS_geteuid, EACCES);
	if (ret == 0)
		ret = vus_sandbox_allow(sb, SYS_geteuid);
	if (ret == 0)
		ret = vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (ret < 0)
		return CHILD_APPLY;
	errno = 0;
	if (syscall(SYS_getpgid, 0) <= 0 ||
	    syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0 ||
	    syscall(SYS_getpriority, PRIO_USER, 0) < 0 ||
	    !fails_with(syscall(SYS_getpriority, PRIO_PGRP, 0), EPERM) ||
	    !fails_with(syscall(SYS_getuid), EACCES) ||
	    !fails_with(syscall(SYS_getgid), ENOTTY) ||
	    syscall(SYS_geteuid) < 0)
		return CHILD_CHECK;
	return CHILD_OK;
}

static void device_added_calls_argument_checks_and_denials(void **state)
{
	assert_exit_ok(in_child(device_rules, NULL));
}

/*
 * Argument tests compare whole 64-bit words, masked: getpriority()'s
 * "who" is an int to the kernel (0x100000000 is "me"), but the filter
 * sees the register. Conditional denials win over allows.
 */
static int argument_rules(void *arg)
{
	const struct vus_sandbox_arg wide = VUS_SANDBOX_ARG_U64(1, 0x100000000ull);
	const struct vus_sandbox_arg two[] = { VUS_SANDBOX_ARG_INT(0, PRIO_USER),
					       VUS_SANDBOX_ARG_INT(1, 0) };
	const struct vus_sandbox_arg not_pgrp = VUS_SANDBOX_ARG_CLEAR(0, PRIO_PGRP);
	const struct vus_sandbox_arg pid = VUS_SANDBOX_ARG_INT(0, 12345);
	vus_sandbox *sb;
	int ret;

	if (vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	ret = vus_sandbox_set_action(sb, VUS_SANDBOX_EPERM);
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_getpriority, &wide, 1);
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_getpriority, two, 2);
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_setpriority, &not_pgrp, 1);
	ret = ret ? ret : vus_sandbox_allow(sb, SYS_getpgid);
	ret = ret ? ret : vus_sandbox_deny_args(sb, SYS_getpgid, &pid, 1, EACCES);
	ret = ret ? ret : vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (ret < 0)
		return CHILD_APPLY;
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, 0x100000000ull) < 0 ||
	    !fails_with(syscall(SYS_getpriority, PRIO_PROCESS, 0), EPERM) ||
	    !fails_with(syscall(SYS_getpriority, PRIO_PROCESS, 0x200000000ull), EPERM) ||
	    !fails_with(syscall(SYS_getpriority, PRIO_PROCESS, 0x100000001ull), EPERM))
		return CHILD_CHECK;
	/* Both tests of a rule must hold. */
	if (syscall(SYS_getpriority, PRIO_USER, 0) < 0 ||
	    !fails_with(syscall(SYS_getpriority, PRIO_USER, 1), EPERM))
		return CHILD_CHECK;
	/* A mask: PRIO_PROCESS (0) and PRIO_USER (2) pass, PRIO_PGRP (1) not. */
	if (syscall(SYS_setpriority, PRIO_PROCESS, 0, 0) < 0 ||
	    !fails_with(syscall(SYS_setpriority, PRIO_PGRP, 0, 0), EPERM))
		return CHILD_CHECK;
	if (syscall(SYS_getpgid, 0) <= 0 ||
	    !fails_with(syscall(SYS_getpgid, 12345), EACCES))
		return CHILD_CHECK;
	return CHILD_OK;
}

static void argument_tests_are_whole_words_and_denials_come_first(void **state)
{
	assert_exit_ok(in_child(argument_rules, NULL));
}

/*
 * The production list (a build without a sanitizer) refuses what only
 * the sanitizer runtime's list adds: opening files, new tasks, signals to
 * others, ptrace, directory listings. The ASan build allows those (its
 * leak checker needs them), so the sandboxed suites prove the production
 * list only in the plain build, which make test runs first.
 */
static int sanitizer_calls_refused(void *arg)
{
	if (!apply(VUS_SANDBOX_EPERM))
		return CHILD_APPLY;
	errno = 0;
	if (!fails_with(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_CLOEXEC), EPERM) ||
	    !fails_with(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0), EPERM) ||
	    !fails_with(syscall(SYS_kill, getppid(), 0), EPERM) ||
	    !fails_with(syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0), EPERM) ||
	    !fails_with(syscall(SYS_getdents64, 0, NULL, 0), EPERM) ||
	    !fails_with(syscall(SYS_getsockopt, 0, SOL_SOCKET, SO_ERROR, NULL, NULL), EPERM))
		return CHILD_CHECK;
	return CHILD_OK;
}

static void production_list_refuses_what_only_sanitizers_need(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* that list allows them */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	skip();
#endif
#endif
	assert_exit_ok(in_child(sanitizer_calls_refused, NULL));
}

/* libvus's own list: memory, but never executable memory. */
static int map_exec(void *arg)
{
	bool use_mprotect = arg != NULL;
	void *p;

	if (!apply(VUS_SANDBOX_KILL))
		return CHILD_APPLY;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ) < 0)
		return CHILD_CHECK;
	if (use_mprotect)
		(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
	else
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return CHILD_CHECK; /* still alive */
}

static void executable_memory_is_refused(void **state)
{
	assert_sigsys(in_child(map_exec, NULL));
	assert_sigsys(in_child(map_exec, (void *)1));
}

/*
 * Rules of four 64-bit tests (19 instructions each), then plain ones (2
 * each), until the program would pass the kernel's 4096: refused with
 * ENOSPC, and the program filled to its last instruction still applies
 * and works.
 */
static int full_program(void *arg)
{
	struct vus_sandbox_arg t[4];
	vus_sandbox *sb;
	uint64_t v = 0x100000000ull;
	unsigned int n = 0;
	int ret;

	unsigned int plain = 0;

	if (vus_sandbox_create(&sb) < 0 || vus_sandbox_allow(sb, SYS_getpgid) < 0)
		return CHILD_SETUP;
	/* The low halves 0: "who" stays 0 ("me") to the kernel. */
	for (;; n++, v += 0x100000000ull) {
		for (unsigned int i = 0; i < 4; i++)
			t[i] = VUS_SANDBOX_ARG_U64(i + 1, v);
		if ((ret = vus_sandbox_allow_args(sb, SYS_getpriority, t, 4)) < 0)
			break;
	}
	if (ret != -ENOSPC || n < 150 || n > 4096 / 19)
		return CHILD_SETUP;
	/* What is left (under 19 instructions; how much depends on the base
	 * list, longer in a sanitizer build) takes plain rules of 2 each, up
	 * to the last instruction: numbers no call has, so new rules. */
	while ((ret = vus_sandbox_allow(sb, 1000 + plain)) == 0)
		plain++;
	if (ret != -ENOSPC || plain > 18 / 2)
		return CHILD_SETUP;
	ret = vus_sandbox_set_action(sb, VUS_SANDBOX_EPERM);
	ret = ret ? ret : vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (ret < 0)
		return CHILD_APPLY;
	v -= 0x100000000ull; /* the last rule that was accepted */
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, v, v, v, v) < 0 ||
	    !fails_with(syscall(SYS_getpriority, PRIO_PROCESS, v, v, v,
				v + 0x100000000ull), EPERM) ||
	    syscall(SYS_getpgid, 0) <= 0)
		return CHILD_CHECK;
	return CHILD_OK;
}

static void argument_rules_stop_at_the_program_size(void **state)
{
	assert_exit_ok(in_child(full_program, NULL));
}

/* The allowlist filled to the brim still makes a valid program. */
static int full_list(void *arg)
{
	vus_sandbox *sb;
	uint32_t v = 1000;
	int ret;

	if (vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	while ((ret = vus_sandbox_allow_if(sb, SYS_getpriority, 1, v)) == 0)
		v++;
	if (ret != -ENOSPC || v < 1000 + 400 || v > 1000 + 512)
		return CHILD_SETUP;
	ret = vus_sandbox_set_action(sb, VUS_SANDBOX_EPERM);
	if (ret == 0)
		ret = vus_sandbox_apply(sb, NULL);
	vus_sandbox_destroy(sb);
	if (ret < 0)
		return CHILD_APPLY;
	/* The last rule still matches (who = 0 means "me": ESRCH avoided). */
	errno = 0;
	if (!fails_with(syscall(SYS_getpriority, PRIO_PROCESS, 0), EPERM) ||
	    (syscall(SYS_getpriority, PRIO_PROCESS, v - 1) == -1 && errno == EPERM))
		return CHILD_CHECK;
	return CHILD_OK;
}

static void a_full_allowlist_still_applies(void **state)
{
	assert_exit_ok(in_child(full_list, NULL));
}

static void bad_arguments_are_refused(void **state)
{
	vus_sandbox *sb = (vus_sandbox *)1;

	assert_int_equal(vus_sandbox_create(NULL), -EINVAL);
	assert_int_equal(vus_sandbox_create(&sb), 0);
	assert_int_equal(vus_sandbox_set_action(NULL, VUS_SANDBOX_KILL), -EINVAL);
	assert_int_equal(vus_sandbox_set_action(sb, (enum vus_sandbox_action)4), -EINVAL);
	assert_int_equal(vus_sandbox_set_action(sb, (enum vus_sandbox_action)-1), -EINVAL);
	assert_int_equal(vus_sandbox_allow(NULL, SYS_getpgid), -EINVAL);
	assert_int_equal(vus_sandbox_allow(sb, -1), -EINVAL);
	assert_int_equal(vus_sandbox_allow(sb, 4096), -EINVAL);
	assert_int_equal(vus_sandbox_allow(sb, 0x40000000L), -EINVAL);
	assert_int_equal(vus_sandbox_allow_if(NULL, SYS_ioctl, 1, 0), -EINVAL);
	assert_int_equal(vus_sandbox_allow_if(sb, SYS_ioctl, 6, 0), -EINVAL);
	assert_int_equal(vus_sandbox_allow_if(sb, -5, 0, 0), -EINVAL);
	assert_int_equal(vus_sandbox_deny(NULL, SYS_clone3, ENOSYS), -EINVAL);
	assert_int_equal(vus_sandbox_deny(sb, SYS_clone3, 0), -EINVAL);
	assert_int_equal(vus_sandbox_deny(sb, SYS_clone3, -1), -EINVAL);
	assert_int_equal(vus_sandbox_deny(sb, SYS_clone3, 4096), -EINVAL);
	assert_int_equal(vus_sandbox_deny(sb, 99999, EPERM), -EINVAL);
	assert_int_equal(vus_sandbox_apply(NULL, NULL), -EINVAL);
	{
		const struct vus_sandbox_arg t[5] = {
			VUS_SANDBOX_ARG_INT(0, 1), VUS_SANDBOX_ARG_INT(1, 1),
			VUS_SANDBOX_ARG_INT(2, 1), VUS_SANDBOX_ARG_INT(3, 1),
			VUS_SANDBOX_ARG_INT(4, 1),
		};
		const struct vus_sandbox_arg bad = VUS_SANDBOX_ARG_INT(6, 1);

		assert_int_equal(vus_sandbox_allow_args(NULL, SYS_ioctl, t, 1), -EINVAL);
		assert_int_equal(vus_sandbox_allow_args(sb, SYS_ioctl, NULL, 1), -EINVAL);
		assert_int_equal(vus_sandbox_allow_args(sb, SYS_ioctl, t, 0), -EINVAL);
		assert_int_equal(vus_sandbox_allow_args(sb, SYS_ioctl, t, 5), -EINVAL);
		assert_int_equal(vus_sandbox_allow_args(sb, SYS_ioctl, t, 4), 0);
		assert_int_equal(vus_sandbox_allow_args(sb, SYS_ioctl, &bad, 1), -EINVAL);
		assert_int_equal(vus_sandbox_allow_args(sb, 4096, t, 1), -EINVAL);
		assert_int_equal(vus_sandbox_deny_args(sb, SYS_ioctl, t, 1, 0), -EINVAL);
		assert_int_equal(vus_sandbox_deny_args(sb, SYS_ioctl, t, 1, 4096), -EINVAL);
		assert_int_equal(vus_sandbox_deny_args(sb, SYS_ioctl, t, 5, EPERM), -EINVAL);
		assert_int_equal(vus_sandbox_deny_args(sb, SYS_ioctl, t, 4, EPERM), 0);
	}
	/* Good ones, repeated: harmless. */
	assert_int_equal(vus_sandbox_allow(sb, SYS_getpgid), 0);
	assert_int_equal(vus_sandbox_allow(sb, SYS_getpgid), 0);
	assert_int_equal(vus_sandbox_allow_if(sb, SYS_ioctl, 5, UINT32_MAX), 0);
	vus_sandbox_destroy(sb);
	vus_sandbox_destroy(NULL);
}

/* --- A real context behind the sandbox. --- */

struct served {
	struct tc_dev d;
	int ready[2], done[2];
};

/*
 * The child serves the test device on a thread started before the
 * sandbox and applies it from the main thread (TSYNC), then waits for the
 * parent's client, then stops and tears everything down, still confined.
 */
static int serve_sandboxed(void *arg)
{
	struct served *s = arg;
	vus_sandbox *sb;
	char b;
	int ret;

	close(s->ready[0]);
	close(s->done[1]);
	tc_dev_start(&s->d, true);
	if (vus_sandbox_create(&sb) < 0)
		return CHILD_SETUP;
	ret = vus_sandbox_apply(sb, s->d.ctx);
	vus_sandbox_destroy(sb);
	/* The socket's path, with its NUL, says "ready". */
	if (ret < 0 || write(s->ready[1], s->d.path, strlen(s->d.path) + 1) <= 0)
		return CHILD_APPLY;
	if (read(s->done[0], &b, 1) != 1)
		return CHILD_CHECK;
	tc_dev_fini(&s->d);
	close(s->ready[1]);
	close(s->done[0]);
	return s->d.run_ret == 0 ? CHILD_OK : CHILD_CHECK;
}

static pid_t start_served(struct served *s)
{
	pid_t pid;

	assert_int_equal(pipe2(s->ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(s->done, O_CLOEXEC), 0);
	tc_dev_init(&s->d);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
		exit(serve_sandboxed(s));
	}
	return pid;
}

static void exercise(vus_client *c)
{
	uint8_t pat[256], back[256], *mem;
	void *p;

	for (unsigned int i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	/* Region I/O through callbacks. */
	assert_int_equal(vus_client_region_write(c, TC_RAM, 0x1000, pat, sizeof(pat)), 0);
	assert_int_equal(vus_client_region_read(c, TC_RAM, 0x1000, back, sizeof(back)), 0);
	assert_memory_equal(pat, back, sizeof(pat));
	/* A memfd mapped for DMA: the server mmaps it, the device writes it. */
	assert_int_equal(vus_client_dma_map_memfd(c, 0x100000, 0x10000,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, &p), 0);
	mem = p;
	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_BUF, pat,
						 sizeof(pat)), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, 0x100000 + 0x40, sizeof(pat)), 0);
	assert_memory_equal(mem + 0x40, pat, sizeof(pat));
	memset(mem + 0x2000, 0x5a, 64);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, 0x100000 + 0x2000, 64), 0);
	assert_int_equal(vus_client_region_read(c, TC_CTL, TC_CTL_BUF, back, 64), 0);
	assert_int_equal(back[0], 0x5a);
	assert_int_equal(back[63], 0x5a);
	/* Interrupts: eventfds handed over, signalled by the server. */
	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, TC_IRQ_EDGE_N), 0);
	assert_int_equal(vus_client_irq_trigger(c, TC_IRQ_EDGE, 3, 1), 0);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 3, vtest_ms(2000)), 1);
	assert_int_equal(vus_client_dma_unmap(c, 0x100000, 0x10000), 0);
	assert_int_equal(vus_client_reset(c), 0);
}

static void listening_context_serves_clients_after_apply(void **state)
{
	struct served s;
	char path[256] = "";
	vus_client *c;
	int status;
	pid_t pid;

	if (under_valgrind())
		skip();
	pid = start_served(&s);
	close(s.ready[1]);
	close(s.done[0]);
	assert_true(read(s.ready[0], path, sizeof(path) - 1) > 1);
	/* Two clients one after the other: accept4 and the reset path too. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vus_client_connect(path, VTEST_CLIENT_CFG, &c), 0);
		exercise(c);
		vus_client_close(c);
	}
	assert_int_equal(write(s.done[1], "d", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(s.ready[0]);
	close(s.done[1]);
	/* The parent's copy of the device: never served here. */
	tc_dev_fini(&s.d);
	assert_exit_ok(status);
}

/*
 * In a sanitizer build, LeakSanitizer must still work inside the sandbox:
 * a leak is reported (its exit code, or SIGABRT with abort_on_error), not
 * a SIGSYS and not silence.
 */
#if defined(__SANITIZE_ADDRESS__)
void *volatile test_sandbox_sink; /* global: the compiler must store */

static int leak(void *arg)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, STDERR_FILENO) < 0 || !apply(VUS_SANDBOX_KILL))
		return CHILD_SETUP;
	test_sandbox_sink = malloc(1000);
	test_sandbox_sink = NULL;
	return CHILD_OK;
}
#endif

static void leaks_are_still_reported_in_sanitizer_builds(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	const char *opts = getenv("ASAN_OPTIONS");
	int status;

	if (opts != NULL && strstr(opts, "detect_leaks=0") != NULL)
		skip();
	status = in_child(leak, NULL);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGABRT);
	} else {
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), CHILD_OK);
		assert_int_not_equal(WEXITSTATUS(status), CHILD_SETUP);
	}
#else
	skip();
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(bad_arguments_are_refused),
		VTEST(forbidden_call_kills_with_sigsys),
		VTEST(forbidden_call_fails_with_eperm_or_enosys),
		VTEST(log_action_lets_the_call_through),
		VTEST(allowed_calls_work),
		VTEST(threads_before_and_after_apply_are_filtered),
		VTEST(forbidden_call_in_a_thread_kills_the_process),
		VTEST(tsync_failure_is_reported_and_installs_nothing),
		VTEST(device_added_calls_argument_checks_and_denials),
		VTEST(a_full_allowlist_still_applies),
		VTEST(argument_tests_are_whole_words_and_denials_come_first),
		VTEST(executable_memory_is_refused),
		VTEST(production_list_refuses_what_only_sanitizers_need),
		VTEST(argument_rules_stop_at_the_program_size),
		VTEST(listening_context_serves_clients_after_apply),
		VTEST(leaks_are_still_reported_in_sanitizer_builds),
	};

	return vtest_run("sandbox", tests, argc, argv);
}
