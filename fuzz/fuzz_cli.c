/* SPDX-License-Identifier: MIT */
/* Fuzzes the command-line parser: the input is split on NUL bytes into argv. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *argv[65] = {"cvmm"};
	int argc = 1;
	for (size_t i = 0; i <= size && argc < 64;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	struct cli_opts o;
	char err[256];
	if (cli_parse(argc, argv, &o, err, sizeof(err)) == 0) {
		if (!o.help && !o.version && !o.print_jail && !o.kernel && !o.config &&
		    !o.api_socket && !o.fc.on && !o.restore.dir[0] && !o.merge)
			abort(); /* success with nothing to do is a parser bug */
		/* Firecracker's: a socket to serve, or a file to boot (both may be) */
		if (o.fc.on && !o.help && !o.version && !o.fc.api_sock && !o.fc.config_file)
			abort();
		if (o.fc.on && !o.help && !o.version && o.fc.no_api &&
		    (o.fc.api_sock || !o.fc.config_file))
			abort();
		if (o.cpus == 0 || o.memory == 0)
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		abort(); /* every failure has a message */
	}
	uint64_t v;
	(void)!cli_parse_size(buf, &v);
	free(buf);
	return 0;
}
