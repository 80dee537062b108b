/* SPDX-License-Identifier: MIT */
/* The seam between the generic VMM and an architecture. vmm/ calls only
 * these; each arch/<name>/ implements them. An arch sees no struct vm:
 * what it needs of the VM it reads from a struct arch_vm the VMM lends it,
 * and what is its own (its platform devices, its interrupt controller, its
 * boot entry) lives in its struct arch, opaque to vmm/. */
#ifndef CVMM_ARCH_H
#define CVMM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/err.h"
#include "core/mem.h"
#include "devices/irq.h"

struct serial;
struct kvm_run;
struct snap_w;
struct snap_r;

#define ARCH_WUR __attribute__((warn_unused_result))

/* Device slots the seam describes at most, one interrupt each: x86 has 17
 * (IOAPIC pins 5-22 but the RTC's 8; 23 is the power button's, 3 the VM
 * generation ID's), arm64 95 (SPIs 1-95; 0 is the UART's, 96 the VM
 * generation ID's). */
#ifdef __aarch64__
#define ARCH_MAX_DEVS 95
#else
#define ARCH_MAX_DEVS 17
#endif

/* Where a virtio device sits: what the firmware tables, the command line
 * and the device tree describe. */
struct arch_dev {
	bool pci;
	unsigned slot; /* PCI: bus 0 device number */
	uint64_t base; /* virtio-mmio window, or BAR0 */
	uint32_t gsi;  /* virtio-mmio's interrupt, or INTA's */
};

/* What the VMM lends an arch, for the VM's life: the VMM owns it (in its
 * struct vm) and fills it as it builds the VM; the arch only reads it. */
struct arch_vm {
	int kvm_fd, vm_fd; /* -1 until opened (after arch_load) */
	const struct guest_mem *mem;
	struct bus *pio, *mmio; /* the arch puts its platform devices there */
	unsigned ncpus;
	uint64_t memory; /* bytes of guest RAM */
	const char *cmdline;
	int console_out;		     /* the UART's output, borrowed; -1: discarded */
	bool pci;			     /* virtio over PCI */
	struct arch_dev devs[ARCH_MAX_DEVS]; /* the virtio devices, in slot order */
	unsigned ndevs;
	struct sys_ctl sys; /* the guest powers off or resets */
	/* The debug-exit port's hook (x86: port 0x501); NULL: no port. */
	void (*debug_exit)(void *ctx, int code);
	void *debug_exit_ctx;
};

struct arch; /* an arch's own state (arch/<name>/) */

/* Guest RAM regions for mem bytes; returns how many (<= GM_MAX_REGIONS). */
unsigned arch_ram_layout(uint64_t mem, uint64_t *gpa, uint64_t *size);
/* The arch's state for a VM; vm is borrowed for as long as *out lives. */
ARCH_WUR int arch_create(struct arch **out, const struct arch_vm *vm, struct err *e);
/* NULL-safe; undoes whatever of the arch's set-up was done. */
void arch_destroy(struct arch *a);
/* VM-wide state before vCPUs exist (irqchip, timers, ...). */
ARCH_WUR int arch_vm_init(struct arch *a, struct err *e);
/* Legacy/platform devices on the buses, once every vCPU exists. */
ARCH_WUR int arch_devices_init(struct arch *a, struct err *e);
/* Per-vCPU state (CPUID, MSRs, local interrupt controller, FPU). */
ARCH_WUR int arch_vcpu_init(struct arch *a, int vcpu_fd, unsigned id, struct err *e);
/* Loads kernel and initrd into guest memory and writes the boot info and
 * firmware tables; needs only the memory, the configuration and the device
 * slots (no KVM), so bad images are reported before /dev/kvm is touched. */
ARCH_WUR int arch_load(struct arch *a, const uint8_t *kernel, size_t ksize, const uint8_t *initrd,
		       size_t isize, struct err *e);
/* Sets the boot vCPU's registers. */
ARCH_WUR int arch_boot_vcpu(struct arch *a, int vcpu_fd, struct err *e);
/* A port I/O exit, before the port bus sees it (vcpu_fd's thread, with run
 * its kvm_run). 1: the arch took it and the guest must make the access
 * again, which the arch has arranged (the vCPU's next KVM_RUN returns
 * EINTR at once, then runs the instruction anew); 0: the bus handles it;
 * negative: the VM cannot go on (e says why). x86 creates the in-kernel
 * PIT on the guest's first access to its ports (docs/architecture.md); arm64 has
 * no port I/O. */
ARCH_WUR int arch_pio_exit(struct arch *a, int vcpu_fd, struct kvm_run *run, struct err *e);
/* Instruction pointer of a vCPU, for error reports (0 if unknown). */
uint64_t arch_vcpu_ip(int vcpu_fd);
/* After KVM_EXIT_INTERNAL_ERROR with this suberror: true when the vCPU's
 * state shows the guest crashed (it can no longer take an exception), so the
 * exit is the guest's triple fault, reported by some KVMs (PVM's) as an
 * emulation failure, not KVM_EXIT_SHUTDOWN. */
bool arch_vcpu_unrecoverable(int vcpu_fd, uint32_t suberror);
/* Where virtio-mmio slot i lives and which GSI it raises; -ENOSPC past the
 * last slot. */
ARCH_WUR int arch_mmio_slot(unsigned i, uint64_t *base, uint32_t *gsi);
/* PCI device i (0-based): its bus 0 slot, BAR0 address (size bar_size) and
 * INTA's GSI; -ENOSPC past the last, -EOPNOTSUPP without PCI. */
ARCH_WUR int arch_pci_slot(unsigned i, uint64_t bar_size, unsigned *slot, uint64_t *bar,
			   uint32_t *gsi);
/* Where the PCI host bridge's ECAM window is (0: no PCI). */
uint64_t arch_pci_ecam(void);
/* Where Firecracker's boot timer (--boot-timer) lives: 4 KiB of MMIO. */
uint64_t arch_boot_timer_base(void);
/* Default kernel command line. */
const char *arch_default_cmdline(void);
/* Presses the power button (an ACPI event to the guest); -EOPNOTSUPP where
 * the arch offers none. */
ARCH_WUR int arch_power_button(struct arch *a);
/* The VM Generation ID (Microsoft's VMGenID, as Linux's vmgenid driver
 * reads it): the guest physical address of its 16 bytes, which the
 * firmware tables (x86: the DSDT's VGEN, in e820-reserved memory) or the
 * device tree (arm64: "microsoft,vmgenid", outside the memory node) name
 * and which the VMM writes (a random ID at boot, a new one on restore);
 * 0 where the arch describes none. Valid from arch_create on. */
uint64_t arch_vmgenid_gpa(const struct arch *a);
/* Tells the guest the ID changed (x86: the GED's second GSI, whose _EVT
 * does Notify(VGEN, 0x80); arm64: the node's SPI); -EOPNOTSUPP where the
 * arch describes none. Needs the interrupt controller (arch_vm_init). */
ARCH_WUR int arch_vmgenid_notify(struct arch *a);
/* Types Ctrl-Alt-Del on the guest's keyboard (x86: the i8042's, IRQ 1);
 * -EOPNOTSUPP where the arch has none, -ENOSPC when its buffer is full. */
ARCH_WUR int arch_ctrl_alt_del(struct arch *a);
/* Snapshot (docs/snapshot.md). arch_save writes the arch's VM-wide state
 * (interrupt controllers, timers, the guest clock, its platform devices:
 * UART, RTC, keyboard, power management) and each of the n vCPUs' (every
 * register KVM has) into sections it names itself, the vCPUs parked
 * outside KVM_RUN. arch_restore reads them back into a VM built as for
 * boot but with arch_load and arch_boot_vcpu skipped, before any vCPU
 * thread starts; a state this host cannot take (a CPU feature it lacks, a
 * vCPU count that differs) is refused with a message naming the cause.
 * clock_realtime: the guest's clock moves on by the wall-clock time since
 * the snapshot (x86: KVM_CLOCK_REALTIME; refused where the snapshot has
 * no wall-clock time, and on aarch64). */
ARCH_WUR int arch_save(struct arch *a, const int *vcpu_fds, unsigned n, struct snap_w *w,
		       struct err *e);
ARCH_WUR int arch_restore(struct arch *a, const int *vcpu_fds, unsigned n, const struct snap_r *r,
			  bool clock_realtime, struct err *e);
/* The guest's console UART (input, counters), once arch_devices_init
 * succeeded; NULL before. */
struct serial *arch_console(struct arch *a);

#endif
