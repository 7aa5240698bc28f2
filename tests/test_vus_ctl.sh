#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vus-ctl against served devices (test_vus_ctl_server): every command, text
# and JSON, the exit status, and the error messages a user sees.
#
#   test_vus_ctl.sh VUS_CTL TEST_VUS_CTL_SERVER README_EXAMPLE
set -u

ctl=$1
server=$2
example=$3
. "$(dirname "$0")/timescale.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vus-ctl-test.XXXXXX")
pids=()
failures=0

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT

# start MODE NAME: serve a device at $dir/NAME.sock, wait until it listens.
start() {
	"$server" "$1" "$dir/$2.sock" >"$dir/$2.log" 2>&1 &
	pids+=($!)
	for _ in $(seq "$(tries 5 0.05)"); do
		grep -q ready "$dir/$2.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "server $1 did not start:"; cat "$dir/$2.log"
	exit 1
}

# run NAME STATUS ARGS...: run vus-ctl on socket NAME, expect exit STATUS.
run() {
	local sock=$1 want=$2
	shift 2
	"$ctl" --socket "$dir/$sock.sock" --timeout "$(scaled 5000)" "$@" \
		>"$dir/out" 2>"$dir/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: vus-ctl $* exited $got, expected $want"
		sed 's/^/  stderr: /' "$dir/err"
		failures=$((failures + 1))
	fi
}

# expect FILE PATTERN: the last run's stdout (out) or stderr (err) has it.
expect() {
	if ! grep -qF -- "$2" "$dir/$1"; then
		echo "FAIL: expected '$2' in $1 of the last command; got:"
		sed 's/^/  /' "$dir/$1"
		failures=$((failures + 1))
	fi
}

start pci pci
start sysbus sb
# The README's example (doc/example.c) publishes its socket when it serves.
"$example" "$dir/ex.sock" >"$dir/ex.log" 2>&1 &
pids+=($!)
for _ in $(seq "$(tries 5 0.05)"); do
	[ -S "$dir/ex.sock" ] && break
	sleep 0.05
done

run pci 0 info
expect out "protocol 0.0"
expect out "device flags 0x3: RESET PCI; 9 regions, 5 irq indexes"
expect out "region 4 BAR4: size 0x10000 flags READ WRITE MMAP"
expect out "mmap area 0x8000-0xbfff (0x4000 bytes)"
expect out "region 7 CONFIG: size 0x1000 flags READ WRITE"
expect out "irq 0 INTX: count 1 flags EVENTFD MASKABLE AUTOMASKED"
expect out "irq 2 MSIX: count 8 flags EVENTFD"

run pci 0 --json info
expect out '"max_data_xfer_size": 1048576'
expect out '"flag_names": ['
expect out '"name": "BAR4"'
if command -v python3 >/dev/null; then
	python3 -m json.tool "$dir/out" >/dev/null ||
		{ echo "FAIL: info --json is not JSON"; failures=$((failures + 1)); }
fi

run pci 0 config
expect out "[1af4:1000] (rev 01, prog-if 00)"
expect out "Subsystem: [1af4:0001]"
expect out "Control: I/O- Mem- BusMaster-"
expect out "Status: INTx- Cap+"
expect out "Interrupt: pin A"
expect out "Region 0: Memory at 00000000 (32-bit, non-prefetchable) [size=4K]"
expect out "Region 2: I/O ports at 0000 [size=256]"
expect out "Region 4: Memory at 00000000 (64-bit, prefetchable) [size=64K]"
expect out "Expansion ROM at 00000000 [size=2K]"
expect out "Power Management version 3, D0"
expect out "MSI: Enable- Count=1/4 Maskable- 64bit+"
expect out "MSI-X: Enable- Count=8 Masked-"
expect out "Vector table: BAR=0 offset=00000800"
expect out "PBA: BAR=0 offset=00000c00"
expect out "PCI Express (v2) Endpoint"
expect out "Vendor Specific"
expect out "v1] Device Serial Number 01-23-45-67-89-ab-cd-ef"

run pci 0 config --json
expect out '"vendor_id": 6900'
expect out '"device_id": 4096'
expect out '"class": 512'
expect out '"rom_size": 2048'
expect out '"name": "MSI-X"'
expect out '"name": "Device Serial Number"'

run pci 0 read 7 0 2
expect out "0x1af4"
run pci 0 read 7 0 4
expect out "0x10001af4"
run pci 0 write 0 0x10 4 0xdeadbeef
run pci 0 read 0 0x10 8
expect out "0x00000000deadbeef"
run pci 0 write 0 0x11 1 0x5a
run pci 0 read 0 0x10 2
expect out "0x5aef"
run pci 0 dump 6 0 20
expect out "00000000  55 aa 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |U...............|"
expect out "00000010  00 00 00 00"
# BAR0's callbacks take naturally aligned 1-8 bytes: the 16-byte read is
# refused and dump reads the range again in pieces they take.
run pci 0 write 0 0x30 4 0x44434241 , dump 0 0x2e 20
expect out "0000002e  00 00 41 42 43 44 00 00  00 00 00 00 00 00 00 00  |..ABCD..........|"
expect out "0000003e  00 00 00 00"
run pci 1 dump 0 0xffe 4
expect err "vus-ctl: REGION_READ region 0 offset 0xffe: Invalid argument"
run pci 0 reset
# Several commands over one connection, in order.
run pci 0 write 0 0x20 4 0x12345678 , read 0 0x20 2 , read 0 0x22 2
expect out "0x5678"
expect out "0x1234"
run pci 1 read 0 0 4 ,
expect err "usage: vus-ctl"
run pci 1 read 0 0 4 , , info
expect err "usage: vus-ctl"
# The first failure stops the rest.
run pci 1 read 9 0 4 , info
expect err "REGION_READ region 9"
[ -s "$dir/out" ] && { echo "FAIL: commands after a failure ran"; failures=$((failures + 1)); }

# A DMA engine from the shell: granted memory filled here, copied by the
# device (BAR0 0x40: 16 bytes at the IOVA to the next 16), read back here.
Z16="5a 5a 5a 5a 5a 5a 5a 5a  5a 5a 5a 5a 5a 5a 5a 5a  |ZZZZZZZZZZZZZZZZ|"
run pci 0 dma-map 0x100000 0x1000 , dma-fill 0x100000 16 0x5a , \
	write 0 0x40 8 0x100000 , dma-dump 0x100000 32 , dma-dump 0x100ff0 16
expect out "00100000  $Z16"
expect out "00100010  $Z16"
expect out "00100ff0  00 00"
# One byte past the mapping: refused here, and by the server for the device.
run pci 1 dma-map 0x100000 0x1000 , dma-dump 0x100ff0 17
expect err "vus-ctl: 0x100ff0+0x11 is not inside memory this run mapped (dma-map)"
run pci 1 dma-map 0x100000 0x1000 , write 0 0x40 8 0x100fe1
expect err "vus-ctl: REGION_WRITE region 0:"
run pci 0 dma-map 0x100000 0x1000 , write 0 0x40 8 0x100fe0

# A regular file granted as DMA memory: the device reads its first 16
# bytes and writes them at 16, into the file itself (MAP_SHARED).
printf 'file for the DMA' >"$dir/dma.bin"
head -c 4080 /dev/zero >>"$dir/dma.bin"
run pci 0 dma-map 0x200000 0x1000 "$dir/dma.bin" , write 0 0x40 8 0x200000 , \
	dma-dump 0x200010 16
expect out "00200010  66 69 6c 65 20 66 6f 72  20 74 68 65 20 44 4d 41  |file for the DMA|"
if [ "$(head -c 32 "$dir/dma.bin")" != "file for the DMAfile for the DMA" ]; then
	echo "FAIL: the device's copy did not reach the file"
	failures=$((failures + 1))
fi
run pci 1 dma-map 0x200000 0x1001 "$dir/dma.bin"
expect err "vus-ctl: DMA_MAP 0x200000+0x1001 of $dir/dma.bin (longer than the file?): Invalid argument"
run pci 1 dma-map 0x200000 0x1000 "$dir/nosuch.bin"
expect err "vus-ctl: dma-map: $dir/nosuch.bin: No such file or directory"
run pci 1 dma-map 0x200000 0x1000 "$dir/dma.bin" extra
expect err "usage: vus-ctl"

# Failures: one line on stderr, exit status 1.
run pci 1 read 9 0 4
expect err "vus-ctl: REGION_READ region 9: Invalid argument"
run pci 1 read 0 0x1000 4
expect err "vus-ctl: REGION_READ region 0: Invalid argument"
run pci 1 read 0 0 3
expect err "SIZE must be 1, 2, 4 or 8"
run pci 1 write 0 0 1 0x100
expect err "bad value '0x100'"
run pci 1 irq-wait 2 0 50
expect err "vus-ctl: irq-wait: MSI-X is off in config space (msix-enable)"
run pci 1 irq-wait 2 9 50
expect err "irq index 2 has 8 vectors, no vector 9"
run pci 1 frobnicate
expect err "usage: vus-ctl"
run nosuch 1 info
expect err "No such file or directory"

# The README's example: pci.ids knows no device cafe:0001, its name is null
# (json-c makes JSON null a NULL object: this once failed with ENOMEM).
run ex 0 --json config
expect out '"vendor_id": 51966'
expect out '"device": null'
expect out '"name": "MSI"'
# Its BAR0 register 0 raises MSI vector 0: nothing comes while MSI is off,
# and irq-wait says why; msi-enable turns it on as a driver would.
run ex 1 write 0 0 4 1 , irq-wait 1 0 50
expect err "vus-ctl: irq-wait: MSI is off in config space (msi-enable)"
run ex 0 msi-enable , write 0 0 4 1 , irq-wait 1 0 "$(scaled 2000)"
expect out "1"
run ex 0 config
expect out "MSI: Enable+ Count=1/1 Maskable- 64bit+"
run ex 1 msix-enable
expect err "MSI-X: the device has no MSI-X capability"
# MSI-X: enabled, vectors unmasked, bound; nothing raises vector 0 here.
run pci 1 msix-enable , irq-wait 2 0 50
expect err "vus-ctl: irq-wait index 2 vector 0: Connection timed out"
# msix-enable unmasks: vector 3's mask bit (table 0x800, entry 3, vector
# control at +12) and the function mask, set here first, are cleared, and
# the vector the device raises (BAR0 0x48) then arrives.
run pci 0 config
msix=$(sed -n 's/.*Capabilities: \[\([0-9a-f]*\)\] MSI-X:.*/\1/p' "$dir/out")
run pci 0 reset , read 0 0x83c 4 , write 7 $((0x$msix + 2)) 2 0x4007 , \
	msix-enable , read 0 0x83c 4 , read 7 $((0x$msix + 2)) 2 , \
	write 0 0x48 4 3 , irq-wait 2 3 "$(scaled 2000)"
if [ "$(tr '\n' ' ' <"$dir/out")" != "0x00000001 0x00000000 0x8007 1 " ]; then
	echo "FAIL: msix-enable (mask bit, mask bit, control, signals):"
	cat "$dir/out"
	failures=$((failures + 1))
fi
run pci 0 config
expect out "MSI-X: Enable+ Count=8 Masked-"
run pci 0 reset

# A SysBus device: a line held raised fires as soon as it is bound.
run sb 0 info
expect out "device flags 0x5: RESET PLATFORM; 1 regions, 1 irq indexes"
expect out "region 0: size 0x1000 flags READ WRITE"
run sb 0 irq-wait 0 0 "$(scaled 2000)"
expect out "1"
run sb 1 config
expect err "not a PCI device"

# The servers served every client and are still there.
for pid in "${pids[@]}"; do
	kill -0 "$pid" || { echo "FAIL: server $pid died"; failures=$((failures + 1)); }
done
[ "$failures" -eq 0 ] && echo "vus-ctl: all checks passed"
exit $((failures > 0))
