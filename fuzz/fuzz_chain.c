/* SPDX-License-Identifier: MIT */
/* The chain cursor (vq_cursor_*, devices/virtio/queue.c) against a model.
 * A chain of readable then writable segments is built from the input (up
 * to VQ_MAX_SEGS of them, empty ones included, each followed by guard bytes
 * in one arena), then a script of reads, writes, skips, iovec extractions,
 * rewinds and copies runs on four cursors, two per part. The model keeps
 * each part as a flat byte string and each cursor as a byte position.
 * Input layout:
 *   [0..1]  n_out, le16 mod VQ_MAX_SEGS + 1
 *   [2..3]  n_in, le16 mod (what is left) + 1
 *   [4]     L: how many segment length codes follow (cycled over the
 *           segments; with none, every segment is 1 byte)
 *   [5..]   L length codes, then ops of 3 bytes [op, a, b]:
 *           op & 7         0 read, 1 write, 2 skip, 3 iov, 4 left,
 *                          5 rewind, 6 copy cursor, 7 read everything
 *           (op >> 3) & 3  the cursor: 0, 1 on the readable part, 2, 3 on
 *                          the writable part
 *           op >> 5        iov: index into iov_max[]; copy: the source
 *                          cursor; skip and iov: 7 means n = SIZE_MAX
 *           n = a | b << 8
 * Invariants: counts and bytes as the model says; iov entries are
 * non-empty, at most max, each the longest run inside one segment of the
 * cursor's part at the model's position; -ENOSPC exactly when the bytes are
 * not there or need more than max entries, and then the cursor stays; no
 * byte outside the segments (guards) and no byte the model did not write
 * changes. */
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/queue.h"
#include "fuzz_common.h"

#define SEG_MAX	   2255 /* longest segment a length code gives */
#define GUARD	   8
#define GUARD_BYTE 0xa5
#define PART_MAX   ((size_t)VQ_MAX_SEGS * SEG_MAX)
#define ARENA	   ((size_t)VQ_MAX_SEGS * (SEG_MAX + GUARD) + GUARD)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned iov_max[8] = {0, 1, 2, 3, 8, 64, 126, VQ_MAX_SEGS};

struct part {
	unsigned first, n;	   /* segments [first, first + n) of the chain */
	size_t bytes;		   /* sum of their lengths */
	size_t start[VQ_MAX_SEGS]; /* offset of segment first + i in the part */
	uint8_t *flat;		   /* the model: the part's bytes in order */
};

struct cur {
	struct vq_cursor c;
	int part;
	size_t pos; /* bytes consumed, per the model */
};

struct state {
	struct vq_chain c;
	struct part p[2];
	struct cur cur[4];
	uint8_t arena[ARENA];
	uint8_t flat[2][PART_MAX];
	uint8_t pattern[2][PART_MAX]; /* initial contents of each part */
	uint8_t buf[PART_MAX + 1];
	struct iovec iov[VQ_MAX_SEGS];
};

static size_t seg_len(uint8_t code)
{
	return code < 200 ? code % 24u : (size_t)(code - 200) * 41;
}

static uint8_t *seg_ptr(const struct state *s, const struct part *p, unsigned i)
{
	return s->c.iov[p->first + i].iov_base;
}

static size_t seg_size(const struct state *s, const struct part *p, unsigned i)
{
	return s->c.iov[p->first + i].iov_len;
}

/* The segment holding byte pos of the part (pos < bytes): the first
 * non-empty one whose range contains it. */
static unsigned seg_at(const struct state *s, const struct part *p, size_t pos)
{
	unsigned lo = 0, hi = p->n;
	while (hi - lo > 1) { /* last segment with start <= pos */
		unsigned mid = lo + (hi - lo) / 2;
		if (p->start[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	while (seg_size(s, p, lo) == 0 || pos - p->start[lo] >= seg_size(s, p, lo))
		lo++;
	FZ_CHECK(lo < p->n);
	return lo;
}

/* How many iov entries the bytes [pos, pos + n) take: one per non-empty
 * segment they touch. */
static size_t entries_needed(const struct state *s, const struct part *p, size_t pos, size_t n)
{
	size_t k = 0;
	while (n) {
		unsigned i = seg_at(s, p, pos);
		size_t take = p->start[i] + seg_size(s, p, i) - pos;
		if (take > n)
			take = n;
		pos += take;
		n -= take;
		k++;
	}
	return k;
}

/* The arena holds the model's bytes [pos, pos + n) where the segments say. */
static void check_bytes(const struct state *s, const struct part *p, size_t pos, size_t n)
{
	while (n) {
		unsigned i = seg_at(s, p, pos);
		size_t off = pos - p->start[i], take = seg_size(s, p, i) - off;
		if (take > n)
			take = n;
		FZ_CHECK(memcmp(seg_ptr(s, p, i) + off, p->flat + pos, take) == 0);
		pos += take;
		n -= take;
	}
}

static size_t left_of(const struct state *s, const struct cur *k)
{
	return s->p[k->part].bytes - k->pos;
}

static void rewind_cur(struct state *s, struct cur *k)
{
	if (k->part == 0)
		vq_cursor_out(&k->c, &s->c);
	else
		vq_cursor_in(&k->c, &s->c);
	k->pos = 0;
}

/* Builds the chain; returns the number of input bytes used. */
static size_t build(struct state *s, const uint8_t *data, size_t size)
{
	unsigned n_out = (unsigned)(data[0] | data[1] << 8) % (VQ_MAX_SEGS + 1);
	unsigned n_in = (unsigned)(data[2] | data[3] << 8) % (VQ_MAX_SEGS - n_out + 1);
	size_t ncodes = data[4], used = 5;
	if (ncodes > size - used)
		ncodes = size - used;
	const uint8_t *codes = data + used;
	used += ncodes;

	memset(&s->c, 0, sizeof(s->c));
	s->c.n_out = n_out;
	s->c.n_in = n_in;
	s->p[0] = (struct part){.first = 0, .n = n_out, .flat = s->flat[0]};
	s->p[1] = (struct part){.first = n_out, .n = n_in, .flat = s->flat[1]};
	size_t at = 0;
	for (int pi = 0; pi < 2; pi++) {
		struct part *p = &s->p[pi];
		for (unsigned i = 0; i < p->n; i++) {
			unsigned g = p->first + i;
			size_t len = ncodes ? seg_len(codes[g % ncodes]) : 1;
			memset(s->arena + at, GUARD_BYTE, GUARD);
			at += GUARD;
			p->start[i] = p->bytes;
			memcpy(p->flat + p->bytes, s->pattern[pi] + p->bytes, len);
			memcpy(s->arena + at, p->flat + p->bytes, len);
			s->c.iov[g] = (struct iovec){s->arena + at, len};
			at += len;
			p->bytes += len;
		}
	}
	memset(s->arena + at, GUARD_BYTE, GUARD);
	s->c.out_bytes = s->p[0].bytes;
	s->c.in_bytes = s->p[1].bytes;
	for (int i = 0; i < 4; i++) {
		s->cur[i].part = i / 2;
		rewind_cur(s, &s->cur[i]);
	}
	return used;
}

static void check_guards(const struct state *s)
{
	const uint8_t *g = s->arena;
	for (unsigned i = 0; i <= s->c.n_out + s->c.n_in; i++) {
		for (unsigned j = 0; j < GUARD; j++)
			FZ_CHECK(g[j] == GUARD_BYTE);
		if (i < s->c.n_out + s->c.n_in)
			g = (const uint8_t *)s->c.iov[i].iov_base + s->c.iov[i].iov_len;
	}
}

static void op_iov(struct state *s, struct cur *k, size_t n, unsigned max)
{
	const struct part *p = &s->p[k->part];
	size_t left = left_of(s, k);
	bool fits = n <= left && entries_needed(s, p, k->pos, n) <= max;
	int r = vq_cursor_iov(&k->c, n, s->iov, max);
	if (!fits) {
		FZ_CHECK(r == -ENOSPC);
		FZ_CHECK(vq_cursor_left(&k->c) == left);
		return;
	}
	FZ_CHECK(r >= 0 && (unsigned)r <= max);
	for (int e = 0; e < r; e++) {
		unsigned i = seg_at(s, p, k->pos);
		size_t off = k->pos - p->start[i];
		size_t want = seg_size(s, p, i) - off;
		if (want > n)
			want = n;
		FZ_CHECK(s->iov[e].iov_base == seg_ptr(s, p, i) + off);
		FZ_CHECK(s->iov[e].iov_len == want && want > 0);
		k->pos += want;
		n -= want;
	}
	FZ_CHECK(n == 0);
}

static void run_op(struct state *s, uint8_t op, size_t n)
{
	struct cur *k = &s->cur[(op >> 3) & 3];
	struct part *p = &s->p[k->part];
	size_t left = left_of(s, k);
	size_t got;
	switch (op & 7) {
	case 0: /* read */
	case 7: /* read everything */
		if ((op & 7) == 7)
			n = SIZE_MAX;
		got = vq_cursor_read(&k->c, s->buf, n);
		FZ_CHECK(got == (n < left ? n : left));
		FZ_CHECK(memcmp(s->buf, p->flat + k->pos, got) == 0);
		k->pos += got;
		break;
	case 1: /* write */
		if (n > left + 1)
			n = left + 1; /* one byte more than fits, at most */
		for (size_t i = 0; i < n; i++)
			s->buf[i] = (uint8_t)(op + i * 13);
		got = vq_cursor_write(&k->c, s->buf, n);
		FZ_CHECK(got == (n < left ? n : left));
		memcpy(p->flat + k->pos, s->buf, got);
		check_bytes(s, p, k->pos, got);
		k->pos += got;
		break;
	case 2: /* skip */
		if ((op >> 5) == 7)
			n = SIZE_MAX;
		got = vq_cursor_skip(&k->c, n);
		FZ_CHECK(got == (n < left ? n : left));
		k->pos += got;
		break;
	case 3: /* iov */
		op_iov(s, k, (op >> 5) == 7 ? SIZE_MAX : n, iov_max[op >> 5]);
		break;
	case 4: /* left */
		break;
	case 5:
		rewind_cur(s, k);
		break;
	case 6: { /* copy: cursors are plain values */
		struct cur *from = &s->cur[(op >> 5) & 3];
		if (from->part == k->part)
			*k = *from;
		break;
	}
	}
	FZ_CHECK(vq_cursor_left(&k->c) == left_of(s, k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state s;
	if (size < 5)
		return 0;
	if (s.pattern[0][1] == 0)
		for (size_t i = 0; i < PART_MAX; i++) {
			s.pattern[0][i] = (uint8_t)(i * 7 + 1);
			s.pattern[1][i] = (uint8_t)(i * 7 + 2);
		}
	size_t at = build(&s, data, size);
	for (; at + 3 <= size; at += 3)
		run_op(&s, data[at], (size_t)data[at + 1] | (size_t)data[at + 2] << 8);
	for (int i = 0; i < 4; i++)
		FZ_CHECK(vq_cursor_left(&s.cur[i].c) == left_of(&s, &s.cur[i]));
	check_guards(&s);
	check_bytes(&s, &s.p[0], 0, s.p[0].bytes);
	check_bytes(&s, &s.p[1], 0, s.p[1].bytes);
	return 0;
}
