/* SPDX-License-Identifier: MIT */
/* The configuration a snapshot keeps to rebuild its VM (vmm/snapshot.c):
 * written and read here, apart from the VM, so that the reader is a fuzz
 * target of its own (fuzz/fuzz_snap_state.c). */
#ifndef CVMM_VMM_SNAPSHOT_H
#define CVMM_VMM_SNAPSHOT_H

#include <stdbool.h>

#include "core/err.h"
#include "core/snap.h"
#include "cvmm/cvmm.h"

/* Sections "config", "disk" i, "net" i. */
void snapshot_config_write(const struct cvmm_config *c, bool pci, struct snap_w *w);
/* Fills c (from cvmm_config_new) with the snapshot's devices and sizes,
 * host's own settings (console, seccomp, jail, kick signal; host may be
 * NULL) and rs's overrides; every value checked. */
__attribute__((warn_unused_result)) int snapshot_config_read(const struct snap_r *r,
							     const struct cvmm_restore *rs,
							     const struct cvmm_config *host,
							     struct cvmm_config *c, struct err *e);

/* The whole state file at path, checked (snap_open, this host's
 * architecture): *buf allocated, r over it. */
__attribute__((warn_unused_result)) int snapshot_read_state(const char *path, uint8_t **buf,
							    struct snap_r *r, struct err *e);

#endif
