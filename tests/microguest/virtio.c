/* SPDX-License-Identifier: MIT */
/* Micro-guest virtio-mmio driver and kvmclock, see virtio.h. */
#include "virtio.h"

#define MMIO_MAGIC	    0x000
#define MMIO_VERSION	    0x004
#define MMIO_DEVICE_ID	    0x008
#define MMIO_DEV_FEATURES   0x010
#define MMIO_DEV_FEAT_SEL   0x014
#define MMIO_DRV_FEATURES   0x020
#define MMIO_DRV_FEAT_SEL   0x024
#define MMIO_QUEUE_SEL	    0x030
#define MMIO_QUEUE_NUM_MAX  0x034
#define MMIO_QUEUE_NUM	    0x038
#define MMIO_QUEUE_READY    0x044
#define MMIO_QUEUE_NOTIFY   0x050
#define MMIO_STATUS	    0x070
#define MMIO_QUEUE_DESC_LO  0x080
#define MMIO_QUEUE_DESC_HI  0x084
#define MMIO_QUEUE_AVAIL_LO 0x090
#define MMIO_QUEUE_AVAIL_HI 0x094
#define MMIO_QUEUE_USED_LO  0x0a0
#define MMIO_QUEUE_USED_HI  0x0a4
#define MMIO_CONFIG	    0x100

#define MAGIC 0x74726976 /* "virt" */

#define ST_ACK	       1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8

#define MGV_NQUEUES 4 /* static ring memory for this many queues */

/* Ring memory: descriptor table, then the available ring, then (4-byte
 * aligned, at 2 KiB past the ring start: room for 256 entries) the used
 * ring. Page aligned so each queue's rings sit in their own pages. */
struct ring_mem {
	struct mgv_desc desc[MGV_QSIZE_MAX];
	uint16_t avail[3 + MGV_QSIZE_MAX + 1];
	uint8_t used[4 + 8 * MGV_QSIZE_MAX + 2] __attribute__((aligned(4096)));
} __attribute__((aligned(4096)));
static struct ring_mem mgv_rings[MGV_NQUEUES];
static unsigned mgv_nrings;

static bool tok_prefix(const struct mg_tok *t, const char *key)
{
	size_t n = mg_strnlen(key, 64);
	return t->key_len == n && !memcmp(t->key, key, n);
}

/* "SIZE@BASE:IRQ" (SIZE with K/M suffix, as Linux accepts). */
static bool parse_dev(const char *s, size_t len, struct mgv_dev *d)
{
	size_t at = 0, colon = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '@' && !at)
			at = i;
		else if (s[i] == ':' && at && !colon)
			colon = i;
	}
	if (!at || !colon)
		return false;
	uint64_t irq;
	if (!mg_parse_u64(s, at, true, &d->size) ||
	    !mg_parse_u64(s + at + 1, colon - at - 1, false, &d->base) ||
	    !mg_parse_u64(s + colon + 1, len - colon - 1, false, &irq))
		return false;
	d->irq = (uint32_t)irq;
	return d->size >= 0x200 && mg_phys_ok(d->base, d->size);
}

unsigned mgv_discover(const struct mg_boot *b, struct mgv_dev *devs, unsigned max)
{
	unsigned n = 0;
	if (!b->cmdline)
		return 0;
	const char *pos = b->cmdline, *end = b->cmdline + b->cmdline_len;
	struct mg_tok t;
	while (n < max && mg_cmdline_next(&pos, end, &t)) {
		if (!tok_prefix(&t, "virtio_mmio.device") || !t.val)
			continue;
		struct mgv_dev d = {0};
		if (!parse_dev(t.val, t.val_len, &d)) {
			mg_fail("virtio", "bad virtio_mmio.device entry");
			continue;
		}
		if (mgv_read32(d.base + MMIO_MAGIC) != MAGIC)
			continue;
		d.id = mgv_read32(d.base + MMIO_DEVICE_ID);
		devs[n++] = d;
	}
	return n;
}

int mgv_init(struct mgv_dev *d, uint64_t want)
{
	uint64_t b = d->base;
	if (mgv_read32(b + MMIO_VERSION) != 2) {
		mg_fail("virtio", "device at 0x%llx is not virtio-mmio version 2 (legacy)",
			(unsigned long long)b);
		return -1;
	}
	mgv_write32(b + MMIO_STATUS, 0);
	mgv_write32(b + MMIO_STATUS, ST_ACK);
	mgv_write32(b + MMIO_STATUS, ST_ACK | ST_DRIVER);
	uint64_t offered = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		mgv_write32(b + MMIO_DEV_FEAT_SEL, sel);
		offered |= (uint64_t)mgv_read32(b + MMIO_DEV_FEATURES) << (32 * sel);
	}
	if (!(offered & (1ull << MGV_F_VERSION_1))) {
		mg_fail("virtio", "device does not offer VERSION_1");
		return -1;
	}
	uint64_t f = offered & (want | (1ull << MGV_F_VERSION_1));
	for (uint32_t sel = 0; sel < 2; sel++) {
		mgv_write32(b + MMIO_DRV_FEAT_SEL, sel);
		mgv_write32(b + MMIO_DRV_FEATURES, (uint32_t)(f >> (32 * sel)));
	}
	mgv_write32(b + MMIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(mgv_read32(b + MMIO_STATUS) & ST_FEATURES_OK)) {
		mg_fail("virtio", "device refused features 0x%llx", (unsigned long long)f);
		return -1;
	}
	d->features = f;
	return 0;
}

int mgv_queue_setup(struct mgv_dev *d, struct mgv_queue *q, uint16_t index, uint16_t size)
{
	uint64_t b = d->base;
	if (mgv_nrings >= MGV_NQUEUES) {
		mg_fail("virtio", "out of ring memory");
		return -1;
	}
	mgv_write32(b + MMIO_QUEUE_SEL, index);
	uint32_t max = mgv_read32(b + MMIO_QUEUE_NUM_MAX);
	if (size > MGV_QSIZE_MAX)
		size = MGV_QSIZE_MAX;
	if (max < size)
		size = (uint16_t)max;
	/* a power of two, for the split ring's index arithmetic below */
	while (size & (size - 1))
		size &= (uint16_t)(size - 1);
	if (size < 4) {
		mg_fail("virtio", "queue %u: size %u too small", index, (unsigned)max);
		return -1;
	}
	struct ring_mem *r = &mgv_rings[mgv_nrings++];
	*q = (struct mgv_queue){.base = b,
				.index = index,
				.size = size,
				.event_idx = d->features & (1ull << MGV_F_EVENT_IDX),
				.desc = r->desc,
				.avail = r->avail,
				.used = r->used};
	memset(r, 0, sizeof(*r));
	mgv_write32(b + MMIO_QUEUE_NUM, size);
	uint64_t da = (uintptr_t)r->desc, aa = (uintptr_t)r->avail, ua = (uintptr_t)r->used;
	mgv_write32(b + MMIO_QUEUE_DESC_LO, (uint32_t)da);
	mgv_write32(b + MMIO_QUEUE_DESC_HI, (uint32_t)(da >> 32));
	mgv_write32(b + MMIO_QUEUE_AVAIL_LO, (uint32_t)aa);
	mgv_write32(b + MMIO_QUEUE_AVAIL_HI, (uint32_t)(aa >> 32));
	mgv_write32(b + MMIO_QUEUE_USED_LO, (uint32_t)ua);
	mgv_write32(b + MMIO_QUEUE_USED_HI, (uint32_t)(ua >> 32));
	if (q->event_idx)
		q->avail[3 + size] = 0x8000; /* used_event: out of reach, see mgv_used */
	else
		q->avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	mgv_write32(b + MMIO_QUEUE_READY, 1);
	return 0;
}

int mgv_driver_ok(struct mgv_dev *d)
{
	mgv_write32(d->base + MMIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	return 0;
}

uint32_t mgv_config32(const struct mgv_dev *d, uint32_t off)
{
	return mgv_read32(d->base + MMIO_CONFIG + off);
}

uint8_t mgv_config8(const struct mgv_dev *d, uint32_t off)
{
	return *(volatile uint8_t *)(uintptr_t)(d->base + MMIO_CONFIG + off);
}

#define barrier() __asm__ volatile("" ::: "memory")

void mgv_publish(struct mgv_queue *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
}

void mgv_kick(struct mgv_queue *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	if (old == now)
		return;
	barrier(); /* ring entries before the index (x86 keeps store order) */
	q->avail[1] = now;
	q->kicked_idx = now;
	/* our idx store before reading the device's suppression state */
	__asm__ volatile("mfence" ::: "memory");
	bool need;
	if (q->event_idx) {
		uint16_t ev = *(volatile uint16_t *)(q->used + 4 + 8 * q->size);
		need = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	} else {
		need = !(*(volatile uint16_t *)q->used & 1); /* VRING_USED_F_NO_NOTIFY */
	}
	if (need) {
		mgv_write32(q->base + MMIO_QUEUE_NOTIFY, q->index);
		q->kicks++;
	}
}

bool mgv_used(struct mgv_queue *q, uint32_t *id, uint32_t *len)
{
	uint16_t idx = *(volatile uint16_t *)(q->used + 2);
	if (idx == q->used_seen)
		return false;
	barrier(); /* the index before the entry (x86 keeps load order) */
	const volatile uint8_t *e = q->used + 4 + 8 * (q->used_seen & (q->size - 1));
	*id = *(const volatile uint32_t *)e;
	*len = *(const volatile uint32_t *)(e + 4);
	q->used_seen++;
	/* We poll: keep used_event half the index space ahead, so that the
	 * device never finds it crossed and never interrupts. */
	if (q->event_idx)
		q->avail[3 + q->size] = (uint16_t)(q->used_seen + 0x8000);
	return true;
}

/* ---- kvmclock ---- */
struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
};
static volatile struct pvclock mg_pvclock __attribute__((aligned(64)));

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

bool mg_clock_init(void)
{
	uint32_t a, b, c, d;
	cpuid(0x40000000, &a, &b, &c, &d);
	/* "KVMKVMKVM\0\0\0" */
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d)
		return false;
	cpuid(0x40000001, &a, &b, &c, &d);
	uint32_t msr;
	if (a & (1u << 3))
		msr = 0x4b564d01; /* MSR_KVM_SYSTEM_TIME_NEW */
	else if (a & 1u)
		msr = 0x12; /* MSR_KVM_SYSTEM_TIME */
	else
		return false;
	uint64_t v = (uintptr_t)&mg_pvclock | 1;
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
	return mg_pvclock.mul != 0;
}

uint64_t mg_clock_ns(void)
{
	uint32_t ver;
	uint64_t ns;
	do {
		ver = mg_pvclock.version;
		barrier();
		uint64_t delta = rdtsc() - mg_pvclock.tsc_timestamp;
		int8_t shift = mg_pvclock.shift;
		if (shift < 0)
			delta >>= -shift;
		else
			delta <<= shift;
		ns = mg_pvclock.system_time +
		     (uint64_t)(((unsigned __int128)delta * mg_pvclock.mul) >> 32);
		barrier();
	} while ((ver & 1) || ver != mg_pvclock.version);
	return ns;
}
