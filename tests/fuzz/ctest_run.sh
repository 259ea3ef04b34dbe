#!/usr/bin/env bash
# CTest's short run of one fuzz target (tests/fuzz/CMakeLists.txt):
#   ctest_run.sh EXE SEEDS WORKDIR SECONDS [libFuzzer flags...]
# Starts from a fresh copy of the seed corpus each time, with a fixed seed
# (-seed=1), so CI explores the same inputs first wherever it runs (how far
# it gets depends on the machine's speed; long runs, tests/fuzz/run.sh, use
# random seeds); fails when the target crashes, leaks, times out
# or trips a sanitizer (libFuzzer's exit status), and prints its last lines.
set -euo pipefail
exe=$1 seeds=$2 work=$3 seconds=$4
shift 4
[ -x "$exe" ] || { echo "FAIL: $exe is missing (build the target)"; exit 1; }
[ -d "$seeds" ] || { echo "FAIL: seed corpus $seeds is missing (build the target)"; exit 1; }
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
n=$(find "$seeds" -type f | wc -l)
echo "$(basename "$exe"): $n seeds, ${seconds} s"
set +e
"$exe" -seed=1 -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?
set -e
grep -E '^(#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::average_exec_per_sec)' \
  "$work/log" || true
if [ $rc -ne 0 ]; then
  tail -n 60 "$work/log"
  echo "FAIL: $(basename "$exe") exited $rc; inputs in $work/artifacts"
  exit 1
fi
