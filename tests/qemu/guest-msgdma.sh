#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the message DMA test (runs inside the qemu-harness guest;
# host side: run-msgdma.sh, device: tests/msgdma_server.c). A locked page
# filled with 0x5a is handed to the device, which reads it, writes a
# pattern (byte i = 7i + 1) there, reads it back and raises INTx; the page
# must then hold the pattern and the device must report 1. While the
# device works the guest waits for the interrupt (uio) and touches the
# device not at all: QEMU could not serve the device's DMA while a vCPU
# waits for the device. vus.scale=N on the kernel command line multiplies
# the waits.
fail() { echo "FAIL: $*"; exit 1; }
S=$(sed -n 's/.*vus\.scale=\([0-9]*\).*/\1/p' /proc/cmdline); S=${S:-1}

BDF=$(pcitool find 0x1af4 0x10f0 | head -1)
[ -n "$BDF" ] || fail "no PCI device 1af4:10f0"
modprobe uio_pci_generic || fail "modprobe uio_pci_generic"
echo "1af4 10f0" > /sys/bus/pci/drivers/uio_pci_generic/new_id
D=/sys/bus/pci/devices/$BDF
for _ in $(seq $((10 * S))); do [ -d $D/uio ] && break; sleep 0.2; done
UIO=$(ls $D/uio 2>/dev/null | head -1)
[ -n "$UIO" ] || fail "uio_pci_generic did not bind"
# I/O decoding and bus mastering (QEMU refuses DMA without it), INTx on.
pcitool cfgwr "$BDF" 4 2 0x5 || fail "command register"
pcitool physbuf 1 $((60 * S)) 0x5a > /tmp/pb &
pb=$!
for _ in $(seq $((50 * S))); do grep -q phys /tmp/pb && break; sleep 0.1; done
phys=$(sed -n 's/^page 0 phys //p' /tmp/pb)
[ -n "$phys" ] || fail "no physical buffer"
echo "buffer at $phys"
# Opened before the job starts: a reader sees interrupts from its open on.
exec 3< /dev/$UIO || fail "open /dev/$UIO"
pcitool wr "$BDF" 0 0 4 $((phys & 0xffffffff)) || fail "address low"
pcitool wr "$BDF" 0 4 4 $((phys >> 32)) || fail "address high"
# One interrupt: a read of /dev/uioN returns once it came.
dd of=/tmp/irq bs=4 count=1 <&3 2>/dev/null || fail "no interrupt"
exec 3<&-
r=$(pcitool rd "$BDF" 0 8 4)
kill -USR1 $pb; wait $pb
cat /tmp/pb
[ "$r" = 0x1 ] || fail "device result $r (1: done; 2: first read wrong; 3: read-back wrong; negative: errno)"
want="page 0:"
i=0
while [ $i -lt 32 ]; do want="$want $(printf %02x $(((7 * i + 1) & 255)))"; i=$((i + 1)); done
grep -qxF "$want" /tmp/pb || fail "page does not hold the pattern: want '$want'"
echo "PASS: the device read and wrote guest RAM by messages"
