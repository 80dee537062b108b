/* SPDX-License-Identifier: MIT */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct kvm_cap_req {
	int cap;
	const char *name;
	const char *why;
};

/* Capabilities cvmm cannot run without, and what it needs them for. */
static const struct kvm_cap_req kvm_required[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel interrupt controller"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtqueue notifications"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts from worker threads"},
#if defined(__x86_64__)
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID setup"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 VM setup"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "secondary vCPU start-up"},
#elif defined(__aarch64__)
	{KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2",
	 "PSCI 0.2: CPU_ON, SYSTEM_OFF, SYSTEM_RESET"},
	{KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG", "boot registers"},
	{KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL", "the in-kernel GIC device"},
#endif
};

int kvm_open_checked(const char *path, struct err *e)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int er = errno;
		if (er == ENOENT)
			return err_set(e, er,
				       "%s does not exist: this host has no KVM (load kvm-intel "
				       "or kvm-amd, or enable nested virtualization)",
				       path);
		if (er == EACCES || er == EPERM)
			return err_set(e, er,
				       "cannot open %s: %s (add yourself to the 'kvm' group)", path,
				       strerror(er));
		return err_set(e, er, "cannot open %s: %s", path, strerror(er));
	}
	int ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		close(fd);
		return err_set(e, ENOTSUP, "%s: KVM API version %d, cvmm needs %d", path, ver,
			       KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(kvm_required) / sizeof(kvm_required[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, kvm_required[i].cap) <= 0) {
			close(fd);
			return err_set(e, ENOTSUP, "%s lacks %s (needed for %s)", path,
				       kvm_required[i].name, kvm_required[i].why);
		}
	}
	return fd;
}

unsigned kvm_max_vcpus(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? (unsigned)n : 4; /* the API's documented floor */
}
