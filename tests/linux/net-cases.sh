#!/bin/sh
# virtio-net cases, run by cases.sh inside a network namespace of their own
# (unshare -n) as root: real taps, passt, two cvmm processes talking.
# env: CVMM, KIT (small-bzImage, guest.cpio.gz), TMP, ONLY/SKIP; tools on
# PATH: ip (iproute2), nettool (tests/tools), passt (optional).
CVMM=${CVMM:-./cvmm}
export PATH="$PWD:$PATH"
# iproute2 (busybox sh runs its own applet for a bare "ip"): IP names it.
IP=${IP:-ip}
KIT=${KIT:-.}
TMP=${TMP:-/tmp/cvmm-net.$$}
. ./lib.sh
K="--kernel $KIT/small-bzImage --initrd $KIT/guest.cpio.gz"
CMD="console=ttyS0 quiet panic=-1"
$IP link set lo up

mkdata() { dd if=/dev/urandom of="$1" bs=65536 count=$(($2 * 16)) 2>/dev/null; }
md5() { md5sum <"$1" | cut -c1-32; }
# A guest's field (the console ends lines with CR LF).
gfield() { tr -d '\r' <"$TMP/$1.out" | sed -n "s/.*$2 \([^ ]*\).*/\1/p" | head -1; }
# A listener for what the guest sends to port $2. busybox nc quits when
# its stdin ends, so stdin is a fifo held open on fd 4; host_listened waits
# until the connection closed and the file is complete.
host_listen() { # file port
	rm -f "$TMP/hold"
	mkfifo "$TMP/hold"
	timeout 600 nc -l -p "$2" <"$TMP/hold" >"$1" &
	lpid=$!
	exec 4>"$TMP/hold"
}
host_listened() {
	wait $lpid
	exec 4>&-
}

# A tap with the host's address on it: NAME ADDR/LEN [multi_queue].
mktap() {
	$IP tuntap add dev "$1" mode tap ${3:-}
	# no IPv6 chatter from the host: frame counts are compared (frames_ok)
	echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6" 2>/dev/null
	$IP addr add "$2" dev "$1"
	$IP link set "$1" up
}
# Frames counted on both ends once the guest stopped: every frame the guest's
# driver sent reached the tap (its rx_packets), every frame cvmm took from
# the tap (tx_packets) reached the guest's driver. SLACK frames of
# difference are allowed for a late ACK or ARP after the guest read its
# counters; a device that drops 1 frame in 100 misses by far more.
SLACK=4
# from /proc/net/dev: this network namespace's (sysfs shows the one it was
# mounted in)
tapstat() { # ifname rx_packets|tx_packets|tx_dropped
	# (a wide counter touches the colon: split it off first)
	sed 's/:/: /' /proc/net/dev |
		awk -v i="$1:" -v f="$2" '$1 == i { print (f == "rx_packets") ? $3 : (f == "tx_packets") ? $11 : $13 }'
}
frames_ok() { # name tap
	gs=$(tr -d '\r' <"$TMP/$1.out" | grep GUEST-NET-STATS | tail -1)
	gtx=$(echo "$gs" | sed -n 's/.* tx=\([0-9]*\).*/\1/p')
	grx=$(echo "$gs" | sed -n 's/.* rx=\([0-9]*\).*/\1/p')
	# frames the guest's driver got but its stack dropped count as received
	grxd=$(echo "$gs" | sed -n 's/.* rx_dropped=\([0-9]*\).*/\1/p')
	htx=$(tapstat "$2" tx_packets) hrx=$(tapstat "$2" rx_packets)
	frames="guest tx=$gtx rx=$grx, tap rx=$hrx tx=$htx"
	[ -n "$gtx" ] && [ -n "$grx" ] || { frames="no GUEST-NET-STATS; $frames"; return 1; }
	d1=$((hrx - gtx)) d2=$((htx - grx - ${grxd:-0}))
	[ ${d1#-} -le $SLACK ] && [ ${d2#-} -le $SLACK ]
}

# The two-way exchange with a guest running cvmm.test=net on the far side
# of a tap: starts cvmm (args after the name), sends MB MiB to the guest,
# checks both transfers byte for byte, the ping, and the exit status.
exchange() { # name guest-ip mb -- cvmm args...
	n=$1 gip=$2 mb=$3
	shift 4
	mkdata "$TMP/$n.tx" "$mb"
	host_listen "$TMP/$n.rx" 5002
	timeout 500 "$@" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	if ! wait_for $n GUEST-NET-READY 300 $pid; then
		kill $pid 2>/dev/null
		wait $pid
		bad $n "the guest never got ready"
		return 1
	fi
	start=$(date +%s)
	timeout 300 nc "$gip" 5001 <"$TMP/$n.tx" || echo "host nc failed" >>"$TMP/$n.err"
	wait $pid
	st=$?
	host_listened
	secs=$(($(date +%s) - start))
	if [ $st -ne 0 ]; then bad $n "cvmm exit status $st"; return 1; fi
	if ! has $n "GUEST-PING ok"; then bad $n "the guest could not ping the host"; return 1; fi
	if [ "$(gfield $n GUEST-NET-TX-MD5)" != "$(md5 "$TMP/$n.rx")" ]; then
		bad $n "guest->host bytes differ ($(wc -c <"$TMP/$n.rx") bytes arrived)"; return 1
	fi
	if [ "$(gfield $n GUEST-NET-RX)" != "$(md5 "$TMP/$n.tx")" ]; then
		bad $n "host->guest bytes differ: $(grep GUEST-NET-RX "$TMP/$n.out")"; return 1
	fi
	if ! frames_ok $n "$xtap"; then bad $n "frames lost or made up: $frames"; return 1; fi
	echo "    $n: $frames"
	echo "    $n: ${mb} MiB each way in ${secs}s"
	return 0
}

n=net-tap
if selected $n; then
	xtap=cvt0
	mktap cvt0 10.0.2.1/24
	exchange $n 10.0.2.2 8 -- "$CVMM" $K --cpus 2 --memory 256M --net cvt0 \
		--cmdline "$CMD cvmm.test=net cvmm.ip=10.0.2.2/24 cvmm.peer=10.0.2.1 cvmm.mb=8" &&
		{
			mac=$(gfield $n GUEST-NET-MAC)
			case $mac in
			02:*) ok $n "ping, 8 MiB each way byte-exact, mac $mac" ;;
			*) bad $n "default MAC $mac is not locally administered" ;;
			esac
		}
	$IP link del cvt0
fi

# A tap opened by a "manager" that then drops to an unprivileged user:
# cvmm runs with no capabilities and gets the tap as a descriptor.
n=net-tapfd
if selected $n; then
	xtap=cvt1
	mktap cvt1 10.0.4.1/24
	chmod 666 /dev/kvm
	exchange $n 10.0.4.2 2 -- nettool tapfd cvt1 65534 "$CVMM" $K --memory 256M \
		--net "tapfd={fd},mac=52:54:00:12:34:56" \
		--cmdline "$CMD cvmm.test=net cvmm.ip=10.0.4.2/24 cvmm.peer=10.0.4.1 cvmm.mb=2" &&
		{ [ "$(gfield $n GUEST-NET-MAC)" = 52:54:00:12:34:56 ] && ok $n "unprivileged cvmm, mac=52:54:00:12:34:56" ||
			bad $n "the guest has MAC $(gfield $n GUEST-NET-MAC), not the one given"; }
	$IP link del cvt1
fi

# Four queue pairs on a multi_queue tap and two vCPUs (as many as the test
# host has): the driver enables two pairs over the control queue, cvmm
# attaches those two tap queues and detaches the other two (a flow the tap
# steered to a queue nobody reads would stall the transfer), then both
# transfers must be byte-exact and the guest must power off cleanly (a
# reset waits for every queue's worker, reads on idle tap queues included).
n=net-mq
if selected $n; then
	xtap=cvt2
	mktap cvt2 10.0.5.1/24 multi_queue
	exchange $n 10.0.5.2 4 -- "$CVMM" $K --cpus 2 --memory 256M --net tap=cvt2,queues=4 \
		--cmdline "$CMD cvmm.test=net cvmm.ip=10.0.5.2/24 cvmm.peer=10.0.5.1 cvmm.mb=4 cvmm.pin=1" &&
		{
			# the transfers ran on vCPU 1: the second pair's queues
			# (input.1, output.1) carried them, each raising its own
			# MSI-X vector many times
			irq() { tr -d '\r' <"$TMP/$n.out" | awk -v q="$1" '$1 == "GUEST-IRQ" && $2 ~ "-" q "$" { print $3 }' | head -1; }
			i1=$(irq 'input\\.1') o1=$(irq 'output\\.1')
			if ! has $n "GUEST-NET-QUEUES rx=2"; then
				bad $n "the guest did not enable 2 RX queues: $(grep GUEST-NET-QUEUES "$TMP/$n.out")"
			elif [ "${i1:-0}" -lt 20 ] || [ "${o1:-0}" -lt 20 ]; then
				bad $n "little traffic on queue pair 2: input.1 ${i1:-no} interrupts, output.1 ${o1:-no}: $(grep GUEST-IRQ "$TMP/$n.out" | tr -d '\r' | tr '\n' ';')"
			else
				ok $n "2 of 4 queue pairs enabled, 4 MiB each way byte-exact on pair 2 (input.1: $i1, output.1: $o1 interrupts)"
			fi
		}
	$IP link del cvt2
fi

# Two disks and two NICs in one VM (README: --disk and --net repeatable):
# the guest finds vda and vdb with each file's own bytes and size, its
# writes land in the right file; eth0 and eth1 (MACs in the order given)
# each ping their own tap's address on a subnet of their own, and each
# tap's frame counts match its interface's.
n=net-two-nics-two-disks
if selected $n; then
	mktap cvt4 10.0.11.1/24
	mktap cvt5 10.0.12.1/24
	for d in a b; do
		dd if=/dev/zero of="$TMP/$n.$d.img" bs=1048576 count=$([ $d = a ] && echo 16 || echo 32) 2>/dev/null
		dd if=/dev/urandom of="$TMP/$n.$d.img" bs=65536 count=16 conv=notrunc 2>/dev/null
	done
	want $n 0 300 -- $K --cpus 2 --memory 128M --disk "$TMP/$n.a.img" --disk "$TMP/$n.b.img" \
		--net tap=cvt4,mac=52:54:00:00:00:04 --net tap=cvt5,mac=52:54:00:00:00:05 \
		--cmdline "$CMD cvmm.test=multi" && {
		blk() { dd if="$1" bs=65536 skip="$2" count=16 2>/dev/null | md5sum | cut -c1-32; }
		why=""
		for p in "vda a 32768" "vdb b 65536"; do
			set -- $p
			r=$(tr -d '\r' <"$TMP/$n.out" | sed -n "s/.*GUEST-$1-READ \([0-9a-f]*\) size=\([0-9]*\).*/\1 \2/p" | head -1)
			[ "$r" = "$(blk "$TMP/$n.$2.img" 0) $3" ] || why="$why $1 read/size '$r' is not $2.img's;"
			[ "$(gfield $n GUEST-$1-WROTE)" = "$(blk "$TMP/$n.$2.img" 32)" ] || why="$why $1's write is not in $2.img;"
		done
		[ "$(gfield $n GUEST-ETH0-MAC)" = 52:54:00:00:00:04 ] && [ "$(gfield $n GUEST-ETH1-MAC)" = 52:54:00:00:00:05 ] ||
			why="$why MACs $(gfield $n GUEST-ETH0-MAC) $(gfield $n GUEST-ETH1-MAC);"
		for p in "0 cvt4" "1 cvt5"; do
			set -- $p
			has $n "GUEST-ETH$1-PING ok" || why="$why eth$1 could not ping over $2;"
			gs=$(tr -d '\r' <"$TMP/$n.out" | grep "GUEST-ETH$1-STATS" | tail -1)
			gtx=$(echo "$gs" | sed -n 's/.* tx=\([0-9]*\).*/\1/p') grx=$(echo "$gs" | sed -n 's/.* rx=\([0-9]*\).*/\1/p')
			hrx=$(tapstat $2 rx_packets) htx=$(tapstat $2 tx_packets)
			d1=$((hrx - ${gtx:-0})) d2=$((htx - ${grx:-0}))
			{ [ -n "$gtx" ] && [ "${gtx:-0}" -ge 3 ] && [ ${d1#-} -le $SLACK ] && [ ${d2#-} -le $SLACK ]; } ||
				why="$why eth$1 tx=$gtx rx=$grx vs $2 rx=$hrx tx=$htx;"
		done
		[ -z "$why" ] && ok $n "vda, vdb read and written in their own files; eth0, eth1 each on its own tap" || bad $n "$why"
	}
	$IP link del cvt4
	$IP link del cvt5
fi

# The host floods the guest with broadcast frames for a while; cvmm stays
# up and the guest still answers afterwards.
n=net-flood
if selected $n; then
	mktap cvt3 10.0.6.1/24
	timeout 500 "$CVMM" $K --memory 128M --net cvt3 \
		--cmdline "$CMD cvmm.test=net-flood cvmm.ip=10.0.6.2/24 cvmm.peer=10.0.6.1" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	if wait_for $n GUEST-NET-UP 300 $pid; then
		tx0=$(tapstat cvt3 tx_packets) drop0=$(tapstat cvt3 tx_dropped)
		nettool flood cvt3 10 >"$TMP/$n.flood"
		# every frame sent went to cvmm or was dropped by the full tap queue
		given=$(($(tapstat cvt3 tx_packets) - tx0 + $(tapstat cvt3 tx_dropped) - drop0))
		touch "$TMP/$n.done"
	fi
	wait $pid
	st=$?
	sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$TMP/$n.flood")
	if [ $st -ne 0 ]; then bad $n "cvmm exit status $st"
	elif ! has $n "GUEST-PING ok"; then bad $n "no ping after the flood"
	elif [ -z "$sent" ] || [ "$sent" -lt 1000 ]; then bad $n "the flood sent '$sent' frames"
	elif [ "${given:-0}" -lt "$sent" ]; then bad $n "the tap took $given of $sent frames"
	elif ! frames_ok $n cvt3; then bad $n "frames lost or made up: $frames"
	else ok $n "$(cat "$TMP/$n.flood"), $frames"; fi
	$IP link del cvt3
fi

# Two cvmm processes joined by a stream socket: no tap, no bridge. They
# boot together; the sender waits (2 min at most) until it can ping the
# listener's guest, then sends.
n=net-vm2vm
if selected $n; then
	sock=$TMP/vm2vm.sock
	timeout 500 "$CVMM" $K --memory 128M --net "stream=$sock,listen" \
		--cmdline "$CMD cvmm.test=net-serve cvmm.ip=10.0.7.1/24" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	a=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$sock" ]; do sleep 0.1; i=$((i + 1)); done
	timeout 500 "$CVMM" $K --memory 128M --net "stream=$sock" \
		--cmdline "$CMD cvmm.test=net-send cvmm.ip=10.0.7.2/24 cvmm.peer=10.0.7.1 cvmm.mb=4" \
		</dev/null >"$TMP/$n.b.out" 2>"$TMP/$n.b.err"
	stb=$?
	wait $a
	sta=$?
	sent=$(tr -d '\r' <"$TMP/$n.b.out" | sed -n 's/.*GUEST-NET-TX-MD5 \([0-9a-f]*\).*/\1/p')
	if [ $sta -ne 0 ] || [ $stb -ne 0 ]; then bad $n "exit status $sta (listener), $stb (connector)"
	elif ! grep -q "GUEST-PING ok" "$TMP/$n.b.out"; then bad $n "no ping between the VMs"
	elif [ -z "$sent" ] || [ "$(gfield $n GUEST-NET-RX)" != "$sent" ]; then bad $n "bytes differ"
	else ok $n "ping and 4 MiB byte-exact VM to VM"; fi
	# On a failure, the connector's side too.
	grep -q "GUEST-NET-RX $sent" "$TMP/$n.out" ||
		cat "$TMP/$n.b.out" "$TMP/$n.b.err" "$TMP/$n.err" | tail -n 25 | sed 's/^/    B| /'
fi

# passt: an unprivileged user's networking. The guest reaches a TCP server
# on the host's loopback through passt's gateway mapping.
# passt runs as nobody (--runas: the test host has no passwd database) and
# sandboxes itself (pivot_root: the test host's root is a tmpfs for that).
n=net-passt
if selected $n; then
	if ! command -v passt >/dev/null; then
		bad $n "passt is not installed"
	else
		$IP link add dummy0 type dummy
		$IP addr add 192.168.77.10/24 dev dummy0
		$IP link set dummy0 up
		$IP route add default via 192.168.77.1
		# nobody must reach its socket's directory ($TMP is root's, 0700)
		pd=$(mktemp -d /tmp/cvmm-passt.XXXXXX)
		chown 65534:65534 "$pd"
		passt -f -q -1 --runas 65534:65534 -s "$pd/passt.sock" >"$TMP/$n.passt" 2>&1 &
		pp=$!
		i=0
		while [ $i -lt 300 ] && [ ! -S "$pd/passt.sock" ]; do sleep 0.1; i=$((i + 1)); done
		[ -S "$pd/passt.sock" ] || sed 's/^/    passt: /' "$TMP/$n.passt"
		host_listen "$TMP/$n.rx" 5001
		want $n 0 300 -- $K --memory 128M --net "passt=$pd/passt.sock" \
			--cmdline "$CMD cvmm.test=net-send cvmm.ip=192.168.77.10/24 cvmm.gw=192.168.77.1 cvmm.peer=192.168.77.1 cvmm.mb=2 cvmm.noping=1"
		st=$?
		host_listened
		[ $st -eq 0 ] &&
			{ [ "$(gfield $n GUEST-NET-TX-MD5)" = "$(md5 "$TMP/$n.rx")" ] &&
				ok $n "2 MiB to the host's loopback through passt, byte-exact" ||
				bad $n "bytes differ ($(wc -c <"$TMP/$n.rx") arrived)"; }
		kill $pp 2>/dev/null
		rm -rf "$pd"
		$IP link del dummy0
	fi
fi
rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
