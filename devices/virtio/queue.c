/* SPDX-License-Identifier: MIT */
/* Split virtqueue, device side (virtio 1.2, section 2.7). See queue.h.
 *
 * Memory ordering against the driver, which runs on other CPUs:
 * - avail->idx is read with acquire before the ring entries and
 *   descriptors it publishes;
 * - a used element is written before used->idx, which is stored with
 *   release;
 * - a full fence separates our used->idx store from the read of used_event
 *   (or avail->flags), and our avail_event (or used->flags) store from the
 *   re-read of avail->idx, so neither side can miss the other's update.
 * Every guest structure is read once into a local copy (no double fetch). */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "devices/virtio/queue.h"

#define VQ_DESC_SIZE	   sizeof(struct vring_desc)
#define VQ_CHAIN_MAX_BYTES 0xffffffffULL /* used.len is 32 bits */

/* Ring offsets (bytes): struct vring_avail and struct vring_used, whose
 * ring[size] is followed by used_event and avail_event (EVENT_IDX). */
#define AVAIL_FLAGS   offsetof(struct vring_avail, flags)
#define AVAIL_IDX     offsetof(struct vring_avail, idx)
#define AVAIL_RING(i) (offsetof(struct vring_avail, ring) + sizeof(__virtio16) * (uint64_t)(i))
#define USED_FLAGS    offsetof(struct vring_used, flags)
#define USED_IDX      offsetof(struct vring_used, idx)
#define USED_RING(i)                                                                               \
	(offsetof(struct vring_used, ring) + sizeof(struct vring_used_elem) * (uint64_t)(i))

/* A descriptor, in host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static int vq_fail(struct vq *q, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		q->why = why;
	}
	return -EINVAL;
}

static uint64_t avail_len(uint16_t size, bool event_idx)
{
	return AVAIL_RING(size) + (event_idx ? 2 : 0);
}

static uint64_t used_len(uint16_t size, bool event_idx)
{
	return USED_RING(size) + (event_idx ? 2 : 0);
}

/* Host views of the rings. vq_init checked that they translate; they are
 * translated again on each use so that nothing is cached across calls. */
static uint8_t *avail_ring(const struct vq *q)
{
	return gm_ptr(q->mem, q->avail_gpa, avail_len(q->size, q->event_idx));
}

static uint8_t *used_ring(const struct vq *q)
{
	return gm_ptr(q->mem, q->used_gpa, used_len(q->size, q->event_idx));
}

/* The used ring, to be written (an entry, the index, the flags, avail_event):
 * marked dirty for diff snapshots (gm_mark_dirty), as KVM does not see it. */
static uint8_t *used_ring_w(const struct vq *q)
{
	uint64_t len = used_len(q->size, q->event_idx);
	uint8_t *p = gm_ptr(q->mem, q->used_gpa, len);
	if (p)
		gm_mark_dirty(q->mem, q->used_gpa, len);
	return p;
}

/* 16/32-bit ring fields: the rings' alignment (2 and 4) makes these
 * naturally aligned. */
static uint16_t ld16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void st16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/* One fetch of a descriptor into a local copy. An indirect table need not
 * be aligned, hence memcpy; the compiler barrier keeps the compiler from
 * re-reading guest memory in place of the copy. */
static struct desc desc_load(const uint8_t *p)
{
	struct vring_desc raw;
	memcpy(&raw, p, sizeof(raw));
	__asm__ __volatile__("" ::: "memory");
	return (struct desc){
		.addr = le64toh(raw.addr),
		.len = le32toh(raw.len),
		.flags = le16toh(raw.flags),
		.next = le16toh(raw.next),
	};
}

int vq_init(struct vq *q, const struct guest_mem *m, uint16_t size, uint64_t desc_gpa,
	    uint64_t avail_gpa, uint64_t used_gpa, bool event_idx)
{
	memset(q, 0, sizeof(*q));
	q->mem = m;
	q->size = size;
	q->desc_gpa = desc_gpa;
	q->avail_gpa = avail_gpa;
	q->used_gpa = used_gpa;
	q->event_idx = event_idx;
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return vq_fail(q, "queue size is not a power of two <= 32768");
	if (desc_gpa % VRING_DESC_ALIGN_SIZE || avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    used_gpa % VRING_USED_ALIGN_SIZE)
		return vq_fail(q, "misaligned ring");
	if (!gm_ptr(m, desc_gpa, (uint64_t)size * VQ_DESC_SIZE))
		return vq_fail(q, "descriptor table outside guest memory");
	if (!avail_ring(q))
		return vq_fail(q, "available ring outside guest memory");
	if (!used_ring(q))
		return vq_fail(q, "used ring outside guest memory");
	return 0;
}

/* Appends a segment (len > 0) to the chain. */
static int chain_add(struct vq *q, struct vq_chain *c, const struct desc *d)
{
	if (c->n_out + c->n_in >= VQ_MAX_SEGS)
		return vq_fail(q, "descriptor chain has too many segments");
	void *p = gm_ptr(q->mem, d->addr, d->len);
	if (!p)
		return vq_fail(q, "descriptor buffer outside guest memory");
	if (c->out_bytes + c->in_bytes + d->len > VQ_CHAIN_MAX_BYTES)
		return vq_fail(q, "descriptor chain longer than 4 GiB");
	c->iov[c->n_out + c->n_in] = (struct iovec){p, d->len};
	if (d->flags & VRING_DESC_F_WRITE) {
		/* diff snapshots: the device may write it from now on (KVM
		 * does not see a device's writes); conservatively, whether it
		 * does or not */
		gm_mark_dirty(q->mem, d->addr, d->len);
		c->n_in++;
		c->in_bytes += d->len;
	} else {
		c->n_out++;
		c->out_bytes += d->len;
	}
	return 0;
}

/* Walks the chain at head (< size) into *c. Budget: `size` descriptors in
 * the direct table, then, if the chain ends in an indirect descriptor, as
 * many as that table holds. A loop exhausts the budget. */
static int chain_walk(struct vq *q, uint16_t head, struct vq_chain *c)
{
	const uint8_t *table = gm_ptr(q->mem, q->desc_gpa, (uint64_t)q->size * VQ_DESC_SIZE);
	if (!table)
		return vq_fail(q, "descriptor table outside guest memory");
	uint32_t n = q->size; /* entries in the current table */
	uint32_t budget = q->size;
	uint32_t i = head;
	bool indirect = false, writable = false;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		if (budget-- == 0)
			return vq_fail(q, "descriptor chain too long or looping");
		struct desc d = desc_load(table + (uint64_t)i * VQ_DESC_SIZE);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect)
				return vq_fail(q, "nested indirect descriptor table");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_fail(q, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % VQ_DESC_SIZE ||
			    d.len / VQ_DESC_SIZE > VQ_MAX_SIZE)
				return vq_fail(q, "bad indirect table length");
			table = gm_ptr(q->mem, d.addr, d.len);
			if (!table)
				return vq_fail(q, "indirect table outside guest memory");
			indirect = true;
			n = budget = d.len / VQ_DESC_SIZE;
			i = 0;
			continue;
		}
		/* The order holds for zero-length descriptors too. */
		if (d.flags & VRING_DESC_F_WRITE)
			writable = true;
		else if (writable)
			return vq_fail(q, "readable descriptor after a writable one");
		if (d.len) {
			int r = chain_add(q, c, &d);
			if (r < 0)
				return r;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vq_fail(q, "descriptor next index out of range");
		i = d.next;
	}
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	if (q->broken)
		return -EINVAL;
	if (q->paused)
		return 0;
	uint8_t *avail = avail_ring(q);
	if (!avail)
		return vq_fail(q, "available ring outside guest memory");
	uint16_t idx = ld16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	q->avail_seen = idx;
	uint16_t pending = (uint16_t)(idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return vq_fail(q, "avail index too far ahead");
	uint16_t head = ld16(avail + AVAIL_RING(q->last_avail & (q->size - 1)), __ATOMIC_RELAXED);
	if (head >= q->size)
		return vq_fail(q, "avail ring entry out of range");
	int r = chain_walk(q, head, c);
	if (r < 0)
		return r;
	q->last_avail++;
	if (q->event_idx && !q->notify_off) {
		uint8_t *used = used_ring_w(q);
		if (!used)
			return vq_fail(q, "used ring outside guest memory");
		st16(used + USED_RING(q->size), q->last_avail, __ATOMIC_RELAXED);
	}
	return 1;
}

void vq_unpop(struct vq *q, uint16_t n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

int vq_push(struct vq *q, uint16_t head, uint32_t written)
{
	if (q->broken)
		return -EINVAL;
	if (head >= q->size)
		return vq_fail(q, "pushed head out of range");
	uint8_t *used = used_ring_w(q);
	if (!used)
		return vq_fail(q, "used ring outside guest memory");
	uint8_t *e = used + USED_RING(q->used_idx & (q->size - 1));
	st32(e + offsetof(struct vring_used_elem, id), head);
	st32(e + offsetof(struct vring_used_elem, len), written);
	uint16_t old = q->used_idx++;
	if (!q->hold_used)
		st16(used + USED_IDX, q->used_idx, __ATOMIC_RELEASE);
	/* 2^16 pushes without a notification: signalled_used no longer tells
	 * where we were, so the next vq_need_notify must notify. */
	if ((uint16_t)(q->used_idx - q->signalled_used) < (uint16_t)(q->used_idx - old))
		q->signalled_valid = false;
	return 0;
}

void vq_hold_used(struct vq *q)
{
	q->hold_used = true;
}

void vq_publish_used(struct vq *q)
{
	if (!q->hold_used)
		return;
	q->hold_used = false;
	uint8_t *used = used_ring_w(q);
	if (q->broken || !used)
		return;
	/* the entries before the index */
	st16(used + USED_IDX, q->used_idx, __ATOMIC_RELEASE);
}

bool vq_need_notify(struct vq *q)
{
	if (q->broken)
		return false;
	uint8_t *avail = avail_ring(q);
	if (!avail) {
		vq_fail(q, "available ring outside guest memory");
		return false;
	}
	/* Our used->idx store before the driver's flags / used_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(ld16(avail + AVAIL_FLAGS, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t event = ld16(avail + AVAIL_RING(q->size), __ATOMIC_RELAXED);
	/* The spec's vring_need_event(): has used->idx just passed event? */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void vq_disable_notify(struct vq *q)
{
	if (q->broken || q->notify_off || q->paused)
		return;
	q->notify_off = true;
	/* With EVENT_IDX, avail_event simply stops advancing (used->flags
	 * must stay 0); without it, the flag asks the driver not to kick. */
	if (q->event_idx)
		return;
	uint8_t *used = used_ring_w(q);
	if (!used) {
		vq_fail(q, "used ring outside guest memory");
		return;
	}
	st16(used + USED_FLAGS, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

/* Asks the driver for a kick once it makes chain `idx` available (or for
 * every kick, without EVENT_IDX), then looks again: true if the available
 * index already moved past idx. */
static bool notify_from(struct vq *q, uint16_t idx)
{
	if (q->broken || q->paused)
		return false;
	if (q->polling) { /* kicks stay off: the poller looks again itself */
		uint8_t *avail = avail_ring(q);
		return avail && ld16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != idx;
	}
	q->notify_off = false;
	uint8_t *used = used_ring_w(q), *avail = avail_ring(q);
	if (!used || !avail) {
		vq_fail(q, "ring outside guest memory");
		return false;
	}
	if (q->event_idx)
		st16(used + USED_RING(q->size), idx, __ATOMIC_RELAXED);
	else
		st16(used + USED_FLAGS, 0, __ATOMIC_RELAXED);
	/* Our store before the re-read: a chain made available after it
	 * either shows here or comes with a kick. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != idx;
}

bool vq_enable_notify(struct vq *q)
{
	return notify_from(q, q->last_avail);
}

bool vq_enable_notify_more(struct vq *q)
{
	return notify_from(q, q->avail_seen);
}

void vq_poll_begin(struct vq *q)
{
	if (q->broken || q->paused || q->polling)
		return;
	q->polling = true;
	q->notify_off = true;
	uint8_t *used = used_ring_w(q);
	if (!used) {
		vq_fail(q, "used ring outside guest memory");
		return;
	}
	/* vring_need_event(event, new, old) is true when old <= event < new
	 * (mod 2^16): the driver's adds go from old >= last_avail onwards, so
	 * an event one behind last_avail is never crossed (until 2^16 chains
	 * later: at worst one kick). */
	if (q->event_idx)
		st16(used + USED_RING(q->size), (uint16_t)(q->last_avail - 1), __ATOMIC_RELAXED);
	else
		st16(used + USED_FLAGS, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool vq_poll_pending(struct vq *q)
{
	if (q->broken || q->paused)
		return false;
	uint8_t *avail = avail_ring(q);
	if (!avail)
		return false; /* vq_pop says why, if anyone pops */
	return ld16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != q->last_avail;
}

bool vq_poll_end(struct vq *q)
{
	q->polling = false;
	return vq_enable_notify(q);
}

/* Cursors. */

static void cursor_set(struct vq_cursor *cur, const struct vq_chain *c, unsigned seg, unsigned end)
{
	if (end > VQ_MAX_SEGS)
		end = VQ_MAX_SEGS;
	if (seg > end)
		seg = end;
	*cur = (struct vq_cursor){.c = c, .seg = seg, .end = end, .off = 0};
}

void vq_cursor_out(struct vq_cursor *cur, const struct vq_chain *c)
{
	cursor_set(cur, c, 0, c->n_out);
}

void vq_cursor_in(struct vq_cursor *cur, const struct vq_chain *c)
{
	cursor_set(cur, c, c->n_out, c->n_out + c->n_in);
}

/* Bytes left in the current segment; steps over exhausted ones. */
static size_t cursor_seg_left(struct vq_cursor *cur)
{
	while (cur->seg < cur->end) {
		size_t len = cur->c->iov[cur->seg].iov_len;
		if (cur->off < len)
			return len - cur->off;
		cur->seg++;
		cur->off = 0;
	}
	return 0;
}

/* Moves up to n bytes: to dst (read), from src (write), or nowhere. */
static size_t cursor_move(struct vq_cursor *cur, void *dst, const void *src, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t k = cursor_seg_left(cur);
		if (k == 0)
			break;
		if (k > n - done)
			k = n - done;
		uint8_t *g = (uint8_t *)cur->c->iov[cur->seg].iov_base + cur->off;
		if (dst)
			memcpy((uint8_t *)dst + done, g, k);
		else if (src)
			memcpy(g, (const uint8_t *)src + done, k);
		cur->off += k;
		done += k;
	}
	return done;
}

size_t vq_cursor_read(struct vq_cursor *cur, void *dst, size_t n)
{
	return cursor_move(cur, dst, NULL, n);
}

size_t vq_cursor_write(struct vq_cursor *cur, const void *src, size_t n)
{
	return cursor_move(cur, NULL, src, n);
}

size_t vq_cursor_skip(struct vq_cursor *cur, size_t n)
{
	return cursor_move(cur, NULL, NULL, n);
}

size_t vq_cursor_left(const struct vq_cursor *cur)
{
	size_t left = 0;
	for (unsigned s = cur->seg; s < cur->end; s++) {
		size_t len = cur->c->iov[s].iov_len;
		size_t off = s == cur->seg ? cur->off : 0;
		if (len > off)
			left += len - off;
	}
	return left;
}

int vq_cursor_iov(struct vq_cursor *cur, size_t n, struct iovec *iov, unsigned max)
{
	if (vq_cursor_left(cur) < n)
		return -ENOSPC;
	/* Count first so that a failure leaves the cursor where it was. */
	struct vq_cursor t = *cur;
	unsigned cnt = 0;
	for (size_t need = n; need; cnt++) {
		size_t k = cursor_seg_left(&t);
		if (k > need)
			k = need;
		t.off += k;
		need -= k;
	}
	if (cnt > max)
		return -ENOSPC;
	for (unsigned i = 0; i < cnt; i++) {
		size_t k = cursor_seg_left(cur);
		if (k > n)
			k = n;
		iov[i] = (struct iovec){(uint8_t *)cur->c->iov[cur->seg].iov_base + cur->off, k};
		cur->off += k;
		n -= k;
	}
	return (int)cnt;
}
