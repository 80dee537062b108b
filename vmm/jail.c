/* SPDX-License-Identifier: MIT */
#include "vmm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

/* fchmodat2 (Linux 6.6) is 452 on x86_64 and aarch64 alike; the 6.1 uapi
 * headers and libseccomp 2.5.4 lack the number (SCMP_SYS uses __NR_). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

/* A rule: the syscall, its reason, then the bounds on its arguments (none:
 * any arguments), each naming the argument it is on. */
#define RULE(sys, why, ...) { SCMP_SYS(sys), #sys, { __VA_ARGS__ }, why }
/* argument n is the descriptor of slot f (struct jail_fds) */
#define FD(n, f) { .arg = (n), .cmp = JAIL_CMP_FD, .fd = JAIL_FD_##f }
/* argument n equals v (an ioctl request, an fcntl command, a flag set) */
#define EQ(n, v) { .arg = (n), .cmp = JAIL_CMP_EQ, .value = (uint64_t)(v), .text = #v }
/* argument n has none of the bits of v */
#define CLEAR(n, v) { .arg = (n), .cmp = JAIL_CMP_CLEAR, .value = (uint64_t)(v), .text = #v }

#define WORKER_COMMON                                                                        \
	RULE(io_uring_enter, "submit the queue's I/O and wait for completions, on its own ring", \
	     FD(0, RING)),                                                                   \
	RULE(write, "raise the queue's interrupt through its irqfd", FD(0, IRQ)),            \
	RULE(write, "raise the configuration interrupt (a broken queue: NEEDS_RESET)",      \
	     FD(0, CONFIG_IRQ)),                                                             \
	RULE(write, "raise the interrupt of the second queue it serves (vsock: RX)",        \
	     FD(0, NOTIFY_IRQ)),                                                             \
	RULE(futex, "the lock and condition variable shared with the transport"),             \
	RULE(madvise, "glibc releases the thread's stack when it exits"),                     \
	RULE(munmap, "free() may give memory back when the thread exits"),                    \
	RULE(rt_sigprocmask, "glibc masks signals while the thread exits"),                   \
	RULE(restart_syscall, "resume an interrupted wait"),                                  \
	RULE(exit, "the thread exits"),                                                       \
	RULE(write, "the SIGSYS handler names the forbidden call on stderr", EQ(0, STDERR_FILENO))

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

/* Both the vCPU and the control thread allocate (malloc's arenas and
 * frees) and exit through glibc. */
#define ALLOC_AND_EXIT                                                                       \
	RULE(mmap, "malloc: arenas and large blocks (never executable)", CLEAR(2, PROT_EXEC)), \
	RULE(mprotect, "malloc: growing an arena (never executable)", CLEAR(2, PROT_EXEC)),    \
	RULE(munmap, "free: large blocks, arena trimming"),                                   \
	RULE(madvise, "free: returning pages; glibc releases a thread's stack at exit"),      \
	RULE(brk, "malloc on the main arena"),                                                \
	RULE(futex, "locks and condition variables shared with the other threads"),           \
	RULE(rt_sigprocmask, "glibc masks signals around thread exit and pthread calls"),     \
	RULE(restart_syscall, "resume an interrupted wait"),                                  \
	RULE(clock_gettime, "timestamps (when the vDSO falls back to the syscall)"),          \
	RULE(time, "the RTC's time (when the vDSO falls back to the syscall)"),               \
	RULE(gettimeofday, "libc time calls (when the vDSO falls back to the syscall)"),      \
	RULE(getpid, "pthread_kill names the process"),                                       \
	RULE(tgkill, "kick vCPU threads out of KVM_RUN (pause, stop, exit) with the kick signal")

static const struct jail_rule rng_rules[] = {
	WORKER_COMMON,
	RULE(getrandom, "fill the guest's buffers with the host's random bytes (virtio-rng)"),
};

/* A vCPU thread: KVM_RUN and what its exit handlers (the device register
 * handlers on the port and MMIO buses) do. ioctls are limited by request,
 * and the KVM ones by descriptor too. */
static const struct jail_rule vcpu_rules[] = {
	RULE(ioctl, "run the guest: the thread's whole job, on its own vCPU only", FD(0, VCPU),
	     EQ(1, KVM_RUN)),
#ifdef __aarch64__
	RULE(ioctl, "read PC for the message when the guest crashes or KVM fails", FD(0, VCPU),
	     EQ(1, KVM_GET_ONE_REG)),
#else
	RULE(ioctl, "read RIP for the message when the guest crashes or KVM fails", FD(0, VCPU),
	     EQ(1, KVM_GET_REGS)),
	RULE(ioctl,
	     "an internal error: is the guest's IDT unable to take an exception (a triple fault)?",
	     FD(0, VCPU), EQ(1, KVM_GET_SREGS)),
#endif
	RULE(ioctl, "legacy devices' interrupt lines (8250, RTC, i8042, ACPI GED)", FD(0, VM),
	     EQ(1, KVM_IRQ_LINE)),
	RULE(ioctl,
	     "virtio-pci: the guest programs an MSI-X vector (address/data -> the GSI's route)",
	     FD(0, VM), EQ(1, KVM_SET_GSI_ROUTING)),
	RULE(ioctl,
	     "virtio-pci: (un)masking MSI-X vectors, enabling MSI-X or INTx moves a queue's irqfd",
	     FD(0, VM), EQ(1, KVM_IRQFD)),
	RULE(ppoll, "virtio-pci: MSI-X pending bits (is a masked vector's eventfd readable?)"),
	RULE(ioctl, "virtio-net at DRIVER_OK: the tap's offloads follow the driver's features",
	     EQ(1, TUNSETOFFLOAD)),
	RULE(ioctl, "virtio-net at DRIVER_OK and reset: attach or detach tap queues",
	     EQ(1, TUNSETQUEUE)),
	RULE(write, "console output; eventfds: worker commands, irqfds, the VM's exit event"),
	RULE(read, "eventfd reads of the transport"),
	RULE(rt_sigtimedwait, "consume a pending kick before the next KVM_RUN"),
	ALLOC_AND_EXIT,
	RULE(exit, "the thread exits"),
};

/* The CLI's control thread once the VM runs: its poll loop (signalfd,
 * terminal, the VM's exit eventfd, the control socket) and the teardown
 * (joining threads, closing and unmapping everything). Everything else
 * it needs was opened before. */
static const struct jail_rule control_rules[] = {
	RULE(poll, "the control loop"),
	RULE(ppoll, "the control loop (libc may use ppoll)"),
	RULE(read, "signalfd, terminal input, eventfds"),
	RULE(write, "terminal and stderr messages, eventfds (worker commands)"),
	RULE(close, "teardown; control socket connections"),
	RULE(fcntl, "teardown: unlock the disks, which the workers' closing rings still hold",
	     EQ(1, F_OFD_SETLK)),
	RULE(accept4, "control socket: a new connection, on the listening socket only",
	     FD(0, LISTEN)),
	RULE(recvfrom, "control socket: requests"),
	RULE(sendto, "control socket: responses (MSG_NOSIGNAL)"),
	RULE(shutdown, "control socket: end a response"),
	RULE(unlink, "remove the control and vsock sockets at exit (where the jail lets it)"),
#ifdef __aarch64__
	RULE(unlinkat, "unlink() on arm64, which has no unlink syscall"),
#endif
	RULE(newfstatat, "stdio"),
	RULE(fstat, "stdio"),
	RULE(ioctl, "the ACPI power button (SendCtrlAltDel, shutdown request)", FD(0, VM),
	     EQ(1, KVM_IRQ_LINE)),
	RULE(ioctl, "the terminal: isatty, saving its mode", EQ(1, TCGETS)),
	RULE(ioctl, "the terminal: restore its mode at exit", EQ(1, TCSETS)),
	ALLOC_AND_EXIT,
	RULE(exit, "a thread exits"),
	RULE(exit_group, "the process exits"),
};
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

/* Sanitizer builds only (tests): the ASan/UBSan runtime maps shadow and
 * allocator memory and swaps signal stacks on any thread, and reports an
 * error from the thread that made it. Release builds never carry these
 * rules (CVMM_SANITIZED, jail.h). Found by running the ASan cvmm in the
 * test host with --seccomp=log (docs/seccomp.md). */
#ifdef CVMM_SANITIZED
static const struct jail_rule sanitizer_rules[] = {
	RULE(mmap, "sanitizer runtime: shadow and allocator memory"),
	RULE(munmap, "sanitizer runtime: frees what it mapped"),
	RULE(mprotect, "sanitizer runtime: guard pages"),
	RULE(sigaltstack, "sanitizer runtime: per-thread alternate signal stack"),
	RULE(madvise, "sanitizer runtime: releases allocator memory"),
	RULE(getpid, "sanitizer runtime: reports"),
	RULE(gettid, "sanitizer runtime: reports"),
	RULE(write, "sanitizer runtime: writes its report to stderr"),
	RULE(exit_group, "sanitizer runtime: exits after a report"),
	RULE(sched_yield, "sanitizer runtime: its spin locks (a vCPU thread yielded at exit)"),
	/* a report (with symbolize=0 and color=never: no symbolizer process,
	 * no isatty; tests/linux/asan-cases.sh sets them) */
	RULE(readlink, "sanitizer report: the binary's name (/proc/self/exe)"),
	RULE(open, "sanitizer report: /proc/self/maps (each frame's module), read-only",
	     CLEAR(1, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)),
#ifdef __aarch64__
	RULE(openat, "sanitizer report: open() on arm64, which has no open syscall",
	     CLEAR(2, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)),
#endif
	RULE(read, "sanitizer report: /proc/self/maps"),
	RULE(close, "sanitizer report: /proc/self/maps, its probe pipe"),
	RULE(pipe2, "sanitizer report: a pipe to probe whether memory is readable"),
};
/* LeakSanitizer's check at exit runs on the thread that calls exit(): the
 * control thread. It clones a tracer process (CLONE_VM, same filter) that
 * lists /proc/PID/task (open, as in a report), ptrace-stops every thread,
 * reads their registers and scans memory while the control thread spins,
 * then lets them go. */
static const struct jail_rule sanitizer_control_rules[] = {
	RULE(clone,
	     "LSan: the tracer that stops every thread for the leak check (no thread, no fork)",
	     EQ(0, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)),
	RULE(prctl, "LSan: let its tracer attach", EQ(0, PR_SET_PTRACER)),
	RULE(prctl, "LSan: is the process dumpable (attachable)?", EQ(0, PR_GET_DUMPABLE)),
	RULE(prctl, "LSan: dumpable while the tracer runs (after --user)", EQ(0, PR_SET_DUMPABLE)),
	RULE(prctl, "LSan's tracer: die with its parent", EQ(0, PR_SET_PDEATHSIG)),
	RULE(sched_yield, "LSan: spin until the tracer is done"),
	RULE(wait4, "LSan: reap the tracer; the tracer waits for each thread it stops"),
	RULE(getppid, "LSan's tracer: is the process it stops still its parent?"),
	RULE(rt_sigaction, "LSan's tracer: handlers for synchronous signals"),
	RULE(getdents, "LSan's tracer: /proc/PID/task entries"),
#ifdef __aarch64__
	RULE(getdents64, "LSan's tracer: getdents on arm64, which has no getdents syscall"),
#endif
	RULE(lseek, "LSan's tracer: rewind /proc/PID/task to list it again"),
	RULE(ptrace, "LSan's tracer: stop a thread", EQ(0, PTRACE_ATTACH)),
	RULE(ptrace, "LSan's tracer: pass on a signal a stopping thread got", EQ(0, PTRACE_CONT)),
	RULE(ptrace, "LSan's tracer: a thread's registers (pointers)", EQ(0, PTRACE_GETREGSET)),
	RULE(ptrace, "LSan's tracer: the same, older runtimes", EQ(0, PTRACE_GETREGS)),
	RULE(ptrace, "LSan's tracer: let a thread go", EQ(0, PTRACE_DETACH)),
	RULE(ptrace, "LSan's tracer: kill the threads when it dies itself", EQ(0, PTRACE_KILL)),
};
#endif
#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n)
{
	static const struct {
		const struct jail_rule *rules;
		unsigned n;
	} tables[JAIL_NKINDS] = {
		[JAIL_VIRTIO_WORKER] = { worker_rules, ARRAY_N(worker_rules) },
		[JAIL_NET_CTRL] = { net_ctrl_rules, ARRAY_N(net_ctrl_rules) },
		[JAIL_FS_WORKER] = { fs_rules, ARRAY_N(fs_rules) },
		[JAIL_VCPU] = { vcpu_rules, ARRAY_N(vcpu_rules) },
		[JAIL_CONTROL] = { control_rules, ARRAY_N(control_rules) },
		[JAIL_RNG_WORKER] = { rng_rules, ARRAY_N(rng_rules) },
	};
	if ((unsigned)kind >= JAIL_NKINDS) {
		*n = 0;
		return NULL;
	}
	*n = tables[kind].n;
	return tables[kind].rules;
}

const struct jail_rule *jail_sanitizer_rules(bool control, unsigned *n)
{
#ifdef CVMM_SANITIZED
	if (control) {
		*n = ARRAY_N(sanitizer_control_rules);
		return sanitizer_control_rules;
	}
	*n = ARRAY_N(sanitizer_rules);
	return sanitizer_rules;
#else
	(void)control;
	*n = 0;
	return NULL;
#endif
}

const char *jail_kind_name(enum jail_kind kind)
{
	static const char *const names[JAIL_NKINDS] = {
		[JAIL_VIRTIO_WORKER] = "virtqueue worker", [JAIL_NET_CTRL] = "net control worker",
		[JAIL_FS_WORKER] = "fs worker",            [JAIL_VCPU] = "vcpu",
		[JAIL_CONTROL] = "control",                [JAIL_RNG_WORKER] = "rng worker",
	};
	return (unsigned)kind < JAIL_NKINDS ? names[kind] : "?";
}

static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
			       scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };
	return c;
}

const char *jail_fd_name(enum jail_fd fd)
{
	static const char *const names[JAIL_NFDS] = {
		[JAIL_FD_RING] = "its own io_uring",
		[JAIL_FD_IRQ] = "its queue's irqfd",
		[JAIL_FD_CONFIG_IRQ] = "the device's configuration irqfd",
		[JAIL_FD_NOTIFY_IRQ] = "a second queue's irqfd (vsock: RX; others: its queue's)",
		[JAIL_FD_VCPU] = "its vCPU fd",
		[JAIL_FD_VM] = "the VM fd",
		[JAIL_FD_LISTEN] = "the listening control socket",
	};
	return (unsigned)fd < JAIL_NFDS && names[fd] ? names[fd] : "?";
}

static int jail_fd_of(const struct jail_fds *fds, unsigned fd)
{
	switch ((enum jail_fd)fd) {
	case JAIL_FD_RING: return fds->ring;
	case JAIL_FD_IRQ: return fds->irq;
	case JAIL_FD_CONFIG_IRQ: return fds->config_irq;
	case JAIL_FD_NOTIFY_IRQ: return fds->notify_irq;
	case JAIL_FD_VCPU: return fds->vcpu;
	case JAIL_FD_VM: return fds->vm;
	case JAIL_FD_LISTEN: return fds->listen;
	}
	return -1;
}

static int jail_rule_add(scmp_filter_ctx ctx, const struct jail_rule *rl,
			 const struct jail_fds *fds)
{
	struct scmp_arg_cmp c[JAIL_MAX_ARGS];
	unsigned n = 0;
	for (unsigned i = 0; i < JAIL_MAX_ARGS && rl->args[i].cmp != JAIL_CMP_NONE; i++) {
		const struct jail_arg *a = &rl->args[i];
		switch ((enum jail_cmp)a->cmp) {
		case JAIL_CMP_FD:
			/* an int, sign-extended as the kernel sees it */
			c[n++] = cmp(a->arg, SCMP_CMP_EQ, (scmp_datum_t)jail_fd_of(fds, a->fd), 0);
			break;
		case JAIL_CMP_EQ:
			c[n++] = cmp(a->arg, SCMP_CMP_EQ, a->value, 0);
			break;
		case JAIL_CMP_CLEAR:
			c[n++] = cmp(a->arg, SCMP_CMP_MASKED_EQ, a->value, 0);
			break;
		case JAIL_CMP_NONE:
			break;
		}
	}
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rl->nr, n, c);
}

int jail_build(enum jail_kind kind, enum jail_mode mode, const struct jail_fds *fds, void **out,
	       struct err *e)
{
	*out = NULL;
	if (mode == JAIL_OFF)
		return 0;
	unsigned n;
	const struct jail_rule *rules = jail_rules(kind, &n);
	/* TRAP, not KILL_PROCESS: the SIGSYS handler can say what happened;
	 * without one, SIGSYS's default action kills the process anyway. */
	scmp_filter_ctx ctx = seccomp_init(mode == JAIL_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(e, ENOMEM, "seccomp_init failed");
	/* Without TSYNC (libseccomp's default): each thread loads its own. */
	int r = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		r = jail_rule_add(ctx, &rules[i], fds);
		if (r < 0) {
			seccomp_release(ctx);
			return err_set(e, -r, "seccomp rule for %s: %s", rules[i].name, strerror(-r));
		}
	}
#ifdef CVMM_SANITIZED
	for (size_t i = 0; i < ARRAY_N(sanitizer_rules) && r == 0; i++)
		r = jail_rule_add(ctx, &sanitizer_rules[i], fds);
	for (size_t i = 0; kind == JAIL_CONTROL && i < ARRAY_N(sanitizer_control_rules) && r == 0;
	     i++)
		r = jail_rule_add(ctx, &sanitizer_control_rules[i], fds);
	if (r < 0) {
		seccomp_release(ctx);
		return err_set(e, -r, "seccomp sanitizer rules: %s", strerror(-r));
	}
#endif
	*out = ctx;
	return 0;
}

/* The thread's name for the SIGSYS message. Written by jail_load before
 * the filter (the first access allocates the TLS block, the handler's
 * later read does not). */
static __thread char jail_thread_name[16];

void jail_name_thread(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

int jail_load(void *ctx, const char *thread_name)
{
	if (!ctx)
		return 0;
	snprintf(jail_thread_name, sizeof(jail_thread_name), "%s", thread_name);
	/* glibc sets up a thread's malloc arena and tcache on its first
	 * malloc or free, and the first arena of the process reads the CPU
	 * count from /sys (openat): do it now, before the filter. */
	void *volatile warm = malloc(1); /* volatile: the pair must not be elided */
	free(warm);
	/* A thread that blocks every signal (vCPUs, workers) must still run
	 * the SIGSYS handler: the kernel resets a blocked SIGSYS to its
	 * default action. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	int r = seccomp_load(ctx); /* also sets NO_NEW_PRIVS (libseccomp default) */
	seccomp_release(ctx);
	return r;
}

void jail_free(void *ctx)
{
	if (ctx)
		seccomp_release(ctx);
}

/* ---- the SIGSYS message ------------------------------------------------- */

#define JAIL_MAX_NR 512
/* Syscall names by number, resolved once before any filter (the handler
 * may not allocate). Read-only once installed. */
static const char *jail_sys_names[JAIL_MAX_NR];

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u && n < sizeof(tmp));
	if (v < 0 && at + 1 < cap)
		buf[at++] = '-';
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

/* Async-signal-safe: one write(2) to stderr, then the death call. SIGSYS
 * is blocked inside this handler, so the kernel delivers the second
 * SIGSYS with the default action: the process dies of SIGSYS (and dumps
 * core where that is enabled). The handler never returns into the thread. */
static void jail_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SYS_SECCOMP)
		return; /* someone sent SIGSYS with kill(): nothing to report */
	char msg[160];
	size_t n = 0;
	int nr = si->si_syscall;
	n = put(msg, n, sizeof(msg), "cvmm: seccomp: thread ");
	n = put(msg, n, sizeof(msg), jail_thread_name[0] ? jail_thread_name : "?");
	n = put(msg, n, sizeof(msg), " made forbidden syscall ");
	n = put_num(msg, n, sizeof(msg), nr);
	n = put(msg, n, sizeof(msg), " (");
	n = put(msg, n, sizeof(msg), nr >= 0 && nr < JAIL_MAX_NR && jail_sys_names[nr] ? jail_sys_names[nr] : "?");
	n = put(msg, n, sizeof(msg), ")\n");
	ssize_t w = write(STDERR_FILENO, msg, n);
	(void)w;
	syscall(JAIL_DEATH_CALL);
	/* Not reached: the death call is in no table. Should a filter ever
	 * allow it, die anyway, with the status a SIGSYS death has. */
	syscall(SYS_exit_group, 128 + SIGSYS);
}

int jail_sigsys_install(void)
{
	for (int nr = 0; nr < JAIL_MAX_NR; nr++)
		if (!jail_sys_names[nr])
			jail_sys_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = jail_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* ---- the privilege drop ------------------------------------------------- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* The file system rights the kernel's Landlock ABI knows (ABI 1..3; the
 * later ABIs' device-ioctl right is left alone: the fds cvmm uses were
 * opened before the ruleset anyway). */
static uint64_t landlock_fs_rights(int abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return all;
}

static int landlock_add_dir(int ruleset, const char *dir, uint64_t rights, struct err *e)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, errno, "landlock: cannot open '%s': %s", dir, strerror(errno));
	struct landlock_path_beneath_attr pb = { .allowed_access = rights, .parent_fd = fd };
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	int er = errno;
	close(fd);
	if (r < 0)
		return err_set(e, er, "landlock: rule for '%s': %s", dir, strerror(er));
	return 0;
}

/* Builds the ruleset (before a chroot: the paths are the host's) into
 * *fd; *fd = -1 and *abi = 0 where the kernel has no Landlock. */
static int landlock_prepare(const struct jail_priv *p, int *fd, int *abi, struct err *e)
{
	*abi = 0;
	*fd = -1;
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (v <= 0)
		return 0; /* ENOSYS, EOPNOTSUPP (not enabled at boot) */
	int a = (int)v;
	uint64_t all = landlock_fs_rights(a);
	struct landlock_ruleset_attr attr = { .handled_access_fs = all };
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return err_set(e, errno, "landlock_create_ruleset: %s", strerror(errno));
	for (unsigned i = 0; i < p->nrw; i++) {
		int r = landlock_add_dir(rs, p->rw_dirs[i], all, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	for (unsigned i = 0; i < p->nrm; i++) {
		int r = landlock_add_dir(rs, p->rm_dirs[i], LANDLOCK_ACCESS_FS_REMOVE_FILE, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	for (unsigned i = 0; i < p->nro; i++) {
		int r = landlock_add_dir(rs, p->ro_dirs[i], LL_READ, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	*abi = a;
	*fd = rs;
	return 0;
}

int jail_caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));
		d[i].permitted &= k;
		d[i].effective = d[i].permitted;
		d[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* The bounding set but keep (needs CAP_SETPCAP: before the ids change);
 * threads started later inherit it. */
static int caps_drop_bounding(uint64_t keep, struct err *e)
{
	/* The bounding set needs CAP_SETPCAP; a process without it has no
	 * capabilities to lose there that NO_NEW_PRIVS does not already
	 * keep it from gaining. */
	for (int c = 0; c <= 63; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EPERM)
			return err_set(e, errno, "dropping capability %d from the bounding set: %s",
				       c, strerror(errno));
	}
	return 0;
}

int jail_drop(const struct jail_priv *p, int *landlock_abi, struct err *e)
{
	*landlock_abi = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(e, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	int rs = -1;
	int r = 0;
	if (p->landlock) {
		r = landlock_prepare(p, &rs, landlock_abi, e);
		if (r < 0)
			return r;
	}
	if (p->chroot_dir) {
		if (chroot(p->chroot_dir) < 0 || chdir("/") < 0) {
			r = err_set(e, errno, "--chroot '%s': %s", p->chroot_dir, strerror(errno));
			goto out;
		}
	}
	r = caps_drop_bounding(p->keep_caps, e);
	if (r < 0)
		goto out;
	if (p->set_ids) {
		/* glibc applies these to every thread of the process */
		if (setgroups(0, NULL) < 0 && errno != EPERM) {
			r = err_set(e, errno, "setgroups: %s", strerror(errno));
			goto out;
		}
		if (setresgid(p->gid, p->gid, p->gid) < 0) {
			r = err_set(e, errno, "--user: cannot become gid %u: %s", (unsigned)p->gid,
				    strerror(errno));
			goto out;
		}
		if (setresuid(p->uid, p->uid, p->uid) < 0) {
			r = err_set(e, errno, "--user: cannot become uid %u: %s", (unsigned)p->uid,
				    strerror(errno));
			goto out;
		}
	}
	/* and every other set (threads started later inherit them) */
	r = jail_caps_limit(p->keep_caps);
	if (r < 0) {
		r = err_set(e, -r, "dropping capabilities: %s", strerror(-r));
		goto out;
	}
	if (rs >= 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		r = err_set(e, errno, "landlock_restrict_self: %s", strerror(errno));
out:
	if (rs >= 0)
		close(rs);
	return r;
}
