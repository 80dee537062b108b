/* SPDX-License-Identifier: MIT */
/* The virtio device layer between a transport (virtio-mmio now, virtio-pci
 * later) and a device model (blk, net, ...). The transport owns registers,
 * feature negotiation and status; the device model describes itself through
 * virtio_dev_ops and serves its queues from per-queue workers. */
#ifndef CVMM_VIRTIO_H
#define CVMM_VIRTIO_H

#include <linux/virtio_config.h> /* VIRTIO_CONFIG_S_*, VIRTIO_F_VERSION_1 */
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "devices/virtio/queue.h"

/* The interrupt status bits, the same in both transports (virtio-mmio's
 * InterruptStatus, virtio-pci's ISR). */
#define VIRTIO_INT_USED	  VIRTIO_MMIO_INT_VRING
#define VIRTIO_INT_CONFIG VIRTIO_MMIO_INT_CONFIG

#define VIRTIO_MAX_QUEUES 24 /* virtio-net: 8 pairs and a control queue */

struct virtio_dev;
struct vq_worker;

/* What a device model provides. All called with the device lock held, on a
 * vCPU thread (register access) or the main thread (create/destroy). */
struct virtio_dev_ops {
	uint32_t device_id;
	/* Reads/writes of the device-specific configuration space. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const uint8_t *data, unsigned len);
	/* DRIVER_OK: the queues are configured (d->vq[] valid for ready ones).
	 * Returns 0, or -errno to put the device in NEEDS_RESET. */
	int (*activate)(struct virtio_dev *d);
	/* Device reset by the driver: stop using the queues (wait for the
	 * workers to drop them) before returning. */
	void (*reset)(struct virtio_dev *d);
	/* Instead of reset, where a worker's I/O may take long or never end
	 * (a stuck file or socket): reset_start tells the workers to stop and
	 * returns at once; reset_done says whether they stopped and every
	 * in-flight I/O ended (until then the device may still write guest
	 * memory), waiting for it until `until` (CLOCK_MONOTONIC), not at all
	 * if NULL; once true, the model's own per-reset state is restored too.
	 * The driver sees the reset complete (status 0) only then. */
	void (*reset_start)(struct virtio_dev *d);
	bool (*reset_done)(struct virtio_dev *d, const struct timespec *until);
};

/* Per-queue configuration written by the driver through the transport. */
struct virtio_queue_cfg {
	uint16_t num; /* size the driver chose */
	bool ready;
	uint64_t desc, avail, used;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops; /* static const */
	void *model;			  /* the device model's state, borrowed */
	pthread_mutex_t lock;
	uint64_t features;	  /* offered */
	uint64_t driver_features; /* accepted by the driver */
	uint32_t status;
	unsigned nqueues;
	uint16_t queue_max;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	atomic_uint isr; /* InterruptStatus, set by workers */
	/* interrupts raised (used buffers and configuration changes): the
	 * device's metrics, any thread adds, any reads */
	_Atomic uint64_t irqs;
	atomic_bool needs_reset; /* a worker found its queue broken */
	/* Why, for the log: the first reason since the last reset. Workers
	 * do not log (their filter allows writes to fd 2 only: core/log.h),
	 * so the transport logs it when the driver reads the status. */
	_Atomic(const char *) fail_why;
	atomic_bool fail_told;
	uint32_t config_generation;
	/* A reset in progress (virtio.c): the workers were told to stop
	 * (stopping) and the driver's reset waits for them (reset_pending):
	 * until both are over, the status reads non-zero. */
	bool stopping, reset_pending;
	/* The transport's own registers back to their reset values when a
	 * reset completes (virtio-pci: vectors, queue sizes); may be NULL.
	 * Called with the device lock held. */
	void (*transport_reset)(void *transport);
	void *transport; /* borrowed */
	/* transport selectors (virtio-mmio and virtio-pci both have them) */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	/* Interrupts: eventfds the transport owns and wires to KVM (irqfds).
	 * Writes raise the interrupt: irqfd for configuration changes,
	 * vq_irqfd[q] for queue q's used buffers. virtio-mmio gives them all
	 * one eventfd; virtio-pci one each (an MSI-X vector or INTx each). */
	int irqfd;
	int vq_irqfd[VIRTIO_MAX_QUEUES];
	const struct guest_mem *mem; /* borrowed */
	const char *name;	     /* for messages, e.g. "virtio-net@0xd0001000" */
	int seccomp;		     /* its workers' filters: enum jail_mode (0: on) */
	/* Tests and fuzz targets, set before the device starts: its workers
	 * run on the caller's thread (worker.h); vq_worker_create lists them
	 * in workers[] for vq_workers_run. */
	bool inline_workers;
	struct vq_worker *workers[VIRTIO_MAX_QUEUES]; /* borrowed */
	unsigned nworkers;
	/* Every worker of the device, threaded or inline, in creation order
	 * (vq_worker_create lists them): virtio_dev_pause reaches them here. */
	struct vq_worker *all_workers[VIRTIO_MAX_QUEUES]; /* borrowed */
	unsigned nall_workers;
	/* Ring positions across a snapshot: a pause records each active
	 * queue's (virtio_vq_record, on its worker), a restore sets them for
	 * the activation it makes (virtio_vq_place) and clears them after. */
	struct virtio_qpos {
		uint16_t last_avail, used_idx;
		bool valid;
	} qpos[VIRTIO_MAX_QUEUES];
};

/* The transport's interrupt eventfds for a device (borrowed). */
struct virtio_irqfds {
	int config;
	int vq[VIRTIO_MAX_QUEUES];
};
/* Copies the eventfds into d (before its workers are created). */
void virtio_set_irqfds(struct virtio_dev *d, const struct virtio_irqfds *irq);
/* Raises the device's configuration interrupt for `why` (VIRTIO_INT_*).
 * Any thread. */
void virtio_notify(struct virtio_dev *d, unsigned why);
/* The device's configuration changed (a disk's new size): the
 * configuration generation moves on (a driver reading across the change
 * reads again, virtio 1.2 2.5.1) and, once the driver is up (DRIVER_OK),
 * the configuration interrupt is raised. Any thread but one holding the
 * device lock; change the configuration first. */
void virtio_config_changed(struct virtio_dev *d);
/* Queue q has new used buffers: raises its interrupt. Its worker's thread. */
void virtio_notify_vq(struct virtio_dev *d, unsigned q);
/* The status register: read (with NEEDS_RESET when a worker failed, told
 * once in the log) and written by the driver (0: reset). Device lock held.
 * A reset waits VIRTIO_RESET_WAIT_MS at most for the workers (a vCPU thread
 * is waiting, holding the lock); if they are not done by then, the status
 * reads non-zero and other writes to it are ignored until they are, as the
 * driver must wait for 0 (virtio 1.2, 4.1.4.3.2). */
#define VIRTIO_RESET_WAIT_MS 100
uint32_t virtio_status(struct virtio_dev *d);
void virtio_set_status(struct virtio_dev *d, uint32_t v);
void virtio_reset(struct virtio_dev *d);
/* A worker found a queue broken: NEEDS_RESET and a config interrupt. */
void virtio_fail(struct virtio_dev *d, const char *why);
/* A device's config_read of its configuration structure cfg (size bytes,
 * filled by the device in the spec's struct): bytes [off, off + len) when
 * they lie inside it, else none (the transport reads 0). */
void virtio_config_copy(const void *cfg, size_t size, uint32_t off, uint8_t *data, unsigned len);
/* vq_pop and vq_push on q, one of d's queues, that mark a broken queue: on
 * < 0 (q is broken) d is in NEEDS_RESET with q's reason (virtio_fail).
 * Every pop and push of a device goes through these (or vq_worker_pop,
 * which also stops the worker); nothing else calls virtio_fail for a
 * queue. */
__attribute__((warn_unused_result)) int virtio_pop(struct virtio_dev *d, struct vq *q,
						   struct vq_chain *c);
int virtio_push(struct virtio_dev *d, struct vq *q, uint16_t head, uint32_t written);
/* Prints why the device failed, once per failure (transport threads). */
void virtio_tell_failure(struct virtio_dev *d, const char *name);

/* ---- snapshot (docs/snapshot.md) ---- */
/* The worker serving queue qi (or the device's own code for a queue it
 * keeps itself, vsock's RX) records q's positions once paused: nothing
 * popped is left unpushed then. */
void virtio_vq_record(struct virtio_dev *d, unsigned qi, const struct vq *q);
/* After vq_init of queue qi at activation: the positions a restore set,
 * if any (the next chain to take, the next used slot; the driver is
 * interrupted at the next push). */
void virtio_vq_place(struct virtio_dev *d, unsigned qi, struct vq *q);
struct snap_w;
struct snap_r;
struct err;
/* The vCPUs parked, one caller at a time: pause stops the device's queue
 * workers taking chains and waits until none of their I/O is in flight
 * (nothing of theirs reaches guest memory or the rings any more), until
 * `until` (CLOCK_MONOTONIC); -ETIMEDOUT if they did not (then call
 * resume). resume lets them go on, each kicked once. */
__attribute__((warn_unused_result)) int virtio_dev_pause(struct virtio_dev *d,
							 const struct timespec *until);
void virtio_dev_resume(struct virtio_dev *d);
/* The transport-independent state (features, status, selectors, each
 * queue's configuration and ring positions, the interrupt status, the
 * configuration generation), as section "virtio" inst; the device paused. */
void virtio_dev_save(struct virtio_dev *d, struct snap_w *w, uint32_t inst);
/* Back into a started device whose queues are idle (never activated): the
 * queues of a driver that had set DRIVER_OK are activated where they were,
 * and the device's workers kicked once. */
__attribute__((warn_unused_result)) int
virtio_dev_restore(struct virtio_dev *d, const struct snap_r *r, uint32_t inst, struct err *e);

#endif
