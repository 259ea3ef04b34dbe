/* The architecture table: the supported list is built from it; refusals
 * name the architecture and what is missing (MLA, mixture-of-experts, an
 * unknown RoPE scaling, a value length other than the key length); each tiny-<arch> shape lowers with its row's ops
 * (sliding-window masks on local layers only, soft-caps, q/k norms,
 * attn_factor), and LongRoPE's context limit reaches the graph. */
#include <stdio.h>
#include <string.h>

#include "frontend/gguf.h"
#include "frontend/model.h"
#include "frontend/synth.h"
#include "tests/test.h"

/* a llama-shaped header (no tensors) plus one extra key */
static const char *write_header(const char *arch, const char *extra_key, const char *extra_str,
                                uint32_t extra_u32, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s-%s.gguf", test_tmp_dir(), arch, extra_key ? extra_key : "plain");
  azc_gguf_writer_t *w;
  if (azc_gguf_writer_create(&w)) return NULL;
  char k[128];
#define KEY(s) (snprintf(k, sizeof(k), "%s.%s", arch, s), k)
  azc_status_t st = azc_gguf_writer_set_str(w, "general.architecture", arch);
  if (!st) st = azc_gguf_writer_set_u32(w, KEY("embedding_length"), 64);
  if (!st) st = azc_gguf_writer_set_u32(w, KEY("block_count"), 1);
  if (!st) st = azc_gguf_writer_set_u32(w, KEY("attention.head_count"), 4);
  if (!st) st = azc_gguf_writer_set_u32(w, KEY("feed_forward_length"), 128);
  if (!st) st = azc_gguf_writer_set_u32(w, KEY("vocab_size"), 32);
  if (!st) st = azc_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
  if (!st && extra_key && extra_str) st = azc_gguf_writer_set_str(w, KEY(extra_key), extra_str);
  if (!st && extra_key && !extra_str) st = azc_gguf_writer_set_u32(w, KEY(extra_key), extra_u32);
#undef KEY
  if (!st) st = azc_gguf_writer_write(w, path);
  azc_gguf_writer_destroy(w);
  if (st) {
    fprintf(stderr, "%s\n", azc_status_message(st));
    azc_status_free(st);
    return NULL;
  }
  return path;
}

static void test_supported_list(void) {
  const char *list = azc_model_supported_archs();
  ASSERT_EQ_INT(azc_model_arch_count(), 8);
  for (int i = 0; i < azc_model_arch_count(); i++) {
    ASSERT(strstr(list, azc_model_arch_at(i)->name) != NULL);
    ASSERT(azc_model_find_arch(azc_model_arch_at(i)->name) == azc_model_arch_at(i));
  }
  ASSERT(!strcmp(list, "llama, qwen2, qwen3, gemma2, gemma3, phi3, starcoder2, gpt2"));
}

static void test_refusals(void) {
  char path[1024];
  azc_model_t *m = NULL;
  ASSERT(write_header("deepseek2", NULL, NULL, 0, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED,
             "architecture 'deepseek2' is not supported: azc lacks multi-head latent attention");
  ASSERT(write_header("qwen3moe", NULL, NULL, 0, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED, "mixture-of-experts");
  ASSERT(write_header("mamba", NULL, NULL, 0, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED,
             "architecture 'mamba' is not supported (azc supports: llama, qwen2");
  ASSERT(write_header("llama", "expert_count", NULL, 8, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED,
             "llama with 8 experts: mixture-of-experts layers are not supported");
  ASSERT(write_header("qwen2", "rope.scaling.type", "yarn", 0, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED,
             "qwen2: rope scaling 'yarn' is not supported");
  /* head dim 64 / 4 = 16 for keys, 8 for values */
  ASSERT(write_header("gemma3", "attention.value_length", NULL, 8, path, sizeof(path)));
  ASSERT_ERR(azc_model_open(path, &m), AZC_UNSUPPORTED,
             "gemma3: value length 8 differs from key length 16");
  ASSERT(m == NULL);
}

/* op counts and attributes of one tiny shape's lowering */
typedef struct lowered {
  int softcap, window_masks, plain_masks, rope_attn_factor, norms;
  int64_t max_ctx;
} lowered_t;

static void lower_shape(const char *shape, lowered_t *out) {
  memset(out, 0, sizeof(*out));
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.gguf", test_tmp_dir(), shape);
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(shape, &p));
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  for (int i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    if (n->op == AZC_OP_SOFTCAP) out->softcap++;
    if (n->op == AZC_OP_CAUSAL_MASK) *(n->iattr[0] ? &out->window_masks : &out->plain_masks) += 1;
    if (n->op == AZC_OP_ROPE && n->fattr[2] != 1.0f) out->rope_attn_factor++;
    if (n->op == AZC_OP_RMS_NORM || n->op == AZC_OP_LAYER_NORM) out->norms++;
  }
  out->max_ctx = g->max_ctx;
  azc_ir_graph_destroy(g);
  azc_model_close(m);
}

static void test_lowerings(void) {
  lowered_t l;
  lower_shape("tiny-gemma2", &l); /* 4 layers: 0 and 2 local */
  ASSERT_EQ_INT(l.softcap, 4 + 1);
  ASSERT_EQ_INT(l.window_masks, 2);
  ASSERT_EQ_INT(l.plain_masks, 2);
  ASSERT_EQ_INT(l.norms, 4 * 4 + 1); /* attn, post-attn, ffn, post-ffn + output */
  lower_shape("tiny-gemma3", &l);    /* 7 layers: 5 is global */
  ASSERT_EQ_INT(l.softcap, 0);
  ASSERT_EQ_INT(l.window_masks, 6);
  ASSERT_EQ_INT(l.plain_masks, 1);
  ASSERT_EQ_INT(l.norms, 7 * 6 + 1); /* + q and k norms */
  lower_shape("tiny-qwen3", &l);
  ASSERT_EQ_INT(l.norms, 2 * 4 + 1);
  ASSERT_EQ_INT(l.window_masks, 0);
  lower_shape("tiny-phi3", &l);
  ASSERT_EQ_INT(l.rope_attn_factor, 2 * 2);
  ASSERT_EQ_INT(l.max_ctx, 256); /* rope_factors_long past the original 256 positions */
  lower_shape("tiny-starcoder2", &l);
  ASSERT_EQ_INT(l.norms, 2 * 2 + 1);
  ASSERT_EQ_INT(l.max_ctx, 0);
}

int main(void) {
  RUN(test_supported_list);
  RUN(test_refusals);
  RUN(test_lowerings);
  return test_summary();
}
