/* SPDX-License-Identifier: MIT */
/* The per-queue worker (devices/virtio/worker.c) on a real thread with a
 * real restricted io_uring and its real seccomp filter: a reset or an exit
 * must end even while a read that would never complete is in flight (a tap
 * queue nobody sends to), by cancelling it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/emu.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/worker.h"
#include "fake_mem.h"

struct model {
	char buf[16];
	bool reading;
	int res;
	bool drop;
	bool rearm; /* flush queues the next read (without submitting it) */
	bool stuck; /* quiesce does not cancel: the read ends when the pipe has data */
	atomic_int completions;
	atomic_int flushes, flushed_at; /* completions seen by the last flush */
	atomic_int kicks;
	bool own_buffer;  /* its pause hook: the read lands in buf only */
	bool paused_seen; /* a completion came while the worker was paused */
};

static void m_queue_read(struct vq_worker *w)
{
	struct model *m = w->model;
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, WORKER_FILE_DEV, m->buf, sizeof(m->buf), (uint64_t)-1);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, m);
	w->inflight++;
	m->reading = true;
}

static void m_read(struct vq_worker *w)
{
	struct model *m = w->model;
	atomic_fetch_add(&m->kicks, 1);
	if (m->reading)
		return;
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, WORKER_FILE_DEV, m->buf, sizeof(m->buf), (uint64_t)-1);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, m);
	w->inflight++;
	m->reading = true;
	io_uring_submit(&w->ring);
}

static void m_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct model *m = w->model;
	m->reading = false;
	m->res = cqe->res;
	m->drop = drop;
	m->paused_seen = w->paused;
	atomic_fetch_add(&m->completions, 1);
}

static void m_flush(struct vq_worker *w)
{
	struct model *m = w->model;
	atomic_fetch_add(&m->flushes, 1);
	atomic_store(&m->flushed_at, atomic_load(&m->completions));
	if (m->rearm && !m->reading)
		m_queue_read(w); /* no io_uring_submit: the worker's wait submits */
}

static void m_quiesce(struct vq_worker *w)
{
	struct model *m = w->model;
	if (m->reading && !m->stuck)
		vq_worker_cancel(w, m);
}

static bool m_pause(struct vq_worker *w)
{
	struct model *m = w->model;
	return m->own_buffer;
}

static const struct vq_worker_ops m_ops = {
	.kick = m_read,
	.complete = m_complete,
	.quiesce = m_quiesce,
	.flush = m_flush,
	.pause = m_pause,
};

struct rig {
	struct fake_mem fm;
	struct virtio_dev d;
	struct vq_worker w;
	struct model m;
	int pipe[2];
};

static void rig_up_inline(struct rig *r, bool inline_run)
{
	memset(r, 0, sizeof(*r));
	r->d.inline_workers = inline_run;
	assert_int_equal(fake_mem_init(&r->fm, 1 * MiB), 0);
	r->d.mem = &r->fm.m;
	r->d.irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->d.irqfd >= 0);
	r->d.vq_irqfd[0] = r->d.irqfd;
	r->d.nqueues = 1;
	r->d.driver_features = 1ULL << VIRTIO_F_VERSION_1;
	r->d.qcfg[0] = (struct virtio_queue_cfg){
		.num = 8, .ready = true, .desc = 0x1000, .avail = 0x2000, .used = 0x3000};
	assert_int_equal(pipe2(r->pipe, O_CLOEXEC), 0);
	static const uint8_t allowed[] = {IORING_OP_READ, IORING_OP_ASYNC_CANCEL};
	static const struct vq_grant grant = {
		.thread = "test-worker", .jail = &vq_jail_worker, VQ_GRANT_OPS(allowed)};
	struct vq_worker_cfg wc = {
		.ops = &m_ops,
		.model = &r->m,
		.grant = &grant,
		.dev_fds = &r->pipe[0],
		.ndev_fds = 1,
		.ring_entries = 8,
		.name = "test-worker",
	};
	struct err e = {0};
	assert_int_equal(vq_worker_create(&r->w, &r->d, 0, &wc, &e), 0);
}

/* An opcode list longer than the ring's restrictions can hold is refused,
 * by name, not cut short (the device would lose an opcode it needs). */
static void test_too_many_opcodes(void **state)
{
	(void)state;
	struct virtio_dev d;
	memset(&d, 0, sizeof(d));
	d.irqfd = -1;
	uint8_t many[WORKER_MAX_OPS + 2];
	for (unsigned i = 0; i < sizeof(many); i++)
		many[i] = (uint8_t)(IORING_OP_READV + i); /* not READ: each one counts */
	struct model m;
	memset(&m, 0, sizeof(m));
	struct vq_grant grant = {
		.thread = "too-many", .uring_ops = many, .nuring_ops = WORKER_MAX_OPS + 1};
	struct vq_worker_cfg wc = {
		.ops = &m_ops, .model = &m, .grant = &grant, .ring_entries = 8, .name = "too-many"};
	struct vq_worker w;
	struct err e = {0};
	assert_int_equal(vq_worker_create(&w, &d, 0, &wc, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "too-many: 14 io_uring opcodes asked for, at most 13"));
	vq_worker_destroy(&w);
	/* READ is the worker's own and does not count: 13 others and READ fit */
	many[0] = IORING_OP_READ;
	struct err e2 = {0};
	int r = vq_worker_create(&w, &d, 0, &wc, &e2);
	assert_true(r != -E2BIG);
	vq_worker_destroy(&w);
}

static void rig_up(struct rig *r)
{
	rig_up_inline(r, false);
}

static void rig_down(struct rig *r)
{
	vq_worker_destroy(&r->w);
	close(r->pipe[0]);
	close(r->pipe[1]);
	close(r->d.irqfd);
	fake_mem_free(&r->fm);
}

static void *do_reset(void *arg)
{
	vq_worker_reset(arg);
	return NULL;
}

static void *do_destroy(void *arg)
{
	vq_worker_destroy(arg);
	return NULL;
}

/* Runs fn(w) on a thread; true if it returned within 10 s. */
static bool returns(void *(*fn)(void *), struct vq_worker *w)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fn, w), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	if (pthread_timedjoin_np(t, NULL, &until) == 0)
		return true;
	pthread_detach(t);
	return false;
}

static void wait_completions(struct model *m, int n)
{
	for (int i = 0; i < 1000 && atomic_load(&m->completions) < n; i++)
		usleep(5000);
	assert_int_equal(atomic_load(&m->completions), n);
}

static void test_read_completes(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	vq_worker_activate(&r.w); /* activation kicks: the read goes out */
	assert_int_equal(write(r.pipe[1], "hello", 5), 5);
	wait_completions(&r.m, 1);
	assert_int_equal(r.m.res, 5);
	assert_false(r.m.drop);
	assert_memory_equal(r.m.buf, "hello", 5);
	rig_down(&r);
}

static void wait_flushed(struct model *m, int n)
{
	for (int i = 0; i < 1000 && atomic_load(&m->flushed_at) < n; i++)
		usleep(5000);
	assert_int_equal(atomic_load(&m->flushed_at), n);
}

/* Every batch of completions ends with one flush, which sees them all, and
 * what the flush queued goes out without an io_uring_submit of its own. */
static void test_flush_after_completions(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	r.m.rearm = true;
	vq_worker_activate(&r.w);
	assert_int_equal(atomic_load(&r.m.flushes), 0); /* a kick is no completion */
	assert_int_equal(write(r.pipe[1], "one", 3), 3);
	wait_completions(&r.m, 1);
	wait_flushed(&r.m, 1);
	assert_int_equal(write(r.pipe[1], "two", 3), 3);
	wait_completions(&r.m, 2);
	assert_memory_equal(r.m.buf, "two", 3);
	wait_flushed(&r.m, 2);
	assert_true(atomic_load(&r.m.flushes) <= 2);
	rig_down(&r);
}

static void test_reset_cancels_a_pending_read(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	vq_worker_activate(&r.w);
	usleep(20000); /* let the read reach the kernel */
	assert_true(returns(do_reset, &r.w));
	assert_int_equal(atomic_load(&r.m.completions), 1);
	assert_true(r.m.drop);
	assert_true(r.m.res == -ECANCELED || r.m.res == -EINTR);
	/* The worker serves again after a reset. */
	vq_worker_activate(&r.w);
	assert_int_equal(write(r.pipe[1], "again", 5), 5);
	wait_completions(&r.m, 2);
	assert_int_equal(r.m.res, 5);
	assert_false(r.m.drop);
	rig_down(&r);
}

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += ms * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	return t;
}

/* A reset in two steps with a read nobody cancels: starting it returns at
 * once, the worker is not done while the read is in flight (a bounded wait
 * times out), and is once the read ended (dropped); then it serves again. */
static void test_reset_start_does_not_wait(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	r.m.stuck = true;
	vq_worker_activate(&r.w);
	usleep(20000); /* let the read reach the kernel */
	vq_worker_reset_start(&r.w);
	assert_false(vq_worker_reset_wait(&r.w, NULL));
	struct timespec soon = in_ms(50);
	assert_false(vq_worker_reset_wait(&r.w, &soon));
	assert_int_equal(atomic_load(&r.m.completions), 0);
	assert_int_equal(write(r.pipe[1], "late", 4), 4);
	struct timespec later = in_ms(10000);
	assert_true(vq_worker_reset_wait(&r.w, &later));
	assert_int_equal(atomic_load(&r.m.completions), 1);
	assert_true(r.m.drop);
	assert_int_equal(r.m.res, 4);
	vq_worker_activate(&r.w);
	assert_int_equal(write(r.pipe[1], "again", 5), 5);
	wait_completions(&r.m, 2);
	assert_false(r.m.drop);
	assert_int_equal(r.m.res, 5);
	rig_down(&r);
}

/* An inline worker (no thread): nothing happens until the caller runs
 * it; commands run it until handled; a reset's timed wait runs it until
 * its time. */
static void test_inline_worker(void **state)
{
	(void)state;
	struct rig r;
	rig_up_inline(&r, true);
	assert_true(r.w.inline_run);
	assert_ptr_equal(r.d.workers[0], &r.w);
	r.m.stuck = true;
	vq_worker_activate(&r.w); /* its kick submits the read */
	assert_int_equal(write(r.pipe[1], "one", 3), 3);
	assert_int_equal(atomic_load(&r.m.completions), 0); /* nobody ran it */
	/* a completion may be posted a little later (io-wq, a slow host):
	 * the run waits up to a second for one */
	assert_true(vq_workers_run(&r.d, 1000) >= 1);
	assert_int_equal(atomic_load(&r.m.completions), 1);
	assert_int_equal(r.m.res, 3);
	uint64_t one = 1; /* a kick: the next read, in flight */
	assert_int_equal(write(r.w.kick_fd, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 10 && !r.m.reading; i++)
		vq_worker_run(&r.w, 100);
	assert_true(r.m.reading);
	vq_worker_reset_start(&r.w);
	assert_false(vq_worker_reset_wait(&r.w, NULL));
	struct timespec soon = in_ms(20);
	assert_false(vq_worker_reset_wait(&r.w, &soon));
	assert_int_equal(write(r.pipe[1], "two", 3), 3);
	struct timespec later = in_ms(5000); /* the read's completion may come late */
	assert_true(vq_worker_reset_wait(&r.w, &later));
	assert_true(r.m.drop);
	vq_worker_activate(&r.w);
	assert_int_equal(write(r.pipe[1], "three", 5), 5);
	vq_worker_settle(&r.w);
	assert_int_equal(atomic_load(&r.m.completions), 3);
	assert_false(r.m.drop);
	rig_down(&r);
}

static void test_exit_cancels_a_pending_read(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	vq_worker_activate(&r.w);
	usleep(20000);
	assert_true(returns(do_destroy, &r.w));
	assert_true(r.m.drop);
	close(r.pipe[0]);
	close(r.pipe[1]);
	close(r.d.irqfd);
	fake_mem_free(&r.fm);
}

/* A snapshot's pause waits for the read in flight (it may write guest
 * memory): not done while it is, done once it completed, handled as
 * always (not dropped); the queue's positions are recorded then. A kick
 * while paused is not served; the resume kicks once. */
static void test_pause_waits_for_io(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	r.m.stuck = true; /* a pause must not cancel it either */
	vq_worker_activate(&r.w);
	usleep(20000); /* let the read reach the kernel */
	int kicks = atomic_load(&r.m.kicks);
	vq_worker_pause_start(&r.w);
	assert_false(vq_worker_pause_wait(&r.w, NULL));
	struct timespec soon = in_ms(50);
	assert_false(vq_worker_pause_wait(&r.w, &soon));
	assert_int_equal(atomic_load(&r.m.completions), 0);
	assert_false(r.d.qpos[0].valid);
	assert_int_equal(write(r.pipe[1], "late", 4), 4);
	struct timespec later = in_ms(10000);
	assert_true(vq_worker_pause_wait(&r.w, &later));
	assert_int_equal(atomic_load(&r.m.completions), 1);
	assert_false(r.m.drop);
	assert_int_equal(r.m.res, 4);
	assert_true(r.d.qpos[0].valid);
	uint64_t one = 1;
	assert_int_equal(write(r.w.kick_fd, &one, 8), 8);
	usleep(50000);
	assert_int_equal(atomic_load(&r.m.kicks), kicks); /* paused: not served */
	vq_worker_resume(&r.w);
	for (int i = 0; i < 1000 && atomic_load(&r.m.kicks) == kicks; i++)
		usleep(5000);
	assert_true(atomic_load(&r.m.kicks) > kicks);
	assert_int_equal(write(r.pipe[1], "again", 5), 5); /* the resume's kick read again */
	wait_completions(&r.m, 2);
	assert_int_equal(r.m.res, 5);
	assert_false(r.m.paused_seen);
	rig_down(&r);
}

/* A device whose in-flight read lands in its own buffer only (its pause
 * hook says so) is paused at once; the read's completion comes while it
 * is paused, not dropped. */
static void test_pause_hook_need_not_wait(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	r.m.stuck = true;
	r.m.own_buffer = true;
	vq_worker_activate(&r.w);
	usleep(20000);
	vq_worker_pause_start(&r.w);
	struct timespec soon = in_ms(2000);
	assert_true(vq_worker_pause_wait(&r.w, &soon));
	assert_true(r.d.qpos[0].valid);
	assert_int_equal(write(r.pipe[1], "late", 4), 4);
	wait_completions(&r.m, 1);
	assert_true(r.m.paused_seen);
	assert_false(r.m.drop);
	vq_worker_resume(&r.w); /* its kick reads again */
	assert_int_equal(write(r.pipe[1], "again", 5), 5);
	wait_completions(&r.m, 2);
	assert_false(r.m.paused_seen);
	rig_down(&r);
}

/* The poll window's tuner (QEMU's rule): work within the window leaves
 * it; a wait between the window and the largest grows it (from none to
 * VQ_POLL_START_NS, then doubled, never past the largest); a wait longer
 * than the largest halves it (under VQ_POLL_START_NS: none). */
static void test_poll_tune(void **state)
{
	(void)state;
	struct vq_poll p;
	vq_poll_init(&p, 0); /* off: stays off whatever the waits */
	vq_poll_tune(&p, 1000);
	vq_poll_tune(&p, 1000000000);
	assert_int_equal(p.ns, 0);

	vq_poll_init(&p, 50000);
	assert_int_equal(p.max_ns, 50000);
	assert_int_equal(p.ns, 0); /* starts with none */
	vq_poll_tune(&p, 20000);   /* came soon after: grow */
	assert_int_equal(p.ns, VQ_POLL_START_NS);
	vq_poll_tune(&p, 3000); /* found within the window: as it is */
	assert_int_equal(p.ns, VQ_POLL_START_NS);
	vq_poll_tune(&p, 20000);
	assert_int_equal(p.ns, 2 * VQ_POLL_START_NS);
	for (int i = 0; i < 10; i++)
		vq_poll_tune(&p, 40000);
	assert_int_equal(p.ns, 50000); /* at most the largest */
	vq_poll_tune(&p, 50000);       /* within: stays */
	assert_int_equal(p.ns, 50000);
	vq_poll_tune(&p, 50001); /* longer than the largest: shrink */
	assert_int_equal(p.ns, 25000);
	vq_poll_tune(&p, 10000000);
	assert_int_equal(p.ns, 12500);
	vq_poll_tune(&p, 10000000);
	assert_int_equal(p.ns, 6250);
	vq_poll_tune(&p, 10000000); /* 3125 < VQ_POLL_START_NS: none */
	assert_int_equal(p.ns, 0);
	vq_poll_tune(&p, 10000000); /* and none it stays */
	assert_int_equal(p.ns, 0);

	/* the largest is bounded: a worker sees its commands between windows */
	vq_poll_init(&p, UINT64_MAX);
	assert_int_equal(p.max_ns, VQ_POLL_MAX_NS);
	for (int i = 0; i < 64; i++)
		vq_poll_tune(&p, VQ_POLL_MAX_NS - 1);
	assert_int_equal(p.ns, VQ_POLL_MAX_NS);
	/* a largest under VQ_POLL_START_NS: that one */
	vq_poll_init(&p, 1000);
	vq_poll_tune(&p, 500);
	assert_int_equal(p.ns, 1000);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_too_many_opcodes),
		cmocka_unit_test(test_read_completes),
		cmocka_unit_test(test_flush_after_completions),
		cmocka_unit_test(test_reset_cancels_a_pending_read),
		cmocka_unit_test(test_reset_start_does_not_wait),
		cmocka_unit_test(test_inline_worker),
		cmocka_unit_test(test_exit_cancels_a_pending_read),
		cmocka_unit_test(test_pause_waits_for_io),
		cmocka_unit_test(test_pause_hook_need_not_wait),
		cmocka_unit_test(test_poll_tune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
