/* SPDX-License-Identifier: MIT */
/* The VMM's own threads (vCPUs, queue workers, the snapshot memory thread). */
#ifndef CVMM_CORE_THREAD_H
#define CVMM_CORE_THREAD_H

#include <pthread.h>

/* A thread's stack: 1 MiB, under a transparent huge page (2 MiB), so that
 * a host that backs anonymous memory with huge pages never puts 2 MiB in
 * the VMM's RSS for a stack that uses a few KiB (glibc's default, 8 MiB,
 * takes one whenever its mapping happens to hold an aligned 2 MiB). The
 * largest frame is 19 KiB (gcc -fstack-usage, balloon_kick). Sanitizer builds
 * keep the default: ASan's frames are several times larger. */
#define CORE_THREAD_STACK (1u << 20)

/* pthread_create with that stack, the thread starting with every signal
 * blocked (process signals go to the embedder's threads, never to the
 * VMM's). 0, or pthread_create's error number. */
int core_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
