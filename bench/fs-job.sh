#!/bin/sh
# bench/fs inside a KVM host: the workload on a directory of the test host,
# then in a cvmm guest on the same kind of directory shared with virtio-fs.
cd /work || exit 1
mkdir -p /tmp/fsb-host /tmp/fsb-share
sh ./fs-work.sh /tmp/fsb-host host | sed 's/^/RESULT /'
./cvmm --kernel small-bzImage --initrd guest.cpio.gz --cpus 2 --memory 256M \
	--fs tag=bench,path=/tmp/fsb-share \
	--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=fs-bench" </dev/null |
	tr -d '\r' | grep '^FSBENCH' | sed 's/^/RESULT /'
