/* SPDX-License-Identifier: MIT */
/* ELF64 PVH loader on synthetic images. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fake_mem.h"

#define IMG_SIZE   0x3000
#define DATA_OFF   0x1000
#define DATA_LEN   0x800
#define LOAD_GPA   0x200000ULL
#define LOAD_MEMSZ 0x4000
#define ENTRY	   (LOAD_GPA + 0x40)
#define NOTE_OFF   0x400

struct elf {
	uint8_t b[IMG_SIZE];
	size_t size;
};

static void elf_phdr(struct elf *x, unsigned i, uint32_t type, uint64_t off, uint64_t paddr,
		     uint64_t filesz, uint64_t memsz)
{
	uint8_t *p = x->b + 64 + i * 56;
	wr32(p, type);
	wr32(p + 4, 7);
	wr64(p + 8, off);
	wr64(p + 16, paddr + 0xffffffff80000000ULL); /* vaddr: ignored */
	wr64(p + 24, paddr);
	wr64(p + 32, filesz);
	wr64(p + 40, memsz);
	wr64(p + 48, 0x1000);
}

/* A Xen PHYS32_ENTRY note (after an unrelated one) at off; returns its size. */
static size_t elf_note(struct elf *x, size_t off, uint32_t entry)
{
	uint8_t *p = x->b + off;
	/* "GNU" build-id-like note first, to exercise the walk. */
	wr32(p, 4);
	wr32(p + 4, 6);
	wr32(p + 8, 3);
	memcpy(p + 12, "GNU", 4);
	memset(p + 16, 0xab, 6); /* desc padded to 8 */
	p += 24;
	wr32(p, 4);
	wr32(p + 4, 4);
	wr32(p + 8, 18);
	memcpy(p + 12, "Xen", 4);
	wr32(p + 16, entry);
	return 24 + 20;
}

/* Two program headers: PT_LOAD + PT_NOTE. */
static void elf_make(struct elf *x)
{
	memset(x, 0, sizeof(*x));
	x->size = IMG_SIZE;
	uint8_t *h = x->b;
	memcpy(h, "\177ELF", 4);
	h[4] = 2; /* ELFCLASS64 */
	h[5] = 1; /* little endian */
	h[6] = 1;
	wr16(h + 16, 2);  /* ET_EXEC */
	wr16(h + 18, 62); /* EM_X86_64 */
	wr32(h + 20, 1);
	wr64(h + 24, 0xffffffff81000000ULL);
	wr64(h + 32, 64); /* phoff */
	wr16(h + 52, 64);
	wr16(h + 54, 56);
	wr16(h + 56, 2);
	wr16(h + 58, 64);
	size_t nl = elf_note(x, NOTE_OFF, (uint32_t)ENTRY);
	elf_phdr(x, 0, 1, DATA_OFF, LOAD_GPA, DATA_LEN, LOAD_MEMSZ);
	elf_phdr(x, 1, 4, NOTE_OFF, 0, nl, nl);
	for (size_t i = 0; i < DATA_LEN; i++)
		x->b[DATA_OFF + i] = (uint8_t)(i ^ 0x5a);
}

static int setup(void **state)
{
	struct fake_mem *f = malloc(sizeof(*f));
	if (!f || fake_mem_init(f, 64 * MiB) < 0)
		return -1;
	memset(f->host[0], 0xcc, 64 * MiB); /* so zero-fill is visible */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_mem_free(*state);
	free(*state);
	return 0;
}

static int load(struct fake_mem *f, struct elf *x, struct x86_kernel *k, struct err *e)
{
	err_clear(e);
	return x86_pvh_elf_load(&f->m, x->b, x->size, k, e);
}

static void test_valid(void **state)
{
	struct fake_mem *f = *state;
	struct elf x;
	elf_make(&x);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(f, &x, &k, &e), 0);
	assert_int_equal(k.kind, X86_BOOT_PVH);
	assert_int_equal(k.entry, ENTRY);
	assert_int_equal(k.load_addr, LOAD_GPA);
	assert_int_equal(k.load_end, LOAD_GPA + LOAD_MEMSZ);
	assert_int_equal(k.initrd_addr_max, 0xffffffffULL);
	assert_int_equal(k.cmdline_max, X86_CMDLINE_MAX - 1);
	assert_memory_equal(fake_at(f, LOAD_GPA, DATA_LEN), x.b + DATA_OFF, DATA_LEN);
	const uint8_t *bss = fake_at(f, LOAD_GPA + DATA_LEN, LOAD_MEMSZ - DATA_LEN);
	for (size_t i = 0; i < LOAD_MEMSZ - DATA_LEN; i++)
		assert_int_equal(bss[i], 0);
	assert_int_equal(*fake_at(f, LOAD_GPA + LOAD_MEMSZ, 1), 0xcc);

	struct x86_kernel k2;
	assert_int_equal(x86_kernel_load(&f->m, x.b, x.size, &k2, &e), 0);
	assert_int_equal(k2.kind, X86_BOOT_PVH);
}

static void test_note_in_section_only(void **state)
{
	struct elf x;
	elf_make(&x);
	/* Drop PT_NOTE (make it PT_NULL); describe the notes as SHT_NOTE. */
	wr32(x.b + 64 + 56, 0);
	wr64(x.b + 40, 0x800); /* shoff */
	wr16(x.b + 60, 2);     /* shnum: null + .notes */
	uint8_t *sh = x.b + 0x800 + 64;
	wr32(sh + 4, 7); /* SHT_NOTE */
	wr64(sh + 24, NOTE_OFF);
	wr64(sh + 32, 44);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), 0);
	assert_int_equal(k.entry, ENTRY);
}

static void test_no_note(void **state)
{
	struct elf x;
	elf_make(&x);
	wr32(x.b + NOTE_OFF + 24 + 8, 17); /* other Xen note type */
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -ENOTSUP);
	assert_non_null(strstr(e.msg, "PHYS32_ENTRY"));
}

static void test_bad_note_desc(void **state)
{
	struct elf x;
	elf_make(&x);
	wr32(x.b + NOTE_OFF + 24 + 4, 2); /* descsz 2 */
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
}

static void test_truncated_phdrs(void **state)
{
	struct elf x;
	elf_make(&x);
	struct x86_kernel k;
	struct err e;
	x.size = 64 + 56 + 10; /* second phdr cut */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "truncated"));
	x.size = 40; /* not even an ELF header */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	x.size = IMG_SIZE;
	wr64(x.b + 32, 0xfffffffffffffff0ULL); /* phoff wraps */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
}

static void test_segment_beyond_file(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, LOAD_GPA, IMG_SIZE, IMG_SIZE);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "beyond"));
	elf_phdr(&x, 0, 1, 0xffffffffffffff00ULL, LOAD_GPA, 0x200, 0x200); /* offset wraps */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	/* The note segment too. */
	elf_make(&x);
	elf_phdr(&x, 1, 4, NOTE_OFF, 0, 0x10000, 0x10000);
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
}

static void test_overflowing_paddr(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, 0xfffffffffffff000ULL, DATA_LEN, 0x2000);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "overflows"));
}

static void test_below_1mib(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, 0x8000, DATA_LEN, LOAD_MEMSZ);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "1 MiB"));
	/* ...and nothing was written there. */
	assert_int_equal(*fake_at(*state, 0x8000, 1), 0xcc);
}

static void test_outside_ram(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, 64 * MiB - 0x1000, DATA_LEN, LOAD_MEMSZ);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "guest RAM"));
}

static void test_filesz_gt_memsz(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, LOAD_GPA, DATA_LEN, DATA_LEN - 1);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
}

static void test_entry_outside(void **state)
{
	struct elf x;
	elf_make(&x);
	elf_note(&x, NOTE_OFF, 0x300000);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "entry"));
}

static void test_wrong_machine(void **state)
{
	struct elf x;
	struct x86_kernel k;
	struct err e;
	elf_make(&x);
	wr16(x.b + 18, 183); /* aarch64 */
	assert_int_equal(load(*state, &x, &k, &e), -ENOTSUP);
	elf_make(&x);
	x.b[4] = 1; /* ELF32 */
	assert_int_equal(load(*state, &x, &k, &e), -ENOTSUP);
	elf_make(&x);
	wr16(x.b + 54, 32); /* phentsize */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	elf_make(&x);
	wr16(x.b + 56, 0); /* no phdrs */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
	elf_make(&x);
	wr32(x.b + 64, 6); /* PT_PHDR instead of PT_LOAD: nothing to load */
	assert_int_equal(load(*state, &x, &k, &e), -EINVAL);
}

static void test_two_regions(void **state)
{
	(void)state;
	struct fake_mem f;
	assert_int_equal(fake_mem_init2(&f, 16 * MiB, 16 * MiB), 0);
	struct elf x;
	elf_make(&x);
	/* A third program header: a second PT_LOAD in the region at 4 GiB. */
	wr16(x.b + 56, 3);
	elf_phdr(&x, 2, 1, DATA_OFF, 4 * GiB, DATA_LEN, LOAD_MEMSZ);
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(&f, &x, &k, &e), 0);
	assert_int_equal(k.load_addr, LOAD_GPA);
	assert_int_equal(k.load_end, 4 * GiB + LOAD_MEMSZ);
	assert_memory_equal(fake_at(&f, 4 * GiB, DATA_LEN), x.b + DATA_OFF, DATA_LEN);
	/* The entry must lie in a loaded segment: not in the 4 GiB one. */
	elf_phdr(&x, 0, 1, DATA_OFF, 8 * MiB, DATA_LEN, LOAD_MEMSZ);
	assert_int_equal(load(&f, &x, &k, &e), -EINVAL);
	/* A segment straddling the end of the low region is rejected. */
	elf_make(&x);
	elf_phdr(&x, 0, 1, DATA_OFF, 16 * MiB - 0x1000, DATA_LEN, LOAD_MEMSZ);
	elf_note(&x, NOTE_OFF, (uint32_t)(16 * MiB - 0x1000));
	assert_int_equal(load(&f, &x, &k, &e), -ENOSPC);
	fake_mem_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_in_section_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_note_desc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_phdrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflowing_paddr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_below_1mib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filesz_gt_memsz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_machine, setup, teardown),
		cmocka_unit_test(test_two_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
