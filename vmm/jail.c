/* SPDX-License-Identifier: MIT */
/* The seccomp policy of the VMM's own threads (the vCPUs, the CLI's control
 * thread) and the index of every thread kind's table (core/jail.h has the
 * mechanism, devices/virtio/worker_jail.c the workers' tables). */
#include "vmm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "devices/virtio/worker.h"

#define RULE  JAIL_RULE
#define FD    JAIL_FD
#define EQ    JAIL_EQ
#define CLEAR JAIL_CLEAR

/* Both the vCPU and the control thread allocate (malloc's arenas and
 * frees) and exit through glibc. */
#define ALLOC_AND_EXIT                                                                             \
	RULE(mmap, "malloc: arenas and large blocks (never executable)", CLEAR(2, PROT_EXEC)),     \
		RULE(mprotect, "malloc: growing an arena (never executable)",                      \
		     CLEAR(2, PROT_EXEC)),                                                         \
		RULE(munmap, "free: large blocks, arena trimming"),                                \
		RULE(madvise, "free: returning pages; glibc releases a thread's stack at exit"),   \
		RULE(brk, "malloc on the main arena"),                                             \
		RULE(futex, "locks and condition variables shared with the other threads"),        \
		RULE(rt_sigprocmask, "glibc masks signals around thread exit and pthread calls"),  \
		RULE(restart_syscall, "resume an interrupted wait"),                               \
		RULE(clock_gettime, "timestamps (when the vDSO falls back to the syscall)"),       \
		RULE(time, "the RTC's time (when the vDSO falls back to the syscall)"),            \
		RULE(gettimeofday, "libc time calls (when the vDSO falls back to the syscall)"),   \
		RULE(getpid, "pthread_kill names the process"),                                    \
		RULE(tgkill,                                                                       \
		     "kick vCPU threads out of KVM_RUN (pause, stop, exit) with the kick signal")

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
	RULE(ioctl, "the guest's first PIT access: make it again once the PIT exists", FD(0, VCPU),
	     EQ(1, KVM_SET_REGS)),
	RULE(ioctl, "the guest's first PIT access: the in-kernel PIT, made then (one per VM)",
	     FD(0, VM), EQ(1, KVM_CREATE_PIT2)),
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
	RULE(fcntl, "metrics: a FIFO's size (a line longer than PIPE_BUF goes whole or not at all)",
	     EQ(1, F_GETPIPE_SZ)),
	RULE(ioctl, "metrics: is the FIFO empty (a long line goes only into an empty one)",
	     EQ(1, FIONREAD)),
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
	RULE(ioctl,
	     "the ACPI power button (shutdown request), the i8042's IRQ 1 (SendCtrlAltDel), the "
	     "VM generation ID's notification",
	     FD(0, VM), EQ(1, KVM_IRQ_LINE)),
	RULE(getrandom, "a new VM generation ID (cvmm_vm_new_generation_id, restore)"),
	RULE(ioctl, "the terminal: isatty, saving its mode", EQ(1, TCGETS)),
	RULE(ioctl, "the terminal: restore its mode at exit", EQ(1, TCSETS)),
	ALLOC_AND_EXIT,
	RULE(exit, "a thread exits"),
	RULE(exit_group, "the process exits"),
};
/* The snapshot memory thread (vmm/snapmem.c, `cvmm-snapmem`) of a VM
 * restored with the LAZY backend (it serves the guest RAM's userfaultfd
 * from the memory file and prefetches the rest) or the UFFD backend (it
 * watches the external handler's socket). It touches no guest memory and
 * allocates nothing (its buffer was allocated before it started). */
static const struct jail_rule snapmem_rules[] = {
	RULE(poll, "wait for page faults, the handler's hang-up, or the stop eventfd"),
	RULE(ppoll, "the same (libc may use ppoll)"),
	RULE(read, "LAZY: page fault messages from the userfaultfd", FD(0, UFFD)),
	RULE(read, "UFFD: drain what the handler sends (it should send nothing)", FD(0, SOCK)),
	RULE(pread64, "LAZY: the pages of the memory file", FD(0, MEMFILE)),
	RULE(lseek, "LAZY: where the memory file has data and holes (SEEK_DATA, SEEK_HOLE)",
	     FD(0, MEMFILE)),
	RULE(ioctl, "LAZY: fill a missing page with the file's bytes", FD(0, UFFD),
	     EQ(1, UFFDIO_COPY)),
	RULE(ioctl, "LAZY: fill the pages of a hole of the file with the shared zero page",
	     FD(0, UFFD), EQ(1, UFFDIO_ZEROPAGE)),
	RULE(ioctl, "LAZY: wake a thread whose page another fault already filled", FD(0, UFFD),
	     EQ(1, UFFDIO_WAKE)),
	RULE(ioctl, "LAZY: every page is in: the regions become plain anonymous memory",
	     FD(0, UFFD), EQ(1, UFFDIO_UNREGISTER)),
	RULE(write, "report a failure (the handler hung up, the file cannot be read)", FD(0, FAIL)),
	RULE(write, "the SIGSYS handler names the forbidden call on stderr", EQ(0, STDERR_FILENO)),
	RULE(futex, "the start handshake and the join with the main thread"),
	RULE(madvise, "glibc releases the thread's stack when it exits"),
	RULE(munmap, "free() may give memory back when the thread exits"),
	RULE(brk, "the thread's exit returns its malloc cache to its arena"),
	RULE(rt_sigprocmask, "glibc masks signals while the thread exits"),
	RULE(restart_syscall, "resume an interrupted wait"),
	RULE(exit, "the thread exits"),
};
static const struct jail_table snapmem_table = JAIL_TABLE("snapshot memory", snapmem_rules);
static const struct jail_table vcpu_table = JAIL_TABLE("vcpu", vcpu_rules);
static const struct jail_table control_table = JAIL_TABLE("control", control_rules);

/* The control thread of a VM whose disks may be replaced while it runs
 * (cvmm_jail.update_disks; the CLI's --api-socket: PATCH /drives), besides
 * its table: cvmm_vm_update_disk opens the new image on this thread and
 * hands it to the disk's queue workers. Landlock, where the kernel has it,
 * leaves opening files only beneath the directories of the VM's disks. */
static const struct jail_rule control_disk_rules[] = {
	RULE(openat,
	     "cvmm_vm_update_disk (PATCH /drives): open the new disk image, never creating or "
	     "truncating a file (Landlock: beneath the disks' directories only)",
	     CLEAR(2, O_CREAT | O_TRUNC | O_TMPFILE)),
	RULE(fcntl, "the new disk image opened without waiting: O_NONBLOCK off again",
	     EQ(1, F_SETFL)),
	RULE(lseek, "the new disk's size, where it is a block device", EQ(2, SEEK_END)),
	RULE(io_uring_register, "put the new disk file into each of its queue workers' rings",
	     EQ(1, IORING_REGISTER_FILES_UPDATE)),
};
static const struct jail_table control_disk_table =
	JAIL_TABLE("control, disk updates", control_disk_rules);

/* The control thread of a VM it may snapshot (cvmm_jail.snapshot_dir; the
 * CLI's --api-socket: PUT /snapshot/create), besides its table: the vCPUs
 * parked, it reads their state and the VM's (KVM's GET ioctls only: a
 * snapshot changes nothing), tells the queue workers to pause (eventfd
 * writes, allowed already) and writes the two files. Landlock, where the
 * kernel has it, leaves creating files only beneath the snapshot
 * directory. */
static const struct jail_rule control_snapshot_rules[] = {
	RULE(openat,
	     "snapshot: create the state and memory files (Landlock: beneath the snapshot "
	     "directory only)",
	     CLEAR(2, O_TMPFILE)),
	RULE(pwrite64, "snapshot: guest memory into its file, page runs at their offsets"),
	RULE(ftruncate, "snapshot: the memory file's size (holes for zero pages)"),
	RULE(fallocate,
	     "snapshot: over a memory file of the right size, a hole where memory is now zero",
	     EQ(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)),
	RULE(fsync, "snapshot: both files on disk before the call answers"),
	RULE(mincore, "snapshot: a diff without dirty page tracking takes the resident pages"),
	RULE(ioctl, "snapshot: diff snapshots' pages the vCPUs wrote", FD(0, VM),
	     EQ(1, KVM_GET_DIRTY_LOG)),
	RULE(ioctl, "snapshot: what KVM offers (XSAVE's size)", EQ(1, KVM_CHECK_EXTENSION)),
#ifdef __aarch64__
	RULE(ioctl, "snapshot: the vCPUs' register list", EQ(1, KVM_GET_REG_LIST)),
	RULE(ioctl, "snapshot: each vCPU register", EQ(1, KVM_GET_ONE_REG)),
	RULE(ioctl, "snapshot: the GIC's registers (its device fd)", EQ(1, KVM_GET_DEVICE_ATTR)),
	RULE(ioctl, "snapshot: the GIC's pending tables into guest memory",
	     EQ(1, KVM_SET_DEVICE_ATTR)),
	RULE(ioctl, "snapshot: a vCPU's power state", EQ(1, KVM_GET_MP_STATE)),
#else
	RULE(ioctl, "snapshot: the in-kernel PIC pair and IOAPIC", FD(0, VM),
	     EQ(1, KVM_GET_IRQCHIP)),
	RULE(ioctl, "snapshot: the PIT", FD(0, VM), EQ(1, KVM_GET_PIT2)),
	RULE(ioctl, "snapshot: the guest's clock", FD(0, VM), EQ(1, KVM_GET_CLOCK)),
	RULE(ioctl, "snapshot: the MSRs KVM lists (the KVM fd)", EQ(1, KVM_GET_MSR_INDEX_LIST)),
	RULE(ioctl, "snapshot: a vCPU's registers", EQ(1, KVM_GET_REGS)),
	RULE(ioctl, "snapshot: a vCPU's segment and control registers", EQ(1, KVM_GET_SREGS)),
	RULE(ioctl, "snapshot: a vCPU's FPU/SSE/AVX state", EQ(1, KVM_GET_XSAVE)),
	RULE(ioctl, "snapshot: a vCPU's XSAVE state, larger than 4 KiB", EQ(1, KVM_GET_XSAVE2)),
	RULE(ioctl, "snapshot: a vCPU's XCR0", EQ(1, KVM_GET_XCRS)),
	RULE(ioctl, "snapshot: a vCPU's debug registers", EQ(1, KVM_GET_DEBUGREGS)),
	RULE(ioctl, "snapshot: a vCPU's local APIC", EQ(1, KVM_GET_LAPIC)),
	RULE(ioctl, "snapshot: a vCPU's MSRs", EQ(1, KVM_GET_MSRS)),
	RULE(ioctl, "snapshot: a vCPU's power state", EQ(1, KVM_GET_MP_STATE)),
	RULE(ioctl, "snapshot: a vCPU's pending events", EQ(1, KVM_GET_VCPU_EVENTS)),
	RULE(ioctl, "snapshot: a vCPU's CPUID", EQ(1, KVM_GET_CPUID2)),
	RULE(ioctl, "snapshot: the TSC's frequency", EQ(1, KVM_GET_TSC_KHZ)),
#endif
};
static const struct jail_table control_snapshot_table =
	JAIL_TABLE("control, snapshots", control_snapshot_rules);

#ifdef CVMM_SANITIZED
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
static const struct jail_table sanitizer_control_table =
	JAIL_TABLE("control (LeakSanitizer)", sanitizer_control_rules);
#endif

const struct jail_table *jail_table(enum jail_kind kind)
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
	case JAIL_SNAPMEM:
		return &snapmem_table;
	case JAIL_BALLOON_WORKER:
		return &vq_jail_balloon;
	case JAIL_NET_TX:
		return &vq_jail_net_tx;
	}
	return NULL;
}

const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n)
{
	const struct jail_table *t = jail_table(kind);
	*n = t ? t->n : 0;
	return t ? t->rules : NULL;
}

const struct jail_rule *jail_sanitizer_rules(bool control, unsigned *n)
{
#ifdef CVMM_SANITIZED
	const struct jail_table *t = control ? &sanitizer_control_table : jail_sanitizer_table();
	*n = t->n;
	return t->rules;
#else
	(void)control;
	*n = 0;
	return NULL;
#endif
}

const struct jail_rule *jail_disk_rules(unsigned *n)
{
	*n = control_disk_table.n;
	return control_disk_table.rules;
}

const struct jail_rule *jail_snapshot_rules(unsigned *n)
{
	*n = control_snapshot_table.n;
	return control_snapshot_table.rules;
}

const char *jail_kind_name(enum jail_kind kind)
{
	const struct jail_table *t = jail_table(kind);
	return t ? t->name : "?";
}

int jail_build(enum jail_kind kind, enum jail_mode mode, const struct jail_fds *fds, void **ctx,
	       struct err *e)
{
	return jail_build_ex(kind, mode, fds, 0, ctx, e);
}

unsigned jail_kind_tables(enum jail_kind kind, unsigned extras, const struct jail_table *t[4])
{
	unsigned n = 0;
	t[n] = jail_table(kind);
	if (!t[n++])
		return 0;
#ifdef CVMM_SANITIZED
	/* LeakSanitizer's check runs on the thread that calls exit() */
	if (kind == JAIL_CONTROL)
		t[n++] = &sanitizer_control_table;
#endif
	if ((extras & JAIL_EXTRA_DISKS) && kind == JAIL_CONTROL)
		t[n++] = &control_disk_table;
	if ((extras & JAIL_EXTRA_SNAPSHOTS) && kind == JAIL_CONTROL)
		t[n++] = &control_snapshot_table;
	return n;
}

int jail_build_ex(enum jail_kind kind, enum jail_mode mode, const struct jail_fds *fds,
		  unsigned extras, void **ctx, struct err *e)
{
	const struct jail_table *t[4];
	unsigned n = jail_kind_tables(kind, extras, t);
	if (!n) {
		*ctx = NULL;
		return err_set(e, EINVAL, "no seccomp table for thread kind %d", (int)kind);
	}
	return jail_filter_build(t, n, mode, fds, ctx, e);
}
