/* The decoder-only transformer most GGUF architectures are: one lowering,
 * parametrised by a row per architecture (a variant). The arch files
 * (arch_llama.c, arch_qwen2.c, ...) each hold their row and whatever their
 * hyperparameters need beyond it; everything below reads keys under the
 * architecture's own prefix ("<arch>.rope.freq_base").
 *
 *   x = embed(tokens) [* sqrt(n_embd)]
 *   per block l:
 *     n = norm(x) * attn_norm [+ attn_norm.bias]          RMSNorm or LayerNorm
 *     q, k, v = wq.n [+bq], wk.n [+bk], wv.n [+bv]          or one attn_qkv, sliced
 *     q, k = rmsnorm_per_head(q) * attn_q_norm, ...         (qk_norm)
 *     q, k = rope(q), rope(k)                               mode, base, scale, factors,
 *                                                           attn_factor; local layers
 *                                                           may use their own base
 *     o = wo . softmax(mask_l(softcap(q.k / s))) v [+bo]    mask_l: causal, or sliding
 *                                                           window on local layers
 *     x += [post_attention_norm(] o [)]                     (sandwich_norms)
 *     n = norm(x) * ffn_norm [+ bias]
 *     h = act(gate.n) * (up.n) | gelu(up.n + b)             SwiGLU, GeGLU or GELU MLP;
 *                                                           gate|up may be one tensor
 *     x += [post_ffw_norm(] down.h [+b] [)]
 *   logits = softcap(output . norm(x[out_rows]) [+ output.bias])
 *
 * Optional biases are used wherever the file has them. The math follows
 * llama.cpp's graphs (src/llama-model.cpp, llm_build_*), which the tests
 * compare against. */
#ifndef AZC_FRONTEND_DECODER_H
#define AZC_FRONTEND_DECODER_H

#include <stdbool.h>

#include "ir/ir.h"

enum { AZC_FFN_SWIGLU = 0, AZC_FFN_GEGLU = 1, AZC_FFN_GELU = 2 };
/* which biases a file must have (any other present bias is used too) */
enum { AZC_BIAS_OPTIONAL = 0, AZC_BIAS_QKV = 1, AZC_BIAS_ALL = 2 };

typedef struct azc_decoder_variant {
  int rope_mode;                /* AZC_ROPE_NORMAL (adjacent pairs) or AZC_ROPE_NEOX (halves) */
  bool layer_norm;              /* LayerNorm with bias instead of RMSNorm */
  int ffn;                      /* AZC_FFN_* */
  int biases;                   /* AZC_BIAS_* */
  bool fused_qkv;               /* blk.N.attn_qkv.weight holds q | k | v */
  bool fused_gate_up;           /* blk.N.ffn_up.weight holds gate | up (2 n_ff rows) */
  bool qk_norm;                 /* blk.N.attn_q_norm / attn_k_norm: RMSNorm per head before RoPE */
  bool sandwich_norms;          /* blk.N.post_attention_norm, post_ffw_norm */
  bool embed_scale;             /* embeddings * sqrt(n_embd) */
  bool rope_factors_long_short; /* rope_factors_long/short.weight (LongRoPE) */
  int swa_pattern;              /* 0: no sliding window; n: layer l is local when l % n < n - 1 */
  int32_t swa_default; /* window when <arch>.attention.sliding_window is absent (0: required) */
  float swa_rope_base; /* RoPE base of local layers (0: the global one), unscaled */
  bool softcaps;       /* attention and final logit soft-capping (Gemma 2) */
} azc_decoder_variant_t;

struct azc_gguf;
struct azc_hparams;
struct azc_model;

/* Reads the variant's hyperparameters under "<arch>." into hp (after the
 * common ones): norm eps, RoPE (dims, base, scaling type and factor,
 * attn_factor, original context), sliding window, soft-caps. */
azc_status_t azc_decoder_read_hparams(const struct azc_gguf *g, const azc_decoder_variant_t *v,
                                      struct azc_hparams *hp);

/* Lowers the model to g; every missing tensor is listed in one error. */
azc_status_t azc_decoder_lower(const struct azc_model *m, const azc_decoder_variant_t *v,
                               azc_ir_graph_t *g);

/* One line: "NEOX rope, rmsnorm, swiglu, q/k/v biases, ..." into buf. */
void azc_decoder_describe(const azc_decoder_variant_t *v, char *buf, size_t cap);

/* Layer l uses the sliding window. */
bool azc_decoder_layer_is_local(const azc_decoder_variant_t *v, int32_t layer);

#endif
