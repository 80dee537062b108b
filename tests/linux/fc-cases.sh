#!/bin/sh
# cvmm as Firecracker (issue 19, docs/managers.md), run by cases.sh in a
# network namespace of its own as root: each manager's launch line, call
# order and bodies, taken from its sources (docs/firecracker-managers.md),
# replayed against cvmm run as `firecracker` (a link named so), booting the
# small kernel with a manager's command line (pci=off acpi=off reboot=k
# panic=1) over virtio-mmio; the guest (cvmm.test=fc in guest-job.sh) says
# what it found. Every call must get Firecracker's answer (2xx/4xx).
#  - fc-kata-go: Kata's Go runtime: `--version` parsed as Kata parses it,
#    then `--api-sock P --config-file F` with Kata's fcConfig.json (rootfs
#    read-only, 8 placeholder drives on empty files, a NIC with empty rate
#    limiters, vsock cid 3, logger and metrics FIFOs Kata opened for
#    reading first), GET / until Running, a hot-plug (PATCH /drives of a
#    placeholder to a file the guest then reads), then SendCtrlAltDel ends
#    the guest (i8042) and cvmm exits 0; both FIFOs got lines.
#  - fc-kata-rs: Kata's runtime-rs: `--api-sock`, PUT /boot-source as its
#    readiness probe, its drives (rootfs + drive1..drive5 on empty files),
#    vsock twice (the second replaces the first), a NIC, InstanceStart;
#    PATCH /drives with a null rate limiter; SIGKILL as Kata stops it.
#  - fc-go-sdk: firecracker-go-sdk's Machine.Start unjailed: `--api-sock P
#    --id UUID --no-seccomp`, GET /machine-config as the socket probe, the
#    logger and metrics FIFOs (PUT /logger, /metrics), machine-config (smt
#    false) and its GET, boot-source, drives "0" then root_drive, NIC "1",
#    vsock, InstanceStart; GET /; FlushMetrics; SIGTERM (the SDK forwards
#    it) ends cvmm: 143, the socket removed.
#  - fc-containerd: firecracker-containerd: a relative `--api-sock`, `--id`,
#    stub drives (512 bytes, base32 ids), one patched to a container image
#    the guest reads, then patched back to its stub by a relative path.
#  - fc-flintlock: flintlock's launch line (`--id UID --boot-timer --no-api
#    --config-file F --metadata M`) with a config file as flintlock writes it
#    (its "mmds-config" V1 on eth0): the guest reads its instance id from
#    MMDS as cloud-init would, boots and reboots; cvmm exits 0, no socket
#    made.
#  - fc-boot-timer: the micro-guest (mg.boottimer=1) writes the boot timer's
#    byte at 0xc0000000 under `--boot-timer --no-api --config-file`: cvmm
#    logs Firecracker's Guest-boot-time line and exits 0 at its power-off.
# env: CVMM, KIT (small-bzImage, guest.cpio.gz), MG (mg-check.elf), TMP,
# ONLY/SKIP; curl, IP.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
IP=${IP:-ip}
KIT=${KIT:-.}
MG=${MG:-.}
TMP=${TMP:-/tmp/cvmm-fc.$$}
. ./lib.sh
$IP link set lo up
FC=$TMP/firecracker
ln -sf "$(readlink -f "$CVMM")" "$FC"
# Firecracker's managers' guest command line (Kata's and the SDK's base)
ARGS="console=ttyS0 reboot=k panic=1 pci=off acpi=off quiet cvmm.test=fc"

# lib.sh's http and http_step, by the names used below
call() { http "$@"; }
step() { http_step "$@"; }
wait_sock() { # path: up to 10 s
	i=0
	while [ $i -lt 100 ] && [ ! -S "$1" ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$1" ]
}
wait_exit() { # seconds: $st is cvmm's status, 999 if it did not end
	i=0
	while [ $i -lt $(($1 * 5)) ] && kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then st=999; return 1; fi
	wait $pid
	st=$?
	pid=
	return 0
}
# image FILE: 1 MiB starting with the marker the guest reads back
image() {
	dd if=/dev/zero of="$1" bs=1048576 count=1 2>/dev/null
	printf 'cvmm-patched-drive-%s' "$2" | dd of="$1" conv=notrunc 2>/dev/null
}
finish_case() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; pid=; }

# ---- Kata, Go runtime -----------------------------------------------------
kata_go() {
	n=fc-kata-go
	d=$TMP/vc/fc/$n
	mkdir -p "$d/root/run"
	# Kata: `firecracker --version`, line 1, field 2, less a leading v,
	# a semantic version >= 0.21.1
	v=$("$FC" --version | head -1 | cut -d' ' -f2)
	v=${v#v}
	case "$v" in [1-9]*.[0-9]*.[0-9]*) ;; *) bad $n "--version's line 1, field 2: '$v'"; return ;; esac
	dd if=/dev/zero of="$d/root/rootfs.img" bs=1048576 count=8 2>/dev/null
	drives="{\"drive_id\": \"rootfs\", \"path_on_host\": \"$d/root/rootfs.img\", \"is_root_device\": false, \"is_read_only\": true}"
	for k in 0 1 2 3 4 5 6 7; do
		: >"$d/root/drive_$k"
		drives="$drives, {\"drive_id\": \"drive_$k\", \"path_on_host\": \"$d/root/drive_$k\", \"is_root_device\": false, \"is_read_only\": false, \"cache_type\": \"Unsafe\"}"
	done
	mkfifo "$d/root/logs.fifo" "$d/root/metrics.fifo"
	cat "$d/root/logs.fifo" >"$TMP/$n.log" &
	lp=$!
	cat "$d/root/metrics.fifo" >"$TMP/$n.metrics" &
	mp=$!
	cat >"$d/fcConfig.json" <<EOF
{"boot-source": {"kernel_image_path": "$KIT/small-bzImage", "initrd_path": "$KIT/guest.cpio.gz",
  "boot_args": "$ARGS cvmm.swap=vdb cvmm.ip=10.0.41.2/24 cvmm.peer=10.0.41.1 cvmm.vsockport=7000"},
 "machine-config": {"smt": false, "mem_size_mib": 256, "vcpu_count": 2},
 "drives": [$drives],
 "network-interfaces": [{"iface_id": "eth0", "guest_mac": "02:00:ca:fe:41:02", "host_dev_name": "fckg0",
  "rx_rate_limiter": {}, "tx_rate_limiter": {}}],
 "vsock": {"guest_cid": 3, "uds_path": "$d/root/kata.hvsock", "vsock_id": "root"},
 "logger": {"level": "Debug", "log_path": "$d/root/logs.fifo"},
 "metrics": {"metrics_path": "$d/root/metrics.fifo"}}
EOF
	./vsocktool listen "unix:$d/root/kata.hvsock_7000" recv 65536 >"$TMP/$n.vsock" 2>&1 &
	vp=$!
	tap_up fckg0 10.0.41.1/24
	S=$d/root/run/firecracker.socket
	start=$(date +%s)
	"$FC" --api-sock "$S" --config-file "$d/fcConfig.json" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	wait_sock "$S" || { bad $n "no API socket"; return; }
	# Kata: GET / until Running
	i=0
	while [ $i -lt 100 ]; do
		[ "$(call "$S" GET /)" = 200 ] && grep -q '"state": *"Running"' "$TMP/resp" && break
		sleep 0.1
		i=$((i + 1))
	done
	grep -q '"state": *"Running"' "$TMP/resp" || { bad $n "GET / never said Running: $(cat "$TMP/resp")"; return; }
	wait_for $n "GUEST-FC-SWAP-READY" 300 "$pid" || { bad $n "the guest did not come up ($(($(date +%s) - start)) s)"; return; }
	# hot-plug: the placeholder becomes a disk
	image "$TMP/$n.hot.img" kata
	step $n 204 "$S" PATCH /drives/drive_0 "{\"drive_id\": \"drive_0\", \"path_on_host\": \"$TMP/$n.hot.img\"}" || return
	wait_for $n "GUEST-FC-UP" 60 "$pid" || { bad $n "the guest did not see the hot-plugged drive"; return; }
	# the unplug Kata does: back to the placeholder
	step $n 204 "$S" PATCH /drives/drive_0 "{\"drive_id\": \"drive_0\", \"path_on_host\": \"$d/root/drive_0\"}" || return
	step $n 204 "$S" PUT /actions '{"action_type": "SendCtrlAltDel"}' || return
	wait_exit 120 || { bad $n "still running 120 s after SendCtrlAltDel ($(grep GUEST-KBD "$TMP/$n.out"))"; return; }
	wait $vp
	vst=$?
	sleep 1
	kill $lp $mp 2>/dev/null
	if [ $st -ne 0 ]; then bad $n "exit status $st after SendCtrlAltDel, wanted 0: $(tail -2 "$TMP/$n.err")"
	elif ! has $n "GUEST-KBD AT"; then bad $n "the guest found no keyboard: $(grep GUEST-KBD "$TMP/$n.out")"
	elif ! has $n "GUEST-FC-PCI 0"; then bad $n "pci=off, yet the guest found PCI devices"
	elif ! has $n "GUEST-FC-DISKS vda vdb vdc vdd vde vdf vdg vdh vdi"; then bad $n "the guest's disks: $(grep GUEST-FC-DISKS "$TMP/$n.out")"
	elif ! has $n "GUEST-PING ok"; then bad $n "no ping over the tap"
	elif ! has $n "GUEST-VSOCK 0" || [ $vst -ne 0 ]; then bad $n "vsock: guest $(grep GUEST-VSOCK "$TMP/$n.out"), host $vst"
	elif ! has $n "GUEST-FC-SWAPPED vdb 2048 cvmm-patched-drive-kata"; then bad $n "after PATCH /drives: $(grep GUEST-FC-SWAPPED "$TMP/$n.out")"
	elif ! grep -q . "$TMP/$n.log"; then bad $n "nothing in the logger FIFO"
	elif ! grep -q '"utc_timestamp_ms"' "$TMP/$n.metrics"; then bad $n "no metrics line in the metrics FIFO"
	elif [ -e "$S" ]; then bad $n "the socket was left behind"
	else ok $n "version $v, 9 drives over mmio, hot-plugged, Ctrl-Alt-Del after $(($(date +%s) - start)) s, $(wc -l <"$TMP/$n.log") log lines"; fi
}

# ---- Kata, runtime-rs -------------------------------------------------------
kata_rs() {
	n=fc-kata-rs
	d=$TMP/kata/$n
	mkdir -p "$d/run"
	S=$d/run/fc.sock
	"$FC" --api-sock "$S" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	dd if=/dev/zero of="$d/rootfs.img" bs=1048576 count=8 2>/dev/null
	# its readiness probe: PUT /boot-source, retried every 10 ms
	i=0
	while [ $i -lt 500 ]; do
		got=$(call "$S" PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"boot_args\": \"$ARGS cvmm.swap=vdb\"}" 2>/dev/null)
		[ "$got" = 204 ] && break
		sleep 0.01
		i=$((i + 1))
	done
	[ "$got" = 204 ] || { bad $n "PUT /boot-source never answered 204 (last: $got)"; return; }
	# (runtime-rs gives the initrd through the rootfs; here the kit's)
	step $n 204 "$S" PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"$ARGS cvmm.swap=vdb\"}" || return
	step $n 204 "$S" PUT /machine-config '{"mem_size_mib": 256, "vcpu_count": 1}' || return
	step $n 204 "$S" PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$d/rootfs.img\", \"is_root_device\": false, \"is_read_only\": true}" || return
	for k in 1 2 3 4 5; do
		: >"$d/drive$k"
		step $n 204 "$S" PUT /drives/drive$k "{\"drive_id\": \"drive$k\", \"path_on_host\": \"$d/drive$k\", \"is_root_device\": false, \"is_read_only\": false}" || return
	done
	step $n 204 "$S" PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$d/kata.hvsock\", \"vsock_id\": \"root\"}" || return
	step $n 204 "$S" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "guest_mac": null, "host_dev_name": "fckr0"}' || return
	step $n 204 "$S" PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$d/kata2.hvsock\", \"vsock_id\": \"root\"}" || return
	start=$(date +%s)
	step $n 204 "$S" PUT /actions '{"action_type": "InstanceStart"}' || return
	wait_for $n "GUEST-FC-SWAP-READY" 300 "$pid" || { bad $n "the guest did not come up ($(($(date +%s) - start)) s)"; return; }
	image "$TMP/$n.img" krs
	step $n 204 "$S" PATCH /drives/drive1 "{\"drive_id\": \"drive1\", \"path_on_host\": \"$TMP/$n.img\", \"rate_limiter\": null}" || return
	wait_for $n "GUEST-FC-UP" 60 "$pid" || { bad $n "the guest did not see the patched drive"; return; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	pid=
	if ! has $n "GUEST-FC-DISKS vda vdb vdc vdd vde vdf"; then bad $n "the guest's disks: $(grep GUEST-FC-DISKS "$TMP/$n.out")"
	elif ! has $n "GUEST-FC-SWAPPED vdb 2048 cvmm-patched-drive-krs"; then bad $n "after PATCH /drives: $(grep GUEST-FC-SWAPPED "$TMP/$n.out")"
	elif [ ! -S "$d/kata2.hvsock" ] || [ -e "$d/kata.hvsock" ]; then bad $n "the second PUT /vsock did not replace the first"
	else ok $n "6 drives, one patched, the second vsock the one served"; fi
}

# ---- firecracker-go-sdk -----------------------------------------------------
go_sdk() {
	n=fc-go-sdk
	d=$TMP/sdk
	mkdir -p "$d"
	S=$d/fc.sock
	id=0f8fad5b-d9cb-469f-a165-70867728950e
	"$FC" --api-sock "$S" --id $id --no-seccomp </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	# waitForSocket: the file, and GET /machine-config answering
	i=0
	until [ -S "$S" ] && [ "$(call "$S" GET /machine-config)" = 200 ]; do
		[ $i -ge 300 ] && { bad $n "GET /machine-config never answered 200"; return; }
		sleep 0.01
		i=$((i + 1))
	done
	mkfifo -m 0700 "$d/log.fifo" "$d/metrics.fifo"
	cat "$d/log.fifo" >"$TMP/$n.log" &
	lp=$!
	cat "$d/metrics.fifo" >"$TMP/$n.metrics" &
	mp=$!
	dd if=/dev/zero of="$d/root.img" bs=1048576 count=8 2>/dev/null
	dd if=/dev/zero of="$d/data.img" bs=1048576 count=4 2>/dev/null
	step $n 204 "$S" PUT /logger "{\"log_path\": \"$d/log.fifo\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": false}" || return
	step $n 204 "$S" PUT /metrics "{\"metrics_path\": \"$d/metrics.fifo\"}" || return
	step $n 204 "$S" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "smt": false}' || return
	step $n 200 "$S" GET /machine-config || return
	step $n 204 "$S" PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"$ARGS cvmm.ip=10.0.42.2/24 cvmm.peer=10.0.42.1\"}" || return
	step $n 204 "$S" PUT /drives/0 "{\"drive_id\": \"0\", \"path_on_host\": \"$d/data.img\", \"is_root_device\": false, \"is_read_only\": false}" || return
	step $n 204 "$S" PUT /drives/root_drive "{\"drive_id\": \"root_drive\", \"path_on_host\": \"$d/root.img\", \"is_root_device\": true, \"is_read_only\": false}" || return
	step $n 204 "$S" PUT /network-interfaces/1 '{"iface_id": "1", "guest_mac": "02:00:ca:fe:42:02", "host_dev_name": "fcsdk0"}' || return
	step $n 204 "$S" PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$d/v.sock\", \"vsock_id\": \"1\"}" || return
	tap_up fcsdk0 10.0.42.1/24
	start=$(date +%s)
	step $n 204 "$S" PUT /actions '{"action_type": "InstanceStart"}' || return
	step $n 200 "$S" GET / || return
	grep -q "\"id\": *\"$id\"" "$TMP/resp" || { bad $n "GET / does not carry the id: $(cat "$TMP/resp")"; return; }
	wait_for $n "GUEST-FC-UP" 300 "$pid" || { bad $n "the guest did not come up ($(($(date +%s) - start)) s)"; return; }
	step $n 204 "$S" PUT /actions '{"action_type": "FlushMetrics"}' || return
	kill -TERM $pid
	wait_exit 60 || { bad $n "still running 60 s after SIGTERM"; return; }
	sleep 1
	kill $lp $mp 2>/dev/null
	# the root drive is /dev/vda, the other one vdb
	if [ $st -ne 143 ]; then bad $n "exit status $st after SIGTERM, wanted 143"
	elif [ -e "$S" ]; then bad $n "the socket was left behind"
	elif ! has $n "GUEST-FC-DISKS vda vdb"; then bad $n "the guest's disks: $(grep GUEST-FC-DISKS "$TMP/$n.out")"
	elif ! has $n "GUEST-PING ok"; then bad $n "no ping over the tap"
	elif ! grep -q "DEBUG" "$TMP/$n.log"; then bad $n "no Debug line in the logger FIFO"
	elif [ "$(grep -c '"utc_timestamp_ms"' "$TMP/$n.metrics")" -lt 2 ]; then bad $n "metrics lines: $(grep -c utc_timestamp_ms "$TMP/$n.metrics"), wanted FlushMetrics' and the last"
	else ok $n "booted, pinged, flushed, SIGTERM -> 143 after $(($(date +%s) - start)) s ($(tr -d '\r' <"$TMP/$n.out" | grep -o 'GUEST-FC-T0 [0-9.]*\|GUEST-FC-UP [0-9.]*' | tr '\n' ' '))"; fi
}

# ---- firecracker-containerd -------------------------------------------------
containerd() {
	n=fc-containerd
	d=$TMP/fcc/shim
	mkdir -p "$d"
	id=fcc-$$
	dd if=/dev/zero of="$d/root.img" bs=1048576 count=8 2>/dev/null
	# stub drives: a few bytes, padded to 512; ids: base32 of the file name
	printf 'stub0' | dd of="$d/ctrstub0" bs=512 conv=sync 2>/dev/null
	printf 'stub1' | dd of="$d/ctrstub1" bs=512 conv=sync 2>/dev/null
	s0=MN2HE43UOVRDA # base32("ctrstub0"), no padding
	s1=MN2HE43UOVRDC # base32("ctrstub1")
	(cd "$TMP/fcc" && exec "$FC" --api-sock shim/firecracker.sock --id $id </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err") &
	pid=$!
	S=$d/firecracker.sock
	i=0
	until [ -S "$S" ] && [ "$(call "$S" GET /machine-config)" = 200 ]; do
		[ $i -ge 300 ] && { bad $n "GET /machine-config never answered 200"; return; }
		sleep 0.01
		i=$((i + 1))
	done
	step $n 204 "$S" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256, "smt": false}' || return
	step $n 204 "$S" PUT /boot-source "{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"$ARGS cvmm.swap=vdb\"}" || return
	step $n 204 "$S" PUT /drives/root_drive "{\"drive_id\": \"root_drive\", \"path_on_host\": \"$d/root.img\", \"is_root_device\": true, \"is_read_only\": false}" || return
	step $n 204 "$S" PUT /drives/$s0 "{\"drive_id\": \"$s0\", \"path_on_host\": \"$d/ctrstub0\", \"is_root_device\": false, \"is_read_only\": false}" || return
	step $n 204 "$S" PUT /drives/$s1 "{\"drive_id\": \"$s1\", \"path_on_host\": \"$d/ctrstub1\", \"is_root_device\": false, \"is_read_only\": false}" || return
	start=$(date +%s)
	step $n 204 "$S" PUT /actions '{"action_type": "InstanceStart"}' || return
	wait_for $n "GUEST-FC-SWAP-READY vdb 1" 300 "$pid" || { bad $n "the guest did not come up ($(($(date +%s) - start)) s)"; return; }
	# a container's image on the first stub
	image "$d/image0.img" fcc
	step $n 204 "$S" PATCH /drives/$s0 "{\"drive_id\": \"$s0\", \"path_on_host\": \"$d/image0.img\"}" || return
	wait_for $n "GUEST-FC-UP" 60 "$pid" || { bad $n "the guest did not see the patched stub"; return; }
	# released: back to its stub, by the path relative to cvmm's directory
	step $n 204 "$S" PATCH /drives/$s0 "{\"drive_id\": \"$s0\", \"path_on_host\": \"shim/ctrstub0\"}" || return
	step $n 400 "$S" PATCH /drives/nosuchdrive '{"drive_id": "nosuchdrive", "path_on_host": "shim/ctrstub0"}' || return
	kill -TERM $pid
	wait_exit 60 || { bad $n "still running 60 s after SIGTERM"; return; }
	if ! has $n "GUEST-FC-SWAPPED vdb 2048 cvmm-patched-drive-fcc"; then bad $n "after PATCH /drives: $(grep GUEST-FC-SWAPPED "$TMP/$n.out")"
	elif [ $st -ne 143 ]; then bad $n "exit status $st after SIGTERM, wanted 143"
	else ok $n "relative socket, stub patched to an image and back"; fi
}

# ---- flintlock --------------------------------------------------------------
flintlock() {
	n=fc-flintlock
	d=$TMP/flintlock/ns/vm1
	mkdir -p "$d"
	dd if=/dev/zero of="$d/root.img" bs=1048576 count=8 2>/dev/null
	cat >"$d/firecracker.cfg" <<EOF
{"boot-source": {"kernel_image_path": "$KIT/small-bzImage", "initrd_path": "$KIT/guest.cpio.gz",
  "boot_args": "$ARGS cvmm.fcend=reboot cvmm.ip=10.0.7.2/24 cvmm.peer=10.0.7.1 cvmm.mmds=latest/meta-data/instance-id"},
 "drives": [{"drive_id": "root", "path_on_host": "$d/root.img", "is_root_device": true,
  "is_read_only": false, "cache_type": "Unsafe"}],
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256, "smt": false, "track_dirty_pages": false},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "fcfl0", "guest_mac": "02:00:ca:fe:43:02"}],
 "mmds-config": {"version": "V1", "network_interfaces": ["eth0"]}}
EOF
	cat >"$d/metadata.json" <<EOF
{"latest": {"meta-data": {"instance-id": "ns/vm1", "local-hostname": "vm1"},
  "user-data": "#cloud-config\nhostname: vm1\n"}}
EOF
	tap_up fcfl0 10.0.7.1/24
	start=$(date +%s)
	(cd "$d" && exec "$FC" --id 4ff0dd4e-6c1d-4fbb-8bbd-1ab8e3e5a0c7 --boot-timer --no-api \
		--config-file "$d/firecracker.cfg" --metadata "$d/metadata.json" </dev/null \
		>"$TMP/$n.out" 2>"$TMP/$n.err") &
	pid=$!
	wait_exit 300 || { bad $n "still running after 300 s"; return; }
	if [ $st -ne 0 ]; then bad $n "exit status $st after the guest's reboot, wanted 0: $(tail -2 "$TMP/$n.err")"
	elif ! has $n "GUEST-FC-UP"; then bad $n "the guest did not come up"
	elif [ -e /run/firecracker.socket ]; then bad $n "--no-api, yet a socket was made"
	elif ! has $n "GUEST-FC-MMDS ns/vm1"; then
		bad $n "MMDS: $(tr -d '\r' <"$TMP/$n.out" | grep GUEST-FC-MMDS)"
	else ok $n "booted, read MMDS, rebooted, exit 0 after $(($(date +%s) - start)) s"; fi
}

# ---- the boot timer -----------------------------------------------------------
boot_timer() {
	n=fc-boot-timer
	printf '{"boot-source": {"kernel_image_path": "%s/mg-check.elf", "boot_args": "mg.boottimer=1"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "drives": []}' "$MG" >"$TMP/$n.json"
	"$FC" --boot-timer --no-api --config-file "$TMP/$n.json" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	wait_exit 60 || { bad $n "still running after 60 s"; return; }
	if [ $st -ne 0 ]; then bad $n "exit status $st, wanted 0: $(tail -2 "$TMP/$n.err")"
	elif ! has $n "MG PASS boottimer"; then bad $n "the micro-guest did not write the byte"
	elif ! grep -q "Guest-boot-time = *[0-9]* us [0-9]* ms, *[0-9]* CPU us [0-9]* CPU ms" "$TMP/$n.err"; then
		bad $n "no Guest-boot-time line: $(head -c 300 "$TMP/$n.err")"
	else ok $n "$(grep -o 'Guest-boot-time = .*' "$TMP/$n.err" | head -1)"; fi
}

pid=
for c in kata-go kata-rs go-sdk containerd flintlock boot-timer; do
	if selected fc-$c; then
		case $c in
		kata-go) kata_go ;;
		kata-rs) kata_rs ;;
		go-sdk) go_sdk ;;
		containerd) containerd ;;
		flintlock) flintlock ;;
		boot-timer) boot_timer ;;
		esac
		finish_case
	fi
done
# the jailer with Kata's and the SDK's argv (fc-jailer-*)
. ./jailer-cases.sh
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
