# SPDX-License-Identifier: BSD-3-Clause
# What the virtio-net guest tests share (source it after timescale.sh and
# harness.sh):
#
#   vnet_ready HARNESS          exit 77 (meson's "skipped") without a built
#                               harness; else make $work and its cleanup
#   vnet_link N SAMPLE RESPONDER MIB MAC NET [SAMPLE ARGS...]
#                               device N (socket $work/net$N.sock, log
#                               $work/server$N.log) linked to a responder
#                               (tests/virtio_responder.c) at NET.1 serving
#                               a MIB MiB blob (log $work/responder$N.log)
#                               (under ${vnet_wrap[@]} when that is set,
#                               e.g. vus-supervise --)
#   vnet_stop_all               SIGTERM every process started here: each
#                               must still be alive and exit 0 (sanitizer
#                               builds report leaks and errors there);
#                               returns 1 if one did not
vnet_pids=() vnet_names=() vnet_wrap=()

vnet_ready() {
  harness_ready "$1"
  work=$(mktemp -d /tmp/vus-qemu-vnet.XXXXXX)
  trap vnet_cleanup EXIT
}

vnet_cleanup() {
  for p in "${vnet_pids[@]+"${vnet_pids[@]}"}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null; rm -rf "$work"
}

vnet_link() {
  local n=$1 sample=$2 responder=$3 mib=$4 mac=$5 net=$6
  shift 6
  "$responder" --bind "$work/host$n.dgram" --peer "$work/dev$n.dgram" \
    --ip "$net.1" --blob-size $((mib * 1048576)) > "$work/responder$n.log" 2>&1 &
  vnet_pids+=($!) vnet_names+=("responder $n")
  ${vnet_wrap[@]+"${vnet_wrap[@]}"} \
  "$sample" --socket-path "$work/net$n.sock" --bind "$work/dev$n.dgram" \
    --peer "$work/host$n.dgram" --mac "$mac" --log-level info "$@" \
    > "$work/server$n.log" 2>&1 &
  vnet_pids+=($!) vnet_names+=("device $n")
  for _ in $(seq "$(tries 30 0.1)"); do
    [ -S "$work/net$n.sock" ] && grep -q ready "$work/responder$n.log" && return 0
    sleep 0.1
  done
  echo "FAIL: device $n or its responder did not start"
  cat "$work/server$n.log" "$work/responder$n.log"; exit 1
}

vnet_stop_all() {
  local i st ret=0
  for i in "${!vnet_pids[@]}"; do
    if ! kill -0 "${vnet_pids[$i]}" 2>/dev/null; then
      echo "FAIL: ${vnet_names[$i]} died"; ret=1; continue
    fi
    kill -TERM "${vnet_pids[$i]}"; wait "${vnet_pids[$i]}"; st=$?
    if [ $st -ne 0 ]; then
      echo "FAIL: ${vnet_names[$i]} exited with status $st after SIGTERM"; ret=1
    fi
  done
  vnet_pids=() vnet_names=()
  return $ret
}
