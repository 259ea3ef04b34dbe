/* Kernel templates: one generic C function per kernel kind, compiled to LLVM
 * bitcode at build time (one bitcode file per target class, see
 * codegen/CMakeLists.txt). The code generator adds, per kernel spec, a
 * constant parameter block and a wrapper `azk_<key>(call, ith, nth)` that
 * calls the template with it; everything is inlined into the wrapper and the
 * module is optimized for the target CPU, so every shape, quant type and
 * epilogue choice below becomes a constant and the dead branches disappear.
 *
 * Threads: a kernel runs on all threads of the pool at once; thread ith of
 * nth takes a contiguous share of the work units. Kernels with a preparation
 * phase (norm prologue, activation quantization, rope tables) split it across
 * threads too and meet at call->barrier before the main phase.
 *
 * Semantics are the eager interpreter's (ir/interp.c); tests/codegen
 * compares every kernel with it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codegen/cpu/kernels/azk_dot.h"
#include "codegen/kernel_params.h"
#include "runtime/base/fastmath.h"
#include "runtime/kernel_abi.h"
#include "runtime/kv_row.h"
#include "runtime/quant.h"

/* The reference block decoders (get_rows reads any stored type). */
#include "runtime/quant.c"
#include "runtime/quant_dequantize.c"

#define AZK_INLINE static inline __attribute__((always_inline))

/* double-precision math for rope angles (the runtime resolves these to libm) */
double pow(double, double);
double cos(double);
double sin(double);

AZK_INLINE void split_range(int64_t n, int ith, int nth, int64_t *b, int64_t *e) {
  int64_t q = n / nth, r = n % nth;
  *b = ith * q + (ith < r ? ith : r);
  *e = *b + q + (ith < r ? 1 : 0);
}

AZK_INLINE void barrier(const azk_call_t *c) {
  if (c->barrier) c->barrier(c->barrier_ctx);
}

/* ---- rope ---- */
/* cos/sin table for one token: cs[2i] = cos, cs[2i+1] = sin of pos * theta_i */
AZK_INLINE void rope_table(float *cs, int n_rot, int32_t pos, float base, float scale,
                           const float *factors) {
  for (int i = 0; i < n_rot / 2; i++) {
    double theta = (double)pos * (double)scale * pow((double)base, -2.0 * i / (double)n_rot);
    if (factors) theta /= (double)factors[i];
    cs[2 * i] = (float)cos(theta);
    cs[2 * i + 1] = (float)sin(theta);
  }
}

AZK_INLINE void rope_head(float *r, const float *cs, int n_rot, int mode) {
  for (int i = 0; i < n_rot / 2; i++) {
    int a = mode == 2 ? i : 2 * i, b = mode == 2 ? i + n_rot / 2 : 2 * i + 1;
    float x0 = r[a], x1 = r[b], c = cs[2 * i], s = cs[2 * i + 1];
    r[a] = x0 * c - x1 * s;
    r[b] = x0 * s + x1 * c;
  }
}

/* ---- KV cache rows (runtime/kv_row.h; c->kv_type is the run-time choice) ---- */
/* n half values at src as floats: F16C / NEON fcvtl where the target has them */
AZK_INLINE void kv_f16_to_f32(const uint8_t *src, float *dst, int64_t n) {
  int64_t i = 0;
#if defined(AZK_PATH_X86)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i))));
#elif defined(AZK_PATH_NEON)
  for (; i + 4 <= n; i += 4)
    vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(
                           vld1_u16((const uint16_t *)(const void *)(src + 2 * i)))));
#endif
  for (; i < n; i++) dst[i] = azc_fp16_to_f32(azk_load_u16(src + 2 * i));
}

/* Where value off of token (seq, pos)'s row of this layer's K (kind 0) or V
 * cache starts (off a multiple of head_dim, so whole q8_0 blocks). */
AZK_INLINE uint8_t *kv_at(const azk_call_t *c, int kind, int64_t row_values, int32_t seq,
                          int32_t pos, int64_t off) {
  uint8_t *base = kind ? c->v_cache : c->k_cache;
  return base + (int64_t)seq * c->kv_seq_stride +
         (int64_t)pos * (int64_t)azc_kv_bytes(c->kv_type, row_values) +
         (int64_t)azc_kv_bytes(c->kv_type, off);
}

/* n values at p as f32: p itself for an f32 cache, else converted into buf */
AZK_INLINE const float *kv_f32(int type, const uint8_t *p, int64_t n, float *buf) {
  if (type == AZC_KV_F32) return (const float *)(const void *)p;
  if (type == AZC_KV_F16)
    kv_f16_to_f32(p, buf, n);
  else
    azc_kv_load_ref(type, p, buf, n);
  return buf;
}

/* ---- matmul_fused ---- */
enum { MM_COLS = 32, MM_ROWS = 4, MM_ROW_BLOCK = 64, MAX_HEAD_DIM = 512 };

/* The activation rows one segment multiplies with: F32 weights read floats,
 * the others read x quantized into their llama.cpp vec_dot format. */
AZK_INLINE int act_format(int wtype) { return (int)azc_vec_dot_type((azc_dtype_t)wtype); }

/* SwiGLU or GeGLU: gate (segment 0, or its first half) times up (segment 1, or
 * segment 0's second half); the result has glu_width columns */
AZK_INLINE int is_glu(const azk_mm_params_t *p) {
  return p->epilogue == AZC_EPI_SWIGLU || p->epilogue == AZC_EPI_GEGLU;
}
AZK_INLINE int64_t glu_width(const azk_mm_params_t *p) {
  return p->n_seg == 2 ? p->N[0] : p->N[0] / 2;
}

typedef struct mm_state {
  const azk_call_t *c;
  const azk_mm_params_t *p;
  const uint8_t *xq[4]; /* activations for each segment */
  size_t xq_stride[4];
  const float *cs; /* rope tables (M, n_rot) */
} mm_state_t;

/* Phase 1: normalize (prologue), then quantize each row once per distinct
 * activation format; rows are split across threads, results shared. */
AZK_INLINE void mm_prepare(mm_state_t *st, int ith, int nth) {
  const azk_call_t *c = st->c;
  const azk_mm_params_t *p = st->p;
  const int64_t M = c->M, K = p->K;
  const float *X = c->in[p->in_x];
  uint8_t *shared = c->shared;
  size_t off = 0;
  float *normed = NULL;
  if (p->prologue != AZC_PRO_NONE) {
    normed = (float *)shared;
    off += (size_t)(M * K) * sizeof(float);
  }
  for (int s = 0; s < p->n_seg; s++) {
    int f = act_format(p->wtype[s]);
    int same = -1;
    for (int t = 0; t < s; t++)
      if (act_format(p->wtype[t]) == f) same = t;
    if (same >= 0) {
      st->xq[s] = st->xq[same];
      st->xq_stride[s] = st->xq_stride[same];
    } else if (f == AZC_DTYPE_F32) {
      st->xq[s] = (const uint8_t *)(normed ? normed : X);
      st->xq_stride[s] = (size_t)K * sizeof(float);
    } else {
      st->xq[s] = shared + off;
      st->xq_stride[s] = azk_xq_row_size(p->wtype[s], K);
      off += (size_t)M * st->xq_stride[s];
      off = (off + 63) & ~(size_t)63;
    }
  }
  float *cs = NULL;
  if (p->epilogue == AZC_EPI_ROPE_KV && p->n_rot) {
    cs = (float *)(shared + off);
    off += (size_t)(M * p->n_rot) * sizeof(float);
  }
  st->cs = cs;
  int64_t m0, m1;
  split_range(M, ith, nth, &m0, &m1);
  for (int64_t m = m0; m < m1; m++) {
    const float *x = X + m * K;
    if (normed) {
      azk_norm_row(normed + m * K, x, K, p->prologue == AZC_PRO_LAYER, p->eps, c->in[p->in_norm_w],
                   p->prologue == AZC_PRO_LAYER ? c->in[p->in_norm_b] : NULL);
      x = normed + m * K;
    }
    for (int s = 0; s < p->n_seg; s++) {
      int f = act_format(p->wtype[s]), first = 1;
      for (int t = 0; t < s; t++)
        if (act_format(p->wtype[t]) == f) first = 0;
      if (!first || f == AZC_DTYPE_F32) continue;
      uint8_t *dst = (uint8_t *)st->xq[s] + (size_t)m * st->xq_stride[s];
      if (f == AZC_DTYPE_F16 || f == AZC_DTYPE_BF16) {
        /* float rows holding half-precision values, as llama.cpp multiplies them */
        float *y = (float *)dst;
        for (int64_t k = 0; k < K; k++)
          y[k] = f == AZC_DTYPE_F16 ? azc_fp16_to_f32(azc_f32_to_fp16(x[k]))
                                    : azc_bf16_to_f32(azc_f32_to_bf16(x[k]));
      } else {
        azk_quantize_x(p->wtype[s], x, dst, K);
      }
    }
    if (cs) {
      rope_table(cs + m * p->n_rot, p->n_rot, c->pos[m], p->freq_base, p->freq_scale,
                 p->in_factors >= 0 ? c->in[p->in_factors] : NULL);
      if (p->attn_factor != 1.0f) /* LongRoPE's magnitude, as the rope kernel applies it */
        for (int i = 0; i < p->n_rot; i++) cs[m * p->n_rot + i] *= p->attn_factor;
    }
  }
  barrier(c);
}

/* mm_tile for weights in groups of 8 interleaved rows (AZC_LAYOUT_X8, chosen only
 * for N % 8 == 0); a unit that does not start or end on a group keeps its
 * lanes. Out of line: one copy per kernel instead of one per call site of
 * mm_tile (which doubled the compile time of the QKV kernels). */
__attribute__((noinline)) static void
mm_tile_x8(int wt, int64_t K, const uint8_t *W, size_t row_bytes, const uint8_t *xq, size_t stride,
           int64_t col0, int ncols, int R,
           float acc[MM_ROWS][MAX_HEAD_DIM > MM_COLS ? MAX_HEAD_DIM : MM_COLS]) {
  for (int64_t g = col0 / 8; g * 8 < col0 + ncols; g++) {
    float o8[MM_ROWS * 8];
    azk_dot_x8(wt, K, W + (size_t)g * 8 * row_bytes, xq, stride, R, o8);
    for (int l = 0; l < 8; l++) {
      int64_t j = g * 8 + l - col0;
      if (j < 0 || j >= ncols) continue;
      for (int r = 0; r < R; r++) acc[r][j] = o8[8 * r + l];
    }
  }
}

/* acc[r][j] = dot(weight row col0 + j of segment s, activation row m0 + r) */
AZK_INLINE void mm_tile(const mm_state_t *st, int s, int64_t col0, int ncols, int64_t m0, int R,
                        float acc[MM_ROWS][MAX_HEAD_DIM > MM_COLS ? MAX_HEAD_DIM : MM_COLS]) {
  const azk_mm_params_t *p = st->p;
  const uint8_t *W = st->c->in[p->in_w[s]];
  /* the weight as stored: its type in the layout the layout pass chose */
  const int wt = azk_wtype_for(p->wtype[s], p->wlayout[s]);
  size_t row_bytes = (size_t)(p->K / azk_wtype_block_values(wt)) * azk_wtype_block_bytes(wt);
  const uint8_t *xq = st->xq[s] + (size_t)m0 * st->xq_stride[s];
  if (azk_wtype_is_x8(wt))
    mm_tile_x8(wt, p->K, W, row_bytes, xq, st->xq_stride[s], col0, ncols, R, acc);
  else
    for (int j = 0; j < ncols; j++) {
      float out[MM_ROWS];
      const uint8_t *w = W + (size_t)(col0 + j) * row_bytes;
      const int nw = azk_dot_tile_width(R);
      if (azk_wtype_is_float(wt) && j + nw <= ncols) { /* nw columns at once */
        float o[8];
        azk_dot_tile(wt, p->K, w, row_bytes, xq, st->xq_stride[s], R, o);
        for (int n = 0; n < nw; n++)
          for (int r = 0; r < R; r++) acc[r][j + n] = o[R * n + r];
        j += nw - 1;
        continue;
      }
      if (R == MM_ROWS)
        azk_dot_rows(wt, p->K, w, xq, st->xq_stride[s], MM_ROWS, out);
      else
        for (int r = 0; r < R; r++)
          out[r] = azk_dot(wt, p->K, w, xq + (size_t)r * st->xq_stride[s]);
      for (int r = 0; r < R; r++) acc[r][j] = out[r];
    }
  if (p->bias) {
    const float *b = st->c->in[p->in_bias[s]];
    for (int r = 0; r < R; r++)
      for (int j = 0; j < ncols; j++) acc[r][j] += b[col0 + j];
  }
}

/* One unit of work: columns [col0, col0 + ncols) of segment s, where ocol is
 * where segment s's column 0 sits in the concatenated output. */
AZK_INLINE void mm_unit(const mm_state_t *st, int s, int64_t col0, int ncols, int64_t ocol,
                        int64_t m_begin, int64_t M) {
  const azk_call_t *c = st->c;
  const azk_mm_params_t *p = st->p;
  int64_t Ntot = 0;
  for (int t = 0; t < p->n_seg; t++) Ntot += p->N[t];
  float acc[MM_ROWS][MAX_HEAD_DIM > MM_COLS ? MAX_HEAD_DIM : MM_COLS];
  float *out = c->out;
  for (int64_t m = m_begin; m < M; m += MM_ROWS) {
    int R = M - m >= MM_ROWS ? MM_ROWS : (int)(M - m);
    if (is_glu(p)) { /* gate (segment 0 or its first half) and up (segment 1 or the second) */
      float up[MM_ROWS][MAX_HEAD_DIM > MM_COLS ? MAX_HEAD_DIM : MM_COLS];
      const int64_t F = glu_width(p);
      mm_tile(st, 0, col0, ncols, m, R, acc);
      if (p->n_seg == 2)
        mm_tile(st, 1, col0, ncols, m, R, up);
      else
        mm_tile(st, 0, F + col0, ncols, m, R, up);
      for (int r = 0; r < R; r++)
        for (int j = 0; j < ncols; j++)
          out[(m + r) * F + col0 + j] =
              (p->epilogue == AZC_EPI_GEGLU ? azk_gelu(acc[r][j]) : azk_silu(acc[r][j])) * up[r][j];
      continue;
    }
    mm_tile(st, s, col0, ncols, m, R, acc);
    if (p->epilogue == AZC_EPI_ROPE_KV) { /* the unit is one head */
      int64_t hd = p->head_dim, Hq = p->n_head * hd, Hk = p->n_head_kv * hd;
      int64_t col = ocol + col0; /* column in [q | k | v] */
      for (int r = 0; r < R; r++) {
        int64_t t = m + r;
        float *row = acc[r];
        if (p->qk_norm && col < Hq + Hk) { /* per-head RMSNorm of q and k, as rms_norm, mul */
          float normed[MAX_HEAD_DIM];
          const float *w = c->in[col < Hq ? p->in_q_norm : p->in_k_norm];
          azk_norm_row(normed, row, ncols, 0, p->qk_eps, NULL, NULL);
          for (int j = 0; j < ncols; j++) row[j] = normed[j] * w[j];
        }
        if (p->n_rot && col < Hq + Hk)
          rope_head(row, st->cs + t * p->n_rot, p->n_rot, p->rope_mode);
        if (col < Hq) {
          float *dst = out + t * Hq + col;
          for (int j = 0; j < ncols; j++) dst[j] = row[j];
        } else {
          int kind = col >= Hq + Hk;
          azc_kv_store_ref(c->kv_type,
                           kv_at(c, kind, Hk, c->seq[t], c->pos[t], col - Hq - kind * Hk), row,
                           ncols);
        }
      }
      continue;
    }
    for (int r = 0; r < R; r++) {
      float *o = out + (m + r) * Ntot + ocol + col0;
      if (p->epilogue == AZC_EPI_RESIDUAL) {
        const float *res = (const float *)c->in[p->in_residual] + (m + r) * Ntot + ocol + col0;
        for (int j = 0; j < ncols; j++) o[j] = acc[r][j] + res[j];
      } else if (p->epilogue == AZC_EPI_GELU) {
        for (int j = 0; j < ncols; j++) o[j] = azk_gelu(acc[r][j]);
      } else {
        for (int j = 0; j < ncols; j++) o[j] = acc[r][j];
      }
    }
  }
}

/* Units of one segment: heads for rope/kv, else MM_COLS columns. */
AZK_INLINE int64_t seg_unit_width(const azk_mm_params_t *p) {
  return p->epilogue == AZC_EPI_ROPE_KV ? p->head_dim : MM_COLS;
}

/* the columns segment s's units cover: the gate's for SwiGLU/GeGLU */
AZK_INLINE int64_t seg_cols(const azk_mm_params_t *p, int s) {
  return is_glu(p) ? glu_width(p) : p->N[s];
}

AZK_INLINE int64_t seg_units(const azk_mm_params_t *p, int s) {
  int64_t w = seg_unit_width(p);
  return (seg_cols(p, s) + w - 1) / w;
}

AZK_INLINE void mm_segment(const mm_state_t *st, int s, int64_t u0, int64_t u1, int64_t *ubase,
                           int64_t *ocol, int64_t m0, int64_t m1) {
  const azk_mm_params_t *p = st->p;
  if (s >= p->n_seg) return;
  int64_t n = seg_units(p, s), w = seg_unit_width(p);
  for (int64_t u = u0 > *ubase ? u0 : *ubase; u < u1 && u < *ubase + n; u++) {
    int64_t col0 = (u - *ubase) * w, cols = seg_cols(p, s);
    int ncols = (int)(cols - col0 < w ? cols - col0 : w);
    mm_unit(st, s, col0, ncols, *ocol, m0, m1);
  }
  *ubase += n;
  *ocol += p->N[s];
}

AZK_INLINE void azk_matmul_impl(const azk_call_t *c, int ith, int nth, const azk_mm_params_t *p) {
  mm_state_t st = {c, p, {0}, {0}, NULL};
  mm_prepare(&st, ith, nth);
  int64_t total = is_glu(p) ? seg_units(p, 0) : 0;
  if (!is_glu(p))
    for (int s = 0; s < p->n_seg; s++) total += seg_units(p, s);
  int64_t u0, u1;
  split_range(total, ith, nth, &u0, &u1);
  /* Rows in blocks of MM_ROW_BLOCK: a block's quantized activations stay in
   * the L2 cache while this thread's weight columns stream past them once
   * per block (for a long prompt the activations would not fit otherwise
   * and would be read again for every group of columns). */
  for (int64_t m0 = 0; m0 < c->M; m0 += MM_ROW_BLOCK) {
    int64_t m1 = c->M - m0 < MM_ROW_BLOCK ? c->M : m0 + MM_ROW_BLOCK;
    int64_t ub = 0, oc = 0;
    if (is_glu(p)) {
      mm_segment(&st, 0, u0, u1, &ub, &oc, m0, m1);
      continue;
    }
    /* one call per segment with a constant index, so each segment's weight
     * type is a constant in its own copy of the loop */
    mm_segment(&st, 0, u0, u1, &ub, &oc, m0, m1);
    mm_segment(&st, 1, u0, u1, &ub, &oc, m0, m1);
    mm_segment(&st, 2, u0, u1, &ub, &oc, m0, m1);
    mm_segment(&st, 3, u0, u1, &ub, &oc, m0, m1);
  }
}

/* ---- flash attention ---- */
/* One unit: a tile of up to FA_TQ consecutive tokens of one sequence and one
 * kv head g; the tile's rows are its tokens times the G = H/Hkv query heads
 * of the group, and every K and V row loaded serves all of them. Keys go in
 * blocks of FA_BLOCK at absolute positions (0, 32, 64, ...): per query head
 * the scores of a block for all the tile's tokens come from one dot-product
 * tile (K rows as the weight rows, the tokens' query rows as activations;
 * each score is summed in one fixed order, whatever the tile holds), keys a
 * row may not see (causal, sliding window) are masked, then one
 * online-softmax update per row and block (running maximum and sum, the
 * accumulator rescaled when the maximum grows), then the weighted V rows,
 * four rows at a time so that their accumulators are independent chains.
 * A row's arithmetic depends only on its own token and keys, never on the
 * other tokens of its tile, so prefill in one call, in chunks or next to
 * other sequences gives the same bits (batch invariance). Units are dealt to
 * threads round-robin: with a causal mask later tokens see more keys, so
 * contiguous ranges would leave the first thread idle. */
enum { FA_BLOCK = 32, FA_MAX_GROUP = 64, FA_DCHUNK = 32, FA_TQ = 4 };

/* 16 floats; clang lowers the vector type to the target's registers */
typedef float fa_vec_t __attribute__((vector_size(64)));

/* a macro, not a function: a 64-byte vector passed by value would change
 * the ABI on targets without AVX-512 (-Wpsabi) */
#define FA_LOAD(v, p) __builtin_memcpy(&(v), (p), sizeof(fa_vec_t))

/* o[q][0..nd) += sum over j < nb of w[q][j] * v[j][0..nd), q < NR (a constant);
 * each value is one multiply and one add per key, in key order, on the
 * vector and the scalar path alike */
AZK_INLINE void fa_pv_rows(int NR, int64_t nd, int32_t nb, float *const *o, const float *const *w,
                           const float *const *v) {
  if (nd == FA_DCHUNK) {
    fa_vec_t a[FA_TQ][2];
    for (int q = 0; q < NR; q++) FA_LOAD(a[q][0], o[q]), FA_LOAD(a[q][1], o[q] + 16);
    for (int32_t j = 0; j < nb; j++) {
      fa_vec_t v0, v1;
      FA_LOAD(v0, v[j]), FA_LOAD(v1, v[j] + 16);
      for (int q = 0; q < NR; q++) {
        const float wq = w[q][j];
        a[q][0] += v0 * wq;
        a[q][1] += v1 * wq;
      }
    }
    for (int q = 0; q < NR; q++) {
      __builtin_memcpy(o[q], &a[q][0], sizeof(fa_vec_t));
      __builtin_memcpy(o[q] + 16, &a[q][1], sizeof(fa_vec_t));
    }
    return;
  }
  for (int q = 0; q < NR; q++)
    for (int32_t j = 0; j < nb; j++) {
      const float wq = w[q][j];
      for (int64_t d = 0; d < nd; d++) o[q][d] += v[j][d] * wq;
    }
}

AZK_INLINE void azk_flash_attn_impl(const azk_call_t *c, int ith, int nth,
                                    const azk_fa_params_t *p) {
  const int64_t T = c->T, H = p->n_head, Hkv = p->n_head_kv, D = p->head_dim, G = H / Hkv;
  const float *Q = c->in[p->in_q]; /* (T, H, D) */
  float *out = c->out;             /* (T, H, D) */
  const int kt = c->kv_type;
  const int64_t rb = (int64_t)azc_kv_bytes(kt, Hkv * D); /* bytes from one position to the next */
  /* K rows are read in place (f32, f16) or converted one at a time (q8_0) */
  const int ktype = kt == AZC_KV_F16 ? AZC_DTYPE_F16 : AZC_DTYPE_F32;
  const size_t qs = (size_t)(H * D) * sizeof(float); /* one token's query row to the next */
  float kb[AZC_KV_MAX_HEAD_DIM], vb[FA_BLOCK][FA_DCHUNK];
  /* per row (h * FA_TQ + r: query head h of the group, token r of the tile) */
  float mx[FA_MAX_GROUP * FA_TQ], sum[FA_MAX_GROUP * FA_TQ], sc[FA_MAX_GROUP * FA_TQ][FA_BLOCK];
  int32_t first[FA_TQ], last[FA_TQ];
  _Bool live[FA_MAX_GROUP * FA_TQ];
  const int64_t n_tiles = (T + FA_TQ - 1) / FA_TQ;
  for (int64_t u = ith; u < n_tiles * Hkv; u += nth) {
    const int64_t g = u % Hkv, tile_end = (u / Hkv + 1) * FA_TQ < T ? (u / Hkv + 1) * FA_TQ : T;
    /* the tile's tokens, in runs of one sequence */
    for (int64_t t0 = u / Hkv * FA_TQ, nq; t0 < tile_end; t0 += nq) {
      for (nq = 1; t0 + nq < tile_end && c->seq[t0 + nq] == c->seq[t0];) nq++;
      int32_t lo = INT32_MAX, hi = 0;
      for (int64_t r = 0; r < nq; r++) {
        last[r] = c->pos[t0 + r] + 1;
        first[r] = p->window > 0 && last[r] > p->window ? last[r] - p->window : 0;
        lo = first[r] < lo ? first[r] : lo;
        hi = last[r] > hi ? last[r] : hi;
      }
      const uint8_t *kbase = kv_at(c, 0, Hkv * D, c->seq[t0], 0, g * D);
      const uint8_t *vbase = kv_at(c, 1, Hkv * D, c->seq[t0], 0, g * D);
      for (int64_t h = 0; h < G; h++)
        for (int64_t r = 0; r < nq; r++) {
          mx[h * FA_TQ + r] = -__builtin_inff();
          sum[h * FA_TQ + r] = 0;
          float *o = out + ((t0 + r) * H + g * G + h) * D;
          for (int64_t d = 0; d < D; d++) o[d] = 0;
        }
      for (int32_t l0 = lo / FA_BLOCK * FA_BLOCK; l0 < hi; l0 += FA_BLOCK) {
        const int32_t nb = hi - l0 < FA_BLOCK ? hi - l0 : FA_BLOCK;
        /* scores (h, r, j) = q(t0 + r, g * G + h) . k(l0 + j) */
        if (kt == AZC_KV_Q8_0) {
          for (int32_t j = 0; j < nb; j++) {
            const float *k = kv_f32(kt, kbase + (int64_t)(l0 + j) * rb, D, kb);
            for (int64_t h = 0; h < G; h++) {
              float s4[FA_TQ];
              azk_dot_rows(AZC_DTYPE_F32, D, k, Q + (t0 * H + g * G + h) * D, qs, (int)nq, s4);
              for (int64_t r = 0; r < nq; r++) sc[h * FA_TQ + r][j] = s4[r];
            }
          }
        } else {
          const int nw = azk_dot_tile_width((int)nq);
          for (int64_t h = 0; h < G; h++) {
            const float *qh = Q + (t0 * H + g * G + h) * D;
            int32_t j = 0;
            for (; j + nw <= nb; j += nw) {
              float s[4 * FA_TQ];
              azk_dot_tile(ktype, D, kbase + (int64_t)(l0 + j) * rb, (size_t)rb, qh, qs, (int)nq,
                           s);
              for (int n = 0; n < nw; n++)
                for (int64_t r = 0; r < nq; r++) sc[h * FA_TQ + r][j + n] = s[nq * n + r];
            }
            for (; j < nb; j++) {
              float s4[FA_TQ];
              azk_dot_rows(ktype, D, kbase + (int64_t)(l0 + j) * rb, qh, qs, (int)nq, s4);
              for (int64_t r = 0; r < nq; r++) sc[h * FA_TQ + r][j] = s4[r];
            }
          }
        }
        /* mask, scale, soft-cap; the online softmax per row */
        for (int64_t h = 0; h < G; h++)
          for (int64_t r = 0; r < nq; r++) {
            const int64_t row = h * FA_TQ + r;
            float *s = sc[row], bm = mx[row];
            const int32_t j0 = first[r] - l0, j1 = last[r] - l0;
            /* (the loops that vectorize apart from the ordered max and sum) */
            for (int32_t j = 0; j < nb; j++) s[j] *= p->scale;
            if (p->softcap > 0)
              for (int32_t j = 0; j < nb; j++) s[j] = azk_softcap(s[j], p->softcap);
            for (int32_t j = 0; j < nb; j++) s[j] = j < j0 || j >= j1 ? -__builtin_inff() : s[j];
            for (int32_t j = 0; j < nb; j++) bm = s[j] > bm ? s[j] : bm;
            live[row] = j0 < nb && j1 > 0;
            if (!live[row]) continue;
            if (bm > mx[row]) {
              const float corr = azk_expf(mx[row] - bm);
              sum[row] *= corr;
              float *o = out + ((t0 + r) * H + g * G + h) * D;
              for (int64_t d = 0; d < D; d++) o[d] *= corr;
              mx[row] = bm;
            }
            for (int32_t j = 0; j < nb; j++) s[j] = azk_expf(s[j] - bm);
            float add = 0;
            for (int32_t j = 0; j < nb; j++) add += s[j];
            sum[row] += add;
          }
        /* FA_DCHUNK output values at a time: the block's V rows' chunk is
         * converted once for all rows, whose accumulators stay in registers
         * over the block's keys (V rows come from L1) */
        for (int64_t d0 = 0; d0 < D; d0 += FA_DCHUNK) {
          const int64_t nd = D - d0 < FA_DCHUNK ? D - d0 : FA_DCHUNK;
          const float *vr[FA_BLOCK];
          for (int32_t j = 0; j < nb; j++)
            vr[j] = kv_f32(kt, vbase + (int64_t)(l0 + j) * rb + azc_kv_bytes(kt, d0), nd, vb[j]);
          float *o4[FA_TQ];
          const float *w4[FA_TQ];
          int n4 = 0;
          for (int64_t h = 0; h < G; h++)
            for (int64_t r = 0; r < nq; r++) {
              const int64_t row = h * FA_TQ + r;
              if (!live[row]) continue;
              o4[n4] = out + ((t0 + r) * H + g * G + h) * D + d0;
              w4[n4++] = sc[row];
              if (n4 == FA_TQ) fa_pv_rows(FA_TQ, nd, nb, o4, w4, vr), n4 = 0;
            }
          if (n4 == 3)
            fa_pv_rows(3, nd, nb, o4, w4, vr);
          else if (n4 == 2)
            fa_pv_rows(2, nd, nb, o4, w4, vr);
          else if (n4 == 1)
            fa_pv_rows(1, nd, nb, o4, w4, vr);
        }
      }
      for (int64_t h = 0; h < G; h++)
        for (int64_t r = 0; r < nq; r++) {
          float *o = out + ((t0 + r) * H + g * G + h) * D, inv = 1.0f / sum[h * FA_TQ + r];
          for (int64_t d = 0; d < D; d++) o[d] *= inv;
        }
    }
  }
}

/* ---- the other ops (unfused graphs; small, row-parallel) ---- */
/* get_rows: in[0] = table (V, D) of any type, in[1] = row indices (M) */
AZK_INLINE void azk_get_rows_impl(const azk_call_t *c, int ith, int nth,
                                  const azk_get_rows_params_t *p) {
  const int64_t D = p->D;
  const int32_t *idx = c->in[1];
  size_t rb = azc_dtype_row_size((azc_dtype_t)p->table_type, D);
  int64_t r0, r1;
  split_range(c->M, ith, nth, &r0, &r1);
  for (int64_t r = r0; r < r1; r++)
    azc_dequantize_row((azc_dtype_t)p->table_type, (const uint8_t *)c->in[0] + (size_t)idx[r] * rb,
                       (float *)c->out + r * D, D);
}

AZK_INLINE void azk_elementwise_impl(const azk_call_t *c, int ith, int nth,
                                     const azk_ew_params_t *p) {
  const int64_t D = p->D ? p->D : c->L; /* 0: rows of keys (unfused attention scores) */
  int64_t r0, r1;
  split_range(c->M * p->rows_per_m, ith, nth, &r0, &r1);
  const float *a = c->in[0], *b = c->in[1];
  float *o = c->out;
  for (int64_t r = r0; r < r1; r++)
    for (int64_t j = 0; j < D; j++) {
      int64_t i = r * D + j;
      float x = a[i];
      switch (p->op) {
      case AZK_EW_ADD: o[i] = x + b[p->broadcast ? j % p->b_len : i]; break;
      case AZK_EW_MUL: o[i] = x * b[p->broadcast ? j % p->b_len : i]; break;
      case AZK_EW_SCALE: o[i] = x * p->scale; break;
      case AZK_EW_SILU: o[i] = azk_silu(x); break;
      case AZK_EW_SOFTCAP: o[i] = azk_softcap(x, p->scale); break;
      default: o[i] = azk_gelu(x); break;
      }
    }
}

AZK_INLINE void azk_norm_impl(const azk_call_t *c, int ith, int nth, const azk_norm_params_t *p) {
  int64_t r0, r1, D = p->D;
  split_range(c->M * p->rows_per_m, ith, nth, &r0, &r1);
  for (int64_t r = r0; r < r1; r++)
    azk_norm_row((float *)c->out + r * D, (const float *)c->in[0] + r * D, D, p->layer_norm, p->eps,
                 NULL, NULL);
}

AZK_INLINE void azk_slice_impl(const azk_call_t *c, int ith, int nth, const azk_slice_params_t *p) {
  int64_t r0, r1;
  split_range(c->M, ith, nth, &r0, &r1);
  for (int64_t r = r0; r < r1; r++)
    memcpy((float *)c->out + r * p->len, (const float *)c->in[0] + r * p->in_width + p->start,
           (size_t)p->len * sizeof(float));
}

/* rope: in[0] = x (T, H, D), in[2] = frequency factors when has_factors */
AZK_INLINE void azk_rope_impl(const azk_call_t *c, int ith, int nth, const azk_rope_params_t *p) {
  int64_t r0, r1, H = p->n_head, D = p->head_dim;
  split_range(c->M, ith, nth, &r0, &r1);
  float cs[MAX_HEAD_DIM];
  for (int64_t t = r0; t < r1; t++) {
    float *o = (float *)c->out + t * H * D;
    memcpy(o, (const float *)c->in[0] + t * H * D, (size_t)(H * D) * sizeof(float));
    rope_table(cs, p->n_rot, c->pos[t], p->freq_base, p->freq_scale,
               p->has_factors ? c->in[2] : NULL);
    if (p->attn_factor != 1.0f)
      for (int i = 0; i < p->n_rot; i++) cs[i] *= p->attn_factor;
    for (int64_t h = 0; h < H; h++) rope_head(o + h * D, cs, p->n_rot, p->mode);
  }
}

/* kv_write: in[1] = rows (T, width) */
AZK_INLINE void azk_kv_write_impl(const azk_call_t *c, int ith, int nth,
                                  const azk_kv_write_params_t *p) {
  int64_t r0, r1, W = p->width;
  split_range(c->T, ith, nth, &r0, &r1);
  for (int64_t t = r0; t < r1; t++)
    azc_kv_store_ref(c->kv_type, kv_at(c, p->kind, W, c->seq[t], c->pos[t], 0),
                     (const float *)c->in[1] + t * W, W);
}

AZK_INLINE void azk_attn_scores_impl(const azk_call_t *c, int ith, int nth,
                                     const azk_attn_params_t *p) {
  int64_t H = p->n_head, Hkv = p->n_head_kv, D = p->head_dim, L = c->L, u0, u1;
  split_range(c->T * H, ith, nth, &u0, &u1);
  float kb[AZC_KV_MAX_HEAD_DIM];
  for (int64_t u = u0; u < u1; u++) {
    int64_t t = u / H, h = u % H, g = h / (H / Hkv);
    const float *q = (const float *)c->in[0] + u * D;
    float *o = (float *)c->out + u * L;
    for (int64_t l = 0; l < L; l++)
      o[l] = azk_vec_dot_f32(
          q, kv_f32(c->kv_type, kv_at(c, 0, Hkv * D, c->seq[t], (int32_t)l, g * D), D, kb), D);
  }
}

AZK_INLINE void azk_attn_values_impl(const azk_call_t *c, int ith, int nth,
                                     const azk_attn_params_t *p) {
  int64_t H = p->n_head, Hkv = p->n_head_kv, D = p->head_dim, L = c->L, u0, u1;
  split_range(c->T * H, ith, nth, &u0, &u1);
  float vb[AZC_KV_MAX_HEAD_DIM];
  for (int64_t u = u0; u < u1; u++) {
    int64_t t = u / H, h = u % H, g = h / (H / Hkv);
    const float *pr = (const float *)c->in[0] + u * L;
    float *o = (float *)c->out + u * D;
    for (int64_t d = 0; d < D; d++) o[d] = 0;
    for (int64_t l = 0; l < L; l++) {
      if (pr[l] == 0.0f) continue;
      const float *v =
          kv_f32(c->kv_type, kv_at(c, 1, Hkv * D, c->seq[t], (int32_t)l, g * D), D, vb);
      for (int64_t d = 0; d < D; d++) o[d] += pr[l] * v[d];
    }
  }
}

AZK_INLINE void azk_causal_mask_impl(const azk_call_t *c, int ith, int nth,
                                     const azk_attn_params_t *p) {
  int64_t H = p->n_head, L = c->L, u0, u1;
  split_range(c->T * H, ith, nth, &u0, &u1);
  for (int64_t u = u0; u < u1; u++) {
    int64_t t = u / H;
    const float *x = (const float *)c->in[0] + u * L;
    float *o = (float *)c->out + u * L;
    for (int64_t l = 0; l < L; l++)
      o[l] =
          l > c->pos[t] || (p->window > 0 && c->pos[t] - l >= p->window) ? -__builtin_inff() : x[l];
  }
}

AZK_INLINE void azk_softmax_impl(const azk_call_t *c, int ith, int nth,
                                 const azk_softmax_params_t *p) {
  int64_t W = p->W ? p->W : c->L, u0, u1;
  split_range(c->M * p->rows_per_m, ith, nth, &u0, &u1);
  for (int64_t u = u0; u < u1; u++) {
    const float *x = (const float *)c->in[0] + u * W;
    float *y = (float *)c->out + u * W, mx = -__builtin_inff();
    for (int64_t i = 0; i < W; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < W; i++) sum += y[i] = azk_expf(x[i] - mx);
    float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < W; i++) y[i] *= inv;
  }
}

/* Entry points the code generator's wrappers call (kept external in the
 * bitcode so they can be found by name; internalized once a wrapper exists). */
void azk_entry_matmul(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_matmul_impl(c, ith, nth, p);
}
void azk_entry_flash_attn(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_flash_attn_impl(c, ith, nth, p);
}
void azk_entry_get_rows(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_get_rows_impl(c, ith, nth, p);
}
void azk_entry_elementwise(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_elementwise_impl(c, ith, nth, p);
}
void azk_entry_norm(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_norm_impl(c, ith, nth, p);
}
void azk_entry_slice(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_slice_impl(c, ith, nth, p);
}
void azk_entry_rope(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_rope_impl(c, ith, nth, p);
}
void azk_entry_kv_write(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_kv_write_impl(c, ith, nth, p);
}
void azk_entry_attn_scores(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_attn_scores_impl(c, ith, nth, p);
}
void azk_entry_causal_mask(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_causal_mask_impl(c, ith, nth, p);
}
void azk_entry_softmax(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_softmax_impl(c, ith, nth, p);
}
void azk_entry_attn_values(const azk_call_t *c, int ith, int nth, const void *p) {
  azk_attn_values_impl(c, ith, nth, p);
}
