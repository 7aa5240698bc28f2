#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the gpio-pci interrupt test (runs inside the qemu-harness
# guest). The host toggles input line 0 every few hundred milliseconds;
# here Linux's gpio-pci-idio-16 driver must see the new levels and take
# change-of-state interrupts through INTx. Exit 0 on success.
# vus.scale=N on the kernel command line multiplies the waits (the
# suites' deadline multiplier, rounded up).
fail() { echo "FAIL: $*"; exit 1; }
S=$(sed -n 's/.*vus\.scale=\([0-9]*\).*/\1/p' /proc/cmdline); S=${S:-1}

BDF=$(pcitool find 0x494f 0x0dc8 | head -1)
[ -n "$BDF" ] || fail "no PCI device 494f:0dc8"
modprobe gpio-pci-idio-16 || fail "modprobe gpio-pci-idio-16"
D=/sys/bus/pci/devices/$BDF
for _ in $(seq $((10 * S))); do [ -e $D/driver ] && break; sleep 0.2; done
[ -e $D/driver ] || fail "driver did not bind"
IRQ=$(cat $D/irq)
chip=""
for g in /sys/class/gpio/gpiochip*; do
  [ "$(cat $g/label)" = "$BDF" ] && chip=$g
done
[ -n "$chip" ] || fail "no gpiochip for $BDF"
base=$(cat $chip/base)

# Export input line 0 (gpio offset 16) and ask for edge interrupts: the
# driver unmasks the line, which enables the card's interrupt.
ls /sys/class/gpio > /tmp/before
echo $((base + 16)) > /sys/class/gpio/export || fail "export IIN0"
L=/sys/class/gpio/$(ls /sys/class/gpio | grep -vxF -f /tmp/before | head -1)
echo both > $L/edge || fail "edge=both on IIN0"

intx_count() { awk -v irq="$IRQ:" '$1 == irq { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s }' /proc/interrupts; }
gpio_count() { grep -i 'idio' /proc/interrupts | awk '{ s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; t += s } END { print t + 0 }'; }

c0=$(intx_count); g0=$(gpio_count)
echo "INTx $IRQ count at start: $c0, gpio irqs: $g0"
seen0=0; seen1=0
i=0
while [ $i -lt $((100 * S)) ]; do
  v=$(cat $L/value)
  [ "$v" = 0 ] && seen0=1
  [ "$v" = 1 ] && seen1=1
  c=$(intx_count); g=$(gpio_count)
  if [ $seen0 = 1 ] && [ $seen1 = 1 ] && [ "$c" -ge $((c0 + 3)) ] && [ "$g" -ge $((g0 + 3)) ]; then
    echo "input line toggled; INTx count $c0 -> $c, gpio irqs $g0 -> $g"
    grep -i -E "idio|^ *$IRQ:" /proc/interrupts
    echo "PASS"
    exit 0
  fi
  sleep 0.1
  i=$((i + 1))
done
grep -i -E "idio|^ *$IRQ:" /proc/interrupts
fail "saw values 0:$seen0 1:$seen1, INTx $c0 -> $(intx_count), gpio irqs $g0 -> $(gpio_count)"
