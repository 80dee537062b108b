/* SPDX-License-Identifier: MIT */
/* floor: the bare-ioctl floor of bench/boot. Only what any VMM must do to
 * run the micro-guest: open /dev/kvm, a VM, its memory (anonymous, one
 * slot), the ELF's loadable segments copied in, one vCPU with the host's
 * supported CPUID, flat 32-bit protected mode at the PVH entry (the ELF
 * note), KVM_RUN until the guest writes the debug-exit port (its first
 * instruction, mg-exit), then exit(0); bytes written to COM1's data port
 * go to stdout (mg-hello's first output). No irqchip unless --pit (then the
 * in-kernel irqchip and PIT, as a VMM that gives its guest a PIT has: the
 * price of the PIT's teardown at exit). No threads, no files but the ELF,
 * no jail. Built statically so that it runs in the test host.
 * usage: floor [--pit] [--memory MIB] GUEST.elf */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT	   0x501
#define COM1_PORT	   0x3f8
#define XEN_ELFNOTE_PHYS32 18

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The PVH entry of the ELF note, or 0. */
static uint64_t pvh_entry(const uint8_t *img, size_t size, const Elf64_Ehdr *eh)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const void *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);
		if (ph->p_type != PT_NOTE || ph->p_offset > size ||
		    ph->p_filesz > size - ph->p_offset)
			continue;
		size_t off = ph->p_offset, end = ph->p_offset + ph->p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *n = (const void *)(img + off);
			size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;
			const uint8_t *d = img + off + sizeof(*n) + name;
			if (n->n_type == XEN_ELFNOTE_PHYS32 && d + 4 <= img + end) {
				uint32_t e;
				memcpy(&e, d, 4);
				return e;
			}
			off += sizeof(*n) + name + desc;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int pit = 0;
	uint64_t mem_size = 64ULL << 20;
	int a = 1;
	for (; a < argc - 1; a++) {
		if (!strcmp(argv[a], "--pit"))
			pit = 1;
		else if (!strcmp(argv[a], "--memory") && a + 2 < argc)
			mem_size = strtoull(argv[++a], NULL, 0) << 20;
		else
			break;
	}
	if (a != argc - 1) {
		fprintf(stderr, "usage: floor [--pit] [--memory MIB] GUEST.elf\n");
		return 2;
	}
	int fd = open(argv[a], O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(argv[a]);
	size_t size = (size_t)st.st_size;
	uint8_t *img = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		die("mmap of the guest");
	const Elf64_Ehdr *eh = (const void *)img;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phoff > size ||
	    (size_t)eh->e_phnum * eh->e_phentsize > size - eh->e_phoff) {
		fprintf(stderr, "floor: %s: not an ELF64 guest\n", argv[a]);
		return 1;
	}
	uint64_t entry = pvh_entry(img, size, eh);
	if (!entry) {
		fprintf(stderr, "floor: %s: no PVH entry note\n", argv[a]);
		return 1;
	}

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("guest memory");
	/* as cvmm: the low 2 MiB, where the guest is, off transparent huge
	 * pages (else the RSS is 0.7 or 2.7 MiB by where the mapping falls) */
	madvise(mem, 2u << 20, MADV_NOHUGEPAGE);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const void *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);
		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset ||
		    ph->p_paddr > mem_size || ph->p_memsz > mem_size - ph->p_paddr ||
		    ph->p_filesz > ph->p_memsz) {
			fprintf(stderr, "floor: a segment outside the file or memory\n");
			return 1;
		}
		memcpy(mem + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
	}
	struct kvm_userspace_memory_region region = {.slot = 0,
						     .guest_phys_addr = 0,
						     .memory_size = mem_size,
						     .userspace_addr = (uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
		die("KVM_SET_TSS_ADDR");
	if (pit) {
		struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			die("KVM_CREATE_IRQCHIP");
		if (ioctl(vm, KVM_CREATE_PIT2, &pc) < 0)
			die("KVM_CREATE_PIT2");
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run =
		mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap of kvm_run");
	/* the host's CPUID, as any VMM sets one */
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = {.c.nent = 256};
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0)
		die("KVM_SET_CPUID2");
	/* flat 32-bit protected mode, paging off: the PVH entry's state */
	struct kvm_sregs sr;
	if (ioctl(vcpu, KVM_GET_SREGS, &sr) < 0)
		die("KVM_GET_SREGS");
	struct kvm_segment code = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = 0x8,
				   .type = 0xb,
				   .present = 1,
				   .dpl = 0,
				   .db = 1,
				   .s = 1,
				   .l = 0,
				   .g = 1};
	struct kvm_segment data = code;
	data.type = 0x3;
	data.selector = 0x10;
	sr.cs = code;
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = data;
	sr.cr0 |= 1; /* PE */
	sr.cr4 = 0;
	sr.efer = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sr) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = entry, .rflags = 2, .rbx = 0};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == DEBUG_EXIT_PORT)
			return 0; /* the guest runs: what bench/boot times */
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == COM1_PORT &&
		    run->io.direction == KVM_EXIT_IO_OUT) {
			/* the console: a UART's transmit register, no more */
			const uint8_t *d = (const uint8_t *)run + run->io.data_offset;
			if (write(1, d, (size_t)run->io.size * run->io.count) < 0)
				die("write");
			continue;
		}
		if (run->exit_reason == KVM_EXIT_IO)
			continue; /* other ports: nothing there */
		fprintf(stderr, "floor: unexpected exit %u\n", run->exit_reason);
		return 1;
	}
}
