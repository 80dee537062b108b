/* SPDX-License-Identifier: MIT */
/* Initrd placement (x86_initrd_load, boot/x86_kernel.c) for random RAM
 * sizes, kernel extents, initrd_addr_max values and initrd sizes. Guest RAM
 * is laid out as the VMM does (x86_ram_layout) over one large
 * MAP_NORESERVE mapping, so a placement anywhere below 3 GiB can be written
 * for real; the pages written are dropped again after each input. Input:
 *   [0]       bits 0-1 RAM size, 2-3 kernel end, 4-5 initrd_addr_max
 *             (how v1..v3 are read, see below); bit 6: ram_end_below_4g is
 *             v5 instead of what the VMM passes
 *   [1]       initrd size class: & 3 == 0, 1: 1 + (v4 & 0xffff) bytes;
 *             2: up to 4 MiB; 3: over 3 GiB (never fits); 0xff: empty
 *   [2..41]   v1..v5, le64 each
 *   [42..]    the first bytes of the initrd
 * Checked against a model in 128-bit arithmetic: success exactly when a
 * page-aligned place exists at or above both the kernel's end and 1 MiB,
 * with the initrd's end at or below RAM's end below 4 GiB, the MMIO hole
 * and initrd_addr_max + 1 and inside guest RAM; then the highest such
 * place, holding the initrd's bytes. Otherwise -ENOSPC (no such place) or
 * -EFAULT (that place is not RAM), with a message. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define PAGE	4096ULL
#define BUF_MAX (4 * FZ_MiB)
#define MEM_TOP (1ULL << 52)

typedef unsigned __int128 u128;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The host side of RAM below the hole, mapped once; its size. */
static uint8_t *host_ram(uint64_t *len)
{
	static uint8_t *base;
	static uint64_t have;
	static const uint64_t tries[] = {X86_MMIO_HOLE_START, FZ_GiB, 256 * FZ_MiB};
	for (unsigned i = 0; !base && i < sizeof(tries) / sizeof(tries[0]); i++) {
		void *p = mmap(NULL, tries[i], PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			base = p;
			have = tries[i];
		}
	}
	if (!base)
		abort();
	*len = have;
	return base;
}

static uint64_t pick_mem(unsigned sel, uint64_t v, uint64_t host)
{
	switch (sel) {
	case 0:
		return (v % (host / PAGE + 1)) * PAGE;
	case 1:
		return v % MEM_TOP;
	case 2:
		return host;
	default:
		return X86_HIMEM_START + (v & 0xffff) * PAGE;
	}
}

static uint64_t pick_end(unsigned sel, uint64_t v)
{
	switch (sel) {
	case 0:
		return X86_HIMEM_START + (uint32_t)v;
	case 1:
		return v;
	case 2:
		return UINT64_MAX - (v & 0xffff);
	default:
		return v & 0xfffff;
	}
}

static uint64_t pick_max(unsigned sel, uint64_t v)
{
	switch (sel) {
	case 0:
		return 0x7fffffff;
	case 1:
		return 0x37ffffff;
	case 2:
		return (uint32_t)v;
	default:
		return v;
	}
}

static size_t pick_size(uint8_t cls, uint64_t v)
{
	if (cls == 0xff)
		return 0;
	switch (cls & 3) {
	case 0:
	case 1:
		return 1 + (size_t)(v & 0xffff);
	case 2:
		return (size_t)(v % (BUF_MAX / PAGE) + 1) * PAGE - (cls >> 2);
	default:
		return (size_t)(X86_MMIO_HOLE_START + 1 + v % (SIZE_MAX - X86_MMIO_HOLE_START));
	}
}

/* Gives written pages back, so that RSS stays small over a long run. */
static void drop_pages(const uint8_t *p, size_t n)
{
	uintptr_t from = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
	uintptr_t to = ((uintptr_t)p + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	madvise((void *)from, to - from, MADV_DONTNEED);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 12) + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[BUF_MAX];
	if (size < 42)
		return 0;
	uint64_t host_len;
	uint8_t *host = host_ram(&host_len);
	uint8_t sel = data[0];
	uint64_t mem = pick_mem(sel & 3, fz_rd64(data + 2), host_len);
	struct x86_kernel k;
	memset(&k, 0, sizeof(k));
	k.kind = X86_BOOT_LINUX64;
	k.load_addr = X86_HIMEM_START;
	k.load_end = pick_end((sel >> 2) & 3, fz_rd64(data + 10));
	k.initrd_addr_max = pick_max((sel >> 4) & 3, fz_rd64(data + 18));
	size_t isize = pick_size(data[1], fz_rd64(data + 26));
	uint64_t below4g = mem < X86_MMIO_HOLE_START ? mem : X86_MMIO_HOLE_START;
	if (sel & 0x40)
		below4g = fz_rd64(data + 34);

	/* Guest RAM as the VMM lays it out, the part below the hole backed by
	 * the mapping (cut to it where the host gave less than 3 GiB), the
	 * part above the hole by the same pages: nothing may land there. */
	struct guest_mem m;
	memset(&m, 0, sizeof(m));
	uint64_t gpa[2], len[2];
	unsigned nr = x86_ram_layout(mem, gpa, len);
	for (unsigned i = 0; i < nr; i++) {
		uint64_t l = i == 0 && len[0] > host_len ? host_len : len[i];
		if (gm_add(&m, gpa[i], l, host) < 0)
			abort();
	}

	/* The initrd's bytes: a fixed pattern, its start from the input. */
	static bool ready;
	for (size_t i = 0; !ready && i < BUF_MAX; i++)
		buf[i] = pattern(i);
	ready = true;
	size_t head = size - 42 < 4096 ? size - 42 : 4096;
	memcpy(buf, data + 42, head);

	uint64_t at = 0;
	struct err e;
	err_clear(&e);
	int r = x86_initrd_load(&m, below4g, &k, buf, isize, &at, &e);
	fz_check_err(r, &e);
	const uint8_t *p = r == 0 ? gm_ptr(&m, at, isize) : NULL;
	bool same = p && memcmp(p, buf, isize) == 0;
	for (size_t i = 0; i < head; i++)
		buf[i] = pattern(i);
	if (p && p >= host && isize <= (size_t)(host + host_len - p))
		drop_pages(p, isize);

	/* The model. */
	u128 lim = below4g;
	if (lim > X86_MMIO_HOLE_START)
		lim = X86_MMIO_HOLE_START;
	if ((u128)k.initrd_addr_max + 1 < lim)
		lim = (u128)k.initrd_addr_max + 1;
	u128 lowest = ((u128)k.load_end + PAGE - 1) / PAGE * PAGE;
	if (lowest < X86_HIMEM_START)
		lowest = X86_HIMEM_START;
	bool fits = isize <= lim && (lim - isize) / PAGE * PAGE >= lowest;
	u128 want = fits ? (lim - isize) / PAGE * PAGE : 0;
	bool in_ram = fits && gm_ptr(&m, (uint64_t)want, isize) != NULL;

	if (isize == 0) {
		FZ_CHECK(r == -EINVAL);
		return 0;
	}
	if (!fits) {
		FZ_CHECK(r == -ENOSPC);
		return 0;
	}
	if (!in_ram) {
		FZ_CHECK(r == -EFAULT);
		return 0;
	}
	FZ_CHECK(r == 0);
	FZ_CHECK(at == want);
	FZ_CHECK(at % PAGE == 0 && at >= X86_HIMEM_START && at >= k.load_end);
	FZ_CHECK(at + isize <= below4g && at + isize <= X86_MMIO_HOLE_START);
	FZ_CHECK(at + isize - 1 <= k.initrd_addr_max);
	FZ_CHECK(same); /* inside guest RAM, with the initrd's bytes */
	return 0;
}
