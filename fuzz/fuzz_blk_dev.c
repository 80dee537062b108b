/* SPDX-License-Identifier: MIT */
/* virtio-blk as a whole, not only its parser: the device (blk_open on a
 * small file, blk_start) with inline workers (worker.h: its real io_uring,
 * run on this thread, so a replay does the same), driven through the
 * virtio-mmio registers by a guest the input describes: requests on one or
 * two queues, kicks with or without waiting for the I/O, device resets at
 * any point (requests in flight included), the driver's initialisation
 * again, hostile chains and register writes. Input layout:
 *   [0]     bit 0 two queues, bit 1 read-only, bit 2 EVENT_IDX, bit 3
 *           DISCARD/WRITE_ZEROES accepted, bit 4 the disk in /tmp (else
 *           /dev/shm: tmpfs, no FALLOC_FL_ZERO_RANGE)
 *   then ops, a byte o (queue: o >> 7) and its arguments:
 *   o & 7 == 0  a request [t, sector, count, shape]: t & 7 picks IN, OUT,
 *               FLUSH, GET_ID, DISCARD, WRITE_ZEROES, unknown, or IN
 *               (t & 8: WRITE_ZEROES' unmap flag); count & 15 sectors of
 *               data (0..15); shape bit 0: no status byte (no writable
 *               byte at all), bit 1 the header split in two, bit 2 the
 *               data in two segments, bit 3 the status glued to the data
 *   1           a raw chain: [n] then n descriptors [slot, len, flags,
 *               next] inside the request area (hostile: the data checks
 *               stop until the next initialisation)
 *   2           kick, then wait until every I/O ended (settle)
 *   3           kick, I/O left in flight
 *   4           device reset (status 0), until the status reads 0
 *   5           the driver's initialisation
 *   6           a register write [reg, value] (hostile, as for 1)
 *   7           settle
 * Invariants: the used index never passes the avail index; a used id is a
 * chain made available and not used yet, its length at most the chain's
 * writable bytes, exactly 1 + data for a good READ, 1 for other requests
 * with a status, 0 for one without; a status is OK, IOERR or UNSUPP; a
 * READ returns the disk's bytes where they are known (not raced by a
 * write, not left uncertain by a reset or a failure); with a well-behaved
 * driver, after a settle every request was used (no slot leaks) and the
 * device never asks for a reset; once a reset completed, guest memory does
 * not change until the driver sets the device up again. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/blk.h"
#include "devices/virtio/mmio.h"
#include "fuzz_common.h"
#include "tests/rig/vdev.h"

#define MEM_SIZE (1 * FZ_MiB)
#define QSIZE	 32
#define RING(q)	 (0x1000ULL * (4 * (q) + 1)) /* desc; avail +0x200, used +0x1000 */
#define SLOT(i)	 (0x10000ULL + 0x2000ULL * (i))
#define NSLOTS	 (2 * QSIZE)
#define SECTORS	 64
#define DISK	 (SECTORS * BLK_SECTOR)
#define MAX_OPS	 64

#define F_DISCARD      (1ULL << 13)
#define F_WRITE_ZEROES (1ULL << 14)
#define F_MQ	       (1ULL << 12)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A chain the harness made available, until the device uses it. */
struct req {
	bool live;
	unsigned q, slot;
	uint16_t head;
	unsigned ndesc;
	uint16_t desc[8];
	uint32_t type;	 /* VIRTIO_BLK_T_*, or ~0 for a raw chain */
	uint64_t sector; /* data range, in sectors (IN, OUT, WZ, DISCARD) */
	uint32_t count;
	bool has_status, racy;
	uint64_t status_gpa, data_gpa[2];
	uint32_t data_len[2];
	uint64_t in_bytes;
	uint8_t out[16 * BLK_SECTOR]; /* OUT: what it writes */
};

struct harness {
	uint8_t *mem;
	const struct guest_mem *gm;
	struct virtio_dev *d;
	unsigned nq;
	uint64_t features;
	bool ro, live; /* live: DRIVER_OK by the harness's init */
	bool hostile;  /* raw chains since the init: no data or leak checks */
	bool regs;     /* registers written behind the harness: no ring checks */
	bool quiet;    /* a reset completed, no register written since */
	uint8_t *snap; /* guest memory when quiet began */
	struct vd v;   /* the driver: its registers and rings (tests/rig/vdev.h) */
	uint16_t used_seen[2];
	bool unkicked[2]; /* chains made available since the queue's last kick */
	bool desc_busy[2][QSIZE];
	struct req reqs[NSLOTS];
	uint8_t disk[DISK];  /* the model */
	bool known[SECTORS]; /* disk[] holds the file's bytes there */
};

static struct harness h;

/* Guest memory changed by the harness itself while quiet. */
static void resnap(void)
{
	if (h.quiet)
		memcpy(h.snap, h.mem, MEM_SIZE);
}

static void forget_reqs(void)
{
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct req *r = &h.reqs[i];
		if (!r->live)
			continue;
		/* never used: a write may have happened, or part of it */
		if (r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_GET_ID)
			for (uint32_t s = 0; s < r->count && r->sector + s < SECTORS; s++)
				h.known[r->sector + s] = false;
		if (r->type == ~0u)
			memset(h.known, 0, sizeof(h.known));
		r->live = false;
	}
	memset(h.desc_busy, 0, sizeof(h.desc_busy));
}

static void device_reset(void);
static void collect(void);

/* The driver's initialisation over virtio-mmio (a reset first, as virtio
 * 1.2 3.1.1 says), rings zeroed. */
static void driver_init(void)
{
	device_reset();
	memset(h.used_seen, 0, sizeof(h.used_seen));
	h.live = (vd_init(&h.v, h.features) & VIRTIO_CONFIG_S_DRIVER_OK) != 0;
	FZ_CHECK(h.live);
	h.hostile = h.regs = false;
	h.quiet = false;
}

static int free_slot(void)
{
	for (unsigned i = 0; i < NSLOTS; i++)
		if (!h.reqs[i].live)
			return (int)i;
	return -1;
}

/* n free descriptors of queue q into out[]; false if there are not. */
static bool take_descs(unsigned q, unsigned n, uint16_t *out)
{
	unsigned k = 0;
	for (unsigned i = 0; i < QSIZE && k < n; i++)
		if (!h.desc_busy[q][i])
			out[k++] = (uint16_t)i;
	if (k < n)
		return false;
	for (unsigned i = 0; i < n; i++)
		h.desc_busy[q][out[i]] = true;
	return true;
}

static void make_available(unsigned q, uint16_t head)
{
	rr_avail(&h.v.q[q].r, head);
	h.unkicked[q] = true;
}

static bool overlaps(const struct req *a, const struct req *b)
{
	return a->count && b->count && a->sector < b->sector + b->count &&
	       b->sector < a->sector + a->count;
}

static bool writes(const struct req *r)
{
	return r->type == VIRTIO_BLK_T_OUT || r->type == VIRTIO_BLK_T_WRITE_ZEROES ||
	       r->type == VIRTIO_BLK_T_DISCARD;
}

static const uint32_t types[8] = {
	VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,		 VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
	VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, 2 /* unknown */,    VIRTIO_BLK_T_IN};

/* A structured request (op 0). */
static void post_request(unsigned q, struct fz_in *in)
{
	uint8_t t = fz_take(in), sec = fz_take(in), cnt = fz_take(in), shape = fz_take(in);
	int si = free_slot();
	if (si < 0)
		return;
	struct req *r = &h.reqs[si];
	memset(r, 0, sizeof(*r));
	r->q = q;
	r->slot = (unsigned)si;
	r->type = types[t & 7];
	r->count = cnt & 15;
	r->sector = sec % (SECTORS + 4); /* a few past the end */
	bool rd = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID;
	bool range = r->type == VIRTIO_BLK_T_DISCARD || r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	r->has_status = !(shape & 1);
	uint64_t base = SLOT(si);
	uint8_t *hdr = h.mem + base;
	le_put32(hdr, r->type);
	le_put32(hdr + 4, 0);
	le_put64(hdr + 8, r->sector);
	/* segments: [gpa, len, writable] */
	struct {
		uint64_t gpa;
		uint32_t len;
		bool w;
	} seg[6];
	unsigned n = 0;
	if (shape & 2) {
		seg[n++] = (typeof(seg[0])){base, 8, false};
		seg[n++] = (typeof(seg[0])){base + 8, 8, false};
	} else {
		seg[n++] = (typeof(seg[0])){base, 16, false};
	}
	uint32_t dlen = range ? 16 : r->count * BLK_SECTOR;
	uint64_t dgpa = base + 0x40;
	if (range) {
		uint8_t *rg = h.mem + dgpa;
		le_put64(rg, r->sector);
		le_put32(rg + 8, r->count);
		le_put32(rg + 12, r->type == VIRTIO_BLK_T_WRITE_ZEROES && (t & 8) ? 1 : 0);
	} else if (!rd) {
		for (uint32_t i = 0; i < dlen; i++)
			r->out[i] = h.mem[dgpa + i] = (uint8_t)(t * 31 + sec + i * 7);
	} else {
		memset(h.mem + dgpa, 0xee, dlen);
	}
	bool dw = rd && r->has_status; /* a read's data is writable */
	if (dlen) {
		uint32_t first = (shape & 4) && dlen > 1 ? dlen / 2 : dlen;
		seg[n++] = (typeof(seg[0])){dgpa, first, dw};
		r->data_gpa[0] = dgpa;
		r->data_len[0] = first;
		if (first < dlen) {
			seg[n++] = (typeof(seg[0])){dgpa + first, dlen - first, dw};
			r->data_gpa[1] = dgpa + first;
			r->data_len[1] = dlen - first;
		}
	}
	r->status_gpa = base + 0x1ff0;
	if (r->has_status) {
		h.mem[r->status_gpa] = 0xee;
		if ((shape & 8) && dw && dlen) { /* the last segment is data */
			seg[n - 1].len++;	 /* glued: the status is the last data byte + 1 */
			r->status_gpa = seg[n - 1].gpa + seg[n - 1].len - 1;
			h.mem[r->status_gpa] = 0xee;
		} else {
			seg[n++] = (typeof(seg[0])){r->status_gpa, 1, true};
		}
	}
	if (!take_descs(q, n, r->desc))
		return;
	r->ndesc = n;
	for (unsigned i = 0; i < n; i++) {
		r->in_bytes += seg[i].w ? seg[i].len : 0;
		rr_desc(&h.v.q[q].r, r->desc[i], seg[i].gpa, seg[i].len,
			(uint16_t)((seg[i].w ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			i + 1 < n ? r->desc[i + 1] : 0);
	}
	if (!r->has_status)
		r->count = writes(r) ? r->count : 0;
	/* races with what is in flight */
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct req *o = &h.reqs[i];
		if (!o->live || !overlaps(r, o) || !(writes(r) || writes(o)))
			continue;
		r->racy = o->racy = true;
	}
	r->head = r->desc[0];
	r->live = true;
	make_available(q, r->head);
}

/* A raw chain (op 1): descriptors from the input, inside the slots. */
static void post_raw(unsigned q, struct fz_in *in)
{
	unsigned n = fz_take(in) % 6 + 1;
	int si = free_slot();
	struct req *r = si < 0 ? NULL : &h.reqs[si];
	uint16_t desc[8];
	if (!r || !take_descs(q, n, desc)) {
		in->left -= in->left < 4 * n ? in->left : 4 * n;
		return;
	}
	memset(r, 0, sizeof(*r));
	r->q = q;
	r->slot = (unsigned)si;
	r->type = ~0u;
	r->ndesc = n;
	memcpy(r->desc, desc, sizeof(desc));
	for (unsigned i = 0; i < n; i++) {
		uint8_t sl = fz_take(in), len = fz_take(in), fl = fz_take(in), nx = fz_take(in);
		uint64_t gpa = SLOT(sl % NSLOTS) + (uint64_t)(len & 0xf) * 0x100;
		uint32_t l = (uint32_t)(len >> 4) * 0x100 + (fl & 0x80 ? 1 : 0);
		uint16_t flags = fl & (VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
		if (i + 1 < n && !(fl & 0x40))
			flags |= VRING_DESC_F_NEXT;
		uint16_t next = fl & 0x20 ? nx % QSIZE : (i + 1 < n ? desc[i + 1] : 0);
		rr_desc(&h.v.q[q].r, desc[i], gpa, l, flags, next);
		r->in_bytes += flags & VRING_DESC_F_WRITE ? l : 0;
	}
	r->in_bytes = UINT32_MAX; /* whatever the walk finds */
	r->head = desc[0];
	r->live = true;
	h.hostile = true;
	memset(h.known, 0, sizeof(h.known)); /* it may write anywhere in the slots */
	make_available(q, r->head);
}

static struct req *find(unsigned q, uint32_t id)
{
	for (unsigned i = 0; i < NSLOTS; i++)
		if (h.reqs[i].live && h.reqs[i].q == q && h.reqs[i].head == id)
			return &h.reqs[i];
	return NULL;
}

/* A used chain: its checks and its effect on the disk model. */
static void used(struct req *r, uint32_t len)
{
	FZ_CHECK(len <= r->in_bytes);
	r->live = false;
	for (unsigned i = 0; i < r->ndesc; i++)
		h.desc_busy[r->q][r->desc[i]] = false;
	if (r->type == ~0u)
		return;
	if (!r->has_status) {
		FZ_CHECK(len == 0);
		return;
	}
	if (h.hostile) {
		/* a raw chain may have written over this one's buffers */
		memset(h.known, 0, sizeof(h.known));
		return;
	}
	uint8_t st = h.mem[r->status_gpa];
	FZ_CHECK(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP);
	bool in_disk = r->sector <= SECTORS && r->count <= SECTORS - r->sector;
	if (r->type == VIRTIO_BLK_T_IN && st == VIRTIO_BLK_S_OK) {
		FZ_CHECK(in_disk);
		FZ_CHECK(len == r->count * BLK_SECTOR + 1);
		uint8_t buf[16 * BLK_SECTOR];
		memcpy(buf, h.mem + r->data_gpa[0], r->data_len[0]);
		memcpy(buf + r->data_len[0], h.mem + r->data_gpa[1], r->data_len[1]);
		for (uint32_t s = 0; s < r->count && !r->racy && !h.hostile; s++)
			if (h.known[r->sector + s])
				FZ_CHECK(!memcmp(buf + s * BLK_SECTOR,
						 h.disk + (r->sector + s) * BLK_SECTOR,
						 BLK_SECTOR));
	} else if (r->type != VIRTIO_BLK_T_GET_ID) {
		FZ_CHECK(len == 1);
	}
	if (r->type == VIRTIO_BLK_T_OUT || r->type == VIRTIO_BLK_T_WRITE_ZEROES ||
	    r->type == VIRTIO_BLK_T_DISCARD) {
		if (st == VIRTIO_BLK_S_OK)
			FZ_CHECK(in_disk && !h.ro);
		for (uint32_t s = 0; s < r->count && r->sector + s < SECTORS; s++) {
			uint64_t at = (r->sector + s) * BLK_SECTOR;
			bool ok = st == VIRTIO_BLK_S_OK && !r->racy && !h.hostile;
			h.known[r->sector + s] = ok && r->type != VIRTIO_BLK_T_DISCARD;
			if (r->type == VIRTIO_BLK_T_OUT)
				memcpy(h.disk + at, r->out + s * BLK_SECTOR, BLK_SECTOR);
			else
				memset(h.disk + at, 0, BLK_SECTOR);
		}
		/* a failure may have written part of it */
		if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_UNSUPP)
			for (uint32_t s = 0; s < r->count && r->sector + s < SECTORS; s++)
				h.known[r->sector + s] = false;
	}
}

/* Takes every new used entry of every queue. */
static void collect(void)
{
	if (h.regs)
		return; /* the rings may be anywhere, reset, restarted */
	for (unsigned q = 0; q < h.nq; q++) {
		uint16_t idx = vd_used_idx(&h.v, q);
		/* never past what was made available */
		FZ_CHECK((uint16_t)(idx - h.used_seen[q]) <=
			 (uint16_t)(h.v.q[q].r.avail_idx - h.used_seen[q]));
		while (h.used_seen[q] != idx) {
			uint32_t id, len;
			vd_used(&h.v, q, h.used_seen[q], &id, &len);
			struct req *r = find(q, id);
			FZ_CHECK(r != NULL); /* a chain it was given and has not returned */
			used(r, len);
			h.used_seen[q]++;
		}
	}
}

static void kick(unsigned q)
{
	uint64_t one = 1;
	int fd = blk_kick_fd(h.d->model, q < h.nq ? q : 0);
	FZ_CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
	h.unkicked[q] = false;
}

/* Every chain kicked came back. */
static bool all_back(void)
{
	for (unsigned q = 0; q < h.nq; q++)
		if (!h.unkicked[q] && h.used_seen[q] != h.v.q[q].r.avail_idx)
			return false;
	return true;
}

static void settle(void)
{
	vq_workers_settle(h.d);
	collect();
	if (h.live && !h.hostile && !h.regs) {
		/* The kick is an io_uring read that the settle does not count
		 * as in flight: one that an io-wq thread completes lands after
		 * the settle's last round (suspected once, 2026-12-05, not
		 * reproduced). Up to 200 ms more for the kicked chains; one
		 * that never comes back still fails. */
		for (int i = 0; i < 200 && !all_back(); i++) {
			vq_workers_run(h.d, 1);
			vq_workers_settle(h.d);
			collect();
		}
		FZ_CHECK(!(vd_read(&h.v, VD_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
		FZ_CHECK(all_back());
	}
}

static void device_reset(void)
{
	vd_write(&h.v, VD_STATUS, 0);
	/* the status reads non-zero until the workers are done */
	while (vd_read(&h.v, VD_STATUS) != 0)
		vq_workers_run(h.d, 1);
	/* what it used before the reset completed is there to take */
	collect();
	h.live = false;
	forget_reqs();
	h.quiet = true;
	memcpy(h.snap, h.mem, MEM_SIZE);
}

static const uint16_t hostile_regs[] = {0x014, 0x020, 0x024, 0x030, 0x038, 0x044, 0x064,
					0x070, 0x080, 0x090, 0x0a0, 0x100, 0x130};

static int make_disk(const char *dir)
{
	static char path[64];
	snprintf(path, sizeof(path), "%s/cvmm-fuzz-blk.%d", dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd >= 0);
	for (unsigned i = 0; i < DISK; i++)
		h.disk[i] = (uint8_t)(i * 13 + (i >> 9));
	FZ_CHECK(write(fd, h.disk, DISK) == DISK);
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t snap[MEM_SIZE];
	if (!fz_have_uring())
		return 0; /* qemu-user (the cross build's replay): nothing to drive */
	if (size < 1)
		return 0;
	const struct guest_mem *gm = fz_mem(MEM_SIZE, 0);
	memset(&h, 0, sizeof(h));
	h.gm = gm;
	h.mem = gm_ptr(gm, 0, MEM_SIZE);
	h.snap = snap;
	memset(h.mem, 0, MEM_SIZE);
	h.nq = data[0] & 1 ? 2 : 1;
	h.ro = data[0] & 2;
	h.features = (data[0] & 4 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0) |
		     (data[0] & 8 ? F_DISCARD | F_WRITE_ZEROES : 0) | (h.nq > 1 ? F_MQ : 0);
	const char *dir = data[0] & 0x10 ? "/tmp" : "/dev/shm";
	make_disk(dir);
	memset(h.known, 1, sizeof(h.known));
	char path[64];
	snprintf(path, sizeof(path), "%s/cvmm-fuzz-blk.%d", dir, (int)getpid());
	struct blk_cfg cfg = {.path = path, .ro = h.ro, .queues = h.nq};
	struct err e = {0};
	struct blk *b;
	int r = blk_open(&b, &cfg, 0, &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0);
	h.d = blk_vdev(b);
	h.d->inline_workers = true;
	struct virtio_irqfds irq = {.config = -1};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = -1;
	r = blk_start(b, gm, &irq, &e);
	fz_check_err(r, &e);
	FZ_CHECK(r == 0);
	h.v = (struct vd){.m = gm, .d = h.d};
	for (unsigned q = 0; q < h.nq; q++)
		vd_ring_set(&h.v, q, RING(q), RING(q) + 0x200, RING(q) + 0x1000, QSIZE,
			    blk_kick_fd(b, q));
	driver_init();

	struct fz_in in = {data + 1, size - 1};
	for (unsigned ops = 0; in.left && ops < MAX_OPS; ops++) {
		uint8_t o = fz_take(&in);
		unsigned q = (o >> 7) % h.nq;
		switch (o & 7) {
		case 0:
			post_request(q, &in);
			resnap();
			break;
		case 1:
			post_raw(q, &in);
			resnap();
			break;
		case 2:
			kick(q);
			settle();
			break;
		case 3:
			kick(q);
			vq_workers_run(h.d, 0);
			collect();
			break;
		case 4:
			device_reset();
			break;
		case 5:
			driver_init();
			break;
		case 6: {
			uint8_t k = fz_take(&in), v0 = fz_take(&in), v1 = fz_take(&in);
			uint16_t off = hostile_regs[k % (sizeof(hostile_regs) / 2)];
			vd_write(&h.v, off, (uint32_t)v0 | (uint32_t)v1 << 8);
			h.hostile = h.regs = true;
			h.quiet = false;
			h.live = (vd_read(&h.v, VD_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK) != 0;
			memset(h.known, 0, sizeof(h.known));
			break;
		}
		default:
			settle();
			break;
		}
		if (h.quiet) /* reset, and nothing set up since: nothing lands */
			FZ_CHECK(!memcmp(h.mem, h.snap, MEM_SIZE));
	}
	settle();
	device_reset();
	blk_destroy(b);
	FZ_CHECK(!memcmp(h.mem, h.snap, MEM_SIZE));
	return 0;
}
