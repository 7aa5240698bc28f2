#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Crash recovery under QEMU: the gpio-pci sample runs under vus-supervise
# with --recover; the guest (guest-gpio-recover.sh) sets outputs through
# Linux's driver, the server is killed with SIGKILL and restarted, and the
# guest reads the outputs back on the same vfio-user connection. QEMU must
# keep running (no reset, no abort), the supervisor must still be there
# and exit 0 on SIGTERM.
#
#   run-gpio-recover.sh VUS_SUPERVISE SAMPLE HARNESS_DIR
#
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
sup_bin=$1 sample=$2 harness=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
harness_ready "$harness"
[ -x "${VUS_CTL:-}" ] || { echo "vus-ctl is not built (libpci-dev): skipping"; exit 77; }
work=$(mktemp -d /tmp/vus-qemu-gpio-rec.XXXXXX)
sock=$work/gpio.sock rpc=$work/gpio.rpc
cleanup() {
  [ -n "${guest:-}" ] && kill "$guest" 2>/dev/null
  [ -n "${sup:-}" ] && kill "$sup" 2>/dev/null
  wait 2>/dev/null
  [ -n "${VUS_KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
"$sup_bin" --burst 100 -- "$sample" --recover --socket-path "$sock" \
  --rpc-path "$rpc" --log-level "${VUS_LOG_LEVEL:-info}" > "$work/server.log" 2>&1 &
sup=$!
for _ in $(seq "$(tries 5 0.1)"); do [ -S "$sock" ] && [ -S "$rpc" ] && break; sleep 0.1; done

guest_start "$sock" 180 "" "$here/guest-gpio-recover.sh"

# The guest has written its outputs: kill the server, wait for the next.
guest_wait GPIO-WRITTEN 120; written=$?
old=$(pgrep -P "$sup" | head -1)
if [ $written -ne 0 ] || [ -z "$old" ]; then
  echo "FAIL: the guest did not get to write its outputs"
  wait "$guest"; cat "$work/guest.log"; tail -30 "$work/server.log"; exit 1
fi
kill -KILL "$old"
echo "killed the server (pid $old) with SIGKILL"
new=""
for _ in $(seq "$(tries 10 0.05)"); do
  new=$(pgrep -P "$sup" | head -1)
  [ -n "$new" ] && [ "$new" != "$old" ] && \
    "$VUS_CTL" --rpc "$rpc" gpio.set-inputs inputs=0x0010 >/dev/null 2>&1 && break
  new=""
  sleep 0.05
done
[ -n "$new" ] && echo "restarted as pid $new; input 4 raised" || echo "FAIL: no restarted server"

guest_end; rc=$grc
[ -n "$new" ] || rc=1
if [ $rc -ne 0 ]; then
  echo "----- server log -----"; tail -40 "$work/server.log"
fi
# vus-supervise and the server must still be there, and stop cleanly.
if ! kill -0 "$sup" 2>/dev/null; then
  echo "FAIL: vus-supervise died"; rc=1
else
  kill -TERM "$sup"; wait "$sup"; sup_rc=$?
  if [ $sup_rc -ne 0 ]; then
    echo "FAIL: the server exited with status $sup_rc after SIGTERM"
    tail -30 "$work/server.log"; rc=1
  fi
fi
sup=""
exit $rc
