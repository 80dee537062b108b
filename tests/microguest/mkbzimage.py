#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Wrap a micro-guest into a minimal bzImage (Linux boot protocol 2.12).

usage: mkbzimage.py GUEST.elf GUEST.bin OUT.bzimage

GUEST.bin is `objcopy -O binary GUEST.elf`: the protected-mode part, loaded
at 0x100000 with its 64-bit entry at +0x200. GUEST.elf gives init_size (image
+ .bss + stack). The real-mode part is one boot sector plus one setup sector
holding only the setup header (Documentation/x86/boot.rst); its 16-bit code
just halts, so only 32/64-bit boot protocol loaders can run the result.
"""
import struct
import sys

LOAD_ADDR = 0x100000
SETUP_SECTS = 1
CMDLINE_MAX = 4096  # the guest's own cap, including the NUL
PT_LOAD = 1


def elf_load_extent(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("not a little-endian ELF64 file")
    (e_machine,) = struct.unpack_from("<H", data, 18)
    if e_machine != 62:
        sys.exit("not an x86-64 ELF file")
    e_phoff, = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    lo, hi_file, hi_mem = None, 0, 0
    for i in range(e_phnum):
        p_type, _flags, _off, _vaddr, paddr, filesz, memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type != PT_LOAD or memsz == 0:
            continue
        lo = paddr if lo is None else min(lo, paddr)
        hi_file = max(hi_file, paddr + filesz)
        hi_mem = max(hi_mem, paddr + memsz)
    if lo != LOAD_ADDR:
        sys.exit("lowest PT_LOAD is at %s, expected 0x%x" % (lo, LOAD_ADDR))
    return hi_file - LOAD_ADDR, hi_mem - LOAD_ADDR


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    elf = open(sys.argv[1], "rb").read()
    pm = open(sys.argv[2], "rb").read()
    file_len, mem_len = elf_load_extent(elf)
    if len(pm) != file_len or len(pm) <= 0x200:
        sys.exit("binary is %d bytes, ELF says %d" % (len(pm), file_len))
    pm += b"\0" * (-len(pm) % 16)  # syssize counts 16-byte paragraphs
    init_size = (max(mem_len, len(pm)) + 0xfff) & ~0xfff

    hdr_end = 0x268  # end of the 2.12 header (handover_offset is the last field)
    rm = bytearray((SETUP_SECTS + 1) * 512)

    def put(off, fmt, *v):
        struct.pack_into("<" + fmt, rm, off, *v)

    put(0x1F1, "B", SETUP_SECTS)           # setup_sects
    put(0x1F2, "H", 0)                     # root_flags
    put(0x1F4, "I", len(pm) // 16)         # syssize
    put(0x1FE, "H", 0xAA55)                # boot_flag
    put(0x200, "BB", 0xEB, hdr_end - 0x202)  # jmp short past the header
    rm[0x202:0x206] = b"HdrS"              # header
    put(0x206, "H", 0x020C)                # version 2.12
    put(0x211, "B", 0x01)                  # loadflags: LOADED_HIGH
    put(0x214, "I", LOAD_ADDR)             # code32_start
    put(0x22C, "I", 0x7FFFFFFF)            # initrd_addr_max
    put(0x230, "I", 0x100000)              # kernel_alignment (not relocatable)
    put(0x234, "B", 0)                     # relocatable_kernel
    put(0x235, "B", 20)                    # min_alignment: 1 MiB
    put(0x236, "H", 0x0001)                # xloadflags: XLF_KERNEL_64
    put(0x238, "I", CMDLINE_MAX - 1)       # cmdline_size
    put(0x258, "Q", LOAD_ADDR)             # pref_address
    put(0x260, "I", init_size)             # init_size
    # 16-bit code reached only by real-mode loaders: cli; 1: hlt; jmp 1b
    rm[hdr_end:hdr_end + 4] = bytes([0xFA, 0xF4, 0xEB, 0xFD])

    with open(sys.argv[3], "wb") as f:
        f.write(bytes(rm) + pm)


if __name__ == "__main__":
    main()
