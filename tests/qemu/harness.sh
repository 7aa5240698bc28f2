# SPDX-License-Identifier: BSD-3-Clause
# The guest tests' first step (source it): harness_ready HARNESS_DIR exits
# 77 (meson's "skipped") when ../shared/qemu-harness is missing or QEMU
# and the guest are not built.
# Every guest boots with no_timer_check: under TCG on a loaded machine a
# late tick can fail the kernel's boot-time IO-APIC timer test, and the
# kernel panics ("IO-APIC + timer doesn't work!"; seen once in docs_qemu).
harness_ready() {
  if [ ! -x "$1/run-guest.sh" ]; then
    echo "qemu-harness not found at '$1': skipping"; exit 77
  fi
  if ! out=$("$1/ensure.sh" --no-apt 2>&1); then
    echo "$out" | tail -5
    echo "qemu-harness is not built (run make test as root once): skipping"; exit 77
  fi
}

# What the run-*.sh scripts share once the harness is ready. They use
# $harness (the harness dir), $here (tests/qemu) and $work (a scratch dir)
# as every script sets them.
#
#   guest_start SOCKET TIMEOUT APPEND SCRIPT
#                          boot a guest on the vfio-user SOCKET in the
#                          background ($guest), running SCRIPT with APPEND
#                          on its kernel command line, for at most TIMEOUT
#                          s (scaled); its output in $work/guest.log, its
#                          console in $work/vm/serial.log
#   guest_wait MARK SECONDS
#                          wait until the guest's console shows MARK, at
#                          most SECONDS (scaled) or until the guest ends;
#                          returns 1 if it did not show
#   guest_end              wait for the guest to end: its status in $grc
#                          (returned), its output printed (without the
#                          per-ping lines), a FAIL line if QEMU ended
#                          without a result
#   ping_start PINGS MAC   guest_start guest-virtio-net-traffic.sh on
#                          $work/net0.sock (device MAC, 10.0.2.2), pinging
#                          10.0.2.1 PINGS times 20 ms apart; waits for the
#                          pings to start ($t0, ms) and returns 1 with a
#                          FAIL line if they did not
#   ping_event             note that a host event happens now (in $at)
#   ping_pauses PINGS MAX_LOST_PCT WHAT
#                          the lost pings and the pause around each event
#                          (ping-pauses.awk) as FIGUREs; returns 1 when
#                          more than MAX_LOST_PCT percent were lost
guest_start() {
  "$harness/run-guest.sh" --socket "$1" --quiet --timeout "$(scaled "$2")" \
    --wait-socket "$(scaled 10)" --workdir "$work/vm" --keep \
    --append "${3:+$3 }vus.scale=$(scaled 1) no_timer_check" \
    --script "$4" > "$work/guest.log" 2>&1 &
  guest=$!
}

guest_wait() {
  for _ in $(seq "$(tries "$2" 0.1)"); do
    grep -q "$1" "$work/vm/serial.log" 2>/dev/null && return 0
    kill -0 "$guest" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "$1" "$work/vm/serial.log" 2>/dev/null
}

guest_end() {
  wait "$guest"; grc=$?
  guest=""
  grep -v "^PING seq=" "$work/guest.log"
  [ $grc -eq 125 ] && echo "FAIL: QEMU ended without a guest result (did it abort?)"
  return $grc
}

ping_start() {
  guest_start "$work/net0.sock" 300 \
    "vnet.mac=$2 vnet.ip=10.0.2.2/24 vnet.host=10.0.2.1 vnet.pings=$1" \
    "$here/guest-virtio-net-traffic.sh"
  guest_wait PING-START 180; local ret=$?
  # When each event came, in ms after the pings started.
  t0=$(date +%s%3N) at=()
  [ $ret -eq 0 ] || echo "FAIL: the guest did not start pinging"
  return $ret
}

ping_event() {
  at+=($(( $(date +%s%3N) - t0 )))
}

ping_pauses() {
  awk -v n="$1" -v at="$(IFS=,; echo "${at[*]}")" -v max_lost_pct="$2" \
    -v what="$3" -f "$here/ping-pauses.awk" "$work/guest.log"
}
