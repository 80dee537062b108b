/* SPDX-License-Identifier: MIT */
/* Split virtqueue against a guest memory whose rings and descriptors come
 * from the input. Input layout:
 *   [0]      queue size: 1 << (b % 9)
 *   [1]      bit 0 EVENT_IDX; bit 1 "sane" knob: patch descriptors, indirect
 *            tables and the avail ring to point inside memory with small
 *            lengths, so the fuzzer gets deep; bits 2-3 ring placement:
 *            0 packed at MEM_GPA, 1 and 3 from [2..7], 2 packed at the end
 *   [2..7]   desc, avail, used offsets (le16) for placements 1 and 3
 *   [8..15]  op script, one byte per vq_pop round (cycled)
 *   [16..]   guest memory image, copied at the descriptor table for the
 *            packed placements, at MEM_GPA otherwise
 * Invariants: every iovec lies inside guest memory, segment counts and byte
 * sums agree, cursors stay in their part, a broken queue stays broken.
 *
 * Seeds: build with -DVQ_WRITE_SEEDS (plain cc, no libFuzzer) and run
 * `./a.out fuzz/corpus/virtqueue`. */
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/queue.h"
#include "core/err.h"
#include "fuzz_common.h"

#define MEM_GPA	 0x10000ULL
#define MEM_SIZE 0x10000ULL
#define HDR	 16
#define ROUNDS	 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct layout {
	uint16_t size;
	bool event_idx, sane;
	uint64_t desc, avail, used; /* offsets into the memory */
	uint64_t img;		    /* where the image goes */
};

static struct layout decode(const uint8_t *h)
{
	struct layout l = {
		.size = (uint16_t)(1u << (h[0] % 9)),
		.event_idx = h[1] & 1,
		.sane = h[1] & 2,
	};
	uint64_t dlen = 16ULL * l.size, alen = 6 + 2ULL * l.size, ulen = 6 + 8ULL * l.size;
	switch ((h[1] >> 2) & 3) {
	case 0:
	case 2:
		l.desc = 0;
		l.avail = dlen;
		l.used = (dlen + alen + 3) & ~3ULL;
		if ((h[1] >> 2) & 3) {
			uint64_t shift = (MEM_SIZE - (l.used + ulen)) & ~15ULL;
			l.desc += shift;
			l.avail += shift;
			l.used += shift;
		}
		l.img = l.desc;
		break;
	default:
		/* Anywhere, overlapping, or hanging past the end (vq_init
		 * then refuses). */
		l.desc = le_get16(h + 2) & ~15u;
		l.avail = le_get16(h + 4) & ~1u;
		l.used = le_get16(h + 6) & ~3u;
		l.img = 0;
		break;
	}
	return l;
}

/* Makes descriptor d (16 bytes at p) point inside memory with a small
 * length; next below n. Indirect descriptors get a small table. */
static void sane_desc(uint8_t *p, uint32_t n, bool allow_indirect)
{
	uint64_t off = fz_rd64(p) % MEM_SIZE;
	uint32_t len = fz_rd32(p + 8) % 2048;
	uint16_t flags = le_get16(p + 12) & 7;
	uint16_t next = (uint16_t)(le_get16(p + 14) % n);
	if (!allow_indirect && (flags & VRING_DESC_F_INDIRECT) && !(len & 1))
		flags &= (uint16_t)~VRING_DESC_F_INDIRECT; /* keep a few */
	if (flags & VRING_DESC_F_INDIRECT) {
		if (!(len & 1))
			flags &= (uint16_t)~VRING_DESC_F_NEXT;
		len = 16 * (1 + len % 16);
		off &= ~15ULL;
	}
	if (off + len > MEM_SIZE)
		off = MEM_SIZE - len;
	le_put64(p, MEM_GPA + off);
	le_put32(p + 8, len);
	le_put16(p + 12, flags);
	le_put16(p + 14, next);
}

static void sanitize(uint8_t *mem, const struct layout *l)
{
	for (uint32_t i = 0; i < l->size; i++) {
		uint8_t *p = mem + l->desc + 16ULL * i;
		sane_desc(p, l->size, true);
		if (!(le_get16(p + 12) & VRING_DESC_F_INDIRECT))
			continue;
		uint8_t *t = mem + (fz_rd64(p) - MEM_GPA);
		uint32_t tn = fz_rd32(p + 8) / 16;
		for (uint32_t j = 0; j < tn; j++)
			sane_desc(t + 16ULL * j, tn, false);
	}
	uint8_t *a = mem + l->avail;
	le_put16(a + 2, (uint16_t)(le_get16(a + 2) % (l->size + 1u)));
	for (uint32_t i = 0; i < l->size; i++)
		le_put16(a + 4 + 2ULL * i, (uint16_t)(le_get16(a + 4 + 2ULL * i) % l->size));
}

static void check_chain(const struct vq *q, const struct vq_chain *c, const uint8_t *mem)
{
	FZ_CHECK(c->head < q->size);
	FZ_CHECK(c->n_out + c->n_in <= VQ_MAX_SEGS);
	uint64_t sum[2] = {0, 0};
	for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;
		FZ_CHECK(len > 0);
		FZ_CHECK(b >= mem && b <= mem + MEM_SIZE && len <= (size_t)(mem + MEM_SIZE - b));
		sum[i >= c->n_out] += len;
	}
	FZ_CHECK(sum[0] == c->out_bytes && sum[1] == c->in_bytes);
}

/* Reads/skips the out part and writes the in part per op; returns what
 * was written into the in part. */
static uint32_t use_chain(const struct vq_chain *c, uint8_t op)
{
	static uint8_t buf[4096];
	struct vq_cursor out, in;
	vq_cursor_out(&out, c);
	vq_cursor_in(&in, c);
	FZ_CHECK(vq_cursor_left(&out) == c->out_bytes);
	FZ_CHECK(vq_cursor_left(&in) == c->in_bytes);

	size_t want = (size_t)(op >> 4) * 37;
	size_t left = vq_cursor_left(&out);
	size_t got = vq_cursor_read(&out, buf, want);
	FZ_CHECK(got == (want < left ? want : left));
	FZ_CHECK(vq_cursor_left(&out) == left - got);
	left -= got;
	struct iovec iov[8];
	size_t n = (size_t)(op & 0x30) * 3;
	int k = vq_cursor_iov(&out, n, iov, 1 + (op & 7));
	if (k >= 0) {
		size_t s = 0;
		FZ_CHECK(k <= 1 + (op & 7));
		for (int i = 0; i < k; i++)
			s += iov[i].iov_len;
		FZ_CHECK(s == n && vq_cursor_left(&out) == left - n);
		left -= n;
	} else {
		FZ_CHECK(k == -ENOSPC && vq_cursor_left(&out) == left);
	}
	FZ_CHECK(vq_cursor_skip(&out, SIZE_MAX) == left);
	FZ_CHECK(vq_cursor_read(&out, buf, 1) == 0);

	memset(buf, op, sizeof(buf));
	size_t written = vq_cursor_write(&in, buf, want);
	FZ_CHECK(written == (want < c->in_bytes ? want : c->in_bytes));
	if (op & 8)
		written += vq_cursor_skip(&in, SIZE_MAX);
	FZ_CHECK(written <= c->in_bytes && vq_cursor_left(&in) == c->in_bytes - written);
	return (uint32_t)written;
}

static void check_broken(struct vq *q, struct vq_chain *c)
{
	FZ_CHECK(q->broken && q->why && q->why[0]);
	uint16_t used = q->used_idx, last = q->last_avail;
	FZ_CHECK(vq_pop(q, c) == -EINVAL);
	FZ_CHECK(vq_push(q, 0, 0) == -EINVAL);
	FZ_CHECK(!vq_need_notify(q));
	FZ_CHECK(!vq_enable_notify(q));
	vq_disable_notify(q);
	FZ_CHECK(q->used_idx == used && q->last_avail == last && q->broken);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_chain c;
	uint8_t *mem;
	const struct guest_mem *m = fz_mem_at(MEM_GPA, MEM_SIZE, &mem);
	if (size < HDR)
		return 0;
	struct layout l = decode(data);
	memset(mem, 0, MEM_SIZE);
	size_t img = size - HDR;
	if (img > MEM_SIZE - l.img)
		img = MEM_SIZE - l.img;
	memcpy(mem + l.img, data + HDR, img);

	struct vq q;
	if (vq_init(&q, m, l.size, MEM_GPA + l.desc, MEM_GPA + l.avail, MEM_GPA + l.used,
		    l.event_idx) < 0) {
		check_broken(&q, &c);
		return 0;
	}
	/* vq_init accepted: the rings are inside memory. */
	FZ_CHECK(l.desc + 16ULL * l.size <= MEM_SIZE);
	FZ_CHECK(l.avail + 4 + 2ULL * l.size + 2 * l.event_idx <= MEM_SIZE);
	FZ_CHECK(l.used + 4 + 8ULL * l.size + 2 * l.event_idx <= MEM_SIZE);
	if (l.sane)
		sanitize(mem, &l);

	uint8_t *used = mem + l.used;
	for (unsigned round = 0; round < ROUNDS; round++) {
		uint8_t op = data[8 + round % 8];
		if (op & 1)
			vq_disable_notify(&q);
		int r = vq_pop(&q, &c);
		if (r < 0) {
			FZ_CHECK(r == -EINVAL);
			check_broken(&q, &c);
			return 0;
		}
		if (r == 0) {
			if (!vq_enable_notify(&q) && !q.broken)
				break;
			continue;
		}
		FZ_CHECK(r == 1);
		check_chain(&q, &c, mem);
		uint32_t written = use_chain(&c, op);
		if (!(op & 4)) {
			uint16_t before = q.used_idx;
			FZ_CHECK(vq_push(&q, c.head, written) == 0);
			FZ_CHECK(q.used_idx == (uint16_t)(before + 1));
			FZ_CHECK(le_get16(used + 2) == q.used_idx);
		}
		if (op & 2)
			(void)vq_need_notify(&q);
		if (op & 0x40)
			(void)vq_enable_notify(&q);
		if (op & 0x80) {
			/* the worker's polling: kicks held off, the ring looked
			 * at, kicks back on (what it pops in between is as
			 * checked as ever) */
			vq_poll_begin(&q);
			FZ_CHECK(q.broken || q.polling);
			(void)vq_poll_pending(&q);
			if (op & 0x20)
				(void)vq_poll_end(&q);
		}
		FZ_CHECK(!q.broken);
	}
	if (q.polling)
		(void)vq_poll_end(&q);
	FZ_CHECK(!q.polling);
	return 0;
}

#ifdef VQ_WRITE_SEEDS
/* Writes a few valid layouts as seeds. */
#include <stdio.h>

static uint8_t seed[HDR + 0x2000];

static void desc_put(uint8_t *img, unsigned i, uint64_t off, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = img + 16 * i;
	le_put64(p, MEM_GPA + off);
	le_put32(p + 8, len);
	le_put16(p + 12, flags);
	le_put16(p + 14, next);
}

static void write_seed(const char *dir, const char *name, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(seed, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Packed layouts: the image starts at the descriptor table, so with
 * placement 0 an image offset is its gpa - MEM_GPA. */
static void packed(unsigned log2, uint8_t flags, const uint16_t *heads, unsigned n)
{
	memset(seed, 0, sizeof(seed));
	seed[0] = (uint8_t)log2;
	seed[1] = flags;
	static const uint8_t script[8] = {0x00, 0x13, 0x22, 0x45, 0x88, 0xf1, 0x02, 0x60};
	memcpy(seed + 8, script, 8);
	struct layout l = decode(seed);
	uint8_t *img = seed + HDR;
	uint8_t *avail = img + (l.avail - l.img);
	le_put16(avail + 2, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		le_put16(avail + 4 + 2 * i, heads[i]);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	uint8_t *img = seed + HDR;

	/* Size 8: an out+in chain, a single writable buffer. */
	packed(3, 0, (const uint16_t[]){0, 3}, 2);
	desc_put(img, 0, 0x800, 16, VRING_DESC_F_NEXT, 1);
	desc_put(img, 1, 0x900, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc_put(img, 2, 0xc00, 1, VRING_DESC_F_WRITE, 0);
	desc_put(img, 3, 0xd00, 64, VRING_DESC_F_WRITE, 0);
	write_seed(dir, "direct8", HDR + 0x200);

	/* Same with EVENT_IDX, a zero-length segment and a used_event. */
	packed(3, 1, (const uint16_t[]){4}, 1);
	desc_put(img, 4, 0x800, 8, VRING_DESC_F_NEXT, 5);
	desc_put(img, 5, 0, 0, VRING_DESC_F_NEXT, 6);
	desc_put(img, 6, 0x900, 32, VRING_DESC_F_WRITE, 0);
	write_seed(dir, "event_idx8", HDR + 0x200);

	/* Size 16: an indirect table of three. */
	packed(4, 0, (const uint16_t[]){2}, 1);
	desc_put(img, 2, 0x400, 48, VRING_DESC_F_INDIRECT, 0);
	desc_put(img + 0x400, 0, 0x800, 16, VRING_DESC_F_NEXT, 2);
	desc_put(img + 0x400, 2, 0x900, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	desc_put(img + 0x400, 1, 0xa00, 1, VRING_DESC_F_WRITE, 0);
	write_seed(dir, "indirect16", HDR + 0x500);

	/* Size 256 with the sane knob and EVENT_IDX: the fuzzer fills in. */
	packed(8, 3, (const uint16_t[]){0, 1, 2, 3}, 4);
	for (unsigned i = 0; i < 4; i++)
		desc_put(img, i, 0x3000 + 16 * i, 16, VRING_DESC_F_WRITE, 0);
	write_seed(dir, "sane256", HDR + 0x1300);

	/* Rings near the end of memory (placement 2), size 4, empty. */
	packed(2, 8, NULL, 0);
	write_seed(dir, "end4", HDR + 0x80);
	return 0;
}
#endif
