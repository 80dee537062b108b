/* SPDX-License-Identifier: MIT */
/* The virtio device kinds a VM may have, in slot order, and how each one's
 * own configuration comes out of the VM's (struct cvmm_config). vm.c walks
 * this list; adding a device kind is one row in vdevs.c. */
#ifndef CVMM_VDEVS_H
#define CVMM_VDEVS_H

#include "devices/virtio/device.h"

struct cvmm_config;

struct vm_vdev_src {
	const struct vdev_desc *desc; /* static const, the device's own */
	/* How many the configuration asks for. */
	unsigned (*count)(const struct cvmm_config *c);
	/* Opens the i-th: its configuration from c, then desc->open. */
	int (*open)(void **out, const struct cvmm_config *c, unsigned i, struct err *e);
	/* Optional, main thread, before the privilege drop: what the device
	 * must know of the jail (vsock: its socket path as seen in a chroot). */
	int (*jail)(void *model, const struct cvmm_config *c, struct err *e);
};

extern const struct vm_vdev_src vm_vdev_srcs[];
extern const unsigned vm_nvdev_srcs;
/* The row of the disks (cvmm_config_add_disk's devices, in its order):
 * what cvmm_vm_update_disk's index counts. */
extern const struct vm_vdev_src *const vm_vdev_disks;

#endif
