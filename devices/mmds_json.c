/* SPDX-License-Identifier: MIT */
/* The MMDS document: JSON text walked in place (pure; fuzzed by
 * fuzz_mmds_json). The store checks a document once (mmds_json_valid);
 * every walk still checks what it passes over, bounded by the text's
 * length and MMDS_JSON_DEPTH levels of nesting, so text that is not JSON
 * fails cleanly rather than being trusted. */
#include <errno.h>
#include <string.h>

#include "devices/mmds.h"

static size_t ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long hex4(const char *s, size_t len, size_t i)
{
	if (i + 4 > len)
		return -1;
	long v = 0;
	for (size_t k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The next character of the string whose bytes continue at *i (past the
 * opening quote): its UTF-8 bytes in out and their count, 0 at the closing
 * quote (*i past it), -1 for a broken string. */
static int str_next(const char *s, size_t len, size_t *i, char out[4])
{
	if (*i >= len)
		return -1;
	unsigned char c = (unsigned char)s[*i];
	if (c == '"') {
		(*i)++;
		return 0;
	}
	if (c < 0x20)
		return -1;
	if (c != '\\') {
		out[0] = (char)c;
		(*i)++;
		return 1;
	}
	if (*i + 1 >= len)
		return -1;
	char e = s[*i + 1];
	*i += 2;
	switch (e) {
	case '"':
	case '\\':
	case '/':
		out[0] = e;
		return 1;
	case 'b':
		out[0] = '\b';
		return 1;
	case 'f':
		out[0] = '\f';
		return 1;
	case 'n':
		out[0] = '\n';
		return 1;
	case 'r':
		out[0] = '\r';
		return 1;
	case 't':
		out[0] = '\t';
		return 1;
	case 'u': {
		long cp = hex4(s, len, *i);
		if (cp < 0)
			return -1;
		*i += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && *i + 1 < len && s[*i] == '\\' &&
		    s[*i + 1] == 'u') {
			long lo = hex4(s, len, *i + 2);
			if (lo >= 0xdc00 && lo < 0xe000) {
				*i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
		}
		if (cp >= 0xd800 && cp < 0xe000)
			cp = 0xfffd; /* a lone surrogate */
		return (int)utf8((uint32_t)cp, out);
	}
	default:
		return -1;
	}
}

/* Past the string starting at s[i] == '"': the index after its closing
 * quote, or 0 for a broken one. */
static size_t skip_str(const char *s, size_t len, size_t i)
{
	char tmp[4];
	i++;
	for (;;) {
		int n = str_next(s, len, &i, tmp);
		if (n < 0)
			return 0;
		if (n == 0)
			return i;
	}
}

static size_t skip_num(const char *s, size_t len, size_t i)
{
	size_t st = i;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else {
		if (i >= len || s[i] < '1' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i > st ? i : 0;
}

/* Past the value at s[i] (no white space before it): the index after it,
 * or 0 when it is not JSON. */
static size_t skip_value(const char *s, size_t len, size_t i, unsigned depth)
{
	if (i >= len)
		return 0;
	switch (s[i]) {
	case '"':
		return skip_str(s, len, i);
	case 't':
		return len - i >= 4 && !memcmp(s + i, "true", 4) ? i + 4 : 0;
	case 'f':
		return len - i >= 5 && !memcmp(s + i, "false", 5) ? i + 5 : 0;
	case 'n':
		return len - i >= 4 && !memcmp(s + i, "null", 4) ? i + 4 : 0;
	case '{':
	case '[': {
		bool obj = s[i] == '{';
		char close = obj ? '}' : ']';
		if (depth >= MMDS_JSON_DEPTH)
			return 0;
		i = ws(s, len, i + 1);
		if (i < len && s[i] == close)
			return i + 1;
		for (;;) {
			if (obj) {
				if (i >= len || s[i] != '"' || !(i = skip_str(s, len, i)))
					return 0;
				i = ws(s, len, i);
				if (i >= len || s[i] != ':')
					return 0;
				i = ws(s, len, i + 1);
			}
			if (!(i = skip_value(s, len, i, depth + 1)))
				return 0;
			i = ws(s, len, i);
			if (i < len && s[i] == ',') {
				i = ws(s, len, i + 1);
				continue;
			}
			if (i < len && s[i] == close)
				return i + 1;
			return 0;
		}
	}
	default:
		return skip_num(s, len, i);
	}
}

bool mmds_json_valid(const char *s, size_t len)
{
	size_t i = ws(s, len, 0);
	size_t e = skip_value(s, len, i, 0);
	return e && ws(s, len, e) == len;
}

/* Whether the string token at s[i] == '"' says exactly comp (clen bytes);
 * *end: past the token (0: broken). */
static bool str_is(const char *s, size_t len, size_t i, const char *comp, size_t clen, size_t *end)
{
	char ch[4];
	size_t k = 0;
	bool same = true;
	i++;
	for (;;) {
		int n = str_next(s, len, &i, ch);
		if (n < 0) {
			*end = 0;
			return false;
		}
		if (n == 0)
			break;
		if (same && (k + (size_t)n > clen || memcmp(comp + k, ch, (size_t)n)))
			same = false;
		k += (size_t)n;
	}
	*end = i;
	return same && k == clen;
}

/* One path component, JSON pointer's escapes undone, into out (cap):
 * its length, or -1 when it does not fit. */
static long component(const char *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
			c = p[i + 1] == '0' ? '~' : '/';
			i++;
		}
		if (k == cap)
			return -1;
		out[k++] = c;
	}
	return (long)k;
}

int mmds_json_lookup(const char *s, size_t len, const char *path, size_t plen, size_t *off,
		     size_t *vlen)
{
	size_t i = ws(s, len, 0);
	char comp[MMDS_RCV_MAX];
	size_t p = 0;
	for (;;) {
		while (p < plen && path[p] == '/')
			p++;
		if (p == plen)
			break;
		size_t q = p;
		while (q < plen && path[q] != '/')
			q++;
		long cl = component(path + p, q - p, comp, sizeof(comp));
		p = q;
		if (cl < 0)
			return -ENOENT;
		if (i >= len)
			return -EINVAL;
		if (s[i] == '{') {
			i = ws(s, len, i + 1);
			bool found = false;
			if (i < len && s[i] == '}')
				return -ENOENT;
			for (;;) {
				size_t end;
				if (i >= len || s[i] != '"')
					return -EINVAL;
				bool eq = str_is(s, len, i, comp, (size_t)cl, &end);
				if (!end)
					return -EINVAL;
				i = ws(s, len, end);
				if (i >= len || s[i] != ':')
					return -EINVAL;
				i = ws(s, len, i + 1);
				if (eq) {
					found = true;
					break;
				}
				if (!(i = skip_value(s, len, i, 1)))
					return -EINVAL;
				i = ws(s, len, i);
				if (i < len && s[i] == ',') {
					i = ws(s, len, i + 1);
					continue;
				}
				if (i < len && s[i] == '}')
					break;
				return -EINVAL;
			}
			if (!found)
				return -ENOENT;
		} else if (s[i] == '[') {
			/* an index: digits, no leading zero */
			size_t idx = 0;
			if (!cl || (cl > 1 && comp[0] == '0') || cl > 9)
				return -ENOENT;
			for (long k = 0; k < cl; k++) {
				if (comp[k] < '0' || comp[k] > '9')
					return -ENOENT;
				idx = idx * 10 + (size_t)(comp[k] - '0');
			}
			i = ws(s, len, i + 1);
			if (i < len && s[i] == ']')
				return -ENOENT;
			for (size_t k = 0; k < idx; k++) {
				if (!(i = skip_value(s, len, i, 1)))
					return -EINVAL;
				i = ws(s, len, i);
				if (i < len && s[i] == ']')
					return -ENOENT;
				if (i >= len || s[i] != ',')
					return -EINVAL;
				i = ws(s, len, i + 1);
			}
		} else {
			/* a scalar has no members; still check it is one */
			if (!skip_value(s, len, i, 0))
				return -EINVAL;
			return -ENOENT;
		}
	}
	size_t e = skip_value(s, len, i, 0);
	if (!e)
		return -EINVAL;
	*off = i;
	*vlen = e - i;
	return 0;
}

/* Appends the decoded string at v[i] == '"' to out; *i past it. */
static long put_str(const char *v, size_t vlen, size_t *i, char *out, size_t cap, size_t k)
{
	char ch[4];
	(*i)++;
	for (;;) {
		int n = str_next(v, vlen, i, ch);
		if (n < 0)
			return -EINVAL;
		if (n == 0)
			return (long)k;
		if (k + (size_t)n > cap)
			return -ENOSPC;
		memcpy(out + k, ch, (size_t)n);
		k += (size_t)n;
	}
}

long mmds_json_imds(const char *v, size_t vlen, char *out, size_t cap)
{
	size_t i = ws(v, vlen, 0);
	if (i >= vlen)
		return -EINVAL;
	if (v[i] == '"') {
		long k = put_str(v, vlen, &i, out, cap, 0);
		if (k >= 0 && ws(v, vlen, i) != vlen)
			return -EINVAL;
		return k;
	}
	if (v[i] != '{') {
		size_t e = skip_value(v, vlen, i, 0);
		return e && ws(v, vlen, e) == vlen ? -ENOTSUP : -EINVAL;
	}
	size_t k = 0;
	bool first = true;
	i = ws(v, vlen, i + 1);
	if (i < vlen && v[i] == '}')
		return ws(v, vlen, i + 1) == vlen ? 0 : -EINVAL;
	for (;;) {
		if (i >= vlen || v[i] != '"')
			return -EINVAL;
		if (!first) {
			if (k == cap)
				return -ENOSPC;
			out[k++] = '\n';
		}
		first = false;
		long r = put_str(v, vlen, &i, out, cap, k);
		if (r < 0)
			return r;
		k = (size_t)r;
		i = ws(v, vlen, i);
		if (i >= vlen || v[i] != ':')
			return -EINVAL;
		i = ws(v, vlen, i + 1);
		if (i < vlen && v[i] == '{') {
			if (k == cap)
				return -ENOSPC;
			out[k++] = '/';
		}
		if (!(i = skip_value(v, vlen, i, 1)))
			return -EINVAL;
		i = ws(v, vlen, i);
		if (i < vlen && v[i] == ',') {
			i = ws(v, vlen, i + 1);
			continue;
		}
		if (i < vlen && v[i] == '}')
			return ws(v, vlen, i + 1) == vlen ? (long)k : -EINVAL;
		return -EINVAL;
	}
}
