/* SPDX-License-Identifier: MIT */
/* The transport-neutral part of a virtio device: interrupts, failure
 * reports and the device status state machine, shared by virtio-mmio and
 * virtio-pci. */
#include "devices/virtio/virtio.h"
#include "devices/virtio/device.h"
#include "devices/virtio/worker.h"
#include "core/log.h"
#include "core/snap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void virtio_set_irqfds(struct virtio_dev *d, const struct virtio_irqfds *irq)
{
	d->irqfd = irq->config;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->vq_irqfd[q] = irq->vq[q];
}

void virtio_dev_setup(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *model,
		      const struct guest_mem *mem, const struct virtio_irqfds *irq,
		      unsigned nqueues, uint16_t queue_max, uint64_t features)
{
	pthread_mutex_init(&d->lock, NULL);
	d->ops = ops;
	d->model = model;
	d->mem = mem;
	virtio_set_irqfds(d, irq);
	d->nqueues = nqueues;
	d->queue_max = queue_max;
	d->features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		      (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | features;
}

static void irqfd_raise(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n; /* an eventfd counter cannot overflow in practice */
}

void virtio_notify(struct virtio_dev *d, unsigned why)
{
	atomic_fetch_or(&d->isr, why);
	atomic_fetch_add_explicit(&d->irqs, 1, memory_order_relaxed);
	irqfd_raise(d->irqfd);
}

void virtio_config_changed(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	__atomic_add_fetch(&d->config_generation, 1, __ATOMIC_SEQ_CST);
	bool up = d->status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&d->lock);
	if (up)
		virtio_notify(d, VIRTIO_INT_CONFIG);
}

void virtio_notify_vq(struct virtio_dev *d, unsigned q)
{
	atomic_fetch_or(&d->isr, VIRTIO_INT_USED);
	atomic_fetch_add_explicit(&d->irqs, 1, memory_order_relaxed);
	irqfd_raise(q < VIRTIO_MAX_QUEUES ? d->vq_irqfd[q] : d->irqfd);
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
	const char *none = NULL;
	atomic_compare_exchange_strong(&d->fail_why, &none, why ? why : "queue broken");
	atomic_store(&d->needs_reset, true);
	virtio_notify(d, VIRTIO_INT_CONFIG);
}

void virtio_config_copy(const void *cfg, size_t size, uint32_t off, uint8_t *data, unsigned len)
{
	if (off < size && len <= size - off)
		memcpy(data, (const uint8_t *)cfg + off, len);
}

int virtio_pop(struct virtio_dev *d, struct vq *q, struct vq_chain *c)
{
	int r = vq_pop(q, c);
	if (r < 0)
		virtio_fail(d, q->why);
	return r;
}

int virtio_push(struct virtio_dev *d, struct vq *q, uint16_t head, uint32_t written)
{
	int r = vq_push(q, head, written);
	if (r < 0)
		virtio_fail(d, q->why);
	return r;
}

void virtio_tell_failure(struct virtio_dev *d, const char *name)
{
	const char *why = atomic_load(&d->fail_why);
	if (why && !atomic_exchange(&d->fail_told, true))
		log_warn("%s: device needs reset: %s", name, why);
}

/* Tells the model's workers to stop using the queues: a model with
 * reset_start returns at once (virtio_stopped says when they are done),
 * one without returns when they stopped. */
static void virtio_stop(struct virtio_dev *d)
{
	if (d->ops->reset_start) {
		d->ops->reset_start(d);
		d->stopping = true;
	} else {
		d->ops->reset(d);
	}
}

/* Whether the workers virtio_stop told are done, waiting for them up to
 * VIRTIO_RESET_WAIT_MS if `wait`. No longer: the caller is a vCPU thread
 * holding the device lock, and a vCPU stuck here could not be paused or
 * stopped when a worker's I/O never ends. */
static bool virtio_stopped(struct virtio_dev *d, bool wait)
{
	if (!d->stopping)
		return true;
	struct timespec until;
	if (wait) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += VIRTIO_RESET_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
	}
	if (!d->ops->reset_done(d, wait ? &until : NULL))
		return false;
	d->stopping = false;
	return true;
}

/* Completes the driver's reset once the workers are done: every register
 * back to its reset value. false while they are not. */
static bool virtio_reset_finish(struct virtio_dev *d, bool wait)
{
	if (!virtio_stopped(d, wait))
		return false;
	d->reset_pending = false;
	d->status = 0;
	d->driver_features = 0;
	atomic_store(&d->isr, 0);
	atomic_store(&d->needs_reset, false);
	atomic_store(&d->fail_why, NULL);
	atomic_store(&d->fail_told, false);
	memset(d->qcfg, 0, sizeof(d->qcfg));
	/* a snapshot's queue positions (a pause's, a restore's) are the old
	 * driver's: the next activation starts its queues at 0 */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->qpos[q].valid = false;
	d->dev_features_sel = d->drv_features_sel = d->queue_sel = 0;
	if (d->transport_reset)
		d->transport_reset(d->transport);
	return true;
}

uint32_t virtio_status(struct virtio_dev *d)
{
	if (d->reset_pending && !virtio_reset_finish(d, false)) {
		/* Still resetting: in-flight I/O may yet write guest memory,
		 * so not 0, which tells the driver it is done. The old status
		 * is non-zero (stopping needs an activation tried). */
		return d->status ? d->status : VIRTIO_CONFIG_S_ACKNOWLEDGE;
	}
	if (!atomic_load(&d->needs_reset))
		return d->status;
	virtio_tell_failure(d, d->name ? d->name : "virtio device");
	return d->status | VIRTIO_CONFIG_S_NEEDS_RESET;
}

void virtio_reset(struct virtio_dev *d)
{
	/* Stop the workers unless they were told already (a reset in
	 * progress, or a failed activation). */
	if ((d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->stopping)
		virtio_stop(d);
	d->reset_pending = true;
	virtio_reset_finish(d, true);
}

void virtio_set_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		virtio_reset(d);
		return;
	}
	/* Nothing but polling until a reset completes: the driver must not
	 * set up the device while its old I/O may still land. */
	if (d->reset_pending && !virtio_reset_finish(d, false))
		return;
	uint32_t old = d->status;
	/* Only a reset clears bits (the driver must not, virtio 1.2 2.1.2):
	 * else DRIVER_OK could go and come back, activating twice. */
	v |= old;
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Accept only a subset of what we offered, with VERSION_1. */
		if ((d->driver_features & ~d->features) ||
		    !(d->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		/* Not while the workers of an earlier failed activation are
		 * still stopping: they would be told to serve again. */
		bool tried = (v & VIRTIO_CONFIG_S_FEATURES_OK) && virtio_stopped(d, false);
		if (!tried || d->ops->activate(d) < 0) {
			/* A failed activate may have started some queues; with
			 * DRIVER_OK clear, the driver's reset would not stop them. */
			if (tried)
				virtio_stop(d);
			d->status = v & ~(uint32_t)VIRTIO_CONFIG_S_DRIVER_OK;
			atomic_store(&d->needs_reset, true);
			return;
		}
	}
	d->status = v;
}

/* ---- snapshot ------------------------------------------------------------ */

void virtio_vq_record(struct virtio_dev *d, unsigned qi, const struct vq *q)
{
	if (qi >= VIRTIO_MAX_QUEUES)
		return;
	d->qpos[qi] = (struct virtio_qpos){
		.last_avail = q->last_avail, .used_idx = q->used_idx, .valid = true};
}

void virtio_vq_place(struct virtio_dev *d, unsigned qi, struct vq *q)
{
	if (qi >= VIRTIO_MAX_QUEUES || !d->qpos[qi].valid)
		return;
	q->last_avail = q->avail_seen = d->qpos[qi].last_avail;
	q->used_idx = q->signalled_used = d->qpos[qi].used_idx;
	q->signalled_valid = false; /* the next push notifies */
}

int virtio_dev_pause(struct virtio_dev *d, const struct timespec *until)
{
	pthread_mutex_lock(&d->lock);
	/* A driver's reset still waiting for its workers: let it finish
	 * first (a worker has one command at a time). */
	if (d->stopping && !d->ops->reset_done(d, until)) {
		pthread_mutex_unlock(&d->lock);
		return -ETIMEDOUT;
	}
	d->stopping = false;
	if (d->reset_pending)
		virtio_reset_finish(d, false);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->qpos[q].valid = false;
	for (unsigned i = 0; i < d->nall_workers; i++)
		vq_worker_pause_start(d->all_workers[i]);
	int r = 0;
	for (unsigned i = 0; i < d->nall_workers; i++)
		if (!vq_worker_pause_wait(d->all_workers[i], until))
			r = -ETIMEDOUT;
	pthread_mutex_unlock(&d->lock);
	return r;
}

void virtio_dev_resume(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nall_workers; i++)
		vq_worker_resume(d->all_workers[i]);
	pthread_mutex_unlock(&d->lock);
}

/* Section "virtio"'s fields: the device's, then each queue's at
 * SNAP_VQ(q, k). */
enum {
	SNAP_VIRTIO_FEATURES = 1,
	SNAP_VIRTIO_DRIVER_FEATURES,
	SNAP_VIRTIO_STATUS,
	SNAP_VIRTIO_CONFIG_GEN,
	SNAP_VIRTIO_DEV_FEATURES_SEL,
	SNAP_VIRTIO_DRV_FEATURES_SEL,
	SNAP_VIRTIO_QUEUE_SEL,
	SNAP_VIRTIO_NQUEUES,
	SNAP_VIRTIO_ISR,
	SNAP_VIRTIO_NEEDS_RESET,
	SNAP_VIRTIO_NFIELDS = SNAP_VIRTIO_NEEDS_RESET,
};
enum { SNAP_VQ_NUM, SNAP_VQ_READY, SNAP_VQ_DESC, SNAP_VQ_AVAIL, SNAP_VQ_USED, SNAP_VQ_POS };
#define SNAP_VQ_FIELDS 6
#define SNAP_VQ(q, k)  ((uint16_t)(0x100 + 0x10 * (q) + (k)))

void virtio_dev_save(struct virtio_dev *d, struct snap_w *w, uint32_t inst)
{
	pthread_mutex_lock(&d->lock);
	snap_section(w, "virtio", inst);
	snap_u64(w, SNAP_VIRTIO_FEATURES, d->features);
	snap_u64(w, SNAP_VIRTIO_DRIVER_FEATURES, d->driver_features);
	snap_u32(w, SNAP_VIRTIO_STATUS, d->status);
	snap_u32(w, SNAP_VIRTIO_CONFIG_GEN,
		 __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST));
	snap_u32(w, SNAP_VIRTIO_DEV_FEATURES_SEL, d->dev_features_sel);
	snap_u32(w, SNAP_VIRTIO_DRV_FEATURES_SEL, d->drv_features_sel);
	snap_u32(w, SNAP_VIRTIO_QUEUE_SEL, d->queue_sel);
	snap_u32(w, SNAP_VIRTIO_NQUEUES, d->nqueues);
	snap_u32(w, SNAP_VIRTIO_ISR, atomic_load(&d->isr));
	snap_u32(w, SNAP_VIRTIO_NEEDS_RESET, atomic_load(&d->needs_reset));
	for (unsigned q = 0; q < d->nqueues; q++) {
		const struct virtio_queue_cfg *c = &d->qcfg[q];
		snap_u32(w, SNAP_VQ(q, SNAP_VQ_NUM), c->num);
		snap_u32(w, SNAP_VQ(q, SNAP_VQ_READY), c->ready);
		snap_u64(w, SNAP_VQ(q, SNAP_VQ_DESC), c->desc);
		snap_u64(w, SNAP_VQ(q, SNAP_VQ_AVAIL), c->avail);
		snap_u64(w, SNAP_VQ(q, SNAP_VQ_USED), c->used);
		/* where its worker stopped (the pause recorded it): the next
		 * chain to take, the next used slot; absent for a queue not
		 * served */
		if (d->qpos[q].valid)
			snap_u32(w, SNAP_VQ(q, SNAP_VQ_POS),
				 (uint32_t)d->qpos[q].last_avail << 16 | d->qpos[q].used_idx);
	}
	pthread_mutex_unlock(&d->lock);
}

static uint16_t ring_ld16(const struct guest_mem *m, uint64_t gpa)
{
	const uint8_t *p = gm_ptr(m, gpa, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

/* Queue q's saved configuration, checked as the transport and vq_init
 * check the driver's (a queue to serve: its size a power of two within
 * the device's maximum, its rings aligned inside guest memory), and, for
 * a queue to serve, its positions against the rings as they are: nothing
 * taken and not returned, the used index the one in guest memory, the
 * available index at most a queue ahead. */
static int restore_queue(struct virtio_dev *d, const struct snap_sec *s, unsigned q, bool serve,
			 struct virtio_queue_cfg *c, struct virtio_qpos *pos, struct err *e)
{
	const char *n = d->name ? d->name : "virtio";
	uint32_t num, ready, p;
	uint64_t desc, avail, used;
	int r;
	if ((r = snap_get_u32(s, SNAP_VQ(q, SNAP_VQ_NUM), &num, e)) < 0 ||
	    (r = snap_get_u32(s, SNAP_VQ(q, SNAP_VQ_READY), &ready, e)) < 0 ||
	    (r = snap_get_u64(s, SNAP_VQ(q, SNAP_VQ_DESC), &desc, e)) < 0 ||
	    (r = snap_get_u64(s, SNAP_VQ(q, SNAP_VQ_AVAIL), &avail, e)) < 0 ||
	    (r = snap_get_u64(s, SNAP_VQ(q, SNAP_VQ_USED), &used, e)) < 0)
		return r;
	if (num > d->queue_max || ready > 1)
		return err_set(e, EINVAL, "%s: queue %u: size %u (at most %u) or ready %u invalid",
			       n, q, num, d->queue_max, ready);
	*c = (struct virtio_queue_cfg){
		.num = (uint16_t)num, .ready = ready, .desc = desc, .avail = avail, .used = used};
	*pos = (struct virtio_qpos){0};
	if (!serve || !ready)
		return 0;
	struct vq v;
	if (vq_init(&v, d->mem, c->num, desc, avail, used, false) < 0)
		return err_set(e, EINVAL, "%s: queue %u: %s", n, q, v.why);
	size_t len;
	if (!snap_get(s, SNAP_VQ(q, SNAP_VQ_POS), &len))
		return err_set(e, EINVAL, "%s: queue %u is in use but has no ring positions", n, q);
	if ((r = snap_get_u32(s, SNAP_VQ(q, SNAP_VQ_POS), &p, e)) < 0)
		return r;
	uint16_t last = (uint16_t)(p >> 16), uidx = (uint16_t)p;
	uint16_t ring_avail = ring_ld16(d->mem, avail + 2), ring_used = ring_ld16(d->mem, used + 2);
	if (last != uidx)
		return err_set(
			e, EINVAL,
			"%s: queue %u: %u chains taken but %u returned (not a paused device)", n, q,
			last, uidx);
	if ((uint16_t)(ring_avail - last) > c->num)
		return err_set(e, EINVAL,
			       "%s: queue %u: used index %u is beyond the available index %u", n, q,
			       uidx, ring_avail);
	if (ring_used != uidx)
		return err_set(e, EINVAL, "%s: queue %u: used index %u, but %u in guest memory", n,
			       q, uidx, ring_used);
	*pos = (struct virtio_qpos){.last_avail = last, .used_idx = uidx, .valid = true};
	return 0;
}

#define VIRTIO_STATUS_BITS                                                                         \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |        \
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)

int virtio_dev_restore(struct virtio_dev *d, const struct snap_r *r, uint32_t inst, struct err *e)
{
	const char *n = d->name ? d->name : "virtio";
	struct snap_sec s;
	if (snap_find(r, "virtio", inst, &s) < 0)
		return err_set(e, ENOENT, "%s: the state has no section virtio/%u", n, inst);
	uint32_t nq;
	int rc = snap_get_u32(&s, SNAP_VIRTIO_NQUEUES, &nq, e);
	if (rc < 0)
		return rc;
	if (nq != d->nqueues)
		return err_set(e, EINVAL, "%s: the state has %u queues, this device %u", n, nq,
			       d->nqueues);
	uint16_t known[SNAP_VIRTIO_NFIELDS + SNAP_VQ_FIELDS * VIRTIO_MAX_QUEUES];
	unsigned nknown = 0;
	for (unsigned k = 1; k <= SNAP_VIRTIO_NFIELDS; k++)
		known[nknown++] = (uint16_t)k;
	for (unsigned q = 0; q < nq && q < VIRTIO_MAX_QUEUES; q++)
		for (unsigned k = 0; k < SNAP_VQ_FIELDS; k++)
			known[nknown++] = SNAP_VQ(q, k);
	rc = snap_check_known(&s, known, nknown, e);
	if (rc < 0)
		return rc;
	uint64_t features, drv;
	uint32_t status, gen, dsel, gsel, qsel, isr, nr;
	if ((rc = snap_get_u64(&s, SNAP_VIRTIO_FEATURES, &features, e)) < 0 ||
	    (rc = snap_get_u64(&s, SNAP_VIRTIO_DRIVER_FEATURES, &drv, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_STATUS, &status, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_CONFIG_GEN, &gen, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_DEV_FEATURES_SEL, &dsel, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_DRV_FEATURES_SEL, &gsel, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_QUEUE_SEL, &qsel, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_ISR, &isr, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_VIRTIO_NEEDS_RESET, &nr, e)) < 0)
		return rc;
	(void)features; /* what the saving cvmm offered; the driver's choice is what counts */
	if (drv & ~d->features)
		return err_set(e, EINVAL,
			       "%s: the driver accepted features 0x%llx this device does not offer",
			       n, (unsigned long long)(drv & ~d->features));
	if ((status & ~(uint32_t)VIRTIO_STATUS_BITS) ||
	    ((status & VIRTIO_CONFIG_S_FEATURES_OK) && !(drv & (1ULL << VIRTIO_F_VERSION_1))) ||
	    ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(status & VIRTIO_CONFIG_S_FEATURES_OK)))
		return err_set(e, EINVAL, "%s: device status 0x%x invalid", n, status);
	if (isr & ~(uint32_t)(VIRTIO_INT_USED | VIRTIO_INT_CONFIG) || nr > 1)
		return err_set(e, EINVAL, "%s: interrupt status 0x%x or needs-reset %u invalid", n,
			       isr, nr);
	bool serve = (status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		     !(status & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)) && !nr;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	struct virtio_qpos qpos[VIRTIO_MAX_QUEUES];
	for (unsigned q = 0; q < nq; q++) {
		rc = restore_queue(d, &s, q, serve, &qcfg[q], &qpos[q], e);
		if (rc < 0)
			return rc;
	}

	/* Checked: into the device, whose queues were never activated. */
	pthread_mutex_lock(&d->lock);
	d->driver_features = drv;
	d->status = status & ~(uint32_t)VIRTIO_CONFIG_S_DRIVER_OK;
	__atomic_store_n(&d->config_generation, gen, __ATOMIC_SEQ_CST);
	d->dev_features_sel = dsel;
	d->drv_features_sel = gsel;
	d->queue_sel = qsel;
	for (unsigned q = 0; q < nq; q++) {
		d->qcfg[q] = qcfg[q];
		d->qpos[q] = qpos[q];
	}
	atomic_store(&d->isr, isr);
	atomic_store(&d->needs_reset, nr != 0);
	if (nr)
		atomic_store(&d->fail_why, "needed a reset when saved");
	rc = 0;
	if (serve) {
		/* As the driver's DRIVER_OK does, each worker starting where
		 * it stopped and kicked once (its activation's kick). */
		if (d->ops->activate(d) < 0) {
			virtio_stop(d);
			atomic_store(&d->needs_reset, true);
			rc = err_set(e, EIO, "%s: its queues could not be activated again", n);
		} else {
			d->status = status;
			/* an interrupt the saved process raised may have been
			 * lost with its eventfds: one more is harmless */
			for (unsigned q = 0; q < nq; q++)
				if (qpos[q].valid)
					virtio_notify_vq(d, q);
		}
	} else {
		d->status = status;
	}
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->qpos[q].valid = false;
	pthread_mutex_unlock(&d->lock);
	return rc;
}
