/* SPDX-License-Identifier: MIT */
/* Constants shared by the micro-guests' assembly and C. No C syntax here. */
#ifndef MG_DEFS_H
#define MG_DEFS_H

/* How we were entered (first argument of mg_start). */
#define MG_BOOT_PVH	1 /* 32-bit PVH entry, ebx = hvm_start_info */
#define MG_BOOT_LINUX32 2 /* 32-bit Linux boot protocol, esi = boot_params */
#define MG_BOOT_LINUX64 3 /* 64-bit Linux boot protocol, rsi = boot_params */

#define MG_LOAD_ADDR   0x100000 /* link and load address */
#define MG_ENTRY64_OFF 0x200	/* 64-bit entry, as in a bzImage */

#define MG_DEBUG_EXIT_PORT  0x501 /* QEMU isa-debug-exit, cvmm debug exit */
#define MG_DEBUG_EXIT_VALUE 0x21  /* QEMU then exits with (0x21 << 1) | 1 = 67 */

#define MG_STACK_SIZE 0x4000

#define MG_SEL_CODE64 0x08
#define MG_SEL_DATA   0x10

#endif
