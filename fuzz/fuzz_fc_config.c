/* SPDX-License-Identifier: MIT */
/* Fuzzes Firecracker's --config-file (api_apply_config): the input is the
 * file, applied section by section as the API calls it stands for, then
 * InstanceStart on a fake VM. */
#include <json-c/json.h>
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

static int f_other(void *ctx, char *err, size_t len)
{
	(void)ctx;
	snprintf(err, len, "no");
	return -1;
}

static enum cvmm_vm_state f_state(void *ctx)
{
	return *(enum cvmm_vm_state *)ctx;
}

static const struct api_ops ops = {.start = f_start,
				   .pause = f_other,
				   .resume = f_other,
				   .shutdown = f_other,
				   .state = f_state};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 200000)
		return 0;
	/* The logger and metrics sections open (and create, and append to)
	 * any path they name: not with random input, maybe as root (the unit
	 * and socket tests cover them). Keys may be written with \u escapes,
	 * so they are taken out of the parsed object, which is then applied
	 * as text again; input that does not parse goes as it is. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	const char *apply = text;
	size_t len = size;
	struct json_object *o = json_tokener_parse(text);
	if (o && json_object_is_type(o, json_type_object)) {
		json_object_object_del(o, "logger");
		json_object_object_del(o, "metrics");
		apply = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		len = strlen(apply);
	} else if (o) {
		/* not an object: refused whatever it holds */
	} else if (strstr(text, "logger") || strstr(text, "metrics")) {
		/* json_whole might accept what json_tokener_parse did not */
		apply = "{";
		len = 1;
	}
	enum cvmm_vm_state st = CVMM_STATE_CREATED;
	struct api *a;
	if (api_new(&a, &ops, &st, -1, -1) == 0) {
		char err[700];
		int r = api_apply_config(a, apply, len, true, err, sizeof(err));
		/* an error always says why; a success started the fake VM */
		if (r < 0 && !err[0])
			abort();
		if (r == 0 && st != CVMM_STATE_RUNNING)
			abort();
		api_free(a);
	}
	json_object_put(o);
	free(text);
	return 0;
}
