#!/bin/sh
# Snapshot and restore (issue 23, docs/snapshot.md), run by cases.sh in a
# network namespace of its own as root. One Linux guest (cvmm.test=snap in
# guest-job.sh) with 2 vCPUs, a disk, a NIC on a tap and vsock, in the
# middle of work: a counter writing each count to its own block of the
# disk (flushed), a vsock listener. Cases:
#   snap-create        PATCH /vm Paused, PUT /snapshot/create: 204, a state
#                      file and a sparse memory file; then cvmm is killed
#                      (SIGKILL)
#   snap-restore-file  `cvmm --restore DIR,mem=file`: the counter goes on
#                      from where it was (no reboot), its later counts land
#                      on the disk, the host pings the guest, and a new vsock
#                      connection to the guest's listener works; a TCP
#                      connection the host made to the guest before the
#                      snapshot carries on (a line each way)
#   snap-restore-lazy  the same through Firecracker's PUT /snapshot/load
#                      with cvmm's own lazy loader (backend_type "Lazy")
#   snap-realtime      PUT /snapshot/load with clock_realtime: the guest's
#                      uptime jumps by the snapshot's age (at least 15 s)
#   snap-restore-uffd  the same through PUT /snapshot/load with backend_type
#                      "Uffd": an external handler (uffdhandler, Firecracker's
#                      protocol) serves the faults; killed, the VM ends with
#                      an error naming it, within 60 s, instead of hanging
#   snap-resnapshot    a restored VM snapshotted again into the memory
#                      file it was restored from (still its memory): the
#                      guest counts on, the snapshot restores and counts on;
#                      the API of the restored VM knows its devices
#                      (GET /vm/config, PATCH /drives, the new snapshot's
#                      configuration);
#                      that file as the state file, and one file for both,
#                      refused; a Diff without dirty tracking is taken
#   snap-diff          a VM tracking dirty pages: a full snapshot, more work,
#                      a diff snapshot (its memory file a fraction of the
#                      full one's), the diff merged onto the full one
#                      (cvmm --snapshot-merge): the restore counts on from the
#                      diff's count
#   snap-clones        4 VMs restored at once from the snapshot, each with
#                      its own tap, vsock socket and disk copy: each counts on
#                      and answers on its own vsock socket; each got its own
#                      VM generation ID (cvmm's log) and its guest's vmgenid
#                      driver saw the change (the kernel's "virtual machine
#                      fork" reseed)
#   snap-pit           a micro-guest that uses the PIT: saved, killed,
#                      restored with its PIT, its guest echoes on
#   snap-hugetlb-uffd  a guest on 2 MiB huge pages: a File load refused,
#                      through Uffd (2 MiB pages) it ticks on
#   snap-refused       a corrupt, a truncated, another architecture's and a
#                      newer format's state file: cvmm exits 1 naming each
# env: CVMM, KIT (small-bzImage, guest.cpio.gz), MG (mg-check.elf), TMP, ONLY/SKIP; curl, ip,
# ping, vsocktool, snaptool.
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-snap.$$}
. ./lib.sh
ip link set lo up
D=$TMP/snap
mkdir -p "$D"
GIP=10.0.9.2
HIP=10.0.9.1
# the transport of the snapshotted VM (SNAP_TRANSPORT: pci or mmio)
TRANSPORT=${SNAP_TRANSPORT:+--transport $SNAP_TRANSPORT}
wait_sock() { i=0; while [ $i -lt 100 ] && [ ! -S "$1" ]; do sleep 0.1; i=$((i + 1)); done; }
pids=""
# the VMs killed and reaped: their taps are gone before the next takes
# the name (an address added to a dying tap would go with it)
cleanup() {
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null && wait $pids 2>/dev/null
	pids=""
	[ "${1:-}" = exit ] && tcp_close
	# the kernel unregisters a tap after its last descriptor closed, not
	# at once: wait until it is gone (at most 10 s)
	i=0
	while [ $i -lt 100 ] && ip link show dev snap0 >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
}
trap 'cleanup exit' EXIT

# last_count NAME: the last count the guest printed in $TMP/NAME.out
last_count() { tr -d '\r' <"$TMP/$1.out" | sed -n 's/^GUEST-COUNT \([0-9]*\)$/\1/p' | tail -1; }
first_count() { tr -d '\r' <"$TMP/$1.out" | sed -n 's/^GUEST-COUNT \([0-9]*\)$/\1/p' | head -1; }
# block DISK N: what block N of DISK holds
block() { dd if="$1" bs=512 skip="$2" count=1 2>/dev/null | head -c 19; }
# goes_on NAME BEFORE DISK [PID]: the restored guest NAME counts on from
# BEFORE (no reboot), three more counts, each on DISK; sets $why otherwise
goes_on() {
	why=""
	if ! wait_for "$1" "GUEST-COUNT $(($2 + 3))" 240 $4; then
		why="no count past $(last_count "$1") (wanted $(($2 + 3)), the snapshot's was $2)"
	elif has "$1" GUEST-SNAP-READY; then
		why="the guest started over"
	elif f=$(first_count "$1") && { [ "$f" -lt "$2" ] || [ "$f" -gt $(($2 + 2)) ]; }; then
		why="the first count after the restore is $f, the snapshot's was $2"
	else
		for k in $(($2 + 1)) $(($2 + 2)) $(($2 + 3)); do
			got=$(block "$3" $k)
			[ "$got" = "$(printf 'cvmm-count-%08d' $k)" ] || why="block $k holds '$got'"
		done
	fi
	[ -z "$why" ]
}
# talks NAME SOCK: a new vsock connection to the guest's listener (64 KiB)
talks() { VSOCKTOOL_TIMEOUT=120 vsocktool connect "fc:$2:5000" recv 65536 >"$TMP/$1.vsock" 2>&1; }
# A TCP connection to the guest's echo listener (port 6000) made before the
# snapshot and used again after the first restore: the host's end lives on
# while cvmm is killed and restored (lines in through a fifo kept open,
# answers in $TMP/tcp.out). tcp_say LINE: sends LINE, waits up to 60 s for
# "echo LINE".
TCPPIDS=""
tcp_open() {
	rm -f "$TMP/tcp.in" "$TMP/tcp.out"
	mkfifo "$TMP/tcp.in"
	sleep 100000 >"$TMP/tcp.in" &
	TCPPIDS=$!
	busybox nc $GIP 6000 <"$TMP/tcp.in" >"$TMP/tcp.out" 2>&1 &
	TCPPIDS="$TCPPIDS $!"
}
tcp_say() {
	echo "$1" >"$TMP/tcp.in"
	i=0
	while [ $i -lt 600 ] && ! grep -qx "echo $1" "$TMP/tcp.out" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	grep -qx "echo $1" "$TMP/tcp.out" 2>/dev/null
}
tcp_close() { [ -n "$TCPPIDS" ] && kill $TCPPIDS 2>/dev/null; TCPPIDS=""; }

# ---- the guest, at work, snapshotted -------------------------------------
n=snap-create
DISK=$TMP/disk.img
dd if=/dev/zero of="$DISK" bs=1M count=8 2>/dev/null
A=$TMP/api.sock
V=$TMP/v.sock
made=0
if selected snap-create || selected snap-restore-file || selected snap-restore-lazy ||
	selected snap-restore-uffd || selected snap-realtime || selected snap-resnapshot ||
	selected snap-clones || selected snap-refused; then
	tap_up snap0 $HIP/24
	"$CVMM" --api-socket "$A" --snapshot-dir "$D" $TRANSPORT </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	pids=$pid
	wait_sock "$A"
	boot="console=ttyS0 quiet panic=-1 cvmm.test=snap cvmm.ip=$GIP/24 cvmm.peer=$HIP"
	started=0
	http_step $n 204 "$A" PUT /boot-source \
		"{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"$boot\"}" &&
		http_step $n 204 "$A" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' &&
		http_step $n 204 "$A" PUT /drives/data \
			"{\"drive_id\": \"data\", \"path_on_host\": \"$DISK\", \"is_root_device\": false, \"is_read_only\": false}" &&
		http_step $n 204 "$A" PUT /network-interfaces/eth0 \
			'{"iface_id": "eth0", "host_dev_name": "snap0"}' &&
		http_step $n 204 "$A" PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$V\"}" &&
		http_step $n 204 "$A" PUT /actions '{"action_type": "InstanceStart"}' && started=1
	if [ $started -ne 1 ]; then
		: # a call failed: said so
	elif ! wait_for $n GUEST-SNAP-READY 300 $pid || ! wait_for $n "GUEST-COUNT 3" 120 $pid; then
		bad $n "the guest never got to work"
	elif ! ping -c 2 -W 10 $GIP >/dev/null 2>&1; then
		bad $n "the guest does not answer ping before the snapshot"
	elif ! talks $n "$V"; then
		bad $n "no vsock connection before the snapshot: $(tail -2 "$TMP/$n.vsock")"
	elif ! tcp_open || ! tcp_say before-snapshot; then
		bad $n "no TCP echo before the snapshot: $(tail -c 200 "$TMP/tcp.out" 2>/dev/null)"
	elif http_step $n 204 "$A" PATCH /vm '{"state": "Paused"}' &&
		http_step $n 204 "$A" PUT /snapshot/create \
			"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D/state\", \"mem_file_path\": \"$D/memory\"}"; then
		BEFORE=$(last_count $n)
		cleanup
		msize=$(stat -c %s "$D/memory" 2>/dev/null)
		mused=$(($(stat -c %b "$D/memory" 2>/dev/null || echo 0) * 512))
		if [ ! -s "$D/state" ] || [ "${msize:-0}" -ne $((256 << 20)) ]; then
			bad $n "files: state $(stat -c %s "$D/state" 2>/dev/null), memory $msize bytes"
		elif [ "$mused" -ge "$msize" ]; then
			bad $n "the memory file is not sparse ($mused of $msize bytes allocated)"
		else
			made=1
			cp "$DISK" "$D/disk.img" # the disk as the snapshot left it, for the clones
			ok $n "at count $BEFORE: state $(stat -c %s "$D/state") B, memory $((mused >> 20)) of $((msize >> 20)) MiB"
		fi
	fi
	cleanup
fi

# ---- restores ---------------------------------------------------------------
# restored NAME [tcp]: checks the restored guest of $pid (disk $DISK, vsock
# $V; with tcp, the TCP connection of before the snapshot)
restored() {
	if ! goes_on "$1" "$BEFORE" "$DISK" "$pids"; then
		bad "$1" "$why"
	elif ! ping -c 3 -W 10 $GIP >"$TMP/$1.ping" 2>&1; then
		bad "$1" "the host cannot ping the restored guest: $(tail -2 "$TMP/$1.ping" | tr '\n' ' ') tap: $(ip addr show dev snap0 2>&1 | tr -s ' \n' ' ')"
	elif ! talks "$1" "$V"; then
		bad "$1" "no new vsock connection: $(tail -2 "$TMP/$1.vsock")"
	elif [ "${2:-}" = tcp ] && ! tcp_say after-restore; then
		bad "$1" "the TCP connection made before the snapshot does not carry on: host got '$(tail -c 100 "$TMP/tcp.out" | tr '\n' ' ')', guest got '$(grep GUEST-TCP "$TMP/$1.out" | tr -d '\r' | tr '\n' ' ')'"
	else
		ok "$1" "counts on from $BEFORE (first $(first_count "$1")), disk written, ping and vsock answer${2:+, the TCP connection of before the snapshot carries on}"
	fi
}
n=snap-restore-file
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		tap_up snap0 $HIP/24
		"$CVMM" --restore "$D,mem=file" --api-socket "$A" --log-level debug </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pids=$!
		restored $n tcp
		tcp_close
		cleanup
	fi
fi
n=snap-restore-lazy
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		tap_up snap0 $HIP/24
		rm -f "$A"
		"$CVMM" --api-socket "$A" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pids=$!
		wait_sock "$A"
		if http_step $n 204 "$A" PUT /snapshot/load \
			"{\"snapshot_path\": \"$D/state\", \"mem_backend\": {\"backend_type\": \"Lazy\", \"backend_path\": \"$D/memory\"}, \"resume_vm\": true, \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"snap0\"}]}"; then
			restored $n
		fi
		cleanup
	fi
fi

# Firecracker's clock_realtime: the restored guest's clock (kvmclock) moves
# on by the wall-clock time since the snapshot, at least 15 s here, where a
# plain restore goes on from the snapshot's moment
n=snap-realtime
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		tap_up snap0 $HIP/24
		rm -f "$A"
		age=$(($(date +%s) - $(stat -c %Y "$D/state")))
		[ $age -lt 15 ] && sleep $((15 - age))
		"$CVMM" --api-socket "$A" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pids=$!
		vpid=$!
		wait_sock "$A"
		age=$(($(date +%s) - $(stat -c %Y "$D/state")))
		if http_step $n 204 "$A" PUT /snapshot/load \
			"{\"snapshot_path\": \"$D/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$D/memory\"}, \"resume_vm\": true, \"clock_realtime\": true}"; then
			# the guest's uptime: its last line before the snapshot, its first after
			u0=$(tr -d '\r' <"$TMP/snap-create.out" | sed -n 's/^GUEST-UP //p' | tail -1)
			if ! goes_on $n "$BEFORE" "$DISK" $vpid; then bad $n "$why"
			else
				u1=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/^GUEST-UP //p' | head -1)
				jump=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.1f", b - a }')
				if [ -z "$u0" ] || [ -z "$u1" ] || ! awk -v j="$jump" -v w="$age" 'BEGIN { exit !(j >= w - 1) }'; then
					bad $n "the guest's uptime went $u0 -> $u1 s across a snapshot $age s old: wanted a jump of at least $((age - 1)) s"
				else ok $n "the guest's uptime jumped $jump s across a snapshot $age s old (uptime $u0 -> $u1), and it counts on"; fi
			fi
		fi
		cleanup
	fi
fi

n=snap-restore-uffd
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		tap_up snap0 $HIP/24
		rm -f "$A" "$TMP/uffd.sock"
		uffdhandler "$TMP/uffd.sock" "$D/memory" >"$TMP/$n.handler" 2>&1 &
		hpid=$!
		"$CVMM" --api-socket "$A" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pids="$! $hpid"
		vpid=$!
		wait_sock "$A"
		wait_sock "$TMP/uffd.sock"
		if http_step $n 204 "$A" PUT /snapshot/load \
			"{\"snapshot_path\": \"$D/state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$TMP/uffd.sock\"}, \"resume_vm\": true}"; then
			if ! goes_on $n "$BEFORE" "$DISK" $vpid; then bad $n "$why"
			elif ! ping -c 3 -W 10 $GIP >/dev/null 2>&1; then bad $n "the host cannot ping the restored guest"
			elif ! talks $n "$V"; then bad $n "no new vsock connection: $(tail -2 "$TMP/$n.vsock")"
			else
				# the handler dies: the VM must end, saying why
				kill -KILL $hpid
				i=0
				while [ $i -lt 300 ] && kill -0 $vpid 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
				if kill -0 $vpid 2>/dev/null; then bad $n "cvmm still runs 60 s after its page-fault handler died"
				elif ! grep -q "uffd.sock" "$TMP/$n.err"; then bad $n "cvmm ended without naming the handler: $(tail -2 "$TMP/$n.err")"
				else ok $n "counts on, disk, ping and vsock with an external handler; its death ends the VM: $(grep -o 'hung up.*' "$TMP/$n.err" | head -1)"; fi
			fi
		fi
		cleanup
	fi
fi

# A restored VM snapshotted again into the memory file it was restored
# from, which is still its memory (mapped private): as Firecracker does,
# the file is written over, not truncated, so the pages the guest has not
# written since the restore keep their data, in the new snapshot and in the
# running guest (a truncation zeroed them in both, silently). That file as
# the state file, and one file for both, are refused and change nothing.
n=snap-resnapshot
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		R=$TMP/resnap
		rm -rf "$R" "$A"
		mkdir -p "$R"
		cp "$D/state" "$D/memory" "$R/"
		tap_up snap0 $HIP/24
		sum0=$(md5sum <"$R/memory")
		"$CVMM" --restore "$R,mem=file" --api-socket "$A" --snapshot-dir "$R" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pids=$!
		vpid=$!
		wait_sock "$A"
		# create STATE MEMORY WANT-CODE [WANT-MESSAGE]
		create() {
			got=$(http "$A" PUT /snapshot/create "{\"snapshot_path\": \"$1\", \"mem_file_path\": \"$2\"}")
			[ "$got" = "$3" ] && { [ -z "${4:-}" ] || grep -q "$4" "$TMP/resp"; } && return 0
			why="$1, $2: $got, wanted $3 ${4:-}: $(head -c 300 "$TMP/resp")"
			return 1
		}
		why="" AFTER=""
		if ! wait_for $n "GUEST-COUNT $((BEFORE + 2))" 240 $vpid; then why="the restored guest did not count on: $(tail -2 "$TMP/$n.err" | tr '\n' ' ')"
		# the API knows the restored VM's devices (the snapshot's
		# configuration): its drive can be changed, and the next
		# snapshot carries them
		elif [ "$(http "$A" GET /vm/config)" != 200 ] || ! grep -q '"drive_id": *"data"' "$TMP/resp" ||
			! grep -q '"host_dev_name": *"snap0"' "$TMP/resp"; then why="GET /vm/config after --restore: $(head -c 300 "$TMP/resp")"
		elif ! http_step $n 204 "$A" PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DISK\"}"; then why="-"
		elif ! http_step $n 204 "$A" PATCH /vm '{"state": "Paused"}'; then why="-"
		elif create "$R/memory" "$R/other" 400 "cannot be the state file" &&
			create "$R/both" "$R/both" 400 "are the same file"; then
			if [ "$(md5sum <"$R/memory")" != "$sum0" ]; then why="a refused snapshot changed the memory file"
			elif create "$R/state2" "$R/memory" 204; then
				AFTER=$(last_count $n)
				grep -aq '"drive_id": *"data"' "$R/state2" || why="the snapshot of the restored VM carries no configuration"
				# a Diff without dirty tracking (Firecracker 1.13+): every
				# resident page, so a file with data in it
				got=$(http "$A" PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$R/dstate\", \"mem_file_path\": \"$R/dmem\"}")
				if [ "$got" != 204 ] || [ "$(stat -c %b "$R/dmem" 2>/dev/null || echo 0)" -eq 0 ]; then
					why="a Diff without dirty tracking: $got, $(stat -c %b "$R/dmem" 2>/dev/null) blocks: $(head -c 200 "$TMP/resp")"
				fi
			fi
			if [ -n "$why" ]; then :
			elif [ -n "$AFTER" ]; then
				# the running guest still reads its untouched pages from the file
				if ! http_step $n 204 "$A" PATCH /vm '{"state": "Resumed"}'; then why="-"
				elif ! wait_for $n "GUEST-COUNT $((AFTER + 2))" 120 $vpid; then why="the guest stopped counting after its snapshot was written over its memory file: $(tail -2 "$TMP/$n.err" | tr '\n' ' ')"
				fi
			fi
		fi
		cleanup
		if [ "$why" = - ]; then :
		elif [ -n "$why" ]; then bad $n "$why"
		else
			tap_up snap0 $HIP/24
			mv "$TMP/$n.out" "$TMP/$n.first"
			mv "$R/state2" "$R/state"
			"$CVMM" --restore "$R,mem=file" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
			pids=$!
			if ! goes_on $n "$AFTER" "$DISK" $pids; then bad $n "restored from it: $why"
			else ok $n "snapshotted at count $AFTER into its own memory file, the guest counted on, and the snapshot restores and counts on; a Diff without tracking: $(($(stat -c %b "$R/dmem") / 2)) KiB of data; that file as the state file and one file for both refused, the file unchanged"; fi
			cleanup
		fi
	fi
fi

n=snap-diff
if selected $n; then
	D2=$TMP/diff
	mkdir -p "$D2"
	DISK2=$TMP/disk2.img
	dd if=/dev/zero of="$DISK2" bs=1M count=8 2>/dev/null
	rm -f "$A"
	"$CVMM" --api-socket "$A" --snapshot-dir "$D2" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pids=$!
	vpid=$!
	wait_sock "$A"
	snapshot() { # type state memory
		http_step $n 204 "$A" PATCH /vm '{"state": "Paused"}' &&
			http_step $n 204 "$A" PUT /snapshot/create \
				"{\"snapshot_type\": \"$1\", \"snapshot_path\": \"$2\", \"mem_file_path\": \"$3\"}"
	}
	f0=$fail
	if http_step $n 204 "$A" PUT /boot-source \
		"{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=snap\"}" &&
		http_step $n 204 "$A" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "track_dirty_pages": true}' &&
		http_step $n 204 "$A" PUT /drives/data \
			"{\"drive_id\": \"data\", \"path_on_host\": \"$DISK2\", \"is_root_device\": false, \"is_read_only\": false}" &&
		http_step $n 204 "$A" PUT /actions '{"action_type": "InstanceStart"}'; then
		if ! wait_for $n "GUEST-COUNT 3" 300 $vpid; then bad $n "the guest never got to work"
		elif snapshot Full "$D2/state" "$D2/memory" &&
			http_step $n 204 "$A" PATCH /vm '{"state": "Resumed"}' &&
			c1=$(last_count $n) && wait_for $n "GUEST-COUNT $((c1 + 2))" 120 $vpid &&
			snapshot Diff "$D2/dstate" "$D2/dmemory" &&
			http_step $n 204 "$A" PUT /snapshot/create \
				"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D2/fstate\", \"mem_file_path\": \"$D2/fmemory\"}"; then
			AFTER=$(last_count $n)
			cleanup
			full=$(($(stat -c %b "$D2/memory") * 512))
			diff=$(($(stat -c %b "$D2/dmemory") * 512))
			mv "$D2/dstate" "$D2/state"
			if [ "$diff" -ge $((full / 2)) ]; then bad $n "the diff's memory file is $diff bytes, the full one's $full"
			elif ! "$CVMM" --snapshot-merge "$D2/memory,$D2/dmemory" 2>"$TMP/$n.merge"; then
				bad $n "merge failed: $(cat "$TMP/$n.merge")"
			elif ! cmp "$D2/memory" "$D2/fmemory" >"$TMP/$n.cmp" 2>&1; then
				# the base and the diff merged must be the full snapshot of the same moment
				bad $n "merged memory differs from a full snapshot's of the same moment: $(head -c 200 "$TMP/$n.cmp")"
			else
				mv "$TMP/$n.out" "$TMP/$n.before"
				"$CVMM" --restore "$D2,mem=file" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
				pids=$!
				if ! goes_on $n "$AFTER" "$DISK2" $pids; then bad $n "$why"
				else ok $n "diff at count $AFTER: $((diff >> 10)) KiB against the full $((full >> 10)) KiB; merged and restored, counts on"; fi
			fi
		elif [ $fail -eq $f0 ]; then bad $n "the guest stopped counting between the snapshots"
		fi
	fi
	cleanup
fi

# ---- clones -------------------------------------------------------------------
n=snap-clones
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		pids=""
		for c in 1 2 3 4; do
			cp "$D/disk.img" "$TMP/clone$c.img"
			"$CVMM" --restore "$D,mem=file,tap0=snapc$c,vsock=$TMP/c$c.sock,disk0=$TMP/clone$c.img" \
				</dev/null >"$TMP/$n-$c.out" 2>"$TMP/$n-$c.err" &
			pids="$pids $!"
			eval "cpid$c=$!"
		done
		why=""
		for c in 1 2 3 4; do
			[ -z "$why" ] || break
			eval "cp=\$cpid$c"
			if ! goes_on "$n-$c" "$BEFORE" "$TMP/clone$c.img" "$cp"; then
				why="clone $c: $why: $(tail -3 "$TMP/$n-$c.err" | tr '\n' ' ')"
			elif ! talks "$n-$c" "$TMP/c$c.sock"; then why="clone $c: no vsock connection"
			fi
		done
		ids=$(cat "$TMP/$n"-[1-4].err | sed -n 's/.*VM generation ID \([0-9a-f]*\).*/\1/p' | sort -u | wc -l)
		for c in 1 2 3 4; do
			[ -z "$why" ] && ! wait_for "$n-$c" GUEST-FORKED 60 && why="clone $c's guest saw no new VM generation ID"
		done
		if [ -z "$why" ] && [ "$ids" -ne 4 ]; then why="$ids different VM generation IDs, not 4"; fi
		if [ -n "$why" ]; then bad $n "$why"
		else ok $n "4 clones count on from $BEFORE, each on its own disk and vsock socket, 4 VM generation IDs, each seen by its guest"; fi
		cleanup
	fi
fi

# ---- a guest that uses the PIT ---------------------------------------------------
# cvmm makes the in-kernel PIT only when the guest first uses it
# (docs/architecture.md): mg-check programs it (mg.pit=out) and then echoes
# COM1; snapshotted, killed and restored, the restored VM has a PIT again
# (its kvm-pit thread), its guest echoes on and ends its checks clean. The
# Linux guests above never use one: the restores there have none.
n=snap-pit
if selected $n; then
	D3=$TMP/snap-pit
	mkdir -p "$D3"
	rm -f "$A" "$TMP/$n.in" "$TMP/$n.in2"
	mkfifo "$TMP/$n.in" "$TMP/$n.in2"
	if [ ! -f "${MG:-.}/mg-check.elf" ]; then bad $n "no mg-check.elf (MG)"; else
		"$CVMM" --api-socket "$A" --snapshot-dir "$D3" <"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		pids=$pid
		exec 5>"$TMP/$n.in"
		wait_sock "$A"
		if ! http_step $n 204 "$A" PUT /boot-source \
			"{\"kernel_image_path\": \"$MG/mg-check.elf\", \"boot_args\": \"mg.cpus=1 mg.mem=64M mg.pit=out mg.echo=1\"}" ||
			! http_step $n 204 "$A" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' ||
			! http_step $n 204 "$A" PUT /actions '{"action_type": "InstanceStart"}'; then
			: # said so
		elif ! wait_for $n "MG ECHO" 60 $pid; then bad $n "the micro-guest did not get to its echo: $(tail -c 300 "$TMP/$n.out" | tr "\n" ";") $(head -c 300 "$TMP/$n.err")"
		elif ! grep -q "^MG PASS pit" "$TMP/$n.out"; then bad $n "its PIT check: $(grep -a 'MG .*pit' "$TMP/$n.out")"
		elif http_step $n 204 "$A" PATCH /vm '{"state": "Paused"}' &&
			http_step $n 204 "$A" PUT /snapshot/create \
				"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D3/state\", \"mem_file_path\": \"$D3/memory\"}"; then
			cleanup
			exec 5>&-
			mv "$TMP/$n.out" "$TMP/$n.boot.out"
			"$CVMM" --restore "$D3,mem=file" <"$TMP/$n.in2" >"$TMP/$n.out" 2>"$TMP/$n.err" &
			pid=$!
			pids=$pid
			exec 5>"$TMP/$n.in2"
			printf 'after-restore' >&5
			wait_for $n "after-restore" 60 $pid
			pit=$(kvm_pits $pid)
			printf q >&5
			i=0
			while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
			wait $pid
			st=$?
			pids=""
			if [ $st -ne 0 ]; then bad $n "the restored VM ended with status $st: $(head -c 300 "$TMP/$n.err")"
			elif ! has $n after-restore; then bad $n "the restored guest did not echo"
			elif ! has $n "MG DONE pass=[0-9]* fail=0"; then bad $n "the restored guest's checks: $(grep -a 'MG ' "$TMP/$n.out" | tail -2 | tr '\n' ';')"
			elif [ "$pit" != 1 ]; then bad $n "no kvm-pit/$pid thread in the restored VM"
			else ok $n "PIT made at the guest's first use, saved, made again by the restore; the guest echoes on"; fi
		fi
		cleanup
	fi
	exec 5>&-
fi

# ---- 2 MiB huge pages ------------------------------------------------------------
# A guest on 2 MiB hugetlbfs pages (machine-config huge_pages "2M") is
# snapshotted: its state keeps the huge pages; a load with the File backend
# is refused naming Uffd (its file cannot be mapped as huge pages); through
# Uffd the handler is told 2 MiB pages, serves them whole, and the guest
# ticks on, its memory on 2048 kB pages again.
n=snap-hugetlb-uffd
if selected $n; then
	D4=$TMP/snap-huge
	mkdir -p "$D4"
	hp=/proc/sys/vm/nr_hugepages
	oldhp=$(cat $hp)
	echo 80 >$hp
	rm -f "$A"
	"$CVMM" --api-socket "$A" --snapshot-dir "$D4" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	pids=$pid
	wait_sock "$A"
	why=""
	if http_step $n 204 "$A" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M"}' &&
		http_step $n 204 "$A" PUT /boot-source \
			"{\"kernel_image_path\": \"$KIT/small-bzImage\", \"initrd_path\": \"$KIT/guest.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet panic=-1 cvmm.test=snap-bench\"}" &&
		http_step $n 204 "$A" PUT /actions '{"action_type": "InstanceStart"}'; then
		if ! wait_for $n "GUEST-TICK 20" 240 $pid; then why="the guest on huge pages did not tick: $(tail -2 "$TMP/$n.err" | tr '\n' ' ')"
		elif http_step $n 204 "$A" PATCH /vm '{"state": "Paused"}' &&
			http_step $n 204 "$A" PUT /snapshot/create \
				"{\"snapshot_path\": \"$D4/state\", \"mem_file_path\": \"$D4/memory\"}"; then
			cleanup
			# File: refused, naming Uffd
			rm -f "$A"
			"$CVMM" --api-socket "$A" </dev/null >"$TMP/$n-file.out" 2>"$TMP/$n-file.err" &
			pids=$!
			wait_sock "$A"
			got=$(http "$A" PUT /snapshot/load "{\"snapshot_path\": \"$D4/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$D4/memory\"}, \"resume_vm\": true}")
			if [ "$got" != 400 ] || ! grep -q "needs the Uffd memory backend" "$TMP/resp"; then
				why="a File load of a 2M snapshot answered $got: $(head -c 200 "$TMP/resp")"
			fi
			cleanup
			if [ -z "$why" ]; then
				rm -f "$A" "$TMP/huffd.sock"
				uffdhandler "$TMP/huffd.sock" "$D4/memory" >"$TMP/$n.handler" 2>&1 &
				hpid=$!
				mv "$TMP/$n.out" "$TMP/$n.boot.out"
				"$CVMM" --api-socket "$A" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
				vpid=$!
				pids=$vpid
				wait_sock "$A"
				wait_sock "$TMP/huffd.sock"
				t0=$(tr -d '\r' <"$TMP/$n.boot.out" | sed -n 's/^GUEST-TICK \([0-9]*\)$/\1/p' | tail -1)
				if http_step $n 204 "$A" PUT /snapshot/load \
					"{\"snapshot_path\": \"$D4/state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$TMP/huffd.sock\"}, \"resume_vm\": true}"; then
					if ! wait_for $n "GUEST-TICK $((t0 + 20))" 120 $vpid; then why="the restored guest did not tick on from $t0: $(tail -2 "$TMP/$n.err" | tr '\n' ' '); handler: $(tail -2 "$TMP/$n.handler" | tr '\n' ' ')"
					else
						kps=$(awk '/^Size:/ { big = ($2 == 131072) } big && /^KernelPageSize:/ { print $2; exit }' /proc/$vpid/smaps 2>/dev/null)
						[ "$kps" = 2048 ] || why="the restored guest's RAM is on '$kps' kB pages"
					fi
				else why="-"
				fi
				cleanup
				# the handler ends when the VMM hangs up, saying how many
				i=0
				while [ $i -lt 100 ] && kill -0 $hpid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
				kill -KILL $hpid 2>/dev/null
				wait $hpid 2>/dev/null
			fi
		else why="-"
		fi
	else why="-"
	fi
	cleanup
	echo "$oldhp" >$hp
	if [ "$why" = - ]; then :
	elif [ -n "$why" ]; then bad $n "$why"
	else ok $n "a 2M guest snapshotted: File refused naming Uffd; through Uffd ($(grep -o '[0-9]* faults served' "$TMP/$n.handler") of 2 MiB) it ticks on from $t0 on 2048 kB pages"; fi
fi

# ---- refusals -------------------------------------------------------------------
n=snap-refused
if selected $n; then
	if [ $made -ne 1 ]; then bad $n "no snapshot to restore (snap-create failed)"; else
		why=""
		# refuse DIR WANT: cvmm --restore DIR exits 1 saying WANT
		refuse() {
			ln -sf "$D/memory" "$1/memory"
			timeout 60 "$CVMM" --restore "$1" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
			st=$?
			if [ $st -ne 1 ]; then why="$why; $(basename "$1"): exit $st"
			elif ! grep -q "$2" "$TMP/$n.err"; then why="$why; $(basename "$1"): '$(head -c 200 "$TMP/$n.err")'"
			fi
		}
		for k in corrupt truncated arch newer; do mkdir -p "$TMP/$k"; cp "$D/state" "$TMP/$k/state"; done
		size=$(stat -c %s "$D/state")
		printf '\377' | dd of="$TMP/corrupt/state" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
		head -c $((size - 100)) "$D/state" >"$TMP/truncated/state"
		snaptool arch "$TMP/arch/state" 2
		snaptool version "$TMP/newer/state" 99
		refuse "$TMP/corrupt" "corrupt (checksum mismatch)"
		refuse "$TMP/truncated" "truncated"
		refuse "$TMP/arch" "made on aarch64, this host is x86_64"
		refuse "$TMP/newer" "version 99 is newer than this cvmm"
		if [ -n "$why" ]; then bad $n "${why#; }"
		else ok $n "corrupt, truncated, aarch64's and format 99's state each refused by name"; fi
	fi
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
