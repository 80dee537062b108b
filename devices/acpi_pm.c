/* SPDX-License-Identifier: MIT */
#include "devices/legacy.h"

#include <string.h>

/* Offsets from the first register (x86: port 0x600). */
enum { PM_SLEEP_CTL = 0, PM_SLEEP_STS = 1, PM_RESET = 2 };

void acpi_pm_init(struct acpi_pm *p, const struct sys_ctl *sys)
{
	p->sys = *sys;
}

static void acpi_pm_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len); /* sleep status: never asleep */
}

static void acpi_pm_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct acpi_pm *p = dev;
	if (len != 1)
		return;
	if (off == PM_SLEEP_CTL && (data[0] & ACPI_PM_SLP_EN)) {
		unsigned slp_typ = (data[0] >> 2) & 7;
		if (slp_typ == ACPI_PM_S5_SLP_TYP)
			sys_event(&p->sys, SYS_EVENT_POWEROFF, "ACPI S5");
		/* Other sleep states are not offered in the DSDT: ignore. */
	} else if (off == PM_RESET && data[0] == ACPI_PM_RESET_VALUE) {
		sys_event(&p->sys, SYS_EVENT_RESET, "ACPI reset register");
	}
}

static void debug_exit_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct debug_exit *d = dev;
	if (d->exit && len >= 1)
		d->exit(d->ctx, (data[0] << 1) | 1);
}

const struct bus_ops debug_exit_ops = {
	.write = debug_exit_write,
};

const struct bus_ops acpi_pm_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};
