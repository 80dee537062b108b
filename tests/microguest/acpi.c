/* SPDX-License-Identifier: MIT */
/* Micro-guest ACPI: RSDP, root table, SDT validation, \_S5_ and the ACPI
 * power-off. Every table pointer is checked against the 4 GiB identity map
 * before it is read. */
#include "mg.h"

struct mg_acpi mg_acpi_info;

#define RSDP_V1_LEN	20
#define RSDP_V2_LEN	36
#define RSDP_SCAN_START 0xe0000u
#define RSDP_SCAN_END	0x100000u

#define FADT_DSDT	       40
#define FADT_PM1A_CNT_BLK      64
#define FADT_X_DSDT	       140
#define FADT_SLEEP_CONTROL_REG 244
#define GAS_LEN		       12
#define GAS_SPACE_MEM	       0
#define GAS_SPACE_IO	       1

#define SLP_EN_HWR (1u << 5)  /* hardware-reduced sleep control register */
#define SLP_EN_PM1 (1u << 13) /* PM1 control register */

uint8_t mg_sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

int mg_rsdp_check(uint64_t gpa, const char **why)
{
	const uint8_t *p = mg_phys(gpa);
	if (!mg_phys_ok(gpa, RSDP_V2_LEN)) {
		*why = "address out of range";
		return -1;
	}
	if (memcmp(p, "RSD PTR ", 8) != 0) {
		*why = "bad signature";
		return -1;
	}
	if (mg_sum8(p, RSDP_V1_LEN) != 0) {
		*why = "bad checksum";
		return -1;
	}
	if (p[15] >= 2) {
		uint32_t len = mg_rd32(p + 20);
		if (len < RSDP_V2_LEN || len > 4096 || !mg_phys_ok(gpa, len)) {
			*why = "bad length";
			return -1;
		}
		if (mg_sum8(p, len) != 0) {
			*why = "bad extended checksum";
			return -1;
		}
	}
	return 0;
}

uint64_t mg_rsdp_scan(void)
{
	const char *why;
	for (uint64_t a = RSDP_SCAN_START; a + RSDP_V2_LEN <= RSDP_SCAN_END; a += 16)
		if (mg_rsdp_check(a, &why) == 0)
			return a;
	return 0;
}

int mg_sdt_check(uint64_t gpa, const char *sig, const char **why)
{
	const uint8_t *p = mg_phys(gpa);
	uint32_t len;
	if (!mg_phys_ok(gpa, MG_SDT_HDR_LEN)) {
		*why = "address out of range";
		return -1;
	}
	if (sig && memcmp(p, sig, 4) != 0) {
		*why = "bad signature";
		return -1;
	}
	len = mg_rd32(p + 4);
	if (len < MG_SDT_HDR_LEN || len > MG_SDT_MAX_LEN || !mg_phys_ok(gpa, len)) {
		*why = "bad length";
		return -1;
	}
	if (mg_sum8(p, len) != 0) {
		*why = "bad checksum";
		return -1;
	}
	return 0;
}

uint32_t mg_root_count(const struct mg_acpi *a)
{
	uint32_t len = mg_rd32(mg_phys(a->root) + 4);
	return (len - MG_SDT_HDR_LEN) / (a->root_is_xsdt ? 8u : 4u);
}

uint64_t mg_root_entry(const struct mg_acpi *a, uint32_t i)
{
	const uint8_t *e = mg_phys(a->root) + MG_SDT_HDR_LEN;
	return a->root_is_xsdt ? mg_rd64(e + (size_t)i * 8) : mg_rd32(e + (size_t)i * 4);
}

/* Name(\_S5_, Package(n) { SLP_TYPa, ... }):
 * "_S5_" 0x12 PkgLength NumElements then BytePrefix(0x0a) v | ZeroOp | OneOp. */
void mg_find_s5(struct mg_acpi *a)
{
	const uint8_t *d = mg_phys(a->dsdt);
	uint32_t len = mg_rd32(d + 4);
	a->s5_found = false;
	for (uint32_t i = MG_SDT_HDR_LEN; i + 4 <= len; i++) {
		if (memcmp(d + i, "_S5_", 4) != 0)
			continue;
		uint32_t j = i + 4;
		if (j + 1 >= len || d[j] != 0x12)
			continue;
		j += 1 + 1 + (d[j + 1] >> 6); /* PkgLength: lead byte + 0..3 more */
		j += 1;			      /* NumElements */
		if (j >= len)
			continue;
		if (d[j] == 0x0a && j + 1 < len)
			a->s5_slp_typ = d[j + 1];
		else if (d[j] == 0x00 || d[j] == 0x01)
			a->s5_slp_typ = d[j];
		else
			continue;
		a->s5_found = true;
		return;
	}
}

static uint64_t fadt_dsdt(uint64_t fadt)
{
	const uint8_t *f = mg_phys(fadt);
	uint32_t len = mg_rd32(f + 4);
	if (len >= FADT_X_DSDT + 8 && mg_rd64(f + FADT_X_DSDT) != 0)
		return mg_rd64(f + FADT_X_DSDT);
	return len >= FADT_DSDT + 4 ? mg_rd32(f + FADT_DSDT) : 0;
}

void mg_acpi_discover(const struct mg_boot *b, struct mg_acpi *a)
{
	const char *why;
	uint64_t root;
	const uint8_t *r;

	*a = (struct mg_acpi){0};
	a->rsdp = b->rsdp_gpa ? b->rsdp_gpa : mg_rsdp_scan();
	if (!a->rsdp || mg_rsdp_check(a->rsdp, &why) != 0)
		return;
	r = mg_phys(a->rsdp);
	root = r[15] >= 2 ? mg_rd64(r + 24) : 0;
	a->root_is_xsdt = root != 0;
	if (!root)
		root = mg_rd32(r + 16);
	if (mg_sdt_check(root, a->root_is_xsdt ? "XSDT" : "RSDT", &why) != 0)
		return;
	a->root = root;
	for (uint32_t i = 0, n = mg_root_count(a); i < n; i++) {
		uint64_t t = mg_root_entry(a, i);
		if (mg_sdt_check(t, "FACP", &why) == 0) {
			a->fadt = t;
			break;
		}
	}
	if (!a->fadt)
		return;
	uint64_t d = fadt_dsdt(a->fadt);
	if (mg_sdt_check(d, "DSDT", &why) == 0) {
		a->dsdt = d;
		mg_find_s5(a);
	}
}

static void gas_write8(const uint8_t *gas, uint8_t v)
{
	uint64_t addr = mg_rd64(gas + 4);
	if (gas[0] == GAS_SPACE_IO && addr && addr <= 0xffff)
		mg_outb((uint16_t)addr, v);
	else if (gas[0] == GAS_SPACE_MEM && mg_phys_ok(addr, 1))
		*(volatile uint8_t *)(uintptr_t)addr = v;
}

/* Some VMMs act on a power-off write asynchronously (QEMU): give them time
 * before trying the next method. No pause: it may exit to the hypervisor. */
static void settle(void)
{
	for (volatile uint32_t i = 0; i < (1u << 25); i++)
		;
}

_Noreturn void mg_poweroff(void)
{
	const struct mg_acpi *a = &mg_acpi_info;
	/* No \_S5_: try 5, the common choice for hardware-reduced ACPI. */
	uint8_t typ = a->s5_found ? a->s5_slp_typ : 5;

	if (a->fadt) {
		const uint8_t *f = mg_phys(a->fadt);
		uint32_t len = mg_rd32(f + 4);
		if (len >= FADT_SLEEP_CONTROL_REG + GAS_LEN &&
		    mg_rd64(f + FADT_SLEEP_CONTROL_REG + 4) != 0)
			gas_write8(f + FADT_SLEEP_CONTROL_REG,
				   (uint8_t)(((typ & 7u) << 2) | SLP_EN_HWR));
		settle();
		if (len >= FADT_PM1A_CNT_BLK + 4) {
			uint32_t port = mg_rd32(f + FADT_PM1A_CNT_BLK);
			if (port && port <= 0xffff)
				mg_outw((uint16_t)port,
					(uint16_t)(((typ & 7u) << 10) | SLP_EN_PM1));
			settle();
		}
	}
	mg_outb(0x64, 0xfe); /* i8042: pulse reset */
	settle();
	mg_puts("MG FAIL poweroff: still running\n");
	mg_halt();
}
