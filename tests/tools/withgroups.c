/* SPDX-License-Identifier: MIT */
/* withgroups: runs a command with the supplementary groups given, so that a
 * test can check that cvmm --user drops them (the test's shell has none).
 * usage: withgroups GID[,GID...] COMMAND [ARG...] */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: withgroups GID[,GID...] COMMAND [ARG...]\n");
		return 2;
	}
	gid_t g[32];
	size_t n = 0;
	for (char *s = strtok(argv[1], ","); s && n < 32; s = strtok(NULL, ","))
		g[n++] = (gid_t)strtoul(s, NULL, 10);
	if (setgroups(n, g) < 0) {
		perror("withgroups: setgroups");
		return 125;
	}
	execvp(argv[2], argv + 2);
	perror("withgroups: exec");
	return 127;
}
