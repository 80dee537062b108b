/* SPDX-License-Identifier: MIT */
/* cvmm's state format (docs/snapshot.md): a header, then sections, each a
 * name, an instance number and tagged fields. Writers append; a reader
 * checks the whole file (header, checksum, every length) once, then looks
 * fields up by tag, so a newer cvmm reads an older file (a field it does
 * not find takes its default) and an older one refuses a newer file (its
 * format version, or a field marked required that it does not know) with
 * a message instead of misreading it. Little-endian throughout. */
#ifndef CVMM_SNAP_H
#define CVMM_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SNAP_MAGIC	 "CVMMSNAP"
#define SNAP_VERSION	 1u /* the format this cvmm writes */
#define SNAP_HEADER_SIZE 48u
#define SNAP_NAME_MAX	 31u
#define SNAP_MAX_SIZE	 (64u << 20) /* a state file larger is refused */

enum snap_arch { SNAP_ARCH_X86_64 = 1, SNAP_ARCH_AARCH64 = 2 };
#ifdef __aarch64__
#define SNAP_ARCH_HOST SNAP_ARCH_AARCH64
#else
#define SNAP_ARCH_HOST SNAP_ARCH_X86_64
#endif
const char *snap_arch_name(uint32_t arch);

/* Field flags. A reader that meets a REQUIRED field it does not know
 * refuses the file (snap_check_known): the writer said that ignoring it
 * would misread the state. */
#define SNAP_F_REQUIRED 1u

/* ---- writing --------------------------------------------------------- */

struct snap_w {
	uint8_t *buf; /* owned */
	size_t len, cap;
	size_t sec; /* offset of the open section's header, 0: none */
	int err;    /* first failure (-ENOMEM, -EFBIG), reported by snap_w_finish */
};

void snap_w_init(struct snap_w *w);
void snap_w_free(struct snap_w *w);
/* Opens a section (closing the one before). */
void snap_section(struct snap_w *w, const char *name, uint32_t instance);
/* A field of the open section: len bytes, or an integer (stored in 8, 4,
 * 2 bytes little-endian). Every field is REQUIRED unless put with _opt. */
void snap_put(struct snap_w *w, uint16_t tag, const void *p, size_t len);
void snap_put_opt(struct snap_w *w, uint16_t tag, const void *p, size_t len);
void snap_u64(struct snap_w *w, uint16_t tag, uint64_t v);
/* An optional integer (8 bytes), read with snap_opt_u64: a reader that
 * does not know the tag skips it. */
void snap_u64_opt(struct snap_w *w, uint16_t tag, uint64_t v);
void snap_u32(struct snap_w *w, uint16_t tag, uint32_t v);
void snap_str(struct snap_w *w, uint16_t tag, const char *s); /* NULL: not put */
/* Closes the last section and writes the header (arch, checksum);
 * *out and *len are the file's bytes, owned by w. */
__attribute__((warn_unused_result)) int
snap_w_finish(struct snap_w *w, uint32_t arch, const uint8_t **out, size_t *len, struct err *e);

/* ---- reading ---------------------------------------------------------- */

struct snap_r {
	const uint8_t *p; /* borrowed: the whole file */
	size_t len;
	uint32_t version, arch;
};
struct snap_sec {
	char name[SNAP_NAME_MAX + 1];
	uint32_t instance;
	const uint8_t *p; /* its fields */
	size_t len;
	const struct snap_r *r;
};

/* Checks the file: magic, format version (a newer one is refused, named),
 * the architecture it was made on (want: SNAP_ARCH_*, 0: any), its size and
 * checksum, and the bounds of every section and field. */
__attribute__((warn_unused_result)) int snap_open(struct snap_r *r, const void *buf, size_t len,
						  uint32_t want_arch, struct err *e);
/* Sections in order: *pos starts at 0; 1 while there is one, 0 at the end. */
int snap_next(const struct snap_r *r, size_t *pos, struct snap_sec *s);
/* The section of that name and instance: 0, or -ENOENT. */
int snap_find(const struct snap_r *r, const char *name, uint32_t instance, struct snap_sec *s);
/* A field: its bytes (len out), or NULL when absent. */
const void *snap_get(const struct snap_sec *s, uint16_t tag, size_t *len);
/* A required field of exactly len bytes (an integer: 8 or 4 bytes),
 * -EINVAL with a message naming the section and tag otherwise. */
__attribute__((warn_unused_result)) int snap_get_exact(const struct snap_sec *s, uint16_t tag,
						       void *dst, size_t len, struct err *e);
__attribute__((warn_unused_result)) int snap_get_u64(const struct snap_sec *s, uint16_t tag,
						     uint64_t *v, struct err *e);
__attribute__((warn_unused_result)) int snap_get_u32(const struct snap_sec *s, uint16_t tag,
						     uint32_t *v, struct err *e);
/* An optional integer: def when absent; -EINVAL when present with another size. */
__attribute__((warn_unused_result)) int snap_opt_u64(const struct snap_sec *s, uint16_t tag,
						     uint64_t def, uint64_t *v, struct err *e);
/* A string field (at most cap - 1 bytes, no NUL inside); absent: "" and 0
 * if !required. */
__attribute__((warn_unused_result)) int snap_get_str(const struct snap_sec *s, uint16_t tag,
						     char *dst, size_t cap, bool required,
						     struct err *e);
/* Refuses a REQUIRED field whose tag is not among known[0..n). */
__attribute__((warn_unused_result)) int
snap_check_known(const struct snap_sec *s, const uint16_t *known, unsigned n, struct err *e);

uint32_t snap_crc32c(uint32_t crc, const void *p, size_t len);

#endif
