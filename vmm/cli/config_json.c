/* SPDX-License-Identifier: MIT */
/* --config FILE: a JSON object -> cvmm_config, through the public setters
 * (which validate values), field by field. */
#include "vmm/cli/config_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli/args.h"
#include "vmm/cli/limiter_json.h"

#define JSON_MAX_DEPTH 8

struct jctx {
	struct cvmm_config *cfg; /* borrowed */
	char *err;		 /* borrowed */
	size_t errlen;
	unsigned ndisks, nnets; /* added so far */
};

__attribute__((format(printf, 3, 4))) static int jfail(struct jctx *c, int er, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(c->err, c->errlen, "config: ");
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -er;
}

/* A setter refused the value: its message, with the field. */
static int jsetter(struct jctx *c, int r, const char *field)
{
	if (r >= 0)
		return 0;
	return jfail(c, -r, "%s: %s", field, cvmm_config_error(c->cfg));
}

/* Every key of o must be in allowed (NULL-terminated). */
static int jkeys(struct jctx *c, struct json_object *o, const char *where,
		 const char *const *allowed)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		bool known = false;
		for (const char *const *a = allowed; *a && !known; a++)
			known = !strcmp(*a, k);
		if (!known)
			return jfail(c, EINVAL, "unknown field '%.64s'%s%s", k,
				     *where ? " in " : "", where);
	}
	return 0;
}

/* Whether key is present; *v is its value (NULL for a JSON null, which
 * every type check refuses). */
static bool jhas(struct json_object *o, const char *key, struct json_object **v)
{
	*v = NULL;
	return json_object_object_get_ex(o, key, v);
}

/* Optional string field: *out stays NULL when absent. */
static int jstr(struct jctx *c, struct json_object *o, const char *key, const char *where,
		const char **out)
{
	struct json_object *v;
	*out = NULL;
	if (!jhas(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return jfail(c, EINVAL, "'%s'%s%s must be a string", key, *where ? " in " : "",
			     where);
	*out = json_object_get_string(v);
	return 0;
}

static int jbool(struct jctx *c, struct json_object *o, const char *key, const char *where,
		 bool *out)
{
	struct json_object *v;
	*out = false;
	if (!jhas(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return jfail(c, EINVAL, "'%s'%s%s must be true or false", key, *where ? " in " : "",
			     where);
	*out = json_object_get_boolean(v);
	return 0;
}

/* Optional integer in [min, max]; *present tells whether it was there. */
static int jint(struct jctx *c, struct json_object *o, const char *key, const char *where,
		int64_t min, int64_t max, int64_t *out, bool *present)
{
	struct json_object *v;
	*present = jhas(o, key, &v);
	if (!*present)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return jfail(c, EINVAL, "'%s'%s%s must be an integer", key, *where ? " in " : "",
			     where);
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < min || x > max)
		return jfail(c, ERANGE, "'%s'%s%s must be %lld..%lld", key, *where ? " in " : "",
			     where, (long long)min, (long long)max);
	*out = x;
	return 0;
}

/* A rate limiter field of o (Firecracker's object, limiter_json.h). */
static int jlimit(struct jctx *c, struct json_object *o, const char *key, const char *where,
		  struct cvmm_rate_limiter *out)
{
	struct json_object *v = NULL;
	struct cli_limiter l;
	char msg[200];
	if (!jhas(o, key, &v))
		v = NULL;
	if (cli_limiter_json(v, key, &l, msg, sizeof(msg)) < 0)
		return jfail(c, EINVAL, "%s%s%s", msg, *where ? " in " : "", where);
	*out = l.rl;
	return 0;
}

static int jdisk(struct jctx *c, struct json_object *d, const char *where)
{
	static const char *const keys[] = {"path",	   "ro",      "direct", "queues",
					   "rate_limiter", "poll_us", NULL};
	struct cvmm_rate_limiter lim;
	const char *path;
	bool ro, direct, hasq, haspoll;
	int64_t q = 1, poll = 0;
	int r;
	if (!json_object_is_type(d, json_type_object))
		return jfail(c, EINVAL, "%s must be an object", where);
	if ((r = jkeys(c, d, where, keys)) < 0 || (r = jstr(c, d, "path", where, &path)) < 0 ||
	    (r = jbool(c, d, "ro", where, &ro)) < 0 ||
	    (r = jbool(c, d, "direct", where, &direct)) < 0 ||
	    (r = jint(c, d, "queues", where, 1, 8, &q, &hasq)) < 0 ||
	    (r = jlimit(c, d, "rate_limiter", where, &lim)) < 0 ||
	    (r = jint(c, d, "poll_us", where, 0, CVMM_DISK_POLL_MAX_US, &poll, &haspoll)) < 0)
		return r;
	if (!path)
		return jfail(c, EINVAL, "'path' is required in %s", where);
	unsigned flags = (ro ? CVMM_DISK_RO : 0) | (direct ? CVMM_DISK_DIRECT : 0);
	if ((r = jsetter(c, cvmm_config_add_disk(c->cfg, path, flags, (unsigned)q), where)) < 0)
		return r;
	if (haspoll && (r = jsetter(c, cvmm_config_set_disk_poll(c->cfg, c->ndisks, (unsigned)poll),
				    where)) < 0)
		return r;
	return jsetter(c, cvmm_config_set_disk_limiter(c->cfg, c->ndisks++, &lim), where);
}

static int jnet(struct jctx *c, struct json_object *n, const char *where)
{
	static const char *const keys[] = {
		"tap",	  "tapfd",	     "passt",		"stream",  "listen",   "mac",
		"queues", "rx_rate_limiter", "tx_rate_limiter", "poll_us", "rx_sched", NULL};
	struct cvmm_rate_limiter rx, tx;
	static const char *const backends[] = {"tap", "tapfd", "passt", "stream"};
	struct cvmm_net_config nc;
	memset(&nc, 0, sizeof(nc));
	nc.fd = -1;
	int r;
	if (!json_object_is_type(n, json_type_object))
		return jfail(c, EINVAL, "%s must be an object", where);
	if ((r = jkeys(c, n, where, keys)) < 0)
		return r;
	const char *which = NULL;
	for (unsigned i = 0; i < 4; i++) {
		struct json_object *b;
		if (!jhas(n, backends[i], &b))
			continue;
		if (which)
			return jfail(c, EINVAL, "%s: '%s' and '%s' both given (one backend each)",
				     where, which, backends[i]);
		which = backends[i];
	}
	if (!which)
		return jfail(c, EINVAL, "%s needs one of 'tap', 'tapfd', 'passt', 'stream'", where);
	bool listen, has, haspoll;
	int64_t v = 0, poll = 0;
	const char *mac, *sched;
	if ((r = jbool(c, n, "listen", where, &listen)) < 0 ||
	    (r = jstr(c, n, "mac", where, &mac)) < 0 ||
	    (r = jstr(c, n, "rx_sched", where, &sched)) < 0 ||
	    (r = jint(c, n, "queues", where, 1, 8, &v, &has)) < 0 ||
	    (r = jlimit(c, n, "rx_rate_limiter", where, &rx)) < 0 ||
	    (r = jlimit(c, n, "tx_rate_limiter", where, &tx)) < 0 ||
	    (r = jint(c, n, "poll_us", where, 0, CVMM_NET_POLL_MAX_US, &poll, &haspoll)) < 0)
		return r;
	nc.queue_pairs = has ? (unsigned)v : 0;
	if (sched && strcmp(sched, "batch") && strcmp(sched, "other"))
		return jfail(c, EINVAL, "%s: 'rx_sched' must be \"batch\" or \"other\"", where);
	nc.rx_no_batch = sched && !strcmp(sched, "other");
	if (!strcmp(which, "tapfd")) {
		if ((r = jint(c, n, "tapfd", where, 0, 1 << 30, &v, &has)) < 0)
			return r;
		nc.backend = CVMM_NET_TAPFD;
		nc.fd = (int)v;
	} else {
		if ((r = jstr(c, n, which, where, &nc.target)) < 0)
			return r;
		nc.backend = !strcmp(which, "tap") ? CVMM_NET_TAP : CVMM_NET_STREAM;
	}
	if (listen) {
		if (strcmp(which, "stream"))
			return jfail(c, EINVAL, "%s: 'listen' goes with 'stream' only", where);
		nc.backend = CVMM_NET_STREAM_LISTEN;
	}
	if (mac) {
		if (cli_parse_mac(mac, nc.mac) < 0)
			return jfail(c, EINVAL, "%s: 'mac' is not a unicast XX:XX:XX:XX:XX:XX",
				     where);
		nc.has_mac = 1;
	}
	if ((r = jsetter(c, cvmm_config_add_net(c->cfg, &nc), where)) < 0)
		return r;
	if (haspoll &&
	    (r = jsetter(c, cvmm_config_set_net_poll(c->cfg, c->nnets, (unsigned)poll), where)) < 0)
		return r;
	return jsetter(c, cvmm_config_set_net_limiter(c->cfg, c->nnets++, &rx, &tx), where);
}

static int jfs(struct jctx *c, struct json_object *f, const char *where)
{
	static const char *const keys[] = {"tag", "path", "ro", "xattr", "privileged", NULL};
	const char *tag, *path;
	bool ro, xattr, priv;
	int r;
	if (!json_object_is_type(f, json_type_object))
		return jfail(c, EINVAL, "%s must be an object", where);
	if ((r = jkeys(c, f, where, keys)) < 0 || (r = jstr(c, f, "tag", where, &tag)) < 0 ||
	    (r = jstr(c, f, "path", where, &path)) < 0 || (r = jbool(c, f, "ro", where, &ro)) < 0 ||
	    (r = jbool(c, f, "xattr", where, &xattr)) < 0 ||
	    (r = jbool(c, f, "privileged", where, &priv)) < 0)
		return r;
	if (!tag || !path)
		return jfail(c, EINVAL, "'tag' and 'path' are required in %s", where);
	unsigned flags = (ro ? CVMM_FS_RO : 0) | (xattr ? CVMM_FS_XATTR : 0) |
			 (priv ? CVMM_FS_PRIVILEGED : 0);
	return jsetter(c, cvmm_config_add_fs(c->cfg, tag, path, flags), where);
}

static int jvsock(struct jctx *c, struct json_object *v)
{
	static const char *const keys[] = {"cid", "socket", NULL};
	const char *sock;
	int64_t cid = 0;
	bool has;
	int r;
	if (!json_object_is_type(v, json_type_object))
		return jfail(c, EINVAL, "'vsock' must be an object");
	if ((r = jkeys(c, v, "vsock", keys)) < 0 ||
	    (r = jint(c, v, "cid", "vsock", 3, 0xfffffffeLL, &cid, &has)) < 0 ||
	    (r = jstr(c, v, "socket", "vsock", &sock)) < 0)
		return r;
	if (!has || !sock)
		return jfail(c, EINVAL, "'cid' and 'socket' are required in vsock");
	return jsetter(c, cvmm_config_set_vsock(c->cfg, (uint64_t)cid, sock), "vsock");
}

/* "balloon": Firecracker's PUT /balloon body. */
static int jballoon(struct jctx *c, struct json_object *v)
{
	static const char *const keys[] = {
		"amount_mib",	       "deflate_on_oom",    "stats_polling_interval_s",
		"free_page_reporting", "free_page_hinting", NULL};
	int64_t mib = 0, st = 0;
	bool has, hs, oom, rep, hint;
	int r;
	if (!json_object_is_type(v, json_type_object))
		return jfail(c, EINVAL, "'balloon' must be an object");
	if ((r = jkeys(c, v, "balloon", keys)) < 0 ||
	    (r = jint(c, v, "amount_mib", "balloon", 0, UINT32_MAX, &mib, &has)) < 0 ||
	    (r = jint(c, v, "stats_polling_interval_s", "balloon", 0, 65535, &st, &hs)) < 0 ||
	    (r = jbool(c, v, "deflate_on_oom", "balloon", &oom)) < 0 ||
	    (r = jbool(c, v, "free_page_reporting", "balloon", &rep)) < 0 ||
	    (r = jbool(c, v, "free_page_hinting", "balloon", &hint)) < 0)
		return r;
	if (!has)
		return jfail(c, EINVAL, "'amount_mib' is required in balloon");
	if (hint)
		return jfail(c, EINVAL, "'free_page_hinting' is not supported by cvmm");
	unsigned flags = (oom ? CVMM_BALLOON_DEFLATE_ON_OOM : 0) |
			 (rep ? CVMM_BALLOON_FREE_PAGE_REPORTING : 0);
	return jsetter(c, cvmm_config_set_balloon(c->cfg, (uint32_t)mib, flags, (unsigned)st),
		       "balloon");
}

/* An optional array of objects, each handed to fn. */
static int jarray(struct jctx *c, struct json_object *top, const char *key, size_t max,
		  int (*fn)(struct jctx *, struct json_object *, const char *))
{
	struct json_object *a;
	if (!jhas(top, key, &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return jfail(c, EINVAL, "'%s' must be an array", key);
	size_t n = json_object_array_length(a);
	if (n > max)
		return jfail(c, E2BIG, "'%s': at most %zu entries", key, max);
	for (size_t i = 0; i < n; i++) {
		char where[32];
		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		int r = fn(c, json_object_array_get_idx(a, i), where);
		if (r < 0)
			return r;
	}
	return 0;
}

static int japply(struct jctx *c, struct json_object *top)
{
	static const char *const keys[] = {"kernel",	"initrd",
					   "cmdline",	"cpus",
					   "memory",	"disks",
					   "nets",	"fs",
					   "vsock",	"debug_exit",
					   "transport", "rng",
					   "balloon",	"rng_rate_limiter",
					   NULL};
	const char *s;
	int64_t v;
	bool has, b;
	int r;
	if (!json_object_is_type(top, json_type_object))
		return jfail(c, EINVAL, "the top level must be an object");
	if ((r = jkeys(c, top, "", keys)) < 0)
		return r;
	if ((r = jstr(c, top, "kernel", "", &s)) < 0)
		return r;
	if (!s)
		return jfail(c, EINVAL, "'kernel' is required");
	if ((r = jsetter(c, cvmm_config_set_kernel(c->cfg, s), "kernel")) < 0)
		return r;
	if ((r = jstr(c, top, "initrd", "", &s)) < 0 ||
	    (s && (r = jsetter(c, cvmm_config_set_initrd(c->cfg, s), "initrd")) < 0))
		return r;
	if ((r = jstr(c, top, "cmdline", "", &s)) < 0 ||
	    (s && (r = jsetter(c, cvmm_config_set_cmdline(c->cfg, s), "cmdline")) < 0))
		return r;
	if ((r = jint(c, top, "cpus", "", 1, 4096, &v, &has)) < 0 ||
	    (has && (r = jsetter(c, cvmm_config_set_cpus(c->cfg, (unsigned)v), "cpus")) < 0))
		return r;
	/* memory: a size string as --memory takes, or an integer of MiB */
	struct json_object *m;
	if (jhas(top, "memory", &m)) {
		uint64_t bytes;
		if (json_object_is_type(m, json_type_string)) {
			if (cli_parse_size(json_object_get_string(m), &bytes) < 0)
				return jfail(c, EINVAL, "'memory' is not a size (e.g. \"512M\")");
		} else if ((r = jint(c, top, "memory", "", 1, 1 << 26, &v, &has)) < 0) {
			return jfail(c, EINVAL, "'memory' must be a size string or MiB");
		} else {
			bytes = (uint64_t)v << 20;
		}
		if ((r = jsetter(c, cvmm_config_set_memory(c->cfg, bytes), "memory")) < 0)
			return r;
	}
	if ((r = jarray(c, top, "disks", CVMM_MAX_DISKS, jdisk)) < 0 ||
	    (r = jarray(c, top, "nets", CVMM_MAX_NETS, jnet)) < 0 ||
	    (r = jarray(c, top, "fs", CVMM_MAX_FS, jfs)) < 0)
		return r;
	struct json_object *vs;
	if (jhas(top, "vsock", &vs) && (r = jvsock(c, vs)) < 0)
		return r;
	if ((r = jstr(c, top, "transport", "", &s)) < 0)
		return r;
	if (s) {
		int t;
		if (cli_parse_transport(s, &t) < 0)
			return jfail(c, EINVAL, "'transport': '%s' is not mmio or pci", s);
		if ((r = jsetter(c, cvmm_config_set_transport(c->cfg, t), "transport")) < 0)
			return r;
	}
	struct json_object *bl;
	if (jhas(top, "balloon", &bl) && (r = jballoon(c, bl)) < 0)
		return r;
	if ((r = jbool(c, top, "rng", "", &b)) < 0 ||
	    (b && (r = jsetter(c, cvmm_config_set_rng(c->cfg, 1), "rng")) < 0))
		return r;
	struct cvmm_rate_limiter rl;
	if ((r = jlimit(c, top, "rng_rate_limiter", "", &rl)) < 0 ||
	    (r = jsetter(c, cvmm_config_set_rng_limiter(c->cfg, &rl), "rng_rate_limiter")) < 0)
		return r;
	if ((r = jbool(c, top, "debug_exit", "", &b)) < 0 ||
	    (b && (r = jsetter(c, cvmm_config_set_debug_exit(c->cfg, 1), "debug_exit")) < 0))
		return r;
	return 0;
}

int cli_config_json(struct cvmm_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	struct jctx c = {cfg, err, errlen, 0, 0};
	err[0] = '\0';
	if (len > CLI_CONFIG_MAX)
		return jfail(&c, EFBIG, "larger than %u bytes", CLI_CONFIG_MAX);
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return jfail(&c, ENOMEM, "out of memory");
	struct json_object *top = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	int r = 0;
	if (!top || je != json_tokener_success) {
		r = jfail(&c, EINVAL, "not valid JSON: %s (at byte %zu)",
			  je == json_tokener_continue ? "unexpected end"
						      : json_tokener_error_desc(je),
			  end);
	} else {
		/* Only white space may follow the object. */
		for (size_t i = end; i < len && r == 0; i++)
			if (!strchr(" \t\r\n", text[i]) || !text[i])
				r = jfail(&c, EINVAL, "not valid JSON: trailing bytes at byte %zu",
					  i);
	}
	if (r == 0)
		r = japply(&c, top);
	json_object_put(top);
	json_tokener_free(tok);
	return r;
}
