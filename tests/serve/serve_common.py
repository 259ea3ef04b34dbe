"""Shared pieces of the server tests: start `azc-serve` on a free port, send
requests with http.client (no client library of ours between the test and
the wire), check that every body is valid UTF-8, and a tiny ASSERT-style
checker that counts failures."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

FAILS = 0


def check(cond, what):
    global FAILS
    if cond:
        print("ok   " + what)
    else:
        FAILS += 1
        print("FAIL " + what)
    sys.stdout.flush()
    return cond


def finish():
    print("%d failures" % FAILS)
    sys.exit(1 if FAILS else 0)


class Server:
    def __init__(self, binary, args, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([binary] + args + ["--port", "0"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e)
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            time.sleep(0.05)
            if self.proc.poll() is not None:
                break
            with open(log_path) as f:
                m = re.search(r"listening on http://[^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            with open(log_path) as f:
                sys.stdout.write(f.read())
            raise RuntimeError("server did not start: " + " ".join(args))
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers, body bytes)"""
        c = self.conn(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, body=None, **kw):
        st, h, data = self.request(method, path, body, **kw)
        return st, utf8_json(data, path)

    def metrics(self):
        st, h, data = self.request("GET", "/metrics")
        out = {}
        for line in data.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
        return out


UTF8_BAD = []  # bodies that were not valid UTF-8


def utf8_json(data, what):
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        UTF8_BAD.append("%s: %s" % (what, e))
        text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return {"_not_json": text}


def ndjson(data, what):
    return [utf8_json(l.encode(), what) for l in data.decode("utf-8", "replace").splitlines() if l.strip()]


def sse(data, what):
    """The events' JSON objects, and whether the stream ended with [DONE]."""
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        UTF8_BAD.append("%s: %s" % (what, e))
    events, done, bad = [], False, 0
    for block in data.decode("utf-8", "replace").split("\n\n"):
        block = block.strip()
        if not block:
            continue
        bad += not block.startswith("data: ")
        payload = block[6:]
        if payload == "[DONE]":
            done = True
        else:
            events.append(json.loads(payload))
    check(bad == 0, "%s: every SSE event starts with 'data: '" % what)
    return events, done


def greedy(n, **extra):
    o = {"temperature": 0, "num_predict": n}
    o.update(extra)
    return o
