#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags...]: builds one fuzz
# target (and its seed corpus) and runs it for SECONDS (0: until -runs= or
# a crash). The corpus it grows is kept in $AZC_FUZZ_CORPUS (default
# /work/fuzz-corpus/TARGET if /work exists, else build-test/fuzz-corpus/TARGET),
# outside the source tree; crashes go to $AZC_FUZZ_CORPUS/../TARGET-artifacts/.
# Long runs: nice -n 19 tests/fuzz/run.sh fuzz_gguf 0 -runs=10000000
# Targets: see tests/fuzz/CMakeLists.txt (fuzz_gguf, fuzz_tokenize_spm,
# fuzz_tokenize_bpe, fuzz_detokenize, fuzz_bundle, fuzz_bundle_sealed, ...).
# AZC_BUILD_DIR (default build-test) is configured as scripts/test.sh does
# if it is not there yet.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags...]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${AZC_BUILD_DIR:-$root/build-test}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAZC_WERROR=ON \
    -DAZC_SANITIZE=ON >/dev/null
fi
cmake --build "$build" -j"${AZC_JOBS:-2}" --target "$target"
exe=$build/tests/fuzz/$target
seeds=$build/tests/fuzz/seeds/$target
if [ -d /work ] && [ -w /work ]; then
  corpus=${AZC_FUZZ_CORPUS:-/work/fuzz-corpus/$target}
else
  corpus=${AZC_FUZZ_CORPUS:-$build/fuzz-corpus/$target}
fi
artifacts=$corpus/../$target-artifacts
mkdir -p "$corpus" "$artifacts"
read -r -a args <"$build/tests/fuzz/$target.args" || true
time_flag=()
[ "$seconds" != 0 ] && time_flag=(-max_total_time="$seconds")
# the regression inputs (tests/fuzz/regress/TARGET) seed the run too: for a
# target without a seed maker they are its only seeds
inputs=("$seeds")
[ -d "$root/tests/fuzz/regress/$target" ] && inputs+=("$root/tests/fuzz/regress/$target")
echo "$target: corpus $corpus ($(find "$corpus" -type f | wc -l) inputs), seeds ${inputs[*]}, flags ${args[*]}"
exec "$exe" "${time_flag[@]}" -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "${args[@]}" "$@" "$corpus" "${inputs[@]}"
