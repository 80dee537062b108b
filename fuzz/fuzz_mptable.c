/* SPDX-License-Identifier: MIT */
/* MP table for any vCPU count: valid ones must walk back with good
 * checksums and the right number of entries. */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *m = fz_mem(2 * FZ_MiB, 0);
	unsigned ncpus = 0;
	for (size_t i = 0; i < size && i < 4; i++)
		ncpus |= (unsigned)data[i] << (8 * i);
	if (size > 4 && (data[4] & 1))
		ncpus &= 0xff; /* keep small counts frequent */
	struct err e;
	err_clear(&e);
	int r = x86_mptable_write(m, ncpus, &e);
	fz_check_err(r, &e);
	if (ncpus == 0 || ncpus > X86_MPTABLE_MAX_CPUS) {
		FZ_CHECK(r == -EINVAL);
		return 0;
	}
	FZ_CHECK(r == 0);
	const uint8_t *mpf = gm_ptr(m, X86_MPTABLE_ADDR, 16);
	FZ_CHECK(memcmp(mpf, "_MP_", 4) == 0 && fz_sum8(mpf, 16) == 0);
	uint32_t cfg = fz_rd32(mpf + 4);
	const uint8_t *mpc = gm_ptr(m, cfg, 44);
	FZ_CHECK(mpc && memcmp(mpc, "PCMP", 4) == 0);
	uint16_t len = (uint16_t)(mpc[4] | mpc[5] << 8);
	FZ_CHECK(cfg + len <= X86_EBDA_START + 0x400);
	FZ_CHECK(fz_sum8(mpc, len) == 0);
	unsigned count = (unsigned)(mpc[34] | mpc[35] << 8), cpus = 0;
	FZ_CHECK(count == ncpus + 27); /* bus, IOAPIC, 23 interrupts, 2 local */
	const uint8_t *p = mpc + 44, *end = mpc + len;
	for (unsigned i = 0; i < count; i++) {
		FZ_CHECK(p < end && p[0] <= 4);
		if (p[0] == 0)
			cpus++;
		p += p[0] == 0 ? 20 : 8;
	}
	FZ_CHECK(p == end && cpus == ncpus);
	return 0;
}
