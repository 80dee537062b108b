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
#include <sys/syscall.h>
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

#endif
