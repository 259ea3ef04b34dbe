#!/usr/bin/env bash
# The Modelfile front door through the azc binary: `azc create NAME -f
# Modelfile` into a model store ($AZC_HOME/models), `azc list`, `azc show
# [--modelfile | --parameters]`, `azc rm`, `azc compile Modelfile -o`, FROM a
# GGUF relative to the Modelfile, a bundle or a store name; PARAMETERs become
# the bundle's defaults (num_ctx the context, num_gpu the GPU layers); the
# GGUF's chat template is detected and `azc inspect` names its kind (builtin
# NAME, jinja with why it is not a builtin, or refused naming the construct;
# GGUF and bundle); bad Modelfiles are exit 1 with one line naming file, line and word,
# and write nothing.
# usage: test_create_cli.sh AZC TEMPLATES_DIR
set -u
azc=$(realpath "$1") templates=$2
dir=${AZC_TEST_TMP:-/tmp/azc-test-create}
rm -rf "$dir"
mkdir -p "$dir/mf" "$dir/elsewhere"
export AZC_CACHE_DIR=$dir/cache AZC_HOME=$dir/home
unset XDG_DATA_HOME
fails=0
check() { # name, then a command that must succeed
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$1" <<<"$2" || { echo "  missing '$1' in:"; sed 's/^/    /' <<<"$2" | head -40; return 1; }; }
phi=$templates/microsoft-Phi-3.5-mini-instruct.jinja
if [ ! -f "$phi" ]; then echo "SKIP: $templates (../shared) missing"; exit 77; fi

check mkmodel "$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/mf/m.gguf" --chat-template "$phi"
cp "$templates/Qwen-Qwen2.5-7B-Instruct.jinja" "$dir/qwen.jinja"
check "mkmodel (jinja template)" "$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/mf/q.gguf" --chat-template "$dir/qwen.jinja"
# a planted construct azc's evaluator does not have, in a branch no conversation reaches
printf '%s' "{% if tools %}{{ tools | wordwrap(40) }}{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" > "$dir/bad.jinja"
check "mkmodel (refused template)" "$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/mf/r.gguf" --chat-template "$dir/bad.jinja"
out=$("$azc" inspect "$dir/mf/m.gguf")
check "inspect GGUF names the detected template" has "chat template: builtin phi3 (the GGUF's" "$out"
check "inspect GGUF: the template's stop strings" has "stop strings: '<|end|>'" "$out"
out=$("$azc" inspect "$dir/mf/q.gguf")
check "inspect GGUF: a template azc evaluates" has "chat template: jinja (evaluated by azc" "$out"
check "inspect GGUF: why it is not a builtin" has "not a builtin: the template renders differently from llama.cpp's chatml format" "$out"
check "inspect GGUF: the jinja kind keeps its heuristic format's stop strings" has "stop strings: '<|im_start|>' '<|im_end|>'" "$out"
# the kind is stored in the bundle's chat section: azc show and azc inspect of the bundle name it
printf 'FROM ./q.gguf\n' > "$dir/mf/Qwen"
check "create (jinja template)" "$azc" create qj -f "$dir/mf/Qwen"
out=$("$azc" show qj)
check "show: the jinja kind" has "jinja (the GGUF's, evaluated by azc)" "$out"
check "show: why it is not a builtin" has "not a builtin       the template renders differently" "$out"
out=$("$azc" inspect "$dir/home/models/qj:latest.bundle")
check "inspect bundle: the jinja kind" has "chat template: jinja (evaluated by azc" "$out"
"$azc" rm qj >/dev/null
out=$("$azc" inspect "$dir/mf/r.gguf")
check "inspect GGUF: a refused template names the construct" has "chat template: refused" "$out"
check "inspect GGUF: ... the filter wordwrap" has "the filter 'wordwrap'" "$out"

cat > "$dir/mf/Modelfile" <<'MF'
# comment at the start of a line
from ./m.gguf
PARAMETER num_ctx 200
parameter temperature 0
PARAMETER num_gpu 99
PARAMETER num_thread 2
PARAMETER seed 7
PARAMETER stop "<|end|>"
PARAMETER stop User:
PARAMETER penalize_newline true
SYSTEM """You are terse.
Two lines # not a comment."""
MESSAGE user Hi
MESSAGE assistant Hello!
LICENSE MIT
REQUIRES 0.0.1
MF
# run from another folder: FROM is relative to the Modelfile, not the cwd
out=$(cd "$dir/elsewhere" && "$azc" create tiny -f ../mf/Modelfile 2>&1); rc=$?
check "create: exit 0" test $rc -eq 0
check "create: deprecated parameter warns with file and line" has "Modelfile:10: parameter penalize_newline is deprecated" "$out"
check "create: the bundle is in \$AZC_HOME/models" test -f "$dir/home/models/tiny:latest.bundle"
list=$("$azc" list)
check "list" has "tiny:latest" "$list"
show=$("$azc" show tiny)
check "show: template" has "phi3" "$show"
check "show: parameters" has "num_ctx        200" "$show"
check "show: system" has "You are terse." "$show"
check "show: license" has "MIT" "$show"
params=$("$azc" show tiny --parameters)
check "show --parameters: stop strings quoted" has 'stop           "User:"' "$params"
insp=$("$azc" inspect "$dir/home/models/tiny:latest.bundle")
check "PARAMETERs are the bundle's defaults (num_ctx = ctx, num_gpu = gpu layers)" \
  has "temp 0, top-k 50, top-p 0.9, min-p 0, typical-p 1, repeat-penalty 1 (last 64), presence 0, frequency 0, n 128, ctx 200, threads 2, gpu layers 99, seed fixed" "$insp"
check "inspect bundle names the template" has "chat template: builtin phi3 (the GGUF's tokenizer.chat_template" "$insp"
"$azc" show tiny --modelfile > "$dir/shown.mf"
check "show --modelfile: FROM the store's bundle" grep -qF "FROM $dir/home/models/tiny:latest.bundle" "$dir/shown.mf"
check "show --modelfile: multi-line SYSTEM quoted" grep -qF 'SYSTEM "You are terse.' "$dir/shown.mf"
# the shown Modelfile builds the same model again (FROM a bundle: sections copied)
out=$("$azc" create again -f "$dir/shown.mf" 2>&1)
check "create from show --modelfile" test $? -eq 0
check "same parameters" test "$("$azc" show again --parameters)" = "$params"
check "same defaults" test "$("$azc" inspect "$dir/home/models/again:latest.bundle" | grep ^defaults)" = "$(grep ^defaults <<<"$insp")"
# FROM a store name, a later PARAMETER replaces the base's, stop strings replace as a group
printf 'FROM tiny\nPARAMETER temperature 0.5\nPARAMETER stop "###"\n' > "$dir/mf/Layer"
check "create FROM a store name" "$azc" create team/tiny:v2 -f "$dir/mf/Layer"
p2=$("$azc" show team/tiny:v2 --parameters)
check "layered: temperature replaced" has "temperature    0.5" "$p2"
check "layered: stop list replaced" bash -c "! grep -q User: <<<'$p2' && grep -q '###' <<<'$p2'"
check "layered: num_ctx kept" has "num_ctx        200" "$p2"
check "layered: system kept" has "You are terse." "$("$azc" show team/tiny:v2 --system)"
text_store=$("$azc" run tiny -p "Salam" -n 6 2>/dev/null)
text_file=$("$azc" run "$dir/home/models/tiny:latest.bundle" -p "Salam" -n 6 2>/dev/null)
check "azc run NAME runs the store model" test -n "$text_store" -a "$text_store" = "$text_file"
# azc compile Modelfile -o
check "compile Modelfile -o" "$azc" compile "$dir/mf/Modelfile" -o "$dir/direct.bundle"
check "compile Modelfile: same defaults" test "$("$azc" inspect "$dir/direct.bundle" | grep ^defaults)" = "$(grep ^defaults <<<"$insp")"
check "compile Modelfile: run flags refused" bash -c "'$azc' compile '$dir/mf/Modelfile' -o '$dir/x.bundle' --temp 1 2>&1 | grep -q PARAMETER"
check "rm" has "deleted 'team/tiny:v2'" "$("$azc" rm team/tiny:v2)"
check "rm: gone from list" bash -c "! '$azc' list | grep -q team/"
check "rm: namespace folder removed" test ! -e "$dir/home/models/team"

# bad Modelfiles: exit 1, one line "azc: error: FILE:LINE: ... WORD", no bundle written
bad() { # name, expected "FILE:LINE", expected word, Modelfile text
  local name=$1 where=$2 word=$3
  printf '%b' "$4" > "$dir/mf/bad"
  local out rc
  out=$("$azc" create broken -f "$dir/mf/bad" 2>&1 >/dev/null); rc=$?
  local lines; lines=$(grep -c '^azc: error:' <<<"$out")
  if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$where" <<<"$out" && grep -qF -- "$word" <<<"$out" \
     && [ ! -e "$dir/home/models/broken:latest.bundle" ]; then echo "ok   bad: $name"
  else echo "FAIL bad: $name (rc=$rc): $out"; fails=$((fails + 1)); fi
}
bad "unknown parameter" "bad:2:" "bogus" 'FROM ./m.gguf\nPARAMETER bogus 1\n'
bad "bad int" "bad:3:" "abc" 'FROM ./m.gguf\n\nPARAMETER num_ctx abc\n'
bad "bad float" "bad:2:" "fast" 'FROM ./m.gguf\nPARAMETER temperature fast\n'
bad "bad bool" "bad:2:" "maybe" 'FROM ./m.gguf\nPARAMETER use_mmap maybe\n'
bad "out of range" "bad:2:" "top_p" 'FROM ./m.gguf\nPARAMETER top_p 1.5\n'
bad "unknown instruction" "bad:2:" "FOO" 'FROM ./m.gguf\nFOO bar\n'
bad "unclosed quote" "bad:2:" '"""' 'FROM ./m.gguf\nSYSTEM """never\nclosed\n'
bad "missing FROM" "bad" "FROM" 'PARAMETER top_k 3\n'
bad "FROM missing file" "bad:1:" "./nope.gguf" 'FROM ./nope.gguf\n'
bad "FROM unknown model" "bad:1:" "nomodel" 'FROM nomodel\n'
bad "ADAPTER not supported" "bad:2:" "not supported" 'FROM ./m.gguf\nADAPTER ./lora.gguf\n'
bad "RENDERER not supported" "bad:2:" "not supported" 'FROM ./m.gguf\nRENDERER qwen3\n'
bad "PARSER not supported" "bad:2:" "not supported" 'FROM ./m.gguf\nPARSER qwen3\n'
bad "REQUIRES a newer azc" "bad:2:" "99.0.0" 'FROM ./m.gguf\nREQUIRES 99.0.0\n'
bad "REQUIRES not a semver" "bad:2:" "banana" 'FROM ./m.gguf\nREQUIRES banana\n'
bad "bad MESSAGE role" "bad:2:" "robot" 'FROM ./m.gguf\nMESSAGE robot hi\n'
bad "bad TEMPLATE" "bad:2:" "TEMPLATE" 'FROM ./m.gguf\nTEMPLATE "{{ if .System }}"\n'
bad "FROM not a model file" "bad:1:" "neither" 'FROM ./bad\n'
check "compile: bad Modelfile writes no bundle" bash -c "! '$azc' compile '$dir/mf/bad' -o '$dir/nobundle.bundle' 2>/dev/null && test ! -e '$dir/nobundle.bundle'"
check "no temp files left in the store" bash -c "! find '$dir/home' -name '*tmp*' | grep -q ."
echo "$fails failed"
exit $((fails > 0))
