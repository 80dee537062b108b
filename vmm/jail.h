/* SPDX-License-Identifier: MIT */
/* The thread kinds of a VM and their seccomp tables (core/jail.h is the
 * mechanism): the index tests and docs/seccomp.md walk, and the filter of
 * a vCPU or the control thread. */
#ifndef CVMM_VMM_JAIL_H
#define CVMM_VMM_JAIL_H

#include "core/err.h"
#include "core/jail.h"

enum jail_kind {
	JAIL_VIRTIO_WORKER, /* a virtqueue worker: params[0] its io_uring fd, [1] its
			     * queue's irqfd, [2] jail_fd, [3] the device's
			     * configuration irqfd, [4] a second queue's irqfd */
	JAIL_NET_CTRL,      /* virtio-net's control queue worker: the same, and it
			     * attaches/detaches tap queues */
	JAIL_FS_WORKER,     /* a virtio-fs worker: the same, and the metadata calls
			     * of the FUSE server, each relative to a directory
			     * handle beneath the share */
	JAIL_VCPU,          /* a vCPU thread: params[0] its vCPU fd, [1] the VM fd */
	JAIL_CONTROL,       /* the CLI's control thread (poll loop, control socket,
			     * teardown): params[1] the VM fd */
	JAIL_RNG_WORKER,    /* virtio-rng's worker: a virtqueue worker's, and
			     * getrandom (it has no io_uring opcode) */
};
#define JAIL_NKINDS 6

/* The table for a thread kind (for docs and tests). */
const struct jail_rule *jail_rules(enum jail_kind kind, unsigned *n);
const char *jail_kind_name(enum jail_kind kind);
/* Builds the filter of a thread kind (jail_filter_build); *ctx is owned by
 * the caller until jail_load/jail_free. */
__attribute__((warn_unused_result)) int jail_build(enum jail_kind kind, enum jail_mode mode,
						   const int *params, void **ctx, struct err *e);

#endif
