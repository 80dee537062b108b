/* SPDX-License-Identifier: MIT */
/* vsocktool: both ends of the virtio-vsock tests and benchmark, in the guest
 * (AF_VSOCK) and on the host (unix sockets, Firecracker's CONNECT protocol).
 *   vsocktool listen  ENDPOINT MODE [ARG] [COUNT]
 *   vsocktool connect ENDPOINT MODE [ARG] [COUNT]
 * ENDPOINT: vsock:PORT (listen) or vsock:CID:PORT (connect) in the guest;
 * unix:PATH, a plain unix stream socket; fc:PATH:PORT (connect only), cvmm's
 * (Firecracker's) host socket: "CONNECT PORT\n", then "OK <n>\n" expected.
 * MODE, on each connection:
 *   send N     write N bytes of the pattern, shut down writing, wait for EOF
 *   recv N     read to EOF; the bytes must be the pattern and N of them
 *   source N   (benchmarks) write N zero bytes, unchecked, then as send
 *   sink N     (benchmarks) read to EOF, unchecked; N bytes must arrive
 *   echo       write back what is read, until EOF
 *   hold S     read nothing for S seconds, then close
 *   rtt N      N round trips of 64 bytes against an echo peer; prints the mean
 *   raw TEXT   (unix: only) write TEXT (C escapes \n, \r, \0 honoured) and
 *              expect the peer to close without a byte: cvmm's answer to a
 *              bad CONNECT line
 *   refused    the connection must fail (connect error, reset, or EOF before
 *              "OK"); succeeds only then
 * COUNT (default 1): connections at once (connect) or to accept (listen),
 * one process each. Prints one line per connection; exits 0 when all did
 * what they were told. Every run ends within VSOCKTOOL_TIMEOUT seconds
 * (default 300). Static, so it runs in the busybox guest. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 8) * 3 ^ (i >> 16) * 7 ^ (i >> 24) * 11);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- the modes ---- */

static int do_send(int fd, uint64_t n, int id)
{
	static uint8_t buf[65536];
	double t0 = now();
	for (uint64_t off = 0; off < n;) {
		size_t k = n - off < sizeof(buf) ? (size_t)(n - off) : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = pat(off + i);
		if (write_all(fd, buf, k) < 0) {
			printf("VT %d SEND-FAILED at %llu: %s\n", id, (unsigned long long)off,
			       strerror(errno));
			return 1;
		}
		off += k;
	}
	shutdown(fd, SHUT_WR);
	char c;
	while (read(fd, &c, 1) > 0) {
	}
	double s = now() - t0;
	printf("VT %d SENT %llu in %.2fs (%.1f MiB/s)\n", id, (unsigned long long)n, s,
	       (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return 0;
}

static int do_recv(int fd, uint64_t n, int id)
{
	static uint8_t buf[65536];
	uint64_t off = 0;
	double t0 = now();
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			printf("VT %d RECV-FAILED at %llu: %s\n", id, (unsigned long long)off,
			       strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(off + (uint64_t)i)) {
				printf("VT %d RECV-BAD byte %llu\n", id,
				       (unsigned long long)(off + (uint64_t)i));
				return 1;
			}
		off += (uint64_t)r;
	}
	double s = now() - t0;
	if (off != n) {
		printf("VT %d RECV-SHORT %llu of %llu\n", id, (unsigned long long)off,
		       (unsigned long long)n);
		return 1;
	}
	printf("VT %d RECV-OK %llu in %.2fs (%.1f MiB/s)\n", id, (unsigned long long)n, s,
	       (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return 0;
}

static int do_source(int fd, uint64_t n, int id)
{
	static uint8_t buf[65536];
	double t0 = now();
	for (uint64_t off = 0; off < n;) {
		size_t k = n - off < sizeof(buf) ? (size_t)(n - off) : sizeof(buf);
		if (write_all(fd, buf, k) < 0) {
			printf("VT %d SOURCE-FAILED at %llu: %s\n", id, (unsigned long long)off,
			       strerror(errno));
			return 1;
		}
		off += k;
	}
	shutdown(fd, SHUT_WR);
	char c;
	while (read(fd, &c, 1) > 0) {
	}
	double s = now() - t0;
	printf("VT %d SOURCED %llu in %.2fs (%.1f MiB/s)\n", id, (unsigned long long)n, s,
	       (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return 0;
}

static int do_sink(int fd, uint64_t n, int id)
{
	static uint8_t buf[65536];
	uint64_t got = 0;
	double t0 = now();
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (got == 0)
			t0 = now(); /* from the first byte: connection set-up excluded */
		got += (uint64_t)r;
	}
	double s = now() - t0;
	printf("VT %d SANK %llu in %.2fs (%.1f MiB/s)\n", id, (unsigned long long)got, s,
	       (double)got / 1048576.0 / (s > 0 ? s : 1e-9));
	return got == n ? 0 : 1;
}

static int do_echo(int fd, int id)
{
	static uint8_t buf[65536];
	uint64_t total = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (write_all(fd, buf, (size_t)r) < 0)
			return 1;
		total += (uint64_t)r;
	}
	printf("VT %d ECHOED %llu\n", id, (unsigned long long)total);
	return 0;
}

static int do_rtt(int fd, uint64_t n, int id)
{
	uint8_t out[64], in[64];
	double t0 = now();
	for (uint64_t k = 0; k < n; k++) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = pat(k * 64 + i);
		if (write_all(fd, out, sizeof(out)) < 0 || read_all(fd, in, sizeof(in)) < 0 ||
		    memcmp(in, out, sizeof(in))) {
			printf("VT %d RTT-FAILED at %llu\n", id, (unsigned long long)k);
			return 1;
		}
	}
	printf("VT %d RTT %.1f us over %llu round trips\n", id, (now() - t0) * 1e6 / (double)n,
	       (unsigned long long)n);
	return 0;
}

/* ---- endpoints ---- */

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	strcpy(a->sun_path, path);
	return 0;
}

/* Connects; returns the fd, or -1 with errno (EPROTO: no "OK" line). */
static int open_conn(const char *ep)
{
	if (!strncmp(ep, "vsock:", 6)) {
		struct sockaddr_vm a = {.svm_family = AF_VSOCK};
		unsigned cid, port;
		if (sscanf(ep + 6, "%u:%u", &cid, &port) != 2)
			return errno = EINVAL, -1;
		a.svm_cid = cid;
		a.svm_port = port;
		int s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int er = errno;
			if (s >= 0)
				close(s);
			return errno = er, -1;
		}
		return s;
	}
	char path[256];
	unsigned port = 0;
	bool fc = !strncmp(ep, "fc:", 3);
	if (fc) {
		const char *colon = strrchr(ep + 3, ':');
		if (!colon || (size_t)(colon - ep - 3) >= sizeof(path))
			return errno = EINVAL, -1;
		memcpy(path, ep + 3, (size_t)(colon - ep - 3));
		path[colon - ep - 3] = 0;
		port = (unsigned)strtoul(colon + 1, NULL, 10);
	} else if (!strncmp(ep, "unix:", 5)) {
		snprintf(path, sizeof(path), "%s", ep + 5);
	} else {
		return errno = EINVAL, -1;
	}
	struct sockaddr_un a;
	if (unix_addr(path, &a) < 0)
		return errno = ENAMETOOLONG, -1;
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int er = errno;
		if (s >= 0)
			close(s);
		return errno = er, -1;
	}
	if (!fc)
		return s;
	char line[64];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write_all(s, line, (size_t)n) < 0) {
		close(s);
		return errno = EPROTO, -1;
	}
	/* "OK <port>\n", read a byte at a time: the stream follows it. */
	size_t k = 0;
	while (k < sizeof(line) - 1) {
		ssize_t r = read(s, line + k, 1);
		if (r <= 0) {
			close(s);
			return errno = r == 0 ? ECONNREFUSED : errno, -1;
		}
		if (line[k++] == '\n')
			break;
	}
	line[k] = 0;
	if (strncmp(line, "OK ", 3)) {
		close(s);
		return errno = EPROTO, -1;
	}
	return s;
}

static int open_listener(const char *ep)
{
	int s;
	if (!strncmp(ep, "vsock:", 6)) {
		struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY};
		a.svm_port = (unsigned)strtoul(ep + 6, NULL, 10);
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	} else if (!strncmp(ep, "unix:", 5)) {
		struct sockaddr_un a;
		if (unix_addr(ep + 5, &a) < 0)
			return -1;
		unlink(ep + 5);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	} else {
		return errno = EINVAL, -1;
	}
	if (listen(s, 128) < 0)
		return -1;
	return s;
}

static int run_mode(int fd, const char *mode, const char *arg, int id)
{
	uint64_t n = arg ? strtoull(arg, NULL, 10) : 0;
	if (!strcmp(mode, "send"))
		return do_send(fd, n, id);
	if (!strcmp(mode, "recv"))
		return do_recv(fd, n, id);
	if (!strcmp(mode, "echo"))
		return do_echo(fd, id);
	if (!strcmp(mode, "source"))
		return do_source(fd, n, id);
	if (!strcmp(mode, "sink"))
		return do_sink(fd, n, id);
	if (!strcmp(mode, "rtt"))
		return do_rtt(fd, n, id);
	if (!strcmp(mode, "hold")) {
		sleep((unsigned)n);
		printf("VT %d HELD %llu s\n", id, (unsigned long long)n);
		return 0;
	}
	fprintf(stderr, "vsocktool: unknown mode %s\n", mode);
	return 2;
}

static int wait_all(int count)
{
	int bad = 0, st;
	for (int i = 0; i < count; i++) {
		if (wait(&st) < 0)
			return 1;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: vsocktool listen|connect ENDPOINT MODE [ARG] [COUNT]\n");
		return 2;
	}
	const char *tmo = getenv("VSOCKTOOL_TIMEOUT");
	alarm(tmo ? (unsigned)atoi(tmo) : 300);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *ep = argv[2], *mode = argv[3];
	const char *arg = argc > 4 ? argv[4] : NULL;
	int count = argc > 5 ? atoi(argv[5]) : 1;
	if (count < 1)
		count = 1;
	if (!strcmp(argv[1], "connect")) {
		for (int i = 0; i < count; i++) {
			pid_t p = fork();
			if (p < 0)
				return 1;
			if (p)
				continue;
			int fd = open_conn(ep);
			if (!strcmp(mode, "raw")) {
				if (fd < 0) {
					printf("VT %d CONNECT-FAILED %s\n", i, strerror(errno));
					_exit(1);
				}
				char buf[512];
				size_t n = 0;
				for (const char *t = arg ? arg : ""; *t && n < sizeof(buf); t++) {
					char ch = *t;
					if (ch == '\\' && t[1]) {
						t++;
						ch = *t == 'n'	 ? '\n'
						     : *t == 'r' ? '\r'
						     : *t == '0' ? '\0'
								 : *t;
					}
					buf[n++] = ch;
				}
				if (write_all(fd, buf, n) < 0) {
					printf("VT %d RAW-CLOSED (on write)\n", i);
					_exit(0);
				}
				ssize_t r = read(fd, buf, sizeof(buf));
				if (r <= 0) {
					printf("VT %d RAW-CLOSED\n", i);
					_exit(0);
				}
				printf("VT %d RAW-ANSWERED %.*s\n", i, (int)r, buf);
				_exit(1);
			}
			if (!strcmp(mode, "refused")) {
				if (fd >= 0) {
					/* reset may come on first use */
					char c;
					ssize_t r = read(fd, &c, 1);
					if (r < 0 || r == 0) {
						printf("VT %d REFUSED-LATE %s\n", i,
						       r < 0 ? strerror(errno) : "eof");
						_exit(0);
					}
					printf("VT %d CONNECTED (wanted a refusal)\n", i);
					_exit(1);
				}
				printf("VT %d REFUSED %s\n", i, strerror(errno));
				_exit(0);
			}
			if (fd < 0) {
				printf("VT %d CONNECT-FAILED %s\n", i, strerror(errno));
				_exit(1);
			}
			_exit(run_mode(fd, mode, arg, i));
		}
		return wait_all(count);
	}
	if (!strcmp(argv[1], "listen")) {
		int l = open_listener(ep);
		if (l < 0) {
			printf("VT LISTEN-FAILED %s\n", strerror(errno));
			return 1;
		}
		printf("VT LISTENING %s\n", ep);
		for (int i = 0; i < count; i++) {
			int fd = accept(l, NULL, NULL);
			if (fd < 0) {
				printf("VT ACCEPT-FAILED %s\n", strerror(errno));
				return 1;
			}
			pid_t p = fork();
			if (p == 0) {
				close(l);
				_exit(run_mode(fd, mode, arg, i));
			}
			close(fd);
		}
		close(l);
		return wait_all(count);
	}
	return 2;
}
