#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vus-ctl's migration commands against the gpio-pci sample, as a user runs
# them: migration, save, load (text and JSON), chained reads of the loaded
# state, and the messages for a refused stream, a missing file and a
# device that does not migrate.
#
#   test_vus_ctl_mig.sh VUS_CTL VUS_GPIO_PCI TEST_VUS_CTL_SERVER
set -u

ctl=$1
gpio=$2
plain=$3
. "$(dirname "$0")/timescale.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vus-ctl-mig.XXXXXX")
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

# wait_sock PATH: until the server listens there.
wait_sock() {
	for _ in $(seq "$(tries 10 0.05)"); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	echo "no server at $1"
	exit 1
}

# card NAME [ARGS]: a gpio-pci sample at $dir/NAME.sock.
card() {
	local name=$1
	shift
	"$gpio" --socket-path "$dir/$name.sock" --rpc-path "$dir/$name.rpc" \
		--log-level error "$@" >"$dir/$name.log" 2>&1 &
	pids+=($!)
	wait_sock "$dir/$name.sock"
}

# run NAME STATUS ARGS...: vus-ctl on socket NAME, expect exit STATUS.
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

card a --inputs 0x1234
card b --inputs 0x0000
card v2 --compat-version 2
card r --reset-on-disconnect

# The card outlives its client: one run writes, the next reads it back;
# with --reset-on-disconnect the next run finds power-on outputs.
run a 0 write 2 0 1 0x3c
run a 0 read 2 0 1
expect out "0x3c"
run r 0 write 2 0 1 0x3c , read 2 0 1
expect out "0x3c"
run r 0 read 2 0 1
expect out "0x00"

run a 0 migration
expect out "migration: state running, flags stop-copy"
run a 0 migration --json
expect out '"state": "running"'
expect out '"stop-copy"'

# Outputs set and the stream saved over one connection.
run a 0 write 2 0 1 0x5a , write 2 4 1 0xa5 , save "$dir/state.bin"
expect out "saved "
expect out "bytes to $dir/state.bin in"
expect out "device stop"
[ -s "$dir/state.bin" ] || { echo "FAIL: no stream written"; failures=$((failures + 1)); }

# The destination shows the source's registers while the connection lasts.
run b 0 read 2 0 1 , load "$dir/state.bin" , read 2 0 1 , read 2 4 1 , read 2 1 1 , read 2 5 1
expect out "loaded "
expect out "device running"
if [ "$(grep -c '^0x' "$dir/out")" != 5 ] ||
   [ "$(grep '^0x' "$dir/out" | tr '\n' ' ')" != "0x00 0x5a 0xa5 0x34 0x12 " ]; then
	echo "FAIL: registers after load:"; cat "$dir/out"
	failures=$((failures + 1))
fi

run b 0 load "$dir/state.bin" --json
expect out '"state": "running"'
expect out '"bytes": '

run v2 1 load "$dir/state.bin"
expect err "another compatibility version"

# Damaged streams: vus-ctl checks the framing and the checksum before it
# sends, and names the section and byte. mutate MODE IN OUT edits the
# "idio16" record of a saved stream (the format: doc/migration.md): cut
# it 2 bytes into its data, give it a data length past the end, flip a
# data byte (the checksum then disagrees), or set its interrupt status
# byte to 0x80 and fix the checksum (well formed; the card's check
# refuses it).
mutate() {
	python3 - "$@" <<'PY'
import struct, sys
mode, src, dst = sys.argv[1:4]
b = bytearray(open(src, 'rb').read())
rec = b.find(b'\x01\x06idio16')
data = rec + 8 + 8
def crc32c(buf):
    c = 0xffffffff
    for x in buf:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 & -(c & 1))
    return c ^ 0xffffffff
if mode == 'cut':
    b = b[:data + 2]
elif mode == 'length':
    b[data - 4:data] = struct.pack('<I', 0x10000)
elif mode == 'flip':
    b[data] ^= 0x01
elif mode == 'status':
    b[data + 5] = 0x80
    b[-4:] = struct.pack('<I', crc32c(b[:-4]))
open(dst, 'wb').write(b)
PY
}
rec=$(python3 -c "import sys; print(hex(open(sys.argv[1], 'rb').read().find(b'idio16') - 2))" "$dir/state.bin")
mutate cut "$dir/state.bin" "$dir/cut.bin"
run b 1 load "$dir/cut.bin"
expect err "load $dir/cut.bin: section \"idio16\" (record 2, byte $(printf '0x%x' $((rec + 16)))): truncated: 6 data bytes announced, 2 left in the stream"
mutate length "$dir/state.bin" "$dir/length.bin"
run b 1 load "$dir/length.bin"
expect err "section \"idio16\" (record 2, byte $(printf '0x%x' $((rec + 16)))): truncated: 65536 data bytes announced"
mutate flip "$dir/state.bin" "$dir/flip.bin"
run b 1 load "$dir/flip.bin"
expect err "load $dir/flip.bin: record 3 (byte "
expect err "checksum mismatch: bytes changed after the stream was saved"
{ cat "$dir/state.bin"; printf x; } >"$dir/long.bin"
run b 1 load "$dir/long.bin"
expect err "load $dir/long.bin: record 3 (byte $(printf '0x%x' "$(stat -c %s "$dir/state.bin")")): 1 bytes after the end record"
head -c 17 "$dir/state.bin" >"$dir/short.bin"
run b 1 load "$dir/short.bin"
expect err "load $dir/short.bin: header (byte 0x0): truncated: 17 bytes, shorter than a stream header"
head -c 10 "$dir/state.bin" >"$dir/short.bin"
run b 1 load "$dir/short.bin"
expect err "load $dir/short.bin: header (byte 0x0): truncated: 10 bytes, shorter than a stream header"
# A well-formed stream the card's check refuses: the vfio-user reply has
# only the errno; with its management socket vus-ctl says which section
# refused and why (query-status: migration.last-load-error).
mutate status "$dir/state.bin" "$dir/status.bin"
run b 1 load "$dir/status.bin"
expect err "the device refused a section (its check, or one it does not have; --rpc with its management socket says which)"
run b 1 --rpc "$dir/b.rpc" load "$dir/status.bin"
expect err "load $dir/status.bin: refused by the device: section \"idio16\" check: interrupt status 0x80: unknown bits (EBADMSG): Bad message"
"$ctl" --rpc "$dir/b.rpc" query-status >"$dir/out" 2>&1
expect out "last-load-error:"
expect out "section: idio16"
expect out "reason: interrupt status 0x80: unknown bits"
run v2 1 --rpc "$dir/v2.rpc" load "$dir/state.bin"
expect err "refused by the device: header: stream has another compatibility version (EPROTONOSUPPORT)"
# A load that works clears it.
run b 0 --rpc "$dir/b.rpc" load "$dir/state.bin"
"$ctl" --rpc "$dir/b.rpc" query-status >"$dir/out" 2>&1
if grep -q "last-load-error" "$dir/out"; then
	echo "FAIL: last-load-error left after a good load"
	failures=$((failures + 1))
fi
run b 1 load "$dir/missing.bin"
expect err "missing.bin: No such file or directory"

# A device without migration says so; a failed save leaves no file.
"$plain" pci "$dir/plain.sock" >"$dir/plain.log" 2>&1 &
pids+=($!)
wait_sock "$dir/plain.sock"
run plain 1 migration
expect err "the device does not migrate"
run plain 1 save "$dir/nothing.bin"
expect err "does not migrate"
[ -e "$dir/nothing.bin" ] && { echo "FAIL: failed save left a file"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "vus-ctl migration: all passed"
