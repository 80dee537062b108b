/* SPDX-License-Identifier: MIT */
/* virtio-fs: the FUSE message parser against hostile chains, and the
 * server's operations against a real temporary directory, escape
 * attempts included (a sentinel outside the share must stay unread and
 * unwritten). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/emu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/fs.h"
#include "fake_mem.h"
#include "tests/rig/ring.h"
#include "core/jail.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* the same on x86_64 and aarch64; 6.1's headers lack it */
#endif

/* ---- chains ------------------------------------------------------------------ */

static uint8_t outbuf[FS_ARGS_MAX + 8192];
static uint8_t inbuf[256 * 1024];
static struct vq_chain ch;
static struct fs_req rq;
static struct fs_out ro;

/* The buffers of one request in progress. io0 is the globals above (what
 * most tests read their replies from); io1 is a second set, for a second
 * server that acts while the first is in the middle of a request. */
struct io {
	uint8_t *out, *in;
	size_t inlen;
	struct vq_chain *ch;
	struct fs_req *rq;
	struct fs_out *o;
};
static struct io io0 = {outbuf, inbuf, sizeof(inbuf), &ch, &rq, &ro};
static uint8_t outbuf1[FS_ARGS_MAX + 8192];
static uint8_t inbuf1[64 * 1024];
static struct vq_chain ch1;
static struct fs_req rq1;
static struct fs_out ro1;
static struct io io1 = {outbuf1, inbuf1, sizeof(inbuf1), &ch1, &rq1, &ro1};

/* One readable segment of `len` bytes of io->out, one writable of inlen. */
static struct vq_chain *chain_io(struct io *io, size_t len, size_t inlen)
{
	struct vq_chain *c = io->ch;
	memset(c, 0, sizeof(*c));
	c->iov[0] = (struct iovec){io->out, len};
	c->out_bytes = len;
	c->n_out = 1;
	if (inlen) {
		c->iov[1] = (struct iovec){io->in, inlen};
		c->in_bytes = inlen;
		c->n_in = 1;
	}
	return c;
}

static struct vq_chain *chain(size_t len, size_t inlen)
{
	return chain_io(&io0, len, inlen);
}

/* Writes a request into io->out: header, fixed args, then strings. */
static size_t build_io(struct io *io, uint32_t op, uint64_t nodeid, const void *arg, size_t alen,
		       const char *n1, const char *n2)
{
	uint8_t *out = io->out;
	size_t len = sizeof(struct fuse_in_header);
	if (alen)
		memcpy(out + len, arg, alen);
	len += alen;
	if (n1) {
		memcpy(out + len, n1, strlen(n1) + 1);
		len += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(out + len, n2, strlen(n2) + 1);
		len += strlen(n2) + 1;
	}
	struct fuse_in_header h = {
		.len = (uint32_t)len, .opcode = op, .unique = 77, .nodeid = nodeid};
	memcpy(out, &h, sizeof(h));
	return len;
}

static size_t build(uint32_t op, uint64_t nodeid, const void *arg, size_t alen, const char *n1,
		    const char *n2)
{
	return build_io(&io0, op, nodeid, arg, alen, n1, n2);
}

static struct fuse_out_header reply_hdr(void)
{
	struct fuse_out_header oh;
	memcpy(&oh, inbuf, sizeof(oh));
	return oh;
}

static void test_parse_lookup(void **state)
{
	(void)state;
	size_t n = build(FUSE_LOOKUP, 1, NULL, 0, "file.txt", NULL);
	assert_int_equal(fs_parse(chain(n, 4096), &rq), 0);
	assert_int_equal(rq.error, 0);
	assert_string_equal(rq.name, "file.txt");
	assert_int_equal(rq.room, 4096 - sizeof(struct fuse_out_header));
	/* The header split across segments parses the same. */
	memset(&ch, 0, sizeof(ch));
	ch.iov[0] = (struct iovec){outbuf, 7};
	ch.iov[1] = (struct iovec){outbuf + 7, n - 7};
	ch.n_out = 2;
	ch.out_bytes = n;
	assert_int_equal(fs_parse(&ch, &rq), 0);
	assert_int_equal(rq.error, 0);
	assert_string_equal(rq.name, "file.txt");
}

static void test_parse_hostile(void **state)
{
	(void)state;
	/* Fewer readable bytes than a header: nothing to answer. */
	build(FUSE_GETATTR, 1, NULL, 0, NULL, NULL);
	assert_int_equal(fs_parse(chain(39, 64), &rq), -EINVAL);
	/* The header's len disagrees with the chain, both ways. */
	struct fuse_getattr_in ga = {0};
	size_t n = build(FUSE_GETATTR, 1, &ga, sizeof(ga), NULL, NULL);
	assert_int_equal(fs_parse(chain(n + 8, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	assert_int_equal(rq.h.unique, 77);
	assert_int_equal(fs_parse(chain(n - 8, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	((struct fuse_in_header *)(void *)outbuf)->len = 0xffffffff;
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	/* Fixed argument shorter than the opcode's. */
	n = build(FUSE_GETATTR, 1, &ga, 4, NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	/* Unknown opcodes, a gap in the table and past its end. */
	n = build(7, 1, NULL, 0, NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -ENOSYS);
	n = build(0xdeadbeef, 1, NULL, 0, NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -ENOSYS);
	assert_false(rq.noreply);
	/* A name without its NUL. */
	n = build(FUSE_LOOKUP, 1, "abc", 3, NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_not_equal(rq.error, 0);
	/* Names that are not one component. */
	const char *badnames[] = {"..", ".", "a/b", "/etc", ""};
	for (unsigned i = 0; i < 5; i++) {
		n = build(FUSE_LOOKUP, 1, NULL, 0, badnames[i], NULL);
		assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
		assert_int_not_equal(rq.error, 0);
		n = build(FUSE_MKDIR, 1, &(struct fuse_mkdir_in){0755, 0},
			  sizeof(struct fuse_mkdir_in), badnames[i], NULL);
		assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
		assert_int_equal(rq.error, -EINVAL);
	}
	/* A name longer than NAME_MAX. */
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[299] = 0;
	n = build(FUSE_UNLINK, 1, NULL, 0, longname, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	/* RENAME's second name "..", or missing. */
	struct fuse_rename_in rn = {.newdir = 1};
	n = build(FUSE_RENAME, 1, &rn, sizeof(rn), "a", "..");
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	n = build(FUSE_RENAME, 1, &rn, sizeof(rn), "a", NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	/* Huge counts and sizes. */
	struct fuse_batch_forget_in bf = {.count = 0xffffffff};
	n = build(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 0), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	assert_true(rq.noreply);
	bf.count = 2; /* but no entries follow */
	n = build(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 0), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	struct fuse_read_in rd = {.size = 0x80000000u};
	n = build(FUSE_READ, 2, &rd, sizeof(rd), NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	struct fuse_write_in wr = {.size = 100}; /* no data follows */
	n = build(FUSE_WRITE, 2, &wr, sizeof(wr), NULL, NULL);
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	wr.size = 0xffffffff;
	n = build(FUSE_WRITE, 2, &wr, sizeof(wr), NULL, NULL);
	assert_int_equal(fs_parse(chain(n + 16, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
	/* Arguments larger than we copy. */
	struct fuse_in_header big = {
		.len = FS_ARGS_MAX + 4096, .opcode = FUSE_SYMLINK, .unique = 5};
	memcpy(outbuf, &big, sizeof(big));
	assert_int_equal(fs_parse(chain(big.len, 64), &rq), 0);
	assert_int_equal(rq.error, -E2BIG);
	/* A symlink target may hold '/', but not be empty. */
	n = build(FUSE_SYMLINK, 1, NULL, 0, "l", "/etc/passwd");
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, 0);
	n = build(FUSE_SYMLINK, 1, NULL, 0, "l", "");
	assert_int_equal(fs_parse(chain(n, 64), &rq), 0);
	assert_int_equal(rq.error, -EINVAL);
}

static void test_reply(void **state)
{
	(void)state;
	build(FUSE_GETATTR, 1, NULL, 0, NULL, NULL);
	uint8_t payload[100];
	memset(payload, 0x5a, sizeof(payload));
	assert_int_equal(fs_reply(chain(40, 8), 9, 0, payload, 10), 0); /* no room for a header */
	assert_int_equal(fs_reply(chain(40, 64), 9, 0, payload, 100), 16); /* payload too big */
	assert_int_equal(reply_hdr().error, -EINVAL);
	assert_int_equal(reply_hdr().unique, 9);
	assert_int_equal(fs_reply(chain(40, 200), 9, 0, payload, 100), 116);
	assert_int_equal(reply_hdr().len, 116);
	assert_memory_equal(inbuf + 16, payload, 100);
	struct iovec iov[4];
	assert_int_equal(fs_reply_iov(chain(40, 8), 100, iov, 4), -ENOSPC);
	assert_int_equal(fs_reply_iov(chain(40, 116), 4096, iov, 4), 1);
	assert_int_equal(iov[0].iov_len, 100);
}

/* ---- the server against a real directory ------------------------------------------ */

struct env {
	char top[64], share[96], sentinel[96];
	struct stat sentinel_st;
	struct fs_srv srv;
	struct fs_srv srv2; /* a second server on the same directory */
};
static struct env env;

/* One request through the parser and the server; READ and WRITE are done
 * here with preadv/pwritev (the device uses io_uring). Returns the error;
 * the reply payload is at inbuf + 16, *len bytes. */
static int call_io(struct io *io, struct fs_srv *s, uint32_t op, uint64_t nodeid, const void *arg,
		   size_t alen, const char *n1, const char *n2, size_t *len)
{
	size_t n = build_io(io, op, nodeid, arg, alen, n1, n2);
	memset(io->in, 0, 4096);
	if (fs_parse(chain_io(io, n, io->inlen), io->rq) < 0)
		return -1000;
	struct fs_out *o = io->o;
	fs_srv_handle(s, io->rq, o);
	if (o->io == FS_IO_READ) {
		struct iovec iov[FS_IOV_MAX];
		int k = fs_reply_iov(io->ch, o->io_len, iov, FS_IOV_MAX);
		ssize_t r = preadv(o->io_fd, iov, k, (off_t)o->io_off);
		if (len)
			*len = r < 0 ? 0 : (size_t)r;
		return r < 0 ? -errno : 0;
	}
	if (o->io == FS_IO_WRITE) {
		ssize_t r = pwritev(o->io_fd, io->rq->iov, (int)io->rq->niov, (off_t)o->io_off);
		fs_srv_write_done(o, r < 0 ? -errno : r);
	}
	fs_reply(io->ch, io->rq->h.unique, o->error, o->data, o->len);
	if (len)
		*len = o->len;
	return o->error;
}

static int call(struct fs_srv *s, uint32_t op, uint64_t nodeid, const void *arg, size_t alen,
		const char *n1, const char *n2, size_t *len)
{
	return call_io(&io0, s, op, nodeid, arg, alen, n1, n2, len);
}

static uint64_t lookup_io(struct io *io, struct fs_srv *s, uint64_t parent, const char *name,
			  int *err)
{
	size_t len;
	int r = call_io(io, s, FUSE_LOOKUP, parent, NULL, 0, name, NULL, &len);
	if (err)
		*err = r;
	if (r)
		return 0;
	struct fuse_entry_out e;
	memcpy(&e, io->in + 16, sizeof(e));
	return e.nodeid;
}

static uint64_t lookup(struct fs_srv *s, uint64_t parent, const char *name, int *err)
{
	return lookup_io(&io0, s, parent, name, err);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(env.top, sizeof(env.top), "/tmp/cvmm-fs-test.XXXXXX");
	if (!mkdtemp(env.top))
		return -1;
	snprintf(env.share, sizeof(env.share), "%s/share", env.top);
	snprintf(env.sentinel, sizeof(env.sentinel), "%s/sentinel", env.top);
	mkdir(env.share, 0755);
	char p[256];
	write_file(env.sentinel, "outside");
	snprintf(p, sizeof(p), "%s/file", env.share);
	write_file(p, "inside");
	snprintf(p, sizeof(p), "%s/sub", env.share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/rel", env.share);
	if (symlink("../sentinel", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/abs", env.share);
	if (symlink(env.sentinel, p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dirlink", env.share);
	if (symlink("..", p) < 0)
		return -1;
	/* atime far in the past: any read of the sentinel would move it */
	struct timespec ts[2] = {{1000, 0}, {1000, 0}};
	utimensat(AT_FDCWD, env.sentinel, ts, 0);
	stat(env.sentinel, &env.sentinel_st);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.top);
	return system(cmd) == 0 ? 0 : -1;
}

static void srv_up_cap(struct fs_srv *s, bool ro_share, uint32_t cap)
{
	int fd = open(env.share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fs_srv_init(s, fd, ro_share, cap), 0);
	/* Before INIT: nothing. */
	assert_int_equal(call(s, FUSE_GETATTR, 1, &(struct fuse_getattr_in){0},
			      sizeof(struct fuse_getattr_in), NULL, NULL, NULL),
			 -EIO);
	struct fuse_init_in in = {.major = 7,
				  .minor = 38,
				  .max_readahead = 65536,
				  .flags = FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES};
	size_t len;
	assert_int_equal(call(s, FUSE_INIT, 0, &in, sizeof(in), NULL, NULL, &len), 0);
	struct fuse_init_out out;
	memcpy(&out, inbuf + 16, sizeof(out));
	assert_int_equal(len, sizeof(out));
	assert_int_equal(out.major, 7);
	/* ours: the uapi headers' (6.1's 38 natively, 37 in Debian's arm64
	 * cross headers), below the driver's 38 */
	assert_int_equal(out.minor, FUSE_KERNEL_MINOR_VERSION);
	assert_int_equal(out.flags, FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES);
	assert_int_equal(out.max_write, FS_MAX_WRITE);
}

static void srv_up(struct fs_srv *s, bool ro_share)
{
	srv_up_cap(s, ro_share, 64);
}

static void sentinel_untouched(void)
{
	struct stat st;
	assert_int_equal(stat(env.sentinel, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, env.sentinel_st.st_atim.tv_sec);
	assert_int_equal(st.st_mtim.tv_sec, env.sentinel_st.st_mtim.tv_sec);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(st.st_mode, env.sentinel_st.st_mode);
	assert_int_equal(st.st_uid, env.sentinel_st.st_uid);
}

static uint64_t open_fh(struct fs_srv *s, uint64_t node, uint32_t flags, int *err)
{
	struct fuse_open_in oi = {.flags = flags};
	size_t len;
	*err = call(s, FUSE_OPEN, node, &oi, sizeof(oi), NULL, NULL, &len);
	struct fuse_open_out oo;
	memcpy(&oo, inbuf + 16, sizeof(oo));
	return oo.fh;
}

static void test_srv_rw(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	assert_int_equal(err, 0);
	assert_int_not_equal(file, 1);
	/* The same host inode gets the same nodeid. */
	assert_int_equal(lookup(s, 1, "file", NULL), file);
	uint64_t fh = open_fh(s, file, O_RDWR, &err);
	assert_int_equal(err, 0);
	struct fuse_read_in rd = {.fh = fh, .offset = 0, .size = 100};
	size_t len;
	assert_int_equal(call(s, FUSE_READ, file, &rd, sizeof(rd), NULL, NULL, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(inbuf + 16, "inside", 6);
	/* WRITE: fixed part then data, which stays "in guest memory". */
	struct fuse_write_in wr = {.fh = fh, .offset = 6, .size = 5};
	size_t n = build(FUSE_WRITE, file, &wr, sizeof(wr), NULL, NULL);
	memcpy(outbuf + n, "-more", 5);
	((struct fuse_in_header *)(void *)outbuf)->len = (uint32_t)(n + 5);
	assert_int_equal(fs_parse(chain(n + 5, 4096), &rq), 0);
	assert_int_equal(rq.error, 0);
	fs_srv_handle(s, &rq, &ro);
	assert_int_equal(ro.io, FS_IO_WRITE);
	assert_int_equal(pwritev(ro.io_fd, rq.iov, (int)rq.niov, (off_t)ro.io_off), 5);
	char p[256], buf[64] = {0};
	snprintf(p, sizeof(p), "%s/file", env.share);
	int fd = open(p, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 11);
	close(fd);
	assert_string_equal(buf, "inside-more");
	/* A forged fh: another index, another generation. */
	rd.fh = fh + 1;
	assert_int_equal(call(s, FUSE_READ, file, &rd, sizeof(rd), NULL, NULL, NULL), -EBADF);
	rd.fh = fh + (1ULL << 32);
	assert_int_equal(call(s, FUSE_READ, file, &rd, sizeof(rd), NULL, NULL, NULL), -EBADF);
	struct fuse_release_in rl = {.fh = fh};
	assert_int_equal(call(s, FUSE_RELEASE, file, &rl, sizeof(rl), NULL, NULL, NULL), 0);
	assert_int_equal(call(s, FUSE_RELEASE, file, &rl, sizeof(rl), NULL, NULL, NULL), -EBADF);
	/* CREATE, MKDIR, RENAME, LINK, SYMLINK, READDIR, UNLINK. */
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = 0644 | S_IFREG, .umask = 022};
	assert_int_equal(call(s, FUSE_CREATE, 1, &ci, sizeof(ci), "made", NULL, &len), 0);
	assert_int_equal(len, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	struct fuse_mkdir_in mi = {.mode = 0755, .umask = 0};
	assert_int_equal(call(s, FUSE_MKDIR, 1, &mi, sizeof(mi), "newdir", NULL, NULL), 0);
	uint64_t nd = lookup(s, 1, "newdir", NULL);
	struct fuse_rename_in rn = {.newdir = nd};
	assert_int_equal(call(s, FUSE_RENAME, 1, &rn, sizeof(rn), "made", "moved", NULL), 0);
	snprintf(p, sizeof(p), "%s/newdir/moved", env.share);
	assert_int_equal(access(p, F_OK), 0);
	struct fuse_link_in li = {.oldnodeid = lookup(s, nd, "moved", NULL)};
	assert_int_equal(call(s, FUSE_LINK, 1, &li, sizeof(li), "hard", NULL, NULL), 0);
	struct stat st;
	snprintf(p, sizeof(p), "%s/hard", env.share);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	/* The renamed file can still be reopened (its name was kept current). */
	fh = open_fh(s, li.oldnodeid, O_RDONLY, &err);
	assert_int_equal(err, 0);
	rl.fh = fh;
	assert_int_equal(call(s, FUSE_RELEASE, li.oldnodeid, &rl, sizeof(rl), NULL, NULL, NULL), 0);
	assert_int_equal(call(s, FUSE_UNLINK, 1, NULL, 0, "hard", NULL, NULL), 0);
	assert_int_not_equal(access(p, F_OK), 0);
	/* READDIRPLUS of the root lists what is there. */
	struct fuse_open_in oi = {.flags = O_RDONLY};
	assert_int_equal(call(s, FUSE_OPENDIR, 1, &oi, sizeof(oi), NULL, NULL, NULL), 0);
	struct fuse_open_out oo;
	memcpy(&oo, inbuf + 16, sizeof(oo));
	struct fuse_read_in rdd = {.fh = oo.fh, .size = 8192};
	assert_int_equal(call(s, FUSE_READDIRPLUS, 1, &rdd, sizeof(rdd), NULL, NULL, &len), 0);
	assert_true(len > 0);
	assert_non_null(memmem(inbuf + 16, len, "newdir", 6));
	assert_non_null(memmem(inbuf + 16, len, "dirlink", 7));
	/* A tiny READDIR size: no entry fits, nothing overflows. */
	rdd.size = 8;
	assert_int_equal(call(s, FUSE_READDIR, 1, &rdd, sizeof(rdd), NULL, NULL, &len), 0);
	assert_int_equal(len, 0);
	/* SETATTR: mode, size, times. */
	struct fuse_setattr_in sa = {.valid = FATTR_MODE | FATTR_SIZE, .mode = 0600, .size = 3};
	assert_int_equal(call(s, FUSE_SETATTR, file, &sa, sizeof(sa), NULL, NULL, NULL), 0);
	snprintf(p, sizeof(p), "%s/file", env.share);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 3);
	/* STATFS, then FORGET makes the nodeid stale. */
	assert_int_equal(call(s, FUSE_STATFS, 1, NULL, 0, NULL, NULL, &len), 0);
	uint64_t sub = lookup(s, 1, "sub", NULL);
	struct fuse_forget_in fg = {.nlookup = 2}; /* LOOKUP and READDIRPLUS each took one */
	(void)call(s, FUSE_FORGET, sub, &fg, sizeof(fg), NULL, NULL, NULL);
	assert_int_equal(call(s, FUSE_GETATTR, sub, &(struct fuse_getattr_in){0},
			      sizeof(struct fuse_getattr_in), NULL, NULL, NULL),
			 -ESTALE);
	/* A second INIT (a driver starting over) drops the old references. */
	struct fuse_init_in in = {.major = 7, .minor = 31};
	assert_int_equal(call(s, FUSE_INIT, 0, &in, sizeof(in), NULL, NULL, &len), 0);
	assert_int_equal(len, sizeof(struct fuse_init_out));
	assert_int_equal(call(s, FUSE_GETATTR, file, &(struct fuse_getattr_in){0},
			      sizeof(struct fuse_getattr_in), NULL, NULL, NULL),
			 -ESTALE);
	sentinel_untouched();
	fs_srv_destroy(s);
}

static void test_srv_escapes(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	int err;
	/* No climbing: ".." and paths are refused before the server sees them. */
	lookup(s, 1, "..", &err);
	assert_int_not_equal(err, 0);
	lookup(s, 1, "sub/../..", &err);
	assert_int_not_equal(err, 0);
	lookup(s, 1, "/etc", &err);
	assert_int_not_equal(err, 0);
	/* Symlinks: a handle on the link itself, never its target. */
	uint64_t rel = lookup(s, 1, "rel", &err);
	assert_int_equal(err, 0);
	uint64_t abs = lookup(s, 1, "abs", &err);
	assert_int_equal(err, 0);
	uint64_t dl = lookup(s, 1, "dirlink", &err);
	assert_int_equal(err, 0);
	size_t len;
	assert_int_equal(call(s, FUSE_READLINK, rel, NULL, 0, NULL, NULL, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(inbuf + 16, "../sentinel", 11);
	struct fuse_getattr_in ga = {0};
	assert_int_equal(call(s, FUSE_GETATTR, abs, &ga, sizeof(ga), NULL, NULL, NULL), 0);
	struct fuse_attr_out ao;
	memcpy(&ao, inbuf + 16, sizeof(ao));
	assert_true(S_ISLNK(ao.attr.mode));
	lookup(s, dl, "sentinel", &err); /* through a link to ".." */
	assert_int_equal(err, -ENOTDIR);
	lookup(s, dl, "share", &err);
	assert_int_equal(err, -ENOTDIR);
	open_fh(s, abs, O_RDONLY, &err);
	assert_int_not_equal(err, 0);
	open_fh(s, rel, O_RDWR, &err);
	assert_int_not_equal(err, 0);
	struct fuse_open_in oi = {.flags = O_RDONLY};
	assert_int_not_equal(call(s, FUSE_OPENDIR, dl, &oi, sizeof(oi), NULL, NULL, NULL), 0);
	/* Creating through a link's name, or under a link. */
	struct fuse_create_in ci = {.flags = O_WRONLY | O_TRUNC, .mode = 0644};
	assert_int_not_equal(call(s, FUSE_CREATE, 1, &ci, sizeof(ci), "abs", NULL, NULL), 0);
	assert_int_not_equal(call(s, FUSE_CREATE, dl, &ci, sizeof(ci), "sentinel", NULL, NULL), 0);
	struct fuse_mkdir_in mi = {.mode = 0755};
	assert_int_not_equal(call(s, FUSE_MKDIR, dl, &mi, sizeof(mi), "x", NULL, NULL), 0);
	assert_int_not_equal(call(s, FUSE_UNLINK, dl, NULL, 0, "sentinel", NULL, NULL), 0);
	/* SETATTR on a link changes neither it nor its target. */
	struct fuse_setattr_in sa = {.valid = FATTR_MODE | FATTR_SIZE, .mode = 0777};
	assert_int_not_equal(call(s, FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, NULL), 0);
	/* A guest-made link to the sentinel is stored as a link, not followed. */
	assert_int_equal(call(s, FUSE_SYMLINK, 1, NULL, 0, "evil", env.sentinel, NULL), 0);
	uint64_t evil = lookup(s, 1, "evil", NULL);
	open_fh(s, evil, O_WRONLY, &err);
	assert_int_not_equal(err, 0);
	/* RENAME to a directory that is a link, or not ours. */
	struct fuse_rename_in rn = {.newdir = dl};
	assert_int_not_equal(call(s, FUSE_RENAME, 1, &rn, sizeof(rn), "file", "stolen", NULL), 0);
	rn.newdir = 0x0000000700000001ULL; /* the root's index, another generation */
	assert_int_equal(call(s, FUSE_RENAME, 1, &rn, sizeof(rn), "file", "x", NULL), -ESTALE);
	/* Forged nodeids. */
	const uint64_t forged[] = {0, 2000, 0xffffffffULL, 1ULL << 32 | 1, 0xdeadbeef00000003ULL};
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(
			call(s, FUSE_GETATTR, forged[i], &ga, sizeof(ga), NULL, NULL, NULL),
			-ESTALE);
	/* LINK from a forged node. */
	struct fuse_link_in li = {.oldnodeid = 0x1234567800000002ULL};
	assert_int_equal(call(s, FUSE_LINK, 1, &li, sizeof(li), "l2", NULL, NULL), -ESTALE);
	/* No device nodes on the host. */
	struct fuse_mknod_in mk = {.mode = S_IFCHR | 0666, .rdev = 0x0103};
	assert_int_equal(call(s, FUSE_MKNOD, 1, &mk, sizeof(mk), "null", NULL, NULL), -EPERM);
	mk.mode = S_IFBLK | 0666;
	assert_int_equal(call(s, FUSE_MKNOD, 1, &mk, sizeof(mk), "sda", NULL, NULL), -EPERM);
	/* BATCH_FORGET of nodeids that are not ours is harmless. */
	uint8_t bfb[sizeof(struct fuse_batch_forget_in) + 2 * sizeof(struct fuse_forget_one)];
	struct fuse_batch_forget_in bf = {.count = 2};
	struct fuse_forget_one fo[2] = {{0xffffffffffffULL, 5}, {1, 1000}};
	memcpy(bfb, &bf, sizeof(bf));
	memcpy(bfb + sizeof(bf), fo, sizeof(fo));
	(void)call(s, FUSE_BATCH_FORGET, 0, bfb, sizeof(bfb), NULL, NULL, NULL);
	assert_int_equal(call(s, FUSE_GETATTR, 1, &ga, sizeof(ga), NULL, NULL, NULL), 0);
	sentinel_untouched();
	char p[256];
	snprintf(p, sizeof(p), "%s/stolen", env.top);
	assert_int_not_equal(access(p, F_OK), 0);
	fs_srv_destroy(s);
}

static void test_srv_readonly(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, true);
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	assert_int_equal(err, 0);
	open_fh(s, file, O_WRONLY, &err);
	assert_int_equal(err, -EROFS);
	open_fh(s, file, O_RDWR, &err);
	assert_int_equal(err, -EROFS);
	open_fh(s, file, O_RDONLY | O_TRUNC, &err);
	assert_int_equal(err, -EROFS);
	uint64_t fh = open_fh(s, file, O_RDONLY, &err);
	assert_int_equal(err, 0);
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = 0644};
	assert_int_equal(call(s, FUSE_CREATE, 1, &ci, sizeof(ci), "new", NULL, NULL), -EROFS);
	struct fuse_mkdir_in mi = {.mode = 0755};
	assert_int_equal(call(s, FUSE_MKDIR, 1, &mi, sizeof(mi), "d", NULL, NULL), -EROFS);
	assert_int_equal(call(s, FUSE_UNLINK, 1, NULL, 0, "file", NULL, NULL), -EROFS);
	assert_int_equal(call(s, FUSE_RMDIR, 1, NULL, 0, "sub", NULL, NULL), -EROFS);
	assert_int_equal(call(s, FUSE_SYMLINK, 1, NULL, 0, "l", "x", NULL), -EROFS);
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};
	assert_int_equal(call(s, FUSE_SETATTR, file, &sa, sizeof(sa), NULL, NULL, NULL), -EROFS);
	struct fuse_rename_in rn = {.newdir = 1};
	assert_int_equal(call(s, FUSE_RENAME, 1, &rn, sizeof(rn), "file", "f2", NULL), -EROFS);
	struct fuse_link_in li = {.oldnodeid = file};
	assert_int_equal(call(s, FUSE_LINK, 1, &li, sizeof(li), "f3", NULL, NULL), -EROFS);
	struct fuse_mknod_in mk = {.mode = S_IFIFO | 0644};
	assert_int_equal(call(s, FUSE_MKNOD, 1, &mk, sizeof(mk), "p", NULL, NULL), -EROFS);
	struct fuse_fallocate_in fa = {.fh = fh, .length = 4096};
	assert_int_equal(call(s, FUSE_FALLOCATE, file, &fa, sizeof(fa), NULL, NULL, NULL), -EROFS);
	struct fuse_write_in wr = {.fh = fh, .size = 0};
	assert_int_equal(call(s, FUSE_WRITE, file, &wr, sizeof(wr), NULL, NULL, NULL), -EROFS);
	struct fuse_rename2_in rn2 = {.newdir = 1, .flags = 0};
	assert_int_equal(call(s, FUSE_RENAME2, 1, &rn2, sizeof(rn2), "file", "f4", NULL), -EROFS);
	uint8_t xa[64];
	struct fuse_setxattr_in sx = {.size = 2};
	memcpy(xa, &sx, 8);
	memcpy(xa + 8, "user.cvmm\0v1", 12);
	s->xattr = true; /* else ENOSYS would answer first */
	assert_int_equal(call(s, FUSE_SETXATTR, file, xa, 20, NULL, NULL, NULL), -EROFS);
	assert_int_equal(call(s, FUSE_REMOVEXATTR, file, NULL, 0, "user.x", NULL, NULL), -EROFS);
	char p[256];
	snprintf(p, sizeof(p), "%s/f4", env.share);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/new", env.share);
	assert_int_not_equal(access(p, F_OK), 0);
	fs_srv_destroy(s);
}

/* The registered-file hook: an OPEN whose slot cannot be set fails (and
 * closes its descriptor); a slot that cannot be cleared is not reused. */
static int hook_calls, hook_fail_set, hook_fail_clear;
static int test_hook(void *opaque, unsigned slot, int fd)
{
	(void)opaque;
	(void)slot;
	hook_calls++;
	if (fd >= 0 && hook_fail_set)
		return -EBUSY;
	if (fd < 0 && hook_fail_clear)
		return -EIO;
	return 0;
}

static void test_srv_file_hook(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	int probe = open("/dev/null", O_RDONLY);
	close(probe);
	srv_up(s, false);
	s->hook = test_hook;
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	hook_fail_set = 1;
	open_fh(s, file, O_RDONLY, &err);
	assert_int_equal(err, -EBUSY);
	hook_fail_set = 0;
	uint64_t fh = open_fh(s, file, O_RDONLY, &err);
	assert_int_equal(err, 0);
	assert_int_equal(fh & 0xffffffff, 0);
	hook_fail_clear = 1;
	struct fuse_release_in rl = {.fh = fh};
	assert_int_equal(call(s, FUSE_RELEASE, file, &rl, sizeof(rl), NULL, NULL, NULL), 0);
	hook_fail_clear = 0;
	uint64_t fh2 = open_fh(s, file, O_RDONLY, &err);
	assert_int_equal(err, 0);
	assert_int_equal(fh2 & 0xffffffff, 1); /* slot 0 stays out of use */
	assert_int_equal(hook_calls, 4);
	fs_srv_destroy(s);
	int after = open("/dev/null", O_RDONLY);
	assert_int_equal(after, probe);
	close(after);
}

/* A full inode table answers ENFILE; a forgotten slot comes back with
 * another generation, so the old nodeid is stale. No descriptor leaks. */
static void test_srv_table_full(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	int probe = open("/dev/null", O_RDONLY);
	close(probe);
	srv_up_cap(s, false, 3);
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	assert_int_equal(err, 0);
	lookup(s, 1, "sub", &err);
	assert_int_equal(err, 0);
	lookup(s, 1, "rel", &err);
	assert_int_equal(err, -ENFILE);
	struct fuse_forget_in fg = {.nlookup = 1};
	(void)call(s, FUSE_FORGET, file, &fg, sizeof(fg), NULL, NULL, NULL);
	uint64_t rel = lookup(s, 1, "rel", &err);
	assert_int_equal(err, 0);
	assert_int_equal(rel & 0xffffffff, file & 0xffffffff); /* the same slot */
	assert_int_not_equal(rel, file);
	struct fuse_getattr_in ga = {0};
	assert_int_equal(call(s, FUSE_GETATTR, file, &ga, sizeof(ga), NULL, NULL, NULL), -ESTALE);
	assert_int_equal(call(s, FUSE_DESTROY, 0, NULL, 0, NULL, NULL, NULL), 0);
	fs_srv_destroy(s);
	int after = open("/dev/null", O_RDONLY);
	assert_int_equal(after, probe);
	close(after);
}

/* xattr calls: ENOSYS unless the share has xattr on; then set, get (size
 * probe and value), list, remove, where the host file system allows. */
static void test_srv_xattr(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	uint64_t abs = lookup(s, 1, "abs", &err);
	uint8_t a[64];
	struct fuse_setxattr_in si = {.size = 2};
	memcpy(a, &si, 8);
	memcpy(a + 8, "user.cvmm\0v1", 12);
	assert_int_equal(call(s, FUSE_SETXATTR, file, a, 20, NULL, NULL, NULL), -ENOSYS);
	/* A value whose size disagrees with the bytes sent. */
	si.size = 5;
	memcpy(a, &si, 8);
	assert_int_equal(call(s, FUSE_SETXATTR, file, a, 20, NULL, NULL, NULL), -EINVAL);
	s->xattr = true;
	si.size = 2;
	memcpy(a, &si, 8);
	int r = call(s, FUSE_SETXATTR, file, a, 20, NULL, NULL, NULL);
	if (r == -EOPNOTSUPP) { /* the host file system has no user xattrs */
		fs_srv_destroy(s);
		skip();
	}
	assert_int_equal(r, 0);
	struct fuse_getxattr_in gi = {.size = 0};
	size_t len;
	assert_int_equal(call(s, FUSE_GETXATTR, file, &gi, sizeof(gi), "user.cvmm", NULL, &len), 0);
	struct fuse_getxattr_out go;
	memcpy(&go, inbuf + 16, sizeof(go));
	assert_int_equal(go.size, 2);
	gi.size = 64;
	assert_int_equal(call(s, FUSE_GETXATTR, file, &gi, sizeof(gi), "user.cvmm", NULL, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(inbuf + 16, "v1", 2);
	gi.size = 1;
	assert_int_equal(call(s, FUSE_GETXATTR, file, &gi, sizeof(gi), "user.cvmm", NULL, &len),
			 -ERANGE);
	gi.size = 256;
	assert_int_equal(call(s, FUSE_LISTXATTR, file, &gi, sizeof(gi), NULL, NULL, &len), 0);
	assert_non_null(memmem(inbuf + 16, len, "user.cvmm", 10));
	assert_int_equal(call(s, FUSE_REMOVEXATTR, file, NULL, 0, "user.cvmm", NULL, NULL), 0);
	assert_int_equal(call(s, FUSE_GETXATTR, file, &gi, sizeof(gi), "user.cvmm", NULL, &len),
			 -ENODATA);
	/* Never on a link (nor through it). */
	assert_int_equal(call(s, FUSE_GETXATTR, abs, &gi, sizeof(gi), "user.cvmm", NULL, &len),
			 -EOPNOTSUPP);
	fs_srv_destroy(s);
	srv_up(s, true); /* a read-only share refuses SETXATTR and REMOVEXATTR */
	s->xattr = true;
	file = lookup(s, 1, "file", &err);
	assert_int_equal(call(s, FUSE_SETXATTR, file, a, 20, NULL, NULL, NULL), -EROFS);
	assert_int_equal(call(s, FUSE_REMOVEXATTR, file, NULL, 0, "user.cvmm", NULL, NULL), -EROFS);
	sentinel_untouched();
	fs_srv_destroy(s);
}

/* ---- races: another party acting between the server's check and its use ---------- */

/* The request runs on a thread of its own whose seccomp filter turns the
 * given syscalls into user notifications; at the first of them the test
 * runs `swap` (what a second guest on the same directory, or the host,
 * could do at that moment), then lets the call go on. So the interleaving
 * the server must survive is reproduced exactly, every run. */
struct race {
	const int *sys;
	unsigned nsys;
	void (*swap)(void);
	int (*req)(void);
	atomic_int fd; /* the listener: -1 until the thread has it, -2: none */
	atomic_bool done;
	int result;
	int traps;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	struct sock_filter f[2 + 2 * 8 + 1];
	unsigned n = 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < r->nsys && i < 8; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)r->sys[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	int fd = -2;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
		long l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				 SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		fd = l < 0 ? -2 : (int)l;
	}
	atomic_store(&r->fd, fd);
	if (fd >= 0)
		r->result = r->req();
	atomic_store(&r->done, true);
	return NULL;
}

/* Runs r->req on its own thread, r->swap at its first trapped syscall.
 * Returns false where the kernel has no seccomp user notification. */
static bool race_run(struct race *r)
{
	atomic_store(&r->fd, -1);
	atomic_store(&r->done, false);
	r->traps = 0;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, race_thread, r), 0);
	while (atomic_load(&r->fd) == -1)
		usleep(1000);
	int fd = atomic_load(&r->fd);
	while (fd >= 0 && !atomic_load(&r->done)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0 || !(p.revents & POLLIN))
			continue;
		struct seccomp_notif req;
		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue;
		if (r->traps++ == 0)
			r->swap();
		struct seccomp_notif_resp resp = {.id = req.id,
						  .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
		(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	pthread_join(t, NULL);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static uint64_t race_node;
static uint32_t race_mode;

static int req_chmod(void)
{
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = race_mode};
	return call(&env.srv, FUSE_SETATTR, race_node, &sa, sizeof(sa), NULL, NULL, NULL);
}

static int req_mtime(void)
{
	struct fuse_setattr_in sa = {.valid = FATTR_MTIME, .mtime = 123456789};
	return call(&env.srv, FUSE_SETATTR, race_node, &sa, sizeof(sa), NULL, NULL, NULL);
}

static void share_path(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", env.share, name);
}

/* The host (or a guest sharing the directory) moves "file" aside and puts
 * a symlink to the sentinel outside the share in its place. */
static void swap_file_for_link(void)
{
	char a[256], b[256];
	share_path(a, sizeof(a), "file");
	share_path(b, sizeof(b), "file.orig");
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink(env.sentinel, a), 0);
}

static void unswap_file(void)
{
	char a[256], b[256];
	share_path(a, sizeof(a), "file");
	share_path(b, sizeof(b), "file.orig");
	assert_int_equal(unlink(a), 0);
	assert_int_equal(rename(b, a), 0);
}

static struct stat stat_of(const char *name)
{
	char p[256];
	struct stat st;
	share_path(p, sizeof(p), name);
	assert_int_equal(lstat(p, &st), 0);
	return st;
}

static const int chmod_calls[] = {SYS_fchmodat, __NR_fchmodat2, SYS_fchmod};

/* SETATTR acts on the inode it was given, never on whatever its name
 * resolves to by then: a symlink swapped in after the server's check must
 * not carry a chmod (or a time change) outside the share. */
static void test_srv_setattr_swap(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	int err;
	race_node = lookup(s, 1, "file", &err);
	assert_int_equal(err, 0);
	/* chmod three ways: fchmodat2 on the handle; as on a kernel without
	 * it (the handle's /proc/self/fd link); as without /proc either (a
	 * descriptor checked to be the inode). */
	for (unsigned way = 0; way < 3; way++) {
		s->no_fchmodat2 = way >= 1;
		if (way == 2) {
			close(s->proc_fd);
			s->proc_fd = -1;
		}
		race_mode = 0606 - way;
		struct race r = {.sys = chmod_calls,
				 .nsys = 3,
				 .swap = swap_file_for_link,
				 .req = req_chmod};
		if (!race_run(&r)) {
			fs_srv_destroy(s);
			skip();
		}
		assert_true(r.traps >= 1); /* the swap did happen mid-request */
		sentinel_untouched();
		assert_int_equal(r.result, 0);
		assert_int_equal(stat_of("file.orig").st_mode & 07777, 0606 - way);
		assert_true(S_ISLNK(stat_of("file").st_mode));
		unswap_file();
		/* The swap done before the request: chmod still lands on the
		 * inode, or (without /proc) its name is gone: ESTALE. */
		swap_file_for_link();
		race_mode = 0640 - way;
		assert_int_equal(req_chmod(), way < 2 ? 0 : -ESTALE);
		sentinel_untouched();
		if (way < 2)
			assert_int_equal(stat_of("file.orig").st_mode & 07777, 0640 - way);
		unswap_file();
	}
	s->no_fchmodat2 = false;
	/* Times: the same swap, between the check and utimensat. */
	static const int utime_calls[] = {SYS_utimensat};
	struct race rt = {
		.sys = utime_calls, .nsys = 1, .swap = swap_file_for_link, .req = req_mtime};
	assert_true(race_run(&rt));
	assert_true(rt.traps >= 1);
	sentinel_untouched();
	assert_int_equal(rt.result, 0);
	assert_int_equal(stat_of("file.orig").st_mtim.tv_sec, 123456789);
	unswap_file();
	/* A symlink's own nodeid: chmod never follows it. */
	uint64_t abs = lookup(s, 1, "abs", &err);
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};
	assert_int_equal(call(s, FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, NULL),
			 -EOPNOTSUPP);
	sentinel_untouched();
	fs_srv_destroy(s);
}

/* Two servers on one directory (two shares, or two VMs): the second one's
 * guest renames the file away and makes a symlink to the sentinel under its
 * name exactly while the first one's chmod is under way. */
static void swap_by_second_server(void)
{
	struct fuse_rename_in rn = {.newdir = 1};
	assert_int_equal(call_io(&io1, &env.srv2, FUSE_RENAME, 1, &rn, sizeof(rn), "file",
				 "file.orig", NULL),
			 0);
	assert_int_equal(
		call_io(&io1, &env.srv2, FUSE_SYMLINK, 1, NULL, 0, "file", env.sentinel, NULL), 0);
}

static void test_srv_two_servers_swap(void **state)
{
	(void)state;
	struct fs_srv *a = &env.srv, *b = &env.srv2;
	srv_up(a, false);
	srv_up(b, false);
	int err;
	race_node = lookup(a, 1, "file", &err);
	assert_int_equal(err, 0);
	lookup_io(&io1, b, 1, "file", &err);
	assert_int_equal(err, 0);
	race_mode = 0604;
	struct race r = {
		.sys = chmod_calls, .nsys = 3, .swap = swap_by_second_server, .req = req_chmod};
	if (!race_run(&r)) {
		fs_srv_destroy(a);
		fs_srv_destroy(b);
		skip();
	}
	assert_true(r.traps >= 1);
	sentinel_untouched();
	assert_int_equal(r.result, 0);
	assert_int_equal(stat_of("file.orig").st_mode & 07777, 0604);
	/* The second server sees the chmod on the file it renamed. */
	uint64_t moved = lookup_io(&io1, b, 1, "file.orig", &err);
	assert_int_equal(err, 0);
	struct fuse_getattr_in ga = {0};
	size_t len;
	assert_int_equal(call_io(&io1, b, FUSE_GETATTR, moved, &ga, sizeof(ga), NULL, NULL, &len),
			 0);
	struct fuse_attr_out ao;
	memcpy(&ao, io1.in + 16, sizeof(ao));
	assert_int_equal(ao.attr.mode & 07777, 0604);
	fs_srv_destroy(a);
	fs_srv_destroy(b);
}

/* LINK as a worker does it, without CAP_DAC_READ_SEARCH (linkat's
 * AT_EMPTY_PATH then fails): through the source's /proc/self/fd link, or
 * without /proc by its name, checked; either way the inode the guest
 * named, or nothing. */
static uint64_t link_src;
static int link_rc;
static const char *link_name;

static void *link_thread(void *arg)
{
	(void)arg;
	link_rc = jail_caps_limit(0);
	if (link_rc == 0) {
		struct fuse_link_in li = {.oldnodeid = link_src};
		link_rc = call(&env.srv, FUSE_LINK, 1, &li, sizeof(li), link_name, NULL, NULL);
	}
	return NULL;
}

static int link_without_caps(uint64_t src, const char *name)
{
	link_src = src;
	link_name = name;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, link_thread, NULL), 0);
	pthread_join(t, NULL);
	return link_rc;
}

static void test_srv_link_fallbacks(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	int err;
	uint64_t file = lookup(s, 1, "file", &err);
	uint64_t abs = lookup(s, 1, "abs", &err);
	assert_int_equal(link_without_caps(file, "l1"), 0);
	assert_int_equal(stat_of("l1").st_ino, stat_of("file").st_ino);
	/* a symlink's handle links the symlink, never its target */
	assert_int_equal(link_without_caps(abs, "l2"), 0);
	assert_int_equal(stat_of("l2").st_ino, stat_of("abs").st_ino);
	close(s->proc_fd);
	s->proc_fd = -1;
	assert_int_equal(link_without_caps(file, "l3"), 0);
	assert_int_equal(stat_of("l3").st_ino, stat_of("file").st_ino);
	/* the name no longer the inode: nothing is linked (LOOKUP first: each
	 * LINK made "l3" the name the server knows the inode by) */
	assert_int_equal(lookup(s, 1, "file", &err), file);
	swap_file_for_link();
	assert_int_equal(link_without_caps(file, "l4"), -ESTALE);
	char p[256];
	share_path(p, sizeof(p), "l4");
	assert_int_not_equal(access(p, F_OK), 0);
	unswap_file();
	sentinel_untouched();
	fs_srv_destroy(s);
}

/* ---- FIFOs and device nodes: no request may block, none is opened --------------- */

static const char *volatile hang_at;

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "test_fs: a request blocked (no answer within 10 s): ";
	ssize_t n = write(2, m, sizeof(m) - 1);
	n = write(2, (const char *)hang_at, strlen((const char *)hang_at));
	n = write(2, "\n", 1);
	(void)n;
	_exit(1);
}

/* A request that blocks fails the test (in 10 s) instead of hanging it. */
static void must_not_block(const char *what)
{
	hang_at = what;
	signal(SIGALRM, on_alarm);
	alarm(10);
}

static void unblocked(void)
{
	alarm(0);
}

static int create(struct fs_srv *s, uint64_t dir, const char *name, uint32_t flags, uint64_t *fh)
{
	struct fuse_create_in ci = {.flags = flags, .mode = S_IFREG | 0644};
	size_t len;
	int r = call(s, FUSE_CREATE, dir, &ci, sizeof(ci), name, NULL, &len);
	if (r == 0 && fh) {
		struct fuse_open_out oo;
		memcpy(&oo, inbuf + 16 + sizeof(struct fuse_entry_out), sizeof(oo));
		*fh = oo.fh;
	}
	return r;
}

static void make_fifo(const char *name)
{
	char p[256];
	share_path(p, sizeof(p), name);
	assert_int_equal(mkfifo(p, 0644), 0);
}

/* A FIFO swapped in for "file3" between the server's check and its open. */
static void swap_file3_for_fifo(void)
{
	char a[256], b[256];
	share_path(a, sizeof(a), "fifo3");
	share_path(b, sizeof(b), "file3");
	assert_int_equal(rename(a, b), 0);
}

static uint64_t race_fh_node;
static int req_open_ro(void)
{
	int err;
	open_fh(&env.srv, race_fh_node, O_RDONLY, &err);
	return err;
}

static void test_srv_fifo(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	s->xattr = true;
	int err;
	/* The guest makes a FIFO, then CREATEs it (no O_EXCL) every way. */
	struct fuse_mknod_in mk = {.mode = S_IFIFO | 0644};
	assert_int_equal(call(s, FUSE_MKNOD, 1, &mk, sizeof(mk), "fifo", NULL, NULL), 0);
	uint64_t fifo = lookup(s, 1, "fifo", &err);
	assert_int_equal(err, 0);
	static const uint32_t modes[] = {O_RDONLY, O_RDWR, O_WRONLY, O_RDWR | O_TRUNC};
	static const char *const creates[] = {"CREATE fifo O_RDONLY", "CREATE fifo O_RDWR",
					      "CREATE fifo O_WRONLY", "CREATE fifo O_RDWR|O_TRUNC"};
	for (unsigned i = 0; i < 4; i++) {
		must_not_block(creates[i]);
		int r = create(s, 1, "fifo", modes[i], NULL);
		unblocked();
		assert_int_equal(r, -EACCES);
	}
	static const char *const opens[] = {"OPEN fifo O_RDONLY", "OPEN fifo O_RDWR",
					    "OPEN fifo O_WRONLY"};
	for (unsigned i = 0; i < 3; i++) {
		must_not_block(opens[i]);
		open_fh(s, fifo, modes[i], &err);
		unblocked();
		assert_int_equal(err, -EACCES);
	}
	/* RENAME of a FIFO over a file the guest knows, then calls that reopen
	 * the old nodeid by its name: the FIFO is never opened. */
	uint64_t file = lookup(s, 1, "file", &err);
	assert_int_equal(call(s, FUSE_MKNOD, 1, &mk, sizeof(mk), "fifo2", NULL, NULL), 0);
	struct fuse_rename_in rn = {.newdir = 1};
	assert_int_equal(call(s, FUSE_RENAME, 1, &rn, sizeof(rn), "fifo2", "file", NULL), 0);
	static const char *const reopens[] = {"OPEN renamed-over O_RDONLY",
					      "OPEN renamed-over O_RDWR",
					      "OPEN renamed-over O_WRONLY"};
	for (unsigned i = 0; i < 3; i++) {
		must_not_block(reopens[i]);
		open_fh(s, file, modes[i], &err);
		unblocked();
		assert_int_equal(err, -ESTALE);
	}
	must_not_block("SETATTR size of renamed-over");
	struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 1};
	int r = call(s, FUSE_SETATTR, file, &sa, sizeof(sa), NULL, NULL, NULL);
	unblocked();
	assert_int_equal(r, -ESTALE);
	must_not_block("GETXATTR of renamed-over");
	struct fuse_getxattr_in gi = {.size = 64};
	r = call(s, FUSE_GETXATTR, file, &gi, sizeof(gi), "user.x", NULL, NULL);
	unblocked();
	assert_int_equal(r, -ESTALE);
	/* The same swap between the server's check and its open. */
	char p[256];
	share_path(p, sizeof(p), "file3");
	write_file(p, "three");
	make_fifo("fifo3");
	race_fh_node = lookup(s, 1, "file3", &err);
	assert_int_equal(err, 0);
	static const int open_calls[] = {SYS_openat2};
	struct race rc = {
		.sys = open_calls, .nsys = 1, .swap = swap_file3_for_fifo, .req = req_open_ro};
	must_not_block("OPEN with a FIFO swapped in mid-request");
	bool raced = race_run(&rc);
	unblocked();
	if (raced) {
		assert_true(rc.traps >= 1);
		assert_int_equal(rc.result, -ESTALE);
	}
	/* Regular files still open, and their I/O is blocking I/O (io_uring
	 * answers EAGAIN on an O_NONBLOCK file rather than wait for the disk). */
	uint64_t fh = 0;
	assert_int_equal(create(s, 1, "plain", O_RDWR, &fh), 0);
	struct fuse_read_in rd = {.fh = fh, .size = 16};
	assert_int_equal(call(s, FUSE_READ, 1, &rd, sizeof(rd), NULL, NULL, NULL), 0);
	assert_int_equal(fcntl(ro.io_fd, F_GETFL) & O_NONBLOCK, 0);
	uint64_t plain = lookup(s, 1, "plain", &err);
	fh = open_fh(s, plain, O_RDONLY, &err);
	assert_int_equal(err, 0);
	rd.fh = fh;
	assert_int_equal(call(s, FUSE_READ, 1, &rd, sizeof(rd), NULL, NULL, NULL), 0);
	assert_int_equal(fcntl(ro.io_fd, F_GETFL) & O_NONBLOCK, 0);
	sentinel_untouched();
	fs_srv_destroy(s);
}

/* CREATE without O_EXCL of a name that exists opens it only if it is a
 * regular file: never a host device node or a FIFO (as OPEN). */
static void test_srv_create_special(void **state)
{
	(void)state;
	char p[256];
	share_path(p, sizeof(p), "null");
	/* a device node the host put in the share (where we may make one) */
	bool dev = mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0;
	if (!dev)
		fprintf(stderr, "test_fs: no device node (mknod: %s): FIFO only\n",
			strerror(errno));
	make_fifo("pipe");
	struct fs_srv *s = &env.srv;
	srv_up(s, false);
	static const uint32_t modes[] = {O_RDONLY, O_WRONLY, O_RDWR, O_RDWR | O_TRUNC,
					 O_WRONLY | O_APPEND};
	const char *names[] = {"pipe", "null"};
	for (unsigned n = 0; n < (dev ? 2u : 1u); n++) {
		for (unsigned i = 0; i < 5; i++) {
			must_not_block("CREATE of an existing FIFO or device node");
			int r = create(s, 1, names[n], modes[i], NULL);
			unblocked();
			assert_int_equal(r, -EACCES);
			r = create(s, 1, names[n], modes[i] | O_EXCL, NULL);
			assert_int_equal(r, -EEXIST);
		}
	}
	/* A directory, a symlink: refused too; an existing regular file is
	 * opened (and truncated when asked). */
	assert_int_equal(create(s, 1, "sub", O_RDWR, NULL), -EISDIR);
	assert_int_not_equal(create(s, 1, "abs", O_RDWR, NULL), 0);
	uint64_t fh = 0;
	assert_int_equal(create(s, 1, "file", O_RDWR | O_TRUNC, &fh), 0);
	assert_int_equal(stat_of("file").st_size, 0);
	assert_int_equal(create(s, 1, "file", O_RDWR | O_EXCL, NULL), -EEXIST);
	assert_int_equal(create(s, 1, "fresh", O_RDWR | O_EXCL, &fh), 0);
	assert_true(S_ISREG(stat_of("fresh").st_mode));
	sentinel_untouched();
	fs_srv_destroy(s);
}

/* FORGET drops lookup references only: an open file keeps its inode (and
 * its slot) until RELEASE, whatever count the guest forgets. */
static void test_srv_forget_open_file(void **state)
{
	(void)state;
	struct fs_srv *s = &env.srv;
	int probe = open("/dev/null", O_RDONLY);
	close(probe);
	srv_up(s, false);
	for (unsigned batch = 0; batch < 2; batch++) {
		int err;
		uint64_t file = lookup(s, 1, "file", &err);
		assert_int_equal(err, 0);
		uint64_t fh = open_fh(s, file, O_RDONLY, &err);
		assert_int_equal(err, 0);
		if (batch) {
			uint8_t b[sizeof(struct fuse_batch_forget_in) +
				  sizeof(struct fuse_forget_one)];
			struct fuse_batch_forget_in bf = {.count = 1};
			struct fuse_forget_one one = {.nodeid = file, .nlookup = UINT64_MAX};
			memcpy(b, &bf, sizeof(bf));
			memcpy(b + sizeof(bf), &one, sizeof(one));
			(void)call(s, FUSE_BATCH_FORGET, 0, b, sizeof(b), NULL, NULL, NULL);
		} else {
			struct fuse_forget_in fg = {.nlookup = UINT64_MAX};
			(void)call(s, FUSE_FORGET, file, &fg, sizeof(fg), NULL, NULL, NULL);
		}
		/* The open file still reads, and its slot is not handed out. */
		struct fuse_read_in rd = {.fh = fh, .size = 16};
		size_t len;
		assert_int_equal(call(s, FUSE_READ, file, &rd, sizeof(rd), NULL, NULL, &len), 0);
		assert_int_equal(len, 6);
		uint64_t sub = lookup(s, 1, "sub", &err);
		assert_int_equal(err, 0);
		assert_int_not_equal(sub & 0xffffffff, file & 0xffffffff);
		struct fuse_release_in rl = {.fh = fh};
		assert_int_equal(call(s, FUSE_RELEASE, file, &rl, sizeof(rl), NULL, NULL, NULL), 0);
		/* RELEASE dropped the file's own reference, nobody else's. */
		struct fuse_getattr_in ga = {0};
		assert_int_equal(call(s, FUSE_GETATTR, sub, &ga, sizeof(ga), NULL, NULL, NULL), 0);
		assert_int_equal(call(s, FUSE_GETATTR, file, &ga, sizeof(ga), NULL, NULL, NULL),
				 -ESTALE);
		struct fuse_forget_in fg = {.nlookup = 1};
		(void)call(s, FUSE_FORGET, sub, &fg, sizeof(fg), NULL, NULL, NULL);
		assert_int_equal(call(s, FUSE_GETATTR, sub, &ga, sizeof(ga), NULL, NULL, NULL),
				 -ESTALE);
	}
	fs_srv_destroy(s);
	int after = open("/dev/null", O_RDONLY);
	assert_int_equal(after, probe);
	close(after);
}

/* ---- the device: both workers on real rings, jailed by their own filters ---- */

#define DQ_NUM	 16
#define DQ_DESC	 0x1000
#define DQ_AVAIL 0x2000
#define DQ_USED	 0x3000
#define DQ_BUF	 0x10000 /* request k: readable at +k*0x4000, writable at +0x2000 */

struct dev_rig {
	struct fake_mem fm;
	struct rr_ring ring; /* the request queue, the driver's side */
	struct fs *f;
	int efd;
};

/* Makes the request in io1's buffer (n bytes) available on the request
 * queue, without a kick; its reply goes to the request's writable buffer
 * (dev_reply(k)). */
static unsigned dev_post(struct dev_rig *r, size_t n)
{
	unsigned k = r->ring.avail_idx % (DQ_NUM / 2);
	uint64_t out = DQ_BUF + k * 0x4000ULL, in = out + 0x2000;
	memcpy(fake_at(&r->fm, out, n), io1.out, n);
	memset(fake_at(&r->fm, in, 0x2000), 0, 0x2000);
	struct rr_seg segs[2] = {{out, (uint32_t)n, 0}, {in, 0x2000, VRING_DESC_F_WRITE}};
	r->ring.next_desc = (uint16_t)(2 * k);
	rr_post(&r->ring, segs, 2);
	return k;
}

static void dev_kick(struct dev_rig *r)
{
	uint64_t one = 1;
	assert_int_equal(write(fs_kick_fd(r->f, 1), &one, sizeof(one)), (ssize_t)sizeof(one));
}

static unsigned dev_send(struct dev_rig *r, size_t n)
{
	unsigned k = dev_post(r, n);
	dev_kick(r);
	return k;
}

/* Waits (5 s at most) for `count` used entries. */
static bool dev_wait(struct dev_rig *r, uint16_t count)
{
	for (int i = 0; i < 5000; i++) {
		if ((uint16_t)(rr_used_idx(&r->ring) - count) < 0x8000)
			return true;
		usleep(1000);
	}
	return false;
}

/* The reply of request slot k: its error, its first plen payload bytes
 * at *payload (when the error is 0). */
static int dev_reply(struct dev_rig *r, unsigned k, void *payload, size_t plen)
{
	const uint8_t *in = fake_at(&r->fm, DQ_BUF + k * 0x4000ULL + 0x2000, 0x2000);
	struct fuse_out_header oh;
	memcpy(&oh, in, sizeof(oh));
	if (payload && oh.error == 0)
		memcpy(payload, in + sizeof(oh), plen);
	return oh.error;
}

static int dev_call(struct dev_rig *r, uint32_t op, uint64_t nodeid, const void *arg, size_t alen,
		    const char *n1, const char *n2, void *payload, size_t plen)
{
	size_t n = build_io(&io1, op, nodeid, arg, alen, n1, n2);
	unsigned k = dev_send(r, n);
	assert_true(dev_wait(r, r->ring.avail_idx));
	return dev_reply(r, k, payload, plen);
}

/* A share of env.share, its request queue activated, FUSE_INIT done. */
static void dev_up(struct dev_rig *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(fake_mem_init(&r->fm, 1 * MiB), 0);
	rr_set(&r->ring, &r->fm.m, DQ_DESC, DQ_AVAIL, DQ_USED, DQ_NUM);
	struct fs_cfg cfg = {.tag = "t", .path = env.share};
	struct err e = {0};
	assert_int_equal(fs_open(&r->f, &cfg, 0, &e), 0);
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_irqfds irq = {.config = r->efd};
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		irq.vq[i] = r->efd;
	assert_int_equal(fs_start(r->f, &r->fm.m, &irq, &e), 0);
	struct virtio_dev *d = fs_vdev(r->f);
	d->driver_features = 1ULL << VIRTIO_F_VERSION_1;
	d->qcfg[1] = (struct virtio_queue_cfg){
		.num = DQ_NUM, .ready = true, .desc = DQ_DESC, .avail = DQ_AVAIL, .used = DQ_USED};
	assert_int_equal(d->ops->activate(d), 0);
	struct fuse_init_in ii = {.major = 7, .minor = 38};
	assert_int_equal(dev_call(r, FUSE_INIT, 0, &ii, sizeof(ii), NULL, NULL, NULL, 0), 0);
}

static void dev_down(struct dev_rig *r)
{
	fs_destroy(r->f);
	close(r->efd);
	fake_mem_free(&r->fm);
}

/* What a vCPU does when the guest writes status 0: start the reset (it
 * must return at once), then, as the driver polls the status, see it end. */
static void *dev_reset_thread(void *arg)
{
	struct virtio_dev *d = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->ops->reset_start(d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	struct timespec until = t1;
	until.tv_sec += 10;
	assert_true(d->ops->reset_done(d, &until));
	return NULL;
}

/* A guest reset with a READ of a FIFO queued must return (the vCPU that
 * resets holds the device lock); and the worker's seccomp filter allows
 * every call the server makes (SETATTR, LINK, OPEN, READ...). */
static void test_dev_reset_fifo(void **state)
{
	(void)state;
	struct dev_rig r;
	dev_up(&r);
	struct virtio_dev *d = fs_vdev(r.f);
	/* The calls the fixes added, through the jailed worker. */
	struct fuse_entry_out ent;
	assert_int_equal(dev_call(&r, FUSE_LOOKUP, 1, NULL, 0, "file", NULL, &ent, sizeof(ent)), 0);
	struct fuse_setattr_in sa = {
		.valid = FATTR_MODE | FATTR_MTIME, .mode = 0600, .mtime = 1000};
	assert_int_equal(
		dev_call(&r, FUSE_SETATTR, ent.nodeid, &sa, sizeof(sa), NULL, NULL, NULL, 0), 0);
	assert_int_equal(stat_of("file").st_mode & 07777, 0600);
	struct fuse_link_in li = {.oldnodeid = ent.nodeid};
	assert_int_equal(dev_call(&r, FUSE_LINK, 1, &li, sizeof(li), "hard", NULL, NULL, 0), 0);
	assert_int_equal(stat_of("hard").st_ino, stat_of("file").st_ino);
	struct fuse_open_in oi = {.flags = O_RDONLY};
	struct fuse_open_out oo;
	assert_int_equal(
		dev_call(&r, FUSE_OPEN, ent.nodeid, &oi, sizeof(oi), NULL, NULL, &oo, sizeof(oo)),
		0);
	struct fuse_read_in rd = {.fh = oo.fh, .size = 64};
	uint8_t data[6];
	assert_int_equal(dev_call(&r, FUSE_READ, ent.nodeid, &rd, sizeof(rd), NULL, NULL, data, 6),
			 0);
	assert_memory_equal(data, "inside", 6);
	/* The FIFO: made, CREATEd read-write, READ. */
	struct fuse_mknod_in mk = {.mode = S_IFIFO | 0644};
	assert_int_equal(
		dev_call(&r, FUSE_MKNOD, 1, &mk, sizeof(mk), "dfifo", NULL, &ent, sizeof(ent)), 0);
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = S_IFREG | 0644};
	uint8_t co[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
	int cr = dev_call(&r, FUSE_CREATE, 1, &ci, sizeof(ci), "dfifo", NULL, co, sizeof(co));
	memset(&oo, 0, sizeof(oo));
	if (cr == 0)
		memcpy(&oo, co + sizeof(struct fuse_entry_out), sizeof(oo));
	rd.fh = oo.fh;
	size_t n = build_io(&io1, FUSE_READ, ent.nodeid, &rd, sizeof(rd), NULL, NULL);
	dev_send(&r, n);
	usleep(50000); /* let the READ reach the worker */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, dev_reset_thread, d), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	bool returned = pthread_timedjoin_np(t, NULL, &until) == 0;
	if (!returned)
		pthread_detach(t); /* the device cannot be destroyed either */
	assert_true(returned);
	assert_int_equal(cr, -EACCES);
	dev_down(&r);
	sentinel_untouched();
}

/* The whole content of the share's file name (at most n - 1 bytes), as a
 * string. */
static void host_text(const char *name, char *buf, size_t n)
{
	char p[256];
	share_path(p, sizeof(p), name);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t got = read(fd, buf, n - 1);
	close(fd);
	assert_true(got >= 0);
	buf[got] = 0;
}

/* A WRITE, the RELEASE of its file and an OPEN of another file, all in one
 * kick: the OPEN gets the registered-file slot the RELEASE cleared, and the
 * WRITE, queued on that slot in the same batch, must still write the file
 * it was sent for, not the one opened after it. */
static void test_dev_write_release_open(void **state)
{
	(void)state;
	struct dev_rig r;
	dev_up(&r);
	char p[256];
	share_path(p, sizeof(p), "other");
	write_file(p, "0123456789");
	struct fuse_entry_out ea, eb;
	assert_int_equal(dev_call(&r, FUSE_LOOKUP, 1, NULL, 0, "file", NULL, &ea, sizeof(ea)), 0);
	assert_int_equal(dev_call(&r, FUSE_LOOKUP, 1, NULL, 0, "other", NULL, &eb, sizeof(eb)), 0);
	struct fuse_open_in oi = {.flags = O_WRONLY};
	struct fuse_open_out oa;
	assert_int_equal(
		dev_call(&r, FUSE_OPEN, ea.nodeid, &oi, sizeof(oi), NULL, NULL, &oa, sizeof(oa)),
		0);

	uint8_t wr[sizeof(struct fuse_write_in) + 5];
	struct fuse_write_in wi = {.fh = oa.fh, .size = 5};
	memcpy(wr, &wi, sizeof(wi));
	memcpy(wr + sizeof(wi), "XXXXX", 5);
	unsigned kw =
		dev_post(&r, build_io(&io1, FUSE_WRITE, ea.nodeid, wr, sizeof(wr), NULL, NULL));
	struct fuse_release_in rl = {.fh = oa.fh};
	unsigned kr =
		dev_post(&r, build_io(&io1, FUSE_RELEASE, ea.nodeid, &rl, sizeof(rl), NULL, NULL));
	oi.flags = O_RDWR;
	unsigned ko =
		dev_post(&r, build_io(&io1, FUSE_OPEN, eb.nodeid, &oi, sizeof(oi), NULL, NULL));
	dev_kick(&r);
	assert_true(dev_wait(&r, r.ring.avail_idx));

	struct fuse_write_out wo;
	struct fuse_open_out ob;
	assert_int_equal(dev_reply(&r, kw, &wo, sizeof(wo)), 0);
	assert_int_equal(wo.size, 5);
	assert_int_equal(dev_reply(&r, kr, NULL, 0), 0);
	assert_int_equal(dev_reply(&r, ko, &ob, sizeof(ob)), 0);
	assert_int_equal(ob.fh & 0xffffffff, oa.fh & 0xffffffff); /* the slot came back */
	char text[32];
	host_text("other", text, sizeof(text));
	assert_string_equal(text, "0123456789");
	host_text("file", text, sizeof(text));
	assert_string_equal(text, "XXXXXe");
	dev_down(&r);
	sentinel_untouched();
}

/* RLIMIT_NOFILE grows with the VM's shares: each can hold FS_MAX_INODES +
 * FS_MAX_FH descriptors. fs_open raises the soft limit that far, the hard
 * one too where the process may, else the soft one up to the hard one.
 * The test puts the process's limits back. */
static void test_dev_nofile(void **state)
{
	(void)state;
	const uint64_t share = FS_MAX_INODES + FS_MAX_FH;
	assert_true(fs_nofile_want(0) == share + 1024);
	assert_true(fs_nofile_want(1) == share + 1024);
	assert_true(fs_nofile_want(4) == 4 * share + 1024);

	uint64_t want = fs_nofile_want(4);
	struct rlimit saved, rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	/* whether fs_open may go as far (a raised hard limit comes down
	 * again below: only a process allowed to raise it got here) */
	rl = (struct rlimit){want, want};
	bool room = saved.rlim_max >= want || setrlimit(RLIMIT_NOFILE, &rl) == 0;
	rl = (struct rlimit){1024, saved.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	struct fs_cfg cfg = {.tag = "t", .path = env.share, .shares = 4};
	struct err e = {0};
	struct fs *f;
	assert_int_equal(fs_open(&f, &cfg, 3, &e), 0);
	fs_destroy(f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == (room ? want : saved.rlim_max));
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

int main(void)
{
	skip_without_uring();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lookup),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_reply),
		cmocka_unit_test_setup_teardown(test_srv_rw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_xattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_file_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_setattr_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_two_servers_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_link_fallbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_create_special, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_forget_open_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_reset_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_write_release_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_nofile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
