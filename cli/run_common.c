/* The runtime-only parts of the run command (see run_common.h). */
#include "cli/run_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/chat_session.h"
#include "runtime/model_bundle.h"
#include "runtime/model_store.h"


static void run_usage(FILE *out, const char *prog) {
  fprintf(out, "usage: %s MODEL (-p TEXT | -f FILE) [options]\n", prog);
  fprintf(out,
          ""
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
          "  -ngl N|auto          layers on the GPU (--gpu-layers; default: the bundle's, from\n"
          "                       azc compile -ngl or a Modelfile's num_gpu; 99: all; auto: as\n"
          "                       many as fit); needs a bundle compiled with GPU code\n"
          "  --kv-type T          the KV cache's element type: f32, f16 or q8_0 (default f16,\n"
          "                       as llama.cpp; a run-time choice: any bundle takes any type\n"
          "                       on the CPU; the GPU keeps f32)\n"
          "  --eager              run the IR interpreter (GGUF only)\n"
          "  --no-cache           compile a GGUF without the kernel cache\n"
          "  --json               print one JSON object when done\n"
          "  --logits-out FILE    write the logits at the last prompt position (f32)\n"
          "  --ignore-eos         do not stop at end-of-generation tokens\n"
          "  --batch              -f FILE holds one prompt per line; run them as one batch\n"
          "  --chat               the prompt is a user message: apply the model's chat template\n"
          "                       (and the Modelfile's SYSTEM); without it no template is applied;\n"
          "                       with --json, the JSON holds the rendered prompt\n"
          "  --draft lookup|MODEL speculative decoding: prompt-lookup (n-gram) drafts, or a\n"
          "                       draft model with the same vocabulary (GGUF, bundle, store name)\n"
          "  --draft-max N        most tokens drafted per pass (default 8)\n"
          "  --no-draft           without the bundle's draft model (a Modelfile's DRAFT)\n");
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
      o->set |= RUN_SET_N;
    } else if (!strcmp(a, "--temp")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 100, &fv));
      o->gen.sampling.temperature = (float)fv;
      o->set |= RUN_SET_TEMP;
    } else if (!strcmp(a, "--top-k")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 30, &iv));
      o->gen.sampling.top_k = (int32_t)iv;
      o->set |= RUN_SET_TOP_K;
    } else if (!strcmp(a, "--top-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.top_p = (float)fv;
      o->set |= RUN_SET_TOP_P;
    } else if (!strcmp(a, "--min-p")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0, 1, &fv));
      o->gen.sampling.min_p = (float)fv;
      o->set |= RUN_SET_MIN_P;
    } else if (!strcmp(a, "--repeat-penalty")) {
      AZC_RETURN_IF_ERROR(cli_float_arg(argc, argv, &i, 0.01, 100, &fv));
      o->gen.sampling.repeat_penalty = (float)fv;
      o->set |= RUN_SET_PENALTY;
    } else if (!strcmp(a, "--repeat-last-n")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv));
      o->gen.sampling.repeat_last_n = (int32_t)iv;
      o->set |= RUN_SET_LAST_N;
    } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, INT64_MAX, &iv));
      o->gen.sampling.seed = (uint64_t)iv;
      o->set |= RUN_SET_SEED;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1024, &iv));
      o->exec.n_threads = (int32_t)iv;
      o->set |= RUN_SET_THREADS;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 1 << 24, &iv));
      o->exec.n_ctx = (int32_t)iv;
      o->set |= RUN_SET_CTX;
    } else if (!strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers") ||
               !strcmp(a, "--n-gpu-layers")) {
      if (i + 1 < argc && !strcmp(argv[i + 1], "auto")) {
        o->exec.n_gpu_layers = AZC_GPU_LAYERS_AUTO;
        i++;
      } else {
        AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv));
        o->exec.n_gpu_layers = (int32_t)iv;
      }
      o->exec.gpu_layers_set = 1;
    } else if (!strcmp(a, "--kv-type")) {
      AZC_RETURN_IF_ERROR(cli_kv_type_arg(argc, argv, &i, &o->exec.kv_type));
    } else if (!strcmp(a, "--eager")) o->eager = true;
    else if (!strcmp(a, "--json")) o->json = true;
    else if (!strcmp(a, "--ignore-eos")) o->gen.ignore_eos = true;
    else if (!strcmp(a, "--no-cache")) o->no_cache = true;
    else if (!strcmp(a, "--batch")) o->batch = true;
    else if (!strcmp(a, "--chat")) o->chat = true;
    else if (!strcmp(a, "--no-draft")) o->no_draft = true;
    else if (!strcmp(a, "--draft")) AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, &i, &o->draft));
    else if (!strcmp(a, "--draft-max")) {
      AZC_RETURN_IF_ERROR(cli_int_arg(argc, argv, &i, 1, 256, &iv));
      o->gen.draft_max = (int32_t)iv;
    }
    else if (a[0] == '-' && a[1]) return AZC_ERR(AZC_INVALID_ARGUMENT, "run: unknown option %s", a);
    else if (!o->model) o->model = a;
    else return AZC_ERR(AZC_INVALID_ARGUMENT, "run: unexpected argument '%s'", a);
  }
  if (!o->model) return AZC_ERR(AZC_INVALID_ARGUMENT, "run: no model given");
  AZC_RETURN_IF_ERROR(run_resolve_model(o, &o->model_path));
  if (!!o->prompt == !!o->prompt_file)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "run: give exactly one of -p TEXT or -f FILE");
  if (o->batch && !o->prompt_file)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "run: --batch reads prompts from -f FILE, one per line");
  if (o->chat && (o->batch || o->logits_out))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "run: --chat runs one turn; not with --batch or --logits-out");
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
         "\"gen_ms\": %.3f, \"gen_tokens_per_s\": %.3f, \"peak_rss_mib\": %.1f",
         load_ms, tm->prompt_ms, tm->prompt_ms > 0 ? 1e3 * (double)tm->prompt_tokens / tm->prompt_ms : 0,
         tm->gen_ms, tm->gen_ms > 0 ? 1e3 * (double)tm->gen_tokens / tm->gen_ms : 0,
         run_peak_rss_mib());
  if (o->gen.drafter)
    printf(", \"draft\": {\"drafter\": \"%s\", \"draft_max\": %d, \"passes\": %lld, "
           "\"drafted\": %lld, \"accepted\": %lld, \"acceptance_rate\": %.4f, "
           "\"tokens_per_pass\": %.4f, \"draft_ms\": %.3f}",
           o->gen.drafter->ops->name, o->gen.draft_max, (long long)tm->draft_passes,
           (long long)tm->drafted, (long long)tm->draft_accepted,
           tm->drafted ? (double)tm->draft_accepted / (double)tm->drafted : 0,
           tm->draft_passes ? (double)tm->gen_tokens / (double)tm->draft_passes : 0, tm->draft_ms);
  printf("}}%s", o->batch ? "" : "\n");
}

/* Splits text into non-empty lines (in place); returns the count. */
static int split_lines(char *text, size_t len, const char **lines, size_t *lens, int cap) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '\n') continue;
    size_t end = i;
    if (end > start && text[end - 1] == '\r') end--;
    if (end > start && n < cap) {
      lines[n] = text + start;
      lens[n] = end - start;
      n++;
    }
    start = i + 1;
  }
  return n;
}

static void print_timings(const run_opts_t *o, const char *mode, const azc_generate_timings_t *tm,
                          double load_ms, double total_ms) {
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
  if (o->gen.drafter)
    fprintf(stderr,
            "azc: drafting   = %10.2f ms (%s, at most %d per pass: %lld drafted, %lld accepted = "
            "%.1f%%; %.2f tokens per pass over %lld passes)\n",
            tm->draft_ms, o->gen.drafter->ops->name, o->gen.draft_max, (long long)tm->drafted,
            (long long)tm->draft_accepted,
            tm->drafted ? 100.0 * (double)tm->draft_accepted / (double)tm->drafted : 0.0,
            tm->draft_passes ? (double)tm->gen_tokens / (double)tm->draft_passes : 0.0,
            (long long)tm->draft_passes);
  fprintf(stderr, "azc: peak RSS   = %10.1f MiB\n", run_peak_rss_mib());
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

azc_status_t run_resolve_model(run_opts_t *o, char **path) {
  *path = NULL;
  struct stat sb;
  if (stat(o->model, &sb) == 0) return NULL;
  char *dir = NULL;
  bool in_store;
  azc_status_t st = azc_model_store_dir(NULL, &dir);
  if (!st) st = azc_model_store_resolve(dir, o->model, path, &in_store);
  free(dir);
  if (!st) o->model = *path;
  return st;
}

bool run_is_bundle(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[8] = {0};
  bool yes = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, AZC_BUNDLE_MAGIC, 8);
  if (f) fclose(f);
  return yes;
}

/* Bundle defaults apply where the command line did not set a value. */
static void apply_defaults(run_opts_t *o, const azc_bundle_defaults_t *d) {
  azc_sampler_params_t *sp = &o->gen.sampling;
  if (!(o->set & RUN_SET_N)) o->gen.n_predict = d->n_predict;
  if (!(o->set & RUN_SET_TEMP)) sp->temperature = d->temperature;
  if (!(o->set & RUN_SET_TOP_K)) sp->top_k = d->top_k;
  if (!(o->set & RUN_SET_TOP_P)) sp->top_p = d->top_p;
  if (!(o->set & RUN_SET_MIN_P)) sp->min_p = d->min_p;
  if (!(o->set & RUN_SET_PENALTY)) sp->repeat_penalty = d->repeat_penalty;
  if (!(o->set & RUN_SET_LAST_N)) sp->repeat_last_n = d->repeat_last_n;
  if (!(o->set & RUN_SET_SEED)) sp->seed = d->seed;
  sp->typical_p = d->typical_p; /* no run flags for these: the bundle's (a Modelfile's) */
  sp->presence_penalty = d->presence_penalty;
  sp->frequency_penalty = d->frequency_penalty;
  if (!(o->set & RUN_SET_THREADS) && d->n_threads > 0) o->exec.n_threads = d->n_threads;
  if (!(o->set & RUN_SET_CTX) && d->n_ctx > 0) o->exec.n_ctx = d->n_ctx;
  /* compiled with -ngl auto: decided here, by what fits on this GPU */
  if (!o->exec.gpu_layers_set && d->n_gpu_layers < 0) {
    o->exec.gpu_layers_set = 1;
    o->exec.n_gpu_layers = AZC_GPU_LAYERS_AUTO;
  }
}

static void free_bundle(void *owner) { azc_bundle_model_close(owner); }
static azc_status_t check_bundle(void *owner) { return azc_bundle_model_wait_verified(owner); }

azc_status_t run_load_bundle(run_opts_t *o, run_model_t *m) {
  if (o->eager) return AZC_ERR(AZC_INVALID_ARGUMENT, "--eager needs a GGUF model, not a bundle");
  azc_bundle_model_t *b;
  AZC_RETURN_IF_ERROR(azc_bundle_model_open(o->model, 0, &b));
  m->owner = b;
  m->free_owner = free_bundle;
  m->check = check_bundle;
  m->tok = b->tokenizer;
  m->chat = b->chat;
  m->defaults = &b->defaults;
  m->default_draft = b->chat ? b->chat->draft : NULL;
  apply_defaults(o, &b->defaults);
  if (o->exec.n_ctx <= 0) o->exec.n_ctx = AZC_MIN(b->meta.n_ctx_train, 4096);
  o->exec.n_batch = (int32_t)AZC_MIN(o->exec.n_batch, o->exec.n_ctx);
  AZC_RETURN_IF_ERROR(azc_bundle_model_executor(b, &o->exec, &m->exec));
  m->mode = "compiled (bundle)";
  return NULL;
}

azc_status_t run_chat_options(const run_model_t *m, azc_options_t *out) {
  const azc_chat_info_t *ci = m->chat;
  size_t n = ci ? ci->n_params : 0;
  AZC_RETURN_IF_ERROR(azc_options_from_stored(m->defaults,
                                              ci ? (const char *const *)ci->param_name : NULL,
                                              ci ? (const char *const *)ci->param_value : NULL, n,
                                              out));
  bool predict_set = false;
  for (size_t i = 0; i < n; i++) predict_set |= !strcmp(ci->param_name[i], "num_predict");
  if (!predict_set) out->v[AZC_OPT_NUM_PREDICT].i = -1;
  return NULL;
}

/* The run flags given, as options (they win over the model's). */
static void flags_as_options(const run_opts_t *o, azc_options_t *req) {
  memset(req, 0, sizeof(*req));
  const azc_sampler_params_t *sp = &o->gen.sampling;
#define SET(bit, id, field, val)                                                                   \
  if (o->set & (bit)) {                                                                            \
    req->v[id].field = (val);                                                                      \
    req->set |= 1u << (id);                                                                        \
  }
  SET(RUN_SET_N, AZC_OPT_NUM_PREDICT, i, o->gen.n_predict);
  SET(RUN_SET_TEMP, AZC_OPT_TEMPERATURE, f, sp->temperature);
  SET(RUN_SET_TOP_K, AZC_OPT_TOP_K, i, sp->top_k);
  SET(RUN_SET_TOP_P, AZC_OPT_TOP_P, f, sp->top_p);
  SET(RUN_SET_MIN_P, AZC_OPT_MIN_P, f, sp->min_p);
  SET(RUN_SET_PENALTY, AZC_OPT_REPEAT_PENALTY, f, sp->repeat_penalty);
  SET(RUN_SET_LAST_N, AZC_OPT_REPEAT_LAST_N, i, sp->repeat_last_n);
  SET(RUN_SET_SEED, AZC_OPT_SEED, i, (int64_t)sp->seed);
#undef SET
}

static void on_chat_text(void *user, const char *text, size_t len) {
  (void)user;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
}

/* azc run --chat: one user turn through the chat session (template, SYSTEM,
 * MESSAGEs, stop strings, end-of-generation tokens). */
static azc_status_t run_chat(run_opts_t *o, run_model_t *m, const char *prompt, size_t len,
                             double load_ms, double t0) {
  azc_chat_template_t *t = NULL;
  azc_chat_session_t *s = NULL;
  char *text = malloc(len + 1);
  if (!text) return AZC_ERR(AZC_OUT_OF_MEMORY, "prompt");
  memcpy(text, prompt, len);
  text[len] = 0;
  azc_options_t stored, req, use;
  azc_chat_turn_t turn;
  memset(&turn, 0, sizeof(turn));
  azc_status_t st = azc_chat_info_template(m->chat, m->tok, &t);
  if (!st) st = run_chat_options(m, &stored);
  if (!st) st = azc_chat_session_create(m->exec, m->tok, m->chat, t, 0, &s);
  if (!st) {
    flags_as_options(o, &req);
    azc_options_resolve(&req, &stored, &use);
    azc_chat_session_set_options(s, &use);
    if (!o->json) azc_chat_session_set_stream(s, on_chat_text, NULL);
    st = azc_chat_session_set_drafter(s, o->gen.drafter, o->gen.draft_max);
    if (!st) st = azc_chat_session_say(s, text, &turn);
  }
  if (!st && m->check) st = m->check(m->owner);
  if (!st && o->json) { /* the rendered prompt, for checking templates end to end */
    printf("{\"prompt\": ");
    const char *pr = turn.prompt ? turn.prompt : "";
    cli_json_string(stdout, pr, strlen(pr));
    printf(", \"prompt_tokens\": %d, \"text\": ", turn.n_prompt);
    cli_json_string(stdout, turn.text, turn.text_len);
    printf(", \"stop\": \"%s\", \"template\": \"%s\"}\n", azc_chat_stop_name(turn.stop),
           azc_chat_template_name(t));
  }
  if (!st) {
    if (!o->json) printf("\n");
    azc_generate_timings_t tm = {turn.prompt_ms, turn.n_prefilled, turn.gen_ms,
                                 turn.n_generated > 0 ? turn.n_generated - 1 : 0, 0};
    tm.draft_passes = turn.n_passes;
    tm.drafted = turn.n_drafted;
    tm.draft_accepted = turn.n_draft_accepted;
    fprintf(stderr, "\nazc: chat template = %s, stop = %s\n", azc_chat_template_name(t),
            azc_chat_stop_name(turn.stop));
    print_timings(o, m->mode, &tm, load_ms, azc_time_ms() - t0);
  }
  azc_chat_turn_free(&turn);
  azc_chat_session_destroy(s);
  azc_chat_template_destroy(t);
  free(text);
  return st;
}

typedef struct run_state {
  run_model_t model;
  run_draft_t draft;
  char *prompt_buf;
  float *logits;
  azc_generate_result_t *results;
  int n_results;
} run_state_t;

/* The draft model's tokens must mean what the target's do. */
static azc_status_t check_same_vocab(const azc_tokenizer_t *a, const azc_tokenizer_t *b,
                                     const char *draft) {
  int32_t n = azc_tokenizer_n_vocab(a);
  if (azc_tokenizer_n_vocab(b) != n)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "--draft %s: its vocabulary has %d tokens, the model's %d",
                   draft, azc_tokenizer_n_vocab(b), n);
  for (int32_t id = 0; id < n; id++) {
    char pa[64], pb[64];
    size_t la = azc_tokenizer_token_to_piece(a, id, pa, sizeof(pa));
    size_t lb = azc_tokenizer_token_to_piece(b, id, pb, sizeof(pb));
    if (la != lb || memcmp(pa, pb, AZC_MIN(la, sizeof(pa))))
      return AZC_ERR(AZC_INVALID_ARGUMENT,
                     "--draft %s: token %d is '%.*s' there and '%.*s' in the model; a draft model "
                     "needs the same vocabulary",
                     draft, id, (int)AZC_MIN(lb, sizeof(pb)), pb, (int)AZC_MIN(la, sizeof(pa)), pa);
  }
  return NULL;
}

azc_status_t run_load_drafter(run_opts_t *o, const run_model_t *m, run_loader_fn_t load_other,
                              run_draft_t *out) {
  if (!strcmp(o->draft, "lookup"))
    return azc_drafter_lookup_create(&(azc_lookup_params_t){3, 2}, &out->drafter);
  run_opts_t d = *o;
  d.model = o->draft;
  d.draft = NULL;
  d.logits_out = NULL;
  d.set |= RUN_SET_CTX | RUN_SET_THREADS;
  AZC_RETURN_IF_ERROR_CTX(run_resolve_model(&d, &out->path), "--draft %s", o->draft);
  bool bundle = run_is_bundle(d.model);
  if (bundle) d.eager = false;
  if (bundle)
    AZC_RETURN_IF_ERROR_CTX(run_load_bundle(&d, &out->model), "--draft %s", d.model);
  else if (load_other)
    AZC_RETURN_IF_ERROR_CTX(load_other(&d, &out->model), "--draft %s", d.model);
  else
    return AZC_ERR(
        AZC_UNSUPPORTED,
        "--draft %s: not an azc bundle (azc-run runs bundles; use azc run for GGUF files)",
        d.model);
  AZC_RETURN_IF_ERROR(check_same_vocab(m->tok, out->model.tok, d.model));
  return azc_drafter_model_create(out->model.exec, &out->drafter);
}

void run_draft_free(run_draft_t *d) {
  azc_drafter_destroy(d->drafter);
  azc_executor_destroy(d->model.exec);
  if (d->model.free_owner) d->model.free_owner(d->model.owner);
  free(d->path);
  memset(d, 0, sizeof(*d));
}

const char *run_default_draft(const run_opts_t *o, const run_model_t *m, bool can_compile) {
  if (o->draft || o->no_draft || !m->default_draft) return o->draft;
  if (!can_compile && !run_is_bundle(m->default_draft)) {
    fprintf(stderr,
            "azc-run: the bundle's draft model %s is not a bundle; running without it (azc run "
            "compiles GGUF drafts)\n",
            m->default_draft);
    return NULL;
  }
  return m->default_draft;
}

static azc_status_t run(run_opts_t *o, run_state_t *s, run_loader_fn_t load_other) {
  double t0 = azc_time_ms();
  const char *prompt = o->prompt, *mode = "";
  size_t prompt_len = prompt ? strlen(prompt) : 0;
  if (o->prompt_file) {
    AZC_RETURN_IF_ERROR(azc_file_read_all(o->prompt_file, &s->prompt_buf, &prompt_len));
    prompt = s->prompt_buf;
  }
  enum { MAX_BATCH = 256 };
  const char *prompts[MAX_BATCH];
  size_t lens[MAX_BATCH];
  int n_prompts = 1;
  prompts[0] = prompt;
  lens[0] = prompt_len;
  if (o->batch) {
    n_prompts = split_lines(s->prompt_buf, prompt_len, prompts, lens, MAX_BATCH);
    if (n_prompts == 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: no prompts", o->prompt_file);
    o->exec.n_seq = n_prompts;
  }
  if (run_is_bundle(o->model)) AZC_RETURN_IF_ERROR(run_load_bundle(o, &s->model));
  else if (load_other) AZC_RETURN_IF_ERROR(load_other(o, &s->model));
  else return AZC_ERR(AZC_UNSUPPORTED, "%s: not an azc bundle (azc-run runs bundles; use azc run for GGUF files)", o->model);
  azc_executor_t *exec = s->model.exec;
  const azc_tokenizer_t *tok = s->model.tok;
  mode = s->model.mode;
  int32_t n_vocab = exec->n_vocab;
  o->draft = run_default_draft(o, &s->model, load_other != NULL); /* a Modelfile's DRAFT */
  if (o->draft) {
    AZC_RETURN_IF_ERROR(run_load_drafter(o, &s->model, load_other, &s->draft));
    o->gen.drafter = s->draft.drafter;
  }
  double load_ms = azc_time_ms() - t0;

  if (o->chat) return run_chat(o, &s->model, prompt, prompt_len, load_ms, t0);
  if (o->logits_out) {
    s->logits = malloc((size_t)n_vocab * sizeof(float));
    if (!s->logits) return AZC_ERR(AZC_OUT_OF_MEMORY, "logits");
    o->gen.prompt_logits = s->logits;
  }
  if (!o->json && !o->batch) o->gen.on_text = on_text;
  azc_generate_timings_t tm;
  s->results = calloc((size_t)n_prompts, sizeof(*s->results));
  if (!s->results) return AZC_ERR(AZC_OUT_OF_MEMORY, "results");
  s->n_results = n_prompts;
  AZC_RETURN_IF_ERROR(azc_generate(exec, tok, prompts, lens, n_prompts, &o->gen, s->results, &tm));
  /* the weights were checked while the model ran; nothing is reported before this */
  if (s->model.check) AZC_RETURN_IF_ERROR(s->model.check(s->model.owner));
  if (s->draft.model.check) AZC_RETURN_IF_ERROR(s->draft.model.check(s->draft.model.owner));
  if (o->logits_out) AZC_RETURN_IF_ERROR(write_logits(o->logits_out, s->logits, n_vocab));
  if (o->json && o->batch) printf("[");
  for (int i = 0; i < n_prompts; i++) {
    if (o->json) {
      if (i) printf(", ");
      print_json(o, &s->results[i], &tm, load_ms);
    } else if (o->batch) {
      printf("%s", i ? "\n" : "");
      cli_write_text(stdout, prompts[i], lens[i]);
      cli_write_text(stdout, s->results[i].text, s->results[i].text_len);
      printf("\n");
    }
  }
  if (o->json && o->batch) printf("]\n");
  print_timings(o, mode, &tm, load_ms, azc_time_ms() - t0);
  return NULL;
}

int run_main(int argc, char **argv, const char *prog, run_loader_fn_t load_other) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      run_usage(stdout, prog);
      return 0;
    }
  run_opts_t o;
  memset(&o, 0, sizeof(o));
  azc_status_t st = parse(argc, argv, &o);
  if (st) return cli_fail_usage(st, prog);
  run_state_t s;
  memset(&s, 0, sizeof(s));
  st = run(&o, &s, load_other);
  for (int i = 0; i < s.n_results; i++) azc_generate_result_free(&s.results[i]);
  free(s.results);
  run_draft_free(&s.draft);
  azc_executor_destroy(s.model.exec);
  if (s.model.free_owner) s.model.free_owner(s.model.owner);
  free(s.prompt_buf);
  free(s.logits);
  free(o.model_path);
  return st ? cli_fail(st) : 0;
}

double run_peak_rss_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  while (f && fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
  if (f) fclose(f);
  return kb / 1024;
}
