/* SPDX-License-Identifier: MIT */
/* The device list (vdevs.h): one row per virtio device kind. */
#include "vmm/vdevs.h"

#include <errno.h>
#include <string.h>

#include "devices/balloon.h"
#include "devices/blk.h"
#include "devices/fs.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/vsock.h"
#include "vmm/config.h"

static unsigned blk_count(const struct cvmm_config *c)
{
	return c->ndisks;
}

static int blk_open_cfg(void **out, const struct cvmm_config *c, unsigned i, struct err *e)
{
	const struct vm_disk_cfg *d = &c->disks[i];
	struct blk_cfg bc = {.path = d->path,
			     .ro = d->flags & CVMM_DISK_RO,
			     .direct = d->flags & CVMM_DISK_DIRECT,
			     .queues = d->queues,
			     .limit = vm_rl_cfg(&d->limit),
			     .poll_us = d->poll_us};
	return blk_desc.open(out, &bc, i, e);
}

static unsigned net_count(const struct cvmm_config *c)
{
	return c->nnets;
}

static int net_open_cfg(void **out, const struct cvmm_config *cfg, unsigned i, struct err *e)
{
	const struct cvmm_net_config *c = &cfg->nets[i];
	struct net_cfg nc = {.backend = (enum net_backend)c->backend,
			     .target = c->target,
			     .fd = c->fd,
			     .pairs = c->queue_pairs,
			     .has_mac = c->has_mac,
			     .rx_limit = vm_rl_cfg(&cfg->net_limit[i][0]),
			     .tx_limit = vm_rl_cfg(&cfg->net_limit[i][1]),
			     .poll_us = cfg->net_poll_us[i],
			     .rx_no_batch = c->rx_no_batch != 0};
	memcpy(nc.mac, c->mac, 6);
	if (cfg->mmds.net_mask & (1u << i))
		nc.mmds = cfg->mmds_store;
	return net_desc.open(out, &nc, i, e);
}

static unsigned fs_count(const struct cvmm_config *c)
{
	return c->nfs;
}

static int fs_open_cfg(void **out, const struct cvmm_config *cfg, unsigned i, struct err *e)
{
	const struct vm_fs_cfg *c = &cfg->fs[i];
	struct fs_cfg fc = {.tag = c->tag,
			    .path = c->path,
			    .ro = c->flags & CVMM_FS_RO,
			    .xattr = c->flags & CVMM_FS_XATTR,
			    .privileged = c->flags & CVMM_FS_PRIVILEGED,
			    .shares = cfg->nfs};
	return fs_desc.open(out, &fc, i, e);
}

static unsigned vsock_count(const struct cvmm_config *c)
{
	return c->vsock_path ? 1 : 0;
}

static int vsock_open_cfg(void **out, const struct cvmm_config *c, unsigned i, struct err *e)
{
	struct vsock_cfg vc = {.guest_cid = c->vsock_cid, .path = c->vsock_path};
	return vsock_desc.open(out, &vc, i, e);
}

/* With a chroot, guest connections to PATH_P are resolved inside it: a
 * PATH beneath DIR is named as seen from there. */
static int vsock_jail(void *model, const struct cvmm_config *c, struct err *e)
{
	if (!c->jail_chroot)
		return 0;
	const char *d = c->jail_chroot, *vp = c->vsock_path;
	size_t dl = strlen(d);
	while (dl > 1 && d[dl - 1] == '/')
		dl--;
	if (vp[0] == '/' && !strncmp(vp, d, dl) && vp[dl] == '/' &&
	    vsock_set_path(model, dl == 1 ? vp : vp + dl) < 0)
		return err_set(e, ENOMEM, "out of memory");
	return 0;
}

static unsigned rng_count(const struct cvmm_config *c)
{
	return c->rng ? 1 : 0;
}

static int rng_open_cfg(void **out, const struct cvmm_config *c, unsigned i, struct err *e)
{
	struct rng_cfg rc = {.source = NULL, .limit = vm_rl_cfg(&c->rng_limit)};
	return rng_desc.open(out, &rc, i, e);
}

static unsigned balloon_count(const struct cvmm_config *c)
{
	return c->balloon.on ? 1 : 0;
}

static int balloon_open_cfg(void **out, const struct cvmm_config *c, unsigned i, struct err *e)
{
	const struct vm_balloon_cfg *b = &c->balloon;
	*out = NULL;
	if ((uint64_t)b->mib << 20 > c->memory)
		return err_set(e, EINVAL,
			       "balloon: %u MiB is more than the guest's memory (%llu MiB)", b->mib,
			       (unsigned long long)(c->memory >> 20));
	struct balloon_cfg bc = {.target_pages = b->mib * BALLOON_MIB_PAGES,
				 .deflate_on_oom = b->flags & CVMM_BALLOON_DEFLATE_ON_OOM,
				 .reporting = b->flags & CVMM_BALLOON_FREE_PAGE_REPORTING,
				 .stats_interval_s = b->stats_s,
				 .keep_pages = c->huge_pages == CVMM_HUGE_2M};
	return balloon_desc.open(out, &bc, i, e);
}

/* Slots go to disks first, then network interfaces, then shared
 * directories, in the order given, then vsock, the entropy device, the
 * balloon. */
const struct vm_vdev_src vm_vdev_srcs[] = {
	{.desc = &blk_desc, .count = blk_count, .open = blk_open_cfg},
	{.desc = &net_desc, .count = net_count, .open = net_open_cfg},
	{.desc = &fs_desc, .count = fs_count, .open = fs_open_cfg},
	{.desc = &vsock_desc, .count = vsock_count, .open = vsock_open_cfg, .jail = vsock_jail},
	{.desc = &rng_desc, .count = rng_count, .open = rng_open_cfg},
	{.desc = &balloon_desc, .count = balloon_count, .open = balloon_open_cfg},
};
const unsigned vm_nvdev_srcs = sizeof(vm_vdev_srcs) / sizeof(vm_vdev_srcs[0]);
const struct vm_vdev_src *const vm_vdev_disks = &vm_vdev_srcs[0];
