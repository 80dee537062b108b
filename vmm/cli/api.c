/* SPDX-License-Identifier: MIT */
/* The control socket: Firecracker's HTTP API (the calls managers use to
 * boot and control a VM) over a unix socket. http-parser splits requests,
 * json-c reads bodies; a pending configuration collects the pre-boot
 * calls and InstanceStart turns it into a cvmm_config. */
#include "vmm/cli/api.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/cli/api_mmds.h"
#include "vmm/cli/args.h"
#include "vmm/cli/config_json.h"
#include "vmm/cli/limiter_json.h"

#ifndef CVMM_VERSION
#define CVMM_VERSION "unknown" /* builds outside meson (the fuzzers) */
#endif

#define API_MAX_URL 1024
#define API_OUT_CAP (80u << 10) /* responses not yet written: GET /mmds's 51200 bytes fit */
#define API_OUT_ROOM                                                                               \
	4096 /* one response always fits in this (a 512-byte fault message escaped)                \
	      */
#define API_MAX_DRIVES	 CVMM_MAX_DISKS
#define API_DRAIN_MAX	 (1u << 20)
#define API_MAX_IFACES	 4
#define API_ID_MAX	 64
#define API_FC_MAX_VCPUS 32 /* Firecracker's MAX_SUPPORTED_VCPUS */
#define API_PATH_MAX	 4096
#define JSON_DEPTH	 8

struct api_drive {
	char id[API_ID_MAX];
	char *path; /* owned */
	bool ro, root;
	char partuuid[65]; /* "": root=/dev/vda */
	struct cvmm_rate_limiter limit;
};
struct api_iface {
	char id[API_ID_MAX];
	char *tap; /* owned */
	bool has_mac;
	uint8_t mac[6];
	struct cvmm_rate_limiter rx_limit, tx_limit;
};

/* What the pre-boot calls configured. */
struct api_pending {
	char *kernel, *initrd, *cmdline; /* owned */
	unsigned cpus;
	uint64_t mem_mib;
	struct api_drive drives[API_MAX_DRIVES];
	unsigned ndrives;
	struct api_iface ifaces[API_MAX_IFACES];
	unsigned nifaces;
	bool smt;	   /* accepted as Firecracker does; the guest's topology is unchanged */
	char *vsock_path;  /* owned */
	char *serial_path; /* owned, PUT /serial's serial_out_path; NULL: stdout */
	struct cvmm_token_bucket serial_limit; /* PUT /serial's rate_limiter */
	uint64_t vsock_cid;
	bool entropy;	/* PUT /entropy: a virtio-rng device */
	int huge_pages; /* machine-config's huge_pages: CVMM_HUGE_* */
	struct cvmm_rate_limiter entropy_limit;
	bool track_dirty;		    /* machine-config's track_dirty_pages: diff snapshots */
	struct cvmm_balloon_config balloon; /* PUT /balloon (balloon_set) */
	bool balloon_set;
};

/* The routes; their names are the metrics' (Firecracker's where it has one). */
enum api_route {
	R_NONE,
	R_INFO,
	R_VERSION,
	R_VMCONFIG,
	R_BOOT,
	R_MACHINE,
	R_DRIVE,
	R_IFACE,
	R_VSOCK,
	R_ENTROPY,
	R_ACTIONS,
	R_VM,
	R_LOGGER,
	R_METRICS,
	R_SNAP_CREATE,
	R_SNAP_LOAD,
	R_BALLOON,	 /* /balloon (no request metrics in Firecracker) */
	R_BALLOON_STATS, /* /balloon/statistics */
	R_MMDS,
	R_MMDS_CONFIG,
	R_SERIAL,
	R_LATER,
	API_ROUTES
};
static const char *const route_names[API_ROUTES] = {
	[R_INFO] = "instance_info",
	[R_VERSION] = "vmm_version",
	[R_VMCONFIG] = "vm_config",
	[R_BOOT] = "boot_source",
	[R_MACHINE] = "machine_cfg",
	[R_DRIVE] = "drive",
	[R_IFACE] = "network",
	[R_VSOCK] = "vsock",
	[R_ENTROPY] = "entropy",
	[R_ACTIONS] = "actions",
	[R_VM] = "vm",
	[R_LOGGER] = "logger",
	[R_METRICS] = "metrics",
	[R_SNAP_CREATE] = "snapshot_create",
	[R_SNAP_LOAD] = "snapshot_load",
	[R_MMDS] = "mmds", /* R_MMDS_CONFIG counts there too, as in Firecracker */
	[R_SERIAL] = "serial",
};
#define API_METRICS_PERIOD_MS 60000 /* as Firecracker's */
/* The VM's devices the API makes: drives, interfaces, vsock, entropy. */
#define API_MAX_DEVICES (API_MAX_DRIVES + API_MAX_IFACES + 2)

struct api_conn {
	int fd; /* owned; -1: a raw connection (api_handle_bytes) */
	http_parser parser;
	size_t head_bytes; /* request line + headers so far */
	char url[API_MAX_URL + 1];
	size_t url_len;
	char *body; /* owned, API_MAX_BODY + 1 */
	size_t body_len;
	int status_err; /* a limit was hit: answer this status and close */
	/* the header being read, enough of it to see "Expect: 100-continue" */
	char hname[16], hval[16];
	size_t hname_len, hval_len;
	bool in_value, expect_continue;
	bool deprecated;      /* the next response carries "Deprecation: true" */
	int last_status;      /* of the last response */
	enum api_route route; /* of the request being answered (R_NONE: none) */
	char *out;	      /* owned, API_OUT_CAP */
	size_t out_len;
	char in[4096]; /* received, not yet parsed (parser paused) */
	size_t in_len;
	bool closing;	    /* close once out is written */
	bool draining;	    /* out written, shut down for writing; waiting for the peer's EOF */
	size_t drained;	    /* bytes dropped while draining */
	uint64_t active_ms; /* its last byte in or out (CLOCK_MONOTONIC) */
	struct api *api;
};

struct api {
	const struct api_ops *ops; /* borrowed */
	void *ctx;
	int console_in, console_out; /* borrowed */
	int listen_fd;		     /* owned, -1: none */
	uint64_t accept_after_ms;    /* accept failed (no descriptor left): not before */
	char sock_path[108];
	struct api_conn *conns[API_MAX_CONNS]; /* owned */
	struct api_pending p;
	bool started;
	char id[API_ID_MAX + 1]; /* --id: GET / reports it */
	int log_fd;		 /* owned: PUT /logger's log_path, -1: none */
	int metrics_fd;		 /* owned: PUT /metrics' metrics_path, -1: none */
	uint64_t metrics_due_ms; /* the next periodic flush (CLOCK_MONOTONIC) */
	/* requests per method (GET, PUT, PATCH) and route since the last flush */
	uint64_t count[3][API_ROUTES], fails[3][API_ROUTES];
	uint64_t last_tx;		    /* the console's bytes at the last flush */
	uint64_t last_tx_missed;	    /* and those it dropped */
	uint64_t last_tx_limited;	    /* and those its limiter dropped */
	struct cvmm_vcpu_metrics last_vcpu; /* and its counters (ops->metrics) */
	struct cvmm_device_metrics last_dev[API_MAX_DEVICES];
	struct cvmm_device_metrics dev[API_MAX_DEVICES]; /* flush_metrics' scratch */
	bool metrics_fifo; /* metrics_fd is a FIFO: lines go whole or not at all */
	uint64_t metrics_missed, metrics_fails; /* lines dropped, failed writes, since the last */
	/* Firecracker's latencies_us (the last pause and resume: the request,
	 * the VM's call) and api_server (the startup times), microseconds */
	uint64_t pause_us, vmm_pause_us, resume_us, vmm_resume_us;
	uint64_t start_us, start_cpu_us, parent_cpu_us; /* api_set_start_times; 0: none */
	uint64_t startup_us, startup_cpu_us;
	unsigned max_body;    /* a request body's bytes at most */
	bool fc;	      /* Firecracker's command line: its limits */
	bool configured;      /* a boot resource was PUT: no snapshot load */
	bool loading;	      /* PUT /snapshot/load replays the snapshot's configuration */
	bool boot_timer;      /* Firecracker's --boot-timer */
	int transport;	      /* the VM's: CVMM_TRANSPORT_* */
	struct api_mmds mmds; /* api_mmds.c */
};

/* ---- responses ------------------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

static void respond(struct api_conn *c, int status, const char *json)
{
	size_t room = API_OUT_CAP - c->out_len;
	size_t blen = json ? strlen(json) : 0;
	int n = snprintf(c->out + c->out_len, room,
			 "HTTP/1.1 %d %s\r\nServer: cvmm\r\nConnection: %s\r\n%s", status,
			 status_text(status), c->closing ? "close" : "keep-alive",
			 c->deprecated ? "Deprecation: true\r\n" : "");
	c->deprecated = false;
	c->last_status = status;
	if (n < 0 || (size_t)n >= room)
		return;
	size_t len = (size_t)n;
	if (json)
		n = snprintf(c->out + c->out_len + len, room - len,
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     blen, json);
	else
		n = snprintf(c->out + c->out_len + len, room - len, "\r\n");
	if (n < 0 || (size_t)n >= room - len)
		return;
	c->out_len += len + (size_t)n;
}

/* Firecracker's error shape: {"fault_message": "..."}. */
__attribute__((format(printf, 3, 4))) static void fault(struct api_conn *c, int status,
							const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct json_object *o = json_object_new_object();
	const char *s = NULL;
	if (o && json_object_object_add(o, "fault_message", json_object_new_string(msg)) == 0)
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	respond(c, status, s ? s : "{\"fault_message\": \"out of memory\"}");
	json_object_put(o);
}

/* ---- request bodies -------------------------------------------------------- */

/* text (len bytes) as one whole JSON value, nothing but white space after
 * it, at most JSON_DEPTH deep. NULL: *err is -ENOMEM, or -EINVAL with *why
 * saying what the parser saw ("" for trailing bytes). Request bodies and
 * --config-file both read JSON this way. */
static struct json_object *json_whole(const char *text, size_t len, int *err, const char **why)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		*err = -ENOMEM;
		return NULL;
	}
	/* JSON as Firecracker's parser takes it: no NaN or Infinity, no
	 * trailing commas, UTF-8 only (a byte that is not would come back in
	 * an error message, which is then not JSON either) */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	bool trailing = false;
	for (size_t i = end; o && i < len; i++)
		trailing |= !text[i] || !strchr(" \t\r\n", text[i]);
	if (!o || je != json_tokener_success || trailing) {
		*why = o ? ""
			 : (je == json_tokener_continue ? "unexpected end"
							: json_tokener_error_desc(je));
		*err = -EINVAL;
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Body -> a JSON object, or a 400 answered. */
static struct json_object *body_object(struct api_conn *c)
{
	int err;
	const char *why;
	struct json_object *o = json_whole(c->body, c->body_len, &err, &why);
	if (!o) {
		if (err == -ENOMEM)
			fault(c, 500, "out of memory");
		else
			fault(c, 400, "the request body is not valid JSON%s%s", *why ? ": " : "",
			      why);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		fault(c, 400, "the request body must be a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Unknown fields are an error naming the field. */
static bool only_keys(struct api_conn *c, struct json_object *o, const char *const *keys)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		bool known = false;
		for (const char *const *p = keys; *p && !known; p++)
			known = !strcmp(*p, k);
		if (!known) {
			fault(c, 400, "unknown field '%.64s'", k);
			return false;
		}
	}
	return true;
}

enum jt { J_STR, J_BOOL, J_INT };

/* Field of type t: 1 present (value in *v), 0 absent or null, -1 wrong type (answered). */
static int field(struct api_conn *c, struct json_object *o, const char *key, enum jt t,
		 struct json_object **v)
{
	if (!json_object_object_get_ex(o, key, v) || !*v)
		return 0;
	bool ok = (t == J_STR && json_object_is_type(*v, json_type_string)) ||
		  (t == J_BOOL && json_object_is_type(*v, json_type_boolean)) ||
		  (t == J_INT && json_object_is_type(*v, json_type_int));
	if (!ok) {
		fault(c, 400, "'%s' must be %s", key,
		      t == J_STR    ? "a string"
		      : t == J_BOOL ? "a boolean"
				    : "an integer");
		return -1;
	}
	return 1;
}

/* A boolean field: *b is 1 or 0, -1 when absent. */
static int field_bool(struct api_conn *c, struct json_object *o, const char *key, int *b)
{
	struct json_object *v;
	int r = field(c, o, key, J_BOOL, &v);
	*b = r == 1 ? json_object_get_boolean(v) != 0 : -1;
	return r;
}

static int field_str(struct api_conn *c, struct json_object *o, const char *key, size_t max,
		     const char **s)
{
	struct json_object *v;
	int r = field(c, o, key, J_STR, &v);
	*s = r == 1 ? json_object_get_string(v) : NULL;
	if (r == 1 && (!**s || strlen(*s) > max)) {
		fault(c, 400, "'%s' must be 1..%zu bytes", key, max);
		return -1;
	}
	/* a "\u0000" would cut the string short: another path, another id */
	if (r == 1 && strlen(*s) != (size_t)json_object_get_string_len(v)) {
		fault(c, 400, "'%s' must not hold a NUL character", key);
		return -1;
	}
	return r;
}

static int field_int(struct api_conn *c, struct json_object *o, const char *key, int64_t min,
		     int64_t max, int64_t *out)
{
	struct json_object *v;
	int r = field(c, o, key, J_INT, &v);
	if (r != 1)
		return r;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < min || x > max) {
		fault(c, 400, "'%s' must be %lld..%lld", key, (long long)min, (long long)max);
		return -1;
	}
	*out = x;
	return 1;
}

/* A field cvmm does not implement: absent, null or the one value that
 * means "off" is fine; anything else is refused by name. */
/* Firecracker's huge_pages names, by CVMM_HUGE_* */
static const char *const huge_names[] = {"None", "Transparent", "2M"};
/* CVMM_HUGE_* of a huge_pages name; -2 for "Snapshot" where snapshot is
 * true (PUT /snapshot/load); -1 for anything else. */
static int huge_mode(const char *s, bool snapshot)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, huge_names[i]))
			return i;
	return snapshot && !strcmp(s, "Snapshot") ? -2 : -1;
}

static bool off_only(struct api_conn *c, struct json_object *o, const char *key,
		     const char *off_str, bool off_false)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return true;
	if (off_false && json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
		return true;
	if (off_str && json_object_is_type(v, json_type_string) &&
	    !strcmp(json_object_get_string(v), off_str))
		return true;
	fault(c, 400, "'%s' is not supported by cvmm", key);
	return false;
}

/* A rate limiter field (limiter_json.h): absent, null, {} or buckets all
 * null (Kata's Go runtime sends {} for "no limit", its Rust runtime
 * {"bandwidth": null, "ops": null}) give no bucket, as in Firecracker.
 * 1: it gives a bucket, 0: none, -1: malformed (answered 400). */
static int limiter(struct api_conn *c, struct json_object *o, const char *key,
		   struct cli_limiter *out)
{
	struct json_object *v = NULL;
	char msg[200];
	if (!json_object_object_get_ex(o, key, &v))
		v = NULL;
	int r = cli_limiter_json(v, key, out, msg, sizeof(msg));
	if (r < 0)
		fault(c, 400, "%s", msg);
	return r < 0 ? -1 : r;
}

/* A file the VM will open, checked when it is PUT (as Firecracker does),
 * so that a bad path is a 400 on its own call. */
static bool file_ok(struct api_conn *c, const char *what, const char *path, bool rw)
{
	if (c->api->loading)
		return true; /* the snapshot's own files: the restore opens them */
	int fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		fault(c, 400, "%s: cannot open %.256s: %s", what, path, strerror(errno));
		return false;
	}
	struct stat st;
	bool reg = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	close(fd);
	if (!reg) {
		fault(c, 400, "%s: %.256s is not a regular file or block device", what, path);
		return false;
	}
	return true;
}

/* The logger's and the metrics' destination, as Firecracker opens them: a
 * file or a FIFO, read-write so that a FIFO needs no reader yet, non-blocking
 * so that a slow reader stalls nothing, appending, created if missing. */
static int open_sink(const char *path)
{
	return open(path, O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
}

static bool set_str(struct api_conn *c, char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s) {
		fault(c, 500, "out of memory");
		return false;
	}
	free(*dst);
	*dst = s;
	return true;
}

/* ---- endpoints ------------------------------------------------------------- */

static void put_boot_source(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"kernel_image_path", "initrd_path", "boot_args", NULL};
	struct api_pending *p = &c->api->p;
	const char *k, *i, *b;
	if (!only_keys(c, o, keys) || field_str(c, o, "kernel_image_path", API_PATH_MAX, &k) < 0 ||
	    field_str(c, o, "initrd_path", API_PATH_MAX, &i) < 0 ||
	    field_str(c, o, "boot_args", 2048, &b) < 0)
		return;
	if (!k) {
		fault(c, 400, "'kernel_image_path' is required");
		return;
	}
	if (!file_ok(c, "Boot source error: the kernel", k, false) ||
	    (i && !file_ok(c, "Boot source error: the initrd", i, false)))
		return;
	if (!set_str(c, &p->kernel, k))
		return;
	free(p->initrd);
	free(p->cmdline);
	p->initrd = p->cmdline = NULL;
	if ((i && !set_str(c, &p->initrd, i)) || (b && !set_str(c, &p->cmdline, b)))
		return;
	respond(c, 204, NULL);
}

/* Firecracker's static CPU templates: deprecated there, accepted here as
 * the no-ops they are for cvmm (the guest sees the host's filtered CPUID). */
static const char *const cpu_templates[] = {"None", "C3", "T2", "T2S", "T2CL", "T2A", NULL};

static void put_machine_config(struct api_conn *c, struct json_object *o, bool patch)
{
	static const char *const keys[] = {
		"vcpu_count",	"mem_size_mib", "smt", "track_dirty_pages",
		"cpu_template", "huge_pages",	NULL};
	struct api_pending *p = &c->api->p;
	int64_t cpus = p->cpus, mem = (int64_t)p->mem_mib;
	struct json_object *v;
	const char *tmpl, *huge_s;
	int rc, rm, rs, dirty;
	if (!only_keys(c, o, keys) || (rc = field_int(c, o, "vcpu_count", 1, 254, &cpus)) < 0 ||
	    (rm = field_int(c, o, "mem_size_mib", 16, 1 << 26, &mem)) < 0 ||
	    (rs = field(c, o, "smt", J_BOOL, &v)) < 0 ||
	    field_bool(c, o, "track_dirty_pages", &dirty) < 0 ||
	    field_str(c, o, "cpu_template", 8, &tmpl) < 0 ||
	    field_str(c, o, "huge_pages", 16, &huge_s) < 0)
		return;
	int huge = patch ? p->huge_pages : CVMM_HUGE_NONE;
	if (huge_s && (huge = huge_mode(huge_s, false)) < 0) {
		fault(c, 400, "'huge_pages' must be one of None, Transparent, 2M");
		return;
	}
	bool smt = rs == 1 ? json_object_get_boolean(v) : (patch && p->smt);
	if (!patch && (!rc || !rm)) {
		fault(c, 400, "'vcpu_count' and 'mem_size_mib' are required");
		return;
	}
#ifdef __aarch64__
	if (smt) {
		fault(c, 400, "Enabling simultaneous multithreading is not supported on aarch64");
		return;
	}
#endif
	/* Firecracker's limit in Firecracker mode (32), cvmm's (254) else */
	if ((smt && cpus > 1 && cpus % 2) || (c->api->fc && cpus > API_FC_MAX_VCPUS)) {
		fault(c, 400,
		      "The number of vCPUs must be greater than 0, less than %d and must be "
		      "1 or an even number if SMT is enabled.",
		      c->api->fc ? API_FC_MAX_VCPUS : 254);
		return;
	}
	if (tmpl) {
		const char *const *t = cpu_templates;
		while (*t && strcmp(*t, tmpl))
			t++;
		if (!*t) {
			fault(c, 400, "'cpu_template' must be one of None, C3, T2, T2S, T2CL, T2A");
			return;
		}
		c->deprecated = true; /* as Firecracker marks it */
	}
	/* Firecracker's rule: huge pages in 2 MiB units */
	if (huge != CVMM_HUGE_NONE && mem % 2) {
		fault(c, 400,
		      "The memory size (MiB) is either 0, or not a multiple of the configured page "
		      "size.");
		return;
	}
	p->cpus = (unsigned)cpus;
	p->mem_mib = (uint64_t)mem;
	p->smt = smt;
	p->huge_pages = huge;
	if (dirty >= 0 || !patch)
		p->track_dirty = dirty > 0;
	respond(c, 204, NULL);
}

static void get_machine_config(struct api_conn *c)
{
	char buf[200];
	snprintf(buf, sizeof(buf),
		 "{\"vcpu_count\": %u, \"mem_size_mib\": %llu, \"smt\": %s, "
		 "\"track_dirty_pages\": %s, \"huge_pages\": \"%s\"}",
		 c->api->p.cpus, (unsigned long long)c->api->p.mem_mib,
		 c->api->p.smt ? "true" : "false", c->api->p.track_dirty ? "true" : "false",
		 huge_names[c->api->p.huge_pages]);
	respond(c, 200, buf);
}

/* Firecracker's resource ids: letters, digits and underscores (n bytes,
 * no NUL among them). */
static bool id_ok(const char *id, size_t n)
{
	if (strlen(id) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* The id in the path must be a plain name and match the body's. */
static bool check_id(struct api_conn *c, const char *path_id, struct json_object *o,
		     const char *key)
{
	size_t n = strlen(path_id);
	if (n == 0 || n >= API_ID_MAX) {
		fault(c, 400, "the id must be 1..%d bytes", API_ID_MAX - 1);
		return false;
	}
	if (!id_ok(path_id, n)) {
		fault(c, 400,
		      "API Resource IDs can only contain alphanumeric characters "
		      "and underscores.");
		return false;
	}
	const char *body_id;
	int r = field_str(c, o, key, API_ID_MAX - 1, &body_id);
	if (r < 0)
		return false;
	if (r == 0) {
		fault(c, 400, "'%s' is required", key);
		return false;
	}
	if (strcmp(body_id, path_id)) {
		fault(c, 400, "The id from the path does not match the id from the body!");
		return false;
	}
	return true;
}

static void put_drive(struct api_conn *c, const char *id, struct json_object *o)
{
	static const char *const keys[] = {
		"drive_id",   "path_on_host", "is_root_device", "is_read_only", "partuuid",
		"cache_type", "io_engine",    "rate_limiter",	"socket",	NULL};
	struct api_pending *p = &c->api->p;
	const char *path;
	struct json_object *v;
	if (!only_keys(c, o, keys) || !check_id(c, id, o, "drive_id") ||
	    field_str(c, o, "path_on_host", API_PATH_MAX, &path) < 0)
		return;
	int r1 = field(c, o, "is_root_device", J_BOOL, &v);
	if (r1 < 0)
		return;
	bool root = r1 == 1 && json_object_get_boolean(v);
	int r2 = field(c, o, "is_read_only", J_BOOL, &v);
	if (r2 < 0)
		return;
	bool ro = r2 == 1 && json_object_get_boolean(v);
	struct cli_limiter lim;
	if (limiter(c, o, "rate_limiter", &lim) < 0 ||
	    !off_only(c, o, "socket", NULL, false)) /* vhost-user-block */
		return;
	const char *ct, *io, *partuuid;
	if (field_str(c, o, "cache_type", 16, &ct) < 0 ||
	    field_str(c, o, "io_engine", 16, &io) < 0 ||
	    field_str(c, o, "partuuid", 64, &partuuid) < 0)
		return;
	for (const char *q = partuuid; q && *q; q++)
		if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
		      (*q >= 'A' && *q <= 'F') || *q == '-')) {
			fault(c, 400, "'partuuid' must be a partition UUID");
			return;
		}
	if ((ct && strcmp(ct, "Unsafe") && strcmp(ct, "Writeback")) ||
	    (io && strcmp(io, "Sync") && strcmp(io, "Async"))) {
		fault(c, 400,
		      "'cache_type' must be Unsafe or Writeback, 'io_engine' Sync or Async");
		return;
	}
	if (!path || r1 == 0) { /* is_read_only is optional: false */
		fault(c, 400, "'path_on_host' and 'is_root_device' are required");
		return;
	}
	unsigned i;
	for (i = 0; i < p->ndrives && strcmp(p->drives[i].id, id); i++)
		;
	for (unsigned j = 0; root && j < p->ndrives; j++)
		if (j != i && p->drives[j].root) {
			fault(c, 400,
			      "Drive config error: A root block device already exists! "
			      "(drive '%s')",
			      p->drives[j].id);
			return;
		}
	if (i == p->ndrives && p->ndrives == API_MAX_DRIVES) {
		fault(c, 400, "at most %d drives", API_MAX_DRIVES);
		return;
	}
	if (!file_ok(c, "Drive config error", path, !ro))
		return;
	struct api_drive *d = &p->drives[i];
	if (!set_str(c, &d->path, path))
		return;
	d->partuuid[0] = '\0';
	if (partuuid)
		snprintf(d->partuuid, sizeof(d->partuuid), "%s", partuuid);
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->ro = ro;
	d->root = root;
	d->limit = lim.rl;
	if (i == p->ndrives)
		p->ndrives++;
	respond(c, 204, NULL);
}

/* The libcvmm disk index of pending drive i: the root drive is disk 0,
 * the others follow in their order (build_config). */
static unsigned disk_index(const struct api_pending *p, unsigned i)
{
	if (p->drives[i].root)
		return 0;
	unsigned n = 0;
	bool root_before = false;
	for (unsigned j = 0; j < i; j++)
		root_before |= p->drives[j].root;
	for (unsigned j = 0; j < p->ndrives; j++)
		n += p->drives[j].root;
	return i + (n && !root_before ? 1 : 0);
}

/* Firecracker's prefix and suffix of a failed drive update. */
#define DRIVE_PATCH_ERR "Drive config error: Unable to patch the block device: "
#define DRIVE_PATCH_END " Please verify the request arguments."

/* PATCH /drives/{id} after the start: the drive's backing file replaced
 * (the guest sees the new size and reads the new file), its rate limiter's
 * buckets given replaced (those not given stay). Firecracker's answers:
 * before the start, for an unknown drive and for nothing to update. */
static void patch_drive(struct api_conn *c, const char *id, struct json_object *o)
{
	static const char *const keys[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	struct api *a = c->api;
	struct api_pending *p = &a->p;
	const char *path;
	struct json_object *v;
	struct cli_limiter lim;
	int given;
	if (!only_keys(c, o, keys) || !check_id(c, id, o, "drive_id") ||
	    field_str(c, o, "path_on_host", API_PATH_MAX, &path) < 0 ||
	    (given = limiter(c, o, "rate_limiter", &lim)) < 0)
		return;
	bool has_limiter = json_object_object_get_ex(o, "rate_limiter", &v) && v;
	if (!a->started) {
		fault(c, 400,
		      "The requested operation is not supported before starting the "
		      "microVM.");
		return;
	}
	unsigned i;
	for (i = 0; i < p->ndrives && strcmp(p->drives[i].id, id); i++)
		;
	if (i == p->ndrives) {
		fault(c, 400,
		      DRIVE_PATCH_ERR
		      "Failed perform action on device: Device not found" DRIVE_PATCH_END);
		return;
	}
	if (!path && !has_limiter) { /* what Firecracker asks of a vhost-user drive */
		fault(c, 400,
		      DRIVE_PATCH_ERR "Block: Running method expected different "
				      "backend." DRIVE_PATCH_END);
		return;
	}
	if (path) {
		char msg[300] = "";
		int r = a->ops->update_disk ? a->ops->update_disk(a->ctx, disk_index(p, i), path,
								  msg, sizeof(msg))
					    : -EOPNOTSUPP;
		if (r < 0) {
			/* Firecracker's words for a backing file it cannot use;
			 * cvmm's own reason in the log */
			cvmm_log(CVMM_LOG_WARN, "PATCH /drives/%s: %s", id,
				 msg[0] ? msg : strerror(-r));
			fault(c, 400,
			      DRIVE_PATCH_ERR
			      "Block: Virtio backend error: Error manipulating the "
			      "backing file: %s (os error %d) %.256s" DRIVE_PATCH_END,
			      strerror(-r), -r, path);
			return;
		}
		if (!set_str(c, &p->drives[i].path, path))
			return;
	}
	if (given > 0) { /* ({} and null buckets change nothing) */
		struct cvmm_rate_limiter rl = p->drives[i].limit;
		cli_limiter_merge(&rl, &lim);
		char msg[300] = "";
		int r = a->ops->set_limiter
				? a->ops->set_limiter(a->ctx, CVMM_DEVICE_DISK, disk_index(p, i),
						      &rl, NULL, msg, sizeof(msg))
				: -EOPNOTSUPP;
		if (r < 0) {
			fault(c, 400, DRIVE_PATCH_ERR "the rate limiter: %s" DRIVE_PATCH_END,
			      msg[0] ? msg : strerror(-r));
			return;
		}
		p->drives[i].limit = rl;
	}
	respond(c, 204, NULL);
}

/* PATCH /network-interfaces/{id} after the start: the buckets given of
 * its RX and TX rate limiters replaced (those not given stay). */
static void patch_iface(struct api_conn *c, const char *id, struct json_object *o)
{
	static const char *const keys[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	struct api *a = c->api;
	struct api_pending *p = &a->p;
	struct cli_limiter rx, tx;
	int grx, gtx;
	if (!only_keys(c, o, keys) || !check_id(c, id, o, "iface_id") ||
	    (grx = limiter(c, o, "rx_rate_limiter", &rx)) < 0 ||
	    (gtx = limiter(c, o, "tx_rate_limiter", &tx)) < 0)
		return;
	if (!a->started) {
		fault(c, 400,
		      "The requested operation is not supported before starting the "
		      "microVM.");
		return;
	}
	unsigned i;
	for (i = 0; i < p->nifaces && strcmp(p->ifaces[i].id, id); i++)
		;
	if (i == p->nifaces) {
		fault(c, 400, "Unable to update the net device: no network interface '%s'", id);
		return;
	}
	struct cvmm_rate_limiter r = p->ifaces[i].rx_limit, t = p->ifaces[i].tx_limit;
	cli_limiter_merge(&r, &rx);
	cli_limiter_merge(&t, &tx);
	char msg[300] = "";
	int rc = 0; /* ({} and null buckets change nothing) */
	if (grx > 0 || gtx > 0)
		rc = a->ops->set_limiter ? a->ops->set_limiter(a->ctx, CVMM_DEVICE_NET, i, &r, &t,
							       msg, sizeof(msg))
					 : -EOPNOTSUPP;
	if (rc < 0) {
		fault(c, 400, "Unable to update the net device: %s", msg[0] ? msg : strerror(-rc));
		return;
	}
	p->ifaces[i].rx_limit = r;
	p->ifaces[i].tx_limit = t;
	respond(c, 204, NULL);
}

static void put_iface(struct api_conn *c, const char *id, struct json_object *o)
{
	static const char *const keys[] = {
		"iface_id",	   "host_dev_name", "guest_mac", "rx_rate_limiter",
		"tx_rate_limiter", "mtu",	    NULL};
	struct api_pending *p = &c->api->p;
	const char *tap, *mac;
	uint8_t m[6];
	struct cli_limiter rx, tx;
	if (!only_keys(c, o, keys) || !check_id(c, id, o, "iface_id") ||
	    field_str(c, o, "host_dev_name", 15, &tap) < 0 ||
	    field_str(c, o, "guest_mac", 17, &mac) < 0 ||
	    limiter(c, o, "rx_rate_limiter", &rx) < 0 ||
	    limiter(c, o, "tx_rate_limiter", &tx) < 0 || !off_only(c, o, "mtu", NULL, false))
		return;
	if (!tap) {
		fault(c, 400, "'host_dev_name' is required");
		return;
	}
	if (mac && cli_parse_mac(mac, m) < 0) {
		fault(c, 400, "'guest_mac' is not a unicast XX:XX:XX:XX:XX:XX");
		return;
	}
	unsigned i;
	for (i = 0; i < p->nifaces && strcmp(p->ifaces[i].id, id); i++)
		;
	for (unsigned j = 0; j < p->nifaces; j++) {
		if (j == i)
			continue;
		if (mac && p->ifaces[j].has_mac && !memcmp(p->ifaces[j].mac, m, 6)) {
			fault(c, 400, "The MAC address is already in use: %s", mac);
			return;
		}
		if (!strcmp(p->ifaces[j].tap, tap)) {
			fault(c, 400, "The host device name is already in use: %s", tap);
			return;
		}
	}
	if (i == p->nifaces && p->nifaces == API_MAX_IFACES) {
		fault(c, 400, "at most %d network interfaces", API_MAX_IFACES);
		return;
	}
	struct api_iface *f = &p->ifaces[i];
	if (!set_str(c, &f->tap, tap))
		return;
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->has_mac = mac != NULL;
	if (mac)
		memcpy(f->mac, m, 6);
	f->rx_limit = rx.rl;
	f->tx_limit = tx.rl;
	if (i == p->nifaces)
		p->nifaces++;
	respond(c, 204, NULL);
}

static void put_vsock(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	struct api_pending *p = &c->api->p;
	int64_t cid = 0;
	const char *path, *id;
	int r;
	if (!only_keys(c, o, keys) ||
	    (r = field_int(c, o, "guest_cid", 0, 0xfffffffeLL, &cid)) < 0 ||
	    field_str(c, o, "uds_path", 96, &path) < 0 ||
	    field_str(c, o, "vsock_id", API_ID_MAX - 1, &id) < 0)
		return;
	if (r == 0 || !path) {
		fault(c, 400, "'guest_cid' and 'uds_path' are required");
		return;
	}
	/* firecracker-containerd never sets a CID: Firecracker takes the 0 as
	 * it is, cvmm gives such a guest the first CID a guest may have (Linux
	 * reserves 0 for the hypervisor); 1 and 2 are refused. */
	if (cid == 0)
		cid = 3;
	if (cid < 3) {
		fault(c, 400, "'guest_cid' must be 0 or 3..4294967294");
		return;
	}
	if (!set_str(c, &p->vsock_path, path))
		return;
	p->vsock_cid = (uint64_t)cid;
	respond(c, 204, NULL);
}

/* Firecracker's entropy device: virtio-rng, and its rate limiter. */
static void put_entropy(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"rate_limiter", NULL};
	struct cli_limiter lim;
	if (!only_keys(c, o, keys) || limiter(c, o, "rate_limiter", &lim) < 0)
		return;
	c->api->p.entropy = true;
	c->api->p.entropy_limit = lim.rl;
	respond(c, 204, NULL);
}

/* Firecracker's PUT /serial (pre-boot; like the logger it does not count
 * as a boot resource, so a snapshot load after it takes it): the guest's
 * console output to serial_out_path (created if missing, appended to; a
 * FIFO opens without waiting for a reader) instead of stdout; rate_limiter,
 * a token bucket on its bytes, those beyond it dropped (uart
 * rate_limiter_dropped_bytes). A PUT replaces both; {} is stdout again. */
static void put_serial(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"serial_out_path", "rate_limiter", NULL};
	const char *path;
	struct json_object *v;
	struct cvmm_token_bucket b;
	char msg[200];
	if (!only_keys(c, o, keys) || field_str(c, o, "serial_out_path", API_PATH_MAX, &path) < 0)
		return;
	if (!json_object_object_get_ex(o, "rate_limiter", &v))
		v = NULL;
	if (cli_bucket_json(v, "rate_limiter", &b, msg, sizeof(msg)) < 0) {
		fault(c, 400, "%s", msg);
		return;
	}
	struct api_pending *p = &c->api->p;
	if (path && !set_str(c, &p->serial_path, path))
		return;
	if (!path) {
		free(p->serial_path);
		p->serial_path = NULL;
	}
	p->serial_limit = b;
	respond(c, 204, NULL);
}

static void put_u64(struct json_object *g, const char *k, uint64_t v);

/* PUT /balloon (pre-boot): Firecracker's balloon; free page hinting is
 * not offered. */
static void put_balloon(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {
		"amount_mib",	       "deflate_on_oom",    "stats_polling_interval_s",
		"free_page_reporting", "free_page_hinting", NULL};
	struct api_pending *p = &c->api->p;
	int64_t mib = 0, st = 0;
	int oom, rep, hint, r;
	if (!only_keys(c, o, keys) ||
	    (r = field_int(c, o, "amount_mib", 0, UINT32_MAX, &mib)) < 0 ||
	    field_int(c, o, "stats_polling_interval_s", 0, 65535, &st) < 0 ||
	    field_bool(c, o, "deflate_on_oom", &oom) < 0 ||
	    field_bool(c, o, "free_page_reporting", &rep) < 0 ||
	    field_bool(c, o, "free_page_hinting", &hint) < 0)
		return;
	if (r == 0 || oom < 0) {
		fault(c, 400, "'amount_mib' and 'deflate_on_oom' are required");
		return;
	}
	if (hint > 0) {
		fault(c, 400, "'free_page_hinting' is not supported by cvmm");
		return;
	}
	if ((uint64_t)mib > p->mem_mib) {
		fault(c, 400, "balloon: %lld MiB is more than the guest's memory (%llu MiB)",
		      (long long)mib, (unsigned long long)p->mem_mib);
		return;
	}
	p->balloon = (struct cvmm_balloon_config){
		.amount_mib = (uint32_t)mib,
		.flags = (oom ? CVMM_BALLOON_DEFLATE_ON_OOM : 0) |
			 (rep > 0 ? CVMM_BALLOON_FREE_PAGE_REPORTING : 0),
		.stats_interval_s = (unsigned)st};
	p->balloon_set = true;
	respond(c, 204, NULL);
}

/* Calls the VM's balloon (ops->balloon); false: a 400 answered. */
static bool balloon_call(struct api_conn *c, int op, uint32_t arg, struct cvmm_balloon_config *cfg,
			 struct cvmm_balloon_stats *st)
{
	struct api *a = c->api;
	char msg[300] = "";
	int r = a->ops->balloon ? a->ops->balloon(a->ctx, op, arg, cfg, st, msg, sizeof(msg))
				: -ENODEV;
	if (r < 0)
		fault(c, 400, "%s", msg[0] ? msg : "the VM has no balloon");
	return r == 0;
}

static void respond_json(struct api_conn *c, struct json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	if (s)
		respond(c, 200, s);
	else
		fault(c, 500, "out of memory");
	json_object_put(o);
}

/* The balloon's configuration as Firecracker's PUT /balloon takes it. */
static struct json_object *balloon_json(const struct cvmm_balloon_config *b)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "amount_mib", json_object_new_int64(b->amount_mib));
	json_object_object_add(
		o, "deflate_on_oom",
		json_object_new_boolean((b->flags & CVMM_BALLOON_DEFLATE_ON_OOM) != 0));
	json_object_object_add(o, "stats_polling_interval_s",
			       json_object_new_int64(b->stats_interval_s));
	json_object_object_add(o, "free_page_hinting", json_object_new_boolean(0));
	json_object_object_add(
		o, "free_page_reporting",
		json_object_new_boolean((b->flags & CVMM_BALLOON_FREE_PAGE_REPORTING) != 0));
	return o;
}

/* GET /balloon: before the start what PUT set, after it the device's
 * (the target as it is now). */
static void get_balloon(struct api_conn *c)
{
	struct api *a = c->api;
	struct cvmm_balloon_config b = a->p.balloon;
	if (!a->p.balloon_set && !a->started) {
		fault(c, 400, "no balloon device: PUT /balloon first");
		return;
	}
	if (a->started && !balloon_call(c, API_BALLOON_CONFIG, 0, &b, NULL))
		return;
	respond_json(c, balloon_json(&b));
}

/* GET /balloon/statistics: Firecracker's names, a value only where the
 * guest gave one. */
static void get_balloon_stats(struct api_conn *c)
{
	static const char *const names[CVMM_BALLOON_NSTATS] = {
		"swap_in",	    "swap_out",	   "major_faults",
		"minor_faults",	    "free_memory", "total_memory",
		"available_memory", "disk_caches", "hugetlb_allocations",
		"hugetlb_failures", "oom_kill",	   "alloc_stall",
		"async_scan",	    "direct_scan", "async_reclaim",
		"direct_reclaim"};
	struct cvmm_balloon_stats st;
	if (!balloon_call(c, API_BALLOON_STATS, 0, NULL, &st))
		return;
	struct json_object *o = json_object_new_object();
	if (o) {
		put_u64(o, "target_pages", st.target_pages);
		put_u64(o, "actual_pages", st.actual_pages);
		put_u64(o, "target_mib", st.target_mib);
		put_u64(o, "actual_mib", st.actual_mib);
		for (unsigned i = 0; i < CVMM_BALLOON_NSTATS; i++)
			if (st.present & (1u << i))
				put_u64(o, names[i], st.val[i]);
	}
	respond_json(c, o);
}

/* PATCH /balloon {"amount_mib"}, PATCH /balloon/statistics
 * {"stats_polling_interval_s"}: after the start. */
static void patch_balloon(struct api_conn *c, struct json_object *o, bool stats)
{
	const char *key = stats ? "stats_polling_interval_s" : "amount_mib";
	const char *const keys[] = {key, NULL};
	int64_t v = 0;
	int r;
	if (!only_keys(c, o, keys) ||
	    (r = field_int(c, o, key, 0, stats ? 65535 : UINT32_MAX, &v)) < 0)
		return;
	if (r == 0) {
		fault(c, 400, "'%s' is required", key);
		return;
	}
	if (balloon_call(c, stats ? API_BALLOON_INTERVAL : API_BALLOON_TARGET, (uint32_t)v, NULL,
			 NULL))
		respond(c, 204, NULL);
}

/* Firecracker's logger levels (case does not matter) -> CVMM_LOG_*. */
static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{"Off", CVMM_LOG_OFF},	   {"Error", CVMM_LOG_ERROR}, {"Warning", CVMM_LOG_WARN},
	{"Warn", CVMM_LOG_WARN},   {"Info", CVMM_LOG_INFO},   {"Debug", CVMM_LOG_DEBUG},
	{"Trace", CVMM_LOG_TRACE},
};

/* PUT /logger: where libcvmm's lines go (a file, or a FIFO a manager reads:
 * opened read-write and non-blocking, so it needs no reader yet and a slow
 * one stalls nothing), their level and decorations. Pre-boot, repeatable. */
static void put_logger(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"log_path",	      "level",	"show_level",
					   "show_log_origin", "module", NULL};
	struct api *a = c->api;
	const char *path, *lvl;
	struct json_object *sl, *so;
	int rl, ro;
	if (!only_keys(c, o, keys) || field_str(c, o, "log_path", API_PATH_MAX, &path) < 0 ||
	    field_str(c, o, "level", 16, &lvl) < 0 ||
	    (rl = field(c, o, "show_level", J_BOOL, &sl)) < 0 ||
	    (ro = field(c, o, "show_log_origin", J_BOOL, &so)) < 0 ||
	    !off_only(c, o, "module", NULL, false))
		return;
	int level = -1;
	for (size_t i = 0; lvl && i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (!strcasecmp(lvl, log_levels[i].name))
			level = log_levels[i].level;
	if (lvl && level < 0) {
		fault(c, 400,
		      "Logger error: invalid level '%.16s' (Off, Error, Warning, Info, "
		      "Debug, Trace)",
		      lvl);
		return;
	}
	int fd = -1;
	if (path) {
		fd = open_sink(path);
		if (fd < 0) {
			fault(c, 400, "Logger error: cannot open %.256s: %s", path,
			      strerror(errno));
			return;
		}
	}
	unsigned opts = (rl == 1 && json_object_get_boolean(sl) ? CVMM_LOG_SHOW_LEVEL : 0) |
			(ro == 1 && json_object_get_boolean(so) ? CVMM_LOG_SHOW_ORIGIN : 0);
	if (cvmm_log_set_options(opts) < 0) { /* (cannot fail: both flags are known) */
		if (fd >= 0)
			close(fd);
		fault(c, 500, "cannot set the log's options");
		return;
	}
	if (level >= 0)
		cvmm_log_set_level(level);
	if (fd >= 0) {
		cvmm_log_set_fd(fd);
		if (a->log_fd >= 0)
			close(a->log_fd);
		a->log_fd = fd;
	}
	cvmm_log(CVMM_LOG_INFO, "%s: logging%s%s", a->id, path ? " to " : "", path ? path : "");
	respond(c, 204, NULL);
}

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_ms(clockid_t clock)
{
	return now_us(clock) / 1000;
}

/* The drive whose file is the VM's disk k: the root device is /dev/vda,
 * as in Firecracker, then the others in the order they were PUT
 * (build_config adds them so). -1: none. */
static int disk_drive(const struct api_pending *p, unsigned k)
{
	int root = -1;
	for (unsigned i = 0; i < p->ndrives; i++)
		if (p->drives[i].root)
			root = (int)i;
	if (root >= 0 && k == 0)
		return root;
	for (unsigned i = 0, n = root >= 0; i < p->ndrives; i++)
		if ((int)i != root && n++ == k)
			return (int)i;
	return -1;
}

/* A counter in one of the public metrics structs: its name in the line
 * (Firecracker's field) and where it is. */
struct api_field {
	const char *name;
	size_t off;
};
#define FIELD(type, name, field)                                                                   \
	{                                                                                          \
		name, offsetof(type, field)                                                        \
	}
#define DISK(f)	 FIELD(struct cvmm_disk_metrics, #f, f)
#define NET(f)	 FIELD(struct cvmm_net_metrics, #f, f)
#define VSOCK(f) FIELD(struct cvmm_vsock_metrics, #f, f)
#define VCPU(f)	 FIELD(struct cvmm_vcpu_metrics, #f, f)
/* In the order of Firecracker's structs; only what cvmm counts. */
static const struct api_field disk_fields[] = {
	DISK(execute_fails),	 DISK(invalid_reqs_count), DISK(flush_count),
	DISK(queue_event_count), DISK(read_bytes),	   DISK(write_bytes),
	DISK(read_count),	 DISK(write_count),	   DISK(rate_limiter_throttled_events),
	DISK(interrupt_count), /* cvmm's own */
};
static const struct api_field net_fields[] = {
	NET(no_rx_avail_buffer), NET(rx_queue_event_count), NET(rx_tap_event_count),
	NET(rx_bytes_count), NET(rx_packets_count), NET(rx_fails),
	/* Firecracker counts a frame in both, as cvmm does */
	FIELD(struct cvmm_net_metrics, "rx_count", rx_packets_count), NET(tap_read_fails),
	NET(tap_write_fails), NET(tx_bytes_count), NET(tx_malformed_frames), NET(tx_fails),
	FIELD(struct cvmm_net_metrics, "tx_count", tx_packets_count), NET(tx_packets_count),
	NET(tx_queue_event_count), NET(rx_rate_limiter_throttled), NET(tx_rate_limiter_throttled),
	NET(interrupt_count), /* cvmm's own */
};
static const struct api_field vsock_fields[] = {
	VSOCK(rx_queue_event_count), VSOCK(tx_queue_event_count), VSOCK(rx_bytes_count),
	VSOCK(tx_bytes_count),	     VSOCK(rx_packets_count),	  VSOCK(tx_packets_count),
	VSOCK(conns_added),	     VSOCK(conns_killed),	  VSOCK(conns_removed),
	VSOCK(tx_write_fails),	     VSOCK(rx_read_fails),	  VSOCK(interrupt_count),
};
static const struct api_field entropy_fields[] = {
	FIELD(struct cvmm_rng_metrics, "entropy_event_count", entropy_event_count),
	FIELD(struct cvmm_rng_metrics, "entropy_bytes", entropy_bytes),
	FIELD(struct cvmm_rng_metrics, "host_rng_fails", host_rng_fails),
	FIELD(struct cvmm_rng_metrics, "entropy_rate_limiter_throttled",
	      entropy_rate_limiter_throttled),
	FIELD(struct cvmm_rng_metrics, "interrupt_count", interrupt_count), /* cvmm's own */
};
#define BALLOON(f) FIELD(struct cvmm_balloon_metrics, #f, f)
static const struct api_field balloon_fields[] = {
	BALLOON(inflate_count),		 BALLOON(stats_updates_count),
	BALLOON(stats_update_fails),	 BALLOON(deflate_count),
	BALLOON(free_page_report_count), BALLOON(free_page_report_freed),
	BALLOON(free_page_report_fails), BALLOON(interrupt_count),
};
static const struct api_field vcpu_fields[] = {
	VCPU(exit_io_in),
	VCPU(exit_io_out),
	VCPU(exit_mmio_read),
	VCPU(exit_mmio_write),
};
#define NFIELDS(a)     (sizeof(a) / sizeof((a)[0]))
#define API_MAX_FIELDS 20 /* put_device_groups' sums */
_Static_assert(NFIELDS(disk_fields) <= API_MAX_FIELDS && NFIELDS(net_fields) <= API_MAX_FIELDS,
	       "a kind's fields fit its sums");

static uint64_t field_at(const void *m, const struct api_field *f)
{
	uint64_t v;
	memcpy(&v, (const char *)m + f->off, sizeof(v));
	return v;
}

static void put_u64(struct json_object *g, const char *k, uint64_t v)
{
	json_object_object_add(g, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

/* Group `name` in o: each field's count since the previous line (now -
 * last, Firecracker's SharedIncMetric), added into sum[] if given; last
 * NULL: nothing before. */
static void put_inc_group(struct json_object *o, const char *name, const struct api_field *f,
			  size_t nf, const void *now, const void *last, uint64_t *sum)
{
	struct json_object *g = json_object_new_object();
	json_object_object_add(o, name, g);
	for (size_t i = 0; i < nf; i++) {
		uint64_t v = (now ? field_at(now, &f[i]) : 0) - (last ? field_at(last, &f[i]) : 0);
		put_u64(g, f[i].name, v);
		if (sum)
			sum[i] += v;
	}
}

/* An aggregate ("block", "net"): what put_inc_group summed. */
static void put_sum_group(struct json_object *o, const char *name, const struct api_field *f,
			  size_t nf, const uint64_t *sum)
{
	struct json_object *g = json_object_new_object();
	json_object_object_add(o, name, g);
	for (size_t i = 0; i < nf; i++)
		put_u64(g, f[i].name, sum[i]);
}

/* Firecracker's per-device groups of one kind ("block_<drive_id>",
 * "net_<iface_id>"), then their aggregate ("block", "net"). */
static void put_device_groups(struct api *a, struct json_object *o, int kind, const char *prefix,
			      const struct api_field *f, size_t nf,
			      const struct cvmm_device_metrics *dev, unsigned ndev)
{
	uint64_t sum[API_MAX_FIELDS] = {0};
	for (unsigned i = 0; i < ndev; i++) {
		if (dev[i].kind != kind)
			continue;
		const char *id = NULL;
		int d = kind == CVMM_DEVICE_DISK ? disk_drive(&a->p, dev[i].index) : -1;
		if (d >= 0)
			id = a->p.drives[d].id;
		else if (kind == CVMM_DEVICE_NET && dev[i].index < a->p.nifaces)
			id = a->p.ifaces[dev[i].index].id;
		char name[API_ID_MAX + 16];
		if (id)
			snprintf(name, sizeof(name), "%s_%s", prefix, id);
		else
			snprintf(name, sizeof(name), "%s_%u", prefix, dev[i].index);
		put_inc_group(o, name, f, nf, &dev[i].u, &a->last_dev[i].u, sum);
	}
	put_sum_group(o, prefix, f, nf, sum);
}

/* Group `name` of the VM's one device of `kind` (zeros without one). */
static void put_kind_group(struct api *a, struct json_object *o, const char *name, int kind,
			   const struct api_field *f, size_t nf,
			   const struct cvmm_device_metrics *dev, unsigned nd)
{
	int k = -1;
	for (unsigned i = 0; i < nd && k < 0; i++)
		if (dev[i].kind == kind)
			k = (int)i;
	put_inc_group(o, name, f, nf, k < 0 ? NULL : &dev[k].u, k < 0 ? NULL : &a->last_dev[k].u,
		      NULL);
}

/* The line goes whole or not at all: a reader must never see a torn
 * line. A FIFO takes a write of up to PIPE_BUF bytes whole or refuses it
 * (EAGAIN); a longer one may be cut where the pipe is full, so it goes
 * only into an empty pipe that has room for all of it. A line that does
 * not go is dropped (logger.missed_metrics_count), as Firecracker drops
 * one its writer has no room for. */
static int metrics_write(struct api *a, const char *line, size_t n)
{
	if (a->metrics_fifo && n > PIPE_BUF) {
		int queued = 0, cap = fcntl(a->metrics_fd, F_GETPIPE_SZ);
		if (ioctl(a->metrics_fd, FIONREAD, &queued) < 0 || queued != 0 || cap < 0 ||
		    (size_t)cap < n) {
			a->metrics_missed++;
			return 0;
		}
	}
	ssize_t w = write(a->metrics_fd, line, n);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		a->metrics_missed++;
		return 0;
	}
	if (w < 0 || (size_t)w != n) {
		int r = w < 0 ? -errno : -EIO; /* a full disk */
		a->metrics_fails++;
		return r;
	}
	return 0;
}

/* Firecracker's <method>_api_requests group: the requests since the
 * previous line, per route (<route>_count, <route>_fails but for GET). */
static void put_requests(struct api *a, struct json_object *o, int mi)
{
	static const char *const groups[3] = {"get_api_requests", "put_api_requests",
					      "patch_api_requests"};
	struct json_object *g = json_object_new_object();
	json_object_object_add(o, groups[mi], g);
	for (int r = 0; r < API_ROUTES; r++) {
		if (!route_names[r])
			continue;
		char k[48];
		snprintf(k, sizeof(k), "%s_count", route_names[r]);
		put_u64(g, k, a->count[mi][r]);
		if (mi > 0) {
			snprintf(k, sizeof(k), "%s_fails", route_names[r]);
			put_u64(g, k, a->fails[mi][r]);
		}
		a->count[mi][r] = a->fails[mi][r] = 0;
	}
}

/* One line of metrics: Firecracker's layout (its groups, in its order)
 * for the groups cvmm has, each with the fields cvmm keeps (docs/api.md).
 * Counters (Firecracker's SharedIncMetric) are what happened since the
 * previous line; stores (SharedStoreMetric: api_server, latencies_us,
 * seccomp, vmm) are values. */
static int flush_metrics(struct api *a)
{
	if (a->metrics_fd < 0)
		return -EBADF;
	struct json_object *o = json_object_new_object(), *g;
	if (!o)
		return -ENOMEM;
	struct cvmm_stats st;
	if (!a->started || !a->ops->stats || a->ops->stats(a->ctx, &st) < 0) {
		memset(&st, 0, sizeof(st));
		st.console_tx_bytes = a->last_tx;
		st.console_tx_missed = a->last_tx_missed;
		st.console_tx_limited = a->last_tx_limited;
	}
	struct cvmm_vcpu_metrics vcpu = a->last_vcpu;
	struct cvmm_device_metrics *dev = a->dev;
	int ndev = a->started && a->ops->metrics
			   ? a->ops->metrics(a->ctx, &vcpu, dev, API_MAX_DEVICES)
			   : 0;
	if (ndev < 0) {
		ndev = 0;
		vcpu = a->last_vcpu;
	}
	if (ndev > API_MAX_DEVICES)
		ndev = API_MAX_DEVICES;
	unsigned nd = (unsigned)ndev;

	json_object_object_add(o, "utc_timestamp_ms",
			       json_object_new_int64((int64_t)now_ms(CLOCK_REALTIME)));
	json_object_object_add(o, "api_server", g = json_object_new_object());
	put_u64(g, "process_startup_time_us", a->startup_us);
	put_u64(g, "process_startup_time_cpu_us", a->startup_cpu_us);
	put_kind_group(a, o, "balloon", CVMM_DEVICE_BALLOON, balloon_fields,
		       NFIELDS(balloon_fields), dev, nd);
	put_device_groups(a, o, CVMM_DEVICE_DISK, "block", disk_fields, NFIELDS(disk_fields), dev,
			  nd);
	put_requests(a, o, 0);
	json_object_object_add(o, "uart", g = json_object_new_object());
	put_u64(g, "write_count", st.console_tx_bytes - a->last_tx);
	put_u64(g, "missed_write_count", st.console_tx_missed - a->last_tx_missed);
	put_u64(g, "rate_limiter_dropped_bytes", st.console_tx_limited - a->last_tx_limited);
	json_object_object_add(o, "latencies_us", g = json_object_new_object());
	put_u64(g, "pause_vm", a->pause_us);
	put_u64(g, "resume_vm", a->resume_us);
	put_u64(g, "vmm_pause_vm", a->vmm_pause_us);
	put_u64(g, "vmm_resume_vm", a->vmm_resume_us);
	json_object_object_add(o, "logger", g = json_object_new_object());
	put_u64(g, "missed_metrics_count", a->metrics_missed);
	put_u64(g, "metrics_fails", a->metrics_fails);
	put_device_groups(a, o, CVMM_DEVICE_NET, "net", net_fields, NFIELDS(net_fields), dev, nd);
	put_requests(a, o, 2);
	put_requests(a, o, 1);
	/* A seccomp fault ends cvmm at once (SIGSYS): a line is only ever
	 * written without one (Firecracker's last line, from its handler,
	 * says 1). */
	json_object_object_add(o, "seccomp", g = json_object_new_object());
	put_u64(g, "num_faults", 0);
	put_inc_group(o, "vcpu", vcpu_fields, NFIELDS(vcpu_fields), &vcpu, &a->last_vcpu, NULL);
	/* cvmm has no panic that writes a line (Firecracker's hook writes 1) */
	json_object_object_add(o, "vmm", g = json_object_new_object());
	put_u64(g, "panic_count", 0);
	/* one of each at most: Firecracker's groups are the device's */
	int vs = -1, rng = -1;
	for (unsigned i = 0; i < nd; i++) {
		if (dev[i].kind == CVMM_DEVICE_VSOCK && vs < 0)
			vs = (int)i;
		if (dev[i].kind == CVMM_DEVICE_RNG && rng < 0)
			rng = (int)i;
	}
	put_inc_group(o, "vsock", vsock_fields, NFIELDS(vsock_fields), vs < 0 ? NULL : &dev[vs].u,
		      vs < 0 ? NULL : &a->last_dev[vs].u, NULL);
	put_inc_group(o, "entropy", entropy_fields, NFIELDS(entropy_fields),
		      rng < 0 ? NULL : &dev[rng].u, rng < 0 ? NULL : &a->last_dev[rng].u, NULL);

	/* what this line said is the base of the next one's counts */
	a->last_tx = st.console_tx_bytes;
	a->last_tx_missed = st.console_tx_missed;
	a->last_tx_limited = st.console_tx_limited;
	a->last_vcpu = vcpu;
	memcpy(a->last_dev, dev, nd * sizeof(*dev));
	a->metrics_missed = a->metrics_fails = 0;
	int r = 0;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = s ? strlen(s) : 0;
	char *line = s ? malloc(n + 1) : NULL;
	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		r = metrics_write(a, line, n + 1);
		free(line);
	} else {
		r = -ENOMEM;
	}
	json_object_put(o);
	a->metrics_due_ms = now_ms(CLOCK_MONOTONIC) + API_METRICS_PERIOD_MS;
	return r;
}

/* PUT /metrics: where the metrics lines go (a file or FIFO, opened as the
 * logger's); flushed every 60 s, on FlushMetrics and when cvmm exits. Once. */
static void put_metrics(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"metrics_path", NULL};
	struct api *a = c->api;
	const char *path;
	if (!only_keys(c, o, keys) || field_str(c, o, "metrics_path", API_PATH_MAX, &path) < 0)
		return;
	if (!path) {
		fault(c, 400, "'metrics_path' is required");
		return;
	}
	if (a->metrics_fd >= 0) {
		fault(c, 400, "Reinitialization of metrics not allowed.");
		return;
	}
	int fd = open_sink(path);
	if (fd < 0) {
		fault(c, 400, "Metrics error: cannot open %.256s: %s", path, strerror(errno));
		return;
	}
	struct stat st;
	a->metrics_fd = fd;
	a->metrics_fifo = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	a->metrics_due_ms = now_ms(CLOCK_MONOTONIC) + API_METRICS_PERIOD_MS;
	respond(c, 204, NULL);
}

int api_timeout_ms(const struct api *a)
{
	uint64_t now = now_ms(CLOCK_MONOTONIC), due = UINT64_MAX;
	if (a->metrics_fd >= 0)
		due = a->metrics_due_ms;
	if (a->accept_after_ms && a->accept_after_ms < due)
		due = a->accept_after_ms;
	if (due == UINT64_MAX)
		return -1;
	return due <= now ? 0 : (int)(due - now);
}

/* The pending configuration -> a cvmm_config; 0 or -errno with msg. */
static int build_config(struct api *a, struct cvmm_config **out, char *msg, size_t len)
{
	struct api_pending *p = &a->p;
	struct cvmm_config *cfg;
	if (!p->kernel) {
		snprintf(msg, len, "no boot source: PUT /boot-source first");
		return -EINVAL;
	}
	if (cvmm_config_new(&cfg) < 0) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	/* A root device is /dev/vda, as in Firecracker: it goes first and
	 * the kernel is told (an initramfs with an /init ignores root=). */
	char cmdline[4096];
	const char *base = p->cmdline ? p->cmdline : "console=ttyS0 reboot=k panic=1";
	int root = -1;
	for (unsigned i = 0; i < p->ndrives; i++)
		if (p->drives[i].root)
			root = (int)i;
	if (root < 0)
		snprintf(cmdline, sizeof(cmdline), "%s", base);
	else if (p->drives[root].partuuid[0])
		snprintf(cmdline, sizeof(cmdline), "%s root=PARTUUID=%s %s", base,
			 p->drives[root].partuuid, p->drives[root].ro ? "ro" : "rw");
	else
		snprintf(cmdline, sizeof(cmdline), "%s root=/dev/vda %s", base,
			 p->drives[root].ro ? "ro" : "rw");
	int r = cvmm_config_set_kernel(cfg, p->kernel);
	if (!r && p->initrd)
		r = cvmm_config_set_initrd(cfg, p->initrd);
	if (!r)
		r = cvmm_config_set_cmdline(cfg, cmdline);
	if (!r)
		r = cvmm_config_set_cpus(cfg, p->cpus);
	if (!r)
		r = cvmm_config_set_memory(cfg, p->mem_mib << 20);
	if (!r)
		r = cvmm_config_set_huge_pages(cfg, p->huge_pages);
	if (!r)
		r = p->serial_path ? cvmm_config_set_console_file(cfg, p->serial_path)
				   : cvmm_config_set_console(cfg, a->console_in, a->console_out);
	if (!r)
		r = cvmm_config_set_console_limiter(cfg, &p->serial_limit);
	if (!r && root >= 0)
		r = cvmm_config_add_disk(cfg, p->drives[root].path,
					 p->drives[root].ro ? CVMM_DISK_RO : 0, 1);
	if (!r && root >= 0)
		r = cvmm_config_set_disk_limiter(cfg, 0, &p->drives[root].limit);
	for (unsigned i = 0, k = root >= 0; !r && i < p->ndrives; i++)
		if ((int)i != root) {
			r = cvmm_config_add_disk(cfg, p->drives[i].path,
						 p->drives[i].ro ? CVMM_DISK_RO : 0, 1);
			if (!r)
				r = cvmm_config_set_disk_limiter(cfg, k++, &p->drives[i].limit);
		}
	for (unsigned i = 0; !r && i < p->nifaces; i++) {
		struct cvmm_net_config nc = {.backend = CVMM_NET_TAP,
					     .target = p->ifaces[i].tap,
					     .fd = -1,
					     .queue_pairs = 1,
					     .has_mac = p->ifaces[i].has_mac};
		memcpy(nc.mac, p->ifaces[i].mac, 6);
		r = cvmm_config_add_net(cfg, &nc);
		if (!r)
			r = cvmm_config_set_net_limiter(cfg, i, &p->ifaces[i].rx_limit,
							&p->ifaces[i].tx_limit);
	}
	if (!r && p->vsock_path)
		r = cvmm_config_set_vsock(cfg, p->vsock_cid, p->vsock_path);
	if (!r && p->entropy)
		r = cvmm_config_set_rng(cfg, 1);
	if (!r && p->balloon_set)
		r = cvmm_config_set_balloon(cfg, p->balloon.amount_mib, p->balloon.flags,
					    p->balloon.stats_interval_s);
	if (!r && p->entropy)
		r = cvmm_config_set_rng_limiter(cfg, &p->entropy_limit);
	if (!r && a->transport)
		r = cvmm_config_set_transport(cfg, a->transport);
	if (!r && a->boot_timer)
		r = cvmm_config_set_boot_timer(cfg, 1);
	if (!r && p->track_dirty)
		r = cvmm_config_set_dirty_tracking(cfg, 1);
	if (!r && a->mmds.cfg.version) { /* the document as it is at the start */
		struct cvmm_mmds_config mc = a->mmds.cfg;
		size_t dlen = 0;
		char *doc = a->mmds.doc ? api_mmds_text(&a->mmds, &dlen) : NULL;
		mc.data = doc;
		mc.data_len = dlen;
		mc.size_limit = a->mmds.limit ? a->mmds.limit : a->max_body;
		r = a->mmds.doc && !doc ? -ENOMEM : cvmm_config_set_mmds(cfg, &mc);
		free(doc);
	}
	if (r < 0) {
		snprintf(msg, len, "%s", cvmm_config_error(cfg));
		cvmm_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

static void put_actions(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"action_type", NULL};
	struct api *a = c->api;
	const char *t;
	char msg[300] = "";
	int r;
	if (!only_keys(c, o, keys) || field_str(c, o, "action_type", 32, &t) < 0)
		return;
	if (!t) {
		fault(c, 400, "'action_type' is required");
	} else if (!strcmp(t, "InstanceStart")) {
		struct cvmm_config *cfg;
		if (a->started) {
			fault(c, 400, "the microVM is already started");
		} else if ((r = build_config(a, &cfg, msg, sizeof(msg))) < 0) {
			fault(c, 400, "cannot start the microVM: %s", msg);
		} else {
			r = a->ops->start(a->ctx, cfg, msg, sizeof(msg));
			cvmm_config_free(cfg);
			if (r < 0) {
				fault(c, 400, "cannot start the microVM: %s", msg);
			} else {
				a->started = true;
				cvmm_log(CVMM_LOG_DEBUG,
					 "%s: InstanceStart: the microVM is running", a->id);
				respond(c, 204, NULL);
			}
		}
	} else if (!strcmp(t, "SendCtrlAltDel")) {
#ifdef __aarch64__
		fault(c, 400,
		      "SendCtrlAltDel does not supported on aarch64."); /* sic, Firecracker's */
#else
		if (!a->started)
			fault(c, 400,
			      "The requested operation is not supported before starting the "
			      "microVM.");
		else if ((r = a->ops->shutdown(a->ctx, msg, sizeof(msg))) < 0)
			fault(c, 400, "SendCtrlAltDel: %s", msg);
		else
			respond(c, 204, NULL);
#endif
	} else if (!strcmp(t, "FlushMetrics")) {
		if (!a->started)
			fault(c, 400,
			      "The requested operation is not supported before starting the "
			      "microVM.");
		else if (a->metrics_fd < 0)
			fault(c, 400, "FlushMetrics: no metrics destination (PUT /metrics first)");
		else if ((r = flush_metrics(a)) < 0)
			fault(c, 400, "FlushMetrics: %s", strerror(-r));
		else
			respond(c, 204, NULL);
	} else {
		fault(c, 400, "unknown action_type '%.32s'", t);
	}
}

static struct json_object *vm_config_json(struct api *a);

/* PUT /snapshot/create: the paused VM's state and memory to files
 * (docs/snapshot.md); the configuration as GET /vm/config shows it goes
 * with the state, so that a load knows its drive and interface ids. */
static void put_snapshot_create(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"snapshot_type", "snapshot_path", "mem_file_path",
					   "version", NULL};
	struct api *a = c->api;
	const char *type, *state, *mem;
	char msg[300] = "";
	if (!only_keys(c, o, keys) || field_str(c, o, "snapshot_type", 16, &type) < 0 ||
	    field_str(c, o, "snapshot_path", API_PATH_MAX, &state) < 0 ||
	    field_str(c, o, "mem_file_path", API_PATH_MAX, &mem) < 0)
		return;
	if (!state || !mem) {
		fault(c, 400, "'snapshot_path' and 'mem_file_path' are required");
		return;
	}
	int t;
	if (!type || !strcmp(type, "Full")) {
		t = CVMM_SNAPSHOT_FULL;
	} else if (!strcmp(type, "Diff")) {
		t = CVMM_SNAPSHOT_DIFF;
	} else {
		fault(c, 400, "'snapshot_type' must be \"Full\" or \"Diff\"");
		return;
	}
	if (!a->ops->snapshot) {
		fault(c, 400, "snapshots are not available here");
		return;
	}
	struct json_object *cfg = vm_config_json(a);
	const char *app = cfg ? json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN) : NULL;
	int r = app ? a->ops->snapshot(a->ctx, state, mem, t, app, msg, sizeof(msg)) : -ENOMEM;
	json_object_put(cfg);
	if (r < 0)
		fault(c, 400, "Create snapshot error: %s", msg[0] ? msg : strerror(-r));
	else
		respond(c, 204, NULL);
}

/* The pending configuration as a new API has it (what it owns freed). */
static void pending_reset(struct api_pending *p)
{
	free(p->kernel);
	free(p->initrd);
	free(p->cmdline);
	for (unsigned i = 0; i < p->ndrives; i++)
		free(p->drives[i].path);
	for (unsigned i = 0; i < p->nifaces; i++)
		free(p->ifaces[i].tap);
	free(p->vsock_path);
	free(p->serial_path);
	memset(p, 0, sizeof(*p));
	p->cpus = 1;
	p->mem_mib = 128; /* Firecracker's default */
}

static void put_snapshot_load_try(struct api_conn *c, struct json_object *o);

/* PUT /snapshot/load: a VM built from a snapshot, in place of the boot
 * resources a fresh process would be given. A load that fails leaves no
 * configuration behind: what the snapshot's replay set would otherwise
 * join the next load's (its interfaces, matched to taps by position) or
 * boot with InstanceStart unchecked. A load is only taken before anything
 * but the logger and metrics was configured, so the pending configuration
 * was a new one before it. */
static void put_snapshot_load(struct api_conn *c, struct json_object *o)
{
	put_snapshot_load_try(c, o);
	if (!c->api->started)
		pending_reset(&c->api->p);
}

static void put_snapshot_load_try(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"snapshot_path",
					   "mem_file_path",
					   "mem_backend",
					   "enable_diff_snapshots",
					   "track_dirty_pages",
					   "resume_vm",
					   "network_overrides",
					   "vsock_override",
					   "clock_realtime",
					   "huge_pages",
					   NULL};
	struct api *a = c->api;
	const char *state, *mem_file, *huge;
	int diff, track, resume, realtime;
	char msg[600] = "";
	if (!only_keys(c, o, keys) || field_str(c, o, "snapshot_path", API_PATH_MAX, &state) < 0 ||
	    field_str(c, o, "mem_file_path", API_PATH_MAX, &mem_file) < 0 ||
	    field_str(c, o, "huge_pages", 16, &huge) < 0 ||
	    field_bool(c, o, "enable_diff_snapshots", &diff) < 0 ||
	    field_bool(c, o, "track_dirty_pages", &track) < 0 ||
	    field_bool(c, o, "resume_vm", &resume) < 0 ||
	    field_bool(c, o, "clock_realtime", &realtime) < 0)
		return;
	if (!state) {
		fault(c, 400, "'snapshot_path' is required");
		return;
	}
	struct cvmm_restore rs = {.state_path = state, .mem_backend = CVMM_MEM_FILE};
	struct json_object *mb, *v;
	bool has_mb = json_object_object_get_ex(o, "mem_backend", &mb) && mb;
	if (has_mb == (mem_file != NULL)) {
		fault(c, 400, "exactly one of 'mem_backend' and 'mem_file_path' is needed");
		return;
	}
	if (mem_file) {
		c->deprecated = true;
		rs.mem_path = mem_file;
	} else {
		static const char *const mkeys[] = {"backend_type", "backend_path", NULL};
		const char *bt, *bp;
		if (!json_object_is_type(mb, json_type_object)) {
			fault(c, 400, "'mem_backend' must be an object");
			return;
		}
		if (!only_keys(c, mb, mkeys) || field_str(c, mb, "backend_type", 16, &bt) < 0 ||
		    field_str(c, mb, "backend_path", API_PATH_MAX, &bp) < 0)
			return;
		if (!bt || !bp) {
			fault(c, 400, "'mem_backend' needs 'backend_type' and 'backend_path'");
			return;
		}
		if (!strcmp(bt, "File"))
			rs.mem_backend = CVMM_MEM_FILE;
		else if (!strcmp(bt, "Uffd"))
			rs.mem_backend = CVMM_MEM_UFFD;
		else if (!strcmp(bt, "Lazy")) /* cvmm's own: its loader thread */
			rs.mem_backend = CVMM_MEM_LAZY;
		else {
			fault(c, 400, "'backend_type' must be \"File\", \"Uffd\" or \"Lazy\"");
			return;
		}
		rs.mem_path = bp;
	}
	if (diff > 0)
		c->deprecated = true;
	rs.track_dirty = track > 0 || diff > 0;
	rs.paused = resume <= 0;
	rs.clock_realtime = realtime > 0;
	int hm = huge ? huge_mode(huge, true) : -2;
	if (hm == -1) {
		fault(c, 400, "'huge_pages' must be one of Snapshot, None, Transparent, 2M");
		return;
	}
	rs.set_huge_pages = hm >= 0;
	rs.huge_pages = hm >= 0 ? hm : 0;
	if (!a->ops->restore) {
		fault(c, 400, "snapshots are not available here");
		return;
	}
	/* The snapshot's configuration, as its create saw it. */
	void *app = NULL;
	unsigned long alen = 0;
	if (cvmm_snapshot_app(state, &app, &alen, msg, sizeof(msg)) < 0) {
		fault(c, 400, "Load snapshot error: %s", msg);
		return;
	}
	if (app) {
		a->loading = true;
		char err[600];
		int r = api_apply_config(a, app, alen, false, err, sizeof(err));
		a->loading = false;
		free(app);
		if (r < 0) {
			fault(c, 400, "Load snapshot error: the snapshot's configuration: %s", err);
			return;
		}
	}
	struct api_pending *p = &a->p;
	if (json_object_object_get_ex(o, "network_overrides", &v) && v) {
		if (!json_object_is_type(v, json_type_array)) {
			fault(c, 400, "'network_overrides' must be an array");
			return;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			static const char *const nkeys[] = {"iface_id", "host_dev_name", NULL};
			struct json_object *e = json_object_array_get_idx(v, i);
			const char *id, *tap;
			if (!e || !json_object_is_type(e, json_type_object)) {
				fault(c, 400, "'network_overrides' must hold objects");
				return;
			}
			if (!only_keys(c, e, nkeys) ||
			    field_str(c, e, "iface_id", API_ID_MAX, &id) < 0 ||
			    field_str(c, e, "host_dev_name", 15, &tap) < 0)
				return;
			if (!id || !tap) {
				fault(c, 400,
				      "a network override needs 'iface_id' and 'host_dev_name'");
				return;
			}
			unsigned k = 0;
			while (k < p->nifaces && strcmp(p->ifaces[k].id, id))
				k++;
			if (k == p->nifaces) {
				fault(c, 400,
				      "Load snapshot error: no network interface '%.64s' in the "
				      "snapshot",
				      id);
				return;
			}
			if (!set_str(c, &p->ifaces[k].tap, tap))
				return;
		}
	}
	if (json_object_object_get_ex(o, "vsock_override", &v) && v) {
		static const char *const vkeys[] = {"uds_path", NULL};
		const char *uds;
		if (!json_object_is_type(v, json_type_object)) {
			fault(c, 400, "'vsock_override' must be an object");
			return;
		}
		if (!only_keys(c, v, vkeys) ||
		    field_str(c, v, "uds_path", CVMM_VSOCK_PATH_MAX, &uds) < 0)
			return;
		if (!uds || !p->vsock_path) {
			fault(c, 400, "Load snapshot error: %s",
			      uds ? "the snapshot has no vsock device" : "'uds_path' is required");
			return;
		}
		if (!set_str(c, &p->vsock_path, uds))
			return;
	}
	for (unsigned i = 0; i < p->nifaces && i < CVMM_MAX_NETS; i++)
		rs.net_tap[i] = p->ifaces[i].tap;
	rs.vsock_path = p->vsock_path;
	p->track_dirty = rs.track_dirty;
	if (rs.set_huge_pages)
		p->huge_pages = rs.huge_pages;
	int r = a->ops->restore(a->ctx, &rs, p->serial_path, &p->serial_limit, msg, sizeof(msg));
	if (r < 0) {
		fault(c, 400, "Load snapshot error: %s", msg[0] ? msg : strerror(-r));
		return;
	}
	a->started = true;
	respond(c, 204, NULL);
}

static void patch_vm(struct api_conn *c, struct json_object *o)
{
	static const char *const keys[] = {"state", NULL};
	struct api *a = c->api;
	const char *s;
	char msg[300] = "";
	if (!only_keys(c, o, keys) || field_str(c, o, "state", 16, &s) < 0)
		return;
	bool pause = s && !strcmp(s, "Paused"), resume = s && !strcmp(s, "Resumed");
	if (!pause && !resume) {
		fault(c, 400, "'state' must be \"Paused\" or \"Resumed\"");
		return;
	}
	if (!a->started) {
		fault(c, 400, "the microVM is not running");
		return;
	}
	/* Firecracker's latencies_us: the request's (here from its dispatch)
	 * and the VM's call, each time one succeeds */
	uint64_t t0 = now_us(CLOCK_MONOTONIC);
	int r = pause ? a->ops->pause(a->ctx, msg, sizeof(msg))
		      : a->ops->resume(a->ctx, msg, sizeof(msg));
	uint64_t t1 = now_us(CLOCK_MONOTONIC);
	if (r < 0 && r != -EALREADY && !(resume && r == -EINVAL)) {
		fault(c, 400, "%s: %s", pause ? "pause" : "resume", msg);
		return;
	}
	respond(c, 204, NULL); /* pausing a paused VM is no error, as in Firecracker */
	uint64_t t2 = now_us(CLOCK_MONOTONIC);
	*(pause ? &a->vmm_pause_us : &a->vmm_resume_us) = t1 - t0;
	*(pause ? &a->pause_us : &a->resume_us) = t2 - t0;
}

/* GET /vm/config: the configuration, keyed as Firecracker's --config-file. */
static struct json_object *vm_config_json(struct api *a)
{
	struct api_pending *p = &a->p;
	struct json_object *o = json_object_new_object(), *x;
	if (!o)
		return NULL;
	x = json_object_new_object();
	json_object_object_add(o, "boot-source", x);
	if (p->kernel)
		json_object_object_add(x, "kernel_image_path", json_object_new_string(p->kernel));
	if (p->initrd)
		json_object_object_add(x, "initrd_path", json_object_new_string(p->initrd));
	if (p->cmdline)
		json_object_object_add(x, "boot_args", json_object_new_string(p->cmdline));
	x = json_object_new_object();
	json_object_object_add(o, "machine-config", x);
	json_object_object_add(x, "vcpu_count", json_object_new_int((int)p->cpus));
	json_object_object_add(x, "mem_size_mib", json_object_new_int64((int64_t)p->mem_mib));
	json_object_object_add(x, "smt", json_object_new_boolean(p->smt));
	json_object_object_add(x, "track_dirty_pages", json_object_new_boolean(p->track_dirty));
	json_object_object_add(x, "huge_pages", json_object_new_string(huge_names[p->huge_pages]));
	x = json_object_new_array();
	json_object_object_add(o, "drives", x);
	for (unsigned i = 0; i < p->ndrives; i++) {
		struct api_drive *d = &p->drives[i];
		struct json_object *e = json_object_new_object();
		json_object_array_add(x, e);
		json_object_object_add(e, "drive_id", json_object_new_string(d->id));
		json_object_object_add(e, "path_on_host", json_object_new_string(d->path));
		json_object_object_add(e, "is_root_device", json_object_new_boolean(d->root));
		json_object_object_add(e, "is_read_only", json_object_new_boolean(d->ro));
		if (d->partuuid[0])
			json_object_object_add(e, "partuuid", json_object_new_string(d->partuuid));
		if (cli_limiter_on(&d->limit))
			json_object_object_add(e, "rate_limiter", cli_limiter_to_json(&d->limit));
	}
	x = json_object_new_array();
	json_object_object_add(o, "network-interfaces", x);
	for (unsigned i = 0; i < p->nifaces; i++) {
		struct api_iface *f = &p->ifaces[i];
		struct json_object *e = json_object_new_object();
		json_object_array_add(x, e);
		json_object_object_add(e, "iface_id", json_object_new_string(f->id));
		json_object_object_add(e, "host_dev_name", json_object_new_string(f->tap));
		if (f->has_mac) {
			char mac[18];
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", f->mac[0],
				 f->mac[1], f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
			json_object_object_add(e, "guest_mac", json_object_new_string(mac));
		}
		if (cli_limiter_on(&f->rx_limit))
			json_object_object_add(e, "rx_rate_limiter",
					       cli_limiter_to_json(&f->rx_limit));
		if (cli_limiter_on(&f->tx_limit))
			json_object_object_add(e, "tx_rate_limiter",
					       cli_limiter_to_json(&f->tx_limit));
	}
	if (p->vsock_path) {
		x = json_object_new_object();
		json_object_object_add(o, "vsock", x);
		json_object_object_add(x, "guest_cid",
				       json_object_new_int64((int64_t)p->vsock_cid));
		json_object_object_add(x, "uds_path", json_object_new_string(p->vsock_path));
	}
	if (p->entropy) {
		x = json_object_new_object();
		json_object_object_add(o, "entropy", x);
		if (cli_limiter_on(&p->entropy_limit))
			json_object_object_add(x, "rate_limiter",
					       cli_limiter_to_json(&p->entropy_limit));
	}
	if (p->balloon_set)
		json_object_object_add(o, "balloon", balloon_json(&p->balloon));
	if (a->mmds.cfg.version) {
		const char *ids[API_MAX_IFACES];
		for (unsigned i = 0; i < p->nifaces; i++)
			ids[i] = p->ifaces[i].id;
		json_object_object_add(o, "mmds-config",
				       api_mmds_config_json(&a->mmds, ids, p->nifaces));
	}
	return o;
}

static void get_vm_config(struct api_conn *c)
{
	struct json_object *o = vm_config_json(c->api);
	if (!o) {
		fault(c, 500, "out of memory");
		return;
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	/* as GET /mmds: whatever room the connection's output has (one long
	 * kernel path alone passes API_OUT_ROOM) */
	if (s && strlen(s) + 512 <= API_OUT_CAP - c->out_len)
		respond(c, 200, s);
	else
		fault(c, 500, "the configuration does not fit in a response");
	json_object_put(o);
}

static void get_info(struct api_conn *c)
{
	struct api *a = c->api;
	const char *state = "Not started";
	if (a->started) {
		switch (a->ops->state(a->ctx)) {
		case CVMM_STATE_PAUSED:
			state = "Paused";
			break;
		case CVMM_STATE_EXITED:
			state = "Exited";
			break;
		default:
			state = "Running";
			break;
		}
	}
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"id\": \"%s\", \"state\": \"%s\", \"vmm_version\": \"%s\", "
		 "\"app_name\": \"cvmm\"}",
		 a->id, state, CVMM_VERSION);
	respond(c, 200, buf);
}

/* ---- MMDS (api_mmds.c) ------------------------------------------------------- */

/* GET, PUT and PATCH /mmds (any time: a started VM's store follows), PUT
 * /mmds/config (before the start). */
static void serve_mmds(struct api_conn *c, enum api_route r, enum http_method m)
{
	struct api *a = c->api;
	char msg[300] = "";
	int st;
	if (r == R_MMDS_CONFIG) {
		const char *ids[API_MAX_IFACES];
		for (unsigned i = 0; i < a->p.nifaces; i++)
			ids[i] = a->p.ifaces[i].id;
		st = api_mmds_config(&a->mmds, c->body, c->body_len, ids, a->p.nifaces, msg,
				     sizeof(msg));
		if (st)
			fault(c, st, "%s", msg);
		else
			respond(c, 204, NULL);
		return;
	}
	size_t len;
	if (m == HTTP_GET) {
		char *text = api_mmds_text(&a->mmds, &len);
		if (!text)
			fault(c, 500, "out of memory");
		else if (len + 512 > API_OUT_CAP - c->out_len)
			fault(c, 500,
			      "the MMDS document (%zu bytes) is larger than a response may be",
			      len);
		else
			respond(c, 200, text);
		free(text);
		return;
	}
	size_t limit = a->mmds.limit ? a->mmds.limit : a->max_body;
	st = api_mmds_update(&a->mmds, c->body, c->body_len, m == HTTP_PATCH, limit, msg,
			     sizeof(msg));
	if (st) {
		fault(c, st, "%s", msg);
		return;
	}
	if (a->started && a->ops->mmds_put) {
		char *text = api_mmds_text(&a->mmds, &len);
		int rc = -ENOMEM;
		if (text)
			rc = a->ops->mmds_put(a->ctx, text, len, msg, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "out of memory");
		free(text);
		if (rc < 0 && rc != -ENODEV) { /* no MMDS on the VM: the document waits */
			fault(c, rc == -EFBIG ? 413 : 400, "%s", msg);
			return;
		}
	}
	respond(c, 204, NULL);
}

/* ---- routing ---------------------------------------------------------------- */

static bool path_is(const char *path, const char *want, const char **rest)
{
	size_t n = strlen(want);
	if (strncmp(path, want, n))
		return false;
	if (rest) {
		*rest = path + n;
		return path[n] == '/' && path[n + 1] && !strchr(path + n + 1, '/');
	}
	return path[n] == '\0';
}

static int method_index(enum http_method m)
{
	return m == HTTP_GET ? 0 : m == HTTP_PUT ? 1 : m == HTTP_PATCH ? 2 : -1;
}

static void count_request(struct api_conn *c)
{
	int mi = method_index((enum http_method)c->parser.method);
	if (mi < 0 || c->route == R_NONE || c->route == R_LATER)
		return;
	enum api_route r = c->route == R_MMDS_CONFIG ? R_MMDS : c->route;
	c->api->count[mi][r]++;
	c->api->fails[mi][r] += c->last_status >= 400;
}

static void route(struct api_conn *c)
{
	struct api *a = c->api;
	enum http_method m = (enum http_method)c->parser.method;
	char path[API_MAX_URL + 1];
	/* the path: drop a query string and one trailing slash */
	size_t n = strcspn(c->url, "?#");
	memcpy(path, c->url, n);
	path[n] = '\0';
	if (n > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';
	const char *id = NULL;
	enum api_route r;
	/* Firecracker's endpoints cvmm does not have yet: each answers 400
	 * saying so (their own issues bring them). */
	static const char *const later[] = {"/balloon/hinting", "/cpu-config", "/hotplug", "/pmem",
					    NULL};
	const char *const *l = later;
	while (*l && strncmp(path, *l, strlen(*l)))
		l++;
	if (!strcmp(path, "/"))
		r = R_INFO;
	else if (path_is(path, "/version", NULL))
		r = R_VERSION;
	else if (path_is(path, "/vm/config", NULL))
		r = R_VMCONFIG;
	else if (path_is(path, "/boot-source", NULL))
		r = R_BOOT;
	else if (path_is(path, "/machine-config", NULL))
		r = R_MACHINE;
	else if (path_is(path, "/drives", &id))
		r = R_DRIVE;
	else if (path_is(path, "/network-interfaces", &id))
		r = R_IFACE;
	else if (path_is(path, "/vsock", NULL))
		r = R_VSOCK;
	else if (path_is(path, "/entropy", NULL))
		r = R_ENTROPY;
	else if (path_is(path, "/actions", NULL))
		r = R_ACTIONS;
	else if (path_is(path, "/vm", NULL))
		r = R_VM;
	else if (path_is(path, "/logger", NULL))
		r = R_LOGGER;
	else if (path_is(path, "/metrics", NULL))
		r = R_METRICS;
	else if (path_is(path, "/snapshot/create", NULL))
		r = R_SNAP_CREATE;
	else if (path_is(path, "/snapshot/load", NULL))
		r = R_SNAP_LOAD;
	else if (path_is(path, "/balloon", NULL))
		r = R_BALLOON;
	else if (path_is(path, "/balloon/statistics", NULL))
		r = R_BALLOON_STATS;
	else if (path_is(path, "/mmds", NULL))
		r = R_MMDS;
	else if (path_is(path, "/mmds/config", NULL))
		r = R_MMDS_CONFIG;
	else if (path_is(path, "/serial", NULL))
		r = R_SERIAL;
	else if (*l && (path[strlen(*l)] == '\0' || path[strlen(*l)] == '/'))
		r = R_LATER;
	else
		r = R_NONE;
	if (id)
		id++; /* past the '/' */
	c->route = r;
	bool ok = ((r == R_INFO || r == R_VERSION || r == R_VMCONFIG) && m == HTTP_GET) ||
		  (r == R_MACHINE && (m == HTTP_GET || m == HTTP_PUT || m == HTTP_PATCH)) ||
		  (r == R_VM && m == HTTP_PATCH) || (r == R_DRIVE && m == HTTP_PATCH) ||
		  (r == R_IFACE && m == HTTP_PATCH) || r == R_LATER ||
		  (r == R_MMDS && (m == HTTP_GET || m == HTTP_PUT || m == HTTP_PATCH)) ||
		  (r == R_MMDS_CONFIG && m == HTTP_PUT) ||
		  (r == R_BALLOON && (m == HTTP_GET || m == HTTP_PUT || m == HTTP_PATCH)) ||
		  (r == R_BALLOON_STATS && (m == HTTP_GET || m == HTTP_PATCH)) ||
		  ((r == R_BOOT || r == R_DRIVE || r == R_IFACE || r == R_VSOCK || r == R_ENTROPY ||
		    r == R_ACTIONS || r == R_LOGGER || r == R_METRICS || r == R_SNAP_CREATE ||
		    r == R_SNAP_LOAD || r == R_SERIAL) &&
		   m == HTTP_PUT);
	cvmm_log(CVMM_LOG_DEBUG, "API: %s %.128s", http_method_str(m), path);
	if (!ok) {
		/* Firecracker answers an unknown path and a wrong method alike */
		fault(c, 400, "Invalid request method and/or path: %s %.128s.", http_method_str(m),
		      path);
		return;
	}
	if (r == R_LATER) {
		fault(c, 400, "%s %.64s is not supported by cvmm yet", http_method_str(m), path);
		return;
	}
	if (r == R_VERSION) {
		respond(c, 200, "{\"firecracker_version\": \"" API_FC_VERSION "\"}");
		return;
	}
	if (r == R_VMCONFIG) {
		get_vm_config(c);
		return;
	}
	if (r == R_INFO) {
		get_info(c);
		return;
	}
	if (r == R_MACHINE && m == HTTP_GET) {
		get_machine_config(c);
		return;
	}
	if ((r == R_BALLOON || r == R_BALLOON_STATS) && m != HTTP_PUT && !a->started &&
	    (m == HTTP_PATCH || r == R_BALLOON_STATS)) {
		fault(c, 400,
		      "The requested operation is not supported before starting the microVM.");
		return;
	}
	if (r == R_BALLOON && m == HTTP_GET) {
		get_balloon(c);
		return;
	}
	if (r == R_BALLOON_STATS && m == HTTP_GET) {
		get_balloon_stats(c);
		return;
	}
	bool preboot = r == R_BOOT || r == R_MACHINE || (r == R_DRIVE && m == HTTP_PUT) ||
		       (r == R_IFACE && m == HTTP_PUT) || r == R_VSOCK || r == R_ENTROPY ||
		       r == R_LOGGER || r == R_METRICS || r == R_MMDS_CONFIG || r == R_SERIAL ||
		       (r == R_BALLOON && m == HTTP_PUT);
	if (preboot && a->started) {
		fault(c, 400,
		      "the requested operation is not supported after starting the microVM");
		return;
	}
	if (r == R_SNAP_CREATE && !a->started) {
		fault(c, 400,
		      "The requested operation is not supported before starting the microVM.");
		return;
	}
	if (r == R_SNAP_LOAD && (a->started || a->configured)) {
		fault(c, 400,
		      "Loading a microVM snapshot not allowed after configuring boot-specific "
		      "resources.");
		return;
	}
	if (r == R_MMDS || r == R_MMDS_CONFIG) {
		serve_mmds(c, r, m);
		return;
	}
	struct json_object *o = body_object(c);
	if (!o)
		return;
	switch (r) {
	case R_SNAP_CREATE:
		put_snapshot_create(c, o);
		break;
	case R_SNAP_LOAD:
		put_snapshot_load(c, o);
		break;
	case R_BOOT:
		put_boot_source(c, o);
		break;
	case R_MACHINE:
		put_machine_config(c, o, m == HTTP_PATCH);
		break;
	case R_DRIVE:
		if (m == HTTP_PATCH)
			patch_drive(c, id, o);
		else
			put_drive(c, id, o);
		break;
	case R_IFACE:
		if (m == HTTP_PATCH)
			patch_iface(c, id, o);
		else
			put_iface(c, id, o);
		break;
	case R_VSOCK:
		put_vsock(c, o);
		break;
	case R_ENTROPY:
		put_entropy(c, o);
		break;
	case R_ACTIONS:
		put_actions(c, o);
		break;
	case R_LOGGER:
		put_logger(c, o);
		break;
	case R_METRICS:
		put_metrics(c, o);
		break;
	case R_SERIAL:
		put_serial(c, o);
		break;
	case R_VM:
		patch_vm(c, o);
		break;
	case R_BALLOON:
	case R_BALLOON_STATS:
		if (m == HTTP_PUT)
			put_balloon(c, o);
		else
			patch_balloon(c, o, r == R_BALLOON_STATS);
		break;
	default:
		break;
	}
	json_object_put(o);
	/* a boot resource configured (accepted): no snapshot load from now on */
	if (preboot && r != R_LOGGER && r != R_METRICS && r != R_SERIAL && !a->loading &&
	    c->last_status >= 200 && c->last_status < 300)
		a->configured = true;
}

/* ---- HTTP ------------------------------------------------------------------- */

static struct api_conn *conn_of(http_parser *hp)
{
	return hp->data;
}

static int head_bytes(struct api_conn *c, size_t n)
{
	c->head_bytes += n;
	if (c->head_bytes > API_MAX_HEADERS) {
		c->status_err = 431;
		return 1;
	}
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	struct api_conn *c = conn_of(hp);
	c->head_bytes = c->url_len = c->body_len = 0;
	c->url[0] = '\0';
	c->hname_len = c->hval_len = 0;
	c->in_value = c->expect_continue = false;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct api_conn *c = conn_of(hp);
	if (head_bytes(c, n))
		return 1;
	if (c->url_len + n > API_MAX_URL) {
		c->status_err = 431;
		return 1;
	}
	memcpy(c->url + c->url_len, at, n);
	c->url_len += n;
	c->url[c->url_len] = '\0';
	return 0;
}

/* Appends up to the buffer's size; a longer string cannot match. */
static void keep(char *buf, size_t cap, size_t *len, const char *at, size_t n)
{
	for (size_t i = 0; i < n && *len <= cap; i++, (*len)++)
		if (*len < cap)
			buf[*len] = at[i];
}

static bool kept_is(const char *buf, size_t cap, size_t len, const char *s)
{
	return len < cap && len == strlen(s) && !strncasecmp(buf, s, len);
}

/* A header ended: note Expect: 100-continue. */
static void header_done(struct api_conn *c)
{
	if (kept_is(c->hname, sizeof(c->hname), c->hname_len, "expect") &&
	    kept_is(c->hval, sizeof(c->hval), c->hval_len, "100-continue"))
		c->expect_continue = true;
	c->hname_len = c->hval_len = 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct api_conn *c = conn_of(hp);
	if (c->in_value)
		header_done(c);
	c->in_value = false;
	keep(c->hname, sizeof(c->hname), &c->hname_len, at, n);
	return head_bytes(c, n);
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct api_conn *c = conn_of(hp);
	c->in_value = true;
	keep(c->hval, sizeof(c->hval), &c->hval_len, at, n);
	return head_bytes(c, n);
}

static int on_headers_complete(http_parser *hp)
{
	struct api_conn *c = conn_of(hp);
	if (!(hp->flags & F_CHUNKED) && hp->content_length != ULLONG_MAX &&
	    hp->content_length > c->api->max_body) {
		c->status_err = 413;
		return -1;
	}
	if (c->in_value)
		header_done(c);
	/* curl asks before sending a body over 1 KiB; say go on */
	if (c->expect_continue && API_OUT_CAP - c->out_len >= 32) {
		memcpy(c->out + c->out_len, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		c->out_len += 25;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	struct api_conn *c = conn_of(hp);
	if (c->body_len + n > c->api->max_body) {
		c->status_err = 413;
		return 1;
	}
	memcpy(c->body + c->body_len, at, n);
	c->body_len += n;
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct api_conn *c = conn_of(hp);
	c->body[c->body_len] = '\0';
	if (!http_should_keep_alive(hp))
		c->closing = true;
	c->route = R_NONE;
	c->last_status = 0;
	route(c);
	count_request(c);
	/* One request at a time: the rest waits until this answer is out. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings api_http = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Parses what is in c->in while the answers fit; keeps the rest. */
static void conn_parse(struct api_conn *c)
{
	size_t off = 0;
	while (off < c->in_len && !c->closing && API_OUT_CAP - c->out_len >= API_OUT_ROOM) {
		size_t n = http_parser_execute(&c->parser, &api_http, c->in + off, c->in_len - off);
		off += n;
		enum http_errno he = HTTP_PARSER_ERRNO(&c->parser);
		if (he == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			continue;
		}
		if (he != HPE_OK) {
			c->closing = true;
			int st = c->status_err ? c->status_err : 400;
			if (st == 413)
				fault(c, 413, "the request body is larger than %u bytes",
				      c->api->max_body);
			else if (st == 431)
				fault(c, 431,
				      "the request line and headers are larger than %u bytes",
				      API_MAX_HEADERS);
			else
				fault(c, 400, "malformed HTTP request: %s",
				      http_errno_description(he));
			off = c->in_len;
			break;
		}
		if (n == 0)
			break;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static struct api_conn *conn_new(struct api *a, int fd)
{
	struct api_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->body = malloc((size_t)a->max_body + 1);
	c->out = malloc(API_OUT_CAP);
	if (!c->body || !c->out) {
		free(c->body);
		free(c->out);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->api = a;
	c->active_ms = now_ms(CLOCK_MONOTONIC);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

static void conn_free(struct api_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->body);
	free(c->out);
	free(c);
}

/* ---- the server ------------------------------------------------------------- */

int api_new(struct api **out, const struct api_ops *ops, void *ctx, int console_in, int console_out)
{
	struct api *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->ops = ops;
	a->ctx = ctx;
	a->console_in = console_in;
	a->console_out = console_out;
	a->listen_fd = -1;
	pending_reset(&a->p);
	snprintf(a->id, sizeof(a->id), "anonymous-instance");
	a->log_fd = -1;
	a->metrics_fd = -1;
	a->max_body = API_MAX_BODY;
	*out = a;
	return 0;
}

int api_set_id(struct api *a, const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > API_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
			return -EINVAL;
	memcpy(a->id, id, n + 1);
	return 0;
}

void api_set_mmds_limit(struct api *a, unsigned bytes)
{
	a->mmds.limit = bytes;
}

int api_set_max_body(struct api *a, unsigned bytes)
{
	if (bytes < 1024 || bytes > API_MAX_BODY_CAP)
		return -EINVAL;
	a->max_body = bytes;
	return 0;
}

void api_set_transport(struct api *a, int transport)
{
	a->transport = transport;
}

void api_set_firecracker(struct api *a)
{
	a->fc = true;
}

void api_set_boot_timer(struct api *a)
{
	a->boot_timer = true;
}

void api_set_start_times(struct api *a, uint64_t start_us, uint64_t start_cpu_us,
			 uint64_t parent_cpu_us)
{
	a->start_us = start_us;
	a->start_cpu_us = start_cpu_us;
	a->parent_cpu_us = parent_cpu_us;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		conn_free(a->conns[i]);
	if (a->listen_fd >= 0) {
		close(a->listen_fd);
		unlink(a->sock_path);
	}
	pending_reset(&a->p);
	api_mmds_free(&a->mmds);
	if (a->metrics_fd >= 0) {
		(void)flush_metrics(a); /* the last line, as Firecracker writes at exit */
		close(a->metrics_fd);
	}
	if (a->log_fd >= 0) {
		cvmm_log_set_fd(STDERR_FILENO); /* before the fd it borrowed goes */
		close(a->log_fd);
	}
	free(a);
}

int api_listen(struct api *a, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--api-socket: the path must be 1..%zu bytes",
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "--api-socket: socket: %s", strerror(errno));
		return -errno;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int er = errno;
		snprintf(err, errlen, "--api-socket: cannot listen on '%s': %s", path,
			 strerror(er));
		close(fd);
		return -er;
	}
	a->listen_fd = fd;
	snprintf(a->sock_path, sizeof(a->sock_path), "%s", path);
	/* The server is up: the startup times, as Firecracker reports them */
	uint64_t now = now_us(CLOCK_MONOTONIC), cpu = now_us(CLOCK_PROCESS_CPUTIME_ID);
	if (a->start_us && now >= a->start_us)
		a->startup_us = now - a->start_us;
	if (a->start_cpu_us && cpu >= a->start_cpu_us)
		a->startup_cpu_us = cpu - a->start_cpu_us + a->parent_cpu_us;
	return 0;
}

void api_set_started(struct api *a)
{
	a->started = true;
}

bool api_started(const struct api *a)
{
	return a->started;
}

int api_listen_fd(const struct api *a)
{
	return a->listen_fd;
}

unsigned api_pollfds(const struct api *a, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	if (a->listen_fd >= 0 && n < max &&
	    (!a->accept_after_ms || now_ms(CLOCK_MONOTONIC) >= a->accept_after_ms))
		p[n++] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
	for (unsigned i = 0; i < API_MAX_CONNS && n < max; i++) {
		const struct api_conn *c = a->conns[i];
		if (!c)
			continue;
		/* read only when there is room for answers (one request at a time) */
		short ev = c->out_len ? POLLOUT : POLLIN;
		p[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	return n;
}

static void conn_flush(struct api_conn *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			c->closing = true;
			c->out_len = 0;
			return;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
		c->active_ms = now_ms(CLOCK_MONOTONIC);
	}
}

/* Returns false when the connection is done. */
static bool conn_service(struct api_conn *c, short revents)
{
	if (c->draining) {
		/* Answered and shut down for writing: read and drop what the
		 * peer still sends until it closes (at most API_DRAIN_MAX), so
		 * that closing with unread bytes cannot reset the connection
		 * before the peer read our answer. */
		for (;;) {
			ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
			if (n > 0 && (c->drained += (size_t)n) <= API_DRAIN_MAX)
				continue;
			return n < 0 && (errno == EAGAIN || errno == EINTR);
		}
	}
	if (revents & POLLIN && !c->closing && c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (n > 0) {
			c->in_len += (size_t)n;
			c->active_ms = now_ms(CLOCK_MONOTONIC);
		}
	} else if (revents & (POLLHUP | POLLERR) && !(revents & POLLOUT)) {
		return false;
	}
	for (;;) {
		conn_parse(c);
		conn_flush(c);
		if (c->out_len || !c->in_len || c->closing)
			break;
	}
	if (c->closing && c->out_len == 0) {
		shutdown(c->fd, SHUT_WR);
		c->draining = true;
	}
	return true;
}

/* A client that connects when every connection is taken gets the place of
 * the one idle longest, if that one has been idle API_IDLE_MS (a client
 * that hung, or never closes): a manager is never locked out by others'
 * stale connections. */
static int conn_slot(struct api *a)
{
	uint64_t now = now_ms(CLOCK_MONOTONIC);
	int old = -1;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		if (!a->conns[i])
			return (int)i;
		if (old < 0 || a->conns[i]->active_ms < a->conns[old]->active_ms)
			old = (int)i;
	}
	if (now - a->conns[old]->active_ms < API_IDLE_MS)
		return -1;
	cvmm_log(CVMM_LOG_WARN, "API: a connection idle for %llu ms closed for a new one",
		 (unsigned long long)(now - a->conns[old]->active_ms));
	conn_free(a->conns[old]);
	a->conns[old] = NULL;
	return old;
}

static void api_accept(struct api *a)
{
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		/* No descriptor left (EMFILE, ENFILE) or no memory: the client
		 * stays in the backlog, and the listening socket is not watched
		 * for a while (it stays readable: polling it now would spin). */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			a->accept_after_ms = now_ms(CLOCK_MONOTONIC) + API_ACCEPT_RETRY_MS;
		return;
	}
	a->accept_after_ms = 0;
	int i = conn_slot(a);
	struct api_conn *c = i >= 0 ? conn_new(a, fd) : NULL;
	if (!c) {
		close(fd); /* too many connections, all of them in use */
		return;
	}
	a->conns[i] = c;
}

void api_service(struct api *a, const struct pollfd *p, unsigned n)
{
	/* the metrics' own time, not api_timeout_ms (an accept retry is due
	 * there too) */
	if (a->metrics_fd >= 0 && now_ms(CLOCK_MONOTONIC) >= a->metrics_due_ms)
		(void)flush_metrics(a); /* a failed write is a lost line, as in Firecracker */
	for (unsigned k = 0; k < n; k++) {
		if (!p[k].revents)
			continue;
		if (p[k].fd == a->listen_fd) {
			api_accept(a);
			continue;
		}
		for (unsigned i = 0; i < API_MAX_CONNS; i++) {
			struct api_conn *c = a->conns[i];
			if (c && c->fd == p[k].fd) {
				if (!conn_service(c, p[k].revents)) {
					conn_free(c);
					a->conns[i] = NULL;
				}
				break;
			}
		}
	}
}

size_t api_handle_bytes(struct api *a, const char *in, size_t len, char *out, size_t outcap,
			bool *closed)
{
	struct api_conn *c = conn_new(a, -1);
	size_t done = 0, outlen = 0;
	*closed = false;
	if (!c)
		return 0;
	while ((done < len || c->in_len) && !c->closing) {
		size_t n = sizeof(c->in) - c->in_len;
		if (n > len - done)
			n = len - done;
		memcpy(c->in + c->in_len, in + done, n);
		c->in_len += n;
		done += n;
		size_t before = c->in_len;
		conn_parse(c);
		/* "write" the answers */
		size_t take = c->out_len < outcap - outlen ? c->out_len : outcap - outlen;
		memcpy(out + outlen, c->out, take);
		outlen += take;
		c->out_len = 0;
		if (n == 0 && c->in_len == before)
			break; /* no progress: an incomplete request */
	}
	if (c->out_len) {
		size_t take = c->out_len < outcap - outlen ? c->out_len : outcap - outlen;
		memcpy(out + outlen, c->out, take);
		outlen += take;
	}
	*closed = c->closing;
	conn_free(c);
	return outlen;
}

/* ---- a Firecracker --config-file ---------------------------------------- */

/* One section as the API call it stands for; 0, or -EINVAL with the
 * section and the call's fault message in err. */
static int apply_call(struct api *a, const char *method, const char *path, const char *body,
		      const char *what, char *err, size_t errlen)
{
	size_t blen = strlen(body), cap = blen + API_MAX_URL + 256;
	char *req = malloc(cap), *out = malloc(API_OUT_ROOM);
	if (!req || !out) {
		free(req);
		free(out);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int n = snprintf(req, cap,
			 "%s %s HTTP/1.1\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, path, blen, body);
	bool closed;
	size_t len = api_handle_bytes(a, req, (size_t)n, out, API_OUT_ROOM - 1, &closed);
	out[len] = '\0';
	free(req);
	int status = 0, r = 0;
	if (sscanf(out, "HTTP/1.1 %d ", &status) != 1 || status < 200 || status > 299) {
		const char *b = strstr(out, "\r\n\r\n");
		struct json_object *fo = b ? json_tokener_parse(b + 4) : NULL, *fm;
		char msg[600] = "";
		if (fo && json_object_object_get_ex(fo, "fault_message", &fm) && fm)
			snprintf(msg, sizeof(msg), "%s", json_object_get_string(fm));
		json_object_put(fo);
		snprintf(err, errlen, "%s: %s", what, msg[0] ? msg : "refused");
		r = -EINVAL;
	}
	free(out);
	return r;
}

int api_call(struct api *a, const char *method, const char *path, const char *body,
	     const char *what, char *err, size_t errlen)
{
	return apply_call(a, method, path, body, what, err, errlen);
}

static int apply_object(struct api *a, struct json_object *v, const char *path, const char *what,
			char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_object)) {
		snprintf(err, errlen, "%s must be an object", what);
		return -EINVAL;
	}
	const char *body = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	return body ? apply_call(a, "PUT", path, body, what, err, errlen) : -ENOMEM;
}

/* An array of objects, each PUT at prefix/<its idkey>. */
static int apply_array(struct api *a, struct json_object *v, const char *prefix, const char *idkey,
		       const char *what, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_array)) {
		snprintf(err, errlen, "%s must be an array", what);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *e = json_object_array_get_idx(v, i), *id;
		char path[API_MAX_URL], w[64];
		snprintf(w, sizeof(w), "%s[%zu]", what, i);
		if (!e || !json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, idkey, &id) || !id ||
		    !json_object_is_type(id, json_type_string) ||
		    json_object_get_string_len(id) > API_ID_MAX) {
			snprintf(err, errlen, "%s: an object with a string '%s' is needed", w,
				 idkey);
			return -EINVAL;
		}
		/* checked here too: it becomes part of a request line */
		if (!id_ok(json_object_get_string(id), (size_t)json_object_get_string_len(id))) {
			snprintf(err, errlen,
				 "%s: '%s': API Resource IDs can only contain alphanumeric "
				 "characters and underscores.",
				 w, idkey);
			return -EINVAL;
		}
		snprintf(path, sizeof(path), "%s/%s", prefix, json_object_get_string(id));
		int r = apply_object(a, e, path, w, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A string the pending configuration owns, replaced by a copy of v. */
static int pending_str(char **dst, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

int api_restored_config(struct api *a, const struct cvmm_restore *rs, char *err, size_t errlen)
{
	void *app = NULL;
	unsigned long alen = 0;
	int r = cvmm_snapshot_app(rs->state_path, &app, &alen, err, errlen);
	if (r < 0 || !app)
		return r;
	a->loading = true;
	r = api_apply_config(a, app, alen, false, err, errlen);
	a->loading = false;
	free(app);
	struct api_pending *p = &a->p;
	for (unsigned i = 0; !r && i < p->nifaces && i < CVMM_MAX_NETS; i++)
		if (rs->net_tap[i])
			r = pending_str(&p->ifaces[i].tap, rs->net_tap[i]);
	if (!r && rs->vsock_path && p->vsock_path)
		r = pending_str(&p->vsock_path, rs->vsock_path);
	for (unsigned k = 0; !r && k < CVMM_MAX_DISKS; k++) {
		int d = disk_drive(p, k);
		if (rs->disk_path[k] && d >= 0)
			r = pending_str(&p->drives[d].path, rs->disk_path[k]);
	}
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (r < 0)
		pending_reset(p);
	return r;
}

int api_apply_config(struct api *a, const char *json, size_t len, bool start, char *err,
		     size_t errlen)
{
	int r;
	const char *why = "";
	/* a snapshot's is read whole from its state file (up to 64 MiB): parsed,
	 * json-c's objects would take some 50 times that */
	if (len > CLI_CONFIG_MAX) {
		snprintf(err, errlen, "larger than %u bytes", CLI_CONFIG_MAX);
		return -EFBIG;
	}
	struct json_object *o = json_whole(json, len, &r, &why);
	if (!o && r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "not a JSON object%s%s", *why ? ": " : "", why);
		json_object_put(o);
		return -EINVAL;
	}
	/* Firecracker's sections cvmm does not have yet: refused by name, never
	 * ignored (a null one is absent) */
	static const char *const later[] = {"cpu-config", "pmem", "memory-hotplug", "serial", NULL};
	r = 0;
	struct json_object *v;
	for (const char *const *l = later; *l && !r; l++)
		if (json_object_object_get_ex(o, *l, &v) && v) {
			snprintf(err, errlen, "'%s' is not supported by cvmm yet", *l);
			r = -EINVAL;
		}
	/* A snapshot never carries where the logs and metrics go (the process
	 * that loads it has its own): one that does was not made by cvmm, and
	 * would point this process's files elsewhere. */
	static const char *const own[] = {"logger", "metrics", NULL};
	for (const char *const *l = own; a->loading && *l && !r; l++)
		if (json_object_object_get_ex(o, *l, &v) && v) {
			snprintf(err, errlen, "'%s' is not part of a snapshot", *l);
			r = -EINVAL;
		}
	/* in Firecracker's order: the logger and metrics first */
	static const struct {
		const char *key, *path, *idkey;
		bool required;
	} sections[] = {
		{"logger", "/logger", NULL, false},
		{"metrics", "/metrics", NULL, false},
		{"machine-config", "/machine-config", NULL, false},
		{"boot-source", "/boot-source", NULL, true},
		{"drives", "/drives", "drive_id", true},
		{"network-interfaces", "/network-interfaces", "iface_id", false},
		{"vsock", "/vsock", NULL, false},
		{"entropy", "/entropy", NULL, false},
		{"balloon", "/balloon", NULL, false},
		{"mmds-config", "/mmds/config", NULL, false},
	};
	for (size_t i = 0; !r && i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!json_object_object_get_ex(o, sections[i].key, &v) || !v) {
			if (sections[i].required) {
				snprintf(err, errlen, "'%s' is required", sections[i].key);
				r = -EINVAL;
			}
			continue;
		}
		r = sections[i].idkey
			    ? apply_array(a, v, sections[i].path, sections[i].idkey,
					  sections[i].key, err, errlen)
			    : apply_object(a, v, sections[i].path, sections[i].key, err, errlen);
	}
	json_object_put(o);
	if (!r && start)
		r = apply_call(a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			       "InstanceStart", err, errlen);
	return r;
}
