/* SPDX-License-Identifier: MIT */
/* ELF64 PVH loader, then the PVH start_info. */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define LOW (8 * FZ_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *m = fz_mem(LOW, 0);
	struct x86_kernel k;
	struct err e;
	err_clear(&e);
	int r = x86_kernel_load(m, data, size, &k, &e);
	fz_check_err(r, &e);
	if (r < 0)
		return 0;
	FZ_CHECK(k.load_addr >= X86_HIMEM_START);
	FZ_CHECK(k.load_end > k.load_addr && k.load_end <= LOW);
	if (k.kind == X86_BOOT_PVH) {
		FZ_CHECK(k.entry >= k.load_addr && k.entry < k.load_end);
		FZ_CHECK(k.entry <= UINT32_MAX);
	}

	struct x86_boot_cfg cfg = {.mem_size = LOW, .rsdp_gpa = X86_ACPI_ADDR};
	uint64_t igpa = 0;
	size_t isize = size < 4096 ? size : 4096;
	err_clear(&e);
	r = x86_initrd_load(m, LOW, &k, data, isize, &igpa, &e);
	fz_check_err(r, &e);
	if (r == 0) {
		cfg.initrd_gpa = igpa;
		cfg.initrd_size = isize;
	}
	err_clear(&e);
	r = x86_pvh_info_write(m, &cfg, &e);
	FZ_CHECK(r == 0);
	const uint8_t *si = gm_ptr(m, X86_PVH_INFO_ADDR, 56);
	FZ_CHECK(fz_rd32(si) == 0x336ec578);
	FZ_CHECK(fz_rd32(si + 12) == (cfg.initrd_size ? 1u : 0u));
	return 0;
}
