#!/usr/bin/env python3
"""Concurrency of azc-serve: 16 concurrent clients at --parallel 4 each get
the greedy text a sequential run of the same request gets (nothing lost,
nothing mixed; the queue holds the other 12); /metrics shows steps that ran
more than one sequence; a request sent while another is generating joins
the running batch (and still gets its sequential text); a full queue answers
503; a client that disconnects stops its generation, streamed or not.
usage: test_serve_batching.py AZC_SERVE WORK"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, check, finish, greedy, ndjson, utf8_json

serve_bin, work = sys.argv[1], sys.argv[2]
bundle = os.path.join(work, "tiny.bundle")
env = {"AZC_HOME": os.path.join(work, "home-batching")}
s = Server(serve_bin, ["--parallel", "4", "-c", "8192", bundle], os.path.join(work, "batching.log"), env)


def gen(srv, prompt, n, stream=False, **kw):
    body = {"model": "tiny", "prompt": prompt, "stream": stream, "options": greedy(n)}
    body.update(kw)
    st, h, data = srv.request("POST", "/api/generate", body)
    if stream:
        lines = ndjson(data, "stream")
        return st, "".join(l.get("response", "") for l in lines), lines[-1] if lines else {}
    j = utf8_json(data, "generate")
    return st, j.get("response"), j


prompts = ["Prompt number %d: %s" % (i, "abc" * (i % 5)) for i in range(16)]
lengths = [24 + 4 * (i % 4) for i in range(16)]  # different lengths: sequences leave at different steps
seq = []
for p, n in zip(prompts, lengths):
    st, text, _ = gen(s, p, n)
    seq.append(text)
check(all(t for t in seq) and len(set(seq)) > 8, "sequential run: 16 texts, mostly distinct")
m0 = s.metrics()
check(m0.get("azc_steps_multi_sequence_total", -1) == 0, "sequential requests never share a step")

results = [None] * 16
def client(i):
    results[i] = gen(s, prompts[i], lengths[i], stream=(i % 2 == 0))
threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
same = [i for i in range(16) if results[i] and results[i][0] == 200 and results[i][1] == seq[i]]
check(len(same) == 16, "16 concurrent clients (8 streamed) got their sequential greedy text (%d/16 same)" % len(same))
for i in range(16):
    if i not in same:
        print("  client %d: %r vs sequential %r" % (i, results[i][1] if results[i] else None, seq[i]))
m1 = s.metrics()
multi = m1["azc_steps_multi_sequence_total"] - m0["azc_steps_multi_sequence_total"]
check(multi > 0, "/metrics: %d steps ran more than one sequence" % multi)
hist4 = m1['azc_step_sequences_bucket{le="4"}'] - m1['azc_step_sequences_bucket{le="2"}']
check(hist4 > 0, "/metrics histogram: steps with 3-4 sequences (%d)" % hist4)
check(m1['azc_step_sequences_bucket{le="4"}'] == m1['azc_step_sequences_bucket{le="+Inf"}'],
      "no step ran more than --parallel 4 sequences")
check(m1["azc_queue_depth"] == 0 and m1["azc_slots_busy"] == 0, "queue and slots empty afterwards")

# a request arriving mid-generation joins the running batch
joins0 = m1["azc_batch_joins_total"]
c = s.conn()
c.request("POST", "/api/generate", json.dumps({"model": "tiny", "prompt": "long one", "stream": True,
                                               "options": greedy(3000)}))
r = c.getresponse()
first = r.readline()
check(b'"done":false' in first, "long request is generating")
st, text, final = gen(s, prompts[3], lengths[3])
check(st == 200 and text == seq[3], "a request that joined a running batch gets its sequential text")
m2 = s.metrics()
check(m2["azc_batch_joins_total"] > joins0, "/metrics: the request joined a running batch (joins %d -> %d)"
      % (joins0, m2["azc_batch_joins_total"]))
c.close()  # and the long one is cancelled by the disconnect
deadline = time.time() + 10
while time.time() < deadline and s.metrics()["azc_slots_busy"] > 0:
    time.sleep(0.05)
m3 = s.metrics()
check(m3["azc_slots_busy"] == 0 and m3["azc_jobs_cancelled_total"] >= 1,
      "closing a streamed request stops its generation (cancelled %d)" % m3["azc_jobs_cancelled_total"])
check(m3["azc_generated_tokens_total"] - m2["azc_generated_tokens_total"] < 3000,
      "the cancelled request did not run to its 3000 tokens")

# stream: false, the client hangs up while waiting
sock = socket.create_connection(("127.0.0.1", s.port))
body = json.dumps({"model": "tiny", "prompt": "hang up", "stream": False, "options": greedy(-1)}).encode()
sock.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
             % len(body) + body)
deadline = time.time() + 5
while time.time() < deadline and s.metrics()["azc_slots_busy"] == 0:
    time.sleep(0.02)
check(s.metrics()["azc_slots_busy"] == 1, "stream:false request is generating")
cancelled = s.metrics()["azc_jobs_cancelled_total"]
sock.close()
deadline = time.time() + 5
while time.time() < deadline and s.metrics()["azc_slots_busy"] > 0:
    time.sleep(0.02)
m4 = s.metrics()
check(m4["azc_slots_busy"] == 0 and m4["azc_jobs_cancelled_total"] == cancelled + 1,
      "a stream:false client that hangs up stops its generation")
st, text, _ = gen(s, prompts[0], lengths[0])
check(text == seq[0], "the server serves on after the disconnects")
check(s.stop() == 0, "server exits 0")

# a full queue answers 503: 1 slot, queue 1
q = Server(serve_bin, ["--parallel", "1", "--queue", "1", "-c", "8192", bundle], os.path.join(work, "queue.log"), env)
conns = []
for i in range(2):
    c = q.conn()
    c.request("POST", "/api/generate", json.dumps({"model": "tiny", "prompt": "ab"[i],  # these run to the full context "stream": True,
                                                   "options": greedy(-1)}))
    conns.append(c)
    time.sleep(0.3)  # the first one is generating before the second queues
st, h, data = q.request("POST", "/api/generate", {"model": "tiny", "prompt": "one too many", "options": greedy(4)})
j = utf8_json(data, "503")
check(st == 503 and "queue" in j.get("error", ""), "full queue: 503 naming the queue (%d %s)" % (st, j.get("error")))
st, h, data = q.request("POST", "/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 2})
check(st == 503 and "queue" in utf8_json(data, "503").get("error", {}).get("message", ""), "OpenAI 503 too")
check(q.metrics()["azc_rejected_queue_full_total"] == 2, "/metrics counts the rejections")
for c in conns:
    c.close()
deadline = time.time() + 10
while time.time() < deadline and (q.metrics()["azc_slots_busy"] or q.metrics()["azc_queue_depth"]):
    time.sleep(0.05)
st, text, _ = gen(q, prompts[1], lengths[1])
check(st == 200 and text == seq[1], "after the clients left, the slot serves again (same text)")
check(q.stop() == 0, "queue server exits 0")

# a burst reaching an idle model prefills in one step (--batch-window): 4
# clients sent together, each step then carries all 4 sequences, and each
# still gets its sequential text
w = Server(serve_bin, ["--parallel", "4", "--batch-window", "400", "-c", "8192", bundle],
           os.path.join(work, "window.log"), env)
burst = ["Burst request %d" % i for i in range(4)]
burst_seq = [gen(w, p, 12)[1] for p in burst]
b0 = w.metrics()
out = [None] * 4
barrier = threading.Barrier(4)
def burst_client(i):
    c = w.conn()
    c.connect()
    barrier.wait()
    c.request("POST", "/api/generate", json.dumps({"model": "tiny", "prompt": burst[i], "stream": False,
                                                   "options": greedy(12)}))
    out[i] = utf8_json(c.getresponse().read(), "burst").get("response")
    c.close()
threads = [threading.Thread(target=burst_client, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
b1 = w.metrics()
steps = b1["azc_steps_total"] - b0["azc_steps_total"]
four = (b1['azc_step_sequences_bucket{le="4"}'] - b1['azc_step_sequences_bucket{le="2"}']) - \
       (b0['azc_step_sequences_bucket{le="4"}'] - b0['azc_step_sequences_bucket{le="2"}'])
check(out == burst_seq, "burst of 4: each client got its sequential greedy text")
check(steps == 12 and four == 12, "burst of 4 at an idle model: %d steps, %d of them with all 4 sequences "
      "(want 12 and 12: one prefill step of all prompts, then 11 decode steps)" % (steps, four))
check(w.stop() == 0, "window server exits 0")
finish()
