/* Llama (GGUF general.architecture = "llama") lowered to the IR:
 *
 *   x = embed(tokens)
 *   per block: x += wo . attention(rope(wq . n), rope(wk . n), wv . n),  n = rmsnorm(x) * attn_norm
 *              x += w_down . (silu(w_gate . n) * (w_up . n)),           n = rmsnorm(x) * ffn_norm
 *   logits = output . (rmsnorm(x[out_rows]) * output_norm)   (output = token_embd when tied)
 *
 * Grouped-query attention (n_head_kv < n_head), RoPE in llama.cpp's "normal"
 * mode (adjacent pairs; the GGUF conversion permutes wq/wk for it), frequency
 * base and linear scaling from metadata, per-dimension frequency factors from
 * rope_freqs.weight when present (Llama 3), optional q/k/v biases. The
 * attention is written as its unfused op sequence; the passes fuse it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/model.h"

static azc_status_t read_hparams(const azc_gguf_t *g, azc_hparams_t *hp) {
  AZC_RETURN_IF_ERROR(azc_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &hp->norm_eps));
  if (!(hp->norm_eps > 0) || hp->norm_eps > 1)
    return AZC_ERR(AZC_CORRUPT, "%s: llama.attention.layer_norm_rms_epsilon = %g", g->name,
                   (double)hp->norm_eps);
  int64_t n_rot;
  AZC_RETURN_IF_ERROR(azc_gguf_opt_i64(g, "llama.rope.dimension_count", hp->head_dim, &n_rot));
  if (n_rot <= 0 || n_rot > hp->head_dim || n_rot % 2)
    return AZC_ERR(AZC_CORRUPT, "%s: llama.rope.dimension_count = %lld (head dim %d)", g->name,
                   (long long)n_rot, hp->head_dim);
  hp->n_rot = (int32_t)n_rot;
  AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, "llama.rope.freq_base", 10000.0f, &hp->rope_freq_base));
  if (!(hp->rope_freq_base > 0))
    return AZC_ERR(AZC_CORRUPT, "%s: llama.rope.freq_base = %g", g->name, (double)hp->rope_freq_base);
  float factor = 1.0f;
  if (azc_gguf_find(g, "llama.rope.scaling.type")) {
    azc_strview_t type;
    AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, "llama.rope.scaling.type", &type));
    if (azc_strview_eq(type, "linear")) {
      AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, "llama.rope.scaling.factor", 1.0f, &factor));
    } else if (!azc_strview_eq(type, "none") && !azc_strview_eq(type, "llama3")) {
      return AZC_ERR(AZC_UNSUPPORTED, "%s: rope scaling '%.*s' is not supported (none, linear)",
                     g->name, (int)AZC_MIN(type.size, 32), type.data);
    }
  } else {
    AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, "llama.rope.scale_linear", 1.0f, &factor));
  }
  if (!(factor > 0)) return AZC_ERR(AZC_CORRUPT, "%s: rope scaling factor %g", g->name, (double)factor);
  hp->rope_freq_scale = 1.0f / factor;
  if (azc_gguf_find(g, "llama.expert_count")) {
    int64_t experts;
    AZC_RETURN_IF_ERROR(azc_gguf_get_i64(g, "llama.expert_count", &experts));
    if (experts > 0)
      return AZC_ERR(AZC_UNSUPPORTED, "%s: mixture-of-experts llama models are not supported",
                     g->name);
  }
  return NULL;
}

static azc_status_t lower(const azc_model_t *m, azc_ir_graph_t *g) {
  const azc_hparams_t *hp = &m->hp;
  const int64_t D = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim;
  const int64_t F = hp->n_ff, V = hp->n_vocab;
  azc_tensor_list_t missing = {{0}, 0};
  azc_ir_node_t *tokens = azc_ir_input(g, AZC_INPUT_TOKENS);
  azc_ir_node_t *pos = azc_ir_input(g, AZC_INPUT_POSITIONS);
  azc_ir_node_t *seq = azc_ir_input(g, AZC_INPUT_SEQ);
  azc_ir_node_t *out_rows = azc_ir_input(g, AZC_INPUT_OUT_ROWS);

  const int64_t s_emb[] = {V, D}, s_d[] = {D}, s_q[] = {H * hd, D}, s_kv[] = {Hkv * hd, D};
  const int64_t s_o[] = {D, H * hd}, s_up[] = {F, D}, s_down[] = {D, F};
  const int64_t s_qb[] = {H * hd}, s_kvb[] = {Hkv * hd}, s_ff[] = {hp->n_rot / 2};
  azc_ir_node_t *emb = azc_model_weight(m, g, &missing, false, 2, s_emb, "token_embd.weight");
  azc_ir_node_t *out_norm = azc_model_weight(m, g, &missing, false, 1, s_d, "output_norm.weight");
  azc_ir_node_t *out_w = azc_model_weight(m, g, &missing, true, 2, s_emb, "output.weight");
  azc_ir_node_t *freqs = azc_model_weight(m, g, &missing, true, 1, s_ff, "rope_freqs.weight");
  if (freqs && freqs->dtype != AZC_DTYPE_F32)
    return AZC_ERR(AZC_UNSUPPORTED, "rope_freqs.weight must be F32");
  if (!out_w) out_w = emb; /* tied embeddings */
  if (azc_gguf_find_tensor(m->gguf, "blk.0.ffn_gate_inp.weight"))
    return AZC_ERR(AZC_UNSUPPORTED, "mixture-of-experts tensors found; not supported");

  const azc_dim_t T = azc_dim_sym(AZC_SYM_T);
  const azc_dim_t q3[] = {T, azc_dim_const(H), azc_dim_const(hd)};
  const azc_dim_t kv3[] = {T, azc_dim_const(Hkv), azc_dim_const(hd)};
  const azc_dim_t flat[] = {T, azc_dim_const(H * hd)};
  const float kq_scale = 1.0f / sqrtf((float)hd);

  azc_ir_node_t *x = azc_ir_set_name(g, azc_ir_get_rows(g, emb, tokens), "embed");
  for (int32_t l = 0; l < hp->n_layer; l++) {
    g->cur_layer = l;
    azc_ir_node_t *attn_norm = azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.attn_norm.weight", l);
    azc_ir_node_t *wq = azc_model_weight(m, g, &missing, false, 2, s_q, "blk.%d.attn_q.weight", l);
    azc_ir_node_t *wk = azc_model_weight(m, g, &missing, false, 2, s_kv, "blk.%d.attn_k.weight", l);
    azc_ir_node_t *wv = azc_model_weight(m, g, &missing, false, 2, s_kv, "blk.%d.attn_v.weight", l);
    azc_ir_node_t *wo = azc_model_weight(m, g, &missing, false, 2, s_o, "blk.%d.attn_output.weight", l);
    azc_ir_node_t *bq = azc_model_weight(m, g, &missing, true, 1, s_qb, "blk.%d.attn_q.bias", l);
    azc_ir_node_t *bk = azc_model_weight(m, g, &missing, true, 1, s_kvb, "blk.%d.attn_k.bias", l);
    azc_ir_node_t *bv = azc_model_weight(m, g, &missing, true, 1, s_kvb, "blk.%d.attn_v.bias", l);
    azc_ir_node_t *ffn_norm = azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.ffn_norm.weight", l);
    azc_ir_node_t *wg = azc_model_weight(m, g, &missing, false, 2, s_up, "blk.%d.ffn_gate.weight", l);
    azc_ir_node_t *wu = azc_model_weight(m, g, &missing, false, 2, s_up, "blk.%d.ffn_up.weight", l);
    azc_ir_node_t *wd = azc_model_weight(m, g, &missing, false, 2, s_down, "blk.%d.ffn_down.weight", l);
    if (missing.count || g->error) continue; /* keep going to list every missing tensor */

    azc_ir_node_t *n = azc_ir_binary(g, AZC_OP_MUL, azc_ir_norm(g, AZC_OP_RMS_NORM, x, hp->norm_eps), attn_norm);
    azc_ir_node_t *q = azc_ir_set_name(g, azc_ir_matmul(g, n, wq), "blk.%d.q", l);
    azc_ir_node_t *k = azc_ir_set_name(g, azc_ir_matmul(g, n, wk), "blk.%d.k", l);
    azc_ir_node_t *v = azc_ir_set_name(g, azc_ir_matmul(g, n, wv), "blk.%d.v", l);
    if (bq) q = azc_ir_binary(g, AZC_OP_ADD, q, bq);
    if (bk) k = azc_ir_binary(g, AZC_OP_ADD, k, bk);
    if (bv) v = azc_ir_binary(g, AZC_OP_ADD, v, bv);
    q = azc_ir_rope(g, azc_ir_reshape(g, q, 3, q3), pos, freqs, hp->n_rot, AZC_ROPE_NORMAL,
                    hp->rope_freq_base, hp->rope_freq_scale);
    k = azc_ir_rope(g, azc_ir_reshape(g, k, 3, kv3), pos, freqs, hp->n_rot, AZC_ROPE_NORMAL,
                    hp->rope_freq_base, hp->rope_freq_scale);
    v = azc_ir_reshape(g, v, 3, kv3);
    azc_ir_node_t *kc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_K, Hkv, hd), k, pos, seq);
    azc_ir_node_t *vc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_V, Hkv, hd), v, pos, seq);
    azc_ir_node_t *in_s[3] = {q, kc, seq};
    azc_ir_node_t *s = azc_ir_add(g, AZC_OP_ATTN_SCORES, 3, in_s, NULL, NULL);
    s = azc_ir_binary(g, AZC_OP_CAUSAL_MASK, azc_ir_scale(g, s, kq_scale), pos);
    azc_ir_node_t *in_v[3] = {azc_ir_unary(g, AZC_OP_SOFTMAX, s), vc, seq};
    azc_ir_node_t *o = azc_ir_add(g, AZC_OP_ATTN_VALUES, 3, in_v, NULL, NULL);
    o = azc_ir_set_name(g, azc_ir_matmul(g, azc_ir_reshape(g, o, 2, flat), wo), "blk.%d.attn_out", l);
    x = azc_ir_binary(g, AZC_OP_ADD, o, x);

    n = azc_ir_binary(g, AZC_OP_MUL, azc_ir_norm(g, AZC_OP_RMS_NORM, x, hp->norm_eps), ffn_norm);
    azc_ir_node_t *gate = azc_ir_set_name(g, azc_ir_matmul(g, n, wg), "blk.%d.gate", l);
    azc_ir_node_t *up = azc_ir_set_name(g, azc_ir_matmul(g, n, wu), "blk.%d.up", l);
    azc_ir_node_t *h = azc_ir_binary(g, AZC_OP_MUL, azc_ir_unary(g, AZC_OP_SILU, gate), up);
    azc_ir_node_t *d = azc_ir_set_name(g, azc_ir_matmul(g, h, wd), "blk.%d.ffn_out", l);
    x = azc_ir_binary(g, AZC_OP_ADD, d, x);
  }
  g->cur_layer = -1;
  if (missing.count)
    return AZC_ERR(AZC_NOT_FOUND, "%d tensor%s missing: %s", missing.count,
                   missing.count == 1 ? " is" : "s are", missing.buf);
  x = azc_ir_get_rows(g, x, out_rows);
  x = azc_ir_binary(g, AZC_OP_MUL, azc_ir_norm(g, AZC_OP_RMS_NORM, x, hp->norm_eps), out_norm);
  azc_ir_output(g, azc_ir_set_name(g, azc_ir_matmul(g, x, out_w), "logits"));
  return NULL;
}

const azc_arch_t azc_arch_llama = {"llama", read_hparams, lower};
