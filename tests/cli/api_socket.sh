#!/usr/bin/env bash
# cvmm --api-socket over a real unix socket, driven by curl (and raw bytes
# from python3), without KVM: the pre-boot calls, GET /, and bad requests
# (unknown path, wrong method, bad JSON, unknown field, oversized body and
# headers, not HTTP at all, a client that disconnects mid-request) each get
# a 4xx in Firecracker's error shape, and cvmm keeps serving. InstanceStart
# with a kernel that does not exist fails with 400 and cvmm keeps running.
# usage: api_socket.sh CVMM
set -u
cvmm=$1
# a cross build runs cvmm under its exe wrapper (qemu-user)
read -ra wrap <<<"${MESON_EXE_WRAPPER:-}"
tmp=$(mktemp -d)
sock=$tmp/api.sock
pass=0 fail=0
"${wrap[@]}" "$cvmm" --api-socket "$sock" </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done

# expect STATUS PATTERN -- CURL-ARGS...
expect() {
	local want=$1 pattern=$2
	shift 3
	local got
	got=$(curl -s --max-time 5 --unix-socket "$sock" -o "$tmp/body" -w '%{http_code}' "$@")
	local shown="$*"
	shown=${shown:0:120}
	if [[ $got == "$want" ]] && kill -0 $pid 2>/dev/null &&
		{ [[ -z $pattern && ! -s $tmp/body ]] || { [[ -n $pattern ]] && grep -qE -- "$pattern" "$tmp/body"; }; }; then
		pass=$((pass + 1))
		echo "ok: $shown -> $got $(head -c 120 "$tmp/body")"
	else
		fail=$((fail + 1))
		echo "FAIL: $shown -> $got (want $want /$pattern/): $(head -c 300 "$tmp/body")"
	fi
}
# raw NAME STATUS: send the bytes on stdin on one connection, want STATUS first
raw() {
	local name=$1 want=$2
	local first
	first=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.shutdown(socket.SHUT_WR)
data = b""
try:
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n")[0].decode(errors="replace"))
' "$sock")
	if { [[ -z $want && -z $first ]] || [[ -n $want && $first == "HTTP/1.1 $want "* ]]; } &&
		kill -0 $pid 2>/dev/null; then
		pass=$((pass + 1))
		echo "ok: raw $name -> $first"
	else
		fail=$((fail + 1))
		echo "FAIL: raw $name -> '$first' (want $want)"
	fi
}
U=http://localhost
J=(-H 'Content-Type: application/json')
expect 200 '"state": "Not started".*"app_name": "cvmm"' -- "$U/"
expect 204 '' -- -X PUT "${J[@]}" "$U/machine-config" -d '{"vcpu_count": 2, "mem_size_mib": 64}'
# files are opened when they are PUT (Firecracker's order of errors)
expect 400 '"fault_message":"Boot source error: the kernel: cannot open' -- -X PUT "${J[@]}" "$U/boot-source" -d "{\"kernel_image_path\": \"$tmp/nope\"}"
: >"$tmp/kernel" # empty: InstanceStart fails on it below
expect 204 '' -- -X PUT "${J[@]}" "$U/boot-source" -d "{\"kernel_image_path\": \"$tmp/kernel\"}"
expect 400 '"fault_message":"Drive config error: cannot open' -- -X PUT "${J[@]}" "$U/drives/rootfs" \
	-d "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$tmp/disk\", \"is_root_device\": true, \"is_read_only\": false}"
: >"$tmp/disk" # 0 bytes: a valid drive, as in Firecracker (Kata's placeholders)
expect 204 '' -- -X PUT "${J[@]}" "$U/drives/rootfs" \
	-d "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$tmp/disk\", \"is_root_device\": true, \"is_read_only\": false, \"rate_limiter\": {}}"
expect 200 '"vcpu_count": 2' -- "$U/machine-config"
mkfifo "$tmp/metrics.fifo"
expect 204 '' -- -X PUT "${J[@]}" "$U/metrics" -d "{\"metrics_path\": \"$tmp/metrics.fifo\"}"
expect 400 '"fault_message":"Reinitialization of metrics not allowed\.' -- -X PUT "${J[@]}" "$U/metrics" -d "{\"metrics_path\": \"$tmp/m2\"}"
expect 400 '"fault_message":"The requested operation is not supported before starting the microVM' -- -X PUT "${J[@]}" "$U/actions" -d '{"action_type": "FlushMetrics"}'
# the logger to a FIFO nobody reads yet (as Kata and firecracker-containerd do), then read
mkfifo "$tmp/log.fifo"
expect 204 '' -- -X PUT "${J[@]}" "$U/logger" -d "{\"log_path\": \"$tmp/log.fifo\", \"level\": \"Debug\", \"show_level\": true}"
timeout 5 cat "$tmp/log.fifo" >"$tmp/log.txt" &
logcat=$!
sleep 0.2
expect 200 'firecracker_version' -- "$U/version"
wait $logcat
if grep -q '^cvmm: DEBUG: API: GET /version$' "$tmp/log.txt"; then
	pass=$((pass + 1)); echo "ok: PUT /logger: lines on the FIFO"
else
	fail=$((fail + 1)); echo "FAIL: PUT /logger: the FIFO got: $(head -c 300 "$tmp/log.txt")"
fi
expect 200 '"firecracker_version": "1\.[0-9]+\.[0-9]+"' -- "$U/version"
expect 400 '"fault_message":"The requested operation is not supported before starting the microVM.' -- -X PUT "$U/snapshot/create" -d '{}'
expect 400 '"fault_message":"Loading a microVM snapshot not allowed after configuring boot-specific resources' -- -X PUT "$U/snapshot/load" -d '{"snapshot_path": "/nonexistent/state", "mem_file_path": "/nonexistent/memory"}'
expect 400 '"fault_message":"Invalid request method and/or path: GET /nope\.' -- "$U/nope"
expect 400 '"fault_message":"Invalid request method and/or path: DELETE /vm\.' -- -X DELETE "$U/vm"
expect 400 '"fault_message":"the request body is not valid JSON' -- -X PUT "$U/vsock" -d '{"guest_cid": '
expect 400 "\"fault_message\":\"unknown field 'cid'" -- -X PUT "$U/vsock" -d '{"cid": 3}'
expect 400 '"fault_message":".vcpu_count. must be an integer' -- -X PATCH "$U/machine-config" -d '{"vcpu_count": "2"}'
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big"
expect 413 '"fault_message":"the request body is larger' -- -X PUT "$U/vsock" --data-binary @"$tmp/big"
expect 431 '"fault_message":"the request line and headers' -- -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$U/"
expect 400 '"fault_message":"the microVM is not running' -- -X PATCH "$U/vm" -d '{"state": "Paused"}'
printf 'GARBAGE\r\n\r\n' | raw not-http 400
printf 'PUT /vsock HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{' | raw huge-length 413
printf 'PUT /vsock HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"gu' | raw truncated-then-close ''
expect 400 '"fault_message":"cannot start the microVM: ' -- \
	-X PUT "$U/actions" -d '{"action_type": "InstanceStart"}'
expect 200 '"state": "Not started"' -- "$U/"
# keep-alive: two requests on one curl connection
got=$(curl -s --unix-socket "$sock" -w '%{http_code} %{num_connects}\n' -o /dev/null "$U/" -o /dev/null "$U/machine-config")
if [[ $(echo "$got" | tr '\n' ' ') == "200 1 200 0 " ]]; then
	pass=$((pass + 1)); echo "ok: keep-alive ($got)"
else
	fail=$((fail + 1)); echo "FAIL: keep-alive: $got"
fi
if kill -0 $pid 2>/dev/null; then pass=$((pass + 1)); echo "ok: cvmm still running"; else fail=$((fail + 1)); echo "FAIL: cvmm died: $(cat "$tmp/err")"; fi
kill -TERM $pid
wait $pid
st=$?
if [[ $st -eq 143 && ! -e $sock ]]; then pass=$((pass + 1)); echo "ok: SIGTERM -> 143, socket removed"; else fail=$((fail + 1)); echo "FAIL: SIGTERM -> $st"; fi

# Firecracker's command line (cvmm run as `firecracker`): the socket, the
# id GET / reports, the logger and metrics flags' files, the body limit,
# and a --config-file whose kernel does not exist (status 1, said).
ln -s "$(realpath "$cvmm")" "$tmp/firecracker"
fsock=$tmp/fc.sock
"${wrap[@]}" "$tmp/firecracker" --api-sock "$fsock" --id fc-test-1 --level Debug \
	--log-path "$tmp/fc.log" --show-level --metrics-path "$tmp/fc.metrics" \
	--http-api-max-payload-size 2048 </dev/null >"$tmp/fc.out" 2>"$tmp/fc.err" &
fpid=$!
for _ in $(seq 50); do [[ -S $fsock ]] && break; sleep 0.1; done
sock=$fsock pid=$fpid
expect 200 '"id": ?"fc-test-1"' -- "$U/"
expect 200 '"firecracker_version": ?"1\.12\.0"' -- "$U/version"
head -c 3000 /dev/zero | tr '\0' ' ' >"$tmp/big2"
expect 413 '"fault_message":"the request body is larger than 2048' -- -X PUT "$U/vsock" --data-binary @"$tmp/big2"
if grep -q "^cvmm\[fc-test-1\]: DEBUG: " "$tmp/fc.log" 2>/dev/null; then pass=$((pass + 1)); echo "ok: --log-path got Debug lines with the id and their level"
else fail=$((fail + 1)); echo "FAIL: --log-path: $(head -c 300 "$tmp/fc.log" 2>&1)"; fi
if [[ -f $tmp/fc.metrics ]]; then pass=$((pass + 1)); echo "ok: --metrics-path opened"
else fail=$((fail + 1)); echo "FAIL: --metrics-path not opened"; fi
kill -TERM $fpid
wait $fpid
st=$?
if [[ $st -eq 143 && ! -e $fsock ]]; then pass=$((pass + 1)); echo "ok: firecracker: SIGTERM -> 143, socket removed"
else fail=$((fail + 1)); echo "FAIL: firecracker: SIGTERM -> $st: $(cat "$tmp/fc.err")"; fi
printf '{"boot-source": {"kernel_image_path": "%s/none"}, "drives": []}' "$tmp" >"$tmp/fc.json"
"${wrap[@]}" "$tmp/firecracker" --no-api --config-file "$tmp/fc.json" </dev/null >/dev/null 2>"$tmp/fc.err"
st=$?
if [[ $st -eq 1 ]] && grep -q "config-file: boot-source: .*none" "$tmp/fc.err"; then
	pass=$((pass + 1)); echo "ok: --config-file with no kernel -> 1: $(cat "$tmp/fc.err")"
else fail=$((fail + 1)); echo "FAIL: --config-file with no kernel -> $st: $(cat "$tmp/fc.err")"; fi

# As PID 1 of a PID namespace (the jailer's --new-pid-ns): the kernel drops
# a signal sent to a namespace's init that has no handler for it, unless
# the signal is blocked, as cvmm blocks SIGTERM for its signalfd: SIGTERM
# from outside ends it with 143 as anywhere (Kata stops it with SIGTERM,
# then SIGKILL after 15 s).
if [[ -z ${wrap[*]} ]] && unshare --fork --pid true 2>/dev/null; then
	psock=$tmp/pid1.sock
	unshare --fork --pid "$cvmm" --api-socket "$psock" </dev/null >/dev/null 2>"$tmp/pid1.err" &
	upid=$!
	for _ in $(seq 50); do [[ -S $psock ]] && break; sleep 0.1; done
	cpid=$(pgrep -P $upid | head -1)
	if [[ -n $cpid ]] && grep -q "^NSpid:.*[[:space:]]1$" /proc/"$cpid"/status; then
		kill -TERM "$cpid"
		for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$cpid" 2>/dev/null; then
			fail=$((fail + 1)); echo "FAIL: cvmm as PID 1 of a PID namespace ignored SIGTERM for 5 s"
			kill -KILL "$cpid"
		fi
		wait $upid
		st=$?
		if [[ $st -eq 143 ]]; then pass=$((pass + 1)); echo "ok: cvmm as PID 1 of a PID namespace: SIGTERM -> 143"
		else fail=$((fail + 1)); echo "FAIL: cvmm as PID 1: SIGTERM -> $st: $(cat "$tmp/pid1.err")"; fi
	else
		fail=$((fail + 1)); echo "FAIL: cvmm did not start as PID 1 of a new PID namespace"
		kill $upid 2>/dev/null
	fi
else
	echo "skip: cvmm as PID 1 (no PID namespace here: not root, or a cross build)"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
