/* Half-precision (IEEE fp16) and bfloat16 conversions, header-only and
 * freestanding (no libc), so that compiled kernels can use them too. */
#ifndef AZC_BASE_HALF_H
#define AZC_BASE_HALF_H

#include <stdint.h>
#include <string.h>

/* IEEE half <-> float, exact for all values (denormals, inf, nan). */
static inline float azc_fp16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* denormal: renormalize */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

/* Round to nearest even, like the F16C instruction and ggml's conversion. */
static inline uint16_t azc_f32_to_fp16(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00);  /* nan */
  if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
  if (absx < 0x38800000u) {                                  /* result is denormal or zero */
    if (absx < 0x33000000u) return (uint16_t)sign;           /* < half of the smallest denormal */
    /* value = m * 2^(e-150); in units of the smallest half denormal (2^-24)
     * that is m * 2^(e-126), so shift right by 126-e (14..24) and round */
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffff) | 0x800000;
    uint32_t sh = 126 - e;
    uint32_t r = m >> sh;
    uint32_t rem = m & ((1u << sh) - 1), halfway = 1u << (sh - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t e = (absx >> 23) - 127 + 15;
  uint32_t m = absx & 0x7fffff;
  uint32_t h = (e << 10) | (m >> 13);
  uint32_t rem = m & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

static inline float azc_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t azc_f32_to_bf16(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet nan */
  return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

#endif
