/* SPDX-License-Identifier: MIT */
/* Seccomp policy as data: one table per thread kind, one reason per rule.
 * Filters are built on the main thread and loaded by the thread they jail,
 * for that thread only (no TSYNC). A violation kills the process (SIGSYS). */
#ifndef CVMM_JAIL_H
#define CVMM_JAIL_H

#include "vmm/err.h"

enum jail_kind {
	JAIL_VIRTIO_WORKER, /* a virtqueue worker: params[0] its io_uring fd, [1] its irqfd */
	JAIL_NET_CTRL,      /* virtio-net's control queue worker: the same, and it
			     * attaches/detaches tap queues */
	JAIL_FS_WORKER,     /* a virtio-fs worker: the same, and the metadata calls
			     * of the FUSE server, each relative to a directory
			     * handle beneath the share */
};

struct jail_rule {
	int nr;           /* syscall number */
	const char *name;
	int param;        /* -1: any arguments; else arg0 must equal params[param] */
	long arg1;        /* -1: any; else arg1 must equal it (ioctl requests; with
			   * param, both must match) */
	const char *why;
};

/* The table for a thread kind (for docs and tests). */
const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n);
/* Builds the filter; *ctx is owned by the caller until jail_load/jail_free. */
__attribute__((warn_unused_result)) int jail_build(enum jail_kind kind, const int *params,
						   void **ctx, struct err *e);
/* In the thread to jail: NO_NEW_PRIVS and the filter, this thread only.
 * Frees ctx. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int jail_load(void *ctx);
void jail_free(void *ctx);

#endif
