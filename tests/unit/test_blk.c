/* SPDX-License-Identifier: MIT */
/* virtio-blk request parsing against hand-built chains, including hostile
 * ones: no status byte, unaligned or out-of-range I/O, too many segments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/blk.h"

struct hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

static struct blk_geom geom = {
	.sectors = 2048, .ro = false, .discard = true, .write_zeroes = true, .id = "cvmm0-serial"};

/* A chain: header, then n_out_data readable buffers of `seg` bytes, then
 * n_in_data writable buffers of `seg` bytes and one status byte. */
struct fixture {
	struct hdr h;
	uint8_t data[200][512];
	uint8_t status;
	struct vq_chain c;
};

static struct vq_chain *mk(struct fixture *f, uint32_t type, uint64_t sector, unsigned n_out_data,
			   unsigned n_in_data, size_t seg)
{
	memset(&f->c, 0, sizeof(f->c));
	f->h = (struct hdr){type, 0, sector};
	f->status = 0xaa;
	unsigned i = 0;
	f->c.iov[i++] = (struct iovec){&f->h, sizeof(f->h)};
	f->c.out_bytes = sizeof(f->h);
	for (unsigned k = 0; k < n_out_data; k++, i++) {
		f->c.iov[i] = (struct iovec){f->data[k], seg};
		f->c.out_bytes += seg;
	}
	f->c.n_out = i;
	for (unsigned k = 0; k < n_in_data; k++, i++) {
		f->c.iov[i] = (struct iovec){f->data[n_out_data + k], seg};
		f->c.in_bytes += seg;
	}
	f->c.iov[i++] = (struct iovec){&f->status, 1};
	f->c.in_bytes += 1;
	f->c.n_in = i - f->c.n_out;
	f->c.head = 7;
	return &f->c;
}

static struct fixture *fx(void)
{
	static struct fixture f;
	return &f;
}

static void test_read_write(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, 8, 0, 2, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_READ);
	assert_int_equal(r.offset, 8 * 512);
	assert_int_equal(r.len, 1024);
	assert_int_equal(r.niov, 2);
	assert_int_equal(r.written, 1025);
	assert_ptr_equal(r.status_ptr, &f->status);
	assert_int_equal(r.head, 7);
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_OUT, 2047, 1, 0, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_WRITE);
	assert_int_equal(r.len, 512);
	assert_int_equal(r.written, 1);
	assert_ptr_equal(r.iov[0].iov_base, f->data[0]);
}

static void test_bounds(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	/* past the end, straddling the end, wrapping sector numbers */
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, 2048, 0, 1, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_DONE);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_OUT, 2047, 2, 0, 512), &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, UINT64_MAX - 1, 0, 2, 512), &r),
			 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	/* not a multiple of the sector size */
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, 0, 0, 1, 100), &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	/* more data segments than seg_max */
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, 0, 0, BLK_SEG_MAX + 1, 512), &r),
			 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_IN, 0, 0, BLK_SEG_MAX, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_READ);
	/* a header split short */
	mk(f, VIRTIO_BLK_T_IN, 0, 0, 1, 512);
	f->c.iov[0].iov_len = 8;
	f->c.out_bytes = 8;
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
}

static void test_no_status(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	mk(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 512);
	f->c.n_in = 0;
	f->c.in_bytes = 0;
	assert_int_equal(blk_parse(&geom, &f->c, &r), -EINVAL);
}

static void test_ro(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	struct blk_geom ro = geom;
	ro.ro = true;
	/* r is filled with a pattern first: each verdict is the parser's */
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(blk_parse(&ro, mk(f, VIRTIO_BLK_T_OUT, 0, 1, 0, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_DONE);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(blk_parse(&ro, mk(f, VIRTIO_BLK_T_DISCARD, 0, 0, 0, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_DONE);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(blk_parse(&ro, mk(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, 0, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_DONE);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_parse(&ro, mk(f, VIRTIO_BLK_T_IN, 0, 0, 1, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_READ);
	assert_int_equal(blk_parse(&ro, mk(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 512), &r), 0);
	assert_int_equal(r.op, BLK_OP_FLUSH);
}

static void test_get_id_and_unknown(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_GET_ID, 0, 0, 1, 20), &r), 0);
	assert_int_equal(r.op, BLK_OP_DONE);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.written, 21);
	assert_memory_equal(f->data[0], "cvmm0-serial", 12);
	/* a short buffer gets what fits */
	assert_int_equal(blk_parse(&geom, mk(f, VIRTIO_BLK_T_GET_ID, 0, 0, 1, 4), &r), 0);
	assert_int_equal(r.written, 5);
	assert_int_equal(blk_parse(&geom, mk(f, 99, 0, 0, 1, 512), &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
}

static void test_discard(void **state)
{
	(void)state;
	struct fixture *f = fx();
	struct blk_req r;
	struct {
		uint64_t sector;
		uint32_t num, flags;
	} rg = {16, 32, 0};
	mk(f, VIRTIO_BLK_T_DISCARD, 0, 1, 0, sizeof(rg));
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.op, BLK_OP_DISCARD);
	assert_int_equal(r.offset, 16 * 512);
	assert_int_equal(r.len, 32 * 512);
	/* write-zeroes with unmap is fine; discard with flags is not */
	f->h.type = VIRTIO_BLK_T_WRITE_ZEROES;
	rg.flags = 1;
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.op, BLK_OP_WRITE_ZEROES);
	assert_true(r.unmap);
	f->h.type = VIRTIO_BLK_T_DISCARD;
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	/* out of range, and two ranges (we advertise one) */
	rg = (typeof(rg)){2040, 16, 0};
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	mk(f, VIRTIO_BLK_T_DISCARD, 0, 2, 0, sizeof(rg));
	assert_int_equal(blk_parse(&geom, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	/* write-zeroes without unmap; more than the advertised maximum */
	struct blk_geom big = geom;
	big.sectors = 1ULL << 40;
	mk(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, sizeof(rg));
	rg = (typeof(rg)){0, BLK_MAX_WZ_SECTORS, 0};
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&big, &f->c, &r), 0);
	assert_int_equal(r.op, BLK_OP_WRITE_ZEROES);
	assert_false(r.unmap);
	rg.num = BLK_MAX_WZ_SECTORS + 1;
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&big, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	/* not offered (no hole can be punched in the disk): UNSUPP */
	struct blk_geom none = geom;
	none.discard = none.write_zeroes = false;
	rg = (typeof(rg)){0, 8, 0};
	memcpy(f->data[0], &rg, sizeof(rg));
	assert_int_equal(blk_parse(&none, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	f->h.type = VIRTIO_BLK_T_DISCARD;
	assert_int_equal(blk_parse(&none, &f->c, &r), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write),	   cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_no_status),	   cmocka_unit_test(test_ro),
		cmocka_unit_test(test_get_id_and_unknown), cmocka_unit_test(test_discard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
