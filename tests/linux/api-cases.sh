#!/bin/sh
# The control socket, run by cases.sh: cvmm --api-socket driven with curl
# in the order a Firecracker client sends (PUT /machine-config,
# /boot-source, /drives/..., /actions InstanceStart).
# api-firecracker-boot: the small kernel (cvmm.test=api in guest-job.sh)
# with 17 drives, x86's most (Kata attaches 9), all seen by the guest. Then
# GET / (Running), PATCH /vm Paused (GET / says Paused and the guest's
# once-a-second tick stops for 3 s), Resumed (the ticks go on), pre-boot
# calls refused after the start, and SendCtrlAltDel: the kernel finds the
# i8042's keyboard in the DSDT and reboots; cvmm exits with status 2.
# api-ctrl-alt-del: Debian's kernel booted as Firecracker's managers boot
# it (acpi=off reboot=k panic=1) finds the i8042's keyboard; SendCtrlAltDel
# makes it reboot through the i8042's reset line, and cvmm exits with its
# reboot status (2).
# api-patch-drive: PATCH /drives while a guest runs (below).
# api-serial: PUT /serial's FIFO and rate limiter (below).
# env: CVMM, KIT, TMP, ONLY/SKIP; curl on PATH.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-api.$$}
. ./lib.sh
S=$TMP/api.sock

# call METHOD PATH [JSON], step NAME WANTED METHOD PATH [JSON]: lib.sh's
# http and http_step on the socket S
call() { http "$S" "$@"; }
step() {
	n2=$1 w2=$2
	shift 2
	http_step "$n2" "$w2" "$S" "$@"
}
last_tick() { tr -d '\r' <"$TMP/$1.out" | sed -n 's/^GUEST-TICK \([0-9]*\).*/\1/p' | tail -1; }

api_boot() {
	n=api-firecracker-boot
	dd if=/dev/zero of="$TMP/rootfs.img" bs=1048576 count=16 2>/dev/null
	start=$(date +%s)
	"$CVMM" --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	step $n 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}' || return
	step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=api\"}" || return
	step $n 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TMP/rootfs.img\", \"is_root_device\": true, \"is_read_only\": false}" || return
	# 16 more: x86's 17 device slots, all drives (Kata attaches 9)
	d=1
	while [ $d -le 16 ]; do
		dd if=/dev/zero of="$TMP/data$d.img" bs=65536 count=1 2>/dev/null
		step $n 204 PUT /drives/data$d "{\"drive_id\": \"data$d\", \"path_on_host\": \"$TMP/data$d.img\", \"is_root_device\": false, \"is_read_only\": true}" || return
		d=$((d + 1))
	done
	step $n 400 PUT /drives/data17 "{\"drive_id\": \"data17\", \"path_on_host\": \"$TMP/data1.img\", \"is_root_device\": false, \"is_read_only\": true}" || return
	step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	step $n 200 GET / || return
	grep -q '"state": "Running"' "$TMP/resp" || { bad $n "GET / after the start: $(cat "$TMP/resp")"; return; }
	if ! wait_for $n "GUEST-TICK 2" 300 "$pid"; then
		bad $n "the guest did not come up (after $(($(date +%s) - start))s)"
		return
	fi
	# pause: no tick for 3 s
	step $n 204 PATCH /vm '{"state": "Paused"}' || return
	step $n 200 GET / || return
	grep -q '"state": "Paused"' "$TMP/resp" || { bad $n "GET / while paused: $(cat "$TMP/resp")"; return; }
	t1=$(last_tick $n)
	sleep 3
	t2=$(last_tick $n)
	[ "$t1" = "$t2" ] || { bad $n "the guest ticked while paused ($t1 -> $t2)"; return; }
	step $n 204 PATCH /vm '{"state": "Resumed"}' || return
	wait_for $n "GUEST-TICK $((t2 + 2))" 30 "$pid" || { bad $n "no ticks after the resume (last $t2)"; return; }
	step $n 200 GET / || return
	grep -q '"state": "Running"' "$TMP/resp" || { bad $n "GET / after resume: $(cat "$TMP/resp")"; return; }
	# what managers get wrong is refused, and cvmm goes on
	step $n 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' || return
	step $n 400 PUT /actions '{"action_type": "InstanceStart"}' || return
	step $n 400 GET /nope || return
	step $n 400 PATCH /vm '{"state": "Paused"' || return
	# Ctrl-Alt-Del: this kernel found the i8042 in the DSDT (PS2_) and
	# restarts (through the ACPI reset register, its default); cvmm exits 2
	step $n 204 PUT /actions '{"action_type": "SendCtrlAltDel"}' || return
	i=0
	while [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		bad $n "still running 120 s after SendCtrlAltDel"
		return
	fi
	wait $pid
	st=$?
	pid=
	kbd=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/^GUEST-KBD //p' | head -1)
	if [ $st -ne 2 ]; then bad $n "exit status $st after SendCtrlAltDel, wanted 2 (reboot)"
	elif ! has $n "GUEST-API-DISK 32768 disks=17"; then
		bad $n "the guest did not see the 16 MiB root drive and 16 more: $(grep -a GUEST-API-DISK "$TMP/$n.out" | tr -d '\r')"
	elif ! echo "$kbd" | grep -q "AT_Raw_Set_2_keyboard"; then bad $n "no AT keyboard in the guest: '$kbd'"
	elif [ -e "$S" ]; then bad $n "the socket was left behind"
	else ok $n "17 drives, paused at tick $t1, $kbd, rebooted by Ctrl-Alt-Del $(($(date +%s) - start))s after start"; fi
}

# Debian's kernel (i8042, atkbd and the VT keyboard built in), no drives
api_cad() {
	n=api-ctrl-alt-del
	rm -f "$S"
	start=$(date +%s)
	"$CVMM" --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	step $n 400 PUT /actions '{"action_type": "SendCtrlAltDel"}' || return # not started
	step $n 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' || return
	step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/stock-vmlinuz\", \"initrd_path\": \"$KIT/stock-guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet acpi=off reboot=k panic=1 cvmm.test=ctrlaltdel\"}" || return
	step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	if ! wait_for $n "GUEST-CAD-READY" 300 "$pid"; then
		bad $n "the guest did not come up (after $(($(date +%s) - start))s)"
		return
	fi
	step $n 204 PUT /actions '{"action_type": "SendCtrlAltDel"}' || return
	i=0
	while [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		bad $n "still running 120 s after SendCtrlAltDel"
		return
	fi
	wait $pid
	st=$?
	pid=
	kbd=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/^GUEST-KBD //p' | head -1)
	if [ $st -ne 2 ]; then bad $n "exit status $st after SendCtrlAltDel, wanted 2 (reboot)"
	elif ! echo "$kbd" | grep -q "AT_Raw_Set_2_keyboard"; then bad $n "no AT keyboard in the guest: '$kbd'"
	elif ! grep -q "i8042 reset" "$TMP/$n.err"; then bad $n "not the i8042's reset: $(tail -1 "$TMP/$n.err")"
	else ok $n "$kbd, rebooted $(($(date +%s) - start))s after start"; fi
}
# PATCH /drives/{id} while the guest runs (cvmm.test=api-patch): vdb's 1 MiB
# file swapped for a 3 MiB one; the guest sees the new size, reads the new
# file's first and last sectors and writes to it (not to the old one).
# Firecracker's refusals on the way: before the start, an unknown drive, a
# missing file, a file outside the disks' directory (the jail's Landlock).
api_patch() {
	n=api-patch-drive
	S=$TMP/patch.sock
	mkdir -p "$TMP/disks" "$TMP/outside"
	D=$TMP/disks
	dd if=/dev/zero of="$D/root.img" bs=1048576 count=4 2>/dev/null
	dd if=/dev/zero of="$D/old.img" bs=1048576 count=1 2>/dev/null
	printf OLD-DISK-CONTENT | dd of="$D/old.img" conv=notrunc 2>/dev/null
	dd if=/dev/zero of="$D/new.img" bs=1048576 count=3 2>/dev/null
	printf NEW-DISK-HEAD-01 | dd of="$D/new.img" conv=notrunc 2>/dev/null
	printf NEW-DISK-TAIL-99 | dd of="$D/new.img" bs=512 seek=6143 conv=notrunc 2>/dev/null
	cp "$D/new.img" "$TMP/outside/other.img"
	start=$(date +%s)
	"$CVMM" --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	fc="Drive config error: Unable to patch the block device: "
	step $n 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' || return
	step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=api-patch\"}" || return
	# PUT first, but the root drive is /dev/vda: scratch is vdb (disk 1)
	step $n 204 PUT /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$D/old.img\", \"is_root_device\": false}" || return
	step $n 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$D/root.img\", \"is_root_device\": true}" || return
	step $n 400 PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$D/new.img\"}" || return
	grep -q "not supported before starting the microVM" "$TMP/resp" || { bad $n "PATCH before the start: $(cat "$TMP/resp")"; return; }
	step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	if ! wait_for $n "GUEST-PATCH-READY" 300 "$pid"; then
		bad $n "the guest did not come up (after $(($(date +%s) - start))s)"
		return
	fi
	step $n 400 PATCH /drives/nope "{\"drive_id\": \"nope\", \"path_on_host\": \"$D/new.img\"}" || return
	grep -q "${fc}Failed perform action on device: Device not found" "$TMP/resp" || { bad $n "unknown drive: $(cat "$TMP/resp")"; return; }
	step $n 400 PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$D/nope.img\"}" || return
	grep -q "Error manipulating the backing file: No such file or directory (os error 2) $D/nope.img Please verify" "$TMP/resp" || { bad $n "missing file: $(cat "$TMP/resp")"; return; }
	step $n 400 PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$TMP/outside/other.img\"}" || return
	grep -q "Permission denied (os error 13)" "$TMP/resp" || { bad $n "a file outside the disks' directory: $(cat "$TMP/resp")"; return; }
	t0=$(date +%s)
	step $n 204 PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$D/new.img\"}" || return
	t1=$(date +%s)
	step $n 200 GET /vm/config || return
	grep -q "\"path_on_host\":\"$D/new.img\"" "$TMP/resp" || { bad $n "GET /vm/config after the PATCH: $(cat "$TMP/resp")"; return; }
	if ! wait_for $n "GUEST-PATCH-WROTE" 120 "$pid"; then
		bad $n "the guest did not get through the swap"
		return
	fi
	i=0
	while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		bad $n "still running 60 s after the guest's poweroff"
		return
	fi
	wait $pid
	st=$?
	pid=
	o=$(tr -d '\r' <"$TMP/$n.out")
	s1=$(echo "$o" | sed -n 's/^GUEST-PATCH-OLD .*serial=\(.*\)/\1/p')
	s2=$(echo "$o" | sed -n 's/^GUEST-PATCH-NEW .*serial=\(.*\)/\1/p')
	if [ $st -ne 0 ]; then bad $n "exit status $st after the guest's poweroff, wanted 0"
	elif ! echo "$o" | grep -q "^GUEST-PATCH-OLD size=2048 head=OLD-DISK-CONTENT "; then bad $n "the guest did not see the old 1 MiB file"
	elif ! echo "$o" | grep -q "^GUEST-PATCH-NEW size=6144 head=NEW-DISK-HEAD-01 tail=NEW-DISK-TAIL-99 "; then bad $n "the guest did not see the new 3 MiB file: $(echo "$o" | grep GUEST-PATCH-NEW)"
	elif [ -z "$s2" ] || [ "$s1" = "$s2" ]; then bad $n "the serial did not change ($s1 -> $s2)"
	elif has $n GUEST-PATCH-WRITE-FAILED; then bad $n "the guest's write to the new file failed"
	elif [ "$(dd if="$D/new.img" bs=16 skip=32 count=1 2>/dev/null)" != WRITTEN-BY-GUEST ]; then bad $n "the guest's write is not in the new file"
	elif [ "$(dd if="$D/old.img" bs=16 skip=32 count=1 2>/dev/null | tr -d '\000')" != "" ]; then bad $n "the old file was written after the swap"
	else ok $n "PATCH answered in $((t1 - t0))s, the guest saw 2048 -> 6144 sectors"; fi
}
# api-serial: Firecracker's PUT /serial. mg-bench prints 300 lines of 64
# bytes on COM1: with serial_out_path a FIFO that nobody opens, the VM runs
# to its end (the FIFO opened without waiting for a reader); with a reader,
# the lines land there, none on stdout;
# then with a file and a rate_limiter of 2000 bytes (no refill to speak
# of), the file gets 1900-2100 of the 19200 bytes. PUT /serial after the
# start is refused.
api_serial() {
	n=api-serial
	[ -f "$MG/mg-bench.elf" ] || { bad $n "no mg-bench.elf (MG)"; return; }
	boot() { # OUT-NAME SERIAL-JSON
		rm -f "$S"
		"$CVMM" --api-socket "$S" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
		pid=$!
		i=0
		while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
		step $n 204 PUT /serial "$2" &&
			step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$MG/mg-bench.elf\", \"boot_args\": \"mg.case=console mg.n=300\"}" &&
			step $n 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' &&
			step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return 1
		step $n 400 PUT /serial '{}' || return 1
		i=0
		while [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
		kill -0 $pid 2>/dev/null && { bad $n "the guest did not end within 60 s"; return 1; }
		wait $pid
	}
	rm -f "$TMP/serial.fifo"
	mkfifo "$TMP/serial.fifo"
	# no reader at all: opening and writing must not wait for one
	boot api-serial-noreader "{\"serial_out_path\": \"$TMP/serial.fifo\"}" || return
	cat "$TMP/serial.fifo" >"$TMP/serial.got" &
	cpid=$!
	boot api-serial-fifo "{\"serial_out_path\": \"$TMP/serial.fifo\"}" || { kill $cpid 2>/dev/null; return; }
	wait $cpid
	got=$(grep -c '^MGB-LINE ' "$TMP/serial.got")
	if [ "$got" != 300 ] || grep -q MGB-LINE "$TMP/api-serial-fifo.out"; then
		bad $n "FIFO: $got lines of 300 there, $(grep -c MGB-LINE "$TMP/api-serial-fifo.out") on stdout"
		return
	fi
	: >"$TMP/serial.file"
	boot api-serial-limit "{\"serial_out_path\": \"$TMP/serial.file\", \"rate_limiter\": {\"size\": 2000, \"refill_time\": 100000000}}" || return
	size=$(wc -c <"$TMP/serial.file")
	if [ "$size" -lt 1900 ] || [ "$size" -gt 2100 ]; then
		bad $n "rate limited to 2000 bytes: the file has $size"
	else
		ok $n "a FIFO without a reader does not hold the VM; 300 lines into one with a reader, none on stdout; limited to 2000 bytes, the file has $size of 19200"
	fi
}
pid=
if selected api-firecracker-boot; then
	api_boot
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
fi
pid=
if [ -f "$KIT/stock-vmlinuz" ] && selected api-ctrl-alt-del; then
	api_cad
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
fi
pid=
if selected api-patch-drive; then
	api_patch
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
fi
pid=
if selected api-serial; then
	api_serial
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
