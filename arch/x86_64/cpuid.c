/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/cpuid.h"

#include <errno.h>
#include <string.h>

#define ECX_HYPERVISOR	 (1u << 31)
#define ECX_TSC_DEADLINE (1u << 24)
#define EDX_HTT		 (1u << 28)

/* KVM paravirt features a guest may use when the host reports none. */
#define KVM_FEATURES_FALLBACK                                                                      \
	((1u << 0) | (1u << 3) | (1u << 24)) /* CLOCKSOURCE, CLOCKSOURCE2, STABLE_BIT */

static unsigned order_of(unsigned n)
{
	unsigned s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *ent, unsigned n, uint32_t fn)
{
	for (unsigned i = 0; i < n; i++)
		if (ent[i].function == fn)
			return &ent[i];
	return NULL;
}

static struct kvm_cpuid_entry2 *get_or_add(struct kvm_cpuid_entry2 *ent, unsigned *n, unsigned max,
					   uint32_t fn)
{
	struct kvm_cpuid_entry2 *e = find(ent, *n, fn);
	if (e)
		return e;
	if (*n >= max)
		return NULL;
	e = &ent[(*n)++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	return e;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned ncpus)
{
	unsigned shift = order_of(ncpus);
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;
		break;
	case 1: /* core level */
		e->eax = shift;
		e->ebx = ncpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
	}
	e->edx = apic_id;
}

int x86_cpuid_filter(struct kvm_cpuid_entry2 *ent, unsigned *n, unsigned max, unsigned apic_id,
		     unsigned ncpus, uint32_t tsc_khz, int tsc_deadline)
{
	unsigned shift = order_of(ncpus);
	for (unsigned i = 0; i < *n; i++) {
		struct kvm_cpuid_entry2 *e = &ent[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			e->ecx |= ECX_HYPERVISOR;
			if (tsc_deadline)
				e->ecx |= ECX_TSC_DEADLINE;
			if (ncpus > 1)
				e->edx |= EDX_HTT;
			else
				e->edx &= ~EDX_HTT;
			break;
		case 4: /* deterministic cache parameters: cores per package */
			if (e->eax & 0x1f) {
				uint32_t cores = (ncpus > 64 ? 64 : ncpus) - 1;
				e->eax = (e->eax & 0x03ffffffu) | (cores << 26);
				/* caches are per core except the last level */
				uint32_t level = (e->eax >> 5) & 7;
				uint32_t sharing = level >= 3 ? ncpus - 1 : 0;
				e->eax = (e->eax & ~(0xfffu << 14)) | ((sharing & 0xfff) << 14);
			}
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(e, apic_id, ncpus);
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | ((ncpus - 1) & 0xff);
			break;
		default:
			break;
		}
	}
	struct kvm_cpuid_entry2 *sig = get_or_add(ent, n, max, X86_CPUID_KVM_SIGNATURE);
	if (!sig)
		return -ENOSPC;
	sig->index = 0;
	sig->flags = 0;
	sig->eax = tsc_khz ? X86_CPUID_TIMING : X86_CPUID_KVM_FEATURES;
	memcpy(&sig->ebx, "KVMK", 4);
	memcpy(&sig->ecx, "VMKV", 4);
	memcpy(&sig->edx, "M\0\0\0", 4);
	struct kvm_cpuid_entry2 *feat = get_or_add(ent, n, max, X86_CPUID_KVM_FEATURES);
	if (!feat)
		return -ENOSPC;
	if (!feat->eax)
		feat->eax = KVM_FEATURES_FALLBACK;
	if (tsc_khz) {
		/* The timing leaf: TSC and local APIC bus frequencies in kHz. */
		struct kvm_cpuid_entry2 *t = get_or_add(ent, n, max, X86_CPUID_TIMING);
		if (!t)
			return -ENOSPC;
		t->eax = tsc_khz;
		t->ebx = 1000000; /* KVM's APIC timer runs at 1 GHz */
		t->ecx = t->edx = 0;
	}
	return 0;
}
