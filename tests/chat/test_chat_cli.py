#!/usr/bin/python3
"""`azc chat` and `azc run --chat` through the binary, as `ollama run` is used.

A tiny model (random weights, azc mkmodel) carrying Phi-3.5's chat template
(which azc detects as phi3) goes into a model store with a Modelfile
(temperature 0, SYSTEM). Then:
  - turns read from a pipe, one per line; --verbose prints each turn's prompt
    tokens, how many came from the KV cache and how many were prefilled: the
    second turn reuses at least the whole first prompt and prefills only the
    rest; /set parameter changes num_predict for the next turn; /clear starts
    over; /show info names the template; /bye ends the session (later lines
    are not read); an unknown /command and a bad /set are reported and the
    session goes on;
  - Ctrl-C (SIGINT) during a long answer stops that answer only: the session
    answers the next turn; a SIGINT while waiting for input does not end it;
  - `azc run -p` applies no template (prompt tokens = BOS + the text's), and
    `azc run -p --chat` does;
  - the product path against python3-jinja2: tiny models carrying real
    templates, builtin (Phi-3.5, gemma-2) and the jinja kind, evaluated by
    azc (Llama-3.1, Llama-3.2 with today's date from strftime_now, Qwen2.5),
    render in `azc run --chat` exactly the prompt python3-jinja2 renders;
    `azc chat` uses the same template (/show info, the first turn's prompt
    tokens); a jinja template's raise_exception is one error line carrying
    its message; a template with a construct azc lacks is refused by name.
usage: test_chat_cli.py AZC TEMPLATES_DIR
"""
import os
import re
import signal
import subprocess
import sys
import time

azc, templates = os.path.realpath(sys.argv[1]), sys.argv[2]
tmp = os.environ.get("AZC_TEST_TMP", "/tmp/azc-test-chat-cli")
phi = os.path.join(templates, "microsoft-Phi-3.5-mini-instruct.jinja")
if not os.path.exists(phi):
    print("SKIP: %s (../shared) missing" % templates)
    sys.exit(77)
os.makedirs(tmp, exist_ok=True)
env = dict(os.environ, AZC_HOME=os.path.join(tmp, "home"), AZC_CACHE_DIR=os.path.join(tmp, "cache"))
env.pop("XDG_DATA_HOME", None)
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else ": " + detail))
    if not ok:
        fails += 1


def azc_run(*args, stdin=None):
    return subprocess.run([azc] + list(args), input=stdin, capture_output=True, env=env, timeout=600)


gguf = os.path.join(tmp, "m.gguf")
r = azc_run("mkmodel", "--shape", "tiny-llama", "--type", "q8_0", "-o", gguf, "--chat-template", phi)
check("mkmodel", r.returncode == 0, r.stderr.decode())
with open(os.path.join(tmp, "Modelfile"), "w") as f:
    f.write("FROM ./m.gguf\nPARAMETER temperature 0\nPARAMETER num_predict 24\nSYSTEM You are terse.\n")
r = azc_run("create", "tiny", "-f", os.path.join(tmp, "Modelfile"))
check("create", r.returncode == 0, r.stderr.decode()[-2000:])

TURN = re.compile(r"prompt tokens: +(\d+) \((\d+) from the KV cache, (\d+) prefilled")
EVAL = re.compile(r"eval count: +(\d+)")
REASON = re.compile(r"done reason: +(\w+)")

# ---- turns from a pipe ----
script = ("Hello\nHow are you?\n/show info\n/set parameter num_predict 3\n/nonsense\n"
          "/set parameter top_p 7\nThird\n/clear\nFourth\n/bye\nnever read\n")
r = azc_run("chat", "tiny", "--verbose", stdin=script.encode())
out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
check("chat from a pipe: exit 0", r.returncode == 0, err[-1500:])
turns = [tuple(map(int, m)) for m in TURN.findall(err)]
evals = [int(x) for x in EVAL.findall(err)]
check("four turns answered, the line after /bye not read", len(turns) == 4, str(turns))
if len(turns) == 4:
    (n1, r1, p1), (n2, r2, p2), (n3, r3, p3), (n4, r4, p4) = turns
    check("turn 1: nothing cached, all prefilled", r1 == 0 and p1 == n1, str(turns[0]))
    check("turn 2: the first turn's prompt comes from the KV cache", r2 >= n1, str(turns))
    check("turn 2: only the new tokens are prefilled", p2 == n2 - r2 and p2 < n2 - n1, str(turns))
    check("turn 3: history reused again", r3 >= n2 and p3 == n3 - r3, str(turns))
    check("/clear: turn 4 renders a short conversation again", n4 < n2, str(turns))
    check("/set parameter num_predict 3 applies to the next turns",
          len(evals) == 4 and evals[0] <= 24 and evals[2] <= 3 and evals[3] <= 3, str(evals))
check("/show info names the template", "phi3" in out and "context length" in out, out[-800:])
check("/set parameter answers as Ollama does", "Set parameter 'num_predict' to '3'" in out)
check("unknown command reported", "Unknown command '/nonsense'" in out)
check("bad /set parameter is one error line, the session goes on",
      "azc: error: top_p 7 is out of range" in err and len(turns) == 4, err[-600:])
check("/clear answers", "Cleared session context" in out)
check("summary at the end", re.search(r"azc: chat: 4 turns; \d+ prompt tokens prefilled \(\d+ reused", err) is not None)

# ---- a turn that cannot run is reported; the session goes on ----
r = azc_run("chat", "tiny", "--verbose", "-c", "96", stdin=("x" * 300 + "\nHi\n").encode())
err = r.stderr.decode("utf-8", "replace")
check("a message longer than the context: one error, the next turn answered",
      r.returncode == 0 and err.count("azc: error:") == 1 and "the context holds 96" in err
      and len(TURN.findall(err)) == 1, err[-600:])

# ---- Ctrl-C stops the answer, not the session ----
p = subprocess.Popen([azc, "chat", "tiny", "--verbose", "-c", "8192"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
os.set_blocking(p.stdout.fileno(), False)
p.stdin.write(b"/set parameter num_predict -1\nHello\n")
p.stdin.flush()
got, t0 = b"", time.time()
while len(got) < 200 and time.time() - t0 < 120 and p.poll() is None:
    try:
        chunk = os.read(p.stdout.fileno(), 4096)
        got += chunk or b""
    except BlockingIOError:
        time.sleep(0.01)
p.send_signal(signal.SIGINT)  # mid-answer
time.sleep(0.5)
p.send_signal(signal.SIGINT)  # while waiting for the next line
time.sleep(0.2)
alive = p.poll() is None
os.set_blocking(p.stdout.fileno(), True)
try:
    rest, err = p.communicate(b"/set parameter num_predict 4\nAgain\n/bye\n", timeout=300)
except subprocess.TimeoutExpired:
    p.kill()
    rest, err = p.communicate()
out, err = (got + rest).decode("utf-8", "replace"), err.decode("utf-8", "replace")
reasons = REASON.findall(err)
check("Ctrl-C: the session survives both signals", alive and p.returncode == 0, "rc=%s %s" % (p.returncode, err[-800:]))
check("Ctrl-C: the long answer was stopped", reasons[:1] == ["cancelled"] and "(stopped)" in out, str(reasons))
check("Ctrl-C: the next turn is answered", len(reasons) == 2 and reasons[1] in ("length", "stop"), str(reasons))
turns = [tuple(map(int, m)) for m in TURN.findall(err)]
check("after Ctrl-C: the stopped answer's tokens are reused", len(turns) == 2 and turns[1][1] > turns[0][0], str(turns))

# ---- azc run -p: no template unless --chat ----
r = azc_run("run", "tiny", "-p", "Hello", "-n", "2", "--json")
import json
plain = json.loads(r.stdout.decode())["prompt_tokens"] if r.returncode == 0 else []
check("run -p: no template (BOS + 5 tokens of 'Hello')", len(plain) == 6, str(plain))
r = azc_run("run", "tiny", "-p", "Hello", "-n", "2", "--chat")
err = r.stderr.decode()
m = re.search(r"prompt += +[\d.]+ ms / +(\d+) tokens", err)
check("run -p --chat: the template applies", r.returncode == 0 and "chat template = phi3" in err
      and m is not None and int(m.group(1)) > 20, err[-800:])
# ---- the product path against python3-jinja2 ----
# A GGUF carrying each detected real template, compiled with a Modelfile
# (SYSTEM where the template allows one): the prompt `azc run --chat` gives
# the model is what Debian's python3-jinja2 renders from the template itself,
# after llama.cpp's normalisation, with the tiny vocabulary's BOS/EOS.
try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    jenv = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                         extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)
    jenv.globals["raise_exception"] = raise_exception
    # azc's strftime_now is the real local date at run time, as llama.cpp's
    import datetime
    jenv.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
except ImportError:
    jenv = None
check("python3-jinja2 from Debian", jenv is not None and jinja2.__file__.startswith("/usr/lib/python3/"))
E2E = (("microsoft-Phi-3.5-mini-instruct.jinja", "phi3", "phi3", "Answer briefly."),
       ("google-gemma-2-2b-it.jinja", "gemma", "gemma", None),
       ("meta-llama-Llama-3.1-8B-Instruct.jinja", "llama31", "jinja", "Answer briefly."),
       ("meta-llama-Llama-3.2-3B-Instruct.jinja", "llama32", "jinja", None),
       ("Qwen-Qwen2.5-7B-Instruct.jinja", "qwen25", "jinja", None))
for tfile, name, kind, system in E2E:
    if jenv is None:
        break
    src_path = os.path.join(templates, tfile)
    g = os.path.join(tmp, name + ".gguf")
    r = azc_run("mkmodel", "--shape", "tiny-llama", "--type", "q8_0", "-o", g, "--chat-template", src_path)
    mf = os.path.join(tmp, name + ".Modelfile")
    with open(mf, "w") as f:
        f.write("FROM ./%s.gguf\nPARAMETER temperature 0\n%s" % (name, "SYSTEM %s\n" % system if system else ""))
    r = azc_run("create", "e2e-" + name, "-f", mf)
    check("create e2e-" + name, r.returncode == 0, r.stderr.decode()[-800:])
    user = "Salam, necesen?"
    r = azc_run("run", "e2e-" + name, "-p", user, "-n", "2", "--chat", "--json")
    got = json.loads(r.stdout.decode()) if r.returncode == 0 else {}
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    want = jenv.from_string(open(src_path, encoding="utf-8").read()).render(
        messages=msgs, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    if want.startswith("<s>"):
        want = want[3:]
    if want.endswith("</s>"):
        want = want[:-4]
    check("%s: azc run --chat renders the prompt python3-jinja2 renders (%s)" % (name, kind),
          got.get("template") == kind and got.get("prompt") == want, "%r vs %r" % (got.get("prompt"), want))
    if kind != "jinja":
        continue
    # azc chat: the same template, named, and the same prompt (its token count)
    r = azc_run("chat", "e2e-" + name, "--verbose", "-n", "2", stdin=("/show info\n%s\n" % user).encode())
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    turns = [tuple(map(int, m)) for m in TURN.findall(err)]
    check("%s: azc chat names the jinja kind" % name,
          r.returncode == 0 and "jinja (the GGUF's, evaluated by azc)" in out, out[-600:] + err[-600:])
    check("%s: azc chat's first turn is the same prompt (%s tokens)" % (name, got.get("prompt_tokens")),
          len(turns) == 1 and turns[0][0] == got.get("prompt_tokens"), str(turns))
# a jinja template that rejects system messages: azc run --chat with a SYSTEM
# is one error line carrying the template's own message, not a crash
with open(os.path.join(tmp, "nosys.jinja"), "w") as f:
    f.write("{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('No system "
            "role, sorry') }}{% endif %}<|user|>{{ m.content }}<|end|>{% endfor %}"
            "{% if add_generation_prompt %}<|bot|>{% endif %}")
r = azc_run("mkmodel", "--shape", "tiny-llama", "--type", "q8_0", "-o", os.path.join(tmp, "nosys.gguf"),
            "--chat-template", os.path.join(tmp, "nosys.jinja"))
with open(os.path.join(tmp, "nosys.Modelfile"), "w") as f:
    f.write("FROM ./nosys.gguf\nSYSTEM Be brief.\n")
r = azc_run("create", "e2e-nosys", "-f", os.path.join(tmp, "nosys.Modelfile"))
check("create e2e-nosys", r.returncode == 0, r.stderr.decode()[-800:])
r = azc_run("run", "e2e-nosys", "-p", "Hi", "-n", "2", "--chat")
err = r.stderr.decode()
check("jinja raise_exception: one error line with the template's message", r.returncode == 1
      and err.count("azc: error:") == 1 and "No system role, sorry" in err, err[-500:])
r = azc_run("run", os.path.join(tmp, "nosys.gguf"), "-p", "Hi", "-n", "2", "--chat", "--json")
got = json.loads(r.stdout.decode()) if r.returncode == 0 else {}
check("jinja template without a system message: applied", got.get("prompt") == "<|user|>Hi<|end|><|bot|>"
      and got.get("template") == "jinja", r.stderr.decode()[-500:])
# a construct azc's evaluator lacks: the model is refused by name, never misapplied
with open(os.path.join(tmp, "lacks.jinja"), "w") as f:
    f.write("{% for m in messages %}<|user|>{{ m.content | wordwrap(20) }}<|end|>{% endfor %}")
r = azc_run("mkmodel", "--shape", "tiny-llama", "--type", "q8_0", "-o", os.path.join(tmp, "lacks.gguf"),
            "--chat-template", os.path.join(tmp, "lacks.jinja"))
r = azc_run("run", os.path.join(tmp, "lacks.gguf"), "-p", "Hi", "-n", "2", "--chat")
err = r.stderr.decode()
check("a template with a construct azc lacks: refused naming it", r.returncode == 1
      and "the filter 'wordwrap'" in err and "TEMPLATE" in err, err[-500:])
# gemma's template raises for a system message: so does azc, with one line
with open(os.path.join(tmp, "gemma-sys.Modelfile"), "w") as f:
    f.write("FROM ./gemma.gguf\nSYSTEM Be brief.\n")
r = azc_run("create", "e2e-gemma-sys", "-f", os.path.join(tmp, "gemma-sys.Modelfile"))
r = azc_run("run", "e2e-gemma-sys", "-p", "Hi", "-n", "2", "--chat")
err = r.stderr.decode()
check("gemma: a system message is refused as its template refuses it", r.returncode == 1
      and err.count("azc: error:") == 1 and "system" in err.lower(), err[-500:])

# speculative decoding in a chat: a Modelfile's DRAFT (the model as its own
# draft: every greedy draft accepted) and --draft lookup answer the piped
# turns exactly as plain decoding (--no-draft) does, in fewer passes
with open(os.path.join(tmp, "draft.Modelfile"), "w") as f:
    f.write("FROM ./m.gguf\nDRAFT ./m.gguf\nPARAMETER temperature 0\nPARAMETER num_predict 32\n")
r = azc_run("create", "tiny-draft", "-f", os.path.join(tmp, "draft.Modelfile"))
check("create with DRAFT", r.returncode == 0, r.stderr.decode()[-800:])
piped = b"Salam salam salam\nNecesen? Necesen?\n"
plain = azc_run("chat", "tiny-draft", "--no-draft", stdin=piped)
for flags, name in [((), "model"), (("--draft", "lookup"), "lookup")]:
    d = azc_run("chat", "tiny-draft", "--verbose", *flags, stdin=piped)
    err = d.stderr.decode()
    m = re.search(r"drafting \((\w+)\): (\d+) proposed, (\d+) accepted", err)
    check("azc chat drafting (%s): same answers as --no-draft" % name,
          plain.returncode == 0 and d.returncode == 0 and d.stdout == plain.stdout and len(plain.stdout) > 20,
          "%r vs %r" % (d.stdout[-300:], plain.stdout[-300:]))
    check("azc chat drafting (%s): the summary names the drafter and counts accepted drafts" % name,
          m is not None and m.group(1) == name and int(m.group(3)) > 0
          and (name != "model" or m.group(2) == m.group(3)), err[-600:])

print("%d failed" % fails)
sys.exit(1 if fails else 0)
