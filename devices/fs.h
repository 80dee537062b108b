/* SPDX-License-Identifier: MIT */
/* virtio-fs: a host directory shared with the guest, served in-process.
 *
 * Three layers, as for the other devices:
 * - the message model (fs_model.c): parses FUSE requests out of a
 *   descriptor chain and writes replies into it; pure, no syscalls, so it
 *   is unit-tested and fuzzed with hostile chains;
 * - the server (fs_srv.c): the FUSE operations against the shared
 *   directory: an inode table of O_PATH handles, each name resolved as one
 *   component beneath its parent's handle (openat2 with RESOLVE_BENEATH |
 *   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), never a string path,
 *   never a symlink followed on the host;
 * - the device (fs.c): the hiprio queue and one request queue, each served
 *   by its own jailed worker; READ and WRITE go through io_uring straight
 *   between the host file and guest memory. */
#ifndef CVMM_FS_H
#define CVMM_FS_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "core/err.h"

#define FS_TAG_MAX     36	    /* virtio_fs_config.tag, not NUL-terminated */
#define FS_ARGS_MAX    (16384 + 64) /* request arguments we copy (WRITE data excepted) */
#define FS_NAME_MAX    255	    /* one path component */
#define FS_SYMLINK_MAX 4095	    /* a symlink's target */
#define FS_MAX_RW      (1u << 20)   /* READ/WRITE size, at most (max_write is less) */
#define FS_MAX_WRITE   (128u << 10) /* max_write we offer */
#define FS_MAX_PAGES   32	    /* max_pages we offer */
#define FS_MAX_DIRBUF  (128u << 10) /* READDIR(PLUS) reply, at most */
#define FS_IOV_MAX     260	    /* segments of one READ or WRITE */
#define FS_MAX_INODES  65536	    /* live inodes (the root included) */
#define FS_MAX_FH      1024	    /* open files and directories */
#define FS_FORGET_MAX  ((FS_ARGS_MAX - 8) / 16) /* BATCH_FORGET entries */
#define FS_OUT_SMALL   256			/* largest fixed-size reply (entry + open) */

/* ---- the message model ---------------------------------------------------- */

/* One parsed request. Arguments are copied out of guest memory (the guest
 * cannot change them while we use them), except WRITE's data, which stays
 * in guest memory as iov[]. */
struct fs_req {
	struct fuse_in_header h;
	int error;	   /* set by fs_parse: reply with this (negative errno) */
	bool noreply;	   /* FORGET/BATCH_FORGET: no reply is sent */
	uint32_t arglen;   /* bytes in args */
	uint32_t room;	   /* writable bytes past the out header */
	const char *name;  /* first NUL-terminated name in args, or NULL */
	const char *name2; /* second (RENAME, SYMLINK's target), SETXATTR's value */
	uint32_t vlen;	   /* SETXATTR: the value's length */
	unsigned niov;	   /* WRITE: the data, in guest memory */
	struct iovec iov[FS_IOV_MAX];
	_Alignas(8) uint8_t args[FS_ARGS_MAX];
};

/* Parses the chain's readable part. Returns 0 with *r filled; r->error
 * non-zero means "answer with this error" (the header's unique is known).
 * Returns -EINVAL when no reply can be made (no readable header), the
 * chain is then returned unused. Checks: in-header len equals the readable
 * bytes, the opcode's fixed argument size, names NUL-terminated within the
 * arguments and at most FS_NAME_MAX bytes, no '/' in a component and no "."
 * or "..", bounded counts (BATCH_FORGET, READ, WRITE, READDIR sizes). An
 * unknown opcode gives -ENOSYS. */
__attribute__((warn_unused_result)) int fs_parse(const struct vq_chain *c, struct fs_req *r);

/* Writes a reply (out header then n bytes of payload) into the chain's
 * writable part. Returns the bytes written, 0 if not even the header fits.
 * A payload that does not fit turns into an -EINVAL reply (header only). */
uint32_t fs_reply(const struct vq_chain *c, uint64_t unique, int error, const void *payload,
		  size_t n);
/* READ: the writable part past the out header, at most n bytes, as iov.
 * Returns the entry count or -ENOSPC. */
int fs_reply_iov(const struct vq_chain *c, size_t n, struct iovec *iov, unsigned max);
/* Whether name is one acceptable path component. */
bool fs_name_ok(const char *name);

/* ---- the server ------------------------------------------------------------ */

struct fs_inode {
	int fd;		  /* owned O_PATH | O_NOFOLLOW handle, -1 when free */
	uint32_t gen;	  /* bumped at each reuse of the slot */
	uint64_t nlookup; /* lookup references the guest holds (FORGET drops them) */
	uint32_t nopen;	  /* open files on it: they pin it whatever FORGET says */
	uint64_t dev, ino;
	uint32_t mode;		    /* file type bits at lookup */
	uint32_t parent;	    /* index of the directory it was found in */
	uint32_t kids;		    /* inodes whose parent this is (they pin it) */
	uint32_t hnext;		    /* hash chain (index + 1, 0: end) */
	uint32_t fnext;		    /* free list (index + 1, 0: end) */
	char name[FS_NAME_MAX + 1]; /* its name in parent (to reopen it) */
};

struct fs_fh {
	int fd;	       /* owned, -1 when free */
	bool poisoned; /* its registered slot could not be cleared: never reuse */
	uint32_t gen;
	uint32_t ino; /* inode index */
	bool dir;
};

/* What the device must do after fs_srv_handle. */
enum fs_io { FS_IO_NONE, FS_IO_READ, FS_IO_WRITE };

struct fs_out {
	int error;	  /* negative errno, 0 */
	size_t len;	  /* payload bytes in data */
	const void *data; /* small[] or the server's dir buffer */
	_Alignas(8) uint8_t small[FS_OUT_SMALL];
	enum fs_io io;	  /* READ/WRITE to do, then reply */
	int io_fd;	  /* borrowed: the open file */
	unsigned io_slot; /* its index in the registered-file table */
	uint64_t io_off;
	uint32_t io_len;
};

/* Called (on the worker) when an open file gets or loses (fd -1) its
 * registered-file slot. Returns 0 or -errno: an open whose slot cannot be
 * set fails; a slot that cannot be cleared is never used again. */
typedef int (*fs_file_hook)(void *opaque, unsigned slot, int fd);

struct fs_srv {
	pthread_mutex_t lock; /* the hiprio and request workers share the tables */
	bool ro;
	bool xattr;	      /* serve the xattr calls (else ENOSYS, as virtiofsd) */
	bool inited;	      /* FUSE_INIT seen */
	uint32_t minor;	      /* negotiated */
	struct fs_inode *ino; /* owned, cap entries */
	uint32_t cap;	      /* inode table size, at most FS_MAX_INODES */
	uint32_t nino;	      /* slots ever used */
	uint32_t ffree;	      /* free list head (index + 1) */
	uint32_t *hash;	      /* owned, cap buckets (index + 1) */
	struct fs_fh fh[FS_MAX_FH];
	fs_file_hook hook;
	void *hook_opaque;
	uint8_t *dirbuf;  /* owned, FS_MAX_DIRBUF */
	uint8_t *dentbuf; /* owned, getdents64 scratch */
	/* owned O_PATH handle on /proc/self/fd, or -1: chmod and link through
	 * an inode's own handle where the kernel has no AT_EMPTY_PATH form */
	int proc_fd;
	bool no_fchmodat2; /* the kernel said ENOSYS once (before 6.6) */
};

/* root_fd (an O_PATH directory) is taken. cap: live inodes at most, 2 ..
 * FS_MAX_INODES (the device uses FS_MAX_INODES; tests and the fuzzer less). */
__attribute__((warn_unused_result)) int fs_srv_init(struct fs_srv *s, int root_fd, bool ro,
						    uint32_t cap);
void fs_srv_destroy(struct fs_srv *s);
/* Serves one parsed request; *o says what to answer (or what I/O to do
 * first). Thread-safe. */
void fs_srv_handle(struct fs_srv *s, const struct fs_req *r, struct fs_out *o);
/* Whether the server refuses opcode op on a read-only share (EROFS). */
bool fs_srv_mutates(uint32_t op);
/* After FS_IO_*: the reply payload for a WRITE of res bytes. */
void fs_srv_write_done(struct fs_out *o, int64_t res);

/* ---- the device ------------------------------------------------------------ */

struct fs_cfg {
	const char *tag;
	const char *path;
	bool ro, xattr;
	/* the workers keep the ownership capabilities (JAIL_FS_CAPS) the
	 * process has, so the guest's root acts as root beneath the share */
	bool privileged;
	/* the VM's shares, this one included: RLIMIT_NOFILE is raised for
	 * them all (fs_nofile_want) */
	unsigned shares;
};

/* The RLIMIT_NOFILE that fs_open asks for: room for every descriptor of
 * `shares` shares (0 counts as 1), and 1,024 for the rest of the VMM. */
uint64_t fs_nofile_want(unsigned shares);

struct fs;
__attribute__((warn_unused_result)) int fs_open(struct fs **out, const struct fs_cfg *cfg,
						unsigned index, struct err *e);
__attribute__((warn_unused_result)) int fs_start(struct fs *f, const struct guest_mem *mem,
						 const struct virtio_irqfds *irq, struct err *e);
struct virtio_dev *fs_vdev(struct fs *f);
int fs_kick_fd(struct fs *f, unsigned q);
unsigned fs_queues(const struct fs *f);
void fs_destroy(struct fs *f);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc fs_desc;

#endif
