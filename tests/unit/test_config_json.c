/* SPDX-License-Identifier: MIT */
/* --config FILE: JSON -> cvmm_config (vmm/cli/config_json.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cli/config_json.h"
#include "vmm/vm.h"

struct cvmm_config *cfg;
char err[256];

static int setup(void **state)
{
	(void)state;
	return cvmm_config_new(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	cvmm_config_free(cfg);
	return 0;
}

static int load(const char *json)
{
	return cli_config_json(cfg, json, strlen(json), err, sizeof(err));
}

/* Fails with r, and the message holds each of the given words. */
static void want_error(const char *json, int r, const char *word1, const char *word2)
{
	cvmm_config_free(cfg);
	assert_int_equal(cvmm_config_new(&cfg), 0);
	int got = load(json);
	if (got != r || !strstr(err, word1) || (word2 && !strstr(err, word2)))
		fail_msg("%s -> %d '%s', wanted %d with '%s' '%s'", json, got, err, r, word1,
			 word2 ? word2 : "");
	assert_int_equal(strncmp(err, "config: ", 8), 0);
}

static void test_valid_full(void **state)
{
	(void)state;
	const char *j =
		"{\"kernel\": \"/k\", \"initrd\": \"/i\", \"cmdline\": \"console=ttyS0 x=1\","
		" \"cpus\": 3, \"memory\": \"512M\","
		" \"disks\": [{\"path\": \"/d0\"}, {\"path\": \"/d1\", \"ro\": true,"
		" \"direct\": true, \"queues\": 4, \"poll_us\": 0}, {\"path\": \"/d2\", "
		"\"poll_us\": 250}],"
		" \"nets\": [{\"tap\": \"tap0\", \"mac\": \"52:54:00:12:34:56\", \"queues\": 2},"
		" {\"stream\": \"/s\", \"listen\": true, \"poll_us\": 0}, {\"tapfd\": 7, "
		"\"poll_us\": 300}, {\"passt\": \"/p\"}],"
		" \"fs\": [{\"tag\": \"share\", \"path\": \"/tmp\", \"ro\": true, \"xattr\": "
		"true}, {\"tag\": \"own\", \"path\": \"/\", \"privileged\": true}],"
		" \"vsock\": {\"cid\": 42, \"socket\": \"/v.sock\"}, \"debug_exit\": true,"
		" \"transport\": \"mmio\", \"rng\": true}\n";
	assert_int_equal(load(j), 0);
	assert_string_equal(cfg->kernel, "/k");
	assert_string_equal(cfg->initrd, "/i");
	assert_string_equal(cfg->cmdline, "console=ttyS0 x=1");
	assert_int_equal(cfg->cpus, 3);
	assert_int_equal(cfg->memory, 512ULL << 20);
	assert_int_equal(cfg->ndisks, 3);
	assert_string_equal(cfg->disks[0].path, "/d0");
	assert_int_equal(cfg->disks[0].flags, 0);
	assert_int_equal(cfg->disks[0].queues, 1);
	assert_int_equal(cfg->disks[1].flags, CVMM_DISK_RO | CVMM_DISK_DIRECT);
	assert_int_equal(cfg->disks[1].queues, 4);
	/* polling: the default, off, a window of its own */
	assert_int_equal(cfg->disks[0].poll_us, CVMM_DISK_POLL_DEFAULT_US);
	assert_int_equal(cfg->disks[1].poll_us, 0);
	assert_int_equal(cfg->disks[2].poll_us, 250);
	assert_int_equal(cfg->nnets, 4);
	assert_int_equal(cfg->nets[0].backend, CVMM_NET_TAP);
	assert_string_equal(cfg->nets[0].target, "tap0");
	assert_int_equal(cfg->nets[0].queue_pairs, 2);
	assert_true(cfg->nets[0].has_mac);
	assert_int_equal(cfg->nets[0].mac[5], 0x56);
	assert_int_equal(cfg->nets[1].backend, CVMM_NET_STREAM_LISTEN);
	assert_string_equal(cfg->nets[1].target, "/s");
	assert_int_equal(cfg->nets[2].backend, CVMM_NET_TAPFD);
	assert_int_equal(cfg->nets[2].fd, 7);
	assert_int_equal(cfg->nets[3].backend, CVMM_NET_STREAM);
	assert_string_equal(cfg->nets[3].target, "/p");
	/* TX polling: the default, off, a window of its own */
	assert_int_equal(cfg->net_poll_us[0], CVMM_NET_POLL_DEFAULT_US);
	assert_int_equal(cfg->net_poll_us[1], 0);
	assert_int_equal(cfg->net_poll_us[2], 300);
	assert_int_equal(cfg->net_poll_us[3], CVMM_NET_POLL_DEFAULT_US);
	assert_int_equal(cfg->nfs, 2);
	assert_string_equal(cfg->fs[0].tag, "share");
	assert_int_equal(cfg->fs[0].flags, CVMM_FS_RO | CVMM_FS_XATTR);
	assert_int_equal(cfg->fs[1].flags, CVMM_FS_PRIVILEGED);
	assert_int_equal(cfg->vsock_cid, 42);
	assert_string_equal(cfg->vsock_path, "/v.sock");
	assert_true(cfg->debug_exit);
	assert_true(cfg->rng);
	assert_int_equal(cfg->transport, CVMM_TRANSPORT_MMIO);
	want_error("{\"kernel\":\"/k\",\"transport\":\"isa\"}", -EINVAL, "transport", "isa");
	want_error("{\"kernel\":\"/k\",\"transport\":1}", -EINVAL, "transport", NULL);
}

/* "balloon": Firecracker's PUT /balloon body. */
static void test_balloon(void **state)
{
	(void)state;
	assert_int_equal(load("{\"kernel\":\"/k\",\"balloon\":{\"amount_mib\":64,"
			      "\"deflate_on_oom\":true,\"stats_polling_interval_s\":2,"
			      "\"free_page_reporting\":true,\"free_page_hinting\":false}}"),
			 0);
	assert_true(cfg->balloon.on);
	assert_int_equal(cfg->balloon.mib, 64);
	assert_int_equal(cfg->balloon.stats_s, 2);
	assert_int_equal(cfg->balloon.flags,
			 CVMM_BALLOON_DEFLATE_ON_OOM | CVMM_BALLOON_FREE_PAGE_REPORTING);
	want_error("{\"kernel\":\"/k\",\"balloon\":{}}", -EINVAL, "'amount_mib' is required", NULL);
	want_error("{\"kernel\":\"/k\",\"balloon\":{\"amount_mib\":-1}}", -ERANGE,
		   "'amount_mib' in balloon", NULL);
	want_error("{\"kernel\":\"/k\",\"balloon\":{\"amount_mib\":1,\"x\":1}}", -EINVAL, "'x'",
		   NULL);
	want_error("{\"kernel\":\"/k\",\"balloon\":{\"amount_mib\":1,"
		   "\"stats_polling_interval_s\":70000}}",
		   -ERANGE, "stats_polling_interval_s", NULL);
	want_error("{\"kernel\":\"/k\",\"balloon\":{\"amount_mib\":1,\"free_page_hinting\":true}}",
		   -EINVAL, "free_page_hinting", NULL);
	want_error("{\"kernel\":\"/k\",\"balloon\":true}", -EINVAL, "'balloon' must be an object",
		   NULL);
}

static void test_valid_minimal(void **state)
{
	(void)state;
	assert_int_equal(load("{\"kernel\":\"/k\",\"memory\":64}"), 0);
	assert_string_equal(cfg->kernel, "/k");
	assert_null(cfg->initrd);
	assert_int_equal(cfg->cpus, 1);
	assert_int_equal(cfg->memory, 64ULL << 20);
	assert_int_equal(cfg->ndisks + cfg->nnets + cfg->nfs, 0);
	assert_null(cfg->vsock_path);
}

static void test_unknown_field(void **state)
{
	(void)state;
	want_error("{\"kernel\":\"/k\",\"frobnicate\":1}", -EINVAL, "unknown field 'frobnicate'",
		   NULL);
	want_error(
		"{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"rw\":true}]}",
		-EINVAL, "unknown field 'rw'", "disks[1]");
	want_error("{\"kernel\":\"/k\",\"vsock\":{\"cid\":3,\"socket\":\"/s\",\"port\":1}}",
		   -EINVAL, "unknown field 'port'", "vsock");
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"t\",\"bridge\":\"br0\"}]}", -EINVAL,
		   "unknown field 'bridge'", "nets[0]");
	/* field names are case-sensitive */
	want_error("{\"Kernel\":\"/k\"}", -EINVAL, "unknown field 'Kernel'", NULL);
}

static void test_wrong_type(void **state)
{
	(void)state;
	want_error("{\"kernel\":5}", -EINVAL, "'kernel' must be a string", NULL);
	want_error("{\"kernel\":\"/k\",\"cpus\":\"2\"}", -EINVAL, "'cpus' must be an integer",
		   NULL);
	want_error("{\"kernel\":\"/k\",\"cpus\":2.5}", -EINVAL, "'cpus' must be an integer", NULL);
	want_error("{\"kernel\":\"/k\",\"memory\":true}", -EINVAL, "'memory'", NULL);
	want_error("{\"kernel\":\"/k\",\"memory\":\"lots\"}", -EINVAL, "'memory' is not a size",
		   NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":{\"path\":\"/d\"}}", -EINVAL,
		   "'disks' must be an array", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[\"/d\"]}", -EINVAL, "disks[0] must be an object",
		   NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"ro\":\"yes\"}]}", -EINVAL,
		   "'ro' in disks[0] must be true or false", NULL);
	want_error("{\"kernel\":\"/k\",\"vsock\":[]}", -EINVAL, "'vsock' must be an object", NULL);
	want_error("[\"kernel\"]", -EINVAL, "top level must be an object", NULL);
	want_error("{\"kernel\":null}", -EINVAL, "'kernel' must be a string", NULL);
}

static void test_missing(void **state)
{
	(void)state;
	want_error("{}", -EINVAL, "'kernel' is required", NULL);
	want_error("{\"cpus\":2}", -EINVAL, "'kernel' is required", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"ro\":true}]}", -EINVAL, "'path' is required",
		   "disks[0]");
	want_error("{\"kernel\":\"/k\",\"vsock\":{\"cid\":3}}", -EINVAL, "required in vsock", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"mac\":\"52:54:00:00:00:01\"}]}", -EINVAL,
		   "needs one of", "nets[0]");
}

static void test_values_refused(void **state)
{
	(void)state;
	want_error("{\"kernel\":\"/k\",\"cpus\":0}", -ERANGE, "'cpus' must be 1..4096", NULL);
	want_error("{\"kernel\":\"/k\",\"cpus\":300}", -EINVAL, "cpus: cpus must be between", NULL);
	want_error("{\"kernel\":\"/k\",\"memory\":\"1M\"}", -EINVAL,
		   "memory: memory must be at least", NULL);
	want_error("{\"kernel\":\"\"}", -EINVAL, "kernel: kernel path must not be empty", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"queues\":9}]}", -ERANGE,
		   "'queues' in disks[0] must be 1..8", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"poll_us\":10001}]}", -ERANGE,
		   "'poll_us' in disks[0] must be 0..10000", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"poll_us\":-1}]}", -ERANGE,
		   "'poll_us' in disks[0] must be 0..10000", NULL);
	want_error("{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"poll_us\":\"50\"}]}", -EINVAL,
		   "'poll_us' in disks[0] must be an integer", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"stream\":\"/s\"}]}", -EINVAL,
		   "both given", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"poll_us\":10001}]}", -ERANGE,
		   "'poll_us' in nets[0] must be 0..10000", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"poll_us\":-1}]}", -ERANGE,
		   "'poll_us' in nets[0] must be 0..10000", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"poll_us\":true}]}", -EINVAL,
		   "'poll_us' in nets[0] must be an integer", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"listen\":true}]}", -EINVAL,
		   "'listen' goes with 'stream' only", NULL);
	want_error("{\"kernel\":\"/k\",\"nets\":[{\"tap\":\"a\",\"mac\":\"01:00:00:00:00:00\"}]}",
		   -EINVAL, "'mac'", NULL);
	want_error("{\"kernel\":\"/k\",\"fs\":[{\"tag\":\"t\",\"path\":\"/nonexistent-cvmm\"}]}",
		   -ENOENT, "fs[0]", "nonexistent-cvmm");
	want_error("{\"kernel\":\"/k\",\"vsock\":{\"cid\":2,\"socket\":\"/s\"}}", -ERANGE, "'cid'",
		   NULL);
	/* CVMM_MAX_DISKS disks are taken, one more is refused */
	char j[64 + 16 * (CVMM_MAX_DISKS + 1)], most[32];
	for (int n = CVMM_MAX_DISKS; n <= CVMM_MAX_DISKS + 1; n++) {
		int o = snprintf(j, sizeof(j), "{\"kernel\":\"/k\",\"disks\":[");
		for (int i = 0; i < n; i++)
			o += snprintf(j + o, sizeof(j) - (size_t)o, "%s{\"path\":\"/%d\"}",
				      i ? "," : "", i);
		snprintf(j + o, sizeof(j) - (size_t)o, "]}");
		cvmm_config_free(cfg);
		assert_int_equal(cvmm_config_new(&cfg), 0);
		if (n == CVMM_MAX_DISKS)
			assert_int_equal(load(j), 0);
	}
	snprintf(most, sizeof(most), "at most %d", CVMM_MAX_DISKS);
	want_error(j, -E2BIG, most, NULL);
}

static void test_bad_json(void **state)
{
	(void)state;
	want_error("", -EINVAL, "not valid JSON", NULL);
	want_error("{\"kernel\":\"/k\"", -EINVAL, "not valid JSON", NULL);
	want_error("{\"kernel\":\"/k\"} x", -EINVAL, "trailing bytes", NULL);
	want_error("{\"kernel\":\"/k\"}{}", -EINVAL, "trailing bytes", NULL);
	want_error("{kernel:\"/k\"}", -EINVAL, "not valid JSON", NULL);
	want_error("{\"kernel\":\"/k\",\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", -EINVAL,
		   "not valid JSON", NULL);
	/* a NUL inside the text */
	cvmm_config_free(cfg);
	assert_int_equal(cvmm_config_new(&cfg), 0);
	const char nul[] = "{\"kernel\":\"/k\"}\0{}";
	assert_int_equal(cli_config_json(cfg, nul, sizeof(nul) - 1, err, sizeof(err)), -EINVAL);
	/* too large */
	size_t big = CLI_CONFIG_MAX + 1;
	char *b = malloc(big);
	assert_non_null(b);
	memset(b, ' ', big);
	assert_int_equal(cli_config_json(cfg, b, big, err, sizeof(err)), -EFBIG);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_valid_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balloon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
