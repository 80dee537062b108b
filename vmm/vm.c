/* SPDX-License-Identifier: MIT */
/* The builder and the VM lifecycle: config -> checks -> memory -> VM ->
 * vCPUs -> devices -> kernel -> paused VM. Teardown mirrors it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/virtio/mmio.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"
#include "vmm/jail.h"

#define API __attribute__((visibility("default")))
#define CVMM_KICK_SIGNAL (SIGRTMIN + 2)
#define MAX_IMAGE_SIZE (2ULL << 30)

API const char *cvmm_version(void)
{
	return CVMM_VERSION;
}

/* ---- hooks devices and vCPUs call -------------------------------------- */

void vm_request_exit(struct vm *vm, enum cvmm_exit_reason reason, int vcpu, uint64_t rip,
		     uint32_t kvm_reason, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->exit_lock);
	bool first = vm->exit.reason == CVMM_EXIT_NONE;
	if (first) {
		vm->exit.reason = reason;
		vm->exit.vcpu = vcpu;
		vm->exit.rip = rip;
		vm->exit.kvm_exit_reason = kvm_reason;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vm->exit.message, sizeof(vm->exit.message), fmt, ap);
		va_end(ap);
		if (reason == CVMM_EXIT_ERROR)
			err_set(&vm->err, EIO, "%s", vm->exit.message);
	}
	atomic_store(&vm->stopping, true);
	/* Kick under exit_lock: vcpu_start creates threads under it too, so a
	 * thread either is kicked here or starts after stopping was set. */
	if (first) {
		for (unsigned i = 0; i < vm->nvcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];
			if (v->run)
				v->run->immediate_exit = 1;
			if (v->thread_started && !pthread_equal(v->thread, pthread_self()))
				pthread_kill(v->thread, vm->kick_signal);
		}
	}
	pthread_mutex_unlock(&vm->exit_lock);
	if (!first)
		return;
	/* Parked vCPUs wake up and leave; a pauser stops waiting. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	uint64_t one = 1;
	ssize_t n = write(vm->exit_efd, &one, sizeof(one));
	(void)n; /* an eventfd write of 1 cannot fail short of overflow */
}

void vm_irq_set(void *opaque, uint32_t gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
}

void vm_debug_exit(void *opaque, int code)
{
	struct vm *vm = opaque;
	pthread_mutex_lock(&vm->exit_lock);
	if (vm->exit.reason == CVMM_EXIT_NONE)
		vm->exit.code = code;
	pthread_mutex_unlock(&vm->exit_lock);
	vm_request_exit(vm, CVMM_EXIT_DEBUG, -1, 0, 0, "debug exit, code %d", code);
}

void vm_sys_event(void *opaque, enum sys_event ev, const char *why)
{
	struct vm *vm = opaque;
	if (ev == SYS_EVENT_POWEROFF)
		vm_request_exit(vm, CVMM_EXIT_POWEROFF, -1, 0, 0, "guest powered off (%s)", why);
	else
		vm_request_exit(vm, CVMM_EXIT_REBOOT, -1, 0, 0, "guest rebooted (%s)", why);
}

void vm_pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;
	/* The common case costs one load: a pauser sets the flag before it
	 * kicks, so a vCPU that missed it here is kicked out of KVM_RUN. */
	if (!atomic_load(&vm->pause_req))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req && !atomic_load(&vm->stopping)) {
		v->parked = true;
		vm->nparked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_req && !atomic_load(&vm->stopping))
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nparked--;
		v->parked = false;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_vcpu_gone(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->pause_lock);
	vm->nrunning--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

/* ---- building ------------------------------------------------------------ */

struct image {
	uint8_t *data; /* owned mapping */
	size_t size;
};

static int image_map(const char *what, const char *path, struct image *img, struct err *e)
{
	img->data = NULL;
	img->size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, errno, "cannot open %s '%s': %s", what, path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int er = errno;
		close(fd);
		return err_set(e, er, "cannot stat %s '%s': %s", what, path, strerror(er));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, EINVAL, "%s '%s' is not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_set(e, EINVAL, "%s '%s' is empty", what, path);
	}
	if ((uint64_t)st.st_size > MAX_IMAGE_SIZE) {
		close(fd);
		return err_set(e, EFBIG, "%s '%s' is too large (%lld bytes)", what, path,
			       (long long)st.st_size);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int er = errno;
	close(fd);
	if (p == MAP_FAILED)
		return err_set(e, er, "cannot map %s '%s': %s", what, path, strerror(er));
	img->data = p;
	img->size = (size_t)st.st_size;
	return 0;
}

static void image_unmap(struct image *img)
{
	if (img->data)
		munmap(img->data, img->size);
	img->data = NULL;
}

static int vm_copy_config(struct vm *vm, const struct cvmm_config *c, struct err *e)
{
	vm->cfg = *c;
	vm->cfg.kernel = c->kernel ? strdup(c->kernel) : NULL;
	vm->cfg.initrd = c->initrd ? strdup(c->initrd) : NULL;
	vm->cfg.cmdline = strdup(c->cmdline ? c->cmdline : arch_default_cmdline());
	for (unsigned i = 0; i < CVMM_MAX_DISKS; i++)
		vm->cfg.disks[i].path = NULL; /* not the caller's: ours or none */
	for (unsigned i = 0; i < c->ndisks; i++) {
		vm->cfg.disks[i].path = strdup(c->disks[i].path);
		if (!vm->cfg.disks[i].path)
			return err_set(e, ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < CVMM_MAX_NETS; i++)
		vm->cfg.nets[i].target = NULL;
	for (unsigned i = 0; i < c->nnets; i++) {
		if (c->nets[i].target && !(vm->cfg.nets[i].target = strdup(c->nets[i].target)))
			return err_set(e, ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < CVMM_MAX_FS; i++)
		vm->cfg.fs[i].tag = vm->cfg.fs[i].path = NULL;
	for (unsigned i = 0; i < c->nfs; i++) {
		vm->cfg.fs[i].tag = strdup(c->fs[i].tag);
		vm->cfg.fs[i].path = strdup(c->fs[i].path);
		if (!vm->cfg.fs[i].tag || !vm->cfg.fs[i].path)
			return err_set(e, ENOMEM, "out of memory");
	}
	vm->cfg.console_path = NULL;
	if (c->console_path && !(vm->cfg.console_path = strdup(c->console_path)))
		return err_set(e, ENOMEM, "out of memory");
	vm->cfg.vsock_path = NULL;
	if (c->vsock_path && !(vm->cfg.vsock_path = strdup(c->vsock_path)))
		return err_set(e, ENOMEM, "out of memory");
	vm->cfg.jail_chroot = NULL;
	if (c->jail_chroot && !(vm->cfg.jail_chroot = strdup(c->jail_chroot)))
		return err_set(e, ENOMEM, "out of memory");
	vm->cfg.jail_rm_dir = NULL;
	if (c->jail_rm_dir && !(vm->cfg.jail_rm_dir = strdup(c->jail_rm_dir)))
		return err_set(e, ENOMEM, "out of memory");
	if ((c->kernel && !vm->cfg.kernel) || (c->initrd && !vm->cfg.initrd) || !vm->cfg.cmdline)
		return err_set(e, ENOMEM, "out of memory");
	err_clear(&vm->cfg.err);
	if (!vm->cfg.kernel)
		return err_set(e, EINVAL, "no kernel given");
	if (vm->cfg.cpus == 0 || vm->cfg.cpus > CVMM_MAX_CPUS)
		return err_set(e, EINVAL, "cpus must be between 1 and %d", CVMM_MAX_CPUS);
	if (vm->cfg.memory < CVMM_MIN_MEMORY || vm->cfg.memory % 4096)
		return err_set(e, EINVAL, "memory must be at least %llu MiB, in 4 KiB units",
			       CVMM_MIN_MEMORY >> 20);
	return 0;
}

/* Guest RAM: anonymous mappings, one per region of the arch's layout. */
static int vm_memory_alloc(struct vm *vm, struct err *e)
{
	uint64_t gpa[GM_MAX_REGIONS], size[GM_MAX_REGIONS];
	unsigned n = arch_ram_layout(vm->cfg.memory, gpa, size);
	for (unsigned i = 0; i < n; i++) {
		void *p = mmap(NULL, size[i], PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return err_set(e, errno, "cannot allocate %llu MiB of guest memory: %s",
				       (unsigned long long)(size[i] >> 20), strerror(errno));
		vm->ram_map[i] = p;
		vm->ram_len[i] = size[i];
		madvise(p, size[i], MADV_DONTDUMP);
		int r = gm_add(&vm->mem, gpa[i], size[i], p);
		if (r < 0)
			return err_set(e, -r, "bad memory layout");
	}
	return 0;
}

static int vm_memory_register(struct vm *vm, struct err *e)
{
	for (unsigned i = 0; i < vm->mem.n; i++) {
		const struct gm_region *g = &vm->mem.r[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uint64_t)(uintptr_t)g->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return err_set(e, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
	return 0;
}

static int vm_vcpus_init(struct vm *vm, struct err *e)
{
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run))
		return err_set(e, EIO, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->vcpus = calloc(vm->cfg.cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(e, ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0)
			return err_set(e, errno, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
		vm->nvcpus = i + 1;
		void *run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 v->fd, 0);
		if (run == MAP_FAILED)
			return err_set(e, errno, "mmap kvm_run: %s", strerror(errno));
		v->run = run;
		int r = arch_vcpu_init(vm, v, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int vm_load(struct vm *vm, struct err *e)
{
	struct image kernel, initrd = { 0 };
	int r = image_map("kernel", vm->cfg.kernel, &kernel, e);
	if (r < 0)
		return r;
	if (vm->cfg.initrd) {
		r = image_map("initrd", vm->cfg.initrd, &initrd, e);
		if (r < 0)
			goto out;
	}
	r = arch_load(vm, kernel.data, kernel.size, initrd.data, initrd.size, e);
out:
	image_unmap(&initrd);
	image_unmap(&kernel);
	return r;
}

static int vm_mmio_slot_add(struct vm *vm, const char *kind, struct err *e)
{
	struct vm_mmio_slot *s = &vm->mmio_slot[vm->nmmio];
	if (vm->nmmio >= CVMM_MAX_MMIO || arch_mmio_slot(vm->nmmio, &s->base, &s->gsi) < 0)
		return err_set(e, ENOSPC, "too many devices");
	s->kind = kind;
	snprintf(s->name, sizeof(s->name), "%s@0x%llx", kind, (unsigned long long)s->base);
	vm->nmmio++;
	return 0;
}

/* Opens the devices' backing files and gives each device its mmio slot,
 * before anything is loaded (the tables describe the slots). Slots go to
 * disks first, then network interfaces, then shared directories, in the
 * order given, then vsock. */
static int vm_devices_open(struct vm *vm, struct err *e)
{
	for (unsigned i = 0; i < vm->cfg.ndisks; i++) {
		const struct vm_disk_cfg *d = &vm->cfg.disks[i];
		struct blk_cfg bc = { .path = d->path,
				      .ro = d->flags & CVMM_DISK_RO,
				      .direct = d->flags & CVMM_DISK_DIRECT,
				      .queues = d->queues };
		int r = blk_open(&vm->blk[i], &bc, i, e);
		if (r < 0)
			return r;
		r = vm_mmio_slot_add(vm, "virtio-blk", e);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < vm->cfg.nnets; i++) {
		const struct cvmm_net_config *c = &vm->cfg.nets[i];
		struct net_cfg nc = { .backend = (enum net_backend)c->backend,
				      .target = c->target,
				      .fd = c->fd,
				      .pairs = c->queue_pairs,
				      .has_mac = c->has_mac };
		memcpy(nc.mac, c->mac, 6);
		int r = net_open(&vm->net[i], &nc, i, e);
		if (r < 0)
			return r;
		r = vm_mmio_slot_add(vm, "virtio-net", e);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < vm->cfg.nfs; i++) {
		const struct vm_fs_cfg *c = &vm->cfg.fs[i];
		struct fs_cfg fc = { .tag = c->tag,
				     .path = c->path,
				     .ro = c->flags & CVMM_FS_RO,
				     .xattr = c->flags & CVMM_FS_XATTR,
				     .privileged = c->flags & CVMM_FS_PRIVILEGED };
		int r = fs_open(&vm->fs[i], &fc, i, e);
		if (r < 0)
			return r;
		r = vm_mmio_slot_add(vm, "virtio-fs", e);
		if (r < 0)
			return r;
	}
	if (vm->cfg.vsock_path) {
		struct vsock_cfg vc = { .guest_cid = vm->cfg.vsock_cid, .path = vm->cfg.vsock_path };
		int r = vsock_open(&vm->vsock, &vc, e);
		if (r < 0)
			return r;
		r = vm_mmio_slot_add(vm, "virtio-vsock", e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Wires one virtio device to KVM: its registers on the MMIO bus and one
 * ioeventfd per queue straight to the queue's worker. */
static int vm_virtio_wire(struct vm *vm, struct vm_mmio_slot *s, struct virtio_dev *vdev,
			  const int *kick_fds, unsigned nq, struct err *e)
{
	s->vdev = vdev;
	vdev->name = s->name;
	int r = bus_add(&vm->mmio, s->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, vdev, s->kind);
	if (r < 0)
		return err_set(e, -r, "cannot map %s at 0x%llx", s->kind,
			       (unsigned long long)s->base);
	for (unsigned q = 0; q < nq; q++) {
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = s->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = kick_fds[q],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return err_set(e, errno, "KVM_IOEVENTFD: %s", strerror(errno));
	}
	return 0;
}

/* A device's interrupt: an eventfd KVM turns into the slot's GSI. */
static int vm_irqfd(struct vm *vm, const struct vm_mmio_slot *s, struct err *e)
{
	int irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (irqfd < 0)
		return err_set(e, errno, "eventfd: %s", strerror(errno));
	struct kvm_irqfd kirq = { .fd = (uint32_t)irqfd, .gsi = s->gsi };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &kirq) < 0) {
		int er = errno;
		close(irqfd);
		return err_set(e, er, "KVM_IRQFD: %s", strerror(er));
	}
	return irqfd;
}

/* Starts each virtio device (its workers) and wires it to KVM. */
static int vm_devices_start(struct vm *vm, struct err *e)
{
	unsigned slot = 0;
	int kicks[VIRTIO_MAX_QUEUES];
	for (unsigned i = 0; i < vm->cfg.ndisks; i++, slot++) {
		struct vm_mmio_slot *s = &vm->mmio_slot[slot];
		int irqfd = vm_irqfd(vm, s, e);
		if (irqfd < 0)
			return irqfd;
		blk_vdev(vm->blk[i])->seccomp = vm->cfg.seccomp;
		int r = blk_start(vm->blk[i], &vm->mem, irqfd, e);
		if (r < 0)
			return r;
		unsigned nq = blk_queues(vm->blk[i]);
		for (unsigned q = 0; q < nq; q++)
			kicks[q] = blk_kick_fd(vm->blk[i], q);
		r = vm_virtio_wire(vm, s, blk_vdev(vm->blk[i]), kicks, nq, e);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < vm->cfg.nnets; i++, slot++) {
		struct vm_mmio_slot *s = &vm->mmio_slot[slot];
		int irqfd = vm_irqfd(vm, s, e);
		if (irqfd < 0)
			return irqfd;
		net_vdev(vm->net[i])->seccomp = vm->cfg.seccomp;
		int r = net_start(vm->net[i], &vm->mem, irqfd, e);
		if (r < 0)
			return r;
		unsigned nq = net_queues(vm->net[i]);
		for (unsigned q = 0; q < nq; q++)
			kicks[q] = net_kick_fd(vm->net[i], q);
		r = vm_virtio_wire(vm, s, net_vdev(vm->net[i]), kicks, nq, e);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < vm->cfg.nfs; i++, slot++) {
		struct vm_mmio_slot *s = &vm->mmio_slot[slot];
		int irqfd = vm_irqfd(vm, s, e);
		if (irqfd < 0)
			return irqfd;
		fs_vdev(vm->fs[i])->seccomp = vm->cfg.seccomp;
		int r = fs_start(vm->fs[i], &vm->mem, irqfd, e);
		if (r < 0)
			return r;
		unsigned nq = fs_queues(vm->fs[i]);
		for (unsigned q = 0; q < nq; q++)
			kicks[q] = fs_kick_fd(vm->fs[i], q);
		r = vm_virtio_wire(vm, s, fs_vdev(vm->fs[i]), kicks, nq, e);
		if (r < 0)
			return r;
	}
	if (vm->vsock) {
		struct vm_mmio_slot *s = &vm->mmio_slot[slot];
		int irqfd = vm_irqfd(vm, s, e);
		if (irqfd < 0)
			return irqfd;
		vsock_vdev(vm->vsock)->seccomp = vm->cfg.seccomp;
		int r = vsock_start(vm->vsock, &vm->mem, irqfd, e);
		if (r < 0)
			return r;
		unsigned nq = vsock_queues(vm->vsock);
		for (unsigned q = 0; q < nq; q++)
			kicks[q] = vsock_kick_fd(vm->vsock, q);
		r = vm_virtio_wire(vm, s, vsock_vdev(vm->vsock), kicks, nq, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The privilege drop (cvmm_config_set_jail). Landlock leaves the file
 * system reachable only beneath the virtio-fs shares (read-only shares
 * read-only); every other file the VM uses is already open. */
static int vm_jail_drop(struct vm *vm, struct err *e)
{
	if (!vm->cfg.jail)
		return 0;
	const char *rw[CVMM_MAX_FS], *ro[CVMM_MAX_FS], *rm[2];
	char vsock_dir[4096];
	struct jail_priv p = { .chroot_dir = vm->cfg.jail_chroot,
			       .set_ids = vm->cfg.jail_ids,
			       .uid = vm->cfg.jail_uid,
			       .gid = vm->cfg.jail_gid,
			       .rw_dirs = rw,
			       .ro_dirs = ro,
			       .rm_dirs = rm,
			       .landlock = vm->cfg.jail_landlock };
	for (unsigned i = 0; i < vm->cfg.nfs; i++) {
		if (vm->cfg.fs[i].flags & CVMM_FS_RO) {
			ro[p.nro++] = vm->cfg.fs[i].path;
		} else {
			rw[p.nrw++] = vm->cfg.fs[i].path;
		}
		/* a privileged share's request worker keeps the ownership
		 * capabilities (if the process has them: not after --user) */
		if (vm->cfg.fs[i].flags & CVMM_FS_PRIVILEGED)
			p.keep_caps = JAIL_FS_CAPS;
	}
	/* cvmm removes its own sockets when it ends */
	if (vm->cfg.jail_rm_dir)
		rm[p.nrm++] = vm->cfg.jail_rm_dir;
	if (vm->cfg.vsock_path) {
		snprintf(vsock_dir, sizeof(vsock_dir), "%s", vm->cfg.vsock_path);
		char *slash = strrchr(vsock_dir, '/');
		if (slash == vsock_dir)
			slash[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(vsock_dir, sizeof(vsock_dir), ".");
		rm[p.nrm++] = vsock_dir;
	}
	/* With a chroot, guest connections to PATH_P are resolved inside it:
	 * a PATH beneath DIR is named as seen from there. */
	if (vm->vsock && vm->cfg.jail_chroot) {
		const char *d = vm->cfg.jail_chroot, *vp = vm->cfg.vsock_path;
		size_t dl = strlen(d);
		while (dl > 1 && d[dl - 1] == '/')
			dl--;
		if (vp[0] == '/' && !strncmp(vp, d, dl) && vp[dl] == '/' &&
		    vsock_set_path(vm->vsock, dl == 1 ? vp : vp + dl) < 0)
			return err_set(e, ENOMEM, "out of memory");
	}
	int abi;
	return jail_drop(&p, &abi, e);
}

static void vm_free(struct vm *vm);

API int cvmm_vm_create(const struct cvmm_config *cfg, struct cvmm_vm **out, char *errbuf,
		       unsigned long errlen)
{
	*out = NULL;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	struct err *e = &vm->err;
	vm->kvm_fd = vm->vm_fd = vm->exit_efd = vm->console_fd = vm->irqchip_fd = -1;
	vm->exit.vcpu = -1;
	int r = pthread_mutex_init(&vm->exit_lock, NULL);
	if (r) {
		free(vm);
		return -r;
	}
	if ((r = pthread_mutex_init(&vm->pause_lock, NULL))) {
		pthread_mutex_destroy(&vm->exit_lock);
		free(vm);
		return -r;
	}
	if ((r = pthread_cond_init(&vm->pause_cond, NULL))) {
		pthread_mutex_destroy(&vm->pause_lock);
		pthread_mutex_destroy(&vm->exit_lock);
		free(vm);
		return -r;
	}
	r = vm_copy_config(vm, cfg, e);
	if (r < 0)
		goto fail;
	vm->kick_signal = vm->cfg.kick_signal ? vm->cfg.kick_signal : CVMM_KICK_SIGNAL;
	if (vm->cfg.console_path) {
		vm->console_fd = open(vm->cfg.console_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
		if (vm->console_fd < 0) {
			r = err_set(e, errno, "cannot open console file '%s': %s",
				    vm->cfg.console_path, strerror(errno));
			goto fail;
		}
		vm->cfg.console_out = vm->console_fd;
	}
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0) {
		r = err_set(e, errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* Memory, kernel, initrd and tables first: bad images are reported as
	 * such even on a host without KVM. */
	r = vm_devices_open(vm, e);
	if (r < 0)
		goto fail;
	r = vm_memory_alloc(vm, e);
	if (r < 0)
		goto fail;
	r = vm_load(vm, e);
	if (r < 0)
		goto fail;
	const char *dev = getenv("CVMM_KVM_DEVICE");
	vm->kvm_fd = kvm_open_checked(dev ? dev : "/dev/kvm", e);
	if (vm->kvm_fd < 0) {
		r = vm->kvm_fd;
		goto fail;
	}
	unsigned max = kvm_max_vcpus(vm->kvm_fd);
	if (vm->cfg.cpus > max) {
		r = err_set(e, EINVAL, "--cpus %u exceeds KVM's maximum of %u vCPUs per VM",
			    vm->cfg.cpus, max);
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = err_set(e, errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	r = arch_vm_init(vm, e);
	if (r < 0)
		goto fail;
	r = vm_memory_register(vm, e);
	if (r < 0)
		goto fail;
	r = vm_vcpus_init(vm, e);
	if (r < 0)
		goto fail;
	r = arch_devices_init(vm, e);
	if (r < 0)
		goto fail;
	/* Everything is open: drop privileges before any thread starts
	 * (threads inherit the credentials, the capabilities and the Landlock
	 * domain; glibc's set*id would have to reach filtered threads). */
	r = vm_jail_drop(vm, e);
	if (r < 0)
		goto fail;
	r = vm_devices_start(vm, e);
	if (r < 0)
		goto fail;
	r = arch_boot_vcpu(vm, e);
	if (r < 0)
		goto fail;
	*out = (struct cvmm_vm *)vm;
	return 0;
fail:
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", e->msg[0] ? e->msg : strerror(-r));
	vm_free(vm);
	return r < 0 ? r : -EIO;
}

API int cvmm_vm_start(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	if (vm->started)
		return err_set(&vm->err, EALREADY, "VM already started");
	vm->started = true;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm->start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		pthread_mutex_lock(&vm->pause_lock);
		vm->nrunning++;
		pthread_mutex_unlock(&vm->pause_lock);
		pthread_mutex_lock(&vm->exit_lock);
		int r = vcpu_start(&vm->vcpus[i]);
		pthread_mutex_unlock(&vm->exit_lock);
		if (r < 0) {
			pthread_mutex_lock(&vm->pause_lock);
			vm->nrunning--;
			pthread_mutex_unlock(&vm->pause_lock);
			vm_request_exit(vm, CVMM_EXIT_ERROR, (int)i, 0, 0,
					"cannot start vCPU thread %u: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

API void cvmm_vm_stop(struct cvmm_vm *handle)
{
	vm_request_exit((struct vm *)handle, CVMM_EXIT_STOPPED, -1, 0, 0, "stopped by request");
}

API int cvmm_vm_pause(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	if (!vm->started)
		return err_set(&vm->err, EINVAL, "VM not started");
	if (atomic_load(&vm->stopping))
		return err_set(&vm->err, ESHUTDOWN, "VM has exited");
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req) {
		pthread_mutex_unlock(&vm->pause_lock);
		return err_set(&vm->err, EALREADY, "VM already paused");
	}
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->pause_lock);
	/* Kick each vCPU out of KVM_RUN: it parks at the top of its loop. */
	pthread_mutex_lock(&vm->exit_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->run->immediate_exit = 1;
		if (v->thread_started)
			pthread_kill(v->thread, vm->kick_signal);
	}
	pthread_mutex_unlock(&vm->exit_lock);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nparked < vm->nrunning && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	bool stopped = atomic_load(&vm->stopping);
	if (stopped)
		vm->pause_req = false;
	pthread_mutex_unlock(&vm->pause_lock);
	if (stopped)
		return err_set(&vm->err, ESHUTDOWN, "VM exited while pausing");
	return 0;
}

API int cvmm_vm_resume(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	pthread_mutex_lock(&vm->pause_lock);
	bool was = vm->pause_req;
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (!was)
		return err_set(&vm->err, EINVAL, "VM is not paused");
	return 0;
}

API int cvmm_vm_request_shutdown(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	if (!vm->started)
		return err_set(&vm->err, EINVAL, "VM not started");
	if (atomic_load(&vm->stopping))
		return err_set(&vm->err, ESHUTDOWN, "VM has exited");
	int r = arch_power_button(vm);
	if (r < 0)
		return err_set(&vm->err, -r, "no power button on this architecture");
	pthread_mutex_lock(&vm->pause_lock);
	vm->shutdown_requests++;
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

API enum cvmm_vm_state cvmm_vm_state(const struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	if (!vm->started)
		return CVMM_STATE_CREATED;
	if (atomic_load(&vm->stopping))
		return CVMM_STATE_EXITED;
	pthread_mutex_lock(&vm->pause_lock);
	bool paused = vm->pause_req;
	pthread_mutex_unlock(&vm->pause_lock);
	return paused ? CVMM_STATE_PAUSED : CVMM_STATE_RUNNING;
}

API int cvmm_vm_stats(const struct cvmm_vm *handle, struct cvmm_stats *st)
{
	struct vm *vm = (struct vm *)handle;
	memset(st, 0, sizeof(*st));
	if (vm->started) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		st->uptime_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec -
				vm->start_ns;
	}
	st->vcpus = vm->nvcpus;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		uint64_t x = atomic_load(&vm->vcpus[i].exits);
		st->exits_total += x;
		if (i < CVMM_STATS_MAX_VCPUS)
			st->vcpu_exits[i] = x;
	}
	pthread_mutex_lock(&vm->com1.lock);
	st->console_tx_bytes = vm->com1.tx_bytes;
	pthread_mutex_unlock(&vm->com1.lock);
	pthread_mutex_lock(&vm->pause_lock);
	st->shutdown_requests = vm->shutdown_requests;
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

API int cvmm_jail_sigsys_install(void)
{
	return jail_sigsys_install();
}

API int cvmm_vm_jail_control_thread(struct cvmm_vm *handle, int listen_fd)
{
	struct vm *vm = (struct vm *)handle;
	int params[2] = { listen_fd, vm->vm_fd };
	void *ctx;
	/* The capabilities the process kept for its fs workers: this thread
	 * needs none. */
	int r = jail_caps_limit(0);
	if (r < 0)
		return err_set(&vm->err, -r, "dropping capabilities: %s", strerror(-r));
	r = jail_build(JAIL_CONTROL, (enum jail_mode)vm->cfg.seccomp, params, &ctx, &vm->err);
	if (r < 0)
		return r;
	r = jail_load(ctx, "cvmm-control");
	if (r < 0)
		return err_set(&vm->err, -r, "cannot load the control thread's seccomp filter: %s",
			       strerror(-r));
	return 0;
}

API int cvmm_vm_exit_fd(const struct cvmm_vm *handle)
{
	return ((const struct vm *)handle)->exit_efd;
}

static void vm_join(struct vm *vm)
{
	if (vm->joined)
		return;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
	vm->joined = true;
}

API int cvmm_vm_wait(struct cvmm_vm *handle, struct cvmm_exit *ex)
{
	struct vm *vm = (struct vm *)handle;
	if (!vm->started)
		return err_set(&vm->err, EINVAL, "VM was never started");
	uint64_t v;
	while (!atomic_load(&vm->stopping)) {
		struct pollfd pfd = { .fd = vm->exit_efd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return err_set(&vm->err, errno, "waiting for the VM: %s", strerror(errno));
	}
	ssize_t n = read(vm->exit_efd, &v, sizeof(v));
	(void)n;
	vm_join(vm);
	if (ex) {
		pthread_mutex_lock(&vm->exit_lock);
		*ex = vm->exit;
		pthread_mutex_unlock(&vm->exit_lock);
	}
	return 0;
}

static void vm_free(struct vm *vm)
{
	if (vm->started) {
		if (!atomic_load(&vm->stopping))
			vm_request_exit(vm, CVMM_EXIT_STOPPED, -1, 0, 0, "destroyed");
		vm_join(vm);
	}
	for (unsigned i = 0; i < vm->nmmio; i++)
		if (vm->mmio_slot[i].vdev)
			virtio_tell_failure(vm->mmio_slot[i].vdev, vm->mmio_slot[i].name);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, (size_t)vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
		jail_free(v->filter);
	}
	free(vm->vcpus);
	for (unsigned i = 0; i < CVMM_MAX_DISKS; i++)
		blk_destroy(vm->blk[i]);
	for (unsigned i = 0; i < CVMM_MAX_NETS; i++)
		net_destroy(vm->net[i]);
	for (unsigned i = 0; i < CVMM_MAX_FS; i++)
		fs_destroy(vm->fs[i]);
	vsock_destroy(vm->vsock);
	if (vm->devs_ready) {
		serial_destroy(&vm->com1);
		rtc_destroy(&vm->rtc);
		pl031_destroy(&vm->pl031); /* a zeroed mutex where unused */
		i8042_destroy(&vm->i8042);
	}
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		if (vm->ram_map[i])
			munmap(vm->ram_map[i], vm->ram_len[i]);
	if (vm->irqchip_fd >= 0)
		close(vm->irqchip_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	if (vm->console_fd >= 0)
		close(vm->console_fd);
	free(vm->cfg.console_path);
	free(vm->cfg.kernel);
	free(vm->cfg.initrd);
	free(vm->cfg.cmdline);
	for (unsigned i = 0; i < vm->cfg.ndisks; i++)
		free(vm->cfg.disks[i].path);
	for (unsigned i = 0; i < vm->cfg.nnets; i++)
		free((char *)vm->cfg.nets[i].target);
	for (unsigned i = 0; i < CVMM_MAX_FS; i++) {
		free(vm->cfg.fs[i].tag);
		free(vm->cfg.fs[i].path);
	}
	free(vm->cfg.vsock_path);
	free(vm->cfg.jail_chroot);
	free(vm->cfg.jail_rm_dir);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_mutex_destroy(&vm->exit_lock);
	free(vm);
}

API void cvmm_vm_destroy(struct cvmm_vm *handle)
{
	if (handle)
		vm_free((struct vm *)handle);
}

API const char *cvmm_vm_error(const struct cvmm_vm *handle)
{
	return ((const struct vm *)handle)->err.msg;
}

API int cvmm_vm_console_input(struct cvmm_vm *handle, const void *buf, unsigned long len)
{
	struct vm *vm = (struct vm *)handle;
	return (int)serial_input(&vm->com1, buf, len > 4096 ? 4096 : len);
}
