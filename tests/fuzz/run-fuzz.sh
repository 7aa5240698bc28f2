#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run one libFuzzer target: first every seed and every saved crash input
# once (a regression check), then fuzz for FUZZ_TIME seconds (default 20)
# into a corpus kept in the build directory. Prints libFuzzer's figures;
# fails on any crash, leak, fd leak or hang.
#
#   run-fuzz.sh TARGET SEED_DIR DICT WORK_DIR
set -euo pipefail

target=$1 seeds=$2 dict=$3 work=$4
name=$(basename "$target")
time=${FUZZ_TIME:-20}
corpus=$work/corpus-$name
crashes=$work/crashes-$name
mkdir -p "$corpus" "$crashes"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

common=(-dict="$dict" -max_len=16384 -timeout=20 -rss_limit_mb=2048
        -artifact_prefix="$crashes/" -print_final_stats=1)

# Known inputs first: every seed and every earlier crash must pass.
echo "== $name: replaying seeds and saved crash inputs"
replay=$work/replay-$name.log
if ! "$target" "${common[@]}" -runs=0 "$seeds" "$crashes" >"$replay" 2>&1; then
	echo "== $name: FAILED on a seed or a saved crash input:"
	tail -n 60 "$replay"
	exit 1
fi
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$replay" | tail -n 1 || true

echo "== $name: fuzzing for ${time}s (corpus $corpus)"
log=$work/fuzz-$name.log
status=0
"$target" "${common[@]}" -max_total_time="$time" "$corpus" "$seeds" \
	>"$log" 2>&1 || status=$?
grep -E '^#[0-9]+.*DONE|^stat::|INFO: (Loaded|seed corpus)' "$log" || true
if [ "$status" -ne 0 ]; then
	echo "== $name: FAILED (exit $status); the input is in $crashes:"
	tail -n 60 "$log"
	exit 1
fi
echo "== $name: corpus $(ls "$corpus" | wc -l) files, no crash"
