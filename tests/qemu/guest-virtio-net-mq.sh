#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Guest side of the multiqueue test (run-virtio-net-mq.sh): virtio_net
# binds to a device offered with --queues, negotiates MQ and CTRL_VQ when
# there are several pairs and uses them all (one per vCPU: rx-N/tx-N
# queues in sysfs), then moves data to and from the host at the far end of
# the TAP: first one TCP stream each way, then one per vCPU at once, each
# pinned to its vCPU (virtio_net sends a CPU's frames on its own pair;
# the TAP returns a flow on the queue it came from). Prints FIGURE lines
# and the queues' interrupt counts.
# Kernel command line options (run-guest.sh --append):
#   vnet.pairs=N  pairs the device offers (and we expect in use)
#   vnet.ip=ADDR/PREFIX, vnet.host=ADDR, vnet.mb=N (MiB per stream)
#   vus.scale=N   multiply the waits
fail() { echo "FAIL: $*"; exit 1; }
opt() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) v="${w#*=}";; esac; done; echo "${v:-}"; v=""; }
now() { cut -d' ' -f1 /proc/uptime; }
PAIRS=$(opt vnet.pairs); PAIRS=${PAIRS:-2}
IPADDR=$(opt vnet.ip); IPADDR=${IPADDR:-10.0.4.2/24}
HOST=$(opt vnet.host); HOST=${HOST:-10.0.4.1}
MB=$(opt vnet.mb); MB=${MB:-16}
S=$(opt vus.scale); S=${S:-1}

modprobe virtio_pci || fail "modprobe virtio_pci"
modprobe virtio_net || fail "modprobe virtio_net"
for _ in $(seq $((50 * S))); do IF=$(ls /sys/bus/virtio/drivers/virtio_net/virtio*/net 2>/dev/null | head -1); [ -n "$IF" ] && break; sleep 0.1; done
[ -n "$IF" ] || fail "no virtio-net interface"
V=$(readlink -f /sys/class/net/$IF/device)
F=$(cat $V/features)
echo "$IF: features $F, $(nproc) cpus"
# Bits 17 (CTRL_VQ) and 22 (MQ), sysfs listing bit 0 first.
if [ "$PAIRS" -gt 1 ]; then
  [ "$(echo $F | cut -c18)" = 1 ] || fail "VIRTIO_NET_F_CTRL_VQ not negotiated"
  [ "$(echo $F | cut -c23)" = 1 ] || fail "VIRTIO_NET_F_MQ not negotiated"
fi
Q=$(ls /sys/class/net/$IF/queues | tr '\n' ' ')
echo "queues: $Q"
want=""; i=0
while [ $i -lt $PAIRS ]; do want="$want rx-$i"; i=$((i + 1)); done
i=0; while [ $i -lt $PAIRS ]; do want="$want tx-$i"; i=$((i + 1)); done
[ "$Q" = "${want# } " ] || fail "queues '$Q', expected '${want# }'"
ip link set dev $IF up || fail "link up"
ip addr add $IPADDR dev $IF || fail "ip addr add"
for _ in $(seq $((50 * S))); do [ "$(cat /sys/class/net/$IF/operstate)" = up ] && break; sleep 0.1; done
ping -c 2 -W $((2 * S)) $HOST > /dev/null || fail "ping $HOST"

# Streams [0, n), each on vCPU (i mod cpus): up (to port 5000 + i) or down.
streams() {
  n=$1 dir=$2 i=0 t0=$(now)
  while [ $i -lt $n ]; do
    cpu=$((i % $(nproc)))
    if [ $dir = up ]; then
      taskset -c $cpu sh -c "dd if=/dev/zero bs=64k count=$((MB * 16)) 2>/dev/null | nc $HOST $((5000 + i))" &
    else
      taskset -c $cpu sh -c "nc $HOST $((6000 + i)) < /dev/null | wc -c > /tmp/down$i" &
    fi
    i=$((i + 1))
  done
  wait
  t1=$(now)
  awk -v n=$n -v mb=$MB -v a=$t0 -v b=$t1 -v d=$dir 'BEGIN { t = b - a; if (t <= 0) t = 0.01;
    printf "FIGURE %s_streams_%d_mib_s=%.1f\n", d, n, n * mb / t }'
}
streams 1 up
streams 1 down
[ "$(cat /tmp/down0)" = $((MB * 1048576)) ] || fail "download 0: $(cat /tmp/down0) bytes"
streams $(nproc) up
streams $(nproc) down
i=0
while [ $i -lt $(nproc) ]; do
  [ "$(cat /tmp/down$i)" = $((MB * 1048576)) ] || fail "download $i: $(cat /tmp/down$i) bytes"
  i=$((i + 1))
done
grep -E 'virtio[0-9]+-(input|output)' /proc/interrupts | awk '{ s = 0; for (i = 2; i <= NF - 3; i++) s += $i; print "interrupts " $NF ": " s }'
echo "PASS"
