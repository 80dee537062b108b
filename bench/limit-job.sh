#!/bin/sh
# bench/limit where KVM is (the test host or hardware): mg-bench's virtio-blk
# jobs on the same disk file, with no rate limiter and with one that never
# throttles (2^30 ops and 2^50 bytes a second, its buckets full at the
# start), alternately, ROUNDS times. One line per run:
#   RESULT <job> plain|limited n= bytes= ns= kicks=
# env: ROUNDS (default 5), MS (per run, default 1000), DIR (cvmm,
# mg-bench.elf), DISK (default /tmp/lim-disk.img, 256 MiB). POSIX sh.
DIR=${DIR:-.}
ROUNDS=${ROUNDS:-5}
MS=${MS:-1000}
DISK=${DISK:-/tmp/lim-disk.img}
cd "$DIR" || exit 1
dd if=/dev/zero of="$DISK" bs=1048576 count=256 2>/dev/null
C="./cvmm --debug-exit --memory 64M --transport mmio --kernel mg-bench.elf"
r=0
while [ $r -lt "$ROUNDS" ]; do
	for job in blk-randread-4k-qd1 blk-randread-4k-qdN blk-read-1m-qd1; do
		for v in plain limited; do
			d=$DISK
			[ $v = limited ] && d="$DISK,iops=1G,bw=1048576G"
			g=$(timeout 120 $C --disk "$d" --cmdline "acpi=off mg.case=blk mg.job=$job mg.ms=$MS" \
				</dev/null 2>&1 | tr -d '\r' | grep '^MGB ' | head -1 | cut -d' ' -f3-)
			echo "RESULT $job $v $g"
		done
	done
	r=$((r + 1))
done
echo "RESULT-DONE"
