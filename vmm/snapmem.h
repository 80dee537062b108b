/* SPDX-License-Identifier: MIT */
/* Guest memory to and from a snapshot's memory file (docs/snapshot-memory.md).
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
#include "core/jail.h"
#include "core/mem.h"

enum snapmem_backend { SNAPMEM_FILE, SNAPMEM_UFFD, SNAPMEM_LAZY };

/* Writes guest memory m into fd (a regular file). With dirty (one bitmap
 * per region, a bit per 4 KiB page), only those pages are written;
 * otherwise every page that is not zero, and the rest read as zeros. A
 * file of another size is truncated first; one of m's size is written
 * over in place (Firecracker's rule): it may be the file m is mapped
 * from, and a diff written onto its base merges into it. */
__attribute__((warn_unused_result)) int snapmem_save(const struct guest_mem *m, int fd,
						     unsigned long *const *dirty, struct err *e);

struct snapmem {
	enum snapmem_backend backend;
	int fd;	  /* owned: the memory file (FILE, LAZY), or -1 */
	int uffd; /* owned: the userfaultfd (UFFD, LAZY), or -1 */
	unsigned n;
	void *map[GM_MAX_REGIONS]; /* owned mappings */
	uint64_t len[GM_MAX_REGIONS], off[GM_MAX_REGIONS];
	/* LAZY: the loader thread; UFFD: the thread that watches the
	 * handler's socket. Both are `cvmm-snapmem`, jailed (JAIL_SNAPMEM). */
	pthread_t thread;
	bool thread_started;
	int stop_fd; /* owned eventfd: ends the thread */
	/* Set by the caller before snapmem_start (snapmem_init: JAIL_ON, -1):
	 * the thread's seccomp mode, and a borrowed eventfd (the VM's exit
	 * event) that the thread writes 1 to when guest memory can no longer
	 * be served (the handler hung up; the memory file cannot be read):
	 * why then says so, and failed is true. Faults then wait until
	 * snapmem_release (or snapmem_destroy). */
	enum jail_mode jail;
	int fail_fd;
	/* Set by the caller before snapmem_map (snapmem_init: 0): the
	 * restored VM's huge pages (CVMM_HUGE_*). 2 MiB hugetlbfs pages come
	 * only through UFFD (the handler is told page_size 2 MiB); FILE and
	 * LAZY refuse them. Transparent ones are asked for (MADV_HUGEPAGE) on
	 * UFFD's and LAZY's anonymous memory. */
	int huge;
	bool failed; /* atomic: read with __atomic_load_n */
	char why[160];
	/* UFFD */
	int sock;	/* owned: the connection to the handler (kept open, as
			 * Firecracker does: its hang-up says the handler is gone) */
	char path[108]; /* the handler's socket */
	/* LAZY */
	uint8_t *buf;			 /* owned: one chunk of the file */
	bool on_demand;			 /* set before snapmem_start: serve faults only, no
					  * prefetch (the thread runs until stopped) */
	bool done;			 /* atomic: every data page loaded, the thread ended */
	uint64_t faults, copied, zeroed; /* counters, read after the thread ended */
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
/* UFFD only (else nothing): the handshake alone (connect, send the regions
 * and the userfaultfd), for a caller that must do it before the privilege
 * drop (the socket outside a chroot) and start the thread after it, as a
 * thread must not exist before the drop. snapmem_start does it when it was
 * not done. */
__attribute__((warn_unused_result)) int snapmem_connect(struct snapmem *sm, struct err *e);
/* Stops the loader, unmaps, closes. NULL-safe; safe on a zeroed sm with
 * fd = uffd = stop_fd = -1. */
void snapmem_destroy(struct snapmem *sm);
void snapmem_init(struct snapmem *sm);
/* After a failure (sm->failed), once the vCPUs are stopped and before the
 * device workers are joined: stops the thread and closes cvmm's copy of
 * the userfaultfd. With the handler gone that was the last reference: the
 * kernel wakes every thread still waiting in a fault and the regions
 * become plain anonymous memory (zeros where nothing was loaded), so that
 * no thread stays blocked and the teardown ends. Guest memory is garbage
 * from then on: never save it. */
void snapmem_release(struct snapmem *sm);
/* LAZY: waits (at most timeout_ms; < 0: for ever) until every data page
 * is loaded. 0, -ETIMEDOUT, or -EIO when the loader failed. */
__attribute__((warn_unused_result)) int snapmem_wait_loaded(struct snapmem *sm, int timeout_ms);

/* Diff snapshots: what changed in guest memory since tracking started or
 * since the last collect. KVM's dirty log (the memory slots re-registered
 * with KVM_MEM_LOG_DIRTY_PAGES; slot i is region i, as vm.c registers
 * them) and the pages devices wrote, which KVM does not see (m->dirty,
 * marked by the virtqueues: every device-writable buffer of a chain when
 * it is popped, the used ring when written). */
struct snapmem_dirty {
	unsigned n;
	uint64_t words[GM_MAX_REGIONS];	    /* unsigned longs per bitmap */
	unsigned long *dev[GM_MAX_REGIONS]; /* owned: installed as m->dirty[i] */
	unsigned long *kvm[GM_MAX_REGIONS]; /* owned: KVM_GET_DIRTY_LOG's buffer */
	unsigned long *out[GM_MAX_REGIONS]; /* owned: the union, for snapmem_save */
};
/* Starts tracking: bitmaps for each region of m, installed in m->dirty,
 * and (vm_fd >= 0) the slots re-registered with dirty logging. Call it
 * while the VM is paused (or before it runs). */
__attribute__((warn_unused_result)) int snapmem_dirty_start(int vm_fd, struct guest_mem *m,
							    struct snapmem_dirty *d, struct err *e);
/* With the VM paused: d->out[i] = KVM's dirty log of slot i (which
 * KVM_GET_DIRTY_LOG clears) | the devices' bits (cleared). Pass d->out
 * to snapmem_save as its dirty argument. */
__attribute__((warn_unused_result)) int
snapmem_dirty_collect(int vm_fd, struct guest_mem *m, struct snapmem_dirty *d, struct err *e);
/* A diff without tracking (Firecracker's fallback since its 1.13): out[i]
 * (allocated, a bit per page, for snapmem_save) marks every page of region
 * i that is resident (mincore): a superset of the pages written since the
 * last snapshot, as long as the host swapped none of them out. Free each
 * out[i] after. */
__attribute__((warn_unused_result)) int snapmem_resident(const struct guest_mem *m,
							 unsigned long **out, struct err *e);
/* Stops tracking: slots without dirty logging, m->dirty cleared, the
 * bitmaps freed. NULL-safe on a zeroed d. */
void snapmem_dirty_stop(int vm_fd, struct guest_mem *m, struct snapmem_dirty *d);

/* Merges the diff memory file at diff onto the full one at base (same
 * size): every data extent of diff is copied over base. */
__attribute__((warn_unused_result)) int snapmem_merge(const char *base, const char *diff,
						      struct err *e);

#endif
