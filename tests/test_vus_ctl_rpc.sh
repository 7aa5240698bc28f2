#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vus-ctl --rpc against the gpio-pci sample's management socket, as an
# operator runs it: readable and --json output, both ways of giving
# parameters, what an error response looks like and its exit status.
#
#   test_vus_ctl_rpc.sh VUS_CTL VUS_GPIO_PCI
set -u

ctl=$1
gpio=$2
. "$(dirname "$0")/timescale.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vus-ctl-rpc.XXXXXX")
pid=
failures=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

"$gpio" --socket-path "$dir/gpio.sock" --rpc-path "$dir/gpio.rpc" \
	--inputs 0x00ff --log-level error >"$dir/gpio.log" 2>&1 &
pid=$!
# The management socket is bound before the vfio-user one.
for _ in $(seq "$(tries 10 0.05)"); do
	[ -S "$dir/gpio.sock" ] && break
	sleep 0.05
done
[ -S "$dir/gpio.rpc" ] || { echo "no server"; cat "$dir/gpio.log"; exit 1; }

# run STATUS ARGS...: vus-ctl --rpc, expect exit STATUS.
run() {
	local want=$1
	shift
	"$ctl" --rpc "$dir/gpio.rpc" --timeout "$(scaled 5000)" "$@" \
		>"$dir/out" 2>"$dir/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: vus-ctl --rpc $* exited $got, expected $want"
		sed 's/^/  stdout: /' "$dir/out"
		sed 's/^/  stderr: /' "$dir/err"
		failures=$((failures + 1))
	fi
}

# expect FILE LINE: the last run's stdout (out) or stderr (err) has the line.
expect() {
	if ! grep -qxF -- "$2" "$dir/$1"; then
		echo "FAIL: expected the line '$2' in $1 of the last command; got:"
		sed 's/^/  /' "$dir/$1"
		failures=$((failures + 1))
	fi
}

run 0 gpio.get
expect out "inputs: 255"
expect out "stopped: false"
# NAME=VALUE words: 0x hex, JSON values.
run 0 gpio.set-inputs inputs=0x0f0f
expect out "inputs: 3855"
run 0 gpio.set-input line=0 level=false
expect out "inputs: 3854"
# One JSON object.
run 0 gpio.set-inputs '{"inputs": 1}'
expect out "input-lines: 1"
# --json: the response line as the server sent it.
run 0 --json gpio.get
expect out '{"jsonrpc":"2.0","id":1,"result":{"outputs":0,"inputs":1,"input-lines":1,"irq-enabled":false,"irq-status":0,"filters":false,"irqs-raised":0,"stopped":false}}'
# Nested results: objects indented, arrays of scalars on one line.
run 0 query-stats
expect out "  error-replies: {}"
run 0 query-status
expect out "device:"
expect out "  bus: pci"
expect out "client:"
expect out "  connected: false"
run 0 rpc.discover
expect out "    name: gpio.set-input"
run 0 set-log-level level=info
expect out "level: info"
run 0 device-reset
expect out "ok"

# Errors: the code, the message and what was wrong, exit status 1.
run 1 gpio.set-inputs inputs=65536
expect err "vus-ctl: gpio.set-inputs: Invalid params (-32602): 'inputs': expected an integer in 0..65535"
run 1 gpio.nope
expect err "vus-ctl: gpio.nope: Method not found (-32601): no method 'gpio.nope'"
run 1 --json gpio.set-input line=16 level=true
grep -q '"code":-32602' "$dir/out" || { echo "FAIL: --json error not printed"; failures=$((failures + 1)); }
run 1 gpio.set-inputs oops
expect err "vus-ctl: bad parameter 'oops': NAME=VALUE or one JSON object"
run 1 gpio.set-inputs '{"inputs": 1'
expect err "vus-ctl: PARAMS is not valid JSON: {\"inputs\": 1"
run 1
expect err "vus-ctl: --rpc needs a METHOD (try rpc.discover)"
"$ctl" --rpc "$dir/none.rpc" query-status >"$dir/out" 2>"$dir/err"
[ $? = 1 ] || { echo "FAIL: no server is not exit 1"; failures=$((failures + 1)); }
expect err "vus-ctl: $dir/none.rpc: No such file or directory"
"$ctl" --rpc "$dir/gpio.rpc" --socket "$dir/gpio.sock" query-status >/dev/null 2>&1
[ $? = 1 ] || { echo "FAIL: --rpc with --socket accepted"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "vus-ctl --rpc: all passed"
