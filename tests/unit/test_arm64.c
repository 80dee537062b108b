/* SPDX-License-Identifier: MIT */
/* aarch64 boot: the Image loader and initrd placement on fake memory, and
 * the device tree built and read back with libfdt (runs on every host). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/aarch64/layout.h"
#include "boot/boot.h"
#include "fake_mem.h"

#define RAM ARM64_RAM_BASE

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An Image of size bytes: header fields as given, a byte pattern after. */
static uint8_t *img_make(size_t size, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	uint8_t *b = calloc(1, size);
	assert_non_null(b);
	for (size_t i = ARM64_IMAGE_HDR_SIZE; i < size; i++)
		b[i] = (uint8_t)(i * 7 + 1);
	put64(b + 8, text_offset);
	put64(b + 16, image_size);
	put64(b + 24, flags);
	b[56] = 'A';
	b[57] = 'R';
	b[58] = 'M';
	b[59] = 0x64;
	return b;
}

static void test_image_load(void **state)
{
	(void)state;
	struct fake_mem f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(fake_mem_add(&f, RAM, 64 * MiB), 0);
	/* dirty the bss range: the loader must zero it */
	memset(gm_ptr(&f.m, RAM, 64 * MiB), 0xee, 64 * MiB);
	uint8_t *b = img_make(64 * 1024, 0x80000, 3 * MiB, 0xa);
	struct arm64_image k;
	struct err e = {0};
	assert_int_equal(arm64_image_load(&f.m, RAM, 64 * MiB, b, 64 * 1024, &k, &e), 0);
	assert_int_equal(k.text_offset, 0x80000);
	assert_int_equal(k.image_size, 3 * MiB);
	assert_int_equal(k.load_addr, RAM + 0x80000);
	assert_int_equal(k.load_end, RAM + 0x80000 + 3 * MiB);
	assert_memory_equal(gm_ptr(&f.m, k.load_addr, 64 * 1024), b, 64 * 1024);
	const uint8_t *bss = gm_ptr(&f.m, k.load_addr + 64 * 1024, 3 * MiB - 64 * 1024);
	for (size_t i = 0; i < 3 * MiB - 64 * 1024; i++)
		if (bss[i])
			fail_msg("bss byte %zu not zeroed", i);
	/* nothing below the load address was touched */
	assert_int_equal(*(uint8_t *)gm_ptr(&f.m, k.load_addr - 1, 1), 0xee);

	/* the initrd: page aligned, as high as the limit lets it, after the kernel */
	uint8_t rd[5000];
	memset(rd, 0x5a, sizeof(rd));
	uint64_t gpa = 0;
	uint64_t limit = RAM + 64 * MiB - 2 * MiB;
	assert_int_equal(arm64_initrd_load(&f.m, limit, &k, rd, sizeof(rd), &gpa, &e), 0);
	assert_int_equal(gpa & 0xfff, 0);
	assert_true(gpa + sizeof(rd) <= limit && gpa + sizeof(rd) + 4096 > limit);
	assert_memory_equal(gm_ptr(&f.m, gpa, sizeof(rd)), rd, sizeof(rd));
	/* too big for the room between the kernel and the limit */
	e = (struct err){0};
	assert_int_equal(
		arm64_initrd_load(&f.m, k.load_end + 8192, &k, rd, sizeof(rd) * 2, &gpa, &e),
		-ENOSPC);
	assert_non_null(strstr(e.msg, "do not fit"));
	e = (struct err){0};
	assert_int_equal(arm64_initrd_load(&f.m, limit, &k, rd, 0, &gpa, &e), -EINVAL);
	free(b);
	free(f.host[0]);
}

/* Each malformed header is refused with a message naming the problem. */
static void test_image_bad(void **state)
{
	(void)state;
	struct fake_mem f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(fake_mem_add(&f, RAM, 16 * MiB), 0);
	static const struct {
		size_t size;
		uint64_t text_offset, image_size, flags;
		int magic_ok;
		int err;
		const char *msg;
	} cases[] = {
		{63, 0, 4096, 0, 1, EINVAL, "too short"},
		{4096, 0, 4096, 0, 0, EINVAL, "not an arm64 Image"},
		{4096, 0, 4096, 1, 1, EINVAL, "big-endian"},
		{4096, 0, 0, 0, 1, EINVAL, "image_size 0"},
		{4096, 0, 4095, 0, 1, EINVAL, "less than the file"},
		{4096, 0x200000, 4096, 0, 1, EINVAL, "text_offset"},
		{4096, 0x80004, 4096, 0, 1, EINVAL, "text_offset"},
		{4096, 0, 17 * MiB, 0, 1, ENOSPC, "needs 17 MiB"},
		{4096, 0x80000, 16 * MiB, 0, 1, ENOSPC, "needs 17 MiB"},
		{4096, 0, UINT64_MAX, 0, 1, EINVAL, "too large"},
		{4096, 0, 1ULL << 63, 0, 1, EINVAL, "too large"},
		{4096, 0x1000, ARM64_RAM_MAX, 0, 1, ENOSPC, "needs 524289 MiB"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t sz = cases[i].size < 64 ? 64 : cases[i].size;
		uint8_t *b =
			img_make(sz, cases[i].text_offset, cases[i].image_size, cases[i].flags);
		if (!cases[i].magic_ok)
			b[59] = 0x65;
		struct arm64_image k;
		struct err e = {0};
		int r = arm64_image_load(&f.m, RAM, 16 * MiB, b, cases[i].size, &k, &e);
		if (r != -cases[i].err || !strstr(e.msg, cases[i].msg))
			fail_msg("case %u: %d '%s', wanted -%d '%s'", i, r, e.msg, cases[i].err,
				 cases[i].msg);
		free(b);
	}
	/* a RAM base off 2 MiB */
	uint8_t *b = img_make(4096, 0, 4096, 0);
	struct arm64_image k;
	struct err e = {0};
	assert_int_equal(arm64_image_load(&f.m, RAM + 4096, 8 * MiB, b, 4096, &k, &e), -EINVAL);
	free(b);
	free(f.host[0]);
}

/* ---- the device tree ------------------------------------------------------ */

static const struct arm64_fdt_dev test_devs[3] = {
	{ARM64_VIRTIO_MMIO_BASE, 0x1000, 1},
	{ARM64_VIRTIO_MMIO_BASE + 0x1000, 0x1000, 2},
	{ARM64_VIRTIO_MMIO_BASE + 0x2000, 0x1000, 3},
};

static struct arm64_fdt_cfg cfg_v3(unsigned ncpus)
{
	return (struct arm64_fdt_cfg){
		.ncpus = ncpus,
		.mem_base = RAM,
		.mem_size = 256 * MiB,
		.gic_version = 3,
		.gic_dist = ARM64_GIC_DIST_BASE,
		.gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist = ARM64_GIC_REDIST_BASE,
		.gic_redist_size = ARM64_GIC_REDIST_SIZE * ncpus,
		.uart_base = ARM64_UART_BASE,
		.uart_size = ARM64_UART_SIZE,
		.uart_spi = ARM64_UART_SPI,
		.uart_clock = ARM64_UART_CLOCK,
		.rtc_base = ARM64_RTC_BASE,
		.rtc_size = 0x1000,
		.apb_clock = ARM64_APB_CLOCK,
		.devs = test_devs,
		.ndevs = 3,
		.cmdline = "console=ttyS0 quiet",
		.initrd_gpa = RAM + 100 * MiB,
		.initrd_size = 12345,
	};
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	int node = fdt_path_offset(fdt, path);
	if (node < 0)
		fail_msg("no node %s", path);
	const void *p = fdt_getprop(fdt, node, name, len);
	if (!p)
		fail_msg("no %s in %s", name, path);
	return p;
}

static uint32_t cell(const void *p, int i)
{
	return fdt32_to_cpu(((const fdt32_t *)p)[i]);
}

static uint64_t cell2(const void *p, int i)
{
	return (uint64_t)cell(p, i) << 32 | cell(p, i + 1);
}

static void test_fdt_v3(void **state)
{
	(void)state;
	static uint8_t buf[ARM64_FDT_MAX];
	struct arm64_fdt_cfg c = cfg_v3(2);
	size_t len = 0;
	struct err e = {0};
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), 0);
	assert_int_equal(fdt_check_header(buf), 0);
	assert_int_equal(len, fdt_totalsize(buf));
	int l;
	assert_string_equal(prop(buf, "/chosen", "bootargs", &l), "console=ttyS0 quiet");
	assert_int_equal(cell2(prop(buf, "/chosen", "linux,initrd-start", &l), 0), RAM + 100 * MiB);
	assert_int_equal(cell2(prop(buf, "/chosen", "linux,initrd-end", &l), 0),
			 RAM + 100 * MiB + 12345);
	/* stdout-path names the UART node, which is a 16550 on SPI 0 */
	const char *out = prop(buf, "/chosen", "stdout-path", &l);
	assert_true(fdt_path_offset(buf, out) >= 0);
	assert_string_equal(prop(buf, out, "compatible", &l), "ns16550a");
	const void *ur = prop(buf, out, "reg", &l);
	assert_int_equal(l, 16);
	assert_int_equal(cell2(ur, 0), ARM64_UART_BASE);
	const void *ui = prop(buf, out, "interrupts", &l);
	assert_int_equal(l, 12);
	assert_int_equal(cell(ui, 0), 0); /* SPI */
	assert_int_equal(cell(ui, 1), ARM64_UART_SPI);
	assert_int_equal(cell(prop(buf, out, "clock-frequency", &l), 0), ARM64_UART_CLOCK);

	const void *m = prop(buf, "/memory@40000000", "reg", &l);
	assert_int_equal(cell2(m, 0), RAM);
	assert_int_equal(cell2(m, 2), 256 * MiB);
	assert_string_equal(prop(buf, "/memory@40000000", "device_type", &l), "memory");

	/* cpus: one node per vCPU, reg = MPIDR, PSCI */
	int cpus = fdt_path_offset(buf, "/cpus");
	assert_true(cpus >= 0);
	int n = 0, child;
	fdt_for_each_subnode(child, buf, cpus)
	{
		const void *r = fdt_getprop(buf, child, "reg", &l);
		assert_non_null(r);
		assert_int_equal(cell2(r, 0), arm64_mpidr((unsigned)n));
		assert_string_equal(fdt_getprop(buf, child, "enable-method", &l), "psci");
		n++;
	}
	assert_int_equal(n, 2);
	assert_string_equal(prop(buf, "/psci", "method", &l), "hvc");
	assert_string_equal(prop(buf, "/psci", "compatible", &l), "arm,psci-0.2");

	/* the GIC: v3, distributor and redistributors, the interrupt parent */
	const char *gic = "/intc@8000000";
	assert_string_equal(prop(buf, gic, "compatible", &l), "arm,gic-v3");
	const void *g = prop(buf, gic, "reg", &l);
	assert_int_equal(l, 32);
	assert_int_equal(cell2(g, 0), ARM64_GIC_DIST_BASE);
	assert_int_equal(cell2(g, 4), ARM64_GIC_REDIST_BASE);
	assert_int_equal(cell2(g, 6), 2 * ARM64_GIC_REDIST_SIZE);
	assert_int_equal(cell(prop(buf, gic, "#interrupt-cells", &l), 0), 3);
	uint32_t ph = cell(prop(buf, gic, "phandle", &l), 0);
	assert_int_equal(cell(prop(buf, "/", "interrupt-parent", &l), 0), ph);

	/* the timer: four PPIs, level low, no CPU mask on v3 */
	const void *t = prop(buf, "/timer", "interrupts", &l);
	assert_int_equal(l, 48);
	assert_int_equal(cell(t, 0), 1);
	assert_int_equal(cell(t, 1), 13);
	assert_int_equal(cell(t, 2), 8);
	assert_int_equal(cell(t, 7), 11);

	/* one virtio,mmio node per device, on its SPI, edge rising */
	n = 0;
	for (int node = fdt_node_offset_by_compatible(buf, -1, "virtio,mmio"); node >= 0;
	     node = fdt_node_offset_by_compatible(buf, node, "virtio,mmio")) {
		const void *r = fdt_getprop(buf, node, "reg", &l);
		const void *i = fdt_getprop(buf, node, "interrupts", &l);
		assert_non_null(r);
		assert_non_null(i);
		assert_true(n < 3);
		assert_int_equal(cell2(r, 0), test_devs[n].base);
		assert_int_equal(cell2(r, 2), 0x1000);
		assert_int_equal(cell(i, 0), 0);
		assert_int_equal(cell(i, 1), test_devs[n].spi);
		assert_int_equal(cell(i, 2), 1);
		n++;
	}
	assert_int_equal(n, 3);

	/* the PL031: a primecell with its apb_pclk, a fixed clock; no interrupt */
	const char *rtc = "/rtc@9010000";
	const char *rc = prop(buf, rtc, "compatible", &l);
	assert_int_equal(l, (int)sizeof("arm,pl031\0arm,primecell"));
	assert_string_equal(rc, "arm,pl031");
	assert_string_equal(rc + sizeof("arm,pl031"), "arm,primecell");
	const void *rr = prop(buf, rtc, "reg", &l);
	assert_int_equal(cell2(rr, 0), ARM64_RTC_BASE);
	assert_int_equal(cell2(rr, 2), 0x1000);
	assert_string_equal(prop(buf, rtc, "clock-names", &l), "apb_pclk");
	uint32_t clk = cell(prop(buf, rtc, "clocks", &l), 0);
	int cn = fdt_node_offset_by_phandle(buf, clk);
	assert_true(cn >= 0);
	assert_string_equal(fdt_getprop(buf, cn, "compatible", &l), "fixed-clock");
	assert_int_equal(
		fdt32_to_cpu(*(const fdt32_t *)fdt_getprop(buf, cn, "clock-frequency", &l)),
		ARM64_APB_CLOCK);
	assert_int_not_equal(clk, ph);
	assert_null(fdt_getprop(buf, fdt_path_offset(buf, rtc), "interrupts", &l));
	/* without one: no node */
	c.rtc_size = 0;
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), 0);
	assert_true(fdt_path_offset(buf, rtc) < 0);
	c.rtc_size = 0x1000;

	/* no initrd: no initrd properties */
	c.initrd_size = 0;
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), 0);
	assert_null(fdt_getprop(buf, fdt_path_offset(buf, "/chosen"), "linux,initrd-start", &l));
}

static void test_fdt_v2(void **state)
{
	(void)state;
	static uint8_t buf[ARM64_FDT_MAX];
	struct arm64_fdt_cfg c = cfg_v3(4);
	c.gic_version = 2;
	c.gic_redist = ARM64_GICV2_CPU_BASE;
	c.gic_redist_size = ARM64_GICV2_CPU_SIZE;
	size_t len;
	struct err e = {0};
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), 0);
	int l;
	assert_string_equal(prop(buf, "/intc@8000000", "compatible", &l), "arm,cortex-a15-gic");
	const void *g = prop(buf, "/intc@8000000", "reg", &l);
	assert_int_equal(cell2(g, 4), ARM64_GICV2_CPU_BASE);
	/* GICv2 PPIs carry the mask of 4 CPUs */
	const void *t = prop(buf, "/timer", "interrupts", &l);
	assert_int_equal(cell(t, 2), 8 | (0xf << 8));
	/* v2 takes 8 CPUs at most; v3 takes what the redistributor room holds */
	c.ncpus = 9;
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "GICv2 takes 1 to 8"));
}

/* Overflow: every buffer size below what the tree needs is refused with
 * -ENOSPC and a message, never written past; big configs fit or fail
 * cleanly. */
static void test_fdt_overflow(void **state)
{
	(void)state;
	struct arm64_fdt_cfg c = cfg_v3(8);
	static uint8_t full[ARM64_FDT_MAX];
	size_t need;
	struct err e = {0};
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &need, &e), 0);
	uint8_t *buf = malloc(need + 64);
	assert_non_null(buf);
	for (size_t size = 0; size < need; size += (size < 256 ? 1 : 13)) {
		memset(buf, 0xa5, need + 64);
		size_t len = 1;
		e = (struct err){0};
		int r = arm64_fdt_build(buf, size, &c, &len, &e);
		if (r != -ENOSPC || len != 0 || !strstr(e.msg, "does not fit"))
			fail_msg("size %zu: %d len %zu '%s'", size, r, len, e.msg);
		for (size_t i = size; i < need + 64; i++)
			if (buf[i] != 0xa5)
				fail_msg("size %zu: byte %zu written", size, i);
	}
	size_t len;
	assert_int_equal(arm64_fdt_build(buf, need, &c, &len, &e), 0);
	assert_int_equal(len, need);
	free(buf);

	/* the most vCPUs GICv3 takes here and every device slot fit in 64 KiB */
	static struct arm64_fdt_dev many[64];
	for (unsigned i = 0; i < 64; i++)
		many[i] =
			(struct arm64_fdt_dev){ARM64_VIRTIO_MMIO_BASE + i * 0x1000, 0x1000, 1 + i};
	c = cfg_v3(ARM64_GICV3_MAX_CPUS);
	c.devs = many;
	c.ndevs = 64;
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), 0);
	assert_int_equal(fdt_check_header(full), 0);
	/* ... a long command line with them does not */
	char *line = malloc(60000);
	assert_non_null(line);
	memset(line, 'x', 59999);
	line[59999] = '\0';
	c.cmdline = line;
	e = (struct err){0};
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "does not fit in 65536 bytes"));
	free(line);
	/* bad configs */
	c = cfg_v3(0);
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), -EINVAL);
	c = cfg_v3(ARM64_GICV3_MAX_CPUS + 1);
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), -EINVAL);
	c = cfg_v3(1);
	c.gic_version = 4;
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), -EINVAL);
	c = cfg_v3(1);
	many[0].spi = ARM64_GIC_NR_IRQS - 32;
	c.devs = many;
	assert_int_equal(arm64_fdt_build(full, sizeof(full), &c, &len, &e), -EINVAL);
}

/* The VM Generation ID node as Linux 6.10+'s vmgenid driver matches it
 * (drivers/virt/vmgenid.c; the microsoft,vmgenid binding): compatible,
 * reg = the ID's 16 bytes, outside the memory node (Linux maps it as a
 * device's), interrupts = an SPI, edge rising. None without an address;
 * refused inside RAM, misaligned or on an SPI the GIC lacks. */
static void test_fdt_vmgenid(void **state)
{
	(void)state;
	static uint8_t buf[ARM64_FDT_MAX];
	struct arm64_fdt_cfg c = cfg_v3(1);
	c.mem_size = 256 * MiB - ARM64_VMGENID_RESERVE;
	c.vmgenid_gpa = RAM + 256 * MiB - ARM64_VMGENID_RESERVE;
	c.vmgenid_spi = ARM64_VMGENID_SPI;
	size_t len = 0;
	struct err e = {0};
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &c, &len, &e), 0);
	char path[64];
	snprintf(path, sizeof(path), "/vmgenid@%llx", (unsigned long long)c.vmgenid_gpa);
	int l;
	assert_string_equal(prop(buf, path, "compatible", &l), "microsoft,vmgenid");
	const void *r = prop(buf, path, "reg", &l);
	assert_int_equal(l, 16);
	assert_int_equal(cell2(r, 0), c.vmgenid_gpa);
	assert_int_equal(cell2(r, 2), 16);
	const void *i = prop(buf, path, "interrupts", &l);
	assert_int_equal(l, 12);
	assert_int_equal(cell(i, 0), 0); /* SPI */
	assert_int_equal(cell(i, 1), ARM64_VMGENID_SPI);
	assert_int_equal(cell(i, 2), 1); /* edge rising */
	/* the memory node ends where the ID's reserve starts */
	const void *m = prop(buf, "/memory@40000000", "reg", &l);
	assert_true(cell2(m, 0) + cell2(m, 2) <= c.vmgenid_gpa);
	/* the SPI is no device slot's and the GIC has it */
	assert_true(ARM64_VMGENID_SPI >= ARM64_VIRTIO_SPI_BASE + 95);
	assert_true(ARM64_VMGENID_SPI < ARM64_GIC_NR_IRQS - 32);

	struct arm64_fdt_cfg none = cfg_v3(1);
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &none, &len, &e), 0);
	assert_true(fdt_node_offset_by_compatible(buf, -1, "microsoft,vmgenid") < 0);

	struct arm64_fdt_cfg bad = c;
	bad.vmgenid_gpa = RAM + 128 * MiB; /* inside the memory node */
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &bad, &len, &e), -EINVAL);
	bad.vmgenid_gpa = RAM - 8; /* its last bytes in RAM */
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &bad, &len, &e), -EINVAL);
	bad.vmgenid_gpa = c.vmgenid_gpa + 4;
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &bad, &len, &e), -EINVAL);
	bad = c;
	bad.vmgenid_spi = ARM64_GIC_NR_IRQS - 32;
	assert_int_equal(arm64_fdt_build(buf, sizeof(buf), &bad, &len, &e), -EINVAL);
}

static void test_mpidr(void **state)
{
	(void)state;
	assert_int_equal(arm64_mpidr(0), 0);
	assert_int_equal(arm64_mpidr(15), 15);
	assert_int_equal(arm64_mpidr(16), 0x100);
	assert_int_equal(arm64_mpidr(35), 0x203);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_load),   cmocka_unit_test(test_image_bad),
		cmocka_unit_test(test_fdt_v3),	     cmocka_unit_test(test_fdt_v2),
		cmocka_unit_test(test_fdt_overflow), cmocka_unit_test(test_fdt_vmgenid),
		cmocka_unit_test(test_mpidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
