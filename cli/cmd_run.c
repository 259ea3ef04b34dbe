/* azc run MODEL (-p TEXT | -f FILE) [options]: generate text.
 *
 * Streams the generated text to stdout (or prints one JSON object with
 * --json) and ends with a timing summary on stderr, as llama.cpp does. On a
 * .gguf file it runs the eager interpreter. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/model.h"
#include "ir/interp.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"
#include "runtime/generate.h"

typedef struct run_opts {
  const char *model, *prompt, *prompt_file, *logits_out;
  azc_generate_params_t gen;
  azc_executor_params_t exec;
  bool eager, json;
} run_opts_t;

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
          "  --eager              run the IR interpreter\n"
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
    } else if (!strcmp(a, "--temp")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 100, &fv));
      o->gen.sampling.temperature = (float)fv;
    } else if (!strcmp(a, "--top-k")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 30, &iv));
      o->gen.sampling.top_k = (int32_t)iv;
    } else if (!strcmp(a, "--top-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.top_p = (float)fv;
    } else if (!strcmp(a, "--min-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.min_p = (float)fv;
    } else if (!strcmp(a, "--repeat-penalty")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0.01, 100, &fv));
      o->gen.sampling.repeat_penalty = (float)fv;
    } else if (!strcmp(a, "--repeat-last-n")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv));
      o->gen.sampling.repeat_last_n = (int32_t)iv;
    } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, INT64_MAX, &iv));
      o->gen.sampling.seed = (uint64_t)iv;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1024, &iv));
      o->exec.n_threads = (int32_t)iv;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1 << 24, &iv));
      o->exec.n_ctx = (int32_t)iv;
    } else if (!strcmp(a, "--eager")) o->eager = true;
    else if (!strcmp(a, "--json")) o->json = true;
    else if (!strcmp(a, "--ignore-eos")) o->gen.ignore_eos = true;
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
  azc_model_t *model;
  azc_ir_graph_t *graph;
  azc_executor_t *exec;
  azc_tokenizer_t *tok;
  char *prompt_buf;
  float *logits;
  azc_generate_result_t result;
} run_state_t;

static azc_status_t run(run_opts_t *o, run_state_t *s) {
  double t0 = azc_time_ms();
  const char *prompt = o->prompt;
  size_t prompt_len = prompt ? strlen(prompt) : 0;
  if (o->prompt_file) {
    AZC_RETURN_IF_ERROR(azc_file_read_all(o->prompt_file, &s->prompt_buf, &prompt_len));
    prompt = s->prompt_buf;
  }
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
  AZC_RETURN_IF_ERROR(azc_ir_interp_create(s->graph, &o->exec, &s->exec));
  double load_ms = azc_time_ms() - t0;

  if (o->logits_out) {
    s->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    if (!s->logits) return AZC_ERR(AZC_OUT_OF_MEMORY, "logits");
    o->gen.prompt_logits = s->logits;
  }
  if (!o->json) o->gen.on_text = on_text;
  azc_generate_timings_t tm;
  AZC_RETURN_IF_ERROR(azc_generate(s->exec, s->tok, &prompt, &prompt_len, 1, &o->gen, &s->result, &tm));
  if (o->logits_out) AZC_RETURN_IF_ERROR(write_logits(o->logits_out, s->logits, hp->n_vocab));
  if (o->json) print_json(o, &s->result, &tm, load_ms);
  print_timings(s->exec->ops->name, &tm, load_ms, azc_time_ms() - t0);
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
  azc_ir_graph_destroy(s.graph);
  azc_tokenizer_destroy(s.tok);
  azc_model_close(s.model);
  free(s.prompt_buf);
  free(s.logits);
  return st ? cli_fail(st) : 0;
}
