/* Compiled kernels against the eager interpreter (the reference): the same
 * batches through both, on synthetic models in odd shapes for every weight
 * type (so each fused kernel, matmul with norm prologue and rope/kv, SwiGLU
 * and GELU epilogues, residual, flash attention, runs on every type and on
 * sizes that are not powers of two) and on every model in ../shared.
 * F32 models: max difference <= 1e-4 of the logits' range; F16 and quantized:
 * cosine >= 0.9999. Each case runs a 7-token prompt, 3 decode steps, and a
 * step with two sequences at once.
 *
 * The shared llama-small-tied-* files have random weights, and there both
 * executors quantize activations (as llama.cpp does): when two values agree
 * to 1e-7 but sit on either side of a rounding boundary, one quantized value
 * differs by a step, and random weights amplify that through the layers
 * (with their first one or two layers only, compiled and eager logits agree
 * to 1e-6; on some prompts a flip in layer 3 or 4 moves the cosine to
 * 0.9998, and the decode steps after it inherit the difference through the
 * KV cache). For those files the check is cosine >= 0.999 in every step;
 * trained and synthetic models get the strict check on every step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/synth.h"
#include "ir/interp.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

enum { STEPS = 6 };

/* rows: prompt logits, 3 decode steps, then two sequences side by side */
static azc_status_t run(azc_executor_t *ex, int V, float *out) {
  int32_t toks[7] = {1, 40, 41, 300, 7, 8, 9}, pos[7] = {0, 1, 2, 3, 4, 5, 6}, seq[7] = {0};
  int32_t last = 6;
  azc_batch_t b = {7, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 0; s < 3; s++) {
    int32_t t = 50 + 17 * s, p = 7 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)(1 + s) * V));
  }
  /* sequence 1 gets a 3-token prompt; then one step for both sequences */
  int32_t t1[3] = {1, 99, 5}, p1[3] = {0, 1, 2}, s1[3] = {1, 1, 1}, l1 = 2;
  float *scratch = malloc(sizeof(float) * (size_t)V);
  azc_batch_t b1 = {3, t1, p1, s1, 1, &l1};
  azc_status_t st = azc_executor_forward(ex, &b1, scratch);
  free(scratch);
  AZC_RETURN_IF_ERROR(st);
  int32_t t2[2] = {11, 12}, p2[2] = {10, 3}, s2[2] = {0, 1}, o2[2] = {0, 1};
  azc_batch_t both = {2, t2, p2, s2, 2, o2};
  return azc_executor_forward(ex, &both, out + (size_t)4 * V);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void compare(const char *what, const float *got, const float *ref, int V, bool exact,
                    bool random_weights) {
  double cosines[STEPS];
  for (int r = 0; r < STEPS; r++) {
    const float *a = got + (size_t)r * V, *b = ref + (size_t)r * V;
    double dot = 0, na = 0, nb = 0;
    float lo = b[0], hi = b[0], d = 0;
    for (int i = 0; i < V; i++) {
      dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
      lo = fminf(lo, b[i]), hi = fmaxf(hi, b[i]), d = fmaxf(d, fabsf(a[i] - b[i]));
    }
    double cosine = dot / sqrt(na * nb);
    cosines[r] = cosine;
    if (exact)
      ASSERT_MSG(d <= 1e-4f * (hi - lo), "%s row %d: max diff %g of range %g", what, r, d, hi - lo);
    else
      ASSERT_MSG(cosine >= (random_weights ? 0.999 : 0.9999), "%s row %d: cosine %.7f (max diff %g of range %g)", what, r,
                 cosine, d, hi - lo);
  }
  qsort(cosines, STEPS, sizeof(double), cmp_double);
  fprintf(stderr, "  %-32s cosine min %.7f median %.7f\n", what, cosines[0],
          0.5 * (cosines[STEPS / 2 - 1] + cosines[STEPS / 2]));
}

static void check_model(const char *path, const char *what, bool random_weights) {
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  int V = m->hp.n_vocab;
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_seq = 2;
  ep.n_threads = 2;
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  azc_executor_t *eager, *compiled;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &eager));
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 16;
  o.n_ctx = 32;
  compiled_model_t *c;
  ASSERT_OK(compiled_model_create(m, &o, &c));
  ASSERT_OK(compiled_model_executor(c, &ep, &compiled));
  float *ref = malloc(sizeof(float) * STEPS * (size_t)V), *got = malloc(sizeof(float) * STEPS * (size_t)V);
  ASSERT_OK(run(eager, V, ref));
  ASSERT_OK(run(compiled, V, got));
  bool exact = true;
  for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
    azc_dtype_t t = m->gguf->tensors[i].type;
    if (t != AZC_DTYPE_F32) exact = false; /* F16: activations round to half, ties can flip */
  }
  compare(what, got, ref, V, exact, random_weights);
  /* more tokens than the plan serves is refused, not overrun */
  int32_t many[17] = {0}, pos[17], seq[17] = {0}, last = 16;
  for (int i = 0; i < 17; i++) pos[i] = i;
  azc_batch_t big = {17, many, pos, seq, 1, &last};
  ASSERT_ERR(azc_executor_forward(compiled, &big, got), AZC_INVALID_ARGUMENT, "batch");
  free(ref), free(got);
  azc_executor_destroy(eager);
  azc_executor_destroy(compiled);
  compiled_model_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
}

/* A synthetic model in an odd shape for weight type `type`. */
static void check_synth(const char *arch, azc_dtype_t type) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(!strcmp(arch, "llama") ? "tiny-llama" : "tiny-gpt2", &p));
  bool k_quant = azc_dtype_info(type)->block_size == 256;
  /* K: 96 (3 blocks of 32) or 256; heads of 32 or 64 dims; GQA 3:1 or 2:1;
   * vocab 389 (odd N for the logits kernel) */
  p.n_embd = k_quant ? 256 : 96;
  p.n_head = k_quant ? 4 : 3;
  p.n_head_kv = !strcmp(arch, "llama") ? (k_quant ? 2 : 1) : p.n_head;
  p.n_ff = k_quant ? 512 : 160;
  p.n_vocab = 389;
  p.n_layer = 2;
  p.wtype = type;
  p.seed = 7 + (uint64_t)type;
  p.tied = !strcmp(arch, "gpt2");
  char path[512], what[128];
  snprintf(path, sizeof(path), "%s/%s-%s.gguf", test_tmp_dir(), arch, azc_dtype_name(type));
  snprintf(what, sizeof(what), "%s %s", arch, azc_dtype_name(type));
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
  check_model(path, what, false);
}

static void test_llama_every_type(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16, AZC_DTYPE_Q4_0,
                                      AZC_DTYPE_Q4_1, AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0,
                                      AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K, AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K,
                                      AZC_DTYPE_Q6_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++)
    check_synth("llama", types[i]);
}

static void test_gpt2_types(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_F32, AZC_DTYPE_Q8_0, AZC_DTYPE_Q4_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++)
    check_synth("gpt2", types[i]);
}

static void test_shared_models(void) {
  static const char *models[] = {"stories260K.gguf",          "llama-small-tied-f16.gguf",
                                 "llama-small-tied-Q8_0.gguf", "llama-small-tied-Q4_0.gguf",
                                 "llama-small-tied-Q4_K_M.gguf", "llama-small-tied-Q6_K.gguf",
                                 "gpt2-small-tied-Q8_0.gguf"};
  char path[1024], rel[256];
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]) && !test_current_failed; i++) {
    snprintf(rel, sizeof(rel), "models/%s", models[i]);
    if (!test_shared_path(path, sizeof(path), rel)) TEST_SKIP("../shared/models is absent");
    check_model(path, models[i], strstr(models[i], "llama-small") != NULL);
  }
}

int main(void) {
  RUN(test_llama_every_type);
  RUN(test_gpt2_types);
  RUN(test_shared_models);
  return test_summary();
}
