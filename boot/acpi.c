/* SPDX-License-Identifier: MIT */
/* ACPI tables for x86_64 guests: RSDP (rev 2), XSDT, FADT (6.x,
 * hardware-reduced), MADT and DSDT (with the VM Generation ID device), laid out from X86_ACPI_ADDR,
 * each 16-byte aligned and checksummed. The interrupt model matches the MP table: ISA IRQ0 -> GSI 2
 * (override), other ISA IRQs identity mapped. */
#include "boot/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "boot/aml.h"
#include "core/le.h"

#define ACPI_OEM_ID	"CVMM  "
#define ACPI_CREATOR_ID "CVMM"
#define ACPI_HDR_SIZE	36
#define ACPI_ALIGN	16

#define RSDP_SIZE    36
#define RSDP_V1_SIZE 20

/* FADT (ACPI 6.x, 5.2.9) offsets. */
#define FADT_SIZE	       276
#define FADT_REVISION	       6
#define FADT_MINOR	       0
#define FADT_DSDT	       40
#define FADT_IAPC_BOOT_ARCH    109
#define FADT_FLAGS	       112
#define FADT_RESET_REG	       116
#define FADT_RESET_VALUE       128
#define FADT_MINOR_VERSION     131
#define FADT_X_DSDT	       140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256
#define FADT_HYPERVISOR_ID     268
#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
#define IAPC_VGA_NOT_PRESENT   (1u << 2)

/* Generic Address Structure */
#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE 1

/* MADT */
#define MADT_REVISION	 5
#define MADT_PCAT_COMPAT 1
#define MADT_LAPIC	 0
#define MADT_IOAPIC	 1
#define MADT_ISO	 2
#define MADT_LAPIC_NMI	 4

static void acpi_gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8; /* register bit width */
	p[2] = 0; /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	le_put64(p + 4, port);
}

/* Writes a table header (length and checksum patched by acpi_hdr_end) at
 * the next aligned offset; returns the table's offset. */
static size_t acpi_hdr_begin(struct aml *a, const char sig[4], uint8_t rev, const char *table_id)
{
	aml_align(a, ACPI_ALIGN);
	size_t start = a->len;
	char tid[9];
	snprintf(tid, sizeof(tid), "%-8s", table_id);
	aml_bytes(a, sig, 4);
	aml_le32(a, 0); /* length */
	aml_byte(a, rev);
	aml_byte(a, 0); /* checksum */
	aml_bytes(a, ACPI_OEM_ID, 6);
	aml_bytes(a, tid, 8);
	aml_le32(a, 1); /* OEM revision */
	aml_bytes(a, ACPI_CREATOR_ID, 4);
	aml_le32(a, 1); /* creator revision */
	return start;
}

static void acpi_hdr_end(struct aml *a, size_t start)
{
	if (!aml_ok(a))
		return;
	uint8_t *t = a->buf + start;
	size_t len = a->len - start;
	le_put32(t + 4, (uint32_t)len);
	t[9] = 0;
	t[9] = boot_csum8(t, len);
}

/* A legacy ISA device: one I/O range and one ISA IRQ. */
static void acpi_isa_dev(struct aml *a, const char *name, const char *eisaid, uint16_t port,
			 uint8_t len, unsigned irq)
{
	size_t dev = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_eisaid(a, eisaid);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	size_t buf = aml_buffer_begin(a);
	aml_res_io16(a, port, len);
	aml_res_irq(a, irq);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_end(a, dev);
}

static void acpi_crs_ext_irq(struct aml *a, const char *name, uint32_t gsi, uint8_t flags)
{
	aml_name(a, name);
	size_t buf = aml_buffer_begin(a);
	aml_res_ext_irq(a, gsi, flags);
	aml_res_end(a);
	aml_buffer_end(a, buf);
}

/* The PCI host bridge for bus 0, inside \_SB_. Each device's INTA goes
 * through its own link device (PNP0C0F) whose interrupt is edge-triggered,
 * active high: the irqfd pulse KVM makes is then never lost, as a pulse on
 * a level-triggered line raised during the handler would be. */
static void acpi_pci(struct aml *a, const struct x86_acpi_cfg *cfg)
{
	for (unsigned i = 0; i < cfg->npci; i++) {
		char name[8];
		snprintf(name, sizeof(name), "LK%02u", i % 100);
		size_t dev = aml_device_begin(a, name);
		aml_name(a, "_HID");
		aml_eisaid(a, "PNP0C0F");
		aml_name(a, "_UID");
		aml_integer(a, i);
		uint8_t fl = AML_INT_CONSUMER | AML_INT_EDGE;
		acpi_crs_ext_irq(a, "_PRS", cfg->pci_devs[i].gsi, fl);
		acpi_crs_ext_irq(a, "_CRS", cfg->pci_devs[i].gsi, fl);
		size_t m = aml_method_begin(a, "_SRS", 1); /* one choice: nothing to set */
		aml_end(a, m);
		m = aml_method_begin(a, "_DIS", 0);
		aml_end(a, m);
		aml_end(a, dev);
	}

	size_t dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08"); /* PCI Express root bridge: ECAM */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	size_t buf = aml_buffer_begin(a);
	aml_res_bus16(a, 0, 0);
	aml_res_io16(a, X86_PORT_PCI_CONF1, 8);
	aml_res_mem32_window(a, cfg->pci_mem_base, cfg->pci_mem_size);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_name(a, "_PRT");
	size_t prt = aml_package_begin(a, (uint8_t)cfg->npci);
	for (unsigned i = 0; i < cfg->npci; i++) {
		char link[16];
		snprintf(link, sizeof(link), "\\_SB_.LK%02u", i % 100);
		size_t e = aml_package_begin(a, 4);
		aml_integer(a, ((uint64_t)cfg->pci_devs[i].slot << 16) | 0xffff);
		aml_integer(a, 0); /* INTA */
		aml_namestring(a, link);
		aml_integer(a, 0);
		aml_end(a, e);
	}
	aml_end(a, prt);
	aml_end(a, dev);

	/* The ECAM window is the motherboard's: Linux uses ECAM only where
	 * a PNP0C02 device (or e820) reserves it. */
	dev = aml_device_begin(a, "RES0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	buf = aml_buffer_begin(a);
	aml_res_mem32_fixed(a, (uint32_t)cfg->ecam_base, X86_PCI_ECAM_SIZE, true);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_end(a, dev);
}

/* MCFG: the ECAM window of segment 0, bus 0. */
static void acpi_mcfg(struct aml *a, uint64_t ecam)
{
	size_t start = acpi_hdr_begin(a, "MCFG", 1, "CVMMMCFG");
	aml_zeros(a, 8);
	aml_le64(a, ecam);
	aml_le16(a, 0); /* segment */
	aml_byte(a, 0); /* start bus */
	aml_byte(a, 0); /* end bus */
	aml_le32(a, 0);
	acpi_hdr_end(a, start);
}

/* Microsoft's VM Generation ID (the "Virtual Machine Generation ID"
 * specification): Linux's vmgenid driver binds to _HID VMGENCTR (Windows
 * to _CID VM_Gen_Counter), evaluates ADDR for the ID's guest physical
 * address (Package {low 32 bits, high 32 bits}) and maps the 16 bytes
 * there; a Notify(VGEN, 0x80) makes it read them again. */
static void acpi_vmgenid(struct aml *a, uint64_t gpa)
{
	size_t dev = aml_device_begin(a, "VGEN");
	aml_name(a, "_HID");
	aml_string(a, "VMGENCTR");
	aml_name(a, "_CID");
	aml_string(a, "VM_Gen_Counter");
	aml_name(a, "_DDN");
	aml_string(a, "VM_Gen_Counter");
	size_t m = aml_method_begin(a, "ADDR", 0);
	aml_return(a);
	size_t pkg = aml_package_begin(a, 2);
	aml_integer(a, gpa & 0xffffffffu);
	aml_integer(a, gpa >> 32);
	aml_end(a, pkg);
	aml_end(a, m);
	aml_end(a, dev);
}

static void acpi_dsdt(struct aml *a, const struct x86_acpi_cfg *cfg)
{
	size_t dsdt = acpi_hdr_begin(a, "DSDT", 2, "CVMMDSDT");

	/* \_S5_: SLP_TYPa, SLP_TYPb, reserved, reserved */
	aml_name(a, "_S5_");
	size_t pkg = aml_package_begin(a, 4);
	aml_integer(a, X86_ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	size_t sb = aml_scope_begin(a, "\\_SB_");

	acpi_isa_dev(a, "COM1", "PNP0501", X86_PORT_COM1, 8, X86_COM1_IRQ);
	/* The CMOS RTC: hardware-reduced ACPI kernels only find it here. */
	acpi_isa_dev(a, "RTC0", "PNP0B00", X86_PORT_CMOS, 2, X86_RTC_IRQ);
	/* The i8042 and its keyboard (Firecracker's PS2_): the FADT claims no
	 * 8042, so kernels with ACPI look for it here. No PS/2 mouse (PNP0F13):
	 * Linux then leaves the second port alone. */
	size_t kbd = aml_device_begin(a, "PS2_");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0303");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	size_t crs = aml_buffer_begin(a);
	aml_res_io16(a, X86_PORT_I8042, 1);	/* data */
	aml_res_io16(a, X86_PORT_I8042 + 4, 1); /* status, command */
	aml_res_irq(a, X86_KBD_IRQ);
	aml_res_end(a);
	aml_buffer_end(a, crs);
	aml_end(a, kbd);

	for (unsigned i = 0; i < cfg->ndevs; i++) {
		const struct acpi_mmio_dev *d = &cfg->devs[i];
		char name[8];
		snprintf(name, sizeof(name), "V%03u", i % 1000);
		size_t dev = aml_device_begin(a, name);
		aml_name(a, "_HID");
		aml_string(a, d->hid);
		aml_name(a, "_UID");
		aml_integer(a, i);
		aml_name(a, "_CRS");
		size_t buf = aml_buffer_begin(a);
		aml_res_mem32_fixed(a, (uint32_t)d->base, d->size, true);
		aml_res_ext_irq(a, d->gsi, AML_INT_CONSUMER | AML_INT_EDGE);
		aml_res_end(a);
		aml_buffer_end(a, buf);
		aml_end(a, dev);
	}

	if (cfg->ecam_base)
		acpi_pci(a, cfg);

	if (cfg->vmgenid_gpa)
		acpi_vmgenid(a, cfg->vmgenid_gpa);

	if (cfg->ged_gsi) {
		/* The power button: hardware-reduced ACPI has no fixed button, so
		 * a Generic Event Device's interrupt runs _EVT, which notifies a
		 * control-method power button (0x80: pressed). */
		size_t dev = aml_device_begin(a, "PWRB");
		aml_name(a, "_HID");
		aml_eisaid(a, "PNP0C0C");
		aml_name(a, "_UID");
		aml_integer(a, 0);
		aml_end(a, dev);
		dev = aml_device_begin(a, "GED0");
		aml_name(a, "_HID");
		aml_string(a, "ACPI0013");
		aml_name(a, "_UID");
		aml_integer(a, 0);
		aml_name(a, "_CRS");
		size_t buf = aml_buffer_begin(a);
		aml_res_ext_irq(a, cfg->ged_gsi, AML_INT_CONSUMER | AML_INT_EDGE);
		if (cfg->vmgenid_gsi)
			aml_res_ext_irq(a, cfg->vmgenid_gsi, AML_INT_CONSUMER | AML_INT_EDGE);
		aml_res_end(a);
		aml_buffer_end(a, buf);
		/* Linux's GED driver runs _EVT with the GSI that fired (Arg0):
		 * one event per interrupt. */
		size_t m = aml_method_begin(a, "_EVT", 1);
		size_t cond = aml_if_arg_equal_begin(a, 0, cfg->ged_gsi);
		aml_notify(a, "\\_SB_.PWRB", 0x80);
		aml_end(a, cond);
		if (cfg->vmgenid_gsi) {
			/* 0x80: the generation ID changed; the driver reads it again */
			cond = aml_if_arg_equal_begin(a, 0, cfg->vmgenid_gsi);
			aml_notify(a, "\\_SB_.VGEN", 0x80);
			aml_end(a, cond);
		}
		aml_end(a, m);
		aml_end(a, dev);
	}

	aml_end(a, sb);
	acpi_hdr_end(a, dsdt);
}

static void acpi_fadt(struct aml *a, uint64_t dsdt)
{
	size_t start = acpi_hdr_begin(a, "FACP", FADT_REVISION, "CVMMFACP");
	aml_zeros(a, FADT_SIZE - ACPI_HDR_SIZE);
	if (!aml_ok(a))
		return;
	uint8_t *f = a->buf + start;
	le_put32(f + FADT_DSDT, (uint32_t)dsdt);
	le_put16(f + FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT);
	le_put32(f + FADT_FLAGS, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP);
	acpi_gas_io8(f + FADT_RESET_REG, X86_PORT_ACPI_RESET);
	f[FADT_RESET_VALUE] = X86_ACPI_RESET_VALUE;
	f[FADT_MINOR_VERSION] = FADT_MINOR;
	le_put64(f + FADT_X_DSDT, dsdt);
	acpi_gas_io8(f + FADT_SLEEP_CONTROL_REG, X86_PORT_ACPI_SLEEP_CTL);
	acpi_gas_io8(f + FADT_SLEEP_STATUS_REG, X86_PORT_ACPI_SLEEP_STS);
	memcpy(f + FADT_HYPERVISOR_ID, "CVMMCVMM", 8);
	acpi_hdr_end(a, start);
}

static void acpi_madt(struct aml *a, unsigned ncpus)
{
	size_t start = acpi_hdr_begin(a, "APIC", MADT_REVISION, "CVMMAPIC");
	aml_le32(a, (uint32_t)X86_LAPIC_ADDR);
	aml_le32(a, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < ncpus; i++) {
		aml_byte(a, MADT_LAPIC);
		aml_byte(a, 8);
		aml_byte(a, (uint8_t)i); /* ACPI processor UID */
		aml_byte(a, (uint8_t)i); /* APIC id */
		aml_le32(a, 1);		 /* enabled */
	}
	aml_byte(a, MADT_IOAPIC);
	aml_byte(a, 12);
	aml_byte(a, (uint8_t)ncpus); /* IOAPIC id */
	aml_byte(a, 0);
	aml_le32(a, (uint32_t)X86_IOAPIC_ADDR);
	aml_le32(a, 0); /* GSI base */

	aml_byte(a, MADT_ISO);
	aml_byte(a, 10);
	aml_byte(a, 0); /* bus: ISA */
	aml_byte(a, 0); /* source: IRQ0 */
	aml_le32(a, 2); /* GSI 2 */
	aml_le16(a, 0); /* conforms to the bus: edge, active high */

	aml_byte(a, MADT_LAPIC_NMI);
	aml_byte(a, 6);
	aml_byte(a, 0xff); /* all processors */
	aml_le16(a, 0);
	aml_byte(a, 1); /* LINT1 */
	acpi_hdr_end(a, start);
}

static void acpi_xsdt(struct aml *a, const uint64_t *tables, unsigned n)
{
	size_t start = acpi_hdr_begin(a, "XSDT", 1, "CVMMXSDT");
	for (unsigned i = 0; i < n; i++)
		aml_le64(a, tables[i]);
	acpi_hdr_end(a, start);
}

static void acpi_rsdp(uint8_t *p, uint64_t xsdt)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2;	     /* revision */
	le_put32(p + 16, 0); /* no RSDT */
	le_put32(p + 20, RSDP_SIZE);
	le_put64(p + 24, xsdt);
	p[8] = boot_csum8(p, RSDP_V1_SIZE);
	p[32] = boot_csum8(p, RSDP_SIZE);
}

static int acpi_check_cfg(const struct x86_acpi_cfg *cfg, struct err *e)
{
	if (cfg->ncpus == 0 || cfg->ncpus > X86_ACPI_MAX_CPUS)
		return err_set(e, EINVAL, "ACPI: %u vCPUs, 1 to %u supported", cfg->ncpus,
			       X86_ACPI_MAX_CPUS);
	if (cfg->ndevs > X86_ACPI_MAX_DEVS)
		return err_set(e, EINVAL, "ACPI: %u devices, at most %u", cfg->ndevs,
			       X86_ACPI_MAX_DEVS);
	if (cfg->ndevs && !cfg->devs)
		return err_set(e, EINVAL, "ACPI: %u devices but no list", cfg->ndevs);
	if (cfg->ecam_base) {
		if (cfg->ecam_base % X86_PCI_ECAM_SIZE ||
		    cfg->ecam_base > UINT32_MAX - X86_PCI_ECAM_SIZE)
			return err_set(e, EINVAL,
				       "ACPI: ECAM at 0x%llx is not a 32-bit, aligned window",
				       (unsigned long long)cfg->ecam_base);
		if (cfg->pci_mem_size == 0 ||
		    cfg->pci_mem_size - 1 > UINT32_MAX - cfg->pci_mem_base)
			return err_set(e, EINVAL, "ACPI: bad PCI memory window");
		if (cfg->npci > X86_ACPI_MAX_PCI || (cfg->npci && !cfg->pci_devs))
			return err_set(e, EINVAL, "ACPI: %u PCI devices, at most %u", cfg->npci,
				       X86_ACPI_MAX_PCI);
		for (unsigned i = 0; i < cfg->npci; i++)
			if (cfg->pci_devs[i].slot == 0 || cfg->pci_devs[i].slot > 31)
				return err_set(e, EINVAL, "ACPI: PCI device %u in slot %u", i,
					       cfg->pci_devs[i].slot);
	} else if (cfg->npci) {
		return err_set(e, EINVAL, "ACPI: PCI devices without a host bridge");
	}
	if (cfg->vmgenid_gpa &&
	    (cfg->vmgenid_gpa % 8 || cfg->vmgenid_gpa > UINT64_MAX - X86_VMGENID_SIZE ||
	     (cfg->vmgenid_gpa + X86_VMGENID_SIZE > X86_ACPI_ADDR &&
	      cfg->vmgenid_gpa < X86_ACPI_END)))
		return err_set(e, EINVAL,
			       "ACPI: the VM generation ID at 0x%llx is not 8-byte aligned "
			       "or overlaps the tables",
			       (unsigned long long)cfg->vmgenid_gpa);
	if (cfg->vmgenid_gsi &&
	    (!cfg->vmgenid_gpa || !cfg->ged_gsi || cfg->vmgenid_gsi == cfg->ged_gsi))
		return err_set(e, EINVAL,
			       "ACPI: the VM generation ID's GSI %u needs the ID and the GED on "
			       "another GSI",
			       cfg->vmgenid_gsi);
	for (unsigned i = 0; i < cfg->ndevs; i++) {
		const struct acpi_mmio_dev *d = &cfg->devs[i];
		size_t n = d->hid ? strnlen(d->hid, 9) : 0;
		if (n < 7 || n > 8)
			return err_set(e, EINVAL, "ACPI: device %u: _HID must be 7 or 8 characters",
				       i);
		for (size_t j = 0; j < n; j++) {
			char c = d->hid[j];
			if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
				return err_set(e, EINVAL,
					       "ACPI: device %u: _HID \"%s\" is not [A-Z0-9]", i,
					       d->hid);
		}
		if (d->size == 0 || d->base > UINT32_MAX || d->size - 1 > UINT32_MAX - d->base)
			return err_set(e, EINVAL,
				       "ACPI: device %u: [0x%llx, +0x%x) not a 32-bit MMIO window",
				       i, (unsigned long long)d->base, d->size);
	}
	return 0;
}

int x86_acpi_write(const struct guest_mem *m, const struct x86_acpi_cfg *cfg, uint64_t *rsdp_gpa,
		   struct err *e)
{
	int r = acpi_check_cfg(cfg, e);
	if (r < 0)
		return r;
	const uint64_t area = X86_ACPI_END - X86_ACPI_ADDR;
	uint8_t *base = gm_ptr(m, X86_ACPI_ADDR, area);
	if (!base)
		return err_set(e, EFAULT, "ACPI: [0x%llx, 0x%llx) is not in guest RAM",
			       (unsigned long long)X86_ACPI_ADDR, (unsigned long long)X86_ACPI_END);
	r = gm_fill(m, X86_ACPI_ADDR, 0, area);
	if (r < 0)
		return err_set(e, -r, "ACPI: clearing the table area failed");

	struct aml a;
	aml_init(&a, base, area);
	aml_zeros(&a, RSDP_SIZE); /* filled in last */

	aml_align(&a, ACPI_ALIGN);
	uint64_t dsdt = X86_ACPI_ADDR + a.len;
	acpi_dsdt(&a, cfg);

	aml_align(&a, ACPI_ALIGN);
	uint64_t tables[3];
	tables[0] = X86_ACPI_ADDR + a.len;
	acpi_fadt(&a, dsdt);

	aml_align(&a, ACPI_ALIGN);
	tables[1] = X86_ACPI_ADDR + a.len;
	acpi_madt(&a, cfg->ncpus);

	unsigned ntables = 2;
	if (cfg->ecam_base) {
		aml_align(&a, ACPI_ALIGN);
		tables[ntables++] = X86_ACPI_ADDR + a.len;
		acpi_mcfg(&a, cfg->ecam_base);
	}

	aml_align(&a, ACPI_ALIGN);
	uint64_t xsdt = X86_ACPI_ADDR + a.len;
	acpi_xsdt(&a, tables, ntables);

	if (a.overflow)
		return err_set(e, ENOSPC,
			       "ACPI: tables for %u vCPUs and %u devices exceed %llu bytes",
			       cfg->ncpus, cfg->ndevs, (unsigned long long)area);
	if (a.invalid)
		return err_set(e, EINVAL, "ACPI: a name or value could not be encoded in AML");
	acpi_rsdp(base, xsdt);
	*rsdp_gpa = X86_ACPI_ADDR;
	return 0;
}
