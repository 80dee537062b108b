#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks a micro-guest bzImage against Documentation/x86/boot.rst and its ELF.

usage: check_bzimage.py GUEST.bzimage GUEST.elf   (exit 0: fine)
"""
import struct
import sys

errors = []


def expect(cond, what):
    if not cond:
        errors.append(what)


def elf_image(data):
    """Flat image of the PT_LOAD file contents from 0x100000, plus symbols."""
    e_phoff, e_shoff = struct.unpack_from("<QQ", data, 32)
    e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", data, 54)
    img = bytearray()
    for i in range(e_phnum):
        p_type, _f, off, _va, pa, filesz, _memsz, _al = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1 and filesz:
            start = pa - 0x100000
            if len(img) < start + filesz:
                img += b"\0" * (start + filesz - len(img))
            img[start:start + filesz] = data[off:off + filesz]
    syms = {}
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
            for i in range(e_shnum)]
    for s in secs:
        if s[1] != 2:  # SHT_SYMTAB
            continue
        strtab = secs[s[6]]
        for j in range(s[5] // 24):
            st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from(
                "<IBBHQQ", data, s[4] + j * 24)
            name = data[strtab[4] + st_name:data.index(b"\0", strtab[4] + st_name)]
            syms[name.decode()] = st_value
    return bytes(img), syms


def main():
    bz = open(sys.argv[1], "rb").read()
    elf = open(sys.argv[2], "rb").read()
    u8 = lambda o: bz[o]
    u16 = lambda o: struct.unpack_from("<H", bz, o)[0]
    u32 = lambda o: struct.unpack_from("<I", bz, o)[0]
    u64 = lambda o: struct.unpack_from("<Q", bz, o)[0]

    setup_sects = u8(0x1F1) or 4
    rm_len = (setup_sects + 1) * 512
    pm = bz[rm_len:]
    img, syms = elf_image(elf)
    expect(u16(0x1FE) == 0xAA55, "boot_flag")
    expect(bz[0x202:0x206] == b"HdrS", "header magic")
    expect(u16(0x206) >= 0x020C, "version >= 2.12")
    expect(0x202 + u8(0x201) >= 0x268 and 0x202 + u8(0x201) <= rm_len,
           "jump past the header, inside the setup sectors")
    expect(u8(0x211) & 0x01, "loadflags LOADED_HIGH")
    expect(u16(0x236) & 0x01, "xloadflags XLF_KERNEL_64")
    expect(not u16(0x236) & 0x02, "not XLF_CAN_BE_LOADED_ABOVE_4G (4 GiB map only)")
    expect(u32(0x238) >= 255, "cmdline_size")
    expect(u32(0x22C) != 0, "initrd_addr_max")
    expect(u64(0x258) == 0x100000, "pref_address")
    ka = u32(0x230)
    expect(ka and ka & (ka - 1) == 0 and 0x100000 % ka == 0, "kernel_alignment")
    expect(u32(0x1F4) * 16 == len(pm), "syssize matches the protected-mode part")
    expect(len(pm) % 16 == 0, "protected-mode part padded to 16 bytes")
    expect(pm[:len(img)] == img and not pm[len(img):].strip(b"\0"),
           "protected-mode part equals the ELF's loaded bytes")
    expect(syms.get("mg_entry64") == 0x100200, "64-bit entry at 0x100200")
    expect(syms.get("mg_entry32") == 0x100000, "32-bit entry at 0x100000")
    end = syms.get("__init_end", 0) - 0x100000
    expect(u32(0x260) >= end > 0, "init_size covers image, .bss and stack")
    for e in errors:
        print("bzimage header: FAIL", e)
    if not errors:
        print("bzimage header: ok (setup_sects=%d syssize=%d init_size=0x%x)"
              % (setup_sects, u32(0x1F4), u32(0x260)))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
