/* SPDX-License-Identifier: MIT */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

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
	case REG_MAGIC: return 0x74726976; /* "virt" */
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return d->ops->device_id;
	case REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return s->dev_features_sel < 2 ? (uint32_t)(d->features >> (32 * s->dev_features_sel))
					       : 0;
	case REG_QUEUE_NUM_MAX: return q ? d->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: return atomic_load(&d->isr);
	case REG_STATUS: return virtio_status(d);
	case REG_SHM_LEN_LOW: case REG_SHM_LEN_HIGH: return 0xffffffff; /* no shared memory */
	case REG_CONFIG_GENERATION: return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST);
	default: return 0;
	}
}

static void mmio_write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtio_dev *s = d;
	/* Queue registers may change only before DRIVER_OK, for a valid queue. */
	struct virtio_queue_cfg *q = s->queue_sel < d->nqueues &&
					     !(d->status & VIRTIO_STATUS_DRIVER_OK)
				     ? &d->qcfg[s->queue_sel]
				     : NULL;
	bool features_open = (d->status & VIRTIO_STATUS_DRIVER) &&
			     !(d->status & VIRTIO_STATUS_FEATURES_OK);
	switch (off) {
	case REG_DEVICE_FEATURES_SEL: s->dev_features_sel = v; break;
	case REG_DRIVER_FEATURES_SEL: s->drv_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		if (features_open && s->drv_features_sel < 2) {
			if (s->drv_features_sel == 0)
				set_low(&d->driver_features, v);
			else
				set_high(&d->driver_features, v);
		}
		break;
	case REG_QUEUE_SEL: s->queue_sel = v; break;
	case REG_QUEUE_NUM:
		if (q)
			q->num = (uint16_t)(v <= d->queue_max ? v : 0);
		break;
	case REG_QUEUE_READY: if (q) q->ready = v & 1; break;
	case REG_QUEUE_DESC_LOW: if (q) set_low(&q->desc, v); break;
	case REG_QUEUE_DESC_HIGH: if (q) set_high(&q->desc, v); break;
	case REG_QUEUE_DRIVER_LOW: if (q) set_low(&q->avail, v); break;
	case REG_QUEUE_DRIVER_HIGH: if (q) set_high(&q->avail, v); break;
	case REG_QUEUE_DEVICE_LOW: if (q) set_low(&q->used, v); break;
	case REG_QUEUE_DEVICE_HIGH: if (q) set_high(&q->used, v); break;
	case REG_INTERRUPT_ACK: atomic_fetch_and(&d->isr, ~v); break;
	case REG_STATUS: virtio_set_status(d, v); break;
	case REG_QUEUE_NOTIFY:
		/* Valid queue indices are caught by ioeventfds and never get
		 * here; anything else is ignored. */
		break;
	default: break;
	}
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_dev *d = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		if (d->ops->config_read)
			d->ops->config_read(d, (uint32_t)(off - REG_CONFIG), data, len);
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
	if (off >= REG_CONFIG) {
		if (d->ops->config_write)
			d->ops->config_write(d, (uint32_t)(off - REG_CONFIG), data, len);
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
