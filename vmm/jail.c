/* SPDX-License-Identifier: MIT */
/* The seccomp policy of the VMM's own threads (the vCPUs, the CLI's control
 * thread) and the index of every thread kind's table (core/jail.h has the
 * mechanism, devices/virtio/worker_jail.c the workers' tables). */
#include "vmm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>

#include "devices/virtio/worker.h"

#define RULE	 JAIL_RULE
#define RULE2	 JAIL_RULE2
#define NOEXEC	 JAIL_NOEXEC
#define IOCTL	 JAIL_IOCTL
#define IOCTL_ON JAIL_IOCTL_ON

/* Both the vCPU and the control thread allocate (malloc's arenas and
 * frees) and exit through glibc. */
#define ALLOC_AND_EXIT                                                                       \
	NOEXEC(mmap, "malloc: arenas and large blocks (never executable)"),                   \
	NOEXEC(mprotect, "malloc: growing an arena (never executable)"),                      \
	RULE(munmap, -1, "free: large blocks, arena trimming"),                               \
	RULE(madvise, -1, "free: returning pages; glibc releases a thread's stack at exit"),  \
	RULE(brk, -1, "malloc on the main arena"),                                            \
	RULE(futex, -1, "locks and condition variables shared with the other threads"),       \
	RULE(rt_sigprocmask, -1, "glibc masks signals around thread exit and pthread calls"), \
	RULE(restart_syscall, -1, "resume an interrupted wait"),                              \
	RULE(clock_gettime, -1, "timestamps (when the vDSO falls back to the syscall)"),      \
	RULE(time, -1, "the RTC's time (when the vDSO falls back to the syscall)"),           \
	RULE(gettimeofday, -1, "libc time calls (when the vDSO falls back to the syscall)"),  \
	RULE(getpid, -1, "pthread_kill names the process"),                                   \
	RULE(tgkill, -1, "kick vCPU threads out of KVM_RUN (pause, stop, exit) with the kick signal")

/* A vCPU thread: KVM_RUN and what its exit handlers (the device register
 * handlers on the port and MMIO buses) do. ioctls are limited by request,
 * and the KVM ones by descriptor too. */
static const struct jail_rule vcpu_rules[] = {
	IOCTL_ON(0, KVM_RUN, "run the guest: the thread's whole job, on its own vCPU only"),
#ifdef __aarch64__
	IOCTL_ON(0, KVM_GET_ONE_REG, "read PC for the message when the guest crashes or KVM fails"),
#else
	IOCTL_ON(0, KVM_GET_REGS, "read RIP for the message when the guest crashes or KVM fails"),
	IOCTL_ON(0, KVM_GET_SREGS,
		 "an internal error: is the guest's IDT unable to take an exception (a triple fault)?"),
#endif
	IOCTL_ON(1, KVM_IRQ_LINE, "legacy devices' interrupt lines (8250, RTC, i8042, ACPI GED)"),
	IOCTL_ON(1, KVM_SET_GSI_ROUTING,
		 "virtio-pci: the guest programs an MSI-X vector (address/data -> the GSI's route)"),
	IOCTL_ON(1, KVM_IRQFD,
		 "virtio-pci: (un)masking MSI-X vectors, enabling MSI-X or INTx moves a queue's irqfd"),
	RULE(ppoll, -1, "virtio-pci: MSI-X pending bits (is a masked vector's eventfd readable?)"),
	IOCTL(TUNSETOFFLOAD, "virtio-net at DRIVER_OK: the tap's offloads follow the driver's features"),
	IOCTL(TUNSETQUEUE, "virtio-net at DRIVER_OK and reset: attach or detach tap queues"),
	RULE(write, -1, "console output; eventfds: worker commands, irqfds, the VM's exit event"),
	RULE(read, -1, "eventfd reads of the transport"),
	RULE(rt_sigtimedwait, -1, "consume a pending kick before the next KVM_RUN"),
	ALLOC_AND_EXIT,
	RULE(exit, -1, "the thread exits"),
};

/* The CLI's control thread once the VM runs: its poll loop (signalfd,
 * terminal, the VM's exit eventfd, the control socket) and the teardown
 * (joining threads, closing and unmapping everything). Everything else
 * it needs was opened before. */
static const struct jail_rule control_rules[] = {
	RULE(poll, -1, "the control loop"),
	RULE(ppoll, -1, "the control loop (libc may use ppoll)"),
	RULE(read, -1, "signalfd, terminal input, eventfds"),
	RULE(write, -1, "terminal and stderr messages, eventfds (worker commands)"),
	RULE(close, -1, "teardown; control socket connections"),
	RULE2(fcntl, -1, F_OFD_SETLK,
	      "teardown: unlock the disks, which the workers' closing rings still hold"),
	RULE(accept4, 0, "control socket: a new connection, on the listening socket only"),
	RULE(recvfrom, -1, "control socket: requests"),
	RULE(sendto, -1, "control socket: responses (MSG_NOSIGNAL)"),
	RULE(shutdown, -1, "control socket: end a response"),
	RULE(unlink, -1, "remove the control and vsock sockets at exit (where the jail lets it)"),
#ifdef __aarch64__
	RULE(unlinkat, -1, "unlink() on arm64, which has no unlink syscall"),
#endif
	RULE(newfstatat, -1, "stdio"),
	RULE(fstat, -1, "stdio"),
	IOCTL_ON(1, KVM_IRQ_LINE, "the ACPI power button (SendCtrlAltDel, shutdown request)"),
	IOCTL(TCGETS, "the terminal: isatty, saving its mode"),
	IOCTL(TCSETS, "the terminal: restore its mode at exit"),
	ALLOC_AND_EXIT,
	RULE(exit, -1, "a thread exits"),
	RULE(exit_group, -1, "the process exits"),
};

static const struct jail_table vcpu_table = JAIL_TABLE("vcpu", vcpu_rules);
static const struct jail_table control_table = JAIL_TABLE("control", control_rules);

#ifdef CVMM_SANITIZED
/* a call whose first argument is a request (ptrace, prctl) */
#define SAN_REQ(sys, req, why)                                                                     \
	{                                                                                          \
		SCMP_SYS(sys), #sys "(" #req ")", -1, (long)(req), JAIL_A0_ARG1, why               \
	}
/* LeakSanitizer's check at exit runs on the thread that calls exit(): the
 * control thread. It clones a tracer process (CLONE_VM, same filter) that
 * lists /proc/PID/task (open, as in a report), ptrace-stops every thread,
 * reads their registers and scans memory while the control thread spins,
 * then lets them go. */
static const struct jail_rule sanitizer_control_rules[] = {
	SAN_REQ(clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED,
		"LSan: the tracer that stops every thread for the leak check (no thread, no fork)"),
	SAN_REQ(prctl, PR_SET_PTRACER, "LSan: let its tracer attach"),
	SAN_REQ(prctl, PR_GET_DUMPABLE, "LSan: is the process dumpable (attachable)?"),
	SAN_REQ(prctl, PR_SET_DUMPABLE, "LSan: dumpable while the tracer runs (after --user)"),
	SAN_REQ(prctl, PR_SET_PDEATHSIG, "LSan's tracer: die with its parent"),
	RULE(sched_yield, -1, "LSan: spin until the tracer is done"),
	RULE(wait4, -1, "LSan: reap the tracer; the tracer waits for each thread it stops"),
	RULE(getppid, -1, "LSan's tracer: is the process it stops still its parent?"),
	RULE(rt_sigaction, -1, "LSan's tracer: handlers for synchronous signals"),
	RULE(getdents, -1, "LSan's tracer: /proc/PID/task entries"),
#ifdef __aarch64__
	RULE(getdents64, -1, "LSan's tracer: getdents on arm64, which has no getdents syscall"),
#endif
	RULE(lseek, -1, "LSan's tracer: rewind /proc/PID/task to list it again"),
	SAN_REQ(ptrace, PTRACE_ATTACH, "LSan's tracer: stop a thread"),
	SAN_REQ(ptrace, PTRACE_CONT, "LSan's tracer: pass on a signal a stopping thread got"),
	SAN_REQ(ptrace, PTRACE_GETREGSET, "LSan's tracer: a thread's registers (pointers)"),
	SAN_REQ(ptrace, PTRACE_GETREGS, "LSan's tracer: the same, older runtimes"),
	SAN_REQ(ptrace, PTRACE_DETACH, "LSan's tracer: let a thread go"),
	SAN_REQ(ptrace, PTRACE_KILL, "LSan's tracer: kill the threads when it dies itself"),
};
static const struct jail_table sanitizer_control_table =
	JAIL_TABLE("control (LeakSanitizer)", sanitizer_control_rules);
#endif

static const struct jail_table *jail_table_of(enum jail_kind kind)
{
	switch (kind) {
	case JAIL_VIRTIO_WORKER:
		return &vq_jail_worker;
	case JAIL_NET_CTRL:
		return &vq_jail_net_ctrl;
	case JAIL_FS_WORKER:
		return &vq_jail_fs;
	case JAIL_VCPU:
		return &vcpu_table;
	case JAIL_CONTROL:
		return &control_table;
	case JAIL_RNG_WORKER:
		return &vq_jail_rng;
	}
	return NULL;
}

const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n)
{
	const struct jail_table *t = jail_table_of(kind);
	*n = t ? t->n : 0;
	return t ? t->rules : NULL;
}

const char *jail_kind_name(enum jail_kind kind)
{
	const struct jail_table *t = jail_table_of(kind);
	return t ? t->name : "?";
}

int jail_build(enum jail_kind kind, enum jail_mode mode, const int *params, void **ctx,
	       struct err *e)
{
	const struct jail_table *t[2] = { jail_table_of(kind), NULL };
	unsigned n = 1;
	if (!t[0]) {
		*ctx = NULL;
		return err_set(e, EINVAL, "no seccomp table for thread kind %d", (int)kind);
	}
#ifdef CVMM_SANITIZED
	/* LeakSanitizer's check runs on the thread that calls exit() */
	if (kind == JAIL_CONTROL)
		t[n++] = &sanitizer_control_table;
#endif
	return jail_filter_build(t, n, mode, params, ctx, e);
}
