#!/bin/sh
# The control socket, run by cases.sh: cvmm --api-socket driven with curl
# in the order a Firecracker client sends (PUT /machine-config,
# /boot-source, /drives/rootfs, /actions InstanceStart), booting the small
# kernel (cvmm.test=api in guest-job.sh). Then GET / (Running), PATCH /vm
# Paused (GET / says Paused and the guest's once-a-second tick stops for 3
# s), Resumed (the ticks go on), pre-boot calls refused after the start,
# and SendCtrlAltDel: the ACPI power button, which the guest sees as an
# ACPI event (acpievent) and answers with poweroff; cvmm exits 0.
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
	step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	step $n 200 GET / || return
	grep -q '"state": "Running"' "$TMP/resp" || { bad $n "GET / after the start: $(cat "$TMP/resp")"; return; }
	if ! wait_for $n "ACPIEVENT READY" 300 || ! wait_for $n "GUEST-TICK 2" 30; then
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
	# the power button: the guest powers off, cvmm exits 0
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
	if [ $st -ne 0 ]; then bad $n "exit status $st after the power button, wanted 0"
	elif ! has $n "ACPIEVENT button/power PNP0C0C:00 0x80"; then bad $n "no power-button event in the guest"
	elif ! has $n "GUEST-API-DISK 32768"; then bad $n "the guest did not see the 16 MiB root drive"
	elif [ -e "$S" ]; then bad $n "the socket was left behind"
	else ok $n "paused at tick $t1, powered off $(($(date +%s) - start))s after start"; fi
}
pid=
if selected api-firecracker-boot; then
	api_boot
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
