/* SPDX-License-Identifier: MIT */
#include "vmm/err.h"

#include <stdio.h>
#include <string.h>

static int err_vset(struct err *e, int errnum, const char *what,
		    const char *fmt, va_list ap)
{
	if (!e || e->code)
		return -errnum;
	e->code = -errnum;
	size_t off = 0;
	if (what) {
		int n = snprintf(e->msg, sizeof(e->msg), "%s: ", what);
		off = n < 0 ? 0 : (size_t)n;
		if (off >= sizeof(e->msg))
			off = sizeof(e->msg) - 1;
	}
	vsnprintf(e->msg + off, sizeof(e->msg) - off, fmt, ap);
	return -errnum;
}

int err_set(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(e, errnum, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int err_setp(struct err *e, int errnum, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(e, errnum, what, fmt, ap);
	va_end(ap);
	return r;
}
