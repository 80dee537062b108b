/* SPDX-License-Identifier: MIT */
/* timeit: runs a command and prints what the benchmarks need, as one line:
 *   wall_us=W marker_us=M status=S maxrss_kb=R utime_us=U stime_us=T
 * marker_us is the time from exec to the first appearance of --marker STR
 * on the child's stdout (-1 if never). Built statically so that it runs in
 * the test host's initramfs.
 * usage: timeit [--marker STR] [--quiet] -- COMMAND [ARGS...] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	const char *marker = NULL;
	int quiet = 0, i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--marker") && i + 1 < argc)
			marker = argv[++i];
		else if (!strcmp(argv[i], "--quiet"))
			quiet = 1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: timeit [--marker STR] [--quiet] -- COMMAND [ARGS...]\n");
		return 2;
	}
	int p[2];
	if (pipe(p) < 0)
		return 2;
	long long t0 = now_us();
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execvp(argv[i], argv + i);
		fprintf(stderr, "timeit: exec %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	long long marker_us = -1;
	size_t mlen = marker ? strlen(marker) : 0;
	char win[512] = { 0 }; /* sliding window to find the marker across reads */
	size_t wlen = 0;
	char buf[4096];
	ssize_t n;
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!quiet)
			fwrite(buf, 1, (size_t)n, stderr);
		if (marker && marker_us < 0 && mlen < sizeof(win) / 2) {
			for (ssize_t k = 0; k < n; k++) {
				if (wlen == sizeof(win) - 1) {
					memmove(win, win + wlen - mlen, mlen);
					wlen = mlen;
				}
				win[wlen++] = buf[k];
				win[wlen] = 0;
				if (wlen >= mlen && !memcmp(win + wlen - mlen, marker, mlen)) {
					marker_us = now_us() - t0;
					break;
				}
			}
		}
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0)
		return 2;
	long long wall = now_us() - t0;
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("wall_us=%lld marker_us=%lld status=%d maxrss_kb=%ld utime_us=%lld stime_us=%lld\n",
	       wall, marker_us, status, ru.ru_maxrss,
	       (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
	return 0;
}
