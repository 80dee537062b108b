/* SPDX-License-Identifier: MIT */
/* CLOCK_MONOTONIC as one number: what every timer, rate limiter, poll
 * window and phase timer measures with. */
#ifndef CVMM_CORE_CLOCK_H
#define CVMM_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline uint64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000ull;
}

#endif
