/* SPDX-License-Identifier: MIT */
/* Micro-guest mini-runtime: libc bits, COM1 output, formatting, reporting,
 * command-line tokenizer, exception reporting, and mg_start(). */
#include "mg.h"

#define COM1	      0x3f8
#define UART_RBR      0
#define UART_THR      0
#define UART_LSR      5
#define LSR_DR	      0x01
#define LSR_THRE      0x20
#define THRE_SPIN_MAX 1000000u /* give up waiting on a UART that never empties */

struct mg_boot mg_boot_info;
static unsigned mg_npass, mg_nfail;
static bool mg_in_exception;

/* ---- libc bits ---- */
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t mg_strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* ---- serial ---- */
void mg_putc(char c)
{
	for (unsigned i = 0; i < THRE_SPIN_MAX; i++)
		if (mg_inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	mg_outb(COM1 + UART_THR, (uint8_t)c);
}

void mg_puts(const char *s)
{
	while (*s)
		mg_putc(*s++);
}

int mg_getc_poll(void)
{
	if (!(mg_inb(COM1 + UART_LSR) & LSR_DR))
		return -1;
	return mg_inb(COM1 + UART_RBR);
}

static void put_u64(uint64_t v, unsigned base)
{
	char buf[24];
	unsigned n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v && n < sizeof(buf));
	while (n)
		mg_putc(buf[--n]);
}

/* Subset: %s %c %d %u %x with l/ll, %%. */
void mg_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			mg_putc(*fmt);
			continue;
		}
		fmt++;
		int longs = 0;
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			mg_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			mg_putc((char)va_arg(ap, int));
			break;
		case 'd':
		case 'u':
		case 'x': {
			uint64_t v;
			bool neg = false;
			if (*fmt == 'd') {
				int64_t sv = longs ? va_arg(ap, long long) : va_arg(ap, int);
				neg = sv < 0;
				v = neg ? 0 - (uint64_t)sv : (uint64_t)sv;
			} else {
				v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			}
			if (neg)
				mg_putc('-');
			put_u64(v, *fmt == 'x' ? 16 : 10);
			break;
		}
		case '%':
			mg_putc('%');
			break;
		case '\0':
			return;
		default:
			mg_putc('?');
			break;
		}
	}
}

void mg_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mg_vprintf(fmt, ap);
	va_end(ap);
}

/* ---- reporting ---- */
void mg_pass(const char *name)
{
	mg_npass++;
	mg_printf("MG PASS %s\n", name);
}

void mg_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	mg_nfail++;
	mg_printf("MG FAIL %s: ", name);
	va_start(ap, fmt);
	mg_vprintf(fmt, ap);
	va_end(ap);
	mg_putc('\n');
}

void mg_done(void)
{
	mg_printf("MG DONE pass=%u fail=%u\n", mg_npass, mg_nfail);
}

_Noreturn void mg_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- command line ---- */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool mg_cmdline_next(const char **pos, const char *end, struct mg_tok *t)
{
	const char *p = *pos;
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p == '\0') {
		*pos = p;
		return false;
	}
	const char *start = p;
	while (p < end && *p && !is_space(*p))
		p++;
	*pos = p;
	t->key = start;
	t->val = NULL;
	t->val_len = 0;
	for (const char *q = start; q < p; q++) {
		if (*q == '=') {
			t->key_len = (size_t)(q - start);
			t->val = q + 1;
			t->val_len = (size_t)(p - (q + 1));
			return true;
		}
	}
	t->key_len = (size_t)(p - start);
	return true;
}

bool mg_tok_is(const struct mg_tok *t, const char *key)
{
	size_t n = mg_strnlen(key, 64);
	return t->key_len == n && memcmp(t->key, key, n) == 0;
}

bool mg_parse_u64(const char *s, size_t len, bool allow_suffix, uint64_t *out)
{
	unsigned base = 10;
	size_t i = 0;
	uint64_t v = 0, shift = 0;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (allow_suffix && len > i) {
		switch (s[len - 1]) {
		case 'k':
		case 'K':
			shift = 10;
			len--;
			break;
		case 'm':
		case 'M':
			shift = 20;
			len--;
			break;
		case 'g':
		case 'G':
			shift = 30;
			len--;
			break;
		default:
			break;
		}
	}
	if (len <= i)
		return false;
	for (; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

/* ---- exceptions ---- */
struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry mg_idt[32] __attribute__((aligned(16)));
extern const char mg_isr_stubs[];

static void idt_init(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} ptr = {sizeof(mg_idt) - 1, (uint64_t)(uintptr_t)mg_idt};

	for (unsigned i = 0; i < 32; i++) {
		uint64_t a = (uint64_t)(uintptr_t)mg_isr_stubs + 16u * i;
		mg_idt[i] = (struct idt_entry){
			.off_lo = (uint16_t)a,
			.sel = MG_SEL_CODE64,
			.type = 0x8e, /* present, DPL 0, interrupt gate */
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void mg_exception(const uint64_t *f);
void mg_exception(const uint64_t *f)
{
	uint64_t cr2;
	if (mg_in_exception) /* faulted while reporting: give up quietly */
		mg_halt();
	mg_in_exception = true;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	mg_fail("exception", "vector=%llu err=0x%llx rip=0x%llx cr2=0x%llx",
		(unsigned long long)f[0], (unsigned long long)f[1], (unsigned long long)f[2],
		(unsigned long long)cr2);
	mg_done();
	mg_poweroff();
}

/* ---- boot information ---- */
#define PVH_MAGIC 0x336ec578u
/* struct hvm_start_info */
#define SI_MAGIC	      0
#define SI_VERSION	      4
#define SI_NR_MODULES	      12
#define SI_MODLIST	      16
#define SI_CMDLINE	      24
#define SI_RSDP		      32
#define SI_MEMMAP	      40
#define SI_MEMMAP_ENTRIES     48
#define SI_SIZE_V0	      40
#define SI_SIZE_V1	      56
#define MODLIST_ENTRY_SIZE    32
#define PVH_MEMMAP_ENTRY_SIZE 24
/* struct boot_params */
#define BP_SIZE		     4096
#define BP_ACPI_RSDP	     0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_BOOT_FLAG	     0x1fe
#define BP_HEADER	     0x202
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE	     0x21c
#define BP_CMD_LINE_PTR	     0x228
#define BP_E820_TABLE	     0x2d0
#define E820_ENTRY_SIZE	     20
#define HDRS_MAGIC	     0x53726448u /* "HdrS" */

static void set_err(struct mg_boot *b, const char *s)
{
	size_t n = mg_strnlen(s, sizeof(b->info_err) - 1);
	memcpy(b->info_err, s, n);
	b->info_err[n] = '\0';
}

static void boot_cmdline(struct mg_boot *b)
{
	uint64_t max;
	if (!mg_phys_ok(b->cmdline_gpa, 1))
		return;
	max = MG_4G - b->cmdline_gpa;
	if (max > MG_CMDLINE_MAX)
		max = MG_CMDLINE_MAX;
	b->cmdline = (const char *)mg_phys(b->cmdline_gpa);
	b->cmdline_len = mg_strnlen(b->cmdline, (size_t)max);
	b->cmdline_terminated = b->cmdline_len < max;
	if (!b->cmdline_terminated)
		b->cmdline_len = (size_t)max - 1; /* parse a bounded prefix only */
}

static void boot_pvh(struct mg_boot *b)
{
	const uint8_t *si = mg_phys(b->info);
	uint32_t version;

	if (!mg_phys_ok(b->info, SI_SIZE_V1)) {
		set_err(b, "start_info address out of range");
		return;
	}
	if (mg_rd32(si + SI_MAGIC) != PVH_MAGIC) {
		set_err(b, "bad start_info magic");
		return;
	}
	version = mg_rd32(si + SI_VERSION);
	b->cmdline_gpa = mg_rd64(si + SI_CMDLINE);
	b->rsdp_gpa = mg_rd64(si + SI_RSDP);
	if (mg_rd32(si + SI_NR_MODULES) > 0) {
		uint64_t ml = mg_rd64(si + SI_MODLIST);
		if (!mg_phys_ok(ml, MODLIST_ENTRY_SIZE)) {
			set_err(b, "modlist_paddr out of range");
			return;
		}
		b->have_initrd = true;
		b->initrd_addr = mg_rd64(mg_phys(ml));
		b->initrd_size = mg_rd64(mg_phys(ml) + 8);
	}
	if (version >= 1) {
		uint64_t mm = mg_rd64(si + SI_MEMMAP);
		uint32_t n = mg_rd32(si + SI_MEMMAP_ENTRIES);
		b->memmap_entries = n;
		if (n > MG_MEMMAP_MAX)
			n = MG_MEMMAP_MAX;
		if (n && !mg_phys_ok(mm, (uint64_t)n * PVH_MEMMAP_ENTRY_SIZE)) {
			set_err(b, "memmap_paddr out of range");
			return;
		}
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e = mg_phys(mm) + (size_t)i * PVH_MEMMAP_ENTRY_SIZE;
			b->map[i] =
				(struct mg_mem_range){mg_rd64(e), mg_rd64(e + 8), mg_rd32(e + 16)};
		}
		b->nmap = n;
		b->have_memmap = true;
	}
	b->info_ok = true;
}

static void boot_linux(struct mg_boot *b)
{
	const uint8_t *bp = mg_phys(b->info);
	uint32_t n;

	if (!mg_phys_ok(b->info, BP_SIZE)) {
		set_err(b, "boot_params address out of range");
		return;
	}
	if (mg_rd16(bp + BP_BOOT_FLAG) != 0xaa55 || mg_rd32(bp + BP_HEADER) != HDRS_MAGIC) {
		set_err(b, "boot_params without setup header");
		return;
	}
	b->cmdline_gpa = mg_rd32(bp + BP_CMD_LINE_PTR) | (uint64_t)mg_rd32(bp + BP_EXT_CMD_LINE_PTR)
								 << 32;
	b->rsdp_gpa = mg_rd64(bp + BP_ACPI_RSDP);
	b->initrd_addr =
		mg_rd32(bp + BP_RAMDISK_IMAGE) | (uint64_t)mg_rd32(bp + BP_EXT_RAMDISK_IMAGE) << 32;
	b->initrd_size = mg_rd32(bp + BP_RAMDISK_SIZE) | (uint64_t)mg_rd32(bp + BP_EXT_RAMDISK_SIZE)
								 << 32;
	b->have_initrd = b->initrd_addr != 0 || b->initrd_size != 0;
	n = bp[BP_E820_ENTRIES];
	b->memmap_entries = n;
	if (n > MG_MEMMAP_MAX)
		n = MG_MEMMAP_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + (size_t)i * E820_ENTRY_SIZE;
		b->map[i] = (struct mg_mem_range){mg_rd64(e), mg_rd64(e + 8), mg_rd32(e + 16)};
	}
	b->nmap = n;
	b->have_memmap = true;
	b->info_ok = true;
}

void mg_start(uint32_t kind, uint64_t info);
void mg_start(uint32_t kind, uint64_t info)
{
	struct mg_boot *b = &mg_boot_info;

	idt_init();
	b->kind = kind;
	b->info = info;
	if (kind == MG_BOOT_PVH)
		boot_pvh(b);
	else if (kind == MG_BOOT_LINUX32 || kind == MG_BOOT_LINUX64)
		boot_linux(b);
	else
		set_err(b, "unknown entry");
	if (b->info_ok)
		boot_cmdline(b);
	mg_main(b);
	mg_poweroff();
}
