#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boots a micro-guest under QEMU microvm (TCG) and checks the result.

usage: qemu_boot.py QEMU GUEST.elf EXPECT_RC [qemu args ...] [-- cmdline]

Passes when QEMU exits with EXPECT_RC, the guest did not triple-fault (with
-no-reboot QEMU exits 0 on a triple fault too: its CPU-reset log tells) and,
for mg-check, the guest printed MG DONE with fail=0 and no MG FAIL line.
"""
import re
import os
import subprocess
import sys
import tempfile


def main():
    qemu, guest, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rest = sys.argv[4:]
    cmdline = ""
    if "--" in rest:
        i = rest.index("--")
        rest, cmdline = rest[:i], " ".join(rest[i + 1:])
    cmd = [qemu, "-M", "microvm,acpi=on,rtc=on", "-accel", "tcg", "-cpu", "max",
           "-nodefaults", "-no-reboot", "-display", "none", "-serial", "stdio",
           "-kernel", guest] + rest
    if cmdline:
        cmd += ["-append", cmdline]
    fd, qlog = tempfile.mkstemp(prefix="qemu_boot.")
    os.close(fd)
    cmd += ["-d", "cpu_reset", "-D", qlog]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        sys.stdout.write((e.stdout or b"").decode(errors="replace"))
        print("qemu_boot: timeout")
        os.unlink(qlog)
        return 1
    with open(qlog, errors="replace") as f:
        triple = "Triple fault" in f.read()
    os.unlink(qlog)
    out = p.stdout.decode(errors="replace")
    sys.stdout.write(out + p.stderr.decode(errors="replace"))
    ok = p.returncode == want and not triple
    done = re.search(r"^MG DONE pass=(\d+) fail=(\d+)$", out, re.M)
    if done and (done.group(2) != "0" or "MG FAIL" in out):
        ok = False
    if "mg-check" in os.path.basename(guest) and not done:
        ok = False
    print("qemu_boot: rc=%d (want %d)%s%s -> %s" % (
        p.returncode, want, ", triple fault" if triple else "",
        "" if done or "mg-check" not in guest else ", no MG DONE", "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
