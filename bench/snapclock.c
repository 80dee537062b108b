/* SPDX-License-Identifier: MIT */
/* snapclock: the clocks of bench/snapshot, run inside the test host (built
 * statically). Times are CLOCK_MONOTONIC microseconds; each mode prints one
 * line of KEY=VALUE fields (-1: never happened).
 *
 *   snapclock http SOCK METHOD PATH [BODY]
 *       one HTTP request on the unix socket SOCK: status=S us=T
 *   snapclock restore [--api SOCK --load BODY] [--vsock UDS:PORT] [--marker STR]
 *                     -- COMMAND...
 *       starts COMMAND (its stdout: the guest's console; its stderr: cvmm's
 *       log) and, with --api, sends PUT /snapshot/load BODY as soon as SOCK
 *       answers. t0 is that request (else the fork). Prints
 *       api_us (the request's answer), start_us (cvmm's "restore:" log
 *       line: vCPUs started), out_us (STR first on the console), vsock_us
 *       (a connection to the guest's listener on PORT through cvmm's vsock
 *       socket UDS answered with a byte), then kills COMMAND. cvmm's
 *       "restore:" line (the split) is copied to stdout.
 *   snapclock clones N UDSFMT:PORT|out:FILEFMT -- COMMAND...
 *       N copies of COMMAND at once, "%d" in its arguments and in UDSFMT
 *       replaced by the copy's number (1..N); prints first_us and all_us
 *       (until the first / the last answered on vsock, or with out: wrote
 *       GUEST-TICK to its stdout, the file FILEFMT), then kills them.
 *   snapclock hmp SOCK CMD...
 *       QEMU's human monitor on SOCK: each CMD in turn; prints us=T (all of
 *       them). "migrate-wait" polls `info migrate` until it completes.
 *   snapclock uffd SOCK
 *       a page fault handler, Firecracker's protocol (docs/snapshot-memory.md):
 *       accepts one connection on SOCK, receives the JSON region list and
 *       the userfaultfd; serves each fault with UFFDIO_COPY from the memory
 *       file named by $SNAPCLOCK_MEM, until the VMM hangs up. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_US (180LL * 1000000)

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int unix_connect(const char *path)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
		return s;
	if (s >= 0)
		close(s);
	return -1;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* one request; returns the HTTP status (or -1) */
static int http(const char *sock, const char *method, const char *path, const char *body)
{
	int s = -1;
	for (int i = 0; i < 2000 && (s = unix_connect(sock)) < 0; i++)
		usleep(5000);
	if (s < 0)
		return -1;
	char req[8192];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, path, body ? strlen(body) : 0, body ? body : "");
	write_all(s, req, (size_t)n);
	char rsp[4096];
	ssize_t r = read(s, rsp, sizeof(rsp) - 1);
	close(s);
	int status = -1;
	if (r > 0) {
		rsp[r] = 0;
		sscanf(rsp, "HTTP/1.%*d %d", &status);
		if (status >= 300)
			fprintf(stderr, "snapclock: %s %s: %s\n", method, path, rsp);
	}
	return status;
}

/* a vsock connection through cvmm's unix socket answered with a byte */
static bool vsock_answers(const char *uds, int port)
{
	int s = unix_connect(uds);
	if (s < 0)
		return false;
	struct timeval tv = {5, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "CONNECT %d\n", port);
	write_all(s, buf, (size_t)n);
	/* "OK <port>\n", then the listener's first byte */
	size_t got = 0;
	bool ok = false;
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(s, buf + got, 1);
		if (r <= 0)
			break;
		if (buf[got++] == '\n') {
			ok = !strncmp(buf, "OK", 2);
			break;
		}
	}
	if (ok)
		ok = read(s, buf, 1) == 1;
	close(s);
	return ok;
}

static bool file_has(const char *path, const char *str)
{
	static __thread char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, str) != NULL;
}

struct vwait {
	const char *uds; /* or the console's file (port -1) */
	int port;
	long long deadline;
	atomic_llong at;
};

static void *vsock_wait(void *arg)
{
	struct vwait *w = arg;
	while (now_us() < w->deadline) {
		if (w->port < 0 ? file_has(w->uds, "GUEST-TICK") : vsock_answers(w->uds, w->port)) {
			atomic_store(&w->at, now_us());
			return NULL;
		}
		usleep(2000);
	}
	return NULL;
}

static pid_t spawn(char **argv, int out, int err)
{
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(out >= 0 ? out : nul, 1);
		dup2(err >= 0 ? err : nul, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int restore(int argc, char **argv)
{
	const char *api = NULL, *load = NULL, *vs = NULL, *marker = NULL;
	int i = 0;
	for (; i < argc && strcmp(argv[i], "--"); i += 2) {
		if (i + 1 >= argc)
			return 2;
		if (!strcmp(argv[i], "--api"))
			api = argv[i + 1];
		else if (!strcmp(argv[i], "--load"))
			load = argv[i + 1];
		else if (!strcmp(argv[i], "--vsock"))
			vs = argv[i + 1];
		else if (!strcmp(argv[i], "--marker"))
			marker = argv[i + 1];
		else
			return 2;
	}
	if (i >= argc - 1)
		return 2;
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return 1;
	long long t0 = now_us();
	pid_t pid = spawn(argv + i + 1, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	long long api_us = -1, start_us = -1, out_us = -1;
	int status = 0;
	if (api) {
		for (int k = 0; k < 2000 && access(api, F_OK); k++)
			usleep(1000);
		t0 = now_us();
		status = http(api, "PUT", "/snapshot/load", load);
		api_us = now_us() - t0;
	}
	struct vwait w = {.deadline = t0 + TIMEOUT_US, .at = -1};
	pthread_t th;
	char uds[256];
	if (vs) {
		snprintf(uds, sizeof(uds), "%s", vs);
		char *c = strrchr(uds, ':');
		if (!c)
			return 2;
		*c = 0;
		w.uds = uds;
		w.port = atoi(c + 1);
		pthread_create(&th, NULL, vsock_wait, &w);
	}
	/* the console and the log, line by line; bounded buffers */
	char ob[65536] = "", eb[65536] = "", split[512] = "";
	size_t on = 0, en = 0;
	bool oopen = true, eopen = true;
	while ((oopen || eopen) && now_us() < t0 + TIMEOUT_US) {
		/* cvmm logs "restore:" before the guest can print (QEMU never) */
		if ((marker ? out_us >= 0 : start_us >= 0) && (!vs || atomic_load(&w.at) >= 0))
			break;
		struct pollfd p[2] = {{oopen ? po[0] : -1, POLLIN, 0},
				      {eopen ? pe[0] : -1, POLLIN, 0}};
		if (poll(p, 2, 5) < 0 && errno != EINTR)
			break;
		long long t = now_us();
		if (p[0].revents) {
			ssize_t r = read(po[0], ob + on, sizeof(ob) - 1 - on);
			if (r <= 0)
				oopen = false;
			else {
				on += (size_t)r;
				ob[on] = 0;
				if (marker && out_us < 0 && strstr(ob, marker))
					out_us = t - t0;
				if (on > sizeof(ob) / 2) { /* keep the tail */
					memmove(ob, ob + on - 256, 256);
					on = 256;
				}
			}
		}
		if (p[1].revents) {
			ssize_t r = read(pe[0], eb + en, sizeof(eb) - 1 - en);
			if (r <= 0)
				eopen = false;
			else {
				en += (size_t)r;
				eb[en] = 0;
				char *l = strstr(eb, "restore: ");
				if (start_us < 0 && l && strchr(l, '\n')) {
					start_us = t - t0;
					snprintf(split, sizeof(split), "%.*s",
						 (int)(strchr(l, '\n') - l), l);
				}
				if (en > sizeof(eb) / 2) {
					fprintf(stderr, "%s", eb);
					en = 0;
				}
			}
		}
	}
	if (vs) {
		if (!oopen || !eopen) /* the VMM is gone: don't wait for it */
			w.deadline = 0;
		pthread_join(th, NULL);
	}
	long long vat = atomic_load(&w.at);
	int st = -1;
	if (waitpid(pid, &st, WNOHANG) == pid)
		fprintf(stderr, "snapclock: the command exited (%d): %s\n", st,
			en > 2000 ? eb + en - 2000 : eb);
	if (marker && out_us < 0) /* why: what the VMM said */
		fprintf(stderr, "snapclock: no '%s'; console: '%s'; log: '%s'\n", marker,
			on > 500 ? ob + on - 500 : ob, en > 1500 ? eb + en - 1500 : eb);
	reap(pid);
	printf("api_status=%d api_us=%lld start_us=%lld out_us=%lld vsock_us=%lld\n", status,
	       api_us, start_us, out_us, vat >= 0 ? vat - t0 : -1);
	if (split[0])
		printf("%s\n", split);
	return 0;
}

static char *subst(const char *fmt, int k)
{
	char *out = malloc(strlen(fmt) + 16);
	const char *p = strstr(fmt, "%d");
	if (!p)
		strcpy(out, fmt);
	else
		sprintf(out, "%.*s%d%s", (int)(p - fmt), fmt, k, p + 2);
	return out;
}

static int clones(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--"))
		return 2;
	int n = atoi(argv[0]);
	char *fmt = argv[1], *c = strrchr(fmt, ':');
	if (n < 1 || n > 256 || !c)
		return 2;
	int port = -1;
	if (!strncmp(fmt, "out:", 4))
		fmt += 4;
	else {
		port = atoi(c + 1);
		*c = 0;
	}
	int cargc = argc - 3;
	pid_t *pids = calloc((size_t)n, sizeof(pid_t));
	struct vwait *w = calloc((size_t)n, sizeof(*w));
	pthread_t *th = calloc((size_t)n, sizeof(pthread_t));
	long long t0 = now_us();
	for (int k = 0; k < n; k++) {
		char **a = calloc((size_t)cargc + 1, sizeof(char *));
		for (int j = 0; j < cargc; j++)
			a[j] = subst(argv[3 + j], k + 1);
		int out = -1;
		if (port < 0)
			out = open(subst(fmt, k + 1), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				   0644);
		pids[k] = spawn(a, out, -1);
		if (out >= 0)
			close(out);
	}
	for (int k = 0; k < n; k++) {
		w[k] = (struct vwait){.uds = subst(fmt, k + 1),
				      .port = port,
				      .deadline = t0 + TIMEOUT_US,
				      .at = -1};
		pthread_create(&th[k], NULL, vsock_wait, &w[k]);
	}
	long long first = -1, last = -1;
	int answered = 0;
	for (int k = 0; k < n; k++) {
		pthread_join(th[k], NULL);
		long long at = atomic_load(&w[k].at);
		if (at < 0)
			continue;
		answered++;
		if (first < 0 || at < first)
			first = at;
		if (at > last)
			last = at;
	}
	for (int k = 0; k < n; k++)
		reap(pids[k]);
	printf("clones=%d answered=%d first_us=%lld all_us=%lld\n", n, answered,
	       first >= 0 ? first - t0 : -1, answered == n ? last - t0 : -1);
	return 0;
}

/* reads the monitor until its prompt; returns what came before it */
static char *hmp_read(int s)
{
	static char buf[65536];
	size_t n = 0;
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(s, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		if (n >= 7 && strstr(buf, "(qemu) "))
			break;
	}
	buf[n] = 0;
	return buf;
}

static int hmp(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int s = -1;
	for (int i = 0; i < 2000 && (s = unix_connect(argv[0])) < 0; i++)
		usleep(5000);
	if (s < 0)
		return 1;
	hmp_read(s);
	long long t0 = now_us();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "migrate-wait")) {
			for (;;) {
				write_all(s, "info migrate\n", 13);
				char *o = hmp_read(s);
				if (strstr(o, "completed"))
					break;
				if (strstr(o, "failed") || strstr(o, "cancelled") || !o[0]) {
					fprintf(stderr, "snapclock: migration: %s\n", o);
					return 1;
				}
				usleep(2000);
			}
			continue;
		}
		write_all(s, argv[i], strlen(argv[i]));
		write_all(s, "\n", 1);
		char *o = hmp_read(s);
		/* the echo of the command, then its output (if any) */
		char *nl = strchr(o, '\n');
		if (nl && nl[1] && strncmp(nl + 1, "(qemu)", 6) && strstr(nl + 1, "rror"))
			fprintf(stderr, "snapclock: %s: %s\n", argv[i], nl + 1);
	}
	printf("us=%lld\n", now_us() - t0);
	close(s);
	return 0;
}

/* the numeric value of "KEY": in the JSON text from p on */
static unsigned long long jnum(const char *p, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *q = strstr(p, k);
	return q ? strtoull(q + strlen(k), NULL, 10) : 0;
}

static int uffd_serve(int argc, char **argv)
{
	const char *memf = getenv("SNAPCLOCK_MEM");
	if (argc < 1 || !memf)
		return 2;
	int mfd = open(memf, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (mfd < 0 || fstat(mfd, &st))
		return perror(memf), 1;
	uint8_t *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (mem == MAP_FAILED)
		return perror("mmap"), 1;
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[0]);
	unlink(argv[0]);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		return perror(argv[0]), 1;
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return perror("accept"), 1;
	static char json[65536];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {json, sizeof(json) - 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(s, &msg, 0);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS)
		return fprintf(stderr, "snapclock uffd: no handshake\n"), 1;
	json[n] = 0;
	int uffd;
	memcpy(&uffd, CMSG_DATA(c), sizeof(int));
	struct {
		unsigned long long base, size, off;
	} reg[16];
	int nr = 0;
	for (char *p = strchr(json, '{'); p && nr < 16; p = strchr(p + 1, '{')) {
		reg[nr].base = jnum(p, "base_host_virt_addr");
		reg[nr].size = jnum(p, "size");
		reg[nr].off = jnum(p, "offset");
		nr++;
	}
	long faults = 0;
	for (;;) {
		struct pollfd p[2] = {{uffd, POLLIN, 0}, {s, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break; /* the VMM hung up */
		if (!p[0].revents)
			continue;
		struct uffd_msg m;
		ssize_t r = read(uffd, &m, sizeof(m));
		if (r != sizeof(m)) {
			if (r < 0 && errno == EAGAIN)
				continue;
			break;
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long long addr = m.arg.pagefault.address & ~4095ULL;
		for (int i = 0; i < nr; i++) {
			if (addr < reg[i].base || addr >= reg[i].base + reg[i].size)
				continue;
			unsigned long long off = reg[i].off + (addr - reg[i].base);
			struct uffdio_copy cp = {.dst = addr,
						 .src = (unsigned long long)(uintptr_t)(mem + off),
						 .len = 4096};
			if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
				fprintf(stderr, "snapclock uffd: UFFDIO_COPY %llx: %s\n", addr,
					strerror(errno));
			faults++;
			break;
		}
	}
	fprintf(stderr, "snapclock uffd: %ld faults served\n", faults);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "http")) {
		long long t0 = now_us();
		int st = http(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : NULL);
		printf("status=%d us=%lld\n", st, now_us() - t0);
		return st >= 200 && st < 300 ? 0 : 1;
	}
	if (argc >= 2 && !strcmp(argv[1], "restore"))
		return restore(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "clones"))
		return clones(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "hmp"))
		return hmp(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "uffd"))
		return uffd_serve(argc - 2, argv + 2);
	fprintf(stderr, "usage: snapclock http|restore|clones|hmp|uffd ...\n");
	return 2;
}
