#!/usr/bin/python3
"""azc's chat templates against Debian's python3-jinja2, on real templates.

For each template in TEMPLATES_DIR (../shared/templates: the chat templates of
19 models, as GGUF files carry them in tokenizer.chat_template), azc either
detects it as one of llama.cpp's builtin formats, or applies it by evaluating
it with its own Jinja evaluator (the "jinja" kind, as llama.cpp's --jinja
mode), or refuses it by name. The rule checked here: an applied template is
never misapplied, i.e. on every conversation below azc's rendering, through
the public chat-template API, is exactly what python3-jinja2 renders from
the template itself (in Hugging Face's environment: trim_blocks,
lstrip_blocks, loop controls, raise_exception, strftime_now, tojson, and the
variables llama.cpp's --jinja mode adds for some templates: Firefunction v2's
datetime and functions), after
llama.cpp's normalisation of a Jinja rendering (one leading bos_token and one
trailing eos_token removed, the tokenizer adds them). Where Jinja raises for a
conversation (gemma's "System role not supported"), azc must refuse that
conversation too (the jinja kind with the template's own message).
bos_token/eos_token are those of each model's vocabulary,
which is what llama.cpp passes.

A second check: azc's own Jinja evaluator (which azc uses to verify a
detection) renders each template exactly as python3-jinja2 does wherever it
accepts the template.

usage: compare_templates.py CHAT_RENDER (TEMPLATES_DIR | CASES.json) [--all-applied]
TEMPLATES_DIR: ../shared/templates. CASES.json: tests/chat/llama_cpp_chat_cases.json,
the templates of llama.cpp's tests/test-chat-template.cpp (in the project, so
always run), each with its own bos/eos.
--all-applied: a refused template is a failure too (every one of the 19 real
templates is a builtin or jinja).
Exit 0 when every template passes, 1 on a failure, 77 when TEMPLATES_DIR is
missing (../shared absent).
"""
import datetime
import json
import os
import subprocess
import sys

if sys.argv[0] and not sys.executable.startswith("/usr/bin/"):
    print("FAIL: must run under Debian's /usr/bin/python3 (python3-jinja2)")
    sys.exit(1)
try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("SKIPPED: python3-jinja2 is not installed (scripts/deps.sh installs it)")
    sys.exit(77)
if not jinja2.__file__.startswith("/usr/lib/python3/dist-packages/"):
    print("FAIL: jinja2 does not come from Debian's python3-jinja2:", jinja2.__file__)
    sys.exit(1)

chat_render, source = sys.argv[1], sys.argv[2]
all_applied = "--all-applied" in sys.argv[3:]

LLAMA3 = ("<|begin_of_text|>", "<|eot_id|>")
QWEN = ("<|endoftext|>", "<|im_end|>")
DEEPSEEK = ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")
COHERE = ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>")
# the BOS and EOS texts of each model's vocabulary
TOKENS = {
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja": COHERE,
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": COHERE,
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "Qwen-QwQ-32B.jinja": QWEN,
    "Qwen-Qwen2.5-7B-Instruct.jinja": QWEN,
    "Qwen-Qwen3-0.6B.jinja": QWEN,
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": DEEPSEEK,
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": DEEPSEEK,
    "fireworks-ai-llama-3-firefunction-v2.jinja": LLAMA3,
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>"),
    "llama-cpp-deepseek-r1.jinja": DEEPSEEK,
    "meetkai-functionary-medium-v3.1.jinja": LLAMA3,
    "meetkai-functionary-medium-v3.2.jinja": LLAMA3,
    "meta-llama-Llama-3.1-8B-Instruct.jinja": LLAMA3,
    "meta-llama-Llama-3.2-3B-Instruct.jinja": LLAMA3,
    "meta-llama-Llama-3.3-70B-Instruct.jinja": LLAMA3,
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
}
DEFAULT_TOKENS = ("<s>", "</s>")


def conv(gen, *msgs):
    return {"messages": [{"role": r, "content": c} for r, c in msgs], "add_generation_prompt": gen}


# Different from the probes azc verifies a detection with (runtime/chat_template.c).
CONVERSATIONS = [
    conv(True, ("user", "Hi, who are you?")),
    conv(True, ("system", "You are a pirate. Answer in pirate speak."), ("user", "Where is the treasure?")),
    conv(True, ("system", "Keep answers short."), ("user", "What's 2 + 2?"), ("assistant", "4."),
         ("user", "And times 3?"), ("assistant", "12."), ("user", "Thanks!")),
    conv(True, ("user", "  padded question  "), ("assistant", "\n padded answer \n"),
         ("user", "tabs\tand\nnewlines ")),
    conv(False, ("system", "System prompt."), ("user", "Hello"), ("assistant", "Hello there.")),
    conv(False, ("user", "Only the user")),
    conv(True, ("user", "Ünïcödé: Привет, 你好 👋"), ("assistant", "Ответ"), ("user", "ok")),
    conv(False, ("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2")),
    conv(True, ("system", "Multi\nline\nsystem"), ("user", "x"), ("assistant", "y"), ("user", "z"),
         ("assistant", "w"), ("user", "v")),
]


class Generation(jinja2.ext.Extension):
    """Hugging Face's {% generation %} marker: renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[Generation, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
# strftime_now formats today's date in azc as in llama.cpp; both sides here use
# one fixed date (chat_render gets it as "now"), so that the renderings compare
NOW = 1721952000  # 2024-07-26 00:00 UTC
env.globals["strftime_now"] = lambda fmt: datetime.datetime.fromtimestamp(
    NOW, datetime.timezone.utc).strftime(fmt)


def llama_cpp_extra(src):
    """the variables llama.cpp's --jinja mode adds for a template (common/chat.cpp, without
    tools): Firefunction v2 (" functools[") gets datetime and functions"""
    if " functools[" not in src:
        return {}
    return {"datetime": datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).strftime(
        "%b %d %Y %H:%M:%S GMT"), "functions": ""}


def jinja_render(src, c, bos, eos):
    """(raw text, or None when the template raises) for conversation c"""
    try:
        t = env.from_string(src)
        return t.render(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"],
                        bos_token=bos, eos_token=eos, **llama_cpp_extra(src)), None
    except Exception as e:  # TemplateError, UndefinedError, TypeError ...
        return None, "%s: %s" % (type(e).__name__, e)


def llama_cpp_prompt(text, bos, eos):
    """common/chat.cpp apply(): a leading bos_token and a trailing eos_token are removed"""
    if text.startswith(bos):
        text = text[len(bos):]
    if text.endswith(eos):
        text = text[:len(text) - len(eos)]
    return text


# (label, path, bos, eos)
templates = []
if source.endswith(".json"):
    import tempfile
    tmp = tempfile.mkdtemp(prefix="azc-chat-cases-")
    for i, c in enumerate(json.load(open(source, encoding="utf-8"))["cases"]):
        path = os.path.join(tmp, "case%02d.jinja" % i)
        with open(path, "w", encoding="utf-8") as f:
            f.write(c["template"])
        templates.append((c["name"][:50], path, c["bos"], c["eos"]))
elif os.path.isdir(source):
    for f in sorted(f for f in os.listdir(source) if f.endswith(".jinja")):
        bos, eos = TOKENS.get(f, DEFAULT_TOKENS)
        templates.append((f, os.path.join(source, f), bos, eos))
else:
    print("SKIPPED: %s is absent (../shared/templates)" % source)
    sys.exit(77)
job = {"templates": [{"file": p, "bos": b, "eos": e} for _, p, b, e in templates],
       "conversations": CONVERSATIONS, "now": NOW}
res = subprocess.run([chat_render], input=json.dumps(job), capture_output=True, text=True)
if res.returncode != 0:
    print("FAIL: chat_render exited %d: %s" % (res.returncode, res.stderr))
    sys.exit(1)
azc = json.loads(res.stdout)

failures = 0
builtin = jinja = refused = 0
evaluator_checked = 0
print("%-52s %-16s %s" % ("template", "azc", "llama.cpp heuristic / reason"))
for (f, path, bos, eos), a in zip(templates, azc):
    src = open(path, encoding="utf-8").read()
    if a["name"]:
        builtin += 1
        print("%-52s %-16s %s" % (f, "builtin " + a["name"],
                                  "(system messages refused)" if a["system_error"] else ""))
    elif a["jinja_kind"]:
        jinja += 1
        print("%-52s %-16s %s" % (f, "jinja", "not a builtin: " + a["reason"]))
        if a.get("kind") != "jinja":
            print("  FAIL: the template applied is %r, not the jinja kind" % a.get("kind"))
            failures += 1
    else:
        refused += 1
        print("%-52s %-16s %s" % (f, "refused", (a["guess"] + ": " if a["guess"] else "") + a["reason"]))
        if all_applied:
            print("  FAIL: refused (every one of these templates must be a builtin or jinja)")
            failures += 1
    for i, c in enumerate(CONVERSATIONS):
        ref, err = jinja_render(src, c, bos, eos)
        # azc's evaluator must agree with python3-jinja2 wherever it answers
        j = a["jinja"][i]
        if j is not None and j["result"] != "unsupported":
            evaluator_checked += 1
            if j["result"] == "ok" and ref is None:
                print("  FAIL evaluator: conversation %d: azc rendered, jinja2 raised %s" % (i, err))
                failures += 1
            elif j["result"] != "ok" and ref is not None:
                print("  FAIL evaluator: conversation %d: azc %s (%s), jinja2 rendered" %
                      (i, j["result"], j["message"]))
                failures += 1
            elif j["result"] == "ok" and j["text"] != ref:
                print("  FAIL evaluator: conversation %d:\n    azc    %r\n    jinja2 %r" % (i, j["text"], ref))
                failures += 1
        if not a["name"] and not a["jinja_kind"]:
            continue
        mine = a["renders"][i]
        if ref is None:
            if mine is not None:
                print("  FAIL: conversation %d: jinja2 raised (%s) but azc rendered %r" % (i, err, mine))
                failures += 1
            elif a["jinja_kind"] and err.startswith("TemplateError: ") and \
                    err[len("TemplateError: "):] not in a["errors"][i]:
                print("  FAIL: conversation %d: azc's error does not carry the template's message "
                      "%r: %s" % (i, err, a["errors"][i]))
                failures += 1
            continue
        want = llama_cpp_prompt(ref, bos, eos)
        if mine != want:
            print("  FAIL misapplied: conversation %d:\n    azc    %r\n    jinja2 %r" % (i, mine, want))
            failures += 1
print("%d templates: %d applied (%d builtin, %d jinja), %d refused; %d conversations each; azc's "
      "evaluator checked on %d renderings; %d failures" %
      (len(templates), builtin + jinja, builtin, jinja, refused, len(CONVERSATIONS),
       evaluator_checked, failures))
sys.exit(1 if failures else 0)
