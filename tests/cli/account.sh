#!/bin/sh
# tests/account on made-up logs: every way a stage can under-report fails,
# by name. usage: account.sh ACCOUNT
A=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
cat >"$T/list" <<'L'
g one
g two
g three skip-ok=qemu-user
h other
L
check() { # what wanted-status wanted-text -- account args
	what=$1 want=$2 text=$3
	shift 4
	out=$("$A" --list "$T/list" "$@" 2>&1)
	st=$?
	if [ $st -ne "$want" ] || ! printf '%s\n' "$out" | grep -q -- "$text"; then
		echo "FAIL $what: status $st (wanted $want), no '$text' in:"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=1
	else
		echo "ok $what"
	fi
}
printf 'CASE one PASS\nCASE two PASS x\nCASE three PASS\n' >"$T/all"
check all-reported 0 "account: 3 passed, 0 failed, 0 skipped" -- --group g --log "$T/all"
printf 'CASE one PASS\nCASE three PASS\n' >"$T/missing"
check missing 1 "CASE two FAIL: no verdict" -- --group g --log "$T/missing"
check no-log 1 "account: 0 passed, 3 failed" -- --group g --log "$T/nonexistent"
printf 'CASE one PASS\nCASE one PASS\nCASE two PASS\nCASE three PASS\n' >"$T/twice"
check twice 1 "CASE one FAIL: 2 verdicts" -- --group g --log "$T/twice"
printf 'CASE one PASS\nCASE two SKIP no reason\nCASE three PASS\n' >"$T/skip"
check skip-not-allowed 1 "CASE two FAIL: skipped" -- --group g --log "$T/skip"
printf 'CASE one PASS\nCASE two PASS\nCASE three SKIP emulated\n' >"$T/skipok"
check skip-allowed 0 "1 skipped" -- --group g --log "$T/skipok" --skip-ok qemu-user
check skip-elsewhere 1 "CASE three FAIL: skipped" -- --group g --log "$T/skipok"
printf 'CASE one PASS\nCASE two PASS\nCASE three PASS\nCASE four PASS\n' >"$T/extra"
check unlisted 1 "CASE four FAIL: reported but not in" -- --group g --log "$T/extra"
printf 'CASE one PASS\nCASE two FAIL: broke\nCASE three PASS\n' >"$T/failed"
check failed 1 "account: 2 passed, 1 failed" -- --group g --log "$T/failed"
printf 'CASE one PASS\nCASE two PASS\nCASE three PASS\nCASE stage-test-host FAIL: timed out\n' >"$T/stage"
check stage 1 "stage-test-host FAIL: timed out" -- --group g --log "$T/stage"
printf 'CASE two PASS\n' >"$T/only"
check only 0 "account: 1 passed, 0 failed" -- --group g --only two --log "$T/only"
printf 'CASE one PASS\r\n  CASE two PASS\r\nCASE three PASS\r\n' >"$T/crlf"
check crlf 0 "account: 3 passed" -- --group g --log "$T/crlf"
exit $fail
