/* SPDX-License-Identifier: MIT */
/* aarch64 guest physical layout: devices in the first GiB, RAM from 1 GiB.
 * One place, used by the vCPU and GIC setup, the loaders and the FDT. */
#ifndef CVMM_ARM64_LAYOUT_H
#define CVMM_ARM64_LAYOUT_H

#define ARM64_GIC_DIST_BASE   0x08000000ULL /* GICD (v3: 64 KiB, v2: 4 KiB) */
#define ARM64_GIC_DIST_SIZE   0x10000ULL
#define ARM64_GICV2_CPU_BASE  0x08010000ULL /* GICv2 GICC */
#define ARM64_GICV2_CPU_SIZE  0x2000ULL
#define ARM64_GICV2_MAX_CPUS  8
#define ARM64_GIC_REDIST_BASE 0x080a0000ULL /* GICv3 GICR frames, 128 KiB per vCPU */
#define ARM64_GIC_REDIST_SIZE 0x20000ULL    /* ... up to the UART */
#define ARM64_GICV3_MAX_CPUS  ((ARM64_UART_BASE - ARM64_GIC_REDIST_BASE) / ARM64_GIC_REDIST_SIZE)
#define ARM64_GIC_NR_IRQS     160 /* 32 private + 128 SPIs */

#define ARM64_UART_BASE	 0x09000000ULL /* 16550A, byte registers (reg-shift 0) */
#define ARM64_UART_SIZE	 0x1000ULL
#define ARM64_UART_SPI	 0 /* SPI numbers are GSIs (intid - 32) */
#define ARM64_UART_CLOCK 1843200

#define ARM64_RTC_BASE	0x09010000ULL /* PL031, no interrupt */
#define ARM64_APB_CLOCK 24000000      /* the PrimeCells' apb_pclk (a fixed clock) */

/* Firecracker's boot timer: not where Firecracker has it (at 1 GiB, our RAM) */
#define ARM64_BOOT_TIMER_BASE 0x09020000ULL

#define ARM64_VIRTIO_MMIO_BASE 0x0a000000ULL /* virtio-mmio slots ... */
#define ARM64_VIRTIO_MMIO_SIZE 0x1000ULL     /* ... 4 KiB apart */
#define ARM64_VIRTIO_SPI_BASE  1

/* The VM Generation ID: its 16 bytes at the start of RAM's last 64 KiB
 * (the largest arm64 page), which the device tree's memory node leaves
 * out: Linux maps the "microsoft,vmgenid" node's reg as a device's, and
 * refuses to map its own RAM so. Its change notification: an SPI past the
 * device slots'. */
#define ARM64_VMGENID_RESERVE 0x10000ULL
#define ARM64_VMGENID_SPI     96

#define ARM64_RAM_BASE	0x40000000ULL /* 1 GiB, 2 MiB aligned */
#define ARM64_RAM_MAX	(1ULL << 39)  /* within KVM's default 40-bit IPA space */
#define ARM64_FDT_MAX	0x10000ULL    /* the device tree: at most 64 KiB ... */
#define ARM64_FDT_ALIGN 0x200000ULL   /* ... in the last 2 MiB block of RAM */

/* Architected timer PPIs (the FDT's numbering: intid - 16). */
#define ARM64_TIMER_PPI_SEC  13
#define ARM64_TIMER_PPI_PHYS 14
#define ARM64_TIMER_PPI_VIRT 11
#define ARM64_TIMER_PPI_HYP  10
#define ARM64_GIC_MAINT_PPI  9

#endif
