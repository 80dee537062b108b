#!/bin/sh
# The jail (docs/seccomp.md, docs/threat-model.md), run by cases.sh inside a
# network namespace of its own (unshare -n) as root.
#  - jail-sigsys-*: for each thread kind, a test build (-Dtest_hooks=true)
#    makes one thread call getppid() right after loading its filter
#    (CVMM_TEST_SECCOMP_VIOLATION=main|vcpu|worker=NAME): cvmm must die of
#    SIGSYS (status 159) with the message naming that thread and the call.
#  - jail-seccomp-log: the same violation with --seccomp=log is let through.
#  - jail-threads-*: every thread of a running cvmm (micro-guest with a disk,
#    a tap, a share and vsock) has a filter (Seccomp: 2, Seccomp_filters >= 1)
#    and no capability (the request worker of a share given ,privileged:
#    exactly the four ownership ones), checked in /proc/PID/task/*/status.
#  - jail-user-chroot: --user 65534:65534 --chroot DIR still boots Linux with
#    a disk (read and written, checked on the host) and a tap (ping).
# env: CVMM, MG, KIT, TMP, ONLY/SKIP; tools on PATH: ip (IP names it).
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
IP=${IP:-ip}
MG=${MG:-.}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-jail.$$}
. ./lib.sh
$IP link set lo up
GETPPID=110 # x86_64
case "$(uname -m)" in aarch64) GETPPID=173 ;; esac

md5of() { dd if="$1" bs=65536 skip="$2" count="$3" 2>/dev/null | md5sum | cut -c1-32; }
field() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/.*$2 \([0-9a-f]*\).*/\1/p" | head -1; }
mkdisk() { # file MiB: 1 MiB random pattern at the start, zeros after
	dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
	dd if=/dev/urandom of="$1" bs=65536 count=16 conv=notrunc 2>/dev/null
}

# name hook thread-name -- extra cvmm args
sigsys() {
	n=$1 hook=$2 thr=$3
	shift 4
	selected $n || return
	CVMM_TEST_SECCOMP_VIOLATION=$hook timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" \
		--memory 64M "$@" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	want="cvmm: seccomp: thread $thr made forbidden syscall $GETPPID (getppid)"
	if [ $st -ne 159 ]; then bad $n "status $st, wanted 159 (SIGSYS)"
	elif ! grep -qF "$want" "$TMP/$n.err"; then bad $n "no message '$want'"
	else ok $n "SIGSYS: $(grep -F 'cvmm: seccomp' "$TMP/$n.err" | head -1)"; fi
}

if [ -f "$MG/mg-check.elf" ]; then
	mkdisk "$TMP/mg.img" 16
	mkdir -p "$TMP/share"
	sigsys jail-sigsys-control main cvmm-control --
	sigsys jail-sigsys-vcpu vcpu cvmm-vcpu0 -- --cpus 2 --cmdline "mg.cpus=2 mg.mem=64M"
	sigsys jail-sigsys-blk-worker worker=cvmm-blk0-q0 cvmm-blk0-q0 -- --disk "$TMP/mg.img"
	sigsys jail-sigsys-net-rx-worker worker=cvmm-net0-rx0 cvmm-net0-rx0 -- --net tap=jsig0
	sigsys jail-sigsys-net-ctrl-worker worker=cvmm-net0-ctl cvmm-net0-ctl -- --net tap=jsig1
	sigsys jail-sigsys-fs-worker worker=cvmm-fs0-q0 cvmm-fs0-q0 -- --fs "tag=s,path=$TMP/share"
	sigsys jail-sigsys-vsock-worker worker=cvmm-vsock cvmm-vsock -- \
		--vsock "cid=3,socket=$TMP/sig.vsock"
	n=jail-sigsys-api-control
	if selected $n; then
		# the control thread of --api-socket, once InstanceStart ran
		S=$TMP/$n.sock
		CVMM_TEST_SECCOMP_VIOLATION=main timeout 60 "$CVMM" --api-socket "$S" \
			</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
		pid=$!
		i=0
		while [ $i -lt 50 ] && [ ! -S "$S" ]; do sleep 0.1; i=$((i + 1)); done
		put() {
			curl -s --max-time 30 --unix-socket "$S" -X PUT -o /dev/null \
				-H 'Content-Type: application/json' --data "$2" "http://localhost$1"
		}
		put /boot-source "{\"kernel_image_path\": \"$MG/mg-check.elf\"}"
		put /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
		put /actions '{"action_type": "InstanceStart"}'
		wait $pid
		st=$?
		if [ $st -ne 159 ]; then bad $n "status $st, wanted 159 (SIGSYS)"
		elif ! grep -qF "thread cvmm-control made forbidden syscall $GETPPID" "$TMP/$n.err"; then bad $n "no message"
		else ok $n "SIGSYS after InstanceStart"; fi
	fi
	n=jail-seccomp-log
	if selected $n; then
		CVMM_TEST_SECCOMP_VIOLATION=vcpu timeout 60 "$CVMM" --seccomp=log --kernel "$MG/mg-check.elf" \
			--memory 64M --cmdline "mg.cpus=1 mg.mem=64M" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 0 ] && has $n "MG DONE pass=[0-9]* fail=0" && ! grep -q "seccomp" "$TMP/$n.err"; then
			ok $n "the violation was let through"
		else bad $n "status $st"; fi
	fi
fi

# Every thread of a running cvmm: a filter each, no capability.
# name share-flags expected-fs-caps
threads() {
	n=$1
	selected $n || return
	rm -f "$TMP/$n.in"
	mkfifo "$TMP/$n.in"
	"$CVMM" --kernel "$MG/mg-check.elf" --cpus 2 --memory 64M \
		--cmdline "mg.cpus=2 mg.mem=64M mg.echo=1" --disk "$TMP/mg.img" --net tap=jthr0 \
		--fs "tag=s,path=$TMP/share$2" --vsock "cid=3,socket=$TMP/$n.vsock" \
		<"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	exec 5>"$TMP/$n.in"
	i=0
	while [ $i -lt 100 ] && ! has $n "MG ECHO"; do sleep 0.1; i=$((i + 1)); done
	why="" seen=""
	for st in /proc/$pid/task/*/status; do
		name=$(sed -n 's/^Name:[[:space:]]*//p' "$st")
		seen="$seen $name"
		sc=$(sed -n 's/^Seccomp:[[:space:]]*//p' "$st")
		nf=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' "$st")
		[ "$sc" = 2 ] || why="$why $name:Seccomp=$sc"
		[ "${nf:-0}" -ge 1 ] || why="$why $name:Seccomp_filters=$nf"
		want=0000000000000000
		case "$name" in cvmm-fs*-q*) want=$3 ;; esac
		for c in CapInh CapAmb; do
			v=$(sed -n "s/^$c:[[:space:]]*//p" "$st")
			[ "$v" = 0000000000000000 ] || why="$why $name:$c=$v"
		done
		for c in CapPrm CapEff; do
			v=$(sed -n "s/^$c:[[:space:]]*//p" "$st")
			[ "$v" = "$want" ] || why="$why $name:$c=$v"
		done
		v=$(sed -n "s/^CapBnd:[[:space:]]*//p" "$st")
		[ "$v" = "$3" ] || why="$why $name:CapBnd=$v"
	done
	# a subshell: if cvmm ended early, SIGPIPE ends it, not this script
	(printf q >&5) 2>/dev/null
	exec 5>&-
	wait $pid
	st=$?
	for t in cvmm-vcpu0 cvmm-vcpu1 cvmm-blk0-q0 cvmm-net0-rx0 cvmm-net0-tx0 cvmm-net0-ctl \
		cvmm-fs0-hi cvmm-fs0-q0 cvmm-vsock; do
		case " $seen " in *" $t "*) ;; *) why="$why missing-thread:$t" ;; esac
	done
	if [ -n "$why" ]; then bad $n "$why (threads:$seen)"
	elif [ $st -ne 0 ]; then bad $n "status $st"
	else ok $n "$(echo $seen | wc -w) threads:$seen"; fi
}
if [ -f "$MG/mg-check.elf" ]; then
	threads jail-threads-ro-share ",ro" 0000000000000000
	threads jail-threads-rw-share "" 0000000000000000
	threads jail-threads-privileged-share ",privileged" 000000000000001b
fi

# --user and --chroot: Linux with a disk and a tap.
n=jail-user-chroot
if [ -f "$KIT/small-bzImage" ] && selected $n; then
	mkdisk "$TMP/$n.img" 64
	mkdir -p "$TMP/$n.root"
	chmod 755 "$TMP/$n.root"
	$IP tuntap add dev jtap0 mode tap
	$IP addr add 10.0.9.1/24 dev jtap0
	$IP link set jtap0 up
	# started with supplementary groups, which --user must drop; no
	# timeout(1) in between, so $! is cvmm's pid (withgroups execs it)
	./withgroups 4,27,100 "$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
		--disk "$TMP/$n.img" --net jtap0 --user 65534:65534 --chroot "$TMP/$n.root" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=jail cvmm.ip=10.0.9.2/24 cvmm.peer=10.0.9.1" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	(sleep 300 && kill -KILL $pid) 2>/dev/null &
	wd=$!
	# while it runs: its ids and its root, as the kernel sees them
	i=0
	while [ $i -lt 1500 ] && ! has $n GUEST-BLK-READ && kill -0 $pid 2>/dev/null; do
		sleep 0.2; i=$((i + 1))
	done
	ids=$(grep -E '^(Uid|Gid|Groups):' /proc/$pid/status 2>/dev/null | tr -s '\t ' ' ' | tr '\n' ';')
	root=$(readlink /proc/$pid/root 2>/dev/null)
	wait $pid
	st=$?
	kill $wd 2>/dev/null
	r=$(field $n GUEST-BLK-READ)
	w=$(field $n GUEST-BLK-WROTE)
	if [ $st -ne 0 ]; then bad $n "exit status $st"
	elif [ "$ids" != "Uid: 65534 65534 65534 65534;Gid: 65534 65534 65534 65534;Groups: ;" ] &&
		[ "$ids" != "Uid: 65534 65534 65534 65534;Gid: 65534 65534 65534 65534;Groups:;" ]; then
		bad $n "ids while running: $ids"
	elif [ "$root" != "$TMP/$n.root" ]; then bad $n "root while running: '$root', wanted $TMP/$n.root"
	elif [ "$r" != "$(md5of "$TMP/$n.img" 0 16)" ]; then bad $n "guest read other bytes than the host wrote"
	elif [ -z "$w" ] || [ "$w" != "$(md5of "$TMP/$n.img" 32 16)" ]; then bad $n "the host file lacks what the guest wrote"
	elif ! has $n "GUEST-PING ok"; then bad $n "the guest could not ping the host"
	elif ! has $n "GUEST-JAIL-DONE"; then bad $n "the guest job did not finish"
	else ok $n "disk read+written, ping ok, as 65534:65534 chrooted to $root"; fi
	$IP link del jtap0 2>/dev/null
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
