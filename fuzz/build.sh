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
	boot/x86_mptable.c boot/acpi.c boot/aml.c"
TARGETS="bzimage pvh_elf acpi mptable"

mkdir -p fuzz/out
for t in $TARGETS; do
	echo "CC fuzz/out/fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS "fuzz/fuzz_$t.c" $LIB -o "fuzz/out/fuzz_$t"
done

if [ "${1:-}" = run ]; then
	secs=${2:-60}
	for t in $TARGETS; do
		work="fuzz/out/corpus_$t"
		mkdir -p "$work"
		echo "RUN fuzz_$t for ${secs}s"
		"fuzz/out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="fuzz/out/crash_${t}_" "$work" "fuzz/corpus/$t"
	done
fi
