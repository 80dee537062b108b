/* SPDX-License-Identifier: MIT */
/* Unit tests of the core pieces that need a second thread: a VM's shared
 * error under a concurrent reader, the vCPU kick, and the log under
 * concurrent writers. Apart from unit-core
 * because qemu-user (the cross build's runner) hangs in pthread_create with
 * the dynamic cross glibc here (it spins in the thread-stack cache walk);
 * these skip there and run for real natively and in the aarch64 test host
 * (arm64-unit-core_threads). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "core/err.h"
#include "core/log.h"
#include "vmm/vm.h"

#define ERR_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ERR_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
struct err_race {
	struct err_shared s;
	atomic_bool done;
	atomic_bool stop; /* the reader's time is up */
};

static void *err_writer(void *arg)
{
	struct err_race *r = arg;
	for (unsigned i = 0; i < 200000 && !atomic_load(&r->stop); i++) {
		err_shared_begin(&r->s);
		err_shared_set(&r->s, EIO, "%s", i % 2 ? ERR_A : ERR_B);
	}
	atomic_store(&r->done, true);
	return NULL;
}

/* A reader while another thread writes: every copy is one whole message
 * (or none), never a mix of two. Bounded by time as well as by count: under
 * qemu-user on a loaded 2-core CI machine the reader's tight lock loop starved
 * the writer past meson's 120 s timeout. */
static void test_err_shared_readers(void **state)
{
	(void)state;
	struct err_race r = {0};
	err_shared_init(&r.s);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, err_writer, &r), 0);
	unsigned seen = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned n = 0; !atomic_load(&r.done); n++) {
		if (n % 256 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= 3)
				atomic_store(&r.stop, true);
			sched_yield();
		}
		struct err e;
		err_shared_get(&r.s, &e);
		if (strcmp(e.msg, "") && strcmp(e.msg, ERR_A) && strcmp(e.msg, ERR_B))
			fail_msg("torn message '%s'", e.msg);
		seen += e.msg[0] != 0;
	}
	pthread_join(t, NULL);
	err_shared_destroy(&r.s);
	(void)seen;
}

struct kick_rig {
	struct vm vm;
	struct vcpu v;
	struct kvm_run run;
	atomic_bool ready;
	int got;      /* the signal sigwait returned */
	uint8_t seen; /* immediate_exit when it did */
};

static void *kicked_thread(void *arg)
{
	struct kick_rig *k = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, k->vm.kick_signal);
	/* a kick of its own thread sets the flag and signals nothing */
	vcpu_kick(&k->v);
	sigset_t pend;
	sigpending(&pend);
	assert_false(sigismember(&pend, k->vm.kick_signal));
	__atomic_store_n(&k->run.immediate_exit, 0, __ATOMIC_RELAXED);
	atomic_store(&k->ready, true);
	sigwait(&set, &k->got);
	k->seen = __atomic_load_n(&k->run.immediate_exit, __ATOMIC_ACQUIRE);
	return NULL;
}

/* vcpu_kick from another thread: immediate_exit set before the signal
 * arrives. */
static void test_vcpu_kick(void **state)
{
	(void)state;
	static struct kick_rig k;
	memset(&k, 0, sizeof(k));
	k.vm.kick_signal = SIGRTMIN + 2;
	k.v.vm = &k.vm;
	k.v.run = &k.run;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread inherits it, as a vCPU's does */
	assert_int_equal(pthread_create(&k.v.thread, NULL, kicked_thread, &k), 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	k.v.thread_started = true;
	while (!atomic_load(&k.ready))
		sched_yield();
	/* not yet in sigwait perhaps: the signal stays pending until it is */
	vcpu_kick(&k.v);
	pthread_join(k.v.thread, NULL);
	assert_int_equal(k.got, SIGRTMIN + 2);
	assert_int_equal(k.seen, 1);
}

#define LOG_WRITERS 4
#define LOG_LINES   2000

struct log_race {
	unsigned id;
	char *lines; /* the callback sink's buffer: no lock of its own */
	size_t used, cap;
};

static void *log_writer(void *arg)
{
	struct log_race *r = arg;
	for (unsigned i = 0; i < LOG_LINES; i++)
		log_warn("writer %u line %u %s", r->id, i, "some words to make the line longer");
	return NULL;
}

/* LOG_WRITERS threads logging at once. */
static void run_writers(struct log_race *r)
{
	pthread_t t[LOG_WRITERS];
	for (unsigned i = 0; i < LOG_WRITERS; i++) {
		r[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, log_writer, &r[i]), 0);
	}
	for (unsigned i = 0; i < LOG_WRITERS; i++)
		pthread_join(t[i], NULL);
}

/* Every line arrived whole, each writer's in its order. */
static void check_lines(const char *text, size_t len)
{
	unsigned next[LOG_WRITERS] = {0};
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		unsigned id, n;
		char want[128];
		if (sscanf(p, "cvmm: writer %u line %u ", &id, &n) != 2 || id >= LOG_WRITERS ||
		    n != next[id] ||
		    (size_t)snprintf(want, sizeof(want), "cvmm: writer %u line %u %s", id, n,
				     "some words to make the line longer") != (size_t)(nl - p) ||
		    memcmp(p, want, (size_t)(nl - p)))
			fail_msg("torn or out-of-order line: '%.*s'", (int)(nl - p), p);
		next[id]++;
		p = nl + 1;
	}
	for (unsigned i = 0; i < LOG_WRITERS; i++)
		assert_int_equal(next[i], LOG_LINES);
}

static void append_sink(void *opaque, int level, const char *line, size_t len)
{
	(void)level;
	struct log_race *r = opaque;
	if (r->used + len + 1 > r->cap)
		return;
	memcpy(r->lines + r->used, line, len);
	r->lines[r->used + len] = '\n';
	r->used += len + 1;
}

static void test_log_writers(void **state)
{
	(void)state;
	struct log_race r[LOG_WRITERS];
	memset(r, 0, sizeof(r));
	/* the fd sink: one file, lines written by all four */
	int fd = memfd_create("log", MFD_CLOEXEC);
	assert_true(fd >= 0);
	log_set_fd(fd);
	run_writers(r);
	off_t len = lseek(fd, 0, SEEK_END);
	char *text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	check_lines(text, (size_t)len);
	free(text);
	close(fd);
	/* a callback sink with no lock of its own: the log's serialises it */
	struct log_race sink = {0};
	sink.cap = (size_t)LOG_WRITERS * LOG_LINES * 80;
	sink.lines = malloc(sink.cap);
	assert_non_null(sink.lines);
	log_set_sink(append_sink, &sink);
	run_writers(r);
	log_set_sink(NULL, NULL);
	log_set_fd(STDERR_FILENO);
	check_lines(sink.lines, sink.used);
	free(sink.lines);
}

int main(void)
{
	skip_without_threads();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_shared_readers),
		cmocka_unit_test(test_vcpu_kick),
		cmocka_unit_test(test_log_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
