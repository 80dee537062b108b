/* SPDX-License-Identifier: MIT */
/* The ring rig: the driver's side of a split virtqueue (virtio 1.2, 2.7),
 * laid out in a guest memory the test owns, for the unit tests and the
 * fuzz targets alike. It writes descriptors (direct or in an indirect
 * table) and the avail ring, and reads the used ring; what the device
 * does with them is the test's business. No test framework: a gpa outside
 * guest memory is the test's own mistake, and aborts with a message.
 * Header-only, so that fuzz/build.sh needs no more sources. */
#ifndef CVMM_TEST_RIG_RING_H
#define CVMM_TEST_RIG_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "devices/virtio/queue.h"
#include "core/mem.h"

#define RR_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: ring rig: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* One queue as the driver sees it. */
struct rr_ring {
	const struct guest_mem *m;  /* borrowed */
	uint64_t desc, avail, used; /* gpa */
	uint16_t size;
	uint16_t avail_idx; /* the driver's next avail index */
	uint16_t next_desc; /* the next free descriptor (reused round-robin) */
};

/* A segment of a chain: [gpa, gpa + len), VRING_DESC_F_WRITE or 0 in
 * flags (the rig adds NEXT). */
struct rr_seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* The host pointer of [gpa, gpa + len) in the test's memory. */
static inline uint8_t *rr_at(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(m, gpa, len);
	if (!p) {
		fprintf(stderr, "ring rig: gpa 0x%llx + %llu outside guest memory\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return p;
}

/* Zeroes the rings (descriptors, avail, used) and the driver's indices. */
static inline void rr_clear(struct rr_ring *r)
{
	memset(rr_at(r->m, r->desc, 16ULL * r->size), 0, 16ULL * r->size);
	memset(rr_at(r->m, r->avail, 6 + 2ULL * r->size), 0, 6 + 2ULL * r->size);
	memset(rr_at(r->m, r->used, 6 + 8ULL * r->size), 0, 6 + 8ULL * r->size);
	r->avail_idx = r->next_desc = 0;
}

/* The rings where the test wants them, zeroed. */
static inline void rr_set(struct rr_ring *r, const struct guest_mem *m, uint64_t desc,
			  uint64_t avail, uint64_t used, uint16_t size)
{
	*r = (struct rr_ring){.m = m, .desc = desc, .avail = avail, .used = used, .size = size};
	rr_clear(r);
}

/* The rings at base: descriptors, the avail ring right after them, the
 * used ring at the next 4 KiB; zeroed. */
static inline void rr_set_at(struct rr_ring *r, const struct guest_mem *m, uint64_t base,
			     uint16_t size)
{
	uint64_t avail = base + 16ULL * size;
	rr_set(r, m, base, avail, (avail + 6 + 2ULL * size + 4095) & ~4095ULL, size);
}

/* Descriptor i of the table at gpa `table` (the ring's, or an indirect
 * one). */
static inline void rr_desc_at(const struct rr_ring *r, uint64_t table, unsigned i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = rr_at(r->m, table + 16ULL * i, 16);
	le_put64(d, addr);
	le_put32(d + 8, len);
	le_put16(d + 12, flags);
	le_put16(d + 14, next);
}

/* Descriptor i of the ring's table. */
static inline void rr_desc(const struct rr_ring *r, unsigned i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	rr_desc_at(r, r->desc, i, addr, len, flags, next);
}

/* The avail ring's index, published as a driver does (release). */
static inline void rr_set_avail_idx(struct rr_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	__atomic_store_n((uint16_t *)(void *)rr_at(r->m, r->avail + 2, 2), idx, __ATOMIC_RELEASE);
}

/* Makes the chain at head available (again, as it is: a driver reposting
 * a buffer the device used). */
static inline void rr_avail(struct rr_ring *r, uint16_t head)
{
	le_put16(rr_at(r->m, r->avail + 4 + 2ULL * (r->avail_idx % r->size), 2), head);
	rr_set_avail_idx(r, (uint16_t)(r->avail_idx + 1));
}

/* Writes the chain into the next free descriptors (no avail entry);
 * returns its head. */
static inline uint16_t rr_chain(struct rr_ring *r, const struct rr_seg *s, unsigned n)
{
	uint16_t head = r->next_desc;
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = r->next_desc;
		r->next_desc = (uint16_t)((r->next_desc + 1) % r->size);
		rr_desc(r, i, s[k].gpa, s[k].len,
			(uint16_t)(s[k].flags | (k + 1 < n ? VRING_DESC_F_NEXT : 0)), r->next_desc);
	}
	return head;
}

/* The chain in the next free descriptors, made available; its head. */
static inline uint16_t rr_post(struct rr_ring *r, const struct rr_seg *s, unsigned n)
{
	uint16_t head = rr_chain(r, s, n);
	rr_avail(r, head);
	return head;
}

/* The chain in an indirect table at gpa `table`, behind one descriptor of
 * the ring, made available; its head. */
static inline uint16_t rr_post_indirect(struct rr_ring *r, uint64_t table, const struct rr_seg *s,
					unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		rr_desc_at(r, table, k, s[k].gpa, s[k].len,
			   (uint16_t)(s[k].flags | (k + 1 < n ? VRING_DESC_F_NEXT : 0)),
			   (uint16_t)(k + 1 < n ? k + 1 : 0));
	struct rr_seg ind = {table, (uint32_t)(16 * n), VRING_DESC_F_INDIRECT};
	return rr_post(r, &ind, 1);
}

/* n segments of the given lengths, back to back from gpa, each with
 * flags, posted as one chain; its head. */
static inline uint16_t rr_post_lens(struct rr_ring *r, uint64_t gpa, const uint32_t *lens,
				    unsigned n, uint16_t flags)
{
	struct rr_seg s[64];
	RR_CHECK(n <= 64);
	for (unsigned k = 0; k < n; k++) {
		s[k] = (struct rr_seg){gpa, lens[k], flags};
		gpa += lens[k];
	}
	return rr_post(r, s, n);
}

static inline uint16_t rr_used_idx(const struct rr_ring *r)
{
	return __atomic_load_n((uint16_t *)(void *)rr_at(r->m, r->used + 2, 2), __ATOMIC_ACQUIRE);
}

/* Used element i (counted from the start, wrapping): its id and length. */
static inline void rr_used(const struct rr_ring *r, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = rr_at(r->m, r->used + 4 + 8ULL * (i % r->size), 8);
	*id = le_get32(e);
	*len = le_get32(e + 4);
}

static inline uint16_t rr_used_flags(const struct rr_ring *r)
{
	return le_get16(rr_at(r->m, r->used, 2));
}

/* EVENT_IDX: the device's avail_event (after the used ring) and the
 * driver's used_event (after the avail ring). */
static inline uint16_t rr_avail_event(const struct rr_ring *r)
{
	return le_get16(rr_at(r->m, r->used + 4 + 8ULL * r->size, 2));
}

static inline void rr_set_used_event(const struct rr_ring *r, uint16_t v)
{
	le_put16(rr_at(r->m, r->avail + 4 + 2ULL * r->size, 2), v);
}

static inline void rr_set_avail_flags(const struct rr_ring *r, uint16_t v)
{
	le_put16(rr_at(r->m, r->avail, 2), v);
}

/* For fuzz targets whose descriptors and avail ring come from the input:
 * folds them so that most inputs get past the ring checks: each
 * descriptor into [lo, hi) with a length below max_len, its flags masked
 * with flag_mask, its next below the ring's size; the avail index at most
 * the size, each entry below it. */
static inline void rr_fold(const struct rr_ring *r, uint64_t lo, uint64_t hi, uint32_t max_len,
			   uint16_t flag_mask)
{
	uint16_t qs = r->size;
	for (unsigned i = 0; i < qs; i++) {
		uint8_t *d = rr_at(r->m, r->desc + 16ULL * i, 16);
		uint64_t at = lo + le_get64(d) % (hi - lo);
		uint32_t len = le_get32(d + 8) % max_len;
		if (at + len > hi)
			at = hi - len;
		le_put64(d, at);
		le_put32(d + 8, len);
		le_put16(d + 12, (uint16_t)(le_get16(d + 12) & flag_mask));
		le_put16(d + 14, (uint16_t)(le_get16(d + 14) % qs));
	}
	uint8_t *a = rr_at(r->m, r->avail, 6 + 2ULL * qs);
	le_put16(a + 2, (uint16_t)(le_get16(a + 2) % (qs + 1u)));
	for (unsigned i = 0; i < qs; i++)
		le_put16(a + 4 + 2 * i, (uint16_t)(le_get16(a + 4 + 2 * i) % qs));
}

#endif
