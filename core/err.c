/* SPDX-License-Identifier: MIT */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

static int err_vset(struct err *e, int errnum, const char *what, const char *fmt, va_list ap)
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

void err_shared_init(struct err_shared *s)
{
	pthread_mutex_init(&s->lock, NULL);
	err_clear(&s->e);
}

void err_shared_destroy(struct err_shared *s)
{
	pthread_mutex_destroy(&s->lock);
}

void err_shared_begin(struct err_shared *s)
{
	pthread_mutex_lock(&s->lock);
	err_clear(&s->e);
	pthread_mutex_unlock(&s->lock);
}

int err_shared_set(struct err_shared *s, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&s->lock);
	int r = err_vset(&s->e, errnum, NULL, fmt, ap);
	pthread_mutex_unlock(&s->lock);
	va_end(ap);
	return r;
}

int err_shared_put(struct err_shared *s, const struct err *e)
{
	pthread_mutex_lock(&s->lock);
	if (!s->e.code)
		s->e = *e;
	pthread_mutex_unlock(&s->lock);
	return e->code;
}

void err_shared_get(struct err_shared *s, struct err *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->e;
	pthread_mutex_unlock(&s->lock);
}
