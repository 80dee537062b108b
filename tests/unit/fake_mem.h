/* SPDX-License-Identifier: MIT */
/* Fake guest memory for the boot unit tests: calloc'd regions registered
 * with gm_add. */
#ifndef CVMM_TEST_FAKE_MEM_H
#define CVMM_TEST_FAKE_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/mem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

struct fake_mem {
	struct guest_mem m;
	uint8_t *host[GM_MAX_REGIONS]; /* owned */
};

/* Adds a region at gpa; returns 0 or -1. */
static inline int fake_mem_add(struct fake_mem *f, uint64_t gpa, uint64_t size)
{
	unsigned i = f->m.n;
	if (i >= GM_MAX_REGIONS)
		return -1;
	f->host[i] = calloc(1, size);
	if (!f->host[i])
		return -1;
	if (gm_add(&f->m, gpa, size, f->host[i]) < 0) {
		free(f->host[i]);
		f->host[i] = NULL;
		return -1;
	}
	return 0;
}

/* One region [0, size). */
static inline int fake_mem_init(struct fake_mem *f, uint64_t size)
{
	memset(f, 0, sizeof(*f));
	return fake_mem_add(f, 0, size);
}

/* Two regions: [0, low) and [4 GiB, 4 GiB + high). */
static inline int fake_mem_init2(struct fake_mem *f, uint64_t low, uint64_t high)
{
	memset(f, 0, sizeof(*f));
	if (fake_mem_add(f, 0, low) < 0)
		return -1;
	return fake_mem_add(f, 4 * GiB, high);
}

static inline void fake_mem_free(struct fake_mem *f)
{
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		free(f->host[i]);
	memset(f, 0, sizeof(*f));
}

/* Host pointer for a gpa that the test knows is mapped. */
static inline uint8_t *fake_at(const struct fake_mem *f, uint64_t gpa, uint64_t len)
{
	return gm_ptr(&f->m, gpa, len);
}

/* Little-endian fields (boot/le.h), by the short names the tests use. */
#define rd16(p)	   le_get16(p)
#define rd32(p)	   le_get32(p)
#define rd64(p)	   le_get64(p)
#define wr16(p, v) le_put16(p, v)
#define wr32(p, v) le_put32(p, v)
#define wr64(p, v) le_put64(p, v)

static inline uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

#endif
