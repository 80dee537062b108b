/* SPDX-License-Identifier: MIT */
/* Zero page and PVH start_info, read back at their documented offsets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fake_mem.h"

static int setup(void **state)
{
	struct fake_mem *f = malloc(sizeof(*f));
	if (!f || fake_mem_init(f, 64 * MiB) < 0)
		return -1;
	memset(f->host[0], 0xee, 1 * MiB); /* stale low memory */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_mem_free(*state);
	free(*state);
	return 0;
}

static struct x86_kernel bz_kernel(void)
{
	struct x86_kernel k;
	memset(&k, 0, sizeof(k));
	k.kind = X86_BOOT_LINUX64;
	k.load_addr = X86_HIMEM_START;
	k.load_end = 32 * MiB;
	k.entry = X86_HIMEM_START + 0x200;
	k.version = 0x020f;
	k.setup_hdr_len = 0x26c - 0x1f1;
	for (unsigned i = 0; i < k.setup_hdr_len; i++)
		k.setup_hdr[i] = (uint8_t)(i + 3);
	memcpy(k.setup_hdr + (0x202 - 0x1f1), "HdrS", 4);
	k.setup_hdr[0x211 - 0x1f1] = 0x01; /* LOADED_HIGH */
	return k;
}

static void test_zero_page(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = bz_kernel();
	struct x86_boot_cfg cfg = {
		.mem_size = 5 * GiB,
		.initrd_gpa = 0x123456000ULL,
		.initrd_size = 0x200000123ULL,
		.rsdp_gpa = X86_ACPI_ADDR,
	};
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&f->m, &k, &cfg, &e), 0);
	const uint8_t *bp = fake_at(f, X86_ZERO_PAGE_ADDR, 4096);

	/* Cleared outside the fields we set. */
	for (unsigned i = 0; i < 0x70; i++)
		assert_int_equal(bp[i], 0);
	assert_int_equal(bp[0x1ef], 0); /* sentinel */
	assert_int_equal(bp[0xfff], 0);
	/* The kernel's header, then our fields over it. */
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x1f1], k.setup_hdr[0]);
	assert_int_equal(rd16(bp + 0x1fa), 0xffff);
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(bp[0x211], 0x81);
	assert_int_equal(rd16(bp + 0x224), 0xfe00);
	assert_int_equal(rd32(bp + 0x228), X86_CMDLINE_ADDR);
	assert_int_equal(rd32(bp + 0xc8), 0);
	assert_int_equal(rd32(bp + 0x218), 0x23456000);
	assert_int_equal(rd32(bp + 0xc0), 0x1);
	assert_int_equal(rd32(bp + 0x21c), 0x00000123);
	assert_int_equal(rd32(bp + 0xc4), 0x2);
	assert_int_equal(rd64(bp + 0x70), X86_ACPI_ADDR);
	assert_int_equal(bp[0x1e8], 4);
	const uint8_t *t = bp + 0x2d0;
	assert_int_equal(rd64(t), 0);
	assert_int_equal(rd32(t + 16), 1);
	assert_int_equal(rd64(t + 20), X86_EBDA_START);
	assert_int_equal(rd32(t + 20 + 16), 2);
	assert_int_equal(rd64(t + 60), 4 * GiB);
	assert_int_equal(rd64(t + 68), 2 * GiB);
	assert_int_equal(rd32(t + 76), 1);
	assert_int_equal(bp[0x2d0 + 80], 0);
}

static void test_zero_page_no_initrd(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = bz_kernel();
	struct x86_boot_cfg cfg = {.mem_size = 64 * MiB};
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&f->m, &k, &cfg, &e), 0);
	const uint8_t *bp = fake_at(f, X86_ZERO_PAGE_ADDR, 4096);
	assert_int_equal(rd32(bp + 0x218), 0);
	assert_int_equal(rd32(bp + 0x21c), 0);
	assert_int_equal(rd64(bp + 0x70), 0);
	assert_int_equal(bp[0x1e8], 3);
}

static void test_zero_page_errors(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = bz_kernel();
	struct x86_boot_cfg cfg = {.mem_size = 64 * MiB};
	struct err e;
	k.kind = X86_BOOT_PVH;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&f->m, &k, &cfg, &e), -EINVAL);
	k = bz_kernel();
	k.setup_hdr_len = 4096;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&f->m, &k, &cfg, &e), -EINVAL);
	k = bz_kernel();
	cfg.mem_size = 4096;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&f->m, &k, &cfg, &e), -EINVAL);
	/* Guest memory without the low pages. */
	struct fake_mem hi;
	memset(&hi, 0, sizeof(hi));
	assert_int_equal(fake_mem_add(&hi, 1 * MiB, 1 * MiB), 0);
	cfg.mem_size = 64 * MiB;
	err_clear(&e);
	assert_int_equal(x86_zero_page_write(&hi.m, &k, &cfg, &e), -EFAULT);
	err_clear(&e);
	assert_int_equal(x86_pvh_info_write(&hi.m, &cfg, &e), -EFAULT);
	fake_mem_free(&hi);
}

static void test_pvh_info(void **state)
{
	struct fake_mem *f = *state;
	struct x86_boot_cfg cfg = {
		.mem_size = 5 * GiB,
		.initrd_gpa = 0x3000000,
		.initrd_size = 0x12345,
		.rsdp_gpa = X86_ACPI_ADDR,
	};
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_pvh_info_write(&f->m, &cfg, &e), 0);
	const uint8_t *si = fake_at(f, X86_PVH_INFO_ADDR, 56);
	assert_int_equal(rd32(si), 0x336ec578);
	assert_int_equal(rd32(si + 4), 1);
	assert_int_equal(rd32(si + 8), 0);
	assert_int_equal(rd32(si + 12), 1);
	uint64_t modlist = rd64(si + 16);
	assert_int_equal(rd64(si + 24), X86_CMDLINE_ADDR);
	assert_int_equal(rd64(si + 32), X86_ACPI_ADDR);
	assert_int_equal(rd64(si + 40), X86_PVH_MEMMAP_ADDR);
	uint32_t n = rd32(si + 48);
	assert_int_equal(n, 4);
	assert_int_equal(rd32(si + 52), 0);
	assert_int_equal(modlist, X86_PVH_MEMMAP_ADDR + n * 24);

	const uint8_t *mm = fake_at(f, X86_PVH_MEMMAP_ADDR, n * 24);
	uint32_t types[] = {1, 2, 1, 1};
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(rd32(mm + i * 24 + 16), types[i]);
		assert_int_equal(rd32(mm + i * 24 + 20), 0);
	}
	assert_int_equal(rd64(mm + 24), X86_EBDA_START);
	assert_int_equal(rd64(mm + 72), 4 * GiB);
	assert_int_equal(rd64(mm + 80), 2 * GiB);

	const uint8_t *mod = fake_at(f, modlist, 32);
	assert_int_equal(rd64(mod), 0x3000000);
	assert_int_equal(rd64(mod + 8), 0x12345);
	assert_int_equal(rd64(mod + 16), 0);
	assert_int_equal(rd64(mod + 24), 0);
}

static void test_pvh_info_no_initrd(void **state)
{
	struct fake_mem *f = *state;
	struct x86_boot_cfg cfg = {.mem_size = 64 * MiB};
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_pvh_info_write(&f->m, &cfg, &e), 0);
	const uint8_t *si = fake_at(f, X86_PVH_INFO_ADDR, 56);
	assert_int_equal(rd32(si + 12), 0);
	assert_int_equal(rd64(si + 16), 0);
	assert_int_equal(rd64(si + 32), 0);
	assert_int_equal(rd32(si + 48), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_zero_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_page_no_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_page_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvh_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvh_info_no_initrd, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
