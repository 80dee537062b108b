#!/usr/bin/env bash
# cvmm --api-socket against hostile input and misbehaving clients, without
# KVM (snapshot loads fail at the restore itself, after what is checked
# here): a FIFO as the snapshot state file is refused at once (the control
# thread never waits on it); a snapshot whose embedded configuration is
# larger than a configuration file may be, carries a logger or metrics
# destination, or an id that would split the request cvmm replays, is
# refused, none of it applied; a load that fails leaves no configuration
# behind; /mmds takes only GET, PUT and PATCH; JSON with NaN, bytes that
# are not UTF-8 or a NUL in a path is refused; eight clients that connect
# and stay silent do not lock out a ninth for good; and with no descriptor
# left for a new connection, cvmm does not spin on its listening socket,
# and serves the waiting client once one frees.
# usage: api_hostile.sh CVMM
set -u
cvmm=$1
tmp=$(mktemp -d)
pass=0 fail=0
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
start() { # SOCK [ulimit -n]: cvmm --api-socket SOCK in the background; pid in $pid
	rm -f "$1"
	if [[ -n ${2:-} ]]; then
		(ulimit -n "$2" && exec "$cvmm" --api-socket "$1") </dev/null >>"$tmp/out" 2>>"$tmp/err" &
	else
		"$cvmm" --api-socket "$1" </dev/null >>"$tmp/out" 2>>"$tmp/err" &
	fi
	pid=$!
	pids+=("$pid")
	for _ in $(seq 50); do [[ -S $1 ]] && break; sleep 0.1; done
}
# req SOCK METHOD PATH [BODY]: the status in $code, the body in $tmp/body
req() {
	code=$(curl -s --max-time 5 --unix-socket "$1" -o "$tmp/body" -w '%{http_code}' \
		-X "$2" -H 'Content-Type: application/json' ${4+-d "$4"} "http://localhost$3")
}
# A state file holding only an "app" section (the snapshot's configuration,
# as cvmm writes it: core/snap.h's format, CRC-32C): mksnap FILE < APP
mksnap() {
	python3 -c '
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
app = sys.stdin.buffer.read()
field = struct.pack("<HHI", 1, 0, len(app)) + app
body = bytes([3]) + b"app" + struct.pack("<II", 0, len(field)) + field
h = b"CVMMSNAP" + struct.pack("<IIQIII", 1, 1, 48 + len(body), crc32c(body), 1, 0) + bytes(8)
open(sys.argv[1], "wb").write(h + struct.pack("<I", crc32c(h)) + body)
' "$1"
}
load() { # SOCK STATE: PUT /snapshot/load of STATE
	req "$1" PUT /snapshot/load "{\"snapshot_path\": \"$2\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$tmp/nomem\"}}"
}
# check NAME WANT-CODE PATTERN: the last request's answer
check() {
	if [[ $code == "$2" ]] && { [[ -z $3 && ! -s $tmp/body ]] || { [[ -n $3 ]] && grep -qE -- "$3" "$tmp/body"; }; }; then
		ok "$1: $code $(head -c 150 "$tmp/body")"
	else bad "$1: $code (want $2 /$3/): $(head -c 300 "$tmp/body")"; fi
}

# a FIFO nobody writes: open(2) would wait for a writer, and every other
# request with it (a cvmm of its own: one that hangs stops no other check)
F=$tmp/f.sock
start "$F"
mkfifo "$tmp/fifo"
load "$F" "$tmp/fifo"
check fifo-state 400 "not a regular file"
req "$F" GET /version
check after-fifo 200 firecracker_version

S=$tmp/a.sock
start "$S"

# the configuration a snapshot carries: at most what a configuration file
# may be (json-c would take ~50 times a 64 MiB state file's text)
python3 -c 'import sys; sys.stdout.write("{\"pad\": [" + ",".join(["[]"] * 400000) + "]}")' | mksnap "$tmp/big.state"
load "$S" "$tmp/big.state"
check app-too-large 400 "larger than 1048576 bytes"

: >"$tmp/kernel"
base="\"boot-source\": {\"kernel_image_path\": \"$tmp/kernel\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}"
# a logger or metrics destination: never in a snapshot cvmm makes
echo "{\"logger\": {\"log_path\": \"$tmp/stolen.log\", \"level\": \"Debug\"}, $base, \"drives\": []}" | mksnap "$tmp/log.state"
load "$S" "$tmp/log.state"
check app-logger 400 "'logger' is not part of a snapshot"
if [[ -e $tmp/stolen.log ]]; then bad "app-logger: the snapshot's log file was created"; else ok "app-logger: no log file created"; fi
echo "{\"metrics\": {\"metrics_path\": \"$tmp/stolen.metrics\"}, $base, \"drives\": []}" | mksnap "$tmp/metrics.state"
load "$S" "$tmp/metrics.state"
check app-metrics 400 "'metrics' is not part of a snapshot"

# an id that would end the request line cvmm replays and start another
printf '%s' "{$base, \"drives\": [{\"drive_id\": \"a HTTP/1.1\\r\\n\\r\\nPUT /mmds\", \"path_on_host\": \"/x\", \"is_root_device\": false}]}" | mksnap "$tmp/smuggle.state"
load "$S" "$tmp/smuggle.state"
check app-id 400 "API Resource IDs can only contain"
req "$S" GET /mmds
if grep -q drive_id "$tmp/body"; then bad "app-id: the smuggled PUT /mmds ran: $(head -c 200 "$tmp/body")"; else ok "app-id: nothing smuggled ($code $(head -c 80 "$tmp/body"))"; fi

# a load that fails (here at the restore: no KVM, no memory file) leaves
# none of the snapshot's configuration: not its interfaces for the next
# load, not a boot from it
echo "{$base, \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tapA\"}]}" | mksnap "$tmp/a.state"
load "$S" "$tmp/a.state"
check failed-load 400 "Load snapshot error"
req "$S" GET /vm/config
if [[ $code == 200 ]] && ! grep -q tapA "$tmp/body" && ! grep -q "$tmp/kernel" "$tmp/body"; then ok "failed-load: nothing left: $(head -c 150 "$tmp/body")"
else bad "failed-load: $code, the configuration kept: $(head -c 300 "$tmp/body")"; fi
req "$S" PUT /actions '{"action_type": "InstanceStart"}'
check failed-load-no-boot 400 "no boot source"

# /mmds: GET, PUT and PATCH, nothing else (Firecracker: 400)
req "$S" PUT /mmds '{"a": 1}'
check mmds-put 204 ""
for m in DELETE POST; do
	req "$S" "$m" /mmds '{"b": 2}'
	check "mmds-$m" 400 "Invalid request method and/or path: $m /mmds"
done
req "$S" GET /mmds
check mmds-kept 200 '"a": ?1'

# a configuration longer than one small response: a 4000-byte kernel path
comp=$(printf 'k%.0s' $(seq 200))
long=$tmp
for _ in $(seq 19); do long=$long/$comp; done
mkdir -p "$long"
: >"$long/kernel"
req "$S" PUT /boot-source "{\"kernel_image_path\": \"$long/kernel\"}"
check long-path 204 ""
req "$S" GET /vm/config
check long-config 200 "kkkkkkkk/kernel\""

# JSON as Firecracker takes it: NaN would come back from GET /mmds as
# something that is not JSON; a byte that is not UTF-8 would come back in
# the error message; "\u0000" would cut a path short
req "$S" PUT /mmds '{"f": NaN}'
check mmds-nan 400 "fault_message"
req "$S" PUT /mmds "$(printf '{"g": "\xff\xfe"}')"
check mmds-utf8 400 "fault_message"
req "$S" PUT /boot-source "$(printf '{"kernel_image_path": "%s/kernel\\u0000x"}' "$tmp")"
check path-nul 400 "must not hold a NUL"
req "$S" PUT /drives/rootfs "$(printf '{"drive_id": "rootfs", "path_on_host": "/x/\xff", "is_root_device": false}')"
if [[ $code == 400 ]] && python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$tmp/body" 2>/dev/null; then
	ok "utf8-error: 400 with a JSON body: $(head -c 120 "$tmp/body")"
else bad "utf8-error: $code, the body is not JSON: $(head -c 200 "$tmp/body" | od -c | head -3)"; fi
req "$S" GET /mmds
check mmds-unchanged 200 '"a": ?1'

# eight clients that connect and say nothing: every connection taken; a
# ninth gets the place of one idle 10 s (it was refused before, for as
# long as they stayed)
python3 -c '
import socket, sys, time
held = []
for _ in range(8):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(30)
' "$S" &
holder=$!
pids+=("$holder")
sleep 11
req "$S" GET /version
check idle-evicted 200 firecracker_version
kill $holder 2>/dev/null

# no descriptor left: one more than the smallest open-file limit cvmm
# starts with, so that one client gets the last descriptor and the next
# waits in the backlog; cvmm must sleep meanwhile, not spin on its readable
# listening socket, and serve the waiting client once the first one goes
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
T=$tmp/t.sock
lim=""
for l in 4 5 6 7 8 9 10 11 12; do
	start "$T" "$l"
	up=0
	[[ -S $T ]] && kill -0 "$pid" 2>/dev/null && up=1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if ((up)); then lim=$((l + 1)); break; fi
done
if [[ -z $lim ]]; then bad "emfile: cvmm did not start with a small open-file limit"; else
	start "$T" "$lim"
	python3 -c '
import socket, sys, time
first = socket.socket(socket.AF_UNIX)
first.connect(sys.argv[1])
time.sleep(0.5)  # accepted: the last descriptor
second = socket.socket(socket.AF_UNIX)
second.connect(sys.argv[1])  # in the backlog: no descriptor for it
time.sleep(2.5)
first.close()
second.settimeout(5)
second.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    print(second.recv(4096).split(b"\r\n")[0].decode())
except OSError as e:
    print("no answer:", e)
' "$T" >"$tmp/emfile.out" &
	client=$!
	sleep 0.8
	t0=$(ticks "$pid")
	sleep 2
	t1=$(ticks "$pid")
	wait $client
	# a spinning control thread takes ~100 ticks a second
	if ((t1 - t0 > 20)); then bad "emfile: cvmm used $((t1 - t0)) clock ticks in 2 s with a client waiting (spinning)"
	else ok "emfile: $((t1 - t0)) clock ticks in 2 s with a client waiting (open-file limit $lim)"; fi
	if grep -q "^HTTP/1.1 200" "$tmp/emfile.out"; then ok "emfile: the waiting client was served once a descriptor freed"
	else bad "emfile: the waiting client: $(cat "$tmp/emfile.out")"; fi
fi

exec 2>/dev/null # (the shell's word on the jobs it kills)
kill -KILL "${pids[@]}"
wait
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
