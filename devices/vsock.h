/* SPDX-License-Identifier: MIT */
/* virtio-vsock (virtio 1.2, section 5.10) with the host side on unix
 * sockets, in the protocol of Firecracker and Cloud Hypervisor:
 * - host-initiated: cvmm listens on PATH; a client connects and writes
 *   "CONNECT <port>\n"; when the guest accepts, cvmm answers
 *   "OK <host_port>\n" and splices the two streams;
 * - guest-initiated: a guest connection to CID 2 port P goes to the unix
 *   socket "PATH_P".
 * The device model (header parsing, credit accounting, the connection state
 * machine, the CONNECT line parser) is pure and lives in vsock_model.c; the
 * device (one worker thread owning all three queues and every socket, I/O
 * through io_uring) is vsock.c. */
#ifndef CVMM_VSOCK_H
#define CVMM_VSOCK_H

#include <linux/virtio_vsock.h> /* VIRTIO_VSOCK_*, the header and config structs */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "core/err.h"

#define VSOCK_HOST_CID	    2
#define VSOCK_MIN_GUEST_CID 3
#define VSOCK_HDR_LEN	    sizeof(struct virtio_vsock_hdr)
#define VSOCK_QUEUE_MAX	    256
#define VSOCK_MAX_PKT	    (64 * 1024) /* payload of one packet, either way (Linux's limit) */
/* Per connection, guest -> socket: the buffer, and what we advertise as
 * buf_alloc less what host-side output reserves in it (vsock_buf_alloc); the
 * guest may not have more unforwarded bytes in flight than that. */
#define VSOCK_TX_BUF (256 * 1024)
/* Per connection, socket -> guest: one read's worth, delivered before the
 * next read is issued (the socket's own buffer holds the rest). */
#define VSOCK_RX_BUF (64 * 1024)
/* Connections at once; each is a registered file of the worker's io_uring,
 * which must stay under RLIMIT_NOFILE (1024 by default). */
#define VSOCK_MAX_CONNS	      512
#define VSOCK_LINE_MAX	      64	 /* "CONNECT <port>\n" from a host client */
#define VSOCK_FIRST_HOST_PORT (1u << 30) /* host ports we pick (as Firecracker) */
/* How long a connection may wait on its other end before it is reset (RST
 * to the guest, the host socket shut down, the slot freed); both 2 s, as
 * Firecracker's CONN_REQUEST_TIMEOUT_MS and CONN_SHUTDOWN_TIMEOUT_MS:
 * - the guest's answer to our REQUEST, from when the REQUEST is delivered;
 * - a connection that is shutting down, from the last data moved: after
 *   our SHUTDOWN (host EOF), the guest's ending it (RST, SHUTDOWN of both);
 *   after the guest's SHUTDOWN of both directions, the host peer's taking
 *   what the guest sent before it. */
#define VSOCK_REQUEST_TIMEOUT_MS  2000
#define VSOCK_SHUTDOWN_TIMEOUT_MS 2000

/* struct virtio_vsock_hdr in host byte order (vsock_hdr_decode/_encode). */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

/* ---- the device model: pure, no syscalls ----------------------------------- */

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN]);

/* A TX chain from the guest: reads and checks its header. Returns 0 for a
 * packet to act on (h->len payload bytes follow the header in the chain),
 * -EPROTONOSUPPORT for a well-formed packet of another socket type (answer
 * with a reset), -EINVAL for one to drop (shorter than a header, payload
 * longer than the chain or VSOCK_MAX_PKT, wrong source or destination CID,
 * unknown op). */
__attribute__((warn_unused_result)) int vsock_tx_parse(const struct vq_chain *c, uint64_t guest_cid,
						       struct vsock_hdr *h);

/* Credit (virtio 1.2, 5.10.6.3), from the device's point of view. All
 * counters wrap at 2^32 as the spec's do. */
struct vsock_credit {
	uint32_t rx_cnt;		       /* payload bytes received from the guest */
	uint32_t fwd_cnt;		       /* of those, bytes written to the socket */
	uint32_t fwd_sent;		       /* fwd_cnt as last told to the guest */
	uint32_t tx_cnt;		       /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's, from its last header */
};
/* Bytes we may send to the guest now; 0 when a hostile guest's counters
 * claim it forwarded more than we sent. */
uint32_t vsock_peer_credit(const struct vsock_credit *c);
/* Whether the guest should hear about freed space now (a CREDIT_UPDATE). */
bool vsock_credit_update_due(const struct vsock_credit *c);

enum vsock_state {
	VSOCK_FREE = 0,
	VSOCK_ACCEPTING,	/* slot reserved for the next host client */
	VSOCK_HOST_LINE,	/* host client connected, reading "CONNECT <port>\n" */
	VSOCK_HOST_REQUEST,	/* REQUEST sent to the guest, waiting for RESPONSE */
	VSOCK_GUEST_CONNECTING, /* guest REQUEST: connecting to PATH_P */
	VSOCK_ESTABLISHED,
	VSOCK_CLOSING, /* finishing: RST to deliver, data to flush, I/O to end */
};

struct vsock_cstate {
	enum vsock_state state;
	bool guest_no_rcv;  /* the guest will read no more (SHUTDOWN RCV) */
	bool guest_no_send; /* the guest will send no more (SHUTDOWN SEND) */
	/* Bytes of the connection's VSOCK_TX_BUF buffer that host-side output
	 * takes ahead of the guest's stream (the "OK <port>\n" a host client
	 * gets): not the guest's to fill, so not in the buf_alloc it is told. */
	uint32_t reserved;
	struct vsock_credit cr;
};
/* What we advertise as buf_alloc: the buffer less what is reserved. The
 * guest may never have more unforwarded bytes than this with us, so the
 * reserved bytes and its stream always fit VSOCK_TX_BUF together. */
uint32_t vsock_buf_alloc(const struct vsock_cstate *s);

enum vsock_action {
	VSOCK_A_DROP,	   /* nothing to do */
	VSOCK_A_ESTABLISH, /* the guest accepted our REQUEST: answer OK, splice */
	VSOCK_A_DATA,	   /* h->len payload bytes to queue for the socket (counted) */
	VSOCK_A_CREDIT,	   /* send a CREDIT_UPDATE */
	VSOCK_A_SHUTDOWN,  /* the guest shut one direction: stop reading or shut our write */
	VSOCK_A_FINISH,	   /* the guest shut both: RST it, flush, then close the socket */
	VSOCK_A_CLOSE,	   /* the guest reset: close the socket, no reply */
	VSOCK_A_RESET,	   /* protocol violation: RST the guest, close the socket */
};
/* A guest packet for a known connection: updates the state and credit and
 * says what to do. A guest that sends more than its credit, sends after
 * shutting down its sending side, or sends ops out of order gets a reset. */
enum vsock_action vsock_guest_event(struct vsock_cstate *s, const struct vsock_hdr *h);

/* "CONNECT <port>\n" from a host client (the first len bytes of buf).
 * Returns 1 with *port and *consumed (the line's length including '\n'),
 * 0 when more bytes are needed, -EINVAL for anything else: no newline within
 * VSOCK_LINE_MAX bytes, another keyword, a port that is empty, not decimal,
 * above 2^32 - 1 or followed by anything but "\n" or "\r\n", a NUL byte. */
__attribute__((warn_unused_result)) int vsock_parse_connect(const char *buf, size_t len,
							    uint32_t *port, size_t *consumed);

/* ---- the device ---------------------------------------------------------- */

struct vsock_cfg {
	uint64_t guest_cid; /* >= 3 */
	const char *path;   /* the host socket; PATH_P for guest-initiated */
};

struct vsock;
struct virtio_dev;
/* Main thread: checks the config and creates the listening socket at
 * cfg->path (a stale socket file there is replaced; anything else is an
 * error). */
__attribute__((warn_unused_result)) int vsock_open(struct vsock **out, const struct vsock_cfg *cfg,
						   struct err *e);
/* Creates the virtio device and its worker; the interrupt eventfds in irq are the transport's
 * (borrowed) from then on. */
__attribute__((warn_unused_result)) int vsock_start(struct vsock *v, const struct guest_mem *mem,
						    const struct virtio_irqfds *irq, struct err *e);
struct virtio_dev *vsock_vdev(struct vsock *v);
int vsock_kick_fd(struct vsock *v, unsigned q);
unsigned vsock_queues(const struct vsock *v);
/* Stops the worker, closes every socket and removes PATH. */
void vsock_destroy(struct vsock *v);
/* Main thread, before vsock_start: the prefix of the PATH_P sockets guest
 * connections go to, and of the listener removed at exit, as seen after a
 * chroot (the listener itself stays bound). Copied; -ENOMEM. */
__attribute__((warn_unused_result)) int vsock_set_path(struct vsock *v, const char *path);

/* The device kind (devices/virtio/device.h). */
extern const struct vdev_desc vsock_desc;

#endif
