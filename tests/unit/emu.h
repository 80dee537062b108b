/* SPDX-License-Identifier: MIT */
/* Cross builds run the unit tests under qemu-user, which has no io_uring
 * and no seccomp (both ENOSYS). Tests that need them skip there (exit 77);
 * they run for real on native builds and in the aarch64 test host. */
#ifndef CVMM_TEST_EMU_H
#define CVMM_TEST_EMU_H

#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void skip_without_uring(void)
{
	if (syscall(SYS_io_uring_setup, 0, NULL) < 0 && errno == ENOSYS) {
		fprintf(stderr, "no io_uring here (qemu-user?): skipped\n");
		exit(77);
	}
}

static inline void skip_without_seccomp(void)
{
	unsigned act = SECCOMP_RET_TRAP;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) < 0 && errno == ENOSYS) {
		fprintf(stderr, "no seccomp here (qemu-user?): skipped\n");
		exit(77);
	}
}

static void *emu_thread_probe(void *arg)
{
	return arg;
}

/* qemu-user with the dynamic aarch64 cross glibc spins forever in
 * pthread_create on these machines (deaf to its own alarm): probe in a
 * child, killed if it has not answered in 10 s. */
static inline void skip_without_threads(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t;
		void *ret = NULL;
		if (pthread_create(&t, NULL, emu_thread_probe, &ret) || pthread_join(t, &ret))
			_exit(1);
		_exit(ret == &ret ? 0 : 1);
	}
	int status = 0;
	pid_t got = 0;
	for (int i = 0; pid > 0 && i < 1000 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
		usleep(10000);
	if (pid > 0 && got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (pid < 0 || got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "threads do not start here (qemu-user?): skipped\n");
		exit(77);
	}
}

#endif
