/* SPDX-License-Identifier: MIT */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The process's logger (log.h says why there is one per process). The
 * threshold and options are read without the lock (a line formatted with
 * the options of a moment ago is fine); the sink is read and called under
 * it, so that a replaced sink is never called after log_set_* returned. */
static struct {
	atomic_int level;
	atomic_uint opts;
	pthread_mutex_t lock;
	int fd;			     /* under lock; borrowed */
	log_sink_fn fn;		     /* under lock; NULL: the fd */
	void *opaque;		     /* under lock; borrowed */
	char name[LOG_NAME_MAX + 1]; /* under lock; "": none */
} logger = {
	.level = LOG_LEVEL_INFO,
	.opts = 0,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = STDERR_FILENO,
};

static const char *const level_names[] = {
	[LOG_LEVEL_OFF] = "OFF",   [LOG_LEVEL_ERROR] = "ERROR", [LOG_LEVEL_WARN] = "WARN",
	[LOG_LEVEL_INFO] = "INFO", [LOG_LEVEL_DEBUG] = "DEBUG", [LOG_LEVEL_TRACE] = "TRACE",
};

static enum log_level clamp(enum log_level l)
{
	if ((int)l < LOG_LEVEL_OFF)
		return LOG_LEVEL_OFF;
	return l > LOG_LEVEL_TRACE ? LOG_LEVEL_TRACE : l;
}

enum log_level log_set_level(enum log_level level)
{
	return (enum log_level)atomic_exchange(&logger.level, (int)clamp(level));
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&logger.level);
}

void log_set_options(unsigned opts)
{
	atomic_store(&logger.opts, opts & (LOG_SHOW_LEVEL | LOG_SHOW_ORIGIN));
}

void log_set_fd(int fd)
{
	pthread_mutex_lock(&logger.lock);
	logger.fd = fd;
	logger.fn = NULL;
	logger.opaque = NULL;
	pthread_mutex_unlock(&logger.lock);
}

void log_set_sink(log_sink_fn fn, void *opaque)
{
	pthread_mutex_lock(&logger.lock);
	logger.fn = fn;
	logger.opaque = fn ? opaque : NULL;
	pthread_mutex_unlock(&logger.lock);
}

void log_set_name(const char *name)
{
	pthread_mutex_lock(&logger.lock);
	snprintf(logger.name, sizeof(logger.name), "%s", name ? name : "");
	pthread_mutex_unlock(&logger.lock);
}

/* The build passes sources as paths from the build directory
 * ("../devices/net.c"): the origin is the path from the source root. */
static const char *origin(const char *file)
{
	for (;;) {
		if (!strncmp(file, "../", 3))
			file += 3;
		else if (!strncmp(file, "./", 2))
			file += 2;
		else
			return file;
	}
}

/* The length after snprintf(buf + at, LOG_LINE_MAX - 1 - at, ...) returned
 * n: what it wrote, at most LOG_LINE_MAX - 2 bytes in all (a cut line
 * keeps room for its newline and the terminating NUL). */
static size_t grown(size_t at, int n)
{
	if (n < 0)
		return at;
	size_t end = at + (size_t)n;
	return end > LOG_LINE_MAX - 2 ? LOG_LINE_MAX - 2 : end;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* EAGAIN, EPIPE, a bad descriptor: the line is dropped */
		p += w;
		len -= (size_t)w;
	}
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (level <= LOG_LEVEL_OFF || (int)level > atomic_load(&logger.level))
		return;
	level = clamp(level);
	int saved = errno; /* callers may still want theirs after a message */
	unsigned opts = atomic_load(&logger.opts);
	char buf[LOG_LINE_MAX], name[LOG_NAME_MAX + 1];
	pthread_mutex_lock(&logger.lock);
	memcpy(name, logger.name, sizeof(name));
	pthread_mutex_unlock(&logger.lock);
	size_t n = grown(0, name[0] ? snprintf(buf, sizeof(buf) - 1, "cvmm[%s]: ", name)
				    : snprintf(buf, sizeof(buf) - 1, "cvmm: "));
	if (opts & LOG_SHOW_LEVEL)
		n = grown(n, snprintf(buf + n, sizeof(buf) - 1 - n, "%s: ", level_names[level]));
	if (opts & LOG_SHOW_ORIGIN)
		n = grown(n, snprintf(buf + n, sizeof(buf) - 1 - n, "%s:%d: ", origin(file), line));
	va_list ap;
	va_start(ap, fmt);
	n = grown(n, vsnprintf(buf + n, sizeof(buf) - 1 - n, fmt, ap));
	va_end(ap);
	while (n > 0 && buf[n - 1] == '\n')
		n--; /* the line's newline is the log's */
	pthread_mutex_lock(&logger.lock);
	if (logger.fn) {
		buf[n] = '\0';
		logger.fn(logger.opaque, (int)level, buf, n);
	} else if (logger.fd >= 0) {
		buf[n] = '\n';
		write_all(logger.fd, buf, n + 1);
	}
	pthread_mutex_unlock(&logger.lock);
	errno = saved;
}
