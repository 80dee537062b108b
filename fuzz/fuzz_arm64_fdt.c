/* SPDX-License-Identifier: MIT */
/* The aarch64 device tree (arm64_fdt_build, boot/arm64_fdt.c) for random
 * vCPU counts, GIC versions, device lists, command lines and buffer sizes.
 * Input:
 *   [0]      vCPUs (0..255)      [1] GIC version (& 3)   [2] devices (0..255)
 *   [3..4]   buffer size (le16; 0: 64 KiB)
 *   [5]      initrd present (bit 0)
 *   [6..]    the command line (NUL-terminated by the harness)
 * On success the blob passes fdt_check_header, fits the buffer, and has one
 * cpu node per vCPU and one virtio,mmio node per device; otherwise -ENOSPC
 * or -EINVAL with a message. Never a byte written past the buffer (guard). */
#include <libfdt.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/layout.h"
#include "boot/boot.h"
#include "fuzz_common.h"

#define GUARD 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 6)
		return 0;
	static struct arm64_fdt_dev devs[256];
	static uint8_t buf[ARM64_FDT_MAX + GUARD];
	static char line[4096];
	unsigned ndevs = data[2];
	for (unsigned i = 0; i < ndevs; i++)
		devs[i] = (struct arm64_fdt_dev){ARM64_VIRTIO_MMIO_BASE + i * 0x1000ULL, 0x1000,
						 ARM64_VIRTIO_SPI_BASE + i};
	size_t ll = size - 6 < sizeof(line) - 1 ? size - 6 : sizeof(line) - 1;
	memcpy(line, data + 6, ll);
	line[ll] = '\0';
	struct arm64_fdt_cfg c = {
		.ncpus = data[0],
		.mem_base = ARM64_RAM_BASE,
		.mem_size = 256 * FZ_MiB,
		.gic_version = data[1] & 3,
		.gic_dist = ARM64_GIC_DIST_BASE,
		.gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist = ARM64_GIC_REDIST_BASE,
		.gic_redist_size = ARM64_GIC_REDIST_SIZE * data[0],
		.uart_base = ARM64_UART_BASE,
		.uart_size = ARM64_UART_SIZE,
		.uart_spi = ARM64_UART_SPI,
		.uart_clock = ARM64_UART_CLOCK,
		.rtc_base = ARM64_RTC_BASE,
		.rtc_size = data[5] & 2 ? 0x1000 : 0,
		.apb_clock = ARM64_APB_CLOCK,
		.devs = devs,
		.ndevs = ndevs,
		.cmdline = line,
		.initrd_gpa = ARM64_RAM_BASE + 64 * FZ_MiB,
		.initrd_size = data[5] & 1 ? 4096 : 0,
	};
	size_t bsize = (size_t)(data[3] | data[4] << 8);
	if (bsize == 0)
		bsize = ARM64_FDT_MAX;
	memset(buf, 0x5a, sizeof(buf));
	size_t len = 1;
	struct err e = {0};
	int r = arm64_fdt_build(buf, bsize, &c, &len, &e);
	fz_check_err(r, &e);
	for (size_t i = bsize; i < sizeof(buf); i++)
		FZ_CHECK(buf[i] == 0x5a);
	if (r < 0) {
		FZ_CHECK(r == -ENOSPC || r == -EINVAL);
		FZ_CHECK(len == 0);
		return 0;
	}
	FZ_CHECK(fdt_check_header(buf) == 0 && len == fdt_totalsize(buf) && len <= bsize);
	int cpus = fdt_path_offset(buf, "/cpus"), child, n = 0;
	FZ_CHECK(cpus >= 0);
	fdt_for_each_subnode(child, buf, cpus) n++;
	FZ_CHECK(n == (int)c.ncpus);
	n = 0;
	for (int o = fdt_node_offset_by_compatible(buf, -1, "virtio,mmio"); o >= 0;
	     o = fdt_node_offset_by_compatible(buf, o, "virtio,mmio"))
		n++;
	FZ_CHECK(n == (int)ndevs);
	int l;
	const char *args = fdt_getprop(buf, fdt_path_offset(buf, "/chosen"), "bootargs", &l);
	FZ_CHECK(args && !strcmp(args, line));
	return 0;
}
