/* SPDX-License-Identifier: MIT */
/* virtio-balloon's pure model (devices/balloon_model.c): PFN runs, the
 * checked spans (guest RAM only, whole host pages), statistics buffers.
 * The device itself: test_balloon_dev.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "devices/balloon.h"
#include "fake_mem.h"

/* ---- the model -------------------------------------------------------- */

static void test_runs(void **state)
{
	(void)state;
	struct balloon_run r[10];
	uint32_t q[] = {9, 4, 5, 7, 3, 8, 4};
	assert_int_equal(balloon_runs(q, 7, r, 10), 2);
	assert_int_equal(r[0].pfn, 3);
	assert_int_equal(r[0].pages, 3); /* 3, 4, 5 (4 twice) */
	assert_int_equal(r[1].pfn, 7);
	assert_int_equal(r[1].pages, 3);
	/* the top of the PFN space: no wrap to 0 */
	uint32_t s[] = {0xffffffff, 0xfffffffe, 0};
	assert_int_equal(balloon_runs(s, 3, r, 10), 2);
	assert_int_equal(r[0].pfn, 0);
	assert_int_equal(r[0].pages, 1);
	assert_int_equal(r[1].pfn, 0xfffffffe);
	assert_int_equal(r[1].pages, 2);
	/* nothing, and more runs than room: none written past it */
	assert_int_equal(balloon_runs(s, 0, r, 10), 0);
	uint32_t t[] = {1, 3, 5, 7};
	r[2].pfn = 12345;
	assert_int_equal(balloon_runs(t, 4, r, 2), 2);
	assert_int_equal(r[2].pfn, 12345);
}

/* The first list above again: 3..5 and 7..9 are two runs, the top two
 * PFNs a third. */
static void test_runs_three(void **state)
{
	(void)state;
	uint32_t p[] = {7, 3, 4, 5, 5, 9, 0xffffffff, 0xfffffffe, 8, 3};
	struct balloon_run r[10];
	assert_int_equal(balloon_runs(p, 10, r, 10), 3);
	assert_int_equal(r[0].pfn, 3);
	assert_int_equal(r[0].pages, 3);
	assert_int_equal(r[1].pfn, 7);
	assert_int_equal(r[1].pages, 3);
	assert_int_equal(r[2].pfn, 0xfffffffe);
	assert_int_equal(r[2].pages, 2);
}

/* Spans: only guest RAM, whole host pages inside the run. */
static void test_span(void **state)
{
	(void)state;
	struct guest_mem m = {0};
	size_t ps = 4096;
	uint8_t *low = aligned_alloc(0x10000, 1 << 20), *high = aligned_alloc(ps, 1 << 20);
	assert_non_null(low);
	assert_non_null(high);
	assert_int_equal(gm_add(&m, 0, 1 << 20, low), 0);
	assert_int_equal(gm_add(&m, 4ULL << 30, 1 << 20, high), 0);
	uint8_t *h;
	uint64_t gpa, len;
	assert_int_equal(balloon_span(&m, 0x5000, 0x3000, ps, &h, &gpa, &len), 1);
	assert_ptr_equal(h, low + 0x5000);
	assert_int_equal(gpa, 0x5000);
	assert_int_equal(len, 0x3000);
	/* the hole between the regions, past the end, across the end */
	assert_int_equal(balloon_span(&m, 1 << 20, 4096, ps, &h, &gpa, &len), -EFAULT);
	assert_int_equal(balloon_span(&m, 3ULL << 30, 4096, ps, &h, &gpa, &len), -EFAULT);
	assert_int_equal(balloon_span(&m, (4ULL << 30) + (1 << 20), 4096, ps, &h, &gpa, &len),
			 -EFAULT);
	assert_int_equal(balloon_span(&m, (1 << 20) - 4096, 8192, ps, &h, &gpa, &len), -EFAULT);
	assert_int_equal(balloon_span(&m, UINT64_MAX - 4095, 4096, ps, &h, &gpa, &len), -EFAULT);
	assert_int_equal(balloon_span(&m, 0, 0, ps, &h, &gpa, &len), -EFAULT);
	/* the highest PFN a driver can give: 16 TiB - 4 KiB, not RAM */
	assert_int_equal(balloon_span(&m, 0xffffffffULL << 12, 4096, ps, &h, &gpa, &len), -EFAULT);
	/* 64 KiB host pages: only the whole ones inside the run */
	assert_int_equal(balloon_span(&m, 0x1000, 0x30000, 0x10000, &h, &gpa, &len), 1);
	assert_int_equal(gpa, 0x10000);
	assert_int_equal(len, 0x20000);
	assert_int_equal(balloon_span(&m, 0x11000, 0x1000, 0x10000, &h, &gpa, &len), 1);
	assert_int_equal(len, 0);
	/* the second region */
	assert_int_equal(balloon_span(&m, 4ULL << 30, 8192, ps, &h, &gpa, &len), 1);
	assert_ptr_equal(h, high);
	/* and back from host to guest addresses */
	assert_int_equal(balloon_gpa_of(&m, high + 8192, 4096, &gpa), 0);
	assert_int_equal(gpa, (4ULL << 30) + 8192);
	assert_int_equal(balloon_gpa_of(&m, high + (1 << 20) - 4096, 8192, &gpa), -EFAULT);
	assert_int_equal(balloon_gpa_of(&m, &m, 1, &gpa), -EFAULT);
	free(low);
	free(high);
}

static void put_stat(uint8_t *b, unsigned i, uint16_t tag, uint64_t val)
{
	le_put16(b + i * BALLOON_STAT_BYTES, tag);
	le_put64(b + i * BALLOON_STAT_BYTES + 2, val);
}

static void test_stats_parse(void **state)
{
	(void)state;
	uint8_t b[BALLOON_STAT_BYTES * (BALLOON_STATS_MAX + 2)];
	struct balloon_stats st = {0};
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 1000);
	put_stat(b, 1, VIRTIO_BALLOON_S_MEMTOT, 2000);
	put_stat(b, 2, 99, 5);				/* unknown */
	put_stat(b, 3, VIRTIO_BALLOON_S_MEMFREE, 1500); /* the last wins */
	put_stat(b, 4, 15, 7);				/* Linux 6.12's DIRECT_RECLAIM */
	assert_int_equal(balloon_stats_parse(b, 5 * BALLOON_STAT_BYTES, &st), 1);
	assert_int_equal(st.present,
			 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << VIRTIO_BALLOON_S_MEMTOT | 1u << 15);
	assert_int_equal(st.val[VIRTIO_BALLOON_S_MEMFREE], 1500);
	assert_int_equal(st.val[VIRTIO_BALLOON_S_MEMTOT], 2000);
	assert_int_equal(st.val[15], 7);
	/* a partial entry at the end: counted, not read */
	memset(&st, 0, sizeof(st));
	assert_int_equal(balloon_stats_parse(b, 2 * BALLOON_STAT_BYTES + 9, &st), 1);
	assert_int_equal(st.present,
			 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << VIRTIO_BALLOON_S_MEMTOT);
	/* nothing */
	memset(&st, 0, sizeof(st));
	assert_int_equal(balloon_stats_parse(b, 0, &st), 0);
	assert_int_equal(st.present, 0);
	/* more entries than read: the rest is one failure */
	for (unsigned i = 0; i < BALLOON_STATS_MAX + 2; i++)
		put_stat(b, i, VIRTIO_BALLOON_S_MINFLT, i);
	assert_int_equal(balloon_stats_parse(b, sizeof(b), &st), 1);
	assert_int_equal(st.val[VIRTIO_BALLOON_S_MINFLT], BALLOON_STATS_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_runs_three),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_stats_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
