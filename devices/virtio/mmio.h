/* SPDX-License-Identifier: MIT */
/* virtio-mmio transport, version 2 (modern only). */
#ifndef CVMM_VIRTIO_MMIO_H
#define CVMM_VIRTIO_MMIO_H

#include <linux/virtio_mmio.h> /* VIRTIO_MMIO_* registers */

#include "devices/virtio/virtio.h"
#include "core/bus.h"

#define VIRTIO_MMIO_SIZE   0x200
#define VIRTIO_MMIO_VENDOR 0x4d4d5643 /* "CVMM" */

extern const struct bus_ops virtio_mmio_ops; /* the bus device is the struct virtio_dev */

#endif
