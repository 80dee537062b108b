#!/bin/sh
# The ASan+UBSan cvmm (tests/run --asan: build-asan/cvmm) on KVM, seccomp
# on (the default), LeakSanitizer's check at exit included: run by cases.sh
# inside a network namespace of its own (unshare -n) as root. Every case
# wants its exit status and no sanitizer report on stderr (a leak, an ASan
# error or a UBSan one fails it by name; a sanitizer exits 66 here):
#  - asan-check-2cpu: mg-check, 2 vCPUs, no devices;
#  - asan-check-devices: mg-check with a disk, a tap, a share and vsock:
#    every device kind created, its workers started, jailed and joined;
#  - asan-blk-mg-bench: mg-bench drives virtio-blk (virtio-mmio) reads and
#    writes, pattern-checked;
#  - asan-api-socket: a Firecracker client's boot sequence on the control
#    socket (curl), the micro-guest powers off;
#  - asan-embed-two-vms: tests/embed/two_vms (ASan build) through libcvmm;
#  - asan-soak-cycles: tests/embed/soak (ASan build), 30 create/run/destroy
#    cycles with a disk and vsock in one process: LeakSanitizer at exit sees
#    whatever a cycle leaks (RSS is not judged under ASan);
#  - asan-linux-devices: the small kernel with every device kind at once
#    (cvmm.test=alldev): the disk read and written, ping over the tap,
#    1 MiB over vsock, the share read and written, each checked here;
#  - asan-leak-detected, asan-overflow-reported: the sanitizers still see
#    through the jail: a test build's deliberate leak on the control thread
#    (CVMM_TEST_ASAN=leak) must be reported by LeakSanitizer at exit, and a
#    heap overflow on the jailed vCPU thread (overflow-vcpu) by ASan, with
#    the report whole (the thread named, the summary line).
# env: CVMM_ASAN (default ./cvmm-asan), TWO_VMS_ASAN (./two_vms-asan),
# SOAK_ASAN (./soak-asan), MG,
# KIT, TMP, ONLY/SKIP; on PATH: ip (IP names it), vsocktool, curl.
CVMM=${CVMM_ASAN:-./cvmm-asan}
TWO_VMS=${TWO_VMS_ASAN:-./two_vms-asan}
SOAK=${SOAK_ASAN:-./soak-asan}
export PATH="$PWD:$PATH"
IP=${IP:-ip}
MG=${MG:-.}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-asan.$$}
. ./lib.sh
$IP link set lo up
# symbolize=0: a jailed thread cannot start a symbolizer (no fork or exec in
# any table); tests/run turns the module+offset frames into lines.
export ASAN_OPTIONS=detect_leaks=1:exitcode=66:symbolize=0:color=never
export UBSAN_OPTIONS=halt_on_error=1:exitcode=66:print_stacktrace=1:symbolize=0:color=never

md5of() { dd if="$1" bs=65536 skip="$2" count="$3" 2>/dev/null | md5sum | cut -c1-32; }
field() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/.*$2 \([0-9a-f]*\).*/\1/p" | head -1; }
mkdisk() { # file MiB: 1 MiB random pattern at the start, zeros after
	dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
	dd if=/dev/urandom of="$1" bs=65536 count=16 conv=notrunc 2>/dev/null
}
SANRE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)'
# The sanitizer's report of NAME, one line (empty: none).
report() { grep -E "$SANRE" "$TMP/$1.err" 2>/dev/null | head -3 | tr '\n' ' '; }
# A failing case's whole report (tests/run symbolizes its frames).
bad_report() { # name why
	bad "$1" "$2"
	sed -n '/==ERROR\|runtime error:/,$p' "$TMP/$1.err" | grep -v '^  0x\|^=>' | head -60 |
		sed 's/^/    ! /'
}
# asan NAME WANTED-STATUS SECONDS -- cvmm args: like want (lib.sh), but a
# run past its time is killed (SIGKILL: LeakSanitizer, stopped in its
# check, would outlive a SIGTERM), and a sanitizer report fails the case.
asan() {
	name=$1 wst=$2 tmo=$3
	shift 4
	selected "$name" || return 1
	start=$(date +%s)
	timeout -s KILL "$tmo" "$CVMM" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	st=$?
	secs=$(($(date +%s) - start))
	if [ -n "$(report "$name")" ]; then bad_report "$name" "status $st: $(report "$name")"; return 1; fi
	if [ $st -ne "$wst" ]; then bad "$name" "exit status $st, wanted $wst (after ${secs}s)"; return 1; fi
	return 0
}
mg_ok() { has "$1" "MG DONE pass=[0-9]* fail=0" && ! has "$1" "MG FAIL"; }

if [ -f "$MG/mg-check.elf" ]; then
	n=asan-check-2cpu
	asan $n 0 120 -- --kernel "$MG/mg-check.elf" --cpus 2 --memory 64M --cmdline "mg.cpus=2 mg.mem=64M" &&
		{ mg_ok $n && ok $n "${secs}s, no report" || bad $n "micro-guest reported failures"; }
	n=asan-check-devices
	if selected $n; then
		mkdisk "$TMP/$n.img" 16
		mkdir -p "$TMP/$n.share"
		asan $n 0 120 -- --kernel "$MG/mg-check.elf" --cpus 2 --memory 64M \
			--cmdline "mg.cpus=2 mg.mem=64M" --disk "$TMP/$n.img" --net tap=asant1 \
			--fs "tag=s,path=$TMP/$n.share" --vsock "cid=3,socket=$TMP/$n.vsock" &&
			{ mg_ok $n && ok $n "disk, tap, share, vsock; ${secs}s, no report" ||
				bad $n "micro-guest reported failures"; }
	fi
	n=asan-api-socket
	if selected $n; then
		S=$TMP/$n.sock
		dd if=/dev/zero of="$TMP/$n.img" bs=1048576 count=4 2>/dev/null
		"$CVMM" --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		i=0
		while [ $i -lt 100 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
		put() {
			code=$(curl -s --max-time 60 --unix-socket "$S" -X PUT -o /dev/null -w '%{http_code}' \
				-H 'Content-Type: application/json' --data "$2" "http://localhost$1")
			[ "$code" = 204 ] || why="$why PUT $1: $code"
		}
		why=""
		put /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
		put /boot-source "{\"kernel_image_path\": \"$MG/mg-check.elf\", \"boot_args\": \"mg.cpus=1 mg.mem=64M\"}"
		put /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TMP/$n.img\", \"is_root_device\": true, \"is_read_only\": false}"
		put /actions '{"action_type": "InstanceStart"}'
		# the guest powers off by itself; a cvmm that hangs is killed
		# (its own output elsewhere: a leftover sleep must not hold the
		# console pipe that cases.sh waits on)
		(sleep 120; kill -KILL $pid 2>/dev/null) >/dev/null 2>&1 &
		wd=$!
		wait $pid
		st=$?
		kill $wd 2>/dev/null
		if [ -n "$(report $n)" ]; then bad_report $n "status $st: $(report $n)"
		elif [ -n "$why" ]; then bad $n "$why"
		elif [ $st -ne 0 ]; then bad $n "exit status $st, wanted 0"
		elif ! mg_ok $n; then bad $n "micro-guest reported failures"
		else ok $n "boot through the control socket, no report"; fi
	fi
	n=asan-embed-two-vms
	if selected $n; then
		timeout -s KILL 240 "$TWO_VMS" "$MG/mg-check.elf" "$TMP" >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ -n "$(report $n)" ]; then bad_report $n "status $st: $(report $n)"
		elif [ $st -ne 0 ] || ! has $n "EMBED DONE pass=[0-9]* fail=0"; then
			bad $n "status $st: $(grep 'EMBED FAIL' "$TMP/$n.out" | head -3 | tr '\n' ';')"
		else ok $n "$(grep -o 'pass=[0-9]*' "$TMP/$n.out" | tail -1) checks, no report"; fi
	fi
	n=asan-soak-cycles
	if selected $n && [ -f "$MG/mg-exit.elf" ]; then
		timeout -s KILL 300 "$SOAK" "$MG/mg-exit.elf" "$TMP" 30 10 >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ -n "$(report $n)" ]; then bad_report $n "status $st: $(report $n)"
		elif [ $st -ne 0 ] || ! has $n "^SOAK PASS"; then bad $n "status $st: $(grep '^SOAK FAIL' "$TMP/$n.out")"
		else ok $n "30 cycles, no leak at exit"; fi
	fi
	# The sanitizers through the jail: each must report what a test build
	# does on purpose (a case passes when the report is there, whole).
	n=asan-leak-detected
	if selected $n; then
		CVMM_TEST_ASAN=leak timeout -s KILL 120 "$CVMM" --kernel "$MG/mg-check.elf" --memory 64M \
			--cmdline "mg.cpus=1 mg.mem=64M" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 66 ] && grep -q "ERROR: LeakSanitizer: detected memory leaks" "$TMP/$n.err" &&
			grep -q "SUMMARY: AddressSanitizer: 4242 byte(s) leaked in 1 allocation(s)" "$TMP/$n.err"; then
			ok $n "the deliberate leak was reported at exit, jailed"
		else
			bad_report $n "status $st, wanted 66 with LeakSanitizer's report of 4242 bytes: $(report $n)"
		fi
	fi
	n=asan-overflow-reported
	if selected $n; then
		CVMM_TEST_ASAN=overflow-vcpu timeout -s KILL 120 "$CVMM" --kernel "$MG/mg-check.elf" \
			--memory 64M --cmdline "mg.cpus=1 mg.mem=64M" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 66 ] && grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$TMP/$n.err" &&
			grep -q "thread T[0-9]* (cvmm-vcpu0)" "$TMP/$n.err" &&
			grep -q "^SUMMARY: AddressSanitizer: heap-buffer-overflow" "$TMP/$n.err"; then
			ok $n "the vCPU thread's overflow was reported whole, jailed"
		else
			bad_report $n "status $st, wanted 66 with ASan's whole report: $(report $n)$(grep seccomp "$TMP/$n.err")"
		fi
	fi
fi

# mg-bench drives virtio-blk: reads checked against the pattern, writes
# read back (as blk-mg-bench in cases.sh).
n=asan-blk-mg-bench
if [ -f "$MG/mg-bench.elf" ] && [ -f "$MG/mg-bench-disk.img" ] && selected $n; then
	cp "$MG/mg-bench-disk.img" "$TMP/$n.img"
	asan $n 67 120 -- --debug-exit --transport mmio --kernel "$MG/mg-bench.elf" --memory 64M \
		--disk "$TMP/$n.img" --cmdline "acpi=off mg.case=blk mg.verify=1 mg.n=8 mg.ms=0" &&
		{ has $n "MG DONE pass=7 fail=0" && ! has $n "MG FAIL" && ok $n "7 jobs, no report" ||
			bad $n "micro-guest reported failures"; }
fi

# Linux with every device kind at once.
n=asan-linux-devices
if [ -f "$KIT/small-bzImage" ] && selected $n; then
	mkdisk "$TMP/$n.img" 64
	S=$TMP/$n.vsock
	mkdir -p "$TMP/$n.share"
	echo "hello from the test host" >"$TMP/$n.share/hello.txt"
	vsocktool listen "unix:${S}_6000" recv 1048576 >"$TMP/$n.h6000" 2>&1 &
	vpid=$!
	# cvmm creates the tap (root); its host side is set up once it exists
	# (asked of ip: /sys/class/net is the first network namespace's)
	(i=0; while ! $IP link show asant0 >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	 $IP addr add 10.0.11.1/24 dev asant0 && $IP link set asant0 up) >/dev/null 2>&1 &
	if asan $n 0 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --cpus 2 \
		--memory 128M --disk "$TMP/$n.img" --net tap=asant0 --vsock "cid=3,socket=$S" \
		--fs "tag=share,path=$TMP/$n.share" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=alldev cvmm.ip=10.0.11.2/24 cvmm.peer=10.0.11.1"; then
		wait $vpid
		vst=$?
		r=$(field $n GUEST-BLK-READ)
		w=$(field $n GUEST-BLK-WROTE)
		if [ "$r" != "$(md5of "$TMP/$n.img" 0 16)" ]; then bad $n "guest read other bytes than the host wrote"
		elif [ -z "$w" ] || [ "$w" != "$(md5of "$TMP/$n.img" 32 16)" ]; then bad $n "the host file lacks what the guest wrote"
		elif ! has $n "GUEST-PING ok"; then bad $n "no ping over the tap"
		elif ! has $n "GUEST-VSOCK-C6000 0"; then bad $n "vsock send failed in the guest"
		elif [ $vst -ne 0 ]; then bad $n "the host's vsock listener got other bytes (status $vst)"
		elif ! has $n "GUEST-FS-HOST hello from the test host"; then bad $n "guest did not read the share"
		elif has $n GUEST-FS-FAILED; then bad $n "$(grep GUEST-FS-FAILED "$TMP/$n.out" | head -1)"
		elif [ "$(cat "$TMP/$n.share/guest.txt" 2>/dev/null)" != "written by the x86 guest" ]; then
			bad $n "the host does not find what the guest wrote in the share"
		else ok $n "disk, ping, 1 MiB over vsock, share read and written; ${secs}s, no report"; fi
	fi
	kill $vpid 2>/dev/null
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
