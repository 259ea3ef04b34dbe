#!/usr/bin/env python3
"""azc-serve's HTTP API over the wire: Ollama's and OpenAI's endpoints,
streamed and not (the same greedy text either way), the final object's
fields, stop strings, bad requests (each a 4xx JSON error naming the
problem, the server serving on), a prompt longer than the context, UTF-8
in and out, keep_alive.
usage: test_serve_api.py AZC_SERVE WORK (WORK/tiny.bundle from make_model.sh)"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, check, finish, greedy, ndjson, sse, utf8_json, UTF8_BAD

serve_bin, work = sys.argv[1], sys.argv[2]
bundle = os.path.join(work, "tiny.bundle")
env = {"AZC_HOME": os.path.join(work, "home-api")}  # an empty store
chatml = os.path.join(work, "tiny-chatml.bundle")
jinja = os.path.join(work, "tiny-jinja.bundle")
s = Server(serve_bin, ["-c", "8192", "--max-body", "65536", bundle, chatml, jinja], os.path.join(work, "api.log"),
           env)

# ---- plain endpoints ----
st, h, body = s.request("GET", "/")
check(st == 200 and body == b"Ollama is running", "GET / says Ollama is running")
st, h, body = s.request("HEAD", "/")
check(st == 200 and body == b"", "HEAD / is 200 with no body")
st, j = s.json("GET", "/health")
check(st == 200 and j.get("status") == "ok", "/health")
st, j = s.json("GET", "/api/version")
check(st == 200 and isinstance(j.get("version"), str), "/api/version")
st, j = s.json("GET", "/api/tags")
names = [m["name"] for m in j.get("models", [])]
check(st == 200 and names == ["tiny", "tiny-chatml", "tiny-jinja"], "/api/tags lists the bundles by file name (%s)" % names)
check(j["models"][0]["details"]["family"] == "llama", "/api/tags details.family")
st, j = s.json("GET", "/v1/models")
check(st == 200 and j.get("object") == "list" and [m["id"] for m in j["data"]] == ["tiny", "tiny-chatml", "tiny-jinja"],
      "/v1/models")
st, j = s.json("GET", "/v1/models/tiny")
check(st == 200 and j.get("id") == "tiny", "/v1/models/tiny")
st, j = s.json("POST", "/api/show", {"model": "tiny"})
check(st == 200 and "template" in j and j["model_info"]["general.architecture"] == "llama", "/api/show")
st, j = s.json("GET", "/api/ps")
check(st == 200 and j.get("models") == [], "/api/ps: nothing loaded yet")

# ---- generation: Ollama ----
req = {"model": "tiny", "prompt": "Salam dunya", "stream": False, "options": greedy(24)}
st, ref = s.json("POST", "/api/generate", req)
check(st == 200 and ref.get("done") is True, "/api/generate stream:false answers done")
for k in ["done_reason", "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
          "eval_count", "eval_duration", "created_at", "model", "response"]:
    check(k in ref, "final object has %s" % k)
check(ref.get("done_reason") == "length" and ref.get("eval_count") == 24, "num_predict 24: length, 24 tokens")
check(all(isinstance(ref.get(k), int) and ref[k] > 0 for k in
          ["total_duration", "prompt_eval_duration", "eval_duration", "prompt_eval_count"]),
      "durations and counts are positive integers (ns)")
check(ref["total_duration"] >= ref["eval_duration"], "total_duration >= eval_duration")
check(ref["load_duration"] > 0, "first request: load_duration > 0")
st, j = s.json("GET", "/api/ps")
check([m["name"] for m in j.get("models", [])] == ["tiny"], "/api/ps: tiny loaded")
st, h, body = s.request("POST", "/api/generate", dict(req, stream=True))
lines = ndjson(body, "generate stream")
check(st == 200 and "ndjson" in h.get("Content-Type", ""), "streamed generate is NDJSON")
check(len(lines) >= 2 and all(not l["done"] for l in lines[:-1]) and lines[-1]["done"], "stream ends with done")
text = "".join(l.get("response", "") for l in lines)
check(text == ref["response"], "streamed text == stream:false text (greedy)")
check(lines[-1].get("eval_count") == 24 and lines[-1].get("load_duration") == 0, "stream final: counts, no load")
st, again = s.json("POST", "/api/generate", req)
check(again.get("response") == ref["response"], "greedy is repeatable")
st, sampled = s.json("POST", "/api/generate", dict(req, options={"temperature": 1.0, "seed": 7, "num_predict": 24}))
st, sampled2 = s.json("POST", "/api/generate", dict(req, options={"temperature": 1.0, "seed": 7, "num_predict": 24}))
check(sampled["response"] == sampled2["response"], "options.seed: same seed, same text")

# chat
creq = {"model": "tiny", "messages": [{"role": "user", "content": "Salam dunya"}], "stream": False,
        "options": greedy(16)}
st, c = s.json("POST", "/api/chat", creq)
check(st == 200 and c.get("message", {}).get("role") == "assistant" and c.get("done"), "/api/chat stream:false")
st, h, body = s.request("POST", "/api/chat", dict(creq, stream=True))
lines = ndjson(body, "chat stream")
ctext = "".join(l.get("message", {}).get("content", "") for l in lines)
check(ctext == c["message"]["content"] and lines[-1]["done_reason"] == "length", "streamed chat == stream:false chat")

# stop strings: cut where the greedy text has a given piece
full = ref["response"]
cut = full[6:9] if len(full) > 9 else None
if check(cut is not None and cut.strip(), "greedy text long enough for a stop test"):
    st, j = s.json("POST", "/api/generate", dict(req, options=greedy(24, stop=[cut])))
    check(j.get("done_reason") == "stop" and j.get("response") == full[:full.index(cut)],
          "options.stop cuts the text before the stop string, done_reason stop")

# end of generation: this prompt's greedy text reaches EOS within 40 tokens; ignore_eos goes on
st, j = s.json("POST", "/api/generate", {"model": "tiny", "prompt": "busy 0", "stream": False, "options": greedy(40)})
check(j.get("done_reason") == "stop" and 0 < j.get("eval_count", 0) < 40, "EOS ends the turn: done_reason stop (%s tokens)"
      % j.get("eval_count"))
st, j = s.json("POST", "/api/generate", {"model": "tiny", "prompt": "busy 0", "stream": False, "ignore_eos": True,
                                         "options": greedy(40)})
check(j.get("done_reason") == "length" and j.get("eval_count") == 40, "ignore_eos: 40 tokens")

# ---- generation: OpenAI ----
oreq = {"model": "tiny", "messages": [{"role": "user", "content": "Salam dunya"}], "max_tokens": 16,
        "temperature": 0}
st, o = s.json("POST", "/v1/chat/completions", oreq)
check(st == 200 and o.get("object") == "chat.completion", "/v1/chat/completions")
check(o["choices"][0]["message"]["content"] == c["message"]["content"], "OpenAI chat == Ollama chat (greedy)")
check(o.get("usage", {}).get("completion_tokens") == 16 and o["choices"][0]["finish_reason"] == "length",
      "usage and finish_reason length")
st, h, body = s.request("POST", "/v1/chat/completions", dict(oreq, stream=True, stream_options={"include_usage": True}))
events, done = sse(body, "chat SSE")
check(st == 200 and h.get("Content-Type", "").startswith("text/event-stream"), "streamed chat is SSE")
check(done and body.rstrip().endswith(b"data: [DONE]"), "SSE ends with data: [DONE]")
otext = "".join((e["choices"][0].get("delta", {}).get("content") or "") for e in events if e.get("choices"))
check(otext == o["choices"][0]["message"]["content"], "streamed OpenAI chat == non-streamed")
check(any(e.get("usage", {}).get("total_tokens") for e in events), "SSE carries usage")
st, o2 = s.json("POST", "/v1/completions", {"model": "tiny", "prompt": "Salam dunya", "max_tokens": 24,
                                            "temperature": 0})
check(st == 200 and o2["choices"][0]["text"] == ref["response"], "/v1/completions == /api/generate raw text")
st, h, body = s.request("POST", "/v1/completions", {"model": "tiny", "prompt": "Salam dunya", "max_tokens": 24,
                                                    "temperature": 0, "stream": True})
events, done = sse(body, "completion SSE")
check(done and "".join(e["choices"][0]["text"] for e in events if e.get("choices")) == ref["response"],
      "streamed /v1/completions == non-streamed")
if cut:
    st, o3 = s.json("POST", "/v1/completions", {"model": "tiny", "prompt": "Salam dunya", "max_tokens": 24,
                                                "temperature": 0, "stop": cut})
    check(o3["choices"][0]["finish_reason"] == "stop" and o3["choices"][0]["text"] == full[:full.index(cut)],
          "OpenAI stop")
st, s1 = s.json("POST", "/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 12, "temperature": 1,
                                            "top_p": 0.9, "seed": 3})
st, s2 = s.json("POST", "/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 12, "temperature": 1,
                                            "top_p": 0.9, "seed": 3})
check(s1["choices"][0]["text"] == s2["choices"][0]["text"], "OpenAI seed: same seed, same text")

# ---- a chat template (ChatML, the GGUF's, verified at compile time) ----
st, j = s.json("POST", "/api/show", {"model": "tiny-chatml"})
check("<|im_start|>" in j.get("template", ""), "/api/show gives the model's template")
conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Salam dunya"}]
rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSalam dunya<|im_end|>\n<|im_start|>assistant\n"
st, raw = s.json("POST", "/api/generate", {"model": "tiny-chatml", "prompt": rendered, "raw": True, "stream": False,
                                           "options": greedy(16)})
st, ch = s.json("POST", "/api/chat", {"model": "tiny-chatml", "messages": conv, "stream": False, "options": greedy(16)})
check(ch.get("prompt_eval_count") == raw.get("prompt_eval_count") and
      ch.get("message", {}).get("content") == raw.get("response"),
      "/api/chat renders ChatML: same prompt tokens (%s) and text as the rendered prompt sent raw"
      % ch.get("prompt_eval_count"))
st, gen_t = s.json("POST", "/api/generate", {"model": "tiny-chatml", "system": "Be brief.", "prompt": "Salam dunya",
                                             "stream": False, "options": greedy(16)})
check(gen_t.get("response") == raw.get("response") and gen_t.get("prompt_eval_count") == raw.get("prompt_eval_count"),
      "/api/generate (not raw) applies the template with system")
st, oc = s.json("POST", "/v1/chat/completions", {"model": "tiny-chatml", "messages": conv, "max_tokens": 16,
                                                 "temperature": 0})
check(oc["choices"][0]["message"]["content"] == raw.get("response") and
      oc["usage"]["prompt_tokens"] == raw.get("prompt_eval_count"), "OpenAI chat applies the template too")

# ---- a template azc evaluates (the jinja kind: a default system prompt, no system role) ----
conv = [{"role": "user", "content": " Salam "}, {"role": "assistant", "content": "Salam!"},
        {"role": "user", "content": "Necesen?"}]
rendered = "<|sys|>You are tiny.<|end|><|user|>Salam<|end|><|assistant|>Salam!<|end|><|user|>Necesen?<|end|><|bot|>"
st, raw = s.json("POST", "/api/generate", {"model": "tiny-jinja", "prompt": rendered, "raw": True, "stream": False,
                                           "options": greedy(16)})
st, ch = s.json("POST", "/api/chat", {"model": "tiny-jinja", "messages": conv, "stream": False, "options": greedy(16)})
check(st == 200 and ch.get("prompt_eval_count") == raw.get("prompt_eval_count") and
      ch.get("message", {}).get("content") == raw.get("response"),
      "/api/chat evaluates the jinja template: same prompt tokens (%s) and text as its rendering sent raw"
      % ch.get("prompt_eval_count"))
st, oc = s.json("POST", "/v1/chat/completions", {"model": "tiny-jinja", "messages": conv, "max_tokens": 16,
                                                 "temperature": 0})
check(st == 200 and oc["choices"][0]["message"]["content"] == raw.get("response") and
      oc["usage"]["prompt_tokens"] == raw.get("prompt_eval_count"), "OpenAI chat evaluates the jinja template too")
for path, body in (("/api/chat", {"model": "tiny-jinja", "stream": False,
                                  "messages": [{"role": "system", "content": "S"}] + conv}),
                   ("/v1/chat/completions", {"model": "tiny-jinja",
                                             "messages": [{"role": "system", "content": "S"}] + conv})):
    st, j = s.json("POST", path, body)
    err = j.get("error")
    msg = err.get("message") if isinstance(err, dict) else err
    check(st == 400 and isinstance(msg, str) and "This model takes no system message" in msg,
          "%s: the template's raise_exception is a 400 carrying its message (%s)" % (path, msg))
st, j = s.json("GET", "/health")
check(st == 200, "the server serves on after the template's error")

# ---- bad requests: 4xx JSON naming the problem; the server keeps serving ----
def bad(method, path, body, status, words, what, raw=False):
    st, h, data = s.request(method, path, body if raw else body)
    j = utf8_json(data, what)
    err = j.get("error")
    msg = err.get("message") if isinstance(err, dict) else err
    ok = st == status and isinstance(msg, str) and all(w in msg for w in words)
    check(ok, "%s -> %d naming %s (got %d %s)" % (what, status, words, st, msg))

bad("POST", "/api/generate", b'{"model": "tiny", "prompt": ', 400, ["malformed JSON"], "truncated JSON", True)
bad("POST", "/api/generate", b'{"model": "tiny",, }', 400, ["malformed JSON", "byte"], "bad JSON", True)
bad("POST", "/api/generate", b'[1, 2]', 400, ["object"], "array body", True)
bad("POST", "/api/generate", b'', 400, ["empty"], "empty body", True)
bad("POST", "/api/generate", {"model": "tiny", "prompt": 5}, 400, ["prompt", "string"], "prompt: 5")
bad("POST", "/api/generate", {"model": 7, "prompt": "x"}, 400, ["model", "string"], "model: 7")
bad("POST", "/api/generate", {"prompt": "x"}, 400, ["model", "required"], "no model")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "stream": "yes"}, 400, ["stream", "boolean"], "stream: 'yes'")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "options": {"temperature": "hot"}}, 400,
    ["temperature", "number"], "options.temperature: 'hot'")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "options": {"top_p": 3}}, 400, ["top_p"], "top_p 3")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "options": {"num_predict": 1.5}}, 400,
    ["num_predict"], "num_predict 1.5")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "options": []}, 400, ["options", "object"], "options: []")
bad("POST", "/api/generate", {"model": "tiny", "prompt": "x", "keep_alive": "soon"}, 400, ["keep_alive"], "keep_alive 'soon'")
bad("POST", "/api/generate", {"model": "nosuch", "prompt": "x"}, 404, ["nosuch", "not found"], "unknown model")
bad("POST", "/api/chat", {"model": "tiny", "messages": "hi"}, 400, ["messages", "array"], "messages: 'hi'")
bad("POST", "/api/chat", {"model": "tiny", "messages": [{"role": "user", "content": 3}]}, 400,
    ["messages[0].content"], "content: 3")
bad("POST", "/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "x"}],
                                     "max_tokens": "ten"}, 400, ["max_tokens", "number"], "OpenAI max_tokens: 'ten'")
bad("POST", "/v1/chat/completions", {"model": "tiny"}, 400, ["messages"], "OpenAI without messages")
bad("POST", "/v1/chat/completions", {"model": "nosuch", "messages": []}, 404, ["nosuch"], "OpenAI unknown model")
bad("POST", "/v1/completions", {"model": "tiny", "prompt": "x", "stop": 4}, 400, ["stop"], "OpenAI stop: 4")
bad("POST", "/api/generate", b'{"model": "tiny", "prompt": "\xff\xfe"}', 400, ["UTF-8", "byte 29"], "invalid UTF-8", True)
bad("POST", "/api/generate", b'{"model": "tiny", "prompt": "' + b"a" * 70000 + b'"}', 413, ["65536"],
    "oversized body names the limit", True)
bad("GET", "/api/generate", None, 405, ["POST"], "GET /api/generate")
bad("POST", "/api/tags", b"{}", 405, ["GET"], "POST /api/tags", True)
bad("GET", "/api/nothing", None, 404, ["no such endpoint"], "unknown endpoint")
bad("POST", "/api/show", {"model": "nosuch"}, 404, ["nosuch"], "show unknown model")
long_prompt = " ".join("word%d" % i for i in range(3000))
st, h, data = s.request("POST", "/api/generate", {"model": "tiny", "prompt": long_prompt, "options": greedy(4)})
msg = utf8_json(data, "long prompt").get("error", "")
import re
m = re.search(r"has (\d+) tokens but the context of model 'tiny' holds (\d+)", msg)
check(st == 400 and m and int(m.group(1)) > 8192 and m.group(2) == "8192",
      "prompt longer than the context: 400 naming both lengths (%s)" % msg[:120])
st, j = s.json("POST", "/api/generate", req)
check(st == 200 and j.get("response") == ref["response"], "after the bad requests the server still serves")

# ---- UTF-8 ----
st, j = s.json("POST", "/api/generate", {"model": "tiny", "prompt": "Azərbaycan dili 🇦🇿 ǅ", "stream": False,
                                         "options": greedy(48)})
check(st == 200, "non-ASCII prompt accepted")
check("\ufffd" in ref["response"] + j.get("response", ""),
      "the random model produced invalid byte sequences, repaired to U+FFFD")
check(not UTF8_BAD, "every body was valid UTF-8 %s" % UTF8_BAD[:3])

# ---- keep_alive ----
s.json("POST", "/api/generate", {"model": "tiny-chatml", "keep_alive": 0})  # unload the other models
s.json("POST", "/api/generate", {"model": "tiny-jinja", "keep_alive": 0})
def tiny_ps():
    st, j = s.json("GET", "/api/ps")
    return [m for m in j.get("models", []) if m["name"] == "tiny"]
st, j = s.json("GET", "/api/ps")
check([m["name"] for m in j.get("models", [])] == ["tiny"], "keep_alive 0 without a prompt unloaded tiny-chatml")
st, j = s.json("POST", "/api/generate", dict(req, keep_alive=0))
check(st == 200 and j.get("done"), "keep_alive 0 request answers")
time.sleep(0.3)
check(tiny_ps() == [], "keep_alive 0: unloaded after the request")
st, j = s.json("POST", "/api/generate", {"model": "tiny", "keep_alive": -1})
check(j.get("done_reason") == "load" and j.get("load_duration", 0) > 0, "no prompt: loads the model")
ps = tiny_ps()
check(len(ps) == 1 and ps[0]["expires_at"].startswith("2318"), "keep_alive -1: forever")
st, j = s.json("POST", "/api/generate", dict(req, keep_alive="10m"))
ps = tiny_ps()
check(len(ps) == 1 and not ps[0]["expires_at"].startswith("2318"),
      "keep_alive '10m': expires (%s)" % (ps[0]["expires_at"] if ps else None))
st, j = s.json("POST", "/api/generate", {"model": "tiny", "keep_alive": 0})
check(j.get("done_reason") == "unload", "no prompt, keep_alive 0: unloads")
st, ps = s.json("GET", "/api/ps")
check(ps.get("models") == [], "/api/ps empty after unload")

rc = s.stop()
check(rc == 0, "server exits 0 on SIGTERM (rc %s)" % rc)
finish()
