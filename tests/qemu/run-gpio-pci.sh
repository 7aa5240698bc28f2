#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Attach the gpio-pci sample to QEMU's vfio-user-pci client with a Linux
# guest (../shared/qemu-harness) and run a guest script against it.
#
#   run-gpio-pci.sh SAMPLE HARNESS_DIR driver   Linux's driver binds; outputs
#                                               read back; inputs as set
#   run-gpio-pci.sh SAMPLE HARNESS_DIR irq      input changes from the host
#                                               arrive as interrupts
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
sample=$1 harness=$2 mode=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
harness_ready "$harness"
work=$(mktemp -d /tmp/vus-qemu-gpio.XXXXXX)
sock=$work/gpio.sock rpc=$work/gpio.rpc
cleanup() {
  [ -n "${toggler:-}" ] && kill "$toggler" 2>/dev/null
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
"$sample" --socket-path "$sock" --rpc-path "$rpc" --inputs 0xa5c3 --log-level info \
  > "$work/server.log" 2>&1 &
srv=$!
for _ in $(seq "$(tries 5 0.1)"); do [ -S "$sock" ] && [ -S "$rpc" ] && break; sleep 0.1; done

case $mode in
driver)
  "$harness/run-guest.sh" --socket "$sock" --append "idio16.strict=1 vus.scale=$(scaled 1) no_timer_check" \
    --timeout "$(scaled 120)" --wait-socket "$(scaled 10)" --quiet \
    --script "$harness/examples/guest-gpio-idio16.sh"
  rc=$?
  ;;
irq)
  [ -x "${VUS_CTL:-}" ] || { echo "vus-ctl is not built (libpci-dev): skipping"; exit 77; }
  # Toggle input 0 every 300 ms for as long as the guest runs.
  ( v=false; while sleep 0.3; do [ $v = true ] && v=false || v=true
    "$VUS_CTL" --rpc "$rpc" gpio.set-input line=0 level=$v >/dev/null || exit; done ) &
  toggler=$!
  "$harness/run-guest.sh" --socket "$sock" --quiet --append "vus.scale=$(scaled 1) no_timer_check" \
    --timeout "$(scaled 120)" --wait-socket "$(scaled 10)" --script "$here/guest-gpio-irq.sh"
  rc=$?
  echo "device state: $("$VUS_CTL" --rpc "$rpc" --json gpio.get)"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
if [ $rc -ne 0 ]; then
  echo "----- server log -----"; tail -30 "$work/server.log"
fi
# The server must still be alive after the guest has gone, and stop
# cleanly on SIGTERM (sanitizer builds report leaks and errors here).
if ! kill -0 "$srv" 2>/dev/null; then
  echo "FAIL: the server died"; rc=1
else
  kill -TERM "$srv"; wait "$srv"; srv_rc=$?
  if [ $srv_rc -ne 0 ]; then
    echo "FAIL: the server exited with status $srv_rc after SIGTERM"
    tail -30 "$work/server.log"; rc=1
  fi
fi
srv=""
exit $rc
