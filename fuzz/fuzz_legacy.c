/* SPDX-License-Identifier: MIT */
/* Fuzzes the legacy devices a guest drives with port I/O: 8250, CMOS RTC,
 * i8042, the ACPI PM registers and the debug exit port, as the PIO bus
 * dispatches to them (offset inside each device's window, 1, 2 or 4
 * bytes). The input is a sequence of 3-byte ops [op, offset, value]:
 *   op & 7         0 serial, 1 rtc, 2 i8042, 3 acpi_pm, 4 host input to the
 *                  UART (offset and value as two bytes), 5 the RTC's clock
 *                  moves by offset | value << 8 seconds, 6 the guest sets
 *                  the RTC's time (values from offset and value) and reads
 *                  it back, 7 the debug exit port
 *   op & 8         write (else read)
 *   (op >> 4) & 3  width 1 << n (8 becomes 4)
 *   op & 0x40      instead: an MMIO access to aarch64's PL031 RTC at word
 *                  offset `offset` (ids from 0xfe0 with offset's top bit),
 *                  value offset, value, 0x5a, 0xa5
 *   op & 0x80      with op & 7 == 2 (and no 0x40): instead the host types
 *                  Ctrl-Alt-Del on the i8042's keyboard
 * Invariants: the UART's receive FIFO holds what a model FIFO holds (host
 * input, loopback) and gives it back in order; LSR.DR says whether it has
 * data; the interrupt line follows the enabled conditions; accesses that
 * are not 1 byte wide change nothing; the RTC's time registers hold valid
 * BCD or binary values, register A never shows UIP, C clears on read, D
 * says the battery is good, and a time the guest sets reads back as set;
 * system events are poweroff or reset with a reason; the PL031 counts the
 * clock plus what the guest last loaded, runs, raises nothing and keeps
 * its AMBA ids. The i8042: its status tells whether a byte waits and
 * whether a command waits for its data; a read of 0x60 returns the
 * buffer's head (0 when empty); IRQ 1 only ever pulses, only with the
 * keyboard interrupt enabled, and only for a keyboard byte (an answer to a
 * byte for the keyboard, Ctrl-Alt-Del, one left behind by a read);
 * Ctrl-Alt-Del adds its four set 2 bytes whole or, with fewer than four
 * free, nothing; the machine resets exactly on a pulse of the reset line
 * (0xf0-0xfe even) or an output port written with bit 0 low. Bytes the
 * UART sends go nowhere. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/legacy.h"
#include "devices/serial.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct model {
	int line;		  /* the UART's interrupt line as the device last set it */
	int kbd_line, kbd_pulses; /* the i8042's IRQ 1 */
	int resets;		  /* the i8042's reset events */
	time_t now;
	uint8_t fifo[SERIAL_FIFO];
	unsigned head, count;
	int exit_code;
};

static void irq_set(void *ctx, uint32_t gsi, int level)
{
	struct model *m = ctx;
	FZ_CHECK(gsi == 4 && (level == 0 || level == 1));
	FZ_CHECK(level != m->line); /* only changes are signalled */
	m->line = level;
}

static void sys_ev(void *ctx, enum sys_event ev, const char *why)
{
	(void)ctx;
	FZ_CHECK((ev == SYS_EVENT_POWEROFF || ev == SYS_EVENT_RESET) && why && why[0]);
}

static void kbd_irq_set(void *ctx, uint32_t gsi, int level)
{
	struct model *m = ctx;
	FZ_CHECK(gsi == 1 && (level == 0 || level == 1));
	FZ_CHECK(level != m->kbd_line); /* a pulse: up, then down */
	m->kbd_line = level;
	m->kbd_pulses += level;
}

static void kbd_sys_ev(void *ctx, enum sys_event ev, const char *why)
{
	struct model *m = ctx;
	FZ_CHECK(ev == SYS_EVENT_RESET && why && why[0]);
	m->resets++;
}

static void debug_exit(void *ctx, int code)
{
	struct model *m = ctx;
	m->exit_code = code;
}

static time_t clock_now(void *ctx)
{
	const struct model *m = ctx;
	return m->now;
}

static void fifo_push(struct model *m, uint8_t c)
{
	if (m->count < SERIAL_FIFO)
		m->fifo[(m->head + m->count++) % SERIAL_FIFO] = c;
}

/* ---- 8250 ----------------------------------------------------------------- */

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR	 0x01

static void serial_check(const struct serial *s, const struct model *m)
{
	FZ_CHECK(s->rx_count == m->count && s->rx_count <= SERIAL_FIFO);
	bool level = ((s->ier & 1) && s->rx_count) || ((s->ier & 2) && s->thre_pending);
	FZ_CHECK(s->irq_level == level && m->line == (int)level);
	FZ_CHECK(!(s->ier & 0xf0) && !(s->mcr & 0xe0));
}

static void serial_op(struct serial *s, struct model *m, bool wr, uint8_t off, uint8_t *val,
		      unsigned len)
{
	struct serial before = *s;
	if (wr) {
		bool tx = off == 0 && !(s->lcr & LCR_DLAB);
		bool loop = s->mcr & MCR_LOOP;
		serial_ops.write(s, off, val, len);
		if (len == 1 && tx && loop)
			fifo_push(m, val[0]);
		if (len == 1 && off == 2 && (val[0] & 2))
			m->count = 0; /* FCR: clear the receive FIFO */
	} else {
		serial_ops.read(s, off, val, len);
		if (len == 1 && off == 0 && !(before.lcr & LCR_DLAB)) {
			uint8_t want = 0;
			if (m->count) {
				want = m->fifo[m->head];
				m->head = (m->head + 1) % SERIAL_FIFO;
				m->count--;
			}
			FZ_CHECK(val[0] == want);
		}
		if (len == 1 && off == 5)
			FZ_CHECK(!!(val[0] & LSR_DR) == (before.rx_count > 0));
		if (len == 1 && off == 7)
			FZ_CHECK(val[0] == before.scr);
	}
	if (len != 1) {
		/* Ignored: all-ones reads, no state change. */
		for (unsigned i = 0; !wr && i < len; i++)
			FZ_CHECK(val[i] == 0xff);
		FZ_CHECK(memcmp(&before.ier, &s->ier, sizeof(*s) - offsetof(struct serial, ier)) ==
			 0);
	}
	serial_check(s, m);
}

/* ---- RTC ------------------------------------------------------------------ */

enum {
	RTC_SEC = 0,
	RTC_MIN = 2,
	RTC_HOUR = 4,
	RTC_MDAY = 7,
	RTC_MON = 8,
	RTC_YEAR = 9,
	RTC_A = 10,
	RTC_B = 11,
	RTC_C = 12,
	RTC_D = 13,
	RTC_CENTURY = 0x32
};
#define B_BIN 0x04
#define B_SET 0x80

static uint8_t rtc_get(struct rtc *r, uint8_t idx)
{
	uint8_t v = idx;
	rtc_ops.write(r, 0, &v, 1);
	rtc_ops.read(r, 1, &v, 1);
	return v;
}

static void rtc_put(struct rtc *r, uint8_t idx, uint8_t v)
{
	rtc_ops.write(r, 0, &idx, 1);
	rtc_ops.write(r, 1, &v, 1);
}

static unsigned rtc_val(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_B] & B_BIN)
		return v;
	FZ_CHECK((v & 0xf) <= 9 && (v >> 4) <= 9); /* valid BCD */
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t rtc_enc(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_B] & B_BIN) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* After a guest access: what reading the registers must show. */
static void rtc_check(struct rtc *r)
{
	uint8_t idx = r->index;
	FZ_CHECK(idx < 128 && !(r->cmos[RTC_A] & 0x80) && r->cmos[RTC_D] == 0x80);
	if (!(r->cmos[RTC_B] & B_SET)) {
		FZ_CHECK(rtc_val(r, rtc_get(r, RTC_SEC)) <= 59);
		FZ_CHECK(rtc_val(r, rtc_get(r, RTC_MIN)) <= 59);
		FZ_CHECK(rtc_val(r, rtc_get(r, RTC_HOUR)) <= 23);
		unsigned mday = rtc_val(r, rtc_get(r, RTC_MDAY));
		unsigned mon = rtc_val(r, rtc_get(r, RTC_MON));
		FZ_CHECK(mday >= 1 && mday <= 31 && mon >= 1 && mon <= 12);
		FZ_CHECK(rtc_val(r, rtc_get(r, RTC_YEAR)) <= 99);
	}
	FZ_CHECK(rtc_get(r, RTC_D) == 0x80);
	uint8_t c = rtc_get(r, RTC_C);
	(void)c;
	FZ_CHECK(rtc_get(r, RTC_C) == 0); /* read clears */
	uint8_t back = idx;
	rtc_ops.write(r, 0, &back, 1);
}

/* The guest sets a valid time and reads it back, the clock standing. */
static void rtc_set_time(struct rtc *r, uint8_t a, uint8_t b)
{
	unsigned t[6] = {a % 60,     b % 60,	 (unsigned)(a ^ b) % 24,
			 1 + b % 28, 1 + a % 12, (unsigned)(a + b) % 100};
	static const uint8_t reg[6] = {RTC_SEC, RTC_MIN, RTC_HOUR, RTC_MDAY, RTC_MON, RTC_YEAR};
	unsigned century = 19 + (a >> 6) % 3;
	uint8_t old_b = rtc_get(r, RTC_B);
	rtc_put(r, RTC_B, (uint8_t)((old_b | B_SET) & ~0x70)); /* no interrupt enables */
	for (int i = 0; i < 6; i++)
		rtc_put(r, reg[i], rtc_enc(r, t[i]));
	rtc_put(r, RTC_CENTURY, rtc_enc(r, century));
	rtc_put(r, RTC_B, (uint8_t)(rtc_get(r, RTC_B) & ~B_SET));
	for (int i = 0; i < 6; i++)
		FZ_CHECK(rtc_val(r, rtc_get(r, reg[i])) == t[i]);
	FZ_CHECK(rtc_val(r, rtc_get(r, RTC_CENTURY)) == century);
}

/* The PL031: its counter is the clock plus the last load, it always runs,
 * no interrupt is ever raised, the ids stay. */
static uint32_t pl031_get(struct pl031 *p, uint64_t off)
{
	uint8_t b[4];
	pl031_ops.read(p, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void pl031_check(struct pl031 *p, const struct model *m, int64_t load_off)
{
	FZ_CHECK(pl031_get(p, 0x00) == (uint32_t)((int64_t)m->now + load_off));
	FZ_CHECK(pl031_get(p, 0x0c) == 1);
	FZ_CHECK(pl031_get(p, 0x14) == 0 && pl031_get(p, 0x18) == 0);
	FZ_CHECK(pl031_get(p, 0x10) <= 1);
	FZ_CHECK(pl031_get(p, 0xfe0) == 0x31 && pl031_get(p, 0xffc) == 0xb1);
}

/* ---- i8042 ---------------------------------------------------------------- */

static bool i8042_same(const struct i8042 *a, const struct i8042 *b)
{
	return a->ctr == b->ctr && a->outp == b->outp && a->pending_cmd == b->pending_cmd &&
	       a->head == b->head && a->count == b->count &&
	       !memcmp(a->buf, b->buf, sizeof(a->buf));
}

static void i8042_check(struct i8042 *k, struct model *m)
{
	FZ_CHECK(k->count <= I8042_BUF_SIZE && k->head < I8042_BUF_SIZE);
	FZ_CHECK(m->kbd_line == 0);
	uint8_t st;
	struct i8042 before = *k;
	i8042_ops.read(k, 4, &st, 1);
	FZ_CHECK(i8042_same(&before, k)); /* reading the status changes nothing */
	FZ_CHECK(!!(st & 0x01) == (k->count > 0) && !(st & 0x22) && (st & 0x10));
	FZ_CHECK(!!(st & 0x04) == !!(k->ctr & 0x04) && !!(st & 0x08) == (k->pending_cmd != 0));
}

static void i8042_op(struct i8042 *k, struct model *m, uint8_t op, uint8_t off, uint8_t *val,
		     unsigned len)
{
	static const uint8_t cad[4] = {0x14, 0x11, 0xe0, 0x71};
	struct i8042 before = *k;
	int pulses = m->kbd_pulses, resets = m->resets;
	bool kbdint = k->ctr & 0x01;
	if (op & 0x80) {
		int r = i8042_ctrl_alt_del(k);
		FZ_CHECK(r == 0 || r == -ENOSPC);
		FZ_CHECK((r == 0) == (before.count + 4 <= I8042_BUF_SIZE));
		if (r == 0) {
			FZ_CHECK(k->count == before.count + 4 && k->head == before.head);
			for (unsigned i = 0; i < 4; i++)
				FZ_CHECK(k->buf[(k->head + before.count + i) % I8042_BUF_SIZE] ==
					 cad[i]);
		} else {
			FZ_CHECK(i8042_same(&before, k));
		}
		FZ_CHECK(m->kbd_pulses - pulses == (r == 0 && kbdint));
	} else if (op & 8) {
		i8042_ops.write(k, off, val, len);
		bool byte = len == 1 && (off == 0 || off == 4);
		if (!byte)
			FZ_CHECK(i8042_same(&before, k));
		bool kbd = byte && off == 0 && !before.pending_cmd;
		FZ_CHECK(m->kbd_pulses - pulses == (kbd && kbdint));
		bool reset = byte && ((off == 4 && val[0] >= 0xf0 && !(val[0] & 1)) ||
				      (off == 0 && before.pending_cmd == 0xd1 && !(val[0] & 1)));
		FZ_CHECK(m->resets - resets == reset);
		if (kbd)
			FZ_CHECK(k->count >= 1 && k->buf[k->head] == 0xfa); /* the keyboard acks */
	} else {
		i8042_ops.read(k, off, val, len);
		if (len != 1 || (off != 0 && off != 4)) {
			for (unsigned i = 0; i < len; i++)
				FZ_CHECK(val[i] == 0xff);
			FZ_CHECK(i8042_same(&before, k));
		} else if (off == 0) {
			FZ_CHECK(val[0] == (before.count ? before.buf[before.head] : 0));
			FZ_CHECK(k->count == (before.count ? before.count - 1 : 0));
		}
		FZ_CHECK(m->kbd_pulses - pulses == (off == 0 && len == 1 && k->count && kbdint));
	}
	i8042_check(k, m);
}

/* ---- the script ------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model m = {.now = 1700000000};
	struct irq_line irq = {irq_set, &m, 4};
	struct sys_ctl sys = {sys_ev, NULL}, kbd_sys = {kbd_sys_ev, &m};
	struct irq_line kbd_irq = {kbd_irq_set, &m, 1};
	struct debug_exit dx = {debug_exit, &m};
	struct serial s;
	struct rtc r;
	struct i8042 k;
	struct acpi_pm pm;
	if (serial_init(&s, &irq, -1) || rtc_init(&r, clock_now, &m) ||
	    i8042_init(&k, &kbd_sys, &kbd_irq))
		abort();
	acpi_pm_init(&pm, &sys);
	struct pl031 rtc2;
	int64_t load_off = 0;
	if (pl031_init(&rtc2, clock_now, &m))
		abort();
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i], off = data[i + 1], val[8] = {data[i + 2], off, 0x5a, 0xa5};
		unsigned len = 1u << ((op >> 4) & 3);
		bool wr = op & 8;
		if (op & 0x40) {
			uint64_t o = off & 0x80 ? 0xfe0u + (uint64_t)(off & 0x1f)
						: (uint64_t)(off & 0x7f) * 4;
			if (wr) {
				pl031_ops.write(&rtc2, o, val, len);
				if (o == 0x08 && len == 4)
					load_off = (int64_t)(val[0] | val[1] << 8 | 0x5a << 16 |
							     (uint32_t)0xa5 << 24) -
						   (int64_t)m.now;
			} else {
				pl031_ops.read(&rtc2, o, val, len);
			}
			pl031_check(&rtc2, &m, load_off);
			continue;
		}
		if (len == 8)
			len = 4; /* port I/O is at most 4 bytes */
		switch (op & 7) {
		case 0:
			if (off % 8 + len <= 8)
				serial_op(&s, &m, wr, off % 8, val, len);
			break;
		case 1:
			if (off % 2 + len <= 2) {
				if (wr)
					rtc_ops.write(&r, off % 2, val, len);
				else
					rtc_ops.read(&r, off % 2, val, len);
				rtc_check(&r);
			}
			break;
		case 2:
			if (off % 5 + len <= 5)
				i8042_op(&k, &m, op, off % 5, val, len);
			break;
		case 3:
			if (off % 3 + len <= 3) {
				if (wr)
					acpi_pm_ops.write(&pm, off % 3, val, len);
				else
					acpi_pm_ops.read(&pm, off % 3, val, len);
			}
			break;
		case 4: {
			size_t n = serial_input(&s, &data[i + 1], 2);
			FZ_CHECK(n <= 2);
			if (!(s.mcr & MCR_LOOP))
				FZ_CHECK(n ==
					 (m.count + 2 <= SERIAL_FIFO ? 2 : SERIAL_FIFO - m.count));
			for (size_t j = 0; j < n; j++)
				fifo_push(&m, data[i + 1 + j]);
			serial_check(&s, &m);
			break;
		}
		case 5:
			m.now += off | data[i + 2] << 8;
			rtc_check(&r);
			pl031_check(&rtc2, &m, load_off);
			break;
		case 6:
			rtc_set_time(&r, off, data[i + 2]);
			rtc_check(&r);
			break;
		case 7:
			if (wr && len == 1) { /* QEMU's isa-debug-exit: (v << 1) | 1 */
				m.exit_code = -1;
				debug_exit_ops.write(&dx, 0, val, 1);
				FZ_CHECK(m.exit_code == (val[0] << 1 | 1));
			}
			break;
		}
	}
	serial_destroy(&s);
	rtc_destroy(&r);
	pl031_destroy(&rtc2);
	i8042_destroy(&k);
	return 0;
}
