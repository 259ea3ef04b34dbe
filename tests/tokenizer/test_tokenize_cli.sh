#!/usr/bin/env bash
# `azc tokenize` on vocab-only GGUF files of no architecture azc knows:
# `azc mkmodel --vocab-from-json` writes them from two small tokenizer.json
# files in data/ (a byte-level BPE with Qwen2's pre-tokenizer and a Gemma-like
# SentencePiece BPE with byte fallback); the expected ids are those of the
# JavaScript tokenizer (transformers.js, @lenml/tokenizers 3.7.2) on the same
# files. Then the shared vocabularies of architectures azc cannot lower (phi3,
# mpt, falcon), when ../shared is there. Bad input: one error line, exit 1.
# usage: test_tokenize_cli.sh AZC DATA_DIR SHARED_DIR
set -u
azc=$1 data=$2 shared=$3
dir=${AZC_TEST_TMP:-/tmp/azc-test-tokenize-cli}
mkdir -p "$dir"
fails=0
check() { # name, then a command that must succeed
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
ids() { # name, expected ids, then azc tokenize arguments
  local name=$1 want=$2; shift 2
  local got
  got=$("$azc" tokenize "$@" 2>&1)
  if [ "$got" = "$want" ]; then echo "ok   $name"; else
    echo "FAIL $name"; echo "  want: $want"; echo "  got:  $got"; fails=$((fails + 1)); fi
}
err_one_line() { # a command that must fail with exit 1 and one "azc: error:" line naming $1
  local needle=$1; shift
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] && [ "$(echo "$out" | grep -c '^azc: error:')" -eq 1 ] && echo "$out" | grep -q -- "$needle" \
    || { echo "  got rc=$rc: $out"; return 1; }
}

bpe=$dir/tiny-bpe.gguf spm=$dir/tiny-spm.gguf
out=$("$azc" mkmodel --vocab-from-json "$data/tiny-bpe/tokenizer.json" -o "$bpe" 2>&1)
check "vocab from tokenizer.json: byte-level BPE, Qwen2 regex" \
  grep -q "vocabulary only: gpt2, pre 'qwen2', 281 tokens, 3 added, 21 merges" <<<"$out"
ids "bpe: words and merges" "259 264" "$bpe" "hello world"
ids "bpe: qwen2 splits digits one by one" "268 44 271 272 97 33 32 49 50 32 256 276" \
  "$bpe" "Salam, dünya! 12 he's"
ids "bpe: user-defined always split, control only with --special" \
  "120 121 60 124 105 109 95 101 110 100 124 62 280 259 60 124 101 110 100 111 102 116 101 120 116 124 62" \
  "$bpe" "xy<|im_end|><think>hello<|endoftext|>"
ids "bpe: --special" "120 121 278 280 259 277" "$bpe" "xy<|im_end|><think>hello<|endoftext|>" --special
ids "bpe: newlines and spaces" "268 271 272 97 10 10 32 32 268" "$bpe" $'Salam dünya\n\n  Salam'

out=$("$azc" mkmodel --vocab-from-json "$data/tiny-spm/tokenizer.json" -o "$spm" 2>&1)
check "vocab from tokenizer.json: SentencePiece BPE" \
  grep -q "vocabulary only: llama, pre 'default', 288 tokens, 8 added, 13 merges" <<<"$out"
ids "spm: no space prefix, user-defined newline and double space" "277 282 272 272 273 277" \
  "$spm" $'Salam dünya\n\n  Salam'
ids "spm: byte fallback" "108 105 264 264 115 260 123 115 118 264 269" "$spm" "hello world"
ids "spm: specials" "261 262 263 260 199 181 260 286 121 267 105 118 272 277 287" \
  "$spm" $'abc ñ <start_of_turn>user\nSalam<end_of_turn>' --special
ids "spm: --bos adds <bos>" "2 277 282" "$spm" "Salam dünya" --bos

# refusals
sed 's/\\\\p{N}|/\\\\p{N}{1,2}|/' "$data/tiny-bpe/tokenizer.json" >"$dir/odd.json"
check "unrecognised pre-tokenizer refused" err_one_line "pre-tokenizer not recognized" \
  "$azc" mkmodel --vocab-from-json "$dir/odd.json" -o "$dir/odd.gguf"
check "no half-written GGUF after a refusal" test ! -e "$dir/odd.gguf"
python3 - "$bpe" "$dir/qwen9.gguf" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
assert d.count(b"qwen2") == 1
open(sys.argv[2], "wb").write(d.replace(b"qwen2", b"qwen9"))
PY
check "unknown tokenizer.ggml.pre refused by name" err_one_line "unknown pre-tokenizer type: 'qwen9'" \
  "$azc" tokenize "$dir/qwen9.gguf" x
python3 -c "import struct,sys; open(sys.argv[1],'wb').write(b'GGUF'+struct.pack('<IQQ',3,0,0))" "$dir/empty.gguf"
check "a file without a tokenizer" err_one_line "has no tokenizer" "$azc" tokenize "$dir/empty.gguf" x
check "not a GGUF file" err_one_line "not a GGUF file" "$azc" tokenize "$dir/odd.json" x

# architectures azc cannot lower, vocabulary only
if [ -d "$shared/vocab" ]; then
  v=$shared/vocab
  ids "phi3 (llama.cpp's ids)" "15043 3186 29871 529 29989 1792 29989 29958 921" \
    "$v/ggml-vocab-phi-3.gguf" "Hello world  <|user|> x"
  ids "phi3 --special: rstrip after <|user|>" "15043 3186 259 32010 921" \
    "$v/ggml-vocab-phi-3.gguf" "Hello world  <|user|> x" --special
  ids "mpt: user-defined runs of spaces" "12092 1533 50276 29 93 4537 49651 1269" \
    "$v/ggml-vocab-mpt.gguf" "Hello world  <|user|> x"
  ids "falcon" "9856 1079" "$v/ggml-vocab-falcon.gguf" "Hello world"
else
  echo "SKIPPED the ../shared/vocab checks: ../shared is absent"
fi
echo "$fails failed"
exit $((fails > 0))
