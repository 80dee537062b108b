/* SPDX-License-Identifier: MIT */
/* x86_64 guest physical layout and legacy port map. One place, used by the
 * vCPU setup, the boot loaders and the table builders. */
#ifndef CVMM_X86_LAYOUT_H
#define CVMM_X86_LAYOUT_H

/* Low memory (first MiB). */
#define X86_GDT_ADDR	    0x500ULL  /* boot GDT, 4 entries */
#define X86_IDT_ADDR	    0x520ULL  /* empty boot IDT */
#define X86_PVH_INFO_ADDR   0x6000ULL /* struct hvm_start_info (PVH boot) */
#define X86_PVH_MEMMAP_ADDR 0x6040ULL /* hvm_memmap_table_entry[] (PVH boot) */
#define X86_PVH_MEMMAP_MAX  32
#define X86_ZERO_PAGE_ADDR  0x7000ULL  /* struct boot_params (bzImage boot) */
#define X86_BOOT_STACK_ADDR 0x8ff0ULL  /* initial rsp */
#define X86_PML4_ADDR	    0x9000ULL  /* identity page tables: PML4 */
#define X86_PDPT_ADDR	    0xa000ULL  /*   one PDPT */
#define X86_PD_ADDR	    0xb000ULL  /*   four PDs: 0..4 GiB in 2 MiB pages */
#define X86_CMDLINE_ADDR    0x20000ULL /* kernel command line */
#define X86_CMDLINE_MAX	    4096ULL    /* our limit; the kernel's may be lower */
#define X86_EBDA_START	    0x9fc00ULL /* MP table lives here; e820 reserved up to 1 MiB */
#define X86_MPTABLE_ADDR    X86_EBDA_START
/* The VM Generation ID's 16 bytes (boot/acpi.c's VGEN): guest memory the
 * e820 map reserves ([EBDA, 1 MiB)), in the window a PC has its video
 * memory and option ROMs, none here; not on a 2 KiB boundary, where Linux
 * looks for option ROM signatures. */
#define X86_VMGENID_ADDR 0xdfff0ULL
#define X86_ACPI_ADDR	 0xe0000ULL /* RSDP, then the other tables, up to 1 MiB */
#define X86_ACPI_END	 0x100000ULL
#define X86_HIMEM_START	 0x100000ULL /* kernel load address (1 MiB) */

/* Above RAM: the 32-bit MMIO hole, [3 GiB, 4 GiB). RAM that does not fit
 * below it continues at 4 GiB. */
#define X86_MMIO_HOLE_START  0xc0000000ULL
#define X86_MMIO_HOLE_END    0x100000000ULL
#define X86_BOOT_TIMER_BASE  0xc0000000ULL /* Firecracker's boot timer, where it has it */
#define X86_VIRTIO_MMIO_BASE 0xd0000000ULL /* virtio-mmio slots ... */
#define X86_VIRTIO_MMIO_SIZE 0x1000ULL	   /* ... one 4 KiB window each */
#define X86_VIRTIO_MMIO_MAX  32
#define X86_VIRTIO_IRQ_BASE  5 /* GSIs 5.. for virtio-mmio (skip 8: rtc) */
/* PCI (virtio-pci): ECAM for bus 0, then the window BARs are put in. */
#define X86_PCI_ECAM_BASE     0xe0000000ULL
#define X86_PCI_ECAM_SIZE     0x100000u
#define X86_PCI_MEM_BASE      0xe1000000ULL
#define X86_PCI_MEM_SIZE      0x01000000u
#define X86_IOAPIC_ADDR	      0xfec00000ULL
#define X86_LAPIC_ADDR	      0xfee00000ULL
#define X86_TSS_ADDR	      0xfffbd000ULL /* KVM_SET_TSS_ADDR (3 pages) */
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR */

/* Legacy I/O ports. */
#define X86_PORT_COM1		0x3f8
#define X86_COM1_IRQ		4
#define X86_PORT_PCI_CONF1	0xcf8 /* 0xcf8 address, 0xcfc-0xcff data */
#define X86_PORT_CMOS		0x70  /* 0x70 index, 0x71 data */
#define X86_RTC_IRQ		8
#define X86_GED_GSI		23    /* ACPI Generic Event Device: the power button */
#define X86_VMGENID_GSI		3     /* the GED's second: a new VM generation ID (COM2's) */
#define X86_PORT_PIT		0x40  /* 0x40-0x42 counters, 0x43 mode (in-kernel) */
#define X86_PORT_PIT_SPEAKER	0x61  /* channel 2's gate (the in-kernel PIT's) */
#define X86_PORT_I8042		0x60  /* 0x60 data, 0x64 command/status */
#define X86_KBD_IRQ		1     /* the i8042's keyboard */
#define X86_PORT_ACPI_SLEEP_CTL 0x600 /* FADT SLEEP_CONTROL_REG (1 byte) */
#define X86_PORT_ACPI_SLEEP_STS 0x601 /* FADT SLEEP_STATUS_REG (1 byte) */
#define X86_PORT_ACPI_RESET	0x602 /* FADT RESET_REG (1 byte) */
#define X86_ACPI_RESET_VALUE	0x1
#define X86_ACPI_S5_SLP_TYP	5 /* \_S5 SLP_TYP; write (5 << 2) | SLP_EN */
#define X86_ACPI_SLP_EN		(1u << 5)
#define X86_PORT_DEBUG_EXIT	0x501 /* micro-guests: write a byte, VM exits with it */

#endif
