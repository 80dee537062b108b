/* SPDX-License-Identifier: MIT */
/* virtio-net (virtio 1.2, section 5.1). The device model's pure part is in
 * net_model.c (net_tx_iov, net_rx_deliver, net_ctrl_parse: unit-tested and
 * fuzzed); here are the workers that move frames between the queues and
 * the backend through io_uring. The backend is one of net_backend.h's ops
 * tables (net_tap.c, net_stream.c), chosen at open; nothing here names
 * one.
 *
 * Queues: RX k = 2k, TX k = 2k + 1, control = 2 * pairs.
 * - TX: each chain is one frame behind a 12-byte header, written as the
 *   backend prepared it (tx_prepare), several writes in flight or, for a
 *   tx_serial backend, one at a time.
 * - RX: a tap: several reads in flight, each into its own bounce buffer
 *   (a slot) holding one packet; a stream: one read at a time into one
 *   buffer, cut into packets by the backend (rx_next). Each packet is
 *   copied into as many posted buffers as it needs, in the order the
 *   backend gave them, all that one wake-up of the worker brought before
 *   one interrupt decision. When the driver has posted too few, the packet
 *   waits in its buffer and the worker stops reading once its buffers are
 *   full, until the driver kicks: nothing is dropped for want of buffers
 *   (the backend's own queue absorbs the rest) and nothing spins.
 * - control: MQ pair count (the backend steers to match), RX mode and MAC
 *   filter commands acknowledged. */
#include "devices/net.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/snap.h"
#include "devices/net_backend.h"

/* ---- the device ------------------------------------------------------------- */

static const uint64_t eventfd_one = 1;

void net_link_change(struct net *n, bool up)
{
	if (atomic_exchange(&n->link_up, up) == up)
		return;
	/* Not under the device lock: the transport may hold it while it waits
	 * for this worker (reset). */
	__atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_SEQ_CST);
	virtio_notify(&n->vdev, VIRTIO_INT_CONFIG);
}

/* ---- RX worker ---- */

/* Whether reads may go out at all now. */
static bool rx_may_read(struct net_rxq *rq)
{
	return !rq->eof && !rq->stalled && rq->w.active && !rq->w.paused && !rq->limit_since &&
	       rq->pair < atomic_load(&rq->n->active_pairs);
	/* (throttled: what is not read waits in the backend) */
}

/* A packet-per-read backend: reads into free slots, `depth` of them,
 * once none is in flight. Those the backend has packets for complete at
 * once (the worker's next wait submits them all in one system call); the
 * others wait for the next packet. While one waits, no more go out: every
 * read waiting on the tap is woken by each packet and all but one find
 * nothing (on Linux 6.1 they then end in -EAGAIN through an io-wq thread),
 * so only a read that came back with a packet makes room for more. */
static void rx_submit_slots(struct net_rxq *rq)
{
	size_t cap = rq->n->be->rx_cap;
	if (rq->reads_out)
		return;
	for (unsigned i = 0; i < rq->nslots && rq->reads_out < rq->depth; i++) {
		struct net_rx_slot *s = &rq->slot[i];
		if (s->state != NET_SLOT_FREE)
			continue;
		struct io_uring_sqe *sqe = vq_worker_sqe(&rq->w);
		if (!sqe)
			return;
		io_uring_prep_read(sqe, WORKER_FILE_DEV, s->buf, (unsigned)cap, (uint64_t)-1);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data(sqe, s);
		s->state = NET_SLOT_READING;
		rq->reads_out++;
		rq->w.inflight++;
	}
}

static void rx_submit_read(struct net_rxq *rq)
{
	if (!rx_may_read(rq))
		return;
	if (rq->nslots) {
		rx_submit_slots(rq);
		return;
	}
	if (rq->reading || !rq->n->be->rx_room(rq))
		return; /* what is there waits for guest buffers */
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

/* The next packet waiting to be delivered: 1 and its parts (consumed: its
 * bytes in a stream's buffer), 0 if none, -1 when a stream peer broke the
 * framing. */
static int rx_peek(struct net_rxq *rq, const uint8_t **hdr, const uint8_t **data, size_t *len,
		   size_t *consumed)
{
	if (!rq->nslots)
		return rq->n->be->rx_next(rq, hdr, data, len, consumed);
	if (!rq->nready)
		return 0;
	const struct net_rx_slot *s = &rq->slot[rq->ready[rq->ready_head]];
	*hdr = s->buf;
	*data = s->buf + NET_HDR_LEN;
	*len = s->len >= NET_HDR_LEN ? s->len - NET_HDR_LEN : 0;
	*consumed = s->len;
	return 1;
}

/* The packet rx_peek gave is done with (delivered or dropped). */
static void rx_pop(struct net_rxq *rq, size_t consumed)
{
	if (rq->nslots) {
		rq->slot[rq->ready[rq->ready_head]].state = NET_SLOT_FREE;
		rq->ready_head = (rq->ready_head + 1) % NET_RX_SLOTS;
		rq->nready--;
		return;
	}
	rq->off += consumed;
	/* Rewind only with no read in flight: a read lands at buf + fill as
	 * it was when it was submitted. */
	if (rq->off == rq->fill && !rq->reading)
		rq->off = rq->fill = 0;
}

/* Forgets every packet read and not delivered (a reset, a broken stream). */
static void rx_forget(struct net_rxq *rq)
{
	rq->off = rq->fill = 0;
	rq->paid = false;
	for (; rq->nready; rq->nready--) {
		rq->slot[rq->ready[rq->ready_head]].state = NET_SLOT_FREE;
		rq->ready_head = (rq->ready_head + 1) % NET_RX_SLOTS;
	}
}

/* Delivers what was read, in order, into the guest's buffers, then raises
 * at most one interrupt for all of it (EVENT_IDX's used_event looked at
 * once, for the whole batch) and reads on. */
static void rx_drain(struct net_rxq *rq)
{
	struct vq *q = &rq->w.q;
	if (rq->w.paused)
		return; /* what was read waits in the buffer until the resume's kick */
	bool mrg = net_has_feature(rq->n, VIRTIO_NET_F_MRG_RXBUF);
	vq_disable_notify(q);
	vq_hold_used(q); /* the driver sees the batch whole: one used->idx store */
	for (;;) {
		const uint8_t *hdr, *data;
		size_t len, used;
		int r = rx_peek(rq, &hdr, &data, &len, &used);
		if (r < 0) { /* a peer that breaks the framing: hang up */
			rq->eof = true;
			net_link_change(rq->n, false);
			rq->off = rq->fill; /* drop it all */
			break;
		}
		if (r == 0)
			break;
		if (len < NET_MIN_FRAME) {
			r = -EMSGSIZE;
		} else if (!rq->paid && !vq_limit(&rq->n->limit[0], &rq->w, NET_HDR_LEN + len, 1,
						  &rq->limit_since)) {
			break; /* it waits in the buffer for the limiter's timer */
		} else {
			rq->paid = true; /* (once: it may wait for buffers next) */
			r = net_rx_deliver(q, &rq->chain, mrg, hdr, data, len);
			rq->paid = r == 0;
		}
		if (r == 0) {
			/* Too few buffers for this packet (it gave back what it
			 * took): wait for a kick when the driver adds more,
			 * unless some came meanwhile. */
			if (vq_enable_notify_more(q)) {
				vq_disable_notify(q);
				continue;
			}
			vdev_count(&rq->waits, 1);
			break;
		}
		if (r == -EINVAL) {
			virtio_fail(&rq->n->vdev, q->why); /* net_rx_deliver's pop or push */
			rq->w.active = false;
			return;
		}
		if (r == 1) {
			rq->pushed = true;
			vdev_count(&rq->packets, 1);
			vdev_count(&rq->bytes, NET_HDR_LEN + len);
		} else {
			vdev_count(&rq->dropped, 1);
		}
		rx_pop(rq, used);
	}
	/* MMDS's answers (net_mmds.c), between the backend's packets */
	if (rq->n->mmds && rq->pair == 0 && net_mmds_rx(rq) == -EINVAL) {
		virtio_fail(&rq->n->vdev, q->why);
		rq->w.active = false;
		return;
	}
	vq_publish_used(q);
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
	for (unsigned i = 0; i < rq->nslots; i++)
		if (rq->slot[i].state == NET_SLOT_READING)
			vq_worker_cancel(w, &rq->slot[i]);
}

static void rx_kick(struct vq_worker *w)
{
	struct net_rxq *rq = w->model;
	rq->stalled = false;
	if (rq->pair >= atomic_load(&rq->n->active_pairs))
		rx_cancel(w); /* the driver disabled this pair */
	rx_drain(rq);	      /* its reads go out with the worker's next wait */
}

/* A read ended: its bytes are recorded here, and delivered once the
 * worker handled every completion its ring had (rx_flush), so that a
 * wake-up that brings several packets delivers them as one batch. */
static void rx_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct net_rxq *rq = w->model;
	struct net_rx_slot *s = NULL;
	if (rq->nslots) {
		s = io_uring_cqe_get_data(cqe);
		s->state = NET_SLOT_FREE;
		rq->reads_out--;
	} else {
		rq->reading = false;
	}
	if (drop) { /* reset: forget what was buffered */
		rx_forget(rq);
		return;
	}
	int res = cqe->res;
	if (res > 0) {
		if (s) {
			s->len = (size_t)res;
			s->state = NET_SLOT_READY;
			rq->ready[(rq->ready_head + rq->nready++) % NET_RX_SLOTS] =
				(uint8_t)(s - rq->slot);
			rq->got++;
		} else {
			rq->fill += (size_t)res;
		}
		vdev_count(&rq->reads, 1);
	} else if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
		/* read again (or not, if the pair was disabled) */
	} else {
		if (res < 0)
			vdev_count(&rq->read_fails, 1);
		rq->n->be->rx_failed(rq); /* end of file, or an error */
	}
}

/* After each batch of completions: deliver them, one interrupt at most,
 * and read again: twice as many reads as the batch brought packets (at
 * least one, at most every slot), so that a busy tap is read until it is
 * empty in a few rounds and an idle one has one read waiting. */
static void rx_flush(struct vq_worker *w)
{
	struct net_rxq *rq = w->model;
	if (rq->nslots) {
		unsigned want = 2 * rq->got;
		rq->depth = want < 1 ? 1 : want > rq->nslots ? rq->nslots : want;
		rq->got = 0;
	}
	rx_drain(rq);
}

/* A snapshot's pause: the reads RX has in flight land in its own buffers,
 * and nothing is delivered from there while paused (rx_drain), so they
 * need not end (a tap may stay silent for good). */
static bool rx_pause(struct vq_worker *w)
{
	(void)w;
	return true;
}

static const struct vq_worker_ops rx_ops = {
	.kick = rx_kick,
	.complete = rx_complete,
	.flush = rx_flush,
	.quiesce = rx_cancel,
	.pause = rx_pause,
};

/* ---- TX worker ---- */

static void tx_put(struct net_txq *tq, struct net_tx_req *r)
{
	r->next_free = tq->free;
	tq->free = r;
}

/* A frame is done with: its chain goes to the used ring, whose index the
 * driver sees once for the batch (tx_notify). */
static void tx_done(struct net_txq *tq, struct net_tx_req *r)
{
	vq_hold_used(&tq->w.q);
	(void)virtio_push(&tq->n->vdev, &tq->w.q, r->head, 0);
	tq->pushed = true;
	tx_put(tq, r);
}

static void tx_submit(struct net_txq *tq, struct net_tx_req *r)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(&tq->w);
	if (!sqe) {
		vdev_count(&tq->dropped, 1);
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
	vq_publish_used(&tq->w.q);
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
			if (!vq_limit(&n->limit[1], w, tq->chain.out_bytes, 1, &tq->limit_since)) {
				vq_unpop(&w->q, 1); /* back for the limiter's timer */
				goto out;
			}
			/* MMDS's frames count against the TX limiter too (as
			 * Firecracker's): the limiter first */
			if (n->mmds && net_mmds_tx(tq, &tq->chain)) { /* MMDS's frame */
				vq_hold_used(&w->q);
				(void)virtio_push(&n->vdev, &w->q, tq->chain.head, 0);
				tq->pushed = true;
				continue;
			}
			struct net_tx_req *req = tq->free;
			tq->free = req->next_free;
			req->head = tq->chain.head;
			req->bytes = tq->chain.out_bytes;
			int k = n->be->tx_prepare(req, &tq->chain);
			if (k < 0 || !atomic_load(&n->link_up)) {
				vdev_count(k < 0 ? &tq->malformed : &tq->dropped, 1);
				tx_done(tq, req);
				continue;
			}
			if (n->be->tx_serial)
				tq->busy = req;
			tx_submit(tq, req);
		}
		/* While writes are in flight their completions bring us back
		 * here: no kicks needed (each one is a VM exit) until the
		 * last one is done. */
		if (!tq->free || tq->busy || w->inflight || !vq_enable_notify(&w->q))
			break;
	}
out:
	/* the writes go out with the worker's next wait */
	tx_notify(tq);
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
	int k = tq->n->be->tx_written(tq->n, r, cqe->res);
	if (k > 0) { /* the rest of it */
		tx_submit(tq, r);
		io_uring_submit(&w->ring);
		return;
	}
	if (k < 0) {
		vdev_count(&tq->write_fails, 1);
	} else {
		vdev_count(&tq->packets, 1);
		vdev_count(&tq->bytes, r->bytes);
	}
	tq->busy = NULL;
	tx_done(tq, r); /* the batch's flush notifies and refills */
}

static const struct vq_worker_ops tx_ops = {
	.kick = tx_kick,
	.complete = tx_complete,
	.flush = tx_kick, /* one notification per batch, then more frames */
};

/* ---- control worker ---- */

/* The backend follows the driver's pair count (a tap attaches and detaches
 * its queues): 0, or the errno of its first failure. */
static int net_steer(struct net *n, unsigned pairs)
{
	return n->be->steer ? n->be->steer(n, pairs) : 0;
}

/* One control command: its ack, or -1 when the chain has no room for one. */
static int ctrl_command(struct vq_worker *w, struct net_ctrlq *cq)
{
	struct net *n = cq->n;
	unsigned pairs;
	int ack = net_ctrl_parse(&cq->chain, n->pairs, net_has_feature(n, VIRTIO_NET_F_MQ), &pairs);
	if (ack < 0)
		return -1;
	if (pairs) {
		int er = net_steer(n, pairs);
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
			if (virtio_push(&n->vdev, &w->q, cq->chain.head, 1) < 0) {
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

/* struct virtio_net_config: mac, status, max_virtqueue_pairs, and mtu
 * (0: VIRTIO_NET_F_MTU is not offered); nothing after it. */
static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct net *n = d->model;
	struct virtio_net_config cfg = {
		.status = htole16(atomic_load(&n->link_up) ? VIRTIO_NET_S_LINK_UP : 0),
		.max_virtqueue_pairs = htole16((uint16_t)n->pairs),
	};
	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	virtio_config_copy(&cfg, offsetof(struct virtio_net_config, speed), off, data, len);
}

static int net_activate(struct virtio_dev *d)
{
	struct net *n = d->model;
	if (!d->qcfg[0].ready || !d->qcfg[1].ready)
		return -EINVAL;
	unsigned pairs = n->restore_pairs ? n->restore_pairs : 1;
	n->restore_pairs = 0;
	atomic_store(&n->active_pairs, 1);
	if (n->be->activate)
		n->be->activate(n);
	if (pairs > 1) { /* a restore: the pairs the driver had enabled */
		int er = net_steer(n, pairs);
		if (er)
			atomic_store(&n->steer_errno, er);
		atomic_store(&n->active_pairs, pairs);
	}
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

/* The backend of each enum net_backend value. */
static const struct net_backend_ops *const backends[] = {
	[NET_TAP] = &net_tap_ops,
	[NET_TAPFD] = &net_tap_ops,
	[NET_STREAM] = &net_stream_ops,
	[NET_STREAM_LISTEN] = &net_stream_ops,
};

int net_open(struct net **out, const struct net_cfg *cfg, unsigned index, struct err *e)
{
	*out = NULL;
	unsigned pairs = cfg->pairs ? cfg->pairs : 1;
	if (pairs > NET_MAX_PAIRS || (pairs > 1 && cfg->backend != NET_TAP))
		return err_set(e, EINVAL,
			       "net%u: queues=1..%d, and more than 1 only with tap=", index,
			       NET_MAX_PAIRS);
	if ((uint64_t)cfg->poll_us * 1000 > VQ_POLL_MAX_NS)
		return err_set(e, EINVAL, "net%u: poll must be 0..%llu us", index,
			       VQ_POLL_MAX_NS / 1000);
	if ((unsigned)cfg->backend >= sizeof(backends) / sizeof(backends[0]) ||
	    !backends[cfg->backend])
		return err_set(e, EINVAL, "net%u: unknown backend", index);
	struct net *n = calloc(1, sizeof(*n));
	if (!n)
		return err_set(e, ENOMEM, "out of memory");
	n->index = index;
	n->pairs = pairs;
	n->be = backends[cfg->backend];
	n->rx_no_batch = cfg->rx_no_batch;
	n->poll_us = cfg->poll_us;
	vq_limiter_init(&n->limit[0], &cfg->rx_limit);
	vq_limiter_init(&n->limit[1], &cfg->tx_limit);
	char seed[160] = "";
	int r = n->be->open(n, cfg, seed, sizeof(seed), e);
	if (r < 0) {
		net_destroy(n);
		return r;
	}
	if (cfg->mmds && (r = net_mmds_new(&n->mmds, cfg->mmds, e)) < 0) {
		net_destroy(n);
		return r;
	}
	if (cfg->has_mac)
		memcpy(n->mac, cfg->mac, 6);
	else
		net_default_mac(seed, index, n->mac);
	atomic_store(&n->link_up, true);
	atomic_store(&n->active_pairs, 1);
	*out = n;
	return 0;
}

/* Its workers: RX reads the tap queue (or socket) and cancels its own
 * pending read when the driver disables its pair or resets; TX writes it;
 * both wait for their rate limiter with a TIMEOUT;
 * the control queue's worker attaches and detaches tap queues (its table)
 * and wakes the RX workers through their kick eventfds. */
enum { NET_GRANT_RX, NET_GRANT_TX, NET_GRANT_CTRL };
static const uint8_t net_rx_uring_ops[] = {IORING_OP_ASYNC_CANCEL, IORING_OP_TIMEOUT};
static const uint8_t net_tx_uring_ops[] = {IORING_OP_WRITEV, IORING_OP_TIMEOUT};
static const uint8_t net_ctrl_uring_ops[] = {IORING_OP_WRITE};
static const struct vq_grant net_grants[] = {
	[NET_GRANT_RX] = {.thread = "cvmm-net<N>-rx<P>",
			  .jail = &vq_jail_worker,
			  VQ_GRANT_OPS(net_rx_uring_ops),
			  .files = "its pair's tap queue (or the socket)"},
	[NET_GRANT_TX] =
		{.thread = "cvmm-net<N>-tx<P>",
		 .jail = &vq_jail_net_tx,
		 VQ_GRANT_OPS(net_tx_uring_ops),
		 .files = "its pair's tap queue (or the socket); with MMDS, RX pair 0's kick "
			  "eventfd"},
	[NET_GRANT_CTRL] = {.thread = "cvmm-net<N>-ctl",
			    .jail = &vq_jail_net_ctrl,
			    VQ_GRANT_OPS(net_ctrl_uring_ops),
			    .files = "the RX workers' kick eventfds"},
};

int net_start(struct net *n, const struct guest_mem *mem, const struct virtio_irqfds *irq,
	      struct err *e)
{
	struct virtio_dev *d = &n->vdev;
	virtio_dev_setup(d, &net_ops, n, mem, irq, 2 * n->pairs + 1, NET_QUEUE_MAX,
			 (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_CTRL_VQ));
	if (n->be->features)
		d->features |= n->be->features(n);
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
		rq->nslots = rq->depth = n->be->rx_slots;
		for (unsigned k = 0; k < rq->nslots; k++)
			if (!(rq->slot[k].buf = malloc(n->be->rx_cap)))
				return err_set(e, ENOMEM, "out of memory");
		rq->cap = rq->nslots ? 0 : n->be->rx_cap;
		if (rq->cap && !(rq->buf = malloc(rq->cap)))
			return err_set(e, ENOMEM, "out of memory");
		for (unsigned k = 0; k < NET_QUEUE_MAX; k++)
			tx_put(tq, &tq->reqs[k]);
		int fd = n->fds[p]; /* one per pair */
		char name[32];
		snprintf(name, sizeof(name), "cvmm-net%u-rx%u", n->index, p);
		struct vq_worker_cfg wc = {
			.ops = &rx_ops,
			.model = rq,
			.grant = &net_grants[NET_GRANT_RX],
			.dev_fds = &fd,
			.ndev_fds = 1,
			/* its eventfds' reads, NET_RX_SLOTS reads and their
			 * cancels, the limiter's timer */
			.ring_entries = 32,
			.name = name,
			/* A tap wakes it for each frame it queues: a frame
			 * source on the same CPU (a process sending to the
			 * guest, a vCPU of another VM) would be preempted by it
			 * frame by frame. bench/run's net-rx at 1514 B: 16-36k
			 * frames/s without, 78-121k with (docs/benchmarks.md).
			 * An interface may choose latency instead (rx_no_batch). */
			.batch_sched = !n->rx_no_batch,
		};
		int r = vq_worker_create(&rq->w, d, 2 * p, &wc, e);
		n->nworkers++;
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "cvmm-net%u-tx%u", n->index, p);
		/* with MMDS, RX pair 0's kick eventfd too (net_mmds.c) */
		int txfds[2] = {fd, n->rx[0]->w.kick_fd};
		wc.dev_fds = txfds;
		wc.ndev_fds = n->mmds ? 2 : 1;
		wc.ops = &tx_ops;
		wc.model = tq;
		wc.grant = &net_grants[NET_GRANT_TX];
		wc.ring_entries = 2 * NET_QUEUE_MAX;
		wc.batch_sched = false; /* woken by the guest's kicks */
		/* TX alone polls: a guest sending a stream of frames is
		 * rarely asked to kick (its rate limiter's wait stops the
		 * window: worker.c, worker_poll_serve) */
		wc.poll_max_ns = (uint64_t)n->poll_us * 1000;
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
		log_warn("net%u: steering to the driver's queue pairs failed: %s", n->index,
			 strerror(er));
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
		if (n->rx[p]) {
			free(n->rx[p]->buf);
			for (unsigned k = 0; k < NET_RX_SLOTS; k++)
				free(n->rx[p]->slot[k].buf);
		}
		free(n->rx[p]);
		free(n->tx[p]);
	}
	free(n->ctrl);
	net_mmds_free(n->mmds);
	for (unsigned i = 0; i < n->nfds; i++)
		close(n->fds[i]);
	vq_limiter_destroy(&n->limit[0]);
	vq_limiter_destroy(&n->limit[1]);
	free(n);
}

/* Its queues' counters, summed (none before it started). */
static void net_metrics(const void *model, struct vdev_metrics *m)
{
	const struct net *n = model;
	struct vdev_net_metrics *o = &m->net;
	*o = (struct vdev_net_metrics){0};
	for (unsigned p = 0; p < n->pairs; p++) {
		const struct net_rxq *rq = n->rx[p];
		const struct net_txq *tq = n->tx[p];
		if (rq) {
			o->rx_packets_count += atomic_load(&rq->packets);
			o->rx_bytes_count += atomic_load(&rq->bytes);
			o->rx_fails += atomic_load(&rq->dropped);
			o->tap_read_fails += atomic_load(&rq->read_fails);
			o->no_rx_avail_buffer += atomic_load(&rq->waits);
			o->rx_tap_event_count += atomic_load(&rq->reads);
			o->rx_queue_event_count += atomic_load(&rq->w.kicks);
		}
		if (tq) {
			o->tx_packets_count += atomic_load(&tq->packets);
			o->tx_bytes_count += atomic_load(&tq->bytes);
			o->tx_malformed_frames += atomic_load(&tq->malformed);
			o->tx_fails += atomic_load(&tq->dropped);
			o->tap_write_fails += atomic_load(&tq->write_fails);
			o->tx_queue_event_count += atomic_load(&tq->w.kicks);
		}
	}
	for (unsigned k = 0; k < 2; k++) {
		m->limit[k].throttled = atomic_load(&n->limit[k].throttled);
		m->limit[k].throttled_ns = atomic_load(&n->limit[k].throttled_ns);
	}
}

/* Which 0: RX, 1: TX. */
static int net_set_limiter(void *model, unsigned which, const struct rl_cfg *c, struct err *e)
{
	struct net *n = model;
	if (which > 1)
		return err_set(e, EINVAL, "net%u has two rate limiters (RX, TX)", n->index);
	vq_limiter_set(&n->limit[which], c);
	unsigned made = 0; /* the pairs' workers were made in order: RX, TX */
	for (unsigned p = 0; n->started && p < n->pairs; p++) {
		if (made++ < n->nworkers && which == 0)
			vq_worker_wake(&n->rx[p]->w);
		if (made++ < n->nworkers && which == 1)
			vq_worker_wake(&n->tx[p]->w);
	}
	return 0;
}

/* Snapshot: section "virtio-net". What the driver set beyond virtio_dev:
 * the queue pairs it enabled (the control queue's MQ command); the rx
 * mode and MAC filter commands are acknowledged, not kept. The MAC is the
 * configuration's, which the guest knows: a restore with another one (or
 * another pair count) is refused. The link state is the backend's now. */
enum { SNAP_NET_PAIRS = 1, SNAP_NET_ACTIVE_PAIRS, SNAP_NET_MAC };

static int net_save(void *m, struct snap_w *w, uint32_t inst, struct err *e)
{
	struct net *n = m;
	(void)e;
	snap_section(w, net_desc.name, inst);
	snap_u32(w, SNAP_NET_PAIRS, n->pairs);
	snap_u32(w, SNAP_NET_ACTIVE_PAIRS, atomic_load(&n->active_pairs));
	snap_put(w, SNAP_NET_MAC, n->mac, sizeof(n->mac));
	return 0;
}

static int net_restore(void *m, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct net *n = m;
	struct snap_sec s;
	if (snap_find(r, net_desc.name, inst, &s) < 0)
		return err_set(e, ENOENT, "net%u: the state has no section %s/%u", n->index,
			       net_desc.name, inst);
	static const uint16_t known[] = {SNAP_NET_PAIRS, SNAP_NET_ACTIVE_PAIRS, SNAP_NET_MAC};
	uint32_t pairs, active;
	uint8_t mac[6];
	int rc;
	if ((rc = snap_check_known(&s, known, 3, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_NET_PAIRS, &pairs, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_NET_ACTIVE_PAIRS, &active, e)) < 0 ||
	    (rc = snap_get_exact(&s, SNAP_NET_MAC, mac, sizeof(mac), e)) < 0)
		return rc;
	if (pairs != n->pairs)
		return err_set(e, EINVAL, "net%u: %u queue pairs, the snapshot's %u", n->index,
			       n->pairs, pairs);
	if (active < 1 || active > pairs)
		return err_set(e, EINVAL, "net%u: %u active queue pairs of %u", n->index, active,
			       pairs);
	if (memcmp(mac, n->mac, sizeof(mac)))
		return err_set(e, EINVAL,
			       "net%u: MAC %02x:%02x:%02x:%02x:%02x:%02x, the snapshot's "
			       "%02x:%02x:%02x:%02x:%02x:%02x",
			       n->index, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
			       n->mac[5], mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	n->restore_pairs = active; /* for the activation virtio_dev_restore makes */
	return 0;
}

VDEV_ADAPTERS(net, struct net, struct net_cfg, net_open)
const struct vdev_desc net_desc = {
	.save = net_save,
	.restore = net_restore,
	.name = "virtio-net",
	.metrics = net_metrics,
	.set_limiter = net_set_limiter,
	.virtio_id = VIRTIO_ID_NET,
	VDEV_ADAPTED(net),
	.grants = net_grants,
	.ngrants = sizeof(net_grants) / sizeof(net_grants[0]),
};
