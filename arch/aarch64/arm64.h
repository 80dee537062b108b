/* SPDX-License-Identifier: MIT */
/* aarch64 internals: the GIC and vCPU setup, written against a KVM ioctl
 * hook so that the unit tests can run it on a fake (tests/unit/
 * test_arm64_setup.c). */
#ifndef CVMM_ARM64_H
#define CVMM_ARM64_H

#include <linux/kvm.h>
#include <stdint.h>

#include "core/err.h"

struct arm64_kvm {
	/* ioctl(fd, req, arg): >= 0 or a negative errno */
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	void *ctx; /* borrowed */
};

/* Calls ioctl(2). */
extern const struct arm64_kvm arm64_kvm_sys;

/* The in-kernel GIC through the KVM device API: GICv3 (distributor and one
 * redistributor region for ncpus), else GICv2 where the host has no v3
 * (ENODEV); then its number of interrupts. *fd is owned by the caller. */
__attribute__((warn_unused_result)) int arm64_gic_create(const struct arm64_kvm *k, int vm_fd,
							 unsigned ncpus, int *fd, unsigned *version,
							 struct err *e);
/* KVM_DEV_ARM_VGIC_CTRL_INIT, once every vCPU exists. */
__attribute__((warn_unused_result)) int arm64_gic_init(const struct arm64_kvm *k, int fd,
						       struct err *e);
/* KVM_ARM_VCPU_INIT with the preferred target and PSCI 0.2; vCPUs other
 * than 0 start powered off (the guest starts them with PSCI CPU_ON).
 * *target (NULL: not wanted): the target used. */
__attribute__((warn_unused_result)) int arm64_vcpu_setup(const struct arm64_kvm *k, int vm_fd,
							 int vcpu_fd, unsigned id, uint32_t *target,
							 struct err *e);
/* The boot vCPU: PC = entry, x0 = the FDT, EL1h with DAIF masked. */
__attribute__((warn_unused_result)) int arm64_boot_regs(const struct arm64_kvm *k, int vcpu_fd,
							uint64_t entry, uint64_t fdt,
							struct err *e);
/* The features every vCPU is initialised with (word 0 of
 * kvm_vcpu_init.features); secondaries add KVM_ARM_VCPU_POWER_OFF. */
#define ARM64_VCPU_FEATURES0 (1u << KVM_ARM_VCPU_PSCI_0_2)

struct snap_w;
struct snap_r;
/* Snapshot (arch/aarch64/snapshot.c): each vCPU's registers (all that
 * KVM_GET_REG_LIST names), MP state and init target/features, and the
 * GICv3's distributor, redistributors, CPU interfaces and line levels, in
 * sections "arm64-cpus" 0, "arm64-vcpu" i, "arm64-gic" 0 and "arm64-gicr" i.
 * Save: the vCPUs parked outside KVM_RUN (no MMIO exit left to complete).
 * Restore: a VM built as for boot (GIC initialised, vCPUs initialised,
 * never run); it checks the whole state before it writes to KVM and
 * refuses, named, what this host or VM cannot take. target: the KVM target
 * this VM's vCPUs were initialised with (arm64_vcpu_setup), so that neither
 * needs an ioctl on the VM fd. */
__attribute__((warn_unused_result)) int arm64_snap_save(const struct arm64_kvm *k, uint32_t target,
							int gic_fd, unsigned gic_version,
							const int *vcpu_fds, unsigned n,
							struct snap_w *w, struct err *e);
__attribute__((warn_unused_result)) int
arm64_snap_restore(const struct arm64_kvm *k, uint32_t target, int gic_fd, unsigned gic_version,
		   const int *vcpu_fds, unsigned n, const struct snap_r *r, struct err *e);
/* KVM_GET_ONE_REG id of a core register at offset off of struct kvm_regs */
#define ARM64_CORE_REG(off) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | ((off) / 4))

#endif
