/* SPDX-License-Identifier: MIT */
/* The x86 guest memory map: RAM below the 32-bit MMIO hole, the rest from
 * 4 GiB; the EBDA..1 MiB window (MP table, ACPI tables) reserved. */
#include "boot/boot.h"

#include <errno.h>

#include "arch/x86_64/layout.h"

/* Above this the guest-physical arithmetic is no longer meaningful (x86_64
 * guests have at most 52 physical address bits). */
#define X86_MEM_MAX (1ULL << 52)

unsigned x86_ram_layout(uint64_t mem_size, uint64_t gpa[2], uint64_t size[2])
{
	if (mem_size == 0)
		return 0;
	gpa[0] = 0;
	if (mem_size <= X86_MMIO_HOLE_START) {
		size[0] = mem_size;
		return 1;
	}
	size[0] = X86_MMIO_HOLE_START;
	gpa[1] = X86_MMIO_HOLE_END;
	size[1] = mem_size - X86_MMIO_HOLE_START;
	return 2;
}

int x86_e820_build(uint64_t mem_size, struct e820_entry *out, unsigned max, unsigned *n,
		   struct err *e)
{
	if (mem_size <= X86_HIMEM_START)
		return err_set(e, EINVAL, "e820: %llu bytes of RAM, more than 1 MiB needed",
			       (unsigned long long)mem_size);
	if (mem_size > X86_MEM_MAX - X86_MMIO_HOLE_END)
		return err_set(e, EINVAL, "e820: %llu bytes of RAM is too much",
			       (unsigned long long)mem_size);
	uint64_t gpa[2], size[2];
	unsigned nr = x86_ram_layout(mem_size, gpa, size);
	unsigned need = 2 + nr;
	if (max < need)
		return err_set(e, ENOSPC, "e820: %u entries needed, room for %u", need, max);
	unsigned i = 0;
	out[i++] = (struct e820_entry){.addr = 0, .size = X86_EBDA_START, .type = E820_RAM};
	out[i++] = (struct e820_entry){.addr = X86_EBDA_START,
				       .size = X86_HIMEM_START - X86_EBDA_START,
				       .type = E820_RESERVED};
	out[i++] = (struct e820_entry){
		.addr = X86_HIMEM_START, .size = size[0] - X86_HIMEM_START, .type = E820_RAM};
	if (nr == 2)
		out[i++] = (struct e820_entry){.addr = gpa[1], .size = size[1], .type = E820_RAM};
	*n = i;
	return 0;
}
