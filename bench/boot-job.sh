#!/bin/sh
# Runs where KVM can boot guests (test host or hardware): boots the same guest
# with cvmm and with QEMU microvm, alternately, ROUNDS times, and prints one
# "RESULT <case> <vmm> <timeit fields>" line per run.
# env: ROUNDS (default 5), DIR (files: cvmm cvmm-static timeit floor mg-exit.elf mg-hello.elf bzImage
#      initrd.img qemu-system-x86_64 qemu-share/)
DIR=${DIR:-.}
ROUNDS=${ROUNDS:-5}
cd "$DIR" || exit 1
Q="./qemu-system-x86_64 -L ./qemu-share -nodefaults -no-user-config -display none -accel kvm -cpu host"
run() { # case vmm marker cmd...
	c=$1 v=$2 m=$3
	shift 3
	r=$(./timeit --quiet --marker "$m" -- "$@" </dev/null 2>/dev/null | tail -1)
	echo "RESULT $c $v $r"
}
i=0
while [ $i -lt "$ROUNDS" ]; do
	# 1. exec -> first instruction: the guest's first instruction writes the
	#    debug-exit port, so the VMM's exit time bounds it from above.
	run first-insn cvmm NONE ./cvmm --debug-exit --memory 64M --kernel mg-exit.elf
	run first-insn cvmm-static NONE ./cvmm-static --debug-exit --memory 64M --kernel mg-exit.elf
	run first-insn floor NONE ./floor --memory 64 mg-exit.elf
	run first-insn floor-pit NONE ./floor --pit --memory 64 mg-exit.elf
	run first-insn qemu NONE $Q -M microvm,x-option-roms=off,rtc=off,pit=off,pic=off,isa-serial=off -m 64M \
		-device isa-debug-exit,iobase=0x501,iosize=1 -kernel mg-exit.elf
	# 1b. exec -> the guest's first output (mg-hello writes "G" to COM1 at
	#    once, then the debug-exit port) and -> the VMM's exit after it
	run first-out cvmm G ./cvmm --debug-exit --memory 64M --kernel mg-hello.elf
	run first-out cvmm-static G ./cvmm-static --debug-exit --memory 64M --kernel mg-hello.elf
	run first-out floor G ./floor --memory 64 mg-hello.elf
	run first-out floor-pit G ./floor --pit --memory 64 mg-hello.elf
	run first-out qemu G $Q -M microvm,x-option-roms=off,rtc=off,pit=off,pic=off -m 64M \
		-serial stdio -device isa-debug-exit,iobase=0x501,iosize=1 -kernel mg-hello.elf
	# 2. exec -> init of a real Linux guest (small kernel, quiet), and to its
	#    power-off
	run linux-init cvmm GUEST-INFO ./cvmm --cpus 1 --memory 128M --kernel bzImage --initrd initrd.img \
		--cmdline "console=ttyS0 quiet panic=-1 cvmm.test=info"
	run linux-init qemu GUEST-INFO $Q -M microvm,acpi=on -m 128M -serial stdio -kernel bzImage \
		-initrd initrd.img -append "console=ttyS0 quiet panic=-1 cvmm.test=info"
	i=$((i + 1))
done
