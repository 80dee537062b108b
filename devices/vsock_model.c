/* SPDX-License-Identifier: MIT */
/* virtio-vsock's device model: pure functions (no syscalls) shared by the
 * device (vsock.c), the unit tests and the fuzz target. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/vsock.h"

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	struct virtio_vsock_hdr w;
	memcpy(&w, b, sizeof(w));
	*h = (struct vsock_hdr){
		.src_cid = le64toh(w.src_cid),
		.dst_cid = le64toh(w.dst_cid),
		.src_port = le32toh(w.src_port),
		.dst_port = le32toh(w.dst_port),
		.len = le32toh(w.len),
		.type = le16toh(w.type),
		.op = le16toh(w.op),
		.flags = le32toh(w.flags),
		.buf_alloc = le32toh(w.buf_alloc),
		.fwd_cnt = le32toh(w.fwd_cnt),
	};
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN])
{
	struct virtio_vsock_hdr w = {
		.src_cid = htole64(h->src_cid),
		.dst_cid = htole64(h->dst_cid),
		.src_port = htole32(h->src_port),
		.dst_port = htole32(h->dst_port),
		.len = htole32(h->len),
		.type = htole16(h->type),
		.op = htole16(h->op),
		.flags = htole32(h->flags),
		.buf_alloc = htole32(h->buf_alloc),
		.fwd_cnt = htole32(h->fwd_cnt),
	};
	memcpy(b, &w, sizeof(w));
}

int vsock_tx_parse(const struct vq_chain *c, uint64_t guest_cid, struct vsock_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (c->out_bytes < VSOCK_HDR_LEN)
		return -EINVAL;
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	uint8_t b[VSOCK_HDR_LEN];
	if (vq_cursor_read(&cur, b, sizeof(b)) != sizeof(b))
		return -EINVAL;
	vsock_hdr_decode(b, h);
	if (h->len > VSOCK_MAX_PKT || h->len > c->out_bytes - VSOCK_HDR_LEN)
		return -EINVAL;
	if (h->src_cid != guest_cid || h->dst_cid != VSOCK_HOST_CID)
		return -EINVAL;
	if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return -EINVAL;
	if (h->op != VIRTIO_VSOCK_OP_RW)
		h->len = 0; /* a payload on a control packet is ignored */
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return -EPROTONOSUPPORT;
	return 0;
}

uint32_t vsock_peer_credit(const struct vsock_credit *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	if (in_flight >= c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

bool vsock_credit_update_due(const struct vsock_credit *c)
{
	uint32_t unseen = c->fwd_cnt - c->fwd_sent;   /* freed, not yet told */
	uint32_t seen_used = c->rx_cnt - c->fwd_sent; /* what the guest thinks we hold */
	if (unseen == 0)
		return false;
	return unseen >= VSOCK_TX_BUF / 4 || seen_used > VSOCK_TX_BUF - VSOCK_MAX_PKT;
}

uint32_t vsock_buf_alloc(const struct vsock_cstate *s)
{
	return s->reserved < VSOCK_TX_BUF ? VSOCK_TX_BUF - s->reserved : 0;
}

enum vsock_action vsock_guest_event(struct vsock_cstate *s, const struct vsock_hdr *h)
{
	if (s->state == VSOCK_FREE || s->state == VSOCK_ACCEPTING || s->state == VSOCK_HOST_LINE ||
	    s->state == VSOCK_CLOSING)
		return VSOCK_A_DROP; /* the guest knows no such connection (yet, or any more) */
	if (h->op == VIRTIO_VSOCK_OP_RST)
		return VSOCK_A_CLOSE;
	s->cr.peer_buf_alloc = h->buf_alloc;
	s->cr.peer_fwd_cnt = h->fwd_cnt;
	if (s->state == VSOCK_HOST_REQUEST) {
		if (h->op != VIRTIO_VSOCK_OP_RESPONSE)
			return VSOCK_A_RESET;
		s->state = VSOCK_ESTABLISHED;
		return VSOCK_A_ESTABLISH;
	}
	if (s->state == VSOCK_GUEST_CONNECTING)
		return VSOCK_A_RESET; /* nothing but RST before our RESPONSE */
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (s->guest_no_send)
			return VSOCK_A_RESET;
		if (h->len == 0)
			return VSOCK_A_DROP;
		uint32_t held = s->cr.rx_cnt - s->cr.fwd_cnt, room = vsock_buf_alloc(s);
		if (held > room || h->len > room - held)
			return VSOCK_A_RESET; /* beyond the credit we gave */
		s->cr.rx_cnt += h->len;
		return VSOCK_A_DATA;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return VSOCK_A_DROP; /* noted above; the caller may send again */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return VSOCK_A_CREDIT;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			s->guest_no_rcv = true;
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			s->guest_no_send = true;
		if (s->guest_no_rcv && s->guest_no_send)
			return VSOCK_A_FINISH;
		return VSOCK_A_SHUTDOWN;
	default: /* REQUEST or RESPONSE on an established connection */
		return VSOCK_A_RESET;
	}
}

int vsock_parse_connect(const char *buf, size_t len, uint32_t *port, size_t *consumed)
{
	static const char kw[] = "CONNECT ";
	const size_t kwlen = sizeof(kw) - 1;
	size_t n = len < VSOCK_LINE_MAX ? len : VSOCK_LINE_MAX;
	const char *nl = memchr(buf, '\n', n);
	if (memchr(buf, '\0', nl ? (size_t)(nl - buf) : n))
		return -EINVAL;
	/* What is there so far must be a prefix of a valid line. */
	size_t upto = nl ? (size_t)(nl - buf) : n;
	if (memcmp(buf, kw, upto < kwlen ? upto : kwlen) != 0)
		return -EINVAL;
	if (!nl)
		return len >= VSOCK_LINE_MAX ? -EINVAL : 0;
	if (upto <= kwlen)
		return -EINVAL;
	size_t end = upto;
	if (buf[end - 1] == '\r')
		end--;
	uint64_t v = 0;
	size_t digits = 0;
	for (size_t i = kwlen; i < end; i++, digits++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(buf[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (digits == 0)
		return -EINVAL;
	*port = (uint32_t)v;
	*consumed = upto + 1;
	return 1;
}
