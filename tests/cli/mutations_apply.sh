#!/bin/sh
# Every deliberate breakage in tests/mutations still applies to the tree
# (as tests/mutate applies it: patch -p1, dry run). A change that moves a
# mutated line's context fails here, in the quick suite, and not only in
# tests/mutate's run at the end of CI.
# usage: mutations_apply.sh SOURCE_ROOT
set -u
root=$1
n=0 bad=""
for p in "$root"/tests/mutations/*.patch; do
	n=$((n + 1))
	patch -p1 -s --dry-run -d "$root" <"$p" >/dev/null 2>&1 || bad="$bad $(basename "$p" .patch)"
done
if [ "$n" -eq 0 ]; then
	echo "FAIL: no patches in $root/tests/mutations"
	exit 1
fi
if [ -n "$bad" ]; then
	echo "FAIL: no longer apply:$bad (regenerate them: docs/testing.md)"
	exit 1
fi
echo "all $n mutations apply"
