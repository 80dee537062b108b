#!/bin/sh
# KVM test cases: micro-guests and real Linux guests under cvmm. Runs where
# /dev/kvm can boot Linux: inside the emulated test host (tests/vmhost/run)
# or directly on a host with hardware KVM. POSIX sh + busybox only.
#
# env: CVMM (the binary), CVMM_STATIC (the static one, default
# ./cvmm-static), MG (dir with mg-check.elf/.bzimage), KIT (dir with
# small-bzImage, small-vmlinux, stock-vmlinuz, guest.cpio.gz,
# stock-guest.cpio.gz), ONLY / SKIP (optional: run only / skip the cases
# whose name contains it); CVMM_ASAN (the ASan build: the asan-* cases run
# with it), SOAK_CYCLES, FK_BLOCKS (soak-cases.sh)
# prints: CASE <name> PASS|FAIL [reason], then "N passed, N failed".
CVMM=${CVMM:-./cvmm}
MG=${MG:-.}
KIT=${KIT:-.}
TMP=${TMPDIR:-/tmp}/cvmm-cases.$$
. ./lib.sh

# ---- micro-guests: tiny, so these take well under a second each ----------
mg() { # name file cpus mem extra-cmdline
	want "$1" 0 60 -- --kernel "$2" --cpus "$3" --memory "$4" \
		--cmdline "mg.cpus=$3 mg.mem=$4 $5" ${6:+--initrd "$6"} || return
	if has "$1" "MG DONE pass=[0-9]* fail=0" && ! has "$1" "MG FAIL"; then
		ok "$1" "$(grep -o 'pass=[0-9]*' "$TMP/$1.out" | head -1)"
	else
		bad "$1" "micro-guest reported failures"
	fi
}
if [ -f "$MG/mg-check.elf" ]; then
	head -c 12345 /dev/zero | tr '\0' 'r' >"$TMP/initrd.bin"
	mg mg-pvh-1cpu "$MG/mg-check.elf" 1 64M ""
	mg mg-pvh-2cpu "$MG/mg-check.elf" 2 64M ""
	mg mg-pvh-8cpu "$MG/mg-check.elf" 8 128M ""
	# the most the README promises: 254 vCPUs, each in the MADT, all run
	mg mg-pvh-254cpu "$MG/mg-check.elf" 254 256M ""
	mg mg-bzimage-2cpu "$MG/mg-check.bzimage" 2 64M ""
	mg mg-bzimage-initrd "$MG/mg-check.bzimage" 2 64M "mg.initrd=12345" "$TMP/initrd.bin"
	mg mg-pvh-initrd "$MG/mg-check.elf" 1 64M "mg.initrd=12345" "$TMP/initrd.bin"
	mg mg-bzimage-above-4g "$MG/mg-check.bzimage" 2 3584M ""
	# The in-kernel PIT is made at the guest's first access to its ports
	# and that access is made again against it: mg-check's first access a
	# read of port 0x61 (mg-pit-in: a PIT's answer, not a bare port's 0xff)
	# or the write of channel 0's control word (mg-pit-out: read back from
	# the PIT), then the count must move. mg-pit-out also looks for the
	# PIT's kernel thread (kvm-pit/PID) while the guest waits: there after
	# such a guest, and not for mg-check without mg.pit (mg-no-pit).
	mg mg-pit-in "$MG/mg-check.elf" 1 64M "mg.pit=in"
	# The VMM's own memory (docs/benchmarks.md): peak RSS of the static
	# cvmm with a waiting micro-guest under 2 MiB, and the private
	# (anonymous) memory of the dynamic one under 1 MiB; the guest touches
	# about 200 KiB. A thread stack or the loader's low guest RAM backed by
	# a transparent huge page would add 2 MiB.
	n=mg-footprint
	if selected $n; then
		hwm= anon=
		st_bin=${CVMM_STATIC:-./cvmm-static}
		for bin in "$st_bin" "$CVMM"; do
			echo_start $n "$bin"
			if [ "$bin" = "$st_bin" ]; then
				hwm=$(awk '$1 == "VmHWM:" {print $2}' /proc/$pid/status)
				# what a peak over 2 MiB was made of (seen once, 3836 kB,
				# not reproduced: a transparent huge page?)
				parts=$(grep -E '^(Rss|Anonymous|AnonHugePages|ShmemPmdMapped|FilePmdMapped|Private_Clean|Shared_Clean):' \
					/proc/$pid/smaps_rollup 2>/dev/null | tr -s ' \n' ' ')
			else
				anon=$(awk '$1 == "RssAnon:" {print $2}' /proc/$pid/status)
			fi
			echo_end
		done
		if [ ! -x "$st_bin" ]; then bad $n "no $st_bin (the static cvmm)"
		elif [ -z "$hwm" ] || [ -z "$anon" ]; then bad $n "the VMs did not come up"
		elif [ "$hwm" -ge 2048 ]; then bad $n "cvmm-static peak RSS $hwm kB, over 2 MiB (now: $parts)"
		elif [ "$anon" -ge 1024 ]; then bad $n "cvmm private RSS $anon kB, over 1 MiB"
		else ok $n "cvmm-static peak RSS $hwm kB, cvmm private $anon kB"; fi
	fi
	for n in mg-no-pit mg-pit-out; do
		selected $n || continue
		arg=; [ $n = mg-pit-out ] && arg=mg.pit=out
		echo_start $n "$CVMM" $arg
		pit=$(kvm_pits $pid)
		echo_end
		if [ $st -ne 0 ] || ! has $n "MG DONE pass=[0-9]* fail=0" || has $n "MG FAIL"; then
			bad $n "status $st: $(grep -o 'MG FAIL.*' "$TMP/$n.out" | head -2 | tr '\n' ';')"
		elif [ $n = mg-pit-out ] && [ "$pit" != 1 ]; then bad $n "no kvm-pit/$pid thread"
		elif [ $n = mg-no-pit ] && [ "$pit" != 0 ]; then bad $n "a PIT for a guest that never used one"
		else ok $n "kvm-pit threads: $pit"; fi
	done
	# a triple fault ends cvmm with status 3 and says so; an i8042 reset with 2
	want mg-triple-fault 3 60 -- --kernel "$MG/mg-check.elf" --memory 64M --cmdline "mg.end=crash" &&
		{ has mg-triple-fault "MG CRASHING" && grep -q "triple fault" "$TMP/mg-triple-fault.err" &&
			ok mg-triple-fault || bad mg-triple-fault "no crash report"; }
	want mg-i8042-reset 2 60 -- --kernel "$MG/mg-check.bzimage" --memory 64M --cmdline "mg.end=reset" &&
		{ has mg-i8042-reset "MG RESETTING" && ok mg-i8042-reset || bad mg-i8042-reset "no reset"; }
	# a KVM failure while running (README: status 4, the message names the
	# exit and the RIP): the guest runs code from the MMIO hole, which KVM
	# cannot emulate (KVM_EXIT_INTERNAL_ERROR)
	n=mg-runtime-error
	want $n 4 60 -- --kernel "$MG/mg-check.elf" --memory 64M --cmdline "mg.end=mmio" && {
		if ! has $n "MG EXEC-MMIO"; then bad $n "the guest never got there"
		elif ! grep -q "KVM .*rip 0xc0000000" "$TMP/$n.err"; then bad $n "no exit reason and RIP: $(head -c 300 "$TMP/$n.err")"
		else ok $n "$(grep -o 'KVM .*' "$TMP/$n.err" | head -1)"; fi
	}
	# console input reaches the guest through the 8250 and comes back
	n=mg-console-echo
	selected $n && {
		(sleep 1; printf 'ping-from-host q') | timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" \
			--cmdline "mg.cpus=1 mg.mem=64M mg.echo=1" --memory 64M >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 0 ] && has $n "ping-from-host"; then ok $n; else bad $n "status $st, no echo"; fi
	}
	# the console on a real terminal (tests/tools/ptyconsole.c): raw while
	# cvmm runs, restored after; Ctrl-A c reaches the guest as 0x03, Ctrl-A
	# Ctrl-A as 0x01; Ctrl-A x quits with status 0
	n=mg-console-tty
	if selected $n; then
		# the test host's /dev has no devpts mounted
		[ -e /dev/pts/ptmx ] || { mkdir -p /dev/pts && mount -t devpts devpts /dev/pts; }
		timeout 90 ./ptyconsole "$CVMM" --kernel "$MG/mg-check.elf" --memory 64M \
			--cmdline "mg.cpus=1 mg.mem=64M mg.echo=1" >"$TMP/$n.out" 2>"$TMP/$n.err" </dev/null
		st=$?
		if [ $st -eq 0 ] && has $n "PTY DONE fails=0" && [ "$(grep -c '^PTY .* ok$' "$TMP/$n.out")" = 6 ]; then
			ok $n "raw, escapes, quit, restored"
		else
			bad $n "status $st: $(grep 'PTY .*FAIL' "$TMP/$n.out" | head -3 | tr '\n' ';')"
		fi
	fi
	# SIGINT (Ctrl-C outside raw mode) stops the VM cleanly: status 130
	n=mg-sigint
	selected $n && {
		rm -f "$TMP/$n.in"
		mkfifo "$TMP/$n.in"
		timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" --cmdline "mg.cpus=1 mg.mem=64M mg.echo=1" \
			--memory 64M <"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		exec 5>"$TMP/$n.in"
		i=0
		while [ $i -lt 300 ] && ! has $n "MG ECHO"; do sleep 0.1; i=$((i + 1)); done
		kill -INT $pid
		wait $pid
		st=$?
		exec 5>&-
		if [ $st -eq 130 ] && has $n "MG ECHO"; then ok $n; else bad $n "status $st, wanted 130"; fi
	}
	# --vsock socket=PATH (README): a stale socket at PATH (its listener was
	# SIGKILLed) is replaced and cvmm listens there; one another process
	# listens on is refused (status 1, said) and left to that process
	n=mg-vsock-stale-socket
	if selected $n; then
		sock=$TMP/$n.sock
		rm -f "$sock" "$TMP/$n.in"
		./vsocktool listen "unix:$sock" hold 30 >/dev/null 2>&1 &
		lp=$!
		i=0
		while [ $i -lt 100 ] && [ ! -S "$sock" ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL $lp
		wait $lp 2>/dev/null
		if [ ! -S "$sock" ]; then bad $n "the killed listener left no socket"
		elif ./vsocktool connect "unix:$sock" hold 0 >/dev/null 2>&1; then bad $n "the socket is not stale"
		else
			mkfifo "$TMP/$n.in"
			timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" --memory 64M --vsock "cid=3,socket=$sock" \
				--cmdline "mg.cpus=1 mg.mem=64M mg.echo=1" <"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" &
			pid=$!
			exec 5>"$TMP/$n.in"
			i=0
			while [ $i -lt 300 ] && ! has $n "MG ECHO"; do sleep 0.1; i=$((i + 1)); done
			./vsocktool connect "unix:$sock" hold 0 >"$TMP/$n.conn" 2>&1
			cst=$?
			printf q >&5
			wait $pid
			st=$?
			exec 5>&-
			if [ $st -ne 0 ]; then bad $n "cvmm status $st, wanted 0 (stale socket not replaced?)"
			elif [ $cst -ne 0 ]; then bad $n "cvmm does not listen on the replaced socket: $(cat "$TMP/$n.conn")"
			else ok $n "stale socket replaced, cvmm listened"; fi
		fi
	fi
	n=mg-vsock-live-socket
	if selected $n; then
		sock=$TMP/$n.sock
		rm -f "$sock"
		# two connections accepted: cvmm's probe and ours after it
		./vsocktool listen "unix:$sock" hold 0 2 >/dev/null 2>&1 &
		lp=$!
		i=0
		while [ $i -lt 100 ] && [ ! -S "$sock" ]; do sleep 0.1; i=$((i + 1)); done
		want $n 1 60 -- --kernel "$MG/mg-check.elf" --memory 64M --vsock "cid=3,socket=$sock" && {
			if ! grep -q "vsock: '$sock' is in use by another process" "$TMP/$n.err"; then
				bad $n "no clear error: $(head -c 300 "$TMP/$n.err")"
			elif ! ./vsocktool connect "unix:$sock" hold 0 >/dev/null 2>&1; then
				bad $n "the other process's socket was taken away"
			else ok $n "refused: $(head -1 "$TMP/$n.err")"; fi
		}
		kill $lp 2>/dev/null
		wait $lp 2>/dev/null
	fi
	# libcvmm embedded: two micro-guests in one process, pause/resume, errors
	n=mg-api-embed-two-vms
	if selected $n && [ -x ./two_vms ]; then
		timeout 180 ./two_vms "$MG/mg-check.elf" "$TMP" >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 0 ] && has $n "EMBED DONE pass=[0-9]* fail=0"; then
			ok $n "$(grep -o 'pass=[0-9]*' "$TMP/$n.out" | tail -1) checks"
		else
			bad $n "status $st: $(grep 'EMBED FAIL' "$TMP/$n.out" | head -3 | tr '\n' ';')"
		fi
	fi
	# --config FILE: the same VM as flags would give, as JSON
	n=mg-api-config-json
	if selected $n; then
		printf '{"kernel": "%s", "cpus": 2, "memory": "64M", "cmdline": "mg.cpus=2 mg.mem=64M"}\n' \
			"$MG/mg-check.elf" >"$TMP/$n.json"
		want $n 0 60 -- --config "$TMP/$n.json" &&
			{ has $n "MG DONE pass=[0-9]* fail=0" && ok $n || bad $n "micro-guest reported failures"; }
	fi
	# examples/embed.c boots a micro-guest to its power-off
	n=mg-api-example-embed
	if selected $n && [ -x ./embed ]; then
		timeout 60 ./embed "$MG/mg-check.elf" >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 0 ] && has $n "MG DONE pass=[0-9]* fail=0" && grep -q "guest powered off" "$TMP/$n.err"; then
			ok $n
		else
			bad $n "status $st"
		fi
	fi
fi
# The benchmark kit (bench/run) cannot rot: mg-bench drives virtio-blk
# (virtio_mmio.device= on the command line, as with acpi=off), 8 requests per
# job; every read must return the pattern tests/run wrote into the file, the
# writes' pattern must read back, and each job must report sane figures.
n=blk-mg-bench
if [ -f "$MG/mg-bench.elf" ] && [ -f "$MG/mg-bench-disk.img" ] && selected $n; then
	cp "$MG/mg-bench-disk.img" "$TMP/$n.img"
	want $n 67 60 -- --debug-exit --transport mmio --kernel "$MG/mg-bench.elf" --memory 64M --disk "$TMP/$n.img" \
		--cmdline "acpi=off mg.case=blk mg.verify=1 mg.n=8 mg.ms=0" && {
		# MGB <job> n= bytes= ns= kicks=: 8 requests (the read-back: the
		# 4 MiB written), bytes = n * block size, time > 0, kicks <= n
		sane=$(tr -d '\r' <"$TMP/$n.out" | awk '/^MGB / {
			split($3, a, "="); split($4, b, "="); split($5, c, "="); split($6, k, "=")
			bs = ($2 ~ /4k/) ? 4096 : 1048576
			want = ($2 == "blk-readback") ? 4 : 8
			if (a[2] == want && b[2] == a[2] * bs && c[2] > 0 && k[2] >= 1 && k[2] <= a[2]) good++
			else print "bad: " $0 > "/dev/stderr"
		} END { print good + 0 }' 2>>"$TMP/$n.err")
		# the file now holds the writes' pattern: 8 bytes at 1 MiB + 8
		word=$(od -An -tx1 -j 1048584 -N 8 "$TMP/$n.img" | tr -d ' \n')
		if has $n "MG DONE pass=7 fail=0" && ! has $n "MG FAIL" && [ "$sane" = 7 ] &&
			[ "$word" = 080010000000326d ]; then
			ok $n "7 jobs"
		else
			bad $n "sane jobs: $sane of 7, word at 1M+8: $word"
		fi
	}
fi

# cvmm's own read-only check: a Linux guest honours VIRTIO_BLK_F_RO and never
# sends a write, so mg-bench (which ignores that feature) writes to a disk
# given with ,ro: each write must come back VIRTIO_BLK_S_IOERR (status 1)
# and the file must not change.
n=blk-ro-mg
if [ -f "$MG/mg-bench.elf" ] && [ -f "$MG/mg-bench-disk.img" ] && selected $n; then
	cp "$MG/mg-bench-disk.img" "$TMP/$n.img"
	before=$(md5sum <"$TMP/$n.img")
	timeout 60 "$CVMM" --debug-exit --transport mmio --kernel "$MG/mg-bench.elf" --memory 64M \
		--disk "$TMP/$n.img,ro" --cmdline "acpi=off mg.case=blk mg.job=blk-write-1m-qd1 mg.n=4 mg.ms=0" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	if ! has $n "MG FAIL blk-write-1m-qd1: request status 1 "; then
		bad $n "status $st; a write to the read-only disk did not fail with IOERR: $(grep 'MG \|MGB' "$TMP/$n.out" | head -3 | tr '\n' ';')"
	elif [ "$before" != "$(md5sum <"$TMP/$n.img")" ]; then bad $n "the read-only image changed"
	else ok $n "writes refused with IOERR, image unchanged"; fi
fi

# A guest's console output never holds its vCPU: cvmm's stdout is a pipe
# whose reader never reads (a manager that stopped draining it) and mg-bench
# prints 70 KiB, more than the pipe holds. The VM must end on its own, the
# bytes past the room dropped; a blocking write held the vCPU, and with it
# the VM's exit (a kick cannot reach a thread outside KVM_RUN), until the
# reader went away.
n=mg-console-stall
if [ -f "$MG/mg-bench.elf" ] && selected $n; then
	rm -f "$TMP/$n.rc"
	start=$(date +%s)
	{
		timeout 120 "$CVMM" --debug-exit --transport mmio --kernel "$MG/mg-bench.elf" --memory 64M \
			--cmdline "acpi=off mg.case=console mg.n=1100" </dev/null 2>"$TMP/$n.err"
		echo $? >"$TMP/$n.rc"
	} | sleep 100 &
	spid=$! # the pipeline's last process: the reader that never reads
	i=0
	while [ $i -lt 600 ] && [ ! -s "$TMP/$n.rc" ]; do sleep 0.1; i=$((i + 1)); done
	secs=$(($(date +%s) - start))
	if [ ! -s "$TMP/$n.rc" ]; then
		bad $n "cvmm still ran after ${secs}s, its console a pipe nobody read: $(head -c 200 "$TMP/$n.err")"
	elif [ "$(cat "$TMP/$n.rc")" != 67 ]; then
		bad $n "exit status $(cat "$TMP/$n.rc"), wanted 67: $(head -c 200 "$TMP/$n.err")"
	else
		ok $n "70 KiB of guest output into a 64 KiB pipe nobody read: the VM ended in ${secs}s"
	fi
	kill $spid 2>/dev/null
fi

# ---- real Linux ---------------------------------------------------------
linux() { # name kernel initrd cpus mem test [wanted-status]
	want "$1" "${7:-0}" 300 -- --kernel "$2" --initrd "$3" --cpus "$4" --memory "$5" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=$6 cvmm.marker=$1"
}
check_info() { # name cpus mem-MiB
	n=$1
	line=$(grep GUEST-INFO "$TMP/$n.out" | tail -1)
	cpus=$(echo "$line" | sed -n 's/.*cpus=\([0-9]*\).*/\1/p')
	memkb=$(echo "$line" | sed -n 's/.*memkb=\([0-9]*\).*/\1/p')
	if [ -z "$line" ]; then bad $n "guest printed no GUEST-INFO"; return; fi
	if [ "$cpus" != "$2" ]; then bad $n "guest saw $cpus CPUs, wanted $2"; return; fi
	# MemTotal is RAM minus what the kernel keeps: at least 60% of it, at most all
	lo=$(($3 * 1024 * 6 / 10)) hi=$(($3 * 1024))
	if [ "$memkb" -lt "$lo" ] || [ "$memkb" -gt "$hi" ]; then
		bad $n "guest MemTotal ${memkb} kB, wanted $lo..$hi"; return
	fi
	if grep -q "CVMM-MODULE-FAILED" "$TMP/$n.out"; then
		bad $n "a module failed to load"; return
	fi
	if ! grep -q "GUEST-CMDLINE.*cvmm.marker=$n" "$TMP/$n.out"; then
		bad $n "command line did not reach the guest"; return
	fi
	if ! grep -q "GUEST-RTC 20[0-9][0-9]-" "$TMP/$n.out"; then
		bad $n "no /dev/rtc0 in the guest (CMOS RTC not found)"; return
	fi
	# the guest's clock is the host's (RTC, kvm-clock), within 2 minutes
	gt=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/.*GUEST-TIME \([0-9]*\).*/\1/p' | head -1)
	ht=$(date +%s)
	if [ -z "$gt" ] || [ $((ht - gt)) -lt -120 ] || [ $((ht - gt)) -gt 120 ]; then
		bad $n "guest clock ${gt:-none}, host $ht"; return
	fi
	ok $n "cpus=$cpus memkb=$memkb"
}
if [ -f "$KIT/small-bzImage" ]; then
	linux small-bzimage-2cpu "$KIT/small-bzImage" "$KIT/guest.cpio.gz" 2 128M info &&
		check_info small-bzimage-2cpu 2 128
	linux small-pvh-2cpu "$KIT/small-vmlinux" "$KIT/guest.cpio.gz" 2 128M info &&
		check_info small-pvh-2cpu 2 128
	linux small-reboot "$KIT/small-bzImage" "$KIT/guest.cpio.gz" 1 64M reboot 2 &&
		{ has small-reboot GUEST-REBOOTING && ok small-reboot || bad small-reboot "no GUEST-REBOOTING"; }
	# SIGTERM while the guest runs: a clean stop with status 143
	n=small-sigterm
	{ selected $n || selected small-no-pit; } && {
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 64M \
			--cmdline "console=ttyS0 quiet cvmm.test=sleep" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		i=0
		while [ $i -lt 240 ] && ! has $n GUEST-SLEEPING; do sleep 0.5; i=$((i + 1)); done
		# Linux with kvm-clock, the TSC deadline timer and ARAT never
		# touches the PIT (apic_needs_pit()): cvmm made none
		pit=$(kvm_pits $pid)
		kill -TERM $pid
		wait $pid
		st=$?
		if [ $st -eq 143 ] && has $n GUEST-SLEEPING; then ok $n; else bad $n "status $st"; fi
		if ! has $n GUEST-SLEEPING; then bad small-no-pit "the guest did not come up"
		elif [ "$pit" != 0 ]; then bad small-no-pit "a kvm-pit thread: the guest used the PIT"
		else ok small-no-pit "booted to init, no PIT made"; fi
	}
	# Guest memory on 2 MiB hugetlbfs pages (--huge-pages 2M, Firecracker's
	# huge_pages "2M"): reserved from the test host's pool when the VM is
	# built (HugePages_Free drops by all 64 pages of 128 MiB at once), the
	# guest RAM mapping's page size 2048 kB; Linux boots on it. With the pool
	# too small, cvmm exits 1 naming it, before the guest runs. And
	# --huge-pages transparent: the mapping asks for THP (VmFlags hg).
	n=small-hugetlb-2m
	selected $n && {
		hp=/proc/sys/vm/nr_hugepages
		old=$(cat $hp)
		echo 72 >$hp
		free0=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M --huge-pages 2M \
			--cmdline "console=ttyS0 quiet cvmm.test=sleep" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		wait_for $n GUEST-SLEEPING 240 $pid
		free1=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
		rsvd1=$(awk '/^HugePages_Rsvd:/ {print $2}' /proc/meminfo)
		# the 128 MiB mapping's page size
		kps=$(awk '/^Size:/ { big = ($2 == 131072) } big && /^KernelPageSize:/ { print $2; exit }' \
			/proc/$pid/smaps 2>/dev/null)
		kill -TERM $pid
		wait $pid
		echo 10 >$hp
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M --huge-pages 2M \
			</dev/null >"$TMP/$n-small.out" 2>"$TMP/$n-small.err"
		st2=$?
		echo "$old" >$hp
		# reserved: free minus reserved-but-unused is what is left for others
		used=$((free0 - free1 + rsvd1))
		if ! has $n GUEST-SLEEPING; then bad $n "the guest did not boot on huge pages: $(tail -2 "$TMP/$n.err" | tr '\n' ' ')"
		elif [ "$used" != 64 ]; then bad $n "the pool gave $used pages (free $free0 -> $free1, reserved $rsvd1), wanted 64"
		elif [ "$kps" != 2048 ]; then bad $n "the guest RAM mapping's page size: '$kps' kB"
		elif [ $st2 -ne 1 ] || ! grep -q "cannot reserve 128 MiB of 2 MiB huge pages" "$TMP/$n-small.err"; then
			bad $n "a pool of 10 pages: status $st2, '$(head -c 200 "$TMP/$n-small.err")'"
		else ok $n "64 pages of the pool taken at the start, 2048 kB pages, Linux booted; a pool of 10 refused: $(head -c 120 "$TMP/$n-small.err")"; fi
	}
	n=small-thp
	selected $n && {
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M --huge-pages transparent \
			--cmdline "console=ttyS0 quiet cvmm.test=sleep" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		wait_for $n GUEST-SLEEPING 240 $pid
		flags=$(awk '/^Size:/ { big = ($2 == 131072) } big && /^VmFlags:/ { print; exit }' \
			/proc/$pid/smaps 2>/dev/null)
		kill -TERM $pid
		wait $pid
		if ! has $n GUEST-SLEEPING; then bad $n "the guest did not boot"
		elif ! echo "$flags" | grep -qw hg; then bad $n "guest RAM not marked for THP: $flags"
		else ok $n "guest RAM asks for THP (VmFlags hg), Linux booted"; fi
	}
	# The VM Generation ID: the guest's vmgenid driver binds to the DSDT's
	# VGEN; a new ID (the test build's SIGUSR2: cvmm_vm_new_generation_id,
	# as a restore makes) and its Notify reach the driver, which finds the ID
	# changed and reseeds the guest's RNG.
	n=vmgenid-small
	selected $n && {
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 64M \
			--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=vmgenid" </dev/null \
			>"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		if wait_for $n GUEST-VMGENID-READY 240 $pid; then kill -USR2 $pid; else kill -TERM $pid; fi 2>/dev/null
		wait $pid
		st=$?
		bound=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/^GUEST-VMGENID-BOUND //p' | head -1)
		if [ $st -ne 0 ]; then bad $n "status $st"
		elif [ "${bound%%:*}" != VMGENCTR ]; then bad $n "vmgenid driver bound to '${bound:-nothing}'"
		elif has $n GUEST-VMGENID-EARLY; then bad $n "the guest reseeded before the new ID"
		elif ! has $n GUEST-VMGENID-RESEEDED; then bad $n "the guest did not see the new ID"
		elif ! has $n "GUEST-VMGENID-GED 2 "; then
			bad $n "the GED's interrupts: $(grep -o 'GUEST-VMGENID-GED.*' "$TMP/$n.out")"
		else ok $n "driver on $bound; new ID seen, RNG reseeded"; fi
	}
fi
# ---- virtio-blk ------------------------------------------------------------
md5of() { # file offset-in-64k-blocks count
	dd if="$1" bs=65536 skip="$2" count="$3" 2>/dev/null | md5sum | cut -c1-32
}
field() { sed -n "s/.*$2 \([0-9a-f]*\).*/\1/p" "$TMP/$1.out" | head -1; }
mkdisk() { # file MiB: 1 MiB random pattern at the start, zeros after
	dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
	dd if=/dev/urandom of="$1" bs=65536 count=16 conv=notrunc 2>/dev/null
}
blk_case() { # name kernel initrd disk-spec-extra cpus [queues the guest must use]
	n=$1
	selected $n || return
	mkdisk "$TMP/$n.img" 64
	want $n 0 300 -- --kernel "$2" --initrd "$3" --cpus "$5" --memory 128M \
		--disk "$TMP/$n.img$4" --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=blk" || return
	blk_verify $n "$TMP/$n.img" "${6:-}"
}
blk_verify() { # name image [queues the guest must use] [more for the PASS line]
	n=$1
	r=$(field $n GUEST-BLK-READ)
	w=$(field $n GUEST-BLK-WROTE)
	if [ "$r" != "$(md5of "$2" 0 16)" ]; then bad $n "guest read other bytes than the host wrote"; return; fi
	if [ -z "$w" ] || [ "$w" != "$(md5of "$2" 32 16)" ]; then bad $n "the host file lacks what the guest wrote"; return; fi
	if ! grep -q "GUEST-BLK-SIZE 131072 ro=0" "$TMP/$n.out"; then bad $n "wrong size or ro flag"; return; fi
	if ! grep -q "GUEST-BLK-SERIAL cvmm0-" "$TMP/$n.out"; then bad $n "no serial (GET_ID)"; return; fi
	if [ -n "${3:-}" ] && ! grep -q "queues=$3" "$TMP/$n.out"; then bad $n "the guest did not use $3 queues"; return; fi
	ok $n "$(grep -o 'queues=[0-9]*' "$TMP/$n.out")${4:+ $4}"
}
if [ -f "$KIT/small-bzImage" ]; then
	blk_case blk-small "$KIT/small-bzImage" "$KIT/guest.cpio.gz" "" 2
	# Linux uses one queue per vCPU: offer 4 to 4 vCPUs, and 4 to 2.
	blk_case blk-small-mq "$KIT/small-bzImage" "$KIT/guest.cpio.gz" ",queues=4" 4 4
	blk_case blk-small-mq-2cpu "$KIT/small-bzImage" "$KIT/guest.cpio.gz" ",queues=4" 2 2
	# ,direct: the guest's reads and writes go through a descriptor opened
	# with O_DIRECT (040000 in /proc/PID/fdinfo flags, read while it runs).
	# /tmp is tmpfs, which refuses O_DIRECT before Linux 6.6: the image is
	# on ext4 on a loop device.
	n=blk-direct
	if selected $n; then
		fs=$TMP/$n.fs mnt=$TMP/$n.mnt
		dd if=/dev/zero of="$fs" bs=1048576 count=80 2>/dev/null
		mkdir -p "$mnt"
		if ! mkfs.ext4 -q -F "$fs" >"$TMP/$n.err" 2>&1; then bad $n "mkfs.ext4 failed"
		elif ! loop=$(losetup -f) || ! losetup "$loop" "$fs" 2>>"$TMP/$n.err"; then bad $n "no loop device"
		elif ! mount -t ext4 "$loop" "$mnt" 2>>"$TMP/$n.err"; then
			bad $n "cannot mount the loop device"; losetup -d "$loop"
		else
			img=$mnt/disk.img
			mkdisk "$img" 64
			"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --cpus 2 --memory 128M \
				--disk "$img,direct" --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=blk" \
				</dev/null >"$TMP/$n.out" 2>>"$TMP/$n.err" &
			pid=$!
			flags=""
			i=0
			while [ $i -lt 300 ] && [ -z "$flags" ] && [ -d /proc/$pid/fd ]; do
				for f in /proc/$pid/fd/*; do
					[ "$(readlink "$f" 2>/dev/null)" = "$img" ] &&
						flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$pid/fdinfo/${f##*/}" 2>/dev/null) && break
				done
				[ -n "$flags" ] || sleep 0.1
				i=$((i + 1))
			done
			timeout 300 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.2; done"
			wait $pid
			st=$?
			if [ $st -ne 0 ]; then bad $n "exit status $st, wanted 0"
			elif [ -z "$flags" ]; then bad $n "never saw the disk's descriptor in /proc/$pid/fd"
			elif [ $((0$flags & 040000)) -eq 0 ]; then bad $n "the disk's descriptor lacks O_DIRECT (flags 0$flags)"
			else blk_verify $n "$img" "" "O_DIRECT (flags 0$flags)"; fi
			umount "$mnt"
			losetup -d "$loop"
		fi
	fi
	n=blk-acpi-off
	if selected $n; then
		mkdisk "$TMP/$n.img" 64
		# and 16 more: x86's 17 device slots (Kata attaches 9 drives); the
		# ones past the tenth interrupt are on IOAPIC pins 16-22, which a
		# kernel without ACPI routes by the MP table
		more="" d=1
		while [ $d -le 16 ]; do
			dd if=/dev/zero of="$TMP/$n.$d.img" bs=65536 count=1 2>/dev/null
			more="$more --disk $TMP/$n.$d.img,ro"
			d=$((d + 1))
		done
		# without ACPI the guest resets at the end: status 2. virtio-mmio:
		# the devices are on the command line (virtio-pci without ACPI:
		# pci-acpi-off-blk in pci-cases.sh)
		want $n 2 300 -- --transport mmio --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" \
			--memory 128M --disk "$TMP/$n.img" $more --cmdline "console=ttyS0 quiet panic=-1 acpi=off cvmm.test=blk" &&
			if [ "$(field $n GUEST-BLK-READ)" != "$(md5of "$TMP/$n.img" 0 16)" ]; then bad $n "disk not usable with acpi=off"
			elif [ "$(field $n GUEST-BLK-DISKS)" != 17 ]; then bad $n "the guest sees $(field $n GUEST-BLK-DISKS) of 17 disks"
			else ok $n "17 disks found via the command line"; fi
	fi
	n=blk-ro
	if selected $n; then
		mkdisk "$TMP/$n.img" 16
		before=$(md5sum <"$TMP/$n.img")
		want $n 0 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
			--disk "$TMP/$n.img,ro" --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=blk-ro" &&
			if ! has $n "GUEST-BLK-RO ro=1"; then bad $n "guest does not see a read-only disk"
			elif ! has $n "GUEST-BLK-RO-WRITE refused"; then bad $n "a write succeeded"
			elif [ "$before" != "$(md5sum <"$TMP/$n.img")" ]; then bad $n "the image changed"
			elif [ "$(field $n GUEST-BLK-READ)" != "$(md5of "$TMP/$n.img" 0 16)" ]; then bad $n "bad read"
			else ok $n; fi
	fi
	# Data the guest saw flushed survives cvmm's SIGKILL, and it is on the
	# disk, not only in the host's page cache (which SIGKILL leaves alone,
	# so a FLUSH acknowledged without fsync would pass a plain check): the
	# image lives on ext4 on a loop device, the host's own writeback is held
	# off, and what is read back comes from the loop device's backing file
	# (debugfs), which only what cvmm fsync'ed has reached.
	n=blk-sigkill
	if selected $n; then
		fs=$TMP/$n.fs mnt=$TMP/$n.mnt
		dd if=/dev/zero of="$fs" bs=1048576 count=48 2>/dev/null
		mkdir -p "$mnt"
		wb=$(cat /proc/sys/vm/dirty_writeback_centisecs) ex=$(cat /proc/sys/vm/dirty_expire_centisecs)
		# no journal: what debugfs reads is then the blocks' home, not a
		# journal that is not yet checkpointed
		if ! mkfs.ext4 -q -F -O ^has_journal "$fs" >"$TMP/$n.err" 2>&1; then bad $n "mkfs.ext4 failed"
		elif ! loop=$(losetup -f) || ! losetup "$loop" "$fs" 2>>"$TMP/$n.err"; then bad $n "no loop device"
		elif ! mount -t ext4 "$loop" "$mnt" 2>>"$TMP/$n.err"; then
			bad $n "cannot mount the loop device"; losetup -d "$loop"
		else
			mkdisk "$mnt/disk.img" 16
			sync
			echo 0 >/proc/sys/vm/dirty_writeback_centisecs
			echo 360000 >/proc/sys/vm/dirty_expire_centisecs
			"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
				--disk "$mnt/disk.img" --cmdline "console=ttyS0 quiet cvmm.test=blk-kill" \
				</dev/null >"$TMP/$n.out" 2>>"$TMP/$n.err" &
			pid=$!
			i=0
			while [ $i -lt 600 ] && ! has $n GUEST-FLUSHED; do sleep 0.2; i=$((i + 1)); done
			kill -KILL $pid
			wait $pid
			w=$(field $n GUEST-FLUSHED)
			rm -f "$TMP/$n.ondisk"
			debugfs -R "dump /disk.img $TMP/$n.ondisk" "$fs" >/dev/null 2>&1
			ondisk=$(md5of "$TMP/$n.ondisk" 32 16)
			cached=$(md5of "$mnt/disk.img" 32 16)
			echo $wb >/proc/sys/vm/dirty_writeback_centisecs
			echo $ex >/proc/sys/vm/dirty_expire_centisecs
			umount "$mnt"
			losetup -d "$loop"
			if [ -z "$w" ]; then bad $n "the guest never said it flushed"
			elif [ "$w" != "$cached" ]; then bad $n "flushed data lost (guest said '$w', the file has $cached)"
			elif [ "$w" != "$ondisk" ]; then bad $n "flushed data only in the page cache, not on the disk (no fsync?)"
			else ok $n "flushed data on the disk after SIGKILL"; fi
		fi
	fi
	# The worker's seccomp filter kills a syscall outside its table (test
	# builds make the worker call getppid() right after loading it).
	n=blk-worker-seccomp
	if selected $n; then
		mkdisk "$TMP/$n.img" 16
		CVMM_TEST_SECCOMP_VIOLATION=worker timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" \
			--memory 64M --disk "$TMP/$n.img" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 159 ]; then ok $n "killed by SIGSYS"; else bad $n "status $st, wanted 159 (SIGSYS)"; fi
	fi
	n=blk-locked
	if selected $n; then
		mkdisk "$TMP/$n.img" 16
		"$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
			--disk "$TMP/$n.img" --cmdline "console=ttyS0 quiet cvmm.test=sleep" \
			</dev/null >"$TMP/$n.first" 2>&1 &
		pid=$!
		sleep 1
		want $n 1 60 -- --kernel "$KIT/small-bzImage" --memory 64M --disk "$TMP/$n.img" &&
			{ grep -q "in use" "$TMP/$n.err" && ok $n || bad $n "no lock error"; }
		kill -TERM $pid
		wait $pid
	fi
fi
if [ -f "$KIT/stock-vmlinuz" ]; then
	n=blk-stock-ext4
	if selected $n; then
		dd if=/dev/zero of="$TMP/$n.img" bs=1048576 count=64 2>/dev/null
		want $n 0 300 -- --kernel "$KIT/stock-vmlinuz" --initrd "$KIT/stock-guest.cpio.gz" --cpus 2 \
			--memory 256M --disk "$TMP/$n.img" \
			--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=blk-ext4" &&
			{
				big=$(sed -n 's/.*GUEST-EXT4 hello=[0-9a-f]* big=\([0-9a-f]*\).*/\1/p' "$TMP/$n.out" | head -1)
				host_big=$(debugfs -R "cat /big.bin" "$TMP/$n.img" 2>/dev/null | md5sum | cut -c1-32)
				host_hello=$(debugfs -R "cat /hello.txt" "$TMP/$n.img" 2>/dev/null | md5sum | cut -c1-32)
				if grep -q "FAILED" "$TMP/$n.out"; then bad $n "$(grep -o 'GUEST-[A-Z0-9-]*FAILED' "$TMP/$n.out" | head -1)"
				elif [ -z "$big" ] || [ "$big" != "$host_big" ]; then bad $n "host sees other bytes in big.bin ($host_big vs $big)"
				elif ! grep -q "hello=$host_hello" "$TMP/$n.out"; then bad $n "host sees another hello.txt"
				elif ! grep -q "GUEST-EXT4-REREAD big=$big" "$TMP/$n.out"; then bad $n "remount read back other bytes"
				else ok $n "mkfs.ext4, files match on the host"; fi
			}
	fi
fi
# virtio-rng: the stock kernel's virtio-rng module makes /dev/hwrng; two
# boots read it, and no two reads (in a boot or across) are alike
if [ -f "$KIT/stock-vmlinuz" ]; then
	n=rng-stock-hwrng
	if selected $n; then
		for run in 1 2; do
			timeout 300 "$CVMM" --kernel "$KIT/stock-vmlinuz" --initrd "$KIT/stock-guest.cpio.gz" \
				--memory 256M --rng --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=rng" \
				</dev/null >"$TMP/$n.$run.out" 2>"$TMP/$n.$run.err"
			echo $? >"$TMP/$n.$run.st"
		done
		l1=$(tr -d '\r' <"$TMP/$n.1.out" | grep '^GUEST-RNG a=' | head -1)
		l2=$(tr -d '\r' <"$TMP/$n.2.out" | grep '^GUEST-RNG a=' | head -1)
		a1=$(echo "$l1" | sed -n 's/.* a=\([0-9a-f]*\).*/\1/p')
		b1=$(echo "$l1" | sed -n 's/.* b=\([0-9a-f]*\).*/\1/p')
		a2=$(echo "$l2" | sed -n 's/.* a=\([0-9a-f]*\).*/\1/p')
		empty=$(printf '' | md5sum | cut -c1-32)
		cur=$(tr -d '\r' <"$TMP/$n.1.out" | sed -n 's/^GUEST-RNG-CURRENT //p' | head -1)
		if [ "$(cat "$TMP/$n.1.st")" != 0 ] || [ "$(cat "$TMP/$n.2.st")" != 0 ]; then
			bad $n "cvmm status $(cat "$TMP/$n.1.st"), $(cat "$TMP/$n.2.st")"
		elif grep -q "GUEST-RNG-FAILED\|CVMM-MODULE-FAILED" "$TMP/$n.1.out" "$TMP/$n.2.out"; then
			bad $n "$(grep -ho 'GUEST-RNG-FAILED.*\|CVMM-MODULE-FAILED.*' "$TMP/$n.1.out" "$TMP/$n.2.out" | head -1)"
		elif [ -z "$l1" ] || [ -z "$l2" ]; then bad $n "no GUEST-RNG line"
		elif [ "${cur%.*}" != virtio_rng ]; then bad $n "/dev/hwrng is '$cur', not virtio_rng"
		elif ! echo "$l1 $l2" | grep -q "bytes=16384 .*bytes=16384$\|bytes=16384$"; then bad $n "short reads: $l1 / $l2"
		elif [ "$a1" = "$empty" ] || [ "$a1" = "$b1" ] || [ "$a1" = "$a2" ]; then
			bad $n "reads alike: $l1 / $l2"
		else ok $n "$cur: 64 B reads differ in a boot and across boots, 16 KiB read whole"; fi
	fi
fi
if [ -f "$KIT/stock-vmlinuz" ]; then
	linux stock-2cpu "$KIT/stock-vmlinuz" "$KIT/stock-guest.cpio.gz" 2 256M info &&
		check_info stock-2cpu 2 256
fi
# ---- virtio-fs -------------------------------------------------------------
wanted x86-fs && . ./fs-cases.sh
# ---- the sub-scripts: each runs when one of its cases (cases.list) is
# selected; net, pci and jail in a network namespace of their own
netns() { command -v unshare >/dev/null && unshare -n true 2>/dev/null; }
if wanted x86-net; then # virtio-net
	if netns; then subscript net "$TMP/net" unshare -n sh ./net-cases.sh
	else bad stage-net-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-pci; then # virtio-pci: what the guest finds, which interrupts
	if netns; then subscript pci "$TMP/pci" unshare -n sh ./pci-cases.sh
	else bad stage-pci-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-vsock; then # virtio-vsock: one guest, both directions
	subscript vsock "$TMP/vsock" sh ./vsock-cases.sh
fi
if wanted x86-jail; then # seccomp per thread, privilege drop
	if netns; then subscript jail "$TMP/jail" unshare -n sh ./jail-cases.sh
	else bad stage-jail-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-api; then # the control socket: a Firecracker client's boot sequence
	subscript api "$TMP/api" sh ./api-cases.sh
fi
if wanted x86-fc; then # cvmm as Firecracker: each manager's launch line and calls
	if netns; then subscript fc "$TMP/fc" unshare -n sh ./fc-cases.sh
	else bad stage-fc-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-snap; then # snapshot, restore, clones of a guest at work
	if netns; then subscript snap "$TMP/snap" unshare -n sh ./snap-cases.sh
	else bad stage-snap-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-balloon; then # virtio-balloon: memory given back, reported
	subscript balloon "$TMP/balloon" sh ./balloon-cases.sh
fi
if wanted x86-limit; then # rate limiters: the rates a guest measures
	if netns; then subscript limit "$TMP/limit" unshare -n sh ./limit-cases.sh
	else bad stage-limit-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-mmds; then # the guest's metadata service, V1 and V2; a flood at it
	if netns; then subscript mmds "$TMP/mmds" unshare -n sh ./mmds-cases.sh
	else bad stage-mmds-cases "cannot create a network namespace (unshare -n)"; fi
fi
if wanted x86-soak; then # cycles in one process; VMs killed mid-write
	subscript soak "$TMP/soak" sh ./soak-cases.sh
fi
# The ASan cvmm, seccomp on, leaks checked at exit: when tests/run --asan
# gave one (CVMM_ASAN)
if [ -n "${CVMM_ASAN:-}" ] && wanted x86-asan; then
	if netns; then subscript asan "$TMP/asan" unshare -n sh ./asan-cases.sh
	else bad stage-asan-cases "cannot create a network namespace (unshare -n)"; fi
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
