/* SPDX-License-Identifier: MIT */
/* bzImage loader: synthetic images built here, plus a real kernel when
 * CVMM_TEST_BZIMAGE names one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "fake_mem.h"

struct bz_opts {
	unsigned setup_sects; /* as stored (0 means 4) */
	size_t pm_len;
	uint16_t version;
	uint16_t xlf;
	uint8_t relocatable;
	uint32_t align;
	uint64_t pref;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_max;
};

static struct bz_opts bz_default(void)
{
	return (struct bz_opts){
		.setup_sects = 4,
		.pm_len = 8192,
		.version = 0x020f,
		.xlf = 0x3,
		.relocatable = 1,
		.align = 0x200000,
		.pref = 0x1000000,
		.init_size = 0x400000,
		.cmdline_size = 2047,
		.initrd_max = 0x7fffffff,
	};
}

/* Builds an image into a new buffer; *size gets its length. */
static uint8_t *bz_make(const struct bz_opts *o, size_t *size)
{
	unsigned ss = o->setup_sects ? o->setup_sects : 4;
	size_t pm_off = (ss + 1) * 512;
	*size = pm_off + o->pm_len;
	uint8_t *b = calloc(1, *size);
	assert_non_null(b);
	b[0x1f1] = (uint8_t)o->setup_sects;
	wr32(b + 0x1f4, (uint32_t)(o->pm_len / 16));
	wr16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	wr16(b + 0x206, o->version);
	b[0x211] = 0x01; /* LOADED_HIGH */
	wr32(b + 0x22c, o->initrd_max);
	wr32(b + 0x230, o->align);
	b[0x234] = o->relocatable;
	b[0x235] = 21;
	wr16(b + 0x236, o->xlf);
	wr32(b + 0x238, o->cmdline_size);
	wr64(b + 0x258, o->pref);
	wr32(b + 0x260, o->init_size);
	for (size_t i = 0; i < o->pm_len; i++)
		b[pm_off + i] = (uint8_t)(i * 7 + 1);
	return b;
}

static int setup(void **state)
{
	struct fake_mem *f = malloc(sizeof(*f));
	if (!f || fake_mem_init(f, 64 * MiB) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_mem_free(*state);
	free(*state);
	return 0;
}

static int load(struct fake_mem *f, const struct bz_opts *o, struct x86_kernel *k, struct err *e)
{
	size_t size;
	uint8_t *img = bz_make(o, &size);
	err_clear(e);
	int r = x86_bzimage_load(&f->m, img, size, k, e);
	free(img);
	return r;
}

static void test_valid(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size);
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), 0);
	assert_int_equal(k.kind, X86_BOOT_LINUX64);
	assert_int_equal(k.load_addr, X86_HIMEM_START);
	assert_int_equal(k.entry, X86_HIMEM_START + 0x200);
	assert_int_equal(k.version, 0x020f);
	/* Relocatable: the kernel runs at max(align_up(1 MiB), pref). */
	assert_int_equal(k.load_end, 0x1000000 + 0x400000);
	assert_int_equal(k.setup_hdr_len, 0x26c - 0x1f1);
	assert_memory_equal(k.setup_hdr, img + 0x1f1, k.setup_hdr_len);
	assert_memory_equal(k.setup_hdr + (0x202 - 0x1f1), "HdrS", 4);
	assert_int_equal(k.cmdline_max, 2047);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	size_t pm_off = 5 * 512;
	assert_memory_equal(fake_at(f, X86_HIMEM_START, o.pm_len), img + pm_off, o.pm_len);
	free(img);

	/* Same through format detection. */
	img = bz_make(&o, &size);
	struct x86_kernel k2;
	assert_int_equal(x86_kernel_load(&f->m, img, size, &k2, &e), 0);
	assert_int_equal(k2.kind, X86_BOOT_LINUX64);
	assert_int_equal(k2.entry, k.entry);
	free(img);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct bz_opts o = bz_default();
	o.setup_sects = 0;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), 0);
	/* The first protected-mode byte (i = 0 -> 1) came from offset 5*512. */
	assert_int_equal(*fake_at(*state, X86_HIMEM_START, 1), 1);
}

static void test_pref_below_align(void **state)
{
	struct bz_opts o = bz_default();
	o.pref = 0; /* runtime start = align_up(1 MiB, 2 MiB) */
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), 0);
	assert_int_equal(k.load_end, 0x200000 + 0x400000);
}

static void test_not_relocatable(void **state)
{
	struct bz_opts o = bz_default();
	o.relocatable = 0;
	o.pref = 0x200000;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), 0);
	assert_int_equal(k.load_addr, 0x200000);
	assert_int_equal(k.entry, 0x200200);
	assert_int_equal(k.load_end, 0x200000 + 0x400000);
	assert_int_equal(*fake_at(*state, 0x200000, 1), 1);

	o.pref = 0x9000; /* below 1 MiB */
	assert_int_equal(load(*state, &o, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "below 1 MiB"));
}

static void test_truncated(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size);

	size_t cuts[] = {0, 0x100, 0x205, 0x250, 5 * 512, 5 * 512 + 100};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		err_clear(&e);
		int r = x86_bzimage_load(&f->m, img, cuts[i], &k, &e);
		assert_true(r == -EINVAL);
		assert_non_null(strstr(e.msg, "truncated"));
	}
	/* x86_kernel_load on too-short input: unknown format. */
	err_clear(&e);
	assert_int_equal(x86_kernel_load(&f->m, img, 0x100, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unknown format"));
	assert_int_equal(x86_kernel_load(&f->m, NULL, 0, &k, &e), -EINVAL);
	free(img);
}

static void test_bad_magic(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size);
	img[0x202] = 'X';
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "HdrS"));
	err_clear(&e);
	assert_int_equal(x86_kernel_load(&f->m, img, size, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unknown format"));
	free(img);
}

static void test_old_protocol(void **state)
{
	struct bz_opts o = bz_default();
	o.version = 0x020b;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), -ENOTSUP);
	assert_non_null(strstr(e.msg, "2.11"));
}

static void test_no_kernel64(void **state)
{
	struct bz_opts o = bz_default();
	o.xlf = 0x2;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), -ENOTSUP);
	assert_non_null(strstr(e.msg, "XLF_KERNEL_64"));
}

static void test_setup_sects_huge(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size); /* 5*512 + 8192 bytes */
	img[0x1f1] = 255;		   /* setup would need 128 KiB */
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "truncated"));
	free(img);
}

static void test_syssize_beyond_file(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size);
	wr32(img + 0x1f4, 0xffffffff);
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "header says"));
	free(img);
}

static void test_init_size_too_big(void **state)
{
	struct bz_opts o = bz_default();
	o.init_size = 0xf0000000; /* 16 MiB + 3.75 GiB in a 64 MiB guest */
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "init_size"));

	o = bz_default();
	o.relocatable = 0;
	o.pref = 0xfffffffffffff000ULL; /* overflows */
	assert_int_equal(load(*state, &o, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "overflow"));
}

static void test_bad_alignment(void **state)
{
	struct bz_opts o = bz_default();
	o.align = 0x3000;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "kernel_alignment"));
	o.align = 0;
	assert_int_equal(load(*state, &o, &k, &e), -EINVAL);
}

static void test_short_header(void **state)
{
	struct fake_mem *f = *state;
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	size_t size;
	uint8_t *img = bz_make(&o, &size);
	img[0x201] = 0x30; /* header would end at 0x232, before init_size */
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), -EINVAL);
	img[0x201] = 0xff; /* longest possible header: copied up to the limit */
	err_clear(&e);
	assert_int_equal(x86_bzimage_load(&f->m, img, size, &k, &e), 0);
	assert_int_equal(k.setup_hdr_len, X86_SETUP_HDR_MAX);
	free(img);
}

static void test_limits(void **state)
{
	struct bz_opts o = bz_default();
	o.cmdline_size = 0xffffffff;
	o.initrd_max = 0;
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(*state, &o, &k, &e), 0);
	assert_int_equal(k.cmdline_max, X86_CMDLINE_MAX - 1);
	assert_int_equal(k.initrd_addr_max, 0x37ffffff);
}

static void test_two_regions(void **state)
{
	(void)state;
	struct fake_mem f;
	assert_int_equal(fake_mem_init2(&f, 32 * MiB, 16 * MiB), 0);
	struct bz_opts o = bz_default();
	struct x86_kernel k;
	struct err e;
	assert_int_equal(load(&f, &o, &k, &e), 0); /* ends at 20 MiB */
	o.init_size = 32 * MiB;			   /* would end at 48 MiB: beyond the low region */
	assert_int_equal(load(&f, &o, &k, &e), -ENOSPC);
	fake_mem_free(&f);
}

static void test_real_kernel(void **state)
{
	(void)state;
	const char *path = getenv("CVMM_TEST_BZIMAGE");
	if (!path || !*path)
		skip();
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	long len = ftell(fp);
	assert_true(len > 0);
	rewind(fp);
	uint8_t *img = malloc((size_t)len);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);

	struct fake_mem f;
	assert_int_equal(fake_mem_init(&f, 512 * MiB), 0);
	struct x86_kernel k;
	struct err e;
	err_clear(&e);
	int r = x86_kernel_load(&f.m, img, (size_t)len, &k, &e);
	if (r < 0)
		print_error("%s: %s\n", path, e.msg);
	assert_int_equal(r, 0);
	assert_int_equal(k.kind, X86_BOOT_LINUX64);
	assert_true(k.version >= 0x020c);
	assert_int_equal(k.entry, X86_HIMEM_START + 0x200);
	assert_true(k.load_end > k.load_addr);
	assert_memory_equal(k.setup_hdr + (0x202 - 0x1f1), "HdrS", 4);
	print_message("%s: protocol %u.%02u, load_end 0x%llx, cmdline_max %u\n", path,
		      k.version >> 8, k.version & 0xff, (unsigned long long)k.load_end,
		      k.cmdline_max);
	fake_mem_free(&f);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_zero_means_four, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pref_below_align, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_relocatable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_kernel64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syssize_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_size_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test(test_two_regions),
		cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
