/* SPDX-License-Identifier: MIT */
/* The thread kinds of a VM and their seccomp tables (core/jail.h is the
 * mechanism): the index tests, cvmm_jail_policy and docs/seccomp.md walk,
 * and the filter of a vCPU or the control thread. */
#ifndef CVMM_VMM_JAIL_H
#define CVMM_VMM_JAIL_H

#include <stdbool.h>

#include "core/err.h"
#include "core/jail.h"

enum jail_kind {
	JAIL_VIRTIO_WORKER,  /* a virtqueue worker: its ring, its irqfds */
	JAIL_NET_CTRL,	     /* virtio-net's control queue worker: the same, and it
			      * attaches/detaches tap queues */
	JAIL_FS_WORKER,	     /* a virtio-fs worker: the same, and the metadata calls
			      * of the FUSE server, each relative to a directory
			      * handle beneath the share */
	JAIL_VCPU,	     /* a vCPU thread: its vCPU fd, the VM fd */
	JAIL_CONTROL,	     /* the CLI's control thread (poll loop, control socket,
			      * teardown): the VM fd, the listening socket */
	JAIL_RNG_WORKER,     /* virtio-rng's worker: a virtqueue worker's, and
			      * getrandom (it has no io_uring opcode) */
	JAIL_SNAPMEM,	     /* a restored VM's memory thread (vmm/snapmem.h): the
			      * LAZY loader (its userfaultfd, the memory file) or
			      * the UFFD handler's watcher (its socket) */
	JAIL_BALLOON_WORKER, /* virtio-balloon's workers: a virtqueue worker's,
			      * madvise with MADV_DONTNEED only */
	JAIL_NET_TX,	     /* virtio-net's TX workers: a virtqueue worker's, and
			      * the clock (MMDS) */
};
#define JAIL_NKINDS 9

/* A thread kind's table (NULL: no such kind). */
const struct jail_table *jail_table(enum jail_kind kind);
/* The table for a thread kind (for docs and tests). */
const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n);
/* Sanitizer builds only (else none): the rules every table gets, or with
 * control those the control table gets besides. */
const struct jail_rule *jail_sanitizer_rules(bool control, unsigned *n);
const char *jail_kind_name(enum jail_kind kind);
/* The rules a control thread gets besides its table where the VM's disks
 * may be replaced while it runs (cvmm_jail.update_disks). */
const struct jail_rule *jail_disk_rules(unsigned *n);
/* The rules a control thread gets besides where it may snapshot the VM
 * (cvmm_jail.snapshot_dir). */
const struct jail_rule *jail_snapshot_rules(unsigned *n);
#define JAIL_EXTRA_DISKS     1u /* jail_disk_rules */
#define JAIL_EXTRA_SNAPSHOTS 2u /* jail_snapshot_rules */
#define JAIL_EXTRAS_ALL	     3u
/* The tables of a thread kind's filter with the extras asked for (only a
 * control thread has any), into t: how many (0: no such kind). */
unsigned jail_kind_tables(enum jail_kind kind, unsigned extras, const struct jail_table *t[4]);
/* Builds the filter of a thread kind (jail_filter_build) from the slots
 * of fds its rules name; *ctx is owned by the caller until
 * jail_load/jail_free. */
__attribute__((warn_unused_result)) int jail_build(enum jail_kind kind, enum jail_mode mode,
						   const struct jail_fds *fds, void **ctx,
						   struct err *e);
/* The same; a control thread's filter has the extra tables asked for
 * (JAIL_EXTRA_*) too. */
__attribute__((warn_unused_result)) int jail_build_ex(enum jail_kind kind, enum jail_mode mode,
						      const struct jail_fds *fds, unsigned extras,
						      void **ctx, struct err *e);

#endif
