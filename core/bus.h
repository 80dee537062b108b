/* SPDX-License-Identifier: MIT */
/* An address-range bus (one for port I/O, one for MMIO). Built on the main
 * thread before the vCPUs start, read-only afterwards, so dispatch from vCPU
 * threads takes no lock. Device handlers lock their own state. */
#ifndef CVMM_BUS_H
#define CVMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* off is relative to the range base; len is 1, 2, 4 or 8. data holds
	 * len bytes, little endian. A missing read handler reads all-ones. */
	void (*read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data, unsigned len);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops; /* borrowed, static const */
	void *dev;		   /* borrowed */
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	struct bus_range r[BUS_MAX_RANGES]; /* sorted by base, no overlaps */
	unsigned n;
};

/* -EINVAL on overlap or zero length, -ENOSPC when full. */
__attribute__((warn_unused_result)) int bus_add(struct bus *b, uint64_t base, uint64_t len,
						const struct bus_ops *ops, void *dev,
						const char *name);
const struct bus_range *bus_find(const struct bus *b, uint64_t addr, unsigned len);
/* Returns false when nothing is mapped there (reads then give all-ones). */
bool bus_read(const struct bus *b, uint64_t addr, uint8_t *data, unsigned len);
bool bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, unsigned len);

#endif
