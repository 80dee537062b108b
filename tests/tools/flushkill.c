/* SPDX-License-Identifier: MIT */
/* flushkill: many cvmm processes at once, each a micro-guest writing and
 * flushing its own disk (mg-bench's mg.case=flushlog prints "MGF i" once
 * block i was written and its FLUSH acknowledged), a random third of them
 * killed with SIGKILL while they write. Then every block a guest saw
 * flushed must be on its disk, whole; the VMs left alone must have run to
 * their end (all blocks flushed, MG DONE, cvmm's debug exit status 67).
 * The images are TMPDIR/fk-<k>.img, made (sparse) where missing: a caller
 * that wants them allocated and synced beforehand makes them itself.
 * usage: flushkill CVMM MG_BENCH_ELF TMPDIR NVMS BLOCKS [SEED [TIMEOUT_S]]
 * A VM that stopped (STALL_S: silent while it ran, or silent for long) is shown (threads, kernel
 * stacks, KVM's exit counters where debugfs is mounted) and killed: a failure, unless its guest is
 * stuck inside KVM itself (exits keep coming, none reaches cvmm). That, and guests that crash
 * (triple fault, cvmm's status 3), happen in the emulated test host (QEMU TCG, nested SVM) under
 * this load: a nested guest found resumed at the test host's own RIP (__svm_vcpu_run), looping on a
 * nested page fault or triple-faulting, while it only printed (no I/O of cvmm's in flight). Such a
 * VM is "lost": said, its flushed blocks still checked; more than a tenth lost fails the run, and
 * with FK_STRICT=1 (hardware KVM) any does. prints: FK FAIL vm=<k> <what> for each problem, FK LOST
 * vm=<k> ..., FK LAST <k> <block> for each VM (the last block it said was flushed, -1: none), then
 *   FK DONE vms=N killed=K lost=L flushed=F secs=S seed=X fail=M
 * and exits 0 when nothing failed.
 *   flushkill verify DIR < (those FK LAST lines)
 * checks the same of copies of the images in DIR (e.g. read from the disk
 * under a file system, not from the page cache): FK FAIL lines, then
 *   FK VERIFIED vms=N blocks=B fail=M */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	4096
#define MAX_VMS 256
/* A VM silent for STALL_S that meanwhile ran STALL_CPU_TICKS of CPU (its
 * threads' user and system time, in clock ticks: 2 s) has stopped: a
 * block takes far less. One that barely ran was starved by the host (50
 * VMs on two cores under nested emulation: a vCPU seen getting 30 ms in
 * 20 s), not stuck; it is given until STALL_MAX_S of silence, which also
 * catches a cvmm whose threads all wait for ever. */
#define STALL_S		20
#define STALL_CPU_TICKS 200
#define STALL_MAX_S	120
/* Word w of block i, as tests/microguest/mg_bench.c writes it. */
#define FLUSHLOG_WORD(i, w) (0x4d4746ull << 40 | (uint64_t)(i) << 12 | (uint64_t)(w))

struct vm {
	pid_t pid;
	int out;	/* read end of its console (stdout), -1 at EOF */
	char line[256]; /* the console line being read */
	size_t len;
	long long last;	  /* the last block it said was flushed, -1: none */
	bool done;	  /* MG DONE pass=1 fail=0 */
	bool victim;	  /* to be killed */
	long long after;  /* ... once it said this block was flushed */
	uint64_t kill_ns; /* ... at this time (0: not yet due) */
	bool killed;
	uint64_t seen_ns;   /* when its console last said something */
	long long seen_cpu; /* its CPU time then (clock ticks; -1: unknown) */
	bool spoke;	    /* its console has said anything at all */
	bool stalled;	    /* no progress for STALL_S: killed */
	bool lost;	    /* ... and lost inside KVM itself (see stuck) */
	int status;
	bool exited;
	char img[512];
};

static struct vm vms[MAX_VMS];
/* FK_STRICT=1 (tests/run sets it on hardware KVM): no VM may be lost */
static bool strict;
static unsigned nfail;
static uint64_t rng;

__attribute__((format(printf, 2, 3))) static void fail(unsigned k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("FK FAIL vm=%u %s\n", k, msg);
	fflush(stdout);
	nfail++;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static pid_t spawn(const char *cvmm, const char *mg, const char *tmp, unsigned k, long long blocks,
		   int *out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	char err[512], cmdline[128];
	snprintf(err, sizeof(err), "%s/fk-%u.err", tmp, k);
	snprintf(cmdline, sizeof(cmdline), "acpi=off mg.case=flushlog mg.n=%lld", blocks);
	pid_t pid = fork();
	if (pid == 0) {
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (e < 0 || in < 0 || dup2(p[1], 1) < 0 || dup2(e, 2) < 0 || dup2(in, 0) < 0)
			_exit(126);
		execl(cvmm, cvmm, "--debug-exit", "--transport", "mmio", "--kernel", mg, "--memory",
		      "16M", "--disk", vms[k].img, "--cmdline", cmdline, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*out = p[0];
	return pid;
}

/* A whole console line of VM k. */
static void line(unsigned k, const char *s)
{
	struct vm *v = &vms[k];
	long long i;
	if (sscanf(s, "MGF %lld", &i) == 1) {
		if (i != v->last + 1)
			fail(k, "said block %lld was flushed after block %lld", i, v->last);
		v->last = i;
		if (v->victim && !v->kill_ns && i >= v->after)
			v->kill_ns = now_ns() + xorshift() % 3000000; /* within 3 ms */
	} else if (!strncmp(s, "MG DONE pass=1 fail=0", 21)) {
		v->done = true;
	} else if (!strncmp(s, "MG FAIL", 7)) {
		fail(k, "guest: %s", s);
	}
}

/* A process's CPU time so far, user and system of all its threads, in
 * clock ticks (-1 when /proc cannot tell). */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	unsigned long long ut, st;
	/* after the name: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Its console said something: progress. */
static void seen(struct vm *v)
{
	v->seen_ns = now_ns();
	v->seen_cpu = cpu_ticks(v->pid);
}

/* Whether a VM silent since seen_ns has stopped (see STALL_S). */
static bool stalled(struct vm *v, uint64_t t)
{
	uint64_t silent = t - v->seen_ns;
	if (silent <= STALL_S * 1000000000ull)
		return false;
	if (silent > STALL_MAX_S * 1000000000ull)
		return true;
	/* Before its first word the CPU rule does not hold: inside the
	 * emulated test host a process's CPU time is charged by the test
	 * host's clock, which runs on while its QEMU is descheduled by a busy
	 * real host. Two VMs still faulting in their 16 MiB, one thread each,
	 * were charged 3 and 5 s of system time in 20 s that way. */
	if (!v->spoke)
		return false;
	long long c = cpu_ticks(v->pid);
	return c < 0 || v->seen_cpu < 0 || c - v->seen_cpu >= STALL_CPU_TICKS;
}

static void drain(unsigned k)
{
	struct vm *v = &vms[k];
	char buf[4096];
	ssize_t n = read(v->out, buf, sizeof(buf));
	if (n > 0) {
		v->spoke = true;
		seen(v);
	}
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		close(v->out);
		v->out = -1;
		return;
	}
	for (ssize_t j = 0; j < n; j++) {
		char c = buf[j];
		if (c == '\r')
			continue;
		if (c == '\n') {
			v->line[v->len] = 0;
			line(k, v->line);
			v->len = 0;
		} else if (v->len + 1 < sizeof(v->line)) {
			v->line[v->len++] = c;
		}
	}
}

/* Blocks 0..last of VM k's disk hold what the guest wrote. */
static void check_disk(unsigned k)
{
	struct vm *v = &vms[k];
	int fd = open(v->img, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail(k, "cannot open %s: %s", v->img, strerror(errno));
		return;
	}
	static uint64_t buf[BLOCK / 8];
	for (long long b = 0; b <= v->last; b++) {
		if (pread(fd, buf, BLOCK, (off_t)b * BLOCK) != BLOCK) {
			fail(k, "block %lld (said flushed) cannot be read back", b);
			break;
		}
		unsigned w = 0;
		while (w < BLOCK / 8 && buf[w] == FLUSHLOG_WORD(b, w))
			w++;
		if (w < BLOCK / 8) {
			fail(k,
			     "block %lld (said flushed, last said %lld%s) is not there: word %u "
			     "is 0x%016" PRIx64,
			     b, v->last, v->killed ? ", killed" : "", w, buf[w]);
			break;
		}
	}
	close(fd);
}

static void dump_file(const char *path, const char *prefix, int max)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[512];
	for (int i = 0; i < max && fgets(line, sizeof(line), f); i++)
		printf("%s%s", prefix, line);
	fclose(f);
}

/* KVM's own exit counters of VM k (debugfs, where mounted): all exits,
 * port I/O and MMIO ones (those reach cvmm). false: not available. */
static bool kvm_counts(unsigned k, uint64_t c[3])
{
	static const char *const names[] = {"exits", "io_exits", "mmio_exits"};
	char pre[32];
	snprintf(pre, sizeof(pre), "%d-", (int)vms[k].pid);
	DIR *d = opendir("/sys/kernel/debug/kvm");
	struct dirent *e;
	bool found = false;
	while (!found && d && (e = readdir(d))) {
		if (strncmp(e->d_name, pre, strlen(pre)))
			continue;
		found = true;
		for (unsigned i = 0; i < 3; i++) {
			char f[600];
			snprintf(f, sizeof(f), "/sys/kernel/debug/kvm/%s/%s", e->d_name, names[i]);
			FILE *sf = fopen(f, "re");
			unsigned long long v = 0;
			if (!sf || fscanf(sf, "%llu", &v) != 1)
				found = false;
			if (sf)
				fclose(sf);
			c[i] = v;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* A VM that stopped making progress: its threads' states and kernel
 * stacks, its stderr, KVM's exit counters over a second. Returns whether
 * the guest is lost inside the test host's KVM itself: exits keep coming
 * (over 1000 a second) and none reaches cvmm. (Seen in the emulated test
 * host, QEMU TCG with nested SVM: the nested guest resumed with the test
 * host's own RIP in __svm_vcpu_run and loops on a nested page fault; no
 * VMM can cause or end that.) */
static bool stuck(unsigned k, const char *tmp)
{
	char path[600];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)vms[k].pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)vms[k].pid, e->d_name);
		dump_file(path, "FK STUCK stat: ", 1);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)vms[k].pid,
			 e->d_name);
		dump_file(path, "FK STUCK syscall: ", 1);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", (int)vms[k].pid, e->d_name);
		dump_file(path, "FK STUCK     ", 12);
	}
	if (d)
		closedir(d);
	uint64_t c0[3], c1[3];
	bool counted = kvm_counts(k, c0);
	sleep(1);
	counted = counted && kvm_counts(k, c1);
	bool lost = false;
	if (counted) {
		printf("FK STUCK kvm: in 1 s exits +%llu, io_exits +%llu, mmio_exits +%llu\n",
		       (unsigned long long)(c1[0] - c0[0]), (unsigned long long)(c1[1] - c0[1]),
		       (unsigned long long)(c1[2] - c0[2]));
		lost = c1[0] - c0[0] > 1000 && c1[1] == c0[1] && c1[2] == c0[2];
	}
	snprintf(path, sizeof(path), "%s/fk-%u.err", tmp, k);
	dump_file(path, "FK STUCK stderr: ", 20);
	printf("FK STUCK console: %.*s\n", (int)vms[k].len, vms[k].line);
	fflush(stdout);
	return lost;
}

/* flushkill verify DIR: the FK LAST lines on stdin, the images in DIR. */
static int verify(const char *dir)
{
	char line[256];
	unsigned n = 0;
	long long blocks = 0;
	while (fgets(line, sizeof(line), stdin)) {
		unsigned k;
		long long last;
		if (sscanf(line, "FK LAST %u %lld", &k, &last) != 2 || k >= MAX_VMS)
			continue;
		struct vm *v = &vms[k];
		v->last = last;
		snprintf(v->img, sizeof(v->img), "%s/fk-%u.img", dir, k);
		check_disk(k);
		n++;
		blocks += last + 1;
	}
	printf("FK VERIFIED vms=%u blocks=%lld fail=%u\n", n, blocks, nfail);
	return nfail || !n ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "verify"))
		return verify(argv[2]);
	if (argc < 6 || argc > 8) {
		fprintf(stderr, "usage: flushkill CVMM MG_BENCH_ELF TMPDIR NVMS BLOCKS [SEED "
				"[TIMEOUT_S]]\n");
		return 2;
	}
	const char *cvmm = argv[1], *mg = argv[2], *tmp = argv[3];
	unsigned n = (unsigned)atoi(argv[4]);
	long long blocks = atoll(argv[5]);
	rng = argc > 6 ? strtoull(argv[6], NULL, 0) : (uint64_t)time(NULL);
	uint64_t seed = rng;
	int timeout_s = argc > 7 ? atoi(argv[7]) : 300;
	if (!n || n > MAX_VMS || blocks < 4 || !rng) {
		fprintf(stderr, "flushkill: 1..%d VMs, at least 4 blocks, a nonzero seed\n",
			MAX_VMS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	strict = getenv("FK_STRICT") && !strcmp(getenv("FK_STRICT"), "1");
	uint64_t t0 = now_ns();
	for (unsigned k = 0; k < n; k++) {
		struct vm *v = &vms[k];
		v->last = -1;
		v->out = -1;
		snprintf(v->img, sizeof(v->img), "%s/fk-%u.img", tmp, k);
		int fd = open(v->img, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 ||
		    (st.st_size < (off_t)blocks * BLOCK &&
		     ftruncate(fd, (off_t)blocks * BLOCK) < 0)) {
			fprintf(stderr, "flushkill: %s: %s\n", v->img, strerror(errno));
			return 2;
		}
		close(fd);
	}
	/* the victims: a third, chosen at random; each killed within 3 ms
	 * of saying some block in its first half was flushed */
	unsigned order[MAX_VMS], nkill = n / 3;
	for (unsigned k = 0; k < n; k++)
		order[k] = k;
	for (unsigned k = 0; k < nkill; k++) {
		unsigned j = k + (unsigned)(xorshift() % (n - k));
		unsigned t = order[k];
		order[k] = order[j];
		order[j] = t;
		vms[order[k]].victim = true;
		vms[order[k]].after = (long long)(xorshift() % (uint64_t)(blocks / 2));
	}
	for (unsigned k = 0; k < n; k++) {
		vms[k].pid = spawn(cvmm, mg, tmp, k, blocks, &vms[k].out);
		seen(&vms[k]);
		if (vms[k].pid < 0) {
			fprintf(stderr, "flushkill: cannot start cvmm: %s\n", strerror(errno));
			return 2;
		}
	}
	uint64_t deadline = t0 + (uint64_t)timeout_s * 1000000000ull;
	for (;;) {
		struct pollfd pf[MAX_VMS];
		unsigned idx[MAX_VMS], np = 0;
		uint64_t t = now_ns(), next = t + 1000000000ull;
		for (unsigned k = 0; k < n; k++) {
			struct vm *v = &vms[k];
			if (v->kill_ns && !v->killed) {
				if (v->kill_ns <= t) {
					kill(v->pid, SIGKILL);
					v->killed = true;
				} else if (v->kill_ns < next) {
					next = v->kill_ns;
				}
			}
			if (v->out >= 0 && !v->killed && !v->stalled && stalled(v, t)) {
				v->stalled = true;
				v->lost = stuck(k, tmp) && !strict;
				if (v->lost)
					printf("FK LOST vm=%u: silent over %d s, its guest stuck "
					       "inside "
					       "KVM (exits, none reaching cvmm); killed, its "
					       "flushed "
					       "blocks still checked\n",
					       k, STALL_S);
				else
					fail(k, "silent for %llu s (last flushed %lld): killed",
					     (unsigned long long)((t - v->seen_ns) / 1000000000ull),
					     v->last);
				kill(v->pid, SIGKILL);
			}
			if (v->out >= 0) {
				pf[np] = (struct pollfd){.fd = v->out, .events = POLLIN};
				idx[np++] = k;
			}
		}
		if (!np)
			break;
		if (t > deadline) {
			for (unsigned k = 0; k < n; k++)
				if (vms[k].out >= 0) {
					fail(k,
					     "still running after %d s (last flushed %lld): killed",
					     timeout_s, vms[k].last);
					(void)stuck(k, tmp);
				}
			for (unsigned k = 0; k < n; k++)
				kill(vms[k].pid, SIGKILL);
			break;
		}
		int ms = (int)((next - t + 999999) / 1000000);
		if (poll(pf, np, ms) < 0 && errno != EINTR)
			return 2;
		for (unsigned j = 0; j < np; j++)
			if (pf[j].revents)
				drain(idx[j]);
	}
	unsigned killed = 0, lost = 0;
	long long flushed = 0;
	for (unsigned k = 0; k < n; k++) {
		struct vm *v = &vms[k];
		if (v->out >= 0) { /* the deadline: read what is left */
			while (v->out >= 0)
				drain(k);
		}
		if (waitpid(v->pid, &v->status, 0) != v->pid) {
			fail(k, "waitpid: %s", strerror(errno));
			continue;
		}
		bool sigkilled = WIFSIGNALED(v->status) && WTERMSIG(v->status) == SIGKILL;
		if (v->killed && sigkilled) {
			killed++;
		} else if (v->stalled) {
			lost += v->lost; /* said above; its blocks are checked below */
		} else if (!WIFEXITED(v->status) || WEXITSTATUS(v->status) != 67) {
			bool crashed = WIFEXITED(v->status) && WEXITSTATUS(v->status) == 3;
			if (crashed && !strict) {
				lost++;
				printf("FK LOST vm=%u: its guest crashed (cvmm exit status 3): "
				       "its flushed blocks still checked\n",
				       k);
			} else {
				fail(k, "cvmm ended with status 0x%x, wanted the debug exit (67)",
				     v->status);
			}
			char path[600];
			snprintf(path, sizeof(path), "%s/fk-%u.err", tmp, k);
			dump_file(path, "FK STDERR: ", 10);
			printf("FK CONSOLE: %.*s\n", (int)v->len, v->line);
		} else if (!v->done || v->last != blocks - 1) {
			fail(k, "ran to its end but said %lld of %lld blocks flushed%s",
			     v->last + 1, blocks, v->done ? "" : ", no MG DONE");
		}
		flushed += v->last + 1;
		check_disk(k);
		printf("FK LAST %u %lld\n", k, v->last);
	}
	if (lost > n / 10)
		fail(n, "%u VMs lost (stuck inside KVM or crashed): more than a tenth", lost);
	printf("FK DONE vms=%u killed=%u lost=%u flushed=%lld secs=%.1f seed=0x%" PRIx64
	       " fail=%u\n",
	       n, killed, lost, flushed, (double)(now_ns() - t0) / 1e9, seed, nfail);
	return nfail ? 1 : 0;
}
