#!/bin/sh
# MMDS, the guest's metadata service (issue 21, docs/api.md), run by
# cases.sh in a network namespace of its own as root. Two small guests
# (cvmm.test=mmds in guest-job.sh), each with a NIC on a tap:
#   VM 1 (V1): cvmm --api-socket configured with Firecracker's calls (PUT
#   /network-interfaces, /mmds/config, /mmds, InstanceStart):
#   mmds-v1            busybox wget reads the IMDS listing, the JSON form
#                      (Accept: application/json) and a leaf
#   mmds-patch         PATCH /mmds on the host while the guest runs: the
#                      guest's next GETs see the new value
#   mmds-other-traffic the guest pings the host's tap address: frames for
#                      other addresses still reach the tap
#   VM 2 (V2): Firecracker's command line (--no-api --config-file with
#   "mmds-config", --metadata FILE):
#   mmds-v2-token      PUT /latest/api/token, then a GET with the token
#   mmds-v2-401        a GET without a token and one with an expired token
#                      (TTL 1 s) get 401
#   mmds-flood         malformed frames at the MMDS address (mmdsflood:
#                      raw frames over AF_PACKET) in two rounds: cvmm keeps
#                      running, its RSS grows less than FLOOD_SLACK_KB over
#                      the second round, MMDS and the tap still answer
# env: CVMM, KIT (small-bzImage, guest.cpio.gz), TMP, ONLY/SKIP; curl, ip.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
IP=${IP:-ip}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-mmds.$$}
. ./lib.sh
$IP link set lo up
FLOOD1=${FLOOD1:-5000}
FLOOD2=${FLOOD2:-20000}
FLOOD_SLACK_KB=${FLOOD_SLACK_KB:-256}
# verdicts for the selected cases only (one guest serves several)
sok() { selected "$1" || return 0; ok "$@"; }
sbad() { selected "$1" || return 0; bad "$@"; }
gline() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/^$2 //p" | head -1; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
mktap() { # name addr/len
	$IP tuntap add dev "$1" mode tap
	echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6" 2>/dev/null
	$IP addr add "$2" dev "$1"
	$IP link set "$1" up
}
DOC='{"latest": {"meta-data": {"hostname": "vm-one", "ami-id": "ami-0cvmm", "network": {"mac": "06:00:00:00:00:01"}}}}'

# ---- VM 1: V1 over cvmm's own API socket ------------------------------------------
v1() {
	n=mmds-v1
	S=$TMP/v1.sock
	mktap mmt1 10.0.8.1/24
	"$CVMM" --api-socket "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
	http_step $n 204 "$S" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' &&
		http_step $n 204 "$S" PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=mmds cvmm.ver=1 cvmm.ip=10.0.8.2/24 cvmm.peer=10.0.8.1\"}" &&
		http_step $n 204 "$S" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "mmt1"}' &&
		http_step $n 204 "$S" PUT /mmds/config '{"network_interfaces": ["eth0"], "version": "V1"}' &&
		http_step $n 204 "$S" PUT /mmds "$DOC" &&
		http_step $n 204 "$S" PUT /actions '{"action_type": "InstanceStart"}' || {
		kill $pid
		wait $pid
		sbad mmds-patch "VM 1 did not start"
		sbad mmds-other-traffic "VM 1 did not start"
		$IP link del mmt1
		return
	}
	if ! wait_for $n GUEST-MMDS-WAIT-PATCH 300 $pid; then
		sbad $n "the guest did not read MMDS (status: $(kill -0 $pid 2>/dev/null && echo running || echo exited))"
	else
		list=$(gline $n GUEST-MMDS-LIST) json=$(gline $n GUEST-MMDS-JSON) host=$(gline $n GUEST-MMDS-HOSTNAME)
		if [ "$list" != "ami-id,hostname,network/" ]; then sbad $n "the listing: '$list'"
		elif [ "$json" != '{"ami-id":"ami-0cvmm","hostname":"vm-one","network":{"mac":"06:00:00:00:00:01"}}' ]; then
			sbad $n "the JSON form: '$json'"
		elif [ "$host" != vm-one ]; then sbad $n "the leaf: '$host'"
		else sok $n "listing, JSON and a leaf read with busybox wget"; fi
	fi
	if has $n GUEST-MMDS-WAIT-PATCH; then
		# the host's view first (the guest powers off once it saw the change)
		if ! http_step mmds-patch 204 "$S" PATCH /mmds '{"latest": {"meta-data": {"hostname": "vm-patched"}}}'; then :
		elif ! http_step mmds-patch 200 "$S" GET /mmds; then :
		elif ! grep -q '"hostname":"vm-patched"' "$TMP/resp"; then sbad mmds-patch "GET /mmds: $(cat "$TMP/resp")"
		elif ! wait_for $n GUEST-MMDS-PATCHED 180 $pid; then sbad mmds-patch "the guest never saw a change"
		elif [ "$(gline $n GUEST-MMDS-PATCHED)" != vm-patched ]; then
			sbad mmds-patch "the guest saw '$(gline $n GUEST-MMDS-PATCHED)'"
		else sok mmds-patch "the guest's next GET saw the host's PATCH"; fi
	else
		sbad mmds-patch "the guest did not get that far"
	fi
	if has $n "GUEST-PING ok"; then sok mmds-other-traffic "the guest pinged the tap's host"
	else sbad mmds-other-traffic "the guest's ping of the tap's host failed"; fi
	i=0
	while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	kill $pid 2>/dev/null
	wait $pid
	$IP link del mmt1 2>/dev/null
}

# ---- VM 2: V2 from Firecracker's command line; the flood ---------------------------
v2() {
	n=mmds-v2-token
	mktap mmt2 10.0.9.1/24
	printf '%s\n' "$DOC" >"$TMP/meta.json"
	cat >"$TMP/v2.json" <<EOF
{"boot-source": {"kernel_image_path": "$KIT/small-bzImage", "initrd_path": "$KIT/guest.cpio.gz",
  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off acpi=off quiet cvmm.test=mmds cvmm.ver=2 cvmm.ip=10.0.9.2/24 cvmm.peer=10.0.9.1 cvmm.flood1=$FLOOD1 cvmm.flood2=$FLOOD2"},
 "drives": [],
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "mmt2"}],
 "mmds-config": {"version": "V2", "network_interfaces": ["eth0"]}}
EOF
	"$CVMM" --no-api --config-file "$TMP/v2.json" --metadata "$TMP/meta.json" </dev/null \
		>"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	if ! wait_for $n GUEST-MMDS-V2-EXPIRED 300 $pid; then
		sbad $n "the guest did not get through V2 (status: $(kill -0 $pid 2>/dev/null && echo running || echo exited))"
		sbad mmds-v2-401 "the guest did not get through V2"
		sbad mmds-flood "the guest did not get that far"
		kill $pid 2>/dev/null
		wait $pid
		$IP link del mmt2 2>/dev/null
		return
	fi
	got=$(gline $n GUEST-MMDS-V2-GET) tl=$(gline $n GUEST-MMDS-TOKEN-LEN)
	if [ "$got" = vm-one ]; then sok $n "a token ($tl characters), then the GET with it: '$got'"
	else sbad $n "GET with the token ($tl characters): '$got'"; fi
	nt=$(gline $n GUEST-MMDS-V2-NOTOKEN) ex=$(gline $n GUEST-MMDS-V2-EXPIRED)
	case "$nt|$ex" in
	"HTTP/1.1 401 Unauthorized|HTTP/1.1 401 Unauthorized") sok mmds-v2-401 "no token: 401, an expired token: 401" ;;
	*) sbad mmds-v2-401 "no token: '$nt', an expired token: '$ex'" ;;
	esac
	n2=mmds-flood
	if ! wait_for $n GUEST-MMDS-FLOOD2-START 300 $pid; then
		sbad $n2 "the first round did not end: $(gline $n GUEST-MMDS-FLOOD1)"
	else
		r1=$(rss_kb $pid)
		wait_for $n GUEST-MMDS-FLOOD2-DONE 300 $pid
		r2=$(rss_kb $pid)
		wait_for $n GUEST-PING2 120 $pid
		after=$(gline $n GUEST-MMDS-AFTER) f1=$(gline $n GUEST-MMDS-FLOOD1) f2=$(gline $n GUEST-MMDS-FLOOD2)
		what="$f1 then $f2, RSS ${r1} -> ${r2} KiB"
		if [ -z "$r1" ] || [ -z "$r2" ]; then sbad $n2 "cvmm did not survive the flood ($what)"
		elif [ $((r2 - r1)) -gt "$FLOOD_SLACK_KB" ]; then sbad $n2 "RSS grew in the second round ($what)"
		elif [ "$after" != vm-one ]; then sbad $n2 "MMDS after the flood: '$after' ($what)"
		elif ! has $n "GUEST-PING2 ok"; then sbad $n2 "the tap after the flood: $(gline $n GUEST-PING2) ($what)"
		else sok $n2 "$what: cvmm runs, MMDS and the tap answer"; fi
	fi
	i=0
	while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	kill $pid 2>/dev/null
	wait $pid
	$IP link del mmt2 2>/dev/null
}

if selected mmds-v1 || selected mmds-patch || selected mmds-other-traffic; then v1; fi
if selected mmds-v2-token || selected mmds-v2-401 || selected mmds-flood; then v2; fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
