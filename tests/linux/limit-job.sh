#!/bin/sh
# The guest side of tests/linux/limit-cases.sh (the job of limit-guest.cpio.gz,
# which has fio): measures what gets through a rate-limited device, in
# phases the host starts one at a time, and prints one line per
# measurement. cvmm.test=limit-blk: fio on /dev/vda (the limited disk);
# the host's "go N" at the start of /dev/vdb (a mailbox disk, read with
# O_DIRECT) starts phase N, once the host has set its limits.
# cvmm.test=limit-net: eth0's received bytes over 3 s while the host
# sends, then a stream to the host, which counts on its side.
t=$(sed -n 's/.*cvmm\.test=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
arg() { sed -n "s/.*cvmm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# /proc/uptime in hundredths of a second
now() { sed 's/^\([0-9]*\)\.\([0-9]*\) .*/\1\2/' /proc/uptime; }
await() { # N: until the host says "go N"
	echo "GUEST-LIMIT-PHASE $1"
	i=0
	while [ $i -lt 1500 ]; do
		got=$(dd if=/dev/vdb bs=4096 count=1 iflag=direct 2>/dev/null | head -c 8 | tr -d '\000')
		[ "$got" = "go $1" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	echo "GUEST-LIMIT-NO-GO $1"
	poweroff -f
}
# fio on the limited disk, direct, one request at a time: "IOPS KIB/S MS"
fiorun() {
	# (--thread: one process, fio's job data in its own memory)
	fio --name=l --filename=/dev/vda --direct=1 --ioengine=psync --thread --bs=4k "$@" \
		--output-format=terse --terse-version=3 2>/tmp/fio.err | awk -F';' '{ print $8, $7, $9 }'
	[ -s /tmp/fio.err ] && head -c 200 /tmp/fio.err
}
case "$t" in
limit-blk)
	await 1
	echo "GUEST-FIO iops $(fiorun --rw=randread --time_based --runtime=3)"
	await 2
	echo "GUEST-FIO patch $(fiorun --rw=randread --time_based --runtime=3)"
	await 3
	echo "GUEST-FIO bw $(fiorun --rw=read --bs=64k --time_based --runtime=3)"
	await 4
	echo "GUEST-FIO burst $(fiorun --rw=randread --number_ios=300)"
	echo "GUEST-FIO after $(fiorun --rw=randread --time_based --runtime=4)"
	;;
limit-net)
	ip link set lo up
	echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null
	ip link set eth0 up
	ip addr add "$(arg ip)" dev eth0
	# RX: what the host streams to port 5001, counted over 3 s after 1 s
	# busybox nc quits when its stdin ends: the listener's is a fifo
	# held open
	mkfifo /tmp/hold
	nc -l -p 5001 </tmp/hold >/dev/null &
	lpid=$!
	exec 3>/tmp/hold
	sleep 0.5
	echo "GUEST-LIMIT-RX-READY"
	s=/sys/class/net/eth0/statistics
	i=0
	while [ "$(cat $s/rx_bytes)" -lt 1000000 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ $i -ge 300 ] && echo "GUEST-LIMIT-RX-SLOW rx_bytes=$(cat $s/rx_bytes) rx_packets=$(cat $s/rx_packets) tx_packets=$(cat $s/tx_packets)"
	sleep 1
	b0=$(cat $s/rx_bytes) t0=$(now)
	sleep 3
	b1=$(cat $s/rx_bytes) t1=$(now)
	echo "GUEST-LIMIT-RX bytes=$((b1 - b0)) cs=$((t1 - t0))"
	kill $lpid 2>/dev/null
	# TX: a stream to the host's port 5002 for 8 s, counted there
	nc "$(arg peer)" 5002 </dev/zero &
	echo "GUEST-LIMIT-TX-STARTED"
	sleep 8
	kill $! 2>/dev/null
	;;
esac
echo "GUEST-LIMIT-DONE"
poweroff -f
