/* SPDX-License-Identifier: MIT */
/* x86_64 kernel loaders: bzImage (Linux boot protocol, 64-bit entry) and
 * ELF64 with a PVH entry note; initrd placement; command line.
 * Every offset and size read from the image is untrusted: each is checked
 * against the file size and guest RAM with overflow-safe arithmetic before
 * anything is copied. */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "core/le.h"

/* ---- bzImage ------------------------------------------------------------ */

/* Setup header offsets (Documentation/x86/boot.rst). */
#define BZ_SETUP_SECTS	    0x1f1
#define BZ_SYSSIZE	    0x1f4
#define BZ_JUMP		    0x200
#define BZ_HEADER	    0x202
#define BZ_VERSION	    0x206
#define BZ_INITRD_ADDR_MAX  0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE	    0x234
#define BZ_XLOADFLAGS	    0x236
#define BZ_CMDLINE_SIZE	    0x238
#define BZ_PREF_ADDRESS	    0x258
#define BZ_INIT_SIZE	    0x260
#define BZ_FIELDS_END	    0x264 /* every field we read lies below this */

#define BZ_MIN_VERSION	      0x020c
#define XLF_KERNEL_64	      0x1
#define BZ_ENTRY64_OFF	      0x200
#define BZ_DEFAULT_INITRD_MAX 0x37ffffffULL
#define BZ_MAX_ALIGN	      (1ULL << 30)

static uint64_t align_up_pow2(uint64_t v, uint64_t a, int *ovf)
{
	uint64_t r;
	if (u64_add_overflows(v, a - 1, &r)) {
		*ovf = 1;
		return 0;
	}
	return r & ~(a - 1);
}

int x86_bzimage_load(const struct guest_mem *m, const uint8_t *img, size_t size,
		     struct x86_kernel *k, struct err *e)
{
	if (!img || size < BZ_HEADER + 4)
		return err_set(e, EINVAL,
			       "bzImage: truncated: %zu bytes, too short for a setup header", size);
	if (memcmp(img + BZ_HEADER, "HdrS", 4) != 0)
		return err_set(e, EINVAL, "bzImage: no \"HdrS\" magic at 0x%x", BZ_HEADER);
	/* The jump at 0x200 is "eb XX": the header ends at 0x202 + XX. */
	uint32_t hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
	if (hdr_end < BZ_FIELDS_END)
		return err_set(e, EINVAL, "bzImage: setup header ends at 0x%x, before init_size",
			       hdr_end);
	if (size < hdr_end)
		return err_set(e, EINVAL, "bzImage: truncated: %zu bytes, header says %u", size,
			       hdr_end);

	uint16_t version = le_get16(img + BZ_VERSION);
	if (version < BZ_MIN_VERSION)
		return err_set(e, ENOTSUP,
			       "bzImage: boot protocol %u.%02u is too old, 2.12 or later needed",
			       version >> 8, version & 0xff);
	uint16_t xlf = le_get16(img + BZ_XLOADFLAGS);
	if (!(xlf & XLF_KERNEL_64))
		return err_set(e, ENOTSUP, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");

	unsigned setup_sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
	size_t pm_off = ((size_t)setup_sects + 1) * 512;
	if (size <= pm_off)
		return err_set(e, EINVAL, "bzImage: truncated: %zu bytes, setup needs %zu", size,
			       pm_off + 1);
	size_t pm_len = size - pm_off;
	uint64_t syssize = (uint64_t)le_get32(img + BZ_SYSSIZE) * 16;
	if (syssize > pm_len)
		return err_set(e, EINVAL, "bzImage: truncated: %zu bytes, header says %llu", size,
			       (unsigned long long)(pm_off + syssize));

	uint32_t align = le_get32(img + BZ_KERNEL_ALIGNMENT);
	uint64_t pref = le_get64(img + BZ_PREF_ADDRESS);
	uint32_t init_size = le_get32(img + BZ_INIT_SIZE);
	int relocatable = img[BZ_RELOCATABLE] != 0;
	uint64_t load, runtime;
	int ovf = 0;
	if (relocatable) {
		if (align == 0 || (align & (align - 1)) || align > BZ_MAX_ALIGN)
			return err_set(e, EINVAL, "bzImage: bad kernel_alignment 0x%x", align);
		load = X86_HIMEM_START;
		/* The 64-bit entry moves itself to max(align_up(load), pref). */
		runtime = align_up_pow2(load, align, &ovf);
		if (pref > runtime)
			runtime = pref;
	} else {
		load = pref ? pref : X86_HIMEM_START;
		if (load < X86_HIMEM_START)
			return err_set(e, EINVAL,
				       "bzImage: non-relocatable kernel wants 0x%llx, below 1 MiB",
				       (unsigned long long)load);
		runtime = load;
	}
	uint64_t copy_end, init_end;
	ovf |= u64_add_overflows(load, pm_len, &copy_end);
	ovf |= u64_add_overflows(runtime, init_size, &init_end);
	if (ovf)
		return err_set(e, EINVAL, "bzImage: load address 0x%llx + size overflows",
			       (unsigned long long)load);
	uint64_t end = copy_end > init_end ? copy_end : init_end;
	if (!gm_ptr(m, load, end - load))
		return err_set(e, ENOSPC,
			       "bzImage: kernel needs [0x%llx, 0x%llx) (init_size 0x%x), "
			       "not all in guest RAM",
			       (unsigned long long)load, (unsigned long long)end, init_size);

	uint32_t hdr_len = hdr_end - X86_SETUP_HDR_OFF;
	if (hdr_len > X86_SETUP_HDR_MAX)
		hdr_len = X86_SETUP_HDR_MAX;

	int r = gm_write(m, load, img + pm_off, pm_len);
	if (r < 0)
		return err_set(e, -r, "bzImage: copy to 0x%llx failed", (unsigned long long)load);

	memset(k, 0, sizeof(*k));
	k->kind = X86_BOOT_LINUX64;
	k->entry = load + BZ_ENTRY64_OFF;
	k->load_addr = load;
	k->load_end = end;
	k->version = version;
	memcpy(k->setup_hdr, img + X86_SETUP_HDR_OFF, hdr_len);
	k->setup_hdr_len = hdr_len;
	uint32_t cmax = le_get32(img + BZ_CMDLINE_SIZE);
	k->cmdline_max = cmax < X86_CMDLINE_MAX - 1 ? cmax : (uint32_t)(X86_CMDLINE_MAX - 1);
	uint32_t imax = le_get32(img + BZ_INITRD_ADDR_MAX);
	k->initrd_addr_max = imax ? imax : BZ_DEFAULT_INITRD_MAX;
	return 0;
}

/* ---- ELF64 with a PVH entry note ---------------------------------------- */

#define EH_SIZE			 64
#define EH_TYPE			 16
#define EH_MACHINE		 18
#define EH_PHOFF		 32
#define EH_SHOFF		 40
#define EH_PHENTSIZE		 54
#define EH_PHNUM		 56
#define EH_SHENTSIZE		 58
#define EH_SHNUM		 60
#define PH_SIZE			 56
#define SH_SIZE			 64
#define ET_EXEC			 2
#define EM_X86_64		 62
#define PT_LOAD			 1
#define PT_NOTE			 4
#define SHT_NOTE		 7
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_seg {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static void elf_phdr(const uint8_t *p, struct elf_seg *s)
{
	s->type = le_get32(p);
	s->offset = le_get64(p + 8);
	s->paddr = le_get64(p + 24);
	s->filesz = le_get64(p + 32);
	s->memsz = le_get64(p + 40);
}

/* Checks that [off, off + len) lies inside the file. */
static int in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* Scans the note area [off, off + len) (already bounds-checked) for the
 * PVH entry note. 1 found (*entry set), 0 none, negative errno on a
 * malformed PVH note. */
static int elf_find_pvh_note(const uint8_t *img, uint64_t off, uint64_t len, uint32_t *entry,
			     struct err *e)
{
	const uint8_t *p = img + off;
	uint64_t left = len;
	while (left >= 12) {
		uint32_t namesz = le_get32(p), descsz = le_get32(p + 4), type = le_get32(p + 8);
		uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ULL;
		uint64_t desc_pad = ((uint64_t)descsz + 3) & ~3ULL;
		uint64_t need = 12 + name_pad + desc_pad; /* < 2^34: no overflow */
		if (need > left)
			return 0; /* a truncated note ends the area */
		const uint8_t *name = p + 12, *desc = p + 12 + name_pad;
		if (namesz == 4 && memcmp(name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz == 4) {
				*entry = le_get32(desc);
			} else if (descsz == 8 && le_get32(desc + 4) == 0) {
				*entry = le_get32(desc);
			} else {
				return err_set(e, EINVAL,
					       "PVH ELF: PHYS32_ENTRY note has a bad descriptor "
					       "(%u bytes)",
					       descsz);
			}
			return 1;
		}
		p += need;
		left -= need;
	}
	return 0;
}

static int elf_find_entry(const uint8_t *img, size_t size, uint64_t phoff, unsigned phnum,
			  uint32_t *entry, struct err *e)
{
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_seg s;
		elf_phdr(img + phoff + (uint64_t)i * PH_SIZE, &s);
		if (s.type != PT_NOTE)
			continue;
		if (!in_file(s.offset, s.filesz, size))
			return err_set(e, EINVAL,
				       "PVH ELF: note segment %u [0x%llx, +0x%llx) beyond the "
				       "%zu-byte file",
				       i, (unsigned long long)s.offset,
				       (unsigned long long)s.filesz, size);
		int r = elf_find_pvh_note(img, s.offset, s.filesz, entry, e);
		if (r)
			return r;
	}

	uint64_t shoff = le_get64(img + EH_SHOFF);
	unsigned shnum = le_get16(img + EH_SHNUM);
	if (shoff == 0 || shnum == 0)
		return 0;
	if (le_get16(img + EH_SHENTSIZE) != SH_SIZE ||
	    !in_file(shoff, (uint64_t)shnum * SH_SIZE, size))
		return 0; /* section headers are optional: ignore broken ones */
	for (unsigned i = 0; i < shnum; i++) {
		const uint8_t *sh = img + shoff + (uint64_t)i * SH_SIZE;
		if (le_get32(sh + 4) != SHT_NOTE)
			continue;
		uint64_t off = le_get64(sh + 24), len = le_get64(sh + 32);
		if (!in_file(off, len, size))
			return err_set(e, EINVAL,
				       "PVH ELF: note section %u beyond the %zu-byte file", i,
				       size);
		int r = elf_find_pvh_note(img, off, len, entry, e);
		if (r)
			return r;
	}
	return 0;
}

int x86_pvh_elf_load(const struct guest_mem *m, const uint8_t *img, size_t size,
		     struct x86_kernel *k, struct err *e)
{
	if (!img || size < EH_SIZE)
		return err_set(e, EINVAL, "PVH ELF: truncated: %zu bytes, ELF header needs %d",
			       size, EH_SIZE);
	if (memcmp(img, "\177ELF", 4) != 0)
		return err_set(e, EINVAL, "PVH ELF: no ELF magic");
	if (img[4] != 2 || img[5] != 1)
		return err_set(e, ENOTSUP, "PVH ELF: not a little-endian ELF64 file");
	if (le_get16(img + EH_MACHINE) != EM_X86_64)
		return err_set(e, ENOTSUP, "PVH ELF: machine %u is not x86_64",
			       le_get16(img + EH_MACHINE));
	if (le_get16(img + EH_TYPE) != ET_EXEC)
		return err_set(e, ENOTSUP, "PVH ELF: type %u is not an executable",
			       le_get16(img + EH_TYPE));
	uint64_t phoff = le_get64(img + EH_PHOFF);
	unsigned phnum = le_get16(img + EH_PHNUM);
	if (le_get16(img + EH_PHENTSIZE) != PH_SIZE || phnum == 0)
		return err_set(e, EINVAL,
			       "PVH ELF: bad program header table (entsize %u, %u entries)",
			       le_get16(img + EH_PHENTSIZE), phnum);
	if (!in_file(phoff, (uint64_t)phnum * PH_SIZE, size))
		return err_set(e, EINVAL,
			       "PVH ELF: truncated: %zu bytes, program headers end at 0x%llx", size,
			       (unsigned long long)phoff + (uint64_t)phnum * PH_SIZE);

	uint32_t entry = 0;
	int r = elf_find_entry(img, size, phoff, phnum, &entry, e);
	if (r < 0)
		return r;
	if (r == 0)
		return err_set(e, ENOTSUP,
			       "PVH ELF: no XEN_ELFNOTE_PHYS32_ENTRY note (not a PVH kernel)");

	/* Pass 1: validate every PT_LOAD; nothing is written yet. */
	uint64_t lo = UINT64_MAX, hi = 0;
	int entry_ok = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_seg s;
		elf_phdr(img + phoff + (uint64_t)i * PH_SIZE, &s);
		if (s.type != PT_LOAD)
			continue;
		if (s.filesz > s.memsz)
			return err_set(e, EINVAL,
				       "PVH ELF: segment %u filesz 0x%llx > memsz 0x%llx", i,
				       (unsigned long long)s.filesz, (unsigned long long)s.memsz);
		if (!in_file(s.offset, s.filesz, size))
			return err_set(e, EINVAL,
				       "PVH ELF: segment %u [0x%llx, +0x%llx) beyond the %zu-byte "
				       "file",
				       i, (unsigned long long)s.offset,
				       (unsigned long long)s.filesz, size);
		uint64_t end;
		if (u64_add_overflows(s.paddr, s.memsz, &end))
			return err_set(e, EINVAL, "PVH ELF: segment %u 0x%llx + 0x%llx overflows",
				       i, (unsigned long long)s.paddr, (unsigned long long)s.memsz);
		if (s.memsz == 0)
			continue;
		if (s.paddr < X86_HIMEM_START)
			return err_set(e, EINVAL,
				       "PVH ELF: segment %u at 0x%llx overlaps the boot area below "
				       "1 MiB",
				       i, (unsigned long long)s.paddr);
		if (!gm_ptr(m, s.paddr, s.memsz))
			return err_set(e, ENOSPC,
				       "PVH ELF: segment %u [0x%llx, 0x%llx) is not in guest RAM",
				       i, (unsigned long long)s.paddr, (unsigned long long)end);
		if (s.paddr < lo)
			lo = s.paddr;
		if (end > hi)
			hi = end;
		if (entry >= s.paddr && entry < end)
			entry_ok = 1;
	}
	if (hi == 0)
		return err_set(e, EINVAL, "PVH ELF: no loadable segment");
	if (!entry_ok)
		return err_set(e, EINVAL, "PVH ELF: entry 0x%x is outside every loaded segment",
			       entry);

	/* Pass 2: copy and zero-fill. */
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_seg s;
		elf_phdr(img + phoff + (uint64_t)i * PH_SIZE, &s);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		r = gm_write(m, s.paddr, img + s.offset, s.filesz);
		if (r == 0)
			r = gm_fill(m, s.paddr + s.filesz, 0, s.memsz - s.filesz);
		if (r < 0)
			return err_set(e, -r, "PVH ELF: copying segment %u failed", i);
	}

	memset(k, 0, sizeof(*k));
	k->kind = X86_BOOT_PVH;
	k->entry = entry;
	k->load_addr = lo;
	k->load_end = hi;
	k->cmdline_max = X86_CMDLINE_MAX - 1;
	k->initrd_addr_max = X86_MMIO_HOLE_END - 1;
	return 0;
}

int x86_kernel_load(const struct guest_mem *m, const uint8_t *img, size_t size,
		    struct x86_kernel *k, struct err *e)
{
	if (img && size >= BZ_HEADER + 4 && memcmp(img + BZ_HEADER, "HdrS", 4) == 0)
		return x86_bzimage_load(m, img, size, k, e);
	if (img && size >= 4 && memcmp(img, "\177ELF", 4) == 0)
		return x86_pvh_elf_load(m, img, size, k, e);
	return err_set(e, EINVAL, "kernel: unknown format (%zu bytes): neither a bzImage nor ELF",
		       size);
}

/* ---- initrd and command line ------------------------------------------- */

#define PAGE_MASK_4K 0xfffULL

int x86_initrd_load(const struct guest_mem *m, uint64_t ram_end_below_4g,
		    const struct x86_kernel *k, const uint8_t *data, size_t size, uint64_t *gpa,
		    struct err *e)
{
	if (!data || size == 0)
		return err_set(e, EINVAL, "initrd: empty");
	uint64_t limit = ram_end_below_4g;
	if (limit > X86_MMIO_HOLE_START)
		limit = X86_MMIO_HOLE_START;
	if (k->initrd_addr_max < limit)
		limit = k->initrd_addr_max + 1; /* initrd_addr_max: the last byte */
	uint64_t floor = (k->load_end + PAGE_MASK_4K) & ~PAGE_MASK_4K;
	if (floor < k->load_end) /* wrapped */
		floor = UINT64_MAX & ~PAGE_MASK_4K;
	if (floor < X86_HIMEM_START)
		floor = X86_HIMEM_START;
	if (size > limit || ((limit - size) & ~PAGE_MASK_4K) < floor) {
		uint64_t need = floor + ((size + PAGE_MASK_4K) & ~PAGE_MASK_4K);
		return err_set(e, ENOSPC,
			       "initrd: %zu bytes do not fit between the kernel's end 0x%llx and "
			       "0x%llx; about %llu MiB of low RAM needed",
			       size, (unsigned long long)floor, (unsigned long long)limit,
			       (unsigned long long)((need + (1 << 20) - 1) >> 20));
	}
	uint64_t at = (limit - size) & ~PAGE_MASK_4K;
	int r = gm_write(m, at, data, size);
	if (r < 0)
		return err_set(e, -r, "initrd: [0x%llx, +%zu) is not in guest RAM",
			       (unsigned long long)at, size);
	*gpa = at;
	return 0;
}

int x86_cmdline_write(const struct guest_mem *m, const struct x86_kernel *k, const char *cmdline,
		      struct err *e)
{
	if (!cmdline)
		cmdline = "";
	size_t max = k->cmdline_max;
	if (max > X86_CMDLINE_MAX - 1)
		max = X86_CMDLINE_MAX - 1;
	size_t len = strnlen(cmdline, max + 1);
	if (len > max)
		return err_set(e, E2BIG, "cmdline: %zu bytes, the kernel takes at most %zu",
			       strlen(cmdline), max);
	int r = gm_write(m, X86_CMDLINE_ADDR, cmdline, len + 1);
	if (r < 0)
		return err_set(e, -r, "cmdline: 0x%llx is not in guest RAM",
			       (unsigned long long)X86_CMDLINE_ADDR);
	return 0;
}
