/* SPDX-License-Identifier: MIT */
/* A test playing the guest's driver for a real virtio device (its real
 * workers, io_uring and files): the device's registers through the
 * virtio-mmio or virtio-pci transport's bus handlers (what a vCPU thread
 * calls), split rings laid out in a guest memory the test owns, kicks
 * written to the queues' ioeventfds, used entries polled. */
#ifndef CVMM_TEST_VDEV_RIG_H
#define CVMM_TEST_VDEV_RIG_H

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "fake_mem.h"

/* virtio-mmio registers (virtio 1.2, 4.2.2) */
#define VD_DEVICE_FEATURES     0x010
#define VD_DEVICE_FEATURES_SEL 0x014
#define VD_DRIVER_FEATURES     0x020
#define VD_DRIVER_FEATURES_SEL 0x024
#define VD_QUEUE_SEL	       0x030
#define VD_QUEUE_NUM	       0x038
#define VD_QUEUE_READY	       0x044
#define VD_STATUS	       0x070
#define VD_QUEUE_DESC_LOW      0x080
#define VD_QUEUE_DESC_HIGH     0x084
#define VD_QUEUE_DRIVER_LOW    0x090
#define VD_QUEUE_DRIVER_HIGH   0x094
#define VD_QUEUE_DEVICE_LOW    0x0a0
#define VD_QUEUE_DEVICE_HIGH   0x0a4

#define VD_MAX_QUEUES 4

/* One queue as the driver sees it. */
struct vd_ring {
	uint64_t desc, avail, used; /* gpa */
	uint16_t size;
	uint16_t avail_idx; /* the driver's next avail index */
	uint16_t next_desc; /* next free descriptor (the test reuses them round-robin) */
	int kick_fd;	    /* borrowed: the queue's ioeventfd */
};

struct vd {
	const struct guest_mem *m; /* borrowed */
	struct virtio_dev *d;	   /* borrowed */
	/* borrowed: the device's virtio-pci function (vd_pci_attach), or
	 * NULL: the registers are virtio-mmio's */
	struct virtio_pci *pci;
	unsigned nq;
	struct vd_ring q[VD_MAX_QUEUES];
};

static inline uint8_t *vd_at(const struct vd *v, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(v->m, gpa, len);
	if (!p)
		fail_msg("gpa 0x%llx + %llu outside guest memory", (unsigned long long)gpa,
			 (unsigned long long)len);
	return p;
}

static inline uint32_t vd_read(const struct vd *v, uint64_t off)
{
	uint8_t b[4];
	virtio_mmio_ops.read(v->d, off, b, 4);
	return rd32(b);
}

static inline void vd_write(const struct vd *v, uint64_t off, uint32_t val)
{
	uint8_t b[4];
	wr32(b, val);
	virtio_mmio_ops.write(v->d, off, b, 4);
}

/* virtio-pci: a field of the common configuration (BAR0 offset off). */
static inline uint64_t vd_pci_read(const struct vd *v, uint64_t off, unsigned len)
{
	uint8_t b[8] = {0};
	virtio_pci_bar_ops.read(v->pci, VIRTIO_PCI_COMMON_OFF + off, b, len);
	return rd64(b);
}

static inline void vd_pci_write(const struct vd *v, uint64_t off, uint64_t val, unsigned len)
{
	uint8_t b[8];
	wr64(b, val);
	virtio_pci_bar_ops.write(v->pci, VIRTIO_PCI_COMMON_OFF + off, b, len);
}

static int vd_fake_msi_route(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	(void)opaque, (void)gsi, (void)addr, (void)data;
	return 0;
}

static int vd_fake_irqfd(void *opaque, int fd, uint32_t gsi, bool assign)
{
	(void)opaque, (void)fd, (void)gsi, (void)assign;
	return 0;
}

static const struct virtio_pci_irq_ops vd_fake_irq_ops = {
	.msi_route = vd_fake_msi_route,
	.irqfd = vd_fake_irqfd,
};

/* Puts the device behind virtio-pci function p (interrupt wiring faked,
 * memory decoding on): the driver then uses its common configuration. */
static inline void vd_pci_attach(struct vd *v, struct virtio_pci *p, const int *kick_fds)
{
	virtio_pci_init(p, v->d, 0xe1000000, 10, 24, &vd_fake_irq_ops, NULL, kick_fds);
	uint8_t cmd[2] = {0x06, 0}; /* memory space, bus master */
	virtio_pci_fn_ops.cfg_write(p, 0x04, cmd, 2);
	v->pci = p;
}

/* The device status, through whichever transport. */
static inline uint32_t vd_status(const struct vd *v)
{
	return v->pci ? (uint32_t)vd_pci_read(v, 0x14, 1) : vd_read(v, VD_STATUS);
}

static inline void vd_set_status(const struct vd *v, uint32_t s)
{
	if (v->pci)
		vd_pci_write(v, 0x14, s, 1);
	else
		vd_write(v, VD_STATUS, s);
}

static inline double vd_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The status register until it reads 0 (a reset in progress reads non-zero,
 * virtio 1.2 4.1.4.3.2), for at most `secs`; returns the last value. */
static inline uint32_t vd_wait_reset(const struct vd *v, double secs)
{
	double until = vd_now() + secs;
	uint32_t s;
	while ((s = vd_status(v)) != 0 && vd_now() < until)
		usleep(1000);
	return s;
}

/* The driver's reset: writes 0, then waits for the status to read 0. */
static inline void vd_reset(const struct vd *v)
{
	vd_set_status(v, 0);
	assert_int_equal(vd_wait_reset(v, 10), 0);
}

/* Zeroes queue i's rings (descriptors, avail, used) and the driver's
 * indices. */
static inline void vd_ring_clear(struct vd *v, unsigned i)
{
	struct vd_ring *q = &v->q[i];
	memset(vd_at(v, q->desc, 16ULL * q->size), 0, 16ULL * q->size);
	memset(vd_at(v, q->avail, 6 + 2ULL * q->size), 0, 6 + 2ULL * q->size);
	memset(vd_at(v, q->used, 6 + 8ULL * q->size), 0, 6 + 8ULL * q->size);
	q->avail_idx = q->next_desc = 0;
}

/* Queue i's rings where the test wants them, zeroed. */
static inline void vd_ring_set(struct vd *v, unsigned i, uint64_t desc, uint64_t avail,
			       uint64_t used, uint16_t size, int kick_fd)
{
	struct vd_ring *q = &v->q[i];
	*q = (struct vd_ring){
		.desc = desc, .avail = avail, .used = used, .size = size, .kick_fd = kick_fd};
	vd_ring_clear(v, i);
	if (i >= v->nq)
		v->nq = i + 1;
}

/* Queue i's rings at base: descriptors, the avail ring right after, the
 * used ring at the next 4 KiB. */
static inline void vd_ring_at(struct vd *v, unsigned i, uint64_t base, uint16_t size, int kick_fd)
{
	uint64_t avail = base + 16ULL * size;
	uint64_t used = (avail + 6 + 2ULL * size + 4095) & ~4095ULL;
	vd_ring_set(v, i, base, avail, used, size, kick_fd);
}

/* vd_init over virtio-pci's common configuration. */
static inline uint32_t vd_pci_init(struct vd *v, uint64_t features)
{
	vd_pci_write(v, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	vd_pci_write(v, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	uint64_t offered = 0;
	for (unsigned s = 0; s < 2; s++) {
		vd_pci_write(v, 0x00, s, 4);
		offered |= vd_pci_read(v, 0x04, 4) << (32 * s);
	}
	uint64_t want = (features | (1ULL << VIRTIO_F_VERSION_1)) & offered;
	for (unsigned s = 0; s < 2; s++) {
		vd_pci_write(v, 0x08, s, 4);
		vd_pci_write(v, 0x0c, (uint32_t)(want >> (32 * s)), 4);
	}
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	vd_pci_write(v, 0x14, st, 1);
	for (unsigned i = 0; i < v->nq; i++) {
		struct vd_ring *q = &v->q[i];
		vd_ring_clear(v, i);
		vd_pci_write(v, 0x16, i, 2);
		vd_pci_write(v, 0x18, q->size, 2);
		vd_pci_write(v, 0x20, q->desc, 4);
		vd_pci_write(v, 0x24, q->desc >> 32, 4);
		vd_pci_write(v, 0x28, q->avail, 4);
		vd_pci_write(v, 0x2c, q->avail >> 32, 4);
		vd_pci_write(v, 0x30, q->used, 4);
		vd_pci_write(v, 0x34, q->used >> 32, 4);
		vd_pci_write(v, 0x1c, 1, 2);
	}
	vd_pci_write(v, 0x14, st | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	return vd_status(v);
}

/* The driver's initialisation (virtio 1.2, 3.1.1) over the device's
 * transport: the rings as they are (zeroed afresh), VERSION_1 plus
 * `features` (of those offered) accepted. Returns the status read back
 * (DRIVER_OK set on success). */
static inline uint32_t vd_init(struct vd *v, uint64_t features)
{
	if (v->pci)
		return vd_pci_init(v, features);
	vd_write(v, VD_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vd_write(v, VD_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	uint64_t offered = 0;
	for (unsigned s = 0; s < 2; s++) {
		vd_write(v, VD_DEVICE_FEATURES_SEL, s);
		offered |= (uint64_t)vd_read(v, VD_DEVICE_FEATURES) << (32 * s);
	}
	uint64_t want = (features | (1ULL << VIRTIO_F_VERSION_1)) & offered;
	for (unsigned s = 0; s < 2; s++) {
		vd_write(v, VD_DRIVER_FEATURES_SEL, s);
		vd_write(v, VD_DRIVER_FEATURES, (uint32_t)(want >> (32 * s)));
	}
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	vd_write(v, VD_STATUS, st);
	for (unsigned i = 0; i < v->nq; i++) {
		struct vd_ring *q = &v->q[i];
		vd_ring_clear(v, i);
		vd_write(v, VD_QUEUE_SEL, i);
		vd_write(v, VD_QUEUE_NUM, q->size);
		vd_write(v, VD_QUEUE_DESC_LOW, (uint32_t)q->desc);
		vd_write(v, VD_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
		vd_write(v, VD_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
		vd_write(v, VD_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
		vd_write(v, VD_QUEUE_DEVICE_LOW, (uint32_t)q->used);
		vd_write(v, VD_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
		vd_write(v, VD_QUEUE_READY, 1);
	}
	vd_write(v, VD_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	return vd_read(v, VD_STATUS);
}

/* A segment of a chain: [gpa, gpa + len), device-writable if `in`. */
struct vd_seg {
	uint64_t gpa;
	uint32_t len;
	bool in;
};

/* Writes the chain into the next descriptors and makes it available
 * (no kick); returns its head. */
static inline uint16_t vd_post(struct vd *v, unsigned qi, const struct vd_seg *s, unsigned n)
{
	struct vd_ring *q = &v->q[qi];
	uint16_t head = q->next_desc;
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = q->next_desc;
		q->next_desc = (uint16_t)((q->next_desc + 1) % q->size);
		uint8_t *d = vd_at(v, q->desc + 16ULL * i, 16);
		wr64(d, s[k].gpa);
		wr32(d + 8, s[k].len);
		wr16(d + 12, (uint16_t)((s[k].in ? VRING_DESC_F_WRITE : 0) |
					(k + 1 < n ? VRING_DESC_F_NEXT : 0)));
		wr16(d + 14, q->next_desc);
	}
	wr16(vd_at(v, q->avail + 4 + 2ULL * (q->avail_idx % q->size), 2), head);
	q->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)vd_at(v, q->avail + 2, 2), q->avail_idx,
			 __ATOMIC_RELEASE);
	return head;
}

/* Makes the chain at `head` available again as it is (its descriptors
 * untouched): a driver reposting a buffer the device used. */
static inline void vd_repost(struct vd *v, unsigned qi, uint16_t head)
{
	struct vd_ring *q = &v->q[qi];
	wr16(vd_at(v, q->avail + 4 + 2ULL * (q->avail_idx % q->size), 2), head);
	q->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)vd_at(v, q->avail + 2, 2), q->avail_idx,
			 __ATOMIC_RELEASE);
}

static inline void vd_kick(const struct vd *v, unsigned qi)
{
	uint64_t one = 1;
	assert_int_equal(write(v->q[qi].kick_fd, &one, sizeof(one)), sizeof(one));
}

static inline uint16_t vd_used_idx(const struct vd *v, unsigned qi)
{
	return __atomic_load_n((uint16_t *)(void *)vd_at(v, v->q[qi].used + 2, 2),
			       __ATOMIC_ACQUIRE);
}

/* Waits up to `secs` for the used index to reach `want`; true if it did. */
static inline bool vd_wait_used(const struct vd *v, unsigned qi, uint16_t want, double secs)
{
	double until = vd_now() + secs;
	while ((uint16_t)(vd_used_idx(v, qi) - want) > 0x8000 && vd_now() < until)
		usleep(1000);
	return (uint16_t)(vd_used_idx(v, qi) - want) <= 0x8000;
}

/* Used element i (counted from the start): its head and written length. */
static inline void vd_used(const struct vd *v, unsigned qi, uint16_t i, uint32_t *id, uint32_t *len)
{
	const struct vd_ring *q = &v->q[qi];
	const uint8_t *e = vd_at(v, q->used + 4 + 8ULL * (i % q->size), 8);
	*id = rd32(e);
	*len = rd32(e + 4);
}

#endif
