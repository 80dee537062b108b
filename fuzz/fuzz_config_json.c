/* SPDX-License-Identifier: MIT */
/* Fuzzes the --config JSON loader: the input is the file's bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/config_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	struct cvmm_config *cfg;
	if (cvmm_config_new(&cfg) < 0)
		return 0;
	char err[256];
	int r = cli_config_json(cfg, (const char *)data, size, err, sizeof(err));
	if (r > 0)
		abort();
	if (r < 0 && (!memchr(err, '\0', sizeof(err)) || strncmp(err, "config: ", 8)))
		abort(); /* every failure has a message naming the config */
	cvmm_config_free(cfg);
	return 0;
}
