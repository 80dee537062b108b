/* SPDX-License-Identifier: MIT */
/* virtio-rng (virtio 1.2, section 5.4): one request queue; the driver
 * posts device-writable buffers and the device fills them with bytes from
 * the host's getrandom(2). There is no config space and no feature of its
 * own.
 *
 * getrandom has no io_uring opcode, so the queue's worker calls it itself:
 * its seccomp table is the virtqueue worker's and getrandom
 * (vq_jail_rng), and its ring is allowed no opcode at all (it only
 * waits on the queue's kick and its commands). Each request gets at most
 * RNG_CHAIN_MAX bytes: a driver asking for more gets that much (the used
 * length says so), and one request cannot hold the worker long. */
#include "devices/rng.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/snap.h"
#include "devices/virtio/limiter.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/worker.h"

struct rng {
	struct virtio_dev vdev;
	struct vq_worker w;
	rng_source source;
	unsigned index;
	bool started, worker_made;
	_Atomic uint64_t requests, bytes, errors; /* metrics: any thread reads them */
	struct vq_limiter limit;
	uint64_t limit_since; /* its worker's wait for the limiter began (0: none) */
};

size_t rng_getrandom(void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom((char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

uint32_t rng_fill(const struct vq_chain *c, uint32_t max, rng_source src)
{
	uint32_t written = 0;
	for (unsigned i = c->n_out; i < c->n_out + c->n_in && written < max; i++) {
		size_t len = c->iov[i].iov_len;
		if (len > max - written)
			len = max - written;
		size_t n = src(c->iov[i].iov_base, len);
		written += (uint32_t)n;
		if (n < len)
			break;
	}
	return written;
}

static void rng_kick(struct vq_worker *w)
{
	struct rng *g = w->model;
	bool pushed = false;
	struct vq_chain c;
	for (;;) {
		vq_disable_notify(&w->q);
		int r;
		while ((r = vq_worker_pop(w, &c)) > 0) {
			uint32_t want =
				c.in_bytes < RNG_CHAIN_MAX ? (uint32_t)c.in_bytes : RNG_CHAIN_MAX;
			if (!vq_limit(&g->limit, w, want, 1, &g->limit_since)) {
				vq_unpop(&w->q, 1); /* back for the limiter's timer */
				r = 0;
				break;
			}
			uint32_t n = rng_fill(&c, want, g->source);
			atomic_fetch_add(&g->requests, 1);
			atomic_fetch_add(&g->bytes, n);
			if (n < want)
				atomic_fetch_add(&g->errors, 1);
			if (virtio_push(&g->vdev, &w->q, c.head, n) < 0) {
				w->active = false;
				return;
			}
			pushed = true;
		}
		if (r < 0 || g->limit_since || !vq_enable_notify(&w->q))
			break;
	}
	if (pushed && vq_need_notify(&w->q))
		virtio_notify_vq(&g->vdev, w->qidx);
}

/* Nothing is ever submitted: no completion is the device's. */
static void rng_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	(void)w;
	(void)cqe;
	(void)drop;
}

static const struct vq_worker_ops rng_worker_ops = {
	.kick = rng_kick,
	.complete = rng_complete,
};

static int rng_activate(struct virtio_dev *d)
{
	struct rng *g = d->model;
	if (!d->qcfg[0].ready)
		return -EINVAL;
	vq_worker_activate(&g->w);
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

static void rng_reset(struct virtio_dev *d)
{
	struct rng *g = d->model;
	vq_worker_reset(&g->w); /* its work is synchronous: this is quick */
}

static const struct virtio_dev_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.activate = rng_activate,
	.reset = rng_reset,
};

int rng_open(struct rng **out, const struct rng_cfg *cfg, unsigned index, struct err *e)
{
	struct rng *g = calloc(1, sizeof(*g));
	*out = g;
	if (!g)
		return err_set(e, ENOMEM, "out of memory");
	g->index = index;
	g->source = cfg && cfg->source ? cfg->source : rng_getrandom;
	struct rl_cfg none = {0};
	vq_limiter_init(&g->limit, cfg ? &cfg->limit : &none);
	return 0;
}

/* Its worker reads its two eventfds and waits for its rate limiter
 * (TIMEOUT); the bytes come from getrandom, its table's one addition
 * (io_uring has no opcode for it). */
static const uint8_t rng_uring_ops[] = {IORING_OP_TIMEOUT};
static const struct vq_grant rng_grants[] = {
	{.thread = "cvmm-rng", .jail = &vq_jail_rng, VQ_GRANT_OPS(rng_uring_ops)},
};

int rng_start(struct rng *g, const struct guest_mem *mem, const struct virtio_irqfds *irq,
	      struct err *e)
{
	struct virtio_dev *d = &g->vdev;
	virtio_dev_setup(d, &rng_ops, g, mem, irq, 1, RNG_QUEUE_MAX, 0);
	g->started = true;
	struct vq_worker_cfg wc = {
		.ops = &rng_worker_ops,
		.model = g,
		.grant = &rng_grants[0],
		.ring_entries = 8, /* the kick and command reads, the limiter's timeouts */
		.name = "cvmm-rng",
	};
	g->worker_made = true;
	return vq_worker_create(&g->w, d, 0, &wc, e);
}

struct virtio_dev *rng_vdev(struct rng *g)
{
	return &g->vdev;
}

int rng_kick_fd(struct rng *g, unsigned q)
{
	return q == 0 ? g->w.kick_fd : -1;
}

unsigned rng_queues(const struct rng *g)
{
	(void)g;
	return 1;
}

void rng_destroy(struct rng *g)
{
	if (!g)
		return;
	if (g->worker_made)
		vq_worker_destroy(&g->w);
	if (g->started)
		pthread_mutex_destroy(&g->vdev.lock);
	vq_limiter_destroy(&g->limit);
	free(g);
}

static void rng_metrics(const void *model, struct vdev_metrics *m)
{
	const struct rng *g = model;
	m->requests = atomic_load(&g->requests);
	m->bytes = atomic_load(&g->bytes);
	m->errors = atomic_load(&g->errors);
	m->limit[0].throttled = atomic_load(&g->limit.throttled);
	m->limit[0].throttled_ns = atomic_load(&g->limit.throttled_ns);
}

static int rng_set_limiter(void *model, unsigned which, const struct rl_cfg *c, struct err *e)
{
	struct rng *g = model;
	if (which != 0)
		return err_set(e, EINVAL, "rng %u has one rate limiter", g->index);
	vq_limiter_set(&g->limit, c);
	if (g->worker_made)
		vq_worker_wake(&g->w);
	return 0;
}

/* Snapshot: section "virtio-rng", empty (the device has no state of its
 * own beyond virtio_dev's), so that a state without it is refused. */
static int rng_save(void *m, struct snap_w *w, uint32_t inst, struct err *e)
{
	(void)m;
	(void)e;
	snap_section(w, rng_desc.name, inst);
	return 0;
}

static int rng_restore(void *m, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct rng *g = m;
	struct snap_sec s;
	if (snap_find(r, rng_desc.name, inst, &s) < 0)
		return err_set(e, ENOENT, "rng %u: the state has no section %s/%u", g->index,
			       rng_desc.name, inst);
	return snap_check_known(&s, NULL, 0, e);
}

VDEV_ADAPTERS(rng, struct rng, struct rng_cfg, rng_open)
const struct vdev_desc rng_desc = {
	.save = rng_save,
	.restore = rng_restore,
	.name = "virtio-rng",
	.virtio_id = VIRTIO_ID_RNG,
	VDEV_ADAPTED(rng),
	.grants = rng_grants,
	.ngrants = sizeof(rng_grants) / sizeof(rng_grants[0]),
	.metrics = rng_metrics,
	.set_limiter = rng_set_limiter,
};
