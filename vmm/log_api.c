/* SPDX-License-Identifier: MIT */
/* The public face of the log (core/log.c): the embedder's, and the CLI's,
 * way to say where libcvmm's messages go. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"
#include "cvmm/cvmm.h"

#define API __attribute__((visibility("default")))

_Static_assert(CVMM_LOG_OFF == LOG_LEVEL_OFF && CVMM_LOG_ERROR == LOG_LEVEL_ERROR &&
		       CVMM_LOG_WARN == LOG_LEVEL_WARN && CVMM_LOG_INFO == LOG_LEVEL_INFO &&
		       CVMM_LOG_DEBUG == LOG_LEVEL_DEBUG && CVMM_LOG_TRACE == LOG_LEVEL_TRACE,
	       "the public levels are the log's");
_Static_assert(CVMM_LOG_SHOW_LEVEL == LOG_SHOW_LEVEL && CVMM_LOG_SHOW_ORIGIN == LOG_SHOW_ORIGIN,
	       "the public options are the log's");

API int cvmm_log_set_level(int level)
{
	if (level < CVMM_LOG_OFF || level > CVMM_LOG_TRACE)
		return -EINVAL;
	return (int)log_set_level((enum log_level)level);
}

API int cvmm_log_set_options(unsigned flags)
{
	if (flags & ~(CVMM_LOG_SHOW_LEVEL | CVMM_LOG_SHOW_ORIGIN))
		return -EINVAL;
	log_set_options(flags);
	return 0;
}

API void cvmm_log_set_fd(int fd)
{
	log_set_fd(fd);
}

API void cvmm_log_set_name(const char *name)
{
	log_set_name(name);
}

/* cvmm_log_fn and log_sink_fn are one type (unsigned long is size_t on
 * every host cvmm supports): no adapter, no state of its own. */
API void cvmm_log_set_sink(cvmm_log_fn fn, void *opaque)
{
	log_set_sink(fn, opaque);
}

/* The embedder's own lines, in the same stream and format (origin "app"). */
API void cvmm_log(int level, const char *fmt, ...)
{
	/* a line the threshold drops is not formatted (the API logs every
	 * request at Debug) */
	if (level < CVMM_LOG_ERROR || level > CVMM_LOG_TRACE || level > (int)log_get_level())
		return;
	char buf[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg((enum log_level)level, "app", 0, "%s", buf);
}
