/* SPDX-License-Identifier: MIT */
/* Transport-neutral hooks a device uses to reach the VM: an interrupt line
 * and system events (power off, reset). Devices never see KVM. */
#ifndef CVMM_DEV_IRQ_H
#define CVMM_DEV_IRQ_H

#include <stdint.h>

struct irq_line {
	void (*set)(void *ctx, uint32_t gsi, int level); /* NULL: not wired */
	void *ctx;					 /* borrowed */
	uint32_t gsi;
};

static inline void irq_set_level(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->ctx, l->gsi, level);
}

enum sys_event {
	SYS_EVENT_POWEROFF = 1,
	SYS_EVENT_RESET = 2,
};

struct sys_ctl {
	void (*event)(void *ctx, enum sys_event ev, const char *why); /* NULL: ignored */
	void *ctx;						      /* borrowed */
};

static inline void sys_event(const struct sys_ctl *c, enum sys_event ev, const char *why)
{
	if (c->event)
		c->event(c->ctx, ev, why);
}

#endif
