/* Generated CUDA kernels, run on the CPU, against the eager interpreter.
 *
 * For synthetic models in odd shapes for every weight type (llama: RMSNorm
 * prologue, rope + KV write, SwiGLU, residual, GQA; gpt2: LayerNorm, GELU,
 * biases, tied logits), the tiny-qwen3/gemma2/gemma3/phi3 shapes (q/k norms
 * and attn_factor in the rope/KV epilogue, GeGLU, SwiGLU over one gate|up
 * tensor, soft-capped sliding-window attention) and for every model in
 * ../shared, the model's CUDA
 * module (codegen/cuda) is built as C++ with tests/gpu/cuda_emu.h and its
 * plan run on the emulated GPU (threads as fibers in a seeded random order,
 * shared memory and scratch poisoned with NaN): a 7-token prompt (the
 * mat-mat and prefill attention kernels), 3 decode steps (the mat-vec and
 * split-KV attention kernels with their merge), a second sequence's prompt
 * and a step with both sequences. Logits must match the eager interpreter's
 * at the compiled-vs-eager tolerances (tests/codegen/test_compiled_vs_eager.c):
 * max difference <= 1e-4 of the range for F32 models, cosine >= 0.9999 for
 * the others, 0.999 for the random-weight llama-small-tied files.
 *
 * Planted faults must be caught: the module with the barrier after the
 * cross-warp partial sums removed, with the barrier before the mat-vec reads
 * its staged activations removed, and with a wrong lane in the warp sum's
 * shuffle each fail the comparison; so do six planted into the epilogues and
 * attention variants of the tiny-<arch> shapes (test_planted_arch_faults). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/synth.h"
#include "ir/interp.h"
#include "runtime/kv_row.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/test.h"

enum { STEPS = 6 };

static double test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ASSERT_OK for functions that return a bool */
#define ASSERT_OK_RET(expr, ret)                                                                   \
  do {                                                                                             \
    azc_status_t st_ = (expr);                                                                     \
    if (st_) {                                                                                     \
      fprintf(stderr, "%s:%d: %s: %s returned: %s [%s]\n", __FILE__, __LINE__, test_current_name,  \
              #expr, azc_status_message(st_), azc_status_where(st_));                              \
      azc_status_free(st_);                                                                        \
      test_current_failed = 1;                                                                     \
      return ret;                                                                                  \
    }                                                                                              \
  } while (0)

/* rows: the prompt's logits, 3 decode steps, then two sequences side by side;
 * with `short_run` only the prompt and one decode step (planted faults) */
static bool short_run;
/* the second argument: run only this weight type ("Q4_K") */
static const char *only_type;

static azc_status_t run(azc_executor_t *ex, int V, float *out) {
  int32_t toks[7] = {1, 40, 41, 300, 7, 8, 9}, pos[7] = {0, 1, 2, 3, 4, 5, 6}, seq[7] = {0};
  int32_t last = 6;
  azc_batch_t b = {7, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 0; s < 3; s++) {
    int32_t t = 50 + 17 * s, p = 7 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)(1 + s) * V));
    if (short_run) return NULL;
  }
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

/* worst row: 1 - cosine, and max difference / range */
static void measure(const float *got, const float *ref, int V, double *worst_cos,
                    double *worst_rel) {
  *worst_cos = 1.0;
  *worst_rel = 0.0;
  for (int r = 0; r < (short_run ? 2 : STEPS); r++) {
    const float *a = got + (size_t)r * V, *b = ref + (size_t)r * V;
    double dot = 0, na = 0, nb = 0;
    float lo = b[0], hi = b[0], d = 0;
    for (int i = 0; i < V; i++) {
      dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
      lo = fminf(lo, b[i]), hi = fmaxf(hi, b[i]);
      d = isnan(a[i]) ? INFINITY : fmaxf(d, fabsf(a[i] - b[i]));
    }
    double c = dot / sqrt(na * nb);
    if (!(c == c)) c = -1;
    if (c < *worst_cos) *worst_cos = c;
    if (d / (hi - lo) > *worst_rel) *worst_rel = d / (hi - lo);
  }
}

typedef struct model_case {
  azc_model_t *m;
  compiled_model_t *c;
  gpu_module_t *g;
  float *ref;
  int V;
  bool exact, random_weights;
  double ms_build, ms_run;
} model_case_t;

static void case_free(model_case_t *mc) {
  gpu_module_free(mc->g);
  compiled_model_free(mc->c);
  if (mc->m) azc_model_close(mc->m);
  free(mc->ref);
}

static azc_executor_params_t exec_params(void) {
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_seq = 2;
  ep.n_threads = 1;
  ep.kv_type = AZC_KV_F32; /* the emulated GPU's cache rows, as the CUDA executor's */
  return ep;
}

/* opens, compiles (GGUF layouts), generates the module and the eager reference */
static bool case_open(model_case_t *mc, const char *path, bool fuse, const char *tag) {
  memset(mc, 0, sizeof(*mc));
  ASSERT_OK_RET(azc_model_open(path, &mc->m), false);
  mc->V = mc->m->hp.n_vocab;
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 16;
  o.n_ctx = 32;
  o.fuse = fuse;
  o.target_triple = "x86_64-pc-linux-gnu";
  o.target_cpu = "x86-64"; /* no repacked layouts: the CUDA kernels read GGUF's */
  ASSERT_OK_RET(compiled_model_create(mc->m, &o, &mc->c), false);
  ASSERT_OK_RET(gpu_module_generate(mc->c, &mc->g), false);
  double t0 = test_now_ms();
  ASSERT_OK_RET(gpu_module_build(mc->g, NULL, tag), false);
  mc->ms_build = test_now_ms() - t0;
  azc_ir_graph_t *g;
  ASSERT_OK_RET(azc_model_lower(mc->m, &g), false);
  azc_executor_params_t ep = exec_params();
  azc_executor_t *eager;
  ASSERT_OK_RET(azc_ir_interp_create(g, &ep, &eager), false);
  mc->ref = malloc(sizeof(float) * STEPS * (size_t)mc->V);
  azc_status_t st = run(eager, mc->V, mc->ref);
  azc_executor_destroy(eager);
  azc_ir_graph_destroy(g);
  ASSERT_OK_RET(st, false);
  mc->exact = true;
  for (uint64_t i = 0; i < mc->m->gguf->n_tensors; i++)
    if (mc->m->gguf->tensors[i].type != AZC_DTYPE_F32) mc->exact = false;
  return true;
}

/* runs the plan on the emulated GPU; returns whether it matched */
static bool case_matches(model_case_t *mc, uint64_t seed, double *cosine, double *rel, char *why,
                         size_t why_cap) {
  azc_executor_params_t ep = exec_params();
  azc_executor_t *ex;
  azc_status_t st = gpu_emu_executor(mc->c, mc->g, &ep, seed, &ex);
  float *got = malloc(sizeof(float) * STEPS * (size_t)mc->V);
  if (!st) {
    double t0 = test_now_ms();
    st = run(ex, mc->V, got);
    mc->ms_run = test_now_ms() - t0;
    azc_executor_destroy(ex);
  }
  if (st) {
    snprintf(why, why_cap, "%s", azc_status_message(st));
    azc_status_free(st);
    free(got);
    *cosine = -1, *rel = INFINITY;
    return false;
  }
  measure(got, mc->ref, mc->V, cosine, rel);
  free(got);
  snprintf(why, why_cap, "cosine %.7f, max diff %.3g of the range", *cosine, *rel);
  if (mc->exact) return *rel <= 1e-4;
  return *cosine >= (mc->random_weights ? 0.999 : 0.9999);
}

static void check_path(const char *path, const char *what, bool random_weights, bool fuse) {
  model_case_t mc;
  char tag[128];
  snprintf(tag, sizeof(tag), "%s%s", what, fuse ? "" : "-unfused");
  for (char *p = tag; *p; p++)
    if (*p == ' ' || *p == '/') *p = '_';
  if (case_open(&mc, path, fuse, tag)) {
    mc.random_weights = random_weights;
    double c, r;
    char why[512];
    bool ok = case_matches(&mc, 1, &c, &r, why, sizeof(why));
    ASSERT_MSG(ok, "%s%s: %s", what, fuse ? "" : " (unfused)", why);
    fprintf(stderr,
            "  %-30s %2d kernels, %zu bytes of CUDA C, host build %.0f ms, run %.0f ms: %s\n", tag,
            mc.g->n_kernels, mc.g->source_len, mc.ms_build, mc.ms_run, why);
  }
  case_free(&mc);
}

static void synth_path(const char *arch, azc_dtype_t type, char *path, size_t cap) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(!strcmp(arch, "llama") ? "tiny-llama" : "tiny-gpt2", &p));
  bool k_quant = azc_dtype_info(type)->block_size == 256;
  p.n_embd = k_quant ? 256 : 96;
  p.n_head = k_quant ? 4 : 3;
  p.n_head_kv = !strcmp(arch, "llama") ? (k_quant ? 2 : 1) : p.n_head;
  p.n_ff = k_quant ? 512 : 160;
  p.n_vocab = 389;
  p.n_layer = 1; /* one layer: the harness runs every thread as a fiber */
  p.wtype = type;
  p.seed = 7 + (uint64_t)type;
  p.tied = !strcmp(arch, "gpt2");
  snprintf(path, cap, "%s/%s-%s.gguf", test_tmp_dir(), arch, azc_dtype_name(type));
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
}

static void test_llama_every_type(void) {
  static const azc_dtype_t types[] = {
      AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16, AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_1,
      AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0, AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K,
      AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K, AZC_DTYPE_Q6_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++) {
    char path[1024], what[64];
    if (only_type && strcmp(only_type, azc_dtype_name(types[i]))) continue;
    synth_path("llama", types[i], path, sizeof(path));
    snprintf(what, sizeof(what), "llama %s", azc_dtype_name(types[i]));
    check_path(path, what, false, true);
  }
}

static void test_gpt2_types(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_F32, AZC_DTYPE_Q8_0, AZC_DTYPE_Q4_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++) {
    char path[1024], what[64];
    synth_path("gpt2", types[i], path, sizeof(path));
    snprintf(what, sizeof(what), "gpt2 %s", azc_dtype_name(types[i]));
    check_path(path, what, false, true);
  }
}

static void test_shared_models(void) {
  static const char *models[] = {
      "stories260K.gguf",           "llama-small-tied-f16.gguf",    "llama-small-tied-Q8_0.gguf",
      "llama-small-tied-Q4_0.gguf", "llama-small-tied-Q4_K_M.gguf", "llama-small-tied-Q6_K.gguf",
      "gpt2-small-tied-Q8_0.gguf"};
  char path[1024], rel[256];
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]) && !test_current_failed; i++) {
    snprintf(rel, sizeof(rel), "models/%s", models[i]);
    if (!test_shared_path(path, sizeof(path), rel)) TEST_SKIP("../shared/models is absent");
    check_path(path, models[i], strstr(models[i], "llama-small") != NULL, true);
  }
}

/* The tiny-<arch> shapes azc mkmodel writes of every decoder architecture
 * (F32 unless asked: the strict check): Qwen3's and Gemma 3's per-head q/k
 * RMSNorms in the QKV rope/KV epilogue, Phi-3's LongRoPE attn_factor there
 * too (with partial rotary and frequency factors) and its one gate|up
 * tensor as SwiGLU over the halves of one segment, Gemma's GeGLU epilogue,
 * Gemma 2/3's soft-capped, sliding-window flash attention (the window cut to
 * 4 so the 7-token prompt and the decode steps reach past it) and final
 * logit soft-cap; Qwen2's QKV biases, Llama 3's rope_freqs, StarCoder2's
 * LayerNorm and GELU. */
static const char *const arch_shapes[] = {"tiny-qwen3",     "tiny-gemma2", "tiny-gemma3",
                                          "tiny-phi3",      "tiny-qwen2",  "tiny-llama3",
                                          "tiny-starcoder2"};

static void arch_path(const char *shape, azc_dtype_t type, char *path, size_t cap) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(shape, &p));
  if (p.n_swa) p.n_swa = 4;
  p.wtype = type;
  snprintf(path, cap, "%s/%s-%s.gguf", test_tmp_dir(), shape, azc_dtype_name(type));
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
}

/* the second argument: one shape, or SHAPE:TYPE (tiny-gemma3:Q4_K; F32 else) */
static void test_every_arch(void) {
  const char *colon = only_type ? strchr(only_type, ':') : NULL;
  const size_t n = colon ? (size_t)(colon - only_type) : only_type ? strlen(only_type) : 0;
  const int type = colon ? azc_dtype_from_name(colon + 1) : AZC_DTYPE_F32;
  ASSERT_MSG(type >= 0, "every_arch %s: no such weight type", only_type);
  for (size_t i = 0; i < sizeof(arch_shapes) / sizeof(arch_shapes[0]) && !test_current_failed;
       i++) {
    if (only_type && (strlen(arch_shapes[i]) != n || strncmp(only_type, arch_shapes[i], n)))
      continue;
    char path[1024], what[96];
    arch_path(arch_shapes[i], (azc_dtype_t)type, path, sizeof(path));
    snprintf(what, sizeof(what), "%s %s", arch_shapes[i], azc_dtype_name((uint32_t)type));
    check_path(path, what, false, true);
  }
}

/* Replaces the first occurrence of `marker`'s line part `from` with `to`. */
static char *plant(const char *src, const char *from, const char *to) {
  const char *at = strstr(src, from);
  if (!at) return NULL;
  size_t n = strlen(src), a = (size_t)(at - src), f = strlen(from), t = strlen(to);
  char *out = malloc(n - f + t + 1);
  memcpy(out, src, a);
  memcpy(out + a, to, t);
  memcpy(out + a + t, at + f, n - a - f + 1);
  return out;
}

/* A planted fault must make the comparison fail, under several fiber orders. */
static void check_planted(model_case_t *mc, const char *what, const char *from, const char *to) {
  char *src = plant(mc->g->source, from, to);
  ASSERT_MSG(src != NULL, "%s: marker \"%s\" not in the module", what, from);
  if (!src) return;
  ASSERT_OK(gpu_module_build(mc->g, src, "planted"));
  free(src);
  double c, r;
  char why[512];
  bool ok = case_matches(mc, 3, &c, &r, why, sizeof(why));
  ASSERT_MSG(!ok, "%s went unnoticed: %s", what, why);
  fprintf(stderr, "  planted %-28s caught: %s\n", what, why);
}

static void test_planted_faults(void) {
  char path[1024];
  short_run = true;
  synth_path("llama", AZC_DTYPE_Q4_K, path, sizeof(path));
  model_case_t mc;
  if (case_open(&mc, path, true, "planted-base")) {
    double c, r;
    char why[512];
    if (!case_matches(&mc, 3, &c, &r, why, sizeof(why))) {
      fprintf(stderr, "unplanted module: %s\n", why);
      test_current_failed = 1;
    }
    if (!test_current_failed)
      check_planted(&mc, "missing __syncthreads (block sum)", "azk_sync(); /* @plant:sync */",
                    "/* removed */");
    if (!test_current_failed)
      check_planted(&mc, "missing __syncthreads (staging)", "azk_sync(); /* @plant:sync-stage */",
                    "/* removed */");
    if (!test_current_failed)
      check_planted(&mc, "missing __syncthreads (flash attn)", "azk_sync(); /* @plant:sync-fa */",
                    "/* removed */");
    if (!test_current_failed)
      check_planted(&mc, "wrong shuffle lane", "v += azk_shfl_xor(v, o); /* @plant:lane */",
                    "v += azk_shfl_xor(v, o == 16 ? 8 : o);");
  }
  case_free(&mc);
}

/* planted faults in the epilogues and attention variants above, each on the
 * arch that has it: each must fail the comparison */
typedef struct arch_plant {
  const char *shape, *what, *from, *to;
} arch_plant_t;

static void test_planted_arch_faults(void) {
  static const arch_plant_t plants[] = {
      {"tiny-qwen3", "q/k norm eps 1e4 times too big",
       "const double eps = P::qk_eps; /* @plant:qk-eps */", "const double eps = P::qk_eps * 1e4;"},
      {"tiny-phi3", "rope cos without attn_factor", "c *= attn; /* @plant:attn */",
       "/* removed */"},
      {"tiny-phi3", "up read from the gate half",
       "azk_mm_cols<P, RT>(a, F + n0, F + n1, m0, nrows, xs, xfs, tile + RT * CT); /* @plant:up */",
       "azk_mm_cols<P, RT>(a, n0, n1, m0, nrows, xs, xfs, tile + RT * CT);"},
      {"tiny-gemma2", "geglu as swiglu",
       "(P::epilogue == 5 ? azk_gelu(g) : azk_silu(g)) * tile[RT * CT + i]; /* @plant:glu */",
       "azk_silu(g) * tile[RT * CT + i];"},
      {"tiny-gemma2", "sliding window ignored", "? L - P::window : 0; /* @plant:window */",
       "? 0 : 0;"},
      {"tiny-gemma2", "attention soft-cap ignored",
       "sc = P::softcap * azk_tanhf(sc / P::softcap); /* @plant:softcap */", "(void)0;"},
  };
  short_run = true;
  const char *open_shape = NULL;
  model_case_t mc;
  memset(&mc, 0, sizeof(mc));
  bool usable = false;
  for (size_t i = 0; i < sizeof(plants) / sizeof(plants[0]) && !test_current_failed; i++) {
    const arch_plant_t *pl = &plants[i];
    if (only_type && strcmp(only_type, pl->shape)) continue;
    if (!open_shape || strcmp(open_shape, pl->shape)) { /* the unplanted module must pass */
      case_free(&mc);
      memset(&mc, 0, sizeof(mc));
      char path[1024];
      arch_path(pl->shape, AZC_DTYPE_F32, path, sizeof(path));
      open_shape = pl->shape;
      usable = case_open(&mc, path, true, pl->shape);
      double c, r;
      char why[512];
      if (usable && !case_matches(&mc, 3, &c, &r, why, sizeof(why))) {
        fprintf(stderr, "%s, unplanted: %s\n", pl->shape, why);
        test_current_failed = 1;
      }
    }
    if (usable && !test_current_failed) check_planted(&mc, pl->what, pl->from, pl->to);
  }
  case_free(&mc);
  short_run = false;
}

int main(int argc, char **argv) {
  /* an argument runs only the tests whose name contains it */
  const char *only = argc > 1 ? argv[1] : "";
  only_type = argc > 2 ? argv[2] : NULL;
#define RUN_IF(fn)                                                                                 \
  if (strstr(#fn, only)) RUN(fn)
  RUN_IF(test_planted_faults);
  short_run = false;
  RUN_IF(test_llama_every_type);
  RUN_IF(test_gpt2_types);
  RUN_IF(test_shared_models);
  RUN_IF(test_every_arch);
  RUN_IF(test_planted_arch_faults);
  return test_summary();
}
