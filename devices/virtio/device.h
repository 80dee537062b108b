/* SPDX-License-Identifier: MIT */
/* A virtio device kind as the VM sees it: one const descriptor, exported by
 * the device's own file (blk_desc in devices/blk.c, ...). The VM keeps one
 * array of (descriptor, instance) and its builder, teardown and transport
 * wiring walk it; nothing in vmm/ names a device kind's functions. */
#ifndef CVMM_VIRTIO_DEVICE_H
#define CVMM_VIRTIO_DEVICE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"
#include "core/err.h"
#include "core/mem.h"

struct vq_grant;
struct snap_w;
struct snap_r;

/* Counters a device keeps, totals since it was opened (any thread may read
 * them: atomics in the device, written by one thread each: vdev_count).
 * Each kind's hook sets its own part, named and meant as Firecracker's metrics
 * fields of the same name (docs/api.md); what a kind does not count stays
 * as the caller zeroed it. */
struct vdev_blk_metrics {
	uint64_t read_count, write_count; /* requests that succeeded */
	uint64_t read_bytes, write_bytes; /* their data */
	uint64_t flush_count;		  /* FLUSH requests that succeeded */
	uint64_t invalid_reqs_count;	  /* requests answered IOERR or UNSUPP */
	uint64_t execute_fails;		  /* chains that were no request (no status byte) */
	uint64_t queue_event_count;	  /* kicks of its request queues */
};
struct vdev_net_metrics {
	/* guest -> backend: frames (bytes with their virtio-net header) written
	 * whole, frames dropped as malformed, frames dropped with the link down
	 * or no room to submit, writes the backend refused */
	uint64_t tx_packets_count, tx_bytes_count, tx_malformed_frames, tx_fails, tap_write_fails;
	/* backend -> guest: frames delivered (bytes with the header), frames
	 * dropped (too short, too big for the guest's buffers), reads that
	 * failed, times a frame waited for guest buffers, reads that brought
	 * bytes */
	uint64_t rx_packets_count, rx_bytes_count, rx_fails, tap_read_fails, no_rx_avail_buffer;
	uint64_t rx_tap_event_count;
	uint64_t rx_queue_event_count, tx_queue_event_count; /* kicks */
};
struct vdev_vsock_metrics {
	uint64_t rx_packets_count, rx_bytes_count; /* to the guest: packets, stream bytes */
	uint64_t tx_packets_count, tx_bytes_count; /* from the guest: packets, bytes to sockets */
	uint64_t conns_added, conns_killed, conns_removed;
	uint64_t rx_read_fails, tx_write_fails;		     /* socket reads, writes that failed */
	uint64_t rx_queue_event_count, tx_queue_event_count; /* kicks */
};
struct vdev_balloon_metrics {
	uint64_t inflate_count, deflate_count;	 /* chains served */
	uint64_t pages_inflated, pages_deflated; /* 4 KiB pages in them */
	uint64_t pages_refused, release_fails;	 /* not guest RAM; madvise failed */
	/* free page reporting: buffers, bytes released, buffers refused */
	uint64_t free_page_report_count, free_page_report_freed, free_page_report_fails;
	uint64_t stats_updates_count, stats_update_fails;
};
struct vdev_metrics {
	uint64_t requests; /* chains served */
	uint64_t bytes;	   /* bytes moved to or from the guest */
	uint64_t errors;   /* chains answered with an error */
	struct vdev_blk_metrics blk;
	struct vdev_net_metrics net;
	struct vdev_vsock_metrics vsock;
	struct vdev_balloon_metrics balloon;
};

/* Adds n to a counter only the calling thread writes (a device's worker):
 * no locked add on the I/O path; readers load it atomically. */
static inline void vdev_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

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
	/* Snapshot (docs/snapshot.md), optional: a kind without them refuses
	 * a snapshot, by name. save writes the device's own state (what its
	 * driver set up beyond the transport's and virtio_dev's) into
	 * sections of its own, instance inst, its queues paused
	 * (virtio_dev_pause); restore reads them back into a device opened
	 * and started from the same configuration, before virtio_dev_restore
	 * activates its queues. */
	int (*save)(void *model, struct snap_w *w, uint32_t inst, struct err *e);
	int (*restore)(void *model, const struct snap_r *r, uint32_t inst, struct err *e);
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
 * functions are openfn (pfx_open, or one with its signature), pfx_start, pfx_vdev, pfx_queues,
 * pfx_kick_fd and pfx_destroy on `type` (its open taking `cfgtype`). */
#define VDEV_ADAPTERS(pfx, type, cfgtype, openfn)                                                  \
	static int pfx##_open_of(void **out, const void *cfg, unsigned index, struct err *e)       \
	{                                                                                          \
		type *m = NULL;                                                                    \
		int r = openfn(&m, (const cfgtype *)cfg, index, e);                                \
		*out = m;                                                                          \
		return r;                                                                          \
	}                                                                                          \
	static int pfx##_start_of(void *m, const struct guest_mem *mem,                            \
				  const struct virtio_irqfds *irq, struct err *e)                  \
	{                                                                                          \
		return pfx##_start((type *)m, mem, irq, e);                                        \
	}                                                                                          \
	static struct virtio_dev *pfx##_vdev_of(void *m)                                           \
	{                                                                                          \
		return pfx##_vdev((type *)m);                                                      \
	}                                                                                          \
	static unsigned pfx##_queues_of(const void *m)                                             \
	{                                                                                          \
		return pfx##_queues((const type *)m);                                              \
	}                                                                                          \
	static int pfx##_kick_fd_of(void *m, unsigned q)                                           \
	{                                                                                          \
		return pfx##_kick_fd((type *)m, q);                                                \
	}                                                                                          \
	static void pfx##_destroy_of(void *m)                                                      \
	{                                                                                          \
		pfx##_destroy((type *)m);                                                          \
	}

/* The descriptor's fields those adapters fill. */
#define VDEV_ADAPTED(pfx)                                                                          \
	.open = pfx##_open_of, .start = pfx##_start_of, .vdev = pfx##_vdev_of,                     \
	.queues = pfx##_queues_of, .kick_fd = pfx##_kick_fd_of, .destroy = pfx##_destroy_of

/* The preamble every device's start shares: the device lock, its ops and
 * model, guest memory, the transport's interrupt eventfds, its queues, and
 * the features every cvmm device offers (VERSION_1, EVENT_IDX,
 * INDIRECT_DESC) with the device's own. */
void virtio_dev_setup(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *model,
		      const struct guest_mem *mem, const struct virtio_irqfds *irq,
		      unsigned nqueues, uint16_t queue_max, uint64_t features);

#endif
