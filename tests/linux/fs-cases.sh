#!/bin/sh
# virtio-fs cases, sourced by cases.sh (same helpers and counters): the
# guest mounts two shares (rw and ro) and runs guest-job.sh's fs exercise;
# then the host checks the directories byte for byte, and that nothing
# outside them was read or written.
fs_prepare() { # dir
	d=$1
	rm -rf "$d"
	mkdir -p "$d/share/many" "$d/share/sub" "$d/ro/sub"
	echo "hello from the host" >"$d/share/hello.txt"
	dd if=/dev/urandom of="$d/share/big.bin" bs=65536 count=128 2>/dev/null
	echo secret >"$d/share/hostmode"
	chmod 600 "$d/share/hostmode"
	echo other >"$d/share/hostother" # another owner's, mode 0600
	chown 4321:4321 "$d/share/hostother"
	chmod 600 "$d/share/hostother"
	(cd "$d/share/many" && seq 1 10000 | sed 's/^/entry-with-a-longish-name-/' | xargs touch)
	# Outside the share: a sentinel, reached from inside by host-made links.
	echo "host sentinel: must stay unread" >"$d/sentinel"
	touch -t 200001010000 "$d/sentinel" # atime = mtime: any read moves atime
	ln -s "$d/sentinel" "$d/share/hostlink-abs"
	ln -s ../sentinel "$d/share/hostlink-rel"
	echo "read only" >"$d/ro/keep.txt"
}
fs_state() { # dir: what must not change outside the rw share
	(cd "$1" && ls -a . ro ro/sub && stat -c '%n %s %Y %a %h %i' . sentinel ro ro/keep.txt ro/sub &&
		md5sum ro/keep.txt)
	ls -l /etc/passwd 2>&1 # a link the guest made to it must not create or change it
	[ -e /etc/passwd ] && md5sum /etc/passwd
	true
}
fs_case() { # name kernel initrd privileged(yes|no)
	n=$1
	selected $n || return
	d=$TMP/$n.d
	fs_prepare "$d"
	s_atime=$(stat -c %X "$d/sentinel")
	s_md5=$(cat "$d/sentinel" | md5sum | cut -c1-32)
	touch -t 200001010000 "$d/sentinel"
	s_atime=$(stat -c %X "$d/sentinel")
	fs_state "$d" >"$TMP/$n.before"
	big=$(md5sum <"$d/share/big.bin" | cut -c1-32)
	priv_=""
	[ "$4" = yes ] && priv_=",privileged"
	want $n 0 300 -- --kernel "$2" --initrd "$3" --cpus 2 --memory 256M \
		--fs "tag=rw,path=$d/share$priv_" --fs "tag=ro,path=$d/ro,ro" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=fs cvmm.fsown=$4 cvmm.sentinel=$d/sentinel" || return
	secs_=$secs
	sh_=$d/share
	# First the sentinel's atime (reading it below would move it).
	if [ "$(stat -c %X "$d/sentinel")" != "$s_atime" ]; then bad $n "the sentinel outside the share was read (atime moved)"; return; fi
	if [ "$(md5sum <"$d/sentinel" | cut -c1-32)" != "$s_md5" ]; then bad $n "the sentinel outside the share was written"; return; fi
	fs_state "$d" >"$TMP/$n.after"
	if ! cmp -s "$TMP/$n.before" "$TMP/$n.after"; then
		bad $n "something outside the rw share changed: $(diff "$TMP/$n.before" "$TMP/$n.after" | grep '^[-+][^-+]' | head -3 | tr '\n' ' ')"
		return
	fi
	if grep -q GUEST-FS-FAILED "$TMP/$n.out"; then bad $n "guest: $(grep GUEST-FS-FAILED "$TMP/$n.out" | head -3 | tr '\n' ' ')"; return; fi
	if ! has $n GUEST-FS-DONE; then bad $n "the guest did not finish"; return; fi
	why=""
	[ "$(field $n GUEST-FS-BIG)" = "$big" ] || why="guest read other bytes of big.bin"
	cmp -s "$sh_/big.bin" "$sh_/big.copy" || why="big.copy differs from big.bin"
	[ "$(md5sum <"$sh_/gbig.bin" | cut -c1-32)" = "$(field $n GUEST-FS-GBIG)" ] || why="gbig.bin on the host differs from what the guest wrote"
	[ "$(printf 'line one\nline two\n' | md5sum)" = "$(md5sum <"$sh_/new.txt")" ] || why="new.txt (create+append)"
	[ "$(cat "$sh_/trunc.txt")" = 0123 ] || why="trunc.txt not truncated"
	[ -e "$sh_/a.txt" ] || [ -e "$sh_/b.txt" ] || [ -e "$sh_/c.txt" ] && why="a/b/c.txt left behind"
	[ -L "$sh_/sl" ] && [ "$(readlink "$sh_/sl")" = b.txt ] || why="symlink sl"
	[ "$(cat "$sh_/d2moved/f" 2>/dev/null)" = deep ] && [ ! -e "$sh_/d1" ] || why="directory rename/rmdir"
	own_="0 0" # cvmm runs as root here, without the capability to give files away
	[ "$4" = yes ] && own_="1234 5678"
	[ "$(stat -c '%a %u %g' "$sh_/perm.txt")" = "640 $own_" ] || why="perm.txt mode/owner: $(stat -c '%a %u %g' "$sh_/perm.txt"), wanted 640 $own_"
	[ "$(stat -c '%a %u %g' "$sh_/hostother")" = "600 4321 4321" ] || why="hostother changed: $(stat -c '%a %u %g' "$sh_/hostother")"
	[ "$(stat -c %s "$sh_/falloc.bin")" = 65536 ] || why="fallocate"
	[ -L "$sh_/guestlink" ] && [ "$(readlink "$sh_/guestlink")" = "$d/sentinel" ] || why="guest symlink not stored as a link"
	[ -L "$sh_/pw" ] && [ "$(readlink "$sh_/pw")" = /etc/passwd ] || why="pw link"
	[ "$(ls "$sh_/many" | wc -l)" = 10000 ] || why="many/ changed"
	grep -q "GUEST-FS-READDIR n=10000 " "$TMP/$n.out" || why="guest listed $(sed -n 's/.*GUEST-FS-READDIR n=\([0-9]*\).*/\1/p' "$TMP/$n.out") of 10000 entries"
	[ -z "$why" ] || { bad $n "$why"; return; }
	ok $n "privileged=$4; readdir of 10000 took $(sed -n 's/.*GUEST-FS-READDIR n=[0-9]* secs=\([0-9.]*\).*/\1/p' "$TMP/$n.out") s in the guest; cvmm ran ${secs_} s"
}
if [ -f "$KIT/small-bzImage" ]; then
	fs_case fs-small "$KIT/small-bzImage" "$KIT/guest.cpio.gz" yes
	# The worker's seccomp filter: a call outside its table kills cvmm.
	n=fs-worker-seccomp
	if selected $n && [ -f "$MG/mg-check.elf" ]; then
		mkdir -p "$TMP/$n.d"
		CVMM_TEST_SECCOMP_VIOLATION=worker timeout 60 "$CVMM" --kernel "$MG/mg-check.elf" \
			--memory 64M --fs "tag=x,path=$TMP/$n.d" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
		st=$?
		if [ $st -eq 159 ]; then ok $n "killed by SIGSYS"; else bad $n "status $st, wanted 159 (SIGSYS)"; fi
	fi
fi
# --fs ...,xattr (README): the guest sets, gets, lists and removes user.*
# attributes of a file and a directory, and the host sees them; without
# ,xattr the guest gets EOPNOTSUPP and nothing changes on the host. The
# share is on ext4 on a loop device (the test host's /tmp is tmpfs, which
# has no user.* attributes before Linux 6.6).
xattr_case() { # name yes|no
	n=$1
	selected $n || return
	fs=$TMP/$n.fs mnt=$TMP/$n.mnt xt=./xattrtool
	dd if=/dev/zero of="$fs" bs=1048576 count=16 2>/dev/null
	mkdir -p "$mnt"
	if ! mkfs.ext4 -q -F "$fs" >"$TMP/$n.err" 2>&1; then bad $n "mkfs.ext4 failed"; return; fi
	if ! loop=$(losetup -f) || ! losetup "$loop" "$fs" 2>>"$TMP/$n.err"; then bad $n "no loop device"; return; fi
	if ! mount -t ext4 "$loop" "$mnt" 2>>"$TMP/$n.err"; then bad $n "cannot mount"; losetup -d "$loop"; return; fi
	sh_=$mnt/share
	mkdir -p "$sh_/d" && echo data >"$sh_/f"
	if ! $xt set "$sh_/f" user.host fromhost >/dev/null; then bad $n "the host cannot set user.* here"
	else
		x_=""
		[ "$2" = yes ] && x_=",xattr"
		want $n 0 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
			--fs "tag=x,path=$sh_$x_" --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=fs-xattr cvmm.xattr=$2" && {
			why=""
			has $n GUEST-XATTR-DONE || why="the guest did not finish"
			if [ "$2" = yes ]; then
				grep -q GUEST-XATTR-FAILED "$TMP/$n.out" && why="guest: $(grep GUEST-XATTR-FAILED "$TMP/$n.out" | head -3 | tr '\n' ' ')"
				grep -q "GUEST-XATTR-XT LIST.* user.color" "$TMP/$n.out" && grep -q "GUEST-XATTR-XT LIST.* user.host" "$TMP/$n.out" &&
					! grep -q "GUEST-XATTR-XT LIST.* user.gone" "$TMP/$n.out" || why="guest's list: $(grep GUEST-XATTR-XT "$TMP/$n.out")"
				[ "$($xt get "$sh_/f" user.color)" = "XT VALUE blue" ] || why="the host file lacks user.color=blue"
				[ "$($xt get "$sh_/d" user.dir)" = "XT VALUE yes" ] || why="the host directory lacks user.dir=yes"
				[ "$($xt get "$sh_/f" user.gone)" = "XT ERR ENODATA" ] || why="user.gone still on the host file"
			else
				for op in SET GET LIST; do
					grep -q "GUEST-XATTR-$op XT ERR EOPNOTSUPP" "$TMP/$n.out" || why="guest $op: $(grep "GUEST-XATTR-$op" "$TMP/$n.out"), wanted EOPNOTSUPP"
				done
				[ "$($xt get "$sh_/f" user.color)" = "XT ERR ENODATA" ] || why="user.color reached the host file"
			fi
			[ "$($xt get "$sh_/f" user.host)" = "XT VALUE fromhost" ] || why="the host's user.host changed"
			if [ -z "$why" ]; then ok $n "xattr=$2"; else bad $n "$why"; fi
		}
	fi
	umount "$mnt"
	losetup -d "$loop"
}
if [ -f "$KIT/small-bzImage" ]; then
	xattr_case fs-xattr yes
	xattr_case fs-xattr-off no
fi
# Debian's stock kernel: fuse and virtiofs are modules its initramfs loads.
if [ -f "$KIT/stock-vmlinuz" ]; then
	fs_case fs-stock "$KIT/stock-vmlinuz" "$KIT/stock-guest.cpio.gz" no
fi
