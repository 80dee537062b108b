/* SPDX-License-Identifier: MIT */
/* virtio-net's device model against rings in a fake guest memory: TX chain
 * checks, RX delivery into one or many (mergeable) buffers, waiting without
 * consuming when the driver posted too few, hostile layouts; the control
 * queue parser; the default MAC; the --net option parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/net.h"
#include "vq_rig.h"
#include "vmm/cli/args.h"

#define MEM   VQR_MEM
#define BUF   0x10000ULL
#define QSIZE VQR_QSIZE

/* Used element i's length. */
static uint32_t used_len(struct vq_rig *r, uint16_t i)
{
	uint32_t id, len;
	rr_used(&r->ring, i, &id, &len);
	return len;
}

static uint32_t used_id(struct vq_rig *r, uint16_t i)
{
	uint32_t id, len;
	rr_used(&r->ring, i, &id, &len);
	return id;
}

static void pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* ---- TX ---- */

static void test_tx_keep_and_strip_header(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint32_t lens[] = {NET_HDR_LEN, 60, 1000};
	rr_post_lens(&r->ring, BUF, lens, 3, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	struct iovec iov[8];
	size_t flen;
	assert_int_equal(net_tx_iov(&r->c, true, true, iov, 8, &flen), 3);
	assert_int_equal(flen, 1060);
	assert_ptr_equal(iov[0].iov_base, fake_at(&r->f, BUF, 1));
	assert_int_equal(iov[0].iov_len, NET_HDR_LEN);
	assert_int_equal(net_tx_iov(&r->c, false, false, iov, 8, &flen), 2);
	assert_ptr_equal(iov[0].iov_base, fake_at(&r->f, BUF + NET_HDR_LEN, 1));
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 1060);
	/* header and frame in one segment, stripped: the frame starts inside it */
	vq_rig_fresh(state);
	uint32_t one[] = {NET_HDR_LEN + 100};
	rr_post_lens(&r->ring, BUF, one, 1, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(net_tx_iov(&r->c, false, false, iov, 8, &flen), 1);
	assert_ptr_equal(iov[0].iov_base, fake_at(&r->f, BUF + NET_HDR_LEN, 1));
	assert_int_equal(iov[0].iov_len, 100);
}

static void test_tx_rejects(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	struct iovec iov[4];
	size_t flen;
	uint32_t shortl[] = {NET_HDR_LEN + NET_MIN_FRAME - 1};
	rr_post_lens(&r->ring, BUF, shortl, 1, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(net_tx_iov(&r->c, true, true, iov, 4, &flen), -EINVAL);
	uint32_t longl[] = {NET_HDR_LEN, NET_MAX_FRAME + 1};
	rr_post_lens(&r->ring, BUF, longl, 2, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(net_tx_iov(&r->c, true, true, iov, 4, &flen), -EINVAL);
	/* GSO asked of a peer that cannot segment */
	uint8_t *h = fake_at(&r->f, BUF, NET_HDR_LEN);
	uint32_t ok[] = {NET_HDR_LEN, 100};
	rr_post_lens(&r->ring, BUF, ok, 2, 0);
	h[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(net_tx_iov(&r->c, false, false, iov, 4, &flen), -EINVAL);
	assert_int_equal(net_tx_iov(&r->c, true, true, iov, 4, &flen), 2);
	/* more segments than the request holds */
	uint32_t many[6] = {NET_HDR_LEN, 20, 20, 20, 20, 20};
	rr_post_lens(&r->ring, BUF, many, 6, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(net_tx_iov(&r->c, true, true, iov, 4, &flen), -EINVAL);
}

/* ---- RX ---- */

static void test_rx_mergeable_spans_buffers(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint32_t l[] = {1500};
	uint16_t h0 = rr_post_lens(&r->ring, BUF, l, 1, VRING_DESC_F_WRITE);
	uint16_t h1 = rr_post_lens(&r->ring, BUF + 0x1000, l, 1, VRING_DESC_F_WRITE);
	uint16_t h2 = rr_post_lens(&r->ring, BUF + 0x2000, l, 1, VRING_DESC_F_WRITE);
	rr_post_lens(&r->ring, BUF + 0x3000, l, 1, VRING_DESC_F_WRITE);
	uint8_t hdr[NET_HDR_LEN] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xee};
	static uint8_t pkt[3000];
	pattern(pkt, sizeof(pkt), 3);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 1);
	assert_int_equal(rr_used_idx(&r->ring), 3);
	assert_int_equal(used_id(r, 0), h0);
	assert_int_equal(used_id(r, 1), h1);
	assert_int_equal(used_id(r, 2), h2);
	assert_int_equal(used_len(r, 0), 1500);
	assert_int_equal(used_len(r, 1), 1500);
	assert_int_equal(used_len(r, 2), 12);
	uint8_t *b0 = fake_at(&r->f, BUF, 1500);
	assert_int_equal(b0[0], 1);
	assert_int_equal(rd16(b0 + 10), 3); /* num_buffers */
	assert_memory_equal(b0 + NET_HDR_LEN, pkt, 1500 - NET_HDR_LEN);
	assert_memory_equal(fake_at(&r->f, BUF + 0x1000, 1500), pkt + 1488, 1500);
	assert_memory_equal(fake_at(&r->f, BUF + 0x2000, 12), pkt + 2988, 12);
}

static void test_rx_waits_for_buffers(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint8_t hdr[NET_HDR_LEN] = {0};
	static uint8_t pkt[2000];
	pattern(pkt, sizeof(pkt), 9);
	/* nothing posted */
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 0);
	/* one buffer too few: nothing consumed, nothing used */
	uint32_t l[] = {1024};
	rr_post_lens(&r->ring, BUF, l, 1, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 0);
	assert_int_equal(rr_used_idx(&r->ring), 0);
	assert_int_equal(r->q.last_avail, 0);
	/* Waiting for more: the buffer already there is no reason to try
	 * again (vq_enable_notify would say there is one: a busy loop). */
	assert_true(vq_enable_notify(&r->q));
	assert_false(vq_enable_notify_more(&r->q));
	rr_post_lens(&r->ring, BUF + 0x1000, l, 1, VRING_DESC_F_WRITE);
	assert_true(vq_enable_notify_more(&r->q)); /* one came since */
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 1);
	assert_int_equal(rr_used_idx(&r->ring), 2);
	assert_int_equal(used_len(r, 0) + used_len(r, 1), NET_HDR_LEN + sizeof(pkt));
	assert_int_equal(rd16(fake_at(&r->f, BUF + 10, 2)), 2);
}

static void test_rx_big_buffers(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint8_t hdr[NET_HDR_LEN] = {0};
	static uint8_t pkt[1400];
	pattern(pkt, sizeof(pkt), 1);
	/* without MRG_RXBUF one chain takes the packet; a small one cannot */
	uint32_t small[] = {1000};
	rr_post_lens(&r->ring, BUF, small, 1, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, false, hdr, pkt, sizeof(pkt)), -EMSGSIZE);
	assert_int_equal(r->q.last_avail, 0); /* kept for a smaller packet */
	assert_int_equal(net_rx_deliver(&r->q, &r->c, false, hdr, pkt, 500), 1);
	uint32_t big[] = {NET_HDR_LEN, 4096, 4096};
	rr_post_lens(&r->ring, BUF + 0x1000, big, 3, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, false, hdr, pkt, sizeof(pkt)), 1);
	assert_int_equal(used_len(r, 1), NET_HDR_LEN + sizeof(pkt));
	assert_memory_equal(fake_at(&r->f, BUF + 0x1000 + NET_HDR_LEN, 100), pkt, 100);
	assert_int_equal(rd16(fake_at(&r->f, BUF + 0x1000 + 10, 2)), 1);
}

static void test_rx_header_split_and_tiny_buffers(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint8_t hdr[NET_HDR_LEN] = {0};
	static uint8_t pkt[100];
	pattern(pkt, sizeof(pkt), 5);
	/* a header split over two segments still gets num_buffers */
	uint32_t split[] = {6, 6, 200};
	rr_post_lens(&r->ring, BUF, split, 3, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 1);
	assert_int_equal(rd16(fake_at(&r->f, BUF + 10, 2)), 1);
	assert_memory_equal(fake_at(&r->f, BUF + 12, 100), pkt, 100);
	/* a first buffer smaller than the header can take nothing */
	uint32_t tiny[] = {8};
	rr_post_lens(&r->ring, BUF + 0x1000, tiny, 1, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), -EMSGSIZE);
	/* a device-readable buffer on the RX queue has no room at all */
	vq_rig_fresh(state);
	uint32_t ro[] = {2000};
	rr_post_lens(&r->ring, BUF, ro, 1, 0);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), -EMSGSIZE);
	assert_int_equal(rr_used_idx(&r->ring), 0);
}

static void test_rx_too_many_buffers(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint8_t hdr[NET_HDR_LEN] = {0};
	static uint8_t pkt[NET_MAX_FRAME];
	/* 64 buffers of 16 bytes cannot hold 64 KiB: not delivered, and the
	 * buffers stay with the driver */
	uint32_t l[] = {16};
	for (unsigned i = 0; i < QSIZE; i++)
		rr_post_lens(&r->ring, BUF + 16ULL * i, l, 1, VRING_DESC_F_WRITE);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), 0);
	assert_int_equal(rr_used_idx(&r->ring), 0);
	assert_int_equal(r->q.last_avail, 0);
}

static void test_rx_hostile_ring(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	uint8_t hdr[NET_HDR_LEN] = {0};
	uint8_t pkt[64] = {0};
	/* avail index far ahead of what was posted */
	rr_set_avail_idx(&r->ring, QSIZE + 5);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), -EINVAL);
	assert_true(r->q.broken);
	/* a buffer outside guest memory */
	vq_rig_fresh(state);
	rr_desc(&r->ring, 0, MEM - 8, 4096, VRING_DESC_F_WRITE, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(net_rx_deliver(&r->q, &r->c, true, hdr, pkt, sizeof(pkt)), -EINVAL);
}

/* ---- control queue ---- */

static const struct vq_chain *ctrl_chain(struct vq_chain *c, const uint8_t *cmd, size_t n,
					 uint8_t *ack, size_t ackn)
{
	memset(c, 0, sizeof(*c));
	c->iov[0] = (struct iovec){(void *)cmd, n};
	c->n_out = n ? 1 : 0;
	c->out_bytes = n;
	if (ackn) {
		c->iov[c->n_out] = (struct iovec){ack, ackn};
		c->n_in = 1;
		c->in_bytes = ackn;
	}
	return c;
}

static void test_ctrl(void **state)
{
	(void)state;
	static struct vq_chain c;
	uint8_t ack;
	unsigned pairs;
	uint8_t mq2[] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0};
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq2, 4, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_OK);
	assert_int_equal(pairs, 2);
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq2, 4, &ack, 1), 4, false, &pairs),
			 VIRTIO_NET_ERR);
	assert_int_equal(pairs, 0);
	uint8_t mq0[] = {VIRTIO_NET_CTRL_MQ, 0, 0, 0}, mq9[] = {VIRTIO_NET_CTRL_MQ, 0, 9, 0};
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq0, 4, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_ERR);
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq9, 4, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_ERR);
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq2, 3, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_ERR); /* truncated */
	uint8_t promisc[] = {VIRTIO_NET_CTRL_RX, 0, 1}, bogus[] = {77, 1};
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, promisc, 3, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_OK);
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, bogus, 2, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_ERR);
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, bogus, 0, &ack, 1), 4, true, &pairs),
			 VIRTIO_NET_ERR);
	/* no writable byte for the ack: the queue is unusable */
	assert_int_equal(net_ctrl_parse(ctrl_chain(&c, mq2, 4, &ack, 0), 4, true, &pairs), -EINVAL);
}

static void test_default_mac(void **state)
{
	(void)state;
	uint8_t a[6], b[6], c[6];
	net_default_mac("tap:tap0", 0, a);
	net_default_mac("tap:tap0", 0, b);
	net_default_mac("tap:tap0", 1, c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0], 0x02); /* locally administered, unicast */
	net_default_mac("tap:tap1", 0, b);
	assert_memory_not_equal(a, b, 6);
}

/* ---- --net ---- */

static void test_cli_net(void **state)
{
	(void)state;
	struct cvmm_net_config n;
	char t[64];
	int poll;
	const char *why = NULL;
	assert_int_equal(cli_parse_net("tap0", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(n.backend, CVMM_NET_TAP);
	assert_string_equal(n.target, "tap0");
	assert_int_equal(n.has_mac, 0);
	assert_int_equal(poll, -1); /* not given: the library's default */
	assert_int_equal(cli_parse_net("tap=vm1,queues=4,mac=52:54:00:ab:CD:ef", &n, t, sizeof(t),
				       &poll, &why),
			 0);
	assert_int_equal(n.backend, CVMM_NET_TAP);
	assert_string_equal(n.target, "vm1");
	assert_int_equal(n.queue_pairs, 4);
	assert_int_equal(n.has_mac, 1);
	assert_int_equal(n.mac[4], 0xcd);
	assert_int_equal(cli_parse_net("tapfd=7", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(n.backend, CVMM_NET_TAPFD);
	assert_int_equal(n.fd, 7);
	assert_null(n.target);
	assert_int_equal(cli_parse_net("passt=/run/p.sock", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(n.backend, CVMM_NET_STREAM);
	assert_string_equal(n.target, "/run/p.sock");
	assert_int_equal(cli_parse_net("stream=/tmp/s,listen", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(n.backend, CVMM_NET_STREAM_LISTEN);
	/* poll=US: its TX workers' largest polling window, 0 (off) up to
	 * CVMM_NET_POLL_MAX_US, with any backend, anywhere after the first */
	assert_int_equal(cli_parse_net("tap=vm1,poll=0,queues=2", &n, t, sizeof(t), &poll, &why),
			 0);
	assert_int_equal(poll, 0);
	assert_int_equal(n.queue_pairs, 2);
	assert_int_equal(
		cli_parse_net("stream=/tmp/s,listen,poll=250", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(poll, 250);
	assert_int_equal(n.backend, CVMM_NET_STREAM_LISTEN);
	assert_int_equal(cli_parse_net("tapfd=3,poll=10000", &n, t, sizeof(t), &poll, &why), 0);
	assert_int_equal(poll, CVMM_NET_POLL_MAX_US);
	static const char *bad_poll[] = {"tap=x,poll=",
					 "tap=x,poll=10001",
					 "tap=x,poll=-1",
					 "tap=x,poll=1e3",
					 "tap=x,poll=5us",
					 "tap=x,poll= 5",
					 "tap=x,poll=99999999999999"};
	for (size_t i = 0; i < sizeof(bad_poll) / sizeof(bad_poll[0]); i++) {
		why = NULL;
		if (cli_parse_net(bad_poll[i], &n, t, sizeof(t), &poll, &why) != -EINVAL)
			fail_msg("'%s' was accepted", bad_poll[i]);
		if (!why || !strstr(why, "poll=US") || !strstr(why, "10000"))
			fail_msg("'%s': refused without saying why (%s)", bad_poll[i],
				 why ? why : "nothing");
	}
	static const char *bad[] = {
		"",
		",",
		"tap=",
		"tap=x,",
		"tap=x,queues=0",
		"tap=x,queues=9",
		"tap=x,queues=",
		"tapfd=",
		"tapfd=x",
		"tapfd=-1",
		"passt=/p,listen",
		"stream=/p,queues=2",
		"tap=x,mac=01:00:5e:00:00:01",
		"tap=x,mac=52:54:00:00:00",
		"tap=x,mac=zz:54:00:00:00:00",
		"tap=x,bogus=1",
		"tap=x,listen",
		"tap=x,poll",
		"poll=5",
		"mac=52:54:00:00:00:01",
		"x,tap=y",
		"tap="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cli_parse_net(bad[i], &n, t, sizeof(t), &poll, &why) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_RIG_TEST(test_tx_keep_and_strip_header),
		VQ_RIG_TEST(test_tx_rejects),
		VQ_RIG_TEST(test_rx_mergeable_spans_buffers),
		VQ_RIG_TEST(test_rx_waits_for_buffers),
		VQ_RIG_TEST(test_rx_big_buffers),
		VQ_RIG_TEST(test_rx_header_split_and_tiny_buffers),
		VQ_RIG_TEST(test_rx_too_many_buffers),
		VQ_RIG_TEST(test_rx_hostile_ring),
		cmocka_unit_test(test_ctrl),
		cmocka_unit_test(test_default_mac),
		cmocka_unit_test(test_cli_net),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
