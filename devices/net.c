/* SPDX-License-Identifier: MIT */
/* virtio-net (virtio 1.2, section 5.1). The device model's pure part is in
 * net_model.c (net_tx_iov, net_rx_deliver, net_ctrl_parse: unit-tested and
 * fuzzed); here are the workers that move frames between the queues and
 * the backend through io_uring, and the backend's setup (tap or stream).
 *
 * Queues: RX k = 2k, TX k = 2k + 1, control = 2 * pairs.
 * - TX: each chain is one frame behind a 12-byte header. A tap takes both
 *   as they are (writev straight from guest memory, several in flight); a
 *   stream peer gets a 4-byte big-endian length and the frame, one write at
 *   a time so that frames never interleave.
 * - RX: one read at a time into a bounce buffer (a tap gives one packet per
 *   read; a stream gives bytes that are cut into frames), then copied into
 *   as many posted buffers as the packet needs. When the driver has posted
 *   too few, the packet waits in the buffer and the worker stops reading
 *   until the driver kicks: nothing is dropped for want of buffers (the
 *   backend's own queue absorbs the rest) and nothing spins.
 * - control: MQ pair count (tap queues attached/detached to match), RX
 *   mode and MAC filter commands acknowledged. */
#include "devices/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the device ------------------------------------------------------------- */

struct net_tx_req {
	uint16_t head;
	unsigned niov;
	size_t left; /* stream: bytes still to write */
	uint8_t len_be[4];
	struct iovec iov[NET_TX_SEGS + 1];
	struct net_tx_req *next_free;
};

struct net_rxq {
	struct vq_worker w;
	struct net *n;
	unsigned pair;
	struct vq_chain chain;
	uint8_t *buf; /* tap: one packet; stream: bytes received */
	size_t cap, off, fill;
	bool reading, eof, stalled, pushed;
	uint64_t dropped;
};

struct net_txq {
	struct vq_worker w;
	struct net *n;
	unsigned pair;
	struct vq_chain chain;
	struct net_tx_req *free;
	struct net_tx_req *busy; /* stream: the write in flight */
	bool pushed;
	uint64_t errors;
	struct net_tx_req reqs[NET_QUEUE_MAX];
};

struct net_ctrlq {
	struct vq_worker w;
	struct net *n;
	struct vq_chain chain;
};

struct net {
	struct virtio_dev vdev;
	unsigned index, pairs;
	bool stream;
	int fds[NET_MAX_PAIRS]; /* tap queues, or the stream socket in [0] */
	unsigned nfds;
	uint8_t mac[6];
	bool ufo;               /* the tap takes TUN_F_UFO */
	atomic_uint active_pairs;
	atomic_bool link_up;
	atomic_int steer_errno; /* the control worker's first TUNSETQUEUE failure */
	struct net_rxq *rx[NET_MAX_PAIRS];
	struct net_txq *tx[NET_MAX_PAIRS];
	struct net_ctrlq *ctrl;
	unsigned nworkers; /* made so far, in queue order */
	bool started;
};

static const uint8_t zero_hdr[NET_HDR_LEN];
static const uint64_t eventfd_one = 1;

static bool has_feature(const struct net *n, unsigned bit)
{
	return n->vdev.driver_features & (1ULL << bit);
}

static void link_change(struct net *n, bool up)
{
	if (atomic_exchange(&n->link_up, up) == up)
		return;
	/* Not under the device lock: the transport may hold it while it waits
	 * for this worker (reset). */
	__atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_SEQ_CST);
	virtio_notify(&n->vdev, VIRTIO_INT_CONFIG);
}

/* ---- RX worker ---- */

static void rx_submit_read(struct net_rxq *rq)
{
	struct net *n = rq->n;
	if (rq->reading || rq->eof || rq->stalled || !rq->w.active ||
	    rq->pair >= atomic_load(&n->active_pairs))
		return;
	if (n->stream) {
		if (rq->off) { /* keep the partial frame at the start */
			memmove(rq->buf, rq->buf + rq->off, rq->fill - rq->off);
			rq->fill -= rq->off;
			rq->off = 0;
		}
		if (rq->fill == rq->cap)
			return; /* a whole frame is there: deliver it first */
	} else if (rq->fill) {
		return; /* the packet in the buffer waits for guest buffers */
	}
	struct io_uring_sqe *sqe = vq_worker_sqe(&rq->w);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, WORKER_FILE_DEV, rq->buf + rq->fill, (unsigned)(rq->cap - rq->fill),
			   (uint64_t)-1);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, rq);
	rq->w.inflight++;
	rq->reading = true;
}

/* The next whole packet in the buffer: 1 and its parts, 0 if none yet,
 * -1 when the stream is corrupt. */
static int rx_next(struct net_rxq *rq, const uint8_t **hdr, const uint8_t **data, size_t *len,
		   size_t *consumed)
{
	size_t have = rq->fill - rq->off;
	const uint8_t *p = rq->buf + rq->off;
	if (!rq->n->stream) {
		if (have == 0)
			return 0;
		*hdr = p;
		*data = p + NET_HDR_LEN;
		*len = have >= NET_HDR_LEN ? have - NET_HDR_LEN : 0;
		*consumed = have;
		return 1;
	}
	if (have < 4)
		return 0;
	uint32_t flen;
	memcpy(&flen, p, 4);
	flen = be32toh(flen);
	if (flen > NET_MAX_FRAME)
		return -1;
	if (have < 4 + (size_t)flen)
		return 0;
	*hdr = zero_hdr;
	*data = p + 4;
	*len = flen;
	*consumed = 4 + (size_t)flen;
	return 1;
}

static void rx_drain(struct net_rxq *rq)
{
	struct vq *q = &rq->w.q;
	bool mrg = has_feature(rq->n, VIRTIO_NET_F_MRG_RXBUF);
	vq_disable_notify(q);
	for (;;) {
		const uint8_t *hdr, *data;
		size_t len, used;
		int r = rx_next(rq, &hdr, &data, &len, &used);
		if (r < 0) { /* a peer that breaks the framing: hang up */
			rq->eof = true;
			link_change(rq->n, false);
			rq->off = rq->fill; /* drop it all */
			break;
		}
		if (r == 0)
			break;
		if (len < NET_MIN_FRAME) {
			r = -EMSGSIZE;
		} else {
			r = net_rx_deliver(q, &rq->chain, mrg, hdr, data, len);
		}
		if (r == 0) {
			/* Too few buffers for this packet (it gave back what it
			 * took): wait for a kick when the driver adds more,
			 * unless some came meanwhile. */
			if (vq_enable_notify_more(q)) {
				vq_disable_notify(q);
				continue;
			}
			break;
		}
		if (r == -EINVAL) {
			virtio_fail(&rq->n->vdev, q->why ? q->why : "broken RX queue");
			rq->w.active = false;
			return;
		}
		if (r == 1)
			rq->pushed = true;
		else
			rq->dropped++;
		rq->off += used;
		/* Rewind only with no read in flight: a stream read lands at
		 * buf + fill as it was when it was submitted. */
		if (rq->off == rq->fill && !rq->reading)
			rq->off = rq->fill = 0;
	}
	if (rq->pushed && vq_need_notify(q))
		virtio_notify_vq(&rq->n->vdev, rq->w.qidx);
	rq->pushed = false;
	rx_submit_read(rq);
}

static void rx_cancel(struct vq_worker *w)
{
	struct net_rxq *rq = w->model;
	if (rq->reading)
		vq_worker_cancel(w, rq);
}

static void rx_kick(struct vq_worker *w)
{
	struct net_rxq *rq = w->model;
	rq->stalled = false;
	if (rq->pair >= atomic_load(&rq->n->active_pairs))
		rx_cancel(w); /* the driver disabled this pair */
	rx_drain(rq); /* its read goes out with the worker's next wait */
}

static void rx_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct net_rxq *rq = w->model;
	rq->reading = false;
	if (drop) { /* reset: forget what was buffered */
		rq->off = rq->fill = 0;
		return;
	}
	int res = cqe->res;
	if (res > 0) {
		rq->fill += (size_t)res;
	} else if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
		/* read again below (or not, if the pair was disabled) */
	} else if (rq->n->stream) {
		rq->eof = true; /* the peer hung up (0) or the socket failed */
		link_change(rq->n, false);
	} else {
		/* A detached tap queue (-EBADFD) or a failing tap: stop reading
		 * until the next kick rather than spin on the error. */
		rq->stalled = true;
	}
	rx_drain(rq);
}

static const struct vq_worker_ops rx_ops = {
	.kick = rx_kick,
	.complete = rx_complete,
	.quiesce = rx_cancel,
};

/* ---- TX worker ---- */

static void tx_put(struct net_txq *tq, struct net_tx_req *r)
{
	r->next_free = tq->free;
	tq->free = r;
}

static void tx_done(struct net_txq *tq, struct net_tx_req *r)
{
	if (vq_push(&tq->w.q, r->head, 0) < 0)
		virtio_fail(&tq->n->vdev, "broken TX queue");
	tq->pushed = true;
	tx_put(tq, r);
}

static void tx_submit(struct net_txq *tq, struct net_tx_req *r)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(&tq->w);
	if (!sqe) {
		tq->errors++;
		tx_done(tq, r);
		return;
	}
	io_uring_prep_writev(sqe, WORKER_FILE_DEV, r->iov, r->niov, (uint64_t)-1);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, r);
	tq->w.inflight++;
}

static void tx_notify(struct net_txq *tq)
{
	if (tq->pushed && vq_need_notify(&tq->w.q))
		virtio_notify_vq(&tq->n->vdev, tq->w.qidx);
	tq->pushed = false;
}

static void tx_kick(struct vq_worker *w)
{
	struct net_txq *tq = w->model;
	struct net *n = tq->n;
	for (;;) {
		vq_disable_notify(&w->q);
		while (tq->free && !tq->busy) {
			int r = vq_worker_pop(w, &tq->chain);
			if (r < 0)
				return;
			if (r == 0)
				break;
			struct net_tx_req *req = tq->free;
			tq->free = req->next_free;
			req->head = tq->chain.head;
			size_t flen;
			unsigned skip = n->stream ? 1 : 0;
			int k = net_tx_iov(&tq->chain, !n->stream, !n->stream, req->iov + skip,
					   NET_TX_SEGS, &flen);
			if (k < 0 || !atomic_load(&n->link_up)) {
				tq->errors++;
				tx_done(tq, req);
				continue;
			}
			req->niov = (unsigned)k + skip;
			if (n->stream) {
				uint32_t be = htobe32((uint32_t)flen);
				memcpy(req->len_be, &be, 4);
				req->iov[0] = (struct iovec){ req->len_be, 4 };
				req->left = 4 + flen;
				tq->busy = req;
			}
			tx_submit(tq, req);
		}
		/* While writes are in flight their completions bring us back
		 * here: no kicks needed (each one is a VM exit) until the
		 * last one is done. */
		if (!tq->free || tq->busy || w->inflight || !vq_enable_notify(&w->q))
			break;
	}
	/* the writes go out with the worker's next wait */
	tx_notify(tq);
}

/* Drops the first n bytes of a request's iovecs (a short stream write). */
static void iov_advance(struct net_tx_req *r, size_t n)
{
	unsigned i = 0;
	while (i < r->niov && n >= r->iov[i].iov_len)
		n -= r->iov[i++].iov_len;
	memmove(r->iov, r->iov + i, (r->niov - i) * sizeof(r->iov[0]));
	r->niov -= i;
	if (r->niov) {
		r->iov[0].iov_base = (uint8_t *)r->iov[0].iov_base + n;
		r->iov[0].iov_len -= n;
	}
}

static void tx_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct net_txq *tq = w->model;
	struct net_tx_req *r = io_uring_cqe_get_data(cqe);
	if (drop) {
		tq->busy = NULL;
		tx_put(tq, r);
		return;
	}
	if (tq->n->stream) {
		if (cqe->res > 0 && (size_t)cqe->res < r->left) {
			r->left -= (size_t)cqe->res;
			iov_advance(r, (size_t)cqe->res);
			tx_submit(tq, r);
			io_uring_submit(&w->ring);
			return;
		}
		if (cqe->res == -EAGAIN || cqe->res == -EINTR) {
			tx_submit(tq, r);
			io_uring_submit(&w->ring);
			return;
		}
		if (cqe->res <= 0) {
			tq->errors++;
			link_change(tq->n, false);
		}
		tq->busy = NULL;
	} else if (cqe->res < 0) {
		tq->errors++; /* e.g. the tap is down: the frame is dropped */
	}
	tx_done(tq, r); /* the batch's flush notifies and refills */
}

static const struct vq_worker_ops tx_ops = {
	.kick = tx_kick,
	.complete = tx_complete,
	.flush = tx_kick, /* one notification per batch, then more frames */
};

/* ---- control worker ---- */

/* Attaches the tap queues of the first `pairs` pairs and detaches the
 * others, so that the kernel steers flows only to queues being read. */
static int tap_steer(struct net *n, unsigned pairs)
{
	int first = 0;
	for (unsigned i = 0; !n->stream && n->pairs > 1 && i < n->nfds; i++) {
		struct ifreq ifr = { .ifr_flags = i < pairs ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };
		/* EINVAL: already in that state. No message here: the control
		 * worker's filter has no write to stderr. */
		if (ioctl(n->fds[i], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL && !first)
			first = errno;
	}
	return first;
}

/* One control command: its ack, or -1 when the chain has no room for one. */
static int ctrl_command(struct vq_worker *w, struct net_ctrlq *cq)
{
	struct net *n = cq->n;
	unsigned pairs;
	int ack = net_ctrl_parse(&cq->chain, n->pairs, has_feature(n, VIRTIO_NET_F_MQ), &pairs);
	if (ack < 0)
		return -1;
	if (pairs) {
		int er = tap_steer(n, pairs);
		if (er)
			atomic_store(&n->steer_errno, er);
		atomic_store(&n->active_pairs, pairs);
		/* Wake every RX worker: newly enabled ones start reading,
		 * disabled ones cancel their read. */
		for (unsigned i = 0; i < n->pairs; i++) {
			struct io_uring_sqe *sqe = vq_worker_sqe(w);
			if (!sqe)
				break;
			io_uring_prep_write(sqe, WORKER_FILE_DEV + (int)i, &eventfd_one, 8, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, WORKER_TAG_IGNORE);
		}
	}
	return ack;
}

static void ctrl_kick(struct vq_worker *w)
{
	struct net_ctrlq *cq = w->model;
	struct net *n = cq->n;
	bool pushed = false;
	for (;;) {
		vq_disable_notify(&w->q);
		for (;;) {
			int r = vq_worker_pop(w, &cq->chain);
			if (r < 0)
				return;
			if (r == 0)
				break;
			int ack = ctrl_command(w, cq);
			if (ack < 0) {
				w->q.broken = true;
				virtio_fail(&n->vdev, "control command without an ack byte");
				w->active = false;
				return;
			}
			struct vq_cursor cur;
			vq_cursor_in(&cur, &cq->chain);
			uint8_t a = (uint8_t)ack;
			vq_cursor_write(&cur, &a, 1);
			if (vq_push(&w->q, cq->chain.head, 1) < 0) {
				virtio_fail(&n->vdev, "broken control queue");
				w->active = false;
				return;
			}
			pushed = true;
		}
		/* Re-enable kicks, then look again: a command queued meanwhile
		 * came without one. */
		if (!vq_enable_notify(&w->q))
			break;
	}
	io_uring_submit(&w->ring);
	if (pushed && vq_need_notify(&w->q))
		virtio_notify_vq(&n->vdev, w->qidx);
}

static void ctrl_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	(void)w;
	(void)cqe;
	(void)drop;
}

static const struct vq_worker_ops ctrl_ops = {
	.kick = ctrl_kick,
	.complete = ctrl_complete,
};

/* ---- transport hooks ---- */

/* struct virtio_net_config: mac, status, max_virtqueue_pairs. */
static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct net *n = d->model;
	uint8_t cfg[12] = { 0 };
	memcpy(cfg, n->mac, 6);
	uint16_t st = htole16(atomic_load(&n->link_up) ? VIRTIO_NET_S_LINK_UP : 0);
	memcpy(cfg + 6, &st, 2);
	uint16_t p = htole16((uint16_t)n->pairs);
	memcpy(cfg + 8, &p, 2);
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
}

static unsigned tap_offloads(const struct net *n)
{
	unsigned o = 0;
	if (!has_feature(n, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o |= TUN_F_CSUM;
	if (has_feature(n, VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (has_feature(n, VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((o & (TUN_F_TSO4 | TUN_F_TSO6)) && has_feature(n, VIRTIO_NET_F_GUEST_ECN))
		o |= TUN_F_TSO_ECN;
	if (n->ufo && has_feature(n, VIRTIO_NET_F_GUEST_UFO))
		o |= TUN_F_UFO;
	return o;
}

static int net_activate(struct virtio_dev *d)
{
	struct net *n = d->model;
	if (!d->qcfg[0].ready || !d->qcfg[1].ready)
		return -EINVAL;
	/* What the tap may hand us is what the driver accepts (GUEST_*). */
	if (!n->stream && ioctl(n->fds[0], TUNSETOFFLOAD, tap_offloads(n)) < 0)
		fprintf(stderr, "cvmm: net%u: TUNSETOFFLOAD: %s\n", n->index, strerror(errno));
	atomic_store(&n->active_pairs, 1);
	int er = tap_steer(n, 1);
	if (er)
		fprintf(stderr, "cvmm: net%u: TUNSETQUEUE: %s\n", n->index, strerror(er));
	for (unsigned i = 0; i < 2 * n->pairs; i++)
		if (d->qcfg[i].ready)
			vq_worker_activate(i % 2 ? &n->tx[i / 2]->w : &n->rx[i / 2]->w);
	if (n->ctrl && d->qcfg[2 * n->pairs].ready)
		vq_worker_activate(&n->ctrl->w);
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

/* A reset does not wait for the backend: a TX write to a full socket or
 * tap (a peer that reads nothing) may never end, and the vCPU that asked
 * must not wait with it. RX reads are cancelled (rx_cancel). */
static void net_reset_start(struct virtio_dev *d)
{
	struct net *n = d->model;
	for (unsigned i = 0; i < n->pairs; i++) {
		vq_worker_reset_start(&n->rx[i]->w);
		vq_worker_reset_start(&n->tx[i]->w);
	}
	if (n->ctrl)
		vq_worker_reset_start(&n->ctrl->w);
}

static bool net_reset_done(struct virtio_dev *d, const struct timespec *until)
{
	struct net *n = d->model;
	for (unsigned i = 0; i < n->pairs; i++)
		if (!vq_worker_reset_wait(&n->rx[i]->w, until) ||
		    !vq_worker_reset_wait(&n->tx[i]->w, until))
			return false;
	if (n->ctrl && !vq_worker_reset_wait(&n->ctrl->w, until))
		return false;
	atomic_store(&n->active_pairs, 1);
	return true;
}

static const struct virtio_dev_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset_start = net_reset_start,
	.reset_done = net_reset_done,
};

/* ---- backends ---- */

static int tap_prepare(struct net *n, int fd, const char *what, struct err *e)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return err_set(e, EINVAL, "%s is not a tap device (TUNGETIFF: %s)", what,
			       strerror(errno));
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR))
		return err_set(e, EINVAL, "%s: the tap must be opened with IFF_TAP, IFF_NO_PI and "
					  "IFF_VNET_HDR", what);
	int sz = NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return err_set(e, errno, "%s: TUNSETVNETHDRSZ: %s", what, strerror(errno));
	/* Which offloads the tap takes; none until the driver says. */
	unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	n->ufo = ioctl(fd, TUNSETOFFLOAD, all | TUN_F_UFO) == 0;
	if (!n->ufo && ioctl(fd, TUNSETOFFLOAD, all) < 0)
		return err_set(e, errno, "%s: the tap refuses checksum/TSO offloads: %s", what,
			       strerror(errno));
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		return err_set(e, errno, "%s: TUNSETOFFLOAD: %s", what, strerror(errno));
	return 0;
}

static int tap_open(struct net *n, const struct net_cfg *cfg, struct err *e)
{
	if (!cfg->target || !*cfg->target || strlen(cfg->target) >= IFNAMSIZ)
		return err_set(e, EINVAL, "tap name '%s' is empty or longer than %d bytes",
			       cfg->target ? cfg->target : "", IFNAMSIZ - 1);
	for (unsigned i = 0; i < n->pairs; i++) {
		/* O_NONBLOCK: see tapfd_open */
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return err_set(e, errno, "cannot open /dev/net/tun: %s", strerror(errno));
		n->fds[n->nfds++] = fd;
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->target);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (n->pairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int er = errno;
			if (er == EPERM)
				return err_set(e, er, "cannot open or create tap '%s': permission denied "
						      "(creating one needs CAP_NET_ADMIN; a persistent tap "
						      "must be owned by this user)", cfg->target);
			if (er == EINVAL)
				return err_set(e, er, "tap '%s' exists with other flags (%s)",
					       cfg->target,
					       n->pairs > 1 ? "queues= needs a multi_queue tap"
							    : "it is multi_queue: pass queues=");
			if (er == EBUSY)
				return err_set(e, er, "tap '%s' is in use by another process",
					       cfg->target);
			return err_set(e, er, "cannot open tap '%s': %s", cfg->target, strerror(er));
		}
		char what[64];
		snprintf(what, sizeof(what), "tap '%s'", cfg->target);
		int r = tap_prepare(n, fd, what, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int tapfd_open(struct net *n, const struct net_cfg *cfg, char *ifname, struct err *e)
{
	struct stat st;
	if (cfg->fd < 0 || fstat(cfg->fd, &st) < 0)
		return err_set(e, EBADF, "tapfd=%d is not an open file descriptor", cfg->fd);
	int fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return err_set(e, errno, "tapfd=%d: %s", cfg->fd, strerror(errno));
	n->fds[n->nfds++] = fd;
	/* O_NONBLOCK: io_uring issues reads and writes of a tap inline only
	 * when the file is non-blocking (a tap has no FMODE_NOWAIT); a read
	 * with nothing to read then waits on the tap's poll, a write goes
	 * straight through. Without it every request is handed to an io-wq
	 * thread: a thread switch per frame (bench/run measured 2,000 frames/s
	 * against QEMU's 34,000). */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return err_set(e, errno, "tapfd=%d: cannot make it non-blocking: %s", cfg->fd,
			       strerror(errno));
	char what[32];
	snprintf(what, sizeof(what), "tapfd=%d", cfg->fd);
	int r = tap_prepare(n, fd, what, e);
	if (r < 0)
		return r;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) == 0)
		snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!path || !*path || strlen(path) >= sizeof(a->sun_path))
		return err_set(e, EINVAL, "socket path '%s' is empty or longer than %zu bytes",
			       path ? path : "", sizeof(a->sun_path) - 1);
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

/* A terminating signal the caller blocked (the CLI blocks them for its
 * signalfd) ends the wait for a peer. */
static bool stop_pending(void)
{
	sigset_t p;
	if (sigpending(&p) < 0)
		return false;
	return sigismember(&p, SIGINT) || sigismember(&p, SIGTERM) || sigismember(&p, SIGHUP);
}

static int stream_open(struct net *n, const struct net_cfg *cfg, bool listen_mode, struct err *e)
{
	struct sockaddr_un a;
	int r = unix_addr(cfg->target, &a, e);
	if (r < 0)
		return r;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(e, errno, "socket: %s", strerror(errno));
	if (!listen_mode) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int er = errno;
			close(s);
			return err_set(e, er, "cannot connect to '%s': %s", cfg->target, strerror(er));
		}
		n->fds[n->nfds++] = s;
		return 0;
	}
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		int er = errno;
		close(s);
		return err_set(e, er, "cannot listen on '%s': %s", cfg->target, strerror(er));
	}
	fprintf(stderr, "cvmm: net%u: waiting for a peer on %s\n", n->index, cfg->target);
	int c = -1;
	while (c < 0) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		int pr = poll(&p, 1, 200);
		if (pr < 0 && errno != EINTR)
			break;
		if (stop_pending()) {
			errno = EINTR;
			break;
		}
		if (pr > 0)
			c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0 && pr > 0 && errno != EINTR && errno != ECONNABORTED)
			break;
	}
	int er = errno;
	close(s);
	unlink(cfg->target); /* one peer: nobody else may connect */
	if (c < 0)
		return err_set(e, er, "no peer connected to '%s': %s", cfg->target, strerror(er));
	n->fds[n->nfds++] = c;
	return 0;
}

int net_open(struct net **out, const struct net_cfg *cfg, unsigned index, struct err *e)
{
	*out = NULL;
	bool stream = cfg->backend == NET_STREAM || cfg->backend == NET_STREAM_LISTEN;
	unsigned pairs = cfg->pairs ? cfg->pairs : 1;
	if (pairs > NET_MAX_PAIRS || (pairs > 1 && cfg->backend != NET_TAP))
		return err_set(e, EINVAL, "net%u: queues=1..%d, and more than 1 only with tap=",
			       index, NET_MAX_PAIRS);
	struct net *n = calloc(1, sizeof(*n));
	if (!n)
		return err_set(e, ENOMEM, "out of memory");
	n->index = index;
	n->pairs = pairs;
	n->stream = stream;
	char ifname[IFNAMSIZ] = "";
	int r;
	switch (cfg->backend) {
	case NET_TAP:
		r = tap_open(n, cfg, e);
		break;
	case NET_TAPFD:
		r = tapfd_open(n, cfg, ifname, e);
		break;
	case NET_STREAM:
	case NET_STREAM_LISTEN:
		r = stream_open(n, cfg, cfg->backend == NET_STREAM_LISTEN, e);
		break;
	default:
		r = err_set(e, EINVAL, "net%u: unknown backend", index);
	}
	if (r < 0) {
		net_destroy(n);
		return r;
	}
	if (cfg->has_mac) {
		memcpy(n->mac, cfg->mac, 6);
	} else {
		char seed[160];
		/* The two ends of a stream share its path: the listener and
		 * the connector must not get the same address. */
		static const char *const kind[] = { [NET_TAP] = "tap", [NET_TAPFD] = "tap",
						    [NET_STREAM] = "stream",
						    [NET_STREAM_LISTEN] = "stream-listen" };
		snprintf(seed, sizeof(seed), "%s:%s", kind[cfg->backend],
			 cfg->backend == NET_TAPFD ? ifname : cfg->target);
		net_default_mac(seed, index, n->mac);
	}
	atomic_store(&n->link_up, true);
	atomic_store(&n->active_pairs, 1);
	*out = n;
	return 0;
}

/* Its workers: RX reads the tap queue (or socket) and cancels its own
 * pending read when the driver disables its pair or resets; TX writes it;
 * the control queue's worker attaches and detaches tap queues (its table)
 * and wakes the RX workers through their kick eventfds. */
enum { NET_GRANT_RX, NET_GRANT_TX, NET_GRANT_CTRL };
static const uint8_t net_rx_uring_ops[] = { IORING_OP_ASYNC_CANCEL };
static const uint8_t net_tx_uring_ops[] = { IORING_OP_WRITEV };
static const uint8_t net_ctrl_uring_ops[] = { IORING_OP_WRITE };
static const struct vq_grant net_grants[] = {
	[NET_GRANT_RX] = { .thread = "cvmm-net<N>-rx<P>",
			   .jail = JAIL_VIRTIO_WORKER,
			   VQ_GRANT_OPS(net_rx_uring_ops),
			   .files = "its pair's tap queue (or the socket)" },
	[NET_GRANT_TX] = { .thread = "cvmm-net<N>-tx<P>",
			   .jail = JAIL_VIRTIO_WORKER,
			   VQ_GRANT_OPS(net_tx_uring_ops),
			   .files = "its pair's tap queue (or the socket)" },
	[NET_GRANT_CTRL] = { .thread = "cvmm-net<N>-ctl",
			     .jail = JAIL_NET_CTRL,
			     VQ_GRANT_OPS(net_ctrl_uring_ops),
			     .files = "the RX workers' kick eventfds" },
};

int net_start(struct net *n, const struct guest_mem *mem, const struct virtio_irqfds *irq,
	     struct err *e)
{
	struct virtio_dev *d = &n->vdev;
	virtio_dev_setup(d, &net_ops, n, mem, irq, 2 * n->pairs + 1, NET_QUEUE_MAX,
			 (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_CTRL_VQ));
	if (!n->stream) {
		d->features |= (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
			       (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
			       (1ULL << VIRTIO_NET_F_GUEST_ECN) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |
			       (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN);
		if (n->ufo)
			d->features |= (1ULL << VIRTIO_NET_F_GUEST_UFO) |
				       (1ULL << VIRTIO_NET_F_HOST_UFO);
	}
	if (n->pairs > 1)
		d->features |= 1ULL << VIRTIO_NET_F_MQ;
	n->started = true;
	for (unsigned p = 0; p < n->pairs; p++) {
		n->rx[p] = calloc(1, sizeof(*n->rx[p]));
		n->tx[p] = calloc(1, sizeof(*n->tx[p]));
		if (!n->rx[p] || !n->tx[p])
			return err_set(e, ENOMEM, "out of memory");
		struct net_rxq *rq = n->rx[p];
		struct net_txq *tq = n->tx[p];
		rq->n = tq->n = n;
		rq->pair = tq->pair = p;
		rq->cap = n->stream ? 2 * (4 + (size_t)NET_MAX_FRAME) : NET_HDR_LEN + NET_MAX_FRAME;
		rq->buf = malloc(rq->cap);
		if (!rq->buf)
			return err_set(e, ENOMEM, "out of memory");
		for (unsigned k = 0; k < NET_QUEUE_MAX; k++)
			tx_put(tq, &tq->reqs[k]);
		int fd = n->fds[n->stream ? 0 : p];
		char name[32];
		snprintf(name, sizeof(name), "cvmm-net%u-rx%u", n->index, p);
		struct vq_worker_cfg wc = {
			.ops = &rx_ops,
			.model = rq,
			.grant = &net_grants[NET_GRANT_RX],
			.dev_fds = &fd,
			.ndev_fds = 1,
			.ring_entries = 16,
			.name = name,
		};
		int r = vq_worker_create(&rq->w, d, 2 * p, &wc, e);
		n->nworkers++;
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "cvmm-net%u-tx%u", n->index, p);
		wc.ops = &tx_ops;
		wc.model = tq;
		wc.grant = &net_grants[NET_GRANT_TX];
		wc.ring_entries = 2 * NET_QUEUE_MAX;
		r = vq_worker_create(&tq->w, d, 2 * p + 1, &wc, e);
		n->nworkers++;
		if (r < 0)
			return r;
	}
	n->ctrl = calloc(1, sizeof(*n->ctrl));
	if (!n->ctrl)
		return err_set(e, ENOMEM, "out of memory");
	n->ctrl->n = n;
	int kicks[NET_MAX_PAIRS];
	for (unsigned p = 0; p < n->pairs; p++)
		kicks[p] = n->rx[p]->w.kick_fd;
	char name[32];
	snprintf(name, sizeof(name), "cvmm-net%u-ctl", n->index);
	struct vq_worker_cfg wc = {
		.ops = &ctrl_ops,
		.model = n->ctrl,
		.grant = &net_grants[NET_GRANT_CTRL],
		.dev_fds = kicks,
		.ndev_fds = n->pairs,
		.ring_entries = 32,
		.name = name,
	};
	int r = vq_worker_create(&n->ctrl->w, d, 2 * n->pairs, &wc, e);
	n->nworkers++;
	return r;
}

struct virtio_dev *net_vdev(struct net *n)
{
	return &n->vdev;
}

int net_kick_fd(struct net *n, unsigned q)
{
	if (q == 2 * n->pairs)
		return n->ctrl->w.kick_fd;
	return q % 2 ? n->tx[q / 2]->w.kick_fd : n->rx[q / 2]->w.kick_fd;
}

unsigned net_queues(const struct net *n)
{
	return 2 * n->pairs + 1;
}

void net_mac(const struct net *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
}

void net_destroy(struct net *n)
{
	if (!n)
		return;
	int er = atomic_load(&n->steer_errno);
	if (er)
		fprintf(stderr, "cvmm: net%u: attaching/detaching tap queues failed: %s\n",
			n->index, strerror(er));
	if (n->started) {
		unsigned made = 0;
		for (unsigned p = 0; p < n->pairs; p++) {
			if (made++ < n->nworkers)
				vq_worker_destroy(&n->rx[p]->w);
			if (made++ < n->nworkers)
				vq_worker_destroy(&n->tx[p]->w);
		}
		if (n->ctrl && made < n->nworkers)
			vq_worker_destroy(&n->ctrl->w);
		pthread_mutex_destroy(&n->vdev.lock);
	}
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
		if (n->rx[p])
			free(n->rx[p]->buf);
		free(n->rx[p]);
		free(n->tx[p]);
	}
	free(n->ctrl);
	for (unsigned i = 0; i < n->nfds; i++)
		close(n->fds[i]);
	free(n);
}

VDEV_ADAPTERS(net, struct net, struct net_cfg, net_open)
const struct vdev_desc net_desc = {
	.name = "virtio-net",
	.virtio_id = VIRTIO_ID_NET,
	VDEV_ADAPTED(net),
	.grants = net_grants,
	.ngrants = sizeof(net_grants) / sizeof(net_grants[0]),
};
