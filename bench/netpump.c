/* SPDX-License-Identifier: MIT */
/* netpump: the host-side frame source of bench/run's net-rx case. Sends
 * broadcast Ethernet frames of SIZE bytes (ethertype 0x88b5, local
 * experimental) out of interface IFACE through an AF_PACKET socket until
 * killed; on a full queue it yields briefly and goes on. On a tap, every
 * frame it sends is a frame the VMM reads from the tap for its guest.
 * Built statically, like timeit, for the test host's initramfs.
 * usage: netpump IFACE SIZE */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: netpump IFACE SIZE\n");
		return 2;
	}
	char *end;
	long size = strtol(argv[2], &end, 10);
	if (*end || size < 60 || size > 1514) {
		fprintf(stderr, "netpump: SIZE must be 60..1514\n");
		return 2;
	}
	unsigned idx = if_nametoindex(argv[1]);
	if (!idx) {
		fprintf(stderr, "netpump: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
	if (fd < 0) {
		fprintf(stderr, "netpump: socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(0x88b5),
				 .sll_ifindex = (int)idx,
				 .sll_halen = 6};
	memset(sa.sll_addr, 0xff, 6);
	unsigned char frame[1514] = {0};
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x52\x54\x00\x70\x75\x6d", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned long long n = 0;; n++) {
		memcpy(frame + 14, &n, sizeof(n));
		if (sendto(fd, frame, (size_t)size, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
			    errno != ENETDOWN) {
				fprintf(stderr, "netpump: sendto: %s\n", strerror(errno));
				return 1;
			}
			nanosleep(&(struct timespec){0, 20000}, NULL);
		}
	}
}
