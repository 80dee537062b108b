#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets listed in fuzz/targets into fuzz/out/. Run
# from anywhere:
#   fuzz/build.sh                        build all targets
#   fuzz/build.sh run [SEC] [NAME...]    build, then run each target (or the
#                                        named ones, one a core at a time) for SEC seconds (default
#                                        60) on a scratch corpus kept in
#                                        fuzz/out/corpus_NAME, grown from its
#                                        seeds; prints FUZZ fuzz_NAME PASS|FAIL
#   fuzz/build.sh cover [SEC] [NAME...]  the same with clang source-based
#                                        coverage instead of the sanitizers,
#                                        from the seeds alone, then an
#                                        llvm-cov report on the sources each
#                                        target is about (fuzz/targets), per
#                                        function in fuzz/out/cover/NAME.functions
# A new target is fuzz/fuzz_NAME.c, its line in fuzz/targets and seeds in
# fuzz/corpus/NAME/ (plus its library sources in LIB below if new). A crash
# leaves its input in fuzz/out/crash_NAME_*; once fixed, keep it in
# fuzz/regress/NAME/ (the unit suite replays it forever).
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
LLVM_COV=${LLVM_COV:-llvm-cov}
FLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
	-Wno-missing-field-initializers -Wshadow -Wmissing-prototypes -Wstrict-prototypes
	-Wvla
	-I. -Ivmm/include"
# Library sources compiled once into an archive; a target links what it uses.
LIB="core/mem.c core/err.c core/bus.c core/jail.c core/jail_progs_none.c core/log.c core/snap.c core/ratelimit.c core/thread.c boot/x86_kernel.c boot/x86_e820.c
	boot/x86_bootinfo.c boot/x86_mptable.c boot/acpi.c boot/aml.c boot/arm64_image.c
	boot/arm64_fdt.c vmm/cli/args.c vmm/cli/jailer/jailer_args.c
	vmm/cli/config_json.c vmm/cli/api.c vmm/cli/api_mmds.c vmm/cli/limiter_json.c vmm/config.c vmm/log_api.c
	vmm/snapshot_config.c vmm/mmds.c
	devices/serial.c devices/rtc.c devices/pl031.c devices/i8042.c devices/acpi_pm.c devices/legacy_snap.c devices/blk.c
	devices/blk_model.c devices/virtio/queue.c devices/virtio/mmio.c devices/virtio/pci.c
	devices/virtio/pci_host.c devices/virtio/virtio.c devices/virtio/worker.c devices/virtio/worker_jail.c devices/virtio/limiter.c
	devices/net.c devices/net_tap.c devices/net_stream.c devices/net_model.c devices/fs.c
	devices/fs_model.c devices/fs_srv.c devices/vsock_model.c devices/vsock.c devices/rng.c
	devices/balloon.c devices/balloon_model.c
	devices/net_mmds.c devices/mmds.c devices/mmds_net.c devices/mmds_tcp.c devices/mmds_http.c
	devices/mmds_json.c"
LIBS="-luring -lseccomp -lpthread -ljson-c -lhttp_parser -lfdt"

mode=${1:-build}
secs=${2:-60}
all=$(sed -e 's/#.*//' fuzz/targets | awk 'NF { print $1 }')
targets=$all
if [ $# -gt 2 ]; then
	shift 2
	targets=$*
fi
for t in $targets; do
	if ! echo "$all" | grep -qx "$t"; then
		echo "fuzz/build.sh: no target '$t' in fuzz/targets" >&2
		exit 2
	fi
done

case $mode in
build | run)
	out=fuzz/out
	CFLAGS="$FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
	;;
cover)
	out=fuzz/out/cover
	CFLAGS="$FLAGS -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping"
	;;
*)
	echo "usage: fuzz/build.sh [run|cover [SEC] [NAME...]]" >&2
	exit 2
	;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
export CC CFLAGS LIBS out

mkdir -p "$out/obj"
rm -f "$out"/obj/*.o "$out/libcvmm-fuzz.a"
echo "CC $out/libcvmm-fuzz.a"
# shellcheck disable=SC2086,SC2016
printf '%s\n' $LIB | xargs -P "$jobs" -I{} sh -c \
	'$CC $CFLAGS -c "$1" -o "$out/obj/$(echo "$1" | tr / _).o"' sh {}
ar rcs "$out/libcvmm-fuzz.a" "$out"/obj/*.o
# shellcheck disable=SC2086,SC2016
printf '%s\n' $targets | xargs -P "$jobs" -I{} sh -c \
	'echo "CC $out/fuzz_$1" && $CC $CFLAGS "fuzz/fuzz_$1.c" "$out/libcvmm-fuzz.a" $LIBS \
	-o "$out/fuzz_$1"' sh {}

if [ "$mode" = run ]; then
	for t in $targets; do rm -f "$out/$t.result"; done
	# One target a core at a time (each is one process); each one's lines
	# are printed when all have run, in fuzz/targets' order.
	export secs
	# shellcheck disable=SC2086,SC2016
	printf '%s\n' $targets | xargs -P "$jobs" -I{} sh -c '
		t=$1 work="$out/corpus_$t" st=0
		mkdir -p "$work" "fuzz/corpus/$t"
		{
			echo "RUN fuzz_$t for ${secs}s"
			if "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
				-artifact_prefix="$out/crash_${t}_" "$work" "fuzz/corpus/$t" \
				>"$out/$t.log" 2>&1; then
				echo "FUZZ fuzz_$t PASS $(grep -m1 -o "stat::number_of_executed_units: *[0-9]*" "$out/$t.log" | grep -o "[0-9]*$") execs"
			else
				st=1
				echo "FUZZ fuzz_$t FAIL (input kept in $out/crash_${t}_*)"
				tail -30 "$out/$t.log"
			fi
		} >"$out/$t.result"
		exit $st' sh {} || true
	failed=0
	for t in $targets; do
		if [ -f "$out/$t.result" ]; then
			cat "$out/$t.result"
			grep -q "^FUZZ fuzz_$t PASS" "$out/$t.result" || failed=1
		else
			echo "FUZZ fuzz_$t FAIL (it did not run)"
			failed=1
		fi
	done
	exit $failed
fi

if [ "$mode" = cover ]; then
	for t in $targets; do
		work="$out/corpus_$t"
		rm -rf "$work" "$out/$t.profraw"
		mkdir -p "$work"
		echo "COVER fuzz_$t for ${secs}s"
		LLVM_PROFILE_FILE="$out/$t.profraw" "$out/fuzz_$t" -max_total_time="$secs" \
			-print_final_stats=1 "$work" "fuzz/corpus/$t" >"$out/$t.log" 2>&1 || true
		"$LLVM_PROFDATA" merge -sparse "$out/$t.profraw" -o "$out/$t.profdata"
		srcs=$(sed -e 's/#.*//' fuzz/targets | awk -v t="$t" '$1 == t { $1 = ""; print }')
		# shellcheck disable=SC2086
		"$LLVM_COV" report "$out/fuzz_$t" -instr-profile="$out/$t.profdata" $srcs |
			tee "$out/$t.cover"
		# shellcheck disable=SC2086
		"$LLVM_COV" report -show-functions "$out/fuzz_$t" -instr-profile="$out/$t.profdata" \
			$srcs >"$out/$t.functions"
	done
fi
