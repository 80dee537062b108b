/* SPDX-License-Identifier: MIT */
/* The transport-neutral part of a virtio device: interrupts, failure
 * reports and the device status state machine, shared by virtio-mmio and
 * virtio-pci. */
#include "devices/virtio/virtio.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void virtio_set_irqfds(struct virtio_dev *d, const struct virtio_irqfds *irq)
{
	d->irqfd = irq->config;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->vq_irqfd[q] = irq->vq[q];
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

void virtio_tell_failure(struct virtio_dev *d, const char *name)
{
	const char *why = atomic_load(&d->fail_why);
	if (why && !atomic_exchange(&d->fail_told, true))
		fprintf(stderr, "cvmm: %s: device needs reset: %s\n", name, why);
}

uint32_t virtio_status(struct virtio_dev *d)
{
	if (!atomic_load(&d->needs_reset))
		return d->status;
	virtio_tell_failure(d, d->name ? d->name : "virtio device");
	return d->status | VIRTIO_STATUS_NEEDS_RESET;
}

void virtio_reset(struct virtio_dev *d)
{
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		d->ops->reset(d);
	d->status = 0;
	d->driver_features = 0;
	atomic_store(&d->isr, 0);
	atomic_store(&d->needs_reset, false);
	atomic_store(&d->fail_why, NULL);
	atomic_store(&d->fail_told, false);
	memset(d->qcfg, 0, sizeof(d->qcfg));
	d->dev_features_sel = d->drv_features_sel = d->queue_sel = 0;
}

void virtio_set_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		virtio_reset(d);
		return;
	}
	uint32_t old = d->status;
	/* Only a reset clears bits (the driver must not, virtio 1.2 2.1.2):
	 * else DRIVER_OK could go and come back, activating twice. */
	v |= old;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* Accept only a subset of what we offered, with VERSION_1. */
		if ((d->driver_features & ~d->features) ||
		    !(d->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(v & VIRTIO_STATUS_FEATURES_OK) || d->ops->activate(d) < 0) {
			/* A failed activate may have started some queues; with
			 * DRIVER_OK clear, the driver's reset would not stop them. */
			if (v & VIRTIO_STATUS_FEATURES_OK)
				d->ops->reset(d);
			d->status = v & ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
			atomic_store(&d->needs_reset, true);
			return;
		}
	}
	d->status = v;
}
