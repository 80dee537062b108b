/* SPDX-License-Identifier: MIT */
/* Micro-guest virtio-mmio driver (virtio 1.x, split queues, polled): just
 * enough to drive a device's queues from a tight loop. Devices are found in
 * the command line (`virtio_mmio.device=SIZE@BASE:IRQ`, as QEMU microvm and
 * cvmm with acpi=off write it). Interrupts are never used: the driver polls
 * the used ring and, with VIRTIO_F_EVENT_IDX, keeps used_event out of reach
 * and kicks only when the device's avail_event asks for it. */
#ifndef MG_VIRTIO_H
#define MG_VIRTIO_H

#include "mg.h"

#define MGV_MAX_DEVS  8
#define MGV_QSIZE_MAX 256

#define MGV_ID_NET 1
#define MGV_ID_BLK 2

#define MGV_F_EVENT_IDX 29
#define MGV_F_VERSION_1 32

#define MGV_DESC_F_NEXT	 1
#define MGV_DESC_F_WRITE 2

struct mgv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct mgv_queue {
	uint64_t base; /* device's mmio base */
	uint16_t index, size;
	bool event_idx;
	struct mgv_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint8_t *used;	  /* flags, idx, ring[size] of {id, len}, avail_event */
	uint16_t avail_idx;	  /* next avail->idx we publish */
	uint16_t kicked_idx;	  /* avail->idx at our last kick decision */
	uint16_t used_seen;	  /* used entries consumed */
	uint64_t kicks;		  /* notifications written */
};

struct mgv_dev {
	uint64_t base, size;
	uint32_t irq;
	uint32_t id;	   /* virtio device ID (0: none behind this window) */
	uint64_t features; /* negotiated */
};

/* Parses the command line's virtio_mmio.device= entries and reads each
 * window's DeviceID. Returns how many windows were found. */
unsigned mgv_discover(const struct mg_boot *b, struct mgv_dev *devs, unsigned max);
/* Resets the device and negotiates VERSION_1, plus each of `want` the device
 * offers. 0, or a negative code (the reason is printed as an MG FAIL). */
int mgv_init(struct mgv_dev *d, uint64_t want);
/* Sets up queue `index` with at most `size` entries (rings placed in the
 * driver's static memory). 0 or negative. */
int mgv_queue_setup(struct mgv_dev *d, struct mgv_queue *q, uint16_t index, uint16_t size);
int mgv_driver_ok(struct mgv_dev *d);
uint32_t mgv_config32(const struct mgv_dev *d, uint32_t off);
uint8_t mgv_config8(const struct mgv_dev *d, uint32_t off);

/* Publishes a chain head; mgv_kick() then makes every published head
 * visible and notifies the device if it asked for it. */
void mgv_publish(struct mgv_queue *q, uint16_t head);
void mgv_kick(struct mgv_queue *q);
/* Next used entry: true with *id and *len set, false if none. */
bool mgv_used(struct mgv_queue *q, uint32_t *id, uint32_t *len);

static inline uint32_t mgv_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}
static inline void mgv_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}

/* kvmclock (pvclock) time source, in ns since an arbitrary start. */
bool mg_clock_init(void); /* false if the VMM offers no kvmclock */
uint64_t mg_clock_ns(void);

#endif
