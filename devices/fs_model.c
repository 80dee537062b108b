/* SPDX-License-Identifier: MIT */
/* virtio-fs message model: FUSE requests out of descriptor chains, replies
 * into them. No syscalls. */
#include <errno.h>
#include <string.h>

#include "devices/fs.h"

/* Per opcode: the fixed argument size, how many NUL-terminated strings
 * follow it, and whether the first is a path component (vs. SYMLINK's
 * target, which is the second). */
struct fs_opspec {
	uint16_t fixed;
	uint8_t names;
	bool known;
	bool xattr; /* the name is an attribute name, not a path component */
};

#define OP(op, size, n)	 [op] = {(uint16_t)(size), (n), true, false}
#define XOP(op, size, n) [op] = {(uint16_t)(size), (n), true, true}
static const struct fs_opspec fs_ops[] = {
	OP(FUSE_LOOKUP, 0, 1),
	OP(FUSE_FORGET, sizeof(struct fuse_forget_in), 0),
	OP(FUSE_GETATTR, sizeof(struct fuse_getattr_in), 0),
	OP(FUSE_SETATTR, sizeof(struct fuse_setattr_in), 0),
	OP(FUSE_READLINK, 0, 0),
	OP(FUSE_SYMLINK, 0, 2),
	OP(FUSE_MKNOD, sizeof(struct fuse_mknod_in), 1),
	OP(FUSE_MKDIR, sizeof(struct fuse_mkdir_in), 1),
	OP(FUSE_UNLINK, 0, 1),
	OP(FUSE_RMDIR, 0, 1),
	OP(FUSE_RENAME, sizeof(struct fuse_rename_in), 2),
	OP(FUSE_LINK, sizeof(struct fuse_link_in), 1),
	OP(FUSE_OPEN, sizeof(struct fuse_open_in), 0),
	OP(FUSE_READ, sizeof(struct fuse_read_in), 0),
	OP(FUSE_WRITE, sizeof(struct fuse_write_in), 0),
	OP(FUSE_STATFS, 0, 0),
	OP(FUSE_RELEASE, sizeof(struct fuse_release_in), 0),
	OP(FUSE_FSYNC, sizeof(struct fuse_fsync_in), 0),
	OP(FUSE_FLUSH, sizeof(struct fuse_flush_in), 0),
	OP(FUSE_INIT, 16, 0), /* major, minor, max_readahead, flags; more since 7.36 */
	OP(FUSE_OPENDIR, sizeof(struct fuse_open_in), 0),
	OP(FUSE_READDIR, sizeof(struct fuse_read_in), 0),
	OP(FUSE_RELEASEDIR, sizeof(struct fuse_release_in), 0),
	OP(FUSE_FSYNCDIR, sizeof(struct fuse_fsync_in), 0),
	OP(FUSE_CREATE, sizeof(struct fuse_create_in), 1),
	OP(FUSE_DESTROY, 0, 0),
	OP(FUSE_BATCH_FORGET, sizeof(struct fuse_batch_forget_in), 0),
	OP(FUSE_FALLOCATE, sizeof(struct fuse_fallocate_in), 0),
	OP(FUSE_READDIRPLUS, sizeof(struct fuse_read_in), 0),
	OP(FUSE_RENAME2, sizeof(struct fuse_rename2_in), 2),
	OP(FUSE_LSEEK, sizeof(struct fuse_lseek_in), 0),
	/* SETXATTR: the 8-byte form (FUSE_SETXATTR_EXT is not offered), a
	 * name, then `size` bytes of value. */
	XOP(FUSE_SETXATTR, FUSE_COMPAT_SETXATTR_IN_SIZE, 1),
	XOP(FUSE_GETXATTR, sizeof(struct fuse_getxattr_in), 1),
	XOP(FUSE_LISTXATTR, sizeof(struct fuse_getxattr_in), 0),
	XOP(FUSE_REMOVEXATTR, 0, 1),
};
#undef OP
#undef XOP

bool fs_name_ok(const char *name)
{
	size_t n = strnlen(name, FS_NAME_MAX + 1);
	if (n == 0 || n > FS_NAME_MAX)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return memchr(name, '/', n) == NULL;
}

/* The next NUL-terminated string at args[*off..arglen), or NULL. */
static const char *next_str(const struct fs_req *r, uint32_t *off, size_t max)
{
	if (*off >= r->arglen)
		return NULL;
	const char *s = (const char *)r->args + *off;
	const uint8_t *nul = memchr(s, 0, r->arglen - *off);
	if (!nul)
		return NULL;
	size_t n = (size_t)(nul - (const uint8_t *)s);
	if (n > max)
		return NULL;
	*off += (uint32_t)n + 1;
	return s;
}

static int fail(struct fs_req *r, int error)
{
	r->error = error;
	return 0;
}

int fs_parse(const struct vq_chain *c, struct fs_req *r)
{
	memset(&r->h, 0, sizeof(r->h));
	r->error = 0;
	r->noreply = false;
	r->arglen = 0;
	r->name = r->name2 = NULL;
	r->vlen = 0;
	r->niov = 0;
	uint64_t room = c->in_bytes > sizeof(struct fuse_out_header)
				? c->in_bytes - sizeof(struct fuse_out_header)
				: 0;
	r->room = room > FS_MAX_RW ? FS_MAX_RW : (uint32_t)room;
	struct vq_cursor out;
	vq_cursor_out(&out, c);
	if (vq_cursor_read(&out, &r->h, sizeof(r->h)) != sizeof(r->h))
		return -EINVAL;
	uint32_t op = r->h.opcode;
	r->noreply = op == FUSE_FORGET || op == FUSE_BATCH_FORGET;
	/* The header's length must be the chain's readable length. */
	if (r->h.len != c->out_bytes || r->h.len < sizeof(r->h))
		return fail(r, -EINVAL);
	uint64_t arglen = r->h.len - sizeof(r->h);
	if (op >= sizeof(fs_ops) / sizeof(fs_ops[0]) || !fs_ops[op].known) {
		r->noreply = false;
		return fail(r, -ENOSYS);
	}
	const struct fs_opspec *sp = &fs_ops[op];
	if (arglen < sp->fixed)
		return fail(r, -EINVAL);
	if (op == FUSE_WRITE) {
		/* Copy the fixed part; the data stays in guest memory. */
		if (vq_cursor_read(&out, r->args, sp->fixed) != sp->fixed)
			return fail(r, -EINVAL);
		r->arglen = sp->fixed;
		struct fuse_write_in w;
		memcpy(&w, r->args, sizeof(w));
		if (w.size > FS_MAX_RW || w.size != arglen - sp->fixed)
			return fail(r, -EINVAL);
		int n = vq_cursor_iov(&out, w.size, r->iov, FS_IOV_MAX);
		if (n < 0)
			return fail(r, -EINVAL);
		r->niov = (unsigned)n;
		return 0;
	}
	if (arglen > FS_ARGS_MAX)
		return fail(r, -E2BIG);
	if (vq_cursor_read(&out, r->args, arglen) != arglen)
		return fail(r, -EINVAL);
	r->arglen = (uint32_t)arglen;
	uint32_t off = sp->fixed;
	if (sp->names >= 1) {
		r->name = next_str(r, &off, FS_NAME_MAX);
		if (!r->name)
			return fail(r, -EINVAL);
	}
	if (sp->names >= 2) {
		bool target = op == FUSE_SYMLINK;
		r->name2 = next_str(r, &off, target ? FS_SYMLINK_MAX : FS_NAME_MAX);
		if (!r->name2 || (target && !*r->name2))
			return fail(r, -EINVAL);
		if (!target && !fs_name_ok(r->name2))
			return fail(r, -EINVAL);
	}
	if (r->name && sp->xattr && !*r->name)
		return fail(r, -EINVAL);
	if (r->name && !sp->xattr && !fs_name_ok(r->name))
		return fail(r, op == FUSE_LOOKUP ? -ENOENT : -EINVAL);
	switch (op) {
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS: {
		struct fuse_read_in rd;
		memcpy(&rd, r->args, sizeof(rd));
		if (rd.size > FS_MAX_RW)
			return fail(r, -EINVAL);
		break;
	}
	case FUSE_SETXATTR: {
		/* The value follows the name, exactly its size. */
		uint32_t size;
		memcpy(&size, r->args, sizeof(size));
		if (size != r->arglen - off)
			return fail(r, -EINVAL);
		r->name2 = (const char *)r->args + off; /* the value (not a string) */
		r->vlen = size;
		break;
	}
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: {
		uint32_t size;
		memcpy(&size, r->args, sizeof(size));
		if (size > FS_MAX_DIRBUF)
			return fail(r, -E2BIG);
		break;
	}
	case FUSE_BATCH_FORGET: {
		struct fuse_batch_forget_in b;
		memcpy(&b, r->args, sizeof(b));
		if (b.count > FS_FORGET_MAX ||
		    (uint64_t)b.count * sizeof(struct fuse_forget_one) != arglen - sp->fixed)
			return fail(r, -EINVAL);
		break;
	}
	default:
		break;
	}
	return 0;
}

uint32_t fs_reply(const struct vq_chain *c, uint64_t unique, int error, const void *payload,
		  size_t n)
{
	struct fuse_out_header oh = {.error = error, .unique = unique};
	if (c->in_bytes < sizeof(oh))
		return 0;
	if (n > c->in_bytes - sizeof(oh)) {
		n = 0;
		oh.error = -EINVAL;
	}
	oh.len = (uint32_t)(sizeof(oh) + n);
	struct vq_cursor in;
	vq_cursor_in(&in, c);
	vq_cursor_write(&in, &oh, sizeof(oh));
	if (n)
		vq_cursor_write(&in, payload, n);
	return oh.len;
}

int fs_reply_iov(const struct vq_chain *c, size_t n, struct iovec *iov, unsigned max)
{
	struct vq_cursor in;
	vq_cursor_in(&in, c);
	if (vq_cursor_skip(&in, sizeof(struct fuse_out_header)) != sizeof(struct fuse_out_header))
		return -ENOSPC;
	size_t left = vq_cursor_left(&in);
	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	return vq_cursor_iov(&in, n, iov, max);
}
