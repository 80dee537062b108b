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
#include <sys/ioctl.h>

#include "core/jail.h"
#include "devices/virtio/worker.h"

/* fchmodat2 (Linux 6.6) is 452 on x86_64 and aarch64 alike; the 6.1 uapi
 * headers and libseccomp 2.5.4 lack the number (SCMP_SYS uses __NR_). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

#define RULE	 JAIL_RULE
#define RULE2	 JAIL_RULE2
#define IOCTL	 JAIL_IOCTL

#define WORKER_COMMON                                                                        \
	RULE(io_uring_enter, 0, "submit the queue's I/O and wait for completions, on its own ring"), \
	RULE(write, 1, "raise the queue's interrupt through its irqfd"),                      \
	RULE(write, 3, "raise the configuration interrupt (a broken queue: NEEDS_RESET)"),    \
	RULE(write, 4, "raise the interrupt of the second queue it serves (vsock: RX)"),      \
	RULE(futex, -1, "the lock and condition variable shared with the transport"),         \
	RULE(madvise, -1, "glibc releases the thread's stack when it exits"),                 \
	RULE(munmap, -1, "free() may give memory back when the thread exits"),                \
	RULE(rt_sigprocmask, -1, "glibc masks signals while the thread exits"),               \
	RULE(restart_syscall, -1, "resume an interrupted wait"),                              \
	RULE(exit, -1, "the thread exits"),                                                   \
	{ SCMP_SYS(write), "write(2, ...)", -1, -1, JAIL_A0_STDERR,                          \
	  "the SIGSYS handler names the forbidden call on stderr" }

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
	RULE(linkat, -1, "LINK: the source handle (AT_EMPTY_PATH, or its /proc/self/fd link)"),
	RULE(fchmodat2, -1, "SETATTR mode on the inode's handle (AT_EMPTY_PATH; Linux 6.6)"),
	RULE(fchmodat, -1, "SETATTR mode before 6.6: the handle's /proc/self/fd link, no name"),
	RULE(fchmod, -1, "SETATTR mode without /proc: a descriptor checked to be the inode"),
	RULE(fchownat, -1, "SETATTR uid/gid (AT_EMPTY_PATH, no follow)"),
	RULE(utimensat, -1, "SETATTR times on the inode's handle (AT_EMPTY_PATH, no follow)"),
	RULE(ftruncate, -1, "SETATTR size, O_TRUNC: on a descriptor checked to be the inode"),
	RULE2(fcntl, -1, F_SETFL,
	      "clear O_NONBLOCK once an open is checked to be a regular file (FIFOs never block)"),
	RULE(fallocate, -1, "FALLOCATE"),
	RULE(fsync, -1, "FSYNC, FSYNCDIR"),
	RULE(fdatasync, -1, "FSYNC with FUSE_FSYNC_FDATASYNC"),
	RULE(fgetxattr, -1, "GETXATTR (shares with xattr only)"),
	RULE(flistxattr, -1, "LISTXATTR (shares with xattr only)"),
	RULE(fsetxattr, -1, "SETXATTR (shares with xattr only)"),
	RULE(fremovexattr, -1, "REMOVEXATTR (shares with xattr only)"),
};

static const struct jail_rule rng_rules[] = {
	WORKER_COMMON,
	RULE(getrandom, -1, "fill the guest's buffers with the host's random bytes (virtio-rng)"),
};

const struct jail_table vq_jail_worker = JAIL_TABLE("virtqueue worker", worker_rules);
const struct jail_table vq_jail_net_ctrl = JAIL_TABLE("net control worker", net_ctrl_rules);
const struct jail_table vq_jail_fs = JAIL_TABLE("fs worker", fs_rules);
const struct jail_table vq_jail_rng = JAIL_TABLE("rng worker", rng_rules);
