/* SPDX-License-Identifier: MIT */
/* The builder and the VM lifecycle: config -> checks -> memory -> VM ->
 * vCPUs -> devices -> kernel -> paused VM. Teardown mirrors it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/clock.h"
#include "core/log.h"
#include "devices/serial.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "vmm/kvm.h"
#include "vmm/vdevs.h"
#include "vmm/vm.h"
#include "vmm/jail.h"

#define VM_HUGE		 (2u << 20) /* a transparent huge page (x86 and arm64 with 4 KiB pages) */
#define API		 __attribute__((visibility("default")))
#define CVMM_KICK_SIGNAL (SIGRTMIN + 2)
#define MAX_IMAGE_SIZE	 (2ULL << 30)

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
			err_shared_set(&vm->err, EIO, "%s", vm->exit.message);
	}
	atomic_store(&vm->stopping, true);
	/* Kick under exit_lock: vcpu_start creates threads under it too, so a
	 * thread either is kicked here or starts after stopping was set. */
	if (first) {
		for (unsigned i = 0; i < vm->nvcpus; i++)
			vcpu_kick(&vm->vcpus[i]);
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

/* The debug-exit port was written (arch_vm.debug_exit). */
static void vm_debug_exit(void *opaque, int code)
{
	struct vm *vm = opaque;
	pthread_mutex_lock(&vm->exit_lock);
	if (vm->exit.reason == CVMM_EXIT_NONE)
		vm->exit.code = code;
	pthread_mutex_unlock(&vm->exit_lock);
	vm_request_exit(vm, CVMM_EXIT_DEBUG, -1, 0, 0, "debug exit, code %d", code);
}

/* The guest powered off or reset through a platform device (arch_vm.sys). */
static void vm_sys_event(void *opaque, enum sys_event ev, const char *why)
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
	vm->cfg.jail_snapshot_dir = NULL;
	if (c->jail_snapshot_dir && !(vm->cfg.jail_snapshot_dir = strdup(c->jail_snapshot_dir)))
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
	if (vm->cfg.huge_pages != CVMM_HUGE_NONE && vm->cfg.memory % VM_HUGE)
		return err_set(e, EINVAL, "memory must be a multiple of 2 MiB with huge pages");
	return vm_mmds_open(vm, c, e);
}

/* The console's output must never block the vCPU thread that writes a
 * guest's UART byte: a pipe or terminal nobody drains would otherwise
 * hold that vCPU in write() for good, and with it every pause, snapshot
 * and the VM's exit (a kick cannot interrupt a thread outside KVM_RUN).
 * The embedder's descriptor is borrowed, and O_NONBLOCK on it would change
 * it for whoever shares it (the shell that started cvmm), so a pipe, FIFO
 * or terminal is written through a description of cvmm's own, opened
 * O_NONBLOCK from /proc/self/fd (returned, owned; -1: use fd as it is). A
 * regular file never waits for a reader; a socket, which cannot be opened
 * anew, gets O_NONBLOCK on its description. A byte a full console cannot
 * take is dropped, as Firecracker drops it. */
static int console_nonblocking(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
		return -1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return -1;
	if (S_ISSOCK(st.st_mode)) {
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		return -1;
	}
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own < 0) /* no /proc (a jail without it): the shared flag, then */
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return own;
}

/* 2 MiB hugetlbfs pages (CVMM_HUGE_2M): reserved from the host's pool
 * (gm_map_hugetlb), so a pool too small fails here, named, instead of a
 * SIGBUS at the guest's first touch of a page it lacks. */
static int vm_memory_alloc_hugetlb(struct vm *vm, const uint64_t *gpa, const uint64_t *size,
				   unsigned n, struct err *e)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = gm_map_hugetlb(size[i]);
		if (p == MAP_FAILED)
			return err_set(e, errno,
				       "cannot reserve %llu MiB of 2 MiB huge pages for guest "
				       "memory: %s (the host's pool: vm.nr_hugepages, "
				       "HugePages_Free in /proc/meminfo)",
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

/* Guest RAM: anonymous mappings, one per region of the arch's layout, each
 * aligned to 2 MiB like its guest address, so that where the host backs it
 * with transparent huge pages KVM can map them whole (a 2 MiB guest page on
 * a 2 MiB host page). The first 2 MiB of guest RAM are kept off huge pages:
 * they hold what the loader writes (boot information, firmware tables, a
 * micro-guest whole) and, for Linux, memory it reserves and barely touches;
 * a huge page there would put 2 MiB in the VMM's RSS for a few KiB used. */
static int vm_memory_alloc(struct vm *vm, struct err *e)
{
	uint64_t gpa[GM_MAX_REGIONS], size[GM_MAX_REGIONS];
	unsigned n = arch_ram_layout(vm->cfg.memory, gpa, size);
	if (vm->cfg.huge_pages == CVMM_HUGE_2M)
		return vm_memory_alloc_hugetlb(vm, gpa, size, n, e);
	for (unsigned i = 0; i < n; i++) {
		size_t len = size[i] + VM_HUGE;
		uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return err_set(e, errno, "cannot allocate %llu MiB of guest memory: %s",
				       (unsigned long long)(size[i] >> 20), strerror(errno));
		uint8_t *p = (uint8_t *)(((uintptr_t)m + VM_HUGE - 1) & ~(uintptr_t)(VM_HUGE - 1));
		if (p > m)
			munmap(m, (size_t)(p - m));
		if (m + len > p + size[i])
			munmap(p + size[i], (size_t)(m + len - (p + size[i])));
		vm->ram_map[i] = p;
		vm->ram_len[i] = size[i];
		madvise(p, size[i], MADV_DONTDUMP);
		if (vm->cfg.huge_pages == CVMM_HUGE_THP)
			madvise(p, size[i], MADV_HUGEPAGE);
		else if (gpa[i] == 0)
			madvise(p, size[i] < VM_HUGE ? size[i] : VM_HUGE, MADV_NOHUGEPAGE);
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
		int r = arch_vcpu_init(vm->arch, v->fd, i, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int vm_load(struct vm *vm, struct err *e)
{
	struct image kernel, initrd = {0};
	int r = image_map("kernel", vm->cfg.kernel, &kernel, e);
	if (r < 0)
		return r;
	if (vm->cfg.initrd) {
		r = image_map("initrd", vm->cfg.initrd, &initrd, e);
		if (r < 0)
			goto out;
	}
	r = arch_load(vm->arch, kernel.data, kernel.size, initrd.data, initrd.size, e);
out:
	image_unmap(&initrd);
	image_unmap(&kernel);
	return r;
}

/* ---- the VM generation ID (arch_vmgenid_gpa) ------------------------------ */

int vm_vmgenid_new(struct vm *vm, bool notify, struct err *e)
{
	uint64_t gpa = arch_vmgenid_gpa(vm->arch);
	if (!gpa)
		return 0;
	uint8_t id[sizeof(vm->genid)];
	ssize_t n;
	do
		n = getrandom(id, sizeof(id), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(id))
		return err_set(e, n < 0 ? errno : EIO, "getrandom for the VM generation ID: %s",
			       n < 0 ? strerror(errno) : "short read");
	if (gm_write(&vm->mem, gpa, id, sizeof(id)) < 0)
		return err_set(e, EFAULT, "the VM generation ID at 0x%llx is not in guest memory",
			       (unsigned long long)gpa);
	pthread_mutex_lock(&vm->genid_lock);
	memcpy(vm->genid, id, sizeof(id));
	pthread_mutex_unlock(&vm->genid_lock);
	if (notify) {
		int r = arch_vmgenid_notify(vm->arch);
		if (r < 0)
			return err_set(e, -r, "cannot tell the guest its new generation ID: %s",
				       strerror(-r));
	}
	return 0;
}

/* For the calls that need a running VM: 0, or the error recorded for the
 * call (not started, or exited). */
static int vm_running(struct vm *vm)
{
	if (!vm->started)
		return err_shared_set(&vm->err, EINVAL, "VM not started");
	if (atomic_load(&vm->stopping))
		return err_shared_set(&vm->err, ESHUTDOWN, "VM has exited");
	return 0;
}

API int cvmm_vm_generation_id(const struct cvmm_vm *handle, uint8_t out[16])
{
	struct vm *vm = (struct vm *)(uintptr_t)handle;
	if (!arch_vmgenid_gpa(vm->arch))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->genid_lock);
	memcpy(out, vm->genid, sizeof(vm->genid));
	pthread_mutex_unlock(&vm->genid_lock);
	return 0;
}

API int cvmm_vm_new_generation_id(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	int live = vm_running(vm);
	if (live < 0)
		return live;
	if (!arch_vmgenid_gpa(vm->arch))
		return err_shared_set(&vm->err, EOPNOTSUPP,
				      "no VM generation ID on this architecture");
	struct err e;
	err_clear(&e);
	int r = vm_vmgenid_new(vm, true, &e);
	if (r < 0)
		return err_shared_set(&vm->err, -r, "%s", e.msg);
	return 0;
}

/* ---- virtio devices: one wiring path for every model and transport ------ */

/* Gives an opened device its place on the VM's transport: a virtio-mmio
 * window and GSI, or a PCI slot, BAR0 and INTA's GSI. */
static int vm_vdev_add(struct vm *vm, const struct vm_vdev_src *src, unsigned index, struct err *e)
{
	struct vm_vdev *s = &vm->vdevs[vm->nvdevs];
	const struct vdev_desc *k = src->desc;
	if (vm->nvdevs >= CVMM_MAX_MMIO)
		return err_set(e, ENOSPC, "too many devices");
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
		s->irq_fd[i] = -1;
	s->k = k;
	s->src = src;
	vm->nvdevs++; /* from here on, teardown destroys what open made */
	int r = src->open(&s->model, &vm->cfg, index, e);
	if (r < 0)
		return r;
	s->kind = k->name;
	s->pci = vm->pci;
	unsigned n = vm->nvdevs - 1;
	r = s->pci ? arch_pci_slot(n, VIRTIO_PCI_BAR_SIZE, &s->slot, &s->base, &s->gsi)
		   : arch_mmio_slot(n, &s->base, &s->gsi);
	if (r < 0)
		return err_set(e, ENOSPC, "too many devices");
	/* what the firmware tables and the device tree describe */
	vm->av.devs[n] = (struct arch_dev){s->pci, s->slot, s->base, s->gsi};
	vm->av.ndevs = n + 1;
	if (s->pci)
		snprintf(s->name, sizeof(s->name), "%s@pci0:%02x", k->name, s->slot);
	else
		snprintf(s->name, sizeof(s->name), "%s@0x%llx", k->name,
			 (unsigned long long)s->base);
	return 0;
}

/* Opens the devices' backing files and gives each device its slot, before
 * anything is loaded (the tables describe the slots), in the order of the
 * device list (vdevs.c). */
static int vm_devices_open(struct vm *vm, struct err *e)
{
	unsigned total = 0;
	for (unsigned k = 0; k < vm_nvdev_srcs; k++)
		total += vm_vdev_srcs[k].count(&vm->cfg);
	if (total > CVMM_MAX_MMIO)
		return err_set(e, E2BIG, "%u virtio devices, at most %d (one interrupt each)",
			       total, CVMM_MAX_MMIO);
	for (unsigned k = 0; k < vm_nvdev_srcs; k++) {
		const struct vm_vdev_src *src = &vm_vdev_srcs[k];
		unsigned n = src->count(&vm->cfg);
		for (unsigned i = 0; i < n; i++) {
			int r = vm_vdev_add(vm, src, i, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- interrupt routing (virtio-pci's MSI-X), any vCPU thread ------------ */

static int vm_set_routes(struct vm *vm)
{
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0 ? -errno : 0;
}

/* KVM's table replaces the default one whole: start from the default
 * (GSIs 0-15 to both PICs and the IOAPIC, 16-23 to the IOAPIC). */
static int vm_routes_init(struct vm *vm, unsigned nmsi, struct err *e)
{
#ifndef __x86_64__
	(void)vm;
	(void)nmsi;
	return err_set(e, EOPNOTSUPP, "virtio-pci is supported on x86_64 only");
#else
	unsigned cap = 24 + 16 + nmsi;
	vm->routes = calloc(1, sizeof(*vm->routes) + cap * sizeof(struct kvm_irq_routing_entry));
	if (!vm->routes)
		return err_set(e, ENOMEM, "out of memory");
	vm->routes_cap = cap;
	struct kvm_irq_routing_entry *t = vm->routes->entries;
	unsigned n = 0;
	for (uint32_t gsi = 0; gsi < 24; gsi++) {
		t[n].gsi = gsi;
		t[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t[n++].u.irqchip.pin = gsi;
		if (gsi < 16) {
			t[n].gsi = gsi;
			t[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			t[n].u.irqchip.irqchip =
				gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			t[n++].u.irqchip.pin = gsi % 8;
		}
	}
	vm->routes->nr = n;
	return 0;
#endif
}

static int vm_msi_route(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;
	pthread_mutex_lock(&vm->route_lock);
	struct kvm_irq_routing_entry *t = vm->routes->entries, *x = NULL;
	for (unsigned i = 0; i < vm->routes->nr && !x; i++)
		if (t[i].gsi == gsi && t[i].type == KVM_IRQ_ROUTING_MSI)
			x = &t[i];
	int r = 0;
	if (!x && vm->routes->nr < vm->routes_cap)
		x = &t[vm->routes->nr++];
	if (!x) {
		r = -ENOSPC;
	} else {
		memset(x, 0, sizeof(*x));
		x->gsi = gsi;
		x->type = KVM_IRQ_ROUTING_MSI;
		x->u.msi.address_lo = (uint32_t)addr;
		x->u.msi.address_hi = (uint32_t)(addr >> 32);
		x->u.msi.data = data;
		r = vm_set_routes(vm);
	}
	pthread_mutex_unlock(&vm->route_lock);
	return r;
}

static int vm_irqfd_bind(void *opaque, int fd, uint32_t gsi, bool assign)
{
	struct vm *vm = opaque;
	struct kvm_irqfd k = {
		.fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};
	return ioctl(vm->vm_fd, KVM_IRQFD, &k) < 0 ? -errno : 0;
}

static const struct virtio_pci_irq_ops vm_pci_irq_ops = {
	.msi_route = vm_msi_route,
	.irqfd = vm_irqfd_bind,
};

/* ---- starting and wiring --------------------------------------------------- */

static int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, bool match, uint64_t data,
			int fd, struct err *e)
{
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0,
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_set(e, errno, "KVM_IOEVENTFD: %s", strerror(errno));
	return 0;
}

/* Starts one virtio device (its workers) and wires it to KVM: interrupt
 * eventfds, its registers on the MMIO bus (and PCI configuration space),
 * and one ioeventfd per queue straight to the queue's worker. */
static int vm_vdev_start(struct vm *vm, struct vm_vdev *s, struct err *e)
{
	unsigned nq = s->k->queues(s->model);
	if (nq == 0 || nq > VIRTIO_MAX_QUEUES)
		return err_set(e, EINVAL, "%s: %u queues", s->name, nq);
	/* virtio-mmio: one eventfd for the device, bound to its GSI now;
	 * virtio-pci: one per queue and one for configuration changes, bound
	 * by the transport as the driver sets up MSI-X or INTx. */
	s->nirq = s->pci ? nq + 1 : 1;
	for (unsigned i = 0; i < s->nirq; i++) {
		s->irq_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->irq_fd[i] < 0)
			return err_set(e, errno, "eventfd: %s", strerror(errno));
	}
	struct virtio_irqfds irq;
	irq.config = s->irq_fd[s->pci ? nq : 0];
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = s->irq_fd[s->pci && q < nq ? q : (s->pci ? nq : 0)];
	if (!s->pci) {
		struct kvm_irqfd kirq = {.fd = (uint32_t)s->irq_fd[0], .gsi = s->gsi};
		if (ioctl(vm->vm_fd, KVM_IRQFD, &kirq) < 0)
			return err_set(e, errno, "KVM_IRQFD: %s", strerror(errno));
	}
	struct virtio_dev *d = s->k->vdev(s->model);
	d->seccomp = vm->cfg.seccomp;
	int r = s->k->start(s->model, &vm->mem, &irq, e);
	if (r < 0)
		return r;
	s->vdev = d;
	d->name = s->name;
	for (unsigned q = 0; q < nq; q++)
		s->kick[q] = s->k->kick_fd(s->model, q);
	if (!s->pci) {
		r = bus_add(&vm->mmio, s->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, d, s->kind);
		if (r < 0)
			return err_set(e, -r, "cannot map %s at 0x%llx", s->kind,
				       (unsigned long long)s->base);
		for (unsigned q = 0; q < nq; q++) {
			r = vm_ioeventfd(vm, s->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, q,
					 s->kick[q], e);
			if (r < 0)
				return r;
		}
		return 0;
	}
	s->msi_gsi_base = vm->next_msi_gsi;
	vm->next_msi_gsi += nq + 1;
	virtio_pci_init(&s->vpci, d, s->base, s->gsi, s->msi_gsi_base, &vm_pci_irq_ops, vm,
			s->kick);
	if (s->vpci.irq_errors)
		return err_set(e, EIO, "%s: cannot bind its interrupts (KVM_IRQFD)", s->name);
	r = bus_add(&vm->mmio, s->base, VIRTIO_PCI_BAR_SIZE, &virtio_pci_bar_ops, &s->vpci,
		    s->kind);
	if (r < 0)
		return err_set(e, -r, "cannot map %s's BAR at 0x%llx", s->kind,
			       (unsigned long long)s->base);
	r = pci_host_add(&vm->pci_host, s->slot, &virtio_pci_fn_ops, &s->vpci);
	if (r < 0)
		return err_set(e, -r, "%s: PCI slot %u", s->name, s->slot);
	/* The driver writes the queue index (16 bits) at the queue's own
	 * address: no data match needed. */
	for (unsigned q = 0; q < nq; q++) {
		uint64_t at =
			s->base + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)VIRTIO_PCI_NOTIFY_MULT * q;
		r = vm_ioeventfd(vm, at, 2, false, 0, s->kick[q], e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Starts each virtio device and wires it to KVM; with PCI, the host bridge
 * too (configuration ports and ECAM) and the MSI routing table. */
static int vm_devices_start(struct vm *vm, struct err *e)
{
	if (vm->pci) {
		pci_host_init(&vm->pci_host);
		int r = bus_add(&vm->pio, PCI_CONF1_PORT, PCI_CONF1_LEN, &pci_conf1_ops,
				&vm->pci_host, "pci-conf1");
		if (r < 0)
			return err_set(e, -r, "cannot map the PCI configuration ports");
		r = bus_add(&vm->mmio, arch_pci_ecam(), PCI_ECAM_SIZE, &pci_ecam_ops, &vm->pci_host,
			    "pci-ecam");
		if (r < 0)
			return err_set(e, -r, "cannot map the PCI ECAM window");
		r = vm_routes_init(vm, vm->nvdevs * VIRTIO_PCI_MAX_VECTORS, e);
		if (r < 0)
			return r;
		vm->next_msi_gsi = 24; /* past the IOAPIC's pins */
	}
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		int r = vm_vdev_start(vm, &vm->vdevs[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The directory a file is in ("." for a bare name). */
static void dir_of(char *dir, size_t cap, const char *path)
{
	snprintf(dir, cap, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, cap, ".");
}

/* The privilege drop (cvmm_config_set_jail). Landlock leaves the file
 * system reachable only beneath the virtio-fs shares (read-only shares
 * read-only) and, with update_disks, opening files beneath the disks'
 * directories; every other file the VM uses is already open. */
static int vm_jail_drop(struct vm *vm, struct err *e)
{
	if (!vm->cfg.jail)
		return 0;
	const char *rw[CVMM_MAX_FS + 1], *ro[CVMM_MAX_FS + 1], *rm[2];
	char vsock_dir[4096];
	const char *disk_dirs[CVMM_MAX_DISKS];
	bool disk_rw[CVMM_MAX_DISKS];
	char disk_dir[CVMM_MAX_DISKS][4096];
	struct jail_priv p = {.chroot_dir = vm->cfg.jail_chroot,
			      .set_ids = vm->cfg.jail_ids,
			      .uid = vm->cfg.jail_uid,
			      .gid = vm->cfg.jail_gid,
			      .rw_dirs = rw,
			      .ro_dirs = ro,
			      .rm_dirs = rm,
			      .file_dirs = disk_dirs,
			      .file_rw = disk_rw,
			      .landlock = vm->cfg.jail_landlock};
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
#ifdef CVMM_SANITIZED
	/* Sanitizer builds only (jail.h): LeakSanitizer's check at exit lists
	 * /proc/PID/task to stop every thread, and reports read
	 * /proc/self/maps. Release builds never see /proc after the drop. */
	ro[p.nro++] = "/proc";
#endif
	/* snapshots are written there (cvmm_jail.snapshot_dir) */
	if (vm->cfg.jail_snapshot_dir)
		rw[p.nrw++] = vm->cfg.jail_snapshot_dir;
	/* cvmm removes its own sockets when it ends */
	if (vm->cfg.jail_rm_dir)
		rm[p.nrm++] = vm->cfg.jail_rm_dir;
	if (vm->cfg.vsock_path) {
		dir_of(vsock_dir, sizeof(vsock_dir), vm->cfg.vsock_path);
		rm[p.nrm++] = vsock_dir;
	}
	/* cvmm_vm_update_disk opens the disks' new files beside the old ones,
	 * or anywhere (update_disks_anywhere: read-write if a disk is) */
	for (unsigned i = 0; vm->cfg.jail_update_anywhere && i < vm->cfg.ndisks; i++) {
		disk_dirs[0] = "/";
		disk_rw[0] = (p.nfile && disk_rw[0]) || !(vm->cfg.disks[i].flags & CVMM_DISK_RO);
		p.nfile = 1;
	}
	for (unsigned i = 0;
	     vm->cfg.jail_update_disks && !vm->cfg.jail_update_anywhere && i < vm->cfg.ndisks;
	     i++) {
		dir_of(disk_dir[i], sizeof(disk_dir[i]), vm->cfg.disks[i].path);
		disk_dirs[p.nfile] = disk_dir[i];
		disk_rw[p.nfile++] = !(vm->cfg.disks[i].flags & CVMM_DISK_RO);
	}
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		const struct vm_vdev *d = &vm->vdevs[i];
		int r = d->src->jail ? d->src->jail(d->model, &vm->cfg, e) : 0;
		if (r < 0)
			return r;
	}
	int abi;
	return jail_drop(&p, &abi, e);
}

#ifdef CVMM_TEST_HOOKS
/* Test builds only: CVMM_TEST_LANDLOCK_PROBE=PATH[:PATH...] opens each PATH
 * read-only right after the privilege drop, on the main thread (its
 * Landlock domain in force, no seccomp filter yet), and says in the log
 * what became of it, with the kernel's Landlock ABI (0: none). */
static void vm_test_landlock_probe(void)
{
	const char *v = getenv("CVMM_TEST_LANDLOCK_PROBE");
	if (!v)
		return;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	char path[4096];
	while (*v) {
		size_t n = strcspn(v, ":");
		snprintf(path, sizeof(path), "%.*s", (int)n, v);
		v += n + (v[n] == ':');
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int er = errno;
		if (fd >= 0) {
			close(fd);
			log_info("test: landlock abi %ld: open %s: ok", abi < 0 ? 0 : abi, path);
		} else {
			log_info("test: landlock abi %ld: open %s: errno %d (%s)",
				 abi < 0 ? 0 : abi, path, er, strerror(er));
		}
	}
}
#endif

static void vm_free(struct vm *vm);

API int cvmm_vm_create(const struct cvmm_config *cfg, struct cvmm_vm **out, char *errbuf,
		       unsigned long errlen)
{
	return vm_create(cfg, NULL, out, errbuf, errlen);
}

static void vm_phase(struct vm *vm, enum vm_phase p)
{
	vm->phase_ns[p] = clock_mono_ns();
}

/* --log-level debug: how long each phase of the start took (a phase left
 * out, e.g. loading on a restore, shows 0). */
static void vm_phases_log(const struct vm *vm)
{
	static const char *const names[VM_NPHASES] = {
		[VM_PH_CONFIG] = "config",	  [VM_PH_DEVICES_OPEN] = "device files",
		[VM_PH_MEMORY] = "guest RAM",	  [VM_PH_LOAD] = "kernel and tables",
		[VM_PH_KVM_OPEN] = "/dev/kvm",	  [VM_PH_VM] = "VM and memory slots",
		[VM_PH_VCPUS] = "vCPUs",	  [VM_PH_PLATFORM] = "platform devices",
		[VM_PH_JAIL_DROP] = "privileges", [VM_PH_WORKERS] = "queue workers",
		[VM_PH_BOOT_REGS] = "boot state", [VM_PH_VCPU_THREADS] = "vCPU threads",
	};
	char line[512];
	size_t n = 0;
	uint64_t prev = vm->phase_ns[VM_PH_BEGIN];
	for (unsigned p = VM_PH_BEGIN + 1; p < VM_NPHASES && n < sizeof(line); p++) {
		uint64_t t = vm->phase_ns[p] ? vm->phase_ns[p] : prev;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %.3f", n ? ", " : "",
				      names[p], (double)(t - prev) / 1e6);
		prev = t;
	}
	log_debug("start-up phases (ms): %s; %.3f ms in all", line,
		  (double)(prev - vm->phase_ns[VM_PH_BEGIN]) / 1e6);
}

int vm_create(const struct cvmm_config *cfg, const struct vm_restore *rc, struct cvmm_vm **out,
	      char *errbuf, unsigned long errlen)
{
	*out = NULL;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Only this thread knows the VM until it is returned: the builder
	 * writes the error directly. */
	struct err *e = &vm->err.e;
	vm->kvm_fd = vm->vm_fd = vm->exit_efd = vm->console_fd = -1;
	vm->exit.vcpu = -1;
	snapmem_init(&vm->snapmem);
	vm->restored = rc != NULL;
	vm->rs_ns[0] = clock_mono_ns();
	vm->phase_ns[VM_PH_BEGIN] = vm->rs_ns[0];
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
	pthread_mutex_init(&vm->route_lock, NULL);
	pthread_mutex_init(&vm->genid_lock, NULL);
	err_shared_init(&vm->err);
	r = vm_copy_config(vm, cfg, e);
	if (r < 0)
		goto fail;
#ifdef __x86_64__
	vm->pci = vm->cfg.transport != CVMM_TRANSPORT_MMIO;
#else
	vm->pci = vm->cfg.transport == CVMM_TRANSPORT_PCI;
#endif
	vm->kick_signal = vm->cfg.kick_signal ? vm->cfg.kick_signal : CVMM_KICK_SIGNAL;
	if (vm->cfg.console_path) {
		/* O_RDWR with O_NONBLOCK: a FIFO opens without a reader
		 * (Firecracker's serial_out_path opens it so too) */
		vm->console_fd =
			open(vm->cfg.console_path,
			     O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
		if (vm->console_fd < 0) {
			r = err_set(e, errno, "cannot open console file '%s': %s",
				    vm->cfg.console_path, strerror(errno));
			goto fail;
		}
		vm->cfg.console_out = vm->console_fd;
	} else if (vm->cfg.console_out >= 0) {
		vm->console_fd = console_nonblocking(vm->cfg.console_out);
		if (vm->console_fd >= 0)
			vm->cfg.console_out = vm->console_fd;
	}
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0) {
		r = err_set(e, errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	vm->av = (struct arch_vm){.kvm_fd = -1,
				  .vm_fd = -1,
				  .mem = &vm->mem,
				  .pio = &vm->pio,
				  .mmio = &vm->mmio,
				  .ncpus = vm->cfg.cpus,
				  .memory = vm->cfg.memory,
				  .cmdline = vm->cfg.cmdline,
				  .console_out = vm->cfg.console_out,
				  .pci = vm->pci,
				  .sys = {vm_sys_event, vm},
				  .debug_exit = vm->cfg.debug_exit ? vm_debug_exit : NULL,
				  .debug_exit_ctx = vm};
	r = arch_create(&vm->arch, &vm->av, e);
	if (r < 0)
		goto fail;
	vm_phase(vm, VM_PH_CONFIG);
	/* Memory, kernel, initrd and tables first: bad images are reported as
	 * such even on a host without KVM. */
	r = vm_devices_open(vm, e);
	if (r < 0)
		goto fail;
	vm_phase(vm, VM_PH_DEVICES_OPEN);
	if (rc) {
		/* memory from the snapshot; nothing to load. Its thread (LAZY's
		 * loader, UFFD's watcher) tells the VM's exit event when guest
		 * memory can no longer be served. */
		vm->snapmem.jail = (enum jail_mode)vm->cfg.seccomp;
		vm->snapmem.fail_fd = vm->exit_efd;
		vm->snapmem.huge = vm->cfg.huge_pages;
		uint64_t gpa[GM_MAX_REGIONS], size[GM_MAX_REGIONS];
		unsigned n = arch_ram_layout(vm->cfg.memory, gpa, size);
		r = snapmem_map(&vm->snapmem, (enum snapmem_backend)rc->rs->mem_backend,
				rc->rs->mem_path, gpa, size, n, &vm->mem, e);
		if (r < 0)
			goto fail;
		vm->rs_ns[1] = clock_mono_ns();
	} else {
		r = vm_memory_alloc(vm, e);
		if (r < 0)
			goto fail;
		vm_phase(vm, VM_PH_MEMORY);
		r = vm_load(vm, e);
		if (r < 0)
			goto fail;
		r = vm_vmgenid_new(vm, false, e);
		if (r < 0)
			goto fail;
	}
	vm_phase(vm, VM_PH_LOAD);
	const char *dev = getenv("CVMM_KVM_DEVICE");
	vm->kvm_fd = kvm_open_checked(dev ? dev : "/dev/kvm", e);
	if (vm->kvm_fd < 0) {
		r = vm->kvm_fd;
		goto fail;
	}
	vm->av.kvm_fd = vm->kvm_fd;
	vm_phase(vm, VM_PH_KVM_OPEN);
	unsigned max = kvm_max_vcpus(vm->kvm_fd);
	if (vm->cfg.cpus > max) {
		r = err_set(e, EINVAL, "--cpus %u exceeds KVM's maximum of %u vCPUs per VM",
			    vm->cfg.cpus, max);
		goto fail;
	}
	/* KVM's MMU notifier registration gives up with EINTR while any
	 * signal or task work (io_uring's, after a previous VM's rings) is
	 * pending for the thread: try again, as QEMU does. */
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		r = err_set(e, errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	vm->av.vm_fd = vm->vm_fd;
	r = arch_vm_init(vm->arch, e);
	if (r < 0)
		goto fail;
	r = vm_memory_register(vm, e);
	if (r < 0)
		goto fail;
	/* UFFD: the handler's socket may be outside a chroot */
	if (rc && (r = snapmem_connect(&vm->snapmem, e)) < 0)
		goto fail;
	if (vm->cfg.track_dirty &&
	    (r = snapmem_dirty_start(vm->vm_fd, &vm->mem, &vm->dirty, e)) < 0)
		goto fail;
	vm_phase(vm, VM_PH_VM);
	r = vm_vcpus_init(vm, e);
	if (r < 0)
		goto fail;
	vm_phase(vm, VM_PH_VCPUS);
	r = arch_devices_init(vm->arch, e);
	if (r < 0)
		goto fail;
	{
		const struct cvmm_token_bucket *b = &vm->cfg.console_limit;
		struct rl_cfg con_rl = {.bw = {b->size, b->one_time_burst, b->refill_time_ms}};
		serial_set_limit(arch_console(vm->arch), &con_rl);
	}
	if (vm->cfg.boot_timer) {
		boot_timer_init(&vm->boot_timer);
		r = bus_add(&vm->mmio, arch_boot_timer_base(), BOOT_TIMER_SIZE, &boot_timer_ops,
			    &vm->boot_timer, "boot-timer");
		if (r < 0) {
			err_set(e, -r, "cannot map the boot timer");
			goto fail;
		}
	}
	/* Everything is open: drop privileges before any thread starts
	 * (threads inherit the credentials, the capabilities and the Landlock
	 * domain; glibc's set*id would have to reach filtered threads). */
	vm_phase(vm, VM_PH_PLATFORM);
	r = vm_jail_drop(vm, e);
	if (r < 0)
		goto fail;
	vm_phase(vm, VM_PH_JAIL_DROP);
#ifdef CVMM_TEST_HOOKS
	vm_test_landlock_probe();
#endif
	/* a thread of its own, after the drop; guest memory is served from
	 * here on (the devices' restore reads their rings) */
	if (rc && (r = snapmem_start(&vm->snapmem, e)) < 0)
		goto fail;
	r = vm_devices_start(vm, e);
	if (r < 0)
		goto fail;
	vm->rs_ns[2] = clock_mono_ns();
	vm->phase_ns[VM_PH_WORKERS] = vm->rs_ns[2];
	r = rc ? vm_restore_state(vm, rc, e) : arch_boot_vcpu(vm->arch, vm->vcpus[0].fd, e);
	if (r < 0)
		goto fail;
	vm->rs_ns[3] = clock_mono_ns();
	vm->phase_ns[VM_PH_BOOT_REGS] = vm->rs_ns[3];
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
	err_shared_begin(&vm->err);
	if (vm->started)
		return err_shared_set(&vm->err, EALREADY, "VM already started");
	vm->started = true;
	vm->start_ns = clock_mono_ns();
	if (vm->restored)
		log_info("restore: memory map %.1f ms, KVM set-up %.1f ms, state load %.1f ms, "
			 "vCPUs start %.1f ms after the VM's creation began",
			 (double)(vm->rs_ns[1] - vm->rs_ns[0]) / 1e6,
			 (double)(vm->rs_ns[2] - vm->rs_ns[1]) / 1e6,
			 (double)(vm->rs_ns[3] - vm->rs_ns[2]) / 1e6,
			 (double)(vm->start_ns - vm->rs_ns[0]) / 1e6);
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
	vm_phase(vm, VM_PH_VCPU_THREADS);
	if (!vm->restored)
		vm_phases_log(vm);
	return 0;
}

API void cvmm_vm_stop(struct cvmm_vm *handle)
{
	vm_request_exit((struct vm *)handle, CVMM_EXIT_STOPPED, -1, 0, 0, "stopped by request");
}

API int cvmm_vm_pause(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	int live = vm_running(vm);
	if (live < 0)
		return live;
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req) {
		pthread_mutex_unlock(&vm->pause_lock);
		return err_shared_set(&vm->err, EALREADY, "VM already paused");
	}
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->pause_lock);
	/* Kick each vCPU out of KVM_RUN: it parks at the top of its loop. */
	pthread_mutex_lock(&vm->exit_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_unlock(&vm->exit_lock);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nparked < vm->nrunning && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	bool stopped = atomic_load(&vm->stopping);
	if (stopped)
		vm->pause_req = false;
	pthread_mutex_unlock(&vm->pause_lock);
	if (stopped)
		return err_shared_set(&vm->err, ESHUTDOWN, "VM exited while pausing");
	return 0;
}

API int cvmm_vm_resume(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	pthread_mutex_lock(&vm->pause_lock);
	bool was = vm->pause_req;
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (!was)
		return err_shared_set(&vm->err, EINVAL, "VM is not paused");
	return 0;
}

API int cvmm_vm_request_shutdown(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	int live = vm_running(vm);
	if (live < 0)
		return live;
	int r = arch_power_button(vm->arch);
	if (r < 0)
		return err_shared_set(&vm->err, -r, "no power button on this architecture");
	pthread_mutex_lock(&vm->pause_lock);
	vm->shutdown_requests++;
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

API int cvmm_vm_send_ctrl_alt_del(struct cvmm_vm *handle)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	int live = vm_running(vm);
	if (live < 0)
		return live;
	int r = arch_ctrl_alt_del(vm->arch);
	if (r == -EOPNOTSUPP)
		return err_shared_set(&vm->err, EOPNOTSUPP, "no keyboard on this architecture");
	if (r < 0)
		return err_shared_set(
			&vm->err, -r,
			"the keyboard's buffer is full (the guest is not reading it)");
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
		st->uptime_ns =
			(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - vm->start_ns;
	}
	st->vcpus = vm->nvcpus;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		uint64_t x = atomic_load(&vm->vcpus[i].exits);
		st->exits_total += x;
		if (i < CVMM_STATS_MAX_VCPUS)
			st->vcpu_exits[i] = x;
	}
	struct serial *con = arch_console(vm->arch); /* a built VM has one */
	if (con) {
		pthread_mutex_lock(&con->lock);
		st->console_tx_bytes = con->tx_bytes;
		st->console_tx_missed = con->tx_missed;
		st->console_tx_limited = con->tx_limited;
		pthread_mutex_unlock(&con->lock);
	}
	pthread_mutex_lock(&vm->pause_lock);
	st->shutdown_requests = vm->shutdown_requests;
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

API int cvmm_vm_vcpu_metrics(const struct cvmm_vm *handle, struct cvmm_vcpu_metrics *m)
{
	const struct vm *vm = (const struct vm *)handle;
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		m->exit_io_in += atomic_load(&v->exit_kinds[VCPU_EXIT_IO_IN]);
		m->exit_io_out += atomic_load(&v->exit_kinds[VCPU_EXIT_IO_OUT]);
		m->exit_mmio_read += atomic_load(&v->exit_kinds[VCPU_EXIT_MMIO_READ]);
		m->exit_mmio_write += atomic_load(&v->exit_kinds[VCPU_EXIT_MMIO_WRITE]);
	}
	return 0;
}

/* A device's counters (its descriptor's metrics hook) as the public
 * struct of its kind. */
static void vm_device_metrics(const struct vm_vdev *s, unsigned index,
			      struct cvmm_device_metrics *o)
{
	struct vdev_metrics m = {0};
	if (s->k->metrics)
		s->k->metrics(s->model, &m);
	const struct virtio_dev *d = s->k->vdev(s->model);
	uint64_t irqs = d ? atomic_load_explicit(&d->irqs, memory_order_relaxed) : 0;
	memset(o, 0, sizeof(*o));
	o->index = index;
	switch (s->k->virtio_id) {
	case VIRTIO_ID_BLOCK:
		o->kind = CVMM_DEVICE_DISK;
		o->u.disk = (struct cvmm_disk_metrics){
			.read_count = m.blk.read_count,
			.write_count = m.blk.write_count,
			.read_bytes = m.blk.read_bytes,
			.write_bytes = m.blk.write_bytes,
			.flush_count = m.blk.flush_count,
			.invalid_reqs_count = m.blk.invalid_reqs_count,
			.execute_fails = m.blk.execute_fails,
			.queue_event_count = m.blk.queue_event_count,
			.rate_limiter_throttled_events = m.limit[0].throttled,
			.rate_limiter_throttled_ns = m.limit[0].throttled_ns,
			.interrupt_count = irqs,
		};
		break;
	case VIRTIO_ID_NET:
		o->kind = CVMM_DEVICE_NET;
		o->u.net = (struct cvmm_net_metrics){
			.tx_packets_count = m.net.tx_packets_count,
			.tx_bytes_count = m.net.tx_bytes_count,
			.tx_malformed_frames = m.net.tx_malformed_frames,
			.tx_fails = m.net.tx_fails,
			.tap_write_fails = m.net.tap_write_fails,
			.rx_packets_count = m.net.rx_packets_count,
			.rx_bytes_count = m.net.rx_bytes_count,
			.rx_fails = m.net.rx_fails,
			.tap_read_fails = m.net.tap_read_fails,
			.no_rx_avail_buffer = m.net.no_rx_avail_buffer,
			.rx_tap_event_count = m.net.rx_tap_event_count,
			.rx_queue_event_count = m.net.rx_queue_event_count,
			.tx_queue_event_count = m.net.tx_queue_event_count,
			.rx_rate_limiter_throttled = m.limit[0].throttled,
			.tx_rate_limiter_throttled = m.limit[1].throttled,
			.rx_rate_limiter_throttled_ns = m.limit[0].throttled_ns,
			.tx_rate_limiter_throttled_ns = m.limit[1].throttled_ns,
			.interrupt_count = irqs,
		};
		break;
	case VIRTIO_ID_VSOCK:
		o->kind = CVMM_DEVICE_VSOCK;
		o->u.vsock = (struct cvmm_vsock_metrics){
			.rx_packets_count = m.vsock.rx_packets_count,
			.rx_bytes_count = m.vsock.rx_bytes_count,
			.tx_packets_count = m.vsock.tx_packets_count,
			.tx_bytes_count = m.vsock.tx_bytes_count,
			.conns_added = m.vsock.conns_added,
			.conns_killed = m.vsock.conns_killed,
			.conns_removed = m.vsock.conns_removed,
			.rx_read_fails = m.vsock.rx_read_fails,
			.tx_write_fails = m.vsock.tx_write_fails,
			.rx_queue_event_count = m.vsock.rx_queue_event_count,
			.tx_queue_event_count = m.vsock.tx_queue_event_count,
			.interrupt_count = irqs,
		};
		break;
	case VIRTIO_ID_RNG:
		o->kind = CVMM_DEVICE_RNG;
		o->u.rng = (struct cvmm_rng_metrics){
			.entropy_event_count = m.requests,
			.entropy_bytes = m.bytes,
			.host_rng_fails = m.errors,
			.entropy_rate_limiter_throttled = m.limit[0].throttled,
			.rate_limiter_throttled_ns = m.limit[0].throttled_ns,
			.interrupt_count = irqs,
		};
		break;
	case VIRTIO_ID_BALLOON:
		o->kind = CVMM_DEVICE_BALLOON;
		o->u.balloon = (struct cvmm_balloon_metrics){
			.inflate_count = m.balloon.inflate_count,
			.deflate_count = m.balloon.deflate_count,
			.pages_inflated = m.balloon.pages_inflated,
			.pages_deflated = m.balloon.pages_deflated,
			.pages_refused = m.balloon.pages_refused,
			.free_page_report_count = m.balloon.free_page_report_count,
			.free_page_report_freed = m.balloon.free_page_report_freed,
			.free_page_report_fails = m.balloon.free_page_report_fails,
			.stats_updates_count = m.balloon.stats_updates_count,
			.stats_update_fails = m.balloon.stats_update_fails,
			.release_fails = m.balloon.release_fails,
			.interrupt_count = irqs,
		};
		break;
	case VIRTIO_ID_FS:
		o->kind = CVMM_DEVICE_FS;
		o->u.fs.interrupt_count = irqs;
		break;
	}
}

API int cvmm_vm_device_metrics(const struct cvmm_vm *handle, struct cvmm_device_metrics *out,
			       unsigned max)
{
	const struct vm *vm = (const struct vm *)handle;
	for (unsigned i = 0; i < vm->nvdevs && i < max; i++) {
		unsigned index = 0; /* the devices of its kind before it */
		for (unsigned j = 0; j < i; j++)
			index += vm->vdevs[j].k == vm->vdevs[i].k;
		vm_device_metrics(&vm->vdevs[i], index, &out[i]);
	}
	return (int)vm->nvdevs;
}

API int cvmm_jail_sigsys_install(void)
{
	return jail_sigsys_install();
}

API int cvmm_vm_jail_control_thread(struct cvmm_vm *handle, int listen_fd)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct jail_fds fds = {.listen = listen_fd, .vm = vm->vm_fd};
	void *ctx;
	/* The capabilities the process kept for its fs workers: this thread
	 * needs none. */
	int r = jail_caps_limit(0);
	if (r < 0)
		return err_shared_set(&vm->err, -r, "dropping capabilities: %s", strerror(-r));
	struct err e = {0};
	unsigned extras = (vm->cfg.jail_update_disks ? JAIL_EXTRA_DISKS : 0) |
			  (vm->cfg.jail_snapshot_dir ? JAIL_EXTRA_SNAPSHOTS : 0);
	r = jail_build_ex(JAIL_CONTROL, (enum jail_mode)vm->cfg.seccomp, &fds, extras, &ctx, &e);
	if (r < 0)
		return err_shared_put(&vm->err, &e);
	r = jail_load(ctx, "cvmm-control");
	if (r < 0)
		return err_shared_set(&vm->err, -r,
				      "cannot load the control thread's seccomp filter: %s",
				      strerror(-r));
	return 0;
}

API int cvmm_vm_update_disk(struct cvmm_vm *handle, unsigned index, const char *path)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	if (!path || !path[0])
		return err_shared_set(&vm->err, EINVAL, "no disk file given");
	if (atomic_load(&vm->stopping))
		return err_shared_set(&vm->err, ESHUTDOWN, "VM has exited");
	struct vm_vdev *s = NULL;
	for (unsigned i = 0, n = 0; i < vm->nvdevs && !s; i++)
		if (vm->vdevs[i].src == vm_vdev_disks && n++ == index)
			s = &vm->vdevs[i];
	if (!s || !s->k->update || !s->vdev)
		return err_shared_set(&vm->err, ENODEV, "no disk %u", index);
	struct err e = {0};
	int r = s->k->update(s->model, path, &e);
	if (r < 0)
		return err_shared_put(&vm->err, &e);
	log_debug("%s: now on '%s'", s->name, path);
	return 0;
}

/* The index-th device of a kind (its virtio ID): its rate limiters rx
 * (which 0) and, for an interface, tx (which 1) replaced, and the VM's
 * configuration with them (a snapshot keeps them). */
static int vm_set_limiters(struct vm *vm, uint32_t id, unsigned index,
			   const struct cvmm_rate_limiter *rl0, const struct cvmm_rate_limiter *rl1,
			   struct cvmm_rate_limiter *keep0, struct cvmm_rate_limiter *keep1)
{
	struct rl_cfg c[2] = {vm_rl_cfg(rl0), vm_rl_cfg(rl1)};
	unsigned n = keep1 ? 2 : 1;
	for (unsigned k = 0; k < n; k++)
		if (rl_cfg_check(&c[k]) < 0)
			return err_shared_set(&vm->err, EINVAL,
					      "a rate limiter's size and one_time_burst must be at "
					      "most 2^62, its refill_time at most 10^12 ms");
	struct vm_vdev *s = NULL;
	for (unsigned i = 0, m = 0; i < vm->nvdevs && !s; i++)
		if (vm->vdevs[i].k->virtio_id == id && m++ == index)
			s = &vm->vdevs[i];
	if (!s || !s->k->set_limiter)
		return err_shared_set(&vm->err, ENODEV, "no such device (%u)", index);
	for (unsigned k = 0; k < n; k++) {
		struct err e = {0};
		int r = s->k->set_limiter(s->model, k, &c[k], &e);
		if (r < 0)
			return err_shared_put(&vm->err, &e);
	}
	*keep0 = rl0 ? *rl0 : (struct cvmm_rate_limiter){0};
	if (keep1)
		*keep1 = rl1 ? *rl1 : (struct cvmm_rate_limiter){0};
	log_debug("%s: rate limiters replaced", s->name);
	return 0;
}

API int cvmm_vm_set_disk_limiter(struct cvmm_vm *handle, unsigned index,
				 const struct cvmm_rate_limiter *rl)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	if (index >= vm->cfg.ndisks)
		return err_shared_set(&vm->err, ENODEV, "no disk %u", index);
	return vm_set_limiters(vm, VIRTIO_ID_BLOCK, index, rl, NULL, &vm->cfg.disks[index].limit,
			       NULL);
}

API int cvmm_vm_set_net_limiter(struct cvmm_vm *handle, unsigned index,
				const struct cvmm_rate_limiter *rx,
				const struct cvmm_rate_limiter *tx)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	if (index >= vm->cfg.nnets)
		return err_shared_set(&vm->err, ENODEV, "no network interface %u", index);
	return vm_set_limiters(vm, VIRTIO_ID_NET, index, rx, tx, &vm->cfg.net_limit[index][0],
			       &vm->cfg.net_limit[index][1]);
}

API int cvmm_vm_set_rng_limiter(struct cvmm_vm *handle, const struct cvmm_rate_limiter *rl)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	if (!vm->cfg.rng)
		return err_shared_set(&vm->err, ENODEV, "no entropy device");
	return vm_set_limiters(vm, VIRTIO_ID_RNG, 0, rl, NULL, &vm->cfg.rng_limit, NULL);
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
	err_shared_begin(&vm->err);
	if (!vm->started)
		return err_shared_set(&vm->err, EINVAL, "VM was never started");
	uint64_t v;
	while (!atomic_load(&vm->stopping)) {
		/* a restored VM's memory can no longer be served (its
		 * page-fault handler hung up): the VM ends, saying why */
		if (__atomic_load_n(&vm->snapmem.failed, __ATOMIC_ACQUIRE)) {
			vm_request_exit(vm, CVMM_EXIT_ERROR, -1, 0, 0, "%s", vm->snapmem.why);
			break;
		}
		struct pollfd pfd = {.fd = vm->exit_efd, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return err_shared_set(&vm->err, errno, "waiting for the VM: %s",
					      strerror(errno));
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
	/* vCPUs joined: with the fault handler gone, wake whatever still
	 * waits in a fault (a worker) before the workers are joined */
	if (__atomic_load_n(&vm->snapmem.failed, __ATOMIC_ACQUIRE))
		snapmem_release(&vm->snapmem);
	for (unsigned i = 0; i < vm->nvdevs; i++)
		if (vm->vdevs[i].vdev)
			virtio_tell_failure(vm->vdevs[i].vdev, vm->vdevs[i].name);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, (size_t)vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
		jail_free(v->filter);
	}
	free(vm->vcpus);
	for (unsigned i = vm->nvdevs; i-- > 0;)
		if (vm->vdevs[i].k->quiesce && vm->vdevs[i].model)
			vm->vdevs[i].k->quiesce(vm->vdevs[i].model);
	for (unsigned i = vm->nvdevs; i-- > 0;)
		vm->vdevs[i].k->destroy(vm->vdevs[i].model);
	vm_mmds_close(vm); /* once no interface answers from it */
	/* The interrupt eventfds, once no worker writes them. */
	for (unsigned i = 0; i < vm->nvdevs; i++)
		for (unsigned k = 0; k < vm->vdevs[i].nirq; k++)
			if (vm->vdevs[i].irq_fd[k] >= 0)
				close(vm->vdevs[i].irq_fd[k]);
	free(vm->routes);
	pthread_mutex_destroy(&vm->route_lock);
	pthread_mutex_destroy(&vm->genid_lock);
	arch_destroy(vm->arch); /* its platform devices, its interrupt controller */
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		if (vm->ram_map[i])
			munmap(vm->ram_map[i], vm->ram_len[i]);
	snapmem_dirty_stop(-1, &vm->mem, &vm->dirty);
	snapmem_destroy(&vm->snapmem);
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
	free(vm->cfg.jail_snapshot_dir);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_mutex_destroy(&vm->exit_lock);
	err_shared_destroy(&vm->err);
	free(vm);
}

API void cvmm_vm_destroy(struct cvmm_vm *handle)
{
	if (handle)
		vm_free((struct vm *)handle);
}

/* A copy in the calling thread's own buffer: another thread's call may be
 * writing the VM's error meanwhile. Valid until this thread's next
 * cvmm_vm_error. */
API const char *cvmm_vm_error(const struct cvmm_vm *handle)
{
	static __thread struct err copy;
	err_shared_get(&((struct vm *)(uintptr_t)handle)->err, &copy);
	return copy.msg;
}

API int cvmm_vm_console_input(struct cvmm_vm *handle, const void *buf, unsigned long len)
{
	struct vm *vm = (struct vm *)handle;
	struct serial *con = arch_console(vm->arch);
	if (!con)
		return -ENODEV;
	return (int)serial_input(con, buf, len > 4096 ? 4096 : len);
}
