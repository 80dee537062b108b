#!/bin/sh
# aarch64 KVM cases, run inside the emulated arm64 test host
# (tests/vmhost/run --arch aarch64; tests/run does it). cvmm boots Debian's
# arm64 cloud kernel (a raw Image, with its virtio modules loaded from the
# guest's initramfs) through the FDT it writes: GICv3, PSCI, the 16550 on
# MMIO as the console, virtio-mmio devices.
#  - arm64-blk: 2 vCPUs (the second started with PSCI CPU_ON), 256 MiB, a
#    disk the guest reads (the host's pattern) and writes (checked in the
#    file afterwards); the guest's `poweroff -f` (PSCI SYSTEM_OFF) ends cvmm
#    with status 0. The guest's clock (set at boot from cvmm's PL031 RTC)
#    is the test host's, within 2 minutes.
#  - arm64-reboot: `reboot -f` (PSCI SYSTEM_RESET) ends cvmm with status 2.
#  - arm64-snap: a guest booted over the API (2 vCPUs, a disk) counting,
#    each count written to its own disk block (guest-job.sh's snap job);
#    PATCH /vm Paused, PUT /snapshot/create, cvmm killed; `cvmm --restore
#    DIR,mem=file` counts on from where it was (no reboot) and writes the
#    next counts to the disk. apicall speaks to the API (no curl here).
#  - arm64-devices: virtio-net, -vsock and -fs over virtio-mmio: the guest
#    pings the test host over a tap cvmm creates, sends 1 MiB over vsock to
#    a host listener (checked byte for byte there), reads a file of a shared
#    directory and writes one that the host then finds; every thread on
#    glibc's main arena, trimmed on every free (GLIBC_TUNABLES).
#  - arm64-sigsys-THREAD: a test build's control, vCPU and blk worker
#    threads each call getppid() (173 on arm64) right after loading their
#    filter: cvmm dies of SIGSYS (159) naming the thread and the call.
#  - arm64-unit-NAME: the cross-built unit tests that skip under qemu-user
#    (io_uring: worker, fs, net_stream, blk_dev, vsock_dev, rng_dev; seccomp: jail;
#    KVM: arm64_snap_kvm), run for real here on an arm64 kernel: each must
#    pass, a skip (77) is a failure.
# env: CVMM, KIT (dir with arm64-Image, arm64-guest.cpio.gz, vsocktool, apicall, unit-NAME),
# ONLY / SKIP; GIC: the GIC the guest must drive (default GICv3; GIC-0, the v2
# driver's name, in a
# test host started with --gic 2: cvmm's fallback).
CVMM=${CVMM:-./cvmm}
KIT=${KIT:-.}
TMP=${TMPDIR:-/tmp}/cvmm-arm-cases.$$
. ./lib.sh

md5of() { dd if="$1" bs=65536 skip="$2" count="$3" 2>/dev/null | md5sum | cut -c1-32; }
field() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/.*$2 \([0-9a-f]*\).*/\1/p" | head -1; }
mkdisk() { # file MiB: 1 MiB random pattern at the start, zeros after
	dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
	dd if=/dev/urandom of="$1" bs=65536 count=16 conv=notrunc 2>/dev/null
}
linux() { # name status test cpus -- more cvmm args; XC: more command line
	n=$1 st=$2 t=$3 c=$4
	shift 5
	want $n $st 300 -- --kernel "$KIT/arm64-Image" --initrd "$KIT/arm64-guest.cpio.gz" \
		--cpus $c --memory 256M --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=$t${XC:+ $XC}" "$@"
}

# the guest's clock, read once it ran, is the host's (within 2 minutes) and
# came from the pl031 (Linux names that rtc after its AMBA device)
guest_time_ok() {
	gt=$(tr -d '\r' <"$TMP/$1.out" | sed -n 's/.*GUEST-TIME \([0-9]*\) rtc=\([^ ]*\).*/\1/p' | head -1)
	gr=$(tr -d '\r' <"$TMP/$1.out" | sed -n 's/.*GUEST-TIME [0-9]* rtc=\([^ ]*\).*/\1/p' | head -1)
	ht=$(date +%s)
	[ -n "$gt" ] && [ $((ht - gt)) -ge -120 ] && [ $((ht - gt)) -le 120 ] &&
		case "$gr" in *pl031*) true ;; *) false ;; esac
}

n=arm64-blk
if selected $n; then
	mkdisk "$TMP/$n.img" 64
	if linux $n 0 blk 2 -- --disk "$TMP/$n.img"; then
		info=$(grep GUEST-INFO "$TMP/$n.out" | tail -1)
		memkb=$(echo "$info" | sed -n 's/.*memkb=\([0-9]*\).*/\1/p')
		r=$(field $n GUEST-BLK-READ)
		w=$(field $n GUEST-BLK-WROTE)
		if ! echo "$info" | grep -q "cpus=2 online=0-1"; then bad $n "guest saw: '$info', wanted 2 CPUs online"
		elif ! has $n "GUEST-IRQCHIP ${GIC:-GICv3}"; then bad $n "guest drives no ${GIC:-GICv3}: $(grep IRQCHIP "$TMP/$n.out")"
		elif [ -z "$memkb" ] || [ "$memkb" -lt 150000 ] || [ "$memkb" -gt 262144 ]; then bad $n "guest MemTotal '$memkb' kB"
		elif grep -q CVMM-MODULE-FAILED "$TMP/$n.out"; then bad $n "a module failed to load"
		elif [ "$r" != "$(md5of "$TMP/$n.img" 0 16)" ]; then bad $n "guest read other bytes than the host wrote"
		elif [ -z "$w" ] || [ "$w" != "$(md5of "$TMP/$n.img" 32 16)" ]; then bad $n "the host file lacks what the guest wrote"
		elif ! grep -q "GUEST-BLK-SIZE 131072 ro=0" "$TMP/$n.out"; then bad $n "wrong disk size or ro flag"
		elif ! guest_time_ok $n; then bad $n "guest clock: '$(grep GUEST-TIME "$TMP/$n.out")', host $(date +%s): not from the PL031"
		else ok $n "$(echo "$info" | cut -d' ' -f2-4), ${GIC:-GICv3}, disk read and written, clock $(grep -o 'rtc=[^ ]*' "$TMP/$n.out" | head -1), ${secs}s"; fi
	fi
fi

n=arm64-reboot
if selected $n; then
	linux $n 2 reboot 1 -- && { has $n GUEST-REBOOTING && ok $n "${secs}s" || bad $n "guest did not get to reboot"; }
fi

n=arm64-devices
if selected $n && [ ! -x "$KIT/vsocktool" ]; then
	bad $n "no vsocktool in $KIT"
elif selected $n; then
	S=$TMP/v.sock
	mkdir -p "$TMP/share"
	echo "hello from the arm64 test host" >"$TMP/share/hello.txt"
	"$KIT/vsocktool" listen "unix:${S}_6000" recv 1048576 >"$TMP/h6000" 2>&1 &
	vpid=$!
	# cvmm creates the tap (root); its host side is set up once it exists
	(i=0; while [ ! -e /sys/class/net/a64t0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	 ip addr add 10.0.9.1/24 dev a64t0 && ip link set a64t0 up) &
	# every thread on the main arena, trimmed on every free: a worker's
	# filter must allow what its frees do there (seen killing the vsock
	# worker with the default arenas: it freed, after its filter, the
	# filter's context the main thread had built)
	export GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0
	XC="cvmm.ip=10.0.9.2/24 cvmm.peer=10.0.9.1" linux $n 0 devices 2 -- --net tap=a64t0 \
		--vsock "cid=3,socket=$S" --fs "tag=share,path=$TMP/share"
	lst=$?
	unset GLIBC_TUNABLES
	if [ $lst -eq 0 ]; then
		wait $vpid
		vst=$?
		if ! has $n "GUEST-PING ok"; then bad $n "no ping over the tap"
		elif ! has $n "GUEST-VSOCK-C6000 0"; then bad $n "vsock send failed in the guest"
		elif [ $vst -ne 0 ]; then bad $n "the host's vsock listener got other bytes (status $vst)"
		elif ! has $n "GUEST-FS-HOST hello from the arm64 test host"; then bad $n "guest did not read the share"
		elif has $n GUEST-FS-FAILED; then bad $n "$(grep GUEST-FS-FAILED "$TMP/$n.out" | head -1)"
		elif [ "$(cat "$TMP/share/guest.txt" 2>/dev/null)" != "written by the arm64 guest" ]; then
			bad $n "the host does not find what the guest wrote in the share"
		else ok $n "ping, 1 MiB over vsock, share read and written, ${secs}s"; fi
	fi
	kill $vpid 2>/dev/null
fi

n=arm64-snap
if selected $n && [ ! -x "$KIT/apicall" ]; then
	bad $n "no apicall in $KIT"
elif selected $n; then
	# api WANTED METHOD PATH [JSON]: the call on $A must answer WANTED
	api() {
		got=$("$KIT/apicall" "$A" "$2" "$3" ${4:+"$4"} 2>"$TMP/resp")
		[ "$got" = "$1" ] && return 0
		bad $n "$2 $3 answered '$got', wanted $1: $(head -c 300 "$TMP/resp")"
		return 1
	}
	count() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/^GUEST-COUNT \([0-9]*\)\$/\1/p" | $2 -1; }
	D=$TMP/snap
	mkdir -p "$D"
	DISK=$TMP/snap.img
	dd if=/dev/zero of="$DISK" bs=1048576 count=8 2>/dev/null
	A=$TMP/snap-api.sock
	"$CVMM" --api-socket "$A" --snapshot-dir "$D" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0; while [ $i -lt 100 ] && [ ! -S "$A" ]; do sleep 0.1; i=$((i + 1)); done
	boot="console=ttyS0 quiet panic=-1 cvmm.test=snap"
	if api 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/arm64-Image\", \"initrd_path\": \"$KIT/arm64-guest.cpio.gz\", \"boot_args\": \"$boot\"}" &&
		api 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' &&
		api 204 PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DISK\", \"is_root_device\": false, \"is_read_only\": false}" &&
		api 204 PUT /actions '{"action_type": "InstanceStart"}'; then
		if ! wait_for $n "GUEST-COUNT 3" 300 $pid; then
			bad $n "the guest never got to count"
		elif api 204 PATCH /vm '{"state": "Paused"}' &&
			api 204 PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D/state\", \"mem_file_path\": \"$D/memory\"}"; then
			before=$(count $n tail)
			kill -KILL $pid
			wait $pid 2>/dev/null
			r=$n-restored
			# Firecracker's clock_realtime is x86_64 only: refused by name
			"$CVMM" --restore "$D,mem=file,clock_realtime" </dev/null >"$TMP/$r-rt.out" 2>"$TMP/$r-rt.err"
			rt=$?
			"$CVMM" --restore "$D,mem=file" </dev/null >"$TMP/$r.out" 2>"$TMP/$r.err" &
			rpid=$!
			if [ $rt -eq 0 ] || ! grep -q "clock_realtime is not supported on aarch64" "$TMP/$r-rt.err"; then
				bad $n "a load with clock_realtime was not refused by name (status $rt): $(tail -2 "$TMP/$r-rt.err" | tr '\n' ' ')"
			elif ! wait_for $r "GUEST-COUNT $((before + 3))" 120 $rpid; then
				bad $n "the restored guest did not count on from $before: $(tail -3 "$TMP/$r.out" | tr -d '\r' | tr '\n' ' ') $(tail -3 "$TMP/$r.err" | tr '\n' ' ')"
			elif has $r GUEST-SNAP-READY; then
				bad $n "the restored guest started over"
			elif f=$(count $r head) && { [ "$f" -lt "$before" ] || [ "$f" -gt $((before + 2)) ]; }; then
				bad $n "the first count after the restore is $f, the snapshot's $before"
			else
				why=""
				for k in $((before + 1)) $((before + 2)) $((before + 3)); do
					got=$(dd if="$DISK" bs=512 skip=$k count=1 2>/dev/null | head -c 19)
					[ "$got" = "$(printf 'cvmm-count-%08d' $k)" ] || why="block $k holds '$got'"
				done
				if [ -n "$why" ]; then bad $n "$why"
				else ok $n "2 vCPUs paused at count $before, saved ($(stat -c %s "$D/state") B of state), killed, clock_realtime refused, restored: counts on (first $f), disk written"; fi
			fi
			kill -KILL $rpid 2>/dev/null
			wait $rpid 2>/dev/null
		fi
	fi
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
fi

sigsys() { # name hook thread -- more cvmm args
	n=$1 hook=$2 thr=$3
	shift 4
	selected $n || return
	CVMM_TEST_SECCOMP_VIOLATION=$hook timeout 120 "$CVMM" --kernel "$KIT/arm64-Image" \
		--initrd "$KIT/arm64-guest.cpio.gz" --memory 256M \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=sleep" "$@" </dev/null \
		>"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	w="cvmm: seccomp: thread $thr made forbidden syscall 173 (getppid)"
	if [ $st -ne 159 ]; then bad $n "status $st, wanted 159 (SIGSYS)"
	elif ! grep -qF "$w" "$TMP/$n.err"; then bad $n "no message '$w'"
	else ok $n "$(grep -F 'cvmm: seccomp' "$TMP/$n.err" | head -1)"; fi
}
dd if=/dev/zero of="$TMP/sig.img" bs=1048576 count=4 2>/dev/null
sigsys arm64-sigsys-control main cvmm-control --
sigsys arm64-sigsys-vcpu vcpu cvmm-vcpu0 --
sigsys arm64-sigsys-blk-worker worker=cvmm-blk0-q0 cvmm-blk0-q0 -- --disk "$TMP/sig.img"

# unit-blk_dev uses /dev/shm as tmpfs (no FALLOC_FL_ZERO_RANGE there)
mkdir -p /dev/shm
grep -q ' /dev/shm ' /proc/mounts || mount -t tmpfs tmpfs /dev/shm
for u in "$KIT"/unit-*; do
	[ -x "$u" ] || continue
	n=arm64-unit-${u##*/unit-}
	selected $n || continue
	(cd "$TMP" && timeout 300 "$u") >"$TMP/$n.out" 2>&1 # 124: it hung
	st=$?
	if [ $st -eq 0 ]; then
		ok $n "$(grep -o 'PASSED.*' "$TMP/$n.out" | tail -1)"
	else
		bad $n "status $st"
	fi
done

rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
