/* SPDX-License-Identifier: MIT */
/* One worker thread per virtqueue. Created with the VM (on the main thread,
 * which also builds its io_uring and its seccomp filter), it installs its
 * filter first thing and then waits on its io_uring only: queue kicks
 * (ioeventfd), commands from the transport (activate on DRIVER_OK, reset,
 * exit) and the device's I/O all arrive as completions. */
#ifndef CVMM_VIRTIO_WORKER_H
#define CVMM_VIRTIO_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "devices/virtio/virtio.h"
#include "core/err.h"
#include "core/jail.h"

struct vq_worker;

/* Device-model hooks, called on the worker thread. */
struct vq_worker_ops {
	/* Serve the available chains of w->q (submit I/O or complete now). */
	void (*kick)(struct vq_worker *w);
	/* An I/O this worker submitted finished; `drop` is true when the queue
	 * was reset meanwhile (free the request, do not touch the ring). */
	void (*complete)(struct vq_worker *w, struct io_uring_cqe *cqe, bool drop);
	/* Optional: the queue is being reset or the worker is exiting while I/O
	 * is in flight; cancel what may never complete by itself (a read on a
	 * tap or socket). Cancel SQEs carry WORKER_TAG_IGNORE. */
	void (*quiesce)(struct vq_worker *w);
	/* Optional: called once after each batch of completions (every CQE
	 * the ring had), while the queue is active: notify the driver once for
	 * the batch and serve chains the completions made room for. New SQEs
	 * need no io_uring_submit: the worker's next wait submits them in the
	 * same system call. */
	void (*flush)(struct vq_worker *w);
	/* Optional: the worker is pausing (a snapshot, vq_worker_pause_start):
	 * called as the pause starts and after each round until it completes.
	 * True when what the device still has in flight cannot reach guest
	 * memory or the rings (a tap or socket read into its own buffer):
	 * the pause then completes without waiting for it, and the device
	 * handles those completions while paused (w->paused) leaving the rings
	 * alone until the resume's kick. A device with a queue of its own
	 * besides w->q records its positions here (virtio_vq_record). Without
	 * it, the pause waits until no I/O is in flight, its completions
	 * handled as always (pushed to the used ring). */
	bool (*pause)(struct vq_worker *w);
};

#define WORKER_FILE_KICK     0 /* registered file indices */
#define WORKER_FILE_CTL	     1
#define WORKER_FILE_DEV	     2 /* first device file */
#define WORKER_MAX_DEV_FILES 16
#define WORKER_TAG_KICK	     1 /* user_data of the eventfd reads; I/O uses pointers */
#define WORKER_TAG_CTL	     2
#define WORKER_TAG_IGNORE    3 /* completions nobody waits for (cancels) */
#define WORKER_TAG_TIMER     4 /* vq_worker_timer's timeouts */
#define WORKER_MAX_TIMERS    4 /* timeouts one worker has pending at most */

/* A worker's grant, all in one place: the seccomp table its thread loads
 * (worker_jail.c, by pointer) and what its io_uring may do, which seccomp does
 * not see. Each device exports its workers' grants with its descriptor
 * (vdev_desc.grants); `cvmm --print-jail` prints them with the tables. */
struct vq_grant {
	const char *thread;	       /* its thread's name, as a pattern: "cvmm-blk<N>-q<M>" */
	const struct jail_table *jail; /* its seccomp table (worker_jail.c) */
	/* io_uring opcodes its ring allows besides READ (every worker's own,
	 * for its eventfds): at most WORKER_MAX_OPS, more is an error */
	const uint8_t *uring_ops;
	unsigned nuring_ops;
	/* IORING_REGISTER_FILES_UPDATE, the one register opcode its ring
	 * then allows (virtio-fs's open files) */
	bool files_update;
	const char *files; /* its registered files besides its eventfds, in words, or NULL */
};
/* The opcode list of a grant, from an array. */
#define VQ_GRANT_OPS(a) .uring_ops = (a), .nuring_ops = sizeof(a) / sizeof((a)[0])

/* Adaptive polling (as QEMU's iothread polls, its poll-max-ns): after a
 * batch the worker keeps kicks off and watches the available ring (and its
 * own completion ring) for up to `ns` before it turns kicks back on and
 * waits, so that a driver quick to send its next request sends it without
 * a kick (a VM exit). The window tunes itself after each wait that began
 * with one (vq_poll_tune, `waited` from the window's start to whatever
 * ended the wait): work within the window leaves it; a wait longer than
 * max_ns halves it (under VQ_POLL_START_NS: none); a wait between grows it
 * (none: VQ_POLL_START_NS, else doubled; at most max_ns). max_ns 0: off. */
#define VQ_POLL_START_NS 4000ULL
/* the largest max_ns: a window is spun on a core, and a worker must see its
 * commands (pause, reset, exit) between its windows at the latest */
#define VQ_POLL_MAX_NS 10000000ULL
struct vq_poll {
	uint64_t max_ns; /* 0: no polling */
	uint64_t ns;	 /* the window now, 0..max_ns */
};
void vq_poll_init(struct vq_poll *p, uint64_t max_ns);
void vq_poll_tune(struct vq_poll *p, uint64_t waited_ns);

struct vq_worker_cfg {
	const struct vq_worker_ops *ops;
	void *model;		      /* borrowed */
	const struct vq_grant *grant; /* static const, the device's own */
	const int *dev_fds;	      /* files the device's I/O may touch */
	unsigned ndev_fds;
	unsigned ring_entries;
	/* Empty registered-file slots after the device files (at most
	 * WORKER_MAX_SPARSE): filled by the ring itself (accept/socket
	 * "direct": vsock's connections) or, with the grant's files_update,
	 * by the worker (virtio-fs's open files). */
	unsigned sparse_files;
	const char *name;   /* thread name, e.g. "cvmm-blk0-q0" */
	uint64_t keep_caps; /* CAP_* mask the thread keeps (default: none) */
	/* The thread runs under SCHED_BATCH: woken while its CPU runs another
	 * thread, it waits for that thread's time slice to end instead of
	 * preempting it (on an idle CPU it runs at once, as always). For a
	 * worker woken by a producer that may share its CPU (virtio-net's RX,
	 * woken by each frame the tap queues): it then finds a batch rather
	 * than one frame per wake-up, two context switches a frame. */
	bool batch_sched;
	/* The worker also serves queue also_notify_q (vsock: RX) and raises
	 * its interrupt: its filter lets it write that eventfd too. */
	bool also_notify;
	unsigned also_notify_q;
	/* adaptive polling's largest window (vq_poll), ns; 0: none (at most
	 * VQ_POLL_MAX_NS) */
	uint64_t poll_max_ns;
};
#define WORKER_MAX_SPARSE 4096
/* The workers' seccomp tables (worker_jail.c): a virtqueue worker's, and
 * the kinds that need more (virtio-net's control queue, virtio-fs,
 * virtio-rng, virtio-balloon). */
extern const struct jail_table vq_jail_worker, vq_jail_net_ctrl, vq_jail_fs, vq_jail_rng;
extern const struct jail_table vq_jail_balloon;
/* virtio-net's TX workers: the MMDS responder reads the clock */
extern const struct jail_table vq_jail_net_tx;
/* io_uring opcodes a device may ask for besides READ (the worker's own):
 * more is an error (E2BIG), not a shorter list. */
#define WORKER_MAX_OPS 13

struct vq_worker {
	struct virtio_dev *dev; /* borrowed */
	unsigned qidx;
	struct vq q; /* valid while active */
	const struct vq_worker_ops *ops;
	void *model;
	struct io_uring ring;
	bool ring_ready;
	int kick_fd; /* owned: the queue's ioeventfd */
	int ctl_fd;  /* owned: commands */
	uint64_t kick_buf, ctl_buf;
	void *filter; /* owned scmp_filter_ctx until the thread loads it */
	pthread_t thread;
	bool started;
	bool inline_run; /* no thread: the caller runs the loop (vq_worker_run) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int cmd;       /* pending command, under lock */
	bool cmd_done; /* under lock */
	bool dead;     /* under lock: the thread has ended */
	bool active, draining, exiting;
	/* paused: a snapshot's pause took effect (kicks are not served, its
	 * queue takes nothing: vq.paused); pausing: until every I/O that can
	 * reach guest memory ended. Worker thread only. */
	bool paused, pausing;
	unsigned inflight;
	/* kicks (ioeventfd reads) it served while active: the queue's events,
	 * written by the worker (vdev_count), read by any thread */
	_Atomic uint64_t kicks;
	struct vq_poll poll; /* its adaptive polling (worker thread only) */
	/* vq_worker_timer: timeouts pending, the earliest one's due time
	 * (CLOCK_MONOTONIC ns; UINT64_MAX: not known), their timespecs until
	 * the kernel has read them (at the next submit). Worker thread only. */
	unsigned timers, timer_seq;
	uint64_t timer_due;
	struct __kernel_timespec timer_ts[WORKER_MAX_TIMERS];
	char name[16];
	int test_violation;   /* test builds: make a syscall outside the filter */
	int test_uring_probe; /* test builds: submit what its ring must refuse */
	uint64_t keep_caps;   /* capabilities it keeps (vq_worker_cfg) */
	bool batch_sched;     /* SCHED_BATCH (vq_worker_cfg) */
};

/* Main thread: eventfds, restricted io_uring, seccomp filter, thread. */
__attribute__((warn_unused_result)) int vq_worker_create(struct vq_worker *w,
							 struct virtio_dev *dev, unsigned qidx,
							 const struct vq_worker_cfg *cfg,
							 struct err *e);
/* Transport (vCPU thread, device lock held): start serving the queue with
 * the driver's configuration in dev->qcfg[qidx]; returns once it started. */
void vq_worker_activate(struct vq_worker *w);
/* Stop serving; returns once every in-flight I/O finished. */
void vq_worker_reset(struct vq_worker *w);
/* The same in two steps, so that a vCPU need not wait for I/O that may
 * never end: reset_start tells the worker to stop serving and drop the
 * queue (it cancels what its device's quiesce can) and returns at once;
 * reset_wait says whether the worker is done (stopped, every in-flight I/O
 * ended: nothing more reaches guest memory through it), waiting for it
 * until `until` (CLOCK_MONOTONIC), not at all if NULL. Call reset_wait
 * until it says so before activating the worker again. */
void vq_worker_reset_start(struct vq_worker *w);
bool vq_worker_reset_wait(struct vq_worker *w, const struct timespec *until);
/* A snapshot's pause, in two steps like the reset's: pause_start tells
 * the worker to take no more chains and returns at once; pause_wait says
 * whether it is paused (no I/O of it can reach guest memory or the rings
 * any more: what was in flight completed and was pushed, unless the
 * device's pause hook said it cannot; its queue's positions recorded in
 * its device's qpos), waiting for it until `until` (CLOCK_MONOTONIC), not
 * at all if NULL. resume (after a pause, complete or not) lets it go on
 * and kicks it once; returns once it did. The worker's queue keeps its
 * state across (not a reset). */
void vq_worker_pause_start(struct vq_worker *w);
bool vq_worker_pause_wait(struct vq_worker *w, const struct timespec *until);
void vq_worker_resume(struct vq_worker *w);
/* Main thread: stop and join the thread, close everything. */
void vq_worker_destroy(struct vq_worker *w);
/* Worker thread: submit and forget an SQE slot. NULL if the SQ is full
 * (only after the caller submitted more than ring_entries). */
/* Worker side: the next chain of the worker's queue (1), none (0), or a
 * broken queue (< 0: the device is marked NEEDS_RESET and the worker stops
 * serving the queue). */
int vq_worker_pop(struct vq_worker *w, struct vq_chain *c);
/* Worker side: asks the kernel to cancel the in-flight I/O whose user_data
 * is `io` (its completion then arrives with -ECANCELED). Needs
 * IORING_OP_ASYNC_CANCEL in the worker's allowed opcodes. */
void vq_worker_cancel(struct vq_worker *w, const void *io);
/* Any thread (its grant's files_update): puts fd in registered file slot
 * `slot` of w's ring, in place of the file there. I/O already submitted
 * goes on with the old file, which the kernel holds until that I/O ends;
 * SQEs submitted after this use fd. 0 or -errno. */
__attribute__((warn_unused_result)) int vq_worker_files_update(struct vq_worker *w, unsigned slot,
							       int fd);
/* Worker side: the queue is served again (its ops' kick, as for a guest's
 * kick but not counted as one) in ns nanoseconds, by an IORING_OP_TIMEOUT on
 * the worker's own ring (the grant must allow it). Nothing new is armed when
 * a timeout that ends no later is pending: a device waiting for a rate
 * limiter asks at every kick and gets one wake-up. */
void vq_worker_timer(struct vq_worker *w, uint64_t ns);
/* Any thread: the worker serves its queue as if the guest had kicked (its
 * kick eventfd written): a rate limiter replaced, a wait to reconsider. */
void vq_worker_wake(struct vq_worker *w);
/* An io_uring opcode's name without IORING_OP_ ("READV"), or NULL. */
const char *vq_uring_op_name(unsigned op);
struct io_uring_sqe *vq_worker_sqe(struct vq_worker *w);

/* Inline workers, for tests and fuzz targets that want one thread and a
 * repeatable order: a device whose virtio_dev has inline_workers set
 * before its start gets workers with no thread and no filter; its
 * commands (activate, reset, exit) run the worker's loop on the calling
 * thread until handled (a timed reset wait, until its time), and
 * vq_worker_run handles what is ready, and what that makes ready in turn,
 * waiting up to wait_ms for each further completion (0: not at all);
 * returns the completions handled. vq_worker_settle runs it until no I/O
 * is in flight (for devices whose I/O all ends by itself: blk). Both do
 * nothing for a threaded worker. */
unsigned vq_worker_run(struct vq_worker *w, unsigned wait_ms);
void vq_worker_settle(struct vq_worker *w);
/* The same for every inline worker of a device, in creation order. */
unsigned vq_workers_run(struct virtio_dev *d, unsigned wait_ms);
void vq_workers_settle(struct virtio_dev *d);

#endif
