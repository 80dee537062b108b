/* SPDX-License-Identifier: MIT */
/* Micro-guest entry points, linked at MG_LOAD_ADDR (see mg.ld):
 *
 *   +0x000  32-bit entry: PVH (ebx = hvm_start_info) or the 32-bit Linux
 *           boot protocol (ebx = 0, esi = boot_params). Paging off.
 *   +0x200  64-bit entry: Linux 64-bit boot protocol (rsi = boot_params),
 *           paging on with the loader's identity map.
 *
 * Both zero .bss, build their own identity map of 0..4 GiB (2 MiB pages),
 * load their own GDT and IDT and call mg_start(kind, info) on our stack.
 * With MG_EARLY_EXIT, each entry first writes one byte to the debug exit
 * port (the boot benchmark's "guest is running" signal); with MG_EARLY_OUT
 * too, "G\n" to COM1 before it (its "first output"; no LSR check). */
#include "mg_defs.h"

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PS 0x80
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

	.section .text.entry32, "ax"
	.code32
	.globl mg_entry32
mg_entry32:
#ifdef MG_EARLY_OUT
	movw $0x3f8, %dx
	movb $'G', %al
	outb %al, %dx
	movb $'\n', %al
	outb %al, %dx
#endif
#ifdef MG_EARLY_EXIT
	movw $MG_DEBUG_EXIT_PORT, %dx
	movb $MG_DEBUG_EXIT_VALUE, %al
	outb %al, %dx
#endif
	cli
	cld
	movl $MG_BOOT_PVH, %ebp
	testl %ebx, %ebx
	jnz 1f
	movl %esi, %ebx /* 32-bit Linux boot protocol: ebx must be 0 there */
	movl $MG_BOOT_LINUX32, %ebp
1:
	/* Zero .bss (it holds the page tables and the stack). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD 0..3; 2048 x 2 MiB pages. */
	movl $(mg_pdpt + PTE_P + PTE_RW), mg_pml4
	movl $(mg_pd + PTE_P + PTE_RW), %eax
	movl $mg_pdpt, %edi
	movl $4, %ecx
2:	movl %eax, (%edi)
	addl $0x1000, %eax
	addl $8, %edi
	loop 2b
	movl $(PTE_P + PTE_RW + PTE_PS), %eax
	movl $mg_pd, %edi
	movl $2048, %ecx
3:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 3b

	lgdt mg_gdt_ptr
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $mg_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG + CR0_PE), %eax
	movl %eax, %cr0
	ljmp $MG_SEL_CODE64, $4f

	.code64
4:	movl %ebx, %esi /* zero-extends */
	movl %ebp, %edi
	jmp mg_common64

	/* The linker script places this at +0x200 and checks it. */
	.section .text.entry64, "ax"
	.code64
	.globl mg_entry64
mg_entry64:
#ifdef MG_EARLY_OUT
	movw $0x3f8, %dx
	movb $'G', %al
	outb %al, %dx
	movb $'\n', %al
	outb %al, %dx
#endif
#ifdef MG_EARLY_EXIT
	movw $MG_DEBUG_EXIT_PORT, %dx
	movb $MG_DEBUG_EXIT_VALUE, %al
	outb %al, %dx
#endif
	cli
	cld
	movq %rsi, %rbx /* boot_params */

	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $3, %ecx
	xorl %eax, %eax
	rep stosq

	movl $(mg_pdpt + PTE_P + PTE_RW), mg_pml4
	movl $(mg_pd + PTE_P + PTE_RW), %eax
	movl $mg_pdpt, %edi
	movl $4, %ecx
2:	movl %eax, (%rdi)
	addl $0x1000, %eax
	addq $8, %rdi
	loop 2b
	movl $(PTE_P + PTE_RW + PTE_PS), %eax
	movl $mg_pd, %edi
	movl $2048, %ecx
3:	movl %eax, (%rdi)
	addl $0x200000, %eax
	addq $8, %rdi
	loop 3b

	/* Our code is identity mapped in both the loader's tables and ours.
	 * The protocol promises no stack: switch to ours before pushing. */
	movl $mg_pml4, %eax
	movq %rax, %cr3
	movl $(mg_stack + MG_STACK_SIZE), %esp
	lgdt mg_gdt_ptr
	pushq $MG_SEL_CODE64
	pushq $4f
	lretq
4:	movq %rbx, %rsi
	movl $MG_BOOT_LINUX64, %edi
	/* fall through */

mg_common64:
	movl $MG_SEL_DATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $(mg_stack + MG_STACK_SIZE), %esp
	xorl %ebp, %ebp
	call mg_start
	.globl mg_hlt_loop
mg_hlt_loop:
	cli
	hlt
	jmp mg_hlt_loop

/* Exception stubs, one every 16 bytes: vector i at mg_isr_stubs + 16 * i.
 * Vectors 8, 10-14, 17, 21, 29 and 30 come with an error code. */
	.text
	.balign 16
	.globl mg_isr_stubs
mg_isr_stubs:
	vec = 0
	.rept 32
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp mg_isr_common
	vec = vec + 1
	.endr

mg_isr_common:
	movq %rsp, %rdi /* vector, error code, rip, cs, rflags, rsp, ss */
	andq $-16, %rsp
	call mg_exception
	jmp mg_hlt_loop

	.section .rodata
	.balign 16
mg_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff /* 0x10: flat data */
mg_gdt_end:
	.balign 8
mg_gdt_ptr:
	.word mg_gdt_end - mg_gdt - 1
	.quad mg_gdt /* lgdt in 32-bit mode reads the low 4 bytes */

/* PVH: XEN_ELFNOTE_PHYS32_ENTRY, desc = 32-bit entry address. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4  /* namesz */
	.long 4  /* descsz */
	.long 18 /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long mg_entry32

	.section .bss
	.balign 4096
	.globl mg_pml4, mg_pdpt, mg_pd, mg_stack
mg_pml4: .skip 4096
mg_pdpt: .skip 4096
mg_pd: .skip 4 * 4096
mg_stack: .skip MG_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
