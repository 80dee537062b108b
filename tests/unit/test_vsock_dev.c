/* SPDX-License-Identifier: MIT */
/* virtio-vsock end to end below KVM: the real device (vsock_open,
 * vsock_start: its worker thread, io_uring and filter; its unix sockets),
 * the test playing both the guest's driver (through the virtio-mmio
 * registers, rings in a fake guest memory: tests/unit/vdev_rig.h) and the
 * host's client on the socket. What the host client reads must be exactly
 * "OK <port>\n" and then the guest's stream, in order, whatever the guest
 * sends within the credit it was given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

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
#include <unistd.h>

#include "core/snap.h"
#include "devices/vsock.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

#define MEM	  (4 * MiB)
#define QSIZE	  64
#define RXQ	  0
#define TXQ	  1
#define EVQ	  2
#define RING(q)	  (0x1000ULL + 0x4000ULL * (q))
#define RXB(i)	  (0x100000ULL + 0x2000ULL * (i))
#define RXB_LEN	  (VSOCK_HDR_LEN + 4096)
#define TXB(k)	  (0x200000ULL + 0x11000ULL * (k))
#define GCID	  3
#define GPORT	  5000
#define STREAM	  (4 * VSOCK_MAX_PKT) /* what the guest sends */
#define GUEST_BUF (256 * 1024)	      /* the guest's buf_alloc */

struct rig {
	struct fake_mem f;
	struct vsock *vs;
	struct vd v;
	int irqfd;
	char dir[64], path[96];
	uint16_t rx_seen; /* RX used entries consumed */
	unsigned tx_next; /* next TX buffer */
	uint16_t tx_posted;
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(fake_mem_init(&r->f, MEM), 0);
	snprintf(r->dir, sizeof(r->dir), "/tmp/cvmm-vsock-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/v.sock", r->dir);
	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->irqfd >= 0);
	struct vsock_cfg cfg = {.guest_cid = GCID, .path = r->path};
	struct err e = {0};
	assert_int_equal(vsock_open(&r->vs, &cfg, &e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(vsock_start(r->vs, &r->f.m, &irq, &e), 0);
	r->v = (struct vd){.m = &r->f.m, .d = vsock_vdev(r->vs)};
	for (unsigned q = 0; q < 3; q++)
		vd_ring_at(&r->v, q, RING(q), QSIZE, vsock_kick_fd(r->vs, q));
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;
	vsock_destroy(r->vs);
	close(r->irqfd);
	rmdir(r->dir);
	fake_mem_free(&r->f);
	free(r);
	return 0;
}

/* The driver's initialisation (features: what it accepts besides
 * VERSION_1), then every RX buffer posted. */
static void guest_up_with(struct rig *r, uint64_t features)
{
	assert_true(vd_init(&r->v, features) & VIRTIO_CONFIG_S_DRIVER_OK);
	r->rx_seen = 0;
	r->tx_next = 0;
	r->tx_posted = 0;
	for (unsigned i = 0; i < QSIZE; i++) {
		struct vd_seg s = {RXB(i), RXB_LEN, true};
		assert_int_equal(vd_post(&r->v, RXQ, &s, 1), i);
	}
	vd_kick(&r->v, RXQ);
}

static void guest_up(struct rig *r)
{
	guest_up_with(r, 0);
}

/* The next packet the device put on the RX queue (within secs), its
 * payload into data (if not NULL); the buffer goes back to the device. */
static bool guest_recv(struct rig *r, struct vsock_hdr *h, uint8_t *data, double secs)
{
	if (!vd_wait_used(&r->v, RXQ, (uint16_t)(r->rx_seen + 1), secs))
		return false;
	uint32_t id, len;
	vd_used(&r->v, RXQ, r->rx_seen++, &id, &len);
	assert_true(id < QSIZE && len >= VSOCK_HDR_LEN && len <= RXB_LEN);
	vsock_hdr_decode(vd_at(&r->v, RXB(id), VSOCK_HDR_LEN), h);
	assert_int_equal(h->len, len - VSOCK_HDR_LEN);
	if (data)
		memcpy(data, vd_at(&r->v, RXB(id) + VSOCK_HDR_LEN, h->len), h->len);
	vd_repost(&r->v, RXQ, (uint16_t)id);
	vd_kick(&r->v, RXQ);
	return true;
}

static struct vsock_hdr ghdr(uint16_t op, uint32_t host_port, uint32_t len)
{
	return (struct vsock_hdr){.src_cid = GCID,
				  .dst_cid = VSOCK_HOST_CID,
				  .src_port = GPORT,
				  .dst_port = host_port,
				  .len = len,
				  .type = VIRTIO_VSOCK_TYPE_STREAM,
				  .op = op,
				  .buf_alloc = GUEST_BUF,
				  .fwd_cnt = 0};
}

/* Posts one TX packet (no kick: a batch goes out with one). */
static void guest_send(struct rig *r, const struct vsock_hdr *h, const uint8_t *payload)
{
	uint64_t at = TXB(r->tx_next);
	r->tx_next = (r->tx_next + 1) % 8;
	vsock_hdr_encode(h, vd_at(&r->v, at, VSOCK_HDR_LEN));
	if (h->len)
		memcpy(vd_at(&r->v, at + VSOCK_HDR_LEN, h->len), payload, h->len);
	struct vd_seg s = {at, VSOCK_HDR_LEN + h->len, false};
	vd_post(&r->v, TXQ, &s, 1);
	r->tx_posted++;
}

static void guest_kick_tx(struct rig *r)
{
	vd_kick(&r->v, TXQ);
	assert_true(vd_wait_used(&r->v, TXQ, r->tx_posted, 5));
}

/* A host client: connects and asks for the guest's port GPORT. */
static int host_connect(struct rig *r)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, r->path, strlen(r->path));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char line[32];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", GPORT);
	assert_int_equal(write(fd, line, (size_t)n), n);
	return fd;
}

/* Reads exactly len bytes from the host socket (fails on EOF or after the
 * receive timeout). */
static void host_read(int fd, uint8_t *buf, size_t len)
{
	size_t have = 0;
	while (have < len) {
		ssize_t k = recv(fd, buf + have, len - have, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fail_msg("host socket: %zd after %zu of %zu bytes (%s)", k, have, len,
				 k < 0 ? strerror(errno) : "EOF");
		have += (size_t)k;
	}
}

static uint8_t stream_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8) + 1);
}

/* Bytes the guest may send now (virtio 1.2 5.10.6.3.1), from the last
 * header the device sent. */
static uint32_t credit(const struct vsock_hdr *from_dev, uint32_t sent)
{
	return from_dev->buf_alloc - (sent - from_dev->fwd_cnt);
}

/* The guest accepts a host-initiated connection and, in the same batch,
 * sends four 64 KiB packets (as much of them as its credit allows): the
 * host must read "OK <port>\n" then the stream, exactly. The OK line sits
 * in the connection's buffer too: the credit the device gives must leave
 * room for it, or the guest's data wraps over it (the bug: 262158 bytes in
 * a 262144-byte ring). */
static void test_ok_line_counted_in_credit(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	int host = host_connect(r);
	struct vsock_hdr req;
	assert_true(guest_recv(r, &req, NULL, 5));
	assert_int_equal(req.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(req.dst_port, GPORT);
	uint32_t host_port = req.src_port;
	char ok[32];
	size_t oklen = (size_t)snprintf(ok, sizeof(ok), "OK %u\n", host_port);
	/* What the device advertises plus its OK line fits its buffer. */
	assert_true(req.buf_alloc + oklen <= VSOCK_TX_BUF);

	static uint8_t stream[STREAM];
	for (size_t i = 0; i < STREAM; i++)
		stream[i] = stream_byte(i);
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_RESPONSE, host_port, 0);
	guest_send(r, &h, NULL);
	uint32_t sent = 0, room = credit(&req, 0);
	for (unsigned k = 0; k < 4 && sent < room; k++) {
		uint32_t n = room - sent < VSOCK_MAX_PKT ? room - sent : VSOCK_MAX_PKT;
		h = ghdr(VIRTIO_VSOCK_OP_RW, host_port, n);
		guest_send(r, &h, stream + sent);
		sent += n;
	}
	guest_kick_tx(r);

	static uint8_t got[STREAM + 32];
	host_read(host, got, oklen + sent);
	if (memcmp(got, ok, oklen) != 0)
		fail_msg("the host read '%.*s' where 'OK %u\\n' was due", (int)oklen, got,
			 host_port);
	for (size_t i = 0; i < sent; i++)
		if (got[oklen + i] != stream[i])
			fail_msg("stream byte %zu: 0x%02x, not 0x%02x", i, got[oklen + i],
				 stream[i]);

	/* The rest once the device gave credit back. */
	while (sent < STREAM) {
		struct vsock_hdr u;
		assert_true(guest_recv(r, &u, NULL, 5));
		assert_int_equal(u.src_port, host_port);
		assert_true(u.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE || u.op == VIRTIO_VSOCK_OP_RW);
		uint32_t c = credit(&u, sent);
		if (c == 0)
			continue;
		uint32_t n = STREAM - sent < c ? STREAM - sent : c;
		if (n > VSOCK_MAX_PKT)
			n = VSOCK_MAX_PKT;
		h = ghdr(VIRTIO_VSOCK_OP_RW, host_port, n);
		guest_send(r, &h, stream + sent);
		guest_kick_tx(r);
		host_read(host, got, n);
		assert_memory_equal(got, stream + sent, n);
		sent += n;
	}
	close(host);
}

/* A host client's whole connection: CONNECT, the guest's REQUEST and
 * RESPONSE, the OK line read. Returns the socket; *host_port its port. */
static int host_session(struct rig *r, uint32_t *host_port)
{
	int host = host_connect(r);
	struct vsock_hdr req;
	assert_true(guest_recv(r, &req, NULL, 5));
	assert_int_equal(req.op, VIRTIO_VSOCK_OP_REQUEST);
	*host_port = req.src_port;
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_RESPONSE, *host_port, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	char ok[32], got[32];
	size_t oklen = (size_t)snprintf(ok, sizeof(ok), "OK %u\n", *host_port);
	host_read(host, (uint8_t *)got, oklen);
	assert_memory_equal(got, ok, oklen);
	return host;
}

/* EOF (or a reset) on a host socket within 5 s, whatever data comes
 * first. */
static void host_sees_end(int fd)
{
	uint8_t sink[65536];
	for (;;) {
		ssize_t k = recv(fd, sink, sizeof(sink), 0);
		if (k > 0)
			continue;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			fail_msg("the host socket stayed open after the reset");
		return;
	}
}

/* A reset with connections both ways and I/O in flight: a receive pending
 * on a host-initiated connection, a send stuck on a guest-initiated one
 * whose peer reads nothing. The status write comes back at once, the
 * reset completes (every socket is ended: its peer sees EOF), then nothing
 * is written to guest memory (a canary) whatever the peers and the guest's
 * kicks do, and after the driver's initialisation a new connection works. */
static void test_reset_with_connections(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	uint32_t hp1;
	int host1 = host_session(r, &hp1); /* a RECV in flight on it */

	/* guest -> host: PATH_5001 listens, never reads */
	char p2[128];
	snprintf(p2, sizeof(p2), "%s_%u", r->path, 5001);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, p2, strlen(p2));
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 5001, 0);
	h.src_port = 6000;
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	struct vsock_hdr resp;
	assert_true(guest_recv(r, &resp, NULL, 5));
	assert_int_equal(resp.op, VIRTIO_VSOCK_OP_RESPONSE);
	int host2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(host2 >= 0);
	static uint8_t data[VSOCK_MAX_PKT];
	memset(data, 0x3c, sizeof(data));
	for (unsigned k = 0; k < 4; k++) { /* more than the socket holds */
		h = ghdr(VIRTIO_VSOCK_OP_RW, 5001, VSOCK_MAX_PKT);
		h.src_port = 6000;
		guest_send(r, &h, data);
	}
	guest_kick_tx(r);
	usleep(50000);

	struct vd_status_write w;
	bool prompt = vd_status_write_start(&w, &r->v, 3);
	if (!prompt) {
		host_sees_end(host2);
		vd_status_write_join(&w);
		fail_msg("the status write blocked its vCPU");
	}
	vd_status_write_join(&w);
	assert_int_equal(vd_wait_reset(&r->v, 10), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(host2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	host_sees_end(host1);
	host_sees_end(host2);

	/* Reset complete: guest memory is the guest's alone. */
	uint8_t *all = vd_at(&r->v, 0, MEM);
	memset(all, 0xa5, MEM);
	ssize_t n = send(host1, "late", 4, MSG_NOSIGNAL);
	(void)n; /* the socket was shut down: EPIPE is fine */
	int host3 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, r->path, strlen(r->path) + 1);
	assert_int_equal(connect(host3, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(host3, "CONNECT 5000\n", 13), 13);
	for (unsigned q = 0; q < 3; q++)
		vd_kick(&r->v, q);
	usleep(200000);
	for (size_t i = 0; i < MEM; i++)
		if (all[i] != 0xa5)
			fail_msg("guest memory at 0x%zx written after the reset completed", i);
	close(host1);
	close(host2);
	close(l);
	unlink(p2);

	/* The driver again: the client that waited in the backlog gets its
	 * connection, and data flows. */
	guest_up(r);
	struct vsock_hdr req;
	assert_true(guest_recv(r, &req, NULL, 5));
	assert_int_equal(req.op, VIRTIO_VSOCK_OP_REQUEST);
	h = ghdr(VIRTIO_VSOCK_OP_RESPONSE, req.src_port, 0);
	guest_send(r, &h, NULL);
	h = ghdr(VIRTIO_VSOCK_OP_RW, req.src_port, 5);
	guest_send(r, &h, (const uint8_t *)"hello");
	guest_kick_tx(r);
	setsockopt(host3, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char ok[32];
	size_t oklen = (size_t)snprintf(ok, sizeof(ok), "OK %u\nhello", req.src_port);
	uint8_t got[32];
	host_read(host3, got, oklen);
	assert_memory_equal(got, ok, oklen);
	close(host3);
}

/* A driver that breaks a queue (its avail index more than the queue size
 * ahead) puts the device in NEEDS_RESET, the TX queue (popped on its kick)
 * and the RX queue (popped when a host connection has a REQUEST for the
 * guest) alike; the driver's reset brings the device back. */
static void test_broken_queues(void **state)
{
	struct rig *r = *state;
	for (unsigned q = RXQ; q <= TXQ; q++) {
		guest_up(r);
		wr16(vd_at(&r->v, r->v.q[q].r.avail + 2, 2), QSIZE + QSIZE / 2 + 1);
		int host = -1;
		if (q == TXQ)
			vd_kick(&r->v, TXQ);
		else
			host = host_connect(r);
		double until = vd_now() + 10;
		while (!(vd_status(&r->v) & VIRTIO_CONFIG_S_NEEDS_RESET) && vd_now() < until)
			usleep(1000);
		assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_NEEDS_RESET);
		vd_reset(&r->v);
		if (host >= 0)
			close(host);
	}
	/* and it serves again */
	guest_up(r);
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1234, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
}

static struct vdev_metrics vs_counters(struct rig *r)
{
	struct vdev_metrics m = {0};
	vsock_desc.metrics(r->vs, &m);
	return m;
}

/* conns_removed reaches want within 5 s (a connection is removed once its
 * socket's shutdown completed). */
static uint64_t removed_within(struct rig *r, uint64_t want)
{
	double until = vd_now() + 5;
	while (vs_counters(r).vsock.conns_removed < want && vd_now() < until)
		usleep(1000);
	return vs_counters(r).vsock.conns_removed;
}

/* Firecracker's vsock metrics: packets and bytes each way (the stream's
 * bytes, not the OK line), connections added, killed (ended by a reset of
 * ours: the guest broke the protocol) and removed, the queues' kicks. */
static void test_metrics_counted(void **state)
{
	struct rig *r = *state;
	assert_non_null(vsock_desc.metrics);
	guest_up(r);
	uint32_t hp;
	int host = host_session(r, &hp); /* REQUEST in, RESPONSE out */
	struct vdev_metrics m = vs_counters(r);
	assert_int_equal(m.vsock.conns_added, 1);
	static uint8_t data[1000];
	memset(data, 0x5a, sizeof(data));
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_RW, hp, sizeof(data));
	guest_send(r, &h, data);
	guest_kick_tx(r);
	uint8_t got[1000];
	host_read(host, got, sizeof(got));
	assert_int_equal(write(host, "0123456789", 10), 10);
	struct vsock_hdr u;
	do
		assert_true(guest_recv(r, &u, NULL, 5));
	while (u.op != VIRTIO_VSOCK_OP_RW);
	assert_int_equal(u.len, 10);
	m = vs_counters(r);
	assert_int_equal(m.vsock.tx_bytes_count, 1000);
	assert_int_equal(m.vsock.rx_bytes_count, 10);
	assert_int_equal(m.vsock.tx_packets_count, 2); /* RESPONSE, RW */
	assert_true(m.vsock.rx_packets_count >= 2);    /* REQUEST, RW (and credit updates) */
	assert_int_equal(m.vsock.tx_queue_event_count, 2);
	assert_true(m.vsock.rx_queue_event_count >= 1);
	assert_int_equal(m.vsock.conns_killed + m.vsock.conns_removed, 0);
	assert_int_equal(m.vsock.rx_read_fails + m.vsock.tx_write_fails, 0);
	/* a RESPONSE on an established connection: we reset it (killed) */
	h = ghdr(VIRTIO_VSOCK_OP_RESPONSE, hp, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	host_sees_end(host);
	close(host);
	assert_int_equal(removed_within(r, 1), 1);
	assert_int_equal(vs_counters(r).vsock.conns_killed, 1);

	/* guest -> host, ended by the guest's RST: removed, not killed */
	char p2[128];
	snprintf(p2, sizeof(p2), "%s_%u", r->path, 5001);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, p2, strlen(p2));
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 5001, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	do
		assert_true(guest_recv(r, &u, NULL, 5));
	while (u.op != VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(vs_counters(r).vsock.conns_added, 2);
	h = ghdr(VIRTIO_VSOCK_OP_RST, 5001, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	assert_int_equal(removed_within(r, 2), 2);
	m = vs_counters(r);
	assert_int_equal(m.vsock.conns_killed, 1);
	assert_int_equal(m.vsock.tx_packets_count, 4); /* and the RST; not the REQUEST */
	close(l);
	unlink(p2);
}

/* ---- deadlines ---- */

#define REQUEST_SECS  (VSOCK_REQUEST_TIMEOUT_MS / 1000.0)
#define SHUTDOWN_SECS (VSOCK_SHUTDOWN_TIMEOUT_MS / 1000.0)

/* REQUESTs the guest never answers, as a guest that keeps them all would
 * (VSOCK_MAX_CONNS of them and no host client got through any more): the
 * guest gets RST for each once its time (2 s, as Firecracker) is up from
 * when it got the REQUEST, not before; a client still there sees EOF, one
 * that gave up and closed meanwhile (nobody reads its socket then) is
 * released all the same; both slots are freed. */
static void test_request_timeout(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	int a = host_connect(r), b = host_connect(r);
	uint32_t port[2];
	struct vsock_hdr h;
	for (unsigned i = 0; i < 2; i++) {
		assert_true(guest_recv(r, &h, NULL, 5));
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
		port[i] = h.src_port;
	}
	double t0 = vd_now();
	close(b);
	bool rst[2] = {false, false};
	while (!(rst[0] && rst[1]) && guest_recv(r, &h, NULL, REQUEST_SECS + 2)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
		assert_int_equal(h.dst_port, GPORT);
		for (unsigned i = 0; i < 2; i++)
			rst[i] |= h.src_port == port[i];
	}
	double waited = vd_now() - t0;
	if (!(rst[0] && rst[1]))
		fail_msg("unanswered REQUESTs: no RST for %s within %.1f s",
			 rst[0] ? "one" : "either", waited);
	if (waited < REQUEST_SECS - 0.2)
		fail_msg("RST after %.2f s: the guest had %.1f s", waited, REQUEST_SECS);
	host_sees_end(a);
	close(a);
	assert_int_equal(removed_within(r, 2), 2);
	assert_int_equal(vs_counters(r).vsock.conns_killed, 2);
}

/* Shutdowns that do not finish, at once on three connections: (a) the
 * guest shuts down both directions with data still queued for a host peer
 * that reads nothing; (b) the host client closes and the guest ignores our
 * SHUTDOWN; (c) the host client shuts down its sending side and the guest
 * goes on sending. After 2 s without progress (as Firecracker) a and b are
 * reset: a's peer sees the end without reading (what it was not sent is
 * dropped), b's guest side gets RST, both slots are freed; c, whose data
 * still flows, is not (its 2 s run from its last data). */
static void test_shutdown_timeout(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	uint32_t pa, pb, pc;
	int a = host_session(r, &pa), b = host_session(r, &pb), c = host_session(r, &pc);
	/* as much as the credit allows: more than a's socket holds */
	static uint8_t data[VSOCK_MAX_PKT];
	memset(data, 0x77, sizeof(data));
	char ok[32];
	uint32_t room = VSOCK_TX_BUF - (uint32_t)snprintf(ok, sizeof(ok), "OK %u\n", pa);
	uint32_t sent = 0;
	while (sent < room) {
		uint32_t n = room - sent < VSOCK_MAX_PKT ? room - sent : VSOCK_MAX_PKT;
		struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_RW, pa, n);
		guest_send(r, &h, data);
		sent += n;
	}
	guest_kick_tx(r);
	usleep(100000);
	assert_true(vs_counters(r).vsock.tx_bytes_count < sent); /* some of it waits */

	double t0 = vd_now();
	close(b);
	assert_int_equal(shutdown(c, SHUT_WR), 0);
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_SHUTDOWN, pa, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	struct pollfd pa_end = {.fd = a, .events = POLLRDHUP};
	assert_int_equal(poll(&pa_end, 1, 200), 0); /* a's peer may still read, for now */

	/* until past the time b and c had from our SHUTDOWN, c's guest side
	 * sending every 0.4 s */
	bool b_shut = false, c_shut = false, c_rst = false;
	double b_rst = 0, next_c = vd_now();
	uint32_t c_sent = 0;
	while (vd_now() < t0 + SHUTDOWN_SECS + 0.6 || (!b_rst && vd_now() < t0 + 5)) {
		if (vd_now() >= next_c) {
			h = ghdr(VIRTIO_VSOCK_OP_RW, pc, 10);
			guest_send(r, &h, data);
			guest_kick_tx(r);
			c_sent += 10;
			next_c += 0.4;
		}
		if (!guest_recv(r, &h, NULL, 0.05))
			continue;
		bool shut =
			h.op == VIRTIO_VSOCK_OP_SHUTDOWN && (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
		if (h.src_port == pb) {
			b_shut |= shut;
			if (h.op == VIRTIO_VSOCK_OP_RST && !b_rst)
				b_rst = vd_now() - t0;
		} else if (h.src_port == pc) {
			c_shut |= shut;
			c_rst |= h.op == VIRTIO_VSOCK_OP_RST;
		}
	}
	assert_true(b_shut && c_shut);
	if (!b_rst)
		fail_msg("host EOF, our SHUTDOWN ignored: no RST within %.1f s", vd_now() - t0);
	if (b_rst < SHUTDOWN_SECS - 0.2)
		fail_msg("RST after %.2f s: the guest had %.1f s", b_rst, SHUTDOWN_SECS);
	if (c_rst)
		fail_msg("a half-closed connection still sending was reset");
	if (poll(&pa_end, 1, 2000) != 1)
		fail_msg("a host peer that reads nothing still held %.1f s after the guest's "
			 "SHUTDOWN",
			 vd_now() - t0);
	assert_int_equal(removed_within(r, 2), 2);
	assert_int_equal(vs_counters(r).vsock.conns_killed, 2);
	/* what is in a's socket, then EOF: the rest was dropped */
	uint8_t *got = malloc(sent);
	assert_non_null(got);
	size_t have = 0;
	ssize_t k;
	while ((k = recv(a, got + have, sent - have, 0)) > 0)
		have += (size_t)k;
	assert_int_equal(k, 0);
	assert_true(have < sent);
	/* c's host end got all of it; the guest ends c */
	host_read(c, got, c_sent);
	free(got);
	h = ghdr(VIRTIO_VSOCK_OP_RST, pc, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
	host_sees_end(c);
	assert_int_equal(removed_within(r, 3), 3);
	assert_int_equal(vs_counters(r).vsock.conns_killed, 2);
	close(a);
	close(c);
}

/* ---- snapshot ---- */

#define EVB(i) (0x300000ULL + 0x100ULL * (i)) /* event buffers */

static void pause_ok(struct rig *r)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	assert_int_equal(virtio_dev_pause(vsock_vdev(r->vs), &until), 0);
}

/* A guest packet for a connection the device does not know: it answers
 * RST on the RX queue. */
static void guest_stray(struct rig *r, uint32_t host_port)
{
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_RW, host_port, 0);
	guest_send(r, &h, NULL);
	guest_kick_tx(r);
}

/* Pauses and saves the device, destroys it (the saving process ends),
 * then opens, starts and restores a fresh one on the same path and guest
 * memory. */
static void snapshot_and_restore(struct rig *r)
{
	pause_ok(r);
	struct snap_w w;
	snap_w_init(&w);
	virtio_dev_save(vsock_vdev(r->vs), &w, 0);
	struct err e = {0};
	assert_int_equal(vsock_desc.save(r->vs, &w, 0, &e), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	vsock_destroy(r->vs);
	struct vsock_cfg cfg = {.guest_cid = GCID, .path = r->path};
	assert_int_equal(vsock_open(&r->vs, &cfg, &e), 0);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(vsock_start(r->vs, &r->f.m, &irq, &e), 0);
	r->v.d = vsock_vdev(r->vs);
	for (unsigned q = 0; q < 3; q++)
		r->v.q[q].kick_fd = vsock_kick_fd(r->vs, q);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, p, len, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(vsock_desc.restore(r->vs, &sr, 0, &e), 0);
	assert_int_equal(virtio_dev_restore(vsock_vdev(r->vs), &sr, 0, &e), 0);
	assert_true(vd_status(&r->v) & VIRTIO_CONFIG_S_DRIVER_OK);
	snap_w_free(&w);
}

static void expect_transport_reset(struct rig *r, uint16_t at)
{
	assert_true(vd_wait_used(&r->v, EVQ, (uint16_t)(at + 1), 5));
	uint32_t id, len;
	vd_used(&r->v, EVQ, at, &id, &len);
	assert_int_equal(len, 4);
	assert_int_equal(le_get32(vd_at(&r->v, EVB(id), 4)), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
}

/* After a restore: TRANSPORT_RESET in the driver's event buffer; RX held
 * until the driver posts a buffer again (its acknowledgement), then served
 * on from the saved positions: the RX and TX used indices go on where
 * they were. */
static void test_snapshot_transport_reset(void **state)
{
	struct rig *r = *state;
	guest_up_with(r, 1ULL << VIRTIO_RING_F_EVENT_IDX); /* as Linux's driver */
	for (unsigned i = 0; i < 2; i++) {
		struct vd_seg s = {EVB(i), 4, true};
		vd_post(&r->v, EVQ, &s, 1);
		memset(vd_at(&r->v, EVB(i), 4), 0xee, 4);
	}
	struct vsock_hdr h;
	guest_stray(r, 999);
	assert_true(guest_recv(r, &h, NULL, 5));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vd_used_idx(&r->v, EVQ), 0); /* no event before */

	snapshot_and_restore(r);
	expect_transport_reset(r, 0);
	/* a stray packet's RST waits for the acknowledgement */
	guest_stray(r, 998); /* TX served on: used index 2 */
	usleep(100000);
	assert_int_equal(vd_used_idx(&r->v, RXQ), r->rx_seen);
	uint32_t id, len;
	vd_used(&r->v, EVQ, 0, &id, &len);
	/* the driver posts the buffer again with another still posted (as
	 * Linux, which keeps 8): it kicks only if the device asked for it */
	uint16_t old = r->v.q[EVQ].r.avail_idx;
	vd_repost(&r->v, EVQ, (uint16_t)id);
	assert_true(vd_kick_if_asked(&r->v, EVQ, old));
	assert_true(guest_recv(r, &h, NULL, 5));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.src_port, 998);
	assert_int_equal(vd_used_idx(&r->v, RXQ), 2);
	assert_int_equal(vd_used_idx(&r->v, EVQ), 1); /* one event only */
}

/* No event buffer posted at the restore: the event waits for one. */
static void test_snapshot_event_waits_for_buffer(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	snapshot_and_restore(r);
	usleep(50000);
	assert_int_equal(vd_used_idx(&r->v, EVQ), 0);
	struct vd_seg s = {EVB(0), 4, true};
	vd_post(&r->v, EVQ, &s, 1);
	vd_kick(&r->v, EVQ);
	expect_transport_reset(r, 0);
}

/* Paused, a host client's connection is not offered to the guest (the RX
 * queue takes nothing); resumed, it is. */
static void test_pause_holds_rx(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	pause_ok(r);
	int host = host_connect(r);
	usleep(150000);
	assert_int_equal(vd_used_idx(&r->v, RXQ), 0);
	virtio_dev_resume(vsock_vdev(r->vs));
	struct vsock_hdr h;
	assert_true(guest_recv(r, &h, NULL, 5));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, GPORT);
	close(host);
}

/* A state of another guest CID is refused, named. */
static void test_restore_other_cid(void **state)
{
	struct rig *r = *state;
	guest_up(r);
	pause_ok(r);
	struct snap_w w;
	snap_w_init(&w);
	struct err e = {0};
	assert_int_equal(vsock_desc.save(r->vs, &w, 0, &e), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	vsock_destroy(r->vs);
	struct vsock_cfg cfg = {.guest_cid = GCID + 1, .path = r->path};
	assert_int_equal(vsock_open(&r->vs, &cfg, &e), 0);
	struct snap_r sr;
	assert_int_equal(snap_open(&sr, p, len, SNAP_ARCH_HOST, &e), 0);
	assert_int_equal(vsock_desc.restore(r->vs, &sr, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "CID"));
	snap_w_free(&w);
	/* teardown destroys a device that was opened, not started */
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	assert_int_equal(vsock_start(r->vs, &r->f.m, &irq, &e), 0);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok_line_counted_in_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_with_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_transport_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_event_waits_for_buffer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pause_holds_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_other_cid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
