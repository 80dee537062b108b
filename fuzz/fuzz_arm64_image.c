/* SPDX-License-Identifier: MIT */
/* The arm64 Image loader (arm64_image_load, boot/arm64_image.c) and initrd
 * placement on a small fake RAM at the aarch64 RAM base. Input:
 *   [0..3]   RAM size the VMM claims (le32, up to 4 MiB used)
 *   [4..7]   initrd size (le32; 0: none) and [8..11] its limit offset
 *   [12..]   the Image bytes
 * On success: the header agrees (magic, little-endian, text_offset below
 * 2 MiB, image_size at least the file), the image sits at base +
 * text_offset inside the RAM claimed, its bytes copied and the rest of
 * image_size zeroed; the initrd lands page aligned between the kernel's end
 * and the limit. Every failure carries a message. */
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define RAM_MAX (4 * FZ_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct guest_mem *ram(void)
{
	static struct guest_mem m;
	static uint8_t *host;
	if (!host) {
		host = calloc(1, RAM_MAX);
		if (!host || gm_add(&m, ARM64_RAM_BASE, RAM_MAX, host) < 0)
			abort();
	}
	memset(host, 0xcc, RAM_MAX); /* stale bytes the loader must clear */
	return &m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 12)
		return 0;
	uint64_t claim = fz_rd32(data); /* may exceed the fake RAM: then -EFAULT */
	uint32_t isize = fz_rd32(data + 4) % (RAM_MAX + 1);
	uint64_t limit = ARM64_RAM_BASE + fz_rd32(data + 8) % (RAM_MAX + 1);
	const uint8_t *img = data + 12;
	size_t n = size - 12;
	const struct guest_mem *m = ram();
	struct arm64_image k;
	struct err e = {0};
	int r = arm64_image_load(m, ARM64_RAM_BASE, claim, img, n, &k, &e);
	fz_check_err(r, &e);
	if (r < 0)
		return 0;
	FZ_CHECK(n >= ARM64_IMAGE_HDR_SIZE && fz_rd32(img + 56) == ARM64_IMAGE_MAGIC);
	FZ_CHECK(!(k.flags & ARM64_FLAG_BE));
	FZ_CHECK(k.text_offset < 0x200000 && k.image_size >= n);
	FZ_CHECK(k.load_addr == ARM64_RAM_BASE + k.text_offset);
	FZ_CHECK(k.load_end == k.load_addr + k.image_size);
	FZ_CHECK(k.load_end - ARM64_RAM_BASE <= claim && k.load_end - ARM64_RAM_BASE <= RAM_MAX);
	const uint8_t *p = gm_ptr(m, k.load_addr, k.image_size);
	FZ_CHECK(p && !memcmp(p, img, n));
	for (uint64_t i = n; i < k.image_size; i++)
		FZ_CHECK(p[i] == 0);
	if (isize == 0)
		return 0;
	uint64_t gpa = 0;
	e = (struct err){0};
	r = arm64_initrd_load(m, limit, &k, img, isize < n ? isize : n, &gpa, &e);
	fz_check_err(r, &e);
	if (r == 0) {
		size_t len = isize < n ? isize : n;
		FZ_CHECK((gpa & 0xfff) == 0 && gpa >= k.load_end && gpa + len <= limit);
		FZ_CHECK(limit - (gpa + len) < 4096);
		FZ_CHECK(!memcmp(gm_ptr(m, gpa, len), img, len));
	}
	return 0;
}
