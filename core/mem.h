/* SPDX-License-Identifier: MIT */
/* Guest physical memory: a short list of regions, and the one checked
 * (gpa, len) -> host pointer translation every other module uses. */
#ifndef CVMM_MEM_H
#define CVMM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host; /* borrowed from the owner of the mapping */
};

/* A page of the dirty bitmaps (GM_DIRTY_PAGE bytes, a bit each). */
#define GM_DIRTY_PAGE 4096u

struct guest_mem {
	struct gm_region r[GM_MAX_REGIONS];
	unsigned n;
	uint64_t total; /* sum of region sizes */
	/* Diff snapshots (vmm/snapmem.h, snapmem_dirty_start): per region, a
	 * bit per page that a device wrote (KVM does not see those writes),
	 * or NULL when nobody tracks. Borrowed from the tracker; set and
	 * cleared with atomic stores while the VM is paused, read with
	 * atomic loads; bits are set with atomic OR (gm_mark_dirty), from any
	 * worker thread. */
	unsigned long *dirty[GM_MAX_REGIONS];
};

/* Returns a host pointer for [gpa, gpa + len) if the whole range lies inside
 * one region, else NULL. Overflow-safe; len 0 is valid at any in-region gpa. */
static inline void *gm_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *r = &m->r[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

/* Copy helpers on top of gm_ptr: 0 or -EFAULT. */
__attribute__((warn_unused_result)) int gm_write(const struct guest_mem *m, uint64_t gpa,
						 const void *src, uint64_t len);
__attribute__((warn_unused_result)) int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst,
						uint64_t len);
__attribute__((warn_unused_result)) int gm_fill(const struct guest_mem *m, uint64_t gpa, int c,
						uint64_t len);

/* Marks the pages of [gpa, gpa + len) dirty in the device bitmap of the
 * region that holds it (nothing when nobody tracks, or when the range is
 * not wholly inside one region: gm_ptr refused it anyway). */
void gm_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Guest RAM on 2 MiB hugetlbfs pages (size a multiple of 2 MiB), private
 * and anonymous, the pages reserved from the host's pool by the mapping
 * itself (no MAP_NORESERVE): a pool too small fails here (MAP_FAILED,
 * errno set), never as a SIGBUS at a later fault. */
void *gm_map_hugetlb(uint64_t size);

/* Adds a region (the caller owns host). -EINVAL on overlap or too many. */
__attribute__((warn_unused_result)) int gm_add(struct guest_mem *m, uint64_t gpa, uint64_t size,
					       void *host);

#endif
