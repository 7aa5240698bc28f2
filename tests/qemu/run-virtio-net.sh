#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Attach the virtio-net-pci sample to QEMU's vfio-user-pci client with a
# Linux guest (../shared/qemu-harness). The device's datagram backend is
# linked to tests/virtio_responder.c, a small host that answers ARP and
# ping and serves TFTP; the guest script (guest-virtio-net-traffic.sh)
# checks that virtio_net binds with the configured MAC, pings, and moves
# MIB MiB each way with CRC-32 checks at both ends.
#
#   run-virtio-net.sh SAMPLE RESPONDER HARNESS_DIR ioeventfd|mmap|viommu [MIB]
#
# viommu: ioeventfd doorbells, and the device behind QEMU's intel-iommu
# (caching-mode=on, interrupt remapping with a split irqchip) with a guest
# booted intel_iommu=on iommu.strict=1: every buffer is mapped and unmapped
# through DMA_MAP/DMA_UNMAP. The DMA figures (the device's dma_stats line)
# are printed: maps and unmaps per second of guest traffic and per frame,
# and what a map, an unmap and a pair cost the device (request to reply).
#
# Exit 77 (meson's "skipped") when the harness is not available. Both
# processes must still be alive after the guest and exit 0 on SIGTERM.
set -u
sample=$1 responder=$2 harness=$3 mode=$4 mib=${5:-64}
notify=$mode qemu_args=() guest_opts=""
if [ "$mode" = viommu ]; then
  notify=ioeventfd
  qemu_args=(--machine q35,kernel-irqchip=split
             --extra "-device intel-iommu,caching-mode=on")
  guest_opts="intel_iommu=on iommu.strict=1 vnet.iommu=1"
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
mac=02:00:00:00:0a:02
if [ ! -x "$harness/run-guest.sh" ]; then
  echo "qemu-harness not found at '$harness': skipping"; exit 77
fi
if ! out=$("$harness/ensure.sh" --no-apt 2>&1); then
  echo "$out" | tail -5
  echo "qemu-harness is not built (run make test as root once): skipping"; exit 77
fi
work=$(mktemp -d /tmp/vus-qemu-vnet.XXXXXX)
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
  [ -n "${resp:-}" ] && kill "$resp" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
"$responder" --bind "$work/host.dgram" --peer "$work/dev.dgram" \
  --ip 10.0.2.1 --blob-size $((mib * 1048576)) > "$work/responder.log" 2>&1 &
resp=$!
"$sample" --socket-path "$work/net.sock" --bind "$work/dev.dgram" \
  --peer "$work/host.dgram" --mac $mac --notify "$notify" --log-level info \
  > "$work/server.log" 2>&1 &
srv=$!
for _ in $(seq "$(tries 30 0.1)"); do
  [ -S "$work/net.sock" ] && grep -q ready "$work/responder.log" && break
  sleep 0.1
done
if ! [ -S "$work/net.sock" ] || ! grep -q ready "$work/responder.log"; then
  echo "FAIL: the device or the responder did not start"
  cat "$work/server.log" "$work/responder.log"; exit 1
fi

start=$(date +%s.%N)
"$harness/run-guest.sh" --socket "$work/net.sock" --quiet --timeout "$(scaled 240)" \
  --wait-socket "$(scaled 10)" "${qemu_args[@]}" \
  --append "vnet.mac=$mac vnet.ip=10.0.2.2/24 vnet.host=10.0.2.1 vnet.mb=$mib vus.scale=$(scaled 1) $guest_opts" \
  --script "$here/guest-virtio-net-traffic.sh" > "$work/guest.log" 2>&1
rc=$?
end=$(date +%s.%N)
cat "$work/guest.log"

# The device's CPU time over the whole run (mmap mode polls).
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' \
  "/proc/$srv/stat" 2>/dev/null)
# Both processes must still be alive, and stop cleanly on SIGTERM
# (sanitizer builds report leaks and errors here).
for p in srv resp; do
  pid=${!p}
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: $p died"; rc=1; continue
  fi
  kill -TERM "$pid"; wait "$pid"; st=$?
  if [ $st -ne 0 ]; then
    echo "FAIL: $p exited with status $st after SIGTERM"; rc=1
  fi
done
srv="" resp=""
echo "----- responder -----"; cat "$work/responder.log"
echo "----- server -----"; tail -20 "$work/server.log"
# The host saw the whole upload, equal to what it sent.
if [ $rc -eq 0 ] && ! grep -q "received up, $((mib * 1048576)) bytes, .* (= blob)" "$work/responder.log"; then
  echo "FAIL: the responder did not receive the blob back intact"; rc=1
fi
figs=$(grep -o 'FIGURE [a-zA-Z_]*=[0-9.]*' "$work/guest.log" | cut -d' ' -f2 | tr '\n' ' ')
# DMA_MAP/DMA_UNMAP: what the guest generated and what it cost the device.
dma=$(grep -o 'dma [0-9]* maps [0-9.]* us, [0-9]* unmaps [0-9.]* us, [0-9.]* us per pair' "$work/server.log")
if [ -n "$dma" ]; then
  traffic_s=$(sed -n 's/.*FIGURE traffic_s=\([0-9.]*\).*/\1/p' "$work/guest.log")
  frames=$(sed -n 's/.*: tx \([0-9]*\) frames .* rx \([0-9]*\) frames .*/\1 \2/p' "$work/server.log")
  figs="$figs$(echo "$dma" | awk -v t="${traffic_s:-0}" -v f="$frames" '{
    split(f, fr, " "); n = fr[1] + fr[2]; pairs = ($2 < $6) ? $2 : $6
    printf "dma_maps=%d dma_unmaps=%d map_us=%s unmap_us=%s pair_us=%s ", $2, $6, $4, $8, $10
    if (t > 0) printf "pairs_per_s=%.0f ", pairs / t
    if (n > 0) printf "pairs_per_frame=%.2f ", pairs / n }')"
  # QEMU logs every DMA_MAP/UNMAP the device refused ("error reply on
  # async request command 3" was the vIOMMU's replay of empty ranges).
  if grep -q -E 'vfio_container_dma_(un)?map|error reply on async request' "$work/guest.log"; then
    echo "FAIL: QEMU reports refused DMA_MAP/DMA_UNMAPs"; rc=1
  fi
  # Behind the vIOMMU every buffer is mapped: no maps means no vIOMMU.
  if [ "$mode" = viommu ] && [ $rc -eq 0 ] && [ "$(echo "$dma" | awk '{print $6}')" -lt 100 ]; then
    echo "FAIL: the guest's traffic made almost no DMA_UNMAPs: $dma"; rc=1
  fi
fi
echo "RESULT mode=$mode mib=$mib ${figs}wall_s=$(awk -v a=$start -v b=$end 'BEGIN{printf "%.1f", b-a}') server_cpu_s=$cpu rc=$rc"
exit $rc
