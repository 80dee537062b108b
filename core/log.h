/* SPDX-License-Identifier: MIT */
/* The log: every message the library prints goes through here, never to
 * stderr directly, so that an embedder decides where it goes.
 *
 * One logger per process (the one piece of process-wide mutable state
 * besides the SIGSYS handler's names): messages come from places that have
 * no VM at hand (a device's teardown, a transport's register handler) and
 * an embedder sets one destination for its process, as Firecracker's
 * logger does. A line is "cvmm: [LEVEL: ][file:line: ]message": the level
 * and the origin only when asked (log_set_options).
 *
 * Threads: any thread may log, and lines never mix (one lock, one write(2)
 * per line to the fd sink). Nothing allocates: a line is formatted into a
 * buffer on the caller's stack (at most LOG_LINE_MAX bytes, longer ones are
 * cut). No timestamps: localtime would open /etc/localtime, which no
 * thread's seccomp filter allows.
 *
 * Seccomp: the vCPU and control threads' filters allow write(2) on any
 * descriptor, so they may log to any sink. Virtqueue workers may write to
 * fd 2 only (their SIGSYS message): they do not log, they report through
 * virtio_fail and the transport logs on a vCPU thread. A sink callback runs
 * on the logging thread, under its filter and with the log's lock held: it
 * may write to descriptors it opened before, it must not open files or
 * call the log itself. */
#ifndef CVMM_CORE_LOG_H
#define CVMM_CORE_LOG_H

#include <stddef.h>

/* Thresholds and message levels; the values are the public API's
 * (CVMM_LOG_*). A message is printed when its level <= the threshold. */
enum log_level {
	LOG_LEVEL_OFF = 0, /* as a threshold: nothing */
	LOG_LEVEL_ERROR = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_INFO = 3, /* the default threshold */
	LOG_LEVEL_DEBUG = 4,
	LOG_LEVEL_TRACE = 5,
};

#define LOG_SHOW_LEVEL	1u /* "WARN: " after the "cvmm: " prefix */
#define LOG_SHOW_ORIGIN 2u /* "devices/net.c:738: " (the source file and line) */

#define LOG_LINE_MAX 1024 /* bytes a line may take, newline included */

/* Receives each line, NUL-terminated and without its newline (len bytes),
 * and its level (an enum log_level). The public cvmm_log_fn is this type. */
typedef void (*log_sink_fn)(void *opaque, int level, const char *line, size_t len);

/* Lines below the threshold are dropped; returns the previous one. Values
 * outside OFF..TRACE are clamped. */
enum log_level log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* LOG_SHOW_* flags. */
void log_set_options(unsigned opts);
/* The fd sink (the default, fd 2): each line is one write(2), whole lines
 * to a pipe or FIFO as long as they are under PIPE_BUF; a line that cannot
 * be written at once (EAGAIN on a non-blocking descriptor whose reader
 * fell behind) is dropped, so a slow reader stalls no vCPU. fd is
 * borrowed; -1: lines are dropped. Selects the fd sink. */
void log_set_fd(int fd);
/* A callback sink instead of the fd; fn NULL: back to the fd sink. Once
 * this returns, the previous callback is not called again (it is called
 * under the lock this takes). */
void log_set_sink(log_sink_fn fn, void *opaque);
/* The instance's name in every line ("cvmm[NAME]: ..."; NULL or "": none,
 * "cvmm: ..."); LOG_NAME_MAX bytes at most, longer is cut. */
#define LOG_NAME_MAX 64
void log_set_name(const char *name);

/* printf-like; file and line are the caller's (the macros below). */
__attribute__((format(printf, 4, 5))) void log_msg(enum log_level level, const char *file, int line,
						   const char *fmt, ...);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_LEVEL_TRACE, __FILE__, __LINE__, __VA_ARGS__)

#endif
