/* Batch invariance of the compiled kernels, which the server's continuous
 * batching relies on: a sequence's logits are bitwise the same whether it
 * runs alone or shares a forward call with 1 or 3 other sequences, whatever
 * its row in the step, whether its prompt is prefilled in one call or in
 * chunks, and whether the others are prefilling or decoding at the time.
 *
 * One model per weight type (the types reach different dot-product paths:
 * float rows, 32-value blocks, K-quants, interleaved x8 groups); sequence A
 * runs alone first (prefill, then decode steps with fixed tokens), then in
 * three shared schedules; every logits row of A is compared with memcmp. */
#include <stdlib.h>
#include <string.h>

#include "frontend/synth.h"
#include "runtime/executor.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

enum { N_SEQ = 4, N_CTX = 64, N_BATCH = 32, N_DECODE = 5, MAX_PROMPT = 12 };

typedef struct fixture {
  azc_model_t *model;
  compiled_model_t *cm;
  azc_executor_t *ex;
  int32_t n_vocab;
} fixture_t;

/* A step under construction: tokens of several sequences, with the rows
 * whose logits we want and which sequence/step of A (if any) each belongs to. */
typedef struct step {
  int32_t n, n_out;
  int32_t tok[N_BATCH], pos[N_BATCH], seq[N_BATCH], out[N_BATCH];
  int32_t a_index[N_BATCH]; /* per output: index of A's logits row (0 = prompt), or -1 */
} step_t;

static void step_add(step_t *s, int32_t tok, int32_t pos, int32_t seq, int a_index, int want) {
  s->tok[s->n] = tok, s->pos[s->n] = pos, s->seq[s->n] = seq;
  if (want) {
    s->out[s->n_out] = s->n;
    s->a_index[s->n_out++] = a_index;
  }
  s->n++;
}

/* Runs the step; copies A's rows into a_logits[a_index]. */
static azc_status_t step_run(fixture_t *f, step_t *s, float *buf, float *a_logits) {
  azc_batch_t b = {s->n, s->tok, s->pos, s->seq, s->n_out, s->out};
  AZC_RETURN_IF_ERROR(azc_executor_forward(f->ex, &b, buf));
  for (int o = 0; o < s->n_out; o++)
    if (s->a_index[o] >= 0)
      memcpy(a_logits + (size_t)s->a_index[o] * (size_t)f->n_vocab, buf + (size_t)o * f->n_vocab,
             (size_t)f->n_vocab * sizeof(float));
  memset(s, 0, sizeof(*s));
  return NULL;
}

static const int32_t prompt_a[7] = {1, 17, 42, 99, 7, 250, 3};
static const int32_t prompt_o[3][MAX_PROMPT] = {
    {1, 5, 9, 200, 31}, {1, 300, 2, 8, 8, 60, 61, 62, 70}, {1, 77, 140}};
static const int32_t len_o[3] = {5, 9, 3};
static const int32_t decode_a[N_DECODE] = {11, 12, 13, 14, 15};

/* A alone as sequence 0: the prompt in one call, then N_DECODE steps. */
static azc_status_t run_alone(fixture_t *f, float *buf, float *ref) {
  step_t s;
  memset(&s, 0, sizeof(s));
  for (int i = 0; i < 7; i++) step_add(&s, prompt_a[i], i, 0, 0, i == 6);
  AZC_RETURN_IF_ERROR(step_run(f, &s, buf, ref));
  for (int d = 0; d < N_DECODE; d++) {
    step_add(&s, decode_a[d], 7 + d, 0, 1 + d, 1);
    AZC_RETURN_IF_ERROR(step_run(f, &s, buf, ref));
  }
  return NULL;
}

/* The other sequences' decode token at a given position (any fixed values). */
static int32_t other_tok(int o, int pos) { return (int32_t)(20 + 13 * o + pos); }

/* n_other others share every step with A (sequence a_seq). schedule 0: all
 * prompts in one call, A last; 1: A's prompt in chunks of 3 and 4, the others
 * prefilling beside it; 2: the others decode while A prefills, and A joins
 * their running batch. */
static azc_status_t run_shared(fixture_t *f, int n_other, int schedule, float *buf, float *got) {
  step_t s;
  memset(&s, 0, sizeof(s));
  int a_seq = n_other; /* A is the last sequence id (alone it was 0) */
  int32_t past[3] = {0, 0, 0};
  if (schedule == 2) { /* the others run first, two decode steps ahead */
    for (int o = 0; o < n_other; o++)
      for (int i = 0; i < len_o[o]; i++) step_add(&s, prompt_o[o][i], i, o, -1, i == len_o[o] - 1);
    AZC_RETURN_IF_ERROR(step_run(f, &s, buf, got));
    for (int o = 0; o < n_other; o++) past[o] = len_o[o];
    for (int k = 0; k < 2; k++) {
      for (int o = 0; o < n_other; o++) {
        step_add(&s, other_tok(o, past[o]), past[o], o, -1, 1);
        past[o]++;
      }
      AZC_RETURN_IF_ERROR(step_run(f, &s, buf, got));
    }
  }
  /* A's prompt */
  int chunks[2][2] = {{0, 7}, {7, 7}};
  if (schedule == 1) chunks[0][1] = 3, chunks[1][0] = 3;
  for (int c = 0; c < 2; c++) {
    if (chunks[c][0] == chunks[c][1]) continue;
    for (int o = 0; o < n_other; o++) {
      if (schedule == 2) {
        step_add(&s, other_tok(o, past[o]), past[o], o, -1, 1);
        past[o]++;
      } else if (c == 0) { /* the others' prompts ride along in the first call */
        for (int i = 0; i < len_o[o]; i++)
          step_add(&s, prompt_o[o][i], i, o, -1, i == len_o[o] - 1);
        past[o] = len_o[o];
      } else {
        step_add(&s, other_tok(o, past[o]), past[o], o, -1, 1);
        past[o]++;
      }
    }
    for (int i = chunks[c][0]; i < chunks[c][1]; i++)
      step_add(&s, prompt_a[i], i, a_seq, 0, i == 6);
    AZC_RETURN_IF_ERROR(step_run(f, &s, buf, got));
  }
  /* decode: A's row moves around among the others */
  for (int d = 0; d < N_DECODE; d++) {
    int a_at = d % (n_other + 1);
    for (int r = 0; r <= n_other; r++) {
      if (r == a_at) {
        step_add(&s, decode_a[d], 7 + d, a_seq, 1 + d, 1);
        continue;
      }
      int o = r < a_at ? r : r - 1;
      step_add(&s, other_tok(o, past[o]), past[o], o, -1, 1);
      past[o]++;
    }
    AZC_RETURN_IF_ERROR(step_run(f, &s, buf, got));
  }
  return NULL;
}

static void fixture_free(fixture_t *f) {
  azc_executor_destroy(f->ex);
  compiled_model_free(f->cm);
  azc_model_close(f->model);
}

/* name: a label; wtype: the 2-D weights' type. The rows are whole 256-value
 * blocks (K-quants), and long enough that float sums round differently in
 * another order (with 64 values the fp16 products of the F16 path add up
 * exactly in any order, hiding an order dependence). */
static void check_type(const char *name, azc_dtype_t wtype) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset("tiny-llama", &p));
  p.wtype = wtype;
  p.n_embd = 256, p.n_ff = 512;
  char path[600];
  snprintf(path, sizeof(path), "%s/bi-%s.gguf", test_tmp_dir(), name);
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
  fixture_t f;
  memset(&f, 0, sizeof(f));
  azc_compile_options_t co = azc_compile_options_default();
  co.n_batch = N_BATCH;
  co.n_ctx = N_CTX;
  azc_status_t st = azc_model_open(path, &f.model);
  if (!st) st = compiled_model_create(f.model, &co, &f.cm);
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = N_CTX, ep.n_seq = N_SEQ, ep.n_batch = N_BATCH, ep.n_threads = 2;
  if (!st) st = compiled_model_executor(f.cm, &ep, &f.ex);
  if (st) fixture_free(&f);
  ASSERT_OK(st);
  f.n_vocab = f.ex->n_vocab;
  size_t rows = 1 + N_DECODE, nv = (size_t)f.n_vocab;
  float *buf = malloc(nv * N_BATCH * sizeof(float)), *ref = calloc(rows * nv, sizeof(float)),
        *got = calloc(rows * nv, sizeof(float));
  int mismatches = 0;
  st = run_alone(&f, buf, ref);
  for (int n_other = 1; !st && n_other <= 3; n_other += 2) /* 2 and 4 sequences in a step */
    for (int schedule = 0; !st && schedule < 3; schedule++) {
      memset(got, 0, rows * nv * sizeof(float));
      st = run_shared(&f, n_other, schedule, buf, got);
      for (size_t r = 0; !st && r < rows; r++)
        if (memcmp(ref + r * nv, got + r * nv, nv * sizeof(float))) {
          size_t k = 0;
          while (ref[r * nv + k] == got[r * nv + k]) k++;
          fprintf(stderr,
                  "%s: %d sequences per step, schedule %d: logits row %zu of A differ "
                  "(first at token %zu: %.9g alone, %.9g shared)\n",
                  name, n_other + 1, schedule, r, k, ref[r * nv + k], got[r * nv + k]);
          mismatches++;
        }
    }
  free(buf);
  free(ref);
  free(got);
  fixture_free(&f);
  ASSERT_OK(st);
  ASSERT_MSG(mismatches == 0, "%s: %d logits rows differ between alone and shared", name,
             mismatches);
}

static void test_f32(void) { check_type("f32", AZC_DTYPE_F32); }
static void test_f16(void) { check_type("f16", AZC_DTYPE_F16); }
static void test_bf16(void) { check_type("bf16", AZC_DTYPE_BF16); }
static void test_q8_0(void) { check_type("q8_0", AZC_DTYPE_Q8_0); }
static void test_q4_0(void) { check_type("q4_0", AZC_DTYPE_Q4_0); }
static void test_q4_1(void) { check_type("q4_1", AZC_DTYPE_Q4_1); }
static void test_q5_0(void) { check_type("q5_0", AZC_DTYPE_Q5_0); }
static void test_q4_k(void) { check_type("q4_k", AZC_DTYPE_Q4_K); }
static void test_q5_k(void) { check_type("q5_k", AZC_DTYPE_Q5_K); }
static void test_q6_k(void) { check_type("q6_k", AZC_DTYPE_Q6_K); }

int main(void) {
  RUN(test_f32);
  RUN(test_f16);
  RUN(test_bf16);
  RUN(test_q8_0);
  RUN(test_q4_0);
  RUN(test_q4_1);
  RUN(test_q5_0);
  RUN(test_q4_k);
  RUN(test_q5_k);
  RUN(test_q6_k);
  return test_summary();
}
