/* SPDX-License-Identifier: MIT */
/* virtio-blk's device model: a request's descriptor chain into a struct
 * blk_req (what to do, where, and the status to give), no syscalls; shared
 * by the device (blk.c), the unit tests and the fuzz target. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/blk.h"

/* ---- the device model: parsing --------------------------------------------- */

static int blk_done(struct blk_req *r, uint8_t status)
{
	r->op = BLK_OP_DONE;
	r->status = status;
	r->written = 1;
	return 0;
}

/* Sector range [sector, sector + bytes / 512) must lie inside the disk. */
static bool in_range(const struct blk_geom *g, uint64_t sector, uint64_t bytes)
{
	uint64_t n = bytes / BLK_SECTOR;
	return sector <= g->sectors && n <= g->sectors - sector;
}

static bool segs_ok(const struct blk_req *r)
{
	for (unsigned i = 0; i < r->niov; i++)
		if (r->iov[i].iov_len > BLK_SIZE_MAX)
			return false;
	return true;
}

int blk_parse(const struct blk_geom *g, const struct vq_chain *c, struct blk_req *r)
{
	r->head = c->head;
	r->niov = 0;
	r->written = 0;
	r->unmap = false;
	if (c->in_bytes == 0 || c->n_in == 0)
		return -EINVAL;
	const struct iovec *last = &c->iov[c->n_out + c->n_in - 1];
	r->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;

	struct vq_cursor out, in;
	vq_cursor_out(&out, c);
	vq_cursor_in(&in, c);
	struct virtio_blk_outhdr h;
	if (vq_cursor_read(&out, &h, sizeof(h)) != sizeof(h))
		return blk_done(r, VIRTIO_BLK_S_IOERR);
	h.type = le32toh(h.type); /* host order from here on */
	h.sector = le64toh(h.sector);
	uint64_t data_in = c->in_bytes - 1; /* the status byte is not data */
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool rd = h.type == VIRTIO_BLK_T_IN;
		if (!rd && g->ro)
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		uint64_t len = rd ? data_in : vq_cursor_left(&out);
		if (len % BLK_SECTOR || !in_range(g, h.sector, len))
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		int n = vq_cursor_iov(rd ? &in : &out, len, r->iov, BLK_SEG_MAX);
		if (n < 0)
			return blk_done(r, VIRTIO_BLK_S_IOERR); /* more than seg_max segments */
		r->niov = (unsigned)n;
		if (!segs_ok(r))
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		r->op = rd ? BLK_OP_READ : BLK_OP_WRITE;
		r->offset = h.sector * BLK_SECTOR;
		r->len = len;
		r->written = (uint32_t)((rd ? len : 0) + 1);
		return 0;
	}
	case VIRTIO_BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		r->written = 1;
		return 0;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES;
		size_t w = vq_cursor_write(&in, g->id, n);
		r->op = BLK_OP_DONE;
		r->status = VIRTIO_BLK_S_OK;
		r->written = (uint32_t)w + 1;
		return 0;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool discard = h.type == VIRTIO_BLK_T_DISCARD;
		if (g->ro)
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		if (!(discard ? g->discard : g->write_zeroes))
			return blk_done(r, VIRTIO_BLK_S_UNSUPP); /* not offered */
		struct virtio_blk_discard_write_zeroes rg;
		/* We advertise one range per request. */
		if (vq_cursor_left(&out) != sizeof(rg) ||
		    vq_cursor_read(&out, &rg, sizeof(rg)) != sizeof(rg))
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		rg.sector = le64toh(rg.sector); /* host order from here on */
		rg.num_sectors = le32toh(rg.num_sectors);
		rg.flags = le32toh(rg.flags);
		uint64_t bytes = (uint64_t)rg.num_sectors * BLK_SECTOR;
		if (!in_range(g, rg.sector, bytes) ||
		    rg.num_sectors > (discard ? BLK_MAX_DISCARD_SECTORS : BLK_MAX_WZ_SECTORS))
			return blk_done(r, VIRTIO_BLK_S_IOERR);
		if ((discard && rg.flags) ||
		    (rg.flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return blk_done(r, VIRTIO_BLK_S_UNSUPP);
		r->op = discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
		r->unmap = !discard && (rg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		r->offset = rg.sector * BLK_SECTOR;
		r->len = bytes;
		r->written = 1;
		return 0;
	}
	default:
		return blk_done(r, VIRTIO_BLK_S_UNSUPP);
	}
}
