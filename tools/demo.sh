#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make demo: serve the gpio-pci sample and drive it with vus-ctl (device
# info, config space, registers, an interrupt, its management plane, its
# state saved and loaded into a second card), then the sysbus-uart sample
# (a greeting out through THR, an answer in through RBR with its interrupt).
# Part of tools/, which is GPL-2.0-or-later because vus-ctl links libpci
# (GPL-2.0-or-later).
#
#   tools/demo.sh [BUILD_DIR]
set -euo pipefail

build=${1:-build}
gpio=$build/samples/gpio-pci/vus-gpio-pci
uart=$build/samples/sysbus-uart/vus-sysbus-uart
ctl=$build/tools/vus-ctl
for exe in "$gpio" "$uart" "$ctl"; do
	if [ ! -x "$exe" ]; then
		echo "demo: $exe is not built (vus-ctl needs libpci-dev)" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/vus-demo.XXXXXX")
sock=$dir/gpio.sock
rpc=$dir/gpio.rpc
"$gpio" --socket-path "$sock" --rpc-path "$rpc" --inputs 0x00ff &
server=$!
userver=
server2=
trap 'kill $server $server2 $userver 2>/dev/null; wait $server $server2 $userver 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
	[ -S "$sock" ] && [ -S "$rpc" ] && break
	sleep 0.05
done

# Show a command, then run it (on $sock).
step() {
	printf '\n$ vus-ctl --socket %s %s\n' "$sock" "$*"
	"$ctl" --socket "$sock" "$@"
}

# The same for a management call (on $rpc).
mstep() {
	printf '\n$ vus-ctl --rpc %s %s\n' "$rpc" "$*"
	"$ctl" --rpc "$rpc" "$@"
}

echo "Serving an ACCES PCI-IDIO-16 card (gpio-pci sample) at $sock"
step info
step config
echo
echo "# BAR 2 is the card's 8 I/O registers: inputs 0-7 read at offset 1,"
echo "# outputs 0-7 at offset 0. One connection per vus-ctl run; the card"
echo "# keeps its state when a client leaves, so one run writes the outputs"
echo "# and the next reads them back (0x5a):"
step read 2 1 1
step write 2 0 1 0x5a
step read 2 0 1
echo
echo "# An interrupt: enable the card's change-of-state IRQ (read offset 2),"
echo "# bind INTx to an eventfd and wait; meanwhile the outside world flips"
echo "# inputs through the card's management socket (gpio.set-inputs)."
echo "# Then read the status. Expect: 0x00 (the enable read), 1 (one INTx"
echo "# arrived), 0x07 (both input groups changed, interrupt pending) -- what"
echo "# Linux's driver checks."
( sleep 0.5; "$ctl" --rpc "$rpc" gpio.set-inputs inputs=0x0f0f >/dev/null ) &
flipper=$!
step read 2 2 1 , irq-wait 0 0 5000 , read 2 6 1
wait $flipper

echo
echo "# The management plane (JSON-RPC 2.0 on --rpc-path, doc/management.md):"
echo "# the server's own view without being its vfio-user client -- who is"
echo "# connected, the migration state, and what every run above sent it:"
echo "# messages per command, bytes, interrupts raised. Then a device method:"
echo "# line 3 low, and the card's state."
mstep query-status
mstep query-stats
mstep gpio.set-input line=3 level=false

echo
echo "# Migration: the card's state goes into a file (the card stops, as a"
echo "# migration source does), and a second card, started empty, takes it:"
echo "# its outputs read 0x5a although nobody wrote them there, and still"
echo "# do in the next run."
"$gpio" --socket-path "$dir/gpio2.sock" &
server2=$!
for _ in $(seq 100); do
	[ -S "$dir/gpio2.sock" ] && break
	sleep 0.05
done
step migration , save "$dir/gpio.state"
sock=$dir/gpio2.sock
step read 2 0 1
step load "$dir/gpio.state" , read 2 0 1
step read 2 0 1

# The UART: a 16550A on SysBus whose serial line is a pseudo-terminal. The
# server prints the pty's path and keeps it raw (no echo), so this script
# is the other end of the line with plain redirections on fd 3.
sock=$dir/uart.sock
"$uart" --socket-path "$sock" --backend pty 2>"$dir/uart.log" &
userver=$!
for _ in $(seq 100); do
	[ -S "$sock" ] && grep -q '^pty: ' "$dir/uart.log" && break
	sleep 0.05
done
pty=$(sed -n 's/^pty: //p' "$dir/uart.log")
exec 3<>"$pty"
echo
echo
echo "Serving a 16550A UART (sysbus-uart sample) at $sock, its line on $pty"
step info
echo
echo "# Window 0 holds the 8 registers (THR/RBR at 0, IER 1, IIR 2, LSR 5)."
echo "# Write a greeting into THR byte by byte, then read LSR: 0x60, THR"
echo "# empty -- every byte has gone out on the line:"
greeting="Hello"
cmds=()
for ((i = 0; i < ${#greeting}; i++)); do
	cmds+=(write 0 0 1 "$(printf '0x%02x' "'${greeting:i:1}")" ,)
done
step "${cmds[@]}" write 0 0 1 0x0a , read 0 5 1
IFS= read -r -t 5 line <&3 || line="(nothing within 5 s)"
echo "the line's far end ($pty) received: \"$line\""
echo
echo "# Now the far end answers \"ok\" while vus-ctl waits for the interrupt"
echo "# (IER = 0x01, received data). Expect: 1 (the line fired), 0x04 (IIR:"
echo "# data available), 0x61 (LSR: data ready), 0x6f 0x6b (\"ok\"), 0x60."
( sleep 0.5; printf 'ok' >&3 ) &
answer=$!
step write 0 1 1 0x01 , irq-wait 0 0 5000 , read 0 2 1 , read 0 5 1 , \
	read 0 0 1 , read 0 0 1 , read 0 5 1
wait $answer
exec 3<&-
echo
echo "demo: done"
