/* SPDX-License-Identifier: MIT */
/* virtio-fs device: queue 0 is hiprio (FORGET, BATCH_FORGET: no replies),
 * queue 1 the one request queue. Each has its own jailed worker; the
 * request worker does READ and WRITE on io_uring, straight between the
 * host file and the guest's buffers, and the metadata calls itself. Open
 * files get a slot in the request ring's sparse registered-file table
 * (IORING_REGISTER_FILES_UPDATE, the one register opcode its ring allows),
 * because the ring only takes fixed files. */
#include "devices/fs.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_fs.h> /* struct virtio_fs_config */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/worker.h"

#define FS_NQUEUES   2
#define FS_QUEUE_MAX 256
#define FS_REQS	     16 /* request slots per queue (only READ/WRITE stay in flight) */

struct fs_slot {
	struct fs_req req;
	struct fs_out out;
	struct vq_chain chain;
	struct iovec iov[FS_IOV_MAX];
	struct fs_slot *next_free;
};

struct fs_queue {
	struct vq_worker w;
	struct fs *f;
	struct fs_slot *free;
	struct fs_slot *slots; /* owned, FS_REQS */
	bool pushed;
};

struct fs {
	struct virtio_dev vdev;
	struct fs_srv srv;
	char tag[FS_TAG_MAX];
	unsigned index, nworkers;
	bool srv_ready, started, privileged;
	struct fs_queue q[FS_NQUEUES];
};

struct virtio_dev *fs_vdev(struct fs *f)
{
	return &f->vdev;
}

int fs_kick_fd(struct fs *f, unsigned q)
{
	return f->q[q].w.kick_fd;
}

unsigned fs_queues(const struct fs *f)
{
	(void)f;
	return FS_NQUEUES;
}

static void fs_push(struct fs_queue *fq, struct fs_slot *s, uint32_t written)
{
	(void)virtio_push(&fq->f->vdev, &fq->w.q, s->chain.head, written);
	fq->pushed = true;
	s->next_free = fq->free;
	fq->free = s;
}

static void fs_notify(struct fs_queue *fq)
{
	if (fq->pushed && vq_need_notify(&fq->w.q))
		virtio_notify_vq(&fq->f->vdev, fq->w.qidx);
	fq->pushed = false;
}

static void fs_answer(struct fs_queue *fq, struct fs_slot *s)
{
	uint32_t n = 0;
	if (!s->req.noreply)
		n = fs_reply(&s->chain, s->req.h.unique, s->out.error, s->out.data, s->out.len);
	fs_push(fq, s, n);
}

/* The registered-file table follows the server's open files.
 *
 * A READ or WRITE prepared earlier in this batch (fs_submit) names its
 * file by slot, and io_uring looks the slot up only when the SQE is
 * submitted. So the SQEs not yet submitted go first: otherwise a WRITE,
 * the RELEASE of its file and an OPEN that gets the same slot, all in one
 * batch, would write the newly opened file. Once submitted, a request
 * keeps its file whatever the table does later. Where they cannot all be
 * submitted now, the slot stays as it is: an OPEN fails, a RELEASE leaves
 * the slot never to be used again (fh_release). */
static int fs_file_slot(void *opaque, unsigned slot, int fd)
{
	struct fs_queue *fq = opaque;
	if (io_uring_sq_ready(&fq->w.ring) &&
	    (io_uring_submit(&fq->w.ring) < 0 || io_uring_sq_ready(&fq->w.ring)))
		return -EBUSY;
	int r = io_uring_register_files_update(&fq->w.ring, WORKER_FILE_DEV + slot, &fd, 1);
	return r < 0 ? r : (r == 1 ? 0 : -EIO);
}

static void fs_submit(struct fs_queue *fq, struct fs_slot *s)
{
	struct fs_out *o = &s->out;
	int n;
	if (o->io == FS_IO_READ)
		n = fs_reply_iov(&s->chain, o->io_len, s->iov, FS_IOV_MAX);
	else
		n = (int)s->req.niov;
	struct io_uring_sqe *sqe = n >= 0 ? vq_worker_sqe(&fq->w) : NULL;
	if (!sqe) {
		o->error = n < 0 ? -EINVAL : -EAGAIN;
		fs_answer(fq, s);
		return;
	}
	unsigned file = WORKER_FILE_DEV + o->io_slot;
	if (o->io == FS_IO_READ)
		io_uring_prep_readv(sqe, (int)file, s->iov, (unsigned)n, o->io_off);
	else
		io_uring_prep_writev(sqe, (int)file, s->req.iov, (unsigned)n, o->io_off);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, s);
	fq->w.inflight++;
}

static void fs_kick(struct vq_worker *w)
{
	struct fs_queue *fq = w->model;
	for (;;) {
		vq_disable_notify(&w->q);
		while (fq->free) {
			struct fs_slot *s = fq->free;
			int r = vq_worker_pop(w, &s->chain);
			if (r < 0)
				return;
			if (r == 0)
				break;
			fq->free = s->next_free;
			if (fs_parse(&s->chain, &s->req) < 0) {
				fs_push(fq, s, 0); /* not even a header: nothing to answer */
				continue;
			}
			/* The hiprio queue carries FORGETs only. */
			if (fq == &fq->f->q[0] && !s->req.error && !s->req.noreply)
				s->req.error = -EINVAL;
			fs_srv_handle(&fq->f->srv, &s->req, &s->out);
			if (s->out.io != FS_IO_NONE)
				fs_submit(fq, s);
			else
				fs_answer(fq, s);
		}
		if (!fq->free || !vq_enable_notify(&w->q))
			break;
	}
	io_uring_submit(&w->ring);
	fs_notify(fq);
}

static void fs_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct fs_queue *fq = w->model;
	struct fs_slot *s = io_uring_cqe_get_data(cqe);
	if (drop) {
		s->next_free = fq->free;
		fq->free = s;
		return;
	}
	if (s->out.io == FS_IO_READ) {
		if (cqe->res < 0) {
			s->out.error = cqe->res;
			s->out.len = 0;
			fs_answer(fq, s);
		} else {
			/* The data is in place: only the header is left. */
			struct fuse_out_header oh = {.len = (uint32_t)sizeof(oh) +
							    (uint32_t)cqe->res,
						     .unique = s->req.h.unique};
			struct vq_cursor in;
			vq_cursor_in(&in, &s->chain);
			vq_cursor_write(&in, &oh, sizeof(oh));
			fs_push(fq, s, oh.len);
		}
	} else {
		fs_srv_write_done(&s->out, cqe->res);
		fs_answer(fq, s);
	}
	fs_notify(fq);
	if (w->active)
		fs_kick(w);
}

/* Reset or exit with READs or WRITEs in flight: cancel them all. A reset
 * waits for its queue's I/O to end, on a vCPU thread that holds the device
 * lock, so nothing may keep it waiting: the server only ever opens regular
 * files, but a host file system can still stall (a hard NFS mount). The
 * cancelled requests complete with drop set and are freed unanswered. */
static void fs_quiesce(struct vq_worker *w)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	sqe->flags |= IOSQE_FIXED_FILE; /* the ring's restrictions require it */
	io_uring_sqe_set_data64(sqe, WORKER_TAG_IGNORE);
	io_uring_submit(&w->ring);
}

static const struct vq_worker_ops fs_worker_ops = {
	.kick = fs_kick,
	.complete = fs_complete,
	.quiesce = fs_quiesce,
};

_Static_assert(FS_TAG_MAX == sizeof(((struct virtio_fs_config *)0)->tag),
	       "FS_TAG_MAX is virtio_fs_config's tag");

/* struct virtio_fs_config: the tag, and the request queues (all but
 * hiprio). */
static void fs_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct fs *f = d->model;
	struct virtio_fs_config cfg = {.num_request_queues = htole32(FS_NQUEUES - 1)};
	memcpy(cfg.tag, f->tag, sizeof(cfg.tag));
	virtio_config_copy(&cfg, sizeof(cfg), off, data, len);
}

static int fs_activate(struct virtio_dev *d)
{
	struct fs *f = d->model;
	if (!d->qcfg[1].ready)
		return -EINVAL;
	for (unsigned i = 0; i < FS_NQUEUES; i++)
		if (d->qcfg[i].ready)
			vq_worker_activate(&f->q[i].w);
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

/* A reset does not wait for the workers: a request the server is handling
 * makes host calls that can take long (a stalled host file system), and the
 * vCPU that asked must not wait with it. The status reads non-zero until
 * both queues' workers stopped (fs_reset_done). */
static void fs_reset_start(struct virtio_dev *d)
{
	struct fs *f = d->model;
	for (unsigned i = 0; i < FS_NQUEUES; i++)
		vq_worker_reset_start(&f->q[i].w);
}

static bool fs_reset_done(struct virtio_dev *d, const struct timespec *until)
{
	struct fs *f = d->model;
	for (unsigned i = 0; i < FS_NQUEUES; i++)
		if (!vq_worker_reset_wait(&f->q[i].w, until))
			return false;
	return true;
}

static const struct virtio_dev_ops fs_dev_ops = {
	.device_id = VIRTIO_ID_FS,
	.config_read = fs_config_read,
	.activate = fs_activate,
	.reset_start = fs_reset_start,
	.reset_done = fs_reset_done,
};

uint64_t fs_nofile_want(unsigned shares)
{
	return (uint64_t)(shares ? shares : 1) * (FS_MAX_INODES + FS_MAX_FH) + 1024;
}

/* Each inode the guest holds is an O_PATH descriptor (and each open file
 * one more): 1024, the usual soft limit, is far too few for a directory of
 * 10,000 entries. Raise the soft limit to what the tables of all the VM's
 * shares can hold (the hard limit too where we may; else the soft limit
 * as far as the hard one); the limit is the process's, as for virtiofsd.
 * Each share asks for the same figure, so the first one raises it. */
static void fs_raise_nofile(unsigned shares)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)fs_nofile_want(shares);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit up = {want, want};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

int fs_open(struct fs **out, const struct fs_cfg *cfg, unsigned index, struct err *e)
{
	*out = NULL;
	size_t tl = cfg->tag ? strlen(cfg->tag) : 0;
	if (tl == 0 || tl > FS_TAG_MAX)
		return err_set(e, EINVAL, "fs: the tag must be 1..%d bytes", FS_TAG_MAX);
	struct fs *f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(e, ENOMEM, "out of memory");
	f->index = index;
	memcpy(f->tag, cfg->tag, tl);
	fs_raise_nofile(cfg->shares);
	int fd = open(cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int er = errno;
		free(f);
		return err_set(e, er, "fs '%s': cannot open directory '%s': %s", cfg->tag,
			       cfg->path, strerror(er));
	}
	int r = fs_srv_init(&f->srv, fd, cfg->ro, FS_MAX_INODES); /* takes fd */
	if (r < 0) {
		free(f);
		return err_set(e, -r, "fs '%s': '%s': %s", cfg->tag, cfg->path, strerror(-r));
	}
	f->srv_ready = true;
	f->srv.xattr = cfg->xattr;
	f->privileged = cfg->privileged;
	*out = f;
	return 0;
}

/* Both of a share's workers load the fs table (the FUSE server's host
 * calls). The request worker's ring does READ and WRITE (READV, WRITEV),
 * cancels them at a reset (fs_quiesce), and fills and clears its sparse
 * file table itself as the guest opens and releases files; the
 * high-priority queue's only forgets. */
enum { FS_GRANT_HIPRIO, FS_GRANT_REQUEST };
static const uint8_t fs_uring_ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_ASYNC_CANCEL};
static const struct vq_grant fs_grants[] = {
	[FS_GRANT_HIPRIO] = {.thread = "cvmm-fs<N>-hi", .jail = &vq_jail_fs},
	[FS_GRANT_REQUEST] = {.thread = "cvmm-fs<N>-q0",
			      .jail = &vq_jail_fs,
			      VQ_GRANT_OPS(fs_uring_ops),
			      .files_update = true,
			      .files = "empty slots (FS_MAX_FH) that OPEN and CREATE fill and "
				       "RELEASE clears"},
};

int fs_start(struct fs *f, const struct guest_mem *mem, const struct virtio_irqfds *irq,
	     struct err *e)
{
	struct virtio_dev *d = &f->vdev;
	virtio_dev_setup(d, &fs_dev_ops, f, mem, irq, FS_NQUEUES, FS_QUEUE_MAX, 0);
	f->started = true;
	for (unsigned i = 0; i < FS_NQUEUES; i++) {
		struct fs_queue *fq = &f->q[i];
		fq->f = f;
		unsigned nslots = i == 0 ? 4 : FS_REQS;
		fq->slots = calloc(nslots, sizeof(*fq->slots));
		if (!fq->slots)
			return err_set(e, ENOMEM, "out of memory");
		for (unsigned k = 0; k < nslots; k++) {
			fq->slots[k].next_free = fq->free;
			fq->free = &fq->slots[k];
		}
		char name[32];
		snprintf(name, sizeof(name), "cvmm-fs%u-%s", f->index, i == 0 ? "hi" : "q0");
		struct vq_worker_cfg wc = {
			.ops = &fs_worker_ops,
			.model = fq,
			.grant = &fs_grants[i == 0 ? FS_GRANT_HIPRIO : FS_GRANT_REQUEST],
			.sparse_files = i == 0 ? 0 : FS_MAX_FH,
			.ring_entries = 2 * FS_REQS,
			.name = name,
			/* the high-priority queue only forgets */
			.keep_caps = f->privileged && i != 0 ? JAIL_FS_CAPS : 0,
		};
		int r = vq_worker_create(&fq->w, d, i, &wc, e);
		f->nworkers = i + 1;
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&f->srv.lock);
	f->srv.hook = fs_file_slot;
	f->srv.hook_opaque = &f->q[1];
	pthread_mutex_unlock(&f->srv.lock);
	return 0;
}

void fs_destroy(struct fs *f)
{
	if (!f)
		return;
	if (f->started) {
		for (unsigned i = 0; i < f->nworkers; i++)
			vq_worker_destroy(&f->q[i].w);
		pthread_mutex_destroy(&f->vdev.lock);
	}
	for (unsigned i = 0; i < FS_NQUEUES; i++)
		free(f->q[i].slots);
	if (f->srv_ready) {
		f->srv.hook = NULL; /* the rings are gone */
		fs_srv_destroy(&f->srv);
	}
	free(f);
}

VDEV_ADAPTERS(fs, struct fs, struct fs_cfg, fs_open)
const struct vdev_desc fs_desc = {
	.name = "virtio-fs",
	.virtio_id = VIRTIO_ID_FS,
	VDEV_ADAPTED(fs),
	.grants = fs_grants,
	.ngrants = sizeof(fs_grants) / sizeof(fs_grants[0]),
};
