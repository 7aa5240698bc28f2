#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Live upgrade under QEMU: the guest (guest-gpio-recover.sh) sets two
# outputs of the gpio-pci card through Linux's driver; then a new process
# (SAMPLE --take-over RPC_PATH) replaces the server, the old one must exit
# 0, and input 4 is raised through the management socket the new process
# took over. The guest reads the outputs back on the same vfio-user
# connection (QEMU never reconnects) and writes again; the last server
# exits 0 on SIGTERM.
#
#   run-gpio-takeover.sh SAMPLE HARNESS_DIR
#
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
sample=$1 harness=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
harness_ready "$harness"
[ -x "${VUS_CTL:-}" ] || { echo "vus-ctl is not built (libpci-dev): skipping"; exit 77; }
work=$(mktemp -d /tmp/vus-qemu-gpio-tk.XXXXXX)
sock=$work/gpio.sock rpc=$work/gpio.rpc srv="" guest=""
cleanup() {
  [ -n "$guest" ] && kill "$guest" 2>/dev/null
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$sample" --socket-path "$sock" --rpc-path "$rpc" \
  --log-level "${VUS_LOG_LEVEL:-info}" > "$work/server.log" 2>&1 &
srv=$!
for _ in $(seq "$(tries 5 0.1)"); do [ -S "$sock" ] && [ -S "$rpc" ] && break; sleep 0.1; done

guest_start "$sock" 180 "" "$here/guest-gpio-recover.sh"

rc=0
if ! guest_wait GPIO-WRITTEN 120; then
  echo "FAIL: the guest did not get to write its outputs"; rc=1
else
  old=$srv
  # Its own log: the first process does not write in append mode.
  "$sample" --take-over "$rpc" > "$work/server.1.log" 2>&1 &
  srv=$!
  wait "$old"; orc=$?
  if [ $orc -ne 0 ]; then
    echo "FAIL: the old server (pid $old) exited with $orc"; rc=1
  elif ! "$VUS_CTL" --rpc "$rpc" gpio.set-inputs inputs=0x0010 >/dev/null; then
    echo "FAIL: the new server (pid $srv) does not answer on $rpc"; rc=1
  else
    echo "pid $old handed over and exited 0; pid $srv raised input 4"
  fi
fi

guest_end || rc=1
cat "$work/server.log" "$work/server.1.log" 2>/dev/null > "$work/servers.log"
grep -q "handed over to the new process" "$work/servers.log" ||
  { echo "FAIL: no hand-over logged"; rc=1; }
conns=$(grep -c "client connected" "$work/servers.log")
[ "$conns" = 1 ] || { echo "FAIL: $conns client connections, QEMU's one expected"; rc=1; }
[ $rc -eq 0 ] || { echo "----- servers -----"; tail -40 "$work/servers.log"; }
if ! kill -0 "$srv" 2>/dev/null; then
  echo "FAIL: the new server died"; rc=1
else
  kill -TERM "$srv"; wait "$srv"; src=$?
  [ $src -eq 0 ] || { echo "FAIL: the new server exited with $src after SIGTERM"; rc=1; }
fi
srv=""
exit $rc
