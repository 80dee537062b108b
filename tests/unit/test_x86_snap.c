/* SPDX-License-Identifier: MIT */
/* x86_64 snapshot MSRs as a restore gives them to KVM_SET_MSRS
 * (x86_msrs_restore_fix): the TSC deadline written after the TSC, and a
 * deadline of 0 (the timer fired, its interrupt not yet in the LAPIC when
 * the snapshot was taken) made the saved TSC, so that the tick is
 * delivered at once instead of never. No KVM needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arch/x86_64/x86_arch.h"

#define TSC 0x10
#define DL  0x6e0

static void set(struct kvm_msr_entry *m, uint32_t index, uint64_t data)
{
	memset(m, 0, sizeof(*m));
	m->index = index;
	m->data = data;
}

/* KVM's own order (emulated MSRs after the rest) puts the deadline after
 * the TSC; a list in another order is put right, the rest kept in order. */
static void test_deadline_after_tsc(void **state)
{
	(void)state;
	struct kvm_msr_entry m[5];
	set(&m[0], 0x174, 1);
	set(&m[1], DL, 5000);
	set(&m[2], 0xc0000080, 2);
	set(&m[3], TSC, 4000);
	set(&m[4], 0x4b564d00, 3);
	assert_int_equal(x86_msrs_restore_fix(m, 5), 0);
	uint32_t want[] = {0x174, 0xc0000080, TSC, 0x4b564d00, DL};
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(m[i].index, want[i]);
	assert_int_equal(m[4].data, 5000); /* an armed deadline is kept */
	assert_int_equal(m[2].data, 4000);
	assert_int_equal(m[0].data, 1);
	assert_int_equal(m[3].data, 3);
}

/* A deadline of 0 becomes the TSC's value: the timer fires at once. */
static void test_zero_deadline_fires(void **state)
{
	(void)state;
	struct kvm_msr_entry m[3];
	set(&m[0], TSC, 0x123456789);
	set(&m[1], DL, 0);
	set(&m[2], 0x174, 7);
	assert_int_equal(x86_msrs_restore_fix(m, 3), 1);
	assert_int_equal(m[2].index, DL);
	assert_int_equal(m[2].data, 0x123456789);
	assert_int_equal(m[0].index, TSC);
	assert_int_equal(m[1].index, 0x174);
}

/* Without a TSC in the list there is nothing to set it to: left alone. */
static void test_no_tsc(void **state)
{
	(void)state;
	struct kvm_msr_entry m[2];
	set(&m[0], DL, 0);
	set(&m[1], 0x174, 7);
	assert_int_equal(x86_msrs_restore_fix(m, 2), 0);
	assert_int_equal(m[0].index, 0x174);
	assert_int_equal(m[1].index, DL);
	assert_int_equal(m[1].data, 0);
	assert_int_equal(x86_msrs_restore_fix(m, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_after_tsc),
		cmocka_unit_test(test_zero_deadline_fires),
		cmocka_unit_test(test_no_tsc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
