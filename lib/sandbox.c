/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sandbox: build a seccomp-bpf program from an allowlist and install it on
 * every thread of the process (vus/sandbox.h). What libvus itself needs is
 * listed in sandbox_calls.c; this file only knows about BPF and seccomp.
 *
 * The program, in order: refuse a foreign architecture (its system call
 * numbers mean other calls), refuse x32 calls on x86_64, then per-call
 * errors on arguments (they take back part of an allow), unconditional
 * allows, allows with argument tests, per-call errors, and finally the
 * default action. Each rule tests the number and its arguments with short
 * forward jumps (a rule is at most 27 instructions), so no jump offset can
 * exceed the 8 bits BPF gives it. An argument test compares both 32-bit
 * halves, each masked.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "sandbox_priv.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#define SANDBOX_ARCH_NAME "x86_64"
#elif defined(__aarch64__) && !defined(__AARCH64EB__) && !defined(__ILP32__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#define SANDBOX_ARCH_NAME "aarch64"
#else
#define SANDBOX_ARCH_NAME "unsupported" /* vus_sandbox_create() refuses */
#endif

/* x86_64 kernels also accept x32 calls: numbers with this bit set. */
#define X32_SYSCALL_BIT 0x40000000u

/* Rules kept, and the program instructions they may take: with the
 * header, the reloads between kinds and the default return (at most 16),
 * the program stays within the kernel's BPF_MAXINSNS (4096). */
#define MAX_RULES 512
#define PROG_MAX 4096
#define MAX_RULE_INSNS (PROG_MAX - 16)
/* No architecture we filter for has system call numbers near this. */
#define MAX_NR 4096

/*
 * Rules are evaluated in this order: conditional denials (they take back
 * part of an allow), allows, allows with argument tests, denials.
 */
enum rule_kind { RULE_DENY_ARGS, RULE_ALLOW, RULE_ALLOW_ARGS, RULE_DENY,
		 RULE_KINDS };

struct rule {
	enum rule_kind kind;
	uint32_t nr;
	uint32_t err;          /* RULE_DENY*: the errno */
	unsigned int ntests;   /* RULE_*_ARGS */
	struct vus_sandbox_arg tests[VUS_SANDBOX_MAX_ARG_TESTS];
};

struct vus_sandbox {
	enum vus_sandbox_action action;
	struct rule rules[MAX_RULES];
	unsigned int nr_rules;
	unsigned int insns; /* the rules' share of the program */
};

static bool nr_ok(long nr)
{
	return nr >= 0 && nr < MAX_NR;
}

static uint32_t lo32(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t hi32(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

/* Instructions one half-word test takes: load, mask unless full, compare. */
static unsigned int half_insns(uint32_t mask)
{
	return mask == 0 ? 0 : mask == UINT32_MAX ? 2 : 3;
}

/* The program instructions rule @r becomes (see emit_args). */
static unsigned int rule_insns(const struct rule *r)
{
	unsigned int n = 3; /* load nr, compare, return */

	if (r->kind == RULE_ALLOW || r->kind == RULE_DENY)
		return 2;
	for (unsigned int i = 0; i < r->ntests; i++)
		n += half_insns(lo32(r->tests[i].mask)) +
		     half_insns(hi32(r->tests[i].mask));
	return n;
}

static bool same_rule(const struct rule *a, const struct rule *b)
{
	if (a->kind != b->kind || a->nr != b->nr || a->ntests != b->ntests)
		return false;
	for (unsigned int i = 0; i < a->ntests; i++)
		if (a->tests[i].arg != b->tests[i].arg ||
		    a->tests[i].mask != b->tests[i].mask ||
		    a->tests[i].value != b->tests[i].value)
			return false;
	return true;
}

static int add_rule(vus_sandbox *sb, const struct rule *r)
{
	for (unsigned int i = 0; i < sb->nr_rules; i++)
		if (same_rule(&sb->rules[i], r)) {
			sb->rules[i].err = r->err; /* a repeated deny takes the new errno */
			return 0;
		}
	if (sb->nr_rules == MAX_RULES ||
	    sb->insns + rule_insns(r) > MAX_RULE_INSNS)
		return -ENOSPC;
	sb->rules[sb->nr_rules++] = *r;
	sb->insns += rule_insns(r);
	return 0;
}

/* A rule with argument tests, checked and normalised (value within mask). */
static int args_rule(enum rule_kind kind, long nr,
		     const struct vus_sandbox_arg *tests, unsigned int n,
		     struct rule *r)
{
	if (!nr_ok(nr) || tests == NULL || n == 0 ||
	    n > VUS_SANDBOX_MAX_ARG_TESTS)
		return -EINVAL;
	*r = (struct rule){ .kind = kind, .nr = (uint32_t)nr, .ntests = n };
	for (unsigned int i = 0; i < n; i++) {
		if (tests[i].arg > 5)
			return -EINVAL;
		r->tests[i] = tests[i];
		r->tests[i].value &= tests[i].mask;
	}
	return 0;
}

VUS_EXPORT int vus_sandbox_create(vus_sandbox **out)
{
	vus_sandbox *sb;
	int ret;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
#ifndef SANDBOX_ARCH
	return -ENOTSUP;
#endif
	sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return -ENOMEM;
	sb->action = VUS_SANDBOX_KILL;
	ret = sandbox_add_base(sb);
	if (ret < 0) {
		free(sb);
		return ret;
	}
	*out = sb;
	return 0;
}

VUS_EXPORT void vus_sandbox_destroy(vus_sandbox *sb)
{
	free(sb);
}

VUS_EXPORT int vus_sandbox_set_action(vus_sandbox *sb,
				      enum vus_sandbox_action action)
{
	if (sb == NULL)
		return -EINVAL;
	switch (action) {
	case VUS_SANDBOX_KILL:
	case VUS_SANDBOX_EPERM:
	case VUS_SANDBOX_ENOSYS:
	case VUS_SANDBOX_LOG:
		sb->action = action;
		return 0;
	}
	return -EINVAL;
}

VUS_EXPORT int vus_sandbox_allow(vus_sandbox *sb, long nr)
{
	if (sb == NULL || !nr_ok(nr))
		return -EINVAL;
	return add_rule(sb, &(struct rule){ .kind = RULE_ALLOW,
					    .nr = (uint32_t)nr });
}

VUS_EXPORT int vus_sandbox_allow_args(vus_sandbox *sb, long nr,
				      const struct vus_sandbox_arg *tests,
				      unsigned int n)
{
	struct rule r;
	int ret;

	if (sb == NULL)
		return -EINVAL;
	ret = args_rule(RULE_ALLOW_ARGS, nr, tests, n, &r);
	return ret < 0 ? ret : add_rule(sb, &r);
}

VUS_EXPORT int vus_sandbox_allow_if(vus_sandbox *sb, long nr, unsigned int arg,
				    uint32_t value)
{
	const struct vus_sandbox_arg t = { .arg = arg, .mask = UINT32_MAX,
					   .value = value };

	return vus_sandbox_allow_args(sb, nr, &t, 1);
}

/* SECCOMP_RET_DATA carries 16 bits, but errno values end at 4095. */
static bool err_ok(int err)
{
	return err >= 1 && err <= 4095;
}

VUS_EXPORT int vus_sandbox_deny_args(vus_sandbox *sb, long nr,
				     const struct vus_sandbox_arg *tests,
				     unsigned int n, int err)
{
	struct rule r;
	int ret;

	if (sb == NULL || !err_ok(err))
		return -EINVAL;
	ret = args_rule(RULE_DENY_ARGS, nr, tests, n, &r);
	if (ret < 0)
		return ret;
	r.err = (uint32_t)err;
	return add_rule(sb, &r);
}

VUS_EXPORT int vus_sandbox_deny(vus_sandbox *sb, long nr, int err)
{
	if (sb == NULL || !nr_ok(nr) || !err_ok(err))
		return -EINVAL;
	return add_rule(sb, &(struct rule){ .kind = RULE_DENY,
					    .nr = (uint32_t)nr,
					    .err = (uint32_t)err });
}

static uint32_t default_ret(enum vus_sandbox_action action)
{
	switch (action) {
	case VUS_SANDBOX_EPERM: return SECCOMP_RET_ERRNO | EPERM;
	case VUS_SANDBOX_ENOSYS: return SECCOMP_RET_ERRNO | ENOSYS;
	case VUS_SANDBOX_LOG: return SECCOMP_RET_LOG;
	case VUS_SANDBOX_KILL: break;
	}
	return SECCOMP_RET_KILL_PROCESS;
}

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(v, jt, jf) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (jt), (jf))
/* Both architectures are little-endian: the low half comes first. */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (ARG_LO(i) + 4)

static uint32_t rule_ret(const struct rule *r)
{
	if (r->kind == RULE_ALLOW || r->kind == RULE_ALLOW_ARGS)
		return SECCOMP_RET_ALLOW;
	return SECCOMP_RET_ERRNO | (r->err & SECCOMP_RET_DATA);
}

/*
 * One half of an argument test: load it, mask it, compare; a mismatch
 * jumps past the rule (patched later, @miss collects the jumps).
 */
static unsigned int emit_half(struct sock_filter *f, unsigned int n,
			      uint32_t off, uint32_t mask, uint32_t value,
			      unsigned int *miss, unsigned int *nmiss)
{
	if (mask == 0)
		return n;
	f[n++] = (struct sock_filter)LD_ARG(off);
	if (mask != UINT32_MAX)
		f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask);
	miss[(*nmiss)++] = n;
	f[n++] = (struct sock_filter)JEQ(value, 0, 0);
	return n;
}

/* A rule with argument tests: nr, then every test, then its return. */
static unsigned int emit_args(const struct rule *r, struct sock_filter *f,
			      unsigned int n)
{
	unsigned int miss[1 + 2 * VUS_SANDBOX_MAX_ARG_TESTS], nmiss = 0;

	f[n++] = (struct sock_filter)LD_NR;
	miss[nmiss++] = n;
	f[n++] = (struct sock_filter)JEQ(r->nr, 0, 0);
	for (unsigned int i = 0; i < r->ntests; i++) {
		const struct vus_sandbox_arg *t = &r->tests[i];

		n = emit_half(f, n, ARG_LO(t->arg), lo32(t->mask), lo32(t->value),
			      miss, &nmiss);
		n = emit_half(f, n, ARG_HI(t->arg), hi32(t->mask), hi32(t->value),
			      miss, &nmiss);
	}
	f[n++] = (struct sock_filter)RET(rule_ret(r));
	/* At most 27 instructions per rule: every jump fits in 8 bits. */
	for (unsigned int i = 0; i < nmiss; i++)
		f[miss[i]].jf = (uint8_t)(n - miss[i] - 1);
	return n;
}

/* Emit the rules of one kind; returns the new instruction count. */
static unsigned int emit(const vus_sandbox *sb, enum rule_kind kind,
			 struct sock_filter *f, unsigned int n)
{
	bool plain = kind == RULE_ALLOW || kind == RULE_DENY;

	/* Plain rules compare the number in A; argument rules clobber A. */
	if (plain)
		f[n++] = (struct sock_filter)LD_NR;
	for (unsigned int i = 0; i < sb->nr_rules; i++) {
		const struct rule *r = &sb->rules[i];

		if (r->kind != kind)
			continue;
		if (!plain) {
			n = emit_args(r, f, n);
			continue;
		}
		f[n++] = (struct sock_filter)JEQ(r->nr, 0, 1);
		f[n++] = (struct sock_filter)RET(rule_ret(r));
	}
	return n;
}

/* Build the program into @f (room for PROG_MAX); returns its length. */
static unsigned int build(const vus_sandbox *sb, struct sock_filter *f)
{
	uint32_t dflt = default_ret(sb->action);
	unsigned int n = 0;

#ifdef SANDBOX_ARCH
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)JEQ(SANDBOX_ARCH, 1, 0);
	f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
	f[n++] = (struct sock_filter)LD_NR;
#ifdef __x86_64__
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	f[n++] = (struct sock_filter)RET(dflt);
#endif
	for (enum rule_kind k = 0; k < RULE_KINDS; k++)
		n = emit(sb, k, f, n);
	f[n++] = (struct sock_filter)RET(dflt);
	return n;
}

static const char *action_name(enum vus_sandbox_action action)
{
	static const char *const names[] = { "kill the process", "fail with EPERM",
					     "fail with ENOSYS", "are logged" };

	return names[action];
}

static void log_applied(const vus_sandbox *sb, vus_ctx *ctx, int ret, int tid)
{
	unsigned int counts[RULE_KINDS] = { 0 };

	if (ctx == NULL)
		return;
	if (ret == -EBUSY) {
		log_msg(ctx_log(ctx), VUS_LOG_ERR, "sandbox not applied: thread %d "
			"runs a filter of its own (TSYNC failed)", tid);
		return;
	}
	if (ret < 0) {
		log_msg(ctx_log(ctx), VUS_LOG_ERR, "sandbox not applied: %s",
			strerror(-ret));
		return;
	}
	for (unsigned int i = 0; i < sb->nr_rules; i++)
		counts[sb->rules[i].kind]++;
	log_msg(ctx_log(ctx), VUS_LOG_NOTICE, "sandbox applied (seccomp, %s, all "
		"threads): %u calls allowed, %u with argument checks, %u "
		"denied with an errno; others %s%s",
		SANDBOX_ARCH_NAME, counts[RULE_ALLOW], counts[RULE_ALLOW_ARGS],
		counts[RULE_DENY] + counts[RULE_DENY_ARGS],
		action_name(sb->action),
		sandbox_sanitizer_build() ? "; sanitizer runtime's calls allowed" : "");
}

VUS_EXPORT int vus_sandbox_apply(const vus_sandbox *sb, vus_ctx *ctx)
{
	struct sock_filter *f;
	struct sock_fprog prog;
	long r;
	int ret = 0, tid = 0;

	if (sb == NULL)
		return -EINVAL;
	f = calloc(PROG_MAX, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	prog = (struct sock_fprog){ .len = (unsigned short)build(sb, f), .filter = f };
	/* Required for an unprivileged filter; TSYNC copies it to all threads. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ret = -errno;
	if (ret == 0) {
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_TSYNC, &prog);
		if (r < 0) {
			ret = -errno;
		} else if (r > 0) {
			/* TSYNC names the thread it could not synchronise. */
			tid = (int)r;
			ret = -EBUSY;
		}
	}
	free(f);
	log_applied(sb, ctx, ret, tid);
	/* Management calls that would open files refuse from now on. */
	if (ret == 0 && ctx != NULL)
		ctx_set_sandboxed(ctx);
	return ret;
}
