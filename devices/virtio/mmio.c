/* SPDX-License-Identifier: MIT */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void set_low(uint64_t *v, uint32_t x)
{
	*v = (*v & 0xffffffff00000000ULL) | x;
}

static void set_high(uint64_t *v, uint32_t x)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)x << 32);
}

static uint32_t mmio_read_reg(struct virtio_dev *d, uint64_t off)
{
	struct virtio_dev *s = d;
	const struct virtio_queue_cfg *q =
		s->queue_sel < d->nqueues ? &d->qcfg[s->queue_sel] : NULL;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return 0x74726976; /* "virt" */
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return s->dev_features_sel < 2
			       ? (uint32_t)(d->features >> (32 * s->dev_features_sel))
			       : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? d->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return atomic_load(&d->isr);
	case VIRTIO_MMIO_STATUS:
		return virtio_status(d);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST);
	default:
		return 0;
	}
}

static void mmio_write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtio_dev *s = d;
	/* Queue registers may change only before DRIVER_OK, for a valid queue. */
	struct virtio_queue_cfg *q =
		s->queue_sel < d->nqueues && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK)
			? &d->qcfg[s->queue_sel]
			: NULL;
	bool features_open =
		(d->status & VIRTIO_CONFIG_S_DRIVER) && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK);
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		s->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		s->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (features_open && s->drv_features_sel < 2) {
			if (s->drv_features_sel == 0)
				set_low(&d->driver_features, v);
			else
				set_high(&d->driver_features, v);
		}
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		s->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q)
			q->num = (uint16_t)(v <= d->queue_max ? v : 0);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			q->ready = v & 1;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		if (q)
			set_low(&q->desc, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q)
			set_high(&q->desc, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		if (q)
			set_low(&q->avail, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q)
			set_high(&q->avail, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		if (q)
			set_low(&q->used, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q)
			set_high(&q->used, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and(&d->isr, ~v);
		break;
	case VIRTIO_MMIO_STATUS:
		virtio_set_status(d, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Valid queue indices are caught by ioeventfds and never get
		 * here; anything else is ignored. */
		break;
	default:
		break;
	}
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_dev *d = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (d->ops->config_read)
			d->ops->config_read(d, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = mmio_read_reg(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

static void mmio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct virtio_dev *d = dev;
	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (d->ops->config_write)
			d->ops->config_write(d, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v;
		memcpy(&v, data, 4);
		mmio_write_reg(d, off, v);
	}
	pthread_mutex_unlock(&d->lock);
}

const struct bus_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};
