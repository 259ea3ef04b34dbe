#!/usr/bin/env python3
"""azc serve through the official JavaScript clients from npm, `ollama`
(ollama-js) and `openai`, driven by node (tests/serve/js/clients.mjs):
listing, show, ps, generate and chat streamed and not, OpenAI chat and
completions streamed and not, errors, and a three-turn ollama.chat
conversation that must reuse the earlier turns from the KV cache and answer
as a cold server does. The packages are installed with npm
into WORK/npm; without npm or node, or when the registry cannot be reached,
the test says so and skips (77).
usage: test_serve_js.py AZC_SERVE WORK"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, check, finish, greedy

OLLAMA_JS, OPENAI_JS = "0.6.4", "4.104.0"
serve_bin, work = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
if not shutil.which("npm") or not shutil.which("node"):
    print("SKIPPED test_serve_js: npm or node is not installed (the clients come from npm)")
    sys.exit(77)
npm_dir = os.path.join(work, "npm")
os.makedirs(npm_dir, exist_ok=True)


def installed(pkg, version):
    try:
        with open(os.path.join(npm_dir, "node_modules", pkg, "package.json")) as f:
            return json.load(f)["version"] == version
    except (OSError, ValueError, KeyError):
        return False


if not (installed("ollama", OLLAMA_JS) and installed("openai", OPENAI_JS)):
    if not os.path.exists(os.path.join(npm_dir, "package.json")):
        with open(os.path.join(npm_dir, "package.json"), "w") as f:
            f.write('{"private": true, "type": "module"}\n')
    print("installing ollama@%s openai@%s with npm into %s" % (OLLAMA_JS, OPENAI_JS, npm_dir))
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save", "ollama@" + OLLAMA_JS,
                        "openai@" + OPENAI_JS], cwd=npm_dir, capture_output=True, text=True, timeout=600)
    if r.returncode:
        print("SKIPPED test_serve_js: npm install failed (no network or registry?):")
        print("\n".join("  " + l for l in (r.stdout + r.stderr).strip().splitlines()[-5:]))
        sys.exit(77)
shutil.copy(os.path.join(here, "js", "clients.mjs"), os.path.join(npm_dir, "clients.mjs"))

bundle = os.path.join(work, "tiny.bundle")
chatml = os.path.join(work, "tiny-chatml.bundle")
s = Server(serve_bin, ["-c", "2048", bundle, chatml], os.path.join(work, "js.log"),
           {"AZC_HOME": os.path.join(work, "home-js")})
# what the wire says, for comparison
st, ref = s.json("POST", "/api/generate", {"model": "tiny", "prompt": "Salam dunya", "stream": False,
                                           "options": greedy(20)})
st, cref = s.json("POST", "/api/chat", {"model": "tiny", "messages": [{"role": "user", "content": "Salam dunya"}],
                                        "stream": False, "options": greedy(20)})
r = subprocess.run(["node", "clients.mjs", s.url, "tiny", "tiny-chatml"], cwd=npm_dir, capture_output=True, text=True,
                   timeout=120)
if not check(r.returncode == 0, "node clients.mjs ran (rc %d)" % r.returncode):
    print(r.stdout[-3000:], r.stderr[-3000:])
    s.stop()
    finish()
out = json.loads(r.stdout.strip().splitlines()[-1])
print(json.dumps(out, indent=1, ensure_ascii=False)[:3000])
check(out["version"] and out["list"] == ["tiny", "tiny-chatml"] and out["show_family"] == "llama", "ollama-js version/list/show")
g = out["generate"]
check(g["text"] == ref["response"] and g["done"] and g["done_reason"] == "length" and g["eval_count"] == 20
      and g["total_duration"] > 0 and g["prompt_eval_count"] > 0, "ollama-js generate (stream: false)")
check(out["generate_stream"]["text"] == ref["response"] and out["generate_stream"]["done"]
      and out["generate_stream"]["eval_count"] == 20, "ollama-js generate streamed: same text")
check(out["chat"]["text"] == cref["message"]["content"] and out["chat"]["role"] == "assistant",
      "ollama-js chat (stream: false)")
check(out["chat_stream"]["text"] == cref["message"]["content"], "ollama-js chat streamed: same text")
check(out["ps"] == ["tiny"], "ollama-js ps")
check(isinstance(out["ollama_error"], dict) and out["ollama_error"]["status"] == 404
      and "no-such-model" in out["ollama_error"]["message"], "ollama-js: unknown model is a 404 ResponseError")
check(out["models"] == ["tiny", "tiny-chatml"], "openai models.list")
oc = out["oai_chat"]
check(oc["text"] == cref["message"]["content"] and oc["finish_reason"] == "length"
      and oc["usage"]["completion_tokens"] == 20, "openai chat.completions (not streamed)")
ocs = out["oai_chat_stream"]
check(ocs["text"] == cref["message"]["content"] and ocs["finish_reason"] == "length"
      and ocs["usage"] and ocs["usage"]["total_tokens"] == oc["usage"]["total_tokens"],
      "openai chat.completions streamed: same text, usage")
check(out["oai_completion"]["finish_reason"] == "length" and out["oai_completion"]["text"],
      "openai completions (seed, top_p)")
check(out["oai_completion_stream"]["text"] == ref["response"], "openai completions streamed == /api/generate text")
check(isinstance(out["openai_error"], dict) and out["openai_error"]["status"] == 404
      and "no-such-model" in out["openai_error"]["message"], "openai: unknown model is a 404 APIError")
turns = out["turns"]
for k, t in enumerate(turns):
    cached, n = t["prompt_eval_cached_count"], t["prompt_eval_count"]
    if k:
        prev = turns[k - 1]["prompt_eval_count"]
        check(cached is not None and prev <= cached < n,
              "ollama-js chat turn %d: %s of %d prompt tokens reused (turn %d had %d)" % (k + 1, cached, n, k, prev))
    st, cold = s.json("POST", "/api/chat", {"model": "tiny-chatml", "messages": t["messages"], "stream": False,
                                            "options": greedy(20), "cache_prompt": False})
    check(st == 200 and cold["message"]["content"] == t["text"] and cold["prompt_eval_count"] == n,
          "ollama-js chat turn %d: the same text as cache_prompt false (%d prompt tokens)" % (k + 1, n))
check(s.stop() == 0, "server exits 0")
finish()
