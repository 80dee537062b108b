/* SPDX-License-Identifier: MIT */
/* virtio-vsock's device model: packet headers from TX chains in a fake
 * guest memory (hostile lengths, CIDs, ops, types, split headers), credit
 * accounting both ways, the connection state machine, the CONNECT line
 * parser with hostile input, and the --vsock option parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vsock.h"
#include "vq_rig.h"
#include "vmm/cli/args.h"

#define MEM   VQR_MEM
#define BUF   0x10000ULL
#define QSIZE VQR_QSIZE
#define GCID  3

/* Writes hdr (+ payload of plen bytes) at BUF and posts it as a readable
 * chain cut into segments of the given lengths; pops it into r->c. */
static void tx_chain(struct vq_rig *r, const struct vsock_hdr *h, size_t plen, const uint32_t *lens,
		     unsigned n)
{
	vsock_hdr_encode(h, fake_at(&r->f, BUF, VSOCK_HDR_LEN));
	for (size_t i = 0; i < plen; i++)
		*fake_at(&r->f, BUF + VSOCK_HDR_LEN + i, 1) = (uint8_t)(i * 7);
	rr_post_lens(&r->ring, BUF, lens, n, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
}

static struct vsock_hdr pkt(uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){.src_cid = GCID,
				  .dst_cid = VSOCK_HOST_CID,
				  .src_port = 1234,
				  .dst_port = 5000,
				  .len = len,
				  .type = VIRTIO_VSOCK_TYPE_STREAM,
				  .op = op,
				  .buf_alloc = 262144,
				  .fwd_cnt = 0};
}

/* ---- headers ---- */

static void test_hdr_roundtrip(void **state)
{
	(void)state;
	struct vsock_hdr h = {0x1122334455667788ULL,
			      0x99aabbccddeeff00ULL,
			      0xdeadbeef,
			      7,
			      65536,
			      1,
			      5,
			      3,
			      0x40000,
			      0xfffffffe};
	uint8_t b[VSOCK_HDR_LEN];
	vsock_hdr_encode(&h, b);
	/* little endian, packed, in the spec's order */
	assert_int_equal(b[0], 0x88);
	assert_int_equal(b[16], 0xef);
	assert_int_equal(rd32(b + 24), 65536);
	assert_int_equal(rd16(b + 28), 1);
	assert_int_equal(rd16(b + 30), 5);
	assert_int_equal(rd32(b + 40), 0xfffffffe);
	struct vsock_hdr g;
	vsock_hdr_decode(b, &g);
	assert_true(g.src_cid == h.src_cid && g.dst_cid == h.dst_cid);
	assert_true(g.src_port == h.src_port && g.dst_port == h.dst_port && g.len == h.len);
	assert_true(g.type == h.type && g.op == h.op && g.flags == h.flags);
	assert_true(g.buf_alloc == h.buf_alloc && g.fwd_cnt == h.fwd_cnt);
}

static void test_tx_parse_ok(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RW, 100), g;
	uint32_t one[] = {VSOCK_HDR_LEN + 100};
	tx_chain(r, &h, 100, one, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), 0);
	assert_int_equal(g.len, 100);
	assert_int_equal(g.src_port, 1234);
	/* the header split over three segments, payload in a fourth */
	vq_rig_fresh(state);
	uint32_t split[] = {10, 20, 14, 100};
	tx_chain(r, &h, 100, split, 4);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), 0);
	assert_int_equal(g.dst_port, 5000);
	assert_int_equal(g.buf_alloc, 262144);
	/* a control op's payload is ignored */
	vq_rig_fresh(state);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 8);
	uint32_t ctl[] = {VSOCK_HDR_LEN + 8};
	tx_chain(r, &h, 8, ctl, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), 0);
	assert_int_equal(g.len, 0);
}

static void test_tx_parse_hostile(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	struct vsock_hdr g;
	/* shorter than a header */
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RW, 0);
	uint32_t short_[] = {VSOCK_HDR_LEN - 1};
	tx_chain(r, &h, 0, short_, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	/* len beyond the chain, len huge, len beyond VSOCK_MAX_PKT */
	uint32_t lens[] = {0xffffffffu, 101, VSOCK_MAX_PKT + 1};
	for (unsigned i = 0; i < 3; i++) {
		vq_rig_fresh(state);
		h = pkt(VIRTIO_VSOCK_OP_RW, lens[i]);
		uint32_t seg[] = {VSOCK_HDR_LEN + (i == 2 ? VSOCK_MAX_PKT + 1 : 100)};
		tx_chain(r, &h, 0, seg, 1);
		assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	}
	/* wrong source CID (spoofing another guest), wrong destination */
	uint32_t seg[] = {VSOCK_HDR_LEN};
	vq_rig_fresh(state);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = 4;
	tx_chain(r, &h, 0, seg, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	vq_rig_fresh(state);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 1;
	tx_chain(r, &h, 0, seg, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	vq_rig_fresh(state);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = GCID | (1ULL << 32); /* the CID is 64 bits on the wire */
	tx_chain(r, &h, 0, seg, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	/* unknown ops */
	uint16_t ops[] = {VIRTIO_VSOCK_OP_INVALID, 8, 0xffff};
	for (unsigned i = 0; i < 3; i++) {
		vq_rig_fresh(state);
		h = pkt(ops[i], 0);
		tx_chain(r, &h, 0, seg, 1);
		assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EINVAL);
	}
	/* SEQPACKET (2) and nonsense types: a reset, not a drop */
	vq_rig_fresh(state);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = 2;
	tx_chain(r, &h, 0, seg, 1);
	assert_int_equal(vsock_tx_parse(&r->c, GCID, &g), -EPROTONOSUPPORT);
	assert_int_equal(g.src_port, 1234);
}

/* ---- credit ---- */

static void test_credit(void **state)
{
	(void)state;
	struct vsock_credit c = {.peer_buf_alloc = 1000};
	assert_int_equal(vsock_peer_credit(&c), 1000);
	c.tx_cnt = 600;
	assert_int_equal(vsock_peer_credit(&c), 400);
	c.peer_fwd_cnt = 600;
	assert_int_equal(vsock_peer_credit(&c), 1000);
	c.tx_cnt = 1600;
	assert_int_equal(vsock_peer_credit(&c), 0);
	/* wrap-around of the 32-bit counters */
	c = (struct vsock_credit){
		.peer_buf_alloc = 1000, .tx_cnt = 100, .peer_fwd_cnt = 0xffffff00u};
	assert_int_equal(vsock_peer_credit(&c), 1000 - 356);
	/* a hostile guest claims it forwarded more than we sent */
	c = (struct vsock_credit){.peer_buf_alloc = 1000, .tx_cnt = 100, .peer_fwd_cnt = 5000};
	assert_int_equal(vsock_peer_credit(&c), 0);
	/* the guest hears about freed space once enough was freed */
	c = (struct vsock_credit){0};
	assert_false(vsock_credit_update_due(&c));
	c.rx_cnt = 1000;
	c.fwd_cnt = 1000;
	assert_false(vsock_credit_update_due(&c)); /* small, and the guest has room */
	c.rx_cnt = c.fwd_cnt = VSOCK_TX_BUF / 4;
	assert_true(vsock_credit_update_due(&c));
	c.fwd_sent = c.fwd_cnt;
	assert_false(vsock_credit_update_due(&c));
	/* the guest believes we are nearly full: any freed byte counts */
	c = (struct vsock_credit){.rx_cnt = VSOCK_TX_BUF, .fwd_cnt = 10};
	assert_true(vsock_credit_update_due(&c));
}

/* ---- the state machine ---- */

static void test_state_host_initiated(void **state)
{
	(void)state;
	struct vsock_cstate s = {.state = VSOCK_HOST_REQUEST};
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RESPONSE, 0);
	h.buf_alloc = 4096;
	h.fwd_cnt = 0;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_ESTABLISH);
	assert_int_equal(s.state, VSOCK_ESTABLISHED);
	assert_int_equal(s.cr.peer_buf_alloc, 4096);
	/* data within credit, then beyond it */
	h = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_TX_BUF - 10);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DATA);
	assert_int_equal(s.cr.rx_cnt, VSOCK_TX_BUF - 10);
	h = pkt(VIRTIO_VSOCK_OP_RW, 10);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DATA);
	h = pkt(VIRTIO_VSOCK_OP_RW, 1);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_RESET);
	/* after we forwarded, there is room again */
	s.cr.fwd_cnt = 100;
	h = pkt(VIRTIO_VSOCK_OP_RW, 100);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DATA);
	h = pkt(VIRTIO_VSOCK_OP_RW, 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DROP);
	h = pkt(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_CREDIT);
	h = pkt(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	h.buf_alloc = 8192;
	h.fwd_cnt = 77;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DROP);
	assert_int_equal(s.cr.peer_buf_alloc, 8192);
	assert_int_equal(s.cr.peer_fwd_cnt, 77);
	/* a second REQUEST or RESPONSE on a live connection */
	struct vsock_cstate t = s;
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	assert_int_equal(vsock_guest_event(&t, &h), VSOCK_A_RESET);
	t = s;
	h = pkt(VIRTIO_VSOCK_OP_RESPONSE, 0);
	assert_int_equal(vsock_guest_event(&t, &h), VSOCK_A_RESET);
}

/* Host-side output held in the connection's buffer (the OK line) comes
 * out of the credit the guest gets: what it may send and what is held
 * never add up to more than the buffer. */
static void test_state_reserved(void **state)
{
	(void)state;
	struct vsock_cstate s = {.state = VSOCK_HOST_REQUEST, .reserved = 14};
	assert_int_equal(vsock_buf_alloc(&s), VSOCK_TX_BUF - 14);
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RESPONSE, 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_ESTABLISH);
	for (unsigned i = 0; i < 3; i++) {
		h = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT);
		assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DATA);
	}
	struct vsock_cstate t = s;
	h = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT); /* 14 bytes too many */
	assert_int_equal(vsock_guest_event(&t, &h), VSOCK_A_RESET);
	h = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT - 14);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DATA);
	assert_int_equal(s.cr.rx_cnt + s.reserved, VSOCK_TX_BUF);
	h = pkt(VIRTIO_VSOCK_OP_RW, 1);
	t = s;
	assert_int_equal(vsock_guest_event(&t, &h), VSOCK_A_RESET);
	/* nonsense reservations leave no credit rather than wrap */
	s = (struct vsock_cstate){.state = VSOCK_ESTABLISHED, .reserved = VSOCK_TX_BUF + 1};
	assert_int_equal(vsock_buf_alloc(&s), 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_RESET);
}

static void test_state_shutdown(void **state)
{
	(void)state;
	struct vsock_cstate s = {.state = VSOCK_ESTABLISHED};
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_SHUTDOWN);
	assert_true(s.guest_no_send);
	assert_false(s.guest_no_rcv);
	/* data after "no more sending" */
	struct vsock_cstate t = s;
	h = pkt(VIRTIO_VSOCK_OP_RW, 5);
	assert_int_equal(vsock_guest_event(&t, &h), VSOCK_A_RESET);
	h = pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_FINISH);
	/* both at once */
	s = (struct vsock_cstate){.state = VSOCK_ESTABLISHED};
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND | 0xf0;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_FINISH);
	/* reset */
	s = (struct vsock_cstate){.state = VSOCK_ESTABLISHED};
	h = pkt(VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_CLOSE);
}

static void test_state_other(void **state)
{
	(void)state;
	struct vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RW, 10);
	/* the guest sends before it was answered */
	struct vsock_cstate s = {.state = VSOCK_GUEST_CONNECTING};
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_RESET);
	s.state = VSOCK_HOST_REQUEST;
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_RESET);
	/* refusing our REQUEST */
	s.state = VSOCK_HOST_REQUEST;
	h = pkt(VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_CLOSE);
	/* states the guest does not know */
	enum vsock_state quiet[] = {VSOCK_FREE, VSOCK_ACCEPTING, VSOCK_HOST_LINE, VSOCK_CLOSING};
	for (unsigned i = 0; i < 4; i++) {
		s = (struct vsock_cstate){.state = quiet[i]};
		h = pkt(VIRTIO_VSOCK_OP_RW, 10);
		assert_int_equal(vsock_guest_event(&s, &h), VSOCK_A_DROP);
		assert_int_equal(s.cr.rx_cnt, 0);
	}
}

/* ---- CONNECT line ---- */

static int parse(const char *s, uint32_t *port, size_t *used)
{
	return vsock_parse_connect(s, strlen(s), port, used);
}

static void test_connect_line(void **state)
{
	(void)state;
	uint32_t port = 0;
	size_t used = 0;
	assert_int_equal(parse("CONNECT 52\n", &port, &used), 1);
	assert_int_equal(port, 52);
	assert_int_equal(used, 11);
	assert_int_equal(parse("CONNECT 4294967295\nDATA", &port, &used), 1);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(used, 19);
	assert_int_equal(parse("CONNECT 0\r\n", &port, &used), 1);
	assert_int_equal(port, 0);
	assert_int_equal(used, 11);
	/* incomplete: wait for more */
	assert_int_equal(parse("", &port, &used), 0);
	assert_int_equal(parse("CONN", &port, &used), 0);
	assert_int_equal(parse("CONNECT 12", &port, &used), 0);
	/* hostile */
	const char *bad[] = {
		"CONNECT 4294967296\n", "CONNECT 99999999999999999999\n",
		"CONNECT -1\n",		"CONNECT abc\n",
		"CONNECT \n",		"CONNECT\n",
		"CONNECT  5\n",		"CONNECT 5 \n",
		"CONNECT 0x10\n",	"connect 5\n",
		"LISTEN 5\n",		"X",
		"CONNECT 5\r\r\n",	"\n",
		"CONNECT +5\n",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &port, &used), -EINVAL);
	/* embedded NUL, before or after the keyword */
	assert_int_equal(vsock_parse_connect("CONNECT 5\0\n", 11, &port, &used), -EINVAL);
	assert_int_equal(vsock_parse_connect("CON\0ECT 5\n", 10, &port, &used), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT \0", 9, &port, &used), -EINVAL);
	/* a long line without a newline, and with one too late */
	char longl[4096];
	memset(longl, '1', sizeof(longl));
	memcpy(longl, "CONNECT ", 8);
	assert_int_equal(vsock_parse_connect(longl, VSOCK_LINE_MAX - 1, &port, &used), 0);
	assert_int_equal(vsock_parse_connect(longl, VSOCK_LINE_MAX, &port, &used), -EINVAL);
	assert_int_equal(vsock_parse_connect(longl, sizeof(longl), &port, &used), -EINVAL);
	memset(longl + 8, '0', 100);
	longl[108] = '5';
	longl[109] = '\n';
	assert_int_equal(vsock_parse_connect(longl, 110, &port, &used), -EINVAL);
	/* many leading zeros within the limit are still a number */
	assert_int_equal(parse("CONNECT 0000000000000000000000000007\n", &port, &used), 1);
	assert_int_equal(port, 7);
}

/* ---- --vsock ---- */

static void test_cli_vsock(void **state)
{
	(void)state;
	uint64_t cid = 0;
	char path[128];
	assert_int_equal(cli_parse_vsock("cid=3,socket=/tmp/v.sock", &cid, path, sizeof(path)), 0);
	assert_int_equal(cid, 3);
	assert_string_equal(path, "/tmp/v.sock");
	assert_int_equal(cli_parse_vsock("socket=/a,cid=4294967294", &cid, path, sizeof(path)), 0);
	assert_int_equal(cid, 4294967294u);
	const char *bad[] = {
		"cid=2,socket=/a",
		"cid=1,socket=/a",
		"cid=0,socket=/a",
		"cid=4294967295,socket=/a",
		"cid=x,socket=/a",
		"cid=3",
		"socket=/a",
		"cid=3,socket=",
		"cid=3,socket=/a,cid=4",
		"cid=3,socket=/a,foo",
		"",
		",",
		"cid=3,,socket=/a",
		"cid=-3,socket=/a",
		"cid=99999999999999999999,socket=/a",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cli_parse_vsock(bad[i], &cid, path, sizeof(path)), -EINVAL);
	char small[4];
	assert_int_equal(cli_parse_vsock("cid=3,socket=/abcd", &cid, small, sizeof(small)),
			 -EINVAL);
	/* the whole command line */
	struct cli_opts o;
	char err[256];
	char *argv[] = {"cvmm", "-k", "k", "--vsock", "cid=5,socket=/x", NULL};
	assert_int_equal(cli_parse(5, argv, &o, err, sizeof(err)), 0);
	assert_int_equal(o.nvsock, 1); /* parsed once, kept parsed */
	assert_int_equal(o.vsock[0].cid, 5);
	assert_string_equal(o.vsock[0].path, "/x");
	char *twice[] = {
		"cvmm", "-k", "k", "--vsock", "cid=5,socket=/x", "--vsock", "cid=6,socket=/y",
		NULL};
	assert_int_equal(cli_parse(7, twice, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "one vsock"));
	char *badcid[] = {"cvmm", "-k", "k", "--vsock", "cid=2,socket=/x", NULL};
	assert_int_equal(cli_parse(5, badcid, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--vsock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_roundtrip),	     VQ_RIG_TEST(test_tx_parse_ok),
		VQ_RIG_TEST(test_tx_parse_hostile),	     cmocka_unit_test(test_credit),
		cmocka_unit_test(test_state_host_initiated), cmocka_unit_test(test_state_reserved),
		cmocka_unit_test(test_state_shutdown),	     cmocka_unit_test(test_state_other),
		cmocka_unit_test(test_connect_line),	     cmocka_unit_test(test_cli_vsock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
