#!/bin/sh
# Runs as the job of a test guest's init (see mkinitramfs). What it does is
# chosen by cvmm.test=NAME on the kernel command line; it prints only a few
# lines because every serial byte costs a VM exit.
t=$(sed -n 's/.*cvmm\.test=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
info() {
	cpus=$(grep -c '^processor' /proc/cpuinfo)
	online=$(cat /sys/devices/system/cpu/online 2>/dev/null)
	mem=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	echo "GUEST-INFO cpus=$cpus online=$online memkb=$mem"
	# arm64: which GIC the guest drives (the chip name in /proc/interrupts)
	grep -q GIC /proc/interrupts && echo "GUEST-IRQCHIP $(grep -o -m1 'GIC[v0-9-]*' /proc/interrupts)"
	echo "GUEST-CMDLINE $(cat /proc/cmdline)"
	[ -e /dev/rtc0 ] && echo "GUEST-RTC $(cat /sys/class/rtc/rtc0/date 2>/dev/null)"
	echo "GUEST-DATE $(date -u +%Y)"
	echo "GUEST-TIME $(date +%s) rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null | tr ' ' _)"
}
# blk: the host wrote 1 MiB of pattern at the start of vda; report its hash,
# write 1 MiB of our own at 2 MiB (flushed), report that hash too.
blk_raw() {
	echo "GUEST-BLK-READ $(dd if=/dev/vda bs=65536 count=16 2>/dev/null | md5sum | cut -c1-32)"
	dd if=/dev/urandom of=/tmp/w bs=65536 count=16 2>/dev/null
	dd if=/tmp/w of=/dev/vda bs=65536 seek=32 conv=fsync 2>/dev/null || echo "GUEST-BLK-WRITE-FAILED"
	echo "GUEST-BLK-WROTE $(md5sum </tmp/w | cut -c1-32)"
	echo "GUEST-BLK-SIZE $(cat /sys/block/vda/size) ro=$(cat /sys/block/vda/ro) queues=$(ls /sys/block/vda/mq | wc -l)"
	echo "GUEST-BLK-SERIAL $(cat /sys/block/vda/serial 2>/dev/null)"
	echo "GUEST-BLK-DISKS $(ls -d /sys/block/vd* 2>/dev/null | wc -l)"
}
# net: cvmm.ip=A/N cvmm.peer=B [cvmm.gw=G]. Configure eth0, ping the peer,
# then two byte-exact TCP transfers: receive on port 5001 (the host sends
# after GUEST-NET-READY), send /tmp/tx to the peer's port 5002.
arg() { sed -n "s/.*cvmm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
net_up() {
	ip link set lo up
	# no IPv6 chatter: the frame counts the host compares are ours alone
	echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null
	ip link set eth0 up || echo "GUEST-NET-FAILED no eth0"
	ip addr add "$(arg ip)" dev eth0
	[ -n "$(arg gw)" ] && ip route add default via "$(arg gw)"
	echo "GUEST-NET-MAC $(cat /sys/class/net/eth0/address)"
	echo "GUEST-NET-QUEUES rx=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)"
}
net_test() {
	net_up
	peer=$(arg peer)
	if ping -c 3 -W 10 "$peer" >/tmp/ping 2>&1; then
		echo "GUEST-PING ok $(grep -o '[0-9]* packets received' /tmp/ping)"
	else
		echo "GUEST-PING failed"; cat /tmp/ping
	fi
	mb=$(arg mb)
	dd if=/dev/urandom of=/tmp/tx bs=65536 count=$((${mb:-4} * 16)) 2>/dev/null
	echo "GUEST-NET-TX-MD5 $(md5sum </tmp/tx | cut -c1-32)"
	# nc quits when its stdin ends: give the listener a fifo kept open
	# cvmm.pin=C: both transfers run on vCPU C (XPS: its TX queue; the
	# tap steers a flow's frames back to the queue it came from)
	pin=""
	[ -n "$(arg pin)" ] && pin="taskset -c $(arg pin)"
	mkfifo /tmp/hold
	timeout 300 $pin nc -l -p 5001 </tmp/hold >/tmp/rx &
	ncpid=$!
	exec 3>/tmp/hold
	sleep 0.5
	echo "GUEST-NET-READY"
	timeout 300 $pin nc "$peer" 5002 </tmp/tx || echo "GUEST-NET-SEND-FAILED"
	wait $ncpid
	exec 3>&-
	echo "GUEST-NET-RX $(md5sum </tmp/rx | cut -c1-32) $(wc -c </tmp/rx)"
	sleep 1 # the connections' last ACKs
	net_stats
	# each virtio interrupt line (MSI-X: one per queue) with its total
	if [ -n "$pin" ]; then
		awk '/virtio/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print "GUEST-IRQ", $NF, s }' /proc/interrupts
	fi
}
# Frames the driver sent and received, for the host to compare with the
# tap's counters (a frame cvmm dropped shows there; TCP would hide it).
net_stats() {
	s=/sys/class/net/eth0/statistics
	echo "GUEST-NET-STATS tx=$(cat $s/tx_packets) rx=$(cat $s/rx_packets) rx_dropped=$(cat $s/rx_dropped)"
}
# fs: the virtio-fs exercise (tests/linux/fs-cases.sh prepared the shares
# "rw" and "ro" on the host). Every problem prints GUEST-FS-FAILED <what>;
# the host then checks what landed in the directories, and what did not.
fs_test() {
	m=/mnt/rw r=/mnt/ro
	nok() { echo "GUEST-FS-FAILED $*"; }
	mkdir -p $m $r
	mount -t virtiofs rw $m || nok mount-rw
	mount -t virtiofs ro $r || nok mount-ro
	[ "$(cat $m/hello.txt)" = "hello from the host" ] || nok read-host-file
	echo "GUEST-FS-BIG $(md5sum <$m/big.bin | cut -c1-32)"
	cp $m/big.bin $m/big.copy || nok copy
	echo "line one" >$m/new.txt || nok create
	echo "line two" >>$m/new.txt || nok append
	dd if=/dev/urandom of=/tmp/gbig bs=65536 count=64 2>/dev/null
	cp /tmp/gbig $m/gbig.bin && sync || nok write-big
	echo 3 >/proc/sys/vm/drop_caches
	cmp /tmp/gbig $m/gbig.bin || nok big-reread
	echo "GUEST-FS-GBIG $(md5sum </tmp/gbig | cut -c1-32)"
	printf 0123456789 >$m/trunc.txt
	truncate -s 4 $m/trunc.txt || nok truncate
	[ "$(cat $m/trunc.txt)" = 0123 ] || nok truncate-read
	echo moved >$m/a.txt
	mv $m/a.txt $m/b.txt || nok rename
	[ -e $m/a.txt ] && nok rename-left-old
	ln $m/b.txt $m/c.txt || nok link
	[ "$(stat -c %h $m/b.txt)" = 2 ] || nok link-count
	ln -s b.txt $m/sl || nok symlink
	[ "$(readlink $m/sl)" = b.txt ] || nok readlink
	[ "$(cat $m/sl)" = moved ] || nok read-via-symlink
	mkdir -p $m/d1/d2 || nok mkdir
	echo deep >$m/d1/d2/f
	mv $m/d1/d2 $m/d2moved || nok rename-dir
	rmdir $m/d1 || nok rmdir
	rm $m/c.txt || nok unlink
	echo p >$m/perm.txt
	chmod 640 $m/perm.txt || nok chmod
	# a privileged share (cvmm.fsown=yes) lets root give files away;
	# otherwise the host's rules for cvmm's own uid apply
	if [ "$(arg fsown)" = yes ]; then
		chown 1234:5678 $m/perm.txt || nok chown
		[ "$(cat $m/hostother)" = other ] || nok read-of-other-owner-0600-privileged
	else
		chown 1234:5678 $m/perm.txt 2>/dev/null && nok chown-allowed-unprivileged
		chmod 600 $m/hostother 2>/dev/null && nok chmod-of-other-owner-allowed
		cat $m/hostother >/dev/null 2>&1 && nok read-of-other-owner-0600-allowed
	fi
	[ "$(stat -c %a $m/hostmode)" = 600 ] || nok host-mode
	fallocate -l 65536 $m/falloc.bin || nok fallocate
	t0=$(cut -d' ' -f1 /proc/uptime)
	n=$(ls $m/many | wc -l)
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "GUEST-FS-READDIR n=$n secs=$(awk "BEGIN { print $t1 - $t0 }")"
	[ "$(ls -l $m/many | wc -l)" -gt 10000 ] || nok readdir-stat
	# Escapes. The sentinel's host path also exists in the guest, with other
	# bytes: a link followed on the host would show the host's.
	s=$(arg sentinel)
	mkdir -p "${s%/*}" && echo guest-side >"$s"
	[ "$(cat $m/hostlink-abs 2>/dev/null)" = guest-side ] || nok abs-link-not-guest-side
	cat $m/hostlink-rel >/dev/null 2>&1 && nok rel-link-readable
	ln -s "$s" $m/guestlink || nok guest-symlink
	echo pwned >$m/guestlink || nok write-guest-link
	ln -s /etc/passwd $m/pw
	echo pwned >>$m/pw
	cat $m/../sentinel >/dev/null 2>&1 && nok dotdot
	cat $m/sub/../../sentinel >/dev/null 2>&1 && nok dotdot-chain
	mv $m/b.txt /tmp/b.txt || nok rename-out
	[ "$(cat /tmp/b.txt)" = moved ] || nok rename-out-content
	# The read-only share: reads work, every write is refused.
	[ "$(cat $r/keep.txt)" = "read only" ] || nok ro-read
	for op in "echo x >$r/new" "echo x >>$r/keep.txt" "rm $r/keep.txt" "mkdir $r/dir" \
		"chmod 777 $r/keep.txt" "mv $r/keep.txt $r/moved" "ln -s x $r/sl" "ln $r/keep.txt $r/hl" \
		"touch $r/keep.txt" "truncate -s 0 $r/keep.txt" "rmdir $r/sub" "mknod $r/fifo p"; do
		sh -c "$op" 2>/dev/null && nok "ro-share-allowed: $op"
	done
	umount $m || nok umount-rw
	umount $r || nok umount-ro
	echo "GUEST-FS-DONE"
}
# vsock: both ends of tests/linux/vsock-cases.sh's scenario, guest side.
# Listeners for the host's connections in the background, our own
# connections to the host in turn, results on the console; then a device
# reset (the driver unbound and bound again) with a connection open.
vsock_test() {
	vt=/work/vsocktool
	big=$(($(arg mb) * 1048576)) many=$(arg many)
	$vt listen vsock:5000 recv $big >/tmp/l5000 2>&1 & p1=$!
	$vt listen vsock:5001 recv 1048576 "$many" >/tmp/l5001 2>&1 & p2=$!
	$vt listen vsock:5002 send $big >/tmp/l5002 2>&1 & p3=$!
	$vt listen vsock:5003 hold "$(arg hold)" >/tmp/l5003 2>&1 & p4=$!
	$vt listen vsock:5004 hold 1 >/tmp/l5004 2>&1 & p5=$!
	sleep 0.5
	echo "GUEST-VSOCK-READY"
	$vt connect vsock:2:6000 send $big >/tmp/c6000 2>&1
	echo "GUEST-VSOCK-C6000 $? $(grep VT /tmp/c6000 | head -1)"
	$vt connect vsock:2:6001 send 1048576 "$many" >/tmp/c6001 2>&1
	echo "GUEST-VSOCK-C6001 $? sent=$(grep -c SENT /tmp/c6001)"
	$vt connect vsock:2:6999 refused >/tmp/c6999 2>&1
	echo "GUEST-VSOCK-C6999 $? $(grep VT /tmp/c6999 | head -1)"
	wait $p1; echo "GUEST-VSOCK-L5000 $? $(grep VT /tmp/l5000 | tail -1)"
	wait $p2; echo "GUEST-VSOCK-L5001 $? ok=$(grep -c RECV-OK /tmp/l5001)"
	wait $p3; echo "GUEST-VSOCK-L5002 $? $(grep VT /tmp/l5002 | tail -1)"
	wait $p4; echo "GUEST-VSOCK-L5003 $? $(grep VT /tmp/l5003 | tail -1)"
	wait $p5; echo "GUEST-VSOCK-L5004 $? $(grep VT /tmp/l5004 | tail -1)"
	# Device reset with a connection open: the host's client must see it end.
	dev=$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep virtio | head -1)
	$vt listen vsock:5010 hold 60 >/tmp/l5010 2>&1 &
	sleep 0.5
	echo "GUEST-VSOCK-RESET-READY $dev"
	sleep 3
	echo "$dev" >/sys/bus/virtio/drivers/vmw_vsock_virtio_transport/unbind
	echo "GUEST-VSOCK-UNBOUND $?"
	sleep 4
	echo "$dev" >/sys/bus/virtio/drivers/vmw_vsock_virtio_transport/bind
	sleep 0.5
	$vt connect vsock:2:6002 send 1048576 >/tmp/c6002 2>&1
	echo "GUEST-VSOCK-C6002 $? $(grep VT /tmp/c6002 | head -1)"
}
# Without ACPI the kernel cannot power off (it halts): reset instead.
# pci: what tests/linux/pci-cases.sh checks. The PCI functions as lspci
# would list them (from sysfs), then work on every vCPU so that each CPU's
# queues raise their own interrupts (blk-mq and XPS map queues to CPUs):
# direct reads of vda, and with cvmm.ip a ping of cvmm.peer; with
# cvmm.fstag a file of that share, with cvmm.vsockport 256 KiB to the
# host's vsock port; then the virtio interrupt lines of /proc/interrupts
# with their totals.
pci_test() {
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d" ] || continue # no PCI bus (virtio-mmio)
		echo "GUEST-PCI ${d##*/} $(cat $d/vendor):$(cat $d/device) class=$(cat $d/class) irq=$(cat $d/irq)"
	done
	[ -n "$(arg ip)" ] && net_up >/dev/null
	ncpu=$(grep -c '^processor' /proc/cpuinfo)
	c=0
	while [ $c -lt "$ncpu" ]; do
		if [ -b /dev/vda ]; then
			taskset -c $c dd if=/dev/vda of=/dev/null bs=4096 count=64 skip=$((c * 64)) iflag=direct 2>/dev/null ||
				echo "GUEST-PCI-FAILED blk-read-cpu$c"
		fi
		if [ -n "$(arg ip)" ]; then
			taskset -c $c ping -c 3 -i 0.2 -W 10 "$(arg peer)" >/dev/null 2>&1 || echo "GUEST-PCI-FAILED ping-cpu$c"
		fi
		c=$((c + 1))
	done
	[ -b /dev/vda ] && echo "GUEST-BLK-QUEUES $(ls /sys/block/vda/mq | wc -l)"
	if [ -n "$(arg fstag)" ]; then
		mkdir -p /mnt/pcifs
		mount -t virtiofs "$(arg fstag)" /mnt/pcifs && echo "GUEST-PCI-FS $(md5sum </mnt/pcifs/hello | cut -c1-32)" ||
			echo "GUEST-PCI-FAILED fs-mount"
	fi
	if [ -n "$(arg vsockport)" ]; then
		/work/vsocktool connect "vsock:2:$(arg vsockport)" send 262144 >/tmp/pcivs 2>&1 ||
			echo "GUEST-PCI-FAILED vsock $(head -1 /tmp/pcivs)"
	fi
	awk '/virtio/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print "GUEST-IRQ", $NF, s, $(i) }' /proc/interrupts
}
# Each virtio device but the disk moving data: ping over the tap, 1 MiB
# over vsock, the share "share" read and a file written there (text: $1).
devices_test() {
	net_up
	i=0
	until ping -c 1 -W 2 "$(arg peer)" >/dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i + 1)); done
	ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"
	/work/vsocktool connect vsock:2:6000 send 1048576 >/tmp/c6000 2>&1
	echo "GUEST-VSOCK-C6000 $? $(grep VT /tmp/c6000 | head -1)"
	mkdir -p /mnt/s && mount -t virtiofs share /mnt/s || echo "GUEST-FS-FAILED mount"
	echo "GUEST-FS-HOST $(cat /mnt/s/hello.txt)"
	echo "$1" >/mnt/s/guest.txt && sync
	umount /mnt/s || echo "GUEST-FS-FAILED umount"
	echo "GUEST-DEVICES-DONE"
}
# rng: /dev/hwrng is virtio-rng's; two reads of 64 bytes and one of 16 KiB
rng_test() {
	if [ ! -e /dev/hwrng ]; then echo "GUEST-RNG-FAILED no /dev/hwrng"; return; fi
	echo "GUEST-RNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
	a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum | cut -c1-32)
	b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum | cut -c1-32)
	n=$(dd if=/dev/hwrng bs=4096 count=4 2>/dev/null | wc -c)
	echo "GUEST-RNG a=$a b=$b bytes=$n"
}
# The i8042's keyboard, once atkbd (which may probe it after init starts)
# made it an input device, and its interrupts so far. A Ctrl-Alt-Del then
# reboots us: PID 1 is a shell, so the kernel restarts itself (C_A_D).
kbd_wait() {
	i=0
	until grep -q '^N: Name="AT ' /proc/bus/input/devices 2>/dev/null || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
	echo "GUEST-KBD $(sed -n 's/^N: Name="\(AT .*\)"/\1/p' /proc/bus/input/devices | tr ' ' _) irq1=$(awk '$1 == "1:" { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s }' /proc/interrupts)"
}
# The VM Generation ID (cases.sh vmgenid-small): is the vmgenid driver bound
# to the ACPI device (VMGENCTR)? Once our RNG is ready (a reseed is logged
# only then), say so and wait for the host's new ID: the driver, notified,
# reads it and, finding it changed, reseeds and logs that.
vmgenid_test() {
	dev=$(ls /sys/bus/acpi/drivers/vmgenid 2>/dev/null | grep -m1 VMGENCTR)
	echo "GUEST-VMGENID-BOUND ${dev:-none}"
	head -c 1 /dev/random >/dev/null
	if dmesg | grep -q 'virtual machine fork'; then echo "GUEST-VMGENID-EARLY"; fi
	echo "GUEST-VMGENID-READY"
	i=0
	while [ $i -lt 600 ]; do
		if dmesg | grep -q 'crng reseeded due to virtual machine fork'; then
			echo "GUEST-VMGENID-RESEEDED"
			# the GED's two interrupts: the power button's, the ID's
			echo "GUEST-VMGENID-GED $(grep -c 'ACPI:Ged' /proc/interrupts)" \
				"$(grep 'ACPI:Ged' /proc/interrupts | tr -s ' ' | tr '\n' ';')"
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "GUEST-VMGENID-UNCHANGED"
}
finish() {
	if grep -q 'acpi=off' /proc/cmdline; then reboot -f; else poweroff -f; fi
}
# mmds: tests/linux/mmds-cases.sh. cvmm.ip, cvmm.peer (the host's tap
# address: the ping that must still reach the tap), cvmm.ver=1|2. V1: the
# listing, JSON, a leaf, then a host PATCH awaited (polled). V2: a token,
# GETs with, without and with an expired token (raw requests: busybox wget
# cannot PUT), then malformed frames at the MMDS (mmdsflood) in two
# rounds the host measures cvmm's memory around, and a GET after them.
mmds_req() { printf "$1" | timeout 30 nc 169.254.169.254 80 | tr -d '\r'; }
mmds_test() {
	net_up
	ip route add 169.254.169.254/32 dev eth0
	M=http://169.254.169.254
	if ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1; then echo "GUEST-PING ok"; else echo "GUEST-PING failed"; fi
	if [ "$(arg ver)" = 1 ]; then
		echo "GUEST-MMDS-LIST $(timeout 30 wget -q -O - $M/latest/meta-data/ | tr '\n' ',')"
		echo "GUEST-MMDS-JSON $(timeout 30 wget -q -O - --header 'Accept: application/json' $M/latest/meta-data/)"
		h=$(timeout 30 wget -q -O - $M/latest/meta-data/hostname)
		echo "GUEST-MMDS-HOSTNAME $h"
		echo "GUEST-MMDS-WAIT-PATCH"
		i=0 v=$h
		while [ $i -lt 120 ] && [ "$v" = "$h" ]; do
			sleep 1
			v=$(timeout 30 wget -q -O - $M/latest/meta-data/hostname)
			i=$((i + 1))
		done
		echo "GUEST-MMDS-PATCHED $v"
		return
	fi
	tok=$(mmds_req 'PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 600\r\nConnection: close\r\n\r\n' | tail -1)
	echo "GUEST-MMDS-TOKEN-LEN ${#tok}"
	echo "GUEST-MMDS-V2-GET $(timeout 30 wget -q -O - --header "X-metadata-token: $tok" $M/latest/meta-data/hostname)"
	echo "GUEST-MMDS-V2-NOTOKEN $(mmds_req 'GET /latest/meta-data/hostname HTTP/1.1\r\nConnection: close\r\n\r\n' | head -1)"
	t1=$(mmds_req 'PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1\r\nConnection: close\r\n\r\n' | tail -1)
	sleep 2
	echo "GUEST-MMDS-V2-EXPIRED $(mmds_req "GET /latest/meta-data/hostname HTTP/1.1\r\nX-metadata-token: $t1\r\nConnection: close\r\n\r\n" | head -1)"
	echo "GUEST-MMDS-FLOOD1 $(/work/mmdsflood eth0 "$(arg flood1)")"
	sleep 3
	echo "GUEST-MMDS-FLOOD2-START"
	sleep 3
	echo "GUEST-MMDS-FLOOD2 $(/work/mmdsflood eth0 "$(arg flood2)")"
	sleep 3
	echo "GUEST-MMDS-FLOOD2-DONE"
	sleep 3
	echo "GUEST-MMDS-AFTER $(timeout 30 wget -q -O - --header "X-metadata-token: $tok" $M/latest/meta-data/hostname)"
	if ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1; then echo "GUEST-PING2 ok"; else echo "GUEST-PING2 failed"; fi
}
case "$t" in
info) info; finish ;;
blk) info; blk_raw; finish ;;
rng) rng_test; finish ;;
vmgenid) vmgenid_test; finish ;;
pci) pci_test; finish ;;
pci-blk) pci_test; blk_raw; finish ;;
blk-ro)
	echo "GUEST-BLK-RO ro=$(cat /sys/block/vda/ro)"
	echo "GUEST-BLK-READ $(dd if=/dev/vda bs=65536 count=16 2>/dev/null | md5sum | cut -c1-32)"
	if dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null; then
		echo "GUEST-BLK-RO-WRITE ok"
	else
		echo "GUEST-BLK-RO-WRITE refused"
	fi
	poweroff -f ;;
blk-ext4)
	mkfs.ext4 -q -F /dev/vda >/dev/null 2>&1 || echo "GUEST-MKFS-FAILED"
	mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || echo "GUEST-MOUNT-FAILED"
	i=0
	while [ $i -lt 50 ]; do echo "line $i of the cvmm ext4 test" >>/mnt/hello.txt; i=$((i + 1)); done
	dd if=/dev/urandom of=/mnt/big.bin bs=65536 count=64 2>/dev/null
	sync
	echo "GUEST-EXT4 hello=$(md5sum </mnt/hello.txt | cut -c1-32) big=$(md5sum </mnt/big.bin | cut -c1-32)"
	umount /mnt || echo "GUEST-UMOUNT-FAILED"
	mount -t ext4 -o ro /dev/vda /mnt && echo "GUEST-EXT4-REREAD big=$(md5sum </mnt/big.bin | cut -c1-32)"
	umount /mnt
	poweroff -f ;;
fio)
	# bench/blk: the fio jobs on the first disk, bypassing the page cache;
	# cvmm.fiojobs=N: N jobs at once (one per vCPU: each its own queue)
	echo "GUEST-FIO-START"
	nj=$(arg fiojobs)
	sh /work/fio-jobs.sh /dev/vda "--direct=1${nj:+ --numjobs=$nj --group_reporting}"
	echo "GUEST-FIO-END"
	finish ;;
blk-kill)
	dd if=/dev/urandom of=/tmp/w bs=65536 count=16 2>/dev/null
	dd if=/tmp/w of=/dev/vda bs=65536 seek=32 conv=fsync 2>/dev/null
	echo "GUEST-FLUSHED $(md5sum </tmp/w | cut -c1-32)"
	while :; do sleep 60; done ;;
net) net_test; finish ;;
mmds) mmds_test; finish ;;
multi) # net-cases.sh net-two-nics-two-disks: two disks, two NICs
	for d in vda vdb; do
		echo "GUEST-$d-READ $(dd if=/dev/$d bs=65536 count=16 2>/dev/null | md5sum | cut -c1-32) size=$(cat /sys/block/$d/size)"
		dd if=/dev/urandom of=/tmp/w bs=65536 count=16 2>/dev/null
		dd if=/tmp/w of=/dev/$d bs=65536 seek=32 conv=fsync 2>/dev/null || echo "GUEST-$d-WRITE-FAILED"
		echo "GUEST-$d-WROTE $(md5sum </tmp/w | cut -c1-32)"
	done
	ip link set lo up
	for i in 0 1; do
		echo 1 >/proc/sys/net/ipv6/conf/eth$i/disable_ipv6 2>/dev/null
		ip link set eth$i up
		ip addr add "10.0.1$((i + 1)).2/24" dev eth$i
		echo "GUEST-ETH$i-MAC $(cat /sys/class/net/eth$i/address)"
	done
	for i in 0 1; do
		if ping -c 3 -W 10 "10.0.1$((i + 1)).1" >/dev/null 2>&1; then echo "GUEST-ETH$i-PING ok"; else echo "GUEST-ETH$i-PING failed"; fi
	done
	sleep 1
	for i in 0 1; do
		s=/sys/class/net/eth$i/statistics
		echo "GUEST-ETH$i-STATS tx=$(cat $s/tx_packets) rx=$(cat $s/rx_packets)"
	done
	finish ;;
fs) fs_test; finish ;;
fs-xattr) # the share "x" (fs-cases.sh): cvmm.xattr=yes: given ,xattr
	m=/mnt/x xt=/work/xattrtool
	mkdir -p $m && mount -t virtiofs x $m || echo "GUEST-XATTR-FAILED mount"
	if [ "$(arg xattr)" = yes ]; then
		$xt set $m/f user.color blue | grep -q "XT OK" || echo "GUEST-XATTR-FAILED set"
		$xt set $m/d user.dir yes | grep -q "XT OK" || echo "GUEST-XATTR-FAILED set-dir"
		$xt set $m/f user.gone x | grep -q "XT OK" || echo "GUEST-XATTR-FAILED set-gone"
		$xt remove $m/f user.gone | grep -q "XT OK" || echo "GUEST-XATTR-FAILED remove"
		$xt get $m/f user.gone | grep -q "XT ERR ENODATA" || echo "GUEST-XATTR-FAILED removed-still-there"
		$xt get $m/f user.color | grep -qx "XT VALUE blue" || echo "GUEST-XATTR-FAILED get"
		$xt get $m/f user.host | grep -qx "XT VALUE fromhost" || echo "GUEST-XATTR-FAILED get-host-set"
		echo "GUEST-XATTR-$($xt list $m/f)"
	else
		echo "GUEST-XATTR-SET $($xt set $m/f user.color blue)"
		echo "GUEST-XATTR-GET $($xt get $m/f user.host)"
		echo "GUEST-XATTR-LIST $($xt list $m/f)"
	fi
	umount $m
	echo "GUEST-XATTR-DONE"
	finish ;;
fs-bench) # bench/fs: the workload on the share "bench"
	mkdir -p /mnt/b && mount -t virtiofs bench /mnt/b && sh /work/fs-work.sh /mnt/b guest
	umount /mnt/b
	finish ;;
vsock) vsock_test; finish ;;
vsock-chroot) # jail-cases.sh: cvmm.vsockport=P cvmm.vsockmode=send|refused
	/work/vsocktool connect "vsock:2:$(arg vsockport)" "$(arg vsockmode)" 65536 >/tmp/vc 2>&1
	echo "GUEST-VSOCK-CHROOT $? $(grep VT /tmp/vc | head -1)"
	finish ;;
vsock-bench) # bench/vsock, guest side: sink and echo for the host, then ours
	vt=/work/vsocktool n=$(($(arg mb) * 1048576))
	$vt listen vsock:7001 sink $n >/tmp/b7001 2>&1 & p1=$!
	$vt listen vsock:7002 echo >/tmp/b7002 2>&1 & p2=$!
	sleep 0.5
	echo "GUEST-VSOCK-READY"
	$vt connect vsock:2:7000 source $n | sed 's/^/BENCH-VSOCK g2h-tput /'
	$vt connect vsock:2:7003 rtt "$(arg rtts)" | sed 's/^/BENCH-VSOCK g2h-rtt /'
	wait $p1 $p2
	sed 's/^/BENCH-VSOCK h2g-sink /' /tmp/b7001
	finish ;;
net-serve) # VM to VM: receive on 5001, report what came
	net_up
	mkfifo /tmp/hold; timeout 300 nc -l -p 5001 </tmp/hold >/tmp/rx & pid=$!; exec 3>/tmp/hold
	wait $pid
	echo "GUEST-NET-RX $(md5sum </tmp/rx | cut -c1-32) $(wc -c </tmp/rx)"
	finish ;;
net-send) # ping the peer (unless cvmm.noping), send cvmm.mb MiB to its port 5001
	net_up
	peer=$(arg peer)
	if [ -z "$(arg noping)" ]; then
		# The peer may be a VM still booting: wait for it (2 min at most),
		# then the real check.
		i=0
		until ping -c 1 -W 2 "$peer" >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i + 1)); done
		ping -c 3 -W 10 "$peer" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"
	fi
	dd if=/dev/urandom of=/tmp/tx bs=65536 count=$(($(arg mb) * 16)) 2>/dev/null
	echo "GUEST-NET-TX-MD5 $(md5sum </tmp/tx | cut -c1-32)"
	i=0
	until timeout 300 nc "$peer" 5001 </tmp/tx; do
		i=$((i + 1)); [ $i -gt 120 ] && { echo "GUEST-NET-SEND-FAILED"; break; }; sleep 0.5
	done
	finish ;;
iperf) # bench/net: TCP both ways with iperf3 against the peer, and ping RTT
	net_up
	peer=$(arg peer)
	ping -c 3 -W 10 "$peer" >/dev/null 2>&1
	for dir in tx rx; do
		flag=""; [ $dir = rx ] && flag=-R
		# cvmm.streams=N: N TCP streams at once (multi-queue NICs)
		r=$(iperf3 -c "$peer" -t "$(arg secs)" -P "$(arg streams | grep . || echo 1)" -f m $flag 2>&1 |
			grep -E 'receiver$' | tail -1)
		echo "BENCH-NET $dir $(echo "$r" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") print $i}')"
	done
	echo "BENCH-NET rtt $(ping -c 20 -i 0.2 "$peer" 2>/dev/null | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')"
	finish ;;
net-flood) # stay up while the host floods us, then ping
	net_up
	echo "GUEST-NET-UP"
	sleep 14
	echo "GUEST-RX-PACKETS $(cat /sys/class/net/eth0/statistics/rx_packets)"
	ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"
	sleep 1
	net_stats
	finish ;;
net-ping) net_up; ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"; finish ;;
api) # tests/linux/api-cases.sh: the drives and the keyboard we see, then
	# tick while the host pauses and resumes us, until its Ctrl-Alt-Del
	echo "GUEST-API-DISK $(cat /sys/block/vda/size 2>/dev/null) disks=$(ls -d /sys/block/vd* 2>/dev/null | wc -l)"
	kbd_wait
	i=0; while :; do i=$((i + 1)); echo "GUEST-TICK $i"; sleep 1; done ;;
ctrlaltdel) # tests/linux/api-cases.sh api-ctrl-alt-del: the keyboard, then wait
	kbd_wait
	echo "GUEST-CAD-READY"
	while :; do sleep 60; done ;;
api-patch) # tests/linux/api-cases.sh: the host swaps vdb's file (PATCH /drives)
	# after READY; we see the new size, read the new file, write to it
	old=$(cat /sys/block/vdb/size)
	echo "GUEST-PATCH-OLD size=$old head=$(dd if=/dev/vdb bs=16 count=1 2>/dev/null) serial=$(cat /sys/block/vdb/serial)"
	echo "GUEST-PATCH-READY"
	i=0
	while [ "$(cat /sys/block/vdb/size)" = "$old" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
	new=$(cat /sys/block/vdb/size)
	echo 3 >/proc/sys/vm/drop_caches # the old file's blocks are cached
	head=$(dd if=/dev/vdb bs=16 count=1 2>/dev/null)
	tail=$(dd if=/dev/vdb bs=512 skip=$((new - 1)) count=1 2>/dev/null | head -c 16)
	echo "GUEST-PATCH-NEW size=$new head=$head tail=$tail serial=$(cat /sys/block/vdb/serial)"
	printf WRITTEN-BY-GUEST | dd of=/dev/vdb bs=512 seek=1 conv=notrunc,fsync 2>/dev/null ||
		echo "GUEST-PATCH-WRITE-FAILED"
	echo "GUEST-PATCH-WROTE"
	poweroff -f ;;
jail) # tests/linux/jail-cases.sh: a jailed cvmm (--user, --chroot) serves disk and net
	blk_raw; net_up
	ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"
	echo "GUEST-JAIL-DONE"; finish ;;
devices) # tests/linux/arm-cases.sh: each virtio device over virtio-mmio seen and
	# moving data: ping over the tap, 1 MiB over vsock, a share read and written
	devices_test "written by the arm64 guest"; finish ;;
alldev) # tests/linux/asan-cases.sh: every device kind at once (ASan's cvmm):
	# the disk read and written, then as devices above
	blk_raw; devices_test "written by the x86 guest"; finish ;;
fc) # tests/linux/fc-cases.sh: a Firecracker manager's VM (pci=off acpi=off): the
	# disks and virtio-mmio devices it finds, a ping (cvmm.ip), 64 KiB over vsock to
	# host port cvmm.vsockport, the disk cvmm.swap read after PATCH /drives changes
	# its size; then ticks until the host ends it
	echo "GUEST-FC-T0 $(cut -d' ' -f1 /proc/uptime)"
	echo "GUEST-FC-PCI $(ls /sys/bus/pci/devices 2>/dev/null | wc -l)"
	echo "GUEST-FC-MMIO $(ls -d /sys/bus/virtio/devices/virtio* 2>/dev/null | wc -l)"
	echo "GUEST-FC-DISKS $(cd /sys/block && ls -d vd* 2>/dev/null | tr '\n' ' ')"
	if [ -n "$(arg ip)" ]; then
		net_up
		i=0
		until ping -c 1 -W 2 "$(arg peer)" >/dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i + 1)); done
		ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 && echo "GUEST-PING ok" || echo "GUEST-PING failed"
	fi
	if [ -n "$(arg mmds)" ]; then # cloud-init's read of MMDS (flintlock's guests)
		ip route add 169.254.169.254/32 dev eth0
		echo "GUEST-FC-MMDS $(timeout 30 wget -q -O - "http://169.254.169.254/$(arg mmds)")"
	fi
	# SendCtrlAltDel needs the keyboard probed: before the vsock data, on
	# which a host that cannot see this console (the jailer's daemonized
	# cvmm) sends it (fc-jailer-kata-pidns once sent it first)
	kbd_wait
	if [ -n "$(arg vsockport)" ]; then
		/work/vsocktool connect "vsock:2:$(arg vsockport)" send 65536 >/tmp/cv 2>&1
		echo "GUEST-VSOCK $?"
	fi
	if [ -n "$(arg swap)" ]; then
		d=$(arg swap)
		s0=$(cat /sys/block/$d/size)
		echo "GUEST-FC-SWAP-READY $d $s0"
		i=0
		while [ $i -lt 1500 ] && [ "$(cat /sys/block/$d/size)" = "$s0" ]; do sleep 0.2; i=$((i + 1)); done
		echo 3 >/proc/sys/vm/drop_caches # the old file's blocks may be cached
		echo "GUEST-FC-SWAPPED $d $(cat /sys/block/$d/size) $(dd if=/dev/$d bs=512 count=1 2>/dev/null | head -c 32)"
	fi
	echo "GUEST-FC-UP $(cut -d' ' -f1 /proc/uptime)"
	[ "$(arg fcend)" = reboot ] && reboot -f
	(i=0; while :; do i=$((i + 1)); echo "GUEST-TICK $i"; sleep 1; done) &
	while :; do sleep 60; done ;;
snap) # tests/linux/snap-cases.sh: a guest in the middle of work, snapshotted and
	# restored: eth0 up (cvmm.ip), a vsock listener on port 5000 for new
	# connections (64 KiB each), and a counter that writes each count to its
	# own 512-byte block of vda (flushed) before printing it
	net_up
	/work/vsocktool listen vsock:5000 send 65536 8 >/tmp/l5000 2>&1 &
	# a TCP listener on port 6000 that echoes each line back ("echo LINE")
	# and prints it: one connection, kept across the snapshot
	printf '#!/bin/sh\nwhile read -r l; do echo "GUEST-TCP $l" >/dev/console; echo "echo $l"; done\n' >/tmp/tcpecho
	chmod +x /tmp/tcpecho
	nc -l -p 6000 -e /tmp/tcpecho >/dev/null 2>&1 &
	echo "GUEST-SNAP-READY"
	i=0
	forked=
	while :; do
		i=$((i + 1))
		printf 'cvmm-count-%08d\n' $i | dd of=/dev/vda bs=512 seek=$i conv=notrunc,fsync 2>/dev/null
		echo "GUEST-COUNT $i"
		echo "GUEST-UP $(cut -d' ' -f1 /proc/uptime)"
		# restored: a new VM generation ID made the kernel reseed
		[ -z "$forked" ] && dmesg | grep -q 'virtual machine fork' && forked=1 && echo "GUEST-FORKED"
		sleep 1
	done ;;
snap-bench) # bench/snapshot: a vsock listener (a byte per connection, for the
	# host's "answers" clock) and a console tick every 20 ms (the clock for
	# QEMU, which has no vsock there): what a restored guest does first
	VSOCKTOOL_TIMEOUT=100000 /work/vsocktool listen vsock:5000 send 1 1000 >/dev/null 2>&1 &
	echo "GUEST-SNAP-BENCH-READY"
	i=0
	while :; do i=$((i + 1)); echo "GUEST-TICK $i"; sleep 0.02; done ;;
balloon) # tests/linux/balloon-cases.sh (cvmm.balloon=inflate|report): memory
	# touched on a tmpfs of its own, then freed; inflate: the balloon's pages
	# leave MemTotal (no deflate-on-oom), come back, and the guest then fills
	# 32 MiB more than it had while inflated; report: freed memory is
	# reported after a while
	mem() { awk '/^MemTotal:/ {print $2}' /proc/meminfo; }
	mkdir -p /m && mount -t tmpfs -o size=230m none /m
	ls /sys/bus/virtio/drivers/virtio_balloon/virtio* >/dev/null 2>&1 || echo "GUEST-BALLOON-NODEV"
	sleep 3 # the boot's own frees reported first
	m0=$(mem)
	echo "GUEST-BALLOON-UP memkb=$m0"
	dd if=/dev/zero of=/m/f bs=1048576 count=96 2>/dev/null
	sync
	echo "GUEST-BALLOON-FILLED"
	sleep 3
	rm /m/f
	echo "GUEST-BALLOON-FREED"
	if [ "$(arg balloon)" = inflate ]; then
		i=0 # the host inflates 64 MiB: MemTotal drops by as much
		while [ $i -lt 900 ] && [ $(($(mem) + 60 * 1024)) -gt "$m0" ]; do sleep 0.2; i=$((i + 1)); done
		# what it could use while inflated, plus 32 MiB: only the
		# balloon's pages, back, make room for that
		want=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) / 1024 + 32))
		echo "GUEST-BALLOON-INFLATED memkb=$(mem) want=$want"
		i=0 # then deflates
		while [ $i -lt 900 ] && [ "$(mem)" -lt "$m0" ]; do sleep 0.2; i=$((i + 1)); done
		echo "GUEST-BALLOON-DEFLATED memkb=$(mem)"
		dd if=/dev/zero of=/m/g bs=1048576 count=$want 2>/tmp/dd && sync &&
			echo "GUEST-BALLOON-USED $(($(wc -c </m/g) >> 20))" || echo "GUEST-BALLOON-USE-FAILED $(cat /tmp/dd)"
		rm -f /m/g
		# the host snapshots and restores it meanwhile: busy enough
		# that its statistics change (a process every 0.2 s)
		i=0
		while [ $i -lt 300 ]; do cat /proc/meminfo >/dev/null; sleep 0.2; i=$((i + 1)); done
	fi
	sleep 20
	finish ;;
reboot) echo "GUEST-REBOOTING"; reboot -f ;;
sleep) echo "GUEST-SLEEPING"; while :; do sleep 60; done ;;
demo|shell)
	# scripts/demo: what the guest sees, its disk, its network
	info
	if [ -b /dev/vda ]; then
		mkdir -p /mnt/root && mount -t ext4 /dev/vda /mnt/root &&
			echo "GUEST-DISK /dev/vda mounted on /mnt/root: $(cat /mnt/root/hello.txt)" ||
			echo "GUEST-DISK /dev/vda cannot be mounted"
	fi
	if [ -e /sys/class/net/eth0 ] && [ -n "$(arg ip)" ]; then
		net_up
		ping -c 2 -W 10 "$(arg peer)" >/dev/null 2>&1 &&
			echo "GUEST-NET eth0 $(arg ip) reaches the host at $(arg peer)" ||
			echo "GUEST-NET eth0 $(arg ip) cannot reach $(arg peer)"
	fi
	if [ "$t" = shell ]; then
		echo "cvmm demo guest: type 'poweroff -f' (or Ctrl-A x) to leave"
		setsid cttyhack sh -l
	fi
	[ -d /mnt/root ] && umount /mnt/root
	poweroff -f ;;
*) info; poweroff -f ;;
esac
