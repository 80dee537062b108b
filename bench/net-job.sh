#!/bin/sh
# bench/net inside a KVM host: an iperf3 server on a tap; the guest under
# cvmm, then under QEMU, runs iperf3 both ways and ping; "RESULT <who> ...".
cd /work || exit 1
ROUNDS=${ROUNDS:-1}
SECS=${SECS:-5}
IP=${IP:-ip}
$IP link set lo up
if [ -n "${TRANSPORTS:-}" ]; then
	$IP tuntap add dev bnt0 mode tap multi_queue
else
	$IP tuntap add dev bnt0 mode tap
fi
$IP addr add 10.0.9.1/24 dev bnt0
$IP link set bnt0 up
iperf3 -s -D -B 10.0.9.1 >/dev/null 2>&1
CMD="console=ttyS0 quiet panic=-1 cvmm.test=iperf cvmm.ip=10.0.9.2/24 cvmm.peer=10.0.9.1 cvmm.secs=$SECS"
Q="./qemu-system-x86_64 -L ./qemu-share -nodefaults -no-user-config -display none -accel kvm -cpu host"
i=0
while [ $i -lt "$ROUNDS" ]; do
	if [ -n "${TRANSPORTS:-}" ]; then
		# mmio vs pci: 2 queue pairs, 2 streams
		for t in $TRANSPORTS; do
			./cvmm --transport "$t" --kernel small-bzImage --initrd guest.cpio.gz --cpus 2 \
				--memory 256M --net tap=bnt0,queues=2 --cmdline "$CMD cvmm.streams=2" </dev/null |
				tr -d '\r' | grep '^BENCH-NET' | sed "s/^/RESULT cvmm-$t /"
		done
		i=$((i + 1))
		continue
	fi
	./cvmm --kernel small-bzImage --initrd guest.cpio.gz --cpus 2 --memory 256M --net bnt0 \
		--cmdline "$CMD" </dev/null | tr -d '\r' | grep '^BENCH-NET' | sed 's/^/RESULT cvmm /'
	$Q -M microvm,acpi=on -m 256M -smp 2 -serial stdio -kernel small-bzImage -initrd guest.cpio.gz \
		-append "$CMD" -netdev tap,id=n0,ifname=bnt0,script=no,downscript=no,vhost=off \
		-device virtio-net-device,netdev=n0 </dev/null |
		tr -d '\r' | grep '^BENCH-NET' | sed 's/^/RESULT qemu /'
	i=$((i + 1))
done
