#!/bin/sh
# The soak, run by cases.sh:
#  - soak-cycles: tests/embed/soak: SOAK_CYCLES (default 100; tests/run
#    --soak: 1000) create/run/destroy cycles of mg-exit in one process
#    through libcvmm, each VM with a disk of its own and vsock: after 20
#    warm-up cycles the open descriptors must stay exactly as many, the
#    threads come back, RSS stay within 1 MiB (the soak's header says why).
#  - soak-disk-reuse: the same with one image for every VM, as an embedder
#    restarting its VM: the image's lock is gone once cvmm_vm_destroy
#    returned (10 cycles).
#  - soak-flush-kill: tests/tools/flushkill: FK_VMS (50) cvmm processes at
#    once, each mg-bench writing and flushing FK_BLOCKS (64; --soak: 256)
#    blocks of its own disk (mg.case=flushlog), a random third killed with
#    SIGKILL mid-write: every block a guest saw flushed is on its disk, the
#    others ran to their end. The seed is printed (FK_SEED replays it).
# env: CVMM, MG (mg-exit.elf, mg-bench.elf), TMP, ONLY/SKIP, SOAK_CYCLES,
# FK_VMS, FK_BLOCKS, FK_SEED; soak and flushkill in the working directory.
CVMM=${CVMM:-./cvmm}
MG=${MG:-.}
TMP=${TMP:-/tmp/cvmm-soak.$$}
. ./lib.sh

n=soak-cycles
if selected $n; then
	c=${SOAK_CYCLES:-100}
	# a cycle takes 0.1-0.4 s in the emulated test host
	# its progress lines (every 100 cycles) also to the console: a long
	# soak is not a silent test host
	{
		timeout -s KILL $((120 + c)) ./soak "$MG/mg-exit.elf" "$TMP" "$c" 20 fresh 2>"$TMP/$n.err"
		echo "SOAK-STATUS $?"
	} | tee "$TMP/$n.out" | while read -r l; do case $l in "SOAK "[0-9]*) echo "    $l" ;; esac; done
	st=$(sed -n 's/^SOAK-STATUS //p' "$TMP/$n.out")
	if [ $st -eq 0 ] && has $n "^SOAK PASS"; then ok $n "$(sed -n 's/^SOAK PASS //p' "$TMP/$n.out")"
	else bad $n "status $st: $(grep '^SOAK FAIL' "$TMP/$n.out" | head -1)"; fi
fi
n=soak-disk-reuse
if selected $n; then
	timeout -s KILL 120 ./soak "$MG/mg-exit.elf" "$TMP" 10 2 same >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	if [ $st -eq 0 ] && has $n "^SOAK PASS"; then ok $n "10 VMs on one image in turn"
	else bad $n "status $st: $(grep '^SOAK FAIL' "$TMP/$n.out" | head -1)"; fi
fi
n=soak-flush-kill
if selected $n; then
	mkdir -p "$TMP/$n"
	timeout -s KILL 600 ./flushkill "$CVMM" "$MG/mg-bench.elf" "$TMP/$n" "${FK_VMS:-50}" \
		"${FK_BLOCKS:-64}" ${FK_SEED:-$(date +%s)} 400 >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	if [ $st -eq 0 ] && has $n "^FK DONE .* fail=0"; then ok $n "$(sed -n 's/^FK DONE //p' "$TMP/$n.out")"
	else bad $n "status $st: $(grep '^FK' "$TMP/$n.out" | head -3 | tr '\n' ';')"; fi
	rm -rf "$TMP/$n"
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
