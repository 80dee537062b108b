/* SPDX-License-Identifier: MIT */
/* Micro-guest runtime: freestanding x86_64 code that runs as a tiny guest
 * (see README.md). Everything here runs inside the VM, identity mapped
 * 0..4 GiB, single CPU, interrupts off. */
#ifndef MG_H
#define MG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_defs.h"

#define MG_CMDLINE_MAX 4096u /* the command line is untrusted: never scan further */
#define MG_MEMMAP_MAX  128u  /* e820_table in the zero page holds 128 entries */
#define MG_4G	       0x100000000ull

/* ---- port I/O ---- */
static inline void mg_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void mg_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t mg_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* ---- guest-physical memory (identity mapped below 4 GiB) ---- */
/* True when [addr, addr + len) is non-empty, does not wrap, ends at or
 * below 4 GiB and does not start at 0 (0 means "absent" in boot info). */
static inline bool mg_phys_ok(uint64_t addr, uint64_t len)
{
	return addr != 0 && len != 0 && addr < MG_4G && len <= MG_4G - addr;
}
static inline const uint8_t *mg_phys(uint64_t addr)
{
	return (const uint8_t *)(uintptr_t)addr;
}
/* Unaligned little-endian reads. */
static inline uint16_t mg_rd16(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
static inline uint32_t mg_rd32(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
static inline uint64_t mg_rd64(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- libc bits the compiler may call ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t mg_strnlen(const char *s, size_t max);

/* ---- serial console (COM1) and reporting ---- */
void mg_putc(char c);
void mg_puts(const char *s);
void mg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mg_vprintf(const char *fmt, va_list ap);
int mg_getc_poll(void); /* -1 when no byte is waiting */

void mg_pass(const char *name);
void mg_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mg_done(void);
_Noreturn void mg_halt(void);

/* ---- command line ---- */
struct mg_tok {
	const char *key;
	size_t key_len;
	const char *val; /* NULL when the token has no '=' */
	size_t val_len;
};
/* Next whitespace-separated token of [*pos, end), split at the first '='.
 * Returns false at the end. */
bool mg_cmdline_next(const char **pos, const char *end, struct mg_tok *t);
bool mg_tok_is(const struct mg_tok *t, const char *key);
/* Decimal or 0x-hex, optional K/M/G (binary) suffix when allow_suffix.
 * Returns false on empty input, junk or overflow. */
bool mg_parse_u64(const char *s, size_t len, bool allow_suffix, uint64_t *out);

/* ---- boot information, normalised from PVH start_info or boot_params ---- */
struct mg_mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI, 4 NVS, ... */
};

struct mg_boot {
	uint32_t kind;	      /* MG_BOOT_* */
	uint64_t info;	      /* gpa of start_info / boot_params */
	bool info_ok;	      /* magic etc. valid */
	char info_err[48];    /* why not */
	uint64_t cmdline_gpa; /* 0: none */
	const char *cmdline;  /* NULL: none or unreadable */
	size_t cmdline_len;   /* bounded by MG_CMDLINE_MAX - 1 */
	bool cmdline_terminated;
	bool have_memmap;
	uint32_t memmap_entries; /* as reported (may exceed MG_MEMMAP_MAX) */
	uint32_t nmap;		 /* copied into map[] */
	struct mg_mem_range map[MG_MEMMAP_MAX];
	uint64_t rsdp_gpa; /* 0: not given, scan the BIOS area */
	bool have_initrd;
	uint64_t initrd_addr, initrd_size;
};

/* Set by the runtime before mg_main() runs. */
extern struct mg_boot mg_boot_info;

/* Each guest defines this; when it returns, the runtime powers off. */
void mg_main(struct mg_boot *b);

/* ---- ACPI ---- */
struct mg_acpi {
	uint64_t rsdp, root; /* root: XSDT or RSDT */
	bool root_is_xsdt;
	uint64_t fadt, madt, dsdt;
	bool s5_found;
	uint8_t s5_slp_typ;
};
extern struct mg_acpi mg_acpi_info;

#define MG_SDT_HDR_LEN 36u
#define MG_SDT_MAX_LEN (16u << 20) /* refuse larger tables */

uint8_t mg_sum8(const uint8_t *p, size_t n);
/* Validates an RSDP at gpa: 0 or a negative code; *why gets a short reason. */
int mg_rsdp_check(uint64_t gpa, const char **why);
uint64_t mg_rsdp_scan(void); /* 0xE0000..0xFFFFF, 0 if none */
/* Validates an SDT header + checksum at gpa (sig may be NULL: any). */
int mg_sdt_check(uint64_t gpa, const char *sig, const char **why);
/* Number of entries of the root table; entry i. */
uint32_t mg_root_count(const struct mg_acpi *a);
uint64_t mg_root_entry(const struct mg_acpi *a, uint32_t i);
/* Finds \_S5_ in the DSDT, fills s5_found/s5_slp_typ. */
void mg_find_s5(struct mg_acpi *a);
/* Minimal discovery for guests that only want to power off. */
void mg_acpi_discover(const struct mg_boot *b, struct mg_acpi *a);
/* Tries FADT sleep control, PM1a control, i8042 reset, then halts. */
_Noreturn void mg_poweroff(void);

#endif
