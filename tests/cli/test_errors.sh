#!/usr/bin/env bash
# One message per error, said once: every failing azc (and azc-run) command
# below exits 1 and writes one error line to stderr, "azc: error: ...", as
# its last line (progress lines may come before it), ending in a newline, in
# valid UTF-8, in which no ": "-separated part and no path appears twice (a status wrapped twice with the same context read
# "kernel cache: kernel cache: no directory ..." before). The commands cover
# every subcommand's bad arguments, missing, truncated and wrong files, an
# unusable cache folder, and file names with a newline and with bytes that
# are not UTF-8.
# usage: test_errors.sh AZC AZC_RUN
set -u
azc=$1 azc_run=$2
dir=${AZC_TEST_TMP:-/tmp/azc-test-errors}
rm -rf "$dir"
mkdir -p "$dir"
export AZC_CACHE_DIR=$dir/cache
fails=0 n=0

# one_error NAME COMMAND...: the command must fail as described above
one_error() {
  local name=$1
  shift
  n=$((n + 1))
  "$@" >/dev/null 2>"$dir/err"
  local rc=$?
  local why
  why=$(python3 - "$dir/err" "$rc" <<'EOF'
import sys
raw = open(sys.argv[1], "rb").read()
rc = int(sys.argv[2])
def bad(why):
    print(why); sys.exit(0)
if rc != 1: bad("exit %d, expected 1: %r" % (rc, raw[:300]))
try:
    text = raw.decode("utf-8", errors="strict")
except UnicodeDecodeError as e:
    bad("not UTF-8 (%s): %r" % (e, raw[:300]))
if not text.endswith("\n"): bad("does not end in a newline: %r" % text)
lines = text[:-1].split("\n")
# progress lines ("azc: compile: ...") may come first; the error is the last line, once
errors = [l for l in lines if l.startswith("azc: error")]
if len(errors) != 1 or errors[0] != lines[-1]: bad("not one error line, last: %r" % text[-600:])
if any(not l.startswith("azc: ") for l in lines): bad("a line not from azc: %r" % text[-600:])
line = lines[-1]
if not line.startswith("azc: error: "): bad("does not start with 'azc: error: ': %r" % line)
msg = line[len("azc: error: "):]
if not msg.strip(): bad("empty message")
parts = msg.split(": ")
for i, p in enumerate(parts):
    if p and p in parts[:i]: bad("repeats %r: %r" % (p, line))
    if parts[i - 1:i] and p and parts[i - 1].endswith(" " + p): bad("repeats %r: %r" % (p, line))
words = [w for w in msg.replace(":", " ").split() if "/" in w]
for w in set(words):
    if words.count(w) > 1: bad("names %r %d times: %r" % (w, words.count(w), line))
EOF
)
  if [ -z "$why" ]; then
    echo "ok   $name: $(cat "$dir/err")"
  else
    echo "FAIL $name: $why"
    fails=$((fails + 1))
  fi
}

"$azc" mkmodel --shape tiny-llama --type q8_0 -o "$dir/m.gguf" 2>/dev/null || { echo "FAIL mkmodel"; exit 1; }
"$azc" compile "$dir/m.gguf" -o "$dir/m.bundle" -c 64 2>/dev/null || { echo "FAIL compile"; exit 1; }
head -c 100 "$dir/m.gguf" >"$dir/cut.gguf"
head -c 5000 "$dir/m.bundle" >"$dir/cut.bundle"
head -c 4096 /dev/urandom >"$dir/noise.bin"
printf 'GGUF\003\000\000\000garbage' >"$dir/bad-header.gguf"
: >"$dir/empty.gguf"
nl_name=$dir/$'new\nline.gguf'
cp "$dir/cut.gguf" "$nl_name"
bad_name=$dir/$'bad\xff\xfe.gguf'
cp "$dir/cut.gguf" "$bad_name"
mkdir -p "$dir/a-directory.gguf"

one_error "unknown command" "$azc" frobnicate
one_error "run: no model" "$azc" run
one_error "run: no prompt" "$azc" run "$dir/m.gguf"
one_error "run: both prompts" "$azc" run "$dir/m.gguf" -p x -f y
one_error "run: missing file" "$azc" run "$dir/nope.gguf" -p x
one_error "run: missing prompt file" "$azc" run "$dir/m.gguf" -f "$dir/nope.txt"
one_error "run: unknown option" "$azc" run "$dir/m.gguf" -p x --bogus
one_error "run: option without value" "$azc" run "$dir/m.gguf" -p x -n
one_error "run: bad number" "$azc" run "$dir/m.gguf" -p x --temp abc
one_error "run: number out of range" "$azc" run "$dir/m.gguf" -p x -n -5
one_error "run: truncated gguf" "$azc" run "$dir/cut.gguf" -p x
one_error "run: truncated bundle" "$azc" run "$dir/cut.bundle" -p x
one_error "run: random bytes" "$azc" run "$dir/noise.bin" -p x
one_error "run: empty file" "$azc" run "$dir/empty.gguf" -p x
one_error "run: bad gguf header" "$azc" run "$dir/bad-header.gguf" -p x
one_error "run: a directory" "$azc" run "$dir/a-directory.gguf" -p x
one_error "run: --eager on a bundle" "$azc" run "$dir/m.bundle" -p x --eager
one_error "run: --batch without -f" "$azc" run "$dir/m.bundle" -p x --batch
one_error "run: file name with a newline" "$azc" run "$nl_name" -p x
one_error "run: file name not UTF-8" "$azc" run "$bad_name" -p x
one_error "run: prompt longer than the context" "$azc" run "$dir/m.bundle" -p "$(printf 'word %.0s' $(seq 200))"
one_error "compile: nothing" "$azc" compile
one_error "compile: no -o" "$azc" compile "$dir/m.gguf"
one_error "compile: unknown option" "$azc" compile "$dir/m.gguf" -o "$dir/x.bundle" --bogus
one_error "compile: missing model" "$azc" compile "$dir/nope.gguf" -o "$dir/x.bundle"
one_error "compile: truncated model" "$azc" compile "$dir/cut.gguf" -o "$dir/x.bundle"
one_error "compile: unknown target cpu" "$azc" compile "$dir/m.gguf" -o "$dir/x.bundle" --target-cpu pentium
one_error "compile: output folder missing" "$azc" compile "$dir/m.gguf" -o "$dir/no/such/dir/x.bundle"
one_error "compile: no cache folder" env -u AZC_CACHE_DIR -u XDG_CACHE_HOME -u HOME "$azc" compile "$dir/m.gguf" -o "$dir/x.bundle"
one_error "inspect: nothing" "$azc" inspect
one_error "inspect: missing" "$azc" inspect "$dir/nope.gguf"
one_error "inspect: truncated gguf" "$azc" inspect "$dir/cut.gguf"
one_error "inspect: truncated bundle" "$azc" inspect "$dir/cut.bundle"
one_error "inspect: unknown option" "$azc" inspect "$dir/m.gguf" --bogus
one_error "inspect: --ir on a bundle" "$azc" inspect "$dir/m.bundle" --ir
one_error "inspect: unknown pass" "$azc" inspect "$dir/m.gguf" --ir --after no-such-pass
one_error "tokenize: nothing" "$azc" tokenize
one_error "tokenize: missing" "$azc" tokenize "$dir/nope.gguf" hello
one_error "tokenize: truncated" "$azc" tokenize "$dir/cut.gguf" hello
one_error "tokenize: random bytes" "$azc" tokenize "$dir/noise.bin" hello
one_error "quantize: nothing" "$azc" quantize
one_error "quantize: unknown type" "$azc" quantize "$dir/m.gguf" "$dir/q.gguf" --type q9_9
one_error "quantize: missing input" "$azc" quantize "$dir/nope.gguf" "$dir/q.gguf" --type q8_0
one_error "quantize: truncated input" "$azc" quantize "$dir/cut.gguf" "$dir/q.gguf" --type q8_0
one_error "mkmodel: nothing" "$azc" mkmodel
one_error "mkmodel: unknown shape" "$azc" mkmodel --shape no-such-shape -o "$dir/y.gguf"
one_error "mkmodel: unknown type" "$azc" mkmodel --shape tiny-llama --type q9_9 -o "$dir/y.gguf"
one_error "mkmodel: output folder missing" "$azc" mkmodel --shape tiny-llama -o "$dir/no/such/y.gguf"
one_error "cache: unknown subcommand" "$azc" cache frobnicate
one_error "bench: nothing" "$azc" bench
one_error "bench: missing model" "$azc" bench "$dir/nope.gguf"
one_error "azc-run: a GGUF" "$azc_run" "$dir/m.gguf" -p x
one_error "azc-run: unknown option" "$azc_run" "$dir/m.bundle" -p x --bogus
one_error "azc-run: truncated bundle" "$azc_run" "$dir/cut.bundle" -p x
if [ -d "${AZC_SHARED_DIR:-}/vocab" ]; then
  # every vocab-only file is a model without weights: compile and run refuse it
  for v in "$AZC_SHARED_DIR"/vocab/ggml-vocab-{llama-spm,gpt-2}.gguf; do
    one_error "compile: vocab only ($(basename "$v"))" "$azc" compile "$v" -o "$dir/v.bundle"
  done
else
  echo "skip vocab-only cases: no ../shared/vocab (AZC_SHARED_DIR=${AZC_SHARED_DIR:-unset})"
fi
test ! -e "$dir/x.bundle" || { echo "FAIL a failed compile left $dir/x.bundle"; fails=$((fails + 1)); }
echo "$((n - fails)) of $n failing commands gave one line, said once"
[ $fails -eq 0 ]
