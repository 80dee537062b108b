/* SPDX-License-Identifier: MIT */
/* Boot loaders and table builders. Pure functions: input bytes and a config
 * in, writes into guest memory (through gm_ptr/gm_write only) out. No
 * syscalls, no globals, so each one is unit-tested and fuzzed without KVM.
 * Every function returns 0 or a negative errno and fills *e with a one-line
 * message naming what was wrong. */
#ifndef CVMM_BOOT_H
#define CVMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

#define WUR __attribute__((warn_unused_result))

/* ---- x86_64 kernels ---------------------------------------------------- */

enum x86_boot_kind {
	X86_BOOT_LINUX64 = 1, /* bzImage, 64-bit boot protocol: long mode, rsi = zero page */
	X86_BOOT_PVH = 2,     /* ELF with XEN_ELFNOTE_PHYS32_ENTRY: 32-bit flat, ebx = start_info */
};

#define X86_SETUP_HDR_OFF 0x1f1
#define X86_SETUP_HDR_MAX (0x290 - 0x1f1)

struct x86_kernel {
	enum x86_boot_kind kind;
	uint64_t entry;	    /* gpa of the first instruction */
	uint64_t load_addr; /* [load_addr, load_end): memory the kernel claims, */
	uint64_t load_end;  /* including a bzImage's init_size */
	/* bzImage only: */
	uint16_t version;		      /* boot protocol version, e.g. 0x020f */
	uint8_t setup_hdr[X86_SETUP_HDR_MAX]; /* image bytes 0x1f1.., copied into the zero page */
	uint32_t setup_hdr_len;
	uint32_t cmdline_max;	  /* longest command line the kernel takes, without NUL */
	uint64_t initrd_addr_max; /* highest address the initrd's last byte may have */
};

/* Detects the format (bzImage by "HdrS", else ELF64 with a PVH note) and loads
 * it. Rejects: unknown format, truncation, boot protocol < 2.12 or no
 * XLF_KERNEL_64 (bzImage), ELF without PVH note, segments outside guest RAM or
 * overlapping the low boot area (< X86_HIMEM_START), sizes that overflow. */
WUR int x86_kernel_load(const struct guest_mem *m, const uint8_t *img, size_t size,
			struct x86_kernel *k, struct err *e);
WUR int x86_bzimage_load(const struct guest_mem *m, const uint8_t *img, size_t size,
			 struct x86_kernel *k, struct err *e);
WUR int x86_pvh_elf_load(const struct guest_mem *m, const uint8_t *img, size_t size,
			 struct x86_kernel *k, struct err *e);

/* Places the initrd as high as possible (page aligned) below both
 * ram_end_below_4g and the kernel's initrd_addr_max (PVH: 4 GiB), above the
 * kernel's load_end, and copies it. -ENOSPC with a message saying how much
 * memory is needed when it does not fit. */
WUR int x86_initrd_load(const struct guest_mem *m, uint64_t ram_end_below_4g,
			const struct x86_kernel *k, const uint8_t *data, size_t size, uint64_t *gpa,
			struct err *e);

/* Writes the NUL-terminated command line at X86_CMDLINE_ADDR. Rejects lines
 * longer than the kernel's cmdline_max (or X86_CMDLINE_MAX - 1). */
WUR int x86_cmdline_write(const struct guest_mem *m, const struct x86_kernel *k,
			  const char *cmdline, struct err *e);

/* ---- memory map -------------------------------------------------------- */

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* The guest's memory map for mem_size bytes of RAM laid out per
 * arch/x86_64/layout.h: [0, EBDA) RAM, [EBDA, 1 MiB) reserved, [1 MiB,
 * min(mem, MMIO hole)) RAM, and the rest from 4 GiB. Sets *n to the number
 * of entries (at most 4); -EINVAL for mem_size <= 1 MiB, -ENOSPC if max is
 * too small. */
WUR int x86_e820_build(uint64_t mem_size, struct e820_entry *out, unsigned max, unsigned *n,
		       struct err *e);

/* Guest RAM regions for mem_size bytes: below the hole, and from 4 GiB.
 * Returns how many of gpa[]/size[] it filled (0, 1 or 2). */
unsigned x86_ram_layout(uint64_t mem_size, uint64_t gpa[2], uint64_t size[2]);

/* ---- boot information -------------------------------------------------- */

struct x86_boot_cfg {
	uint64_t mem_size;
	uint64_t initrd_gpa, initrd_size; /* size 0: none */
	uint64_t rsdp_gpa;		  /* 0: none */
	/* The command line must already be at X86_CMDLINE_ADDR. */
};

/* bzImage: struct boot_params at X86_ZERO_PAGE_ADDR: the kernel's setup
 * header, type_of_loader 0xff, CAN_USE_HEAP, cmd_line_ptr, ramdisk, e820,
 * acpi_rsdp_addr. */
WUR int x86_zero_page_write(const struct guest_mem *m, const struct x86_kernel *k,
			    const struct x86_boot_cfg *cfg, struct err *e);

/* PVH: struct hvm_start_info (version 1) at X86_PVH_INFO_ADDR with cmdline,
 * initrd as module 0, rsdp and the memory map at X86_PVH_MEMMAP_ADDR. */
WUR int x86_pvh_info_write(const struct guest_mem *m, const struct x86_boot_cfg *cfg,
			   struct err *e);

/* ---- firmware tables --------------------------------------------------- */

/* Intel MP table (floating pointer + config table) at X86_MPTABLE_ADDR:
 * ncpus processors (APIC id = index), one IOAPIC (id ncpus), ISA bus, ISA
 * IRQ0 -> IOAPIC pin 2 and IRQs 1, 3..23 identity mapped (as in the MADT;
 * 16-23 for virtio devices, as Firecracker), LINT0 ExtINT and LINT1 NMI.
 * The whole table must fit in the 1 KiB EBDA: -EINVAL for ncpus 0 or above
 * X86_MPTABLE_MAX_CPUS (more vCPUs: rely on ACPI and skip the MP table). */
#define X86_MPTABLE_MAX_CPUS 37
WUR int x86_mptable_write(const struct guest_mem *m, unsigned ncpus, struct err *e);

struct acpi_mmio_dev {
	const char *hid; /* e.g. "LNRO0005" for virtio-mmio */
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

/* A PCI device on bus 0 (function 0) and the GSI its INTA raises. */
struct acpi_pci_dev {
	unsigned slot;
	uint32_t gsi;
};

struct x86_acpi_cfg {
	unsigned ncpus;
	/* A PCI host bridge (PCI0, PNP0A08) for bus 0 when ecam_base is not 0:
	 * ECAM there (MCFG, and reserved by a PNP0C02 device), BARs in
	 * [mem_base, mem_base + mem_size); each device's INTA through a link
	 * device (edge, active high) to its GSI. */
	uint64_t ecam_base;
	uint32_t pci_mem_base, pci_mem_size;
	const struct acpi_pci_dev *pci_devs;
	unsigned npci;
	const struct acpi_mmio_dev *devs; /* described in the DSDT, _UID = index */
	unsigned ndevs;
	uint32_t ged_gsi; /* non-zero: a power button (PWRB) and a Generic Event
			     Device (GED0) on this GSI whose _EVT notifies it */
	/* Non-zero: a VM Generation ID device (VGEN: _HID "VMGENCTR", _CID
	 * "VM_Gen_Counter", ADDR returning Package {low, high} of this
	 * address, 8-byte aligned, where the VMM keeps the 16-byte ID); with
	 * vmgenid_gsi (needs ged_gsi, another GSI) GED0 takes that interrupt
	 * too and its _EVT, told which GSI fired, does Notify(VGEN, 0x80). */
	uint64_t vmgenid_gpa;
	uint32_t vmgenid_gsi;
};

#define X86_VMGENID_SIZE 16 /* bytes of the VM Generation ID */

#define X86_ACPI_MAX_CPUS 254  /* xAPIC ids 0..253, IOAPIC id = ncpus */
#define X86_ACPI_MAX_DEVS 1000 /* DSDT names V000..V999 */
#define X86_ACPI_MAX_PCI  31   /* bus 0, slots 1..31 */

/* RSDP (rev 2) at X86_ACPI_ADDR, then XSDT, FADT (hardware-reduced, sleep
 * control/status and reset registers at the layout.h ports), DSDT (\_S5,
 * COM1, RTC0, the i8042 PS2_, the mmio devices), MADT (one enabled LAPIC
 * per vCPU, the IOAPIC, ISA interrupt overrides), all checksummed, all
 * below X86_ACPI_END. A vmgenid_gpa must be 8-byte aligned and outside the
 * table area, and a vmgenid_gsi needs a ged_gsi other than it (-EINVAL).
 * *rsdp_gpa gets the RSDP address. -EINVAL for ncpus 0 or above
 * X86_ACPI_MAX_CPUS, a _HID that is not 7-8 chars of [A-Z0-9], or an mmio
 * window not inside 32 bits; -ENOSPC if the tables do not fit. Devices use
 * Memory32Fixed + Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive). */
WUR int x86_acpi_write(const struct guest_mem *m, const struct x86_acpi_cfg *cfg,
		       uint64_t *rsdp_gpa, struct err *e);

/* ---- aarch64 ------------------------------------------------------------ */

#define ARM64_IMAGE_MAGIC    0x644d5241u /* "ARM\x64" at byte 56 */
#define ARM64_IMAGE_HDR_SIZE 64
#define ARM64_FLAG_BE	     (1u << 0) /* kernel is big-endian */
#define ARM64_FLAG_ANYWHERE  (1u << 3) /* base may be any 2 MiB boundary */

struct arm64_image {
	uint64_t text_offset; /* header fields */
	uint64_t image_size;
	uint64_t flags;
	uint64_t load_addr; /* 2 MiB aligned base + text_offset: the entry */
	uint64_t load_end;  /* load_addr + image_size (bss included) */
};

/* Parses the arm64 Image header (Documentation/arch/arm64/booting.rst):
 * the magic, a little-endian kernel, image_size non-zero and at least the
 * file (older kernels without image_size are refused), text_offset 8-byte
 * aligned and below 2 MiB so that the image starts in its 2 MiB block.
 * Fills the header
 * fields of *k. */
WUR int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image *k, struct err *e);
/* Parses, then copies the image to ram_base (2 MiB aligned) + text_offset
 * and zeroes the rest of image_size; rejects an image_size above
 * ARM64_RAM_MAX (-EINVAL) and an image that does not fit in [ram_base,
 * ram_base + ram_size) (-ENOSPC). */
WUR int arm64_image_load(const struct guest_mem *m, uint64_t ram_base, uint64_t ram_size,
			 const uint8_t *img, size_t size, struct arm64_image *k, struct err *e);
/* Places the initrd as high as possible (page aligned) below limit and above
 * the kernel's load_end, and copies it; -ENOSPC with the memory needed when
 * it does not fit. */
WUR int arm64_initrd_load(const struct guest_mem *m, uint64_t limit, const struct arm64_image *k,
			  const uint8_t *data, size_t size, uint64_t *gpa, struct err *e);

struct arm64_fdt_dev {
	uint64_t base, size;
	uint32_t spi; /* GIC SPI number (intid - 32), edge rising */
};

struct arm64_fdt_cfg {
	unsigned ncpus;
	uint64_t mem_base, mem_size;
	unsigned gic_version; /* 3 or 2 */
	uint64_t gic_dist, gic_dist_size;
	uint64_t gic_redist, gic_redist_size; /* v3: GICR frames; v2: the GICC */
	uint64_t uart_base, uart_size;
	uint32_t uart_spi, uart_clock;	  /* level high */
	uint64_t rtc_base, rtc_size;	  /* PL031 (size 0: none), no interrupt */
	uint32_t apb_clock;		  /* Hz of the PrimeCells' apb_pclk */
	const struct arm64_fdt_dev *devs; /* virtio-mmio, in slot order */
	unsigned ndevs;
	const char *cmdline;
	uint64_t initrd_gpa, initrd_size; /* size 0: none */
	/* Non-zero: a VM Generation ID node ("microsoft,vmgenid", Linux
	 * 6.10+): its 16 bytes at vmgenid_gpa (which must not be in
	 * [mem_base, mem_base + mem_size): Linux maps it as a device's
	 * memory), its change notification on SPI vmgenid_spi, edge rising. */
	uint64_t vmgenid_gpa;
	uint32_t vmgenid_spi;
};

#define ARM64_VMGENID_SIZE 16 /* bytes of the VM Generation ID */

/* MPIDR of vCPU i as KVM sets it (Aff0 = i & 15, Aff1 = i >> 4, ...): the
 * cpus' reg. */
uint64_t arm64_mpidr(unsigned i);

/* Builds the device tree into buf (libfdt): memory, cpus (enable-method
 * psci), psci 0.2 (hvc), the GIC, the architected timer, the 16550 UART,
 * the PL031 RTC and its fixed apb_pclk, one virtio,mmio node per device, the vmgenid node,
 * chosen (bootargs, initrd
 * range, stdout-path). -ENOSPC with a message when it does not fit in size bytes, -EINVAL for a bad
 * config (no cpus, more than the GIC version takes, a gic_version other than 2 or 3). *len gets the
 * blob's size. */
WUR int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_cfg *c, size_t *len,
			struct err *e);

#endif
