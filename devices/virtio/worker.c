/* SPDX-License-Identifier: MIT */
#include "devices/virtio/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/jail.h"
#include "core/thread.h"
#include "core/log.h"
#include "devices/virtio/device.h"

enum { CMD_NONE, CMD_ACTIVATE, CMD_RESET, CMD_EXIT, CMD_PAUSE, CMD_RESUME };

/* ---- transport side (vCPU or main thread) ------------------------------- */

static void worker_post(struct vq_worker *w, int cmd)
{
	pthread_mutex_lock(&w->lock);
	w->cmd = cmd;
	w->cmd_done = false;
	pthread_mutex_unlock(&w->lock);
	uint64_t one = 1;
	ssize_t n = write(w->ctl_fd, &one, sizeof(one));
	(void)n;
}

/* Whether the last command was handled (or the thread ended), waiting for
 * it until `until` (CLOCK_MONOTONIC, the condition's clock), not at all if
 * NULL, or for good if `forever`. */
static bool inline_wait(struct vq_worker *w, const struct timespec *until, bool forever);

static bool worker_wait(struct vq_worker *w, const struct timespec *until, bool forever)
{
	if (w->inline_run)
		return inline_wait(w, until, forever);
	pthread_mutex_lock(&w->lock);
	while (!w->cmd_done && !w->dead && (forever || until)) {
		if (forever)
			pthread_cond_wait(&w->cond, &w->lock);
		else if (pthread_cond_timedwait(&w->cond, &w->lock, until) == ETIMEDOUT)
			break;
	}
	bool done = w->cmd_done || w->dead;
	pthread_mutex_unlock(&w->lock);
	return done;
}

static void worker_command(struct vq_worker *w, int cmd)
{
	worker_post(w, cmd);
	worker_wait(w, NULL, true);
}

void vq_worker_activate(struct vq_worker *w)
{
	worker_command(w, CMD_ACTIVATE);
}

void vq_worker_reset(struct vq_worker *w)
{
	worker_command(w, CMD_RESET);
}

void vq_worker_reset_start(struct vq_worker *w)
{
	worker_post(w, CMD_RESET);
}

bool vq_worker_reset_wait(struct vq_worker *w, const struct timespec *until)
{
	return worker_wait(w, until, false);
}

void vq_worker_pause_start(struct vq_worker *w)
{
	worker_post(w, CMD_PAUSE);
}

bool vq_worker_pause_wait(struct vq_worker *w, const struct timespec *until)
{
	return worker_wait(w, until, false);
}

void vq_worker_resume(struct vq_worker *w)
{
	worker_command(w, CMD_RESUME);
}

/* ---- worker thread ------------------------------------------------------- */

struct io_uring_sqe *vq_worker_sqe(struct vq_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

int vq_worker_pop(struct vq_worker *w, struct vq_chain *c)
{
	int r = virtio_pop(w->dev, &w->q, c);
	if (r < 0)
		w->active = false; /* nothing more from a broken queue */
	return r;
}

void vq_worker_cancel(struct vq_worker *w, const void *io)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_cancel(sqe, (void *)io, 0);
	/* The ring's restrictions require the flag on every SQE, cancels
	 * included (without it the kernel refuses the cancel with -EACCES and
	 * the read it was for may never end). */
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, WORKER_TAG_IGNORE);
	io_uring_submit(&w->ring);
}

void vq_worker_timer(struct vq_worker *w, uint64_t ns)
{
	uint64_t due = clock_mono_ns() + ns;
	if ((w->timers && due >= w->timer_due) || w->timers >= WORKER_MAX_TIMERS)
		return;
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	struct __kernel_timespec *ts = &w->timer_ts[w->timer_seq++ % WORKER_MAX_TIMERS];
	ts->tv_sec = (long long)(ns / 1000000000ULL);
	ts->tv_nsec = (long long)(ns % 1000000000ULL);
	io_uring_prep_timeout(sqe, ts, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE; /* the ring's restrictions want it on every SQE */
	io_uring_sqe_set_data64(sqe, WORKER_TAG_TIMER);
	w->timers++;
	w->timer_due = due;
}

void vq_worker_wake(struct vq_worker *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->kick_fd, &one, sizeof(one));
	(void)n;
}

static void arm_read(struct vq_worker *w, int file, uint64_t *buf, uint64_t tag)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, file, buf, sizeof(*buf), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, tag);
}

static void command_done(struct vq_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->cmd = CMD_NONE;
	w->cmd_done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void worker_activate(struct vq_worker *w)
{
	const struct virtio_queue_cfg *c = &w->dev->qcfg[w->qidx];
	bool event_idx = w->dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (vq_init(&w->q, w->dev->mem, c->num, c->desc, c->avail, c->used, event_idx) < 0) {
		virtio_fail(w->dev, "bad queue configuration");
		return;
	}
	virtio_vq_place(w->dev, w->qidx, &w->q); /* a restore's positions */
	w->paused = w->pausing = false;
	w->active = true;
}

/* Whether a pause in progress can complete: nothing in flight, or nothing
 * in flight that can reach guest memory (the device's pause hook). Then
 * the queue's positions are recorded and the command completes. */
static void pause_check(struct vq_worker *w)
{
	if (!w->pausing)
		return;
	bool quiet = w->inflight == 0;
	if (w->ops->pause && w->ops->pause(w))
		quiet = true;
	if (!quiet)
		return;
	w->pausing = false;
	if (w->active)
		virtio_vq_record(w->dev, w->qidx, &w->q);
	command_done(w); /* its lock orders the record before the waiter's read */
}

/* Handles the pending command; returns false when the thread must exit. */
static bool worker_handle_command(struct vq_worker *w)
{
	pthread_mutex_lock(&w->lock);
	int cmd = w->cmd;
	pthread_mutex_unlock(&w->lock);
	switch (cmd) {
	case CMD_ACTIVATE:
		worker_activate(w);
		command_done(w);
		if (w->active)
			w->ops->kick(w); /* the driver may have queued before DRIVER_OK */
		break;
	case CMD_PAUSE:
		/* No more chains; what is in flight ends as usual (a
		 * completion is pushed), pause_check says when. */
		w->paused = w->q.paused = true;
		w->pausing = true;
		pause_check(w);
		break;
	case CMD_RESUME:
		w->paused = w->q.paused = false;
		w->pausing = false;
		command_done(w);
		if (w->active)
			w->ops->kick(w); /* what came meanwhile; re-arms reads */
		break;
	case CMD_RESET:
	case CMD_EXIT:
		w->active = false;
		w->paused = w->q.paused = w->pausing = false;
		w->draining = true;
		if (cmd == CMD_EXIT)
			w->exiting = true;
		if (w->inflight && w->ops->quiesce)
			w->ops->quiesce(w);
		break;
	default:
		break;
	}
	return true;
}

#ifdef CVMM_TEST_HOOKS
/* Test builds only (CVMM_TEST_IOURING_PROBE): right after its filter, the
 * worker submits on its own ring an opcode no worker ring allows (OPENAT,
 * with IOSQE_FIXED_FILE) and an allowed one without the IOSQE_FIXED_FILE
 * every SQE must carry (READ of fd -1), and logs each completion's result. The ring's restrictions
 * refuse both with -EACCES; without them both would end in -EBADF. */
static void worker_test_uring_probe(struct vq_worker *w)
{
	for (int i = 0; i < 2; i++) {
		const char *what = i == 0 ? "OPENAT" : "READ without IOSQE_FIXED_FILE";
		struct io_uring_sqe *sqe = vq_worker_sqe(w);
		if (!sqe)
			return;
		if (i == 0) {
			io_uring_prep_openat(sqe, 0, "/", O_RDONLY, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
		} else {
			io_uring_prep_read(sqe, -1, &w->kick_buf, sizeof(w->kick_buf), 0);
		}
		io_uring_sqe_set_data64(sqe, WORKER_TAG_IGNORE);
		int res = io_uring_submit_and_wait(&w->ring, 1);
		struct io_uring_cqe *cqe = NULL;
		if (res >= 0 && (res = io_uring_peek_cqe(&w->ring, &cqe)) == 0) {
			res = cqe->res;
			io_uring_cqe_seen(&w->ring, cqe);
		}
		/* the log's default sink, fd 2: the one descriptor a worker's
		 * filter lets it write besides its eventfds */
		log_info("test: %s: io_uring %s: %d", w->name, what, res);
	}
}
#endif

static void worker_poll_stop(struct vq_worker *w);

/* One round of the worker's loop: submits what the last round queued,
 * waits for a completion (for good if `ts` is NULL, at most *ts otherwise;
 * not at all if !wait), then handles every completion the ring has.
 * Returns how many, or -1 when the ring failed. `peek` (with !wait): no
 * system call unless there is something to submit (the poller's round:
 * what it saw in the completion ring is there already). */
static int worker_round_peek(struct vq_worker *w, bool wait, struct __kernel_timespec *ts,
			     bool peek)
{
	int r = 0;
	if (peek) {
		if (io_uring_sq_ready(&w->ring))
			r = io_uring_submit(&w->ring);
	} else if (!wait) {
		/* enters the kernel even with nothing to submit: completions
		 * queued as task work for this thread get posted */
		r = io_uring_submit(&w->ring);
		if (r >= 0)
			r = io_uring_get_events(&w->ring);
	} else if (ts) {
		struct io_uring_cqe *c;
		r = io_uring_submit_and_wait_timeout(&w->ring, &c, 1, ts, NULL);
		if (r == -ETIME)
			r = 0;
	} else {
		/* One system call submits what the last round queued and waits. */
		r = io_uring_submit_and_wait(&w->ring, 1);
	}
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
		virtio_fail(w->dev, "io_uring failed");
		return -1;
	}
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	bool completed = false;
	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		seen++;
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		if (tag == WORKER_TAG_CTL) {
			arm_read(w, WORKER_FILE_CTL, &w->ctl_buf, WORKER_TAG_CTL);
			worker_poll_stop(w); /* kicks on again before any command */
			worker_handle_command(w);
		} else if (tag == WORKER_TAG_IGNORE) {
			/* a cancel's own completion */
		} else if (tag == WORKER_TAG_TIMER) {
			/* a wait ended (vq_worker_timer): serve the queue again;
			 * the due time of those still pending is not known */
			w->timers -= w->timers > 0;
			w->timer_due = w->timers ? UINT64_MAX : 0;
			log_trace("%s: timer: %d (%u pending)", w->name, cqe->res, w->timers);
			if (w->active && !w->paused)
				w->ops->kick(w);
		} else if (tag == WORKER_TAG_KICK) {
			arm_read(w, WORKER_FILE_KICK, &w->kick_buf, WORKER_TAG_KICK);
			if (w->active && !w->paused) {
				vdev_count(&w->kicks, 1);
				w->ops->kick(w);
			}
		} else {
			w->inflight--;
			w->ops->complete(w, cqe, !w->active);
			completed = true;
		}
	}
	io_uring_cq_advance(&w->ring, seen);
	if (completed && w->active && w->ops->flush)
		w->ops->flush(w);
	if (w->draining && w->inflight == 0) {
		w->draining = false;
		command_done(w);
	}
	pause_check(w);
	return (int)seen;
}

static int worker_round(struct vq_worker *w, bool wait, struct __kernel_timespec *ts)
{
	return worker_round_peek(w, wait, ts, false);
}

/* ---- adaptive polling ----------------------------------------------------- */

void vq_poll_init(struct vq_poll *p, uint64_t max_ns)
{
	p->max_ns = max_ns < VQ_POLL_MAX_NS ? max_ns : VQ_POLL_MAX_NS;
	p->ns = 0;
}

void vq_poll_tune(struct vq_poll *p, uint64_t waited_ns)
{
	if (waited_ns <= p->ns) /* found while polling: the window fits */
		return;
	if (waited_ns > p->max_ns) {
		/* longer than we would ever poll: poll less */
		p->ns /= 2;
		if (p->ns < VQ_POLL_START_NS)
			p->ns = 0;
	} else if (p->ns < p->max_ns) {
		/* came soon after the window closed: a longer one would have
		 * caught it */
		p->ns = p->ns ? 2 * p->ns : VQ_POLL_START_NS;
		if (p->ns > p->max_ns)
			p->ns = p->max_ns;
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* Whether the worker may poll now: polling on, a threaded worker serving
 * its queue, no command in progress (a pause, a reset, the exit). */
static bool worker_polls(const struct vq_worker *w)
{
	return w->poll.max_ns && !w->inline_run && w->active && !w->paused && !w->pausing &&
	       !w->draining && !w->exiting && !w->q.broken;
}

/* Leaves polling: kicks on again, one more look (chains that came
 * meanwhile are served now: no kick will come for them). */
static void worker_poll_stop(struct vq_worker *w)
{
	if (!w->q.polling)
		return;
	if (vq_poll_end(&w->q) && w->active && !w->paused)
		w->ops->kick(w);
}

/* Serves the chains polling found. False when the device took none (its
 * request slots all in flight, or its rate limiter said wait): polling
 * then stops, kicks go on, and the device goes on by itself (a completion,
 * its timer), as it would without polling. */
static bool worker_poll_serve(struct vq_worker *w)
{
	uint16_t before = w->q.last_avail;
	w->ops->kick(w);
	return w->q.last_avail != before;
}

/* The poller, before the worker would wait: submits and handles what is
 * ready without waiting; else, with kicks held off, watches the available
 * ring and the completion ring for up to the window. Returns 1 when it did
 * something (the loop comes back here), 0 when the window passed with
 * nothing (kicks are on again: the loop waits, then tunes the window from
 * *t0, the window's start), -1 when the ring failed. */
static int worker_poll(struct vq_worker *w, uint64_t *t0)
{
	/* Kicks stay off while the worker is busy too (submitting, handling
	 * completions: each round's flush looks at the ring anyway), not only
	 * while it spins: a driver that keeps the queue full then needs none. */
	if (w->poll.ns)
		vq_poll_begin(&w->q);
	if (io_uring_sq_ready(&w->ring) || io_uring_cq_ready(&w->ring)) {
		int n = worker_round_peek(w, false, NULL, true);
		if (n != 0)
			return n < 0 ? -1 : 1;
		if (!worker_polls(w)) {
			worker_poll_stop(w);
			return 1;
		}
	}
	*t0 = clock_mono_ns();
	uint64_t window = w->poll.ns;
	bool stuck = false;
	if (window) {
		vq_poll_begin(&w->q);
		for (;;) {
			if (io_uring_cq_ready(&w->ring))
				return 1; /* a completion or a command: the next round's */
			if (vq_poll_pending(&w->q)) {
				if (worker_poll_serve(w))
					return 1;
				stuck = true;
				break;
			}
			if (clock_mono_ns() - *t0 >= window)
				break;
			cpu_relax();
		}
	}
	/* came as the window closed: served now (no kick will come) */
	if (w->q.polling && vq_poll_end(&w->q) && !stuck && worker_polls(w) && worker_poll_serve(w))
		return 1;
	return 0;
}

static void worker_ended(struct vq_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->dead = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void *worker_thread(void *arg)
{
	struct vq_worker *w = arg;
	/* First act: the filter. Everything the thread needs is open. */
	void *filter = w->filter;
	w->filter = NULL;
	/* and its capabilities: none, but those its device asked to keep (a
	 * privileged virtio-fs share's, jail.h) */
	uint64_t caps = w->keep_caps;
	jail_name_thread(w->name);
	/* before the filter, which has no sched_setscheduler; an unprivileged
	 * thread may always move from SCHED_OTHER to SCHED_BATCH, and where it
	 * could not (an embedder's own filter), the worker works as well,
	 * only with more wake-ups */
	if (w->batch_sched && sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){0}) < 0)
		log_debug("%s: SCHED_BATCH: %s", w->name, strerror(errno));
	int jr = jail_caps_limit(caps);
	if (jr < 0)
		jail_free(filter);
	else
		jr = jail_load(filter, w->name);
	if (jr < 0) {
		virtio_fail(w->dev, "cannot install the worker's seccomp filter");
		w->exiting = true;
	}
	if (w->test_violation)
		(void)getppid(); /* test builds only: must be killed by SIGSYS */
#ifdef CVMM_TEST_HOOKS
	if (w->test_uring_probe)
		worker_test_uring_probe(w);
#endif
	arm_read(w, WORKER_FILE_CTL, &w->ctl_buf, WORKER_TAG_CTL);
	arm_read(w, WORKER_FILE_KICK, &w->kick_buf, WORKER_TAG_KICK);
	while (!(w->exiting && w->inflight == 0)) {
		uint64_t t0 = 0;
		if (worker_polls(w)) {
			int p = worker_poll(w, &t0);
			if (p < 0)
				break;
			if (p > 0)
				continue;
		} else {
			worker_poll_stop(w); /* e.g. the queue broke while polling */
		}
		/* kicks are on (worker_poll ended its window) */
		if (worker_round(w, true, NULL) < 0)
			break;
		if (t0)
			vq_poll_tune(&w->poll, clock_mono_ns() - t0);
	}
	worker_ended(w);
	return NULL;
}

/* ---- inline workers (tests and fuzz targets) ------------------------------ */

/* Rounds on the caller's thread: every completion ready and what it makes
 * ready in turn, until `done` says so (if given); then, if `wait`, waits
 * for more (up to *ts each time, or for good) and goes on, until `done` or
 * a timed wait comes back empty. Returns the completions handled. */
static unsigned inline_run(struct vq_worker *w, bool wait, struct __kernel_timespec *ts,
			   bool (*done)(struct vq_worker *w))
{
	unsigned total = 0;
	while (!w->dead) {
		int n = worker_round(w, false, NULL);
		if (n == 0 && !(w->exiting && w->inflight == 0) && !(done && done(w)) && wait)
			n = worker_round(w, true, ts);
		if (n < 0 || (w->exiting && w->inflight == 0)) {
			worker_ended(w); /* where the thread would end */
			break;
		}
		total += (unsigned)n;
		if (n == 0 && (ts || !wait || (done && done(w))))
			break;
	}
	return total;
}

static bool cmd_handled(struct vq_worker *w)
{
	return w->cmd_done;
}

/* worker_wait for an inline worker: runs it until the command is handled,
 * for good if `forever`, else until `until` (not at all if NULL). */
static bool inline_wait(struct vq_worker *w, const struct timespec *until, bool forever)
{
	for (;;) {
		struct __kernel_timespec ts = {0}, *tp = NULL;
		if (!forever && until) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			int64_t ns = (int64_t)(until->tv_sec - now.tv_sec) * 1000000000 +
				     (until->tv_nsec - now.tv_nsec);
			if (ns < 0)
				ns = 0;
			ts.tv_sec = ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			tp = &ts;
		}
		unsigned n = inline_run(w, forever || until, tp, cmd_handled);
		if (w->cmd_done || w->dead || forever || n == 0)
			break;
	}
	return w->cmd_done || w->dead;
}

unsigned vq_worker_run(struct vq_worker *w, unsigned wait_ms)
{
	if (!w->inline_run)
		return 0;
	struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
				       .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
	return inline_run(w, wait_ms > 0, &ts, NULL);
}

static bool idle(struct vq_worker *w)
{
	return w->inflight == 0;
}

void vq_worker_settle(struct vq_worker *w)
{
	if (w->inline_run)
		inline_run(w, true, NULL, idle);
}

unsigned vq_workers_run(struct virtio_dev *d, unsigned wait_ms)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->nworkers; i++)
		n += vq_worker_run(d->workers[i], wait_ms);
	return n;
}

void vq_workers_settle(struct virtio_dev *d)
{
	for (unsigned i = 0; i < d->nworkers; i++)
		vq_worker_settle(d->workers[i]);
}

/* ---- creation ------------------------------------------------------------ */

int vq_worker_create(struct vq_worker *w, struct virtio_dev *dev, unsigned qidx,
		     const struct vq_worker_cfg *cfg, struct err *e)
{
	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->qidx = qidx;
	w->ops = cfg->ops;
	w->keep_caps = cfg->keep_caps;
	w->batch_sched = cfg->batch_sched;
	w->model = cfg->model;
	vq_poll_init(&w->poll, cfg->poll_max_ns);
	w->kick_fd = w->ctl_fd = -1;
	snprintf(w->name, sizeof(w->name), "%s", cfg->name);
	int r = -pthread_mutex_init(&w->lock, NULL);
	if (r)
		return err_set(e, -r, "mutex");
	/* Timed waits (vq_worker_reset_wait) count on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Every opcode the device asks for gets a restriction: a list that
	 * does not fit is the device's mistake, not something to cut short. */
	const struct vq_grant *g = cfg->grant;
	unsigned nops = 0;
	for (unsigned i = 0; i < g->nuring_ops; i++)
		nops += g->uring_ops[i] != IORING_OP_READ;
	if (nops > WORKER_MAX_OPS)
		return err_set(e, E2BIG, "%s: %u io_uring opcodes asked for, at most %u", w->name,
			       nops, WORKER_MAX_OPS);
	w->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->kick_fd < 0 || w->ctl_fd < 0)
		return err_set(e, errno, "eventfd: %s", strerror(errno));

	/* The ring: disabled, its files registered, restricted to fixed files
	 * and the opcodes the device needs, then enabled. */
	struct io_uring_params p = {.flags = IORING_SETUP_R_DISABLED};
	r = io_uring_queue_init_params(cfg->ring_entries, &w->ring, &p);
	if (r < 0)
		return err_set(e, -r, "%s: io_uring_setup: %s", w->name, strerror(-r));
	w->ring_ready = true;
	if (cfg->ndev_fds > WORKER_MAX_DEV_FILES || cfg->sparse_files > WORKER_MAX_SPARSE)
		return err_set(e, E2BIG, "%s: too many files", w->name);
	unsigned nfiles = 2 + cfg->ndev_fds + cfg->sparse_files;
	int *files = malloc(nfiles * sizeof(*files));
	if (!files)
		return err_set(e, ENOMEM, "out of memory");
	files[0] = w->kick_fd;
	files[1] = w->ctl_fd;
	for (unsigned i = 0; i < cfg->ndev_fds; i++)
		files[2 + i] = cfg->dev_fds[i];
	for (unsigned i = 2 + cfg->ndev_fds; i < nfiles; i++)
		files[i] = -1; /* empty: filled by the worker or by the ring itself */
	r = io_uring_register_files(&w->ring, files, nfiles);
	free(files);
	if (r < 0)
		return err_set(e, -r, "%s: registering files: %s", w->name, strerror(-r));
	/* READ, the device's opcodes, FILES_UPDATE, the required flag */
	struct io_uring_restriction res[1 + WORKER_MAX_OPS + 2];
	unsigned nres = 0;
	memset(res, 0, sizeof(res));
	res[nres].opcode = IORING_RESTRICTION_SQE_OP;
	res[nres++].sqe_op = IORING_OP_READ; /* the eventfds */
	for (unsigned i = 0; i < g->nuring_ops; i++) {
		if (g->uring_ops[i] == IORING_OP_READ)
			continue;
		res[nres].opcode = IORING_RESTRICTION_SQE_OP;
		res[nres++].sqe_op = g->uring_ops[i];
	}
	if (g->files_update) {
		res[nres].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[nres++].register_op = IORING_REGISTER_FILES_UPDATE;
	}
	res[nres].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[nres++].sqe_flags = IOSQE_FIXED_FILE;
	/* Debian's liburing 2.3 does not export io_uring_register_restrictions
	 * or io_uring_enable_rings: use the raw register call. */
	r = io_uring_register(w->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, nres);
	if (r < 0)
		return err_set(e, -r, "%s: io_uring restrictions: %s", w->name, strerror(-r));
	r = io_uring_register(w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (r < 0)
		return err_set(e, -r, "%s: enabling the ring: %s", w->name, strerror(-r));

	/* its filter's irqfds: its queue's, the configuration interrupt's (a
	 * broken queue), a second queue's (also_notify) */
	if (qidx >= VIRTIO_MAX_QUEUES ||
	    (cfg->also_notify && cfg->also_notify_q >= VIRTIO_MAX_QUEUES))
		return err_set(e, EINVAL, "%s: no such queue", w->name);
	if (dev->inline_workers) {
		/* No thread (tests and fuzz targets): the caller runs the
		 * loop (vq_worker_run); its own thread gets no filter. */
		w->inline_run = true;
		w->started = true;
		if (dev->nworkers < VIRTIO_MAX_QUEUES)
			dev->workers[dev->nworkers++] = w;
		if (dev->nall_workers < VIRTIO_MAX_QUEUES)
			dev->all_workers[dev->nall_workers++] = w;
		arm_read(w, WORKER_FILE_CTL, &w->ctl_buf, WORKER_TAG_CTL);
		arm_read(w, WORKER_FILE_KICK, &w->kick_buf, WORKER_TAG_KICK);
		return 0;
	}
	int qfd = dev->vq_irqfd[qidx];
	struct jail_fds fds = {
		.ring = w->ring.ring_fd,
		.irq = qfd,
		.config_irq = dev->irqfd,
		.notify_irq = cfg->also_notify ? dev->vq_irqfd[cfg->also_notify_q] : qfd,
	};
	const struct jail_table *jt = g->jail ? g->jail : &vq_jail_worker;
	r = jail_filter_build(&jt, 1, (enum jail_mode)dev->seccomp, &fds, &w->filter, e);
	if (r < 0)
		return r;
#ifdef CVMM_TEST_HOOKS
	/* "worker": every worker; "worker=NAME": that one only */
	const char *t = getenv("CVMM_TEST_SECCOMP_VIOLATION");
	w->test_violation = t && (!strcmp(t, "worker") ||
				  (!strncmp(t, "worker=", 7) && !strcmp(t + 7, w->name)));
	/* the same names: each such worker probes its ring's restrictions */
	const char *u = getenv("CVMM_TEST_IOURING_PROBE");
	w->test_uring_probe = u && (!strcmp(u, "worker") ||
				    (!strncmp(u, "worker=", 7) && !strcmp(u + 7, w->name)));
#endif
	r = core_thread_start(&w->thread, worker_thread, w);
	if (r)
		return err_set(e, r, "%s: cannot start the worker thread: %s", w->name,
			       strerror(r));
	w->started = true;
	if (dev->nall_workers < VIRTIO_MAX_QUEUES)
		dev->all_workers[dev->nall_workers++] = w;
	pthread_setname_np(w->thread, w->name);
	return 0;
}

void vq_worker_destroy(struct vq_worker *w)
{
	if (w->started) {
		worker_command(w, CMD_EXIT);
		if (!w->inline_run)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
	jail_free(w->filter);
	w->filter = NULL;
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	w->ring_ready = false;
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	w->kick_fd = w->ctl_fd = -1;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

int vq_worker_files_update(struct vq_worker *w, unsigned slot, int fd)
{
	if (!w->ring_ready)
		return -EINVAL;
	/* The ring's restrictions refuse this (EACCES) unless the grant has
	 * files_update. The kernel serialises it with the worker's own
	 * submissions (the ring's lock). */
	int r = io_uring_register_files_update(&w->ring, slot, &fd, 1);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

const char *vq_uring_op_name(unsigned op)
{
	static const char *const names[] = {
		[IORING_OP_NOP] = "NOP",
		[IORING_OP_READV] = "READV",
		[IORING_OP_WRITEV] = "WRITEV",
		[IORING_OP_FSYNC] = "FSYNC",
		[IORING_OP_READ_FIXED] = "READ_FIXED",
		[IORING_OP_WRITE_FIXED] = "WRITE_FIXED",
		[IORING_OP_POLL_ADD] = "POLL_ADD",
		[IORING_OP_POLL_REMOVE] = "POLL_REMOVE",
		[IORING_OP_SENDMSG] = "SENDMSG",
		[IORING_OP_RECVMSG] = "RECVMSG",
		[IORING_OP_TIMEOUT] = "TIMEOUT",
		[IORING_OP_ACCEPT] = "ACCEPT",
		[IORING_OP_ASYNC_CANCEL] = "ASYNC_CANCEL",
		[IORING_OP_CONNECT] = "CONNECT",
		[IORING_OP_FALLOCATE] = "FALLOCATE",
		[IORING_OP_CLOSE] = "CLOSE",
		[IORING_OP_READ] = "READ",
		[IORING_OP_WRITE] = "WRITE",
		[IORING_OP_SEND] = "SEND",
		[IORING_OP_RECV] = "RECV",
		[IORING_OP_SHUTDOWN] = "SHUTDOWN",
		[IORING_OP_SOCKET] = "SOCKET",
	};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : NULL;
}
