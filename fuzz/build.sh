#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets into fuzz/out/. Run from anywhere:
#   fuzz/build.sh            build all targets
#   fuzz/build.sh run [SEC]  build, then run each for SEC seconds (default 60)
#                            on a scratch copy of its seed corpus
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-I. -Ivmm/include"
LIB="vmm/mem.c vmm/err.c boot/x86_kernel.c boot/x86_e820.c boot/x86_bootinfo.c
	boot/x86_mptable.c boot/acpi.c boot/aml.c vmm/cli/args.c devices/serial.c
	devices/rtc.c devices/i8042.c devices/acpi_pm.c devices/virtio/queue.c"
TARGETS="bzimage pvh_elf acpi mptable cli legacy virtqueue"

mkdir -p fuzz/out
for t in $TARGETS; do
	echo "CC fuzz/out/fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS "fuzz/fuzz_$t.c" $LIB -lpthread -o "fuzz/out/fuzz_$t"
done

if [ "${1:-}" = run ]; then
	secs=${2:-60}
	failed=0
	for t in $TARGETS; do
		work="fuzz/out/corpus_$t"
		mkdir -p "$work" "fuzz/corpus/$t"
		echo "RUN fuzz_$t for ${secs}s"
		if "fuzz/out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="fuzz/out/crash_${t}_" "$work" "fuzz/corpus/$t" \
			>"fuzz/out/$t.log" 2>&1; then
			echo "FUZZ fuzz_$t PASS $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/out/$t.log" | grep -o '[0-9]*$') execs"
		else
			failed=1
			echo "FUZZ fuzz_$t FAIL (input kept in fuzz/out/crash_${t}_*)"
			tail -30 "fuzz/out/$t.log"
		fi
	done
	exit $failed
fi
