/* azc run MODEL (-p TEXT | -f FILE) [options]: generate text.
 *
 * MODEL is a bundle (made by azc compile: the thin runtime opens it, checks
 * it and runs its compiled code; the bundle's stored defaults apply unless a
 * flag overrides them) or a GGUF file: then azc compiles it in-process
 * through the kernel cache and runs the compiled code, as torch.compile does
 * on its first call; --eager runs the IR interpreter instead. Streams the
 * generated text to stdout (or prints one JSON object with --json) and ends
 * with a timing summary on stderr, as llama.cpp does. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "codegen/compile.h"
#include "frontend/model.h"
#include "ir/interp.h"
#include "runtime/bundle.h"
#include "runtime/cpu_exec.h"
#include "runtime/elf_loader.h"
#include "runtime/kernel_symbols.h"
#include "runtime/model_bundle.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"
#include "runtime/generate.h"

typedef struct run_opts {
  const char *model, *prompt, *prompt_file, *logits_out;
  azc_generate_params_t gen;
  azc_executor_params_t exec;
  bool eager, json, no_cache;
  unsigned set; /* options given on the command line (SET_*) */
} run_opts_t;

enum {
  SET_N = 1 << 0,
  SET_TEMP = 1 << 1,
  SET_TOP_K = 1 << 2,
  SET_TOP_P = 1 << 3,
  SET_MIN_P = 1 << 4,
  SET_PENALTY = 1 << 5,
  SET_LAST_N = 1 << 6,
  SET_SEED = 1 << 7,
  SET_THREADS = 1 << 8,
  SET_CTX = 1 << 9,
};

static void run_usage(FILE *out) {
  fprintf(out,
          "usage: azc run MODEL (-p TEXT | -f FILE) [options]\n"
          "  -n N                 tokens to generate (default 128; -1: until EOS)\n"
          "  --temp T             temperature (default 0.8; 0 = greedy)\n"
          "  --top-k K            (default 50; 0 = off)\n"
          "  --top-p P            (default 0.9; 1 = off)\n"
          "  --min-p P            (default 0 = off)\n"
          "  --repeat-penalty R   (default 1 = off)\n"
          "  --repeat-last-n N    tokens the penalty looks back over (default 64)\n"
          "  --seed S             sampling seed (default: random)\n"
          "  -t THREADS           (default: all cores)\n"
          "  -c CTX               context size (default: the model's, at most 4096)\n"
          "  --eager              run the IR interpreter (GGUF only)\n"
          "  --no-cache           compile a GGUF without the kernel cache\n"
          "  --json               print one JSON object when done\n"
          "  --logits-out FILE    write the logits at the last prompt position (f32)\n"
          "  --ignore-eos         do not stop at end-of-generation tokens\n");
}

static azc_status_t parse(int argc, char **argv, run_opts_t *o) {
  o->gen = azc_generate_params_default();
  o->exec = azc_executor_params_default();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long long iv;
    double fv;
    if (!strcmp(a, "-p")) AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, &i, &o->prompt));
    else if (!strcmp(a, "-f")) AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, &i, &o->prompt_file));
    else if (!strcmp(a, "--logits-out")) AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, &i, &o->logits_out));
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, -1, 1 << 30, &iv));
      o->gen.n_predict = (int32_t)iv;
      o->set |= SET_N;
    } else if (!strcmp(a, "--temp")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 100, &fv));
      o->gen.sampling.temperature = (float)fv;
      o->set |= SET_TEMP;
    } else if (!strcmp(a, "--top-k")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 30, &iv));
      o->gen.sampling.top_k = (int32_t)iv;
      o->set |= SET_TOP_K;
    } else if (!strcmp(a, "--top-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.top_p = (float)fv;
      o->set |= SET_TOP_P;
    } else if (!strcmp(a, "--min-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.min_p = (float)fv;
      o->set |= SET_MIN_P;
    } else if (!strcmp(a, "--repeat-penalty")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0.01, 100, &fv));
      o->gen.sampling.repeat_penalty = (float)fv;
      o->set |= SET_PENALTY;
    } else if (!strcmp(a, "--repeat-last-n")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv));
      o->gen.sampling.repeat_last_n = (int32_t)iv;
      o->set |= SET_LAST_N;
    } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, INT64_MAX, &iv));
      o->gen.sampling.seed = (uint64_t)iv;
      o->set |= SET_SEED;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1024, &iv));
      o->exec.n_threads = (int32_t)iv;
      o->set |= SET_THREADS;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1 << 24, &iv));
      o->exec.n_ctx = (int32_t)iv;
      o->set |= SET_CTX;
    } else if (!strcmp(a, "--eager")) o->eager = true;
    else if (!strcmp(a, "--json")) o->json = true;
    else if (!strcmp(a, "--ignore-eos")) o->gen.ignore_eos = true;
    else if (!strcmp(a, "--no-cache")) o->no_cache = true;
    else if (a[0] == '-' && a[1]) return AZC_ERR(AZC_INVALID_ARGUMENT, "run: unknown option %s", a);
    else if (!o->model) o->model = a;
    else return AZC_ERR(AZC_INVALID_ARGUMENT, "run: unexpected argument '%s'", a);
  }
  if (!o->model) return AZC_ERR(AZC_INVALID_ARGUMENT, "run: no model given");
  if (!!o->prompt == !!o->prompt_file)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "run: give exactly one of -p TEXT or -f FILE");
  return NULL;
}

static void on_text(void *user, int32_t seq, const char *text, size_t len) {
  (void)user;
  (void)seq;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
}

static void print_json(const run_opts_t *o, const azc_generate_result_t *r,
                       const azc_generate_timings_t *tm, double load_ms) {
  printf("{\"prompt_tokens\": [");
  for (size_t i = 0; i < r->n_prompt; i++) printf("%s%d", i ? ", " : "", r->prompt_tokens[i]);
  printf("], \"tokens\": [");
  for (size_t i = 0; i < r->n_tokens; i++) printf("%s%d", i ? ", " : "", r->tokens[i]);
  printf("], \"text\": ");
  cli_json_string(stdout, r->text, r->text_len);
  static const char *stops[] = {"eos", "length", "context"};
  printf(", \"stop\": \"%s\"", stops[r->stop]);
  printf(", \"timings\": {\"load_ms\": %.3f, \"prompt_ms\": %.3f, \"prompt_tokens_per_s\": %.3f, "
         "\"gen_ms\": %.3f, \"gen_tokens_per_s\": %.3f}}\n",
         load_ms, tm->prompt_ms, tm->prompt_ms > 0 ? 1e3 * (double)tm->prompt_tokens / tm->prompt_ms : 0,
         tm->gen_ms, tm->gen_ms > 0 ? 1e3 * (double)tm->gen_tokens / tm->gen_ms : 0);
  (void)o;
}

static void print_timings(const char *mode, const azc_generate_timings_t *tm, double load_ms,
                          double total_ms) {
  fprintf(stderr, "\n");
  fprintf(stderr, "azc: mode       = %s\n", mode);
  fprintf(stderr, "azc: load       = %10.2f ms\n", load_ms);
  fprintf(stderr, "azc: prompt     = %10.2f ms / %5lld tokens (%8.2f ms per token, %9.2f tokens per second)\n",
          tm->prompt_ms, (long long)tm->prompt_tokens,
          tm->prompt_tokens ? tm->prompt_ms / (double)tm->prompt_tokens : 0,
          tm->prompt_ms > 0 ? 1e3 * (double)tm->prompt_tokens / tm->prompt_ms : 0);
  fprintf(stderr, "azc: generation = %10.2f ms / %5lld runs   (%8.2f ms per token, %9.2f tokens per second)\n",
          tm->gen_ms, (long long)tm->gen_tokens,
          tm->gen_tokens ? tm->gen_ms / (double)tm->gen_tokens : 0,
          tm->gen_ms > 0 ? 1e3 * (double)tm->gen_tokens / tm->gen_ms : 0);
  fprintf(stderr, "azc: sampling   = %10.2f ms\n", tm->sample_ms);
  fprintf(stderr, "azc: total      = %10.2f ms\n", total_ms);
}

static azc_status_t write_logits(const char *path, const float *logits, int32_t n) {
  azc_atomic_file_t f;
  AZC_RETURN_IF_ERROR(azc_atomic_file_open(path, &f));
  azc_status_t st = azc_atomic_file_write(&f, logits, (size_t)n * sizeof(float));
  if (st) {
    azc_atomic_file_abort(&f);
    return st;
  }
  return azc_atomic_file_commit(&f);
}

typedef struct run_state {
  azc_model_t *model;        /* GGUF */
  azc_ir_graph_t *graph;
  azc_compiled_t *compiled;  /* GGUF, compiled in-process */
  azc_code_image_t *code;
  azk_fn_t *kernels;
  azc_bundle_model_t *bundle; /* bundle */
  azc_executor_t *exec;
  azc_tokenizer_t *tok;      /* owned when from a GGUF */
  char *prompt_buf;
  float *logits;
  azc_generate_result_t result;
} run_state_t;

static bool is_bundle(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[8] = {0};
  bool yes = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, AZC_BUNDLE_MAGIC, 8);
  if (f) fclose(f);
  return yes;
}

/* Bundle defaults apply where the command line did not set a value. */
static void apply_defaults(run_opts_t *o, const azc_bundle_defaults_t *d) {
  azc_sampler_params_t *sp = &o->gen.sampling;
  if (!(o->set & SET_N)) o->gen.n_predict = d->n_predict;
  if (!(o->set & SET_TEMP)) sp->temperature = d->temperature;
  if (!(o->set & SET_TOP_K)) sp->top_k = d->top_k;
  if (!(o->set & SET_TOP_P)) sp->top_p = d->top_p;
  if (!(o->set & SET_MIN_P)) sp->min_p = d->min_p;
  if (!(o->set & SET_PENALTY)) sp->repeat_penalty = d->repeat_penalty;
  if (!(o->set & SET_LAST_N)) sp->repeat_last_n = d->repeat_last_n;
  if (!(o->set & SET_SEED)) sp->seed = d->seed;
  if (!(o->set & SET_THREADS) && d->n_threads > 0) o->exec.n_threads = d->n_threads;
  if (!(o->set & SET_CTX) && d->n_ctx > 0) o->exec.n_ctx = d->n_ctx;
}

static azc_status_t load_bundle(run_opts_t *o, run_state_t *s, const char **mode) {
  if (o->eager) return AZC_ERR(AZC_INVALID_ARGUMENT, "--eager needs a GGUF model, not a bundle");
  AZC_RETURN_IF_ERROR(azc_bundle_model_open(o->model, 0, &s->bundle));
  apply_defaults(o, &s->bundle->defaults);
  if (o->exec.n_ctx <= 0) o->exec.n_ctx = AZC_MIN(s->bundle->meta.n_ctx_train, 4096);
  o->exec.n_batch = (int32_t)AZC_MIN(o->exec.n_batch, o->exec.n_ctx);
  AZC_RETURN_IF_ERROR(azc_bundle_model_executor(s->bundle, &o->exec, &s->exec));
  *mode = "compiled (bundle)";
  return NULL;
}

static void on_kernel(void *user, int done, int total, bool hit, double ms, const char *desc) {
  (void)user;
  if (!hit) fprintf(stderr, "azc: compiled kernel %d/%d in %.0f ms: %s\n", done, total, ms, desc);
}

static azc_status_t load_gguf(run_opts_t *o, run_state_t *s, const char **mode) {
  AZC_RETURN_IF_ERROR(azc_model_open(o->model, &s->model));
  const azc_hparams_t *hp = &s->model->hp;
  if (!s->model->tok.n_vocab)
    return AZC_ERR(AZC_UNSUPPORTED, "%s: the file has no tokenizer (tokenizer.ggml.* keys)", o->model);
  AZC_RETURN_IF_ERROR_CTX(azc_tokenizer_create(&s->model->tok, &s->tok), "%s: tokenizer", o->model);
  AZC_RETURN_IF_ERROR(azc_model_lower(s->model, &s->graph));
  if (o->exec.n_ctx <= 0) o->exec.n_ctx = AZC_MIN(hp->n_ctx_train, 4096);
  if (!strcmp(hp->arch, "gpt2") && o->exec.n_ctx > hp->n_ctx_train)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "%s: context %d exceeds the %d positions gpt2 has learned embeddings for",
                   o->model, o->exec.n_ctx, hp->n_ctx_train);
  o->exec.n_batch = AZC_MIN(o->exec.n_batch, o->exec.n_ctx);
  if (o->eager) {
    *mode = "eager";
    return azc_ir_interp_create(s->graph, &o->exec, &s->exec);
  }
  azc_compile_options_t co = azc_compile_options_default();
  co.n_batch = o->exec.n_batch;
  co.n_ctx = o->exec.n_ctx;
  co.use_cache = !o->no_cache;
  co.progress = on_kernel;
  AZC_RETURN_IF_ERROR(azc_compile_graph(s->graph, hp->n_vocab, hp->n_ctx_train, &co, &s->compiled));
  const azc_plan_t *p = s->compiled->plan;
  AZC_RETURN_IF_ERROR(azc_code_image_load((const void *const *)s->compiled->objects,
                                          s->compiled->object_sizes, p->n_kernels, azc_kernel_resolve, NULL,
                                          &s->code));
  s->kernels = calloc((size_t)p->n_kernels + 1, sizeof(azk_fn_t));
  if (!s->kernels) return AZC_ERR(AZC_OUT_OF_MEMORY, "kernel table");
  for (int32_t k = 0; k < p->n_kernels; k++) {
    void *f = azc_code_image_symbol(s->code, p->kernels[k].symbol);
    if (!f) return AZC_ERR(AZC_INTERNAL, "kernel %s missing from its object", p->kernels[k].symbol);
    *(void **)&s->kernels[k] = f;
  }
  const azc_compile_stats_t *cs = &s->compiled->stats;
  fprintf(stderr, "azc: compiled %d kernels (%d from the cache) in %.0f ms\n", cs->kernels,
          cs->cache_hits, cs->ms_passes + cs->ms_specs + cs->ms_kernels_wall);
  *mode = "compiled (in-process)";
  return azc_cpu_exec_create(p, s->kernels, s->compiled->weight_data, &o->exec, &s->exec);
}

static azc_status_t run(run_opts_t *o, run_state_t *s) {
  double t0 = azc_time_ms();
  const char *prompt = o->prompt, *mode = "";
  size_t prompt_len = prompt ? strlen(prompt) : 0;
  if (o->prompt_file) {
    AZC_RETURN_IF_ERROR(azc_file_read_all(o->prompt_file, &s->prompt_buf, &prompt_len));
    prompt = s->prompt_buf;
  }
  if (is_bundle(o->model)) AZC_RETURN_IF_ERROR(load_bundle(o, s, &mode));
  else AZC_RETURN_IF_ERROR(load_gguf(o, s, &mode));
  const azc_tokenizer_t *tok = s->bundle ? s->bundle->tokenizer : s->tok;
  int32_t n_vocab = s->exec->n_vocab;
  double load_ms = azc_time_ms() - t0;

  if (o->logits_out) {
    s->logits = malloc((size_t)n_vocab * sizeof(float));
    if (!s->logits) return AZC_ERR(AZC_OUT_OF_MEMORY, "logits");
    o->gen.prompt_logits = s->logits;
  }
  if (!o->json) o->gen.on_text = on_text;
  azc_generate_timings_t tm;
  AZC_RETURN_IF_ERROR(azc_generate(s->exec, tok, &prompt, &prompt_len, 1, &o->gen, &s->result, &tm));
  if (o->logits_out) AZC_RETURN_IF_ERROR(write_logits(o->logits_out, s->logits, n_vocab));
  if (o->json) print_json(o, &s->result, &tm, load_ms);
  print_timings(mode, &tm, load_ms, azc_time_ms() - t0);
  return NULL;
}

int azc_cmd_run(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      run_usage(stdout);
      return 0;
    }
  run_opts_t o;
  memset(&o, 0, sizeof(o));
  azc_status_t st = parse(argc, argv, &o);
  if (st) {
    run_usage(stderr);
    return cli_fail(st);
  }
  run_state_t s;
  memset(&s, 0, sizeof(s));
  st = run(&o, &s);
  azc_generate_result_free(&s.result);
  azc_executor_destroy(s.exec);
  free(s.kernels);
  azc_code_image_free(s.code);
  azc_compiled_free(s.compiled);
  azc_ir_graph_destroy(s.graph);
  azc_tokenizer_destroy(s.tok);
  azc_model_close(s.model);
  azc_bundle_model_close(s.bundle);
  free(s.prompt_buf);
  free(s.logits);
  return st ? cli_fail(st) : 0;
}
