/* SPDX-License-Identifier: MIT */
/* The VM object: everything a running VM owns hangs off it (no globals). */
#ifndef CVMM_VM_H
#define CVMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"
#include "cvmm/cvmm.h"
#include "devices/legacy.h"
#include "devices/virtio/device.h"
#include "devices/virtio/pci.h"
#include "vmm/config.h"
#include "vmm/snapmem.h"
#include "core/bus.h"
#include "core/err.h"
#include "core/mem.h"

struct vm_vdev_src; /* vmm/vdevs.h */

/* A virtio device and its transport: where it sits (virtio-mmio window, or
 * PCI slot and BAR0) and the interrupts it raises. */
struct vm_vdev {
	const struct vdev_desc *k;     /* static const: the device's descriptor */
	const struct vm_vdev_src *src; /* static const: its row in vdevs.c */
	void *model;		       /* owned: the device (k->destroy) */
	bool pci;
	uint64_t base;	       /* virtio-mmio window or BAR0 */
	uint32_t gsi;	       /* virtio-mmio's interrupt, or INTA's */
	unsigned slot;	       /* PCI: bus 0 device number */
	uint32_t msi_gsi_base; /* PCI: GSIs of its MSI-X vectors */
	const char *kind;
	char name[40];			    /* kind@base, for messages */
	struct virtio_dev *vdev;	    /* borrowed from the device, once started */
	int irq_fd[VIRTIO_PCI_MAX_VECTORS]; /* owned eventfds (mmio: [0] only) */
	unsigned nirq;
	int kick[VIRTIO_MAX_QUEUES]; /* borrowed from the device */
	struct virtio_pci vpci;	     /* PCI transport state */
};
/* Device slots: the virtio devices of every kind together, one interrupt
 * each (cvmm_vm_create refuses more before opening any). */
#define CVMM_MAX_MMIO CVMM_MAX_DEVICES
_Static_assert(CVMM_MAX_MMIO == ARCH_MAX_DEVS, "the arch describes every device slot");

enum vcpu_exit_kind {
	VCPU_EXIT_IO_IN,
	VCPU_EXIT_IO_OUT,
	VCPU_EXIT_MMIO_READ,
	VCPU_EXIT_MMIO_WRITE,
	VCPU_EXIT_KINDS
};

struct vcpu {
	struct vm *vm; /* borrowed back-pointer */
	unsigned id;
	void *filter;	     /* owned until the thread loads it */
	bool test_violation; /* test builds: make a syscall outside the filter */
	bool test_overflow;  /* test builds: a heap overflow for ASan to report */
	int fd;		     /* owned */
	struct kvm_run *run; /* owned mapping of run_size bytes */
	pthread_t thread;
	bool thread_started;
	bool parked; /* under vm->pause_lock */
	/* the last exit was an I/O or MMIO access, which KVM completes (the
	 * value read, the instruction pointer past it) in the next KVM_RUN */
	bool io_pending;
	_Atomic uint64_t exits;
	/* port and MMIO exits by direction (enum vcpu_exit_kind); like exits,
	 * this thread writes them, any thread reads them */
	_Atomic uint64_t exit_kinds[VCPU_EXIT_KINDS];
};

/* The builder's phases, in order (vm_create, cvmm_vm_start). */
enum vm_phase {
	VM_PH_BEGIN,
	VM_PH_CONFIG,
	VM_PH_DEVICES_OPEN,
	VM_PH_MEMORY,
	VM_PH_LOAD,
	VM_PH_KVM_OPEN,
	VM_PH_VM,
	VM_PH_VCPUS,
	VM_PH_PLATFORM,
	VM_PH_JAIL_DROP,
	VM_PH_WORKERS,
	VM_PH_BOOT_REGS,
	VM_PH_VCPU_THREADS,
	VM_NPHASES
};

struct vm {
	struct cvmm_config cfg; /* owned copy */
	int kvm_fd, vm_fd;	/* owned */
	int run_size;
	int kick_signal;
	struct guest_mem mem;
	void *ram_map[GM_MAX_REGIONS]; /* owned mappings */
	uint64_t ram_len[GM_MAX_REGIONS];
	struct bus pio, mmio;
	struct boot_timer boot_timer; /* cfg.boot_timer: Firecracker's */
	/* The arch's own (its platform devices and interrupt controller, the
	 * boot entry) and what the VM lends it (arch/arch.h). */
	struct arch *arch; /* owned (arch_destroy) */
	struct arch_vm av;
	struct vcpu *vcpus; /* owned array of cfg.cpus */
	unsigned nvcpus;    /* how many were created */

	struct vm_vdev vdevs[CVMM_MAX_MMIO];
	unsigned nvdevs;
	bool pci; /* virtio over PCI (cfg.transport) */
	struct pci_host pci_host;
	/* KVM's GSI routing table (PCI: MSI-X vectors), rewritten whole by
	 * KVM_SET_GSI_ROUTING when a vector's message changes. */
	pthread_mutex_t route_lock;
	struct kvm_irq_routing *routes; /* owned, NULL: KVM's default */
	unsigned routes_cap;
	uint32_t next_msi_gsi;

	pthread_mutex_t exit_lock;
	atomic_bool stopping;
	struct cvmm_exit exit; /* under exit_lock */
	int exit_efd;	       /* owned eventfd, readable once the VM exited */
	int console_fd;	       /* owned, opened from cfg.console_path; -1: none */
	bool started, joined;
	uint64_t start_ns; /* CLOCK_MONOTONIC at cvmm_vm_start */
	/* Start-up phases (CLOCK_MONOTONIC at each one's end, vm_phase): what
	 * --log-level debug prints once the vCPUs run (docs/benchmarks.md). */
	uint64_t phase_ns[VM_NPHASES];
	/* a restore's steps, CLOCK_MONOTONIC (logged at cvmm_vm_start): vm_create
	 * entered, memory mapped, KVM set up (VM, vCPUs, devices), state loaded */
	uint64_t rs_ns[4];

	/* Pause: vCPU threads park at the top of their run loop. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req; /* written under pause_lock; vCPUs peek without it */
	unsigned nparked;      /* under pause_lock */
	unsigned nrunning;     /* vCPU threads not yet returned, under pause_lock */
	uint64_t shutdown_requests;
	/* Restored from a snapshot: how its memory is mapped (vmm/snapmem.h). */
	bool restored;
	struct snapmem snapmem;
	/* cfg.track_dirty: what changed since the last snapshot (diffs) */
	struct snapmem_dirty dirty;
	/* The last public call's failure (or why the VM ended in error):
	 * cleared as each cvmm_vm_* call starts, written under its lock. */
	struct err_shared err;
	/* The VM generation ID last written to guest memory (vm_vmgenid_new),
	 * under genid_lock; all zero where the arch describes none. */
	pthread_mutex_t genid_lock;
	uint8_t genid[16];
};

/* A fresh random VM generation ID (getrandom) into guest memory where the
 * arch's firmware tables or device tree put it (arch_vmgenid_gpa); with
 * notify, the guest is told it changed (arch_vmgenid_notify): a restored
 * snapshot, a clone, must reseed its randomness. Once at boot, after the
 * tables are written (arch_load); with notify on restore, once the arch's
 * state (its interrupt controller) is restored. Nothing where the arch
 * describes no ID. */
__attribute__((warn_unused_result)) int vm_vmgenid_new(struct vm *vm, bool notify, struct err *e);

/* Ends the VM: records the first reason, kicks every vCPU out of KVM_RUN and
 * signals exit_efd. Callable from any thread. */
void vm_request_exit(struct vm *vm, enum cvmm_exit_reason reason, int vcpu, uint64_t rip,
		     uint32_t kvm_reason, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* The vCPU thread parks here while a pause is requested; returns when the
 * VM is resumed or stopping. */
void vm_pause_point(struct vcpu *v);
/* The vCPU thread is returning. */
void vm_vcpu_gone(struct vcpu *v);

/* A restore in progress (vmm/snapshot.c): the snapshot, checked whole, and
 * what the caller asked. */
struct snap_r;
struct vm_restore {
	const struct snap_r *r;
	const struct cvmm_restore *rs;
};
/* cvmm_vm_create's builder; with rc, guest memory comes from the snapshot,
 * nothing is loaded, and the saved state replaces the boot state. */
int vm_create(const struct cvmm_config *cfg, const struct vm_restore *rc, struct cvmm_vm **out,
	      char *errbuf, unsigned long errlen);
/* vmm/snapshot.c: the saved state into a VM built for it (vCPUs created,
 * devices started, nothing run). */
int vm_restore_state(struct vm *vm, const struct vm_restore *rc, struct err *e);

/* Starts the vCPU thread; the caller holds vm->exit_lock. */
int vcpu_start(struct vcpu *v);
/* Makes the vCPU leave KVM_RUN (or not enter it) and look at the VM's
 * state (stopping, pause_req, which the caller set first): any thread, the
 * caller holding vm->exit_lock (vcpu_start runs under it too, so a thread
 * is either kicked or starts after). Every cross-thread kick is this. */
void vcpu_kick(struct vcpu *v);

#endif
