#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the gpio-pci crash-recovery and live-upgrade tests
# (run-gpio-recover.sh, run-gpio-takeover.sh). Linux's gpio-pci-idio-16
# driver sets two output lines and says so; the host then replaces the
# server (SIGKILL and a restart by vus-supervise, or --take-over) and
# raises input line 4 once the new server runs. Seeing the input change
# proves the replacement happened; the outputs must read back as they were
# written, and the device must go on working. vus.scale=N on the kernel
# command line multiplies the waits.
fail() { echo "FAIL: $*"; exit 1; }
S=$(sed -n 's/.*vus\.scale=\([0-9]*\).*/\1/p' /proc/cmdline); S=${S:-1}

BDF=$(pcitool find 0x494f 0x0dc8 | head -1)
[ -n "$BDF" ] || fail "no PCI device 494f:0dc8"
modprobe gpio-pci-idio-16 || fail "modprobe gpio-pci-idio-16"
D=/sys/bus/pci/devices/$BDF
for _ in $(seq $((10 * S))); do [ -e $D/driver ] && break; sleep 0.2; done
[ -e $D/driver ] || fail "driver did not bind"
chip=""
for g in /sys/class/gpio/gpiochip*; do
  [ "$(cat $g/label)" = "$BDF" ] && chip=$g
done
[ -n "$chip" ] || fail "no gpiochip for $BDF"
base=$(cat $chip/base)
export_line() { # $1 = offset; prints the sysfs directory
  ls /sys/class/gpio > /tmp/gpio.before
  echo $((base + $1)) > /sys/class/gpio/export || return 1
  n=$(ls /sys/class/gpio | grep -vxF -f /tmp/gpio.before | head -1)
  [ -n "$n" ] && echo "/sys/class/gpio/$n"
}
O0=$(export_line 0) || fail "export output 0"
O9=$(export_line 9) || fail "export output 9"
I4=$(export_line 20) || fail "export input 4"
echo 1 > $O0/value && echo 1 > $O9/value || fail "set outputs"
[ "$(cat $I4/value)" = 0 ] || fail "input 4 is already high"
echo "GPIO-WRITTEN"

# The host raises input 4 once a restarted server serves the device.
i=0
while [ "$(cat $I4/value)" != 1 ]; do
  i=$((i + 1))
  [ $i -le $((600 * S)) ] || fail "input 4 never went high (no new server?)"
  sleep 0.1
done
echo "input 4 is high: the new server answers"
[ "$(cat $O0/value)$(cat $O9/value)" = 11 ] || fail "outputs read $(cat $O0/value)$(cat $O9/value), wrote 11"
# The session goes on: the new server takes writes too.
echo 0 > $O0/value || fail "clear output 0"
[ "$(cat $O0/value)$(cat $O9/value)" = 01 ] || fail "outputs read $(cat $O0/value)$(cat $O9/value) after a write, expected 01"
echo "outputs kept across the replacement; PASS"
exit 0
