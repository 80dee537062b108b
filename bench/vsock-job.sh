#!/bin/sh
# bench/vsock inside a KVM host: the guest under cvmm with a vsock device;
# throughput both ways (source/sink, unchecked bytes) and 64-byte echo round
# trips both ways, through cvmm's unix sockets; then the same between two
# processes of this host over a plain unix socket, the floor any host-side
# vsock-over-unix path builds on. Prints "RESULT <what> <value> <unit>".
cd /work || exit 1
ROUNDS=${ROUNDS:-1}
MB=${MB:-64}
RTTS=${RTTS:-1000}
N=$((MB * 1048576))
S=/tmp/bv.sock
VT=./vsocktool
num() { sed -n 's/.*(\([0-9.]*\) MiB\/s).*/\1/p' | head -1; }
us() { sed -n 's/.*RTT \([0-9.]*\) us.*/\1/p' | head -1; }
i=0
while [ $i -lt "$ROUNDS" ]; do
	rm -f /tmp/bench.out # the wait below must not see the last round's READY
	$VT listen "unix:${S}_7000" sink $N >/tmp/h7000 2>&1 &
	$VT listen "unix:${S}_7003" echo >/tmp/h7003 2>&1 &
	./cvmm --kernel small-bzImage --initrd guest.cpio.gz --cpus 2 --memory 256M \
		--vsock "cid=3,socket=$S" \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=vsock-bench cvmm.mb=$MB cvmm.rtts=$RTTS" \
		</dev/null >/tmp/bench.out 2>&1 &
	pid=$!
	k=0
	while [ $k -lt 600 ] && ! grep -q GUEST-VSOCK-READY /tmp/bench.out 2>/dev/null; do
		sleep 0.2
		k=$((k + 1))
	done
	echo "RESULT h2g-tput $($VT connect "fc:$S:7001" source $N | num) MiB/s"
	echo "RESULT h2g-rtt $($VT connect "fc:$S:7002" rtt "$RTTS" | us) us"
	wait $pid
	wait
	echo "RESULT g2h-tput $(num </tmp/h7000) MiB/s"
	echo "RESULT g2h-rtt $(tr -d '\r' </tmp/bench.out | grep 'g2h-rtt' | us) us"
	# the same over a plain unix socket between two host processes
	$VT listen unix:/tmp/bu.sock sink $N >/tmp/u1 2>&1 &
	sleep 0.2
	$VT connect unix:/tmp/bu.sock source $N >/dev/null
	wait
	echo "RESULT unix-tput $(num </tmp/u1) MiB/s"
	$VT listen unix:/tmp/be.sock echo >/dev/null 2>&1 &
	sleep 0.2
	echo "RESULT unix-rtt $($VT connect unix:/tmp/be.sock rtt "$RTTS" | us) us"
	wait
	i=$((i + 1))
done
