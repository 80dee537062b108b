/* SPDX-License-Identifier: MIT */
/* aarch64: memory layout, the GIC, vCPUs (PSCI), the UART on MMIO and the
 * boot flow (Image, initrd, FDT). arch/arch.h's contract. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/aarch64/arm64.h"
#include "arch/aarch64/layout.h"
#include "arch/aarch64/priv.h"
#include "arch/arch.h"
#include "boot/boot.h"
#include "devices/legacy.h"
#include "devices/serial.h"

#define ARM64_CMDLINE_MAX 2048 /* arm64 Linux's COMMAND_LINE_SIZE, NUL included */
#define SZ_2M		  0x200000ULL

unsigned arch_ram_layout(uint64_t mem, uint64_t *gpa, uint64_t *size)
{
	if (mem > ARM64_RAM_MAX)
		return 0; /* arch_load says why */
	gpa[0] = ARM64_RAM_BASE;
	size[0] = mem;
	return 1;
}

_Static_assert(ARM64_VIRTIO_SPI_BASE + ARCH_MAX_DEVS <= ARM64_GIC_NR_IRQS - 32,
	       "an SPI for every device slot");
_Static_assert(ARM64_VMGENID_SPI >= ARM64_VIRTIO_SPI_BASE + ARCH_MAX_DEVS &&
		       ARM64_VMGENID_SPI < ARM64_GIC_NR_IRQS - 32,
	       "the VM generation ID's SPI is no device slot's");
_Static_assert(ARM64_VIRTIO_MMIO_BASE + ARCH_MAX_DEVS * ARM64_VIRTIO_MMIO_SIZE <= ARM64_RAM_BASE,
	       "the device slots' windows below RAM");

int arch_mmio_slot(unsigned i, uint64_t *base, uint32_t *gsi)
{
	if (i >= ARCH_MAX_DEVS || ARM64_VIRTIO_SPI_BASE + i >= ARM64_GIC_NR_IRQS - 32)
		return -ENOSPC;
	*base = ARM64_VIRTIO_MMIO_BASE + i * ARM64_VIRTIO_MMIO_SIZE;
	*gsi = ARM64_VIRTIO_SPI_BASE + i; /* KVM_IRQFD's GSI is the SPI number */
	return 0;
}

/* No PCI on aarch64 (yet): every device is on virtio-mmio. */
int arch_pci_slot(unsigned i, uint64_t bar_size, unsigned *slot, uint64_t *bar, uint32_t *gsi)
{
	(void)i;
	(void)bar_size;
	(void)slot;
	(void)bar;
	(void)gsi;
	return -EOPNOTSUPP;
}

uint64_t arch_pci_ecam(void)
{
	return 0;
}

uint64_t arch_boot_timer_base(void)
{
	return ARM64_BOOT_TIMER_BASE;
}

const char *arch_default_cmdline(void)
{
	return "console=ttyS0 panic=1";
}

int arch_create(struct arch **out, const struct arch_vm *vm, struct err *e)
{
	struct arch *a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(e, ENOMEM, "out of memory");
	a->vm = vm;
	a->gic_fd = -1;
	*out = a;
	return 0;
}

void arch_destroy(struct arch *a)
{
	if (!a)
		return;
	if (a->devs_ready) {
		serial_destroy(&a->uart);
		pl031_destroy(&a->rtc);
	}
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a);
}

struct serial *arch_console(struct arch *a)
{
	return a->devs_ready ? &a->uart : NULL;
}

int arch_power_button(struct arch *a)
{
	(void)a;
	return -EOPNOTSUPP; /* no ACPI, no GPIO keys (yet) */
}

/* RAM's last ARM64_VMGENID_RESERVE bytes, outside the memory node. */
uint64_t arch_vmgenid_gpa(const struct arch *a)
{
	uint64_t mem = a->vm->memory;
	if (mem < ARM64_VMGENID_RESERVE || mem > ARM64_RAM_MAX)
		return 0; /* arch_load refuses such a VM */
	return ARM64_RAM_BASE + mem - ARM64_VMGENID_RESERVE;
}

/* RAM the guest's memory node describes. */
static uint64_t arm64_guest_ram(uint64_t mem)
{
	return mem - ARM64_VMGENID_RESERVE;
}

int arch_ctrl_alt_del(struct arch *a)
{
	(void)a;
	return -EOPNOTSUPP; /* no keyboard (Firecracker has none there either) */
}

/* KVM_IRQ_LINE for an SPI: type and interrupt id (SPI + 32) in one word. */
static void arm64_irq_set(void *opaque, uint32_t spi, int level)
{
	struct arch *a = opaque;
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (spi + 32),
		.level = (uint32_t)level,
	};
	ioctl(a->vm->vm_fd, KVM_IRQ_LINE, &irq);
}

/* An edge on the vmgenid node's SPI: the guest's driver reads the ID again. */
int arch_vmgenid_notify(struct arch *a)
{
	arm64_irq_set(a, ARM64_VMGENID_SPI, 1);
	arm64_irq_set(a, ARM64_VMGENID_SPI, 0);
	return 0;
}

int arch_vm_init(struct arch *a, struct err *e)
{
	return arm64_gic_create(&arm64_kvm_sys, a->vm->vm_fd, a->vm->ncpus, &a->gic_fd,
				&a->gic_version, e);
}

int arch_vcpu_init(struct arch *a, int vcpu_fd, unsigned id, struct err *e)
{
	return arm64_vcpu_setup(&arm64_kvm_sys, a->vm->vm_fd, vcpu_fd, id, &a->vcpu_target, e);
}

int arch_devices_init(struct arch *a, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	/* every vCPU exists now: the GIC can be initialised */
	int r = arm64_gic_init(&arm64_kvm_sys, a->gic_fd, e);
	if (r < 0)
		return r;
	struct irq_line uart_irq = {arm64_irq_set, a, ARM64_UART_SPI};
	r = serial_init(&a->uart, &uart_irq, vm->console_out);
	if (r < 0)
		return err_set(e, -r, "serial: %s", strerror(-r));
	r = pl031_init(&a->rtc, NULL, NULL);
	if (r < 0) {
		serial_destroy(&a->uart);
		return err_set(e, -r, "pl031: %s", strerror(-r));
	}
	a->devs_ready = true;
	r = bus_add(vm->mmio, ARM64_UART_BASE, 8, &serial_ops, &a->uart, "uart");
	if (r < 0)
		return err_set(e, -r, "cannot map the UART");
	r = bus_add(vm->mmio, ARM64_RTC_BASE, PL031_SIZE, &pl031_ops, &a->rtc, "rtc");
	if (r < 0)
		return err_set(e, -r, "cannot map the RTC");
	return 0;
}

int arch_pio_exit(struct arch *a, int vcpu_fd, struct kvm_run *run, struct err *e)
{
	(void)a, (void)vcpu_fd, (void)run, (void)e;
	return 0; /* arm64 has no port I/O */
}

uint64_t arch_vcpu_ip(int vcpu_fd)
{
	uint64_t pc = 0;
	struct kvm_one_reg reg = {.id = ARM64_CORE_REG(offsetof(struct kvm_regs, regs.pc)),
				  .addr = (uint64_t)(uintptr_t)&pc};
	if (ioctl(vcpu_fd, KVM_GET_ONE_REG, &reg) < 0)
		return 0;
	return pc;
}

/* The device tree sits at the start of RAM's last 2 MiB block. */
static uint64_t arm64_fdt_gpa(uint64_t mem)
{
	return (ARM64_RAM_BASE + mem - ARM64_FDT_MAX) & ~(SZ_2M - 1);
}

int arch_load(struct arch *a, const uint8_t *kernel, size_t ksize, const uint8_t *initrd,
	      size_t isize, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	uint64_t mem = vm->memory;
	if (mem > ARM64_RAM_MAX)
		return err_set(e, EINVAL, "memory: at most %llu GiB on aarch64",
			       ARM64_RAM_MAX >> 30);
	if (strlen(vm->cmdline) >= ARM64_CMDLINE_MAX)
		return err_set(e, E2BIG, "cmdline: %zu bytes, arm64 Linux takes at most %d",
			       strlen(vm->cmdline), ARM64_CMDLINE_MAX - 1);
	struct arm64_image k;
	int r = arm64_image_load(vm->mem, ARM64_RAM_BASE, mem, kernel, ksize, &k, e);
	if (r < 0)
		return r;
	if (mem < ARM64_FDT_MAX + ARM64_VMGENID_RESERVE)
		return err_set(e, ENOSPC, "memory: %llu KiB leave no room for the device tree",
			       (unsigned long long)(mem >> 10));
	uint64_t fdt = arm64_fdt_gpa(arm64_guest_ram(mem));
	if (fdt < k.load_end)
		return err_set(e, ENOSPC,
			       "memory: %llu MiB leave no room for the device tree "
			       "after the kernel (%llu MiB)",
			       (unsigned long long)(mem >> 20),
			       (unsigned long long)((k.load_end - ARM64_RAM_BASE) >> 20));
	a->boot.initrd_gpa = a->boot.initrd_size = 0;
	if (initrd) {
		r = arm64_initrd_load(vm->mem, fdt, &k, initrd, isize, &a->boot.initrd_gpa, e);
		if (r < 0)
			return r;
		a->boot.initrd_size = isize;
	}
	a->boot.entry = k.load_addr;
	return 0;
}

/* The FDT is written last: it names the GIC version KVM gave. */
int arch_boot_vcpu(struct arch *a, int vcpu_fd, struct err *e)
{
	const struct arch_vm *vm = a->vm;
	struct arm64_fdt_dev devs[ARCH_MAX_DEVS];
	unsigned ndevs = vm->ndevs < ARCH_MAX_DEVS ? vm->ndevs : ARCH_MAX_DEVS;
	for (unsigned i = 0; i < ndevs; i++)
		devs[i] = (struct arm64_fdt_dev){vm->devs[i].base, ARM64_VIRTIO_MMIO_SIZE,
						 vm->devs[i].gsi};
	bool v3 = a->gic_version == 3;
	struct arm64_fdt_cfg c = {
		.ncpus = vm->ncpus,
		.mem_base = ARM64_RAM_BASE,
		.mem_size = arm64_guest_ram(vm->memory),
		.gic_version = a->gic_version,
		.gic_dist = ARM64_GIC_DIST_BASE,
		.gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist = v3 ? ARM64_GIC_REDIST_BASE : ARM64_GICV2_CPU_BASE,
		.gic_redist_size = v3 ? ARM64_GIC_REDIST_SIZE * vm->ncpus : ARM64_GICV2_CPU_SIZE,
		.uart_base = ARM64_UART_BASE,
		.uart_size = ARM64_UART_SIZE,
		.uart_spi = ARM64_UART_SPI,
		.uart_clock = ARM64_UART_CLOCK,
		.rtc_base = ARM64_RTC_BASE,
		.rtc_size = PL031_SIZE,
		.apb_clock = ARM64_APB_CLOCK,
		.devs = devs,
		.ndevs = ndevs,
		.cmdline = vm->cmdline,
		.initrd_gpa = a->boot.initrd_gpa,
		.initrd_size = a->boot.initrd_size,
		.vmgenid_gpa = arch_vmgenid_gpa(a),
		.vmgenid_spi = ARM64_VMGENID_SPI,
	};
	void *buf = calloc(1, ARM64_FDT_MAX);
	if (!buf)
		return err_set(e, ENOMEM, "out of memory");
	size_t len;
	uint64_t fdt = arm64_fdt_gpa(arm64_guest_ram(vm->memory));
	int r = arm64_fdt_build(buf, ARM64_FDT_MAX, &c, &len, e);
	if (r == 0 && gm_write(vm->mem, fdt, buf, len) < 0)
		r = err_set(e, EFAULT, "fdt: 0x%llx is not in guest RAM", (unsigned long long)fdt);
	free(buf);
	if (r < 0)
		return r;
	return arm64_boot_regs(&arm64_kvm_sys, vcpu_fd, a->boot.entry, fdt, e);
}

/* arm64 has no triple fault: an exception the guest cannot take goes to its
 * own vector table, and KVM reports nothing of the kind as internal. */
bool arch_vcpu_unrecoverable(int vcpu_fd, uint32_t suberror)
{
	(void)vcpu_fd;
	(void)suberror;
	return false;
}

/* Snapshot: the vCPUs and the GIC (snapshot.c), the UART ("serial" 0) and
 * the RTC ("pl031" 0). Restore takes the devices first: they change nothing
 * when they refuse their section, so a bad one is refused before KVM is
 * written to. */
int arch_save(struct arch *a, const int *vcpu_fds, unsigned n, struct snap_w *w, struct err *e)
{
	if (n != a->vm->ncpus)
		return err_set(e, EINVAL, "snapshot: %u vCPUs given, the VM has %u", n,
			       a->vm->ncpus);
	if (!a->devs_ready)
		return err_set(e, EINVAL, "snapshot: the VM's devices are not set up");
	int r = arm64_snap_save(&arm64_kvm_sys, a->vcpu_target, a->gic_fd, a->gic_version, vcpu_fds,
				n, w, e);
	if (r < 0)
		return r;
	serial_save(&a->uart, w, 0);
	pl031_save(&a->rtc, w, 0);
	return 0;
}

int arch_restore(struct arch *a, const int *vcpu_fds, unsigned n, const struct snap_r *r,
		 bool clock_realtime, struct err *e)
{
	if (clock_realtime) /* as Firecracker: x86_64 only */
		return err_set(e, EOPNOTSUPP, "clock_realtime is not supported on aarch64");
	if (n != a->vm->ncpus)
		return err_set(e, EINVAL, "snapshot: %u vCPUs given, the VM has %u", n,
			       a->vm->ncpus);
	if (!a->devs_ready)
		return err_set(e, EINVAL, "snapshot: the VM's devices are not set up");
	int ret = serial_restore(&a->uart, r, 0, e);
	if (ret == 0)
		ret = pl031_restore(&a->rtc, r, 0, e);
	if (ret == 0)
		ret = arm64_snap_restore(&arm64_kvm_sys, a->vcpu_target, a->gic_fd, a->gic_version,
					 vcpu_fds, n, r, e);
	return ret;
}
