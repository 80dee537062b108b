/* SPDX-License-Identifier: MIT */
/* The transport-neutral part of a virtio device: interrupts, failure
 * reports and the device status state machine, shared by virtio-mmio and
 * virtio-pci. */
#include "devices/virtio/virtio.h"
#include "devices/virtio/device.h"
#include "core/log.h"

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
