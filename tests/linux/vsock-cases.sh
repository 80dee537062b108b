#!/bin/sh
# virtio-vsock cases, run by cases.sh: one guest (cvmm.test=vsock in
# guest-job.sh) and, on this side, vsocktool over cvmm's unix sockets.
# Both ends check every byte (vsocktool's pattern). Cases:
#   vsock-host-to-guest   host client -> CONNECT 5000 -> guest listener, MB MiB
#   vsock-guest-to-host   guest -> CID 2 port 6000 -> PATH_6000, MB MiB
#   vsock-many            MANY connections at once each way, 1 MiB each
#   vsock-refused-host    CONNECT to a port nothing listens on: client closed
#   vsock-refused-guest   guest connects to a port with no PATH_P: reset
#   vsock-early-close     host client closes while the guest sends: the
#                         guest's send fails instead of hanging
#   vsock-guest-closes    guest closes without reading while the host
#                         sends: the host's send fails instead of hanging
#   vsock-bad-line        host clients with a bad CONNECT line (non-numeric,
#                         out of range, too long without a newline, a NUL):
#                         cvmm closes them, and still serves the next one
#   vsock-slow-reader     guest never reads while the host pushes: cvmm's RSS
#                         stays within SLOW_RSS_KB of before, cvmm stays up
#   vsock-reset           device reset (driver unbound) with a connection
#                         open: the host's client sees it end; after the
#                         driver is bound again a new connection works
# env: CVMM, KIT, TMP, ONLY/SKIP; vsocktool on PATH. VSOCK_MB (default 64),
# VSOCK_MANY (default 32).
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-vsock.$$}
. ./lib.sh
MB=${VSOCK_MB:-64}
MANY=${VSOCK_MANY:-32}
HOLD=30
SLOW_RSS_KB=16384
BIG=$((MB * 1048576))
S=$TMP/v.sock
VT=vsocktool

gline() { tr -d '\r' <"$TMP/vsock.out" | grep "$1" | head -1; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

n=vsock
$VT listen "unix:${S}_6000" recv $BIG >"$TMP/h6000" 2>&1 &
h1=$!
$VT listen "unix:${S}_6001" recv 1048576 "$MANY" >"$TMP/h6001" 2>&1 &
h2=$!
$VT listen "unix:${S}_6002" recv 1048576 >"$TMP/h6002" 2>&1 &
h3=$!
start=$(date +%s)
timeout 600 "$CVMM" --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --cpus 2 \
	--memory 256M --vsock "cid=3,socket=$S" \
	--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=vsock cvmm.mb=$MB cvmm.many=$MANY cvmm.hold=$HOLD" \
	</dev/null >"$TMP/vsock.out" 2>"$TMP/vsock.err" &
pid=$!
if ! wait_for $n GUEST-VSOCK-READY 300 $pid; then
	kill $pid $h1 $h2 $h3 2>/dev/null
	bad stage-vsock-boot "the guest never got ready"
	echo "$pass passed, $fail failed"
	exit 1
fi
t0=$(date +%s)
$VT connect "fc:$S:5000" send $BIG >"$TMP/c5000" 2>&1
t1=$(date +%s)
$VT connect "fc:$S:5001" send 1048576 "$MANY" >"$TMP/c5001" 2>&1
$VT connect "fc:$S:5999" refused >"$TMP/c5999" 2>&1
echo "st=$?" >>"$TMP/c5999"
$VT connect "fc:$S:5002" hold 1 >"$TMP/c5002" 2>&1
$VT connect "fc:$S:5004" send $BIG >"$TMP/c5004" 2>&1
for line in 'CONNECT abc\n' 'CONNECT 4294967296\n' "CONNECT $(printf '%0100d' 5)" 'CONNECT 5\0\n' 'LISTEN 5\n'; do
	$VT connect "unix:$S" raw "$line" >>"$TMP/badline" 2>&1
done
# The guest holds port 5003 without reading for HOLD seconds.
rss0=$(rss $pid)
VSOCKTOOL_TIMEOUT=12 $VT connect "fc:$S:5003" send $BIG >"$TMP/c5003" 2>&1 &
sp=$!
sleep 10
rss1=$(rss $pid)
kill $sp 2>/dev/null
wait $sp
kill -0 $pid 2>/dev/null && alive=1 || alive=0
# Device reset with a connection open.
if wait_for $n GUEST-VSOCK-RESET-READY 300 $pid; then
	$VT connect "fc:$S:5010" recv 0 >"$TMP/c5010" 2>&1 &
	rp=$!
	wait_for $n GUEST-VSOCK-UNBOUND 60 $pid
	i=0
	while [ $i -lt 20 ] && kill -0 $rp 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
	kill -0 $rp 2>/dev/null && reset_ended=0 || reset_ended=1
	kill $rp 2>/dev/null
fi
wait $pid
st=$?
secs=$(($(date +%s) - start))
wait $h1 $h2 $h3 2>/dev/null
kill $h1 $h2 $h3 2>/dev/null

if [ $st -ne 0 ]; then bad stage-vsock-exit "cvmm exit status $st after ${secs}s"; fi
# host -> guest
l=$(gline GUEST-VSOCK-L5000)
case "$l" in
*" 0 VT 0 RECV-OK $BIG "*) ok vsock-host-to-guest "$MB MiB byte-exact in $((t1 - t0))s: $(grep -o '[0-9.]* MiB/s' "$TMP/c5000")" ;;
*) bad vsock-host-to-guest "guest: '$l'; host: $(cat "$TMP/c5000")" ;;
esac
# guest -> host
if grep -q "RECV-OK $BIG " "$TMP/h6000"; then
	ok vsock-guest-to-host "$MB MiB byte-exact: $(grep -o '[0-9.]* MiB/s' "$TMP/h6000")"
else
	bad vsock-guest-to-host "host: $(cat "$TMP/h6000"); guest: '$(gline GUEST-VSOCK-C6000)'"
fi
# many at once, both ways
gm=$(gline GUEST-VSOCK-L5001)
hm=$(grep -c "RECV-OK 1048576 " "$TMP/h6001")
case "$gm" in
*" 0 ok=$MANY") if [ "$hm" -eq "$MANY" ]; then ok vsock-many "$MANY connections each way, 1 MiB each, byte-exact"; else bad vsock-many "host received $hm of $MANY"; fi ;;
*) bad vsock-many "guest: '$gm' (wanted ok=$MANY); host received $hm of $MANY" ;;
esac
# refusals
if grep -q "VT 0 REFUSED" "$TMP/c5999" && grep -q "st=0" "$TMP/c5999"; then
	ok vsock-refused-host "$(grep -o 'REFUSED.*' "$TMP/c5999" | head -1)"
else
	bad vsock-refused-host "$(cat "$TMP/c5999")"
fi
l=$(gline GUEST-VSOCK-C6999)
case "$l" in
*" 0 VT 0 REFUSED"*) ok vsock-refused-guest "${l#*REFUSED }" ;;
*) bad vsock-refused-guest "guest: '$l'" ;;
esac
# early close: the guest's send of BIG bytes must fail, not complete or hang
l=$(gline GUEST-VSOCK-L5002)
case "$l" in
*SEND-FAILED*) ok vsock-early-close "guest: ${l#*VT 0 }" ;;
*) bad vsock-early-close "guest: '$l'" ;;
esac
# the guest closes without reading: the host's send fails
if grep -q "SEND-FAILED" "$TMP/c5004" && has vsock "GUEST-VSOCK-L5004 0"; then
	ok vsock-guest-closes "host: $(grep -o 'SEND-FAILED.*' "$TMP/c5004")"
else
	bad vsock-guest-closes "host: $(cat "$TMP/c5004"); guest: '$(gline GUEST-VSOCK-L5004)'"
fi
# bad CONNECT lines are closed, and cvmm goes on serving (the cases after)
if [ "$(grep -c RAW-CLOSED "$TMP/badline")" -eq 5 ] && [ "$alive" -eq 1 ]; then
	ok vsock-bad-line "5 bad lines, each closed"
else
	bad vsock-bad-line "$(cat "$TMP/badline")"
fi
# slow reader
if [ -z "$rss0" ] || [ -z "$rss1" ]; then
	bad vsock-slow-reader "no RSS readings ('$rss0', '$rss1')"
elif [ "$alive" -ne 1 ]; then
	bad vsock-slow-reader "cvmm died"
elif grep -q SENT "$TMP/c5003"; then
	bad vsock-slow-reader "all $MB MiB went into a guest that reads nothing: $(cat "$TMP/c5003")"
elif [ $((rss1 - rss0)) -gt $SLOW_RSS_KB ]; then
	bad vsock-slow-reader "cvmm's RSS grew from $rss0 kB to $rss1 kB"
elif ! has vsock "GUEST-VSOCK-L5003 0"; then
	bad vsock-slow-reader "guest: '$(gline GUEST-VSOCK-L5003)'"
else
	ok vsock-slow-reader "RSS $rss0 kB -> $rss1 kB while the host pushed for 10 s"
fi
# reset
l=$(gline GUEST-VSOCK-C6002)
if [ "${reset_ended:-0}" -ne 1 ]; then
	bad vsock-reset "the host's connection outlived the device reset: $(cat "$TMP/c5010")"
elif ! grep -q "RECV-OK 0" "$TMP/c5010"; then
	bad vsock-reset "the host's connection was never established: $(cat "$TMP/c5010")"
elif ! grep -q "RECV-OK 1048576" "$TMP/h6002"; then
	bad vsock-reset "no new connection after the reset: guest '$l', host $(cat "$TMP/h6002")"
else
	ok vsock-reset "connection ended on reset; 1 MiB byte-exact after re-binding"
fi
echo "    vsock: ${secs}s for the whole scenario"
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
