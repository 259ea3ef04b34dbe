/* Eager interpreter (see interp.h). Every node's value is a dense row-major
 * buffer: f32 for activations, i32 for inputs; weights are read in place from
 * the model file in their stored type. Buffers are malloc'd when a node runs
 * and freed after its last use (reshape aliases its input, so a buffer lives
 * until the last use of any alias). Matmul and attention are split across the
 * thread pool; the other ops are cheap and run on the calling thread.
 *
 * Being the reference, it never answers wrongly in silence: a failed
 * allocation (on any thread), an op, prologue or epilogue it does not know
 * come back as a status naming the node. The switches over ops list every op
 * of ir/ops.def (no default), so a new op without an interpreter case is a
 * compile error (-Wswitch). */
#include "ir/interp.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/fastmath.h"
#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"
#include "runtime/kv_cache.h"

typedef struct interp {
  azc_executor_t base;
  const azc_ir_graph_t *g;
  azc_kv_cache_t *kv;
  azc_threadpool_t *pool;
  int32_t *root;     /* node whose buffer this node's value lives in */
  int32_t *last_use; /* last node index reading a root's buffer */
  void **bufs;       /* per node, valid while running */
  int32_t output;    /* id of the output node */
  int64_t syms[AZC_SYM_COUNT];
  const azc_batch_t *batch;
} interp_t;

/* ---- small vector kernels ---- */
static float dot_f32(const float *a, const float *b, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += a[i + k] * b[i + k];
  float s = 0;
  for (; i < n; i++) s += a[i] * b[i];
  for (int k = 0; k < 16; k++) s += acc[k];
  return s;
}

/* ---- matmul ---- */
typedef struct matmul_job {
  const float *x; /* (M, K) */
  const uint8_t *w;
  azc_dtype_t wtype;
  size_t row_bytes;
  float *out; /* (M, N) */
  int64_t M, N, K;
  atomic_int failed; /* a worker could not allocate its row buffer */
} matmul_job_t;

static void matmul_worker(void *p, int ith, int nth) {
  matmul_job_t *j = p;
  long n0, n1;
  azc_split_range((long)j->N, ith, nth, &n0, &n1);
  if (j->M <= 2) {
    for (long n = n0; n < n1; n++)
      for (int64_t m = 0; m < j->M; m++)
        j->out[m * j->N + n] =
            azc_vec_dot_row(j->wtype, j->w + (size_t)n * j->row_bytes, j->x + m * j->K, j->K);
    return;
  }
  float *row = malloc((size_t)j->K * sizeof(float));
  if (!row) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (long n = n0; n < n1; n++) {
    azc_dequantize_row(j->wtype, j->w + (size_t)n * j->row_bytes, row, j->K);
    for (int64_t m = 0; m < j->M; m++) j->out[m * j->N + n] = dot_f32(row, j->x + m * j->K, j->K);
  }
  free(row);
}

/* ---- attention ---- */
typedef struct attn_job {
  interp_t *it;
  const azc_ir_node_t *node;
  const float *in; /* q (T,H,D) or p (T,H,L) */
  float *out;
  int64_t T, H, D, L, Hkv;
  int32_t layer;
  const int32_t *seq;
} attn_job_t;

/* head kvh of a token's K or V row as f32: in place for an f32 cache, else
 * converted into buf (AZC_KV_MAX_HEAD_DIM values) */
static const float *kv_head(const azc_kv_cache_t *kv, int32_t layer, int kind, int32_t seq,
                            int32_t pos, int64_t kvh, int64_t D, float *buf) {
  if (kv->type == AZC_KV_F32)
    return (const float *)(void *)azc_kv_cache_row(kv, layer, kind, seq, pos) + kvh * D;
  azc_kv_cache_read(kv, layer, kind, seq, pos, kvh * D, buf, D);
  return buf;
}

static void attn_worker(void *p, int ith, int nth) {
  const attn_job_t *j = p;
  float kb[AZC_KV_MAX_HEAD_DIM];
  long r0, r1;
  azc_split_range((long)(j->T * j->H), ith, nth, &r0, &r1);
  int64_t group = j->H / j->Hkv;
  for (long r = r0; r < r1; r++) {
    int64_t t = r / j->H, h = r % j->H, kvh = h / group;
    int32_t s = j->seq[t];
    if (j->node->op == AZC_OP_ATTN_SCORES) {
      const float *q = j->in + (t * j->H + h) * j->D;
      float *o = j->out + (t * j->H + h) * j->L;
      for (int64_t l = 0; l < j->L; l++)
        o[l] =
            dot_f32(q, kv_head(j->it->kv, j->layer, AZC_KV_K, s, (int32_t)l, kvh, j->D, kb), j->D);
    } else {
      const float *pr = j->in + (t * j->H + h) * j->L;
      float *o = j->out + (t * j->H + h) * j->D;
      memset(o, 0, (size_t)j->D * sizeof(float));
      for (int64_t l = 0; l < j->L; l++) {
        if (pr[l] == 0.0f) continue;
        const float *v = kv_head(j->it->kv, j->layer, AZC_KV_V, s, (int32_t)l, kvh, j->D, kb);
        for (int64_t d = 0; d < j->D; d++) o[d] += pr[l] * v[d];
      }
    }
  }
}

static int64_t dimv(const interp_t *it, const azc_ir_node_t *n, int i) {
  return azc_dim_eval(n->shape[i], it->syms);
}

/* Rotates the first n_rot dims of each of the n_heads rows of hd values at
 * row (one token at position pos). */
static void rope_token(float *row, int64_t n_heads, int64_t hd, int64_t n_rot, int64_t mode,
                       int32_t pos, float base, float scale, const float *factors,
                       float attn_factor) {
  for (int64_t i = 0; i < n_rot / 2; i++) {
    double freq = pow((double)base, -2.0 * (double)i / (double)n_rot);
    double theta = (double)pos * (double)scale * freq;
    if (factors) theta /= (double)factors[i];
    float c = (float)cos(theta) * attn_factor, s = (float)sin(theta) * attn_factor;
    int64_t a = mode == AZC_ROPE_NEOX ? i : 2 * i;
    int64_t b = mode == AZC_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
    for (int64_t h = 0; h < n_heads; h++) {
      float *r = row + h * hd, x0 = r[a], x1 = r[b];
      r[a] = x0 * c - x1 * s;
      r[b] = x0 * s + x1 * c;
    }
  }
}

static void rope_rows(const azc_ir_node_t *n, const float *x, float *out, const int32_t *pos,
                      const float *factors, int64_t T, int64_t H, int64_t D) {
  memcpy(out, x, (size_t)(T * H * D) * sizeof(float));
  for (int64_t t = 0; t < T; t++)
    rope_token(out + t * H * D, H, D, n->iattr[0], n->iattr[1], pos[t], n->fattr[0], n->fattr[1],
               factors, n->fattr[2]);
}

static void norm_rows(float *y, const float *x, int64_t rows, int64_t D, bool layer, float eps) {
  for (int64_t r = 0; r < rows; r++) azk_norm_row(y + r * D, x + r * D, D, layer, eps, NULL, NULL);
}

/* out (M, ldo) = x (M, K) w^T: columns [0, N) of each row; n is the node
 * the product belongs to (for messages). */
static azc_status_t run_matmul(interp_t *it, const azc_ir_node_t *n, const float *x,
                               const azc_ir_node_t *w, float *out, int64_t M, int64_t ldo) {
  int64_t N = w->shape[0].c, K = w->shape[1].c;
  const char *wname = w->name ? w->name : "";
  float *tmp = ldo == N ? out : malloc((size_t)(M * N) * sizeof(float));
  /* activations in the format llama.cpp multiplies this weight type with */
  float *xr = malloc((size_t)(M * K) * sizeof(float));
  if (!tmp || !xr) {
    if (tmp != out) free(tmp);
    free(xr);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "eager: %%%d %s with %s: %lld x %lld activations", n->id,
                   azc_op_info(n->op)->name, wname, (long long)M, (long long)K);
  }
  for (int64_t m = 0; m < M; m++) azc_round_activations(w->dtype, x + m * K, xr + m * K, K);
  matmul_job_t j = {xr, it->bufs[w->id], w->dtype, azc_dtype_row_size(w->dtype, K), tmp, M, N, K};
  atomic_init(&j.failed, 0);
  /* small products are not worth waking the other threads for */
  if ((double)M * (double)N * (double)K < 262144.0)
    matmul_worker(&j, 0, 1);
  else
    azc_threadpool_run(it->pool, matmul_worker, &j);
  free(xr);
  if (tmp != out) {
    for (int64_t m = 0; m < M; m++) memcpy(out + m * ldo, tmp + m * N, (size_t)N * sizeof(float));
    free(tmp);
  }
  if (atomic_load(&j.failed))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "eager: %%%d %s with %s: a row of %lld values", n->id,
                   azc_op_info(n->op)->name, wname, (long long)K);
  return NULL;
}

/* The matmul_fused epilogue: full (M, N) -> out. */
static azc_status_t run_epilogue(interp_t *it, const azc_ir_node_t *n, const azc_mf_layout_t *lp,
                                 float *full, float *out, int64_t M, int64_t N) {
  const azc_mf_layout_t l = *lp;
  void **bufs = it->bufs;
  const int64_t epi = n->iattr[AZC_MF_EPILOGUE];
  switch (epi) {
  case AZC_EPI_NONE: memcpy(out, full, (size_t)(M * N) * sizeof(float)); return NULL;
  case AZC_EPI_RESIDUAL: {
    const float *r = bufs[n->inputs[l.residual]->id];
    for (int64_t i = 0; i < M * N; i++) out[i] = full[i] + r[i];
    return NULL;
  }
  case AZC_EPI_GELU:
    for (int64_t i = 0; i < M * N; i++) out[i] = azk_gelu(full[i]);
    return NULL;
  case AZC_EPI_SWIGLU:
  case AZC_EPI_GEGLU: { /* gate columns [0, F), up columns [F, 2F): two segments or halves of one */
    int64_t F = N / 2;
    for (int64_t m = 0; m < M; m++)
      for (int64_t j = 0; j < F; j++) {
        float g = full[m * N + j];
        out[m * F + j] = (epi == AZC_EPI_GEGLU ? azk_gelu(g) : azk_silu(g)) * full[m * N + F + j];
      }
    return NULL;
  }
  case AZC_EPI_ROPE_KV: {
    const azc_ir_node_t *kc = n->inputs[l.k_cache];
    int64_t H = n->iattr[AZC_MF_NHEAD], Hkv = n->iattr[AZC_MF_NHEAD_KV], hd = kc->shape[1].c;
    int64_t n_rot = n->iattr[AZC_MF_NROT], mode = n->iattr[AZC_MF_ROPE_MODE];
    const int32_t *pos = bufs[n->inputs[l.pos]->id], *seq = bufs[n->inputs[l.seq]->id];
    const float *factors = l.factors >= 0 ? bufs[n->inputs[l.factors]->id] : NULL;
    const float *qn = l.q_norm >= 0 ? bufs[n->inputs[l.q_norm]->id] : NULL;
    const float *kn = l.k_norm >= 0 ? bufs[n->inputs[l.k_norm]->id] : NULL;
    const float af = n->fattr[AZC_MF_ATTN_FACTOR] > 0 ? n->fattr[AZC_MF_ATTN_FACTOR] : 1.0f;
    int32_t layer = (int32_t)kc->iattr[0];
    for (int64_t m = 0; m < M; m++) {
      float *row = full + m * N;
      if (qn) { /* the q and k heads rmsnorm'd, times their weights (as rms_norm then mul) */
        float tmp[AZC_KV_MAX_HEAD_DIM];
        for (int64_t h = 0; h < H + Hkv; h++) {
          float *r = row + h * hd;
          azk_norm_row(tmp, r, hd, 0, n->fattr[AZC_MF_QK_EPS], NULL, NULL);
          for (int64_t j = 0; j < hd; j++) r[j] = tmp[j] * (h < H ? qn : kn)[j];
        }
      }
      if (n_rot)
        rope_token(row, H + Hkv, hd, n_rot, mode, pos[m], n->fattr[AZC_MF_FREQ_BASE],
                   n->fattr[AZC_MF_FREQ_SCALE], factors, af);
      memcpy(out + m * H * hd, row, (size_t)(H * hd) * sizeof(float));
      azc_kv_cache_write(it->kv, layer, AZC_KV_K, seq[m], pos[m], row + H * hd);
      azc_kv_cache_write(it->kv, layer, AZC_KV_V, seq[m], pos[m], row + (H + Hkv) * hd);
    }
    return NULL;
  }
  }
  return AZC_ERR(AZC_UNSUPPORTED, "eager: %%%d matmul_fused: unknown epilogue %lld", n->id,
                 (long long)epi);
}

/* matmul_fused: prologue, segments side by side, bias, epilogue */
static azc_status_t run_matmul_fused(interp_t *it, const azc_ir_node_t *n, float *out) {
  azc_mf_layout_t l = azc_mf_layout_of(n);
  const int64_t pro = n->iattr[AZC_MF_PROLOGUE], epi = n->iattr[AZC_MF_EPILOGUE];
  if (l.n_inputs != n->n_inputs)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "eager: %%%d matmul_fused has %d inputs, its attributes (prologue %lld, "
                   "epilogue %lld) need %d",
                   n->id, n->n_inputs, (long long)pro, (long long)epi, l.n_inputs);
  void **bufs = it->bufs;
  const azc_ir_node_t *xn = n->inputs[l.x];
  int64_t M = dimv(it, xn, 0), K = xn->shape[1].c, N = 0;
  for (int s = 0; s < l.n_seg; s++) N += n->inputs[l.w + s]->shape[0].c;
  float *x = malloc((size_t)(M * K) * sizeof(float)),
        *full = malloc((size_t)(M * N) * sizeof(float));
  if (!x || !full) {
    free(x);
    free(full);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "eager: %%%d matmul_fused: %lld x %lld values", n->id,
                   (long long)M, (long long)(K > N ? K : N));
  }
  azc_status_t st = NULL;
  const float *X = bufs[xn->id];
  switch (pro) {
  case AZC_PRO_NONE: memcpy(x, X, (size_t)(M * K) * sizeof(float)); break;
  case AZC_PRO_RMS:
  case AZC_PRO_LAYER: {
    const float *g = bufs[n->inputs[l.norm_w]->id];
    const float *b = pro == AZC_PRO_LAYER ? bufs[n->inputs[l.norm_b]->id] : NULL;
    norm_rows(x, X, M, K, pro == AZC_PRO_LAYER, n->fattr[AZC_MF_EPS]);
    for (int64_t m = 0; m < M; m++)
      for (int64_t k = 0; k < K; k++) x[m * K + k] = x[m * K + k] * g[k] + (b ? b[k] : 0.0f);
    break;
  }
  default:
    st = AZC_ERR(AZC_UNSUPPORTED, "eager: %%%d matmul_fused: unknown prologue %lld", n->id,
                 (long long)pro);
  }
  int64_t off = 0;
  for (int s = 0; !st && s < l.n_seg; s++) {
    const azc_ir_node_t *w = n->inputs[l.w + s];
    int64_t Ns = w->shape[0].c;
    st = run_matmul(it, n, x, w, full + off, M, N);
    if (!st && l.bias >= 0) {
      const float *b = bufs[n->inputs[l.bias + s]->id];
      for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < Ns; j++) full[m * N + off + j] += b[j];
    }
    off += Ns;
  }
  if (!st) st = run_epilogue(it, n, &l, full, out, M, N);
  free(x);
  free(full);
  return st;
}

/* flash_attn reference: per (token, head), scores over the token's own
 * sequence up to its position, softmax, weighted sum of values. */
typedef struct flash_job {
  interp_t *it;
  const float *q;
  float *out;
  int64_t T, H, Hkv, D;
  int32_t layer;
  float scale;
  const int32_t *pos, *seq;
  int64_t window; /* 0: plain causal */
  float softcap;  /* 0: none */
} flash_job_t;

static void flash_worker(void *p, int ith, int nth) {
  const flash_job_t *j = p;
  float kb[AZC_KV_MAX_HEAD_DIM], vb[AZC_KV_MAX_HEAD_DIM];
  long r0, r1;
  azc_split_range((long)(j->T * j->H), ith, nth, &r0, &r1);
  int64_t group = j->H / j->Hkv;
  for (long r = r0; r < r1; r++) {
    int64_t t = r / j->H, h = r % j->H, kvh = h / group;
    int32_t s = j->seq[t], L = j->pos[t] + 1;
    int32_t l0 = j->window > 0 && L > j->window ? L - (int32_t)j->window : 0;
    const float *q = j->q + (t * j->H + h) * j->D;
    float *o = j->out + (t * j->H + h) * j->D;
    float mx = -INFINITY;
    double sum = 0;
    memset(o, 0, (size_t)j->D * sizeof(float));
    /* online softmax: rescale the running sum when the maximum grows */
    for (int32_t l = l0; l < L; l++) {
      float sc =
          j->scale * dot_f32(q, kv_head(j->it->kv, j->layer, AZC_KV_K, s, l, kvh, j->D, kb), j->D);
      if (j->softcap > 0) sc = azk_softcap(sc, j->softcap);
      const float *v = kv_head(j->it->kv, j->layer, AZC_KV_V, s, l, kvh, j->D, vb);
      if (sc > mx) {
        float c = azk_expf(mx - sc);
        for (int64_t d = 0; d < j->D; d++) o[d] *= c;
        sum *= c;
        mx = sc;
      }
      float e = azk_expf(sc - mx);
      sum += e;
      for (int64_t d = 0; d < j->D; d++) o[d] += e * v[d];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t d = 0; d < j->D; d++) o[d] *= inv;
  }
}

static azc_status_t run_node(interp_t *it, const azc_ir_node_t *n) {
  const azc_batch_t *b = it->batch;
  void **bufs = it->bufs;
  const azc_ir_node_t *a = n->n_inputs > 0 ? n->inputs[0] : NULL;
  const float *A = a ? bufs[a->id] : NULL;
  const float *B = n->n_inputs > 1 ? bufs[n->inputs[1]->id] : NULL;
  if ((unsigned)n->op >= (unsigned)AZC_OP_COUNT)
    return AZC_ERR(AZC_UNSUPPORTED, "eager: %%%d has unknown op %d", n->id, (int)n->op);
  const char *op_name = azc_op_info(n->op)->name;
  /* ops whose value is not a new buffer */
  switch (n->op) {
  case AZC_OP_INPUT: {
    const int32_t *src[] = {b->tokens, b->pos, b->seq, b->out_rows};
    if (n->iattr[0] < 0 || n->iattr[0] > AZC_INPUT_OUT_ROWS)
      return AZC_ERR(AZC_UNSUPPORTED, "eager: %%%d input: unknown kind %lld", n->id,
                     (long long)n->iattr[0]);
    bufs[n->id] = (void *)src[n->iattr[0]];
    return NULL;
  }
  case AZC_OP_WEIGHT: bufs[n->id] = (void *)n->data; return NULL;
  case AZC_OP_RESHAPE: bufs[n->id] = bufs[a->id]; return NULL;
  case AZC_OP_KV_CACHE: return NULL; /* read through it->kv by the ops that use it */
  case AZC_OP_OUTPUT: return NULL;   /* the caller copies its input out */
  case AZC_OP_KV_WRITE: break;       /* writes the cache, below; no buffer */
  case AZC_OP_GET_ROWS:
  case AZC_OP_ADD:
  case AZC_OP_MUL:
  case AZC_OP_SCALE:
  case AZC_OP_SILU:
  case AZC_OP_GELU:
  case AZC_OP_SOFTCAP:
  case AZC_OP_RMS_NORM:
  case AZC_OP_LAYER_NORM:
  case AZC_OP_MATMUL:
  case AZC_OP_SLICE:
  case AZC_OP_ROPE:
  case AZC_OP_ATTN_SCORES:
  case AZC_OP_CAUSAL_MASK:
  case AZC_OP_SOFTMAX:
  case AZC_OP_ATTN_VALUES:
  case AZC_OP_MATMUL_FUSED:
  case AZC_OP_FLASH_ATTN: break; /* a new f32 buffer, below */
  case AZC_OP_COUNT: break;
  }

  int64_t numel = azc_ir_node_numel(n, it->syms);
  float *out = NULL;
  if (n->op != AZC_OP_KV_WRITE) {
    out = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
    if (!out)
      return AZC_ERR(AZC_OUT_OF_MEMORY, "eager: %lld floats for %%%d %s", (long long)numel, n->id,
                     op_name);
    bufs[n->id] = out;
  }
  switch (n->op) {
  case AZC_OP_GET_ROWS: {
    const azc_ir_node_t *tab = a;
    int64_t D = tab->shape[1].c, V = dimv(it, tab, 0), rows = dimv(it, n, 0);
    size_t rb = azc_dtype_row_size(tab->dtype, D);
    const int32_t *idx = bufs[n->inputs[1]->id];
    for (int64_t r = 0; r < rows; r++) {
      if (idx[r] < 0 || idx[r] >= V)
        return AZC_ERR(AZC_INVALID_ARGUMENT, "get_rows %s: index %d out of range [0, %lld)",
                       tab->name ? tab->name : "", idx[r], (long long)V);
      azc_dequantize_row(tab->dtype, (const uint8_t *)bufs[tab->id] + (size_t)idx[r] * rb,
                         out + r * D, D);
    }
    break;
  }
  case AZC_OP_ADD:
  case AZC_OP_MUL: {
    int64_t nb = azc_ir_node_numel(n->inputs[1], it->syms);
    for (int64_t i = 0; i < numel; i++) {
      float y = B[nb == numel ? i : i % nb];
      out[i] = n->op == AZC_OP_ADD ? A[i] + y : A[i] * y;
    }
    break;
  }
  case AZC_OP_SCALE:
    for (int64_t i = 0; i < numel; i++) out[i] = A[i] * n->fattr[0];
    break;
  case AZC_OP_SILU:
    for (int64_t i = 0; i < numel; i++) out[i] = azk_silu(A[i]);
    break;
  case AZC_OP_GELU:
    for (int64_t i = 0; i < numel; i++) out[i] = azk_gelu(A[i]);
    break;
  case AZC_OP_SOFTCAP:
    for (int64_t i = 0; i < numel; i++) out[i] = azk_softcap(A[i], n->fattr[0]);
    break;
  case AZC_OP_RMS_NORM:
  case AZC_OP_LAYER_NORM: {
    int64_t D = dimv(it, n, n->rank - 1);
    norm_rows(out, A, numel / D, D, n->op == AZC_OP_LAYER_NORM, n->fattr[0]);
    break;
  }
  case AZC_OP_MATMUL:
    return run_matmul(it, n, A, n->inputs[1], out, dimv(it, n, 0), n->inputs[1]->shape[0].c);
  case AZC_OP_SLICE: {
    int64_t M = dimv(it, a, 0), D = a->shape[1].c, s = n->iattr[0], len = n->iattr[1];
    for (int64_t r = 0; r < M; r++)
      memcpy(out + r * len, A + r * D + s, (size_t)len * sizeof(float));
    break;
  }
  case AZC_OP_ROPE:
    rope_rows(n, A, out, (const int32_t *)B, n->n_inputs > 2 ? bufs[n->inputs[2]->id] : NULL,
              dimv(it, n, 0), dimv(it, n, 1), dimv(it, n, 2));
    break;
  case AZC_OP_KV_WRITE: {
    const azc_ir_node_t *cache = a;
    const float *x = bufs[n->inputs[1]->id];
    const int32_t *pos = bufs[n->inputs[2]->id], *seq = bufs[n->inputs[3]->id];
    int64_t T = dimv(it, n->inputs[1], 0), row = cache->shape[0].c * cache->shape[1].c;
    for (int64_t t = 0; t < T; t++)
      azc_kv_cache_write(it->kv, (int32_t)cache->iattr[0], (int)cache->iattr[1], seq[t], pos[t],
                         x + t * row);
    break;
  }
  case AZC_OP_ATTN_SCORES:
  case AZC_OP_ATTN_VALUES: {
    const azc_ir_node_t *w = n->inputs[1], *cache = w->inputs[0];
    attn_job_t j = {it,
                    n,
                    A,
                    out,
                    dimv(it, n, 0),
                    dimv(it, n, 1),
                    cache->shape[1].c,
                    dimv(it, w, 0),
                    cache->shape[0].c,
                    (int32_t)cache->iattr[0],
                    bufs[n->inputs[2]->id]};
    if ((double)j.T * (double)j.H * (double)j.L * (double)j.D < 262144.0)
      attn_worker(&j, 0, 1);
    else
      azc_threadpool_run(it->pool, attn_worker, &j);
    break;
  }
  case AZC_OP_MATMUL_FUSED: return run_matmul_fused(it, n, out);
  case AZC_OP_FLASH_ATTN: {
    const azc_ir_node_t *kc =
        n->inputs[1]->op == AZC_OP_KV_WRITE ? n->inputs[1]->inputs[0] : n->inputs[1];
    flash_job_t j = {it,
                     A,
                     out,
                     dimv(it, n, 0),
                     dimv(it, n, 1),
                     kc->shape[0].c,
                     dimv(it, n, 2),
                     (int32_t)kc->iattr[0],
                     n->fattr[0],
                     bufs[n->inputs[3]->id],
                     bufs[n->inputs[4]->id],
                     n->iattr[0],
                     n->fattr[1]};
    if ((double)j.T * (double)j.H * (double)j.D * (double)(it->syms[AZC_SYM_P] + j.T) < 262144.0)
      flash_worker(&j, 0, 1);
    else
      azc_threadpool_run(it->pool, flash_worker, &j);
    break;
  }
  case AZC_OP_CAUSAL_MASK: {
    int64_t T = dimv(it, n, 0), H = dimv(it, n, 1), L = dimv(it, n, 2);
    const int32_t *pos = (const int32_t *)B;
    memcpy(out, A, (size_t)numel * sizeof(float));
    int64_t window = n->iattr[0];
    for (int64_t t = 0; t < T; t++)
      for (int64_t h = 0; h < H; h++) {
        for (int64_t l = pos[t] + 1; l < L; l++) out[(t * H + h) * L + l] = -INFINITY;
        for (int64_t l = 0; window > 0 && l <= pos[t] - window && l < L; l++)
          out[(t * H + h) * L + l] = -INFINITY;
      }
    break;
  }
  case AZC_OP_SOFTMAX: {
    int64_t D = dimv(it, n, n->rank - 1), rows = numel / D;
    for (int64_t r = 0; r < rows; r++) {
      const float *x = A + r * D;
      float *y = out + r * D, mx = -INFINITY;
      for (int64_t i = 0; i < D; i++) mx = x[i] > mx ? x[i] : mx;
      double sum = 0;
      for (int64_t i = 0; i < D; i++) {
        y[i] = azk_expf(x[i] - mx);
        sum += y[i];
      }
      float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
      for (int64_t i = 0; i < D; i++) y[i] *= inv;
    }
    break;
  }
  case AZC_OP_INPUT:
  case AZC_OP_WEIGHT:
  case AZC_OP_KV_CACHE:
  case AZC_OP_RESHAPE:
  case AZC_OP_OUTPUT:
  case AZC_OP_COUNT:
    /* returned above; reaching here is a bug in this file */
    return AZC_ERR(AZC_INTERNAL, "eager: %%%d %s reached the compute switch", n->id, op_name);
  }
  return NULL;
}

static void free_dead(interp_t *it, int32_t i) {
  /* free every root whose last use is node i */
  const azc_ir_graph_t *g = it->g;
  for (int k = 0; k < g->nodes[i]->n_inputs + 1; k++) {
    const azc_ir_node_t *n = k < g->nodes[i]->n_inputs ? g->nodes[i]->inputs[k] : g->nodes[i];
    int32_t r = it->root[n->id];
    if (it->last_use[r] != i || !it->bufs[r]) continue;
    azc_op_t op = g->nodes[r]->op;
    if (op != AZC_OP_INPUT && op != AZC_OP_WEIGHT) free(it->bufs[r]);
    it->bufs[r] = NULL;
  }
}

static azc_status_t interp_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  interp_t *it = (interp_t *)ex;
  const azc_ir_graph_t *g = it->g;
  int32_t L = 0;
  for (int32_t i = 0; i < b->n_tokens; i++) L = b->pos[i] + 1 > L ? b->pos[i] + 1 : L;
  it->syms[AZC_SYM_T] = b->n_tokens;
  it->syms[AZC_SYM_P] = L - b->n_tokens;
  it->syms[AZC_SYM_O] = b->n_out;
  it->batch = b;
  memset(it->bufs, 0, sizeof(void *) * (size_t)g->n_nodes);
  azc_status_t st = NULL;
  int32_t i = 0;
  for (; i < g->n_nodes && !st; i++) {
    st = run_node(it, g->nodes[i]);
    if (!st && i == it->output) {
      const azc_ir_node_t *x = g->nodes[i]->inputs[0];
      memcpy(logits, it->bufs[x->id], (size_t)azc_ir_node_numel(x, it->syms) * sizeof(float));
    }
    if (!st) free_dead(it, i);
  }
  /* on failure, free whatever is still held */
  for (int32_t k = 0; k < g->n_nodes; k++) {
    if (!it->bufs[k] || it->root[k] != k) continue;
    azc_op_t op = g->nodes[k]->op;
    if (op != AZC_OP_INPUT && op != AZC_OP_WEIGHT) free(it->bufs[k]);
    it->bufs[k] = NULL;
  }
  return st;
}

static void interp_destroy(azc_executor_t *ex) {
  interp_t *it = (interp_t *)ex;
  azc_kv_cache_destroy(it->kv);
  azc_threadpool_destroy(it->pool);
  free(it->root);
  free(it->last_use);
  free(it->bufs);
  free(it);
}

static const azc_executor_ops_t interp_ops = {"eager", interp_forward, interp_destroy};

azc_status_t azc_ir_interp_create(const azc_ir_graph_t *g, const azc_executor_params_t *params,
                                  azc_executor_t **out) {
  *out = NULL;
  interp_t *it = calloc(1, sizeof(*it));
  if (!it) return AZC_ERR(AZC_OUT_OF_MEMORY, "eager executor");
  it->g = g;
  it->output = -1;
  size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
  it->root = malloc(nn * sizeof(int32_t));
  it->last_use = malloc(nn * sizeof(int32_t));
  it->bufs = calloc(nn, sizeof(void *));
  azc_status_t st = NULL;
  if (!it->root || !it->last_use || !it->bufs) st = AZC_ERR(AZC_OUT_OF_MEMORY, "eager executor");
  int32_t n_layer = 0;
  for (int32_t i = 0; !st && i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    it->root[i] = n->op == AZC_OP_RESHAPE ? it->root[n->inputs[0]->id] : i;
    it->last_use[i] = i;
    for (int k = 0; k < n->n_inputs; k++) it->last_use[it->root[n->inputs[k]->id]] = i;
    if (n->op == AZC_OP_OUTPUT) {
      if (it->output >= 0) st = AZC_ERR(AZC_UNSUPPORTED, "eager: graph has several outputs");
      it->output = i;
      it->base.n_vocab = (int32_t)n->shape[1].c;
    }
    if (n->op == AZC_OP_KV_CACHE && n->iattr[0] + 1 > n_layer) n_layer = (int32_t)n->iattr[0] + 1;
  }
  if (!st && it->output < 0) st = AZC_ERR(AZC_INVALID_ARGUMENT, "eager: graph has no output");
  azc_executor_params_t p = *params;
  if (p.n_seq <= 0) p.n_seq = 1;
  if (p.n_batch <= 0) p.n_batch = 512;
  if (p.kv_type == AZC_KV_TYPE_AUTO) p.kv_type = AZC_KV_TYPE_CPU_DEFAULT;
  if (!st && p.n_ctx <= 0) st = AZC_ERR(AZC_INVALID_ARGUMENT, "eager: context size %d", p.n_ctx);
  if (!st) {
    int32_t *hkv = calloc((size_t)(n_layer + 1), sizeof(int32_t));
    int32_t *hd = calloc((size_t)(n_layer + 1), sizeof(int32_t));
    if (!hkv || !hd) st = AZC_ERR(AZC_OUT_OF_MEMORY, "eager executor");
    for (int32_t i = 0; !st && i < g->n_nodes; i++) {
      const azc_ir_node_t *n = g->nodes[i];
      if (n->op != AZC_OP_KV_CACHE) continue;
      hkv[n->iattr[0]] = (int32_t)n->shape[0].c;
      hd[n->iattr[0]] = (int32_t)n->shape[1].c;
    }
    if (!st) st = azc_kv_cache_create(n_layer, hkv, hd, p.n_seq, p.n_ctx, p.kv_type, &it->kv);
    free(hkv);
    free(hd);
  }
  if (!st) st = azc_threadpool_create(p.n_threads, &it->pool);
  if (st) {
    interp_destroy(&it->base);
    return st;
  }
  it->base.ops = &interp_ops;
  it->base.n_ctx = p.n_ctx;
  it->base.n_seq = p.n_seq;
  it->base.n_batch = p.n_batch;
  it->base.n_threads = azc_threadpool_size(it->pool);
  *out = &it->base;
  return NULL;
}
