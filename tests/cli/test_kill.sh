#!/usr/bin/env bash
# Crash safety: `azc compile` killed with SIGKILL at 20 random moments
# (uniform over a cold compile's time for the first 5, over 1.5 x a warm
# compile's for the rest) into one kernel cache, with
# an older bundle already at the output path. After every kill:
#   - the output is the old bundle, intact, or the whole new one (the kill
#     came after the rename), never anything else;
#   - a temp file left behind is refused by the bundle reader (and the next
#     compile into that path removes it);
#   - every cache entry is whole (azc cache info --list reads each one).
# Afterwards the next compile reuses every complete cache entry (its hits,
# kernels and repacked weights, equal the entries on disk), rebuilds none as damaged, and gives the same
# bytes as a clean compile. A cache entry cut short on purpose is refused and
# rebuilt. Two compiles of the same model into one empty cache at once both
# succeed with identical bundles.
# usage: test_kill.sh AZC   (AZC_KILL_SEED=N repeats a run's moments)
set -u
azc=$(realpath "$1")
dir=${AZC_TEST_TMP:-/tmp/azc-test-kill}
rm -rf "$dir"
mkdir -p "$dir"
seed=${AZC_KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$seed
echo "seed $seed (AZC_KILL_SEED=$seed repeats these moments)"
fails=0
fail() {
  echo "FAIL $*"
  fails=$((fails + 1))
}
now_ms() { date +%s%3N; }
entries() { find "$1" -name '*.azk' -type f 2>/dev/null | wc -l; }

"$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/m.gguf" 2>/dev/null || exit 1
# the reference: a clean compile
t0=$(now_ms)
AZC_CACHE_DIR=$dir/ref-cache "$azc" compile "$dir/m.gguf" -o "$dir/ref.bundle" -j 2 >/dev/null 2>&1 || exit 1
clean_ms=$(($(now_ms) - t0))
echo "clean compile: $clean_ms ms"
# the older bundle at the output path: same model, other stored defaults (a warm compile)
t0=$(now_ms)
AZC_CACHE_DIR=$dir/ref-cache "$azc" compile "$dir/m.gguf" -o "$dir/old.bundle" -n 7 >/dev/null 2>&1 || exit 1
warm_ms=$(($(now_ms) - t0))
echo "warm compile: $warm_ms ms"
cmp -s "$dir/old.bundle" "$dir/ref.bundle" && { echo "FAIL the old bundle should differ"; exit 1; }
cp "$dir/old.bundle" "$dir/out.bundle"

cache=$dir/cache
export AZC_CACHE_DIR=$cache
completed=0
for i in $(seq 1 20); do
  # kills 1-5 over a cold compile (kernels being built and stored), the rest over
  # a warm one (the cache fills as kills go by: weights and the bundle write)
  span=$clean_ms
  [ "$i" -gt 5 ] && span=$((warm_ms * 3 / 2))
  delay=$(((RANDOM * 32768 + RANDOM) % (span + 1)))
  "$azc" compile "$dir/m.gguf" -o "$dir/out.bundle" -j 2 >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  rc=$?
  state=killed
  [ $rc -eq 0 ] && state=finished && completed=$((completed + 1))
  if cmp -s "$dir/out.bundle" "$dir/old.bundle"; then
    out=old
  elif cmp -s "$dir/out.bundle" "$dir/ref.bundle"; then
    out=new
    cp "$dir/old.bundle" "$dir/out.bundle" # the next kill again has an old output to keep
  else
    out=DAMAGED
    fail "kill $i at $delay ms: the output is neither the old bundle nor the new one"
  fi
  for t in "$dir"/out.bundle.tmp.*; do
    [ -e "$t" ] || continue
    if "$azc" inspect "$t" >/dev/null 2>&1; then
      fail "kill $i: the reader accepted the partial bundle $t"
    fi
    touch -d '-2 minutes' "$t" # as if left long ago: the next writer removes it
  done
  if ! "$azc" cache info --list >"$dir/list" 2>&1; then
    fail "kill $i: cache info --list: $(cat "$dir/list")"
  fi
  if grep -q 'INVALID' "$dir/list"; then
    fail "kill $i: a damaged cache entry: $(grep INVALID "$dir/list" | head -1)"
  fi
  echo "kill $i at $delay ms: $state, output $out, $(entries "$cache") cache entries"
done
echo "$completed of 20 compiles finished before their kill"

n=$(entries "$cache")
log=$("$azc" compile "$dir/m.gguf" -o "$dir/out.bundle" -j 2 2>&1) || fail "compile after the kills: $log"
kernel_hits=$(sed -n 's/.*distinct kernels: \([0-9]*\) from the cache.*/\1/p' <<<"$log")
weight_hits=$(sed -n 's/.*target layouts: \([0-9]*\) from the cache.*/\1/p' <<<"$log")
hits=$((kernel_hits + ${weight_hits:-0}))
echo "after the kills: $n entries on disk, $hits read from the cache"
[ "$hits" = "$n" ] || fail "the compile after the kills read $hits entries; $n complete ones were on disk"
grep -q "damaged cache entries rebuilt" <<<"$log" && fail "a cache entry was damaged by a kill"
cmp -s "$dir/out.bundle" "$dir/ref.bundle" || fail "the compile after the kills differs from a clean compile"
left=$(find "$dir" -maxdepth 1 -name 'out.bundle.tmp.*' | wc -l)
[ "$left" -eq 0 ] || fail "$left temp files of killed compiles are still next to out.bundle"

# a cache entry cut short (as a crash without rename would leave it) is refused and rebuilt
victim=$(find "$cache" -name '*.azk' -type f | head -1)
size=$(stat -c %s "$victim")
truncate -s $((size / 2)) "$victim"
log=$("$azc" compile "$dir/m.gguf" -o "$dir/again.bundle" -j 2 2>&1) || fail "compile with a cut entry: $log"
grep -q "damaged cache entries rebuilt" <<<"$log" || fail "a cache entry cut to $((size / 2)) of $size bytes was not refused"
cmp -s "$dir/again.bundle" "$dir/ref.bundle" || fail "the compile over a cut cache entry differs from a clean compile"

# two compiles into one empty cache at once
export AZC_CACHE_DIR=$dir/shared-cache
"$azc" compile "$dir/m.gguf" -o "$dir/c1.bundle" -j 2 >"$dir/c1.log" 2>&1 &
p1=$!
"$azc" compile "$dir/m.gguf" -o "$dir/c2.bundle" -j 2 >"$dir/c2.log" 2>&1 &
p2=$!
wait $p1 || fail "concurrent compile 1: $(tail -1 "$dir/c1.log")"
wait $p2 || fail "concurrent compile 2: $(tail -1 "$dir/c2.log")"
cmp -s "$dir/c1.bundle" "$dir/c2.bundle" || fail "the two concurrent compiles differ"
cmp -s "$dir/c1.bundle" "$dir/ref.bundle" || fail "the concurrent compiles differ from a clean one"
[ $fails -eq 0 ] && echo "ok   20 kills, the compile after them, a cut entry, two compiles at once"
[ $fails -eq 0 ]
