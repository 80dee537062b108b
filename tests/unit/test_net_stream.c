/* SPDX-License-Identifier: MIT */
/* virtio-net's stream backend end to end below the transport: a real unix
 * socket peer, the device's real RX/TX workers (io_uring, filters), rings in
 * a fake guest memory. Frames that arrive while the driver has no buffers
 * must come out intact, in order, once it posts some (the RX worker keeps a
 * socket read in flight meanwhile); TX frames reach the peer with their
 * 4-byte length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/snap.h"
#include "devices/net.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

#define MEM	 (1 * MiB)
#define QSIZE	 64
#define RX_DESC	 0x1000ULL
#define RX_AVAIL 0x3000ULL
#define RX_USED	 0x4000ULL
#define TX_DESC	 0x6000ULL
#define TX_AVAIL 0x8000ULL
#define TX_USED	 0x9000ULL
#define RX_BUF	 0x10000ULL
#define TX_BUF	 0x80000ULL
#define BUFSZ	 2048

struct rig {
	struct fake_mem f;
	struct net *n;
	struct vd v; /* the device's registers, through virtio-mmio or virtio-pci */
	struct virtio_pci pci;
	int kicks[2];
	int peer, irqfd;
	char dir[64], path[96];
};

/* The driver's side of RX (0) and TX (1). */
#define RX(r) (&(r)->v.q[0].r)
#define TX(r) (&(r)->v.q[1].r)

static void wait_used(struct rig *r, unsigned q, uint16_t want)
{
	for (int i = 0; i < 1000 && vd_used_idx(&r->v, q) < want; i++)
		usleep(5000);
	assert_int_equal(vd_used_idx(&r->v, q), want);
}

static void kick(struct rig *r, unsigned q)
{
	uint64_t one = 1;
	assert_int_equal(write(net_kick_fd(r->n, q), &one, 8), 8);
}

static void frame(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* The peer sends one frame of len bytes, length-prefixed. */
static void peer_send(struct rig *r, size_t len, uint8_t seed)
{
	uint8_t buf[4 + 1600];
	uint32_t be = htonl((uint32_t)len);
	memcpy(buf, &be, 4);
	frame(buf + 4, len, seed);
	assert_int_equal(send(r->peer, buf, 4 + len, 0), (ssize_t)(4 + len));
}

/* The next rig's rate limiters (RX, TX), NULL: none. */
static const struct rl_cfg *rig_limit[2];
/* The next rig's largest TX poll window, us (0: none). */
static unsigned rig_poll_us;

static int setup_on(void **state, bool pci)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(fake_mem_init(&r->f, MEM), 0);
	snprintf(r->dir, sizeof(r->dir), "/tmp/cvmm-stream-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/s", r->dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, r->path, strlen(r->path));
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	struct net_cfg cfg = {.backend = NET_STREAM, .target = r->path, .fd = -1};
	if (rig_limit[0])
		cfg.rx_limit = *rig_limit[0];
	if (rig_limit[1])
		cfg.tx_limit = *rig_limit[1];
	cfg.poll_us = rig_poll_us;
	struct err e = {0};
	assert_int_equal(net_open(&r->n, &cfg, 0, &e), 0);
	r->peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(r->peer >= 0);
	close(l);
	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(net_start(r->n, &r->f.m, &irq, &e), 0);
	r->v = (struct vd){.m = &r->f.m, .d = net_vdev(r->n)};
	r->kicks[0] = net_kick_fd(r->n, 0);
	r->kicks[1] = net_kick_fd(r->n, 1);
	if (pci)
		vd_pci_attach(&r->v, &r->pci, r->kicks);
	vd_ring_set(&r->v, 0, RX_DESC, RX_AVAIL, RX_USED, QSIZE, r->kicks[0]);
	vd_ring_set(&r->v, 1, TX_DESC, TX_AVAIL, TX_USED, QSIZE, r->kicks[1]);
	assert_true(vd_init(&r->v, 1ULL << VIRTIO_NET_F_MRG_RXBUF) & VIRTIO_CONFIG_S_DRIVER_OK);
	*state = r;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pci(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	struct rig *r = *state;
	net_destroy(r->n); /* its RX worker has a read pending: must not hang */
	close(r->irqfd);
	close(r->peer);
	unlink(r->path);
	rmdir(r->dir);
	fake_mem_free(&r->f);
	free(r);
	return 0;
}

static void check_rx(struct rig *r, unsigned i, size_t len, uint8_t seed)
{
	uint32_t id, used_len;
	vd_used(&r->v, 0, (uint16_t)i, &id, &used_len);
	assert_int_equal(used_len, NET_HDR_LEN + len);
	assert_true(id < QSIZE);
	uint8_t *b = fake_at(&r->f, RX_BUF + (uint64_t)id * BUFSZ, BUFSZ);
	assert_int_equal(rd16(b + 10), 1); /* num_buffers */
	uint8_t want[1600];
	frame(want, len, seed);
	assert_memory_equal(b + NET_HDR_LEN, want, len);
}

static void test_rx_frames_wait_for_buffers(void **state)
{
	struct rig *r = *state;
	/* No buffers yet: the frame waits in the device, which reads on. */
	peer_send(r, 100, 1);
	usleep(100000);
	assert_int_equal(vd_used_idx(&r->v, 0), 0);
	for (unsigned i = 0; i < 4; i++) {
		rr_desc(RX(r), i, RX_BUF + (uint64_t)i * BUFSZ, BUFSZ, VRING_DESC_F_WRITE, 0);
		rr_avail(RX(r), (uint16_t)i);
	}
	kick(r, 0);
	wait_used(r, 0, 1);
	check_rx(r, 0, 100, 1);
	/* The read that was in flight while the first frame went out lands
	 * where it was aimed: the next frames come out whole. */
	peer_send(r, 200, 2);
	wait_used(r, 0, 2);
	check_rx(r, 1, 200, 2);
	peer_send(r, 1514, 3);
	peer_send(r, 60, 4);
	wait_used(r, 0, 4);
	check_rx(r, 2, 1514, 3);
	check_rx(r, 3, 60, 4);
	/* Firecracker's net metrics: the frames and their bytes (with the
	 * header the guest got), the first frame's wait for buffers, the one
	 * kick, reads that brought bytes, nothing failed */
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.rx_packets_count, 4);
	assert_int_equal(m.net.rx_bytes_count, 4 * NET_HDR_LEN + 100 + 200 + 1514 + 60);
	assert_true(m.net.no_rx_avail_buffer >= 1);
	assert_int_equal(m.net.rx_queue_event_count, 1);
	assert_true(m.net.rx_tap_event_count >= 1 && m.net.rx_tap_event_count <= 4);
	assert_int_equal(m.net.rx_fails + m.net.tap_read_fails, 0);
	assert_int_equal(m.net.tx_packets_count + m.net.tx_queue_event_count, 0);
}

static void test_tx_frame_reaches_peer(void **state)
{
	struct rig *r = *state;
	uint8_t *hdr = fake_at(&r->f, TX_BUF, NET_HDR_LEN);
	memset(hdr, 0, NET_HDR_LEN);
	frame(fake_at(&r->f, TX_BUF + 64, 300), 300, 9);
	rr_desc(TX(r), 0, TX_BUF, NET_HDR_LEN, VRING_DESC_F_NEXT, 1);
	rr_desc(TX(r), 1, TX_BUF + 64, 300, 0, 0);
	rr_avail(TX(r), 0);
	kick(r, 1);
	uint8_t got[4 + 300];
	size_t have = 0;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(r->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (have < sizeof(got)) {
		ssize_t k = recv(r->peer, got + have, sizeof(got) - have, 0);
		/* a socket with a receive timeout is never restarted after an
		 * interruption (EINTR seen on arm64 in the test host) */
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fail_msg("recv after %zu bytes: %zd (%s)", have, k,
				 k < 0 ? strerror(errno) : "EOF");
		have += (size_t)k;
	}
	uint32_t be;
	memcpy(&be, got, 4);
	assert_int_equal(ntohl(be), 300);
	uint8_t want[300];
	frame(want, 300, 9);
	assert_memory_equal(got + 4, want, 300);
	wait_used(r, 1, 1);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.tx_packets_count, 1);
	assert_int_equal(m.net.tx_bytes_count, NET_HDR_LEN + 300); /* as the guest sent it */
	assert_int_equal(m.net.tx_queue_event_count, 1);
	assert_int_equal(m.net.tx_malformed_frames + m.net.tx_fails + m.net.tap_write_fails, 0);
	/* a frame shorter than its header is malformed: dropped, counted */
	rr_desc(TX(r), 2, TX_BUF, 4, 0, 0);
	rr_avail(TX(r), 2);
	kick(r, 1);
	wait_used(r, 1, 2);
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.tx_malformed_frames, 1);
	assert_int_equal(m.net.tx_packets_count, 1);
}

/* TX frame in slot k (header and frame in one 2 KiB slot, 32 slots):
 * descriptors 2k, 2k + 1; not kicked. */
static void post_tx(struct rig *r, unsigned k, size_t len, uint8_t seed)
{
	uint64_t at = TX_BUF + 2048ULL * k;
	memset(fake_at(&r->f, at, NET_HDR_LEN), 0, NET_HDR_LEN);
	frame(fake_at(&r->f, at + 64, len), len, seed);
	rr_desc(TX(r), 2 * k, at, NET_HDR_LEN, VRING_DESC_F_NEXT, (uint16_t)(2 * k + 1));
	rr_desc(TX(r), 2 * k + 1, at + 64, (uint32_t)len, 0, 0);
	rr_avail(TX(r), (uint16_t)(2 * k));
}

/* Reads what the peer was sent, without blocking; bytes read. */
static size_t peer_drain(struct rig *r)
{
	static uint8_t sink[65536];
	size_t got = 0;
	ssize_t k;
	while ((k = recv(r->peer, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		got += (size_t)k;
	return got;
}

/* A reset while a TX write is stuck (the peer reads nothing: the socket is
 * full). The vCPU that writes 0 to the status must come back at once, the
 * status must read non-zero while the write is in flight (the device is
 * still resetting, virtio 1.2 4.1.4.3.2), and 0 once the peer read and the
 * write ended; after that the device writes nothing to guest memory (not
 * for kicks, not for frames arriving), and after the driver's
 * initialisation it serves both ways again. */
static void test_reset_while_tx_stuck(void **state)
{
	struct rig *r = *state;
	/* Fill the socket: rounds of 32 frames until the used index stalls. */
	uint16_t used = 0;
	for (unsigned round = 0; round < 64; round++) {
		for (unsigned k = 0; k < 32; k++)
			post_tx(r, k, 1500, (uint8_t)(round + k));
		kick(r, 1);
		uint16_t want = (uint16_t)(used + 32);
		double until = vd_now() + 0.3;
		while (vd_used_idx(&r->v, 1) != want && vd_now() < until)
			usleep(2000);
		used = vd_used_idx(&r->v, 1);
		if (used != want)
			break;
	}
	assert_int_not_equal(used, TX(r)->avail_idx); /* a write is stuck */

	struct vd_status_write w;
	bool prompt = vd_status_write_start(&w, &r->v, 3);
	if (!prompt) { /* unstick the worker so that the test can end */
		while (!vd_status_write_done(&w))
			peer_drain(r);
		vd_status_write_join(&w);
		fail_msg("the status write blocked its vCPU while a TX write was stuck");
	}
	vd_status_write_join(&w);
	/* still resetting: the write is in flight */
	for (int i = 0; i < 20; i++) {
		assert_int_not_equal(vd_status(&r->v), 0);
		usleep(5000);
	}
	/* the peer reads: the write ends, the reset completes */
	double until = vd_now() + 10;
	while (vd_status(&r->v) != 0 && vd_now() < until) {
		peer_drain(r);
		usleep(1000);
	}
	assert_int_equal(vd_status(&r->v), 0);
	peer_drain(r);

	/* Reset complete: from now on guest memory is the guest's alone. */
	uint8_t *all = fake_at(&r->f, 0, MEM);
	memset(all, 0xa5, MEM);
	peer_send(r, 100, 7);
	kick(r, 0);
	kick(r, 1);
	usleep(200000);
	for (size_t i = 0; i < MEM; i++)
		if (all[i] != 0xa5)
			fail_msg("guest memory at 0x%zx written after the reset completed", i);

	/* The driver again: both ways work. */
	assert_true(vd_init(&r->v, 1ULL << VIRTIO_NET_F_MRG_RXBUF) & VIRTIO_CONFIG_S_DRIVER_OK);
	for (unsigned i = 0; i < 4; i++) {
		rr_desc(RX(r), i, RX_BUF + (uint64_t)i * BUFSZ, BUFSZ, VRING_DESC_F_WRITE, 0);
		rr_avail(RX(r), (uint16_t)i);
	}
	kick(r, 0);
	wait_used(r, 0, 1);
	check_rx(r, 0, 100, 7); /* what arrived during the reset */
	post_tx(r, 0, 300, 9);
	kick(r, 1);
	uint8_t got[4 + 300];
	size_t have = 0;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(r->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (have < sizeof(got)) {
		ssize_t k = recv(r->peer, got + have, sizeof(got) - have, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fail_msg("recv after %zu bytes: %zd", have, k);
		have += (size_t)k;
	}
	uint32_t be;
	memcpy(&be, got, 4);
	assert_int_equal(ntohl(be), 300);
	uint8_t want[300];
	frame(want, 300, 9);
	assert_memory_equal(got + 4, want, 300);
}

/* Rate limiters on the real workers: RX 10 frames per 100 ms, TX 20 KiB per
 * 100 ms (frame bytes with their header). 30 frames the peer sent at once
 * reach the guest 10 at once and the rest over 200 ms, each whole and in
 * order; 30 TX frames of 2000 bytes with their header (60 KB) reach the
 * peer over about 200 ms, none dropped; the counters say both waited. */
static const struct rl_cfg rx_lim = {.ops = {.size = 10, .refill_ms = 100}};
static const struct rl_cfg tx_lim = {.bw = {.size = 20000, .refill_ms = 100}};
static int setup_limited(void **state)
{
	rig_limit[0] = &rx_lim;
	rig_limit[1] = &tx_lim;
	int r = setup_on(state, false);
	rig_limit[0] = rig_limit[1] = NULL;
	return r;
}

/* The same with TX polling on (the largest window): the poller does not
 * spin on frames the limiter holds back, nor send them early. */
static int setup_limited_poll(void **state)
{
	rig_poll_us = 10000;
	int r = setup_limited(state);
	rig_poll_us = 0;
	return r;
}

static void test_rate_limited(void **state)
{
	struct rig *r = *state;
	for (unsigned i = 0; i < 32; i++) {
		rr_desc(RX(r), i, RX_BUF + (uint64_t)i * BUFSZ, BUFSZ, VRING_DESC_F_WRITE, 0);
		rr_avail(RX(r), (uint16_t)i);
	}
	kick(r, 0);
	double t0 = vd_now();
	for (unsigned i = 0; i < 30; i++)
		peer_send(r, 100 + i, (uint8_t)i);
	wait_used(r, 0, 30);
	double took = vd_now() - t0;
	for (unsigned i = 0; i < 30; i++)
		check_rx(r, i, 100 + i, (uint8_t)i);
	if (took < 0.18 || took > 2)
		fail_msg("30 frames at 100 a second (10 at once) took %.3f s, not about 0.2", took);
	/* TX: 30 frames of 12 + 1988 bytes, posted at once */
	for (unsigned k = 0; k < 30; k++)
		post_tx(r, k, 1988, (uint8_t)k);
	t0 = vd_now();
	kick(r, 1);
	size_t got = 0;
	while (got < 30 * (4 + 1988) && vd_now() - t0 < 5) {
		got += peer_drain(r);
		usleep(1000);
	}
	took = vd_now() - t0;
	assert_int_equal(got, 30 * (4 + 1988));
	wait_used(r, 1, 30);
	if (took < 0.18 || took > 2)
		fail_msg(
			"60000 bytes at 200000 a second (20000 at once) took %.3f s, not about 0.2",
			took);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_true(m.limit[0].throttled >= 1 && m.limit[1].throttled >= 1);
	assert_true(m.limit[0].throttled_ns >= 100000000ULL);
	assert_true(m.limit[1].throttled_ns >= 100000000ULL);
	assert_int_equal(m.net.rx_packets_count, 30);
	assert_int_equal(m.net.tx_packets_count, 30);
}

/* ---- snapshot ---- */

static void post_rx(struct rig *r, unsigned from, unsigned n)
{
	for (unsigned i = from; i < from + n; i++) {
		rr_desc(RX(r), i, RX_BUF + (uint64_t)i * BUFSZ, BUFSZ, VRING_DESC_F_WRITE, 0);
		rr_avail(RX(r), (uint16_t)i);
	}
	kick(r, 0);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The pause does not wait for RX's socket read (in flight for good: the
 * peer is silent), and a frame read while paused reaches the guest only
 * after the resume. */
static void test_pause_with_rx_read_pending(void **state)
{
	struct rig *r = *state;
	post_rx(r, 0, 4);
	peer_send(r, 100, 1);
	wait_used(r, 0, 1);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	double t0 = now_s();
	assert_int_equal(virtio_dev_pause(net_vdev(r->n), &until), 0);
	assert_true(now_s() - t0 < 1.0);
	peer_send(r, 200, 2);
	usleep(150000);
	assert_int_equal(vd_used_idx(&r->v, 0), 1);
	virtio_dev_resume(net_vdev(r->n));
	wait_used(r, 0, 2);
	check_rx(r, 1, 200, 2);
}

/* Paused and saved; a fresh device (a new connection to a new peer)
 * restored from the state delivers the next frame at the RX used index
 * that follows; another MAC is refused. */
static void test_snapshot_restore(void **state)
{
	struct rig *r = *state;
	post_rx(r, 0, 4);
	peer_send(r, 100, 1);
	wait_used(r, 0, 1);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(net_vdev(r->n), &until), 0);
	struct snap_w w;
	snap_w_init(&w);
	virtio_dev_save(net_vdev(r->n), &w, 0);
	struct err e = {0};
	assert_int_equal(net_desc.save(r->n, &w, 0, &e), 0);
	const uint8_t *buf;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &buf, &len, &e), 0);
	uint8_t mac[6];
	net_mac(r->n, mac);
	net_destroy(r->n);
	close(r->peer);

	for (int round = 0; round < 2; round++) {
		unlink(r->path);
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		memcpy(a.sun_path, r->path, strlen(r->path));
		assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(l, 1), 0);
		/* the second round: another MAC than the snapshot's */
		struct net_cfg cfg = {.backend = NET_STREAM, .target = r->path, .fd = -1};
		if (round == 1) {
			cfg.has_mac = true;
			memcpy(cfg.mac, mac, 6);
			cfg.mac[5] ^= 1;
		}
		assert_int_equal(net_open(&r->n, &cfg, 0, &e), 0);
		r->peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		assert_true(r->peer >= 0);
		close(l);
		struct virtio_irqfds irq = {.config = r->irqfd};
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			irq.vq[q] = r->irqfd;
		assert_int_equal(net_start(r->n, &r->f.m, &irq, &e), 0);
		r->v.d = net_vdev(r->n);
		r->v.q[0].kick_fd = net_kick_fd(r->n, 0);
		r->v.q[1].kick_fd = net_kick_fd(r->n, 1);
		struct snap_r sr;
		assert_int_equal(snap_open(&sr, buf, len, SNAP_ARCH_HOST, &e), 0);
		if (round == 1) {
			assert_int_equal(net_desc.restore(r->n, &sr, 0, &e), -EINVAL);
			assert_non_null(strstr(e.msg, "MAC"));
			break;
		}
		assert_int_equal(net_desc.restore(r->n, &sr, 0, &e), 0);
		assert_int_equal(virtio_dev_restore(net_vdev(r->n), &sr, 0, &e), 0);
		peer_send(r, 300, 3);
		wait_used(r, 0, 2);
		check_rx(r, 1, 300, 3);
		net_destroy(r->n);
		close(r->peer);
	}
	snap_w_free(&w);
}

/* ---- adaptive polling (TX) ---- */

static int setup_poll(void **state)
{
	rig_poll_us = 10000;
	int r = setup_on(state, false);
	rig_poll_us = 0;
	return r;
}

#define POLL_LEN 100 /* each frame's bytes, without its header */

/* Frames sent one after another, each as soon as the one before was used
 * (the driver waits on its interrupt: the test's thread sleeps, so that
 * on a busy host the worker gets the core), none kicked unless it was not
 * used within 5 ms (a watchdog kick, counted: shorter than the largest
 * window, so that a miss grows the window). Every frame reaches the peer,
 * whole. Returns how many of n went out without a kick. */
static unsigned tx_kickless_run(struct rig *r, unsigned n, unsigned *kicks)
{
	unsigned served = 0;
	size_t got = 0;
	*kicks = 0;
	/* one kicked first: the TX worker's activation (which looks at the
	 * ring once by itself) is over by the time it is used */
	post_tx(r, 31, POLL_LEN, 0xff);
	kick(r, 1);
	assert_true(vd_wait_used(&r->v, 1, 1, 5));
	for (unsigned k = 0; k < n; k++) {
		uint16_t at = vd_used_idx(&r->v, 1);
		uint64_t junk;
		(void)!read(r->irqfd, &junk, sizeof(junk));
		post_tx(r, k % 31, POLL_LEN, (uint8_t)k);
		double until = vd_now() + 0.005;
		while (vd_used_idx(&r->v, 1) == at && vd_now() < until) {
			double left = until - vd_now();
			struct timespec ts = {0, left > 0 ? (long)(left * 1e9) : 0};
			struct pollfd pfd = {.fd = r->irqfd, .events = POLLIN};
			(void)ppoll(&pfd, 1, &ts, NULL);
			(void)!read(r->irqfd, &junk, sizeof(junk));
		}
		if (vd_used_idx(&r->v, 1) != at) {
			served++;
		} else {
			kick(r, 1);
			(*kicks)++;
			/* 1 ms steps (wait_used's 5 would make the miss look
			 * longer than the largest window: it would shrink) */
			assert_true(vd_wait_used(&r->v, 1, (uint16_t)(at + 1), 5));
		}
		got += peer_drain(r);
	}
	for (double until = vd_now() + 5; got < (n + 1) * (4 + POLL_LEN) && vd_now() < until;
	     usleep(1000))
		got += peer_drain(r);
	assert_int_equal(got, (n + 1) * (4 + POLL_LEN));
	return served;
}

/* With TX polling (the largest window), frames the driver makes available
 * while the worker polls go out without a kick: once the window has grown
 * past the driver's turnaround, nearly all of them. The device's counters
 * say so too: its TX queue events are the watchdog's kicks. */
static void test_tx_poll_sends_without_kick(void **state)
{
	struct rig *r = *state;
	unsigned kicks, served = tx_kickless_run(r, 300, &kicks);
	print_message("TX polling: %u of 300 frames sent without a kick\n", served);
	if (served < 200)
		fail_msg("TX polling: %u of 300 frames sent without a kick (%u kicked)", served,
			 kicks);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.tx_queue_event_count, kicks + 1);
	assert_int_equal(m.net.tx_packets_count, 301);
	assert_int_equal(m.net.tx_malformed_frames + m.net.tx_fails + m.net.tap_write_fails, 0);
	/* RX, which does not poll, still serves its kick */
	post_rx(r, 0, 1);
	peer_send(r, 60, 1);
	wait_used(r, 0, 1);
	check_rx(r, 0, 60, 1);
}

/* Without polling (poll=0) every frame needs its kick. */
static void test_tx_no_poll_needs_kicks(void **state)
{
	struct rig *r = *state;
	unsigned kicks, served = tx_kickless_run(r, 30, &kicks);
	assert_int_equal(served, 0);
	assert_int_equal(kicks, 30);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.tx_queue_event_count, 31);
	assert_int_equal(m.net.tx_packets_count, 31);
}

/* A driver that follows the protocol (it kicks only when used->flags lacks
 * VRING_USED_F_NO_NOTIFY) gets every frame sent, polling or not, and
 * while the TX worker polls it is asked for few kicks. */
static void tx_driver_protocol(struct rig *r, bool poll)
{
	unsigned asked = 0;
	for (unsigned k = 0; k < 300; k++) {
		uint16_t at = vd_used_idx(&r->v, 1);
		post_tx(r, k % 32, POLL_LEN, (uint8_t)k);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!(rr_used_flags(TX(r)) & VRING_USED_F_NO_NOTIFY)) {
			kick(r, 1);
			asked++;
		}
		double until = vd_now() + 5;
		while (vd_used_idx(&r->v, 1) == at && vd_now() < until)
			usleep(50);
		if (vd_used_idx(&r->v, 1) == at)
			fail_msg("poll %d: frame %u not sent (no kick asked for?)", poll, k);
		peer_drain(r);
	}
	if (!poll)
		assert_int_equal(asked, 300); /* each one kicked */
	else if (asked > 100)
		fail_msg("TX polling: %u of 300 frames asked for a kick", asked);
}

static void test_tx_poll_driver_protocol(void **state)
{
	tx_driver_protocol(*state, true);
}

static void test_tx_no_poll_driver_protocol(void **state)
{
	tx_driver_protocol(*state, false);
}

/* A pause and a reset go through promptly while the TX worker polls
 * with a grown window; frames posted while paused are not sent until the
 * resume, and after the reset and the driver's initialisation TX works. */
static void test_tx_poll_pause_reset_prompt(void **state)
{
	struct rig *r = *state;
	unsigned kicks;
	(void)tx_kickless_run(r, 50, &kicks); /* the window grown */
	for (unsigned i = 0; i < 10; i++) {
		double t0 = vd_now();
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 5;
		assert_int_equal(virtio_dev_pause(net_vdev(r->n), &until), 0);
		uint16_t at = vd_used_idx(&r->v, 1);
		post_tx(r, 0, POLL_LEN, (uint8_t)i);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* paused: kicks are on again (for when it resumes) */
		assert_false(rr_used_flags(TX(r)) & VRING_USED_F_NO_NOTIFY);
		kick(r, 1);
		usleep(20000);
		assert_int_equal(vd_used_idx(&r->v, 1), at);
		virtio_dev_resume(net_vdev(r->n));
		assert_true(vd_wait_used(&r->v, 1, (uint16_t)(at + 1), 5));
		if (vd_now() - t0 > 1)
			fail_msg("a pause and resume while polling took %.3f s", vd_now() - t0);
		size_t got = 0;
		for (double end = vd_now() + 5; got < 4 + POLL_LEN && vd_now() < end; usleep(1000))
			got += peer_drain(r);
		assert_int_equal(got, 4 + POLL_LEN); /* the frame, once */
		(void)tx_kickless_run(r, 5, &kicks);
	}
	double t0 = vd_now();
	vd_reset(&r->v);
	if (vd_now() - t0 > 1)
		fail_msg("a reset while polling took %.3f s", vd_now() - t0);
	peer_drain(r);
	assert_true(vd_init(&r->v, 1ULL << VIRTIO_NET_F_MRG_RXBUF) & VIRTIO_CONFIG_S_DRIVER_OK);
	(void)tx_kickless_run(r, 5, &kicks);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rx_frames_wait_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_frame_reaches_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_while_tx_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_while_tx_stuck, setup_pci, teardown),
		cmocka_unit_test_setup_teardown(test_pause_with_rx_read_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limited, setup_limited, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limited, setup_limited_poll, teardown),
		cmocka_unit_test_setup_teardown(test_tx_poll_sends_without_kick, setup_poll,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_no_poll_needs_kicks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_poll_driver_protocol, setup_poll, teardown),
		cmocka_unit_test_setup_teardown(test_tx_no_poll_driver_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_poll_pause_reset_prompt, setup_poll,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
