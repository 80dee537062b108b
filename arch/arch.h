/* SPDX-License-Identifier: MIT */
/* The seam between the generic VMM and an architecture. The core calls only
 * these; each arch/<name>/ implements them. */
#ifndef CVMM_ARCH_H
#define CVMM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct vm;
struct vcpu;

#define ARCH_WUR __attribute__((warn_unused_result))

/* Guest RAM regions for mem bytes; returns how many (<= GM_MAX_REGIONS). */
unsigned arch_ram_layout(uint64_t mem, uint64_t *gpa, uint64_t *size);
/* VM-wide state before vCPUs exist (irqchip, timers, ...). */
ARCH_WUR int arch_vm_init(struct vm *vm, struct err *e);
/* Legacy/platform devices on the buses. */
ARCH_WUR int arch_devices_init(struct vm *vm, struct err *e);
/* Per-vCPU state (CPUID, MSRs, local interrupt controller, FPU). */
ARCH_WUR int arch_vcpu_init(struct vm *vm, struct vcpu *v, struct err *e);
/* Loads kernel and initrd into guest memory and writes the boot info and
 * firmware tables; needs only vm->mem and vm->cfg (no KVM), so bad images
 * are reported before /dev/kvm is touched. Fills vm->boot. */
ARCH_WUR int arch_load(struct vm *vm, const uint8_t *kernel, size_t ksize, const uint8_t *initrd,
		       size_t isize, struct err *e);
/* Sets the boot vCPU's registers for vm->boot. */
ARCH_WUR int arch_boot_vcpu(struct vm *vm, struct err *e);
/* Instruction pointer of a vCPU, for error reports (0 if unknown). */
uint64_t arch_vcpu_ip(struct vcpu *v);
/* After KVM_EXIT_INTERNAL_ERROR with this suberror: true when the vCPU's
 * state shows the guest crashed (it can no longer take an exception), so the
 * exit is the guest's triple fault, reported by some KVMs (PVM's) as an
 * emulation failure, not KVM_EXIT_SHUTDOWN. */
bool arch_vcpu_unrecoverable(struct vcpu *v, uint32_t suberror);
/* Where virtio-mmio slot i lives and which GSI it raises; -ENOSPC past the
 * last slot. */
ARCH_WUR int arch_mmio_slot(unsigned i, uint64_t *base, uint32_t *gsi);
/* PCI device i (0-based): its bus 0 slot, BAR0 address (size bar_size) and
 * INTA's GSI; -ENOSPC past the last, -EOPNOTSUPP without PCI. */
ARCH_WUR int arch_pci_slot(unsigned i, uint64_t bar_size, unsigned *slot, uint64_t *bar,
			   uint32_t *gsi);
/* Where the PCI host bridge's ECAM window is (0: no PCI). */
uint64_t arch_pci_ecam(void);
/* Default kernel command line. */
const char *arch_default_cmdline(void);
/* Presses the power button (an ACPI event to the guest); -EOPNOTSUPP where
 * the arch offers none. */
ARCH_WUR int arch_power_button(struct vm *vm);

#endif
