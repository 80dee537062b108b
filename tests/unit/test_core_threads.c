/* SPDX-License-Identifier: MIT */
/* Unit tests of the core pieces that need a second thread: a VM's shared
 * error under a concurrent reader, and the vCPU kick. Apart from unit-core
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
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "core/err.h"
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
	int got;        /* the signal sigwait returned */
	uint8_t seen;   /* immediate_exit when it did */
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

int main(void)
{
	skip_without_threads();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_shared_readers),
		cmocka_unit_test(test_vcpu_kick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
