/* SPDX-License-Identifier: MIT */
/* cvmm_config: plain data; validated in cvmm_vm_create. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/blk.h"
#include "devices/fs.h"
#include "devices/net.h"
#include "devices/vsock.h"
#include "vmm/config.h"

/* The public limits (cvmm.h) are the devices' own. */
_Static_assert(CVMM_MAX_QUEUES == BLK_MAX_QUEUES, "a disk's queues");
_Static_assert(CVMM_MAX_QUEUES == NET_MAX_PAIRS, "a tap's queue pairs");
_Static_assert(CVMM_FS_TAG_MAX == FS_TAG_MAX, "a virtio-fs tag");
_Static_assert(CVMM_VSOCK_CID_MIN == VSOCK_MIN_GUEST_CID, "the lowest guest CID");

#define API __attribute__((visibility("default")))

API int cvmm_config_new(struct cvmm_config **out)
{
	struct cvmm_config *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cpus = 1;
	c->memory = 256ULL << 20;
	c->console_in = -1;
	c->console_out = -1;
	*out = c;
	return 0;
}

API int cvmm_config_add_disk(struct cvmm_config *c, const char *path, unsigned flags,
			     unsigned queues)
{
	err_clear(&c->err);
	if (c->ndisks >= CVMM_MAX_DISKS)
		return err_set(&c->err, E2BIG, "at most %d disks", CVMM_MAX_DISKS);
	if (!path || !*path)
		return err_set(&c->err, EINVAL, "disk path must not be empty");
	if (flags & ~(CVMM_DISK_RO | CVMM_DISK_DIRECT))
		return err_set(&c->err, EINVAL, "unknown disk flags 0x%x", flags);
	if (queues == 0 || queues > BLK_MAX_QUEUES)
		return err_set(&c->err, EINVAL, "disk queues must be 1..%d, got %u", BLK_MAX_QUEUES,
			       queues);
	char *p = strdup(path);
	if (!p)
		return err_set(&c->err, ENOMEM, "out of memory");
	c->disks[c->ndisks++] =
		(struct vm_disk_cfg){p, flags, queues, {{0}, {0}}, CVMM_DISK_POLL_DEFAULT_US};
	return 0;
}

_Static_assert((uint64_t)CVMM_DISK_POLL_MAX_US * 1000 == VQ_POLL_MAX_NS,
	       "a disk's poll window: the API's bound is the worker's");
_Static_assert(CVMM_DISK_POLL_DEFAULT_US <= CVMM_DISK_POLL_MAX_US, "the default within bounds");

API int cvmm_config_set_disk_poll(struct cvmm_config *c, unsigned disk, unsigned poll_us)
{
	err_clear(&c->err);
	if (disk >= c->ndisks)
		return err_set(&c->err, ENODEV, "no disk %u", disk);
	if (poll_us > CVMM_DISK_POLL_MAX_US)
		return err_set(&c->err, EINVAL, "disk %u: poll must be 0..%d us, got %u", disk,
			       CVMM_DISK_POLL_MAX_US, poll_us);
	c->disks[disk].poll_us = poll_us;
	return 0;
}

API int cvmm_config_add_net(struct cvmm_config *c, const struct cvmm_net_config *net)
{
	err_clear(&c->err);
	if (!net)
		return err_set(&c->err, EINVAL, "no net configuration");
	if (c->nnets >= CVMM_MAX_NETS)
		return err_set(&c->err, E2BIG, "at most %d network interfaces", CVMM_MAX_NETS);
	bool needs_target = net->backend != CVMM_NET_TAPFD;
	if (net->backend < CVMM_NET_TAP || net->backend > CVMM_NET_STREAM_LISTEN)
		return err_set(&c->err, EINVAL, "unknown net backend %d", (int)net->backend);
	if (needs_target && (!net->target || !*net->target))
		return err_set(&c->err, EINVAL, "net: a tap name or socket path is needed");
	if (net->backend == CVMM_NET_TAPFD && net->fd < 0)
		return err_set(&c->err, EBADF, "net: tapfd %d is not a file descriptor", net->fd);
	if (net->queue_pairs > NET_MAX_PAIRS ||
	    (net->queue_pairs > 1 && net->backend != CVMM_NET_TAP))
		return err_set(&c->err, EINVAL,
			       "net: queue pairs must be 1..%d (more than 1 only "
			       "for a tap)",
			       NET_MAX_PAIRS);
	if (net->has_mac && (net->mac[0] & 1))
		return err_set(&c->err, EINVAL, "net: the MAC address is a multicast address");
	struct cvmm_net_config n = *net;
	n.target = NULL;
	if (needs_target && !(n.target = strdup(net->target)))
		return err_set(&c->err, ENOMEM, "out of memory");
	memset(c->net_limit[c->nnets], 0, sizeof(c->net_limit[c->nnets]));
	c->net_poll_us[c->nnets] = CVMM_NET_POLL_DEFAULT_US;
	c->nets[c->nnets++] = n;
	return 0;
}

_Static_assert((uint64_t)CVMM_NET_POLL_MAX_US * 1000 == VQ_POLL_MAX_NS,
	       "an interface's poll window: the API's bound is the worker's");
_Static_assert(CVMM_NET_POLL_DEFAULT_US <= CVMM_NET_POLL_MAX_US, "the default within bounds");

API int cvmm_config_set_net_poll(struct cvmm_config *c, unsigned net, unsigned poll_us)
{
	err_clear(&c->err);
	if (net >= c->nnets)
		return err_set(&c->err, ENODEV, "no network interface %u", net);
	if (poll_us > CVMM_NET_POLL_MAX_US)
		return err_set(&c->err, EINVAL, "net %u: poll must be 0..%d us, got %u", net,
			       CVMM_NET_POLL_MAX_US, poll_us);
	c->net_poll_us[net] = poll_us;
	return 0;
}

API int cvmm_config_add_fs(struct cvmm_config *c, const char *tag, const char *path, unsigned flags)
{
	err_clear(&c->err);
	if (c->nfs >= CVMM_MAX_FS)
		return err_set(&c->err, E2BIG, "at most %d shared directories", CVMM_MAX_FS);
	size_t tl = tag ? strlen(tag) : 0;
	if (tl == 0 || tl > FS_TAG_MAX)
		return err_set(&c->err, EINVAL, "fs: the tag must be 1..%d bytes, got %zu",
			       FS_TAG_MAX, tl);
	for (unsigned i = 0; i < c->nfs; i++)
		if (!strcmp(c->fs[i].tag, tag))
			return err_set(&c->err, EEXIST, "fs: tag '%s' given twice", tag);
	if (!path || !*path)
		return err_set(&c->err, EINVAL, "fs '%s': the path must not be empty", tag);
	if (flags & ~(CVMM_FS_RO | CVMM_FS_XATTR | CVMM_FS_PRIVILEGED))
		return err_set(&c->err, EINVAL, "unknown fs flags 0x%x", flags);
	struct stat st;
	if (stat(path, &st) < 0)
		return err_set(&c->err, errno, "fs '%s': '%s': %s", tag, path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(&c->err, ENOTDIR, "fs '%s': '%s' is not a directory", tag, path);
	char *t = strdup(tag), *p = strdup(path);
	if (!t || !p) {
		free(t);
		free(p);
		return err_set(&c->err, ENOMEM, "out of memory");
	}
	c->fs[c->nfs++] = (struct vm_fs_cfg){t, p, flags};
	return 0;
}

API int cvmm_config_set_vsock(struct cvmm_config *c, uint64_t guest_cid, const char *uds_path)
{
	err_clear(&c->err);
	if (guest_cid < VSOCK_MIN_GUEST_CID || guest_cid >= 0xffffffffULL)
		return err_set(&c->err, EINVAL, "vsock: cid must be 3..4294967294, got %llu",
			       (unsigned long long)guest_cid);
	if (!uds_path || !*uds_path)
		return err_set(&c->err, EINVAL, "vsock: a socket path is needed");
	if (strlen(uds_path) > CVMM_VSOCK_PATH_MAX)
		return err_set(&c->err, ENAMETOOLONG,
			       "vsock: socket path longer than %d bytes (PATH_<port> must fit)",
			       CVMM_VSOCK_PATH_MAX);
	char *p = strdup(uds_path);
	if (!p)
		return err_set(&c->err, ENOMEM, "out of memory");
	free(c->vsock_path);
	c->vsock_path = p;
	c->vsock_cid = guest_cid;
	return 0;
}

API void cvmm_config_free(struct cvmm_config *c)
{
	if (!c)
		return;
	free(c->vsock_path);
	for (unsigned i = 0; i < c->nnets; i++)
		free((char *)c->nets[i].target);
	for (unsigned i = 0; i < c->ndisks; i++)
		free(c->disks[i].path);
	for (unsigned i = 0; i < c->nfs; i++) {
		free(c->fs[i].tag);
		free(c->fs[i].path);
	}
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->console_path);
	free(c->jail_chroot);
	free(c->jail_rm_dir);
	free(c->jail_snapshot_dir);
	free((char *)c->mmds.data);
	free(c);
}

API const char *cvmm_config_error(const struct cvmm_config *c)
{
	return c->err.msg;
}

static int set_str(struct cvmm_config *c, char **dst, const char *v, const char *what)
{
	err_clear(&c->err);
	if (!v || !*v)
		return err_set(&c->err, EINVAL, "%s must not be empty", what);
	char *s = strdup(v);
	if (!s)
		return err_set(&c->err, ENOMEM, "out of memory");
	free(*dst);
	*dst = s;
	return 0;
}

API int cvmm_config_set_kernel(struct cvmm_config *c, const char *path)
{
	return set_str(c, &c->kernel, path, "kernel path");
}

API int cvmm_config_set_initrd(struct cvmm_config *c, const char *path)
{
	return set_str(c, &c->initrd, path, "initrd path");
}

API int cvmm_config_set_cmdline(struct cvmm_config *c, const char *cmdline)
{
	err_clear(&c->err);
	char *s = strdup(cmdline ? cmdline : "");
	if (!s)
		return err_set(&c->err, ENOMEM, "out of memory");
	free(c->cmdline);
	c->cmdline = s;
	return 0;
}

API int cvmm_config_set_cpus(struct cvmm_config *c, unsigned cpus)
{
	err_clear(&c->err);
	if (cpus == 0 || cpus > CVMM_MAX_CPUS)
		return err_set(&c->err, EINVAL, "cpus must be between 1 and %d, got %u",
			       CVMM_MAX_CPUS, cpus);
	c->cpus = cpus;
	return 0;
}

API int cvmm_config_set_huge_pages(struct cvmm_config *c, int mode)
{
	err_clear(&c->err);
	if (mode != CVMM_HUGE_NONE && mode != CVMM_HUGE_THP && mode != CVMM_HUGE_2M)
		return err_set(&c->err, EINVAL, "unknown huge pages mode %d", mode);
	c->huge_pages = mode;
	return 0;
}

API int cvmm_config_set_memory(struct cvmm_config *c, uint64_t bytes)
{
	err_clear(&c->err);
	if (bytes < CVMM_MIN_MEMORY)
		return err_set(&c->err, EINVAL, "memory must be at least %llu MiB, got %llu bytes",
			       CVMM_MIN_MEMORY >> 20, (unsigned long long)bytes);
	if (bytes % 4096)
		return err_set(&c->err, EINVAL, "memory must be a multiple of 4 KiB");
	if (bytes > (1ULL << 46))
		return err_set(&c->err, EINVAL, "memory too large: %llu bytes",
			       (unsigned long long)bytes);
	c->memory = bytes;
	return 0;
}

API int cvmm_config_set_rng(struct cvmm_config *c, int enabled)
{
	err_clear(&c->err);
	c->rng = enabled != 0;
	return 0;
}

API int cvmm_config_set_balloon(struct cvmm_config *c, uint32_t amount_mib, unsigned flags,
				unsigned stats_interval_s)
{
	err_clear(&c->err);
	if (flags & ~(CVMM_BALLOON_DEFLATE_ON_OOM | CVMM_BALLOON_FREE_PAGE_REPORTING))
		return err_set(&c->err, EINVAL, "balloon: unknown flags 0x%x", flags);
	if (stats_interval_s > 65535)
		return err_set(&c->err, EINVAL,
			       "balloon: statistics interval must be 0..65535 s, got %u",
			       stats_interval_s);
	c->balloon = (struct vm_balloon_cfg){true, amount_mib, flags, stats_interval_s};
	return 0;
}

/* A limiter for the configuration: checked, copied (NULL: none). */
static int limiter_copy(struct cvmm_config *c, struct cvmm_rate_limiter *dst,
			const struct cvmm_rate_limiter *rl, const char *what, unsigned i)
{
	struct rl_cfg rc = vm_rl_cfg(rl);
	if (rl_cfg_check(&rc) < 0)
		return err_set(&c->err, EINVAL,
			       "%s %u: a rate limiter's size and one_time_burst must be at most "
			       "2^62, its refill_time at most 10^12 ms",
			       what, i);
	*dst = rl ? *rl : (struct cvmm_rate_limiter){0};
	return 0;
}

API int cvmm_config_set_disk_limiter(struct cvmm_config *c, unsigned disk,
				     const struct cvmm_rate_limiter *rl)
{
	err_clear(&c->err);
	if (disk >= c->ndisks)
		return err_set(&c->err, ENODEV, "no disk %u", disk);
	return limiter_copy(c, &c->disks[disk].limit, rl, "disk", disk);
}

API int cvmm_config_set_net_limiter(struct cvmm_config *c, unsigned net,
				    const struct cvmm_rate_limiter *rx,
				    const struct cvmm_rate_limiter *tx)
{
	err_clear(&c->err);
	if (net >= c->nnets)
		return err_set(&c->err, ENODEV, "no network interface %u", net);
	struct cvmm_rate_limiter r, t;
	int ret = limiter_copy(c, &r, rx, "net (RX)", net);
	if (!ret)
		ret = limiter_copy(c, &t, tx, "net (TX)", net);
	if (ret < 0)
		return ret;
	c->net_limit[net][0] = r;
	c->net_limit[net][1] = t;
	return 0;
}

API int cvmm_config_set_rng_limiter(struct cvmm_config *c, const struct cvmm_rate_limiter *rl)
{
	err_clear(&c->err);
	return limiter_copy(c, &c->rng_limit, rl, "rng", 0);
}

API int cvmm_config_set_dirty_tracking(struct cvmm_config *c, int enabled)
{
	err_clear(&c->err);
	c->track_dirty = enabled != 0;
	return 0;
}

API int cvmm_config_set_debug_exit(struct cvmm_config *c, int enabled)
{
	err_clear(&c->err);
	c->debug_exit = enabled != 0;
	return 0;
}

API int cvmm_config_set_boot_timer(struct cvmm_config *c, int enabled)
{
	err_clear(&c->err);
	c->boot_timer = enabled != 0;
	return 0;
}

API int cvmm_config_set_console(struct cvmm_config *c, int in_fd, int out_fd)
{
	err_clear(&c->err);
	if (in_fd < -1 || out_fd < -1)
		return err_set(&c->err, EBADF, "console: bad file descriptor");
	c->console_in = in_fd;
	c->console_out = out_fd;
	free(c->console_path);
	c->console_path = NULL;
	return 0;
}

API int cvmm_config_set_console_file(struct cvmm_config *c, const char *path)
{
	int r = set_str(c, &c->console_path, path, "console file path");
	if (r == 0)
		c->console_out = -1;
	return r;
}

API int cvmm_config_set_console_limiter(struct cvmm_config *c, const struct cvmm_token_bucket *bw)
{
	err_clear(&c->err);
	struct cvmm_rate_limiter rl = {0};
	if (bw)
		rl.bandwidth = *bw;
	int r = limiter_copy(c, &rl, &rl, "console", 0);
	if (r == 0)
		c->console_limit = rl.bandwidth;
	return r;
}

API int cvmm_config_set_kick_signal(struct cvmm_config *c, int signo)
{
	err_clear(&c->err);
	if (signo != 0 && (signo < SIGRTMIN || signo > SIGRTMAX))
		return err_set(&c->err, EINVAL, "kick signal must be 0 or %d..%d, got %d", SIGRTMIN,
			       SIGRTMAX, signo);
	c->kick_signal = signo;
	return 0;
}

API int cvmm_config_set_transport(struct cvmm_config *c, int transport)
{
	err_clear(&c->err);
	if (transport != CVMM_TRANSPORT_DEFAULT && transport != CVMM_TRANSPORT_MMIO &&
	    transport != CVMM_TRANSPORT_PCI)
		return err_set(&c->err, EINVAL, "transport must be mmio or pci");
#ifndef __x86_64__
	if (transport == CVMM_TRANSPORT_PCI)
		return err_set(&c->err, EINVAL, "virtio-pci is supported on x86_64 only");
#endif
	c->transport = transport;
	return 0;
}

API int cvmm_config_set_seccomp(struct cvmm_config *c, int mode)
{
	err_clear(&c->err);
	if (mode != CVMM_SECCOMP_ON && mode != CVMM_SECCOMP_LOG && mode != CVMM_SECCOMP_OFF)
		return err_set(&c->err, EINVAL, "seccomp mode must be on, log or off");
	c->seccomp = mode;
	return 0;
}

API int cvmm_config_set_jail(struct cvmm_config *c, const struct cvmm_jail *j)
{
	err_clear(&c->err);
	if (j->chroot_dir && j->chroot_dir[0] != '/')
		return err_set(&c->err, EINVAL, "chroot directory must be an absolute path: '%s'",
			       j->chroot_dir);
	char *dir = NULL, *rm = NULL, *snap = NULL;
	if ((j->chroot_dir && !(dir = strdup(j->chroot_dir))) ||
	    (j->socket_dir && !(rm = strdup(j->socket_dir))) ||
	    (j->snapshot_dir && !(snap = strdup(j->snapshot_dir)))) {
		free(dir);
		free(rm);
		return err_set(&c->err, ENOMEM, "out of memory");
	}
	free(c->jail_snapshot_dir);
	c->jail_snapshot_dir = snap;
	free(c->jail_chroot);
	c->jail_chroot = dir;
	free(c->jail_rm_dir);
	c->jail_rm_dir = rm;
	c->jail = true;
	c->jail_ids = j->set_ids != 0;
	c->jail_uid = j->uid;
	c->jail_gid = j->gid;
	c->jail_landlock = !j->no_landlock;
	c->jail_update_disks = j->update_disks != 0;
	c->jail_update_anywhere = j->update_disks != 0 && j->update_disks_anywhere != 0;
	return 0;
}
