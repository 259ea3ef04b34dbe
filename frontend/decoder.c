/* The parametrised decoder lowering (see decoder.h). One function builds
 * every block; the variant row decides which tensors a block reads and
 * which ops it adds, so the passes see the same op sequences wherever the
 * math is the same (llama's attention and SwiGLU blocks fuse identically
 * in qwen2, qwen3 and phi3). */
#include "frontend/decoder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/model.h"

bool azc_decoder_layer_is_local(const azc_decoder_variant_t *v, int32_t layer) {
  return v->swa_pattern > 0 && layer % v->swa_pattern < v->swa_pattern - 1;
}

void azc_decoder_describe(const azc_decoder_variant_t *v, char *buf, size_t cap) {
  static const char *ffn[] = {"SwiGLU", "GeGLU", "GELU MLP"};
  static const char *bias[] = {"optional biases", "q/k/v biases", "biases everywhere"};
  snprintf(buf, cap, "%s RoPE, %s, %s, %s%s%s%s%s%s%s%s",
           v->rope_mode == AZC_ROPE_NEOX ? "NEOX" : "normal",
           v->layer_norm ? "LayerNorm with bias" : "RMSNorm", ffn[v->ffn], bias[v->biases],
           v->fused_qkv ? ", fused QKV" : "", v->fused_gate_up ? ", fused gate|up" : "",
           v->qk_norm ? ", q/k norms" : "", v->sandwich_norms ? ", sandwich norms" : "",
           v->embed_scale ? ", embeddings x sqrt(dim)" : "",
           v->swa_pattern ? ", sliding window on local layers" : "",
           v->softcaps                  ? ", logit soft-caps"
           : v->rope_factors_long_short ? ", LongRoPE factors"
                                        : "");
}

/* "<arch>.<suffix>" */
static const char *akey(const azc_hparams_t *hp, const char *suffix, char *buf, size_t cap) {
  snprintf(buf, cap, "%s.%s", hp->arch, suffix);
  return buf;
}

azc_status_t azc_decoder_read_hparams(const azc_gguf_t *g, const azc_decoder_variant_t *v,
                                      azc_hparams_t *hp) {
  char k[128];
  const char *eps_key =
      v->layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon";
  AZC_RETURN_IF_ERROR(azc_gguf_get_f32(g, akey(hp, eps_key, k, sizeof(k)), &hp->norm_eps));
  if (!(hp->norm_eps > 0) || hp->norm_eps > 1)
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %g", g->name, k, (double)hp->norm_eps);
  int64_t i64;
  AZC_RETURN_IF_ERROR(
      azc_gguf_opt_i64(g, akey(hp, "attention.value_length", k, sizeof(k)), hp->head_dim, &i64));
  if (i64 != hp->head_dim)
    return AZC_ERR(AZC_UNSUPPORTED, "%s: %s: value length %lld differs from key length %d", g->name,
                   hp->arch, (long long)i64, hp->head_dim);
  AZC_RETURN_IF_ERROR(
      azc_gguf_opt_i64(g, akey(hp, "rope.dimension_count", k, sizeof(k)), hp->head_dim, &i64));
  if (i64 <= 0 || i64 > hp->head_dim || i64 % 2)
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %lld (head dim %d)", g->name, k, (long long)i64,
                   hp->head_dim);
  hp->n_rot = (int32_t)i64;
  AZC_RETURN_IF_ERROR(
      azc_gguf_opt_f32(g, akey(hp, "rope.freq_base", k, sizeof(k)), 10000.0f, &hp->rope_freq_base));
  if (!(hp->rope_freq_base > 0))
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %g", g->name, k, (double)hp->rope_freq_base);
  /* scaling: llama.cpp's default type is linear; none ignores the factor;
   * llama3 carries its factors in rope_freqs.weight */
  bool linear = true;
  if (azc_gguf_find(g, akey(hp, "rope.scaling.type", k, sizeof(k)))) {
    azc_strview_t type;
    AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, k, &type));
    if (azc_strview_eq(type, "none") || azc_strview_eq(type, "llama3") ||
        azc_strview_eq(type, "longrope"))
      linear = false;
    else if (!azc_strview_eq(type, "linear"))
      return AZC_ERR(
          AZC_UNSUPPORTED,
          "%s: %s: rope scaling '%.*s' is not supported (none, linear, llama3, longrope)", g->name,
          hp->arch, (int)AZC_MIN(type.size, 32), type.data);
  }
  float factor = 0.0f;
  if (azc_gguf_find(g, akey(hp, "rope.scaling.factor", k, sizeof(k))))
    AZC_RETURN_IF_ERROR(azc_gguf_get_f32(g, k, &factor));
  else
    AZC_RETURN_IF_ERROR(
        azc_gguf_opt_f32(g, akey(hp, "rope.scale_linear", k, sizeof(k)), 0.0f, &factor));
  if (factor < 0 || factor != factor)
    return AZC_ERR(AZC_CORRUPT, "%s: rope scaling factor %g", g->name, (double)factor);
  hp->rope_freq_scale = linear && factor > 0 ? 1.0f / factor : 1.0f;
  AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, akey(hp, "rope.scaling.attn_factor", k, sizeof(k)), 1.0f,
                                       &hp->rope_attn_factor));
  if (!(hp->rope_attn_factor > 0))
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %g", g->name, k, (double)hp->rope_attn_factor);
  AZC_RETURN_IF_ERROR(azc_gguf_opt_i64(
      g, akey(hp, "rope.scaling.original_context_length", k, sizeof(k)), hp->n_ctx_train, &i64));
  if (i64 <= 0 || i64 > (1 << 24))
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %lld", g->name, k, (long long)i64);
  hp->n_ctx_orig = (int32_t)i64;
  hp->rope_freq_base_swa = v->swa_rope_base > 0 ? v->swa_rope_base : hp->rope_freq_base;
  hp->rope_freq_scale_swa = v->swa_rope_base > 0 ? 1.0f : hp->rope_freq_scale;

  hp->n_swa = 0;
  if (v->swa_pattern) {
    akey(hp, "attention.sliding_window", k, sizeof(k));
    if (!v->swa_default || azc_gguf_find(g, k)) {
      AZC_RETURN_IF_ERROR(azc_gguf_get_i64(g, k, &i64));
    } else {
      i64 = v->swa_default;
    }
    if (i64 <= 0 || i64 > (1 << 24))
      return AZC_ERR(AZC_CORRUPT, "%s: %s = %lld", g->name, k, (long long)i64);
    hp->n_swa = (int32_t)i64;
  }
  hp->attn_softcap = hp->final_softcap = 0.0f;
  if (v->softcaps) {
    AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, akey(hp, "attn_logit_softcapping", k, sizeof(k)), 50.0f,
                                         &hp->attn_softcap));
    AZC_RETURN_IF_ERROR(azc_gguf_opt_f32(g, akey(hp, "final_logit_softcapping", k, sizeof(k)),
                                         30.0f, &hp->final_softcap));
    if (!(hp->attn_softcap >= 0) || !(hp->final_softcap >= 0))
      return AZC_ERR(AZC_CORRUPT, "%s: negative logit soft-cap", g->name);
  }
  hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);

  AZC_RETURN_IF_ERROR(azc_gguf_opt_i64(g, akey(hp, "expert_count", k, sizeof(k)), 0, &i64));
  if (i64 > 0)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: %s with %lld experts: mixture-of-experts layers are not supported", g->name,
                   hp->arch, (long long)i64);
  return NULL;
}

/* the per-layer tensors (NULL: absent) */
typedef struct block_w {
  azc_ir_node_t *attn_norm, *attn_norm_b, *wq, *wk, *wv, *wqkv, *bq, *bk, *bv, *bqkv, *wo, *bo;
  azc_ir_node_t *q_norm, *k_norm, *post_attn_norm;
  azc_ir_node_t *ffn_norm, *ffn_norm_b, *wg, *bg, *wu, *bu, *wd, *bd, *post_ffn_norm;
} block_w_t;

#define W(opt, rank, shape, ...)                                                                   \
  azc_model_weight(m, g, missing, (opt), (rank), (shape), __VA_ARGS__)

static void block_weights(const azc_model_t *m, const azc_decoder_variant_t *v, azc_ir_graph_t *g,
                          azc_tensor_list_t *missing, int l, block_w_t *b) {
  const azc_hparams_t *hp = &m->hp;
  const int64_t D = hp->n_embd, hd = hp->head_dim, F = hp->n_ff;
  const int64_t Dq = hp->n_head * hd, Dkv = hp->n_head_kv * hd;
  const int64_t s_d[] = {D}, s_q[] = {Dq, D}, s_kv[] = {Dkv, D}, s_qkv[] = {Dq + 2 * Dkv, D};
  const int64_t s_qb[] = {Dq}, s_kvb[] = {Dkv}, s_qkvb[] = {Dq + 2 * Dkv}, s_o[] = {D, Dq};
  const int64_t s_up[] = {v->fused_gate_up ? 2 * F : F, D}, s_upb[] = {s_up[0]}, s_f[] = {F};
  const int64_t s_down[] = {D, F}, s_hd[] = {hd};
  const bool qkv_b = v->biases != AZC_BIAS_OPTIONAL, all_b = v->biases == AZC_BIAS_ALL;
  memset(b, 0, sizeof(*b));
  b->attn_norm = W(false, 1, s_d, "blk.%d.attn_norm.weight", l);
  b->attn_norm_b = W(!v->layer_norm, 1, s_d, "blk.%d.attn_norm.bias", l);
  if (v->fused_qkv) {
    b->wqkv = W(false, 2, s_qkv, "blk.%d.attn_qkv.weight", l);
    b->bqkv = W(!qkv_b, 1, s_qkvb, "blk.%d.attn_qkv.bias", l);
  } else {
    b->wq = W(false, 2, s_q, "blk.%d.attn_q.weight", l);
    b->wk = W(false, 2, s_kv, "blk.%d.attn_k.weight", l);
    b->wv = W(false, 2, s_kv, "blk.%d.attn_v.weight", l);
    b->bq = W(!qkv_b, 1, s_qb, "blk.%d.attn_q.bias", l);
    b->bk = W(!qkv_b, 1, s_kvb, "blk.%d.attn_k.bias", l);
    b->bv = W(!qkv_b, 1, s_kvb, "blk.%d.attn_v.bias", l);
  }
  b->wo = W(false, 2, s_o, "blk.%d.attn_output.weight", l);
  b->bo = W(!all_b, 1, s_d, "blk.%d.attn_output.bias", l);
  if (v->qk_norm) {
    b->q_norm = W(false, 1, s_hd, "blk.%d.attn_q_norm.weight", l);
    b->k_norm = W(false, 1, s_hd, "blk.%d.attn_k_norm.weight", l);
  }
  if (v->sandwich_norms) {
    b->post_attn_norm = W(false, 1, s_d, "blk.%d.post_attention_norm.weight", l);
    b->post_ffn_norm = W(false, 1, s_d, "blk.%d.post_ffw_norm.weight", l);
  }
  b->ffn_norm = W(false, 1, s_d, "blk.%d.ffn_norm.weight", l);
  b->ffn_norm_b = W(!v->layer_norm, 1, s_d, "blk.%d.ffn_norm.bias", l);
  if (v->ffn != AZC_FFN_GELU && !v->fused_gate_up) {
    b->wg = W(false, 2, s_up, "blk.%d.ffn_gate.weight", l);
    b->bg = W(true, 1, s_f, "blk.%d.ffn_gate.bias", l);
  }
  b->wu = W(false, 2, s_up, "blk.%d.ffn_up.weight", l);
  b->bu = W(!all_b, 1, s_upb, "blk.%d.ffn_up.bias", l);
  b->wd = W(false, 2, s_down, "blk.%d.ffn_down.weight", l);
  b->bd = W(!all_b, 1, s_d, "blk.%d.ffn_down.bias", l);
}

/* norm(x) * w [+ b] */
static azc_ir_node_t *norm(azc_ir_graph_t *g, bool layer, azc_ir_node_t *x, azc_ir_node_t *w,
                           azc_ir_node_t *b, float eps) {
  azc_ir_node_t *n = azc_ir_norm(g, layer ? AZC_OP_LAYER_NORM : AZC_OP_RMS_NORM, x, eps);
  n = azc_ir_binary(g, AZC_OP_MUL, n, w);
  return b ? azc_ir_binary(g, AZC_OP_ADD, n, b) : n;
}

static azc_ir_node_t *bias(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *b) {
  return b ? azc_ir_binary(g, AZC_OP_ADD, x, b) : x;
}

azc_status_t azc_decoder_lower(const azc_model_t *m, const azc_decoder_variant_t *v,
                               azc_ir_graph_t *g) {
  const azc_hparams_t *hp = &m->hp;
  const int64_t D = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim;
  const int64_t F = hp->n_ff, V = hp->n_vocab, Dq = H * hd, Dkv = Hkv * hd;
  azc_tensor_list_t list = {{0}, 0}, *missing = &list;
  azc_ir_node_t *tokens = azc_ir_input(g, AZC_INPUT_TOKENS);
  azc_ir_node_t *pos = azc_ir_input(g, AZC_INPUT_POSITIONS);
  azc_ir_node_t *seq = azc_ir_input(g, AZC_INPUT_SEQ);
  azc_ir_node_t *out_rows = azc_ir_input(g, AZC_INPUT_OUT_ROWS);

  const int64_t s_emb[] = {V, D}, s_d[] = {D}, s_ff[] = {hp->n_rot / 2}, s_v[] = {V};
  azc_ir_node_t *emb = W(false, 2, s_emb, "token_embd.weight");
  azc_ir_node_t *out_norm = W(false, 1, s_d, "output_norm.weight");
  azc_ir_node_t *out_norm_b = W(!v->layer_norm, 1, s_d, "output_norm.bias");
  azc_ir_node_t *out_w = W(true, 2, s_emb, "output.weight");
  azc_ir_node_t *out_b = W(true, 1, s_v, "output.bias");
  /* per-pair frequency factors: Llama 3's rope_freqs, or LongRoPE's short
   * factors (the long ones apply past the original context, which
   * max_ctx below rules out) */
  azc_ir_node_t *freqs = W(true, 1, s_ff, "rope_freqs.weight");
  if (!freqs && v->rope_factors_long_short) {
    freqs = W(true, 1, s_ff, "rope_factors_short.weight");
    if (freqs && azc_gguf_find_tensor(m->gguf, "rope_factors_long.weight") &&
        hp->n_ctx_orig < hp->n_ctx_train) {
      g->max_ctx = hp->n_ctx_orig;
      snprintf(g->max_ctx_reason, sizeof(g->max_ctx_reason),
               "%s: rope_factors_long past %d positions is unsupported", hp->arch,
               hp->n_ctx_orig);
    }
  }
  if (freqs && freqs->dtype != AZC_DTYPE_F32)
    return AZC_ERR(AZC_UNSUPPORTED, "%s: %s must be F32", hp->arch, freqs->name);
  if (!out_w) out_w = emb; /* tied embeddings */
  if (azc_gguf_find_tensor(m->gguf, "blk.0.ffn_gate_inp.weight"))
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: mixture-of-experts tensors (blk.0.ffn_gate_inp.weight) are not supported",
                   hp->arch);

  const azc_dim_t T = azc_dim_sym(AZC_SYM_T);
  const azc_dim_t q3[] = {T, azc_dim_const(H), azc_dim_const(hd)};
  const azc_dim_t kv3[] = {T, azc_dim_const(Hkv), azc_dim_const(hd)};
  const azc_dim_t flat[] = {T, azc_dim_const(Dq)};

  azc_ir_node_t *x = azc_ir_set_name(g, azc_ir_get_rows(g, emb, tokens), "embed");
  if (v->embed_scale) x = azc_ir_scale(g, x, sqrtf((float)D));
  for (int32_t l = 0; l < hp->n_layer; l++) {
    g->cur_layer = l;
    block_w_t b;
    block_weights(m, v, g, missing, l, &b);
    if (missing->count || g->error) continue; /* keep going to list every missing tensor */
    const bool local = azc_decoder_layer_is_local(v, l);
    const float base = local ? hp->rope_freq_base_swa : hp->rope_freq_base;
    const float fscale = local ? hp->rope_freq_scale_swa : hp->rope_freq_scale;

    azc_ir_node_t *n = norm(g, v->layer_norm, x, b.attn_norm, b.attn_norm_b, hp->norm_eps);
    azc_ir_node_t *q, *k, *vv;
    if (b.wqkv) {
      azc_ir_node_t *qkv = bias(g, azc_ir_matmul(g, n, b.wqkv), b.bqkv);
      azc_ir_set_name(g, qkv, "blk.%d.qkv", l);
      q = azc_ir_slice(g, qkv, 0, Dq);
      k = azc_ir_slice(g, qkv, Dq, Dkv);
      vv = azc_ir_slice(g, qkv, Dq + Dkv, Dkv);
    } else {
      q = azc_ir_set_name(g, azc_ir_matmul(g, n, b.wq), "blk.%d.q", l);
      k = azc_ir_set_name(g, azc_ir_matmul(g, n, b.wk), "blk.%d.k", l);
      vv = azc_ir_set_name(g, azc_ir_matmul(g, n, b.wv), "blk.%d.v", l);
      q = bias(g, q, b.bq);
      k = bias(g, k, b.bk);
      vv = bias(g, vv, b.bv);
    }
    q = azc_ir_reshape(g, q, 3, q3);
    k = azc_ir_reshape(g, k, 3, kv3);
    vv = azc_ir_reshape(g, vv, 3, kv3);
    if (b.q_norm) {
      q = norm(g, false, q, b.q_norm, NULL, hp->norm_eps);
      k = norm(g, false, k, b.k_norm, NULL, hp->norm_eps);
    }
    q = azc_ir_rope_ext(g, q, pos, freqs, hp->n_rot, v->rope_mode, base, fscale,
                        hp->rope_attn_factor);
    k = azc_ir_rope_ext(g, k, pos, freqs, hp->n_rot, v->rope_mode, base, fscale,
                        hp->rope_attn_factor);
    azc_ir_node_t *kc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_K, Hkv, hd), k, pos, seq);
    azc_ir_node_t *vc = azc_ir_kv_write(g, azc_ir_kv_cache(g, l, AZC_KV_V, Hkv, hd), vv, pos, seq);
    azc_ir_node_t *in_s[3] = {q, kc, seq};
    azc_ir_node_t *s = azc_ir_add(g, AZC_OP_ATTN_SCORES, 3, in_s, NULL, NULL);
    s = azc_ir_scale(g, s, hp->attn_scale);
    if (hp->attn_softcap > 0) s = azc_ir_softcap(g, s, hp->attn_softcap);
    s = azc_ir_causal_mask(g, s, pos, local ? hp->n_swa : 0);
    azc_ir_node_t *in_v[3] = {azc_ir_unary(g, AZC_OP_SOFTMAX, s), vc, seq};
    azc_ir_node_t *o = azc_ir_add(g, AZC_OP_ATTN_VALUES, 3, in_v, NULL, NULL);
    o = bias(g, azc_ir_matmul(g, azc_ir_reshape(g, o, 2, flat), b.wo), b.bo);
    azc_ir_set_name(g, o, "blk.%d.attn_out", l);
    if (b.post_attn_norm) o = norm(g, false, o, b.post_attn_norm, NULL, hp->norm_eps);
    x = azc_ir_binary(g, AZC_OP_ADD, o, x);

    n = norm(g, v->layer_norm, x, b.ffn_norm, b.ffn_norm_b, hp->norm_eps);
    azc_ir_node_t *h;
    if (v->ffn == AZC_FFN_GELU) {
      azc_ir_node_t *up = bias(g, azc_ir_matmul(g, n, b.wu), b.bu);
      azc_ir_set_name(g, up, "blk.%d.up", l);
      h = azc_ir_unary(g, AZC_OP_GELU, up);
    } else {
      azc_ir_node_t *gate, *up;
      if (v->fused_gate_up) {
        azc_ir_node_t *gu = bias(g, azc_ir_matmul(g, n, b.wu), b.bu);
        azc_ir_set_name(g, gu, "blk.%d.gate_up", l);
        gate = azc_ir_slice(g, gu, 0, F);
        up = azc_ir_slice(g, gu, F, F);
      } else {
        gate = bias(g, azc_ir_set_name(g, azc_ir_matmul(g, n, b.wg), "blk.%d.gate", l), b.bg);
        up = bias(g, azc_ir_set_name(g, azc_ir_matmul(g, n, b.wu), "blk.%d.up", l), b.bu);
      }
      gate = azc_ir_unary(g, v->ffn == AZC_FFN_GEGLU ? AZC_OP_GELU : AZC_OP_SILU, gate);
      h = azc_ir_binary(g, AZC_OP_MUL, gate, up);
    }
    azc_ir_node_t *d = bias(g, azc_ir_matmul(g, h, b.wd), b.bd);
    azc_ir_set_name(g, d, "blk.%d.ffn_out", l);
    if (b.post_ffn_norm) d = norm(g, false, d, b.post_ffn_norm, NULL, hp->norm_eps);
    x = azc_ir_binary(g, AZC_OP_ADD, d, x);
  }
  g->cur_layer = -1;
  if (list.count)
    return AZC_ERR(AZC_NOT_FOUND, "%d tensor%s missing: %s", list.count,
                   list.count == 1 ? " is" : "s are", list.buf);
  x = azc_ir_get_rows(g, x, out_rows);
  x = norm(g, v->layer_norm, x, out_norm, out_norm_b, hp->norm_eps);
  x = azc_ir_set_name(g, bias(g, azc_ir_matmul(g, x, out_w), out_b), "logits");
  if (hp->final_softcap > 0) x = azc_ir_softcap(g, x, hp->final_softcap);
  azc_ir_output(g, x);
  return NULL;
}
