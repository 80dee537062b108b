/* SPDX-License-Identifier: MIT */
/* The aarch64 VM's own state (struct arch), shared by arm64.c (set-up,
 * boot) and snapshot.c (save/restore); nothing outside arch/aarch64/
 * includes it. */
#ifndef CVMM_ARM64_PRIV_H
#define CVMM_ARM64_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"
#include "devices/legacy.h"
#include "devices/serial.h"

/* The aarch64 VM's own: the GIC, the UART and RTC on MMIO, the boot entry
 * and what the device tree (written last) says about the initrd. */
struct arch {
	const struct arch_vm *vm; /* borrowed from the VMM */
	int gic_fd;		  /* owned, -1: none */
	unsigned gic_version;	  /* 3 or 2 */
	uint32_t vcpu_target;	  /* the KVM target the vCPUs were initialised with */
	struct serial uart;
	struct pl031 rtc;
	bool devs_ready; /* uart and rtc set up: arch_destroy ends them */
	struct {
		uint64_t entry; /* the Image's first instruction */
		uint64_t initrd_gpa, initrd_size;
	} boot;
};

#endif
