/* SPDX-License-Identifier: MIT */
/* Firecracker's rate_limiter object (vmm/cli/limiter_json.c): every shape
 * Firecracker takes (both buckets, one, a burst, null and {} for none),
 * (1 when a bucket is given, 0 when none), each malformed one refused with a message naming the
 * field, a PATCH's merge (a bucket not given stays), and the object written back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vmm/cli/limiter_json.h"

static int parse(const char *text, struct cli_limiter *l, char *err, size_t len)
{
	struct json_object *o = text ? json_tokener_parse(text) : NULL;
	if (text && strcmp(text, "null"))
		assert_non_null(o);
	err[0] = '\0';
	int r = cli_limiter_json(o, "rate_limiter", l, err, len);
	json_object_put(o);
	return r;
}

static void test_shapes(void **state)
{
	(void)state;
	struct cli_limiter l;
	char err[200];
	assert_int_equal(parse("{\"bandwidth\": {\"size\": 2097152, \"refill_time\": 1000}, "
			       "\"ops\": {\"size\": 200, \"one_time_burst\": 1000, "
			       "\"refill_time\": 100}}",
			       &l, err, sizeof(err)),
			 1);
	assert_true(l.has_bw && l.has_ops);
	assert_int_equal(l.rl.bandwidth.size, 2097152);
	assert_int_equal(l.rl.bandwidth.one_time_burst, 0);
	assert_int_equal(l.rl.bandwidth.refill_time_ms, 1000);
	assert_int_equal(l.rl.ops.size, 200);
	assert_int_equal(l.rl.ops.one_time_burst, 1000);
	assert_int_equal(l.rl.ops.refill_time_ms, 100);
	assert_true(cli_limiter_on(&l.rl));
	/* none: absent (NULL), null, {}, buckets null (Kata's runtimes) */
	const char *none[] = {NULL, "null", "{}", "{\"bandwidth\": null, \"ops\": null}"};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(parse(none[i], &l, err, sizeof(err)), 0);
		assert_false(l.has_bw || l.has_ops);
		assert_false(cli_limiter_on(&l.rl));
	}
	/* a bucket of size 0: given (a PATCH turns that bucket off), no limit */
	assert_int_equal(
		parse("{\"ops\": {\"size\": 0, \"refill_time\": 0}}", &l, err, sizeof(err)), 1);
	assert_true(l.has_ops && !l.has_bw);
	assert_false(cli_limiter_on(&l.rl));
}

static void test_refused(void **state)
{
	(void)state;
	static const struct {
		const char *json, *says;
	} bad[] = {
		{"[]", "'rate_limiter' must be an object"},
		{"5", "'rate_limiter' must be an object"},
		{"{\"bw\": {}}", "'rate_limiter': 'bw' is an unknown field"},
		{"{\"ops\": 5}", "'rate_limiter': 'ops' must be an object"},
		{"{\"ops\": {\"size\": 1}}", "'rate_limiter': 'ops': 'refill_time' is required"},
		{"{\"ops\": {\"refill_time\": 1}}", "'rate_limiter': 'ops': 'size' is required"},
		{"{\"ops\": {\"size\": -1, \"refill_time\": 1}}",
		 "'rate_limiter': 'ops': 'size' must be an integer 0.."},
		{"{\"ops\": {\"size\": \"1\", \"refill_time\": 1}}", "'size' must be an integer"},
		{"{\"ops\": {\"size\": 1, \"refill_time\": 1.5}}",
		 "'refill_time' must be an integer"},
		{"{\"ops\": {\"size\": 18446744073709551615, \"refill_time\": 1}}",
		 "'size' must be an integer"},
		{"{\"ops\": {\"size\": 1, \"refill_time\": 1000000000001}}",
		 "'refill_time' must be an integer 0..1000000000000"},
		{"{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": null, "
		 "\"x\": 1}}",
		 "'rate_limiter': 'bandwidth': 'x' is an unknown field"},
		{"{\"ops\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": true}}",
		 "'one_time_burst' must be an integer"},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cli_limiter l;
		char err[200];
		assert_int_equal(parse(bad[i].json, &l, err, sizeof(err)), -22);
		if (!strstr(err, bad[i].says))
			fail_msg("%s: '%s' does not say '%s'", bad[i].json, err, bad[i].says);
	}
}

static void test_merge_and_back(void **state)
{
	(void)state;
	struct cvmm_rate_limiter cur = {.bandwidth = {1000, 0, 100}, .ops = {10, 5, 1000}};
	struct cli_limiter upd;
	char err[200];
	/* ops given, bandwidth not: bandwidth stays */
	assert_int_equal(
		parse("{\"ops\": {\"size\": 20, \"refill_time\": 500}}", &upd, err, sizeof(err)),
		1);
	cli_limiter_merge(&cur, &upd);
	assert_int_equal(cur.bandwidth.size, 1000);
	assert_int_equal(cur.ops.size, 20);
	assert_int_equal(cur.ops.one_time_burst, 0);
	assert_int_equal(cur.ops.refill_time_ms, 500);
	/* written back as Firecracker's object, read again the same */
	struct json_object *o = cli_limiter_to_json(&cur);
	const char *s = json_object_to_json_string(o);
	struct cli_limiter again;
	assert_int_equal(parse(s, &again, err, sizeof(err)), 1);
	assert_memory_equal(&again.rl, &cur, sizeof(cur));
	json_object_put(o);
	/* a bucket turned off is left out */
	upd = (struct cli_limiter){.has_bw = true};
	cli_limiter_merge(&cur, &upd);
	o = cli_limiter_to_json(&cur);
	assert_null(strstr(json_object_to_json_string(o), "bandwidth"));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_merge_and_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
