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

# One scratch tree, one file per case (a checker run is a Python start,
# slow on a loaded machine): each bad file must be named with its line and
# its rule, no good file at all.
mkdir -p "$tmp/t"
n=0
bad=""
good=""
one() { # pass|fail DIR INCLUDE [rule]
	n=$((n + 1))
	f="$2/case$n.c"
	mkdir -p "$tmp/t/$2"
	printf '/* a scratch file */\n#include <stdint.h>\n%s\n' "$3" >"$tmp/t/$f"
	if [ "$1" = fail ]; then
		bad="$bad$f	$3	$4
"
	else
		good="$good$f	$3
"
	fi
}
# the issue's example: a device including the VM
one fail devices '#include "vmm/vm.h"' 'devices/ may include core/ and devices/ only'
one fail devices/virtio '#include "devices/blk.h"' 'devices/virtio/ may include core/ and devices/virtio/ only'
one fail devices '#include <vmm/vdevs.h>' 'devices/ may include'
one fail devices '#include "arch/x86_64/layout.h"' 'devices/ may include'
one fail core '#include "devices/irq.h"' 'core/ includes nothing of ours above it'
one fail core '#include "cvmm/cvmm.h"' 'core/'
one fail boot '#include "arch/arch.h"' 'boot/ may include core/, boot/ and arch/*/layout.h only'
one fail boot '#include "devices/virtio/queue.h"' 'boot/'
one fail arch/x86_64 '#include "vmm/vm.h"' 'arch/<a>/ may include'
one fail arch/x86_64 '#include "arch/aarch64/layout.h"' 'its own arch/<a>/'
one fail vmm '#include "arch/x86_64/layout.h"' 'vmm/ may include core/, boot/, devices/, arch/arch.h'
one fail vmm '#include "vmm/cli/args.h"' 'vmm/ may include'
one fail vmm/cli '#include "vmm/vm.h"' 'vmm/cli/ may include the public header'
one fail devices '#include "../vmm/vm.h"' 'not a path from the source root'
one fail devices '#include "vm.h"' 'not a path from the source root'
one pass devices '#include "core/bus.h"'
one pass devices '#include "devices/virtio/queue.h"'
one pass boot '#include "arch/x86_64/layout.h"'
one pass arch/aarch64 '#include "arch/aarch64/layout.h"'
one pass arch/aarch64 '#include "devices/serial.h"'
one pass vmm '#include "arch/arch.h"'
one pass vmm/cli '#include "cvmm/cvmm.h"'
one pass devices '#include <linux/virtio_ring.h>'

out=$(python3 "$check" --root "$tmp/t" 2>&1)
[ $? -eq 1 ] || no "the scratch tree's wrong-way includes passed"
printf '%s' "$bad" | while IFS='	' read -r f inc rule; do
	case $out in
	*"$f:3: error: $inc: "*"$rule"*) ;;
	*) echo "FAIL: $f: '$inc' not refused with its file, line and rule ($rule)"; exit 1 ;;
	esac
done || fail=1
printf '%s' "$good" | while IFS='	' read -r f inc; do
	case $out in
	*"$f:"*) echo "FAIL: $f: '$inc' refused: $(printf '%s\n' "$out" | grep -F "$f:")"; exit 1 ;;
	esac
done || fail=1

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
