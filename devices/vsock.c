/* SPDX-License-Identifier: MIT */
/* virtio-vsock (virtio 1.2, section 5.10), host side on unix sockets. The
 * pure part (headers, credit, the connection state machine, the CONNECT
 * line) is vsock_model.c; here is the worker that moves packets between the
 * queues and the sockets through io_uring.
 *
 * One worker for the device, not one per queue: every connection is shared
 * by both directions (a guest TX packet can answer, reset or give credit to
 * what RX is about to deliver), so a single owner of the connection table,
 * the RX queue and the TX queue needs no lock and has no ordering races.
 * It is the TX queue's vq_worker; the RX queue's ioeventfd is one of its
 * registered files (a read on it is always armed). The event queue carries
 * one event, TRANSPORT_RESET, after a restore (every connection is gone
 * then: the guest resets its sockets, its listeners stay): its ioeventfd
 * is another registered file, read while an event waits for a buffer, and
 * its interrupt eventfd one the worker writes through the ring (its filter
 * allows the writes to its own queue's and RX's only).
 *
 * Every socket operation is an io_uring op on a registered ("direct") file:
 * the listener is registered at start, accepted and connected sockets are
 * created by the ring itself (IORING_OP_ACCEPT / IORING_OP_SOCKET into an
 * empty slot), so the worker keeps the plain virtqueue-worker seccomp table
 * and its ring stays restricted to fixed files. A finished connection's
 * socket is shut down (IORING_OP_SHUTDOWN: the peer sees EOF) and released
 * when its slot is reused: IORING_OP_CLOSE cannot take IOSQE_FIXED_FILE,
 * which the ring's restrictions require.
 *
 * Bounded memory: VSOCK_MAX_CONNS connections, each with a guest->socket
 * ring of VSOCK_TX_BUF (the buf_alloc we advertise, less the "OK <port>\n"
 * a host client is owed, which sits in the same ring: a guest that sends more
 * than its credit is reset) and a socket->guest buffer of VSOCK_RX_BUF that
 * is refilled only once delivered and only up to the guest's credit; all of
 * it one arena mapped at start, pages given back when a connection ends.
 *
 * Bounded time: a connection that waits on its other end has a deadline
 * (vsock.h: the guest's answer to our REQUEST, the end of a shutdown); the
 * worker's own timer (vq_worker_timer) wakes it for the earliest, and a
 * connection past its deadline is reset. Without them a guest that never
 * answers keeps the slot and the host socket for good, and once it holds
 * all VSOCK_MAX_CONNS, no host client gets through any more. */
#include "devices/vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/snap.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/worker.h"

#define FILE_RXKICK  (WORKER_FILE_DEV)
#define FILE_LISTEN  (WORKER_FILE_DEV + 1)
#define FILE_EVKICK  (WORKER_FILE_DEV + 2)
#define FILE_EVIRQ   (WORKER_FILE_DEV + 3)
#define FILE_CONN(i) (WORKER_FILE_DEV + 4 + (int)(i))
#define TAG_RXKICK   16 /* device-level ops; connection ops are (idx + 1) << 8 | kind */
#define TAG_EVKICK   17
#define HASH_SIZE    256
#define MAX_RST	     64
#define WANT_WORDS   (VSOCK_MAX_CONNS / 64)

enum { K_RECV = 1, K_SEND, K_CTL, K_QUIESCE };
enum ctl_op { CTL_NONE, CTL_ACCEPT, CTL_SOCKET, CTL_CONNECT, CTL_SHUT_WR, CTL_SHUT_RDWR };

struct vsock_conn {
	struct vsock_cstate s;
	unsigned idx;
	uint32_t host_port, guest_port;
	unsigned hnext; /* hash chain: index + 1, 0 ends */
	bool hashed;
	bool has_sock; /* a socket sits in the slot */
	bool recving, sending;
	enum ctl_op ctl; /* the control op in flight */
	bool host_eof;	 /* the socket ended: we send the guest no more */
	bool shut_sent;	 /* SHUTDOWN(SEND) told to the guest */
	bool shut_wr_done, shut_done;
	bool flush; /* closing: write what we hold first */
	bool need_request, need_response, need_rst, need_credit, need_credit_req;
	bool credit_req_sent;
	bool touched; /* its buffers were written: give the pages back when freed */
	bool added;   /* counted in conns_added: a connection both ends know */
	/* when it is reset if still waiting (conn_deadline), CLOCK_MONOTONIC
	 * ns; 0: not waiting */
	uint64_t deadline;
	uint8_t *txb; /* guest -> socket ring, VSOCK_TX_BUF (arena) */
	size_t tx_head, tx_len, ok_left;
	uint8_t *rxb; /* socket -> guest, VSOCK_RX_BUF (arena) */
	size_t rx_off, rx_len;
	char line[VSOCK_LINE_MAX];
	size_t line_len;
	struct sockaddr_un addr; /* PATH_P, for the connect in flight */
};

struct vsock {
	struct virtio_dev vdev;
	uint64_t cid;
	char *path;	    /* owned */
	int listen_fd;	    /* owned */
	bool bound;	    /* we created the socket file at path (removed at the end) */
	int rx_kick_fd;	    /* owned: the RX queue's ioeventfd */
	int evt_kick_fd;    /* owned: the event queue's */
	struct vq_worker w; /* the TX queue's worker, serving everything */
	bool started, worker_made;
	/* worker state */
	struct vq rxq;
	bool rx_dead;
	/* the event queue (when the driver made it ready): a TRANSPORT_RESET
	 * owed (a restore), sent and not yet acknowledged (the driver posts a
	 * buffer again: its kick; RX waits until then, so that nothing of a
	 * new connection reaches the guest before it reset the old ones) */
	struct vq evq;
	bool ev_live, ev_pending, ev_wait_ack, ev_reading;
	uint64_t ev_kick_buf;
	struct vq_chain evchain;
	bool armed;	/* RX-kick read and accept armed since activation */
	bool accepting; /* an accept is in flight */
	bool accept_failed;
	uint64_t kick_buf;
	uint32_t next_port;
	unsigned rr; /* round-robin start for RX service */
	/* no connection's deadline is earlier than this (0: none is set);
	 * deadlines are looked at from then on (sweep) */
	uint64_t next_deadline;
	unsigned free_hint;
	uint64_t want[WANT_WORDS]; /* connections with something for the guest */
	unsigned hash[HASH_SIZE];
	struct vsock_hdr rst[MAX_RST]; /* resets for connections we do not know */
	unsigned nrst;
	bool rx_pushed, tx_pushed;
	uint64_t dropped, accept_errors;
	/* metrics (vsock_metrics): the worker writes them (the vCPU that
	 * resets the device, once the worker is idle: vsock_forget) */
	_Atomic uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, conns_added, conns_killed,
		conns_removed, read_fails, write_fails, rx_kicks;
	struct vq_chain txchain, rxchain;
	struct vsock_conn *conns; /* owned, VSOCK_MAX_CONNS */
	uint8_t *arena;		  /* owned mapping */
	size_t arena_len;
};

static uint64_t tag(const struct vsock_conn *c, unsigned kind)
{
	return ((uint64_t)(c->idx + 1) << 8) | kind;
}

static unsigned hash_of(uint32_t host_port, uint32_t guest_port)
{
	return (host_port * 2654435761u ^ guest_port * 40503u) % HASH_SIZE;
}

static struct vsock_conn *lookup(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = v->hash[hash_of(host_port, guest_port)]; i; i = v->conns[i - 1].hnext) {
		struct vsock_conn *c = &v->conns[i - 1];
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static void hash_add(struct vsock *v, struct vsock_conn *c)
{
	unsigned h = hash_of(c->host_port, c->guest_port);
	c->hnext = v->hash[h];
	v->hash[h] = c->idx + 1;
	c->hashed = true;
}

static void hash_del(struct vsock *v, struct vsock_conn *c)
{
	if (!c->hashed)
		return;
	unsigned *p = &v->hash[hash_of(c->host_port, c->guest_port)];
	while (*p && *p != c->idx + 1)
		p = &v->conns[*p - 1].hnext;
	if (*p)
		*p = c->hnext;
	c->hashed = false;
}

static void want(struct vsock *v, const struct vsock_conn *c, bool on)
{
	uint64_t bit = 1ULL << (c->idx % 64);
	if (on)
		v->want[c->idx / 64] |= bit;
	else
		v->want[c->idx / 64] &= ~bit;
}

static struct vsock_conn *conn_alloc(struct vsock *v)
{
	for (unsigned k = 0; k < VSOCK_MAX_CONNS; k++) {
		unsigned i = (v->free_hint + k) % VSOCK_MAX_CONNS;
		struct vsock_conn *c = &v->conns[i];
		if (c->s.state == VSOCK_FREE) {
			v->free_hint = i + 1;
			uint8_t *txb = c->txb, *rxb = c->rxb;
			memset(c, 0, sizeof(*c));
			c->idx = i;
			c->txb = txb;
			c->rxb = rxb;
			return c;
		}
	}
	return NULL;
}

static void conn_release(struct vsock *v, struct vsock_conn *c)
{
	if (c->added)
		vdev_count(&v->conns_removed, 1);
	c->added = false;
	hash_del(v, c);
	want(v, c, false);
	if (c->touched) {
		/* Pages back to the host; madvise is in the worker's table. */
		madvise(c->txb, VSOCK_TX_BUF, MADV_DONTNEED);
		madvise(c->rxb, VSOCK_RX_BUF, MADV_DONTNEED);
	}
	c->touched = false;
	c->deadline = 0;
	c->s.state = VSOCK_FREE;
}

static struct io_uring_sqe *sqe_on(struct vsock *v, uint64_t t)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(&v->w);
	if (!sqe)
		return NULL;
	io_uring_sqe_set_data64(sqe, t);
	return sqe;
}

static void submit(struct vsock *v, struct io_uring_sqe *sqe)
{
	sqe->flags |= IOSQE_FIXED_FILE;
	v->w.inflight++;
}

static void arm_rxkick(struct vsock *v)
{
	struct io_uring_sqe *sqe = sqe_on(v, TAG_RXKICK);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, FILE_RXKICK, &v->kick_buf, sizeof(v->kick_buf), 0);
	submit(v, sqe);
}

static void arm_accept(struct vsock *v)
{
	if (v->accepting || v->accept_failed || !v->w.active)
		return;
	struct vsock_conn *c = conn_alloc(v);
	if (!c)
		return; /* every slot busy: clients wait in the backlog */
	struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_CTL));
	if (!sqe)
		return;
	c->s.state = VSOCK_ACCEPTING;
	io_uring_prep_accept_direct(sqe, FILE_LISTEN, NULL, NULL, 0, (unsigned)FILE_CONN(c->idx));
	submit(v, sqe);
	c->ctl = CTL_ACCEPT;
	v->accepting = true;
}

static void ctl_shutdown(struct vsock *v, struct vsock_conn *c, int how)
{
	struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_CTL));
	if (!sqe)
		return;
	io_uring_prep_shutdown(sqe, FILE_CONN(c->idx), how);
	submit(v, sqe);
	c->ctl = how == SHUT_WR ? CTL_SHUT_WR : CTL_SHUT_RDWR;
}

static void conn_recv(struct vsock *v, struct vsock_conn *c, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_RECV));
	if (!sqe)
		return;
	io_uring_prep_recv(sqe, FILE_CONN(c->idx), buf, len, 0);
	submit(v, sqe);
	c->recving = true;
	c->touched = true;
}

static void conn_send(struct vsock *v, struct vsock_conn *c)
{
	if (!c->has_sock || c->sending || c->tx_len == 0)
		return;
	size_t n = VSOCK_TX_BUF - c->tx_head;
	if (n > c->tx_len)
		n = c->tx_len;
	struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_SEND));
	if (!sqe)
		return;
	io_uring_prep_send(sqe, FILE_CONN(c->idx), c->txb + c->tx_head, n, MSG_NOSIGNAL);
	submit(v, sqe);
	c->sending = true;
}

/* Whether c has a packet for the guest. */
static bool rx_pending(const struct vsock_conn *c)
{
	if (c->need_rst || c->need_request || c->need_response || c->need_credit ||
	    c->need_credit_req)
		return true;
	if (c->s.state != VSOCK_ESTABLISHED)
		return false;
	if (c->rx_len && vsock_peer_credit(&c->s.cr) > 0)
		return true;
	return c->host_eof && !c->rx_len && !c->shut_sent;
}

/* c waits on its other end: unless it moves on within ms, the sweep
 * resets it. The worker's timer wakes the worker by then (a timer due
 * earlier is left to do it: its sweep asks for the next one). */
static void conn_deadline(struct vsock *v, struct vsock_conn *c, unsigned ms)
{
	uint64_t ns = (uint64_t)ms * 1000000u;
	c->deadline = clock_mono_ns() + ns;
	if (!v->next_deadline || c->deadline < v->next_deadline)
		v->next_deadline = c->deadline;
	vq_worker_timer(&v->w, ns);
}

/* Ends a connection: RST to the guest if rst (and the guest knows it),
 * what we hold for the socket written first if flush, then the socket
 * shut down and the slot freed once no I/O is left. */
static void conn_progress(struct vsock *v, struct vsock_conn *c);

static void conn_close(struct vsock *v, struct vsock_conn *c, bool rst, bool flush)
{
	bool guest_knows = c->s.state >= VSOCK_HOST_REQUEST && c->s.state != VSOCK_CLOSING;
	if (rst && !flush && c->added && c->s.state != VSOCK_CLOSING)
		vdev_count(&v->conns_killed, 1); /* ended by us, not by the guest's shutdown */
	hash_del(v, c);				 /* the guest may reuse the ports at once */
	c->s.state = VSOCK_CLOSING;
	c->need_request = c->need_response = c->need_credit = c->need_credit_req = false;
	c->need_rst = rst && guest_knows;
	c->flush = flush;
	if (!flush)
		c->tx_len = 0;
	c->rx_len = 0;
	/* A host peer that stops taking what is left does not keep the slot. */
	c->deadline = 0;
	if (flush && (c->tx_len || c->sending))
		conn_deadline(v, c, VSOCK_SHUTDOWN_TIMEOUT_MS);
	conn_progress(v, c);
}

static void conn_progress(struct vsock *v, struct vsock_conn *c)
{
	switch (c->s.state) {
	case VSOCK_FREE:
	case VSOCK_ACCEPTING:
	case VSOCK_HOST_REQUEST:
	case VSOCK_GUEST_CONNECTING:
		break;
	case VSOCK_HOST_LINE:
		if (!c->recving)
			conn_recv(v, c, c->line + c->line_len, sizeof(c->line) - c->line_len);
		break;
	case VSOCK_ESTABLISHED: {
		conn_send(v, c);
		if (c->s.guest_no_send && !c->shut_wr_done && !c->tx_len && !c->sending &&
		    c->ctl == CTL_NONE) {
			ctl_shutdown(v, c, SHUT_WR);
			c->shut_wr_done = true;
		}
		if (c->s.guest_no_rcv)
			c->rx_len = 0; /* the guest said it reads no more */
		uint32_t credit = vsock_peer_credit(&c->s.cr);
		if (credit)
			c->credit_req_sent = false;
		if (!c->recving && !c->host_eof && !c->s.guest_no_rcv && !c->rx_len && credit)
			conn_recv(v, c, c->rxb, credit < VSOCK_RX_BUF ? credit : VSOCK_RX_BUF);
		/* Out of credit with something to send: ask once (the guest also
		 * updates us by itself as it reads). */
		if (!credit && !c->credit_req_sent && !c->s.guest_no_rcv &&
		    (c->rx_len || !c->host_eof)) {
			c->need_credit_req = true;
			c->credit_req_sent = true;
		}
		if (vsock_credit_update_due(&c->s.cr))
			c->need_credit = true;
		break;
	}
	case VSOCK_CLOSING:
		if (c->flush && (c->tx_len || c->sending)) {
			conn_send(v, c);
			break;
		}
		if (c->has_sock && !c->shut_done && c->ctl == CTL_NONE) {
			ctl_shutdown(v, c, SHUT_RDWR);
			break;
		}
		if (!c->recving && !c->sending && c->ctl == CTL_NONE && !c->need_rst &&
		    (!c->has_sock || c->shut_done)) {
			conn_release(v, c);
			arm_accept(v); /* a slot is free again */
			return;
		}
		break;
	}
	want(v, c, rx_pending(c));
}

static void queue_rst(struct vsock *v, const struct vsock_hdr *h)
{
	if (v->nrst == MAX_RST) {
		v->dropped++; /* the guest times out instead */
		return;
	}
	v->rst[v->nrst++] = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = v->cid,
		.src_port = h->dst_port,
		.dst_port = h->src_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_RST,
	};
}

/* ---- guest -> host: the TX queue ------------------------------------------- */

static void guest_connect(struct vsock *v, const struct vsock_hdr *h)
{
	struct vsock_conn *c = conn_alloc(v);
	if (!c) {
		queue_rst(v, h);
		return;
	}
	int n = snprintf(c->addr.sun_path, sizeof(c->addr.sun_path), "%s_%u", v->path, h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(c->addr.sun_path)) {
		queue_rst(v, h);
		return;
	}
	c->addr.sun_family = AF_UNIX;
	struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_CTL));
	if (!sqe) {
		queue_rst(v, h);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->s.state = VSOCK_GUEST_CONNECTING;
	c->s.cr.peer_buf_alloc = h->buf_alloc;
	c->s.cr.peer_fwd_cnt = h->fwd_cnt;
	hash_add(v, c);
	io_uring_prep_socket_direct(sqe, AF_UNIX, SOCK_STREAM, 0, (unsigned)FILE_CONN(c->idx), 0);
	submit(v, sqe);
	c->ctl = CTL_SOCKET;
}

/* Appends a guest packet's payload to c's ring. false (nothing copied) if
 * it does not fit: the credit accounting (vsock_guest_event) rules that
 * out; this keeps any slip there from overwriting what is queued. */
static bool copy_in(struct vsock_conn *c, const struct vq_chain *chain, uint32_t len)
{
	if (len > VSOCK_TX_BUF - c->tx_len)
		return false;
	struct vq_cursor cur;
	vq_cursor_out(&cur, chain);
	vq_cursor_skip(&cur, VSOCK_HDR_LEN);
	size_t tail = (c->tx_head + c->tx_len) % VSOCK_TX_BUF;
	size_t first = VSOCK_TX_BUF - tail < len ? VSOCK_TX_BUF - tail : len;
	size_t got = vq_cursor_read(&cur, c->txb + tail, first);
	if (got == first && first < len)
		got += vq_cursor_read(&cur, c->txb, len - first);
	c->tx_len += got;
	c->touched = true;
	return true;
}

static void tx_packet(struct vsock *v, const struct vq_chain *chain)
{
	struct vsock_hdr h;
	int r = vsock_tx_parse(chain, v->cid, &h);
	if (r == -EPROTONOSUPPORT) {
		if (h.op != VIRTIO_VSOCK_OP_RST)
			queue_rst(v, &h);
		return;
	}
	if (r < 0) {
		v->dropped++;
		return;
	}
	struct vsock_conn *c = lookup(v, h.dst_port, h.src_port);
	if (!c) {
		if (h.op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(v, &h);
		else if (h.op != VIRTIO_VSOCK_OP_RST)
			queue_rst(v, &h);
		return;
	}
	vdev_count(&v->tx_packets, 1); /* one for a connection */
	switch (vsock_guest_event(&c->s, &h)) {
	case VSOCK_A_DROP:
	case VSOCK_A_SHUTDOWN:
		break;
	case VSOCK_A_ESTABLISH: {
		/* Tell the client, ahead of anything the guest sends, from the
		 * same buffer: its bytes were reserved out of the credit the
		 * guest was given (on_line), so the guest's data that follows
		 * in this very batch cannot wrap over it. */
		int n = snprintf((char *)c->txb, VSOCK_TX_BUF, "OK %u\n", c->host_port);
		c->tx_head = 0;
		c->tx_len = c->ok_left = (size_t)n;
		c->touched = true;
		c->deadline = 0; /* answered in time */
		break;
	}
	case VSOCK_A_DATA:
		if (!copy_in(c, chain, h.len)) {
			conn_close(v, c, true, false);
			return;
		}
		break;
	case VSOCK_A_CREDIT:
		c->need_credit = true;
		break;
	case VSOCK_A_FINISH:
		conn_close(v, c, true, true);
		return;
	case VSOCK_A_CLOSE:
		conn_close(v, c, false, false);
		return;
	case VSOCK_A_RESET:
		conn_close(v, c, true, false);
		return;
	}
	conn_progress(v, c);
}

static void tx_drain(struct vsock *v)
{
	struct vq *q = &v->w.q;
	for (;;) {
		vq_disable_notify(q);
		for (;;) {
			int r = vq_worker_pop(&v->w, &v->txchain);
			if (r < 0)
				return;
			if (r == 0)
				break;
			tx_packet(v, &v->txchain);
			if (virtio_push(&v->vdev, q, v->txchain.head, 0) < 0) {
				v->w.active = false;
				return;
			}
			v->tx_pushed = true;
		}
		if (!vq_enable_notify(q))
			break;
	}
}

/* ---- host -> guest: the RX queue ------------------------------------------- */

static void hdr_for(const struct vsock *v, const struct vsock_conn *c, uint16_t op,
		    struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = v->cid,
		.src_port = c->host_port,
		.dst_port = c->guest_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = vsock_buf_alloc(&c->s),
		.fwd_cnt = c->s.cr.fwd_cnt,
	};
}

/* Writes c's next packet into the chain; returns the bytes written. */
static uint32_t rx_conn_packet(struct vsock *v, struct vsock_conn *c, const struct vq_chain *chain)
{
	struct vsock_hdr h;
	const uint8_t *data = NULL;
	uint32_t len = 0;
	uint32_t credit = vsock_peer_credit(&c->s.cr);
	if (c->need_rst) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_RST, &h);
		c->need_rst = false;
	} else if (c->need_request) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_REQUEST, &h);
		c->need_request = false;
		/* As Firecracker, from when the guest has it: a REQUEST that
		 * waits for an RX buffer (the VM paused, say) costs it nothing. */
		conn_deadline(v, c, VSOCK_REQUEST_TIMEOUT_MS);
	} else if (c->need_response) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_RESPONSE, &h);
		c->need_response = false;
	} else if (c->s.state == VSOCK_ESTABLISHED && c->rx_len && credit) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_RW, &h);
		len = (uint32_t)c->rx_len;
		if (len > credit)
			len = credit;
		if (len > VSOCK_MAX_PKT)
			len = VSOCK_MAX_PKT;
		if (len > chain->in_bytes - VSOCK_HDR_LEN)
			len = (uint32_t)(chain->in_bytes - VSOCK_HDR_LEN);
		data = c->rxb + c->rx_off;
		vdev_count(&v->rx_bytes, len);
	} else if (c->need_credit) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, &h);
	} else if (c->need_credit_req) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, &h);
		c->need_credit_req = false;
	} else if (c->s.state == VSOCK_ESTABLISHED && c->host_eof && !c->rx_len && !c->shut_sent) {
		hdr_for(v, c, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
		h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		c->shut_sent = true;
		/* the guest's turn to end it (RST, or SHUTDOWN of both) */
		conn_deadline(v, c, VSOCK_SHUTDOWN_TIMEOUT_MS);
	} else {
		return 0;
	}
	h.len = len;
	uint8_t b[VSOCK_HDR_LEN];
	vsock_hdr_encode(&h, b);
	struct vq_cursor cur;
	vq_cursor_in(&cur, chain);
	vq_cursor_write(&cur, b, sizeof(b));
	if (len)
		vq_cursor_write(&cur, data, len);
	/* Every header carries fwd_cnt: the guest is up to date. */
	c->s.cr.fwd_sent = c->s.cr.fwd_cnt;
	c->need_credit = false;
	c->s.cr.tx_cnt += len;
	c->rx_off += len;
	c->rx_len -= len;
	if (!c->rx_len)
		c->rx_off = 0;
	conn_progress(v, c);
	vdev_count(&v->rx_packets, 1); /* one of a connection's */
	return VSOCK_HDR_LEN + len;
}

/* The next packet for the guest into the chain: resets for unknown
 * connections first, then connections round-robin. 0: nothing to send. */
static uint32_t rx_next(struct vsock *v, const struct vq_chain *chain)
{
	if (v->nrst) {
		uint8_t b[VSOCK_HDR_LEN];
		vsock_hdr_encode(&v->rst[--v->nrst], b);
		struct vq_cursor cur;
		vq_cursor_in(&cur, chain);
		vq_cursor_write(&cur, b, sizeof(b));
		return VSOCK_HDR_LEN;
	}
	for (unsigned k = 0; k < VSOCK_MAX_CONNS; k++) {
		unsigned i = (v->rr + k) % VSOCK_MAX_CONNS;
		if (!(v->want[i / 64] & (1ULL << (i % 64))))
			continue;
		struct vsock_conn *c = &v->conns[i];
		uint32_t n = rx_conn_packet(v, c, chain);
		if (n) {
			v->rr = i + 1;
			return n;
		}
		want(v, c, false);
	}
	return 0;
}

static bool rx_any(const struct vsock *v)
{
	if (v->nrst)
		return true;
	for (unsigned i = 0; i < WANT_WORDS; i++)
		if (v->want[i])
			return true;
	return false;
}

static void rx_service(struct vsock *v)
{
	struct vq *q = &v->rxq;
	if (v->rx_dead || !v->w.active || v->w.paused || v->ev_pending || v->ev_wait_ack)
		return;
	while (rx_any(v)) {
		vq_disable_notify(q);
		int r = virtio_pop(&v->vdev, q, &v->rxchain);
		if (r < 0) {
			v->rx_dead = true;
			return;
		}
		if (r == 0) {
			if (vq_enable_notify(q))
				continue; /* more buffers arrived meanwhile */
			break;		  /* wait for the driver's kick */
		}
		uint32_t n = 0;
		if (v->rxchain.in_bytes >= VSOCK_HDR_LEN) {
			n = rx_next(v, &v->rxchain);
			if (n == 0) {
				vq_unpop(q, 1);
				break;
			}
		}
		if (virtio_push(&v->vdev, q, v->rxchain.head, n) < 0) {
			v->rx_dead = true;
			return;
		}
		v->rx_pushed = true;
	}
}

/* ---- the event queue ------------------------------------------------------- */

static void arm_evkick(struct vsock *v)
{
	if (v->ev_reading)
		return;
	struct io_uring_sqe *sqe = sqe_on(v, TAG_EVKICK);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, FILE_EVKICK, &v->ev_kick_buf, sizeof(v->ev_kick_buf), 0);
	submit(v, sqe);
	v->ev_reading = true;
}

/* The event queue's interrupt: its eventfd is not one the worker's filter
 * lets it write, so the ring writes it. */
static void ev_notify(struct vsock *v)
{
	static const uint64_t one = 1;
	atomic_fetch_or(&v->vdev.isr, VIRTIO_INT_USED);
	struct io_uring_sqe *sqe = sqe_on(v, WORKER_TAG_IGNORE);
	if (!sqe)
		return;
	io_uring_prep_write(sqe, FILE_EVIRQ, &one, sizeof(one), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
}

/* A TRANSPORT_RESET owed: into the driver's next event buffer, or, with
 * none posted, once it posts one (its kick). */
static void ev_service(struct vsock *v)
{
	if (!v->ev_pending || !v->ev_live || v->w.paused || !v->w.active)
		return;
	struct vq *q = &v->evq;
	for (;;) {
		vq_disable_notify(q);
		int r = virtio_pop(&v->vdev, q, &v->evchain);
		if (r < 0) {
			v->ev_live = false;
			v->ev_pending = false;
			return;
		}
		if (r == 0) {
			if (vq_enable_notify(q))
				continue;
			arm_evkick(v); /* wait for a buffer */
			return;
		}
		uint8_t ev[4] = {VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0}; /* le32 id */
		struct vq_cursor cur;
		vq_cursor_in(&cur, &v->evchain);
		uint32_t n = (uint32_t)vq_cursor_write(&cur, ev, sizeof(ev));
		if (virtio_push(&v->vdev, q, v->evchain.head, n) < 0) {
			v->ev_live = v->ev_pending = false;
			return;
		}
		if (n < sizeof(ev))
			continue; /* a buffer too short for it: the next one */
		v->ev_pending = false;
		/* The driver handles the event, then posts the buffer again:
		 * RX waits for that (no new connection may reach the guest
		 * before its reset). With more event buffers still posted (a
		 * Linux driver keeps 8), a driver kicks only once it adds past
		 * the index asked for: ask for the next one it adds. */
		v->ev_wait_ack = !vq_enable_notify_more(q);
		arm_evkick(v);
		if (vq_need_notify(q))
			ev_notify(v);
		return;
	}
}

/* c's deadline passed: the guest did not answer our REQUEST, or did not
 * end the connection after our SHUTDOWN, or the host peer stopped taking
 * what the guest sent before its SHUTDOWN. As Firecracker: RST to the
 * guest (it has one already in the last case), the host socket shut down,
 * what is left for it dropped; the slot is freed once that is done. A send
 * still waiting on a peer that does not read ends with the shutdown
 * (EPIPE: our side can send no more). */
static void conn_expire(struct vsock *v, struct vsock_conn *c)
{
	c->deadline = 0;
	if (c->s.state != VSOCK_CLOSING) {
		conn_close(v, c, true, false); /* counted as killed there */
		return;
	}
	if (c->added)
		vdev_count(&v->conns_killed, 1);
	c->flush = false;
	c->tx_len = 0;
	conn_progress(v, c);
}

/* Once the earliest deadline is due: resets every connection past its
 * own, and asks the timer for the next. Not while paused (nothing reaches
 * the guest then; the resume's kick comes here again). */
static void sweep(struct vsock *v)
{
	if (!v->next_deadline || v->w.paused || !v->w.active)
		return;
	uint64_t now = clock_mono_ns();
	if (now < v->next_deadline)
		return;
	uint64_t next = 0;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (!c->deadline)
			continue;
		if (c->deadline <= now)
			conn_expire(v, c);
		else if (!next || c->deadline < next)
			next = c->deadline;
	}
	v->next_deadline = next;
	if (next)
		vq_worker_timer(&v->w, next - now);
}

/* After every batch of events: deliver, submit, interrupt. */
static void service(struct vsock *v)
{
	sweep(v);
	ev_service(v);
	rx_service(v);
	io_uring_submit(&v->w.ring);
	if (v->rx_pushed && vq_need_notify(&v->rxq))
		virtio_notify_vq(&v->vdev, 0); /* rx */
	if (v->tx_pushed && vq_need_notify(&v->w.q))
		virtio_notify_vq(&v->vdev, v->w.qidx);
	v->rx_pushed = v->tx_pushed = false;
}

/* ---- completions ------------------------------------------------------------ */

static uint32_t pick_host_port(struct vsock *v, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = v->next_port++;
		if (v->next_port < VSOCK_FIRST_HOST_PORT)
			v->next_port = VSOCK_FIRST_HOST_PORT;
		if (!lookup(v, p, guest_port))
			return p;
	}
}

static void on_line(struct vsock *v, struct vsock_conn *c, int res)
{
	if (res <= 0) {
		conn_close(v, c, false, false); /* the client left or failed */
		return;
	}
	c->line_len += (size_t)res;
	uint32_t port;
	size_t used;
	int r = vsock_parse_connect(c->line, c->line_len, &port, &used);
	if (r < 0) {
		conn_close(v, c, false, false);
		return;
	}
	if (r == 0) {
		conn_progress(v, c); /* read on */
		return;
	}
	/* Bytes after the line are the first data for the guest. */
	c->rx_len = c->line_len - used;
	c->rx_off = 0;
	memcpy(c->rxb, c->line + used, c->rx_len);
	c->guest_port = port;
	c->host_port = pick_host_port(v, port);
	/* The "OK <host_port>\n" the client gets once the guest accepts
	 * shares the buffer with the guest's stream: keep its bytes out of
	 * the buf_alloc our REQUEST (and every later header) advertises. */
	c->s.reserved = (uint32_t)snprintf(NULL, 0, "OK %u\n", c->host_port);
	c->s.state = VSOCK_HOST_REQUEST;
	c->need_request = true;
	hash_add(v, c);
	c->added = true;
	vdev_count(&v->conns_added, 1);
	conn_progress(v, c);
}

static void on_recv(struct vsock *v, struct vsock_conn *c, int res)
{
	if (c->s.state == VSOCK_HOST_LINE) {
		on_line(v, c, res);
		return;
	}
	if (c->s.state != VSOCK_ESTABLISHED) {
		conn_progress(v, c);
		return;
	}
	if (res > 0) {
		c->rx_off = 0;
		c->rx_len = (size_t)res;
	} else if (res == 0) {
		c->host_eof = true;
	} else if (res != -EAGAIN && res != -EINTR && res != -ECANCELED) {
		vdev_count(&v->read_fails, 1);
		conn_close(v, c, true, false); /* the host end failed: reset the guest */
		return;
	}
	conn_progress(v, c);
}

static void on_send(struct vsock *v, struct vsock_conn *c, int res)
{
	bool live = c->s.state == VSOCK_ESTABLISHED || (c->s.state == VSOCK_CLOSING && c->flush);
	if (!live) {
		conn_progress(v, c);
		return;
	}
	if (res > 0) {
		size_t n = (size_t)res;
		size_t ok = n < c->ok_left ? n : c->ok_left;
		c->ok_left -= ok;
		c->s.cr.fwd_cnt += (uint32_t)(n - ok);
		vdev_count(&v->tx_bytes, n - ok);
		c->tx_head = (c->tx_head + n) % VSOCK_TX_BUF;
		c->tx_len -= n;
		/* Shutting down, and data still moves (a half-closed stream, a
		 * slow reader): its time runs from here. */
		if (c->deadline)
			conn_deadline(v, c, VSOCK_SHUTDOWN_TIMEOUT_MS);
	} else if (res != -EAGAIN && res != -EINTR) {
		/* The client went away (EPIPE): the guest's data has nowhere to go. */
		vdev_count(&v->write_fails, 1);
		if (c->s.state == VSOCK_CLOSING) {
			c->flush = false;
			c->tx_len = 0;
		} else {
			conn_close(v, c, true, false);
			return;
		}
	}
	conn_progress(v, c);
}

static void on_ctl(struct vsock *v, struct vsock_conn *c, enum ctl_op op, int res)
{
	switch (op) {
	case CTL_ACCEPT:
		v->accepting = false;
		if (res < 0) {
			c->s.state = VSOCK_FREE;
			if (res != -EAGAIN && res != -EINTR && res != -ECONNABORTED) {
				v->accept_errors++;
				v->accept_failed = true; /* do not spin on a failing listener */
			}
		} else {
			c->has_sock = true;
			c->s.state = VSOCK_HOST_LINE;
			conn_progress(v, c);
		}
		arm_accept(v);
		return;
	case CTL_SOCKET:
		if (res >= 0)
			c->has_sock = true;
		if (c->s.state == VSOCK_CLOSING)
			break;
		if (res < 0) {
			conn_close(v, c, true, false);
			return;
		} else {
			struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_CTL));
			if (!sqe) {
				conn_close(v, c, true, false);
				return;
			}
			io_uring_prep_connect(sqe, FILE_CONN(c->idx), (struct sockaddr *)&c->addr,
					      sizeof(c->addr));
			submit(v, sqe);
			c->ctl = CTL_CONNECT;
			return;
		}
	case CTL_CONNECT:
		if (c->s.state == VSOCK_CLOSING)
			break;
		if (res < 0) {
			conn_close(v, c, true, false); /* nothing listens at PATH_P */
			return;
		}
		c->s.state = VSOCK_ESTABLISHED;
		c->need_response = true;
		c->added = true;
		vdev_count(&v->conns_added, 1);
		break;
	case CTL_SHUT_RDWR:
		c->shut_done = true;
		break;
	case CTL_SHUT_WR:
	case CTL_NONE:
		break;
	}
	conn_progress(v, c);
}

static void vs_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct vsock *v = w->model;
	uint64_t t = io_uring_cqe_get_data64(cqe);
	if (t == TAG_EVKICK) {
		v->ev_reading = false;
		if (drop || cqe->res < 0)
			return;
		if (v->ev_wait_ack && !v->w.paused) /* a buffer back: acknowledged */
			v->ev_wait_ack = false;
		service(v);
		return;
	}
	if (t == TAG_RXKICK) {
		if (drop)
			return;
		vdev_count(&v->rx_kicks, 1);
		arm_rxkick(v);
		service(v);
		return;
	}
	unsigned idx = (unsigned)(t >> 8) - 1, kind = (unsigned)(t & 0xff);
	if (idx >= VSOCK_MAX_CONNS)
		return;
	struct vsock_conn *c = &v->conns[idx];
	switch (kind) {
	case K_RECV:
		c->recving = false;
		if (!drop)
			on_recv(v, c, cqe->res);
		break;
	case K_SEND:
		c->sending = false;
		if (!drop)
			on_send(v, c, cqe->res);
		break;
	case K_CTL: {
		enum ctl_op op = c->ctl;
		c->ctl = CTL_NONE;
		if (op == CTL_ACCEPT)
			v->accepting = false;
		if (!drop)
			on_ctl(v, c, op, cqe->res);
		break;
	}
	default: /* K_QUIESCE */
		break;
	}
	if (!drop)
		service(v);
}

static void vs_kick(struct vq_worker *w)
{
	struct vsock *v = w->model;
	if (!v->armed) { /* first kick after activation */
		v->armed = true;
		arm_rxkick(v);
		arm_accept(v);
	}
	tx_drain(v);
	service(v);
}

/* Cancels every request in flight on registered file `file`. */
static void cancel_file(struct vsock *v, int file)
{
	struct io_uring_sqe *sqe = sqe_on(v, WORKER_TAG_IGNORE);
	if (!sqe)
		return;
	io_uring_prep_cancel_fd(sqe, file, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
	sqe->flags |= IOSQE_FIXED_FILE; /* the ring's restrictions require it */
}

/* Reset or exit: cancel what waits, and end every socket (peers see EOF).
 * The cancels go file by file, each submitted ahead of that socket's
 * shutdown: a cancel acts when it is issued, so it cannot catch the
 * shutdown behind it. One "cancel any" did (a shutdown runs later, in
 * io-wq): the peers then never saw EOF; it also caught the worker's own
 * command and kick reads. */
static void vs_quiesce(struct vq_worker *w)
{
	struct vsock *v = w->model;
	cancel_file(v, FILE_RXKICK);
	cancel_file(v, FILE_EVKICK);
	cancel_file(v, FILE_LISTEN);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->s.state == VSOCK_FREE)
			continue;
		cancel_file(v, FILE_CONN(i));
		if (!c->has_sock)
			continue;
		struct io_uring_sqe *sqe = sqe_on(v, tag(c, K_QUIESCE));
		if (!sqe)
			break;
		io_uring_prep_shutdown(sqe, FILE_CONN(i), SHUT_RDWR);
		submit(v, sqe);
	}
	io_uring_submit(&w->ring);
}

/* A snapshot's pause: every I/O of the worker lands in the device's own
 * buffers (socket reads into a connection's, the kick reads into its own
 * words) or reads from them (sends); only the worker's own code touches the
 * rings, and not while paused (rx_service, ev_service; tx_drain runs from
 * kicks only). So nothing need end: the RX and event queues' positions are
 * recorded, and the connections go on on the host side until resumed. */
static bool vs_pause(struct vq_worker *w)
{
	struct vsock *v = w->model;
	if (w->active && !v->rx_dead)
		virtio_vq_record(&v->vdev, 0, &v->rxq);
	if (w->active && v->ev_live)
		virtio_vq_record(&v->vdev, 2, &v->evq);
	return true;
}

static const struct vq_worker_ops vsock_worker_ops = {
	.kick = vs_kick,
	.complete = vs_complete,
	.quiesce = vs_quiesce,
	.pause = vs_pause,
};

/* ---- transport hooks ------------------------------------------------------ */

/* struct virtio_vsock_config: the guest's CID. */
static void vsock_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct vsock *v = d->model;
	struct virtio_vsock_config cfg = {.guest_cid = htole64(v->cid)};
	virtio_config_copy(&cfg, sizeof(cfg), off, data, len);
}

/* The worker is idle (never started, or reset): forget every connection.
 * Their sockets were shut down by the quiesce; the slots are reused. */
static void vsock_forget(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->s.state != VSOCK_FREE)
			conn_release(v, c);
		c->recving = c->sending = false;
		c->ctl = CTL_NONE;
	}
	memset(v->hash, 0, sizeof(v->hash));
	memset(v->want, 0, sizeof(v->want));
	v->nrst = 0;
	v->next_deadline = 0;
	v->armed = v->accepting = v->accept_failed = false;
	v->ev_live = v->ev_pending = v->ev_wait_ack = v->ev_reading = false;
}

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock *v = d->model;
	if (!d->qcfg[0].ready || !d->qcfg[1].ready)
		return -EINVAL;
	const struct virtio_queue_cfg *c = &d->qcfg[0];
	bool event_idx = d->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (vq_init(&v->rxq, d->mem, c->num, c->desc, c->avail, c->used, event_idx) < 0)
		return -EINVAL;
	virtio_vq_place(d, 0, &v->rxq); /* a restore's positions */
	v->rx_dead = false;
	/* the event queue, if the driver set it up (it need not be served
	 * but for a restore's event) */
	const struct virtio_queue_cfg *ec = &d->qcfg[2];
	v->ev_live = ec->ready && vq_init(&v->evq, d->mem, ec->num, ec->desc, ec->avail, ec->used,
					  event_idx) == 0;
	if (v->ev_live)
		virtio_vq_place(d, 2, &v->evq);
	else
		v->ev_pending = false;
	vq_worker_activate(&v->w);
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

/* A reset does not wait for the sockets (their I/O is cancelled and they
 * are shut down, vs_quiesce); the connections are forgotten once the
 * worker is done with them. */
static void vsock_reset_start(struct virtio_dev *d)
{
	struct vsock *v = d->model;
	vq_worker_reset_start(&v->w);
}

static bool vsock_reset_done(struct virtio_dev *d, const struct timespec *until)
{
	struct vsock *v = d->model;
	if (!vq_worker_reset_wait(&v->w, until))
		return false;
	vsock_forget(v);
	return true;
}

static const struct virtio_dev_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset_start = vsock_reset_start,
	.reset_done = vsock_reset_done,
};

/* ---- setup ------------------------------------------------------------------ */

int vsock_open(struct vsock **out, const struct vsock_cfg *cfg, struct err *e)
{
	*out = NULL;
	if (cfg->guest_cid < VSOCK_MIN_GUEST_CID || cfg->guest_cid >= 0xffffffffULL)
		return err_set(e, EINVAL, "vsock: cid must be 3..4294967294, got %llu",
			       (unsigned long long)cfg->guest_cid);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	/* PATH_<port> must fit too. */
	if (!cfg->path || !*cfg->path || strlen(cfg->path) + 11 >= sizeof(a.sun_path))
		return err_set(e, EINVAL,
			       "vsock: socket path '%s' is empty or longer than %zu bytes",
			       cfg->path ? cfg->path : "", sizeof(a.sun_path) - 12);
	struct vsock *v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	v->listen_fd = v->rx_kick_fd = v->evt_kick_fd = -1;
	v->vdev.irqfd = -1;
	v->cid = cfg->guest_cid;
	v->next_port = VSOCK_FIRST_HOST_PORT;
	v->path = strdup(cfg->path);
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	v->arena_len = (size_t)VSOCK_MAX_CONNS * (VSOCK_TX_BUF + VSOCK_RX_BUF);
	v->arena = mmap(NULL, v->arena_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int r;
	if (!v->path || !v->conns || v->arena == MAP_FAILED) {
		if (v->arena == MAP_FAILED)
			v->arena = NULL;
		r = err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		v->conns[i].idx = i;
		v->conns[i].txb = v->arena + (size_t)i * (VSOCK_TX_BUF + VSOCK_RX_BUF);
		v->conns[i].rxb = v->conns[i].txb + VSOCK_TX_BUF;
	}
	memcpy(a.sun_path, cfg->path, strlen(cfg->path));
	struct stat st;
	if (lstat(cfg->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			r = err_set(e, EEXIST, "vsock: '%s' exists and is not a socket", cfg->path);
			goto fail;
		}
		/* A stale socket from an earlier run is replaced; a live one
		 * (another VM's) is not. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (probe >= 0)
			close(probe);
		if (live) {
			r = err_set(e, EADDRINUSE, "vsock: '%s' is in use by another process",
				    cfg->path);
			goto fail;
		}
		unlink(cfg->path);
	}
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0) {
		r = err_set(e, errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = err_set(e, errno, "vsock: cannot listen on '%s': %s", cfg->path,
			    strerror(errno));
		goto fail;
	}
	v->bound = true;
	if (listen(v->listen_fd, 128) < 0) {
		r = err_set(e, errno, "vsock: cannot listen on '%s': %s", cfg->path,
			    strerror(errno));
		goto fail;
	}
	*out = v;
	return 0;
fail:
	vsock_destroy(v);
	return r;
}

/* Its one worker serves TX and RX (and raises RX's interrupt): every
 * socket operation is an io_uring op, on registered files only: READ (its
 * eventfds, the RX queue's ioeventfd), ACCEPT and SOCKET (into an empty
 * slot), CONNECT (to PATH_P), RECV, SEND, SHUTDOWN (a finished
 * connection; reset), ASYNC_CANCEL (reset), TIMEOUT (vq_worker_timer:
 * the connections' deadlines). No CLOSE: it refuses IOSQE_FIXED_FILE (see
 * the top of this file). */
static const uint8_t vsock_uring_ops[] = {
	IORING_OP_RECV,		IORING_OP_SEND,	   IORING_OP_ACCEPT,
	IORING_OP_SOCKET,	IORING_OP_CONNECT, IORING_OP_SHUTDOWN,
	IORING_OP_ASYNC_CANCEL, IORING_OP_WRITE, /* the event queue's interrupt eventfd */
	IORING_OP_TIMEOUT,
};
static const struct vq_grant vsock_grants[] = {
	{.thread = "cvmm-vsock",
	 .jail = &vq_jail_worker,
	 VQ_GRANT_OPS(vsock_uring_ops),
	 .files = "the RX and event queues' ioeventfds, the listening socket, the event "
		  "queue's interrupt eventfd, empty slots (VSOCK_MAX_CONNS) the ring fills "
		  "itself"},
};

int vsock_start(struct vsock *v, const struct guest_mem *mem, const struct virtio_irqfds *irq,
		struct err *e)
{
	struct virtio_dev *d = &v->vdev;
	virtio_dev_setup(d, &vsock_ops, v, mem, irq, 3 /* RX, TX, event */, VSOCK_QUEUE_MAX, 0);
	v->started = true;
	v->rx_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->evt_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->rx_kick_fd < 0 || v->evt_kick_fd < 0)
		return err_set(e, errno, "eventfd: %s", strerror(errno));
	int fds[4] = {v->rx_kick_fd, v->listen_fd, v->evt_kick_fd, d->vq_irqfd[2]};
	struct vq_worker_cfg wc = {
		.ops = &vsock_worker_ops,
		.model = v,
		.grant = &vsock_grants[0],
		.dev_fds = fds,
		.ndev_fds = 4,
		.ring_entries = 256,
		.name = "cvmm-vsock",
		.sparse_files = VSOCK_MAX_CONNS,
		.also_notify = true, /* the RX queue's interrupt */
		.also_notify_q = 0,
	};
	v->worker_made = true;
	return vq_worker_create(&v->w, d, 1, &wc, e);
}

struct virtio_dev *vsock_vdev(struct vsock *v)
{
	return &v->vdev;
}

int vsock_kick_fd(struct vsock *v, unsigned q)
{
	return q == 0 ? v->rx_kick_fd : q == 1 ? v->w.kick_fd : v->evt_kick_fd;
}

unsigned vsock_queues(const struct vsock *v)
{
	(void)v;
	return 3;
}

int vsock_set_path(struct vsock *v, const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	free(v->path);
	v->path = p;
	return 0;
}

void vsock_destroy(struct vsock *v)
{
	if (!v)
		return;
	if (v->worker_made)
		vq_worker_destroy(&v->w);
	if (v->started) {
		pthread_mutex_destroy(&v->vdev.lock);
	}
	if (v->rx_kick_fd >= 0)
		close(v->rx_kick_fd);
	if (v->evt_kick_fd >= 0)
		close(v->evt_kick_fd);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->bound)
		unlink(v->path);
	if (v->arena)
		munmap(v->arena, v->arena_len);
	free(v->conns);
	free(v->path);
	free(v);
}

/* vsock_open with the index every kind's open takes (one vsock a VM). */
static int vsock_open_index(struct vsock **out, const struct vsock_cfg *cfg, unsigned index,
			    struct err *e)
{
	(void)index;
	return vsock_open(out, cfg, e);
}

static void vsock_metrics(const void *model, struct vdev_metrics *m)
{
	const struct vsock *v = model;
	struct vdev_vsock_metrics *o = &m->vsock;
	o->rx_packets_count = atomic_load(&v->rx_packets);
	o->rx_bytes_count = atomic_load(&v->rx_bytes);
	o->tx_packets_count = atomic_load(&v->tx_packets);
	o->tx_bytes_count = atomic_load(&v->tx_bytes);
	o->conns_added = atomic_load(&v->conns_added);
	o->conns_killed = atomic_load(&v->conns_killed);
	o->conns_removed = atomic_load(&v->conns_removed);
	o->rx_read_fails = atomic_load(&v->read_fails);
	o->tx_write_fails = atomic_load(&v->write_fails);
	o->rx_queue_event_count = atomic_load(&v->rx_kicks);
	o->tx_queue_event_count = atomic_load(&v->w.kicks);
}

/* Snapshot: section "virtio-vsock", the guest's CID (the restored VM's
 * must be the same: the guest's sockets are bound to it). No connection
 * is saved: the host ends of the saved process's are gone. After the
 * restore's activation the driver gets TRANSPORT_RESET on the event
 * queue: it resets its connected sockets and keeps its listeners (what
 * Firecracker does). */
enum { SNAP_VSOCK_CID = 1 };

static int vsock_save(void *m, struct snap_w *w, uint32_t inst, struct err *e)
{
	struct vsock *v = m;
	(void)e;
	snap_section(w, vsock_desc.name, inst);
	snap_u64(w, SNAP_VSOCK_CID, v->cid);
	return 0;
}

static int vsock_restore(void *m, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct vsock *v = m;
	struct snap_sec s;
	if (snap_find(r, vsock_desc.name, inst, &s) < 0)
		return err_set(e, ENOENT, "vsock: the state has no section %s/%u", vsock_desc.name,
			       inst);
	static const uint16_t known[] = {SNAP_VSOCK_CID};
	uint64_t cid;
	int rc;
	if ((rc = snap_check_known(&s, known, 1, e)) < 0 ||
	    (rc = snap_get_u64(&s, SNAP_VSOCK_CID, &cid, e)) < 0)
		return rc;
	if (cid != v->cid)
		return err_set(e, EINVAL, "vsock: guest CID %llu, the snapshot's %llu",
			       (unsigned long long)v->cid, (unsigned long long)cid);
	/* The worker is idle (never activated): ours to set. The activation
	 * that virtio_dev_restore makes sends it. */
	v->ev_pending = true;
	return 0;
}

VDEV_ADAPTERS(vsock, struct vsock, struct vsock_cfg, vsock_open_index)
const struct vdev_desc vsock_desc = {
	.save = vsock_save,
	.restore = vsock_restore,
	.name = "virtio-vsock",
	.metrics = vsock_metrics,
	.virtio_id = VIRTIO_ID_VSOCK,
	VDEV_ADAPTED(vsock),
	.grants = vsock_grants,
	.ngrants = sizeof(vsock_grants) / sizeof(vsock_grants[0]),
};
