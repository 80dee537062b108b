/* SPDX-License-Identifier: MIT */
/* x86_64's private state, shared by its files (x86.c, snapshot.c). */
#ifndef CVMM_X86_ARCH_H
#define CVMM_X86_ARCH_H

#include <linux/kvm.h>

#include "arch/arch.h"
#include "devices/legacy.h"
#include "devices/serial.h"

#define MSR_IA32_TSC 0x10

/* The x86 VM's own: the legacy PC devices and the boot entry. */
struct arch {
	const struct arch_vm *vm; /* borrowed from the VMM */
	struct serial com1;
	struct rtc rtc;
	struct i8042 i8042;
	struct acpi_pm acpi_pm;
	struct debug_exit debug_exit;
	bool devs_ready; /* com1, rtc and i8042 set up: arch_destroy ends them */
	/* The in-kernel PIT exists: made on the guest's first access to its
	 * ports (arch_pio_exit) or by a restore of a VM that had one. */
	_Atomic bool pit;
	struct {
		uint32_t kind;	/* X86_BOOT_LINUX64 or the PVH entry */
		uint64_t entry; /* first instruction */
	} boot;
};

/* Creates the in-kernel PIT (once; a second call, or a vCPU that lost the
 * race, finds it made). */
ARCH_WUR int x86_pit_create(struct arch *a, struct err *e);

/* This host's CPUID for vCPU id (what arch_vcpu_init sets): *out is
 * allocated (free it). */
ARCH_WUR int x86_cpuid_table(const struct arch_vm *vm, int fd, unsigned id, struct kvm_cpuid2 **out,
			     struct err *e);

/* A snapshot's MSRs made ready for KVM_SET_MSRS, in place (Firecracker's
 * two rules, src/vmm/src/arch/x86_64/vcpu.rs):
 * - IA32_TSC_DEADLINE goes after IA32_TSC: KVM arms the LAPIC timer from
 *   the deadline against the TSC as it is at that write; written before
 *   the TSC, the timer is primed against the new VM's TSC (too late or
 *   not at all).
 * - A deadline of 0 becomes the saved TSC (fires at once): KVM clears the
 *   MSR when the timer fires, before the interrupt reaches the LAPIC's
 *   IRR, and KVM_GET_LAPIC does not see it pending. Saved in that window,
 *   the tick is lost and the guest's vCPU waits for a timer that never
 *   fires, until some other interrupt comes (a restored guest silent for
 *   seconds, 2 restores of 30 here). At worst the guest gets one early
 *   tick, which its timer code takes as spurious.
 * Returns 1 when it set the deadline, else 0. */
unsigned x86_msrs_restore_fix(struct kvm_msr_entry *m, unsigned n);

#endif
