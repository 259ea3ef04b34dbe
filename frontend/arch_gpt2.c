/* GPT-2 (general.architecture = "gpt2") lowered to the IR:
 *
 *   x = embed(tokens) + pos_embed(positions)
 *   per block: n = layernorm(x) * attn_norm.w + attn_norm.b
 *              qkv = w_qkv . n + b_qkv, split into q, k, v (no rope)
 *              x += w_o . attention(q, k, v) + b_o
 *              n = layernorm(x) * ffn_norm.w + ffn_norm.b
 *              x += w_down . gelu(w_up . n + b_up) + b_down
 *   logits = output . (layernorm(x[out_rows]) * output_norm.w + output_norm.b)
 *
 * The output matrix is token_embd when output.weight is absent (tied, as in
 * the original GPT-2). Positions index a learned table, so the context cannot
 * exceed gpt2.context_length. */
#include <math.h>
#include <stdio.h>

#include "frontend/model.h"

static azc_status_t read_hparams(const azc_gguf_t *g, azc_hparams_t *hp) {
  AZC_RETURN_IF_ERROR(azc_gguf_get_f32(g, "gpt2.attention.layer_norm_epsilon", &hp->norm_eps));
  if (!(hp->norm_eps > 0) || hp->norm_eps > 1)
    return AZC_ERR(AZC_CORRUPT, "%s: gpt2.attention.layer_norm_epsilon = %g", g->name,
                   (double)hp->norm_eps);
  if (hp->n_head_kv != hp->n_head)
    return AZC_ERR(AZC_CORRUPT, "%s: gpt2 needs head_count_kv == head_count", g->name);
  hp->n_rot = 0;
  return NULL;
}

/* n * w + b */
static azc_ir_node_t *affine(azc_ir_graph_t *g, azc_ir_node_t *n, azc_ir_node_t *w,
                             azc_ir_node_t *b) {
  return azc_ir_binary(g, AZC_OP_ADD, azc_ir_binary(g, AZC_OP_MUL, n, w), b);
}

static azc_status_t lower(const azc_model_t *m, azc_ir_graph_t *g) {
  const azc_hparams_t *hp = &m->hp;
  const int64_t D = hp->n_embd, H = hp->n_head, hd = hp->head_dim, F = hp->n_ff, V = hp->n_vocab;
  if (H * hd != D) return AZC_ERR(AZC_CORRUPT, "gpt2: heads x head dim != embedding length");
  azc_tensor_list_t missing = {{0}, 0};
  azc_ir_node_t *tokens = azc_ir_input(g, AZC_INPUT_TOKENS);
  azc_ir_node_t *pos = azc_ir_input(g, AZC_INPUT_POSITIONS);
  azc_ir_node_t *seq = azc_ir_input(g, AZC_INPUT_SEQ);
  azc_ir_node_t *out_rows = azc_ir_input(g, AZC_INPUT_OUT_ROWS);

  const int64_t s_emb[] = {V, D}, s_pos[] = {hp->n_ctx_train, D}, s_d[] = {D};
  const int64_t s_qkv[] = {3 * D, D}, s_qkvb[] = {3 * D}, s_o[] = {D, D};
  const int64_t s_up[] = {F, D}, s_upb[] = {F}, s_down[] = {D, F};
  azc_ir_node_t *emb = azc_model_weight(m, g, &missing, false, 2, s_emb, "token_embd.weight");
  azc_ir_node_t *pemb = azc_model_weight(m, g, &missing, false, 2, s_pos, "position_embd.weight");
  azc_ir_node_t *onw = azc_model_weight(m, g, &missing, false, 1, s_d, "output_norm.weight");
  azc_ir_node_t *onb = azc_model_weight(m, g, &missing, false, 1, s_d, "output_norm.bias");
  azc_ir_node_t *out_w = azc_model_weight(m, g, &missing, true, 2, s_emb, "output.weight");
  if (!out_w) out_w = emb;
  g->max_ctx = hp->n_ctx_train;
  snprintf(g->max_ctx_reason, sizeof(g->max_ctx_reason),
           "gpt2 has learned embeddings for %d positions", hp->n_ctx_train);

  const azc_dim_t T = azc_dim_sym(AZC_SYM_T);
  const azc_dim_t h3[] = {T, azc_dim_const(H), azc_dim_const(hd)};
  const azc_dim_t flat[] = {T, azc_dim_const(D)};
  const float kq_scale = 1.0f / sqrtf((float)hd);

  azc_ir_node_t *x =
      azc_ir_binary(g, AZC_OP_ADD, azc_ir_get_rows(g, emb, tokens), azc_ir_get_rows(g, pemb, pos));
  azc_ir_set_name(g, x, "embed");
  for (int32_t l = 0; l < hp->n_layer; l++) {
    g->cur_layer = l;
    azc_ir_node_t *anw =
        azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.attn_norm.weight", l);
    azc_ir_node_t *anb =
        azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.attn_norm.bias", l);
    azc_ir_node_t *wqkv =
        azc_model_weight(m, g, &missing, false, 2, s_qkv, "blk.%d.attn_qkv.weight", l);
    azc_ir_node_t *bqkv =
        azc_model_weight(m, g, &missing, false, 1, s_qkvb, "blk.%d.attn_qkv.bias", l);
    azc_ir_node_t *wo =
        azc_model_weight(m, g, &missing, false, 2, s_o, "blk.%d.attn_output.weight", l);
    azc_ir_node_t *bo =
        azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.attn_output.bias", l);
    azc_ir_node_t *fnw =
        azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.ffn_norm.weight", l);
    azc_ir_node_t *fnb = azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.ffn_norm.bias", l);
    azc_ir_node_t *wu = azc_model_weight(m, g, &missing, false, 2, s_up, "blk.%d.ffn_up.weight", l);
    azc_ir_node_t *bu = azc_model_weight(m, g, &missing, false, 1, s_upb, "blk.%d.ffn_up.bias", l);
    azc_ir_node_t *wd =
        azc_model_weight(m, g, &missing, false, 2, s_down, "blk.%d.ffn_down.weight", l);
    azc_ir_node_t *bd = azc_model_weight(m, g, &missing, false, 1, s_d, "blk.%d.ffn_down.bias", l);
    if (missing.count || g->error) continue;

    azc_ir_node_t *n = affine(g, azc_ir_norm(g, AZC_OP_LAYER_NORM, x, hp->norm_eps), anw, anb);
    azc_ir_node_t *qkv = azc_ir_binary(g, AZC_OP_ADD, azc_ir_matmul(g, n, wqkv), bqkv);
    azc_ir_set_name(g, qkv, "blk.%d.qkv", l);
    azc_ir_node_t *q = azc_ir_reshape(g, azc_ir_slice(g, qkv, 0, D), 3, h3);
    azc_ir_node_t *k = azc_ir_reshape(g, azc_ir_slice(g, qkv, D, D), 3, h3);
    azc_ir_node_t *v = azc_ir_reshape(g, azc_ir_slice(g, qkv, 2 * D, D), 3, h3);
    azc_ir_node_t *kc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_K, H, hd), k, pos, seq);
    azc_ir_node_t *vc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_V, H, hd), v, pos, seq);
    azc_ir_node_t *in_s[3] = {q, kc, seq};
    azc_ir_node_t *s = azc_ir_add(g, AZC_OP_ATTN_SCORES, 3, in_s, NULL, NULL);
    s = azc_ir_binary(g, AZC_OP_CAUSAL_MASK, azc_ir_scale(g, s, kq_scale), pos);
    azc_ir_node_t *in_v[3] = {azc_ir_unary(g, AZC_OP_SOFTMAX, s), vc, seq};
    azc_ir_node_t *o = azc_ir_add(g, AZC_OP_ATTN_VALUES, 3, in_v, NULL, NULL);
    o = azc_ir_binary(g, AZC_OP_ADD, azc_ir_matmul(g, azc_ir_reshape(g, o, 2, flat), wo), bo);
    azc_ir_set_name(g, o, "blk.%d.attn_out", l);
    x = azc_ir_binary(g, AZC_OP_ADD, o, x);

    n = affine(g, azc_ir_norm(g, AZC_OP_LAYER_NORM, x, hp->norm_eps), fnw, fnb);
    azc_ir_node_t *up = azc_ir_binary(g, AZC_OP_ADD, azc_ir_matmul(g, n, wu), bu);
    azc_ir_set_name(g, up, "blk.%d.up", l);
    azc_ir_node_t *d =
        azc_ir_binary(g, AZC_OP_ADD, azc_ir_matmul(g, azc_ir_unary(g, AZC_OP_GELU, up), wd), bd);
    azc_ir_set_name(g, d, "blk.%d.ffn_out", l);
    x = azc_ir_binary(g, AZC_OP_ADD, d, x);
  }
  g->cur_layer = -1;
  if (missing.count)
    return AZC_ERR(AZC_NOT_FOUND, "%d tensor%s missing: %s", missing.count,
                   missing.count == 1 ? " is" : "s are", missing.buf);
  x = azc_ir_get_rows(g, x, out_rows);
  x = affine(g, azc_ir_norm(g, AZC_OP_LAYER_NORM, x, hp->norm_eps), onw, onb);
  azc_ir_output(g, azc_ir_set_name(g, azc_ir_matmul(g, x, out_w), "logits"));
  return NULL;
}

const azc_arch_t azc_arch_gpt2 = {"gpt2", NULL, read_hparams, lower};
