/* SPDX-License-Identifier: MIT */
/* ptyconsole: runs cvmm on a real pseudo-terminal, as a user at a terminal
 * does, and checks the README's console promises (tests/linux/cases.sh,
 * mg-console-tty). The guest must echo its console input (mg-check
 * mg.echo=1) and print "MG ECHO" once it does.
 *   ptyconsole CVMM ARGS...
 * 1. the terminal starts cooked (the pty's defaults: ICANON, ECHO, OPOST);
 * 2. once the guest echoes, the terminal must be raw (no ICANON, ECHO,
 *    OPOST, ICRNL);
 * 3. "a", Ctrl-A c, "b", Ctrl-A Ctrl-A, "z" typed: the guest must echo
 *    exactly a 0x03 b 0x01 z (Ctrl-A c is a Ctrl-C for the guest, Ctrl-A
 *    Ctrl-A one Ctrl-A; neither escape reaches it otherwise);
 * 4. Ctrl-A x: cvmm must end, with status 0;
 * 5. the terminal must be as it was before (restored on exit).
 * Prints "PTY <check> ok|FAIL ..." per check; exits 0 when all passed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char out[1 << 16]; /* everything the terminal showed */
static size_t nout;

/* Reads from the master until NEEDLE (len bytes) is in the output after
 * FROM, or SECS pass; returns its offset or -1. */
static long wait_for(int m, size_t from, const char *needle, size_t len, int secs)
{
	time_t end = time(NULL) + secs;
	for (;;) {
		if (nout >= from + len) {
			void *p = memmem(out + from, nout - from, needle, len);
			if (p)
				return (char *)p - out;
		}
		int left = (int)(end - time(NULL));
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = m, .events = POLLIN};
		if (poll(&p, 1, left * 1000) <= 0)
			return -1;
		ssize_t k = read(m, out + nout, sizeof(out) - 1 - nout);
		if (k <= 0)
			return -1;
		nout += (size_t)k;
	}
}

static bool is_raw(const struct termios *t)
{
	return !(t->c_lflag & (ICANON | ECHO)) && !(t->c_oflag & OPOST) && !(t->c_iflag & ICRNL);
}

static bool same(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

static int fails;
static void verdict(const char *what, bool good, const char *why)
{
	printf("PTY %s %s%s%s\n", what, good ? "ok" : "FAIL", good ? "" : ": ", good ? "" : why);
	fflush(stdout);
	if (!good)
		fails++;
}

static void put(int m, const char *s, size_t n)
{
	if (write(m, s, n) != (ssize_t)n)
		perror("ptyconsole: write");
	usleep(200000); /* one escape at a time, as typed */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ptyconsole CVMM ARGS...\n");
		return 2;
	}
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0) /* no /dev/ptmx node (the test host): the one of /dev/pts */
		m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		perror("ptyconsole: posix_openpt");
		return 2;
	}
	const char *sname = ptsname(m);
	int s = sname ? open(sname, O_RDWR | O_NOCTTY) : -1;
	if (s < 0) {
		perror("ptyconsole: open the pty");
		return 2;
	}
	struct termios before, during, after;
	if (tcgetattr(s, &before) < 0) {
		perror("ptyconsole: tcgetattr");
		return 2;
	}
	verdict("cooked-before", !is_raw(&before) && (before.c_lflag & ICANON),
		"the pty did not start cooked");
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		/* the pty is the child's controlling terminal: Ctrl-C there is SIGINT */
		setsid();
		ioctl(s, TIOCSCTTY, 0);
		dup2(s, 0);
		dup2(s, 1);
		close(m);
		if (s > 1)
			close(s);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	int st = -1;
	long at = wait_for(m, 0, "MG ECHO", 7, 60);
	verdict("guest-echoes", at >= 0, "no MG ECHO from the guest");
	if (at >= 0) {
		tcgetattr(s, &during);
		verdict("raw-while-running", is_raw(&during),
			"the terminal is not raw while cvmm runs");
		size_t from = (size_t)at + 7;
		put(m, "a", 1);
		put(m, "\001c", 2);
		put(m, "b", 1);
		put(m, "\001\001", 2);
		put(m, "z", 1);
		long e = wait_for(m, from, "a\003b\001z", 5, 20);
		char why[200];
		snprintf(why, sizeof(why),
			 "the guest did not echo a 0x03 b 0x01 z (%zu bytes after MG ECHO)",
			 nout - from);
		verdict("ctrl-a-c-and-ctrl-a-ctrl-a", e >= 0, why);
		put(m, "\001x", 2);
	}
	/* Ctrl-A x: cvmm ends within 20 s (else it is killed) */
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		st = -1;
		char b[4096];
		struct pollfd p = {.fd = m, .events = POLLIN};
		if (poll(&p, 1, 100) > 0 && read(m, b, sizeof(b)) < 0 && errno != EIO)
			break;
	}
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		verdict("ctrl-a-x-quits", false, "cvmm still ran 20 s after Ctrl-A x");
	} else {
		char why[80];
		snprintf(why, sizeof(why), "cvmm ended with status %d, signal %d, wanted status 0",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		verdict("ctrl-a-x-quits", WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
	}
	tcgetattr(s, &after);
	verdict("restored-after", same(&before, &after),
		"the terminal's settings differ from before");
	printf("PTY DONE fails=%d\n", fails);
	return fails ? 1 : 0;
}
