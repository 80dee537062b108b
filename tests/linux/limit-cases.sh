#!/bin/sh
# Rate limiters (docs/rate-limiters.md), run by cases.sh in a network
# namespace of its own as root. Every case measures what got through, in
# the guest (fio, its NIC's counters) or on the host (the tap's counters),
# and wants it within [0.8, 1.1] of the limit. Two guests (Debian's kernel
# with fio for the disk, the small kernel for the NIC;
# tests/linux/limit-job.sh):
#   limit-api-errors  before the start: a malformed rate_limiter is a 400
#                     naming the field, PATCH /drives and PATCH
#                     /network-interfaces are refused (not before the start)
#   limit-blk-iops    a disk PUT through the API with 50 IOPS (5 ops per
#                     100 ms; the nested guest reads 300 to 1100 a second
#                     unlimited, as the machine's load goes):
#                     fio 4k random reads for 3 s; the metrics'
#                     rate_limiter_throttled_events counted the waits
#   limit-blk-patch   PATCH /drives to 100 IOPS on the running VM: fio
#                     measures 100 (and at least 1.5 times the first)
#   limit-blk-bw      PATCH: no ops limit, 2 MiB/s (256 KiB per 125 ms):
#                     fio 64k sequential reads
#   limit-blk-burst   PATCH: 25 IOPS (5 per 200 ms) with a one-time burst
#                     of 300: the first 300 reads go at more than 3 times
#                     the limit, then 25 IOPS
#   limit-net-rx      --net ...,rx-bw=128K:125 (1 MiB/s), tx-bw=256K:125
#                     (2 MiB/s): the host streams to the guest, whose eth0
#                     counts 1 MiB/s
#   limit-net-tx      the guest streams to the host, whose tap counts 2 MiB/s
# env: CVMM, KIT (stock-vmlinuz, limit-guest.cpio.gz with fio, small-bzImage,
# limit-net.cpio.gz), TMP, ONLY/SKIP; curl, ip, nc.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
IP=${IP:-ip}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-limit.$$}
. ./lib.sh
$IP link set lo up
S=$TMP/api.sock
step() {
	n2=$1 w2=$2
	shift 2
	http_step "$n2" "$w2" "$S" "$@"
}
gline() { tr -d '\r' <"$TMP/$1.out" | grep "^$2" | tail -1; }
# within LO HI VALUE: LO <= VALUE <= HI (integers)
within() { [ -n "$3" ] && [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }
# /proc/uptime in hundredths of a second
now() { sed 's/^\([0-9]*\)\.\([0-9]*\) .*/\1\2/' /proc/uptime; }
# a case of guest $n failed: its console and stderr go with the verdict
nbad() {
	cp "$TMP/$n.out" "$TMP/$1.out" 2>/dev/null
	cp "$TMP/$n.err" "$TMP/$1.err" 2>/dev/null
	bad "$@"
}
pids=""
cleanup() { [ -n "$pids" ] && kill -KILL $pids 2>/dev/null && wait $pids 2>/dev/null; pids=""; }
trap cleanup EXIT

# ---- the disk: through Firecracker's API -------------------------------------
api_errors() { # on the socket S of a VM not started
	e=limit-api-errors
	lim="\"drive_id\": \"lim\", \"path_on_host\": \"$TMP/lim.img\", \"is_root_device\": false"
	step $e 400 PUT /drives/lim "{$lim, \"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 100}}}" || return
	grep -q "'rate_limiter': 'ops': 'size' must be an integer" "$TMP/resp" || { bad $e "a negative size: $(cat "$TMP/resp")"; return; }
	step $e 400 PUT /drives/lim "{$lim, \"rate_limiter\": {\"ops\": {\"size\": 5}}}" || return
	grep -q "'refill_time' is required" "$TMP/resp" || { bad $e "no refill_time: $(cat "$TMP/resp")"; return; }
	step $e 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "t0", "rx_rate_limiter": {"bw": {}}}' || return
	grep -q "'rx_rate_limiter': 'bw' is an unknown field" "$TMP/resp" || { bad $e "an unknown bucket: $(cat "$TMP/resp")"; return; }
	step $e 400 PATCH /drives/lim '{"drive_id": "lim", "rate_limiter": {}}' || return
	grep -q "not supported before starting" "$TMP/resp" || { bad $e "PATCH /drives: $(cat "$TMP/resp")"; return; }
	step $e 400 PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {}}' || return
	grep -q "not supported before starting" "$TMP/resp" || { bad $e "PATCH /network-interfaces: $(cat "$TMP/resp")"; return; }
	ok $e "malformed limiters and PATCH before the start refused, each saying why"
}
blk_cases() {
	n=limit-blk
	dd if=/dev/zero of="$TMP/lim.img" bs=1 count=0 seek=64M 2>/dev/null
	dd if=/dev/zero of="$TMP/mb.img" bs=65536 count=1 2>/dev/null
	"$CVMM" --log-level trace --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	pids=$pid
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	selected limit-api-errors && api_errors
	step $n 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 384}' &&
		step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/stock-vmlinuz\", \"initrd_path\": \"$KIT/limit-guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=limit-blk\"}" &&
		step $n 204 PUT /drives/lim "{\"drive_id\": \"lim\", \"path_on_host\": \"$TMP/lim.img\", \"is_root_device\": false, \"is_read_only\": true, \"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 100}}}" &&
		step $n 204 PUT /drives/mb "{\"drive_id\": \"mb\", \"path_on_host\": \"$TMP/mb.img\", \"is_root_device\": false, \"is_read_only\": true}" &&
		step $n 204 PUT /metrics "{\"metrics_path\": \"$TMP/metrics.json\"}" &&
		step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	# phase 1: 50 IOPS as PUT
	if ! wait_for $n "GUEST-LIMIT-PHASE 1" 300 $pid; then
		nbad limit-blk-iops "the guest did not come up"
		return
	fi
	go 1
	c=limit-blk-iops
	wait_for $n "GUEST-FIO iops" 120 $pid
	set -- $(gline $n "GUEST-FIO iops")
	iops1=$3
	step $c 204 PUT /actions '{"action_type": "FlushMetrics"}'
	thr=$(tr -d ' \n' <"$TMP/metrics.json" | grep -o '"block_lim":{[^}]*}' | tail -1 |
		sed -n 's/.*"rate_limiter_throttled_events":\([0-9]*\).*/\1/p')
	if ! within 40 55 "$iops1"; then
		nbad $c "fio measured ${iops1:-nothing} IOPS, the limit is 50: $(gline $n GUEST-FIO)"
	elif ! [ "${thr:-0}" -gt 0 ]; then
		nbad $c "the metrics counted no throttled event: $(tail -c 400 "$TMP/metrics.json")"
	else
		ok $c "$iops1 IOPS (limit 50), $thr throttled events"
	fi
	# phase 2: PATCH to 100 IOPS
	c=limit-blk-patch
	wait_for $n "GUEST-LIMIT-PHASE 2" 60 $pid &&
		step $c 204 PATCH /drives/lim '{"drive_id": "lim", "rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}' &&
		step $c 200 GET /vm/config && grep -q '"ops":{"size":10,"refill_time":100}' "$TMP/resp" ||
		{ nbad $c "PATCH /drives or GET /vm/config: $(head -c 300 "$TMP/resp")"; }
	go 2
	wait_for $n "GUEST-FIO patch" 120 $pid
	set -- $(gline $n "GUEST-FIO patch")
	iops2=$3
	if ! within 80 110 "$iops2"; then
		nbad $c "fio measured ${iops2:-nothing} IOPS after the PATCH to 100 (before: $iops1)"
	elif [ $((iops2 * 10)) -lt $((${iops1:-0} * 15)) ]; then
		nbad $c "$iops2 IOPS after the PATCH, $iops1 before: not the change"
	else
		ok $c "$iops1 IOPS, PATCH to 100: $iops2 IOPS"
	fi
	# phase 3: 2 MiB/s, no ops limit
	c=limit-blk-bw
	wait_for $n "GUEST-LIMIT-PHASE 3" 60 $pid &&
		step $c 204 PATCH /drives/lim '{"drive_id": "lim", "rate_limiter": {"ops": {"size": 0, "refill_time": 0}, "bandwidth": {"size": 262144, "refill_time": 125}}}'
	go 3
	wait_for $n "GUEST-FIO bw" 120 $pid
	set -- $(gline $n "GUEST-FIO bw")
	kib=$4
	if within 1638 2253 "$kib"; then
		ok $c "$kib KiB/s (limit 2048), 64k reads at $3 IOPS"
	else
		nbad $c "fio measured ${kib:-nothing} KiB/s, the limit is 2048: $(gline $n 'GUEST-FIO bw')"
	fi
	# phase 4: 25 IOPS with a one-time burst of 300
	c=limit-blk-burst
	wait_for $n "GUEST-LIMIT-PHASE 4" 60 $pid &&
		step $c 204 PATCH /drives/lim '{"drive_id": "lim", "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}, "ops": {"size": 5, "one_time_burst": 300, "refill_time": 200}}}'
	go 4
	wait_for $n "GUEST-FIO after" 120 $pid
	set -- $(gline $n "GUEST-FIO burst")
	burst=$3 bms=$5
	set -- $(gline $n "GUEST-FIO after")
	after=$3
	if [ -z "$burst" ] || [ "$burst" -le 75 ]; then
		nbad $c "the burst's 300 reads went at ${burst:-no} IOPS (${bms:-?} ms): not above 3 times the limit (25)"
	elif ! within 20 27 "$after"; then
		nbad $c "after the burst fio measured ${after:-nothing} IOPS, the limit is 25"
	else
		ok $c "300 reads of burst at $burst IOPS ($bms ms), then $after IOPS (limit 25)"
	fi
	wait_for $n GUEST-LIMIT-DONE 60 $pid
	wait $pid
	pids=""
	echo "    limit-blk: $(grep -c 'rate limiter:' "$TMP/$n.err") waits, $(grep -c 'timer:' "$TMP/$n.err") timer ends"
}
# the mailbox: "go N" at the start of the guest's /dev/vdb
go() { printf 'go %s' "$1" | dd of="$TMP/mb.img" conv=notrunc 2>/dev/null; }

if selected limit-api-errors || selected limit-blk-iops || selected limit-blk-patch ||
	selected limit-blk-bw || selected limit-blk-burst; then
	blk_cases
	cleanup
fi

# ---- the NIC: through the command line ------------------------------------------
tapbytes() { # ifname: what the tap received from cvmm (the guest's TX), bytes
	sed 's/:/: /' /proc/net/dev | awk -v i="$1:" '$1 == i { print $2 }'
}
if selected limit-net-rx || selected limit-net-tx; then
	n=limit-net fails0=$fail
	$IP tuntap add dev limt0 mode tap
	echo 1 >/proc/sys/net/ipv6/conf/limt0/disable_ipv6 2>/dev/null
	$IP addr add 10.0.7.1/24 dev limt0
	$IP link set limt0 up
	# the guest's TX stream lands here (busybox nc quits when its stdin
	# ends: a fifo held open)
	rm -f "$TMP/hold"
	mkfifo "$TMP/hold"
	timeout 300 nc -l -p 5002 <"$TMP/hold" >/dev/null 2>&1 &
	lpid=$!
	exec 4>"$TMP/hold"
	timeout 300 "$CVMM" --log-level trace --kernel "$KIT/small-bzImage" --initrd "$KIT/limit-net.cpio.gz" \
		--memory 128M --net limt0,rx-bw=128K:125,tx-bw=256K:125 \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=limit-net cvmm.ip=10.0.7.2/24 cvmm.peer=10.0.7.1" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	pids=$pid
	if wait_for $n GUEST-LIMIT-RX-READY 300 $pid; then
		timeout 60 nc 10.0.7.2 5001 </dev/zero >/dev/null 2>&1 &
		spid=$!
		wait_for $n "GUEST-LIMIT-RX " 90 $pid
		kill $spid 2>/dev/null
		l=$(gline $n "GUEST-LIMIT-RX ")
		b=$(echo "$l" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
		cs=$(echo "$l" | sed -n 's/.*cs=\([0-9]*\).*/\1/p')
		rate=$([ -n "$b" ] && [ "${cs:-0}" -gt 0 ] && echo $((b * 100 / cs)))
		if within 838861 1153434 "$rate"; then
			ok limit-net-rx "the guest received $rate B/s (limit 1048576; TX limited to twice that)"
		else
			nbad limit-net-rx "the guest received ${rate:-nothing} B/s, the limit is 1048576: $l; the tap: $(grep limt0 /proc/net/dev)"
		fi
		if wait_for $n GUEST-LIMIT-TX-STARTED 60 $pid; then
			sleep 1
			b0=$(tapbytes limt0) t0=$(now)
			sleep 3
			b1=$(tapbytes limt0) t1=$(now)
			rate=$(((b1 - b0) * 100 / (t1 - t0)))
			if within 1677722 2306867 "$rate"; then
				ok limit-net-tx "the tap received $rate B/s from the guest (limit 2097152; RX limited to half)"
			else
				nbad limit-net-tx "the tap received $rate B/s from the guest, the limit is 2097152"
			fi
		else
			nbad limit-net-tx "the guest's stream did not start"
		fi
	else
		nbad limit-net-rx "the guest did not come up"
		nbad limit-net-tx "the guest did not come up"
	fi
	wait_for $n GUEST-LIMIT-DONE 60 $pid
	wait $pid
	pids=""
	kill $lpid 2>/dev/null
	exec 4>&-
	echo "    limit-net: $(grep -c 'rate limiter:' "$TMP/$n.err") waits, $(grep -c 'timer:' "$TMP/$n.err") timer ends"
	# a failure: cvmm's last lines (its limiters' waits and timers: trace)
	[ $fail -gt $fails0 ] && grep -v '^$' "$TMP/$n.err" | tail -25 | sed 's/^/    ! /'
	$IP link del limt0
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
