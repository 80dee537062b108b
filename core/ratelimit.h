/* SPDX-License-Identifier: MIT */
/* Token buckets, Firecracker's rate limiter model (docs/rate-limiters.md):
 * a limiter is two buckets, bandwidth (bytes) and operations, each of `size`
 * tokens that refill continuously from empty to full in `refill_ms`, plus
 * an optional one-time burst spent before the bucket. A bucket of size 0
 * or refill time 0 does not limit. Pure: no clock of its own, every call
 * takes the caller's monotonic time in nanoseconds, so tests decide time. */
#ifndef CVMM_CORE_RATELIMIT_H
#define CVMM_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rl_bucket_cfg {
	uint64_t size;		 /* tokens; 0: no limit */
	uint64_t one_time_burst; /* extra tokens, spent first, never refilled */
	uint64_t refill_ms;	 /* from empty to full; 0: no limit */
};
struct rl_cfg {
	struct rl_bucket_cfg bw, ops;
};

/* Bounds a configuration must keep (rl_cfg_check): every product the
 * arithmetic makes fits 128 bits, a budget in 64. */
#define RL_SIZE_MAX   (1ULL << 62)
#define RL_REFILL_MAX (1000ULL * 1000 * 1000 * 1000) /* ms: about 31 years */

struct rl_bucket {
	struct rl_bucket_cfg cfg;
	uint64_t burst; /* what is left of the one-time burst */
	/* Tokens in the bucket, at most cfg.size. Negative after a request
	 * larger than the bucket (taken from a full one): the debt is refilled
	 * before anything else goes, so the rate holds. */
	int64_t budget;
	uint64_t last_ns; /* when budget was last brought up to date */
	bool started;	  /* last_ns is set (the first take sets it) */
};
struct rl {
	struct rl_bucket bw, ops;
};

/* Whether the bucket, or either of the limiter's, limits anything. */
bool rl_bucket_on(const struct rl_bucket_cfg *c);
bool rl_cfg_on(const struct rl_cfg *c);
/* 0, or -EINVAL for sizes or refill times beyond the bounds above. */
int rl_cfg_check(const struct rl_cfg *c);
/* A limiter with both buckets full (and their bursts whole). */
void rl_init(struct rl *l, const struct rl_cfg *c);
/* The limiter takes cfg c: a bucket whose configuration changed starts
 * full again; one that did not keeps its state (as Firecracker's update). */
void rl_update(struct rl *l, const struct rl_cfg *c);
/* Takes `bytes` and `ops` tokens at time now_ns if both buckets have them
 * (the burst first, then the bucket), and returns 0; otherwise takes
 * nothing and returns the nanoseconds (at least 1) until they will be
 * there. A request larger than a bucket goes once that bucket is full and
 * leaves it owing the excess: no request waits forever, and the rate
 * holds over time. */
uint64_t rl_take(struct rl *l, uint64_t bytes, uint64_t ops, uint64_t now_ns);

#endif
