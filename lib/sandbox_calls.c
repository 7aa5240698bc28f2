/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sandbox_calls: the system calls a realized, listening libvus context
 * makes, each with the reason it is there. Found by reading lib/ and by
 * running the client, sample and QEMU guest tests under strace -f
 * (doc/sandbox.md). Calls that exist only on some architectures are
 * guarded: aarch64 has no poll, epoll_wait, readlink, access or unlink,
 * and its C library uses the *at / p* forms instead.
 */
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common.h"
#include "mig_spill.h"
#include "sandbox_priv.h"

static const long base_calls[] = {
	/* Serving: a new client, messages with their fds, the event loop. */
	SYS_accept4,
	SYS_recvmsg,
	SYS_sendmsg,
	SYS_epoll_ctl,
	SYS_epoll_pwait,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
	/* Waiting for the client's reply to the server's own DMA request. */
	SYS_ppoll,
#ifdef SYS_poll
	SYS_poll,
#endif
	/* Eventfds (wake-up, interrupts, doorbells) and log lines on stderr;
	 * eventfds a client shares are drained with preadv2(RWF_NOWAIT) and
	 * signalled through an AIO poll completion, which cannot block, and
	 * each client gets doorbell eventfds of its own (eventfd2). */
	SYS_read,
	SYS_write,
	SYS_close,
	SYS_preadv2,
	SYS_eventfd2,
	SYS_io_setup,
	SYS_io_submit,
	SYS_io_getevents,
	/* Non-blocking mode on accepted sockets. */
	SYS_fcntl,
	/* DMA maps of client memory (fstat checks the fd is big enough), and
	 * the C library's allocator: brk, mmap, mremap, mprotect for the
	 * heaps of threads, madvise when it gives memory back. mmap and
	 * mprotect only without PROT_EXEC (sandbox_add_base). */
	SYS_munmap,
	SYS_mremap,
	SYS_madvise,
	SYS_brk,
	SYS_fstat,
	SYS_newfstatat,
	/* Interrupt fds must be eventfds: read the /proc/self/fd link; the
	 * access() fallback runs when /proc is not mounted. Reading a link or
	 * testing a path reveals names, it changes nothing. */
	SYS_readlinkat,
	SYS_faccessat,
#ifdef SYS_faccessat2
	SYS_faccessat2,
#endif
#ifdef SYS_readlink
	SYS_readlink,
#endif
#ifdef SYS_access
	SYS_access,
#endif
	/* A migration destination reads back the sections it spilled to
	 * its stage directory (migration/mig_spill.c), which it creates
	 * with openat() of exactly MIG_SPILL_OPEN_FLAGS (sandbox_add_base). */
	SYS_pread64,
	/* A hand-over to a new process (live upgrade) served from the
	 * loop: its deadline. */
	SYS_timerfd_create,
	SYS_timerfd_settime,
	/* vus_ctx_destroy() removes the socket it created. */
	SYS_unlinkat,
#ifdef SYS_unlink
	SYS_unlink,
#endif
	/* A thread registers these first thing; one started just before the
	 * sandbox may get to it only after. */
	SYS_set_robust_list,
#ifdef SYS_rseq
	SYS_rseq,
#endif
	/* Locks (the log's rate limit, device threads); the allocator seeds
	 * itself from getrandom on first use in a thread. */
	SYS_futex,
	SYS_getrandom,
	/* Time: normally the vDSO, these when it is not there. */
	SYS_clock_gettime,
	SYS_clock_nanosleep,
	SYS_nanosleep,
	SYS_gettimeofday,
	/* Signals: SIGINT/SIGTERM handlers that stop the context return
	 * through rt_sigreturn, and an interrupted wait restarts. */
	SYS_rt_sigreturn,
	SYS_rt_sigprocmask,
	/* Each DMA map checks that the SIGBUS handler that survives client
	 * memory vanishing is still the installed one (dma_fault.c). */
	SYS_rt_sigaction,
	SYS_restart_syscall,
	SYS_exit,
	SYS_exit_group,
};

/*
 * AddressSanitizer's runtime. At exit LeakSanitizer clones a helper task
 * (CLONE_VM without CLONE_THREAD) that checks its parent is alive
 * (getppid), lists /proc/self/task (getdents), ptrace()s every thread and
 * waits for it, while the main thread lets it (prctl) and yields; both
 * read /proc/self/maps. Each thread the runtime sees start asks for its
 * attributes (CPU set included). A report checks whether stderr is a
 * terminal and symbolizes the stack by reading the binary; abort_on_error
 * raises SIGABRT. Found by running the samples' suites with
 * VUS_SANDBOX_LOG and this list left out (the kernel logged getppid,
 * getdents, prctl, gettid, getpid, clone, sched_yield), by what killed
 * test_sandbox (sched_getaffinity, ioctl TCGETS), and from what
 * LeakSanitizer does; test_sandbox's leak case and the sample suites in
 * the ASan build check it is enough. Only in a library built with the
 * sanitizer, whose program then has the same runtime.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

#ifdef SANDBOX_ASAN
static const long sanitizer_calls[] = {
	SYS_clone,
	SYS_getppid,
	SYS_prctl,
	SYS_ptrace,
	SYS_wait4,
	SYS_getdents64,
#ifdef SYS_getdents
	SYS_getdents,
#endif
	SYS_openat,
#ifdef SYS_open
	SYS_open,
#endif
	SYS_lseek,
	SYS_pread64,
	SYS_sched_yield,
	SYS_sigaltstack,
	SYS_rt_sigaction,
	SYS_getpid,
	SYS_gettid,
	SYS_tgkill,
	SYS_kill,
	/* Every new thread asks for its attributes, CPU set included. */
	SYS_sched_getaffinity,
};
#endif

bool sandbox_sanitizer_build(void)
{
#ifdef SANDBOX_ASAN
	return true;
#else
	return false;
#endif
}

/*
 * Nothing we do maps code once serving: refusing PROT_EXEC leaves a
 * server that has been taken over no way to make new code of its own
 * (mremap keeps protections; pkey_mprotect and remap_file_pages are
 * not allowed at all).
 */
static int add_no_exec_maps(vus_sandbox *sb)
{
	const struct vus_sandbox_arg no_exec = VUS_SANDBOX_ARG_CLEAR(2, PROT_EXEC);
	int ret = vus_sandbox_allow_args(sb, SYS_mmap, &no_exec, 1);

	return ret ? ret : vus_sandbox_allow_args(sb, SYS_mprotect, &no_exec, 1);
}

int sandbox_add_base(vus_sandbox *sb)
{
	int ret = add_no_exec_maps(sb);

	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(base_calls); i++)
		ret = vus_sandbox_allow(sb, base_calls[i]);
	/* Crash recovery's peek mode asks how many bytes a partly arrived
	 * message has in the socket (FIONREAD, i.e. SIOCINQ). */
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_ioctl, 1, FIONREAD);
	/* Only an unnamed file in a directory opened before confinement
	 * (the migration stage directory): no path is opened, no name made. */
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_openat, 2, MIG_SPILL_OPEN_FLAGS);
#ifdef SANDBOX_ASAN
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(sanitizer_calls); i++)
		ret = vus_sandbox_allow(sb, sanitizer_calls[i]);
	/* A report asks whether stderr is a terminal (for colours). */
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_ioctl, 1, TCGETS);
#endif
	return ret;
}
