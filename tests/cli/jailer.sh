#!/bin/bash
# The jailer without KVM (docs/jailer.md), as root: bad flags and unusable
# inputs each get their message and exit status and leave nothing behind
# (no jail directory, no cgroup); a jail built for a stand-in VMM
# (tests/tools/jailprobe, static) is what the VMM sees: only the chroot's
# mount, the given uid/gid and no capability, PID 1 of a new PID namespace,
# the network namespace asked for, its cgroups (v1 here, as on these hosts:
# docs/../shared/PLATFORM.md; v2 is checked in the test host: jailer-* in
# tests/linux/jail-cases.sh) with pids.max enforced, its resource limits,
# an empty environment, Firecracker's jailer's arguments first.
# usage: jailer.sh JAILER JAILPROBE
set -u
J=$1 PROBE=$2
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: the jailer needs root"
	exit 77
fi
T=$(mktemp -d /tmp/cvmm-jailer-test.XXXXXX)
CG=cvmm-jailer-test-$$
NS=cvmm-jailer-test-$$
fails=0
cleanup() {
	[[ -n ${probe_pid:-} ]] && kill -KILL "$probe_pid" 2>/dev/null
	mountpoint -q "$T/ro" && umount "$T/ro"
	ip netns del "$NS" 2>/dev/null
	sleep 0.2
	for c in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/*/jailprobe/t-*; do
		[[ -d $c ]] || continue
		find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
bad() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }
cp "$PROBE" "$T/jailprobe"
PROBE=$T/jailprobe
mkdir "$T/base"
B=$T/base
REQ0=(--exec-file "$PROBE" --uid 1234 --gid 2345)
REQ=("${REQ0[@]}" --chroot-base-dir "$B")

# refused: jailer ARGS... -> status, a word of the message, nothing made
refused() { # status word args...
	local want=$1 word=$2 out st
	shift 2
	out=$("$J" "$@" 2>&1)
	st=$?
	if [[ $st -ne $want ]]; then
		bad "jailer $*: status $st, not $want ($out)"
	elif [[ $out != *"$word"* ]]; then
		bad "jailer $*: message '$out' lacks '$word'"
	elif [[ -n $(ls -A "$B") ]]; then
		bad "jailer $*: left $(find "$B" | tr '\n' ' ')"
	elif ls -d /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/*/jailprobe/t-* 2>/dev/null | grep -q .; then
		bad "jailer $*: left cgroups $(ls -d /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/*/jailprobe/t-* 2>/dev/null)"
	else
		ok "status $want: $out"
	fi
}

# ---- bad command lines: 160, nothing made
refused 160 "--id is required" "${REQ[@]}"
refused 160 "--id a_b: 1 to 64" --id a_b "${REQ[@]}"
refused 160 "--uid x" --id t-1 --exec-file "$PROBE" --uid x --gid 1
refused 160 "unknown flag --seccomp-level" --id t-1 "${REQ[@]}" --seccomp-level 2
refused 160 "--cgroup-version 3" --id t-1 "${REQ[@]}" --cgroup-version 3
refused 160 "expected FILE=VALUE" --id t-1 "${REQ[@]}" --cgroup pids.max
refused 160 "relative path" --id t-1 "${REQ[@]}" --parent-cgroup ../x --cgroup pids.max=5
refused 160 "unknown resource" --id t-1 "${REQ[@]}" --resource-limit cpu=1
refused 160 "--id given more than once" --id t-1 "${REQ[@]}" --id t-2
# ---- unusable inputs, each its status, nothing made
refused 161 "--exec-file $T/none: No such file" --id t-1 --exec-file "$T/none" --uid 1 --gid 1 \
	--chroot-base-dir "$B"
refused 161 "not a regular file" --id t-1 --exec-file "$T" --uid 1 --gid 1 --chroot-base-dir "$B"
# a dynamically linked program: its interpreter is not in the jail
refused 161 "must be statically linked" --id t-1 --exec-file /bin/true --uid 1 --gid 1 \
	--chroot-base-dir "$B"
touch "$T/file"
refused 162 "--chroot-base-dir $T/file: not a directory" --id t-1 "${REQ0[@]}" --chroot-base-dir "$T/file"
refused 162 "No such file" --id t-1 "${REQ0[@]}" --chroot-base-dir "$T/none"
mkdir "$T/ro"
mount -t tmpfs -o ro tmpfs "$T/ro"
refused 162 "read-only file system" --id t-1 "${REQ0[@]}" --chroot-base-dir "$T/ro"
umount "$T/ro"
mount -t tmpfs -o noexec tmpfs "$T/ro"
out=$("$J" --id t-1 "${REQ0[@]}" --chroot-base-dir "$T/ro" 2>&1)
st=$?
if [[ $st -ne 162 || $out != *noexec* || -n $(ls -A "$T/ro") ]]; then
	bad "noexec base: status $st, '$out', left: $(ls -A "$T/ro")"
else ok "status 162: $out"; fi
umount "$T/ro"
refused 165 "not a network namespace" --id t-1 "${REQ[@]}" --netns "$T/file"
refused 164 "no cgroup v1 hierarchy has the controller nosuch" --id t-1 "${REQ[@]}" \
	--cgroup nosuch.max=1 --parent-cgroup "$CG"
# a value the kernel refuses: the cgroups made for it and the jail go
refused 164 "cannot write abc to" --id t-1 "${REQ[@]}" --parent-cgroup "$CG" --cgroup pids.max=5 \
	--cgroup memory.limit_in_bytes=abc
refused 167 "no-file=99999999999" --id t-1 "${REQ[@]}" --resource-limit no-file=99999999999 \
	--cgroup pids.max=5 --parent-cgroup "$CG"
# an id in use: the other jail is left as it is
mkdir -p "$B/jailprobe/t-used/root"
echo other >"$B/jailprobe/t-used/root/jailprobe"
out=$("$J" --id t-used "${REQ[@]}" 2>&1)
st=$?
if [[ $st -ne 163 || $out != *"a jail with this id exists"* || $(cat "$B/jailprobe/t-used/root/jailprobe") != other ||
	-n $(ls -A "$B/jailprobe/t-used/root" | grep -v '^jailprobe$') ]]; then
	bad "id in use: status $st, '$out', $(find "$B")"
else ok "status 163: $out (the other jail untouched)"; fi
rm -rf "${B:?}"/*

# ---- a jail: the stand-in VMM reports what it sees, the test reads its
# /proc/PID from outside
ip netns add "$NS" || bad "ip netns add"
NSP=/run/netns/$NS # where iproute2 puts it (older: /var/run/netns)
[[ -e $NSP ]] || NSP=/var/run/netns/$NS
"$J" --id t-ok "${REQ[@]}" --netns "$NSP" --new-pid-ns --parent-cgroup "$CG" \
	--cgroup pids.max=5 --cgroup memory.limit_in_bytes=67108864 --resource-limit fsize=1048576 \
	--resource-limit no-file=128 -- forks wait >"$T/out" 2>&1
st=$?
R=$B/jailprobe/t-ok/root
for i in $(seq 50); do grep -q ready "$T/out" && break; sleep 0.1; done
probe_pid=$(cat "$R/jailprobe.pid" 2>/dev/null)
cat "$T/out" | sed 's/^/    | /'
if [[ $st -ne 0 || -z $probe_pid ]] || ! kill -0 "$probe_pid"; then
	bad "jail: jailer status $st, pid '$probe_pid'"
else
	want() { # what line
		grep -qx -- "$2" "$T/out" && ok "$1: $2" || bad "$1: no '$2' in the probe's output"
	}
	want "args: Firecracker's jailer's first, then the caller's" \
		"argv: /jailprobe --id t-ok --start-time-us [0-9]* --start-time-cpu-us [0-9]* --parent-cpu-time-us [0-9]* forks wait"
	want "uid" "uid: 1234 1234 1234"
	want "gid" "gid: 2345 2345 2345"
	want "no supplementary groups" "groups: 0"
	want "no capability" "capeff: 0000000000000000"
	want "no permitted capability" "capprm: 0000000000000000"
	want "PID 1 of a new PID namespace" "pid: 1"
	want "RLIMIT_NOFILE" "nofile: 128 128"
	want "RLIMIT_FSIZE" "fsize: 1048576"
	want "empty environment" "env: (empty)"
	want "cwd is the new root" "cwd: /"
	grep -q '^root:.* jailprobe\b' "$T/out" && grep -q '^root:.* dev\b' "$T/out" &&
		grep -q '^root:.* run\b' "$T/out" || bad "root: $(grep ^root: "$T/out")"
	grep -q '^dev:.* kvm' "$T/out" && grep -q '^dev:.* net' "$T/out" || bad "dev: $(grep ^dev: "$T/out")"
	want "no /proc in the jail" "proc: no"
	# pids.max=5: the probe and 4 children (3 while the jailer, in the
	# same cgroup, is still writing the pid file); 16 without the limit
	grep -qx "forks: [34]" "$T/out" && ok "pids.max enforced: $(grep ^forks: "$T/out")" ||
		bad "pids.max not enforced: $(grep ^forks: "$T/out")"
	# from outside
	mi=$(cat "/proc/$probe_pid/mountinfo")
	if [[ $(wc -l <<<"$mi") -eq 1 && $(awk '{ print $5 }' <<<"$mi") == / &&
		$(awk '{ print $4 }' <<<"$mi") == */jailprobe/t-ok/root ]]; then
		ok "mountinfo: only the chroot: $mi"
	else
		bad "mountinfo: $(echo "$mi" | head -5)"
	fi
	# the namespace as a whole (mountinfo above is what lies beneath the
	# root: a chroot would pass it): one mount, the jail
	nsmi=$("$PROBE" --mounts-of "$probe_pid")
	[[ $(wc -l <<<"$nsmi") -eq 1 && $nsmi == *"/jailprobe/t-ok/root / "* ]] &&
		ok "its mount namespace holds the jail alone" || bad "the namespace's mounts: $(head -3 <<<"$nsmi")"
	grep -q "^NSpid:[[:space:]]*$probe_pid[[:space:]]*1$" "/proc/$probe_pid/status" &&
		ok "NSpid: $probe_pid 1" || bad "$(grep NSpid "/proc/$probe_pid/status")"
	grep -q "^CapEff:[[:space:]]*0000000000000000" "/proc/$probe_pid/status" &&
		grep -q "^CapBnd:" "/proc/$probe_pid/status" && ok "CapEff 0 from outside" ||
		bad "$(grep Cap "/proc/$probe_pid/status")"
	grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$probe_pid/status" && ok "NoNewPrivs 1" ||
		bad "$(grep NoNewPrivs "/proc/$probe_pid/status")"
	[[ $(readlink "/proc/$probe_pid/ns/net") == "net:[$(stat -L -c %i "$NSP")]" ]] &&
		ok "in the network namespace $NS" || bad "netns: $(readlink "/proc/$probe_pid/ns/net")"
	for c in pids memory; do
		grep -q ":$c:/$CG/t-ok$" "/proc/$probe_pid/cgroup" && ok "cgroup $c: /$CG/t-ok" ||
			bad "cgroup $c: $(grep ":$c:" "/proc/$probe_pid/cgroup")"
	done
	[[ $(cat /sys/fs/cgroup/pids/$CG/t-ok/pids.max) == 5 &&
		$(cat /sys/fs/cgroup/memory/$CG/t-ok/memory.limit_in_bytes) == 67108864 ]] &&
		ok "pids.max 5, memory.limit_in_bytes 64 MiB read back" || bad "cgroup values"
	st=$(stat -c '%u:%g %a' "$R/dev/kvm" "$R/dev/net/tun" "$R/run" "$R" | tr '\n' ' ')
	[[ $st == "1234:2345 600 1234:2345 600 1234:2345 700 1234:2345 700 " ]] &&
		ok "nodes and directories the VMM's: $st" || bad "owners/modes: $st"
	[[ $(stat -c '%t:%T' "$R/dev/kvm" "$R/dev/net/tun" | tr '\n' ' ') == "a:e8 a:c8 " ]] &&
		ok "/dev/kvm 10:232, /dev/net/tun 10:200" || bad "device numbers"
	[[ $(stat -c '%U %a' "$R/jailprobe") == "root 555" ]] && cmp -s "$PROBE" "$R/jailprobe" &&
		ok "the exec file copied, root's, 0555" || bad "copy: $(stat -c '%U %a' "$R/jailprobe")"
	# the host's mounts are not there at all: the jail's root holds no /tmp
	[[ ! -e /proc/$probe_pid/root/tmp && ! -e /proc/$probe_pid/root/proc ]] &&
		ok "the host's tree is not reachable" || bad "host tree visible"
fi
kill -KILL "$probe_pid" 2>/dev/null
probe_pid=
rm -rf "${B:?}"/*

# ---- --daemonize (Kata's): the jailer leaves, the VMM goes on detached,
# its pid in <exec name>.pid; no new PID namespace: that pid is the jailer's
"$J" --id t-dm "${REQ[@]}" --daemonize -- wait >"$T/out" 2>&1
st=$?
R=$B/jailprobe/t-dm/root
for i in $(seq 50); do [[ -s $R/jailprobe.pid ]] && break; sleep 0.1; done
probe_pid=$(cat "$R/jailprobe.pid" 2>/dev/null)
if [[ $st -ne 0 || -z $probe_pid ]] || ! kill -0 "$probe_pid"; then
	bad "daemonize: status $st, pid '$probe_pid', $(cat "$T/out")"
else
	sid=$(awk '{ print $6 }' "/proc/$probe_pid/stat")
	fd0=$(readlink "/proc/$probe_pid/fd/1")
	[[ $sid != "$$" && $fd0 == /dev/null && ! -s $T/out ]] &&
		ok "daemonized: own session $sid, stdout $fd0, the jailer exited 0" ||
		bad "daemonize: session $sid, stdout $fd0, output '$(cat "$T/out")'"
	grep -q "^NSpid:[[:space:]]*$probe_pid$" "/proc/$probe_pid/status" &&
		ok "no new PID namespace without --new-pid-ns" || bad "$(grep NSpid "/proc/$probe_pid/status")"
fi
kill -KILL "$probe_pid" 2>/dev/null
probe_pid=

echo "$fails failed"
[[ $fails -eq 0 ]]
