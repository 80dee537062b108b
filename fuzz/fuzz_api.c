/* SPDX-License-Identifier: MIT */
/* Fuzzes the control socket's request handling: the input is the bytes one
 * connection sends (HTTP requests with JSON bodies), served with a fake VM
 * that starts, pauses and resumes on request. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int f_start(void *ctx, struct cvmm_config *cfg, char *err, size_t len)
{
	(void)err;
	(void)len;
	if (!cfg || !cvmm_config_error(cfg))
		abort();
	*(enum cvmm_vm_state *)ctx = CVMM_STATE_RUNNING;
	return 0;
}

static int f_pause(void *ctx, char *err, size_t len)
{
	snprintf(err, len, "paused");
	*(enum cvmm_vm_state *)ctx = CVMM_STATE_PAUSED;
	return 0;
}

static int f_resume(void *ctx, char *err, size_t len)
{
	snprintf(err, len, "resumed");
	*(enum cvmm_vm_state *)ctx = CVMM_STATE_RUNNING;
	return 0;
}

static int f_shutdown(void *ctx, char *err, size_t len)
{
	(void)ctx;
	snprintf(err, len, "no");
	return -1;
}

static enum cvmm_vm_state f_state(void *ctx)
{
	return *(enum cvmm_vm_state *)ctx;
}

/* PATCH /drives: the index is one of the drives PUT (at most CVMM_MAX_DISKS); a path
 * starting with '!' is one the VM cannot open */
static int f_update_disk(void *ctx, unsigned index, const char *path, char *err, size_t len)
{
	(void)ctx;
	if (index >= CVMM_MAX_DISKS || !path || !path[0])
		abort();
	snprintf(err, len, "cannot open disk");
	return path[0] == '!' ? -2 : 0;
}

/* PATCH /drives, /network-interfaces: a device PUT before, limiters that
 * passed the parser's bounds */
static int f_set_limiter(void *ctx, int kind, unsigned index, const struct cvmm_rate_limiter *rx,
			 const struct cvmm_rate_limiter *tx, char *err, size_t len)
{
	(void)ctx;
	(void)err;
	(void)len;
	if ((kind == CVMM_DEVICE_DISK && (index >= CVMM_MAX_DISKS || tx)) ||
	    (kind == CVMM_DEVICE_NET && (index >= CVMM_MAX_NETS || !tx)) || !rx ||
	    rx->bandwidth.size > (1ULL << 62) || rx->ops.refill_time_ms > 1000000000000ULL)
		abort();
	return 0;
}

static const struct api_ops ops = {.start = f_start,
				   .pause = f_pause,
				   .resume = f_resume,
				   .shutdown = f_shutdown,
				   .state = f_state,
				   .update_disk = f_update_disk,
				   .set_limiter = f_set_limiter};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 16];
	if (size > 200000)
		return 0;
	/* PUT /logger and PUT /metrics open (and create, and append to) any path
	 * they are given: not here, where the input is random and the fuzzer may
	 * run as root (tests/unit/test_api.c and tests/cli/api_socket.sh cover
	 * them). Paths are matched as sent (no percent-decoding), so these
	 * bytes are in every request that reaches them. */
	if (memmem(data, size, "/logger", 7) || memmem(data, size, "/metrics", 8))
		return 0;
	enum cvmm_vm_state st = CVMM_STATE_CREATED;
	struct api *a;
	if (api_new(&a, &ops, &st, -1, -1) < 0)
		return 0;
	bool closed;
	size_t n = api_handle_bytes(a, (const char *)data, size, out, sizeof(out), &closed);
	if (n > sizeof(out))
		abort();
	/* every answer is an HTTP/1.1 response */
	if (n && (n < 12 || memcmp(out, "HTTP/1.1 ", 9)))
		abort();
	api_free(a);
	return 0;
}
