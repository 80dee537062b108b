/* SPDX-License-Identifier: MIT */
/* Unit tests of the legacy devices against fake interrupt and system hooks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "core/log.h"
#include "core/snap.h"
#include "devices/legacy.h"
#include "devices/serial.h"

/* An interrupt line that must be raised on gsi: its level and rising edges. */
struct fake_irq {
	uint32_t gsi;
	int level, rises;
};

static void fake_irq_set(void *ctx, uint32_t gsi, int level)
{
	struct fake_irq *f = ctx;
	assert_int_equal(gsi, f->gsi);
	if (level && !f->level)
		f->rises++;
	f->level = level;
}

static uint8_t rd(struct serial *s, unsigned off)
{
	uint8_t v;
	serial_ops.read(s, off, &v, 1);
	return v;
}

static void wr(struct serial *s, unsigned off, uint8_t v)
{
	serial_ops.write(s, off, &v, 1);
}

static void test_serial_tx_and_thre(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct fake_irq fi = {.gsi = 4};
	struct irq_line irq = {fake_irq_set, &fi, 4};
	struct serial s;
	assert_int_equal(serial_init(&s, &irq, p[1]), 0);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x01); /* no interrupt pending */
	wr(&s, 0, 'h');
	wr(&s, 0, 'i');
	char buf[4] = {0};
	assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	assert_true(rd(&s, 5) & 0x60); /* THRE and TEMT */
	assert_int_equal(fi.rises, 0);
	/* enabling THRI with an empty THR raises the line; IIR read acks it */
	wr(&s, 1, 0x02);
	assert_int_equal(fi.level, 1);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x02);
	assert_int_equal(fi.level, 0);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x01);
	/* each write re-raises THRE: a new edge */
	wr(&s, 0, 'x');
	assert_int_equal(fi.level, 1);
	assert_int_equal(fi.rises, 2);
	/* DLAB: divisor latches, not data */
	wr(&s, 3, 0x80);
	wr(&s, 0, 0x01);
	wr(&s, 1, 0x00);
	assert_int_equal(rd(&s, 0), 0x01);
	wr(&s, 3, 0x03);
	assert_int_equal(rd(&s, 3), 0x03);
	serial_destroy(&s);
	close(p[0]);
	close(p[1]);
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A console that is full never holds the writing vCPU for good: one that
 * drains within SERIAL_STALL_MS (100) loses nothing; one that takes nothing
 * for that long is dropped from at once, until it takes a byte again. And
 * the rate limiter drops what its bucket has no token for. */
static void test_serial_full_console(void **state)
{
	(void)state;
	/* qemu-user (the cross build's runner, no seccomp there) hangs in the
	 * forked child below: natively and in the aarch64 test host only */
	unsigned act = SECCOMP_RET_TRAP;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) < 0 && errno == ENOSYS)
		skip();
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	struct fake_irq fi = {.gsi = 4};
	struct irq_line irq = {fake_irq_set, &fi, 4};
	struct serial s;
	assert_int_equal(serial_init(&s, &irq, p[1]), 0);
	char fill[4096];
	memset(fill, 'f', sizeof(fill));
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	/* drained 10 ms later (by a child: qemu-user, the cross build's
	 * runner, hangs in pthread_create): the byte waits for room, and
	 * lands */
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		usleep(10000);
		char all[65536];
		_exit(read(p[0], all, sizeof(all)) > 0 ? 0 : 1);
	}
	uint64_t t0 = now_ms();
	wr(&s, 0, 'A');
	uint64_t waited = now_ms() - t0;
	int kst = -1;
	assert_int_equal(waitpid(kid, &kst, 0), kid);
	assert_true(WIFEXITED(kst) && WEXITSTATUS(kst) == 0);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'A');
	assert_true(waited >= 5 && waited < 1000);
	assert_int_equal(s.tx_missed, 0);
	/* full and never drained: 100 ms for the first byte, then none */
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	t0 = now_ms();
	wr(&s, 0, 'B');
	waited = now_ms() - t0;
	assert_true(waited >= 90 && waited < 1000);
	t0 = now_ms();
	for (int i = 0; i < 100; i++)
		wr(&s, 0, 'C');
	assert_true(now_ms() - t0 < 1000); /* not 100 x 100 ms */
	assert_int_equal(s.tx_missed, 101);
	/* room again: the next byte lands, and the wait comes back */
	while (read(p[0], fill, sizeof(fill)) > 0)
		;
	wr(&s, 0, 'D');
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'D');
	assert_false(s.out_stalled);
	/* a 3-byte bucket, no refill to speak of: 3 of 10 go out */
	struct rl_cfg lim = {.bw = {.size = 3, .refill_ms = 1000000}};
	serial_set_limit(&s, &lim);
	for (int i = 0; i < 10; i++)
		wr(&s, 0, 'E');
	assert_int_equal(read(p[0], fill, sizeof(fill)), 3);
	assert_int_equal(s.tx_limited, 7);
	assert_int_equal(s.tx_bytes, 1 + 1 + 100 + 1 + 10);
	serial_destroy(&s);
	close(p[0]);
	close(p[1]);
}

static void test_serial_rx(void **state)
{
	(void)state;
	struct fake_irq fi = {.gsi = 4};
	struct irq_line irq = {fake_irq_set, &fi, 4};
	struct serial s;
	assert_int_equal(serial_init(&s, &irq, -1), 0);
	uint8_t in[100];
	for (int i = 0; i < 100; i++)
		in[i] = (uint8_t)i;
	/* the FIFO takes SERIAL_FIFO bytes, the caller keeps the rest */
	assert_int_equal(serial_input(&s, in, sizeof(in)), SERIAL_FIFO);
	assert_int_equal(fi.level, 0); /* RDI not enabled yet */
	wr(&s, 1, 0x01);
	assert_int_equal(fi.level, 1);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x04);
	assert_true(rd(&s, 5) & 0x01);
	for (int i = 0; i < SERIAL_FIFO; i++)
		assert_int_equal(rd(&s, 0), i);
	assert_false(rd(&s, 5) & 0x01);
	assert_int_equal(fi.level, 0);
	assert_int_equal(rd(&s, 0), 0); /* empty reads are harmless */
	/* loopback: transmitted bytes come back, MSR mirrors MCR */
	wr(&s, 4, 0x10 | 0x01 | 0x02);
	assert_int_equal(rd(&s, 6) & 0x30, 0x30);
	wr(&s, 0, 'L');
	assert_int_equal(rd(&s, 0), 'L');
	/* bad sizes and offsets are ignored, never crash */
	uint8_t w[4] = {0};
	serial_ops.write(&s, 0, w, 4);
	serial_ops.read(&s, 9, w, 1);
	assert_int_equal(w[0], 0xff);
	serial_destroy(&s);
}

static time_t fixed_now(void *ctx)
{
	return *(time_t *)ctx;
}

static uint8_t cmos(struct rtc *r, uint8_t idx)
{
	uint8_t v;
	rtc_ops.write(r, 0, &idx, 1);
	rtc_ops.read(r, 1, &v, 1);
	return v;
}

static void cmos_set(struct rtc *r, uint8_t idx, uint8_t v)
{
	rtc_ops.write(r, 0, &idx, 1);
	rtc_ops.write(r, 1, &v, 1);
}

static void test_rtc(void **state)
{
	(void)state;
	time_t now = 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
	struct rtc r;
	assert_int_equal(rtc_init(&r, fixed_now, &now), 0);
	assert_int_equal(cmos(&r, 0), 0x20);
	assert_int_equal(cmos(&r, 2), 0x13);
	assert_int_equal(cmos(&r, 4), 0x22);
	assert_int_equal(cmos(&r, 7), 0x14);
	assert_int_equal(cmos(&r, 8), 0x11);
	assert_int_equal(cmos(&r, 9), 0x23);
	assert_int_equal(cmos(&r, 0x32), 0x20);
	assert_int_equal(cmos(&r, 0x0d), 0x80);
	/* binary mode */
	cmos_set(&r, 0x0b, 0x06);
	assert_int_equal(cmos(&r, 4), 22);
	/* the guest sets the clock one hour ahead: it stays ahead */
	cmos_set(&r, 0x0b, 0x86);
	cmos_set(&r, 4, 23);
	cmos_set(&r, 0x0b, 0x06);
	now += 10;
	assert_int_equal(cmos(&r, 4), 23);
	assert_int_equal(cmos(&r, 0), 30);
	/* NMI bit in the index is masked off */
	assert_int_equal(cmos(&r, 0x80 | 0x0d), 0x80);
	rtc_destroy(&r);
}

/* Finishes the state file w holds and opens it for reading, as a restore
 * does; w still owns the bytes. */
static void state_open(struct snap_w *w, struct snap_r *sr)
{
	const uint8_t *p;
	size_t len;
	struct err e = {0};
	assert_int_equal(snap_w_finish(w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	assert_int_equal(snap_open(sr, p, len, SNAP_ARCH_HOST, &e), 0);
}

/* Restores into r the state of a fresh CMOS RTC whose offset is off. */
static int rtc_restore_offset(struct rtc *r, int64_t off, struct err *e)
{
	struct rtc src;
	assert_int_equal(rtc_init(&src, NULL, NULL), 0);
	src.offset = off;
	struct snap_w w;
	struct snap_r sr;
	snap_w_init(&w);
	rtc_save(&src, &w, 0);
	state_open(&w, &sr);
	int ret = rtc_restore(r, &sr, 0, e);
	snap_w_free(&w);
	rtc_destroy(&src);
	return ret;
}

/* A state file's RTC offset is the guest's clock: the farthest time the
 * guest can set comes back, an offset past RTC_MAX_OFFSET either way is
 * refused with a message and changes nothing. */
static void test_rtc_restore(void **state)
{
	(void)state;
	time_t now = 1700000000;
	struct rtc g, r;
	assert_int_equal(rtc_init(&g, fixed_now, &now), 0);
	assert_int_equal(rtc_init(&r, fixed_now, &now), 0);
	/* binary mode, every time register at 255: year 25,776 */
	static const uint8_t treg[] = {0, 2, 4, 7, 8, 9, 0x32};
	cmos_set(&g, 0x0b, 0x86);
	for (unsigned i = 0; i < sizeof(treg); i++)
		cmos_set(&g, treg[i], 0xff);
	cmos_set(&g, 0x0b, 0x06);
	assert_true(g.offset > 700000000000LL);
	struct snap_w w;
	struct snap_r sr;
	struct err e = {0};
	snap_w_init(&w);
	rtc_save(&g, &w, 0);
	state_open(&w, &sr);
	assert_int_equal(rtc_restore(&r, &sr, 0, &e), 0);
	snap_w_free(&w);
	assert_true(r.offset == g.offset);
	assert_int_equal(cmos(&r, 0x32), cmos(&g, 0x32));
	assert_int_equal(cmos(&r, 9), cmos(&g, 9));

	assert_int_equal(rtc_restore_offset(&r, RTC_MAX_OFFSET, &e), 0);
	assert_int_equal(rtc_restore_offset(&r, -RTC_MAX_OFFSET, &e), 0);
	static const int64_t bad[] = {RTC_MAX_OFFSET + 1, -RTC_MAX_OFFSET - 1, INT64_MAX,
				      INT64_MIN};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		assert_int_equal(rtc_restore_offset(&r, bad[i], &e), -EINVAL);
		assert_non_null(strstr(e.msg, "RTC offset"));
		assert_true(r.offset == -RTC_MAX_OFFSET);
	}
	rtc_destroy(&g);
	rtc_destroy(&r);
}

/* A time gmtime_r cannot convert (a host clock far out, an offset no
 * guest or restore can set) reads as the epoch, 1970-01-01 00:00:00, a
 * Thursday, in every time register: never what the stack held. */
static void test_rtc_unconvertible(void **state)
{
	(void)state;
	static const uint8_t reg[] = {0, 2, 4, 6, 7, 8, 9, 0x32};
	static const uint8_t epoch[] = {0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x70, 0x19};
	time_t now = (time_t)1 << 62; /* past the years a struct tm holds */
	struct rtc r;
	assert_int_equal(rtc_init(&r, fixed_now, &now), 0);
	for (unsigned i = 0; i < sizeof(reg); i++)
		assert_int_equal(cmos(&r, reg[i]), epoch[i]);
	now = 1700000000;
	r.offset = INT64_MAX; /* the sum overflows */
	for (unsigned i = 0; i < sizeof(reg); i++)
		assert_int_equal(cmos(&r, reg[i]), epoch[i]);
	rtc_destroy(&r);
}

static uint32_t pl031_rd(struct pl031 *p, uint64_t off)
{
	uint8_t b[4];
	pl031_ops.read(p, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void pl031_wr(struct pl031 *p, uint64_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	pl031_ops.write(p, off, b, 4);
}

static void test_pl031(void **state)
{
	(void)state;
	time_t now = 1700000000;
	struct pl031 p;
	assert_int_equal(pl031_init(&p, fixed_now, &now), 0);
	/* the AMBA ids Linux's bus matches: periph 0x00041031, cell 0xb105f00d */
	uint32_t pid = 0, cid = 0;
	for (int i = 0; i < 4; i++) {
		pid |= (pl031_rd(&p, 0xfe0 + 4 * (uint64_t)i) & 0xff) << (8 * i);
		cid |= (pl031_rd(&p, 0xff0 + 4 * (uint64_t)i) & 0xff) << (8 * i);
	}
	assert_int_equal(pid, 0x00041031);
	assert_int_equal(cid, 0xb105f00d);
	/* the host's time, running, started */
	assert_int_equal(pl031_rd(&p, 0x00), 1700000000);
	now += 5;
	assert_int_equal(pl031_rd(&p, 0x00), 1700000005);
	assert_int_equal(pl031_rd(&p, 0x0c), 1);
	pl031_wr(&p, 0x0c, 0); /* cannot be stopped */
	assert_int_equal(pl031_rd(&p, 0x0c), 1);
	/* the guest loads a time: it runs on from there */
	pl031_wr(&p, 0x08, 1000);
	assert_int_equal(pl031_rd(&p, 0x08), 1000);
	assert_int_equal(pl031_rd(&p, 0x00), 1000);
	now += 7;
	assert_int_equal(pl031_rd(&p, 0x00), 1007);
	/* DR is read-only; match and mask keep what is written; no interrupt */
	pl031_wr(&p, 0x00, 5);
	assert_int_equal(pl031_rd(&p, 0x00), 1007);
	pl031_wr(&p, 0x04, 1008);
	pl031_wr(&p, 0x10, 0xffffffff);
	now += 100;
	assert_int_equal(pl031_rd(&p, 0x04), 1008);
	assert_int_equal(pl031_rd(&p, 0x10), 1);
	assert_int_equal(pl031_rd(&p, 0x14), 0);
	assert_int_equal(pl031_rd(&p, 0x18), 0);
	/* byte accesses and unaligned offsets: read 0, ignored */
	uint8_t b = 0xaa;
	pl031_ops.read(&p, 0x00, &b, 1);
	assert_int_equal(b, 0);
	pl031_ops.write(&p, 0x09, &b, 1);
	assert_int_equal(pl031_rd(&p, 0x08), 1000);
	pl031_destroy(&p);
}

/* The PL031's offset from a state file is bounded as the RTC's. */
static void test_pl031_restore(void **state)
{
	(void)state;
	time_t now = 1700000000;
	struct pl031 src, p;
	assert_int_equal(pl031_init(&src, fixed_now, &now), 0);
	assert_int_equal(pl031_init(&p, fixed_now, &now), 0);
	static const int64_t off[] = {RTC_MAX_OFFSET, INT64_MIN, RTC_MAX_OFFSET + 1};
	for (unsigned i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		src.offset = off[i];
		struct snap_w w;
		struct snap_r sr;
		struct err e = {0};
		snap_w_init(&w);
		pl031_save(&src, &w, 0);
		state_open(&w, &sr);
		int ret = pl031_restore(&p, &sr, 0, &e);
		snap_w_free(&w);
		assert_int_equal(ret, i == 0 ? 0 : -EINVAL);
		assert_true(p.offset == RTC_MAX_OFFSET);
	}
	pl031_destroy(&src);
	pl031_destroy(&p);
}

static uint8_t krd(struct i8042 *k, unsigned off)
{
	uint8_t v;
	i8042_ops.read(k, off, &v, 1);
	return v;
}

static void kwr(struct i8042 *k, unsigned off, uint8_t v)
{
	i8042_ops.write(k, off, &v, 1);
}

struct fake_sys {
	int poweroff, reset;
};

static void fake_event(void *ctx, enum sys_event ev, const char *why)
{
	struct fake_sys *f = ctx;
	(void)why;
	if (ev == SYS_EVENT_POWEROFF)
		f->poweroff++;
	else
		f->reset++;
}

static void test_power_paths(void **state)
{
	(void)state;
	struct fake_sys fs = {0};
	struct sys_ctl sys = {fake_event, &fs};
	struct acpi_pm pm;
	acpi_pm_init(&pm, &sys);
	uint8_t v = (X86_ACPI_S5_SLP_TYP << 2); /* no SLP_EN: nothing */
	acpi_pm_ops.write(&pm, 0, &v, 1);
	v = 3 << 2 | X86_ACPI_SLP_EN; /* S3 is not offered: ignored */
	acpi_pm_ops.write(&pm, 0, &v, 1);
	assert_int_equal(fs.poweroff, 0);
	v = (X86_ACPI_S5_SLP_TYP << 2) | X86_ACPI_SLP_EN;
	acpi_pm_ops.write(&pm, 0, &v, 1);
	assert_int_equal(fs.poweroff, 1);
	v = X86_ACPI_RESET_VALUE;
	acpi_pm_ops.write(&pm, 2, &v, 1);
	assert_int_equal(fs.reset, 1);

	struct fake_irq kbd = {.gsi = X86_KBD_IRQ};
	struct irq_line kirq = {fake_irq_set, &kbd, X86_KBD_IRQ};
	struct i8042 k;
	assert_int_equal(i8042_init(&k, &sys, &kirq), 0);
	kwr(&k, 4, 0xfe); /* pulse the reset line */
	assert_int_equal(fs.reset, 2);
	kwr(&k, 4, 0xff); /* pulse nothing (Linux's "null command") */
	kwr(&k, 4, 0xf0); /* pulse every line, the reset line among them */
	assert_int_equal(fs.reset, 3);
	kwr(&k, 4, 0xd1); /* the output port: A20 on, reset line high */
	kwr(&k, 0, 0xdf);
	assert_int_equal(fs.reset, 3);
	kwr(&k, 4, 0xd1); /* reset line low */
	kwr(&k, 0, 0x02);
	assert_int_equal(fs.reset, 4);
	assert_int_equal(fs.poweroff, 1);
	assert_int_equal(kbd.rises, 0);
	i8042_destroy(&k);
}

/* A controller command's answer: OBF up, the byte, OBF down, and no
 * interrupt (the driver polls for it). */
static void want_answer(struct i8042 *k, uint8_t cmd, uint8_t want, const struct fake_irq *irq)
{
	int rises = irq->rises;
	kwr(k, 4, cmd);
	assert_int_equal(krd(k, 4) & 0x01, 0x01);
	assert_int_equal(krd(k, 0), want);
	assert_int_equal(krd(k, 4) & 0x01, 0);
	assert_int_equal(irq->rises, rises);
}

/* What Linux's i8042 driver (acpi=off: no PNP, so it probes both ports)
 * and atkbd ask, and what the controller and its keyboard answer. */
static void test_i8042_probe(void **state)
{
	(void)state;
	struct fake_sys fs = {0};
	struct sys_ctl sys = {fake_event, &fs};
	struct fake_irq kbd = {.gsi = X86_KBD_IRQ};
	struct irq_line kirq = {fake_irq_set, &kbd, X86_KBD_IRQ};
	struct i8042 k;
	assert_int_equal(i8042_init(&k, &sys, &kirq), 0);

	/* status: empty, system flag, keyboard not inhibited */
	assert_int_equal(krd(&k, 4), 0x14);
	assert_int_equal(krd(&k, 0), 0); /* nothing to read */
	/* Firecracker's configuration byte: keyboard interrupt, POST passed,
	 * no translation (the keyboard talks scan code set 2) */
	want_answer(&k, 0x20, 0x05, &kbd);
	want_answer(&k, 0xaa, 0x55, &kbd); /* self test passed */
	want_answer(&k, 0xab, 0x00, &kbd); /* keyboard port fine */
	want_answer(&k, 0xa9, 0x02, &kbd); /* nothing on the second port */
	want_answer(&k, 0xd0, 0x03, &kbd); /* output port: reset line high, A20 */
	/* the driver disables the keyboard interrupt while it probes */
	kwr(&k, 4, 0x60);
	assert_int_equal(krd(&k, 4) & 0x08, 0x08); /* awaiting the data byte */
	kwr(&k, 0, 0x14);
	assert_int_equal(krd(&k, 4) & 0x08, 0);
	want_answer(&k, 0x20, 0x14, &kbd);
	/* the second port's loop test: a command this controller does not
	 * know, so its byte goes to the keyboard, which acks it: not aux data
	 * (status bit 5 clear), and the driver gives the port up at once */
	kwr(&k, 4, 0xd3);
	kwr(&k, 0, 0x5a);
	assert_int_equal(krd(&k, 4) & 0x21, 0x01);
	assert_int_equal(krd(&k, 0), 0xfa);
	assert_int_equal(kbd.rises, 0); /* the keyboard interrupt is off */
	/* keyboard interrupt on: each byte from the keyboard pulses IRQ 1 */
	kwr(&k, 4, 0x60);
	kwr(&k, 0, 0x05);
	kwr(&k, 0, 0xf2); /* identify */
	assert_int_equal(kbd.rises, 1);
	assert_int_equal(krd(&k, 0), 0xfa);
	assert_int_equal(kbd.rises, 2);
	assert_int_equal(krd(&k, 0), 0xab);
	assert_int_equal(kbd.rises, 3);
	assert_int_equal(krd(&k, 0), 0x83); /* an MF2 keyboard */
	assert_int_equal(kbd.rises, 3);
	assert_int_equal(kbd.level, 0);
	assert_int_equal(krd(&k, 4) & 0x01, 0);
	kwr(&k, 0, 0xff); /* reset: ack, self test passed */
	assert_int_equal(krd(&k, 0), 0xfa);
	assert_int_equal(krd(&k, 0), 0xaa);
	kwr(&k, 0, 0xed); /* LEDs, then their byte: each acked */
	assert_int_equal(krd(&k, 0), 0xfa);
	kwr(&k, 0, 0x00);
	assert_int_equal(krd(&k, 0), 0xfa);
	assert_int_equal(kbd.rises, 7);
	/* only byte-wide accesses to 0x60 and 0x64 do anything */
	uint8_t w[2] = {0xfe, 0xfe};
	i8042_ops.write(&k, 4, w, 2);
	i8042_ops.read(&k, 4, w, 2);
	assert_int_equal(w[0] & w[1], 0xff);
	kwr(&k, 1, 0xfe);
	assert_int_equal(krd(&k, 2), 0xff);
	assert_int_equal(fs.reset, 0);
	i8042_destroy(&k);
}

/* SendCtrlAltDel: what the guest reads after it, and IRQ 1 for each byte. */
static void test_i8042_ctrl_alt_del(void **state)
{
	(void)state;
	struct fake_sys fs = {0};
	struct sys_ctl sys = {fake_event, &fs};
	struct fake_irq kbd = {.gsi = X86_KBD_IRQ};
	struct irq_line kirq = {fake_irq_set, &kbd, X86_KBD_IRQ};
	struct i8042 k;
	assert_int_equal(i8042_init(&k, &sys, &kirq), 0);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(kbd.rises, 1);
	const uint8_t want[] = {0x14, 0x11, 0xe0, 0x71}; /* Ctrl, Alt, Delete (E0 71) */
	for (unsigned i = 0; i < sizeof(want); i++) {
		assert_int_equal(krd(&k, 4) & 0x01, 0x01);
		assert_int_equal(krd(&k, 0), want[i]);
		/* the guest's interrupt handler reads one byte: the next one
		 * comes with an interrupt of its own */
		assert_int_equal(kbd.rises, i + 2 < 5 ? (int)i + 2 : 4);
	}
	assert_int_equal(kbd.rises, 4);
	assert_int_equal(krd(&k, 4) & 0x01, 0);

	/* 16 bytes of buffer: four Ctrl-Alt-Dels fit, a fifth is refused
	 * whole and leaves the buffer as it was */
	for (int i = 0; i < 4; i++)
		assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(i8042_ctrl_alt_del(&k), -ENOSPC);
	assert_int_equal(k.count, I8042_BUF_SIZE);
	for (int i = 0; i < 16; i++)
		assert_int_equal(krd(&k, 0), want[i % 4]);
	assert_int_equal(krd(&k, 4) & 0x01, 0);

	/* the keyboard interrupt off: the keys wait in the buffer, unannounced */
	kwr(&k, 4, 0x60);
	kwr(&k, 0, 0x04);
	int rises = kbd.rises;
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	assert_int_equal(kbd.rises, rises);
	assert_int_equal(krd(&k, 0), 0x14);
	assert_int_equal(kbd.rises, rises);
	assert_int_equal(fs.reset, 0);
	i8042_destroy(&k);
}

/* Firecracker's boot timer: only the byte 123 at offset 0 logs the boot
 * time, in Firecracker's words; other writes do nothing. */
struct bt_capture {
	unsigned calls;
	char line[256];
};

static void bt_sink(void *opaque, int level, const char *line, size_t len)
{
	struct bt_capture *c = opaque;
	(void)level;
	c->calls++;
	snprintf(c->line, sizeof(c->line), "%.*s", (int)len, line);
}

static void test_boot_timer(void **state)
{
	(void)state;
	struct bt_capture c = {0};
	struct boot_timer t;
	boot_timer_init(&t);
	log_set_sink(bt_sink, &c);
	uint8_t v = 122, four[4] = {123, 0, 0, 0};
	boot_timer_ops.write(&t, 0, &v, 1);
	boot_timer_ops.write(&t, 0, four, 4);
	v = 123;
	boot_timer_ops.write(&t, 1, &v, 1);
	assert_int_equal(c.calls, 0);
	usleep(2000);
	boot_timer_ops.write(&t, 0, &v, 1);
	log_set_fd(STDERR_FILENO);
	assert_int_equal(c.calls, 1);
	assert_true(t.last_us >= 2000);
	unsigned long long us, ms, cpu, cpu_ms;
	assert_int_equal(sscanf(c.line,
				"cvmm: Guest-boot-time = %llu us %llu ms, %llu CPU us %llu CPU ms",
				&us, &ms, &cpu, &cpu_ms),
			 4);
	assert_true(us == t.last_us && ms == us / 1000 && cpu_ms == cpu / 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_tx_and_thre),
		cmocka_unit_test(test_serial_rx),
		cmocka_unit_test(test_serial_full_console),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_rtc_restore),
		cmocka_unit_test(test_rtc_unconvertible),
		cmocka_unit_test(test_pl031),
		cmocka_unit_test(test_pl031_restore),
		cmocka_unit_test(test_power_paths),
		cmocka_unit_test(test_i8042_probe),
		cmocka_unit_test(test_i8042_ctrl_alt_del),
		cmocka_unit_test(test_boot_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
