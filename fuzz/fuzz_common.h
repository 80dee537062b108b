/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets: a fake guest memory allocated once per
 * process (fuzz harness only; library code keeps no globals), and little
 * helpers. */
#ifndef CVMM_FUZZ_COMMON_H
#define CVMM_FUZZ_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"
#include "core/le.h"
#include "core/mem.h"

#define FZ_MiB (1ULL << 20)
#define FZ_GiB (1ULL << 30)

/* One region [gpa, gpa + size), page-aligned, allocated once per process
 * (the first call's gpa and size); *host: its bytes. */
static inline const struct guest_mem *fz_mem_at(uint64_t gpa, uint64_t size, uint8_t **host)
{
	static struct guest_mem m;
	static uint8_t *mem;
	if (!mem) {
		mem = aligned_alloc(4096, (size + 4095) & ~4095ULL);
		if (!mem || gm_add(&m, gpa, size, mem) < 0)
			abort();
		memset(mem, 0, size);
	}
	*host = mem;
	return &m;
}

/* Low RAM [0, low) and, if high, [4 GiB, 4 GiB + high). */
static inline const struct guest_mem *fz_mem(uint64_t low, uint64_t high)
{
	static struct guest_mem m;
	static int ready;
	if (!ready) {
		void *a = calloc(1, low);
		if (!a || gm_add(&m, 0, low, a) < 0)
			abort();
		if (high) {
			void *b = calloc(1, high);
			if (!b || gm_add(&m, 4 * FZ_GiB, high, b) < 0)
				abort();
		}
		ready = 1;
	}
	return &m;
}

#define FZ_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define fz_rd32(p) le_get32(p)
#define fz_rd64(p) le_get64(p)

static inline uint8_t fz_sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The input, taken a byte at a time (0 once it is used up). */
struct fz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fz_take(struct fz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* Whether this kernel (or emulator: qemu-user has none) has io_uring, for
 * the targets that drive a device with its real ring. */
static inline int fz_have_uring(void)
{
	static int have = -1;
	if (have < 0)
		have = !(syscall(SYS_io_uring_setup, 0, NULL) < 0 && errno == ENOSYS);
	return have;
}

/* A failed call must leave a message; a successful one none. */
static inline void fz_check_err(int r, const struct err *e)
{
	if (r < 0)
		FZ_CHECK(e->code == r && e->msg[0] != '\0');
	else
		FZ_CHECK(r == 0 && e->code == 0);
}

#endif
