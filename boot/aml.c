/* SPDX-License-Identifier: MIT */
#include "boot/aml.h"

#include <string.h>

#include "core/le.h"

#define AML_ZERO_OP	      0x00
#define AML_ONE_OP	      0x01
#define AML_NAME_OP	      0x08
#define AML_BYTE_PREFIX	      0x0a
#define AML_WORD_PREFIX	      0x0b
#define AML_DWORD_PREFIX      0x0c
#define AML_STRING_PREFIX     0x0d
#define AML_QWORD_PREFIX      0x0e
#define AML_SCOPE_OP	      0x10
#define AML_BUFFER_OP	      0x11
#define AML_PACKAGE_OP	      0x12
#define AML_METHOD_OP	      0x14
#define AML_NOTIFY_OP	      0x86
#define AML_IF_OP	      0xa0
#define AML_LEQUAL_OP	      0x93
#define AML_ARG0_OP	      0x68
#define AML_RETURN_OP	      0xa4
#define AML_DUAL_NAME_PREFIX  0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX     0x5b
#define AML_DEVICE_OP	      0x82
#define AML_ROOT_CHAR	      0x5c

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->overflow = false;
	a->invalid = false;
}

bool aml_ok(const struct aml *a)
{
	return !a->overflow && !a->invalid;
}

static uint8_t *aml_reserve(struct aml *a, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return NULL;
	}
	uint8_t *p = a->buf + a->len;
	a->len += n;
	return p;
}

void aml_byte(struct aml *a, uint8_t v)
{
	uint8_t *p = aml_reserve(a, 1);
	if (p)
		*p = v;
}

void aml_bytes(struct aml *a, const void *src, size_t n)
{
	uint8_t *p = aml_reserve(a, n);
	if (p && n)
		memcpy(p, src, n);
}

void aml_le16(struct aml *a, uint16_t v)
{
	uint8_t *p = aml_reserve(a, 2);
	if (p)
		le_put16(p, v);
}

void aml_le32(struct aml *a, uint32_t v)
{
	uint8_t *p = aml_reserve(a, 4);
	if (p)
		le_put32(p, v);
}

void aml_le64(struct aml *a, uint64_t v)
{
	uint8_t *p = aml_reserve(a, 8);
	if (p)
		le_put64(p, v);
}

void aml_zeros(struct aml *a, size_t n)
{
	uint8_t *p = aml_reserve(a, n);
	if (p && n)
		memset(p, 0, n);
}

void aml_align(struct aml *a, size_t align)
{
	size_t pad = (align - a->len % align) % align;
	aml_zeros(a, pad);
}

/* Inserts n bytes at offset at, moving what follows. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (a->overflow || at > a->len || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4])
{
	/* The encoded length counts the PkgLength bytes themselves. */
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	static const size_t max[] = {0, 0, 0xfff, 0xfffff, 0xfffffff};
	for (unsigned n = 2; n <= 4; n++) {
		if (body_len > max[n] - n)
			continue;
		size_t total = body_len + n;
		out[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

static bool aml_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_name_char(char c)
{
	return aml_lead_char(c) || (c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	uint8_t segs[4 * 255];
	unsigned nseg = 0;
	bool root = false;
	if (!path) {
		a->invalid = true;
		return;
	}
	if (*path == '\\') {
		root = true;
		path++;
	}
	while (*path) {
		size_t n = 0;
		while (path[n] && path[n] != '.')
			n++;
		if (n == 0 || n > 4 || nseg == 255 || !aml_lead_char(path[0])) {
			a->invalid = true;
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			char c = i < n ? path[i] : '_';
			if (!aml_name_char(c)) {
				a->invalid = true;
				return;
			}
			segs[nseg * 4 + i] = (uint8_t)c;
		}
		nseg++;
		path += n;
		if (*path == '.') {
			path++;
			if (!*path) {
				a->invalid = true;
				return;
			}
		}
	}
	if (root)
		aml_byte(a, AML_ROOT_CHAR);
	if (nseg == 0) {
		aml_byte(a, 0x00); /* NullName */
		return;
	}
	if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, (size_t)nseg * 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le16(a, (uint16_t)v);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le32(a, (uint32_t)v);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le64(a, v);
	}
}

void aml_string(struct aml *a, const char *s)
{
	if (!s) {
		a->invalid = true;
		return;
	}
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c < 0x01 || (unsigned char)*c > 0x7f) {
			a->invalid = true;
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	/* Three letters (5 bits each, 'A' = 1) and four hex digits, stored
	 * big-endian in a DWord. */
	if (!id || strlen(id) != 7) {
		a->invalid = true;
		return;
	}
	uint32_t v = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->invalid = true;
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 0x40);
	}
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);
		if (h < 0) {
			a->invalid = true;
			return;
		}
		v = v << 4 | (uint32_t)h;
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_byte(a, (uint8_t)(v >> 24));
	aml_byte(a, (uint8_t)(v >> 16));
	aml_byte(a, (uint8_t)(v >> 8));
	aml_byte(a, (uint8_t)v);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	size_t mark = a->len;
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs)
{
	if (nargs > 7)
		a->invalid = true;
	aml_byte(a, AML_METHOD_OP);
	size_t mark = a->len;
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)(nargs & 7)); /* MethodFlags: not serialized, SyncLevel 0 */
	return mark;
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_integer(a, value);
}

size_t aml_if_arg_equal_begin(struct aml *a, unsigned arg, uint64_t value)
{
	if (arg > 6)
		a->invalid = true;
	aml_byte(a, AML_IF_OP);
	size_t mark = a->len; /* IfOp PkgLength Predicate TermList */
	aml_byte(a, AML_LEQUAL_OP);
	aml_byte(a, (uint8_t)(AML_ARG0_OP + (arg & 7)));
	aml_integer(a, value);
	return mark;
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	size_t mark = a->len;
	aml_byte(a, nelems);
	return mark;
}

size_t aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	return a->len;
}

void aml_end(struct aml *a, size_t mark)
{
	if (a->overflow)
		return;
	uint8_t pl[4];
	unsigned n = aml_pkglen_encode(a->len - mark, pl);
	if (n == 0) {
		a->invalid = true;
		return;
	}
	aml_insert(a, mark, pl, n);
}

void aml_buffer_end(struct aml *a, size_t mark)
{
	if (a->overflow)
		return;
	/* Buffer := BufferOp PkgLength BufferSize ByteList: the size is an
	 * Integer term that precedes the bytes already written. */
	size_t data = a->len - mark;
	uint8_t pre[4 + 9];
	struct aml sz;
	aml_init(&sz, pre + 4, 9);
	aml_integer(&sz, data);
	uint8_t pl[4];
	unsigned n = aml_pkglen_encode(sz.len + data, pl);
	if (n == 0) {
		a->invalid = true;
		return;
	}
	memcpy(pre + 4 - n, pl, n);
	aml_insert(a, mark, pre + 4 - n, n + sz.len);
}

void aml_res_io16(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, 0x47); /* small item 0x08 (IO), length 7 */
	aml_byte(a, 0x01); /* 16-bit decode */
	aml_le16(a, base); /* minimum */
	aml_le16(a, base); /* maximum */
	aml_byte(a, 0x01); /* alignment */
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		a->invalid = true;
		return;
	}
	aml_byte(a, 0x22); /* small item 0x04 (IRQ), length 2: edge, high */
	aml_le16(a, (uint16_t)(1u << irq));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t size, bool writable)
{
	aml_byte(a, 0x86); /* large item 0x06 */
	aml_le16(a, 9);
	aml_byte(a, writable ? 1 : 0);
	aml_le32(a, base);
	aml_le32(a, size);
}

void aml_res_ext_irq(struct aml *a, uint32_t gsi, uint8_t flags)
{
	aml_byte(a, 0x89); /* large item 0x09 */
	aml_le16(a, 6);
	aml_byte(a, flags);
	aml_byte(a, 1); /* one interrupt */
	aml_le32(a, gsi);
}

void aml_res_bus16(struct aml *a, uint16_t min, uint16_t max)
{
	aml_byte(a, 0x88); /* large item 0x08: Word Address Space */
	aml_le16(a, 13);
	aml_byte(a, 2);	   /* bus numbers */
	aml_byte(a, 0x0c); /* producer, minimum and maximum fixed */
	aml_byte(a, 0);
	aml_le16(a, 0); /* granularity */
	aml_le16(a, min);
	aml_le16(a, max);
	aml_le16(a, 0); /* translation */
	aml_le16(a, (uint16_t)(max - min + 1));
}

void aml_res_mem32_window(struct aml *a, uint32_t base, uint32_t size)
{
	if (size == 0 || size - 1 > UINT32_MAX - base) {
		a->invalid = true;
		return;
	}
	aml_byte(a, 0x87); /* large item 0x07: DWord Address Space */
	aml_le16(a, 23);
	aml_byte(a, 0);	   /* memory */
	aml_byte(a, 0x0c); /* producer, minimum and maximum fixed */
	aml_byte(a, 0x01); /* read-write, not cacheable */
	aml_le32(a, 0);	   /* granularity */
	aml_le32(a, base);
	aml_le32(a, base + (size - 1));
	aml_le32(a, 0); /* translation */
	aml_le32(a, size);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79); /* end tag */
	aml_byte(a, 0x00); /* checksum 0: "treat as correct" */
}
