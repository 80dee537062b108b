/* SPDX-License-Identifier: MIT */
/* virtio-balloon (virtio 1.2, section 5.5): the guest gives pages back
 * (inflate), takes them again (deflate), reports its memory statistics and,
 * with free page reporting, reports free pages; cvmm releases the pages it
 * is given (docs/balloon.md). */
#ifndef CVMM_BALLOON_H
#define CVMM_BALLOON_H

#include <linux/virtio_balloon.h> /* VIRTIO_BALLOON_F_*, VIRTIO_ID_BALLOON */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/device.h"

#define BALLOON_QUEUE_MAX    256
#define BALLOON_PAGE	     (1u << VIRTIO_BALLOON_PFN_SHIFT) /* 4 KiB, whatever the host's */
#define BALLOON_MIB_PAGES    (1u << (20 - VIRTIO_BALLOON_PFN_SHIFT))
#define BALLOON_PFN_BATCH    1024u /* PFNs read, sorted and released at a time */
#define BALLOON_CHAIN_PFNS   (64u * BALLOON_PFN_BATCH) /* PFNs of one chain at most */
#define BALLOON_STATS_TAGS   16u		       /* the tags cvmm names (Linux 6.12's) */
#define BALLOON_STATS_MAX    256u   /* entries of one statistics buffer read at most */
#define BALLOON_STAT_BYTES   10u    /* struct virtio_balloon_stat: le16 tag, le64 val, packed */
#define BALLOON_INTERVAL_MAX 65535u /* seconds (Firecracker's u16) */

/* ---- the pure model (balloon_model.c): unit-tested and fuzzed ---- */

/* A run of contiguous guest pages. */
struct balloon_run {
	uint32_t pfn, pages;
};
/* Sorts pfns[0..n) in place and folds them into runs of contiguous pages
 * (duplicates count once), at most max runs; returns how many. */
size_t balloon_runs(uint32_t *pfns, size_t n, struct balloon_run *runs, size_t max);
/* What of run r may be released: the host pages (host_page bytes, a power
 * of two >= 4 KiB) wholly inside it, where the whole run is guest RAM
 * (gm_ptr). 1 with *host, *gpa and *len set (len may be 0: no whole host
 * page in it; *host and *gpa are then the run's start), -EFAULT when the run is not wholly in one
 * region of RAM (nothing of it is released). */
int balloon_span(const struct guest_mem *m, uint64_t gpa, uint64_t len, size_t host_page,
		 uint8_t **host, uint64_t *out_gpa, uint64_t *out_len);
/* The guest address of host..host+len, which must lie in one region of m:
 * 0, or -EFAULT. */
int balloon_gpa_of(const struct guest_mem *m, const void *host, uint64_t len, uint64_t *gpa);

/* The guest's statistics: the values of the tags it gave (present: a bit
 * per tag). */
struct balloon_stats {
	uint32_t present;
	uint64_t val[BALLOON_STATS_TAGS];
};
/* Reads len bytes of (le16 tag, le64 value) entries into *st (entries of
 * the same tag: the last wins). Returns the entries of unknown tags, plus
 * one for a partial entry at the end; entries past BALLOON_STATS_MAX are
 * not read (counted as one). */
unsigned balloon_stats_parse(const uint8_t *buf, size_t len, struct balloon_stats *st);

/* ---- the device ---- */

struct balloon_cfg {
	uint32_t target_pages; /* at start */
	bool deflate_on_oom, reporting;
	unsigned stats_interval_s; /* 0: no statistics queue */
	/* guest RAM is hugetlbfs: a 4 KiB page cannot go back to the host
	 * alone, so inflated and reported pages stay (the guest still cannot
	 * use them), as with Firecracker's 2M huge pages */
	bool keep_pages;
};

/* What the control thread reads. */
struct balloon_state {
	uint32_t target_pages, actual_pages;
	bool deflate_on_oom, reporting;
	unsigned stats_interval_s;
	struct balloon_stats stats;
	uint64_t stats_updates; /* buffers of statistics the guest gave */
	uint64_t stats_ms;	/* CLOCK_MONOTONIC, ms: the last one */
};

struct balloon;
__attribute__((warn_unused_result)) int
balloon_open(struct balloon **out, const struct balloon_cfg *cfg, unsigned index, struct err *e);
__attribute__((warn_unused_result)) int balloon_start(struct balloon *g,
						      const struct guest_mem *mem,
						      const struct virtio_irqfds *irq,
						      struct err *e);
struct virtio_dev *balloon_vdev(struct balloon *g);
int balloon_kick_fd(struct balloon *g, unsigned q);
unsigned balloon_queues(const struct balloon *g);
void balloon_destroy(struct balloon *g);

/* Any thread but one holding the device lock: the target the guest is
 * told (a configuration change). */
void balloon_set_target(struct balloon *g, uint32_t pages);
/* Any thread: a new statistics interval (1..65535 s); -EINVAL when the
 * device has no statistics queue or seconds is 0 (statistics cannot be
 * turned on or off once the device exists). */
__attribute__((warn_unused_result)) int balloon_set_interval(struct balloon *g, unsigned seconds);
void balloon_state(struct balloon *g, struct balloon_state *st);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc balloon_desc;

#endif
