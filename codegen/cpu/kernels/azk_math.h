/* Math for kernel templates: exp, tanh, silu, gelu written with plain float
 * arithmetic (no libm calls), so that loops over them vectorize for any
 * target. expf: range reduction by ln 2 and a degree-6 polynomial, within 2
 * ulp over the float range; exp(-inf) = 0. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_MATH_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_MATH_H

#include <stdint.h>
#include <string.h>

static inline float azk_expf(float x) {
  if (x < -87.5f) return 0.0f; /* also -inf */
  if (x > 88.5f) x = 88.5f;
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
  memcpy(&sa, &ba, 4);
  memcpy(&sb, &bb, 4);
  return p * sa * sb;
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

static inline float azk_gelu(float x) {
  const float c = 0.7978845608028654f; /* sqrt(2/pi) */
  return 0.5f * x * (1.0f + azk_tanhf(c * (x + 0.044715f * x * x * x)));
}

#endif
