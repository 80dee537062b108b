/* SPDX-License-Identifier: MIT */
/* A stand-in for a jailed VMM (tests/cli/jailer.sh, jailer-cases.sh): run
 * by the jailer in its chroot, it prints what it can see of its jail with
 * system calls alone (there is no /proc in the jail): its arguments, ids,
 * capabilities, pid, limits, what its root holds, how many children its
 * cgroup lets it fork (`forks`: pids.max), how much memory it may touch
 * (`alloc`: memory.max). Then, with `wait` among its arguments, it waits
 * (up to 60 s) so that the test reads its /proc/PID/ files from outside
 * and kills it. Static: the jail holds nothing else. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

/* jailprobe --mounts-of PID (run on the host, as root): the mount
 * namespace of PID as a whole, seen from its root: /proc/PID/mountinfo
 * shows only what is beneath PID's root, which a chroot inside the
 * namespace would pass too; this enters the namespace (its root becomes
 * ours) and reads its own mountinfo there, through /proc opened before. */
static int mounts_of(const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", pid);
	int proc = open("/proc", O_PATH | O_DIRECTORY), ns = open(path, O_RDONLY);
	if (proc < 0 || ns < 0 || setns(ns, CLONE_NEWNS) < 0) {
		perror("jailprobe: setns");
		return 1;
	}
	int fd = openat(proc, "self/mountinfo", O_RDONLY);
	char buf[4096];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return fd < 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--mounts-of"))
		return mounts_of(argv[2]);
	bool wait_for = false, forks = false, alloc = false;
	printf("argv:");
	for (int i = 0; i < argc; i++) {
		printf(" %s", argv[i]);
		wait_for |= !strcmp(argv[i], "wait");
		forks |= !strcmp(argv[i], "forks");
		alloc |= !strcmp(argv[i], "alloc");
	}
	printf("\n");
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("uid: %u %u %u\ngid: %u %u %u\ngroups: %d\n", r, e, s, gr, ge, gs,
	       getgroups(0, NULL));
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};
	syscall(SYS_capget, &h, d);
	printf("capeff: %08x%08x\ncapprm: %08x%08x\n", d[1].effective, d[0].effective,
	       d[1].permitted, d[0].permitted);
	printf("pid: %d\n", (int)getpid());
	struct rlimit nofile, fsize;
	getrlimit(RLIMIT_NOFILE, &nofile);
	getrlimit(RLIMIT_FSIZE, &fsize);
	printf("nofile: %llu %llu\nfsize: %lld\n", (unsigned long long)nofile.rlim_cur,
	       (unsigned long long)nofile.rlim_max,
	       fsize.rlim_cur == RLIM_INFINITY ? -1LL : (long long)fsize.rlim_cur);
	char cwd[256];
	printf("cwd: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	printf("env: %s\n", environ && environ[0] ? environ[0] : "(empty)");
	printf("root:");
	DIR *dir = opendir("/");
	for (struct dirent *de; dir && (de = readdir(dir));)
		if (de->d_name[0] != '.')
			printf(" %s", de->d_name);
	printf("\ndev:");
	dir = opendir("/dev");
	for (struct dirent *de; dir && (de = readdir(dir));)
		if (de->d_name[0] != '.')
			printf(" %s", de->d_name);
	printf("\nproc: %s\n", access("/proc/self", F_OK) == 0 ? "yes" : "no");
	if (forks) {
		/* children until the cgroup's pids.max says no (at most 16) */
		pid_t kids[16];
		int n = 0;
		while (n < 16) {
			pid_t k = fork();
			if (k == 0) {
				pause();
				_exit(0);
			}
			if (k < 0)
				break;
			kids[n++] = k;
		}
		printf("forks: %d\n", n);
		for (int i = 0; i < n; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	if (alloc) {
		/* touches 64 MiB, 4 MiB at a time: a memory.max below that ends
		 * it (the OOM killer's SIGKILL) before "alloc: done" */
		for (int mib = 4; mib <= 64; mib += 4) {
			char *b = malloc(4 << 20);
			if (!b)
				break;
			memset(b, 1, 4 << 20);
			printf("alloc: %d MiB\n", mib);
			fflush(stdout);
		}
		printf("alloc: done\n");
	}
	printf("ready\n");
	fflush(stdout);
	if (wait_for) {
		/* a handler: PID 1 of a namespace ignores a default-action signal */
		signal(SIGALRM, on_alarm);
		alarm(60);
		for (;;)
			pause();
	}
	return 0;
}
