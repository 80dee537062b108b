#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boots a micro-guest under QEMU microvm (TCG) and checks the result.

usage: qemu_boot.py QEMU GUEST.elf EXPECT_RC [qemu args ...] [-- cmdline]

Passes when QEMU exits with EXPECT_RC and, if the guest printed an MG DONE
line, it reported fail=0 and no MG FAIL line.
"""
import re
import subprocess
import sys


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
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        sys.stdout.write((e.stdout or b"").decode(errors="replace"))
        print("qemu_boot: timeout")
        return 1
    out = p.stdout.decode(errors="replace")
    sys.stdout.write(out + p.stderr.decode(errors="replace"))
    ok = p.returncode == want
    done = re.search(r"^MG DONE pass=(\d+) fail=(\d+)$", out, re.M)
    if done and (done.group(2) != "0" or "MG FAIL" in out):
        ok = False
    print("qemu_boot: rc=%d (want %d) -> %s" % (p.returncode, want, "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
