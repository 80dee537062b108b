/* SPDX-License-Identifier: MIT */
/* MMDS's models (devices/mmds*.c) without a VM: frames a guest would send
 * go into a responder, the frames it answers with are parsed back. ARP,
 * the TCP handshake, a V1 GET in IMDS and JSON form, V2 tokens on a fake
 * clock, resets for what is unexpected, the bounds on connections and
 * request sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/mmds.h"

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define GUEST_IP 0x0a000202u /* 10.0.2.2 */
#define MMDS_IP	 MMDS_DEFAULT_IPV4

/* as the CLI hands it down: compact, keys sorted */
static const char doc[] =
	"{\"esc\":\"a\\nb\\u00e9\",\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12\","
	"\"hostname\":\"vm1\",\"n\":5,\"net\":{\"mac\":\"52:54\"},\"tags\":[\"a\",\"b\"]}},"
	"\"sl/ash\":\"x\"}";

struct t {
	struct mmds_store *store;
	struct mmds_resp *resp;
	uint64_t now;
	uint8_t frame[MMDS_FRAME_MAX];
	size_t flen;
	struct mmds_tcp_seg seg; /* the last TCP segment out */
	uint16_t sport;
	uint32_t seq, ack; /* the guest's next sequence number; what it acknowledges */
	char rx[65536];	   /* the stream the guest received */
	size_t rxlen;
};

static int setup_version(void **state, int version)
{
	struct t *t = calloc(1, sizeof(*t));
	struct err e;
	err_clear(&e);
	if (!t || mmds_store_new(&t->store, version, 0, false, 0, &e) < 0 ||
	    mmds_store_put(t->store, doc, strlen(doc)) < 0 ||
	    mmds_resp_new(&t->resp, t->store, &e) < 0)
		return -1;
	t->now = 1000;
	t->sport = 40000;
	t->seq = 7000;
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_version(state, 1);
}

static int setup_v2(void **state)
{
	return setup_version(state, 2);
}

static int teardown(void **state)
{
	struct t *t = *state;
	mmds_resp_free(t->resp);
	mmds_store_free(t->store);
	free(t);
	return 0;
}

/* One guest segment to the MMDS. */
static void send_seg(struct t *t, uint8_t flags, uint16_t dport, const char *data, uint16_t mss)
{
	struct mmds_tcp_seg s = {.saddr = GUEST_IP,
				 .daddr = MMDS_IP,
				 .sport = t->sport,
				 .dport = dport,
				 .seq = t->seq,
				 .ack = t->ack,
				 .flags = flags,
				 .window = 64240,
				 .mss = mss,
				 .data = (const uint8_t *)data,
				 .len = data ? strlen(data) : 0};
	uint8_t f[MMDS_IN_MAX];
	size_t n = mmds_tcp_build(f, sizeof(f), guest_mac, bcast, &s);
	assert_true(n > 0);
	mmds_resp_input(t->resp, f, n, t->now);
	t->seq += (uint32_t)s.len + !!(flags & MMDS_TCP_SYN) + !!(flags & MMDS_TCP_FIN);
}

/* The responder's next frame, parsed as TCP into t->seg: 1, or 0 for none. */
static int next_seg(struct t *t)
{
	t->flen = mmds_resp_output(t->resp, t->frame);
	if (!t->flen)
		return 0;
	uint16_t type;
	const uint8_t *p;
	size_t plen;
	assert_int_equal(mmds_eth_parse(t->frame, t->flen, &type, &p, &plen), 0);
	assert_memory_equal(t->frame, guest_mac, 6);
	assert_int_equal(type, MMDS_ETH_IPV4);
	assert_int_equal(mmds_ipv4_tcp_parse(p, plen, &t->seg), 0);
	/* checksums: the IPv4 header's and the TCP segment's fold to zero */
	assert_int_equal(mmds_csum_fold(mmds_csum_add(0, p, 20)), 0);
	uint8_t pseudo[12] = {0};
	for (int i = 0; i < 4; i++) {
		pseudo[i] = p[12 + i];
		pseudo[4 + i] = p[16 + i];
	}
	pseudo[9] = 6;
	pseudo[10] = (uint8_t)((plen - 20) >> 8);
	pseudo[11] = (uint8_t)(plen - 20);
	assert_int_equal(
		mmds_csum_fold(mmds_csum_add(mmds_csum_add(0, pseudo, 12), p + 20, plen - 20)), 0);
	assert_int_equal(t->seg.saddr, MMDS_IP);
	assert_int_equal(t->seg.daddr, GUEST_IP);
	return 1;
}

/* Takes every segment the responder has, acknowledging its data as Linux
 * would; the stream lands in t->rx. Returns the flags seen, or'ed. */
static uint8_t drain(struct t *t)
{
	uint8_t seen = 0;
	while (next_seg(t)) {
		seen |= t->seg.flags;
		if (t->seg.flags & MMDS_TCP_RST)
			continue;
		if (t->seg.len) {
			assert_int_equal(t->seg.seq, t->ack);
			assert_true(t->rxlen + t->seg.len <= sizeof(t->rx));
			memcpy(t->rx + t->rxlen, t->seg.data, t->seg.len);
			t->rxlen += t->seg.len;
			t->ack += (uint32_t)t->seg.len;
		}
		if (t->seg.flags & MMDS_TCP_FIN)
			t->ack++;
		if (t->seg.len || (t->seg.flags & MMDS_TCP_FIN))
			send_seg(t, MMDS_TCP_ACK, MMDS_PORT, NULL, 0);
	}
	return seen;
}

static void connect_(struct t *t)
{
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 1460);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	assert_int_equal(t->seg.ack, t->seq);
	assert_int_equal(t->seg.mss, MMDS_MSS);
	t->ack = t->seg.seq + 1;
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 0);
}

/* One request on a new connection; the response in t->rx. */
static void get(struct t *t, const char *request)
{
	t->rxlen = 0;
	t->sport++;
	connect_(t);
	send_seg(t, MMDS_TCP_ACK | MMDS_TCP_PSH, MMDS_PORT, request, 0);
	drain(t);
	t->rx[t->rxlen] = '\0';
	/* the guest closes too (Connection: close had the server close first) */
	send_seg(t, MMDS_TCP_ACK | MMDS_TCP_FIN, MMDS_PORT, NULL, 0);
	size_t keep = t->rxlen;
	drain(t);
	assert_int_equal(t->rxlen, keep);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		assert_false(t->resp->tcp.conns[i].used);
}

static const char *body(struct t *t)
{
	const char *b = strstr(t->rx, "\r\n\r\n");
	assert_non_null(b);
	return b + 4;
}

static void test_arp(void **state)
{
	struct t *t = *state;
	uint8_t f[42] = {0};
	memcpy(f, bcast, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	const uint8_t arp[28] = {0,  1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0,   0x12, 0x34, 0x56,
				 10, 0, 2, 2, 0, 0, 0, 0, 0,	0,    169, 254,	 169,  254};
	memcpy(f + 14, arp, sizeof(arp));
	assert_true(mmds_frame_for(f, sizeof(f), MMDS_IP));
	assert_false(mmds_frame_for(f, sizeof(f), MMDS_IP + 1));
	mmds_resp_input(t->resp, f, sizeof(f), t->now);
	uint8_t out[MMDS_FRAME_MAX];
	size_t n = mmds_resp_output(t->resp, out);
	assert_int_equal(n, 42);
	struct mmds_arp a;
	assert_int_equal(mmds_arp_parse(out + 14, n - 14, &a), 0);
	assert_int_equal(a.op, 2);
	assert_int_equal(a.spa, MMDS_IP);
	assert_int_equal(a.tpa, GUEST_IP);
	static const uint8_t fc_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
	assert_memory_equal(a.sha, fc_mac, 6);
	assert_memory_equal(a.tha, guest_mac, 6);
	assert_memory_equal(out, guest_mac, 6);
	assert_int_equal(mmds_resp_output(t->resp, out), 0); /* one reply, once */
	/* a reply, or one for another address, is not answered */
	f[14 + 7] = 2;
	mmds_resp_input(t->resp, f, sizeof(f), t->now);
	assert_int_equal(mmds_resp_output(t->resp, out), 0);
}

static void test_get_v1(void **state)
{
	struct t *t = *state;
	get(t, "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n"
	       "Connection: close\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(t->rx, "Content-Type: text/plain\r\n"));
	assert_string_equal(body(t), "ami-id\nhostname\nn\nnet/\ntags");
	get(t, "GET /latest/meta-data/hostname HTTP/1.1\r\n\r\n");
	assert_string_equal(body(t), "vm1");
	assert_non_null(strstr(t->rx, "Connection: keep-alive\r\n"));
	get(t, "GET /latest//meta-data/net/ HTTP/1.0\r\nAccept: application/json\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(t->rx, "Content-Type: application/json\r\n"));
	assert_string_equal(body(t), "{\"mac\":\"52:54\"}");
	get(t, "GET /latest/meta-data/tags/1 HTTP/1.1\r\n\r\n");
	assert_string_equal(body(t), "b");
	get(t, "GET /esc HTTP/1.1\r\n\r\n");
	assert_string_equal(body(t), "a\nb\xc3\xa9");
	get(t, "GET /sl~1ash HTTP/1.1\r\n\r\n");
	assert_string_equal(body(t), "x");
	/* IMDS form has no numbers or arrays: 501; JSON has */
	get(t, "GET /latest/meta-data/n HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 501 "));
	get(t, "GET /latest/meta-data/n HTTP/1.1\r\nAccept: application/json\r\n\r\n");
	assert_string_equal(body(t), "5");
	get(t, "GET /latest/nothing HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 404 "));
	assert_string_equal(body(t), "Resource not found: /latest/nothing.");
	get(t, "POST / HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 405 "));
	assert_non_null(strstr(t->rx, "Allow: GET, PUT\r\n"));
	get(t, "GARBAGE\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 400 "));
	/* V1 takes tokens too, and needs none */
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 200 "));
	assert_non_null(strstr(t->rx, "X-metadata-token-ttl-seconds: 60\r\n"));
	assert_int_equal(strlen(body(t)), MMDS_TOKEN_LEN);
	/* the host replaces the document: the next GET sees it */
	assert_int_equal(mmds_store_put(t->store, "{\"k\":\"v2\"}", 10), 0);
	get(t, "GET /k HTTP/1.1\r\n\r\n");
	assert_string_equal(body(t), "v2");
	assert_int_equal(mmds_store_put(t->store, "{\"k\":", 5), -EINVAL);
}

/* Two requests on one connection, the second split over segments; then
 * the guest closes and the connection goes. */
static void test_keep_alive(void **state)
{
	struct t *t = *state;
	connect_(t);
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT,
		 "GET /latest/meta-data/hostname HTTP/1.1\r\n\r\nGET /e", 0);
	drain(t);
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, "sc HTTP/1.1\r\n\r\n", 0);
	drain(t);
	t->rx[t->rxlen] = '\0';
	const char *second = strstr(t->rx + 1, "HTTP/1.1 200");
	assert_non_null(second);
	assert_non_null(strstr(second, "\r\n\r\na\nb"));
	send_seg(t, MMDS_TCP_ACK | MMDS_TCP_FIN, MMDS_PORT, NULL, 0);
	uint8_t fl = drain(t);
	assert_true(fl & MMDS_TCP_FIN);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		assert_false(t->resp->tcp.conns[i].used);
}

/* A response over several MSS-sized segments, each acknowledged. */
static void test_big_response(void **state)
{
	struct t *t = *state;
	char big[20000];
	int n = snprintf(big, sizeof(big), "{\"k\":\"");
	for (int i = 0; i < 15000; i++)
		big[n++] = (char)('a' + i % 26);
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}");
	assert_int_equal(mmds_store_put(t->store, big, (size_t)n), 0);
	get(t, "GET /k HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(strlen(body(t)), 15000);
	assert_int_equal(body(t)[14999], 'a' + 14999 % 26);
	/* over the store's limit */
	char *huge = malloc(MMDS_DEFAULT_LIMIT + 10);
	memset(huge, ' ', MMDS_DEFAULT_LIMIT + 10);
	memcpy(huge, "{}", 2);
	assert_int_equal(mmds_store_put(t->store, huge, MMDS_DEFAULT_LIMIT + 10), -EFBIG);
	free(huge);
}

static void test_v2_tokens(void **state)
{
	struct t *t = *state;
	get(t, "GET /latest/meta-data/hostname HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 401 "));
	assert_non_null(strstr(body(t), "No MMDS token provided."));
	get(t, "PUT /latest/api/token HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 400 "));
	assert_non_null(strstr(body(t), "Token time to live value not found."));
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n");
	assert_non_null(strstr(body(t), "Please provide a value between 1 and 21600."));
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 400 "));
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: soon\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 400 "));
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n"
	       "X-Forwarded-For: 1.2.3.4\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 400 "));
	get(t, "PUT /latest/api/other HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 404 "));
	get(t, "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 1\r\n\r\n");
	assert_non_null(strstr(t->rx, "HTTP/1.1 200 "));
	assert_non_null(strstr(t->rx, "X-aws-ec2-metadata-token-ttl-seconds: 1\r\n"));
	char tok[MMDS_TOKEN_LEN + 1];
	snprintf(tok, sizeof(tok), "%s", body(t));
	char r[256];
	snprintf(r, sizeof(r),
		 "GET /latest/meta-data/hostname HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	t->now += 999;
	get(t, r);
	assert_string_equal(body(t), "vm1");
	snprintf(r, sizeof(r),
		 "GET /latest/meta-data/hostname HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n",
		 tok);
	get(t, r);
	assert_string_equal(body(t), "vm1");
	/* expired */
	t->now += 1;
	get(t, r);
	assert_non_null(strstr(t->rx, "HTTP/1.1 401 "));
	assert_string_equal(body(t), "MMDS token not valid.");
	/* forged: a bit flipped, or another key's */
	t->now -= 10;
	tok[5] = tok[5] == 'A' ? 'B' : 'A';
	snprintf(r, sizeof(r),
		 "GET /latest/meta-data/hostname HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	get(t, r);
	assert_non_null(strstr(t->rx, "HTTP/1.1 401 "));
	struct mmds_token_key other = {.k = {1}, .counter = 0};
	mmds_token_new(&other, t->now, 100, tok);
	assert_false(mmds_token_valid(&t->store->key, tok, strlen(tok), t->now));
	assert_true(mmds_token_valid(&other, tok, strlen(tok), t->now));
	assert_false(mmds_token_valid(&other, tok, strlen(tok) - 1, t->now));
}

static void test_resets(void **state)
{
	struct t *t = *state;
	/* another port */
	send_seg(t, MMDS_TCP_SYN, 81, NULL, 0);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_RST | MMDS_TCP_ACK);
	assert_int_equal(t->seg.ack, t->seq);
	/* a segment of no connection: RST with its ACK as the sequence */
	t->ack = 12345;
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, "x", 0);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_RST);
	assert_int_equal(t->seg.seq, 12345);
	/* a reset is never answered */
	send_seg(t, MMDS_TCP_RST, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 0);
	/* an ACK of what was never sent resets the connection */
	connect_(t);
	t->ack += 100;
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 1);
	assert_true(t->seg.flags & MMDS_TCP_RST);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		assert_false(t->resp->tcp.conns[i].used);
	/* a request over MMDS_RCV_MAX without its end */
	t->sport++;
	connect_(t);
	char junk[1001];
	memset(junk, 'a', 1000);
	junk[1000] = '\0';
	for (int i = 0; i < 3; i++)
		send_seg(t, MMDS_TCP_ACK, MMDS_PORT, junk, 0);
	assert_true(drain(t) & MMDS_TCP_RST);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		assert_false(t->resp->tcp.conns[i].used);
	/* not TCP, not IPv4, too short: ignored */
	uint8_t f[60] = {0};
	f[12] = 0x08;
	mmds_resp_input(t->resp, f, sizeof(f), t->now);
	mmds_resp_input(t->resp, f, 10, t->now);
	assert_int_equal(next_seg(t), 0);
}

/* More connections than there are slots: a SYN flood's half-open ones give
 * way to a new one at once; established ones only once idle long enough
 * (until then the new one is reset). A duplicate SYN gets the SYN-ACK
 * again. */
static void test_conn_bound(void **state)
{
	struct t *t = *state;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		t->sport++;
		send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 0);
		assert_int_equal(next_seg(t), 1);
		assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	}
	t->seq--;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	uint16_t first = (uint16_t)(t->sport - MMDS_MAX_CONNS + 1);
	t->now += 1;
	t->sport++;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 0); /* the oldest half-open one gives way */
	assert_int_equal(next_seg(t), 1);
	assert_true(t->seg.flags & MMDS_TCP_RST);
	assert_int_equal(t->seg.dport, first);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	assert_int_equal(t->seg.dport, t->sport);
	/* now every slot established and busy */
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		t->resp->tcp.conns[i].used = false;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		t->sport++;
		connect_(t);
	}
	t->sport++;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_RST | MMDS_TCP_ACK);
	t->now += MMDS_EVICT_MS;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 1); /* the evicted one's reset */
	assert_true(t->seg.flags & MMDS_TCP_RST);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	assert_int_equal(t->seg.dport, t->sport);
	/* pending resets are bounded too */
	for (int i = 0; i < 100; i++)
		send_seg(t, MMDS_TCP_SYN, 81, NULL, 0);
	int n = 0;
	while (next_seg(t))
		n++;
	assert_int_equal(n, MMDS_MAX_RSTS);
}

/* The guest sends its SYN again (its SYN-ACK was slow), then acknowledges
 * the first SYN-ACK before the second went out: the connection stands and
 * serves. */
static void test_dup_syn(void **state)
{
	struct t *t = *state;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 1460);
	assert_int_equal(next_seg(t), 1);
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	uint32_t iss = t->seg.seq;
	t->seq--;
	send_seg(t, MMDS_TCP_SYN, MMDS_PORT, NULL, 1460);
	t->ack = iss + 1;
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, NULL, 0);
	assert_int_equal(next_seg(t), 1); /* the second SYN-ACK, no reset */
	assert_int_equal(t->seg.flags, MMDS_TCP_SYN | MMDS_TCP_ACK);
	assert_int_equal(t->seg.seq, iss);
	send_seg(t, MMDS_TCP_ACK, MMDS_PORT, "GET /esc HTTP/1.1\r\nConnection: close\r\n\r\n", 0);
	assert_false(drain(t) & MMDS_TCP_RST);
	t->rx[t->rxlen] = '\0';
	assert_string_equal(body(t), "a\nb\xc3\xa9");
}

static void test_json(void **state)
{
	(void)state;
	size_t off, len;
	const char *d = " {\"a\" : [1, {\"b\": null}], \"c\": {}, \"d\\\"q\": \"x\"} ";
	size_t dl = strlen(d);
	assert_true(mmds_json_valid(d, dl));
	assert_int_equal(mmds_json_lookup(d, dl, "/a/1/b", 6, &off, &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(mmds_json_lookup(d, dl, "/a/2", 4, &off, &len), -ENOENT);
	assert_int_equal(mmds_json_lookup(d, dl, "/a/01", 5, &off, &len), -ENOENT);
	assert_int_equal(mmds_json_lookup(d, dl, "/d\"q", 4, &off, &len), 0);
	assert_int_equal(mmds_json_lookup(d, dl, "/c/x", 4, &off, &len), -ENOENT);
	assert_int_equal(mmds_json_lookup(d, dl, "", 0, &off, &len), 0);
	assert_int_equal(len, dl - 2);
	char out[64];
	assert_int_equal(mmds_json_imds(d + off, len, out, sizeof(out)), 8);
	assert_memory_equal(out, "a\nc/\nd\"q", 8);
	assert_int_equal(mmds_json_imds("{}", 2, out, sizeof(out)), 0);
	assert_int_equal(mmds_json_imds("[1]", 3, out, sizeof(out)), -ENOTSUP);
	assert_int_equal(mmds_json_imds("\"abc\"", 5, out, 2), -ENOSPC);
	static const char *const bad[] = {"",	     "{",   "{\"a\"}",	  "[1,]", "01",
					  "\"\\x\"", "tru", "{\"a\":1,}", "1 2",  "\"\x01\"",
					  "-",	     "1.",  "1e"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(mmds_json_valid(bad[i], strlen(bad[i])));
	/* nesting is bounded */
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_false(mmds_json_valid(deep, sizeof(deep)));
	assert_true(mmds_json_valid(deep + 40, 120));
}

static void test_http_parse(void **state)
{
	(void)state;
	struct mmds_req r;
	size_t used;
	const char *a = "GET http://169.254.169.254/a/b?x=1 HTTP/1.1\r\nAccept: */*\r\n"
			"X-Metadata-Token:  tok \r\n\r\nGET /";
	assert_int_equal(mmds_http_parse((const uint8_t *)a, strlen(a), &r, &used), 1);
	assert_int_equal(used, strlen(a) - 5);
	assert_int_equal(r.method, MMDS_GET);
	assert_int_equal(r.path_len, 4);
	assert_memory_equal(r.path, "/a/b", 4);
	assert_false(r.json);
	assert_int_equal(r.token_len, 3);
	assert_memory_equal(r.token, "tok", 3);
	const char *part = "GET /a HTTP/1.1\r\nHost: x\r\n";
	assert_int_equal(mmds_http_parse((const uint8_t *)part, strlen(part), &r, &used), 0);
	const char *body = "PUT /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab";
	assert_int_equal(mmds_http_parse((const uint8_t *)body, strlen(body), &r, &used), 0);
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET /a HTTP/2.0\r\n\r\n",
		"GET a HTTP/1.1\r\n\r\n",
		"GET /a HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /a HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /a HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			mmds_http_parse((const uint8_t *)bad[i], strlen(bad[i]), &r, &used),
			-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_tokens, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup_syn, setup, teardown),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_http_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
