/* SPDX-License-Identifier: MIT */
/* MP table: walk it back from guest memory. */
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
	if (!f || fake_mem_init(f, 16 * MiB) < 0)
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

static void check(struct fake_mem *f, unsigned ncpus)
{
	struct err e;
	err_clear(&e);
	memset(fake_at(f, X86_EBDA_START, 0x400), 0x5a, 0x400);
	assert_int_equal(x86_mptable_write(&f->m, ncpus, &e), 0);

	const uint8_t *mpf = fake_at(f, X86_MPTABLE_ADDR, 16);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(sum8(mpf, 16), 0);
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(mpf[11], 0); /* a configuration table follows */
	uint32_t cfg = rd32(mpf + 4);

	const uint8_t *mpc = fake_at(f, cfg, 44);
	assert_non_null(mpc);
	assert_memory_equal(mpc, "PCMP", 4);
	uint16_t len = rd16(mpc + 4);
	assert_true(cfg + len <= X86_EBDA_START + 0x400);
	mpc = fake_at(f, cfg, len);
	assert_int_equal(sum8(mpc, len), 0);
	assert_int_equal(mpc[6], 4);
	assert_int_equal(rd32(mpc + 36), X86_LAPIC_ADDR);
	uint16_t count = rd16(mpc + 34);
	assert_int_equal(count, ncpus + 1 + 1 + 23 + 2);

	unsigned cpus = 0, buses = 0, ioapics = 0, ioints = 0, lints = 0, bsps = 0;
	unsigned ioapic_id = 0xffff;
	int irq_pin[24];
	for (int i = 0; i < 24; i++)
		irq_pin[i] = -1;
	const uint8_t *p = mpc + 44, *end = mpc + len;
	for (unsigned i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], cpus);
			assert_int_equal(p[2], 0x14);
			assert_true(p[3] & 1);
			if (p[3] & 2) {
				bsps++;
				assert_int_equal(p[1], 0);
			}
			cpus++;
			p += 20;
			break;
		case 1:
			assert_memory_equal(p + 2, "ISA   ", 6);
			buses++;
			p += 8;
			break;
		case 2:
			ioapic_id = p[1];
			assert_int_equal(p[2], 0x11);
			assert_int_equal(p[3] & 1, 1);
			assert_int_equal(rd32(p + 4), X86_IOAPIC_ADDR);
			ioapics++;
			p += 8;
			break;
		case 3:
			assert_int_equal(p[1], 0);
			assert_int_equal(p[4], 0);
			assert_true(p[5] < 24);
			assert_int_equal(p[6], ioapic_id);
			irq_pin[p[5]] = p[7];
			ioints++;
			p += 8;
			break;
		case 4:
			assert_int_equal(p[1], lints == 0 ? 3 : 1);
			assert_int_equal(p[6], 0xff);
			assert_int_equal(p[7], lints);
			lints++;
			p += 8;
			break;
		default:
			fail_msg("unknown MP entry type %u", p[0]);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(ioapic_id, ncpus);
	assert_int_equal(ioints, 23); /* every IOAPIC pin but 2: IRQ0 goes there */
	assert_int_equal(lints, 2);
	assert_int_equal(irq_pin[0], 2);
	assert_int_equal(irq_pin[2], -1);
	for (int i = 1; i < 24; i++) /* 16-23: virtio devices past the tenth */
		if (i != 2)
			assert_int_equal(irq_pin[i], i);
}

static void test_cpus(void **state)
{
	unsigned counts[] = {1, 2, 8, X86_MPTABLE_MAX_CPUS};
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		check(*state, counts[i]);
}

static void test_limits(void **state)
{
	struct fake_mem *f = *state;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_mptable_write(&f->m, 0, &e), -EINVAL);
	err_clear(&e);
	assert_int_equal(x86_mptable_write(&f->m, X86_MPTABLE_MAX_CPUS + 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "EBDA"));

	struct fake_mem hi;
	memset(&hi, 0, sizeof(hi));
	assert_int_equal(fake_mem_add(&hi, 1 * MiB, 1 * MiB), 0);
	err_clear(&e);
	assert_int_equal(x86_mptable_write(&hi.m, 1, &e), -EFAULT);
	fake_mem_free(&hi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
