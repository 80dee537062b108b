#!/bin/sh
# virtio-pci cases, run by cases.sh in a network namespace of their own
# (unshare -n) as root: what a guest sees on PCI, and which interrupts it
# gets (tests/linux/guest-job.sh's pci test prints the PCI functions from
# sysfs and the virtio lines of /proc/interrupts).
# env: CVMM, KIT (small-bzImage, guest.cpio.gz, stock-vmlinuz,
# stock-guest.cpio.gz), TMP, ONLY/SKIP; IP names iproute2's ip.
CVMM=${CVMM:-./cvmm}
IP=${IP:-ip}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-pci.$$}
. ./lib.sh
CMD="console=ttyS0 quiet panic=-1"
$IP link set lo up

md5of() { # file offset-in-64k-blocks count
	dd if="$1" bs=65536 skip="$2" count="$3" 2>/dev/null | md5sum | cut -c1-32
}
mkdisk() { # file MiB: 1 MiB random pattern at the start, zeros after
	dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
	dd if=/dev/urandom of="$1" bs=65536 count=16 conv=notrunc 2>/dev/null
}
field() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/.*$2 \([0-9a-f]*\).*/\1/p" | head -1; }
# "GUEST-IRQ <name> <total> <chip>" lines whose name matches an ERE and
# whose total is not zero: how many.
irqs_used() { # name name-ERE
	tr -d '\r' <"$TMP/$1.out" | awk -v re="^$2\$" '$1 == "GUEST-IRQ" && $2 ~ re && $3 > 0' | wc -l
}
pci_has() { # name vendor:device
	tr -d '\r' <"$TMP/$1.out" | grep -q "^GUEST-PCI .* $2 "
}
# The guest's blk reads and writes landed (guest-job.sh's blk_raw).
blk_ok() { # name image
	[ "$(field $1 GUEST-BLK-READ)" = "$(md5of "$2" 0 16)" ] &&
		[ "$(field $1 GUEST-BLK-WROTE)" = "$(md5of "$2" 32 16)" ]
}

# A host end for the guest's vsock send: a listener on the socket cvmm
# connects guest connections to port P to ("<--vsock socket>_P").
vsock_listen() { # socket port
	vsocktool listen "unix:${1}_$2" recv 262144 >"$TMP/vsock-host.$2" 2>&1 &
	vpid=$!
}
# After cvmm ended: the listener got it all (it is stopped either way).
vsock_heard() {
	sleep 0.2
	kill $vpid 2>/dev/null
	wait $vpid
	grep -q "RECV-OK 262144" "$TMP/vsock-host.$1"
}
share() { # dir: a share with a known file
	mkdir -p "$1"
	echo "hello over $1" >"$1/hello"
}

# Debian's stock kernel with every device kind over PCI, 2 vCPUs, a disk
# with 4 queues and a 2-pair NIC on a multi_queue tap: every function is
# found (vendor 0x1af4, modern device ids 0x1040 + virtio id) next to the
# host bridge, each does some work (disk reads on both vCPUs, pings from
# both, a file of the share, a vsock connection to the host), and that
# raises interrupts on several MSI-X vectors of the disk (virtioN-req.M)
# and of the NIC (virtioN-input.M / output.M). One boot, three verdicts.
n=pci-stock
if [ -f "$KIT/stock-vmlinuz" ] && { selected pci-stock-devices || selected pci-stock-blk-msix ||
	selected pci-stock-net-msix; }; then
	mkdisk "$TMP/$n.img" 16
	share "$TMP/$n.share"
	$IP tuntap add dev cvp0 mode tap multi_queue
	$IP addr add 10.0.10.1/24 dev cvp0
	$IP link set cvp0 up
	vsock_listen "$TMP/$n.vsock" 6000
	timeout 300 "$CVMM" --kernel "$KIT/stock-vmlinuz" --initrd "$KIT/stock-guest.cpio.gz" \
		--cpus 2 --memory 256M --disk "$TMP/$n.img,queues=4" --net tap=cvp0,queues=2 \
		--fs "tag=pcifs,path=$TMP/$n.share" --vsock "cid=3,socket=$TMP/$n.vsock" \
		--cmdline "$CMD cvmm.test=pci cvmm.ip=10.0.10.2/24 cvmm.peer=10.0.10.1 cvmm.fstag=pcifs cvmm.vsockport=6000" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err"
	st=$?
	$IP link del cvp0
	if [ $st -ne 0 ]; then
		kill $vpid 2>/dev/null
		bad pci-stock-devices "cvmm exit status $st"
	else
		why=""
		for id in 0x1b36:0x0008 0x1af4:0x1042 0x1af4:0x1041 0x1af4:0x105a 0x1af4:0x1053; do
			pci_has $n $id || why="$why $id"
		done
		grep -q "GUEST-PCI-FAILED" "$TMP/$n.out" &&
			why="$why $(grep -o 'GUEST-PCI-FAILED [a-z0-9 :-]*' "$TMP/$n.out" | head -2 | tr '\n' ' ')"
		[ "$(field $n GUEST-PCI-FS)" = "$(md5sum <"$TMP/$n.share/hello" | cut -c1-32)" ] || why="$why fs-read"
		vsock_heard 6000 || why="$why vsock-send"
		if [ -n "$why" ]; then bad pci-stock-devices "missing or failed:$why"
		else ok pci-stock-devices "host bridge, blk, net, fs, vsock: $(grep -c '^GUEST-PCI ' "$TMP/$n.out") functions"; fi
		b=$(irqs_used $n 'virtio[0-9]+-req\.[0-9]+')
		if [ "$b" -ge 2 ]; then ok pci-stock-blk-msix "$b queue vectors raised ($(grep -o 'GUEST-BLK-QUEUES [0-9]*' "$TMP/$n.out"))"
		else bad pci-stock-blk-msix "$b blk queue vectors raised, wanted 2 or more"; fi
		q=$(irqs_used $n 'virtio[0-9]+-(input|output)\.[0-9]+')
		if [ "$q" -ge 2 ]; then ok pci-stock-net-msix "$q queue vectors raised"
		else bad pci-stock-net-msix "$q net queue vectors raised, wanted 2 or more"; fi
	fi
fi

# Every device kind over virtio-mmio (--transport mmio) in one boot of the
# small kernel: disk read and written, ping over the tap, a file of the
# share, a vsock connection to the host. No PCI function at all then.
n=mmio-all-devices
if [ -f "$KIT/small-bzImage" ] && selected $n; then
	mkdisk "$TMP/$n.img" 64
	share "$TMP/$n.share"
	$IP tuntap add dev cvm0 mode tap
	$IP addr add 10.0.11.1/24 dev cvm0
	$IP link set cvm0 up
	vsock_listen "$TMP/$n.vsock" 6001
	want $n 0 300 -- --transport mmio --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" \
		--cpus 2 --memory 128M --disk "$TMP/$n.img" --net cvm0 --fs "tag=mfs,path=$TMP/$n.share" \
		--vsock "cid=3,socket=$TMP/$n.vsock" \
		--cmdline "$CMD cvmm.test=pci-blk cvmm.ip=10.0.11.2/24 cvmm.peer=10.0.11.1 cvmm.fstag=mfs cvmm.vsockport=6001"
	st=$?
	$IP link del cvm0
	if [ $st -eq 0 ]; then
		if ! blk_ok $n "$TMP/$n.img"; then bad $n "blk reads or writes did not land"
		elif grep -q "GUEST-PCI-FAILED" "$TMP/$n.out"; then bad $n "$(grep -o 'GUEST-PCI-FAILED [a-z0-9 -]*' "$TMP/$n.out" | head -2 | tr '\n' ' ')"
		elif [ "$(field $n GUEST-PCI-FS)" != "$(md5sum <"$TMP/$n.share/hello" | cut -c1-32)" ]; then bad $n "fs: other bytes"
		elif ! vsock_heard 6001; then bad $n "vsock: the host did not get 256 KiB"
		elif grep -q "^GUEST-PCI " "$TMP/$n.out"; then bad $n "PCI functions present over mmio"
		else ok $n "blk, net, fs, vsock over virtio-mmio"; fi
	else
		kill $vpid 2>/dev/null
	fi
fi

# MSI off in the guest (pci=nomsi): the driver falls back to INTx, which
# the DSDT routes (_PRT) to a link device's GSI; the disk still works.
n=pci-intx-blk
if [ -f "$KIT/small-bzImage" ] && selected $n; then
	mkdisk "$TMP/$n.img" 64
	want $n 0 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
		--disk "$TMP/$n.img" --cmdline "$CMD pci=nomsi cvmm.test=pci-blk" &&
		if ! blk_ok $n "$TMP/$n.img"; then bad $n "blk reads or writes did not land"
		elif [ "$(irqs_used $n 'virtio[0-9]+')" -lt 1 ]; then bad $n "no INTx interrupt counted"
		elif [ "$(irqs_used $n 'virtio[0-9]+-.*')" -ne 0 ]; then bad $n "MSI-X vectors used despite pci=nomsi"
		else ok $n "$(tr -d '\r' <"$TMP/$n.out" | grep '^GUEST-IRQ' | head -1)"; fi
fi

# No ACPI at all: the guest finds the host bridge through configuration
# mechanism #1 alone and uses MSI-X.
n=pci-acpi-off-blk
if [ -f "$KIT/small-bzImage" ] && selected $n; then
	mkdisk "$TMP/$n.img" 64
	# without ACPI the guest resets at the end: status 2
	want $n 2 300 -- --kernel "$KIT/small-bzImage" --initrd "$KIT/guest.cpio.gz" --memory 128M \
		--disk "$TMP/$n.img" --cmdline "$CMD acpi=off cvmm.test=pci-blk" &&
		if ! blk_ok $n "$TMP/$n.img"; then bad $n "blk reads or writes did not land"
		elif ! pci_has $n 0x1af4:0x1042; then bad $n "no virtio-blk function on PCI"
		elif [ "$(irqs_used $n 'virtio[0-9]+-req\.0')" -ne 1 ]; then bad $n "no MSI-X vector of the queue raised"
		else ok $n "conf1 only, MSI-X"; fi
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
