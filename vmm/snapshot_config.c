/* SPDX-License-Identifier: MIT */
/* The configuration a snapshot keeps to rebuild its VM (vmm/snapshot.h). */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/le.h"
#include "vmm/config.h"

#define API __attribute__((visibility("default")))

#ifndef CVMM_VERSION
#define CVMM_VERSION "unknown" /* the fuzzers' build, which is not meson's */
#endif

enum {
	CFG_CPUS = 1,
	CFG_MEMORY,
	CFG_PCI,
	CFG_KERNEL,
	CFG_CMDLINE,
	CFG_DEBUG_EXIT,
	CFG_BOOT_TIMER,
	CFG_RNG,
	CFG_VSOCK_CID,
	CFG_VSOCK_PATH,
	CFG_NDISKS,
	CFG_NNETS,
	CFG_VERSION,
	CFG_RNG_LIMIT,	/* optional, as every limiter: a file without one loads */
	CFG_HUGE_PAGES, /* optional: CVMM_HUGE_*, absent: none */
};
enum { DISK_PATH = 1, DISK_FLAGS, DISK_QUEUES, DISK_LIMIT, DISK_POLL };
enum {
	NET_BACKEND = 1,
	NET_TARGET,
	NET_PAIRS,
	NET_HAS_MAC,
	NET_MAC,
	NET_RX_LIMIT,
	NET_TX_LIMIT,
	NET_POLL,     /* optional: older snapshots have none (the default) */
	NET_RX_OTHER, /* optional: present (1) for an interface with rx_no_batch */
};
/* section "balloon-config", with a balloon only (older states have none) */
enum { BALLOON_MIB = 1, BALLOON_FLAGS, BALLOON_STATS_S };

/* A rate limiter: its six numbers, little-endian; none (all 0) not put. */
#define LIMIT_BYTES 48
static void put_limit(struct snap_w *w, uint16_t tag, const struct cvmm_rate_limiter *l)
{
	const struct cvmm_token_bucket *b[2] = {&l->bandwidth, &l->ops};
	uint8_t buf[LIMIT_BYTES], *p = buf;
	bool any = false;
	for (int i = 0; i < 2; i++) {
		uint64_t v[3] = {b[i]->size, b[i]->one_time_burst, b[i]->refill_time_ms};
		for (int k = 0; k < 3; k++, p += 8) {
			le_put64(p, v[k]);
			any |= v[k] != 0;
		}
	}
	if (any)
		snap_put_opt(w, tag, buf, sizeof(buf));
}

/* The limiter at tag (all 0 when absent); -EINVAL for one of another size. */
static int get_limit(const struct snap_sec *s, uint16_t tag, struct cvmm_rate_limiter *l,
		     struct err *e)
{
	size_t n;
	const uint8_t *p = snap_get(s, tag, &n);
	*l = (struct cvmm_rate_limiter){0};
	if (!p)
		return 0;
	if (n != LIMIT_BYTES)
		return err_set(e, EINVAL, "snapshot's %s %u: a rate limiter of %zu bytes", s->name,
			       s->instance, n);
	struct cvmm_token_bucket *b[2] = {&l->bandwidth, &l->ops};
	for (int i = 0; i < 2; i++, p += 24)
		*b[i] = (struct cvmm_token_bucket){le_get64(p), le_get64(p + 8), le_get64(p + 16)};
	return 0;
}

void snapshot_config_write(const struct cvmm_config *c, bool pci, struct snap_w *w)
{
	snap_section(w, "config", 0);
	snap_put_opt(w, CFG_VERSION, CVMM_VERSION, strlen(CVMM_VERSION));
	snap_u32(w, CFG_CPUS, c->cpus);
	snap_u64(w, CFG_MEMORY, c->memory);
	snap_u32(w, CFG_PCI, pci);
	if (c->kernel)
		snap_put_opt(w, CFG_KERNEL, c->kernel, strlen(c->kernel));
	if (c->cmdline)
		snap_put_opt(w, CFG_CMDLINE, c->cmdline, strlen(c->cmdline));
	snap_u32(w, CFG_DEBUG_EXIT, c->debug_exit);
	snap_u32(w, CFG_BOOT_TIMER, c->boot_timer);
	if (c->huge_pages)
		snap_u64_opt(w, CFG_HUGE_PAGES, (uint64_t)c->huge_pages);
	snap_u32(w, CFG_RNG, c->rng);
	snap_u64(w, CFG_VSOCK_CID, c->vsock_path ? c->vsock_cid : 0);
	snap_str(w, CFG_VSOCK_PATH, c->vsock_path);
	snap_u32(w, CFG_NDISKS, c->ndisks);
	snap_u32(w, CFG_NNETS, c->nnets);
	if (c->balloon.on) {
		snap_section(w, "balloon-config", 0);
		snap_u32(w, BALLOON_MIB, c->balloon.mib);
		snap_u32(w, BALLOON_FLAGS, c->balloon.flags);
		snap_u32(w, BALLOON_STATS_S, c->balloon.stats_s);
	}
	put_limit(w, CFG_RNG_LIMIT, &c->rng_limit);
	for (unsigned i = 0; i < c->ndisks; i++) {
		snap_section(w, "disk", i);
		snap_str(w, DISK_PATH, c->disks[i].path);
		snap_u32(w, DISK_FLAGS, c->disks[i].flags);
		snap_u32(w, DISK_QUEUES, c->disks[i].queues);
		put_limit(w, DISK_LIMIT, &c->disks[i].limit);
		snap_u64(w, DISK_POLL, c->disks[i].poll_us);
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct cvmm_net_config *n = &c->nets[i];
		snap_section(w, "net", i);
		snap_u32(w, NET_BACKEND, (uint32_t)n->backend);
		snap_str(w, NET_TARGET, n->target);
		snap_u32(w, NET_PAIRS, n->queue_pairs);
		snap_u32(w, NET_HAS_MAC, (uint32_t)n->has_mac);
		snap_put(w, NET_MAC, n->mac, 6);
		put_limit(w, NET_RX_LIMIT, &c->net_limit[i][0]);
		put_limit(w, NET_TX_LIMIT, &c->net_limit[i][1]);
		snap_u64(w, NET_POLL, c->net_poll_us[i]);
		if (n->rx_no_batch)
			snap_u64_opt(w, NET_RX_OTHER, 1);
	}
}

/* The configuration to rebuild: the snapshot's devices and sizes, the
 * host's own settings, the caller's overrides. */
int snapshot_config_read(const struct snap_r *r, const struct cvmm_restore *rs,
			 const struct cvmm_config *host, struct cvmm_config *c, struct err *e)
{
	struct snap_sec s;
	if (snap_find(r, "config", 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no configuration");
	static const uint16_t known[] = {CFG_CPUS,	CFG_MEMORY,	CFG_PCI,	CFG_KERNEL,
					 CFG_CMDLINE,	CFG_DEBUG_EXIT, CFG_BOOT_TIMER, CFG_RNG,
					 CFG_VSOCK_CID, CFG_VSOCK_PATH, CFG_NDISKS,	CFG_NNETS,
					 CFG_VERSION};
	uint32_t cpus, pci, dbg, bt, rng, ndisks, nnets;
	uint64_t mem, cid, huge = 0;
	char kernel[4096], vsock[CVMM_VSOCK_PATH_MAX + 1];
	int ret = snap_check_known(&s, known, sizeof(known) / sizeof(known[0]), e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_CPUS, &cpus, e);
	if (!ret)
		ret = snap_get_u64(&s, CFG_MEMORY, &mem, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_PCI, &pci, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_DEBUG_EXIT, &dbg, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_BOOT_TIMER, &bt, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_RNG, &rng, e);
	if (!ret)
		ret = snap_get_u64(&s, CFG_VSOCK_CID, &cid, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_NDISKS, &ndisks, e);
	if (!ret)
		ret = snap_get_u32(&s, CFG_NNETS, &nnets, e);
	if (!ret)
		ret = snap_get_str(&s, CFG_KERNEL, kernel, sizeof(kernel), false, e);
	if (!ret)
		ret = snap_get_str(&s, CFG_VSOCK_PATH, vsock, sizeof(vsock), cid != 0, e);
	if (!ret)
		ret = snap_opt_u64(&s, CFG_HUGE_PAGES, 0, &huge, e);
	if (ret < 0)
		return ret;
	if (ndisks > CVMM_MAX_DISKS || nnets > CVMM_MAX_NETS)
		return err_set(e, EINVAL,
			       "snapshot has %u disks and %u interfaces, more than cvmm "
			       "takes",
			       ndisks, nnets);
	if (host) {
		c->console_in = host->console_in;
		c->console_out = host->console_out;
		c->console_limit = host->console_limit;
		if (host->console_path)
			c->console_path = strdup(host->console_path);
		c->kick_signal = host->kick_signal;
		c->seccomp = host->seccomp;
		c->jail = host->jail;
		c->jail_ids = host->jail_ids;
		c->jail_landlock = host->jail_landlock;
		c->jail_update_disks = host->jail_update_disks;
		c->jail_update_anywhere = host->jail_update_anywhere;
		c->jail_uid = host->jail_uid;
		c->jail_gid = host->jail_gid;
		if (host->jail_chroot)
			c->jail_chroot = strdup(host->jail_chroot);
		if (host->jail_rm_dir)
			c->jail_rm_dir = strdup(host->jail_rm_dir);
		if (host->jail_snapshot_dir)
			c->jail_snapshot_dir = strdup(host->jail_snapshot_dir);
	}
	/* through the setters: every value checked as a new configuration's */
	ret = cvmm_config_set_kernel(c, kernel[0] ? kernel : "(snapshot)");
	if (!ret)
		ret = cvmm_config_set_cpus(c, cpus);
	if (!ret)
		ret = cvmm_config_set_memory(c, mem);
	/* the snapshot's huge pages, or those the load asks for */
	if (!ret)
		ret = cvmm_config_set_huge_pages(c, rs->set_huge_pages ? rs->huge_pages
								       : (int)(huge & 0xff));
	if (!ret)
		ret = cvmm_config_set_transport(c, pci ? CVMM_TRANSPORT_PCI : CVMM_TRANSPORT_MMIO);
	if (!ret)
		ret = cvmm_config_set_debug_exit(c, dbg != 0);
	if (!ret)
		ret = cvmm_config_set_boot_timer(c, bt != 0);
	if (!ret)
		ret = cvmm_config_set_rng(c, rng != 0);
	if (!ret)
		ret = cvmm_config_set_dirty_tracking(c, rs->track_dirty);
	if (!ret && cid)
		ret = cvmm_config_set_vsock(c, cid, rs->vsock_path ? rs->vsock_path : vsock);
	struct snap_sec bs;
	if (!ret && snap_find(r, "balloon-config", 0, &bs) == 0) {
		static const uint16_t bknown[] = {BALLOON_MIB, BALLOON_FLAGS, BALLOON_STATS_S};
		uint32_t mib, flags, st;
		if ((ret = snap_check_known(&bs, bknown, 3, e)) < 0 ||
		    (ret = snap_get_u32(&bs, BALLOON_MIB, &mib, e)) < 0 ||
		    (ret = snap_get_u32(&bs, BALLOON_FLAGS, &flags, e)) < 0 ||
		    (ret = snap_get_u32(&bs, BALLOON_STATS_S, &st, e)) < 0)
			return ret;
		ret = cvmm_config_set_balloon(c, mib, flags, st);
	}
	struct cvmm_rate_limiter lim, lim2;
	if (!ret && (ret = get_limit(&s, CFG_RNG_LIMIT, &lim, e)) < 0)
		return ret;
	if (!ret)
		ret = cvmm_config_set_rng_limiter(c, &lim);
	for (uint32_t i = 0; !ret && i < ndisks; i++) {
		struct snap_sec d;
		char path[4096];
		uint32_t flags, queues;
		uint64_t poll;
		if (snap_find(r, "disk", i, &d) < 0)
			return err_set(e, EINVAL, "snapshot lacks disk %u", i);
		if ((ret = snap_get_str(&d, DISK_PATH, path, sizeof(path), true, e)) < 0 ||
		    (ret = snap_get_u32(&d, DISK_FLAGS, &flags, e)) < 0 ||
		    (ret = snap_get_u32(&d, DISK_QUEUES, &queues, e)) < 0 ||
		    (ret = get_limit(&d, DISK_LIMIT, &lim, e)) < 0 ||
		    /* absent from snapshots of a cvmm before polling: the default */
		    (ret = snap_opt_u64(&d, DISK_POLL, CVMM_DISK_POLL_DEFAULT_US, &poll, e)) < 0)
			return ret;
		ret = cvmm_config_add_disk(c, rs->disk_path[i] ? rs->disk_path[i] : path, flags,
					   queues);
		if (!ret)
			ret = cvmm_config_set_disk_limiter(c, i, &lim);
		if (!ret)
			ret = cvmm_config_set_disk_poll(
				c, i, poll > UINT32_MAX ? UINT32_MAX : (unsigned)poll);
	}
	for (uint32_t i = 0; !ret && i < nnets; i++) {
		struct snap_sec d;
		char target[4096];
		uint32_t backend, pairs, has_mac;
		uint64_t poll, rx_other;
		struct cvmm_net_config n = {.fd = -1};
		if (snap_find(r, "net", i, &d) < 0)
			return err_set(e, EINVAL, "snapshot lacks interface %u", i);
		if ((ret = snap_get_u32(&d, NET_BACKEND, &backend, e)) < 0 ||
		    (ret = snap_get_str(&d, NET_TARGET, target, sizeof(target), false, e)) < 0 ||
		    (ret = snap_get_u32(&d, NET_PAIRS, &pairs, e)) < 0 ||
		    (ret = snap_get_u32(&d, NET_HAS_MAC, &has_mac, e)) < 0 ||
		    (ret = snap_get_exact(&d, NET_MAC, n.mac, 6, e)) < 0 ||
		    (ret = get_limit(&d, NET_RX_LIMIT, &lim, e)) < 0 ||
		    (ret = get_limit(&d, NET_TX_LIMIT, &lim2, e)) < 0 ||
		    /* absent from snapshots of a cvmm before TX polling: the default */
		    (ret = snap_opt_u64(&d, NET_POLL, CVMM_NET_POLL_DEFAULT_US, &poll, e)) < 0 ||
		    (ret = snap_opt_u64(&d, NET_RX_OTHER, 0, &rx_other, e)) < 0)
			return ret;
		n.rx_no_batch = rx_other != 0;
		n.queue_pairs = pairs;
		n.has_mac = has_mac != 0;
		n.target = target;
		if (rs->net_tap[i]) {
			n.backend = CVMM_NET_TAP;
			n.target = rs->net_tap[i];
		} else if (backend == CVMM_NET_TAPFD) {
			return err_set(e, EINVAL,
				       "interface %u was a tap a manager passed as a descriptor: "
				       "name its tap for the restore",
				       i);
		} else if (backend == CVMM_NET_TAP || backend == CVMM_NET_STREAM ||
			   backend == CVMM_NET_STREAM_LISTEN) {
			n.backend = (enum cvmm_net_backend)backend;
		} else {
			return err_set(e, EINVAL, "snapshot's interface %u has unknown backend %u",
				       i, backend);
		}
		ret = cvmm_config_add_net(c, &n);
		if (!ret)
			ret = cvmm_config_set_net_limiter(c, i, &lim, &lim2);
		if (!ret)
			ret = cvmm_config_set_net_poll(
				c, i, poll > UINT32_MAX ? UINT32_MAX : (unsigned)poll);
	}
	if (ret < 0)
		return err_set(e, -ret, "snapshot's configuration: %s", cvmm_config_error(c));
	return 0;
}

/* The whole state file, checked (core/snap.h). *buf allocated. */
int snapshot_read_state(const char *path, uint8_t **buf, struct snap_r *r, struct err *e)
{
	*buf = NULL;
	if (!path || !path[0])
		return err_set(e, EINVAL, "no snapshot state file given");
	int fd = file_open_nowait(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, errno, "cannot open snapshot '%s': %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, EINVAL, "snapshot '%s' is not a regular file", path);
	}
	if (st.st_size > (off_t)SNAP_MAX_SIZE) {
		close(fd);
		return err_set(e, EFBIG, "snapshot '%s' is larger than any cvmm writes", path);
	}
	size_t len = (size_t)st.st_size, got = 0;
	uint8_t *b = malloc(len ? len : 1);
	if (!b) {
		close(fd);
		return err_set(e, ENOMEM, "out of memory");
	}
	while (got < len) {
		ssize_t n = read(fd, b + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int ret = snap_open(r, b, got, SNAP_ARCH_HOST, e);
	if (ret < 0) {
		free(b);
		return ret;
	}
	*buf = b;
	return 0;
}

enum { APP_DATA = 1 }; /* vmm/snapshot.c's "app" section */

API int cvmm_snapshot_app(const char *state_path, void **app, unsigned long *len, char *errbuf,
			  unsigned long errlen)
{
	*app = NULL;
	*len = 0;
	struct err e = {0};
	uint8_t *buf;
	struct snap_r r;
	int ret = snapshot_read_state(state_path, &buf, &r, &e);
	if (ret < 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", e.msg);
		return ret;
	}
	struct snap_sec s;
	size_t n;
	const void *p = snap_find(&r, "app", 0, &s) == 0 ? snap_get(&s, APP_DATA, &n) : NULL;
	if (p && n) {
		*app = malloc(n);
		if (!*app) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(*app, p, n);
		*len = n;
	}
	free(buf);
	return 0;
}
