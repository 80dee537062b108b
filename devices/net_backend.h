/* SPDX-License-Identifier: MIT */
/* virtio-net's inside, shared by the device (net.c) and its backends: the
 * device's state and the one interface every backend implements. A backend
 * is a const struct net_backend_ops in its own file (net_tap.c: a tap;
 * net_stream.c: a unix stream socket), chosen once by net_open from
 * cfg->backend; the workers in net.c call it and name no backend. Another
 * one (vhost-net, AF_XDP) is a new file, an enum net_backend value and a
 * row in net.c's table. Every hook but open runs on the thread that says
 * so, under that thread's seccomp filter (virtio/worker_jail.c): a hook that needs a
 * system call the filter lacks needs a rule there. */
#ifndef CVMM_NET_BACKEND_H
#define CVMM_NET_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/net.h"
#include "devices/virtio/limiter.h"

/* A TX request: one frame on its way to the backend. */
struct net_tx_req {
	uint16_t head;
	unsigned niov;
	uint64_t bytes;	   /* the chain's: the frame and its virtio-net header (metrics) */
	size_t left;	   /* the backend's: bytes still to write (stream) */
	uint8_t len_be[4]; /* the backend's: a stream's length prefix */
	struct iovec iov[NET_TX_SEGS + 1];
	struct net_tx_req *next_free;
};

/* A packet-per-read backend's read buffer (rx_slots): free, a read in
 * flight into it, or a packet waiting to be delivered (in the queue's ready
 * FIFO). */
enum net_slot_state { NET_SLOT_FREE, NET_SLOT_READING, NET_SLOT_READY };
struct net_rx_slot {
	uint8_t *buf; /* owned, rx_cap bytes */
	size_t len;   /* what its read brought: the header, then the frame */
	enum net_slot_state state;
};

struct net_rxq {
	struct vq_worker w;
	struct net *n;
	unsigned pair;
	struct vq_chain chain;
	/* A byte-stream backend (rx_slots 0): one read at a time into buf. */
	uint8_t *buf; /* owned, cap bytes: what the backend read, [off, fill) not delivered */
	size_t cap, off, fill;
	/* A packet-per-read backend (rx_slots N): up to `depth` reads in
	 * flight, each into its own slot; the packets they brought are
	 * delivered in the order their reads completed (ready[], a FIFO of
	 * slot indices from ready_head), which is the order the backend
	 * queued them: the worker's thread runs the reads one after the
	 * other and the ring posts their completions in that order. */
	struct net_rx_slot slot[NET_RX_SLOTS];
	uint8_t ready[NET_RX_SLOTS];
	unsigned nslots, depth, reads_out, ready_head, nready;
	unsigned got; /* reads that brought a packet since the last batch */
	bool reading, eof, stalled, pushed;
	uint64_t limit_since; /* its wait for the RX rate limiter began (0: none) */
	bool paid;	      /* the packet at off took its tokens (it waits for buffers) */
	/* metrics (net_metrics): this queue's worker writes them */
	_Atomic uint64_t packets, bytes, dropped, read_fails, waits, reads;
};

struct net_txq {
	struct vq_worker w;
	struct net *n;
	unsigned pair;
	struct vq_chain chain;
	struct net_tx_req *free;
	struct net_tx_req *busy; /* a tx_serial backend's write in flight */
	bool pushed;
	uint64_t limit_since; /* its wait for the TX rate limiter began (0: none) */
	/* metrics (net_metrics): this queue's worker writes them */
	_Atomic uint64_t packets, bytes, malformed, dropped, write_fails;
	struct net_tx_req reqs[NET_QUEUE_MAX];
};

struct net_ctrlq {
	struct vq_worker w;
	struct net *n;
	struct vq_chain chain;
};

struct net {
	struct virtio_dev vdev;
	const struct net_backend_ops *be; /* static const, chosen by net_open */
	unsigned index, pairs;
	unsigned poll_us;	/* its TX workers' largest poll window (net_cfg) */
	bool rx_no_batch;	/* its RX workers SCHED_OTHER (net_cfg) */
	int fds[NET_MAX_PAIRS]; /* owned: the backend's, one per queue pair */
	unsigned nfds;
	uint8_t mac[6];
	bool ufo; /* the tap's: it takes TUN_F_UFO */
	atomic_uint active_pairs;
	atomic_bool link_up;
	atomic_int steer_errno; /* the control worker's first steer failure */
	struct net_rxq *rx[NET_MAX_PAIRS];
	struct net_txq *tx[NET_MAX_PAIRS];
	struct net_ctrlq *ctrl;
	struct vq_limiter limit[2]; /* RX (shared by the RX queues), TX */
	unsigned nworkers;	    /* made so far, in queue order */
	bool started;
	/* a restore's active pair count for the activation it makes (0:
	 * none, the driver's DRIVER_OK: 1) */
	unsigned restore_pairs;
	struct net_mmds *mmds; /* owned: MMDS's detour (net_mmds.c); NULL: none */
};

struct net_backend_ops {
	/* Main thread: opens what cfg names (cfg->backend is one of this
	 * backend's) into n->fds, one fd per queue pair (n->pairs of them;
	 * n->nfds counts them, and net_destroy closes them, even after a
	 * failure), and writes the seed of the default MAC address (the
	 * backend's kind and identity, e.g. "tap:tap0") into seed. */
	int (*open)(struct net *n, const struct net_cfg *cfg, char *seed, size_t seedlen,
		    struct err *e);
	/* Optional, main thread: the feature bits it offers besides the
	 * device's own (offloads). */
	uint64_t (*features)(const struct net *n);
	/* Optional, the vCPU thread at DRIVER_OK (it may print): what the
	 * backend does once the driver's features are known and the driver
	 * uses one queue pair. */
	void (*activate)(struct net *n);
	/* Optional, the control worker (it may not print): the driver uses
	 * the first `pairs` queue pairs now. 0, or the first failure's errno. */
	int (*steer)(struct net *n, unsigned pairs);

	/* RX worker. Either a byte stream (rx_slots 0: one read at a time
	 * into rq->buf + rq->fill, at most rq->cap - rq->fill bytes, cut into
	 * packets by rx_next) or one packet per read with its NET_HDR_LEN
	 * header first (rx_slots N, at most NET_RX_SLOTS: a tap; up to N reads
	 * in flight, each into its own buffer of rx_cap bytes; rx_room and
	 * rx_next unused). */
	size_t rx_cap; /* the buffer's size (each slot's) */
	unsigned rx_slots;
	/* Whether a read may go out now (room made first, e.g. a partial
	 * frame moved to the start); false while what is there must be
	 * delivered first. */
	bool (*rx_room)(struct net_rxq *rq);
	/* The next whole packet in [off, fill): 1 and its parts (hdr:
	 * NET_HDR_LEN bytes; data, len: the frame; consumed: its bytes in the
	 * buffer), 0 if none yet, -1 when the peer broke the framing (the
	 * device hangs up: link down, the buffer dropped). */
	int (*rx_next)(struct net_rxq *rq, const uint8_t **hdr, const uint8_t **data, size_t *len,
		       size_t *consumed);
	/* A read ended in end of file or an error (not -EAGAIN, -EINTR or
	 * -ECANCELED, which are read again): stop reading, for good
	 * (rq->eof) or until the next kick (rq->stalled). */
	void (*rx_failed)(struct net_rxq *rq);

	/* TX worker. */
	bool tx_serial; /* one write at a time, so that frames never interleave */
	/* Fills r->iov and r->niov (at most NET_TX_SEGS + 1) with what to
	 * write for the frame in chain c. -EINVAL for a chain to drop
	 * (net_tx_iov's rules). */
	int (*tx_prepare)(struct net_tx_req *r, const struct vq_chain *c);
	/* r's write ended with res: 0 when r is done, 1 when the rest of it
	 * goes out again (r->iov advanced past what was written), -1 when it
	 * failed (the frame is counted as an error and dropped). */
	int (*tx_written)(struct net *n, struct net_tx_req *r, int res);
};

extern const struct net_backend_ops net_tap_ops;
extern const struct net_backend_ops net_stream_ops;

/* Whether the driver accepted feature `bit` (VIRTIO_NET_F_*). */
static inline bool net_has_feature(const struct net *n, unsigned bit)
{
	return n->vdev.driver_features & (1ULL << bit);
}

/* The link goes up or down (a stream peer hung up): the configuration's
 * status changes and the driver is told. Any thread. */
void net_link_change(struct net *n, bool up);

/* MMDS's detour (net_mmds.c), on an interface with n->mmds. Main thread:
 * its responder on the store (borrowed). */
__attribute__((warn_unused_result)) int net_mmds_new(struct net_mmds **out,
						     struct mmds_store *store, struct err *e);
void net_mmds_free(struct net_mmds *m);
/* TX worker: whether the chain's frame was the MMDS's (then handled). */
bool net_mmds_tx(struct net_txq *tq, const struct vq_chain *c);
/* RX pair 0's worker: the responder's frames into the guest's buffers;
 * -EINVAL when the queue is broken. */
int net_mmds_rx(struct net_rxq *rq);

#endif
