#!/bin/sh
# bench/run where KVM is (the test host or hardware): each case for cvmm and
# then QEMU microvm on the same micro-guest file, ROUNDS times, and host fio
# on the same disk file. One line per run:
#   RESULT <case> <vmm> <timeit fields> [<mg-bench fields: n= bytes= ns= kicks=>]
# env: ROUNDS (default 3), MS (per job, default 1000), COPIES (creation
#      rate, default 8), DIR (cvmm [cvmm-static] timeit netpump mg-exit.elf mg-bench.elf
#      qemu-system-x86_64 qemu-share/ fio-jobs.sh), IP (ip binary), DISK
#      (the disk file to create, default /tmp/mgb-disk.img, 256 MiB), CASES
#      (default: all, in the order below), FIO=0 (no host fio), DISKOPTS
#      (appended to cvmm's --disk spec: ",poll=0")
# POSIX sh + busybox.
DIR=${DIR:-.}
ROUNDS=${ROUNDS:-3}
MS=${MS:-1000}
COPIES=${COPIES:-8}
IP=${IP:-ip}
DISK=${DISK:-/tmp/mgb-disk.img}
TAP=mgb0
cd "$DIR" || exit 1
OUT=/tmp/mgb-out.$$
dd if=/dev/zero of="$DISK" bs=1048576 count=256 2>/dev/null
$IP link set lo up 2>/dev/null
$IP tuntap add dev $TAP mode tap && $IP link set $TAP up || echo "RESULT-ERROR no tap"

Q="./qemu-system-x86_64 -L ./qemu-share -nodefaults -no-user-config -display none -accel kvm -cpu host"
# acpi=off: QEMU then lists its virtio-mmio devices on the command line
# (and so does cvmm); the guest ends through the debug exit port (67).
QM="$Q -M microvm,acpi=off,x-option-roms=off,rtc=off,pit=off,pic=off -m 64M -serial stdio
 -global virtio-mmio.force-legacy=false -device isa-debug-exit,iobase=0x501,iosize=1"
QBLK="-object iothread,id=io0 -drive id=d0,file=$DISK,format=raw,if=none,aio=io_uring,cache=writeback
 -device virtio-blk-device,drive=d0,iothread=io0"
QNET="-netdev tap,id=n0,ifname=$TAP,script=no,downscript=no,vhost=off -device virtio-net-device,netdev=n0"
C="./cvmm --debug-exit --memory 64M --transport mmio" # QEMU microvm has no PCI

# mg-bench runs end within 120 s (a stall is a finding, not a hang of the
# whole benchmark); the boot runs time exec itself, without a wrapper.
TMO=""
run() { # case vmm cmd...
	c=$1 v=$2
	shift 2
	r=$(./timeit -- $TMO "$@" </dev/null 2>"$OUT" | tail -1)
	g=$(tr -d '\r' <"$OUT" | grep '^MGB ' | head -1 | cut -d' ' -f3-)
	grep -q '^MG FAIL' "$OUT" && echo "RESULT-ERROR $c $v: $(grep '^MG FAIL' "$OUT" | head -1)"
	case $r in *status=124*) echo "RESULT-ERROR $c $v: killed after 120 s" ;; esac
	echo "RESULT $c $v $r $g"
}
bench() { # case vmm devices-kind guest-args
	c=$1 v=$2 k=$3 a=$4 TMO="timeout 120"
	if [ "$v" = cvmm ]; then
		case $k in
		blk) dev="--disk $DISK${DISKOPTS:-}" ;;
		net) dev="--net $TAP" ;;
		esac
		run "$c" cvmm $C $dev --kernel mg-bench.elf --cmdline "acpi=off $a"
	else
		case $k in
		blk) dev=$QBLK ;;
		net) dev=$QNET ;;
		esac
		run "$c" qemu $QM $dev -kernel mg-bench.elf -append "$a"
	fi
	TMO=""
}

one() { # case vmm: one run of one case
	c=$1 v=$2
	case $c in
	first-insn) # mg-exit's first instruction ends the VM
		if [ $v = cvmm ]; then
			run first-insn cvmm $C --kernel mg-exit.elf
		else
			run first-insn qemu $QM -kernel mg-exit.elf
		fi ;;
	first-insn-noseccomp) # the same without cvmm's seccomp filters (QEMU
		# runs without -sandbox in every case here)
		if [ $v = cvmm ]; then
			run first-insn-noseccomp cvmm $C --seccomp off --kernel mg-exit.elf
		else
			run first-insn-noseccomp qemu $QM -kernel mg-exit.elf
		fi ;;
	first-insn-static) # the same with the static cvmm (no dynamic loader,
		# no shared libraries: its peak RSS is the figure to read), where
		# the build made one; QEMU's row is first-insn's
		[ $v = cvmm ] && [ -x ./cvmm-static ] &&
			run first-insn-static cvmm ./cvmm-static --debug-exit --memory 64M --transport mmio \
				--kernel mg-exit.elf ;;
	idle-blk | idle-net) # the VMM's cost of a run that does nothing, per device
		bench $c $v ${c#idle-} "mg.case=idle" ;;
	blk-*) bench $c $v blk "mg.case=blk mg.job=$c mg.ms=$MS" ;;
	exit-*) bench $c $v blk "mg.case=exits mg.job=$c mg.ms=$MS" ;;
	net-tx-*) bench $c $v net "mg.case=net-tx mg.job=$c mg.ms=$MS" ;;
	net-rx-*)
		# the tap's counters: frames queued for the VMM to read, and those
		# dropped because its queue was full (the VMM did not keep up)
		st=/sys/class/net/$TAP/statistics
		q0=$(cat $st/tx_packets) d0=$(cat $st/tx_dropped)
		./netpump $TAP ${c#net-rx-} &
		p=$!
		bench $c $v net "mg.case=net-rx mg.ms=$MS"
		kill $p
		wait $p 2>/dev/null
		echo "RESULT-TAP $c $v queued=$(($(cat $st/tx_packets) - q0)) dropped=$(($(cat $st/tx_dropped) - d0))" ;;
	create) # COPIES VMs at once, each ending at its first instruction
		if [ $v = cvmm ]; then
			r=$(./timeit --copies "$COPIES" -- $C --kernel mg-exit.elf)
		else
			r=$(./timeit --copies "$COPIES" -- $QM -kernel mg-exit.elf)
		fi
		echo "RESULT create $v $r" ;;
	esac
}

CASES=${CASES:-"first-insn first-insn-noseccomp first-insn-static idle-blk idle-net blk-randread-4k-qd1 blk-randread-4k-qdN blk-read-1m-qd1
 blk-read-1m-qdN blk-write-1m-qd1 blk-write-1m-qdN exit-pio exit-mmio net-tx-60 net-tx-1514
 net-rx-60 net-rx-1514 create"}
i=0
while [ $i -lt "$ROUNDS" ]; do
	[ "${FIO:-1}" = 0 ] || FIO_RUNTIME=2 sh ./fio-jobs.sh "$DISK" | sed 's/^/RESULT fio host /'
	# cvmm first in even rounds, QEMU first in odd ones
	if [ $((i % 2)) -eq 0 ]; then order="cvmm qemu"; else order="qemu cvmm"; fi
	for c in $CASES; do
		for v in $order; do
			one "$c" "$v"
		done
	done
	i=$((i + 1))
done
rm -f "$OUT" "$DISK"
$IP link del $TAP 2>/dev/null
echo "RESULT-DONE"
