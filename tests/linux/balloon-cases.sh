#!/bin/sh
# virtio-balloon with Debian's kernel (virtio_balloon), run by cases.sh.
# The measure is cvmm's own resident memory (VmRSS), read from here.
# balloon-inflate: a guest booted through the API (stats every second, no
#   deflate-on-oom) touches 96 MiB and frees it; PATCH /balloon 64 MiB: the
#   guest's MemTotal drops by 64 MiB, the driver says it holds 64 MiB and
#   cvmm's RSS drops by at least 50 MiB.
# balloon-stats: meanwhile GET /balloon/statistics, asked every 0.5 s,
#   changes about once a second; after PATCH /balloon/statistics 3, about
#   once every 3 s.
# balloon-deflate: PATCH /balloon 0: MemTotal comes back and the guest fills
#   32 MiB more than it could while inflated; the metrics' balloon group
#   counted the inflation and the deflation.
# balloon-snapshot: that VM paused, snapshotted and restored in a new
#   cvmm: its balloon settings come back, statistics go on, and a new
#   target of 16 MiB is met.
# balloon-report: --balloon 0,free-page-reporting over virtio-mmio: the
#   guest fills 96 MiB and frees it; cvmm's RSS drops by at least 64 MiB
#   within 20 s (the driver reports free 2 MiB blocks after 2 s).
# env: CVMM, KIT, TMP, ONLY/SKIP; curl on PATH.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-balloon.$$}
. ./lib.sh
S=$TMP/api.sock

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
call() { http "$S" "$@"; }
step() {
	n2=$1 w2=$2
	shift 2
	http_step "$n2" "$w2" "$S" "$@"
}
# a field of the last answer ($TMP/resp)
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$TMP/resp"; }
# The metrics' balloon stats_updates_count since the previous line: a
# FlushMetrics, then its last line's count in $u_cnt, the uptime then
# (centiseconds) in $t_up
up() { cut -d' ' -f1 /proc/uptime | tr -d .; }
updates() {
	call PUT /actions '{"action_type": "FlushMetrics"}' >/dev/null
	t_up=$(up)
	u_cnt=$(tail -1 "$TMP/metrics.json" | grep -o '"balloon":{[^}]*}' |
		sed -n 's/.*"stats_updates_count":\([0-9]*\).*/\1/p')
}
# within C T S: C updates in T centiseconds at one per S seconds: T / S,
# give or take one (where the window starts and ends)
within() {
	want=$(($2 / ($3 * 100)))
	[ -n "$1" ] && [ "$1" -ge $((want - 1)) ] && [ "$1" -le $((want + 1)) ]
}

inflate() {
	n=balloon-inflate
	start=$(date +%s)
	"$CVMM" --api-socket "$S" --snapshot-dir "$TMP" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	step $n 204 PUT /metrics "{\"metrics_path\": \"$TMP/metrics.json\"}" || return
	step $n 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' || return
	step $n 204 PUT /boot-source "{\"kernel_image_path\": \"$KIT/stock-vmlinuz\", \"initrd_path\": \"$KIT/stock-guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=balloon cvmm.balloon=inflate\"}" || return
	step $n 400 PUT /balloon '{"amount_mib": 257, "deflate_on_oom": false}' || return
	step $n 204 PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}' || return
	step $n 204 PUT /actions '{"action_type": "InstanceStart"}' || return
	if ! wait_for $n "GUEST-BALLOON-FREED" 300 "$pid"; then
		bad $n "the guest did not come up (after $(($(date +%s) - start))s)"
		return
	fi
	has $n GUEST-BALLOON-NODEV && { bad $n "the guest has no virtio_balloon device"; return; }
	sleep 2
	r0=$(rss $pid)
	step $n 204 PATCH /balloon '{"amount_mib": 64}' || return
	wait_for $n "GUEST-BALLOON-INFLATED" 180 "$pid" || { bad $n "the guest's MemTotal did not drop"; return; }
	i=0
	while [ $i -lt 60 ]; do
		call GET /balloon/statistics >/dev/null
		[ "$(field actual_mib)" = 64 ] && break
		sleep 0.5
		i=$((i + 1))
	done
	[ "$(field actual_mib)" = 64 ] || { bad $n "actual_mib is not 64: $(cat "$TMP/resp")"; return; }
	sleep 1
	r1=$(rss $pid)
	drop=$(((r0 - r1) / 1024))
	if [ "$drop" -ge 50 ]; then
		ok $n "RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB (-$drop MiB) for 64 MiB inflated"
	else
		bad $n "RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB: dropped $drop MiB, wanted 50"
	fi
	n=balloon-stats
	if selected $n; then
		grep -q '"total_memory":[0-9]' "$TMP/resp" && grep -q '"target_mib":64' "$TMP/resp" ||
			{ bad $n "GET /balloon/statistics: $(cat "$TMP/resp")"; }
		# the values change between two calls 2 s apart
		v1=$(field minor_faults)
		sleep 2.5
		call GET /balloon/statistics >/dev/null
		v2=$(field minor_faults)
		updates
		t0=$t_up
		sleep 8
		updates
		c1=$u_cnt t1=$((t_up - t0))
		step $n 204 PATCH /balloon/statistics '{"stats_polling_interval_s": 3}' &&
			step $n 400 PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' && {
			sleep 3 # the 1 s timer gives way at once: a partial interval here
			updates
			t0=$t_up
			sleep 15
			updates
			c3=$u_cnt t3=$((t_up - t0))
			m="minor_faults $v1 -> $v2 in 2.5 s; $c1 updates in $((t1 / 100)).$((t1 % 100)) s at 1 s, $c3 in $((t3 / 100)).$((t3 % 100)) s at 3 s"
			if [ -n "$v1" ] && [ "$v1" != "$v2" ] && within "$c1" "$t1" 1 && within "$c3" "$t3" 3; then
				ok $n "$m"
			else
				bad $n "$m"
			fi
		}
	fi
	n=balloon-deflate
	step $n 204 PATCH /balloon '{"amount_mib": 0}' || return
	wait_for balloon-inflate "GUEST-BALLOON-USE" 180 "$pid" ||
		{ bad $n "the guest's MemTotal did not come back: $(grep GUEST-BALLOON "$TMP/balloon-inflate.out" | tail -2 | tr '\n' ' ')"; return; }
	step $n 204 PUT /actions '{"action_type": "FlushMetrics"}' || return
	# counts since the line before: the inflation's and the deflation's
	# are in some line each
	groups=$(grep -o '"balloon":{[^}]*}' "$TMP/metrics.json")
	line="inflate_count $(echo "$groups" | sed -n 's/.*"inflate_count":\([0-9]*\).*/\1/p' | tr '\n' +)0, deflate_count $(echo "$groups" | sed -n 's/.*"deflate_count":\([0-9]*\).*/\1/p' | tr '\n' +)0"
	if ! has balloon-inflate "GUEST-BALLOON-USED"; then
		bad $n "the guest could not use the memory: $(grep GUEST-BALLOON "$TMP/balloon-inflate.out" | tail -3 | tr '\n' ' ')"
	elif ! echo "$groups" | grep -q '"inflate_count":[1-9]' || ! echo "$groups" | grep -q '"deflate_count":[1-9]'; then
		bad $n "metrics: $line"
	else
		ok $n "$(grep -o 'GUEST-BALLOON-INFLATED.*' "$TMP/balloon-inflate.out" | tr -d '\r'), $(grep -o 'GUEST-BALLOON-USED [0-9]*' "$TMP/balloon-inflate.out") MiB filled after the deflation; metrics: $line"
	fi
	n=balloon-snapshot
	selected $n || return
	# paused, snapshotted, killed; a new cvmm loads it: the balloon's
	# settings come back, the statistics go on, a new target is met
	step $n 204 PATCH /vm '{"state": "Paused"}' || return
	step $n 204 PUT /snapshot/create "{\"snapshot_path\": \"$TMP/bstate\", \"mem_file_path\": \"$TMP/bmem\"}" || return
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	rm -f "$S"
	"$CVMM" --api-socket "$S" --snapshot-dir "$TMP" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	step $n 204 PUT /snapshot/load "{\"snapshot_path\": \"$TMP/bstate\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$TMP/bmem\"}, \"resume_vm\": true}" || return
	step $n 200 GET /balloon || return
	grep -q '"amount_mib":0,"deflate_on_oom":false,"stats_polling_interval_s":3' "$TMP/resp" ||
		{ bad $n "GET /balloon after the load: $(cat "$TMP/resp")"; return; }
	step $n 200 GET /balloon/statistics || return
	v1=$(field minor_faults) v2=$v1 t0=$(up)
	# a restored guest is slow at first (its memory faults in from the
	# file): up to 30 s for its next statistics
	while [ "$v2" = "$v1" ] && [ $(($(up) - t0)) -lt 3000 ]; do
		sleep 0.5
		call GET /balloon/statistics >/dev/null
		v2=$(field minor_faults)
	done
	t1=$(($(up) - t0))
	step $n 204 PATCH /balloon '{"amount_mib": 16}' || return
	i=0
	while [ $i -lt 60 ]; do
		call GET /balloon/statistics >/dev/null
		[ "$(field actual_mib)" = 16 ] && break
		sleep 0.5
		i=$((i + 1))
	done
	if [ -z "$v1" ] || [ "$v1" = "$v2" ]; then bad $n "statistics did not go on after the load: $v1 -> $v2 in 30 s; actual_mib $(field actual_mib) after PATCH 16"
	elif [ "$(field actual_mib)" != 16 ]; then bad $n "the restored guest did not inflate: $(cat "$TMP/resp")"
	else ok $n "restored: minor_faults $v1 -> $v2 in $((t1 / 100)).$((t1 % 100)) s, 16 MiB inflated"; fi
}

report() {
	n=balloon-report
	start=$(date +%s)
	"$CVMM" --kernel "$KIT/stock-vmlinuz" --initrd "$KIT/stock-guest.cpio.gz" --cpus 2 --memory 256M \
		--transport mmio --balloon 0,free-page-reporting \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=balloon cvmm.balloon=report" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	if ! wait_for $n "GUEST-BALLOON-FILLED" 300 "$pid"; then
		bad $n "the guest did not come up (after $(($(date +%s) - start))s)"
		return
	fi
	has $n GUEST-BALLOON-NODEV && { bad $n "the guest has no virtio_balloon device"; return; }
	sleep 1
	r0=$(rss $pid)
	wait_for $n "GUEST-BALLOON-FREED" 30 "$pid" || { bad $n "the guest did not free its memory"; return; }
	t0=$(date +%s)
	i=0 r1=$r0
	while [ $i -lt 100 ] && [ $((r0 - r1)) -lt $((64 * 1024)) ]; do
		sleep 0.2
		r1=$(rss $pid)
		i=$((i + 1))
	done
	drop=$(((r0 - r1) / 1024))
	if [ "$drop" -ge 64 ]; then
		ok $n "RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB (-$drop MiB) $(($(date +%s) - t0)) s after 96 MiB freed"
	else
		bad $n "RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB: dropped $drop MiB in 20 s, wanted 64"
	fi
}

if selected balloon-inflate || selected balloon-stats || selected balloon-deflate ||
	selected balloon-snapshot; then
	inflate
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
fi
if selected balloon-report; then
	report
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
