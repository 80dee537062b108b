/* SPDX-License-Identifier: MIT */
/* e820 map and RAM layout around the 32-bit MMIO hole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fake_mem.h"

static void check_low(const struct e820_entry *m)
{
	assert_int_equal(m[0].addr, 0);
	assert_int_equal(m[0].size, X86_EBDA_START);
	assert_int_equal(m[0].type, E820_RAM);
	assert_int_equal(m[1].addr, X86_EBDA_START);
	assert_int_equal(m[1].addr + m[1].size, X86_HIMEM_START);
	assert_int_equal(m[1].type, E820_RESERVED);
	assert_int_equal(m[2].addr, X86_HIMEM_START);
	assert_int_equal(m[2].type, E820_RAM);
}

static uint64_t ram_total(const struct e820_entry *m, unsigned n)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		if (m[i].type == E820_RAM)
			t += m[i].size;
	return t;
}

static void test_64m(void **state)
{
	(void)state;
	struct e820_entry m[8];
	unsigned n = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_e820_build(64 * MiB, m, 8, &n, &e), 0);
	assert_int_equal(n, 3);
	check_low(m);
	assert_int_equal(m[2].addr + m[2].size, 64 * MiB);
	assert_int_equal(ram_total(m, n), 64 * MiB - (X86_HIMEM_START - X86_EBDA_START));

	uint64_t gpa[2], size[2];
	assert_int_equal(x86_ram_layout(64 * MiB, gpa, size), 1);
	assert_int_equal(gpa[0], 0);
	assert_int_equal(size[0], 64 * MiB);
}

static void test_3g(void **state)
{
	(void)state;
	struct e820_entry m[8];
	unsigned n = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_e820_build(3 * GiB, m, 8, &n, &e), 0);
	assert_int_equal(n, 3);
	check_low(m);
	assert_int_equal(m[2].addr + m[2].size, X86_MMIO_HOLE_START);

	uint64_t gpa[2], size[2];
	assert_int_equal(x86_ram_layout(3 * GiB, gpa, size), 1);
	assert_int_equal(size[0], 3 * GiB);
	/* One byte more spills over the hole. */
	assert_int_equal(x86_ram_layout(3 * GiB + 4096, gpa, size), 2);
	assert_int_equal(gpa[1], 4 * GiB);
	assert_int_equal(size[1], 4096);
}

static void test_5g(void **state)
{
	(void)state;
	struct e820_entry m[8];
	unsigned n = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_e820_build(5 * GiB, m, 8, &n, &e), 0);
	assert_int_equal(n, 4);
	check_low(m);
	assert_int_equal(m[2].addr + m[2].size, X86_MMIO_HOLE_START);
	assert_int_equal(m[3].addr, X86_MMIO_HOLE_END);
	assert_int_equal(m[3].size, 2 * GiB);
	assert_int_equal(m[3].type, E820_RAM);
	/* Nothing in the hole. */
	for (unsigned i = 0; i < n; i++)
		assert_true(m[i].addr + m[i].size <= X86_MMIO_HOLE_START ||
			    m[i].addr >= X86_MMIO_HOLE_END);

	uint64_t gpa[2], size[2];
	assert_int_equal(x86_ram_layout(5 * GiB, gpa, size), 2);
	assert_int_equal(size[0] + size[1], 5 * GiB);
	assert_int_equal(gpa[1], 4 * GiB);
}

static void test_errors(void **state)
{
	(void)state;
	struct e820_entry m[8];
	unsigned n = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_e820_build(MiB, m, 8, &n, &e), -EINVAL);
	assert_true(e.msg[0] != '\0');
	err_clear(&e);
	assert_int_equal(x86_e820_build(5 * GiB, m, 3, &n, &e), -ENOSPC);
	err_clear(&e);
	assert_int_equal(x86_e820_build(UINT64_MAX, m, 8, &n, &e), -EINVAL);
	uint64_t gpa[2], size[2];
	assert_int_equal(x86_ram_layout(0, gpa, size), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64m),
		cmocka_unit_test(test_3g),
		cmocka_unit_test(test_5g),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
