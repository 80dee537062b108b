/* SPDX-License-Identifier: MIT */
/* MMDS's TCP: the subset Firecracker's responder implements (pure; fuzzed
 * by fuzz_mmds_frame through the responder). Port 80 only; MMDS_MAX_CONNS
 * connections, each with a request buffer of MMDS_RCV_MAX bytes (the
 * window it advertises) and a response buffer sized at creation; the MSS
 * option only (no window scaling, timestamps or SACK: Linux then uses
 * none). No retransmission timer: segments are built only when the guest
 * has a buffer for them, so none is lost on the way; a guest that sends
 * its SYN again gets the SYN-ACK again, and one that retransmits data gets
 * the ACK again. Anything unexpected (a segment for no connection, an ACK
 * of what was never sent, a request over the buffer) gets a reset. When all
 * connections are taken, a new one takes the place of the oldest half-open
 * one (a SYN flood's), else of one idle for MMDS_EVICT_MS; otherwise the
 * new one is reset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds.h"

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

int mmds_tcp_init(struct mmds_tcp *t, uint32_t ip, size_t tcap, uint32_t iss_seed)
{
	memset(t, 0, sizeof(*t));
	t->ip = ip;
	t->iss_next = iss_seed;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &t->conns[i];
		c->rbuf = malloc(MMDS_RCV_MAX);
		c->tbuf = malloc(tcap);
		c->tcap = tcap;
		if (!c->rbuf || !c->tbuf)
			return -ENOMEM;
	}
	return 0;
}

void mmds_tcp_fini(struct mmds_tcp *t)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		free(t->conns[i].rbuf);
		free(t->conns[i].tbuf);
		t->conns[i].rbuf = NULL;
		t->conns[i].tbuf = NULL;
	}
}

static void conn_free(struct mmds_conn *c)
{
	uint8_t *rb = c->rbuf;
	char *tb = c->tbuf;
	size_t cap = c->tcap;
	memset(c, 0, sizeof(*c));
	c->rbuf = rb;
	c->tbuf = tb;
	c->tcap = cap;
}

static void rst_push(struct mmds_tcp *t, uint32_t rip, uint16_t rport, uint16_t lport, uint32_t seq,
		     uint32_t ack, uint8_t flags)
{
	if (t->rst_count == MMDS_MAX_RSTS) {
		t->rsts_dropped++;
		return;
	}
	t->rsts[(t->rst_head + t->rst_count++) % MMDS_MAX_RSTS] =
		(struct mmds_rst){rip, rport, lport, seq, ack, flags};
}

/* The reset that answers segment s (never one for a reset). */
static void rst_reply(struct mmds_tcp *t, const struct mmds_tcp_seg *s)
{
	if (s->flags & MMDS_TCP_RST)
		return;
	if (s->flags & MMDS_TCP_ACK) {
		rst_push(t, s->saddr, s->sport, s->dport, s->ack, 0, MMDS_TCP_RST);
	} else {
		uint32_t end = s->seq + (uint32_t)s->len + !!(s->flags & MMDS_TCP_SYN) +
			       !!(s->flags & MMDS_TCP_FIN);
		rst_push(t, s->saddr, s->sport, s->dport, 0, end, MMDS_TCP_RST | MMDS_TCP_ACK);
	}
}

/* Resets an open connection and forgets it. */
static void conn_reset(struct mmds_tcp *t, struct mmds_conn *c)
{
	rst_push(t, c->rip, c->rport, MMDS_PORT, c->snd_nxt, c->rcv_nxt,
		 MMDS_TCP_RST | MMDS_TCP_ACK);
	t->conns_reset++;
	conn_free(c);
}

static struct mmds_conn *conn_find(struct mmds_tcp *t, uint32_t rip, uint16_t rport)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		if (t->conns[i].used && t->conns[i].rip == rip && t->conns[i].rport == rport)
			return &t->conns[i];
	return NULL;
}

/* A free slot; else the oldest half-open connection's (a SYN flood's
 * give way first), else that of one idle for MMDS_EVICT_MS (each reset);
 * else NULL. */
static struct mmds_conn *conn_slot(struct mmds_tcp *t, uint64_t now_ms)
{
	struct mmds_conn *idle = NULL, *half = NULL;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &t->conns[i];
		if (!c->used)
			return c;
		if (!c->syn_acked && (!half || c->last_ms < half->last_ms))
			half = c;
		if (!idle || c->last_ms < idle->last_ms)
			idle = c;
	}
	struct mmds_conn *c = half ? half : idle;
	if (!half && now_ms - idle->last_ms < MMDS_EVICT_MS)
		return NULL;
	conn_reset(t, c);
	return c;
}

static uint32_t tseq_of(const struct mmds_conn *c)
{
	return c->iss + 1; /* the first response byte's sequence number, less what was acked */
}

/* The connection's bytes sent and unacknowledged start at snd_una; the
 * response buffer holds them and what is still to send. */
static void on_ack(struct mmds_tcp *t, struct mmds_conn *c, const struct mmds_tcp_seg *s)
{
	if (seq_lt(c->snd_nxt, s->ack)) {
		conn_reset(t, c); /* an ACK of what was never sent */
		return;
	}
	if (!c->syn_acked) {
		if (s->ack != tseq_of(c)) {
			conn_reset(t, c);
			return;
		}
		c->syn_acked = true;
		c->snd_una = s->ack;
	}
	if (seq_lt(c->snd_una, s->ack)) {
		uint32_t n = s->ack - c->snd_una;
		size_t data = n > c->tlen ? c->tlen : n;
		memmove(c->tbuf, c->tbuf + data, c->tlen - data);
		c->tlen -= data;
		c->snd_una = s->ack;
	}
	if (seq_le(c->snd_una, s->ack))
		c->wnd = s->window;
}

static void serve(struct mmds_tcp *t, struct mmds_conn *c, mmds_answer_fn answer, void *ctx)
{
	while (c->rlen && !c->fin_due) {
		struct mmds_req r;
		size_t used;
		int p = mmds_http_parse(c->rbuf, c->rlen, &r, &used);
		if (p == 0) {
			if (c->rlen == MMDS_RCV_MAX)
				conn_reset(t, c); /* a request over the bound */
			return;
		}
		size_t n = answer(ctx, &r, p < 0, c->tbuf + c->tlen, c->tcap - c->tlen);
		if (!n) {
			if (!c->tlen)
				conn_reset(t, c); /* it will never fit */
			return;			  /* else once what is there is acknowledged */
		}
		c->tlen += n;
		if (p < 0 || r.close) {
			c->fin_due = true;
			c->rlen = 0;
			return;
		}
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
	}
}

static void conn_open(struct mmds_tcp *t, const struct mmds_tcp_seg *s, uint64_t now_ms)
{
	struct mmds_conn *c = conn_slot(t, now_ms);
	if (!c) {
		rst_reply(t, s);
		return;
	}
	conn_free(c);
	c->used = true;
	c->rip = s->saddr;
	c->rport = s->sport;
	c->rcv_nxt = s->seq + 1;
	c->iss = t->iss_next;
	t->iss_next += 0x10000;
	c->snd_una = c->iss;
	c->snd_nxt = c->iss;
	c->mss = s->mss ? (s->mss < MMDS_MSS ? s->mss : MMDS_MSS) : MMDS_MSS_DEFAULT;
	if (c->mss < 64)
		c->mss = 64;
	c->wnd = s->window;
	c->synack_due = true;
	c->last_ms = now_ms;
}

void mmds_tcp_input(struct mmds_tcp *t, const struct mmds_tcp_seg *s, uint64_t now_ms,
		    mmds_answer_fn answer, void *ctx)
{
	if (s->daddr != t->ip)
		return;
	if (s->dport != MMDS_PORT) {
		rst_reply(t, s);
		return;
	}
	struct mmds_conn *c = conn_find(t, s->saddr, s->sport);
	bool syn = s->flags & MMDS_TCP_SYN;
	if (!c) {
		if (syn && !(s->flags & (MMDS_TCP_ACK | MMDS_TCP_RST | MMDS_TCP_FIN)))
			conn_open(t, s, now_ms);
		else
			rst_reply(t, s);
		return;
	}
	c->last_ms = now_ms;
	if (s->flags & MMDS_TCP_RST) {
		/* in window: the next byte expected */
		if (s->seq == c->rcv_nxt)
			conn_free(c);
		return;
	}
	if (syn) {
		if (!c->syn_acked && s->seq + 1 == c->rcv_nxt && !(s->flags & MMDS_TCP_ACK)) {
			c->synack_due =
				true; /* our SYN-ACK again (an ACK of the first stays valid) */
		} else if (!(s->flags & MMDS_TCP_ACK)) {
			conn_free(c); /* the port reused: a new connection */
			conn_open(t, s, now_ms);
		} else {
			conn_reset(t, c);
		}
		return;
	}
	if (!(s->flags & MMDS_TCP_ACK))
		return; /* after the SYN every segment carries an ACK */
	on_ack(t, c, s);
	if (!c->used)
		return;
	/* data, in order only; what was had already is acknowledged again */
	const uint8_t *d = s->data;
	size_t len = s->len;
	uint32_t seq = s->seq;
	if (len && seq_lt(seq, c->rcv_nxt)) {
		uint32_t skip = c->rcv_nxt - seq;
		if (skip >= len) {
			len = 0;
			c->ack_due = true;
		} else {
			d += skip;
			len -= skip;
			seq = c->rcv_nxt;
		}
	}
	if (len) {
		if (seq != c->rcv_nxt || c->fin_rcvd) {
			c->ack_due = true; /* out of order or beyond the FIN: dropped */
			len = 0;
		} else {
			size_t room = MMDS_RCV_MAX - c->rlen;
			size_t take = len < room ? len : room;
			if (!c->fin_due) {
				memcpy(c->rbuf + c->rlen, d, take);
				c->rlen += take;
			}
			c->rcv_nxt += (uint32_t)take;
			c->ack_due = true;
			if (take < len)
				len = 0; /* the FIN, if any, comes again */
		}
	}
	if ((s->flags & MMDS_TCP_FIN) && !c->fin_rcvd && s->seq + (uint32_t)s->len == c->rcv_nxt) {
		c->fin_rcvd = true;
		c->rcv_nxt++;
		c->ack_due = true;
	}
	serve(t, c, answer, ctx);
	if (c->used && c->fin_rcvd && !c->fin_due && !c->rlen)
		c->fin_due = true; /* the guest is done: so are we */
	if (c->used && c->fin_rcvd && c->fin_sent && c->snd_una == c->snd_nxt && !c->ack_due)
		conn_free(c);
}

int mmds_tcp_output(struct mmds_tcp *t, struct mmds_tcp_seg *s)
{
	memset(s, 0, sizeof(*s));
	s->saddr = t->ip;
	s->sport = MMDS_PORT;
	if (t->rst_count) {
		const struct mmds_rst *r = &t->rsts[t->rst_head];
		t->rst_head = (t->rst_head + 1) % MMDS_MAX_RSTS;
		t->rst_count--;
		s->daddr = r->rip;
		s->dport = r->rport;
		s->sport = r->lport;
		s->seq = r->seq;
		s->ack = r->ack;
		s->flags = r->flags;
		return 1;
	}
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &t->conns[i];
		if (!c->used)
			continue;
		s->daddr = c->rip;
		s->dport = c->rport;
		s->ack = c->rcv_nxt;
		s->window = (uint16_t)(MMDS_RCV_MAX - c->rlen);
		if (c->synack_due) {
			c->synack_due = c->ack_due = false;
			s->seq = c->iss;
			s->flags = MMDS_TCP_SYN | MMDS_TCP_ACK;
			s->mss = MMDS_MSS;
			c->snd_nxt = c->iss + 1;
			return 1;
		}
		if (!c->syn_acked) {
			continue;
		}
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t edge = c->snd_una + c->wnd;
		if (!c->fin_sent && off < c->tlen && seq_lt(c->snd_nxt, edge)) {
			size_t n = c->tlen - off;
			if (n > c->mss)
				n = c->mss;
			if (n > edge - c->snd_nxt)
				n = edge - c->snd_nxt;
			s->seq = c->snd_nxt;
			s->flags = MMDS_TCP_ACK | MMDS_TCP_PSH;
			s->data = (const uint8_t *)c->tbuf + off;
			s->len = n;
			c->snd_nxt += (uint32_t)n;
			c->ack_due = false;
			return 1;
		}
		if (c->fin_due && !c->fin_sent && off == c->tlen) {
			s->seq = c->snd_nxt;
			s->flags = MMDS_TCP_FIN | MMDS_TCP_ACK;
			c->snd_nxt++;
			c->fin_sent = true;
			c->ack_due = false;
			return 1;
		}
		if (c->ack_due) {
			s->seq = c->snd_nxt;
			s->flags = MMDS_TCP_ACK;
			c->ack_due = false;
			if (c->fin_rcvd && c->fin_sent && c->snd_una == c->snd_nxt)
				conn_free(c);
			return 1;
		}
	}
	return 0;
}
