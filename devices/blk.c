/* SPDX-License-Identifier: MIT */
/* virtio-blk (virtio 1.2, section 5.2): one worker per queue, each doing
 * its requests on the disk file through io_uring. The device model
 * (blk_parse: a chain into a request) is in blk_model.c. */
#include "devices/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "core/snap.h"
#include "devices/virtio/limiter.h"
#include "devices/virtio/virtio.h"

/* ---- the device ------------------------------------------------------------ */

struct blk_queue {
	struct vq_worker w;
	struct blk *b;
	struct blk_req *free;
	/* metrics (blk_metrics): this queue's worker writes them */
	_Atomic uint64_t reads, writes, read_bytes, write_bytes, flushes, invalid, not_requests;
	struct blk_req reqs[BLK_QUEUE_MAX];
	struct vq_chain chain; /* scratch for vq_pop */
	bool pushed;
	uint64_t limit_since; /* its wait for the rate limiter began (0: none) */
	/* The worker's own copy of the disk's geometry, refreshed from the
	 * device's when blk_update changed it (geom_gen). */
	struct blk_geom geom;
	unsigned geom_gen;
	/* SQEs this queue's worker prepared and CQEs it handled, for
	 * blk_update to wait for the I/O it had sent to the file it replaced
	 * (the worker writes them, the updating thread reads them). */
	_Atomic uint64_t sqes, cqes;
};

struct blk {
	struct virtio_dev vdev;
	/* Its geometry: the size and serial change with blk_update (under
	 * geom_lock; geom_gen counts the changes), the rest never does. */
	struct blk_geom geom;
	pthread_mutex_t geom_lock;
	atomic_uint geom_gen;
	/* one blk_update at a time */
	pthread_mutex_t update_lock;
	int fd;	      /* owned: the disk file (blk_update replaces it) */
	dev_t st_dev; /* the disk file's identity */
	ino_t st_ino;
	unsigned index, nq, nworkers;
	unsigned poll_us; /* its workers' largest poll window (blk_cfg) */
	bool direct, started;
	struct blk_queue *q;	 /* owned, nq entries */
	struct vq_limiter limit; /* shared by the queues */
	/* How WRITE_ZEROES can be done (blk_wz_next), shared by the queues'
	 * workers: each goes false for good once the file refuses it. */
	atomic_bool punch_ok;	   /* a punched hole reads zeros (probed at open) */
	atomic_bool zero_range_ok; /* FALLOC_FL_ZERO_RANGE (tried at the first use) */
	uint8_t *zeros;		   /* owned: BLK_ZERO_BUF zero bytes, O_DIRECT-aligned */
};

/* Ways of doing a WRITE_ZEROES, in the order they are tried. */
enum { BLK_WZ_NONE, BLK_WZ_PUNCH, BLK_WZ_ZERO_RANGE, BLK_WZ_WRITE };

/* The next way to do r after `after` (BLK_WZ_NONE: the first): a hole
 * where the driver lets us deallocate and a hole reads zeros; else
 * FALLOC_FL_ZERO_RANGE unless the file system refused it (tmpfs has none);
 * else writing zeros, which always works. */
static uint8_t blk_wz_next(struct blk *b, const struct blk_req *r, uint8_t after)
{
	if (after < BLK_WZ_PUNCH && r->unmap && atomic_load(&b->punch_ok))
		return BLK_WZ_PUNCH;
	if (after < BLK_WZ_ZERO_RANGE && atomic_load(&b->zero_range_ok))
		return BLK_WZ_ZERO_RANGE;
	return BLK_WZ_WRITE;
}

struct virtio_dev *blk_vdev(struct blk *b)
{
	return &b->vdev;
}

int blk_kick_fd(struct blk *b, unsigned q)
{
	return b->q[q].w.kick_fd;
}

unsigned blk_queues(const struct blk *b)
{
	return b->nq;
}

static void blk_put(struct blk_queue *bq, struct blk_req *r)
{
	r->next_free = bq->free;
	bq->free = r;
}

/* Every request slot free, nothing pushed: at start, and before each
 * activation (the worker is idle then, its reset complete), so that a
 * reset gives the driver a whole queue back whatever happened before. */
static void blk_queue_restore(struct blk_queue *bq)
{
	bq->free = NULL;
	for (unsigned k = BLK_QUEUE_MAX; k-- > 0;)
		blk_put(bq, &bq->reqs[k]);
	bq->pushed = false;
	bq->limit_since = 0;
}

/* Returns the chain with `written` bytes and the slot to the free list:
 * every popped chain ends here, whatever became of its request. */
static void blk_give_back(struct blk_queue *bq, struct blk_req *r, uint32_t written)
{
	(void)virtio_push(&bq->b->vdev, &bq->w.q, r->head, written);
	bq->pushed = true;
	blk_put(bq, r);
}

static void blk_finish(struct blk_queue *bq, struct blk_req *r)
{
	if (r->status != VIRTIO_BLK_S_OK) {
		vdev_count(&bq->invalid, 1);
	} else if (r->op == BLK_OP_READ) {
		vdev_count(&bq->reads, 1);
		vdev_count(&bq->read_bytes, r->len);
	} else if (r->op == BLK_OP_WRITE) {
		vdev_count(&bq->writes, 1);
		vdev_count(&bq->write_bytes, r->len);
	} else if (r->op == BLK_OP_FLUSH) {
		vdev_count(&bq->flushes, 1);
	}
	*r->status_ptr = r->status;
	blk_give_back(bq, r, r->written);
}

static void blk_notify(struct blk_queue *bq)
{
	if (bq->pushed && vq_need_notify(&bq->w.q))
		virtio_notify_vq(&bq->b->vdev, bq->w.qidx);
	bq->pushed = false;
}

/* The backend: one SQE per request, on the registered disk file. */
static void blk_submit(struct blk_queue *bq, struct blk_req *r)
{
	struct io_uring_sqe *sqe = vq_worker_sqe(&bq->w);
	if (!sqe) {
		r->status = VIRTIO_BLK_S_IOERR;
		blk_finish(bq, r);
		return;
	}
	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, WORKER_FILE_DEV, r->iov, r->niov, r->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, WORKER_FILE_DEV, r->iov, r->niov, r->offset);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, WORKER_FILE_DEV, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, WORKER_FILE_DEV,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r->offset,
					r->len);
		break;
	case BLK_OP_WRITE_ZEROES:
		if (r->how == BLK_WZ_PUNCH) {
			io_uring_prep_fallocate(sqe, WORKER_FILE_DEV,
						FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						r->offset, r->len);
		} else if (r->how == BLK_WZ_ZERO_RANGE) {
			io_uring_prep_fallocate(sqe, WORKER_FILE_DEV,
						FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
						r->offset, r->len);
		} else {
			/* The next chunk, from the one zero buffer repeated. */
			uint64_t n = r->len - r->done;
			if (n > BLK_ZERO_CHUNK)
				n = BLK_ZERO_CHUNK;
			r->niov = 0;
			for (uint64_t at = 0; at < n; at += BLK_ZERO_BUF) {
				size_t k = n - at < BLK_ZERO_BUF ? n - at : BLK_ZERO_BUF;
				r->iov[r->niov++] = (struct iovec){bq->b->zeros, k};
			}
			io_uring_prep_writev(sqe, WORKER_FILE_DEV, r->iov, r->niov,
					     r->offset + r->done);
		}
		break;
	case BLK_OP_DONE:
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, r);
	bq->w.inflight++;
	atomic_store_explicit(&bq->sqes, atomic_load_explicit(&bq->sqes, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* The device's geometry into the worker's copy, if blk_update changed it
 * since the last look: requests popped from here on are checked against
 * the new size. */
static void blk_geom_refresh(struct blk_queue *bq)
{
	struct blk *b = bq->b;
	unsigned gen = atomic_load_explicit(&b->geom_gen, memory_order_acquire);
	if (gen == bq->geom_gen)
		return;
	pthread_mutex_lock(&b->geom_lock);
	bq->geom = b->geom;
	bq->geom_gen = atomic_load_explicit(&b->geom_gen, memory_order_relaxed);
	pthread_mutex_unlock(&b->geom_lock);
}

static void blk_kick(struct vq_worker *w)
{
	struct blk_queue *bq = w->model;
	blk_geom_refresh(bq);
	for (;;) {
		vq_disable_notify(&w->q);
		while (bq->free) {
			int r = vq_worker_pop(w, &bq->chain);
			if (r < 0)
				return;
			if (r == 0)
				break;
			struct blk_req *req = bq->free;
			bq->free = req->next_free;
			if (blk_parse(&bq->geom, &bq->chain, req) < 0) {
				/* No device-writable byte, so no status to give. The
				 * ring itself is sound (the chain kept the queue's
				 * rules): only this request is malformed, as one with
				 * a bad sector is, and the device is in no error state
				 * (NEEDS_RESET, virtio 1.2 2.1.2, would stop every
				 * other request of the queue). So the chain is
				 * consumed: used with length 0, nothing written
				 * (2.7.8), and its slot freed. */
				vdev_count(&bq->not_requests, 1);
				blk_give_back(bq, req, 0);
				continue;
			}
			/* The rate limiter: 1 op per request, and the data of a
			 * read or write (as Firecracker counts). Refused, the
			 * chain goes back to the ring for the limiter's timer. */
			uint64_t bytes =
				req->op == BLK_OP_READ || req->op == BLK_OP_WRITE ? req->len : 0;
			if (!vq_limit(&bq->b->limit, w, bytes, 1, &bq->limit_since)) {
				vq_unpop(&w->q, 1);
				blk_put(bq, req);
				goto out;
			}
			req->how = BLK_WZ_NONE;
			req->done = 0;
			if (req->op == BLK_OP_WRITE_ZEROES)
				req->how = blk_wz_next(bq->b, req, BLK_WZ_NONE);
			if ((req->op == BLK_OP_WRITE_ZEROES || req->op == BLK_OP_DISCARD) &&
			    req->len == 0) {
				/* nothing to do, whichever way (fallocate would
				 * refuse a length of 0) */
				req->op = BLK_OP_DONE;
				req->status = VIRTIO_BLK_S_OK;
			}
			if (req->op == BLK_OP_DONE)
				blk_finish(bq, req);
			else
				blk_submit(bq, req);
		}
		if (!bq->free || !vq_enable_notify(&w->q))
			break;
	}
out:
	/* the SQEs go out with the worker's next wait */
	blk_notify(bq);
}

/* A WRITE_ZEROES step ended with res: true if r went out again (the next
 * chunk of zeros, or the next way when the file refused this one), false
 * when it is finished (res < 0: failed). */
static bool blk_wz_more(struct blk_queue *bq, struct blk_req *r, int res)
{
	if (res == -EOPNOTSUPP && r->how != BLK_WZ_WRITE) {
		/* This file (system) cannot: not again, on any queue. */
		atomic_store(r->how == BLK_WZ_PUNCH ? &bq->b->punch_ok : &bq->b->zero_range_ok,
			     false);
		r->how = blk_wz_next(bq->b, r, r->how);
		blk_submit(bq, r);
		return true;
	}
	if (r->how != BLK_WZ_WRITE || res <= 0)
		return false;
	r->done += (uint64_t)res;
	if (r->done >= r->len)
		return false;
	blk_submit(bq, r);
	return true;
}

static void blk_complete(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop)
{
	struct blk_queue *bq = w->model;
	struct blk_req *r = io_uring_cqe_get_data(cqe);
	atomic_store_explicit(&bq->cqes, atomic_load_explicit(&bq->cqes, memory_order_relaxed) + 1,
			      memory_order_release);
	if (drop) {
		blk_put(bq, r);
		return;
	}
	if (r->op == BLK_OP_WRITE_ZEROES && blk_wz_more(bq, r, cqe->res))
		return; /* resubmitted: its next chunk, or another way */
	bool ok = cqe->res >= 0;
	if ((r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) && (uint64_t)cqe->res != r->len)
		ok = false; /* short I/O on a regular file: treat as an error */
	if (r->op == BLK_OP_WRITE_ZEROES && r->how == BLK_WZ_WRITE && r->done < r->len)
		ok = false; /* a write of zeros that wrote nothing */
	if (r->op == BLK_OP_READ && !ok)
		r->written = 1;
	r->status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	blk_finish(bq, r); /* the batch's flush notifies and refills */
}

static const struct vq_worker_ops blk_worker_ops = {
	.kick = blk_kick,
	.complete = blk_complete,
	/* After a batch of completions: one notification, and the freed
	 * slots let waiting chains through, all in one pass. */
	.flush = blk_kick,
};

/* Config space: struct virtio_blk_config (little endian: VERSION_1) up to
 * the secure-erase fields, which we do not offer. */
static void blk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct blk *b = d->model;
	pthread_mutex_lock(&b->geom_lock);
	uint64_t sectors = b->geom.sectors;
	pthread_mutex_unlock(&b->geom_lock);
	struct virtio_blk_config cfg = {
		.capacity = htole64(sectors),
		.size_max = htole32(BLK_SIZE_MAX),
		.seg_max = htole32(BLK_SEG_MAX),
		.blk_size = htole32(BLK_SECTOR),
		.num_queues = htole16((uint16_t)b->nq),
		.max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS),
		.max_discard_seg = htole32(1),
		.discard_sector_alignment = htole32(1),
		.max_write_zeroes_sectors = htole32(BLK_MAX_WZ_SECTORS),
		.max_write_zeroes_seg = htole32(1),
		/* where holes can be punched */
		.write_zeroes_may_unmap = b->geom.discard,
	};
	virtio_config_copy(&cfg, offsetof(struct virtio_blk_config, max_secure_erase_sectors), off,
			   data, len);
}

static int blk_activate(struct virtio_dev *d)
{
	struct blk *b = d->model;
	/* A driver may use fewer queues than offered (Linux uses at most one
	 * per vCPU): serve the ready ones, leave the others' workers idle. */
	if (!d->qcfg[0].ready)
		return -EINVAL;
	for (unsigned i = 0; i < b->nq; i++) {
		blk_queue_restore(&b->q[i]); /* its worker is idle: ours to touch */
		if (d->qcfg[i].ready)
			vq_worker_activate(&b->q[i].w);
	}
	return atomic_load(&d->needs_reset) ? -EINVAL : 0;
}

/* A reset does not wait for the disk: a read or write in flight may take
 * long (or, on a hung file system, never end), and the vCPU that asked must
 * not wait with it. Each queue's request pool is made whole again at the
 * next activation. */
static void blk_reset_start(struct virtio_dev *d)
{
	struct blk *b = d->model;
	for (unsigned i = 0; i < b->nq; i++)
		vq_worker_reset_start(&b->q[i].w);
}

static bool blk_reset_done(struct virtio_dev *d, const struct timespec *until)
{
	struct blk *b = d->model;
	for (unsigned i = 0; i < b->nq; i++)
		if (!vq_worker_reset_wait(&b->q[i].w, until))
			return false;
	return true;
}

static const struct virtio_dev_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset_start = blk_reset_start,
	.reset_done = blk_reset_done,
};

/* What DISCARD and WRITE_ZEROES can use on this disk (a writable one).
 * A regular file: whether it can have holes, asked by punching one past
 * its end (KEEP_SIZE), where there is no data to lose; a hole in a
 * regular file reads zeros. FALLOC_FL_ZERO_RANGE cannot be asked without
 * changing the file (there is no empty fallocate: a length of 0 is EINVAL
 * before the file system sees the mode), so the first WRITE_ZEROES asks
 * (on the range it zeroes anyway) and the device remembers a refusal. A
 * block device: its fallocate does both modes (the punch only where the
 * device zeroes without writing: a refusal is remembered too). Writing
 * zeros always works, so WRITE_ZEROES is always offered; DISCARD where a
 * hole can be made. */
static int blk_probe(struct blk *b, const struct stat *st, uint64_t size, struct err *e)
{
	bool punch = S_ISBLK(st->st_mode);
	if (S_ISREG(st->st_mode)) {
		off_t end = (off_t)((size + 4095) & ~4095ULL);
		int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		punch = fallocate(b->fd, mode, end, 4096) == 0;
	}
	atomic_init(&b->punch_ok, punch);
	atomic_init(&b->zero_range_ok, true);
	b->geom.discard = punch;
	b->geom.write_zeroes = true;
	b->zeros = aligned_alloc(4096, BLK_ZERO_BUF);
	if (!b->zeros)
		return err_set(e, ENOMEM, "out of memory");
	memset(b->zeros, 0, BLK_ZERO_BUF);
	return 0;
}

/* Opens the disk file at path as the device uses it (read-only or
 * read-write as configured, O_DIRECT if asked; a regular file or a block
 * device) into *fd, its identity in *st and its size in *size, and locks
 * it: two VMs must not share a writable image, so an OFD lock, exclusive
 * for read-write, shared for read-only. Not the file the device has
 * already (*same: the same device and inode), whose lock it holds. */
static int blk_file_open(const struct blk *b, const char *path, int *fd, struct stat *st,
			 uint64_t *size, bool *same, bool wait_lock, struct err *e)
{
	int flags = (b->geom.ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (b->direct ? O_DIRECT : 0);
	*same = false;
	*fd = file_open_nowait(path, flags);
	if (*fd < 0)
		return err_set(e, errno, "cannot open disk '%s': %s", path, strerror(errno));
	int r;
	if (fstat(*fd, st) < 0 || !(S_ISREG(st->st_mode) || S_ISBLK(st->st_mode))) {
		r = err_set(e, EINVAL, "disk '%s' is not a regular file or block device", path);
		goto fail;
	}
	*same = b->fd >= 0 && st->st_dev == b->st_dev && st->st_ino == b->st_ino;
	struct flock fl = {.l_type = b->geom.ro ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	/* At open (not on a running VM's control thread), a lock that goes
	 * within a second is waited for: a VM killed just before (a restore
	 * that replaces it) releases its images only once the kernel has torn
	 * down its io_uring rings, shortly after the process is reaped. */
	for (unsigned tries = 0; !*same && fcntl(*fd, F_OFD_SETLK, &fl) < 0; tries++) {
		if (!wait_lock || (errno != EAGAIN && errno != EACCES) || tries == 100) {
			r = err_set(e, EBUSY, "disk '%s' is in use by another process (locked)",
				    path);
			goto fail;
		}
		(void)poll(NULL, 0, 10);
	}
	*size = (uint64_t)st->st_size;
	if (S_ISBLK(st->st_mode)) {
		off_t end = lseek(*fd, 0, SEEK_END);
		*size = end > 0 ? (uint64_t)end : 0;
	}
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return r;
}

/* A stable serial: the device index and the file's identity. */
static void blk_serial(struct blk_geom *g, unsigned index, const struct stat *st)
{
	snprintf(g->id, sizeof(g->id), "cvmm%u-%llx", index,
		 (unsigned long long)(st->st_ino ^ ((uint64_t)st->st_dev << 32)));
}

int blk_open(struct blk **out, const struct blk_cfg *cfg, unsigned index, struct err *e)
{
	*out = NULL;
	if (cfg->queues == 0 || cfg->queues > BLK_MAX_QUEUES)
		return err_set(e, EINVAL, "disk '%s': queues must be 1..%d", cfg->path,
			       BLK_MAX_QUEUES);
	if ((uint64_t)cfg->poll_us * 1000 > VQ_POLL_MAX_NS)
		return err_set(e, EINVAL, "disk '%s': poll must be 0..%llu us", cfg->path,
			       VQ_POLL_MAX_NS / 1000);
	struct blk *b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, ENOMEM, "out of memory");
	b->fd = -1;
	b->index = index;
	b->nq = cfg->queues;
	b->direct = cfg->direct;
	b->poll_us = cfg->poll_us;
	b->geom.ro = cfg->ro;
	vq_limiter_init(&b->limit, &cfg->limit);
	pthread_mutex_init(&b->geom_lock, NULL);
	pthread_mutex_init(&b->update_lock, NULL);
	struct stat st;
	uint64_t size;
	bool same;
	int fd, r = blk_file_open(b, cfg->path, &fd, &st, &size, &same, true, e);
	if (r < 0)
		goto fail;
	b->fd = fd;
	b->st_dev = st.st_dev;
	b->st_ino = st.st_ino;
	b->geom.sectors = size / BLK_SECTOR;
	if (!cfg->ro) {
		r = blk_probe(b, &st, size, e);
		if (r < 0)
			goto fail;
	}
	blk_serial(&b->geom, index, &st);
	*out = b;
	return 0;
fail:
	if (b->fd >= 0)
		close(b->fd);
	pthread_mutex_destroy(&b->update_lock);
	pthread_mutex_destroy(&b->geom_lock);
	vq_limiter_destroy(&b->limit);
	free(b->zeros);
	free(b);
	return r;
}

/* A request queue's worker: the plain virtqueue-worker table; READ (its
 * eventfds), READV, WRITEV, FSYNC (FLUSH, as fdatasync), FALLOCATE
 * (DISCARD, WRITE_ZEROES) on the disk; TIMEOUT (the rate limiter's wait). */
static const uint8_t blk_uring_ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
					IORING_OP_FALLOCATE, IORING_OP_TIMEOUT};
static const struct vq_grant blk_grants[] = {
	{.thread = "cvmm-blk<N>-q<M>",
	 .jail = &vq_jail_worker,
	 VQ_GRANT_OPS(blk_uring_ops),
	 /* blk_update puts a new disk file in the slot (the updating
	  * thread's call, not the worker's: its filter has no
	  * io_uring_register) */
	 .files_update = true,
	 .files = "the disk"},
};

int blk_start(struct blk *b, const struct guest_mem *mem, const struct virtio_irqfds *irq,
	      struct err *e)
{
	struct virtio_dev *d = &b->vdev;
	virtio_dev_setup(d, &blk_ops, b, mem, irq, b->nq, BLK_QUEUE_MAX,
			 (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH));
	if (b->geom.discard)
		d->features |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (b->geom.write_zeroes)
		d->features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	if (b->geom.ro)
		d->features |= 1ULL << VIRTIO_BLK_F_RO;
	if (b->nq > 1)
		d->features |= 1ULL << VIRTIO_BLK_F_MQ;
	b->q = calloc(b->nq, sizeof(*b->q));
	if (!b->q)
		return err_set(e, ENOMEM, "out of memory");
	b->started = true;
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *bq = &b->q[i];
		bq->b = b;
		bq->geom = b->geom;
		blk_queue_restore(bq);
		char name[32];
		snprintf(name, sizeof(name), "cvmm-blk%u-q%u", b->index, i);
		struct vq_worker_cfg wc = {
			.ops = &blk_worker_ops,
			.model = bq,
			.grant = &blk_grants[0],
			.dev_fds = &b->fd,
			.ndev_fds = 1,
			.ring_entries = 2 * BLK_QUEUE_MAX,
			.name = name,
			.poll_max_ns = (uint64_t)b->poll_us * 1000,
		};
		int r = vq_worker_create(&bq->w, d, i, &wc, e);
		b->nworkers = i + 1; /* destroy undoes even a half-made worker */
		if (r < 0)
			return r;
	}
	return 0;
}

static bool blk_old_io_done(struct blk *b, const uint64_t *sqes)
{
	for (unsigned i = 0; i < b->nq; i++)
		if (atomic_load_explicit(&b->q[i].cqes, memory_order_acquire) < sqes[i])
			return false;
	return true;
}

/* Until every SQE the queues had prepared when the file was replaced
 * (sqes[]) has completed, BLK_UPDATE_WAIT_MS at most. */
static void blk_old_io_wait(struct blk *b, const uint64_t *sqes)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (blk_old_io_done(b, sqes))
			return;
		(void)vq_workers_run(&b->vdev, 0); /* inline workers (tests) */
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= BLK_UPDATE_WAIT_MS) {
			log_warn("disk %u: I/O on the replaced disk file still in flight after %d "
				 "ms: unlocking it anyway",
				 b->index, BLK_UPDATE_WAIT_MS);
			return;
		}
		(void)poll(NULL, 0, 1); /* a sleep the control thread's filter allows */
	}
}

int blk_update(struct blk *b, const char *path, struct err *e)
{
	if (!b->started)
		return err_set(e, EINVAL, "disk %u: not started", b->index);
	pthread_mutex_lock(&b->update_lock);
	struct stat st;
	uint64_t size;
	bool same;
	int fd, r = blk_file_open(b, path, &fd, &st, &size, &same, false, e);
	if (r < 0)
		goto out;
	if (same) {
		/* The file the device has (its lock held on our description):
		 * only its size is read again. */
		close(fd);
		fd = -1;
	} else {
		unsigned done;
		for (done = 0; done < b->nq; done++) {
			r = vq_worker_files_update(&b->q[done].w, WORKER_FILE_DEV, fd);
			if (r < 0)
				break;
		}
		if (r < 0) {
			/* nothing changed: the queues done so far back on the old file */
			while (done-- > 0) {
				int u = vq_worker_files_update(&b->q[done].w, WORKER_FILE_DEV,
							       b->fd);
				if (u < 0)
					log_warn("disk %u: queue %u kept the new file", b->index,
						 done);
			}
			close(fd);
			r = err_set(e, -r, "disk '%s': cannot hand it to the queues: %s", path,
				    strerror(-r));
			goto out;
		}
	}
	/* What the queues had prepared by now may be on the old file: wait for
	 * it below, before the old file is unlocked. */
	uint64_t sqes[BLK_MAX_QUEUES];
	for (unsigned i = 0; i < b->nq; i++)
		sqes[i] = atomic_load_explicit(&b->q[i].sqes, memory_order_acquire);
	pthread_mutex_lock(&b->geom_lock);
	b->geom.sectors = size / BLK_SECTOR;
	blk_serial(&b->geom, b->index, &st);
	atomic_fetch_add_explicit(&b->geom_gen, 1, memory_order_release);
	pthread_mutex_unlock(&b->geom_lock);
	virtio_config_changed(&b->vdev); /* the driver reads the new capacity */
	if (!same) {
		int old = b->fd;
		b->fd = fd;
		b->st_dev = st.st_dev;
		b->st_ino = st.st_ino;
		/* the features stay as negotiated; how a WRITE_ZEROES is done
		 * is found out again on the new file (a refusal is remembered) */
		atomic_store(&b->punch_ok, b->geom.discard);
		atomic_store(&b->zero_range_ok, true);
		blk_old_io_wait(b, sqes);
		struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
		(void)fcntl(old, F_OFD_SETLK, &fl);
		close(old);
	}
	r = 0;
out:
	pthread_mutex_unlock(&b->update_lock);
	return r;
}

void blk_destroy(struct blk *b)
{
	if (!b)
		return;
	if (b->started) {
		for (unsigned i = 0; i < b->nworkers; i++)
			vq_worker_destroy(&b->q[i].w);
		pthread_mutex_destroy(&b->vdev.lock);
	}
	free(b->q);
	if (b->fd >= 0) {
		/* The lock belongs to the open file description, which the
		 * workers' rings also hold (a registered file) until the kernel
		 * tears them down, some time after their close above: unlock
		 * now, so that the disk is free when we return (another cvmm
		 * started right after gets it), not when the kernel is done. */
		struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
		(void)fcntl(b->fd, F_OFD_SETLK, &fl);
		close(b->fd);
	}
	pthread_mutex_destroy(&b->update_lock);
	pthread_mutex_destroy(&b->geom_lock);
	vq_limiter_destroy(&b->limit);
	free(b->zeros);
	free(b);
}

static int blk_update_of(void *m, const char *path, struct err *e)
{
	return blk_update(m, path, e);
}

/* Its queues' counters, summed (none before it started). */
static void blk_metrics(const void *model, struct vdev_metrics *m)
{
	const struct blk *b = model;
	m->blk = (struct vdev_blk_metrics){0};
	for (unsigned i = 0; b->started && i < b->nq; i++) {
		const struct blk_queue *bq = &b->q[i];
		m->blk.read_count += atomic_load(&bq->reads);
		m->blk.write_count += atomic_load(&bq->writes);
		m->blk.read_bytes += atomic_load(&bq->read_bytes);
		m->blk.write_bytes += atomic_load(&bq->write_bytes);
		m->blk.flush_count += atomic_load(&bq->flushes);
		m->blk.invalid_reqs_count += atomic_load(&bq->invalid);
		m->blk.execute_fails += atomic_load(&bq->not_requests);
		m->blk.queue_event_count += atomic_load(&bq->w.kicks);
	}
	m->limit[0].throttled = atomic_load(&b->limit.throttled);
	m->limit[0].throttled_ns = atomic_load(&b->limit.throttled_ns);
}

static int blk_set_limiter(void *model, unsigned which, const struct rl_cfg *c, struct err *e)
{
	struct blk *b = model;
	if (which != 0)
		return err_set(e, EINVAL, "disk %u has one rate limiter", b->index);
	vq_limiter_set(&b->limit, c);
	for (unsigned i = 0; b->started && i < b->nworkers; i++)
		vq_worker_wake(&b->q[i].w);
	return 0;
}

/* Snapshot: section "virtio-blk". The driver's view of the disk beyond
 * virtio_dev is its configuration: the capacity (and the queue count,
 * which virtio_dev's queue count checks); a restore onto a disk of
 * another size is refused, as the guest's file systems would read past
 * or short of what they were written on. Its request slots need nothing:
 * a paused queue has none in flight. */
enum { SNAP_BLK_SECTORS = 1, SNAP_BLK_QUEUES, SNAP_BLK_RO };

static int blk_save(void *m, struct snap_w *w, uint32_t inst, struct err *e)
{
	struct blk *b = m;
	(void)e;
	pthread_mutex_lock(&b->geom_lock);
	uint64_t sectors = b->geom.sectors;
	pthread_mutex_unlock(&b->geom_lock);
	snap_section(w, blk_desc.name, inst);
	snap_u64(w, SNAP_BLK_SECTORS, sectors);
	snap_u32(w, SNAP_BLK_QUEUES, b->nq);
	snap_u32(w, SNAP_BLK_RO, b->geom.ro);
	return 0;
}

static int blk_restore(void *m, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct blk *b = m;
	struct snap_sec s;
	if (snap_find(r, blk_desc.name, inst, &s) < 0)
		return err_set(e, ENOENT, "disk %u: the state has no section %s/%u", b->index,
			       blk_desc.name, inst);
	static const uint16_t known[] = {SNAP_BLK_SECTORS, SNAP_BLK_QUEUES, SNAP_BLK_RO};
	uint64_t sectors;
	uint32_t nq, ro;
	int rc;
	if ((rc = snap_check_known(&s, known, 3, e)) < 0 ||
	    (rc = snap_get_u64(&s, SNAP_BLK_SECTORS, &sectors, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BLK_QUEUES, &nq, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_BLK_RO, &ro, e)) < 0)
		return rc;
	pthread_mutex_lock(&b->geom_lock);
	uint64_t now = b->geom.sectors;
	pthread_mutex_unlock(&b->geom_lock);
	if (sectors != now)
		return err_set(
			e, EINVAL,
			"disk %u: the disk has %llu sectors, the snapshot's had %llu (another "
			"disk, or resized)",
			b->index, (unsigned long long)now, (unsigned long long)sectors);
	if (nq != b->nq || ro != (uint32_t)b->geom.ro)
		return err_set(e, EINVAL, "disk %u: %u queues, %s, the snapshot's %u queues, %s",
			       b->index, b->nq, b->geom.ro ? "read-only" : "read-write", nq,
			       ro ? "read-only" : "read-write");
	return 0;
}

VDEV_ADAPTERS(blk, struct blk, struct blk_cfg, blk_open)
const struct vdev_desc blk_desc = {
	.save = blk_save,
	.restore = blk_restore,
	.name = "virtio-blk",
	.metrics = blk_metrics,
	.virtio_id = VIRTIO_ID_BLOCK,
	VDEV_ADAPTED(blk),
	.update = blk_update_of,
	.set_limiter = blk_set_limiter,
	.grants = blk_grants,
	.ngrants = sizeof(blk_grants) / sizeof(blk_grants[0]),
};
