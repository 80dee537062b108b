/* SPDX-License-Identifier: MIT */
/* Intel MultiProcessor Specification 1.4 tables: the floating pointer and
 * the configuration table, in the EBDA. Interrupt model: the conventional
 * PC one, matching the MADT: ISA IRQ0 (PIT) -> IOAPIC pin 2, the other ISA
 * IRQs identity mapped (IRQ2, the cascade, has no entry), and pins 16-23
 * as IRQs 16-23 of the same bus (edge, active high, as Firecracker writes
 * them): the virtio devices past the tenth interrupt there, which a kernel
 * booted acpi=off finds only so; LINT0 ExtINT, LINT1 NMI. */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "core/le.h"

#define MPF_SIZE       16
#define MPC_HDR_SIZE   44
#define MPC_CPU_SIZE   20
#define MPC_SMALL_SIZE 8 /* bus, ioapic, io interrupt, local interrupt */
#define MP_SPEC_REV    4
#define MP_IOAPIC_PINS 24
#define MP_IOINT_COUNT (MP_IOAPIC_PINS - 1) /* no IRQ2 */
#define MP_LINT_COUNT  2

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINTR = 3, MP_LINTR = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };

#define CPU_ENABLED    0x1
#define CPU_BSP	       0x2
#define LAPIC_VERSION  0x14
#define IOAPIC_VERSION 0x11
#define CPU_SIGNATURE  0x600 /* family 6 */
#define CPU_FEATURES   0x201 /* FPU, APIC */

#define MP_AREA_END (X86_EBDA_START + 0x400)
#define MP_FIXED_SIZE                                                                              \
	(MPF_SIZE + MPC_HDR_SIZE + 2 * MPC_SMALL_SIZE + MP_IOINT_COUNT * MPC_SMALL_SIZE +          \
	 MP_LINT_COUNT * MPC_SMALL_SIZE)

_Static_assert(X86_MPTABLE_MAX_CPUS ==
		       (MP_AREA_END - X86_MPTABLE_ADDR - MP_FIXED_SIZE) / MPC_CPU_SIZE,
	       "X86_MPTABLE_MAX_CPUS does not match the EBDA space");

static uint8_t *mp_small(uint8_t *p, uint8_t type)
{
	p[0] = type;
	return p + MPC_SMALL_SIZE;
}

int x86_mptable_write(const struct guest_mem *m, unsigned ncpus, struct err *e)
{
	if (ncpus == 0 || ncpus > X86_MPTABLE_MAX_CPUS)
		return err_set(e, EINVAL, "MP table: %u vCPUs, 1 to %u fit in the EBDA", ncpus,
			       X86_MPTABLE_MAX_CPUS);

	uint8_t t[MP_AREA_END - X86_MPTABLE_ADDR];
	memset(t, 0, sizeof(t));
	uint8_t *mpf = t, *mpc = t + MPF_SIZE;
	uint8_t *p = mpc + MPC_HDR_SIZE;
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t count = 0;

	for (unsigned i = 0; i < ncpus; i++, count++) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i;
		p[2] = LAPIC_VERSION;
		p[3] = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
		le_put32(p + 4, CPU_SIGNATURE);
		le_put32(p + 8, CPU_FEATURES);
		p += MPC_CPU_SIZE;
	}

	p[1] = 0; /* bus id */
	memcpy(p + 2, "ISA   ", 6);
	p = mp_small(p, MP_BUS);
	count++;

	p[1] = ioapic_id;
	p[2] = IOAPIC_VERSION;
	p[3] = 1; /* enabled */
	le_put32(p + 4, (uint32_t)X86_IOAPIC_ADDR);
	p = mp_small(p, MP_IOAPIC);
	count++;

	for (unsigned irq = 0; irq < MP_IOAPIC_PINS; irq++) {
		if (irq == 2)
			continue;
		p[1] = MP_INT;
		le_put16(p + 2, 0); /* polarity/trigger conform to the (ISA) bus */
		p[4] = 0;	    /* source bus */
		p[5] = (uint8_t)irq;
		p[6] = ioapic_id;
		p[7] = (uint8_t)(irq == 0 ? 2 : irq);
		p = mp_small(p, MP_IOINTR);
		count++;
	}

	for (unsigned lint = 0; lint < MP_LINT_COUNT; lint++) {
		p[1] = lint == 0 ? MP_EXTINT : MP_NMI;
		le_put16(p + 2, 0);
		p[4] = 0;
		p[5] = 0;
		p[6] = 0xff; /* all local APICs */
		p[7] = (uint8_t)lint;
		p = mp_small(p, MP_LINTR);
		count++;
	}

	uint16_t mpc_len = (uint16_t)(p - mpc);
	memcpy(mpc, "PCMP", 4);
	le_put16(mpc + 4, mpc_len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "CVMM    ", 8);
	memcpy(mpc + 16, "CVMM        ", 12);
	le_put16(mpc + 34, count);
	le_put32(mpc + 36, (uint32_t)X86_LAPIC_ADDR);
	mpc[7] = boot_csum8(mpc, mpc_len);

	memcpy(mpf, "_MP_", 4);
	le_put32(mpf + 4, (uint32_t)(X86_MPTABLE_ADDR + MPF_SIZE));
	mpf[8] = 1; /* length in 16-byte units */
	mpf[9] = MP_SPEC_REV;
	mpf[10] = boot_csum8(mpf, MPF_SIZE);

	int r = gm_write(m, X86_MPTABLE_ADDR, t, (uint64_t)(p - t));
	if (r < 0)
		return err_set(e, -r, "MP table: 0x%llx is not in guest RAM",
			       (unsigned long long)X86_MPTABLE_ADDR);
	return 0;
}
