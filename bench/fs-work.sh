#!/bin/sh
# bench/fs's workload, run on the host directory and in the guest on the
# share alike: sequential write and read of a large file, then create, stat,
# read and unlink of many small files. Prints "FSBENCH <who> <op> <seconds>
# <rate>", rate in MB/s or files/s.
# usage: fs-work.sh DIR WHO [MiB] [FILES]
d=$1 who=$2 mib=${3:-64} n=${4:-1000}
now() { cut -d' ' -f1 /proc/uptime; }
report() { # op t0 t1 amount unit
	awk -v op="$1" -v a="$2" -v b="$3" -v amt="$4" -v u="$5" -v who="$who" \
		'BEGIN { s = b - a; if (s < 0.01) s = 0.01; printf "FSBENCH %s %s %.2f %.1f %s\n", who, op, s, amt / s, u }'
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
mkdir -p "$d/small"
t0=$(now)
dd if=/dev/zero of="$d/big" bs=1048576 count="$mib" conv=fsync 2>/dev/null
t1=$(now)
report seq-write "$t0" "$t1" "$mib" MB/s
drop
t0=$(now)
dd if="$d/big" of=/dev/null bs=1048576 2>/dev/null
t1=$(now)
report seq-read "$t0" "$t1" "$mib" MB/s
head -c 4096 /dev/urandom >/tmp/fsbench-4k
t0=$(now)
i=0
while [ $i -lt "$n" ]; do cat /tmp/fsbench-4k >"$d/small/f$i"; i=$((i + 1)); done
t1=$(now)
report small-create "$t0" "$t1" "$n" files/s
drop
t0=$(now)
i=0
while [ $i -lt "$n" ]; do [ -e "$d/small/f$i" ]; i=$((i + 1)); done
ls -l "$d/small" >/dev/null
t1=$(now)
report small-stat "$t0" "$t1" "$n" files/s
t0=$(now)
cat "$d"/small/f* >/dev/null
t1=$(now)
report small-read "$t0" "$t1" "$n" files/s
t0=$(now)
rm -r "$d/small"
t1=$(now)
report small-unlink "$t0" "$t1" "$n" files/s
rm -f "$d/big"
