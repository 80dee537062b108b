/* SPDX-License-Identifier: MIT */
/* ARM PrimeCell PL031 real-time clock (aarch64): a 32-bit seconds counter
 * that Linux's rtc-pl031 reads at boot to set the system clock. The time
 * is the host's (now()) plus the offset the guest's last load (RTCLR) set.
 * No alarm interrupt: the device tree node has no interrupts, so Linux
 * offers no wake alarm; RTCMR, RTCIMSC keep what the guest writes and the
 * raw interrupt status stays clear. */
#include "devices/legacy.h"

#include <errno.h>
#include <string.h>

enum {
	PL031_DR = 0x00,   /* data: the current time, read-only */
	PL031_MR = 0x04,   /* match */
	PL031_LR = 0x08,   /* load: sets the time */
	PL031_CR = 0x0c,   /* control: bit 0 starts the counter, cannot be cleared */
	PL031_IMSC = 0x10, /* interrupt mask */
	PL031_RIS = 0x14,  /* raw interrupt status */
	PL031_MIS = 0x18,  /* masked interrupt status */
	PL031_ICR = 0x1c,  /* interrupt clear, write-only */
	PL031_ID = 0xfe0,  /* PeriphID0-3, PCellID0-3: one byte per word */
};

/* AMBA ids Linux's amba bus matches: 0x00041031 (ARM's PL031), 0xb105f00d. */
static const uint8_t pl031_id[8] = {0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

static time_t pl031_host_now(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

int pl031_init(struct pl031 *p, time_t (*now)(void *), void *ctx)
{
	memset(p, 0, sizeof(*p));
	int e = pthread_mutex_init(&p->lock, NULL);
	if (e)
		return -e;
	p->now = now ? now : pl031_host_now;
	p->now_ctx = ctx;
	return 0;
}

void pl031_destroy(struct pl031 *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* The counter is 32 bits: it wraps in 2106, as the hardware's does. */
static uint32_t pl031_time(struct pl031 *p)
{
	return (uint32_t)((int64_t)p->now(p->now_ctx) + p->offset);
}

static uint32_t pl031_reg(struct pl031 *p, uint64_t off)
{
	switch (off) {
	case PL031_DR:
		return pl031_time(p);
	case PL031_MR:
		return p->mr;
	case PL031_LR:
		return p->lr;
	case PL031_CR:
		return 1; /* always running */
	case PL031_IMSC:
		return p->imsc;
	case PL031_RIS:
	case PL031_MIS:
		return 0; /* no alarm ever fires (see above) */
	default:
		if (off >= PL031_ID && off < PL031_ID + 32)
			return pl031_id[(off - PL031_ID) / 4];
		return 0;
	}
}

/* 32-bit registers at word offsets; other widths and offsets read 0 and
 * are ignored when written (the PrimeCell bus takes word accesses). */
static void pl031_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pl031 *p = dev;
	memset(data, 0, len);
	if (len != 4 || (off & 3))
		return;
	pthread_mutex_lock(&p->lock);
	uint32_t v = pl031_reg(p, off);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < 4; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void pl031_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pl031 *p = dev;
	if (len != 4 || (off & 3))
		return;
	uint32_t v = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
		     (uint32_t)data[3] << 24;
	pthread_mutex_lock(&p->lock);
	switch (off) {
	case PL031_LR:
		p->lr = v;
		p->offset = (int64_t)v - (int64_t)p->now(p->now_ctx);
		break;
	case PL031_MR:
		p->mr = v;
		break;
	case PL031_IMSC:
		p->imsc = v & 1;
		break;
	default: /* DR, RIS, MIS and the ids are read-only; CR stays 1; ICR: nothing pending */
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

const struct bus_ops pl031_ops = {pl031_read, pl031_write};
