/* SPDX-License-Identifier: MIT */
/* Initrd placement and the command line. */
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

#define MEM (64 * MiB)

static int setup(void **state)
{
	struct fake_mem *f = malloc(sizeof(*f));
	if (!f || fake_mem_init(f, MEM) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_mem_free(*state);
	free(*state);
	return 0;
}

static struct x86_kernel kernel(uint64_t load_end, uint64_t initrd_max)
{
	struct x86_kernel k;
	memset(&k, 0, sizeof(k));
	k.kind = X86_BOOT_LINUX64;
	k.load_addr = X86_HIMEM_START;
	k.load_end = load_end;
	k.entry = X86_HIMEM_START + 0x200;
	k.initrd_addr_max = initrd_max;
	k.cmdline_max = 2047;
	return k;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + 7);
	return p;
}

static void test_fits(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(20 * MiB, 0x7fffffff);
	size_t n = 3 * MiB + 123;
	uint8_t *d = pattern(n);
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), 0);
	assert_int_equal(gpa & 0xfff, 0);
	assert_true(gpa + n <= MEM);
	assert_true(gpa + n > MEM - 0x1000); /* as high as possible */
	assert_true(gpa >= k.load_end);
	assert_memory_equal(fake_at(f, gpa, n), d, n);
	free(d);
}

static void test_respects_initrd_addr_max(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(4 * MiB, 32 * MiB - 1);
	size_t n = MiB;
	uint8_t *d = pattern(n);
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), 0);
	assert_int_equal(gpa, 31 * MiB);
	assert_true(gpa + n - 1 <= k.initrd_addr_max);
	free(d);
}

static void test_does_not_fit(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(60 * MiB, 0x7fffffff);
	size_t n = 5 * MiB;
	uint8_t *d = pattern(n);
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "MiB"));
	/* Bigger than all of RAM. */
	k = kernel(2 * MiB, 0x7fffffff);
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, 4 * MiB, &k, d, n, &gpa, &e), -ENOSPC);
	/* Exactly fits between the kernel and the top. */
	k = kernel(59 * MiB, 0x7fffffff);
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), 0);
	assert_int_equal(gpa, 59 * MiB);
	free(d);
}

static void test_above_unaligned_kernel_end(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(MEM - 2 * MiB + 1, 0x7fffffff);
	size_t n = 2 * MiB - 0x1000;
	uint8_t *d = pattern(n);
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), 0);
	assert_int_equal(gpa, MEM - 2 * MiB + 0x1000);
	n += 1;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, n, &gpa, &e), -ENOSPC);
	free(d);
}

static void test_empty_and_unmapped(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(4 * MiB, 0x7fffffff);
	uint8_t d[16] = {1};
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, MEM, &k, d, 0, &gpa, &e), -EINVAL);
	/* The caller claims more low RAM than is mapped. */
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, 2 * MEM, &k, d, sizeof(d), &gpa, &e), -EFAULT);
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f->m, 0, &k, d, sizeof(d), &gpa, &e), -ENOSPC);
}

static void test_two_regions_stays_low(void **state)
{
	(void)state;
	struct fake_mem f;
	assert_int_equal(fake_mem_init2(&f, 32 * MiB, 32 * MiB), 0);
	struct x86_kernel k = kernel(4 * MiB, 0xffffffff);
	size_t n = MiB;
	uint8_t *d = pattern(n);
	uint64_t gpa = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_initrd_load(&f.m, 32 * MiB, &k, d, n, &gpa, &e), 0);
	assert_int_equal(gpa, 31 * MiB);
	free(d);
	fake_mem_free(&f);
}

static void test_cmdline(void **state)
{
	struct fake_mem *f = *state;
	struct x86_kernel k = kernel(4 * MiB, 0x7fffffff);
	struct err e;
	err_clear(&e);
	memset(fake_at(f, X86_CMDLINE_ADDR, 16), 'x', 16);
	assert_int_equal(x86_cmdline_write(&f->m, &k, "console=ttyS0", &e), 0);
	assert_string_equal((char *)fake_at(f, X86_CMDLINE_ADDR, 14), "console=ttyS0");
	assert_int_equal(x86_cmdline_write(&f->m, &k, NULL, &e), 0);
	assert_int_equal(*fake_at(f, X86_CMDLINE_ADDR, 1), 0);

	char *s = malloc(8192);
	assert_non_null(s);
	memset(s, 'a', 2047);
	s[2047] = '\0';
	assert_int_equal(x86_cmdline_write(&f->m, &k, s, &e), 0); /* exactly cmdline_size */
	assert_int_equal(*fake_at(f, X86_CMDLINE_ADDR + 2047, 1), 0);
	s[2047] = 'a';
	s[2048] = '\0';
	err_clear(&e);
	assert_int_equal(x86_cmdline_write(&f->m, &k, s, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "2048"));

	/* Our own limit caps a kernel that claims more. */
	k.cmdline_max = 0xffffffff;
	memset(s, 'b', 5000);
	s[5000] = '\0';
	err_clear(&e);
	assert_int_equal(x86_cmdline_write(&f->m, &k, s, &e), -E2BIG);
	s[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(x86_cmdline_write(&f->m, &k, s, &e), 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_respects_initrd_addr_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_does_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_above_unaligned_kernel_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_unmapped, setup, teardown),
		cmocka_unit_test(test_two_regions_stays_low),
		cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
