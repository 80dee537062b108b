/* SPDX-License-Identifier: MIT */
/* aarch64 (host builds only): arch/aarch64/snapshot.c against a fake KVM
 * that keeps vCPU registers, MP states and GIC attributes in tables. A VM's
 * state saved, restored into a second fake and saved again is the same
 * bytes; the timers' control/compare registers are written after the
 * counter; every refusal (vCPU count, target, features, a register this
 * KVM lacks, the GIC's size, a register layout this cvmm does not write)
 * names its cause and writes nothing to KVM; a few thousand mutated state
 * files are refused or taken without a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/aarch64/arm64.h"
#include "arch/aarch64/layout.h"
#include "core/le.h"
#include "core/snap.h"

#define VM_FD	900
#define GIC_FD	1000
#define NCPU	2
#define MPIDR	ARM64_SYS_REG(3, 0, 0, 0, 5)
#define CORE(f) ARM64_CORE_REG(offsetof(struct kvm_regs, f))
#define CORE128(f)                                                                                 \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, f) / 4))
#define CORE32(f)                                                                                  \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U32 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, f) / 4))

static const uint64_t reg_ids[] = {
	CORE(regs.regs[0]),
	CORE(regs.pc),
	CORE(regs.pstate),
	CORE128(fp_regs.vregs[3]),
	CORE32(fp_regs.fpsr),
	KVM_REG_ARM_PSCI_VERSION,
	KVM_REG_ARM_TIMER_CTL,
	KVM_REG_ARM_TIMER_CNT,
	KVM_REG_ARM_TIMER_CVAL,
	MPIDR,
	ARM64_SYS_REG(3, 0, 13, 0, 4), /* TPIDR_EL1 */
};
#define NREGS (sizeof(reg_ids) / sizeof(reg_ids[0]))

#define MAX_ATTRS 4096
struct fake {
	bool pseudo;	  /* unset values read as a hash of their key (the saved VM) */
	bool sink;	  /* GIC writes only counted (the mutation runs: fast) */
	uint32_t target;  /* KVM_ARM_PREFERRED_TARGET */
	uint32_t nr_irqs; /* the GIC's */
	unsigned nregs;	  /* how many of reg_ids this KVM lists */
	uint8_t regs[NCPU][NREGS][16];
	bool reg_set[NCPU][NREGS];
	uint32_t mp[NCPU];
	struct {
		uint32_t group;
		uint64_t attr, val;
	} attrs[MAX_ATTRS];
	unsigned nattrs;
	unsigned writes;		      /* KVM_SET_* calls */
	int order_cnt, order_ctl, order_cval; /* the write order of vCPU 0's timer regs */
};

static uint64_t hash(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int vcpu_of(int fd)
{
	return fd - 901 >= 0 && fd - 901 < NCPU ? fd - 901 : -1;
}

static int reg_index(const struct fake *f, uint64_t id)
{
	for (unsigned i = 0; i < f->nregs; i++)
		if (reg_ids[i] == id)
			return (int)i;
	return -1;
}

static uint64_t *attr_slot(struct fake *f, uint32_t group, uint64_t attr, bool create)
{
	for (unsigned i = 0; i < f->nattrs; i++)
		if (f->attrs[i].group == group && f->attrs[i].attr == attr)
			return &f->attrs[i].val;
	if (!create)
		return NULL;
	assert_true(f->nattrs < MAX_ATTRS);
	f->attrs[f->nattrs].group = group;
	f->attrs[f->nattrs].attr = attr;
	f->attrs[f->nattrs].val = f->pseudo ? hash(group * 0x10000000000ULL + attr) : 0;
	return &f->attrs[f->nattrs++].val;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	if (req == KVM_ARM_PREFERRED_TARGET) {
		assert_int_equal(fd, VM_FD);
		struct kvm_vcpu_init *i = arg;
		memset(i, 0, sizeof(*i));
		i->target = f->target;
		return 0;
	}
	if (req == KVM_GET_DEVICE_ATTR || req == KVM_SET_DEVICE_ATTR) {
		assert_int_equal(fd, GIC_FD);
		const struct kvm_device_attr *a = arg;
		void *p = (void *)(uintptr_t)a->addr;
		if (a->group == KVM_DEV_ARM_VGIC_GRP_NR_IRQS) {
			assert_int_equal(req, KVM_GET_DEVICE_ATTR);
			memcpy(p, &f->nr_irqs, 4);
			return 0;
		}
		bool wide = a->group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS;
		if (a->group != KVM_DEV_ARM_VGIC_GRP_DIST_REGS &&
		    a->group != KVM_DEV_ARM_VGIC_GRP_REDIST_REGS &&
		    a->group != KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO && !wide)
			return -ENXIO;
		if (a->group != KVM_DEV_ARM_VGIC_GRP_DIST_REGS) {
			/* a vCPU's MPIDR affinity: vCPU i has Aff0 = i */
			uint64_t aff = a->attr >> KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
			if (aff >= NCPU)
				return -EINVAL;
		}
		if (req == KVM_SET_DEVICE_ATTR && f->sink) {
			f->writes++;
			return 0;
		}
		uint64_t *v = attr_slot(f, a->group, a->attr, true);
		if (req == KVM_SET_DEVICE_ATTR) {
			f->writes++;
			if (wide)
				memcpy(v, p, 8);
			else {
				uint32_t x;
				memcpy(&x, p, 4);
				*v = x;
			}
		} else if (wide)
			memcpy(p, v, 8);
		else {
			uint32_t x = (uint32_t)*v;
			memcpy(p, &x, 4);
		}
		return 0;
	}
	int c = vcpu_of(fd);
	assert_true(c >= 0);
	if (req == KVM_GET_REG_LIST) {
		struct kvm_reg_list *l = arg;
		uint64_t cap = l->n;
		l->n = f->nregs;
		if (cap < f->nregs)
			return -E2BIG;
		memcpy(l->reg, reg_ids, f->nregs * sizeof(uint64_t));
		return 0;
	}
	if (req == KVM_GET_ONE_REG || req == KVM_SET_ONE_REG) {
		const struct kvm_one_reg *r = arg;
		int i = reg_index(f, r->id);
		if (i < 0)
			return -ENOENT;
		unsigned size = 1u << ((r->id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
		void *p = (void *)(uintptr_t)r->addr;
		if (req == KVM_SET_ONE_REG) {
			f->writes++;
			memcpy(f->regs[c][i], p, size);
			f->reg_set[c][i] = true;
			if (c == 0 && r->id == KVM_REG_ARM_TIMER_CNT)
				f->order_cnt = (int)f->writes;
			if (c == 0 && r->id == KVM_REG_ARM_TIMER_CTL)
				f->order_ctl = (int)f->writes;
			if (c == 0 && r->id == KVM_REG_ARM_TIMER_CVAL)
				f->order_cval = (int)f->writes;
			return 0;
		}
		if (!f->reg_set[c][i]) { /* KVM's reset value, or the saved VM's */
			memset(f->regs[c][i], 0, 16);
			uint64_t h = f->pseudo ? hash(r->id + (uint64_t)c) : 0;
			memcpy(f->regs[c][i], &h, 8);
			if (r->id == MPIDR) {
				uint64_t m = 0x80000000ULL | (uint64_t)c; /* Aff0 = vCPU */
				memcpy(f->regs[c][i], &m, 8);
			}
		}
		memcpy(p, f->regs[c][i], size);
		return 0;
	}
	if (req == KVM_GET_MP_STATE) {
		((struct kvm_mp_state *)arg)->mp_state = f->mp[c];
		return 0;
	}
	if (req == KVM_SET_MP_STATE) {
		f->writes++;
		f->mp[c] = ((struct kvm_mp_state *)arg)->mp_state;
		return 0;
	}
	return -ENOTTY;
}

static void fake_init(struct fake *f, bool pseudo)
{
	memset(f, 0, sizeof(*f));
	f->pseudo = pseudo;
	f->target = 5;
	f->nr_irqs = ARM64_GIC_NR_IRQS;
	f->nregs = NREGS;
	f->mp[0] = KVM_MP_STATE_RUNNABLE;
	f->mp[1] = pseudo ? KVM_MP_STATE_STOPPED : KVM_MP_STATE_RUNNABLE;
}

static const int fds[NCPU] = {901, 902};

/* Saves f into a state file: *buf (malloc'ed) and *len. */
static void save(struct fake *f, uint8_t **buf, size_t *len)
{
	struct arm64_kvm k = {fake_ioctl, f};
	struct snap_w w;
	struct err e = {0};
	snap_w_init(&w);
	int r = arm64_snap_save(&k, f->target, GIC_FD, 3, fds, NCPU, &w, &e);
	if (r)
		fail_msg("save: %s", e.msg);
	const uint8_t *out;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_AARCH64, &out, len, &e), 0);
	*buf = malloc(*len);
	memcpy(*buf, out, *len);
	snap_w_free(&w);
}

static int restore(struct fake *f, const uint8_t *buf, size_t len, unsigned n, struct err *e)
{
	struct arm64_kvm k = {fake_ioctl, f};
	struct snap_r r;
	int ret = snap_open(&r, buf, len, SNAP_ARCH_AARCH64, e);
	if (ret < 0)
		return ret;
	return arm64_snap_restore(&k, f->target, GIC_FD, 3, fds, n, &r, e);
}

static struct fake fa, fb, fc; /* large: not on the stack */

static void test_round_trip(void **state)
{
	(void)state;
	fake_init(&fa, true);
	uint8_t *s1, *s2;
	size_t l1, l2;
	save(&fa, &s1, &l1);
	fake_init(&fb, false);
	struct err e = {0};
	int r = restore(&fb, s1, l1, NCPU, &e);
	if (r)
		fail_msg("restore: %s", e.msg);
	assert_int_equal(fb.mp[1], KVM_MP_STATE_STOPPED); /* a secondary still off stays off */
	assert_true(fb.order_cnt > 0 && fb.order_cnt < fb.order_ctl &&
		    fb.order_cnt < fb.order_cval);
	save(&fb, &s2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	/* the sections it names */
	struct snap_r sr;
	struct snap_sec s;
	assert_int_equal(snap_open(&sr, s1, l1, SNAP_ARCH_AARCH64, &e), 0);
	assert_int_equal(snap_find(&sr, "arm64-cpus", 0, &s), 0);
	assert_int_equal(snap_find(&sr, "arm64-vcpu", 1, &s), 0);
	assert_int_equal(snap_find(&sr, "arm64-gic", 0, &s), 0);
	assert_int_equal(snap_find(&sr, "arm64-gicr", 1, &s), 0);
	free(s1);
	free(s2);
}

/* restore into a fresh fake changed as told; it must fail naming want and
 * write nothing to KVM */
static void refused(const uint8_t *buf, size_t len, void (*change)(struct fake *), unsigned n,
		    const char *want)
{
	fake_init(&fb, false);
	if (change)
		change(&fb);
	struct err e = {0};
	int r = restore(&fb, buf, len, n, &e);
	assert_true(r < 0);
	if (!strstr(e.msg, want))
		fail_msg("refusal '%s' lacks '%s'", e.msg, want);
	assert_int_equal(fb.writes, 0);
}

static void other_target(struct fake *f)
{
	f->target = 6;
}
static void fewer_regs(struct fake *f)
{
	f->nregs = NREGS - 1; /* no TPIDR_EL1 */
}
static void bigger_gic(struct fake *f)
{
	f->nr_irqs = 256;
}

/* A state file with one field of one section replaced by bytes p..p+len. */
static void rewrite(const uint8_t *in, size_t inlen, const char *sec, uint32_t inst, uint16_t tag,
		    const void *p, size_t len, uint8_t **out, size_t *outlen)
{
	struct snap_r r;
	struct err e = {0};
	assert_int_equal(snap_open(&r, in, inlen, 0, &e), 0);
	struct snap_w w;
	snap_w_init(&w);
	size_t pos = 0;
	struct snap_sec s;
	while (snap_next(&r, &pos, &s)) {
		snap_section(&w, s.name, s.instance);
		bool this = strcmp(s.name, sec) == 0 && s.instance == inst;
		for (size_t f = 0; f + 8 <= s.len;) {
			uint16_t t = le_get16(s.p + f);
			size_t l = le_get32(s.p + f + 4);
			if (this && t == tag)
				snap_put(&w, t, p, len);
			else
				snap_put(&w, t, s.p + f + 8, l);
			f += 8 + l;
		}
	}
	const uint8_t *o;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_AARCH64, &o, outlen, &e), 0);
	*out = malloc(*outlen);
	memcpy(*out, o, *outlen);
	snap_w_free(&w);
}

static void test_refusals(void **state)
{
	(void)state;
	fake_init(&fa, true);
	uint8_t *s, *m;
	size_t l, ml;
	save(&fa, &s, &l);
	refused(s, l, NULL, 1, "snapshot has 2 vCPUs, this VM 1");
	refused(s, l, other_target, NCPU, "KVM target 5, this host's KVM offers 6");
	refused(s, l, fewer_regs, NCPU, "unknown to this host's KVM");
	char want[80];
	snprintf(want, sizeof(want), "its GIC has %d interrupts, this VM's has 256",
		 ARM64_GIC_NR_IRQS);
	refused(s, l, bigger_gic, NCPU, want);
	uint8_t feat[28] = {0xff};
	rewrite(s, l, "arm64-cpus", 0, 3, feat, sizeof(feat), &m, &ml);
	refused(m, ml, NULL, NCPU, "features");
	free(m);
	uint8_t v4[4] = {7, 0, 0, 0};
	rewrite(s, l, "arm64-vcpu", 1, 1, v4, 4, &m, &ml);
	refused(m, ml, NULL, NCPU, "MP state 7");
	free(m);
	uint8_t v8[8] = {1};
	rewrite(s, l, "arm64-vcpu", 1, 2, v8, 8, &m, &ml);
	refused(m, ml, NULL, NCPU, "MPIDR_EL1 differs");
	free(m);
	/* a register that is no arm64 one, and one cut short */
	uint8_t bad[16];
	le_put64(bad, 0x1234);
	le_put64(bad + 8, 0);
	rewrite(s, l, "arm64-vcpu", 0, 3, bad, 16, &m, &ml);
	refused(m, ml, NULL, NCPU, "is no arm64 register");
	free(m);
	le_put64(bad, KVM_REG_ARM_TIMER_CNT);
	rewrite(s, l, "arm64-vcpu", 0, 3, bad, 12, &m, &ml);
	refused(m, ml, NULL, NCPU, "cut short");
	free(m);
	/* a distributor register this cvmm does not write */
	struct snap_r sr;
	struct snap_sec sec;
	struct err e = {0};
	assert_int_equal(snap_open(&sr, s, l, 0, &e), 0);
	assert_int_equal(snap_find(&sr, "arm64-gic", 0, &sec), 0);
	size_t dl;
	const uint8_t *d = snap_get(&sec, 3, &dl);
	uint8_t *dist = malloc(dl);
	memcpy(dist, d, dl);
	le_put32(dist + 8 * 5, 0xffff0);
	rewrite(s, l, "arm64-gic", 0, 3, dist, dl, &m, &ml);
	refused(m, ml, NULL, NCPU, "register 0xffff0 where");
	free(m);
	rewrite(s, l, "arm64-gic", 0, 3, dist, dl - 8, &m, &ml);
	refused(m, ml, NULL, NCPU, "another length");
	free(m);
	free(dist);
	uint8_t v[4] = {2, 0, 0, 0};
	rewrite(s, l, "arm64-gic", 0, 1, v, 4, &m, &ml);
	refused(m, ml, NULL, NCPU, "GIC is version 2");
	free(m);
	/* a section missing */
	rewrite(s, l, "arm64-gicr", 1, 2, NULL, 0, &m, &ml);
	refused(m, ml, NULL, NCPU, "CPU interface registers are missing");
	free(m);
	/* GICv2 VMs: refused both ways */
	struct arm64_kvm k = {fake_ioctl, &fa};
	struct snap_w w;
	snap_w_init(&w);
	e = (struct err){0};
	assert_int_equal(arm64_snap_save(&k, fa.target, GIC_FD, 2, fds, NCPU, &w, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "GICv2"));
	snap_w_free(&w);
	assert_int_equal(snap_open(&sr, s, l, 0, &e), 0);
	assert_int_equal(arm64_snap_restore(&k, fa.target, GIC_FD, 2, fds, NCPU, &sr, &e),
			 -EOPNOTSUPP);
	free(s);
}

/* Mutated state files (valid checksums, so the parser gets past the
 * header): refused or taken, never a crash; ASan watches the reads. */
static void test_mutations(void **state)
{
	(void)state;
	fake_init(&fa, true);
	uint8_t *s;
	size_t l;
	save(&fa, &s, &l);
	uint8_t *m = malloc(l);
	uint64_t x = 12345;
	unsigned refusals = 0;
	for (unsigned i = 0; i < 3000; i++) {
		memcpy(m, s, l);
		for (unsigned j = 0; j <= i % 4; j++) {
			x = hash(x + i);
			size_t at = SNAP_HEADER_SIZE + x % (l - SNAP_HEADER_SIZE);
			m[at] = (uint8_t)(x >> 40);
		}
		le_put32(m + 24, snap_crc32c(0, m + SNAP_HEADER_SIZE, l - SNAP_HEADER_SIZE));
		le_put32(m + 44, snap_crc32c(0, m, 44));
		fake_init(&fc, false);
		fc.sink = true;
		struct arm64_kvm k = {fake_ioctl, &fc};
		struct snap_r r;
		struct err e = {0};
		if (snap_open(&r, m, l, SNAP_ARCH_AARCH64, &e) < 0 ||
		    arm64_snap_restore(&k, fc.target, GIC_FD, 3, fds, NCPU, &r, &e) < 0) {
			assert_true(e.msg[0] != 0);
			refusals++;
		}
	}
	assert_true(refusals > 0);
	free(m);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
