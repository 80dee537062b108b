/* SPDX-License-Identifier: MIT */
/* Error reporting: functions return 0 or a negative errno, and may leave a
 * one-line human-readable message in a caller-owned struct err. */
#ifndef CVMM_ERR_H
#define CVMM_ERR_H

#include <pthread.h>
#include <stdarg.h>

#define ERR_MSG_MAX 256

struct err {
	int code;	       /* negative errno of the first failure, or 0 */
	char msg[ERR_MSG_MAX]; /* message of the first failure, or "" */
};

/* Records the failure (only the first one sticks) and returns -errnum, so
 * that callers can write: return err_set(e, EINVAL, "bad %s", x);
 * e may be NULL. errnum must be positive. */
__attribute__((format(printf, 3, 4))) int err_set(struct err *e, int errnum, const char *fmt, ...);

/* Same as err_set, with the message prefixed by "what: ". */
__attribute__((format(printf, 4, 5))) int err_setp(struct err *e, int errnum, const char *what,
						   const char *fmt, ...);

static inline void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

/* An error other threads may write and read (a VM's: its vCPUs record why
 * the VM ended, the embedder's threads call the API). Each public call
 * starts it afresh (err_shared_begin) so that a message never outlives
 * the call that made it; every write is under the lock, and readers get a
 * copy, never the buffer a writer is filling. */
struct err_shared {
	pthread_mutex_t lock;
	struct err e; /* under lock */
};
void err_shared_init(struct err_shared *s);
void err_shared_destroy(struct err_shared *s);
void err_shared_begin(struct err_shared *s);
/* As err_set; only the first failure since err_shared_begin sticks. */
__attribute__((format(printf, 3, 4))) int err_shared_set(struct err_shared *s, int errnum,
							 const char *fmt, ...);
/* Publishes a failure recorded in a call's own struct err; returns its
 * code. */
int err_shared_put(struct err_shared *s, const struct err *e);
/* A copy of the current error. */
void err_shared_get(struct err_shared *s, struct err *out);

#endif
