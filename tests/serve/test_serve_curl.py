#!/usr/bin/env python3
"""`azc serve` with curl and wrk: the driver serves a GGUF file (compiled to a
cached bundle first, served under its file name) and a store model; curl
streams NDJSON and SSE (-N) and posts a file; a bounded wrk run on loopback,
with its connections within parallel + queue, records requests/s and must
see 0 errors.
usage: test_serve_curl.py AZC_SERVE WORK AZC"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, check, finish, greedy, ndjson, sse

serve_bin, work, azc = sys.argv[1], sys.argv[2], sys.argv[3]
for tool in ["curl", "wrk"]:
    if not shutil.which(tool):
        check(False, "%s is installed (scripts/deps.sh installs it)" % tool)
        finish()
home = os.path.join(work, "home-curl")
env = {"AZC_HOME": home, "AZC_CACHE_DIR": os.path.join(work, "cache")}
# a store model: the bundle copied into the store folder
os.makedirs(os.path.join(home, "models"), exist_ok=True)
shutil.copy(os.path.join(work, "tiny.bundle"), os.path.join(home, "models", "stored:latest.bundle"))
s = Server(azc, ["serve", "--parallel", "4", "-c", "2048", os.path.join(work, "tiny.gguf")],
           os.path.join(work, "curl.log"), env)


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "60"] + list(args), capture_output=True, timeout=90)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


rc, out, err = curl(s.url + "/api/tags")
names = [m["name"] for m in json.loads(out)["models"]]
check(rc == 0 and names == ["stored:latest", "tiny"], "curl /api/tags: the GGUF as 'tiny' and the store model (%s)" % names)
rc, out, err = curl("-I", s.url + "/")
check(rc == 0 and out.startswith(b"HTTP/1.1 200"), "curl -I / (HEAD)")
body = json.dumps({"model": "tiny", "prompt": "Salam", "stream": False, "options": greedy(12)})
rc, out, err = curl("-d", body, s.url + "/api/generate")
ref = json.loads(out)
check(rc == 0 and ref["eval_count"] == 12, "curl /api/generate from the GGUF")
rc, out, err = curl("-d", body.replace("tiny", "stored"), s.url + "/api/generate")
check(rc == 0 and json.loads(out)["response"] == ref["response"], "the store model (same bundle) says the same")
with open(os.path.join(work, "req.json"), "w") as f:
    f.write(json.dumps({"model": "tiny", "prompt": "Salam", "options": greedy(12)}))
rc, out, err = curl("-N", "-H", "Content-Type: application/json", "--data-binary", "@" + os.path.join(work, "req.json"),
                    s.url + "/api/generate")
lines = ndjson(out, "curl stream")
check(rc == 0 and "".join(l["response"] for l in lines) == ref["response"] and lines[-1]["done"],
      "curl -N streamed NDJSON, same text")
rc, out, err = curl("-N", "-d", json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "Salam"}],
                                            "max_tokens": 8, "stream": True}), s.url + "/v1/chat/completions")
events, done = sse(out, "curl SSE")
check(rc == 0 and done and events and events[-1]["choices"][0]["finish_reason"] == "length", "curl -N SSE ends with [DONE]")
rc, out, err = curl("-w", "%{http_code}", "-o", "/dev/null", "-d", "{", s.url + "/api/chat")
check(out == b"400", "curl: malformed JSON is 400")

# wrk: 8 connections (parallel 4 + queue 64 hold them all), 3 s, short greedy requests
lua = os.path.join(work, "wrk.lua")
with open(lua, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"model": "tiny", "prompt": "Salam", "stream": false, '
            '"options": {"temperature": 0, "num_predict": 8}}\'\n')
r = subprocess.run(["wrk", "-t2", "-c8", "-d3s", "--timeout", "10s", "-s", lua, s.url + "/api/generate"],
                   capture_output=True, text=True, timeout=60)
print(r.stdout)
m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
total = re.search(r"(\d+) requests in", r.stdout)
errors = re.search(r"Socket errors: (.*)", r.stdout)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
check(r.returncode == 0 and m and total and int(total.group(1)) > 0, "wrk ran: %s requests/s" % (m.group(1) if m else "?"))
check(not errors and not non2xx, "wrk: 0 errors (%s %s)" % (errors.group(1) if errors else "",
                                                          non2xx.group(1) if non2xx else ""))
metrics = s.metrics()
check(metrics["azc_steps_multi_sequence_total"] > 0, "under wrk, steps ran several sequences")
print("wrk: %s requests/s, %s requests, 0 errors; steps %d, multi-sequence steps %d, mean sequences per step %.2f"
      % (m.group(1) if m else "?", total.group(1) if total else "?", metrics["azc_steps_total"],
         metrics["azc_steps_multi_sequence_total"],
         metrics["azc_step_sequences_sum"] / max(1, metrics["azc_step_sequences_count"])))
check(s.stop() == 0, "server exits 0")
finish()
