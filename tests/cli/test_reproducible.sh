#!/usr/bin/env bash
# Reproducible bundles: a bundle is a pure function of the model, the options,
# the azc version and the target. The same model compiled with an empty
# cache, with a warm one, with -j 1 and -j 2, without the cache, from another
# folder, at another time, and with other bytes in freshly allocated memory
# (ASan's malloc_fill_byte, glibc's MALLOC_PERTURB_: uninitialised padding
# would show) gives the same bytes; SOURCE_DATE_EPOCH is the only time a
# bundle holds.
# usage: test_reproducible.sh AZC
set -u
azc=$(realpath "$1")
dir=${AZC_TEST_TMP:-/tmp/azc-test-reproducible}
rm -rf "$dir"
mkdir -p "$dir/elsewhere"
fails=0
check() { # name, then a command that must succeed
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
compile() { # compile CACHE OUT [args...]
  local cache=$1 out=$2
  shift 2
  AZC_CACHE_DIR=$cache "$azc" compile "$dir/m.gguf" -o "$out" "$@" >"$out.log" 2>&1 ||
    { echo "compile failed:"; cat "$out.log"; return 1; }
}

"$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/m.gguf" 2>/dev/null || { echo "FAIL mkmodel"; exit 1; }
compile "$dir/c1" "$dir/cold-j1.bundle" -j 1 || exit 1
check "cold compile built its kernels" grep -q ": 0 from the cache" "$dir/cold-j1.bundle.log"
sleep 1.1 # a clock in the bundle would now read another second
compile "$dir/c1" "$dir/warm-j2.bundle" -j 2
check "warm compile read every kernel from the cache" grep -q ", 0 compiled" "$dir/warm-j2.bundle.log"
compile "$dir/c2" "$dir/cold-j2.bundle" -j 2
compile "$dir/c1" "$dir/warm-j1.bundle" -j 1
compile "$dir/c3" "$dir/nocache.bundle" --no-cache -j 2
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}malloc_fill_byte=165 MALLOC_PERTURB_=90 \
  compile "$dir/c4" "$dir/perturbed.bundle" -j 2
cp "$dir/m.gguf" "$dir/elsewhere/m.gguf"
(cd "$dir/elsewhere" && AZC_CACHE_DIR=$dir/c5 "$azc" compile m.gguf -o out.bundle -j 2 >/dev/null 2>&1)
for b in warm-j2 cold-j2 warm-j1 nocache perturbed; do
  check "$b = cold -j 1, byte for byte" cmp "$dir/cold-j1.bundle" "$dir/$b.bundle"
done
check "compiled in another folder = cold -j 1" cmp "$dir/cold-j1.bundle" "$dir/elsewhere/out.bundle"
SOURCE_DATE_EPOCH=1700000000 compile "$dir/c1" "$dir/sde1.bundle"
sleep 1.1
SOURCE_DATE_EPOCH=1700000000 compile "$dir/c2" "$dir/sde2.bundle" -j 1
check "SOURCE_DATE_EPOCH: two compiles equal" cmp "$dir/sde1.bundle" "$dir/sde2.bundle"
check "SOURCE_DATE_EPOCH is stored (the bundle differs)" bash -c "! cmp -s '$dir/sde1.bundle' '$dir/cold-j1.bundle'"
check "SOURCE_DATE_EPOCH: 1700000000 in the meta section" \
  python3 -c "import sys; sys.exit(0 if (1700000000).to_bytes(8, 'little') in open(sys.argv[1], 'rb').read() else 1)" "$dir/sde1.bundle"
echo "bundle: $(stat -c %s "$dir/cold-j1.bundle") bytes, $(sha256sum "$dir/cold-j1.bundle" | cut -c1-16)"
[ $fails -eq 0 ]
