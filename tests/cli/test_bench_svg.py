#!/usr/bin/env python3
"""azc bench --svg: the chart is well-formed SVG and holds the run's numbers.

Runs `azc bench stories260K --json --svg` once (short tests: -p 32 -n 16,
one repetition) and checks, against the JSON of the same run, that:
  - the file parses as XML with an <svg> root in the SVG namespace;
  - there is one panel per test (pp16, pp32, tg16) and in each a bar per
    engine that was measured (compiled, eager), whose data-value is the
    JSON's median_tps (to 0.001) and whose height is proportional to it
    (bars of one panel share an axis from 0; to the 0.1 px they are written to);
  - the decode panel, and only it, has a roofline whose data-value is the
    JSON's roofline_tps, drawn where its value lies on that panel's axis;
  - the value printed above each bar is its median to one decimal.
Then a hand-made chart for a model name with markup in it (<&">) is still
well-formed (the text is escaped).
usage: test_bench_svg.py AZC SHARED_DIR TMP
Skips (77) only when ../shared's stories260K is missing."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

azc, shared, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
model = os.path.join(shared, "models", "stories260K.gguf")
if not os.path.exists(model):
    print("SKIPPED: no", model)
    sys.exit(77)
os.makedirs(tmp, exist_ok=True)
env = dict(os.environ, AZC_CACHE_DIR=os.path.join(tmp, "cache"))
NS = "{http://www.w3.org/2000/svg}"
fails = 0


def check(name, ok, detail=""):
    global fails
    if not ok:
        fails += 1
        print("FAIL", name, detail)


def bench(model_path, svg):
    out = subprocess.run([azc, "bench", model_path, "-t", "2", "-r", "1", "--eager-reps", "1",
                          "-p", "32", "-n", "16", "--json", "--svg", svg],
                         env=env, capture_output=True, timeout=600)
    if out.returncode != 0:
        print("FAIL azc bench:", out.stderr.decode(errors="replace")[-2000:])
        sys.exit(1)
    return json.loads(out.stdout)


svg_path = os.path.join(tmp, "bench.svg")
result = bench(model, svg_path)
root = ET.parse(svg_path).getroot()
check("svg root", root.tag == NS + "svg", root.tag)

panels = {p.get("data-test"): p for p in root.iter(NS + "g") if p.get("class") == "panel"}
check("three panels", sorted(panels) == ["pp16", "pp32", "tg16"], sorted(panels))
roof = result["roofline_tps"]
check("roofline measured", roof > 0, roof)
for test, panel in panels.items():
    bars = {r.get("data-engine"): r for r in panel.iter(NS + "rect") if r.get("class") == "bar"}
    check(test + " bars", sorted(bars) == ["compiled", "eager"], sorted(bars))
    axis_y = None
    for engine, rect in bars.items():
        want = result[engine][test]["median_tps"]
        got = float(rect.get("data-value"))
        check(f"{test} {engine} value", abs(got - want) <= 1e-3 + 1e-6 * want, f"{got} vs {want}")
        y, h = float(rect.get("y")), float(rect.get("height"))
        check(f"{test} {engine} height", h > 0, h)
        axis_y = y + h if axis_y is None else axis_y
        check(f"{test} {engine} on the axis", abs(y + h - axis_y) < 0.2, f"{y + h} vs {axis_y}")
        labels = [t.text for t in panel.iter(NS + "text")]
        check(f"{test} {engine} label", f"{want:.1f}" in labels, f"{want:.1f} not in {labels}")
    c, e = bars.get("compiled"), bars.get("eager")
    if c is not None and e is not None:
        # one scale per panel (px per t/s, from the taller bar): heights are
        # written to 0.1 px, so each is within 0.1 px of value x scale
        tall = max((c, e), key=lambda r: float(r.get("height")))
        scale = float(tall.get("height")) / float(tall.get("data-value"))
        for r in (c, e):
            want_h = float(r.get("data-value")) * scale
            check(f"{test} {r.get('data-engine')} height proportional",
                  abs(float(r.get("height")) - want_h) <= 0.1, f"{r.get('height')} vs {want_h}")
    lines = [ln for ln in panel.iter(NS + "line") if ln.get("class") == "roofline"]
    if test.startswith("tg"):
        check(test + " roofline", len(lines) == 1, len(lines))
        if lines and c is not None:
            ln = lines[0]
            check("roofline value", abs(float(ln.get("data-value")) - roof) <= 1e-3 + 1e-6 * roof,
                  f"{ln.get('data-value')} vs {roof}")
            # on the same axis as the bars: y(v) = axis - v * (height / value)
            per_tps = float(c.get("height")) / float(c.get("data-value"))
            want_y = axis_y - roof * per_tps
            check("roofline placement", abs(float(ln.get("y1")) - want_y) < 0.5,
                  f"{ln.get('y1')} vs {want_y}")
    else:
        check(test + " no roofline", not lines, len(lines))

# markup in the model's name is escaped
odd = os.path.join(tmp, 'a<b&c">d.gguf')
if not os.path.exists(odd):
    os.symlink(model, odd)
bench(odd, os.path.join(tmp, "odd.svg"))
try:
    title = ET.parse(os.path.join(tmp, "odd.svg")).getroot().find(NS + "text").text
    check("escaped title", 'a<b&c">d.gguf' in title, title)
except ET.ParseError as err:
    check("odd name well-formed", False, str(err))

if fails:
    sys.exit(1)
print("ok   bench --svg: 3 panels, bars and roofline equal the JSON, escaped title")
