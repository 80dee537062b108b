/* SPDX-License-Identifier: MIT */
/* The token buckets (core/ratelimit.c), on the test's own clock: a full
 * bucket at the start, continuous refill at size per refill time with no
 * token lost to rounding, the one-time burst spent first, a request larger
 * than the bucket going once it is full (never waiting for good) and the
 * rate holding after it, both buckets at once, a replaced configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "core/ratelimit.h"

#define MS 1000000ULL
#define S  (1000 * MS)

static struct rl make(uint64_t bw, uint64_t bw_ms, uint64_t bw_burst, uint64_t ops, uint64_t ops_ms,
		      uint64_t ops_burst)
{
	struct rl_cfg c = {.bw = {bw, bw_burst, bw_ms}, .ops = {ops, ops_burst, ops_ms}};
	struct rl l;
	rl_init(&l, &c);
	return l;
}

static void test_off(void **state)
{
	(void)state;
	struct rl_cfg c = {0};
	assert_false(rl_cfg_on(&c));
	c.bw.size = 100; /* no refill time: still off, as in Firecracker */
	assert_false(rl_cfg_on(&c));
	struct rl l;
	rl_init(&l, &c);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rl_take(&l, 1 << 20, 1, 0), 0);
	c.bw.refill_ms = 1000;
	assert_true(rl_cfg_on(&c));
	assert_int_equal(rl_cfg_check(&c), 0);
	c.bw.size = RL_SIZE_MAX + 1;
	assert_int_equal(rl_cfg_check(&c), -EINVAL);
	c.bw.size = 1;
	c.ops.refill_ms = RL_REFILL_MAX + 1;
	assert_int_equal(rl_cfg_check(&c), -EINVAL);
}

/* 100 ops per second: 100 go at once (full), the 101st waits 10 ms. */
static void test_refill(void **state)
{
	(void)state;
	struct rl l = make(0, 0, 0, 100, 1000, 0);
	uint64_t t = 5 * S;
	for (int i = 0; i < 100; i++)
		assert_int_equal(rl_take(&l, 4096, 1, t), 0);
	uint64_t w = rl_take(&l, 4096, 1, t);
	assert_int_equal(w, 10 * MS);
	assert_true(rl_take(&l, 0, 1, t + 10 * MS - 1) > 0);
	assert_int_equal(rl_take(&l, 0, 1, t + 10 * MS), 0);
	/* asked every 3 ms for 10 s: 1000 ops go, 1 more or less, none lost
	 * to rounding (3 ms is 0.3 of a token) */
	unsigned went = 0;
	for (uint64_t now = t + 10 * MS; now < t + 10 * MS + 10 * S; now += 3 * MS)
		went += rl_take(&l, 0, 1, now) == 0;
	assert_in_range(went, 999, 1001);
	/* idle for long: full again, and no more than full */
	t += 100 * S;
	went = 0;
	while (rl_take(&l, 0, 1, t) == 0)
		went++;
	assert_int_equal(went, 100);
}

/* 1 MiB per second with a 4 MiB one-time burst: the burst and the full
 * bucket go first, then 1 MiB per second. */
static void test_burst(void **state)
{
	(void)state;
	struct rl l = make(1 << 20, 1000, 4 << 20, 0, 0, 0);
	uint64_t t = S;
	unsigned went = 0;
	while (rl_take(&l, 64 << 10, 1, t) == 0)
		went++;
	assert_int_equal(went, 80); /* 5 MiB in 64 KiB requests */
	/* then the rate: 16 requests in the next second */
	went = 0;
	for (uint64_t now = t; now <= t + S + MS; now += MS) /* (+1 ms: rounding) */
		while (rl_take(&l, 64 << 10, 1, now) == 0)
			went++;
	assert_int_equal(went, 16);
	/* the burst never comes back */
	t += 100 * S;
	went = 0;
	while (rl_take(&l, 64 << 10, 1, t) == 0)
		went++;
	assert_int_equal(went, 16);
	/* a request partly from the burst, partly from the bucket */
	l = make(1000, 1000, 300, 0, 0, 0);
	assert_int_equal(rl_take(&l, 500, 0, t), 0); /* burst 300, bucket 200 */
	assert_int_equal(rl_take(&l, 800, 0, t), 0); /* bucket 800 */
	assert_int_equal(rl_take(&l, 1, 0, t), MS);
}

/* A request larger than the bucket: it goes when the bucket is full, and
 * the bucket then owes the excess, so the rate holds; it never waits for
 * ever, even on an empty bucket. */
static void test_oversize(void **state)
{
	(void)state;
	struct rl l = make(1000, 1000, 0, 0, 0, 0); /* 1000 B/s */
	uint64_t t = S;
	assert_int_equal(rl_take(&l, 5000, 1, t), 0); /* full: it goes */
	/* 4000 owed, then 1 byte: 4001 ms */
	uint64_t w = rl_take(&l, 1, 1, t);
	assert_int_equal(w, 4001 * MS);
	/* another big one waits until the bucket is full again: 5 s */
	w = rl_take(&l, 3000, 1, t);
	assert_int_equal(w, 5000 * MS);
	assert_int_equal(rl_take(&l, 3000, 1, t + w), 0);
	/* over 100 s of 3000-byte requests the rate holds: 100000 bytes
	 * (+ the first full bucket) */
	uint64_t now = t + w, bytes = 3000;
	while (now < t + w + 100 * S) {
		uint64_t d = rl_take(&l, 3000, 1, now);
		if (d == 0)
			bytes += 3000;
		else
			now += d;
	}
	assert_in_range(bytes, 99000, 104000);
	/* an empty bucket and a huge request: a finite wait */
	l = make(10, 1000, 0, 0, 0, 0);
	assert_int_equal(rl_take(&l, 10, 1, t), 0);
	w = rl_take(&l, 1ULL << 40, 1, t);
	assert_int_equal(w, 1000 * MS);
	assert_int_equal(rl_take(&l, 1ULL << 40, 1, t + w), 0);
}

/* Both buckets: a request goes only when both have its tokens, and takes
 * from neither otherwise. */
static void test_both(void **state)
{
	(void)state;
	struct rl l = make(8192, 1000, 0, 10, 1000, 0);
	uint64_t t = S;
	assert_int_equal(rl_take(&l, 4096, 1, t), 0);
	assert_int_equal(rl_take(&l, 4096, 1, t), 0);
	/* bytes are out, ops are not: 4096 B takes 500 ms */
	assert_int_equal(rl_take(&l, 4096, 1, t), 500 * MS);
	/* no bytes: only ops count (a flush) */
	for (int i = 0; i < 8; i++)
		assert_int_equal(rl_take(&l, 0, 1, t), 0);
	assert_int_equal(rl_take(&l, 0, 1, t), 100 * MS);
	/* a refused request took nothing: at 500 ms both have enough */
	assert_int_equal(rl_take(&l, 4096, 1, t + 500 * MS), 0);
}

/* A new configuration: a changed bucket starts full, an unchanged one
 * keeps its state; all off stops limiting. */
static void test_update(void **state)
{
	(void)state;
	struct rl_cfg c = {.bw = {1000, 0, 1000}, .ops = {10, 0, 1000}};
	struct rl l;
	rl_init(&l, &c);
	uint64_t t = S;
	assert_int_equal(rl_take(&l, 1000, 10, t), 0);
	assert_true(rl_take(&l, 1, 1, t) > 0);
	c.bw.size = 2000; /* bandwidth changed: full; ops kept: empty */
	rl_update(&l, &c);
	assert_int_equal(rl_take(&l, 1, 0, t), 0);
	assert_int_equal(rl_take(&l, 0, 1, t), 100 * MS);
	c.ops.size = 0; /* ops off */
	rl_update(&l, &c);
	assert_int_equal(rl_take(&l, 1, 1, t), 0);
	struct rl_cfg off = {0};
	rl_update(&l, &off);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rl_take(&l, 1 << 30, 1, t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),   cmocka_unit_test(test_refill),
		cmocka_unit_test(test_burst), cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_both),  cmocka_unit_test(test_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
