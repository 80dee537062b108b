#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the tiny seed corpora in fuzz/corpus/<target>/ (synthetic inputs
only). Run from anywhere; rewrites the same files each time."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def bzimage(setup_sects=4, pm_len=512, reloc=1, pref=0x1000000, init_size=0x100000):
    ss = setup_sects or 4
    b = bytearray((ss + 1) * 512 + pm_len)
    b[0x1F1] = setup_sects
    struct.pack_into("<I", b, 0x1F4, pm_len // 16)
    struct.pack_into("<H", b, 0x1FE, 0xAA55)
    b[0x200:0x202] = b"\xeb\x6a"
    b[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", b, 0x206, 0x020F)
    b[0x211] = 1
    struct.pack_into("<I", b, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<I", b, 0x230, 0x200000)
    b[0x234] = reloc
    b[0x235] = 21
    struct.pack_into("<H", b, 0x236, 0x3)
    struct.pack_into("<I", b, 0x238, 2047)
    struct.pack_into("<Q", b, 0x258, pref)
    struct.pack_into("<I", b, 0x260, init_size)
    return bytes(b)


def pvh_elf(section_note=False):
    size = 0x600
    b = bytearray(size)
    b[0:7] = b"\x7fELF\x02\x01\x01"
    struct.pack_into("<HHIQQQIHHHHHH", b, 16, 2, 62, 1, 0xFFFFFFFF81000000, 64,
                     0x400 if section_note else 0, 0, 64, 56, 2, 64, 2 if section_note else 0, 0)
    note = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", 0x100010)
    b[0x200:0x200 + len(note)] = note
    # PT_LOAD: 0x100 bytes at file 0x300 -> 0x100000, memsz 0x1000
    struct.pack_into("<IIQQQQQQ", b, 64, 1, 7, 0x300, 0xFFFFFFFF81000000, 0x100000,
                     0x100, 0x1000, 0x1000)
    ptype = 0 if section_note else 4
    struct.pack_into("<IIQQQQQQ", b, 64 + 56, ptype, 4, 0x200, 0, 0, len(note), len(note), 4)
    for i in range(0x100):
        b[0x300 + i] = (i * 7) & 0xFF
    if section_note:
        struct.pack_into("<IIQQQQIIQQ", b, 0x400 + 64, 1, 7, 2, 0, 0x200, len(note), 0, 0, 4, 0)
    return bytes(b)


def acpi_cfg(ncpus, devs):
    out = bytearray([ncpus & 0xFF, len(devs) & 0x3F])
    for sel, base, size_byte, gsi in devs:
        out += bytes([sel]) + struct.pack("<IBHH", base, size_byte, gsi, 0)
    return bytes(out)


def main():
    put("bzimage", "relocatable", bzimage())
    put("bzimage", "fixed_2m", bzimage(reloc=0, pref=0x200000))
    put("bzimage", "setup_sects_0", bzimage(setup_sects=0, pm_len=1024))
    put("pvh_elf", "phdr_note", pvh_elf())
    put("pvh_elf", "section_note", pvh_elf(section_note=True))
    put("acpi", "one_cpu", acpi_cfg(1, []))
    virtio = [(0x00 | (12 << 2), 0xD0000000 + i * 0x1000, 1, 5 + i) for i in range(3)]
    put("acpi", "four_cpus_virtio", acpi_cfg(4, virtio))
    put("acpi", "max_cpus", acpi_cfg(254, virtio[:1]))
    put("mptable", "one", bytes([1, 0, 0, 0, 1]))
    put("mptable", "eight", bytes([8, 0, 0, 0, 1]))
    put("mptable", "forty", bytes([40, 0, 0, 0, 1]))
    put("mptable", "too_many", bytes([41, 0, 0, 0, 1]))


if __name__ == "__main__":
    main()
