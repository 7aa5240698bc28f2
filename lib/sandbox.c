/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sandbox: build a seccomp-bpf program from an allowlist and install it on
 * every thread of the process (vus/sandbox.h). What libvus itself needs is
 * listed in sandbox_calls.c; this file only knows about BPF and seccomp.
 *
 * The program, in order: refuse a foreign architecture (its system call
 * numbers mean other calls), refuse x32 calls on x86_64, then unconditional
 * allows, allows with an argument check, per-call errors, and finally the
 * default action. Each rule tests the number with a short forward jump, so
 * no jump offset can exceed the 8 bits BPF gives it.
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

/* 512 rules of at most 5 instructions stay below BPF_MAXINSNS (4096). */
#define MAX_RULES 512
/* No architecture we filter for has system call numbers near this. */
#define MAX_NR 4096

enum rule_kind { RULE_ALLOW, RULE_ALLOW_IF, RULE_DENY };

struct rule {
	enum rule_kind kind;
	uint32_t nr;
	uint32_t arg;   /* RULE_ALLOW_IF: argument index */
	uint32_t value; /* RULE_ALLOW_IF: low 32 bits to match; RULE_DENY: errno */
};

struct vus_sandbox {
	enum vus_sandbox_action action;
	struct rule rules[MAX_RULES];
	unsigned int nr_rules;
};

static bool nr_ok(long nr)
{
	return nr >= 0 && nr < MAX_NR;
}

/* The existing rule equal to @r in kind, number and (for ALLOW_IF) test. */
static struct rule *find_rule(vus_sandbox *sb, const struct rule *r)
{
	for (unsigned int i = 0; i < sb->nr_rules; i++) {
		struct rule *o = &sb->rules[i];

		if (o->kind != r->kind || o->nr != r->nr)
			continue;
		if (r->kind != RULE_ALLOW_IF ||
		    (o->arg == r->arg && o->value == r->value))
			return o;
	}
	return NULL;
}

static int add_rule(vus_sandbox *sb, const struct rule *r)
{
	struct rule *o = find_rule(sb, r);

	if (o != NULL) {
		o->value = r->value; /* a repeated deny takes the new errno */
		return 0;
	}
	if (sb->nr_rules == MAX_RULES)
		return -ENOSPC;
	sb->rules[sb->nr_rules++] = *r;
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

VUS_EXPORT int vus_sandbox_allow_if(vus_sandbox *sb, long nr, unsigned int arg,
				    uint32_t value)
{
	if (sb == NULL || !nr_ok(nr) || arg > 5)
		return -EINVAL;
	return add_rule(sb, &(struct rule){ .kind = RULE_ALLOW_IF,
					    .nr = (uint32_t)nr, .arg = arg,
					    .value = value });
}

VUS_EXPORT int vus_sandbox_deny(vus_sandbox *sb, long nr, int err)
{
	/* SECCOMP_RET_DATA carries 16 bits, but errno values end at 4095. */
	if (sb == NULL || !nr_ok(nr) || err < 1 || err > 4095)
		return -EINVAL;
	return add_rule(sb, &(struct rule){ .kind = RULE_DENY,
					    .nr = (uint32_t)nr,
					    .value = (uint32_t)err });
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
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* Both architectures are little-endian: the low half comes first. */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

/* Emit the rules of one kind; returns the new instruction count. */
static unsigned int emit(const vus_sandbox *sb, enum rule_kind kind,
			 struct sock_filter *f, unsigned int n)
{
	for (unsigned int i = 0; i < sb->nr_rules; i++) {
		const struct rule *r = &sb->rules[i];

		if (r->kind != kind)
			continue;
		if (kind == RULE_ALLOW_IF) {
			/* A holds an argument after this block: reload. */
			f[n++] = (struct sock_filter)LD_NR;
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, r->nr, 0, 3);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg));
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, r->value, 0, 1);
			f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
			continue;
		}
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, r->nr, 0, 1);
		f[n++] = (struct sock_filter)RET(kind == RULE_ALLOW ? SECCOMP_RET_ALLOW
				: SECCOMP_RET_ERRNO | (r->value & SECCOMP_RET_DATA));
	}
	return n;
}

/* Build the program into @f (room for 8 + 5 * MAX_RULES); returns its length. */
static unsigned int build(const vus_sandbox *sb, struct sock_filter *f)
{
	uint32_t dflt = default_ret(sb->action);
	unsigned int n = 0;

#ifdef SANDBOX_ARCH
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
	f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
	f[n++] = (struct sock_filter)LD_NR;
#ifdef __x86_64__
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	f[n++] = (struct sock_filter)RET(dflt);
#endif
	n = emit(sb, RULE_ALLOW, f, n);
	n = emit(sb, RULE_ALLOW_IF, f, n);
	f[n++] = (struct sock_filter)LD_NR;
	n = emit(sb, RULE_DENY, f, n);
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
	unsigned int counts[3] = { 0 };

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
		"threads): %u calls allowed, %u with an argument check, %u "
		"denied with an errno; others %s%s", SANDBOX_ARCH_NAME,
		counts[RULE_ALLOW], counts[RULE_ALLOW_IF], counts[RULE_DENY],
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
	f = calloc(8 + 5 * MAX_RULES, sizeof(*f));
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
	return ret;
}
