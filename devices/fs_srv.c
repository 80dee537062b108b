/* SPDX-License-Identifier: MIT */
/* virtio-fs server: the FUSE operations against the shared directory.
 *
 * Confinement. The guest names files by nodeid, an index into our inode
 * table and the slot's generation (checked on every use: a stale or made-up
 * nodeid is ESTALE/ENOENT, never a host pointer). Each inode holds an O_PATH
 * | O_NOFOLLOW handle. A name from the guest is always one component (no
 * '/', not "." or "..": fs_parse refuses them) resolved relative to its
 * parent's handle with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW, so a symlink, whoever made it, is
 * never followed on the host: LOOKUP of a symlink gives a handle on the link
 * itself, and the guest's kernel follows its target in the guest's own
 * namespace. Reopening an inode for I/O goes through its parent's handle
 * and its last known name, and the result must be the same (dev, ino), or
 * ESTALE. No string paths.
 *
 * Metadata calls act on the inode's handle, never on its name again: a
 * name checked and then resolved anew can meanwhile be a symlink to
 * anywhere (the host, or a second share or VM on the same directory, can
 * swap it), and chmod has no no-follow form. So: fchownat and utimensat
 * with AT_EMPTY_PATH on the handle; chmod with fchmodat2(AT_EMPTY_PATH)
 * where the kernel has it, else through the handle's /proc/self/fd link
 * (opened before the jail; it names the open handle, not a path), else on
 * a descriptor reopened and checked; truncation on an open descriptor
 * checked to be the inode. RENAME and LINK only take nodeids of this
 * table, so both ends are inside the share. Read-only shares answer every
 * mutating request with EROFS and open files O_RDONLY only.
 *
 * No host call a guest can cause may block without bound. Device nodes
 * cannot be created (EPERM) and only regular files (and directories) are
 * opened: every open is O_NONBLOCK (a FIFO or device swapped in under a
 * name cannot block it) and is checked with fstat before any I/O, and a
 * name is checked to be the expected inode before it is opened at all, so
 * only a swap racing the server can make it open (never read or write)
 * something else. CREATE opens an existing name only if it is a regular
 * file, as OPEN.
 *
 * References: an inode lives while the guest holds lookups on it
 * (nlookup, which FORGET lowers), files are open on it (nopen, which only
 * RELEASE lowers) or inodes found in it pin it (kids).
 *
 * Ownership: uid/gid pass through unchanged (the guest's root is cvmm's
 * user; cvmm runs as root in the test host). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "devices/fs.h"

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#define DENTBUF	      32768
#define TIMEOUT_S     1 /* entry and attribute cache time we give the guest */

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on x86_64 and aarch64 */
#endif

static int openat2_one(int dirfd, const char *name, int flags, mode_t mode)
{
	/* openat2 refuses O_PATH with other flags than these */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_FLAGS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* ---- the inode table ------------------------------------------------------ */

static uint32_t hash_of(const struct fs_srv *s, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9E3779B97F4A7C15ULL) ^ (dev * 0xC2B2AE3D27D4EB4FULL);
	return (uint32_t)(h >> 40) % s->cap;
}

static uint64_t nodeid_of(const struct fs_srv *s, uint32_t idx)
{
	return ((uint64_t)s->ino[idx].gen << 32) | (idx + 1);
}

/* The inode a guest nodeid names, or NULL (bad index, free slot, old gen). */
static struct fs_inode *ino_get(struct fs_srv *s, uint64_t nodeid, uint32_t *idx)
{
	uint64_t lo = nodeid & 0xffffffffu;
	if (lo == 0 || lo > s->nino)
		return NULL;
	struct fs_inode *i = &s->ino[lo - 1];
	if (i->fd < 0 || i->gen != (uint32_t)(nodeid >> 32))
		return NULL;
	if (idx)
		*idx = (uint32_t)(lo - 1);
	return i;
}

static struct fs_inode *ino_find(struct fs_srv *s, uint64_t dev, uint64_t ino, uint32_t *idx)
{
	for (uint32_t k = s->hash[hash_of(s, dev, ino)]; k; k = s->ino[k - 1].hnext) {
		struct fs_inode *i = &s->ino[k - 1];
		if (i->dev == dev && i->ino == ino) {
			*idx = k - 1;
			return i;
		}
	}
	return NULL;
}

static void hash_del(struct fs_srv *s, uint32_t idx)
{
	struct fs_inode *i = &s->ino[idx];
	uint32_t *p = &s->hash[hash_of(s, i->dev, i->ino)];
	while (*p && *p != idx + 1)
		p = &s->ino[*p - 1].hnext;
	if (*p)
		*p = i->hnext;
	i->hnext = 0;
}

static void set_parent(struct fs_srv *s, uint32_t idx, uint32_t parent, const char *name);

/* Drops an inode whose references are gone, and parents it pinned. */
static void ino_maybe_free(struct fs_srv *s, uint32_t idx)
{
	while (idx != 0) {
		struct fs_inode *i = &s->ino[idx];
		if (i->fd < 0 || i->nlookup || i->nopen || i->kids)
			return;
		hash_del(s, idx);
		close(i->fd);
		i->fd = -1;
		i->gen++;
		if (i->gen == 0)
			i->gen = 1;
		uint32_t parent = i->parent;
		i->fnext = s->ffree;
		s->ffree = idx + 1;
		s->ino[parent].kids--;
		idx = parent;
	}
}

static void set_parent(struct fs_srv *s, uint32_t idx, uint32_t parent, const char *name)
{
	struct fs_inode *i = &s->ino[idx];
	if (idx == 0)
		return;
	uint32_t old = i->parent;
	s->ino[parent].kids++;
	i->parent = parent;
	snprintf(i->name, sizeof(i->name), "%s", name);
	s->ino[old].kids--;
	ino_maybe_free(s, old);
}

/* Takes fd. Returns the inode index, or -ENFILE when the table is full. */
static int ino_add(struct fs_srv *s, int fd, const struct stat *st, uint32_t parent,
		   const char *name)
{
	uint32_t idx;
	if (s->ffree) {
		idx = s->ffree - 1;
		s->ffree = s->ino[idx].fnext;
	} else if (s->nino < s->cap) {
		idx = s->nino++;
		s->ino[idx].gen = 1;
	} else {
		close(fd);
		return -ENFILE;
	}
	struct fs_inode *i = &s->ino[idx];
	i->fd = fd;
	i->nlookup = 0;
	i->nopen = 0;
	i->kids = 0;
	i->dev = st->st_dev;
	i->ino = st->st_ino;
	i->mode = st->st_mode;
	i->parent = parent;
	s->ino[parent].kids++;
	snprintf(i->name, sizeof(i->name), "%s", name);
	uint32_t h = hash_of(s, i->dev, i->ino);
	i->hnext = s->hash[h];
	s->hash[h] = idx + 1;
	return (int)idx;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* LOOKUP of one component under parent: a reference the guest holds. */
static int do_lookup(struct fs_srv *s, uint32_t parent, const char *name, struct fuse_entry_out *e)
{
	int fd = openat2_one(s->ino[parent].fd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	struct stat st;
	int r = stat_fd(fd, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	uint32_t idx;
	struct fs_inode *i = ino_find(s, st.st_dev, st.st_ino, &idx);
	if (i) {
		close(fd);
		set_parent(s, idx, parent, name); /* the most recent name */
	} else {
		r = ino_add(s, fd, &st, parent, name);
		if (r < 0)
			return r;
		idx = (uint32_t)r;
		i = &s->ino[idx];
	}
	i->nlookup++;
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid_of(s, idx);
	e->generation = i->gen;
	e->entry_valid = e->attr_valid = TIMEOUT_S;
	fill_attr(&e->attr, &st);
	return 0;
}

/* Drops n lookup references (saturating: a guest may forget more than it
 * looked up). Open files keep the inode whatever the count. */
static void do_forget(struct fs_srv *s, uint64_t nodeid, uint64_t n)
{
	uint32_t idx;
	struct fs_inode *i = ino_get(s, nodeid, &idx);
	if (!i || idx == 0)
		return;
	i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
	ino_maybe_free(s, idx);
}

/* The directory handle and name through which inode idx is reached (the
 * root: itself and "."). */
static void at_name(struct fs_srv *s, uint32_t idx, int *dirfd, const char **name)
{
	if (idx == 0) {
		*dirfd = s->ino[0].fd;
		*name = ".";
	} else {
		*dirfd = s->ino[s->ino[idx].parent].fd;
		*name = s->ino[idx].name;
	}
}

/* The name still names inode idx (and, unless link_ok, it is not a
 * symlink). Only a check: whatever acts afterwards must act on a handle,
 * since the name can change meanwhile. */
static int check_name(struct fs_srv *s, uint32_t idx, bool link_ok, int *dirfd, const char **name)
{
	at_name(s, idx, dirfd, name);
	struct stat st;
	if (fstatat(*dirfd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (st.st_dev != s->ino[idx].dev || st.st_ino != s->ino[idx].ino)
		return -ESTALE;
	if (S_ISLNK(st.st_mode) && !link_ok)
		return -EOPNOTSUPP;
	return 0;
}

/* Opens name beneath dirfd for I/O. O_NONBLOCK, so that a FIFO (or a
 * device) found under the name cannot block the worker, however it got
 * there; then, before any I/O, it must be a regular file (a directory
 * with O_DIRECTORY) and, given want, that inode (else ESTALE); only then
 * is O_TRUNC applied, to the checked file, and O_NONBLOCK cleared again
 * (io_uring answers EAGAIN on a regular file's uncached pages under
 * O_NONBLOCK rather than wait for them). */
static int open_checked(int dirfd, const char *name, int flags, mode_t mode,
			const struct stat *want)
{
	int fd = openat2_one(dirfd, name, (flags & ~O_TRUNC) | O_NONBLOCK, mode);
	if (fd < 0)
		return fd;
	struct stat st;
	int r = stat_fd(fd, &st);
	if (r == 0 && want && (st.st_dev != want->st_dev || st.st_ino != want->st_ino))
		r = -ESTALE;
	if (r == 0 && !S_ISREG(st.st_mode) && !((flags & O_DIRECTORY) && S_ISDIR(st.st_mode)))
		r = -EACCES; /* never I/O on a host device, FIFO or socket */
	if (r == 0 && fcntl(fd, F_SETFL, flags & O_APPEND) < 0)
		r = -errno;
	if (r == 0 && (flags & O_TRUNC) && ftruncate(fd, 0) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Reopens inode idx with flags; it must still be the same file. A name is
 * first checked to be the inode, so that whatever was swapped in under it
 * (a FIFO, a device node) is not even opened unless the swap races us;
 * open_checked then makes sure nothing else is used. */
static int reopen(struct fs_srv *s, uint32_t idx, int flags)
{
	struct fs_inode *i = &s->ino[idx];
	struct stat want = {.st_dev = i->dev, .st_ino = i->ino};
	int fd;
	if (S_ISDIR(i->mode)) {
		fd = open_checked(i->fd, ".", flags, 0, &want);
	} else {
		int dirfd;
		const char *name;
		fd = check_name(s, idx, false, &dirfd, &name);
		if (fd == -EOPNOTSUPP)
			fd = -ESTALE; /* a link now: not the inode */
		if (fd == 0)
			fd = open_checked(dirfd, name, flags, 0, &want);
	}
	return fd == -ENOENT || fd == -ELOOP ? -ESTALE : fd;
}

/* The decimal name of fd in /proc/self/fd. */
static void fd_name(char *buf, size_t n, int fd)
{
	snprintf(buf, n, "%d", fd);
}

/* chmod of inode idx itself, whatever its name says by now. Never of a
 * symlink: links have no mode of their own, and a chmod through one lands
 * on its target. */
static int chmod_ino(struct fs_srv *s, uint32_t idx, mode_t mode)
{
	struct fs_inode *i = &s->ino[idx];
	if (S_ISLNK(i->mode))
		return -EOPNOTSUPP;
	if (!s->no_fchmodat2) {
		if (syscall(SYS_fchmodat2, i->fd, "", mode, AT_EMPTY_PATH) == 0)
			return 0;
		/* EPERM too: some container filters refuse calls they do not
		 * know that way; a real EPERM comes back from the others. */
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		if (errno == ENOSYS)
			s->no_fchmodat2 = true;
	}
	if (s->proc_fd >= 0) {
		/* The magic link leads to the handle's inode, not to a path. */
		char n[16];
		fd_name(n, sizeof(n), i->fd);
		return fchmodat(s->proc_fd, n, mode, 0) < 0 ? -errno : 0;
	}
	/* No /proc: a descriptor of the inode (needs read access to it). */
	int fd = reopen(s, idx, S_ISDIR(i->mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	if (fd < 0)
		return fd;
	int r = fchmod(fd, mode) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* LINK of inode old as name in directory dir. */
static int link_ino(struct fs_srv *s, uint32_t old, uint32_t dir, const char *name)
{
	struct fs_inode *oi = &s->ino[old];
	if (linkat(oi->fd, "", s->ino[dir].fd, name, AT_EMPTY_PATH) == 0)
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the handle's /proc/self/fd
	 * link does not (AT_SYMLINK_FOLLOW follows the magic link to the
	 * inode, and no further: a symlink's handle links the symlink). */
	if (errno != ENOENT)
		return -errno;
	if (s->proc_fd >= 0) {
		char n[16];
		fd_name(n, sizeof(n), oi->fd);
		return linkat(s->proc_fd, n, s->ino[dir].fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno
											  : 0;
	}
	/* No /proc: by the source's name, then make sure the new link is the
	 * inode (a swap in between linked something else: undo it). */
	int dirfd;
	const char *oname;
	int r = check_name(s, old, true, &dirfd, &oname);
	if (r < 0)
		return r;
	if (linkat(dirfd, oname, s->ino[dir].fd, name, 0) < 0)
		return -errno;
	struct stat st;
	if (fstatat(s->ino[dir].fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != oi->dev ||
	    st.st_ino != oi->ino) {
		(void)unlinkat(s->ino[dir].fd, name, 0);
		return -ESTALE;
	}
	return 0;
}

/* ---- file handles ----------------------------------------------------------- */

static struct fs_fh *fh_get(struct fs_srv *s, uint64_t fh, bool dir, unsigned *slot)
{
	uint64_t idx = fh & 0xffffffffu;
	if (idx >= FS_MAX_FH)
		return NULL;
	struct fs_fh *f = &s->fh[idx];
	if (f->fd < 0 || f->gen != (uint32_t)(fh >> 32) || f->dir != dir)
		return NULL;
	if (slot)
		*slot = (unsigned)idx;
	return f;
}

/* Takes fd. Returns the guest's fh through *out. */
static int fh_add(struct fs_srv *s, int fd, uint32_t ino, bool dir, uint64_t *out)
{
	for (unsigned k = 0; k < FS_MAX_FH; k++) {
		struct fs_fh *f = &s->fh[k];
		if (f->fd >= 0 || f->poisoned)
			continue;
		if (!dir && s->hook) {
			int r = s->hook(s->hook_opaque, k, fd);
			if (r < 0) {
				close(fd);
				return r;
			}
		}
		f->fd = fd;
		f->ino = ino;
		f->dir = dir;
		f->gen++;
		if (f->gen == 0)
			f->gen = 1;
		s->ino[ino].nopen++; /* an open file pins its inode (not a lookup) */
		*out = ((uint64_t)f->gen << 32) | k;
		return 0;
	}
	close(fd);
	return -ENFILE;
}

static void fh_release(struct fs_srv *s, unsigned k)
{
	struct fs_fh *f = &s->fh[k];
	if (!f->dir && s->hook && s->hook(s->hook_opaque, k, -1) < 0)
		f->poisoned = true;
	close(f->fd);
	f->fd = -1;
	uint32_t ino = f->ino;
	s->ino[ino].nopen--;
	ino_maybe_free(s, ino);
}

/* ---- set-up ------------------------------------------------------------------ */

int fs_srv_init(struct fs_srv *s, int root_fd, bool ro, uint32_t cap)
{
	memset(s, 0, sizeof(*s));
	s->proc_fd = -1;
	if (cap < 2 || cap > FS_MAX_INODES) {
		close(root_fd);
		return -EINVAL;
	}
	s->cap = cap;
	for (unsigned k = 0; k < FS_MAX_FH; k++)
		s->fh[k].fd = -1;
	s->ro = ro;
	s->ino = calloc(cap, sizeof(*s->ino));
	s->hash = calloc(cap, sizeof(*s->hash));
	s->dirbuf = malloc(FS_MAX_DIRBUF);
	s->dentbuf = malloc(DENTBUF);
	struct stat st;
	int r = -ENOMEM;
	if (!s->ino || !s->hash || !s->dirbuf || !s->dentbuf)
		goto fail;
	r = stat_fd(root_fd, &st);
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r < 0)
		goto fail;
	/* Opened now, before any jail: a chroot without /proc does not take
	 * it away. Without it, chmod and link fall back (chmod_ino). */
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pthread_mutex_init(&s->lock, NULL);
	s->nino = 1;
	struct fs_inode *root = &s->ino[0];
	root->fd = root_fd;
	root->gen = 0; /* nodeid 1 = FUSE_ROOT_ID */
	root->nlookup = 1;
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	root->mode = st.st_mode;
	uint32_t h = hash_of(s, root->dev, root->ino);
	s->hash[h] = 1;
	return 0;
fail:
	free(s->ino);
	free(s->hash);
	free(s->dirbuf);
	free(s->dentbuf);
	s->ino = NULL;
	close(root_fd);
	return r;
}

static void release_all(struct fs_srv *s)
{
	for (unsigned k = 0; k < FS_MAX_FH; k++)
		if (s->fh[k].fd >= 0)
			fh_release(s, k);
	for (uint32_t k = 1; k < s->nino; k++)
		if (s->ino[k].fd >= 0)
			s->ino[k].nlookup = 0;
	for (uint32_t k = 1; k < s->nino; k++)
		ino_maybe_free(s, k);
}

void fs_srv_destroy(struct fs_srv *s)
{
	if (!s->ino)
		return;
	release_all(s);
	/* Inodes pinned by kids only: close whatever is left. */
	for (uint32_t k = 0; k < s->nino; k++)
		if (s->ino[k].fd >= 0)
			close(s->ino[k].fd);
	pthread_mutex_destroy(&s->lock);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	s->proc_fd = -1;
	free(s->ino);
	free(s->hash);
	free(s->dirbuf);
	free(s->dentbuf);
	s->ino = NULL;
}

/* ---- the operations ------------------------------------------------------------ */

#define ARG(r, type) (*(const type *)(const void *)(r)->args)

static void *out_small(struct fs_out *o, size_t n)
{
	memset(o->small, 0, n);
	o->data = o->small;
	o->len = n;
	return o->small;
}

static int op_init(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	struct fuse_init_in in;
	memset(&in, 0, sizeof(in));
	memcpy(&in, r->args, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
	if (in.major < 7)
		return -EPROTO;
	/* A driver that starts over (a reset without DESTROY) holds nothing. */
	if (s->inited)
		release_all(s);
	struct fuse_init_out *out = out_small(o, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major > FUSE_KERNEL_VERSION) {
		o->len = 8; /* the kernel retries with our major */
		return 0;
	}
	if (in.minor < out->minor)
		out->minor = in.minor;
	uint32_t want = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC |
			FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_MAX_PAGES;
	out->flags = in.flags & want;
	out->max_readahead = in.max_readahead;
	out->max_write = FS_MAX_WRITE;
	out->max_background = 16;
	out->congestion_threshold = 12;
	out->time_gran = 1;
	out->max_pages = FS_MAX_PAGES;
	if (out->minor < 5)
		o->len = FUSE_COMPAT_INIT_OUT_SIZE;
	else if (out->minor < 23)
		o->len = FUSE_COMPAT_22_INIT_OUT_SIZE;
	s->minor = out->minor;
	s->inited = true;
	return 0;
}

static int op_getattr(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	struct stat st;
	int rc = stat_fd(s->ino[idx].fd, &st);
	if (rc < 0)
		return rc;
	struct fuse_attr_out *a = out_small(o, sizeof(*a));
	a->attr_valid = TIMEOUT_S;
	fill_attr(&a->attr, &st);
	return 0;
}

static int op_setattr(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_setattr_in *in = &ARG(r, struct fuse_setattr_in);
	struct fs_inode *i = &s->ino[idx];
	if (s->ro)
		return -EROFS;
	int rc;
	if (in->valid & FATTR_MODE) {
		if ((rc = chmod_ino(s, idx, in->mode & 07777)) < 0)
			return rc;
	}
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (in->valid & FATTR_UID) ? in->uid : (uid_t)-1;
		gid_t gid = (in->valid & FATTR_GID) ? in->gid : (gid_t)-1;
		if (fchownat(i->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (in->valid & FATTR_SIZE) {
		struct fs_fh *f = (in->valid & FATTR_FH) ? fh_get(s, in->fh, false, NULL) : NULL;
		if (f && f->ino != idx)
			return -EBADF; /* another inode's file: not this one's size */
		if (f) {
			if (ftruncate(f->fd, (off_t)in->size) < 0)
				return -errno;
		} else {
			if (!S_ISREG(i->mode))
				return S_ISDIR(i->mode) ? -EISDIR : -EINVAL;
			int fd = reopen(s, idx, O_WRONLY);
			if (fd < 0)
				return fd;
			rc = ftruncate(fd, (off_t)in->size) < 0 ? -errno : 0;
			close(fd);
			if (rc < 0)
				return rc;
		}
	}
	if (in->valid & (FATTR_ATIME | FATTR_MTIME)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		if (in->valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_ATIME)
			ts[0] = (struct timespec){(time_t)in->atime, in->atimensec};
		if (in->valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_MTIME)
			ts[1] = (struct timespec){(time_t)in->mtime, in->mtimensec};
		/* on the handle: a link's own times, never its target's */
		if (utimensat(i->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	return op_getattr(s, r, idx, o);
}

static int op_readlink(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	ssize_t n = readlinkat(s->ino[idx].fd, "", (char *)s->dirbuf, FS_SYMLINK_MAX + 1);
	if (n < 0)
		return -errno;
	o->data = s->dirbuf;
	o->len = (size_t)n;
	return 0;
}

static int entry_reply(struct fs_srv *s, uint32_t parent, const char *name, struct fs_out *o)
{
	struct fuse_entry_out *e = out_small(o, sizeof(*e));
	return do_lookup(s, parent, name, e);
}

/* CREATE without O_EXCL of a name that exists: open it as OPEN would,
 * only if it is a regular file. Looked at first (an O_PATH handle opens
 * nothing: no FIFO blocks, no device's open runs), then opened and checked
 * to be the same inode. */
static int open_existing(int dirfd, const char *name, int flags)
{
	int pfd = openat2_one(dirfd, name, O_PATH, 0);
	if (pfd < 0)
		return pfd;
	struct stat st;
	int r = stat_fd(pfd, &st);
	close(pfd);
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISLNK(st.st_mode))
		return -ELOOP; /* as open(O_CREAT | O_NOFOLLOW) */
	if (!S_ISREG(st.st_mode))
		return -EACCES; /* never open host devices, FIFOs, sockets */
	return open_checked(dirfd, name, flags, 0, &st);
}

static int op_create(struct fs_srv *s, const struct fs_req *r, uint32_t parent, struct fs_out *o)
{
	const struct fuse_create_in *in = &ARG(r, struct fuse_create_in);
	int allowed = O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC;
	int flags = (int)(in->flags & allowed);
	int dirfd = s->ino[parent].fd;
	/* O_EXCL always: this call never opens what already exists. */
	int fd = open_checked(dirfd, r->name, flags | O_CREAT | O_EXCL,
			      in->mode & ~in->umask & 07777, NULL);
	if (fd == -EEXIST && !(in->flags & O_EXCL))
		fd = open_existing(dirfd, r->name, flags);
	if (fd < 0)
		return fd;
	struct fuse_entry_out e;
	int rc = do_lookup(s, parent, r->name, &e);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	uint32_t idx = (uint32_t)(e.nodeid & 0xffffffffu) - 1;
	/* The name may have changed since the open: the file handle must be
	 * of the inode the reply names. */
	struct stat st;
	if (stat_fd(fd, &st) < 0 || st.st_dev != s->ino[idx].dev || st.st_ino != s->ino[idx].ino) {
		close(fd);
		do_forget(s, e.nodeid, 1);
		return -ESTALE;
	}
	struct fuse_open_out oo = {0};
	rc = fh_add(s, fd, idx, false, &oo.fh);
	if (rc < 0) {
		do_forget(s, e.nodeid, 1);
		return rc;
	}
	uint8_t *p = out_small(o, sizeof(e) + sizeof(oo));
	memcpy(p, &e, sizeof(e));
	memcpy(p + sizeof(e), &oo, sizeof(oo));
	return 0;
}

/* OPEN and OPENDIR */
static int op_open(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_open_in *in = &ARG(r, struct fuse_open_in);
	bool dir = r->h.opcode == FUSE_OPENDIR;
	struct fs_inode *i = &s->ino[idx];
	int flags;
	if (dir) {
		if (!S_ISDIR(i->mode))
			return -ENOTDIR;
		flags = O_RDONLY | O_DIRECTORY;
	} else {
		if (S_ISDIR(i->mode))
			return -EISDIR;
		if (!S_ISREG(i->mode))
			return -EACCES; /* never open host devices, FIFOs, sockets */
		flags = (int)(in->flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC));
		if ((flags & O_ACCMODE) == O_ACCMODE)
			return -EINVAL;
		if (s->ro && ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND))))
			return -EROFS;
	}
	int fd = reopen(s, idx, flags);
	if (fd < 0)
		return fd;
	struct fuse_open_out *oo = out_small(o, sizeof(*oo));
	return fh_add(s, fd, idx, dir, &oo->fh);
}

/* READDIR and READDIRPLUS */
static int op_readdir(struct fs_srv *s, const struct fs_req *r, uint32_t dirino, struct fs_out *o)
{
	bool plus = r->h.opcode == FUSE_READDIRPLUS;
	const struct fuse_read_in *in = &ARG(r, struct fuse_read_in);
	struct fs_fh *f = fh_get(s, in->fh, true, NULL);
	if (!f)
		return -EBADF;
	size_t size = in->size;
	if (size > r->room)
		size = r->room;
	if (size > FS_MAX_DIRBUF)
		size = FS_MAX_DIRBUF;
	if (lseek(f->fd, (off_t)in->offset, SEEK_SET) < 0)
		return -errno;
	size_t pos = 0;
	bool full = false;
	o->data = s->dirbuf;
	while (!full) {
		long n = syscall(SYS_getdents64, f->fd, s->dentbuf, DENTBUF);
		if (n < 0) {
			if (pos)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(s->dentbuf + off);
			off += d->d_reclen;
			size_t nlen = strnlen(d->d_name, FS_NAME_MAX + 1);
			if (nlen > FS_NAME_MAX)
				continue;
			size_t base = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
			size_t rec = FUSE_DIRENT_ALIGN(base + nlen);
			if (pos + rec > size) {
				full = true;
				break;
			}
			uint8_t *p = s->dirbuf + pos;
			memset(p, 0, rec);
			struct fuse_dirent *de = (struct fuse_dirent *)(void *)p;
			if (plus) {
				struct fuse_direntplus *dp = (struct fuse_direntplus *)(void *)p;
				de = &dp->dirent;
				bool dots = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
				/* nodeid 0: no lookup reference (dots, or a race) */
				if (!dots && do_lookup(s, f->ino, d->d_name, &dp->entry_out) < 0)
					memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			}
			de->ino = d->d_ino;
			de->off = (uint64_t)d->d_off;
			de->namelen = (uint32_t)nlen;
			de->type = d->d_type;
			memcpy(de->name, d->d_name, nlen);
			pos += rec;
		}
	}
	(void)dirino;
	o->len = pos;
	return 0;
}

/* RENAME and RENAME2 */
static int op_rename(struct fs_srv *s, const struct fs_req *r, uint32_t olddir, struct fs_out *o)
{
	uint64_t newdir_id;
	uint32_t flags = 0;
	if (r->h.opcode == FUSE_RENAME2) {
		newdir_id = ARG(r, struct fuse_rename2_in).newdir;
		flags = ARG(r, struct fuse_rename2_in).flags;
	} else {
		newdir_id = ARG(r, struct fuse_rename_in).newdir;
	}
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	uint32_t newdir;
	if (!ino_get(s, newdir_id, &newdir))
		return -ESTALE;
	if (renameat2(s->ino[olddir].fd, r->name, s->ino[newdir].fd, r->name2, flags) < 0)
		return -errno;
	/* Keep the names we reopen by current. */
	struct stat st;
	uint32_t idx;
	if (fstatat(s->ino[newdir].fd, r->name2, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    ino_find(s, st.st_dev, st.st_ino, &idx))
		set_parent(s, idx, newdir, r->name2);
	if ((flags & RENAME_EXCHANGE) &&
	    fstatat(s->ino[olddir].fd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    ino_find(s, st.st_dev, st.st_ino, &idx))
		set_parent(s, idx, olddir, r->name);
	return 0;
}

/* The xattr calls act on a descriptor reopened O_RDONLY: regular files and
 * directories only (no descriptor of a link or device is ever opened). */
static int xattr_fd(struct fs_srv *s, uint32_t idx)
{
	uint32_t mode = s->ino[idx].mode;
	if (!S_ISREG(mode) && !S_ISDIR(mode))
		return -EOPNOTSUPP;
	return reopen(s, idx, S_ISDIR(mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY);
}

static int op_xattr(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	if (!s->xattr)
		return -ENOSYS;
	int fd = xattr_fd(s, idx);
	if (fd < 0)
		return fd;
	uint32_t op = r->h.opcode;
	ssize_t n = 0;
	if (op == FUSE_GETXATTR || op == FUSE_LISTXATTR) {
		uint32_t size = ARG(r, struct fuse_getxattr_in).size;
		if (size > r->room)
			size = r->room;
		void *buf = size ? s->dirbuf : NULL;
		n = op == FUSE_GETXATTR ? fgetxattr(fd, r->name, buf, size)
					: flistxattr(fd, buf, size);
		if (n >= 0 && !size) {
			struct fuse_getxattr_out *go = out_small(o, sizeof(*go));
			go->size = (uint32_t)n;
		} else if (n >= 0) {
			o->data = s->dirbuf;
			o->len = (size_t)n;
		}
	} else if (op == FUSE_SETXATTR) {
		int flags = (int)ARG(r, struct fuse_setxattr_in).flags;
		n = fsetxattr(fd, r->name, r->name2, r->vlen,
			      flags & (XATTR_CREATE | XATTR_REPLACE));
	} else {
		n = fremovexattr(fd, r->name);
	}
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static int op_statfs(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	struct statfs sf;
	if (fstatfs(s->ino[idx].fd, &sf) < 0)
		return -errno;
	struct fuse_statfs_out *out = out_small(o, sizeof(*out));
	out->st.blocks = sf.f_blocks;
	out->st.bfree = sf.f_bfree;
	out->st.bavail = sf.f_bavail;
	out->st.files = sf.f_files;
	out->st.ffree = sf.f_ffree;
	out->st.bsize = (uint32_t)sf.f_bsize;
	out->st.namelen = (uint32_t)sf.f_namelen;
	out->st.frsize = (uint32_t)sf.f_frsize;
	return 0;
}

/* ---- the dispatch: one handler per opcode ---------------------------------------- */

static int op_forget(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	do_forget(s, r->h.nodeid, ARG(r, struct fuse_forget_in).nlookup);
	return 0;
}

static int op_batch_forget(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_batch_forget_in *b = &ARG(r, struct fuse_batch_forget_in);
	const uint8_t *p = r->args + sizeof(*b);
	for (uint32_t k = 0; k < b->count; k++) {
		struct fuse_forget_one one;
		memcpy(&one, p + k * sizeof(one), sizeof(one));
		do_forget(s, one.nodeid, one.nlookup);
	}
	return 0;
}

static int op_destroy(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	release_all(s);
	s->inited = false;
	return 0;
}

static int op_lookup(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	if (!S_ISDIR(s->ino[idx].mode))
		return -ENOTDIR;
	return entry_reply(s, idx, r->name, o);
}

static int op_symlink(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	if (symlinkat(r->name2, s->ino[idx].fd, r->name) < 0)
		return -errno;
	return entry_reply(s, idx, r->name, o);
}

static int op_mknod(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_mknod_in *in = &ARG(r, struct fuse_mknod_in);
	mode_t type = in->mode & S_IFMT;
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return -EPERM; /* no device nodes on the host */
	if (mknodat(s->ino[idx].fd, r->name, type | (in->mode & ~in->umask & 07777), 0) < 0)
		return -errno;
	return entry_reply(s, idx, r->name, o);
}

static int op_mkdir(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_mkdir_in *in = &ARG(r, struct fuse_mkdir_in);
	if (mkdirat(s->ino[idx].fd, r->name, in->mode & ~in->umask & 07777) < 0)
		return -errno;
	return entry_reply(s, idx, r->name, o);
}

static int op_unlink(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	int flags = r->h.opcode == FUSE_RMDIR ? AT_REMOVEDIR : 0;
	if (unlinkat(s->ino[idx].fd, r->name, flags) < 0)
		return -errno;
	return 0;
}

static int op_link(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	uint32_t old;
	struct fs_inode *oi = ino_get(s, ARG(r, struct fuse_link_in).oldnodeid, &old);
	if (!oi)
		return -ESTALE;
	if (S_ISDIR(oi->mode))
		return -EPERM;
	int rc = link_ino(s, old, idx, r->name);
	if (rc < 0)
		return rc;
	return entry_reply(s, idx, r->name, o);
}

/* READ and WRITE: the data moves through the worker's io_uring (FS_IO_*). */
static int op_rw(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	bool rd = r->h.opcode == FUSE_READ;
	uint64_t fh = rd ? ARG(r, struct fuse_read_in).fh : ARG(r, struct fuse_write_in).fh;
	unsigned slot;
	struct fs_fh *f = fh_get(s, fh, false, &slot);
	if (!f)
		return -EBADF;
	o->io = rd ? FS_IO_READ : FS_IO_WRITE;
	o->io_fd = f->fd;
	o->io_slot = slot;
	if (rd) {
		const struct fuse_read_in *in = &ARG(r, struct fuse_read_in);
		o->io_off = in->offset;
		o->io_len = in->size < r->room ? in->size : r->room;
	} else {
		const struct fuse_write_in *in = &ARG(r, struct fuse_write_in);
		o->io_off = in->offset;
		o->io_len = in->size;
	}
	return 0;
}

static int op_release(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	unsigned slot;
	bool dir = r->h.opcode == FUSE_RELEASEDIR;
	if (!fh_get(s, ARG(r, struct fuse_release_in).fh, dir, &slot))
		return -EBADF;
	fh_release(s, slot);
	return 0;
}

static int op_flush(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	return fh_get(s, ARG(r, struct fuse_flush_in).fh, false, NULL) ? 0 : -EBADF;
}

static int op_fsync(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_fsync_in *in = &ARG(r, struct fuse_fsync_in);
	struct fs_fh *f = fh_get(s, in->fh, r->h.opcode == FUSE_FSYNCDIR, NULL);
	if (!f)
		return -EBADF;
	int rc = (in->fsync_flags & 1) ? fdatasync(f->fd) : fsync(f->fd);
	return rc < 0 ? -errno : 0;
}

static int op_fallocate(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_fallocate_in *in = &ARG(r, struct fuse_fallocate_in);
	struct fs_fh *f = fh_get(s, in->fh, false, NULL);
	if (!f)
		return -EBADF;
	if (fallocate(f->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0)
		return -errno;
	return 0;
}

static int op_lseek(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o)
{
	const struct fuse_lseek_in *in = &ARG(r, struct fuse_lseek_in);
	struct fs_fh *f = fh_get(s, in->fh, false, NULL);
	if (!f)
		return -EBADF;
	if (in->whence != SEEK_SET && in->whence != SEEK_CUR && in->whence != SEEK_END &&
	    in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return -EINVAL;
	off_t pos = lseek(f->fd, (off_t)in->offset, (int)in->whence);
	if (pos < 0)
		return -errno;
	struct fuse_lseek_out *out = out_small(o, sizeof(*out));
	out->offset = (uint64_t)pos;
	return 0;
}

typedef int fs_op_fn(struct fs_srv *s, const struct fs_req *r, uint32_t idx, struct fs_out *o);

#define FS_OP_MUTATES  1 /* refused with EROFS on a read-only share */
#define FS_OP_ANY_TIME 2 /* served before INIT too, on no inode (INIT) */
#define FS_OP_NO_INODE 4 /* served on no inode (idx is 0) */
#define FS_OP_STALE_OK 8 /* an unknown nodeid is no error (FORGET: nothing to forget) */

/* Every opcode the server answers; any other is ENOSYS (after the checks
 * every request gets: INIT first, a live nodeid). */
static const struct fs_op {
	fs_op_fn *fn;
	unsigned flags;
} fs_ops[] = {
	[FUSE_INIT] = {op_init, FS_OP_ANY_TIME},
	[FUSE_BATCH_FORGET] = {op_batch_forget, FS_OP_NO_INODE},
	[FUSE_DESTROY] = {op_destroy, FS_OP_NO_INODE},
	[FUSE_FORGET] = {op_forget, FS_OP_STALE_OK},
	[FUSE_LOOKUP] = {op_lookup, 0},
	[FUSE_GETATTR] = {op_getattr, 0},
	[FUSE_SETATTR] = {op_setattr, FS_OP_MUTATES},
	[FUSE_READLINK] = {op_readlink, 0},
	[FUSE_SYMLINK] = {op_symlink, FS_OP_MUTATES},
	[FUSE_MKNOD] = {op_mknod, FS_OP_MUTATES},
	[FUSE_MKDIR] = {op_mkdir, FS_OP_MUTATES},
	[FUSE_UNLINK] = {op_unlink, FS_OP_MUTATES},
	[FUSE_RMDIR] = {op_unlink, FS_OP_MUTATES},
	[FUSE_RENAME] = {op_rename, FS_OP_MUTATES},
	[FUSE_RENAME2] = {op_rename, FS_OP_MUTATES},
	[FUSE_LINK] = {op_link, FS_OP_MUTATES},
	[FUSE_OPEN] = {op_open, 0},
	[FUSE_OPENDIR] = {op_open, 0},
	[FUSE_CREATE] = {op_create, FS_OP_MUTATES},
	[FUSE_READ] = {op_rw, 0},
	[FUSE_WRITE] = {op_rw, FS_OP_MUTATES},
	[FUSE_READDIR] = {op_readdir, 0},
	[FUSE_READDIRPLUS] = {op_readdir, 0},
	[FUSE_STATFS] = {op_statfs, 0},
	[FUSE_RELEASE] = {op_release, 0},
	[FUSE_RELEASEDIR] = {op_release, 0},
	[FUSE_FLUSH] = {op_flush, 0},
	[FUSE_FSYNC] = {op_fsync, 0},
	[FUSE_FSYNCDIR] = {op_fsync, 0},
	[FUSE_FALLOCATE] = {op_fallocate, FS_OP_MUTATES},
	[FUSE_GETXATTR] = {op_xattr, 0},
	[FUSE_LISTXATTR] = {op_xattr, 0},
	[FUSE_SETXATTR] = {op_xattr, FS_OP_MUTATES},
	[FUSE_REMOVEXATTR] = {op_xattr, FS_OP_MUTATES},
	[FUSE_LSEEK] = {op_lseek, 0},
};

static const struct fs_op *fs_op_of(uint32_t op)
{
	if (op >= sizeof(fs_ops) / sizeof(fs_ops[0]) || !fs_ops[op].fn)
		return NULL;
	return &fs_ops[op];
}

bool fs_srv_mutates(uint32_t op)
{
	const struct fs_op *h = fs_op_of(op);
	return h && (h->flags & FS_OP_MUTATES);
}

static int serve(struct fs_srv *s, const struct fs_req *r, struct fs_out *o)
{
	const struct fs_op *h = fs_op_of(r->h.opcode);
	unsigned flags = h ? h->flags : 0;
	if (flags & FS_OP_ANY_TIME)
		return h->fn(s, r, 0, o);
	if (!s->inited)
		return -EIO;
	if (flags & FS_OP_NO_INODE)
		return h->fn(s, r, 0, o);
	uint32_t idx;
	if (!ino_get(s, r->h.nodeid, &idx))
		return (flags & FS_OP_STALE_OK) ? 0 : -ESTALE;
	if (s->ro && (flags & FS_OP_MUTATES))
		return -EROFS;
	return h ? h->fn(s, r, idx, o) : -ENOSYS;
}

void fs_srv_handle(struct fs_srv *s, const struct fs_req *r, struct fs_out *o)
{
	o->error = 0;
	o->len = 0;
	o->data = NULL;
	o->io = FS_IO_NONE;
	o->io_fd = -1;
	if (r->error) {
		o->error = r->error;
		return;
	}
	pthread_mutex_lock(&s->lock);
	o->error = serve(s, r, o);
	pthread_mutex_unlock(&s->lock);
	if (o->error) {
		o->len = 0;
		o->io = FS_IO_NONE;
	}
}

void fs_srv_write_done(struct fs_out *o, int64_t res)
{
	o->io = FS_IO_NONE;
	if (res < 0) {
		o->error = (int)res;
		o->len = 0;
		return;
	}
	struct fuse_write_out *w = out_small(o, sizeof(*w));
	w->size = (uint32_t)res;
}
