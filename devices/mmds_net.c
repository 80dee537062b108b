/* SPDX-License-Identifier: MIT */
/* MMDS frames: Ethernet, ARP, IPv4 and TCP, parsed and built (pure; fuzzed
 * by fuzz_mmds_frame). What the guest sends is read with its lengths
 * checked against the bytes there, never trusted. */
#include <errno.h>
#include <string.h>

#include "devices/mmds.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint32_t mmds_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len; i += 2) {
		sum += get16(p + i);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (i < len) {
		sum += (uint32_t)p[i] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

uint16_t mmds_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int mmds_eth_parse(const uint8_t *f, size_t len, uint16_t *type, const uint8_t **payload,
		   size_t *plen)
{
	if (len < 14)
		return -EINVAL;
	*type = get16(f + 12);
	*payload = f + 14;
	*plen = len - 14;
	return 0;
}

int mmds_arp_parse(const uint8_t *p, size_t len, struct mmds_arp *a)
{
	/* htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4 */
	if (len < 28 || get16(p) != 1 || get16(p + 2) != MMDS_ETH_IPV4 || p[4] != 6 || p[5] != 4)
		return -EINVAL;
	a->op = get16(p + 6);
	memcpy(a->sha, p + 8, 6);
	a->spa = get32(p + 14);
	memcpy(a->tha, p + 18, 6);
	a->tpa = get32(p + 24);
	return 0;
}

int mmds_ipv4_tcp_parse(const uint8_t *p, size_t len, struct mmds_tcp_seg *s)
{
	memset(s, 0, sizeof(*s));
	if (len < 20 || p[0] >> 4 != 4)
		return -EINVAL;
	size_t ihl = (size_t)(p[0] & 0xf) * 4;
	size_t total = get16(p + 2);
	/* no fragments: MF clear, offset 0 (DF is fine) */
	if (ihl < 20 || total < ihl || total > len || (get16(p + 6) & 0x3fff))
		return -EINVAL;
	s->saddr = get32(p + 12);
	s->daddr = get32(p + 16);
	if (p[9] != 6)
		return -EPROTO;
	const uint8_t *t = p + ihl;
	size_t tlen = total - ihl;
	if (tlen < 20)
		return -EINVAL;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > tlen)
		return -EINVAL;
	s->sport = get16(t);
	s->dport = get16(t + 2);
	s->seq = get32(t + 4);
	s->ack = get32(t + 8);
	s->flags = t[13] & 0x3f;
	s->window = get16(t + 14);
	/* options: MSS is all we read; the rest is skipped, bounded */
	for (size_t i = 20; i < doff;) {
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff || t[i + 1] < 2 || i + t[i + 1] > doff)
			return -EINVAL;
		if (kind == 2 && t[i + 1] == 4)
			s->mss = get16(t + i + 2);
		i += t[i + 1];
	}
	s->data = t + doff;
	s->len = tlen - doff;
	return 0;
}

bool mmds_frame_for(const uint8_t *f, size_t len, uint32_t ip)
{
	if (len < 14)
		return false;
	uint16_t type = get16(f + 12);
	if (type == MMDS_ETH_ARP)
		return len >= 14 + 28 && get32(f + 14 + 24) == ip;
	if (type == MMDS_ETH_IPV4)
		return len >= 14 + 20 && get32(f + 14 + 16) == ip;
	return false;
}

static void eth_header(uint8_t *out, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put16(out + 12, type);
}

size_t mmds_arp_reply(uint8_t *out, const uint8_t mmds_mac[6], uint32_t mmds_ip,
		      const uint8_t dst_mac[6], uint32_t dst_ip)
{
	eth_header(out, dst_mac, mmds_mac, MMDS_ETH_ARP);
	uint8_t *a = out + 14;
	put16(a, 1);
	put16(a + 2, MMDS_ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, mmds_mac, 6);
	put32(a + 14, mmds_ip);
	memcpy(a + 18, dst_mac, 6);
	put32(a + 24, dst_ip);
	return 14 + 28;
}

size_t mmds_tcp_build(uint8_t *out, size_t cap, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      const struct mmds_tcp_seg *s)
{
	size_t opt = s->mss ? 4 : 0;
	size_t tlen = 20 + opt + s->len;
	size_t total = 14 + 20 + tlen;
	if (total > cap || 20 + tlen > 0xffff)
		return 0;
	eth_header(out, dst_mac, src_mac, MMDS_ETH_IPV4);
	uint8_t *ip = out + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tlen));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, s->saddr);
	put32(ip + 16, s->daddr);
	put16(ip + 10, mmds_csum_fold(mmds_csum_add(0, ip, 20)));
	uint8_t *t = ip + 20;
	memset(t, 0, 20 + opt);
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((20 + opt) / 4) << 4;
	t[13] = s->flags;
	put16(t + 14, s->window);
	if (opt) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, s->mss);
	}
	if (s->len)
		memcpy(t + 20 + opt, s->data, s->len);
	uint8_t pseudo[12];
	put32(pseudo, s->saddr);
	put32(pseudo + 4, s->daddr);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tlen);
	uint32_t sum = mmds_csum_add(mmds_csum_add(0, pseudo, 12), t, tlen);
	put16(t + 16, mmds_csum_fold(sum));
	return total;
}
