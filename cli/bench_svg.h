/* azc bench --svg: the bench figures as a plain SVG bar chart (bench_svg.c). */
#ifndef AZC_CLI_BENCH_SVG_H
#define AZC_CLI_BENCH_SVG_H

#include <stdbool.h>

#include "runtime/base/status.h"

enum { BENCH_SVG_COMPILED, BENCH_SVG_EAGER, BENCH_SVG_LLAMA, BENCH_SVG_ENGINES };
enum { BENCH_SVG_TESTS = 3 };

typedef struct bench_svg_test {
  const char *name;              /* "pp512", "tg128" (borrowed) */
  double tps[BENCH_SVG_ENGINES]; /* medians; <= 0: not measured, no bar */
  bool decode;                   /* the panel that shows the roofline */
} bench_svg_test_t;

typedef struct bench_svg {
  const char *title, *subtitle; /* borrowed */
  bench_svg_test_t tests[BENCH_SVG_TESTS];
  double roofline_tps; /* <= 0: not marked */
} bench_svg_t;

/* Writes the chart to path (replacing it). */
azc_status_t bench_svg_write(const char *path, const bench_svg_t *chart);

#endif
