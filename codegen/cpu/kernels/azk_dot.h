/* The innermost layer of the CPU kernel templates: quantizing activations and
 * the dot product of one stored weight row (any GGUF type the runtime reads)
 * with one to four quantized activation rows.
 *
 * It is header-only and freestanding (no library calls, only builtins and
 * intrinsics) because the kernel templates that include it are compiled to
 * LLVM bitcode per target class, linked with constant shape parameters and
 * optimized for the exact CPU: the weight type, the row count R and usually K
 * are constants there, so every dispatch switch below folds away. The
 * implementation is chosen by the compiler's target macros:
 *   x86-64 with AVX2+FMA+F16C  azk_dot_x86.h (maddubs/madd; with AVX512-VNNI+VL or
 *                               AVX-VNNI the 32-value types use vpdpbusd, and with
 *                               AVX-512 the float weight types use 512-bit vectors)
 *   AArch64 NEON               azk_dot_neon.h (sdot with +dotprod, else smull/sadalp)
 *   anything else              azk_dot_scalar.h (plain C the auto-vectorizer handles;
 *                               also what x86-64 SSE2 gets); -DAZK_FORCE_SCALAR forces it
 * All paths compute the same integer block sums, so their results differ only
 * in the order of the float additions, and all quantize activations to the
 * same bytes. azk_dot_scalar(...) and azk_dot_rows_scalar(...) are always
 * available so that a test can compare a SIMD build with the portable code.
 *
 * API (wtype is an azc_dtype_t; K a multiple of the type's block size, 32 or
 * 256, any K for F32/F16/BF16):
 *   size_t azk_xq_row_size(wtype, K)             bytes of one quantized activation row
 *   void azk_quantize_x(wtype, x, xq, K)         float row -> the activation format of wtype
 *   void azk_quantize_x_q8(x, xq, K)             the q8 row below (Q4_0..Q8_0 weights)
 *   void azk_quantize_x_q8k(x, xq, K)            K/256 azk_block_q8k_t (the K-quants)
 *   float azk_dot(wtype, K, w_row, xq_row)       one weight row . one activation row
 *   void azk_dot_rows(wtype, K, w_row, xq_rows, xq_stride, R, out)
 *                                                out[r] = w_row . row r (at xq_rows + r *
 *                                                xq_stride bytes), r < R; each weight block
 *                                                is unpacked once for up to 4 rows
 *   float azk_dot_<type>(K, w, xq), void azk_dot_rows_<type>(K, w, xq, stride, R, out)
 *                                                per type: f32 f16 bf16 q4_0 q4_1 q5_0
 *                                                q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k
 *   float azk_vec_dot_f32(a, b, n)               sum a[i] * b[i] of two float vectors
 *   void azk_vec_axpy_f32(n, alpha, x, y)        y[i] += alpha * x[i] (both for attention)
 * For F32/F16/BF16 weights the "quantized" activation row is the float row
 * itself (azk_quantize_x copies it; passing x directly is the same). Results:
 * sum_i w_i * xq_i with the weights dequantized exactly as runtime/quant.c does
 * and xq_i the dequantized activation (d * q), up to float rounding; that is
 * what llama.cpp computes. Activation rows must be 4-byte aligned (32 or 64 is
 * better; xq_stride a multiple of 4); weight rows may sit at any byte.
 *
 * Compile with -ffp-contract=off (as codegen/CMakeLists.txt does) or on (not fast) if the
 * activation bytes must be identical on every path: the scalar rounding relies on x * scale being
 * rounded before it is rounded to an integer. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_DOT_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_DOT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/fused.h"
#include "runtime/base/half.h"
#include "runtime/quant.h"

#ifndef AZK_INLINE
#define AZK_INLINE static inline __attribute__((always_inline))
#endif
#define AZK_MAX_ROWS 4

/* Repacked weight layouts (codegen/repack.c writes them; the layout pass
 * chooses them per target). They are addressed like weight types of their
 * own: "_u" = a K-quant block whose eight 6-bit scales and mins are stored
 * unpacked as 16 bytes (scales 0..7, mins 0..7), so the dot product loads
 * them instead of decoding the 12-byte packing in every block. */
enum {
  AZK_WTYPE_Q4_K_U = 64,
  AZK_WTYPE_Q5_K_U = 65,
  AZK_WTYPE_Q4_0_X8 = 66,
  AZK_WTYPE_Q8_0_X8 = 67,
  AZK_WTYPE_Q4_K_X8 = 68,
  AZK_WTYPE_Q5_0_X8 = 69
};

typedef struct azk_block_q4_k_u {
  uint8_t d[2], dmin[2];
  uint8_t sm[16];
  uint8_t qs[128];
} azk_block_q4_k_u_t;

typedef struct azk_block_q5_k_u {
  uint8_t d[2], dmin[2];
  uint8_t sm[16];
  uint8_t qh[32];
  uint8_t qs[128];
} azk_block_q5_k_u_t;

/* "_x8" (layout 2) = Q4_0 or Q8_0 rows interleaved by eights: for rows
 * 8g .. 8g+7 and block b (32 values), one group block holds the 8 rows' fp16
 * scales, then their values so that 32 bytes hold 4 consecutive values of
 * each of the 8 rows: byte 32c + 4l + k is value 4c + k of row l (Q8_0,
 * c < 8); for Q4_0 (c < 4) its low nibble is value 4c + k and its high nibble
 * value 16 + 4c + k, which is byte 4c + k of the row's GGUF block. One
 * broadcast of 4 activation bytes then multiplies 8 rows at once, and a group
 * block ends as 8 lanes, one per row, scaled with one multiply-add (instead
 * of one reduction per row and block). A group block counts as 8 row blocks
 * of 18 (Q4_0) or 34 (Q8_0) bytes: rows keep GGUF's size. */
typedef struct azk_block_q4_0_x8 {
  uint8_t d[16];
  uint8_t qs[128];
} azk_block_q4_0_x8_t;

typedef struct azk_block_q8_0_x8 {
  uint8_t d[16];
  int8_t qs[256];
} azk_block_q8_0_x8_t;

/* Q5_0 x8: the 8 rows' fp16 scales, then their fifth bits as masks in the
 * order of the values, then the low nibbles as Q4_0 x8 has them (byte
 * 32c + 4l + k holds values 4c + k and 16 + 4c + k of row l): bit 4l + k of
 * qh[4 (2c + h) ..] is the fifth bit of value 16h + 4c + k of row l, so the
 * kernel widens one 32-bit mask into the 0x10 bytes of 8 rows' 4 values. 176
 * bytes = 8 rows of 22, GGUF's size. */
typedef struct azk_block_q5_0_x8 {
  uint8_t d[16];
  uint8_t qh[32];
  uint8_t qs[128];
} azk_block_q5_0_x8_t;

/* Q4_K x8: per 8 rows and 256-value block, the 8 rows' d and dmin (fp16),
 * their sub-block scales sc[8 j + l] (sub-block j of row l) and mins
 * mn[16 i + 2 l + e] (sub-block 2 i + e of row l: pairs, for vpmaddwd with
 * pairs of activation sums), then qs[256 k + 32 c + 4 l + m] = byte
 * 32 k + 4 c + m of row l's GGUF qs (low nibble: sub-block 2 k, high: 2 k + 1).
 * 1184 bytes = 8 rows of 148 (GGUF: 144). */
typedef struct azk_block_q4_k_x8 {
  uint8_t d[16], dmin[16];
  uint8_t sc[64];
  uint8_t mn[64];
  uint8_t qs[1024];
} azk_block_q4_k_x8_t;

AZK_INLINE int azk_wtype_is_x8(int wtype) {
  return wtype == AZK_WTYPE_Q4_0_X8 || wtype == AZK_WTYPE_Q8_0_X8 || wtype == AZK_WTYPE_Q4_K_X8 ||
         wtype == AZK_WTYPE_Q5_0_X8;
}

/* The weight type the dot products see for (GGUF type, layout). */
AZK_INLINE int azk_wtype_for(int type, int layout) {
  if (layout == AZC_LAYOUT_UNPACKED && type == AZC_DTYPE_Q4_K) return AZK_WTYPE_Q4_K_U;
  if (layout == AZC_LAYOUT_UNPACKED && type == AZC_DTYPE_Q5_K) return AZK_WTYPE_Q5_K_U;
  if (layout == AZC_LAYOUT_X8 && type == AZC_DTYPE_Q4_0) return AZK_WTYPE_Q4_0_X8;
  if (layout == AZC_LAYOUT_X8 && type == AZC_DTYPE_Q8_0) return AZK_WTYPE_Q8_0_X8;
  if (layout == AZC_LAYOUT_X8 && type == AZC_DTYPE_Q4_K) return AZK_WTYPE_Q4_K_X8;
  if (layout == AZC_LAYOUT_X8 && type == AZC_DTYPE_Q5_0) return AZK_WTYPE_Q5_0_X8;
  return type;
}

/* Activations for the 32-value weight types: one row of K values (K a
 * multiple of 32) is laid out as
 *   int8_t qs[K]; float d[K / 32]; float s[K / 32];
 * with x_j ~ d[j / 32] * qs[j] and s[b] = d[b] * (the sum of block b's qs), so
 * that the min (Q4_1, Q5_1) or offset (Q4_0, Q5_0 on x86) of a weight block
 * costs one multiply-add per block. The scales are floats holding
 * half-precision values (d is rounded to fp16 as llama.cpp's block_q8_0
 * stores it, so results match llama.cpp and the eager interpreter; s is
 * exactly d * sum) and kept apart from the values, so that the
 * scales of four blocks load as one vector; from a 32-byte aligned row start
 * every block of values is 32-byte aligned too. 1.25 K bytes per row. */
AZK_INLINE const int8_t *azk_q8_qs(const uint8_t *row) { return (const int8_t *)row; }
AZK_INLINE const float *azk_q8_d(const uint8_t *row, int64_t K) {
  return (const float *)(const void *)(row + K);
}
AZK_INLINE const float *azk_q8_s(const uint8_t *row, int64_t K) {
  return azk_q8_d(row, K) + K / AZC_QK;
}

/* Activations for the K-quants, 256 values: x_j ~ d * qs[j]; bsums[i] = sum of
 * qs[16 i .. 16 i + 16), used for the mins and offsets of the weight
 * sub-blocks. Padded to 320 bytes so that qs and bsums stay 32-byte aligned in
 * a row that starts 32-byte aligned. */
typedef struct azk_block_q8k {
  int8_t qs[AZC_QK_K];
  int16_t bsums[AZC_QK_K / 16];
  float d;
  int32_t pad[7];
} azk_block_q8k_t;

_Static_assert(sizeof(azk_block_q8k_t) == 320, "azk_block_q8k_t layout");

#if defined(AZK_FORCE_SCALAR)
#define AZK_PATH_SCALAR 1
#define AZK_DOT_PATH "scalar"
#elif defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define AZK_PATH_X86 1
#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__) &&                   \
    defined(__AVX512F__)
#define AZK_DOT_PATH "avx512-vnni"
#elif defined(__AVXVNNI__)
#define AZK_DOT_PATH "avx2-vnni"
#else
#define AZK_DOT_PATH "avx2"
#endif
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define AZK_PATH_NEON 1
#if defined(__ARM_FEATURE_DOTPROD)
#define AZK_DOT_PATH "neon-dotprod"
#else
#define AZK_DOT_PATH "neon"
#endif
#else
#define AZK_PATH_SCALAR 1
#define AZK_DOT_PATH "scalar"
#endif

/* ---- small helpers shared by all paths ---- */

/* f rounded to the nearest IEEE half (ties to even), back as a float. */
AZK_INLINE float azk_half_round(float f) { return azc_fp16_to_f32(azc_f32_to_fp16(f)); }

AZK_INLINE uint16_t azk_load_u16(const void *p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}

AZK_INLINE uint32_t azk_load_u32(const void *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

/* IEEE half -> float without branches or tables (vectorizable): move exponent
 * and mantissa into place, re-bias by multiplying with 2^112 (exact; it also
 * normalizes half denormals), give inf/NaN the all-ones exponent. */
AZK_INLINE float azk_half_bits_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)(h & 0x7fff) << 13;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  f *= 0x1p112f;
  __builtin_memcpy(&bits, &f, 4);
  bits |= f >= 65536.0f ? 0x7f800000u : 0;
  bits |= (uint32_t)(h & 0x8000) << 16;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

AZK_INLINE float azk_bf16_bits_to_f32(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

/* Round to nearest, ties to even, for |v| < 2^22, without a library call or a
 * float -> int conversion: adding 1.5 * 2^23 leaves the rounded integer in the
 * low mantissa bits (the same rounding as cvtps2dq and fcvtns). */
AZK_INLINE int32_t azk_round_small(float v) {
  const float f = v + 12582912.0f;
  uint32_t bits;
  __builtin_memcpy(&bits, &f, 4);
  return (int32_t)(bits - 0x4B400000u);
}

AZK_INLINE float azk_absf(float v) { return __builtin_fabsf(v); }

/* Bytes of one weight block (or element) and values per block of the types
 * this header handles; 0 for the others. */
AZK_INLINE int azk_wtype_block_bytes(int wtype) {
  switch (wtype) {
  case AZC_DTYPE_F32: return 4;
  case AZC_DTYPE_F16:
  case AZC_DTYPE_BF16: return 2;
  case AZC_DTYPE_Q4_0: return sizeof(azc_block_q4_0_t);
  case AZC_DTYPE_Q4_1: return sizeof(azc_block_q4_1_t);
  case AZC_DTYPE_Q5_0: return sizeof(azc_block_q5_0_t);
  case AZC_DTYPE_Q5_1: return sizeof(azc_block_q5_1_t);
  case AZC_DTYPE_Q8_0: return sizeof(azc_block_q8_0_t);
  case AZC_DTYPE_Q2_K: return sizeof(azc_block_q2_k_t);
  case AZC_DTYPE_Q3_K: return sizeof(azc_block_q3_k_t);
  case AZC_DTYPE_Q4_K: return sizeof(azc_block_q4_k_t);
  case AZC_DTYPE_Q5_K: return sizeof(azc_block_q5_k_t);
  case AZK_WTYPE_Q4_K_U: return sizeof(azk_block_q4_k_u_t);
  case AZK_WTYPE_Q5_K_U: return sizeof(azk_block_q5_k_u_t);
  case AZC_DTYPE_Q6_K: return sizeof(azc_block_q6_k_t);
  case AZK_WTYPE_Q4_0_X8: return sizeof(azk_block_q4_0_x8_t) / 8; /* per row */
  case AZK_WTYPE_Q8_0_X8: return sizeof(azk_block_q8_0_x8_t) / 8;
  case AZK_WTYPE_Q4_K_X8: return sizeof(azk_block_q4_k_x8_t) / 8;
  case AZK_WTYPE_Q5_0_X8: return sizeof(azk_block_q5_0_x8_t) / 8;
  default: return 0;
  }
}

AZK_INLINE int azk_wtype_block_values(int wtype) {
  switch (wtype) {
  case AZC_DTYPE_F32:
  case AZC_DTYPE_F16:
  case AZC_DTYPE_BF16: return 1;
  case AZC_DTYPE_Q4_0:
  case AZC_DTYPE_Q4_1:
  case AZC_DTYPE_Q5_0:
  case AZC_DTYPE_Q5_1:
  case AZC_DTYPE_Q8_0:
  case AZK_WTYPE_Q4_0_X8:
  case AZK_WTYPE_Q8_0_X8:
  case AZK_WTYPE_Q5_0_X8: return AZC_QK;
  case AZC_DTYPE_Q2_K:
  case AZC_DTYPE_Q3_K:
  case AZC_DTYPE_Q4_K:
  case AZC_DTYPE_Q5_K:
  case AZK_WTYPE_Q4_K_U:
  case AZK_WTYPE_Q5_K_U:
  case AZK_WTYPE_Q4_K_X8:
  case AZC_DTYPE_Q6_K: return AZC_QK_K;
  default: return 0;
  }
}

/* The 6-bit scales and mins of a Q4_K/Q5_K block as bytes: out[0..8) scales,
 * out[8..16) mins (layout in runtime/quant.h), four at a time. */
AZK_INLINE void azk_k4_scales(const uint8_t s[12], uint32_t out[4]) {
  const uint32_t a0 = azk_load_u32(s), a1 = azk_load_u32(s + 4), a2 = azk_load_u32(s + 8);
  out[0] = a0 & 0x3f3f3f3fu;
  out[1] = (a2 & 0x0f0f0f0fu) | ((a0 >> 2) & 0x30303030u);
  out[2] = a1 & 0x3f3f3f3fu;
  out[3] = ((a2 >> 4) & 0x0f0f0f0fu) | ((a1 >> 2) & 0x30303030u);
}

/* The 16 6-bit scales of a Q3_K block as bytes, still biased by +32. */
AZK_INLINE void azk_k3_scales(const uint8_t s[12], uint32_t out[4]) {
  const uint32_t a0 = azk_load_u32(s), a1 = azk_load_u32(s + 4), a2 = azk_load_u32(s + 8);
  out[0] = (a0 & 0x0f0f0f0fu) | ((a2 << 4) & 0x30303030u);
  out[1] = (a1 & 0x0f0f0f0fu) | ((a2 << 2) & 0x30303030u);
  out[2] = ((a0 >> 4) & 0x0f0f0f0fu) | (a2 & 0x30303030u);
  out[3] = ((a1 >> 4) & 0x0f0f0f0fu) | ((a2 >> 2) & 0x30303030u);
}

/* Writes the x8 group blocks of 8 rows of Q4_0, Q5_0, Q8_0 or Q4_K (`type`,
 * the GGUF type): src holds the 8 rows of nb blocks one after the other. */
AZK_INLINE void azk_x8_pack(int type, const uint8_t *src, int64_t nb, uint8_t *dst) {
  if (type == AZC_DTYPE_Q5_0) {
    for (int64_t b = 0; b < nb; b++) {
      azk_block_q5_0_x8_t *g = (azk_block_q5_0_x8_t *)(void *)dst + b;
      uint32_t hm[8] = {0};
      for (int l = 0; l < 8; l++) {
        const azc_block_q5_0_t *blk =
            (const azc_block_q5_0_t *)(const void *)src + (size_t)l * (size_t)nb + b;
        const uint32_t qh = azk_load_u32(blk->qh);
        __builtin_memcpy(g->d + 2 * l, &blk->d, 2);
        for (int c = 0; c < 4; c++)
          for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
              hm[2 * c + h] |= ((qh >> (16 * h + 4 * c + k)) & 1u) << (4 * l + k);
        for (int i = 0; i < 16; i += 4)
          __builtin_memcpy(g->qs + 32 * (i / 4) + 4 * l, blk->qs + i, 4);
      }
      __builtin_memcpy(g->qh, hm, sizeof(hm));
    }
    return;
  }
  if (type == AZC_DTYPE_Q4_K) {
    for (int64_t b = 0; b < nb; b++) {
      azk_block_q4_k_x8_t *g = (azk_block_q4_k_x8_t *)(void *)dst + b;
      for (int l = 0; l < 8; l++) {
        const azc_block_q4_k_t *blk =
            (const azc_block_q4_k_t *)(const void *)src + (size_t)l * (size_t)nb + b;
        uint32_t s32[4];
        uint8_t sm[16];
        __builtin_memcpy(g->d + 2 * l, &blk->d, 2);
        __builtin_memcpy(g->dmin + 2 * l, &blk->dmin, 2);
        azk_k4_scales(blk->scales, s32);
        __builtin_memcpy(sm, s32, 16);
        for (int j = 0; j < 8; j++) {
          g->sc[8 * j + l] = sm[j];
          g->mn[16 * (j / 2) + 2 * l + j % 2] = sm[8 + j];
        }
        for (int i = 0; i < 128; i += 4) /* 4 bytes at a time: they stay together */
          __builtin_memcpy(g->qs + 256 * (i / 32) + 32 * (i % 32 / 4) + 4 * l, blk->qs + i, 4);
      }
    }
    return;
  }
  const int q4 = type == AZC_DTYPE_Q4_0;
  const size_t bb = q4 ? sizeof(azc_block_q4_0_t) : sizeof(azc_block_q8_0_t);
  const size_t qs = q4 ? offsetof(azc_block_q4_0_t, qs) : offsetof(azc_block_q8_0_t, qs);
  const int nq = q4 ? AZC_QK / 2 : AZC_QK;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t *g = dst + (size_t)b * 8 * bb;
    for (int l = 0; l < 8; l++) {
      const uint8_t *blk = src + ((size_t)l * (size_t)nb + (size_t)b) * bb;
      g[2 * l] = blk[0]; /* d: fp16 at offset 0 of both block types */
      g[2 * l + 1] = blk[1];
      for (int i = 0; i < nq; i += 4) /* 4 bytes at a time: they stay together */
        __builtin_memcpy(g + 16 + 32 * (i / 4) + 4 * l, blk + qs + (size_t)i, 4);
    }
  }
}

#include "codegen/cpu/kernels/azk_dot_scalar.h"
#if defined(AZK_PATH_X86)
#include "codegen/cpu/kernels/azk_dot_x86.h"
#define AZK_IMPL(name) azk_x86_##name
#elif defined(AZK_PATH_NEON)
#include "codegen/cpu/kernels/azk_dot_neon.h"
#define AZK_IMPL(name) azk_neon_##name
#else
#define AZK_IMPL(name) azk_scalar_##name
#endif

/* ---- activations ---- */

static inline void azk_quantize_x_q8(const float *x, void *dst, int64_t K) {
  AZK_IMPL(quantize_q8)(x, (uint8_t *)dst, K);
}

static inline void azk_quantize_x_q8k(const float *x, void *dst, int64_t K) {
  AZK_IMPL(quantize_q8k)(x, (azk_block_q8k_t *)dst, K);
}

AZK_INLINE size_t azk_xq_row_size(int wtype, int64_t K) {
  switch (azk_wtype_block_values(wtype)) {
  case 1: return (size_t)K * sizeof(float);
  case AZC_QK: return (size_t)K + (size_t)(K / AZC_QK) * 2 * sizeof(float);
  case AZC_QK_K: return (size_t)(K / AZC_QK_K) * sizeof(azk_block_q8k_t);
  default: return 0;
  }
}

AZK_INLINE void azk_quantize_x(int wtype, const float *x, void *dst, int64_t K) {
  switch (azk_wtype_block_values(wtype)) {
  case 1: {
    float *y = dst;
    for (int64_t i = 0; i < K; i++) y[i] = x[i];
    break;
  }
  case AZC_QK: azk_quantize_x_q8(x, dst, K); break;
  case AZC_QK_K: azk_quantize_x_q8k(x, dst, K); break;
  default: break;
  }
}

/* ---- dot products, per type ---- */

/* Runs impl with R as a constant, so that its per-row loops unroll and its
 * accumulator arrays live in registers. */
#define AZK_WITH_CONST_R(R, call_with_r)                                                           \
  do {                                                                                             \
    switch (R) {                                                                                   \
    case 1: call_with_r(1); break;                                                                 \
    case 2: call_with_r(2); break;                                                                 \
    case 3: call_with_r(3); break;                                                                 \
    default: call_with_r(4); break;                                                                \
    }                                                                                              \
  } while (0)

#define AZK_DEFINE_DOT(name)                                                                       \
  static inline void azk_dot_rows_##name(int64_t K, const void *w, const void *x, size_t x_stride, \
                                         int R, float *out) {                                      \
    const uint8_t *w8 = (const uint8_t *)w, *x8 = (const uint8_t *)x;                              \
    for (; R > AZK_MAX_ROWS; R -= AZK_MAX_ROWS, x8 += AZK_MAX_ROWS * x_stride)                     \
      AZK_CALL_ROWS_##name(AZK_MAX_ROWS), out += AZK_MAX_ROWS;                                     \
    if (R >= 1) AZK_WITH_CONST_R(R, AZK_CALL_ROWS_##name);                                         \
  }                                                                                                \
  static inline float azk_dot_##name(int64_t K, const void *w, const void *x) {                    \
    float out[1];                                                                                  \
    azk_dot_rows_##name(K, w, x, 0, 1, out);                                                       \
    return out[0];                                                                                 \
  }

#define AZK_CALL_ROWS_f32(r) AZK_IMPL(rows_plain)(AZC_DTYPE_F32, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_f16(r) AZK_IMPL(rows_plain)(AZC_DTYPE_F16, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_bf16(r) AZK_IMPL(rows_plain)(AZC_DTYPE_BF16, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q4_0(r) AZK_IMPL(rows_b32)(AZC_DTYPE_Q4_0, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q4_1(r) AZK_IMPL(rows_b32)(AZC_DTYPE_Q4_1, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q5_0(r) AZK_IMPL(rows_b32)(AZC_DTYPE_Q5_0, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q5_1(r) AZK_IMPL(rows_b32)(AZC_DTYPE_Q5_1, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q8_0(r) AZK_IMPL(rows_b32)(AZC_DTYPE_Q8_0, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q2_k(r) AZK_IMPL(rows_q2_k)(K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q3_k(r) AZK_IMPL(rows_q3_k)(K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q4_k(r) AZK_IMPL(rows_q4_k)(K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q5_k(r) AZK_IMPL(rows_q5_k)(K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q4_k_u(r) AZK_IMPL(rows_k45)(4, 1, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q5_k_u(r) AZK_IMPL(rows_k45)(5, 1, K, w8, x8, x_stride, r, out)
#define AZK_CALL_ROWS_q6_k(r) AZK_IMPL(rows_q6_k)(K, w8, x8, x_stride, r, out)

AZK_DEFINE_DOT(f32)
AZK_DEFINE_DOT(f16)
AZK_DEFINE_DOT(bf16)
AZK_DEFINE_DOT(q4_0)
AZK_DEFINE_DOT(q4_1)
AZK_DEFINE_DOT(q5_0)
AZK_DEFINE_DOT(q5_1)
AZK_DEFINE_DOT(q8_0)
AZK_DEFINE_DOT(q2_k)
AZK_DEFINE_DOT(q3_k)
AZK_DEFINE_DOT(q4_k)
AZK_DEFINE_DOT(q5_k)
AZK_DEFINE_DOT(q4_k_u)
AZK_DEFINE_DOT(q5_k_u)
AZK_DEFINE_DOT(q6_k)

/* ---- dispatch on the weight type ---- */

/* out[r] = w_row . (activation row r at x_rows + r * x_stride bytes), r < R.
 * Unknown types give zeros. */
AZK_INLINE void azk_dot_rows(int wtype, int64_t K, const void *w_row, const void *x_rows,
                             size_t x_stride, int R, float *out) {
  switch (wtype) {
  case AZC_DTYPE_F32: azk_dot_rows_f32(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_F16: azk_dot_rows_f16(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_BF16: azk_dot_rows_bf16(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q4_0: azk_dot_rows_q4_0(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q4_1: azk_dot_rows_q4_1(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q5_0: azk_dot_rows_q5_0(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q5_1: azk_dot_rows_q5_1(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q8_0: azk_dot_rows_q8_0(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q2_K: azk_dot_rows_q2_k(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q3_K: azk_dot_rows_q3_k(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q4_K: azk_dot_rows_q4_k(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q5_K: azk_dot_rows_q5_k(K, w_row, x_rows, x_stride, R, out); break;
  case AZK_WTYPE_Q4_K_U: azk_dot_rows_q4_k_u(K, w_row, x_rows, x_stride, R, out); break;
  case AZK_WTYPE_Q5_K_U: azk_dot_rows_q5_k_u(K, w_row, x_rows, x_stride, R, out); break;
  case AZC_DTYPE_Q6_K: azk_dot_rows_q6_k(K, w_row, x_rows, x_stride, R, out); break;
  default:
    for (int r = 0; r < R; r++) out[r] = 0.0f;
    break;
  }
}

AZK_INLINE float azk_dot(int wtype, int64_t K, const void *w_row, const void *x_row) {
  float out[1];
  azk_dot_rows(wtype, K, w_row, x_row, 0, 1, out);
  return out[0];
}

/* Two weight rows w0, w1 of a float type (F32, F16, BF16) against 4
 * activation rows: out0[r], out1[r]. Out of line per type like
 * azk_dot_rows_*; on x86 one tile, elsewhere two azk_dot_rows. */
#if defined(AZK_PATH_X86)
#define AZK_DEFINE_PAIR(name, type)                                                                \
  static inline void azk_dot_pair_##name(int64_t K, const void *w0, const void *w1, const void *x, \
                                         size_t x_stride, float *out0, float *out1) {              \
    azk_x86_pair_plain(type, K, (const uint8_t *)w0, (const uint8_t *)w1, (const uint8_t *)x,      \
                       x_stride, out0, out1);                                                      \
  }
#else
#define AZK_DEFINE_PAIR(name, type)                                                                \
  static inline void azk_dot_pair_##name(int64_t K, const void *w0, const void *w1, const void *x, \
                                         size_t x_stride, float *out0, float *out1) {              \
    azk_dot_rows_##name(K, w0, x, x_stride, 4, out0);                                              \
    azk_dot_rows_##name(K, w1, x, x_stride, 4, out1);                                              \
  }
#endif
AZK_DEFINE_PAIR(f32, AZC_DTYPE_F32)
AZK_DEFINE_PAIR(f16, AZC_DTYPE_F16)
AZK_DEFINE_PAIR(bf16, AZC_DTYPE_BF16)
#undef AZK_DEFINE_PAIR

/* NW = azk_dot_tile_width(R) weight rows of a float type (F32, F16, BF16),
 * row_bytes apart, against R activation rows: out[R * n + r]; NW is 4 for
 * one row, else 2. Each output is summed in azk_dot_rows' order, so it does
 * not depend on NW or R (batch invariance); on x86 one tile of NW * R
 * independent chains, so that a single row (decode) still hides the FMA
 * latency. */
#if defined(AZK_PATH_X86)
#define AZK_TILE_IMPL(name, type, nw, r) azk_x86_tile_plain(type, K, nw, wr, x8, x_stride, r, out)
#else
#define AZK_TILE_IMPL(name, type, nw, r)                                                           \
  for (int n = 0; n < nw; n++) azk_dot_rows_##name(K, wr[n], x8, x_stride, r, out + (r)*n)
#endif
#define AZK_DEFINE_TILE(name, type)                                                                \
  static inline void azk_dot_tile_##name(int64_t K, const void *w, size_t row_bytes,               \
                                         const void *x, size_t x_stride, int R, float *out) {      \
    const uint8_t *x8 = (const uint8_t *)x, *w8 = (const uint8_t *)w;                              \
    const uint8_t *wr[4] = {w8, w8 + row_bytes, w8 + 2 * row_bytes, w8 + 3 * row_bytes};           \
    if (R == 1)                                                                                    \
      AZK_TILE_IMPL(name, type, 4, 1);                                                             \
    else if (R == 2)                                                                               \
      AZK_TILE_IMPL(name, type, 2, 2);                                                             \
    else if (R == 3)                                                                               \
      AZK_TILE_IMPL(name, type, 2, 3);                                                             \
    else                                                                                           \
      AZK_TILE_IMPL(name, type, 2, 4);                                                             \
  }
AZK_DEFINE_TILE(f32, AZC_DTYPE_F32)
AZK_DEFINE_TILE(f16, AZC_DTYPE_F16)
AZK_DEFINE_TILE(bf16, AZC_DTYPE_BF16)
#undef AZK_DEFINE_TILE
#undef AZK_TILE_IMPL

/* Weight rows azk_dot_tile takes at once for R activation rows. */
AZK_INLINE int azk_dot_tile_width(int R) { return R == 1 ? 4 : 2; }

AZK_INLINE void azk_dot_tile(int wtype, int64_t K, const void *w, size_t row_bytes, const void *x,
                             size_t x_stride, int R, float *out) {
  if (wtype == AZC_DTYPE_F32)
    azk_dot_tile_f32(K, w, row_bytes, x, x_stride, R, out);
  else if (wtype == AZC_DTYPE_F16)
    azk_dot_tile_f16(K, w, row_bytes, x, x_stride, R, out);
  else
    azk_dot_tile_bf16(K, w, row_bytes, x, x_stride, R, out);
}

AZK_INLINE int azk_wtype_is_float(int wtype) {
  return wtype == AZC_DTYPE_F32 || wtype == AZC_DTYPE_F16 || wtype == AZC_DTYPE_BF16;
}

AZK_INLINE void azk_dot_pair(int wtype, int64_t K, const void *w0, const void *w1, const void *x,
                             size_t x_stride, float *out0, float *out1) {
  if (wtype == AZC_DTYPE_F32)
    azk_dot_pair_f32(K, w0, w1, x, x_stride, out0, out1);
  else if (wtype == AZC_DTYPE_F16)
    azk_dot_pair_f16(K, w0, w1, x, x_stride, out0, out1);
  else
    azk_dot_pair_bf16(K, w0, w1, x, x_stride, out0, out1);
}

/* The x8 dot products per type, out of line like azk_dot_rows_*: out[8 r +
 * l] = row l of the group at w . activation row r, r < R <= AZK_MAX_ROWS. */
#if defined(AZK_PATH_X86)
#define AZK_X8_IMPL(t, r) azk_x86_x8(t, K, (const uint8_t *)w, (const uint8_t *)x, x_stride, r, out)
#else
#define AZK_X8_IMPL(t, r)                                                                          \
  azk_scalar_x8(t, K, (const uint8_t *)w, (const uint8_t *)x, x_stride, r, out)
#endif
#define AZK_X8_Q4(r) AZK_X8_IMPL(AZK_WTYPE_Q4_0_X8, r)
#define AZK_X8_Q8(r) AZK_X8_IMPL(AZK_WTYPE_Q8_0_X8, r)
#define AZK_X8_Q4K(r) AZK_X8_IMPL(AZK_WTYPE_Q4_K_X8, r)
#define AZK_X8_Q5(r) AZK_X8_IMPL(AZK_WTYPE_Q5_0_X8, r)
static inline void azk_dot_q4_0_x8(int64_t K, const void *w, const void *x, size_t x_stride, int R,
                                   float *out) {
  AZK_WITH_CONST_R(R, AZK_X8_Q4);
}
static inline void azk_dot_q8_0_x8(int64_t K, const void *w, const void *x, size_t x_stride, int R,
                                   float *out) {
  AZK_WITH_CONST_R(R, AZK_X8_Q8);
}
static inline void azk_dot_q4_k_x8(int64_t K, const void *w, const void *x, size_t x_stride, int R,
                                   float *out) {
  AZK_WITH_CONST_R(R, AZK_X8_Q4K);
}
#undef AZK_X8_Q4
#undef AZK_X8_Q8
static inline void azk_dot_q5_0_x8(int64_t K, const void *w, const void *x, size_t x_stride, int R,
                                   float *out) {
  AZK_WITH_CONST_R(R, AZK_X8_Q5);
}
#undef AZK_X8_Q4K
#undef AZK_X8_Q5
#undef AZK_X8_IMPL

AZK_INLINE void azk_dot_x8(int wtype, int64_t K, const void *w_group, const void *x_rows,
                           size_t x_stride, int R, float *out) {
  if (wtype == AZK_WTYPE_Q4_0_X8)
    azk_dot_q4_0_x8(K, w_group, x_rows, x_stride, R, out);
  else if (wtype == AZK_WTYPE_Q8_0_X8)
    azk_dot_q8_0_x8(K, w_group, x_rows, x_stride, R, out);
  else if (wtype == AZK_WTYPE_Q5_0_X8)
    azk_dot_q5_0_x8(K, w_group, x_rows, x_stride, R, out);
  else
    azk_dot_q4_k_x8(K, w_group, x_rows, x_stride, R, out);
}

/* ---- the portable code, callable from any build (for tests) ---- */

static inline void azk_quantize_x_scalar(int wtype, const float *x, void *dst, int64_t K) {
  switch (azk_wtype_block_values(wtype)) {
  case 1: {
    float *y = dst;
    for (int64_t i = 0; i < K; i++) y[i] = x[i];
    break;
  }
  case AZC_QK: azk_scalar_quantize_q8(x, (uint8_t *)dst, K); break;
  case AZC_QK_K: azk_scalar_quantize_q8k(x, (azk_block_q8k_t *)dst, K); break;
  default: break;
  }
}

static inline void azk_dot_rows_scalar(int wtype, int64_t K, const void *w_row, const void *x_rows,
                                       size_t x_stride, int R, float *out) {
  const uint8_t *w = (const uint8_t *)w_row;
  for (int r0 = 0; r0 < R; r0 += AZK_MAX_ROWS) {
    const int n = R - r0 < AZK_MAX_ROWS ? R - r0 : AZK_MAX_ROWS;
    const uint8_t *x = (const uint8_t *)x_rows + (size_t)r0 * x_stride;
    float *o = out + r0;
    switch (wtype) {
    case AZC_DTYPE_F32:
    case AZC_DTYPE_F16:
    case AZC_DTYPE_BF16: azk_scalar_rows_plain(wtype, K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q4_0:
    case AZC_DTYPE_Q4_1:
    case AZC_DTYPE_Q5_0:
    case AZC_DTYPE_Q5_1:
    case AZC_DTYPE_Q8_0: azk_scalar_rows_b32(wtype, K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q2_K: azk_scalar_rows_q2_k(K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q3_K: azk_scalar_rows_q3_k(K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q4_K: azk_scalar_rows_q4_k(K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q5_K: azk_scalar_rows_q5_k(K, w, x, x_stride, n, o); break;
    case AZK_WTYPE_Q4_K_U: azk_scalar_rows_k45(4, 1, K, w, x, x_stride, n, o); break;
    case AZK_WTYPE_Q5_K_U: azk_scalar_rows_k45(5, 1, K, w, x, x_stride, n, o); break;
    case AZC_DTYPE_Q6_K: azk_scalar_rows_q6_k(K, w, x, x_stride, n, o); break;
    default:
      for (int r = 0; r < n; r++) o[r] = 0.0f;
      break;
    }
  }
}

static inline float azk_dot_scalar(int wtype, int64_t K, const void *w_row, const void *x_row) {
  float out[1];
  azk_dot_rows_scalar(wtype, K, w_row, x_row, 0, 1, out);
  return out[0];
}

/* ---- float helpers for attention ---- */

static inline float azk_vec_dot_f32(const float *a, const float *b, int64_t n) {
  return AZK_IMPL(dot_f32)(a, b, n);
}

/* y[i] += alpha * x[i] */
static inline void azk_vec_axpy_f32(int64_t n, float alpha, const float *x, float *y) {
  AZK_IMPL(axpy_f32)(n, alpha, x, y);
}

#endif
