/* SPDX-License-Identifier: MIT */
/* A device's rate limiter (core/ratelimit.h) shared by its queue workers
 * and replaced from any thread (cvmm_vm_set_*_limiter). A worker asks
 * vq_limit before serving a chain; refused, it puts the chain back
 * (vq_unpop), stops taking chains and is served again by a timeout on its
 * own ring when the tokens are there: no busy wait, no thread of its own,
 * no request dropped or failed. Without a limit the ask is one load and
 * one branch. */
#ifndef CVMM_VIRTIO_LIMITER_H
#define CVMM_VIRTIO_LIMITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ratelimit.h"
#include "devices/virtio/worker.h"

struct vq_limiter {
	pthread_mutex_t lock;
	struct rl rl;				  /* under lock */
	struct rl_cfg cfg;			  /* under lock: the configuration in force */
	atomic_bool on;				  /* a bucket limits: the workers ask rl */
	_Atomic uint64_t throttled, throttled_ns; /* waits and their time, ended ones */
};

void vq_limiter_init(struct vq_limiter *l, const struct rl_cfg *c);
void vq_limiter_destroy(struct vq_limiter *l);
/* Any thread: the limiter takes c (rl_update: a changed bucket starts
 * full). The caller then wakes the workers (vq_worker_wake) so that a wait
 * is reconsidered under the new limits. */
void vq_limiter_set(struct vq_limiter *l, const struct rl_cfg *c);

bool vq_limit_slow(struct vq_limiter *l, struct vq_worker *w, uint64_t bytes, uint64_t ops,
		   uint64_t *since);
/* Worker side: whether a request of `bytes` and `ops` may go now (its
 * tokens taken). If not, a timeout is armed on w for when it may and the
 * caller must keep the request (vq_unpop) and take no other. *since is
 * the worker's own: when its current wait began (0: none), for the
 * counters. */
static inline bool vq_limit(struct vq_limiter *l, struct vq_worker *w, uint64_t bytes, uint64_t ops,
			    uint64_t *since)
{
	if (!atomic_load_explicit(&l->on, memory_order_relaxed) && !*since)
		return true;
	return vq_limit_slow(l, w, bytes, ops, since);
}

#endif
