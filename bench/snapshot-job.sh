#!/bin/sh
# bench/snapshot inside a KVM host: for each guest memory size, one Linux
# guest (cvmm.test=snap-bench: a vsock listener, a console tick every 20 ms)
# under cvmm, snapshotted (PUT /snapshot/create, the VM paused) and restored
# ROUNDS times per memory backend, then CLONES restored at once; the same
# guest under QEMU microvm, migrated to a file (HMP `migrate file:`, the VM
# stopped) and restored with -incoming. Prints "RESULT <what> <vmm> <mem>
# <key=value...>" lines.
# env: DIR (cvmm snapclock vsocktool bzImage initrd.img qemu-system-x86_64
#      qemu-share/), ROUNDS (3), MEMS ("128 1024"), CLONES (8)
DIR=${DIR:-.}
ROUNDS=${ROUNDS:-3}
MEMS=${MEMS:-128 1024}
CLONES=${CLONES:-8}
cd "$DIR" || exit 1
T=/tmp/sb
mkdir -p $T
A=$T/api.sock
V=$T/v.sock
D=$T/snap
SC=./snapclock
BOOT="console=ttyS0 quiet panic=-1 cvmm.test=snap-bench"
Q="./qemu-system-x86_64 -L ./qemu-share -nodefaults -no-user-config -display none -accel kvm -cpu host"
QM="-M microvm,acpi=on -smp 1 -kernel bzImage -initrd initrd.img"
wait_for() { # FILE STR: up to 300 s
	k=0
	while [ $k -lt 1500 ] && ! grep -q "$2" "$1" 2>/dev/null; do sleep 0.2; k=$((k + 1)); done
	grep -q "$2" "$1" 2>/dev/null
}
sizes() { # WHAT VMM MEM FILE...: apparent and allocated bytes
	w=$1 v=$2 m=$3
	shift 3
	echo "RESULT $w $v $m apparent=$(cat "$@" | wc -c) allocated=$(($(stat -c %b "$@" | awk '{s += $1} END {print s}') * 512))"
}
for M in $MEMS; do
	# ---- cvmm: boot, snapshot ----------------------------------------------
	if [ -z "$ONLY_QEMU" ]; then # (ONLY_QEMU: to try the QEMU half alone)
		rm -rf $D $A $V
		mkdir -p $D
		./cvmm --api-socket $A </dev/null >$T/boot.out 2>$T/boot.err &
		pid=$!
		$SC http $A PUT /boot-source "{\"kernel_image_path\": \"$DIR/bzImage\", \"initrd_path\": \"$DIR/initrd.img\", \"boot_args\": \"$BOOT\"}" >/dev/null &&
			$SC http $A PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $M}" >/dev/null &&
			$SC http $A PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$V\"}" >/dev/null &&
			$SC http $A PUT /actions '{"action_type": "InstanceStart"}' >/dev/null
		if ! wait_for $T/boot.out GUEST-SNAP-BENCH-READY ||
			! VSOCKTOOL_TIMEOUT=120 ./vsocktool connect "fc:$V:5000" recv 1 >/dev/null 2>&1; then
			echo "BENCH-FAILED cvmm $M: the guest never got ready: $(tail -3 $T/boot.err)"
			kill -9 $pid
			wait $pid
			continue
	fi
	echo "RESULT pause cvmm $M $($SC http $A PATCH /vm '{"state": "Paused"}')"
	echo "RESULT create cvmm $M $($SC http $A PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D/state\", \"mem_file_path\": \"$D/memory\"}")"
	kill -9 $pid
	wait $pid 2>/dev/null
	sizes state cvmm $M $D/state
	sizes memory cvmm $M $D/memory
	# ---- cvmm: restores --------------------------------------------------------
	load() { echo "{\"snapshot_path\": \"$D/state\", \"mem_backend\": {\"backend_type\": \"$1\", \"backend_path\": \"$2\"}, \"resume_vm\": true}"; }
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		rm -f $A $V
		echo "RESULT restore-cli-file cvmm $M $($SC restore --vsock $V:5000 --marker GUEST-TICK -- ./cvmm --restore "$D,mem=file" | tr '\n' ' ')"
		for b in File Lazy Uffd; do
			rm -f $A $V
			path=$D/memory
			if [ $b = Uffd ]; then
				path=$T/uffd.sock
				rm -f $path
				SNAPCLOCK_MEM=$D/memory $SC uffd $path 2>$T/uffd.err &
				upid=$!
				k=0
				while [ $k -lt 100 ] && [ ! -S $path ]; do sleep 0.05; k=$((k + 1)); done
			fi
			echo "RESULT restore-api-$b cvmm $M $($SC restore --api $A --load "$(load $b $path)" --vsock $V:5000 --marker GUEST-TICK -- ./cvmm --api-socket $A | tr '\n' ' ')"
			if [ $b = Uffd ]; then
				wait $upid
				echo "RESULT uffd-handler cvmm $M $(tail -1 $T/uffd.err)"
			fi
		done
		i=$((i + 1))
	done
	# clones: vsock answers, and (the clock QEMU has too) the console's tick
	rm -f $T/cl*.sock $T/co*.out
	echo "RESULT clones-vsock cvmm $M $($SC clones "$CLONES" "$T/cl%d.sock:5000" -- ./cvmm --restore "$D,mem=file,vsock=$T/cl%d.sock")"
	echo "RESULT clones-tick cvmm $M $($SC clones "$CLONES" "out:$T/co%d.out" -- ./cvmm --restore "$D,mem=file,vsock=$T/cv%d.sock")"
	fi

	# ---- QEMU: boot, migrate to a file, -incoming from it --------------------
	rm -rf $D $T/qm.sock
	mkdir -p $D
	$Q $QM -m ${M}M -serial file:$T/q.out -monitor unix:$T/qm.sock,server=on,wait=off \
		-append "$BOOT" </dev/null >$T/q.err 2>&1 &
	pid=$!
	if ! wait_for $T/q.out GUEST-SNAP-BENCH-READY; then
		echo "BENCH-FAILED qemu $M: the guest never got ready: $(tail -3 $T/q.err)"
		kill -9 $pid
		wait $pid
		continue
	fi
	sleep 1 # as cvmm's: the listener's start, then a vsock round trip
	echo "RESULT pause qemu $M $($SC hmp $T/qm.sock stop)"
	echo "RESULT create qemu $M $($SC hmp $T/qm.sock "migrate file:$D/mig" migrate-wait)"
	# a stopped VM's migration restores stopped (QEMU keeps the source's run
	# state): the restores and clones come from a second file, migrated
	# running (QEMU stops the VM for the last pass), which resumes by itself
	$SC hmp $T/qm.sock cont >/dev/null
	echo "RESULT create-live qemu $M $($SC hmp $T/qm.sock "migrate file:$D/mig2" migrate-wait)"
	kill -9 $pid
	wait $pid 2>/dev/null
	sizes memory qemu $M $D/mig
	mv $D/mig2 $D/mig
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		echo "RESULT restore-cli-file qemu $M $($SC restore --marker GUEST-TICK -- $Q $QM -m ${M}M -serial stdio -append "$BOOT" -incoming "file:$D/mig" | tr '\n' ' ')"
		i=$((i + 1))
	done
	rm -f $T/qo*.out
	echo "RESULT clones-tick qemu $M $($SC clones "$CLONES" "out:$T/qo%d.out" -- $Q $QM -m ${M}M -serial stdio -append "$BOOT" -incoming "file:$D/mig")"
	rm -rf $D
done
echo "BENCH-DONE"
