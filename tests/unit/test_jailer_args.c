/* SPDX-License-Identifier: MIT */
/* The jailer's command line (vmm/cli/jailer/jailer_args.c): the argv Kata
 * and firecracker-go-sdk pass, Firecracker's defaults, and each bad flag
 * refused with its message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cli/jailer/jailer_args.h"

static struct jailer_plan plan;
static char err[512];

#define ARGV(...)  ((char *[]){"jailer", __VA_ARGS__, NULL})
#define ARGC(...)  ((int)(sizeof((char *[]){"jailer", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(...) jailer_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &plan, err, sizeof(err))

/* Refused, and the message holds word. */
#define REFUSED(word, ...)                                                                         \
	do {                                                                                       \
		assert_int_equal(PARSE(__VA_ARGS__), -EINVAL);                                     \
		if (!strstr(err, word))                                                            \
			fail_msg("message '%s' lacks '%s'", err, word);                            \
	} while (0)

#define REQ "--id", "vm-1", "--exec-file", "/usr/bin/firecracker", "--uid", "123", "--gid", "100"

/* Kata's Go runtime (fc.go fcInit, jailed) */
static void test_kata_go(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--id", "3a2c-ff", "--exec-file", "/usr/local/bin/firecracker",
			       "--uid", "0", "--gid", "0", "--chroot-base-dir", "/run/vc",
			       "--daemonize", "--netns", "/var/run/netns/cni-1", "--",
			       "--config-file", "/fcConfig.json"),
			 0);
	assert_string_equal(plan.id, "3a2c-ff");
	assert_string_equal(plan.exec_name, "firecracker");
	assert_int_equal(plan.uid, 0);
	assert_string_equal(plan.chroot_base, "/run/vc");
	assert_true(plan.daemonize);
	assert_false(plan.new_pid_ns);
	assert_string_equal(plan.netns, "/var/run/netns/cni-1");
	assert_int_equal(plan.vmm_argc, 2);
	assert_string_equal(plan.vmm_argv[0], "--config-file");
	assert_string_equal(plan.vmm_argv[1], "/fcConfig.json");
	/* Firecracker's defaults */
	assert_int_equal(plan.cgroup_version, 1);
	assert_string_equal(plan.parent_cgroup, "firecracker");
	assert_int_equal(plan.no_file, JAILER_NO_FILE);
	assert_false(plan.fsize_set);
	assert_int_equal(plan.n_cgroups, 0);
}

/* firecracker-go-sdk's JailerCommandBuilder.Args order */
static void test_go_sdk(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--id", "b7d4b6d2-3a5e-4a8c-9a43-2a3c56f5e0a1", "--uid", "123",
			       "--gid", "100", "--exec-file", "/usr/bin/firecracker", "--cgroup",
			       "cpuset.mems=0", "--cgroup", "cpuset.cpus=0-1", "--cgroup",
			       "memory.max=268435456", "--cgroup-version", "2", "--parent-cgroup",
			       "vms/sdk", "--chroot-base-dir", "/srv/jailer", "--netns",
			       "/var/run/netns/t", "--", "--no-seccomp", "--api-sock",
			       "/run/firecracker.socket"),
			 0);
	assert_int_equal(plan.uid, 123);
	assert_int_equal(plan.gid, 100);
	assert_int_equal(plan.n_cgroups, 3);
	assert_string_equal(plan.cgroups[0].file, "cpuset.mems");
	assert_int_equal(plan.cgroups[0].controller_len, 6);
	assert_string_equal(plan.cgroups[0].value, "0");
	assert_string_equal(plan.cgroups[2].file, "memory.max");
	assert_int_equal(plan.cgroups[2].controller_len, 6);
	assert_int_equal(plan.cgroup_version, 2);
	assert_string_equal(plan.parent_cgroup, "vms/sdk");
	assert_int_equal(plan.vmm_argc, 3);
	assert_string_equal(plan.vmm_argv[2], "/run/firecracker.socket");
}

static void test_options(void **state)
{
	(void)state;
	assert_int_equal(PARSE(REQ, "--new-pid-ns", "--resource-limit", "fsize=1000",
			       "--resource-limit", "no-file=64"),
			 0);
	assert_true(plan.new_pid_ns);
	assert_true(plan.fsize_set);
	assert_int_equal(plan.fsize, 1000);
	assert_int_equal(plan.no_file, 64);
	assert_int_equal(plan.vmm_argc, 0);
	assert_string_equal(plan.chroot_base, JAILER_BASE);
	assert_null(plan.netns);
	/* "--" with nothing after it */
	assert_int_equal(PARSE(REQ, "--"), 0);
	assert_int_equal(plan.vmm_argc, 0);
	/* a relative exec file names its jail by its last component */
	assert_int_equal(
		PARSE("--id", "a", "--exec-file", "cvmm-static", "--uid", "1", "--gid", "2"), 0);
	assert_string_equal(plan.exec_name, "cvmm-static");
	assert_int_equal(PARSE("--help"), 0);
	assert_true(plan.help);
	assert_int_equal(PARSE("--version"), 0);
	assert_true(plan.version);
	/* 64 characters is the longest id */
	assert_int_equal(PARSE("--id",
			       "0123456789012345678901234567890123456789012345678901234567890123",
			       "--exec-file", "f", "--uid", "1", "--gid", "1"),
			 0);
}

static void test_refused(void **state)
{
	(void)state;
	REFUSED("--id is required", "--exec-file", "/f", "--uid", "1", "--gid", "1");
	REFUSED("--exec-file is required", "--id", "a", "--uid", "1", "--gid", "1");
	REFUSED("--uid is required", "--id", "a", "--exec-file", "/f", "--gid", "1");
	REFUSED("--gid is required", "--id", "a", "--exec-file", "/f", "--uid", "1");
	REFUSED("--id a_b", "--id", "a_b", "--exec-file", "/f", "--uid", "1", "--gid", "1");
	REFUSED("--id", "--id", "", "--exec-file", "/f", "--uid", "1", "--gid", "1");
	REFUSED("1 to 64", "--id",
		"01234567890123456789012345678901234567890123456789012345678901234", "--exec-file",
		"/f", "--uid", "1", "--gid", "1");
	REFUSED("--uid -1", "--id", "a", "--exec-file", "/f", "--uid", "-1", "--gid", "1");
	REFUSED("--uid 4294967295", "--id", "a", "--exec-file", "/f", "--uid", "4294967295",
		"--gid", "1");
	REFUSED("--gid 1x", "--id", "a", "--exec-file", "/f", "--uid", "1", "--gid", "1x");
	REFUSED("must name a file", "--id", "a", "--exec-file", "/usr/bin/", "--uid", "1", "--gid",
		"1");
	REFUSED("unknown flag --seccomp-level", REQ, "--seccomp-level", "0");
	REFUSED("unexpected argument 'stray'", REQ, "stray");
	REFUSED("separate argument", REQ, "--netns=/x");
	REFUSED("--netns needs a value", REQ, "--netns");
	REFUSED("--id given more than once", REQ, "--id", "b");
	REFUSED("--daemonize given more than once", REQ, "--daemonize", "--daemonize");
	REFUSED("--cgroup-version 3: 1 or 2", REQ, "--cgroup-version", "3");
	REFUSED("expected FILE=VALUE", REQ, "--cgroup", "memory.max");
	REFUSED("one '='", REQ, "--cgroup", "memory.max=1=2");
	REFUSED("CONTROLLER.SETTING", REQ, "--cgroup", "memory=1");
	REFUSED("CONTROLLER.SETTING", REQ, "--cgroup", ".max=1");
	REFUSED("letters, digits", REQ, "--cgroup", "a/memory.max=1");
	REFUSED("non-empty line", REQ, "--cgroup", "memory.max=");
	REFUSED("non-empty line", REQ, "--cgroup", "memory.max=1\n2");
	REFUSED("--cgroup pids.max given more than once", REQ, "--cgroup", "pids.max=1", "--cgroup",
		"pids.max=2");
	REFUSED("relative path", REQ, "--parent-cgroup", "/abs");
	REFUSED("relative path", REQ, "--parent-cgroup", "a/../b");
	REFUSED("relative path", REQ, "--parent-cgroup", "a//b");
	REFUSED("relative path", REQ, "--parent-cgroup", "a/");
	REFUSED("relative path", REQ, "--parent-cgroup", ".");
	REFUSED("unknown resource", REQ, "--resource-limit", "cpu=1");
	REFUSED("decimal number", REQ, "--resource-limit", "fsize=1k");
	REFUSED("decimal number", REQ, "--resource-limit", "fsize=18446744073709551616");
	REFUSED("RESOURCE=VALUE", REQ, "--resource-limit", "fsize");
	REFUSED("no-file=0", REQ, "--resource-limit", "no-file=0");
	REFUSED("--chroot-base-dir: empty", REQ, "--chroot-base-dir", "");
	/* every refusal has a message */
	assert_true(strlen(err) > 0);
}

static void test_id_valid(void **state)
{
	(void)state;
	assert_true(jailer_id_valid("551e7604-e35c-42b3-b825-416853441234"));
	assert_false(jailer_id_valid(""));
	assert_false(jailer_id_valid("a.b"));
	assert_false(jailer_id_valid("a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kata_go),	 cmocka_unit_test(test_go_sdk),
		cmocka_unit_test(test_options),	 cmocka_unit_test(test_refused),
		cmocka_unit_test(test_id_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
