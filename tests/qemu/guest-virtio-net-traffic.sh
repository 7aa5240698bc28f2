#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the virtio-net-pci test (runs inside the qemu-harness
# guest). Linux's virtio_pci and virtio_net bind to the device, the link
# comes up with the MAC the device was given, and traffic to the host at
# the far end of the datagram link (tests/virtio_responder.c) works: ARP,
# ping (small, and 8000-byte ones that span mergeable receive buffers), and
# a bulk transfer both ways over TFTP: the guest downloads a generated file,
# checks its CRC-32 against the one the host computed, and uploads it back;
# the host's CRC-32 of the upload must match too. Prints FIGURE lines.
# Kernel command line options (run-guest.sh --append), which arguments
# of the same form override (sh guest-virtio-net-traffic.sh vnet.mac=...):
#   vnet.mac=MAC        the device to use: the virtio-net function whose
#                       interface has this MAC (default: the first one)
#   vnet.ip=ADDR/PREFIX our address (default 10.0.2.2/24)
#   vnet.host=ADDR      the responder (default 10.0.2.1)
#   vnet.mb=N           expected size of the transfer in MiB (default 64)
#   vnet.mtu=N          interface MTU (default 9000)
#   vnet.blk=N          TFTP block size (default 8192)
#   vnet.iommu=1        the device must sit behind an active vIOMMU (DMAR
#                       on, an IOMMU group, VIRTIO_F_ACCESS_PLATFORM taken)
#   vnet.pings=N        instead of the traffic test: N pings 20 ms apart
#                       (PING-START before them: the host kills the
#                       device's server meanwhile), every reply printed,
#                       then a failure if the driver logged anything
#   vnet.hold=1         on the first boot the responder sees (its "boot"
#                       file says 1), move bulk data until the host acts:
#                       the host's reset or kill then lands mid-transfer
#                       however fast either side is; later boots run the
#                       test as without it
#   vus.scale=N         multiply the waits (the suites' deadline multiplier)
# Before the bulk transfer it prints TRAFFIC-BULK-START (a host may act on
# it: reset the VM, kill QEMU).
ARGS="$*"
fail() { echo "FAIL: $*"; exit 1; }
opt() { for w in $(cat /proc/cmdline) $ARGS; do case "$w" in "$1="*) v="${w#*=}";; esac; done; echo "${v:-}"; v=""; }
now() { cut -d' ' -f1 /proc/uptime; }
rate() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { d = t1 - t0; if (d <= 0) d = 0.01; printf "%.1f", b / d / 1048576 }'; }
MAC=$(opt vnet.mac)
IPADDR=$(opt vnet.ip); IPADDR=${IPADDR:-10.0.2.2/24}
HOST=$(opt vnet.host); HOST=${HOST:-10.0.2.1}
MB=$(opt vnet.mb); MB=${MB:-64}
MTU=$(opt vnet.mtu); MTU=${MTU:-9000}
BLK=$(opt vnet.blk); BLK=${BLK:-8192}
BYTES=$((MB * 1048576))
IOMMU=$(opt vnet.iommu)
S=$(opt vus.scale); S=${S:-1}

[ -n "$(pcitool find 0x1af4 0x1041)" ] || fail "no virtio-net PCI device 1af4:1041"
modprobe virtio_pci || fail "modprobe virtio_pci"
modprobe virtio_net || fail "modprobe virtio_net"
# The virtio-net function whose interface has $MAC (any with none given).
find_dev() {
  for BDF in $(pcitool find 0x1af4 0x1041); do
    D=/sys/bus/pci/devices/$BDF
    IF=$(ls $D/virtio*/net 2>/dev/null | head -1)
    [ -n "$IF" ] || continue
    [ -z "$MAC" ] || [ "$(cat /sys/class/net/$IF/address)" = "$MAC" ] && return 0
  done
  return 1
}
for _ in $(seq $((50 * S))); do find_dev && break; sleep 0.1; done
find_dev || fail "no virtio-net interface${MAC:+ with MAC $MAC}"
V=$(ls -d $D/virtio* | head -1)
T=/tmp/$IF # this run's files: two may run at once
echo "$BDF: pci driver $(basename "$(readlink $D/driver)"), $(basename $V) driver $(basename "$(readlink $V/driver)"), features $(cat $V/features)"
N=/sys/class/net/$IF
if [ "$IOMMU" = 1 ]; then
  dmesg | grep -q "DMAR: IOMMU enabled" || fail "the guest's IOMMU is not enabled"
  [ -e $D/iommu_group ] || fail "$BDF is in no IOMMU group"
  echo "$BDF: iommu group $(basename "$(readlink $D/iommu_group)"), domain $(cat $D/iommu_group/type 2>/dev/null)"
  # Bit 33 of the features the driver took (sysfs lists bit 0 first).
  [ "$(cut -c34 $V/features)" = 1 ] || fail "VIRTIO_F_ACCESS_PLATFORM not negotiated"
fi
ip link set dev $IF mtu $MTU || fail "mtu $MTU"
ip link set dev $IF up || fail "link up"
ip addr add $IPADDR dev $IF || fail "ip addr add $IPADDR"
for _ in $(seq $((50 * S))); do [ "$(cat $N/operstate)" = up ] && break; sleep 0.1; done
[ "$(cat $N/operstate)" = up ] || fail "operstate $(cat $N/operstate)"
echo "interface $IF: mac $(cat $N/address) mtu $(cat $N/mtu) operstate up carrier $(cat $N/carrier)"
grep -E "virtio|$IF" /proc/interrupts | sed 's/  */ /g'

# Ping: the first one also resolves the host's address (ARP).
traffic0=$(now)
ping -c 1 -W $((5 * S)) $HOST >/dev/null || fail "no answer from $HOST"
ip neigh show dev $IF
PINGS=$(opt vnet.pings)
if [ -n "$PINGS" ]; then
  d0=$(dmesg | wc -l)
  echo "PING-START"
  ping -c $PINGS -i 0.02 -W $((5 * S)) $HOST > $T-ping 2>&1
  echo "PING-END"
  grep "seq=" $T-ping | sed 's/.*seq=\([0-9]*\).*time=\([0-9.]*\).*/PING seq=\1 ms=\2/'
  tail -2 $T-ping
  # A reset, a transmit timeout or a broken queue shows in the log.
  new=$(dmesg | tail -n +$((d0 + 1)) | grep -i -E "virtio|$IF|reset|timed out|watchdog")
  [ -z "$new" ] || fail "the driver logged: $new"
  echo "interface $IF: operstate $(cat $N/operstate) carrier $(cat $N/carrier)"
  [ "$(cat $N/operstate)" = up ] || fail "operstate $(cat $N/operstate)"
  exit 0
fi
out=$(ping -c 200 -A -q $HOST) || fail "ping: $out"
echo "$out" | tail -2
avg=$(echo "$out" | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
echo "FIGURE ping_avg_ms=$avg"
out=$(ping -c 5 -s 8000 -q $HOST) || fail "8000-byte ping: $out"
echo "$out" | tail -2

if [ "$(opt vnet.hold)" = 1 ]; then
  tftp -g -r boot -l $T-boot $HOST || fail "tftp get boot"
  if [ "$(cat $T-boot)" = 1 ]; then
    echo "TRAFFIC-BULK-START $IF (until the host acts)"
    while :; do tftp -g -b $BLK -r blob -l $T-blob $HOST || fail "tftp get blob"; done
  fi
fi

# Bulk, host to guest: the generated blob, then the host's CRC-32 of it.
echo "TRAFFIC-BULK-START $IF"
t0=$(now)
tftp -g -b $BLK -r blob -l $T-blob $HOST || fail "tftp get blob"
t1=$(now)
size=$(stat -c %s $T-blob)
[ "$size" = "$BYTES" ] || fail "blob is $size bytes, expected $BYTES"
tftp -g -r blob.crc -l $T-blob.crc $HOST || fail "tftp get blob.crc"
want=$(cut -d' ' -f1 $T-blob.crc)
got=$(crc32 $T-blob | cut -d' ' -f1)
echo "download: $size bytes in $(awk -v a=$t0 -v b=$t1 'BEGIN{print b-a}') s, crc32 here $got, host $want"
[ "$got" = "$want" ] || fail "downloaded blob: crc32 $got, host says $want"
echo "FIGURE download_MBps=$(rate $size $t0 $t1)"

# Bulk, guest to host: the same bytes back; the host's CRC-32 must match.
t2=$(now)
tftp -p -b $BLK -l $T-blob -r up $HOST || fail "tftp put"
t3=$(now)
tftp -g -r up.crc -l $T-up.crc $HOST || fail "tftp get up.crc"
echo "upload: $size bytes in $(awk -v a=$t2 -v b=$t3 'BEGIN{print b-a}') s, host received $(cat $T-up.crc)"
[ "$(cat $T-up.crc)" = "$got $size" ] || fail "upload: host has '$(cat $T-up.crc)', sent '$got $size'"
echo "FIGURE upload_MBps=$(rate $size $t2 $t3)"
echo "FIGURE traffic_s=$(awk -v a=$traffic0 -v b=$(now) 'BEGIN{print b-a}')"

for c in rx_packets rx_bytes rx_errors rx_dropped tx_packets tx_bytes tx_errors tx_dropped; do
  printf '%s=%s ' $c "$(cat $N/statistics/$c)"
done
echo
grep -E "virtio" /proc/interrupts | sed 's/  */ /g'
echo "PASS"
exit 0
