/* SPDX-License-Identifier: MIT */
/* A test playing the guest's driver for a real virtio device (its real
 * workers, io_uring and files): the device's registers through the
 * virtio-mmio or virtio-pci transport's bus handlers (what a vCPU thread
 * calls), split rings (the ring rig, ring.h) in a guest memory the test
 * owns, kicks written to the queues' ioeventfds, used entries polled. For
 * unit tests and fuzz targets alike: no test framework (a failed step
 * aborts with a message). */
#ifndef CVMM_TEST_RIG_VDEV_H
#define CVMM_TEST_RIG_VDEV_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/rig/ring.h"

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
	struct rr_ring r;
	int kick_fd; /* borrowed: the queue's ioeventfd */
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
	return rr_at(v->m, gpa, len);
}

static inline uint32_t vd_read(const struct vd *v, uint64_t off)
{
	uint8_t b[4];
	virtio_mmio_ops.read(v->d, off, b, 4);
	return le_get32(b);
}

static inline void vd_write(const struct vd *v, uint64_t off, uint32_t val)
{
	uint8_t b[4];
	le_put32(b, val);
	virtio_mmio_ops.write(v->d, off, b, 4);
}

/* virtio-pci: a field of the common configuration (BAR0 offset off). */
static inline uint64_t vd_pci_read(const struct vd *v, uint64_t off, unsigned len)
{
	uint8_t b[8] = {0};
	virtio_pci_bar_ops.read(v->pci, VIRTIO_PCI_COMMON_OFF + off, b, len);
	return le_get64(b);
}

static inline void vd_pci_write(const struct vd *v, uint64_t off, uint64_t val, unsigned len)
{
	uint8_t b[8];
	le_put64(b, val);
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

/* A vCPU writing status 0 (the driver's reset) on a thread of its own,
 * so that a test sees whether that write returns promptly while I/O is
 * stuck (it must: the reset completes later, the status reads non-zero
 * until then). */
struct vd_status_write {
	const struct vd *v;
	pthread_t thread;
	int done; /* atomic */
};

static inline void *vd_status_write_run(void *arg)
{
	struct vd_status_write *w = arg;
	vd_set_status(w->v, 0); /* what the guest's vCPU does */
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline bool vd_status_write_done(struct vd_status_write *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* Starts the write and waits up to `secs` for it to return; whether it
 * did. Either way vd_status_write_join follows (once it returned). */
static inline bool vd_status_write_start(struct vd_status_write *w, const struct vd *v, double secs)
{
	*w = (struct vd_status_write){.v = v};
	RR_CHECK(pthread_create(&w->thread, NULL, vd_status_write_run, w) == 0);
	double until = vd_now() + secs;
	while (!vd_status_write_done(w) && vd_now() < until)
		usleep(1000);
	return vd_status_write_done(w);
}

static inline void vd_status_write_join(struct vd_status_write *w)
{
	pthread_join(w->thread, NULL);
}

/* The driver's reset: writes 0, then waits for the status to read 0. */
static inline void vd_reset(const struct vd *v)
{
	vd_set_status(v, 0);
	RR_CHECK(vd_wait_reset(v, 10) == 0);
}

/* Queue i's rings where the test wants them, zeroed. */
static inline void vd_ring_set(struct vd *v, unsigned i, uint64_t desc, uint64_t avail,
			       uint64_t used, uint16_t size, int kick_fd)
{
	rr_set(&v->q[i].r, v->m, desc, avail, used, size);
	v->q[i].kick_fd = kick_fd;
	if (i >= v->nq)
		v->nq = i + 1;
}

/* Queue i's rings at base (rr_set_at), zeroed. */
static inline void vd_ring_at(struct vd *v, unsigned i, uint64_t base, uint16_t size, int kick_fd)
{
	rr_set_at(&v->q[i].r, v->m, base, size);
	v->q[i].kick_fd = kick_fd;
	if (i >= v->nq)
		v->nq = i + 1;
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
	uint32_t st =
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	vd_pci_write(v, 0x14, st, 1);
	for (unsigned i = 0; i < v->nq; i++) {
		const struct rr_ring *q = &v->q[i].r;
		rr_clear(&v->q[i].r);
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
	uint32_t st =
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	vd_write(v, VD_STATUS, st);
	for (unsigned i = 0; i < v->nq; i++) {
		const struct rr_ring *q = &v->q[i].r;
		rr_clear(&v->q[i].r);
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
	struct rr_seg rs[64];
	RR_CHECK(n <= 64);
	for (unsigned k = 0; k < n; k++)
		rs[k] = (struct rr_seg){s[k].gpa, s[k].len, s[k].in ? VRING_DESC_F_WRITE : 0};
	return rr_post(&v->q[qi].r, rs, n);
}

/* Makes the chain at `head` available again as it is (its descriptors
 * untouched): a driver reposting a buffer the device used. */
static inline void vd_repost(struct vd *v, unsigned qi, uint16_t head)
{
	rr_avail(&v->q[qi].r, head);
}

static inline void vd_kick(const struct vd *v, unsigned qi)
{
	uint64_t one = 1;
	RR_CHECK(write(v->q[qi].kick_fd, &one, sizeof(one)) == sizeof(one));
}

/* Kicks as a real driver with EVENT_IDX does after making `old` .. its
 * avail index available: only when the device's avail_event asks for one
 * of them (the spec's vring_need_event). Returns whether it kicked. */
static inline bool vd_kick_if_asked(const struct vd *v, unsigned qi, uint16_t old)
{
	const struct rr_ring *r = &v->q[qi].r;
	uint16_t ev = rr_avail_event(r), nw = r->avail_idx;
	if ((uint16_t)(nw - ev - 1) >= (uint16_t)(nw - old))
		return false;
	vd_kick(v, qi);
	return true;
}

static inline uint16_t vd_used_idx(const struct vd *v, unsigned qi)
{
	return rr_used_idx(&v->q[qi].r);
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
	rr_used(&v->q[qi].r, i, id, len);
}

#endif
