#!/bin/sh
# Helpers shared by cases.sh and net-cases.sh (POSIX sh + busybox).
# Needs CVMM, TMP; ONLY / SKIP / WHERE / DONE select cases by name.
mkdir -p "$TMP"
pass=0
fail=0

selected() {
	case "$1" in *"${ONLY:-}"*) ;; *) return 1 ;; esac
	# WHERE: only the cases named so (mg-: the micro-guests, run on a PVM host)
	case "$1" in "${WHERE:-}"*) ;; *) return 1 ;; esac
	# cases an earlier test host already reported (tests/run's restart)
	case " ${DONE:-} " in *" $1 "*) return 1 ;; esac
	[ -z "${SKIP:-}" ] && return 0
	case "$1" in *"$SKIP"*) return 1 ;; esac
	return 0
}
# A verdict for a case an earlier test host already reported is not given
# again (a script that serves several cases from one guest runs whole).
again() {
	case " ${DONE:-} " in *" $1 "*) echo "(case $1: reported by an earlier test host)" && return 0 ;; esac
	return 1
}
ok() { again "$1" && return; pass=$((pass + 1)); echo "CASE $1 PASS${2:+ $2}"; }
bad() {
	again "$1" && return
	fail=$((fail + 1))
	echo "CASE $1 FAIL: $2"
	[ -f "$TMP/$1.out" ] && tail -n 15 "$TMP/$1.out" | sed 's/^/    | /'
	[ -f "$TMP/$1.err" ] && tail -n 5 "$TMP/$1.err" | sed 's/^/    ! /'
}
want() { # name wanted-status timeout -- cvmm args ; output in $TMP/name.out
	name=$1 wst=$2 tmo=$3
	shift 4
	selected "$name" || return 1
	start=$(date +%s)
	timeout "$tmo" "$CVMM" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	st=$?
	secs=$(($(date +%s) - start))
	if [ "$st" -ne "$wst" ]; then
		bad "$name" "exit status $st, wanted $wst (after ${secs}s)"
		return 1
	fi
	return 0
}
# Is any case of GROUP (./cases.list: "GROUPS NAME ...") selected? cases.sh
# runs a sub-script only then.
wanted() {
	for c in $(awk -v g="$1" '!/^#/ && NF { n = split($1, a, ","); for (i = 1; i <= n; i++) if (a[i] == g) print $2 }' ./cases.list); do
		selected "$c" && return 0
	done
	return 1
}
# Runs a sub-script with TMP=DIR, counts its verdicts and checks that it
# ended well: a non-zero status with no failing case, or no summary line, is
# a failure of its own (stage-NAME-cases).
# subscript NAME DIR [unshare -n] sh ./SCRIPT
subscript() {
	sn=$1 sd=$2
	shift 2
	sl=$TMP/$sn.log
	{
		env TMP="$sd" "$@" 2>&1
		echo "SUBSCRIPT-STATUS $?"
	} | tee "$sl"
	sp=$(grep -c '^CASE [^ ]* PASS' "$sl")
	sf=$(grep -c '^CASE [^ ]* FAIL' "$sl")
	pass=$((pass + sp))
	fail=$((fail + sf))
	sst=$(sed -n 's/^SUBSCRIPT-STATUS //p' "$sl" | tail -1)
	if [ "${sst:-x}" != 0 ] && [ "$sf" -eq 0 ]; then
		bad "stage-$sn-cases" "exited with status ${sst:-unknown} and no failing case"
	elif ! grep -q '^[0-9]* passed, [0-9]* failed$' "$sl"; then
		bad "stage-$sn-cases" "ended without its summary line"
	fi
}
has() { grep -q -- "$2" "$TMP/$1.out" 2>/dev/null; } # the background cvmm may not have made it yet


# wait_for NAME PATTERN SECONDS [PID]: until $TMP/NAME.out has PATTERN, for
# at most SECONDS, giving up early once PID (when given) is gone.
wait_for() {
	i=0
	while [ $i -lt $(($3 * 5)) ] && ! has "$1" "$2"; do
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && break
		sleep 0.2
		i=$((i + 1))
	done
	has "$1" "$2"
}
# kvm_pits PID: how many in-kernel PIT threads (kvm-pit/PID) the VM of
# cvmm PID has: 0, or 1 once its guest used the PIT
kvm_pits() { cat /proc/[0-9]*/comm 2>/dev/null | grep -c "^kvm-pit/$1\$"; }
# echo_start NAME CVMM [mg-check keys]: mg-check in the background, its
# console input a fifo on fd 5, until it echoes (MG ECHO; pid in $pid);
# echo_end then types q and reaps it (status in $st)
echo_start() {
	rm -f "$TMP/$1.in"
	mkfifo "$TMP/$1.in"
	timeout 60 "$2" --kernel "$MG/mg-check.elf" --memory 64M \
		--cmdline "mg.cpus=1 mg.mem=64M mg.echo=1 ${3:-}" <"$TMP/$1.in" >"$TMP/$1.out" 2>"$TMP/$1.err" &
	pid=$!
	exec 5>"$TMP/$1.in"
	wait_for "$1" "MG ECHO" 30 $pid
}
echo_end() {
	printf q >&5
	wait $pid
	st=$?
	exec 5>&-
}
# http SOCK METHOD PATH [JSON]: one API call on a unix socket; prints the
# HTTP status, the body is in $TMP/resp.
http() {
	curl -s --max-time 60 --unix-socket "$1" -X "$2" -o "$TMP/resp" -w '%{http_code}' \
		-H 'Accept: application/json' -H 'Content-Type: application/json' \
		${4:+--data "$4"} "http://localhost$3"
}
# http_step NAME WANTED SOCK METHOD PATH [JSON]: the call must answer WANTED
# (else NAME fails with the answer).
http_step() {
	n1=$1 w=$2
	shift 2
	got=$(http "$@")
	[ "$got" = "$w" ] && return 0
	bad "$n1" "$2 $3 answered $got, wanted $w: $(head -c 300 "$TMP/resp")"
	return 1
}

# the host side of the tap cvmm creates (root): addressed once it exists
# (asked of ip: this network namespace's /sys is the test host's)
tap_up() { # name hostip/24
	(i=0; while ! ${IP:-ip} link show dev "$1" >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	 ${IP:-ip} addr add "$2" dev "$1" && ${IP:-ip} link set "$1" up) &
}
