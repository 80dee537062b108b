/* SPDX-License-Identifier: MIT */
/* MMDS's network stack (devices/mmds.c, mmds_net.c, mmds_tcp.c) as a
 * hostile guest drives it: frames into a responder, every frame it has for
 * the guest taken after each. Input: records of [kind][len][bytes...]:
 * kind bit 0: the bytes are a whole frame as sent; else they fill a TCP
 * segment to the MMDS's port 80 (flags, sequence numbers, ports from the
 * bytes, the rest its data) so that the state machine is reached; kind
 * bits 1-3: milliseconds that pass (x 2000). Bit 4 of the first record:
 * V2. Invariants: each frame out parses back (ARP or IPv4/TCP from the
 * MMDS), is at most MMDS_FRAME_MAX bytes; the responder runs dry within a
 * bound after each frame in (it never loops). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc[] = "{\"latest\":{\"meta-data\":{\"a\":\"b\",\"o\":{\"x\":\"y\"}}}}";
static const uint8_t gmac[6] = {0x52, 0x54, 0, 1, 2, 3};

static void check_out(struct mmds_resp *r)
{
	uint8_t out[MMDS_FRAME_MAX];
	for (int i = 0;; i++) {
		if (i > 4 * MMDS_MAX_CONNS * (MMDS_DEFAULT_LIMIT / 536 + 8) + MMDS_MAX_RSTS)
			abort(); /* it should have run dry */
		size_t n = mmds_resp_output(r, out);
		if (!n)
			return;
		uint16_t type;
		const uint8_t *p;
		size_t plen;
		if (n > MMDS_FRAME_MAX || mmds_eth_parse(out, n, &type, &p, &plen) < 0)
			abort();
		if (type == MMDS_ETH_ARP) {
			struct mmds_arp a;
			if (mmds_arp_parse(p, plen, &a) < 0 || a.op != 2 ||
			    a.spa != MMDS_DEFAULT_IPV4)
				abort();
			continue;
		}
		struct mmds_tcp_seg s;
		if (type != MMDS_ETH_IPV4 || mmds_ipv4_tcp_parse(p, plen, &s) < 0 ||
		    s.saddr != MMDS_DEFAULT_IPV4)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct err e;
	err_clear(&e);
	struct mmds_store *st;
	struct mmds_resp *r;
	if (mmds_store_new(&st, data[0] & 0x10 ? 2 : 1, 0, false, 0, &e) < 0)
		abort();
	if (mmds_store_put(st, doc, sizeof(doc) - 1) < 0 || mmds_resp_new(&r, st, &e) < 0)
		abort();
	r->tcp.iss_next = 0x1000; /* the first connection's SYN-ACK: 0x1000, as the seeds expect */
	uint64_t now = 0;
	size_t i = 0;
	while (i + 2 <= size) {
		uint8_t kind = data[i];
		size_t len = data[i + 1];
		i += 2;
		if (len > size - i)
			len = size - i;
		const uint8_t *b = data + i;
		i += len;
		now += (uint64_t)((kind >> 1) & 7) * 2000;
		if (kind & 1) {
			mmds_resp_input(r, b, len, now);
		} else {
			uint8_t f[MMDS_IN_MAX];
			uint8_t h[11] = {0};
			memcpy(h, b, len < sizeof(h) ? len : sizeof(h));
			struct mmds_tcp_seg s = {.saddr = 0x0a000002,
						 .daddr = MMDS_DEFAULT_IPV4,
						 .sport = (uint16_t)(40000 + (h[0] & 3)),
						 .dport = h[0] & 4 ? 81 : MMDS_PORT,
						 .flags = h[1],
						 .seq = (uint32_t)h[2] << 24 |
							(uint32_t)h[3] << 16 | h[4] << 8 | h[5],
						 .ack = (uint32_t)h[6] << 24 |
							(uint32_t)h[7] << 16 | h[8] << 8 | h[9],
						 .window = (uint16_t)(h[10] << 8),
						 .mss = h[0] & 8 ? 536 : 0,
						 .data = len > sizeof(h) ? b + sizeof(h) : NULL,
						 .len = len > sizeof(h) ? len - sizeof(h) : 0};
			size_t n = mmds_tcp_build(f, sizeof(f), gmac, gmac, &s);
			if (n)
				mmds_resp_input(r, f, n, now);
		}
		check_out(r);
	}
	mmds_resp_free(r);
	mmds_store_free(st);
	return 0;
}
