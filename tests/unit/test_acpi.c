/* SPDX-License-Identifier: MIT */
/* ACPI tables: walked back from guest memory (RSDP -> XSDT -> FADT/MADT ->
 * DSDT) with every checksum and length verified, the DSDT parsed by a small
 * AML reader; plus the AML encoder on its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "boot/aml.h"
#include "boot/boot.h"
#include "fake_mem.h"

static int setup(void **state)
{
	struct fake_mem *f = malloc(sizeof(*f));
	if (!f || fake_mem_init(f, 64 * MiB) < 0)
		return -1;
	memset(f->host[0] + X86_ACPI_ADDR, 0x77, X86_ACPI_END - X86_ACPI_ADDR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_mem_free(*state);
	free(*state);
	return 0;
}

/* ---- a small AML reader, enough for our DSDT -------------------------- */

/* The DSDT's fixed devices before the virtio ones: COM1, RTC0, PS2_. */
#define ISA_DEVS 3

struct dev_info {
	char path[16]; /* "COM1", "V000" */
	char hid[16];  /* string, or "EISA:xxxxxxxx" */
	char cid[16];  /* a string _CID */
	long uid;
	uint8_t crs[64];
	size_t crs_len;
	char method[8]; /* a Method's name, e.g. "_EVT" */
	unsigned method_flags;
	uint8_t body[64]; /* its body */
	size_t body_len;
};

struct reader {
	const uint8_t *p, *end;
	/* COM1, RTC0, PS2_, mmio, VGEN, PWRB, GED0 */
	struct dev_info devs[X86_ACPI_MAX_DEVS + ISA_DEVS + 3];
	unsigned ndevs;
	bool s5;
	uint64_t s5_vals[4];
	struct { /* _PRT entries: Package(4) { address, pin, source, index } */
		uint64_t addr, pin, index;
		char source[32];
	} prt[32];
	unsigned nprt;
};

static size_t pkglen(const uint8_t *p, const uint8_t *end, size_t *len)
{
	assert_true(p < end);
	unsigned n = (p[0] >> 6) + 1;
	assert_true((size_t)(end - p) >= n);
	if (n == 1) {
		*len = p[0] & 0x3f;
		return 1;
	}
	assert_int_equal(p[0] & 0x30, 0);
	size_t v = p[0] & 0xf;
	for (unsigned i = 1; i < n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	*len = v;
	return n;
}

static void namestring(const uint8_t **pp, const uint8_t *end, char *out)
{
	const uint8_t *p = *pp;
	size_t o = 0;
	if (*p == '\\')
		out[o++] = *p++;
	unsigned nseg = 1;
	if (*p == 0x2e) {
		nseg = 2;
		p++;
	} else if (*p == 0x2f) {
		nseg = p[1];
		p += 2;
	}
	assert_true(p + 4 * nseg <= end);
	for (unsigned i = 0; i < nseg; i++) {
		if (i)
			out[o++] = '.';
		memcpy(out + o, p, 4);
		o += 4;
		p += 4;
	}
	out[o] = '\0';
	*pp = p;
}

static uint64_t integer(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	switch (*p) {
	case 0x00:
	case 0x01:
		v = *p;
		p += 1;
		break;
	case 0x0a:
		v = p[1];
		p += 2;
		break;
	case 0x0b:
		v = rd16(p + 1);
		p += 3;
		break;
	case 0x0c:
		v = rd32(p + 1);
		p += 5;
		break;
	case 0x0e:
		v = rd64(p + 1);
		p += 9;
		break;
	default:
		fail_msg("not an integer: 0x%02x", *p);
	}
	assert_true(p <= end);
	*pp = p;
	return v;
}

/* DataRefObject after Name(x, ...): fills the current device. */
static void data_object(struct reader *r, const char *name, struct dev_info *d, const uint8_t **pp,
			const uint8_t *end)
{
	const uint8_t *p = *pp;
	if (*p == 0x0d) { /* string */
		const uint8_t *s = p + 1;
		const uint8_t *z = memchr(s, 0, (size_t)(end - s));
		assert_non_null(z);
		if (d && !strcmp(name, "_HID")) {
			assert_true(z - s < 16);
			memcpy(d->hid, s, (size_t)(z - s) + 1);
		}
		if (d && !strcmp(name, "_CID")) {
			assert_true(z - s < 16);
			memcpy(d->cid, s, (size_t)(z - s) + 1);
		}
		p = z + 1;
	} else if (*p == 0x11) { /* buffer */
		size_t len;
		const uint8_t *start = p + 1;
		p = start + pkglen(start, end, &len);
		const uint8_t *bend = start + len;
		assert_true(bend <= end);
		uint64_t size = integer(&p, bend);
		assert_int_equal(size, (uint64_t)(bend - p));
		if (d && !strcmp(name, "_CRS")) {
			assert_true(size <= sizeof(d->crs));
			memcpy(d->crs, p, size);
			d->crs_len = size;
		}
		p = bend;
	} else if (*p == 0x12) { /* package */
		size_t len;
		const uint8_t *start = p + 1;
		p = start + pkglen(start, end, &len);
		const uint8_t *pend = start + len;
		assert_true(pend <= end);
		unsigned n = *p++;
		for (unsigned i = 0; i < n; i++) {
			if (*p == 0x12 && d && !strcmp(name, "_PRT")) {
				/* a routing entry: integers and the link's name */
				size_t elen;
				const uint8_t *es = p + 1;
				p = es + pkglen(es, pend, &elen);
				const uint8_t *eend = es + elen;
				assert_true(eend <= pend);
				assert_int_equal(*p++, 4);
				assert_true(r->nprt < sizeof(r->prt) / sizeof(r->prt[0]));
				__typeof__(r->prt[0]) *e = &r->prt[r->nprt++];
				e->addr = integer(&p, eend);
				e->pin = integer(&p, eend);
				char src[64];
				namestring(&p, eend, src);
				assert_true(strlen(src) < sizeof(e->source));
				strcpy(e->source, src);
				e->index = integer(&p, eend);
				assert_ptr_equal(p, eend);
				continue;
			}
			uint64_t v = integer(&p, pend);
			if (!d && !strcmp(name, "_S5_") && i < 4)
				r->s5_vals[i] = v;
		}
		assert_ptr_equal(p, pend);
		if (!d && !strcmp(name, "_S5_"))
			r->s5 = true;
	} else if (*p == 0x0c && d && !strcmp(name, "_HID")) {
		snprintf(d->hid, sizeof(d->hid), "EISA:%08x", rd32(p + 1));
		p += 5;
	} else {
		uint64_t v = integer(&p, end);
		if (d && !strcmp(name, "_UID"))
			d->uid = (long)v;
	}
	*pp = p;
}

static void term_list(struct reader *r, struct dev_info *d, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		char name[64];
		if (*p == 0x08) {
			p++;
			namestring(&p, end, name);
			data_object(r, name, d, &p, end);
		} else if (*p == 0x10) {
			size_t len;
			const uint8_t *start = p + 1;
			p = start + pkglen(start, end, &len);
			const uint8_t *send = start + len;
			assert_true(send <= end);
			namestring(&p, send, name);
			assert_string_equal(name, "\\_SB_");
			term_list(r, NULL, p, send);
			p = send;
		} else if (p[0] == 0x5b && p + 1 < end && p[1] == 0x82) {
			size_t len;
			const uint8_t *start = p + 2;
			p = start + pkglen(start, end, &len);
			const uint8_t *dend = start + len;
			assert_true(dend <= end);
			assert_true(r->ndevs < sizeof(r->devs) / sizeof(r->devs[0]));
			struct dev_info *nd = &r->devs[r->ndevs++];
			memset(nd, 0, sizeof(*nd));
			nd->uid = -1;
			namestring(&p, dend, nd->path);
			term_list(r, nd, p, dend);
			p = dend;
		} else if (*p == 0x14 && d) { /* Method, inside a device */
			size_t len;
			const uint8_t *start = p + 1;
			p = start + pkglen(start, end, &len);
			const uint8_t *mend = start + len;
			assert_true(mend <= end);
			namestring(&p, mend, name);
			assert_true(strlen(name) < sizeof(d->method));
			strcpy(d->method, name);
			d->method_flags = *p++;
			assert_true(p <= mend && (size_t)(mend - p) <= sizeof(d->body));
			d->body_len = (size_t)(mend - p);
			memcpy(d->body, p, d->body_len);
			p = mend;
		} else {
			fail_msg("unexpected AML opcode 0x%02x", *p);
		}
	}
	assert_ptr_equal(p, end);
}

/* ---- table walking ---------------------------------------------------- */

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *mcfg;
};

static const uint8_t *table_at(struct fake_mem *f, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= X86_ACPI_ADDR && gpa + 36 <= X86_ACPI_END);
	assert_int_equal(gpa % 16, 0);
	const uint8_t *t = fake_at(f, gpa, 36);
	assert_memory_equal(t, sig, 4);
	uint32_t len = rd32(t + 4);
	assert_true(len >= 36);
	assert_true(gpa + len <= X86_ACPI_END);
	t = fake_at(f, gpa, len);
	assert_int_equal(sum8(t, len), 0);
	assert_memory_equal(t + 10, "CVMM  ", 6);
	return t;
}

static void walk(struct fake_mem *f, uint64_t rsdp_gpa, struct tables *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(rsdp_gpa, X86_ACPI_ADDR);
	t->rsdp = fake_at(f, rsdp_gpa, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(t->rsdp, 20), 0);
	assert_int_equal(sum8(t->rsdp, 36), 0);
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(rd32(t->rsdp + 20), 36);
	t->xsdt = table_at(f, rd64(t->rsdp + 24), "XSDT");
	uint32_t n = (rd32(t->xsdt + 4) - 36) / 8;
	assert_int_equal((rd32(t->xsdt + 4) - 36) % 8, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = rd64(t->xsdt + 36 + 8 * i);
		const uint8_t *h = fake_at(f, gpa, 4);
		assert_non_null(h);
		if (!memcmp(h, "FACP", 4))
			t->fadt = table_at(f, gpa, "FACP");
		else if (!memcmp(h, "APIC", 4))
			t->madt = table_at(f, gpa, "APIC");
		else if (!memcmp(h, "MCFG", 4))
			t->mcfg = table_at(f, gpa, "MCFG");
		else
			fail_msg("unexpected table %.4s", (const char *)h);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	uint64_t x_dsdt = rd64(t->fadt + 140);
	assert_int_equal(rd32(t->fadt + 40), x_dsdt);
	t->dsdt = table_at(f, x_dsdt, "DSDT");
}

static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1); /* system I/O */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1); /* byte access */
	assert_int_equal(rd64(g + 4), port);
}

static void check_fadt(const uint8_t *fadt)
{
	assert_int_equal(rd32(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	uint32_t flags = rd32(fadt + 112);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	check_gas_io8(fadt + 116, X86_PORT_ACPI_RESET);
	assert_int_equal(fadt[128], X86_ACPI_RESET_VALUE);
	check_gas_io8(fadt + 244, X86_PORT_ACPI_SLEEP_CTL);
	check_gas_io8(fadt + 256, X86_PORT_ACPI_SLEEP_STS);
	assert_memory_equal(fadt + 268, "CVMMCVMM", 8);
	uint16_t iapc = rd16(fadt + 109);
	assert_true(iapc & (1u << 2));	      /* VGA not present */
	assert_false(iapc & (1u << 5));	      /* the CMOS RTC is there */
	assert_int_equal(rd16(fadt + 46), 0); /* no SCI */
}

static void check_madt(const uint8_t *madt, unsigned ncpus)
{
	uint32_t len = rd32(madt + 4);
	assert_int_equal(rd32(madt + 36), X86_LAPIC_ADDR);
	assert_int_equal(rd32(madt + 40), 1);
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	const uint8_t *p = madt + 44, *end = madt + len;
	while (p < end) {
		assert_true(p + 2 <= end);
		assert_true(p[1] >= 2 && p + p[1] <= end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], 8);
			assert_int_equal(p[3], lapics);
			assert_int_equal(rd32(p + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(p[1], 12);
			assert_int_equal(p[2], ncpus);
			assert_int_equal(rd32(p + 4), X86_IOAPIC_ADDR);
			assert_int_equal(rd32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(p[1], 10);
			assert_int_equal(p[3], 0);
			assert_int_equal(rd32(p + 4), 2);
			isos++;
			break;
		case 4:
			assert_int_equal(p[1], 6);
			assert_int_equal(p[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry %u", p[0]);
		}
		p += p[1];
	}
	assert_ptr_equal(p, end);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	assert_int_equal(nmis, 1);
}

/* An _EVT body: If (LEqual (Arg0, gsi)) { Notify (target, value) }, ... */
struct evt {
	uint64_t gsi;
	char target[32];
	uint64_t value;
};

static unsigned evt_decode(const struct dev_info *g, struct evt *ev, unsigned max)
{
	const uint8_t *p = g->body, *end = g->body + g->body_len;
	unsigned n = 0;
	while (p < end) {
		assert_int_equal(*p, 0xa0); /* IfOp */
		size_t len;
		const uint8_t *start = p + 1;
		p = start + pkglen(start, end, &len);
		const uint8_t *iend = start + len;
		assert_true(iend <= end);
		assert_true(n < max);
		assert_int_equal(*p++, 0x93); /* LEqualOp */
		assert_int_equal(*p++, 0x68); /* Arg0Op */
		ev[n].gsi = integer(&p, iend);
		assert_int_equal(*p++, 0x86); /* NotifyOp */
		char path[64];
		namestring(&p, iend, path);
		assert_true(strlen(path) < sizeof(ev[n].target));
		strcpy(ev[n].target, path);
		ev[n].value = integer(&p, iend);
		assert_ptr_equal(p, iend);
		n++;
	}
	return n;
}

/* VGEN as Linux's vmgenid driver reads it: _HID VMGENCTR, and ADDR a
 * method (no arguments) returning Package {low 32 bits, high 32 bits} of
 * the ID's address. */
static void check_vmgenid(const struct dev_info *d, uint64_t gpa)
{
	assert_string_equal(d->path, "VGEN");
	assert_string_equal(d->hid, "VMGENCTR");
	assert_string_equal(d->cid, "VM_Gen_Counter");
	assert_string_equal(d->method, "ADDR");
	assert_int_equal(d->method_flags, 0);
	const uint8_t *p = d->body, *end = d->body + d->body_len;
	assert_true(p + 2 < end);
	assert_int_equal(*p++, 0xa4); /* ReturnOp */
	assert_int_equal(*p++, 0x12); /* PackageOp */
	size_t len;
	const uint8_t *start = p;
	p = start + pkglen(start, end, &len);
	assert_ptr_equal(start + len, end);
	assert_int_equal(*p++, 2);
	uint64_t lo = integer(&p, end), hi = integer(&p, end);
	assert_ptr_equal(p, end);
	assert_true(lo <= 0xffffffffu && hi <= 0xffffffffu);
	assert_int_equal(lo | hi << 32, gpa);
}

static struct reader *check_dsdt(const uint8_t *dsdt, const struct x86_acpi_cfg *cfg)
{
	uint32_t len = rd32(dsdt + 4);
	assert_int_equal(dsdt[8], 2);
	assert_non_null(memmem(dsdt, len, "_S5_", 4));
	for (unsigned i = 0; i < cfg->ndevs; i++)
		assert_non_null(memmem(dsdt, len, cfg->devs[i].hid, strlen(cfg->devs[i].hid)));

	struct reader *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	term_list(r, NULL, dsdt + 36, dsdt + len);
	assert_true(r->s5);
	assert_int_equal(r->s5_vals[0], X86_ACPI_S5_SLP_TYP);
	assert_int_equal(r->ndevs, ISA_DEVS + cfg->ndevs + (cfg->vmgenid_gpa ? 1 : 0) +
					   (cfg->ged_gsi ? 2 : 0));

	struct dev_info *com = &r->devs[0];
	assert_string_equal(com->path, "COM1");
	assert_string_equal(com->hid, "EISA:0105d041"); /* PNP0501 */
	assert_int_equal(com->uid, 0);
	const uint8_t com_crs[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01,
				   0x08, 0x22, 0x10, 0x00, 0x79, 0x00};
	assert_int_equal(com->crs_len, sizeof(com_crs));
	assert_memory_equal(com->crs, com_crs, sizeof(com_crs));

	struct dev_info *rtc = &r->devs[1];
	assert_string_equal(rtc->path, "RTC0");
	assert_string_equal(rtc->hid, "EISA:000bd041"); /* PNP0B00 */
	const uint8_t rtc_crs[] = {0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01,
				   0x02, 0x22, 0x00, 0x01, 0x79, 0x00};
	assert_int_equal(rtc->crs_len, sizeof(rtc_crs));
	assert_memory_equal(rtc->crs, rtc_crs, sizeof(rtc_crs));

	/* the i8042: its two ports and IRQ 1, as Firecracker describes it */
	struct dev_info *kbd = &r->devs[2];
	assert_string_equal(kbd->path, "PS2_");
	assert_string_equal(kbd->hid, "EISA:0303d041"); /* PNP0303 */
	const uint8_t kbd_crs[] = {0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01, 0x64,
				   0x00, 0x64, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00, 0x79, 0x00};
	assert_int_equal(kbd->crs_len, sizeof(kbd_crs));
	assert_memory_equal(kbd->crs, kbd_crs, sizeof(kbd_crs));

	for (unsigned i = 0; i < cfg->ndevs; i++) {
		const struct acpi_mmio_dev *in = &cfg->devs[i];
		struct dev_info *d = &r->devs[ISA_DEVS + i];
		char name[8];
		snprintf(name, sizeof(name), "V%03u", i % 1000);
		assert_string_equal(d->path, name);
		assert_string_equal(d->hid, in->hid);
		assert_int_equal(d->uid, i);
		assert_int_equal(d->crs_len, 12 + 9 + 2);
		const uint8_t *c = d->crs;
		assert_int_equal(c[0], 0x86);
		assert_int_equal(rd16(c + 1), 9);
		assert_int_equal(c[3], 1);
		assert_int_equal(rd32(c + 4), in->base);
		assert_int_equal(rd32(c + 8), in->size);
		assert_int_equal(c[12], 0x89);
		assert_int_equal(rd16(c + 13), 6);
		assert_int_equal(c[15], 0x03); /* consumer, edge, high, exclusive */
		assert_int_equal(c[16], 1);
		assert_int_equal(rd32(c + 17), in->gsi);
		assert_int_equal(c[21], 0x79);
	}
	struct dev_info *next = &r->devs[ISA_DEVS + cfg->ndevs];
	if (cfg->vmgenid_gpa)
		check_vmgenid(next++, cfg->vmgenid_gpa);
	if (cfg->ged_gsi) {
		struct dev_info *b = next, *g = b + 1;
		assert_string_equal(b->path, "PWRB");
		assert_string_equal(b->hid, "EISA:0c0cd041"); /* PNP0C0C */
		assert_string_equal(g->path, "GED0");
		assert_string_equal(g->hid, "ACPI0013");
		/* one Interrupt per event: the power button's, the ID's */
		unsigned nirq = cfg->vmgenid_gsi ? 2 : 1;
		assert_int_equal(g->crs_len, 9 * nirq + 2);
		const uint32_t gsis[2] = {cfg->ged_gsi, cfg->vmgenid_gsi};
		for (unsigned i = 0; i < nirq; i++) {
			const uint8_t irq[] = {0x89, 6, 0, 0x03, 1, (uint8_t)gsis[i], 0, 0, 0};
			assert_memory_equal(g->crs + 9 * i, irq, sizeof(irq));
		}
		assert_memory_equal(g->crs + 9 * nirq, "\x79\x00", 2);
		assert_string_equal(g->method, "_EVT");
		assert_int_equal(g->method_flags, 1); /* one argument: the GSI */
		/* If (LEqual (Arg0, GSI)) { Notify (DEV, 0x80) }, per GSI */
		struct evt ev[4];
		unsigned n = evt_decode(g, ev, 4);
		assert_int_equal(n, nirq);
		assert_int_equal(ev[0].gsi, cfg->ged_gsi);
		assert_string_equal(ev[0].target, "\\_SB_.PWRB");
		assert_int_equal(ev[0].value, 0x80);
		if (cfg->vmgenid_gsi) {
			assert_int_equal(ev[1].gsi, cfg->vmgenid_gsi);
			assert_string_equal(ev[1].target, "\\_SB_.VGEN");
			assert_int_equal(ev[1].value, 0x80);
		}
	}
	return r;
}

static void build_devs(struct acpi_mmio_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		devs[i] = (struct acpi_mmio_dev){
			.hid = "LNRO0005",
			.base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE,
			.size = X86_VIRTIO_MMIO_SIZE,
			.gsi = X86_VIRTIO_IRQ_BASE + i,
		};
}

static void run(struct fake_mem *f, unsigned ncpus, unsigned ndevs)
{
	struct acpi_mmio_dev *devs = calloc(ndevs + 1, sizeof(*devs));
	assert_non_null(devs);
	build_devs(devs, ndevs);
	struct x86_acpi_cfg cfg = {.ncpus = ncpus, .devs = devs, .ndevs = ndevs};
	uint64_t rsdp = 0;
	struct err e;
	err_clear(&e);
	int r = x86_acpi_write(&f->m, &cfg, &rsdp, &e);
	if (r < 0)
		print_error("%s\n", e.msg);
	assert_int_equal(r, 0);
	struct tables t;
	walk(f, rsdp, &t);
	check_fadt(t.fadt);
	check_madt(t.madt, ncpus);
	free(check_dsdt(t.dsdt, &cfg));
	free(devs);
}

/* The PCI host bridge: MCFG, PCI0 with its windows and _PRT, one link
 * device per slot (edge, active high), the ECAM reserved by RES0. */
static void test_pci(void **state)
{
	struct fake_mem *f = *state;
	struct acpi_mmio_dev devs[1];
	build_devs(devs, 1);
	const struct acpi_pci_dev pdevs[3] = {{1, 5}, {2, 6}, {3, 7}};
	struct x86_acpi_cfg cfg = {.ncpus = 2,
				   .devs = devs,
				   .ndevs = 1,
				   .ecam_base = X86_PCI_ECAM_BASE,
				   .pci_mem_base = (uint32_t)X86_PCI_MEM_BASE,
				   .pci_mem_size = X86_PCI_MEM_SIZE,
				   .pci_devs = pdevs,
				   .npci = 3};
	uint64_t rsdp = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	struct tables t;
	walk(f, rsdp, &t);
	assert_non_null(t.mcfg);
	assert_int_equal(rd32(t.mcfg + 4), 36 + 8 + 16);
	assert_int_equal(rd64(t.mcfg + 44), X86_PCI_ECAM_BASE);
	assert_int_equal(rd16(t.mcfg + 52), 0); /* segment */
	assert_int_equal(t.mcfg[54], 0);	/* buses 0..0 */
	assert_int_equal(t.mcfg[55], 0);

	uint32_t len = rd32(t.dsdt + 4);
	struct reader *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	term_list(r, NULL, t.dsdt + 36, t.dsdt + len);
	/* COM1, RTC0, PS2_, V000, LK00..LK02, PCI0, RES0 */
	assert_int_equal(r->ndevs, ISA_DEVS + 1 + 3 + 2);
	for (unsigned i = 0; i < 3; i++) {
		struct dev_info *l = &r->devs[ISA_DEVS + 1 + i];
		char name[8];
		snprintf(name, sizeof(name), "LK%02u", i);
		assert_string_equal(l->path, name);
		assert_string_equal(l->hid, "EISA:0f0cd041"); /* PNP0C0F */
		assert_int_equal(l->uid, i);
		const uint8_t crs[] = {0x89, 6, 0, 0x03, 1, (uint8_t)pdevs[i].gsi,
				       0,    0, 0, 0x79, 0};
		assert_int_equal(l->crs_len, sizeof(crs));
		assert_memory_equal(l->crs, crs, sizeof(crs));
	}
	struct dev_info *pci = &r->devs[ISA_DEVS + 4];
	assert_string_equal(pci->path, "PCI0");
	assert_string_equal(pci->hid, "EISA:080ad041"); /* PNP0A08 */
	const uint8_t *c = pci->crs;
	assert_int_equal(pci->crs_len, 16 + 8 + 26 + 2);
	assert_int_equal(c[0], 0x88); /* bus numbers 0..0 */
	assert_int_equal(c[3], 2);
	assert_int_equal(rd16(c + 8), 0);
	assert_int_equal(rd16(c + 10), 0);
	assert_int_equal(rd16(c + 14), 1);
	assert_int_equal(c[16], 0x47); /* the configuration ports */
	assert_int_equal(rd16(c + 18), 0xcf8);
	assert_int_equal(c[23], 8);
	assert_int_equal(c[24], 0x87); /* the BAR window */
	assert_int_equal(c[27], 0);
	assert_int_equal(rd32(c + 34), X86_PCI_MEM_BASE);
	assert_int_equal(rd32(c + 38), X86_PCI_MEM_BASE + X86_PCI_MEM_SIZE - 1);
	assert_int_equal(rd32(c + 46), X86_PCI_MEM_SIZE);
	assert_int_equal(c[50], 0x79);
	assert_int_equal(r->nprt, 3);
	for (unsigned i = 0; i < 3; i++) {
		char src[32];
		snprintf(src, sizeof(src), "\\_SB_.LK%02u", i);
		assert_int_equal(r->prt[i].addr, ((uint64_t)pdevs[i].slot << 16) | 0xffff);
		assert_int_equal(r->prt[i].pin, 0);
		assert_string_equal(r->prt[i].source, src);
		assert_int_equal(r->prt[i].index, 0);
	}
	struct dev_info *res = &r->devs[ISA_DEVS + 5];
	assert_string_equal(res->path, "RES0");
	assert_string_equal(res->hid, "EISA:020cd041"); /* PNP0C02 */
	assert_int_equal(rd32(res->crs + 4), X86_PCI_ECAM_BASE);
	assert_int_equal(rd32(res->crs + 8), X86_PCI_ECAM_SIZE);
	free(r);

	/* bad PCI configurations */
	struct x86_acpi_cfg bad = cfg;
	bad.ecam_base = X86_PCI_ECAM_BASE + 4096;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad = cfg;
	const struct acpi_pci_dev slot0[1] = {{0, 5}};
	bad.pci_devs = slot0;
	bad.npci = 1;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad = cfg;
	bad.ecam_base = 0;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad = cfg;
	bad.npci = 32;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
}

static void test_cpus(void **state)
{
	run(*state, 1, 0);
	run(*state, 2, 1);
	run(*state, 8, 4);
	run(*state, X86_ACPI_MAX_CPUS, X86_VIRTIO_MMIO_MAX);
}

/* The power button: GED0's interrupt runs _EVT, which notifies PWRB. */
static void test_power_button(void **state)
{
	struct fake_mem *f = *state;
	struct acpi_mmio_dev devs[3];
	build_devs(devs, 3);
	struct x86_acpi_cfg cfg = {.ncpus = 2, .devs = devs, .ndevs = 3, .ged_gsi = 23};
	uint64_t rsdp = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	struct tables t;
	walk(f, rsdp, &t);
	free(check_dsdt(t.dsdt, &cfg));
}

/* The VM Generation ID: VGEN with ADDR in the DSDT, its notification a
 * second GSI of GED0 whose _EVT tells the two events apart; the ID's bytes
 * in memory the e820 map reserves, outside the tables; what the arch
 * uses (layout.h) is such memory. */
static void test_vmgenid(void **state)
{
	struct fake_mem *f = *state;
	struct acpi_mmio_dev devs[2];
	build_devs(devs, 2);
	struct x86_acpi_cfg cfg = {.ncpus = 2,
				   .devs = devs,
				   .ndevs = 2,
				   .ged_gsi = X86_GED_GSI,
				   .vmgenid_gpa = X86_VMGENID_ADDR,
				   .vmgenid_gsi = X86_VMGENID_GSI};
	uint64_t rsdp = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	struct tables t;
	walk(f, rsdp, &t);
	free(check_dsdt(t.dsdt, &cfg));

	/* the layout's address: e820-reserved, not the tables', not on a
	 * 2 KiB boundary (Linux's option ROM scan), inside one page */
	struct e820_entry map[8];
	unsigned n = 0;
	assert_int_equal(x86_e820_build(64 * MiB, map, 8, &n, &e), 0);
	bool reserved = false;
	for (unsigned i = 0; i < n; i++) {
		if (X86_VMGENID_ADDR + X86_VMGENID_SIZE <= map[i].addr ||
		    X86_VMGENID_ADDR >= map[i].addr + map[i].size)
			continue;
		assert_int_equal(map[i].type, E820_RESERVED);
		assert_true(X86_VMGENID_ADDR + X86_VMGENID_SIZE <= map[i].addr + map[i].size);
		reserved = true;
	}
	assert_true(reserved);
	assert_true(X86_VMGENID_ADDR + X86_VMGENID_SIZE <= X86_ACPI_ADDR);
	assert_true(X86_VMGENID_ADDR % 2048 != 0);
	assert_int_equal(X86_VMGENID_ADDR / 4096, (X86_VMGENID_ADDR + X86_VMGENID_SIZE - 1) / 4096);
	assert_int_not_equal(X86_VMGENID_GSI, X86_GED_GSI);

	/* an address above 4 GiB: both halves */
	cfg.vmgenid_gpa = 0x123456788ULL;
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	walk(f, rsdp, &t);
	free(check_dsdt(t.dsdt, &cfg));
	/* the ID without its notification: VGEN, and GED0 for the button only */
	cfg.vmgenid_gsi = 0;
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	walk(f, rsdp, &t);
	free(check_dsdt(t.dsdt, &cfg));

	/* refused: misaligned, in the tables, a GSI without the GED or on its */
	struct x86_acpi_cfg bad = cfg;
	bad.vmgenid_gpa = X86_VMGENID_ADDR + 4;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad.vmgenid_gpa = X86_ACPI_ADDR + 0x100;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad.vmgenid_gpa = X86_ACPI_ADDR - 8;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad.vmgenid_gpa = UINT64_MAX - 7;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad = cfg;
	bad.vmgenid_gsi = X86_VMGENID_GSI;
	bad.ged_gsi = 0;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad.ged_gsi = X86_VMGENID_GSI;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
	bad = cfg;
	bad.vmgenid_gpa = 0;
	bad.vmgenid_gsi = X86_VMGENID_GSI;
	assert_int_equal(x86_acpi_write(&f->m, &bad, &rsdp, &e), -EINVAL);
}

static void test_many_devices(void **state)
{
	run(*state, 4, X86_ACPI_MAX_DEVS);
}

static void test_other_hids(void **state)
{
	struct fake_mem *f = *state;
	struct acpi_mmio_dev devs[2] = {
		{.hid = "PNP0C0F", .base = 0xfed00000, .size = 0x400, .gsi = 23},
		{.hid = "ACPI0007", .base = 0xffff0000, .size = 0x10000, .gsi = 0},
	};
	struct x86_acpi_cfg cfg = {.ncpus = 3, .devs = devs, .ndevs = 2};
	uint64_t rsdp = 0;
	struct err e;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);
	struct tables t;
	walk(f, rsdp, &t);
	free(check_dsdt(t.dsdt, &cfg));
}

static void test_errors(void **state)
{
	struct fake_mem *f = *state;
	struct acpi_mmio_dev dev = {
		.hid = "LNRO0005", .base = 0xd0000000, .size = 0x1000, .gsi = 5};
	struct x86_acpi_cfg cfg = {.ncpus = 0, .devs = &dev, .ndevs = 1};
	uint64_t rsdp = 0;
	struct err e;

	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	cfg.ncpus = X86_ACPI_MAX_CPUS + 1;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "vCPUs"));
	cfg.ncpus = 1;

	const char *bad_hids[] = {"lnro0005", "LNRO00051", "LNR", "LNRO-005", ""};
	for (unsigned i = 0; i < sizeof(bad_hids) / sizeof(bad_hids[0]); i++) {
		dev.hid = bad_hids[i];
		err_clear(&e);
		assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	}
	dev.hid = NULL;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	dev.hid = "LNRO0005";

	dev.base = 0x100000000ULL;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	dev.base = 0xfffff000;
	dev.size = 0x2000;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	dev.size = 0;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	dev.base = 0xfffff000;
	dev.size = 0x1000; /* ends exactly at 4 GiB: fine */
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), 0);

	cfg.ndevs = X86_ACPI_MAX_DEVS + 1;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);
	cfg.ndevs = 1;
	cfg.devs = NULL;
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&f->m, &cfg, &rsdp, &e), -EINVAL);

	/* No RAM under the table area. */
	struct fake_mem small;
	assert_int_equal(fake_mem_init(&small, 0x90000), 0);
	cfg = (struct x86_acpi_cfg){.ncpus = 1};
	err_clear(&e);
	assert_int_equal(x86_acpi_write(&small.m, &cfg, &rsdp, &e), -EFAULT);
	fake_mem_free(&small);
}

/* ---- the AML encoder on its own --------------------------------------- */

static void test_aml_pkglen(void **state)
{
	(void)state;
	uint8_t out[4];
	size_t len;
	size_t bodies[] = {0,	  1,	  61,	   62,	    63,	      100,	 0xffd,
			   0xffe, 0x1000, 0xffffc, 0xffffd, 0x100000, 0xffffffb, 0xffffffc};
	unsigned expect[] = {1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 0};
	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		unsigned n = aml_pkglen_encode(bodies[i], out);
		assert_int_equal(n, expect[i]);
		if (n == 0)
			continue;
		assert_int_equal(pkglen(out, out + 4, &len), n);
		assert_int_equal(len, bodies[i] + n);
	}
}

static void test_aml_buffers(void **state)
{
	(void)state;
	size_t cap = 2 * 1024 * 1024;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	size_t sizes[] = {0, 5, 58, 59, 60, 300, 5000, 70000, 1100000};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct aml a;
		aml_init(&a, buf, cap);
		aml_name(&a, "BUF_");
		size_t m = aml_buffer_begin(&a);
		for (size_t j = 0; j < sizes[i]; j++)
			aml_byte(&a, (uint8_t)j);
		aml_buffer_end(&a, m);
		assert_true(aml_ok(&a));
		struct reader *r = calloc(1, sizeof(*r));
		assert_non_null(r);
		struct dev_info d;
		memset(&d, 0, sizeof(d));
		/* Parse as a Name inside a pseudo-device: checks the lengths. */
		term_list(r, &d, buf, buf + a.len);
		free(r);
	}
	free(buf);
}

static void test_aml_names(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB_.COM1");
	const uint8_t dual[] = {'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'};
	assert_true(aml_ok(&a));
	assert_int_equal(a.len, sizeof(dual));
	assert_memory_equal(buf, dual, sizeof(dual));

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB.PCI0.S08");
	const uint8_t multi[] = {'\\', 0x2f, 3,	  '_', 'S', 'B', '_', 'P',
				 'C',  'I',  '0', 'S', '0', '8', '_'};
	assert_true(aml_ok(&a));
	assert_memory_equal(buf, multi, sizeof(multi));

	const char *bad[] = {"abcd", "TOOLONG", "A..B", "1ABC", "ABC.", ""};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad[i]);
		if (bad[i][0])
			assert_false(aml_ok(&a));
	}

	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0501");
	const uint8_t eisa[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	assert_memory_equal(buf, eisa, sizeof(eisa));
	aml_eisaid(&a, "PNP05G1");
	assert_false(aml_ok(&a));

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x123456789ULL);
	const uint8_t ints[] = {0x00, 0x01, 0x0a, 0x02, 0x0b, 0x34, 0x12, 0x0c, 0x78, 0x56, 0x34,
				0x12, 0x0e, 0x89, 0x67, 0x45, 0x23, 0x01, 0,	0,    0};
	assert_int_equal(a.len, sizeof(ints));
	assert_memory_equal(buf, ints, sizeof(ints));
}

static void test_aml_overflow(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	size_t m = aml_scope_begin(&a, "\\_SB_");
	aml_name(&a, "_HID");
	aml_string(&a, "LNRO0005");
	aml_end(&a, m);
	assert_false(aml_ok(&a));
	assert_true(a.overflow);
	assert_true(a.len <= sizeof(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_button, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmgenid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_hids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test(test_aml_pkglen),
		cmocka_unit_test(test_aml_buffers),
		cmocka_unit_test(test_aml_names),
		cmocka_unit_test(test_aml_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
