/* SPDX-License-Identifier: MIT */
/* Firecracker's boot timer (its --boot-timer): the guest writes the byte
 * 123 at the device's offset 0 when it has booted, and the log gets how
 * long that took since the device was made, in wall-clock and in the
 * process's CPU time, in Firecracker's words. Anything else is ignored. */
#include "devices/legacy.h"

#include <time.h>

#include "core/log.h"

static uint64_t us_of(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void boot_timer_init(struct boot_timer *t)
{
	t->start_us = us_of(CLOCK_MONOTONIC);
	t->start_cpu_us = us_of(CLOCK_PROCESS_CPUTIME_ID);
}

static void boot_timer_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct boot_timer *t = dev;
	if (off != 0 || len != 1 || data[0] != BOOT_TIMER_MAGIC)
		return;
	uint64_t us = us_of(CLOCK_MONOTONIC) - t->start_us;
	uint64_t cpu = us_of(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_us;
	t->last_us = us;
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)us, (unsigned long long)(us / 1000), (unsigned long long)cpu,
		 (unsigned long long)(cpu / 1000));
}

const struct bus_ops boot_timer_ops = {.write = boot_timer_write};
