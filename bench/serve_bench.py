#!/usr/bin/env python3
"""azc serve's continuous batching against azc run --batch (static batching),
side by side in one run, on a TinyLlama-1.1B-shaped Q4_K_M that azc makes
itself (azc mkmodel --shape tinyllama-1.1b, azc quantize --type q4_k_m, azc
compile).

For 1, 4 and 8 concurrent greedy clients (streamed /api/generate, fixed
lengths: ignore_eos), it reports the aggregate decode tokens/s (tokens of all
clients over the longest client's eval_duration, i.e. over the steps they
shared), the end-to-end tokens/s (all tokens over the wall time from the
first request sent to the last reply done) and the time to first token
(request sent -> first streamed token, median and max; cache_prompt false,
so each request prefills its whole prompt). Then azc run --batch
with 1 and with 8 prompts of the same lengths, and the two speed-ups (8
clients over 1; 8 prompts over 1).

usage: bench/serve_bench.py [--build build] [--work DIR] [-t THREADS] [-n TOKENS]
       [--vocab ../shared/vocab/ggml-vocab-llama-spm.gguf]   (run under nice)"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import http.client

ap = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--build", default=os.path.join(here, "..", "build"))
ap.add_argument("--work", default="/tmp/azc-serve-bench")
ap.add_argument("-t", "--threads", type=int, default=2)
ap.add_argument("-n", "--tokens", type=int, default=64)
ap.add_argument("--vocab", default=os.path.join(here, "..", "..", "shared", "vocab", "ggml-vocab-llama-spm.gguf"))
ap.add_argument("--clients", default="1,4,8", help="concurrent clients per round; '' skips the server")
a = ap.parse_args()
azc = os.path.join(a.build, "cli", "azc")
serve = os.path.join(a.build, "serve", "azc-serve")
os.makedirs(a.work, exist_ok=True)
env = dict(os.environ, AZC_CACHE_DIR=os.path.join(a.work, "cache"), AZC_HOME=os.path.join(a.work, "home"))


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, env=env, check=True, **kw)


f16 = os.path.join(a.work, "tl-f16.gguf")
q4 = os.path.join(a.work, "tl-q4_k_m.gguf")
bundle = os.path.join(a.work, "tl.bundle")
if not os.path.exists(bundle):
    vocab = ["--vocab-from", a.vocab] if os.path.exists(a.vocab) else []
    if not vocab:
        print("note: %s is absent; the model gets azc's synthetic vocabulary" % a.vocab, file=sys.stderr)
    run([azc, "mkmodel", "--shape", "tinyllama-1.1b", "--type", "f16", "-o", f16] + vocab)
    run([azc, "quantize", f16, q4, "--type", "q4_k_m"])
    os.remove(f16)
    run([azc, "compile", q4, "-o", bundle])

prompts = ["Once upon a time in the city number %d, there lived" % i for i in range(8)]
n = a.tokens
results = {"threads": a.threads, "tokens": n, "serve": {}, "run": {}}

# ---- azc serve ----
clients = [int(x) for x in a.clients.split(",") if x]
log = open(os.path.join(a.work, "serve.log"), "w")
srv = subprocess.Popen([serve, "--port", "0", "--parallel", "8", "-c", "512", "-t", str(a.threads), "--quiet",
                        bundle], stdout=log, stderr=subprocess.STDOUT, env=env)
port = None
for _ in range(600):
    time.sleep(0.1)
    m = re.search(r"listening on http://[^:]+:(\d+)", open(log.name).read())
    if m:
        port = int(m.group(1))
        break
if port is None:
    sys.exit("azc-serve did not start; see " + log.name)


def client(i, out, barrier):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.connect()
    barrier.wait()  # the clients send together
    # cache_prompt false: every round prefills its whole prompt, as the first
    # did (the rounds repeat the prompts, which the slots would reuse)
    body = json.dumps({"model": "tl", "prompt": prompts[i], "stream": True, "ignore_eos": True, "raw": True,
                       "cache_prompt": False, "options": {"temperature": 0, "num_predict": n}})
    t0 = time.time()
    c.request("POST", "/api/generate", body)
    r = c.getresponse()
    first = None
    final = None
    while True:
        line = r.readline()
        if not line:
            break
        j = json.loads(line)
        if first is None and j.get("response"):
            first = time.time()
        if j.get("done"):
            final = j
    out[i] = {"t0": t0, "first": first, "done": time.time(), "final": final}
    c.close()


def serve_round(k):
    out = [None] * k
    barrier = threading.Barrier(k)
    th = [threading.Thread(target=client, args=(i, out, barrier)) for i in range(k)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    tokens = sum(o["final"]["eval_count"] for o in out)
    decode_s = max(o["final"]["eval_duration"] for o in out) / 1e9
    wall = max(o["done"] for o in out) - min(o["t0"] for o in out)
    ttft = [(o["first"] - o["t0"]) * 1e3 for o in out]
    return {"clients": k, "tokens": tokens, "decode_tps": tokens / decode_s, "e2e_tps": tokens / wall,
            "ttft_ms_median": statistics.median(ttft), "ttft_ms_max": max(ttft)}


if clients:
    serve_round(1)  # warm-up: loads the model
for k in clients:
    r = serve_round(k)
    results["serve"][k] = r
    print("serve %d clients: decode %.2f t/s, end-to-end %.2f t/s, TTFT median %.0f ms (max %.0f ms)"
          % (k, r["decode_tps"], r["e2e_tps"], r["ttft_ms_median"], r["ttft_ms_max"]), file=sys.stderr)
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", "/metrics")
metrics = c.getresponse().read().decode()
c.close()
srv.terminate()
srv.wait()
results["metrics"] = {k: float(v) for k, v in re.findall(r"^(azc_step\w*|azc_steps\w*) (\S+)$", metrics, re.M)}

# ---- azc run --batch, the same prompts and lengths ----
for k in [1, 8]:
    path = os.path.join(a.work, "prompts%d.txt" % k)
    with open(path, "w") as f:
        f.write("\n".join(prompts[:k]) + "\n")
    p = run([azc, "run", bundle, "-f", path, "--batch", "-n", str(n), "--ignore-eos", "--temp", "0", "-t",
             str(a.threads), "--json"], capture_output=True, text=True)
    j = json.loads(p.stdout)
    tm = j[0]["timings"]
    results["run"][k] = {"prompts": k, "gen_tps": tm["gen_tokens_per_s"] * 1.0, "prompt_ms": tm["prompt_ms"]}
    print("run --batch %d prompts: generation %.2f t/s" % (k, results["run"][k]["gen_tps"]), file=sys.stderr)

s1, s8 = results["serve"].get(1), results["serve"].get(8)
r1, r8 = results["run"][1], results["run"][8]
if s1 and s8:
    results["serve_speedup_8"] = s8["decode_tps"] / s1["decode_tps"]
results["run_speedup_8"] = r8["gen_tps"] / r1["gen_tps"]
print(json.dumps(results, indent=1))
print("\n| clients | decode t/s | end-to-end t/s | TTFT median | TTFT max |\n|---:|---:|---:|---:|---:|")
for k, r in results["serve"].items():
    print("| %d | %.1f | %.1f | %.0f ms | %.0f ms |" % (k, r["decode_tps"], r["e2e_tps"], r["ttft_ms_median"],
                                                      r["ttft_ms_max"]))
print("\nazc run --batch: 1 prompt %.1f t/s, 8 prompts %.1f t/s: %.2fx" % (r1["gen_tps"], r8["gen_tps"],
                                                                          results["run_speedup_8"]))
if s1 and s8:
    print("azc serve: 1 client %.1f t/s, 8 clients %.1f t/s: %.2fx (%.2f of static batching's speed-up)"
          % (s1["decode_tps"], s8["decode_tps"], results["serve_speedup_8"],
             results["serve_speedup_8"] / results["run_speedup_8"]))
