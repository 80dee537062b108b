/* SPDX-License-Identifier: MIT */
/* The API's MMDS document and configuration (api_mmds.h). */
#include "vmm/cli/api_mmds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MMDS_BODY_DEPTH 64 /* as deep as the responder walks (devices/mmds.h) */

void api_mmds_free(struct api_mmds *m)
{
	json_object_put(m->doc);
	m->doc = NULL;
}

/* No NaN or infinity anywhere in o (json-c takes them even when strict;
 * GET /mmds would hand them back as text that is not JSON). */
static bool all_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (!all_finite(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

static struct json_object *parse(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(MMDS_BODY_DEPTH);
	if (!tok)
		return NULL;
	/* what GET /mmds gives back must be JSON: no NaN or Infinity, UTF-8 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	bool trailing = false;
	for (size_t i = end; i < len; i++)
		trailing |= !text[i] || !strchr(" \t\r\n", text[i]);
	/* a body of "null" parses to NULL too: refused like the rest */
	if (!o || je != json_tokener_success || trailing || !all_finite(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- the text: compact, keys sorted ---------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_json(struct buf *b, struct json_object *o)
{
	const int fl = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	if (json_object_is_type(o, json_type_array)) {
		put(b, "[", 1);
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			if (i)
				put(b, ",", 1);
			put_json(b, json_object_array_get_idx(o, i));
		}
		put(b, "]", 1);
		return;
	}
	if (!json_object_is_type(o, json_type_object)) {
		const char *s = json_object_to_json_string_ext(o, fl);
		put(b, s, strlen(s));
		return;
	}
	size_t n = (size_t)json_object_object_length(o), k = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		b->failed = true;
		return;
	}
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		keys[k++] = key;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	put(b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(b, ",", 1);
		struct json_object *ks = json_object_new_string(keys[i]);
		if (!ks) {
			b->failed = true;
			break;
		}
		const char *s = json_object_to_json_string_ext(ks, fl);
		put(b, s, strlen(s));
		json_object_put(ks);
		put(b, ":", 1);
		put_json(b, json_object_object_get(o, keys[i]));
	}
	put(b, "}", 1);
	free(keys);
}

char *api_mmds_text(const struct api_mmds *m, size_t *len)
{
	struct buf b = {0};
	if (m->doc)
		put_json(&b, m->doc);
	else
		put(&b, "null", 4);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- PUT, PATCH -------------------------------------------------------------- */

/* RFC 7396: patch merged into *target (owned, replaced as needed); 0 or
 * -ENOMEM. */
static int merge(struct json_object **target, struct json_object *patch)
{
	if (!json_object_is_type(patch, json_type_object)) {
		struct json_object *copy = NULL;
		if (json_object_deep_copy(patch, &copy, NULL) < 0)
			return -ENOMEM;
		json_object_put(*target);
		*target = copy;
		return 0;
	}
	if (!json_object_is_type(*target, json_type_object)) {
		json_object_put(*target);
		if (!(*target = json_object_new_object()))
			return -ENOMEM;
	}
	json_object_object_foreach(patch, key, val)
	{
		if (!val) {
			json_object_object_del(*target, key);
			continue;
		}
		struct json_object *cur = json_object_object_get(*target, key);
		struct json_object *next = cur ? json_object_get(cur) : NULL;
		int r = merge(&next, val);
		if (r < 0) {
			json_object_put(next);
			return r;
		}
		if (json_object_object_add(*target, key, next) < 0)
			return -ENOMEM;
	}
	return 0;
}

int api_mmds_update(struct api_mmds *m, const char *body, size_t len, bool patch, size_t limit,
		    char *msg, size_t msglen)
{
	struct json_object *v = parse(body, len);
	if (!v) {
		snprintf(msg, msglen, "the request body is not valid JSON");
		return 400;
	}
	if (patch && !m->doc) {
		json_object_put(v);
		snprintf(msg, msglen, "The MMDS data store is not initialized.");
		return 400;
	}
	struct json_object *next = NULL;
	int r = 0;
	if (patch) {
		r = json_object_deep_copy(m->doc, &next, NULL) < 0 ? -ENOMEM : merge(&next, v);
		json_object_put(v);
	} else {
		next = v;
	}
	if (r < 0) {
		json_object_put(next);
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	struct api_mmds tmp = {.doc = next};
	size_t n = 0;
	char *text = api_mmds_text(&tmp, &n);
	free(text);
	if (!text) {
		json_object_put(next);
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	if (n > limit) {
		json_object_put(next);
		snprintf(msg, msglen,
			 "MMDS limit exceeded error: The MMDS patch request doesn't fit.");
		return 413;
	}
	json_object_put(m->doc);
	m->doc = next;
	return 0;
}

/* ---- PUT /mmds/config ------------------------------------------------------ */

int api_mmds_config(struct api_mmds *m, const char *body, size_t len, const char *const *ids,
		    unsigned nids, char *msg, size_t msglen)
{
	struct json_object *o = parse(body, len);
	int st = 400;
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(msg, msglen, "the request body must be a JSON object");
		goto out;
	}
	struct cvmm_mmds_config c = {.version = CVMM_MMDS_V1};
	bool ifaces = false;
	json_object_object_foreach(o, key, val)
	{
		if (!strcmp(key, "version")) {
			const char *v = json_object_get_string(val);
			if (!json_object_is_type(val, json_type_string) ||
			    (strcmp(v, "V1") && strcmp(v, "V2"))) {
				snprintf(msg, msglen, "'version' must be \"V1\" or \"V2\"");
				goto out;
			}
			c.version = v[1] == '1' ? CVMM_MMDS_V1 : CVMM_MMDS_V2;
		} else if (!strcmp(key, "network_interfaces")) {
			if (!json_object_is_type(val, json_type_array)) {
				snprintf(msg, msglen,
					 "'network_interfaces' must be an array of ids");
				goto out;
			}
			ifaces = true;
			size_t n = json_object_array_length(val);
			if (!n) {
				snprintf(msg, msglen,
					 "The list of network interface IDs that allow forwarding "
					 "MMDS requests is empty.");
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				struct json_object *id = json_object_array_get_idx(val, i);
				unsigned k = 0;
				while (json_object_is_type(id, json_type_string) && k < nids &&
				       strcmp(ids[k], json_object_get_string(id)))
					k++;
				if (!json_object_is_type(id, json_type_string) || k == nids) {
					snprintf(msg, msglen,
						 "The list of network interface IDs provided "
						 "contains "
						 "at least one ID that does not correspond to any "
						 "existing network interface.");
					goto out;
				}
				c.net_mask |= 1u << k;
			}
		} else if (!strcmp(key, "ipv4_address")) {
			struct in_addr a;
			if (!val)
				continue;
			if (!json_object_is_type(val, json_type_string) ||
			    inet_pton(AF_INET, json_object_get_string(val), &a) != 1) {
				snprintf(msg, msglen, "'ipv4_address' must be an IPv4 address");
				goto out;
			}
			c.ipv4_addr = ntohl(a.s_addr);
			if ((c.ipv4_addr >> 16) != 0xa9fe) {
				snprintf(msg, msglen, "The MMDS IPv4 address is not link local.");
				goto out;
			}
		} else if (!strcmp(key, "imds_compat")) {
			if (!json_object_is_type(val, json_type_boolean)) {
				snprintf(msg, msglen, "'imds_compat' must be a boolean");
				goto out;
			}
			c.imds_compat = json_object_get_boolean(val);
		} else {
			snprintf(msg, msglen, "unknown field '%.64s'", key);
			goto out;
		}
	}
	if (!ifaces) {
		snprintf(msg, msglen, "'network_interfaces' is required");
		goto out;
	}
	m->cfg = c;
	st = 0;
out:
	json_object_put(o);
	return st;
}

struct json_object *api_mmds_config_json(const struct api_mmds *m, const char *const *ids,
					 unsigned nids)
{
	struct json_object *o = json_object_new_object(), *ifs = json_object_new_array();
	char ip[INET_ADDRSTRLEN] = "169.254.169.254";
	struct in_addr a = {.s_addr = htonl(m->cfg.ipv4_addr)};
	if (m->cfg.ipv4_addr)
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
	for (unsigned i = 0; i < nids; i++)
		if (m->cfg.net_mask & (1u << i))
			json_object_array_add(ifs, json_object_new_string(ids[i]));
	json_object_object_add(
		o, "version", json_object_new_string(m->cfg.version == CVMM_MMDS_V2 ? "V2" : "V1"));
	json_object_object_add(o, "network_interfaces", ifs);
	json_object_object_add(o, "ipv4_address", json_object_new_string(ip));
	json_object_object_add(o, "imds_compat", json_object_new_boolean(m->cfg.imds_compat));
	return o;
}
