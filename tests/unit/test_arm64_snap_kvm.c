/* SPDX-License-Identifier: MIT */
/* aarch64 snapshot on a real KVM (the arm64 test host: arm64-unit-
 * arm64_snap_kvm; skipped, 77, where KVM does not answer, as under
 * qemu-user). Two vCPUs, the second never started; vCPU 0 runs a few
 * instructions that enable the distributor and three SPIs, set a priority,
 * ICC_PMR_EL1 and TPIDR_EL1, then count in x0 and write the count to an
 * MMIO doorbell. The host raises an SPI's line. After the third doorbell
 * (the MMIO completed with immediate_exit, as a paused VM's vCPUs are),
 * arch_save; a second VM built the same way takes it (arch_restore); saved
 * again, it is the same state but for the timer's counter (less than 10 s
 * apart); with the SPI's line lowered in both, both states
 * are still equal (the restore did not latch the line's pending state);
 * its vCPU 0 continues: the next doorbell says 4,
 * TPIDR_EL1 is still 0x1234 and vCPU 1 is still off. A one-vCPU VM refuses
 * the state by name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/aarch64/arm64.h"
#include "arch/aarch64/layout.h"
#include "arch/arch.h"
#include "core/bus.h"
#include "core/le.h"
#include "core/mem.h"
#include "core/snap.h"

#define RAM_SIZE (2u << 20)
#define DOORBELL 0x1000
#define NCPU	 2

/* The guest (assembled with aarch64-linux-gnu-as):
 *	movz x1, #0x0800, lsl #16   // GICD
 *	mov w2, #2 ; str w2, [x1]   // GICD_CTLR: EnableGrp1
 *	mov w2, #7 ; str w2, [x1, #0x104]   // GICD_ISENABLER1: intids 32-34
 *	movz/movk w2, #0xa0a0a0a0 ; str w2, [x1, #0x420] // IPRIORITYR8
 *	mov x3, #0xf0 ; msr icc_pmr_el1, x3
 *	mov x4, #0x1234 ; msr tpidr_el1, x4
 *	mov x5, #0x1000 ; mov x0, #0
 * 1:	add x0, x0, #1 ; str x0, [x5] ; b 1b */
static const uint32_t guest[] = {
	0xd2a10001, 0x52800042, 0xb9000022, 0x528000e2, 0xb9010422, 0x52941402,
	0x72b41402, 0xb9042022, 0xd2801e03, 0xd5184603, 0xd2824684, 0xd518d084,
	0xd2820005, 0xd2800000, 0x91000400, 0xf90000a0, 0x17fffffe,
};

struct tvm {
	int kvm, vm;
	int vcpu[NCPU];
	struct kvm_run *run[NCPU];
	size_t run_size;
	uint8_t *ram;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct arch_vm av;
	struct arch *a;
};

static void check(int r, const struct err *e, const char *what)
{
	if (r < 0)
		fail_msg("%s: %s (%d)", what, e->msg, r);
}

static void tvm_build(struct tvm *t, unsigned ncpus)
{
	struct err e = {0};
	memset(t, 0, sizeof(*t));
	t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	assert_true(t->kvm >= 0);
	t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
	assert_true(t->vm >= 0);
	t->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->ram != MAP_FAILED);
	assert_int_equal(gm_add(&t->mem, ARM64_RAM_BASE, RAM_SIZE, t->ram), 0);
	struct kvm_userspace_memory_region mr = {.slot = 0,
						 .guest_phys_addr = ARM64_RAM_BASE,
						 .memory_size = RAM_SIZE,
						 .userspace_addr = (uint64_t)(uintptr_t)t->ram};
	assert_int_equal(ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &mr), 0);
	t->av = (struct arch_vm){.kvm_fd = t->kvm,
				 .vm_fd = t->vm,
				 .mem = &t->mem,
				 .pio = &t->pio,
				 .mmio = &t->mmio,
				 .ncpus = ncpus,
				 .memory = RAM_SIZE,
				 .cmdline = "",
				 .console_out = -1};
	check(arch_create(&t->a, &t->av, &e), &e, "arch_create");
	check(arch_vm_init(t->a, &e), &e, "arch_vm_init");
	t->run_size = (size_t)ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (unsigned i = 0; i < ncpus; i++) {
		t->vcpu[i] = ioctl(t->vm, KVM_CREATE_VCPU, i);
		assert_true(t->vcpu[i] >= 0);
		t->run[i] =
			mmap(NULL, t->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu[i], 0);
		assert_true(t->run[i] != MAP_FAILED);
		check(arch_vcpu_init(t->a, t->vcpu[i], i, &e), &e, "arch_vcpu_init");
	}
	check(arch_devices_init(t->a, &e), &e, "arch_devices_init");
}

static void tvm_free(struct tvm *t, unsigned ncpus)
{
	arch_destroy(t->a);
	for (unsigned i = 0; i < ncpus; i++) {
		munmap(t->run[i], t->run_size);
		close(t->vcpu[i]);
	}
	close(t->vm);
	close(t->kvm);
	munmap(t->ram, RAM_SIZE);
}

/* Runs vCPU 0 to its next doorbell; returns the count written there. */
static uint64_t next_doorbell(struct tvm *t)
{
	for (int tries = 0; tries < 100; tries++) {
		int r = ioctl(t->vcpu[0], KVM_RUN, 0);
		if (r < 0 && errno == EINTR)
			continue;
		assert_int_equal(r, 0);
		struct kvm_run *run = t->run[0];
		if (run->exit_reason != KVM_EXIT_MMIO)
			fail_msg("exit %u, wanted MMIO", run->exit_reason);
		if (run->mmio.phys_addr != DOORBELL || !run->mmio.is_write || run->mmio.len != 8)
			fail_msg("MMIO at 0x%llx", (unsigned long long)run->mmio.phys_addr);
		return le_get64(run->mmio.data);
	}
	fail_msg("no doorbell");
	return 0;
}

/* Completes the pending MMIO exit without running the guest on. */
static void park(struct tvm *t)
{
	t->run[0]->immediate_exit = 1;
	int r = ioctl(t->vcpu[0], KVM_RUN, 0);
	assert_true(r < 0 && errno == EINTR);
	t->run[0]->immediate_exit = 0;
}

static uint8_t *save(struct tvm *t, size_t *len)
{
	struct snap_w w;
	struct err e = {0};
	snap_w_init(&w);
	check(arch_save(t->a, t->vcpu, NCPU, &w, &e), &e, "arch_save");
	const uint8_t *out;
	check(snap_w_finish(&w, SNAP_ARCH_AARCH64, &out, len, &e), &e, "snap_w_finish");
	uint8_t *b = malloc(*len);
	memcpy(b, out, *len);
	snap_w_free(&w);
	return b;
}

static uint64_t reg(int fd, uint64_t id)
{
	uint64_t v = 0;
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&v};
	assert_int_equal(ioctl(fd, KVM_GET_ONE_REG, &r), 0);
	return v;
}

/* Prints the fields of two sections that differ: the GIC's lists entry by
 * entry ((u32 offset, u32 value) or (u64 sysreg, u64 value)). */
static void diff_fields(const struct snap_sec *a, const struct snap_sec *b)
{
	for (uint16_t tag = 1; tag < 8; tag++) {
		size_t la, lb;
		const uint8_t *pa = snap_get(a, tag, &la), *pb = snap_get(b, tag, &lb);
		if (!pa || !pb || la != lb) {
			if (pa || pb)
				printf("%s %u field %u: %zu vs %zu bytes\n", a->name, a->instance,
				       tag, la, lb);
			continue;
		}
		bool icc = strcmp(a->name, "arm64-gicr") == 0 && tag == 2;
		size_t step = icc ? 16 : 8;
		for (size_t i = 0; i + step <= la; i += step)
			if (memcmp(pa + i, pb + i, step) != 0) {
				if (icc)
					printf("%s %u field %u: sysreg 0x%llx: 0x%llx vs 0x%llx\n",
					       a->name, a->instance, tag,
					       (unsigned long long)le_get64(pa + i),
					       (unsigned long long)le_get64(pa + i + 8),
					       (unsigned long long)le_get64(pb + i + 8));
				else
					printf("%s %u field %u: 0x%x: 0x%x vs 0x%x\n", a->name,
					       a->instance, tag, le_get32(pa + i),
					       le_get32(pa + i + 4), le_get32(pb + i + 4));
			}
	}
}

/* The two states are equal but for the counters, less than 10 s apart. */
static void compare(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	struct snap_r ra, rb;
	struct err e = {0};
	check(snap_open(&ra, a, al, SNAP_ARCH_AARCH64, &e), &e, "open 1");
	check(snap_open(&rb, b, bl, SNAP_ARCH_AARCH64, &e), &e, "open 2");
	uint64_t freq = 0;
	size_t pa = 0, pb = 0;
	struct snap_sec sa, sb;
	unsigned nsec = 0;
	while (snap_next(&ra, &pa, &sa)) {
		assert_int_equal(snap_next(&rb, &pb, &sb), 1);
		assert_string_equal(sa.name, sb.name);
		assert_int_equal(sa.instance, sb.instance);
		nsec++;
		if (strcmp(sa.name, "arm64-vcpu") != 0) {
			if (sa.len != sb.len || memcmp(sa.p, sb.p, sa.len) != 0) {
				diff_fields(&sa, &sb);
				fail_msg("section %s %u differs", sa.name, sa.instance);
			}
			continue;
		}
		size_t l1, l2;
		const uint8_t *r1 = snap_get(&sa, 3, &l1), *r2 = snap_get(&sb, 3, &l2);
		assert_non_null(r1);
		assert_non_null(r2);
		assert_int_equal(l1, l2);
		for (size_t off = 0; off < l1;) {
			uint64_t id = le_get64(r1 + off);
			unsigned sz = 1u << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
			assert_int_equal(le_get64(r2 + off), id);
			if (id == KVM_REG_ARM_TIMER_CNT || id == KVM_REG_ARM_PTIMER_CNT) {
				if (!freq)
					__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
				uint64_t c1 = le_get64(r1 + off + 8), c2 = le_get64(r2 + off + 8);
				if ((c2 > c1 ? c2 - c1 : c1 - c2) > 10 * freq)
					fail_msg("vCPU %u: counter 0x%llx went from %llu to %llu",
						 sa.instance, (unsigned long long)id,
						 (unsigned long long)c1, (unsigned long long)c2);
			} else if (memcmp(r1 + off + 8, r2 + off + 8, sz) != 0)
				fail_msg("vCPU %u: register 0x%llx differs", sa.instance,
					 (unsigned long long)id);
			off += 8 + sz;
		}
	}
	assert_int_equal(snap_next(&rb, &pb, &sb), 0);
	printf("states equal: %u sections, %zu bytes\n", nsec, al);
}

static void test_save_restore(void **state)
{
	(void)state;
	static struct tvm t1, t2, t3;
	struct err e = {0};
	tvm_build(&t1, NCPU);
	memcpy(t1.ram, guest, sizeof(guest));
	check(arm64_boot_regs(&arm64_kvm_sys, t1.vcpu[0], ARM64_RAM_BASE, 0, &e), &e, "boot regs");
	assert_int_equal(next_doorbell(&t1), 1);
	/* intid 33 (SPI 1): its line high, level-triggered, pending, masked */
	struct kvm_irq_level irq = {.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | 33,
				    .level = 1};
	assert_int_equal(ioctl(t1.vm, KVM_IRQ_LINE, &irq), 0);
	assert_int_equal(next_doorbell(&t1), 2);
	assert_int_equal(next_doorbell(&t1), 3);
	park(&t1);
	size_t l1, l2;
	uint8_t *s1 = save(&t1, &l1);

	/* the second VM: built the same, memory copied, state restored */
	tvm_build(&t2, NCPU);
	memcpy(t2.ram, t1.ram, RAM_SIZE);
	struct snap_r r;
	check(snap_open(&r, s1, l1, SNAP_ARCH_AARCH64, &e), &e, "snap_open");
	check(arch_restore(t2.a, t2.vcpu, NCPU, &r, false, &e), &e, "arch_restore");
	uint8_t *s2 = save(&t2, &l2);
	compare(s1, l1, s2, l2);
	struct kvm_mp_state mp;
	assert_int_equal(ioctl(t2.vcpu[1], KVM_GET_MP_STATE, &mp), 0);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_STOPPED);
	/* the SPI's line lowered in both: pending in neither (restore did not
	 * latch what the line held pending) */
	irq.level = 0;
	assert_int_equal(ioctl(t1.vm, KVM_IRQ_LINE, &irq), 0);
	assert_int_equal(ioctl(t2.vm, KVM_IRQ_LINE, &irq), 0);
	size_t l3, l4;
	uint8_t *s3 = save(&t1, &l3), *s4 = save(&t2, &l4);
	compare(s3, l3, s4, l4);
	free(s3);
	free(s4);
	/* it continues where the first stopped */
	assert_int_equal(next_doorbell(&t2), 4);
	assert_int_equal(reg(t2.vcpu[0], ARM64_SYS_REG(3, 0, 13, 0, 4)), 0x1234); /* TPIDR_EL1 */
	assert_int_equal(next_doorbell(&t2), 5);
	printf("restored VM continued: doorbells 4, 5\n");

	/* a one-vCPU VM refuses it, named */
	tvm_build(&t3, 1);
	e = (struct err){0};
	assert_true(arch_restore(t3.a, t3.vcpu, 1, &r, false, &e) < 0);
	printf("1-vCPU VM: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "2 vCPUs"));

	free(s1);
	free(s2);
	tvm_free(&t3, 1);
	tvm_free(&t2, NCPU);
	tvm_free(&t1, NCPU);
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "no aarch64 KVM here (qemu-user?): skipped\n");
		return 77;
	}
	close(kvm);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
