/* SPDX-License-Identifier: MIT */
/* virtio-balloon (virtio 1.2, section 5.5). Queues, in the driver's order
 * (a queue whose feature is not offered takes no number): inflate (0),
 * deflate (1), statistics (with VIRTIO_BALLOON_F_STATS_VQ), free page
 * reporting (with VIRTIO_BALLOON_F_REPORTING); one worker each.
 *
 * Releasing memory. The pages the guest gives (inflate: arrays of 32-bit
 * PFNs of 4 KiB pages; reporting: buffers that are free pages) are sorted,
 * folded into runs of contiguous pages, and each run goes through the
 * checked translation (gm_ptr): a run not wholly inside one region of guest
 * RAM (the MMIO hole, past the end, PFNs that wrap) is refused whole, and
 * of a run only the host pages wholly inside it are released, with
 * madvise(MADV_DONTNEED). Guest RAM is private memory (anonymous, or a
 * snapshot's file mapped MAP_PRIVATE), so DONTNEED drops the process's
 * copy: the next touch reads zeros (anonymous), the snapshot file's page
 * (a restored VM), or asks the userfaultfd handler again (LAZY, UFFD).
 * Memory stays mapped, never unmapped or made inaccessible: a device whose
 * I/O lands in a page the guest gave back writes to a page that is then
 * dropped or freshly faulted in, and the host never faults. Released
 * ranges are marked dirty for diff snapshots (KVM does not see them).
 *
 * Statistics: the driver posts one buffer; the device keeps it and, every
 * polling interval, returns it (used, length 0) to ask for fresh values,
 * which come back in the next buffer. The interval is a timer on the
 * statistics worker's own io_uring (IORING_OP_TIMEOUT), re-armed at each
 * expiry; a new interval cancels the armed timer (ASYNC_CANCEL), the
 * caller's kick waking the worker. No thread of its own, no polling.
 *
 * Every worker's seccomp table is the virtqueue worker's with madvise
 * allowed for MADV_DONTNEED only (and clock_gettime, the statistics'
 * time); only the statistics worker's ring takes opcodes (TIMEOUT,
 * ASYNC_CANCEL). */
#include "devices/balloon.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/le.h"
#include "core/snap.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/worker.h"

#define BALLOON_NQ 4 /* inflate, deflate, statistics, reporting */

enum balloon_role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORT };

struct balloon {
	struct virtio_dev vdev;
	struct vq_worker w[BALLOON_NQ];
	enum balloon_role role[BALLOON_NQ]; /* set at activation, from the accepted features */
	unsigned nq, nmade, index;
	bool started;
	bool deflate_on_oom, reporting, stats;
	size_t host_page;
	bool keep_pages; /* balloon_cfg's */
	_Atomic uint32_t target, actual;
	_Atomic unsigned interval_s;
	/* the statistics worker's own */
	struct __kernel_timespec ts;
	bool timer_armed, stats_due, held;
	unsigned armed_s;
	uint16_t held_head;
	int timer_tag; /* its address is the timer's user_data */
	pthread_mutex_t stats_lock;
	bool stats_lock_made;
	struct balloon_stats st; /* under stats_lock */
	uint64_t stats_updates, stats_ms;
	/* the inflate worker's scratch */
	uint32_t pfns[BALLOON_PFN_BATCH];
	struct balloon_run runs[BALLOON_PFN_BATCH];
	/* counters (any thread reads them) */
	_Atomic uint64_t inflate_count, deflate_count, pages_inflated, pages_deflated;
	_Atomic uint64_t pages_refused, release_fails;
	_Atomic uint64_t report_count, report_freed, report_fails;
	_Atomic uint64_t stats_count, stats_fails;
};

/* Releases the whole host pages of [gpa, gpa + len) if it is guest RAM:
 * the bytes released (0 or more), or -EFAULT (not RAM: nothing done) or
 * madvise's error. */
static int64_t balloon_release(struct balloon *g, uint64_t gpa, uint64_t len)
{
	uint8_t *host;
	uint64_t at, n;
	if (balloon_span(g->vdev.mem, gpa, len, g->host_page, &host, &at, &n) < 0)
		return -EFAULT;
	if (!n || g->keep_pages)
		return 0;
	if (madvise(host, (size_t)n, MADV_DONTNEED) < 0)
		return -errno;
	gm_mark_dirty(g->vdev.mem, at, n);
	return (int64_t)n;
}

/* Releases the pages of pfns[0..n) (sorted, folded into runs). */
static void balloon_release_pfns(struct balloon *g, size_t n)
{
	size_t k = balloon_runs(g->pfns, n, g->runs, BALLOON_PFN_BATCH);
	for (size_t i = 0; i < k; i++) {
		uint64_t gpa = (uint64_t)g->runs[i].pfn << VIRTIO_BALLOON_PFN_SHIFT;
		uint64_t len = (uint64_t)g->runs[i].pages << VIRTIO_BALLOON_PFN_SHIFT;
		int64_t r = balloon_release(g, gpa, len);
		if (r == -EFAULT)
			atomic_fetch_add(&g->pages_refused, g->runs[i].pages);
		else if (r < 0)
			atomic_fetch_add(&g->release_fails, 1);
	}
}

/* An inflate chain: its readable part is le32 PFNs (a partial one at the
 * end is ignored), read BALLOON_PFN_BATCH at a time, at most
 * BALLOON_CHAIN_PFNS (Linux sends 256): the rest of a longer chain is
 * ignored, so that one chain cannot hold the worker long. */
static void balloon_inflate(struct balloon *g, const struct vq_chain *c)
{
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	for (unsigned done = 0; done < BALLOON_CHAIN_PFNS; done += BALLOON_PFN_BATCH) {
		size_t n = 0;
		uint8_t b[4];
		while (n < BALLOON_PFN_BATCH && vq_cursor_read(&cur, b, 4) == 4)
			g->pfns[n++] = le_get32(b);
		if (!n)
			break;
		atomic_fetch_add(&g->pages_inflated, n);
		balloon_release_pfns(g, n);
		if (n < BALLOON_PFN_BATCH)
			break;
	}
	atomic_fetch_add(&g->inflate_count, 1);
}

/* A free page report: each buffer of the chain (the driver posts them
 * device-writable; either part is taken) is a free range of guest RAM. */
static void balloon_report(struct balloon *g, const struct vq_chain *c)
{
	for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
		uint64_t gpa;
		atomic_fetch_add(&g->report_count, 1);
		int64_t r =
			balloon_gpa_of(g->vdev.mem, c->iov[i].iov_base, c->iov[i].iov_len, &gpa);
		if (r == 0)
			r = balloon_release(g, gpa, c->iov[i].iov_len);
		if (r < 0)
			atomic_fetch_add(&g->report_fails, 1);
		else
			atomic_fetch_add(&g->report_freed, (uint64_t)r);
	}
}

/* A statistics buffer: read, kept until the next interval. */
static void balloon_stats_take(struct balloon *g, struct vq_worker *w, const struct vq_chain *c)
{
	if (g->held) {
		/* a driver that posts a second buffer: give the first back */
		if (virtio_push(&g->vdev, &w->q, g->held_head, 0) < 0)
			w->active = false;
		atomic_fetch_add(&g->stats_fails, 1);
	}
	uint8_t buf[BALLOON_STATS_MAX * BALLOON_STAT_BYTES];
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	size_t n = vq_cursor_read(&cur, buf, sizeof(buf));
	struct balloon_stats st = {0};
	unsigned bad = balloon_stats_parse(buf, n, &st);
	if (bad || vq_cursor_left(&cur))
		atomic_fetch_add(&g->stats_fails, 1);
	uint64_t now = clock_mono_ms();
	pthread_mutex_lock(&g->stats_lock);
	g->st = st;
	g->stats_updates++;
	g->stats_ms = now;
	pthread_mutex_unlock(&g->stats_lock);
	atomic_fetch_add(&g->stats_count, 1);
	g->held = true;
	g->held_head = c->head;
}

static void balloon_timer_arm(struct balloon *g, struct vq_worker *w)
{
	unsigned s = atomic_load(&g->interval_s);
	if (!s || g->timer_armed || !w->active || w->paused)
		return;
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	g->ts.tv_sec = s;
	g->ts.tv_nsec = 0;
	io_uring_prep_timeout(sqe, &g->ts, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE; /* the ring's restrictions want it on every SQE */
	io_uring_sqe_set_data(sqe, &g->timer_tag);
	w->inflight++;
	g->timer_armed = true;
	g->armed_s = s;
}

/* The interval is over: the kept buffer goes back, the driver refills it. */
static void balloon_stats_request(struct balloon *g, struct vq_worker *w)
{
	g->stats_due = false;
	if (!g->held)
		return;
	g->held = false;
	if (virtio_push(&g->vdev, &w->q, g->held_head, 0) < 0) {
		w->active = false;
		return;
	}
	if (vq_need_notify(&w->q))
		virtio_notify_vq(&g->vdev, w->qidx);
}

static void balloon_kick(struct vq_worker *w)
{
	struct balloon *g = w->model;
	enum balloon_role role = g->role[w->qidx];
	bool pushed = false;
	struct vq_chain c;
	if (role == ROLE_STATS && g->stats_due)
		balloon_stats_request(g, w);
	for (;;) {
		vq_disable_notify(&w->q);
		int r;
		while ((r = vq_worker_pop(w, &c)) > 0) {
			if (role == ROLE_STATS) {
				balloon_stats_take(g, w, &c);
				continue;
			}
			if (role == ROLE_INFLATE) {
				balloon_inflate(g, &c);
			} else if (role == ROLE_DEFLATE) {
				atomic_fetch_add(&g->deflate_count, 1);
				atomic_fetch_add(&g->pages_deflated, c.out_bytes / 4);
			} else if (role == ROLE_REPORT) {
				balloon_report(g, &c);
			}
			if (virtio_push(&g->vdev, &w->q, c.head, 0) < 0) {
				w->active = false;
				return;
			}
			pushed = true;
		}
		if (r < 0 || !vq_enable_notify(&w->q))
			break;
	}
	if (pushed && vq_need_notify(&w->q))
		virtio_notify_vq(&g->vdev, w->qidx);
	if (role != ROLE_STATS || !w->active)
		return;
	/* a new interval: the armed timer is cancelled, its completion arms
	 * the new one */
	if (g->timer_armed && g->armed_s != atomic_load(&g->interval_s))
		vq_worker_cancel(w, &g->timer_tag);
	balloon_timer_arm(g, w);
}

/* The timer's completion (the one I/O a balloon worker submits). */
static void balloon_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct balloon *g = w->model;
	g->timer_armed = false;
	if (drop)
		return;
	if (cqe->res == -ETIME) {
		if (w->paused) {
			g->stats_due = true; /* the resume's kick asks */
			return;
		}
		balloon_stats_request(g, w);
	}
	balloon_timer_arm(g, w); /* -ECANCELED: the new interval */
}

static void balloon_quiesce(struct vq_worker *w)
{
	struct balloon *g = w->model;
	if (g->timer_armed)
		vq_worker_cancel(w, &g->timer_tag);
}

/* A snapshot's pause. Only the timer may be in flight: it reaches neither
 * memory nor rings. The statistics buffer the device keeps goes back now
 * (an early request: the driver refills it and posts it again, which the
 * paused queue leaves in the ring until the resume or the restore), so a
 * paused queue has every chain it took returned, which a snapshot needs. */
static bool balloon_pause(struct vq_worker *w)
{
	struct balloon *g = w->model;
	if (g->role[w->qidx] == ROLE_STATS && w->active)
		balloon_stats_request(g, w);
	return true;
}

static const struct vq_worker_ops balloon_worker_ops = {
	.kick = balloon_kick,
	.complete = balloon_complete,
	.quiesce = balloon_quiesce,
	.pause = balloon_pause,
};

static void balloon_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct balloon *g = d->model;
	struct virtio_balloon_config cfg = {
		.num_pages = htole32(atomic_load(&g->target)),
		.actual = htole32(atomic_load(&g->actual)),
	};
	virtio_config_copy(&cfg, sizeof(cfg), off, data, len);
}

/* The driver writes `actual` (the pages it holds), nothing else. */
static void balloon_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
				 unsigned len)
{
	struct balloon *g = d->model;
	if (off == offsetof(struct virtio_balloon_config, actual) && len == 4)
		atomic_store(&g->actual, le_get32(data));
}

static int balloon_activate(struct virtio_dev *d)
{
	struct balloon *g = d->model;
	uint64_t f = d->driver_features;
	unsigned q = 0;
	g->role[q++] = ROLE_INFLATE;
	g->role[q++] = ROLE_DEFLATE;
	if (f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ))
		g->role[q++] = ROLE_STATS;
	if (f & (1ULL << VIRTIO_BALLOON_F_REPORTING))
		g->role[q++] = ROLE_REPORT;
	while (q < BALLOON_NQ)
		g->role[q++] = ROLE_NONE;
	if (!d->qcfg[0].ready || !d->qcfg[1].ready)
		return -EINVAL;
	for (unsigned i = 0; i < g->nq; i++)
		if (d->qcfg[i].ready && g->role[i] != ROLE_NONE)
			vq_worker_activate(&g->w[i]);
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

static void balloon_reset(struct virtio_dev *d)
{
	struct balloon *g = d->model;
	for (unsigned i = 0; i < g->nq; i++)
		vq_worker_reset(&g->w[i]); /* cancels the timer: quick */
	g->held = g->stats_due = false;
	atomic_store(&g->actual, 0);
}

static const struct virtio_dev_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.reset = balloon_reset,
};

int balloon_open(struct balloon **out, const struct balloon_cfg *cfg, unsigned index, struct err *e)
{
	struct balloon *g = calloc(1, sizeof(*g));
	*out = g;
	if (!g)
		return err_set(e, ENOMEM, "out of memory");
	g->index = index;
	if (cfg->stats_interval_s > BALLOON_INTERVAL_MAX)
		return err_set(e, EINVAL, "balloon: statistics interval %u s, at most %u",
			       cfg->stats_interval_s, BALLOON_INTERVAL_MAX);
	long ps = sysconf(_SC_PAGESIZE);
	g->host_page = ps >= (long)BALLOON_PAGE ? (size_t)ps : BALLOON_PAGE;
	atomic_init(&g->target, cfg->target_pages);
	atomic_init(&g->interval_s, cfg->stats_interval_s);
	g->deflate_on_oom = cfg->deflate_on_oom;
	g->keep_pages = cfg->keep_pages;
	g->reporting = cfg->reporting;
	g->stats = cfg->stats_interval_s > 0;
	g->nq = 2 + g->stats + g->reporting;
	if (pthread_mutex_init(&g->stats_lock, NULL))
		return err_set(e, ENOMEM, "out of memory");
	g->stats_lock_made = true;
	return 0;
}

/* The inflate, deflate and reporting workers: madvise(MADV_DONTNEED) on
 * guest RAM, no opcode; the statistics worker: its timer. */
static const uint8_t balloon_stats_ops[] = {IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL};
static const struct vq_grant balloon_grants[] = {
	{.thread = "cvmm-balloon-q<N>", .jail = &vq_jail_balloon},
	{.thread = "cvmm-balloon-st", .jail = &vq_jail_balloon, VQ_GRANT_OPS(balloon_stats_ops)},
};

int balloon_start(struct balloon *g, const struct guest_mem *mem, const struct virtio_irqfds *irq,
		  struct err *e)
{
	struct virtio_dev *d = &g->vdev;
	uint64_t f = (g->deflate_on_oom ? 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0) |
		     (g->stats ? 1ULL << VIRTIO_BALLOON_F_STATS_VQ : 0) |
		     (g->reporting ? 1ULL << VIRTIO_BALLOON_F_REPORTING : 0);
	virtio_dev_setup(d, &balloon_ops, g, mem, irq, g->nq, BALLOON_QUEUE_MAX, f);
	g->started = true;
	for (unsigned i = 0; i < g->nq; i++) {
		bool st = g->stats && i == 2;
		char name[16];
		if (st)
			snprintf(name, sizeof(name), "cvmm-balloon-st");
		else
			snprintf(name, sizeof(name), "cvmm-balloon-q%c", (char)('0' + i));
		struct vq_worker_cfg wc = {
			.ops = &balloon_worker_ops,
			.model = g,
			.grant = &balloon_grants[st],
			.ring_entries = 8, /* kick, command, timer and its cancel */
			.name = name,
		};
		int r = vq_worker_create(&g->w[i], d, i, &wc, e);
		g->nmade = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

struct virtio_dev *balloon_vdev(struct balloon *g)
{
	return &g->vdev;
}

int balloon_kick_fd(struct balloon *g, unsigned q)
{
	return q < g->nmade ? g->w[q].kick_fd : -1;
}

unsigned balloon_queues(const struct balloon *g)
{
	return g->nq;
}

void balloon_destroy(struct balloon *g)
{
	if (!g)
		return;
	for (unsigned i = g->nmade; i-- > 0;)
		vq_worker_destroy(&g->w[i]);
	if (g->started)
		pthread_mutex_destroy(&g->vdev.lock);
	if (g->stats_lock_made)
		pthread_mutex_destroy(&g->stats_lock);
	free(g);
}

void balloon_set_target(struct balloon *g, uint32_t pages)
{
	atomic_store(&g->target, pages);
	virtio_config_changed(&g->vdev);
}

int balloon_set_interval(struct balloon *g, unsigned seconds)
{
	if (!g->stats || !seconds || seconds > BALLOON_INTERVAL_MAX)
		return -EINVAL;
	atomic_store(&g->interval_s, seconds);
	/* wake the statistics worker: its kick re-arms the timer */
	uint64_t one = 1;
	if (g->nmade > 2 && write(g->w[2].kick_fd, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

void balloon_state(struct balloon *g, struct balloon_state *st)
{
	memset(st, 0, sizeof(*st));
	st->target_pages = atomic_load(&g->target);
	st->actual_pages = atomic_load(&g->actual);
	st->deflate_on_oom = g->deflate_on_oom;
	st->reporting = g->reporting;
	st->stats_interval_s = g->stats ? atomic_load(&g->interval_s) : 0;
	pthread_mutex_lock(&g->stats_lock);
	st->stats = g->st;
	st->stats_updates = g->stats_updates;
	st->stats_ms = g->stats_ms;
	pthread_mutex_unlock(&g->stats_lock);
}

static void balloon_metrics(const void *model, struct vdev_metrics *m)
{
	const struct balloon *g = model;
	struct vdev_balloon_metrics *b = &m->balloon;
	b->inflate_count = atomic_load(&g->inflate_count);
	b->deflate_count = atomic_load(&g->deflate_count);
	b->pages_inflated = atomic_load(&g->pages_inflated);
	b->pages_deflated = atomic_load(&g->pages_deflated);
	b->pages_refused = atomic_load(&g->pages_refused);
	b->release_fails = atomic_load(&g->release_fails);
	b->free_page_report_count = atomic_load(&g->report_count);
	b->free_page_report_freed = atomic_load(&g->report_freed);
	b->free_page_report_fails = atomic_load(&g->report_fails);
	b->stats_updates_count = atomic_load(&g->stats_count);
	b->stats_update_fails = atomic_load(&g->stats_fails);
}

/* Snapshot: section "virtio-balloon": the target, what the driver said it
 * holds and the statistics interval; which queues exist must match the
 * configuration. The statistics buffer went back at the pause
 * (balloon_pause). */
enum { SNAP_BAL_TARGET = 1, SNAP_BAL_ACTUAL, SNAP_BAL_INTERVAL, SNAP_BAL_FLAGS, SNAP_BAL_STATS };
/* SNAP_BAL_STATS (optional: a state without it restores none): the guest's
 * latest statistics, le32 present mask then BALLOON_STATS_TAGS le64
 * values, so that GET /balloon/statistics answers with them right after a
 * restore, before the guest's next report (Firecracker keeps them too). */
#define SNAP_BAL_STATS_LEN (4 + 8 * BALLOON_STATS_TAGS)

static uint32_t balloon_flags(const struct balloon *g)
{
	return (uint32_t)g->stats | (uint32_t)g->reporting << 1 | (uint32_t)g->deflate_on_oom << 2;
}

static int balloon_save(void *m, struct snap_w *w, uint32_t inst, struct err *e)
{
	struct balloon *g = m;
	(void)e;
	snap_section(w, balloon_desc.name, inst);
	snap_u32(w, SNAP_BAL_TARGET, atomic_load(&g->target));
	snap_u32(w, SNAP_BAL_ACTUAL, atomic_load(&g->actual));
	snap_u32(w, SNAP_BAL_INTERVAL, atomic_load(&g->interval_s));
	snap_u32(w, SNAP_BAL_FLAGS, balloon_flags(g));
	if (g->stats) {
		uint8_t b[SNAP_BAL_STATS_LEN];
		pthread_mutex_lock(&g->stats_lock);
		le_put32(b, g->st.present);
		for (unsigned i = 0; i < BALLOON_STATS_TAGS; i++)
			le_put64(b + 4 + 8 * i, g->st.val[i]);
		pthread_mutex_unlock(&g->stats_lock);
		snap_put_opt(w, SNAP_BAL_STATS, b, sizeof(b));
	}
	return 0;
}

static int balloon_restore(void *m, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct balloon *g = m;
	struct snap_sec s;
	if (snap_find(r, balloon_desc.name, inst, &s) < 0)
		return err_set(e, ENOENT, "balloon: the state has no section %s/%u",
			       balloon_desc.name, inst);
	static const uint16_t known[] = {SNAP_BAL_TARGET, SNAP_BAL_ACTUAL, SNAP_BAL_INTERVAL,
					 SNAP_BAL_FLAGS};
	uint32_t target, actual, interval, flags;
	int rc;
	if ((rc = snap_check_known(&s, known, 4, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BAL_TARGET, &target, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BAL_ACTUAL, &actual, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BAL_INTERVAL, &interval, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BAL_FLAGS, &flags, e)) < 0)
		return rc;
	if (flags != balloon_flags(g))
		return err_set(e, EINVAL,
			       "balloon: the snapshot's has statistics %s, reporting %s, "
			       "deflate_on_oom %s; this one's differ",
			       flags & 1 ? "on" : "off", flags & 2 ? "on" : "off",
			       flags & 4 ? "on" : "off");
	if (g->stats && (interval == 0 || interval > BALLOON_INTERVAL_MAX))
		return err_set(e, EINVAL, "balloon: bad statistics interval %u", interval);
	size_t slen;
	const uint8_t *sb = snap_get(&s, SNAP_BAL_STATS, &slen);
	struct balloon_stats st = {0};
	if (sb) {
		if (slen != SNAP_BAL_STATS_LEN || !g->stats)
			return err_set(e, EINVAL,
				       "balloon: the snapshot's statistics are %zu bytes%s", slen,
				       g->stats ? "" : " for a balloon without statistics");
		st.present = le_get32(sb) & ((1u << BALLOON_STATS_TAGS) - 1);
		for (unsigned i = 0; i < BALLOON_STATS_TAGS; i++)
			st.val[i] = le_get64(sb + 4 + 8 * i);
	}
	pthread_mutex_lock(&g->stats_lock);
	g->st = st;
	pthread_mutex_unlock(&g->stats_lock);
	atomic_store(&g->target, target);
	atomic_store(&g->actual, actual);
	if (g->stats)
		atomic_store(&g->interval_s, interval);
	return 0;
}

VDEV_ADAPTERS(balloon, struct balloon, struct balloon_cfg, balloon_open)
const struct vdev_desc balloon_desc = {
	.save = balloon_save,
	.restore = balloon_restore,
	.name = "virtio-balloon",
	.virtio_id = VIRTIO_ID_BALLOON,
	VDEV_ADAPTED(balloon),
	.grants = balloon_grants,
	.ngrants = sizeof(balloon_grants) / sizeof(balloon_grants[0]),
	.metrics = balloon_metrics,
};
