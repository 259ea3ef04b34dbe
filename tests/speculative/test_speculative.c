/* Speculative decoding: drafters (runtime/speculative), the acceptance rule
 * (azc_sampler_verify) and the generate loop's verify passes.
 *
 *  - lookup: the n-gram search on hand-made contexts;
 *  - the acceptance rule keeps the sampler's distribution: on a vocabulary
 *    of 8 with penalties, top-k and temperature, seeded draws through
 *    azc_sampler_verify (drafts from a fixed token, from a distribution q,
 *    from a token the filters drop) against plain azc_sampler_sample draws:
 *    a chi-square test per case, and the acceptance rate against its exact
 *    value (p(x) for a fixed draft, sum min(p, q) for drafts from q);
 *  - greedy output with drafting is byte-identical to plain decoding (tokens,
 *    text, stop reason) on synthetic llama and gpt2 models, and on
 *    ../shared's models (stories260K is a trained model), compiled (and eager
 *    for stories260K), with
 *    the lookup drafter and with a draft model (another model with the same
 *    vocabulary), several prompts, one or three sequences per batch, draft
 *    lengths 1..8, a repeat penalty, top-k 1 sampling (the non-greedy
 *    verify path, still deterministic), and a context that fills up. Every
 *    case must have both accepted and rejected drafts, so the KV rows of
 *    rejected drafts (written, then written over) are exercised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/synth.h"
#include "ir/interp.h"
#include "runtime/generate.h"
#include "runtime/speculative.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

/* ---- lookup ---- */

static void test_lookup_find(void) {
  azc_lookup_params_t p = azc_lookup_params_default();
  int32_t out[16];
  /* no repeat: nothing */
  const int32_t a[] = {1, 2, 3, 4, 5, 6};
  ASSERT_EQ_INT(azc_lookup_find(&p, a, 6, 8, out), 0);
  /* "7 8 9" seen before, followed by 10 11 12 */
  const int32_t b[] = {5, 7, 8, 9, 10, 11, 12, 1, 7, 8, 9};
  ASSERT_EQ_INT(azc_lookup_find(&p, b, 11, 3, out), 3);
  ASSERT(out[0] == 10 && out[1] == 11 && out[2] == 12);
  /* the latest occurrence wins; past the context the copy runs into the proposal */
  const int32_t c[] = {4, 5, 6, 99, 4, 5, 6, 1, 2, 3, 4, 5, 6};
  ASSERT_EQ_INT(azc_lookup_find(&p, c, 13, 8, out), 8);
  const int32_t want_c[] = {1, 2, 3, 4, 5, 6, 1, 2};
  ASSERT(!memcmp(out, want_c, sizeof(want_c)));
  /* only the last two tokens recur: the 2-gram */
  const int32_t d[] = {8, 9, 42, 1, 7, 8, 9};
  ASSERT_EQ_INT(azc_lookup_find(&p, d, 7, 2, out), 2);
  ASSERT(out[0] == 42 && out[1] == 1);
  /* a 1-gram is below ngram_min: nothing */
  const int32_t e[] = {9, 3, 1, 9};
  ASSERT_EQ_INT(azc_lookup_find(&p, e, 4, 4, out), 0);
  azc_lookup_params_t one = {3, 1};
  ASSERT_EQ_INT(azc_lookup_find(&one, e, 4, 2, out), 2);
  ASSERT(out[0] == 3 && out[1] == 1);
  ASSERT_EQ_INT(azc_lookup_find(&p, b, 11, 0, out), 0);
  azc_drafter_t *dr;
  ASSERT_ERR(azc_drafter_lookup_create(&(azc_lookup_params_t){1, 2}, &dr), AZC_INVALID_ARGUMENT,
             "n-gram");
}

/* ---- the acceptance rule ---- */

enum { V = 8, DRAWS = 200000 };

/* chi-square of two histograms of n draws each (two-sample, equal sizes) */
static double chi2_two(const int64_t *a, const int64_t *b, int n) {
  double x = 0;
  for (int i = 0; i < n; i++)
    if (a[i] + b[i]) x += (double)(a[i] - b[i]) * (double)(a[i] - b[i]) / (double)(a[i] + b[i]);
  return x;
}

typedef enum { DRAFT_FIXED, DRAFT_FROM_Q } draft_kind_t;

/* The sampler's distribution p for these logits and parameters, estimated
 * from plain draws; then the same number of tokens through
 * azc_sampler_verify with drafts of the given kind. */
static void check_rule(const char *label, const azc_sampler_params_t *sp, const float *logits,
                       draft_kind_t kind, int32_t fixed, const float *q) {
  azc_sampler_t *plain, *spec;
  ASSERT_OK(azc_sampler_create(sp, V, &plain));
  azc_sampler_params_t sp2 = *sp;
  sp2.seed += 1000;
  ASSERT_OK(azc_sampler_create(&sp2, V, &spec));
  const int32_t history[] = {2, 2, 5}; /* the penalties see these */
  for (int i = 0; i < 3; i++)
    azc_sampler_accept(plain, history[i]), azc_sampler_accept(spec, history[i]);
  int64_t hp[V] = {0}, hs[V] = {0}, accepted = 0;
  test_rng_t rng = {0x5eed + (uint64_t)kind};
  for (int i = 0; i < DRAWS; i++) hp[azc_sampler_sample(plain, logits)]++;
  double expect_accept = 0; /* sum over x of q(x) min(1, p(x)/q(x)) = sum min(p, q) */
  for (int x = 0; x < V; x++) {
    double p = (double)hp[x] / DRAWS;
    expect_accept += kind == DRAFT_FIXED ? (x == fixed ? p : 0) : fmin(p, (double)q[x]);
  }
  for (int i = 0; i < DRAWS; i++) {
    int32_t draft = fixed;
    if (kind == DRAFT_FROM_Q) {
      double u = test_rng_uniform(&rng), cum = 0;
      for (draft = 0; draft < V - 1; draft++)
        if (u < (cum += (double)q[draft])) break;
    }
    bool acc = false;
    int32_t t = azc_sampler_verify(spec, logits, draft, kind == DRAFT_FROM_Q ? q : NULL, &acc);
    ASSERT(t >= 0 && t < V);
    ASSERT(!acc || t == draft);
    hs[t]++;
    accepted += acc;
  }
  double chi2 = chi2_two(hp, hs, V), rate = (double)accepted / DRAWS;
  printf("  %s: chi2 %.2f over %d tokens (99.9%%: 24.3), acceptance %.4f (expected %.4f)\n", label,
         chi2, V, rate, expect_accept);
  /* 7 degrees of freedom: P(chi2 > 24.3) = 0.001 for equal distributions */
  ASSERT_MSG(chi2 < 24.3, "%s: verified tokens are not distributed as sampled ones (chi2 %.1f)",
             label, chi2);
  ASSERT_MSG(fabs(rate - expect_accept) < 0.01, "%s: acceptance %.4f, expected %.4f", label, rate,
             expect_accept);
  azc_sampler_destroy(plain);
  azc_sampler_destroy(spec);
}

static void test_acceptance_rule(void) {
  const float logits[V] = {2.0f, 1.5f, 1.4f, 0.3f, -0.5f, 1.0f, -2.0f, 0.9f};
  azc_sampler_params_t sp = azc_sampler_params_default();
  sp.seed = 42, sp.top_k = 0, sp.top_p = 1.0f, sp.temperature = 1.0f;
  check_rule("temp 1, fixed draft 1", &sp, logits, DRAFT_FIXED, 1, NULL);
  const float q[V] = {0.05f, 0.05f, 0.4f, 0.1f, 0.1f, 0.2f, 0.05f, 0.05f};
  check_rule("temp 1, drafts from q", &sp, logits, DRAFT_FROM_Q, 0, q);
  sp.temperature = 0.7f, sp.top_k = 5, sp.repeat_penalty = 1.3f, sp.top_p = 0.95f;
  check_rule("temp 0.7, top-k 5, top-p 0.95, penalty 1.3, fixed draft 2", &sp, logits, DRAFT_FIXED,
             2, NULL);
  check_rule("same, draft 6 (dropped by top-k)", &sp, logits, DRAFT_FIXED, 6, NULL);
  check_rule("same, drafts from q", &sp, logits, DRAFT_FROM_Q, 0, q);
  /* greedy: accepted exactly when the draft is the argmax */
  sp.temperature = 0;
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&sp, V, &s));
  bool acc = true;
  ASSERT_EQ_INT(azc_sampler_verify(s, logits, 1, NULL, &acc), 0);
  ASSERT(!acc);
  ASSERT_EQ_INT(azc_sampler_verify(s, logits, 0, NULL, &acc), 0);
  ASSERT(acc);
  azc_sampler_destroy(s);
}

/* ---- greedy output, byte for byte ---- */

typedef struct engine {
  azc_model_t *model;
  compiled_model_t *cm;
  azc_ir_graph_t *graph;
  azc_executor_t *ex;
  azc_tokenizer_t *tok;
} engine_t;

static void engine_close(engine_t *e) {
  azc_executor_destroy(e->ex);
  compiled_model_free(e->cm);
  azc_ir_graph_destroy(e->graph);
  azc_tokenizer_destroy(e->tok);
  azc_model_close(e->model);
  memset(e, 0, sizeof(*e));
}

static azc_status_t engine_open(const char *path, bool eager, int32_t n_seq, int32_t n_ctx,
                                engine_t *e) {
  memset(e, 0, sizeof(*e));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = n_ctx, ep.n_seq = n_seq, ep.n_batch = 32, ep.n_threads = 1;
  azc_status_t st = azc_model_open(path, &e->model);
  if (!st) st = azc_tokenizer_create(&e->model->tok, &e->tok);
  if (!st && eager) {
    st = azc_model_lower(e->model, &e->graph);
    if (!st) st = azc_ir_interp_create(e->graph, &ep, &e->ex);
  } else if (!st) {
    azc_compile_options_t co = azc_compile_options_default();
    co.n_batch = 32, co.n_ctx = n_ctx;
    st = compiled_model_create(e->model, &co, &e->cm);
    if (!st) st = compiled_model_executor(e->cm, &ep, &e->ex);
  }
  if (st) engine_close(e);
  return st;
}

typedef struct totals {
  int64_t drafted, accepted, compared;
} totals_t;

/* Plain decoding, then drafted decoding with the same parameters: the
 * results must be the same bytes. */
static void compare_runs(engine_t *e, const char *label, const char *const *prompts, int n,
                         const azc_generate_params_t *base, azc_drafter_t *d, int draft_max,
                         totals_t *tot) {
  size_t lens[4];
  for (int i = 0; i < n; i++) lens[i] = strlen(prompts[i]);
  azc_generate_result_t plain[4], spec[4];
  azc_generate_timings_t tp, ts;
  azc_generate_params_t gp = *base;
  gp.drafter = NULL;
  ASSERT_OK(azc_generate(e->ex, e->tok, prompts, lens, n, &gp, plain, &tp));
  gp.drafter = d;
  gp.draft_max = draft_max;
  ASSERT_OK(azc_generate(e->ex, e->tok, prompts, lens, n, &gp, spec, &ts));
  for (int i = 0; i < n; i++) {
    azc_generate_result_t *a = &plain[i], *b = &spec[i];
    size_t k = 0;
    while (k < a->n_tokens && k < b->n_tokens && a->tokens[k] == b->tokens[k]) k++;
    ASSERT_MSG(a->n_tokens == b->n_tokens && k == a->n_tokens,
               "%s, prompt %d: %zu tokens plain, %zu drafted, first difference at %zu", label, i,
               a->n_tokens, b->n_tokens, k);
    ASSERT_MSG(a->text_len == b->text_len && !memcmp(a->text, b->text, a->text_len),
               "%s, prompt %d: the texts differ", label, i);
    ASSERT_MSG(a->stop == b->stop, "%s, prompt %d: stop %d plain, %d drafted", label, i, a->stop,
               b->stop);
    tot->compared += (int64_t)a->n_tokens;
    azc_generate_result_free(a);
    azc_generate_result_free(b);
  }
  ASSERT_EQ_INT(ts.gen_tokens, tp.gen_tokens);
  ASSERT(ts.draft_accepted <= ts.drafted);
  printf("  %s: %lld tokens, %lld drafted, %lld accepted, %.2f tokens per pass\n", label,
         (long long)tp.gen_tokens, (long long)ts.drafted, (long long)ts.draft_accepted,
         ts.draft_passes ? (double)ts.gen_tokens / (double)ts.draft_passes : 0.0);
  tot->drafted += ts.drafted;
  tot->accepted += ts.draft_accepted;
}

static const char *const prompts[] = {
    "Once upon a time",
    "Rewrite this list: red, green, blue, red, green, blue, red, green,",
    "The little dog ran to the park. The little dog",
};

/* Every configuration on one model and drafter. */
static void compare_all(engine_t *e, const char *name, azc_drafter_t *d, totals_t *tot) {
  azc_generate_params_t gp = azc_generate_params_default();
  gp.sampling.temperature = 0;
  gp.n_predict = 48;
  char label[256];
  for (int i = 0; i < 3; i++) {
    int dm = i == 0 ? 8 : i == 1 ? 3 : 1;
    snprintf(label, sizeof(label), "%s, %s, prompt %d, draft-max %d", name, d->ops->name, i, dm);
    compare_runs(e, label, prompts + i, 1, &gp, d, dm, tot);
    if (test_current_failed) return;
  }
  if (e->ex->n_seq >= 3) {
    snprintf(label, sizeof(label), "%s, %s, 3 sequences", name, d->ops->name);
    compare_runs(e, label, prompts, 3, &gp, d, 5, tot);
  }
  azc_generate_params_t pen = gp;
  pen.sampling.repeat_penalty = 1.3f;
  snprintf(label, sizeof(label), "%s, %s, repeat penalty 1.3", name, d->ops->name);
  compare_runs(e, label, prompts + 1, 1, &pen, d, 6, tot);
  azc_generate_params_t k1 = gp; /* sampling through the verify rule, deterministic */
  k1.sampling.temperature = 0.8f, k1.sampling.top_k = 1, k1.sampling.seed = 7;
  snprintf(label, sizeof(label), "%s, %s, top-k 1 at temperature 0.8", name, d->ops->name);
  compare_runs(e, label, prompts + 2, 1, &k1, d, 8, tot);
  azc_generate_params_t full = gp; /* until the context is full */
  full.n_predict = -1, full.ignore_eos = true;
  snprintf(label, sizeof(label), "%s, %s, to a full context", name, d->ops->name);
  compare_runs(e, label, prompts, 1, &full, d, 8, tot);
}

static void check_totals(const char *name, const totals_t *t) {
  ASSERT_MSG(t->accepted > 0 && t->accepted < t->drafted,
             "%s: %lld drafts, %lld accepted: the test needs both accepted and rejected drafts",
             name, (long long)t->drafted, (long long)t->accepted);
}

static void check_model_lookup(const char *name, const char *path, bool eager) {
  engine_t e;
  ASSERT_OK(engine_open(path, eager, 3, 96, &e));
  azc_drafter_t *d;
  ASSERT_OK(azc_drafter_lookup_create(&(azc_lookup_params_t){3, 2}, &d));
  totals_t t = {0};
  compare_all(&e, name, d, &t);
  check_totals(name, &t);
  azc_drafter_destroy(d);
  engine_close(&e);
}

static void check_model_draft(const char *name, const char *path, const char *draft_path) {
  engine_t e, de;
  ASSERT_OK(engine_open(path, false, 3, 96, &e));
  ASSERT_OK(engine_open(draft_path, false, 3, 96, &de));
  azc_drafter_t *d;
  ASSERT_OK(azc_drafter_model_create(de.ex, &d));
  totals_t t = {0};
  compare_all(&e, name, d, &t);
  check_totals(name, &t);
  azc_drafter_destroy(d);
  engine_close(&de);
  engine_close(&e);
}

static void synth(const char *preset, azc_dtype_t wtype, uint64_t seed, char *buf, size_t cap) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(preset, &p));
  p.wtype = wtype;
  p.seed = seed;
  snprintf(buf, cap, "%s/spec-%s-%d-%llu.gguf", test_tmp_dir(), preset, (int)wtype,
           (unsigned long long)seed);
  ASSERT_OK(azc_synth_write(&p, buf, NULL, NULL));
}

static void test_greedy_synthetic(void) {
  char a[600], b[600], c[600];
  synth("tiny-llama", AZC_DTYPE_Q8_0, 1, a, sizeof(a));
  synth("tiny-gpt2", AZC_DTYPE_F16, 1, b, sizeof(b));
  /* the same weights in Q4_0: a draft that mostly agrees */
  synth("tiny-llama", AZC_DTYPE_Q4_0, 1, c, sizeof(c));
  if (test_current_failed) return;
  check_model_lookup("tiny-llama Q8_0, compiled", a, false);
  check_model_lookup("tiny-gpt2 F16, compiled", b, false);
  check_model_draft("tiny-llama Q8_0 drafted by its Q4_0", a, c);
}

static void test_greedy_shared(void) {
  char s260[600], q8[600], q4[600], gpt2[600];
  if (!test_shared_path(s260, sizeof(s260), "models/stories260K.gguf") ||
      !test_shared_path(q8, sizeof(q8), "models/llama-small-tied-Q8_0.gguf") ||
      !test_shared_path(q4, sizeof(q4), "models/llama-small-tied-Q4_0.gguf") ||
      !test_shared_path(gpt2, sizeof(gpt2), "models/gpt2-small-tied-Q8_0.gguf"))
    TEST_SKIP("../shared/models is absent");
  check_model_lookup("stories260K, compiled", s260, false);
  check_model_lookup("stories260K, eager", s260, true);
  check_model_lookup("gpt2-small Q8_0, compiled", gpt2, false);
  check_model_draft("llama-small Q8_0 drafted by Q4_0", q8, q4);
}

int main(void) {
  RUN(test_lookup_find);
  RUN(test_acceptance_rule);
  RUN(test_greedy_synthetic);
  RUN(test_greedy_shared);
  return test_summary();
}
