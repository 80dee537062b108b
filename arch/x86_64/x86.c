/* SPDX-License-Identifier: MIT */
/* x86_64: VM and vCPU setup, the legacy platform, and the boot flow. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/x86_arch.h"
#include "boot/boot.h"
#include "devices/legacy.h"
#include "devices/serial.h"

/* The ACPI tables (boot/acpi.c, from the layout) and the device that
 * answers the guest's writes (devices/acpi_pm.c) must agree. */
_Static_assert(X86_ACPI_S5_SLP_TYP == ACPI_PM_S5_SLP_TYP && X86_ACPI_SLP_EN == ACPI_PM_SLP_EN &&
		       X86_ACPI_RESET_VALUE == ACPI_PM_RESET_VALUE,
	       "the FADT and DSDT describe the ACPI PM device's registers");

/* ---- memory and VM ------------------------------------------------------- */

unsigned arch_ram_layout(uint64_t mem, uint64_t *gpa, uint64_t *size)
{
	return x86_ram_layout(mem, gpa, size);
}

/* ISA IRQs free for devices (8 is the RTC's), then the rest of the IOAPIC. */
/* GSI 23 is the power button's (X86_GED_GSI), 3 the VM generation ID's. */
static const uint8_t x86_virtio_gsis[] = {5,  6,  7,  9,  10, 11, 12, 13, 14,
					  15, 16, 17, 18, 19, 20, 21, 22};
_Static_assert(sizeof(x86_virtio_gsis) >= ARCH_MAX_DEVS, "a GSI for every device slot");

int arch_mmio_slot(unsigned i, uint64_t *base, uint32_t *gsi)
{
	if (i >= sizeof(x86_virtio_gsis) || i >= X86_VIRTIO_MMIO_MAX)
		return -ENOSPC;
	*base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE;
	*gsi = x86_virtio_gsis[i];
	return 0;
}

int arch_pci_slot(unsigned i, uint64_t bar_size, unsigned *slot, uint64_t *bar, uint32_t *gsi)
{
	if (i >= sizeof(x86_virtio_gsis) || i + 1 >= 32 || (i + 1) * bar_size > X86_PCI_MEM_SIZE)
		return -ENOSPC;
	*slot = i + 1; /* 0 is the host bridge */
	*bar = X86_PCI_MEM_BASE + i * bar_size;
	*gsi = x86_virtio_gsis[i];
	return 0;
}

uint64_t arch_pci_ecam(void)
{
	return X86_PCI_ECAM_BASE;
}

uint64_t arch_boot_timer_base(void)
{
	return X86_BOOT_TIMER_BASE;
}

const char *arch_default_cmdline(void)
{
	return "console=ttyS0 panic=1";
}

int arch_create(struct arch **out, const struct arch_vm *vm, struct err *e)
{
	struct arch *a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(e, ENOMEM, "out of memory");
	a->vm = vm;
	*out = a;
	return 0;
}

void arch_destroy(struct arch *a)
{
	if (!a)
		return;
	if (a->devs_ready) {
		serial_destroy(&a->com1);
		rtc_destroy(&a->rtc);
		i8042_destroy(&a->i8042);
	}
	free(a);
}

struct serial *arch_console(struct arch *a)
{
	return a->devs_ready ? &a->com1 : NULL;
}

/* An interrupt line of the in-kernel IOAPIC (and PIC): the legacy devices'
 * hook (devices/irq.h). */
static void x86_irq_set(void *opaque, uint32_t gsi, int level)
{
	struct arch *a = opaque;
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};
	ioctl(a->vm->vm_fd, KVM_IRQ_LINE, &irq);
}

/* An edge on the Generic Event Device's interrupt: its _EVT method
 * notifies the PNP0C0C power button (boot/acpi.c). */
int arch_power_button(struct arch *a)
{
	x86_irq_set(a, X86_GED_GSI, 1);
	x86_irq_set(a, X86_GED_GSI, 0);
	return 0;
}

uint64_t arch_vmgenid_gpa(const struct arch *a)
{
	(void)a;
	return X86_VMGENID_ADDR;
}

/* An edge on the GED's second interrupt: its _EVT notifies VGEN, and the
 * guest's vmgenid driver reads the ID again (boot/acpi.c). */
int arch_vmgenid_notify(struct arch *a)
{
	x86_irq_set(a, X86_VMGENID_GSI, 1);
	x86_irq_set(a, X86_VMGENID_GSI, 0);
	return 0;
}

/* Once arch_devices_init succeeded (a started VM's). */
int arch_ctrl_alt_del(struct arch *a)
{
	return i8042_ctrl_alt_del(&a->i8042);
}

int arch_vm_init(struct arch *a, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0)
		return err_set(e, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	uint64_t idmap = X86_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return err_set(e, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(e, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	/* No PIT yet: arch_pio_exit makes it for a guest that uses it. */
	return 0;
}

/* ---- the PIT, made when the guest first uses it ------------------------- */

/* A guest that knows its TSC's frequency (kvm-clock, or CPUID 0x40000010),
 * and has a local APIC with the TSC deadline timer and ARAT, needs no PIT:
 * Linux 5.3 and later then never touch its ports (apic_needs_pit()). A
 * guest that does needs one from its first access on, so the PIT is made
 * then, and the access made again against it: the guest cannot tell it
 * from a PIT made at start, and a VM whose guest never used one neither
 * pays its creation nor, at exit, the teardown of its timer thread. */
int x86_pit_create(struct arch *a, struct err *e)
{
	if (atomic_load(&a->pit))
		return 0;
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(a->vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0 && errno != EEXIST)
		return err_set(e, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	atomic_store(&a->pit, true);
	return 0;
}

static bool x86_pit_port(uint16_t port)
{
	return (port >= X86_PORT_PIT && port < X86_PORT_PIT + 4) || port == X86_PORT_PIT_SPEAKER;
}

int arch_pio_exit(struct arch *a, int vcpu_fd, struct kvm_run *run, struct err *e)
{
	if (atomic_load(&a->pit) || !x86_pit_port(run->io.port))
		return 0;
	int r = x86_pit_create(a, e);
	if (r < 0)
		return r;
	/* A string instruction (several elements) is not replayed: KVM may
	 * have more rounds of it to finish. Its elements go to the bus (no
	 * device there: reads get all ones) and the rest of its life to the
	 * PIT. A single access is made again: KVM completes this exit in a
	 * KVM_RUN that immediate_exit stops before the guest runs (stepping
	 * past the instruction, for a read putting the bus's value in the
	 * register), then the registers from before it come back, the
	 * instruction pointer on it. immediate_exit stays set: the vCPU loop
	 * takes the next KVM_RUN's EINTR as a kick's. */
	if (run->io.count != 1)
		return 0;
	struct kvm_regs regs; /* as they were before the access: KVM completes it only below */
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return err_set(e, errno, "KVM_GET_REGS: %s", strerror(errno));
	__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (ioctl(vcpu_fd, KVM_RUN, 0) == 0 || errno != EINTR)
		return err_set(e, errno ? errno : EIO,
			       "replaying the first PIT access: KVM_RUN did not stop (%s)",
			       strerror(errno));
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_set(e, errno, "KVM_SET_REGS: %s", strerror(errno));
	return 1;
}

int arch_devices_init(struct arch *a, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct irq_line com1_irq = {x86_irq_set, a, X86_COM1_IRQ};
	int r = serial_init(&a->com1, &com1_irq, vm->console_out);
	if (r < 0)
		return err_set(e, -r, "serial: %s", strerror(-r));
	r = rtc_init(&a->rtc, NULL, NULL);
	if (r < 0) {
		serial_destroy(&a->com1);
		return err_set(e, -r, "rtc: %s", strerror(-r));
	}
	struct irq_line kbd_irq = {x86_irq_set, a, X86_KBD_IRQ};
	r = i8042_init(&a->i8042, &vm->sys, &kbd_irq);
	if (r < 0) {
		rtc_destroy(&a->rtc);
		serial_destroy(&a->com1);
		return err_set(e, -r, "i8042: %s", strerror(-r));
	}
	acpi_pm_init(&a->acpi_pm, &vm->sys);
	a->devs_ready = true;
	if ((r = bus_add(vm->pio, X86_PORT_COM1, 8, &serial_ops, &a->com1, "com1")) < 0 ||
	    (r = bus_add(vm->pio, X86_PORT_CMOS, 2, &rtc_ops, &a->rtc, "rtc")) < 0 ||
	    /* 0x60 data .. 0x64 command; 0x61 is the in-kernel PIT's. */
	    (r = bus_add(vm->pio, X86_PORT_I8042, 5, &i8042_ops, &a->i8042, "i8042")) < 0 ||
	    (r = bus_add(vm->pio, X86_PORT_ACPI_SLEEP_CTL, 3, &acpi_pm_ops, &a->acpi_pm,
			 "acpi-pm")) < 0)
		return err_set(e, -r, "cannot map the legacy devices");
	if (vm->debug_exit) {
		a->debug_exit = (struct debug_exit){vm->debug_exit, vm->debug_exit_ctx};
		r = bus_add(vm->pio, X86_PORT_DEBUG_EXIT, 1, &debug_exit_ops, &a->debug_exit,
			    "debug-exit");
		if (r < 0)
			return err_set(e, -r, "cannot map the debug-exit port");
	}
	return 0;
}

/* ---- vCPUs --------------------------------------------------------------- */

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

/* This host's CPUID for vCPU id (x86_arch.h). */
int x86_cpuid_table(const struct arch_vm *vm, int fd, unsigned id, struct kvm_cpuid2 **out,
		    struct err *e)
{
	unsigned max = 256;
	struct kvm_cpuid2 *c = NULL;
	*out = NULL;
	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + (max + 4) * sizeof(c->entries[0]));
		if (!c)
			return err_set(e, ENOMEM, "out of memory");
		c->nent = max;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || max >= 4096) {
			int er = errno;
			free(c);
			return err_set(e, er, "KVM_GET_SUPPORTED_CPUID: %s", strerror(er));
		}
		max *= 2;
	}
	int tsc_khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	int deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	unsigned n = c->nent;
	int r = x86_cpuid_filter(c->entries, &n, max + 4, id, vm->ncpus,
				 tsc_khz > 0 ? (uint32_t)tsc_khz : 0, deadline);
	if (r < 0) {
		free(c);
		return err_set(e, -r, "CPUID table full");
	}
	c->nent = n;
	*out = c;
	return 0;
}

static int x86_set_cpuid(const struct arch_vm *vm, int fd, unsigned id, struct err *e)
{
	struct kvm_cpuid2 *c;
	int r = x86_cpuid_table(vm, fd, id, &c, e);
	if (r < 0)
		return r;
	if (ioctl(fd, KVM_SET_CPUID2, c) < 0) {
		int er = errno;
		free(c);
		return err_set(e, er, "KVM_SET_CPUID2: %s", strerror(er));
	}
	free(c);
	return 0;
}

static int x86_set_msrs(int fd, struct err *e)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, 1 /* fast strings */},
		{MSR_MTRR_DEF_TYPE, (1u << 11) | 6 /* MTRRs on, default write-back */},
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry ent[N];
	} m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		m.ent[i].index = boot_msrs[i].index;
		m.ent[i].data = boot_msrs[i].value;
	}
	int r = ioctl(fd, KVM_SET_MSRS, &m);
	if (r != N)
		return err_set(e, r < 0 ? errno : EINVAL, "KVM_SET_MSRS: set %d of %d boot MSRs", r,
			       (int)N);
	return 0;
}

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static void lapic_set_lvt(struct kvm_lapic_state *s, unsigned reg, uint32_t mode)
{
	uint32_t v;
	memcpy(&v, &s->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&s->regs[reg], &v, 4);
}

static int x86_set_lapic(int fd, struct err *e)
{
	struct kvm_lapic_state s;
	if (ioctl(fd, KVM_GET_LAPIC, &s) < 0)
		return err_set(e, errno, "KVM_GET_LAPIC: %s", strerror(errno));
	lapic_set_lvt(&s, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&s, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(fd, KVM_SET_LAPIC, &s) < 0)
		return err_set(e, errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int x86_set_fpu(int fd, struct err *e)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(e, errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

int arch_vcpu_init(struct arch *a, int vcpu_fd, unsigned id, struct err *e)
{
	int r = x86_set_cpuid(a->vm, vcpu_fd, id, e);
	if (r == 0)
		r = x86_set_msrs(vcpu_fd, e);
	if (r == 0)
		r = x86_set_lapic(vcpu_fd, e);
	if (r == 0)
		r = x86_set_fpu(vcpu_fd, e);
	return r;
}

uint64_t arch_vcpu_ip(int vcpu_fd)
{
	struct kvm_regs regs;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}

/* A guest whose IDT cannot hold the double-fault vector cannot take any
 * exception: the first one it raises shuts the CPU down. Hardware KVM exits
 * with KVM_EXIT_SHUTDOWN then; where guest kernel code is emulated (PVM), the
 * emulator fails to deliver the exception and KVM exits with an emulation or
 * delivery internal error instead. Those two, with such an IDT, are the
 * guest's triple fault, not a fault of cvmm or KVM. */
bool arch_vcpu_unrecoverable(int vcpu_fd, uint32_t suberror)
{
	if (suberror != KVM_INTERNAL_ERROR_EMULATION && suberror != KVM_INTERNAL_ERROR_DELIVERY_EV)
		return false;
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return false;
	if (!(s.cr0 & 1)) /* real mode: the IVT has no limit to check */
		return false;
	/* an IDT gate is 16 bytes in long mode, 8 in protected mode */
	unsigned gate = (s.efer & (1u << 10)) ? 16 : 8; /* EFER.LMA */
	return s.idt.limit < 8 * gate + gate - 1;
}

/* ---- boot ------------------------------------------------------------------ */

/* GDT entry from base/limit/flags (flags: the access byte in bits 0-7 and
 * the G/DB/L/AVL nibble in bits 12-15). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

static struct kvm_segment seg_from_gdt(uint64_t ent, uint16_t sel)
{
	struct kvm_segment s = {
		.base = (uint32_t)(((ent >> 16) & 0xffffff) | (((ent >> 56) & 0xff) << 24)),
		.limit = (uint32_t)((ent & 0xffff) | (((ent >> 48) & 0xf) << 16)),
		.selector = sel,
		.type = (uint8_t)((ent >> 40) & 0xf),
		.present = (uint8_t)((ent >> 47) & 1),
		.dpl = (uint8_t)((ent >> 45) & 3),
		.db = (uint8_t)((ent >> 54) & 1),
		.s = (uint8_t)((ent >> 44) & 1),
		.l = (uint8_t)((ent >> 53) & 1),
		.g = (uint8_t)((ent >> 55) & 1),
		.avl = (uint8_t)((ent >> 52) & 1),
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

/* GDT slots: the Linux 64-bit boot protocol wants __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18. */
#define GDT_CODE 2
#define GDT_DATA 3
#define GDT_TSS	 4

#define CR0_PE	 (1ULL << 0)
#define CR0_ET	 (1ULL << 4)
#define CR0_NE	 (1ULL << 5)
#define CR0_PG	 (1ULL << 31)
#define CR4_PAE	 (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

static int x86_write_page_tables(const struct guest_mem *m, struct err *e)
{
	/* Identity map [0, 4 GiB) with 2 MiB pages: PML4 -> PDPT -> 4 PDs. */
	uint64_t pml4e = X86_PDPT_ADDR | 3;
	int r = gm_fill(m, X86_PML4_ADDR, 0, 4096);
	r = r ?: gm_write(m, X86_PML4_ADDR, &pml4e, 8);
	r = r ?: gm_fill(m, X86_PDPT_ADDR, 0, 4096);
	for (uint64_t i = 0; i < 4 && !r; i++) {
		uint64_t pdpte = (X86_PD_ADDR + i * 4096) | 3;
		r = gm_write(m, X86_PDPT_ADDR + i * 8, &pdpte, 8);
		for (uint64_t j = 0; j < 512 && !r; j++) {
			uint64_t pde = ((i * 512 + j) << 21) | 0x83; /* present, rw, 2 MiB */
			r = gm_write(m, X86_PD_ADDR + i * 4096 + j * 8, &pde, 8);
		}
	}
	return r ? err_set(e, EFAULT, "no guest memory for the boot page tables") : 0;
}

int arch_boot_vcpu(struct arch *a, int vcpu_fd, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	bool lm = a->boot.kind == X86_BOOT_LINUX64;
	uint64_t gdt[5] = {
		0,
		0,
		lm ? gdt_entry(0xa09b, 0, 0xfffff) : gdt_entry(0xc09b, 0, 0xfffff),
		gdt_entry(0xc093, 0, 0xfffff),
		gdt_entry(0x808b, 0, 0xfffff),
	};
	uint64_t idt = 0;
	if (gm_write(vm->mem, X86_GDT_ADDR, gdt, sizeof(gdt)) ||
	    gm_write(vm->mem, X86_IDT_ADDR, &idt, sizeof(idt)))
		return err_set(e, EFAULT, "no guest memory for the boot GDT");

	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(e, errno, "KVM_GET_SREGS: %s", strerror(errno));
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = X86_IDT_ADDR;
	sregs.idt.limit = 7;
	sregs.cs = seg_from_gdt(gdt[GDT_CODE], GDT_CODE * 8);
	struct kvm_segment data = seg_from_gdt(gdt[GDT_DATA], GDT_DATA * 8);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = seg_from_gdt(gdt[GDT_TSS], GDT_TSS * 8);
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (lm) {
		int r = x86_write_page_tables(vm->mem, e);
		if (r < 0)
			return r;
		sregs.cr3 = X86_PML4_ADDR;
		sregs.cr4 |= CR4_PAE;
		sregs.cr0 |= CR0_PG;
		sregs.efer |= EFER_LME | EFER_LMA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(e, errno, "KVM_SET_SREGS: %s", strerror(errno));

	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = a->boot.entry;
	if (lm) {
		regs.rsi = X86_ZERO_PAGE_ADDR;
		regs.rsp = regs.rbp = X86_BOOT_STACK_ADDR;
	} else {
		regs.rbx = X86_PVH_INFO_ADDR;
	}
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_set(e, errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int arch_load(struct arch *a, const uint8_t *kernel, size_t ksize, const uint8_t *initrd,
	      size_t isize, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct x86_kernel k;
	const struct guest_mem *m = vm->mem;
	int r = x86_kernel_load(m, kernel, ksize, &k, e);
	if (r < 0)
		return r;
	/* Devices are described in the DSDT; a kernel told not to use ACPI
	 * finds them on its command line (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES). */
	char cmdline[X86_CMDLINE_MAX];
	int n = snprintf(cmdline, sizeof(cmdline), "%s", vm->cmdline);
	bool no_acpi = strstr(vm->cmdline, "acpi=off") != NULL;
	for (unsigned i = 0; no_acpi && i < vm->ndevs && n > 0 && (size_t)n < sizeof(cmdline); i++)
		if (!vm->devs[i].pci)
			n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n,
				      " virtio_mmio.device=4K@0x%llx:%u",
				      (unsigned long long)vm->devs[i].base, vm->devs[i].gsi);
	if (n < 0 || (size_t)n >= sizeof(cmdline))
		return err_set(e, E2BIG, "command line too long with the device list");
	r = x86_cmdline_write(m, &k, cmdline, e);
	if (r < 0)
		return r;
	struct x86_boot_cfg bc = {.mem_size = vm->memory};
	if (initrd) {
		uint64_t below4g =
			vm->memory < X86_MMIO_HOLE_START ? vm->memory : X86_MMIO_HOLE_START;
		r = x86_initrd_load(m, below4g, &k, initrd, isize, &bc.initrd_gpa, e);
		if (r < 0)
			return r;
		bc.initrd_size = isize;
	}
	/* The MP table lives in the 1 KiB EBDA; kernels with more vCPUs than
	 * fit there find them all through the ACPI MADT. */
	if (vm->ncpus <= X86_MPTABLE_MAX_CPUS) {
		r = x86_mptable_write(m, vm->ncpus, e);
		if (r < 0)
			return r;
	}
	struct acpi_mmio_dev devs[ARCH_MAX_DEVS];
	struct acpi_pci_dev pdevs[ARCH_MAX_DEVS];
	unsigned ndevs = 0, npci = 0;
	for (unsigned i = 0; i < vm->ndevs && i < ARCH_MAX_DEVS; i++) {
		const struct arch_dev *s = &vm->devs[i];
		if (s->pci)
			pdevs[npci++] = (struct acpi_pci_dev){s->slot, s->gsi};
		else
			devs[ndevs++] = (struct acpi_mmio_dev){"LNRO0005", s->base,
							       X86_VIRTIO_MMIO_SIZE, s->gsi};
	}
	struct x86_acpi_cfg acfg = {.ncpus = vm->ncpus,
				    .devs = devs,
				    .ndevs = ndevs,
				    .ged_gsi = X86_GED_GSI,
				    .vmgenid_gpa = X86_VMGENID_ADDR,
				    .vmgenid_gsi = X86_VMGENID_GSI};
	if (vm->pci) {
		acfg.ecam_base = X86_PCI_ECAM_BASE;
		acfg.pci_mem_base = (uint32_t)X86_PCI_MEM_BASE;
		acfg.pci_mem_size = X86_PCI_MEM_SIZE;
		acfg.pci_devs = pdevs;
		acfg.npci = npci;
	}
	r = x86_acpi_write(m, &acfg, &bc.rsdp_gpa, e);
	if (r < 0)
		return r;
	if (k.kind == X86_BOOT_LINUX64)
		r = x86_zero_page_write(m, &k, &bc, e);
	else
		r = x86_pvh_info_write(m, &bc, e);
	if (r < 0)
		return r;
	a->boot.kind = k.kind;
	a->boot.entry = k.entry;
	return 0;
}
