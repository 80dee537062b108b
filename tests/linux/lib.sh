#!/bin/sh
# Helpers shared by cases.sh and net-cases.sh (POSIX sh + busybox).
# Needs CVMM, TMP; ONLY / SKIP select cases by name.
mkdir -p "$TMP"
pass=0
fail=0

selected() {
	case "$1" in *"${ONLY:-}"*) ;; *) return 1 ;; esac
	# cases an earlier test host already reported (tests/run's restart)
	case " ${DONE:-} " in *" $1 "*) return 1 ;; esac
	[ -z "${SKIP:-}" ] && return 0
	case "$1" in *"$SKIP"*) return 1 ;; esac
	return 0
}
ok() { pass=$((pass + 1)); echo "CASE $1 PASS${2:+ $2}"; }
bad() {
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
has() { grep -q -- "$2" "$TMP/$1.out"; }

