/* SPDX-License-Identifier: MIT */
/* The soak (needs KVM): CYCLES create/run/destroy cycles of a micro-guest
 * in one process through libcvmm's public header, each VM with a disk and a
 * vsock device (so a blk and a vsock worker thread, their rings, eventfds,
 * the vsock listener and the disk's lock come and go every cycle). The
 * guest is mg-exit: its first instruction writes the debug exit port, so a
 * cycle is the VMM's own work. After WARMUP cycles the process's open
 * descriptors (/proc/self/fd) and RSS are taken; at the end the descriptors
 * must be exactly as many, the process back to its own two threads (main,
 * watchdog: a cycle stuck for 30 s is reported with every thread's kernel
 * stack, status 3), and RSS within
 * RSS_TOLERANCE_KB of the warm value (an allocation leaked on every cycle,
 * 1 KiB or more, shows past the tolerance over 1000 cycles; smaller noise,
 * glibc keeping freed memory in its arenas, does not).
 * DISK: "fresh" (default) gives each VM an image of its own (created, then
 * removed after its destroy); "same" gives every VM the same image, as an
 * embedder restarting its VM would (the image's lock must be gone when
 * cvmm_vm_destroy returns).
 * usage: soak MG_EXIT_ELF TMPDIR CYCLES [WARMUP [fresh|same]]
 * prints: SOAK <cycle> fds=N rss_kb=N threads=N every 100 cycles, then
 *   SOAK PASS|FAIL cycles=N fds=A->B threads=T rss_kb=A->B (+D, max M) secs=S
 * and exits 0 on PASS. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cvmm/cvmm.h"

#define RSS_TOLERANCE_KB 1024
/* Under ASan its quarantine keeps freed memory (RSS grows by design):
 * RSS is shown, not judged; LeakSanitizer judges the leaks at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_JUDGED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_JUDGED 0
#endif
#endif
#ifndef RSS_JUDGED
#define RSS_JUDGED 1
#endif
#define DEBUG_EXIT_CODE 67 /* mg-exit writes 0x21: (0x21 << 1) | 1 */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the one opendir holds */
}

/* A "Key:   N" line of /proc/self/status. */
static long status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A cycle that hangs says where: the phase, and each thread's state and
 * kernel stack, then the process ends (status 3). */
#define STALL_S 30
static _Atomic unsigned progress;
static const char *_Atomic phase = "start";
static _Atomic unsigned at_cycle;

static void dump_file(const char *path, const char *prefix)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "%s%s", prefix, line);
	fclose(f);
}

static void *watchdog(void *arg)
{
	(void)arg;
	unsigned seen = atomic_load(&progress), idle = 0;
	for (;;) {
		sleep(1);
		unsigned p = atomic_load(&progress);
		idle = p == seen ? idle + 1 : 0;
		seen = p;
		if (idle < STALL_S)
			continue;
		fprintf(stderr, "soak: cycle %u stuck in %s for %d s; threads:\n",
			atomic_load(&at_cycle), atomic_load(&phase), STALL_S);
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[300];
			snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
			dump_file(path, "  stat: ");
			snprintf(path, sizeof(path), "/proc/self/task/%s/stack", e->d_name);
			dump_file(path, "    ");
		}
		if (d)
			closedir(d);
		printf("SOAK FAIL cycle %u stuck in %s\n", atomic_load(&at_cycle),
		       atomic_load(&phase));
		fflush(stdout);
		_exit(3);
	}
	return NULL;
}

static void step(const char *what)
{
	atomic_store(&phase, what);
	atomic_fetch_add(&progress, 1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One VM from config to destroy; 0 when it ended through the debug exit. */
static int cycle(const char *kernel, const char *disk, const char *vsock, unsigned i)
{
	struct cvmm_config *cfg;
	struct cvmm_vm *vm;
	char err[256];
	if (cvmm_config_new(&cfg) < 0) {
		fprintf(stderr, "soak: cycle %u: out of memory\n", i);
		return -1;
	}
	int r = cvmm_config_set_kernel(cfg, kernel);
	if (!r)
		r = cvmm_config_set_memory(cfg, 16u << 20);
	if (!r)
		r = cvmm_config_set_debug_exit(cfg, 1);
	if (!r)
		r = cvmm_config_add_disk(cfg, disk, 0, 1);
	if (!r)
		r = cvmm_config_set_vsock(cfg, 3, vsock);
	if (r < 0) {
		fprintf(stderr, "soak: cycle %u: config: %s\n", i, cvmm_config_error(cfg));
		cvmm_config_free(cfg);
		return -1;
	}
	step("cvmm_vm_create");
	r = cvmm_vm_create(cfg, &vm, err, sizeof(err));
	cvmm_config_free(cfg);
	if (r < 0) {
		fprintf(stderr, "soak: cycle %u: create: %s\n", i, err);
		return -1;
	}
	struct cvmm_exit ex;
	memset(&ex, 0, sizeof(ex));
	step("cvmm_vm_start, cvmm_vm_wait");
	if (cvmm_vm_start(vm) < 0 || cvmm_vm_wait(vm, &ex) < 0) {
		fprintf(stderr, "soak: cycle %u: run: %s\n", i, cvmm_vm_error(vm));
		cvmm_vm_destroy(vm);
		return -1;
	}
	step("cvmm_vm_destroy");
	cvmm_vm_destroy(vm);
	step("between cycles");
	if (ex.reason != CVMM_EXIT_DEBUG || ex.code != DEBUG_EXIT_CODE) {
		fprintf(stderr, "soak: cycle %u: the guest ended otherwise (%d, code %d): %s\n", i,
			(int)ex.reason, ex.code, ex.message);
		return -1;
	}
	return 0;
}

static int make_disk(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		fprintf(stderr, "soak: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6 ||
	    (argc > 5 && strcmp(argv[5], "fresh") && strcmp(argv[5], "same"))) {
		fprintf(stderr, "usage: soak MG_EXIT_ELF TMPDIR CYCLES [WARMUP [fresh|same]]\n");
		return 2;
	}
	const char *kernel = argv[1], *tmp = argv[2];
	unsigned cycles = (unsigned)strtoul(argv[3], NULL, 10);
	unsigned warmup = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 20;
	bool same = argc > 5 && !strcmp(argv[5], "same");
	if (!cycles || warmup >= cycles) {
		fprintf(stderr, "soak: CYCLES must be more than WARMUP (%u)\n", warmup);
		return 2;
	}
	char disk[512], vsock[512];
	snprintf(vsock, sizeof(vsock), "%s/soak.vsock", tmp);
	double t0 = now_s();
	int fds0 = -1;
	long rss0 = -1, rss_max = 0;
	pthread_t wd;
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		fprintf(stderr, "soak: cannot start the watchdog\n");
		return 2;
	}
	pthread_detach(wd);
	for (unsigned i = 1; i <= cycles; i++) {
		atomic_store(&at_cycle, i);
		if (same)
			snprintf(disk, sizeof(disk), "%s/soak.img", tmp);
		else
			snprintf(disk, sizeof(disk), "%s/soak-%u.img", tmp, i);
		if ((!same || i == 1) && make_disk(disk) < 0)
			return 2;
		int r = cycle(kernel, disk, vsock, i);
		if (!same)
			unlink(disk);
		if (r < 0) {
			printf("SOAK FAIL cycles=%u: cycle %u failed (stderr says why)\n", cycles,
			       i);
			return 1;
		}
		long rss = status_field("VmRSS");
		if (i == warmup) {
			fds0 = count_fds();
			rss0 = rss;
		}
		if (i >= warmup && rss > rss_max)
			rss_max = rss;
		if (i % 100 == 0) {
			printf("SOAK %u fds=%d rss_kb=%ld threads=%ld\n", i, count_fds(), rss,
			       status_field("Threads"));
			fflush(stdout);
		}
	}
	int fds = count_fds();
	long rss = status_field("VmRSS"), threads = status_field("Threads");
	int ok = fds0 >= 0 && fds == fds0 && threads == 2 && rss0 > 0 && /* main, watchdog */
		 (!RSS_JUDGED || rss - rss0 <= RSS_TOLERANCE_KB);
	printf("SOAK %s cycles=%u fds=%d->%d threads=%ld rss_kb=%ld->%ld (%+ld, max %ld, %s %d) "
	       "secs=%.1f\n",
	       ok ? "PASS" : "FAIL", cycles, fds0, fds, threads, rss0, rss, rss - rss0, rss_max,
	       RSS_JUDGED ? "tolerance" : "not judged under ASan, tolerance", RSS_TOLERANCE_KB,
	       now_s() - t0);
	if (same)
		unlink(disk);
	return ok ? 0 : 1;
}
