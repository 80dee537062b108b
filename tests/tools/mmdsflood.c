/* SPDX-License-Identifier: MIT */
/* A hostile guest's frames to the MMDS (tests/linux/mmds-cases.sh): runs
 * in the test guest and writes N raw frames through an AF_PACKET socket on
 * an interface, each addressed to the MMDS (ARP for its address, or IPv4
 * to it) and malformed or unexpected in its own way: truncated headers,
 * bad header lengths, fragments, other protocols, TCP segments with random
 * flags, sequence numbers, ports and payloads, SYN floods from many ports,
 * requests without their end. Deterministic (a fixed seed).
 *   mmdsflood IFNAME COUNT [A.B.C.D]   (default 169.254.169.254)
 * Prints "FLOOD sent=N failed=M". */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* One frame to the MMDS at ip from mac; its length. */
static size_t frame(uint8_t *f, const uint8_t mac[6], uint32_t ip, uint32_t n)
{
	memset(f, 0, 1514);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	unsigned kind = n % 8;
	if (kind == 0) { /* ARP: requests, replies, bad lengths */
		put16(f + 12, 0x0806);
		uint8_t *a = f + 14;
		put16(a, rnd() % 3 ? 1 : rnd());
		put16(a + 2, 0x0800);
		a[4] = 6;
		a[5] = rnd() % 4 ? 4 : (uint8_t)rnd();
		put16(a + 6, 1 + rnd() % 3);
		memcpy(a + 8, mac, 6);
		put32(a + 14, rnd());
		put32(a + 24, ip);
		return 14 + 28 - (rnd() % 4 ? 0 : rnd() % 20);
	}
	put16(f + 12, 0x0800);
	uint8_t *p = f + 14;
	size_t tl = 20 + 20 + rnd() % 200;
	p[0] = 0x45;
	put16(p + 2, (unsigned)tl);
	p[8] = 64;
	p[9] = 6;
	put32(p + 12, 0x0a000802);
	put32(p + 16, ip);
	uint8_t *t = p + 20;
	put16(t, 30000 + rnd() % 200);
	put16(t + 2, rnd() % 8 ? 80 : rnd() % 65536);
	put32(t + 4, rnd());
	put32(t + 8, rnd());
	t[12] = 5 << 4;
	t[13] = (uint8_t)rnd();
	put16(t + 14, rnd());
	for (size_t i = 40; i < tl; i++)
		p[i] = (uint8_t)rnd();
	switch (kind) {
	case 1: /* header lengths that lie */
		p[0] = (uint8_t)(0x40 | (rnd() & 0xf));
		put16(p + 2, rnd() % 2000);
		break;
	case 2: /* fragments, other protocols */
		put16(p + 6, rnd() % 2 ? 0x2000 : rnd());
		p[9] = rnd() % 2 ? 1 : (uint8_t)rnd();
		break;
	case 3: /* TCP options and data offsets that lie */
		t[12] = (uint8_t)(rnd() & 0xf0);
		for (size_t i = 20; i < 40 && 20 + i < tl; i++)
			t[i] = (uint8_t)(rnd() % 4 ? rnd() % 3 : rnd());
		break;
	case 4: /* SYNs from many ports (some with the MSS option) */
		put16(t + 2, 80);
		t[13] = 0x02;
		tl = 40;
		put16(p + 2, (unsigned)tl);
		break;
	case 5: { /* a request that never ends, or garbage, on port 80 */
		put16(t + 2, 80);
		t[13] = 0x18;
		static const char req[] = "GET /latest/meta-data/";
		memcpy(t + 20, req, sizeof(req) - 1);
		break;
	}
	default: /* whatever the bytes say: truncated too */
		if (rnd() % 4 == 0)
			return 14 + rnd() % 40;
		break;
	}
	return 14 + tl;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mmdsflood IFNAME COUNT [ADDR]\n");
		return 2;
	}
	uint32_t ip = 0xa9fea9fe;
	struct in_addr in;
	if (argc > 3 && inet_pton(AF_INET, argv[3], &in) == 1)
		ip = ntohl(in.s_addr);
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s < 0) {
		perror("socket");
		return 1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		perror("SIOCGIFINDEX");
		return 1;
	}
	int index = ifr.ifr_ifindex;
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		perror("SIOCGIFHWADDR");
		return 1;
	}
	uint8_t mac[6];
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = index, .sll_halen = 6};
	unsigned long count = strtoul(argv[2], NULL, 0), sent = 0, failed = 0;
	uint8_t f[1514];
	for (unsigned long i = 0; i < count; i++) {
		size_t len = frame(f, mac, ip, (uint32_t)i);
		if (len < 14)
			len = 14;
		memcpy(sll.sll_addr, f, 6);
		if (sendto(s, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			failed++;
			usleep(1000); /* the queue is full: let it drain */
		} else {
			sent++;
		}
	}
	printf("FLOOD sent=%lu failed=%lu\n", sent, failed);
	close(s);
	return 0;
}
