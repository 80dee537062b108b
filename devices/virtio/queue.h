/* SPDX-License-Identifier: MIT */
/* Split virtqueue (virtio 1.x, section 2.7): popping available chains,
 * walking them into host iovecs, publishing used entries, and notification
 * suppression (VIRTIO_RING_F_EVENT_IDX). Transport-neutral and syscall-free: the
 * guest's memory is reached only through gm_ptr(), so it is unit-tested and
 * fuzzed with a fake guest memory.
 *
 * The guest is hostile: every ring and descriptor address goes through the
 * checked translation, the avail index may not run more than `size` ahead of
 * what we consumed, each chain walk is bounded (no loops, at most
 * VQ_MAX_SEGS segments, at most `size` direct descriptors and one indirect
 * table of at most its own length, no nested indirect tables), readable
 * descriptors must precede writable ones, and no host array is indexed by a
 * guest value without a bound. Any violation marks the queue broken; the
 * device then reports DEVICE_NEEDS_RESET. */
#ifndef CVMM_VIRTIO_QUEUE_H
#define CVMM_VIRTIO_QUEUE_H

#include <linux/virtio_ring.h> /* the ring's layout, VRING_*, VIRTIO_RING_F_* */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/mem.h"

#define VQ_MAX_SIZE 32768 /* the spec's limit for split queues */
#define VQ_MAX_SEGS 1024  /* longest chain we accept, in segments */

struct vq {
	/* configuration, set by vq_init */
	const struct guest_mem *mem; /* borrowed */
	uint16_t size;		     /* power of two, <= VQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	/* state, owned by the one thread that services the queue */
	uint16_t last_avail;	 /* next avail ring index we will consume */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t avail_seen;	 /* avail->idx as vq_pop last read it */
	uint16_t signalled_used; /* used_idx when we last notified the driver */
	bool signalled_valid;
	bool notify_off; /* vq_disable_notify in effect */
	bool polling;	 /* vq_poll_begin in effect: kicks held off until vq_poll_end */
	bool broken;	 /* a guest violation was seen: stop using the queue */
	const char *why; /* what broke it (static string) */
	/* A snapshot's pause (worker.h): vq_pop takes nothing and the
	 * notification calls write nothing (vq_enable_notify says no more
	 * came), so that the rings stay as they are; vq_push still works. */
	bool paused;
	/* vq_hold_used in effect: vq_push writes the entries, vq_publish_used
	 * the index */
	bool hold_used;
};

/* A walked descriptor chain: device-readable segments first (n_out), then
 * device-writable ones (n_in). iov[] point into guest memory. */
struct vq_chain {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_bytes, in_bytes;
	struct iovec iov[VQ_MAX_SEGS];
};

/* Checks the layout (alignment 16/2/4, size a power of two <= VQ_MAX_SIZE,
 * each ring wholly inside guest memory) and resets the state. -EINVAL if
 * the driver's configuration is bad. */
__attribute__((warn_unused_result)) int vq_init(struct vq *q, const struct guest_mem *m,
						uint16_t size, uint64_t desc_gpa,
						uint64_t avail_gpa, uint64_t used_gpa,
						bool event_idx);

/* Takes the next available chain and walks it into *c. Returns 1 when a
 * chain was taken, 0 when none is available, -EINVAL when the queue is (or
 * just became) broken: q->why says why. */
__attribute__((warn_unused_result)) int vq_pop(struct vq *q, struct vq_chain *c);

/* Gives back the last n chains vq_pop took, unused (they are still in the
 * available ring, which the driver does not touch until we use them): for
 * a device that found it cannot finish with them yet, e.g. virtio-net RX
 * when a packet needs more buffers than the driver posted. */
void vq_unpop(struct vq *q, uint16_t n);

/* Returns a chain to the driver with `written` bytes written into its
 * writable part. The queue keeps no per-chain state, so it cannot clamp:
 * the caller passes the count it really wrote (at most the chain's
 * in_bytes). -EINVAL if the queue is broken or head >= size (which breaks
 * it). */
__attribute__((warn_unused_result)) int vq_push(struct vq *q, uint16_t head, uint32_t written);

/* Batches used entries: after vq_hold_used, vq_push writes each entry but
 * not used->idx, which vq_publish_used then stores once for all of them
 * (one release store, one cache line the driver sees change). The driver
 * so never sees part of a batch, e.g. the first buffers of a packet spread
 * over several (virtio-net's mergeable buffers: a driver that finds fewer
 * than num_buffers drops the packet). Call vq_publish_used before
 * vq_need_notify. */
void vq_hold_used(struct vq *q);
void vq_publish_used(struct vq *q);

/* After one or more vq_push: whether the driver wants an interrupt now
 * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). */
bool vq_need_notify(struct vq *q);

/* Notification suppression on our side: while disabled the driver is asked
 * not to kick (used->flags or avail_event). vq_enable_notify returns true if
 * more chains became available meanwhile (so the caller polls again). The
 * servicing loop must end with vq_enable_notify returning false before it
 * waits for the next kick; with EVENT_IDX a driver that saw an avail_event
 * behind its index does not kick again. */
void vq_disable_notify(struct vq *q);
bool vq_enable_notify(struct vq *q);
/* For a device that found the available chains too few (e.g. a received
 * packet needs more buffers than posted; what it popped it gave back): asks
 * for a kick when the driver adds more than vq_pop last saw, not for the
 * chains already there (which vq_enable_notify would report again at once:
 * a spin). Returns true if more came since (try again), false if a kick
 * will come. */
bool vq_enable_notify_more(struct vq *q);

/* Polling (the worker's adaptive poll, worker.h): vq_poll_begin asks the
 * driver not to kick at all (with EVENT_IDX, avail_event is put behind the
 * chains we consumed, an index the driver has passed, so that no add
 * crosses it; without, VRING_USED_F_NO_NOTIFY), and until vq_poll_end
 * vq_enable_notify and vq_enable_notify_more only look (true if chains are
 * available) and leave kicks off. vq_poll_pending: whether the driver made
 * a chain available that we did not take (an acquire load of avail->idx,
 * no other access to guest memory; false for a broken or paused queue).
 * vq_poll_end is vq_enable_notify: kicks on again, then one more look
 * (true: chains came meanwhile, serve them before waiting for a kick). */
void vq_poll_begin(struct vq *q);
bool vq_poll_pending(struct vq *q);
bool vq_poll_end(struct vq *q);

/* Copies between a chain and host buffers. A cursor walks the readable
 * (out) or the writable (in) part; reads and writes never cross into the
 * other part and never go past its end. Return the bytes copied. */
struct vq_cursor {
	const struct vq_chain *c;
	unsigned seg; /* index into c->iov */
	unsigned end; /* one past the last segment of this part */
	size_t off;   /* offset inside iov[seg] */
};
void vq_cursor_out(struct vq_cursor *cur, const struct vq_chain *c);
void vq_cursor_in(struct vq_cursor *cur, const struct vq_chain *c);
size_t vq_cursor_read(struct vq_cursor *cur, void *dst, size_t n);
size_t vq_cursor_write(struct vq_cursor *cur, const void *src, size_t n);
size_t vq_cursor_skip(struct vq_cursor *cur, size_t n);
size_t vq_cursor_left(const struct vq_cursor *cur);
/* Fills iov (at most max entries) with the next n bytes of the cursor's part
 * and advances it. Returns the number of entries, or -ENOSPC if n bytes do
 * not fit in max entries or are not there. */
int vq_cursor_iov(struct vq_cursor *cur, size_t n, struct iovec *iov, unsigned max);

#endif
