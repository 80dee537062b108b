/* SPDX-License-Identifier: MIT */
/* The state format (core/snap.h, docs/snapshot.md).
 *
 * header (48 bytes): "CVMMSNAP", u32 format version, u32 arch, u64 file
 *   size, u32 CRC-32C of the bytes after the header, u32 sections,
 *   u32 flags (0), 8 reserved bytes (0), u32 CRC-32C of the 44 before.
 * section: u8 name length, the name, u32 instance, u32 length of its fields.
 * field: u16 tag, u16 flags (SNAP_F_*), u32 length, the bytes. */
#include "core/snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"

#define SEC_FIXED 9u /* name length byte, instance, fields length */
#define FLD_HDR	  8u

const char *snap_arch_name(uint32_t arch)
{
	switch (arch) {
	case SNAP_ARCH_X86_64:
		return "x86_64";
	case SNAP_ARCH_AARCH64:
		return "aarch64";
	default:
		return "an unknown architecture";
	}
}

/* CRC-32C (Castagnoli, reflected 0x82f63b78), four bits a step: a table
 * small enough to be a constant (one built on first use would be global
 * state). State files are kilobytes, so speed does not matter. */
static const uint32_t crc_nib[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3,
	0x61c69362, 0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t snap_crc32c(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= b[i];
		crc = (crc >> 4) ^ crc_nib[crc & 15];
		crc = (crc >> 4) ^ crc_nib[crc & 15];
	}
	return ~crc;
}

/* ---- writing ------------------------------------------------------------ */

void snap_w_init(struct snap_w *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_w_free(struct snap_w *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static uint8_t *w_room(struct snap_w *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > SNAP_MAX_SIZE || w->len + n > SNAP_MAX_SIZE) {
		w->err = -EFBIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void w_close_section(struct snap_w *w)
{
	if (!w->sec || w->err)
		return;
	uint8_t nl = w->buf[w->sec];
	size_t at = w->sec + 1 + nl + 4;
	le_put32(w->buf + at, (uint32_t)(w->len - (at + 4)));
	w->sec = 0;
}

void snap_section(struct snap_w *w, const char *name, uint32_t instance)
{
	if (!w->len && !w_room(w, SNAP_HEADER_SIZE))
		return;
	w_close_section(w);
	size_t nl = strlen(name);
	if (nl == 0 || nl > SNAP_NAME_MAX) {
		w->err = -EINVAL;
		return;
	}
	size_t at = w->len;
	uint8_t *p = w_room(w, SEC_FIXED + nl);
	if (!p)
		return;
	p[0] = (uint8_t)nl;
	memcpy(p + 1, name, nl);
	le_put32(p + 1 + nl, instance);
	le_put32(p + 5 + nl, 0);
	w->sec = at;
}

static void w_field(struct snap_w *w, uint16_t tag, uint16_t flags, const void *v, size_t len)
{
	if (!w->sec) {
		if (!w->err)
			w->err = -EINVAL; /* a field outside any section */
		return;
	}
	if (len > UINT32_MAX) {
		w->err = -EFBIG;
		return;
	}
	uint8_t *p = w_room(w, FLD_HDR + len);
	if (!p)
		return;
	le_put16(p, tag);
	le_put16(p + 2, flags);
	le_put32(p + 4, (uint32_t)len);
	if (len)
		memcpy(p + FLD_HDR, v, len);
}

void snap_put(struct snap_w *w, uint16_t tag, const void *p, size_t len)
{
	w_field(w, tag, SNAP_F_REQUIRED, p, len);
}

void snap_put_opt(struct snap_w *w, uint16_t tag, const void *p, size_t len)
{
	w_field(w, tag, 0, p, len);
}

void snap_u64(struct snap_w *w, uint16_t tag, uint64_t v)
{
	uint8_t b[8];
	le_put64(b, v);
	snap_put(w, tag, b, 8);
}

void snap_u64_opt(struct snap_w *w, uint16_t tag, uint64_t v)
{
	uint8_t b[8];
	le_put64(b, v);
	snap_put_opt(w, tag, b, 8);
}

void snap_u32(struct snap_w *w, uint16_t tag, uint32_t v)
{
	uint8_t b[4];
	le_put32(b, v);
	snap_put(w, tag, b, 4);
}

void snap_str(struct snap_w *w, uint16_t tag, const char *s)
{
	if (s)
		snap_put(w, tag, s, strlen(s));
}

int snap_w_finish(struct snap_w *w, uint32_t arch, const uint8_t **out, size_t *len, struct err *e)
{
	if (!w->len)
		w_room(w, SNAP_HEADER_SIZE);
	w_close_section(w);
	if (w->err)
		return err_set(e, -w->err, "cannot build the state: %s",
			       w->err == -EFBIG ? "larger than the format allows"
						: strerror(-w->err));
	uint32_t nsec = 0;
	for (size_t pos = SNAP_HEADER_SIZE; pos < w->len;) {
		uint8_t nl = w->buf[pos];
		pos += SEC_FIXED + nl + le_get32(w->buf + pos + 5 + nl);
		nsec++;
	}
	uint8_t *h = w->buf;
	memset(h, 0, SNAP_HEADER_SIZE);
	memcpy(h, SNAP_MAGIC, 8);
	le_put32(h + 8, SNAP_VERSION);
	le_put32(h + 12, arch);
	le_put64(h + 16, w->len);
	le_put32(h + 24, snap_crc32c(0, w->buf + SNAP_HEADER_SIZE, w->len - SNAP_HEADER_SIZE));
	le_put32(h + 28, nsec);
	le_put32(h + 44, snap_crc32c(0, h, 44));
	*out = w->buf;
	*len = w->len;
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* The section at pos (bounds checked by snap_open). */
static size_t sec_at(const struct snap_r *r, size_t pos, struct snap_sec *s)
{
	uint8_t nl = r->p[pos];
	memcpy(s->name, r->p + pos + 1, nl);
	s->name[nl] = 0;
	s->instance = le_get32(r->p + pos + 1 + nl);
	s->len = le_get32(r->p + pos + 5 + nl);
	s->p = r->p + pos + SEC_FIXED + nl;
	s->r = r;
	return pos + SEC_FIXED + nl + s->len;
}

int snap_open(struct snap_r *r, const void *buf, size_t len, uint32_t want_arch, struct err *e)
{
	const uint8_t *p = buf;
	memset(r, 0, sizeof(*r));
	if (len < SNAP_HEADER_SIZE || memcmp(p, SNAP_MAGIC, 8) != 0)
		return err_set(e, EINVAL, "not a cvmm snapshot (no CVMMSNAP header)");
	if (snap_crc32c(0, p, 44) != le_get32(p + 44))
		return err_set(e, EINVAL, "snapshot header is corrupt (checksum mismatch)");
	uint32_t version = le_get32(p + 8), arch = le_get32(p + 12);
	uint64_t size = le_get64(p + 16);
	if (version == 0 || version > SNAP_VERSION)
		return err_set(e, EPROTO,
			       "snapshot format version %u is newer than this cvmm's (%u): "
			       "restore it with a newer cvmm",
			       version, SNAP_VERSION);
	if (want_arch && arch != want_arch)
		return err_set(e, EINVAL, "snapshot was made on %s, this host is %s",
			       snap_arch_name(arch), snap_arch_name(want_arch));
	if (size != len)
		return err_set(
			e, EINVAL,
			"snapshot is truncated or has trailing bytes (%zu bytes, header says %llu)",
			len, (unsigned long long)size);
	if (snap_crc32c(0, p + SNAP_HEADER_SIZE, len - SNAP_HEADER_SIZE) != le_get32(p + 24))
		return err_set(e, EINVAL, "snapshot is corrupt (checksum mismatch)");
	/* every section and field inside its parent */
	uint32_t nsec = 0;
	for (size_t pos = SNAP_HEADER_SIZE; pos < len; nsec++) {
		if (len - pos < SEC_FIXED)
			return err_set(e, EINVAL, "snapshot is corrupt (section %u cut short)",
				       nsec);
		uint8_t nl = p[pos];
		if (nl == 0 || nl > SNAP_NAME_MAX || len - pos < SEC_FIXED + (size_t)nl)
			return err_set(e, EINVAL, "snapshot is corrupt (section %u's name)", nsec);
		for (unsigned i = 0; i < nl; i++)
			if (p[pos + 1 + i] < 0x21 || p[pos + 1 + i] > 0x7e)
				return err_set(e, EINVAL, "snapshot is corrupt (section %u's name)",
					       nsec);
		size_t flen = le_get32(p + pos + 5 + nl);
		size_t body = pos + SEC_FIXED + nl;
		if (flen > len - body)
			return err_set(e, EINVAL,
				       "snapshot is corrupt (section %u overruns the file)", nsec);
		for (size_t f = body; f < body + flen;) {
			if (body + flen - f < FLD_HDR)
				return err_set(e, EINVAL,
					       "snapshot is corrupt (a field of section %u)", nsec);
			size_t l = le_get32(p + f + 4);
			if (l > body + flen - f - FLD_HDR)
				return err_set(e, EINVAL,
					       "snapshot is corrupt (a field overruns section %u)",
					       nsec);
			f += FLD_HDR + l;
		}
		pos = body + flen;
	}
	if (nsec != le_get32(p + 28))
		return err_set(e, EINVAL, "snapshot is corrupt (%u sections, header says %u)", nsec,
			       le_get32(p + 28));
	r->p = p;
	r->len = len;
	r->version = version;
	r->arch = arch;
	return 0;
}

int snap_next(const struct snap_r *r, size_t *pos, struct snap_sec *s)
{
	if (*pos < SNAP_HEADER_SIZE)
		*pos = SNAP_HEADER_SIZE;
	if (*pos >= r->len)
		return 0;
	*pos = sec_at(r, *pos, s);
	return 1;
}

int snap_find(const struct snap_r *r, const char *name, uint32_t instance, struct snap_sec *s)
{
	size_t pos = 0;
	while (snap_next(r, &pos, s))
		if (s->instance == instance && strcmp(s->name, name) == 0)
			return 0;
	memset(s, 0, sizeof(*s));
	return -ENOENT;
}

const void *snap_get(const struct snap_sec *s, uint16_t tag, size_t *len)
{
	for (size_t f = 0; f + FLD_HDR <= s->len;) {
		size_t l = le_get32(s->p + f + 4);
		if (le_get16(s->p + f) == tag) {
			*len = l;
			return s->p + f + FLD_HDR;
		}
		f += FLD_HDR + l;
	}
	*len = 0;
	return NULL;
}

int snap_get_exact(const struct snap_sec *s, uint16_t tag, void *dst, size_t len, struct err *e)
{
	size_t l;
	const void *p = snap_get(s, tag, &l);
	if (!p)
		return err_set(e, EINVAL, "snapshot's section '%s' %u lacks field %u", s->name,
			       s->instance, tag);
	if (l != len)
		return err_set(e, EINVAL,
			       "snapshot's section '%s' %u: field %u has %zu bytes, expected %zu",
			       s->name, s->instance, tag, l, len);
	memcpy(dst, p, len);
	return 0;
}

int snap_get_u64(const struct snap_sec *s, uint16_t tag, uint64_t *v, struct err *e)
{
	uint8_t b[8];
	int r = snap_get_exact(s, tag, b, 8, e);
	*v = r < 0 ? 0 : le_get64(b);
	return r;
}

int snap_get_u32(const struct snap_sec *s, uint16_t tag, uint32_t *v, struct err *e)
{
	uint8_t b[4];
	int r = snap_get_exact(s, tag, b, 4, e);
	*v = r < 0 ? 0 : le_get32(b);
	return r;
}

int snap_opt_u64(const struct snap_sec *s, uint16_t tag, uint64_t def, uint64_t *v, struct err *e)
{
	size_t l;
	if (!snap_get(s, tag, &l)) {
		*v = def;
		return 0;
	}
	return snap_get_u64(s, tag, v, e);
}

int snap_get_str(const struct snap_sec *s, uint16_t tag, char *dst, size_t cap, bool required,
		 struct err *e)
{
	size_t l;
	const char *p = snap_get(s, tag, &l);
	dst[0] = 0;
	if (!p)
		return required ? err_set(e, EINVAL, "snapshot's section '%s' %u lacks field %u",
					  s->name, s->instance, tag)
				: 0;
	if (l >= cap || memchr(p, 0, l))
		return err_set(e, EINVAL,
			       "snapshot's section '%s' %u: field %u is not a valid string",
			       s->name, s->instance, tag);
	memcpy(dst, p, l);
	dst[l] = 0;
	return 0;
}

int snap_check_known(const struct snap_sec *s, const uint16_t *known, unsigned n, struct err *e)
{
	for (size_t f = 0; f + FLD_HDR <= s->len;) {
		uint16_t tag = le_get16(s->p + f), flags = le_get16(s->p + f + 2);
		size_t l = le_get32(s->p + f + 4);
		bool ok = !(flags & SNAP_F_REQUIRED);
		for (unsigned i = 0; i < n && !ok; i++)
			ok = known[i] == tag;
		if (!ok)
			return err_set(
				e, EPROTO,
				"snapshot's section '%s' %u has field %u, which this cvmm does "
				"not know (made by a newer cvmm?)",
				s->name, s->instance, tag);
		f += FLD_HDR + l;
	}
	return 0;
}
