/* SPDX-License-Identifier: MIT */
/* Split virtqueue against rings laid out by the test in a fake guest
 * memory: valid chains (direct, indirect, zero-length segments), cursors,
 * used ring and index wrap-around, notification suppression, and hostile
 * layouts that must break the queue without hanging or escaping memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/queue.h"
#include "vq_rig.h"

#define LOW	(1 * MiB)
#define HIGH	(64 * 1024)
#define DESC	VQR_DESC
#define AVAIL	VQR_AVAIL
#define USED	VQR_USED
#define INDIR	0x10000ULL
#define BUF	0xa0000ULL
#define BUFN(k) (BUF + (uint64_t)(k)*0x1000)

#define F_NEXT	   VRING_DESC_F_NEXT
#define F_WRITE	   VRING_DESC_F_WRITE
#define F_INDIRECT VRING_DESC_F_INDIRECT

static int setup(void **state)
{
	return vq_rig_setup(state, LOW, HIGH);
}

static int teardown(void **state)
{
	return vq_rig_teardown(state);
}

/* Pops and expects the queue to break. */
static void expect_broken(struct vq_rig *r)
{
	assert_int_equal(vq_pop(&r->q, &r->c), -EINVAL);
	assert_true(r->q.broken);
	assert_non_null(r->q.why);
}

static void fill(struct vq_rig *r, uint64_t gpa, size_t n, uint8_t seed)
{
	uint8_t *p = fake_at(&r->f, gpa, n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i);
}

/* Layout checks. */

static void test_init_rejects_bad_layouts(void **state)
{
	struct vq_rig *r = *state;
	const struct guest_mem *m = &r->f.m;
	struct vq *q = &r->q;
	static const uint16_t bad_sizes[] = {0, 3, 12, 255, 65535};
	for (unsigned i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++)
		assert_int_equal(vq_init(q, m, bad_sizes[i], DESC, AVAIL, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC + 8, AVAIL, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL + 1, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL, USED + 2, false), -EINVAL);
	/* Out of memory, straddling the end of a region, wrapping. */
	assert_int_equal(vq_init(q, m, 8, 2 * MiB, AVAIL, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, LOW - 64, AVAIL, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, LOW - 18, USED, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL, LOW - 64, false), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL, UINT64_MAX - 3, false), -EINVAL);
	/* The event fields only count with EVENT_IDX: avail is 4 + 2*8 = 20
	 * bytes without, 22 with. */
	assert_int_equal(vq_init(q, m, 8, DESC, LOW - 20, USED, false), 0);
	assert_int_equal(vq_init(q, m, 8, DESC, LOW - 20, USED, true), -EINVAL);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL, LOW - 68, false), 0);
	assert_int_equal(vq_init(q, m, 8, DESC, AVAIL, LOW - 68, true), -EINVAL);
	/* A failed init leaves a broken queue. */
	assert_int_equal(vq_init(q, m, 3, DESC, AVAIL, USED, false), -EINVAL);
	assert_int_equal(vq_pop(q, &r->c), -EINVAL);
	assert_int_equal(vq_push(q, 0, 0), -EINVAL);
}

static void test_init_accepts_limits(void **state)
{
	struct vq_rig *r = *state;
	/* 32768 entries: 512 KiB of descriptors at 0, rings above. */
	assert_int_equal(vq_init(&r->q, &r->f.m, 32768, 0, 0x80000, 0xa0000, true), 0);
	assert_int_equal(vq_init(&r->q, &r->f.m, 1, DESC, AVAIL, USED, true), 0);
	/* Rings in the high region. */
	assert_int_equal(
		vq_init(&r->q, &r->f.m, 16, 4 * GiB, 4 * GiB + 0x1000, 4 * GiB + 0x2000, false), 0);
	vq_rig_reset(state, 8, false);
	assert_int_equal(vq_pop(&r->q, &r->c), 0);
	assert_false(r->q.broken);
}

/* Valid chains. */

static void test_simple_chain(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 16, false);
	rr_desc(&r->ring, 3, BUFN(0), 16, F_NEXT, 7);
	rr_desc(&r->ring, 7, BUFN(1), 100, F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(2), 512, F_NEXT | F_WRITE, 2);
	rr_desc(&r->ring, 2, 4 * GiB + 16, 1, F_WRITE, 0);
	rr_avail(&r->ring, 3);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.head, 3);
	assert_int_equal(r->c.n_out, 2);
	assert_int_equal(r->c.n_in, 2);
	assert_int_equal(r->c.out_bytes, 116);
	assert_int_equal(r->c.in_bytes, 513);
	assert_ptr_equal(r->c.iov[0].iov_base, fake_at(&r->f, BUFN(0), 16));
	assert_int_equal(r->c.iov[0].iov_len, 16);
	assert_ptr_equal(r->c.iov[1].iov_base, fake_at(&r->f, BUFN(1), 100));
	assert_ptr_equal(r->c.iov[2].iov_base, fake_at(&r->f, BUFN(2), 512));
	assert_ptr_equal(r->c.iov[3].iov_base, fake_at(&r->f, 4 * GiB + 16, 1));
	assert_int_equal(r->c.iov[3].iov_len, 1);
	assert_int_equal(vq_pop(&r->q, &r->c), 0);
	assert_int_equal(r->q.last_avail, 1);

	assert_int_equal(vq_push(&r->q, 3, 200), 0);
	assert_int_equal(rr_used_idx(&r->ring), 1);
	assert_int_equal(rd32(fake_at(&r->f, USED + 4, 4)), 3);
	assert_int_equal(rd32(fake_at(&r->f, USED + 8, 4)), 200);
}

/* vq_hold_used: the entries are written, the index only at
 * vq_publish_used, once for the batch; without a hold each push publishes. */
static void test_hold_used(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 16, true);
	for (unsigned i = 0; i < 3; i++) {
		rr_desc(&r->ring, i, BUFN(i), 64, F_WRITE, 0);
		rr_avail(&r->ring, (uint16_t)i);
	}
	vq_hold_used(&r->q);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(vq_pop(&r->q, &r->c), 1);
		assert_int_equal(vq_push(&r->q, r->c.head, 10 + i), 0);
		assert_int_equal(rr_used_idx(&r->ring), 0);
	}
	assert_int_equal(rd32(fake_at(&r->f, USED + 4 + 8 * 2, 4)), 2); /* the entries are there */
	vq_publish_used(&r->q);
	assert_int_equal(rr_used_idx(&r->ring), 3);
	assert_true(vq_need_notify(&r->q)); /* the first notification */
	vq_publish_used(&r->q);		    /* nothing held: nothing changes */
	assert_int_equal(rr_used_idx(&r->ring), 3);
	rr_desc(&r->ring, 3, BUFN(3), 64, F_WRITE, 0);
	rr_avail(&r->ring, 3);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(vq_push(&r->q, r->c.head, 1), 0);
	assert_int_equal(rr_used_idx(&r->ring), 4);
}

static void test_several_chains_in_order(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	for (unsigned i = 0; i < 8; i++) {
		rr_desc(&r->ring, i, BUFN(i), 10 + i, (i & 1) ? F_WRITE : 0, 0);
		rr_avail(&r->ring, (uint16_t)(7 - i));
	}
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(vq_pop(&r->q, &r->c), 1);
		unsigned h = 7 - i;
		assert_int_equal(r->c.head, h);
		assert_int_equal(r->c.n_out + r->c.n_in, 1);
		assert_int_equal(r->c.out_bytes + r->c.in_bytes, 10 + h);
		assert_int_equal(r->c.n_in, h & 1);
	}
	assert_int_equal(vq_pop(&r->q, &r->c), 0);
}

static void test_chain_of_queue_size(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	for (unsigned i = 0; i < 8; i++)
		rr_desc(&r->ring, i, BUFN(i), 8, i < 7 ? F_NEXT : 0, (uint16_t)(i + 1));
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.n_out, 8);
	assert_int_equal(r->c.out_bytes, 64);
}

static void test_zero_length_segments(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	/* Zero-length segments are skipped, wherever they point. */
	rr_desc(&r->ring, 0, BUFN(0), 4, F_NEXT, 1);
	rr_desc(&r->ring, 1, UINT64_MAX, 0, F_NEXT, 2);
	rr_desc(&r->ring, 2, BUFN(2), 0, F_NEXT | F_WRITE, 3);
	rr_desc(&r->ring, 3, BUFN(3), 6, F_WRITE, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.n_out, 1);
	assert_int_equal(r->c.n_in, 1);
	assert_int_equal(r->c.out_bytes, 4);
	assert_int_equal(r->c.in_bytes, 6);
	assert_ptr_equal(r->c.iov[1].iov_base, fake_at(&r->f, BUFN(3), 6));
	/* An all-empty chain is legal too. */
	rr_desc(&r->ring, 5, 0, 0, 0, 0);
	rr_avail(&r->ring, 5);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.n_out + r->c.n_in, 0);
}

/* Cursors. */

static void test_cursor_read_write_skip(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 3, F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 0, F_NEXT, 2);
	rr_desc(&r->ring, 2, BUFN(2), 5, F_NEXT, 3);
	rr_desc(&r->ring, 3, BUFN(3), 4, F_NEXT | F_WRITE, 4);
	rr_desc(&r->ring, 4, BUFN(4), 4, F_WRITE, 0);
	fill(r, BUFN(0), 3, 0);
	fill(r, BUFN(2), 5, 3);
	fill(r, BUFN(3), 4, 0xee);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);

	struct vq_cursor out, in;
	vq_cursor_out(&out, &r->c);
	vq_cursor_in(&in, &r->c);
	assert_int_equal(vq_cursor_left(&out), 8);
	assert_int_equal(vq_cursor_left(&in), 8);
	uint8_t b[16];
	assert_int_equal(vq_cursor_read(&out, b, 2), 2);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 1);
	assert_int_equal(vq_cursor_skip(&out, 2), 2);
	assert_int_equal(vq_cursor_left(&out), 4);
	/* Never past the readable part, even when asked for more. */
	memset(b, 0, sizeof(b));
	assert_int_equal(vq_cursor_read(&out, b, sizeof(b)), 4);
	assert_memory_equal(b, ((uint8_t[]){4, 5, 6, 7}), 4);
	assert_int_equal(vq_cursor_read(&out, b, 1), 0);
	assert_int_equal(vq_cursor_skip(&out, 1), 0);
	assert_int_equal(vq_cursor_left(&out), 0);
	assert_int_equal(rd32(fake_at(&r->f, BUFN(3), 4)), 0xf1f0efee);

	const uint8_t w[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	assert_int_equal(vq_cursor_write(&in, w, 3), 3);
	assert_int_equal(vq_cursor_skip(&in, 2), 2);
	assert_int_equal(vq_cursor_write(&in, w + 5, 10), 3);
	assert_int_equal(vq_cursor_write(&in, w, 1), 0);
	assert_memory_equal(fake_at(&r->f, BUFN(3), 4), ((uint8_t[]){1, 2, 3, 0xf1}), 4);
	assert_memory_equal(fake_at(&r->f, BUFN(4), 4), ((uint8_t[]){0, 6, 7, 8}), 4);
	/* Reading the in part with an in cursor is fine; it stays inside. */
	vq_cursor_in(&in, &r->c);
	assert_int_equal(vq_cursor_read(&in, b, sizeof(b)), 8);
}

static void test_cursor_empty_parts(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 8, F_WRITE, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	struct vq_cursor out;
	vq_cursor_out(&out, &r->c);
	uint8_t b[4];
	assert_int_equal(vq_cursor_left(&out), 0);
	assert_int_equal(vq_cursor_read(&out, b, 4), 0);
	assert_int_equal(vq_cursor_iov(&out, 0, NULL, 0), 0);
	assert_int_equal(vq_cursor_iov(&out, 1, NULL, 0), -ENOSPC);
}

static void test_cursor_iov(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 10, F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 20, F_NEXT, 2);
	rr_desc(&r->ring, 2, BUFN(2), 30, F_NEXT | F_WRITE, 3);
	rr_desc(&r->ring, 3, BUFN(3), 30, F_WRITE, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);

	struct vq_cursor out, in;
	vq_cursor_out(&out, &r->c);
	vq_cursor_in(&in, &r->c);
	struct iovec iov[4];
	assert_int_equal(vq_cursor_skip(&out, 4), 4);
	/* Not enough entries, or not enough bytes: nothing moves. */
	assert_int_equal(vq_cursor_iov(&out, 20, iov, 1), -ENOSPC);
	assert_int_equal(vq_cursor_iov(&out, 27, iov, 4), -ENOSPC);
	assert_int_equal(vq_cursor_left(&out), 26);
	assert_int_equal(vq_cursor_iov(&out, 20, iov, 2), 2);
	assert_ptr_equal(iov[0].iov_base, fake_at(&r->f, BUFN(0) + 4, 6));
	assert_int_equal(iov[0].iov_len, 6);
	assert_ptr_equal(iov[1].iov_base, fake_at(&r->f, BUFN(1), 14));
	assert_int_equal(iov[1].iov_len, 14);
	assert_int_equal(vq_cursor_iov(&out, 6, iov, 1), 1);
	assert_ptr_equal(iov[0].iov_base, fake_at(&r->f, BUFN(1) + 14, 6));
	assert_int_equal(vq_cursor_left(&out), 0);
	/* The in part, whole. */
	assert_int_equal(vq_cursor_iov(&in, 60, iov, 4), 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 60);
	assert_int_equal(vq_cursor_iov(&in, 0, iov, 4), 0);
}

/* Indirect tables. */

static void test_indirect_valid(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 16, F_NEXT, 2);
	rr_desc_at(&r->ring, INDIR, 2, BUFN(1), 8, F_NEXT, 1);
	rr_desc_at(&r->ring, INDIR, 1, BUFN(2), 64, F_WRITE, 0);
	/* WRITE on the descriptor that points at the table is ignored. */
	rr_desc(&r->ring, 5, INDIR, 3 * 16, F_INDIRECT | F_WRITE, 0);
	rr_avail(&r->ring, 5);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.head, 5);
	assert_int_equal(r->c.n_out, 2);
	assert_int_equal(r->c.n_in, 1);
	assert_int_equal(r->c.out_bytes, 24);
	assert_int_equal(r->c.in_bytes, 64);
	assert_ptr_equal(r->c.iov[1].iov_base, fake_at(&r->f, BUFN(1), 8));

	/* A direct descriptor, then the indirect one that ends the chain. */
	rr_desc(&r->ring, 0, BUFN(3), 12, F_NEXT, 1);
	rr_desc(&r->ring, 1, INDIR, 3 * 16, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.n_out, 3);
	assert_int_equal(r->c.out_bytes, 36);
	assert_int_equal(r->c.n_in, 1);
}

static void test_indirect_with_next(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 16, 0, 0);
	rr_desc(&r->ring, 0, INDIR, 16, F_INDIRECT | F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 16, 0, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
}

static void test_indirect_nested(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 16, F_NEXT, 1);
	rr_desc_at(&r->ring, INDIR, 1, INDIR + 0x100, 16, F_INDIRECT, 0);
	rr_desc_at(&r->ring, INDIR + 0x100, 0, BUFN(1), 16, 0, 0);
	rr_desc(&r->ring, 0, INDIR, 32, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
}

static void test_indirect_bad_lengths(void **state)
{
	const struct {
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{INDIR, 0},
		{INDIR, 17},
		{INDIR, 8},
		{LOW - 16, 32},		     /* past the end of memory */
		{UINT64_MAX - 15, 32},	     /* wraps */
		{0, (VQ_MAX_SIZE + 1) * 16}, /* more than 32768 entries */
		{8 * GiB, 16},		     /* unmapped */
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vq_rig *r = vq_rig_reset(state, 8, false);
		rr_desc(&r->ring, 0, cases[k].addr, cases[k].len, F_INDIRECT, 0);
		rr_avail(&r->ring, 0);
		expect_broken(r);
	}
	/* The largest table is fine (its entries are all zero: empty). */
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, 0, VQ_MAX_SIZE * 16, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
}

static void test_indirect_next_out_of_table(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 16, F_NEXT, 2); /* table has 2 entries */
	rr_desc_at(&r->ring, INDIR, 2, BUFN(1), 16, 0, 0);
	rr_desc(&r->ring, 0, INDIR, 32, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
}

static void test_indirect_loop(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 16, F_NEXT, 1);
	rr_desc_at(&r->ring, INDIR, 1, BUFN(1), 16, F_NEXT, 0);
	rr_desc(&r->ring, 0, INDIR, 32, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	r = vq_rig_reset(state, 8, false);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(0), 0, F_NEXT, 0);
	rr_desc(&r->ring, 0, INDIR, 16, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
}

/* Hostile direct chains. */

static void test_descriptor_loop(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 256, false);
	rr_desc(&r->ring, 0, BUFN(0), 16, F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 16, F_NEXT, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	/* A descriptor pointing at itself, on a fresh queue. */
	r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 4, BUFN(0), 16, F_NEXT, 4);
	rr_avail(&r->ring, 4);
	expect_broken(r);
	/* Empty segments add no iovecs: only the walk budget stops these. */
	r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 2, BUFN(0), 0, F_NEXT, 3);
	rr_desc(&r->ring, 3, BUFN(0), 0, F_NEXT, 2);
	rr_avail(&r->ring, 2);
	expect_broken(r);
}

static void test_next_and_head_out_of_range(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 16, F_NEXT, 8);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	r = vq_rig_reset(state, 8, false);
	rr_avail(&r->ring, 8);
	expect_broken(r);
	r = vq_rig_reset(state, 16, false);
	rr_avail(&r->ring, 0xffff);
	expect_broken(r);
}

static void test_avail_too_far_ahead(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	for (unsigned i = 0; i < 8; i++)
		rr_desc(&r->ring, i, BUFN(i), 4, 0, 0);
	/* Exactly size ahead is fine. */
	rr_set_avail_idx(&r->ring, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(vq_pop(&r->q, &r->c), 0);
	rr_set_avail_idx(&r->ring, 8 + 9);
	expect_broken(r);
	/* Behind us looks like 65535 ahead. */
	r = vq_rig_reset(state, 8, false);
	rr_set_avail_idx(&r->ring, 0xffff);
	expect_broken(r);
}

static void test_buffer_outside_memory(void **state)
{
	const struct {
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{LOW, 1},		 /* just past low memory */
		{LOW - 8, 16},		 /* straddles its end */
		{2 * MiB, 16},		 /* the hole */
		{4 * GiB + HIGH - 4, 8}, /* straddles the end of high memory */
		{UINT64_MAX - 10, 100},	 /* addr + len wraps */
		{0, 0xffffffff},	 /* huge */
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vq_rig *r = vq_rig_reset(state, 8, false);
		rr_desc(&r->ring, 0, BUFN(0), 16, F_NEXT, 1);
		rr_desc(&r->ring, 1, cases[k].addr, cases[k].len, F_WRITE, 0);
		rr_avail(&r->ring, 0);
		expect_broken(r);
	}
}

static void test_readable_after_writable(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 16, F_WRITE | F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 16, 0, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	/* Also when the segments are empty, and across into an indirect
	 * table. */
	r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 0, F_WRITE | F_NEXT, 1);
	rr_desc(&r->ring, 1, BUFN(1), 0, 0, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 16, F_WRITE | F_NEXT, 1);
	rr_desc(&r->ring, 1, INDIR, 16, F_INDIRECT, 0);
	rr_desc_at(&r->ring, INDIR, 0, BUFN(1), 16, 0, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
}

static void test_too_many_segments(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		rr_desc_at(&r->ring, INDIR, i, BUFN(0) + i, 1, F_NEXT, (uint16_t)(i + 1));
	rr_desc_at(&r->ring, INDIR, VQ_MAX_SEGS - 1, BUFN(0), 1, 0, 0);
	rr_desc(&r->ring, 0, INDIR, VQ_MAX_SEGS * 16, F_INDIRECT, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.n_out, VQ_MAX_SEGS);
	assert_int_equal(r->c.out_bytes, VQ_MAX_SEGS);
	/* One more segment, through a direct descriptor first. */
	rr_desc(&r->ring, 1, BUFN(1), 1, F_NEXT, 0);
	rr_avail(&r->ring, 1);
	expect_broken(r);
}

static void test_chain_over_4gib(void **state)
{
	struct vq_rig *r = *state;
	/* Address space only: the walk never touches the buffers. */
	size_t len = 8 * GiB;
	void *big = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		skip();
	struct fake_mem saved = r->f;
	assert_int_equal(gm_add(&r->f.m, 1ULL << 40, len, big), 0);
	vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, 1ULL << 40, 0xffffffff, F_NEXT, 1);
	rr_desc(&r->ring, 1, 1ULL << 40, 0xffffffff, 0, 0);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	/* One segment of 4 GiB - 1 is fine. */
	vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, 1ULL << 40, 0xffffffff, 0, 0);
	rr_avail(&r->ring, 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(r->c.out_bytes, 0xffffffffULL);
	r->f = saved;
	munmap(big, len);
}

/* Used ring. */

static void test_used_ring_wraps(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	for (unsigned i = 0; i < 8; i++)
		rr_desc(&r->ring, i, BUFN(i), 4, F_WRITE, 0);
	/* Past the 16-bit wrap of both indices. */
	for (uint32_t n = 0; n < 70000; n++) {
		uint16_t head = (uint16_t)(n * 3 % 8);
		rr_avail(&r->ring, head);
		assert_int_equal(vq_pop(&r->q, &r->c), 1);
		assert_int_equal(r->c.head, head);
		assert_int_equal(vq_push(&r->q, head, n), 0);
		uint64_t e = USED + 4 + 8ULL * (n % 8);
		assert_int_equal(rd32(fake_at(&r->f, e, 4)), head);
		assert_int_equal(rd32(fake_at(&r->f, e + 4, 4)), n);
		assert_int_equal(rr_used_idx(&r->ring), (uint16_t)(n + 1));
	}
	assert_int_equal(r->q.last_avail, (uint16_t)70000);
	assert_false(r->q.broken);
}

static void test_push_bad_head(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	assert_int_equal(vq_push(&r->q, 8, 0), -EINVAL);
	assert_true(r->q.broken);
	assert_int_equal(rr_used_idx(&r->ring), 0);
}

/* Notifications. */

static void test_need_notify_flags(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	assert_int_equal(vq_push(&r->q, 0, 0), 0);
	assert_true(vq_need_notify(&r->q));
	rr_set_avail_flags(&r->ring, 1); /* NO_INTERRUPT */
	assert_int_equal(vq_push(&r->q, 0, 0), 0);
	assert_false(vq_need_notify(&r->q));
	/* used_event means nothing without EVENT_IDX. */
	rr_set_avail_flags(&r->ring, 0);
	rr_set_used_event(&r->ring, 100);
	assert_true(vq_need_notify(&r->q));
}

static void test_need_notify_event_idx(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, true);
	/* The first time always notifies. */
	assert_int_equal(vq_push(&r->q, 0, 0), 0);
	assert_true(vq_need_notify(&r->q));
	/* Driver wants an interrupt once used->idx passes 3. */
	rr_set_used_event(&r->ring, 3);
	assert_int_equal(vq_push(&r->q, 0, 0), 0); /* idx 2 */
	assert_false(vq_need_notify(&r->q));
	assert_int_equal(vq_push(&r->q, 0, 0), 0); /* 3 */
	assert_false(vq_need_notify(&r->q));
	assert_int_equal(vq_push(&r->q, 0, 0), 0); /* 4: crossed */
	assert_true(vq_need_notify(&r->q));
	/* Nothing new since. */
	assert_false(vq_need_notify(&r->q));
	/* Several at once crossing the event. */
	rr_set_used_event(&r->ring, 5);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vq_push(&r->q, 0, 0), 0); /* 7 */
	assert_true(vq_need_notify(&r->q));
	/* avail->flags is ignored with EVENT_IDX. */
	rr_set_avail_flags(&r->ring, 1);
	rr_set_used_event(&r->ring, 7);
	assert_int_equal(vq_push(&r->q, 0, 0), 0); /* 8 */
	assert_true(vq_need_notify(&r->q));
}

static void test_need_notify_event_idx_wrap(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, true);
	for (unsigned i = 0; i < 65530; i++)
		assert_int_equal(vq_push(&r->q, 1, 0), 0);
	assert_true(vq_need_notify(&r->q)); /* first: signalled_used = 65530 */
	rr_set_used_event(&r->ring, 65534);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vq_push(&r->q, 1, 0), 0); /* 65533 */
	assert_false(vq_need_notify(&r->q));
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(vq_push(&r->q, 1, 0), 0); /* wraps to 2 */
	assert_int_equal(rr_used_idx(&r->ring), 2);
	assert_true(vq_need_notify(&r->q));
	/* An event just behind the wrapped index is not crossed again. */
	rr_set_used_event(&r->ring, 65535);
	assert_int_equal(vq_push(&r->q, 1, 0), 0);
	assert_false(vq_need_notify(&r->q));
	/* 2^16 pushes without asking: must notify, whatever used_event says. */
	rr_set_used_event(&r->ring, 0x8000);
	for (unsigned i = 0; i < 65536; i++)
		assert_int_equal(vq_push(&r->q, 1, 0), 0);
	assert_true(vq_need_notify(&r->q));
}

static void test_notify_suppression_flags(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, false);
	rr_desc(&r->ring, 0, BUFN(0), 4, 0, 0);
	vq_disable_notify(&r->q);
	assert_int_equal(rr_used_flags(&r->ring), 1);
	assert_false(vq_enable_notify(&r->q));
	assert_int_equal(rr_used_flags(&r->ring), 0);
	vq_disable_notify(&r->q);
	rr_avail(&r->ring, 0);
	assert_true(vq_enable_notify(&r->q));
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_false(vq_enable_notify(&r->q));
}

static void test_notify_suppression_event_idx(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, true);
	for (unsigned i = 0; i < 8; i++)
		rr_desc(&r->ring, i, BUFN(i), 4, 0, 0);
	/* Enabled: each pop asks for a kick at the next index. */
	rr_avail(&r->ring, 0);
	rr_avail(&r->ring, 1);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(rr_avail_event(&r->ring), 1);
	/* Disabled: avail_event stays, used->flags stays 0. */
	vq_disable_notify(&r->q);
	assert_int_equal(rr_used_flags(&r->ring), 0);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(rr_avail_event(&r->ring), 1);
	/* Enabling publishes where we are and reports new work. */
	assert_false(vq_enable_notify(&r->q));
	assert_int_equal(rr_avail_event(&r->ring), 2);
	vq_disable_notify(&r->q);
	rr_avail(&r->ring, 2);
	assert_true(vq_enable_notify(&r->q));
	assert_int_equal(rr_avail_event(&r->ring), 2);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	assert_int_equal(rr_avail_event(&r->ring), 3);
}

static void test_broken_is_sticky(void **state)
{
	struct vq_rig *r = vq_rig_reset(state, 8, true);
	rr_desc(&r->ring, 0, BUFN(0), 4, 0, 0);
	rr_desc(&r->ring, 1, LOW, 4, 0, 0);
	rr_avail(&r->ring, 1);
	rr_avail(&r->ring, 0);
	expect_broken(r);
	const char *why = r->q.why;
	/* The valid chain behind it is not taken; nothing else works. */
	assert_int_equal(vq_pop(&r->q, &r->c), -EINVAL);
	assert_int_equal(vq_push(&r->q, 0, 0), -EINVAL);
	assert_false(vq_need_notify(&r->q));
	assert_false(vq_enable_notify(&r->q));
	vq_disable_notify(&r->q);
	assert_int_equal(rr_used_idx(&r->ring), 0);
	assert_int_equal(rr_used_flags(&r->ring), 0);
	assert_int_equal(r->q.last_avail, 0);
	assert_ptr_equal(r->q.why, why);
	/* vq_init starts over. */
	vq_rig_reset(state, 8, true);
	assert_false(r->q.broken);
	assert_null(r->q.why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_layouts),
		cmocka_unit_test(test_init_accepts_limits),
		cmocka_unit_test(test_simple_chain),
		cmocka_unit_test(test_hold_used),
		cmocka_unit_test(test_several_chains_in_order),
		cmocka_unit_test(test_chain_of_queue_size),
		cmocka_unit_test(test_zero_length_segments),
		cmocka_unit_test(test_cursor_read_write_skip),
		cmocka_unit_test(test_cursor_empty_parts),
		cmocka_unit_test(test_cursor_iov),
		cmocka_unit_test(test_indirect_valid),
		cmocka_unit_test(test_indirect_with_next),
		cmocka_unit_test(test_indirect_nested),
		cmocka_unit_test(test_indirect_bad_lengths),
		cmocka_unit_test(test_indirect_next_out_of_table),
		cmocka_unit_test(test_indirect_loop),
		cmocka_unit_test(test_descriptor_loop),
		cmocka_unit_test(test_next_and_head_out_of_range),
		cmocka_unit_test(test_avail_too_far_ahead),
		cmocka_unit_test(test_buffer_outside_memory),
		cmocka_unit_test(test_readable_after_writable),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_chain_over_4gib),
		cmocka_unit_test(test_used_ring_wraps),
		cmocka_unit_test(test_push_bad_head),
		cmocka_unit_test(test_need_notify_flags),
		cmocka_unit_test(test_need_notify_event_idx),
		cmocka_unit_test(test_need_notify_event_idx_wrap),
		cmocka_unit_test(test_notify_suppression_flags),
		cmocka_unit_test(test_notify_suppression_event_idx),
		cmocka_unit_test(test_broken_is_sticky),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
