#!/bin/sh
# Runs the blk benchmark's fio jobs against $1 and prints one line per job:
#   FIO <job> iops=<n> kib_s=<n>
# $2: extra fio options (e.g. --direct=1). POSIX sh, for guests and hosts.
target=$1
extra=${2:-}
for j in randread:4k:1 randread:4k:32 read:1m:1 read:1m:32 write:1m:1 write:1m:32; do
	rw=${j%%:*}
	rest=${j#*:}
	bs=${rest%%:*}
	qd=${rest#*:}
	# shellcheck disable=SC2086
	fio --name="$rw-$bs-qd$qd" --filename="$target" --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--ioengine=io_uring --size=192M --time_based --runtime="${FIO_RUNTIME:-4}" \
		--ramp_time=1 --output-format=terse --terse-version=3 $extra 2>/dev/null |
		awk -F';' -v job="$rw-$bs-qd$qd" '{
			if ($49 + 0 > 0) print "FIO " job " iops=" int($49) " kib_s=" int($48);
			else print "FIO " job " iops=" int($8) " kib_s=" int($7) }'
done
