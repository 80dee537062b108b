/* SPDX-License-Identifier: MIT */
/* Snapshot state of the small platform devices (docs/snapshot.md): the
 * UART, the CMOS RTC, the i8042 and the PL031. Each writes one section of
 * its own; a restore checks every value against what the device could
 * hold (the state file is untrusted) and changes nothing on failure. The
 * interrupt line levels themselves are the interrupt controller's state
 * (the arch saves it); a device only remembers what it last drove. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/snap.h"
#include "devices/legacy.h"
#include "devices/serial.h"

enum {
	SER_REGS = 1, /* ier lcr mcr scr dll dlm fcr */
	SER_FLAGS,    /* thre_pending, irq_level */
	SER_RX,	      /* the receive FIFO's bytes, oldest first */
};

void serial_save(struct serial *s, struct snap_w *w, uint32_t inst)
{
	pthread_mutex_lock(&s->lock);
	uint8_t regs[7] = {s->ier, s->lcr, s->mcr, s->scr, s->dll, s->dlm, s->fcr};
	uint8_t flags[2] = {s->thre_pending, s->irq_level};
	uint8_t rx[SERIAL_FIFO];
	for (unsigned i = 0; i < s->rx_count; i++)
		rx[i] = s->rx[(s->rx_head + i) % SERIAL_FIFO];
	snap_section(w, "serial", inst);
	snap_put(w, SER_REGS, regs, sizeof(regs));
	snap_put(w, SER_FLAGS, flags, sizeof(flags));
	snap_put(w, SER_RX, rx, s->rx_count);
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct snap_sec sec;
	if (snap_find(r, "serial", inst, &sec) < 0)
		return err_set(e, EINVAL, "snapshot has no UART state");
	static const uint16_t known[] = {SER_REGS, SER_FLAGS, SER_RX};
	uint8_t regs[7], flags[2];
	size_t n;
	int ret = snap_check_known(&sec, known, 3, e);
	if (!ret)
		ret = snap_get_exact(&sec, SER_REGS, regs, sizeof(regs), e);
	if (!ret)
		ret = snap_get_exact(&sec, SER_FLAGS, flags, sizeof(flags), e);
	if (ret < 0)
		return ret;
	const uint8_t *rx = snap_get(&sec, SER_RX, &n);
	if (!rx || n > SERIAL_FIFO || flags[0] > 1 || flags[1] > 1)
		return err_set(e, EINVAL, "snapshot's UART state is invalid");
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0] & 0x0f;
	s->lcr = regs[1];
	s->mcr = regs[2] & 0x1f;
	s->scr = regs[3];
	s->dll = regs[4];
	s->dlm = regs[5];
	s->fcr = regs[6];
	s->thre_pending = flags[0];
	s->irq_level = flags[1];
	memcpy(s->rx, rx, n);
	s->rx_head = 0;
	s->rx_count = (unsigned)n;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* A clock offset read from a state file: within RTC_MAX_OFFSET. */
static bool clock_offset_ok(uint64_t off)
{
	return (int64_t)off >= -RTC_MAX_OFFSET && (int64_t)off <= RTC_MAX_OFFSET;
}

enum { RTC_INDEX = 1, RTC_CMOS, RTC_OFFSET };

void rtc_save(struct rtc *r, struct snap_w *w, uint32_t inst)
{
	pthread_mutex_lock(&r->lock);
	snap_section(w, "rtc", inst);
	snap_put(w, RTC_INDEX, &r->index, 1);
	snap_put(w, RTC_CMOS, r->cmos, sizeof(r->cmos));
	snap_u64(w, RTC_OFFSET, (uint64_t)r->offset);
	pthread_mutex_unlock(&r->lock);
}

int rtc_restore(struct rtc *r, const struct snap_r *sr, uint32_t inst, struct err *e)
{
	struct snap_sec sec;
	if (snap_find(sr, "rtc", inst, &sec) < 0)
		return err_set(e, EINVAL, "snapshot has no RTC state");
	static const uint16_t known[] = {RTC_INDEX, RTC_CMOS, RTC_OFFSET};
	uint8_t index, cmos[sizeof(r->cmos)];
	uint64_t off;
	int ret = snap_check_known(&sec, known, 3, e);
	if (!ret)
		ret = snap_get_exact(&sec, RTC_INDEX, &index, 1, e);
	if (!ret)
		ret = snap_get_exact(&sec, RTC_CMOS, cmos, sizeof(cmos), e);
	if (!ret)
		ret = snap_get_u64(&sec, RTC_OFFSET, &off, e);
	if (ret < 0)
		return ret;
	if (!clock_offset_ok(off))
		return err_set(e, EINVAL,
			       "snapshot's RTC offset (%lld s) is out of range (2^40 s either way)",
			       (long long)off);
	pthread_mutex_lock(&r->lock);
	r->index = index & 0x7f;
	memcpy(r->cmos, cmos, sizeof(cmos));
	r->offset = (int64_t)off; /* the guest's offset from the host clock */
	pthread_mutex_unlock(&r->lock);
	return 0;
}

enum { KBD_REGS = 1, KBD_BUF };

void i8042_save(struct i8042 *k, struct snap_w *w, uint32_t inst)
{
	pthread_mutex_lock(&k->lock);
	uint8_t regs[3] = {k->ctr, k->outp, k->pending_cmd};
	uint8_t buf[I8042_BUF_SIZE];
	for (unsigned i = 0; i < k->count; i++)
		buf[i] = k->buf[(k->head + i) % I8042_BUF_SIZE];
	snap_section(w, "i8042", inst);
	snap_put(w, KBD_REGS, regs, sizeof(regs));
	snap_put(w, KBD_BUF, buf, k->count);
	pthread_mutex_unlock(&k->lock);
}

int i8042_restore(struct i8042 *k, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct snap_sec sec;
	if (snap_find(r, "i8042", inst, &sec) < 0)
		return err_set(e, EINVAL, "snapshot has no i8042 state");
	static const uint16_t known[] = {KBD_REGS, KBD_BUF};
	uint8_t regs[3];
	size_t n;
	int ret = snap_check_known(&sec, known, 2, e);
	if (!ret)
		ret = snap_get_exact(&sec, KBD_REGS, regs, sizeof(regs), e);
	if (ret < 0)
		return ret;
	const uint8_t *buf = snap_get(&sec, KBD_BUF, &n);
	if (!buf || n > I8042_BUF_SIZE)
		return err_set(e, EINVAL, "snapshot's i8042 state is invalid");
	pthread_mutex_lock(&k->lock);
	k->ctr = regs[0];
	k->outp = regs[1] | 1; /* the reset line stays high: a restore is no reset */
	k->pending_cmd = regs[2];
	memcpy(k->buf, buf, n);
	k->head = 0;
	k->count = (unsigned)n;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

enum { PL_OFFSET = 1, PL_REGS };

void pl031_save(struct pl031 *p, struct snap_w *w, uint32_t inst)
{
	pthread_mutex_lock(&p->lock);
	uint32_t regs[3] = {p->lr, p->mr, p->imsc};
	snap_section(w, "pl031", inst);
	snap_u64(w, PL_OFFSET, (uint64_t)p->offset);
	snap_put(w, PL_REGS, regs, sizeof(regs));
	pthread_mutex_unlock(&p->lock);
}

int pl031_restore(struct pl031 *p, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct snap_sec sec;
	if (snap_find(r, "pl031", inst, &sec) < 0)
		return err_set(e, EINVAL, "snapshot has no PL031 state");
	static const uint16_t known[] = {PL_OFFSET, PL_REGS};
	uint64_t off;
	uint32_t regs[3];
	int ret = snap_check_known(&sec, known, 2, e);
	if (!ret)
		ret = snap_get_u64(&sec, PL_OFFSET, &off, e);
	if (!ret)
		ret = snap_get_exact(&sec, PL_REGS, regs, sizeof(regs), e);
	if (ret < 0)
		return ret;
	if (!clock_offset_ok(off))
		return err_set(
			e, EINVAL,
			"snapshot's PL031 offset (%lld s) is out of range (2^40 s either way)",
			(long long)off);
	pthread_mutex_lock(&p->lock);
	p->offset = (int64_t)off;
	p->lr = regs[0];
	p->mr = regs[1];
	p->imsc = regs[2] & 1;
	pthread_mutex_unlock(&p->lock);
	return 0;
}
