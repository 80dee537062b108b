/* SPDX-License-Identifier: MIT */
/* virtio-net's device model: pure functions over chains and queues (no
 * syscalls), shared by the device (net.c), the unit tests and the fuzz
 * target. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "devices/net.h"

int net_tx_iov(const struct vq_chain *c, bool keep_hdr, bool gso_ok, struct iovec *iov,
	       unsigned max, size_t *frame_len)
{
	*frame_len = 0;
	if (c->out_bytes < NET_HDR_LEN + NET_MIN_FRAME ||
	    c->out_bytes > NET_HDR_LEN + NET_MAX_FRAME)
		return -EINVAL;
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	struct virtio_net_hdr_v1 hdr;
	if (vq_cursor_read(&cur, &hdr, sizeof(hdr)) != sizeof(hdr))
		return -EINVAL;
	/* A peer without a vnet header cannot segment. */
	if (!gso_ok && hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL;
	size_t flen = c->out_bytes - NET_HDR_LEN;
	vq_cursor_out(&cur, c);
	if (!keep_hdr)
		vq_cursor_skip(&cur, NET_HDR_LEN);
	int n = vq_cursor_iov(&cur, keep_hdr ? flen + NET_HDR_LEN : flen, iov, max);
	if (n < 0)
		return -EINVAL;
	*frame_len = flen;
	return n;
}

int net_rx_deliver(struct vq *q, struct vq_chain *scratch, bool mergeable, const uint8_t *hdr,
		   const uint8_t *data, size_t len)
{
	size_t total = NET_HDR_LEN + len, done = 0;
	uint16_t heads[NET_RX_MAX_CHAINS];
	uint32_t lens[NET_RX_MAX_CHAINS];
	struct iovec hv[NET_HDR_LEN]; /* where the header went, for num_buffers */
	unsigned nhv = 0, n = 0;
	while (done < total) {
		if (n == NET_RX_MAX_CHAINS || (!mergeable && n == 1)) {
			vq_unpop(q, (uint16_t)n);
			return -EMSGSIZE;
		}
		int r = vq_pop(q, scratch);
		if (r < 0)
			return r;
		if (r == 0) {
			vq_unpop(q, (uint16_t)n);
			return 0;
		}
		n++;
		if (n == 1) {
			/* The first buffer holds the whole header (the spec lets
			 * drivers rely on that); note where it lies. */
			if (scratch->in_bytes < NET_HDR_LEN) {
				vq_unpop(q, (uint16_t)n);
				return -EMSGSIZE;
			}
			size_t want = NET_HDR_LEN;
			for (unsigned i = scratch->n_out;
			     want && i < scratch->n_out + scratch->n_in; i++) {
				size_t l = scratch->iov[i].iov_len < want ? scratch->iov[i].iov_len
									  : want;
				hv[nhv++] = (struct iovec){scratch->iov[i].iov_base, l};
				want -= l;
			}
		}
		struct vq_cursor cur;
		vq_cursor_in(&cur, scratch);
		size_t w = 0;
		if (done < NET_HDR_LEN) {
			size_t m = vq_cursor_write(&cur, hdr, NET_HDR_LEN);
			done += m;
			w += m;
		}
		size_t m = vq_cursor_write(&cur, data + (done - NET_HDR_LEN), total - done);
		done += m;
		w += m;
		heads[n - 1] = scratch->head;
		lens[n - 1] = (uint32_t)w;
	}
	/* num_buffers, wherever the header's buffers put it. */
	const size_t at = offsetof(struct virtio_net_hdr_v1, num_buffers);
	uint16_t nb = htole16((uint16_t)n);
	size_t pos = 0;
	for (unsigned i = 0; i < nhv; i++) {
		for (size_t k = 0; k < hv[i].iov_len; k++, pos++)
			if (pos >= at && pos < at + sizeof(nb))
				((uint8_t *)hv[i].iov_base)[k] = ((const uint8_t *)&nb)[pos - at];
	}
	for (unsigned i = 0; i < n; i++) {
		int r = vq_push(q, heads[i], lens[i]);
		if (r < 0)
			return r;
	}
	return 1;
}

int net_ctrl_parse(const struct vq_chain *c, unsigned max_pairs, bool mq, unsigned *pairs)
{
	*pairs = 0;
	if (c->in_bytes < 1)
		return -EINVAL;
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	struct virtio_net_ctrl_hdr hdr;
	if (vq_cursor_read(&cur, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_NET_ERR;
	switch (hdr.class) {
	case VIRTIO_NET_CTRL_MQ: {
		struct virtio_net_ctrl_mq v;
		if (!mq || hdr.cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
		    vq_cursor_read(&cur, &v, sizeof(v)) != sizeof(v))
			return VIRTIO_NET_ERR;
		unsigned p = le16toh(v.virtqueue_pairs);
		if (p < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || p > max_pairs)
			return VIRTIO_NET_ERR;
		*pairs = p;
		return VIRTIO_NET_OK;
	}
	case VIRTIO_NET_CTRL_RX:
	case VIRTIO_NET_CTRL_MAC:
	case VIRTIO_NET_CTRL_VLAN:
		/* No filtering: every frame the backend delivers goes to the
		 * guest, which is what promiscuous/all-multi ask and a superset
		 * of what filters ask. */
		return VIRTIO_NET_OK;
	default:
		return VIRTIO_NET_ERR;
	}
}

void net_default_mac(const char *seed, unsigned index, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const char *p = seed; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = (h ^ index) * 0x100000001b3ULL;
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}
