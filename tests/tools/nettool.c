/* SPDX-License-Identifier: MIT */
/* nettool: host-side helpers for the virtio-net tests.
 *   nettool tapfd IFNAME UID CMD [ARG...]
 *       opens tap IFNAME (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) as descriptor 3,
 *       drops to UID (and its gid) with no capabilities, then runs CMD with
 *       "{fd}" in its arguments replaced by 3: a manager handing cvmm a tap
 *       so that cvmm itself never holds CAP_NET_ADMIN.
 *   nettool flood IFNAME SECONDS
 *       sends broadcast UDP frames out of IFNAME (towards the guest on the
 *       other side of the tap) as fast as it can; prints how many. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int tapfd(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	int fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0) {
		perror("nettool: /dev/net/tun");
		return 1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[2]);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("nettool: TUNSETIFF");
		return 1;
	}
	if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0))
		return 1;
	uid_t uid = (uid_t)atoi(argv[3]);
	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
		perror("nettool: dropping privileges");
		return 1;
	}
	char **args = &argv[4];
	for (int i = 0; args[i]; i++)
		if (!strcmp(args[i], "{fd}"))
			args[i] = "3";
		else if (strstr(args[i], "{fd}")) {
			char *s = malloc(strlen(args[i]) + 1), *p = strstr(args[i], "{fd}");
			sprintf(s, "%.*s3%s", (int)(p - args[i]), args[i], p + 4);
			args[i] = s;
		}
	execvp(args[0], args);
	perror("nettool: exec");
	return 127;
}

static int flood(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0) {
		perror("nettool: AF_PACKET");
		return 1;
	}
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_ifindex = (int)if_nametoindex(argv[2]),
				 .sll_halen = 6};
	memset(sa.sll_addr, 0xff, 6);
	uint8_t f[1024];
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);			      /* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6); /* source */
	f[12] = 0x08;				      /* IPv4 */
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	uint16_t tot = htons(sizeof(f) - 14);
	memcpy(ip + 2, &tot, 2);
	ip[8] = 64;
	ip[9] = 17; /* UDP to 255.255.255.255:9 (discard) */
	memset(ip + 16, 0xff, 4);
	uint8_t *udp = ip + 20;
	udp[3] = 9;
	uint16_t ul = htons(sizeof(f) - 34);
	memcpy(udp + 4, &ul, 2);
	time_t end = time(NULL) + atoi(argv[3]);
	unsigned long sent = 0, failed = 0;
	while (time(NULL) < end) {
		if (sendto(s, f, sizeof(f), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			failed++;
		else
			sent++;
	}
	printf("FLOOD sent=%lu failed=%lu\n", sent, failed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "tapfd"))
		return tapfd(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "flood"))
		return flood(argc, argv);
	fprintf(stderr, "usage: nettool tapfd IFNAME UID CMD [ARG...] | flood IFNAME SECONDS\n");
	return 2;
}
