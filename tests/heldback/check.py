#!/usr/bin/python3
"""azc against llama.cpp on the held-back models, with the golden rules of
tests/golden/golden.c: the same prompt ids, logits at the last prompt position
with cosine >= 0.999 and max difference <= 2% of the reference's range, and the
reference's greedy tokens up to the first step whose reference top-1/top-2
margin is under 0.1.

usage: /usr/bin/python3 check.py AZC eager|compiled DIR [SUBSTRING]
  DIR holds the models and ref/*.json (+ .logits.f32) from llama_ref.
  HB_PROMPT=FILE HB_CTX=N HB_REF=DIR: another prompt, context and reference folder."""
import json, subprocess, sys, os, array, math, glob
A = sys.argv[1]; mode = sys.argv[2]  # eager|compiled
D = sys.argv[3]
only = sys.argv[4] if len(sys.argv) > 4 else ''
P = open(os.environ["HB_PROMPT"]).read().strip() if os.environ.get("HB_PROMPT") else "Once upon a time there was a little girl who lived in a village near the forest with her mother"
CTX = os.environ.get("HB_CTX", "128"); REFDIR = os.environ.get("HB_REF", os.path.join(D, "ref"))
fails = 0
for ref in sorted(glob.glob(REFDIR + '/*.json')):
    b = os.path.basename(ref)[:-5]
    if only not in b: continue
    r = json.load(open(ref))
    rl = array.array('f', open(ref[:-5] + '.logits.f32', 'rb').read())
    cmd = [A, 'run', os.path.join(D, b + '.gguf'), '-p', P, '--temp', '0', '-n', '32', '--ignore-eos', '--json',
           '--logits-out', os.path.join(D, 'azc.logits.f32'), '-c', CTX, '-t', '2'] + (['--eager'] if mode == 'eager' else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, AZC_CACHE_DIR=os.path.join(D, 'cache')))
    if p.returncode:
        print('FAIL %-24s azc exit %d: %s' % (b, p.returncode, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''))
        fails += 1; continue
    j = json.loads(p.stdout)
    al = array.array('f', open(os.path.join(D, 'azc.logits.f32'), 'rb').read())
    msg = []
    ok = True
    if j['prompt_tokens'] != r['prompt_tokens']:
        ok = False; msg.append('prompt ids differ')
    dot = sum(x * y for x, y in zip(al, rl)); na = math.sqrt(sum(x * x for x in al)); nb = math.sqrt(sum(y * y for y in rl))
    cos = dot / (na * nb) if na and nb else 0
    rng = max(rl) - min(rl); md = max(abs(x - y) for x, y in zip(al, rl))
    if cos < 0.999 or md > 0.02 * rng: ok = False
    msg.append('cos %.6f maxdiff %.2f%%' % (cos, 100 * md / rng))
    eq = 0
    for s, st in enumerate(r['steps']):
        if s >= len(j['tokens']): break
        if j['tokens'][s] != st['token']:
            m = st['top5'][0][1] - st['top5'][1][1]
            if m >= 0.1:
                ok = False; msg.append('step %d: %d vs %d (margin %.3f)' % (s, j['tokens'][s], st['token'], m))
            else:
                msg.append('diverged at step %d (near tie %.3f)' % (s, m))
            break
        eq += 1
    msg.append('%d/%d steps' % (eq, len(r['steps'])))
    print('%s %-24s %s' % ('ok  ' if ok else 'FAIL', b, '; '.join(msg)))
    fails += not ok
print('%s: %d failures' % (mode, fails))
sys.exit(1 if fails else 0)
