/* The portable implementation of azk_dot.h (included from there only).
 *
 * Plain C that needs no target features: it is the fallback for targets
 * without a hand-written path (x86-64 with SSE2 only, for one) and the
 * yardstick the SIMD paths are tested against. Each weight block is first
 * decoded to small integers in a stack array, then each activation row's
 * integer dot products are formed in fixed-length loops over int8 values,
 * which the auto-vectorizer turns into widening multiply-adds; the block and
 * sub-block scales are applied once per sub-block in integer arithmetic and
 * once per block in float, exactly like the SIMD paths, so all paths agree up
 * to the order of the float additions. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_DOT_SCALAR_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_DOT_SCALAR_H

AZK_INLINE float azk_scalar_half(const uint8_t *p) { return azk_half_bits_to_f32(azk_load_u16(p)); }

/* ---- activations ---- */

/* The largest |x[j]| of n values (NaN-free input assumed). */
AZK_INLINE float azk_scalar_amax(const float *x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; j++) {
    const float a = azk_absf(x[j]);
    amax = a > amax ? a : amax;
  }
  return amax;
}

/* Writes the row's qs, d and s (the q8 layout in azk_dot.h). */
static inline void azk_scalar_quantize_q8(const float *x, uint8_t *row, int64_t K) {
  int8_t *qs = (int8_t *)row;
  float *ds = (float *)(void *)(row + K), *ss = ds + K / AZC_QK;
  for (int64_t b = 0; b < K / AZC_QK; b++) {
    const float *xb = x + b * AZC_QK;
    const float amax = azk_scalar_amax(xb, AZC_QK);
    const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < AZC_QK; j++) {
      const int32_t q = azk_round_small(xb[j] * id);
      qs[b * AZC_QK + j] = (int8_t)q;
      sum += q;
    }
    /* d at half precision, as llama.cpp stores it in block_q8_0; s exactly d * sum */
    ds[b] = azk_half_round(d);
    ss[b] = ds[b] * (float)sum;
  }
}

/* bsums of a quantized Q8_K-style block, shared by every path. */
AZK_INLINE void azk_q8k_bsums(azk_block_q8k_t *y) {
  for (int i = 0; i < AZC_QK_K / 16; i++) {
    int32_t sum = 0;
    for (int j = 0; j < 16; j++) sum += y->qs[16 * i + j];
    y->bsums[i] = (int16_t)sum;
  }
  for (int i = 0; i < 7; i++) y->pad[i] = 0;
}

static inline void azk_scalar_quantize_q8k(const float *x, azk_block_q8k_t *y, int64_t K) {
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const float *xb = x + b * AZC_QK_K;
    const float amax = azk_scalar_amax(xb, AZC_QK_K);
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < AZC_QK_K; j++) y[b].qs[j] = (int8_t)azk_round_small(xb[j] * id);
    y[b].d = amax / 127.0f;
    azk_q8k_bsums(&y[b]);
  }
}

/* ---- F32 / F16 / BF16 weights against float activations ---- */

AZK_INLINE float azk_scalar_weight(int wtype, const uint8_t *w, int64_t i) {
  if (wtype == AZC_DTYPE_F32) {
    float f;
    __builtin_memcpy(&f, w + 4 * i, 4);
    return f;
  }
  const uint16_t h = azk_load_u16(w + 2 * i);
  return wtype == AZC_DTYPE_F16 ? azk_half_bits_to_f32(h) : azk_bf16_bits_to_f32(h);
}

enum { AZK_SCALAR_LANES = 16 };

AZK_INLINE float azk_scalar_lanes_sum(float *acc) {
  for (int width = AZK_SCALAR_LANES / 2; width > 0; width /= 2)
    for (int l = 0; l < width; l++) acc[l] += acc[l + width];
  return acc[0];
}

/* F16/BF16 weights are converted a chunk at a time in a plain loop (which
 * the loop vectorizer handles; inside the lane loop only the SLP vectorizer
 * would look at the conversion, and it does that badly), then multiplied
 * into AZK_SCALAR_LANES accumulators per row; F32 goes straight to the
 * lane loop. */
enum { AZK_SCALAR_CHUNK = 256 };

AZK_INLINE void azk_scalar_rows_plain(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                      size_t xs, int R, float *out) {
  float acc[AZK_MAX_ROWS][AZK_SCALAR_LANES];
  for (int r = 0; r < R; r++)
    for (int l = 0; l < AZK_SCALAR_LANES; l++) acc[r][l] = 0.0f;
  int64_t i = 0;
  for (; wtype != AZC_DTYPE_F32 && i + AZK_SCALAR_CHUNK <= K; i += AZK_SCALAR_CHUNK) {
    float wv[AZK_SCALAR_CHUNK];
    for (int j = 0; j < AZK_SCALAR_CHUNK; j++) wv[j] = azk_scalar_weight(wtype, w, i + j);
    for (int r = 0; r < R; r++) {
      const float *xr = (const float *)(const void *)(x + (size_t)r * xs) + i;
      for (int j = 0; j < AZK_SCALAR_CHUNK; j += AZK_SCALAR_LANES)
        for (int l = 0; l < AZK_SCALAR_LANES; l++) acc[r][l] += wv[j + l] * xr[j + l];
    }
  }
  for (; i + AZK_SCALAR_LANES <= K; i += AZK_SCALAR_LANES)
    for (int r = 0; r < R; r++) {
      const float *xr = (const float *)(const void *)(x + (size_t)r * xs) + i;
      for (int l = 0; l < AZK_SCALAR_LANES; l++)
        acc[r][l] += azk_scalar_weight(wtype, w, i + l) * xr[l];
    }
  for (int r = 0; r < R; r++) {
    const float *xr = (const float *)(const void *)(x + (size_t)r * xs);
    float sum = azk_scalar_lanes_sum(acc[r]);
    for (int64_t j = i; j < K; j++) sum += azk_scalar_weight(wtype, w, j) * xr[j];
    out[r] = sum;
  }
}

/* ---- 32-value blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ---- */

/* 16 if bit j of the 32-bit little-endian qh is set, else 0. */
AZK_INLINE int azk_scalar_q5_bit(const uint8_t qh[4], int j) {
  return ((qh[j >> 3] >> (j & 7)) & 1) << 4;
}

/* One weight block as integers: value j = d * q[j] + m. */
AZK_INLINE void azk_scalar_decode_b32(int wtype, const uint8_t *wb, int8_t q[AZC_QK], float *d,
                                      float *m) {
  *m = 0.0f;
  switch (wtype) {
  case AZC_DTYPE_Q4_0: {
    const azc_block_q4_0_t *b = (const azc_block_q4_0_t *)(const void *)wb;
    *d = azk_scalar_half(b->d);
    for (int j = 0; j < AZC_QK / 2; j++) {
      q[j] = (int8_t)((b->qs[j] & 15) - 8);
      q[j + AZC_QK / 2] = (int8_t)((b->qs[j] >> 4) - 8);
    }
    break;
  }
  case AZC_DTYPE_Q4_1: {
    const azc_block_q4_1_t *b = (const azc_block_q4_1_t *)(const void *)wb;
    *d = azk_scalar_half(b->d);
    *m = azk_scalar_half(b->m);
    for (int j = 0; j < AZC_QK / 2; j++) {
      q[j] = (int8_t)(b->qs[j] & 15);
      q[j + AZC_QK / 2] = (int8_t)(b->qs[j] >> 4);
    }
    break;
  }
  case AZC_DTYPE_Q5_0: {
    const azc_block_q5_0_t *b = (const azc_block_q5_0_t *)(const void *)wb;
    *d = azk_scalar_half(b->d);
    for (int j = 0; j < AZC_QK / 2; j++) {
      q[j] = (int8_t)(((b->qs[j] & 15) | azk_scalar_q5_bit(b->qh, j)) - 16);
      q[j + AZC_QK / 2] = (int8_t)(((b->qs[j] >> 4) | azk_scalar_q5_bit(b->qh, j + 16)) - 16);
    }
    break;
  }
  case AZC_DTYPE_Q5_1: {
    const azc_block_q5_1_t *b = (const azc_block_q5_1_t *)(const void *)wb;
    *d = azk_scalar_half(b->d);
    *m = azk_scalar_half(b->m);
    for (int j = 0; j < AZC_QK / 2; j++) {
      q[j] = (int8_t)((b->qs[j] & 15) | azk_scalar_q5_bit(b->qh, j));
      q[j + AZC_QK / 2] = (int8_t)((b->qs[j] >> 4) | azk_scalar_q5_bit(b->qh, j + 16));
    }
    break;
  }
  default: { /* Q8_0 */
    const azc_block_q8_0_t *b = (const azc_block_q8_0_t *)(const void *)wb;
    *d = azk_scalar_half(b->d);
    for (int j = 0; j < AZC_QK; j++) q[j] = b->qs[j];
    break;
  }
  }
}

AZK_INLINE int32_t azk_scalar_idot(const int8_t *a, const int8_t *b, int n) {
  int32_t sum = 0;
  for (int j = 0; j < n; j++) sum += (int32_t)a[j] * (int32_t)b[j];
  return sum;
}

AZK_INLINE void azk_scalar_rows_b32(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                    size_t xs, int R, float *out) {
  const size_t bytes = (size_t)azk_wtype_block_bytes(wtype);
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK; b++) {
    int8_t q[AZC_QK];
    float d, m;
    azk_scalar_decode_b32(wtype, w + (size_t)b * bytes, q, &d, &m);
    for (int r = 0; r < R; r++) {
      const uint8_t *xr = x + (size_t)r * xs;
      const int32_t sum = azk_scalar_idot(q, azk_q8_qs(xr) + b * AZC_QK, AZC_QK);
      acc[r] += (d * azk_q8_d(xr, K)[b]) * (float)sum;
      if (wtype == AZC_DTYPE_Q4_1 || wtype == AZC_DTYPE_Q5_1) acc[r] += m * azk_q8_s(xr, K)[b];
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

/* ---- K-quants (256-value super-blocks) ---- */

AZK_INLINE const azk_block_q8k_t *azk_scalar_xk(const uint8_t *x, size_t xs, int r, int64_t b) {
  return (const azk_block_q8k_t *)(const void *)(x + (size_t)r * xs) + b;
}

/* sum_j sc[j] * (the 16-value dot of sub-block j), for 16 sub-blocks. */
AZK_INLINE int32_t azk_scalar_idot16_scaled(const int8_t *q, const int8_t *xq, const int8_t *sc) {
  int32_t sum = 0;
  for (int j = 0; j < 16; j++) sum += sc[j] * azk_scalar_idot(q + 16 * j, xq + 16 * j, 16);
  return sum;
}

AZK_INLINE void azk_scalar_rows_q2_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                                     int R, float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q2_k_t *blk = (const azc_block_q2_k_t *)(const void *)w + b;
    const float d = azk_scalar_half(blk->d), dmin = azk_scalar_half(blk->dmin);
    int8_t q[AZC_QK_K], sc[16], mn[16];
    for (int j = 0; j < 16; j++) {
      sc[j] = (int8_t)(blk->scales[j] & 15);
      mn[j] = (int8_t)(blk->scales[j] >> 4);
    }
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < 4; k++)
        for (int l = 0; l < 32; l++)
          q[128 * h + 32 * k + l] = (int8_t)((blk->qs[32 * h + l] >> (2 * k)) & 3);
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_scalar_xk(x, xs, r, b);
      const int32_t isum = azk_scalar_idot16_scaled(q, xb->qs, sc);
      int32_t msum = 0;
      for (int j = 0; j < 16; j++) msum += mn[j] * xb->bsums[j];
      acc[r] += xb->d * (d * (float)isum - dmin * (float)msum);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

AZK_INLINE void azk_scalar_rows_q3_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                                     int R, float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q3_k_t *blk = (const azc_block_q3_k_t *)(const void *)w + b;
    const float d = azk_scalar_half(blk->d);
    uint32_t s32[4];
    azk_k3_scales(blk->scales, s32);
    uint8_t s8[16];
    __builtin_memcpy(s8, s32, 16);
    int8_t q[AZC_QK_K], sc[16];
    for (int j = 0; j < 16; j++) sc[j] = (int8_t)(s8[j] - 32);
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < 4; k++)
        for (int l = 0; l < 32; l++) {
          const int low = (blk->qs[32 * h + l] >> (2 * k)) & 3;
          const int high = (blk->hmask[l] >> (4 * h + k)) & 1;
          q[128 * h + 32 * k + l] = (int8_t)(low - (high ? 0 : 4));
        }
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_scalar_xk(x, xs, r, b);
      acc[r] += (d * xb->d) * (float)azk_scalar_idot16_scaled(q, xb->qs, sc);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

/* Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins. */
AZK_INLINE void azk_scalar_rows_k45(int bits, int unpacked, int64_t K, const uint8_t *w,
                                    const uint8_t *x, size_t xs, int R, float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const uint8_t *d16, *dmin16, *scales, *qs, *qh = NULL;
    const uint8_t *sm_u = NULL; /* unpacked layout: the 16 scale/min bytes */
    if (unpacked && bits == 4) {
      const azk_block_q4_k_u_t *blk = (const azk_block_q4_k_u_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = NULL, sm_u = blk->sm, qs = blk->qs;
    } else if (unpacked) {
      const azk_block_q5_k_u_t *blk = (const azk_block_q5_k_u_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = NULL, sm_u = blk->sm, qs = blk->qs, qh = blk->qh;
    } else if (bits == 4) {
      const azc_block_q4_k_t *blk = (const azc_block_q4_k_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = blk->scales, qs = blk->qs;
    } else {
      const azc_block_q5_k_t *blk = (const azc_block_q5_k_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = blk->scales, qs = blk->qs, qh = blk->qh;
    }
    const float d = azk_scalar_half(d16), dmin = azk_scalar_half(dmin16);
    uint32_t s32[4];
    if (sm_u)
      __builtin_memcpy(s32, sm_u, 16);
    else
      azk_k4_scales(scales, s32);
    uint8_t sm[16]; /* scales 0..7, mins 8..15 */
    __builtin_memcpy(sm, s32, 16);
    int8_t q[AZC_QK_K];
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) {
        int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
        if (bits == 5) {
          lo |= ((qh[l] >> (2 * c)) & 1) << 4;
          hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        q[64 * c + l] = (int8_t)lo;
        q[64 * c + 32 + l] = (int8_t)hi;
      }
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_scalar_xk(x, xs, r, b);
      int32_t isum = 0, msum = 0;
      for (int j = 0; j < 8; j++) {
        isum += sm[j] * azk_scalar_idot(q + 32 * j, xb->qs + 32 * j, 32);
        msum += sm[8 + j] * (xb->bsums[2 * j] + xb->bsums[2 * j + 1]);
      }
      acc[r] += xb->d * (d * (float)isum - dmin * (float)msum);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

AZK_INLINE void azk_scalar_rows_q4_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                                     int R, float *out) {
  azk_scalar_rows_k45(4, 0, K, w, x, xs, R, out);
}

AZK_INLINE void azk_scalar_rows_q5_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                                     int R, float *out) {
  azk_scalar_rows_k45(5, 0, K, w, x, xs, R, out);
}

AZK_INLINE void azk_scalar_rows_q6_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                                     int R, float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q6_k_t *blk = (const azc_block_q6_k_t *)(const void *)w + b;
    const float d = azk_scalar_half(blk->d);
    int8_t q[AZC_QK_K];
    for (int h = 0; h < 2; h++) {
      const uint8_t *ql = blk->ql + 64 * h, *qh = blk->qh + 32 * h;
      int8_t *o = q + 128 * h;
      for (int l = 0; l < 32; l++) {
        o[l] = (int8_t)(((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
        o[l + 32] = (int8_t)(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_scalar_xk(x, xs, r, b);
      acc[r] += (d * xb->d) * (float)azk_scalar_idot16_scaled(q, xb->qs, blk->scales);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

/* ---- float helpers ---- */

static inline float azk_scalar_dot_f32(const float *a, const float *b, int64_t n) {
  float acc[AZK_SCALAR_LANES] = {0};
  int64_t i = 0;
  for (; i + AZK_SCALAR_LANES <= n; i += AZK_SCALAR_LANES)
    for (int l = 0; l < AZK_SCALAR_LANES; l++) acc[l] += a[i + l] * b[i + l];
  float sum = azk_scalar_lanes_sum(acc);
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

static inline void azk_scalar_axpy_f32(int64_t n, float alpha, const float *x, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* ---- x8 groups (azk_dot.h): 8 interleaved Q4_0 / Q5_0 / Q8_0 / Q4_K rows ---- */

AZK_INLINE void azk_scalar_x8_q4_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  for (int r = 0; r < R; r++) {
    const azk_block_q8k_t *xb = (const azk_block_q8k_t *)(const void *)(x + (size_t)r * xs);
    for (int l = 0; l < 8; l++) {
      float sum = 0;
      for (int64_t b = 0; b < K / AZC_QK_K; b++) {
        const azk_block_q4_k_x8_t *g = (const azk_block_q4_k_x8_t *)(const void *)w + b;
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
          int32_t s = 0, xsum = 0;
          for (int i = 0; i < 32; i++) {
            const uint8_t v = g->qs[256 * (j / 2) + 32 * (i / 4) + 4 * l + i % 4];
            s += (j % 2 ? v >> 4 : v & 15) * xb[b].qs[32 * j + i];
            xsum += xb[b].qs[32 * j + i];
          }
          isum += g->sc[8 * j + l] * s;
          msum += g->mn[16 * (j / 2) + 2 * l + j % 2] * xsum;
        }
        sum += xb[b].d * (azk_scalar_half(g->d + 2 * l) * (float)isum -
                          azk_scalar_half(g->dmin + 2 * l) * (float)msum);
      }
      out[8 * r + l] = sum;
    }
  }
}

AZK_INLINE void azk_scalar_x8(int wtype, int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                              int R, float *out) {
  if (wtype == AZK_WTYPE_Q4_K_X8) {
    azk_scalar_x8_q4_k(K, w, x, xs, R, out);
    return;
  }
  const int64_t nb = K / AZC_QK;
  const size_t gb = 8 * (size_t)azk_wtype_block_bytes(wtype);
  for (int r = 0; r < R; r++) {
    const uint8_t *xr = x + (size_t)r * xs;
    for (int l = 0; l < 8; l++) {
      float sum = 0;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *g = w + (size_t)b * gb;
        const int8_t *q = azk_q8_qs(xr) + b * AZC_QK;
        int32_t isum = 0;
        if (wtype == AZK_WTYPE_Q4_0_X8) {
          for (int i = 0; i < 16; i++) {
            const uint8_t v = g[16 + 32 * (i / 4) + 4 * l + i % 4];
            isum += ((v & 15) - 8) * q[i] + ((v >> 4) - 8) * q[i + 16];
          }
        } else if (wtype == AZK_WTYPE_Q5_0_X8) {
          const azk_block_q5_0_x8_t *g5 = (const azk_block_q5_0_x8_t *)(const void *)g;
          for (int i = 0; i < 16; i++) {
            const uint8_t v = g5->qs[32 * (i / 4) + 4 * l + i % 4];
            const int bit = 4 * l + i % 4, c = i / 4;
            const int h0 = (int)((azk_load_u32(g5->qh + 4 * (2 * c)) >> bit) & 1u) << 4;
            const int h1 = (int)((azk_load_u32(g5->qh + 4 * (2 * c + 1)) >> bit) & 1u) << 4;
            isum += (((v & 15) | h0) - 16) * q[i] + (((v >> 4) | h1) - 16) * q[i + 16];
          }
        } else {
          for (int i = 0; i < 32; i++) isum += (int8_t)g[16 + 32 * (i / 4) + 4 * l + i % 4] * q[i];
        }
        sum += azk_scalar_half(g + 2 * l) * azk_q8_d(xr, K)[b] * (float)isum;
      }
      out[8 * r + l] = sum;
    }
  }
}

#endif
