/* SPDX-License-Identifier: MIT */
/* The log (core/log.c) and its public face (cvmm_log_*): levels filter,
 * the sink gets the formatted line, show_level and show_origin, the fd
 * sink writes whole lines and never blocks on a full pipe. Concurrent
 * writers: tests/unit/test_core_threads.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "cvmm/cvmm.h"

struct capture {
	unsigned calls;
	int level;
	char line[2 * LOG_LINE_MAX];
	size_t len;
};

static void capture_sink(void *opaque, int level, const char *line, size_t len)
{
	struct capture *c = opaque;
	c->calls++;
	c->level = level;
	c->len = len;
	snprintf(c->line, sizeof(c->line), "%s", line);
}

/* Every test starts from the defaults. */
static int reset(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_INFO);
	log_set_options(0);
	log_set_fd(STDERR_FILENO);
	return 0;
}

static void test_default_level(void **state)
{
	(void)state;
	assert_int_equal(log_get_level(), LOG_LEVEL_INFO);
	struct capture c = {0};
	log_set_sink(capture_sink, &c);
	log_debug("not shown");
	assert_int_equal(c.calls, 0);
	log_info("shown");
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, LOG_LEVEL_INFO);
}

static void test_levels_filter(void **state)
{
	(void)state;
	struct capture c = {0};
	log_set_sink(capture_sink, &c);
	assert_int_equal(log_set_level(LOG_LEVEL_WARN), LOG_LEVEL_INFO);
	log_info("dropped");
	log_debug("dropped");
	log_trace("dropped");
	assert_int_equal(c.calls, 0);
	log_warn("w");
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, LOG_LEVEL_WARN);
	log_error("e");
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.level, LOG_LEVEL_ERROR);
	log_set_level(LOG_LEVEL_OFF);
	log_error("dropped");
	assert_int_equal(c.calls, 2);
	log_set_level(LOG_LEVEL_TRACE);
	log_trace("t");
	assert_int_equal(c.calls, 3);
	assert_int_equal(c.level, LOG_LEVEL_TRACE);
	/* out of range: clamped */
	log_set_level((enum log_level)99);
	assert_int_equal(log_get_level(), LOG_LEVEL_TRACE);
	log_set_level((enum log_level) - 3);
	assert_int_equal(log_get_level(), LOG_LEVEL_OFF);
}

static void test_format(void **state)
{
	(void)state;
	struct capture c = {0};
	log_set_sink(capture_sink, &c);
	log_warn("net%u: waiting for a peer on %s", 0u, "/tmp/s");
	assert_string_equal(c.line, "cvmm: net0: waiting for a peer on /tmp/s");
	assert_int_equal(c.len, strlen(c.line));
	log_warn("ends in a newline\n");
	assert_string_equal(c.line, "cvmm: ends in a newline");

	log_set_options(LOG_SHOW_LEVEL);
	log_warn("x");
	assert_string_equal(c.line, "cvmm: WARN: x");
	log_error("x");
	assert_string_equal(c.line, "cvmm: ERROR: x");

	char want[128];
	log_set_options(LOG_SHOW_ORIGIN);
	int line = __LINE__ + 1;
	log_info("y");
	snprintf(want, sizeof(want), "cvmm: tests/unit/test_log.c:%d: y", line);
	assert_string_equal(c.line, want);

	log_set_options(LOG_SHOW_LEVEL | LOG_SHOW_ORIGIN);
	line = __LINE__ + 1;
	log_info("z");
	snprintf(want, sizeof(want), "cvmm: INFO: tests/unit/test_log.c:%d: z", line);
	assert_string_equal(c.line, want);
	/* an instance name (Firecracker's --id), then none again */
	log_set_options(LOG_SHOW_LEVEL);
	cvmm_log_set_name("vm-7");
	log_warn("w");
	assert_string_equal(c.line, "cvmm[vm-7]: WARN: w");
	cvmm_log_set_name(NULL);
	log_warn("w");
	assert_string_equal(c.line, "cvmm: WARN: w");
	/* unknown option bits are ignored */
	log_set_options(~0u);
	log_info("z");
	assert_true(strncmp(c.line, "cvmm: INFO: tests/unit/test_log.c:", 34) == 0);
}

static void test_long_line(void **state)
{
	(void)state;
	static char big[3 * LOG_LINE_MAX];
	memset(big, 'a', sizeof(big) - 1);
	struct capture c = {0};
	log_set_sink(capture_sink, &c);
	log_info("%s", big);
	assert_int_equal(c.len, LOG_LINE_MAX - 2);
	assert_int_equal(strlen(c.line), LOG_LINE_MAX - 2);
	assert_memory_equal(c.line, "cvmm: aaa", 9);

	int p[2];
	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	log_info("%s", big);
	char got[2 * LOG_LINE_MAX];
	ssize_t n = read(p[0], got, sizeof(got));
	assert_int_equal(n, LOG_LINE_MAX - 1); /* the line and its newline */
	assert_int_equal(got[n - 1], '\n');
	assert_int_equal(got[n - 2], 'a');
	close(p[0]);
	close(p[1]);
}

static void test_fd_sink(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	log_set_fd(p[1]);
	log_warn("one %d", 1);
	log_error("two");
	char got[256] = {0};
	ssize_t n = read(p[0], got, sizeof(got) - 1);
	assert_true(n > 0);
	assert_string_equal(got, "cvmm: one 1\ncvmm: two\n");

	/* a sink set replaces the fd, and NULL brings the fd back */
	struct capture c = {0};
	log_set_sink(capture_sink, &c);
	log_info("to the sink");
	assert_int_equal(c.calls, 1);
	assert_int_equal(read(p[0], got, sizeof(got)), -1);
	assert_int_equal(errno, EAGAIN);
	log_set_sink(NULL, NULL);
	log_info("to the fd");
	assert_int_equal(c.calls, 1);
	memset(got, 0, sizeof(got));
	assert_true(read(p[0], got, sizeof(got) - 1) > 0);
	assert_string_equal(got, "cvmm: to the fd\n");

	/* -1: dropped */
	log_set_fd(-1);
	log_info("nowhere");
	assert_int_equal(read(p[0], got, sizeof(got)), -1);
	close(p[0]);
	close(p[1]);
}

/* A reader that fell behind: the line is dropped, the caller (a vCPU
 * thread in real life) does not block. */
static void test_full_pipe_drops(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	char fill[4096];
	memset(fill, 'x', sizeof(fill));
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	log_set_fd(p[1]);
	log_error("lost"); /* returns: the test would hang otherwise */
	char got[sizeof(fill)];
	size_t total = 0;
	ssize_t n;
	while ((n = read(p[0], got, sizeof(got))) > 0) {
		assert_null(memchr(got, '\n', (size_t)n));
		total += (size_t)n;
	}
	assert_true(total > 0);
	log_warn("room again");
	assert_true(read(p[0], got, sizeof(got)) > 0);
	close(p[0]);
	close(p[1]);
}

static void test_errno_kept(void **state)
{
	(void)state;
	log_set_fd(-1);
	errno = EAGAIN;
	log_error("a message");
	assert_int_equal(errno, EAGAIN);
}

struct two {
	struct capture a, b;
};

static void test_sink_replaced(void **state)
{
	(void)state;
	struct two t = {0};
	log_set_sink(capture_sink, &t.a);
	log_info("first");
	log_set_sink(capture_sink, &t.b);
	log_info("second");
	assert_int_equal(t.a.calls, 1);
	assert_int_equal(t.b.calls, 1);
	assert_string_equal(t.a.line, "cvmm: first");
	assert_string_equal(t.b.line, "cvmm: second");
}

static void public_sink(void *opaque, int level, const char *line, unsigned long len)
{
	capture_sink(opaque, level, line, len);
}

/* The embedder's calls: the same log, checked arguments. */
static void test_public_api(void **state)
{
	(void)state;
	struct capture c = {0};
	cvmm_log_set_sink(public_sink, &c);
	assert_int_equal(cvmm_log_set_level(CVMM_LOG_WARN), CVMM_LOG_INFO);
	assert_int_equal(cvmm_log_set_level(CVMM_LOG_TRACE + 1), -EINVAL);
	assert_int_equal(cvmm_log_set_level(-1), -EINVAL);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
	log_info("dropped");
	log_warn("kept");
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, CVMM_LOG_WARN);
	assert_int_equal(cvmm_log_set_options(4), -EINVAL);
	assert_int_equal(cvmm_log_set_options(CVMM_LOG_SHOW_LEVEL), 0);
	log_warn("kept");
	assert_string_equal(c.line, "cvmm: WARN: kept");
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	cvmm_log_set_fd(p[1]);
	log_error("e");
	char got[64] = {0};
	assert_true(read(p[0], got, sizeof(got) - 1) > 0);
	assert_string_equal(got, "cvmm: ERROR: e\n");
	assert_int_equal(c.calls, 2);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_default_level, reset),
		cmocka_unit_test_setup(test_levels_filter, reset),
		cmocka_unit_test_setup(test_format, reset),
		cmocka_unit_test_setup(test_long_line, reset),
		cmocka_unit_test_setup(test_fd_sink, reset),
		cmocka_unit_test_setup(test_full_pipe_drops, reset),
		cmocka_unit_test_setup(test_errno_kept, reset),
		cmocka_unit_test_setup(test_sink_replaced, reset),
		cmocka_unit_test_setup(test_public_api, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
