/* Reading the block formats: dequantization of rows and the dot product of a
 * stored row with a float vector (the eager interpreter's matmul).
 *
 * Each format has one decoder that turns one block into its float values with
 * exactly the arithmetic of ggml's reference dequantization (the same products
 * in the same order, so values match llama.cpp's bit for bit). Both the row
 * dequantizer and the dot product are built on these decoders: the dot product
 * decodes one block into a small stack buffer and accumulates products into 32
 * independent lanes, so it equals dequantize-then-dot up to the order of the
 * float additions, needs no row buffer, and its inner loops are plain
 * element-wise loops that the compiler's auto-vectorizer handles. */
#include <string.h>

#include "runtime/base/util.h"
#include "runtime/quant.h"

enum { LANES = 32 };

static inline float half_at(const uint8_t h[2]) { return azc_fp16_to_f32(azc_load_u16le(h)); }

static inline float f32_at(const uint8_t p[4]) {
  uint32_t bits = azc_load_u32le(p);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* fp16 -> f32 without branches, so that loops over a row vectorize: shift the
 * exponent and mantissa into place and multiply by 2^112 to re-bias the
 * exponent (exact, and it turns half denormals into float normals); a half
 * inf/NaN lands at or above 2^16 and gets the all-ones exponent. Gives the
 * same bits as azc_fp16_to_f32 for all 65536 inputs (tests/quant checks). */
static inline float half_to_f32_fast(uint16_t h) {
  uint32_t bits = (uint32_t)(h & 0x7fff) << 13;
  float f;
  memcpy(&f, &bits, 4);
  f *= 0x1p112f;
  memcpy(&bits, &f, 4);
  bits |= f >= 65536.0f ? 0x7f800000u : 0;
  bits |= (uint32_t)(h & 0x8000) << 16;
  memcpy(&f, &bits, 4);
  return f;
}

/* ---- one block -> floats ---- */

static inline void decode_q4_0(const azc_block_q4_0_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  for (int j = 0; j < AZC_QK / 2; j++) {
    y[j] = (float)((b->qs[j] & 15) - 8) * d;
    y[j + AZC_QK / 2] = (float)((b->qs[j] >> 4) - 8) * d;
  }
}

static inline void decode_q4_1(const azc_block_q4_1_t *restrict b, float *restrict y) {
  const float d = half_at(b->d), m = half_at(b->m);
  for (int j = 0; j < AZC_QK / 2; j++) {
    y[j] = (float)(b->qs[j] & 15) * d + m;
    y[j + AZC_QK / 2] = (float)(b->qs[j] >> 4) * d + m;
  }
}

/* out[j] = 16 if bit j of the 32 bits in qh is set, else 0. Spreads each byte's
 * bits over 8 bytes with a multiply, so the decode loops below need no
 * per-value shifts (which SSE2 cannot vectorize). */
static inline void q5_high_bits(const uint8_t qh[4], uint8_t out[AZC_QK]) {
  for (int k = 0; k < 4; k++) {
    uint64_t x = (qh[k] * 0x0101010101010101ull) & 0x8040201008040201ull; /* byte t: bit t */
    x = (((x + 0x7f7f7f7f7f7f7f7full) | x) & 0x8080808080808080ull) >> 3; /* nonzero -> 16 */
    for (int t = 0; t < 8; t++) out[8 * k + t] = (uint8_t)(x >> (8 * t));
  }
}

static inline void decode_q5_0(const azc_block_q5_0_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  uint8_t h[AZC_QK];
  q5_high_bits(b->qh, h);
  for (int j = 0; j < AZC_QK / 2; j++) {
    const int lo = (b->qs[j] & 15) | h[j];
    const int hi = (b->qs[j] >> 4) | h[j + AZC_QK / 2];
    y[j] = (float)(lo - 16) * d;
    y[j + AZC_QK / 2] = (float)(hi - 16) * d;
  }
}

static inline void decode_q5_1(const azc_block_q5_1_t *restrict b, float *restrict y) {
  const float d = half_at(b->d), m = half_at(b->m);
  uint8_t h[AZC_QK];
  q5_high_bits(b->qh, h);
  for (int j = 0; j < AZC_QK / 2; j++) {
    const int lo = (b->qs[j] & 15) | h[j];
    const int hi = (b->qs[j] >> 4) | h[j + AZC_QK / 2];
    y[j] = (float)lo * d + m;
    y[j + AZC_QK / 2] = (float)hi * d + m;
  }
}

static inline void decode_q8_0(const azc_block_q8_0_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  for (int j = 0; j < AZC_QK; j++) y[j] = (float)b->qs[j] * d;
}

static inline void decode_q8_1(const azc_block_q8_1_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  for (int j = 0; j < AZC_QK; j++) y[j] = (float)b->qs[j] * d;
}

/* Q2_K: the 256 values are two halves of 128; in each half, byte l of the 32
 * qs bytes holds values l, l + 32, l + 64, l + 96 in its four 2-bit fields. */
static inline void decode_q2_k(const azc_block_q2_k_t *restrict b, float *restrict y) {
  const float d = half_at(b->d), dmin = half_at(b->dmin);
  for (int half = 0; half < 2; half++) {
    for (int plane = 0; plane < 4; plane++) {
      for (int g = 0; g < 2; g++) {
        const uint8_t sc = b->scales[8 * half + 2 * plane + g];
        const float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
        const uint8_t *q = b->qs + 32 * half + 16 * g;
        float *out = y + 128 * half + 32 * plane + 16 * g;
        for (int l = 0; l < 16; l++) out[l] = dl * (float)((q[l] >> (2 * plane)) & 3) - ml;
      }
    }
  }
}

/* The 16 signed 6-bit scales of a Q3_K block (see quant.h for the packing). */
static inline void q3_k_scales(const uint8_t s[12], int out[16]) {
  for (int i = 0; i < 16; i++) {
    const int low = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = (low | high << 4) - 32;
  }
}

static inline void decode_q3_k(const azc_block_q3_k_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  int sc[16];
  q3_k_scales(b->scales, sc);
  for (int half = 0; half < 2; half++) {
    for (int plane = 0; plane < 4; plane++) {
      const int bit = 4 * half + plane; /* = value index / 32 */
      for (int g = 0; g < 2; g++) {
        const float dl = d * (float)sc[8 * half + 2 * plane + g];
        const uint8_t *q = b->qs + 32 * half + 16 * g;
        const uint8_t *hm = b->hmask + 16 * g;
        float *out = y + 128 * half + 32 * plane + 16 * g;
        for (int l = 0; l < 16; l++) {
          const int v = ((q[l] >> (2 * plane)) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4);
          out[l] = dl * (float)v;
        }
      }
    }
  }
}

/* Scale and min of sub-block j of a Q4_K/Q5_K block (6 bits each, see quant.h). */
static inline void k4_scale_min(int j, const uint8_t s[12], int *sc, int *m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

static inline void decode_q4_k(const azc_block_q4_k_t *restrict b, float *restrict y) {
  const float d = half_at(b->d), dmin = half_at(b->dmin);
  for (int c = 0; c < 4; c++) { /* 64 values: low nibbles, then high nibbles */
    int sc, m;
    k4_scale_min(2 * c, b->scales, &sc, &m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    k4_scale_min(2 * c + 1, b->scales, &sc, &m);
    const float d2 = d * (float)sc, m2 = dmin * (float)m;
    const uint8_t *q = b->qs + 32 * c;
    for (int l = 0; l < 32; l++) y[64 * c + l] = d1 * (float)(q[l] & 15) - m1;
    for (int l = 0; l < 32; l++) y[64 * c + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
  }
}

static inline void decode_q5_k(const azc_block_q5_k_t *restrict b, float *restrict y) {
  const float d = half_at(b->d), dmin = half_at(b->dmin);
  for (int c = 0; c < 4; c++) {
    int sc, m;
    k4_scale_min(2 * c, b->scales, &sc, &m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    k4_scale_min(2 * c + 1, b->scales, &sc, &m);
    const float d2 = d * (float)sc, m2 = dmin * (float)m;
    const uint8_t *q = b->qs + 32 * c;
    for (int l = 0; l < 32; l++) {
      const int v = (q[l] & 15) + (((b->qh[l] >> (2 * c)) & 1) << 4);
      y[64 * c + l] = d1 * (float)v - m1;
    }
    for (int l = 0; l < 32; l++) {
      const int v = (q[l] >> 4) + (((b->qh[l] >> (2 * c + 1)) & 1) << 4);
      y[64 * c + 32 + l] = d2 * (float)v - m2;
    }
  }
}

/* Q6_K: per half of 128 values, ql[0..32) holds values 0..32 (low nibble) and
 * 64..96 (high), ql[32..64) values 32..64 and 96..128; qh[l] holds the top two
 * bits of values l, l + 32, l + 64, l + 96. */
static inline void decode_q6_k(const azc_block_q6_k_t *restrict b, float *restrict y) {
  const float d = half_at(b->d);
  for (int half = 0; half < 2; half++) {
    const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
    const int8_t *sc = b->scales + 8 * half;
    float *out = y + 128 * half;
    for (int g = 0; g < 2; g++) {
      const float d0 = d * (float)sc[g], d1 = d * (float)sc[g + 2];
      const float d2 = d * (float)sc[g + 4], d3 = d * (float)sc[g + 6];
      for (int l = 16 * g; l < 16 * g + 16; l++) {
        const int q0 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q1 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q2 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q3 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        out[l] = d0 * (float)q0;
        out[l + 32] = d1 * (float)q1;
        out[l + 64] = d2 * (float)q2;
        out[l + 96] = d3 * (float)q3;
      }
    }
  }
}

static inline void decode_q8_k(const azc_block_q8_k_t *restrict b, float *restrict y) {
  const float d = f32_at(b->d);
  for (int j = 0; j < AZC_QK_K; j++) y[j] = d * (float)b->qs[j];
}

/* ---- rows ---- */

/* F16/BF16 rows; LANES at a time since loops with a fixed trip count vectorize at -O2. */
static void f16_to_f32_row(const uint8_t *restrict src, float *restrict dst, int64_t n) {
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++)
      dst[i + l] = half_to_f32_fast(azc_load_u16le(src + 2 * (i + l)));
  for (; i < n; i++) dst[i] = half_to_f32_fast(azc_load_u16le(src + 2 * i));
}

static void bf16_to_f32_row(const uint8_t *restrict src, float *restrict dst, int64_t n) {
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) dst[i + l] = azc_bf16_to_f32(azc_load_u16le(src + 2 * (i + l)));
  for (; i < n; i++) dst[i] = azc_bf16_to_f32(azc_load_u16le(src + 2 * i));
}

#define DEQUANTIZE_BLOCKS(T, decode, qk)                                                           \
  do {                                                                                             \
    const T *blocks = src;                                                                         \
    for (int64_t i = 0; i < n / (qk); i++) decode(&blocks[i], dst + i * (qk));                     \
  } while (0)

void azc_dequantize_row(azc_dtype_t type, const void *src, float *dst, int64_t n) {
  if (n <= 0) return;
  const azc_dtype_info_t *info = azc_dtype_info(type);
  if (!info || !info->can_dequantize) {
    memset(dst, 0, (size_t)n * sizeof(float));
    return;
  }
  const int64_t done = n / info->block_size * info->block_size;
  const uint8_t *bytes = src;
  switch (type) {
  case AZC_DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
  case AZC_DTYPE_F16: f16_to_f32_row(bytes, dst, n); break;
  case AZC_DTYPE_BF16: bf16_to_f32_row(bytes, dst, n); break;
  case AZC_DTYPE_Q4_0: DEQUANTIZE_BLOCKS(azc_block_q4_0_t, decode_q4_0, AZC_QK); break;
  case AZC_DTYPE_Q4_1: DEQUANTIZE_BLOCKS(azc_block_q4_1_t, decode_q4_1, AZC_QK); break;
  case AZC_DTYPE_Q5_0: DEQUANTIZE_BLOCKS(azc_block_q5_0_t, decode_q5_0, AZC_QK); break;
  case AZC_DTYPE_Q5_1: DEQUANTIZE_BLOCKS(azc_block_q5_1_t, decode_q5_1, AZC_QK); break;
  case AZC_DTYPE_Q8_0: DEQUANTIZE_BLOCKS(azc_block_q8_0_t, decode_q8_0, AZC_QK); break;
  case AZC_DTYPE_Q8_1: DEQUANTIZE_BLOCKS(azc_block_q8_1_t, decode_q8_1, AZC_QK); break;
  case AZC_DTYPE_Q2_K: DEQUANTIZE_BLOCKS(azc_block_q2_k_t, decode_q2_k, AZC_QK_K); break;
  case AZC_DTYPE_Q3_K: DEQUANTIZE_BLOCKS(azc_block_q3_k_t, decode_q3_k, AZC_QK_K); break;
  case AZC_DTYPE_Q4_K: DEQUANTIZE_BLOCKS(azc_block_q4_k_t, decode_q4_k, AZC_QK_K); break;
  case AZC_DTYPE_Q5_K: DEQUANTIZE_BLOCKS(azc_block_q5_k_t, decode_q5_k, AZC_QK_K); break;
  case AZC_DTYPE_Q6_K: DEQUANTIZE_BLOCKS(azc_block_q6_k_t, decode_q6_k, AZC_QK_K); break;
  case AZC_DTYPE_Q8_K: DEQUANTIZE_BLOCKS(azc_block_q8_k_t, decode_q8_k, AZC_QK_K); break;
  default: break;
  }
  /* a partial block at the end (a caller's mistake) reads as zeros */
  if (done < n) memset(dst + done, 0, (size_t)(n - done) * sizeof(float));
}

void azc_dequantize_rows(azc_dtype_t type, const void *src, float *dst, int64_t n_rows,
                         int64_t n_cols) {
  const azc_dtype_info_t *info = azc_dtype_info(type);
  if (n_rows <= 0 || n_cols <= 0) return;
  /* bytes per row, also for a row length that is not a whole number of blocks */
  const size_t stride = info ? (size_t)(n_cols / info->block_size) * (size_t)info->type_size : 0;
  for (int64_t r = 0; r < n_rows; r++)
    azc_dequantize_row(type, (const uint8_t *)src + (size_t)r * stride, dst + r * n_cols, n_cols);
}

/* ---- dot products ---- */

/* acc[l] += w[c + l] * x[c + l] for each group of LANES values; n is a
 * multiple of LANES. Element-wise, so it vectorizes without reassociation. */
static inline void lanes_add(float *restrict acc, const float *restrict w, const float *restrict x,
                             int n) {
  for (int c = 0; c < n; c += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += w[c + l] * x[c + l];
}

static inline float lanes_sum(float *acc) {
  for (int width = LANES / 2; width > 0; width /= 2)
    for (int l = 0; l < width; l++) acc[l] += acc[l + width];
  return acc[0];
}

#define DEFINE_DOT(name, T, qk)                                                                    \
  static float dot_##name(const void *row, const float *restrict x, int64_t n_blocks) {            \
    const T *blocks = row;                                                                         \
    float acc[LANES] = {0}, w[qk];                                                                 \
    for (int64_t i = 0; i < n_blocks; i++) {                                                       \
      decode_##name(&blocks[i], w);                                                                \
      lanes_add(acc, w, x + i * (qk), (qk));                                                       \
    }                                                                                              \
    return lanes_sum(acc);                                                                         \
  }

DEFINE_DOT(q4_0, azc_block_q4_0_t, AZC_QK)
DEFINE_DOT(q4_1, azc_block_q4_1_t, AZC_QK)
DEFINE_DOT(q5_0, azc_block_q5_0_t, AZC_QK)
DEFINE_DOT(q5_1, azc_block_q5_1_t, AZC_QK)
DEFINE_DOT(q8_0, azc_block_q8_0_t, AZC_QK)
DEFINE_DOT(q8_1, azc_block_q8_1_t, AZC_QK)
DEFINE_DOT(q2_k, azc_block_q2_k_t, AZC_QK_K)
DEFINE_DOT(q3_k, azc_block_q3_k_t, AZC_QK_K)
DEFINE_DOT(q4_k, azc_block_q4_k_t, AZC_QK_K)
DEFINE_DOT(q5_k, azc_block_q5_k_t, AZC_QK_K)
DEFINE_DOT(q6_k, azc_block_q6_k_t, AZC_QK_K)
DEFINE_DOT(q8_k, azc_block_q8_k_t, AZC_QK_K)

/* F32/F16/BF16: LANES values at a time, then the tail one by one. */
static float dot_plain(azc_dtype_t type, const void *row, const float *restrict x, int64_t n) {
  const uint8_t *bytes = row;
  float acc[LANES] = {0}, w[LANES];
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    if (type == AZC_DTYPE_F32) {
      memcpy(w, bytes + 4 * i, sizeof(w));
    } else if (type == AZC_DTYPE_F16) {
      for (int l = 0; l < LANES; l++) w[l] = half_to_f32_fast(azc_load_u16le(bytes + 2 * (i + l)));
    } else {
      for (int l = 0; l < LANES; l++) w[l] = azc_bf16_to_f32(azc_load_u16le(bytes + 2 * (i + l)));
    }
    lanes_add(acc, w, x + i, LANES);
  }
  for (int l = 0; i < n; i++, l++) {
    float v;
    if (type == AZC_DTYPE_F32) {
      memcpy(&v, bytes + 4 * i, 4);
    } else if (type == AZC_DTYPE_F16) {
      v = half_to_f32_fast(azc_load_u16le(bytes + 2 * i));
    } else {
      v = azc_bf16_to_f32(azc_load_u16le(bytes + 2 * i));
    }
    acc[l] += v * x[i];
  }
  return lanes_sum(acc);
}

float azc_vec_dot_row(azc_dtype_t type, const void *row, const float *x, int64_t n) {
  const azc_dtype_info_t *info = azc_dtype_info(type);
  if (n <= 0 || !info || !info->can_dequantize) return 0.0f;
  const int64_t nb = n / info->block_size; /* a partial last block is ignored */
  switch (type) {
  case AZC_DTYPE_F32:
  case AZC_DTYPE_F16:
  case AZC_DTYPE_BF16: return dot_plain(type, row, x, n);
  case AZC_DTYPE_Q4_0: return dot_q4_0(row, x, nb);
  case AZC_DTYPE_Q4_1: return dot_q4_1(row, x, nb);
  case AZC_DTYPE_Q5_0: return dot_q5_0(row, x, nb);
  case AZC_DTYPE_Q5_1: return dot_q5_1(row, x, nb);
  case AZC_DTYPE_Q8_0: return dot_q8_0(row, x, nb);
  case AZC_DTYPE_Q8_1: return dot_q8_1(row, x, nb);
  case AZC_DTYPE_Q2_K: return dot_q2_k(row, x, nb);
  case AZC_DTYPE_Q3_K: return dot_q3_k(row, x, nb);
  case AZC_DTYPE_Q4_K: return dot_q4_k(row, x, nb);
  case AZC_DTYPE_Q5_K: return dot_q5_k(row, x, nb);
  case AZC_DTYPE_Q6_K: return dot_q6_k(row, x, nb);
  case AZC_DTYPE_Q8_K: return dot_q8_k(row, x, nb);
  default: return 0.0f;
  }
}
