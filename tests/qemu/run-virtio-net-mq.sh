#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The virtio-net-pci sample with a multi-queue TAP (--tap --queues PAIRS)
# under QEMU's vfio-user-pci client and a Linux guest with as many vCPUs
# as pairs (or CPUS). The TAP lives in a network namespace of its own with the host
# address on it and a TCP host there (vnet-tcp-host.py); the guest
# (guest-virtio-net-mq.sh) checks that virtio_net negotiated MQ and uses
# every pair, and moves MIB MiB per stream each way, one stream and then
# one per vCPU at once. Here: every pair's counters (printed by the device when it
# stops) carried frames both ways.
#
#   run-virtio-net-mq.sh SAMPLE HARNESS_DIR PAIRS [MIB [CPUS]]
#
# Exit 77 (skipped) without the harness, root, /dev/net/tun or ip netns.
set -u
sample=$1 harness=$2 pairs=$3 mib=${4:-16} cpus=${5:-$3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
. "$here/vnet-link.sh"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip > /dev/null; then
  echo "needs root, /dev/net/tun and ip: skipping"; exit 77
fi
vnet_ready "$harness"
ns=vusmq$$ tap=vmq$$
ip netns add $ns || { echo "ip netns add failed: skipping"; exit 77; }
trap 'vnet_cleanup; ip netns del $ns 2>/dev/null' EXIT
ip netns exec $ns "$sample" --socket-path "$work/net0.sock" --tap $tap \
  --queues "$pairs" --mac 02:00:00:00:0c:02 --log-level info > "$work/server0.log" 2>&1 &
vnet_pids+=($!) vnet_names+=("device")
for _ in $(seq "$(tries 30 0.1)"); do [ -S "$work/net0.sock" ] && break; sleep 0.1; done
[ -S "$work/net0.sock" ] || { echo "FAIL: the device did not start"; cat "$work/server0.log"; exit 1; }
ip netns exec $ns ip addr add 10.0.4.1/24 dev $tap &&
ip netns exec $ns ip link set $tap up || { echo "FAIL: TAP setup"; exit 1; }
ip netns exec $ns python3 "$here/vnet-tcp-host.py" --ip 10.0.4.1 --streams "$cpus" \
  --bytes $((mib * 1048576)) > "$work/host.log" 2>&1 &
vnet_pids+=($!) vnet_names+=("TCP host")
for _ in $(seq "$(tries 10 0.1)"); do grep -q ready "$work/host.log" && break; sleep 0.1; done

load=$(cut -d' ' -f1-3 /proc/loadavg)
"$harness/run-guest.sh" --socket "$work/net0.sock" --quiet --timeout "$(scaled 300)" \
  --wait-socket "$(scaled 10)" --smp "$cpus" \
  --append "vnet.pairs=$pairs vnet.mb=$mib vus.scale=$(scaled 1) no_timer_check" \
  --script "$here/guest-virtio-net-mq.sh" > "$work/guest.log" 2>&1
rc=$?
cat "$work/guest.log"
grep -q "^PASS" "$work/guest.log" || rc=1
vnet_stop_all || rc=1
echo "----- host -----"; cat "$work/host.log"
echo "----- server -----"; tail -$((pairs + 4)) "$work/server0.log"
# Every pair carried frames both ways (pairs > 1: the driver asked for them).
for i in $(seq 0 $((pairs - 1))); do
  [ "$pairs" -gt 1 ] || break
  if ! grep -q "pair $i: tx [1-9][0-9]* frames, rx [1-9][0-9]* frames" "$work/server0.log"; then
    echo "FAIL: pair $i carried no frames one way or both"; rc=1
  fi
done
[ "$pairs" -gt 1 ] && ! grep -q "the driver uses $pairs queue pairs" "$work/server0.log" &&
  { echo "FAIL: the driver did not ask for $pairs pairs"; rc=1; }
figs=$(grep -o 'FIGURE [a-z_0-9]*=[0-9.]*' "$work/guest.log" | cut -d' ' -f2 | tr '\n' ' ')
echo "RESULT pairs=$pairs cpus=$cpus mib=$mib ${figs}load_before=\"$load\" load_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\" rc=$rc"
exit $rc
