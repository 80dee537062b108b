/* SPDX-License-Identifier: MIT */
#include "core/thread.h"

#include <signal.h>

#include "core/jail.h" /* CVMM_SANITIZED */

int core_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int r = pthread_attr_init(&attr);
	if (r)
		return r;
#ifndef CVMM_SANITIZED
	r = pthread_attr_setstacksize(&attr, CORE_THREAD_STACK);
#endif
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!r)
		r = pthread_create(t, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return r;
}
