/* SPDX-License-Identifier: MIT */
/* bzImage loader, then the initrd, command line and zero page for it. */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define LOW (48 * FZ_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *m = fz_mem(LOW, 16 * FZ_MiB);
	struct x86_kernel k;
	struct err e;
	err_clear(&e);
	int r = x86_bzimage_load(m, data, size, &k, &e);
	fz_check_err(r, &e);
	if (r < 0)
		return 0;

	FZ_CHECK(k.kind == X86_BOOT_LINUX64);
	FZ_CHECK(k.version >= 0x020c);
	FZ_CHECK(k.load_addr >= X86_HIMEM_START);
	FZ_CHECK(k.entry == k.load_addr + 0x200);
	FZ_CHECK(k.load_end > k.load_addr);
	FZ_CHECK(gm_ptr(m, k.load_addr, k.load_end - k.load_addr) != NULL);
	FZ_CHECK(k.setup_hdr_len <= X86_SETUP_HDR_MAX);
	FZ_CHECK(memcmp(k.setup_hdr + (0x202 - X86_SETUP_HDR_OFF), "HdrS", 4) == 0);
	FZ_CHECK(k.cmdline_max < X86_CMDLINE_MAX);

	/* An initrd made of the image's first bytes. */
	size_t isize = size < 8192 ? size : 8192;
	uint64_t igpa = 0;
	err_clear(&e);
	r = x86_initrd_load(m, LOW, &k, data, isize, &igpa, &e);
	fz_check_err(r, &e);
	if (r == 0) {
		FZ_CHECK((igpa & 0xfff) == 0);
		FZ_CHECK(igpa >= k.load_end);
		FZ_CHECK(igpa + isize <= LOW);
		FZ_CHECK(igpa + isize - 1 <= k.initrd_addr_max);
	} else {
		FZ_CHECK(r == -ENOSPC);
	}

	err_clear(&e);
	r = x86_cmdline_write(m, &k, "console=ttyS0 reboot=k panic=-1", &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0 || k.cmdline_max < 31);

	struct x86_boot_cfg cfg = {
		.mem_size = LOW + 16 * FZ_MiB,
		.initrd_gpa = igpa,
		.initrd_size = igpa ? isize : 0,
		.rsdp_gpa = X86_ACPI_ADDR,
	};
	err_clear(&e);
	r = x86_zero_page_write(m, &k, &cfg, &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0);
	const uint8_t *bp = gm_ptr(m, X86_ZERO_PAGE_ADDR, 4096);
	FZ_CHECK(bp[0x210] == 0xff && (bp[0x211] & 0x80));
	FZ_CHECK(fz_rd32(bp + 0x228) == X86_CMDLINE_ADDR);
	FZ_CHECK(bp[0x1e8] == 3);
	return 0;
}
