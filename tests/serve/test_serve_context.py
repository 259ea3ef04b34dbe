#!/usr/bin/env python3
"""A request's context (options.num_ctx) and prompt reuse across requests,
over the wire.

num_ctx: a request runs in its num_ctx, else the server's -c, else the
model's stored num_ctx (a Modelfile PARAMETER), else min(trained, 4096),
clamped to the trained context; a larger one than loaded reloads the
model's executor (load_duration > 0, /api/ps shows it), a smaller one is
served in the loaded executor but limits the prompt (400 naming both
lengths) and the generation (done_reason "length").

Prompt reuse: a slot keeps its KV cache after a request; a request whose
tokens start with what a slot holds prefills only the rest. Turn 2 of an
/api/chat conversation reuses turn 1 (prompt_eval_cached_count,
azc_prompt_tokens_reused_total), and its text is exactly what a fresh
server answers to the same request; cache_prompt false prefills all.
usage: test_serve_context.py AZC_SERVE WORK AZC"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, UTF8_BAD, check, finish, greedy, utf8_json

serve_bin, work, azc = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
bundle = os.path.join(work, "tiny.bundle")
chatml = os.path.join(work, "tiny-chatml.bundle")
env = {"AZC_HOME": os.path.join(work, "home-context"), "AZC_CACHE_DIR": os.path.join(work, "cache")}
TRAINED = 256  # azc mkmodel --shape tiny-llama: context_length 256


def words(n, tag="w"):
    return " ".join("%s%d" % (tag, i) for i in range(n))


def gen(s, prompt, ctx=None, n=4, **extra):
    o = greedy(n)
    if ctx is not None:
        o["num_ctx"] = ctx
    body = {"model": "tiny", "prompt": prompt, "raw": True, "stream": False, "options": o}
    body.update(extra)
    return s.json("POST", "/api/generate", body)


def too_long(j, holds):
    m = re.search(r"has (\d+) tokens but the context of model 'tiny' holds (\d+)", j.get("error", ""))
    return m is not None and m.group(2) == str(holds) and int(m.group(1)) >= holds


def ps_context(s):
    st, j = s.json("GET", "/api/ps")
    return {m["name"]: m.get("context_length") for m in j.get("models", [])}


# ---- num_ctx ----
s = Server(serve_bin, ["--parallel", "2", "-c", "64", bundle], os.path.join(work, "context.log"), env)
p80 = words(40)  # more than 64 tokens, fewer than 200
st, j = gen(s, "hello")
check(st == 200 and ps_context(s).get("tiny") == 64, "-c 64: the model loads with 64 positions (%s)" % ps_context(s))
st, j = gen(s, p80)
check(st == 400 and too_long(j, 64), "a prompt over -c 64 without num_ctx: 400 naming both lengths (%s)" % j.get("error"))
st, j = gen(s, p80, ctx=200)
n80 = j.get("prompt_eval_count", 0)
check(st == 200 and 64 < n80 < 200 and j.get("load_duration", 0) > 0,
      "num_ctx 200 > loaded 64: the model reloads with 200 and serves the %d-token prompt (load_duration %s)"
      % (n80, j.get("load_duration")))
check(ps_context(s).get("tiny") == 200, "/api/ps shows the context 200 after the reload (%s)" % ps_context(s))
grown = j.get("response")
st, j = gen(s, p80, ctx=150)
check(st == 200 and j.get("load_duration") == 0 and j.get("response") == grown and ps_context(s).get("tiny") == 200,
      "num_ctx 150 < loaded 200: served without a reload, same text as in 200")
st, j = gen(s, p80, ctx=32)
check(st == 400 and too_long(j, 32), "num_ctx 32 < loaded 200: the prompt must fit 32: 400 (%s)" % j.get("error"))
st, j = gen(s, p80)
check(st == 400 and too_long(j, 64), "no num_ctx after the reload: the default 64 still applies (%s)" % j.get("error"))
# generation stops at the request's context: positions 0..ctx-1 evaluated,
# the last sampled token is not
ctx = n80 + 5
st, j = gen(s, p80, ctx=ctx, n=100, ignore_eos=True)
check(st == 200 and j.get("done_reason") == "length" and j.get("eval_count") == ctx - n80 + 1,
      "num_ctx %d with a %d-token prompt: done_reason length after %d tokens (%s, %s)"
      % (ctx, n80, ctx - n80 + 1, j.get("done_reason"), j.get("eval_count")))
st, j = gen(s, words(200), ctx=100000)
check(st == 400 and too_long(j, TRAINED),
      "num_ctx 100000 is clamped to the trained %d, as Ollama does (%s)" % (TRAINED, j.get("error")))
check(ps_context(s).get("tiny") == TRAINED, "/api/ps: %d after the clamped request" % TRAINED)
st, j = gen(s, "x", ctx="many")
check(st == 400 and "num_ctx" in j.get("error", ""), "num_ctx of the wrong type: 400 naming it (%s)" % j.get("error"))
# concurrent requests with a larger num_ctx: each waits for the reload, all served
import threading
res = []
def worker(c):
    res.append(gen(s, p80, ctx=c, n=8))
ts = [threading.Thread(target=worker, args=(c,)) for c in (120, TRAINED, 200, 150)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check(all(st == 200 for st, j in res) and len(set(j.get("response") for st, j in res)) == 1,
      "4 concurrent requests with num_ctx 120..256: all 200, one text (%s)" % [st for st, j in res])
s.stop()
# the text in a reloaded context is the text of a server started with that context
s = Server(serve_bin, ["--parallel", "2", "-c", "200", bundle], os.path.join(work, "context2.log"), env)
st, j = gen(s, p80)
check(st == 200 and j.get("response") == grown, "the reloaded server's text = a server started with -c 200")
s.stop()
# a Modelfile's num_ctx is the model's default
mf = os.path.join(work, "ctx48.Modelfile")
with open(mf, "w") as f:
    f.write("FROM %s\nPARAMETER num_ctx 48\n" % bundle)
b48 = os.path.join(work, "ctx48", "tiny.bundle")
os.makedirs(os.path.dirname(b48), exist_ok=True)
r = subprocess.run([azc, "compile", mf, "-o", b48], capture_output=True, text=True, env=dict(os.environ, **env))
check(r.returncode == 0, "azc compile a Modelfile with PARAMETER num_ctx 48 (%s)" % r.stderr.strip()[-200:])
s = Server(serve_bin, ["--parallel", "2", b48], os.path.join(work, "context3.log"), env)
st, j = gen(s, p80)
check(st == 400 and too_long(j, 48), "the Modelfile's num_ctx 48 is the default (%s)" % j.get("error"))
st, j = gen(s, p80, ctx=200)
check(st == 200 and j.get("response") == grown, "num_ctx 200 overrides the Modelfile's 48")
s.stop()

# ---- prompt reuse ----
def chat(s, msgs, n=12, **extra):
    body = {"model": "tiny-chatml", "messages": msgs, "stream": False, "options": greedy(n)}
    body.update(extra)
    return s.json("POST", "/api/chat", body)


def reused(s):
    return s.metrics().get("azc_prompt_tokens_reused_total", -1)


sys_msg = {"role": "system", "content": "Short answers. " + words(4, "s")}
turn1 = [sys_msg, {"role": "user", "content": "first question " + words(3, "q")}]
s = Server(serve_bin, ["--parallel", "2", chatml], os.path.join(work, "reuse.log"), env)
r0 = reused(s)
st, a1 = chat(s, turn1)
p1 = a1.get("prompt_eval_count", 0)
check(st == 200 and a1.get("prompt_eval_cached_count") == 0 and reused(s) == r0,
      "turn 1 on a fresh server: nothing cached (%s)" % a1.get("prompt_eval_cached_count"))
turn2 = turn1 + [{"role": "assistant", "content": a1.get("message", {}).get("content", "")},
                 {"role": "user", "content": "second question " + words(2, "r")}]
r1 = reused(s)
st, a2 = chat(s, turn2)
p2, c2 = a2.get("prompt_eval_count", 0), a2.get("prompt_eval_cached_count", 0)
print("turn 1: %d prompt tokens; turn 2: %d, %d cached (%s)" % (p1, p2, c2, a2.get("error", "")))
check(st == 200 and p2 > p1 and c2 >= p1 - 1 and c2 < p2,
      "turn 2 reuses turn 1's prompt from the slot: %d of %d prompt tokens cached (turn 1 had %d)" % (c2, p2, p1))
check(reused(s) - r1 == c2, "azc_prompt_tokens_reused_total grew by the cached count (%s)" % (reused(s) - r1))
# the same conversation on a fresh server: the same text, all of the prompt evaluated
s2 = Server(serve_bin, ["--parallel", "2", chatml], os.path.join(work, "reuse-cold.log"), env)
st, cold = chat(s2, turn2)
check(st == 200 and cold.get("prompt_eval_cached_count") == 0 and cold.get("prompt_eval_count") == p2,
      "turn 2 on a fresh server: %s prompt tokens, none cached" % cold.get("prompt_eval_count"))
check(cold.get("message") == a2.get("message"),
      "turn 2 reusing the cache = turn 2 on a fresh server (greedy): %r" % a2.get("message", {}).get("content", "")[:60])
# longer answers over the reused prefix still match (ignore_eos: every token compared)
st, long_warm = chat(s, turn2, n=40, ignore_eos=True)
st2, long_cold = chat(s2, turn2, n=40, ignore_eos=True, cache_prompt=False)
check(st == 200 and st2 == 200 and long_warm.get("prompt_eval_cached_count", 0) > 0 and
      long_cold.get("prompt_eval_cached_count") == 0 and long_warm.get("message") == long_cold.get("message"),
      "40 tokens after a %d-token cached prefix = cache_prompt false on the other server"
      % long_warm.get("prompt_eval_cached_count", 0))
s2.stop()
# the whole prompt cached: the last token is evaluated again for its logits
st, again = chat(s, turn2)
check(st == 200 and again.get("prompt_eval_cached_count") == p2 - 1 and again.get("message") == a2.get("message"),
      "the same request again: %s of %d cached, same answer" % (again.get("prompt_eval_cached_count"), p2))
st, nc = chat(s, turn2, cache_prompt=False)
check(st == 200 and nc.get("prompt_eval_cached_count") == 0 and nc.get("message") == a2.get("message"),
      "cache_prompt false: nothing reused, same answer")
check(again.get("prompt_eval_duration", 1e18) < nc.get("prompt_eval_duration", 0),
      "prompt_eval_duration: 1 token evaluated took %.2f ms, all %d took %.2f ms"
      % (again.get("prompt_eval_duration", 0) / 1e6, p2, nc.get("prompt_eval_duration", 0) / 1e6))
st, j = chat(s, turn2, cache_prompt="no")
check(st == 400 and "cache_prompt" in j.get("error", ""), "cache_prompt of the wrong type: 400 (%s)" % j.get("error"))
# two conversations at --parallel 2 each keep their own slot
convs, firsts = [], []
for k in range(2):
    t1 = [{"role": "user", "content": ("%d: conversation " % k) + words(4, "c%d" % k)}]
    st, a = chat(s, t1)
    firsts.append(a.get("prompt_eval_count", -1))
    convs.append(t1 + [{"role": "assistant", "content": a.get("message", {}).get("content", "")},
                       {"role": "user", "content": "and then?"}])
    check(st == 200, "conversation %d turn 1" % k)
hits = []
for k in range(2):
    st, a = chat(s, convs[k])
    hits.append((a.get("prompt_eval_cached_count", 0), a.get("prompt_eval_count", 0)))
check(all(hits[k][0] >= firsts[k] for k in range(2)),
      "two interleaved conversations both reuse their own slot: turn 1 %s, turn 2 cached/prompt %s" % (firsts, hits))
# OpenAI: usage.prompt_tokens_details.cached_tokens
oreq = {"model": "tiny-chatml", "messages": turn1, "max_tokens": 4, "temperature": 0}
st, o1 = s.json("POST", "/v1/chat/completions", oreq)
st, o2 = s.json("POST", "/v1/chat/completions", oreq)
u1, u2 = o1.get("usage", {}), o2.get("usage", {})
check(u2.get("prompt_tokens_details", {}).get("cached_tokens") == u2.get("prompt_tokens", 0) - 1 and
      o1.get("choices") == o2.get("choices"),
      "OpenAI usage: a repeated request reports prompt_tokens_details.cached_tokens %s of %s"
      % (u2.get("prompt_tokens_details"), u2.get("prompt_tokens")))
s.stop()

# an f16 KV cache: the reused prefix is still exactly a cold run's
s = Server(serve_bin, ["--parallel", "2", "--kv-type", "f16", chatml], os.path.join(work, "reuse-f16.log"), env)
st, w1 = chat(s, turn1)
st, w2 = chat(s, turn2, n=24, ignore_eos=True)
st, cold = chat(s, turn2, n=24, ignore_eos=True, cache_prompt=False)
check(w2.get("prompt_eval_cached_count", 0) >= w1.get("prompt_eval_count", 1) and
      cold.get("prompt_eval_cached_count") == 0 and w2.get("message") == cold.get("message"),
      "--kv-type f16: turn 2 reuses %s tokens and answers as cache_prompt false" % w2.get("prompt_eval_cached_count"))
s.stop()

check(not UTF8_BAD, "every body was valid UTF-8 (%s)" % UTF8_BAD[:2])
finish()
