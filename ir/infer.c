/* Shape and dtype inference: the one place that knows what each op produces.
 * The builder calls it to fill in a new node; the verifier calls it again on
 * every node and compares, so a pass that rewires a graph wrongly is caught
 * right after it runs. Messages name the op, the node and the shapes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

static void shape_str(const azc_ir_node_t *n, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "%s[", azc_dtype_name(n->dtype));
  for (int i = 0; i < n->rank && k < cap; i++) {
    char d[48];
    azc_dim_format(n->shape[i], d, sizeof(d));
    k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", d);
  }
  if (k < cap) snprintf(buf + k, cap - k, "]");
}

#define FAIL(...) return fail(n, __VA_ARGS__)
static azc_status_t fail(const azc_ir_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static azc_status_t fail(const azc_ir_node_t *n, const char *fmt, ...) {
  char msg[512], ins[512] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  size_t k = 0;
  for (int i = 0; i < n->n_inputs && k < sizeof(ins); i++) {
    char s[160];
    shape_str(n->inputs[i], s, sizeof(s));
    k +=
        (size_t)snprintf(ins + k, sizeof(ins) - k, "%s%%%d %s", i ? ", " : "", n->inputs[i]->id, s);
  }
  const azc_op_info_t *info = azc_op_info(n->op);
  char op[32];
  if (info)
    snprintf(op, sizeof(op), "%s", info->name);
  else
    snprintf(op, sizeof(op), "#%d", (int)n->op);
  return AZC_ERR(AZC_INTERNAL, "op %s %%%d%s%s%s (inputs %s): %s", op, n->id, n->name ? " (" : "",
                 n->name ? n->name : "", n->name ? ")" : "", ins, msg);
}

static bool is_float_act(const azc_ir_node_t *x) { return x->dtype == AZC_DTYPE_F32; }
static bool is_i32_vec(const azc_ir_node_t *x) { return x->dtype == AZC_DTYPE_I32 && x->rank == 1; }

static void copy_shape(const azc_ir_node_t *x, int32_t *rank, azc_dim_t *shape) {
  *rank = x->rank;
  memcpy(shape, x->shape, sizeof(azc_dim_t) * (size_t)x->rank);
}

/* Splits a shape into its constant product and the list of symbolic dims. */
static int64_t const_product(const azc_dim_t *s, int rank, azc_dim_t *sym, int *n_sym) {
  int64_t p = 1;
  *n_sym = 0;
  for (int i = 0; i < rank; i++) {
    if (azc_dim_is_const(s[i]))
      p *= s[i].c;
    else
      sym[(*n_sym)++] = s[i];
  }
  return p;
}

static azc_status_t infer_matmul_fused(const azc_ir_node_t *n, int32_t *rank, azc_dim_t *shape) {
  const int64_t *ia = n->iattr;
  if (ia[AZC_MF_NSEG] < 1 || ia[AZC_MF_NSEG] > 4) FAIL("n_seg must be 1..4");
  if (ia[AZC_MF_PROLOGUE] < 0 || ia[AZC_MF_PROLOGUE] >= AZC_PRO_COUNT)
    FAIL("unknown prologue %lld", (long long)ia[AZC_MF_PROLOGUE]);
  if (ia[AZC_MF_EPILOGUE] < 0 || ia[AZC_MF_EPILOGUE] >= AZC_EPI_COUNT)
    FAIL("unknown epilogue %lld", (long long)ia[AZC_MF_EPILOGUE]);
  azc_mf_layout_t l = azc_mf_layout_of(n);
  if (n->n_inputs != l.n_inputs) FAIL("%d inputs, the attributes need %d", n->n_inputs, l.n_inputs);
  const azc_ir_node_t *x = n->inputs[l.x];
  if (!is_float_act(x) || x->rank != 2 || !azc_dim_is_const(x->shape[1]))
    FAIL("x must be f32 (M, K)");
  int64_t K = x->shape[1].c, N = 0;
  if (l.norm_w >= 0) {
    if (!(n->fattr[AZC_MF_EPS] > 0)) FAIL("eps must be > 0");
    for (int i = l.norm_w; i <= (l.norm_b >= 0 ? l.norm_b : l.norm_w); i++) {
      const azc_ir_node_t *w = n->inputs[i];
      if (w->dtype != AZC_DTYPE_F32 || w->rank != 1 || w->shape[0].c != K)
        FAIL("norm weight/bias must be f32 (K)");
    }
  }
  for (int s = 0; s < l.n_seg; s++) {
    const azc_ir_node_t *w = n->inputs[l.w + s];
    const azc_dtype_info_t *ti = azc_dtype_info(w->dtype);
    if (w->rank != 2 || !azc_dim_is_const(w->shape[0]) || w->shape[1].c != K || !ti ||
        !ti->can_dequantize || w->op != AZC_OP_WEIGHT)
      FAIL("segment %d must be a readable (N, K) weight", s);
    if (l.bias >= 0) {
      const azc_ir_node_t *b = n->inputs[l.bias + s];
      if (b->dtype != AZC_DTYPE_F32 || b->rank != 1 || b->shape[0].c != w->shape[0].c)
        FAIL("bias %d must be f32 (N_%d)", s, s);
    }
    N += w->shape[0].c;
  }
  *rank = 2;
  shape[0] = x->shape[0];
  shape[1] = azc_dim_const(N);
  switch (ia[AZC_MF_EPILOGUE]) {
  case AZC_EPI_RESIDUAL: {
    const azc_ir_node_t *r = n->inputs[l.residual];
    if (!is_float_act(r) || r->rank != 2 || !azc_dim_eq(r->shape[0], x->shape[0]) ||
        !azc_dim_eq(r->shape[1], shape[1]))
      FAIL("residual must be f32 (M, N)");
    break;
  }
  case AZC_EPI_SWIGLU:
  case AZC_EPI_GEGLU: /* gate and up: two segments of one width, or the halves of one */
    if (l.n_seg > 2 || (l.n_seg == 2 && n->inputs[l.w]->shape[0].c != n->inputs[l.w + 1]->shape[0].c) ||
        N % 2)
      FAIL("%s needs two segments of equal width or one of an even width",
           azc_epilogue_name((int)ia[AZC_MF_EPILOGUE]));
    shape[1] = azc_dim_const(N / 2);
    break;
  case AZC_EPI_ROPE_KV: {
    const azc_ir_node_t *pos = n->inputs[l.pos], *seq = n->inputs[l.seq];
    const azc_ir_node_t *kc = n->inputs[l.k_cache], *vc = n->inputs[l.v_cache];
    int64_t H = ia[AZC_MF_NHEAD], Hkv = ia[AZC_MF_NHEAD_KV], n_rot = ia[AZC_MF_NROT];
    if (kc->op != AZC_OP_KV_CACHE || vc->op != AZC_OP_KV_CACHE || kc->iattr[1] != AZC_KV_K ||
        vc->iattr[1] != AZC_KV_V || kc->iattr[0] != vc->iattr[0])
      FAIL("needs the K and V caches of one layer");
    int64_t hd = kc->shape[1].c;
    if (H <= 0 || Hkv <= 0 || H % Hkv || kc->shape[0].c != Hkv || (H + 2 * Hkv) * hd != N)
      FAIL("columns %lld do not split into %lld q and 2 x %lld kv heads of %lld", (long long)N,
           (long long)H, (long long)Hkv, (long long)hd);
    if (n_rot < 0 || n_rot % 2 || n_rot > hd) FAIL("bad n_rot %lld", (long long)n_rot);
    if (n_rot && (ia[AZC_MF_ROPE_MODE] != AZC_ROPE_NORMAL && ia[AZC_MF_ROPE_MODE] != AZC_ROPE_NEOX))
      FAIL("unknown rope mode");
    if (n_rot && (!(n->fattr[AZC_MF_FREQ_BASE] > 0) || !(n->fattr[AZC_MF_FREQ_SCALE] > 0)))
      FAIL("freq_base and freq_scale must be > 0");
    if (!is_i32_vec(pos) || !is_i32_vec(seq) || !azc_dim_eq(pos->shape[0], x->shape[0]) ||
        !azc_dim_eq(seq->shape[0], x->shape[0]))
      FAIL("positions and sequence ids must be i32 (M)");
    if (l.factors >= 0) {
      const azc_ir_node_t *f = n->inputs[l.factors];
      if (f->dtype != AZC_DTYPE_F32 || f->rank != 1 || f->shape[0].c != n_rot / 2)
        FAIL("frequency factors must be f32 (n_rot/2)");
    }
    if (!(n->fattr[AZC_MF_ATTN_FACTOR] >= 0)) FAIL("attn_factor must be >= 0");
    if (ia[AZC_MF_QK_NORM] != 0 && ia[AZC_MF_QK_NORM] != 1) FAIL("qk_norm must be 0 or 1");
    if (ia[AZC_MF_QK_NORM]) {
      if (!(n->fattr[AZC_MF_QK_EPS] > 0)) FAIL("qk_eps must be > 0");
      for (int i = l.q_norm; i <= l.k_norm; i++) {
        const azc_ir_node_t *w = n->inputs[i];
        if (w->dtype != AZC_DTYPE_F32 || w->rank != 1 || w->shape[0].c != hd)
          FAIL("q/k norm weights must be f32 (head_dim %lld)", (long long)hd);
      }
    }
    shape[1] = azc_dim_const(H * hd);
    break;
  }
  case AZC_EPI_NONE:
  case AZC_EPI_GELU: break; /* (M, N) */
  default: FAIL("unknown epilogue %lld", (long long)ia[AZC_MF_EPILOGUE]);
  }
  return NULL;
}

azc_status_t azc_ir_infer(const azc_ir_node_t *n, int32_t *rank, azc_dim_t *shape,
                          azc_dtype_t *dtype) {
  const azc_ir_node_t *a = n->n_inputs > 0 ? n->inputs[0] : NULL;
  const azc_ir_node_t *b = n->n_inputs > 1 ? n->inputs[1] : NULL;
  *dtype = AZC_DTYPE_F32;
  switch (n->op) {
  case AZC_OP_INPUT:
  case AZC_OP_WEIGHT:
  case AZC_OP_KV_CACHE:
    copy_shape(n, rank, shape);
    *dtype = n->dtype;
    return NULL;

  case AZC_OP_GET_ROWS:
    if (a->rank != 2 || !azc_dtype_info(a->dtype) || !azc_dtype_info(a->dtype)->can_dequantize)
      FAIL("table must be a 2-D tensor of a readable type");
    if (!is_i32_vec(b)) FAIL("indices must be an i32 vector");
    *rank = 2;
    shape[0] = b->shape[0];
    shape[1] = a->shape[1];
    return NULL;

  case AZC_OP_ADD:
  case AZC_OP_MUL: {
    if (!is_float_act(a) || (b->dtype != AZC_DTYPE_F32)) FAIL("operands must be f32");
    bool same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank; i++) same = azc_dim_eq(a->shape[i], b->shape[i]);
    bool row = b->rank == 1 && azc_dim_eq(b->shape[0], a->shape[a->rank - 1]);
    if (!same && !row) FAIL("shapes differ and the second is not a row of the first");
    copy_shape(a, rank, shape);
    return NULL;
  }

  case AZC_OP_SOFTCAP:
    if (!(n->fattr[0] > 0)) FAIL("cap must be > 0");
    /* fall through */
  case AZC_OP_SCALE:
  case AZC_OP_SILU:
  case AZC_OP_GELU:
  case AZC_OP_SOFTMAX:
    if (!is_float_act(a)) FAIL("operand must be f32");
    copy_shape(a, rank, shape);
    return NULL;

  case AZC_OP_RMS_NORM:
  case AZC_OP_LAYER_NORM:
    if (!is_float_act(a) || a->rank < 1) FAIL("operand must be f32");
    if (!(n->fattr[0] > 0)) FAIL("eps must be > 0");
    copy_shape(a, rank, shape);
    return NULL;

  case AZC_OP_MATMUL:
    if (!is_float_act(a) || a->rank != 2) FAIL("x must be f32 (M, K)");
    if (b->rank != 2 || !azc_dim_is_const(b->shape[0]) || !azc_dim_is_const(b->shape[1]))
      FAIL("w must be a constant (N, K) tensor");
    if (!azc_dtype_info(b->dtype) || !azc_dtype_info(b->dtype)->can_dequantize)
      FAIL("w has unreadable type %s", azc_dtype_name(b->dtype));
    if (!azc_dim_eq(a->shape[1], b->shape[1])) FAIL("K differs");
    *rank = 2;
    shape[0] = a->shape[0];
    shape[1] = b->shape[0];
    return NULL;

  case AZC_OP_RESHAPE: {
    if (!is_float_act(a)) FAIL("operand must be f32");
    azc_dim_t sa[AZC_IR_MAX_RANK], sb[AZC_IR_MAX_RANK];
    int na, nb;
    int64_t pa = const_product(a->shape, a->rank, sa, &na);
    int64_t pb = const_product(n->shape, n->rank, sb, &nb);
    bool ok = pa == pb && na == nb;
    for (int i = 0; ok && i < na; i++) ok = azc_dim_eq(sa[i], sb[i]);
    if (!ok) FAIL("element counts differ");
    copy_shape(n, rank, shape);
    return NULL;
  }

  case AZC_OP_SLICE: {
    if (!is_float_act(a) || a->rank != 2 || !azc_dim_is_const(a->shape[1]))
      FAIL("operand must be f32 (M, D) with constant D");
    int64_t start = n->iattr[0], len = n->iattr[1];
    if (start < 0 || len <= 0 || start + len > a->shape[1].c)
      FAIL("columns [%lld, %lld) out of range", (long long)start, (long long)(start + len));
    *rank = 2;
    shape[0] = a->shape[0];
    shape[1] = azc_dim_const(len);
    return NULL;
  }

  case AZC_OP_ROPE: {
    if (!is_float_act(a) || a->rank != 3) FAIL("x must be f32 (T, H, D)");
    if (!is_i32_vec(b) || !azc_dim_eq(b->shape[0], a->shape[0])) FAIL("positions must be i32 (T)");
    int64_t n_rot = n->iattr[0], mode = n->iattr[1];
    if (!azc_dim_is_const(a->shape[2]) || n_rot <= 0 || n_rot % 2 || n_rot > a->shape[2].c)
      FAIL("n_rot %lld must be even and <= head dim", (long long)n_rot);
    if (mode != AZC_ROPE_NORMAL && mode != AZC_ROPE_NEOX)
      FAIL("unknown mode %lld", (long long)mode);
    if (!(n->fattr[0] > 0) || !(n->fattr[1] > 0) || !(n->fattr[2] > 0))
      FAIL("freq_base, freq_scale and attn_factor must be > 0");
    if (n->n_inputs == 3) {
      const azc_ir_node_t *f = n->inputs[2];
      if (f->dtype != AZC_DTYPE_F32 || f->rank != 1 || f->shape[0].c != n_rot / 2)
        FAIL("frequency factors must be f32 (n_rot/2)");
    }
    copy_shape(a, rank, shape);
    return NULL;
  }

  case AZC_OP_KV_WRITE: {
    const azc_ir_node_t *x = n->inputs[1], *pos = n->inputs[2], *seq = n->inputs[3];
    if (a->op != AZC_OP_KV_CACHE) FAIL("first input must be a kv_cache");
    if (!is_float_act(x) || x->rank != 3 || !azc_dim_eq(x->shape[1], a->shape[0]) ||
        !azc_dim_eq(x->shape[2], a->shape[1]))
      FAIL("rows must be f32 (T, n_head_kv, head_dim) matching the cache");
    if (!is_i32_vec(pos) || !is_i32_vec(seq) || !azc_dim_eq(pos->shape[0], x->shape[0]) ||
        !azc_dim_eq(seq->shape[0], x->shape[0]))
      FAIL("positions and sequence ids must be i32 (T)");
    *rank = 3;
    shape[0] = azc_dim_add(azc_dim_sym(AZC_SYM_P), azc_dim_sym(AZC_SYM_T));
    shape[1] = a->shape[0];
    shape[2] = a->shape[1];
    return NULL;
  }

  case AZC_OP_ATTN_SCORES:
  case AZC_OP_ATTN_VALUES: {
    const azc_ir_node_t *seq = n->inputs[2];
    if (b->op != AZC_OP_KV_WRITE) FAIL("second input must be a kv_write");
    if (!is_i32_vec(seq)) FAIL("sequence ids must be i32 (T)");
    if (!is_float_act(a) || a->rank != 3) FAIL("first input must be f32 rank 3");
    int64_t hkv = b->shape[1].c, d = b->shape[2].c;
    int64_t h = a->shape[1].c;
    if (!azc_dim_is_const(a->shape[1]) || h % hkv)
      FAIL("heads %lld not a multiple of kv heads %lld", (long long)h, (long long)hkv);
    *rank = 3;
    shape[0] = a->shape[0];
    shape[1] = a->shape[1];
    if (n->op == AZC_OP_ATTN_SCORES) {
      if (!azc_dim_eq(a->shape[2], b->shape[2])) FAIL("q head dim differs from k");
      shape[2] = b->shape[0];
    } else {
      if (!azc_dim_eq(a->shape[2], b->shape[0])) FAIL("probabilities length differs from v");
      shape[2] = azc_dim_const(d);
    }
    if (!azc_dim_eq(seq->shape[0], a->shape[0])) FAIL("sequence ids length differs");
    return NULL;
  }

  case AZC_OP_CAUSAL_MASK:
    if (!is_float_act(a) || a->rank != 3) FAIL("scores must be f32 (T, H, L)");
    if (!is_i32_vec(b) || !azc_dim_eq(b->shape[0], a->shape[0])) FAIL("positions must be i32 (T)");
    if (n->iattr[0] < 0) FAIL("window %lld < 0", (long long)n->iattr[0]);
    copy_shape(a, rank, shape);
    return NULL;

  case AZC_OP_OUTPUT:
    if (!is_float_act(a)) FAIL("output must be f32");
    copy_shape(a, rank, shape);
    return NULL;

  case AZC_OP_MATMUL_FUSED: return infer_matmul_fused(n, rank, shape);

  case AZC_OP_FLASH_ATTN: {
    const azc_ir_node_t *k = n->inputs[1], *v = n->inputs[2], *pos = n->inputs[3],
                        *seq = n->inputs[4];
    if (!is_float_act(a) || a->rank != 3 || !azc_dim_is_const(a->shape[1]) ||
        !azc_dim_is_const(a->shape[2]))
      FAIL("q must be f32 (T, H, D)");
    const azc_ir_node_t *kc = k->op == AZC_OP_KV_WRITE ? k->inputs[0] : k;
    const azc_ir_node_t *vc = v->op == AZC_OP_KV_WRITE ? v->inputs[0] : v;
    if (kc->op != AZC_OP_KV_CACHE || vc->op != AZC_OP_KV_CACHE || kc->iattr[1] != AZC_KV_K ||
        vc->iattr[1] != AZC_KV_V || kc->iattr[0] != vc->iattr[0])
      FAIL("k and v must be the K and V caches (or their writes) of one layer");
    if (kc->shape[1].c != a->shape[2].c || a->shape[1].c % kc->shape[0].c)
      FAIL("q heads/dims do not match the cache");
    if (!is_i32_vec(pos) || !is_i32_vec(seq) || !azc_dim_eq(pos->shape[0], a->shape[0]) ||
        !azc_dim_eq(seq->shape[0], a->shape[0]))
      FAIL("positions and sequence ids must be i32 (T)");
    if (!(n->fattr[0] > 0)) FAIL("scale must be > 0");
    if (n->iattr[0] < 0 || !(n->fattr[1] >= 0)) FAIL("window and softcap must be >= 0");
    copy_shape(a, rank, shape);
    return NULL;
  }

  case AZC_OP_COUNT: break;
  }
  FAIL("unknown op");
}
