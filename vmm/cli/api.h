/* SPDX-License-Identifier: MIT */
/* --api-socket PATH: the subset of Firecracker's HTTP API that managers use
 * to boot and control a VM, on a unix socket (docs/api.md). Requests are
 * parsed with http-parser and json-c; every size is bounded. The server
 * turns requests into a pending cvmm_config and calls on the VM through
 * the ops the caller gives (the CLI: libcvmm; tests and the fuzzer:
 * fakes). It runs on the caller's thread: api_pollfds + api_service in
 * the caller's poll loop; nothing blocks but InstanceStart (which builds
 * the VM). */
#ifndef CVMM_CLI_API_H
#define CVMM_CLI_API_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "cvmm/cvmm.h"

#define API_MAX_HEADERS	 (8u << 10)  /* request line + headers, bytes */
#define API_MAX_BODY	 (64u << 10) /* by default */
#define API_MAX_BODY_CAP (16u << 20)
#define API_MAX_CONNS	 8
/* A connection idle this long gives its place to a new client when all are
 * taken; a failed accept (no descriptor left) is retried this much later. */
#define API_IDLE_MS	    10000
#define API_ACCEPT_RETRY_MS 100
/* The Firecracker API version whose calls cvmm answers (GET /version). */
#define API_FC_VERSION "1.12.0"

struct api_ops {
	/* InstanceStart: build and start the VM from cfg (borrowed; the
	 * callee may add settings of its own, e.g. the jail). 0 or -errno
	 * with a message in err. */
	int (*start)(void *ctx, struct cvmm_config *cfg, char *err, size_t errlen);
	int (*pause)(void *ctx, char *err, size_t errlen);
	int (*resume)(void *ctx, char *err, size_t errlen);
	int (*shutdown)(void *ctx, char *err, size_t errlen); /* SendCtrlAltDel (x86_64) */
	enum cvmm_vm_state (*state)(void *ctx);		      /* after a start */
	int (*stats)(void *ctx, struct cvmm_stats *st);	      /* after a start; may be NULL */
	/* PATCH /drives: disk `index` (the VM's order: the root drive first)
	 * now on the file at path (cvmm_vm_update_disk). After a start; 0 or
	 * -errno with a message in err. */
	int (*update_disk)(void *ctx, unsigned index, const char *path, char *err, size_t errlen);
	/* PATCH /drives, /network-interfaces (may be NULL): the rate limiters
	 * of the device of `kind` (CVMM_DEVICE_DISK, _NET) and index, rx only
	 * for a disk (cvmm_vm_set_*_limiter). After a start. */
	int (*set_limiter)(void *ctx, int kind, unsigned index, const struct cvmm_rate_limiter *rx,
			   const struct cvmm_rate_limiter *tx, char *err, size_t errlen);
	/* After a start; may be NULL: the VM's counters (cvmm_vm_vcpu_metrics)
	 * and those of up to max of its devices (cvmm_vm_device_metrics); how
	 * many devices the VM has, or -errno. */
	int (*metrics)(void *ctx, struct cvmm_vcpu_metrics *vcpu, struct cvmm_device_metrics *dev,
		       unsigned max);
	/* The balloon (may be NULL), after a start: op API_BALLOON_CONFIG
	 * fills *cfg, _STATS *st, _TARGET sets the target (arg MiB),
	 * _INTERVAL the statistics interval (arg s): cvmm_vm_balloon_*. 0 or
	 * -errno with a message in err. */
	int (*balloon)(void *ctx, int op, uint32_t arg, struct cvmm_balloon_config *cfg,
		       struct cvmm_balloon_stats *st, char *err, size_t errlen);
	/* PUT /snapshot/create (may be NULL): the paused VM to state and mem
	 * (CVMM_SNAPSHOT_*), app kept with it (cvmm_vm_snapshot). */
	int (*snapshot)(void *ctx, const char *state, const char *mem, int type, const char *app,
			char *err, size_t errlen);
	/* PUT /snapshot/load (may be NULL): the VM built from rs and started
	 * (paused if rs->paused), in place of InstanceStart; its console
	 * output to console_path (PUT /serial; NULL: this process's console),
	 * limited by console_limit. */
	int (*restore)(void *ctx, const struct cvmm_restore *rs, const char *console_path,
		       const struct cvmm_token_bucket *console_limit, char *err, size_t errlen);
	/* PUT or PATCH /mmds after a start (may be NULL): the VM's document
	 * now the JSON text (cvmm_vm_mmds_put). -ENODEV: the VM has no MMDS. */
	int (*mmds_put)(void *ctx, const char *json, size_t len, char *err, size_t errlen);
};

enum { API_BALLOON_CONFIG, API_BALLOON_STATS, API_BALLOON_TARGET, API_BALLOON_INTERVAL };

struct api;

/* ops and ctx are borrowed. console_in/out: the console the VM gets. */
__attribute__((warn_unused_result)) int api_new(struct api **out, const struct api_ops *ops,
						void *ctx, int console_in, int console_out);
void api_free(struct api *a);
/* The instance id GET / reports (Firecracker's --id: 1..64 letters, digits
 * and '-'); "anonymous-instance" unless set. 0 or -EINVAL. */
__attribute__((warn_unused_result)) int api_set_id(struct api *a, const char *id);
/* A request body's limit (Firecracker's --http-api-max-payload-size):
 * 1024..API_MAX_BODY_CAP bytes, else -EINVAL. Before any connection. */
__attribute__((warn_unused_result)) int api_set_max_body(struct api *a, unsigned bytes);
/* Firecracker's --mmds-size-limit: the MMDS document's bytes at most (0:
 * the request body limit, as in Firecracker). */
void api_set_mmds_limit(struct api *a, unsigned bytes);
/* Firecracker's command line: its limits where they are tighter than
 * cvmm's (32 vCPUs). */
void api_set_firecracker(struct api *a);
/* Firecracker's --boot-timer: the VM gets the boot timer device. */
void api_set_boot_timer(struct api *a);
/* The transport of the VM InstanceStart builds (CVMM_TRANSPORT_*). */
void api_set_transport(struct api *a, int transport);
/* Firecracker's --start-time-us, --start-time-cpu-us and
 * --parent-cpu-time-us (0: not given): when the server starts listening,
 * the metrics' api_server.process_startup_time_us and _cpu_us become the
 * time since then (CLOCK_MONOTONIC; the process's CPU time, plus the
 * parent's), as Firecracker reports them. Before api_listen. */
void api_set_start_times(struct api *a, uint64_t start_us, uint64_t start_cpu_us,
			 uint64_t parent_cpu_us);
/* One API call as if a client made it (body: JSON text, "" for none): 0
 * for a 2xx answer, else -EINVAL with "what: <its fault_message>" in err. */
__attribute__((warn_unused_result)) int api_call(struct api *a, const char *method,
						 const char *path, const char *body,
						 const char *what, char *err, size_t errlen);
/* Creates the listening socket at path (a stale socket there is replaced). */
__attribute__((warn_unused_result)) int api_listen(struct api *a, const char *path, char *err,
						   size_t errlen);
/* Fills up to max pollfds (API_MAX_CONNS + 1 suffice); returns how many. */
unsigned api_pollfds(const struct api *a, struct pollfd *p, unsigned max);
/* Milliseconds until the server has work of its own (the periodic metrics
 * flush), 0: now, -1: none; the caller's poll waits no longer. */
int api_timeout_ms(const struct api *a);
/* Serves what the pollfds from api_pollfds say is ready, and its own work
 * when due. */
void api_service(struct api *a, const struct pollfd *p, unsigned n);
/* The listening socket's descriptor (-1: none), for the seccomp filter. */
int api_listen_fd(const struct api *a);
/* Whether InstanceStart has run successfully. */
bool api_started(const struct api *a);
/* The caller started the VM itself (--restore): pre-boot calls are over. */
void api_set_started(struct api *a);
/* cvmm --restore with --api-socket, before the restore: the snapshot's
 * configuration (the state file's app section, replayed as PUT
 * /snapshot/load does) becomes the API's, with the restore's overrides
 * (taps, vsock socket, disks) in place of the snapshot's, so that GET
 * /vm/config, PATCH /drives and /network-interfaces and a later PUT
 * /snapshot/create see the VM as it is. 0, or -errno with err (the
 * configuration is then left empty: the restore needs none). */
__attribute__((warn_unused_result)) int
api_restored_config(struct api *a, const struct cvmm_restore *rs, char *err, size_t errlen);

/* Firecracker's --config-file: the JSON (len bytes) applied as the API
 * calls its sections stand for (logger, metrics, machine-config,
 * boot-source, drives, network-interfaces, vsock, entropy; the sections of
 * later issues are refused by name), then InstanceStart when start. 0, or
 * -errno with the section and its reason in err. */
__attribute__((warn_unused_result)) int
api_apply_config(struct api *a, const char *json, size_t len, bool start, char *err, size_t errlen);

/* Tests and the fuzzer: the bytes one connection sends, in one go; the
 * responses (up to outcap bytes) go to out. Returns the bytes written to
 * out; *closed tells whether the server would close the connection. */
size_t api_handle_bytes(struct api *a, const char *in, size_t len, char *out, size_t outcap,
			bool *closed);

#endif
