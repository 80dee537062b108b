/* SPDX-License-Identifier: MIT */
/* The cmocka fixture of the tests that drive a split queue by hand (the
 * virtqueue itself, the net and vsock models): a fake guest memory, the
 * driver's side of one queue (the ring rig, tests/rig/ring.h) at
 * VQR_DESC/AVAIL/USED, the device's side (struct vq), a chain to pop into. */
#ifndef CVMM_TEST_VQ_RIG_H
#define CVMM_TEST_VQ_RIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "fake_mem.h"
#include "tests/rig/ring.h"

#define VQR_DESC  0x1000ULL
#define VQR_AVAIL 0x3000ULL
#define VQR_USED  0x4000ULL

struct vq_rig {
	struct fake_mem f;
	uint64_t low;	     /* the size of memory below 4 GiB */
	struct rr_ring ring; /* the driver's side */
	struct vq q;	     /* the device's */
	struct vq_chain c;
};

/* cmocka's setup: memory [0, low) and, if high, [4 GiB, 4 GiB + high). */
static inline int vq_rig_setup(void **state, uint64_t low, uint64_t high)
{
	struct vq_rig *r = calloc(1, sizeof(*r));
	if (!r || (high ? fake_mem_init2(&r->f, low, high) : fake_mem_init(&r->f, low)) < 0) {
		free(r);
		return -1;
	}
	r->low = low;
	*state = r;
	return 0;
}

static inline int vq_rig_teardown(void **state)
{
	struct vq_rig *r = *state;
	fake_mem_free(&r->f);
	free(r);
	return 0;
}

/* The fixture the model tests share: 1 MiB, a queue of 64, no EVENT_IDX. */
#define VQR_MEM	  (1 * MiB)
#define VQR_QSIZE 64

static inline int vq_rig_setup_1m(void **state)
{
	return vq_rig_setup(state, VQR_MEM, 0);
}

/* A fresh queue of `size`: memory below 4 GiB zeroed, both sides anew. */
static inline struct vq_rig *vq_rig_reset(void **state, uint16_t size, bool event_idx)
{
	struct vq_rig *r = *state;
	memset(fake_at(&r->f, 0, r->low), 0, r->low);
	rr_set(&r->ring, &r->f.m, VQR_DESC, VQR_AVAIL, VQR_USED, size);
	assert_int_equal(vq_init(&r->q, &r->f.m, size, VQR_DESC, VQR_AVAIL, VQR_USED, event_idx),
			 0);
	return r;
}

/* A test on that fixture. */
#define VQ_RIG_TEST(f) cmocka_unit_test_setup_teardown(f, vq_rig_setup_1m, vq_rig_teardown)

/* A fresh queue of VQR_QSIZE, without EVENT_IDX. */
static inline struct vq_rig *vq_rig_fresh(void **state)
{
	return vq_rig_reset(state, VQR_QSIZE, false);
}

#endif
