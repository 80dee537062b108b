/* SPDX-License-Identifier: MIT */
/* virtio-balloon end to end below KVM: the real device through its descriptor (its worker threads,
 * restricted io_uring and seccomp filters), driven over virtio-mmio as a
 * guest's driver would, with split rings in a guest memory mapped as
 * cvmm maps guest RAM (private, anonymous), so that what it releases reads
 * zeros. */
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
#include <sys/mman.h>
#include <unistd.h>

#include "core/le.h"
#include "core/snap.h"
#include "devices/balloon.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

static void put_stat(uint8_t *b, unsigned i, uint16_t tag, uint64_t val)
{
	le_put16(b + i * BALLOON_STAT_BYTES, tag);
	le_put64(b + i * BALLOON_STAT_BYTES + 2, val);
}

/* ---- the device ------------------------------------------------------- */

#define MEM	  (8 * MiB)
#define QSIZE	  64
#define RING(q)	  (0x1000ULL + 0x4000ULL * (q))
#define PFNS	  0x20000ULL /* the driver's PFN arrays, stats buffer */
#define STATS	  0x21000ULL
#define INFL	  0x100	      /* PFN of the first page given */
#define FREE	  0x400000ULL /* a 2 MiB free block reported */
#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS	  2
#define Q_REPORT  3

struct rig {
	struct guest_mem m;
	uint8_t *ram; /* owned mapping */
	void *g;
	struct vd v;
	int irqfd, cfgfd;
};

static struct rig *rig_up(const struct balloon_cfg *cfg, uint64_t features)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->ram != MAP_FAILED);
	memset(r->ram + 0x80000, 0xaa, MEM - 0x80000);
	assert_int_equal(gm_add(&r->m, 0, MEM, r->ram), 0);
	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->cfgfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->irqfd >= 0 && r->cfgfd >= 0);
	struct err e = {0};
	assert_int_equal(balloon_desc.open(&r->g, cfg, 0, &e), 0);
	struct virtio_irqfds irq = {.config = r->cfgfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(balloon_desc.start(r->g, &r->m, &irq, &e), 0);
	r->v = (struct vd){.m = &r->m, .d = balloon_desc.vdev(r->g)};
	for (unsigned q = 0; q < balloon_desc.queues(r->g); q++)
		vd_ring_at(&r->v, q, RING(q), QSIZE, balloon_desc.kick_fd(r->g, q));
	assert_true(vd_init(&r->v, features) & VIRTIO_CONFIG_S_DRIVER_OK);
	return r;
}

static void rig_down(struct rig *r)
{
	balloon_desc.destroy(r->g);
	close(r->irqfd);
	close(r->cfgfd);
	munmap(r->ram, MEM);
	free(r);
}

static bool page_is(const struct rig *r, uint64_t pfn, uint8_t c)
{
	const uint8_t *p = r->ram + (pfn << 12);
	for (unsigned i = 0; i < 4096; i++)
		if (p[i] != c)
			return false;
	return true;
}

static const uint64_t all_features = 1ULL << VIRTIO_BALLOON_F_STATS_VQ |
				     1ULL << VIRTIO_BALLOON_F_REPORTING |
				     1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;

static void test_device(void **state)
{
	(void)state;
	assert_string_equal(balloon_desc.name, "virtio-balloon");
	assert_int_equal(balloon_desc.virtio_id, 5);
	struct balloon_cfg cfg = {.target_pages = 256,
				  .deflate_on_oom = true,
				  .reporting = true,
				  .stats_interval_s = 1};
	struct rig *r = rig_up(&cfg, all_features);
	assert_int_equal(balloon_desc.queues(r->g), 4);
	assert_int_equal(vd_read(&r->v, 0x008), 5);
	/* the features offered: these three, no MUST_TELL_HOST, no hinting */
	vd_write(&r->v, VD_DEVICE_FEATURES_SEL, 0);
	uint32_t f = vd_read(&r->v, VD_DEVICE_FEATURES);
	assert_int_equal(f & 0xff, all_features);
	/* the target in the configuration space; the driver writes actual */
	assert_int_equal(vd_read(&r->v, 0x100), 256);
	assert_int_equal(vd_read(&r->v, 0x104), 0);
	vd_write(&r->v, 0x104, 77);
	vd_write(&r->v, 0x100, 5); /* num_pages is the device's */
	assert_int_equal(vd_read(&r->v, 0x104), 77);
	assert_int_equal(vd_read(&r->v, 0x100), 256);
	uint64_t n;
	while (read(r->cfgfd, &n, sizeof(n)) > 0)
		;
	balloon_set_target(r->g, 1024);
	assert_int_equal(vd_read(&r->v, 0x100), 1024);
	assert_int_equal(read(r->cfgfd, &n, sizeof(n)), sizeof(n)); /* a config interrupt */
	struct balloon_state st;
	balloon_state(r->g, &st);
	assert_int_equal(st.target_pages, 1024);
	assert_int_equal(st.actual_pages, 77);
	rig_down(r);
}

/* Inflate: the pages given read zeros after, their neighbours are kept,
 * PFNs outside RAM are refused and counted. */
static void test_inflate(void **state)
{
	(void)state;
	struct balloon_cfg cfg = {0};
	struct rig *r = rig_up(&cfg, 0);
	assert_int_equal(balloon_desc.queues(r->g), 2);
	uint32_t pfns[] = {INFL + 3, INFL,	 INFL + 1,    0x7fffffff, INFL + 2,
			   INFL,     0xffffffff, (MEM >> 12), INFL + 10};
	uint8_t *a = vd_at(&r->v, PFNS, sizeof(pfns) + 2);
	for (unsigned i = 0; i < 9; i++)
		le_put32(a + 4 * i, pfns[i]);
	/* two segments, the second with a partial PFN at its end */
	struct vd_seg c[2] = {{PFNS, 20, false}, {PFNS + 20, 4 * 4 + 2, false}};
	vd_post(&r->v, Q_INFLATE, c, 2);
	vd_kick(&r->v, Q_INFLATE);
	assert_true(vd_wait_used(&r->v, Q_INFLATE, 1, 10));
	uint32_t id, len;
	vd_used(&r->v, Q_INFLATE, 0, &id, &len);
	assert_int_equal(len, 0);
	for (unsigned p = INFL; p < INFL + 4; p++)
		assert_true(page_is(r, p, 0));
	assert_true(page_is(r, INFL - 1, 0xaa));
	assert_true(page_is(r, INFL + 4, 0xaa));
	assert_true(page_is(r, INFL + 9, 0xaa));
	assert_true(page_is(r, INFL + 10, 0)); /* in the second segment, before its partial PFN */
	/* a driver's whole array (256 PFNs and more), in falling order: sorted
	 * by the worker itself (glibc's qsort would ask sysinfo, which its
	 * filter refuses) */
	uint8_t *big = vd_at(&r->v, 0x22000, 300 * 4);
	for (unsigned i = 0; i < 300; i++)
		le_put32(big + 4 * i, 0x500 + 299 - i);
	struct vd_seg bc[1] = {{0x22000, 300 * 4, false}};
	vd_post(&r->v, Q_INFLATE, bc, 1);
	vd_kick(&r->v, Q_INFLATE);
	assert_true(vd_wait_used(&r->v, Q_INFLATE, 2, 10));
	for (unsigned p = 0x500; p < 0x500 + 300; p++)
		assert_true(page_is(r, p, 0));
	assert_true(page_is(r, 0x4ff, 0xaa));
	assert_true(page_is(r, 0x500 + 300, 0xaa));
	/* deflate: counted, nothing else */
	struct vd_seg d[1] = {{PFNS, 8, false}};
	vd_post(&r->v, Q_DEFLATE, d, 1);
	vd_kick(&r->v, Q_DEFLATE);
	assert_true(vd_wait_used(&r->v, Q_DEFLATE, 1, 10));
	struct vdev_metrics m = {0};
	balloon_desc.metrics(r->g, &m);
	assert_int_equal(m.balloon.inflate_count, 2);
	assert_int_equal(m.balloon.pages_inflated, 9 + 300);
	assert_int_equal(m.balloon.pages_refused, 3); /* 0x7fffffff, 0xffffffff, MEM >> 12 */
	assert_int_equal(m.balloon.deflate_count, 1);
	assert_int_equal(m.balloon.pages_deflated, 2);
	assert_int_equal(m.balloon.release_fails, 0);
	rig_down(r);
}

/* Reporting: each reported buffer is released whole; one outside RAM
 * (the chain's translation refuses it) breaks nothing but its queue. */
static void test_report(void **state)
{
	(void)state;
	struct balloon_cfg cfg = {.reporting = true};
	struct rig *r = rig_up(&cfg, 1ULL << VIRTIO_BALLOON_F_REPORTING);
	assert_int_equal(balloon_desc.queues(r->g), 3);
	/* no statistics queue: reporting is queue 2 */
	struct vd_seg c[2] = {{FREE, 2 << 20, true}, {FREE + (3 << 20), 4096 + 100, true}};
	vd_post(&r->v, 2, c, 2);
	vd_kick(&r->v, 2);
	assert_true(vd_wait_used(&r->v, 2, 1, 10));
	for (uint64_t p = FREE >> 12; p < (FREE + (2 << 20)) >> 12; p++)
		assert_true(page_is(r, p, 0));
	assert_true(page_is(r, (FREE >> 12) - 1, 0xaa));
	assert_true(page_is(r, (FREE + (2 << 20)) >> 12, 0xaa));
	assert_true(page_is(r, (FREE + (3 << 20)) >> 12, 0));	       /* its whole page */
	assert_true(page_is(r, ((FREE + (3 << 20)) >> 12) + 1, 0xaa)); /* not the partial one */
	struct vdev_metrics m = {0};
	balloon_desc.metrics(r->g, &m);
	assert_int_equal(m.balloon.free_page_report_count, 2);
	assert_int_equal(m.balloon.free_page_report_freed, (2 << 20) + 4096);
	assert_int_equal(m.balloon.free_page_report_fails, 0);
	rig_down(r);
}

/* Statistics: the buffer is read and kept; every interval it goes back
 * (used, length 0) and the driver's next one brings new values. A new
 * interval takes effect at once; statistics cannot be turned off. */
static void test_stats(void **state)
{
	(void)state;
	struct balloon_cfg cfg = {.stats_interval_s = 1};
	struct rig *r = rig_up(&cfg, 1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	uint8_t *b = vd_at(&r->v, STATS, 3 * BALLOON_STAT_BYTES);
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 111);
	put_stat(b, 1, VIRTIO_BALLOON_S_MINFLT, 5);
	put_stat(b, 2, VIRTIO_BALLOON_S_MEMTOT, 999);
	struct vd_seg c[1] = {{STATS, 3 * BALLOON_STAT_BYTES, false}};
	uint16_t head = vd_post(&r->v, Q_STATS, c, 1);
	vd_kick(&r->v, Q_STATS);
	struct balloon_state st;
	double t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates == 0 && vd_now() < t0 + 5);
	assert_int_equal(st.stats_updates, 1);
	assert_int_equal(st.stats.val[VIRTIO_BALLOON_S_MEMFREE], 111);
	assert_int_equal(st.stats.present, 1u << VIRTIO_BALLOON_S_MEMFREE |
						   1u << VIRTIO_BALLOON_S_MINFLT |
						   1u << VIRTIO_BALLOON_S_MEMTOT);
	assert_int_equal(vd_used_idx(&r->v, Q_STATS), 0); /* kept */
	/* back within the interval */
	assert_true(vd_wait_used(&r->v, Q_STATS, 1, 3));
	double back = vd_now() - t0;
	assert_true(back > 0.5 && back < 2.5);
	/* the driver's next values */
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 222);
	vd_repost(&r->v, Q_STATS, head);
	vd_kick(&r->v, Q_STATS);
	t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates < 2 && vd_now() < t0 + 5);
	assert_int_equal(st.stats.val[VIRTIO_BALLOON_S_MEMFREE], 222);
	/* 3 s from now on: the buffer kept until then */
	assert_int_equal(balloon_set_interval(r->g, 0), -EINVAL);
	assert_int_equal(balloon_set_interval(r->g, 3), 0);
	t0 = vd_now();
	assert_true(vd_wait_used(&r->v, Q_STATS, 2, 5));
	back = vd_now() - t0;
	assert_true(back > 1.5 && back < 4.5);
	balloon_state(r->g, &st);
	assert_int_equal(st.stats_interval_s, 3);
	struct vdev_metrics m = {0};
	balloon_desc.metrics(r->g, &m);
	assert_int_equal(m.balloon.stats_updates_count, 2);
	assert_int_equal(m.balloon.stats_update_fails, 0);
	rig_down(r);
	/* a balloon without statistics refuses an interval */
	struct balloon_cfg none = {0};
	r = rig_up(&none, 0);
	assert_int_equal(balloon_set_interval(r->g, 1), -EINVAL);
	rig_down(r);
}

/* Snapshot: the target, actual, interval, the guest's latest statistics
 * (GET /balloon/statistics has them before the guest's next report, as
 * Firecracker's does) and the kept statistics buffer come back; a restore
 * of another configuration is refused by name, and so are statistics of
 * the wrong size. */
static void test_snapshot(void **state)
{
	(void)state;
	struct balloon_cfg cfg = {.stats_interval_s = 60, .target_pages = 10};
	struct rig *r = rig_up(&cfg, 1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	uint8_t *b = vd_at(&r->v, STATS, BALLOON_STAT_BYTES);
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 1);
	struct vd_seg c[1] = {{STATS, BALLOON_STAT_BYTES, false}};
	uint16_t head = vd_post(&r->v, Q_STATS, c, 1);
	vd_kick(&r->v, Q_STATS);
	struct balloon_state st;
	double t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates == 0 && vd_now() < t0 + 5);
	balloon_set_target(r->g, 300);
	vd_write(&r->v, 0x104, 250);
	assert_int_equal(balloon_set_interval(r->g, 7), 0);
	usleep(100000);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	struct virtio_dev *d = balloon_desc.vdev(r->g);
	assert_int_equal(virtio_dev_pause(d, &until), 0);
	struct snap_w w;
	snap_w_init(&w);
	struct err e = {0};
	assert_int_equal(balloon_desc.save(r->g, &w, 0, &e), 0);
	const uint8_t *buf;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &buf, &len, &e), 0);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, &e), 0);
	virtio_dev_resume(d);
	/* into a fresh device of the same configuration */
	struct balloon *g2 = NULL;
	assert_int_equal(balloon_open(&g2, &cfg, 0, &e), 0);
	assert_int_equal(balloon_desc.restore(g2, &sr, 0, &e), 0);
	balloon_state(g2, &st);
	assert_int_equal(st.target_pages, 300);
	assert_int_equal(st.actual_pages, 250);
	assert_int_equal(st.stats_interval_s, 7);
	assert_int_equal(st.stats.present, 1u << VIRTIO_BALLOON_S_MEMFREE);
	assert_int_equal(st.stats.val[VIRTIO_BALLOON_S_MEMFREE], 1);
	balloon_destroy(g2);
	/* a state whose statistics field (tag 5) has the wrong size */
	struct snap_w w2;
	snap_w_init(&w2);
	snap_section(&w2, balloon_desc.name, 0);
	snap_u32(&w2, 1, 300); /* target, actual, interval, flags (stats on) */
	snap_u32(&w2, 2, 250);
	snap_u32(&w2, 3, 7);
	snap_u32(&w2, 4, 1);
	uint8_t shortstats[12] = {1};
	snap_put_opt(&w2, 5, shortstats, sizeof(shortstats));
	const uint8_t *buf2;
	size_t len2;
	assert_int_equal(snap_w_finish(&w2, SNAP_ARCH_HOST, &buf2, &len2, &e), 0);
	struct snap_r sr2;
	assert_int_equal(snap_open(&sr2, buf2, len2, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(balloon_open(&g2, &cfg, 0, &e), 0);
	assert_int_equal(balloon_desc.restore(g2, &sr2, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "statistics"));
	balloon_destroy(g2);
	snap_w_free(&w2);
	/* another configuration is refused, and so is a state without it */
	struct balloon_cfg other = {.stats_interval_s = 0, .reporting = true};
	assert_int_equal(balloon_open(&g2, &other, 0, &e), 0);
	assert_int_equal(balloon_desc.restore(g2, &sr, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "balloon"));
	assert_int_equal(balloon_desc.restore(g2, &sr, 1, &e), -ENOENT);
	balloon_destroy(g2);
	(void)head;
	snap_w_free(&w);
	rig_down(r);
}

/* A snapshot's pause gives the kept statistics buffer back (a paused
 * queue must have returned every chain it took: virtio_dev_restore refuses
 * one that has not); the driver posts it again, which waits in the ring:
 * taken at the resume, or by the device a restore made, and kept and
 * returned at the interval from then on. */
static void test_pause_returns_kept_buffer(void **state)
{
	(void)state;
	struct balloon_cfg cfg = {.stats_interval_s = 30};
	struct rig *r = rig_up(&cfg, 1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	uint8_t *b = vd_at(&r->v, STATS, BALLOON_STAT_BYTES);
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 1);
	struct vd_seg c[1] = {{STATS, BALLOON_STAT_BYTES, false}};
	uint16_t head = vd_post(&r->v, Q_STATS, c, 1);
	vd_kick(&r->v, Q_STATS);
	struct balloon_state st;
	double t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates == 0 && vd_now() < t0 + 5);
	assert_int_equal(st.stats_updates, 1);
	assert_int_equal(vd_used_idx(&r->v, Q_STATS), 0);
	struct virtio_dev *d = balloon_desc.vdev(r->g);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(d, &until), 0);
	assert_int_equal(vd_used_idx(&r->v, Q_STATS), 1); /* back, 30 s early */
	struct snap_w w;
	snap_w_init(&w);
	virtio_dev_save(d, &w, 0);
	struct err e = {0};
	assert_int_equal(balloon_desc.save(r->g, &w, 0, &e), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	/* the driver answers while the VM is paused: the buffer waits */
	put_stat(b, 0, VIRTIO_BALLOON_S_MEMFREE, 2);
	vd_repost(&r->v, Q_STATS, head);
	vd_kick(&r->v, Q_STATS);
	usleep(50000);
	balloon_state(r->g, &st);
	assert_int_equal(st.stats_updates, 1);
	/* resumed: taken */
	virtio_dev_resume(d);
	t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates < 2 && vd_now() < t0 + 5);
	assert_int_equal(st.stats.val[VIRTIO_BALLOON_S_MEMFREE], 2);
	/* the saving device goes; a fresh one is restored from the state */
	balloon_desc.destroy(r->g);
	assert_int_equal(balloon_desc.open(&r->g, &cfg, 0, &e), 0);
	struct virtio_irqfds irq = {.config = r->cfgfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(balloon_desc.start(r->g, &r->m, &irq, &e), 0);
	r->v.d = balloon_desc.vdev(r->g);
	for (unsigned q = 0; q < 3; q++)
		r->v.q[q].kick_fd = balloon_desc.kick_fd(r->g, q);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, p, len, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(balloon_desc.restore(r->g, &sr, 0, &e), 0);
	int rc = virtio_dev_restore(balloon_desc.vdev(r->g), &sr, 0, &e);
	if (rc)
		fail_msg("%s", e.msg);
	snap_w_free(&w);
	/* the buffer the driver posted after the snapshot's positions is
	 * taken (the restore's kick), kept, and returned at the interval */
	t0 = vd_now();
	do {
		usleep(2000);
		balloon_state(r->g, &st);
	} while (st.stats_updates < 1 && vd_now() < t0 + 5);
	assert_int_equal(st.stats_updates, 1);
	assert_int_equal(balloon_set_interval(r->g, 1), 0);
	assert_true(vd_wait_used(&r->v, Q_STATS, 2, 4));
	uint32_t id, ulen;
	vd_used(&r->v, Q_STATS, 1, &id, &ulen);
	assert_int_equal(id, head);
	rig_down(r);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device),	 cmocka_unit_test(test_inflate),
		cmocka_unit_test(test_report),	 cmocka_unit_test(test_stats),
		cmocka_unit_test(test_snapshot), cmocka_unit_test(test_pause_returns_kept_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
