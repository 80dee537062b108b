/* SPDX-License-Identifier: MIT */
/* The aarch64 guest's device tree, written with libfdt's sequential-write
 * API into a caller-sized buffer (booting.rst; the bindings for psci,
 * arm,gic-v3, arm,cortex-a15-gic, arm,armv8-timer, ns16550a, virtio,mmio,
 * microsoft,vmgenid). */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "arch/aarch64/layout.h"
#include "boot/boot.h"

#define PHANDLE_GIC	1
#define PHANDLE_APB_CLK 2
#define GIC_SPI		0
#define GIC_PPI		1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH	4
#define IRQ_LEVEL_LOW	8

uint64_t arm64_mpidr(unsigned i)
{
	/* KVM's reset value (Aff0 holds 16 CPUs, as GICv3's target lists) */
	return (uint64_t)(i & 0xf) | (uint64_t)((i >> 4) & 0xff) << 8 |
	       (uint64_t)((i >> 12) & 0xff) << 16;
}

/* The first libfdt error sticks; each step is skipped after one. */
struct fdtw {
	void *fdt;
	int err;
};

static void w_check(struct fdtw *w, int r)
{
	if (r < 0 && !w->err)
		w->err = r;
}

static void w_begin(struct fdtw *w, const char *name)
{
	if (!w->err)
		w_check(w, fdt_begin_node(w->fdt, name));
}

static void w_end(struct fdtw *w)
{
	if (!w->err)
		w_check(w, fdt_end_node(w->fdt));
}

static void w_prop(struct fdtw *w, const char *name, const void *v, int len)
{
	if (!w->err)
		w_check(w, fdt_property(w->fdt, name, v, len));
}

static void w_str(struct fdtw *w, const char *name, const char *s)
{
	w_prop(w, name, s, (int)strlen(s) + 1);
}

static void w_u32(struct fdtw *w, const char *name, uint32_t v)
{
	fdt32_t c = cpu_to_fdt32(v);
	w_prop(w, name, &c, sizeof(c));
}

static void w_u64(struct fdtw *w, const char *name, uint64_t v)
{
	fdt64_t c = cpu_to_fdt64(v);
	w_prop(w, name, &c, sizeof(c));
}

static void w_cells(struct fdtw *w, const char *name, const uint32_t *v, unsigned n)
{
	fdt32_t c[12];
	for (unsigned i = 0; i < n && i < 12; i++)
		c[i] = cpu_to_fdt32(v[i]);
	w_prop(w, name, c, (int)(n * sizeof(c[0])));
}

/* reg with #address-cells = #size-cells = 2 */
static void w_reg(struct fdtw *w, const uint64_t *v, unsigned n)
{
	uint32_t c[8];
	for (unsigned i = 0; i < n && i < 4; i++) {
		c[2 * i] = (uint32_t)(v[i] >> 32);
		c[2 * i + 1] = (uint32_t)v[i];
	}
	w_cells(w, "reg", c, 2 * n);
}

static void w_node_name(char *buf, size_t len, const char *name, uint64_t addr)
{
	snprintf(buf, len, "%s@%llx", name, (unsigned long long)addr);
}

static int fdt_check_cfg(const struct arm64_fdt_cfg *c, struct err *e)
{
	if (c->gic_version != 2 && c->gic_version != 3)
		return err_set(e, EINVAL, "fdt: GIC version %u (2 or 3)", c->gic_version);
	unsigned max = c->gic_version == 3 ? ARM64_GICV3_MAX_CPUS : ARM64_GICV2_MAX_CPUS;
	if (c->ncpus == 0 || c->ncpus > max)
		return err_set(e, EINVAL, "fdt: %u vCPUs; GICv%u takes 1 to %u", c->ncpus,
			       c->gic_version, max);
	if (c->mem_size == 0)
		return err_set(e, EINVAL, "fdt: no memory");
	if (c->ndevs && !c->devs)
		return err_set(e, EINVAL, "fdt: no device list");
	for (unsigned i = 0; i < c->ndevs; i++)
		if (c->devs[i].spi >= ARM64_GIC_NR_IRQS - 32)
			return err_set(e, EINVAL, "fdt: device %u on SPI %u; the GIC has %u", i,
				       c->devs[i].spi, ARM64_GIC_NR_IRQS - 32);
	if (c->vmgenid_gpa) {
		uint64_t g = c->vmgenid_gpa;
		if (g % 8 || g > UINT64_MAX - ARM64_VMGENID_SIZE ||
		    (g + ARM64_VMGENID_SIZE > c->mem_base && g < c->mem_base + c->mem_size))
			return err_set(e, EINVAL,
				       "fdt: the VM generation ID at 0x%llx is not 8-byte aligned "
				       "or is in the memory node's RAM",
				       (unsigned long long)g);
		if (c->vmgenid_spi >= ARM64_GIC_NR_IRQS - 32)
			return err_set(e, EINVAL,
				       "fdt: the VM generation ID on SPI %u; the GIC has %u",
				       c->vmgenid_spi, ARM64_GIC_NR_IRQS - 32);
	}
	return 0;
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_cfg *c, size_t *len,
		    struct err *e)
{
	*len = 0;
	int r = fdt_check_cfg(c, e);
	if (r < 0)
		return r;
	if (size > ARM64_FDT_MAX)
		size = ARM64_FDT_MAX;
	struct fdtw w = {buf, 0};
	char name[48];
	w_check(&w, fdt_create(buf, (int)size));
	if (!w.err)
		w_check(&w, fdt_finish_reservemap(buf));
	w_begin(&w, "");
	w_str(&w, "compatible", "linux,dummy-virt");
	w_u32(&w, "#address-cells", 2);
	w_u32(&w, "#size-cells", 2);
	w_u32(&w, "interrupt-parent", PHANDLE_GIC);

	w_begin(&w, "chosen");
	w_str(&w, "bootargs", c->cmdline ? c->cmdline : "");
	if (c->initrd_size) {
		w_u64(&w, "linux,initrd-start", c->initrd_gpa);
		w_u64(&w, "linux,initrd-end", c->initrd_gpa + c->initrd_size);
	}
	w_node_name(name, sizeof(name), "/uart", c->uart_base);
	w_str(&w, "stdout-path", name);
	w_end(&w);

	w_node_name(name, sizeof(name), "memory", c->mem_base);
	w_begin(&w, name);
	w_str(&w, "device_type", "memory");
	uint64_t mem[2] = {c->mem_base, c->mem_size};
	w_reg(&w, mem, 2);
	w_end(&w);

	w_begin(&w, "cpus");
	w_u32(&w, "#address-cells", 2);
	w_u32(&w, "#size-cells", 0);
	for (unsigned i = 0; i < c->ncpus && !w.err; i++) {
		uint64_t mpidr = arm64_mpidr(i);
		w_node_name(name, sizeof(name), "cpu", mpidr);
		w_begin(&w, name);
		w_str(&w, "device_type", "cpu");
		w_str(&w, "compatible", "arm,arm-v8");
		w_str(&w, "enable-method", "psci");
		uint32_t reg[2] = {(uint32_t)(mpidr >> 32), (uint32_t)mpidr};
		w_cells(&w, "reg", reg, 2);
		w_end(&w);
	}
	w_end(&w);

	w_begin(&w, "psci");
	static const char psci_compat[] = "arm,psci-0.2\0arm,psci";
	w_prop(&w, "compatible", psci_compat, sizeof(psci_compat));
	w_str(&w, "method", "hvc");
	w_end(&w);

	w_node_name(name, sizeof(name), "intc", c->gic_dist);
	w_begin(&w, name);
	if (c->gic_version == 3) {
		w_str(&w, "compatible", "arm,gic-v3");
		uint64_t reg[4] = {c->gic_dist, c->gic_dist_size, c->gic_redist,
				   c->gic_redist_size};
		w_reg(&w, reg, 4);
		uint32_t maint[3] = {GIC_PPI, ARM64_GIC_MAINT_PPI, IRQ_LEVEL_HIGH};
		w_cells(&w, "interrupts", maint, 3);
	} else {
		w_str(&w, "compatible", "arm,cortex-a15-gic");
		uint64_t reg[4] = {c->gic_dist, 0x1000, c->gic_redist, c->gic_redist_size};
		w_reg(&w, reg, 4);
	}
	w_u32(&w, "#interrupt-cells", 3);
	w_prop(&w, "interrupt-controller", NULL, 0);
	w_u32(&w, "#address-cells", 2);
	w_u32(&w, "#size-cells", 2);
	w_u32(&w, "phandle", PHANDLE_GIC);
	w_end(&w);

	w_begin(&w, "timer");
	w_str(&w, "compatible", "arm,armv8-timer");
	w_prop(&w, "always-on", NULL, 0);
	/* GICv2 PPIs name their target CPUs in the flags' bits 8..15 */
	uint32_t ppi = IRQ_LEVEL_LOW;
	if (c->gic_version == 2)
		ppi |= ((1u << c->ncpus) - 1) << 8;
	uint32_t tirq[12] = {
		GIC_PPI, ARM64_TIMER_PPI_SEC,  ppi, GIC_PPI, ARM64_TIMER_PPI_PHYS, ppi,
		GIC_PPI, ARM64_TIMER_PPI_VIRT, ppi, GIC_PPI, ARM64_TIMER_PPI_HYP,  ppi};
	w_cells(&w, "interrupts", tirq, 12);
	w_end(&w);

	w_node_name(name, sizeof(name), "uart", c->uart_base);
	w_begin(&w, name);
	w_str(&w, "compatible", "ns16550a");
	uint64_t ureg[2] = {c->uart_base, c->uart_size};
	w_reg(&w, ureg, 2);
	w_u32(&w, "clock-frequency", c->uart_clock);
	uint32_t uirq[3] = {GIC_SPI, c->uart_spi, IRQ_LEVEL_HIGH};
	w_cells(&w, "interrupts", uirq, 3);
	w_end(&w);

	if (c->rtc_size) {
		/* PrimeCells need their bus clock, apb_pclk: a fixed one */
		w_begin(&w, "apb-pclk");
		w_str(&w, "compatible", "fixed-clock");
		w_u32(&w, "#clock-cells", 0);
		w_u32(&w, "clock-frequency", c->apb_clock);
		w_str(&w, "clock-output-names", "clk24mhz");
		w_u32(&w, "phandle", PHANDLE_APB_CLK);
		w_end(&w);
		w_node_name(name, sizeof(name), "rtc", c->rtc_base);
		w_begin(&w, name);
		static const char rtc_compat[] = "arm,pl031\0arm,primecell";
		w_prop(&w, "compatible", rtc_compat, sizeof(rtc_compat));
		uint64_t rreg[2] = {c->rtc_base, c->rtc_size};
		w_reg(&w, rreg, 2);
		w_u32(&w, "clocks", PHANDLE_APB_CLK);
		w_str(&w, "clock-names", "apb_pclk");
		w_end(&w); /* no interrupts: Linux then offers no alarm */
	}

	for (unsigned i = 0; i < c->ndevs && !w.err; i++) {
		const struct arm64_fdt_dev *d = &c->devs[i];
		w_node_name(name, sizeof(name), "virtio_mmio", d->base);
		w_begin(&w, name);
		w_str(&w, "compatible", "virtio,mmio");
		uint64_t reg[2] = {d->base, d->size};
		w_reg(&w, reg, 2);
		uint32_t irq[3] = {GIC_SPI, d->spi, IRQ_EDGE_RISING};
		w_cells(&w, "interrupts", irq, 3);
		w_prop(&w, "dma-coherent", NULL, 0);
		w_end(&w);
	}
	if (c->vmgenid_gpa) {
		/* Linux 6.10+ (drivers/virt/vmgenid.c): reg is the ID's 16 bytes,
		 * the interrupt says they changed. */
		w_node_name(name, sizeof(name), "vmgenid", c->vmgenid_gpa);
		w_begin(&w, name);
		w_str(&w, "compatible", "microsoft,vmgenid");
		uint64_t reg[2] = {c->vmgenid_gpa, ARM64_VMGENID_SIZE};
		w_reg(&w, reg, 2);
		uint32_t irq[3] = {GIC_SPI, c->vmgenid_spi, IRQ_EDGE_RISING};
		w_cells(&w, "interrupts", irq, 3);
		w_end(&w);
	}
	w_end(&w);
	if (!w.err)
		w_check(&w, fdt_finish(buf));
	if (w.err == -FDT_ERR_NOSPACE)
		return err_set(e, ENOSPC,
			       "fdt: the device tree for %u vCPUs and %u devices does not "
			       "fit in %zu bytes",
			       c->ncpus, c->ndevs, size);
	if (w.err)
		return err_set(e, EINVAL, "fdt: %s", fdt_strerror(w.err));
	*len = fdt_totalsize(buf);
	return 0;
}
