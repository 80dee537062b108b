/* SPDX-License-Identifier: MIT */
/* MMDS: Firecracker's microVM metadata service, answered inside cvmm. The
 * guest reaches it over a virtio-net interface at a link-local IPv4
 * address (169.254.169.254 by default); the interface's TX worker detours
 * the frames for that address here, and its RX worker takes what the
 * responder has for the guest (devices/net_mmds.c). A small network stack
 * in front of a hostile guest, so every part is a pure model with a fuzz
 * target, and every buffer is sized once, on the main thread:
 * - mmds_net.c: Ethernet, ARP, IPv4, TCP: parse and build, checksums;
 * - mmds_tcp.c: the TCP subset Firecracker's responder implements: port 80,
 *   a few connections, MSS only, no retransmission timer (the path to the
 *   guest loses nothing: a frame is built only when a guest buffer takes
 *   it), RST for anything unexpected;
 * - mmds_http.c: HTTP/1.1 requests (bounded), Firecracker's answers: V1
 *   plain GET, V2 session tokens, JSON or IMDS plain text;
 * - mmds_json.c: the document: a JSON path looked up in its text and
 *   rendered as JSON or as an IMDS listing;
 * - mmds.c: the store (the document, shared by the interfaces, under a
 *   lock) and the responder (one per interface).
 *
 * The document arrives as JSON text (cvmm_vm_mmds_put; the CLI parses and
 * merges with json-c, which devices/ may not use): the store keeps it and
 * each GET walks it (mmds_json_lookup). That is simpler than precomputing a
 * table of every path's rendering, whose size grows with the document's
 * depth, and the walker is bounded (depth, the text's length) and fuzzed. */
#ifndef CVMM_MMDS_H
#define CVMM_MMDS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MMDS_DEFAULT_IPV4  0xa9fea9feu /* 169.254.169.254 */
#define MMDS_DEFAULT_LIMIT 51200       /* Firecracker's --mmds-size-limit default */
#define MMDS_PORT	   80
#define MMDS_MAX_CONNS	   8	/* Firecracker: 30; guests' clients use one at a time */
#define MMDS_MAX_RSTS	   16	/* resets waiting to go out (Firecracker: 100) */
#define MMDS_RCV_MAX	   2500 /* a request's bytes (Firecracker's RCV_BUF_MAX_SIZE) */
#define MMDS_MSS	   1460 /* ours, in the SYN-ACK */
#define MMDS_MSS_DEFAULT   536	/* the guest's when its SYN has none */
#define MMDS_HDR_ROOM	   512	/* a response's status line and headers */
#define MMDS_FRAME_MAX	   1514 /* what the responder builds; what it takes: MMDS_IN_MAX */
#define MMDS_IN_MAX	   4096
#define MMDS_EVICT_MS	   10000 /* an idle connection may give way to a new one */
#define MMDS_JSON_DEPTH	   64
#define MMDS_TTL_MIN	   1
#define MMDS_TTL_MAX	   21600
#define MMDS_TOKEN_LEN	   44 /* base64 of 32 bytes */
#define MMDS_TOKEN_PATH	   "/latest/api/token"
#define MMDS_ETH_ARP	   0x0806
#define MMDS_ETH_IPV4	   0x0800

/* ---- frames (mmds_net.c) ---------------------------------------------------- */

struct mmds_arp {
	uint16_t op; /* 1 request, 2 reply */
	uint8_t sha[6], tha[6];
	uint32_t spa, tpa; /* host order */
};

struct mmds_tcp_seg {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags; /* MMDS_TCP_* */
	uint16_t window;
	uint16_t mss; /* the MSS option, 0: none */
	const uint8_t *data;
	size_t len;
};
#define MMDS_TCP_FIN 0x01
#define MMDS_TCP_SYN 0x02
#define MMDS_TCP_RST 0x04
#define MMDS_TCP_PSH 0x08
#define MMDS_TCP_ACK 0x10

/* The Ethernet header: ethertype, and the payload. -EINVAL: too short. */
__attribute__((warn_unused_result)) int mmds_eth_parse(const uint8_t *f, size_t len, uint16_t *type,
						       const uint8_t **payload, size_t *plen);
/* An Ethernet/IPv4 ARP packet. -EINVAL: not one. */
__attribute__((warn_unused_result)) int mmds_arp_parse(const uint8_t *p, size_t len,
						       struct mmds_arp *a);
/* An IPv4 packet carrying TCP: its addresses, the segment and its
 * options (MSS). Checksums are not checked (a guest with checksum offload
 * leaves them to the device; Firecracker does not check them either).
 * -EINVAL: not IPv4, fragmented, options or lengths wrong; -EPROTO: IPv4
 * but not TCP. */
__attribute__((warn_unused_result)) int mmds_ipv4_tcp_parse(const uint8_t *p, size_t len,
							    struct mmds_tcp_seg *s);
/* Whether the frame is one for the MMDS at ip: ARP for ip, or IPv4 to ip.
 * Looks at the headers only. */
bool mmds_frame_for(const uint8_t *f, size_t len, uint32_t ip);
/* Builds the ARP reply (eth + arp) into out (at least 42 bytes); its length. */
size_t mmds_arp_reply(uint8_t *out, const uint8_t mmds_mac[6], uint32_t mmds_ip,
		      const uint8_t dst_mac[6], uint32_t dst_ip);
/* Builds a TCP segment (eth + ipv4 + tcp [+ MSS option] + data) into out
 * (room: cap bytes), checksums filled; its length, 0 if it does not fit. */
size_t mmds_tcp_build(uint8_t *out, size_t cap, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      const struct mmds_tcp_seg *s);
/* The Internet checksum of len bytes, added to sum (not folded, not negated). */
uint32_t mmds_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t mmds_csum_fold(uint32_t sum);

/* ---- the document (mmds_json.c) ------------------------------------------- */

/* Whether text is one JSON value (white space around it allowed), nested
 * no deeper than MMDS_JSON_DEPTH. */
bool mmds_json_valid(const char *s, size_t len);
/* The value at path ("/a/b/0": object keys, array indexes; empty
 * components, "//" and a trailing '/', are skipped; "~1" is '/', "~0" '~')
 * in the JSON text s: 0 and its bytes [*off, *off + *vlen), -ENOENT, or
 * -EINVAL for text that is not JSON. */
__attribute__((warn_unused_result)) int mmds_json_lookup(const char *s, size_t len,
							 const char *path, size_t plen, size_t *off,
							 size_t *vlen);
/* Renders the value v (vlen bytes of JSON) in IMDS form into out (cap):
 * an object's keys one a line, "/" after those whose value is an object,
 * no newline after the last; a string's text. Returns its length,
 * -ENOTSUP for other values, -ENOSPC when it does not fit, -EINVAL for
 * bad JSON. */
__attribute__((warn_unused_result)) long mmds_json_imds(const char *v, size_t vlen, char *out,
							size_t cap);

/* ---- session tokens (mmds_http.c) ----------------------------------------- */

struct mmds_token_key {
	uint8_t k[32]; /* getrandom'ed at creation, main thread */
	_Atomic uint64_t counter;
};
/* A token valid until now_ms + ttl * 1000: MMDS_TOKEN_LEN characters and a
 * NUL into out. A keyed hash (SipHash-2-4, two keys) over a counter and
 * the expiry: no randomness is needed after creation. */
void mmds_token_new(struct mmds_token_key *k, uint64_t now_ms, uint32_t ttl,
		    char out[MMDS_TOKEN_LEN + 1]);
bool mmds_token_valid(const struct mmds_token_key *k, const char *tok, size_t len, uint64_t now_ms);
uint64_t mmds_siphash(const uint8_t key[16], const uint8_t *p, size_t len);

/* ---- HTTP (mmds_http.c) --------------------------------------------------- */

enum mmds_method { MMDS_GET = 1, MMDS_PUT, MMDS_OTHER };

struct mmds_req {
	enum mmds_method method;
	const char *path; /* into the request's bytes, not NUL-terminated */
	size_t path_len;
	int minor;	   /* HTTP/1.x */
	bool json;	   /* Accept: application/json */
	bool close;	   /* Connection: close, or HTTP/1.0 without keep-alive */
	bool forwarded;	   /* X-Forwarded-For present */
	const char *token; /* X-metadata-token / X-aws-ec2-metadata-token, or NULL */
	size_t token_len;
	const char *ttl; /* X-metadata-token-ttl-seconds (or the aws one), or NULL */
	size_t ttl_len;
	const char *ttl_name;
	size_t ttl_name_len;
};

/* One request at the start of buf: 1 and its size in *used (head and
 * Content-Length body), 0 when more bytes are needed, -EINVAL when it is
 * malformed (answer 400 and close). */
__attribute__((warn_unused_result)) int mmds_http_parse(const uint8_t *buf, size_t len,
							struct mmds_req *r, size_t *used);

/* What an answer needs of the store, for mmds_http_answer (the store's
 * lock held, or a test's). */
struct mmds_view {
	int version; /* 1 or 2 */
	bool imds_compat;
	const char *json; /* the document, NULL: none */
	size_t json_len;
	struct mmds_token_key *key;
};
/* Firecracker's answer to r into out (cap bytes): its length, or 0 when it
 * does not fit (the caller resets the connection). A malformed request
 * (bad == true) gets a 400. */
size_t mmds_http_answer(const struct mmds_req *r, bool bad, const struct mmds_view *v,
			uint64_t now_ms, char *out, size_t cap);

/* ---- TCP (mmds_tcp.c) ----------------------------------------------------- */

struct mmds_conn {
	bool used;
	bool syn_acked;	 /* the guest acknowledged our SYN */
	bool synack_due; /* (re)send the SYN-ACK */
	bool ack_due;	 /* we owe the guest an ACK */
	bool fin_rcvd;	 /* the guest's FIN came (rcv_nxt counts it) */
	bool fin_due;	 /* we close once the response is out */
	bool fin_sent;	 /* our FIN went (snd_nxt counts it) */
	uint32_t rip;	 /* the guest's address and port */
	uint16_t rport;
	uint32_t rcv_nxt;
	uint32_t iss, snd_una, snd_nxt;
	uint16_t mss;	  /* the guest's */
	uint32_t wnd;	  /* the guest's window, from snd_una */
	uint64_t last_ms; /* the guest's last segment */
	uint8_t *rbuf;	  /* owned, MMDS_RCV_MAX: request bytes not yet answered */
	size_t rlen;
	char *tbuf; /* owned, tcap: response bytes from snd_una (the SYN excluded) */
	size_t tlen, tcap;
};

struct mmds_rst {
	uint32_t rip;
	uint16_t rport, lport;
	uint32_t seq, ack;
	uint8_t flags;
};

/* The TCP side of one responder. */
struct mmds_tcp {
	uint32_t ip; /* the MMDS address */
	struct mmds_conn conns[MMDS_MAX_CONNS];
	struct mmds_rst rsts[MMDS_MAX_RSTS]; /* a ring */
	unsigned rst_head, rst_count;
	uint32_t iss_next; /* the next connection's initial sequence number */
	uint64_t rsts_dropped, conns_reset;
};

/* The answering side, called with each complete request (the store's view
 * and the clock); writes its answer into out (cap bytes). */
typedef size_t (*mmds_answer_fn)(void *ctx, const struct mmds_req *r, bool bad, char *out,
				 size_t cap);

/* Main thread: buffers for MMDS_MAX_CONNS connections, each response up to
 * tcap bytes. */
__attribute__((warn_unused_result)) int mmds_tcp_init(struct mmds_tcp *t, uint32_t ip, size_t tcap,
						      uint32_t iss_seed);
void mmds_tcp_fini(struct mmds_tcp *t);
/* One segment from the guest (addressed to t->ip). */
void mmds_tcp_input(struct mmds_tcp *t, const struct mmds_tcp_seg *s, uint64_t now_ms,
		    mmds_answer_fn answer, void *ctx);
/* The next segment for the guest: 1 with *s filled (s->data into a
 * connection's buffer: valid until the next call), 0 when none. Calling it
 * means the segment is sent. */
int mmds_tcp_output(struct mmds_tcp *t, struct mmds_tcp_seg *s);

/* ---- the store and the responder (mmds.c) --------------------------------- */

struct mmds_store {
	pthread_mutex_t lock;
	int version; /* 1, 2 */
	bool imds_compat;
	uint32_t ip;  /* host order */
	size_t limit; /* the document's bytes at most */
	char *json;   /* owned, NULL: none yet */
	size_t json_len;
	struct mmds_token_key key;
};

/* Main thread. version 1 or 2, ip 0: the default, limit 0: the default. */
__attribute__((warn_unused_result)) int mmds_store_new(struct mmds_store **out, int version,
						       uint32_t ip, bool imds_compat, size_t limit,
						       struct err *e);
/* Any thread: the document replaced by json (len bytes of JSON text).
 * -EINVAL: not JSON; -EFBIG: over the limit; -ENOMEM. */
__attribute__((warn_unused_result)) int mmds_store_put(struct mmds_store *s, const char *json,
						       size_t len);
void mmds_store_free(struct mmds_store *s);

/* One interface's responder. */
struct mmds_resp {
	pthread_mutex_t lock;	  /* the TX workers put frames in, RX pair 0 takes them */
	struct mmds_store *store; /* borrowed (the VM's) */
	uint8_t mac[6];		  /* the MMDS's: 06:01:23:45:67:01 (Firecracker's) */
	uint8_t guest_mac[6];	  /* the last frame's source */
	bool arp_due;
	uint32_t arp_ip; /* the asker's address */
	struct mmds_tcp tcp;
	uint64_t now_ms; /* of the frame being handled (the answer's clock) */
	uint64_t frames_in, frames_bad, frames_out;
};

__attribute__((warn_unused_result)) int mmds_resp_new(struct mmds_resp **out,
						      struct mmds_store *store, struct err *e);
void mmds_resp_free(struct mmds_resp *r);
/* A frame the guest sent to the MMDS (mmds_frame_for said so): handled. */
void mmds_resp_input(struct mmds_resp *r, const uint8_t *f, size_t len, uint64_t now_ms);
/* The next frame for the guest into out (MMDS_FRAME_MAX bytes): its
 * length, 0 when there is none. */
size_t mmds_resp_output(struct mmds_resp *r, uint8_t *out);

#endif
