#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# What production sees, with the virtio-net-pci sample under QEMU's
# vfio-user client and Linux's virtio_net (../shared/qemu-harness), each
# device linked to tests/virtio_responder.c as in run-virtio-net.sh:
#
#   run-virtio-net-lifecycle.sh SAMPLE RESPONDER HARNESS_DIR MODE [MIB]
#
#   reboot   the guest is reset (QMP system_reset: QEMU sends DEVICE_RESET)
#            in the middle of a bulk transfer; it boots again and the
#            whole traffic test (ping, MIB MiB each way, CRC-checked) must
#            pass on the same device process
#   sigkill  QEMU is killed with SIGKILL in the middle of a bulk transfer;
#            the device process must stay up (keeping the device state, as
#            libvus does for a client that went away), take the next QEMU,
#            whose start-up DEVICE_RESET finds the running driver's state,
#            and that guest's traffic test must pass
#   two      two devices (two processes, two links) in one guest carry
#            traffic at the same time
#
# Exit 77 (meson's "skipped") when the harness is not available. Every
# device and responder must still be alive at the end and exit 0 on
# SIGTERM.
set -u
sample=$1 responder=$2 harness=$3 mode=$4 mib=${5:-8}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
. "$here/vnet-link.sh"
mac0=02:00:00:00:0a:02 mac1=02:00:00:00:0b:02
vnet_ready "$harness"

# guest N [run-guest.sh options]: a guest on device 0's link, the traffic
# script, output to $work/guestN.log. vnet.hold=1: the first boot moves
# bulk data until it is reset or killed, so the act below cannot come
# after a transfer that already ended, on a machine of any speed.
guest() {
  local n=$1
  shift
  "$harness/run-guest.sh" --socket "$work/net0.sock" --timeout "$(scaled 240)" \
    --wait-socket "$(scaled 10)" "$@" \
    --append "vnet.mac=$mac0 vnet.ip=10.0.2.2/24 vnet.host=10.0.2.1 vnet.mb=$mib vnet.hold=1 vus.scale=$(scaled 1) no_timer_check" \
    --script "$here/guest-virtio-net-traffic.sh" > "$work/guest$n.log" 2>&1
}

# until_bulk FILE: wait for the guest's bulk transfer to begin.
until_bulk() {
  for _ in $(seq "$(tries 120 0.1)"); do
    grep -q TRAFFIC-BULK-START "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: the guest never reached its bulk transfer"; cat "$1"; return 1
}

# expect FILE PATTERN WHAT: a line of FILE matches, else a failure.
expect() {
  grep -q -E "$2" "$1" && return 0
  echo "FAIL: $3"; rc=1
}

rc=0
case $mode in
reboot)
  vnet_link 0 "$sample" "$responder" "$mib" $mac0 10.0.2
  guest 1 --qmp "$work/qmp.sock" &
  g=$!
  # run-guest.sh passes -no-reboot; the reset must restart the guest.
  until_bulk "$work/guest1.log" &&
    python3 "$here/qmp.py" "$work/qmp.sock" 'set-action={"reboot": "reset"}' \
      system_reset > /dev/null || rc=1
  wait $g || rc=1
  cat "$work/guest1.log"
  [ "$(grep -c HARNESS-GUEST-UP "$work/guest1.log")" = 2 ] ||
    { echo "FAIL: the guest did not boot twice"; rc=1; }
  # The reset came before the first boot finished its transfers.
  [ "$(grep -c '^PASS' "$work/guest1.log")" = 1 ] ||
    { echo "FAIL: the traffic test passed $(grep -c '^PASS' "$work/guest1.log") times, not once"; rc=1; }
  expect "$work/server0.log" "reset: DEVICE_RESET from the client \(the driver was running\)" \
    "no DEVICE_RESET reached the running device"
  [ "$(grep -c "driver ready" "$work/server0.log")" = 2 ] ||
    { echo "FAIL: the driver did not start twice"; rc=1; }
  ;;
sigkill)
  vnet_link 0 "$sample" "$responder" "$mib" $mac0 10.0.2
  guest 1 --extra "-pidfile $work/qemu1.pid" &
  g=$!
  if until_bulk "$work/guest1.log" && [ -s "$work/qemu1.pid" ]; then
    kill -KILL "$(cat "$work/qemu1.pid")"
  else
    rc=1
  fi
  wait $g
  echo "----- first guest (QEMU killed) -----"; cat "$work/guest1.log"
  ! grep -q '^PASS' "$work/guest1.log" ||
    { echo "FAIL: the first guest finished before QEMU was killed"; rc=1; }
  expect "$work/server0.log" "client disconnected" "the device did not see the first QEMU go"
  echo "----- second guest -----"
  guest 2 || rc=1
  cat "$work/guest2.log"
  expect "$work/server0.log" "reset: DEVICE_RESET from the client \(the driver was running\)" \
    "the second QEMU's reset did not find the first one's running driver"
  ;;
two)
  vnet_link 0 "$sample" "$responder" "$mib" $mac0 10.0.2
  vnet_link 1 "$sample" "$responder" "$mib" $mac1 10.0.3
  "$harness/run-guest.sh" --socket "$work/net0.sock" --socket "$work/net1.sock" \
    --timeout "$(scaled 240)" --wait-socket "$(scaled 10)" \
    --file "$here/guest-virtio-net-traffic.sh:/root/traffic.sh" \
    --append "vnet.mac0=$mac0 vnet.mac1=$mac1 vnet.mb=$mib vus.scale=$(scaled 1) no_timer_check" \
    --script "$here/guest-virtio-net-two.sh" > "$work/guest1.log" 2>&1 || rc=1
  cat "$work/guest1.log"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

vnet_stop_all || rc=1
for log in "$work"/server*.log; do
  echo "----- $(basename "$log") -----"; tail -12 "$log"
done
# Each link's host received the last upload whole.
for log in "$work"/responder*.log; do
  expect "$log" "received up, $((mib * 1048576)) bytes, .* \(= blob\)" \
    "$(basename "$log" .log) did not receive the blob back intact"
done
echo "RESULT lifecycle=$mode mib=$mib rc=$rc"
exit $rc
