/* SPDX-License-Identifier: MIT */
/* virtio-rng, the entropy device (virtio 1.2, section 5.4). */
#ifndef CVMM_RNG_H
#define CVMM_RNG_H

#include <linux/virtio_rng.h> /* VIRTIO_ID_RNG */
#include <stdint.h>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"

#define RNG_QUEUE_MAX 64
#define RNG_CHAIN_MAX (64u << 10) /* bytes given for one request at most */

/* The random source: fills buf, returns the bytes it filled (< len only
 * on an error). rng_getrandom is the host's getrandom(2). */
typedef size_t (*rng_source)(void *buf, size_t len);
size_t rng_getrandom(void *buf, size_t len);

/* The model: fills the writable part of chain c from src, at most max
 * bytes; returns the bytes written (the used length to push). */
uint32_t rng_fill(const struct vq_chain *c, uint32_t max, rng_source src);

struct rng_cfg {
	rng_source source;   /* NULL: rng_getrandom */
	struct rl_cfg limit; /* its rate limiter: the bytes asked for, 1 op per request */
};

struct rng;
__attribute__((warn_unused_result)) int rng_open(struct rng **out, const struct rng_cfg *cfg,
						 unsigned index, struct err *e);
__attribute__((warn_unused_result)) int rng_start(struct rng *g, const struct guest_mem *mem,
						  const struct virtio_irqfds *irq, struct err *e);
struct virtio_dev *rng_vdev(struct rng *g);
int rng_kick_fd(struct rng *g, unsigned q);
unsigned rng_queues(const struct rng *g);
void rng_destroy(struct rng *g);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc rng_desc;

#endif
