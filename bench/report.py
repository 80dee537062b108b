#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints bench/run's table from the RESULT lines of its log (run-job.sh).

usage: bench/report.py LOG [--markdown] [--plot FILE.png]
--plot draws, per row, how many times better cvmm is than QEMU (cvmm/QEMU
for rates, QEMU/cvmm for times and memory: right of 1 is cvmm ahead) and the
same for CPU time per operation, with the 1.3x target marked (matplotlib,
Debian's python3-matplotlib).
"""
import re
import statistics
import sys

GOOD = (0, 67)  # 67: the guest ended through the debug exit port


def load(path):
    runs, fio, errors = {}, {}, []
    for line in open(path, errors="replace"):
        line = line.strip().replace("\r", "")
        m = re.search(r"RESULT fio host FIO (\S+) iops=(\d+) kib_s=(\d+)", line)
        if m:
            fio.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3))))
            continue
        m = re.search(r"RESULT-ERROR (.*)", line)
        if m:
            errors.append(m.group(1))
            continue
        m = re.search(r"RESULT (\S+) (cvmm|qemu) (.*)", line)
        if not m:
            continue
        kv = {}
        for tok in m.group(3).split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                try:
                    kv[k] = int(v)
                except ValueError:
                    pass
        if "status" not in kv:
            continue
        kv["cpu_us"] = kv.get("utime_us", 0) + kv.get("stime_us", 0)
        runs.setdefault((m.group(1), m.group(2)), []).append(kv)
    return runs, fio, errors


def good(runs, case, vmm):
    return [r for r in runs.get((case, vmm), []) if r["status"] in GOOD]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def main():
    runs, fio, errors = load(sys.argv[1])
    md = "--markdown" in sys.argv
    rows = []  # (label, cvmm, qemu, cvmm cpu/op us, qemu cpu/op us, host, unit-fmt)

    def idle_cpu(kind, vmm):
        return med(r["cpu_us"] for r in good(runs, "idle-" + kind, vmm)) or 0

    def guest_rate(case, vmm, kind, what):
        """median rate from the guest's own timing, and CPU us per op."""
        rs = [r for r in good(runs, case, vmm) if r.get("ns", 0) > 0 and r.get("n", 0) > 0]
        if not rs:
            return None, None
        base = idle_cpu(kind, vmm)
        if what == "ops":
            rate = med(r["n"] * 1e9 / r["ns"] for r in rs)
        elif what == "mib":
            rate = med(r["bytes"] * 1e9 / r["ns"] / 2**20 for r in rs)
        else:  # us per op
            rate = med(r["ns"] / r["n"] / 1000 for r in rs)
        cpu = med(max(r["cpu_us"] - base, 0) / r["n"] for r in rs)
        return rate, cpu

    def row(label, case, kind, what, fio_job=None):
        a, ca = guest_rate(case, "cvmm", kind, what)
        b, cb = guest_rate(case, "qemu", kind, what)
        h = None
        if fio_job and fio.get(fio_job):
            h = med(x[0] if what == "ops" else x[1] / 1024 for x in fio[fio_job])
        rows.append((label, a, b, ca, cb, h))

    def plain(label, case, key, div, per=1):
        a = med(r[key] / div / (r.get("copies", 1) if per else 1) for r in good(runs, case, "cvmm"))
        b = med(r[key] / div / (r.get("copies", 1) if per else 1) for r in good(runs, case, "qemu"))
        rows.append((label, a, b, None, None, None))

    def static(label, key, div):
        """cvmm-static's first-insn runs against QEMU's first-insn runs"""
        a = med(r[key] / div for r in good(runs, "first-insn-static", "cvmm"))
        b = med(r[key] / div for r in good(runs, "first-insn", "qemu"))
        if a is not None:
            rows.append((label, a, b, None, None, None))

    plain("boot: exec -> first instruction (ms)", "first-insn", "wall_us", 1000, 0)
    plain("  the same, cvmm --seccomp off (ms)", "first-insn-noseccomp", "wall_us", 1000, 0)
    static("  the same, cvmm-static (ms)", "wall_us", 1000)
    plain("boot: VMM peak RSS (MiB)", "first-insn", "maxrss_kb", 1024, 0)
    static("  the same, cvmm-static (MiB)", "maxrss_kb", 1024)
    plain("boot: VMM CPU time (ms)", "first-insn", "cpu_us", 1000, 0)
    plain("idle VM with a disk: peak RSS (MiB)", "idle-blk", "maxrss_kb", 1024, 0)
    plain("idle VM with a net: peak RSS (MiB)", "idle-net", "maxrss_kb", 1024, 0)
    row("blk 4k randread QD1 (IOPS)", "blk-randread-4k-qd1", "blk", "ops", "randread-4k-qd1")
    row("blk 4k randread QD32 (IOPS)", "blk-randread-4k-qdN", "blk", "ops", "randread-4k-qd32")
    row("blk 1M read QD1 (MiB/s)", "blk-read-1m-qd1", "blk", "mib", "read-1m-qd1")
    row("blk 1M read QD32 (MiB/s)", "blk-read-1m-qdN", "blk", "mib", "read-1m-qd32")
    row("blk 1M write QD1 (MiB/s)", "blk-write-1m-qd1", "blk", "mib", "write-1m-qd1")
    row("blk 1M write QD32 (MiB/s)", "blk-write-1m-qdN", "blk", "mib", "write-1m-qd32")
    row("net tx 60 B frames (packets/s)", "net-tx-60", "net", "ops")
    row("net tx 1514 B frames (MiB/s)", "net-tx-1514", "net", "mib")
    row("net rx 60 B frames (packets/s)", "net-rx-60", "net", "ops")
    row("net rx 1514 B frames (MiB/s)", "net-rx-1514", "net", "mib")
    row("exit: PIO read, COM1 LSR (us/exit)", "exit-pio", "blk", "us")
    row("exit: MMIO read, virtio magic (us/exit)", "exit-mmio", "blk", "us")
    copies = med(r.get("copies") for r in good(runs, "create", "cvmm")) or 0
    c = [r for r in good(runs, "create", "cvmm")]
    q = [r for r in good(runs, "create", "qemu")]
    rows.append((f"create {copies:.0f} VMs at once: VMs/s to first insn",
                 med(r["copies"] * 1e6 / r["wall_us"] for r in c),
                 med(r["copies"] * 1e6 / r["wall_us"] for r in q), None, None, None))
    rows.append(("create: peak RSS per VM (MiB)",
                 med(r["maxrss_kb"] / r["copies"] / 1024 for r in c),
                 med(r["maxrss_kb"] / r["copies"] / 1024 for r in q), None, None, None))

    def f(v, w=10):
        if v is None:
            return f"{'n/a':>{w}}"
        return f"{v:{w}.0f}" if abs(v) >= 1000 else f"{v:{w}.{1 if abs(v) >= 10 else 2}f}"

    hdr = ("measure", "cvmm", "QEMU", "cvmm/QEMU", "host fio", "cvmm/fio", "cvmm CPU us/op", "QEMU CPU us/op")
    if md:
        print("| " + " | ".join(hdr) + " |")
        print("| --- |" + " ---: |" * (len(hdr) - 1))
    else:
        print(f"{hdr[0]:42} {hdr[1]:>10} {hdr[2]:>10} {hdr[3]:>10} {hdr[4]:>10} {hdr[5]:>9} {hdr[6]:>14} {hdr[7]:>14}")
    for label, a, b, ca, cb, h in rows:
        ratio = a / b if a and b else None
        hr = a / h if a and h else None
        cells = [f(a), f(b), f(ratio), f(h) if h else "", f(hr, 9) if hr else "",
                 f(ca, 14) if ca is not None else "", f(cb, 14) if cb is not None else ""]
        if md:
            print(f"| {label} | " + " | ".join(x.strip() for x in cells) + " |")
        else:
            print(f"{label:42} {cells[0]} {cells[1]} {cells[2]} {cells[3]:>10} {cells[4]:>9} {cells[5]:>14} {cells[6]:>14}")
    if "--plot" in sys.argv:
        plot(rows, sys.argv[sys.argv.index("--plot") + 1])
    for (case, vmm), rs in sorted(runs.items()):
        bad = [r["status"] for r in rs if r["status"] not in GOOD]
        if bad:
            print(f"note: {case}/{vmm}: unexpected exit statuses {bad}")
    for e in errors:
        print(f"note: {e}")


def lower_is_better(label):
    return any(u in label for u in ("(ms)", "(MiB)", "us/exit"))


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    labels, adv, cpu = [], [], []
    for label, a, b, ca, cb, _ in rows:
        if not a or not b:
            continue
        labels.append(label)
        adv.append(b / a if lower_is_better(label) else a / b)
        cpu.append(cb / ca if ca and cb else None)
    y = list(range(len(labels)))[::-1]
    fig, ax = plt.subplots(1, 2, figsize=(12, 0.38 * len(labels) + 1.4), sharey=True)
    for k, (vals, title) in enumerate(((adv, "cvmm ahead of QEMU by (x)"),
                                       (cpu, "CPU per operation: QEMU's / cvmm's"))):
        yy = [yi for yi, v in zip(y, vals) if v]
        vv = [v for v in vals if v]
        ax[k].barh(yy, vv, color=["tab:green" if v >= 1.3 else "tab:orange" if v >= 1 else "tab:red"
                                   for v in vv])
        ax[k].axvline(1.0, color="black", lw=0.8)
        ax[k].axvline(1.3, color="grey", lw=0.8, ls="--")
        ax[k].set_xscale("log")
        # plain ratios on the axis: a narrow log range otherwise gets
        # overlapping "1.25x10^0" minor labels
        ax[k].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax[k].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax[k].set_title(title, fontsize=10)
        for yi, v in zip(yy, vv):
            ax[k].text(v, yi, f" {v:.2f}", va="center", fontsize=7)
    ax[0].set_yticks(y)
    ax[0].set_yticklabels(labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
