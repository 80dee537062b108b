/* SPDX-License-Identifier: MIT */
/* A device's restore from a hostile state (virtio_dev_restore and the
 * descriptor's restore): virtio-rng started as at boot with an inline
 * worker (worker.h: its real io_uring, run on this thread), the state a
 * well-formed file (so that the fields, not the checksum, are what is
 * fuzzed) of fields the input gives, the driver's ring indices in guest
 * memory the input's too. Input layout:
 *   [0]       bit 0: the device's own section ("virtio-rng") is there
 *   [1..4]    the available and used indices in guest memory (le16 each)
 *   then fields of section "virtio" 0: [tag lo, tag hi, n] and n % 17
 *   bytes
 * Invariants: a refused restore says why (and leaves the device to a
 * driver's reset); an accepted one serves from where the state said, the
 * used index never passing the available index. */
#include <stdint.h>

#include "core/snap.h"
#include "devices/rng.h"
#include "devices/virtio/worker.h"
#include "fuzz_common.h"

#define MEM_SIZE (1 * FZ_MiB)
#define DESC	 0x1000ULL
#define AVAIL	 0x2000ULL
#define USED	 0x3000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t zero_source(void *buf, size_t len)
{
	memset(buf, 0, len);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_have_uring())
		return 0; /* qemu-user (the cross build's replay): nothing to drive */
	uint8_t *host;
	const struct guest_mem *gm = fz_mem_at(0, MEM_SIZE, &host);
	memset(host, 0, MEM_SIZE);
	struct fz_in in = {data, size};
	uint8_t flags = fz_take(&in);
	uint8_t idx[4];
	for (unsigned i = 0; i < 4; i++)
		idx[i] = fz_take(&in);
	memcpy(host + AVAIL + 2, idx, 2);
	memcpy(host + USED + 2, idx + 2, 2);
	uint16_t avail = le_get16(idx), used0 = le_get16(idx + 2);

	struct snap_w w;
	snap_w_init(&w);
	snap_section(&w, "virtio", 0);
	while (in.left) {
		uint16_t tag = (uint16_t)(fz_take(&in) | fz_take(&in) << 8);
		uint8_t n = fz_take(&in) % 17, b[16];
		for (unsigned i = 0; i < n; i++)
			b[i] = fz_take(&in);
		snap_put(&w, tag, b, n);
	}
	if (flags & 1)
		snap_section(&w, "virtio-rng", 0);
	const uint8_t *file;
	size_t len;
	struct err e = {0};
	FZ_CHECK(snap_w_finish(&w, SNAP_ARCH_HOST, &file, &len, &e) == 0);

	void *g = NULL;
	struct rng_cfg cfg = {.source = zero_source};
	FZ_CHECK(rng_desc.open(&g, &cfg, 0, &e) == 0);
	struct virtio_dev *d = rng_desc.vdev(g);
	d->inline_workers = true;
	struct virtio_irqfds irq = {.config = -1};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = -1;
	FZ_CHECK(rng_desc.start(g, gm, &irq, &e) == 0);
	struct snap_r r;
	FZ_CHECK(snap_open(&r, file, len, SNAP_ARCH_HOST, &e) == 0);
	int rc = rng_desc.restore(g, &r, 0, &e);
	if (rc == 0)
		rc = virtio_dev_restore(d, &r, 0, &e);
	fz_check_err(rc, &e);
	if (rc == 0) {
		(void)vq_workers_run(d, 0);
		uint16_t used = le_get16(host + USED + 2);
		/* served from the restored index, never past the driver's */
		if (used != used0)
			FZ_CHECK((uint16_t)(used - used0) <= (uint16_t)(avail - used0));
	}
	rng_desc.destroy(g);
	snap_w_free(&w);
	return 0;
}
