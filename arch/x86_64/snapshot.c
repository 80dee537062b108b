/* SPDX-License-Identifier: MIT */
/* x86_64 snapshot state (arch/arch.h, docs/snapshot.md).
 *
 * VM-wide ("x86-vm"): the in-kernel PIC pair and IOAPIC, the PIT, the KVM
 * clock, the TSC frequency the guest saw. Per vCPU ("x86-vcpu" i): its
 * CPUID, general, segment and control registers, the XSAVE area (FPU, SSE,
 * AVX...), XCRs, debug registers, LAPIC, every MSR KVM lists that reads
 * back (the TSC and kvmclock's among them), MP state and pending events.
 * Platform devices: the UART, CMOS RTC and i8042 (devices/legacy_snap.c).
 *
 * A restore sets the saved CPUID (the guest keeps seeing the CPU it
 * booted on) once every feature in it is one this host's KVM offers, and
 * the rest in the order KVM needs: MP state, registers, special registers,
 * XSAVE, XCRs, debug registers, LAPIC (before the MSRs: the TSC deadline
 * is an LAPIC timer), MSRs, then the events. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/x86_arch.h"
#include "core/le.h"
#include "core/log.h"
#include "core/snap.h"

enum {
	VM_PIC_MASTER = 1,
	VM_PIC_SLAVE,
	VM_IOAPIC,
	VM_PIT,
	VM_CLOCK,
	VM_TSC_KHZ,
	VM_NCPUS,
	VM_CLOCK_REALTIME, /* optional: the wall-clock time of VM_CLOCK (ns) */
};
enum {
	CPU_CPUID = 1, /* struct kvm_cpuid_entry2[] */
	CPU_REGS,
	CPU_SREGS,
	CPU_XSAVE, /* the XSAVE area, 4 KiB or KVM_CAP_XSAVE2's size */
	CPU_XCRS,
	CPU_DEBUGREGS,
	CPU_LAPIC,
	CPU_MSRS, /* struct kvm_msr_entry[] */
	CPU_MP_STATE,
	CPU_EVENTS,
};

#define MAX_MSRS   1024
#define MAX_CPUID  1024
#define MSR_TSC_DL 0x6e0 /* IA32_TSC_DEADLINE */

/* KVM's MSR list names each MSR once: one TSC, one deadline. */
unsigned x86_msrs_restore_fix(struct kvm_msr_entry *m, unsigned n)
{
	const struct kvm_msr_entry *tsc = NULL;
	unsigned dl = n;
	for (unsigned i = 0; i < n; i++) {
		if (m[i].index == MSR_IA32_TSC && !tsc)
			tsc = &m[i];
		else if (m[i].index == MSR_TSC_DL && dl == n)
			dl = i;
	}
	if (dl == n)
		return 0;
	struct kvm_msr_entry d = m[dl];
	unsigned fixed = 0;
	if (tsc && !d.data) {
		d.data = tsc->data; /* read before the move below */
		fixed = 1;
	}
	memmove(&m[dl], &m[dl + 1], (n - dl - 1) * sizeof(m[0]));
	m[n - 1] = d;
	return fixed;
}

static int x86_ioctl(int fd, unsigned long req, void *arg, const char *what, struct err *e)
{
	if (ioctl(fd, req, arg) < 0)
		return err_set(e, errno, "%s: %s", what, strerror(errno));
	return 0;
}

/* The MSRs to save: KVM's list, less those that do not read back on this
 * host (KVM_GET_MSRS stops at the first it cannot read). *out allocated. */
static int msr_list(int kvm_fd, int vcpu_fd, struct kvm_msrs **out, struct err *e)
{
	*out = NULL;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + MAX_MSRS * sizeof(uint32_t));
	struct kvm_msrs *m = calloc(1, sizeof(*m) + MAX_MSRS * sizeof(struct kvm_msr_entry));
	int r = 0;
	if (!l || !m) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	l->nmsrs = MAX_MSRS;
	if ((r = x86_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l, "KVM_GET_MSR_INDEX_LIST", e)) < 0)
		goto out;
	for (unsigned i = 0; i < l->nmsrs; i++)
		m->entries[i].index = l->indices[i];
	m->nmsrs = l->nmsrs;
	for (;;) {
		int got = ioctl(vcpu_fd, KVM_GET_MSRS, m);
		if (got < 0) {
			r = err_set(e, errno, "KVM_GET_MSRS: %s", strerror(errno));
			goto out;
		}
		if ((unsigned)got >= m->nmsrs)
			break;
		/* entry `got` does not read: drop it, read again */
		memmove(&m->entries[got], &m->entries[got + 1],
			(m->nmsrs - (unsigned)got - 1) * sizeof(m->entries[0]));
		m->nmsrs--;
	}
	*out = m;
	m = NULL;
out:
	free(l);
	free(m);
	return r;
}

static int xsave_size(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

static int save_vcpu(struct arch *a, int fd, unsigned id, struct snap_w *w, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	int r;
	if ((r = x86_ioctl(fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_DEBUGREGS, &dregs, "KVM_GET_DEBUGREGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS", e)) < 0)
		return r;
	int xs = xsave_size(vm->kvm_fd);
	void *xsave = calloc(1, (size_t)xs);
	struct kvm_cpuid2 *cpuid =
		calloc(1, sizeof(*cpuid) + MAX_CPUID * sizeof(cpuid->entries[0]));
	struct kvm_msrs *msrs = NULL;
	if (!xsave || !cpuid) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	unsigned long req = xs > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	if ((r = x86_ioctl(fd, req, xsave, "KVM_GET_XSAVE", e)) < 0)
		goto out;
	/* Newer kernels say how many entries they wrote; older ones leave
	 * nent as given: the unused entries then stay zero (no real entry is:
	 * leaf 0's EAX is the highest leaf, every other has a function). */
	cpuid->nent = MAX_CPUID;
	if ((r = x86_ioctl(fd, KVM_GET_CPUID2, cpuid, "KVM_GET_CPUID2", e)) < 0)
		goto out;
	static const struct kvm_cpuid_entry2 zero;
	while (cpuid->nent && !memcmp(&cpuid->entries[cpuid->nent - 1], &zero, sizeof(zero)))
		cpuid->nent--;
	if ((r = msr_list(vm->kvm_fd, fd, &msrs, e)) < 0)
		goto out;
	snap_section(w, "x86-vcpu", id);
	snap_put(w, CPU_CPUID, cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]));
	snap_put(w, CPU_REGS, &regs, sizeof(regs));
	snap_put(w, CPU_SREGS, &sregs, sizeof(sregs));
	snap_put(w, CPU_XSAVE, xsave, (size_t)xs);
	snap_put(w, CPU_XCRS, &xcrs, sizeof(xcrs));
	snap_put(w, CPU_DEBUGREGS, &dregs, sizeof(dregs));
	snap_put(w, CPU_LAPIC, &lapic, sizeof(lapic));
	snap_put(w, CPU_MSRS, msrs->entries, msrs->nmsrs * sizeof(msrs->entries[0]));
	snap_put(w, CPU_MP_STATE, &mp, sizeof(mp));
	snap_put(w, CPU_EVENTS, &ev, sizeof(ev));
out:
	free(xsave);
	free(cpuid);
	free(msrs);
	return r;
}

int arch_save(struct arch *a, const int *vcpu_fds, unsigned n, struct snap_w *w, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int r;
	for (unsigned i = 0; i < 3; i++) {
		memset(&chip[i], 0, sizeof(chip[i]));
		chip[i].chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _SLAVE, _IOAPIC */
		if ((r = x86_ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip[i], "KVM_GET_IRQCHIP", e)) < 0)
			return r;
	}
	memset(&clock, 0, sizeof(clock));
	bool has_pit = atomic_load(&a->pit);
	if ((has_pit && (r = x86_ioctl(vm->vm_fd, KVM_GET_PIT2, &pit, "KVM_GET_PIT2", e)) < 0) ||
	    (r = x86_ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK", e)) < 0)
		return r;
	int khz = n ? ioctl(vcpu_fds[0], KVM_GET_TSC_KHZ, 0) : 0;
	snap_section(w, "x86-vm", 0);
	snap_u32(w, VM_NCPUS, n);
	snap_put(w, VM_PIC_MASTER, &chip[0].chip.pic, sizeof(chip[0].chip.pic));
	snap_put(w, VM_PIC_SLAVE, &chip[1].chip.pic, sizeof(chip[1].chip.pic));
	snap_put(w, VM_IOAPIC, &chip[2].chip.ioapic, sizeof(chip[2].chip.ioapic));
	if (has_pit) /* none: the guest never used one (x86_pit_create) */
		snap_put(w, VM_PIT, &pit, sizeof(pit));
	snap_u64(w, VM_CLOCK, clock.clock);
	/* KVM gives it where the host's clock is TSC-based (its master clock) */
	if (clock.flags & KVM_CLOCK_REALTIME)
		snap_u64_opt(w, VM_CLOCK_REALTIME, clock.realtime);
	snap_u32(w, VM_TSC_KHZ, khz > 0 ? (uint32_t)khz : 0);
	for (unsigned i = 0; i < n; i++)
		if ((r = save_vcpu(a, vcpu_fds[i], i, w, e)) < 0)
			return r;
	serial_save(&a->com1, w, 0);
	rtc_save(&a->rtc, w, 0);
	i8042_save(&a->i8042, w, 0);
	return 0;
}

/* ---- restore ---------------------------------------------------------------- */

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *ent, unsigned n,
						 uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (ent[i].function == fn &&
		    (!(ent[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || ent[i].index == idx))
			return &ent[i];
	return NULL;
}

/* Every feature bit the saved CPUID shows must be one this host's KVM
 * offers: the guest is using them. */
static int cpuid_check(const struct kvm_cpuid_entry2 *saved, unsigned ns,
		       const struct kvm_cpuid2 *host, struct err *e)
{
	/* dynamic: bits that mirror the guest's own state (CR4.OSXSAVE,
	 * CR4.PKE, the APIC's enable), not what the CPU offers */
	static const struct {
		uint32_t fn, idx;
		unsigned reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
		uint32_t dynamic;
		const char *name;
	} words[] = {
		{1, 0, 2, 1u << 27, "1.ECX"},
		{1, 0, 3, 1u << 9, "1.EDX"},
		{7, 0, 1, 0, "7.0.EBX"},
		{7, 0, 2, 1u << 4, "7.0.ECX"},
		{7, 0, 3, 0, "7.0.EDX"},
		{7, 1, 0, 0, "7.1.EAX"},
		{0xd, 0, 0, 0, "0xD.0.EAX (XSAVE components)"},
		{0xd, 1, 0, 0, "0xD.1.EAX"},
		{0x80000001, 0, 2, 0, "0x80000001.ECX"},
		{0x80000001, 0, 3, 0, "0x80000001.EDX"},
	};
	for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const struct kvm_cpuid_entry2 *s = cpuid_find(saved, ns, words[i].fn, words[i].idx);
		if (!s)
			continue;
		const struct kvm_cpuid_entry2 *h =
			cpuid_find(host->entries, host->nent, words[i].fn, words[i].idx);
		uint32_t sv[4] = {s->eax, s->ebx, s->ecx, s->edx};
		uint32_t hv[4] = {0};
		if (h) {
			hv[0] = h->eax;
			hv[1] = h->ebx;
			hv[2] = h->ecx;
			hv[3] = h->edx;
		}
		uint32_t missing = sv[words[i].reg] & ~hv[words[i].reg] & ~words[i].dynamic;
		if (missing)
			return err_set(e, ENOTSUP,
				       "snapshot's CPU has features this host lacks: CPUID %s bits "
				       "0x%08x",
				       words[i].name, missing);
	}
	return 0;
}

static int restore_vcpu(struct arch *a, int fd, unsigned id, const struct snap_r *sr, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct snap_sec s;
	if (snap_find(sr, "x86-vcpu", id, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no state for vCPU %u", id);
	static const uint16_t known[] = {CPU_CPUID,    CPU_REGS,      CPU_SREGS, CPU_XSAVE,
					 CPU_XCRS,     CPU_DEBUGREGS, CPU_LAPIC, CPU_MSRS,
					 CPU_MP_STATE, CPU_EVENTS};
	int r = snap_check_known(&s, known, sizeof(known) / sizeof(known[0]), e);
	if (r < 0)
		return r;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	if ((r = snap_get_exact(&s, CPU_REGS, &regs, sizeof(regs), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_SREGS, &sregs, sizeof(sregs), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_XCRS, &xcrs, sizeof(xcrs), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_DEBUGREGS, &dregs, sizeof(dregs), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_LAPIC, &lapic, sizeof(lapic), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_MP_STATE, &mp, sizeof(mp), e)) < 0 ||
	    (r = snap_get_exact(&s, CPU_EVENTS, &ev, sizeof(ev), e)) < 0)
		return r;
	size_t ncl, nml, xl;
	const void *cp = snap_get(&s, CPU_CPUID, &ncl);
	const void *mp_ = snap_get(&s, CPU_MSRS, &nml);
	const void *xp = snap_get(&s, CPU_XSAVE, &xl);
	size_t ce = sizeof(struct kvm_cpuid_entry2), me = sizeof(struct kvm_msr_entry);
	if (!cp || !ncl || ncl % ce || ncl / ce > MAX_CPUID)
		return err_set(e, EINVAL, "snapshot's vCPU %u CPUID is invalid", id);
	if (!mp_ || nml % me || nml / me > MAX_MSRS)
		return err_set(e, EINVAL, "snapshot's vCPU %u MSR list is invalid", id);
	int xs = xsave_size(vm->kvm_fd);
	if (!xp || xl < sizeof(struct kvm_xsave) || xl > (size_t)xs)
		return err_set(e, ENOTSUP,
			       "snapshot's vCPU %u XSAVE area (%zu bytes) does not fit this host's "
			       "(%d)",
			       id, xl, xs);
	struct kvm_cpuid2 *host = NULL, *cpuid = NULL;
	struct kvm_msrs *msrs = NULL;
	void *xsave = NULL;
	if ((r = x86_cpuid_table(vm, fd, id, &host, e)) < 0)
		goto out;
	unsigned ncpuid = (unsigned)(ncl / ce);
	cpuid = calloc(1, sizeof(*cpuid) + ncl);
	msrs = calloc(1, sizeof(*msrs) + nml);
	xsave = calloc(1, (size_t)xs);
	if (!cpuid || !msrs || !xsave) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	memcpy(cpuid->entries, cp, ncl);
	cpuid->nent = ncpuid;
	memcpy(msrs->entries, mp_, nml);
	msrs->nmsrs = (uint32_t)(nml / me);
	if (x86_msrs_restore_fix(msrs->entries, msrs->nmsrs))
		log_debug("vCPU %u: the snapshot's TSC deadline was 0: set to its TSC, so that a "
			  "timer tick in flight at the snapshot is not lost",
			  id);
	memcpy(xsave, xp, xl);
	if ((r = cpuid_check(cpuid->entries, ncpuid, host, e)) < 0)
		goto out;
	if ((r = x86_ioctl(fd, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2 (the snapshot's CPUID)", e)) <
		    0 ||
	    (r = x86_ioctl(fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_DEBUGREGS, &dregs, "KVM_SET_DEBUGREGS", e)) < 0 ||
	    (r = x86_ioctl(fd, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC", e)) < 0)
		goto out;
	int set = ioctl(fd, KVM_SET_MSRS, msrs);
	if (set < 0 || (unsigned)set != msrs->nmsrs) {
		r = err_set(e, set < 0 ? errno : ENOTSUP,
			    "this host's KVM refuses MSR 0x%x of vCPU %u's state",
			    set >= 0 ? msrs->entries[set].index : 0, id);
		goto out;
	}
	r = x86_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS", e);
out:
	free(host);
	free(cpuid);
	free(msrs);
	free(xsave);
	return r;
}

int arch_restore(struct arch *a, const int *vcpu_fds, unsigned n, const struct snap_r *r,
		 bool clock_realtime, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct snap_sec s;
	if (snap_find(r, "x86-vm", 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no x86 VM state");
	static const uint16_t known[] = {VM_PIC_MASTER, VM_PIC_SLAVE, VM_IOAPIC, VM_PIT,
					 VM_CLOCK,	VM_TSC_KHZ,   VM_NCPUS,	 VM_CLOCK_REALTIME};
	uint32_t ncpus, khz;
	uint64_t clockv, realtime = 0;
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	memset(chip, 0, sizeof(chip));
	int ret = snap_check_known(&s, known, sizeof(known) / sizeof(known[0]), e);
	if (!ret)
		ret = snap_get_u32(&s, VM_NCPUS, &ncpus, e);
	if (!ret && ncpus != n)
		ret = err_set(e, EINVAL, "snapshot has %u vCPUs, the VM %u", ncpus, n);
	if (!ret)
		ret = snap_get_exact(&s, VM_PIC_MASTER, &chip[0].chip.pic, sizeof(chip[0].chip.pic),
				     e);
	if (!ret)
		ret = snap_get_exact(&s, VM_PIC_SLAVE, &chip[1].chip.pic, sizeof(chip[1].chip.pic),
				     e);
	if (!ret)
		ret = snap_get_exact(&s, VM_IOAPIC, &chip[2].chip.ioapic,
				     sizeof(chip[2].chip.ioapic), e);
	size_t pit_len;
	bool has_pit = snap_get(&s, VM_PIT, &pit_len) != NULL; /* absent: never used */
	if (!ret && has_pit)
		ret = snap_get_exact(&s, VM_PIT, &pit, sizeof(pit), e);
	if (!ret)
		ret = snap_get_u64(&s, VM_CLOCK, &clockv, e);
	if (!ret)
		ret = snap_get_u32(&s, VM_TSC_KHZ, &khz, e);
	if (!ret)
		ret = snap_opt_u64(&s, VM_CLOCK_REALTIME, 0, &realtime, e);
	if (!ret && clock_realtime && !realtime)
		ret = err_set(e, EINVAL,
			      "clock_realtime: the snapshot has no wall-clock time for the guest's "
			      "clock (its host's clock was not TSC-based)");
	if (ret < 0)
		return ret;
	/* The guest's TSC ticks at the rate it saw: scale it where the host
	 * can, say so where it cannot. */
	if (khz && n) {
		int here = ioctl(vcpu_fds[0], KVM_GET_TSC_KHZ, 0);
		if (here > 0 && (uint32_t)here != khz) {
			bool scaled =
				ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
			for (unsigned i = 0; scaled && i < n; i++)
				if (ioctl(vcpu_fds[i], KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
					scaled = false;
			if (!scaled)
				log_warn("snapshot's TSC ran at %u kHz, this host's at %d kHz and "
					 "cannot be scaled: the guest's clock may drift",
					 khz, here);
		}
	}
	for (unsigned i = 0; i < n; i++)
		if ((ret = restore_vcpu(a, vcpu_fds[i], i, r, e)) < 0)
			return ret;
	for (unsigned i = 0; i < 3; i++) {
		chip[i].chip_id = i;
		if ((ret = x86_ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip[i], "KVM_SET_IRQCHIP", e)) <
		    0)
			return ret;
	}
	struct kvm_clock_data clock;
	memset(&clock, 0, sizeof(clock));
	clock.clock = clockv;
	if (clock_realtime) { /* KVM adds the wall-clock time since */
		clock.flags = KVM_CLOCK_REALTIME;
		clock.realtime = realtime;
	}
	if (has_pit && ((ret = x86_pit_create(a, e)) < 0 ||
			(ret = x86_ioctl(vm->vm_fd, KVM_SET_PIT2, &pit, "KVM_SET_PIT2", e)) < 0))
		return ret;
	if ((ret = x86_ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK", e)) < 0)
		return ret;
	if ((ret = serial_restore(&a->com1, r, 0, e)) < 0 ||
	    (ret = rtc_restore(&a->rtc, r, 0, e)) < 0 ||
	    (ret = i8042_restore(&a->i8042, r, 0, e)) < 0)
		return ret;
	return 0;
}
