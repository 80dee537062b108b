/* SPDX-License-Identifier: MIT */
/* Opening a file a caller names, without waiting on it. */
#ifndef CVMM_CORE_FILE_H
#define CVMM_CORE_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* open(path, flags), but an open that would wait does not: a FIFO with no
 * writer (or a device that waits for carrier) opens at once, for the
 * caller's fstat to refuse, instead of blocking the thread (a control
 * thread: every other request would wait with it). O_NONBLOCK is cleared
 * again after (F_SETFL: of the status flags open takes, only O_DIRECT is
 * kept), so reads and writes of what is accepted behave as asked. -1 with
 * errno on failure. */
static inline int file_open_nowait(const char *path, int flags)
{
	int fd = open(path, flags | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || (flags & O_NONBLOCK))
		return fd;
	if (fcntl(fd, F_SETFL, flags & O_DIRECT) < 0) {
		int er = errno;
		close(fd);
		errno = er;
		return -1;
	}
	return fd;
}

#endif
