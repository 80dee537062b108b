/* SPDX-License-Identifier: MIT */
/* virtio-fs: FUSE requests end to end without a device: each message is
 * laid out as a descriptor chain (its readable part split into up to four
 * segments, a writable part of a chosen size), then fs_parse, the server
 * (fs_srv_handle, READ and WRITE done with preadv/pwritev as the worker
 * does with io_uring) and fs_reply. Two servers share one writable
 * directory, as two shares or two VMs on the same host directory can, and
 * an input interleaves their requests: what one guest renames, links or
 * swaps under the other's nodeids is what the other then acts on. The
 * directory is made afresh for each input (so replays are deterministic):
 * files, a subdirectory, FIFOs, a character device (1:3, where mknod is
 * allowed), symlinks to a sentinel file and a directory outside it, and
 * links to "..". The servers are made afresh too (small inode tables).
 * Input layout:
 *   [0]    bit 0: send FUSE_INIT to both servers first (most inputs want
 *          it); bit 1: the first server's share is read-only
 *   then messages, each [k][len lo][len hi] and len & 0x7fff bytes (the
 *   message, starting with its struct fuse_in_header); len bit 15: the
 *   message goes to the second server:
 *     k & 3: the readable part in 1..4 segments
 *     (k >> 2) & 7: writable bytes: 0, 8, 16, 40, 200, 4096, 65536, 17
 *     k & 0x20: set the header's len to the message's length
 *     k & 0x40: replace nodeid with the last nodeid a reply of that
 *               server gave
 *     k & 0x80: replace a leading fh (READ, RELEASE, READDIR...) with the
 *               last fh a reply of that server gave
 * Contract checked: fs_parse answers -EINVAL only without a full header;
 * a parsed request's names are single NUL-terminated components, WRITE's
 * data is exactly its size, room fits the writable part; every error is a
 * negative errno; a READ never asks for more than the writable part; a
 * reply never claims more than the writable part; READ and WRITE only on
 * regular files whose O_NONBLOCK is off; after each message, every open
 * file of either server is a regular file (a directory for OPENDIR) and
 * pins its inode (each inode's open count is the number of files open on
 * it, no file on a free slot); the read-only share never lets a mutating
 * request succeed; no request blocks (a FIFO!): an input that takes 10 s
 * aborts; after each input nothing outside the share changed (the
 * sentinel's and the outside directory's mode, owner, size, links, times:
 * not even read) and no descriptor leaks once the servers are destroyed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/fs.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSRV	  2
#define SRV_CAP	  8
#define HANG_SECS 10

static const uint32_t in_sizes[8] = {0, 8, 16, 40, 200, 4096, 65536, 17};

static char top[64];   /* the fixture: sentinel, outdir/inner, in/ */
static char share[96]; /* top/in: both servers' root */
static bool have_dev;  /* a device node could be made (root) */

/* What lies outside the share, as it was before the input. */
static struct stat before[4];
static const char *const outside[4] = {"", "sentinel", "outdir", "outdir/inner"};

static void path_of(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", top, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FZ_CHECK(fd >= 0);
	FZ_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* Removes everything beneath dirfd (not following links), whatever modes
 * the guest left on it. */
static void rm_tree(int dirfd)
{
	(void)fchmod(dirfd, 0700);
	for (bool again = true; again;) {
		again = false;
		int dfd = dup(dirfd);
		FZ_CHECK(dfd >= 0);
		DIR *d = fdopendir(dfd);
		FZ_CHECK(d != NULL);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (unlinkat(dirfd, e->d_name, 0) == 0) {
				again = true;
				continue;
			}
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			rm_tree(sub);
			close(sub);
			if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0)
				again = true;
		}
		closedir(d);
	}
}

/* At exit: the fixture goes (its FIFOs and device node with it). */
static void rm_top(void)
{
	int fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	rm_tree(fd);
	close(fd);
	(void)rmdir(top);
}

static void make_top(void)
{
	if (top[0])
		return;
	snprintf(top, sizeof(top), "/tmp/cvmm-fuzz-fs.%d", (int)getpid());
	snprintf(share, sizeof(share), "%s/in", top);
	char p[160];
	FZ_CHECK(mkdir(top, 0755) == 0 || errno == EEXIST);
	atexit(rm_top);
	path_of(p, sizeof(p), "sentinel");
	write_file(p, "outside the share", 0640);
	/* atime before mtime: any read of it would move atime */
	struct timespec ts[2] = {{1000, 0}, {2000, 0}};
	FZ_CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	path_of(p, sizeof(p), "outdir");
	FZ_CHECK(mkdir(p, 0755) == 0 || errno == EEXIST);
	path_of(p, sizeof(p), "outdir/inner");
	write_file(p, "inner", 0644);
	FZ_CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	path_of(p, sizeof(p), "in/null");
	mkdir(share, 0755);
	have_dev = mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0;
}

/* The share as every input starts with it. */
static void make_share(void)
{
	make_top();
	int fd = open(share, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		rm_tree(fd);
		close(fd);
	}
	FZ_CHECK(mkdir(share, 0755) == 0 || errno == EEXIST);
	FZ_CHECK(chmod(share, 0755) == 0);
	char p[160];
	path_of(p, sizeof(p), "in/file");
	write_file(p, "0123456789abcdef", 0644);
	path_of(p, sizeof(p), "in/sub");
	FZ_CHECK(mkdir(p, 0755) == 0);
	path_of(p, sizeof(p), "in/sub/deep");
	write_file(p, "deep", 0600);
	path_of(p, sizeof(p), "in/fifo");
	FZ_CHECK(mkfifo(p, 0666) == 0);
	path_of(p, sizeof(p), "in/sub/fifo");
	FZ_CHECK(mkfifo(p, 0600) == 0);
	path_of(p, sizeof(p), "in/null");
	if (have_dev)
		FZ_CHECK(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0);
	char target[160];
	path_of(target, sizeof(target), "sentinel");
	path_of(p, sizeof(p), "in/abs");
	FZ_CHECK(symlink(target, p) == 0);
	path_of(p, sizeof(p), "in/rel");
	FZ_CHECK(symlink("../sentinel", p) == 0);
	path_of(target, sizeof(target), "outdir");
	path_of(p, sizeof(p), "in/outdir");
	FZ_CHECK(symlink(target, p) == 0);
	path_of(p, sizeof(p), "in/up");
	FZ_CHECK(symlink("..", p) == 0);
	path_of(p, sizeof(p), "in/sub/esc");
	FZ_CHECK(symlink("../../sentinel", p) == 0);
	for (unsigned i = 0; i < 4; i++) {
		path_of(p, sizeof(p), outside[i]);
		FZ_CHECK(lstat(p, &before[i]) == 0);
	}
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Nothing outside the share was changed, made, removed, or read. */
static void check_outside(void)
{
	char p[160];
	for (unsigned i = 0; i < 4; i++) {
		struct stat st;
		path_of(p, sizeof(p), outside[i]);
		FZ_CHECK(lstat(p, &st) == 0);
		const struct stat *b = &before[i];
		FZ_CHECK(st.st_ino == b->st_ino && st.st_mode == b->st_mode);
		FZ_CHECK(st.st_uid == b->st_uid && st.st_gid == b->st_gid);
		FZ_CHECK(st.st_size == b->st_size && st.st_nlink == b->st_nlink);
		FZ_CHECK(same_time(&st.st_mtim, &b->st_mtim));
		FZ_CHECK(same_time(&st.st_ctim, &b->st_ctim));
		if (S_ISREG(st.st_mode))
			FZ_CHECK(same_time(&st.st_atim, &b->st_atim));
	}
}

/* ---- a request that blocks is a failure, not a hang ------------------------- */

/* A timer armed for each input: its signal interrupts whatever blocks and
 * aborts (so libFuzzer keeps the input). A realtime signal, since
 * libFuzzer's own -timeout uses SIGALRM; no thread (none starts under
 * qemu-user, where the cross build replays this). */
static timer_t hang_timer;

static void on_hang(int sig)
{
	(void)sig;
	static const char m[] = "fuzz_fs: an input ran for 10 s: a request blocked\n";
	ssize_t n = write(2, m, sizeof(m) - 1);
	(void)n;
	abort();
}

static void arm_hang_timer(bool on)
{
	static bool made;
	if (!made) {
		made = true;
		struct sigaction sa = {.sa_handler = on_hang};
		FZ_CHECK(sigaction(SIGRTMIN + 3, &sa, NULL) == 0);
		struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 3};
		FZ_CHECK(timer_create(CLOCK_MONOTONIC, &ev, &hang_timer) == 0);
	}
	struct itimerspec t = {.it_value = {.tv_sec = on ? HANG_SECS : 0}};
	FZ_CHECK(timer_settime(hang_timer, 0, &t, NULL) == 0);
}

/* ---- the servers ---------------------------------------------------------- */

static uint8_t msg[70000];
static uint8_t inbuf[65536];
static struct fs_req req;
static struct fs_out out;
static struct vq_chain ch;
static struct fs_srv srv[NSRV];
static bool srv_ro[NSRV];

static void layout(size_t len, unsigned nseg, uint32_t inlen)
{
	memset(&ch, 0, sizeof(ch));
	size_t off = 0;
	unsigned i = 0;
	for (unsigned s = 0; s < nseg && off < len; s++) {
		size_t part = s + 1 == nseg ? len - off : (len - off) / 2 + 1;
		if (part > len - off)
			part = len - off;
		ch.iov[i++] = (struct iovec){msg + off, part};
		off += part;
	}
	ch.n_out = i;
	ch.out_bytes = len;
	if (inlen) {
		ch.iov[i++] = (struct iovec){inbuf, inlen};
		ch.n_in = 1;
		ch.in_bytes = inlen;
	}
}

/* Open files are regular files (directories for OPENDIR), each pins a
 * live inode, and each inode's open count is the files open on it. */
static void check_srv(const struct fs_srv *s)
{
	uint32_t open_on[SRV_CAP] = {0};
	for (unsigned k = 0; k < FS_MAX_FH; k++) {
		const struct fs_fh *f = &s->fh[k];
		if (f->fd < 0)
			continue;
		struct stat st;
		FZ_CHECK(fstat(f->fd, &st) == 0);
		FZ_CHECK(f->dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
		FZ_CHECK(f->ino < s->nino && s->ino[f->ino].fd >= 0);
		FZ_CHECK(st.st_dev == s->ino[f->ino].dev && st.st_ino == s->ino[f->ino].ino);
		open_on[f->ino]++;
	}
	for (uint32_t i = 0; i < s->nino; i++)
		FZ_CHECK(s->ino[i].fd >= 0 ? s->ino[i].nopen == open_on[i] : open_on[i] == 0);
}

/* The file READ or WRITE is about to use: a regular file, blocking I/O. */
static void check_io_fd(int fd)
{
	struct stat st;
	FZ_CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
	int fl = fcntl(fd, F_GETFL);
	FZ_CHECK(fl >= 0 && !(fl & O_NONBLOCK));
}

struct last {
	uint64_t node, fh;
};

static void one(unsigned si, size_t len, unsigned nseg, uint32_t inlen, struct last *last)
{
	struct fs_srv *s = &srv[si];
	layout(len, nseg, inlen);
	int r = fs_parse(&ch, &req);
	if (r < 0) {
		FZ_CHECK(r == -EINVAL && len < sizeof(struct fuse_in_header));
		return;
	}
	FZ_CHECK(len >= sizeof(struct fuse_in_header));
	FZ_CHECK(req.error <= 0 && req.error > -4096);
	FZ_CHECK(req.room <= (inlen > 16 ? inlen - 16 : 0));
	uint32_t op = req.h.opcode;
	if (!req.error) {
		FZ_CHECK(req.h.len == len);
		/* Path components are single names; xattr calls carry an
		 * attribute name instead (no such rule). */
		bool xattr = op == FUSE_GETXATTR || op == FUSE_SETXATTR || op == FUSE_REMOVEXATTR;
		if (req.name && !xattr)
			FZ_CHECK(fs_name_ok(req.name));
		if (req.name2 && op != FUSE_SYMLINK && !xattr)
			FZ_CHECK(fs_name_ok(req.name2));
		if (op == FUSE_WRITE) {
			size_t sum = 0;
			for (unsigned i = 0; i < req.niov; i++)
				sum += req.iov[i].iov_len;
			struct fuse_write_in w;
			memcpy(&w, req.args, sizeof(w));
			FZ_CHECK(sum == w.size);
		}
	}
	fs_srv_handle(s, &req, &out);
	FZ_CHECK(out.error <= 0 && out.error > -4096);
	if (srv_ro[si] && fs_srv_mutates(op))
		FZ_CHECK(out.error != 0 && out.io == FS_IO_NONE);
	uint32_t written;
	if (out.io == FS_IO_READ) {
		FZ_CHECK(out.io_len <= req.room);
		check_io_fd(out.io_fd);
		struct iovec iov[FS_IOV_MAX];
		int n = fs_reply_iov(&ch, out.io_len, iov, FS_IOV_MAX);
		if (n < 0) { /* as the worker: no room even for the header */
			written = fs_reply(&ch, req.h.unique, -EINVAL, NULL, 0);
		} else {
			ssize_t got = n > 0 ? preadv(out.io_fd, iov, n, (off_t)out.io_off) : 0;
			written = (uint32_t)(16 + (got > 0 ? got : 0));
		}
	} else {
		if (out.io == FS_IO_WRITE) {
			check_io_fd(out.io_fd);
			ssize_t n = pwritev(out.io_fd, req.iov, (int)req.niov, (off_t)out.io_off);
			fs_srv_write_done(&out, n < 0 ? -errno : n);
		}
		FZ_CHECK(out.io == FS_IO_NONE);
		written =
			req.noreply ? 0 : fs_reply(&ch, req.h.unique, out.error, out.data, out.len);
		bool entry = op == FUSE_LOOKUP || op == FUSE_CREATE || op == FUSE_MKNOD ||
			     op == FUSE_MKDIR || op == FUSE_SYMLINK || op == FUSE_LINK;
		if (!out.error && entry && out.len >= sizeof(struct fuse_entry_out)) {
			struct fuse_entry_out e;
			memcpy(&e, out.data, sizeof(e));
			last->node = e.nodeid;
		}
		if (!out.error && op == FUSE_CREATE &&
		    out.len >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)) {
			struct fuse_open_out o;
			memcpy(&o, (const uint8_t *)out.data + sizeof(struct fuse_entry_out),
			       sizeof(o));
			last->fh = o.fh;
		}
		if (!out.error && (op == FUSE_OPEN || op == FUSE_OPENDIR)) {
			struct fuse_open_out o;
			memcpy(&o, out.data, sizeof(o));
			last->fh = o.fh;
		}
	}
	FZ_CHECK(written <= inlen);
	check_srv(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	arm_hang_timer(true);
	make_share();
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(probe);
	struct last last[NSRV];
	srv_ro[0] = data[0] & 2;
	srv_ro[1] = false;
	for (unsigned i = 0; i < NSRV; i++) {
		int root = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
		FZ_CHECK(root >= 0);
		FZ_CHECK(fs_srv_init(&srv[i], root, srv_ro[i], SRV_CAP) == 0);
		srv[i].xattr = true;
		last[i] = (struct last){.node = 1, .fh = 0};
		if (data[0] & 1) {
			struct fuse_in_header h = {
				.len = 40 + 64, .opcode = FUSE_INIT, .unique = 1};
			struct fuse_init_in in = {.major = 7, .minor = 38, .flags = 0xffffffff};
			memcpy(msg, &h, sizeof(h));
			memcpy(msg + sizeof(h), &in, sizeof(in));
			one(i, sizeof(h) + sizeof(in), 1, 4096, &last[i]);
		}
	}
	size_t pos = 1;
	while (pos + 3 <= size) {
		uint8_t k = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)(data[pos + 2] & 0x7f) << 8;
		unsigned si = data[pos + 2] >> 7;
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		memcpy(msg, data + pos, len);
		pos += len;
		if (len >= sizeof(struct fuse_in_header)) {
			struct fuse_in_header h;
			memcpy(&h, msg, sizeof(h));
			if (k & 0x20)
				h.len = (uint32_t)len;
			if (k & 0x40)
				h.nodeid = last[si].node;
			memcpy(msg, &h, sizeof(h));
			if ((k & 0x80) && len >= sizeof(h) + 8)
				memcpy(msg + sizeof(h), &last[si].fh, 8);
		}
		one(si, len, (k & 3) + 1u, in_sizes[(k >> 2) & 7], &last[si]);
	}
	for (unsigned i = 0; i < NSRV; i++)
		fs_srv_destroy(&srv[i]);
	/* Every descriptor the servers opened is closed again. */
	int after = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FZ_CHECK(after == probe);
	close(after);
	check_outside();
	arm_hang_timer(false);
	return 0;
}
