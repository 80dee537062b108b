/* SPDX-License-Identifier: MIT */
/* MMDS over HTTP/1.1 (pure; fuzzed by fuzz_mmds_http): one request parsed
 * in place, bounded by the connection's MMDS_RCV_MAX bytes, and
 * Firecracker's answer to it: GET of a path of the document (V2: with a
 * session token), PUT /latest/api/token for a token, the same status codes
 * and messages. Tokens are a keyed hash over a counter and the expiry
 * time, under a key drawn once at creation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "devices/mmds.h"

/* ---- tokens ------------------------------------------------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* SipHash-2-4 */
uint64_t mmds_siphash(const uint8_t key[16], const uint8_t *p, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 16-byte tag of a token's first 16 bytes (counter, expiry). */
static void token_tag(const struct mmds_token_key *k, const uint8_t body[16], uint8_t tag[16])
{
	put_le64(tag, mmds_siphash(k->k, body, 16));
	put_le64(tag + 8, mmds_siphash(k->k + 16, body, 16));
}

void mmds_token_new(struct mmds_token_key *k, uint64_t now_ms, uint32_t ttl,
		    char out[MMDS_TOKEN_LEN + 1])
{
	uint8_t raw[33] = {0}; /* counter, expiry, tag; a zero byte pads to 3s */
	put_le64(raw, atomic_fetch_add(&k->counter, 1));
	put_le64(raw + 8, now_ms + (uint64_t)ttl * 1000);
	token_tag(k, raw, raw + 16);
	size_t o = 0;
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	/* 32 bytes are 43 characters and one '=' */
	out[43] = '=';
	out[44] = '\0';
}

bool mmds_token_valid(const struct mmds_token_key *k, const char *tok, size_t len, uint64_t now_ms)
{
	if (len != MMDS_TOKEN_LEN || tok[43] != '=')
		return false;
	uint8_t raw[33];
	size_t o = 0;
	for (size_t i = 0; i < 44; i += 4) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			char c = i + j == 43 ? 'A' : tok[i + j];
			const char *at = c ? strchr(b64, c) : NULL;
			if (!at)
				return false;
			v = v << 6 | (uint32_t)(at - b64);
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
	uint8_t tag[16];
	token_tag(k, raw, tag);
	uint8_t diff = raw[32]; /* the padding's bits are zero */
	for (int i = 0; i < 16; i++)
		diff |= tag[i] ^ raw[16 + i];
	return !diff && now_ms < le64(raw + 8);
}

/* ---- requests ------------------------------------------------------------------ */

static bool name_is(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && !strncasecmp(p, want, n);
}

static bool has_token(const char *p, size_t n, const char *want)
{
	size_t w = strlen(want);
	for (size_t i = 0; i + w <= n; i++)
		if (!strncasecmp(p + i, want, w))
			return true;
	return false;
}

int mmds_http_parse(const uint8_t *buf, size_t len, struct mmds_req *r, size_t *used)
{
	const char *s = (const char *)buf;
	memset(r, 0, sizeof(*r));
	*used = 0;
	/* the head ends at an empty line */
	size_t end = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == '\n' && s[i + 1] == '\n') {
			end = i + 2;
			break;
		}
		if (i + 3 < len && !memcmp(s + i, "\r\n\r\n", 4)) {
			end = i + 4;
			break;
		}
	}
	if (!end)
		return 0;
	/* request line: METHOD SP target SP HTTP/1.x */
	size_t i = 0;
	while (i < end && s[i] != ' ' && s[i] != '\r' && s[i] != '\n')
		i++;
	if (i == 0 || i >= end || s[i] != ' ')
		return -EINVAL;
	if (i == 3 && !memcmp(s, "GET", 3))
		r->method = MMDS_GET;
	else if (i == 3 && !memcmp(s, "PUT", 3))
		r->method = MMDS_PUT;
	else
		r->method = MMDS_OTHER;
	size_t t = ++i;
	while (i < end && s[i] != ' ' && s[i] != '\r' && s[i] != '\n')
		i++;
	if (i == t || i >= end || s[i] != ' ')
		return -EINVAL;
	const char *target = s + t;
	size_t tlen = i - t;
	/* absolute form: http://host/path */
	if (tlen > 7 && !strncasecmp(target, "http://", 7)) {
		const char *slash = memchr(target + 7, '/', tlen - 7);
		if (!slash)
			return -EINVAL;
		tlen -= (size_t)(slash - target);
		target = slash;
	}
	if (target[0] != '/')
		return -EINVAL;
	size_t q = 0;
	while (q < tlen && target[q] != '?' && target[q] != '#')
		q++;
	r->path = target;
	r->path_len = q;
	i++;
	if (end - i < 10 || memcmp(s + i, "HTTP/1.", 7) || s[i + 7] < '0' || s[i + 7] > '1')
		return -EINVAL;
	r->minor = s[i + 7] - '0';
	i += 8;
	if (s[i] == '\r')
		i++;
	if (s[i] != '\n')
		return -EINVAL;
	i++;
	bool keep_alive = false;
	size_t clen = 0;
	/* headers: name: value, one a line */
	while (i < end) {
		size_t ls = i;
		while (i < end && s[i] != '\n')
			i++;
		size_t le = i; /* at '\n' */
		i++;
		if (le > ls && s[le - 1] == '\r')
			le--;
		if (le == ls)
			break; /* the empty line */
		const char *colon = memchr(s + ls, ':', le - ls);
		if (!colon || colon == s + ls)
			return -EINVAL;
		const char *name = s + ls;
		size_t nlen = (size_t)(colon - name);
		for (size_t k = 0; k < nlen; k++)
			if (name[k] == ' ' || name[k] == '\t')
				return -EINVAL;
		const char *v = colon + 1;
		const char *ve = s + le;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t vlen = (size_t)(ve - v);
		if (name_is(name, nlen, "accept")) {
			r->json = has_token(v, vlen, "application/json");
		} else if (name_is(name, nlen, "connection")) {
			r->close = has_token(v, vlen, "close");
			keep_alive = has_token(v, vlen, "keep-alive");
		} else if (name_is(name, nlen, "x-forwarded-for")) {
			r->forwarded = true;
		} else if (name_is(name, nlen, "x-metadata-token") ||
			   name_is(name, nlen, "x-aws-ec2-metadata-token")) {
			r->token = v;
			r->token_len = vlen;
		} else if (name_is(name, nlen, "x-metadata-token-ttl-seconds") ||
			   name_is(name, nlen, "x-aws-ec2-metadata-token-ttl-seconds")) {
			r->ttl = v;
			r->ttl_len = vlen;
			r->ttl_name = name;
			r->ttl_name_len = nlen;
		} else if (name_is(name, nlen, "content-length")) {
			if (!vlen || vlen > 6)
				return -EINVAL;
			clen = 0;
			for (size_t k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9')
					return -EINVAL;
				clen = clen * 10 + (size_t)(v[k] - '0');
			}
		} else if (name_is(name, nlen, "transfer-encoding")) {
			return -EINVAL; /* no chunked bodies */
		}
	}
	if (r->minor == 0 && !keep_alive)
		r->close = true;
	if (clen > MMDS_RCV_MAX)
		return -EINVAL;
	if (len - end < clen)
		return 0;
	*used = end + clen;
	return 1;
}

/* ---- answers -------------------------------------------------------------------- */

struct out {
	char *p;
	size_t cap, len;
	bool over;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->over = true;
	else
		o->len += (size_t)n;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 501:
		return "Not Implemented";
	default:
		return "Internal Server Error";
	}
}

/* The status line and headers; the body's bytes follow. */
static void head(struct out *o, const struct mmds_req *r, int status, bool json, size_t blen,
		 const char *extra)
{
	outf(o,
	     "HTTP/1.%d %d %s\r\nServer: Firecracker API\r\nConnection: %s\r\n%sContent-Type: "
	     "%s\r\nContent-Length: %zu\r\n\r\n",
	     r->minor, status, reason(status), r->close ? "close" : "keep-alive", extra,
	     json ? "application/json" : "text/plain", blen);
}

static size_t text(struct out *o, const struct mmds_req *r, int status, const char *body,
		   const char *extra)
{
	size_t blen = strlen(body);
	head(o, r, status, false, blen, extra);
	if (!o->over && o->cap - o->len >= blen) {
		memcpy(o->p + o->len, body, blen);
		o->len += blen;
	} else {
		o->over = true;
	}
	return o->over ? 0 : o->len;
}

/* The path for messages: printable bytes, at most 256 of them. */
static void path_for_msg(const struct mmds_req *r, char *buf, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < r->path_len && k + 1 < cap && i < 256; i++)
		buf[k++] = r->path[i] >= 0x20 && r->path[i] < 0x7f ? r->path[i] : '?';
	buf[k] = '\0';
}

/* Whether the path, "//" folded and a trailing '/' ignored, is want. */
static bool path_is(const struct mmds_req *r, const char *want)
{
	size_t w = 0, i = 0, n = r->path_len;
	while (n > 1 && r->path[n - 1] == '/')
		n--;
	while (i < n) {
		if (r->path[i] == '/' && i + 1 < n && r->path[i + 1] == '/') {
			i++;
			continue;
		}
		if (!want[w] || want[w] != r->path[i])
			return false;
		w++;
		i++;
	}
	return !want[w];
}

static size_t answer_get(struct out *o, const struct mmds_req *r, const struct mmds_view *v)
{
	char msg[320], p[260];
	size_t off = 0, vlen = 0;
	int rc = v->json ? mmds_json_lookup(v->json, v->json_len, r->path, r->path_len, &off, &vlen)
			 : -ENOENT;
	if (rc < 0) {
		path_for_msg(r, p, sizeof(p));
		snprintf(msg, sizeof(msg), "Resource not found: %s.", p);
		return text(o, r, 404, msg, "");
	}
	bool json = r->json && !v->imds_compat; /* EC2's IMDS ignores Accept */
	if (json) {
		head(o, r, 200, true, vlen, "");
		if (o->over || o->cap - o->len < vlen)
			return 0;
		memcpy(o->p + o->len, v->json + off, vlen);
		o->len += vlen;
		return o->len;
	}
	/* the body goes after a head of a length not known yet: render it at
	 * the end of the room, then move it */
	size_t room = o->cap - o->len;
	if (room <= MMDS_HDR_ROOM)
		return 0;
	char *at = o->p + o->len + MMDS_HDR_ROOM;
	long n = mmds_json_imds(v->json + off, vlen, at, room - MMDS_HDR_ROOM);
	if (n == -ENOTSUP)
		return text(o, r, 501, "Cannot retrieve value. The value has an unsupported type.",
			    "");
	if (n < 0)
		return 0;
	size_t start = o->len;
	head(o, r, 200, false, (size_t)n, "");
	if (o->over || o->len - start > MMDS_HDR_ROOM)
		return 0;
	memmove(o->p + o->len, at, (size_t)n);
	o->len += (size_t)n;
	return o->len;
}

static size_t answer_put(struct out *o, const struct mmds_req *r, const struct mmds_view *v,
			 uint64_t now_ms)
{
	char msg[400];
	if (r->forwarded)
		return text(o, r, 400,
			    "Invalid header. Reason: Unsupported header name. Key: "
			    "X-Forwarded-For",
			    "");
	if (!path_is(r, MMDS_TOKEN_PATH)) {
		char p[260];
		path_for_msg(r, p, sizeof(p));
		snprintf(msg, sizeof(msg), "Resource not found: %s.", p);
		return text(o, r, 404, msg, "");
	}
	if (!r->ttl)
		return text(
			o, r, 400,
			"Token time to live value not found. Use `X-metadata-token-ttl-seconds` "
			"or `X-aws-ec2-metadata-token-ttl-seconds` header to specify the "
			"token's lifetime.",
			"");
	uint64_t ttl = 0;
	bool num = r->ttl_len > 0 && r->ttl_len <= 10;
	for (size_t i = 0; num && i < r->ttl_len; i++) {
		num = r->ttl[i] >= '0' && r->ttl[i] <= '9';
		ttl = ttl * 10 + (uint64_t)(r->ttl[i] - '0');
	}
	if (!num || ttl > 0xffffffffu) {
		snprintf(msg, sizeof(msg), "Invalid value. Key:%.*s; Value:%.*s",
			 (int)(r->ttl_name_len > 64 ? 64 : r->ttl_name_len), r->ttl_name,
			 (int)(r->ttl_len > 64 ? 64 : r->ttl_len), r->ttl);
		return text(o, r, 400, msg, "");
	}
	if (ttl < MMDS_TTL_MIN || ttl > MMDS_TTL_MAX) {
		snprintf(msg, sizeof(msg),
			 "Invalid time to live value provided for token: %llu. Please provide a "
			 "value between %d and %d.",
			 (unsigned long long)ttl, MMDS_TTL_MIN, MMDS_TTL_MAX);
		return text(o, r, 400, msg, "");
	}
	char tok[MMDS_TOKEN_LEN + 1], extra[128];
	mmds_token_new(v->key, now_ms, (uint32_t)ttl, tok);
	snprintf(extra, sizeof(extra), "%.*s: %llu\r\n",
		 (int)(r->ttl_name_len > 64 ? 64 : r->ttl_name_len), r->ttl_name,
		 (unsigned long long)ttl);
	return text(o, r, 200, tok, extra);
}

size_t mmds_http_answer(const struct mmds_req *r, bool bad, const struct mmds_view *v,
			uint64_t now_ms, char *buf, size_t cap)
{
	struct out o = {.p = buf, .cap = cap};
	if (bad) {
		struct mmds_req b = {.minor = 1, .close = true};
		return text(&o, &b, 400, "Invalid request.", "");
	}
	if (!r->path_len)
		return text(&o, r, 400, "Invalid URI.", "");
	if (r->method == MMDS_PUT)
		return answer_put(&o, r, v, now_ms);
	if (r->method != MMDS_GET)
		return text(&o, r, 405, "Not allowed HTTP method.", "Allow: GET, PUT\r\n");
	if (v->version == 2) {
		if (!r->token)
			return text(&o, r, 401,
				    "No MMDS token provided. Use `X-metadata-token` or "
				    "`X-aws-ec2-metadata-token` header to specify the session "
				    "token.",
				    "");
		if (!mmds_token_valid(v->key, r->token, r->token_len, now_ms))
			return text(&o, r, 401, "MMDS token not valid.", "");
	}
	return answer_get(&o, r, v);
}
