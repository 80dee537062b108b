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
# env: CVMM, KIT, TMP, ONLY/SKIP; curl on PATH.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-api.$$}
. ./lib.sh
S=$TMP/api.sock

# call METHOD PATH [JSON]: prints the HTTP status; the body is in $TMP/resp
call() {
	curl -s --max-time 60 --unix-socket "$S" -X "$1" -o "$TMP/resp" -w '%{http_code}' \
		-H 'Accept: application/json' -H 'Content-Type: application/json' \
		${3:+--data "$3"} "http://localhost$2"
}
# step NAME WANTED METHOD PATH [JSON]: the call must answer WANTED
step() {
	n1=$1 w=$2
	shift 2
	got=$(call "$@")
	[ "$got" = "$w" ] && return 0
	bad "$n1" "$1 $2 answered $got, wanted $w: $(head -c 200 "$TMP/resp")"
	return 1
}
wait_for() { # name pattern seconds
	i=0
	while [ $i -lt $(($3 * 5)) ] && ! has "$1" "$2"; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
		i=$((i + 1))
	done
	has "$1" "$2"
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
	if ! wait_for $n "GUEST-TICK 2" 300; then
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
	wait_for $n "GUEST-TICK $((t2 + 2))" 30 || { bad $n "no ticks after the resume (last $t2)"; return; }
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
	if ! wait_for $n "GUEST-CAD-READY" 300; then
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
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
