/* SPDX-License-Identifier: MIT */
/* The arm64 Image loader and initrd placement (booting.rst's rules). */
#include <errno.h>
#include <string.h>

#include "arch/aarch64/layout.h"
#include "boot/boot.h"
#include "core/le.h"

#define SZ_2M	0x200000ULL
#define PAGE_4K 0xfffULL

int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image *k, struct err *e)
{
	memset(k, 0, sizeof(*k));
	if (!img || size < ARM64_IMAGE_HDR_SIZE)
		return err_set(e, EINVAL, "kernel: %zu bytes, too short for an arm64 Image header",
			       img ? size : 0);
	if (le_get32(img + 56) != ARM64_IMAGE_MAGIC)
		return err_set(e, EINVAL,
			       "kernel: not an arm64 Image (no \"ARM\\x64\" magic at "
			       "byte 56; compressed vmlinuz.gz or ELF vmlinux?)");
	k->text_offset = le_get64(img + 8);
	k->image_size = le_get64(img + 16);
	k->flags = le_get64(img + 24);
	if (k->flags & ARM64_FLAG_BE)
		return err_set(e, EINVAL,
			       "kernel: big-endian arm64 Image; only little-endian "
			       "kernels are supported");
	if (k->image_size == 0)
		return err_set(e, EINVAL,
			       "kernel: arm64 Image with image_size 0 (kernel older "
			       "than 3.17) is not supported");
	if (k->image_size < size)
		return err_set(e, EINVAL,
			       "kernel: arm64 Image header says image_size %llu, less "
			       "than the file's %zu bytes",
			       (unsigned long long)k->image_size, size);
	if (k->text_offset >= SZ_2M || (k->text_offset & 7))
		return err_set(e, EINVAL,
			       "kernel: arm64 Image text_offset 0x%llx is not an "
			       "8-byte aligned offset below 2 MiB",
			       (unsigned long long)k->text_offset);
	return 0;
}

int arm64_image_load(const struct guest_mem *m, uint64_t ram_base, uint64_t ram_size,
		     const uint8_t *img, size_t size, struct arm64_image *k, struct err *e)
{
	int r = arm64_image_parse(img, size, k, e);
	if (r < 0)
		return r;
	if (ram_base & (SZ_2M - 1))
		return err_set(e, EINVAL, "kernel: RAM base 0x%llx is not 2 MiB aligned",
			       (unsigned long long)ram_base);
	if (k->image_size > ARM64_RAM_MAX)
		return err_set(e, EINVAL, "kernel: arm64 Image image_size %llu is too large",
			       (unsigned long long)k->image_size);
	/* image_size <= 2^39 and text_offset < 2 MiB: the sum cannot wrap */
	uint64_t need = k->text_offset + k->image_size;
	if (need > ram_size)
		return err_set(e, ENOSPC,
			       "kernel: arm64 Image needs %llu MiB from the RAM base, "
			       "the guest has %llu MiB",
			       (unsigned long long)((need + (1 << 20) - 1) >> 20),
			       (unsigned long long)(ram_size >> 20));
	k->load_addr = ram_base + k->text_offset;
	k->load_end = k->load_addr + k->image_size;
	if (gm_write(m, k->load_addr, img, size) < 0 ||
	    gm_fill(m, k->load_addr + size, 0, k->image_size - size) < 0)
		return err_set(e, EFAULT, "kernel: [0x%llx, 0x%llx) is not in guest RAM",
			       (unsigned long long)k->load_addr, (unsigned long long)k->load_end);
	return 0;
}

int arm64_initrd_load(const struct guest_mem *m, uint64_t limit, const struct arm64_image *k,
		      const uint8_t *data, size_t size, uint64_t *gpa, struct err *e)
{
	if (!data || size == 0)
		return err_set(e, EINVAL, "initrd: empty");
	uint64_t floor = (k->load_end + PAGE_4K) & ~PAGE_4K;
	if (floor < k->load_end) /* wrapped */
		floor = UINT64_MAX & ~PAGE_4K;
	if (size > limit || ((limit - size) & ~PAGE_4K) < floor) {
		uint64_t need = ((size + PAGE_4K) & ~PAGE_4K);
		return err_set(e, ENOSPC,
			       "initrd: %zu bytes do not fit between the kernel's end 0x%llx and "
			       "0x%llx; about %llu MiB more RAM needed",
			       size, (unsigned long long)floor, (unsigned long long)limit,
			       (unsigned long long)((need + (1 << 20) - 1) >> 20));
	}
	uint64_t at = (limit - size) & ~PAGE_4K;
	int r = gm_write(m, at, data, size);
	if (r < 0)
		return err_set(e, -r, "initrd: [0x%llx, +%zu) is not in guest RAM",
			       (unsigned long long)at, size);
	*gpa = at;
	return 0;
}
