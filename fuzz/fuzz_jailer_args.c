/* SPDX-License-Identifier: MIT */
/* Fuzzes the jailer's command line (vmm/cli/jailer/jailer_args.c): the
 * input is split on NUL bytes into argv. A plan it accepts must be one the
 * executor can follow as it is: the required flags there, an id the jail's
 * path may hold, a relative cgroup parent without "..", cgroup files that
 * are one name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/jailer/jailer_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No component of a relative path is empty, "." or "..". */
static int components_ok(const char *p)
{
	if (*p == '/' || !*p)
		return 0;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return 0;
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *argv[65] = {"jailer"};
	int argc = 1;
	for (size_t i = 0; i <= size && argc < 64;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	struct jailer_plan p;
	char err[256];
	if (jailer_parse(argc, argv, &p, err, sizeof(err)) == 0) {
		if (p.vmm_argc < 0 || p.vmm_argc > argc || (p.vmm_argc && !p.vmm_argv))
			abort();
		if (!p.help && !p.version) {
			if (!p.id || !p.exec_file || !p.exec_name || !p.chroot_base ||
			    !p.parent_cgroup)
				abort();
			if (!jailer_id_valid(p.id) || strchr(p.id, '/'))
				abort();
			if (!*p.exec_name || strchr(p.exec_name, '/') ||
			    !strcmp(p.exec_name, "..") || !strcmp(p.exec_name, "."))
				abort();
			if (!components_ok(p.parent_cgroup))
				abort();
			if (p.cgroup_version != 1 && p.cgroup_version != 2)
				abort();
			if (p.no_file == 0 || p.n_cgroups > JAILER_MAX_CGROUPS)
				abort();
			for (unsigned c = 0; c < p.n_cgroups; c++) {
				const struct jailer_cgroup *g = &p.cgroups[c];
				if (strchr(g->file, '/') || !g->controller_len ||
				    g->file[g->controller_len] != '.' || !g->value[0] ||
				    strchr(g->value, '\n'))
					abort();
			}
		}
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		abort(); /* every failure has a message */
	}
	free(buf);
	return 0;
}
