/* SPDX-License-Identifier: MIT */
/* Guest memory to and from a snapshot's memory file (docs/snapshot.md).
 *
 * The file is the guest RAM regions in order, region i at the sum of the
 * sizes before it (Firecracker's layout), its size the total. A full dump
 * writes only the pages that are not zero (the rest are holes); a diff
 * writes the pages dirtied since the last snapshot, zero or not, and
 * leaves the rest holes, to be merged onto its base (snapmem_merge).
 *
 * A restore maps guest RAM from it one of three ways: FILE, MAP_PRIVATE
 * of the file (pages fault in from the page cache, copy-on-write, so
 * clones of one snapshot share it); UFFD, anonymous memory registered
 * with a userfaultfd that is handed, with the region list, to an external
 * handler over a unix socket (Firecracker's protocol); LAZY, the same
 * userfaultfd served by cvmm's own thread, which fills faults from the
 * file and prefetches the rest in the background. */
#ifndef CVMM_SNAPMEM_H
#define CVMM_SNAPMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

enum snapmem_backend { SNAPMEM_FILE, SNAPMEM_UFFD, SNAPMEM_LAZY };

/* Writes guest memory m into fd (a regular file, truncated first). With
 * dirty (one bitmap per region, a bit per 4 KiB page), only those pages
 * are written; otherwise every page that is not zero. */
__attribute__((warn_unused_result)) int snapmem_save(const struct guest_mem *m, int fd,
						     unsigned long *const *dirty, struct err *e);

struct snapmem {
	enum snapmem_backend backend;
	int fd;	  /* owned: the memory file (FILE, LAZY), or -1 */
	int uffd; /* owned: the userfaultfd (UFFD, LAZY), or -1 */
	unsigned n;
	void *map[GM_MAX_REGIONS]; /* owned mappings */
	uint64_t len[GM_MAX_REGIONS], off[GM_MAX_REGIONS];
	/* LAZY: the loader thread */
	pthread_t thread;
	bool thread_started;
	int stop_fd; /* owned eventfd: ends the loader */
};

/* Maps n regions of guest RAM (gpa[i], size[i]) from the memory file or
 * handler at path, the backend's way; each region is gm_add'ed to *m.
 * Checks the file's size against the regions (a memory file that is too
 * short is refused, named). sm is set up even on failure (destroy it). */
__attribute__((warn_unused_result)) int snapmem_map(struct snapmem *sm, enum snapmem_backend b,
						    const char *path, const uint64_t *gpa,
						    const uint64_t *size, unsigned n,
						    struct guest_mem *m, struct err *e);
/* Once the regions are KVM's memory slots, before any vCPU runs: UFFD
 * sends the userfaultfd and the region list to the handler; LAZY starts
 * its loader thread. Nothing for FILE. */
__attribute__((warn_unused_result)) int snapmem_start(struct snapmem *sm, struct err *e);
/* Stops the loader, unmaps, closes. NULL-safe; safe on a zeroed sm with
 * fd = uffd = stop_fd = -1. */
void snapmem_destroy(struct snapmem *sm);
void snapmem_init(struct snapmem *sm);

/* Merges the diff memory file at diff onto the full one at base (same
 * size): every data extent of diff is copied over base. */
__attribute__((warn_unused_result)) int snapmem_merge(const char *base, const char *diff,
						      struct err *e);

#endif
