/* SPDX-License-Identifier: MIT */
/* x86_64's virtio device slots and what the boot tables say of them: each
 * slot has a window and an interrupt of its own that no legacy device
 * uses; with every slot taken (17 drives, say: Kata's Go runtime attaches
 * 9), arch_load describes each in the DSDT, in the MP table and, for a
 * kernel booted acpi=off, on its command line (virtio-mmio), or as a PCI
 * function with its INTA link (virtio-pci). No KVM: arch_load needs none. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86_64/layout.h"
#include "boot/boot.h"
#include "cvmm/cvmm.h"
#include "devices/virtio/pci.h"
#include "fake_mem.h"

/* A minimal bzImage (boot protocol 2.15, 64-bit entry, relocatable). */
static uint8_t *bz_make(size_t *size)
{
	const size_t pm_len = 4096, pm_off = 5 * 512;
	*size = pm_off + pm_len;
	uint8_t *b = calloc(1, *size);
	assert_non_null(b);
	b[0x1f1] = 4; /* setup sectors */
	le_put32(b + 0x1f4, (uint32_t)(pm_len / 16));
	le_put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	le_put16(b + 0x206, 0x020f);
	b[0x211] = 0x01;		 /* LOADED_HIGH */
	le_put32(b + 0x22c, 0x7fffffff); /* initrd_addr_max */
	le_put32(b + 0x230, 0x200000);	 /* kernel_alignment */
	b[0x234] = 1;			 /* relocatable */
	b[0x235] = 21;
	le_put16(b + 0x236, 0x3);	/* XLF_KERNEL_64 and above 4 GiB */
	le_put32(b + 0x238, 2047);	/* cmdline_size */
	le_put64(b + 0x258, 0x1000000); /* pref_address */
	le_put32(b + 0x260, 0x400000);	/* init_size */
	return b;
}

static bool legacy_gsi(uint32_t gsi)
{
	/* the PIT (0, on pin 2), the keyboard, the cascade, COM1, the RTC,
	 * the power button's GED */
	return gsi == 0 || gsi == X86_KBD_IRQ || gsi == 2 || gsi == X86_COM1_IRQ ||
	       gsi == X86_RTC_IRQ || gsi == X86_GED_GSI;
}

static void test_slots(void **state)
{
	(void)state;
	assert_int_equal(ARCH_MAX_DEVS, 17);
	assert_int_equal(CVMM_MAX_DEVICES, ARCH_MAX_DEVS);
	assert_true(CVMM_MAX_DISKS >= 9); /* Kata's Go runtime */
	uint32_t mmio_gsis = 0, pci_gsis = 0, slots = 0;
	for (unsigned i = 0; i < ARCH_MAX_DEVS; i++) {
		uint64_t base, bar;
		uint32_t gsi;
		unsigned slot;
		assert_int_equal(arch_mmio_slot(i, &base, &gsi), 0);
		assert_int_equal(base, X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE);
		assert_true(gsi < 24 && !legacy_gsi(gsi) && !(mmio_gsis & (1u << gsi)));
		mmio_gsis |= 1u << gsi;

		assert_int_equal(arch_pci_slot(i, VIRTIO_PCI_BAR_SIZE, &slot, &bar, &gsi), 0);
		assert_true(slot >= 1 && slot < 32 && !(slots & (1u << slot)));
		slots |= 1u << slot;
		assert_true(bar >= X86_PCI_MEM_BASE &&
			    bar + VIRTIO_PCI_BAR_SIZE <= X86_PCI_MEM_BASE + X86_PCI_MEM_SIZE);
		assert_true(gsi < 24 && !legacy_gsi(gsi) && !(pci_gsis & (1u << gsi)));
		pci_gsis |= 1u << gsi;
	}
	uint64_t base, bar;
	uint32_t gsi;
	unsigned slot;
	assert_int_equal(arch_mmio_slot(ARCH_MAX_DEVS, &base, &gsi), -ENOSPC);
	assert_int_equal(arch_pci_slot(ARCH_MAX_DEVS, VIRTIO_PCI_BAR_SIZE, &slot, &bar, &gsi),
			 -ENOSPC);
}

static unsigned count(const uint8_t *p, size_t len, const char *s)
{
	unsigned n = 0;
	size_t sl = strlen(s);
	for (const uint8_t *q = p; (q = memmem(q, len - (size_t)(q - p), s, sl)); q += sl)
		n++;
	return n;
}

struct loaded {
	struct fake_mem f;
	struct arch_vm av;
	char cmdline[X86_CMDLINE_MAX];
	const uint8_t *acpi; /* [X86_ACPI_ADDR, X86_ACPI_END) */
};

/* arch_load with every slot taken over one transport. */
static void load_all(struct loaded *l, bool pci, const char *cmdline)
{
	assert_int_equal(fake_mem_init(&l->f, 64 * MiB), 0);
	l->av = (struct arch_vm){.kvm_fd = -1,
				 .vm_fd = -1,
				 .mem = &l->f.m,
				 .ncpus = 2,
				 .memory = 64 * MiB,
				 .cmdline = cmdline,
				 .console_out = -1,
				 .pci = pci};
	for (unsigned i = 0; i < ARCH_MAX_DEVS; i++) {
		struct arch_dev *d = &l->av.devs[i];
		d->pci = pci;
		if (pci)
			assert_int_equal(
				arch_pci_slot(i, VIRTIO_PCI_BAR_SIZE, &d->slot, &d->base, &d->gsi),
				0);
		else
			assert_int_equal(arch_mmio_slot(i, &d->base, &d->gsi), 0);
	}
	l->av.ndevs = ARCH_MAX_DEVS;
	struct arch *a;
	struct err e;
	err_clear(&e);
	assert_int_equal(arch_create(&a, &l->av, &e), 0);
	size_t size;
	uint8_t *img = bz_make(&size);
	int r = arch_load(a, img, size, NULL, 0, &e);
	if (r < 0)
		fail_msg("arch_load: %s", e.msg);
	free(img);
	arch_destroy(a);
	const char *c = gm_ptr(&l->f.m, X86_CMDLINE_ADDR, 1);
	assert_non_null(c);
	snprintf(l->cmdline, sizeof(l->cmdline), "%s", c);
	l->acpi = gm_ptr(&l->f.m, X86_ACPI_ADDR, X86_ACPI_END - X86_ACPI_ADDR);
	assert_non_null(l->acpi);
}

/* The MP table's I/O interrupt entries: which IOAPIC pins it routes. */
static uint32_t mp_pins(const struct guest_mem *m)
{
	const uint8_t *mpf = gm_ptr(m, X86_MPTABLE_ADDR, 16);
	assert_non_null(mpf);
	assert_memory_equal(mpf, "_MP_", 4);
	const uint8_t *mpc = gm_ptr(m, le_get32(mpf + 4), 44);
	assert_non_null(mpc);
	uint16_t len = le_get16(mpc + 4), n = le_get16(mpc + 34);
	mpc = gm_ptr(m, le_get32(mpf + 4), len);
	uint32_t pins = 0;
	const uint8_t *p = mpc + 44;
	for (unsigned i = 0; i < n; i++) {
		if (p[0] == 3)
			pins |= 1u << p[7];
		p += p[0] == 0 ? 20 : 8;
	}
	return pins;
}

static void test_all_mmio_acpi_off(void **state)
{
	(void)state;
	struct loaded *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	load_all(l, false, "console=ttyS0 acpi=off reboot=k panic=1");
	/* the command line: each device, in slot order */
	const char *c = l->cmdline;
	assert_int_equal(strncmp(c, "console=ttyS0 acpi=off reboot=k panic=1 ", 40), 0);
	uint32_t pins = mp_pins(&l->f.m);
	for (unsigned i = 0; i < ARCH_MAX_DEVS; i++) {
		char want[64];
		snprintf(want, sizeof(want), " virtio_mmio.device=4K@0x%llx:%u",
			 (unsigned long long)l->av.devs[i].base, l->av.devs[i].gsi);
		const char *at = strstr(c, want);
		if (!at)
			fail_msg("device %u (%s) not on the command line: %s", i, want, c);
		c = at + strlen(want);
		/* a kernel without ACPI routes its interrupt by the MP table */
		assert_true(pins & (1u << l->av.devs[i].gsi));
	}
	assert_int_equal(count((const uint8_t *)l->cmdline, strlen(l->cmdline), "virtio_mmio"),
			 ARCH_MAX_DEVS);
	assert_true(strlen(l->cmdline) <= 2047);
	/* and the DSDT all the same, with the i8042 */
	assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, "LNRO0005"), ARCH_MAX_DEVS);
	assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, "PS2_"), 1);
	fake_mem_free(&l->f);
	free(l);
}

static void test_all_mmio_acpi(void **state)
{
	(void)state;
	struct loaded *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	load_all(l, false, "console=ttyS0");
	assert_string_equal(l->cmdline, "console=ttyS0"); /* ACPI describes them */
	assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, "LNRO0005"), ARCH_MAX_DEVS);
	for (unsigned i = 0; i < ARCH_MAX_DEVS; i++) {
		char name[8];
		snprintf(name, sizeof(name), "V%03u", i);
		assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, name), 1);
	}
	fake_mem_free(&l->f);
	free(l);
}

static void test_all_pci(void **state)
{
	(void)state;
	struct loaded *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	load_all(l, true, "console=ttyS0");
	assert_string_equal(l->cmdline, "console=ttyS0");
	assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, "LNRO0005"), 0);
	/* an INTA link device per function, and no more */
	for (unsigned i = 0; i <= ARCH_MAX_DEVS; i++) {
		char name[8];
		snprintf(name, sizeof(name), "LK%02u", i);
		assert_int_equal(count(l->acpi, X86_ACPI_END - X86_ACPI_ADDR, name) > 0,
				 i < ARCH_MAX_DEVS);
	}
	fake_mem_free(&l->f);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_all_mmio_acpi_off),
		cmocka_unit_test(test_all_mmio_acpi),
		cmocka_unit_test(test_all_pci),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
