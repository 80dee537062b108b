/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport (devices/virtio/mmio.c) driven by sequences of
 * register accesses, as the MMIO bus would dispatch them (inside the
 * 0x200-byte window, 1, 2, 4 or 8 bytes), against a fake device model and
 * a fake guest memory. Input layout:
 *   [0]      queues: 1 + b % VIRTIO_MAX_QUEUES
 *   [1]      bits 0-2 queue_max (from qmax[]); bits 3-4 what activate does:
 *            0 succeeds, 1 fails, 2 checks each ready queue with vq_init
 *            like a worker, 3 the same and then fails the way a worker does
 *            (virtio_fail); bit 5: the model resets in two steps
 *            (reset_start, reset_done: its workers take time to stop);
 *            bit 7: do not offer VERSION_1
 *   [2..9]   offered features (le64)
 *   [10..]   ops of 6 bytes [ctl, off, value le32]:
 *            ctl & 3       width 1 << (ctl & 3)
 *            ctl & 4       write
 *            ctl & 8       off indexes regs[] (else ctl bit 4 and off make
 *                          a raw offset 0..0x1ff)
 *            ctl >> 5 == 7 no access: a worker's doing instead, value bit 0
 *                          raises the used interrupt, bit 1 the config
 *                          interrupt, bit 2 NEEDS_RESET, bit 3 the
 *                          workers of a two-step reset are done
 *            an 8-byte value is the le32 twice
 * Invariants: the identification registers read right; narrow or unaligned
 * accesses below the config space do nothing and read 0; FEATURES_OK only
 * with a subset of the offered features that has VERSION_1; DRIVER_OK only
 * with FEATURES_OK after a successful activate; activate is never called
 * twice without a reset in between, and a device reset (status 0) resets
 * the model whenever activate was called since the last one; queue
 * configuration and driver features do not change while the model is
 * active; queue sizes stay <= queue_max; config accesses stay inside the
 * 256-byte config space. A two-step reset: activate never while the
 * workers are stopping; the status reads non-zero until they are done and
 * the reset completed, and any other status write changes nothing until
 * then; the reset completes (registers at their reset values) at the first
 * status access after they are done. */
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "fuzz_common.h"

#define MEM_SIZE   (1 * FZ_MiB)
#define CFG_BYTES  64
#define REG_STATUS 0x070
#define REG_CONFIG 0x100
#define OP_BYTES   6
#define VERSION_1  (1ULL << VIRTIO_F_VERSION_1)
#define FAKE_ID	   42

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct model {
	int mode;		  /* what activate does, [1] bits 3-4 */
	bool active;		  /* activate was called and no reset since */
	bool stopping, stop_done; /* two-step reset: started, its workers done */
	unsigned activations, resets;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES]; /* at activate */
	uint64_t driver_features;			 /* at activate */
	uint8_t config[CFG_BYTES];
};

static const uint16_t qmax[8] = {1, 2, 4, 16, 128, 256, 1024, 32768};

static const uint16_t regs[] = {
	0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038,
	0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4,
	0x0ac, 0x0b0, 0x0b4, 0x0b8, 0x0bc, 0x0fc, 0x100, 0x104, 0x108, 0x13c, 0x140,
};

static void fake_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct model *m = d->model;
	FZ_CHECK(off < 0x100 && len <= 0x100 - off);
	if (off < CFG_BYTES && len <= CFG_BYTES - off)
		memcpy(data, m->config + off, len);
}

static void fake_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, unsigned len)
{
	struct model *m = d->model;
	FZ_CHECK(off < 0x100 && len <= 0x100 - off);
	if (off < CFG_BYTES && len <= CFG_BYTES - off)
		memcpy(m->config + off, data, len);
}

static bool features_ok(const struct virtio_dev *d)
{
	return !(d->driver_features & ~d->features) && (d->driver_features & VERSION_1);
}

static int fake_activate(struct virtio_dev *d)
{
	struct model *m = d->model;
	FZ_CHECK(!m->active);	/* a second activate without a reset */
	FZ_CHECK(!m->stopping); /* its workers still stopping */
	FZ_CHECK(features_ok(d));
	m->active = true;
	m->activations++;
	memcpy(m->qcfg, d->qcfg, sizeof(m->qcfg));
	m->driver_features = d->driver_features;
	switch (m->mode) {
	case 0:
		return 0;
	case 1:
		return -EINVAL;
	default:
		/* Like the workers: each ready queue must make a valid vq. */
		for (unsigned i = 0; i < d->nqueues; i++) {
			const struct virtio_queue_cfg *c = &d->qcfg[i];
			struct vq q;
			if (!c->ready)
				continue;
			FZ_CHECK(c->num <= d->queue_max);
			if (vq_init(&q, d->mem, c->num, c->desc, c->avail, c->used,
				    d->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) < 0) {
				FZ_CHECK(q.broken && q.why);
				virtio_fail(d, q.why);
			}
		}
		if (m->mode == 3)
			virtio_fail(d, "fake worker failure");
		return atomic_load(&d->needs_reset) ? -EINVAL : 0;
	}
}

static void fake_reset(struct virtio_dev *d)
{
	struct model *m = d->model;
	FZ_CHECK(m->active); /* reset without activate */
	m->active = false;
	m->resets++;
}

static void fake_reset_start(struct virtio_dev *d)
{
	struct model *m = d->model;
	fake_reset(d);
	FZ_CHECK(!m->stopping);
	m->stopping = true;
	m->stop_done = false;
}

static bool fake_reset_done(struct virtio_dev *d, const struct timespec *until)
{
	struct model *m = d->model;
	(void)until;
	FZ_CHECK(m->stopping);
	if (!m->stop_done)
		return false;
	m->stopping = false;
	return true;
}

static const struct virtio_dev_ops fake_ops = {
	.device_id = FAKE_ID,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
};

static const struct virtio_dev_ops fake_ops_2step = {
	.device_id = FAKE_ID,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset_start = fake_reset_start,
	.reset_done = fake_reset_done,
};

/* The transport's state that an access may change. */
struct snap {
	uint64_t driver_features;
	uint32_t status, isr, config_generation, dev_sel, drv_sel, queue_sel;
	bool needs_reset, reset_pending, stopping;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
};

static void snap_take(struct snap *s, struct virtio_dev *d)
{
	memset(s, 0, sizeof(*s));
	s->driver_features = d->driver_features;
	s->status = d->status;
	s->isr = atomic_load(&d->isr);
	s->needs_reset = atomic_load(&d->needs_reset);
	s->reset_pending = d->reset_pending;
	s->stopping = d->stopping;
	s->config_generation = d->config_generation;
	s->dev_sel = d->dev_features_sel;
	s->drv_sel = d->drv_features_sel;
	s->queue_sel = d->queue_sel;
	memcpy(s->qcfg, d->qcfg, sizeof(s->qcfg));
}

static bool snap_same(struct snap *a, struct virtio_dev *d)
{
	struct snap b;
	snap_take(&b, d);
	return memcmp(a, &b, sizeof(b)) == 0;
}

static void check_read(struct virtio_dev *d, const struct snap *before, uint64_t off, unsigned len,
		       const uint8_t *data)
{
	if (off >= REG_CONFIG)
		return;
	uint32_t v = 0;
	if (len != 4 || (off & 3)) {
		for (unsigned i = 0; i < len; i++)
			FZ_CHECK(data[i] == 0);
		return;
	}
	memcpy(&v, data, 4);
	bool qok = before->queue_sel < d->nqueues;
	switch (off) {
	case 0x000:
		FZ_CHECK(v == 0x74726976);
		break;
	case 0x004:
		FZ_CHECK(v == 2);
		break;
	case 0x008:
		FZ_CHECK(v == FAKE_ID);
		break;
	case 0x00c:
		FZ_CHECK(v == VIRTIO_MMIO_VENDOR);
		break;
	case 0x010:
		FZ_CHECK(v == (before->dev_sel < 2
				       ? (uint32_t)(d->features >> (32 * before->dev_sel))
				       : 0));
		break;
	case 0x034:
		FZ_CHECK(v == (qok ? d->queue_max : 0));
		break;
	case 0x044:
		FZ_CHECK(v == (qok ? before->qcfg[before->queue_sel].ready : 0));
		break;
	case 0x060:
		FZ_CHECK(v == before->isr);
		break;
	case 0x070:
		if (before->reset_pending && d->reset_pending)
			FZ_CHECK(v != 0); /* still resetting */
		else if (before->reset_pending)
			FZ_CHECK(v == 0); /* this read completed it */
		else
			FZ_CHECK(v == (before->status |
				       (before->needs_reset ? VIRTIO_CONFIG_S_NEEDS_RESET : 0)));
		break;
	case 0x0fc:
		FZ_CHECK(v == before->config_generation);
		break;
	default:
		break;
	}
}

static void check_state(struct virtio_dev *d, const struct model *m)
{
	if (d->status & VIRTIO_CONFIG_S_FEATURES_OK)
		FZ_CHECK(features_ok(d));
	if ((d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->reset_pending) /* else the old status */
		FZ_CHECK((d->status & VIRTIO_CONFIG_S_FEATURES_OK) && m->active);
	if (m->active) {
		FZ_CHECK(memcmp(m->qcfg, d->qcfg, sizeof(m->qcfg)) == 0);
		FZ_CHECK(m->driver_features == d->driver_features);
	}
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		FZ_CHECK(d->qcfg[i].num <= d->queue_max);
	FZ_CHECK(m->activations - m->resets == (m->active ? 1u : 0u));
	FZ_CHECK(d->stopping == m->stopping);
	if (d->reset_pending)
		FZ_CHECK(d->stopping && d->status != 0);
}

static void check_reset(struct virtio_dev *d, const struct model *m)
{
	static const struct virtio_queue_cfg zero[VIRTIO_MAX_QUEUES];
	FZ_CHECK(!m->active);
	FZ_CHECK(d->status == 0 && d->driver_features == 0);
	FZ_CHECK(atomic_load(&d->isr) == 0 && !atomic_load(&d->needs_reset));
	FZ_CHECK(memcmp(d->qcfg, zero, sizeof(zero)) == 0);
	FZ_CHECK(d->dev_features_sel == 0 && d->drv_features_sel == 0 && d->queue_sel == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 10)
		return 0;
	struct model m;
	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < CFG_BYTES; i++)
		m.config[i] = (uint8_t)(i * 3 + 1);
	m.mode = (data[1] >> 3) & 3;

	struct virtio_dev d;
	memset(&d, 0, sizeof(d));
	if (pthread_mutex_init(&d.lock, NULL) != 0)
		abort();
	d.ops = data[1] & 0x20 ? &fake_ops_2step : &fake_ops;
	d.model = &m;
	d.mem = fz_mem(MEM_SIZE, 0);
	d.irqfd = -1; /* virtio_notify's write fails harmlessly */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d.vq_irqfd[q] = -1;
	d.nqueues = 1 + data[0] % VIRTIO_MAX_QUEUES;
	d.queue_max = qmax[data[1] & 7];
	d.features = fz_rd64(data + 2);
	if (data[1] & 0x80)
		d.features &= ~VERSION_1;
	else
		d.features |= VERSION_1;

	for (size_t at = 10; at + OP_BYTES <= size; at += OP_BYTES) {
		uint8_t ctl = data[at];
		uint32_t v = fz_rd32(data + at + 2);
		if (ctl >> 5 == 7) {
			if (v & 1)
				atomic_fetch_or(&d.isr, VIRTIO_INT_USED);
			if (v & 2)
				atomic_fetch_or(&d.isr, VIRTIO_INT_CONFIG);
			if (v & 4)
				atomic_store(&d.needs_reset, true);
			if (v & 8)
				m.stop_done = true;
			continue;
		}
		unsigned len = 1u << (ctl & 3);
		uint64_t off = ctl & 8 ? regs[data[at + 1] % (sizeof(regs) / sizeof(regs[0]))]
				       : (uint64_t)(ctl & 0x10) << 4 | data[at + 1];
		if (off + len > VIRTIO_MMIO_SIZE)
			continue; /* the bus does not dispatch it */
		uint8_t buf[8];
		memcpy(buf, &v, 4);
		memcpy(buf + 4, &v, 4);
		struct snap before;
		snap_take(&before, &d);
		bool status = off == REG_STATUS && len == 4;
		if (ctl & 4) {
			virtio_mmio_ops.write(&d, off, buf, len);
			if (off < REG_CONFIG && (len != 4 || (off & 3)))
				FZ_CHECK(snap_same(&before, &d));
			if (status && v && before.reset_pending && d.reset_pending)
				FZ_CHECK(snap_same(&before, &d)); /* ignored while resetting */
			if (status && v == 0 && !d.reset_pending)
				check_reset(&d, &m);
			if (status && v == 0 && d.reset_pending)
				FZ_CHECK(m.stopping && !m.stop_done);
		} else {
			virtio_mmio_ops.read(&d, off, buf, len);
			check_read(&d, &before, off, len, buf);
			if (status && before.reset_pending && !d.reset_pending)
				check_reset(&d, &m); /* this read completed the reset */
			else if (off < REG_CONFIG)
				FZ_CHECK(snap_same(&before, &d)); /* reads have no side effects */
		}
		check_state(&d, &m);
	}
	/* The VMM's teardown: a device reset, its workers done at last. */
	virtio_mmio_ops.write(&d, REG_STATUS, (const uint8_t[4]){0}, 4);
	if (d.reset_pending) {
		m.stop_done = true;
		uint8_t st[4];
		virtio_mmio_ops.read(&d, REG_STATUS, st, 4);
		FZ_CHECK(fz_rd32(st) == 0);
	}
	check_reset(&d, &m);
	check_state(&d, &m);
	pthread_mutex_destroy(&d.lock);
	return 0;
}
