#!/bin/bash
# cvmm and cvmm-static are static PIEs: an ELF of type DYN (position-independent, so
# the kernel loads it at a random address) with no PT_INTERP (no dynamic
# loader: it runs alone in a jailer's chroot). A plain -static link gives
# type EXEC at a fixed address; a dynamic one has an interpreter.
# usage: static_pie.sh BINARY...
set -u
for b in "$@"; do
b=$(realpath "$b")
h=$(readelf -h "$b" 2>&1) || { echo "FAIL: readelf -h $b: $h"; exit 1; }
l=$(readelf -l "$b" 2>&1) || { echo "FAIL: readelf -l $b: $l"; exit 1; }
type=$(sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p' <<<"$h")
if [[ $type != DYN ]]; then
	echo "FAIL: $b is ELF type '$type', not DYN (position-independent)"
	exit 1
fi
if grep -q INTERP <<<"$l"; then
	echo "FAIL: $b has a program interpreter: $(grep -A1 INTERP <<<"$l" | tail -1)"
	exit 1
fi
"$b" --version >/dev/null || { echo "FAIL: $b --version did not run"; exit 1; }
echo "PASS: $b is a static PIE (type DYN, no interpreter)"
done
