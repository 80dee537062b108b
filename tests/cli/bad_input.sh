#!/usr/bin/env bash
# Bad input must give a one-line error on stderr and exit status 1, never a
# crash. Needs no KVM: images are validated before /dev/kvm is opened.
# usage: bad_input.sh CVMM [GOOD_BZIMAGE]
set -u
cvmm=$1
# a cross build runs cvmm under its exe wrapper (qemu-user)
read -ra wrap <<<"${MESON_EXE_WRAPPER:-}"
good=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect STATUS PATTERN -- ARGS...: run cvmm, check status and stderr.
expect() {
	local want=$1 pattern=$2
	shift 3
	"${wrap[@]}" "$cvmm" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local st=$?
	local lines
	lines=$(wc -l <"$tmp/err")
	local shown="$*"
	shown=${shown:0:120}
	local good=0
	if [[ $want -eq 0 ]]; then
		# success: something useful on stdout, nothing on stderr
		[[ $st -eq 0 && -s $tmp/out && $lines -eq 0 ]] && grep -qiE -- "$pattern" "$tmp/out" && good=1
	else
		[[ $st -eq $want && $lines -eq 1 ]] && grep -qiE -- "$pattern" "$tmp/err" && good=1
	fi
	if [[ $good -eq 1 ]]; then
		pass=$((pass + 1))
		echo "ok: cvmm $shown -> $st: $(head -c 160 "$tmp/err")"
	else
		fail=$((fail + 1))
		echo "FAIL: cvmm $shown -> status $st (want $want), stderr ($lines lines):"
		sed 's/^/    /' "$tmp/err"
	fi
}

head -c 8192 /dev/urandom >"$tmp/garbage"
: >"$tmp/empty"
printf 'MZ' >"$tmp/tiny"
# A bzImage-looking header that promises more than the file holds.
python3 - "$tmp/trunc-hdr" <<'PY'
import struct, sys
b = bytearray(1024)
b[0x1f1] = 4                        # setup_sects
b[0x1fe:0x200] = b'\x55\xaa'
b[0x202:0x206] = b'HdrS'
struct.pack_into('<H', b, 0x206, 0x020f)
b[0x211] = 1                        # LOADED_HIGH
struct.pack_into('<H', b, 0x236, 1) # XLF_KERNEL_64
struct.pack_into('<I', b, 0x260, 16 << 20)
open(sys.argv[1], 'wb').write(b)
PY

expect 1 "no kernel" -- 
expect 1 "unknown option" -- --kernel "$tmp/garbage" --frobnicate
expect 1 "cannot open kernel.*No such file" -- --kernel "$tmp/nope"
expect 1 "not a regular file" -- --kernel "$tmp"
expect 1 "empty" -- --kernel "$tmp/empty"
expect 1 "kernel|bzImage|ELF|format" -- --kernel "$tmp/garbage"
expect 1 "kernel|bzImage|ELF|format|truncated" -- --kernel "$tmp/tiny"
if file -L "$cvmm" | grep -q aarch64; then
	# arm64 Images (boot/arm64_image.c): each malformed header says what is wrong
	python3 - "$tmp" <<'PY'
import struct, sys
def img(name, text_offset=0, image_size=None, flags=0xa, magic=0x644d5241, size=4096):
    b = bytearray(size)
    struct.pack_into('<QQQ', b, 8, text_offset, size if image_size is None else image_size, flags)
    struct.pack_into('<I', b, 56, magic)
    open(sys.argv[1] + '/' + name, 'wb').write(b)
img('a64-be', flags=0xb)
img('a64-nosize', image_size=0)
img('a64-small', image_size=1024)
img('a64-offset', text_offset=0x200000)
img('a64-huge', image_size=1 << 38)
img('a64-absurd', image_size=1 << 40)
PY
	expect 1 "not an arm64 Image" -- --kernel "$tmp/trunc-hdr"
	expect 1 "too short for an arm64 Image" -- --kernel "$tmp/tiny"
	expect 1 "big-endian" -- --kernel "$tmp/a64-be"
	expect 1 "image_size 0" -- --kernel "$tmp/a64-nosize"
	expect 1 "image_size 1024, less than" -- --kernel "$tmp/a64-small"
	expect 1 "text_offset 0x200000" -- --kernel "$tmp/a64-offset"
	expect 1 "needs 262144 MiB.*has 64 MiB" -- --kernel "$tmp/a64-huge" --memory 64M
	expect 1 "image_size 1099511627776 is too large" -- --kernel "$tmp/a64-absurd"
	expect 1 "cmdline.*at most 2047" -- --kernel "$tmp/a64-small" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
else
	expect 1 "truncated|bzImage" -- --kernel "$tmp/trunc-hdr"
fi
# Firecracker's command line: its statuses, 153 for a bad command line and
# 152 for a bad --level, as Firecracker exits
expect 153 "--no-api needs --config-file" -- --no-api
expect 153 "unknown option '--kernel'" -- --api-sock "$tmp/s" --kernel "$tmp/garbage"
expect 153 "--id: invalid instance id" -- --id "a b"
expect 153 "--id: given more than once" -- --id a --id b
expect 153 "--seccomp-filter: cvmm's seccomp filters" -- --seccomp-filter "$tmp/f"
expect 1 "--metadata: cannot open" -- --metadata "$tmp/nope" --no-api --config-file "$tmp/nope"
expect 153 "needs a value" -- --api-sock
expect 153 "--start-time-us" -- --start-time-us soon
expect 152 "--level: invalid value" -- --level loud --no-api --config-file x
expect 1 "--config-file: cannot open" -- --no-api --config-file "$tmp/nope"
expect 1 "--api-sock: .* exists" -- --api-sock "$tmp/garbage"
expect 1 "--config-file: not a JSON object" -- --no-api --config-file "$tmp/garbage"
expect 1 "cannot open initrd" -- --kernel "$tmp/garbage" --initrd "$tmp/nope"
expect 1 "--memory" -- --kernel "$tmp/garbage" --memory 0
expect 1 "--memory" -- --kernel "$tmp/garbage" --memory lots
expect 1 "memory" -- --kernel "$tmp/garbage" --memory 1M
expect 1 "--cpus" -- --kernel "$tmp/garbage" --cpus 0
expect 1 "--cpus" -- --kernel "$tmp/garbage" --cpus -3
expect 1 "cpus" -- --kernel "$tmp/garbage" --cpus 100000
expect 1 "cpus" -- --kernel "$tmp/garbage" --cpus 255
expect 1 "needs a value" -- --kernel
# --fs: missing tag or path, a tag over 36 bytes, a path that is no directory
mkdir -p "$tmp/share"
expect 1 "--fs" -- --kernel "$tmp/garbage" --fs "path=$tmp/share"
expect 1 "--fs" -- --kernel "$tmp/garbage" --fs "tag=x"
expect 1 "--fs" -- --kernel "$tmp/garbage" --fs "tag=,path=$tmp/share"
expect 1 "--fs" -- --kernel "$tmp/garbage" --fs "tag=$(head -c 37 /dev/zero | tr '\0' t),path=$tmp/share"
# path= takes the rest of the spec (paths may hold commas): ",rw" is part of it
expect 1 "share,rw.*No such file" -- --kernel "$tmp/garbage" --fs "tag=x,path=$tmp/share,rw"
expect 1 "not a directory" -- --kernel "$tmp/garbage" --fs "tag=x,path=$tmp/garbage"
expect 1 "No such file" -- --kernel "$tmp/garbage" --fs "tag=x,path=$tmp/nope"
expect 1 "given twice" -- --kernel "$tmp/garbage" --fs "tag=x,path=$tmp/share" --fs "tag=x,path=$tmp/share"
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock cid=2,socket="$tmp/v.sock"
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock cid=4294967295,socket="$tmp/v.sock"
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock cid=x,socket="$tmp/v.sock"
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock cid=3
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock socket="$tmp/v.sock"
expect 1 "--vsock" -- --kernel "$tmp/garbage" --vsock cid=3,socket="$tmp/v.sock",port=4
expect 1 "--vsock.*96 bytes" -- --kernel "$tmp/garbage" --vsock cid=3,socket="/$(head -c 120 /dev/zero | tr '\0' x)"
expect 1 "one vsock" -- --kernel "$tmp/garbage" --vsock cid=3,socket=/a --vsock cid=4,socket=/b
expect 1 "vsock.*not a socket" -- --kernel "$tmp/garbage" --vsock cid=3,socket="$tmp/garbage"
expect 1 "vsock.*cannot listen" -- --kernel "$tmp/garbage" --vsock cid=3,socket="$tmp/nodir/v.sock"
# a socket another process listens on is not taken over
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(30)' "$tmp/live.sock" &
lpid=$!
for _ in $(seq 50); do [[ -S $tmp/live.sock ]] && break; sleep 0.1; done
expect 1 "vsock.*in use" -- --kernel "$tmp/garbage" --vsock cid=3,socket="$tmp/live.sock"
kill $lpid 2>/dev/null
wait $lpid 2>/dev/null
# rate limiters (docs/rate-limiters.md): a bad LIMIT is refused by name
expect 1 "--disk: a rate limit is RATE" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,bw=fast"
expect 1 "--disk: a rate limit is RATE" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,iops=0"
expect 1 "--disk: a rate limit is RATE" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,bw=1M:0"
expect 1 "--disk: a rate limit is RATE" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,bw=1:2:3:4"
expect 1 "--disk: a rate limit is RATE" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,bw=5G:1000:$(printf '9%.0s' $(seq 30))"
# disk polling (docs/api.md): a window beyond 0..10000 us is refused by name
expect 1 "--disk: poll=US is the largest polling window in microseconds, 0 \(off\) to 10000" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,poll=10001"
expect 1 "--disk: poll=US" -- --kernel "$tmp/garbage" --disk "$tmp/garbage,poll=fast"
printf '{"kernel": "%s", "disks": [{"path": "/d", "poll_us": 20000}]}' "$tmp/garbage" >"$tmp/c-poll.json"
expect 1 "config: 'poll_us' in disks\[0\] must be 0..10000" -- --config "$tmp/c-poll.json"
# net (TX) polling: the same bounds, refused by name
expect 1 "--net: poll=US is the largest polling window of its TX queues in microseconds, 0 \(off\) to 10000" -- --kernel "$tmp/garbage" --net tap0,poll=10001
expect 1 "--net: poll=US" -- --kernel "$tmp/garbage" --net tap0,poll=fast
expect 1 "--net: poll=US" -- --kernel "$tmp/garbage" --net tap0,poll=
printf '{"kernel": "%s", "nets": [{"tap": "tap0", "poll_us": 20000}]}' "$tmp/garbage" >"$tmp/c-npoll.json"
expect 1 "config: 'poll_us' in nets\[0\] must be 0..10000" -- --config "$tmp/c-npoll.json"
expect 1 "--net: a rate limit is RATE" -- --kernel "$tmp/garbage" --net tap0,rx-bw=-1
expect 1 "--net" -- --kernel "$tmp/garbage" --net tap0,bw=1M
expect 1 "--rng-limit" -- --kernel "$tmp/garbage" --rng --rng-limit bw=1M,queues=2
expect 1 "--rng-limit: given twice" -- --kernel "$tmp/garbage" --rng --rng-limit bw=1M --rng-limit iops=5
printf '{"kernel": "%s", "disks": [{"path": "/d", "rate_limiter": {"ops": {"size": -5, "refill_time": 1}}}]}' "$tmp/garbage" >"$tmp/c-limit.json"
expect 1 "config: 'rate_limiter': 'ops': 'size' must be an integer .* in disks\[0\]" -- --config "$tmp/c-limit.json"
# --config FILE: the VM as JSON; its errors name the field
printf '{"kernel": "%s", "cpus": 2}' "$tmp/nope" >"$tmp/c-ok.json"
expect 1 "cannot open kernel.*nope" -- --config "$tmp/c-ok.json"
printf '{"kernel": "%s", "cpu": 2}' "$tmp/garbage" >"$tmp/c-unknown.json"
expect 1 "config: unknown field 'cpu'" -- --config "$tmp/c-unknown.json"
printf '{"kernel": "%s", "cpus": "two"}' "$tmp/garbage" >"$tmp/c-type.json"
expect 1 "config: 'cpus' must be an integer" -- --config "$tmp/c-type.json"
printf '{"cpus": 2}' >"$tmp/c-nokernel.json"
expect 1 "config: 'kernel' is required" -- --config "$tmp/c-nokernel.json"
printf '{"kernel": ' >"$tmp/c-bad.json"
expect 1 "config: not valid JSON" -- --config "$tmp/c-bad.json"
expect 1 "config.*cannot open" -- --config "$tmp/none.json"
expect 1 "config.*larger than" -- --config /dev/zero
expect 1 "no other VM options" -- --config "$tmp/c-ok.json" --cpus 2
expect 1 "api-socket.*no other VM options" -- --api-socket "$tmp/api.sock" --kernel "$tmp/garbage"
# the jail's options
expect 1 "--seccomp.*on, log or off" -- --kernel "$tmp/garbage" --seccomp=maybe
expect 1 "--log-level.*off, error, warn, info, debug or trace" -- --kernel "$tmp/garbage" --log-level loud
# a level is a process option: the bad kernel is still what is reported
expect 1 "kernel" -- --kernel "$tmp/garbage" --log-level debug
expect 1 "--user.*UID:GID" -- --kernel "$tmp/garbage" --user nobody
expect 1 "--user.*UID:GID" -- --kernel "$tmp/garbage" --user 1000
expect 1 "--user.*UID:GID" -- --kernel "$tmp/garbage" --user 1000:x
expect 1 "--user.*UID:GID" -- --kernel "$tmp/garbage" --user :1000
expect 1 "--chroot.*absolute" -- --kernel "$tmp/garbage" --chroot relative/dir
expect 0 "usage: cvmm" -- --help
expect 0 "^cvmm [0-9]" -- --version
if [[ -n $good && -f $good ]]; then
	size=$(stat -c %s "$good")
	head -c $((size / 2)) "$good" >"$tmp/half"
	expect 1 "truncated|bzImage|ELF" -- --kernel "$tmp/half"
	head -c 600 "$good" >"$tmp/hdr-only"
	expect 1 "truncated|bzImage|ELF" -- --kernel "$tmp/hdr-only"
	# A kernel too large for the memory given.
	expect 1 "command line|cmdline|long" -- --kernel "$good" --cmdline "$(head -c 5000 /dev/zero | tr '\0' x)"
fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
