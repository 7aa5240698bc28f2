#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Crash recovery under QEMU: the virtio-net sample runs under vus-supervise
# with --recover, linked to tests/virtio_responder.c as in
# run-virtio-net.sh. The guest pings the responder every 20 ms
# (guest-virtio-net-traffic.sh with vnet.pings) while the server is killed
# with SIGKILL KILLS times, 5 s apart. QEMU must keep running on the same
# connection, the driver must log nothing (no reset, no transmit timeout),
# at most 2% of the pings may be lost, and the supervisor must exit 0 on
# SIGTERM at the end. Prints the pause the guest saw at each kill (the
# slowest reply around it) as FIGUREs: median and max.
#
#   run-virtio-net-recover.sh VUS_SUPERVISE SAMPLE RESPONDER HARNESS_DIR [KILLS]
#
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
sup_bin=$1 sample=$2 responder=$3 harness=$4 kills=${5:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
. "$here/vnet-link.sh"
mac=02:00:00:00:0a:02
# 5 s apart, and as long again after the last kill.
pings=$(( (kills + 1) * 250 ))
vnet_ready "$harness"
vnet_wrap=("$sup_bin" --burst 100 --)
vnet_link 0 "$sample" "$responder" 1 $mac 10.0.2 --recover
sup=${vnet_pids[1]}

"$harness/run-guest.sh" --socket "$work/net0.sock" --quiet --timeout "$(scaled 300)" \
  --wait-socket "$(scaled 10)" --workdir "$work/vm" --keep \
  --append "vnet.mac=$mac vnet.ip=10.0.2.2/24 vnet.host=10.0.2.1 vnet.pings=$pings vus.scale=$(scaled 1)" \
  --script "$here/guest-virtio-net-traffic.sh" > "$work/guest.log" 2>&1 &
guest=$!

for _ in $(seq "$(tries 180 0.1)"); do
  grep -q PING-START "$work/vm/serial.log" 2>/dev/null && break
  kill -0 "$guest" 2>/dev/null || break
  sleep 0.1
done
rc=0
if ! grep -q PING-START "$work/vm/serial.log" 2>/dev/null; then
  echo "FAIL: the guest did not start pinging"; rc=1
fi
done_kills=0
for k in $(seq "$kills"); do
  [ $rc -eq 0 ] || break
  sleep 5
  old=$(pgrep -P "$sup" | head -1)
  [ -n "$old" ] || { echo "FAIL: no server under vus-supervise"; rc=1; break; }
  kill -KILL "$old"
  new=""
  for _ in $(seq "$(tries 10 0.01)"); do
    new=$(pgrep -P "$sup" | head -1)
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    new=""
    sleep 0.01
  done
  [ -n "$new" ] || { echo "FAIL: the server was not restarted"; rc=1; break; }
  echo "kill $k: SIGKILLed pid $old, restarted as pid $new"
  done_kills=$k
done

wait "$guest"; grc=$?
[ $grc -eq 0 ] || rc=1
[ $grc -eq 125 ] && echo "FAIL: QEMU ended without a guest result (did it abort?)"
grep -v "^PING seq=" "$work/guest.log"
vnet_stop_all || rc=1
echo "----- server (last lines) -----"; tail -15 "$work/server0.log"

# Replies by sequence number: the lost ones, and per kill the slowest
# reply (a ping sent while no server ran waits in the ring for the next).
grep "^PING seq=" "$work/guest.log" | awk -v n="$pings" -v kills="$done_kills" '
  { split($2, a, "="); split($3, b, "="); got[a[2]] = b[2]; cnt++ }
  END {
    for (i = 0; i < n; i++) if (!(i in got)) lost++
    # The kills came 5 s (~250 pings) apart: per kill the slowest reply
    # at least 100 pings away from those of the kills found before.
    for (k = 1; k <= kills; k++) {
      m = 0; at = -1
      for (i in got) {
        far = 1
        for (j = 1; j < k; j++) if (i - s[j] < 100 && s[j] - i < 100) far = 0
        if (far && got[i] + 0 > m) { m = got[i] + 0; at = i }
      }
      p[k] = m; s[k] = at
    }
    # Sort the pauses for the median.
    for (i = 1; i <= kills; i++) for (j = i + 1; j <= kills; j++)
      if (p[j] < p[i]) { t = p[i]; p[i] = p[j]; p[j] = t }
    med = kills ? (kills % 2 ? p[(kills + 1) / 2] : (p[kills / 2] + p[kills / 2 + 1]) / 2) : 0
    printf "pings %d, replies %d, lost %d (%.2f%%); pause per kill (ms):", n, cnt, lost + 0, 100 * lost / n
    for (k = 1; k <= kills; k++) printf " %s", p[k]
    printf "\nFIGURE pings=%d lost=%d lost_pct=%.2f kills=%d pause_median_ms=%.1f pause_max_ms=%.1f\n",
      n, lost + 0, 100 * lost / n, kills, med, p[kills]
    exit (lost * 100 > 2 * n) ? 1 : 0
  }' || { echo "FAIL: more than 2% of the pings were lost"; rc=1; }
[ "$done_kills" -eq "$kills" ] || rc=1
exit $rc
