#!/bin/sh
# The layer rule (scripts/check-layers, run by the build before any library
# compiles): the tree passes it, and a wrong-way include in a scratch copy
# of a layer fails it with the file, the line and the rule. The build's
# own use of it (meson.build, `layers`) is what makes such an include a
# build error.
# usage: layers.sh CHECKER SOURCE_ROOT
set -u
check=$1
root=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

no() { echo "FAIL: $*"; fail=1; }

python3 "$check" --root "$root" || no "the tree breaks the layer rule"

# A scratch tree with one file: FILE, its include line; expect pass or fail.
one() { # expect FILE INCLUDE [message]
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t/$(dirname "$2")"
	printf '/* a scratch file */\n#include <stdint.h>\n%s\n' "$3" >"$tmp/t/$2"
	out=$(python3 "$check" --root "$tmp/t" 2>&1)
	rc=$?
	case $1 in
	pass) [ $rc -eq 0 ] || no "$2: '$3' refused: $out" ;;
	fail)
		[ $rc -eq 1 ] || no "$2: '$3' allowed (rc $rc)"
		case $out in
		*"$2:3: error: $3: "*"$4"*) ;;
		*) no "$2: '$3': the message names no file, line and rule: $out" ;;
		esac
		;;
	esac
}

# the issue's example: a device including the VM
one fail devices/bad.c '#include "vmm/vm.h"' 'devices/ may include core/ and devices/ only'
one fail devices/virtio/bad.c '#include "devices/blk.h"' 'devices/virtio/ may include core/ and devices/virtio/ only'
one fail devices/bad.h '#include <vmm/vdevs.h>' 'devices/ may include'
one fail devices/bad.c '#include "arch/x86_64/layout.h"' 'devices/ may include'
one fail core/bad.c '#include "devices/irq.h"' 'core/ includes nothing of ours above it'
one fail core/bad.c '#include "cvmm/cvmm.h"' 'core/'
one fail boot/bad.c '#include "arch/arch.h"' 'boot/ may include core/, boot/ and arch/*/layout.h only'
one fail boot/bad.c '#include "devices/virtio/queue.h"' 'boot/'
one fail arch/x86_64/bad.c '#include "vmm/vm.h"' 'arch/<a>/ may include'
one fail arch/x86_64/bad.c '#include "arch/aarch64/layout.h"' 'its own arch/<a>/'
one fail vmm/bad.c '#include "arch/x86_64/layout.h"' 'vmm/ may include core/, boot/, devices/, arch/arch.h'
one fail vmm/bad.c '#include "vmm/cli/args.h"' 'vmm/ may include'
one fail vmm/cli/bad.c '#include "vmm/vm.h"' 'vmm/cli/ may include the public header'
one fail devices/bad.c '#include "../vmm/vm.h"' 'not a path from the source root'
one fail devices/bad.c '#include "vm.h"' 'not a path from the source root'
one pass devices/ok.c '#include "core/bus.h"'
one pass devices/ok.c '#include "devices/virtio/queue.h"'
one pass boot/ok.c '#include "arch/x86_64/layout.h"'
one pass arch/aarch64/ok.c '#include "arch/aarch64/layout.h"'
one pass arch/aarch64/ok.c '#include "devices/serial.h"'
one pass vmm/ok.c '#include "arch/arch.h"'
one pass vmm/cli/ok.c '#include "cvmm/cvmm.h"'
one pass devices/ok.c '#include <linux/virtio_ring.h>'

# The stamp and depfile the build uses: written on success only.
rm -rf "$tmp/t" && mkdir -p "$tmp/t/devices"
echo '#include "core/err.h"' >"$tmp/t/devices/ok.c"
python3 "$check" --root "$tmp/t" --stamp "$tmp/ok.h" --depfile "$tmp/ok.d" || no "a good tree refused"
[ -f "$tmp/ok.h" ] || no "no stamp after a pass"
grep -q "devices/ok.c" "$tmp/ok.d" 2>/dev/null || no "the depfile does not name the files read"
echo '#include "vmm/vm.h"' >>"$tmp/t/devices/ok.c"
rm -f "$tmp/ok.h"
python3 "$check" --root "$tmp/t" --stamp "$tmp/ok.h" --depfile "$tmp/ok.d" 2>/dev/null && no "a bad tree passed"
[ -f "$tmp/ok.h" ] && no "a stamp after a failure"

[ $fail -eq 0 ] && echo "layers: the rule holds and is enforced"
exit $fail
