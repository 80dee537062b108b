/* SPDX-License-Identifier: MIT */
#include "vmm/jail.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#define RULE(sys, param, why) { SCMP_SYS(sys), #sys, param, -1, why }
#define RULE2(sys, param, a1, why) { SCMP_SYS(sys), #sys "(" #a1 ")", param, (long)(a1), why }
#define IOCTL(req, why) { SCMP_SYS(ioctl), "ioctl(" #req ")", -1, (long)(req), why }

#define WORKER_COMMON                                                                        \
	RULE(io_uring_enter, 0, "submit the queue's I/O and wait for completions, on its own ring"), \
	RULE(write, 1, "raise the device's interrupt through its irqfd"),                     \
	RULE(futex, -1, "the lock and condition variable shared with the transport"),         \
	RULE(madvise, -1, "glibc releases the thread's stack when it exits"),                 \
	RULE(munmap, -1, "free() may give memory back when the thread exits"),                \
	RULE(rt_sigprocmask, -1, "glibc masks signals while the thread exits"),               \
	RULE(restart_syscall, -1, "resume an interrupted wait"),                              \
	RULE(exit, -1, "the thread exits")

static const struct jail_rule worker_rules[] = {
	WORKER_COMMON,
};

static const struct jail_rule net_ctrl_rules[] = {
	WORKER_COMMON,
	IOCTL(TUNSETQUEUE, "attach the tap queues of the pairs the driver enables, detach the others"),
};

/* The FUSE server's host calls. Every path argument it passes is one
 * component (no '/', not "." or "..") or "" with AT_EMPTY_PATH, relative
 * to an O_PATH handle beneath the share; seccomp cannot check strings, so
 * the confinement itself is openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * and the server's checks (docs/architecture.md). No open(), no execve, no
 * sockets. */
static const struct jail_rule fs_rules[] = {
	WORKER_COMMON,
	RULE2(io_uring_register, 0, IORING_REGISTER_FILES_UPDATE,
	      "put an opened file into (or take it out of) the ring's sparse file table"),
	RULE(openat2, -1, "resolve one name beneath a directory handle (RESOLVE_BENEATH, no symlinks)"),
	RULE(close, -1, "drop a handle the guest forgot or released"),
	RULE(newfstatat, -1, "GETATTR and identity checks (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW)"),
	RULE(fstatfs, -1, "STATFS"),
	RULE(getdents64, -1, "READDIR(PLUS)"),
	RULE(lseek, -1, "READDIR offsets, LSEEK"),
	RULE(readlinkat, -1, "READLINK on the link's own handle"),
	RULE(symlinkat, -1, "SYMLINK (never followed on the host)"),
	RULE(mkdirat, -1, "MKDIR"),
	RULE(mknodat, -1, "MKNOD (regular files, FIFOs, sockets only)"),
	RULE(unlinkat, -1, "UNLINK, RMDIR"),
	RULE(renameat, -1, "RENAME (glibc's renameat2 without flags)"),
	RULE(renameat2, -1, "RENAME2 between two directory handles of the share"),
	RULE(linkat, -1, "LINK (AT_EMPTY_PATH on the source handle)"),
	RULE(fchmodat, -1, "SETATTR mode, after checking the name is the inode and no symlink"),
	RULE(fchownat, -1, "SETATTR uid/gid (AT_EMPTY_PATH, no follow)"),
	RULE(utimensat, -1, "SETATTR times (AT_SYMLINK_NOFOLLOW)"),
	RULE(ftruncate, -1, "SETATTR size"),
	RULE(fallocate, -1, "FALLOCATE"),
	RULE(fsync, -1, "FSYNC, FSYNCDIR"),
	RULE(fdatasync, -1, "FSYNC with FUSE_FSYNC_FDATASYNC"),
	RULE(fgetxattr, -1, "GETXATTR (shares with xattr only)"),
	RULE(flistxattr, -1, "LISTXATTR (shares with xattr only)"),
	RULE(fsetxattr, -1, "SETXATTR (shares with xattr only)"),
	RULE(fremovexattr, -1, "REMOVEXATTR (shares with xattr only)"),
};

/* Sanitizer builds only (tests): the ASan/UBSan runtime maps shadow and
 * allocator memory and swaps signal stacks on any thread. Release builds
 * never carry these rules. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define CVMM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define CVMM_SANITIZED 1
#endif
#endif
#ifdef CVMM_SANITIZED
static const struct jail_rule sanitizer_rules[] = {
	RULE(mmap, -1, "sanitizer runtime: shadow and allocator memory"),
	RULE(munmap, -1, "sanitizer runtime: frees what it mapped"),
	RULE(mprotect, -1, "sanitizer runtime: guard pages"),
	RULE(sigaltstack, -1, "sanitizer runtime: per-thread alternate signal stack"),
	RULE(madvise, -1, "sanitizer runtime: releases allocator memory"),
	RULE(getpid, -1, "sanitizer runtime: reports"),
	RULE(gettid, -1, "sanitizer runtime: reports"),
	RULE(write, -1, "sanitizer runtime: writes its report to stderr"),
	RULE(exit_group, -1, "sanitizer runtime: exits after a report"),
};
#endif

const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n)
{
	switch (kind) {
	case JAIL_VIRTIO_WORKER:
		*n = sizeof(worker_rules) / sizeof(worker_rules[0]);
		return worker_rules;
	case JAIL_NET_CTRL:
		*n = sizeof(net_ctrl_rules) / sizeof(net_ctrl_rules[0]);
		return net_ctrl_rules;
	case JAIL_FS_WORKER:
		*n = sizeof(fs_rules) / sizeof(fs_rules[0]);
		return fs_rules;
	}
	*n = 0;
	return NULL;
}

int jail_build(enum jail_kind kind, const int *params, void **out, struct err *e)
{
	unsigned n;
	const struct jail_rule *rules = jail_rules(kind, &n);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return err_set(e, ENOMEM, "seccomp_init failed");
	/* Without TSYNC (libseccomp's default): each thread loads its own. */
	int r = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		if (rules[i].arg1 >= 0 && rules[i].param >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 2,
					     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)params[rules[i].param]),
					     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)rules[i].arg1));
		else if (rules[i].arg1 >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 1,
					     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)rules[i].arg1));
		else if (rules[i].param < 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 0);
		else
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 1,
					     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)params[rules[i].param]));
		if (r < 0) {
			seccomp_release(ctx);
			return err_set(e, -r, "seccomp rule for %s: %s", rules[i].name, strerror(-r));
		}
	}
#ifdef CVMM_SANITIZED
	for (unsigned i = 0; i < sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_rules[i].nr, 0);
	if (r < 0) {
		seccomp_release(ctx);
		return err_set(e, -r, "seccomp sanitizer rules: %s", strerror(-r));
	}
#endif
	*out = ctx;
	return 0;
}

int jail_load(void *ctx)
{
	int r = seccomp_load(ctx); /* also sets NO_NEW_PRIVS (libseccomp default) */
	seccomp_release(ctx);
	return r;
}

void jail_free(void *ctx)
{
	if (ctx)
		seccomp_release(ctx);
}
