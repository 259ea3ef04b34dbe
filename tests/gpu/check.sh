#!/usr/bin/env bash
# The device check (issue 9 item 5, docs/gpu.md "The device check"): on a
# machine with an NVIDIA GPU, build azc without LLVM, write models with azc
# mkmodel + azc quantize, compile GPU bundles, compare the GPU's logits with
# the eager interpreter's for every model, and run `azc bench -ngl 99` for a
# TinyLlama-1.1B-shaped Q4_K_M model. Figures go to $OUT (if set).
#
#   tests/gpu/check.sh --prepare   here (Debian, with network): the .debs the
#                                  GPU machine lacks and the shared models,
#                                  into .gpucheck/ (ignored; carry it)
#   tests/gpu/check.sh             on the GPU machine (CUDA 13 toolkit + driver,
#                                  CMake, a C compiler; nothing installed)
#   tests/gpu/check.sh --standin   here, on the CPU: the same flow over the
#                                  libcuda stand-in (tests/gpu/cuda_standin.c),
#                                  small models only, no bench unless
#                                  AZC_CHECK_BENCH=1 (then a tiny one)
#
# Environment: OUT (results), AZC_CHECK_DIR (work folder, default
# /tmp/azc-check), AZC_CHECK_ARCH (default sm_90), AZC_CHECK_MIN_COS (0.999),
# AZC_CHECK_MODELS (standin: mkmodel shapes to run, default tiny-llama:q8_0),
# CUDA_HOME (default /usr/local/cuda), AZC_CHECK_BUILD (reuse a built tree),
# AZC_CHECK_FORCE_DEBS / AZC_CHECK_NO_DPKG (the deps path of a bare machine).
# Shorter device runs (and the device flow over the stand-in, with
# AZC_CHECK_STANDIN_MODULES=1 and AZC_LIBCUDA set): AZC_CHECK_DEVICE_MODELS
# (shape:type list), AZC_CHECK_QUANT (llama-160m types, "none"),
# AZC_CHECK_SHARED=0 (not the carried models), AZC_CHECK_BENCH_SHAPE
# (tinyllama-1.1b), AZC_CHECK_BENCH_ARGS ("-r 3").
# Exit status: 0 when every model matched and the bench ran; 1 otherwise.
set -u
set -o pipefail

mode=device
case "${1:-}" in
  --prepare) mode=prepare ;;
  --standin) mode=standin ;;
  "" | --device) mode=device ;;
  -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
  *) echo "check.sh: unknown argument $1 (--prepare, --standin, --device)" >&2; exit 2 ;;
esac

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CARRY=$SRC/.gpucheck
W=${AZC_CHECK_DIR:-/tmp/azc-check}
ARCH=${AZC_CHECK_ARCH:-sm_90}
MIN_COS=${AZC_CHECK_MIN_COS:-0.999}
CUDA=${CUDA_HOME:-/usr/local/cuda}
JOBS=$(nproc 2>/dev/null || echo 4)
RES=${OUT:-$W/out}
failures=0

now() { date +%s.%N; }
T0=$(now)
phase_t=$T0
phase_name=""
phase() { # ends the running phase (prints its time), starts the next
  local t
  t=$(now)
  if [ -n "$phase_name" ]; then
    awk -v a="$t" -v b="$phase_t" -v n="$phase_name" 'BEGIN { printf "== %-10s %7.1f s\n", n, a - b }' |
      tee -a "$RES/phases.txt"
  fi
  phase_name=${1:-}
  phase_t=$t
  [ -n "$phase_name" ] && echo "== $phase_name ..."
  return 0
}
fail() { echo "check.sh: FAIL: $*" | tee -a "$RES/failures.txt" >&2; failures=$((failures + 1)); }
die() { echo "check.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- prepare
if [ $mode = prepare ]; then
  mkdir -p "$CARRY/debs" "$CARRY/models"
  (cd "$CARRY/debs" && apt-get download libxxhash-dev libxxhash0 libcjson-dev libcjson1) ||
    die "apt-get download failed"
  for m in "$SRC"/../shared/models/*.gguf /work/shared/models/*.gguf; do
    [ -f "$m" ] && cp -f "$m" "$CARRY/models/"
  done
  # the Llama SentencePiece vocabulary docs/benchmarks.md's TinyLlama uses
  for v in "$SRC"/../shared/vocab/ggml-vocab-llama-spm.gguf /work/shared/vocab/ggml-vocab-llama-spm.gguf; do
    [ -f "$v" ] && cp -f "$v" "$CARRY/"
  done
  du -sh "$CARRY"
  ls -l "$CARRY" "$CARRY/debs" "$CARRY/models"
  echo "check.sh: carry .gpucheck (it must stay under 64 MiB with anything else carried)"
  exit 0
fi

mkdir -p "$W" "$RES" || die "cannot create $W or $RES"
: > "$RES/phases.txt"
: > "$RES/failures.txt"
: > "$RES/compare.txt"
echo "check.sh: $mode, work folder $W, results $RES, arch $ARCH, $JOBS cores"
{
  echo "mode $mode, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -srm), $JOBS cores"
  echo "commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet 2>/dev/null || echo ' (modified)')"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$CUDA/bin/nvcc" --version 2> /dev/null | tail -1
  cc --version 2> /dev/null | head -1
  cmake --version | head -1
} > "$RES/machine.txt" 2>&1
cat "$RES/machine.txt"

# ---------------------------------------------------------------- deps
phase deps
SYSROOT=$W/sysroot
have_headers() { printf '#include <xxhash.h>\n#include <cjson/cJSON.h>\nint main(void){return 0;}\n' |
  cc -x c - -o /dev/null -lxxhash -lcjson $1 > /dev/null 2>&1; }
DEP_ARGS=()
# AZC_CHECK_FORCE_DEBS=1: use the carried .debs even where the system has the
# libraries; AZC_CHECK_NO_DPKG=1: unpack them as on a machine without dpkg
if [ "${AZC_CHECK_FORCE_DEBS:-0}" != 1 ] && have_headers ""; then
  echo "xxhash and cJSON: the system's"
else
  ls "$CARRY"/debs/*.deb > /dev/null 2>&1 || die "no xxhash/cJSON here and no $CARRY/debs (run --prepare where there is apt-get, then carry .gpucheck)"
  mkdir -p "$SYSROOT"
  for d in "$CARRY"/debs/*.deb; do
    if command -v dpkg > /dev/null && [ "${AZC_CHECK_NO_DPKG:-0}" != 1 ]; then
      dpkg -x "$d" "$SYSROOT" || die "dpkg -x $d"
    else # not Debian: a .deb is an ar archive holding data.tar.*
      t=$(mktemp -d)
      (cd "$t" && ar x "$d" && tar -xf data.tar.* -C "$SYSROOT") || die "unpacking $d"
      rm -rf "$t"
    fi
  done
  LIBDIR=$(dirname "$(find "$SYSROOT" -name 'libxxhash.so*' | head -1)")
  CJDIR=$(dirname "$(find "$SYSROOT" -name 'libcjson.so*' | head -1)")
  export LD_LIBRARY_PATH=$LIBDIR:$CJDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  DEP_ARGS=(-DXXHASH_INCLUDE_DIR="$SYSROOT/usr/include" -DXXHASH_LIBRARY="$LIBDIR/libxxhash.so"
    -DAZC_CJSON_INCLUDE_DIR="$SYSROOT/usr/include" -DAZC_CJSON_LIBRARY="$CJDIR/libcjson.so")
  have_headers "-I$SYSROOT/usr/include -L$LIBDIR -L$CJDIR" || die "the unpacked xxhash/cJSON do not link"
  echo "xxhash and cJSON: unpacked from $CARRY/debs into $SYSROOT"
fi

# ---------------------------------------------------------------- build
phase build
BUILD=${AZC_CHECK_BUILD:-$W/build}
if [ -z "${AZC_CHECK_BUILD:-}" ]; then
  # no LLVM anywhere: llvm-config/clang are pointed at nothing on purpose
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAZC_WITH_LLVM=OFF -DAZC_WITH_SERVE=OFF \
    -DAZC_CUDA_ROOT="$CUDA" -DAZC_LLVM_CONFIG=/nonexistent/llvm-config-19 \
    -DAZC_CLANG=/nonexistent/clang-19 "${DEP_ARGS[@]}" > "$RES/configure.log" 2>&1 ||
    { tail -30 "$RES/configure.log"; die "configure failed ($RES/configure.log)"; }
  grep -q 'GPU code generation built in' "$RES/configure.log" ||
    die "NVRTC not found under $CUDA: $(grep NVRTC "$RES/configure.log")"
  targets=(azc azc_gpu_check)
  [ $mode = standin ] && targets+=(azc_cuda_standin)
  cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" > "$RES/build.log" 2>&1 ||
    { tail -30 "$RES/build.log"; die "build failed ($RES/build.log)"; }
fi
AZC=$BUILD/cli/azc
CHECK=$BUILD/azc_gpu_check
[ -x "$AZC" ] && [ -x "$CHECK" ] || die "no $AZC or $CHECK"
STANDIN_MODULES=0
[ $mode = standin ] || [ "${AZC_CHECK_STANDIN_MODULES:-0}" = 1 ] && STANDIN_MODULES=1
if [ $mode = standin ]; then
  STANDIN=$BUILD/libazc_cuda_standin.so
  [ -f "$STANDIN" ] || die "no $STANDIN"
  export AZC_LIBCUDA=$STANDIN
fi
if [ $STANDIN_MODULES = 1 ]; then
  CXX=${AZC_EMU_CXX:-$(command -v clang++-19 || command -v clang++)}
  [ -n "$CXX" ] || die "--standin needs clang++ (the stand-in's modules are host builds)"
fi
export AZC_CACHE_DIR=$W/cache

# ---------------------------------------------------------------- models
phase models
M=$W/models
mkdir -p "$M"
models=() # name=path
if [ $mode = standin ]; then
  for spec in ${AZC_CHECK_MODELS:-tiny-llama:q8_0}; do
    shape=${spec%%:*} type=${spec#*:}
    f=$M/$shape-$type.gguf
    "$AZC" mkmodel --shape "$shape" --type "$type" -o "$f" > /dev/null 2>&1 || fail "mkmodel $spec"
    models+=("$f")
  done
else
  # the bench model, TinyLlama-1.1B's shape as Q4_K_M, is written while the
  # small models compile (about half a minute of one core for mkmodel)
  TLS=${AZC_CHECK_BENCH_SHAPE:-tinyllama-1.1b}
  TL=$M/$TLS-q4_k_m.gguf
  vocab=()
  [ -f "$CARRY/ggml-vocab-llama-spm.gguf" ] && [ "$TLS" = tinyllama-1.1b ] &&
    vocab=(--vocab-from "$CARRY/ggml-vocab-llama-spm.gguf")
  ("$AZC" mkmodel --shape "$TLS" --type f16 "${vocab[@]}" -o "$M/$TLS-f16.gguf" > /dev/null 2>&1 &&
    "$AZC" quantize "$M/$TLS-f16.gguf" "$TL" --type q4_k_m -t "$JOBS" > /dev/null 2>&1 &&
    rm -f "$M/$TLS-f16.gguf") || echo "$TLS q4_k_m" > "$M/failed.tl" &
  TL_PID=$!
  mpids=()
  # llama, gpt2 and every other architecture, small; every weight type the kernels
  # decode; qwen3/gemma3 (q/k norms), gemma2/3 (GeGLU, soft-capped sliding-window
  # attention), phi3 (attn_factor, one gate|up tensor)
  for spec in ${AZC_CHECK_DEVICE_MODELS:-tiny-llama:f32 tiny-llama:f16 tiny-llama:bf16 \
    tiny-llama:q8_0 tiny-llama:q4_0 tiny-llama:q4_k tiny-llama:q6_k tiny-gpt2:q8_0 tiny-gpt2:f32 \
    tiny-qwen2:q8_0 tiny-starcoder2:q8_0 tiny-llama3:q6_k tiny-qwen3:q8_0 tiny-gemma2:q8_0 \
    tiny-gemma3:q4_k tiny-phi3:q8_0}; do
    shape=${spec%%:*} type=${spec#*:}
    f=$M/$shape-$type.gguf
    ("$AZC" mkmodel --shape "$shape" --type "$type" -o "$f" > /dev/null 2>&1 || echo "mkmodel $spec" >> "$M/failed") &
    mpids+=($!)
    models+=("$f")
  done
  # quantized by azc quantize (its K-quant mixes), from f16
  QUANT=${AZC_CHECK_QUANT:-q4_k_m q5_k_s q5_0 q5_1 q4_1}
  [ "$QUANT" = none ] && QUANT=""
  [ -n "$QUANT" ] && "$AZC" mkmodel --shape llama-160m --type f16 -o "$M/llama-160m-f16.gguf" > /dev/null 2>&1 &&
    for q in $QUANT; do
      "$AZC" quantize "$M/llama-160m-f16.gguf" "$M/llama-160m-$q.gguf" --type $q -t "$JOBS" > /dev/null 2>&1 ||
        echo "quantize llama-160m $q" >> "$M/failed"
    done &
  mpids+=($!)
  for q in $QUANT; do models+=("$M/llama-160m-$q.gguf"); done
  if [ "${AZC_CHECK_SHARED:-1}" = 1 ]; then
    for f in "$CARRY"/models/*.gguf; do [ -f "$f" ] && models+=("$f"); done
  fi
  for p in "${mpids[@]}"; do wait "$p"; done
  [ -f "$M/failed" ] && { while read -r l; do fail "$l"; done < "$M/failed"; rm -f "$M/failed"; }
fi
ls -l "$M" | tee "$RES/models.txt"

# ---------------------------------------------------------------- compile
phase compile
B=$W/bundles
mkdir -p "$B"
compile_one() {
  local f=$1 out=$B/$(basename "$1" .gguf).bundle
  if "$AZC" compile "$f" -o "$out" --gpu-arch "$ARCH" -ngl 99 -j 2 > "$out.log" 2>&1; then
    grep -E 'nvrtc|total' "$out.log" | tr -s ' ' | sed "s|^|$(basename "$f"): |"
  else
    echo "FAILED compile $(basename "$f"): $(tail -1 "$out.log")"
  fi
}
compile_models() { # half the cores' worth at a time, -j 2 each
  local pids=() f p
  for f in "$@"; do
    [ -f "$f" ] || continue
    compile_one "$f" > "$B/$(basename "$f" .gguf).summary" &
    pids+=($!)
    if [ ${#pids[@]} -ge $((JOBS / 2 > 0 ? JOBS / 2 : 1)) ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for f in "$@"; do
    local sum=$B/$(basename "$f" .gguf).summary
    [ -f "$sum" ] || continue
    tee -a "$RES/compile.txt" < "$sum"
    while read -r l; do fail "$l"; done < <(grep -h '^FAILED' "$sum")
  done
}
compile_models "${models[@]}"
if [ -n "${TL_PID:-}" ]; then
  phase tinyllama # its model (written meanwhile), then its bundle
  wait "$TL_PID"
  [ -f "$M/failed.tl" ] && fail "$(cat "$M/failed.tl")"
  ls -l "$TL" | tee -a "$RES/models.txt"
  models+=("$TL")
  compile_models "$TL"
fi

if [ $STANDIN_MODULES = 1 ]; then
  phase modules # the stand-in's host builds of each bundle's CUDA source
  export AZC_STANDIN_MODULES=$W/modules
  for f in "${models[@]}"; do
    b=$B/$(basename "$f" .gguf).bundle
    [ -f "$b" ] && { "$CHECK" modules "$b" "$AZC_STANDIN_MODULES" "$CXX" "$SRC" || fail "modules $b"; }
  done
fi

# ---------------------------------------------------------------- compare
phase compare
for f in "${models[@]}"; do
  b=$B/$(basename "$f" .gguf).bundle
  [ -f "$b" ] || continue
  steps=8 prompt=16
  [ "$f" = "${TL:-}" ] && steps=4
  if "$CHECK" compare "$f" "$b" --min-cos "$MIN_COS" --prompt $prompt --steps $steps \
    > "$b.compare" 2> "$b.compare.err"; then
    cat "$b.compare" | tee -a "$RES/compare.txt"
  else
    cat "$b.compare" >> "$RES/compare.txt"
    fail "compare $(basename "$f"): $(tail -1 "$b.compare.err") $(cat "$b.compare")"
  fi
done
# the CLI path: azc run with the placement line, graphs on and off give the same text
first=$B/$(basename "${models[0]}" .gguf).bundle
if [ -f "$first" ]; then
  run_a=$("$AZC" run "$first" -p "Once upon a time" -n 8 --temp 0 --ignore-eos 2> "$RES/run.err")
  st=$?
  run_b=$(AZC_CUDA_GRAPHS=0 "$AZC" run "$first" -p "Once upon a time" -n 8 --temp 0 --ignore-eos 2> /dev/null)
  grep -m1 '^offload: .* layers on cuda0' "$RES/run.err" | tee -a "$RES/compare.txt" ||
    fail "azc run $first printed no placement line: $(tail -2 "$RES/run.err")"
  [ $st -eq 0 ] && [ "$run_a" = "$run_b" ] || fail "azc run $first: graphs on/off differ or failed"
  # a GPU-only bundle refuses a CPU placement with one line
  "$AZC" run "$first" -p "x" -n 1 -ngl 0 > /dev/null 2> "$RES/ngl0.err" &&
    fail "azc run -ngl 0 of a GPU-only bundle did not refuse"
  grep -q 'GPU code only' "$RES/ngl0.err" || fail "-ngl 0: $(cat "$RES/ngl0.err")"
fi

# ---------------------------------------------------------------- bench
if [ $mode = device ] || [ "${AZC_CHECK_BENCH:-0}" = 1 ]; then
  phase bench
  if [ $mode = device ]; then
    bm=$TL
    read -r -a bargs <<< "${AZC_CHECK_BENCH_ARGS:--r 3}"
  else
    bm=${models[0]} bargs=(-r 1 -p 8 -n 4)
  fi
  if [ -f "$bm" ]; then
    "$AZC" bench "$bm" -ngl 99 --gpu-arch "$ARCH" --no-eager "${bargs[@]}" \
      > "$RES/bench.md" 2> "$RES/bench.err" || fail "bench: $(tail -3 "$RES/bench.err")"
    cat "$RES/bench.md"
    grep -q '^| placement | 0/' "$RES/bench.md" && fail "bench ran with no layer on the GPU"
  else
    fail "no bench model $bm"
  fi
fi
phase

total=$(awk -v a="$(now)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }')
{
  echo "# azc device check ($mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo '```'
  cat "$RES/machine.txt"
  echo '```'
  echo
  echo "## Phases (total $total s)"
  echo '```'
  cat "$RES/phases.txt"
  echo '```'
  echo
  echo "## GPU logits vs the eager interpreter (min cosine $MIN_COS)"
  echo '```'
  cat "$RES/compare.txt"
  echo '```'
  if [ -f "$RES/bench.md" ]; then
    echo
    cat "$RES/bench.md"
  fi
  echo
  echo "## Failures: $failures"
  cat "$RES/failures.txt"
} > "$RES/figures.md"
echo "check.sh: $mode: $failures failures, $total s; figures in $RES/figures.md"
[ $failures -eq 0 ]
