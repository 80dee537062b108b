/* SPDX-License-Identifier: MIT */
/* virtio-net's tap backend (net_backend.h): a tap opened with
 * IFF_VNET_HDR, one fd (tap queue) per queue pair, named (NET_TAP: opened
 * or created here) or passed in by a manager (NET_TAPFD). The tap speaks
 * the virtio-net header itself: TX writes the header and the frame
 * straight from guest memory (writev, several in flight), RX reads one
 * packet with its header per read, several reads in flight (rx_slots: as
 * many packets as the tap holds come in one wake-up of the worker), and
 * the offloads the driver accepts are
 * the tap's (TUNSETOFFLOAD). With several pairs the tap is multi_queue and
 * follows the driver's pair count (TUNSETQUEUE). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "core/log.h"
#include "devices/net_backend.h"

static int tap_prepare(struct net *n, int fd, const char *what, struct err *e)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return err_set(e, EINVAL, "%s is not a tap device (TUNGETIFF: %s)", what,
			       strerror(errno));
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR))
		return err_set(e, EINVAL,
			       "%s: the tap must be opened with IFF_TAP, IFF_NO_PI and "
			       "IFF_VNET_HDR",
			       what);
	int sz = NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return err_set(e, errno, "%s: TUNSETVNETHDRSZ: %s", what, strerror(errno));
	/* Which offloads the tap takes; none until the driver says. */
	unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	n->ufo = ioctl(fd, TUNSETOFFLOAD, all | TUN_F_UFO) == 0;
	if (!n->ufo && ioctl(fd, TUNSETOFFLOAD, all) < 0)
		return err_set(e, errno, "%s: the tap refuses checksum/TSO offloads: %s", what,
			       strerror(errno));
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		return err_set(e, errno, "%s: TUNSETOFFLOAD: %s", what, strerror(errno));
	return 0;
}

static int tap_open_named(struct net *n, const struct net_cfg *cfg, struct err *e)
{
	if (!cfg->target || !*cfg->target || strlen(cfg->target) >= IFNAMSIZ)
		return err_set(e, EINVAL, "tap name '%s' is empty or longer than %d bytes",
			       cfg->target ? cfg->target : "", IFNAMSIZ - 1);
	for (unsigned i = 0; i < n->pairs; i++) {
		/* O_NONBLOCK: see tap_open_fd */
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return err_set(e, errno, "cannot open /dev/net/tun: %s", strerror(errno));
		n->fds[n->nfds++] = fd;
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->target);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (n->pairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int er = errno;
			if (er == EPERM)
				return err_set(
					e, er,
					"cannot open or create tap '%s': permission denied "
					"(creating one needs CAP_NET_ADMIN; a persistent tap "
					"must be owned by this user)",
					cfg->target);
			if (er == EINVAL)
				return err_set(e, er, "tap '%s' exists with other flags (%s)",
					       cfg->target,
					       n->pairs > 1 ? "queues= needs a multi_queue tap"
							    : "it is multi_queue: pass queues=");
			if (er == EBUSY)
				return err_set(e, er, "tap '%s' is in use by another process",
					       cfg->target);
			return err_set(e, er, "cannot open tap '%s': %s", cfg->target,
				       strerror(er));
		}
		char what[64];
		snprintf(what, sizeof(what), "tap '%s'", cfg->target);
		int r = tap_prepare(n, fd, what, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int tap_open_fd(struct net *n, const struct net_cfg *cfg, char *ifname, struct err *e)
{
	struct stat st;
	if (cfg->fd < 0 || fstat(cfg->fd, &st) < 0)
		return err_set(e, EBADF, "tapfd=%d is not an open file descriptor", cfg->fd);
	int fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return err_set(e, errno, "tapfd=%d: %s", cfg->fd, strerror(errno));
	n->fds[n->nfds++] = fd;
	/* O_NONBLOCK: io_uring issues reads and writes of a tap inline only
	 * when the file is non-blocking (a tap has no FMODE_NOWAIT); a read
	 * with nothing to read then waits on the tap's poll, a write goes
	 * straight through. Without it every request is handed to an io-wq
	 * thread: a thread switch per frame (bench/run measured 2,000 frames/s
	 * against QEMU's 34,000). */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return err_set(e, errno, "tapfd=%d: cannot make it non-blocking: %s", cfg->fd,
			       strerror(errno));
	char what[32];
	snprintf(what, sizeof(what), "tapfd=%d", cfg->fd);
	int r = tap_prepare(n, fd, what, e);
	if (r < 0)
		return r;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) == 0)
		snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return 0;
}

static int tap_open(struct net *n, const struct net_cfg *cfg, char *seed, size_t seedlen,
		    struct err *e)
{
	char ifname[IFNAMSIZ] = "";
	int r = cfg->backend == NET_TAPFD ? tap_open_fd(n, cfg, ifname, e)
					  : tap_open_named(n, cfg, e);
	if (r == 0)
		snprintf(seed, seedlen, "tap:%s", cfg->backend == NET_TAPFD ? ifname : cfg->target);
	return r;
}

static uint64_t tap_features(const struct net *n)
{
	uint64_t f = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		     (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
		     (1ULL << VIRTIO_NET_F_GUEST_ECN) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |
		     (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN);
	if (n->ufo)
		f |= (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_UFO);
	return f;
}

static unsigned tap_offloads(const struct net *n)
{
	unsigned o = 0;
	if (!net_has_feature(n, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o |= TUN_F_CSUM;
	if (net_has_feature(n, VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (net_has_feature(n, VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((o & (TUN_F_TSO4 | TUN_F_TSO6)) && net_has_feature(n, VIRTIO_NET_F_GUEST_ECN))
		o |= TUN_F_TSO_ECN;
	if (n->ufo && net_has_feature(n, VIRTIO_NET_F_GUEST_UFO))
		o |= TUN_F_UFO;
	return o;
}

/* Attaches the tap queues of the first `pairs` pairs and detaches the
 * others, so that the kernel steers flows only to queues being read. */
static int tap_steer(struct net *n, unsigned pairs)
{
	int first = 0;
	for (unsigned i = 0; n->pairs > 1 && i < n->nfds; i++) {
		struct ifreq ifr = {.ifr_flags = i < pairs ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};
		/* EINVAL: already in that state. No message here: the control
		 * worker's filter has no write to stderr. */
		if (ioctl(n->fds[i], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL && !first)
			first = errno;
	}
	return first;
}

static void tap_activate(struct net *n)
{
	/* What the tap may hand us is what the driver accepts (GUEST_*). */
	if (ioctl(n->fds[0], TUNSETOFFLOAD, tap_offloads(n)) < 0)
		log_warn("net%u: TUNSETOFFLOAD: %s", n->index, strerror(errno));
	int er = tap_steer(n, 1);
	if (er)
		log_warn("net%u: TUNSETQUEUE: %s", n->index, strerror(er));
}

/* A detached tap queue (-EBADFD) or a failing tap: stop reading until the
 * next kick rather than spin on the error. */
static void tap_rx_failed(struct net_rxq *rq)
{
	rq->stalled = true;
}

/* The header and the frame as they are: the tap takes the header's GSO
 * and checksum requests. */
static int tap_tx_prepare(struct net_tx_req *r, const struct vq_chain *c)
{
	size_t flen;
	int k = net_tx_iov(c, true, true, r->iov, NET_TX_SEGS, &flen);
	if (k < 0)
		return k;
	r->niov = (unsigned)k;
	return 0;
}

static int tap_tx_written(struct net *n, struct net_tx_req *r, int res)
{
	(void)n;
	(void)r;
	return res < 0 ? -1 : 0; /* e.g. the tap is down: the frame is dropped */
}

const struct net_backend_ops net_tap_ops = {
	.open = tap_open,
	.features = tap_features,
	.activate = tap_activate,
	.steer = tap_steer,
	.rx_cap = NET_HDR_LEN + NET_MAX_FRAME,
	.rx_slots = NET_RX_SLOTS,
	.rx_failed = tap_rx_failed,
	.tx_prepare = tap_tx_prepare,
	.tx_written = tap_tx_written,
};
