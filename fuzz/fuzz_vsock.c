/* SPDX-License-Identifier: MIT */
/* virtio-vsock's device model: the CONNECT line parser, and TX packets from
 * a split queue (descriptors, avail ring and packet bytes from the input)
 * driven through header parsing, the connection state machine and credit
 * accounting. Input layout:
 *   [0]     queue size 1 << (b % 7); bit 7: "sane" knob (descriptors inside
 *           memory with small lengths, avail entries in range)
 *   [1]     starting state (b % 7); bits 3-7: bytes forwarded per packet
 *   [2]     CONNECT line length L, then L line bytes
 *   then    descriptor table image, avail ring image, then bytes copied into
 *           the buffer area (the packets)
 * Invariants: a parsed line ends in '\n' within VSOCK_LINE_MAX and its port
 * prints back to its digits; a parsed packet has len <= VSOCK_MAX_PKT and
 * fits its chain; the guest never has more than VSOCK_TX_BUF unforwarded
 * bytes accepted, nor more than fit beside the bytes reserved for the OK
 * line (its length % 16 is reserved); our credit for it never exceeds its
 * buf_alloc; a
 * connection never goes back from established to connecting. */
#include <stddef.h>
#include <stdint.h>

#include "devices/vsock.h"
#include "fuzz_common.h"
#include "tests/rig/ring.h"

#define MEM_GPA	  0x10000ULL
#define MEM_SIZE  0x20000ULL
#define DESC_OFF  0x0ULL
#define AVAIL_OFF 0x1000ULL
#define USED_OFF  0x2000ULL
#define BUF_OFF	  0x3000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const uint8_t *p, size_t len)
{
	uint32_t port;
	size_t used;
	int r = vsock_parse_connect((const char *)p, len, &port, &used);
	if (r == 1) {
		FZ_CHECK(used <= len && used <= VSOCK_LINE_MAX && p[used - 1] == '\n');
		FZ_CHECK(!memcmp(p, "CONNECT ", 8));
		/* the digits, without leading zeros, are the port */
		char want[16];
		snprintf(want, sizeof(want), "%u", port);
		size_t end = used - 1;
		if (p[end - 1] == '\r')
			end--;
		size_t s = 8;
		while (s + 1 < end && p[s] == '0')
			s++;
		FZ_CHECK(end - s == strlen(want) && !memcmp(p + s, want, end - s));
	} else if (r == 0) {
		FZ_CHECK(len < VSOCK_LINE_MAX && !memchr(p, '\n', len));
	} else {
		FZ_CHECK(r == -EINVAL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t line = data[2];
	if (line > size - 3)
		line = size - 3;
	check_line(data + 3, line);
	data += 3 + line;
	size -= 3 + line;
	const uint8_t *hdr = data - 3 - line;

	uint8_t *mem;
	const struct guest_mem *m = fz_mem_at(MEM_GPA, MEM_SIZE, &mem);
	memset(mem, 0, MEM_SIZE);
	uint16_t qs = (uint16_t)(1u << (hdr[0] % 7));
	bool sane = hdr[0] & 0x80;
	size_t img = 16ULL * qs + 4 + 2ULL * qs;
	if (img > size)
		img = size;
	size_t dpart = img < 16ULL * qs ? img : 16ULL * qs;
	memcpy(mem + DESC_OFF, data, dpart);
	if (img > dpart)
		memcpy(mem + AVAIL_OFF, data + dpart, img - dpart);
	size_t rest = size - img;
	if (rest > MEM_SIZE - BUF_OFF)
		rest = MEM_SIZE - BUF_OFF;
	memcpy(mem + BUF_OFF, data + img, rest);
	if (sane) {
		/* the descriptors inside the buffers with small lengths, avail
		 * entries in range */
		struct rr_ring r = {.m = m,
				    .desc = MEM_GPA + DESC_OFF,
				    .avail = MEM_GPA + AVAIL_OFF,
				    .size = qs};
		/* NEXT only: TX chains are readable */
		rr_fold(&r, MEM_GPA + BUF_OFF, MEM_GPA + MEM_SIZE, 8192, VRING_DESC_F_NEXT);
	}

	struct vq q;
	if (vq_init(&q, m, qs, MEM_GPA + DESC_OFF, MEM_GPA + AVAIL_OFF, MEM_GPA + USED_OFF, false) <
	    0)
		return 0;
	static const enum vsock_state start[] = {VSOCK_HOST_REQUEST, VSOCK_GUEST_CONNECTING,
						 VSOCK_ESTABLISHED,  VSOCK_HOST_LINE,
						 VSOCK_CLOSING,	     VSOCK_FREE,
						 VSOCK_ACCEPTING};
	/* an OK line's worth of the buffer reserved, or none */
	uint32_t reserved = (uint32_t)(line & 15);
	struct vsock_cstate s = {.state = start[(hdr[1] & 7) % 7], .reserved = reserved};
	uint32_t fwd_step = (uint32_t)(hdr[1] >> 3) * 4096;
	static struct vq_chain c;
	for (unsigned i = 0; i < qs; i++) {
		if (vq_pop(&q, &c) != 1)
			break;
		struct vsock_hdr h;
		int r = vsock_tx_parse(&c, 3, &h);
		if (r == 0 || r == -EPROTONOSUPPORT) {
			FZ_CHECK(c.out_bytes >= VSOCK_HDR_LEN);
			FZ_CHECK(h.len <= VSOCK_MAX_PKT && h.len <= c.out_bytes - VSOCK_HDR_LEN);
			FZ_CHECK(h.src_cid == 3 && h.dst_cid == VSOCK_HOST_CID);
		} else {
			FZ_CHECK(r == -EINVAL);
		}
		if (r == 0) {
			enum vsock_state before = s.state;
			uint32_t rx_before = s.cr.rx_cnt;
			enum vsock_action a = vsock_guest_event(&s, &h);
			FZ_CHECK(!(before == VSOCK_ESTABLISHED && s.state != VSOCK_ESTABLISHED));
			if (a == VSOCK_A_DATA)
				FZ_CHECK(s.cr.rx_cnt - rx_before == h.len && h.len > 0);
			else
				FZ_CHECK(s.cr.rx_cnt == rx_before);
			FZ_CHECK(s.cr.rx_cnt - s.cr.fwd_cnt <= vsock_buf_alloc(&s));
			FZ_CHECK(s.cr.rx_cnt - s.cr.fwd_cnt + s.reserved <= VSOCK_TX_BUF);
			if (a == VSOCK_A_CLOSE || a == VSOCK_A_RESET || a == VSOCK_A_FINISH)
				s = (struct vsock_cstate){.state = start[i % 7],
							  .reserved = reserved};
		}
		/* the socket takes some of what we hold; we send some back */
		uint32_t held = s.cr.rx_cnt - s.cr.fwd_cnt;
		s.cr.fwd_cnt += held < fwd_step ? held : fwd_step;
		uint32_t credit = vsock_peer_credit(&s.cr);
		FZ_CHECK(credit <= s.cr.peer_buf_alloc);
		s.cr.tx_cnt += credit / 2;
		if (vsock_credit_update_due(&s.cr))
			s.cr.fwd_sent = s.cr.fwd_cnt;
		if (vq_push(&q, c.head, 0) < 0)
			break;
	}
	return 0;
}
