#!/usr/bin/env python3
"""GPU offload in the server, over the libcuda stand-in (tests/gpu/cuda_standin.c,
loaded as AZC_LIBCUDA, running host builds of the bundle's own CUDA source):
the tiny-llama of make_model.sh compiled with GPU code (azc compile
--gpu-arch sm_80,sm_90 -ngl 99).

- `azc-serve -ngl 99`: greedy text equals `azc run -ngl 99`'s and the CPU
  run's (the GPU tests ask the same greedy tokens of every placement);
  /api/ps shows size_vram > 0 (and size >= size_vram); the placement is logged.
- `-ngl 0`: a first request with num_gpu 99 loads the model on the GPU
  (no reload); the next, without num_gpu, reloads it: the same text,
  size_vram 0.
- options.num_gpu 0, then 99, then none (the server's -ngl 99 again): each
  differing placement reloads the model (load_duration > 0, /api/ps
  follows), and every answer is the same text.
- `azc serve tiny.gguf -ngl 99`: the GGUF is compiled with GPU code and
  served on the GPU.
- a bundle without GPU code under -ngl 99 and with num_gpu 99: served on the
  CPU, one warning in the log.
- no driver (AZC_LIBCUDA pointing at nothing): served on the CPU, the
  fallback said once across a num_gpu reload.
Skips (77) when azc has no NVRTC (GPU code generation not built in).
usage: test_serve_gpu.py AZC_SERVE WORK AZC STANDIN_LIB AZC_GPU_CHECK CXX SOURCE_DIR [EMU_FLAGS...]"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import Server, UTF8_BAD, check, finish, greedy

serve_bin, work, azc, standin, gpu_check, cxx, src = sys.argv[1:8]
emu_flags = sys.argv[8:]
work = os.path.abspath(work)
gguf = os.path.join(work, "tiny.gguf")
cpu_bundle = os.path.join(work, "tiny.bundle")
gpu_bundle = os.path.join(work, "tiny-gpu.bundle")
modules = os.path.join(work, "gpu-modules")
env = {"AZC_HOME": os.path.join(work, "home-gpu"), "AZC_CACHE_DIR": os.path.join(work, "cache"),
       "AZC_LIBCUDA": standin, "AZC_STANDIN_MODULES": modules, "AZC_NO_HANDOFF": "1"}
PROMPT, N = "Once upon a time", 8
N_LAYER = 2  # azc mkmodel --shape tiny-llama

e = dict(os.environ)
e.update(env)
r = subprocess.run([azc, "compile", gguf, "-o", gpu_bundle, "--gpu-arch", "sm_80,sm_90", "-ngl", "99"],
                   env=e, capture_output=True, text=True)
if r.returncode != 0 and "not built in" in r.stderr:
    print("skip: " + r.stderr.strip())
    sys.exit(77)
check(r.returncode == 0, "azc compile tiny.gguf --gpu-arch sm_80,sm_90 -ngl 99%s"
      % ("" if r.returncode == 0 else ": " + r.stderr[-400:]))
r = subprocess.run([gpu_check, "modules", gpu_bundle, modules, cxx, src] + emu_flags, env=e,
                   capture_output=True, text=True)
if not check(r.returncode == 0, "the stand-in's host build of the bundle's CUDA source%s"
             % ("" if r.returncode == 0 else ": " + r.stderr[-400:])):
    finish()


def run(bundle, ngl):
    r = subprocess.run([azc, "run", bundle, "-p", PROMPT, "-n", str(N), "--temp", "0", "-c", "64",
                        "-ngl", str(ngl), "--json"], env=e, capture_output=True, text=True)
    check(r.returncode == 0, "azc run %s -ngl %d%s" % (os.path.basename(bundle), ngl,
                                                       "" if r.returncode == 0 else ": " + r.stderr[-300:]))
    return json.loads(r.stdout.strip().splitlines()[-1])["text"] if r.returncode == 0 else None, r.stderr


cpu_text, _ = run(cpu_bundle, 0)
gpu_text, err = run(gpu_bundle, 99)
check("offload: %d/%d layers on cuda0" % (N_LAYER, N_LAYER) in err, "azc run -ngl 99 places every layer on the stand-in")
check(cpu_text is not None and gpu_text == cpu_text, "azc run: -ngl 99 gives the CPU run's greedy text (%r, %r)"
      % (gpu_text, cpu_text))


def gen(s, model, **opts):
    body = {"model": model, "prompt": PROMPT, "raw": False, "stream": False, "options": greedy(N, **opts)}
    return s.json("POST", "/api/generate", body)


def ps(s, model):
    st, j = s.json("GET", "/api/ps")
    for m in j.get("models", []):
        if m["name"] == model:
            return m
    return {}


def log(path):
    with open(path) as f:
        return f.read()


# ---- -ngl 99, then options.num_gpu 0 / 99 / none ----
lp = os.path.join(work, "gpu-99.log")
s = Server(serve_bin, ["--parallel", "1", "-c", "64", "-ngl", "99", gpu_bundle], lp, env)
st, j = gen(s, "tiny-gpu")
check(st == 200 and j.get("response") == gpu_text, "serve -ngl 99: the text of azc run -ngl 99 (%s %r)"
      % (st, j.get("response", j.get("error"))))
m = ps(s, "tiny-gpu")
check(m.get("size_vram", 0) > 0 and m.get("size", 0) >= m["size_vram"],
      "/api/ps -ngl 99: size_vram %s > 0, size %s >= it" % (m.get("size_vram"), m.get("size")))
vram99 = m.get("size_vram", 0)
check("tiny-gpu: placement (num_gpu %d): %d/%d layers on the GPU" % (N_LAYER, N_LAYER, N_LAYER) in log(lp),
      "the placement line is logged at load")
st, j = gen(s, "tiny-gpu", num_gpu=0)
check(st == 200 and j.get("load_duration", 0) > 0 and j.get("response") == gpu_text,
      "num_gpu 0: reloaded on the CPU (load_duration %s), the same text" % j.get("load_duration"))
check(ps(s, "tiny-gpu").get("size_vram") == 0, "/api/ps after num_gpu 0: size_vram 0 (%s)" % ps(s, "tiny-gpu"))
st, j = gen(s, "tiny-gpu", num_gpu=0)
check(st == 200 and j.get("load_duration") == 0 and j.get("response") == gpu_text,
      "num_gpu 0 again: no reload (load_duration %s)" % j.get("load_duration"))
st, j = gen(s, "tiny-gpu", num_gpu=99)
check(st == 200 and j.get("load_duration", 0) > 0 and j.get("response") == gpu_text,
      "num_gpu 99: reloaded on the GPU (load_duration %s), the same text" % j.get("load_duration"))
check(ps(s, "tiny-gpu").get("size_vram") == vram99, "/api/ps after num_gpu 99: size_vram %s again" % vram99)
st, j = gen(s, "tiny-gpu", num_gpu=0)
st2, j2 = gen(s, "tiny-gpu")
check(st2 == 200 and j2.get("load_duration", 0) > 0 and j2.get("response") == gpu_text and
      ps(s, "tiny-gpu").get("size_vram") == vram99,
      "a request without num_gpu after num_gpu 0: back to the server's -ngl 99 (load_duration %s)"
      % j2.get("load_duration"))
st, j = s.json("POST", "/api/chat", {"model": "tiny-gpu", "stream": False, "options": greedy(4, num_gpu=0),
                                       "messages": [{"role": "user", "content": "hi"}]})
check(st == 200 and j.get("load_duration", 0) > 0 and ps(s, "tiny-gpu").get("size_vram") == 0,
      "/api/chat's options.num_gpu 0 reloads too (%s, load_duration %s)" % (st, j.get("load_duration")))
st, j = s.json("POST", "/api/generate", {"model": "tiny-gpu", "options": {"num_gpu": 99}})
check(st == 200 and j.get("done_reason") == "load" and j.get("load_duration", 0) > 0 and
      ps(s, "tiny-gpu").get("size_vram") == vram99,
      "a preload (no prompt) with num_gpu 99 places the model on the GPU (%s, %s)" % (st, j))
check(s.stop() == 0, "the server exits cleanly")

# ---- -ngl 0 ----
lp = os.path.join(work, "gpu-0.log")
s = Server(serve_bin, ["--parallel", "1", "-c", "64", "-ngl", "0", gpu_bundle], lp, env)
st, j = gen(s, "tiny-gpu", num_gpu=99)
check(st == 200 and j.get("response") == gpu_text and ps(s, "tiny-gpu").get("size_vram") == vram99 and
      "reloading" not in log(lp) and log(lp).count("tiny-gpu: placement (") == 1,
      "serve -ngl 0, the first request with num_gpu 99: loaded on the GPU at once (no reload)")
st, j = gen(s, "tiny-gpu")
m = ps(s, "tiny-gpu")
check(st == 200 and j.get("response") == cpu_text and m.get("size_vram") == 0 and m.get("size", 0) > 0,
      "serve -ngl 0: the CPU text, /api/ps size_vram 0, size %s" % m.get("size"))
check(s.stop() == 0, "the server exits cleanly")

# ---- azc serve MODEL.gguf -ngl 99: compiled with GPU code ----
lp = os.path.join(work, "gpu-gguf.log")
s = Server(azc, ["serve", "--parallel", "1", "-c", "64", "-ngl", "99", gguf], lp, env)
st, j = gen(s, "tiny")
m = ps(s, "tiny")
check(st == 200 and j.get("response") == gpu_text and m.get("size_vram", 0) > 0,
      "azc serve tiny.gguf -ngl 99: compiled with GPU code, the same text, size_vram %s > 0"
      % m.get("size_vram"))
check("has no GPU code" not in log(lp), "no 'no GPU code' warning for it")
check(s.stop() == 0, "the server exits cleanly")

# ---- a bundle without GPU code asked for the GPU ----
lp = os.path.join(work, "gpu-cpu-bundle.log")
s = Server(serve_bin, ["--parallel", "1", "-c", "64", "-ngl", "99", cpu_bundle], lp, env)
st, j = gen(s, "tiny")
st2, j2 = gen(s, "tiny", num_gpu=99)
st3, j3 = gen(s, "tiny", num_gpu=0)
check(st == st2 == st3 == 200 and j.get("response") == j2.get("response") == j3.get("response") == cpu_text
      and j2.get("load_duration") == 0 and j3.get("load_duration") == 0,
      "no GPU code, -ngl 99 / num_gpu 99 / num_gpu 0: served on the CPU, no reloads (%s %s %s)" % (st, st2, st3))
check(log(lp).count("has no GPU code, so it runs on the CPU") == 1, "one warning in the log")
check(ps(s, "tiny").get("size_vram") == 0, "/api/ps: size_vram 0")
check(s.stop() == 0, "the server exits cleanly")

# ---- no driver ----
lp = os.path.join(work, "gpu-nodriver.log")
env_nd = dict(env, AZC_LIBCUDA="/nonexistent/libcuda.so.1")
s = Server(serve_bin, ["--parallel", "1", "-c", "64", "-ngl", "99", gpu_bundle], lp, env_nd)
st, j = gen(s, "tiny-gpu")
st2, j2 = gen(s, "tiny-gpu", num_gpu=0)
st3, j3 = gen(s, "tiny-gpu", num_gpu=1)
check(st == st2 == st3 == 200 and j.get("response") == j2.get("response") == j3.get("response") == cpu_text,
      "no driver: served on the CPU at every num_gpu (%s %s %s)" % (st, st2, st3))
check(log(lp).count("GPU offload off: no CUDA driver") == 1 and ps(s, "tiny-gpu").get("size_vram") == 0,
      "no driver: the fallback said once, size_vram 0")
check(s.stop() == 0, "the server exits cleanly")

check(not UTF8_BAD, "every body is valid UTF-8 %s" % UTF8_BAD)
finish()
