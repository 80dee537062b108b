/* SPDX-License-Identifier: MIT */
/* Error reporting: functions return 0 or a negative errno, and may leave a
 * one-line human-readable message in a caller-owned struct err. */
#ifndef CVMM_ERR_H
#define CVMM_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 256

struct err {
	int code;               /* negative errno of the first failure, or 0 */
	char msg[ERR_MSG_MAX];  /* message of the first failure, or "" */
};

/* Records the failure (only the first one sticks) and returns -errnum, so
 * that callers can write: return err_set(e, EINVAL, "bad %s", x);
 * e may be NULL. errnum must be positive. */
__attribute__((format(printf, 3, 4))) int err_set(struct err *e, int errnum,
						   const char *fmt, ...);

/* Same as err_set, with the message prefixed by "what: ". */
__attribute__((format(printf, 4, 5))) int err_setp(struct err *e, int errnum,
						    const char *what,
						    const char *fmt, ...);

static inline void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

#endif
