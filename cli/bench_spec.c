/* azc bench MODEL --spec: what speculative decoding buys on this machine.
 *
 *  1. The verify cost curve: one pass of k tokens (k = 1..8, every row's
 *     logits wanted, as a verify pass wants them) after a 128-token context,
 *     against one decode step. Decode reads every weight for one token, so
 *     while the pass stays memory-bound a k-token pass costs little more than
 *     one step; cost(k) / cost(1) is the number of tokens a pass must yield
 *     to break even.
 *  2. End to end: greedy generation of -n tokens for a story prompt and for
 *     a prompt whose answer repeats it (a list to rewrite), plain and with
 *     the lookup drafter, run alternately (side by side, so that the load
 *     of a shared machine hits both alike); tokens/s, the acceptance rate,
 *     tokens per pass, and a check that the two outputs are the same bytes.
 *  3. With --vs-llama-bench PATH: llama-bench's tg (-n the same number of
 *     tokens) on the same file and threads, in the same run.
 *
 * MODEL is a GGUF (compiled into a temporary bundle through the kernel
 * cache) or a bundle. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "driver/bundle_emit.h"
#include "driver/compile.h"
#include "frontend/model.h"
#include "runtime/base/file.h"
#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/generate.h"
#include "runtime/model_bundle.h"

enum { MAX_K = 8, DEPTH = 128, MAX_REPS = 64 };

typedef struct spec_bench {
  const char *model, *llama_bench;
  int threads, reps, n_gen, draft_max;
  bool json;
  char tmp[256];
  /* results */
  double verify_ms[MAX_K + 1]; /* median ms of a k-token pass */
  struct {
    const char *name;
    double plain_tps, spec_tps, acceptance, tokens_per_pass;
    int64_t tokens;
    bool same;
  } e2e[2];
  double ll_tg;
  bool have_llama;
} spec_bench_t;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static azc_status_t compile_bundle(spec_bench_t *b, char *bundle, size_t cap) {
  snprintf(bundle, cap, "%s/model.bundle", b->tmp);
  fprintf(stderr, "azc: bench --spec: compiling %s (kernel cache)...\n", b->model);
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  azc_compile_options_t o = azc_compile_options_default();
  azc_status_t st = azc_model_open(b->model, &m);
  if (!st) st = azc_model_lower(m, &g);
  if (!st) st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, &o, &c);
  azc_bundle_defaults_t d = azc_bundle_defaults_default();
  if (!st) st = azc_bundle_emit(bundle, m, c, &d, NULL, NULL, NULL);
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  return st;
}

/* The verify cost curve on a context of DEPTH tokens. */
static azc_status_t verify_curve(spec_bench_t *b, azc_executor_t *ex) {
  int32_t nv = ex->n_vocab, tok[DEPTH], pos[DEPTH], seq[DEPTH] = {0}, out[DEPTH];
  float *logits = malloc((size_t)MAX_K * (size_t)nv * sizeof(float));
  if (!logits) return AZC_ERR(AZC_OUT_OF_MEMORY, "bench logits");
  for (int i = 0; i < DEPTH; i++) tok[i] = (int32_t)((i * 7919 + 13) % nv), pos[i] = i, out[i] = i;
  int32_t last = DEPTH - 1;
  azc_batch_t pre = {DEPTH, tok, pos, seq, 1, &last};
  azc_status_t st = azc_executor_forward(ex, &pre, logits);
  for (int k = 1; !st && k <= MAX_K; k++) {
    double ms[MAX_REPS];
    for (int r = 0; !st && r < b->reps; r++) {
      int32_t kp[MAX_K];
      for (int i = 0; i < k; i++) kp[i] = DEPTH + i;
      azc_batch_t v = {k, tok, kp, seq, k, out};
      double t0 = azc_time_ms();
      st = azc_executor_forward(ex, &v, logits);
      ms[r] = azc_time_ms() - t0;
    }
    if (!st) b->verify_ms[k] = median(ms, b->reps);
  }
  free(logits);
  return st;
}

static const char *const prompt_story = "Once upon a time, there was a little girl named Lily.";
static const char *const prompt_list =
    "Rewrite this list: Lily has a red ball, a big dog, a little cat and a green tree. "
    "Lily has a red ball, a big dog, a little cat and a green tree. Lily has a red ball,";

static azc_status_t end_to_end(spec_bench_t *b, azc_executor_t *ex, const azc_tokenizer_t *tok,
                               int which, const char *prompt) {
  azc_drafter_t *d;
  AZC_RETURN_IF_ERROR(azc_drafter_lookup_create(&(azc_lookup_params_t){3, 2}, &d));
  azc_generate_params_t gp = azc_generate_params_default();
  gp.sampling.temperature = 0;
  gp.n_predict = b->n_gen;
  gp.ignore_eos = true;
  gp.draft_max = b->draft_max;
  size_t len = strlen(prompt);
  double plain[MAX_REPS], spec[MAX_REPS];
  azc_status_t st = NULL;
  b->e2e[which].name = which ? "list to rewrite" : "story";
  b->e2e[which].same = true;
  for (int r = 0; !st && r < b->reps; r++)
    for (int mode = 0; !st && mode < 2; mode++) { /* alternately: plain, drafted */
      azc_generate_result_t res;
      azc_generate_timings_t tm;
      gp.drafter = mode ? d : NULL;
      st = azc_generate(ex, tok, &prompt, &len, 1, &gp, &res, &tm);
      if (st) break;
      double tps = tm.gen_ms > 0 ? 1e3 * (double)tm.gen_tokens / tm.gen_ms : 0;
      (mode ? spec : plain)[r] = tps;
      static int32_t ref[4096];
      static size_t n_ref;
      if (!mode) {
        n_ref = AZC_MIN(res.n_tokens, 4096);
        memcpy(ref, res.tokens, n_ref * sizeof(int32_t));
      } else {
        b->e2e[which].same &= res.n_tokens == n_ref && !memcmp(ref, res.tokens, n_ref * 4);
        b->e2e[which].acceptance = tm.drafted ? (double)tm.draft_accepted / (double)tm.drafted : 0;
        b->e2e[which].tokens_per_pass =
            tm.draft_passes ? (double)tm.gen_tokens / (double)tm.draft_passes : 0;
        b->e2e[which].tokens = tm.gen_tokens;
      }
      azc_generate_result_free(&res);
    }
  azc_drafter_destroy(d);
  AZC_RETURN_IF_ERROR(st);
  b->e2e[which].plain_tps = median(plain, b->reps);
  b->e2e[which].spec_tps = median(spec, b->reps);
  return NULL;
}

static azc_status_t llama_tg(spec_bench_t *b) {
  char cmd[8192], out[512];
  snprintf(out, sizeof(out), "%s/llama-bench.json", b->tmp);
  snprintf(cmd, sizeof(cmd), "'%s' -m '%s' -t %d -p 0 -n %d -r %d -o json > '%s' 2>/dev/null",
           b->llama_bench, b->model, b->threads, b->n_gen, b->reps, out);
  if (system(cmd) != 0) return AZC_ERR(AZC_IO, "llama-bench failed: %s", cmd);
  char *text;
  size_t len;
  AZC_RETURN_IF_ERROR(azc_file_read_all(out, &text, &len));
  cJSON *root = cJSON_Parse(text);
  free(text);
  cJSON *it = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : NULL;
  cJSON *avg = it ? cJSON_GetObjectItem(it, "avg_ts") : NULL;
  if (!cJSON_IsNumber(avg)) {
    cJSON_Delete(root);
    return AZC_ERR(AZC_CORRUPT, "%s: not llama-bench JSON with avg_ts", out);
  }
  b->ll_tg = cJSON_GetNumberValue(avg);
  b->have_llama = true;
  cJSON_Delete(root);
  return NULL;
}

static azc_status_t run(spec_bench_t *b) {
  snprintf(b->tmp, sizeof(b->tmp), "/tmp/azc-bench-spec-XXXXXX");
  if (!mkdtemp(b->tmp)) return AZC_ERR(AZC_IO, "cannot create a temporary directory");
  char bundle[300];
  const char *path = b->model;
  FILE *f = fopen(path, "rb");
  char magic[8] = {0};
  bool is_bundle = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, AZC_BUNDLE_MAGIC, 8);
  if (f) fclose(f);
  if (!is_bundle) {
    AZC_RETURN_IF_ERROR(compile_bundle(b, bundle, sizeof(bundle)));
    path = bundle;
  }
  azc_bundle_model_t *bm;
  AZC_RETURN_IF_ERROR(azc_bundle_model_open(path, AZC_BUNDLE_MODEL_VERIFY_NOW, &bm));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_threads = b->threads;
  ep.n_ctx = 1024;
  ep.n_batch = 512;
  azc_executor_t *ex;
  azc_status_t st = azc_bundle_model_executor(bm, &ep, &ex);
  if (!st) {
    fprintf(stderr, "azc: bench --spec: verify passes of 1..%d tokens x %d...\n", MAX_K, b->reps);
    st = verify_curve(b, ex);
    fprintf(stderr, "azc: bench --spec: %d tokens, plain and lookup-drafted, x %d...\n", b->n_gen,
            b->reps);
    if (!st) st = end_to_end(b, ex, bm->tokenizer, 0, prompt_story);
    if (!st) st = end_to_end(b, ex, bm->tokenizer, 1, prompt_list);
    azc_executor_destroy(ex);
  }
  azc_bundle_model_close(bm);
  AZC_RETURN_IF_ERROR(st);
  if (b->llama_bench) {
    fprintf(stderr, "azc: bench --spec: llama-bench tg%d on the same file...\n", b->n_gen);
    AZC_RETURN_IF_ERROR(llama_tg(b));
  }
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->tmp);
  if (system(cmd) != 0) fprintf(stderr, "azc: bench: could not remove %s\n", b->tmp);
  return NULL;
}

static void print_markdown(const spec_bench_t *b) {
  printf("## azc bench --spec: %s, %d threads, %d repetitions\n\n", b->model, b->threads, b->reps);
  printf("Verify cost: one pass of k tokens after %d, every row's logits, against one decode "
         "step (k = 1).\n\n",
         DEPTH);
  printf(
      "| k | ms per pass (median) | cost / decode step | ms per token |\n|---:|---:|---:|---:|\n");
  for (int k = 1; k <= MAX_K; k++)
    printf("| %d | %.2f | %.2fx | %.2f |\n", k, b->verify_ms[k],
           b->verify_ms[1] > 0 ? b->verify_ms[k] / b->verify_ms[1] : 0, b->verify_ms[k] / k);
  printf("\nEnd to end: greedy, %d tokens, lookup drafting (--draft-max %d) against plain "
         "decoding, run alternately.\n\n",
         b->n_gen, b->draft_max);
  printf("| prompt | plain t/s | lookup t/s | lookup / plain | acceptance | tokens per pass | "
         "same output |%s\n",
         b->have_llama ? " llama.cpp tg t/s | lookup / llama.cpp |" : "");
  printf("|---|---:|---:|---:|---:|---:|---|%s\n", b->have_llama ? "---:|---:|" : "");
  for (int i = 0; i < 2; i++) {
    printf("| %s | %.2f | %.2f | %.2fx | %.1f%% | %.2f | %s |", b->e2e[i].name, b->e2e[i].plain_tps,
           b->e2e[i].spec_tps,
           b->e2e[i].plain_tps > 0 ? b->e2e[i].spec_tps / b->e2e[i].plain_tps : 0,
           100 * b->e2e[i].acceptance, b->e2e[i].tokens_per_pass, b->e2e[i].same ? "yes" : "NO");
    if (b->have_llama)
      printf(" %.2f | %.2fx |", b->ll_tg, b->ll_tg > 0 ? b->e2e[i].spec_tps / b->ll_tg : 0);
    printf("\n");
  }
}

static void print_json(const spec_bench_t *b) {
  printf("{\"model\": ");
  cli_json_string(stdout, b->model, strlen(b->model));
  printf(", \"threads\": %d, \"reps\": %d, \"depth\": %d, \"verify_ms\": [", b->threads, b->reps,
         DEPTH);
  for (int k = 1; k <= MAX_K; k++) printf("%s%.4f", k > 1 ? ", " : "", b->verify_ms[k]);
  printf("], \"n_gen\": %d, \"draft_max\": %d, \"end_to_end\": [", b->n_gen, b->draft_max);
  for (int i = 0; i < 2; i++)
    printf("%s{\"prompt\": \"%s\", \"plain_tps\": %.3f, \"lookup_tps\": %.3f, "
           "\"acceptance_rate\": %.4f, \"tokens_per_pass\": %.4f, \"same_output\": %s}",
           i ? ", " : "", b->e2e[i].name, b->e2e[i].plain_tps, b->e2e[i].spec_tps,
           b->e2e[i].acceptance, b->e2e[i].tokens_per_pass, b->e2e[i].same ? "true" : "false");
  printf("]");
  if (b->have_llama) printf(", \"llama_cpp_tg_tps\": %.3f", b->ll_tg);
  printf("}\n");
}

int azc_bench_spec(int argc, char **argv) {
  spec_bench_t b;
  memset(&b, 0, sizeof(b));
  b.threads = azc_cpu_count();
  b.reps = 3;
  b.n_gen = 128;
  b.draft_max = 8;
  for (int i = 1; i < argc; i++) {
    long long iv;
    azc_status_t st = NULL;
    if (!strcmp(argv[i], "--spec")) continue;
    if (!strcmp(argv[i], "-t")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1024, &iv))) b.threads = (int)iv;
    } else if (!strcmp(argv[i], "-r")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, MAX_REPS, &iv))) b.reps = (int)iv;
    } else if (!strcmp(argv[i], "-n")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 800, &iv))) b.n_gen = (int)iv;
    } else if (!strcmp(argv[i], "--draft-max")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 256, &iv))) b.draft_max = (int)iv;
    } else if (!strcmp(argv[i], "--json"))
      b.json = true;
    else if (!strcmp(argv[i], "--vs-llama-bench"))
      st = cli_str_arg(argc, argv, &i, &b.llama_bench);
    else if (argv[i][0] == '-')
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "bench --spec: unknown option %s", argv[i]);
    else if (!b.model)
      b.model = argv[i];
    else
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "bench --spec: unexpected argument '%s'", argv[i]);
    if (st) return cli_fail(st);
  }
  if (!b.model) return cli_usage_error("bench: usage: azc bench MODEL --spec [options]");
  azc_status_t st = run(&b);
  if (st) return cli_fail(st);
  if (b.json)
    print_json(&b);
  else
    print_markdown(&b);
  return 0;
}
