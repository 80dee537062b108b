/* SPDX-License-Identifier: MIT */
/* struct cvmm_config: what cvmm_config_* (config.c) collect and
 * cvmm_vm_create reads (plain data, owned strings). A new device kind adds
 * its fields here and its setter in config.c; vm.c reads them only through
 * the device list (vdevs.c). */
#ifndef CVMM_CONFIG_H
#define CVMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cvmm/cvmm.h"
#include "core/err.h"
#include "core/ratelimit.h"

struct mmds_store; /* devices/mmds.h */

/* The VM's MMDS store from c (the caller's config), into vm->cfg.mmds_store
 * (vmm/mmds.c). */
struct vm;
__attribute__((warn_unused_result)) int vm_mmds_open(struct vm *vm, const struct cvmm_config *c,
						     struct err *e);
void vm_mmds_close(struct vm *vm);

#define CVMM_MAX_CPUS 254 /* xAPIC ids, one IOAPIC id above them */

struct vm_disk_cfg {
	char *path; /* owned */
	unsigned flags, queues;
	struct cvmm_rate_limiter limit;
	unsigned poll_us; /* cvmm_config_set_disk_poll */
};
struct vm_fs_cfg {
	char *tag, *path; /* owned */
	unsigned flags;
};
#define CVMM_MIN_MEMORY (16ULL << 20)

/* A public rate limiter as the devices take it (NULL: none). */
static inline struct rl_cfg vm_rl_cfg(const struct cvmm_rate_limiter *l)
{
	struct rl_cfg c = {0};
	if (l) {
		c.bw = (struct rl_bucket_cfg){l->bandwidth.size, l->bandwidth.one_time_burst,
					      l->bandwidth.refill_time_ms};
		c.ops = (struct rl_bucket_cfg){l->ops.size, l->ops.one_time_burst,
					       l->ops.refill_time_ms};
	}
	return c;
}

struct cvmm_config {
	char *kernel;  /* owned */
	char *initrd;  /* owned, NULL: none */
	char *cmdline; /* owned, NULL: default */
	unsigned cpus;
	uint64_t memory;
	int console_in, console_out;		/* borrowed, -1: none */
	char *console_path;			/* owned, NULL: none; opened by cvmm_vm_create */
	struct cvmm_token_bucket console_limit; /* all zero: none */
	int huge_pages;				/* CVMM_HUGE_* */
	int kick_signal;			/* 0: the default (SIGRTMIN + 2) */
	bool debug_exit;
	bool boot_timer; /* Firecracker's --boot-timer */
	struct vm_disk_cfg disks[CVMM_MAX_DISKS];
	unsigned ndisks;
	struct cvmm_net_config nets[CVMM_MAX_NETS]; /* target owned */
	unsigned nnets;
	struct cvmm_rate_limiter net_limit[CVMM_MAX_NETS][2]; /* RX, TX */
	unsigned net_poll_us[CVMM_MAX_NETS];		      /* cvmm_config_set_net_poll */
	struct vm_fs_cfg fs[CVMM_MAX_FS];
	unsigned nfs;
	char *vsock_path; /* owned, NULL: no vsock device */
	uint64_t vsock_cid;
	bool rng; /* a virtio-rng device */
	struct vm_balloon_cfg {
		bool on; /* a virtio-balloon device */
		uint32_t mib;
		unsigned flags, stats_s; /* CVMM_BALLOON_*, statistics interval (0: none) */
	} balloon;
	struct cvmm_rate_limiter rng_limit;
	bool track_dirty; /* dirty pages tracked: diff snapshots */
	int seccomp;	  /* CVMM_SECCOMP_*, for every thread of the VM */
	int transport;	  /* CVMM_TRANSPORT_* */
	bool jail;	  /* drop privileges in cvmm_vm_create */
	bool jail_ids, jail_landlock;
	bool jail_update_disks;	   /* cvmm_vm_update_disk works after the drop */
	bool jail_update_anywhere; /* beneath "/" */
	unsigned jail_uid, jail_gid;
	char *jail_chroot;	 /* owned, NULL: none */
	char *jail_rm_dir;	 /* owned, NULL: none: Landlock still lets files be removed there */
	char *jail_snapshot_dir; /* owned, NULL: no snapshots after the drop */
	/* MMDS (vmm/mmds.c): version 0: none; data owned. The VM's copy has
	 * no data but the store made from it (vm_mmds_open). */
	struct cvmm_mmds_config mmds;
	struct mmds_store *mmds_store; /* the VM's, borrowed by its interfaces */
	struct err err;
};

#endif
