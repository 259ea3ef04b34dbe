/* The pass pipeline: after every pass (stop_after each in turn) the graph
 * verifies and the eager interpreter gives the same logits as on the
 * unfused graph, for prefill and decode; the fully fused graph has the
 * expected shape (one rope/kv QKV kernel, one flash attention, one SwiGLU or
 * GELU kernel and two residual kernels per block); --dump-after prints.
 * Every decoder row (tiny-<arch>) keeps its logits through every pass too,
 * with its attention fused into flash_attn (sliding window and soft-cap as
 * attributes) and the same kernels per block (q/k norms and attn_factor in
 * the rope/kv epilogue, GeGLU and Phi-3's one gate|up tensor as gated-FFN
 * epilogues); the 24-token prompt is longer than their 16-position windows. */
#include <stdlib.h>
#include <string.h>

#include "frontend/decoder.h"
#include "frontend/model.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "tests/test.h"

static const char *fixture(const char *shape, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.gguf", test_tmp_dir(), shape);
  azc_synth_params_t p;
  if (azc_synth_preset(shape, &p)) return NULL;
  azc_status_t st = azc_synth_write(&p, buf, NULL, NULL);
  if (st) {
    fprintf(stderr, "%s\n", azc_status_message(st));
    azc_status_free(st);
    return NULL;
  }
  return buf;
}

/* Runs a prompt of 24 tokens then 3 decode steps; returns all logits rows. */
static azc_status_t run_graph(const azc_ir_graph_t *g, int n_vocab, float *out /* 4 x V */) {
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_threads = 2;
  azc_executor_t *ex;
  AZC_RETURN_IF_ERROR(azc_ir_interp_create(g, &ep, &ex));
  enum { N = 24 };
  int32_t toks[N], pos[N], seq[N] = {0}, last = N - 1;
  for (int i = 0; i < N; i++) toks[i] = i ? (i * 37 + 5) % 256 + 3 : 1, pos[i] = i;
  azc_batch_t b = {N, toks, pos, seq, 1, &last};
  azc_status_t st = azc_executor_forward(ex, &b, out);
  for (int s = 0; s < 3 && !st; s++) {
    int32_t t = 50 + s, p = N + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    st = azc_executor_forward(ex, &one, out + (size_t)(s + 1) * n_vocab);
  }
  azc_executor_destroy(ex);
  return st;
}

/* llama: SwiGLU (else GELU); counts: check the fused graph's exact kernels */
static void check_model(const char *path, bool llama, bool counts) {
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  int V = m->hp.n_vocab;
  azc_ir_graph_t *ref_g;
  ASSERT_OK(azc_model_lower(m, &ref_g));
  float *ref = malloc(sizeof(float) * 4 * (size_t)V), *got = malloc(sizeof(float) * 4 * (size_t)V);
  ASSERT_OK(run_graph(ref_g, V, ref));
  float lo = ref[0], hi = ref[0];
  for (int i = 0; i < 4 * V; i++) lo = fminf(lo, ref[i]), hi = fmaxf(hi, ref[i]);
  int n_pass;
  const azc_pass_t *list = azc_pass_list(&n_pass);
  for (int p = 0; p < n_pass; p++) {
    azc_ir_graph_t *g;
    ASSERT_OK(azc_model_lower(m, &g));
    azc_pass_options_t o = azc_pass_options_default();
    o.verify = true;
    o.stop_after = list[p].name;
    o.n_ctx = 32;
    ASSERT_OK(azc_passes_run(g, &o, NULL, NULL));
    ASSERT_OK(azc_ir_verify(g));
    ASSERT_OK(run_graph(g, V, got));
    float d = 0;
    for (int i = 0; i < 4 * V; i++) d = fmaxf(d, fabsf(got[i] - ref[i]));
    ASSERT_MSG(d <= 1e-4f * (hi - lo), "%s: after %s: max diff %g (range %g)", path, list[p].name,
               d, hi - lo);
    if (p == n_pass - 1) {
      int c[AZC_OP_COUNT];
      azc_ir_op_counts(g, c);
      int L = m->hp.n_layer;
      ASSERT_EQ_INT(c[AZC_OP_FLASH_ATTN], L);
      /* windows on local layers only, soft-caps where the file has them */
      for (int i = 0; i < g->n_nodes; i++) {
        const azc_ir_node_t *f = g->nodes[i];
        if (f->op != AZC_OP_FLASH_ATTN) continue;
        const azc_arch_t *a = azc_model_find_arch(m->hp.arch);
        bool local = a->decoder && azc_decoder_layer_is_local(a->decoder, f->layer);
        ASSERT_EQ_INT(f->iattr[0], local ? m->hp.n_swa : 0);
        ASSERT(f->fattr[1] == m->hp.attn_softcap);
      }
      if (!counts) {
        azc_ir_graph_destroy(g);
        break;
      }
      /* per block: one rope/kv QKV kernel (q/k norms and LongRoPE's attn_factor inside),
       * flash attention, one gated-FFN (SwiGLU, GeGLU, also from one gate|up tensor) or
       * GELU kernel, and the two residual adds in the projections' epilogues, except
       * where sandwich norms (Gemma) sit between a projection and its residual add */
      const azc_decoder_variant_t *v = azc_model_find_arch(m->hp.arch)->decoder;
      const bool sandwich = v && v->sandwich_norms;
      const int ffn_epi = v ? (v->ffn == AZC_FFN_SWIGLU   ? AZC_EPI_SWIGLU
                               : v->ffn == AZC_FFN_GEGLU ? AZC_EPI_GEGLU
                                                         : AZC_EPI_GELU)
                            : llama ? AZC_EPI_SWIGLU
                                    : AZC_EPI_GELU;
      ASSERT_EQ_INT(c[AZC_OP_MATMUL], 0);
      ASSERT_EQ_INT(c[AZC_OP_MATMUL_FUSED], 4 * L + 1);
      ASSERT_EQ_INT(c[AZC_OP_FLASH_ATTN], L);
      ASSERT_EQ_INT(c[AZC_OP_ATTN_SCORES] + c[AZC_OP_SOFTMAX] + c[AZC_OP_KV_WRITE] + c[AZC_OP_ROPE], 0);
      ASSERT_EQ_INT(c[AZC_OP_RMS_NORM] + c[AZC_OP_LAYER_NORM], sandwich ? 2 * L : 0);
      ASSERT_EQ_INT(c[AZC_OP_SILU] + c[AZC_OP_GELU] + c[AZC_OP_SLICE], 0);
      int epi[AZC_EPI_COUNT] = {0};
      for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == AZC_OP_MATMUL_FUSED) epi[g->nodes[i]->iattr[AZC_MF_EPILOGUE]]++;
      ASSERT_EQ_INT(epi[AZC_EPI_ROPE_KV], L);
      ASSERT_EQ_INT(epi[AZC_EPI_RESIDUAL], sandwich ? 0 : 2 * L);
      ASSERT_EQ_INT(epi[ffn_epi], L);
      ASSERT(g->arena_bytes > 0);
    }
    azc_ir_graph_destroy(g);
  }
  free(ref), free(got);
  azc_ir_graph_destroy(ref_g);
  azc_model_close(m);
}

static void test_llama_pipeline(void) {
  char path[512];
  ASSERT(fixture("tiny-llama", path, sizeof(path)));
  check_model(path, true, true);
}

static void test_gpt2_pipeline(void) {
  char path[512];
  ASSERT(fixture("tiny-gpt2", path, sizeof(path)));
  check_model(path, false, true);
}

static void test_arch_pipelines(void) {
  static const char *shapes[] = {"tiny-llama3", "tiny-qwen2", "tiny-qwen3",     "tiny-gemma2",
                                 "tiny-gemma3", "tiny-phi3",  "tiny-starcoder2"};
  char path[512];
  for (size_t i = 0; i < AZC_ARRAY_SIZE(shapes) && !test_current_failed; i++) {
    ASSERT(fixture(shapes[i], path, sizeof(path)));
    check_model(path, true, true);
  }
}

static void test_shared_models(void) {
  static const char *models[] = {"llama-small-tied-Q4_K_M.gguf", "gpt2-small-tied-Q8_0.gguf",
                                 "stories260K.gguf"};
  char path[1024], rel[256];
  for (size_t i = 0; i < 3; i++) {
    snprintf(rel, sizeof(rel), "models/%s", models[i]);
    if (!test_shared_path(path, sizeof(path), rel)) TEST_SKIP("../shared/models is absent");
    check_model(path, !strstr(models[i], "gpt2"), true);
    if (test_current_failed) return;
  }
}

static void test_dump_after(void) {
  char path[512];
  ASSERT(fixture("tiny-llama", path, sizeof(path)));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  azc_pass_options_t o = azc_pass_options_default();
  o.dump_after = "fuse-attention";
  o.dump_out = f;
  ASSERT_OK(azc_passes_run(g, &o, NULL, NULL));
  fclose(f);
  ASSERT(strstr(text, "// IR after fuse-attention") != NULL);
  ASSERT(strstr(text, "flash_attn(") != NULL);
  ASSERT(strstr(text, "prologue=1, n_seg=3") != NULL); /* merged, normed QKV */
  free(text);
  azc_ir_graph_destroy(g);
  ASSERT_OK(azc_model_lower(m, &g));
  o.dump_after = "no-such-pass";
  ASSERT_ERR(azc_passes_run(g, &o, NULL, NULL), AZC_INVALID_ARGUMENT, "no-such-pass");
  azc_ir_graph_destroy(g);
  azc_model_close(m);
}

int main(void) {
  RUN(test_llama_pipeline);
  RUN(test_gpt2_pipeline);
  RUN(test_arch_pipelines);
  RUN(test_shared_models);
  RUN(test_dump_after);
  return test_summary();
}
