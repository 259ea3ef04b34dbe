/* runtime/quant: the block formats.
 *
 * - type table, names, row sizes
 * - bit layouts: blocks built here byte by byte from chosen scales and levels
 *   (placing each value with the per-value position rules of the format, not
 *   with the library's loops), dequantized and compared exactly with values
 *   computed from the format's formula; plus a few blocks written out as
 *   literal bytes with their values worked out by hand
 * - quantize -> dequantize round trips on several distributions, with bounds on
 *   relative RMSE per type and on the largest error per block; zero, constant,
 *   tiny, huge and non-finite blocks
 * - the bytes of every quantizer against digests of llama.cpp's output for one
 *   fixed input
 * - vec_dot against dequantize-then-dot for every type; F16/BF16 rows against
 *   runtime/base's conversions for all 65536 values
 * - llama.cpp's own files (shared/models): the quantized files hold the f16
 *   file's weights; azc's dequantization of them must be as close to the f16
 *   weights as the format allows, and azc's quantizers run on the f16 weights
 *   must give llama.cpp's bytes (all of them for Q8_0 and Q4_0, 99.9% for the
 *   K-quants, whose searches a fused multiply-add could tip) and an error no
 *   worse than llama.cpp's; files without an f16 twin must re-quantize to
 *   their own bytes. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "frontend/gguf.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/quant.h"
#include "tests/test.h"

/* ---- helpers ---- */

static const azc_dtype_t all_types[] = {
    AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16, AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_1,
    AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0, AZC_DTYPE_Q8_1, AZC_DTYPE_Q2_K,
    AZC_DTYPE_Q3_K, AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K, AZC_DTYPE_Q6_K, AZC_DTYPE_Q8_K};

static void put_f16(uint8_t *p, float v) {
  uint16_t h = azc_f32_to_fp16(v);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

/* ORs the low `width` bits of v into bytes[byte] at bit `shift`. */
static void put_bits(uint8_t *bytes, int byte, int shift, int width, int v) {
  bytes[byte] |= (uint8_t)((v & ((1 << width) - 1)) << shift);
}

static int block_size_of(azc_dtype_t t) { return azc_dtype_info(t)->block_size; }
static int type_size_of(azc_dtype_t t) { return azc_dtype_info(t)->type_size; }

/* ---- type table ---- */

static void test_type_table(void) {
  /* block bytes from the parts of each layout */
  struct {
    azc_dtype_t type;
    int block, bytes;
  } want[] = {
      {AZC_DTYPE_F32, 1, 4},
      {AZC_DTYPE_F16, 1, 2},
      {AZC_DTYPE_BF16, 1, 2},
      {AZC_DTYPE_Q4_0, 32, 2 + 32 / 2},
      {AZC_DTYPE_Q4_1, 32, 2 + 2 + 32 / 2},
      {AZC_DTYPE_Q5_0, 32, 2 + 32 / 8 + 32 / 2},
      {AZC_DTYPE_Q5_1, 32, 2 + 2 + 32 / 8 + 32 / 2},
      {AZC_DTYPE_Q8_0, 32, 2 + 32},
      {AZC_DTYPE_Q8_1, 32, 2 + 2 + 32},
      {AZC_DTYPE_Q2_K, 256, 256 / 16 + 256 / 4 + 2 + 2},
      {AZC_DTYPE_Q3_K, 256, 256 / 8 + 256 / 4 + 12 + 2},
      {AZC_DTYPE_Q4_K, 256, 2 + 2 + 12 + 256 / 2},
      {AZC_DTYPE_Q5_K, 256, 2 + 2 + 12 + 256 / 8 + 256 / 2},
      {AZC_DTYPE_Q6_K, 256, 256 / 2 + 256 / 4 + 256 / 16 + 2},
      {AZC_DTYPE_Q8_K, 256, 4 + 256 + 256 / 16 * 2},
  };
  for (size_t i = 0; i < AZC_ARRAY_SIZE(want); i++) {
    const azc_dtype_info_t *info = azc_dtype_info(want[i].type);
    ASSERT(info != NULL);
    ASSERT_EQ_INT(info->block_size, want[i].block);
    ASSERT_EQ_INT(info->type_size, want[i].bytes);
    ASSERT(info->can_dequantize);
    ASSERT(info->is_quantized == (want[i].block > 1));
    bool writes = want[i].type != AZC_DTYPE_Q8_K || info->can_quantize; /* Q8_K optional */
    ASSERT_MSG(info->can_quantize == writes, "%s", info->name);
    ASSERT_EQ_INT(azc_dtype_row_size(want[i].type, 4096), 4096 / want[i].block * want[i].bytes);
    ASSERT_EQ_INT(azc_dtype_from_name(info->name), want[i].type);
    ASSERT_STREQ(azc_dtype_name(want[i].type), info->name);
  }
  ASSERT_EQ_INT(azc_dtype_row_size(AZC_DTYPE_Q4_K, 100), 0); /* not whole blocks */
  ASSERT_EQ_INT(azc_dtype_row_size(AZC_DTYPE_Q8_0, 48), 0);
  ASSERT_EQ_INT(azc_dtype_row_size(AZC_DTYPE_Q8_0, -32), 0);
  ASSERT_EQ_INT(azc_dtype_row_size(AZC_DTYPE_F16, 3), 6);
  ASSERT_EQ_INT(azc_dtype_row_size(AZC_DTYPE_Q6_K, 0), 0);
  ASSERT_EQ_INT(azc_dtype_row_size((azc_dtype_t)4, 32), 0); /* ids 4 and 5 are retired */
  ASSERT(azc_dtype_info(4) == NULL);
  ASSERT(azc_dtype_info(5) == NULL);
  ASSERT(azc_dtype_info(AZC_DTYPE_COUNT) == NULL);
  ASSERT(azc_dtype_info(UINT32_MAX) == NULL);
  ASSERT_STREQ(azc_dtype_name(99), "unknown");
  ASSERT(!azc_dtype_info(AZC_DTYPE_I32)->can_quantize);

  ASSERT_EQ_INT(azc_dtype_from_name("q4_k"), AZC_DTYPE_Q4_K);
  ASSERT_EQ_INT(azc_dtype_from_name("Q8_0"), AZC_DTYPE_Q8_0);
  ASSERT_EQ_INT(azc_dtype_from_name("f16"), AZC_DTYPE_F16);
  ASSERT_EQ_INT(azc_dtype_from_name("bf16"), AZC_DTYPE_BF16);
  ASSERT_EQ_INT(azc_dtype_from_name("Q6_k"), AZC_DTYPE_Q6_K);
  ASSERT_EQ_INT(azc_dtype_from_name("q4_k_m"), -1); /* a file mix, not a type */
  ASSERT_EQ_INT(azc_dtype_from_name("q4"), -1);
  ASSERT_EQ_INT(azc_dtype_from_name("q4_0x"), -1);
  ASSERT_EQ_INT(azc_dtype_from_name(""), -1);
  ASSERT_EQ_INT(azc_dtype_from_name(NULL), -1);

  /* quantize_row refuses what it cannot write */
  float x[64] = {0};
  uint8_t buf[256];
  ASSERT_EQ_INT(azc_quantize_row(AZC_DTYPE_I8, x, buf, 64), 0);
  ASSERT_EQ_INT(azc_quantize_row((azc_dtype_t)4, x, buf, 64), 0);
  ASSERT_EQ_INT(azc_quantize_row(AZC_DTYPE_Q8_0, x, buf, 48), 0);
  ASSERT_EQ_INT(azc_quantize_row(AZC_DTYPE_Q8_0, x, buf, 64), 68);
}

/* ---- bit layouts: literal blocks ---- */

static void expect_values(azc_dtype_t t, const uint8_t *block, const int *idx, const float *want,
                          int n_checks, int *ok) {
  float y[256];
  azc_dequantize_row(t, block, y, block_size_of(t));
  *ok = 1;
  for (int i = 0; i < n_checks; i++) {
    if (y[idx[i]] != want[i]) {
      fprintf(stderr, "  %s value %d: got %g, want %g\n", azc_dtype_name(t), idx[i], y[idx[i]],
              want[i]);
      *ok = 0;
    }
  }
}

static void test_layout_literals(void) {
  int ok;
  { /* Q4_0, d = 1: qs[0] = 0x1f -> v0 = 15 - 8, v16 = 1 - 8; qs[15] = 0x80 -> v15 = -8, v31 = 0 */
    uint8_t b[18] = {0x00, 0x3c, 0x1f};
    b[2 + 15] = 0x80;
    const int idx[] = {0, 16, 1, 17, 15, 31};
    const float want[] = {7, -7, -8, -8, -8, 0};
    expect_values(AZC_DTYPE_Q4_0, b, idx, want, 6, &ok);
    ASSERT(ok);
  }
  { /* Q5_1, d = 0.5, m = -1, qh bits 0 and 31; qs[0] = 0x21, qs[15] = 0xf0 */
    uint8_t b[24] = {0x00, 0x38, 0x00, 0xbc, 0x01, 0x00, 0x00, 0x80, 0x21};
    b[8 + 15] = 0xf0;
    const int idx[] = {0, 16, 15, 31, 1};
    const float want[] = {17 * 0.5f - 1, 2 * 0.5f - 1, -1, 31 * 0.5f - 1, -1};
    expect_values(AZC_DTYPE_Q5_1, b, idx, want, 5, &ok);
    ASSERT(ok);
  }
  { /* Q2_K: scales[0] = 0x21 (sc 1, m 2), scales[1] = 0x03, scales[5] = 0x1f; d = 1,
       dmin = 0.25. qs[0] = 0xe4: v0 = 0 (plane 0), v32 = 1, v64 = 2, v96 = 3 (sub-blocks
       2, 4, 6 have scale 0). qs[16] = 0x30: v80 (sub-block 5, plane 2) = 3, v16 = 0.
       qs[17] = 0x02: v17 (sub-block 1) = 2. */
    uint8_t b[84] = {0x21, 0x03, 0, 0, 0, 0x1f};
    b[16 + 0] = 0xe4;
    b[16 + 16] = 0x30;
    b[16 + 17] = 0x02;
    b[80] = 0x00, b[81] = 0x3c, b[82] = 0x00, b[83] = 0x34;
    const int idx[] = {0, 1, 32, 80, 81, 16, 17};
    const float want[] = {-0.5f, -0.5f, 0, 15 * 3 - 0.25f, -0.25f, 0, 6};
    expect_values(AZC_DTYPE_Q2_K, b, idx, want, 7, &ok);
    ASSERT(ok);
  }
  { /* Q3_K, d = 1. Sub-block 0 scale 33 - 32 = 1 (nibble 1 in scales[0], top bits 2 in
       scales[8] bits 0-1); sub-block 9 scale 28 - 32 = -4 (nibble 12 in scales[1] high,
       top bits 1 in scales[9] bits 4-5); every other sub-block stores 0, i.e. -32.
       v0: qs[0] = 3, hmask[0] bit 0 set -> 3. v1: 0, clear -> -4.
       v144 (sub-block 9): qs[48] bits 0-1 = 2, hmask[16] bit 4 set -> 2 * -4.
       v16 (sub-block 1): 0 - 4 -> -4 * -32. */
    uint8_t b[110] = {0};
    uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
    qs[0] = 0x03, hmask[0] = 0x01;
    qs[48] = 0x02, hmask[16] = 0x10;
    sc[0] = 0x01, sc[8] = 0x02;
    sc[1] = 0xc0, sc[9] = 0x10;
    b[108] = 0x00, b[109] = 0x3c;
    const int idx[] = {0, 1, 144, 145, 16};
    const float want[] = {3, -4, -8, 16, 128};
    expect_values(AZC_DTYPE_Q3_K, b, idx, want, 5, &ok);
    ASSERT(ok);
  }
  { /* Q4_K, d = 1, dmin = 0.5. Sub-block 0: sc 1, m 2; sub-block 4: sc 33, m 17:
       scales[0] = 1 | (33 >> 4) << 6, scales[4] = 2 | (17 >> 4) << 6, scales[8] = 1 | 1 << 4.
       qs[0] = 0x5a: v0 = 10 (sub-block 0), v32 = 5 (sub-block 1: scale 0, min 0).
       qs[64] = 0x03: v128 (sub-block 4) = 3. */
    uint8_t b[144] = {0x00, 0x3c, 0x00, 0x38, 0x81, 0, 0, 0, 0x42, 0, 0, 0, 0x11};
    b[16 + 0] = 0x5a;
    b[16 + 64] = 0x03;
    const int idx[] = {0, 1, 32, 128, 129};
    const float want[] = {10 - 1, -1, 0, 33 * 3 - 8.5f, -8.5f};
    expect_values(AZC_DTYPE_Q4_K, b, idx, want, 5, &ok);
    ASSERT(ok);
  }
  { /* Q6_K, d = 0.5; scales[0] = -3, [2] = 5, [4] = 7, [6] = 1, [8] = 2.
       ql[0] = 0x2f, qh[0] = 0x13: v0 = 15 | 3 << 4 = 63, v64 = 2 | 1 << 4 = 18,
       v32 = ql[32] low | qh[0] bits 2-3 = 0, v96 = 0; v128 = 0 (second half). */
    uint8_t b[210] = {0};
    uint8_t *ql = b, *qh = b + 128;
    int8_t *scales = (int8_t *)(b + 192);
    ql[0] = 0x2f, qh[0] = 0x13;
    scales[0] = -3, scales[2] = 5, scales[4] = 7, scales[6] = 1, scales[8] = 2;
    b[208] = 0x00, b[209] = 0x38;
    const int idx[] = {0, 64, 32, 96, 128};
    const float want[] = {0.5f * -3 * 31, 0.5f * 7 * -14, 0.5f * 5 * -32, 0.5f * 1 * -32,
                          0.5f * 2 * -32};
    expect_values(AZC_DTYPE_Q6_K, b, idx, want, 5, &ok);
    ASSERT(ok);
  }
  { /* Q8_K: f32 d = 0.25, qs[0] = -128, qs[255] = 127 */
    uint8_t b[292] = {0x00, 0x00, 0x80, 0x3e, 0x80};
    b[4 + 255] = 0x7f;
    const int idx[] = {0, 255, 1};
    const float want[] = {-32, 31.75f, 0};
    expect_values(AZC_DTYPE_Q8_K, b, idx, want, 3, &ok);
    ASSERT(ok);
  }
  {                                                /* F16 / BF16 little-endian */
    const uint8_t h[4] = {0x00, 0x3c, 0x00, 0xc0}; /* 1, -2 */
    float y[2];
    azc_dequantize_row(AZC_DTYPE_F16, h, y, 2);
    ASSERT(y[0] == 1 && y[1] == -2);
    const uint8_t bf[4] = {0x80, 0x3f, 0x40, 0xc0}; /* 1, -3 */
    azc_dequantize_row(AZC_DTYPE_BF16, bf, y, 2);
    ASSERT(y[0] == 1 && y[1] == -3);
  }
}

/* ---- bit layouts: random blocks built from their meaning ---- */

/* Scales whose products with small integers are exact in float, so the
 * expected values (computed here in double) must match bit for bit. */
static const float d_choices[] = {0.5f, 1.5f, -0.75f, 0.125f, 3.0f, 0.0048828125f, -2.0f, 0.0f};
static const float m_choices[] = {0.25f, 0.375f, 1.0f, 0.0f, -1.25f, 6.5f};

static float pick(test_rng_t *r, const float *choices, int n) {
  return choices[test_rng_int(r, n)];
}
#define PICK(r, a) pick((r), (a), (int)AZC_ARRAY_SIZE(a))

/* Writes one random block of type t into `b` (zeroed first) and its values into `want`. */
static void build_block(azc_dtype_t t, test_rng_t *r, uint8_t *b, float *want) {
  memset(b, 0, (size_t)type_size_of(t));
  const double d = PICK(r, d_choices), m = PICK(r, m_choices);
  switch (t) {
  case AZC_DTYPE_Q4_0:
  case AZC_DTYPE_Q4_1:
  case AZC_DTYPE_Q5_0:
  case AZC_DTYPE_Q5_1: {
    const bool has_min = t == AZC_DTYPE_Q4_1 || t == AZC_DTYPE_Q5_1;
    const bool five = t == AZC_DTYPE_Q5_0 || t == AZC_DTYPE_Q5_1;
    put_f16(b, (float)d);
    if (has_min) put_f16(b + 2, (float)m);
    uint8_t *qh = b + (has_min ? 4 : 2), *qs = qh + (five ? 4 : 0);
    for (int e = 0; e < 32; e++) {
      const int q = test_rng_int(r, five ? 32 : 16);
      put_bits(qs, e % 16, 4 * (e / 16), 4, q); /* value e: byte e % 16, high nibble if e >= 16 */
      if (five) put_bits(qh, e / 8, e % 8, 1, q >> 4); /* 5th bit: bit e of qh */
      want[e] = has_min ? (float)(q * d + m) : (float)((q - (five ? 16 : 8)) * d);
    }
    break;
  }
  case AZC_DTYPE_Q8_0:
  case AZC_DTYPE_Q8_1:
    put_f16(b, (float)d);
    if (t == AZC_DTYPE_Q8_1) put_f16(b + 2, (float)m);
    for (int e = 0; e < 32; e++) {
      const int q = test_rng_int(r, 256) - 128;
      b[(t == AZC_DTYPE_Q8_1 ? 4 : 2) + e] = (uint8_t)q;
      want[e] = (float)(q * d);
    }
    break;
  case AZC_DTYPE_Q2_K: { /* scales[16] qs[64] d dmin */
    int sc[16], mn[16];
    for (int s = 0; s < 16; s++) {
      sc[s] = test_rng_int(r, 16), mn[s] = test_rng_int(r, 16);
      b[s] = (uint8_t)(sc[s] | mn[s] << 4);
    }
    const double dmin = fabs(m);
    put_f16(b + 80, (float)d);
    put_f16(b + 82, (float)dmin);
    for (int e = 0; e < 256; e++) {
      const int q = test_rng_int(r, 4);
      put_bits(b + 16, 32 * (e / 128) + e % 32, 2 * ((e % 128) / 32), 2, q);
      want[e] = (float)(d * sc[e / 16] * q - dmin * mn[e / 16]);
    }
    break;
  }
  case AZC_DTYPE_Q3_K: { /* hmask[32] qs[64] scales[12] d */
    int sc[16];
    for (int s = 0; s < 16; s++) {
      sc[s] = test_rng_int(r, 64); /* stored; the scale is sc - 32 */
      put_bits(b + 96, s % 8, 4 * (s / 8), 4, sc[s]);
      put_bits(b + 96, 8 + s % 4, 2 * (s / 4), 2, sc[s] >> 4);
    }
    put_f16(b + 108, (float)d);
    for (int e = 0; e < 256; e++) {
      const int q = test_rng_int(r, 8) - 4; /* level in [-4, 3] */
      put_bits(b + 32, 32 * (e / 128) + e % 32, 2 * ((e % 128) / 32), 2, (q + 4) & 3);
      put_bits(b, e % 32, e / 32, 1, (q + 4) >> 2); /* set bit: no -4 */
      want[e] = (float)(d * (sc[e / 16] - 32) * q);
    }
    break;
  }
  case AZC_DTYPE_Q4_K:
  case AZC_DTYPE_Q5_K: { /* d dmin scales[12] (qh[32]) qs[128] */
    const bool five = t == AZC_DTYPE_Q5_K;
    int sc[8], mn[8];
    uint8_t *s12 = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
    for (int j = 0; j < 8; j++) {
      sc[j] = test_rng_int(r, 64), mn[j] = test_rng_int(r, 64);
      if (j < 4) {
        put_bits(s12, j, 0, 6, sc[j]);
        put_bits(s12, j + 4, 0, 6, mn[j]);
      } else {
        put_bits(s12, j + 4, 0, 4, sc[j]);
        put_bits(s12, j + 4, 4, 4, mn[j]);
        put_bits(s12, j - 4, 6, 2, sc[j] >> 4);
        put_bits(s12, j, 6, 2, mn[j] >> 4);
      }
    }
    const double dmin = fabs(m);
    put_f16(b, (float)d);
    put_f16(b + 2, (float)dmin);
    for (int e = 0; e < 256; e++) {
      const int q = test_rng_int(r, five ? 32 : 16);
      put_bits(qs, 32 * (e / 64) + e % 32, 4 * ((e / 32) % 2), 4, q);
      if (five) put_bits(qh, e % 32, e / 32, 1, q >> 4);
      want[e] = (float)(d * sc[e / 32] * q - dmin * mn[e / 32]);
    }
    break;
  }
  case AZC_DTYPE_Q6_K: { /* ql[128] qh[64] scales[16] d */
    int sc[16];
    for (int s = 0; s < 16; s++) {
      sc[s] = test_rng_int(r, 256) - 128;
      b[192 + s] = (uint8_t)sc[s];
    }
    put_f16(b + 208, (float)d);
    for (int e = 0; e < 256; e++) {
      const int q = test_rng_int(r, 64), h = e / 128, rr = e % 128;
      put_bits(b, 64 * h + rr % 64, 4 * (rr / 64), 4, q);
      put_bits(b + 128, 32 * h + rr % 32, 2 * (rr / 32), 2, q >> 4);
      want[e] = (float)(d * sc[e / 16] * (q - 32));
    }
    break;
  }
  case AZC_DTYPE_Q8_K: {
    const float df = (float)(d * 0.37);
    memcpy(b, &df, 4); /* the test machine is little-endian, like GGUF */
    for (int e = 0; e < 256; e++) {
      const int q = test_rng_int(r, 256) - 128;
      b[4 + e] = (uint8_t)q;
      want[e] = df * (float)q; /* one product: correctly rounded either way */
    }
    break;
  }
  default: break;
  }
}

static const azc_dtype_t block_types[] = {
    AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_1, AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0, AZC_DTYPE_Q8_1,
    AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K, AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K, AZC_DTYPE_Q6_K, AZC_DTYPE_Q8_K};

static void test_layout_random_blocks(void) {
  test_rng_t r = {1};
  enum { N_BLOCKS = 3 };
  uint8_t bytes[N_BLOCKS * 292];
  float want[N_BLOCKS * 256], got[N_BLOCKS * 256];
  for (size_t ti = 0; ti < AZC_ARRAY_SIZE(block_types); ti++) {
    const azc_dtype_t t = block_types[ti];
    const int bs = block_size_of(t), ts = type_size_of(t);
    for (int trial = 0; trial < 40; trial++) {
      for (int k = 0; k < N_BLOCKS; k++) build_block(t, &r, bytes + k * ts, want + k * bs);
      azc_dequantize_row(t, bytes, got, N_BLOCKS * bs);
      for (int e = 0; e < N_BLOCKS * bs; e++)
        ASSERT_MSG(got[e] == want[e], "%s trial %d value %d: got %.9g, want %.9g",
                   azc_dtype_name(t), trial, e, got[e], want[e]);
    }
  }
}

/* ---- round trips ---- */

typedef enum dist {
  DIST_NORMAL,
  DIST_UNIFORM,
  DIST_OUTLIERS, /* normal, 1 in 64 values times 30 */
  DIST_POSITIVE, /* uniform in [0.5, 1.5]: all of a block on one side of zero */
  DIST_SKEWED,   /* normal + 2: mostly positive */
  DIST_COUNT
} dist_t;
static const char *dist_names[DIST_COUNT] = {"normal", "uniform", "outliers", "positive", "skewed"};

static void fill(test_rng_t *r, dist_t dist, float scale, float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v;
    switch (dist) {
    case DIST_UNIFORM: v = (float)(2 * test_rng_uniform(r) - 1); break;
    case DIST_OUTLIERS: v = test_rng_normal(r) * (test_rng_int(r, 64) == 0 ? 30.0f : 1.0f); break;
    case DIST_POSITIVE: v = (float)(0.5 + test_rng_uniform(r)); break;
    case DIST_SKEWED: v = test_rng_normal(r) + 2; break;
    default: v = test_rng_normal(r); break;
    }
    x[i] = v * scale;
  }
}

typedef struct err_stats {
  double sum_err2, sum_ref2;
  double worst_block; /* max over blocks of max|err| / max|x| in the block */
} err_stats_t;

static void err_add(err_stats_t *s, const float *x, const float *y, int64_t n, int block) {
  for (int64_t b = 0; b < n; b += block) {
    double amax = 0, emax = 0;
    for (int64_t i = b; i < b + block; i++) {
      const double e = (double)y[i] - x[i];
      s->sum_err2 += e * e;
      s->sum_ref2 += (double)x[i] * x[i];
      amax = fmax(amax, fabs(x[i]));
      emax = fmax(emax, fabs(e));
    }
    if (amax > 0) s->worst_block = fmax(s->worst_block, emax / amax);
  }
}
static double err_rel_rmse(const err_stats_t *s) {
  return s->sum_ref2 > 0 ? sqrt(s->sum_err2 / s->sum_ref2) : 0;
}

/* Bounds for the round trips: the measured values (printed by the test) plus
 * about 15%. rmse: relative RMSE on normal data; rmse_any: on any of the
 * distributions (outliers are the hardest: the scale of a block follows its
 * largest value); worst: the largest error in a block over the block's largest
 * magnitude, on any distribution (for Q4_0/Q5_0 this is 1/8 and 1/16 in theory:
 * the value of largest magnitude sets the scale, one of opposite sign and the
 * same magnitude lands one level short). */
static const struct {
  azc_dtype_t type;
  double rmse, rmse_any, worst;
} bounds[] = {
    {AZC_DTYPE_F16, 0.00025, 0.00025, 0.0006}, {AZC_DTYPE_BF16, 0.002, 0.002, 0.0045},
    {AZC_DTYPE_Q8_0, 0.0062, 0.014, 0.0068},   {AZC_DTYPE_Q8_1, 0.0062, 0.014, 0.0068},
    {AZC_DTYPE_Q8_K, 0.008, 0.031, 0.0045},    {AZC_DTYPE_Q6_K, 0.021, 0.040, 0.058},
    {AZC_DTYPE_Q5_1, 0.044, 0.062, 0.038},     {AZC_DTYPE_Q5_0, 0.050, 0.098, 0.072},
    {AZC_DTYPE_Q5_K, 0.042, 0.062, 0.059},     {AZC_DTYPE_Q4_1, 0.090, 0.135, 0.077},
    {AZC_DTYPE_Q4_0, 0.098, 0.140, 0.135},     {AZC_DTYPE_Q4_K, 0.082, 0.105, 0.105},
    {AZC_DTYPE_Q3_K, 0.175, 0.175, 0.280},     {AZC_DTYPE_Q2_K, 0.340, 0.340, 0.450},
};

static void test_round_trip(void) {
  test_rng_t r = {7};
  enum { N = 64 * 256 };
  static float x[N], y[N];
  static uint8_t q[N * 4];
  fprintf(stderr, "  round trip: relative RMSE per distribution, worst block error / block max\n");
  fprintf(stderr, "  %-5s", "type");
  for (int dd = 0; dd < DIST_COUNT; dd++) fprintf(stderr, " %9s", dist_names[dd]);
  fprintf(stderr, " %9s %9s %9s\n", "x1e-3", "x1e4", "worst");
  int n_over = 0;
  for (size_t bi = 0; bi < AZC_ARRAY_SIZE(bounds); bi++) {
    const azc_dtype_t t = bounds[bi].type;
    const int bs = block_size_of(t);
    double worst = 0, rmse[DIST_COUNT + 2];
    for (int dd = 0; dd < DIST_COUNT + 2; dd++) {
      const dist_t dist = dd < DIST_COUNT ? (dist_t)dd : DIST_NORMAL;
      const float scale = dd == DIST_COUNT ? 1e-3f : dd == DIST_COUNT + 1 ? 1e4f : 1.0f;
      fill(&r, dist, scale, x, N);
      ASSERT_MSG(azc_quantize_row(t, x, q, N) == azc_dtype_row_size(t, N), "%s", azc_dtype_name(t));
      azc_dequantize_row(t, q, y, N);
      err_stats_t s = {0};
      err_add(&s, x, y, N, AZC_MAX(bs, 32)); /* plain types: per 32 values */
      rmse[dd] = err_rel_rmse(&s);
      worst = fmax(worst, s.worst_block);
    }
    fprintf(stderr, "  %-5s", azc_dtype_name(t));
    for (int dd = 0; dd < DIST_COUNT + 2; dd++) fprintf(stderr, " %9.5f", rmse[dd]);
    fprintf(stderr, " %9.5f\n", worst);
    for (int dd = 0; dd < DIST_COUNT + 2; dd++) {
      /* the format's relative error does not depend on the distribution much,
         nor on the magnitude while the fp16 scales stay normal numbers */
      const double limit = dd == DIST_NORMAL ? bounds[bi].rmse : bounds[bi].rmse_any;
      if (!(rmse[dd] < limit)) {
        fprintf(stderr, "  %s on %s: relative RMSE %.5f >= %.5f\n", azc_dtype_name(t),
                dd < DIST_COUNT ? dist_names[dd] : "scaled normal", rmse[dd], limit);
        n_over++;
      }
    }
    if (!(worst < bounds[bi].worst)) {
      fprintf(stderr, "  %s: worst block error %.5f of the block max >= %.5f\n", azc_dtype_name(t),
              worst, bounds[bi].worst);
      n_over++;
    }
  }
  ASSERT_MSG(n_over == 0, "%d bounds exceeded", n_over);
}

/* All-zero, constant, tiny and huge blocks, mixed in one row. */
static void test_round_trip_special_blocks(void) {
  test_rng_t r = {11};
  enum { N = 8 * 256 };
  float x[N], y[N];
  uint8_t q[N * 4];
  for (size_t bi = 0; bi < AZC_ARRAY_SIZE(bounds); bi++) {
    const azc_dtype_t t = bounds[bi].type;
    const int bs = block_size_of(t), n_blocks = N / bs;
    /* block k: kind k % 8 */
    for (int k = 0; k < n_blocks; k++) {
      float *xb = x + k * bs;
      switch (k % 8) {
      case 0: memset(xb, 0, (size_t)bs * sizeof(float)); break;
      case 1:
        for (int i = 0; i < bs; i++) xb[i] = 0.7f;
        break;
      case 2:
        for (int i = 0; i < bs; i++) xb[i] = -3.25f;
        break;
      case 3: fill(&r, DIST_NORMAL, 1e-2f, xb, bs); break;
      case 4: fill(&r, DIST_NORMAL, 3e3f, xb, bs); break;
      case 5: /* one large value among zeros */
        memset(xb, 0, (size_t)bs * sizeof(float));
        xb[test_rng_int(&r, bs)] = -5.0f;
        break;
      case 6: /* +-a of equal magnitude: the sign of the first one sets the scale */
        for (int i = 0; i < bs; i++) xb[i] = (i % 3 == 0) ? 2.0f : -2.0f;
        break;
      default: fill(&r, DIST_NORMAL, 1.0f, xb, bs); break;
      }
    }
    azc_quantize_row(t, x, q, N);
    azc_dequantize_row(t, q, y, N);
    for (int k = 0; k < n_blocks; k++) {
      const float *xb = x + k * bs, *yb = y + k * bs;
      double amax = 0, emax = 0;
      for (int i = 0; i < bs; i++) {
        ASSERT_MSG(isfinite(yb[i]), "%s block kind %d: value %d is %g", azc_dtype_name(t), k % 8, i,
                   yb[i]);
        amax = fmax(amax, fabs(xb[i]));
        emax = fmax(emax, fabs((double)yb[i] - xb[i]));
      }
      if (k % 8 == 0)
        ASSERT_MSG(emax == 0, "%s: a zero block came back as nonzero", azc_dtype_name(t));
      /* constant blocks are representable up to the rounding of the fp16 scales */
      const double tol = (k % 8 == 1 || k % 8 == 2) ? 2e-3 : bounds[bi].worst;
      ASSERT_MSG(emax <= tol * amax, "%s block kind %d: error %g with max %g", azc_dtype_name(t),
                 k % 8, emax, amax);
    }
  }
}

/* Inputs that are not numbers still give defined bytes (no crash, no UB). */
static void test_quantize_non_finite(void) {
  float x[256];
  uint8_t q[256 * 4];
  float y[256];
  for (int i = 0; i < 256; i++) x[i] = (float)(i % 7) - 3;
  x[5] = NAN;
  x[77] = INFINITY;
  x[200] = -INFINITY;
  for (size_t bi = 0; bi < AZC_ARRAY_SIZE(bounds); bi++) {
    ASSERT(azc_quantize_row(bounds[bi].type, x, q, 256) ==
           azc_dtype_row_size(bounds[bi].type, 256));
    azc_dequantize_row(bounds[bi].type, q, y, 256);
  }
}

/* ---- llama.cpp's bytes, for every format azc writes ---- */

enum { GOLDEN_N = 8 * 2048 };

/* 8 runs of 2048 values: about normal (a sum of 4 uniforms), uniform,
 * normal with outliers, all positive, skewed, tiny, huge, sparse. Integer
 * arithmetic and exact float operations only (no libm), so the input is the
 * same bits on every machine. */
static void golden_input(float *x, int n) {
  test_rng_t r = {2024};
  for (int i = 0; i < n; i++) {
    float u[4];
    for (int k = 0; k < 4; k++) u[k] = (float)(test_rng_next(&r) >> 40) * (1.0f / 16777216.0f);
    float v = (u[0] + u[1] + u[2] + u[3] - 2.0f) * 1.7320508f;
    switch ((i / 2048) % 8) {
    case 1: v = 2 * u[0] - 1; break;
    case 2:
      if ((test_rng_next(&r) & 63) == 0) v *= 30;
      break;
    case 3: v = 0.5f + u[0]; break;
    case 4: v = v + 2; break;
    case 5: v *= 1e-3f; break;
    case 6: v *= 1e4f; break;
    case 7:
      if (test_rng_next(&r) & 3) v = 0;
      break;
    default: break;
    }
    x[i] = v;
  }
}

/* XXH3-64 of the bytes that llama.cpp's quantize_row_*_ref (ggml 0.5.0, from
 * node-llama-cpp 3.22.1's libggml-base.so, called directly) writes for
 * golden_input. They pin down the exact algorithm of each quantizer, also for
 * Q2_K, Q3_K and Q5_K, which no file in shared/models holds. */
static const struct {
  azc_dtype_t type;
  uint64_t digest;
} llama_digests[] = {
    {AZC_DTYPE_Q4_0, 0x1f4d5a89c023a926ull}, {AZC_DTYPE_Q4_1, 0x0e7339a08269644cull},
    {AZC_DTYPE_Q5_0, 0xfff4caf7514192b2ull}, {AZC_DTYPE_Q5_1, 0x87970a86a0305bf7ull},
    {AZC_DTYPE_Q8_0, 0x15848cbf919fa0c0ull}, {AZC_DTYPE_Q8_1, 0xfb9b946865a9e844ull},
    {AZC_DTYPE_Q2_K, 0x0a936a5214dbfb92ull}, {AZC_DTYPE_Q3_K, 0xdcfc6204cc43dac7ull},
    {AZC_DTYPE_Q4_K, 0x079fdace3f2eb2a3ull}, {AZC_DTYPE_Q5_K, 0x58d3c333c2e905b6ull},
    {AZC_DTYPE_Q6_K, 0xc110aed8a6e623f7ull}, {AZC_DTYPE_Q8_K, 0x6eba394f35e3a192ull},
};

static void test_quantize_matches_llama_digests(void) {
  static float x[GOLDEN_N];
  static uint8_t q[GOLDEN_N * 2];
  golden_input(x, GOLDEN_N);
  int n_bad = 0;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(llama_digests); i++) {
    const azc_dtype_t t = llama_digests[i].type;
    const size_t size = azc_dtype_row_size(t, GOLDEN_N);
    ASSERT(size > 0 && size <= sizeof(q));
    ASSERT_EQ_INT(azc_quantize_row(t, x, q, GOLDEN_N), size);
    const uint64_t got = azc_hash64(q, size);
    if (got != llama_digests[i].digest) {
      fprintf(stderr, "  %s: digest 0x%016llx, llama.cpp's 0x%016llx\n", azc_dtype_name(t),
              (unsigned long long)got, (unsigned long long)llama_digests[i].digest);
      n_bad++;
    }
  }
  ASSERT_MSG(n_bad == 0, "%d formats differ from llama.cpp's bytes", n_bad);
}

/* ---- dot products ---- */

static void test_vec_dot(void) {
  test_rng_t r = {3};
  enum { MAX_N = 16 * 256 };
  static uint8_t row[MAX_N * 4];
  static float x[MAX_N], w[MAX_N];
  for (size_t ti = 0; ti < AZC_ARRAY_SIZE(all_types); ti++) {
    int nontrivial = 0;
    const azc_dtype_t t = all_types[ti];
    const int bs = block_size_of(t), ts = type_size_of(t);
    const int64_t lengths[] = {bs, 3 * bs, MAX_N, bs == 1 ? 37 : 2 * bs};
    for (size_t li = 0; li < AZC_ARRAY_SIZE(lengths); li++) {
      const int64_t n = lengths[li];
      fill(&r, DIST_NORMAL, 1.0f, x, n);
      if (bs == 1) { /* plain types: random values stored in the type */
        fill(&r, DIST_NORMAL, 1.0f, w, n);
        azc_quantize_row(t, w, row, n);
      } else {
        for (int64_t k = 0; k < n / bs; k++) build_block(t, &r, row + k * ts, w + k * bs);
      }
      azc_dequantize_row(t, row, w, n);
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < n; i++) {
        ref += (double)w[i] * x[i];
        mag += fabs((double)w[i] * x[i]);
      }
      nontrivial += mag > 0;
      const float got = azc_vec_dot_row(t, row, x, n);
      const double tol = 2.0 * ((double)n / 32 + 8) * FLT_EPSILON * mag;
      ASSERT_MSG(fabs(got - ref) <= tol, "%s n=%lld: dot %.9g, dequantize+dot %.9g",
                 azc_dtype_name(t), (long long)n, got, ref);
    }
    ASSERT_MSG(nontrivial >= 3, "%s: the random rows were zero", azc_dtype_name(t));
    ASSERT(azc_vec_dot_row(t, row, x, 0) == 0);
  }
}

static void test_dequantize_rows(void) {
  test_rng_t r = {5};
  enum { ROWS = 3, COLS = 512 };
  for (size_t ti = 0; ti < AZC_ARRAY_SIZE(all_types); ti++) {
    const azc_dtype_t t = all_types[ti];
    float x[ROWS * COLS], a[ROWS * COLS], b[ROWS * COLS];
    uint8_t q[ROWS * COLS * 4];
    fill(&r, DIST_NORMAL, 1.0f, x, ROWS * COLS);
    const size_t rs = azc_dtype_row_size(t, COLS);
    for (int i = 0; i < ROWS; i++) azc_quantize_row(t, x + i * COLS, q + i * rs, COLS);
    azc_dequantize_rows(t, q, a, ROWS, COLS);
    for (int i = 0; i < ROWS; i++) azc_dequantize_row(t, q + i * rs, b + i * COLS, COLS);
    ASSERT_MSG(memcmp(a, b, sizeof(a)) == 0, "%s", azc_dtype_name(t));
  }
  /* a type azc cannot read comes back as zeros */
  float z[4] = {1, 2, 3, 4};
  const int32_t ints[4] = {5, 6, 7, 8};
  azc_dequantize_row(AZC_DTYPE_I32, ints, z, 4);
  ASSERT(z[0] == 0 && z[3] == 0);
}

/* Rows of F16 and BF16 use their own branch-free conversions: same bits as
 * runtime/base/util.h for every one of the 65536 values. */
static void test_plain_rows_exhaustive(void) {
  static uint8_t halves[65536 * 2];
  static float got[65536];
  for (uint32_t h = 0; h < 65536; h++)
    halves[2 * h] = (uint8_t)h, halves[2 * h + 1] = (uint8_t)(h >> 8);
  const azc_dtype_t types[] = {AZC_DTYPE_F16, AZC_DTYPE_BF16};
  for (int ti = 0; ti < 2; ti++) {
    azc_dequantize_row(types[ti], halves, got, 65536);
    for (uint32_t h = 0; h < 65536; h++) {
      const float want =
          types[ti] == AZC_DTYPE_F16 ? azc_fp16_to_f32((uint16_t)h) : azc_bf16_to_f32((uint16_t)h);
      uint32_t a, b;
      memcpy(&a, &got[h], 4);
      memcpy(&b, &want, 4);
      ASSERT_MSG(a == b, "%s 0x%04x: 0x%08x, want 0x%08x", azc_dtype_name(types[ti]), h, a, b);
    }
  }
}

/* ---- llama.cpp's files ---- */

static const char *const llama_quant_files[] = {
    "models/llama-small-tied-Q8_0.gguf", "models/llama-small-tied-Q4_0.gguf",
    "models/llama-small-tied-Q4_K_M.gguf", "models/llama-small-tied-Q6_K.gguf"};

/* Dequantizes a whole tensor (malloc'd); NULL on a size mismatch. */
static float *tensor_values(const azc_gguf_tensor_t *t, int64_t *n_out) {
  int64_t n = 1;
  for (int i = 0; i < AZC_GGUF_MAX_DIMS; i++) n *= t->ne[i];
  const size_t rs = azc_dtype_row_size(t->type, t->ne[0]);
  *n_out = n;
  if (rs == 0 || rs * (size_t)(n / t->ne[0]) != t->size) return NULL;
  float *v = malloc((size_t)n * sizeof(float));
  if (v) azc_dequantize_rows(t->type, t->data, v, n / t->ne[0], t->ne[0]);
  return v;
}

typedef struct type_tally {
  err_stats_t llama, ours;
  int64_t blocks, same_blocks;
  int tensors;
} type_tally_t;

static void print_tally(const char *what, type_tally_t *tally) {
  for (int t = 0; t < AZC_DTYPE_COUNT; t++) {
    if (!tally[t].tensors) continue;
    fprintf(stderr, "  %s %-5s %2d tensors: llama.cpp rel RMSE %.5f", what, azc_dtype_name(t),
            tally[t].tensors, err_rel_rmse(&tally[t].llama));
    if (tally[t].blocks)
      fprintf(stderr, ", azc %.5f, identical blocks %lld/%lld (%.2f%%)",
              err_rel_rmse(&tally[t].ours), (long long)tally[t].same_blocks,
              (long long)tally[t].blocks, 100.0 * tally[t].same_blocks / tally[t].blocks);
    fprintf(stderr, "\n");
  }
}

static double rmse_bound(azc_dtype_t t) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(bounds); i++)
    if (bounds[i].type == t) return bounds[i].rmse;
  return 0;
}

/* The quantized files hold the f16 file's weights: each quantized tensor,
 * dequantized by azc, is as close to the f16 tensor as its format allows (a
 * different tensor would be ~140% off), and each F32 tensor is identical. Then
 * azc quantizes the f16 tensors itself and compares bytes with llama.cpp's. */
static void test_llama_files(void) {
  char path[4096];
  if (!test_shared_path(path, sizeof(path), "models/llama-small-tied-f16.gguf"))
    TEST_SKIP("shared/models/llama-small-tied-f16.gguf not found (AZC_SHARED_DIR)");
  azc_gguf_t *f16 = NULL;
  ASSERT_OK(azc_gguf_open(path, &f16));
  static type_tally_t tally[AZC_DTYPE_COUNT];
  memset(tally, 0, sizeof(tally));
  int failed = 0, too_far = 0;
  for (size_t fi = 0; fi < AZC_ARRAY_SIZE(llama_quant_files) && !failed; fi++) {
    if (!test_shared_path(path, sizeof(path), llama_quant_files[fi])) {
      fprintf(stderr, "  %s not found\n", llama_quant_files[fi]);
      failed = 1;
      break;
    }
    azc_gguf_t *g = NULL;
    azc_status_t st = azc_gguf_open(path, &g);
    if (st) {
      fprintf(stderr, "  %s: %s\n", path, azc_status_message(st));
      azc_status_free(st);
      failed = 1;
      break;
    }
    if (g->n_tensors != f16->n_tensors) {
      fprintf(stderr, "  %s: %llu tensors, the f16 file %llu\n", path,
              (unsigned long long)g->n_tensors, (unsigned long long)f16->n_tensors);
      failed = 1;
    }
    for (uint64_t ti = 0; ti < g->n_tensors && !failed; ti++) {
      const azc_gguf_tensor_t *tq = &g->tensors[ti];
      const azc_gguf_tensor_t *tf = azc_gguf_find_tensor(f16, tq->name);
      if (!tf || memcmp(tf->ne, tq->ne, sizeof(tq->ne)) != 0) {
        fprintf(stderr, "  %s: %s has no f16 twin of the same shape\n", path, tq->name);
        failed = 1;
        break;
      }
      if (tq->type == AZC_DTYPE_F32) {
        if (tf->type != AZC_DTYPE_F32 || tf->size != tq->size ||
            memcmp(tf->data, tq->data, tq->size) != 0) {
          fprintf(stderr, "  %s: F32 tensor %s differs from the f16 file's\n", path, tq->name);
          failed = 1;
        }
        continue;
      }
      int64_t n = 0, n2 = 0;
      float *ref = tensor_values(tf, &n), *got = tensor_values(tq, &n2);
      if (!ref || !got || n != n2) {
        fprintf(stderr, "  %s: %s: size does not match its shape and type\n", path, tq->name);
        failed = 1;
        free(ref), free(got);
        break;
      }
      type_tally_t *tt = &tally[tq->type];
      err_stats_t s = {0};
      err_add(&s, ref, got, n, block_size_of(tq->type));
      err_add(&tt->llama, ref, got, n, block_size_of(tq->type));
      tt->tensors++;
      /* the weights are normal random numbers: the round trips' bound on those */
      const double rel = err_rel_rmse(&s), bound = rmse_bound(tq->type);
      if (!(rel < bound)) {
        fprintf(stderr, "  %s: %s (%s): relative RMSE %.5f vs the f16 weights, bound %.5f\n", path,
                tq->name, azc_dtype_name(tq->type), rel, bound);
        too_far++;
      }
      /* quantize the f16 weights with azc and compare bytes, block by block */
      const azc_dtype_info_t *info = azc_dtype_info(tq->type);
      uint8_t *mine = malloc(tq->size);
      float *back = malloc((size_t)n * sizeof(float));
      if (!mine || !back) failed = 1;
      const int64_t cols = tq->ne[0], rows = n / cols;
      const size_t rs = azc_dtype_row_size(tq->type, cols);
      for (int64_t row = 0; row < rows && !failed; row++)
        azc_quantize_row(tq->type, ref + row * cols, mine + row * rs, cols);
      if (!failed) {
        const int64_t nb = (int64_t)(tq->size / (size_t)info->type_size);
        for (int64_t b = 0; b < nb; b++)
          tt->same_blocks += memcmp(mine + b * info->type_size, tq->data + b * info->type_size,
                                    (size_t)info->type_size) == 0;
        tt->blocks += nb;
        azc_dequantize_rows(tq->type, mine, back, rows, cols);
        err_add(&tt->ours, ref, back, n, info->block_size);
      }
      free(mine), free(back), free(ref), free(got);
    }
    azc_gguf_close(g);
  }
  azc_gguf_close(f16);
  print_tally("llama-small", tally);
  ASSERT(!failed);
  ASSERT_MSG(too_far == 0, "%d tensors differ from the f16 weights", too_far);
  ASSERT(tally[AZC_DTYPE_Q8_0].tensors > 0 && tally[AZC_DTYPE_Q4_0].tensors > 0);
  ASSERT(tally[AZC_DTYPE_Q4_K].tensors > 0 && tally[AZC_DTYPE_Q6_K].tensors > 0);
  for (int t = 0; t < AZC_DTYPE_COUNT; t++) {
    const type_tally_t *tt = &tally[t];
    if (!tt->tensors) continue;
    const double same = (double)tt->same_blocks / (double)tt->blocks;
    /* the simple formats are deterministic: llama.cpp's bytes exactly. The
       K-quant searches are too, with the same float operations in the same
       order; a compiler that fuses multiply-adds may flip a rare near-tie
       (leaving out the last search step of Q4_K still matches 99.5%). */
    const double min_same = t == AZC_DTYPE_Q8_0 || t == AZC_DTYPE_Q4_0 ? 1.0 : 0.999;
    ASSERT_MSG(same >= min_same, "%s: only %.3f%% of blocks identical", azc_dtype_name(t),
               100 * same);
    /* and the error is no worse than llama.cpp's */
    ASSERT_MSG(err_rel_rmse(&tt->ours) <= 1.02 * err_rel_rmse(&tt->llama),
               "%s: azc's relative RMSE %.5f vs llama.cpp's %.5f", azc_dtype_name(t),
               err_rel_rmse(&tt->ours), err_rel_rmse(&tt->llama));
  }
}

/* Files without an f16 twin: every quantized tensor re-quantizes to its own
 * bytes (Q8_0 and Q4_0 are idempotent: the value of largest magnitude in a
 * block fixes the same scale again), and vec_dot agrees with dequantize+dot
 * on real rows. */
static void check_requantize_file(const char *rel, int *n_checked, int *failed) {
  char path[4096];
  if (!test_shared_path(path, sizeof(path), rel)) return;
  azc_gguf_t *g = NULL;
  azc_status_t st = azc_gguf_open(path, &g);
  if (st) {
    fprintf(stderr, "  %s: %s\n", path, azc_status_message(st));
    azc_status_free(st);
    *failed = 1;
    return;
  }
  int64_t blocks = 0, same = 0;
  for (uint64_t ti = 0; ti < g->n_tensors && !*failed; ti++) {
    const azc_gguf_tensor_t *t = &g->tensors[ti];
    if (t->type != AZC_DTYPE_Q8_0 && t->type != AZC_DTYPE_Q4_0) continue;
    int64_t n = 0;
    float *v = tensor_values(t, &n);
    uint8_t *q = malloc(t->size);
    if (!v || !q) {
      fprintf(stderr, "  %s: %s: cannot read\n", path, t->name);
      *failed = 1;
      free(v), free(q);
      break;
    }
    const int64_t cols = t->ne[0], rows = n / cols;
    const size_t rs = azc_dtype_row_size(t->type, cols);
    for (int64_t i = 0; i < n; i++) *failed |= !isfinite(v[i]);
    for (int64_t row = 0; row < rows; row++)
      azc_quantize_row(t->type, v + row * cols, q + row * rs, cols);
    const int ts = type_size_of(t->type);
    for (int64_t b = 0; b < (int64_t)(t->size / (size_t)ts); b++, blocks++)
      same += memcmp(q + b * ts, t->data + b * ts, (size_t)ts) == 0;
    /* a few real rows through vec_dot */
    test_rng_t r = {ti + 1};
    float *x = malloc((size_t)cols * sizeof(float));
    for (int k = 0; x && k < 4; k++) {
      const int64_t row = test_rng_int(&r, (int)rows);
      fill(&r, DIST_NORMAL, 1.0f, x, cols);
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < cols; i++) {
        ref += (double)v[row * cols + i] * x[i];
        mag += fabs((double)v[row * cols + i] * x[i]);
      }
      const float got = azc_vec_dot_row(t->type, t->data + row * rs, x, cols);
      if (fabs(got - ref) > 2.0 * ((double)cols / 32 + 8) * FLT_EPSILON * mag) {
        fprintf(stderr, "  %s: %s row %lld: dot %.9g vs %.9g\n", path, t->name, (long long)row, got,
                ref);
        *failed = 1;
      }
    }
    free(x), free(v), free(q);
    (*n_checked)++;
  }
  fprintf(stderr, "  %s: re-quantized %lld/%lld blocks to identical bytes\n", rel, (long long)same,
          (long long)blocks);
  if (same != blocks) *failed = 1;
  azc_gguf_close(g);
}

static void test_requantize_files(void) {
  if (!test_shared_dir()) TEST_SKIP("shared/ not found (AZC_SHARED_DIR)");
  int n_checked = 0, failed = 0;
  check_requantize_file("models/gpt2-small-tied-Q8_0.gguf", &n_checked, &failed);
  check_requantize_file("models/llama-small-tied-Q8_0.gguf", &n_checked, &failed);
  check_requantize_file("models/llama-small-tied-Q4_0.gguf", &n_checked, &failed);
  ASSERT(!failed);
  /* gpt2: token_embd + 4 per layer; llama Q8_0: all 29; llama Q4_0: all but token_embd */
  ASSERT_MSG(n_checked == 9 + 29 + 28, "%d tensors checked", n_checked);
}

int main(void) {
  RUN(test_type_table);
  RUN(test_layout_literals);
  RUN(test_layout_random_blocks);
  RUN(test_round_trip);
  RUN(test_round_trip_special_blocks);
  RUN(test_quantize_non_finite);
  RUN(test_quantize_matches_llama_digests);
  RUN(test_vec_dot);
  RUN(test_dequantize_rows);
  RUN(test_plain_rows_exhaustive);
  RUN(test_llama_files);
  RUN(test_requantize_files);
  return test_summary();
}
