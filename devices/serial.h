/* SPDX-License-Identifier: MIT */
/* 8250/16550A UART (COM1). Output bytes go to out_fd as the guest writes
 * them; input is queued by the main thread with serial_input(). */
#ifndef CVMM_SERIAL_H
#define CVMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/irq.h"
#include "core/bus.h"
#include "core/err.h"
#include "core/ratelimit.h"

struct snap_w;
struct snap_r;

#define SERIAL_FIFO 64

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	int out_fd; /* borrowed; -1: output discarded */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending; /* THR-empty interrupt raised and not yet acknowledged */
	bool irq_level;
	uint8_t rx[SERIAL_FIFO];
	unsigned rx_head, rx_count;
	uint64_t tx_bytes;
	uint64_t tx_missed; /* bytes the console could not take (full, closed): dropped */
	bool out_stalled;   /* the console took nothing for SERIAL_STALL_MS: dropping */
	/* Output rate limit (Firecracker's serial rate_limiter): a byte the
	 * bandwidth bucket has no token for is dropped and counted. */
	bool limited;
	struct rl limit;
	uint64_t tx_limited;
};

extern const struct bus_ops serial_ops;

__attribute__((warn_unused_result)) int serial_init(struct serial *s, const struct irq_line *irq,
						    int out_fd);
void serial_destroy(struct serial *s);
/* Limits the output to c's bandwidth bucket (bytes; its ops bucket is not
 * used); NULL or a bucket that limits nothing: no limit. */
void serial_set_limit(struct serial *s, const struct rl_cfg *c);
/* Snapshot: section "serial" inst (devices/legacy_snap.c). */
void serial_save(struct serial *s, struct snap_w *w, uint32_t inst);
__attribute__((warn_unused_result)) int serial_restore(struct serial *s, const struct snap_r *r,
						       uint32_t inst, struct err *e);
/* Queues up to len bytes of input; returns how many were taken (the FIFO
 * holds SERIAL_FIFO). Thread-safe. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);

#endif
