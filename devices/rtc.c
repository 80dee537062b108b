/* SPDX-License-Identifier: MIT */
#include "devices/legacy.h"

#include <errno.h>
#include <string.h>

enum {
	RTC_SEC = 0,
	RTC_MIN = 2,
	RTC_HOUR = 4,
	RTC_WDAY = 6,
	RTC_MDAY = 7,
	RTC_MON = 8,
	RTC_YEAR = 9,
	RTC_A = 10,
	RTC_B = 11,
	RTC_C = 12,
	RTC_D = 13,
	RTC_CENTURY = 0x32
};

#define B_24H 0x02
#define B_BIN 0x04
#define B_SET 0x80
#define D_VRT 0x80

static time_t rtc_host_now(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

int rtc_init(struct rtc *r, time_t (*now)(void *), void *ctx)
{
	memset(r, 0, sizeof(*r));
	/* glibc's first time conversion (gmtime_r, timegm) reads the time
	 * zone (/etc/localtime, with openat) once: do it here, on the main
	 * thread before the jail, not on a vCPU thread under its filter. */
	struct tm warm;
	time_t zero = 0;
	gmtime_r(&zero, &warm);
	int e = pthread_mutex_init(&r->lock, NULL);
	if (e)
		return -e;
	r->now = now ? now : rtc_host_now;
	r->now_ctx = ctx;
	r->cmos[RTC_A] = 0x26; /* 32.768 kHz base, 1024 Hz rate */
	r->cmos[RTC_B] = B_24H;
	r->cmos[RTC_D] = D_VRT;
	return 0;
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

static uint8_t to_reg(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_B] & B_BIN) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_reg(const struct rtc *r, uint8_t v)
{
	return (r->cmos[RTC_B] & B_BIN) ? v : (unsigned)((v >> 4) * 10 + (v & 0xf));
}

/* The guest's time now. The offset stays within RTC_MAX_OFFSET (what the
 * guest can set, what a restore accepts), but a time that cannot be
 * converted (a host clock far out) reads as the epoch, 1970-01-01
 * 00:00:00, a Thursday: never as what the stack held. */
static void rtc_snapshot(struct rtc *r, struct tm *tm)
{
	time_t t;
	if (__builtin_add_overflow(r->now(r->now_ctx), r->offset, &t) || !gmtime_r(&t, tm))
		*tm = (struct tm){.tm_mday = 1, .tm_year = 70, .tm_wday = 4};
}

static uint8_t rtc_read_reg(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	switch (idx) {
	case RTC_SEC:
	case RTC_MIN:
	case RTC_HOUR:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MON:
	case RTC_YEAR:
	case RTC_CENTURY:
		if (r->cmos[RTC_B] & B_SET)
			return r->cmos[idx]; /* frozen while the guest sets it */
		rtc_snapshot(r, &tm);
		break;
	case RTC_C: {
		uint8_t v = r->cmos[RTC_C];
		r->cmos[RTC_C] = 0; /* read clears the flags */
		return v;
	}
	default:
		return r->cmos[idx];
	}
	switch (idx) {
	case RTC_SEC:
		return to_reg(r, (unsigned)tm.tm_sec);
	case RTC_MIN:
		return to_reg(r, (unsigned)tm.tm_min);
	case RTC_HOUR:
		return to_reg(r, (unsigned)tm.tm_hour);
	case RTC_WDAY:
		return to_reg(r, (unsigned)tm.tm_wday + 1);
	case RTC_MDAY:
		return to_reg(r, (unsigned)tm.tm_mday);
	case RTC_MON:
		return to_reg(r, (unsigned)tm.tm_mon + 1);
	case RTC_YEAR:
		return to_reg(r, (unsigned)((1900 + tm.tm_year) % 100)); /* < 1900 too */
	default:
		return to_reg(r, (unsigned)(1900 + tm.tm_year) / 100); /* century */
	}
}

/* When the guest leaves SET mode, what it wrote becomes the new offset. */
static void rtc_commit(struct rtc *r)
{
	struct tm tm = {0};
	tm.tm_sec = (int)from_reg(r, r->cmos[RTC_SEC]);
	tm.tm_min = (int)from_reg(r, r->cmos[RTC_MIN]);
	tm.tm_hour = (int)from_reg(r, r->cmos[RTC_HOUR]);
	tm.tm_mday = (int)from_reg(r, r->cmos[RTC_MDAY]);
	tm.tm_mon = (int)from_reg(r, r->cmos[RTC_MON]) - 1;
	unsigned century = from_reg(r, r->cmos[RTC_CENTURY]);
	tm.tm_year =
		(int)(century ? century * 100 : 2000) + (int)from_reg(r, r->cmos[RTC_YEAR]) - 1900;
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		r->offset = (int64_t)t - (int64_t)r->now(r->now_ctx);
}

static void rtc_write_reg(struct rtc *r, uint8_t idx, uint8_t v)
{
	switch (idx) {
	case RTC_A:
		r->cmos[idx] = v & 0x7f; /* UIP is read-only */
		break;
	case RTC_B: {
		uint8_t old = r->cmos[RTC_B];
		if ((v & B_SET) && !(old & B_SET)) {
			/* Entering SET: freeze the current time into the registers. */
			for (uint8_t i = RTC_SEC; i <= RTC_YEAR; i++)
				r->cmos[i] = rtc_read_reg(r, i);
			r->cmos[RTC_CENTURY] = rtc_read_reg(r, RTC_CENTURY);
		}
		r->cmos[RTC_B] = v;
		if (!(v & B_SET) && (old & B_SET))
			rtc_commit(r);
		break;
	}
	case RTC_C:
	case RTC_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
	}
}

static void rtc_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct rtc *r = dev;
	memset(data, 0xff, len);
	if (len != 1 || off != 1)
		return;
	pthread_mutex_lock(&r->lock);
	data[0] = rtc_read_reg(r, r->index);
	pthread_mutex_unlock(&r->lock);
}

static void rtc_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct rtc *r = dev;
	if (len != 1)
		return;
	pthread_mutex_lock(&r->lock);
	if (off == 0)
		r->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
	else
		rtc_write_reg(r, r->index, data[0]);
	pthread_mutex_unlock(&r->lock);
}

const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};
