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


def acpi_cfg(ncpus, devs, many=None):
    out = bytearray([ncpus & 0xFF, (len(devs) & 0x3F) | (0x40 if many else 0)])
    for sel, base, size_byte, gsi in devs:
        out += bytes([sel]) + struct.pack("<IBHH", base, size_byte, gsi, 0)
    if many:
        out += struct.pack("<H", many)
    return bytes(out)


def chain_seed(n_out, n_in, codes, ops):
    """fuzz_chain: segment counts, length codes, then [op, n] ops."""
    out = struct.pack("<HHB", n_out, n_in, len(codes)) + bytes(codes)
    for op, n in ops:
        out += struct.pack("<BH", op, n)
    return out


def chain_op(kind, cursor, param=0):
    return kind | cursor << 3 | param << 5


MMIO_REGS = [0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038,
             0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4,
             0x0AC, 0x0B0, 0x0B4, 0x0B8, 0x0BC, 0x0FC, 0x100, 0x104, 0x108, 0x13C, 0x140]


def mmio_seed(queues, flags, features, ops):
    """fuzz_mmio: header, then 6-byte ops (see fuzz_mmio.c)."""
    out = bytes([queues - 1, flags]) + struct.pack("<Q", features)
    for op in ops:
        out += op
    return out


def mr(off, width=4):
    return struct.pack("<BBI", 8 | {1: 0, 2: 1, 4: 2, 8: 3}[width], MMIO_REGS.index(off), 0)


def mw(off, value, width=4):
    return struct.pack("<BBI", 8 | 4 | {1: 0, 2: 1, 4: 2, 8: 3}[width], MMIO_REGS.index(off), value)


def mmio_probe(queues=1, rings=((0x1000, 0x2000, 0x3000),), num=16, event_idx=True):
    """What Linux's virtio_mmio driver does up to DRIVER_OK."""
    ops = [mr(0x000), mr(0x004), mr(0x008), mr(0x00C), mw(0x070, 0), mw(0x070, 1),
           mw(0x070, 3), mw(0x014, 1), mr(0x010), mw(0x014, 0), mr(0x010),
           mw(0x024, 1), mw(0x020, 1), mw(0x024, 0), mw(0x020, (1 << 29) if event_idx else 0),
           mw(0x070, 0xB), mr(0x070)]
    for q, (desc, avail, used) in enumerate(rings):
        ops += [mw(0x030, q), mr(0x044), mr(0x034), mw(0x038, num), mw(0x080, desc),
                mw(0x084, 0), mw(0x090, avail), mw(0x094, 0), mw(0x0A0, used), mw(0x0A4, 0),
                mw(0x044, 1)]
    ops += [mw(0x070, 0xF), mr(0x070), mr(0x0FC), mr(0x100), mr(0x104, 1), mr(0x108, 8)]
    return ops


def blk_req(k, t, sec, ndata, hdr=0, status=0, codes=(), rng=None):
    """fuzz_blk: one structured request (see fuzz_blk.c)."""
    out = bytes([k, t, sec, ndata | hdr << 3 | status << 5]) + bytes(codes)
    if rng:
        out += bytes(rng)
    return out


def blkd_req(q, t, sec, cnt, shape=0):
    """fuzz_blk_dev: op 0, a structured request on queue q."""
    return bytes([q << 7, t, sec, cnt, shape])


def blk_raw(descs, hdr):
    out = bytes([3, len(descs) - 1])
    for addr, length, flags, nxt in descs:
        out += struct.pack("<QIHH", addr, length, flags, nxt)
    return out + hdr


def initrd_seed(sel, cls, mem, end, amax, isize, below4g=0, head=b""):
    """fuzz_initrd: selectors, size class, v1..v5, the initrd's first bytes."""
    return bytes([sel, cls]) + struct.pack("<QQQQQ", mem, end, amax, isize, below4g) + head


def pio(kind, off, val=0, wr=False, width=1):
    """fuzz_legacy: one 3-byte op."""
    return bytes([kind | (8 if wr else 0) | {1: 0, 2: 1, 4: 2}[width] << 4, off, val])


def net_seed(log2, flags, plen, descs, avail):
    """fuzz_net: queue size, knobs, RX length, descriptor table, avail ring."""
    qs = 1 << ((log2 & 0x7F) % 7)
    table = bytearray(16 * qs)
    for i, (addr, length, dflags, nxt) in enumerate(descs):
        struct.pack_into("<QIHH", table, 16 * i, addr, length, dflags, nxt)
    ring = struct.pack("<HH", 0, len(avail)) + b"".join(struct.pack("<H", h) for h in avail)
    return bytes([log2, flags]) + struct.pack("<H", plen) + bytes(table) + ring


def vsock_hdr(op, length=0, flags=0, buf_alloc=262144, fwd_cnt=0, typ=1, src=3, dst=2,
              sport=1234, dport=5000):
    """struct virtio_vsock_hdr, 44 bytes little endian."""
    return struct.pack("<QQIIIHHIII", src, dst, sport, dport, length, typ, op, flags,
                       buf_alloc, fwd_cnt)


def vsock_seed(knobs, state, line, pkts):
    """fuzz_vsock: knobs (queue size, sane), starting state, a CONNECT line,
    then one descriptor per packet laid out back to back in the buffer area
    (0x13000), the avail ring, the packet bytes."""
    qs = 1 << ((knobs & 0x7F) % 7)
    table = bytearray(16 * qs)
    buf = b""
    for i, p in enumerate(pkts):
        struct.pack_into("<QIHH", table, 16 * i, 0x13000 + len(buf), len(p), 0, 0)
        buf += p
    ring = struct.pack("<HH", 0, len(pkts)) + b"".join(struct.pack("<H", i) for i in range(len(pkts)))
    ring += bytes(4 + 2 * qs - len(ring))
    return bytes([knobs, state, len(line)]) + line + bytes(table) + ring + buf


def vdev_restore(own=True, avail=5, used=3, pos=(3, 3), status=0xF, num=32, drv=(1 << 32) | (1 << 29), nq=1):
    """fuzz_vdev_restore: [flags, avail, used] then section virtio's fields."""
    def f(tag, b):
        return struct.pack("<HB", tag, len(b)) + b
    out = bytes([1 if own else 0]) + struct.pack("<HH", avail, used)
    out += f(1, struct.pack("<Q", drv)) + f(2, struct.pack("<Q", drv))
    out += f(3, struct.pack("<I", status))
    for tag in range(4, 8):
        out += f(tag, struct.pack("<I", 0))
    out += f(8, struct.pack("<I", nq)) + f(9, struct.pack("<I", 0)) + f(10, struct.pack("<I", 0))
    out += f(0x100, struct.pack("<I", num)) + f(0x101, struct.pack("<I", 1))
    out += f(0x102, struct.pack("<Q", 0x1000)) + f(0x103, struct.pack("<Q", 0x2000))
    out += f(0x104, struct.pack("<Q", 0x3000))
    if pos is not None:
        out += f(0x105, struct.pack("<I", pos[0] << 16 | pos[1]))
    return out


def balloon_seed(knobs, pfns, stats, partial=b""):
    """fuzz_balloon: knobs, the PFN array's length, the PFNs, the stats."""
    a = b"".join(struct.pack("<I", p) for p in pfns) + partial
    st = b"".join(struct.pack("<HQ", t, v) for t, v in stats)
    return bytes([knobs]) + struct.pack("<H", len(a)) + a + st


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
    put("acpi", "many_devices", acpi_cfg(2, virtio, many=700))
    put("acpi", "too_many_devices", acpi_cfg(2, virtio, many=1001))
    put("mptable", "one", bytes([1, 0, 0, 0, 1]))
    put("mptable", "eight", bytes([8, 0, 0, 0, 1]))
    put("mptable", "forty", bytes([40, 0, 0, 0, 1]))
    put("mptable", "too_many", bytes([41, 0, 0, 0, 1]))
    # chain: a header, data and a status byte; many tiny segments; big ones
    put("chain", "blk_like", chain_seed(2, 2, [16, 200 + 12, 200 + 12, 1], [
        (chain_op(0, 0), 16), (chain_op(3, 0, 2), 600), (chain_op(4, 0), 0),
        (chain_op(1, 2), 300), (chain_op(3, 2, 4), 282), (chain_op(1, 2), 2),
        (chain_op(6, 3, 2), 0), (chain_op(5, 2), 0), (chain_op(7, 2), 0)]))
    put("chain", "many_small", chain_seed(300, 700, [1, 0, 3, 23, 0], [
        (chain_op(2, 0), 100), (chain_op(3, 0, 4), 40), (chain_op(3, 0, 7), 0),
        (chain_op(1, 3), 5000), (chain_op(3, 2, 6), 900), (chain_op(0, 1), 9999),
        (chain_op(2, 2, 7), 0), (chain_op(3, 3, 5), 64)]))
    put("chain", "empty_parts", chain_seed(0, 3, [0], [
        (chain_op(0, 0), 1), (chain_op(1, 2), 1), (chain_op(3, 2, 0), 0),
        (chain_op(3, 2, 1), 1)]))
    # mmio: Linux's probe on 1 and 3 queues, with and without queue checks
    put("mmio", "probe", mmio_seed(1, 0, (1 << 32) | (1 << 29) | (1 << 28) | 0x3F,
                                   mmio_probe() + [mr(0x060), mw(0x064, 1), mw(0x070, 0)]))
    put("mmio", "probe_checked", mmio_seed(2, 2 << 3 | 5, (1 << 32) | (1 << 29),
                                           mmio_probe() + [
                                               struct.pack("<BBI", 0xE0, 0, 7), mr(0x060),
                                               mr(0x070), mw(0x064, 3), mw(0x070, 0)]))
    put("mmio", "three_queues", mmio_seed(3, 3 << 3 | 4, (1 << 32) | 0xFF, mmio_probe(
        3, ((0x1000, 0x2000, 0x3000), (0x4000, 0x5000, 0x6000), (0xFFFF0, 0x2000, 0x3000)),
        num=8, event_idx=False)))
    # a reset whose workers take time: status non-zero, writes ignored,
    # the workers done (a worker op, value bit 3), the status read ends it
    put("mmio", "two_step_reset", mmio_seed(1, 0x20 | 5, (1 << 32) | (1 << 29), mmio_probe() + [
        mw(0x070, 0), mr(0x070), mw(0x070, 1), mr(0x070), struct.pack("<BBI", 0xE0, 0, 8),
        mr(0x070), mw(0x070, 1), mr(0x070)] + mmio_probe()[4:] + [mw(0x070, 0)]))
    put("mmio", "bad_features", mmio_seed(1, 0x80 | 1, 0x3F, [
        mw(0x070, 3), mw(0x024, 1), mw(0x020, 3), mw(0x070, 0xB), mr(0x070),
        mw(0x070, 0xF), mr(0x070), mw(0x070, 0)]))
    # blk: one of each request type on a 128-sector disk; a read-only big
    # disk with out-of-range and oversized requests; raw descriptors
    put("blk", "each_type", bytes([0x13]) + b"".join([
        blk_req(0, 0, 8, 2, codes=[0x00, 0x01]),
        blk_req(0, 1, 0, 1, hdr=1, codes=[0x07]),
        blk_req(0, 2, 0, 0),
        blk_req(0, 3, 0, 1, codes=[0x40 | 20]),
        blk_req(0, 4, 0, 0, rng=[4, 8, 0]),
        blk_req(8, 5, 0, 0, rng=[0, 16, 1]),
        blk_req(0, 6, 0, 0),
        blk_req(0, 0, 0, 1, status=1, codes=[0x00]),
        blk_req(8, 0, 0x81, 3, hdr=3, codes=[0x00, 0x00, 0x00])]))
    put("blk", "ro_big", bytes([0x2E]) + b"".join([
        blk_req(0, 1, 0, 1, codes=[0x00]),
        blk_req(0, 0, 0x80, 1, codes=[0x00]),
        blk_req(0, 0, 0x81, 1, codes=[0x00]),
        blk_req(0, 0, 0, 1, codes=[0x80]),
        blk_req(0, 0, 0, 1, codes=[0x41]),
        blk_req(0, 3, 0, 1, codes=[0x40 | 4]),
        blk_req(4, 0, 0, 1, codes=[0x00]),
        blk_req(2, 0, 0, 1, status=2, codes=[0x00])]))
    # initrd: 512 MiB and a 20 MiB kernel; 8 GiB and no initrd_addr_max;
    # a kernel that fills RAM; an old kernel's 896 MiB limit on 2 GiB; a
    # kernel end that wraps; an initrd over 3 GiB; ram_end beyond RAM
    mib = 1 << 20
    put("initrd", "typical", initrd_seed(0x00, 2, 512 * mib // 4096, 20 * mib, 0, 255,
                                         head=b"070701"))
    put("initrd", "high_ram", initrd_seed(0x31, 0, 8 << 30, 0, 2**64 - 1, 12345))
    put("initrd", "no_room", initrd_seed(0x00, 0, 64 * mib // 4096, 63 * mib, 0, 8191))
    put("initrd", "old_limit", initrd_seed(0x11, 2, 2 << 30, 0, 0, 1023))
    put("initrd", "wrapping_end", initrd_seed(0x08, 0, 0, 0, 0, 100))
    put("initrd", "too_big", initrd_seed(0x02, 3, 0, 0, 0, 5))
    put("initrd", "ram_end_lies", initrd_seed(0x43, 0, 100, 0, 0, 4096, below4g=2 << 30))
    # legacy: a UART session (divisor, FIFO, loopback, host input), an RTC
    # session (binary mode, set time, clock moving), i8042 and ACPI PM
    put("legacy", "uart", b"".join([
        pio(0, 3, 0x80, True), pio(0, 0, 1, True), pio(0, 1, 0, True), pio(0, 3, 3, True),
        pio(0, 2, 7, True), pio(0, 1, 3, True), pio(0, 2), pio(0, 4, 0x1B, True),
        pio(0, 0, 0x41, True), pio(0, 5), pio(0, 0), pio(0, 4, 0x0B, True),
        pio(4, ord("h"), ord("i")), pio(0, 2), pio(0, 0), pio(0, 0), pio(0, 6),
        pio(0, 7, 0x55, True), pio(0, 7), pio(0, 0, 0, False, 4), pio(0, 2, 2, True)]))
    put("legacy", "rtc", b"".join([
        pio(1, 0, 0x0A, True), pio(1, 1), pio(1, 0, 0x00, True), pio(1, 1),
        pio(1, 0, 0x04, True), pio(1, 1), pio(1, 0, 0x0B, True), pio(1, 1, 0x06, True),
        pio(6, 0x47, 0x1D), pio(5, 0x10, 0x0E), pio(1, 0, 0x32, True), pio(1, 1),
        pio(1, 0, 0x8B, True), pio(1, 1, 0x02, True), pio(6, 0xC0, 0x63),
        pio(1, 0, 0x0C, True), pio(1, 1), pio(1, 0, 0x0D, True), pio(1, 1)]))
    put("legacy", "i8042_pm", b"".join([
        pio(2, 4, 0xAA, True), pio(2, 4), pio(2, 0), pio(2, 4, 0x60, True),
        pio(2, 0, 0x47, True), pio(2, 4, 0x20, True), pio(2, 0), pio(3, 1),
        pio(3, 0, 0x34, True), pio(3, 2, 1, True), pio(2, 4, 0xFE, True),
        pio(7, 0, 3, True)]))
    # net: TX chains (header + frame), then writable RX buffers, one-buffer
    # and mergeable; sane knob on
    net_descs = [(0x0, 12, 1, 1), (0x100, 60, 0, 0), (0x200, 1514, 0, 0), (0x800, 12, 1, 3),
                 (0x900, 64, 0, 0), (0x1000, 2048, 2, 0), (0x1800, 1526, 2, 0), (0x2000, 100, 2, 0)]
    put("net", "tx_rx", net_seed(3, 1 | 3 << 1, 0x0800, net_descs, [0, 2, 3, 5, 6, 7]))
    put("net", "mergeable", net_seed(3 | 0x80, 1 | 5 << 1, 0xFFFF, net_descs, [5, 6, 7, 0]))
    # vsock: a host-initiated connection accepted, data both ways, credit,
    # shutdown; a guest REQUEST; hostile headers
    # balloon: a driver's array with runs and duplicates, Linux's stats;
    # PFNs past RAM, in the hole and at the top; near RAM with 64 KiB pages
    put("balloon", "runs_and_stats", balloon_seed(0, [0x100, 0x102, 0x101, 0x101, 0x200, 0x2ff], [
        (t, 1000 * t) for t in range(10)]))
    put("balloon", "outside_ram", balloon_seed(0, [0x1000, 0xc0000, 0x100000, 0xffffffff, 0xfffffffe, 0],
                                                [(99, 1), (4, 2)], b"\x01\x02"))
    put("balloon", "folded_64k", balloon_seed(3, list(range(0x0ff0, 0x1010)) + [0x1fff, 0x0fff],
                                               [(5, 1 << 40), (15, 3)]))
    put("vsock", "host_initiated", vsock_seed(4, 0, b"CONNECT 5000\n", [
        vsock_hdr(2), vsock_hdr(5, 100) + bytes(100), vsock_hdr(7), vsock_hdr(6, fwd_cnt=10),
        vsock_hdr(5, 65536) + bytes(64), vsock_hdr(4, flags=2), vsock_hdr(5, 1) + b"x",
        vsock_hdr(4, flags=3), vsock_hdr(3)]))
    put("vsock", "established", vsock_seed(3 | 0x80, 2 | 3 << 3, b"CONNECT 4294967295\r\nxyz", [
        vsock_hdr(5, 4000) + bytes(4000), vsock_hdr(5, 2000) + bytes(2000),
        vsock_hdr(1), vsock_hdr(2, typ=2), vsock_hdr(5, 10, src=4) + bytes(10)]))
    put("vsock", "bad_lines", vsock_seed(2, 1, b"CONNECT 99999999999\n", [
        vsock_hdr(5, 1 << 31), vsock_hdr(9), vsock_hdr(1, dst=1), vsock_hdr(3)]))

    put("blk", "many_segments", bytes([0x13]) + b"".join([
        blk_req(0x10, 0, 0, 7, codes=[20, 0x00]),
        blk_req(0x10, 1, 0, 7, codes=[50, 0x00])]))
    # blk_dev: ops 2 kick+settle, 3 kick, 4 reset, 5 init, 6 register, 7 settle
    put("blk_dev", "serve", bytes([0x08]) + b"".join([
        blkd_req(0, 1, 8, 2), blkd_req(0, 0, 0, 4), blkd_req(0, 5 | 8, 16, 8),
        blkd_req(0, 2, 0, 0), blkd_req(0, 3, 0, 1), bytes([2]),
        blkd_req(0, 0, 8, 2, 4), blkd_req(0, 0, 16, 8, 8), blkd_req(0, 5, 30, 3),
        blkd_req(0, 4, 40, 4), bytes([2]), blkd_req(0, 0, 28, 8), bytes([2])]))
    put("blk_dev", "reset_in_flight", bytes([0x09]) + b"".join([
        blkd_req(0, 1, 0, 8), blkd_req(1, 1, 8, 8), blkd_req(0, 0, 16, 8),
        bytes([3, 0x83, 4, 5]), blkd_req(0, 0, 16, 4), blkd_req(1, 1, 2, 1),
        bytes([0x82, 2]), blkd_req(0, 0, 2, 1), bytes([2, 4, 0x83, 7, 5, 7])]))
    put("blk_dev", "statusless", bytes([0x18]) + b"".join(
        [blkd_req(0, k % 2, k, 1, 1) for k in range(20)] + [bytes([2])] +
        [blkd_req(0, 0, 1, 2), bytes([2])]))
    put("blk_dev", "hostile", bytes([0x02]) + b"".join([
        bytes([1, 3, 0, 0x21, 0, 0, 1, 0x10, 0x02, 0, 2, 0x10, 0x82, 0]), bytes([2]),
        blkd_req(0, 1, 0, 1), bytes([6, 7, 0, 0, 2, 4, 5]), blkd_req(0, 0, 0, 1),
        bytes([2])]))
    # vsock_dev: ops are o % 13 (see fuzz_vsock_dev.c)
    def vs(*ops):
        return b"".join(bytes(o) for o in ops)
    rx, conn, wr, close_, read, send, raw, kick, post, collect = \
        7, 0, 1, 2, 3, 4, 5, 6, 7, 8
    session = [[post, 31, 32], [conn, 0, 0], [collect], [send, 0, 1, 0, 0]] + \
        [[send, 0, 4, 255, 0]] * 4 + [[kick], [read], [collect], [11], [read], [collect],
                                      [send, 0, 4, 10, 0], [kick], [read]]
    put("vsock_dev", "host_session", vs(*session, [wr, 0, 50], [collect],
                                         [send, 0, 3, 0, 6], [kick], [11], [read], [collect]))
    guest = [[post, 15, 4], [send, 4, 0, 0, 0], [kick], [12], [collect],
             [send, 4, 4, 20, 0], [kick], [read], [collect], [send, 5, 0, 0, 0], [kick],
             [collect]]
    put("vsock_dev", "guest_conn", vs(*guest, [send, 4, 2, 0, 0], [kick], [11], [read]))
    put("vsock_dev", "reset", vs(*session, *guest[1:], [wr, 0, 30], [9], [read], [11],
                                 [10], [post, 7, 1], [conn, 1, 1], [12], [collect],
                                 [send, 1, 1, 0, 0], [send, 1, 4, 3, 0], [kick], [read],
                                 [9], [10], [post, 3, 0], [collect]))
    put("vsock_dev", "hostile", vs([post, 31, 8], [conn, 2, 2], [conn, 3, 0], [collect],
                                   [raw, 3] + [0] * 28 + [4, 0, 0, 0] + [0] * 12,
                                   [send, 3, 1, 0, 1], [send, 3, 4, 255, 0x81], [kick],
                                   [collect], [read], [9], [kick], [collect]))
    put("blk", "raw", bytes([0x03]) + blk_raw(
        [(0x10000, 16, 1, 1), (0x11000, 513, 2, 0)], struct.pack("<IIQ", 0, 0, 0)))
    # fs: a read-only share's session (INIT is automatic with bit 0), then
    # hostile messages.
    ok = 0x20 | 5 << 2            # header len fixed up, 4096 writable bytes
    node, fh = 0x40, 0x80         # use the last nodeid / fh a reply gave
    put("fs", "session", bytes([1]) + b"".join([
        fs_msg(ok, 1, 1, b"sub\0"),                                   # LOOKUP
        fs_msg(ok, 1, 1, b"file\0"),
        fs_msg(ok | node, 3, 1, struct.pack("<IIQ", 0, 0, 0)),         # GETATTR
        fs_msg(ok | node, 14, 1, struct.pack("<II", 0, 0)),            # OPEN
        fs_msg(ok | node | fh, 15, 1, struct.pack("<QQIIQII", 0, 0, 8, 0, 0, 0, 0)),  # READ
        fs_msg(ok | node | fh, 25, 1, struct.pack("<QIIQ", 0, 0, 0, 0)),  # FLUSH
        fs_msg(ok | node | fh, 46, 1, struct.pack("<QQII", 0, 0, 3, 0)),  # LSEEK
        fs_msg(ok | node | fh, 18, 1, struct.pack("<QIIQ", 0, 0, 0, 0)),  # RELEASE
        fs_msg(ok, 27, 1, struct.pack("<II", 0, 0)),                   # OPENDIR root
        fs_msg(ok | fh, 44, 1, struct.pack("<QQIIQII", 0, 0, 4096, 0, 0, 0, 0)),  # READDIRPLUS
        fs_msg(ok | fh, 28, 1, struct.pack("<QQIIQII", 0, 0, 100, 0, 0, 0, 0)),   # READDIR
        fs_msg(ok | fh, 29, 1, struct.pack("<QIIQ", 0, 0, 0, 0)),      # RELEASEDIR
        fs_msg(ok, 1, 1, b"up\0"),
        fs_msg(ok | node, 5, 1, b""),                                  # READLINK
        fs_msg(ok | node, 1, 1, b"file\0"),                           # LOOKUP under a link
        fs_msg(ok, 17, 1, b""),                                        # STATFS
        fs_msg(ok, 9, 1, struct.pack("<II", 0o755, 0) + b"d\0"),      # MKDIR (EROFS)
        fs_msg(ok, 2, 1, struct.pack("<Q", 1)),                        # FORGET
        fs_msg(ok, 38, 1, b""),                                        # DESTROY
    ]))
    put("fs", "hostile", bytes([1]) + b"".join([
        fs_msg(5 << 2, 3, 1, b"\0" * 16, hdr_len=4000),               # len disagrees
        fs_msg(ok, 7, 1, b""),                                         # unknown opcode
        fs_msg(ok, 4000, 1, b""),
        fs_msg(ok, 1, 1, b"noterm"),                                   # name without NUL
        fs_msg(ok, 1, 1, b"..\0"),
        fs_msg(ok, 1, 1, b"a/b\0"),
        fs_msg(ok, 42, 1, struct.pack("<II", 0xFFFFFFFF, 0)),          # BATCH_FORGET count
        fs_msg(ok, 42, 1, struct.pack("<II", 2, 0) + struct.pack("<QQ", 1, 5) * 2),
        fs_msg(ok, 15, 1, struct.pack("<QQIIQII", 0, 0, 0x7FFFFFFF, 0, 0, 0, 0)),  # READ size
        fs_msg(ok, 16, 1, struct.pack("<QQIIQII", 0, 0, 100, 0, 0, 0, 0)),         # WRITE
        fs_msg(ok, 3, 0xdeadbeef00000002, struct.pack("<IIQ", 0, 0, 0)),           # forged node
        fs_msg(0x21, 1, 1, b"file\0"),                                # no writable part, 2 segs
        fs_msg(0x20 | 1 << 2, 1, 1, b"file\0"),                       # 8 writable bytes
    ]) + bytes([0, 10, 0]) + b"0123456789")                            # shorter than a header
    # fs, writable: every mutating opcode on the first server
    rw, rd, wr = struct.pack("<II", 2, 0), struct.pack("<II", 0, 0), struct.pack("<II", 1, 0)
    io = lambda size: struct.pack("<QQIIQII", 0, 0, size, 0, 0, 0, 0)  # fuse_read/write_in
    first = 1 << 32 | 2           # the first inode a fresh server hands out
    put("fs", "writable", bytes([1]) + b"".join([
        fs_msg(ok, 1, 1, b"file\0"),                                    # LOOKUP
        fs_msg(ok | node, 4, 1, fs_setattr(1 | 16 | 32, mode=0o600, mtime=5)),  # SETATTR
        fs_msg(ok | node, 4, 1, fs_setattr(8, size=3)),                # SETATTR size
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0o22, 0) + b"new\0"),  # CREATE
        fs_msg(ok | node | fh, 16, 1, io(5) + b"hello"),               # WRITE
        fs_msg(ok | node | fh, 15, 1, io(64)),                         # READ
        fs_msg(ok | node | fh, 43, 1, struct.pack("<QQQII", 0, 0, 4096, 0, 0)),  # FALLOCATE
        fs_msg(ok | node | fh, 20, 1, struct.pack("<QII", 0, 1, 0)),   # FSYNC
        fs_msg(ok | node | fh, 18, 1, struct.pack("<QIIQ", 0, 0, 0, 0)),  # RELEASE
        fs_msg(ok, 9, 1, struct.pack("<II", 0o755, 0) + b"d\0"),       # MKDIR
        fs_msg(ok, 8, 1, struct.pack("<IIII", 0o10644, 0, 0, 0) + b"p\0"),  # MKNOD FIFO
        fs_msg(ok, 8, 1, struct.pack("<IIII", 0o140644, 0, 0, 0) + b"s\0"),  # MKNOD socket
        fs_msg(ok, 8, 1, struct.pack("<IIII", 0o20644, 0x103, 0, 0) + b"c\0"),  # MKNOD chr
        fs_msg(ok, 6, 1, b"l\0../sentinel\0"),                         # SYMLINK
        fs_msg(ok, 13, 1, struct.pack("<Q", first) + b"hl\0"),          # LINK
        fs_msg(ok, 12, 1, struct.pack("<Q", 1) + b"hl\0hl2\0"),         # RENAME
        fs_msg(ok, 45, 1, struct.pack("<QII", 1, 2, 0) + b"p\0file\0"),  # RENAME2 exchange
        fs_msg(ok, 21, first, struct.pack("<II", 2, 0) + b"user.a\0v1"),  # SETXATTR
        fs_msg(ok, 22, first, struct.pack("<II", 64, 0) + b"user.a\0"),  # GETXATTR
        fs_msg(ok, 23, first, struct.pack("<II", 64, 0)),              # LISTXATTR
        fs_msg(ok, 24, first, b"user.a\0"),                            # REMOVEXATTR
        fs_msg(ok, 10, 1, b"hl2\0"),                                    # UNLINK
        fs_msg(ok, 11, 1, b"d\0"),                                      # RMDIR
        fs_msg(ok, 42, 1, struct.pack("<II", 2, 0) + struct.pack("<QQ", first, 1 << 63) * 2),
        fs_msg(ok, 38, 1, b""),                                        # DESTROY
    ]))
    # fs: FIFOs and the device node: CREATE, OPEN, a FIFO renamed over a file
    put("fs", "fifo", bytes([1]) + b"".join([
        fs_msg(ok, 8, 1, struct.pack("<IIII", 0o10644, 0, 0, 0) + b"p\0"),  # MKNOD FIFO
        fs_msg(ok, 35, 1, struct.pack("<IIII", 0, 0o100644, 0, 0) + b"p\0"),  # CREATE ro
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0, 0) + b"p\0"),  # CREATE rw
        fs_msg(ok | node | fh, 15, 1, io(64)),                         # READ
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0, 0) + b"fifo\0"),
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0, 0) + b"null\0"),
        fs_msg(ok, 1, 1, b"null\0"),
        fs_msg(ok | node, 14, 1, rw),                                  # OPEN the device
        fs_msg(ok, 1, 1, b"fifo\0"),
        fs_msg(ok | node, 14, 1, rd),                                  # OPEN the FIFO
        fs_msg(ok | node, 14, 1, wr),
        fs_msg(ok, 1, 1, b"file\0"),
        fs_msg(ok, 12, 1, struct.pack("<Q", 1) + b"p\0file\0"),         # RENAME p over file
        fs_msg(ok | node, 14, 1, rd),                                  # OPEN file's nodeid
        fs_msg(ok | node, 14, 1, rw),
        fs_msg(ok | node, 4, 1, fs_setattr(8, size=0)),                # truncate it
        fs_msg(ok | node, 22, 1, struct.pack("<II", 64, 0) + b"user.a\0"),  # GETXATTR
    ]))
    # fs, two servers on one directory: the second swaps a link to the
    # sentinel in under the first one's nodeid, which then acts on it
    put("fs", "two_servers", bytes([1]) + b"".join([
        fs_msg(ok, 1, 1, b"file\0"),                                    # A: LOOKUP
        fs_msg(ok, 1, 1, b"file\0", srv=1),                             # B: LOOKUP
        fs_msg(ok, 12, 1, struct.pack("<Q", 1) + b"file\0kept\0", srv=1),  # B: RENAME
        fs_msg(ok, 6, 1, b"file\0../sentinel\0", srv=1),                # B: SYMLINK
        fs_msg(ok | node, 4, 1, fs_setattr(1 | 32, mode=0o777, mtime=9)),  # A: chmod, times
        fs_msg(ok | node, 4, 1, fs_setattr(2 | 4)),                    # A: chown
        fs_msg(ok | node, 14, 1, rw),                                  # A: OPEN
        fs_msg(ok | node, 4, 1, fs_setattr(8, size=1)),                # A: truncate
        fs_msg(ok, 13, 1, struct.pack("<Q", first) + b"hl\0"),          # A: LINK
        fs_msg(ok, 8, 1, struct.pack("<IIII", 0o10644, 0, 0, 0) + b"q\0", srv=1),
        fs_msg(ok, 12, 1, struct.pack("<Q", 1) + b"q\0kept\0", srv=1),   # B: FIFO over it
        fs_msg(ok, 1, 1, b"kept\0"),                                    # A: LOOKUP kept
        fs_msg(ok | node, 14, 1, rd),                                  # A: OPEN
        fs_msg(ok, 21, first, struct.pack("<II", 1, 0) + b"user.b\0x"),  # A: SETXATTR
        fs_msg(ok, 10, 1, b"file\0", srv=1),                            # B: UNLINK
        fs_msg(ok, 1, 1, b"rel\0", srv=1),
        fs_msg(ok | node, 4, 1, fs_setattr(1, mode=0o777), srv=1),     # B: chmod a link
    ]))
    # fs: FORGET of everything while a file is open, a read-only first
    # server next to a writable second one
    put("fs", "forget_open", bytes([3]) + b"".join([
        fs_msg(ok, 1, 1, b"file\0"),
        fs_msg(ok | node, 14, 1, rd),                                  # OPEN
        fs_msg(ok | node, 2, 1, struct.pack("<Q", (1 << 64) - 1)),     # FORGET all
        fs_msg(ok, 1, 1, b"sub\0"),                                     # LOOKUP another
        fs_msg(ok | fh, 15, first, io(8)),                             # READ the open file
        fs_msg(ok | fh, 18, first, struct.pack("<QIIQ", 0, 0, 0, 0)),  # RELEASE
        fs_msg(ok | node, 3, 1, struct.pack("<IIQ", 0, 0, 0)),         # GETATTR sub
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0, 0) + b"x\0"),  # EROFS
        fs_msg(ok, 35, 1, struct.pack("<IIII", 2, 0o100644, 0, 0) + b"x\0", srv=1),
        fs_msg(ok | node | fh, 16, 1, io(2) + b"hi", srv=1),           # B: WRITE
        fs_msg(ok, 1, 1, b"x\0"),
        fs_msg(ok | node, 14, 1, rw),                                  # A: EROFS
        fs_msg(ok, 42, 1, struct.pack("<II", 1, 0) + struct.pack("<QQ", first, 1 << 63)),
    ]))


def config_json():
    put("config_json", "full", b'{"kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0",'
        b' "cpus": 2, "memory": "256M", "disks": [{"path": "/d", "ro": true, "queues": 2}],'
        b' "nets": [{"tap": "tap0", "mac": "52:54:00:00:00:01"}, {"stream": "/s", "listen": true},'
        b' {"tapfd": 3}], "fs": [{"tag": "t", "path": "/", "xattr": true}],'
        b' "vsock": {"cid": 3, "socket": "/v"}, "debug_exit": false}')
    put("config_json", "minimal", b'{"kernel":"/k","memory":64}')
    put("config_json", "unknown", b'{"kernel":"/k","disks":[{"path":"/d","rw":1}]}')
    put("config_json", "types", b'{"kernel":null,"cpus":"2","memory":1.5}')
    put("config_json", "broken", b'{"kernel":"/k", "nets": [[[[')


def http(method, path, body=None, extra=b""):
    if body is None:
        return b"%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (method, path, extra)
    return b"%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %d\r\n\r\n%s" % (
        method, path, extra, len(body), body)


def api():
    put("api", "firecracker_boot", b"".join([
        http(b"PUT", b"/machine-config", b'{"vcpu_count": 2, "mem_size_mib": 128}'),
        http(b"PUT", b"/boot-source", b'{"kernel_image_path": "/k", "boot_args": "console=ttyS0"}'),
        http(b"PUT", b"/drives/rootfs", b'{"drive_id": "rootfs", "path_on_host": "/r",'
             b' "is_root_device": true, "is_read_only": false}'),
        http(b"PUT", b"/network-interfaces/eth0", b'{"iface_id": "eth0", "host_dev_name": "tap0",'
             b' "guest_mac": "06:00:00:00:00:01"}'),
        http(b"PUT", b"/vsock", b'{"guest_cid": 3, "uds_path": "/v"}'),
        http(b"PUT", b"/actions", b'{"action_type": "InstanceStart"}'),
        http(b"GET", b"/"),
        http(b"GET", b"/machine-config"),
        http(b"PATCH", b"/vm", b'{"state": "Paused"}'),
        http(b"PATCH", b"/vm", b'{"state": "Resumed"}'),
        http(b"PUT", b"/actions", b'{"action_type": "SendCtrlAltDel"}'),
    ]))
    put("api", "bad", b"".join([
        http(b"PUT", b"/machine-config", b'{"vcpu_count": 2, "x": 1}'),
        http(b"DELETE", b"/vm"),
        http(b"PUT", b"/drives/a", b'{"drive_id": "a", "path_on_host": 5}'),
        http(b"PATCH", b"/machine-config", b'{"vcpu_count": 1'),
    ]))
    put("api", "chunked", b"PUT /vsock HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n{\"gue\r\n0\r\n\r\n")
    put("api", "close", http(b"GET", b"/", extra=b"Connection: close\r\n") + http(b"GET", b"/"))
    put("api", "garbage", b"GARBAGE\r\n\r\n")


def fs_msg(k, opcode, nodeid, args, hdr_len=None, srv=0):
    """fuzz_fs: [k][len] then a fuse_in_header and its arguments; len's bit
    15 sends it to the second server."""
    body = struct.pack("<IIQQIIII", hdr_len or 40 + len(args), opcode, 7, nodeid, 0, 0, 0, 0)
    body += args
    return bytes([k]) + struct.pack("<H", len(body) | (0x8000 if srv else 0)) + body


def fs_setattr(valid, mode=0, size=0, fh=0, mtime=0):
    """struct fuse_setattr_in"""
    return struct.pack("<IIQQQQQQIIIIIIII", valid, 0, fh, size, 0, 0, mtime, 0, 0, 0, 0, mode,
                       0, 0, 0, 0)


def arm64_image(claim, isize, limit, text_offset=0x80000, image_size=None, flags=0xa, n=4096,
                magic=0x644d5241):
    b = bytearray(n)
    for i in range(64, n):
        b[i] = (i * 7 + 1) & 0xff
    struct.pack_into("<QQQ", b, 8, text_offset, n + 8192 if image_size is None else image_size,
                     flags)
    struct.pack_into("<I", b, 56, magic)
    return struct.pack("<III", claim, isize, limit) + bytes(b)


def arm64_fdt(ncpus, gic, ndevs, bsize, initrd, cmdline):
    return bytes([ncpus, gic, ndevs]) + struct.pack("<H", bsize) + bytes([initrd]) + cmdline


def arm64():
    """aarch64 seeds: the Image loader (with an initrd) and the FDT."""
    put("arm64_image", "ok_initrd", arm64_image(4 << 20, 3000, 4 << 20))
    put("arm64_image", "text_offset_0", arm64_image(2 << 20, 0, 0, text_offset=0))
    put("arm64_image", "big_endian", arm64_image(4 << 20, 0, 0, flags=1))
    put("arm64_image", "bad_magic", arm64_image(4 << 20, 0, 0, magic=0x12345678))
    put("arm64_image", "too_big", arm64_image(1 << 20, 0, 0, image_size=3 << 20))
    put("arm64_image", "initrd_no_room", arm64_image(4 << 20, 9000, 0x90000))
    put("arm64_fdt", "v3_2cpu", arm64_fdt(2, 3, 3, 0, 1, b"console=ttyS0 quiet"))
    put("arm64_fdt", "v2_8cpu", arm64_fdt(8, 2, 1, 0, 0, b"console=ttyS0"))
    put("arm64_fdt", "v3_max", arm64_fdt(123, 3, 64, 0, 1, b"x" * 2000))
    put("arm64_fdt", "small_buffer", arm64_fdt(4, 3, 17, 700, 1, b"console=ttyS0"))
    put("arm64_fdt", "too_many_cpus", arm64_fdt(124, 3, 0, 0, 0, b""))


def vdev_restore_seeds():
    """fuzz_vdev_restore: a good state, then one broken field each."""
    put("vdev_restore", "good", vdev_restore())
    put("vdev_restore", "not_served", vdev_restore(status=0xB, pos=None))
    put("vdev_restore", "no_own_section", vdev_restore(own=False))
    put("vdev_restore", "qsize", vdev_restore(num=48))
    put("vdev_restore", "used_beyond", vdev_restore(pos=(70, 70), used=70))
    put("vdev_restore", "taken_not_returned", vdev_restore(pos=(4, 3)))
    put("vdev_restore", "not_offered", vdev_restore(drv=(1 << 32) | (1 << 41)))
    put("vdev_restore", "nqueues", vdev_restore(nq=2))
    put("vdev_restore", "no_pos", vdev_restore(pos=None))


if __name__ == "__main__":
    main()
    arm64()
    vdev_restore_seeds()
    config_json()
    api()
