/* SPDX-License-Identifier: MIT */
/* Boot information handed to the kernel: the Linux zero page (struct
 * boot_params) for bzImage, struct hvm_start_info for PVH. Layouts from
 * Documentation/x86/zero-page.rst and xen's hvm/start_info.h; written as
 * byte offsets so no packed structs are needed. */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "core/le.h"

/* struct boot_params */
#define BP_SIZE		     4096
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_VID_MODE	     0x1fa
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS	     0x211
#define BP_CODE32_START	     0x214
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE	     0x21c
#define BP_HEAP_END_PTR	     0x224
#define BP_CMD_LINE_PTR	     0x228
#define BP_E820_TABLE	     0x2d0
#define BP_E820_MAX	     128
#define BP_E820_ENTRY_SIZE   20

#define LOADER_UNDEFINED 0xff
#define CAN_USE_HEAP	 0x80
#define HEAP_END	 0xfe00
#define VID_MODE_NORMAL	 0xffff

/* struct hvm_start_info and friends */
#define PVH_MAGIC	       0x336ec578u
#define PVH_INFO_SIZE	       56
#define PVH_MEMMAP_ENTRY_SIZE  24
#define PVH_MODLIST_ENTRY_SIZE 32

_Static_assert(X86_PVH_INFO_ADDR + PVH_INFO_SIZE <= X86_PVH_MEMMAP_ADDR,
	       "start_info overlaps the memmap");
_Static_assert(X86_PVH_MEMMAP_ADDR + X86_PVH_MEMMAP_MAX * PVH_MEMMAP_ENTRY_SIZE +
			       PVH_MODLIST_ENTRY_SIZE <=
		       X86_ZERO_PAGE_ADDR,
	       "PVH memmap and module list overlap the zero page");

static void e820_put(uint8_t *p, const struct e820_entry *ent)
{
	le_put64(p, ent->addr);
	le_put64(p + 8, ent->size);
	le_put32(p + 16, ent->type);
}

int x86_zero_page_write(const struct guest_mem *m, const struct x86_kernel *k,
			const struct x86_boot_cfg *cfg, struct err *e)
{
	if (k->kind != X86_BOOT_LINUX64)
		return err_set(e, EINVAL, "zero page: the kernel is not a bzImage");
	if (k->setup_hdr_len > X86_SETUP_HDR_MAX)
		return err_set(e, EINVAL, "zero page: setup header of %u bytes, at most %u",
			       k->setup_hdr_len, (unsigned)X86_SETUP_HDR_MAX);

	struct e820_entry map[BP_E820_MAX];
	unsigned n = 0;
	int r = x86_e820_build(cfg->mem_size, map, BP_E820_MAX, &n, e);
	if (r < 0)
		return r;

	uint8_t bp[BP_SIZE];
	memset(bp, 0, sizeof(bp));
	memcpy(bp + X86_SETUP_HDR_OFF, k->setup_hdr, k->setup_hdr_len);
	le_put16(bp + BP_VID_MODE, VID_MODE_NORMAL);
	bp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	bp[BP_LOADFLAGS] |= CAN_USE_HEAP;
	le_put16(bp + BP_HEAP_END_PTR, HEAP_END);
	le_put32(bp + BP_CODE32_START, (uint32_t)k->load_addr);
	le_put32(bp + BP_CMD_LINE_PTR, (uint32_t)X86_CMDLINE_ADDR);
	le_put32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(X86_CMDLINE_ADDR >> 32));
	/* Always written: the image's header may carry stale values. */
	uint64_t rd_gpa = cfg->initrd_size ? cfg->initrd_gpa : 0;
	le_put32(bp + BP_RAMDISK_IMAGE, (uint32_t)rd_gpa);
	le_put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_gpa >> 32));
	le_put32(bp + BP_RAMDISK_SIZE, (uint32_t)cfg->initrd_size);
	le_put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(cfg->initrd_size >> 32));
	le_put64(bp + BP_ACPI_RSDP_ADDR, cfg->rsdp_gpa);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		e820_put(bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE, &map[i]);

	r = gm_write(m, X86_ZERO_PAGE_ADDR, bp, sizeof(bp));
	if (r < 0)
		return err_set(e, -r, "zero page: 0x%llx is not in guest RAM",
			       (unsigned long long)X86_ZERO_PAGE_ADDR);
	return 0;
}

int x86_pvh_info_write(const struct guest_mem *m, const struct x86_boot_cfg *cfg, struct err *e)
{
	struct e820_entry map[X86_PVH_MEMMAP_MAX];
	unsigned n = 0;
	int r = x86_e820_build(cfg->mem_size, map, X86_PVH_MEMMAP_MAX, &n, e);
	if (r < 0)
		return r;

	/* The memmap table, then the module list right after it. */
	uint8_t tab[X86_PVH_MEMMAP_MAX * PVH_MEMMAP_ENTRY_SIZE + PVH_MODLIST_ENTRY_SIZE];
	memset(tab, 0, sizeof(tab));
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = tab + i * PVH_MEMMAP_ENTRY_SIZE;
		le_put64(p, map[i].addr);
		le_put64(p + 8, map[i].size);
		le_put32(p + 16, map[i].type == E820_RAM ? 1 : 2);
	}
	size_t tab_len = (size_t)n * PVH_MEMMAP_ENTRY_SIZE;
	uint64_t modlist = X86_PVH_MEMMAP_ADDR + tab_len;
	unsigned nmod = cfg->initrd_size ? 1 : 0;
	if (nmod) {
		uint8_t *p = tab + tab_len;
		le_put64(p, cfg->initrd_gpa);
		le_put64(p + 8, cfg->initrd_size);
		tab_len += PVH_MODLIST_ENTRY_SIZE;
	}

	uint8_t si[PVH_INFO_SIZE];
	memset(si, 0, sizeof(si));
	le_put32(si + 0, PVH_MAGIC);
	le_put32(si + 4, 1); /* version */
	le_put32(si + 8, 0); /* flags */
	le_put32(si + 12, nmod);
	le_put64(si + 16, nmod ? modlist : 0);
	le_put64(si + 24, X86_CMDLINE_ADDR);
	le_put64(si + 32, cfg->rsdp_gpa);
	le_put64(si + 40, X86_PVH_MEMMAP_ADDR);
	le_put32(si + 48, n);

	r = gm_write(m, X86_PVH_INFO_ADDR, si, sizeof(si));
	if (r == 0)
		r = gm_write(m, X86_PVH_MEMMAP_ADDR, tab, tab_len);
	if (r < 0)
		return err_set(e, -r, "PVH start_info: 0x%llx is not in guest RAM",
			       (unsigned long long)X86_PVH_INFO_ADDR);
	return 0;
}
