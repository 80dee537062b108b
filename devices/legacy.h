/* SPDX-License-Identifier: MIT */
/* Small legacy PC devices: CMOS RTC, the i8042 keyboard controller, and the ACPI
 * hardware-reduced sleep/reset registers. */
#ifndef CVMM_LEGACY_H
#define CVMM_LEGACY_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "devices/irq.h"
#include "core/bus.h"
#include "core/err.h"

struct snap_w;
struct snap_r;

/* The largest clock offset, either way, that a restore accepts for the
 * CMOS RTC and the PL031, in seconds: 2^40, about 34,800 years. The guest
 * itself cannot go near it: the CMOS registers reach year 25,776 at most
 * (century and year 255 in binary mode, the month and day overflowing),
 * about 7.5e11 s from the epoch; the PL031's load register is 32 bits.
 * Within it, the host's time plus the offset neither overflows nor leaves
 * what gmtime_r converts. */
#define RTC_MAX_OFFSET (INT64_C(1) << 40)

/* MC146818-compatible CMOS RTC at ports 0x70/0x71. Time comes from
 * now(ctx) (the host's clock unless a test injects one); the guest's
 * writes to the time registers are kept as an offset. No alarm/periodic
 * interrupts. */
struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	int64_t offset; /* seconds the guest moved the clock */
	time_t (*now)(void *ctx);
	void *now_ctx;
};

extern const struct bus_ops rtc_ops;
__attribute__((warn_unused_result)) int rtc_init(struct rtc *r, time_t (*now)(void *), void *ctx);
void rtc_destroy(struct rtc *r);
/* Snapshot: section "rtc" inst (devices/legacy_snap.c). */
void rtc_save(struct rtc *r, struct snap_w *w, uint32_t inst);
__attribute__((warn_unused_result)) int rtc_restore(struct rtc *r, const struct snap_r *sr,
						    uint32_t inst, struct err *e);

/* ARM PL031 real-time clock (aarch64's RTC, on MMIO): the host's time
 * (now(ctx), as for the CMOS RTC) plus the offset the guest's writes to
 * the load register set. No alarm interrupt (pl031.c). */
struct pl031 {
	pthread_mutex_t lock;
	int64_t offset; /* seconds the guest moved the clock */
	uint32_t lr, mr, imsc;
	time_t (*now)(void *ctx);
	void *now_ctx;
};
#define PL031_SIZE 0x1000
extern const struct bus_ops pl031_ops;
__attribute__((warn_unused_result)) int pl031_init(struct pl031 *p, time_t (*now)(void *),
						   void *ctx);
void pl031_destroy(struct pl031 *p);
/* Snapshot: section "pl031" inst. */
void pl031_save(struct pl031 *p, struct snap_w *w, uint32_t inst);
__attribute__((warn_unused_result)) int pl031_restore(struct pl031 *p, const struct snap_r *r,
						      uint32_t inst, struct err *e);

/* i8042 PS/2 controller at 0x60 (data) and 0x64 (status / command), as
 * Firecracker offers it on x86_64: a keyboard on the first port (IRQ 1),
 * nothing on the second, enough for Linux's i8042 and atkbd drivers to
 * find the keyboard, for the host to type Ctrl-Alt-Del on it and for the
 * guest to reset the machine through it (i8042.c says what each command
 * answers). The keyboard sends scan code set 2, untranslated. */
#define I8042_BUF_SIZE 16 /* the output buffer, bytes (Firecracker's) */
struct i8042 {
	pthread_mutex_t lock;
	struct sys_ctl sys;
	struct irq_line kbd_irq;     /* IRQ 1: pulsed for each keyboard byte */
	uint8_t ctr;		     /* controller configuration byte */
	uint8_t outp;		     /* output port (bit 0: the CPU reset line, high) */
	uint8_t pending_cmd;	     /* a command awaiting its data byte on 0x60; 0: none */
	uint8_t buf[I8042_BUF_SIZE]; /* output buffer: what reads of 0x60 return */
	unsigned head, count;
};
extern const struct bus_ops i8042_ops;
/* kbd_irq is copied; its ctx stays borrowed. */
__attribute__((warn_unused_result)) int i8042_init(struct i8042 *k, const struct sys_ctl *sys,
						   const struct irq_line *kbd_irq);
void i8042_destroy(struct i8042 *k);
/* Snapshot: section "i8042" inst. */
void i8042_save(struct i8042 *k, struct snap_w *w, uint32_t inst);
__attribute__((warn_unused_result)) int i8042_restore(struct i8042 *k, const struct snap_r *r,
						      uint32_t inst, struct err *e);
/* Types Ctrl-Alt-Del: the make codes of Left Ctrl, Left Alt and Delete
 * (set 2: 0x14, 0x11, 0xe0 0x71; no break codes, as Firecracker), then
 * IRQ 1 if the guest enabled the keyboard interrupt. -ENOSPC, nothing
 * queued, when the output buffer has no room for the 4 bytes (the guest
 * is not reading its keyboard). Thread-safe. */
__attribute__((warn_unused_result)) int i8042_ctrl_alt_del(struct i8042 *k);

/* ACPI sleep control (S5 -> power off), sleep status, reset register: three
 * byte registers (the FADT's SLEEP_CONTROL, SLEEP_STATUS, RESET_REG). What a
 * guest writes to them is what the firmware tables say it should (x86's
 * layout.h has the same values, checked against these in arch/x86_64/x86.c). */
#define ACPI_PM_SLP_EN	    (1u << 5) /* sleep control: enter the state in SLP_TYP (bits 2-4) */
#define ACPI_PM_S5_SLP_TYP  5	      /* \_S5: power off */
#define ACPI_PM_RESET_VALUE 0x1	      /* the FADT's RESET_VALUE */
struct acpi_pm {
	struct sys_ctl sys;
};
extern const struct bus_ops acpi_pm_ops;
void acpi_pm_init(struct acpi_pm *p, const struct sys_ctl *sys);

/* Test/benchmark exit port (QEMU isa-debug-exit compatible). */
struct debug_exit {
	void (*exit)(void *ctx, int code); /* NULL: ignored */
	void *ctx;
};
extern const struct bus_ops debug_exit_ops;

/* Firecracker's boot timer (boot_timer.c): the byte 123 written at offset
 * 0 logs the time since boot_timer_init. One 4 KiB MMIO window. */
#define BOOT_TIMER_MAGIC 123
#define BOOT_TIMER_SIZE	 0x1000
struct boot_timer {
	uint64_t start_us, start_cpu_us; /* CLOCK_MONOTONIC, the process's CPU time */
	uint64_t last_us;		 /* the last boot time it logged (0: none) */
};
void boot_timer_init(struct boot_timer *t);
extern const struct bus_ops boot_timer_ops;

#endif
