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
  # no_timer_check: with interrupt remapping the kernel panics when its
  # boot-time IO-APIC timer test misses ticks, which a TCG guest on a busy
  # host does ("timer doesn't work through Interrupt-remapped IO-APIC");
  # the test says nothing about the device.
  guest_opts="intel_iommu=on iommu.strict=1 vnet.iommu=1 no_timer_check"
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../timescale.sh"
. "$here/harness.sh"
. "$here/vnet-link.sh"
mac=02:00:00:00:0a:02
vnet_ready "$harness"
vnet_link 0 "$sample" "$responder" "$mib" $mac 10.0.2 --notify "$notify"
srv=${vnet_pids[1]}

start=$(date +%s.%N)
"$harness/run-guest.sh" --socket "$work/net0.sock" --quiet --timeout "$(scaled 240)" \
  --wait-socket "$(scaled 10)" "${qemu_args[@]}" \
  --append "vnet.mac=$mac vnet.ip=10.0.2.2/24 vnet.host=10.0.2.1 vnet.mb=$mib vus.scale=$(scaled 1) no_timer_check $guest_opts" \
  --script "$here/guest-virtio-net-traffic.sh" > "$work/guest.log" 2>&1
rc=$?
end=$(date +%s.%N)
cat "$work/guest.log"

# The device's CPU time over the whole run (mmap mode polls).
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' \
  "/proc/$srv/stat" 2>/dev/null)
vnet_stop_all || rc=1
echo "----- responder -----"; cat "$work/responder0.log"
echo "----- server -----"; tail -20 "$work/server0.log"
# The host saw the whole upload, equal to what it sent.
if [ $rc -eq 0 ] && ! grep -q "received up, $((mib * 1048576)) bytes, .* (= blob)" "$work/responder0.log"; then
  echo "FAIL: the responder did not receive the blob back intact"; rc=1
fi
figs=$(grep -o 'FIGURE [a-zA-Z_]*=[0-9.]*' "$work/guest.log" | cut -d' ' -f2 | tr '\n' ' ')
# DMA_MAP/DMA_UNMAP: what the guest generated and what it cost the device.
dma=$(grep -o 'dma [0-9]* maps [0-9.]* us, [0-9]* unmaps [0-9.]* us, [0-9.]* us per pair' "$work/server0.log")
if [ -n "$dma" ]; then
  traffic_s=$(sed -n 's/.*FIGURE traffic_s=\([0-9.]*\).*/\1/p' "$work/guest.log")
  frames=$(sed -n 's/.*: tx \([0-9]*\) frames .* rx \([0-9]*\) frames .*/\1 \2/p' "$work/server0.log")
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
