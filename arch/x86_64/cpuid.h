/* SPDX-License-Identifier: MIT */
#ifndef CVMM_X86_CPUID_H
#define CVMM_X86_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

/* Turns the host's KVM_GET_SUPPORTED_CPUID list into one vCPU's CPUID:
 * APIC id and topology (one socket, ncpus cores, one thread each), the
 * hypervisor bit, the KVM signature/feature leaves (added if absent, within
 * max entries), TSC-deadline if the host's KVM emulates it.
 * Pure function: unit-tested without KVM. Returns 0 or -ENOSPC. */
__attribute__((warn_unused_result)) int x86_cpuid_filter(struct kvm_cpuid_entry2 *ent, unsigned *n,
							 unsigned max, unsigned apic_id,
							 unsigned ncpus, uint32_t tsc_khz,
							 int tsc_deadline);

#define X86_CPUID_KVM_SIGNATURE 0x40000000u
#define X86_CPUID_KVM_FEATURES	0x40000001u
#define X86_CPUID_TIMING	0x40000010u

#endif
