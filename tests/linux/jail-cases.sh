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
#  - jail-filters-readback: seccompcheck (tests/tools) reads every thread's
#    filter of a running cvmm back (ptrace) and runs it: forbidden calls
#    (execve, open, socket, ptrace, clone, ...) refused, each kind's own
#    calls allowed; every thread kind must be there and pass.
#  - jail-no-new-privs: NoNewPrivs: 1 in every thread, with --seccomp off
#    (so it is the jail's doing, not libseccomp's).
#  - jail-seccomp-off, jail-seccomp-off-violation: --seccomp off leaves
#    every thread without a filter, and the hooks' getppid() kills nothing.
#  - jail-main-arena: with every thread on glibc's main arena, trimmed on
#    every free (GLIBC_TUNABLES), cvmm runs and ends well.
#  - jail-landlock: right after the drop (CVMM_TEST_LANDLOCK_PROBE), a file
#    outside the shares cannot be opened (EACCES), one in a share can.
#  - jail-iouring-restricted: every worker submits a forbidden opcode and an
#    SQE without IOSQE_FIXED_FILE on its own ring (CVMM_TEST_IOURING_PROBE):
#    both must complete with -EACCES.
#  - jail-user-chroot: --user 65534:65534 --chroot DIR still boots Linux with
#    a disk (read and written, checked on the host) and a tap (ping).
# env: CVMM, MG, KIT, TMP, ONLY/SKIP; tools on PATH: ip (IP names it); in
# the current directory: withgroups, seccompcheck.
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
	sigsys jail-sigsys-rng-worker worker=cvmm-rng cvmm-rng -- --rng
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

# ---- the jail in force on a running cvmm ----------------------------------
# A cvmm with every thread kind (2 vCPUs, a disk, a tap, a share, vsock;
# the micro-guest echoes its console until it reads q). run_full NAME TAP
# [ENV=VALUE...] -- [cvmm args]: sets pid; up: whether the guest came up.
ALL_THREADS="main cvmm-vcpu0 cvmm-vcpu1 cvmm-blk0-q0 cvmm-net0-rx0 cvmm-net0-tx0 cvmm-net0-ctl cvmm-fs0-hi cvmm-fs0-q0 cvmm-vsock"
WORKERS="cvmm-blk0-q0 cvmm-net0-rx0 cvmm-net0-tx0 cvmm-net0-ctl cvmm-fs0-hi cvmm-fs0-q0 cvmm-vsock"
run_full() {
	n=$1 tap=$2
	shift 2
	envs=""
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs="$envs $1"; shift; done
	[ $# -gt 0 ] && shift
	rm -f "$TMP/$n.in"
	mkfifo "$TMP/$n.in"
	mkdir -p "$TMP/share"
	[ -f "$TMP/mg.img" ] || mkdisk "$TMP/mg.img" 16
	# env execs cvmm: $! is cvmm's pid
	env $envs "$CVMM" --kernel "$MG/mg-check.elf" --cpus 2 --memory 64M \
		--cmdline "mg.cpus=2 mg.mem=64M mg.echo=1" --disk "$TMP/mg.img" --net "tap=$tap" \
		--fs "tag=s,path=$TMP/share" --vsock "cid=3,socket=$TMP/$n.vsock" "$@" \
		<"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	exec 5>"$TMP/$n.in"
	i=0
	while [ $i -lt 600 ] && ! has $n "MG ECHO" && kill -0 $pid 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	up=0
	has $n "MG ECHO" && kill -0 $pid 2>/dev/null && up=1
}
# Ends it (q to the guest); st: cvmm's exit status.
stop_full() {
	# a subshell: if cvmm ended early, SIGPIPE ends it, not this script
	(printf q >&5) 2>/dev/null
	exec 5>&-
	wait $pid
	st=$?
}
# The names of cvmm's threads in seen (its first thread: main, whatever
# the binary is called); "NAME:FIELD=VALUE" for each thread whose status
# line FIELD is not VALUE, in why.
task_fields() { # field value
	seen="" why=""
	for f in /proc/$pid/task/*/status; do
		tn=$(sed -n 's/^Name:[[:space:]]*//p' "$f")
		[ -n "$tn" ] || continue
		[ "$f" = "/proc/$pid/task/$pid/status" ] && tn=main
		seen="$seen $tn"
		v=$(sed -n "s/^$1:[[:space:]]*//p" "$f")
		[ "$v" = "$2" ] || why="$why $tn:$1=$v"
	done
}
missing() { # names...: those not in $seen
	for t in "$@"; do
		case " $seen " in *" $t "*) ;; *) echo "missing-thread:$t" ;; esac
	done | tr '\n' ' '
}
skipped() { again "$1" && return; echo "CASE $1 SKIP: $2"; }

if [ -f "$MG/mg-check.elf" ]; then
	# Every thread's filter read back (PTRACE_SECCOMP_GET_FILTER) and run
	# by seccompcheck's own BPF interpreter: forbidden calls refused,
	# each kind's calls allowed.
	n=jail-filters-readback
	if selected $n; then
		run_full $n jrb0 --
		if [ $up -eq 1 ]; then
			./seccompcheck $pid $ALL_THREADS >"$TMP/$n.check" 2>&1
			cst=$?
		else
			cst=x
		fi
		stop_full
		sum=$(grep '^SECCOMPCHECK' "$TMP/$n.check" 2>/dev/null)
		if [ $up -ne 1 ]; then bad $n "the guest did not come up (cvmm status $st)"
		elif [ "$cst" != 0 ]; then
			bad $n "seccompcheck status $cst: $sum"
			grep -E 'BAD|no such' "$TMP/$n.check" | cut -c1-300 | sed 's/^/    # /'
		elif ! echo "$sum" | grep -q 'kinds=control,vcpu,worker,net-ctl,fs$'; then
			bad $n "not every thread kind checked: $sum"
		elif [ $st -ne 0 ]; then bad $n "cvmm ended with status $st after being read"
		else ok $n "${sum#SECCOMPCHECK }"; fi
	fi
	# NO_NEW_PRIVS comes from the jail itself: with --seccomp off no filter
	# (libseccomp sets it along with one) is there to set it.
	n=jail-no-new-privs
	if selected $n; then
		run_full $n jnnp0 -- --seccomp off
		why="" seen=""
		[ $up -eq 1 ] && task_fields NoNewPrivs 1
		m=$(missing $ALL_THREADS)
		stop_full
		if [ $up -ne 1 ]; then bad $n "the guest did not come up (cvmm status $st)"
		elif [ -n "$why$m" ]; then bad $n "$why $m"
		elif [ $st -ne 0 ]; then bad $n "status $st"
		else ok $n "NoNewPrivs: 1 in $(echo $seen | wc -w) threads, --seccomp off"; fi
	fi
	# Scheduling classes: virtio-net's RX worker runs SCHED_BATCH (woken by
	# each frame a tap queues, it must not preempt the frame source frame by
	# frame: worker.h, batch_sched), every other thread SCHED_OTHER; a
	# second interface given rx-sched=other keeps its RX worker SCHED_OTHER.
	# The policy is field 41 of /proc/PID/task/TID/stat (0 OTHER, 3 BATCH).
	n=sched-net-rx-batch
	if selected $n; then
		run_full $n jsb0 -- --net tap=jsb1,rx-sched=other
		why="" seen=""
		if [ $up -eq 1 ]; then
			for f in /proc/$pid/task/*; do
				tn=$(cat "$f/comm" 2>/dev/null) || continue
				[ "$f" = "/proc/$pid/task/$pid" ] && tn=main
				seen="$seen $tn"
				pol=$(sed 's/.*) //' "$f/stat" | cut -d' ' -f39)
				want=0
				case $tn in cvmm-net0-rx*) want=3 ;; esac
				[ "$pol" = $want ] || why="$why $tn:policy=$pol(want $want)"
			done
		fi
		m=$(missing $ALL_THREADS cvmm-net1-rx0)
		stop_full
		if [ $up -ne 1 ]; then bad $n "the guest did not come up (cvmm status $st)"
		elif [ -n "$why$m" ]; then bad $n "$why $m"
		elif [ $st -ne 0 ]; then bad $n "status $st"
		else ok $n "cvmm-net0-rx0 SCHED_BATCH; cvmm-net1-rx0 (rx-sched=other) and the other $(($(echo $seen | wc -w) - 2)) threads SCHED_OTHER"; fi
	fi
	# --seccomp off: no thread has a filter, and the hooks' forbidden call
	# (control, vCPU, every worker) kills nothing.
	n=jail-seccomp-off
	if selected $n; then
		run_full $n jsoff0 -- --seccomp off
		why="" seen=""
		if [ $up -eq 1 ]; then
			task_fields Seccomp 0
			w2=$why
			task_fields Seccomp_filters 0
			why="$w2$why"
		fi
		m=$(missing $ALL_THREADS)
		stop_full
		if [ $up -ne 1 ]; then bad $n "the guest did not come up (cvmm status $st)"
		elif [ -n "$why$m" ]; then bad $n "$why $m"
		elif [ $st -ne 0 ]; then bad $n "status $st"
		else ok $n "Seccomp: 0 in $(echo $seen | wc -w) threads"; fi
	fi
	n=jail-seccomp-off-violation
	if selected $n; then
		why=""
		for hook in main vcpu worker; do
			run_full $n jsoff1 CVMM_TEST_SECCOMP_VIOLATION=$hook -- --seccomp off
			stop_full
			if [ $up -ne 1 ] || [ $st -ne 0 ]; then why="$why $hook:status=$st,up=$up"
			elif grep -q seccomp "$TMP/$n.err"; then why="$why $hook:$(grep seccomp "$TMP/$n.err" | head -1)"; fi
		done
		if [ -n "$why" ]; then bad $n "$why"
		else ok $n "getppid() on the control thread, vCPU 0 and every worker: cvmm went on"; fi
	fi
	# Every thread on glibc's main arena (as once threads outnumber 8 per
	# CPU), trimmed on every free: a worker that allocates after its filter
	# would need brk or mmap here. (Whether a free trims depends on the
	# heap's layout: unit/jail's test_worker_on_the_main_arena sets that up
	# and fails without the workers' brk rule; this case did not.)
	n=jail-main-arena
	if selected $n; then
		run_full $n jma0 GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0 --
		why="" seen=""
		[ $up -eq 1 ] && task_fields Seccomp 2
		m=$(missing $ALL_THREADS)
		stop_full
		if [ $up -ne 1 ]; then bad $n "the guest did not come up (cvmm status $st)"
		elif [ -n "$why$m" ]; then bad $n "$why $m"
		elif [ $st -ne 0 ]; then bad $n "status $st: $(grep seccomp "$TMP/$n.err" | head -1)"
		else ok $n "$(echo $seen | wc -w) threads on one arena, each filtered, ended with status 0"; fi
	fi
	# Landlock: right after the drop (test hook), a file outside the shares
	# cannot be opened (EACCES), one in the share can; the test itself
	# reads both, and the vsock socket's directory (remove rights only)
	# gives no read either.
	n=jail-landlock
	if selected $n; then
		mkdir -p "$TMP/share"
		echo outside >"$TMP/ll-outside.txt"
		echo inside >"$TMP/share/ll-inside.txt"
		chmod 644 "$TMP/ll-outside.txt" "$TMP/share/ll-inside.txt"
		run_full $n jll0 "CVMM_TEST_LANDLOCK_PROBE=$TMP/ll-outside.txt:$TMP/share/ll-inside.txt" --
		stop_full
		abi=$(sed -n 's/^cvmm: test: landlock abi \([0-9]*\):.*/\1/p' "$TMP/$n.err" | head -1)
		if [ "$(cat "$TMP/ll-outside.txt" "$TMP/share/ll-inside.txt" 2>/dev/null)" != "$(printf 'outside\ninside')" ]; then
			bad $n "the test cannot read its own files"
		elif [ -z "$abi" ]; then bad $n "no probe result (cvmm status $st)"
		elif [ "$abi" -eq 0 ]; then skipped $n "the kernel has no Landlock"
		elif ! grep -qF "open $TMP/ll-outside.txt: errno 13 " "$TMP/$n.err"; then
			bad $n "outside the share: $(grep -F 'll-outside' "$TMP/$n.err" | head -1), wanted errno 13"
		elif ! grep -qF "open $TMP/share/ll-inside.txt: ok" "$TMP/$n.err"; then
			bad $n "in the share: $(grep -F 'll-inside' "$TMP/$n.err" | head -1), wanted ok"
		elif [ $up -ne 1 ] || [ $st -ne 0 ]; then bad $n "status $st"
		else ok $n "ABI $abi: outside the share EACCES, in the share ok"; fi
	fi
	# io_uring: every worker submits OPENAT and a READ without
	# IOSQE_FIXED_FILE on its own ring (test hook): both refused, -EACCES.
	n=jail-iouring-restricted
	if selected $n; then
		run_full $n jur0 CVMM_TEST_IOURING_PROBE=worker --
		stop_full
		why=""
		for t in $WORKERS; do
			for op in "OPENAT" "READ without IOSQE_FIXED_FILE"; do
				r=$(sed -n "s/^cvmm: test: $t: io_uring $op: \(-*[0-9]*\)\$/\1/p" "$TMP/$n.err" | head -1)
				[ "$r" = -13 ] || why="$why $t:$op=${r:-none}"
			done
		done
		if [ -n "$why" ]; then bad $n "wanted -13 (EACCES):$why"
		elif [ $up -ne 1 ] || [ $st -ne 0 ]; then bad $n "status $st"
		else ok $n "OPENAT and an unfixed READ refused (-EACCES) on all $(echo $WORKERS | wc -w) workers' rings"; fi
	fi
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
	# its output elsewhere: a leftover sleep would hold the subscript's pipe open (300 s)
	(sleep 300 && kill -KILL $pid) >/dev/null 2>&1 &
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

# --chroot DIR and guest-initiated vsock (README): a connection to CID 2
# port P reaches PATH_P when PATH is beneath DIR (jail-chroot-vsock-beneath:
# 64 KiB byte-exact at the listener); with PATH outside DIR the guest is
# refused and a listener at the outside PATH_P gets nothing
# (jail-chroot-vsock-outside).
vsock_chroot_case() { # name beneath|outside
	n=$1
	[ -f "$KIT/small-bzImage" ] && selected $n || return
	root=$TMP/$n.root
	rm -rf "$root"
	mkdir -p "$root/run"
	if [ "$2" = beneath ]; then sock=$root/run/v.sock mode=send; else sock=$TMP/$n.v.sock mode=refused; fi
	rm -f "$sock" "${sock}_7000"
	./vsocktool listen "unix:${sock}_7000" recv 65536 >"$TMP/$n.host" 2>&1 &
	lp=$!
	i=0
	while [ $i -lt 100 ] && [ ! -S "${sock}_7000" ]; do sleep 0.1; i=$((i + 1)); done
	want $n 0 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
		--vsock "cid=3,socket=$sock" --chroot "$root" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=vsock-chroot cvmm.vsockport=7000 cvmm.vsockmode=$mode" && {
		g=$(tr -d '\r' <"$TMP/$n.out" | sed -n 's/.*GUEST-VSOCK-CHROOT //p' | head -1)
		if [ "$2" = beneath ]; then
			i=0
			while [ $i -lt 50 ] && kill -0 $lp 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
			if ! grep -q "RECV-OK 65536 " "$TMP/$n.host"; then bad $n "the listener beneath DIR got: $(cat "$TMP/$n.host" | tr '\n' ' '); guest: '$g'"
			else case $g in 0\ *) ok $n "64 KiB reached ${sock}_7000 from the chroot" ;; *) bad $n "guest: '$g'" ;; esac; fi
		else
			if grep -qv "LISTENING" "$TMP/$n.host"; then bad $n "the listener outside DIR got a connection: $(cat "$TMP/$n.host" | tr '\n' ' ')"
			else case $g in 0\ *) ok $n "refused; nothing reached ${sock}_7000" ;; *) bad $n "guest not refused: '$g'" ;; esac; fi
		fi
	}
	kill $lp 2>/dev/null
	wait $lp 2>/dev/null
}
vsock_chroot_case jail-chroot-vsock-beneath beneath
vsock_chroot_case jail-chroot-vsock-outside outside
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
