/* SPDX-License-Identifier: MIT */
/* virtio-net's device model: TX chains, RX delivery (one buffer or
 * mergeable), control commands, all over a split queue whose descriptors
 * and avail ring come from the input. Input layout:
 *   [0]     queue size 1 << (b % 7); bit 7: mergeable RX buffers
 *   [1]     bit 0 "sane" knob (descriptors point inside memory with small
 *           lengths, avail entries in range); bits 1-7: rounds
 *   [2..3]  RX packet length (le16, scaled up to NET_MAX_FRAME)
 *   [4..]   descriptor table image, then avail ring image
 * Invariants: TX iovecs lie in guest memory and add up to the frame (plus
 * header); RX never consumes buffers without returning them (used index
 * moves exactly when it reports delivery); control acks are 0 or 1. */
#include <stddef.h>
#include <stdint.h>

#include "devices/net.h"
#include "fuzz_common.h"
#include "tests/rig/ring.h"

#define MEM_GPA	  0x10000ULL
#define MEM_SIZE  0x20000ULL
#define DESC_OFF  0x0ULL
#define AVAIL_OFF 0x1000ULL
#define USED_OFF  0x2000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_mem(const uint8_t *mem, const void *p, size_t len)
{
	const uint8_t *b = p;
	return b >= mem && b <= mem + MEM_SIZE && len <= (size_t)(mem + MEM_SIZE - b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint8_t *mem;
	const struct guest_mem *m = fz_mem_at(MEM_GPA, MEM_SIZE, &mem);
	memset(mem, 0, MEM_SIZE); /* buffers too: an input must not see the last one's bytes */
	uint16_t qs = (uint16_t)(1u << (data[0] % 7));
	bool mrg = data[0] & 0x80, sane = data[1] & 1;
	unsigned rounds = 1 + (data[1] >> 1) % 8;
	size_t plen = ((size_t)(data[2] | data[3] << 8) * NET_MAX_FRAME) >> 16;
	size_t img = size - 4;
	if (img > 16ULL * qs + 4 + 2ULL * qs)
		img = 16ULL * qs + 4 + 2ULL * qs;
	size_t dpart = img < 16ULL * qs ? img : 16ULL * qs;
	memcpy(mem + DESC_OFF, data + 4, dpart);
	if (img > dpart)
		memcpy(mem + AVAIL_OFF, data + 4 + dpart, img - dpart);
	if (sane) {
		/* the descriptors inside the buffers with small lengths, avail
		 * entries in range */
		struct rr_ring r = {.m = m,
				    .desc = MEM_GPA + DESC_OFF,
				    .avail = MEM_GPA + AVAIL_OFF,
				    .size = qs};
		/* NEXT, WRITE: no indirect */
		rr_fold(&r, MEM_GPA + 0x3000, MEM_GPA + MEM_SIZE, 4096,
			VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	}

	static struct vq_chain c;
	static uint8_t pkt[NET_MAX_FRAME];
	static const uint8_t hdr[NET_HDR_LEN];
	memset(pkt, 0x5a, plen);

	/* TX: every chain checked */
	struct vq q;
	if (vq_init(&q, m, qs, MEM_GPA + DESC_OFF, MEM_GPA + AVAIL_OFF, MEM_GPA + USED_OFF, false) <
	    0)
		return 0;
	for (unsigned i = 0; i < rounds; i++) {
		if (vq_pop(&q, &c) != 1)
			break;
		struct iovec iov[NET_TX_SEGS];
		size_t flen;
		int k = net_tx_iov(&c, i & 1, i & 2, iov, NET_TX_SEGS, &flen);
		if (k >= 0) {
			size_t s = 0;
			for (int j = 0; j < k; j++) {
				FZ_CHECK(in_mem(mem, iov[j].iov_base, iov[j].iov_len));
				s += iov[j].iov_len;
			}
			FZ_CHECK(s == flen + ((i & 1) ? NET_HDR_LEN : 0));
			FZ_CHECK(flen >= NET_MIN_FRAME && flen <= NET_MAX_FRAME);
		}
		unsigned pairs;
		int ack = net_ctrl_parse(&c, 1 + i, i & 4, &pairs);
		FZ_CHECK(ack == -EINVAL || ack == VIRTIO_NET_OK || ack == VIRTIO_NET_ERR);
		FZ_CHECK(pairs <= 1 + i);
		if (vq_push(&q, c.head, 0) < 0)
			break;
	}

	/* RX: the same ring from the start */
	memset(mem + USED_OFF, 0, 0x1000);
	if (vq_init(&q, m, qs, MEM_GPA + DESC_OFF, MEM_GPA + AVAIL_OFF, MEM_GPA + USED_OFF, false) <
	    0)
		return 0;
	for (unsigned i = 0; i < rounds; i++) {
		uint16_t before_avail = q.last_avail, before_used = q.used_idx;
		int r = net_rx_deliver(&q, &c, mrg, hdr, pkt, plen >> (i % 4));
		if (r == 1) {
			FZ_CHECK(q.used_idx != before_used);
			FZ_CHECK((uint16_t)(q.used_idx - before_used) ==
				 (uint16_t)(q.last_avail - before_avail));
		} else if (r == 0 || r == -EMSGSIZE) {
			FZ_CHECK(q.used_idx == before_used && q.last_avail == before_avail);
		} else {
			FZ_CHECK(r == -EINVAL && q.broken);
			break;
		}
	}
	return 0;
}
