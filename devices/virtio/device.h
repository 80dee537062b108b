/* SPDX-License-Identifier: MIT */
/* A virtio device kind as the VM sees it: one const descriptor, exported by
 * the device's own file (blk_desc in devices/blk.c, ...). The VM keeps one
 * array of (descriptor, instance) and its builder, teardown and transport
 * wiring walk it; nothing in vmm/ names a device kind's functions. */
#ifndef CVMM_VIRTIO_DEVICE_H
#define CVMM_VIRTIO_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"
#include "core/err.h"
#include "core/mem.h"

struct vq_grant;

/* Counters a device keeps (any thread may read them: atomics in the
 * device). */
struct vdev_metrics {
	uint64_t requests; /* chains served */
	uint64_t bytes;    /* bytes moved to or from the guest */
	uint64_t errors;   /* chains answered with an error */
};

struct vdev_desc {
	const char *name;   /* "virtio-blk": messages, the slot's name */
	uint32_t virtio_id; /* VIRTIO_ID_* (the transport reads ops->device_id) */
	/* Main thread: opens the device's files from its own configuration
	 * (struct blk_cfg, ...); *out is the instance, owned by the caller
	 * (destroy frees it, even after a failed open). */
	int (*open)(void **out, const void *cfg, unsigned index, struct err *e);
	/* Main thread: its virtio_dev set up, its workers created. */
	int (*start)(void *model, const struct guest_mem *mem, const struct virtio_irqfds *irq,
		     struct err *e);
	struct virtio_dev *(*vdev)(void *model);
	unsigned (*queues)(const void *model);
	int (*kick_fd)(void *model, unsigned q); /* queue q's ioeventfd (borrowed) */
	/* Optional: teardown, the vCPUs stopped and before destroy: end what
	 * may not end by itself (a connection, a pending read). */
	void (*quiesce)(void *model);
	void (*destroy)(void *model); /* NULL-safe */
	/* Snapshot hooks (NULL until the snapshot work fills them): the
	 * device's state into buf (its size out), and back. */
	int (*save)(const void *model, void *buf, size_t cap, size_t *len, struct err *e);
	int (*restore)(void *model, const void *buf, size_t len, struct err *e);
	/* Optional, any thread but the device's own, one call at a time,
	 * once started: what backs the device replaced by the file at path
	 * (virtio-blk: a new disk image, checked and locked as open does),
	 * the driver told (configuration change). On failure nothing
	 * changed. */
	int (*update)(void *model, const char *path, struct err *e);
	/* Optional: the device's counters. */
	void (*metrics)(const void *model, struct vdev_metrics *m);
	/* Its workers' grants (worker.h): each kind of worker thread it
	 * starts, its seccomp table and its io_uring opcodes. */
	const struct vq_grant *grants;
	unsigned ngrants;
};

/* The typed-to-void adapters a descriptor needs, for a device whose
 * functions are openfn (pfx_open, or one with its signature), pfx_start, pfx_vdev, pfx_queues, pfx_kick_fd and
 * pfx_destroy on `type` (its open taking `cfgtype`). */
#define VDEV_ADAPTERS(pfx, type, cfgtype, openfn)                                             \
	static int pfx##_open_of(void **out, const void *cfg, unsigned index, struct err *e) \
	{                                                                                    \
		type *m = NULL;                                                              \
		int r = openfn(&m, (const cfgtype *)cfg, index, e);                            \
		*out = m;                                                                    \
		return r;                                                                    \
	}                                                                                    \
	static int pfx##_start_of(void *m, const struct guest_mem *mem,                      \
				  const struct virtio_irqfds *irq, struct err *e)            \
	{                                                                                    \
		return pfx##_start((type *)m, mem, irq, e);                                  \
	}                                                                                    \
	static struct virtio_dev *pfx##_vdev_of(void *m)                                     \
	{                                                                                    \
		return pfx##_vdev((type *)m);                                                \
	}                                                                                    \
	static unsigned pfx##_queues_of(const void *m)                                       \
	{                                                                                    \
		return pfx##_queues((const type *)m);                                        \
	}                                                                                    \
	static int pfx##_kick_fd_of(void *m, unsigned q)                                     \
	{                                                                                    \
		return pfx##_kick_fd((type *)m, q);                                          \
	}                                                                                    \
	static void pfx##_destroy_of(void *m)                                                \
	{                                                                                    \
		pfx##_destroy((type *)m);                                                    \
	}

/* The descriptor's fields those adapters fill. */
#define VDEV_ADAPTED(pfx)                                                                     \
	.open = pfx##_open_of, .start = pfx##_start_of, .vdev = pfx##_vdev_of,                \
	.queues = pfx##_queues_of, .kick_fd = pfx##_kick_fd_of, .destroy = pfx##_destroy_of

/* The preamble every device's start shares: the device lock, its ops and
 * model, guest memory, the transport's interrupt eventfds, its queues, and
 * the features every cvmm device offers (VERSION_1, EVENT_IDX,
 * INDIRECT_DESC) with the device's own. */
void virtio_dev_setup(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *model,
		      const struct guest_mem *mem, const struct virtio_irqfds *irq,
		      unsigned nqueues, uint16_t queue_max, uint64_t features);

#endif
