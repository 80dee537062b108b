/* SPDX-License-Identifier: MIT */
/* virtio-fs: FUSE requests end to end without a device: each message is
 * laid out as a descriptor chain (its readable part split into up to four
 * segments, a writable part of a chosen size), then fs_parse, the server
 * (fs_srv_handle, READ done with preadv as the worker does with io_uring)
 * and fs_reply. The server serves a read-only share of a small directory
 * made once per process (files, a subdirectory, symlinks to outside), and
 * is created afresh for each input, so replays are deterministic.
 * Input layout:
 *   [0]    bit 0: send FUSE_INIT first (most inputs want it)
 *   then messages, each [k][len lo][len hi] and len bytes (the message,
 *   starting with its struct fuse_in_header):
 *     k & 3: the readable part in 1..4 segments
 *     (k >> 2) & 7: writable bytes: 0, 8, 16, 40, 200, 4096, 65536, 17
 *     k & 0x20: set the header's len to the message's length
 *     k & 0x40: replace nodeid with the last nodeid a reply gave
 *     k & 0x80: replace a leading fh (READ, RELEASE, READDIR...) with the
 *               last fh a reply gave
 * Contract checked: fs_parse answers -EINVAL only without a full header;
 * a parsed request's names are single NUL-terminated components, WRITE's
 * data is exactly its size, room fits the writable part; every error is a
 * negative errno; a READ never asks for more than the writable part; a
 * reply never claims more than the writable part; nothing is ever written
 * in the share; no descriptor leaks once the server is destroyed. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/fs.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t in_sizes[8] = {0, 8, 16, 40, 200, 4096, 65536, 17};

static char share[64];

static void make_share(void)
{
	if (share[0])
		return;
	snprintf(share, sizeof(share), "/tmp/cvmm-fuzz-fs.%d", (int)getpid());
	char p[128];
	mkdir(share, 0755);
	snprintf(p, sizeof(p), "%s/in", share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/in/file", share);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		FZ_CHECK(write(fd, "0123456789abcdef", 16) == 16);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/in/sub", share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/in/up", share);
	(void)symlink("..", p);
	snprintf(p, sizeof(p), "%s/in/abs", share);
	(void)symlink("/etc/passwd", p);
}

static uint8_t msg[70000];
static uint8_t inbuf[65536];
static struct fs_req req;
static struct fs_out out;
static struct vq_chain ch;
static struct fs_srv srv;

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

static void one(size_t len, unsigned nseg, uint32_t inlen, uint64_t *last_node, uint64_t *last_fh)
{
	layout(len, nseg, inlen);
	int r = fs_parse(&ch, &req);
	if (r < 0) {
		FZ_CHECK(r == -EINVAL && len < sizeof(struct fuse_in_header));
		return;
	}
	FZ_CHECK(len >= sizeof(struct fuse_in_header));
	FZ_CHECK(req.error <= 0 && req.error > -4096);
	FZ_CHECK(req.room <= (inlen > 16 ? inlen - 16 : 0));
	if (!req.error) {
		FZ_CHECK(req.h.len == len);
		/* Path components are single names; xattr calls carry an
		 * attribute name instead (no such rule). */
		bool xattr = req.h.opcode == FUSE_GETXATTR || req.h.opcode == FUSE_SETXATTR ||
			     req.h.opcode == FUSE_REMOVEXATTR;
		if (req.name && !xattr)
			FZ_CHECK(fs_name_ok(req.name));
		if (req.name2 && req.h.opcode != FUSE_SYMLINK && !xattr)
			FZ_CHECK(fs_name_ok(req.name2));
		if (req.h.opcode == FUSE_WRITE) {
			size_t sum = 0;
			for (unsigned i = 0; i < req.niov; i++)
				sum += req.iov[i].iov_len;
			struct fuse_write_in w;
			memcpy(&w, req.args, sizeof(w));
			FZ_CHECK(sum == w.size);
		}
	}
	fs_srv_handle(&srv, &req, &out);
	FZ_CHECK(out.error <= 0 && out.error > -4096);
	uint32_t written;
	if (out.io == FS_IO_READ) {
		FZ_CHECK(out.io_len <= req.room);
		struct iovec iov[FS_IOV_MAX];
		int n = fs_reply_iov(&ch, out.io_len, iov, FS_IOV_MAX);
		if (n < 0) { /* as the worker: no room even for the header */
			written = fs_reply(&ch, req.h.unique, -EINVAL, NULL, 0);
		} else {
			ssize_t got = n > 0 ? preadv(out.io_fd, iov, n, (off_t)out.io_off) : 0;
			written = (uint32_t)(16 + (got > 0 ? got : 0));
		}
	} else {
		FZ_CHECK(out.io == FS_IO_NONE); /* read-only: no WRITE gets through */
		written =
			req.noreply ? 0 : fs_reply(&ch, req.h.unique, out.error, out.data, out.len);
		if (!out.error && out.len >= sizeof(struct fuse_entry_out) &&
		    (req.h.opcode == FUSE_LOOKUP || req.h.opcode == FUSE_CREATE)) {
			struct fuse_entry_out e;
			memcpy(&e, out.data, sizeof(e));
			*last_node = e.nodeid;
		}
		if (!out.error && (req.h.opcode == FUSE_OPEN || req.h.opcode == FUSE_OPENDIR)) {
			struct fuse_open_out o;
			memcpy(&o, out.data, sizeof(o));
			*last_fh = o.fh;
		}
	}
	FZ_CHECK(written <= inlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	make_share();
	if (size < 1)
		return 0;
	char p[128];
	snprintf(p, sizeof(p), "%s/in", share);
	int probe = open("/dev/null", O_RDONLY);
	close(probe);
	int root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	FZ_CHECK(root >= 0);
	FZ_CHECK(fs_srv_init(&srv, root, true, 8) == 0);
	srv.xattr = true;
	uint64_t last_node = 1, last_fh = 0;
	if (data[0] & 1) {
		struct fuse_in_header h = {.len = 40 + 64, .opcode = FUSE_INIT, .unique = 1};
		struct fuse_init_in in = {.major = 7, .minor = 38, .flags = 0xffffffff};
		memcpy(msg, &h, sizeof(h));
		memcpy(msg + sizeof(h), &in, sizeof(in));
		one(sizeof(h) + sizeof(in), 1, 4096, &last_node, &last_fh);
	}
	size_t pos = 1;
	while (pos + 3 <= size) {
		uint8_t k = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
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
				h.nodeid = last_node;
			memcpy(msg, &h, sizeof(h));
			if ((k & 0x80) && len >= sizeof(h) + 8)
				memcpy(msg + sizeof(h), &last_fh, 8);
		}
		one(len, (k & 3) + 1u, in_sizes[(k >> 2) & 7], &last_node, &last_fh);
	}
	fs_srv_destroy(&srv);
	/* Every descriptor the server opened is closed again. */
	int after = open("/dev/null", O_RDONLY);
	FZ_CHECK(after == probe);
	close(after);
	/* Nothing was created in the read-only share. */
	struct stat st;
	snprintf(p, sizeof(p), "%s/in", share);
	FZ_CHECK(stat(p, &st) == 0 && st.st_nlink == 3);
	return 0;
}
