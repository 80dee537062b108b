/* SPDX-License-Identifier: MIT */
/* virtio-net's stream backend (net_backend.h): a unix stream socket
 * speaking the 4-byte length-prefixed frame protocol of passt and QEMU's
 * -netdev stream, connected to a peer (NET_STREAM) or accepted from one
 * (NET_STREAM_LISTEN). One queue pair. A stream peer has no virtio-net
 * header: TX sends a 4-byte big-endian length and the frame, one write at
 * a time so that frames never interleave (a short write sends the rest);
 * RX reads bytes, cut here into frames, each delivered behind a zero
 * header. A peer that hangs up or breaks the framing takes the link
 * down. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/net_backend.h"

static const uint8_t zero_hdr[NET_HDR_LEN];

static int unix_addr(const char *path, struct sockaddr_un *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!path || !*path || strlen(path) >= sizeof(a->sun_path))
		return err_set(e, EINVAL, "socket path '%s' is empty or longer than %zu bytes",
			       path ? path : "", sizeof(a->sun_path) - 1);
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

/* A terminating signal the caller blocked (the CLI blocks them for its
 * signalfd) ends the wait for a peer. */
static bool stop_pending(void)
{
	sigset_t p;
	if (sigpending(&p) < 0)
		return false;
	return sigismember(&p, SIGINT) || sigismember(&p, SIGTERM) || sigismember(&p, SIGHUP);
}

static int stream_connect(struct net *n, const struct net_cfg *cfg, bool listen_mode, struct err *e)
{
	struct sockaddr_un a;
	int r = unix_addr(cfg->target, &a, e);
	if (r < 0)
		return r;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(e, errno, "socket: %s", strerror(errno));
	if (!listen_mode) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int er = errno;
			close(s);
			return err_set(e, er, "cannot connect to '%s': %s", cfg->target,
				       strerror(er));
		}
		n->fds[n->nfds++] = s;
		return 0;
	}
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		int er = errno;
		close(s);
		return err_set(e, er, "cannot listen on '%s': %s", cfg->target, strerror(er));
	}
	log_info("net%u: waiting for a peer on %s", n->index, cfg->target);
	int c = -1;
	while (c < 0) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		int pr = poll(&p, 1, 200);
		if (pr < 0 && errno != EINTR)
			break;
		if (stop_pending()) {
			errno = EINTR;
			break;
		}
		if (pr > 0)
			c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0 && pr > 0 && errno != EINTR && errno != ECONNABORTED)
			break;
	}
	int er = errno;
	close(s);
	unlink(cfg->target); /* one peer: nobody else may connect */
	if (c < 0)
		return err_set(e, er, "no peer connected to '%s': %s", cfg->target, strerror(er));
	n->fds[n->nfds++] = c;
	return 0;
}

static int stream_open(struct net *n, const struct net_cfg *cfg, char *seed, size_t seedlen,
		       struct err *e)
{
	bool listen_mode = cfg->backend == NET_STREAM_LISTEN;
	int r = stream_connect(n, cfg, listen_mode, e);
	/* The two ends of a stream share its path: the listener and the
	 * connector must not get the same address. */
	if (r == 0)
		snprintf(seed, seedlen, "%s:%s", listen_mode ? "stream-listen" : "stream",
			 cfg->target);
	return r;
}

/* Keeps the partial frame at the start, then reads after it unless the
 * buffer is full (a whole frame is there: deliver it first). */
static bool stream_rx_room(struct net_rxq *rq)
{
	if (rq->off) {
		memmove(rq->buf, rq->buf + rq->off, rq->fill - rq->off);
		rq->fill -= rq->off;
		rq->off = 0;
	}
	return rq->fill < rq->cap;
}

static int stream_rx_next(struct net_rxq *rq, const uint8_t **hdr, const uint8_t **data,
			  size_t *len, size_t *consumed)
{
	size_t have = rq->fill - rq->off;
	const uint8_t *p = rq->buf + rq->off;
	if (have < 4)
		return 0;
	uint32_t flen;
	memcpy(&flen, p, 4);
	flen = be32toh(flen);
	if (flen > NET_MAX_FRAME)
		return -1;
	if (have < 4 + (size_t)flen)
		return 0;
	*hdr = zero_hdr;
	*data = p + 4;
	*len = flen;
	*consumed = 4 + (size_t)flen;
	return 1;
}

/* The peer hung up (0) or the socket failed. */
static void stream_rx_failed(struct net_rxq *rq)
{
	rq->eof = true;
	net_link_change(rq->n, false);
}

/* The length prefix, then the frame without its header (a peer without a
 * vnet header cannot segment: GSO requests are dropped). */
static int stream_tx_prepare(struct net_tx_req *r, const struct vq_chain *c)
{
	size_t flen;
	int k = net_tx_iov(c, false, false, r->iov + 1, NET_TX_SEGS, &flen);
	if (k < 0)
		return k;
	r->niov = (unsigned)k + 1;
	uint32_t be = htobe32((uint32_t)flen);
	memcpy(r->len_be, &be, 4);
	r->iov[0] = (struct iovec){r->len_be, 4};
	r->left = 4 + flen;
	return 0;
}

/* Drops the first n bytes of a request's iovecs (a short stream write). */
static void iov_advance(struct net_tx_req *r, size_t n)
{
	unsigned i = 0;
	while (i < r->niov && n >= r->iov[i].iov_len)
		n -= r->iov[i++].iov_len;
	memmove(r->iov, r->iov + i, (r->niov - i) * sizeof(r->iov[0]));
	r->niov -= i;
	if (r->niov) {
		r->iov[0].iov_base = (uint8_t *)r->iov[0].iov_base + n;
		r->iov[0].iov_len -= n;
	}
}

static int stream_tx_written(struct net *n, struct net_tx_req *r, int res)
{
	if (res > 0 && (size_t)res < r->left) {
		r->left -= (size_t)res;
		iov_advance(r, (size_t)res);
		return 1;
	}
	if (res == -EAGAIN || res == -EINTR)
		return 1;
	if (res <= 0) {
		net_link_change(n, false);
		return -1;
	}
	return 0;
}

const struct net_backend_ops net_stream_ops = {
	.open = stream_open,
	.rx_cap = 2 * (4 + (size_t)NET_MAX_FRAME),
	.rx_room = stream_rx_room,
	.rx_next = stream_rx_next,
	.rx_failed = stream_rx_failed,
	.tx_serial = true,
	.tx_prepare = stream_tx_prepare,
	.tx_written = stream_tx_written,
};
