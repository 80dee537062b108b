/* SPDX-License-Identifier: MIT */
/* The virtqueue workers' seccomp tables (core/jail.h): one per worker kind,
 * one reason per rule. A worker's io_uring does its I/O (seccomp does not
 * see io_uring operations; the ring's own restrictions limit those,
 * worker.c), so the tables hold little beyond the ring, the interrupts and
 * what glibc does when a thread ends. */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/jail.h"
#include "devices/virtio/worker.h"

/* fchmodat2 (Linux 6.6) is 452 on x86_64 and aarch64 alike; the 6.1 uapi
 * headers and libseccomp 2.5.4 lack the number (SCMP_SYS uses __NR_). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

#define RULE JAIL_RULE
#define FD   JAIL_FD
#define EQ   JAIL_EQ

/* Every worker's rules; madv: its madvise rule */
#define WORKER_COMMON_WITH(madv)                                                                   \
	RULE(io_uring_enter, "submit the queue's I/O and wait for completions, on its own ring",   \
	     FD(0, RING)),                                                                         \
		RULE(write, "raise the queue's interrupt through its irqfd", FD(0, IRQ)),          \
		RULE(write, "raise the configuration interrupt (a broken queue: NEEDS_RESET)",     \
		     FD(0, CONFIG_IRQ)),                                                           \
		RULE(write, "raise the interrupt of the second queue it serves (vsock: RX)",       \
		     FD(0, NOTIFY_IRQ)),                                                           \
		RULE(futex, "the lock and condition variable shared with the transport"), madv,    \
		RULE(munmap, "free() may give memory back when the thread exits"),                 \
		RULE(brk,                                                                          \
		     "the thread's exit returns its malloc cache to its arena: the main arena "    \
		     "(shared once threads outnumber 8 per CPU) gives memory back with brk"),      \
		RULE(rt_sigprocmask, "glibc masks signals while the thread exits"),                \
		RULE(restart_syscall, "resume an interrupted wait"),                               \
		RULE(clock_gettime,                                                                \
		     "timers (rate limiters, vsock's deadlines): the monotonic clock, where the "  \
		     "vDSO falls back to the call"),                                               \
		RULE(exit, "the thread exits"),                                                    \
		RULE(write, "the SIGSYS handler names the forbidden call on stderr",               \
		     EQ(0, STDERR_FILENO))

#define WORKER_COMMON                                                                              \
	WORKER_COMMON_WITH(RULE(madvise, "glibc releases the thread's stack when it exits"))

static const struct jail_rule worker_rules[] = {
	WORKER_COMMON,
};

static const struct jail_rule net_ctrl_rules[] = {
	WORKER_COMMON,
	RULE(ioctl, "attach the tap queues of the pairs the driver enables, detach the others",
	     EQ(1, TUNSETQUEUE)),
};

/* The FUSE server's host calls. Every path argument it passes is one
 * component (no '/', not "." or "..") or "" with AT_EMPTY_PATH, relative
 * to an O_PATH handle beneath the share; seccomp cannot check strings, so
 * the confinement itself is openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * and the server's checks (docs/architecture.md). No open(), no execve, no
 * sockets. */
static const struct jail_rule fs_rules[] = {
	WORKER_COMMON,
	RULE(io_uring_register,
	     "put an opened file into (or take it out of) the ring's sparse file table",
	     FD(0, RING), EQ(1, IORING_REGISTER_FILES_UPDATE)),
	RULE(openat2, "resolve one name beneath a directory handle (RESOLVE_BENEATH, no symlinks)"),
	RULE(close, "drop a handle the guest forgot or released"),
	RULE(newfstatat, "GETATTR and identity checks (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW)"),
	RULE(fstatfs, "STATFS"),
	RULE(getdents64, "READDIR(PLUS)"),
	RULE(lseek, "READDIR offsets, LSEEK"),
	RULE(readlinkat, "READLINK on the link's own handle"),
	RULE(symlinkat, "SYMLINK (never followed on the host)"),
	RULE(mkdirat, "MKDIR"),
	RULE(mknodat, "MKNOD (regular files, FIFOs, sockets only)"),
	RULE(unlinkat, "UNLINK, RMDIR"),
	RULE(renameat, "RENAME (glibc's renameat2 without flags)"),
	RULE(renameat2, "RENAME2 between two directory handles of the share"),
	RULE(linkat, "LINK: the source handle (AT_EMPTY_PATH, or its /proc/self/fd link)"),
	RULE(fchmodat2, "SETATTR mode on the inode's handle (AT_EMPTY_PATH; Linux 6.6)"),
	RULE(fchmodat, "SETATTR mode before 6.6: the handle's /proc/self/fd link, no name"),
	RULE(fchmod, "SETATTR mode without /proc: a descriptor checked to be the inode"),
	RULE(fchownat, "SETATTR uid/gid (AT_EMPTY_PATH, no follow)"),
	RULE(utimensat, "SETATTR times on the inode's handle (AT_EMPTY_PATH, no follow)"),
	RULE(ftruncate, "SETATTR size, O_TRUNC: on a descriptor checked to be the inode"),
	RULE(fcntl,
	     "clear O_NONBLOCK once an open is checked to be a regular file (FIFOs never block)",
	     EQ(1, F_SETFL)),
	RULE(fallocate, "FALLOCATE"),
	RULE(fsync, "FSYNC, FSYNCDIR"),
	RULE(fdatasync, "FSYNC with FUSE_FSYNC_FDATASYNC"),
	RULE(fgetxattr, "GETXATTR (shares with xattr only)"),
	RULE(flistxattr, "LISTXATTR (shares with xattr only)"),
	RULE(fsetxattr, "SETXATTR (shares with xattr only)"),
	RULE(fremovexattr, "REMOVEXATTR (shares with xattr only)"),
};

static const struct jail_rule rng_rules[] = {
	WORKER_COMMON,
	RULE(getrandom, "fill the guest's buffers with the host's random bytes (virtio-rng)"),
};

/* virtio-balloon: the guest's pages released, with the one advice that
 * drops them (which is also glibc's for a thread's stack at exit). */
static const struct jail_rule balloon_rules[] = {
	WORKER_COMMON_WITH(RULE(madvise,
				"release the pages the guest gave back (glibc: a thread's stack "
				"at exit)",
				EQ(2, MADV_DONTNEED))),
};

const struct jail_table vq_jail_worker = JAIL_TABLE("virtqueue worker", worker_rules);
const struct jail_table vq_jail_net_ctrl = JAIL_TABLE("net control worker", net_ctrl_rules);
const struct jail_table vq_jail_fs = JAIL_TABLE("fs worker", fs_rules);
const struct jail_table vq_jail_rng = JAIL_TABLE("rng worker", rng_rules);
const struct jail_table vq_jail_balloon = JAIL_TABLE("balloon worker", balloon_rules);

static const struct jail_rule net_tx_rules[] = {
	WORKER_COMMON,
	RULE(clock_gettime,
	     "MMDS: token expiry and idle connections (where the vDSO falls back to the call)",
	     EQ(0, CLOCK_MONOTONIC)),
};
const struct jail_table vq_jail_net_tx = JAIL_TABLE("net TX worker", net_tx_rules);
