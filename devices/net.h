/* SPDX-License-Identifier: MIT */
/* virtio-net: the device model (TX/RX chain handling, control queue, no
 * syscalls) and its backends: a tap (IFF_VNET_HDR, one fd per queue pair)
 * or a stream socket speaking the 4-byte length-prefixed frame protocol of
 * passt and QEMU's -netdev stream. One worker per virtqueue: RX and TX of
 * each pair and the control queue. */
#ifndef CVMM_NET_H
#define CVMM_NET_H

#include <linux/virtio_net.h> /* VIRTIO_NET_*, the header, config, control structs */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/worker.h"
#include "core/err.h"

#define NET_MAX_PAIRS 8
#define NET_QUEUE_MAX 256
/* The header before each frame either way (VERSION_1: num_buffers included) */
#define NET_HDR_LEN sizeof(struct virtio_net_hdr_v1)
/* Largest frame either way: a 64 KiB GSO packet plus its Ethernet and VLAN
 * headers (QEMU's stream protocol limit is close: 4 KiB + 64 KiB). */
#define NET_MAX_FRAME	  (65536 + 4096)
#define NET_MIN_FRAME	  14  /* an Ethernet header */
#define NET_TX_SEGS	  64  /* iovecs per TX request */
#define NET_RX_MAX_CHAINS 256 /* buffers one received packet may span */
#define NET_RX_SLOTS	  8   /* tap reads one RX queue has in flight at most */

/* ---- the device model: pure functions over chains and queues -------------- */

/* TX: the chain's readable part is a 12-byte header and a frame. Fills iov
 * (at most max entries) with what the backend sends: the header and the
 * frame (keep_hdr, a tap) or the frame alone (a stream peer has no
 * header). Returns the entry count, or -EINVAL for a chain to drop (shorter
 * than a header and an Ethernet header, longer than NET_MAX_FRAME, GSO
 * requested where the backend cannot take it, or more than max segments).
 * *frame_len is the frame's length without the header. */
__attribute__((warn_unused_result)) int net_tx_iov(const struct vq_chain *c, bool keep_hdr,
						   bool gso_ok, struct iovec *iov, unsigned max,
						   size_t *frame_len);

/* RX: delivers one packet (hdr, NET_HDR_LEN bytes, then len bytes of
 * frame) into the queue's available buffers: one chain, or with mergeable
 * buffers as many as it needs (num_buffers set in the header). Returns 1
 * when delivered (pushed, caller notifies), 0 when the posted buffers do
 * not hold it yet (nothing consumed: wait for the driver to post more),
 * -EMSGSIZE when the packet does not fit the buffers the driver posts
 * (drop it; the chains go back to the ring unused, for the next packet),
 * -EINVAL when the queue is broken. `scratch` is caller storage for walking chains. */
__attribute__((warn_unused_result)) int net_rx_deliver(struct vq *q, struct vq_chain *scratch,
						       bool mergeable, const uint8_t *hdr,
						       const uint8_t *data, size_t len);

/* The control queue: parses one command chain (class, command, data, then
 * a writable ack byte). Returns the ack, and for MQ VQ_PAIRS_SET the pairs
 * asked for in *pairs (0 otherwise). -EINVAL when the chain has no
 * writable byte for the ack. */
__attribute__((warn_unused_result)) int net_ctrl_parse(const struct vq_chain *c, unsigned max_pairs,
						       bool mq, unsigned *pairs);

/* A stable, locally administered unicast MAC from the backend's identity
 * (tap name or socket path) and the interface index. */
void net_default_mac(const char *seed, unsigned index, uint8_t mac[6]);

/* ---- the device and its backend ------------------------------------------- */

struct mmds_store; /* devices/mmds.h */

enum net_backend {
	NET_TAP = 1,	   /* open (or create) the named tap */
	NET_TAPFD,	   /* an open tap fd a manager passed in (borrowed, dup'ed) */
	NET_STREAM,	   /* connect to a unix stream socket (passt, qemu) */
	NET_STREAM_LISTEN, /* listen on a unix socket, wait for one peer */
};

struct net_cfg {
	enum net_backend backend;
	const char *target; /* tap name or socket path */
	int fd;		    /* NET_TAPFD */
	unsigned pairs;	    /* queue pairs (tap only), 1..NET_MAX_PAIRS */
	bool has_mac;
	uint8_t mac[6];
	/* rate limiters: RX (bytes delivered to the guest with their header,
	 * 1 op per frame), TX (bytes of each chain, 1 op per frame) */
	struct rl_cfg rx_limit, tx_limit;
	/* each TX worker's adaptive polling, its largest window in us (0:
	 * none; at most VQ_POLL_MAX_NS / 1000): worker.h, vq_poll. RX does not
	 * poll: it waits on the backend, not on the driver. */
	unsigned poll_us;
	bool rx_no_batch;	 /* RX workers SCHED_OTHER instead of SCHED_BATCH */
	struct mmds_store *mmds; /* borrowed (the VM's): MMDS on this interface; NULL: none */
};

struct net;
/* Opens the backend on the main thread: the tap queues (with the vnet
 * header and offloads checked), or the socket (connecting, or listening
 * and waiting for the peer). */
__attribute__((warn_unused_result)) int net_open(struct net **out, const struct net_cfg *cfg,
						 unsigned index, struct err *e);
/* Creates the virtio device and its workers; the interrupt eventfds in irq are the transport's
 * (borrowed) until then, then by the device. */
__attribute__((warn_unused_result)) int net_start(struct net *n, const struct guest_mem *mem,
						  const struct virtio_irqfds *irq, struct err *e);
struct virtio_dev *net_vdev(struct net *n);
/* The ioeventfd of queue q (owned by the device). */
int net_kick_fd(struct net *n, unsigned q);
unsigned net_queues(const struct net *n);
void net_mac(const struct net *n, uint8_t mac[6]);
void net_destroy(struct net *n);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc net_desc;

#endif
