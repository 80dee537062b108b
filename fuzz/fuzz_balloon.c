/* SPDX-License-Identifier: MIT */
/* virtio-balloon's model (devices/balloon_model.c) on what a hostile
 * driver may send: PFN arrays folded into runs, each run checked against
 * guest RAM (two regions with the hole between), and statistics buffers.
 * Input layout:
 *   [0]    knobs: bit 0 64 KiB host pages (else 4 KiB), bit 1 PFNs folded
 *          near RAM (each taken modulo 0x2000, the high region's PFNs
 *          moved to 4 GiB), bits 2-7 unused
 *   [1..2] le16 n: the PFN array's bytes (at most what is left)
 *   then   n bytes of le32 PFNs (a partial one at the end dropped, as the
 *          device does), the rest a statistics buffer
 * Contract checked: runs are sorted, apart (never touching: those would
 * have been one), within 32-bit PFNs, no more pages than PFNs given, and
 * hold every PFN given; a run's span is refused exactly when the run is not
 * wholly inside one region, else it lies inside the run and inside RAM,
 * host-page aligned, a whole number of host pages (or is empty, at the
 * run's start); the statistics' values
 * are only for the tags named, and the failures counted at most one per
 * entry plus one. */
#include "fuzz/fuzz_common.h"

#include "devices/balloon.h"

#define LOW  (16 * FZ_MiB)
#define HIGH (16 * FZ_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the host pages must be what the regions are aligned to: one
	 * aligned mapping per process, 64 KiB aligned */
	static struct guest_mem m;
	static uint8_t *ram;
	if (!ram) {
		ram = aligned_alloc(0x10000, LOW + HIGH);
		if (!ram || gm_add(&m, 0, LOW, ram) < 0 ||
		    gm_add(&m, 4 * FZ_GiB, HIGH, ram + LOW) < 0)
			abort();
	}
	if (size < 3)
		return 0;
	uint8_t knobs = data[0];
	size_t n = le_get16(data + 1);
	data += 3;
	size -= 3;
	if (n > size)
		n = size;
	size_t host_page = knobs & 1 ? 0x10000 : 4096;
	static uint32_t pfns[BALLOON_PFN_BATCH], given[BALLOON_PFN_BATCH];
	static struct balloon_run runs[BALLOON_PFN_BATCH];
	size_t np = n / 4 < BALLOON_PFN_BATCH ? n / 4 : BALLOON_PFN_BATCH;
	for (size_t i = 0; i < np; i++) {
		uint32_t p = le_get32(data + 4 * i);
		if (knobs & 2) {
			p %= 0x2000;
			if (p >= 0x1000)
				p += (uint32_t)(4 * FZ_GiB >> 12) - 0x1000;
		}
		pfns[i] = given[i] = p;
	}
	size_t k = balloon_runs(pfns, np, runs, BALLOON_PFN_BATCH);
	FZ_CHECK(k <= np);
	uint64_t pages = 0;
	for (size_t i = 0; i < k; i++) {
		FZ_CHECK(runs[i].pages >= 1);
		uint64_t end = (uint64_t)runs[i].pfn + runs[i].pages;
		FZ_CHECK(end <= 1ULL << 32);
		if (i + 1 < k)
			FZ_CHECK(end < runs[i + 1].pfn);
		pages += runs[i].pages;
		uint64_t gpa = (uint64_t)runs[i].pfn << 12, len = (uint64_t)runs[i].pages << 12;
		uint8_t *h;
		uint64_t at, got;
		int r = balloon_span(&m, gpa, len, host_page, &h, &at, &got);
		FZ_CHECK(r == (gm_ptr(&m, gpa, len) ? 1 : -EFAULT));
		if (r < 0)
			continue;
		if (!got) { /* no whole host page: the run's start, nothing to release */
			FZ_CHECK(at == gpa && h == gm_ptr(&m, gpa, len));
			continue;
		}
		FZ_CHECK(at >= gpa && at - gpa < host_page && at + got <= gpa + len);
		FZ_CHECK(got % host_page == 0 && (uintptr_t)h % host_page == 0);
		FZ_CHECK(gm_ptr(&m, at, got) == h);
		uint64_t back;
		FZ_CHECK(balloon_gpa_of(&m, h, got, &back) == 0 && back == at);
	}
	FZ_CHECK(pages <= np);
	for (size_t i = 0; i < np; i++) {
		bool in = false;
		for (size_t j = 0; j < k && !in; j++)
			in = given[i] >= runs[j].pfn && given[i] - runs[j].pfn < runs[j].pages;
		FZ_CHECK(in);
	}
	struct balloon_stats st = {0};
	size_t sl = size - n;
	unsigned bad = balloon_stats_parse(data + n, sl, &st);
	FZ_CHECK(st.present < 1u << BALLOON_STATS_TAGS);
	FZ_CHECK(bad <= sl / BALLOON_STAT_BYTES + 1);
	for (unsigned t = 0; t < BALLOON_STATS_TAGS; t++)
		if (!(st.present & 1u << t))
			FZ_CHECK(st.val[t] == 0);
	return 0;
}
