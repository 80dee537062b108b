#!/bin/sh
# The jailer (docs/jailer.md) with real guests, sourced by fc-cases.sh (its
# helpers: call, step, tap_up; FC's guest command line ARGS): cvmm-jailer
# started with the argv Kata's Go runtime and firecracker-go-sdk build
# (docs/managers.md), each jailing cvmm-static under the name `firecracker`
# (a link, as installed), each in a network namespace made here with its tap
# inside. Each manager's own steps around the launch are replayed too.
#  - fc-jailer-kata: Kata's jail root prepared as Kata does (root/run made,
#    the root a shared bind mount of itself, kernel, initrd, rootfs and
#    fcConfig.json bind-mounted in, a placeholder drive), then Kata's argv
#    (--uid 0 --gid 0 --chroot-base-dir --daemonize --netns -- --config-file
#    /fcConfig.json); the pid read from <root>/firecracker.pid as Kata
#    reads it; GET / over the
#    socket in the chroot until Running; the guest pings the host side of
#    the tap inside the namespace and sends 64 KiB over vsock to Kata's
#    hybrid socket in the chroot; from outside, the running cvmm's mount
#    namespace holds only the jail's root and what Kata mounted beneath it,
#    every thread has CapEff 0, seccomp on, NoNewPrivs; SendCtrlAltDel ends
#    it.
#  - fc-jailer-kata-pidns: the same with --new-pid-ns added (Kata does not
#    pass it): cvmm is PID 1 of its namespace (NSpid ends in 1).
#  - fc-jailer-go-sdk: the SDK's argv with cgroup v2 settings (memory.max,
#    pids.max, --cgroup-version 2 --parent-cgroup) and its default
#    `--no-seccomp --api-sock /run/firecracker.socket`; the jailer becomes
#    the VMM (the SDK waits on that pid); the SDK's socket probe, its hard
#    links of kernel, initrd and drives into the root (relative paths in
#    the API calls), its calls; the guest finds both disks and pings; from
#    outside: only the chroot's mount, uid 123, gid 100, CapEff 0, the
#    cgroup /fcsdk/ID with memory.max and pids.max read back, its
#    pids.current within them; SIGTERM as the SDK stops it: 143.
#  - fc-jailer-cgroup2: cgroup v2 limits enforced, shown with the stand-in
#    VMM (tests/tools/jailprobe, no guest): under pids.max=5 it forks 4
#    children, under memory.max=16M the OOM killer ends it (SIGKILL, 137,
#    memory.events oom_kill) before it has touched 64 MiB.
# env: as fc-cases.sh; ./cvmm-static, ./cvmm-jailer, ./vsocktool, ./jailprobe.
JAILER=${JAILER:-./cvmm-jailer}
FCBIN=$TMP/bin/firecracker
mkdir -p "$TMP/bin"
[ -x ./cvmm-static ] && ln -sf "$(readlink -f ./cvmm-static)" "$FCBIN"

gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"; }
# the mount points of PID's mount namespace as a whole (jailprobe enters it:
# /proc/PID/mountinfo shows only what is beneath PID's root), sorted, one line
mounts_of() { ./jailprobe --mounts-of "$1" | awk '{ print $5 }' | sort | tr '\n' ' '; }
# where ip put the namespace NAME (iproute2: /run/netns, older /var/run/netns)
nspath() { for d in /run/netns /var/run/netns; do [ -e "$d/$1" ] && echo "$d/$1" && return; done; }
netns_tap() { # ns tap hostip/24 [tuntap options]
	$IP netns add "$1" && $IP -n "$1" link set lo up &&
		$IP -n "$1" tuntap add dev "$2" mode tap $4 && $IP -n "$1" addr add "$3" dev "$2" &&
		$IP -n "$1" link set "$2" up
}

jailer_kata() { # name netns net(10.0.N.0/24) [--new-pid-ns]
	n=$1 ns=$2 net=$3 pidns=${4:-}
	id=jk$net
	base=$TMP/vc
	R=$base/firecracker/$id/root
	mkdir -p "$R/run"
	# Kata (fc.go fcRemountJailerRootWithExec, fcJailResource, createJailedDrive)
	mount -o bind "$R" "$R" || { bad $n "cannot bind-mount the root"; return; }
	mount --make-shared "$R" 2>/dev/null
	dd if=/dev/zero of="$TMP/$n.rootfs" bs=1048576 count=8 2>/dev/null
	cat >"$TMP/$n.json" <<EOF
{"boot-source": {"kernel_image_path": "/vmlinux", "initrd_path": "/initrd",
  "boot_args": "$ARGS cvmm.ip=10.0.$net.2/24 cvmm.peer=10.0.$net.1 cvmm.vsockport=7000"},
 "machine-config": {"smt": false, "mem_size_mib": 256, "vcpu_count": 1},
 "drives": [{"drive_id": "rootfs", "path_on_host": "/rootfs", "is_root_device": false, "is_read_only": true},
  {"drive_id": "drive_0", "path_on_host": "/drive_0", "is_root_device": false, "is_read_only": false, "cache_type": "Unsafe"}],
 "network-interfaces": [{"iface_id": "eth0", "guest_mac": "02:00:ca:fe:$net:02", "host_dev_name": "${ns}0",
  "rx_rate_limiter": {}, "tx_rate_limiter": {}}],
 "vsock": {"guest_cid": 3, "uds_path": "/kata.hvsock", "vsock_id": "root"}}
EOF
	for f in vmlinux:"$KIT/small-bzImage" initrd:"$KIT/guest.cpio.gz" rootfs:"$TMP/$n.rootfs" \
		fcConfig.json:"$TMP/$n.json"; do
		: >"$R/${f%%:*}"
		mount -o bind "${f#*:}" "$R/${f%%:*}" || { bad $n "cannot bind-mount ${f#*:}"; return; }
	done
	: >"$R/drive_0"
	netns_tap $ns ${ns}0 10.0.$net.1/24 || { bad $n "cannot make the netns and its tap"; return; }
	./vsocktool listen "unix:$R/kata.hvsock_7000" recv 65536 >"$TMP/$n.vsock" 2>&1 &
	vp=$!
	start=$(date +%s)
	"$JAILER" --id $id --exec-file "$FCBIN" --uid 0 --gid 0 --chroot-base-dir "$base" --daemonize \
		--netns "$(nspath $ns)" $pidns -- --config-file /fcConfig.json \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
	jst=$?
	[ $jst -eq 0 ] || { bad $n "the jailer's status $jst: $(cat "$TMP/$n.err")"; return; }
	# Kata: <root>/firecracker.pid, retried for 5 s
	i=0
	while [ $i -lt 50 ] && [ ! -s "$R/firecracker.pid" ]; do sleep 0.1; i=$((i + 1)); done
	jpid=$(cat "$R/firecracker.pid" 2>/dev/null)
	[ -n "$jpid" ] && [ -d "/proc/$jpid" ] || { bad $n "no live pid in firecracker.pid ('$jpid')"; return; }
	S=$R/run/firecracker.socket
	i=0
	while [ $i -lt 100 ]; do
		[ -S "$S" ] && [ "$(call "$S" GET /)" = 200 ] && grep -q '"state": *"Running"' "$TMP/resp" && break
		sleep 0.1
		i=$((i + 1))
	done
	grep -q '"state": *"Running"' "$TMP/resp" 2>/dev/null ||
		{ bad $n "GET / on $S never said Running: $(cat "$TMP/resp" 2>/dev/null)"; kill -KILL $jpid; return; }
	# while it runs, from outside
	mi=$(mounts_of $jpid)
	nspid=$(grep '^NSpid:' /proc/$jpid/status | tr -s '\t ' ' ')
	caps=$(cat /proc/$jpid/task/*/status | grep '^CapEff:' | sort -u | tr -s '\t ' ' ')
	nthr=$(ls /proc/$jpid/task | wc -l)
	sec=$(grep '^Seccomp:' /proc/$jpid/status | tr -s '\t ' ' ')
	nnp=$(grep '^NoNewPrivs:' /proc/$jpid/status | tr -s '\t ' ' ')
	uid=$(grep '^Uid:' /proc/$jpid/status | tr -s '\t ' ' ')
	ns_ok=0
	[ "$(readlink /proc/$jpid/ns/net)" = "net:[$(stat -L -c %i "$(nspath $ns)")]" ] && ns_ok=1
	# the guest: up when it answers a ping inside the namespace
	up=0 i=0
	while [ $i -lt 300 ] && ! gone $jpid; do
		$IP netns exec $ns ping -c 1 -W 1 10.0.$net.2 >/dev/null 2>&1 && { up=1; break; }
		i=$((i + 1))
	done
	wait $vp
	vst=$?
	step $n 204 "$S" PUT /actions '{"action_type": "SendCtrlAltDel"}' || { kill -KILL $jpid; return; }
	i=0
	while [ $i -lt 600 ] && ! gone $jpid; do sleep 0.2; i=$((i + 1)); done
	# the guest's own failure first: a guest that never came up does not
	# take Ctrl-Alt-Del either
	if [ $up -ne 1 ]; then bad $n "the guest never answered a ping in the namespace (in $(($(date +%s) - start)) s; cvmm $(gone $jpid && echo exited || echo still running): $(tail -c 300 "$TMP/$n.err" | tr '\n' ' ')"; kill -KILL $jpid 2>/dev/null
	elif ! gone $jpid; then bad $n "still running 120 s after SendCtrlAltDel"; kill -KILL $jpid
	elif [ "$mi" != "/ /fcConfig.json /initrd /rootfs /vmlinux " ]; then bad $n "mount points: $mi"
	elif [ -n "$pidns" ] && [ "$nspid" != "NSpid: $jpid 1" ]; then bad $n "not PID 1 of a new PID namespace: $nspid"
	elif [ -z "$pidns" ] && [ "$nspid" != "NSpid: $jpid" ]; then bad $n "in a PID namespace not asked for: $nspid"
	elif [ "$caps" != "CapEff: 0000000000000000" ]; then bad $n "capabilities of its $nthr threads: $caps"
	elif [ "$uid" != "Uid: 0 0 0 0" ]; then bad $n "ids: $uid"
	elif [ "$sec" != "Seccomp: 2" ] || [ "$nnp" != "NoNewPrivs: 1" ]; then bad $n "cvmm's own jail: $sec, $nnp"
	elif [ $ns_ok -ne 1 ]; then bad $n "not in the network namespace $ns"
	elif [ $vst -ne 0 ]; then bad $n "no 64 KiB from the guest on the vsock socket in the chroot: $(cat "$TMP/$n.vsock")"
	else ok $n "Kata's argv${pidns:+ + $pidns}: booted in $(($(date +%s) - start)) s, ping in netns $ns, vsock to /kata.hvsock_7000, mounts: $mi, $nspid, $nthr threads CapEff 0, seccomp on"; fi
}

jailer_sdk() {
	n=fc-jailer-go-sdk
	id=0f8fad5b-d9cb-469f-a165-70867728951f
	base=$TMP/srv
	R=$base/firecracker/$id/root
	mkdir -p "$base"
	# cgroup v2: the test host mounts none of its own
	grep -q ' cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup ||
		{ bad $n "cannot mount cgroup2"; return; }
	CGM=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	netns_tap fcjs fcjs0 10.0.44.1/24 "user 123 group 100" || { bad $n "cannot make the netns and its tap"; return; }
	start=$(date +%s)
	"$JAILER" --id $id --uid 123 --gid 100 --exec-file "$FCBIN" --cgroup memory.max=536870912 \
		--cgroup pids.max=64 --cgroup-version 2 --parent-cgroup fcsdk --chroot-base-dir "$base" \
		--netns "$(nspath fcjs)" -- --no-seccomp --api-sock /run/firecracker.socket \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	S=$R/run/firecracker.socket
	i=0
	until [ -S "$S" ] && [ "$(call "$S" GET /machine-config)" = 200 ]; do
		[ $i -ge 300 ] || ! kill -0 $pid 2>/dev/null &&
			{ bad $n "GET /machine-config never answered 200: $(cat "$TMP/$n.err")"; return; }
		sleep 0.01
		i=$((i + 1))
	done
	# the SDK's LinkFilesHandler: hard links into the root, then names
	# relative to it; the drives the VMM's user's (the SDK leaves that to
	# its user)
	cp "$KIT/small-bzImage" "$TMP/$n.vmlinux"
	cp "$KIT/guest.cpio.gz" "$TMP/$n.initrd"
	dd if=/dev/zero of="$TMP/$n.root.img" bs=1048576 count=8 2>/dev/null
	dd if=/dev/zero of="$TMP/$n.data.img" bs=1048576 count=4 2>/dev/null
	chown 123:100 "$TMP/$n.root.img" "$TMP/$n.data.img"
	ln "$TMP/$n.vmlinux" "$R/vmlinux" && ln "$TMP/$n.initrd" "$R/initrd.cpio.gz" &&
		ln "$TMP/$n.root.img" "$R/root.img" && ln "$TMP/$n.data.img" "$R/data.img" ||
		{ bad $n "cannot link the files into $R"; return; }
	step $n 204 "$S" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256, "smt": false}' || return
	step $n 200 "$S" GET /machine-config || return
	step $n 204 "$S" PUT /boot-source "{\"kernel_image_path\": \"vmlinux\", \"initrd_path\": \"initrd.cpio.gz\", \"boot_args\": \"$ARGS cvmm.ip=10.0.44.2/24 cvmm.peer=10.0.44.1\"}" || return
	step $n 204 "$S" PUT /drives/0 '{"drive_id": "0", "path_on_host": "data.img", "is_root_device": false, "is_read_only": false}' || return
	step $n 204 "$S" PUT /drives/root_drive '{"drive_id": "root_drive", "path_on_host": "root.img", "is_root_device": true, "is_read_only": false}' || return
	step $n 204 "$S" PUT /network-interfaces/1 '{"iface_id": "1", "guest_mac": "02:00:ca:fe:44:02", "host_dev_name": "fcjs0"}' || return
	step $n 204 "$S" PUT /actions '{"action_type": "InstanceStart"}' || return
	wait_for $n "GUEST-FC-UP" 300 "$pid" || { bad $n "the guest did not come up ($(($(date +%s) - start)) s)"; return; }
	mi=$(mounts_of $pid)
	ids=$(grep -E '^(Uid|Gid):' /proc/$pid/status | tr -s '\t ' ' ' | tr '\n' ';')
	caps=$(cat /proc/$pid/task/*/status | grep '^CapEff:' | sort -u | tr -s '\t ' ' ')
	cg=$(cat /proc/$pid/cgroup)
	C=$CGM/fcsdk/$id
	mem=$(cat "$C/memory.max" 2>/dev/null) pmax=$(cat "$C/pids.max" 2>/dev/null)
	pcur=$(cat "$C/pids.current" 2>/dev/null) nthr=$(ls /proc/$pid/task | wc -l)
	exe=$(readlink /proc/$pid/exe)
	kill -TERM $pid
	wait $pid
	st=$?
	pid=
	if [ $st -ne 143 ]; then bad $n "exit status $st after SIGTERM, wanted 143"
	elif [ "$mi" != "/ " ]; then bad $n "mount points: $mi"
	elif [ "$ids" != "Uid: 123 123 123 123;Gid: 100 100 100 100;" ]; then bad $n "ids: $ids"
	elif [ "$caps" != "CapEff: 0000000000000000" ]; then bad $n "capabilities: $caps"
	elif [ "$cg" != "0::/fcsdk/$id" ]; then bad $n "cgroup: $cg"
	elif [ "$mem" != 536870912 ] || [ "$pmax" != 64 ]; then bad $n "memory.max $mem, pids.max $pmax"
	elif [ -z "$pcur" ] || [ "$pcur" -lt "$nthr" ] || [ "$pcur" -gt 64 ]; then bad $n "pids.current $pcur for $nthr threads"
	elif ! has $n "GUEST-FC-DISKS vda vdb"; then bad $n "the guest's disks: $(grep GUEST-FC-DISKS "$TMP/$n.out")"
	elif ! has $n "GUEST-PING ok"; then bad $n "no ping over the tap in netns fcjs"
	else ok $n "the SDK's argv: booted, 2 disks, ping in netns fcjs; as 123:100, CapEff 0, only '/' mounted, exe $exe, cgroup $cg (memory.max $mem, pids.max $pmax, pids.current $pcur); SIGTERM -> 143"; fi
}

jailer_cgroup2() {
	n=fc-jailer-cgroup2
	grep -q ' cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup ||
		{ bad $n "cannot mount cgroup2"; return; }
	CGM=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	cp ./jailprobe "$TMP/bin/jailprobe"
	mkdir -p "$TMP/srv" # a base must exist (as Firecracker's jailer: /srv/jailer)
	"$JAILER" --id cg2 --exec-file "$TMP/bin/jailprobe" --uid 1000 --gid 1000 --chroot-base-dir "$TMP/srv" \
		--cgroup-version 2 --parent-cgroup fcsdk --cgroup memory.max=16777216 --cgroup pids.max=5 \
		-- forks alloc </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	oom=$(sed -n 's/^oom_kill //p' "$CGM/fcsdk/cg2/memory.events" 2>/dev/null)
	got=$(grep -E '^(forks|alloc):' "$TMP/$n.out" | tail -2 | tr '\n' ' ')
	if ! grep -q '^forks: 4$' "$TMP/$n.out"; then bad $n "pids.max=5 not enforced: $got"
	elif [ $st -ne 137 ] || grep -q '^alloc: done' "$TMP/$n.out"; then bad $n "memory.max=16M not enforced: status $st, $got"
	elif [ -z "$oom" ] || [ "$oom" -lt 1 ]; then bad $n "memory.events oom_kill '$oom'"
	else ok $n "pids.max=5: 4 children; memory.max=16M: OOM-killed after $got(status $st, oom_kill $oom)"; fi
}

jailer_cleanup() { # undo what the cases made (mounts, namespaces, cgroups)
	[ -n "${jpid:-}" ] && kill -KILL "$jpid" 2>/dev/null
	jpid=
	for m in $(awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	$IP netns del fcjk 2>/dev/null
	$IP netns del fcjp 2>/dev/null
	$IP netns del fcjs 2>/dev/null
	CGM=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$CGM" ] && rmdir "$CGM"/fcsdk/*/ "$CGM/fcsdk" 2>/dev/null
	rm -rf "$TMP/vc" "$TMP/srv"
}

for c in cgroup2 kata kata-pidns go-sdk; do
	if selected fc-jailer-$c; then
		if [ ! -x ./cvmm-static ] || [ ! -x "$JAILER" ] || [ ! -x ./jailprobe ]; then
			bad fc-jailer-$c "no ./cvmm-static, ./jailprobe or $JAILER in the test host"
			continue
		fi
		case $c in
		cgroup2) jailer_cgroup2 ;;
		kata) jailer_kata fc-jailer-kata fcjk 43 ;;
		kata-pidns) jailer_kata fc-jailer-kata-pidns fcjp 45 --new-pid-ns ;;
		go-sdk) jailer_sdk ;;
		esac
		finish_case
		jailer_cleanup
	fi
done
