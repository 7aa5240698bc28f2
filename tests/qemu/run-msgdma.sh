#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Message DMA under QEMU 10.2: guest RAM that is not shared (no memfd
# backend), so QEMU's DMA_MAPs carry no fd and the device reaches guest
# memory only through DMA_READ/DMA_WRITE, in QEMU's own payload layout
# (data at +12). The device (msgdma_server) reads, writes and reads back
# a page the guest locked (guest-msgdma.sh).
#
#   run-msgdma.sh SERVER HARNESS_DIR plain|shared
#     plain:  RAM without an fd (every transfer a message)
#     shared: the harness's memfd RAM with VUS_CTX_DMA_MESSAGES (the fds
#             are closed unused; messages all the same)
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
server=$1 harness=$2 mode=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
harness_ready "$harness"
work=$(mktemp -d /tmp/vus-qemu-msgdma.XXXXXX)
sock=$work/dev.sock
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
case $mode in
plain)
  # The harness always builds a memfd backend; a later -machine option
  # points guest RAM at a plain (not shared) one instead.
  extra="-object memory-backend-ram,id=plainmem,size=512M -machine memory-backend=plainmem"
  "$server" "$sock" > "$work/server.log" 2>&1 & srv=$! ;;
shared)
  extra=""
  "$server" "$sock" messages > "$work/server.log" 2>&1 & srv=$! ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
for _ in $(seq "$(tries 5 0.1)"); do [ -S "$sock" ] && break; sleep 0.1; done
"$harness/run-guest.sh" --socket "$sock" --quiet --append "vus.scale=$(scaled 1) no_timer_check" \
  --timeout "$(scaled 120)" --wait-socket "$(scaled 10)" ${extra:+--extra "$extra"} \
  --script "$here/guest-msgdma.sh"
rc=$?
echo "----- server log -----"; cat "$work/server.log"
if [ $rc -eq 0 ] && ! grep -q "message DMA in QEMU 10.2's" "$work/server.log"; then
  echo "FAIL: the server did not learn QEMU's layout"; rc=1
fi
if [ $rc -eq 0 ] && ! grep -q "^job at .*: result 1," "$work/server.log"; then
  echo "FAIL: the device's transfers did not all succeed"; rc=1
fi
# Guest RAM (at 0) came without an fd, or was not mapped by request.
if [ $rc -eq 0 ] && ! grep -q "^dma_map 0x0 .* by messages" "$work/server.log"; then
  echo "FAIL: guest RAM was mapped locally"; rc=1
fi
if ! kill -0 "$srv" 2>/dev/null; then
  echo "FAIL: the server died"; rc=1
else
  kill -TERM "$srv"; wait "$srv"; srv_rc=$?
  if [ $srv_rc -ne 0 ]; then
    echo "FAIL: the server exited with status $srv_rc after SIGTERM"; rc=1
  fi
fi
srv=
exit $rc
