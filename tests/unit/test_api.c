/* SPDX-License-Identifier: MIT */
/* The control socket's request handling (vmm/cli/api.c) on raw bytes,
 * with a fake VM behind it: Firecracker's boot sequence, the config it
 * builds, pause/resume/SendCtrlAltDel, and malformed requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/snap.h"
#include "vmm/cli/api.h"
#include "vmm/vm.h"

#define API_TEST_DEVS 16

struct fake {
	int limits, limit_kind; /* f_set_limiter's calls, the last one's */
	unsigned limit_index;
	struct cvmm_rate_limiter limit_rx, limit_tx;
	int starts, pauses, resumes, shutdowns;
	int start_result, shutdown_result;
	enum cvmm_vm_state state;
	struct cvmm_config seen; /* shallow copy of the started config's scalars */
	char kernel[64], initrd[64], cmdline[256], disk0[64], disk1[64], tap[16], vsock[64];
	unsigned disk0_flags;
	uint64_t exits, tx, missed; /* what f_stats reports */
	char rs_console[64];	    /* f_restore's console path ("": none) */
	struct cvmm_token_bucket rs_console_limit;
	int updates, update_result; /* PATCH /drives */
	unsigned update_index;
	char update_path[64];
	struct cvmm_vcpu_metrics vcpu; /* what f_metrics reports */
	struct cvmm_device_metrics dev[API_TEST_DEVS];
	unsigned ndev;
	unsigned pause_us;		    /* each pause and resume takes this long */
	int snapshots, snap_type, restores; /* PUT /snapshot/create and /load */
	char snap_mem[64];
	struct cvmm_restore rs; /* what the load asked (its strings copied below) */
	char rs_mem[64], rs_tap[16], rs_vsock[64];
	int balloon_result; /* the balloon: what f_balloon answers, what it was told */
	uint32_t balloon_target, balloon_interval;
	char mmds_data[256]; /* the started config's MMDS document */
	int mmds_puts;	     /* after the start */
	char mmds[256];	     /* the last one put */
};

static int f_start(void *ctx, struct cvmm_config *cfg, char *err, size_t len)
{
	struct fake *f = ctx;
	f->starts++;
	if (f->start_result < 0) {
		snprintf(err, len, "fake start failure");
		return f->start_result;
	}
	f->seen = *cfg;
	snprintf(f->kernel, sizeof(f->kernel), "%s", cfg->kernel);
	snprintf(f->initrd, sizeof(f->initrd), "%s", cfg->initrd ? cfg->initrd : "");
	snprintf(f->cmdline, sizeof(f->cmdline), "%s", cfg->cmdline ? cfg->cmdline : "");
	snprintf(f->disk0, sizeof(f->disk0), "%s", cfg->ndisks > 0 ? cfg->disks[0].path : "");
	snprintf(f->disk1, sizeof(f->disk1), "%s", cfg->ndisks > 1 ? cfg->disks[1].path : "");
	f->disk0_flags = cfg->ndisks ? cfg->disks[0].flags : 0;
	snprintf(f->tap, sizeof(f->tap), "%s", cfg->nnets ? cfg->nets[0].target : "");
	snprintf(f->vsock, sizeof(f->vsock), "%s", cfg->vsock_path ? cfg->vsock_path : "");
	snprintf(f->mmds_data, sizeof(f->mmds_data), "%s", cfg->mmds.data ? cfg->mmds.data : "");
	f->state = CVMM_STATE_RUNNING;
	return 0;
}

static int f_pause(void *ctx, char *err, size_t len)
{
	struct fake *f = ctx;
	f->pauses++;
	usleep(f->pause_us);
	if (f->state == CVMM_STATE_PAUSED) {
		snprintf(err, len, "already");
		return -EALREADY;
	}
	f->state = CVMM_STATE_PAUSED;
	return 0;
}

static int f_resume(void *ctx, char *err, size_t len)
{
	struct fake *f = ctx;
	f->resumes++;
	usleep(f->pause_us);
	if (f->state != CVMM_STATE_PAUSED) {
		snprintf(err, len, "not paused");
		return -EINVAL;
	}
	f->state = CVMM_STATE_RUNNING;
	return 0;
}

static int f_shutdown(void *ctx, char *err, size_t len)
{
	struct fake *f = ctx;
	f->shutdowns++;
	if (f->shutdown_result < 0)
		snprintf(err, len, "the keyboard's buffer is full");
	return f->shutdown_result;
}

static enum cvmm_vm_state f_state(void *ctx)
{
	return ((struct fake *)ctx)->state;
}

static int f_stats(void *ctx, struct cvmm_stats *st)
{
	struct fake *f = ctx;
	memset(st, 0, sizeof(*st));
	st->exits_total = f->exits;
	st->console_tx_bytes = f->tx;
	st->console_tx_missed = f->missed;
	return 0;
}

/* PATCH /drives, /network-interfaces: the limiters passed on */
static int f_set_limiter(void *ctx, int kind, unsigned index, const struct cvmm_rate_limiter *rx,
			 const struct cvmm_rate_limiter *tx, char *err, size_t len)
{
	struct fake *f = ctx;
	(void)err;
	(void)len;
	f->limits++;
	f->limit_kind = kind;
	f->limit_index = index;
	f->limit_rx = *rx;
	f->limit_tx = tx ? *tx : (struct cvmm_rate_limiter){0};
	return 0;
}

static int f_update_disk(void *ctx, unsigned index, const char *path, char *err, size_t len)
{
	struct fake *f = ctx;
	f->updates++;
	if (f->update_result < 0) {
		snprintf(err, len, "fake: cannot open disk '%s'", path);
		return f->update_result;
	}
	f->update_index = index;
	snprintf(f->update_path, sizeof(f->update_path), "%s", path);
	return 0;
}

static int f_metrics(void *ctx, struct cvmm_vcpu_metrics *vcpu, struct cvmm_device_metrics *dev,
		     unsigned max)
{
	struct fake *f = ctx;
	*vcpu = f->vcpu;
	for (unsigned i = 0; i < f->ndev && i < max; i++)
		dev[i] = f->dev[i];
	return (int)f->ndev;
}

/* As cvmm_vm_snapshot: refused unless paused; the state file it writes
 * holds app (core/snap.h, the "app" section), what a load reads back. */
static int f_snapshot(void *ctx, const char *state, const char *mem, int type, const char *app,
		      char *err, size_t len)
{
	struct fake *f = ctx;
	f->snapshots++;
	f->snap_type = type;
	if (f->state != CVMM_STATE_PAUSED) {
		snprintf(err, len, "pause the VM before a snapshot");
		return -EINVAL;
	}
	snprintf(f->snap_mem, sizeof(f->snap_mem), "%s", mem);
	struct snap_w w;
	snap_w_init(&w);
	snap_section(&w, "app", 0);
	snap_put_opt(&w, 1, app, strlen(app));
	const uint8_t *b;
	size_t n;
	struct err e = {0};
	FILE *fp = fopen(state, "w");
	int r = fp && snap_w_finish(&w, SNAP_ARCH_HOST, &b, &n, &e) == 0 && fwrite(b, 1, n, fp) == n
			? 0
			: -EIO;
	if (fp)
		fclose(fp);
	snap_w_free(&w);
	return r;
}

static int f_restore(void *ctx, const struct cvmm_restore *rs, const char *console_path,
		     const struct cvmm_token_bucket *console_limit, char *err, size_t len)
{
	struct fake *f = ctx;
	f->restores++;
	snprintf(f->rs_console, sizeof(f->rs_console), "%s", console_path ? console_path : "");
	f->rs_console_limit = *console_limit;
	f->rs = *rs;
	snprintf(f->rs_mem, sizeof(f->rs_mem), "%s", rs->mem_path);
	snprintf(f->rs_tap, sizeof(f->rs_tap), "%s", rs->net_tap[0] ? rs->net_tap[0] : "");
	snprintf(f->rs_vsock, sizeof(f->rs_vsock), "%s", rs->vsock_path ? rs->vsock_path : "");
	f->state = rs->paused ? CVMM_STATE_PAUSED : CVMM_STATE_RUNNING;
	return 0;
}

static int f_mmds_put(void *ctx, const char *json, size_t len, char *err, size_t errlen)
{
	struct fake *f = ctx;
	(void)err;
	(void)errlen;
	f->mmds_puts++;
	snprintf(f->mmds, sizeof(f->mmds), "%.*s", (int)len, json);
	return 0;
}

static int f_balloon(void *ctx, int op, uint32_t arg, struct cvmm_balloon_config *cfg,
		     struct cvmm_balloon_stats *st, char *err, size_t len)
{
	struct fake *f = ctx;
	if (f->balloon_result < 0) {
		snprintf(err, len, "fake balloon failure");
		return f->balloon_result;
	}
	if (op == API_BALLOON_TARGET)
		f->balloon_target = arg;
	else if (op == API_BALLOON_INTERVAL)
		f->balloon_interval = arg;
	else if (op == API_BALLOON_CONFIG)
		*cfg = (struct cvmm_balloon_config){
			f->balloon_target, CVMM_BALLOON_FREE_PAGE_REPORTING, f->balloon_interval};
	else
		*st = (struct cvmm_balloon_stats){
			.target_pages = f->balloon_target * 256,
			.actual_pages = 256,
			.target_mib = f->balloon_target,
			.actual_mib = 1,
			.present = 1u << CVMM_BALLOON_MEMFREE | 1u << CVMM_BALLOON_DIRECT_RECLAIM,
			.val = {[CVMM_BALLOON_MEMFREE] = 12345, [CVMM_BALLOON_DIRECT_RECLAIM] = 7}};
	return 0;
}

static const struct api_ops fake_ops = {.balloon = f_balloon,
					.mmds_put = f_mmds_put,
					.start = f_start,
					.snapshot = f_snapshot,
					.restore = f_restore,
					.pause = f_pause,
					.resume = f_resume,
					.shutdown = f_shutdown,
					.state = f_state,
					.stats = f_stats,
					.update_disk = f_update_disk,
					.set_limiter = f_set_limiter,
					.metrics = f_metrics};

struct t {
	struct fake f;
	struct api *api;
	char dir[64], cwd[4096]; /* the files the requests name, by relative path */
	char out[1 << 16];
	size_t outlen;
	bool closed;
};

/* The kernel, initrd and drives the requests name: files that exist (the
 * API opens them when they are PUT), empty (0-byte drives are valid). */
static const char *const files[] = {"k", "i", "data.img", "root.img", "x", NULL};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	if (!t || api_new(&t->api, &fake_ops, &t->f, -1, 1) < 0)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/cvmm-api-XXXXXX");
	if (!getcwd(t->cwd, sizeof(t->cwd)) || !mkdtemp(t->dir) || chdir(t->dir) < 0)
		return -1;
	for (const char *const *f = files; *f; f++) {
		FILE *fp = fopen(*f, "w");
		if (!fp)
			return -1;
		fclose(fp);
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	api_free(t->api);
	for (const char *const *f = files; *f; f++)
		unlink(*f);
	if (chdir(t->cwd) < 0 || rmdir(t->dir) < 0)
		return -1;
	free(t);
	return 0;
}

/* Sends one request with a JSON body (or none); returns the status. */
static int req(struct t *t, const char *method, const char *path, const char *body)
{
	char buf[8192];
	int n;
	if (body)
		n = snprintf(
			buf, sizeof(buf),
			"%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			"Content-Length: %zu\r\n\r\n%s",
			method, path, strlen(body), body);
	else
		n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method,
			     path);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	t->outlen =
		api_handle_bytes(t->api, buf, (size_t)n, t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	int status = 0;
	assert_int_equal(sscanf(t->out, "HTTP/1.1 %d ", &status), 1);
	return status;
}

/* The fault message is in the Firecracker error shape and holds word. */
static void fault_has(struct t *t, const char *word)
{
	const char *b = strstr(t->out, "\r\n\r\n");
	assert_non_null(b);
	if (strncmp(b + 4, "{\"fault_message\":\"", 18) || !strstr(b, word))
		fail_msg("wanted a fault with '%s', got: %s", word, t->out);
}

static void test_firecracker_sequence(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"state\": \"Not started\""));
	assert_non_null(strstr(t->out, "\"app_name\": \"cvmm\""));
	assert_false(t->closed);
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 256,"
			     " \"smt\": false, \"huge_pages\": \"Transparent\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/boot-source",
			     "{\"kernel_image_path\": \"k\", \"initrd_path\": \"i\","
			     " \"boot_args\": \"console=ttyS0 quiet\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"data.img\","
			     " \"is_root_device\": false, \"is_read_only\": false}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/rootfs",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true, \"is_read_only\": true}"),
			 204);
	/* cvmm's own fields (a TX poll window) are not Firecracker's */
	assert_int_equal(
		req(t, "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\", \"poll_us\": 0}"),
		400);
	fault_has(t, "unknown field 'poll_us'");
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth0",
			     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\","
			     " \"guest_mac\": \"06:00:AC:10:00:02\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v.sock\"}"),
			 204);
	assert_false(t->f.seen.rng);
	assert_int_equal(req(t, "PUT", "/entropy", "{}"), 204);
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	assert_non_null(strstr(t->out, "\"vcpu_count\": 2"));
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(t->f.starts, 1);
	assert_string_equal(t->f.kernel, "k");
	assert_string_equal(t->f.initrd, "i");
	assert_string_equal(t->f.cmdline, "console=ttyS0 quiet root=/dev/vda ro");
	assert_int_equal(t->f.seen.cpus, 2);
	assert_int_equal(t->f.seen.memory, 256ULL << 20);
	assert_int_equal(t->f.seen.huge_pages, CVMM_HUGE_THP);
	assert_int_equal(t->f.seen.ndisks, 2);
	assert_string_equal(t->f.disk0, "root.img"); /* the root device is /dev/vda */
	assert_int_equal(t->f.disk0_flags, CVMM_DISK_RO);
	assert_string_equal(t->f.disk1, "data.img");
	assert_string_equal(t->f.tap, "tap7");
	assert_int_equal(t->f.seen.nets[0].mac[5], 0x02);
	assert_string_equal(t->f.vsock, "/v.sock");
	assert_int_equal(t->f.seen.vsock_cid, 3);
	assert_true(t->f.seen.rng);
	assert_int_equal(t->f.seen.console_out, 1);

	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"state\": \"Running\""));
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204);
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"state\": \"Paused\""));
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204); /* idempotent */
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Resumed\"}"), 204);
	assert_int_equal(t->f.state, CVMM_STATE_RUNNING);
#ifdef __aarch64__
	/* Firecracker's answer there (no i8042), word for word */
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 400);
	fault_has(t, "SendCtrlAltDel does not supported on aarch64.");
	assert_int_equal(t->f.shutdowns, 0);
#else
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 204);
	assert_int_equal(t->f.shutdowns, 1);
	/* the guest does not read its keyboard: the keys are refused, with why */
	t->f.shutdown_result = -ENOSPC;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 400);
	fault_has(t, "buffer is full");
	assert_int_equal(t->f.shutdowns, 2);
#endif

	/* after the start: no more configuration, no second start */
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}"), 400);
	fault_has(t, "after starting");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	fault_has(t, "already started");
	assert_int_equal(t->f.starts, 1);
}

/* As many drives as the VM has device slots (17 on x86_64; Kata's Go
 * runtime attaches 9), then the drive list is full. */
static void test_drive_limit(void **state)
{
	struct t *t = *state;
	char path[32], body[160], most[32];
	for (int i = 1; i <= CVMM_MAX_DISKS + 1; i++) {
		snprintf(path, sizeof(path), "/drives/d%d", i);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"d%d\", \"path_on_host\": \"x\","
			 " \"is_root_device\": false}",
			 i);
		assert_int_equal(req(t, "PUT", path, body), i <= CVMM_MAX_DISKS ? 204 : 400);
	}
	snprintf(most, sizeof(most), "at most %d drives", CVMM_MAX_DISKS);
	fault_has(t, most);
	/* a drive PUT again is replaced, not added */
	assert_int_equal(req(t, "PUT", "/drives/d1",
			     "{\"drive_id\": \"d1\", \"path_on_host\": \"x\","
			     " \"is_root_device\": true}"),
			 204);
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(t->f.seen.ndisks, CVMM_MAX_DISKS);
}

/* The whole fault message is msg. */
static void fault_is(struct t *t, const char *msg)
{
	const char *b = strstr(t->out, "\r\n\r\n");
	assert_non_null(b);
	char want[1024];
	snprintf(want, sizeof(want), "{\"fault_message\":\"%s\"}", msg);
	if (strcmp(b + 4, want))
		fail_msg("wanted the fault '%s', got: %s", msg, t->out);
}

#define FC_PATCH_ERR "Drive config error: Unable to patch the block device: "
#define FC_PATCH_END " Please verify the request arguments."

/* PATCH /drives/{id}, Firecracker's answers: refused before the start, the
 * backing file swapped after it (the VM's disk index: the root drive
 * first), an unknown drive, nothing to update, a file the VM cannot use
 * (the VM unchanged, the configuration too), a body naming another drive
 * or a field that cannot change, a no-op rate limiter. */
/* PATCH /network-interfaces: post-boot only; the buckets given of RX and
 * TX replace the interface's, the others stay; an unknown interface and a
 * malformed limiter are 400s. */
static void test_patch_iface(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/a",
			     "{\"iface_id\": \"a\", \"host_dev_name\": \"tapa\"}"),
			 204);
	assert_int_equal(
		req(t, "PUT", "/network-interfaces/b",
		    "{\"iface_id\": \"b\", \"host_dev_name\": \"tapb\", \"tx_rate_limiter\":"
		    " {\"ops\": {\"size\": 10, \"refill_time\": 100}}}"),
		204);
	const char *rx = "{\"iface_id\": \"b\", \"rx_rate_limiter\": {\"bandwidth\": "
			 "{\"size\": 1000, \"refill_time\": 10}}}";
	assert_int_equal(req(t, "PATCH", "/network-interfaces/b", rx), 400);
	fault_is(t, "The requested operation is not supported before starting the microVM.");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(req(t, "PATCH", "/network-interfaces/b", rx), 204);
	assert_int_equal(t->f.limits, 1);
	assert_int_equal(t->f.limit_kind, CVMM_DEVICE_NET);
	assert_int_equal(t->f.limit_index, 1);
	assert_int_equal(t->f.limit_rx.bandwidth.size, 1000);
	assert_int_equal(t->f.limit_tx.ops.size, 10); /* as PUT */
	assert_int_equal(
		req(t, "PATCH", "/network-interfaces/b",
		    "{\"iface_id\": \"b\", \"rx_rate_limiter\": {}, \"tx_rate_limiter\": null}"),
		204);
	assert_int_equal(t->f.limits, 1); /* nothing to change */
	assert_int_equal(req(t, "PATCH", "/network-interfaces/c",
			     "{\"iface_id\": \"c\", \"rx_rate_limiter\": {}}"),
			 400);
	fault_has(t, "no network interface 'c'");
	assert_int_equal(req(t, "PATCH", "/network-interfaces/b",
			     "{\"iface_id\": \"b\", \"tx_rate_limiter\": {\"ops\": {\"size\": 1.5,"
			     " \"refill_time\": 1}}}"),
			 400);
	fault_has(t, "'tx_rate_limiter': 'ops': 'size' must be an integer");
	assert_int_equal(req(t, "PATCH", "/network-interfaces/b",
			     "{\"iface_id\": \"b\", \"host_dev_name\": \"x\"}"),
			 400);
	fault_has(t, "unknown field 'host_dev_name'");
	assert_int_equal(t->f.limits, 1);
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"rx_rate_limiter\":{\"bandwidth\":{\"size\":1000,"
				       "\"refill_time\":10}},\"tx_rate_limiter\":{\"ops\":"));
}

static void test_patch_drive(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"data.img\","
			     " \"is_root_device\": false}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/rootfs",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true, \"is_read_only\": true}"),
			 204);
	const char *swap = "{\"drive_id\": \"data\", \"path_on_host\": \"x\"}";
	assert_int_equal(req(t, "PATCH", "/drives/data", swap), 400);
	fault_is(t, "The requested operation is not supported before starting the microVM.");
	/* body errors come first, as in Firecracker (its parser runs before) */
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"x\","
			     " \"is_read_only\": true}"),
			 400);
	fault_has(t, "unknown field 'is_read_only'");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(t->f.updates, 0);

	assert_int_equal(req(t, "PATCH", "/drives/data", swap), 204);
	assert_int_equal(t->f.updates, 1);
	assert_int_equal(t->f.update_index, 1); /* rootfs is disk 0, /dev/vda */
	assert_string_equal(t->f.update_path, "x");
	assert_int_equal(req(t, "PATCH", "/drives/rootfs",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"data.img\"}"),
			 204);
	assert_int_equal(t->f.update_index, 0);
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "{\"drive_id\":\"data\",\"path_on_host\":\"x\""));
	assert_non_null(strstr(t->out, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"data.img\""));

	assert_int_equal(req(t, "PATCH", "/drives/nope",
			     "{\"drive_id\": \"nope\", \"path_on_host\": \"x\"}"),
			 400);
	fault_is(t, FC_PATCH_ERR "Failed perform action on device: Device not found" FC_PATCH_END);
	assert_int_equal(req(t, "PATCH", "/drives/data", "{\"drive_id\": \"data\"}"), 400);
	fault_is(t, FC_PATCH_ERR "Block: Running method expected different backend." FC_PATCH_END);
	assert_int_equal(
		req(t, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": null}"),
		400);
	fault_has(t, "Running method expected different backend.");
	assert_int_equal(t->f.updates, 2);

	t->f.update_result = -ENOENT;
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"foo.bar\"}"),
			 400);
	fault_is(t,
		 FC_PATCH_ERR "Block: Virtio backend error: Error manipulating the backing file: "
			      "No such file or directory (os error 2) foo.bar" FC_PATCH_END);
	t->f.update_result = 0;
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "{\"drive_id\":\"data\",\"path_on_host\":\"x\""));

	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"x\"}"),
			 400);
	fault_is(t, "The id from the path does not match the id from the body!");
	assert_int_equal(req(t, "PATCH", "/drives/data", "{\"path_on_host\": \"x\"}"), 400);
	fault_has(t, "'drive_id' is required");
	assert_int_equal(req(t, "PATCH", "/drives/da-ta",
			     "{\"drive_id\": \"da-ta\", \"path_on_host\": \"x\"}"),
			 400);
	fault_has(t, "API Resource IDs can only contain alphanumeric characters and underscores.");
	assert_int_equal(
		req(t, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": true}"),
		400);
	fault_has(t, "'path_on_host' must be a string");
	for (const char *const *k =
		     (const char *const[]){"is_root_device", "io_engine", "cache_type", NULL};
	     *k; k++) {
		char body[128];
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"data\", \"path_on_host\": \"x\", \"%s\": false}", *k);
		assert_int_equal(req(t, "PATCH", "/drives/data", body), 400);
		fault_has(t, "unknown field");
	}
	/* a rate limiter that gives no bucket changes nothing (Kata sends
	 * {}); one that does replaces the buckets it gives, the others stay */
	assert_int_equal(
		req(t, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {}}"),
		204);
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"y\","
			     " \"rate_limiter\": {\"bandwidth\": null, \"ops\": null}}"),
			 204);
	assert_string_equal(t->f.update_path, "y");
	assert_int_equal(t->f.limits, 0);
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\","
			     " \"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 100}}}"),
			 204);
	assert_int_equal(t->f.limits, 1);
	assert_int_equal(t->f.limit_kind, CVMM_DEVICE_DISK);
	assert_int_equal(t->f.limit_rx.ops.size, 1);
	assert_int_equal(t->f.limit_rx.ops.refill_time_ms, 100);
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\", \"rate_limiter\": {\"bandwidth\":"
			     " {\"size\": 4096, \"one_time_burst\": 8192, \"refill_time\": 10}}}"),
			 204);
	assert_int_equal(t->f.limits, 2);
	assert_int_equal(t->f.limit_rx.ops.size, 1); /* kept */
	assert_int_equal(t->f.limit_rx.bandwidth.size, 4096);
	assert_int_equal(t->f.limit_rx.bandwidth.one_time_burst, 8192);
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"rate_limiter\":{\"bandwidth\":{\"size\":4096,"
				       "\"one_time_burst\":8192,\"refill_time\":10},"
				       "\"ops\":{\"size\":1,\"refill_time\":100}}"));
	assert_int_equal(req(t, "PATCH", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"z\","
			     " \"rate_limiter\": {\"ops\": {\"size\": 1}}}"),
			 400);
	fault_has(t, "'rate_limiter': 'ops': 'refill_time' is required");
	assert_int_equal(t->f.updates, 4);
	assert_int_equal(t->f.limits, 2);
	/* PUT stays pre-boot only */
	assert_int_equal(req(t, "PUT", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"data.img\","
			     " \"is_root_device\": false}"),
			 400);
	fault_has(t, "after starting");
}

static void test_before_start(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	fault_has(t, "no boot source");
	assert_int_equal(t->f.starts, 0);
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 400);
	fault_has(t, "not running");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 400);
#ifdef __aarch64__
	fault_has(t, "does not supported on aarch64");
#else
	fault_has(t, "not supported before starting the microVM");
#endif
	assert_int_equal(t->f.pauses + t->f.shutdowns, 0);
	/* a start that fails is reported and can be retried */
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	t->f.start_result = -ENOENT;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	fault_has(t, "fake start failure");
	t->f.start_result = 0;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_string_equal(t->f.cmdline, "console=ttyS0 reboot=k panic=1");
	assert_int_equal(t->f.seen.memory, 128ULL << 20); /* Firecracker's defaults */
	assert_int_equal(t->f.seen.cpus, 1);
}

static void test_bad_bodies(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 64,"
			     " \"frob\": 1}"),
			 400);
	fault_has(t, "unknown field 'frob'");
	/* the kernel and initrd are opened when they are PUT */
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"nope\"}"), 400);
	fault_has(t, "Boot source error: the kernel: cannot open nope: No such file or directory");
	assert_int_equal(req(t, "PUT", "/boot-source",
			     "{\"kernel_image_path\": \"k\", \"initrd_path\": \".\"}"),
			 400);
	fault_has(t, "Boot source error: the initrd: . is not a regular file");
	assert_int_equal(req(t, "PUT", "/machine-config", "{\"vcpu_count\": 2, "), 400);
	fault_has(t, "not valid JSON");
	assert_int_equal(req(t, "PUT", "/machine-config", "[1]"), 400);
	fault_has(t, "JSON object");
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 64}"),
		400);
	fault_has(t, "'vcpu_count' must be an integer");
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 64}"), 400);
	fault_has(t, "'vcpu_count' must be 1..254");
	assert_int_equal(req(t, "PUT", "/machine-config", "{\"vcpu_count\": 1}"), 400);
	fault_has(t, "required");
	assert_int_equal(req(t, "PATCH", "/machine-config", "{\"vcpu_count\": 3}"), 204);
	/* huge_pages: Firecracker's names; 2 MiB units of memory with one;
	 * a PATCH keeps it, a PUT without it is None again */
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 1, \"mem_size_mib\": 65, \"huge_pages\": \"2M\"}"),
			 400);
	fault_has(t, "not a multiple of the configured page size");
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"1G\"}"),
			 400);
	fault_has(t, "'huge_pages' must be one of None, Transparent, 2M");
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"2M\"}"),
			 204);
	assert_int_equal(req(t, "PATCH", "/machine-config", "{\"mem_size_mib\": 63}"), 400);
	assert_int_equal(req(t, "PATCH", "/machine-config", "{\"vcpu_count\": 2}"), 204);
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	assert_non_null(strstr(t->out, "\"huge_pages\": \"2M\""));
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 63}"), 204);
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	assert_non_null(strstr(t->out, "\"huge_pages\": \"None\""));
#ifdef __x86_64__
	/* smt as Firecracker takes it: 1 or an even number of vCPUs */
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true}"),
			 204);
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	assert_non_null(strstr(t->out, "\"smt\": true"));
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}"),
			 400);
	fault_has(t,
		  "The number of vCPUs must be greater than 0, less than 254 and must be 1 or an "
		  "even number if SMT is enabled.");
#else
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true}"),
			 400);
	fault_has(t, "not supported on aarch64");
#endif
	/* Firecracker's command line: Firecracker's 32 vCPUs at most */
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 64}"),
		204);
	api_set_firecracker(t->api);
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 64}"),
		400);
	fault_has(t, "The number of vCPUs must be greater than 0, less than 32 and must be 1 or an "
		     "even number if SMT is enabled.");
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 32, \"mem_size_mib\": 64}"),
		204);
	/* static CPU templates: accepted, marked deprecated as Firecracker does */
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}"),
			 204);
	assert_non_null(strstr(t->out, "\r\nDeprecation: true\r\n"));
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	assert_null(strstr(t->out, "Deprecation")); /* that response only */
	assert_int_equal(req(t, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"cpu_template\": \"X9\"}"),
			 400);
	fault_has(t, "'cpu_template' must be one of");
	assert_int_equal(req(t, "PUT", "/drives/a",
			     "{\"drive_id\": \"b\", \"path_on_host\": \"x\","
			     " \"is_root_device\": false, \"is_read_only\": false}"),
			 400);
	fault_has(t, "The id from the path does not match the id from the body!");
	assert_int_equal(
		req(t, "PUT", "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"x\"}"), 400);
	fault_has(t, "required");
	/* is_read_only may be left out (false) */
	assert_int_equal(
		req(t, "PUT", "/drives/a",
		    "{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false}"),
		204);
	assert_int_equal(
		req(t, "PUT", "/drives/b",
		    "{\"drive_id\": \"b\", \"is_root_device\": false, \"socket\": \"/vu\"}"),
		400);
	fault_has(t, "'socket' is not supported");
	assert_int_equal(req(t, "PUT", "/network-interfaces/e",
			     "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"mtu\": 9000}"),
			 400);
	fault_has(t, "'mtu' is not supported");
	assert_int_equal(req(t, "PUT", "/drives/a%2f..", "{\"drive_id\": \"a%2f..\"}"), 400);
	fault_has(t, "API Resource IDs can only contain alphanumeric characters and underscores.");
	assert_int_equal(req(t, "PUT", "/drives/a-b", "{\"drive_id\": \"a-b\"}"), 400);
	fault_has(t, "API Resource IDs can only contain");
	/* one root device, Firecracker's words (a re-PUT of the same one is fine) */
	assert_int_equal(req(t, "PUT", "/drives/r1",
			     "{\"drive_id\": \"r1\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/r1",
			     "{\"drive_id\": \"r1\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/r2",
			     "{\"drive_id\": \"r2\", \"path_on_host\": \"x\","
			     " \"is_root_device\": true}"),
			 400);
	fault_has(t, "Drive config error: A root block device already exists!");
	/* a drive file is opened when it is PUT */
	assert_int_equal(req(t, "PUT", "/drives/a",
			     "{\"drive_id\": \"a\", \"path_on_host\": \"nope.img\","
			     " \"is_root_device\": false}"),
			 400);
	fault_has(t, "Drive config error: cannot open nope.img: No such file or directory");
	/* empty rate limiters mean none (Kata's Go and Rust runtimes send these) */
	assert_int_equal(
		req(t, "PUT", "/drives/a",
		    "{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false,"
		    " \"rate_limiter\": {}, \"partuuid\": \"0eb2a0bc-01\","
		    " \"cache_type\": \"Unsafe\", \"io_engine\": \"Sync\"}"),
		204);
	assert_int_equal(
		req(t, "PUT", "/drives/a",
		    "{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false,"
		    " \"rate_limiter\": {\"bandwidth\": null, \"ops\": null}}"),
		204);
	assert_int_equal(
		req(t, "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": null,"
		    " \"rx_rate_limiter\": {}, \"tx_rate_limiter\": {}}"),
		204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth1",
			     "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}"),
			 400);
	fault_has(t, "The host device name is already in use: tap0");
	assert_int_equal(req(t, "PUT", "/network-interfaces/m1",
			     "{\"iface_id\": \"m1\", \"host_dev_name\": \"tapm1\","
			     " \"guest_mac\": \"06:00:00:00:00:01\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/m2",
			     "{\"iface_id\": \"m2\", \"host_dev_name\": \"tapm2\","
			     " \"guest_mac\": \"06:00:00:00:00:01\"}"),
			 400);
	fault_has(t, "The MAC address is already in use: 06:00:00:00:00:01");
	assert_int_equal(req(t, "PUT", "/drives/a",
			     "{\"drive_id\": \"a\", \"path_on_host\": \"x\","
			     " \"is_root_device\": false, \"is_read_only\": false,"
			     " \"rate_limiter\": {\"bandwidth\": {}}}"),
			 400);
	fault_has(t, "'rate_limiter': 'bandwidth': 'size' is required");
	assert_int_equal(req(t, "PUT", "/network-interfaces/e",
			     "{\"iface_id\": \"e\","
			     " \"host_dev_name\": \"t\", \"guest_mac\": \"zz\"}"),
			 400);
	fault_has(t, "guest_mac");
	assert_int_equal(req(t, "PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/v\"}"), 400);
	/* containerd never sets a CID: 0 is taken */
	assert_int_equal(
		req(t, "PUT", "/vsock",
		    "{\"guest_cid\": 0, \"uds_path\": \"v.sock\", \"vsock_id\": \"agent_api\"}"),
		204);
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"guest_cid\":3"));
	assert_int_equal(req(t, "PUT", "/entropy", "{\"rate_limiter\": {}}"), 204);
	assert_int_equal(req(t, "PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {}}}"), 400);
	fault_has(t, "'rate_limiter': 'bandwidth': 'size' is required");
	assert_int_equal(req(t, "PUT", "/entropy", "{\"frob\": 1}"), 400);
	assert_int_equal(req(t, "GET", "/entropy", NULL), 400);
	fault_has(t, "Invalid request method and/or path: GET /entropy.");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"Reboot\"}"), 400);
	fault_has(t, "unknown action_type");
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Sleeping\"}"), 400);
	assert_int_equal(req(t, "PUT", "/boot-source", NULL), 400);
	fault_has(t, "not valid JSON");
	assert_false(t->closed); /* bad bodies keep the connection */
}

/* A fresh API server on t's fake (the old one freed), as a new process. */
static void fresh(struct t *t)
{
	api_free(t->api);
	memset(&t->f, 0, sizeof(t->f));
	assert_int_equal(api_new(&t->api, &fake_ops, &t->f, -1, 1), 0);
}

/* PUT /snapshot/create and /snapshot/load as Firecracker's managers send
 * them: create only after the start and refused unless paused (the VM's
 * own message), its type; load only on a fresh server, with the
 * snapshot's configuration back (drive and interface ids), its overrides
 * by iface_id, its memory backend, resume_vm; bad bodies and a corrupt
 * state file refused. */
static void test_snapshot_endpoints(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/snapshot/create",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 400);
	fault_has(t, "not supported before starting the microVM");
	assert_int_equal(
		req(t, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}"),
		204);
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/drives/rootfs",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true, \"is_read_only\": false}"),
			 204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth0",
			     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v.sock\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(req(t, "PUT", "/snapshot/create",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 400);
	fault_has(t, "Create snapshot error: pause the VM before a snapshot");
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204);
	assert_int_equal(req(t, "PUT", "/snapshot/create", "{\"snapshot_path\": \"s\"}"), 400);
	fault_has(t, "'snapshot_path' and 'mem_file_path' are required");
	assert_int_equal(req(t, "PUT", "/snapshot/create",
			     "{\"snapshot_type\": \"Half\", \"snapshot_path\": \"s\","
			     " \"mem_file_path\": \"m\"}"),
			 400);
	assert_int_equal(req(t, "PUT", "/snapshot/create",
			     "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"s\","
			     " \"mem_file_path\": \"m\"}"),
			 204);
	assert_int_equal(t->f.snap_type, CVMM_SNAPSHOT_DIFF);
	assert_string_equal(t->f.snap_mem, "m");
	assert_int_equal(req(t, "PUT", "/snapshot/create",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 204);
	assert_int_equal(t->f.snap_type, CVMM_SNAPSHOT_FULL);

	/* a new process loads it, with Firecracker's overrides */
	fresh(t);
	const char *load = "{\"snapshot_path\": \"s\", \"mem_backend\": {\"backend_type\": "
			   "\"Uffd\", \"backend_path\": \"uffd.sock\"}, \"resume_vm\": true,"
			   " \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\":"
			   " \"tap9\"}], \"vsock_override\": {\"uds_path\": \"/w.sock\"}}";
	assert_int_equal(req(t, "PUT", "/snapshot/load", load), 204);
	assert_int_equal(t->f.restores, 1);
	assert_int_equal(t->f.rs.mem_backend, CVMM_MEM_UFFD);
	assert_string_equal(t->f.rs_mem, "uffd.sock");
	assert_false(t->f.rs.paused);
	assert_string_equal(t->f.rs_tap, "tap9");
	assert_string_equal(t->f.rs_vsock, "/w.sock");
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"drive_id\":\"rootfs\""));
	assert_non_null(strstr(t->out, "\"host_dev_name\":\"tap9\""));
	assert_non_null(strstr(t->out, "\"vcpu_count\":2"));
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"state\": \"Running\""));
	assert_int_equal(req(t, "PUT", "/snapshot/load", load), 400); /* started */
	assert_int_equal(t->f.restores, 1);

	/* not after a boot resource; the deprecated mem_file_path; bad bodies */
	fresh(t);
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/snapshot/load", load), 400);
	fault_has(t, "not allowed after configuring boot-specific resources");
	fresh(t);
	assert_int_equal(req(t, "PUT", "/logger", "{\"log_path\": \"x\"}"), 204);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 204);
	assert_int_equal(t->f.rs.mem_backend, CVMM_MEM_FILE);
	assert_true(t->f.rs.paused); /* resume_vm absent: paused */
	assert_false(t->f.rs.clock_realtime);
	/* clock_realtime goes to the restore (Firecracker 1.17's field) */
	fresh(t);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\","
			     " \"clock_realtime\": true}"),
			 204);
	assert_true(t->f.rs.clock_realtime);
	assert_false(t->f.rs.set_huge_pages); /* absent: as the snapshot */
	fresh(t);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\","
			     " \"huge_pages\": \"4M\"}"),
			 400);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\","
			     " \"huge_pages\": \"2M\"}"),
			 204);
	assert_true(t->f.rs.set_huge_pages);
	assert_int_equal(t->f.rs.huge_pages, CVMM_HUGE_2M);
	assert_string_equal(t->f.rs_console, "");
	/* PUT /serial: not a boot resource (a load may follow), its output
	 * path and rate limiter go to the restored VM; bad bodies refused */
	fresh(t);
	assert_int_equal(req(t, "PUT", "/serial", "{\"serial_out_path\": 7}"), 400);
	assert_int_equal(req(t, "PUT", "/serial", "{\"serial_out_path\": \"/s\", \"x\": 1}"), 400);
	assert_int_equal(req(t, "PUT", "/serial",
			     "{\"serial_out_path\": \"/s\", \"rate_limiter\": {\"size\": -1,"
			     " \"refill_time\": 10}}"),
			 400);
	fault_has(t, "'rate_limiter': 'size' must be an integer");
	assert_int_equal(req(t, "PUT", "/serial",
			     "{\"serial_out_path\": \"/s\", \"rate_limiter\": {\"size\": 100,"
			     " \"refill_time\": 1000}}"),
			 204);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 204);
	assert_string_equal(t->f.rs_console, "/s");
	assert_int_equal(t->f.rs_console_limit.size, 100);
	assert_int_equal(t->f.rs_console_limit.refill_time_ms, 1000);
	assert_int_equal(req(t, "PUT", "/serial", "{\"serial_out_path\": \"/t\"}"), 400);
	fault_has(t, "not supported after starting");
	fresh(t);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\", \"mem_backend\":"
			     " {\"backend_type\": \"File\", \"backend_path\": \"m\"}}"),
			 400);
	assert_int_equal(
		req(t, "PUT", "/snapshot/load",
		    "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\", "
		    "\"network_overrides\": [{\"iface_id\": \"eth9\", \"host_dev_name\": \"t\"}]}"),
		400);
	fault_has(t, "no network interface 'eth9'");
	FILE *fp = fopen("s", "r+");
	assert_non_null(fp);
	fseek(fp, 60, SEEK_SET);
	fputc('!', fp);
	fclose(fp);
	assert_int_equal(req(t, "PUT", "/snapshot/load",
			     "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
			 400);
	fault_has(t, "Load snapshot error: snapshot is corrupt");
	assert_int_equal(t->f.restores, 0);
	unlink("s");
}

/* Firecracker's /balloon calls: PUT before the start (checked, refused
 * after), GET either side, PATCH and the statistics after; the config
 * InstanceStart builds carries it. */
static void test_balloon_endpoints(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "GET", "/balloon", NULL), 400);
	fault_has(t, "no balloon");
	assert_int_equal(req(t, "PUT", "/balloon", "{}"), 400);
	fault_has(t, "'amount_mib' and 'deflate_on_oom' are required");
	assert_int_equal(req(t, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": 1}"),
			 400);
	fault_has(t, "'deflate_on_oom' must be a boolean");
	assert_int_equal(req(t, "PUT", "/balloon",
			     "{\"amount_mib\": 1, \"deflate_on_oom\": true, \"bogus\": 1}"),
			 400);
	fault_has(t, "unknown field 'bogus'");
	assert_int_equal(req(t, "PUT", "/balloon",
			     "{\"amount_mib\": 1, \"deflate_on_oom\": true,"
			     " \"free_page_hinting\": true}"),
			 400);
	fault_has(t, "'free_page_hinting' is not supported");
	assert_int_equal(req(t, "PUT", "/balloon",
			     "{\"amount_mib\": 1, \"deflate_on_oom\": true,"
			     " \"stats_polling_interval_s\": 65536}"),
			 400);
	fault_has(t, "'stats_polling_interval_s' must be 0..65535");
	assert_int_equal(
		req(t, "PUT", "/balloon", "{\"amount_mib\": 129, \"deflate_on_oom\": true}"), 400);
	fault_has(t, "more than the guest's memory");
	assert_int_equal(req(t, "PUT", "/balloon",
			     "{\"amount_mib\": 64, \"deflate_on_oom\": true,"
			     " \"stats_polling_interval_s\": 3, \"free_page_reporting\": true}"),
			 204);
	assert_int_equal(req(t, "GET", "/balloon", NULL), 200);
	assert_non_null(strstr(t->out, "{\"amount_mib\":64,\"deflate_on_oom\":true,"
				       "\"stats_polling_interval_s\":3,\"free_page_hinting\":false,"
				       "\"free_page_reporting\":true}"));
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"balloon\":{\"amount_mib\":64"));
	/* what needs a running VM */
	assert_int_equal(req(t, "GET", "/balloon/statistics", NULL), 400);
	fault_has(t, "not supported before starting the microVM");
	assert_int_equal(req(t, "PATCH", "/balloon", "{\"amount_mib\": 1}"), 400);
	fault_has(t, "not supported before starting the microVM");
	assert_int_equal(req(t, "DELETE", "/balloon", NULL), 400);
	fault_has(t, "Invalid request method and/or path");
	assert_int_equal(req(t, "PUT", "/balloon/statistics", "{}"), 400);
	fault_has(t, "Invalid request method and/or path");
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_true(t->f.seen.balloon.on);
	assert_int_equal(t->f.seen.balloon.mib, 64);
	assert_int_equal(t->f.seen.balloon.stats_s, 3);
	assert_int_equal(t->f.seen.balloon.flags,
			 CVMM_BALLOON_DEFLATE_ON_OOM | CVMM_BALLOON_FREE_PAGE_REPORTING);
	assert_int_equal(req(t, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}"),
			 400);
	fault_has(t, "not supported after starting the microVM");
	assert_int_equal(req(t, "PATCH", "/balloon", "{\"amount_mib\": 32}"), 204);
	assert_int_equal(t->f.balloon_target, 32);
	assert_int_equal(req(t, "PATCH", "/balloon", "{\"amount_mib\": \"32\"}"), 400);
	fault_has(t, "'amount_mib' must be an integer");
	assert_int_equal(req(t, "PATCH", "/balloon", "{}"), 400);
	fault_has(t, "'amount_mib' is required");
	assert_int_equal(req(t, "PATCH", "/balloon", "{\"stats_polling_interval_s\": 1}"), 400);
	fault_has(t, "unknown field");
	assert_int_equal(req(t, "PATCH", "/balloon", "[1"), 400);
	assert_int_equal(
		req(t, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 2}"), 204);
	assert_int_equal(t->f.balloon_interval, 2);
	assert_int_equal(req(t, "GET", "/balloon", NULL), 200);
	assert_non_null(strstr(t->out, "\"amount_mib\":32"));
	assert_non_null(strstr(t->out, "\"stats_polling_interval_s\":2"));
	assert_int_equal(req(t, "GET", "/balloon/statistics", NULL), 200);
	assert_non_null(strstr(t->out, "{\"target_pages\":8192,\"actual_pages\":256,"
				       "\"target_mib\":32,\"actual_mib\":1,\"free_memory\":12345,"
				       "\"direct_reclaim\":7}"));
	/* the VM's refusal (statistics not enabled, a target too large) */
	t->f.balloon_result = -EINVAL;
	assert_int_equal(req(t, "GET", "/balloon/statistics", NULL), 400);
	fault_has(t, "fake balloon failure");
	assert_int_equal(req(t, "PATCH", "/balloon", "{\"amount_mib\": 5}"), 400);
	fault_has(t, "fake balloon failure");
	assert_int_equal(req(t, "GET", "/balloon/hinting/status", NULL), 400);
	fault_has(t, "not supported by cvmm yet");
}

static void test_methods_and_paths(void **state)
{
	struct t *t = *state;
	/* Firecracker answers an unknown path and a wrong method alike: 400 */
	assert_int_equal(req(t, "GET", "/nope", NULL), 400);
	fault_has(t, "Invalid request method and/or path: GET /nope.");
	assert_int_equal(req(t, "DELETE", "/machine-config", NULL), 400);
	fault_has(t, "Invalid request method and/or path: DELETE /machine-config.");
	assert_int_equal(req(t, "POST", "/actions", "{}"), 400);
	/* endpoints of later issues say so */
	assert_int_equal(req(t, "PATCH", "/balloon/hinting/start", "{}"), 400);
	fault_has(t, "not supported by cvmm yet");
	assert_int_equal(req(t, "GET", "/version", NULL), 200);
	assert_non_null(strstr(t->out, "{\"firecracker_version\": \"" API_FC_VERSION "\"}"));
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(
		strstr(t->out, "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128"));
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"id\": \"anonymous-instance\""));
	assert_int_equal(api_set_id(t->api, "0f3c3b1e-5d2a-4c1b-9e7f-2a6b8c9d0e1f"), 0);
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"id\": \"0f3c3b1e-5d2a-4c1b-9e7f-2a6b8c9d0e1f\""));
	assert_int_equal(api_set_id(t->api, "bad id"), -EINVAL);
	assert_int_equal(req(t, "GET", "/drives", NULL), 400);
	assert_int_equal(req(t, "GET", "/drives/a/b", NULL), 400);
	assert_int_equal(req(t, "GET", "/?x=1", NULL), 200);
	assert_int_equal(t->f.starts, 0);
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

/* PUT /logger: libcvmm's lines (and the API's own) go to the file, at the
 * level asked, decorated as asked; a FIFO without a reader is fine. */
static void test_logger(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/logger",
			     "{\"log_path\": \"log.txt\", \"level\": \"debug\","
			     " \"show_level\": true, \"show_log_origin\": false}"),
			 204);
	assert_int_equal(req(t, "GET", "/machine-config", NULL), 200);
	char *log = slurp("log.txt");
	if (!strstr(log, "cvmm: INFO: anonymous-instance: logging to log.txt\n") ||
	    !strstr(log, "cvmm: DEBUG: API: GET /machine-config\n"))
		fail_msg("log: %s", log);
	/* Error: the debug lines stop; origin shown */
	assert_int_equal(req(t, "PUT", "/logger",
			     "{\"level\": \"Error\", \"show_level\": false,"
			     " \"show_log_origin\": true}"),
			 204);
	size_t before = strlen(slurp("log.txt"));
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_int_equal(strlen(slurp("log.txt")), before);
	cvmm_log(CVMM_LOG_ERROR, "an error %d", 7);
	assert_non_null(strstr(slurp("log.txt"), "cvmm: app:0: an error 7\n"));
	/* a FIFO nobody reads yet (Kata and firecracker-containerd make one) */
	assert_int_equal(mkfifo("log.fifo", 0600), 0);
	assert_int_equal(
		req(t, "PUT", "/logger", "{\"log_path\": \"log.fifo\", \"level\": \"Info\"}"), 204);
	unlink("log.fifo");
	/* bad values */
	assert_int_equal(req(t, "PUT", "/logger", "{\"level\": \"Loud\"}"), 400);
	fault_has(t, "Logger error: invalid level 'Loud'");
	assert_int_equal(req(t, "PUT", "/logger", "{\"log_path\": \"no/such/dir/log\"}"), 400);
	fault_has(t, "Logger error: cannot open no/such/dir/log");
	assert_int_equal(req(t, "PUT", "/logger", "{\"module\": \"api_server\"}"), 400);
	fault_has(t, "'module' is not supported");
	unlink("log.txt");
	cvmm_log_set_level(CVMM_LOG_INFO);
	assert_int_equal(cvmm_log_set_options(0), 0);
}

/* PUT /metrics, then FlushMetrics: one JSON line per flush, Firecracker's
 * groups, counters since the previous line. */
static void test_metrics(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "PUT", "/metrics", "{}"), 400);
	fault_has(t, "'metrics_path' is required");
	assert_int_equal(api_timeout_ms(t->api), -1); /* nothing of its own to do */
	assert_int_equal(req(t, "PUT", "/metrics", "{\"metrics_path\": \"m.json\"}"), 204);
	int due = api_timeout_ms(t->api);
	assert_true(due > 55000 && due <= 60000); /* every 60 s, as Firecracker */
	assert_int_equal(req(t, "PUT", "/metrics", "{\"metrics_path\": \"m2.json\"}"), 400);
	fault_has(t, "Reinitialization of metrics not allowed.");
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 400);
	fault_has(t, "not supported before starting the microVM");
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	t->f.vcpu.exit_io_out = 1000;
	t->f.tx = 77;
	t->f.missed = 5;
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	t->f.vcpu.exit_io_out = 1500;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	char *m = slurp("m.json");
	char *nl = strchr(m, '\n');
	assert_non_null(nl);
	assert_non_null(strchr(nl + 1, '\n')); /* two lines */
	assert_null(strchr(strchr(nl + 1, '\n') + 1, '\n'));
	*nl = '\0';
	char *second = nl + 1;
	/* the first: everything so far (4 PUTs counted, 1 failed metrics PUT...) */
	if (strncmp(m, "{\"utc_timestamp_ms\":", 20) ||
	    !strstr(m, "\"get_api_requests\":{\"instance_info_count\":1,") ||
	    !strstr(m, "\"metrics_count\":3,\"metrics_fails\":2") ||
	    !strstr(m, "\"actions_count\":2,\"actions_fails\":1") ||
	    !strstr(m, "\"vcpu\":{\"exit_io_in\":0,\"exit_io_out\":1000,\"exit_mmio_read\":0,"
		       "\"exit_mmio_write\":0}") ||
	    !strstr(m, "\"uart\":{\"write_count\":77,\"missed_write_count\":5,"
		       "\"rate_limiter_dropped_bytes\":0}"))
		fail_msg("first line: %s", m);
	/* the second: only what happened since (the FlushMetrics that wrote the
	 * first line counts after it) */
	if (!strstr(second, "\"instance_info_count\":0,") ||
	    !strstr(second, "\"actions_count\":1,\"actions_fails\":0") ||
	    !strstr(second, "\"vcpu\":{\"exit_io_in\":0,\"exit_io_out\":500,") ||
	    !strstr(second, "\"uart\":{\"write_count\":0,\"missed_write_count\":0,"
			    "\"rate_limiter_dropped_bytes\":0}"))
		fail_msg("second line: %s", second);
	unlink("m.json");
	unlink("m2.json");
}

/* The metrics file's lines, parsed (at most 4). */
static int metrics_lines(const char *path, struct json_object **lines, int max)
{
	char *m = slurp(path);
	int n = 0;
	for (char *nl; n < max && (nl = strchr(m, '\n')); m = nl + 1) {
		*nl = '\0';
		lines[n] = json_tokener_parse(m);
		if (!lines[n])
			fail_msg("line %d is not JSON: %s", n, m);
		n++;
	}
	assert_int_equal(*m, '\0'); /* whole lines only */
	return n;
}

/* group.field of a line, -1 if it is not there. */
static int64_t mval(struct json_object *line, const char *group, const char *field)
{
	struct json_object *g, *v;
	if (!json_object_object_get_ex(line, group, &g) || !json_object_object_get_ex(g, field, &v))
		return -1;
	return json_object_get_int64(v);
}

static bool mhas(struct json_object *line, const char *group)
{
	return json_object_object_get_ex(line, group, NULL);
}

/* A fake VM's devices as the API makes them: disks (the root first),
 * interfaces, vsock, entropy; each counter a distinct value. */
static void fake_devices(struct fake *f, unsigned ndisks, unsigned nnets, uint64_t base)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ndisks; i++, n++) {
		struct cvmm_disk_metrics *d = &f->dev[n].u.disk;
		f->dev[n].kind = CVMM_DEVICE_DISK;
		f->dev[n].index = i;
		*d = (struct cvmm_disk_metrics){.read_count = base + 10 * i + 1,
						.write_count = base + 10 * i + 2,
						.read_bytes = (base + 10 * i + 1) * 4096,
						.write_bytes = (base + 10 * i + 2) * 512,
						.flush_count = base + i,
						.invalid_reqs_count = i,
						.execute_fails = 0,
						.queue_event_count = base + 100 + i};
	}
	for (unsigned i = 0; i < nnets; i++, n++) {
		f->dev[n].kind = CVMM_DEVICE_NET;
		f->dev[n].index = i;
		f->dev[n].u.net =
			(struct cvmm_net_metrics){.rx_packets_count = base + 7 * i + 3,
						  .rx_bytes_count = (base + 7 * i + 3) * 1500,
						  .tx_packets_count = base + 7 * i + 4,
						  .tx_bytes_count = (base + 7 * i + 4) * 100,
						  .tap_write_fails = i,
						  .rx_queue_event_count = base + 5,
						  .tx_queue_event_count = base + 6};
	}
	f->dev[n].kind = CVMM_DEVICE_VSOCK;
	f->dev[n++].u.vsock = (struct cvmm_vsock_metrics){.rx_packets_count = base + 1,
							  .tx_bytes_count = base * 3,
							  .conns_added = base + 2,
							  .conns_removed = base};
	f->dev[n].kind = CVMM_DEVICE_RNG;
	f->dev[n++].u.rng = (struct cvmm_rng_metrics){.entropy_event_count = base + 4,
						      .entropy_bytes = (base + 4) * 64};
	f->dev[n].kind = CVMM_DEVICE_BALLOON;
	f->dev[n++].u.balloon = (struct cvmm_balloon_metrics){.inflate_count = base + 8,
							      .free_page_report_freed = base << 12};
	f->ndev = n;
}

/* The device groups: Firecracker's per-device groups keyed by the API's
 * ids (block_<drive_id>: the root drive is the VM's disk 0, whatever order
 * the drives were PUT in), the aggregates, vsock and entropy, the vCPU's
 * exits; counters since the previous line, stores as they are; only what
 * cvmm counts (no "activate_fails": cvmm does not count it). */
static void test_metrics_devices(void **state)
{
	struct t *t = *state;
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/api.sock", t->dir);
	char err[256];
	/* the process started 5 s before the server (Firecracker's
	 * --start-time-us), its CPU time counted from (almost) 0, its
	 * parent's 1 s before it */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t mono = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	api_set_start_times(t->api, mono - 5000000, 1, 1000000);
	assert_int_equal(api_listen(t->api, sock, err, sizeof(err)), 0);
	assert_int_equal(req(t, "PUT", "/metrics", "{\"metrics_path\": \"m.json\"}"), 204);
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/drives/data",
			     "{\"drive_id\": \"data\", \"path_on_host\": \"data.img\","
			     " \"is_root_device\": false}"),
			 204);
	assert_int_equal(req(t, "PUT", "/drives/rootfs",
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\","
			     " \"is_root_device\": true}"),
			 204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth0",
			     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth1",
			     "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}"),
			 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	fake_devices(&t->f, 2, 2, 100);
	t->f.vcpu = (struct cvmm_vcpu_metrics){
		.exit_io_in = 11, .exit_io_out = 12, .exit_mmio_read = 13, .exit_mmio_write = 14};
	t->f.pause_us = 3000;
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	assert_int_equal(req(t, "PATCH", "/vm", "{\"state\": \"Resumed\"}"), 204);
	fake_devices(&t->f, 2, 2, 250); /* every counter 150 (or a multiple) on */
	t->f.vcpu.exit_mmio_write = 20;
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	struct json_object *l[4];
	assert_int_equal(metrics_lines("m.json", l, 4), 2);

	/* the first line: the totals so far */
	assert_int_equal(mval(l[0], "block_rootfs", "read_count"), 101); /* disk 0 */
	assert_int_equal(mval(l[0], "block_rootfs", "read_bytes"), 101 * 4096);
	assert_int_equal(mval(l[0], "block_data", "read_count"), 111); /* disk 1 */
	assert_int_equal(mval(l[0], "block_data", "invalid_reqs_count"), 1);
	assert_int_equal(mval(l[0], "block", "read_count"), 101 + 111);
	assert_int_equal(mval(l[0], "block", "write_bytes"), (102 + 112) * 512);
	assert_int_equal(mval(l[0], "block", "flush_count"), 100 + 101);
	assert_int_equal(mval(l[0], "block", "queue_event_count"), 200 + 201);
	assert_int_equal(mval(l[0], "block", "execute_fails"), 0);
	assert_int_equal(mval(l[0], "block_rootfs", "activate_fails"), -1); /* not counted */
	assert_int_equal(mval(l[0], "net_eth0", "rx_packets_count"), 103);
	assert_int_equal(mval(l[0], "net_eth0", "rx_count"), 103); /* Firecracker's twin */
	assert_int_equal(mval(l[0], "net_eth1", "tx_packets_count"), 111);
	assert_int_equal(mval(l[0], "net_eth1", "tx_count"), 111);
	assert_int_equal(mval(l[0], "net", "tx_bytes_count"), (104 + 111) * 100);
	assert_int_equal(mval(l[0], "net", "tap_write_fails"), 1);
	assert_int_equal(mval(l[0], "net", "rx_queue_event_count"), 210);
	assert_int_equal(mval(l[0], "net", "tx_queue_event_count"), 212);
	assert_int_equal(mval(l[0], "vsock", "rx_packets_count"), 101);
	assert_int_equal(mval(l[0], "vsock", "tx_bytes_count"), 300);
	assert_int_equal(mval(l[0], "vsock", "conns_added"), 102);
	assert_int_equal(mval(l[0], "vsock", "conns_removed"), 100);
	assert_int_equal(mval(l[0], "entropy", "entropy_event_count"), 104);
	assert_int_equal(mval(l[0], "entropy", "entropy_bytes"), 104 * 64);
	assert_int_equal(mval(l[0], "balloon", "inflate_count"), 108);
	assert_int_equal(mval(l[0], "balloon", "free_page_report_freed"), 100 << 12);
	assert_int_equal(mval(l[0], "balloon", "deflate_count"), 0);
	assert_int_equal(mval(l[0], "vcpu", "exit_io_in"), 11);
	assert_int_equal(mval(l[0], "vcpu", "exit_mmio_write"), 14);
	assert_int_equal(mval(l[0], "vcpu", "exit_count"), -1); /* not Firecracker's */
	assert_int_equal(mval(l[0], "seccomp", "num_faults"), 0);
	assert_int_equal(mval(l[0], "vmm", "panic_count"), 0);
	assert_true(mval(l[0], "latencies_us", "pause_vm") >= 3000);
	assert_true(mval(l[0], "latencies_us", "vmm_pause_vm") >= 3000);
	assert_true(mval(l[0], "latencies_us", "pause_vm") >=
		    mval(l[0], "latencies_us", "vmm_pause_vm"));
	assert_int_equal(mval(l[0], "latencies_us", "resume_vm"), 0); /* none yet */
	assert_true(mval(l[0], "api_server", "process_startup_time_us") >= 5000000);
	assert_true(mval(l[0], "api_server", "process_startup_time_cpu_us") > 1000000);
	assert_int_equal(mval(l[0], "put_api_requests", "drive_count"), 2);
	assert_int_equal(mval(l[0], "logger", "missed_metrics_count"), 0);
	assert_false(mhas(l[0], "block_0") || mhas(l[0], "net_0") || mhas(l[0], "mmds"));

	/* the second: counters since the first, stores as they are now */
	assert_int_equal(mval(l[1], "block_rootfs", "read_count"), 150);
	assert_int_equal(mval(l[1], "block_data", "read_count"), 150);
	assert_int_equal(mval(l[1], "block", "read_count"), 300);
	assert_int_equal(mval(l[1], "block", "read_bytes"), 300 * 4096);
	assert_int_equal(mval(l[1], "block", "invalid_reqs_count"), 0);
	assert_int_equal(mval(l[1], "net", "rx_packets_count"), 300);
	assert_int_equal(mval(l[1], "net_eth1", "tap_write_fails"), 0);
	assert_int_equal(mval(l[1], "vsock", "tx_bytes_count"), 450);
	assert_int_equal(mval(l[1], "entropy", "entropy_event_count"), 150);
	assert_int_equal(mval(l[1], "balloon", "inflate_count"), 150);
	assert_int_equal(mval(l[1], "vcpu", "exit_io_in"), 0);
	assert_int_equal(mval(l[1], "vcpu", "exit_mmio_write"), 6);
	assert_true(mval(l[1], "latencies_us", "pause_vm") >= 3000); /* a store: still there */
	assert_true(mval(l[1], "latencies_us", "resume_vm") >= 3000);
	assert_true(mval(l[1], "api_server", "process_startup_time_us") >= 5000000);
	assert_int_equal(mval(l[1], "put_api_requests", "drive_count"), 0);
	for (int i = 0; i < 2; i++)
		json_object_put(l[i]);
	unlink("m.json");
}

/* A line longer than PIPE_BUF goes into a FIFO whole or not at all: only
 * into an empty pipe; one that would not fit is dropped and counted
 * (logger.missed_metrics_count) in the next line. */
static void test_metrics_fifo(void **state)
{
	struct t *t = *state;
	assert_int_equal(mkfifo("m.fifo", 0600), 0);
	assert_int_equal(req(t, "PUT", "/metrics", "{\"metrics_path\": \"m.fifo\"}"), 204);
	int rd = open("m.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int wr = open("m.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0 && wr >= 0);
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	fake_devices(&t->f, 8, 4, 1000000); /* names the API does not know: block_2... */
	static char buf[1 << 16];
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	ssize_t n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > PIPE_BUF); /* a long line, whole */
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', (size_t)n - 1));
	buf[n] = '\0';
	struct json_object *l = json_tokener_parse(buf);
	assert_non_null(l);
	assert_int_equal(mval(l, "block_7", "read_count"), 1000071);
	assert_int_equal(mval(l, "net_3", "rx_packets_count"), 1000024);
	json_object_put(l);
	/* a reader behind: one byte still in the pipe, so the line is dropped */
	assert_int_equal(write(wr, "x", 1), 1);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	assert_int_equal(read(rd, buf, sizeof(buf)), 1);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > PIPE_BUF);
	buf[n] = '\0';
	l = json_tokener_parse(buf);
	assert_non_null(l);
	assert_int_equal(mval(l, "logger", "missed_metrics_count"), 1);
	assert_int_equal(mval(l, "block_7", "read_count"), 0);
	json_object_put(l);
	close(rd);
	close(wr);
	unlink("m.fifo");
}

/* Firecracker's --config-file, shaped as Kata's Go runtime writes it (9
 * drives, 8 of them 0-byte placeholders, {} rate limiters, smt false, a
 * logger and metrics FIFO) and as flintlock does (smt true, show_level and
 * origin), and its errors. */
static void test_config_file(void **state)
{
	struct t *t = *state;
	char err[600] = "";
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "drive_%d", i);
		FILE *f = fopen(name, "w");
		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(mkfifo("logs.fifo", 0600), 0);
	assert_int_equal(mkfifo("metrics.fifo", 0600), 0);
	static const char kata[] =
		"{\"boot-source\": {\"kernel_image_path\": \"k\", \"boot_args\":"
		" \"console=ttyS0 reboot=k panic=1 pci=off acpi=off\"},"
		" \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\","
		"  \"is_root_device\": false, \"is_read_only\": true},"
		"  {\"drive_id\": \"drive_0\", \"path_on_host\": \"drive_0\", \"is_root_device\": "
		"false,"
		"   \"is_read_only\": false, \"cache_type\": \"Unsafe\"},"
		"  {\"drive_id\": \"drive_1\", \"path_on_host\": \"drive_1\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_2\", \"path_on_host\": \"drive_2\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_3\", \"path_on_host\": \"drive_3\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_4\", \"path_on_host\": \"drive_4\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_5\", \"path_on_host\": \"drive_5\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_6\", \"path_on_host\": \"drive_6\", \"is_root_device\": "
		"false},"
		"  {\"drive_id\": \"drive_7\", \"path_on_host\": \"drive_7\", \"is_root_device\": "
		"false}],"
		" \"machine-config\": {\"smt\": false, \"mem_size_mib\": 2048, \"vcpu_count\": 1},"
		" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"guest_mac\": "
		"\"02:00:ca:fe:00:01\","
		"  \"host_dev_name\": \"tap0_kata\", \"rx_rate_limiter\": {}, \"tx_rate_limiter\": "
		"{}}],"
		" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"kata.hvsock\", \"vsock_id\": "
		"\"root\"},"
		" \"logger\": {\"level\": \"Error\", \"log_path\": \"logs.fifo\"},"
		" \"metrics\": {\"metrics_path\": \"metrics.fifo\"}}";
	assert_int_equal(api_apply_config(t->api, kata, strlen(kata), true, err, sizeof(err)), 0);
	assert_int_equal(t->f.starts, 1);
	assert_int_equal(t->f.seen.ndisks, 9);
	assert_int_equal(t->f.seen.cpus, 1);
	assert_int_equal(t->f.seen.memory, 2048ULL << 20);
	assert_string_equal(t->f.tap, "tap0_kata");
	assert_string_equal(t->f.vsock, "kata.hvsock");
	assert_string_equal(t->f.cmdline, "console=ttyS0 reboot=k panic=1 pci=off acpi=off");
	assert_int_equal(req(t, "GET", "/", NULL), 200);
	assert_non_null(strstr(t->out, "\"state\": \"Running\""));
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "drive_%d", i);
		unlink(name);
	}
	unlink("logs.fifo");
	unlink("metrics.fifo");
	cvmm_log_set_level(CVMM_LOG_INFO);
}

/* flintlock's shape: a root drive, smt true (x86_64), a logger to a regular
 * file with level and origin shown, a metrics file; no API (--no-api). */
static void test_config_file_flintlock(void **state)
{
	struct t *t = *state;
	char err[600] = "";
	static const char fl[] =
		"{\"boot-source\": {\"kernel_image_path\": \"k\", \"initrd_path\": \"i\","
		"  \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off i8042.noaux\"},"
		" \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"root.img\","
		"  \"is_root_device\": true, \"is_read_only\": false, \"cache_type\": \"Unsafe\"}],"
		" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 512,"
#ifdef __x86_64__
		"  \"smt\": true,"
#endif
		"  \"track_dirty_pages\": false},"
		" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": "
		"\"fltap0\"}],"
		" \"logger\": {\"log_path\": \"fc.log\", \"level\": \"Debug\", \"show_level\": "
		"true,"
		"  \"show_log_origin\": true},"
		" \"metrics\": {\"metrics_path\": \"fc.metrics\"}}";
	assert_int_equal(api_apply_config(t->api, fl, strlen(fl), true, err, sizeof(err)), 0);
	assert_int_equal(t->f.starts, 1);
	assert_int_equal(t->f.seen.cpus, 2);
	assert_string_equal(t->f.disk0, "root.img");
	assert_string_equal(t->f.cmdline,
			    "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux root=/dev/vda rw");
	assert_non_null(strstr(slurp("fc.log"), "cvmm: DEBUG: app:0: API: PUT /drives/root\n"));
	unlink("fc.log");
	unlink("fc.metrics");
	cvmm_log_set_level(CVMM_LOG_INFO);
	assert_int_equal(cvmm_log_set_options(0), 0);
}

static void test_config_file_errors(void **state)
{
	struct t *t = *state;
	char err[600] = "";
	static const struct {
		const char *json, *want;
	} bad[] = {
		{"[]", "not a JSON object"},
		{"{\"drives\": []", "not a JSON object"},
		{"{\"drives\": []}", "'boot-source' is required"},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}}", "'drives' is required"},
		{"{\"boot-source\": {\"kernel_image_path\": \"nope\"}, \"drives\": []}",
		 "boot-source: Boot source error: the kernel: cannot open nope"},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": "
		 "[{\"path_on_host\": \"x\"}]}",
		 "drives[0]: an object with a string 'drive_id' is needed"},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [],"
		 " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"frob\": 1}}",
		 "machine-config: unknown field 'frob'"},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [],"
		 " \"mmds-config\": {\"network_interfaces\": []}}",
		 "mmds-config: The list of network interface IDs that allow forwarding MMDS "
		 "requests is empty."},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [],"
		 " \"mmds-config\": {\"network_interfaces\": [\"eth9\"]}}",
		 "does not correspond to any existing network interface"},
		{"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [],"
		 " \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"v\", \"state\": \"x\\\"y\"}}",
		 "vsock: unknown field 'state'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (api_apply_config(t->api, bad[i].json, strlen(bad[i].json), true, err,
				     sizeof(err)) != -EINVAL ||
		    !strstr(err, bad[i].want))
			fail_msg("%s: got '%s', wanted '%s'", bad[i].json, err, bad[i].want);
	}
	assert_int_equal(t->f.starts, 0);
}

/* MMDS: the document (PUT, PATCH as RFC 7396, GET with keys sorted), its
 * limit (413), its configuration, and what the VM gets at and after the
 * start. */
static void test_mmds(void **state)
{
	struct t *t = *state;
	assert_int_equal(req(t, "GET", "/mmds", NULL), 200);
	assert_non_null(strstr(t->out, "\r\n\r\nnull"));
	assert_int_equal(req(t, "PATCH", "/mmds", "{\"a\": 1}"), 400);
	fault_has(t, "The MMDS data store is not initialized.");
	assert_int_equal(req(t, "PUT", "/mmds", "{\"b\": {\"x\": 1, \"y\": 2}, \"a\": \"s/t\"}"),
			 204);
	assert_int_equal(req(t, "GET", "/mmds", NULL), 200);
	assert_non_null(strstr(t->out, "\r\n\r\n{\"a\":\"s/t\",\"b\":{\"x\":1,\"y\":2}}"));
	assert_int_equal(req(t, "PATCH", "/mmds", "{\"b\": {\"x\": null, \"z\": [1]}, \"c\": 3}"),
			 204);
	assert_int_equal(req(t, "GET", "/mmds", NULL), 200);
	assert_non_null(strstr(t->out, "{\"a\":\"s/t\",\"b\":{\"y\":2,\"z\":[1]},\"c\":3}"));
	assert_int_equal(req(t, "PUT", "/mmds", "{\"a\": "), 400);
	assert_int_equal(req(t, "DELETE", "/mmds", NULL), 400);
	assert_int_equal(req(t, "GET", "/mmds/config", NULL), 400);
	/* the limit: the request body limit unless set */
	api_set_mmds_limit(t->api, 16);
	assert_int_equal(req(t, "PUT", "/mmds", "{\"long\": \"0123456789\"}"), 413);
	fault_has(t, "The MMDS patch request doesn't fit.");
	assert_int_equal(req(t, "PATCH", "/mmds", "{\"d\": \"0123456789\"}"), 413);
	assert_int_equal(req(t, "PUT", "/mmds", "{\"k\": \"v\"}"), 204);
	api_set_mmds_limit(t->api, 0);
	/* the configuration: interfaces that exist, a link-local address */
	assert_int_equal(req(t, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}"),
			 400);
	fault_has(t, "does not correspond to any existing network interface");
	assert_int_equal(req(t, "PUT", "/network-interfaces/eth0",
			     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}"),
			 204);
	assert_int_equal(
		req(t, "PUT", "/mmds/config",
		    "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"10.0.0.1\"}"),
		400);
	fault_has(t, "The MMDS IPv4 address is not link local.");
	assert_int_equal(req(t, "PUT", "/mmds/config",
			     "{\"network_interfaces\": [\"eth0\"], \"version\": \"V3\"}"),
			 400);
	assert_int_equal(req(t, "PUT", "/mmds/config",
			     "{\"network_interfaces\": [\"eth0\"], \"version\": \"V2\", "
			     "\"ipv4_address\": \"169.254.170.2\", \"imds_compat\": true}"),
			 204);
	assert_int_equal(req(t, "GET", "/vm/config", NULL), 200);
	assert_non_null(strstr(t->out, "\"mmds-config\":{\"version\":\"V2\",\"network_interfaces\":"
				       "[\"eth0\"],\"ipv4_address\":\"169.254.170.2\","
				       "\"imds_compat\":true}"));
	assert_int_equal(req(t, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204);
	assert_int_equal(req(t, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(t->f.seen.mmds.version, CVMM_MMDS_V2);
	assert_int_equal(t->f.seen.mmds.net_mask, 1);
	assert_int_equal(t->f.seen.mmds.ipv4_addr, 0xa9feaa02);
	assert_true(t->f.seen.mmds.imds_compat);
	assert_int_equal(t->f.seen.mmds.size_limit, API_MAX_BODY);
	assert_string_equal(t->f.mmds_data, "{\"k\":\"v\"}");
	/* after the start: /mmds/config no more, the document still */
	assert_int_equal(req(t, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}"),
			 400);
	assert_int_equal(req(t, "PATCH", "/mmds", "{\"k\": {\"n\": \"w\"}}"), 204);
	assert_int_equal(t->f.mmds_puts, 1);
	assert_string_equal(t->f.mmds, "{\"k\":{\"n\":\"w\"}}");
}

static void test_limits_and_framing(void **state)
{
	struct t *t = *state;
	/* a body over the limit: 413 before it is read, connection closed */
	char big[256];
	snprintf(big, sizeof(big), "PUT /vsock HTTP/1.1\r\nContent-Length: %u\r\n\r\n{",
		 API_MAX_BODY + 1);
	t->outlen =
		api_handle_bytes(t->api, big, strlen(big), t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	assert_int_equal(strncmp(t->out, "HTTP/1.1 413 ", 13), 0);
	assert_true(t->closed);
	/* a chunked body over the limit */
	size_t n = API_MAX_BODY + 200;
	char *c = malloc(n + 256);
	if (!c) { /* (an assert alone leaves GCC thinking c may be NULL) */
		fail_msg("out of memory");
		return;
	}
	int h = sprintf(c, "PUT /vsock HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
			(size_t)API_MAX_BODY + 1);
	memset(c + h, ' ', (size_t)API_MAX_BODY + 1);
	strcpy(c + h + API_MAX_BODY + 1, "\r\n0\r\n\r\n");
	t->outlen = api_handle_bytes(t->api, c, strlen(c), t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	assert_int_equal(strncmp(t->out, "HTTP/1.1 413 ", 13), 0);
	assert_true(t->closed);
	/* headers over the limit */
	h = sprintf(c, "GET / HTTP/1.1\r\nX-Big: ");
	memset(c + h, 'a', API_MAX_HEADERS);
	strcpy(c + h + API_MAX_HEADERS, "\r\n\r\n");
	t->outlen = api_handle_bytes(t->api, c, strlen(c), t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	assert_int_equal(strncmp(t->out, "HTTP/1.1 431 ", 13), 0);
	assert_true(t->closed);
	free(c);
	/* not HTTP */
	const char *junk = "GARBAGE\r\n\r\n";
	t->outlen = api_handle_bytes(t->api, junk, strlen(junk), t->out, sizeof(t->out) - 1,
				     &t->closed);
	t->out[t->outlen] = '\0';
	assert_int_equal(strncmp(t->out, "HTTP/1.1 400 ", 13), 0);
	fault_has(t, "malformed HTTP request");
	assert_true(t->closed);
	/* three pipelined requests: three answers, in order, keep-alive */
	const char *pipe = "GET / HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
			   "PUT /vsock HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
	t->outlen = api_handle_bytes(t->api, pipe, strlen(pipe), t->out, sizeof(t->out) - 1,
				     &t->closed);
	t->out[t->outlen] = '\0';
	const char *a = strstr(t->out, "HTTP/1.1 200 "), *b = strstr(t->out, "HTTP/1.1 400 ");
	assert_true(a == t->out && b > a);
	assert_non_null(strstr(b + 1, "HTTP/1.1 400 "));
	assert_false(t->closed);
	/* Expect: 100-continue gets its interim answer before the final one */
	const char *ex = "PUT /vsock HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 34\r\n\r\n"
			 "{\"guest_cid\": 3, \"uds_path\": \"/v\"}";
	t->outlen =
		api_handle_bytes(t->api, ex, strlen(ex), t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	assert_int_equal(strncmp(t->out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 ", 38), 0);
	/* Connection: close is honoured */
	const char *cl = "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	t->outlen =
		api_handle_bytes(t->api, cl, strlen(cl), t->out, sizeof(t->out) - 1, &t->closed);
	t->out[t->outlen] = '\0';
	assert_true(t->closed);
	assert_non_null(strstr(t->out, "Connection: close"));
	assert_null(strstr(t->out + 1, "HTTP/1.1")); /* the second is not answered */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_firecracker_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drive_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patch_drive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patch_iface, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods_and_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balloon_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_file_flintlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
