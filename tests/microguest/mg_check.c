/* SPDX-License-Identifier: MIT */
/* mg-check: checks what the VMM handed over (boot info, command line,
 * memory map, initrd, ACPI tables), reports one line per check on COM1 and
 * powers off through ACPI. See README.md for keys and output. */
#include "mg.h"

#define MIB	 (1ull << 20)
#define E820_RAM 1

/* Report and leave the check. */
#define PASS(name)                                                                                 \
	do {                                                                                       \
		mg_pass(name);                                                                     \
		return;                                                                            \
	} while (0)
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		mg_fail(__VA_ARGS__);                                                              \
		return;                                                                            \
	} while (0)

struct expect {
	bool cpus_set, mem_set, initrd_set, echo, boot_timer;
	int pit; /* mg.pit: 0 none, 1 its first access a write, 2 a read */
	int end; /* mg.end: 0 power off, 1 crash (triple fault), 2 i8042 reset,
		  * 3 mmio (run code from the MMIO hole: KVM cannot emulate it) */
	uint64_t cpus, mem, initrd;
};

static void check_args(const struct mg_boot *b, struct expect *x)
{
	const char *p = b->cmdline, *end;
	struct mg_tok t;
	bool bad = false;

	if (!p)
		PASS("args");
	end = p + b->cmdline_len;
	while (mg_cmdline_next(&p, end, &t)) {
		uint64_t v = 0;
		bool ok;
		if (t.key_len < 3 || memcmp(t.key, "mg.", 3) != 0)
			continue; /* not ours */
		if (!t.val) {
			ok = false;
		} else if (mg_tok_is(&t, "mg.cpus")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &v) && v > 0;
			x->cpus_set = ok;
			x->cpus = v;
		} else if (mg_tok_is(&t, "mg.mem")) {
			ok = mg_parse_u64(t.val, t.val_len, true, &v) && v >= MIB;
			x->mem_set = ok;
			x->mem = v;
		} else if (mg_tok_is(&t, "mg.initrd")) {
			ok = mg_parse_u64(t.val, t.val_len, true, &v);
			x->initrd_set = ok;
			x->initrd = v;
		} else if (mg_tok_is(&t, "mg.end")) {
			ok = t.val_len == 5 && !memcmp(t.val, "crash", 5);
			if (ok)
				x->end = 1;
			else if ((ok = t.val_len == 5 && !memcmp(t.val, "reset", 5)))
				x->end = 2;
			else if ((ok = t.val_len == 4 && !memcmp(t.val, "mmio", 4)))
				x->end = 3;
		} else if (mg_tok_is(&t, "mg.boottimer")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &v) && v <= 1;
			x->boot_timer = ok && v == 1;
		} else if (mg_tok_is(&t, "mg.pit")) {
			ok = t.val_len == 3 && !memcmp(t.val, "out", 3);
			if (ok)
				x->pit = 1;
			else if ((ok = t.val_len == 2 && !memcmp(t.val, "in", 2)))
				x->pit = 2;
		} else if (mg_tok_is(&t, "mg.echo")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &v) && v <= 1;
			x->echo = ok && v == 1;
		} else {
			ok = false;
		}
		if (!ok && !bad) {
			bad = true;
			/* quote at most 32 bytes of the offending token */
			char tok[33];
			size_t n = t.key_len + (t.val ? 1 + t.val_len : 0);
			if (n > sizeof(tok) - 1)
				n = sizeof(tok) - 1;
			memcpy(tok, t.key, n);
			tok[n] = '\0';
			mg_fail("args", "bad token '%s'", tok);
		}
	}
	if (!bad)
		mg_pass("args");
}

/* The i8254 PIT: the guest's very first access to its ports (the VMM may
 * make the PIT only then) must reach a working PIT. mode 2: that access is
 * a read of port 0x61 (channel 2's gate and output; a port without a
 * device reads 0xff, the PIT's has bits 6-7 clear). Then channel 0 is
 * programmed (lobyte/hibyte, mode 2, count 0xffff), its status read back
 * (the control word must be there: in mode 1 that write was the first
 * access) and its count latched twice: it must move. */
static uint16_t pit_latch(void)
{
	mg_outb(0x43, 0x00); /* counter latch, channel 0 */
	uint8_t lo = mg_inb(0x40);
	return (uint16_t)(lo | mg_inb(0x40) << 8);
}

static void check_pit(int mode)
{
	if (mode == 2) {
		uint8_t v = mg_inb(0x61);
		if (v & 0xc0)
			FAIL("pit", "first read of port 0x61 gave 0x%x: no PIT answered", v);
	}
	mg_outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
	mg_outb(0x40, 0xff);
	mg_outb(0x40, 0xff);
	mg_outb(0x43, 0xe2); /* read-back: status of channel 0 only */
	uint8_t st = mg_inb(0x40);
	if ((st & 0x3f) != 0x34)
		FAIL("pit", "channel 0 status 0x%x, want the control word 0x34 in bits 0-5", st);
	uint16_t a = pit_latch(), b = a;
	for (unsigned i = 0; i < 1000000 && b == a; i++) {
		__asm__ volatile("pause");
		if (i % 1000 == 999)
			b = pit_latch();
	}
	if (a == b)
		FAIL("pit", "channel 0 stands at 0x%x", a);
	mg_outb(0x43, 0x30); /* channel 0 back to mode 0, no count: stopped */
	PASS("pit");
}

static void check_bootinfo(const struct mg_boot *b)
{
	if (b->info_ok)
		PASS("bootinfo");
	mg_fail("bootinfo", "%s (entry %u, info 0x%llx)", b->info_err, b->kind,
		(unsigned long long)b->info);
}

static void check_cmdline(const struct mg_boot *b)
{
	if (!b->cmdline_gpa)
		FAIL("cmdline", "none given");
	if (!b->cmdline)
		FAIL("cmdline", "address 0x%llx out of range", (unsigned long long)b->cmdline_gpa);
	if (!b->cmdline_terminated)
		FAIL("cmdline", "no NUL within %u bytes", MG_CMDLINE_MAX);
	mg_pass("cmdline");
}

static bool range_in_ram(const struct mg_boot *b, uint64_t addr, uint64_t size)
{
	for (uint32_t i = 0; i < b->nmap; i++) {
		const struct mg_mem_range *r = &b->map[i];
		if (r->type == E820_RAM && addr >= r->addr && addr - r->addr <= r->size &&
		    size <= r->size - (addr - r->addr))
			return true;
	}
	return false;
}

static void check_memmap(const struct mg_boot *b)
{
	extern const char __image_start[], __init_end[];
	uint64_t img = (uint64_t)(uintptr_t)__image_start;
	uint64_t img_len = (uint64_t)(uintptr_t)__init_end - img;

	if (!b->info_ok)
		FAIL("memmap", "no boot info");
	if (!b->have_memmap)
		FAIL("memmap", "none (start_info version 0)");
	if (b->nmap == 0)
		FAIL("memmap", "empty");
	if (b->memmap_entries > MG_MEMMAP_MAX)
		FAIL("memmap", "%u entries, more than %u", b->memmap_entries, MG_MEMMAP_MAX);
	/* Entries of size 0 are ignored, as Linux does (QEMU's qboot appends one). */
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < b->nmap; i++) {
		const struct mg_mem_range *r = &b->map[i];
		if (r->size == 0)
			continue;
		if (r->size > UINT64_MAX - r->addr)
			FAIL("memmap", "entry %u: 0x%llx+0x%llx wraps", i,
			     (unsigned long long)r->addr, (unsigned long long)r->size);
		if (r->addr < prev_end)
			FAIL("memmap", "entry %u at 0x%llx unsorted or overlapping", i,
			     (unsigned long long)r->addr);
		prev_end = r->addr + r->size;
	}
	if (!range_in_ram(b, img, img_len))
		FAIL("memmap", "no RAM at 0x%llx (+0x%llx)", (unsigned long long)img,
		     (unsigned long long)img_len);
	mg_pass("memmap");
}

static void check_mem(const struct mg_boot *b, const struct expect *x)
{
	uint64_t ram = 0;
	for (uint32_t i = 0; i < b->nmap; i++)
		if (b->map[i].type == E820_RAM)
			ram += b->map[i].size;
	if (ram > x->mem || ram < x->mem - MIB)
		FAIL("mem", "ram=%llu expected=%llu", (unsigned long long)ram,
		     (unsigned long long)x->mem);
	mg_pass("mem");
}

static void check_initrd(const struct mg_boot *b, const struct expect *x)
{
	if (x->initrd == 0) {
		if (b->have_initrd && b->initrd_size)
			FAIL("initrd", "got %llu bytes, expected none",
			     (unsigned long long)b->initrd_size);
		PASS("initrd");
	}
	if (!b->have_initrd)
		FAIL("initrd", "none given");
	if (b->initrd_size != x->initrd)
		FAIL("initrd", "size=%llu expected=%llu", (unsigned long long)b->initrd_size,
		     (unsigned long long)x->initrd);
	if (!range_in_ram(b, b->initrd_addr, b->initrd_size))
		FAIL("initrd", "0x%llx+0x%llx not in RAM", (unsigned long long)b->initrd_addr,
		     (unsigned long long)b->initrd_size);
	if (mg_phys_ok(b->initrd_addr, b->initrd_size)) {
		/* touch the first and the last byte */
		const volatile uint8_t *p = mg_phys(b->initrd_addr);
		(void)p[0];
		(void)p[b->initrd_size - 1];
	}
	mg_pass("initrd");
}

static bool check_rsdp(const struct mg_boot *b, struct mg_acpi *a)
{
	const char *why;
	a->rsdp = b->rsdp_gpa ? b->rsdp_gpa : mg_rsdp_scan();
	if (!a->rsdp) {
		mg_fail("rsdp", "not given and not found in 0xe0000-0xfffff");
		return false;
	}
	if (mg_rsdp_check(a->rsdp, &why) != 0) {
		mg_fail("rsdp", "0x%llx: %s", (unsigned long long)a->rsdp, why);
		return false;
	}
	mg_pass("rsdp");
	return true;
}

static bool check_root(struct mg_acpi *a)
{
	const uint8_t *r = mg_phys(a->rsdp);
	const char *why, *name;
	uint64_t root = r[15] >= 2 ? mg_rd64(r + 24) : 0;

	a->root_is_xsdt = root != 0;
	if (!root)
		root = mg_rd32(r + 16);
	name = a->root_is_xsdt ? "xsdt" : "rsdt";
	if (mg_sdt_check(root, a->root_is_xsdt ? "XSDT" : "RSDT", &why) != 0) {
		mg_fail(name, "0x%llx: %s", (unsigned long long)root, why);
		return false;
	}
	a->root = root;
	uint32_t body = mg_rd32(mg_phys(root) + 4) - MG_SDT_HDR_LEN;
	if (body % (a->root_is_xsdt ? 8u : 4u) != 0 || body == 0) {
		mg_fail(name, "length %u not a whole number of entries", body);
		return false;
	}
	mg_pass(name);
	return true;
}

static void check_tables(struct mg_acpi *a)
{
	uint32_t n = mg_root_count(a), bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = mg_root_entry(a, i);
		const char *why;
		if (mg_sdt_check(t, NULL, &why) != 0) {
			if (!bad++)
				mg_fail("tables", "entry %u at 0x%llx: %s", i,
					(unsigned long long)t, why);
			continue;
		}
		const uint8_t *h = mg_phys(t);
		if (!a->fadt && memcmp(h, "FACP", 4) == 0)
			a->fadt = t;
		else if (!a->madt && memcmp(h, "APIC", 4) == 0)
			a->madt = t;
	}
	if (!bad)
		mg_pass("tables");
}

static void check_fadt(struct mg_acpi *a)
{
	const char *why;
	if (!a->fadt)
		FAIL("fadt", "no FACP in the root table");
	const uint8_t *f = mg_phys(a->fadt);
	uint32_t len = mg_rd32(f + 4);
	if (len < 116)
		FAIL("fadt", "length %u < 116", len);
	uint64_t d = len >= 148 && mg_rd64(f + 140) ? mg_rd64(f + 140) : mg_rd32(f + 40);
	if (mg_sdt_check(d, "DSDT", &why) == 0)
		a->dsdt = d;
	mg_pass("fadt");
	(void)why;
}

static void check_madt(const struct mg_acpi *a, const struct expect *x)
{
	if (!a->madt)
		FAIL("madt", "no APIC table in the root table");
	const uint8_t *m = mg_phys(a->madt);
	uint32_t len = mg_rd32(m + 4), off = MG_SDT_HDR_LEN + 8, cpus = 0;
	while (off + 2 <= len) {
		uint8_t type = m[off], elen = m[off + 1];
		if (elen < 2 || elen > len - off)
			FAIL("madt", "bad entry length %u at offset %u", elen, off);
		if (type == 0 && elen >= 8 && (mg_rd32(m + off + 4) & 1))
			cpus++; /* Processor Local APIC, enabled */
		else if (type == 9 && elen >= 16 && (mg_rd32(m + off + 8) & 1))
			cpus++; /* Processor Local x2APIC, enabled */
		off += elen;
	}
	if (x->cpus_set ? cpus != x->cpus : cpus == 0)
		FAIL("madt", "cpus=%u expected=%llu", cpus,
		     (unsigned long long)(x->cpus_set ? x->cpus : 1));
	mg_pass("madt");
}

static void check_dsdt(struct mg_acpi *a)
{
	const char *why;
	if (!a->fadt)
		FAIL("dsdt", "no FADT");
	if (!a->dsdt) {
		const uint8_t *f = mg_phys(a->fadt);
		uint32_t len = mg_rd32(f + 4);
		uint64_t d = len >= 148 && mg_rd64(f + 140) ? mg_rd64(f + 140) : mg_rd32(f + 40);
		mg_sdt_check(d, "DSDT", &why);
		FAIL("dsdt", "0x%llx: %s", (unsigned long long)d, why);
	}
	mg_pass("dsdt");
	mg_find_s5(a);
	if (!a->s5_found)
		FAIL("s5", "no \\_S5_ package in the DSDT");
	const uint8_t *f = mg_phys(a->fadt);
	uint32_t len = mg_rd32(f + 4);
	bool sleep_reg = len >= 256 && mg_rd64(f + 248) != 0;
	bool pm1a = mg_rd32(f + 64) != 0;
	if (!sleep_reg && !pm1a)
		FAIL("s5", "FADT has neither SLEEP_CONTROL_REG nor PM1a_CNT_BLK");
	mg_pass("s5");
}

static void echo(void)
{
	mg_puts("MG ECHO\n");
	for (;;) {
		int c = mg_getc_poll();
		if (c < 0) {
			/* Each poll is an exit; a tight loop of them (tens of
			 * thousands a second) is what the emulated test host's
			 * nested SVM sometimes loses a guest in. A plain loop
			 * between polls: no exit (PAUSE may be intercepted). */
			for (volatile unsigned i = 0; i < 100000; i++)
				;
			continue;
		}
		if (c == 'q')
			break;
		mg_putc((char)c);
	}
	mg_putc('\n');
	mg_pass("echo");
}

void mg_main(struct mg_boot *b)
{
	struct expect x = {0};
	struct mg_acpi *a = &mg_acpi_info;

	check_args(b, &x);
	check_bootinfo(b);
	check_cmdline(b);
	check_memmap(b);
	if (x.mem_set)
		check_mem(b, &x);
	if (x.initrd_set)
		check_initrd(b, &x);
	if (check_rsdp(b, a) && check_root(a)) {
		check_tables(a);
		check_fadt(a);
		check_madt(a, &x);
		check_dsdt(a);
	}
	if (x.pit)
		check_pit(x.pit);
	if (x.echo)
		echo();
	if (x.boot_timer) {
		/* Firecracker's boot timer (--boot-timer): the byte 123 at its
		 * address, 0xc0000000 (identity-mapped) */
		*(volatile uint8_t *)(uintptr_t)0xc0000000u = 123;
		mg_pass("boottimer");
	}
	if (x.end == 1) {
		/* An empty IDT: the breakpoint faults, the fault faults, and the
		 * double fault shuts the CPU down. */
		mg_puts("MG CRASHING\n");
		struct __attribute__((packed)) {
			uint16_t limit;
			uint64_t base;
		} idtr = {0, 0};
		__asm__ volatile("lidt %0; int3" : : "m"(idtr));
	} else if (x.end == 2) {
		mg_puts("MG RESETTING\n");
		mg_outb(0x64, 0xfe);
		for (;;)
			__asm__ volatile("pause");
	} else if (x.end == 3) {
		/* An instruction fetch from the MMIO hole (identity-mapped, no
		 * RAM and no device there): KVM cannot emulate it and stops the
		 * vCPU with an internal error; the IDT is whole, so it is no
		 * triple fault. */
		mg_puts("MG EXEC-MMIO\n");
		__asm__ volatile("jmp *%0" : : "r"((uint64_t)0xc0000000u));
	}
	mg_done();
}
