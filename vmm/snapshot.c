/* SPDX-License-Identifier: MIT */
/* Snapshot and restore (docs/snapshot.md): the VM's configuration, the
 * arch's state, each virtio device's (its transport's, virtio_dev's, its
 * own) into one state file (core/snap.h), guest memory into another
 * (vmm/snapmem.c); and a VM built back from them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/log.h"
#include "core/snap.h"
#include "vmm/snapmem.h"
#include "vmm/snapshot.h"
#include "vmm/vdevs.h"
#include "vmm/vm.h"

#define API __attribute__((visibility("default")))

enum { MEM_REGIONS = 1, MEM_TOTAL, MEM_TYPE };
enum { VDEV_KIND = 1, VDEV_ID, VDEV_PCI, VDEV_BASE, VDEV_GSI, VDEV_SLOT, VDEV_MSI_BASE };
enum { APP_DATA = 1 };

/* How long in-flight I/O may take to finish at a snapshot. */
#define DRAIN_MS 5000

/* The guest RAM regions the memory file holds, in its order; a diff's
 * file holds only what changed since the snapshot before. */
static void save_memory(const struct vm *vm, struct snap_w *w, int type)
{
	snap_section(w, "memory", 0);
	uint64_t reg[2 * GM_MAX_REGIONS];
	for (unsigned i = 0; i < vm->mem.n; i++) {
		reg[2 * i] = vm->mem.r[i].gpa;
		reg[2 * i + 1] = vm->mem.r[i].size;
	}
	snap_put(w, MEM_REGIONS, reg, vm->mem.n * 2 * sizeof(reg[0]));
	snap_u64(w, MEM_TOTAL, vm->mem.total);
	snap_u32(w, MEM_TYPE, type == CVMM_SNAPSHOT_DIFF);
}

static void save_vdev(const struct vm_vdev *s, uint32_t i, struct snap_w *w)
{
	snap_section(w, "vdev", i);
	snap_str(w, VDEV_KIND, s->kind);
	snap_u32(w, VDEV_ID, s->k->virtio_id);
	snap_u32(w, VDEV_PCI, s->pci);
	snap_u64(w, VDEV_BASE, s->base);
	snap_u32(w, VDEV_GSI, s->gsi);
	snap_u32(w, VDEV_SLOT, s->slot);
	snap_u32(w, VDEV_MSI_BASE, s->msi_gsi_base);
}

/* Writes the state into fd (opened, not yet truncated: see
 * check_targets), from its start. */
static int write_file(int fd, const char *path, const void *p, size_t len, struct err *e)
{
	if (ftruncate(fd, 0) < 0)
		return err_set(e, errno, "cannot truncate '%s': %s", path, strerror(errno));
	const uint8_t *b = p;
	while (len) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int er = n < 0 ? errno : EIO;
			return err_set(e, er, "cannot write '%s': %s", path, strerror(er));
		}
		b += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		return err_set(e, errno, "cannot sync '%s': %s", path, strerror(errno));
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Before either file is written. A VM restored from a memory file maps
 * it (MAP_PRIVATE) or reads its pages from it on first touch (the lazy
 * backend): a new memory file may be that file (snapmem_save writes over
 * it in place, with what the guest sees), but a state file may not, as
 * its truncation would zero every page the guest has not written since.
 * And one file cannot be both the state and the memory. */
static int check_targets(const struct vm *vm, int mfd, const char *mem_path, int sfd,
			 const char *state_path, struct err *e)
{
	struct stat m, s, src;
	if (fstat(mfd, &m) < 0 || fstat(sfd, &s) < 0)
		return err_set(e, errno, "cannot stat the snapshot's files: %s", strerror(errno));
	if (same_file(&m, &s))
		return err_set(e, EINVAL,
			       "'%s' and '%s' are the same file: the state and the "
			       "memory need one each",
			       state_path, mem_path);
	if (vm->snapmem.fd >= 0 && fstat(vm->snapmem.fd, &src) == 0 && same_file(&s, &src))
		return err_set(e, EBUSY,
			       "'%s' is the memory file this VM was restored from, and its "
			       "memory is still read from it: it cannot be the state file",
			       state_path);
	return 0;
}

static bool vm_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	bool p = vm->pause_req && vm->nparked == vm->nrunning;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}

static int snapshot(struct vm *vm, const char *state_path, const char *mem_path, int type,
		    const void *app, unsigned long app_len, struct err *e)
{
	if (!state_path || !state_path[0] || !mem_path || !mem_path[0])
		return err_set(e, EINVAL, "a snapshot needs a state file and a memory file");
	if (type != CVMM_SNAPSHOT_FULL && type != CVMM_SNAPSHOT_DIFF)
		return err_set(e, EINVAL, "unknown snapshot type %d", type);
	if (__atomic_load_n(&vm->snapmem.failed, __ATOMIC_ACQUIRE))
		return err_set(e, EIO, "guest memory is lost: %s", vm->snapmem.why);
	if (atomic_load(&vm->stopping))
		return err_set(e, ESHUTDOWN, "VM has exited");
	if (vm->started && !vm_paused(vm))
		return err_set(e, EINVAL, "pause the VM before a snapshot");
	/* jailed: its filter and Landlock let it write nowhere else */
	if (vm->cfg.jail && !vm->cfg.jail_snapshot_dir)
		return err_set(e, EPERM,
			       "the jailed VM may write snapshots nowhere: give it a snapshot "
			       "directory (--snapshot-dir, cvmm_jail.snapshot_dir)");
	for (unsigned i = 0; i < vm->nvdevs; i++)
		if (!vm->vdevs[i].k->save)
			return err_set(
				e, EOPNOTSUPP, "%s cannot be snapshotted%s", vm->vdevs[i].name,
				vm->vdevs[i].k->virtio_id == VIRTIO_ID_FS
					? ": a share's state is the host's open files and the "
					  "guest's FUSE handles (docs/snapshot.md)"
					: "");
	/* In-flight I/O finishes: nothing reaches guest memory after this. */
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DRAIN_MS / 1000;
	unsigned paused = 0;
	int r = 0;
	for (; paused < vm->nvdevs; paused++) {
		if (!vm->vdevs[paused].vdev)
			continue;
		r = virtio_dev_pause(vm->vdevs[paused].vdev, &until);
		if (r < 0) {
			err_set(e, -r, "%s did not finish its I/O within %d ms",
				vm->vdevs[paused].name, DRAIN_MS);
			break;
		}
	}
	struct snap_w w;
	snap_w_init(&w);
	int fd = -1, sfd = -1;
	unsigned long *resident[GM_MAX_REGIONS] = {0};
	if (r < 0)
		goto out;
	/* each interface's MAC as its driver saw it (derived from its tap's
	 * name when none was given): a clone on another tap keeps it */
	struct cvmm_config cfg = vm->cfg; /* shallow: only read */
	for (unsigned i = 0, k = 0; i < vm->nvdevs && k < cfg.nnets; i++) {
		struct virtio_dev *d = vm->vdevs[i].vdev;
		if (vm->vdevs[i].k->virtio_id != VIRTIO_ID_NET || !d)
			continue;
		pthread_mutex_lock(&d->lock);
		d->ops->config_read(d, 0, cfg.nets[k].mac, 6);
		pthread_mutex_unlock(&d->lock);
		cfg.nets[k++].has_mac = 1;
	}
	snapshot_config_write(&cfg, vm->pci, &w);
	save_memory(vm, &w, type);
	int fds[CVMM_MAX_CPUS];
	for (unsigned i = 0; i < vm->nvcpus; i++)
		fds[i] = vm->vcpus[i].fd;
	if ((r = arch_save(vm->arch, fds, vm->nvcpus, &w, e)) < 0)
		goto out;
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		struct vm_vdev *s = &vm->vdevs[i];
		save_vdev(s, i, &w);
		if (s->pci)
			virtio_pci_save(&s->vpci, &w, i);
		if ((r = s->k->save(s->model, &w, i, e)) < 0)
			goto out;
		virtio_dev_save(s->vdev, &w, i);
	}
	if (app && app_len) {
		snap_section(&w, "app", 0);
		snap_put_opt(&w, APP_DATA, app, app_len);
	}
	const uint8_t *buf;
	size_t len;
	if ((r = snap_w_finish(&w, SNAP_ARCH_HOST, &buf, &len, e)) < 0)
		goto out;
	fd = open(mem_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = err_set(e, errno, "cannot create memory file '%s': %s", mem_path,
			    strerror(errno));
		goto out;
	}
	sfd = open(state_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (sfd < 0) {
		r = err_set(e, errno, "cannot create '%s': %s", state_path, strerror(errno));
		goto out;
	}
	if ((r = check_targets(vm, fd, mem_path, sfd, state_path, e)) < 0)
		goto out;
	/* tracking: what changed since the last snapshot, which this one
	 * becomes the base of (a full one too) */
	if (vm->cfg.track_dirty &&
	    (r = snapmem_dirty_collect(vm->vm_fd, &vm->mem, &vm->dirty, e)) < 0)
		goto out;
	/* a diff without tracking: every resident page (Firecracker's
	 * fallback) */
	unsigned long *const *dirty = type != CVMM_SNAPSHOT_DIFF ? NULL
				      : vm->cfg.track_dirty	 ? vm->dirty.out
								 : resident;
	if ((type == CVMM_SNAPSHOT_DIFF && !vm->cfg.track_dirty &&
	     (r = snapmem_resident(&vm->mem, resident, e)) < 0) ||
	    (r = snapmem_save(&vm->mem, fd, dirty, e)) < 0)
		goto out;
	/* the state last: a state file names a complete memory file */
	r = write_file(sfd, state_path, buf, len, e);
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		free(resident[i]);
	snap_w_free(&w);
	for (unsigned i = 0; i < paused; i++)
		if (vm->vdevs[i].vdev)
			virtio_dev_resume(vm->vdevs[i].vdev);
	return r;
}

API int cvmm_vm_snapshot(struct cvmm_vm *handle, const char *state_path, const char *mem_path,
			 int type, const void *app, unsigned long app_len)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct err e = {0};
	int r = snapshot(vm, state_path, mem_path, type, app, app_len, &e);
	return r < 0 ? err_shared_put(&vm->err, &e) : 0;
}

/* ---- restore ------------------------------------------------------------- */

/* The devices the rebuilt VM got are the snapshot's, slot for slot. */
static int check_vdev(const struct vm_vdev *s, unsigned i, const struct snap_r *r, struct err *e)
{
	struct snap_sec d;
	char kind[32];
	uint32_t id, pci, gsi, slot, msi;
	uint64_t base;
	int ret;
	if (snap_find(r, "vdev", i, &d) < 0)
		return err_set(e, EINVAL, "snapshot lacks virtio device %u (%s)", i, s->name);
	if ((ret = snap_get_str(&d, VDEV_KIND, kind, sizeof(kind), true, e)) < 0 ||
	    (ret = snap_get_u32(&d, VDEV_ID, &id, e)) < 0 ||
	    (ret = snap_get_u32(&d, VDEV_PCI, &pci, e)) < 0 ||
	    (ret = snap_get_u64(&d, VDEV_BASE, &base, e)) < 0 ||
	    (ret = snap_get_u32(&d, VDEV_GSI, &gsi, e)) < 0 ||
	    (ret = snap_get_u32(&d, VDEV_SLOT, &slot, e)) < 0 ||
	    (ret = snap_get_u32(&d, VDEV_MSI_BASE, &msi, e)) < 0)
		return ret;
	if (strcmp(kind, s->kind) != 0 || id != s->k->virtio_id || pci != s->pci ||
	    base != s->base || gsi != s->gsi ||
	    (pci && (slot != s->slot || msi != s->msi_gsi_base)))
		return err_set(e, EINVAL, "snapshot's virtio device %u is a %s, the VM's %s", i,
			       kind, s->name);
	return 0;
}

int vm_restore_state(struct vm *vm, const struct vm_restore *rc, struct err *e)
{
	const struct snap_r *r = rc->r;
	struct snap_sec s;
	if (snap_find(r, "memory", 0, &s) < 0)
		return err_set(e, EINVAL, "snapshot has no memory layout");
	size_t len;
	const uint8_t *reg = snap_get(&s, MEM_REGIONS, &len);
	if (!reg || len != vm->mem.n * 16)
		return err_set(e, EINVAL, "snapshot's memory layout is not this VM's");
	for (unsigned i = 0; i < vm->mem.n; i++) {
		uint64_t gpa, size;
		memcpy(&gpa, reg + 16 * i, 8);
		memcpy(&size, reg + 16 * i + 8, 8);
		if (gpa != vm->mem.r[i].gpa || size != vm->mem.r[i].size)
			return err_set(e, EINVAL, "snapshot's memory layout is not this VM's");
	}
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		int ret = check_vdev(&vm->vdevs[i], i, r, e);
		if (ret < 0)
			return ret;
	}
	if (snap_find(r, "vdev", vm->nvdevs, &s) == 0)
		return err_set(e, EINVAL,
			       "snapshot has more virtio devices than its configuration");
	int fds[CVMM_MAX_CPUS];
	for (unsigned i = 0; i < vm->nvcpus; i++)
		fds[i] = vm->vcpus[i].fd;
	int ret = arch_restore(vm->arch, fds, vm->nvcpus, r, rc->rs && rc->rs->clock_realtime, e);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		struct vm_vdev *d = &vm->vdevs[i];
		if (!d->k->restore)
			return err_set(e, EOPNOTSUPP, "%s cannot be restored", d->name);
		if (d->pci && (ret = virtio_pci_restore(&d->vpci, r, i, e)) < 0)
			return ret;
		if ((ret = d->k->restore(d->model, r, i, e)) < 0)
			return ret;
		if ((ret = virtio_dev_restore(d->vdev, r, i, e)) < 0)
			return ret;
	}
	/* a new generation ID, which the guest is told of: a clone (every
	 * restore may be one) reseeds its randomness (Linux's vmgenid) */
	ret = vm_vmgenid_new(vm, true, e);
	if (ret < 0)
		return ret;
	char id[33];
	for (unsigned i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", vm->genid[i]);
	log_info("restored from a snapshot: %u vCPUs, %u devices, VM generation ID %s", vm->nvcpus,
		 vm->nvdevs, id);
	if (rc->rs->paused)
		atomic_store(&vm->pause_req, true);
	return 0;
}

API int cvmm_vm_restore(const struct cvmm_restore *rs, const struct cvmm_config *host,
			struct cvmm_vm **out, char *errbuf, unsigned long errlen)
{
	*out = NULL;
	struct err e = {0};
	uint8_t *buf = NULL;
	struct snap_r r;
	struct cvmm_config *c = NULL;
	int ret;
	if (!rs || !rs->mem_path || !rs->mem_path[0]) {
		ret = err_set(&e, EINVAL, "a restore needs the snapshot's memory file");
		goto out;
	}
	if (rs->mem_backend < CVMM_MEM_FILE || rs->mem_backend > CVMM_MEM_LAZY) {
		ret = err_set(&e, EINVAL, "unknown memory backend %d", rs->mem_backend);
		goto out;
	}
	if ((ret = snapshot_read_state(rs->state_path, &buf, &r, &e)) < 0)
		goto out;
	if ((ret = cvmm_config_new(&c)) < 0) {
		err_set(&e, -ret, "out of memory");
		goto out;
	}
	if ((ret = snapshot_config_read(&r, rs, host, c, &e)) < 0)
		goto out;
	struct vm_restore rc = {&r, rs};
	ret = vm_create(c, &rc, out, errbuf, errlen);
	cvmm_config_free(c);
	free(buf);
	return ret;
out:
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", e.msg[0] ? e.msg : strerror(-ret));
	cvmm_config_free(c);
	free(buf);
	return ret < 0 ? ret : -EIO;
}

API int cvmm_snapshot_merge(const char *base_mem, const char *diff_mem, char *errbuf,
			    unsigned long errlen)
{
	struct err e = {0};
	int r = snapmem_merge(base_mem, diff_mem, &e);
	if (r < 0 && errbuf && errlen)
		snprintf(errbuf, errlen, "%s", e.msg);
	return r;
}
