#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Live upgrade under QEMU: the virtio-net-pci sample, linked to
# tests/virtio_responder.c as in run-virtio-net.sh, is replaced by a new
# process (SAMPLE --take-over RPC_PATH, through its management socket)
# TAKEOVERS times, 5 s apart, while the guest pings the responder every
# 20 ms (guest-virtio-net-traffic.sh with vnet.pings). Must hold: no ping
# lost; every old process exits 0 and logs its hand-over; the driver logs
# nothing (no reset, no transmit timeout) and the device was never reset
# nor started twice (its log); QEMU keeps its one connection; the last
# server and the responder exit 0 on SIGTERM. Prints the pause the guest
# saw at each take-over (the slowest reply around it, ping-pauses.awk) as FIGUREs, median
# and max, and the time each old process says it was stopped.
#
#   run-virtio-net-takeover.sh SAMPLE RESPONDER HARNESS_DIR [TAKEOVERS]
#
# Exit 77 (meson's "skipped") when the harness is not available.
set -u
sample=$1 responder=$2 harness=$3 takeovers=${4:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
. "$here/vnet-link.sh"
mac=02:00:00:00:0a:02
# 5 s apart, and as long again after the last one.
pings=$(( (takeovers + 1) * 250 ))
vnet_ready "$harness"
# What a VMM reads before it upgrades a device program.
caps=$("$sample" --print-capabilities)
for w in '"features":\[[^]]*"take-over"' '"options":\[[^]]*"take-over"'; do
  echo "$caps" | grep -q "$w" || { echo "FAIL: --print-capabilities lacks $w: $caps"; exit 1; }
done
rpc=$work/rpc0.sock
vnet_link 0 "$sample" "$responder" 1 $mac 10.0.2 --rpc-path "$rpc"
srv=$((${#vnet_pids[@]} - 1))

rc=0
ping_start "$pings" "$mac" || rc=1
done_n=0
for i in $(seq "$takeovers"); do
  [ $rc -eq 0 ] || break
  sleep 5
  old=${vnet_pids[$srv]}
  ping_event
  # A log of its own: the first process does not write in append mode.
  "$sample" --take-over "$rpc" > "$work/server0.$i.log" 2>&1 &
  new=$!
  # The old process exits once the new one has everything.
  wait "$old"; orc=$?
  vnet_pids[$srv]=$new
  if [ $orc -ne 0 ]; then
    echo "FAIL: take-over $i: the old server (pid $old) exited with $orc"; rc=1
  elif ! kill -0 "$new" 2>/dev/null; then
    echo "FAIL: take-over $i: the new server (pid $new) died"; rc=1
  else
    echo "take-over $i: pid $old exited 0, pid $new serves"
    done_n=$i
  fi
done

guest_end || rc=1
vnet_stop_all || rc=1
logs=("$work/server0.log")
for i in $(seq "$takeovers"); do
  [ -f "$work/server0.$i.log" ] && logs+=("$work/server0.$i.log")
done
cat "${logs[@]}" > "$work/servers.log"
echo "----- servers, one after the other (without per-frame lines) -----"
grep -v -E "^vus-virtio-net-pci: (rx|tx) " "$work/servers.log" | tail -60

logged=$(grep -c "handed over to the new process" "$work/servers.log")
[ "$logged" = "$takeovers" ] ||
  { echo "FAIL: $logged hand-overs logged, $takeovers asked"; rc=1; }
# "driver ready": once when the driver starts the device, and once per
# new process as it loads the running state; any more is a driver restart.
ready=$(grep -c "driver ready" "$work/servers.log")
took=$(grep -c "took the device over" "$work/servers.log")
[ "$ready" = $((1 + took)) ] ||
  { echo "FAIL: the device was started $ready times in $took take-overs"; rc=1; }
# The VM's start resets the device (DEVICE_RESET); after that, none.
if sed -n '/handed over to the new process/,$p' "$work/servers.log" | grep -q "reset: "; then
  echo "FAIL: the device was reset:"; grep "reset: " "$work/servers.log"; rc=1
fi
conns=$(grep -c "client connected" "$work/servers.log")
[ "$conns" = 1 ] || { echo "FAIL: $conns client connections, QEMU's one expected"; rc=1; }
stopped=$(sed -n 's/.*handed over to the new process (\([0-9]*\) ms stopped).*/\1/p' \
  "$work/servers.log" | sort -n)
echo "old process stopped per take-over (ms, sorted): $(echo $stopped)"
serving=$(sed -n 's/.*took the device over (.*, \([0-9]*\) ms from START).*/\1/p' \
  "$work/servers.log" | sort -n)
echo "new process from START to serving per take-over (ms, sorted): $(echo $serving)"
echo "$stopped" | awk 'NF { v[++n] = $1 } END { if (n) printf "FIGURE handover_stopped_ms_median=%s handover_stopped_ms_max=%s\n", v[int((n + 1) / 2)], v[n] }'
ping_pauses "$pings" 0 takeover ||
  { echo "FAIL: pings were lost"; rc=1; }
[ "$done_n" -eq "$takeovers" ] || rc=1
exit $rc
