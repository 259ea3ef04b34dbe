/* azc bench MODEL.gguf [-t N] [-r REPS] [--json] [--vs-llama-bench PATH] [--svg FILE]:
 * compile time (empty cache, warm cache), bundle open and time to the first
 * token, prefill (pp128, pp512) and decode (tg128) tokens/s for the compiled
 * bundle and the eager interpreter (min and median over repetitions), this
 * machine's memory read bandwidth and each decode figure as a fraction of its
 * roofline (weight bytes read per token / bandwidth), and the peak RSS of a
 * separate `azc run` of the bundle. With --vs-llama-bench, llama.cpp's
 * llama-bench runs on the same file and threads in the same run and the
 * table gets ratio columns. All figures come from one run, side by side.
 * With --svg FILE: also a bar chart of the table (bench_svg.c).
 * With --spec: speculative decoding's figures instead (bench_spec.c).
 * With -ngl N (and --gpu-arch): the bundle is compiled with GPU code and its
 * figures are the GPU's (the placement is reported; the CPU's memory
 * bandwidth and roofline are not measured). An azc built without LLVM has
 * no CPU code generator and benches only with -ngl. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/bench_svg.h"
#include "cli/cli.h"
#include "codegen/backend.h"
#include "codegen/cache.h"
#include "driver/bundle_emit.h"
#include "driver/compile.h"
#include "frontend/model.h"
#include "ir/interp.h"
#include "runtime/base/file.h"
#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"
#include "runtime/cuda_exec.h"
#include "runtime/kv_cache.h"
#include "runtime/model_bundle.h"

extern char **environ;

typedef struct stat_s {
  double min, median; /* tokens per second: min and median over repetitions */
  int reps;
} stat_t;

typedef struct bench {
  const char *model;
  int threads, reps, eager_reps;
  int depth;       /* -d: tg128 after this many positions of context (llama-bench -d) */
  int32_t kv_type; /* --kv-type, or AZC_KV_TYPE_AUTO */
  bool json, no_eager;
  const char *llama_bench;
  const char *svg;      /* --svg FILE */
  const char *gpu_arch; /* --gpu-arch */
  int32_t ngl;          /* -ngl: 0 none, -1 auto */
  bool gpu;             /* GPU code asked for (-ngl or --gpu-arch) */
  char tmp[256];
  /* results */
  double compile_cold_ms, compile_warm_ms, open_ms, first_token_ms;
  int pp_short, pp_long, tg; /* -p, -n: 128, 512, 128 (pp128, pp512, tg128) */
  char pps_name[16], ppl_name[16], tgn_name[16];
  stat_t pp128[2], pp512[2], tg128[2]; /* [0] compiled, [1] eager: pp_short, pp_long, tg */
  stat_t ll_pp128, ll_pp512, ll_tg128;
  bool have_llama;
  double bandwidth_gbs, bytes_per_token, weight_bytes, kv_bytes;
  long peak_rss_kb;
  int kernels, cold_built, warm_built;
  char arch[32];
  int32_t n_vocab;
  int32_t gpu_layers, n_layer; /* as the executor placed them */
  char placement[256];         /* its offload line ("" on the CPU) */
} bench_t;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static stat_t summarize(double *tps, int n) {
  qsort(tps, (size_t)n, sizeof(double), cmp_double);
  stat_t s = {tps[0], n % 2 ? tps[n / 2] : 0.5 * (tps[n / 2 - 1] + tps[n / 2]), n};
  return s;
}

/* tokens/s of a prompt of n tokens from position 0 */
static azc_status_t run_prefill(azc_executor_t *ex, int n, int reps, int32_t n_vocab, stat_t *out) {
  int32_t *tok = malloc(sizeof(int32_t) * (size_t)n), *pos = malloc(sizeof(int32_t) * (size_t)n);
  int32_t *seq = calloc((size_t)n, sizeof(int32_t)), last = n - 1;
  float *logits = malloc(sizeof(float) * (size_t)n_vocab);
  double tps[64];
  azc_status_t st = tok && pos && seq && logits ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "bench");
  for (int i = 0; !st && i < n; i++) tok[i] = (int32_t)((i * 7919 + 13) % n_vocab), pos[i] = i;
  for (int r = 0; !st && r < reps; r++) {
    azc_batch_t b = {n, tok, pos, seq, 1, &last};
    double t0 = azc_time_ms();
    st = azc_executor_forward(ex, &b, logits);
    tps[r] = 1e3 * n / (azc_time_ms() - t0);
  }
  if (!st) *out = summarize(tps, reps);
  free(tok), free(pos), free(seq), free(logits);
  return st;
}

/* tokens/s of n decode steps from an empty context */
/* n decode steps after depth positions of context (filled once, in batches,
 * before the timed steps) */
static azc_status_t run_decode(azc_executor_t *ex, int n, int depth, int reps, int32_t n_vocab,
                               stat_t *out) {
  float *logits = malloc(sizeof(float) * (size_t)n_vocab);
  double tps[64];
  azc_status_t st = logits ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "bench");
  int32_t nb = ex->n_batch, *tok = malloc(sizeof(int32_t) * 2 * (size_t)nb), *pos = tok + nb;
  int32_t *seq = calloc((size_t)nb, sizeof(int32_t));
  if (!st && (!tok || !seq)) st = AZC_ERR(AZC_OUT_OF_MEMORY, "bench");
  for (int32_t p0 = 0; !st && p0 < depth; p0 += nb) {
    int32_t m = AZC_MIN(nb, depth - p0), last = m - 1;
    for (int32_t i = 0; i < m; i++) tok[i] = ((p0 + i) * 7919 + 13) % n_vocab, pos[i] = p0 + i;
    azc_batch_t b = {m, tok, pos, seq, 1, &last};
    st = azc_executor_forward(ex, &b, logits);
  }
  free(tok);
  free(seq);
  for (int r = 0; !st && r < reps; r++) {
    double t0 = azc_time_ms();
    for (int32_t p = depth; !st && p < depth + n; p++) {
      int32_t t = (p * 7919 + 13) % n_vocab, z = 0;
      azc_batch_t b = {1, &t, &p, &z, 1, &z};
      st = azc_executor_forward(ex, &b, logits);
    }
    tps[r] = 1e3 * n / (azc_time_ms() - t0);
  }
  if (!st) *out = summarize(tps, reps);
  free(logits);
  return st;
}

/* ---- memory bandwidth: every thread sums its share of a large buffer ---- */
typedef struct bw_job {
  const float *buf;
  size_t n;
  double sums[64];
} bw_job_t;

static void bw_read(void *p, int ith, int nth) {
  bw_job_t *j = p;
  long b, e;
  azc_split_range((long)(j->n / 64), ith, nth, &b, &e);
  float acc[16] = {0};
  for (size_t i = (size_t)b * 64; i < (size_t)e * 64; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += j->buf[i + k];
  double s = 0;
  for (int k = 0; k < 16; k++) s += acc[k];
  j->sums[ith] = s;
}

static double measure_bandwidth(int threads) {
  size_t bytes = (size_t)512 << 20;
  float *buf = malloc(bytes);
  if (!buf) return 0;
  for (size_t i = 0; i < bytes / 4; i++) buf[i] = (float)(i & 7);
  azc_threadpool_t *pool;
  azc_status_t st = azc_threadpool_create(threads, &pool);
  if (st) {
    azc_status_free(st);
    free(buf);
    return 0;
  }
  bw_job_t j = {buf, bytes / 4, {0}};
  double best = 0;
  for (int r = 0; r < 5; r++) {
    double t0 = azc_time_ms();
    azc_threadpool_run(pool, bw_read, &j);
    double gbs = (double)bytes / ((azc_time_ms() - t0) * 1e6);
    best = gbs > best ? gbs : best;
  }
  azc_threadpool_destroy(pool);
  free(buf);
  return best;
}

/* Weight bytes one decode step reads: every weight a matmul kernel reads, one
 * row of each table read by get_rows. */
static double decode_bytes(const azc_plan_t *p) {
  double bytes = 0;
  char *seen = calloc((size_t)p->n_weights + 1, 1);
  for (int32_t i = 0; seen && i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op != AZC_STEP_KERNEL) continue;
    bool rows = !strncmp(p->kernels[s->kernel].desc, "get_rows", 8);
    for (int k = 0; k < s->n_in; k++) {
      if (s->in[k].kind != AZC_VAL_WEIGHT || seen[s->in[k].index]) continue;
      const azc_plan_weight_t *w = &p->weights[s->in[k].index];
      seen[s->in[k].index] = 1;
      bytes +=
          rows ? (double)w->nbytes / (double)(w->shape[0] ? w->shape[0] : 1) : (double)w->nbytes;
    }
  }
  free(seen);
  return bytes;
}

static azc_status_t compile_to(bench_t *b, const char *bundle, const char *cache, double *ms,
                               int *built) {
  double t0 = azc_time_ms();
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  azc_compile_options_t o = azc_compile_options_default();
  o.cache_dir = cache;
  o.gpu_arch = b->gpu_arch;
  o.n_gpu_layers = b->ngl;
  azc_status_t st = azc_model_open(b->model, &m);
  if (!st) st = azc_model_lower(m, &g);
  if (!st) st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, &o, &c);
  azc_bundle_defaults_t d = azc_bundle_defaults_default();
  d.n_gpu_layers = b->ngl; /* the child `azc run` places the bundle as this run does */
  if (!st) st = azc_bundle_emit(bundle, m, c, &d, NULL, NULL, NULL);
  *ms = azc_time_ms() - t0;
  if (!st) {
    *built = c->stats.cache_misses;
    b->kernels = c->stats.kernels;
    snprintf(b->arch, sizeof(b->arch), "%s", m->hp.arch);
  }
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  return st;
}

/* Peak RSS (KiB) of `azc run BUNDLE` in its own process, as it reports it
 * (VmHWM: this process's own memory, not what it inherited before exec). */
static long child_rss(const char *bundle, int threads, int tokens, int32_t kv_type,
                      const char *tmp) {
  char exe[4096], out[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return -1;
  exe[n] = 0;
  snprintf(out, sizeof(out), "%s/run.json", tmp);
  char t[16], ntok[16];
  snprintf(t, sizeof(t), "%d", threads);
  snprintf(ntok, sizeof(ntok), "%d", tokens);
  char *argv[] = {
      exe, "run",          (char *)bundle, "-p",   "Once upon a time", "-n", ntok, "-t",
      t,   "--ignore-eos", "-c",           "1024", "--json",           NULL, NULL, NULL};
  if (kv_type != AZC_KV_TYPE_AUTO) {
    argv[13] = "--kv-type";
    argv[14] = (char *)azc_kv_type_name(kv_type);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return -1;
  char *text;
  size_t len;
  azc_status_t st = azc_file_read_all(out, &text, &len);
  if (st) {
    azc_status_free(st);
    return -1;
  }
  const char *at = strstr(text, "\"peak_rss_mib\": ");
  long kb = at ? (long)(atof(at + 16) * 1024) : -1;
  free(text);
  return kb;
}

/* Runs llama-bench on the same file; fills the ll_* figures. */
static azc_status_t run_llama_bench(bench_t *b) {
  char cmd[8192], out[512];
  snprintf(out, sizeof(out), "%s/llama-bench.json", b->tmp);
  char depth[32] = "";
  if (b->depth) snprintf(depth, sizeof(depth), " -d %d", b->depth);
  snprintf(cmd, sizeof(cmd),
           "'%s' -m '%s' -t %d -p %d,%d -n %d -r %d%s%s%s%s%s -o json > '%s' 2>/dev/null",
           b->llama_bench, b->model, b->threads, b->pp_short, b->pp_long, b->tg, b->reps, depth,
           b->kv_type != AZC_KV_TYPE_AUTO ? " -fa 1 -ctk " : "",
           b->kv_type != AZC_KV_TYPE_AUTO ? azc_kv_type_name(b->kv_type) : "",
           b->kv_type != AZC_KV_TYPE_AUTO ? " -ctv " : "",
           b->kv_type != AZC_KV_TYPE_AUTO ? azc_kv_type_name(b->kv_type) : "", out);
  if (system(cmd) != 0) return AZC_ERR(AZC_IO, "llama-bench failed: %s", cmd);
  char *text;
  size_t len;
  AZC_RETURN_IF_ERROR(azc_file_read_all(out, &text, &len));
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsArray(root)) {
    cJSON_Delete(root);
    return AZC_ERR(AZC_CORRUPT, "%s: not llama-bench JSON", out);
  }
  cJSON *it;
  cJSON_ArrayForEach(it, root) {
    int np = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "n_prompt"));
    int ng = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "n_gen"));
    cJSON *samples = cJSON_GetObjectItem(it, "samples_ts");
    double v[64];
    int k = 0;
    cJSON *s;
    cJSON_ArrayForEach(s, samples) if (k < 64) v[k++] = cJSON_GetNumberValue(s);
    if (!k) continue;
    stat_t st = summarize(v, k);
    if (np == b->pp_short && ng == 0) b->ll_pp128 = st;
    if (np == b->pp_long && ng == 0) b->ll_pp512 = st;
    if (np == 0 && ng == b->tg) b->ll_tg128 = st;
  }
  cJSON_Delete(root);
  b->have_llama = true;
  return NULL;
}

static azc_status_t run_bench(bench_t *b) {
  snprintf(b->tmp, sizeof(b->tmp), "/tmp/azc-bench-XXXXXX");
  if (!mkdtemp(b->tmp)) return AZC_ERR(AZC_IO, "cannot create a temporary directory");
  char cache[300], bundle[300];
  snprintf(cache, sizeof(cache), "%s/cache", b->tmp);
  snprintf(bundle, sizeof(bundle), "%s/model.bundle", b->tmp);
  fprintf(stderr, "azc: bench: compiling %s with an empty cache...\n", b->model);
  AZC_RETURN_IF_ERROR(compile_to(b, bundle, cache, &b->compile_cold_ms, &b->cold_built));
  fprintf(stderr, "azc: bench: compiling again with the warm cache...\n");
  AZC_RETURN_IF_ERROR(compile_to(b, bundle, cache, &b->compile_warm_ms, &b->warm_built));

  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_threads = b->threads;
  ep.n_ctx = AZC_MAX(1024, b->depth + b->tg);
  ep.kv_type = b->kv_type;
  if (b->gpu) {
    ep.gpu_layers_set = 1;
    ep.n_gpu_layers = b->ngl ? b->ngl : 99; /* --gpu-arch alone: all layers */
  }
  double t0 = azc_time_ms();
  azc_bundle_model_t *bm;
  AZC_RETURN_IF_ERROR(azc_bundle_model_open(bundle, 0, &bm));
  azc_executor_t *ex;
  azc_status_t st = azc_bundle_model_executor(bm, &ep, &ex);
  b->open_ms = azc_time_ms() - t0;
  b->n_vocab = bm->plan->n_vocab;
  b->n_layer = bm->plan->n_layer;
  if (!st) b->gpu_layers = azc_cuda_executor_placement(ex, b->placement, sizeof(b->placement));
  b->bytes_per_token = decode_bytes(bm->plan);
  b->weight_bytes = (double)bm->meta.weight_bytes;
  if (!st) {
    float *logits = malloc(sizeof(float) * (size_t)b->n_vocab);
    int32_t t = 1, p = 0, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    st = logits ? azc_executor_forward(ex, &one, logits) : AZC_ERR(AZC_OUT_OF_MEMORY, "logits");
    b->first_token_ms = azc_time_ms() - t0;
    free(logits);
  }
  /* the long prefill runs as one call: at most a batch (its label says what ran) */
  if (!st && b->pp_long > ex->n_batch) {
    b->pp_long = ex->n_batch;
    b->pp_short = AZC_MIN(b->pp_short, AZC_MAX(1, b->pp_long / 2));
  }
  snprintf(b->pps_name, sizeof(b->pps_name), "pp%d", b->pp_short);
  snprintf(b->ppl_name, sizeof(b->ppl_name), "pp%d", b->pp_long);
  snprintf(b->tgn_name, sizeof(b->tgn_name), "tg%d", b->tg);
  fprintf(stderr, "azc: bench: compiled: %s, %s, %s x %d...\n", b->pps_name, b->ppl_name,
          b->tgn_name, b->reps);
  if (!st) st = run_prefill(ex, b->pp_short, b->reps, b->n_vocab, &b->pp128[0]);
  if (!st) st = run_prefill(ex, b->pp_long, b->reps, b->n_vocab, &b->pp512[0]);
  if (!st) st = run_decode(ex, b->tg, b->depth, b->reps, b->n_vocab, &b->tg128[0]);
  if (!st) {
    int32_t layers = bm->plan->n_layer;
    double kv = 0;
    int32_t kvt = b->kv_type == AZC_KV_TYPE_AUTO ? AZC_KV_TYPE_CPU_DEFAULT : b->kv_type;
    for (int32_t l = 0; l < layers; l++)
      kv += 2.0 * ep.n_ctx *
            (double)azc_kv_bytes(kvt, (int64_t)bm->plan->kv_heads[l] * bm->plan->kv_head_dim[l]);
    b->kv_bytes = kv;
  }
  azc_executor_destroy(ex);
  azc_bundle_model_close(bm);
  AZC_RETURN_IF_ERROR(st);

  if (!b->no_eager) {
    fprintf(stderr, "azc: bench: eager: %s, %s, %s x %d...\n", b->pps_name, b->ppl_name,
            b->tgn_name, b->eager_reps);
    azc_model_t *m;
    AZC_RETURN_IF_ERROR(azc_model_open(b->model, &m));
    azc_ir_graph_t *g = NULL;
    st = azc_model_lower(m, &g);
    if (!st) st = azc_ir_interp_create(g, &ep, &ex);
    if (!st) {
      st = run_prefill(ex, b->pp_short, b->eager_reps, b->n_vocab, &b->pp128[1]);
      if (!st) st = run_prefill(ex, b->pp_long, b->eager_reps, b->n_vocab, &b->pp512[1]);
      if (!st) st = run_decode(ex, b->tg, b->depth, b->eager_reps, b->n_vocab, &b->tg128[1]);
      azc_executor_destroy(ex);
    }
    azc_ir_graph_destroy(g);
    azc_model_close(m);
    AZC_RETURN_IF_ERROR(st);
  }
  if (!b->gpu) { /* the CPU's roofline; a GPU's bandwidth is not measured here */
    fprintf(stderr, "azc: bench: memory bandwidth...\n");
    b->bandwidth_gbs = measure_bandwidth(b->threads);
  }
  fprintf(stderr, "azc: bench: peak RSS of azc run...\n");
  b->peak_rss_kb = child_rss(bundle, b->threads, b->tg, b->kv_type, b->tmp);
  if (b->llama_bench) {
    fprintf(stderr, "azc: bench: llama-bench on the same file...\n");
    AZC_RETURN_IF_ERROR(run_llama_bench(b));
  }
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->tmp);
  if (system(cmd) != 0) fprintf(stderr, "azc: bench: could not remove %s\n", b->tmp);
  return NULL;
}

static double roofline(const bench_t *b) {
  return b->bytes_per_token > 0 ? b->bandwidth_gbs * 1e9 / b->bytes_per_token : 0;
}

static void print_row(const char *name, const stat_t *c, const stat_t *e, const stat_t *l,
                      bool have_l) {
  printf("| %-6s | %10.2f | %10.2f |", name, c->median, c->min);
  if (e->reps && e->median > 0)
    printf(" %9.2f | %9.2f | %6.2fx |", e->median, e->min, c->median / e->median);
  else
    printf(" %9s | %9s | %7s |", "-", "-", "-"); /* --no-eager: not measured */
  if (have_l) printf(" %9.2f | %6.2fx |", l->median, l->median > 0 ? c->median / l->median : 0);
  printf("\n");
}

static void print_markdown(const bench_t *b) {
  char eager[32];
  if (b->no_eager)
    snprintf(eager, sizeof(eager), "eager not run");
  else
    snprintf(eager, sizeof(eager), "eager %d", b->eager_reps);
  printf("## azc bench: %s (%s), %d threads, %d repetitions (%s), KV cache %s\n\n", b->model,
         b->arch, b->threads, b->reps, eager,
         azc_kv_type_name(b->kv_type == AZC_KV_TYPE_AUTO ? AZC_KV_TYPE_CPU_DEFAULT : b->kv_type));
  if (b->gpu)
    printf("GPU: -ngl %d: %s\n\n", b->ngl, b->placement[0] ? b->placement : "no CUDA executor");
  printf("| test | compiled t/s (median) | compiled (min) | eager (median) | eager (min) | "
         "compiled/eager |%s\n",
         b->have_llama ? " llama.cpp (median) | azc/llama.cpp |" : "");
  printf("|---|---:|---:|---:|---:|---:|%s\n", b->have_llama ? "---:|---:|" : "");
  print_row(b->pps_name, &b->pp128[0], &b->pp128[1], &b->ll_pp128, b->have_llama);
  print_row(b->ppl_name, &b->pp512[0], &b->pp512[1], &b->ll_pp512, b->have_llama);
  char tg[48];
  snprintf(tg, sizeof(tg), b->depth ? "%s @ d%d" : "%s", b->tgn_name, b->depth);
  print_row(tg, &b->tg128[0], &b->tg128[1], &b->ll_tg128, b->have_llama);
  double roof = roofline(b);
  printf("\n| figure | value |\n|---|---:|\n");
  printf("| compile, empty cache | %.0f ms (%d kernels built) |\n", b->compile_cold_ms,
         b->cold_built);
  printf("| compile, warm cache | %.0f ms (%d built) |\n", b->compile_warm_ms, b->warm_built);
  printf("| cold / warm | %.1fx |\n",
         b->compile_warm_ms > 0 ? b->compile_cold_ms / b->compile_warm_ms : 0);
  printf("| bundle open (mmap, checks, code load) | %.1f ms |\n", b->open_ms);
  printf("| bundle open to first token | %.1f ms |\n", b->first_token_ms);
  if (b->gpu)
    printf("| placement | %d/%d layers on the GPU |\n", b->gpu_layers, b->n_layer);
  else
    printf("| memory read bandwidth (%d threads) | %.2f GB/s |\n", b->threads, b->bandwidth_gbs);
  printf("| weight bytes read per decode token | %.2f MiB |\n", b->bytes_per_token / (1 << 20));
  if (!b->gpu) {
    printf("| decode roofline | %.2f t/s |\n", roof);
    printf("| compiled %s / roofline | %.1f%% |\n", b->tgn_name,
           roof > 0 ? 100 * b->tg128[0].median / roof : 0);
  }
  if (b->have_llama && !b->gpu)
    printf("| llama.cpp %s / roofline | %.1f%% |\n", b->tgn_name,
           roof > 0 ? 100 * b->ll_tg128.median / roof : 0);
  printf("| peak RSS of azc run (-c 1024, %d tokens) | %.1f MiB |\n", b->tg,
         (double)b->peak_rss_kb / 1024);
  printf("| weights + KV cache (1024) + 64 MiB | %.1f MiB |\n",
         (b->weight_bytes + b->kv_bytes) / (1 << 20) + 64);
}

static void json_stat(const char *name, const stat_t *s, bool comma) {
  printf("\"%s\": {\"median_tps\": %.3f, \"min_tps\": %.3f, \"reps\": %d}%s", name, s->median,
         s->min, s->reps, comma ? ", " : "");
}

static void print_json_result(const bench_t *b) {
  printf("{\"model\": ");
  cli_json_string(stdout, b->model, strlen(b->model));
  printf(", \"arch\": ");
  cli_json_string(stdout, b->arch, strlen(b->arch));
  printf(", \"threads\": %d, \"depth\": %d, \"kv_type\": \"%s\", \"gpu_layers\": %d, "
         "\"n_layer\": %d, \"placement\": ",
         b->threads, b->depth,
         azc_kv_type_name(b->kv_type == AZC_KV_TYPE_AUTO ? AZC_KV_TYPE_CPU_DEFAULT : b->kv_type),
         b->gpu_layers, b->n_layer);
  cli_json_string(stdout, b->placement, strlen(b->placement));
  printf(", \"compiled\": {");
  json_stat(b->pps_name, &b->pp128[0], true);
  json_stat(b->ppl_name, &b->pp512[0], true);
  json_stat(b->tgn_name, &b->tg128[0], false);
  printf("}, \"eager\": {");
  json_stat(b->pps_name, &b->pp128[1], true);
  json_stat(b->ppl_name, &b->pp512[1], true);
  json_stat(b->tgn_name, &b->tg128[1], false);
  printf("}");
  if (b->have_llama) {
    printf(", \"llama_cpp\": {");
    json_stat(b->pps_name, &b->ll_pp128, true);
    json_stat(b->ppl_name, &b->ll_pp512, true);
    json_stat(b->tgn_name, &b->ll_tg128, false);
    printf("}");
  }
  printf(", \"compile_cold_ms\": %.1f, \"compile_warm_ms\": %.1f, \"kernels\": %d, "
         "\"bundle_open_ms\": %.2f, \"first_token_ms\": %.2f, \"bandwidth_gbs\": %.3f, "
         "\"decode_bytes_per_token\": %.0f, \"roofline_tps\": %.3f, \"peak_rss_kib\": %ld, "
         "\"weight_bytes\": %.0f, \"kv_bytes\": %.0f}\n",
         b->compile_cold_ms, b->compile_warm_ms, b->kernels, b->open_ms, b->first_token_ms,
         b->bandwidth_gbs, b->bytes_per_token, roofline(b), b->peak_rss_kb, b->weight_bytes,
         b->kv_bytes);
}

/* The chart of --svg: the medians of the table, the roofline in the decode panel. */
static azc_status_t write_svg(const bench_t *b) {
  char title[400], subtitle[300], tg[48];
  const char *base = strrchr(b->model, '/');
  snprintf(title, sizeof(title), "azc bench: %s (%s)", base ? base + 1 : b->model, b->arch);
  snprintf(subtitle, sizeof(subtitle),
           "%d threads, median of %d repetitions (eager: %d); decode roofline = %.2f GB/s read "
           "bandwidth / %.1f MiB of weights per token",
           b->threads, b->reps, b->no_eager ? 0 : b->eager_reps, b->bandwidth_gbs,
           b->bytes_per_token / (1 << 20));
  snprintf(tg, sizeof(tg), b->depth ? "%s@d%d" : "%s", b->tgn_name, b->depth);
  const stat_t *rows[3][3] = {{&b->pp128[0], &b->pp128[1], &b->ll_pp128},
                              {&b->pp512[0], &b->pp512[1], &b->ll_pp512},
                              {&b->tg128[0], &b->tg128[1], &b->ll_tg128}};
  const char *names[3] = {b->pps_name, b->ppl_name, tg};
  bench_svg_t chart = {title, subtitle, {{0}}, b->gpu ? 0 : roofline(b)};
  for (int t = 0; t < 3; t++) {
    chart.tests[t].name = names[t];
    chart.tests[t].decode = t == 2;
    chart.tests[t].tps[BENCH_SVG_COMPILED] = rows[t][0]->median;
    chart.tests[t].tps[BENCH_SVG_EAGER] = rows[t][1]->reps ? rows[t][1]->median : 0;
    chart.tests[t].tps[BENCH_SVG_LLAMA] = b->have_llama ? rows[t][2]->median : 0;
  }
  return bench_svg_write(b->svg, &chart);
}

int azc_cmd_bench(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--spec")) return azc_bench_spec(argc, argv);
  bench_t b;
  memset(&b, 0, sizeof(b));
  b.threads = azc_cpu_count();
  b.reps = 3;
  b.eager_reps = 1;
  b.pp_short = 128, b.pp_long = 512, b.tg = 128;
  b.kv_type = AZC_KV_TYPE_AUTO;
  for (int i = 1; i < argc; i++) {
    long long iv;
    azc_status_t st = NULL;
    if (!strcmp(argv[i], "-t")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1024, &iv))) b.threads = (int)iv;
    } else if (!strcmp(argv[i], "-r")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 64, &iv))) b.reps = (int)iv;
    } else if (!strcmp(argv[i], "-p")) { /* the long prefill; the short: 128, or half */
      if (!(st = cli_int_arg(argc, argv, &i, 2, 1 << 16, &iv)))
        b.pp_long = (int)iv, b.pp_short = iv > 128 ? 128 : (int)iv / 2;
    } else if (!strcmp(argv[i], "-n")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1 << 16, &iv))) b.tg = (int)iv;
    } else if (!strcmp(argv[i], "--eager-reps")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 64, &iv))) b.eager_reps = (int)iv;
    } else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--depth")) {
      if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv))) b.depth = (int)iv;
    } else if (!strcmp(argv[i], "--kv-type")) {
      st = cli_kv_type_arg(argc, argv, &i, &b.kv_type);
    } else if (!strcmp(argv[i], "--no-eager"))
      b.no_eager = true;
    else if (!strcmp(argv[i], "--json"))
      b.json = true;
    else if (!strcmp(argv[i], "--vs-llama-bench"))
      st = cli_str_arg(argc, argv, &i, &b.llama_bench);
    else if (!strcmp(argv[i], "--svg"))
      st = cli_str_arg(argc, argv, &i, &b.svg);
    else if (!strcmp(argv[i], "--gpu-arch"))
      st = cli_str_arg(argc, argv, &i, &b.gpu_arch), b.gpu = true;
    else if (!strcmp(argv[i], "-ngl") || !strcmp(argv[i], "--gpu-layers")) {
      if (i + 1 < argc && !strcmp(argv[i + 1], "auto"))
        b.ngl = -1, b.gpu = true, i++;
      else if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv)))
        b.ngl = (int32_t)iv, b.gpu = b.gpu || iv != 0;
    } else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc bench MODEL.gguf [-t N] [-r REPS] [--eager-reps N] [--no-eager] [--json]\n"
             "                 [-d DEPTH] [--kv-type f32|f16|q8_0]   tg128 after DEPTH positions\n"
             "                 [--vs-llama-bench PATH/llama-bench] [-ngl N|auto] [--gpu-arch A]\n"
             "                 [-p PROMPT] [-n TOKENS] [--svg FILE]\n"
             "  --svg FILE: a bar chart of the table (compiled, eager, llama.cpp per test, the\n"
             "        decode roofline marked), plain SVG\n"
             "  -ngl N: GPU code (--gpu-arch, default sm_80,sm_90), N layers on the GPU (99: all)\n"
             "  -p N: prefill lengths N and 128 (N/2 when N <= 128; default 512); -n N: decode "
             "tokens\n"
             "        (default 128)\n"
             "       azc bench MODEL --spec [-t N] [-r REPS] [-n TOKENS] [--draft-max N] [--json]\n"
             "                 [--vs-llama-bench PATH/llama-bench]   speculative decoding\n");
      return 0;
    } else if (argv[i][0] == '-')
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "bench: unknown option %s", argv[i]);
    else if (!b.model)
      b.model = argv[i];
    else
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "bench: unexpected argument '%s'", argv[i]);
    if (st) return cli_fail(st);
  }
  if (!b.model) return cli_usage_error("bench: usage: azc bench MODEL.gguf [options]");
  if (!b.gpu && !azc_codegen_backend_cpu())
    return cli_fail(AZC_ERR(AZC_UNSUPPORTED,
                            "bench: this azc has no CPU code generator (configured with "
                            "-DAZC_WITH_LLVM=OFF): bench the GPU with -ngl 99"));
  azc_status_t st = run_bench(&b);
  if (!st && b.svg) st = write_svg(&b);
  if (st) return cli_fail(st);
  if (b.json)
    print_json_result(&b);
  else
    print_markdown(&b);
  return 0;
}
