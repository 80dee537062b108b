/* SPDX-License-Identifier: MIT */
/* virtio-net's MMDS detour (devices/mmds.h): on an interface that allows
 * MMDS, each TX worker looks at a frame's Ethernet and IP headers (one
 * check: ARP for the MMDS address, or IPv4 to it) and hands such a frame
 * to the interface's responder instead of the backend, then wakes RX pair
 * 0 by writing its kick eventfd through the TX worker's own ring (a file
 * registered for it at start: no new system call). RX pair 0 builds the
 * responder's frames one at a time into its staging buffer and delivers
 * them into the guest's buffers between the backend's packets; a frame
 * waits there while the guest has no buffer, and the responder builds the
 * next only once it went, so what waits is bounded by that one frame and
 * the responder's own bounded state. Interfaces without MMDS never get
 * here (n->mmds is NULL). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "devices/mmds.h"
#include "devices/net_backend.h"

struct net_mmds {
	struct mmds_resp *resp; /* owned */
	uint64_t one;		/* what a kick writes */
	struct iovec kick_iov;
	/* RX pair 0's: the frame waiting for a guest buffer */
	uint8_t stage[MMDS_FRAME_MAX];
	size_t stage_len;
	/* each TX worker's copy of a frame for the responder */
	uint8_t in[NET_MAX_PAIRS][MMDS_IN_MAX];
};

int net_mmds_new(struct net_mmds **out, struct mmds_store *store, struct err *e)
{
	struct net_mmds *m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(e, ENOMEM, "out of memory");
	int r = mmds_resp_new(&m->resp, store, e);
	if (r < 0) {
		free(m);
		return r;
	}
	m->one = 1;
	m->kick_iov = (struct iovec){&m->one, sizeof(m->one)};
	*out = m;
	return 0;
}

void net_mmds_free(struct net_mmds *m)
{
	if (!m)
		return;
	mmds_resp_free(m->resp);
	free(m);
}

bool net_mmds_tx(struct net_txq *tq, const struct vq_chain *c)
{
	struct net_mmds *m = tq->n->mmds;
	uint8_t *in = m->in[tq->pair];
	if (c->out_bytes < NET_HDR_LEN + 14 + 20)
		return false; /* too short for a frame to the MMDS: the usual path */
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	vq_cursor_skip(&cur, NET_HDR_LEN);
	/* the headers first: the one check every frame pays */
	size_t got = vq_cursor_read(&cur, in, 14 + 28);
	if (!mmds_frame_for(in, got, m->resp->tcp.ip))
		return false;
	size_t len = c->out_bytes - NET_HDR_LEN;
	if (len > MMDS_IN_MAX)
		return true; /* for the MMDS, but more than any request: dropped */
	got += vq_cursor_read(&cur, in + got, len - got);
	mmds_resp_input(m->resp, in, got, clock_mono_ms());
	/* RX pair 0 takes what the responder has now */
	struct io_uring_sqe *sqe = vq_worker_sqe(&tq->w);
	if (sqe) {
		io_uring_prep_writev(sqe, WORKER_FILE_DEV + 1, &m->kick_iov, 1, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, WORKER_TAG_IGNORE);
	}
	return true;
}

int net_mmds_rx(struct net_rxq *rq)
{
	struct net_mmds *m = rq->n->mmds;
	struct vq *q = &rq->w.q;
	bool mrg = net_has_feature(rq->n, VIRTIO_NET_F_MRG_RXBUF);
	static const uint8_t hdr[NET_HDR_LEN]; /* no offloads: checksums are complete */
	for (;;) {
		if (!m->stage_len)
			m->stage_len = mmds_resp_output(m->resp, m->stage);
		if (!m->stage_len)
			return 0;
		int r = net_rx_deliver(q, &rq->chain, mrg, hdr, m->stage, m->stage_len);
		if (r == 0) {
			/* no buffer: wait for the driver's kick, unless one came */
			if (vq_enable_notify_more(q)) {
				vq_disable_notify(q);
				continue;
			}
			vdev_count(&rq->waits, 1);
			return 0;
		}
		if (r == -EINVAL)
			return r;
		if (r == 1) {
			rq->pushed = true;
			vdev_count(&rq->packets, 1);
			vdev_count(&rq->bytes, NET_HDR_LEN + m->stage_len);
		} else {
			vdev_count(&rq->dropped, 1);
		}
		m->stage_len = 0;
	}
}
