/* SPDX-License-Identifier: MIT */
/* virtio-blk end to end below KVM: the real device (blk_open, blk_start: its
 * worker threads with their io_uring and seccomp filters) on a real file,
 * driven through the virtio-mmio registers with rings in a fake guest
 * memory (tests/unit/vdev_rig.h). Malformed chains must not cost the queue
 * its request slots, and a reset must give the device back whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/snap.h"
#include "devices/blk.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

#define MEM	  (8 * MiB)
#define QSIZE	  256
#define RING	  0x1000ULL
#define HDR(k)	  (0x10000ULL + 16ULL * (k))
#define STATUS(k) (0x20000ULL + (k))
#define DATA(k)	  (0x100000ULL + 0x1000ULL * (k))
#define DISK	  (4 * MiB)
#define SLOTS	  256 /* requests in flight per queue (BLK_QUEUE_MAX) */

struct rig {
	struct fake_mem f;
	struct blk *b;
	struct vd v;
	int irqfd;
	char path[64];
	uint64_t features; /* the driver accepts (of those offered) */
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

/* A disk file of DISK bytes of pattern() in dir. */
static void make_disk(struct rig *r, const char *dir)
{
	snprintf(r->path, sizeof(r->path), "%s/cvmm-blk-XXXXXX", dir);
	int fd = mkstemp(r->path);
	assert_true(fd >= 0);
	static uint8_t buf[DISK];
	for (uint64_t i = 0; i < DISK; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, DISK), DISK);
	close(fd);
}

static const struct rl_cfg *rig_limit; /* the next rig's rate limiter, NULL: none */
static unsigned rig_poll_us;	       /* the next rig's largest poll window (0: none) */

static void rig_start(struct rig *r)
{
	struct blk_cfg cfg = {.path = r->path, .queues = 1};
	if (rig_limit)
		cfg.limit = *rig_limit;
	cfg.poll_us = rig_poll_us;
	struct err e = {0};
	assert_int_equal(blk_open(&r->b, &cfg, 0, &e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(blk_start(r->b, &r->f.m, &irq, &e), 0);
	r->v = (struct vd){.m = &r->f.m, .d = blk_vdev(r->b)};
	vd_ring_at(&r->v, 0, RING, QSIZE, blk_kick_fd(r->b, 0));
	assert_true(vd_init(&r->v, r->features) & VIRTIO_CONFIG_S_DRIVER_OK);
}

static struct rig *rig_up_with(const char *dir, uint64_t features)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(fake_mem_init(&r->f, MEM), 0);
	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->irqfd >= 0);
	make_disk(r, dir);
	r->features = features;
	rig_start(r);
	return r;
}

static struct rig *rig_up(const char *dir)
{
	return rig_up_with(dir, 0);
}

static void rig_down(struct rig *r)
{
	blk_destroy(r->b);
	unlink(r->path);
	close(r->irqfd);
	fake_mem_free(&r->f);
	free(r);
}

struct hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

/* Posts request k: header, `len` data bytes at DATA(k) (device-writable
 * for IN), status byte. */
static void post_req(struct rig *r, unsigned k, uint32_t type, uint64_t sector, uint32_t len)
{
	struct hdr h = {type, 0, sector};
	memcpy(vd_at(&r->v, HDR(k), 16), &h, 16);
	*vd_at(&r->v, STATUS(k), 1) = 0xee;
	struct vd_seg s[3];
	unsigned n = 0;
	s[n++] = (struct vd_seg){HDR(k), 16, false};
	if (len)
		s[n++] = (struct vd_seg){DATA(k), len, type == VIRTIO_BLK_T_IN};
	s[n++] = (struct vd_seg){STATUS(k), 1, true};
	vd_post(&r->v, 0, s, n);
}

/* A request that cannot carry a status: no device-writable byte at all
 * (a header alone, or a header and data to write). */
static void post_statusless(struct rig *r, unsigned k)
{
	struct hdr h = {k % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0, 0};
	memcpy(vd_at(&r->v, HDR(k), 16), &h, 16);
	struct vd_seg s[2] = {{HDR(k), 16, false}, {DATA(k), 512, false}};
	vd_post(&r->v, 0, s, k % 2 ? 2 : 1);
}

/* A read of 4 KiB at sector 8 is served with the file's bytes. */
static void check_served(struct rig *r, unsigned k)
{
	uint16_t at = vd_used_idx(&r->v, 0);
	memset(vd_at(&r->v, DATA(k), 4096), 0, 4096);
	post_req(r, k, VIRTIO_BLK_T_IN, 8, 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	uint32_t id, len;
	vd_used(&r->v, 0, at, &id, &len);
	assert_int_equal(len, 4096 + 1);
	assert_int_equal(*vd_at(&r->v, STATUS(k), 1), VIRTIO_BLK_S_OK);
	uint8_t *d = vd_at(&r->v, DATA(k), 4096);
	for (unsigned i = 0; i < 4096; i++)
		if (d[i] != pattern(8 * 512 + i))
			fail_msg("byte %u of the read: 0x%02x, not 0x%02x", i, d[i],
				 pattern(8 * 512 + i));
}

/* More chains without a status byte than the queue has request slots:
 * each is consumed (used, length 0) and the queue keeps serving. */
static void test_statusless_chains_consumed(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	uint16_t done = 0;
	for (unsigned k = 0; k < 300; k++) {
		post_statusless(r, k % SLOTS);
		if (k % 50 == 49) {
			vd_kick(&r->v, 0);
			done = (uint16_t)(done + 50);
			if (!vd_wait_used(&r->v, 0, done, 5))
				fail_msg("%u chains without a status were not all used (used idx "
					 "%u, "
					 "status 0x%x)",
					 k + 1, vd_used_idx(&r->v, 0), vd_read(&r->v, VD_STATUS));
		}
	}
	for (uint16_t i = 0; i < 300; i++) {
		uint32_t id, len;
		vd_used(&r->v, 0, i, &id, &len);
		assert_int_equal(len, 0);
	}
	assert_false(vd_read(&r->v, VD_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	check_served(r, 0);
	rig_down(r);
}

/* Used, or the device asked for a reset. */
static void wait_used_or_failed(struct rig *r, uint16_t want)
{
	double until = vd_now() + 5;
	while (vd_now() < until) {
		if ((uint16_t)(vd_used_idx(&r->v, 0) - want) <= 0x8000 ||
		    (vd_read(&r->v, VD_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
			return;
		usleep(500);
	}
	fail_msg("neither used nor NEEDS_RESET");
}

/* Whatever a malformed chain did to the queue, a reset gives it all of its
 * request slots back: 300 rounds of a status-less chain and a reset, then
 * a normal request. */
static void test_reset_restores_slots(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	for (unsigned k = 0; k < 300; k++) {
		post_statusless(r, 0);
		vd_kick(&r->v, 0);
		wait_used_or_failed(r, 1);
		vd_reset(&r->v);
		assert_true(vd_init(&r->v, 0) & VIRTIO_CONFIG_S_DRIVER_OK);
	}
	check_served(r, 0);
	rig_down(r);
}

#define F_DISCARD	   (1ULL << 13)
#define F_WRITE_ZEROES	   (1ULL << 14)
#define CFG_MAX_WZ_SECTORS 48
#define CFG_WZ_MAY_UNMAP   56

/* Request k: WRITE_ZEROES (or DISCARD) of one range, its status back. */
static uint8_t zero_range(struct rig *r, unsigned k, uint32_t type, uint64_t sector,
			  uint32_t sectors, uint32_t flags)
{
	uint8_t *rg = vd_at(&r->v, DATA(k), 16);
	wr64(rg, sector);
	wr32(rg + 8, sectors);
	wr32(rg + 12, flags);
	struct hdr h = {type, 0, 0};
	memcpy(vd_at(&r->v, HDR(k), 16), &h, 16);
	*vd_at(&r->v, STATUS(k), 1) = 0xee;
	struct vd_seg s[3] = {{HDR(k), 16, false}, {DATA(k), 16, false}, {STATUS(k), 1, true}};
	uint16_t at = vd_used_idx(&r->v, 0);
	vd_post(&r->v, 0, s, 3);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 10));
	uint32_t id, len;
	vd_used(&r->v, 0, at, &id, &len);
	assert_int_equal(len, 1);
	return *vd_at(&r->v, STATUS(k), 1);
}

/* The disk as it should be: the pattern, and the ranges zeroed so far. */
static uint8_t expect[DISK];

static void expect_reset(void)
{
	for (uint64_t i = 0; i < DISK; i++)
		expect[i] = pattern(i);
}

/* Zeroes sectors [sector, sector + n) with WRITE_ZEROES (flags: unmap) and
 * checks the whole file against what it should be. */
static void zero_and_check(struct rig *r, unsigned k, uint64_t sector, uint32_t n, uint32_t flags)
{
	assert_int_equal(zero_range(r, k, VIRTIO_BLK_T_WRITE_ZEROES, sector, n, flags),
			 VIRTIO_BLK_S_OK);
	memset(expect + sector * 512, 0, (size_t)n * 512);
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	static uint8_t buf[DISK];
	assert_int_equal(pread(fd, buf, DISK, 0), DISK);
	close(fd);
	for (uint64_t i = 0; i < DISK; i++)
		if (buf[i] != expect[i])
			fail_msg("%s: byte %llu is 0x%02x, not 0x%02x", r->path,
				 (unsigned long long)i, buf[i], expect[i]);
}

/* WRITE_ZEROES over the pattern reads back zeros, with and without the
 * unmap flag, whatever the file system under the disk: tmpfs has no
 * FALLOC_FL_ZERO_RANGE (the demo's guest logged an I/O error for every
 * WRITE_ZEROES there). A range of more than one write's worth too. */
static void write_zeroes_on(const char *dir)
{
	struct rig *r = rig_up_with(dir, F_WRITE_ZEROES | F_DISCARD);
	expect_reset();
	uint64_t offered = 0;
	for (unsigned s = 0; s < 2; s++) {
		vd_write(&r->v, VD_DEVICE_FEATURES_SEL, s);
		offered |= (uint64_t)vd_read(&r->v, VD_DEVICE_FEATURES) << (32 * s);
	}
	assert_true(offered & F_WRITE_ZEROES);
	uint32_t max = vd_read(&r->v, VIRTIO_MMIO_CONFIG + CFG_MAX_WZ_SECTORS);
	assert_true(max >= 2048); /* 1 MiB at least */
	/* no unmap: 64 sectors at 16 */
	zero_and_check(r, 0, 16, 64, 0);
	/* what the guest reads back */
	memset(vd_at(&r->v, DATA(1), 4096), 0xaa, 4096);
	uint16_t at = vd_used_idx(&r->v, 0);
	post_req(r, 1, VIRTIO_BLK_T_IN, 16, 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	assert_int_equal(*vd_at(&r->v, STATUS(1), 1), VIRTIO_BLK_S_OK);
	uint8_t zeros[4096] = {0};
	assert_memory_equal(vd_at(&r->v, DATA(1), 4096), zeros, 4096);
	/* unmap allowed, where the device says it may unmap */
	bool may_unmap = vd_read(&r->v, VIRTIO_MMIO_CONFIG + CFG_WZ_MAY_UNMAP) & 0xff;
	zero_and_check(r, 2, 80, 48, may_unmap ? 1 : 0);
	zero_and_check(r, 3, 200, 9, may_unmap ? 1 : 0); /* not page-aligned */
	/* 2.5 MiB from just past 1 MiB: partial writes at both ends */
	uint32_t n = (5u << 20) / 2 / 512;
	zero_and_check(r, 4, 2048 + 1, n < max ? n : max, 0);
	/* no sectors: nothing to do, done (whichever way it would be done) */
	zero_and_check(r, 5, 10, 0, 0);
	zero_and_check(r, 5, 10, 0, may_unmap ? 1 : 0);
	rig_down(r);
}

static void test_write_zeroes_tmpfs(void **state)
{
	(void)state;
	write_zeroes_on("/dev/shm");
}

static void test_write_zeroes_tmp(void **state)
{
	(void)state;
	write_zeroes_on("/tmp");
}

/* A slow disk, made with userfaultfd: the guest page a read goes to is
 * missing and registered, so the kernel's copy into it waits (in the
 * worker's own io_uring_enter, or in an io-wq thread) until the test
 * resolves the fault. -1 where userfaultfd is not allowed. */
static int uffd_on(uint8_t *page)
{
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return -1;
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)page, .len = 4096},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_API, &api) < 0 || madvise(page, 4096, MADV_DONTNEED) < 0 ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		close(uffd);
		return -1;
	}
	return uffd;
}

/* A reset while a read is in flight and cannot finish (the slow disk): the
 * vCPU's status write returns at once, the status reads non-zero until the
 * read ended, then 0; from then on nothing is written to guest memory
 * (canary), and the device serves again after the driver's
 * initialisation. */
static void test_reset_with_read_in_flight(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	/* a guest page whose host address is page-aligned */
	uint8_t *base = r->f.host[0];
	uint64_t gpa = (((uintptr_t)base + 0x300000 + 4095) & ~(uintptr_t)4095) - (uintptr_t)base;
	uint8_t *page = base + gpa;
	int uffd = uffd_on(page);
	if (uffd < 0) {
		rig_down(r);
		skip(); /* no userfaultfd here (vm.unprivileged_userfaultfd) */
	}
	struct hdr h = {VIRTIO_BLK_T_IN, 0, 8};
	memcpy(vd_at(&r->v, HDR(0), 16), &h, 16);
	*vd_at(&r->v, STATUS(0), 1) = 0xee;
	struct vd_seg s[3] = {{HDR(0), 16, false}, {gpa, 4096, true}, {STATUS(0), 1, true}};
	vd_post(&r->v, 0, s, 3);
	vd_kick(&r->v, 0);
	struct pollfd pfd = {.fd = uffd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1); /* the read is at the page */
	struct uffd_msg msg;
	assert_int_equal(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(msg.event, UFFD_EVENT_PAGEFAULT);

	struct vd_status_write w;
	bool prompt = vd_status_write_start(&w, &r->v, 3);
	static uint8_t fill[4096];
	memset(fill, 0x5a, sizeof(fill));
	struct uffdio_copy cp = {.dst = (uintptr_t)page, .src = (uintptr_t)fill, .len = 4096};
	if (!prompt) { /* let the read end, so that the test can */
		assert_int_equal(ioctl(uffd, UFFDIO_COPY, &cp), 0);
		vd_status_write_join(&w);
		fail_msg("the status write blocked its vCPU while a read was in flight");
	}
	vd_status_write_join(&w);
	for (int i = 0; i < 20; i++) {
		assert_int_not_equal(vd_status(&r->v), 0); /* the read is in flight */
		usleep(5000);
	}
	assert_int_equal(ioctl(uffd, UFFDIO_COPY, &cp), 0); /* the disk answers */
	assert_int_equal(vd_wait_reset(&r->v, 10), 0);

	/* Reset complete: guest memory is the guest's alone. */
	memset(base, 0xa5, MEM);
	vd_kick(&r->v, 0);
	usleep(200000);
	for (size_t i = 0; i < MEM; i++)
		if (base[i] != 0xa5)
			fail_msg("guest memory at 0x%zx written after the reset completed", i);
	struct uffdio_range rg = {.start = (uintptr_t)page, .len = 4096};
	assert_int_equal(ioctl(uffd, UFFDIO_UNREGISTER, &rg), 0);
	close(uffd);

	assert_true(vd_init(&r->v, r->features) & VIRTIO_CONFIG_S_DRIVER_OK);
	check_served(r, 1);
	rig_down(r);
}

/* Takes the disk's lock as another cvmm would (an OFD write lock on a new
 * open file description) from a child process: 0 if it got it. */
static int lock_from_child(const char *path)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		_exit(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The disk's lock is gone when blk_destroy returns, so a cvmm started
 * right after another one on the same disk gets it: the io_uring rings are
 * torn down by the kernel after their close, and a registered file kept
 * the locked file description (and so the lock) alive until then. */
static void test_lock_released_at_destroy(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	unsigned late = 0;
	for (unsigned i = 0; i < 50; i++) {
		check_served(r, 0); /* the worker's ring has used the file */
		assert_int_equal(lock_from_child(r->path), 1); /* ours while open */
		blk_destroy(r->b);
		r->b = NULL;
		if (lock_from_child(r->path) != 0) {
			late++;
			for (int k = 0; k < 500 && lock_from_child(r->path) != 0; k++)
				usleep(10000); /* let the kernel drop it, to go on */
		}
		rig_start(r);
	}
	if (late)
		fail_msg("the lock outlived blk_destroy %u times of 50", late);
	rig_down(r);
}

/* ---- blk_update: a new disk file while the driver runs ------------------ */

static uint8_t pattern2(uint64_t off)
{
	return (uint8_t)(off * 13 + 0x5b + (off >> 10));
}

/* A second disk file of `bytes` bytes of pattern2() beside the first. */
static void make_disk2(char *path, size_t cap, const char *dir, uint64_t bytes)
{
	snprintf(path, cap, "%s/cvmm-blk2-XXXXXX", dir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t buf[4096];
	for (uint64_t at = 0; at < bytes; at += sizeof(buf)) {
		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = pattern2(at + i);
		assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	}
	close(fd);
}

static uint64_t capacity(struct rig *r)
{
	uint64_t hi = vd_read(&r->v, VIRTIO_MMIO_CONFIG + 4);
	return vd_read(&r->v, VIRTIO_MMIO_CONFIG) | hi << 32;
}

/* Reads 4 KiB at sector through request k: its status, the bytes at DATA(k). */
static uint8_t read_at(struct rig *r, unsigned k, uint64_t sector)
{
	uint16_t at = vd_used_idx(&r->v, 0);
	memset(vd_at(&r->v, DATA(k), 4096), 0, 4096);
	post_req(r, k, VIRTIO_BLK_T_IN, sector, 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	return *vd_at(&r->v, STATUS(k), 1);
}

static void check_bytes(struct rig *r, unsigned k, uint64_t off, uint8_t (*want)(uint64_t))
{
	uint8_t *d = vd_at(&r->v, DATA(k), 4096);
	for (unsigned i = 0; i < 4096; i++)
		if (d[i] != want(off + i))
			fail_msg("byte %llu of the disk read 0x%02x, not 0x%02x",
				 (unsigned long long)(off + i), d[i], want(off + i));
}

/* The configuration interrupt: the status bit, and its eventfd raised
 * (consumed). */
static bool config_irq(struct rig *r)
{
	uint64_t n = 0;
	bool raised = read(r->irqfd, &n, sizeof(n)) == sizeof(n) && n > 0;
	bool bit = vd_read(&r->v, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG;
	vd_write(&r->v, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
	return raised && bit;
}

static void irq_clear(struct rig *r)
{
	uint64_t n;
	while (read(r->irqfd, &n, sizeof(n)) == sizeof(n))
		;
	vd_write(&r->v, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
}

/* A running device's disk replaced by a bigger file: the capacity and the
 * configuration generation change and the driver gets a configuration
 * interrupt; reads come from the new file (past the old end too), writes
 * go to it; the old file is unlocked, the new one locked. */
static void test_update_swaps_file(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	char path2[64];
	make_disk2(path2, sizeof(path2), "/tmp", 6 * MiB);
	check_served(r, 0);
	assert_int_equal(capacity(r), DISK / 512);
	uint32_t gen = vd_read(&r->v, VIRTIO_MMIO_CONFIG_GENERATION);
	irq_clear(r);

	struct err e = {0};
	assert_int_equal(blk_update(r->b, path2, &e), 0);
	assert_int_equal(capacity(r), 6 * MiB / 512);
	assert_int_not_equal(vd_read(&r->v, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_true(config_irq(r));
	assert_int_equal(read_at(r, 1, 8), VIRTIO_BLK_S_OK);
	check_bytes(r, 1, 8 * 512, pattern2);
	uint64_t past = DISK / 512 + 16; /* beyond the old file's end */
	assert_int_equal(read_at(r, 2, past), VIRTIO_BLK_S_OK);
	check_bytes(r, 2, past * 512, pattern2);
	/* a write lands in the new file only */
	memset(vd_at(&r->v, DATA(3), 4096), 0xc3, 4096);
	uint16_t at = vd_used_idx(&r->v, 0);
	post_req(r, 3, VIRTIO_BLK_T_OUT, 0, 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	assert_int_equal(*vd_at(&r->v, STATUS(3), 1), VIRTIO_BLK_S_OK);
	uint8_t b1 = 0, b2 = 0;
	int fd1 = open(r->path, O_RDONLY | O_CLOEXEC), fd2 = open(path2, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(fd1, &b1, 1, 0), 1);
	assert_int_equal(pread(fd2, &b2, 1, 0), 1);
	close(fd1);
	close(fd2);
	assert_int_equal(b1, pattern(0));
	assert_int_equal(b2, 0xc3);
	/* the locks followed the file */
	assert_int_equal(lock_from_child(r->path), 0);
	assert_int_equal(lock_from_child(path2), 1);
	assert_false(vd_read(&r->v, VD_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	unlink(path2);
	rig_down(r);
}

/* What cannot be used changes nothing: a missing file, a directory, a
 * file another process holds locked. The file the device has, named
 * again, is not "locked by another": its size is read again. */
static void test_update_refused_or_same(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	char path2[64];
	make_disk2(path2, sizeof(path2), "/tmp", 2 * MiB);
	irq_clear(r);
	uint32_t gen = vd_read(&r->v, VIRTIO_MMIO_CONFIG_GENERATION);
	struct err e = {0};
	assert_int_equal(blk_update(r->b, "/nonexistent/disk.img", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/disk.img"));
	assert_int_equal(blk_update(r->b, "/tmp", &e), -EISDIR);
	/* another holder of the lock (an OFD lock: any other open file) */
	int held = open(path2, O_RDWR | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	assert_int_equal(fcntl(held, F_OFD_SETLK, &fl), 0);
	assert_int_equal(blk_update(r->b, path2, &e), -EBUSY);
	close(held);
	assert_int_equal(capacity(r), DISK / 512);
	assert_int_equal(vd_read(&r->v, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_false(config_irq(r));
	check_served(r, 0);
	assert_int_equal(lock_from_child(r->path), 1);

	/* the same file, grown meanwhile: the new size, the lock kept */
	assert_int_equal(truncate(r->path, 2 * DISK), 0);
	assert_int_equal(blk_update(r->b, r->path, &e), 0);
	assert_int_equal(capacity(r), 2 * DISK / 512);
	assert_true(config_irq(r));
	assert_int_equal(lock_from_child(r->path), 1);
	check_served(r, 0);
	unlink(path2);
	rig_down(r);
}

struct update_job {
	struct blk *b;
	const char *path;
	int r;
	atomic_bool done;
};

static void *update_thread(void *arg)
{
	struct update_job *j = arg;
	struct err e = {0};
	j->r = blk_update(j->b, j->path, &e);
	atomic_store(&j->done, true);
	return NULL;
}

/* A read in flight on the old file when it is replaced (the slow disk)
 * ends there, with the old file's bytes; the update waits for it before
 * the old file is unlocked. */
static void test_update_with_read_in_flight(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	char path2[64];
	make_disk2(path2, sizeof(path2), "/tmp", DISK);
	uint8_t *base = r->f.host[0];
	uint64_t gpa = (((uintptr_t)base + 0x300000 + 4095) & ~(uintptr_t)4095) - (uintptr_t)base;
	uint8_t *page = base + gpa;
	int uffd = uffd_on(page);
	if (uffd < 0) {
		unlink(path2);
		rig_down(r);
		skip(); /* no userfaultfd here (vm.unprivileged_userfaultfd) */
	}
	struct hdr h = {VIRTIO_BLK_T_IN, 0, 8};
	memcpy(vd_at(&r->v, HDR(0), 16), &h, 16);
	*vd_at(&r->v, STATUS(0), 1) = 0xee;
	struct vd_seg s[3] = {{HDR(0), 16, false}, {gpa, 4096, true}, {STATUS(0), 1, true}};
	uint16_t at = vd_used_idx(&r->v, 0);
	vd_post(&r->v, 0, s, 3);
	vd_kick(&r->v, 0);
	struct pollfd pfd = {.fd = uffd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1); /* the read is at the page */
	struct uffd_msg msg;
	assert_int_equal(read(uffd, &msg, sizeof(msg)), sizeof(msg));

	struct update_job j = {.b = r->b, .path = path2};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, update_thread, &j), 0);
	usleep(200000);
	assert_false(atomic_load(&j.done)); /* waiting for the read */
	assert_int_equal(lock_from_child(r->path), 1);
	/* the fault resolved with the bytes the page had: the kernel copies
	 * the file's data over them */
	static uint8_t fill[4096];
	struct uffdio_copy cp = {.dst = (uintptr_t)page, .src = (uintptr_t)fill, .len = 4096};
	assert_int_equal(ioctl(uffd, UFFDIO_COPY, &cp), 0);
	pthread_join(t, NULL);
	assert_int_equal(j.r, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	assert_int_equal(*vd_at(&r->v, STATUS(0), 1), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 4096; i++)
		if (page[i] != pattern(8 * 512 + i))
			fail_msg("byte %u of the read in flight: 0x%02x, not the old file's 0x%02x",
				 i, page[i], pattern(8 * 512 + i));
	assert_int_equal(lock_from_child(r->path), 0);
	struct uffdio_range rg = {.start = (uintptr_t)page, .len = 4096};
	assert_int_equal(ioctl(uffd, UFFDIO_UNREGISTER, &rg), 0);
	close(uffd);
	assert_int_equal(read_at(r, 1, 8), VIRTIO_BLK_S_OK);
	check_bytes(r, 1, 8 * 512, pattern2);
	unlink(path2);
	rig_down(r);
}

/* One request posted and served; its status. */
static uint8_t serve(struct rig *r, unsigned k, uint32_t type, uint64_t sector, uint32_t len)
{
	uint16_t at = vd_used_idx(&r->v, 0);
	post_req(r, k, type, sector, len);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	return *vd_at(&r->v, STATUS(k), 1);
}

static struct vdev_metrics blk_counters(struct rig *r)
{
	struct vdev_metrics m = {0};
	blk_desc.metrics(r->b, &m);
	return m;
}

/* The counters Firecracker's block metrics name: requests that succeeded
 * and their bytes, flushes, requests answered with an error, chains that
 * were no request, the queue's kicks. */
static void test_metrics_counted(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	assert_non_null(blk_desc.metrics);
	struct vdev_metrics m = blk_counters(r);
	assert_int_equal(m.blk.read_count + m.blk.write_count + m.blk.queue_event_count, 0);
	assert_int_equal(serve(r, 0, VIRTIO_BLK_T_IN, 8, 4096), VIRTIO_BLK_S_OK);
	assert_int_equal(serve(r, 1, VIRTIO_BLK_T_IN, 16, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(serve(r, 2, VIRTIO_BLK_T_OUT, 0, 1024), VIRTIO_BLK_S_OK);
	assert_int_equal(serve(r, 3, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* past the end of the disk: IOERR */
	assert_int_equal(serve(r, 4, VIRTIO_BLK_T_IN, DISK / 512, 512), VIRTIO_BLK_S_IOERR);
	uint16_t at = vd_used_idx(&r->v, 0);
	post_statusless(r, 5);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
	m = blk_counters(r);
	assert_int_equal(m.blk.read_count, 2);
	assert_int_equal(m.blk.read_bytes, 4096 + 512);
	assert_int_equal(m.blk.write_count, 1);
	assert_int_equal(m.blk.write_bytes, 1024);
	assert_int_equal(m.blk.flush_count, 1);
	assert_int_equal(m.blk.invalid_reqs_count, 1);
	assert_int_equal(m.blk.execute_fails, 1);
	/* 6 kicks, each waited for: each one a queue event */
	assert_int_equal(m.blk.queue_event_count, 6);
	rig_down(r);
}

/* The rate limiter on the real worker: 10 requests per 100 ms, a flush
 * counted as one, 4 KiB reads as one each and their bytes (16 KiB per
 * 100 ms). 30 reads posted at once: 4 go at once (the bytes' bucket), the
 * rest at 4 per 100 ms, each whole and right; the bytes limit alone then
 * lifted from another thread: 20 more go at the ops' 10 per 100 ms. */
static void test_rate_limited(void **state)
{
	(void)state;
	struct rl_cfg lim = {.bw = {.size = 16384, .refill_ms = 100},
			     .ops = {.size = 10, .refill_ms = 100}};
	rig_limit = &lim;
	struct rig *r = rig_up("/tmp");
	rig_limit = NULL;
	double t0 = vd_now();
	for (unsigned k = 0; k < 30; k++) {
		memset(vd_at(&r->v, DATA(k), 4096), 0, 4096);
		post_req(r, k, VIRTIO_BLK_T_IN, 8 * k, 4096);
	}
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 30, 10));
	double took = vd_now() - t0;
	/* 26 after the first 4, at 4 per 100 ms: 650 ms */
	if (took < 0.6 || took > 3)
		fail_msg("30 reads at 4 per 100 ms (4 at once) took %.3f s, not about 0.65", took);
	for (unsigned k = 0; k < 30; k++) {
		assert_int_equal(*vd_at(&r->v, STATUS(k), 1), VIRTIO_BLK_S_OK);
		uint8_t *d = vd_at(&r->v, DATA(k), 4096);
		for (unsigned i = 0; i < 4096; i += 512)
			assert_int_equal(d[i], pattern(8 * 512 * k + i));
	}
	struct vdev_metrics m = blk_counters(r);
	assert_int_equal(m.blk.read_count, 30);
	assert_true(m.limit[0].throttled >= 1);
	assert_true(m.limit[0].throttled_ns >= 500000000ULL);
	struct rl_cfg ops_only = {.ops = lim.ops};
	struct err e = {0};
	assert_int_equal(blk_desc.set_limiter(r->b, 0, &ops_only, &e), 0);
	t0 = vd_now();
	for (unsigned k = 30; k < 50; k++)
		post_req(r, k, k % 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_IN, 8, k % 2 ? 0 : 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 50, 10));
	took = vd_now() - t0;
	/* the ops' bucket kept its state (not changed): 20 at 10 per 100 ms */
	if (took < 0.08 || took > 2)
		fail_msg("20 requests at 10 per 100 ms (about 10 at once) took %.3f s", took);
	assert_int_equal(blk_desc.set_limiter(r->b, 1, &ops_only, &e), -EINVAL);
	rig_down(r);
}

/* ---- snapshot ---- */

struct pause_call {
	struct virtio_dev *d;
	pthread_t t;
	atomic_bool done;
	int rc;
};

static void *pause_run(void *arg)
{
	struct pause_call *p = arg;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 10;
	p->rc = virtio_dev_pause(p->d, &until);
	atomic_store(&p->done, true);
	return NULL;
}

/* The device's state (virtio_dev's and the descriptor's sections), as the
 * VM saves it: into *buf (malloc'ed), its length returned. */
static size_t save_state(struct rig *r, uint8_t **buf)
{
	struct snap_w w;
	snap_w_init(&w);
	virtio_dev_save(blk_vdev(r->b), &w, 0);
	struct err e = {0};
	assert_int_equal(blk_desc.save(r->b, &w, 0, &e), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	*buf = malloc(len);
	memcpy(*buf, p, len);
	snap_w_free(&w);
	return len;
}

/* A fresh device on the same disk and guest memory, opened and started as
 * at boot (no driver), then restored from the state: 0 or restore's error,
 * its message in e. */
static int restore_fresh(struct rig *r, const uint8_t *buf, size_t len, struct err *e)
{
	struct blk_cfg cfg = {.path = r->path, .queues = 1};
	assert_int_equal(blk_open(&r->b, &cfg, 0, e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(blk_start(r->b, &r->f.m, &irq, e), 0);
	r->v.d = blk_vdev(r->b);
	r->v.q[0].kick_fd = blk_kick_fd(r->b, 0);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, e), 0);
	int rc = blk_desc.restore(r->b, &sr, 0, e);
	if (rc == 0)
		rc = virtio_dev_restore(blk_vdev(r->b), &sr, 0, e);
	return rc;
}

/* Snapshot with a read in flight: the pause waits for it (its used entry
 * is written before the pause returns), a chain kicked while paused is
 * not taken; a fresh device restored from the state takes that chain at
 * once and the next one the driver adds, at the used indices that follow,
 * guest memory as it was. */
static void test_snapshot_drains_and_restores(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	check_served(r, 1);
	check_served(r, 2);
	uint8_t *base = r->f.host[0];
	uint64_t gpa = (((uintptr_t)base + 0x300000 + 4095) & ~(uintptr_t)4095) - (uintptr_t)base;
	uint8_t *page = base + gpa;
	int uffd = uffd_on(page);
	if (uffd < 0) {
		rig_down(r);
		skip(); /* no userfaultfd here (vm.unprivileged_userfaultfd) */
	}
	struct hdr h = {VIRTIO_BLK_T_IN, 0, 8};
	memcpy(vd_at(&r->v, HDR(0), 16), &h, 16);
	*vd_at(&r->v, STATUS(0), 1) = 0xee;
	struct vd_seg s[3] = {{HDR(0), 16, false}, {gpa, 4096, true}, {STATUS(0), 1, true}};
	vd_post(&r->v, 0, s, 3);
	vd_kick(&r->v, 0);
	struct pollfd pfd = {.fd = uffd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1); /* the read is at the page */
	struct uffd_msg msg;
	assert_int_equal(read(uffd, &msg, sizeof(msg)), sizeof(msg));

	struct pause_call pc = {.d = blk_vdev(r->b)};
	assert_int_equal(pthread_create(&pc.t, NULL, pause_run, &pc), 0);
	usleep(100000);
	assert_false(atomic_load(&pc.done)); /* it waits for the read */
	assert_int_equal(vd_used_idx(&r->v, 0), 2);
	static uint8_t fill[4096];
	struct uffdio_copy cp = {.dst = (uintptr_t)page, .src = (uintptr_t)fill, .len = 4096};
	assert_int_equal(ioctl(uffd, UFFDIO_COPY, &cp), 0); /* the disk answers */
	pthread_join(pc.t, NULL);
	assert_int_equal(pc.rc, 0);
	/* drained: the read was pushed before the pause returned */
	assert_int_equal(vd_used_idx(&r->v, 0), 3);
	assert_int_equal(*vd_at(&r->v, STATUS(0), 1), VIRTIO_BLK_S_OK);
	assert_int_equal(page[0], pattern(8 * 512));
	struct uffdio_range rg = {.start = (uintptr_t)page, .len = 4096};
	assert_int_equal(ioctl(uffd, UFFDIO_UNREGISTER, &rg), 0);
	close(uffd);

	/* paused: a chain kicked now is not taken */
	memset(vd_at(&r->v, DATA(3), 4096), 0, 4096);
	post_req(r, 3, VIRTIO_BLK_T_IN, 16, 4096);
	vd_kick(&r->v, 0);
	usleep(100000);
	assert_int_equal(vd_used_idx(&r->v, 0), 3);
	assert_int_equal(*vd_at(&r->v, STATUS(3), 1), 0xee);

	uint8_t *buf;
	size_t len = save_state(r, &buf);
	blk_destroy(r->b);			     /* the saving process ends */
	memset(vd_at(&r->v, DATA(9), 16), 0x77, 16); /* guest memory a restore leaves alone */
	/* the used entries the driver consumed: never written again */
	for (unsigned i = 0; i < 3; i++)
		le_put32(vd_at(&r->v, r->v.q[0].r.used + 4 + 8 * i + 4, 4), 0xdead);

	struct err e = {0};
	assert_int_equal(restore_fresh(r, buf, len, &e), 0);
	assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK);
	/* the chain left in the ring is served, at used index 3 */
	assert_true(vd_wait_used(&r->v, 0, 4, 5));
	uint32_t id, ulen;
	vd_used(&r->v, 0, 3, &id, &ulen);
	assert_int_equal(ulen, 4096 + 1);
	assert_int_equal(*vd_at(&r->v, STATUS(3), 1), VIRTIO_BLK_S_OK);
	assert_int_equal(*vd_at(&r->v, DATA(3), 1), pattern(16 * 512));
	/* and the next one, at 4 */
	check_served(r, 4);
	assert_int_equal(vd_used_idx(&r->v, 0), 5);
	assert_int_equal(*vd_at(&r->v, DATA(9), 1), 0x77);
	for (unsigned i = 0; i < 3; i++) {
		vd_used(&r->v, 0, (uint16_t)i, &id, &ulen);
		assert_int_equal(ulen, 0xdead); /* nothing served twice */
	}
	free(buf);
	rig_down(r);
}

/* Paused, a kicked chain waits; resumed, it is served. */
static void test_pause_holds_then_resume(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	check_served(r, 1);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(blk_vdev(r->b), &until), 0);
	post_req(r, 2, VIRTIO_BLK_T_IN, 8, 4096);
	vd_kick(&r->v, 0);
	usleep(100000);
	assert_int_equal(vd_used_idx(&r->v, 0), 1);
	virtio_dev_resume(blk_vdev(r->b));
	assert_true(vd_wait_used(&r->v, 0, 2, 5));
	assert_int_equal(*vd_at(&r->v, STATUS(2), 1), VIRTIO_BLK_S_OK);
	check_served(r, 3);
	rig_down(r);
}

/* A disk of another size than the snapshot's is refused, named. */
static void test_restore_other_disk_size(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	check_served(r, 1);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(blk_vdev(r->b), &until), 0);
	uint8_t *buf;
	size_t len = save_state(r, &buf);
	blk_destroy(r->b);
	assert_int_equal(truncate(r->path, DISK / 2), 0);
	struct err e = {0};
	assert_int_equal(restore_fresh(r, buf, len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "sectors"));
	assert_int_equal(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK, 0);
	free(buf);
	rig_down(r);
}

/* ---- adaptive polling ---- */

/* Requests sent one after another, each as soon as the one before was
 * used (the driver waits on its interrupt: the test's thread sleeps, so
 * that on a busy host the worker gets the core), none kicked unless it was
 * not served within 5 ms (a watchdog kick, counted: shorter than the
 * largest window, so that a miss grows the window). Returns how many of n
 * were served without a kick. */
static unsigned kickless_run(struct rig *r, unsigned n, unsigned *kicks)
{
	unsigned served = 0;
	*kicks = 0;
	for (unsigned k = 0; k < n; k++) {
		uint16_t at = vd_used_idx(&r->v, 0);
		uint64_t junk;
		(void)!read(r->irqfd, &junk, sizeof(junk));
		rr_set_used_event(&r->v.q[0].r, at); /* EVENT_IDX: the next one's */
		post_req(r, k % 64, VIRTIO_BLK_T_IN, 8 * (k % 64), 4096);
		double until = vd_now() + 0.005;
		while (vd_used_idx(&r->v, 0) == at && vd_now() < until) {
			double left = until - vd_now();
			struct timespec ts = {0, left > 0 ? (long)(left * 1e9) : 0};
			struct pollfd pfd = {.fd = r->irqfd, .events = POLLIN};
			(void)ppoll(&pfd, 1, &ts, NULL);
			(void)!read(r->irqfd, &junk, sizeof(junk));
		}
		if (vd_used_idx(&r->v, 0) != at) {
			served++;
		} else {
			vd_kick(&r->v, 0);
			(*kicks)++;
			assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
		}
		assert_int_equal(*vd_at(&r->v, STATUS(k % 64), 1), VIRTIO_BLK_S_OK);
		assert_int_equal(*vd_at(&r->v, DATA(k % 64), 1), pattern(8 * 512 * (k % 64)));
	}
	return served;
}

/* With polling (the largest window), requests the driver makes available
 * while the worker polls are served without a kick: once the window has
 * grown past the driver's turnaround, nearly all of them. The device's
 * counters say so too: its queue events are the watchdog's kicks. */
static void poll_serves_without_kick(uint64_t features)
{
	rig_poll_us = 10000;
	struct rig *r = rig_up_with("/tmp", features);
	rig_poll_us = 0;
	check_served(r, 0); /* kicked */
	unsigned kicks, served = kickless_run(r, 300, &kicks);
	print_message("polling: %u of 300 requests served without a kick\n", served);
	if (served < 200)
		fail_msg("polling: %u of 300 requests served without a kick (%u kicked)", served,
			 kicks);
	struct vdev_metrics m = blk_counters(r);
	assert_int_equal(m.blk.queue_event_count, kicks + 1);
	assert_int_equal(m.blk.read_count, 301);
	rig_down(r);
}

static void test_poll_serves_without_kick(void **state)
{
	(void)state;
	poll_serves_without_kick(0);
}

static void test_poll_serves_without_kick_event_idx(void **state)
{
	(void)state;
	poll_serves_without_kick(1ULL << VIRTIO_RING_F_EVENT_IDX);
}

/* Without polling (poll=0) every one of them needs its kick. */
static void test_no_poll_needs_kicks(void **state)
{
	(void)state;
	struct rig *r = rig_up("/tmp");
	check_served(r, 0);
	unsigned kicks, served = kickless_run(r, 30, &kicks);
	assert_int_equal(served, 0);
	assert_int_equal(kicks, 30);
	rig_down(r);
}

/* A driver that follows the protocol (it kicks only when the device asks:
 * with EVENT_IDX when its avail_event is crossed, without when used->flags
 * lacks VRING_USED_F_NO_NOTIFY) gets every request served, polling or
 * not, and while the worker polls it is asked for few kicks. */
static void test_poll_driver_protocol(void **state)
{
	(void)state;
	for (unsigned run = 0; run < 4; run++) {
		bool poll = run & 1, event_idx = run < 2;
		rig_poll_us = poll ? 10000 : 0;
		struct rig *r =
			rig_up_with("/tmp", event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
		rig_poll_us = 0;
		unsigned asked = 0;
		for (unsigned k = 0; k < 300; k++) {
			uint16_t at = vd_used_idx(&r->v, 0);
			uint16_t old = r->v.q[0].r.avail_idx;
			post_req(r, k % 64, VIRTIO_BLK_T_IN, 8 * (k % 64), 4096);
			if (event_idx) {
				asked += vd_kick_if_asked(&r->v, 0, old);
			} else {
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
				if (!(rr_used_flags(&r->v.q[0].r) & VRING_USED_F_NO_NOTIFY)) {
					vd_kick(&r->v, 0);
					asked++;
				}
			}
			if (!vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5))
				fail_msg("poll %d event_idx %d: request %u not served (no kick "
					 "asked "
					 "for?)",
					 poll, event_idx, k);
			assert_int_equal(*vd_at(&r->v, STATUS(k % 64), 1), VIRTIO_BLK_S_OK);
		}
		if (!poll)
			assert_int_equal(asked, 300); /* each one kicked */
		else if (asked > 100)
			fail_msg("polling (event_idx %d): %u of 300 requests asked for a kick",
				 event_idx, asked);
		rig_down(r);
	}
}

/* Polling with a rate limiter that makes requests wait: they are served
 * at the limiter's pace (the poller does not spin on chains the device
 * cannot take yet, nor serve them early) and right. */
static void test_poll_rate_limited(void **state)
{
	(void)state;
	struct rl_cfg lim = {.ops = {.size = 10, .refill_ms = 100}};
	rig_limit = &lim;
	rig_poll_us = 10000;
	struct rig *r = rig_up("/tmp");
	rig_limit = NULL;
	rig_poll_us = 0;
	double t0 = vd_now();
	for (unsigned k = 0; k < 30; k++)
		post_req(r, k, VIRTIO_BLK_T_IN, 8 * k, 4096);
	vd_kick(&r->v, 0);
	assert_true(vd_wait_used(&r->v, 0, 30, 10));
	double took = vd_now() - t0;
	/* 20 after the first 10, at 10 per 100 ms: 200 ms */
	if (took < 0.15 || took > 3)
		fail_msg("30 reads at 10 per 100 ms (10 at once) took %.3f s, not about 0.2", took);
	for (unsigned k = 0; k < 30; k++)
		assert_int_equal(*vd_at(&r->v, STATUS(k), 1), VIRTIO_BLK_S_OK);
	check_served(r, 30);
	rig_down(r);
}

/* A pause, a snapshot's state and a reset all go through while the worker
 * polls with the largest window, promptly; so does the end. */
static void test_poll_pause_reset_prompt(void **state)
{
	(void)state;
	rig_poll_us = 10000;
	struct rig *r = rig_up_with("/tmp", 1ULL << VIRTIO_RING_F_EVENT_IDX);
	rig_poll_us = 0;
	unsigned kicks;
	(void)kickless_run(r, 50, &kicks); /* the window grown */
	for (unsigned i = 0; i < 20; i++) {
		double t0 = vd_now();
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 5;
		assert_int_equal(virtio_dev_pause(blk_vdev(r->b), &until), 0);
		/* paused: kicks are on again for when it resumes (avail_event
		 * where the next chain goes), and nothing is served */
		assert_int_equal(rr_avail_event(&r->v.q[0].r), r->v.q[0].r.avail_idx);
		uint16_t at = vd_used_idx(&r->v, 0);
		post_req(r, 1, VIRTIO_BLK_T_IN, 8, 4096);
		usleep(20000);
		assert_int_equal(vd_used_idx(&r->v, 0), at);
		virtio_dev_resume(blk_vdev(r->b));
		assert_true(vd_wait_used(&r->v, 0, (uint16_t)(at + 1), 5));
		if (vd_now() - t0 > 1)
			fail_msg("a pause and resume while polling took %.3f s", vd_now() - t0);
		(void)kickless_run(r, 5, &kicks);
	}
	double t0 = vd_now();
	vd_reset(&r->v);
	if (vd_now() - t0 > 1)
		fail_msg("a reset while polling took %.3f s", vd_now() - t0);
	assert_true(vd_init(&r->v, r->features) & VIRTIO_CONFIG_S_DRIVER_OK);
	check_served(r, 2);
	t0 = vd_now();
	rig_down(r);
	if (vd_now() - t0 > 1)
		fail_msg("the end while polling took %.3f s", vd_now() - t0);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statusless_chains_consumed),
		cmocka_unit_test(test_reset_restores_slots),
		cmocka_unit_test(test_lock_released_at_destroy),
		cmocka_unit_test(test_reset_with_read_in_flight),
		cmocka_unit_test(test_write_zeroes_tmpfs),
		cmocka_unit_test(test_write_zeroes_tmp),
		cmocka_unit_test(test_update_swaps_file),
		cmocka_unit_test(test_update_refused_or_same),
		cmocka_unit_test(test_update_with_read_in_flight),
		cmocka_unit_test(test_metrics_counted),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_snapshot_drains_and_restores),
		cmocka_unit_test(test_pause_holds_then_resume),
		cmocka_unit_test(test_restore_other_disk_size),
		cmocka_unit_test(test_poll_serves_without_kick),
		cmocka_unit_test(test_poll_serves_without_kick_event_idx),
		cmocka_unit_test(test_no_poll_needs_kicks),
		cmocka_unit_test(test_poll_driver_protocol),
		cmocka_unit_test(test_poll_rate_limited),
		cmocka_unit_test(test_poll_pause_reset_prompt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
