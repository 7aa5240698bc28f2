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

rc=0
ping_start "$pings" "$mac" || rc=1
done_kills=0
for k in $(seq "$kills"); do
  [ $rc -eq 0 ] || break
  sleep 5
  old=$(pgrep -P "$sup" | head -1)
  [ -n "$old" ] || { echo "FAIL: no server under vus-supervise"; rc=1; break; }
  ping_event
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

guest_end || rc=1
vnet_stop_all || rc=1
echo "----- server (last lines) -----"; tail -15 "$work/server0.log"

ping_pauses "$pings" 2 kill ||
  { echo "FAIL: more than 2% of the pings were lost"; rc=1; }
[ "$done_kills" -eq "$kills" ] || rc=1
exit $rc
