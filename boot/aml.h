/* SPDX-License-Identifier: MIT */
/* A tiny AML encoder (ACPI 6.x, chapter 20) and byte builder, enough for a
 * static DSDT: Name, Scope, Device, Method, Notify, If (LEqual (ArgN, value)), Return,
 * Package, Integer, String, EISAID and
 * ResourceTemplate buffers with IO, IRQ, Memory32Fixed and Extended
 * Interrupt descriptors. It writes into a caller-owned buffer; running out
 * of room (or a malformed name) only sets a sticky flag, checked once at
 * the end, so building code needs no error path per call. */
#ifndef CVMM_BOOT_AML_H
#define CVMM_BOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf; /* borrowed */
	size_t cap;
	size_t len;
	bool overflow; /* ran out of room */
	bool invalid;  /* a name, id or value could not be encoded */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
bool aml_ok(const struct aml *a);

/* Raw bytes. */
void aml_byte(struct aml *a, uint8_t v);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_le16(struct aml *a, uint16_t v);
void aml_le32(struct aml *a, uint32_t v);
void aml_le64(struct aml *a, uint64_t v);
void aml_zeros(struct aml *a, size_t n);
void aml_align(struct aml *a, size_t align);

/* Encodes a PkgLength for a body of body_len bytes into out[4]; returns the
 * number of bytes used (1..4), 0 when too long. */
unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4]);

/* Terms. A NameString is "ABCD", "\\ABCD" or "\\_SB_.ABCD" style: optional
 * root prefix, dot-separated segments of 1..4 chars (padded with '_'). */
void aml_namestring(struct aml *a, const char *path);
void aml_name(struct aml *a, const char *name); /* NameOp + name; the value follows */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id); /* "PNP0501" -> DWord */

/* Open/close pairs: begin returns a mark, end patches the PkgLength. */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
/* Method(name, nargs) { ... }: close with aml_end. */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs);
/* Notify(path, value), inside a method. */
void aml_notify(struct aml *a, const char *path, uint64_t value);
/* If (LEqual(ArgN, value)) { ... }, inside a method: close with aml_end. */
size_t aml_if_arg_equal_begin(struct aml *a, unsigned arg, uint64_t value);
/* Return (...), inside a method: the value's term follows. */
void aml_return(struct aml *a);
size_t aml_buffer_begin(struct aml *a); /* e.g. a ResourceTemplate */
void aml_end(struct aml *a, size_t mark);
void aml_buffer_end(struct aml *a, size_t mark);

/* Resource descriptors (ACPI 6.x, 6.4), to put inside a buffer. */
void aml_res_io16(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, unsigned irq); /* IRQNoFlags: edge, high, exclusive */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t size, bool writable);
#define AML_INT_CONSUMER   0x01
#define AML_INT_EDGE	   0x02
#define AML_INT_ACTIVE_LOW 0x04
#define AML_INT_SHARED	   0x08
void aml_res_ext_irq(struct aml *a, uint32_t gsi, uint8_t flags);
/* A bridge's windows (producer): bus numbers [min, max], and 32-bit memory
 * [base, base + size). */
void aml_res_bus16(struct aml *a, uint16_t min, uint16_t max);
void aml_res_mem32_window(struct aml *a, uint32_t base, uint32_t size);
void aml_res_end(struct aml *a);

#endif
