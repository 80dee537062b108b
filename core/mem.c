/* SPDX-License-Identifier: MIT */
#include "core/mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif

void *gm_map_hugetlb(uint64_t size)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
}

int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	if (len)
		memcpy(p, src, len);
	return 0;
}

int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	if (len)
		memcpy(dst, p, len);
	return 0;
}

int gm_fill(const struct guest_mem *m, uint64_t gpa, int c, uint64_t len)
{
	void *p = gm_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	if (len)
		memset(p, c, len);
	return 0;
}

void gm_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *r = &m->r[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size || len > r->size - off)
			continue;
		unsigned long *map = __atomic_load_n(&m->dirty[i], __ATOMIC_ACQUIRE);
		if (!map)
			return;
		const unsigned bits = 8 * sizeof(unsigned long);
		uint64_t first = off / GM_DIRTY_PAGE, last = (off + len - 1) / GM_DIRTY_PAGE;
		for (uint64_t p = first; p <= last; p++)
			__atomic_fetch_or(&map[p / bits], 1UL << (p % bits), __ATOMIC_RELAXED);
		return;
	}
}

int gm_add(struct guest_mem *m, uint64_t gpa, uint64_t size, void *host)
{
	if (m->n >= GM_MAX_REGIONS || size == 0 || gpa + size < gpa)
		return -EINVAL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *r = &m->r[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	m->r[m->n++] = (struct gm_region){.gpa = gpa, .size = size, .host = host};
	m->total += size;
	return 0;
}
