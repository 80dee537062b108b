/* SPDX-License-Identifier: MIT */
/* aarch64: the in-kernel GIC and the vCPUs' KVM setup (PSCI, boot regs). */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/aarch64/arm64.h"
#include "arch/aarch64/layout.h"

static int sys_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	int r = ioctl(fd, req, arg);
	return r < 0 ? -errno : r;
}

const struct arm64_kvm arm64_kvm_sys = {sys_ioctl, NULL};

static int kv(const struct arm64_kvm *k, int fd, unsigned long req, void *arg)
{
	return k->ioctl(k->ctx, fd, req, arg);
}

static int dev_attr(const struct arm64_kvm *k, int fd, uint32_t group, uint64_t attr,
		    const void *val)
{
	struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val};
	return kv(k, fd, KVM_SET_DEVICE_ATTR, &a);
}

int arm64_gic_create(const struct arm64_kvm *k, int vm_fd, unsigned ncpus, int *fd,
		     unsigned *version, struct err *e)
{
	*fd = -1;
	*version = 0;
	struct kvm_create_device cd = {.type = KVM_DEV_TYPE_ARM_VGIC_V3};
	int r = kv(k, vm_fd, KVM_CREATE_DEVICE, &cd);
	unsigned v = 3;
	if (r == -ENODEV) {
		memset(&cd, 0, sizeof(cd));
		cd.type = KVM_DEV_TYPE_ARM_VGIC_V2;
		r = kv(k, vm_fd, KVM_CREATE_DEVICE, &cd);
		v = 2;
	}
	if (r < 0)
		return err_set(e, -r, "KVM_CREATE_DEVICE (GICv3, then GICv2): %s", strerror(-r));
	int g = (int)cd.fd;
	unsigned max = v == 3 ? ARM64_GICV3_MAX_CPUS : ARM64_GICV2_MAX_CPUS;
	if (ncpus > max) {
		r = -EINVAL;
		err_set(e, EINVAL, "%u vCPUs: the in-kernel GICv%u takes at most %u", ncpus, v,
			max);
		goto fail;
	}
	uint64_t dist = ARM64_GIC_DIST_BASE;
	uint64_t second = v == 3 ? ARM64_GIC_REDIST_BASE : ARM64_GICV2_CPU_BASE;
	r = dev_attr(k, g, KVM_DEV_ARM_VGIC_GRP_ADDR,
		     v == 3 ? KVM_VGIC_V3_ADDR_TYPE_DIST : KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
	if (r == 0)
		r = dev_attr(k, g, KVM_DEV_ARM_VGIC_GRP_ADDR,
			     v == 3 ? KVM_VGIC_V3_ADDR_TYPE_REDIST : KVM_VGIC_V2_ADDR_TYPE_CPU,
			     &second);
	if (r < 0) {
		err_set(e, -r, "GICv%u addresses: %s", v, strerror(-r));
		goto fail;
	}
	uint32_t nr = ARM64_GIC_NR_IRQS;
	r = dev_attr(k, g, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr);
	if (r < 0) {
		err_set(e, -r, "GICv%u: %u interrupts: %s", v, nr, strerror(-r));
		goto fail;
	}
	*fd = g;
	*version = v;
	return 0;
fail:
	close(g); /* owned here until returned (a fake hands out unused numbers) */
	return r;
}

int arm64_gic_init(const struct arm64_kvm *k, int fd, struct err *e)
{
	int r = dev_attr(k, fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (r < 0)
		return err_set(e, -r, "GIC init (KVM_DEV_ARM_VGIC_CTRL_INIT): %s", strerror(-r));
	return 0;
}

int arm64_vcpu_setup(const struct arm64_kvm *k, int vm_fd, int vcpu_fd, unsigned id,
		     uint32_t *target, struct err *e)
{
	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	int r = kv(k, vm_fd, KVM_ARM_PREFERRED_TARGET, &init);
	if (r < 0)
		return err_set(e, -r, "KVM_ARM_PREFERRED_TARGET: %s", strerror(-r));
	init.features[0] |= ARM64_VCPU_FEATURES0;
	if (id > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	r = kv(k, vcpu_fd, KVM_ARM_VCPU_INIT, &init);
	if (r < 0)
		return err_set(e, -r, "KVM_ARM_VCPU_INIT (vCPU %u, target %u): %s", id, init.target,
			       strerror(-r));
	if (target)
		*target = init.target;
	return 0;
}

#define PSTATE_EL1H_DAIF 0x3c5 /* EL1h (5), D, A, I, F masked (bits 9..6) */

static int set_reg(const struct arm64_kvm *k, int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg reg = {.id = id, .addr = (uint64_t)(uintptr_t)&v};
	return kv(k, fd, KVM_SET_ONE_REG, &reg);
}

int arm64_boot_regs(const struct arm64_kvm *k, int vcpu_fd, uint64_t entry, uint64_t fdt,
		    struct err *e)
{
	int r = set_reg(k, vcpu_fd, ARM64_CORE_REG(offsetof(struct kvm_regs, regs.pstate)),
			PSTATE_EL1H_DAIF);
	if (r == 0)
		r = set_reg(k, vcpu_fd, ARM64_CORE_REG(offsetof(struct kvm_regs, regs.regs[0])),
			    fdt);
	if (r == 0)
		r = set_reg(k, vcpu_fd, ARM64_CORE_REG(offsetof(struct kvm_regs, regs.pc)), entry);
	if (r < 0)
		return err_set(e, -r, "KVM_SET_ONE_REG (boot registers): %s", strerror(-r));
	return 0;
}
