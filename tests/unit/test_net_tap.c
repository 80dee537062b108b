/* SPDX-License-Identifier: MIT */
/* virtio-net's tap backend below the transport: a real tap (created here,
 * so root or CAP_NET_ADMIN; skipped without), the device's real RX/TX
 * workers run inline (vq_workers_run: the test decides when the worker
 * wakes), rings in a fake guest memory. Frames the host sends into the tap
 * (an AF_PACKET socket on it) while the worker sleeps come out in one
 * wake-up, in order, behind one interrupt; a batch of TX frames the driver
 * posts goes out in one wake-up behind one interrupt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net.h"
#include "fake_mem.h"
#include "tests/rig/vdev.h"

#define MEM	 (1 * MiB)
#define QSIZE	 64
#define RX_DESC	 0x1000ULL
#define RX_AVAIL 0x3000ULL
#define RX_USED	 0x4000ULL
#define TX_DESC	 0x6000ULL
#define TX_AVAIL 0x8000ULL
#define TX_USED	 0x9000ULL
#define RX_BUF	 0x10000ULL
#define TX_BUF	 0x80000ULL
#define BUFSZ	 2048
#define ETYPE	 0x88b5 /* local experimental */

struct rig {
	struct fake_mem f;
	struct net *n;
	struct virtio_dev *d;
	struct vd v;
	int kicks[2];
	int irqfd;
	int pkt; /* AF_PACKET socket on the tap (host side) */
	unsigned ifindex;
	char name[IFNAMSIZ];
};

#define RX(r) (&(r)->v.q[0].r)
#define TX(r) (&(r)->v.q[1].r)

/* The interrupts raised since the last call (the irqfd's counter). */
static uint64_t irqs(struct rig *r)
{
	uint64_t v = 0;
	if (read(r->irqfd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

static void frame(uint8_t *p, size_t n, uint8_t seed)
{
	memset(p, 0xff, 6); /* broadcast */
	memcpy(p + 6, "\x52\x54\x00\x74\x61\x70", 6);
	p[12] = ETYPE >> 8;
	p[13] = ETYPE & 0xff;
	for (size_t i = 14; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* The host sends one frame out of the tap: the device's RX reads it. */
static void host_send(struct rig *r, size_t len, uint8_t seed)
{
	uint8_t buf[1514];
	frame(buf, len, seed);
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETYPE),
				 .sll_ifindex = (int)r->ifindex,
				 .sll_halen = 6};
	memset(sa.sll_addr, 0xff, 6);
	assert_int_equal(sendto(r->pkt, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)len);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(fake_mem_init(&r->f, MEM), 0);
	/* a name per test: the last one's tap goes only once its worker's
	 * ring has been torn down, which the kernel finishes later */
	static unsigned seq;
	snprintf(r->name, sizeof(r->name), "cvmmt%u.%u", (unsigned)getpid() % 100000, seq++);
	struct net_cfg cfg = {.backend = NET_TAP, .target = r->name, .fd = -1};
	struct err e = {0};
	if (net_open(&r->n, &cfg, 0, &e) < 0)
		fail_msg("tap %s: %s", r->name, e.msg);
	/* No IPv6 on it (its autoconfiguration would send frames too), up */
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", r->name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", r->name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	r->ifindex = if_nametoindex(r->name);
	assert_true(r->ifindex > 0);
	r->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETYPE));
	assert_true(r->pkt >= 0);

	r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_irqfds irq = {.config = r->irqfd};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = r->irqfd;
	r->d = net_vdev(r->n);
	r->d->inline_workers = true; /* the test runs them: it decides when they wake */
	assert_int_equal(net_start(r->n, &r->f.m, &irq, &e), 0);
	r->v = (struct vd){.m = &r->f.m, .d = r->d};
	r->kicks[0] = net_kick_fd(r->n, 0);
	r->kicks[1] = net_kick_fd(r->n, 1);
	vd_ring_set(&r->v, 0, RX_DESC, RX_AVAIL, RX_USED, QSIZE, r->kicks[0]);
	vd_ring_set(&r->v, 1, TX_DESC, TX_AVAIL, TX_USED, QSIZE, r->kicks[1]);
	assert_true(vd_init(&r->v, 1ULL << VIRTIO_NET_F_MRG_RXBUF) & VIRTIO_CONFIG_S_DRIVER_OK);
	for (unsigned i = 0; i < 48; i++) {
		rr_desc(RX(r), i, RX_BUF + (uint64_t)i * BUFSZ, BUFSZ, VRING_DESC_F_WRITE, 0);
		rr_avail(RX(r), (uint16_t)i);
	}
	uint64_t one = 1;
	assert_int_equal(write(r->kicks[0], &one, 8), 8);
	vq_workers_run(r->d, 0); /* RX's reads go out and wait: the tap is empty */
	(void)irqs(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;
	net_destroy(r->n); /* the tap goes with its last descriptor */
	close(r->pkt);
	close(r->irqfd);
	fake_mem_free(&r->f);
	free(r);
	return 0;
}

/* Used entry i of RX is ours (our ethertype), frame `seed` of len bytes:
 * true; another frame (the host's own traffic): false. */
static bool rx_is(struct rig *r, uint16_t i, size_t len, uint8_t seed)
{
	uint32_t id, used_len;
	vd_used(&r->v, 0, i, &id, &used_len);
	assert_true(id < QSIZE);
	uint8_t *b = fake_at(&r->f, RX_BUF + (uint64_t)id * BUFSZ, BUFSZ);
	if (used_len < NET_HDR_LEN + 14 || b[NET_HDR_LEN + 12] != (ETYPE >> 8) ||
	    b[NET_HDR_LEN + 13] != (ETYPE & 0xff))
		return false;
	assert_int_equal(used_len, NET_HDR_LEN + len);
	uint8_t want[1514];
	frame(want, len, seed);
	assert_memory_equal(b + NET_HDR_LEN, want, len);
	return true;
}

/* Five frames queue in the tap while the worker sleeps: one wake-up
 * delivers them all, in order, with one interrupt (a read at a time
 * raised one per frame). */
static void test_rx_batch_one_interrupt(void **state)
{
	struct rig *r = *state;
	static const size_t lens[] = {60, 1514, 100, 60, 700};
	uint64_t irqs0 = atomic_load(&r->d->irqs);
	for (unsigned k = 0; k < 5; k++)
		host_send(r, lens[k], (uint8_t)(k + 1));
	vq_workers_run(r->d, 0); /* one wake-up: what is ready, nothing waited for */
	uint16_t used = vd_used_idx(&r->v, 0);
	assert_true(used >= 5);
	unsigned k = 0;
	for (uint16_t i = 0; i < used; i++)
		if (rx_is(r, i, k < 5 ? lens[k] : 60, (uint8_t)(k + 1)))
			k++;
	assert_int_equal(k, 5);
	assert_int_equal(irqs(r), 1);
	assert_int_equal(atomic_load(&r->d->irqs) - irqs0, 1);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_true(m.net.rx_packets_count >= 5);
	assert_int_equal(m.net.rx_fails + m.net.tap_read_fails, 0);

	/* More than the reads one wake-up has out (NET_RX_SLOTS): all of
	 * them come, still in order, and the guest is told at least once. */
	for (unsigned j = 0; j < 3 * NET_RX_SLOTS; j++)
		host_send(r, 60 + j, (uint8_t)(0x40 + j));
	for (int t = 0; t < 100 && vd_used_idx(&r->v, 0) < used + 3 * NET_RX_SLOTS; t++)
		vq_workers_run(r->d, 10);
	uint16_t now = vd_used_idx(&r->v, 0);
	k = 0;
	for (uint16_t i = used; i != now; i++)
		if (rx_is(r, i, 60 + k, (uint8_t)(0x40 + k)))
			k++;
	assert_int_equal(k, 3 * NET_RX_SLOTS);
	assert_true(irqs(r) >= 1);
}

/* TX frame in slot k: descriptors 2k, 2k + 1 (header, frame); not kicked. */
static void post_tx(struct rig *r, unsigned k, size_t len, uint8_t seed)
{
	uint64_t at = TX_BUF + 2048ULL * k;
	uint8_t buf[1514];
	frame(buf, len, seed);
	memset(fake_at(&r->f, at, NET_HDR_LEN), 0, NET_HDR_LEN);
	memcpy(fake_at(&r->f, at + 64, len), buf, len);
	rr_desc(TX(r), 2 * k, at, NET_HDR_LEN, VRING_DESC_F_NEXT, (uint16_t)(2 * k + 1));
	rr_desc(TX(r), 2 * k + 1, at + 64, (uint32_t)len, 0, 0);
	rr_avail(TX(r), (uint16_t)(2 * k));
}

/* A batch of TX frames and one kick: one wake-up sends them all, the used
 * ring gets them all, and the driver gets one interrupt. */
static void test_tx_batch_one_interrupt(void **state)
{
	struct rig *r = *state;
	uint64_t irqs0 = atomic_load(&r->d->irqs);
	for (unsigned k = 0; k < 16; k++)
		post_tx(r, k, 60 + 10 * k, (uint8_t)k);
	uint64_t one = 1;
	assert_int_equal(write(r->kicks[1], &one, 8), 8);
	vq_workers_run(r->d, 0);
	assert_int_equal(vd_used_idx(&r->v, 1), 16);
	/* (RX's interrupt too if the host's stack sent a frame meanwhile) */
	unsigned rx = vd_used_idx(&r->v, 0) != 0;
	assert_int_equal(atomic_load(&r->d->irqs) - irqs0, 1 + rx);
	struct vdev_metrics m = {0};
	net_desc.metrics(r->n, &m);
	assert_int_equal(m.net.tx_packets_count, 16);
	assert_int_equal(m.net.tx_malformed_frames + m.net.tx_fails + m.net.tap_write_fails, 0);
}

int main(void)
{
	skip_without_uring();
	/* A tap of our own needs /dev/net/tun and CAP_NET_ADMIN */
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "cvmmp%u", (unsigned)getpid() % 100000);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "cannot create a tap here (%s): skipped\n", strerror(errno));
		return 77;
	}
	close(fd);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rx_batch_one_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_batch_one_interrupt, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
