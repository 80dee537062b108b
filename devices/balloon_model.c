/* SPDX-License-Identifier: MIT */
/* virtio-balloon's pure model: PFN arrays folded into runs, runs checked
 * against guest RAM and trimmed to whole host pages, statistics buffers
 * read. No system calls: tests/unit/test_balloon.c and
 * fuzz/fuzz_balloon.c drive it. */
#include <errno.h>

#include "core/le.h"
#include "devices/balloon.h"

/* Heapsort, in place: no allocation, no system call (glibc's qsort may
 * ask sysinfo how much memory there is, which a worker's filter refuses). */
static void pfn_sift(uint32_t *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1] > a[c])
			c++;
		if (a[i] >= a[c])
			return;
		uint32_t t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

static void pfn_sort(uint32_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		pfn_sift(a, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		pfn_sift(a, 0, end);
	}
}

size_t balloon_runs(uint32_t *pfns, size_t n, struct balloon_run *runs, size_t max)
{
	size_t k = 0;
	if (!n || !max)
		return 0;
	pfn_sort(pfns, n);
	runs[0] = (struct balloon_run){pfns[0], 1};
	for (size_t i = 1; i < n; i++) {
		struct balloon_run *r = &runs[k];
		uint64_t end = (uint64_t)r->pfn + r->pages; /* one past: 2^32 at most */
		if (pfns[i] < end)
			continue; /* a duplicate */
		if (pfns[i] == end) {
			r->pages++;
			continue;
		}
		if (++k == max)
			return k;
		runs[k] = (struct balloon_run){pfns[i], 1};
	}
	return k + 1;
}

int balloon_span(const struct guest_mem *m, uint64_t gpa, uint64_t len, size_t host_page,
		 uint8_t **host, uint64_t *out_gpa, uint64_t *out_len)
{
	uint8_t *p = gm_ptr(m, gpa, len);
	if (!p || !len)
		return -EFAULT;
	uintptr_t a = (uintptr_t)p, end = a + (uintptr_t)len;
	uintptr_t lo = (a + host_page - 1) & ~(uintptr_t)(host_page - 1);
	uintptr_t hi = end & ~(uintptr_t)(host_page - 1);
	if (hi <= lo) /* no whole host page in it */
		lo = hi = a;
	*host = (uint8_t *)lo;
	*out_gpa = gpa + (lo - a);
	*out_len = hi - lo;
	return 1;
}

int balloon_gpa_of(const struct guest_mem *m, const void *host, uint64_t len, uint64_t *gpa)
{
	uintptr_t h = (uintptr_t)host;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *r = &m->r[i];
		uintptr_t base = (uintptr_t)r->host;
		if (h < base || h - base > r->size || len > r->size - (h - base))
			continue;
		*gpa = r->gpa + (h - base);
		return 0;
	}
	return -EFAULT;
}

unsigned balloon_stats_parse(const uint8_t *buf, size_t len, struct balloon_stats *st)
{
	unsigned bad = 0;
	size_t n = len / BALLOON_STAT_BYTES;
	if (n > BALLOON_STATS_MAX) {
		n = BALLOON_STATS_MAX;
		bad++;
	} else if (len % BALLOON_STAT_BYTES) {
		bad++;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = buf + i * BALLOON_STAT_BYTES;
		uint16_t tag = le_get16(e);
		if (tag >= BALLOON_STATS_TAGS) {
			bad++;
			continue;
		}
		st->val[tag] = le_get64(e + 2);
		st->present |= 1u << tag;
	}
	return bad;
}
