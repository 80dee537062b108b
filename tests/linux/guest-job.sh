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
	echo "GUEST-CMDLINE $(cat /proc/cmdline)"
	[ -e /dev/rtc0 ] && echo "GUEST-RTC $(cat /sys/class/rtc/rtc0/date 2>/dev/null)"
	echo "GUEST-DATE $(date -u +%Y)"
}
case "$t" in
info) info; poweroff -f ;;
reboot) echo "GUEST-REBOOTING"; reboot -f ;;
sleep) echo "GUEST-SLEEPING"; while :; do sleep 60; done ;;
shell)
	info
	echo "cvmm demo guest: type 'poweroff -f' (or Ctrl-A x) to leave"
	setsid cttyhack sh -l
	poweroff -f ;;
*) info; poweroff -f ;;
esac
