#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make demo: serve the gpio-pci sample and drive it with vus-ctl (device
# info, config space, registers, an interrupt). Part of tools/, which is
# GPL-2.0-or-later because vus-ctl links libpci (GPL-2.0-or-later).
#
#   tools/demo.sh [BUILD_DIR]
set -euo pipefail

build=${1:-build}
gpio=$build/samples/gpio-pci/vus-gpio-pci
ctl=$build/tools/vus-ctl
for exe in "$gpio" "$ctl"; do
	if [ ! -x "$exe" ]; then
		echo "demo: $exe is not built (vus-ctl needs libpci-dev)" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/vus-demo.XXXXXX")
sock=$dir/gpio.sock
control=$dir/gpio.ctl
"$gpio" --socket-path "$sock" --control-path "$control" --inputs 0x00ff &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
	[ -S "$sock" ] && [ -S "$control" ] && break
	sleep 0.05
done

# Show a command, then run it.
step() {
	printf '\n$ vus-ctl --socket %s %s\n' "$sock" "$*"
	"$ctl" --socket "$sock" "$@"
}

echo "Serving an ACCES PCI-IDIO-16 card (gpio-pci sample) at $sock"
step info
step config
echo
echo "# BAR 2 is the card's 8 I/O registers: inputs 0-7 read at offset 1,"
echo "# outputs 0-7 at offset 0. One connection per vus-ctl run, and the"
echo "# device resets when a client leaves, so write and read back in one:"
step read 2 1 1
step write 2 0 1 0x5a , read 2 0 1
echo
echo "# An interrupt: enable the card's change-of-state IRQ (read offset 2),"
echo "# bind INTx to an eventfd and wait; meanwhile the outside world flips"
echo "# inputs through the sample's control socket. Then read the status."
echo "# Expect: 0x00 (the enable read), 1 (one INTx arrived), 0x07 (both input"
echo "# groups changed, interrupt pending) -- what Linux's driver checks."
( sleep 0.5; "$gpio" ctl --control-path "$control" inputs 0x0f0f >/dev/null ) &
flipper=$!
step read 2 2 1 , irq-wait 0 0 5000 , read 2 6 1
wait $flipper
echo
echo "demo: done"
