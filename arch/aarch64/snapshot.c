/* SPDX-License-Identifier: MIT */
/* aarch64 snapshot: the vCPUs (every register KVM_GET_REG_LIST names, the
 * MP state, the init target and features) and the in-kernel GICv3
 * (distributor, each redistributor and CPU interface, SPI line levels),
 * through the ioctl hook of arm64.h so that the unit tests drive it on a
 * fake KVM (tests/unit/test_arm64_snap.c).
 *
 * Sections (docs/snapshot.md):
 *   "arm64-cpus" 0  T1 vCPU count, T2 KVM target, T3 features (7 x u32)
 *   "arm64-vcpu" i  T1 MP state, T2 MPIDR_EL1, T3 registers: (u64 id,
 *                   KVM_REG_SIZE(id) bytes) repeated, in KVM's list order
 *   "arm64-gic" 0   T1 GIC version, T2 interrupts, T3 distributor registers
 *                   and T4 SPI line levels: (u32 offset or intid, u32 value)
 *   "arm64-gicr" i  T1 redistributor registers (u32 offset, u32 value),
 *                   T2 CPU interface registers (u64 sysreg, u64 value)
 * The GIC's lists must be exactly the registers this file enumerates, in
 * its order: a state file cannot make cvmm write any other register.
 *
 * Restore order (what KVM needs): each vCPU's registers first (MPIDR_EL1
 * among them, which the GIC's per-CPU state is addressed by), the timer's
 * counters before its control and compare registers, then the MP state (a
 * secondary still off stays off); then the distributor, the SPI line
 * levels, each redistributor (its LPI tables' bases before GICR_CTLR) and
 * each CPU interface (ICC_SRE_EL1 and ICC_CTLR_EL1 before the active
 * priority registers, whose number ICC_CTLR_EL1.PRIbits sets). From
 * userspace, KVM's GICv3 reads and writes ISPENDR as the pending latch
 * alone and the line of a level-triggered interrupt through LEVEL_INFO, so
 * the two come back apart (arm64_snap_kvm: a line lowered after the
 * restore leaves the interrupt pending in neither VM). There is no
 * ITS, so no LPI pending tables to save (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES
 * is for the ITS's LPIs). */
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

#define SEC_CPUS "arm64-cpus"
#define SEC_VCPU "arm64-vcpu"
#define SEC_GIC	 "arm64-gic"
#define SEC_GICR "arm64-gicr"

enum { T_CPUS_N = 1, T_CPUS_TARGET = 2, T_CPUS_FEATURES = 3 };
enum { T_VCPU_MP = 1, T_VCPU_MPIDR = 2, T_VCPU_REGS = 3 };
enum { T_GIC_VERSION = 1, T_GIC_NR_IRQS = 2, T_GIC_DIST = 3, T_GIC_LEVELS = 4 };
enum { T_GICR_REDIST = 1, T_GICR_ICC = 2 };

#define NFEAT	      7	   /* kvm_vcpu_init.features[] */
#define MAX_REGS      4096 /* a vCPU's register list (KVM's has a few hundred) */
#define MAX_REG_BYTES 256  /* KVM's largest register (an SVE Z, 2048 bits) */
#define MPIDR_EL1     ARM64_SYS_REG(3, 0, 0, 0, 5)

static int kv(const struct arm64_kvm *k, int fd, unsigned long req, void *arg)
{
	return k->ioctl(k->ctx, fd, req, arg);
}

/* ---- vCPU registers ------------------------------------------------------- */

static unsigned reg_size(uint64_t id)
{
	return 1u << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

static int one_reg(const struct arm64_kvm *k, int fd, bool set, uint64_t id, void *buf)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)buf};
	return kv(k, fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, &r);
}

/* KVM_GET_REG_LIST: *ids (malloc'ed, the caller's) and *n. */
static int reg_list(const struct arm64_kvm *k, int fd, unsigned cpu, uint64_t **ids, unsigned *n,
		    struct err *e)
{
	*ids = NULL;
	*n = 0;
	struct kvm_reg_list probe = {.n = 0};
	int r = kv(k, fd, KVM_GET_REG_LIST, &probe);
	if (r != -E2BIG)
		return err_set(e, r < 0 ? -r : EINVAL, "vCPU %u: KVM_GET_REG_LIST: %s", cpu,
			       r < 0 ? strerror(-r) : "no registers");
	if (probe.n == 0 || probe.n > MAX_REGS)
		return err_set(e, EINVAL, "vCPU %u: KVM_GET_REG_LIST: %llu registers", cpu,
			       (unsigned long long)probe.n);
	struct kvm_reg_list *l = malloc(sizeof(*l) + probe.n * sizeof(uint64_t));
	if (!l)
		return err_set(e, ENOMEM, "out of memory");
	l->n = probe.n;
	r = kv(k, fd, KVM_GET_REG_LIST, l);
	if (r < 0 || l->n > probe.n) {
		free(l);
		return err_set(e, r < 0 ? -r : EINVAL, "vCPU %u: KVM_GET_REG_LIST: %s", cpu,
			       r < 0 ? strerror(-r) : "the list grew");
	}
	*n = (unsigned)l->n;
	memmove(l, l->reg, *n * sizeof(uint64_t)); /* the ids, without the count */
	*ids = (uint64_t *)l;
	return 0;
}

/* The timer's control and compare registers go after its counters (whose
 * writes set the guest's counter offsets), so they compare against the
 * restored counter. */
static bool reg_late(uint64_t id)
{
	return id == KVM_REG_ARM_TIMER_CTL || id == KVM_REG_ARM_TIMER_CVAL ||
	       id == KVM_REG_ARM_PTIMER_CTL || id == KVM_REG_ARM_PTIMER_CVAL;
}

/* What a register id in a state file may be: an arm64 register of at most
 * MAX_REG_BYTES. */
static bool reg_id_sane(uint64_t id)
{
	return (id & KVM_REG_ARCH_MASK) == KVM_REG_ARM64 &&
	       ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT) <= 8; /* 2^8 bytes */
}

static bool in_list(const uint64_t *ids, unsigned n, uint64_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* GICv3 attributes address a vCPU by its MPIDR's affinity fields:
 * Aff3.Aff2.Aff1.Aff0 in 32 bits, in the attribute's upper half. */
static uint64_t gic_mpidr_attr(uint64_t mpidr)
{
	uint64_t aff = ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xffffff);
	return aff << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
}

static int vcpu_save(const struct arm64_kvm *k, int fd, unsigned cpu, struct snap_w *w,
		     uint64_t *mpidr, struct err *e)
{
	struct kvm_mp_state mp;
	int r = kv(k, fd, KVM_GET_MP_STATE, &mp);
	if (r < 0)
		return err_set(e, -r, "vCPU %u: KVM_GET_MP_STATE: %s", cpu, strerror(-r));
	r = one_reg(k, fd, false, MPIDR_EL1, mpidr);
	if (r < 0)
		return err_set(e, -r, "vCPU %u: MPIDR_EL1: %s", cpu, strerror(-r));
	uint64_t *ids;
	unsigned n;
	r = reg_list(k, fd, cpu, &ids, &n, e);
	if (r < 0)
		return r;
	size_t cap = 0;
	for (unsigned i = 0; i < n; i++)
		cap += 8 + (reg_id_sane(ids[i]) ? reg_size(ids[i]) : 0);
	uint8_t *blob = malloc(cap);
	if (!blob) {
		free(ids);
		return err_set(e, ENOMEM, "out of memory");
	}
	size_t len = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		if (!reg_id_sane(ids[i])) {
			r = err_set(e, EOPNOTSUPP,
				    "vCPU %u: register 0x%llx: not one cvmm can save", cpu,
				    (unsigned long long)ids[i]);
			break;
		}
		le_put64(blob + len, ids[i]);
		r = one_reg(k, fd, false, ids[i], blob + len + 8);
		if (r < 0)
			r = err_set(e, -r, "vCPU %u: KVM_GET_ONE_REG 0x%llx: %s", cpu,
				    (unsigned long long)ids[i], strerror(-r));
		len += 8 + reg_size(ids[i]);
	}
	free(ids);
	if (r == 0) {
		snap_section(w, SEC_VCPU, cpu);
		snap_u32(w, T_VCPU_MP, mp.mp_state);
		snap_u64(w, T_VCPU_MPIDR, *mpidr);
		snap_put(w, T_VCPU_REGS, blob, len);
	}
	free(blob);
	return r;
}

/* A vCPU section, checked against the registers this vCPU has (ids). */
struct vcpu_state {
	uint32_t mp;
	uint64_t mpidr;
	const uint8_t *regs;
	size_t len;
};

static int vcpu_check(const struct snap_sec *s, const uint64_t *ids, unsigned n,
		      struct vcpu_state *v, struct err *e)
{
	static const uint16_t known[] = {T_VCPU_MP, T_VCPU_MPIDR, T_VCPU_REGS};
	int r = snap_check_known(s, known, 3, e);
	if (r == 0)
		r = snap_get_u32(s, T_VCPU_MP, &v->mp, e);
	if (r == 0)
		r = snap_get_u64(s, T_VCPU_MPIDR, &v->mpidr, e);
	if (r < 0)
		return r;
	if (v->mp != KVM_MP_STATE_RUNNABLE && v->mp != KVM_MP_STATE_STOPPED &&
	    v->mp != KVM_MP_STATE_SUSPENDED)
		return err_set(e, EINVAL, "snapshot: vCPU %u: MP state %u is not one KVM has",
			       s->instance, v->mp);
	v->regs = snap_get(s, T_VCPU_REGS, &v->len);
	if (!v->regs)
		return err_set(e, EINVAL, "snapshot: vCPU %u has no registers", s->instance);
	bool mpidr_seen = false;
	for (size_t off = 0; off < v->len;) {
		if (v->len - off < 8)
			return err_set(e, EINVAL, "snapshot: vCPU %u: registers cut short",
				       s->instance);
		uint64_t id = le_get64(v->regs + off);
		if (!reg_id_sane(id) || v->len - off - 8 < reg_size(id))
			return err_set(e, EINVAL,
				       "snapshot: vCPU %u: register 0x%llx is no arm64 register "
				       "or is cut short",
				       s->instance, (unsigned long long)id);
		if (!in_list(ids, n, id))
			return err_set(
				e, EOPNOTSUPP,
				"snapshot: vCPU %u: register 0x%llx is unknown to this host's "
				"KVM (a newer kernel or another CPU made it)",
				s->instance, (unsigned long long)id);
		if (id == MPIDR_EL1) {
			if (le_get64(v->regs + off + 8) != v->mpidr)
				return err_set(e, EINVAL,
					       "snapshot: vCPU %u: MPIDR_EL1 differs from its "
					       "register list's",
					       s->instance);
			mpidr_seen = true;
		}
		off += 8 + reg_size(id);
	}
	if (!mpidr_seen)
		return err_set(e, EINVAL, "snapshot: vCPU %u: no MPIDR_EL1 among its registers",
			       s->instance);
	return 0;
}

static int vcpu_restore(const struct arm64_kvm *k, int fd, unsigned cpu, const struct vcpu_state *v,
			struct err *e)
{
	/* pass 0: all but the timers' control/compare registers; pass 1: those */
	for (int pass = 0; pass < 2; pass++)
		for (size_t off = 0; off < v->len;) {
			uint64_t id = le_get64(v->regs + off);
			uint8_t val[MAX_REG_BYTES];
			memcpy(val, v->regs + off + 8, reg_size(id));
			off += 8 + reg_size(id);
			if (reg_late(id) != (pass == 1))
				continue;
			int r = one_reg(k, fd, true, id, val);
			if (r < 0)
				return err_set(e, -r,
					       "vCPU %u: KVM_SET_ONE_REG 0x%llx: %s (a register "
					       "this host's CPU or KVM cannot take)",
					       cpu, (unsigned long long)id, strerror(-r));
		}
	struct kvm_mp_state mp = {.mp_state = v->mp};
	int r = kv(k, fd, KVM_SET_MP_STATE, &mp);
	if (r < 0)
		return err_set(e, -r, "vCPU %u: KVM_SET_MP_STATE %u: %s", cpu, v->mp, strerror(-r));
	return 0;
}

/* ---- GICv3 ------------------------------------------------------------------ */

/* A register of the distributor or a redistributor: bits > 0, one field of
 * that many bits per SPI (32..nr_irqs - 1); else words 32-bit words. A
 * register with a "clear" twin (ISENABLER/ICENABLER ...) is restored by
 * clearing what the state does not have, then setting what it has. */
struct gic_reg {
	uint32_t off, clear;
	uint8_t bits, words;
};

#define GICR_SGI 0x10000u /* the redistributor's SGI_base frame */

static const struct gic_reg dist_regs[] = {
	{0x0000, 0, 0, 1},	/* GICD_CTLR */
	{0x0010, 0, 0, 1},	/* GICD_STATUSR */
	{0x0100, 0x0180, 1, 0}, /* GICD_ISENABLER (ICENABLER) */
	{0x0080, 0, 1, 0},	/* GICD_IGROUPR */
	{0x6000, 0, 64, 0},	/* GICD_IROUTER */
	{0x0c00, 0, 2, 0},	/* GICD_ICFGR */
	{0x0200, 0x0280, 1, 0}, /* GICD_ISPENDR (ICPENDR) */
	{0x0300, 0x0380, 1, 0}, /* GICD_ISACTIVER (ICACTIVER) */
	{0x0400, 0, 8, 0},	/* GICD_IPRIORITYR */
};

static const struct gic_reg redist_regs[] = {
	{0x0010, 0, 0, 1},			      /* GICR_STATUSR */
	{0x0014, 0, 0, 1},			      /* GICR_WAKER */
	{0x0070, 0, 0, 2},			      /* GICR_PROPBASER */
	{0x0078, 0, 0, 2},			      /* GICR_PENDBASER */
	{0x0000, 0, 0, 1},			      /* GICR_CTLR, after the bases */
	{GICR_SGI + 0x0080, 0, 0, 1},		      /* GICR_IGROUPR0 */
	{GICR_SGI + 0x0100, GICR_SGI + 0x0180, 0, 1}, /* GICR_ISENABLER0 */
	{GICR_SGI + 0x0c00, 0, 0, 2},		      /* GICR_ICFGR0, 1 */
	{GICR_SGI + 0x0200, GICR_SGI + 0x0280, 0, 1}, /* GICR_ISPENDR0 */
	{GICR_SGI + 0x0300, GICR_SGI + 0x0380, 0, 1}, /* GICR_ISACTIVER0 */
	{GICR_SGI + 0x0400, 0, 0, 8},		      /* GICR_IPRIORITYR0-7 */
};

/* The 32-bit words of a register table for nr_irqs interrupts, in order:
 * cb(ctx, offset, clear offset or 0) for each; stops at the first < 0. */
static int gic_words(const struct gic_reg *t, unsigned nt, unsigned nr_irqs,
		     int (*cb)(void *ctx, uint32_t off, uint32_t clear), void *ctx)
{
	for (unsigned i = 0; i < nt; i++) {
		uint32_t from = 0, to = 4u * t[i].words;
		if (t[i].bits) {
			from = 32u * t[i].bits / 8;
			to = nr_irqs * t[i].bits / 8u;
		}
		for (uint32_t o = from; o < to; o += 4) {
			int r = cb(ctx, t[i].off + o, t[i].clear ? t[i].clear + o : 0);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static unsigned gic_nwords(const struct gic_reg *t, unsigned nt, unsigned nr_irqs)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nt; i++)
		n += t[i].bits ? (nr_irqs - 32) * t[i].bits / 32 : t[i].words;
	return n;
}

static int gic_attr(const struct arm64_kvm *k, int fd, bool set, uint32_t group, uint64_t attr,
		    void *val)
{
	struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val};
	return kv(k, fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a);
}

/* Walks a (u32 offset, u32 value) list over a register table: save reads
 * each word into buf, check makes sure buf names exactly the table's words,
 * restore writes them. */
enum gw_mode { GW_SAVE, GW_CHECK, GW_RESTORE };
struct gic_walk {
	const struct arm64_kvm *k;
	int fd;
	uint32_t group;
	uint64_t mpidr_attr;
	enum gw_mode mode;
	uint8_t *buf; /* save: written; check, restore: read (len checked first) */
	size_t at;
	const char *what; /* for messages */
	struct err *e;
};

static int gic_walk_word(void *ctx, uint32_t off, uint32_t clear)
{
	struct gic_walk *g = ctx;
	uint8_t *p = g->buf + g->at;
	g->at += 8;
	int r;
	if (g->mode == GW_SAVE) {
		uint32_t v = 0;
		r = gic_attr(g->k, g->fd, false, g->group, g->mpidr_attr | off, &v);
		if (r < 0)
			return err_set(g->e, -r, "%s: reading register 0x%x: %s", g->what, off,
				       strerror(-r));
		le_put32(p, off);
		le_put32(p + 4, v);
		return 0;
	}
	if (le_get32(p) != off)
		return err_set(g->e, EINVAL,
			       "snapshot: %s: register 0x%x where 0x%x was expected (a layout "
			       "this cvmm does not write)",
			       g->what, le_get32(p), off);
	if (g->mode == GW_CHECK)
		return 0;
	uint32_t v = le_get32(p + 4);
	if (g->group == KVM_DEV_ARM_VGIC_GRP_REDIST_REGS && off >= 0x70 && off < 0x80 && v == 0)
		return 0; /* LPI table bases at reset: KVM would sanitise a written 0
			   * into other cacheability bits (and without an ITS no LPI
			   * uses them) */
	if (clear) {
		uint32_t c = ~v;
		r = gic_attr(g->k, g->fd, true, g->group, g->mpidr_attr | clear, &c);
		if (r < 0)
			return err_set(g->e, -r, "%s: writing register 0x%x: %s", g->what, clear,
				       strerror(-r));
	}
	r = gic_attr(g->k, g->fd, true, g->group, g->mpidr_attr | off, &v);
	if (r < 0)
		return err_set(g->e, -r, "%s: writing register 0x%x: %s", g->what, off,
			       strerror(-r));
	return 0;
}

/* One walk over the distributor's table (dist) or the redistributor's of
 * the vCPU mpidr_attr names; *len: the list's bytes. */
static int gic_walk_regs(const struct arm64_kvm *k, int fd, bool dist, uint64_t mpidr_attr,
			 enum gw_mode mode, uint8_t *buf, unsigned nr, const char *what,
			 size_t *len, struct err *e)
{
	struct gic_walk g = {
		.k = k,
		.fd = fd,
		.group = dist ? KVM_DEV_ARM_VGIC_GRP_DIST_REGS : KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
		.mpidr_attr = mpidr_attr,
		.mode = mode,
		.buf = buf,
		.what = what,
		.e = e,
	};
	int r = dist ? gic_words(dist_regs, sizeof(dist_regs) / sizeof(dist_regs[0]), nr,
				 gic_walk_word, &g)
		     : gic_words(redist_regs, sizeof(redist_regs) / sizeof(redist_regs[0]), nr,
				 gic_walk_word, &g);
	if (len)
		*len = g.at;
	return r;
}

/* The CPU interface's registers (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS), by
 * their sysreg encoding. */
#define ICC(op0, op1, crn, crm, op2)                                                               \
	((uint16_t)((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2)))
#define ICC_CTLR_EL1 ICC(3, 0, 12, 12, 4)
static const uint16_t icc_main[] = {
	ICC(3, 0, 12, 12, 5),			    /* ICC_SRE_EL1 */
	ICC_CTLR_EL1,	      ICC(3, 0, 12, 12, 6), /* ICC_IGRPEN0_EL1 */
	ICC(3, 0, 12, 12, 7),			    /* ICC_IGRPEN1_EL1 */
	ICC(3, 0, 4, 6, 0),			    /* ICC_PMR_EL1 */
	ICC(3, 0, 12, 8, 3),			    /* ICC_BPR0_EL1 */
	ICC(3, 0, 12, 12, 3),			    /* ICC_BPR1_EL1 */
};
#define N_ICC_MAIN (sizeof(icc_main) / sizeof(icc_main[0]))
#define N_ICC_MAX  (N_ICC_MAIN + 8)

/* The ids to save for an ICC_CTLR_EL1 value: the main ones, then the
 * active priority registers AP0Rn/AP1Rn its PRIbits imply (n = 0; 1 from
 * 6 bits; 2, 3 at 7). */
static unsigned icc_ids(uint64_t ctlr, uint16_t *ids)
{
	unsigned n = 0, pribits = (unsigned)((ctlr >> 8) & 7) + 1;
	unsigned nap = pribits >= 7 ? 4 : pribits >= 6 ? 2 : 1;
	for (unsigned i = 0; i < N_ICC_MAIN; i++)
		ids[n++] = icc_main[i];
	for (unsigned i = 0; i < nap; i++)
		ids[n++] = ICC(3, 0, 12, 8, 4 | i); /* ICC_AP0Rn_EL1 */
	for (unsigned i = 0; i < nap; i++)
		ids[n++] = ICC(3, 0, 12, 9, i); /* ICC_AP1Rn_EL1 */
	return n;
}

/* KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO of 32 interrupts from intid (SPIs: any vCPU) */
static uint64_t level_attr(uint64_t mpidr_attr, uint32_t intid)
{
	return mpidr_attr |
	       ((uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT) |
	       intid;
}

static int gic_save(const struct arm64_kvm *k, int gic_fd, const uint64_t *mpidrs, unsigned n,
		    struct snap_w *w, struct err *e)
{
	uint32_t nr = 0;
	int r = gic_attr(k, gic_fd, false, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr);
	if (r < 0)
		return err_set(e, -r, "GIC: its number of interrupts: %s", strerror(-r));
	if (nr < 64 || nr > 1024 || nr % 32)
		return err_set(e, EINVAL, "GIC: %u interrupts", nr);
	unsigned nd = gic_nwords(dist_regs, sizeof(dist_regs) / sizeof(dist_regs[0]), nr);
	unsigned nrd = gic_nwords(redist_regs, sizeof(redist_regs) / sizeof(redist_regs[0]), nr);
	unsigned nlv = (nr - 32) / 32;
	size_t cap = 8u * (nd > nrd ? nd : nrd);
	if (cap < 16u * N_ICC_MAX)
		cap = 16u * N_ICC_MAX;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return err_set(e, ENOMEM, "out of memory");
	size_t blen;
	r = gic_walk_regs(k, gic_fd, true, 0, GW_SAVE, buf, nr, "GIC distributor", &blen, e);
	if (r < 0)
		goto out;
	snap_section(w, SEC_GIC, 0);
	snap_u32(w, T_GIC_VERSION, 3);
	snap_u32(w, T_GIC_NR_IRQS, nr);
	snap_put(w, T_GIC_DIST, buf, blen);
	for (unsigned i = 0; i < nlv; i++) {
		uint32_t intid = 32 + 32 * i, v = 0;
		r = gic_attr(k, gic_fd, false, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
			     level_attr(gic_mpidr_attr(mpidrs[0]), intid), &v);
		if (r < 0) {
			err_set(e, -r, "GIC: line levels of interrupts %u-%u: %s", intid,
				intid + 31, strerror(-r));
			goto out;
		}
		le_put32(buf + 8 * i, intid);
		le_put32(buf + 8 * i + 4, v);
	}
	snap_put(w, T_GIC_LEVELS, buf, 8u * nlv);
	for (unsigned c = 0; c < n; c++) {
		char what[48];
		snprintf(what, sizeof(what), "GIC redistributor of vCPU %u", c);
		r = gic_walk_regs(k, gic_fd, false, gic_mpidr_attr(mpidrs[c]), GW_SAVE, buf, nr,
				  what, &blen, e);
		if (r < 0)
			goto out;
		snap_section(w, SEC_GICR, c);
		snap_put(w, T_GICR_REDIST, buf, blen);
		uint64_t ctlr = 0;
		r = gic_attr(k, gic_fd, false, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
			     gic_mpidr_attr(mpidrs[c]) | ICC_CTLR_EL1, &ctlr);
		uint16_t ids[N_ICC_MAX];
		unsigned ni = icc_ids(ctlr, ids);
		for (unsigned i = 0; i < ni && r == 0; i++) {
			uint64_t v = 0;
			r = gic_attr(k, gic_fd, false, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
				     gic_mpidr_attr(mpidrs[c]) | ids[i], &v);
			le_put64(buf + 16 * i, ids[i]);
			le_put64(buf + 16 * i + 8, v);
		}
		if (r < 0) {
			err_set(e, -r, "GIC CPU interface of vCPU %u: %s", c, strerror(-r));
			goto out;
		}
		snap_put(w, T_GICR_ICC, buf, 16u * ni);
	}
	r = 0;
out:
	free(buf);
	return r;
}

/* The GIC's sections, checked whole before anything is written. */
static int gic_check(const struct snap_r *sr, unsigned n, unsigned want_nr, struct err *e)
{
	static const uint16_t gknown[] = {T_GIC_VERSION, T_GIC_NR_IRQS, T_GIC_DIST, T_GIC_LEVELS};
	static const uint16_t rknown[] = {T_GICR_REDIST, T_GICR_ICC};
	struct snap_sec s;
	if (snap_find(sr, SEC_GIC, 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no '%s' section (the GIC's state)",
			       SEC_GIC);
	uint32_t ver, nr;
	int r = snap_check_known(&s, gknown, 4, e);
	if (r == 0)
		r = snap_get_u32(&s, T_GIC_VERSION, &ver, e);
	if (r == 0)
		r = snap_get_u32(&s, T_GIC_NR_IRQS, &nr, e);
	if (r < 0)
		return r;
	if (ver != 3)
		return err_set(e, EOPNOTSUPP,
			       "snapshot: its GIC is version %u, this VM's GICv3 cannot take it",
			       ver);
	if (nr != want_nr)
		return err_set(e, EINVAL,
			       "snapshot: its GIC has %u interrupts, this VM's has %u: not the "
			       "same machine",
			       nr, want_nr);
	size_t l;
	if (!snap_get(&s, T_GIC_DIST, &l) ||
	    l != 8u * gic_nwords(dist_regs, sizeof(dist_regs) / sizeof(dist_regs[0]), nr))
		return err_set(e, EINVAL,
			       "snapshot: the GIC distributor's registers are missing or of "
			       "another length (%zu bytes)",
			       l);
	r = gic_walk_regs(NULL, -1, true, 0, GW_CHECK,
			  (uint8_t *)(uintptr_t)snap_get(&s, T_GIC_DIST, &l), nr, "GIC distributor",
			  NULL, e);
	if (r < 0)
		return r;
	const uint8_t *lv = snap_get(&s, T_GIC_LEVELS, &l);
	if (!lv || l != 8u * ((nr - 32) / 32))
		return err_set(e, EINVAL,
			       "snapshot: the GIC's line levels are missing or of "
			       "another length");
	for (unsigned i = 0; i < (nr - 32) / 32; i++)
		if (le_get32(lv + 8 * i) != 32 + 32 * i)
			return err_set(e, EINVAL,
				       "snapshot: the GIC's line levels name interrupt "
				       "%u out of order",
				       le_get32(lv + 8 * i));
	for (unsigned c = 0; c < n; c++) {
		if (snap_find(sr, SEC_GICR, c, &s) < 0)
			return err_set(e, EINVAL, "snapshot has no '%s' %u section", SEC_GICR, c);
		r = snap_check_known(&s, rknown, 2, e);
		if (r < 0)
			return r;
		if (!snap_get(&s, T_GICR_REDIST, &l) ||
		    l != 8u * gic_nwords(redist_regs, sizeof(redist_regs) / sizeof(redist_regs[0]),
					 nr))
			return err_set(e, EINVAL,
				       "snapshot: vCPU %u's GIC redistributor registers are "
				       "missing or of another length",
				       c);
		r = gic_walk_regs(NULL, -1, false, 0, GW_CHECK,
				  (uint8_t *)(uintptr_t)snap_get(&s, T_GICR_REDIST, &l), nr,
				  "GIC redistributor", NULL, e);
		if (r < 0)
			return r;
		const uint8_t *icc = snap_get(&s, T_GICR_ICC, &l);
		if (!icc || l < 16u * N_ICC_MAIN || l > 16u * N_ICC_MAX || l % 16)
			return err_set(e, EINVAL,
				       "snapshot: vCPU %u's GIC CPU interface registers are "
				       "missing or of another length",
				       c);
		uint16_t ids[N_ICC_MAX];
		unsigned ni = icc_ids(le_get64(icc + 16 * 1 + 8), ids); /* ICC_CTLR_EL1's value */
		if (l != 16u * ni)
			return err_set(e, EINVAL,
				       "snapshot: vCPU %u's GIC CPU interface: %zu registers, its "
				       "ICC_CTLR_EL1 implies %u",
				       c, l / 16, ni);
		for (unsigned i = 0; i < ni; i++)
			if (le_get64(icc + 16 * i) != ids[i])
				return err_set(e, EINVAL,
					       "snapshot: vCPU %u's GIC CPU interface: register "
					       "0x%llx where 0x%x was expected",
					       c, (unsigned long long)le_get64(icc + 16 * i),
					       ids[i]);
	}
	return 0;
}

static int gic_restore(const struct arm64_kvm *k, int gic_fd, const struct snap_r *sr,
		       const uint64_t *mpidrs, unsigned n, unsigned nr, struct err *e)
{
	struct snap_sec s;
	size_t l;
	if (snap_find(sr, SEC_GIC, 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no '%s' section", SEC_GIC); /* checked */
	int r = gic_walk_regs(k, gic_fd, true, 0, GW_RESTORE,
			      (uint8_t *)(uintptr_t)snap_get(&s, T_GIC_DIST, &l), nr,
			      "GIC distributor", NULL, e);
	if (r < 0)
		return r;
	const uint8_t *lv = snap_get(&s, T_GIC_LEVELS, &l);
	for (unsigned i = 0; i < (nr - 32) / 32; i++) {
		uint32_t intid = le_get32(lv + 8 * i), v = le_get32(lv + 8 * i + 4);
		r = gic_attr(k, gic_fd, true, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
			     level_attr(gic_mpidr_attr(mpidrs[0]), intid), &v);
		if (r < 0)
			return err_set(e, -r, "GIC: line levels of interrupts %u-%u: %s", intid,
				       intid + 31, strerror(-r));
	}
	for (unsigned c = 0; c < n; c++) {
		if (snap_find(sr, SEC_GICR, c, &s) < 0)
			return err_set(e, EINVAL, "snapshot has no '%s' %u section", SEC_GICR, c);
		char what[48];
		snprintf(what, sizeof(what), "GIC redistributor of vCPU %u", c);
		r = gic_walk_regs(k, gic_fd, false, gic_mpidr_attr(mpidrs[c]), GW_RESTORE,
				  (uint8_t *)(uintptr_t)snap_get(&s, T_GICR_REDIST, &l), nr, what,
				  NULL, e);
		if (r < 0)
			return r;
		const uint8_t *icc = snap_get(&s, T_GICR_ICC, &l);
		for (size_t i = 0; i < l / 16; i++) {
			uint64_t id = le_get64(icc + 16 * i), v = le_get64(icc + 16 * i + 8);
			r = gic_attr(k, gic_fd, true, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
				     gic_mpidr_attr(mpidrs[c]) | id, &v);
			if (r < 0)
				return err_set(
					e, -r,
					"GIC CPU interface of vCPU %u: writing sysreg 0x%llx: "
					"%s (this host's GIC differs?)",
					c, (unsigned long long)id, strerror(-r));
		}
	}
	return 0;
}

/* ---- the whole ------------------------------------------------------------ */

int arm64_snap_save(const struct arm64_kvm *k, uint32_t target, int gic_fd, unsigned gic_version,
		    const int *vcpu_fds, unsigned n, struct snap_w *w, struct err *e)
{
	if (gic_version != 3)
		return err_set(e, EOPNOTSUPP,
			       "snapshot: this VM's GIC is a GICv%u; cvmm saves only GICv3's state",
			       gic_version);
	if (n == 0 || n > ARM64_GICV3_MAX_CPUS)
		return err_set(e, EINVAL, "snapshot: %u vCPUs", n);
	int r = 0;
	snap_section(w, SEC_CPUS, 0);
	snap_u32(w, T_CPUS_N, n);
	snap_u32(w, T_CPUS_TARGET, target);
	uint8_t feat[4 * NFEAT] = {0};
	le_put32(feat, ARM64_VCPU_FEATURES0); /* KVM_ARM_VCPU_POWER_OFF is boot-only */
	snap_put(w, T_CPUS_FEATURES, feat, sizeof(feat));
	uint64_t *mpidrs = calloc(n, sizeof(*mpidrs));
	if (!mpidrs)
		return err_set(e, ENOMEM, "out of memory");
	for (unsigned i = 0; i < n && r == 0; i++)
		r = vcpu_save(k, vcpu_fds[i], i, w, &mpidrs[i], e);
	if (r == 0)
		r = gic_save(k, gic_fd, mpidrs, n, w, e);
	free(mpidrs);
	return r;
}

int arm64_snap_restore(const struct arm64_kvm *k, uint32_t host_target, int gic_fd,
		       unsigned gic_version, const int *vcpu_fds, unsigned n,
		       const struct snap_r *sr, struct err *e)
{
	static const uint16_t known[] = {T_CPUS_N, T_CPUS_TARGET, T_CPUS_FEATURES};
	if (gic_version != 3)
		return err_set(e, EOPNOTSUPP,
			       "snapshot: this host gave the VM a GICv%u; cvmm restores only "
			       "onto a GICv3",
			       gic_version);
	if (n == 0 || n > ARM64_GICV3_MAX_CPUS)
		return err_set(e, EINVAL, "snapshot: %u vCPUs", n);
	struct snap_sec s;
	if (snap_find(sr, SEC_CPUS, 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no '%s' section (not an aarch64 VM's?)",
			       SEC_CPUS);
	uint32_t ncpu, target;
	uint8_t feat[4 * NFEAT];
	int r = snap_check_known(&s, known, 3, e);
	if (r == 0)
		r = snap_get_u32(&s, T_CPUS_N, &ncpu, e);
	if (r == 0)
		r = snap_get_u32(&s, T_CPUS_TARGET, &target, e);
	if (r == 0)
		r = snap_get_exact(&s, T_CPUS_FEATURES, feat, sizeof(feat), e);
	if (r < 0)
		return r;
	if (ncpu != n)
		return err_set(e, EINVAL, "snapshot has %u vCPUs, this VM %u", ncpu, n);
	if (target != host_target)
		return err_set(e, EOPNOTSUPP,
			       "snapshot's vCPUs are KVM target %u, this host's KVM offers %u "
			       "(another CPU)",
			       target, host_target);
	for (unsigned i = 0; i < NFEAT; i++) {
		uint32_t want = i == 0 ? ARM64_VCPU_FEATURES0 : 0, got = le_get32(feat + 4 * i);
		if (got != want)
			return err_set(e, EOPNOTSUPP,
				       "snapshot's vCPUs have features 0x%x in word %u, this cvmm "
				       "initialises them with 0x%x",
				       got, i, want);
	}
	uint32_t nr = 0;
	r = gic_attr(k, gic_fd, false, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr);
	if (r < 0)
		return err_set(e, -r, "GIC: its number of interrupts: %s", strerror(-r));
	if (nr < 64 || nr > 1024 || nr % 32)
		return err_set(e, EINVAL, "GIC: %u interrupts", nr);
	struct vcpu_state *vs = calloc(n, sizeof(*vs));
	uint64_t *mpidrs = calloc(n, sizeof(*mpidrs));
	uint64_t *ids = NULL;
	unsigned nids = 0;
	if (!vs || !mpidrs) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	/* everything checked before KVM is written to */
	r = reg_list(k, vcpu_fds[0], 0, &ids, &nids, e);
	for (unsigned i = 0; i < n && r == 0; i++) {
		if (snap_find(sr, SEC_VCPU, i, &s) < 0) {
			r = err_set(e, EINVAL, "snapshot has no '%s' %u section", SEC_VCPU, i);
			break;
		}
		r = vcpu_check(&s, ids, nids, &vs[i], e);
		mpidrs[i] = vs[i].mpidr;
		for (unsigned j = 0; j < i && r == 0; j++)
			if ((mpidrs[j] & 0xff00ffffffULL) == (mpidrs[i] & 0xff00ffffffULL))
				r = err_set(e, EINVAL, "snapshot: vCPUs %u and %u have one MPIDR",
					    j, i);
	}
	if (r == 0)
		r = gic_check(sr, n, nr, e);
	for (unsigned i = 0; i < n && r == 0; i++)
		r = vcpu_restore(k, vcpu_fds[i], i, &vs[i], e);
	if (r == 0)
		r = gic_restore(k, gic_fd, sr, mpidrs, n, nr, e);
out:
	free(ids);
	free(mpidrs);
	free(vs);
	return r;
}
