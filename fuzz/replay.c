/* SPDX-License-Identifier: MIT */
/* Replays inputs through a fuzz target without libFuzzer, so that the seed
 * corpus and every crash once found (fuzz/regress/<target>/) stay tests of
 * the unit suite. Each argument is a file or a directory of files (a
 * missing directory counts as empty); each file is one call of
 * LLVMFuzzerTestOneInput, in name order. A target reports a failure by
 * aborting. Exits 1 when no input was found at all (a wrong path). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole file into a buffer of exactly its size, so that a target
 * reading past the input trips ASan as under libFuzzer. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, f) != size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

/* Returns the number of files replayed, or -1. */
static int replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int count = 0;
	for (int i = 0; i < n; i++) {
		char file[4096];
		int len = snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		bool skip = names[i]->d_name[0] == '.';
		free(names[i]);
		if (skip)
			continue;
		if (len < 0 || (size_t)len >= sizeof(file) || stat(file, &st) < 0) {
			count = -1;
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (count >= 0)
			count = replay_file(file) < 0 ? -1 : count + 1;
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	int total = 0;
	for (int i = 1; i < argc; i++) {
		int n = replay_path(argv[i]);
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replay: %d inputs, no failure\n", total);
	return total > 0 ? 0 : 1;
}
