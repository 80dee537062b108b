/* SPDX-License-Identifier: MIT */
/* bench/limitcost: what a rate limiter costs a request on the worker's path
 * (devices/virtio/limiter.h), measured directly, in nanoseconds per call:
 * the ask with no limiter (the inline load and branch), and with a limiter
 * whose buckets never run dry (its lock, the clock, the buckets' sums).
 * No KVM needed. usage: limitcost [CALLS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio/limiter.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ns per vq_limit call on l, best of 5 runs of n calls */
static double per_call(struct vq_limiter *l, struct vq_worker *w, unsigned long n)
{
	double best = 1e9;
	for (int run = 0; run < 5; run++) {
		uint64_t since = 0;
		unsigned long went = 0;
		double t0 = now_s();
		for (unsigned long i = 0; i < n; i++)
			went += vq_limit(l, w, 4096, 1, &since);
		double ns = (now_s() - t0) * 1e9 / (double)n;
		if (went != n) {
			fprintf(stderr, "limitcost: %lu of %lu went: the limiter throttled\n", went,
				n);
			exit(1);
		}
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
	struct vq_worker w;
	memset(&w, 0, sizeof(w));
	struct rl_cfg none = {0};
	/* 2^50 bytes and 2^30 ops a second, both buckets full at the start */
	struct rl_cfg never = {.bw = {1ULL << 50, 0, 1000}, .ops = {1ULL << 30, 0, 1000}};
	struct vq_limiter a, b;
	vq_limiter_init(&a, &none);
	vq_limiter_init(&b, &never);
	double off = per_call(&a, &w, n), on = per_call(&b, &w, n / 10);
	printf("no limiter: %.1f ns per request; a limiter that never throttles: %.1f ns\n", off,
	       on);
	vq_limiter_destroy(&a);
	vq_limiter_destroy(&b);
	return 0;
}
