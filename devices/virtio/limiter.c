/* SPDX-License-Identifier: MIT */
/* A device's rate limiter, shared by its workers (limiter.h). */
#include "devices/virtio/limiter.h"

#include "core/clock.h"
#include "core/log.h"
#include "devices/virtio/device.h"

void vq_limiter_init(struct vq_limiter *l, const struct rl_cfg *c)
{
	pthread_mutex_init(&l->lock, NULL);
	rl_init(&l->rl, c);
	l->cfg = *c;
	atomic_init(&l->on, rl_cfg_on(c));
	atomic_init(&l->throttled, 0);
	atomic_init(&l->throttled_ns, 0);
}

void vq_limiter_destroy(struct vq_limiter *l)
{
	pthread_mutex_destroy(&l->lock);
}

void vq_limiter_set(struct vq_limiter *l, const struct rl_cfg *c)
{
	pthread_mutex_lock(&l->lock);
	rl_update(&l->rl, c);
	l->cfg = *c;
	atomic_store(&l->on, rl_cfg_on(c));
	pthread_mutex_unlock(&l->lock);
}

bool vq_limit_slow(struct vq_limiter *l, struct vq_worker *w, uint64_t bytes, uint64_t ops,
		   uint64_t *since)
{
	uint64_t now = clock_mono_ns(), wait = 0;
	pthread_mutex_lock(&l->lock);
	if (atomic_load_explicit(&l->on, memory_order_relaxed))
		wait = rl_take(&l->rl, bytes, ops, now);
	pthread_mutex_unlock(&l->lock);
	if (wait == 0) {
		if (*since) { /* a wait ended */
			atomic_fetch_add(&l->throttled_ns, now - *since);
			*since = 0;
		}
		return true;
	}
	if (!*since) { /* a wait begins */
		*since = now;
		atomic_fetch_add(&l->throttled, 1);
	}
	log_trace("%s: rate limiter: %llu bytes, %llu ops wait %llu ns (timers %u)", w->name,
		  (unsigned long long)bytes, (unsigned long long)ops, (unsigned long long)wait,
		  w->timers);
	vq_worker_timer(w, wait);
	return false;
}
