#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# libvus against libvfio-user, side by side, one client (tests/bench_vs.c).
#
#   LIBVFIO_USER=/path/to/libvfio-user tests/bench_vs.sh [BUILD]
#
# LIBVFIO_USER is a libvfio-user source tree that has been built: its
# include/ and a libvfio-user.so in build/lib, build or lib (whichever has
# it). BUILD is libvus's meson build directory (default: build), which has
# the client tests/bench_vs and the libvus server `tests/bench_rtt --serve`.
# Without LIBVFIO_USER it says so and exits 0, so `make bench` works
# without libvfio-user.
#
# RUNS rounds (default 3), each pinned (client and both servers on CPU
# PIN_CPU, default 0, as issue 14 asks) and unpinned; in each, the libvus
# server and the libvfio-user server are measured one after the other by
# the same client: N 4-byte register reads (default 100000), PAIRS DMA
# map+unmap pairs of 2 MiB of a memfd (default 2000), then up to LIVE 4 KiB
# grants of that memfd (default 2), one of which is withdrawn again before
# PAIRS / 10 more pairs are timed with the others live: with the default,
# pairs of a file the server already maps (QEMU's guest RAM memfd). Prints
# every round and the ratio libvus / libvfio-user of each figure (the
# pair_live ones only when both servers took the same number of grants:
# libvfio-user takes 16 at most, so LIVE=10000 shows that and the memory
# areas each server holds rather than a ratio). Each pinned round also runs
# `bench_vs --floor`: the least server CPU a pair can cost here (two
# blocking round trips, the fd's fstat and close, nothing else), and
# prints it over libvfio-user's pair: no server's ratio can go below that.
set -eu

BUILD=${1:-build}
RUNS=${RUNS:-3}
N=${N:-100000}
PAIRS=${PAIRS:-2000}
LIVE=${LIVE:-2}
PIN_CPU=${PIN_CPU:-0}

if [ -z "${LIBVFIO_USER:-}" ]; then
	echo "libvfio-user comparison SKIPPED: set LIBVFIO_USER to a built" \
	     "libvfio-user tree (doc/performance.md)"
	exit 0
fi
lib=""
for d in build/lib build lib; do
	if [ -e "$LIBVFIO_USER/$d/libvfio-user.so" ]; then
		lib=$LIBVFIO_USER/$d
		break
	fi
done
if [ -z "$lib" ] || [ ! -f "$LIBVFIO_USER/include/libvfio-user.h" ]; then
	echo "error: no libvfio-user.so or include/libvfio-user.h under $LIBVFIO_USER" >&2
	exit 1
fi
client=$BUILD/tests/bench_vs
vus_server=$BUILD/tests/bench_rtt
for x in "$client" "$vus_server"; do
	[ -x "$x" ] || { echo "error: $x not built (ninja -C $BUILD)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(dirname "$0")
${CC:-cc} -O2 -D_GNU_SOURCE -I"$LIBVFIO_USER/include" \
	"$here/bench_vs_lvu_server.c" -L"$lib" -Wl,-rpath,"$lib" \
	-lvfio-user -o "$tmp/lvu_server"

# run_one NAME PIN SERVER...: start the server on $tmp/NAME.sock, wait for
# its socket, run the client against it, print the client's line.
run_one() {
	name=$1 pin=$2
	shift 2
	sock=$tmp/$name.sock
	rm -f "$sock"
	if [ "$pin" = yes ]; then set -- taskset -c "$PIN_CPU" "$@"; fi
	"$@" "$sock" &
	spid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt 500 ] || ! kill -0 $spid 2>/dev/null; then
			echo "error: $name server did not start" >&2
			exit 1
		fi
		sleep 0.01
	done
	# taskset execs the server, so $! is the server's pid.
	if [ "$pin" = yes ]; then
		taskset -c "$PIN_CPU" "$client" "$sock" $spid $N $PAIRS $LIVE
	else
		"$client" "$sock" $spid $N $PAIRS $LIVE
	fi
	wait $spid
}

echo "libvus vs libvfio-user ($LIBVFIO_USER), $(date -u '+%Y-%m-%d %H:%M UTC'), load:$(cut -d' ' -f1-3 /proc/loadavg)"
echo "N=$N register reads, PAIRS=$PAIRS DMA pairs, LIVE=$LIVE grants; times in us"
for r in $(seq 1 "$RUNS"); do
	for pin in yes no; do
		a=$(run_one libvus $pin "$vus_server" --serve)
		b=$(run_one libvfio-user $pin "$tmp/lvu_server")
		echo "round $r pinned=$pin load=$(cut -d' ' -f1 /proc/loadavg)"
		echo "  libvus       $a"
		echo "  libvfio-user $b"
		if [ "$pin" = yes ]; then
			f=$(taskset -c "$PIN_CPU" "$client" --floor "$PAIRS")
			echo "  floor        $f"
			echo "$f" "$b" | awk '{
				for (i = 1; i <= NF; i++) { split($i, kv, "=");
					if (i <= 2) f[kv[1]] = kv[2]; else w[kv[1]] = kv[2] }
				printf "  ratio floor/libvfio-user cpu_pair_live=%.2f\n",
					(w["cpu_pair_live"] > 0 ? f["cpu_pair"] / w["cpu_pair_live"] : 0) }'
		fi
		echo "$a" "$b" | awk '{
			for (i = 1; i <= NF; i++) { split($i, kv, "=");
				if (i <= NF / 2) v[kv[1]] = kv[2]; else w[kv[1]] = kv[2] }
			line = "  ratio       ";
			n = split("rtt_med rtt_p99 rtt_mean cpu_req pair_med pair_mean cpu_pair", k, " ");
			if (v["live_ok"] == w["live_ok"])
				n = split("rtt_med rtt_p99 rtt_mean cpu_req pair_med pair_mean cpu_pair pair_live_med cpu_pair_live", k, " ");
			for (j = 1; j <= n; j++)
				line = line sprintf(" %s=%.2f", k[j], w[k[j]] > 0 ? v[k[j]] / w[k[j]] : 0);
			print line }'
	done
done
