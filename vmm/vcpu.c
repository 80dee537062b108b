/* SPDX-License-Identifier: MIT */
/* vCPU threads: the KVM_RUN loop and exit dispatch. */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/thread.h"
#include "vmm/jail.h"
#include "vmm/vm.h"

/* Where the vCPU is, for an exit's message. */
static uint64_t vcpu_ip(const struct vcpu *v)
{
	return arch_vcpu_ip(v->fd);
}

/* Port or MMIO access: dispatch every repetition of a (rep) string I/O. */
static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&v->vm->pio, run->io.port, data, size);
		else
			bus_read(&v->vm->pio, run->io.port, data, size);
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

/* Only this thread writes them: no locked add on the exit path. */
static void vcpu_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Returns false when the loop must end. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		vcpu_count(&v->exit_kinds[run->io.direction == KVM_EXIT_IO_OUT ? VCPU_EXIT_IO_OUT
									       : VCPU_EXIT_IO_IN]);
		struct err e; /* set only on failure: no clearing on every exit */
		e.code = 0;
		e.msg[0] = 0;
		int r = arch_pio_exit(vm->arch, v->fd, run, &e);
		if (r == 0)
			vcpu_handle_io(v);
		if (r >= 0)
			return true;
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), 0, "vCPU %u: %s",
				v->id, e.msg);
		return false;
	}
	case KVM_EXIT_MMIO:
		vcpu_count(&v->exit_kinds[run->mmio.is_write ? VCPU_EXIT_MMIO_WRITE
							     : VCPU_EXIT_MMIO_READ]);
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(vm, CVMM_EXIT_CRASH, (int)v->id, vcpu_ip(v), run->exit_reason,
				"guest triple fault (vCPU %u, rip 0x%llx)", v->id,
				(unsigned long long)vcpu_ip(v));
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, CVMM_EXIT_POWEROFF, (int)v->id, 0, 0,
					"guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, CVMM_EXIT_REBOOT, (int)v->id, 0, 0, "guest reset");
			break;
		default:
			vm_request_exit(vm, CVMM_EXIT_CRASH, (int)v->id, vcpu_ip(v),
					run->exit_reason, "guest system event %u (crash)",
					run->system_event.type);
		}
		return false;
	case KVM_EXIT_HLT:
		vm_request_exit(vm, CVMM_EXIT_CRASH, (int)v->id, vcpu_ip(v), run->exit_reason,
				"guest halted for good (vCPU %u, rip 0x%llx)", v->id,
				(unsigned long long)vcpu_ip(v));
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), run->exit_reason,
				"KVM could not enter the guest (vCPU %u, hardware reason 0x%llx, "
				"rip 0x%llx)",
				v->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				(unsigned long long)vcpu_ip(v));
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		if (arch_vcpu_unrecoverable(v->fd, run->internal.suberror)) {
			vm_request_exit(
				vm, CVMM_EXIT_CRASH, (int)v->id, vcpu_ip(v), run->exit_reason,
				"guest triple fault (vCPU %u, rip 0x%llx; KVM reported it as "
				"internal error %u: the guest's IDT cannot take an exception)",
				v->id, (unsigned long long)vcpu_ip(v), run->internal.suberror);
			return false;
		}
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), run->exit_reason,
				"KVM internal error (vCPU %u, suberror %u, rip 0x%llx)", v->id,
				run->internal.suberror, (unsigned long long)vcpu_ip(v));
		return false;
	default:
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), run->exit_reason,
				"unhandled KVM exit reason %u (vCPU %u, rip 0x%llx)",
				run->exit_reason, v->id, (unsigned long long)vcpu_ip(v));
		return false;
	}
}

/* Consumes a pending kick so that the next KVM_RUN does not fail at once. */
static void vcpu_clear_kick(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&set, NULL, &zero) == sig)
		;
}

/* All signals stay blocked in this thread; inside KVM_RUN only the kick
 * signal is unblocked (KVM_SET_SIGNAL_MASK), so a kick makes KVM_RUN return
 * EINTR and is never delivered to a handler: cvmm installs none. */
static int vcpu_set_sigmask(struct vcpu *v)
{
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} km;
	sigset_t set;
	sigfillset(&set);
	sigdelset(&set, v->vm->kick_signal);
	km.m.len = 8;
	memcpy(km.set, &set, 8);
	return ioctl(v->fd, KVM_SET_SIGNAL_MASK, &km) < 0 ? -errno : 0;
}

#ifdef CVMM_TEST_HOOKS
/* Test builds only (CVMM_TEST_ASAN=overflow-vcpu): one byte past a heap
 * block, on the jailed vCPU thread: ASan must report it from there. */
static __attribute__((noinline)) void vcpu_test_overflow(void)
{
	char *p = malloc(16);
	volatile size_t n = 17; /* out of the compiler's sight */
	/* ASan's memset sees it (UBSan's object-size check would not); the
	 * barrier keeps the store from being dropped before free */
	if (p)
		memset(p, 0, n);
	__asm__ volatile("" : : "r"(p) : "memory");
	free(p);
}
#endif

static bool vcpu_io_exit(const struct vcpu *v)
{
	uint32_t r = v->run->exit_reason;
	return r == KVM_EXIT_MMIO
#ifdef KVM_EXIT_IO
	       || r == KVM_EXIT_IO
#endif
		;
}

/* Before the thread parks for a pause: KVM finishes an I/O or MMIO exit
 * (a read's value into its register, the instruction pointer past the
 * access) only in the next KVM_RUN, so a snapshot taken now would have the
 * restored guest make the access again (a byte written twice, a byte read
 * lost). With immediate_exit set, that KVM_RUN completes it and returns
 * EINTR without running the guest (KVM's documented way to settle a vCPU
 * before saving it); an exit it makes instead (the next round of a string
 * instruction) is handled as any. False: the VM ends. */
static bool vcpu_settle(struct vcpu *v)
{
	for (;;) {
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		int r = ioctl(v->fd, KVM_RUN, 0), er = errno;
		if (r < 0) {
			vcpu_clear_kick(v->vm->kick_signal);
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
			if (er == EINTR || er == EAGAIN) {
				v->io_pending = false;
				return true;
			}
			vm_request_exit(v->vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), 0,
					"vCPU %u: KVM_RUN failed: %s", v->id, strerror(er));
			return false;
		}
		vcpu_count(&v->exits);
		if (!vcpu_handle_exit(v))
			return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	int r = vcpu_set_sigmask(v);
	if (r < 0) {
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, 0, 0,
				"vCPU %u: KVM_SET_SIGNAL_MASK: %s", v->id, strerror(-r));
		vm_vcpu_gone(v);
		return NULL;
	}
	/* Then the filter (KVM_SET_SIGNAL_MASK above needs no rule). */
	char name[16];
	snprintf(name, sizeof(name), "cvmm-vcpu%u", v->id);
	void *filter = v->filter;
	v->filter = NULL;
	jail_name_thread(name);
	r = jail_caps_limit(0);
	if (r == 0)
		r = jail_load(filter, name);
	else
		jail_free(filter);
	if (r < 0) {
		vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, 0, 0,
				"vCPU %u: cannot drop capabilities or load its seccomp filter: %s",
				v->id, strerror(-r));
		vm_vcpu_gone(v);
		return NULL;
	}
	if (v->test_violation)
		(void)getppid(); /* test builds only: must be killed by SIGSYS */
#ifdef CVMM_TEST_HOOKS
	if (v->test_overflow)
		vcpu_test_overflow();
#endif
	while (!atomic_load(&vm->stopping)) {
		if (v->io_pending && atomic_load(&vm->pause_req) && !vcpu_settle(v))
			break;
		vm_pause_point(v);
		if (atomic_load(&vm->stopping))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int er = errno;
			if (er == EINTR) {
				/* Resetting immediate_exit cannot lose a kick: a
				 * kicker sets stopping or pause_req first, then
				 * immediate_exit, then signals (vcpu_kick). The
				 * loop's top reads both (seq_cst) after this reset
				 * and after the pending signal was taken: a kick
				 * whose signal we just took is seen there, and one
				 * that comes later finds immediate_exit reset and
				 * sets it again, or signals into the next KVM_RUN. */
				vcpu_clear_kick(vm->kick_signal);
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
				v->io_pending = false;
				continue;
			}
			if (er == EAGAIN)
				continue;
			vm_request_exit(vm, CVMM_EXIT_ERROR, (int)v->id, vcpu_ip(v), 0,
					"vCPU %u: KVM_RUN failed: %s", v->id, strerror(er));
			break;
		}
		vcpu_count(&v->exits);
		if (!vcpu_handle_exit(v))
			break;
		v->io_pending = vcpu_io_exit(v);
	}
	vm_vcpu_gone(v);
	return NULL;
}

void vcpu_kick(struct vcpu *v)
{
	/* KVM reads immediate_exit on entry to KVM_RUN, another thread; the
	 * release store orders the kicker's writes before it (the flag is a
	 * byte the kernel reads, not a C11 atomic: GCC's builtins). */
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (v->thread_started && !pthread_equal(v->thread, pthread_self()))
		pthread_kill(v->thread, v->vm->kick_signal);
}

int vcpu_start(struct vcpu *v)
{
	/* Built here, on the main thread; the vCPU thread loads it. */
	struct jail_fds fds = {.vcpu = v->fd, .vm = v->vm->vm_fd};
	struct err e = {0};
	int r = jail_build(JAIL_VCPU, (enum jail_mode)v->vm->cfg.seccomp, &fds, &v->filter, &e);
	if (r < 0)
		return r;
#ifdef CVMM_TEST_HOOKS
	const char *t = getenv("CVMM_TEST_SECCOMP_VIOLATION");
	v->test_violation = t && !strcmp(t, "vcpu") && v->id == 0;
	t = getenv("CVMM_TEST_ASAN");
	v->test_overflow = t && !strcmp(t, "overflow-vcpu") && v->id == 0;
#endif
	/* The thread inherits a fully blocked mask: process signals (SIGINT,
	 * SIGTERM) go to the embedder's threads, never to a vCPU. */
	r = core_thread_start(&v->thread, vcpu_thread, v);
	if (r) {
		jail_free(v->filter);
		v->filter = NULL;
		return -r;
	}
	v->thread_started = true;
	char name[16];
	snprintf(name, sizeof(name), "cvmm-vcpu%u", v->id);
	pthread_setname_np(v->thread, name);
	return 0;
}
