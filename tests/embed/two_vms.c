/* SPDX-License-Identifier: MIT */
/* libcvmm embedded twice in one process (needs KVM): two micro-guests
 * (mg-check in its echo mode, each with its own console file and kick
 * signal) run at once; one is paused while the other keeps running, input
 * reaches each guest only, both power off on their own; a third is paused
 * and then stopped. Each has its own VM generation ID, and a new one
 * replaces A's only. Also every error path of the VM calls.
 * usage: two_vms MG_CHECK_ELF TMPDIR
 * prints: EMBED PASS|FAIL <check> [detail], then EMBED DONE pass=N fail=M;
 * exits 0 when nothing failed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cvmm/cvmm.h"

static unsigned npass, nfail;

__attribute__((format(printf, 3, 4))) static void check(int ok, const char *name, const char *fmt,
							...)
{
	char detail[256] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	printf("EMBED %s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail[0] ? " " : "", detail);
	fflush(stdout);
	if (ok)
		npass++;
	else
		nfail++;
}

static void msleep(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether the file holds s. */
static int file_has(const char *path, const char *s)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

static int wait_for(const char *path, const char *s, unsigned secs)
{
	for (unsigned i = 0; i < secs * 20; i++) {
		if (file_has(path, s))
			return 1;
		msleep(50);
	}
	return 0;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

static uint64_t exits(struct cvmm_vm *vm)
{
	struct cvmm_stats st;
	return cvmm_vm_stats(vm, &st) < 0 ? 0 : st.exits_total;
}

static int feed(struct cvmm_vm *vm, const char *s)
{
	size_t len = strlen(s), done = 0;
	for (int tries = 0; done < len && tries < 1000; tries++) {
		int n = cvmm_vm_console_input(vm, s + done, len - done);
		if (n < 0)
			return n;
		done += (size_t)n;
		if (done < len)
			msleep(10);
	}
	return done == len ? 0 : -EAGAIN;
}

static struct cvmm_vm *make_vm(const char *kernel, const char *console, int kick)
{
	struct cvmm_config *cfg;
	struct cvmm_vm *vm = NULL;
	char err[256];
	if (cvmm_config_new(&cfg) < 0)
		return NULL;
	int r = cvmm_config_set_kernel(cfg, kernel);
	if (!r)
		r = cvmm_config_set_memory(cfg, 64u << 20);
	if (!r)
		r = cvmm_config_set_cmdline(cfg, "mg.cpus=1 mg.mem=64M mg.echo=1");
	if (!r)
		r = cvmm_config_set_console_file(cfg, console);
	if (!r)
		r = cvmm_config_set_kick_signal(cfg, kick);
	if (r < 0)
		check(0, "config", "%s", cvmm_config_error(cfg));
	else if ((r = cvmm_vm_create(cfg, &vm, err, sizeof(err))) < 0)
		check(0, "create", "%s: %s", console, err);
	cvmm_config_free(cfg);
	return vm;
}

static void config_errors(const char *tmp)
{
	struct cvmm_config *cfg;
	char err[256], path[512];
	struct cvmm_vm *vm = (struct cvmm_vm *)1;
	if (cvmm_config_new(&cfg) < 0) {
		check(0, "config-new", NULL);
		return;
	}
	check(cvmm_config_set_cpus(cfg, 0) == -EINVAL && *cvmm_config_error(cfg), "err-cpus", "%s",
	      cvmm_config_error(cfg));
	check(cvmm_config_set_memory(cfg, 4096) == -EINVAL, "err-memory", "%s",
	      cvmm_config_error(cfg));
	check(cvmm_config_set_kick_signal(cfg, SIGINT) == -EINVAL, "err-kick-signal", "%s",
	      cvmm_config_error(cfg));
	check(cvmm_config_set_console_file(cfg, "") == -EINVAL, "err-console-file", "%s",
	      cvmm_config_error(cfg));
	check(cvmm_config_set_console(cfg, -7, 1) == -EBADF, "err-console-fd", "%s",
	      cvmm_config_error(cfg));
	check(cvmm_config_set_cpus(cfg, 1) == 0 && !*cvmm_config_error(cfg), "err-cleared", NULL);
	int r = cvmm_vm_create(cfg, &vm, err, sizeof(err));
	check(r == -EINVAL && !vm && strstr(err, "no kernel"), "err-create-no-kernel", "%d %s", r,
	      err);
	snprintf(path, sizeof(path), "%s/no-such-kernel", tmp);
	r = cvmm_config_set_kernel(cfg, path);
	r = r ? r : cvmm_vm_create(cfg, &vm, err, sizeof(err));
	check(r == -ENOENT && !vm, "err-create-bad-kernel", "%d %s", r, err);
	cvmm_config_free(cfg);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MG_CHECK_ELF TMPDIR\n", argv[0]);
		return 2;
	}
	const char *kernel = argv[1], *tmp = argv[2];
	char ca[512], cb[512], cc[512], bad[512];
	snprintf(ca, sizeof(ca), "%s/embed-a.console", tmp);
	snprintf(cb, sizeof(cb), "%s/embed-b.console", tmp);
	snprintf(cc, sizeof(cc), "%s/embed-c.console", tmp);
	snprintf(bad, sizeof(bad), "%s/no-such-dir/console", tmp);
	unlink(ca);
	unlink(cb);
	unlink(cc);
	config_errors(tmp);

	/* A console file that cannot be opened fails the build, not the run. */
	struct cvmm_config *cfg;
	struct cvmm_vm *vm = NULL;
	char err[256] = "";
	if (cvmm_config_new(&cfg) == 0) {
		int r = cvmm_config_set_kernel(cfg, kernel);
		r = r ? r : cvmm_config_set_console_file(cfg, bad);
		r = r ? r : cvmm_vm_create(cfg, &vm, err, sizeof(err));
		check(r == -ENOENT && !vm && strstr(err, "console file"), "err-console-open",
		      "%d %s", r, err);
		cvmm_config_free(cfg);
	}

	struct cvmm_vm *a = make_vm(kernel, ca, 0);
	struct cvmm_vm *b = make_vm(kernel, cb, SIGRTMIN + 5);
	if (!a || !b) {
		printf("EMBED DONE pass=%u fail=%u\n", npass, nfail + 1);
		return 1;
	}
	struct cvmm_exit ex;
	check(cvmm_vm_state(a) == CVMM_STATE_CREATED, "state-created", NULL);
	check(cvmm_vm_pause(a) == -EINVAL && *cvmm_vm_error(a), "err-pause-unstarted", "%s",
	      cvmm_vm_error(a));
	/* each call's own message, not the first one forever */
	check(cvmm_vm_resume(a) == -EINVAL && !strcmp(cvmm_vm_error(a), "VM is not paused"),
	      "err-fresh-per-call", "%s", cvmm_vm_error(a));
	check(cvmm_vm_request_shutdown(a) == -EINVAL, "err-shutdown-unstarted", NULL);
	check(cvmm_vm_send_ctrl_alt_del(a) == -EINVAL, "err-ctrl-alt-del-unstarted", NULL);
	check(cvmm_vm_wait(a, &ex) == -EINVAL, "err-wait-unstarted", NULL);
	/* The VM generation ID: random, one per VM, from cvmm_vm_create on */
	uint8_t ga[16], gb[16], g0[16] = {0};
	int rga = cvmm_vm_generation_id(a, ga), rgb = cvmm_vm_generation_id(b, gb);
	check(rga == 0 && rgb == 0 && memcmp(ga, g0, 16) && memcmp(gb, g0, 16) &&
		      memcmp(ga, gb, 16),
	      "generation-id-per-vm", "%d %d", rga, rgb);
	check(cvmm_vm_new_generation_id(a) == -EINVAL, "err-generation-id-unstarted", NULL);
	check(cvmm_vm_start(a) == 0 && cvmm_vm_start(b) == 0, "start-both", NULL);
	check(cvmm_vm_start(a) == -EALREADY, "err-start-twice", NULL);
	int ready = wait_for(ca, "MG ECHO", 60) && wait_for(cb, "MG ECHO", 60);
	check(ready, "both-booted", NULL);
	check(cvmm_vm_state(a) == CVMM_STATE_RUNNING, "state-running", NULL);
	check(cvmm_vm_resume(a) == -EINVAL, "err-resume-running", NULL);

	/* Pause A: its vCPU stops exiting, B's goes on; input waits. */
	check(cvmm_vm_pause(a) == 0, "pause", NULL);
	check(cvmm_vm_pause(a) == -EALREADY, "err-pause-twice", NULL);
	check(cvmm_vm_state(a) == CVMM_STATE_PAUSED, "state-paused", NULL);
	uint64_t a0 = exits(a), b0 = exits(b);
	check(feed(a, "alpha") == 0, "feed-paused", NULL);
	msleep(500);
	uint64_t a1 = exits(a), b1 = exits(b);
	check(a1 == a0, "paused-no-exits", "%llu -> %llu", (unsigned long long)a0,
	      (unsigned long long)a1);
	check(b1 > b0, "other-vm-runs", "%llu -> %llu", (unsigned long long)b0,
	      (unsigned long long)b1);
	check(!file_has(ca, "alpha"), "paused-no-echo", NULL);
	check(cvmm_vm_resume(a) == 0 && !*cvmm_vm_error(a), "resume", "%s", cvmm_vm_error(a));
	check(wait_for(ca, "alpha", 30), "resumed-echo", NULL);
	check(exits(a) > a1, "resumed-exits", NULL);
	check(feed(b, "bravo") == 0 && wait_for(cb, "bravo", 30), "echo-b", NULL);

	/* A new generation ID (as a restore makes): A's changes, B's not */
	uint8_t ga2[16], gb2[16];
	int rn = cvmm_vm_new_generation_id(a);
	check(rn == 0 && cvmm_vm_generation_id(a, ga2) == 0 && cvmm_vm_generation_id(b, gb2) == 0 &&
		      memcmp(ga, ga2, 16) && memcmp(ga2, g0, 16) && !memcmp(gb, gb2, 16),
	      "generation-id-new", "%d %s", rn, cvmm_vm_error(a));

	/* The power button: mg-check has no ACPI event handler, so this only
	 * checks the call and its counter. */
	struct cvmm_stats st;
	check(cvmm_vm_request_shutdown(a) == 0 && cvmm_vm_stats(a, &st) == 0 &&
		      st.shutdown_requests == 1,
	      "shutdown-request", NULL);
	/* Ctrl-Alt-Del: mg-check does not read its keyboard, so the i8042's
	 * 16 bytes take four and refuse the fifth (tests/linux/api-cases.sh:
	 * Linux reboots on it) */
#ifdef __x86_64__
	int cad = 0;
	for (int i = 0; i < 4; i++)
		cad |= cvmm_vm_send_ctrl_alt_del(a);
	check(cad == 0 && cvmm_vm_send_ctrl_alt_del(a) == -ENOSPC &&
		      strstr(cvmm_vm_error(a), "buffer is full"),
	      "ctrl-alt-del", "%d %s", cad, cvmm_vm_error(a));
#else
	check(cvmm_vm_send_ctrl_alt_del(a) == -EOPNOTSUPP, "ctrl-alt-del-none", NULL);
#endif

	check(feed(a, "q") == 0 && feed(b, "q") == 0, "feed-quit", NULL);
	int ra = cvmm_vm_wait(a, &ex);
	check(ra == 0 && ex.reason == CVMM_EXIT_POWEROFF, "a-poweroff", "%d reason %d %s", ra,
	      ex.reason, ex.message);
	int rb = cvmm_vm_wait(b, &ex);
	check(rb == 0 && ex.reason == CVMM_EXIT_POWEROFF, "b-poweroff", "%d reason %d %s", rb,
	      ex.reason, ex.message);
	check(file_has(ca, "MG DONE") && file_has(ca, "fail=0") && file_has(cb, "MG DONE") &&
		      file_has(cb, "fail=0"),
	      "both-checks-passed", NULL);
	check(!file_has(ca, "bravo") && !file_has(cb, "alpha"), "consoles-separate", NULL);
	/* (arguments are evaluated in no set order: fetch first) */
	int rs = cvmm_vm_stats(a, &st);
	long fsize = file_size(ca);
	check(rs == 0 && st.exits_total > 0 && st.vcpus == 1 &&
		      st.vcpu_exits[0] == st.exits_total && st.uptime_ns > 0 &&
		      (long)st.console_tx_bytes == fsize,
	      "stats", "exits %llu tx %llu file %ld", (unsigned long long)st.exits_total,
	      (unsigned long long)st.console_tx_bytes, fsize);
	/* the exits by kind (the micro-guest writes its UART by port or MMIO;
	 * every one of them an exit stats counted) and its devices (none) */
	struct cvmm_vcpu_metrics vcm;
	struct cvmm_device_metrics dm[2];
	int rv = cvmm_vm_vcpu_metrics(a, &vcm), nd = cvmm_vm_device_metrics(a, dm, 2);
	uint64_t kinds =
		vcm.exit_io_in + vcm.exit_io_out + vcm.exit_mmio_read + vcm.exit_mmio_write;
	check(rv == 0 && nd == 0 && vcm.exit_io_out + vcm.exit_mmio_write > 0 && kinds > 0 &&
		      kinds <= st.exits_total,
	      "vcpu-metrics",
	      "io in %llu out %llu, mmio read %llu write %llu, of %llu exits, %d devices",
	      (unsigned long long)vcm.exit_io_in, (unsigned long long)vcm.exit_io_out,
	      (unsigned long long)vcm.exit_mmio_read, (unsigned long long)vcm.exit_mmio_write,
	      (unsigned long long)st.exits_total, nd);
	check(cvmm_vm_state(a) == CVMM_STATE_EXITED, "state-exited", NULL);
	check(cvmm_vm_pause(a) == -ESHUTDOWN, "err-pause-exited", NULL);
	check(cvmm_vm_request_shutdown(a) == -ESHUTDOWN, "err-shutdown-exited", NULL);
	check(cvmm_vm_send_ctrl_alt_del(a) == -ESHUTDOWN, "err-ctrl-alt-del-exited", NULL);
	check(cvmm_vm_new_generation_id(a) == -ESHUTDOWN, "err-generation-id-exited", NULL);
	cvmm_vm_destroy(a);
	cvmm_vm_destroy(b);

	/* A paused VM can be stopped: parked vCPUs leave. */
	struct cvmm_vm *c = make_vm(kernel, cc, 0);
	if (c) {
		check(cvmm_vm_start(c) == 0 && wait_for(cc, "MG ECHO", 60), "c-booted", NULL);
		check(cvmm_vm_pause(c) == 0, "c-pause", NULL);
		cvmm_vm_stop(c);
		int rc = cvmm_vm_wait(c, &ex);
		check(rc == 0 && ex.reason == CVMM_EXIT_STOPPED, "stop-while-paused",
		      "%d reason %d", rc, ex.reason);
		cvmm_vm_destroy(c);
	}
	printf("EMBED DONE pass=%u fail=%u\n", npass, nfail);
	return nfail ? 1 : 0;
}
