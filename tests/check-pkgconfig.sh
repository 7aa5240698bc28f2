#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The installed pkg-config files build the README's examples: install the
# build into a scratch root, compile doc/example.c with libvus.pc and
# doc/client-example.c with libvus-client.pc alone, then run the client
# against the device. Also: neither .pc needs json-c's development files.
# Usage: check-pkgconfig.sh BUILD_DIR SOURCE_DIR CC...
set -eu
build=$1 src=$2; shift 2
tmp=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" \
  --tags devel,runtime >/dev/null
pc=$(find "$tmp/root" -name libvus-client.pc)
[ -n "$pc" ] || { echo "libvus-client.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
for p in libvus libvus-client; do
  if grep '^Requires' "$(dirname "$pc")/$p.pc"; then
    echo "$p.pc requires packages its public headers do not use"; exit 1
  fi
done
# shellcheck disable=SC2046
"$@" -o "$tmp/example" "$src/doc/example.c" $(pkg-config --cflags --libs libvus)
# shellcheck disable=SC2046
"$@" -o "$tmp/client" "$src/doc/client-example.c" \
  $(pkg-config --cflags --libs libvus-client)
# (pkg-config gives the variable with the scratch root in front.)
libdir=$(pkg-config --variable=libdir libvus-client)
export LD_LIBRARY_PATH="$libdir"
# The client library alone: nothing of the device side is linked in.
if ldd "$tmp/client" | grep -q 'libvus\.so'; then
  echo "the client example links libvus.so"; exit 1
fi
"$tmp/example" "$tmp/ex.sock" & server=$!
# Published atomically (bound elsewhere, then renamed): wait for the name
# or the server's end; meson's timeout bounds the wait.
while [ ! -S "$tmp/ex.sock" ]; do
  kill -0 "$server" || { echo "the example died"; exit 1; }
  sleep 0.01
done
"$tmp/client" "$tmp/ex.sock"
echo "both examples build from the installed .pc files and talk"
