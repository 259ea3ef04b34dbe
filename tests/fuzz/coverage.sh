#!/usr/bin/env bash
# tests/fuzz/coverage.sh TARGET CORPUS [SOURCE...]: the source-based coverage
# that the inputs in CORPUS (a folder, e.g. /work/fuzz-corpus/TARGET) and the
# target's seeds reach (an empty CORPUS folder: what the seeds alone reach).
# Builds TARGET_cov (the target with -fprofile-instr-generate
# -fcoverage-mapping, no sanitizers), runs every input once (-runs=0), and
# prints llvm-cov's report (regions, functions, lines covered) for the given
# sources (paths from the repository root; default: every file).
#   tests/fuzz/coverage.sh fuzz_bundle_sealed /work/fuzz-corpus/fuzz_bundle_sealed \
#     runtime/elf_loader.c runtime/plan.c
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tests/fuzz/coverage.sh TARGET CORPUS [SOURCE...]" >&2; exit 2; }
target=$1 corpus=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${AZC_BUILD_DIR:-$root/build-test}
[ -d "$corpus" ] || { echo "coverage.sh: no corpus folder $corpus" >&2; exit 1; }
cmake --build "$build" -j"${AZC_JOBS:-2}" --target "${target}_cov" >/dev/null
exe=$build/tests/fuzz/${target}_cov
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seeds=$build/tests/fuzz/seeds/$target
LLVM_PROFILE_FILE="$work/%p.profraw" "$exe" -runs=0 "$corpus" "$seeds" >"$work/log" 2>&1 || {
  tail -20 "$work/log"; echo "coverage.sh: $target failed on its corpus" >&2; exit 1; }
grep -E '^#[0-9]+ +INITED' "$work/log" || true
llvm-profdata-19 merge -sparse "$work"/*.profraw -o "$work/all.profdata"
files=()
for f in "$@"; do files+=("$root/$f"); done
llvm-cov-19 report "$exe" -instr-profile="$work/all.profdata" "${files[@]}"
