/* Writing the block formats: the reference quantizers.
 *
 * These follow the algorithms of ggml's reference quantizers
 * (quantize_row_*_ref, used by llama-quantize when there is no importance
 * matrix), with their float arithmetic in the same order, so that for the same
 * input azc writes the same bytes as llama.cpp (up to the rare rounding tie a
 * compiler's fused multiply-add can flip in the K-quant searches):
 *
 *   Q8_0, Q8_1, Q8_K  scale = max|x| / 127, round to nearest
 *   Q4_0, Q5_0        scale = (the value of largest magnitude) / -8 (-16), so
 *                     that value lands exactly on the end of the range
 *   Q4_1, Q5_1        scale = (max - min) / 15 (31), offset = min
 *   Q2_K, Q4_K, Q5_K  per sub-block, a weighted least-squares search for scale
 *                     and min over a grid of candidate step sizes
 *                     (search_scale_min, ggml's make_qkx2_quants); the
 *                     sub-block scales and mins are then quantized to 4 or 6
 *                     bits against the block's largest, and the values are
 *                     re-quantized with the scales as stored
 *   Q3_K              per sub-block, a signed scale refined by moving single
 *                     values between levels (search_scale_q3, make_q3_quants)
 *   Q6_K              per sub-block, a signed scale chosen from 19 candidates
 *                     by weighted error (search_scale_signed, make_qx_quants)
 *
 * Degenerate inputs (NaN, inf, all zeros) give defined bytes: every float to
 * integer conversion here is clamped first. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/base/util.h"
#include "runtime/quant.h"

/* The searches compare sums of products; a fused multiply-add rounds them
 * differently and flips rare near-ties. GCC in ISO C mode does not contract;
 * clang does unless told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- helpers ---- */

static inline void put_half(uint8_t out[2], float f) {
  const uint16_t h = azc_f32_to_fp16(f);
  out[0] = (uint8_t)h;
  out[1] = (uint8_t)(h >> 8);
}

static inline float half_at(const uint8_t h[2]) { return azc_fp16_to_f32(azc_load_u16le(h)); }

/* Round to nearest, ties to even, like ggml's nearest_int (which adds 1.5 * 2^23
 * and reads the mantissa). Values beyond +-2^22 are clamped (NaN counts as
 * very negative), where ggml's trick would return garbage. */
static inline int nearest_int(float f) {
  f = f > -4194303.f ? f : -4194303.f; /* also NaN -> -2^22: branch-free (maxss, minss) */
  f = f < 4194303.f ? f : 4194303.f;
  const float shifted = f + 12582912.f;
  int32_t bits;
  memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) {
  v = v > lo ? v : lo;
  return v < hi ? v : hi;
}

/* (int)v (truncation) clamped to [lo, hi]; NaN gives lo. */
static inline int trunc_clamp(float v, int lo, int hi) {
  if (v >= (float)hi) return hi;
  if (v > (float)lo) return (int)v;
  return lo;
}

/* roundf(v) (ties away from zero) clamped to [lo, hi]; NaN gives 0. */
static inline int round_clamp(float v, int lo, int hi) {
  if (!(v == v)) return 0;
  if (v >= (float)hi) return hi;
  if (v <= (float)lo) return lo;
  return (int)roundf(v);
}

/* Sub-blocks whose largest magnitude is below this are all zero (ggml's GROUP_MAX_EPS). */
#define GROUP_MAX_EPS 1e-15f

/* ---- 32-value blocks ---- */

static void quantize_q8_0(const float *restrict x, azc_block_q8_0_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    float amax = 0.0f;
    for (int j = 0; j < AZC_QK; j++) {
      const float a = fabsf(x[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    for (int j = 0; j < AZC_QK; j++) y[i].qs[j] = (int8_t)round_clamp(x[j] * id, -127, 127);
  }
}

static void quantize_q8_1(const float *restrict x, azc_block_q8_1_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    float amax = 0.0f;
    for (int j = 0; j < AZC_QK; j++) {
      const float a = fabsf(x[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    int sum = 0;
    for (int j = 0; j < AZC_QK; j++) {
      y[i].qs[j] = (int8_t)round_clamp(x[j] * id, -127, 127);
      sum += y[i].qs[j];
    }
    put_half(y[i].s, (float)sum * d);
  }
}

/* The value of largest magnitude (the first one on ties), with its sign. */
static inline float signed_max(const float *x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; j++) {
    if (amax < fabsf(x[j])) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  }
  return max;
}

static inline void min_max(const float *x, int n, float *min, float *max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < n; j++) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

static void quantize_q4_0(const float *restrict x, azc_block_q4_0_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    const float d = signed_max(x, AZC_QK) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    for (int j = 0; j < AZC_QK / 2; j++) {
      const int lo = trunc_clamp(x[j] * id + 8.5f, 0, 15);
      const int hi = trunc_clamp(x[j + AZC_QK / 2] * id + 8.5f, 0, 15);
      y[i].qs[j] = (uint8_t)(lo | hi << 4);
    }
  }
}

static void quantize_q4_1(const float *restrict x, azc_block_q4_1_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    float min, max;
    min_max(x, AZC_QK, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    put_half(y[i].m, min);
    for (int j = 0; j < AZC_QK / 2; j++) {
      const int lo = trunc_clamp((x[j] - min) * id + 0.5f, 0, 15);
      const int hi = trunc_clamp((x[j + AZC_QK / 2] - min) * id + 0.5f, 0, 15);
      y[i].qs[j] = (uint8_t)(lo | hi << 4);
    }
  }
}

/* Low nibbles into qs (value j low, value j + 16 high), 5th bits into qh. */
static inline void pack_q5(const int q[AZC_QK], uint8_t qs[AZC_QK / 2], uint8_t qh_out[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < AZC_QK / 2; j++) {
    const int lo = q[j], hi = q[j + AZC_QK / 2];
    qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
    qh |= (uint32_t)(lo >> 4 & 1) << j;
    qh |= (uint32_t)(hi >> 4 & 1) << (j + AZC_QK / 2);
  }
  for (int k = 0; k < 4; k++) qh_out[k] = (uint8_t)(qh >> (8 * k));
}

static void quantize_q5_0(const float *restrict x, azc_block_q5_0_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    const float d = signed_max(x, AZC_QK) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    int q[AZC_QK];
    for (int j = 0; j < AZC_QK; j++) q[j] = trunc_clamp(x[j] * id + 16.5f, 0, 31);
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

static void quantize_q5_1(const float *restrict x, azc_block_q5_1_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK) {
    float min, max;
    min_max(x, AZC_QK, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(y[i].d, d);
    put_half(y[i].m, min);
    int q[AZC_QK];
    for (int j = 0; j < AZC_QK; j++) q[j] = trunc_clamp((x[j] - min) * id + 0.5f, 0, 31);
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

/* ---- scale searches for the K-quants ---- */

/* Levels L[i] in [0, nmax] with x[i] ~ scale * L[i] - min_out (min_out >= 0),
 * minimizing the weighted error (squared, or absolute when use_mad): start
 * from the full range, then try step sizes (max - min) / (nmax + rmin +
 * rdelta * k), k = 0..nstep, each with its weighted least-squares scale and
 * min, and keep the best. As in ggml, a better fit replaces `min` and the
 * later candidates are measured from it. Returns the scale. */
static float search_scale_min(int n, int nmax, const float *restrict x, const float *restrict w,
                              uint8_t *restrict L, float *restrict min_out, uint8_t *restrict Laux,
                              float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    memset(L, 0, (size_t)n);
    *min_out = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; i++) {
    L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? fabsf(diff) : diff * diff;
    best_error += w[i] * diff;
  }
  for (int step = 0; step <= nstep; step++) {
    iscale = (rmin + rdelta * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = (uint8_t)l;
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; i++) {
      float diff = this_scale * Laux[i] + this_min - x[i];
      diff = use_mad ? fabsf(diff) : diff * diff;
      error += w[i] * diff;
    }
    if (error < best_error) {
      memcpy(L, Laux, (size_t)n);
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  *min_out = -min;
  return scale;
}

/* Signed levels L[i] - nmax in [-nmax, nmax - 1] with x[i] ~ scale * (L[i] -
 * nmax), weights x[i]^2: the value of largest magnitude maps to -nmax; then 18
 * more step sizes around that one are tried and the one with the largest
 * sum(w x l)^2 / sum(w l^2) (the smallest weighted error at its own
 * least-squares scale) wins. Returns the scale. */
static float search_scale_signed(int n, int nmax, const float *restrict x, int8_t *restrict L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    const float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    memset(L, 0, (size_t)n);
    return 0.0f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (int8_t)(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int k = -9; k <= 9; k++) {
    if (k == 0) continue;
    iscale = -(nmax + 0.1f * k) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; i++)
        L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* Like search_scale_signed's start, then up to 5 sweeps that move single
 * values to the level their least-squares scale (without them) prefers, when
 * that lowers the weighted error. Returns the scale; L[i] in [0, 2 nmax). */
static float search_scale_q3(int n, int nmax, const float *restrict x, int8_t *restrict L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    const float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    memset(L, 0, (size_t)n);
    return 0.0f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (int8_t)l;
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < 5; sweep++) {
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (!(slx > 0)) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = (int8_t)new_l;
        sumlx = slx;
        suml2 = sl2;
        n_changed++;
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Two-bit levels of 256 values into 64 bytes (Q2_K and Q3_K layout). */
static inline void pack_2bit(const uint8_t L[AZC_QK_K], uint8_t qs[AZC_QK_K / 4]) {
  for (int half = 0; half < 2; half++) {
    const uint8_t *l = L + 128 * half;
    for (int j = 0; j < 32; j++)
      qs[32 * half + j] = (uint8_t)(l[j] | l[j + 32] << 2 | l[j + 64] << 4 | l[j + 96] << 6);
  }
}

/* ---- K-quants ---- */

static void quantize_q2_k(const float *restrict x, azc_block_q2_k_t *restrict y, int64_t nb) {
  const float q4scale = 15.f;
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    uint8_t L[AZC_QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
      for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
      scales[j] = search_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                   0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; j++)
        y[i].scales[j] = (uint8_t)clampi(nearest_int(iscale * scales[j]), 0, 15);
      put_half(y[i].d, max_scale / q4scale);
    } else {
      put_half(y[i].d, 0.0f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; j++)
        y[i].scales[j] |= (uint8_t)(clampi(nearest_int(iscale * mins[j]), 0, 15) << 4);
      put_half(y[i].dmin, max_min / q4scale);
    } else {
      put_half(y[i].dmin, 0.0f);
    }
    /* re-quantize against the scales as stored */
    const float d_all = half_at(y[i].d), dmin_all = half_at(y[i].dmin);
    for (int j = 0; j < 16; j++) {
      const float d = d_all * (y[i].scales[j] & 15);
      if (d == 0) continue;
      const float dm = dmin_all * (y[i].scales[j] >> 4);
      for (int l = 0; l < 16; l++)
        L[16 * j + l] = (uint8_t)clampi(nearest_int((x[16 * j + l] + dm) / d), 0, 3);
    }
    pack_2bit(L, y[i].qs);
  }
}

static void quantize_q3_k(const float *restrict x, azc_block_q3_k_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    int8_t L[AZC_QK_K];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
      scales[j] = search_scale_q3(16, 4, x + 16 * j, L + 16 * j);
      const float a = fabsf(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    int sc[16] = {0}; /* the scales as stored, minus 32 */
    memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; j++) {
        const int l = clampi(nearest_int(iscale * scales[j]), -32, 31) + 32;
        if (j < 8)
          y[i].scales[j] = (uint8_t)(l & 15);
        else
          y[i].scales[j - 8] |= (uint8_t)((l & 15) << 4);
        y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        sc[j] = l - 32;
      }
      put_half(y[i].d, 1 / iscale);
    } else {
      put_half(y[i].d, 0.0f);
    }
    const float d_all = half_at(y[i].d);
    for (int j = 0; j < 16; j++) {
      const float d = d_all * sc[j];
      if (d == 0) continue;
      for (int l = 0; l < 16; l++)
        L[16 * j + l] = (int8_t)(clampi(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    /* the 3rd bit of value e goes to hmask[e % 32] bit e / 32 */
    uint8_t low[AZC_QK_K];
    memset(y[i].hmask, 0, sizeof(y[i].hmask));
    for (int e = 0; e < AZC_QK_K; e++) {
      int l = L[e];
      if (l > 3) {
        y[i].hmask[e % 32] |= (uint8_t)(1 << (e / 32));
        l -= 4;
      }
      low[e] = (uint8_t)l;
    }
    pack_2bit(low, y[i].qs);
  }
}

/* Q4_K and Q5_K share everything but the number of levels and the search grid. */
static void quantize_k_scale_min(const float *restrict x, int nmax, float rmin, int nstep,
                                 uint8_t d_out[2], uint8_t dmin_out[2], uint8_t packed[12],
                                 uint8_t L[AZC_QK_K]) {
  uint8_t Laux[32];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
    scales[j] = search_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  int ls[8], lm[8];
  for (int j = 0; j < 8; j++) {
    /* ggml keeps the low 8 bits of the rounded value, then caps it at 63 */
    ls[j] = AZC_MIN(63, (uint8_t)nearest_int(inv_scale * scales[j]));
    lm[j] = AZC_MIN(63, (uint8_t)nearest_int(inv_min * mins[j]));
  }
  memset(packed, 0, 12);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] = (uint8_t)ls[j];
      packed[j + 4] = (uint8_t)lm[j];
    } else {
      packed[j + 4] = (uint8_t)((ls[j] & 15) | (lm[j] & 15) << 4);
      packed[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
      packed[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
  }
  put_half(d_out, max_scale / 63.f);
  put_half(dmin_out, max_min / 63.f);
  const float d_all = half_at(d_out), dmin_all = half_at(dmin_out);
  for (int j = 0; j < 8; j++) {
    const float d = d_all * ls[j];
    if (d == 0) continue;
    const float dm = dmin_all * lm[j];
    for (int l = 0; l < 32; l++)
      L[32 * j + l] = (uint8_t)clampi(nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
  }
}

static void quantize_q4_k(const float *restrict x, azc_block_q4_k_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    uint8_t L[AZC_QK_K];
    quantize_k_scale_min(x, 15, -1.f, 20, y[i].d, y[i].dmin, y[i].scales, L);
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++)
        y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
  }
}

static void quantize_q5_k(const float *restrict x, azc_block_q5_k_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    uint8_t L[AZC_QK_K];
    quantize_k_scale_min(x, 31, -0.5f, 15, y[i].d, y[i].dmin, y[i].scales, L);
    memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int c = 0; c < 4; c++) {
      for (int l = 0; l < 32; l++) {
        const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        y[i].qs[32 * c + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        y[i].qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
      }
    }
  }
}

static void quantize_q6_k(const float *restrict x, azc_block_q6_k_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    int8_t L[AZC_QK_K];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; j++) {
      scales[j] = search_scale_signed(16, 32, x + 16 * j, L + 16 * j);
      if (fabsf(scales[j]) > max_abs_scale) {
        max_abs_scale = fabsf(scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
      memset(&y[i], 0, sizeof(y[i]));
      continue;
    }
    const float iscale = -128.f / max_scale;
    put_half(y[i].d, 1 / iscale);
    for (int j = 0; j < 16; j++)
      y[i].scales[j] = (int8_t)clampi(nearest_int(iscale * scales[j]), -128, 127);
    const float d_all = half_at(y[i].d);
    for (int j = 0; j < 16; j++) {
      const float d = d_all * y[i].scales[j];
      if (d == 0) continue;
      for (int l = 0; l < 16; l++)
        L[16 * j + l] = (int8_t)(clampi(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    for (int half = 0; half < 2; half++) {
      const int8_t *l6 = L + 128 * half;
      uint8_t *ql = y[i].ql + 64 * half, *qh = y[i].qh + 32 * half;
      for (int l = 0; l < 32; l++) {
        ql[l] = (uint8_t)((l6[l] & 15) | (l6[l + 64] & 15) << 4);
        ql[l + 32] = (uint8_t)((l6[l + 32] & 15) | (l6[l + 96] & 15) << 4);
        qh[l] = (uint8_t)(l6[l] >> 4 | (l6[l + 32] >> 4) << 2 | (l6[l + 64] >> 4) << 4 |
                          (l6[l + 96] >> 4) << 6);
      }
    }
  }
}

static void quantize_q8_k(const float *restrict x, azc_block_q8_k_t *restrict y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += AZC_QK_K) {
    memset(&y[i], 0, sizeof(y[i]));
    float max = 0, amax = 0;
    for (int j = 0; j < AZC_QK_K; j++) {
      if (fabsf(x[j]) > amax) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    }
    if (amax == 0) continue;
    const float iscale = -127.f / max;
    for (int j = 0; j < AZC_QK_K; j++)
      y[i].qs[j] = (int8_t)clampi(nearest_int(iscale * x[j]), -128, 127);
    for (int g = 0; g < AZC_QK_K / 16; g++) {
      int sum = 0;
      for (int l = 0; l < 16; l++) sum += y[i].qs[16 * g + l];
      y[i].bsums[2 * g] = (uint8_t)(sum & 255);
      y[i].bsums[2 * g + 1] = (uint8_t)((sum >> 8) & 255);
    }
    const float d = 1 / iscale;
    uint32_t bits;
    memcpy(&bits, &d, 4);
    for (int k = 0; k < 4; k++) y[i].d[k] = (uint8_t)(bits >> (8 * k));
  }
}

size_t azc_quantize_row(azc_dtype_t type, const float *src, void *dst, int64_t n) {
  const azc_dtype_info_t *info = azc_dtype_info(type);
  if (!info || !info->can_quantize) return 0;
  const size_t size = azc_dtype_row_size(type, n);
  if (size == 0) return 0;
  const int64_t nb = n / info->block_size;
  uint8_t *bytes = dst;
  switch (type) {
  case AZC_DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
  case AZC_DTYPE_F16:
  case AZC_DTYPE_BF16:
    for (int64_t i = 0; i < n; i++) {
      const uint16_t h = type == AZC_DTYPE_F16 ? azc_f32_to_fp16(src[i]) : azc_f32_to_bf16(src[i]);
      bytes[2 * i] = (uint8_t)h;
      bytes[2 * i + 1] = (uint8_t)(h >> 8);
    }
    break;
  case AZC_DTYPE_Q4_0: quantize_q4_0(src, dst, nb); break;
  case AZC_DTYPE_Q4_1: quantize_q4_1(src, dst, nb); break;
  case AZC_DTYPE_Q5_0: quantize_q5_0(src, dst, nb); break;
  case AZC_DTYPE_Q5_1: quantize_q5_1(src, dst, nb); break;
  case AZC_DTYPE_Q8_0: quantize_q8_0(src, dst, nb); break;
  case AZC_DTYPE_Q8_1: quantize_q8_1(src, dst, nb); break;
  case AZC_DTYPE_Q2_K: quantize_q2_k(src, dst, nb); break;
  case AZC_DTYPE_Q3_K: quantize_q3_k(src, dst, nb); break;
  case AZC_DTYPE_Q4_K: quantize_q4_k(src, dst, nb); break;
  case AZC_DTYPE_Q5_K: quantize_q5_k(src, dst, nb); break;
  case AZC_DTYPE_Q6_K: quantize_q6_k(src, dst, nb); break;
  case AZC_DTYPE_Q8_K: quantize_q8_k(src, dst, nb); break;
  default: return 0;
  }
  return size;
}
