#!/usr/bin/env bash
# End to end through the azc binary, on a model azc writes itself:
# mkmodel -> compile (kernels built, then all from the cache) -> run the
# bundle, -> run the GGUF (eager and compiled) -> the example program on the
# public runtime API gives the same greedy text -> inspect shows the bundle's
# sections and kernels; bad input is one error line and exit 1, never a crash.
# usage: test_cli.sh AZC AZRT_MINIMAL
set -u
azc=$1 minimal=$2
dir=${AZC_TEST_TMP:-/tmp/azc-test-cli}
mkdir -p "$dir"
export AZC_CACHE_DIR=$dir/cache
rm -rf "$AZC_CACHE_DIR"
fails=0
check() { # name, then a command that must succeed
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
err_one_line() { # a command that must fail with exit 1 and one "azc: error:" line naming $1
  local needle=$1; shift
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] && [ "$(echo "$out" | grep -c '^azc: error:')" -eq 1 ] && echo "$out" | grep -q -- "$needle" \
    || { echo "  got rc=$rc: $out"; return 1; }
}

check mkmodel "$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/m.gguf"
out=$("$azc" compile "$dir/m.gguf" -o "$dir/m.bundle" -c 128 --temp 0 -n 12 2>&1)
check "compile builds kernels" grep -q "0 from the cache" <<<"$out"
echo "$out" | grep -E "ops (before|after)|kernels|total" | sed 's/^/  /'
out=$("$azc" compile "$dir/m.gguf" -o "$dir/m2.bundle" 2>&1)
check "second compile: every kernel from the cache" grep -q ", 0 compiled" <<<"$out"
check "bundle written atomically (no temp files left)" bash -c "! ls '$dir' | grep -q tmp"

text_bundle=$("$azc" run "$dir/m.bundle" -p "Salam, dünya" 2>/dev/null)
text_gguf=$("$azc" run "$dir/m.gguf" -p "Salam, dünya" -n 12 --temp 0 2>/dev/null)
text_eager=$("$azc" run "$dir/m.gguf" -p "Salam, dünya" -n 12 --temp 0 --eager 2>/dev/null)
# examples/minimal writes each token's raw bytes; azc repairs ill-formed UTF-8 (U+FFFD per
# maximal subpart, as Python's "replace" decoder does)
text_min=$("$minimal" "$dir/m.bundle" "Salam, dünya" 12 2>/dev/null |
  python3 -c 'import sys; sys.stdout.write(sys.stdin.buffer.read().decode("utf-8", "replace"))')
check "bundle defaults (temp 0, n 12) = compiled GGUF run" test "$text_bundle" = "$text_gguf"
check "compiled = eager" test "$text_gguf" = "$text_eager"
check "examples/minimal (azrt.h only) = azc run" test "$text_min" = "$text_bundle"
json=$("$azc" run "$dir/m.bundle" -p "Salam" -n 5 --json 2>/dev/null)
check "run --json" python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert len(d['tokens'])==5 and d['timings']['gen_tokens_per_s']>0" "$json"
# speculative decoding: the same greedy text, drafts in the JSON and the summary
text_long=$("$azc" run "$dir/m.bundle" -p "Salam, dünya" -n 40 2>/dev/null)
text_lookup=$("$azc" run "$dir/m.bundle" -p "Salam, dünya" -n 40 --draft lookup --draft-max 4 2>/dev/null)
text_draftm=$("$azc" run "$dir/m.bundle" -p "Salam, dünya" -n 40 --draft "$dir/m2.bundle" 2>/dev/null)
text_draftg=$("$azc" run "$dir/m.bundle" -p "Salam, dünya" -n 40 --draft "$dir/m.gguf" 2>/dev/null)
check "--draft lookup = plain" test "$text_lookup" = "$text_long"
check "--draft BUNDLE = plain" test "$text_draftm" = "$text_long"
check "--draft GGUF (no hand-over to azc-run) = plain" test "$text_draftg" = "$text_long"
json=$("$azc" run "$dir/m.bundle" -p "Salam" -n 30 --draft lookup --json 2>/dev/null)
check "run --draft --json" python3 -c "import json,sys; d=json.loads(sys.argv[1])['timings']['draft']; assert d['drafter']=='lookup' and d['draft_max']==8 and d['passes']>0 and 0<=d['acceptance_rate']<=1 and d['tokens_per_pass']>=1" "$json"
check "--draft summary line" bash -c "'$azc' run '$dir/m.bundle' -p Salam -n 8 --draft lookup 2>&1 >/dev/null | grep -q 'tokens per pass'"
check "--draft-max 0 refused" err_one_line "--draft-max" "$azc" run "$dir/m.bundle" -p x --draft lookup --draft-max 0
"$azc" mkmodel --shape tiny-gpt2 --type q8_0 -o "$dir/g.gguf" >/dev/null 2>&1
check "--draft with another vocabulary refused" err_one_line "vocabulary" "$azc" run "$dir/m.gguf" -p x -c 64 --draft "$dir/g.gguf"
# a Modelfile's DRAFT becomes the bundle's draft model; --no-draft runs without it
export AZC_HOME=$dir/home
printf 'FROM ./m.gguf\nDRAFT ./m.gguf\nPARAMETER temperature 0\n' > "$dir/Modelfile"
check "create with DRAFT" bash -c "'$azc' create drafted -f '$dir/Modelfile' >/dev/null 2>&1"
json=$("$azc" run drafted -p "Salam" -n 20 --json 2>/dev/null)
check "DRAFT: run drafts with the draft model" python3 -c "import json,sys; d=json.loads(sys.argv[1])['timings']['draft']; assert d['drafter']=='model' and d['accepted']>0" "$json"
json_plain=$("$azc" run drafted -p "Salam" -n 20 --json --no-draft 2>/dev/null)
check "DRAFT: --no-draft runs plain, same tokens" python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); assert 'draft' not in b['timings'] and a['tokens']==b['tokens']" "$json" "$json_plain"
insp=$("$azc" inspect "$dir/m.bundle")
check "inspect bundle: sections" grep -q "weights" <<<"$insp"
check "inspect bundle: kernels and keys" grep -qE "azk_[0-9a-f]{32}" <<<"$insp"
check "inspect --ir --after" bash -c "'$azc' inspect '$dir/m.gguf' --ir --after fuse-attention | grep -q flash_attn"
check "cache info" bash -c "'$azc' cache info | grep -q kernels"

# bad input: one line, exit 1
check "missing file" err_one_line "nope.gguf" "$azc" run "$dir/nope.gguf" -p x
head -c 100 "$dir/m.gguf" > "$dir/cut.gguf"
check "truncated gguf" err_one_line "cut.gguf" "$azc" inspect "$dir/cut.gguf"
head -c 5000 "$dir/m.bundle" > "$dir/cut.bundle"
check "truncated bundle" err_one_line "cut.bundle" "$azc" run "$dir/cut.bundle" -p x
check "unknown option" err_one_line "--bogus" "$azc" run "$dir/m.gguf" -p x --bogus
check "bad number" err_one_line "--temp" "$azc" run "$dir/m.gguf" -p x --temp abc
check "unknown target cpu" err_one_line "pentium" "$azc" compile "$dir/m.gguf" -o "$dir/x.bundle" --target-cpu pentium
check "no half-written bundle after a failed compile" test ! -e "$dir/x.bundle"
check "cache clear" bash -c "'$azc' cache clear | grep -q removed"
echo "$fails failed"
exit $((fails > 0))
