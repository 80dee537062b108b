/* SPDX-License-Identifier: MIT */
/* virtio-rng end to end below KVM: the real device through its descriptor
 * (rng_desc.open, .start: its worker thread, restricted io_uring and
 * seccomp filter), driven as a guest driver would through virtio-mmio's
 * registers, with split rings in a fake guest memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/snap.h"
#include "devices/rng.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

#define MEM    (4 * MiB)
#define QSIZE  64
#define RING   0x1000ULL
#define BUF(k) (0x10000ULL + 0x1000ULL * (k))
#define BIG    0x200000ULL /* 128 KiB, past RNG_CHAIN_MAX */

struct rig {
	struct fake_mem f;
	void *g; /* the device, through its descriptor */
	struct vd v;
	int irqfd;
};

/* A source the test can predict: byte i of the device's life is i * 5 + 1. */
static _Atomic uint64_t counted;
static size_t counting_source(void *buf, size_t len)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(atomic_fetch_add(&counted, 1) * 5 + 1);
	return len;
}

static struct rig *rig_up_transport(rng_source src, bool init);
static const struct rl_cfg *rig_limit; /* the next rig's rate limiter, NULL: none */
static struct rig *rig_up(rng_source src)
{
	return rig_up_transport(src, true);
}

/* The device; with `init`, a driver set up over virtio-mmio. */
static struct rig *rig_up_transport(rng_source src, bool init)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(fake_mem_init(&r->f, MEM), 0);
	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->irqfd >= 0);
	struct rng_cfg cfg = {.source = src};
	if (rig_limit)
		cfg.limit = *rig_limit;
	struct err e = {0};
	assert_int_equal(rng_desc.open(&r->g, &cfg, 0, &e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(rng_desc.start(r->g, &r->f.m, &irq, &e), 0);
	assert_int_equal(rng_desc.queues(r->g), 1);
	r->v = (struct vd){.m = &r->f.m, .d = rng_desc.vdev(r->g)};
	vd_ring_at(&r->v, 0, RING, QSIZE, rng_desc.kick_fd(r->g, 0));
	if (init)
		assert_true(vd_init(&r->v, 0) & VIRTIO_CONFIG_S_DRIVER_OK);
	return r;
}

static void rig_down(struct rig *r)
{
	rng_desc.destroy(r->g);
	close(r->irqfd);
	fake_mem_free(&r->f);
	free(r);
}

/* Makes the chains available, kicks, waits for all of them to be used and
 * checks each one's used length. */
static void serve(struct rig *r, const struct vd_seg *const *chains, const unsigned *nsegs,
		  const uint32_t *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vd_post(&r->v, 0, chains[i], nsegs[i]);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)n, 10));
	for (unsigned i = 0; i < n; i++) {
		uint32_t id, len;
		vd_used(&r->v, 0, (uint16_t)i, &id, &len);
		assert_int_equal(len, want[i]);
	}
}

static void test_descriptor(void **state)
{
	(void)state;
	assert_string_equal(rng_desc.name, "virtio-rng");
	assert_int_equal(rng_desc.virtio_id, 4);
	assert_non_null(rng_desc.save);
	assert_non_null(rng_desc.restore);
	assert_non_null(rng_desc.metrics);
	struct rig *r = rig_up(NULL);
	/* the transport reads the id the descriptor gives */
	assert_int_equal(vd_read(&r->v, 0x008), 4);
	rig_down(r);
}

/* getrandom's bytes: each buffer filled to its length, the used length
 * says so, and no two buffers (nor two runs of one) alike. */
static void test_fills_from_getrandom(void **state)
{
	(void)state;
	struct rig *r = rig_up(NULL);
	for (unsigned k = 0; k < 4; k++)
		memset(vd_at(&r->v, BUF(k), 4096), 0, 4096);
	struct vd_seg a[1] = {{BUF(0), 64, true}};
	struct vd_seg b[2] = {{BUF(1), 100, true}, {BUF(2), 4096, true}};
	struct vd_seg c[1] = {{BUF(3), 64, true}};
	serve(r, (const struct vd_seg *const[]){a, b, c}, (const unsigned[]){1, 2, 1},
	      (const uint32_t[]){64, 4196, 64}, 3);
	static const uint8_t zero[64];
	assert_memory_not_equal(vd_at(&r->v, BUF(0), 64), zero, 64);
	assert_memory_not_equal(vd_at(&r->v, BUF(3), 64), zero, 64);
	assert_memory_not_equal(vd_at(&r->v, BUF(0), 64), vd_at(&r->v, BUF(3), 64), 64);
	assert_memory_not_equal(vd_at(&r->v, BUF(2) + 4032, 64), zero, 64);
	/* and an interrupt was raised */
	uint64_t n = 0;
	assert_int_equal(read(r->irqfd, &n, sizeof(n)), sizeof(n));
	assert_true(n >= 1);
	/* the device counts each interrupt it raised (its metrics) */
	assert_int_equal(atomic_load(&rng_desc.vdev(r->g)->irqs), n);
	struct vdev_metrics m = {0};
	rng_desc.metrics(r->g, &m);
	assert_int_equal(m.requests, 3);
	assert_int_equal(m.bytes, 64 + 4196 + 64);
	assert_int_equal(m.errors, 0);
	rig_down(r);
}

/* Every byte in order from the source, across segments; a request is cut
 * at RNG_CHAIN_MAX; a chain with nothing writable gets nothing. */
static void test_exact_bytes_and_bounds(void **state)
{
	(void)state;
	atomic_store(&counted, 0);
	struct rig *r = rig_up(counting_source);
	memset(vd_at(&r->v, BUF(0), 3 * 4096), 0xee, 3 * 4096);
	struct vd_seg a[3] = {{BUF(0), 10, false}, {BUF(1), 7, true}, {BUF(2), 9, true}};
	struct vd_seg big[1] = {{BIG, 2 * RNG_CHAIN_MAX, true}};
	struct vd_seg ro[1] = {{BUF(3), 16, false}};
	serve(r, (const struct vd_seg *const[]){a, big, ro}, (const unsigned[]){3, 1, 1},
	      (const uint32_t[]){16, RNG_CHAIN_MAX, 0}, 3);
	/* the readable part untouched; bytes 0..6 then 7..15 */
	assert_int_equal(*vd_at(&r->v, BUF(0), 1), 0xee);
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(*vd_at(&r->v, BUF(1) + i, 1), (uint8_t)(i * 5 + 1));
	assert_int_equal(*vd_at(&r->v, BUF(1) + 7, 1), 0xee);
	for (unsigned i = 0; i < 9; i++)
		assert_int_equal(*vd_at(&r->v, BUF(2) + i, 1), (uint8_t)((7 + i) * 5 + 1));
	/* the big one: filled up to the cap, not a byte further */
	assert_int_equal(*vd_at(&r->v, BIG + RNG_CHAIN_MAX - 1, 1),
			 (uint8_t)((16 + RNG_CHAIN_MAX - 1) * 5 + 1));
	assert_int_equal(*vd_at(&r->v, BIG + RNG_CHAIN_MAX, 1), 0);
	assert_int_equal(atomic_load(&counted), 16 + RNG_CHAIN_MAX);
	rig_down(r);
}

/* The rate limiter, on the real worker (its thread, filter and ring): 4096
 * bytes per 100 ms, a full bucket at the start. 12 requests of 1 KiB: 4 at
 * once, the other 8 over 200 ms, through the worker's timeout (no busy
 * wait: the worker is asleep in between), none dropped; the counters say
 * the queue waited. Then a limiter that lets nothing more through for
 * 100 s: 4 new requests wait; replaced by none (set_limiter from this
 * thread), they are served at once. */
static void test_rate_limited(void **state)
{
	(void)state;
	struct rl_cfg lim = {.bw = {.size = 4096, .refill_ms = 100}};
	rig_limit = &lim;
	struct rig *r = rig_up(NULL);
	rig_limit = NULL;
	struct vd_seg seg[16][1];
	for (unsigned i = 0; i < 16; i++)
		seg[i][0] = (struct vd_seg){BUF(i), 1024, true};
	double t0 = vd_now();
	for (unsigned i = 0; i < 12; i++)
		vd_post(&r->v, 0, seg[i], 1);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 4, 1));
	assert_true(vd_wait_used(&r->v, 0, 12, 5));
	double took = vd_now() - t0;
	for (unsigned i = 0; i < 12; i++) {
		uint32_t id, len;
		vd_used(&r->v, 0, (uint16_t)i, &id, &len);
		assert_int_equal(len, 1024);
	}
	if (took < 0.19 || took > 1.5)
		fail_msg("12 KiB at 40 KiB/s (4 KiB at once) took %.3f s, not about 0.2", took);
	struct vdev_metrics m = {0};
	rng_desc.metrics(r->g, &m);
	assert_true(m.limit[0].throttled >= 1);
	assert_true(m.limit[0].throttled_ns >= 150 * 1000000ULL);
	assert_int_equal(m.bytes, 12 * 1024);
	/* 1 byte per 100 s, bucket empty: the next 4 wait */
	struct rl_cfg slow = {.bw = {.size = 1, .refill_ms = 100000}};
	struct err e = {0};
	assert_int_equal(rng_desc.set_limiter(r->g, 0, &slow, &e), 0);
	assert_int_equal(rng_desc.set_limiter(r->g, 1, &slow, &e), -EINVAL);
	for (unsigned i = 12; i < 16; i++)
		vd_post(&r->v, 0, seg[i], 1);
	vd_kick(&r->v, 0);
	/* the full bucket's 1 byte lets the first (1 KiB, larger than the
	 * bucket) go; the rest wait for 100 s */
	assert_true(vd_wait_used(&r->v, 0, 13, 1));
	assert_false(vd_wait_used(&r->v, 0, 14, 0.3));
	struct rl_cfg none = {0};
	t0 = vd_now();
	assert_int_equal(rng_desc.set_limiter(r->g, 0, &none, &e), 0);
	assert_true(vd_wait_used(&r->v, 0, 16, 1));
	assert_true(vd_now() - t0 < 0.5);
	rig_down(r);
}

/* A reset and a second driver session: served again from a fresh ring. */
static void test_reset_and_again(void **state)
{
	(void)state;
	struct rig *r = rig_up(NULL);
	struct vd_seg a[1] = {{BUF(0), 32, true}};
	serve(r, (const struct vd_seg *const[]){a}, (const unsigned[]){1}, (const uint32_t[]){32},
	      1);
	vd_reset(&r->v);
	assert_true(vd_init(&r->v, 0) & VIRTIO_CONFIG_S_DRIVER_OK);
	serve(r, (const struct vd_seg *const[]){a}, (const unsigned[]){1}, (const uint32_t[]){32},
	      1);
	rig_down(r);
}

/* A driver whose avail index runs more than the queue size ahead breaks
 * the queue: NEEDS_RESET, and the worker goes on living. */
static void test_broken_queue(void **state)
{
	(void)state;
	struct rig *r = rig_up(NULL);
	wr16(vd_at(&r->v, r->v.q[0].r.avail + 2, 2), QSIZE + 5);
	vd_kick(&r->v, 0);
	double until = vd_now() + 10;
	while (!(vd_status(&r->v) & VIRTIO_CONFIG_S_NEEDS_RESET) && vd_now() < until)
		usleep(1000);
	assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_NEEDS_RESET);
	vd_reset(&r->v);
	rig_down(r);
}

/* ---- snapshot ---- */

static void pause_ok(struct rig *r)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(rng_desc.vdev(r->g), &until), 0);
}

static size_t save_state(struct rig *r, uint8_t **buf)
{
	struct snap_w w;
	snap_w_init(&w);
	virtio_dev_save(rng_desc.vdev(r->g), &w, 0);
	struct err e = {0};
	assert_int_equal(rng_desc.save(r->g, &w, 0, &e), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	*buf = malloc(len);
	memcpy(*buf, p, len);
	snap_w_free(&w);
	return len;
}

/* The saving device goes; a fresh one on the same guest memory, started
 * as at boot, is restored from the state: 0, or restore's error. */
static int restore_fresh(struct rig *r, const uint8_t *buf, size_t len, struct err *e)
{
	rng_desc.destroy(r->g);
	struct rng_cfg cfg = {0};
	assert_int_equal(rng_desc.open(&r->g, &cfg, 0, e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(rng_desc.start(r->g, &r->f.m, &irq, e), 0);
	r->v.d = rng_desc.vdev(r->g);
	r->v.q[0].kick_fd = rng_desc.kick_fd(r->g, 0);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, e), 0);
	int rc = rng_desc.restore(r->g, &sr, 0, e);
	if (rc == 0)
		rc = virtio_dev_restore(rng_desc.vdev(r->g), &sr, 0, e);
	return rc;
}

/* Served, paused, saved; restored into a fresh device, the next chain is
 * served at the used index that follows, the earlier ones untouched. */
static void test_snapshot_restore(void **state)
{
	(void)state;
	struct rig *r = rig_up(NULL);
	struct vd_seg a[1] = {{BUF(0), 32, true}};
	struct vd_seg b[1] = {{BUF(1), 48, true}};
	serve(r, (const struct vd_seg *const[]){a, b}, (const unsigned[]){1, 1},
	      (const uint32_t[]){32, 48}, 2);
	pause_ok(r);
	uint8_t *buf;
	size_t len = save_state(r, &buf);
	uint8_t keep[32];
	memcpy(keep, vd_at(&r->v, BUF(0), 32), 32);
	for (unsigned i = 0; i < 2; i++) /* consumed: never written again */
		le_put32(vd_at(&r->v, r->v.q[0].r.used + 4 + 8 * i + 4, 4), 0xdead);
	struct err e = {0};
	assert_int_equal(restore_fresh(r, buf, len, &e), 0);
	assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK);
	assert_memory_equal(vd_at(&r->v, BUF(0), 32), keep, 32);
	struct vd_seg c[1] = {{BUF(2), 20, true}};
	vd_post(&r->v, 0, c, 1);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 3, 10));
	uint32_t id, ulen;
	vd_used(&r->v, 0, 2, &id, &ulen);
	assert_int_equal(ulen, 20);
	assert_int_equal(id, 2);
	for (unsigned i = 0; i < 2; i++) {
		vd_used(&r->v, 0, (uint16_t)i, &id, &ulen);
		assert_int_equal(ulen, 0xdead);
	}
	free(buf);
	rig_down(r);
}

/* A restore of the state with `what` corrupted (the saving device's
 * fields changed after its pause) is refused, with a message naming it. */
enum corrupt { C_QSIZE, C_USED_BEYOND, C_FEATURES, C_NQUEUES, C_TRUNCATED, C_NO_SECTION };

static void corrupt_case(enum corrupt what, const char *want)
{
	struct rig *r = rig_up(NULL);
	struct vd_seg a[1] = {{BUF(0), 32, true}};
	serve(r, (const struct vd_seg *const[]){a}, (const unsigned[]){1}, (const uint32_t[]){32},
	      1);
	pause_ok(r);
	struct virtio_dev *d = rng_desc.vdev(r->g);
	unsigned nq = d->nqueues;
	switch (what) {
	case C_QSIZE:
		d->qcfg[0].num = 48;
		break;
	case C_USED_BEYOND:
		d->qpos[0].last_avail = d->qpos[0].used_idx = (uint16_t)(QSIZE + 6);
		break;
	case C_FEATURES:
		d->driver_features |= 1ULL << 41;
		break;
	case C_NQUEUES:
		d->nqueues = 2;
		break;
	default:
		break;
	}
	uint8_t *buf;
	size_t len = save_state(r, &buf);
	d->nqueues = nq;
	struct err e = {0};
	int rc;
	if (what == C_TRUNCATED || what == C_NO_SECTION) {
		/* a file cut short fails its own checks; a state without the
		 * device's section is refused by the device */
		struct snap_w w;
		snap_w_init(&w);
		snap_section(&w, "other", 0);
		const uint8_t *p;
		size_t plen;
		assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &plen, &e), 0);
		struct snap_r sr;
		if (what == C_TRUNCATED) {
			rc = snap_open(&sr, buf, len - 3, SNAP_ARCH_HOST, &e);
		} else {
			assert_int_equal(snap_open(&sr, p, plen, SNAP_ARCH_HOST, &e), 0);
			rc = virtio_dev_restore(d, &sr, 0, &e);
		}
		snap_w_free(&w);
	} else {
		rc = restore_fresh(r, buf, len, &e);
	}
	assert_true(rc < 0);
	if (!strstr(e.msg, want))
		fail_msg("message '%s' does not say '%s'", e.msg, want);
	if (what != C_TRUNCATED && what != C_NO_SECTION)
		assert_int_equal(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK, 0);
	free(buf);
	rig_down(r);
}

static void test_restore_refuses_corrupt(void **state)
{
	(void)state;
	corrupt_case(C_QSIZE, "power of two");
	corrupt_case(C_USED_BEYOND, "beyond the available index");
	corrupt_case(C_FEATURES, "does not offer");
	corrupt_case(C_NQUEUES, "2 queues");
	corrupt_case(C_TRUNCATED, "");
	corrupt_case(C_NO_SECTION, "no section virtio/0");
}

/* ---- virtio-pci's state ---- */

/* The interrupt rewiring a virtio-pci function asked for. */
struct irq_log {
	unsigned nroute, nbind;
	struct {
		uint32_t gsi;
		uint64_t addr;
		uint32_t data;
	} route[64];
	struct {
		int fd;
		uint32_t gsi;
		bool assign;
	} bind[64];
};

static int log_msi_route(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct irq_log *l = opaque;
	if (l->nroute < 64)
		l->route[l->nroute++] = (typeof(l->route[0])){gsi, addr, data};
	return 0;
}

static int log_irqfd(void *opaque, int fd, uint32_t gsi, bool assign)
{
	struct irq_log *l = opaque;
	if (l->nbind < 64)
		l->bind[l->nbind++] = (typeof(l->bind[0])){fd, gsi, assign};
	return 0;
}

static const struct virtio_pci_irq_ops log_irq_ops = {
	.msi_route = log_msi_route,
	.irqfd = log_irqfd,
};

#define MSI_BASE 24

static void pci_attach(struct rig *r, struct virtio_pci *p, struct irq_log *l, int *kick)
{
	*kick = rng_desc.kick_fd(r->g, 0);
	virtio_pci_init(p, rng_desc.vdev(r->g), 0xe1000000, 10, MSI_BASE, &log_irq_ops, l, kick);
	uint8_t cmd[2] = {0x06, 0}; /* memory space, bus master */
	virtio_pci_fn_ops.cfg_write(p, 0x04, cmd, 2);
	r->v.pci = p;
}

static void msix_set(struct virtio_pci *p, unsigned v, uint32_t lo, uint32_t data, bool masked)
{
	const uint32_t f[4] = {lo, 0, data, masked};
	for (unsigned k = 0; k < 4; k++) {
		uint8_t b[4];
		le_put32(b, f[k]);
		virtio_pci_bar_ops.write(p, VIRTIO_PCI_MSIX_OFF + 16 * v + 4 * k, b, 4);
	}
}

static bool routed(const struct irq_log *l, uint32_t gsi, uint64_t addr, uint32_t data)
{
	for (unsigned i = 0; i < l->nroute; i++)
		if (l->route[i].gsi == gsi && l->route[i].addr == addr && l->route[i].data == data)
			return true;
	return false;
}

/* The last binding of eventfd fd: its GSI, or PCI_GSI_NONE. */
static uint32_t bound_to(const struct irq_log *l, int fd, uint32_t gsi)
{
	bool on = false;
	for (unsigned i = 0; i < l->nbind; i++)
		if (l->bind[i].fd == fd && l->bind[i].gsi == gsi)
			on = l->bind[i].assign;
	return on ? gsi : PCI_GSI_NONE;
}

/* A driver on virtio-pci with MSI-X (configuration vector 0, the queue's
 * 1, vector 2 masked); saved, restored into a fresh device and function:
 * the table and vectors are the same, the routes and irqfds set up again
 * through irq_ops as the driver's writes did, and the queue served on. */
static void test_pci_snapshot_restore(void **state)
{
	(void)state;
	struct rig *r = rig_up_transport(NULL, false);
	struct virtio_pci p1, p2;
	struct irq_log l1 = {0}, l2 = {0};
	int kick1, kick2;
	pci_attach(r, &p1, &l1, &kick1);
	uint8_t en[2] = {0, 0x80}; /* MSI-X enable */
	virtio_pci_fn_ops.cfg_write(&p1, 0x86, en, 2);
	msix_set(&p1, 0, 0xfee00000, 0x41, false);
	msix_set(&p1, 1, 0xfee01000, 0x42, false);
	msix_set(&p1, 2, 0xfee02000, 0x43, true);
	vd_pci_write(&r->v, 0x10, 0, 2); /* config vector */
	vd_pci_write(&r->v, 0x16, 0, 2);
	vd_pci_write(&r->v, 0x1a, 1, 2); /* queue 0's vector */
	assert_true(vd_init(&r->v, 0) & VIRTIO_CONFIG_S_DRIVER_OK);
	struct vd_seg a[1] = {{BUF(0), 32, true}};
	serve(r, (const struct vd_seg *const[]){a}, (const unsigned[]){1}, (const uint32_t[]){32},
	      1);
	assert_int_equal(p1.bound[0], MSI_BASE + 1);
	pause_ok(r);
	struct snap_w w;
	snap_w_init(&w);
	virtio_pci_save(&p1, &w, 0);
	virtio_dev_save(rng_desc.vdev(r->g), &w, 0);
	struct err e = {0};
	assert_int_equal(rng_desc.save(r->g, &w, 0, &e), 0);
	const uint8_t *buf;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &buf, &len, &e), 0);
	virtio_pci_unbind(&p1);

	rng_desc.destroy(r->g);
	struct rng_cfg cfg = {0};
	assert_int_equal(rng_desc.open(&r->g, &cfg, 0, &e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(rng_desc.start(r->g, &r->f.m, &irq, &e), 0);
	r->v.d = rng_desc.vdev(r->g);
	r->v.q[0].kick_fd = rng_desc.kick_fd(r->g, 0);
	pci_attach(r, &p2, &l2, &kick2);
	l2 = (struct irq_log){0}; /* what the restore asks for */
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(virtio_pci_restore(&p2, &sr, 0, &e), 0);
	assert_int_equal(rng_desc.restore(r->g, &sr, 0, &e), 0);
	assert_int_equal(virtio_dev_restore(rng_desc.vdev(r->g), &sr, 0, &e), 0);

	assert_memory_equal(p2.msix, p1.msix, p1.nvec * sizeof(p1.msix[0]));
	assert_int_equal(p2.msix_ctrl, p1.msix_ctrl);
	assert_int_equal(p2.command, p1.command);
	assert_int_equal(p2.config_vector, 0);
	assert_int_equal(p2.queue_vector[0], 1);
	assert_true(routed(&l2, MSI_BASE + 0, 0xfee00000, 0x41));
	assert_true(routed(&l2, MSI_BASE + 1, 0xfee01000, 0x42));
	for (unsigned i = 0; i < l2.nroute; i++)
		assert_int_not_equal(l2.route[i].gsi, MSI_BASE + 2); /* masked: not routed */
	assert_int_equal(bound_to(&l2, r->irqfd, MSI_BASE + 1), MSI_BASE + 1);
	assert_int_equal(bound_to(&l2, r->irqfd, MSI_BASE + 0), MSI_BASE + 0);
	assert_int_equal(bound_to(&l2, r->irqfd, 10), PCI_GSI_NONE); /* INTx let go */
	assert_int_equal(p2.bound[0], MSI_BASE + 1);
	assert_int_equal(p2.bound[1], MSI_BASE + 0);
	assert_int_equal(l2.nbind >= 2 && l2.nroute >= 2, true);
	/* and the device, through the restored function, serves on */
	assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK);
	struct vd_seg b[1] = {{BUF(1), 16, true}};
	vd_post(&r->v, 0, b, 1);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 2, 10));

	/* a vector beyond the table is refused */
	struct virtio_pci p3;
	struct irq_log l3 = {0};
	int kick3;
	pci_attach(r, &p3, &l3, &kick3);
	snap_w_free(&w);
	snap_w_init(&w);
	p1.queue_vector[0] = 7;
	p1.vdev = rng_desc.vdev(r->g); /* its own device is gone */
	virtio_pci_save(&p1, &w, 0);
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &buf, &len, &e), 0);
	assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(virtio_pci_restore(&p3, &sr, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "vector 7"));
	snap_w_free(&w);
	virtio_pci_unbind(&p2);
	rig_down(r);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_fills_from_getrandom),
		cmocka_unit_test(test_exact_bytes_and_bounds),
		cmocka_unit_test(test_reset_and_again),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_broken_queue),
		cmocka_unit_test(test_snapshot_restore),
		cmocka_unit_test(test_restore_refuses_corrupt),
		cmocka_unit_test(test_pci_snapshot_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
