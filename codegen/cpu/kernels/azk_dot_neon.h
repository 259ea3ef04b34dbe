/* The AArch64 NEON implementation of azk_dot.h (included from there only).
 *
 * NEON multiplies signed bytes by signed bytes, so weights are decoded to
 * their signed values (Q4_0: q - 8, Q6_K: q - 32, ...) and no offset terms
 * are needed; only the mins of Q4_1, Q5_1 and the K-quants are separate. The
 * 16-byte integer dot is sdot with +dotprod (armv8.2-a) and smull + smlal2 +
 * sadalp without it; both give the same sums. Sub-block scales are applied
 * to the int32 lanes with a multiply-accumulate by a scalar, and each block's
 * float scale once per block and row. As on x86, every kernel unpacks a weight
 * block once for R activation rows. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_DOT_NEON_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_DOT_NEON_H

#include <arm_neon.h>

/* Accumulator chains per row of the 32-value kernels: one for every R, so
 * that a row's sum does not depend on how many rows share its tile (batch
 * invariance: a sequence's logits are the same alone or batched). */
#define AZK_NEON_CHAINS(R) 1

AZK_INLINE float azk_neon_half(const uint8_t *p) {
  __fp16 h;
  __builtin_memcpy(&h, p, 2);
  return (float)h;
}

/* acc + products of a and b, 16 bytes (only the sum over all lanes is meaningful). */
AZK_INLINE int32x4_t azk_neon_dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), a, b);
  return vpadalq_s16(acc, p);
#endif
}

AZK_INLINE int32x4_t azk_neon_dot32(int8x16_t a0, int8x16_t a1, const int8_t *x) {
  return azk_neon_dot(azk_neon_dot(vdupq_n_s32(0), a0, vld1q_s8(x)), a1, vld1q_s8(x + 16));
}

AZK_INLINE int8x16_t azk_neon_s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* v >> n per byte for a shift count known only after inlining. */
AZK_INLINE uint8x16_t azk_neon_shr(uint8x16_t v, int n) {
  return vshlq_u8(v, vdupq_n_s8((int8_t)-n));
}

/* ---- activations ---- */

AZK_INLINE float azk_neon_amax(const float *x, int n) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int j = 0; j < n; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
  return vmaxvq_f32(m);
}

/* Rounds x[0..32) * id to int8 (ties to even), stores them, returns their sum. */
AZK_INLINE int32_t azk_neon_round32(const float *x, float id, int8_t *q) {
  int32x4_t v[8], sum = vdupq_n_s32(0);
  for (int k = 0; k < 8; k++) {
    v[k] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * k), id));
    sum = vaddq_s32(sum, v[k]);
  }
  for (int k = 0; k < 2; k++) {
    const int16x8_t a = vcombine_s16(vmovn_s32(v[4 * k]), vmovn_s32(v[4 * k + 1]));
    const int16x8_t b = vcombine_s16(vmovn_s32(v[4 * k + 2]), vmovn_s32(v[4 * k + 3]));
    vst1q_s8(q + 16 * k, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
  }
  return vaddvq_s32(sum);
}

static inline void azk_neon_quantize_q8(const float *x, uint8_t *row, int64_t K) {
  float *ds = (float *)(void *)(row + K), *ss = ds + K / AZC_QK;
  for (int64_t b = 0; b < K / AZC_QK; b++) {
    const float amax = azk_neon_amax(x + b * AZC_QK, AZC_QK);
    const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const int32_t sum = azk_neon_round32(x + b * AZC_QK, id, (int8_t *)row + b * AZC_QK);
    /* d at half precision, as llama.cpp stores it in block_q8_0; s exactly d * sum */
    ds[b] = azk_half_round(d);
    ss[b] = ds[b] * (float)sum;
  }
}

static inline void azk_neon_quantize_q8k(const float *x, azk_block_q8k_t *y, int64_t K) {
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const float *xb = x + b * AZC_QK_K;
    const float amax = azk_neon_amax(xb, AZC_QK_K);
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < AZC_QK_K; j += 32) (void)azk_neon_round32(xb + j, id, y[b].qs + j);
    y[b].d = amax / 127.0f;
    azk_q8k_bsums(&y[b]);
  }
}

/* ---- F32 / F16 / BF16 weights against float activations ---- */

AZK_INLINE float32x4_t azk_neon_loadw(int wtype, const uint8_t *w, int64_t i) {
  if (wtype == AZC_DTYPE_F32) return vld1q_f32((const float *)(const void *)(w + 4 * i));
  const uint16x4_t h = vld1_u16((const uint16_t *)(const void *)(w + 2 * i));
  if (wtype == AZC_DTYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
  return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

AZK_INLINE void azk_neon_rows_plain(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                    size_t xs, int R, float *out) {
  const float *xr[AZK_MAX_ROWS];
  float32x4_t acc[AZK_MAX_ROWS][4];
  for (int r = 0; r < R; r++) {
    xr[r] = (const float *)(const void *)(x + (size_t)r * xs);
    for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 16 <= K; i += 16)
    for (int c = 0; c < 4; c++) {
      const float32x4_t wv = azk_neon_loadw(wtype, w, i + 4 * c);
      for (int r = 0; r < R; r++)
        acc[r][c] = vfmaq_f32(acc[r][c], wv, vld1q_f32(xr[r] + i + 4 * c));
    }
  for (; i + 4 <= K; i += 4) {
    const float32x4_t wv = azk_neon_loadw(wtype, w, i);
    for (int r = 0; r < R; r++) acc[r][0] = vfmaq_f32(acc[r][0], wv, vld1q_f32(xr[r] + i));
  }
  for (int r = 0; r < R; r++) {
    const float32x4_t a =
        vaddq_f32(vaddq_f32(acc[r][0], acc[r][1]), vaddq_f32(acc[r][2], acc[r][3]));
    float sum = vaddvq_f32(a);
    for (int64_t j = i; j < K; j++) sum += azk_scalar_weight(wtype, w, j) * xr[r][j];
    out[r] = sum;
  }
}

/* ---- 32-value blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ---- */

/* 0x10 in byte j where bit j of the little-endian 32 bits at qh is set:
 * values 0..15 in lo, 16..31 in hi. */
AZK_INLINE void azk_neon_q5_high(const uint8_t *qh, uint8x16_t *lo, uint8x16_t *hi) {
  const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
  const uint8x16_t v16 = vdupq_n_u8(16);
  const uint8x16_t a = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
  const uint8x16_t b = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
  *lo = vandq_u8(vtstq_u8(a, bits), v16);
  *hi = vandq_u8(vtstq_u8(b, bits), v16);
}

/* Weight block b against R activation rows: acc[r] += the integer dot times
 * both scales, off[r] += the block's min (Q4_1, Q5_1) times the row's s. */
AZK_INLINE void azk_neon_block_b32(int wtype, const uint8_t *wb, const uint8_t *x, size_t xs,
                                   int64_t K, int64_t b, int R, float32x4_t *acc, float *off) {
  int8x16_t w0, w1;
  float d, m = 0.0f;
  if (wtype == AZC_DTYPE_Q8_0) {
    const azc_block_q8_0_t *blk = (const azc_block_q8_0_t *)(const void *)wb;
    d = azk_neon_half(blk->d);
    w0 = vld1q_s8(blk->qs), w1 = vld1q_s8(blk->qs + 16);
  } else {
    const uint8_t *qs, *qh = NULL;
    int bias = 0;
    if (wtype == AZC_DTYPE_Q4_0) {
      const azc_block_q4_0_t *blk = (const azc_block_q4_0_t *)(const void *)wb;
      d = azk_neon_half(blk->d), qs = blk->qs, bias = 8;
    } else if (wtype == AZC_DTYPE_Q4_1) {
      const azc_block_q4_1_t *blk = (const azc_block_q4_1_t *)(const void *)wb;
      d = azk_neon_half(blk->d), m = azk_neon_half(blk->m), qs = blk->qs;
    } else if (wtype == AZC_DTYPE_Q5_0) {
      const azc_block_q5_0_t *blk = (const azc_block_q5_0_t *)(const void *)wb;
      d = azk_neon_half(blk->d), qs = blk->qs, qh = blk->qh, bias = 16;
    } else {
      const azc_block_q5_1_t *blk = (const azc_block_q5_1_t *)(const void *)wb;
      d = azk_neon_half(blk->d), m = azk_neon_half(blk->m), qs = blk->qs, qh = blk->qh;
    }
    const uint8x16_t raw = vld1q_u8(qs);
    uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(15)), hi = vshrq_n_u8(raw, 4);
    if (qh) {
      uint8x16_t h_lo, h_hi;
      azk_neon_q5_high(qh, &h_lo, &h_hi);
      lo = vorrq_u8(lo, h_lo), hi = vorrq_u8(hi, h_hi);
    }
    w0 = vsubq_s8(azk_neon_s8(lo), vdupq_n_s8((int8_t)bias));
    w1 = vsubq_s8(azk_neon_s8(hi), vdupq_n_s8((int8_t)bias));
  }
  for (int r = 0; r < R; r++) {
    const uint8_t *xr = x + (size_t)r * xs;
    const int32x4_t p = azk_neon_dot32(w0, w1, azk_q8_qs(xr) + b * AZC_QK);
    acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(p), d * azk_q8_d(xr, K)[b]);
    if (wtype == AZC_DTYPE_Q4_1 || wtype == AZC_DTYPE_Q5_1) off[r] += m * azk_q8_s(xr, K)[b];
  }
}

AZK_INLINE void azk_neon_rows_b32(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                  size_t xs, int R, float *out) {
  const int C = AZK_NEON_CHAINS(R);
  const size_t wbytes = (size_t)azk_wtype_block_bytes(wtype);
  const int64_t nb = K / AZC_QK;
  float32x4_t acc[AZK_MAX_ROWS * 4];
  float off[AZK_MAX_ROWS * 4];
  for (int a = 0; a < R * C; a++) acc[a] = vdupq_n_f32(0.0f), off[a] = 0.0f;
  int64_t b = 0;
  for (; b + C <= nb; b += C)
    for (int c = 0; c < C; c++)
      azk_neon_block_b32(wtype, w + (size_t)(b + c) * wbytes, x, xs, K, b + c, R, acc + c * R,
                         off + c * R);
  for (; b < nb; b++) azk_neon_block_b32(wtype, w + (size_t)b * wbytes, x, xs, K, b, R, acc, off);
  for (int r = 0; r < R; r++) {
    float32x4_t a = acc[r];
    float o = off[r];
    for (int c = 1; c < C; c++) a = vaddq_f32(a, acc[c * R + r]), o += off[c * R + r];
    out[r] = vaddvq_f32(a) + o;
  }
}

/* ---- K-quants ---- */

AZK_INLINE const azk_block_q8k_t *azk_neon_xk(const uint8_t *x, size_t xs, int r, int64_t b) {
  return (const azk_block_q8k_t *)(const void *)(x + (size_t)r * xs) + b;
}

/* sum_j m[j] * bsums[j] over 16 sub-blocks (m as int16). */
AZK_INLINE int32_t azk_neon_bsums16(const int16_t *bsums, int16x8_t m0, int16x8_t m1) {
  const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
  int32x4_t s = vmull_s16(vget_low_s16(b0), vget_low_s16(m0));
  s = vmlal_high_s16(s, b0, m0);
  s = vmlal_s16(s, vget_low_s16(b1), vget_low_s16(m1));
  s = vmlal_high_s16(s, b1, m1);
  return vaddvq_s32(s);
}

/* Q2_K, Q3_K and Q6_K: two halves of 128 values, four 32-value planes each,
 * every 16 values a sub-block with its own scale sc[8 h + 2 k + p]. plane()
 * gives the signed values of part p (16 bytes) of plane k of half h. */
#define AZK_NEON_K16_PLANES(blk, R, x, xs, b, sc, plane, isum)                                     \
  for (int h = 0; h < 2; h++)                                                                      \
    for (int k = 0; k < 4; k++)                                                                    \
      for (int p = 0; p < 2; p++) {                                                                \
        const int8x16_t q = plane(blk, h, k, p);                                                   \
        const int32_t s = sc[8 * h + 2 * k + p];                                                   \
        for (int r = 0; r < R; r++) {                                                              \
          const int8_t *xq = azk_neon_xk(x, xs, r, b)->qs + 128 * h + 32 * k + 16 * p;             \
          isum[r] = vmlaq_n_s32(isum[r], azk_neon_dot(vdupq_n_s32(0), q, vld1q_s8(xq)), s);        \
        }                                                                                          \
      }

AZK_INLINE int8x16_t azk_neon_q2_plane(const azc_block_q2_k_t *blk, int h, int k, int p) {
  const uint8x16_t Q = vld1q_u8(blk->qs + 32 * h + 16 * p);
  return azk_neon_s8(vandq_u8(azk_neon_shr(Q, 2 * k), vdupq_n_u8(3)));
}

AZK_INLINE void azk_neon_rows_q2_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q2_k_t *blk = (const azc_block_q2_k_t *)(const void *)w + b;
    const float d = azk_neon_half(blk->d), dmin = azk_neon_half(blk->dmin);
    int32_t sc[16];
    for (int j = 0; j < 16; j++) sc[j] = blk->scales[j] & 15;
    const uint8x16_t mn = vshrq_n_u8(vld1q_u8(blk->scales), 4);
    const int16x8_t mn0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn)));
    const int16x8_t mn1 = vreinterpretq_s16_u16(vmovl_high_u8(mn));
    int32x4_t isum[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) isum[r] = vdupq_n_s32(0);
    AZK_NEON_K16_PLANES(blk, R, x, xs, b, sc, azk_neon_q2_plane, isum)
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_neon_xk(x, xs, r, b);
      const int32_t msum = azk_neon_bsums16(xb->bsums, mn0, mn1);
      acc[r] += xb->d * (d * (float)vaddvq_s32(isum[r]) - dmin * (float)msum);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

AZK_INLINE int8x16_t azk_neon_q3_plane(const azc_block_q3_k_t *blk, int h, int k, int p) {
  const uint8x16_t Q = vld1q_u8(blk->qs + 32 * h + 16 * p), H = vld1q_u8(blk->hmask + 16 * p);
  const uint8x16_t low = vandq_u8(azk_neon_shr(Q, 2 * k), vdupq_n_u8(3));
  const uint8x16_t high = vandq_u8(azk_neon_shr(H, 4 * h + k), vdupq_n_u8(1));
  return vsubq_s8(azk_neon_s8(vorrq_u8(low, vshlq_n_u8(high, 2))), vdupq_n_s8(4));
}

AZK_INLINE void azk_neon_rows_q3_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q3_k_t *blk = (const azc_block_q3_k_t *)(const void *)w + b;
    const float d = azk_neon_half(blk->d);
    uint32_t s32[4];
    azk_k3_scales(blk->scales, s32);
    uint8_t s8[16];
    __builtin_memcpy(s8, s32, 16);
    int32_t sc[16];
    for (int j = 0; j < 16; j++) sc[j] = (int32_t)s8[j] - 32;
    int32x4_t isum[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) isum[r] = vdupq_n_s32(0);
    AZK_NEON_K16_PLANES(blk, R, x, xs, b, sc, azk_neon_q3_plane, isum)
    for (int r = 0; r < R; r++)
      acc[r] += (d * azk_neon_xk(x, xs, r, b)->d) * (float)vaddvq_s32(isum[r]);
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

AZK_INLINE int8x16_t azk_neon_q6_plane(const azc_block_q6_k_t *blk, int h, int k, int p) {
  const uint8x16_t L = vld1q_u8(blk->ql + 64 * h + 32 * (k & 1) + 16 * p);
  const uint8x16_t H = vld1q_u8(blk->qh + 32 * h + 16 * p);
  const uint8x16_t low = k < 2 ? vandq_u8(L, vdupq_n_u8(15)) : vshrq_n_u8(L, 4);
  const uint8x16_t high = vandq_u8(azk_neon_shr(H, 2 * k), vdupq_n_u8(3));
  return vsubq_s8(azk_neon_s8(vorrq_u8(low, vshlq_n_u8(high, 4))), vdupq_n_s8(32));
}

AZK_INLINE void azk_neon_rows_q6_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  float acc[AZK_MAX_ROWS] = {0};
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q6_k_t *blk = (const azc_block_q6_k_t *)(const void *)w + b;
    const float d = azk_neon_half(blk->d);
    const int8_t *sc = blk->scales;
    int32x4_t isum[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) isum[r] = vdupq_n_s32(0);
    AZK_NEON_K16_PLANES(blk, R, x, xs, b, sc, azk_neon_q6_plane, isum)
    for (int r = 0; r < R; r++)
      acc[r] += (d * azk_neon_xk(x, xs, r, b)->d) * (float)vaddvq_s32(isum[r]);
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

/* Q4_K and Q5_K: four chunks of 64 values (low nibbles one sub-block of 32,
 * high nibbles the next), 6-bit scales and mins. */
AZK_INLINE void azk_neon_rows_k45(int bits, int unpacked, int64_t K, const uint8_t *w, const uint8_t *x,
                                  size_t xs, int R, float *out) {
  const uint8x16_t m4 = vdupq_n_u8(15), one = vdupq_n_u8(1), two = vdupq_n_u8(2);
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
    const float d = azk_neon_half(d16), dmin = azk_neon_half(dmin16);
    uint32_t s32[4];
    if (sm_u) __builtin_memcpy(s32, sm_u, 16);
    else azk_k4_scales(scales, s32);
    uint8_t sm[16]; /* scales 0..7, mins 8..15 */
    __builtin_memcpy(sm, s32, 16);
    /* each min covers two bsums: duplicate it */
    const uint8x8_t mins8 = vld1_u8(sm + 8);
    const int16x8_t mn0 = vreinterpretq_s16_u16(vmovl_u8(vzip1_u8(mins8, mins8)));
    const int16x8_t mn1 = vreinterpretq_s16_u16(vmovl_u8(vzip2_u8(mins8, mins8)));
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (bits == 5) h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
    int32x4_t isum[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) isum[r] = vdupq_n_s32(0);
    for (int c = 0; c < 4; c++) {
      const uint8x16_t q0 = vld1q_u8(qs + 32 * c), q1 = vld1q_u8(qs + 32 * c + 16);
      uint8x16_t l0 = vandq_u8(q0, m4), l1 = vandq_u8(q1, m4);
      uint8x16_t u0 = vshrq_n_u8(q0, 4), u1 = vshrq_n_u8(q1, 4);
      if (bits == 5) {
        l0 = vorrq_u8(l0, vshlq_n_u8(vandq_u8(h0, one), 4));
        l1 = vorrq_u8(l1, vshlq_n_u8(vandq_u8(h1, one), 4));
        u0 = vorrq_u8(u0, vshlq_n_u8(vandq_u8(h0, two), 3));
        u1 = vorrq_u8(u1, vshlq_n_u8(vandq_u8(h1, two), 3));
        h0 = vshrq_n_u8(h0, 2), h1 = vshrq_n_u8(h1, 2);
      }
      for (int r = 0; r < R; r++) {
        const int8_t *xq = azk_neon_xk(x, xs, r, b)->qs + 64 * c;
        const int32x4_t p_lo = azk_neon_dot32(azk_neon_s8(l0), azk_neon_s8(l1), xq);
        const int32x4_t p_hi = azk_neon_dot32(azk_neon_s8(u0), azk_neon_s8(u1), xq + 32);
        isum[r] = vmlaq_n_s32(isum[r], p_lo, sm[2 * c]);
        isum[r] = vmlaq_n_s32(isum[r], p_hi, sm[2 * c + 1]);
      }
    }
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_neon_xk(x, xs, r, b);
      const int32_t msum = azk_neon_bsums16(xb->bsums, mn0, mn1);
      acc[r] += xb->d * (d * (float)vaddvq_s32(isum[r]) - dmin * (float)msum);
    }
  }
  for (int r = 0; r < R; r++) out[r] = acc[r];
}

AZK_INLINE void azk_neon_rows_q4_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  azk_neon_rows_k45(4, 0, K, w, x, xs, R, out);
}

AZK_INLINE void azk_neon_rows_q5_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                   float *out) {
  azk_neon_rows_k45(5, 0, K, w, x, xs, R, out);
}

/* ---- float helpers ---- */

static inline float azk_neon_dot_f32(const float *a, const float *b, int64_t n) {
  float out[1];
  azk_neon_rows_plain(AZC_DTYPE_F32, n, (const uint8_t *)a, (const uint8_t *)b, 0, 1, out);
  return out[0];
}

static inline void azk_neon_axpy_f32(int64_t n, float alpha, const float *x, float *y) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
  for (; i < n; i++) y[i] += alpha * x[i];
}

#endif
