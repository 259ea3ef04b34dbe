/* Elementwise math shared by the eager interpreter and the compiled kernels:
 * exp, tanh, silu, gelu and the row norms, written with plain float
 * arithmetic (no libm calls, header-only, freestanding), so that loops over
 * them vectorize for any target and both executors round the same way (the
 * activations are quantized after these, so a difference in the last bit
 * could flip a quantized value). expf: range reduction by ln 2 and a
 * degree-6 polynomial, within 2 ulp over the float range; exp(-inf) = 0. */
#ifndef AZC_BASE_FASTMATH_H
#define AZC_BASE_FASTMATH_H

#include <stdint.h>

static inline float azk_expf(float x) {
  /* no early return: selects, so that loops over it vectorize */
  const int underflow = x < -87.5f; /* also -inf: the result is 0 */
  x = underflow ? -87.5f : x > 88.5f ? 88.5f : x;
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  float n = __builtin_rintf(x * log2e);
  float r = x - n * ln2_hi;
  r = r - n * ln2_lo;
  /* exp(r) for |r| <= ln2/2 */
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* 2^n as 2^a * 2^b with a, b in [-64, 64]: both normal floats */
  int32_t a = (int32_t)n / 2, b = (int32_t)n - a;
  uint32_t ba = (uint32_t)(a + 127) << 23, bb = (uint32_t)(b + 127) << 23;
  float sa, sb;
  __builtin_memcpy(&sa, &ba, 4);
  __builtin_memcpy(&sb, &bb, 4);
  return underflow ? 0.0f : p * sa * sb;
}

static inline float azk_silu(float x) { return x / (1.0f + azk_expf(-x)); }

static inline float azk_tanhf(float x) {
  /* tanh(x) = 1 - 2 / (exp(2x) + 1); for small |x| use the series to keep
   * the relative error small near zero */
  float ax = __builtin_fabsf(x);
  if (ax < 0.0625f) {
    float x2 = x * x;
    return x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  }
  float t = 1.0f - 2.0f / (azk_expf(2.0f * ax) + 1.0f);
  return x < 0 ? -t : t;
}

/* Gemma 2's logit soft-capping: cap * tanh(x / cap) */
static inline float azk_softcap(float x, float cap) { return cap * azk_tanhf(x / cap); }

static inline float azk_gelu(float x) {
  const float c = 0.7978845608028654f; /* sqrt(2/pi) */
  return 0.5f * x * (1.0f + azk_tanhf(c * (x + 0.044715f * x * x * x)));
}

/* y = norm(x) * g + b over one row of D values: RMS norm (layer = 0) or
 * layer norm (layer = 1); g and b may be NULL. Sums in 16 float lanes, then
 * double. */
static inline void azk_norm_row(float *restrict y, const float *restrict x, int64_t D, int layer,
                                float eps, const float *g, const float *b) {
  double mean = 0, ss = 0;
  if (layer) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= D; i += 16)
      for (int k = 0; k < 16; k++) acc[k] += x[i + k];
    for (; i < D; i++) acc[0] += x[i];
    for (int k = 0; k < 16; k++) mean += acc[k];
    mean /= (double)D;
  }
  float m = (float)mean, acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= D; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += (x[i + k] - m) * (x[i + k] - m);
  for (; i < D; i++) acc[0] += (x[i] - m) * (x[i] - m);
  for (int k = 0; k < 16; k++) ss += acc[k];
  float scale = (float)(1.0 / __builtin_sqrt(ss / (double)D + (double)eps));
  for (int64_t j = 0; j < D; j++) {
    float v = (x[j] - m) * scale;
    if (g) v *= g[j];
    if (b) v += b[j];
    y[j] = v;
  }
}

#endif
