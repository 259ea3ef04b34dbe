/* azc bench --svg FILE: the bench figures as a bar chart in plain SVG 1.1,
 * written here with no library. One panel per test (pp128, pp512, tg128),
 * each with its own linear axis from 0 (a shared axis would flatten decode
 * next to prefill): a bar per engine (compiled, eager, llama.cpp when it
 * ran) with its tokens/s printed above it, and in the decode panel the
 * memory roofline (read bandwidth / weight bytes per token) as a dashed
 * line. Every bar and the roofline carry their numbers as data-* attributes
 * (data-test, data-engine, data-value), so a test can read them back and
 * compare them with the JSON of the same run. */
#include "cli/bench_svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PANEL_W = 250, PANEL_H = 300, TOP = 70, LEFT = 60, BOTTOM = 60, GAP = 40 };

static const char *const engine_name[BENCH_SVG_ENGINES] = {"compiled", "eager", "llama.cpp"};
static const char *const engine_color[BENCH_SVG_ENGINES] = {"#1f77b4", "#9e9e9e", "#ff7f0e"};

/* Text with &, <, >, " escaped. */
static void put_text(FILE *f, const char *s) {
  for (; *s; s++) switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
}

/* The smallest of 1, 2, 2.5, 5 x 10^k at or above v / 5 (five gridlines). */
static double tick_step(double v) {
  if (v <= 0) return 1;
  double raw = v / 5, p = pow(10, floor(log10(raw)));
  const double m[] = {1, 2, 2.5, 5, 10};
  for (int i = 0; i < 5; i++)
    if (m[i] * p >= raw) return m[i] * p;
  return 10 * p;
}

static bool has_value(double v) { return v > 0 && isfinite(v); }

static void panel(FILE *f, const bench_svg_test_t *t, double roofline, int x0) {
  double top = roofline > 0 ? roofline : 0;
  int n = 0;
  for (int e = 0; e < BENCH_SVG_ENGINES; e++) {
    if (!has_value(t->tps[e])) continue;
    n++;
    if (t->tps[e] > top) top = t->tps[e];
  }
  double step = tick_step(top), ymax = step * ceil(top / step * 1.08);
  if (ymax <= 0) ymax = 1;
  const int y0 = TOP + PANEL_H; /* the axis: 0 t/s */
#define Y(v) ((double)y0 - (v) / ymax * PANEL_H)
  fprintf(f, "<g class=\"panel\" data-test=\"");
  put_text(f, t->name);
  fprintf(f, "\">\n");
  for (double v = 0; v <= ymax * 1.0001; v += step) {
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
            "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
            x0, Y(v), x0 + PANEL_W, Y(v), x0 - 4, Y(v) + 4, v);
  }
  int slot = n ? PANEL_W / n : PANEL_W, i = 0;
  for (int e = 0; e < BENCH_SVG_ENGINES; e++) {
    if (!has_value(t->tps[e])) continue;
    double v = t->tps[e], h = v / ymax * PANEL_H;
    int x = x0 + i * slot + slot / 6, w = slot * 2 / 3;
    fprintf(f,
            "<rect class=\"bar\" data-test=\"%s\" data-engine=\"%s\" data-value=\"%.3f\" "
            "x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>\n",
            t->name, engine_name[e], v, x, y0 - h, w, h, engine_color[e]);
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%.1f</text>\n",
            x + w / 2, y0 - h - 5, v);
    i++;
  }
  if (roofline > 0) {
    fprintf(f,
            "<line class=\"roofline\" data-test=\"%s\" data-value=\"%.3f\" x1=\"%d\" y1=\"%.1f\" "
            "x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" stroke-width=\"2\" "
            "stroke-dasharray=\"6,4\"/>\n",
            t->name, roofline, x0, Y(roofline), x0 + PANEL_W, Y(roofline));
    fprintf(f,
            "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#d62728\" "
            "text-anchor=\"end\">memory roofline %.1f t/s</text>\n",
            x0 + PANEL_W, Y(roofline) - 4, roofline);
  }
  fprintf(f,
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>"
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
          x0, TOP, x0, y0, x0, y0, x0 + PANEL_W, y0);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\" "
          "text-anchor=\"middle\">",
          x0 + PANEL_W / 2, y0 + 22);
  put_text(f, t->name);
  fprintf(f, "</text>\n</g>\n");
#undef Y
}

azc_status_t bench_svg_write(const char *path, const bench_svg_t *c) {
  FILE *f = fopen(path, "w");
  if (!f) return AZC_ERR(AZC_IO, "bench: cannot write %s: %s", path, strerror(errno));
  int width = LEFT + BENCH_SVG_TESTS * (PANEL_W + GAP) + 20;
  int height = TOP + PANEL_H + BOTTOM + 20;
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">",
          width, height, width, height, LEFT);
  put_text(f, c->title);
  fprintf(f, "</text>\n<text x=\"%d\" y=\"44\" font-size=\"12\">", LEFT);
  put_text(f, c->subtitle);
  fprintf(f, "</text>\n");
  /* legend */
  int lx = LEFT;
  for (int e = 0; e < BENCH_SVG_ENGINES; e++) {
    bool used = false;
    for (int t = 0; t < BENCH_SVG_TESTS; t++) used = used || has_value(c->tests[t].tps[e]);
    if (!used) continue;
    fprintf(f,
            "<rect x=\"%d\" y=\"52\" width=\"12\" height=\"12\" fill=\"%s\"/>"
            "<text x=\"%d\" y=\"63\" font-size=\"12\">%s t/s</text>\n",
            lx, engine_color[e], lx + 16, engine_name[e]);
    lx += 130;
  }
  for (int t = 0; t < BENCH_SVG_TESTS; t++)
    panel(f, &c->tests[t], c->tests[t].decode ? c->roofline_tps : 0, LEFT + t * (PANEL_W + GAP));
  fprintf(f, "</svg>\n");
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) return AZC_ERR(AZC_IO, "bench: writing %s failed", path);
  return NULL;
}
