#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the two-devices test: two virtio-net functions in one
# guest, each on a link of its own, carry traffic at the same time
# (guest-virtio-net-traffic.sh, copied to /root/traffic.sh, on each).
# Kernel command line: vnet.mac0=MAC vnet.mac1=MAC (which is which), and
# what the traffic script reads (vnet.mb, vus.scale).
opt() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
sh /root/traffic.sh vnet.mac="$(opt vnet.mac0)" vnet.ip=10.0.2.2/24 \
  vnet.host=10.0.2.1 > /tmp/dev0.log 2>&1 &
p0=$!
sh /root/traffic.sh vnet.mac="$(opt vnet.mac1)" vnet.ip=10.0.3.2/24 \
  vnet.host=10.0.3.1 > /tmp/dev1.log 2>&1 &
p1=$!
wait $p0; r0=$?
wait $p1; r1=$?
sed 's/^/dev0: /' /tmp/dev0.log
sed 's/^/dev1: /' /tmp/dev1.log
[ $r0 = 0 ] && [ $r1 = 0 ] || { echo "FAIL: device 0 status $r0, device 1 status $r1"; exit 1; }
echo "PASS"
exit 0
