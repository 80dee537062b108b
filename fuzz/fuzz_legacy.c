/* SPDX-License-Identifier: MIT */
/* Fuzzes the legacy devices a guest drives with port I/O: 8250, CMOS RTC,
 * i8042 and the ACPI PM registers. The input is a sequence of 3-byte ops:
 * [device/op, offset, value]; bytes written by the UART go nowhere. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "devices/legacy.h"
#include "devices/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void irq_set(void *ctx, uint32_t gsi, int level)
{
	int *line = ctx;
	if (gsi != 4 || (level != 0 && level != 1))
		abort();
	*line = level;
}

static void sys_ev(void *ctx, enum sys_event ev, const char *why)
{
	(void)ctx;
	if ((ev != SYS_EVENT_POWEROFF && ev != SYS_EVENT_RESET) || !why)
		abort();
}

static time_t fixed(void *ctx)
{
	(void)ctx;
	return 1700000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int line = 0;
	struct irq_line irq = { irq_set, &line, 4 };
	struct sys_ctl sys = { sys_ev, NULL };
	struct serial s;
	struct rtc r;
	struct i8042 k;
	struct acpi_pm pm;
	if (serial_init(&s, &irq, -1) || rtc_init(&r, fixed, NULL) || i8042_init(&k, &sys))
		abort();
	acpi_pm_init(&pm, &sys);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i], off = data[i + 1], val[8] = { data[i + 2] };
		unsigned len = 1u << ((op >> 4) & 3); /* 1, 2, 4, 8 */
		int wr = op & 8;
		const struct bus_ops *ops;
		void *dev;
		switch (op & 7) {
		case 0: ops = &serial_ops; dev = &s; break;
		case 1: ops = &rtc_ops; dev = &r; break;
		case 2: ops = &i8042_ops; dev = &k; break;
		case 3: ops = &acpi_pm_ops; dev = &pm; break;
		case 4: serial_input(&s, &data[i + 1], 2); continue;
		default: continue;
		}
		if (wr) {
			if (ops->write)
				ops->write(dev, off % 8, val, len);
		} else if (ops->read) {
			ops->read(dev, off % 8, val, len);
		}
		if (s.rx_count > SERIAL_FIFO)
			abort();
	}
	serial_destroy(&s);
	rtc_destroy(&r);
	i8042_destroy(&k);
	return 0;
}
