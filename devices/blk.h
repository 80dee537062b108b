/* SPDX-License-Identifier: MIT */
/* virtio-blk: the device model (request parsing and decisions, no
 * syscalls) and its io_uring backend (one worker per queue). */
#ifndef CVMM_BLK_H
#define CVMM_BLK_H

#include <linux/virtio_blk.h> /* VIRTIO_BLK_F_*, _T_*, _S_*, the structs */
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/worker.h"
#include "core/err.h"

#define BLK_SECTOR     512
#define BLK_SEG_MAX    126	  /* data segments per request, advertised */
#define BLK_SIZE_MAX   (1u << 20) /* bytes per segment, advertised */
#define BLK_MAX_QUEUES 8
#define BLK_QUEUE_MAX  256
/* DISCARD and WRITE_ZEROES: sectors per request, advertised. Write-zeroes
 * may have to be done by writing zeros (a file system without
 * FALLOC_FL_ZERO_RANGE, e.g. tmpfs): this bounds one request's work, done in
 * writes of BLK_ZERO_CHUNK bytes. */
#define BLK_MAX_DISCARD_SECTORS (UINT32_MAX / BLK_SECTOR)
#define BLK_MAX_WZ_SECTORS	((16u << 20) / BLK_SECTOR)
#define BLK_ZERO_BUF		(64u << 10) /* one zeroed buffer, repeated in a write's iovecs */
#define BLK_ZERO_CHUNK		(16 * BLK_ZERO_BUF)
/* How long blk_update waits for the I/O its queues had sent to the file it
 * replaced before it unlocks and closes that file anyway (a hung file
 * system): the kernel keeps the file until that I/O ends, whatever we do;
 * only the lock may then go before the last write. */
#define BLK_UPDATE_WAIT_MS 1000

/* What the parser needs to know about the disk. */
struct blk_geom {
	uint64_t sectors;
	bool ro;
	/* VIRTIO_BLK_F_DISCARD and _WRITE_ZEROES offered: else such requests
	 * are answered UNSUPP */
	bool discard, write_zeroes;
	char id[VIRTIO_BLK_ID_BYTES];
};

enum blk_op {
	BLK_OP_DONE, /* answered already (status set, e.g. GET_ID, errors) */
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

struct blk_req {
	enum blk_op op;
	uint8_t status; /* for BLK_OP_DONE, and the final status otherwise */
	uint16_t head;
	uint64_t offset, len; /* bytes */
	uint32_t written;     /* bytes written into the chain, status included */
	uint8_t *status_ptr;  /* last byte of the chain's writable part */
	bool unmap;	      /* WRITE_ZEROES: the driver lets us deallocate */
	uint8_t how;	      /* the backend's: how WRITE_ZEROES is being done */
	uint64_t done;	      /* the backend's: bytes of it done so far */
	unsigned niov;
	struct iovec iov[BLK_SEG_MAX];
	struct blk_req *next_free;
};

/* Parses one chain into *r. Never fails: a malformed request becomes
 * BLK_OP_DONE with IOERR/UNSUPP, except a chain with no writable byte for
 * the status, which returns -EINVAL (the device gives such a chain back
 * unused: used length 0). */
__attribute__((warn_unused_result)) int blk_parse(const struct blk_geom *g,
						  const struct vq_chain *c, struct blk_req *r);

struct blk_cfg {
	const char *path; /* DISCARD is offered where a hole can be punched, WRITE_ZEROES always */
	bool ro, direct;
	unsigned queues;
	struct rl_cfg limit; /* its rate limiter: 1 op per request, the data's bytes */
	/* each queue worker's adaptive polling, its largest window in us (0:
	 * none; at most VQ_POLL_MAX_NS / 1000): worker.h, vq_poll */
	unsigned poll_us;
};

struct blk;
/* Opens and locks the disk file (the main thread). */
__attribute__((warn_unused_result)) int blk_open(struct blk **out, const struct blk_cfg *cfg,
						 unsigned index, struct err *e);
/* Creates the virtio device and its workers; the interrupt eventfds in irq are the transport's
 * (borrowed) until then, then by the device. */
__attribute__((warn_unused_result)) int blk_start(struct blk *b, const struct guest_mem *mem,
						  const struct virtio_irqfds *irq, struct err *e);
/* Any thread, once started, one call at a time (not with blk_destroy):
 * the disk file at path replaces the device's, opened (read-only or not,
 * O_DIRECT or not, as configured), checked and locked as blk_open does;
 * I/O already on the old file ends there (waited for, BLK_UPDATE_WAIT_MS
 * at most, before the old file is unlocked and closed); the new size goes
 * into the configuration space and the driver gets a configuration
 * interrupt. The file the device has (same inode): its size read again.
 * On failure nothing changed. */
__attribute__((warn_unused_result)) int blk_update(struct blk *b, const char *path, struct err *e);
struct virtio_dev *blk_vdev(struct blk *b);
/* The ioeventfd of queue q (owned by the device). */
int blk_kick_fd(struct blk *b, unsigned q);
unsigned blk_queues(const struct blk *b);
void blk_destroy(struct blk *b);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc blk_desc;

#endif
