/* kvmcheck: smoke test for /dev/kvm. Opens it, prints the API version,
 * creates a VM with one vCPU and runs real-mode code that writes 'K' to
 * port 0x3f8 and halts. Prints each exit; exits 0 on IO then HLT.
 * build: gcc -O2 -static -o /tmp/kvmcheck kvmcheck.c */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(void)
{
	static const unsigned char code[] = {
		0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
		0xb0, 'K',	  /* mov al, 'K' */
		0xee,		  /* out dx, al */
		0xf4,		  /* hlt */
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	printf("KVM_GET_API_VERSION %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	size_t size = 0x10000;
	unsigned char *mem =
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = (unsigned long)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	int runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
	int saw_io = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			printf("exit IO port 0x%x %s size %d value '%c'\n", run->io.port,
			       run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.size,
			       *((char *)run + run->io.data_offset));
			saw_io = 1;
			break;
		case KVM_EXIT_HLT:
			printf("exit HLT\nkvmcheck %s\n", saw_io ? "OK" : "FAIL");
			return saw_io ? 0 : 1;
		default:
			printf("exit reason %d\nkvmcheck FAIL\n", run->exit_reason);
			return 1;
		}
	}
}
