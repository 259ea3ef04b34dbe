#!/usr/bin/python3
"""azc's token ids against llama.cpp's (llama_tok) for every line of TEXTS and every
vocabulary in VOCAB_DIR (../shared/vocab). Lines hold \\n and \\t for newlines and tabs.
usage: tokcheck.py AZC LLAMA_TOK VOCAB_DIR TEXTS [special]   (exit 1 on a difference)"""
import subprocess, sys, os
A, TOK, VD, texts = sys.argv[1:5]; SPECIAL = len(sys.argv) > 5
lines = open(texts, encoding='utf-8').read().split('\n')[:-1]
def dec(s): return s.replace('\\n', '\n').replace('\\t', '\t')
tot = 0; bad = 0
for v in sorted(os.listdir(VD)):
    if not v.endswith('.gguf'): continue
    path = os.path.join(VD, v)
    ref = subprocess.run([TOK, path, texts] + (['1'] if SPECIAL else []), capture_output=True, text=True).stdout.split('\n')
    nb = 0
    for i, l in enumerate(lines):
        p = subprocess.run([A, 'tokenize', path, dec(l)] + (['--special'] if SPECIAL else []), capture_output=True, text=True)
        got = p.stdout.strip() if p.returncode == 0 else 'ERR ' + p.stderr.strip()[-200:]
        if got != ref[i].strip():
            nb += 1
            if nb <= 3: print('  %s line %d %r\n    azc   %s\n    llama %s' % (v, i, l, got[:200], ref[i][:200]))
    print('%-36s %d/%d differ' % (v, nb, len(lines)))
    tot += len(lines); bad += nb
print('total %d/%d differ' % (bad, tot))
sys.exit(1 if bad else 0)
