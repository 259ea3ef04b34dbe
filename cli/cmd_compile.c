/* azc compile MODEL.gguf -o MODEL.bundle [options]: the ahead-of-time
 * compile. Shows each phase as it runs (frontend, passes, kernels with cache
 * hits and misses, weights, write), op counts before and after fusion, the
 * number of kernels and the arena peak, and ends with a timing summary. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "codegen/bundle_emit.h"
#include "codegen/compile.h"
#include "frontend/model.h"
#include "runtime/base/util.h"

static void compile_usage(FILE *out) {
  fprintf(
      out,
      "usage: azc compile MODEL.gguf -o OUT.bundle [options]\n"
      "  --target-cpu CPU     CPU to compile for (default: this one); e.g. haswell, znver3\n"
      "  --target TRIPLE      e.g. x86_64-linux-gnu, aarch64-linux-gnu\n"
      "  -b N                 most tokens per forward call (default 512)\n"
      "  -c CTX               default context size stored in the bundle\n"
      "  -j JOBS              parallel kernel compiles (default: all cores)\n"
      "  --no-cache           compile every kernel; do not read or write the cache\n"
      "  --no-fuse            skip the fusion passes (for debugging)\n"
      "  --dump-after=PASS    print the IR after PASS (or 'all')\n"
      "  defaults stored for azc run: -n N --temp T --top-k K --top-p P --min-p P\n"
      "                                --repeat-penalty R --repeat-last-n N --seed S -t THREADS\n");
}

typedef struct progress_state {
  int last_done;
  double t0;
} progress_state_t;

static void on_kernel(void *user, int done, int total, bool hit, double ms, const char *desc) {
  (void)user;
  fprintf(stderr, "azc: compile: kernel %3d/%d %s %7.1f ms  %s\n", done, total,
          hit ? "cache" : "built", ms, desc);
}

static void on_weights(void *user, uint64_t done, uint64_t total) {
  progress_state_t *p = user;
  int pct = total ? (int)(100 * done / total) : 100;
  if (pct / 10 != p->last_done / 10 || done == total) {
    fprintf(stderr, "\razc: compile: weights %3d%% (%.1f of %.1f MiB)", pct,
            (double)done / (1 << 20), (double)total / (1 << 20));
    if (done == total) fprintf(stderr, "\n");
    p->last_done = pct;
  }
}

static void print_ops(const char *label, const int *counts, int nodes) {
  fprintf(stderr, "azc: compile: %s: %d nodes:", label, nodes);
  for (int i = 0; i < AZC_OP_COUNT; i++)
    if (counts[i] && i != AZC_OP_WEIGHT)
      fprintf(stderr, " %s %d", azc_op_info((azc_op_t)i)->name, counts[i]);
  fprintf(stderr, "\n");
}

int azc_cmd_compile(int argc, char **argv) {
  const char *model_path = NULL, *out = NULL;
  azc_compile_options_t opt = azc_compile_options_default();
  azc_bundle_defaults_t def = azc_bundle_defaults_default();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long long iv;
    double fv;
    azc_status_t st = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      compile_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-o"))
      st = cli_str_arg(argc, argv, &i, &out);
    else if (!strcmp(a, "--target-cpu"))
      st = cli_str_arg(argc, argv, &i, &opt.target_cpu);
    else if (!strcmp(a, "--target"))
      st = cli_str_arg(argc, argv, &i, &opt.target_triple);
    else if (!strcmp(a, "--no-cache"))
      opt.use_cache = false;
    else if (!strcmp(a, "--no-fuse"))
      opt.fuse = false;
    else if (!strncmp(a, "--dump-after=", 13))
      opt.dump_after = a + 13, opt.dump_out = stdout;
    else if (!strcmp(a, "--dump-after"))
      st = cli_str_arg(argc, argv, &i, &opt.dump_after), opt.dump_out = stdout;
    else if (!strcmp(a, "-b")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1 << 16, &iv))) opt.n_batch = iv;
    } else if (!strcmp(a, "-j")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 64, &iv))) opt.jobs = (int)iv;
    } else if (!strcmp(a, "-c")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1 << 24, &iv))) def.n_ctx = (int32_t)iv;
    } else if (!strcmp(a, "-n")) {
      if (!(st = cli_int_arg(argc, argv, &i, -1, 1 << 30, &iv))) def.n_predict = (int32_t)iv;
    } else if (!strcmp(a, "-t")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1024, &iv))) def.n_threads = (int32_t)iv;
    } else if (!strcmp(a, "--temp")) {
      if (!(st = cli_float_arg(argc, argv, &i, 0, 100, &fv))) def.temperature = (float)fv;
    } else if (!strcmp(a, "--top-k")) {
      if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 30, &iv))) def.top_k = (int32_t)iv;
    } else if (!strcmp(a, "--top-p")) {
      if (!(st = cli_float_arg(argc, argv, &i, 0, 1, &fv))) def.top_p = (float)fv;
    } else if (!strcmp(a, "--min-p")) {
      if (!(st = cli_float_arg(argc, argv, &i, 0, 1, &fv))) def.min_p = (float)fv;
    } else if (!strcmp(a, "--repeat-penalty")) {
      if (!(st = cli_float_arg(argc, argv, &i, 0.01, 100, &fv))) def.repeat_penalty = (float)fv;
    } else if (!strcmp(a, "--repeat-last-n")) {
      if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv))) def.repeat_last_n = (int32_t)iv;
    } else if (!strcmp(a, "--seed")) {
      if (!(st = cli_int_arg(argc, argv, &i, 0, INT64_MAX, &iv))) def.seed = (uint64_t)iv;
    } else if (a[0] == '-')
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "compile: unknown option %s", a);
    else if (!model_path)
      model_path = a;
    else
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "compile: unexpected argument '%s'", a);
    if (st) {
      compile_usage(stderr);
      return cli_fail(st);
    }
  }
  if (!model_path || !out) {
    compile_usage(stderr);
    return cli_usage_error("compile: give a model and -o OUT.bundle");
  }
  double t0 = azc_time_ms();
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  progress_state_t ps = {-1, t0};
  azc_status_t st = azc_model_open(model_path, &m);
  if (!st) st = azc_model_lower(m, &g);
  double t_front = azc_time_ms();
  if (!st) {
    fprintf(stderr, "azc: compile: %s: %s, %d layers, %d-dim, vocab %d\n", model_path, m->hp.arch,
            m->hp.n_layer, m->hp.n_embd, m->hp.n_vocab);
    opt.progress = on_kernel;
    if (def.n_ctx > 0) opt.n_ctx = def.n_ctx;
    st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, &opt, &c);
  }
  double t_compile = azc_time_ms();
  if (!st) {
    const azc_compile_stats_t *s = &c->stats;
    print_ops("ops before fusion", s->ops_before, s->nodes_before);
    print_ops("ops after fusion ", s->ops_after, s->nodes_after);
    fprintf(stderr,
            "azc: compile: target %s, cpu %s, kernel variant %s\n"
            "azc: compile: %d steps, %d distinct kernels: %d from the cache, %d compiled%s\n"
            "azc: compile: activation arena %.2f MiB for %lld tokens per call\n",
            c->target.triple, c->target.cpu, c->target.variant, s->steps, s->kernels, s->cache_hits,
            s->cache_misses, s->cache_rebuilt ? " (damaged cache entries rebuilt)" : "",
            (double)s->arena_bytes / (1 << 20), (long long)opt.n_batch);
    st = azc_bundle_emit(out, m, c, &def, on_weights, &ps);
  }
  double t_end = azc_time_ms();
  if (!st) {
    const azc_compile_stats_t *s = &c->stats;
    fprintf(stderr, "azc: compile: wrote %s\n\n", out);
    fprintf(stderr, "azc: frontend   = %9.2f ms (read GGUF, lower to IR)\n", t_front - t0);
    fprintf(stderr, "azc: passes     = %9.2f ms\n", s->ms_passes);
    fprintf(stderr, "azc: codegen    = %9.2f ms (%d kernels through LLVM, summed over jobs)\n",
            s->ms_codegen, s->cache_misses);
    fprintf(stderr, "azc: cache      = %9.2f ms (%d kernels read)\n", s->ms_cache, s->cache_hits);
    fprintf(stderr, "azc: kernels    = %9.2f ms wall\n", s->ms_kernels_wall);
    fprintf(stderr, "azc: repack     = %9.2f ms (%.1f MiB of weights into target layouts)\n",
            s->ms_repack, (double)s->repacked_bytes / (1 << 20));
    fprintf(stderr, "azc: weights+write = %6.2f ms\n", t_end - t_compile);
    fprintf(stderr, "azc: total      = %9.2f ms\n", t_end - t0);
  }
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  return st ? cli_fail(st) : 0;
}
