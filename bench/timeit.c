/* SPDX-License-Identifier: MIT */
/* timeit: runs a command and prints what the benchmarks need, as one line:
 *   wall_us=W marker_us=M status=S maxrss_kb=R utime_us=U stime_us=T
 * marker_us is the time from exec to the first appearance of --marker STR
 * on the child's stdout (-1 if never). Built statically so that it runs in
 * the test host's initramfs.
 * With --copies N it starts N copies of the command at once (their output
 * goes to /dev/null) and prints, as one line, the time until the last one
 * exited, the worst exit status, and the sums of their peak RSS and CPU
 * times: copies=N wall_us=W status=S maxrss_kb=R utime_us=U stime_us=T
 * usage: timeit [--marker STR] [--quiet] [--copies N] -- COMMAND [ARGS...] */
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

static long long tv_us(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* N concurrent copies of argv[0..]: the VM creation rate of bench/run. */
static int copies(int n, char **argv)
{
	long long t0 = now_us();
	for (int k = 0; k < n; k++) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR);
			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
			}
			execvp(argv[0], argv);
			fprintf(stderr, "timeit: exec %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
	}
	long long rss = 0, ut = 0, st = 0;
	int worst = 0;
	for (int k = 0; k < n; k++) {
		int ws;
		struct rusage ru;
		if (wait4(-1, &ws, 0, &ru) < 0)
			return 2;
		int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		if (status != 0 && (worst == 0 || worst == 67))
			worst = status;
		rss += ru.ru_maxrss;
		ut += tv_us(ru.ru_utime);
		st += tv_us(ru.ru_stime);
	}
	printf("copies=%d wall_us=%lld status=%d maxrss_kb=%lld utime_us=%lld stime_us=%lld\n", n,
	       now_us() - t0, worst, rss, ut, st);
	return 0;
}

int main(int argc, char **argv)
{
	const char *marker = NULL;
	int quiet = 0, i = 1, ncopies = 0;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--marker") && i + 1 < argc)
			marker = argv[++i];
		else if (!strcmp(argv[i], "--copies") && i + 1 < argc)
			ncopies = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quiet"))
			quiet = 1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: timeit [--marker STR] [--quiet] [--copies N] -- COMMAND "
				"[ARGS...]\n");
		return 2;
	}
	if (ncopies > 0)
		return copies(ncopies, argv + i);
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
	char win[512] = {0}; /* sliding window to find the marker across reads */
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
