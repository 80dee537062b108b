/* SPDX-License-Identifier: MIT */
/* virtio-vsock as a whole, not only its model: the device (vsock_open,
 * vsock_start: its listener, its io_uring, its connections' sockets) with
 * an inline worker (worker.h: run on this thread, so a replay does the
 * same), driven through the virtio-mmio registers by a guest the input
 * describes, with host clients on the listener and host peers listening at
 * PATH_P that the input drives too, and device resets at any point.
 * Input: ops, a byte o (o % 13 picks) and its arguments:
 *   0  a host client connects [k, line]: line & 3: "CONNECT <7000 + k>\n"
 *      (k: the client, 0..3), the same in two writes, a bad line, nothing
 *   1  host client k writes [k, n]: n * 97 bytes of its stream
 *   2  host client k closes [k] (bit 2: shutdown(SHUT_WR) only)
 *   3  host peers read what they were sent (checked)
 *   4  the guest sends a packet [c, op, n, b]: on connection c (c & 4:
 *      the guest-initiated one from 6000 + (c & 1) to 5001 + (c & 1), else
 *      host client c & 3's), op (op % 7 + 1), n * 64 bytes of data for RW
 *      (n 255: 64 KiB), at most the credit the device gave unless b & 1
 *      (then the guest is hostile: that connection is no longer checked)
 *   5  a raw TX chain [len, 44 bytes of header] (hostile)
 *   6  kick TX
 *   7  the guest posts RX buffers [n, size] and kicks RX
 *   8  the guest takes what the device put on the RX queue (checked)
 *   9  device reset, until the status reads 0
 *   10 the driver's initialisation
 *   11 run the worker, waiting up to 1 ms for each completion (shutdowns
 *      end in io-wq)
 *   12 host peers listening at PATH_5001/5002 accept
 * Invariants: RX packets come from CID 2 to the guest's CID, are streams,
 * fit their buffer, carry data only as RW and never more than the credit
 * the guest gave (buf_alloc and fwd_cnt of its last packet on that
 * connection); the data a host client reads is "OK <port>\n" and then
 * exactly what the guest sent, a prefix of it (a reset may cut it); the
 * data a guest-initiated connection's peer reads likewise; the data the
 * guest receives on a connection is a prefix of what its host peer wrote;
 * a used TX chain has length 0; once a reset completed, guest memory does
 * not change until the driver sets the device up again. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/worker.h"
#include "devices/vsock.h"
#include "fuzz_common.h"
#include "tests/rig/vdev.h"

#define MEM_SIZE (2 * FZ_MiB)
#define QSIZE	 32
#define RING(q)	 (0x1000ULL * (4 * (q) + 1))
#define RXB(i)	 (0x20000ULL + 0x2100ULL * (i))	 /* 32 buffers of up to 0x2100 */
#define TXB(k)	 (0x80000ULL + 0x10100ULL * (k)) /* 8 packets of up to 64 KiB */
#define NTX	 8
#define GCID	 3
#define NHOST	 4	   /* host clients */
#define NGUEST	 2	   /* guest-initiated connections: 6000 + i -> PATH_(5001 + i) */
#define STREAM	 (1 << 20) /* bytes checked per direction and connection */
#define MAX_OPS	 96
/* the driver's next avail index of queue q */
#define AVAIL_IDX(qi) (h.drv.q[qi].r.avail_idx)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One connection as both ends see it. */
struct conn {
	int fd;	      /* the host end: client, or accepted at PATH_P */
	bool known;   /* the guest knows it (REQUEST seen / sent) */
	bool checked; /* streams still checked (no hostile packet on it) */
	uint32_t host_port, guest_port;
	/* guest -> host: what the host end must read */
	uint8_t *to_host;
	size_t to_host_len, host_read;
	/* host -> guest */
	uint8_t *from_host;
	size_t from_host_len, guest_got;
	/* the guest's credit as it told the device last, and data since */
	bool credit_known;
	uint32_t buf_alloc, fwd_cnt, rx_total;
	/* the device's credit as it told the guest last */
	uint32_t dev_buf_alloc, dev_fwd_cnt, guest_sent;
};

struct harness {
	uint8_t *mem;
	struct virtio_dev *d;
	struct vsock *v;
	char path[96];
	int listener[2]; /* PATH_5001, PATH_5002 */
	struct conn host[NHOST], guest[NGUEST];
	struct vd drv; /* the driver: its registers and rings (tests/rig/vdev.h) */
	uint16_t used_seen[3];
	uint16_t rx_len[QSIZE]; /* RX buffer sizes, by descriptor */
	unsigned tx_next;
	bool live, quiet;
	uint8_t *snap;
};

static struct harness h;

static void resnap(void)
{
	if (h.quiet)
		memcpy(h.snap, h.mem, MEM_SIZE);
}

static void run(unsigned wait_ms)
{
	vq_workers_run(h.d, wait_ms);
}

static void append(uint8_t *buf, size_t *len, const void *src, size_t n)
{
	if (*len >= STREAM)
		return;
	if (n > STREAM - *len)
		n = STREAM - *len;
	memcpy(buf + *len, src, n);
	*len += n;
}

static void conn_forget(struct conn *c)
{
	c->known = false;
	c->credit_known = false;
	c->rx_total = c->guest_sent = 0;
	c->dev_buf_alloc = c->dev_fwd_cnt = 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	conn_forget(c);
	c->to_host_len = c->host_read = c->from_host_len = c->guest_got = 0;
	c->checked = true;
	c->host_port = 0; /* what is still in flight for it goes unchecked */
}

/* ---- the guest's rings ---- */

/* Descriptor i of queue q: one buffer, no chain. */
static void post_one(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
	rr_desc(&h.drv.q[q].r, i, addr, len, flags, 0);
	rr_avail(&h.drv.q[q].r, i);
}

static void kick(unsigned q)
{
	uint64_t one = 1;
	FZ_CHECK(write(vsock_kick_fd(h.v, q), &one, sizeof(one)) == sizeof(one));
	run(0);
}

static void rx_collect(void);

static void device_reset(void)
{
	vd_write(&h.drv, VD_STATUS, 0);
	while (vd_read(&h.drv, VD_STATUS) != 0)
		run(1);
	/* what it put on the rings before the reset completed is there */
	if (h.live)
		rx_collect();
	h.live = false;
	for (unsigned i = 0; i < NHOST; i++)
		conn_forget(&h.host[i]);
	for (unsigned i = 0; i < NGUEST; i++)
		conn_forget(&h.guest[i]);
	h.quiet = true;
	memcpy(h.snap, h.mem, MEM_SIZE);
}

static void driver_init(void)
{
	device_reset();
	memset(h.used_seen, 0, sizeof(h.used_seen));
	FZ_CHECK(vd_init(&h.drv, 0) & VIRTIO_CONFIG_S_DRIVER_OK);
	h.live = true;
	h.quiet = false;
	h.tx_next = 0;
	run(0);
}

/* ---- the host side ---- */

static void host_connect(struct fz_in *in)
{
	uint8_t k = fz_take(in) % NHOST, line = fz_take(in);
	struct conn *c = &h.host[k];
	conn_close(c);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FZ_CHECK(c->fd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, h.path, strlen(h.path));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		conn_close(c);
		return;
	}
	c->guest_port = 7000 + k;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "CONNECT %u\n", c->guest_port);
	ssize_t w = 0;
	switch (line & 3) {
	case 0:
		w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
		break;
	case 1:
		w = send(c->fd, buf, 5, MSG_NOSIGNAL);
		run(0);
		w = send(c->fd, buf + 5, (size_t)n - 5, MSG_NOSIGNAL);
		break;
	case 2:
		w = send(c->fd, "CONNECT x\n", 10, MSG_NOSIGNAL);
		break;
	default:
		break;
	}
	(void)w;
	run(0);
}

static void host_write(struct fz_in *in)
{
	struct conn *c = &h.host[fz_take(in) % NHOST];
	size_t n = (size_t)fz_take(in) * 97;
	if (c->fd < 0)
		return;
	static uint8_t buf[255 * 97];
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(c->from_host_len + i + c->guest_port);
	ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w > 0)
		append(c->from_host, &c->from_host_len, buf, (size_t)w);
	run(0);
}

static void host_close(struct fz_in *in)
{
	uint8_t b = fz_take(in);
	struct conn *c = &h.host[b % NHOST];
	if (c->fd < 0)
		return;
	if (b & 4)
		shutdown(c->fd, SHUT_WR);
	else
		conn_close(c);
	run(0);
}

/* What a host end was sent must be a prefix of what it should get. */
static void host_read_one(struct conn *c)
{
	if (c->fd < 0)
		return;
	uint8_t buf[65536];
	for (;;) {
		ssize_t k = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k <= 0)
			break;
		for (ssize_t i = 0; i < k && c->checked; i++, c->host_read++) {
			if (c->host_read >= c->to_host_len)
				FZ_CHECK(c->to_host_len >= STREAM); /* nothing more was sent */
			else
				FZ_CHECK(buf[i] == c->to_host[c->host_read]);
		}
	}
}

static void host_read(void)
{
	for (unsigned i = 0; i < NHOST; i++)
		host_read_one(&h.host[i]);
	for (unsigned i = 0; i < NGUEST; i++)
		host_read_one(&h.guest[i]);
	run(0);
}

static void host_accept(void)
{
	for (unsigned l = 0; l < 2; l++) {
		int fd = accept4(h.listener[l], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		/* the guest connection to 5001 + l that waits for it */
		struct conn *c = NULL;
		if (h.guest[l].host_port == 5001 + l && h.guest[l].fd < 0 && h.guest[l].known)
			c = &h.guest[l];
		if (!c) {
			close(fd); /* one from before a reset */
			continue;
		}
		c->fd = fd;
	}
	run(0);
}

/* ---- the guest's packets ---- */

static void tx_collect(void);

/* Posts a TX chain; false if the queue still holds NTX of ours (a device
 * not serving it). */
static bool tx_post(const uint8_t hdr[VSOCK_HDR_LEN], const uint8_t *payload, uint32_t len,
		    uint32_t chain_len)
{
	if ((uint16_t)(AVAIL_IDX(1) - h.used_seen[1]) >= NTX) {
		kick(1);
		tx_collect();
		if ((uint16_t)(AVAIL_IDX(1) - h.used_seen[1]) >= NTX)
			return false;
	}
	uint64_t at = TXB(h.tx_next);
	uint16_t desc = (uint16_t)h.tx_next;
	h.tx_next = (h.tx_next + 1) % NTX;
	memcpy(h.mem + at, hdr, VSOCK_HDR_LEN);
	if (len)
		memcpy(h.mem + at + VSOCK_HDR_LEN, payload, len);
	post_one(1, desc, at, chain_len, 0);
	resnap();
	return true;
}

static struct conn *pick(uint8_t c)
{
	return c & 4 ? &h.guest[c & 1] : &h.host[c & 3];
}

/* Connections still waiting in a PATH_P listener's backlog: gone. */
static void drain_listener(unsigned l)
{
	int fd;
	while ((fd = accept4(h.listener[l], NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

static void guest_send(struct fz_in *in)
{
	uint8_t cs = fz_take(in), opb = fz_take(in), n = fz_take(in), b = fz_take(in);
	struct conn *c = pick(cs);
	bool hostile = b & 1;
	struct vsock_hdr hd = {.src_cid = GCID,
			       .dst_cid = VSOCK_HOST_CID,
			       .type = VIRTIO_VSOCK_TYPE_STREAM,
			       .op = (uint16_t)(opb % 7 + 1),
			       .buf_alloc = 256 * 1024,
			       .fwd_cnt = c->rx_total};
	if (cs & 4) { /* guest-initiated: 6000 + i -> 5001 + i */
		c->guest_port = 6000 + (cs & 1);
		c->host_port = 5001 + (cs & 1);
		if (hd.op == VIRTIO_VSOCK_OP_REQUEST && c->known)
			c->checked = false; /* a second REQUEST: who gets what is unclear */
		if (hd.op == VIRTIO_VSOCK_OP_REQUEST && !c->known && h.live) {
			if (c->fd >= 0)
				close(c->fd);
			c->fd = -1;
			drain_listener(cs & 1);
			c->to_host_len = c->host_read = c->from_host_len = c->guest_got = 0;
			c->checked = true;
			c->known = true;
		}
	}
	hd.src_port = c->guest_port;
	hd.dst_port = c->host_port;
	if (hostile) {
		hd.buf_alloc = (uint32_t)b << 10;
		hd.fwd_cnt = c->rx_total + (uint32_t)(b >> 4);
		c->checked = false;
	}
	static uint8_t payload[VSOCK_MAX_PKT];
	uint32_t len = 0;
	if (hd.op == VIRTIO_VSOCK_OP_RW) {
		len = (uint32_t)n * 64 + (n == 255 ? VSOCK_MAX_PKT - 255 * 64 : 0);
		/* within the credit the device gave, unless hostile */
		uint32_t credit = c->dev_buf_alloc - (c->guest_sent - c->dev_fwd_cnt);
		if (!hostile && (!c->known || c->dev_buf_alloc == 0))
			len = 0;
		if (!hostile && len > credit)
			len = credit;
		for (uint32_t i = 0; i < len; i++)
			payload[i] = (uint8_t)(c->guest_sent + i + c->host_port * 3);
	}
	if (hd.op == VIRTIO_VSOCK_OP_SHUTDOWN)
		hd.flags = b >> 1 & 3;
	hd.len = len;
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(&hd, raw);
	if (!tx_post(raw, payload, len, VSOCK_HDR_LEN + len))
		return;
	/* what the guest told the device */
	c->credit_known =
		c->known || hd.op == VIRTIO_VSOCK_OP_REQUEST || hd.op == VIRTIO_VSOCK_OP_RESPONSE;
	c->buf_alloc = hd.buf_alloc;
	c->fwd_cnt = hd.fwd_cnt;
	if (len && c->known) {
		append(c->to_host, &c->to_host_len, payload, len);
		c->guest_sent += len;
	}
	if (hd.op == VIRTIO_VSOCK_OP_RST ||
	    (hd.op == VIRTIO_VSOCK_OP_SHUTDOWN && (hd.flags & 3) == 3))
		c->known = false; /* ended (the stream stays checkable) */
}

static void guest_raw(struct fz_in *in)
{
	uint8_t len = fz_take(in);
	uint8_t hdr[VSOCK_HDR_LEN];
	for (unsigned i = 0; i < VSOCK_HDR_LEN; i++)
		hdr[i] = fz_take(in);
	if (len & 1) { /* mostly: the guest's CIDs, so that it gets past the checks */
		le_put64(hdr, GCID);
		le_put64(hdr + 8, VSOCK_HOST_CID);
	}
	uint32_t plen = fz_rd32(hdr + 24) % 512;
	static uint8_t payload[512];
	tx_post(hdr, payload, plen, VSOCK_HDR_LEN + (uint32_t)(len >> 1) * 4);
	for (unsigned i = 0; i < NHOST; i++)
		h.host[i].checked = false;
	for (unsigned i = 0; i < NGUEST; i++)
		h.guest[i].checked = false;
}

static void tx_collect(void)
{
	uint16_t idx = vd_used_idx(&h.drv, 1);
	FZ_CHECK((uint16_t)(idx - h.used_seen[1]) <= (uint16_t)(AVAIL_IDX(1) - h.used_seen[1]));
	for (; h.used_seen[1] != idx; h.used_seen[1]++) {
		uint32_t id, len;
		vd_used(&h.drv, 1, h.used_seen[1], &id, &len);
		FZ_CHECK(len == 0);
	}
}

static void rx_post(struct fz_in *in)
{
	unsigned n = fz_take(in) % QSIZE + 1;
	uint16_t size = (uint16_t)(VSOCK_HDR_LEN + (fz_take(in) % 33) * 256);
	for (unsigned i = 0; i < n && (uint16_t)(AVAIL_IDX(0) - h.used_seen[0]) < QSIZE; i++) {
		uint16_t d = AVAIL_IDX(0) % QSIZE; /* in order: used in order */
		h.rx_len[d] = size;
		post_one(0, d, RXB(d), size, VRING_DESC_F_WRITE);
	}
	resnap();
	kick(0);
}

static struct conn *by_ports(uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < NHOST; i++)
		if (h.host[i].host_port == host_port && h.host[i].guest_port == guest_port)
			return &h.host[i];
	for (unsigned i = 0; i < NGUEST; i++)
		if (h.guest[i].host_port == host_port && h.guest[i].guest_port == guest_port)
			return &h.guest[i];
	return NULL;
}

static void rx_packet(const uint8_t *buf, uint32_t len, uint16_t size)
{
	FZ_CHECK(len >= VSOCK_HDR_LEN && len <= size);
	struct vsock_hdr hd;
	vsock_hdr_decode(buf, &hd);
	FZ_CHECK(hd.src_cid == VSOCK_HOST_CID && hd.dst_cid == GCID);
	FZ_CHECK(hd.type == VIRTIO_VSOCK_TYPE_STREAM);
	FZ_CHECK(hd.op >= VIRTIO_VSOCK_OP_REQUEST && hd.op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	FZ_CHECK(hd.len == len - VSOCK_HDR_LEN);
	FZ_CHECK(hd.op == VIRTIO_VSOCK_OP_RW || hd.len == 0);
	FZ_CHECK(hd.buf_alloc <= VSOCK_TX_BUF);
	struct conn *c = by_ports(hd.src_port, hd.dst_port);
	if (hd.op == VIRTIO_VSOCK_OP_REQUEST) {
		/* a host client's: dst_port 7000 + k */
		FZ_CHECK(hd.dst_port >= 7000 && hd.dst_port < 7000 + NHOST);
		c = &h.host[hd.dst_port - 7000];
		c->host_port = hd.src_port;
		c->known = true;
		c->credit_known = false;
		c->guest_sent = c->rx_total = 0;
		char ok[32];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", hd.src_port);
		c->to_host_len = c->host_read = 0;
		append(c->to_host, &c->to_host_len, ok, (size_t)n);
		/* room for the OK line beside what the guest may send */
		FZ_CHECK(hd.buf_alloc + (uint32_t)n <= VSOCK_TX_BUF);
	}
	if (!c)
		return; /* e.g. a RST for a port the guest made up */
	c->dev_buf_alloc = hd.buf_alloc;
	c->dev_fwd_cnt = hd.fwd_cnt;
	if (hd.op == VIRTIO_VSOCK_OP_RST) {
		c->known = false;
		return;
	}
	if (hd.op != VIRTIO_VSOCK_OP_RW)
		return;
	FZ_CHECK(c->credit_known || !c->checked); /* data only where the guest said how much */
	uint32_t in_flight = c->rx_total - c->fwd_cnt;
	uint32_t credit = in_flight >= c->buf_alloc ? 0 : c->buf_alloc - in_flight;
	FZ_CHECK(hd.len <= credit || !c->checked);
	c->rx_total += hd.len;
	/* a prefix of what the host end wrote */
	for (uint32_t i = 0; i < hd.len && c->checked; i++, c->guest_got++)
		if (c->guest_got < c->from_host_len)
			FZ_CHECK(buf[VSOCK_HDR_LEN + i] == c->from_host[c->guest_got]);
}

static void rx_collect(void)
{
	uint16_t idx = vd_used_idx(&h.drv, 0);
	FZ_CHECK((uint16_t)(idx - h.used_seen[0]) <= (uint16_t)(AVAIL_IDX(0) - h.used_seen[0]));
	for (; h.used_seen[0] != idx; h.used_seen[0]++) {
		uint32_t id, len;
		vd_used(&h.drv, 0, h.used_seen[0], &id, &len);
		FZ_CHECK(id == h.used_seen[0] % QSIZE); /* in order */
		if (len)
			rx_packet(h.mem + RXB(id), len, h.rx_len[id]);
	}
	tx_collect();
}

static void setup_paths(void)
{
	if (h.path[0])
		return;
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/cvmm-fuzz-vsock.%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(h.path, sizeof(h.path), "%s/v", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t snap[MEM_SIZE];
	static uint8_t streams[NHOST + NGUEST][2][STREAM];
	if (!fz_have_uring())
		return 0; /* qemu-user (the cross build's replay): nothing to drive */
	const struct guest_mem *gm = fz_mem(MEM_SIZE, 0);
	char path[96];
	memcpy(path, h.path, sizeof(path));
	memset(&h, 0, sizeof(h));
	memcpy(h.path, path, sizeof(path));
	setup_paths();
	h.mem = gm_ptr(gm, 0, MEM_SIZE);
	h.snap = snap;
	memset(h.mem, 0, MEM_SIZE);
	for (unsigned i = 0; i < NHOST + NGUEST; i++) {
		struct conn *c = i < NHOST ? &h.host[i] : &h.guest[i - NHOST];
		c->fd = -1;
		c->checked = true;
		c->to_host = streams[i][0];
		c->from_host = streams[i][1];
	}
	for (unsigned l = 0; l < 2; l++) {
		char p[128];
		snprintf(p, sizeof(p), "%s_%u", h.path, 5001 + l);
		unlink(p);
		h.listener[l] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		memcpy(a.sun_path, p, strlen(p));
		FZ_CHECK(bind(h.listener[l], (struct sockaddr *)&a, sizeof(a)) == 0);
		FZ_CHECK(listen(h.listener[l], 8) == 0);
	}
	struct vsock_cfg cfg = {.guest_cid = GCID, .path = h.path};
	struct err e = {0};
	int r = vsock_open(&h.v, &cfg, &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0);
	h.d = vsock_vdev(h.v);
	h.d->inline_workers = true;
	struct virtio_irqfds irq = {.config = -1};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = -1;
	r = vsock_start(h.v, gm, &irq, &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0);
	h.drv = (struct vd){.m = gm, .d = h.d};
	for (unsigned q = 0; q < 3; q++)
		vd_ring_set(&h.drv, q, RING(q), RING(q) + 0x200, RING(q) + 0x1000, QSIZE,
			    vsock_kick_fd(h.v, q));
	driver_init();

	struct fz_in in = {data, size};
	for (unsigned ops = 0; in.left && ops < MAX_OPS; ops++) {
		switch (fz_take(&in) % 13) {
		case 0:
			host_connect(&in);
			break;
		case 1:
			host_write(&in);
			break;
		case 2:
			host_close(&in);
			break;
		case 3:
			host_read();
			break;
		case 4:
			guest_send(&in);
			break;
		case 5:
			guest_raw(&in);
			break;
		case 6:
			kick(1);
			tx_collect();
			break;
		case 7:
			rx_post(&in);
			break;
		case 8:
			run(0);
			rx_collect();
			break;
		case 9:
			device_reset();
			break;
		case 10:
			driver_init();
			break;
		case 11:
			run(1);
			break;
		default:
			host_accept();
			break;
		}
		if (h.quiet) /* reset, and nothing set up since: nothing lands */
			FZ_CHECK(!memcmp(h.mem, h.snap, MEM_SIZE));
	}
	rx_collect();
	host_read();
	device_reset();
	vsock_destroy(h.v);
	FZ_CHECK(!memcmp(h.mem, h.snap, MEM_SIZE));
	for (unsigned i = 0; i < NHOST; i++)
		conn_close(&h.host[i]);
	for (unsigned i = 0; i < NGUEST; i++)
		conn_close(&h.guest[i]);
	for (unsigned l = 0; l < 2; l++) {
		char p[128];
		snprintf(p, sizeof(p), "%s_%u", h.path, 5001 + l);
		close(h.listener[l]);
		unlink(p);
	}
	return 0;
}
