/* SPDX-License-Identifier: MIT */
/* aarch64 (host builds only): the GIC and vCPU setup of arch/aarch64/gic.c
 * against a fake KVM that records each ioctl and answers as a host with or
 * without GICv3 would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <string.h>

#include "arch/aarch64/arm64.h"
#include "arch/aarch64/layout.h"

#define FAKE_GIC_FD 1000 /* far above what the test process has open */
#define VM_FD	    900
#define VCPU_FD	    901

struct call {
	int fd;
	unsigned long req;
	uint32_t type;		   /* KVM_CREATE_DEVICE */
	uint32_t group;		   /* KVM_SET_DEVICE_ATTR */
	uint64_t attr, val;	   /* ... and the value it points at */
	struct kvm_vcpu_init init; /* KVM_ARM_VCPU_INIT */
	uint64_t reg_id, reg_val;  /* KVM_SET_ONE_REG */
};

struct fake {
	bool has_v3, has_v2;
	int fail_req_attr; /* fail KVM_SET_DEVICE_ATTR for this group (-1: none) */
	struct call calls[32];
	unsigned n;
};

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	assert_true(f->n < 32);
	struct call *c = &f->calls[f->n++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->req = req;
	if (req == KVM_CREATE_DEVICE) {
		struct kvm_create_device *cd = arg;
		c->type = cd->type;
		if ((cd->type == KVM_DEV_TYPE_ARM_VGIC_V3 && f->has_v3) ||
		    (cd->type == KVM_DEV_TYPE_ARM_VGIC_V2 && f->has_v2)) {
			cd->fd = FAKE_GIC_FD;
			return 0;
		}
		return -ENODEV;
	}
	if (req == KVM_SET_DEVICE_ATTR) {
		const struct kvm_device_attr *a = arg;
		c->group = a->group;
		c->attr = a->attr;
		if (a->group == KVM_DEV_ARM_VGIC_GRP_NR_IRQS)
			c->val = *(const uint32_t *)(uintptr_t)a->addr;
		else if (a->addr)
			c->val = *(const uint64_t *)(uintptr_t)a->addr;
		return (int)a->group == f->fail_req_attr ? -EINVAL : 0;
	}
	if (req == KVM_ARM_PREFERRED_TARGET) {
		struct kvm_vcpu_init *i = arg;
		memset(i, 0, sizeof(*i));
		i->target = 5; /* KVM_ARM_TARGET_GENERIC_V8 */
		return 0;
	}
	if (req == KVM_ARM_VCPU_INIT) {
		c->init = *(const struct kvm_vcpu_init *)arg;
		return 0;
	}
	if (req == KVM_SET_ONE_REG) {
		const struct kvm_one_reg *r = arg;
		c->reg_id = r->id;
		c->reg_val = *(const uint64_t *)(uintptr_t)r->addr;
		return 0;
	}
	return -ENOTTY;
}

static void test_gic_v3(void **state)
{
	(void)state;
	struct fake f = {.has_v3 = true, .has_v2 = true, .fail_req_attr = -1};
	struct arm64_kvm k = {fake_ioctl, &f};
	int fd;
	unsigned v;
	struct err e = {0};
	assert_int_equal(arm64_gic_create(&k, VM_FD, 2, &fd, &v, &e), 0);
	assert_int_equal(fd, FAKE_GIC_FD);
	assert_int_equal(v, 3);
	assert_int_equal(f.n, 4);
	assert_int_equal(f.calls[0].fd, VM_FD);
	assert_int_equal(f.calls[0].type, KVM_DEV_TYPE_ARM_VGIC_V3);
	assert_int_equal(f.calls[1].fd, FAKE_GIC_FD);
	assert_int_equal(f.calls[1].group, KVM_DEV_ARM_VGIC_GRP_ADDR);
	assert_int_equal(f.calls[1].attr, KVM_VGIC_V3_ADDR_TYPE_DIST);
	assert_int_equal(f.calls[1].val, ARM64_GIC_DIST_BASE);
	assert_int_equal(f.calls[2].attr, KVM_VGIC_V3_ADDR_TYPE_REDIST);
	assert_int_equal(f.calls[2].val, ARM64_GIC_REDIST_BASE);
	assert_int_equal(f.calls[3].group, KVM_DEV_ARM_VGIC_GRP_NR_IRQS);
	assert_int_equal(f.calls[3].val, ARM64_GIC_NR_IRQS);
	f.n = 0;
	assert_int_equal(arm64_gic_init(&k, fd, &e), 0);
	assert_int_equal(f.calls[0].group, KVM_DEV_ARM_VGIC_GRP_CTRL);
	assert_int_equal(f.calls[0].attr, KVM_DEV_ARM_VGIC_CTRL_INIT);
}

static void test_gic_v2_fallback(void **state)
{
	(void)state;
	struct fake f = {.has_v3 = false, .has_v2 = true, .fail_req_attr = -1};
	struct arm64_kvm k = {fake_ioctl, &f};
	int fd;
	unsigned v;
	struct err e = {0};
	assert_int_equal(arm64_gic_create(&k, VM_FD, 8, &fd, &v, &e), 0);
	assert_int_equal(v, 2);
	assert_int_equal(f.calls[0].type, KVM_DEV_TYPE_ARM_VGIC_V3);
	assert_int_equal(f.calls[1].type, KVM_DEV_TYPE_ARM_VGIC_V2);
	assert_int_equal(f.calls[2].attr, KVM_VGIC_V2_ADDR_TYPE_DIST);
	assert_int_equal(f.calls[2].val, ARM64_GIC_DIST_BASE);
	assert_int_equal(f.calls[3].attr, KVM_VGIC_V2_ADDR_TYPE_CPU);
	assert_int_equal(f.calls[3].val, ARM64_GICV2_CPU_BASE);
	/* GICv2 takes 8 CPUs */
	f.n = 0;
	assert_int_equal(arm64_gic_create(&k, VM_FD, 9, &fd, &v, &e), -EINVAL);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "GICv2 takes at most 8"));
	/* no GIC at all */
	f.has_v2 = false;
	e = (struct err){0};
	assert_int_equal(arm64_gic_create(&k, VM_FD, 1, &fd, &v, &e), -ENODEV);
	assert_non_null(strstr(e.msg, "KVM_CREATE_DEVICE"));
	/* an address KVM refuses */
	f.has_v3 = true;
	f.fail_req_attr = KVM_DEV_ARM_VGIC_GRP_ADDR;
	e = (struct err){0};
	assert_int_equal(arm64_gic_create(&k, VM_FD, 1, &fd, &v, &e), -EINVAL);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "GICv3 addresses"));
}

static void test_vcpu_psci(void **state)
{
	(void)state;
	struct fake f = {.fail_req_attr = -1};
	struct arm64_kvm k = {fake_ioctl, &f};
	struct err e = {0};
	assert_int_equal(arm64_vcpu_setup(&k, VM_FD, VCPU_FD, 0, NULL, &e), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.calls[0].fd, VM_FD);
	assert_int_equal(f.calls[0].req, KVM_ARM_PREFERRED_TARGET);
	assert_int_equal(f.calls[1].fd, VCPU_FD);
	assert_int_equal(f.calls[1].init.target, 5);
	assert_int_equal(f.calls[1].init.features[0], 1u << KVM_ARM_VCPU_PSCI_0_2);
	/* secondaries wait, powered off, for PSCI CPU_ON */
	f.n = 0;
	assert_int_equal(arm64_vcpu_setup(&k, VM_FD, VCPU_FD, 1, NULL, &e), 0);
	assert_int_equal(f.calls[1].init.features[0],
			 (1u << KVM_ARM_VCPU_PSCI_0_2) | (1u << KVM_ARM_VCPU_POWER_OFF));
}

static void test_boot_regs(void **state)
{
	(void)state;
	struct fake f = {.fail_req_attr = -1};
	struct arm64_kvm k = {fake_ioctl, &f};
	struct err e = {0};
	assert_int_equal(arm64_boot_regs(&k, VCPU_FD, 0x40080000, 0x4fe00000, &e), 0);
	assert_int_equal(f.n, 3);
	uint64_t pstate = ARM64_CORE_REG(offsetof(struct kvm_regs, regs.pstate));
	uint64_t x0 = ARM64_CORE_REG(offsetof(struct kvm_regs, regs.regs[0]));
	uint64_t pc = ARM64_CORE_REG(offsetof(struct kvm_regs, regs.pc));
	bool seen[3] = {false, false, false};
	for (unsigned i = 0; i < f.n; i++) {
		assert_int_equal(f.calls[i].fd, VCPU_FD);
		if (f.calls[i].reg_id == pstate) {
			assert_int_equal(f.calls[i].reg_val, 0x3c5); /* EL1h, DAIF masked */
			seen[0] = true;
		} else if (f.calls[i].reg_id == x0) {
			assert_int_equal(f.calls[i].reg_val, 0x4fe00000);
			seen[1] = true;
		} else if (f.calls[i].reg_id == pc) {
			assert_int_equal(f.calls[i].reg_val, 0x40080000);
			seen[2] = true;
		}
	}
	assert_true(seen[0] && seen[1] && seen[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gic_v3),
		cmocka_unit_test(test_gic_v2_fallback),
		cmocka_unit_test(test_vcpu_psci),
		cmocka_unit_test(test_boot_regs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
