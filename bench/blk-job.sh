#!/bin/sh
# bench/blk inside a KVM host: fio on the host file, then in a cvmm guest and
# a QEMU guest on the same image, alternately; prints "RESULT <who> <fio line>".
cd /work || exit 1
ROUNDS=${ROUNDS:-1}
dd if=/dev/zero of=/tmp/disk.img bs=1048576 count=256 2>/dev/null
Q="./qemu-system-x86_64 -L ./qemu-share -nodefaults -no-user-config -display none -accel kvm -cpu host"
i=0
while [ $i -lt "$ROUNDS" ]; do
	sh ./fio-jobs.sh /tmp/disk.img | sed 's/^/RESULT host /'
	if [ -n "${TRANSPORTS:-}" ]; then
		# mmio vs pci: a multi-queue disk, one fio job per vCPU
		for t in $TRANSPORTS; do
			./cvmm --transport "$t" --kernel stock-vmlinuz --initrd guest.cpio.gz --cpus 2 \
				--memory 256M --disk "/tmp/disk.img,queues=${QUEUES:-2}" \
				--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=fio cvmm.fiojobs=2" </dev/null |
				tr -d '\r' | grep '^FIO' | sed "s/^/RESULT cvmm-$t /"
		done
		i=$((i + 1))
		continue
	fi
	./cvmm --kernel stock-vmlinuz --initrd guest.cpio.gz --cpus 2 --memory 256M \
		--disk /tmp/disk.img --cmdline "console=ttyS0 quiet panic=-1 cvmm.test=fio" </dev/null |
		tr -d '\r' | grep '^FIO' | sed 's/^/RESULT cvmm /'
	$Q -M microvm,acpi=on -m 256M -smp 2 -serial stdio -kernel stock-vmlinuz -initrd guest.cpio.gz \
		-append "console=ttyS0 quiet panic=-1 cvmm.test=fio" \
		-object iothread,id=io0 \
		-drive id=d0,file=/tmp/disk.img,format=raw,if=none,aio=io_uring,cache=writeback \
		-device virtio-blk-device,drive=d0,iothread=io0 </dev/null |
		tr -d '\r' | grep '^FIO' | sed 's/^/RESULT qemu /'
	i=$((i + 1))
done
