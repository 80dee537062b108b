#!/usr/bin/env python3
"""bench/snapshot's table: medians of snapshot-job.sh's RESULT lines."""
import re
import statistics
import sys

runs = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"RESULT (\S+) (\S+) (\d+) (.*)", line.strip())
    if not m:
        continue
    kv = {}
    for k, v in re.findall(r"(\w+)=(-?[0-9.]+)", m.group(4)):
        kv[k] = float(v)
    s = re.search(r"memory map ([0-9.]+) ms, KVM set-up ([0-9.]+) ms, state load ([0-9.]+) ms, "
                  r"vCPUs start ([0-9.]+) ms", m.group(4))
    if s:
        kv.update(map_ms=float(s.group(1)), kvm_ms=float(s.group(2)),
                  state_ms=float(s.group(3)), create_ms=float(s.group(4)))
    runs.setdefault((m.group(1), m.group(2), int(m.group(3))), []).append(kv)


def med(what, vmm, mem, key, div=1000.0):
    v = [r[key] for r in runs.get((what, vmm, mem), []) if key in r and r[key] >= 0]
    return statistics.median(v) / div if v else None


def cell(x, fmt="10.1f"):
    return f"{x:{fmt}}" if x is not None else f"{'n/a':>10}"


for mem in sorted({k[2] for k in runs}):
    clones = {r.get("clones") for k, v in runs.items() if k[0].startswith("clones") for r in v}
    n = int(next(iter(clones))) if clones and None not in clones else 0
    rows = [
        ("snapshot create, VM paused (ms)", med("create", "cvmm", mem, "us"),
         med("create", "qemu", mem, "us")),
        ("state file, apparent (KiB)", med("state", "cvmm", mem, "apparent", 1024), None),
        ("memory file, apparent (MiB)", med("memory", "cvmm", mem, "apparent", 1 << 20),
         med("memory", "qemu", mem, "apparent", 1 << 20)),
        ("memory file, allocated (MiB)", med("memory", "cvmm", mem, "allocated", 1 << 20),
         med("memory", "qemu", mem, "allocated", 1 << 20)),
        ("CLI restore, exec -> vCPUs start (ms)", med("restore-cli-file", "cvmm", mem, "start_us"),
         None),
        ("  of which memory map (ms)", med("restore-cli-file", "cvmm", mem, "map_ms", 1), None),
        ("  of which KVM set-up (ms)", med("restore-cli-file", "cvmm", mem, "kvm_ms", 1), None),
        ("  of which state load (ms)", med("restore-cli-file", "cvmm", mem, "state_ms", 1), None),
        ("CLI restore, exec -> guest tick (ms)", med("restore-cli-file", "cvmm", mem, "out_us"),
         med("restore-cli-file", "qemu", mem, "out_us")),
        ("CLI restore, exec -> vsock answer (ms)", med("restore-cli-file", "cvmm", mem, "vsock_us"),
         None),
    ]
    for b in ("File", "Lazy", "Uffd"):
        w = f"restore-api-{b}"
        rows += [
            (f"load {b}: request -> answer (ms)", med(w, "cvmm", mem, "api_us"), None),
            (f"load {b}: request -> vCPUs start (ms)", med(w, "cvmm", mem, "start_us"), None),
            (f"load {b}: request -> guest tick (ms)", med(w, "cvmm", mem, "out_us"), None),
            (f"load {b}: request -> vsock answer (ms)", med(w, "cvmm", mem, "vsock_us"), None),
        ]
    cv, ct, qt = (med("clones-vsock", "cvmm", mem, "all_us"), med("clones-tick", "cvmm", mem, "all_us"),
                  med("clones-tick", "qemu", mem, "all_us"))
    rows += [
        (f"{n} clones, all answer vsock (ms)", cv, None),
        (f"{n} clones, all tick (ms)", ct, qt),
        ("clones per second (tick)", n / ct * 1000 if ct else None, n / qt * 1000 if qt else None),
    ]
    print(f"\n{mem} MiB guest{'':24} {'cvmm':>10} {'qemu':>10} {'cvmm/qemu':>10}")
    for label, a, b in rows:
        ratio = f"{a / b:10.2f}" if a is not None and b else f"{'':>10}"
        print(f"{label:40} {cell(a)} {cell(b)} {ratio}")
for k, v in sorted(runs.items()):
    for r in v:
        if "api_status" in r and r["api_status"] not in (0, 204):
            print(f"note: {k}: PUT /snapshot/load answered {int(r['api_status'])}")
        if "answered" in r and r["answered"] != r["clones"]:
            print(f"note: {k}: {int(r['answered'])} of {int(r['clones'])} clones answered")
