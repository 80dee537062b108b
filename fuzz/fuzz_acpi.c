/* SPDX-License-Identifier: MIT */
/* ACPI tables from configurations decoded out of the input: a valid
 * configuration must give tables that walk back from the RSDP with correct
 * checksums and lengths, inside the ACPI area and not overlapping, a MADT
 * with one LAPIC per vCPU and a DSDT whose AML package lengths nest
 * exactly, with one Device per mmio device. Input layout:
 *   [0]     vCPUs, bits 0-7 (bit 8: [1] bit 7)
 *   [1]     bits 0-5 mmio devices; bit 6: many devices (below)
 *   [2..]   per device 10 bytes [sel, base le32, size, gsi le16, 2 spare]:
 *           sel & 3 a known _HID, or with bit 7 (sel & 7) + 3 raw _HID
 *           bytes after the record; bit 6: base << 4; bits 2-5: size
 *           shift; then with bit 6 of [1], a le16 count: the decoded
 *           devices repeated up to it (up to past X86_ACPI_MAX_DEVS)
 * vCPU counts with bit 1 set also get the PCI host bridge (PCI0, RES0 and
 * MCFG) with one PCI device per decoded device (at most 31: slots 1..),
 * INTA on the device's GSI through a link device each (LKnn). */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define MAX_DEVS (X86_ACPI_MAX_DEVS + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *table(const struct guest_mem *m, uint64_t gpa, const char *sig)
{
	FZ_CHECK(gpa >= X86_ACPI_ADDR && gpa % 16 == 0);
	const uint8_t *t = gm_ptr(m, gpa, 36);
	FZ_CHECK(t && memcmp(t, sig, 4) == 0);
	uint32_t len = fz_rd32(t + 4);
	FZ_CHECK(len >= 36 && gpa + len <= X86_ACPI_END);
	t = gm_ptr(m, gpa, len);
	FZ_CHECK(fz_sum8(t, len) == 0);
	return t;
}

static size_t pkglen(const uint8_t *p, const uint8_t *end, size_t *len)
{
	FZ_CHECK(p < end);
	unsigned n = (p[0] >> 6) + 1;
	FZ_CHECK((size_t)(end - p) >= n);
	size_t v = n == 1 ? (size_t)(p[0] & 0x3f) : (size_t)(p[0] & 0xf);
	for (unsigned i = 1; i < n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	FZ_CHECK(v >= n && v <= (size_t)(end - p));
	*len = v;
	return n;
}

static const uint8_t *skip_name(const uint8_t *p, const uint8_t *end)
{
	if (p < end && *p == '\\')
		p++;
	FZ_CHECK(p < end);
	unsigned nseg = 1;
	if (*p == 0x2e) {
		nseg = 2;
		p++;
	} else if (*p == 0x2f) {
		FZ_CHECK(p + 1 < end);
		nseg = p[1];
		p += 2;
	}
	FZ_CHECK((size_t)(end - p) >= 4 * nseg);
	return p + 4 * nseg;
}

static const uint8_t *skip_data(const uint8_t *p, const uint8_t *end)
{
	FZ_CHECK(p < end);
	size_t len;
	switch (*p) {
	case 0x00:
	case 0x01:
		return p + 1;
	case 0x0a:
		return p + 2;
	case 0x0b:
		return p + 3;
	case 0x0c:
		return p + 5;
	case 0x0e:
		return p + 9;
	case 0x0d: {
		const uint8_t *z = memchr(p + 1, 0, (size_t)(end - p - 1));
		FZ_CHECK(z != NULL);
		return z + 1;
	}
	case 0x11:
	case 0x12: {
		const uint8_t *start = p + 1;
		pkglen(start, end, &len);
		return start + len;
	}
	}
	FZ_CHECK(!"unknown data object");
	return end;
}

static unsigned terms(const uint8_t *p, const uint8_t *end)
{
	unsigned devices = 0;
	size_t len;
	while (p < end) {
		if (*p == 0x08) {
			p = skip_data(skip_name(p + 1, end), end);
		} else if (*p == 0x10 || (*p == 0x5b && p + 1 < end && p[1] == 0x82)) {
			const uint8_t *start = p + (*p == 0x10 ? 1 : 2);
			devices += *p != 0x10;
			size_t n = pkglen(start, end, &len);
			const uint8_t *send = start + len;
			devices += terms(skip_name(start + n, send), send);
			p = send;
		} else if (*p == 0x14) { /* Method: a name, flags, a body we do not walk */
			size_t n = pkglen(p + 1, end, &len);
			FZ_CHECK(len > n && p + 1 + len <= end);
			p += 1 + len;
		} else {
			FZ_CHECK(!"unknown AML opcode");
		}
		FZ_CHECK(p <= end);
	}
	return devices;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *m = fz_mem(2 * FZ_MiB, 0);
	static const char *const hids[] = {"LNRO0005", "PNP0501", "ACPI0007", "QEMU0002"};
	static struct acpi_mmio_dev devs[MAX_DEVS];
	static char hidbuf[64][16];
	if (size < 2)
		return 0;
	unsigned ncpus = data[0] | (size > 2 && (data[1] & 0x80) ? 0x100u : 0);
	unsigned ndevs = data[1] & 0x3f;
	bool many = data[1] & 0x40;
	data += 2;
	size -= 2;
	unsigned i;
	for (i = 0; i < ndevs && size >= 10; i++) {
		uint8_t sel = data[0];
		if (sel & 0x80) { /* raw HID bytes from the input */
			size_t n = (sel & 7) + 3;
			if (size < 10 + n)
				break;
			memcpy(hidbuf[i], data + 10, n);
			hidbuf[i][n] = '\0';
			devs[i].hid = hidbuf[i];
		} else {
			devs[i].hid = hids[sel & 3];
		}
		devs[i].base = (uint64_t)fz_rd32(data + 1) << (sel & 0x40 ? 4 : 0);
		devs[i].size = (uint32_t)data[5] << ((sel >> 2) & 15);
		devs[i].gsi = data[6] | (uint32_t)data[7] << 8;
		size_t used = 10 + (sel & 0x80 ? (sel & 7) + 3 : 0);
		data += used;
		size -= used;
	}
	ndevs = i;
	if (many && ndevs && size >= 2) {
		/* Many devices, up to past what fits: the decoded ones again. */
		unsigned want = (unsigned)(data[0] | data[1] << 8) % (MAX_DEVS + 1);
		for (; i < want; i++)
			devs[i] = devs[i % ndevs];
		ndevs = i;
	}

	/* odd vCPU counts also get the power button (GED0 + PWRB) */
	struct x86_acpi_cfg cfg = {
		.ncpus = ncpus, .devs = devs, .ndevs = ndevs, .ged_gsi = ncpus & 1 ? 23 : 0};
	struct acpi_pci_dev pdevs[X86_ACPI_MAX_PCI];
	if (ncpus & 2) {
		cfg.ecam_base = X86_PCI_ECAM_BASE;
		cfg.pci_mem_base = (uint32_t)X86_PCI_MEM_BASE;
		cfg.pci_mem_size = X86_PCI_MEM_SIZE;
		cfg.npci = ndevs < X86_ACPI_MAX_PCI ? ndevs : X86_ACPI_MAX_PCI;
		for (unsigned k = 0; k < cfg.npci; k++)
			pdevs[k] = (struct acpi_pci_dev){k + 1, devs[k].gsi};
		cfg.pci_devs = pdevs;
	}
	uint64_t rsdp_gpa = 0;
	struct err e;
	err_clear(&e);
	int r = x86_acpi_write(m, &cfg, &rsdp_gpa, &e);
	fz_check_err(r, &e);
	if (r < 0) {
		/* Out of room only with far more devices than the 64 decoded. */
		FZ_CHECK(r == -EINVAL || (r == -ENOSPC && ndevs > 64));
		return 0;
	}
	FZ_CHECK(ncpus >= 1 && ncpus <= X86_ACPI_MAX_CPUS);

	const uint8_t *rsdp = gm_ptr(m, rsdp_gpa, 36);
	FZ_CHECK(rsdp && memcmp(rsdp, "RSD PTR ", 8) == 0);
	FZ_CHECK(fz_sum8(rsdp, 20) == 0 && fz_sum8(rsdp, 36) == 0);
	FZ_CHECK(rsdp[15] == 2 && fz_rd32(rsdp + 20) == 36);
	const uint8_t *xsdt = table(m, fz_rd64(rsdp + 24), "XSDT");
	FZ_CHECK(fz_rd32(xsdt + 4) == 36 + (cfg.ecam_base ? 24 : 16));
	if (cfg.ecam_base) {
		const uint8_t *mcfg = table(m, fz_rd64(xsdt + 52), "MCFG");
		FZ_CHECK(fz_rd32(mcfg + 4) == 60 && fz_rd64(mcfg + 44) == cfg.ecam_base);
	}
	const uint8_t *fadt = table(m, fz_rd64(xsdt + 36), "FACP");
	const uint8_t *madt = table(m, fz_rd64(xsdt + 44), "APIC");
	FZ_CHECK(fz_rd32(fadt + 4) == 276);
	const uint8_t *dsdt = table(m, fz_rd64(fadt + 140), "DSDT");
	FZ_CHECK(fz_rd32(fadt + 40) == fz_rd64(fadt + 140)); /* DSDT and X_DSDT agree */

	/* No two tables (nor the RSDP) overlap. */
	const uint8_t *all[5] = {rsdp, xsdt, fadt, madt, dsdt};
	for (int a = 0; a < 5; a++) {
		size_t la = a ? fz_rd32(all[a] + 4) : 36;
		for (int b = a + 1; b < 5; b++) {
			size_t lb = fz_rd32(all[b] + 4);
			FZ_CHECK(all[a] + la <= all[b] || all[b] + lb <= all[a]);
		}
	}

	unsigned lapics = 0;
	const uint8_t *p = madt + 44, *end = madt + fz_rd32(madt + 4);
	while (p < end) {
		FZ_CHECK(p + 2 <= end && p[1] >= 2 && p + p[1] <= end);
		lapics += p[0] == 0;
		p += p[1];
	}
	FZ_CHECK(lapics == ncpus);

	unsigned devices = terms(dsdt + 36, dsdt + fz_rd32(dsdt + 4));
	/* COM1, RTC0, PS2_, the mmio devices, the links, PCI0 and RES0, then
	 * PWRB and GED0 */
	FZ_CHECK(devices == 3 + ndevs + (cfg.ecam_base ? cfg.npci + 2 : 0) + (cfg.ged_gsi ? 2 : 0));
	return 0;
}
