/* Kernel specs from fused-graph nodes (see spec.h). */
#include "codegen/spec.h"

#include <stdio.h>
#include <string.h>

bool azc_kernel_node_needs_kernel(const azc_ir_node_t *n) {
  switch (n->op) {
  case AZC_OP_INPUT:
  case AZC_OP_WEIGHT:
  case AZC_OP_KV_CACHE:
  case AZC_OP_RESHAPE:
  case AZC_OP_OUTPUT: return false;
  default: return true;
  }
}

static int64_t row_width(const azc_ir_node_t *n) {
  int64_t w = 1;
  for (int i = 1; i < n->rank; i++) w *= n->shape[i].c;
  return w;
}

static void mm_from_fused(const azc_ir_node_t *n, azk_mm_params_t *p) {
  azc_mf_layout_t l = azc_mf_layout_of(n);
  const int64_t *ia = n->iattr;
  p->K = (int32_t)n->inputs[l.x]->shape[1].c;
  p->n_seg = l.n_seg;
  p->prologue = (int32_t)ia[AZC_MF_PROLOGUE];
  p->epilogue = (int32_t)ia[AZC_MF_EPILOGUE];
  p->bias = ia[AZC_MF_BIAS] ? 1 : 0;
  for (int s = 0; s < 4; s++) p->in_w[s] = p->in_bias[s] = -1;
  p->in_x = l.x;
  p->in_norm_w = l.norm_w;
  p->in_norm_b = l.norm_b;
  p->in_residual = l.residual;
  p->in_factors = l.factors;
  p->in_q_norm = l.q_norm;
  p->in_k_norm = l.k_norm;
  for (int s = 0; s < l.n_seg; s++) {
    const azc_ir_node_t *w = n->inputs[l.w + s];
    p->N[s] = (int32_t)w->shape[0].c;
    p->wtype[s] = (int32_t)w->dtype;
    p->wlayout[s] = w->layout;
    p->in_w[s] = l.w + s;
    if (l.bias >= 0) p->in_bias[s] = l.bias + s;
  }
  if (p->prologue) p->eps = n->fattr[AZC_MF_EPS];
  if (p->epilogue == AZC_EPI_ROPE_KV) {
    p->n_head = (int32_t)ia[AZC_MF_NHEAD];
    p->n_head_kv = (int32_t)ia[AZC_MF_NHEAD_KV];
    p->head_dim = (int32_t)n->inputs[l.k_cache]->shape[1].c;
    p->n_rot = (int32_t)ia[AZC_MF_NROT];
    if (p->n_rot) {
      p->rope_mode = (int32_t)ia[AZC_MF_ROPE_MODE];
      p->freq_base = n->fattr[AZC_MF_FREQ_BASE];
      p->freq_scale = n->fattr[AZC_MF_FREQ_SCALE];
      p->attn_factor = n->fattr[AZC_MF_ATTN_FACTOR] > 0 ? n->fattr[AZC_MF_ATTN_FACTOR] : 1.0f;
    }
    if (ia[AZC_MF_QK_NORM]) {
      p->qk_norm = 1;
      p->qk_eps = n->fattr[AZC_MF_QK_EPS];
    }
  }
}

azc_status_t azc_kernel_spec_from_node(const azc_ir_node_t *n, azc_kernel_spec_t *s) {
  memset(s, 0, sizeof(*s));
  switch (n->op) {
  case AZC_OP_MATMUL_FUSED:
    s->kind = AZK_KIND_MATMUL;
    mm_from_fused(n, &s->p.mm);
    return NULL;
  case AZC_OP_MATMUL: {
    azk_mm_params_t *p = &s->p.mm;
    s->kind = AZK_KIND_MATMUL;
    p->K = (int32_t)n->inputs[1]->shape[1].c;
    p->n_seg = 1;
    p->prologue = AZC_PRO_NONE;
    p->epilogue = AZC_EPI_NONE;
    p->N[0] = (int32_t)n->inputs[1]->shape[0].c;
    p->wtype[0] = (int32_t)n->inputs[1]->dtype;
    p->wlayout[0] = n->inputs[1]->layout;
    p->in_x = 0;
    p->in_w[0] = 1;
    p->in_norm_w = p->in_norm_b = p->in_residual = p->in_factors = -1;
    p->in_q_norm = p->in_k_norm = -1;
    for (int k = 1; k < 4; k++) p->in_w[k] = -1;
    for (int k = 0; k < 4; k++) p->in_bias[k] = -1;
    return NULL;
  }
  case AZC_OP_FLASH_ATTN: {
    const azc_ir_node_t *q = n->inputs[0], *k = n->inputs[1];
    const azc_ir_node_t *kc = k->op == AZC_OP_KV_WRITE ? k->inputs[0] : k;
    s->kind = AZK_KIND_FLASH_ATTN;
    s->p.fa.n_head = (int32_t)q->shape[1].c;
    s->p.fa.n_head_kv = (int32_t)kc->shape[0].c;
    s->p.fa.head_dim = (int32_t)q->shape[2].c;
    s->p.fa.in_q = 0;
    s->p.fa.scale = n->fattr[0];
    s->p.fa.window = (int32_t)n->iattr[0];
    s->p.fa.softcap = n->fattr[1];
    return NULL;
  }
  case AZC_OP_GET_ROWS:
    s->kind = AZK_KIND_GET_ROWS;
    s->p.get_rows.D = (int32_t)n->inputs[0]->shape[1].c;
    s->p.get_rows.table_type = (int32_t)n->inputs[0]->dtype;
    return NULL;
  case AZC_OP_ADD:
  case AZC_OP_MUL:
    s->kind = AZK_KIND_ELEMENTWISE;
    s->p.ew.op = n->op == AZC_OP_ADD ? AZK_EW_ADD : AZK_EW_MUL;
    if (!azc_dim_is_const(n->shape[n->rank - 1])) break; /* only scores have a symbolic width */
    s->p.ew.D = (int32_t)row_width(n);
    s->p.ew.rows_per_m = 1;
    s->p.ew.broadcast = n->inputs[1]->rank == 1 && n->rank > 1;
    /* a row shorter than the row of a: per head of (T, H, hd) */
    s->p.ew.b_len = s->p.ew.broadcast ? (int32_t)n->inputs[1]->shape[0].c : s->p.ew.D;
    return NULL;
  case AZC_OP_SCALE:
  case AZC_OP_SILU:
  case AZC_OP_GELU:
  case AZC_OP_SOFTCAP:
    s->kind = AZK_KIND_ELEMENTWISE;
    s->p.ew.op = n->op == AZC_OP_SCALE     ? AZK_EW_SCALE
                 : n->op == AZC_OP_SILU    ? AZK_EW_SILU
                 : n->op == AZC_OP_SOFTCAP ? AZK_EW_SOFTCAP
                                           : AZK_EW_GELU;
    if (n->op == AZC_OP_SCALE || n->op == AZC_OP_SOFTCAP) s->p.ew.scale = n->fattr[0];
    if (azc_dim_is_const(n->shape[n->rank - 1])) {
      s->p.ew.D = (int32_t)row_width(n);
      s->p.ew.rows_per_m = 1;
    } else { /* unfused attention scores (T, H, L): rows of the key length L */
      int64_t mid = 1;
      for (int i = 1; i + 1 < n->rank; i++) {
        if (!azc_dim_is_const(n->shape[i])) mid = 0;
        mid *= n->shape[i].c;
      }
      if (mid <= 0) break;
      s->p.ew.D = 0;
      s->p.ew.rows_per_m = (int32_t)mid;
    }
    s->p.ew.b_len = s->p.ew.D;
    return NULL;
  case AZC_OP_RMS_NORM:
  case AZC_OP_LAYER_NORM:
    s->kind = AZK_KIND_NORM;
    s->p.norm.D = (int32_t)n->shape[n->rank - 1].c;
    s->p.norm.layer_norm = n->op == AZC_OP_LAYER_NORM;
    s->p.norm.eps = n->fattr[0];
    s->p.norm.rows_per_m = (int32_t)(row_width(n) / s->p.norm.D); /* heads of (T, H, hd) */
    return NULL;
  case AZC_OP_SLICE:
    s->kind = AZK_KIND_SLICE;
    s->p.slice.in_width = (int32_t)n->inputs[0]->shape[1].c;
    s->p.slice.start = (int32_t)n->iattr[0];
    s->p.slice.len = (int32_t)n->iattr[1];
    return NULL;
  case AZC_OP_ROPE:
    s->kind = AZK_KIND_ROPE;
    s->p.rope.n_head = (int32_t)n->shape[1].c;
    s->p.rope.head_dim = (int32_t)n->shape[2].c;
    s->p.rope.n_rot = (int32_t)n->iattr[0];
    s->p.rope.mode = (int32_t)n->iattr[1];
    s->p.rope.has_factors = n->n_inputs == 3;
    s->p.rope.freq_base = n->fattr[0];
    s->p.rope.freq_scale = n->fattr[1];
    s->p.rope.attn_factor = n->fattr[2];
    return NULL;
  case AZC_OP_KV_WRITE:
    s->kind = AZK_KIND_KV_WRITE;
    s->p.kv_write.width = (int32_t)(n->inputs[0]->shape[0].c * n->inputs[0]->shape[1].c);
    s->p.kv_write.kind = (int32_t)n->inputs[0]->iattr[1];
    return NULL;
  case AZC_OP_ATTN_SCORES:
  case AZC_OP_ATTN_VALUES: {
    const azc_ir_node_t *cache = n->inputs[1]->inputs[0];
    s->kind = n->op == AZC_OP_ATTN_SCORES ? AZK_KIND_ATTN_SCORES : AZK_KIND_ATTN_VALUES;
    s->p.attn.n_head = (int32_t)n->shape[1].c;
    s->p.attn.n_head_kv = (int32_t)cache->shape[0].c;
    s->p.attn.head_dim = (int32_t)cache->shape[1].c;
    return NULL;
  }
  case AZC_OP_CAUSAL_MASK:
    s->kind = AZK_KIND_CAUSAL_MASK;
    s->p.attn.n_head = (int32_t)n->shape[1].c;
    s->p.attn.window = (int32_t)n->iattr[0];
    return NULL;
  case AZC_OP_SOFTMAX: {
    s->kind = AZK_KIND_SOFTMAX;
    azc_dim_t last = n->shape[n->rank - 1];
    s->p.softmax.W = azc_dim_is_const(last) ? (int32_t)last.c : 0;
    int64_t mid = 1;
    for (int i = 1; i + 1 < n->rank; i++) mid *= n->shape[i].c;
    s->p.softmax.rows_per_m = (int32_t)mid;
    return NULL;
  }
  default: break;
  }
  return AZC_ERR(AZC_UNSUPPORTED, "no kernel for op %s (node %%%d)", azc_op_info(n->op)->name,
                 n->id);
}

size_t azc_kernel_params_size(uint32_t kind) {
  switch (kind) {
  case AZK_KIND_MATMUL: return sizeof(azk_mm_params_t);
  case AZK_KIND_FLASH_ATTN: return sizeof(azk_fa_params_t);
  case AZK_KIND_GET_ROWS: return sizeof(azk_get_rows_params_t);
  case AZK_KIND_ELEMENTWISE: return sizeof(azk_ew_params_t);
  case AZK_KIND_NORM: return sizeof(azk_norm_params_t);
  case AZK_KIND_SLICE: return sizeof(azk_slice_params_t);
  case AZK_KIND_ROPE: return sizeof(azk_rope_params_t);
  case AZK_KIND_KV_WRITE: return sizeof(azk_kv_write_params_t);
  case AZK_KIND_ATTN_SCORES:
  case AZK_KIND_ATTN_VALUES:
  case AZK_KIND_CAUSAL_MASK: return sizeof(azk_attn_params_t);
  case AZK_KIND_SOFTMAX: return sizeof(azk_softmax_params_t);
  default: return 0;
  }
}

size_t azc_kernel_spec_bytes(const azc_kernel_spec_t *s, uint8_t *buf) {
  size_t n = 0, psize = azc_kernel_params_size(s->kind);
  memcpy(buf, "AZKSPEC2", 8);
  n += 8;
  memcpy(buf + n, &s->kind, 4);
  n += 4;
  memcpy(buf + n, &s->p, psize);
  return n + psize;
}

const char *azc_kernel_spec_entry(const azc_kernel_spec_t *s) {
  switch (s->kind) {
  case AZK_KIND_MATMUL: return "azk_entry_matmul";
  case AZK_KIND_FLASH_ATTN: return "azk_entry_flash_attn";
  case AZK_KIND_GET_ROWS: return "azk_entry_get_rows";
  case AZK_KIND_ELEMENTWISE: return "azk_entry_elementwise";
  case AZK_KIND_NORM: return "azk_entry_norm";
  case AZK_KIND_SLICE: return "azk_entry_slice";
  case AZK_KIND_ROPE: return "azk_entry_rope";
  case AZK_KIND_KV_WRITE: return "azk_entry_kv_write";
  case AZK_KIND_ATTN_SCORES: return "azk_entry_attn_scores";
  case AZK_KIND_CAUSAL_MASK: return "azk_entry_causal_mask";
  case AZK_KIND_SOFTMAX: return "azk_entry_softmax";
  case AZK_KIND_ATTN_VALUES: return "azk_entry_attn_values";
  default: return "?";
  }
}

static const char *lower_name(int type, char *buf) {
  const char *s = azc_dtype_name((uint32_t)type);
  int i = 0;
  for (; s[i] && i < 15; i++) buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  buf[i] = 0;
  return buf;
}

void azc_kernel_spec_describe(const azc_kernel_spec_t *s, char *buf, size_t cap) {
  char t[16];
  size_t k = 0;
  switch (s->kind) {
  case AZK_KIND_MATMUL: {
    const azk_mm_params_t *p = &s->p.mm;
    k += (size_t)snprintf(buf + k, cap - k, "matmul");
    if (p->prologue != AZC_PRO_NONE && k < cap)
      k += (size_t)snprintf(buf + k, cap - k, " %s->", azc_prologue_name(p->prologue));
    if (k < cap) k += (size_t)snprintf(buf + k, cap - k, " K=%d N=", p->K);
    for (int i = 0; i < p->n_seg && k < cap; i++)
      k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "+" : "", p->N[i]);
    for (int i = 0; i < p->n_seg && k < cap; i++)
      k += (size_t)snprintf(buf + k, cap - k, "%s%s%s", i ? "," : " ", lower_name(p->wtype[i], t),
                            azc_layout_suffix(p->wlayout[i]));
    if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "%s", p->bias ? " +bias" : "");
    if (p->epilogue == AZC_EPI_ROPE_KV && p->qk_norm && k < cap)
      snprintf(buf + k, cap - k, " ->q/k rmsnorm->rope/kv");
    else if (p->epilogue == AZC_EPI_RESIDUAL && k < cap)
      snprintf(buf + k, cap - k, " ->+residual");
    else if (p->epilogue != AZC_EPI_NONE && k < cap)
      snprintf(buf + k, cap - k, " ->%s", azc_epilogue_name(p->epilogue));
    return;
  }
  case AZK_KIND_FLASH_ATTN:
    snprintf(buf, cap, "flash_attn heads=%d kv_heads=%d head_dim=%d%s%s", s->p.fa.n_head,
             s->p.fa.n_head_kv, s->p.fa.head_dim, s->p.fa.window ? " window" : "",
             s->p.fa.softcap > 0 ? " softcap" : "");
    return;
  case AZK_KIND_GET_ROWS:
    snprintf(buf, cap, "get_rows D=%d %s", s->p.get_rows.D,
             lower_name(s->p.get_rows.table_type, t));
    return;
  case AZK_KIND_ELEMENTWISE: {
    static const char *ew[] = {"?", "add", "mul", "scale", "silu", "gelu", "softcap"};
    const azk_ew_params_t *p = &s->p.ew;
    if (p->D)
      snprintf(buf, cap, "%s D=%d%s", ew[p->op >= 1 && p->op <= 6 ? p->op : 0], p->D,
               p->broadcast ? " (row broadcast)" : "");
    else
      snprintf(buf, cap, "%s heads=%d x keys", ew[p->op >= 1 && p->op <= 6 ? p->op : 0],
               p->rows_per_m);
    return;
  }
  case AZK_KIND_NORM:
    snprintf(buf, cap, "%s D=%d", s->p.norm.layer_norm ? "layernorm" : "rmsnorm", s->p.norm.D);
    return;
  case AZK_KIND_SLICE:
    snprintf(buf, cap, "slice [%d, +%d) of %d", s->p.slice.start, s->p.slice.len,
             s->p.slice.in_width);
    return;
  case AZK_KIND_ROPE:
    snprintf(buf, cap, "rope heads=%d dim=%d n_rot=%d", s->p.rope.n_head, s->p.rope.head_dim,
             s->p.rope.n_rot);
    return;
  case AZK_KIND_KV_WRITE:
    snprintf(buf, cap, "kv_write %s width=%d", s->p.kv_write.kind ? "v" : "k", s->p.kv_write.width);
    return;
  case AZK_KIND_ATTN_SCORES: snprintf(buf, cap, "attn_scores heads=%d", s->p.attn.n_head); return;
  case AZK_KIND_ATTN_VALUES: snprintf(buf, cap, "attn_values heads=%d", s->p.attn.n_head); return;
  case AZK_KIND_CAUSAL_MASK: snprintf(buf, cap, "causal_mask heads=%d", s->p.attn.n_head); return;
  case AZK_KIND_SOFTMAX: snprintf(buf, cap, "softmax"); return;
  default: snprintf(buf, cap, "kernel kind %u", s->kind);
  }
}

double azc_kernel_spec_work_per_row(const azc_kernel_spec_t *s) {
  switch (s->kind) {
  case AZK_KIND_MATMUL: {
    double n = 0;
    for (int i = 0; i < s->p.mm.n_seg; i++) n += s->p.mm.N[i];
    return 2.0 * n * s->p.mm.K;
  }
  case AZK_KIND_FLASH_ATTN:
    return 4.0 * s->p.fa.n_head * s->p.fa.head_dim * 256; /* per key, ~256 keys */
  /* the other kernels: a small multiple of their row width */
  case AZK_KIND_GET_ROWS: return 64.0 * s->p.get_rows.D;
  case AZK_KIND_ELEMENTWISE: return 64.0 * (s->p.ew.D ? s->p.ew.D : 64.0 * s->p.ew.rows_per_m);
  case AZK_KIND_NORM: return 64.0 * s->p.norm.D;
  case AZK_KIND_SLICE: return 64.0 * s->p.slice.in_width;
  case AZK_KIND_ROPE: return 64.0 * s->p.rope.n_head;
  case AZK_KIND_KV_WRITE: return 64.0 * s->p.kv_write.width;
  case AZK_KIND_SOFTMAX: return 64.0 * (s->p.softmax.W > 0 ? s->p.softmax.W : 64);
  default: return 64.0 * s->p.attn.n_head; /* attention scores, values, mask */
  }
}
