/* SPDX-License-Identifier: MIT */
/* virtio-blk requests end to end, without a disk file or a worker: a split
 * queue at fixed places in a fake guest memory, chains the input describes,
 * then vq_pop, blk_parse, the I/O done on a model disk, the status byte and
 * vq_push, as the blk worker does. Input layout:
 *   [0]     geometry: bits 0-2 disk size (sectors[]), bit 3 read-only,
 *           bit 4 EVENT_IDX, bit 5 a serial of all 20 bytes (no NUL),
 *           bit 6 DISCARD not offered, bit 7 WRITE_ZEROES not offered
 *   [1..]   requests, each starting with a knob byte k:
 *           k & 3 == 3: raw: [n] then (n % 6 + 1) descriptors of 16 bytes
 *             straight from the input (next indices, lengths and flags kept;
 *             addresses folded into guest memory unless k & 4), then 16
 *             bytes of header written at the first one's address
 *           else structured, so that most inputs pass the ring checks and
 *             reach blk_parse's decisions: [type, sector, shape], one length
 *             code per data segment, and for DISCARD/WRITE_ZEROES [range
 *             sector, count, flags]:
 *             k & 3 == 2: the WRITE flag of one descriptor is flipped
 *             k & 4: the data goes the other way than the type wants
 *             k & 8: the chain sits in an indirect table
 *             k & 0x10 with shape & 7 == 7: 100 + [next byte] data
 *               segments of the first length code, in an indirect
 *               table (past BLK_SEG_MAX)
 *             type & 7: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES,
 *               2 (unknown), or type >> 3
 *             sector: low 7 bits, counted back from the disk's end if bit 7
 *             shape & 7: data segments; (shape >> 3) & 3: header as one
 *               descriptor, split 8 + 8, 12 bytes only, or glued to the
 *               first data segment; (shape >> 5) & 3: status as its own
 *               byte, glued to the last data segment, empty, or 2 bytes
 *             length code c: c < 0x40: 512 * (1 + c % 8); c < 0x80:
 *               c & 0x3f bytes; c < 0xc0: BLK_SIZE_MAX + 512 * (c & 1);
 *               else 4096 * (1 + c % 16)
 * Contract checked: -EINVAL exactly for chains without a writable byte;
 * the status pointer is the last byte of the writable part; `written`
 * counts only writable bytes; READ and WRITE carry a sector-aligned range
 * inside the disk and at most BLK_SEG_MAX segments of at most BLK_SIZE_MAX
 * bytes that are exactly the writable part but its status byte (READ) or
 * the readable part after the header (WRITE); DISCARD/WRITE_ZEROES ranges
 * lie inside the disk, within the advertised maxima, and come only when
 * offered; a read-only disk gets no write; GET_ID writes the serial; bad
 * requests answer IOERR or UNSUPP. */
#include <stddef.h>
#include <stdint.h>

#include "devices/blk.h"
#include "fuzz_common.h"
#include "tests/rig/ring.h"

#define MEM_SIZE  (8 * FZ_MiB)
#define QSIZE	  64
#define DESC_GPA  0x0ULL
#define AVAIL_GPA 0x400ULL
#define USED_GPA  0x800ULL
#define DATA_GPA  0x1000ULL
#define DISK_MAX  128	      /* sectors of the model disk; larger disks do no I/O */
#define MANY_MAX  (100 + 255) /* data segments of a request, at most */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t sectors[8] = {0, 1, 8, 128, 2048, 1ULL << 32, 1ULL << 40, 1ULL << 54};
static const uint32_t types[6] = {VIRTIO_BLK_T_IN,	VIRTIO_BLK_T_OUT,
				  VIRTIO_BLK_T_FLUSH,	VIRTIO_BLK_T_GET_ID,
				  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};

/* The guest side: descriptors and buffers laid out as the input says. */
struct guest {
	uint8_t *mem;
	struct rr_ring ring; /* the driver's side (tests/rig/ring.h) */
	unsigned ndesc;	     /* descriptors handed out (never reused) */
	uint64_t next_buf;   /* bump allocator for buffers, from DATA_GPA */
	uint64_t dirty;	     /* end of what the harness wrote */
};

/* 0 when memory is full (0 is never a buffer: the rings are there). */
static uint64_t alloc_buf(struct guest *g, uint64_t len)
{
	uint64_t at = (g->next_buf + 15) & ~15ULL;
	if (at + len > MEM_SIZE)
		return 0;
	g->next_buf = at + len;
	if (g->next_buf > g->dirty)
		g->dirty = g->next_buf;
	return at;
}

/* Writes segs[0..n) as one chain, directly or through an indirect table. */
static bool publish(struct guest *g, const struct rr_seg *segs, unsigned n, bool indirect)
{
	if (indirect) {
		uint64_t t = g->ndesc < QSIZE ? alloc_buf(g, 16ULL * n) : 0;
		if (!t)
			return false;
		rr_post_indirect(&g->ring, t, segs, n);
		g->ndesc++;
	} else {
		if (g->ndesc + n > QSIZE)
			return false;
		rr_post(&g->ring, segs, n);
		g->ndesc += n;
	}
	return true;
}

static uint32_t seg_len(uint8_t c)
{
	if (c < 0x40)
		return 512u * (1 + c % 8);
	if (c < 0x80)
		return c & 0x3f;
	if (c < 0xc0)
		return BLK_SIZE_MAX + 512u * (c & 1);
	return 4096u * (1 + c % 16);
}

/* Adds a buffer of len bytes holding src (if any) as the chain's next
 * segment. */
static bool add_seg(struct guest *g, struct rr_seg *segs, unsigned *n, const void *src,
		    uint32_t len, uint16_t flags)
{
	uint64_t at = alloc_buf(g, len ? len : 1);
	if (!at)
		return false;
	if (src)
		memcpy(g->mem + at, src, len);
	segs[(*n)++] = (struct rr_seg){at, len, flags};
	return true;
}

/* A structured request. */
static bool add_request(struct guest *g, uint8_t k, struct fz_in *in, uint64_t disk)
{
	static struct rr_seg segs[MANY_MAX + 8];
	unsigned n = 0;
	uint8_t t = fz_take(in), sec = fz_take(in), shape = fz_take(in);
	uint32_t type = (t & 7) < 6 ? types[t & 7] : (t & 7) == 6 ? 2 : (uint32_t)(t >> 3);
	bool data_in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	if (k & 4)
		data_in = !data_in;
	uint16_t dflags = data_in ? VRING_DESC_F_WRITE : 0;
	unsigned ndata = shape & 7, hdr = (shape >> 3) & 3, status = (shape >> 5) & 3;

	uint8_t h[16];
	le_put32(h, type);
	le_put32(h + 4, 0);
	le_put64(h + 8, sec & 0x80 ? disk - (sec & 0x7f) : sec);
	static uint32_t dlen[MANY_MAX];
	bool many = (k & 0x10) && ndata == 7;
	if (many)
		ndata = 100 + fz_take(in);
	for (unsigned i = 0; i < ndata; i++)
		dlen[i] = many && i ? dlen[0] : seg_len(fz_take(in));

	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		/* The header, then one range as the data. */
		uint8_t rs = fz_take(in), cnt = fz_take(in), fl = fz_take(in);
		uint8_t range[16];
		le_put64(range, rs & 0x80 ? disk - (rs & 0x7f) : rs);
		le_put32(range + 8, cnt == 0xff ? UINT32_MAX : cnt);
		le_put32(range + 12, fl & 0x80 ? fl : fl & 1);
		if (!add_seg(g, segs, &n, h, 16, 0) || !add_seg(g, segs, &n, range, 16, dflags))
			return false;
		ndata = 0;
	} else if (hdr == 0 || hdr == 2) { /* one descriptor, or 12 bytes only */
		if (!add_seg(g, segs, &n, h, hdr ? 12 : 16, 0))
			return false;
	} else if (hdr == 1) { /* split 8 + 8 */
		if (!add_seg(g, segs, &n, h, 8, 0) || !add_seg(g, segs, &n, h + 8, 8, 0))
			return false;
	} else { /* glued to the first data segment, which is readable then */
		uint32_t extra = ndata ? dlen[0] : 0;
		if (!add_seg(g, segs, &n, NULL, 16 + extra, 0))
			return false;
		memcpy(g->mem + segs[n - 1].gpa, h, 16);
	}
	for (unsigned i = hdr == 3 ? 1 : 0; i < ndata; i++) {
		uint32_t len = dlen[i];
		uint16_t fl = dflags;
		if (i + 1 == ndata && status == 1) {
			len++; /* the status byte glued to the last data segment */
			fl |= VRING_DESC_F_WRITE;
		}
		if (!add_seg(g, segs, &n, NULL, len, fl))
			return false;
	}
	if (status != 1 || ndata <= (hdr == 3 ? 1u : 0u)) {
		uint8_t st[2] = {0xee, 0xee};
		uint32_t len = status == 2 ? 0 : status == 3 ? 2 : 1;
		if (!add_seg(g, segs, &n, st, len, VRING_DESC_F_WRITE))
			return false;
	}
	if ((k & 3) == 2)
		segs[shape % n].flags ^= VRING_DESC_F_WRITE;
	return publish(g, segs, n, many || (k & 8));
}

/* A raw request: descriptors from the input. */
static bool add_raw(struct guest *g, uint8_t k, struct fz_in *in)
{
	unsigned n = fz_take(in) % 6 + 1;
	if (g->ndesc + n > QSIZE)
		return false;
	uint16_t head = (uint16_t)g->ndesc;
	for (unsigned i = 0; i < n; i++) {
		uint8_t d[16];
		for (unsigned j = 0; j < 16; j++)
			d[j] = fz_take(in);
		if (!(k & 4)) {
			uint64_t addr = fz_rd64(d) % MEM_SIZE;
			uint32_t len = fz_rd32(d + 8) % 8192;
			if (addr + len > MEM_SIZE)
				addr = MEM_SIZE - len;
			if (addr < DATA_GPA)
				addr += DATA_GPA; /* keep the rings out of it */
			le_put64(d, addr);
			le_put32(d + 8, len);
		}
		memcpy(g->mem + DESC_GPA + 16ULL * g->ndesc, d, 16);
		g->ndesc++;
	}
	uint8_t hdr[16];
	for (unsigned j = 0; j < 16; j++)
		hdr[j] = fz_take(in);
	uint64_t a = fz_rd64(g->mem + DESC_GPA + 16ULL * head);
	if (a >= DATA_GPA && a <= MEM_SIZE - 16) {
		memcpy(g->mem + a, hdr, 16);
		if (a + 16 > g->dirty)
			g->dirty = a + 16;
	}
	g->ring.next_desc = (uint16_t)(g->ndesc % QSIZE);
	rr_avail(&g->ring, head);
	return true;
}

/* The request's data segments are exactly the bytes [skip, skip + len) of
 * the part made of c->iov[from, to), in order. */
static void check_map(const struct vq_chain *c, unsigned from, unsigned to, uint64_t skip,
		      const struct blk_req *r)
{
	unsigned seg = from;
	uint64_t off = skip;
	for (unsigned i = 0; i < r->niov; i++) {
		while (seg < to && off >= c->iov[seg].iov_len) {
			off -= c->iov[seg].iov_len;
			seg++;
		}
		FZ_CHECK(seg < to);
		FZ_CHECK(r->iov[i].iov_base == (uint8_t *)c->iov[seg].iov_base + off);
		FZ_CHECK(r->iov[i].iov_len <= c->iov[seg].iov_len - off);
		off += r->iov[i].iov_len;
	}
}

static void check_range(const struct blk_geom *g, const struct blk_req *r)
{
	FZ_CHECK(r->offset % BLK_SECTOR == 0 && r->len % BLK_SECTOR == 0);
	FZ_CHECK(r->offset / BLK_SECTOR <= g->sectors);
	FZ_CHECK(r->len / BLK_SECTOR <= g->sectors - r->offset / BLK_SECTOR);
}

/* Checks the contract and does what the worker and its backend would.
 * exact: the chain's buffers do not overlap (a structured request). */
static void serve(const struct blk_geom *g, const struct vq_chain *c, struct blk_req *r,
		  uint8_t *disk, bool exact)
{
	/* What the request says, read as a device would, before blk_parse
	 * writes into the chain (which may overlap the header). */
	struct {
		uint32_t type, ioprio;
		uint64_t sector;
	} h;
	struct vq_cursor cur;
	vq_cursor_out(&cur, c);
	bool has_hdr = vq_cursor_read(&cur, &h, sizeof(h)) == sizeof(h);

	int rc = blk_parse(g, c, r);
	if (c->in_bytes == 0) {
		FZ_CHECK(rc == -EINVAL);
		return;
	}
	FZ_CHECK(rc == 0);
	FZ_CHECK(r->head == c->head);
	const struct iovec *last = &c->iov[c->n_out + c->n_in - 1];
	FZ_CHECK(r->status_ptr == (uint8_t *)last->iov_base + last->iov_len - 1);
	FZ_CHECK(r->written >= 1 && r->written <= c->in_bytes);
	FZ_CHECK(r->niov <= BLK_SEG_MAX);

	uint64_t sum = 0;
	bool rd = r->op == BLK_OP_READ, small = g->sectors <= DISK_MAX;
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		for (unsigned i = 0; i < r->niov; i++) {
			FZ_CHECK(r->iov[i].iov_len > 0 && r->iov[i].iov_len <= BLK_SIZE_MAX);
			sum += r->iov[i].iov_len;
		}
		FZ_CHECK(has_hdr && h.type == (rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT));
		FZ_CHECK(rd || !g->ro);
		FZ_CHECK(r->offset == h.sector * BLK_SECTOR);
		check_range(g, r);
		FZ_CHECK(sum == r->len);
		/* READ: the writable part but its last byte (the status);
		 * WRITE: the readable part after the header. */
		FZ_CHECK(r->len == (rd ? c->in_bytes - 1 : c->out_bytes - sizeof(h)));
		if (rd)
			check_map(c, c->n_out, c->n_out + c->n_in, 0, r);
		else
			check_map(c, 0, c->n_out, sizeof(h), r);
		FZ_CHECK(r->written == (rd ? r->len + 1 : 1));
		for (unsigned i = 0, at = 0; small && i < r->niov; i++) {
			uint8_t *b = r->iov[i].iov_base, *d = disk + r->offset + at;
			if (rd)
				memcpy(b, d, r->iov[i].iov_len);
			else
				memcpy(d, b, r->iov[i].iov_len);
			at += (unsigned)r->iov[i].iov_len;
		}
		r->status = VIRTIO_BLK_S_OK;
		break;
	case BLK_OP_FLUSH:
		FZ_CHECK(has_hdr && h.type == VIRTIO_BLK_T_FLUSH && r->written == 1);
		r->status = VIRTIO_BLK_S_OK;
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		FZ_CHECK(has_hdr && !g->ro && r->written == 1);
		FZ_CHECK(h.type == (r->op == BLK_OP_DISCARD ? VIRTIO_BLK_T_DISCARD
							    : VIRTIO_BLK_T_WRITE_ZEROES));
		FZ_CHECK(r->op == BLK_OP_DISCARD ? g->discard && !r->unmap : g->write_zeroes);
		FZ_CHECK(r->len / BLK_SECTOR <=
			 (r->op == BLK_OP_DISCARD ? BLK_MAX_DISCARD_SECTORS : BLK_MAX_WZ_SECTORS));
		check_range(g, r);
		if (small)
			memset(disk + r->offset, 0, r->len);
		r->status = VIRTIO_BLK_S_OK;
		break;
	case BLK_OP_DONE:
		FZ_CHECK(r->status == VIRTIO_BLK_S_OK || r->status == VIRTIO_BLK_S_IOERR ||
			 r->status == VIRTIO_BLK_S_UNSUPP);
		if (!has_hdr) {
			FZ_CHECK(r->status == VIRTIO_BLK_S_IOERR && r->written == 1);
		} else if (h.type == VIRTIO_BLK_T_GET_ID) {
			uint64_t n = c->in_bytes - 1 < VIRTIO_BLK_ID_BYTES ? c->in_bytes - 1
									   : VIRTIO_BLK_ID_BYTES;
			uint8_t id[VIRTIO_BLK_ID_BYTES];
			FZ_CHECK(r->status == VIRTIO_BLK_S_OK && r->written == n + 1);
			vq_cursor_in(&cur, c);
			FZ_CHECK(vq_cursor_read(&cur, id, n) == n);
			FZ_CHECK(!exact || memcmp(id, g->id, n) == 0);
		} else if (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_OUT ||
			   h.type == VIRTIO_BLK_T_DISCARD || h.type == VIRTIO_BLK_T_WRITE_ZEROES) {
			FZ_CHECK(r->status != VIRTIO_BLK_S_OK && r->written == 1);
		} else {
			FZ_CHECK(h.type != VIRTIO_BLK_T_FLUSH && r->status == VIRTIO_BLK_S_UNSUPP);
		}
		break;
	}
	*r->status_ptr = r->status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_chain c;
	static struct blk_req req;
	static uint8_t disk[DISK_MAX * BLK_SECTOR];
	static uint64_t dirty = MEM_SIZE; /* guest memory the last input may have changed */
	const struct guest_mem *m = fz_mem(MEM_SIZE, 0);
	if (size < 1)
		return 0;
	struct guest g = {.mem = gm_ptr(m, 0, MEM_SIZE), .next_buf = DATA_GPA, .dirty = DATA_GPA};
	memset(g.mem, 0, dirty);
	rr_set(&g.ring, m, DESC_GPA, AVAIL_GPA, USED_GPA, QSIZE);
	memset(disk, 0, sizeof(disk));

	struct blk_geom geom = {.sectors = sectors[data[0] & 7],
				.ro = data[0] & 8,
				.discard = !(data[0] & 0x40),
				.write_zeroes = !(data[0] & 0x80)};
	if (data[0] & 0x20)
		memcpy(geom.id, "0123456789abcdefghij", VIRTIO_BLK_ID_BYTES); /* no NUL */
	else
		memcpy(geom.id, "cvmm0-fuzz", 11);
	bool event_idx = data[0] & 0x10;
	bool exact[QSIZE]; /* per avail entry: a structured request */
	struct fz_in in = {data + 1, size - 1};
	while (in.left && g.ring.avail_idx < QSIZE) {
		uint8_t k = fz_take(&in);
		bool raw = (k & 3) == 3;
		exact[g.ring.avail_idx] = !raw;
		if (!(raw ? add_raw(&g, k, &in) : add_request(&g, k, &in, geom.sectors)))
			break;
	}

	struct vq q;
	FZ_CHECK(vq_init(&q, m, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, event_idx) == 0);
	for (unsigned k = 0;; k++) {
		int r = vq_pop(&q, &c);
		if (r <= 0) {
			FZ_CHECK(r == 0 || (q.broken && q.why));
			break;
		}
		for (unsigned i = 0; i < c.n_out + c.n_in; i++) {
			uint64_t end =
				(uint64_t)((uint8_t *)c.iov[i].iov_base - g.mem) + c.iov[i].iov_len;
			if (end > g.dirty)
				g.dirty = end;
		}
		serve(&geom, &c, &req, disk, k < QSIZE && exact[k]);
		if (c.in_bytes == 0) {
			/* the worker gives such a chain back unused */
			FZ_CHECK(vq_push(&q, c.head, 0) == 0);
			continue;
		}
		FZ_CHECK(vq_push(&q, req.head, req.written) == 0);
		uint32_t id, len;
		rr_used(&g.ring, (uint16_t)(q.used_idx - 1u), &id, &len);
		FZ_CHECK(id == req.head && len == req.written);
	}
	dirty = g.dirty;
	return 0;
}
