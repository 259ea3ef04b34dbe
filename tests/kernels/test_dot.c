/* codegen/cpu/kernels/azk_dot.h: quantized activations and weight-row dot
 * products.
 *
 * tests/CMakeLists.txt builds this file once per code path: test_dot_scalar
 * (AZK_FORCE_SCALAR), test_dot_avx2 and test_dot_avx512 (their target flags;
 * each skips visibly when the host CPU lacks a feature it was built for), and
 * the two NEON paths for aarch64, run under qemu-user where it is installed.
 * AZK_TEST_EXPECT_PATH names the path the build must have selected.
 *
 * - activation quantization: every value within half a step of x; bsums and
 *   s consistent with qs; the same bytes as the portable code
 * - every weight type, several K and activation magnitudes, weights from the
 *   runtime's quantizer and random blocks: azk_dot against a double-precision
 *   sum of azc_dequantize_row(w) times this file's own dequantization of the
 *   activations, within 1e-5 of sum |w_i x_i|
 * - azk_dot_rows for R = 1..6 equals azk_dot per row; the SIMD path equals
 *   the portable code; zero rows give exactly 0; every finite fp16 and bf16
 *   value comes through the F16/BF16 paths exactly
 * - end to end: a Q4_K row with quantized activations against the float dot
 *   of the dequantized row with the float activations: the difference has the
 *   size that rounding the activations predicts
 * - the float helpers */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/cpu/kernels/azk_dot.h"
#include "runtime/base/util.h"
#include "runtime/quant.h"
#include "tests/test.h"

/* ---- helpers ---- */

static const azc_dtype_t weight_types[] = {
    AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16, AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_1,
    AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0, AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K,
    AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K, AZC_DTYPE_Q6_K};
enum { N_TYPES = sizeof(weight_types) / sizeof(weight_types[0]) };

static const float magnitudes[] = {1e-3f, 1.0f, 1e3f};

/* Row lengths to try for a type: the K of real models plus ones that leave
 * partial unrolled groups (and, for float weights, partial vectors). */
static int ks_for(azc_dtype_t t, int64_t out[8]) {
  static const int64_t plain[] = {7, 256, 512, 1007, 2048, 4352};
  static const int64_t b32[] = {32, 224, 256, 512, 2048, 4352};
  static const int64_t b256[] = {256, 512, 768, 2048, 4352};
  const int bv = azk_wtype_block_values(t);
  const int64_t *src = bv == 1 ? plain : bv == AZC_QK ? b32 : b256;
  const int n = bv == 1 ? 6 : bv == AZC_QK ? 6 : 5;
  for (int i = 0; i < n; i++) out[i] = src[i];
  return n;
}

static void *alloc64(size_t n) { return aligned_alloc(64, (n + 63) / 64 * 64); }

/* Fills x with normal values times scale; pattern 1 zeroes every 5th block
 * of 32 and puts an outlier 40x larger in every 3rd. */
static void fill_x(test_rng_t *g, float *x, int64_t K, float scale, int pattern) {
  for (int64_t i = 0; i < K; i++) x[i] = test_rng_normal(g) * scale;
  if (pattern == 1)
    for (int64_t b = 0; b * 32 < K; b++) {
      int64_t end = AZC_MIN(K, 32 * b + 32);
      if (b % 5 == 0)
        for (int64_t i = 32 * b; i < end; i++) x[i] = 0.0f;
      else if (b % 3 == 0)
        x[32 * b + (int64_t)(test_rng_next(g) % (uint64_t)(end - 32 * b))] *= 40.0f;
    }
}

/* A weight row: random floats through the runtime's reference quantizer. */
static void make_weights(test_rng_t *g, azc_dtype_t t, int64_t K, void *w) {
  float *f = malloc((size_t)K * sizeof(float));
  for (int64_t i = 0; i < K; i++) f[i] = test_rng_normal(g) * 0.05f;
  azc_quantize_row(t, f, w, K);
  free(f);
}

static void put_half(uint8_t *p, float v) {
  uint16_t h = azc_f32_to_fp16(v);
  memcpy(p, &h, 2);
}

/* A weight row of random bytes with sane fp16 scales: every bit pattern of
 * the quants and sub-block scales, which a quantizer may never produce
 * (Q8_0 -128, Q6_K scale -128, ...). Float types come from make_weights. */
static void make_random_blocks(test_rng_t *g, azc_dtype_t t, int64_t K, void *w) {
  const int bv = azk_wtype_block_values(t), bytes = azk_wtype_block_bytes(t);
  if (bv == 1) {
    make_weights(g, t, K, w);
    return;
  }
  uint8_t *p = w;
  for (int64_t i = 0; i < K / bv * bytes; i++) p[i] = (uint8_t)test_rng_next(g);
  for (int64_t b = 0; b < K / bv; b++) {
    uint8_t *blk = p + b * bytes;
    const float d = (float)(0.001 + 0.01 * test_rng_uniform(g)),
                m = (float)(0.02 * test_rng_normal(g));
    switch (t) {
    case AZC_DTYPE_Q4_0:
    case AZC_DTYPE_Q5_0:
    case AZC_DTYPE_Q8_0: put_half(blk, d); break;
    case AZC_DTYPE_Q4_1:
    case AZC_DTYPE_Q5_1: put_half(blk, d), put_half(blk + 2, m); break;
    case AZC_DTYPE_Q2_K:
      put_half(blk + offsetof(azc_block_q2_k_t, d), d);
      put_half(blk + offsetof(azc_block_q2_k_t, dmin), d);
      break;
    case AZC_DTYPE_Q3_K: put_half(blk + offsetof(azc_block_q3_k_t, d), d); break;
    case AZC_DTYPE_Q4_K:
    case AZC_DTYPE_Q5_K: put_half(blk, d), put_half(blk + 2, d); break;
    case AZC_DTYPE_Q6_K: put_half(blk + offsetof(azc_block_q6_k_t, d), d); break;
    default: break;
    }
  }
}

/* The activations a quantized row stands for, written here from the block
 * layouts (not with azk_dot.h's code). */
static void dequantize_x(azc_dtype_t t, const void *xq, double *out, int64_t K) {
  const int bv = azk_wtype_block_values(t);
  if (bv == 1) {
    for (int64_t i = 0; i < K; i++) out[i] = ((const float *)xq)[i];
  } else if (bv == AZC_QK) { /* int8 qs[K], float d[K / 32], float s[K / 32] */
    const int8_t *qs = xq;
    const float *d = (const float *)(qs + K);
    for (int64_t i = 0; i < K; i++) out[i] = (double)d[i / 32] * qs[i];
  } else {
    const azk_block_q8k_t *b = xq;
    for (int64_t i = 0; i < K; i++) out[i] = (double)b[i / 256].d * b[i / 256].qs[i % 256];
  }
}

typedef struct ref {
  double dot, abs; /* sum w_i x_i and sum |w_i x_i| */
} ref_t;

static ref_t reference_dot(azc_dtype_t t, const void *w, const void *xq, int64_t K) {
  float *wd = malloc((size_t)K * sizeof(float));
  double *xd = malloc((size_t)K * sizeof(double));
  azc_dequantize_row(t, w, wd, K);
  dequantize_x(t, xq, xd, K);
  ref_t r = {0, 0};
  for (int64_t i = 0; i < K; i++) {
    r.dot += wd[i] * xd[i];
    r.abs += fabs(wd[i] * xd[i]);
  }
  free(wd);
  free(xd);
  return r;
}

/* |got - want| within rel of scale (plus a floor for all-zero rows). */
static bool close_to(double got, double want, double scale, double rel) {
  return fabs(got - want) <= rel * scale + 1e-30;
}

/* ---- host and path ---- */

/* The first CPU feature this build was compiled for that the host lacks. */
static const char *missing_feature(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2")) return "avx2";
#endif
#if defined(__FMA__)
  if (!__builtin_cpu_supports("fma")) return "fma";
#endif
#if defined(__F16C__)
  if (!__builtin_cpu_supports("f16c")) return "f16c";
#endif
#if defined(__BMI2__)
  if (!__builtin_cpu_supports("bmi2")) return "bmi2";
#endif
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) return "avx512f";
#endif
#if defined(__AVX512BW__)
  if (!__builtin_cpu_supports("avx512bw")) return "avx512bw";
#endif
#if defined(__AVX512VL__)
  if (!__builtin_cpu_supports("avx512vl")) return "avx512vl";
#endif
#if defined(__AVX512DQ__)
  if (!__builtin_cpu_supports("avx512dq")) return "avx512dq";
#endif
#if defined(__AVX512VNNI__)
  if (!__builtin_cpu_supports("avx512vnni")) return "avx512vnni";
#endif
#if defined(__AVX512BF16__)
  if (!__builtin_cpu_supports("avx512bf16")) return "avx512bf16";
#endif
#if defined(__AVXVNNI__)
  if (!__builtin_cpu_supports("avxvnni")) return "avxvnni";
#endif
#endif
  return NULL;
}

static const char *host_missing;

static void test_path_selected(void) {
#if defined(AZK_TEST_EXPECT_PATH)
  ASSERT_STREQ(AZK_DOT_PATH, AZK_TEST_EXPECT_PATH);
#endif
  fprintf(stderr, "     path: %s\n", AZK_DOT_PATH);
}

static void test_row_sizes(void) {
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_F32, 100), 400);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_F16, 7), 28);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_BF16, 64), 256);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_Q4_0, 4096), 4096 + 128 * 8);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_Q8_0, 64), 80);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_Q4_K, 4096), 16 * 320);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_Q6_K, 256), 320);
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_Q8_K, 256), 0); /* not a weight type here */
  ASSERT_EQ_INT(azk_xq_row_size(AZC_DTYPE_I32, 256), 0);
  for (int i = 0; i < N_TYPES; i++) {
    const azc_dtype_info_t *info = azc_dtype_info(weight_types[i]);
    ASSERT_EQ_INT(azk_wtype_block_values(weight_types[i]), info->block_size);
    ASSERT_EQ_INT(azk_wtype_block_bytes(weight_types[i]), info->type_size);
  }
}

/* ---- activations ---- */

static void test_quantize_activations(void) {
  test_rng_t g = {11};
  const int64_t K = 4352;
  float *x = malloc(K * sizeof(float));
  int8_t *q8 = alloc64(azk_xq_row_size(AZC_DTYPE_Q4_0, K));
  const float *q8_d = (const float *)(q8 + K), *q8_s = q8_d + K / 32;
  azk_block_q8k_t *q8k = alloc64(azk_xq_row_size(AZC_DTYPE_Q4_K, K));
  void *ref = alloc64(azk_xq_row_size(AZC_DTYPE_Q4_K, K));
  int checked = 0;
  for (int mi = 0; mi < 3; mi++)
    for (int pattern = 0; pattern < 2; pattern++) {
      fill_x(&g, x, K, magnitudes[mi], pattern);
      azk_quantize_x(AZC_DTYPE_Q4_0, x, q8, K);
      azk_quantize_x(AZC_DTYPE_Q4_K, x, q8k, K);
      for (int64_t b = 0; b < K / 32; b++) {
        float amax = 0;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        /* d = a / 127 at half precision (llama.cpp's block_q8_0) */
        ASSERT(q8_d[b] == azc_fp16_to_f32(azc_f32_to_fp16(amax / 127.0f)));
        for (int j = 0; j < 32; j++) {
          const int8_t q = q8[32 * b + j];
          const double err = fabs((double)q8_d[b] * q - x[32 * b + j]);
          /* half a step, plus what rounding d to half precision moves |q| <= 127 steps */
          const double d = amax / 127.0f;
          ASSERT_MSG(err <= 0.5 * d + 127 * fabs(q8_d[b] - d) + 1e-12,
                     "block %lld value %d: error %g, step %g", (long long)b, j, err, q8_d[b]);
          ASSERT(q != -128); /* the range is symmetric: -127..127 */
          sum += q;
        }
        ASSERT(q8_s[b] == q8_d[b] * (float)sum);
        checked += 32;
      }
      for (int64_t b = 0; b < K / 256; b++) {
        const azk_block_q8k_t *y = &q8k[b];
        for (int j = 0; j < 256; j++) {
          const double err = fabs((double)y->d * y->qs[j] - x[256 * b + j]);
          ASSERT_MSG(err <= y->d * (0.5 + 1e-4), "super-block %lld value %d: error %g, step %g",
                     (long long)b, j, err, y->d);
          ASSERT(y->qs[j] != -128);
        }
        for (int i = 0; i < 16; i++) {
          int32_t s = 0;
          for (int j = 0; j < 16; j++) s += y->qs[16 * i + j];
          ASSERT_EQ_INT(y->bsums[i], s);
        }
        checked += 256;
      }
      /* the same bytes as the portable code */
      azk_quantize_x_scalar(AZC_DTYPE_Q4_0, x, ref, K);
      ASSERT(memcmp(ref, q8, azk_xq_row_size(AZC_DTYPE_Q4_0, K)) == 0);
      azk_quantize_x_scalar(AZC_DTYPE_Q4_K, x, ref, K);
      ASSERT(memcmp(ref, q8k, azk_xq_row_size(AZC_DTYPE_Q4_K, K)) == 0);
    }
  /* float weights: the activations stay float */
  float *xf = alloc64(azk_xq_row_size(AZC_DTYPE_F16, 100));
  azk_quantize_x(AZC_DTYPE_F16, x, xf, 100);
  ASSERT(memcmp(xf, x, 100 * sizeof(float)) == 0);
  fprintf(stderr, "     %d quantized activations checked\n", checked);
  free(xf);
  free(x);
  free(q8);
  free(q8k);
  free(ref);
}

/* ---- dot products against the reference ---- */

static double checksum;
static int dots_checked;

/* One weight row and R activation rows: azk_dot against the reference for
 * each row, azk_dot_rows against azk_dot, the portable code against both. */
static void check_row(azc_dtype_t t, int64_t K, const void *w, const float *x, int R) {
  const size_t xq_size = azk_xq_row_size(t, K);
  const size_t stride = (xq_size + 127) / 64 * 64; /* padded rows, 64-byte aligned */
  uint8_t *xq = alloc64(stride * (size_t)R);
  float out[8], out_scalar[8];
  for (int r = 0; r < R; r++) azk_quantize_x(t, x + r * K, xq + r * stride, K);
  azk_dot_rows(t, K, w, xq, stride, R, out);
  azk_dot_rows_scalar(t, K, w, xq, stride, R, out_scalar);
  for (int r = 0; r < R; r++) {
    const void *xr = xq + r * stride;
    const ref_t ref = reference_dot(t, w, xr, K);
    const float one = azk_dot(t, K, w, xr);
    ASSERT_MSG(close_to(one, ref.dot, ref.abs, 1e-5),
               "%s K=%lld row %d: azk_dot %.9g, reference %.9g (sum |w x| %.3g)", azc_dtype_name(t),
               (long long)K, r, one, ref.dot, ref.abs);
    ASSERT_MSG(close_to(out[r], one, ref.abs, 1e-6),
               "%s K=%lld R=%d row %d: azk_dot_rows %.9g, azk_dot %.9g", azc_dtype_name(t),
               (long long)K, R, r, out[r], one);
    ASSERT_MSG(close_to(out_scalar[r], ref.dot, ref.abs, 1e-5),
               "%s K=%lld row %d: portable code %.9g, reference %.9g", azc_dtype_name(t),
               (long long)K, r, out_scalar[r], ref.dot);
    ASSERT_MSG(close_to(one, out_scalar[r], ref.abs, 1e-5),
               "%s K=%lld row %d: this path %.9g, portable code %.9g", azc_dtype_name(t),
               (long long)K, r, one, out_scalar[r]);
    checksum += ref.abs > 0 ? one / ref.abs : 0;
    dots_checked++;
  }
  free(xq);
}

static void run_type_matrix(bool random_blocks) {
  test_rng_t g = {random_blocks ? 77u : 5u};
  for (int ti = 0; ti < N_TYPES; ti++) {
    const azc_dtype_t t = weight_types[ti];
    int64_t ks[8];
    const int nk = ks_for(t, ks);
    for (int ki = 0; ki < nk; ki++) {
      const int64_t K = ks[ki];
      void *w = alloc64(azc_dtype_row_size(t, K));
      float *x = malloc(4 * (size_t)K * sizeof(float));
      if (random_blocks)
        make_random_blocks(&g, t, K, w);
      else
        make_weights(&g, t, K, w);
      for (int mi = 0; mi < 3; mi++) {
        for (int r = 0; r < 4; r++) fill_x(&g, x + r * K, K, magnitudes[mi], r & 1);
        const int before = test_current_failed;
        check_row(t, K, w, x, 4);
        if (test_current_failed && !before) {
          free(w);
          free(x);
          return;
        }
      }
      free(w);
      free(x);
    }
  }
}

static void test_dot_quantized_weights(void) {
  run_type_matrix(false);
  fprintf(stderr, "     %d dot products checked, checksum %.6f\n", dots_checked, checksum);
}

static void test_dot_random_blocks(void) {
  const int before = dots_checked;
  run_type_matrix(true);
  fprintf(stderr, "     %d dot products checked\n", dots_checked - before);
}

/* azk_dot_rows for every R (R > 4 goes in groups of 4) equals azk_dot. */
static void test_dot_rows_counts(void) {
  test_rng_t g = {21};
  const int64_t K = 512;
  float *x = malloc(6 * K * sizeof(float));
  for (int ti = 0; ti < N_TYPES; ti++) {
    const azc_dtype_t t = weight_types[ti];
    void *w = alloc64(azc_dtype_row_size(t, K));
    make_weights(&g, t, K, w);
    const size_t stride = azk_xq_row_size(t, K);
    uint8_t *xq = alloc64(stride * 6);
    for (int r = 0; r < 6; r++) {
      fill_x(&g, x + r * K, K, 1.0f, 0);
      azk_quantize_x(t, x + r * K, xq + r * stride, K);
    }
    for (int R = 1; R <= 6; R++) {
      float out[6] = {0};
      azk_dot_rows(t, K, w, xq, stride, R, out);
      for (int r = 0; r < R; r++) {
        const ref_t ref = reference_dot(t, w, xq + r * stride, K);
        const float one = azk_dot(t, K, w, xq + r * stride);
        ASSERT_MSG(close_to(out[r], one, ref.abs, 1e-6), "%s R=%d row %d: %.9g vs %.9g",
                   azc_dtype_name(t), R, r, out[r], one);
      }
    }
    free(w);
    free(xq);
  }
  free(x);
}

/* Zero activations or zero weights give exactly 0 (no NaN from d = 0). */
static void test_zero_rows(void) {
  test_rng_t g = {3};
  const int64_t K = 768;
  float *zero = calloc(K, sizeof(float)), *x = malloc(K * sizeof(float));
  fill_x(&g, x, K, 1.0f, 0);
  for (int ti = 0; ti < N_TYPES; ti++) {
    const azc_dtype_t t = weight_types[ti];
    void *w = alloc64(azc_dtype_row_size(t, K)), *w0 = alloc64(azc_dtype_row_size(t, K));
    void *xq = alloc64(azk_xq_row_size(t, K)), *xq0 = alloc64(azk_xq_row_size(t, K));
    make_weights(&g, t, K, w);
    azc_quantize_row(t, zero, w0, K);
    azk_quantize_x(t, x, xq, K);
    azk_quantize_x(t, zero, xq0, K);
    ASSERT_MSG(azk_dot(t, K, w, xq0) == 0.0f, "%s: zero activations", azc_dtype_name(t));
    ASSERT_MSG(azk_dot(t, K, w0, xq) == 0.0f, "%s: zero weights", azc_dtype_name(t));
    free(w), free(w0), free(xq), free(xq0);
  }
  free(zero);
  free(x);
}

/* Every finite fp16 and bf16 weight, through the portable conversion and
 * through this path's F16/BF16 dot: rows of 8 (one vector) against a one-hot
 * activation give the weight itself, exactly. */
static void test_half_weights(void) {
  float x[8];
  uint16_t row[8];
  int checked = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    const float want = azc_fp16_to_f32((uint16_t)h), got = azk_half_bits_to_f32((uint16_t)h);
    if (want != want) {
      ASSERT_MSG(got != got, "half 0x%04x: NaN expected, got %g", h, got);
    } else {
      ASSERT_MSG(memcmp(&got, &want, 4) == 0, "half 0x%04x: %g, expected %g", h, got, want);
    }
  }
  for (int bf = 0; bf < 2; bf++) {
    const azc_dtype_t t = bf ? AZC_DTYPE_BF16 : AZC_DTYPE_F16;
    for (uint32_t base = 0; base < 65536; base += 8) {
      for (int i = 0; i < 8; i++) row[i] = (uint16_t)(base + i);
      for (int j = 0; j < 8; j++) {
        const float want = bf ? azc_bf16_to_f32(row[j]) : azc_fp16_to_f32(row[j]);
        if (!isfinite(want)) continue;
        bool finite_row = true;
        for (int i = 0; i < 8; i++)
          finite_row &= isfinite(bf ? azc_bf16_to_f32(row[i]) : azc_fp16_to_f32(row[i]));
        if (!finite_row) continue; /* inf * 0 would be NaN */
        for (int i = 0; i < 8; i++) x[i] = i == j ? 1.0f : 0.0f;
        const float got = azk_dot(t, 8, row, x);
        ASSERT_MSG(got == want, "%s 0x%04x: %g, expected %g", azc_dtype_name(t), row[j], got, want);
        checked++;
      }
    }
  }
  fprintf(stderr, "     %d fp16/bf16 weights checked\n", checked);
}

/* ---- end to end ---- */

/* Against the float activations the only error left is the rounding of the
 * activations: e_i uniform in +-step/2, so the dot's error has standard
 * deviation sqrt(sum w_i^2 step_i^2 / 12) and can never exceed
 * sum |w_i| step_i / 2. */
static void test_q4_k_end_to_end(void) {
  test_rng_t g = {99};
  const int64_t K = 4096;
  const int rows = 64;
  const azc_dtype_t t = AZC_DTYPE_Q4_K;
  float *wf = malloc(K * sizeof(float)), *wd = malloc(K * sizeof(float));
  float *x = malloc(K * sizeof(float));
  void *w = alloc64(azc_dtype_row_size(t, K));
  azk_block_q8k_t *xq = alloc64(azk_xq_row_size(t, K));
  double z2 = 0, rel_sum = 0, err2 = 0, dot2 = 0, werr2 = 0;
  for (int row = 0; row < rows; row++) {
    for (int64_t i = 0; i < K; i++) wf[i] = test_rng_normal(&g) * 0.05f;
    fill_x(&g, x, K, 1.0f, row & 1);
    azc_quantize_row(t, wf, w, K);
    azc_dequantize_row(t, w, wd, K);
    azk_quantize_x(t, x, xq, K);
    double exact = 0, exact_float_w = 0, var = 0, bound = 0, abs_sum = 0;
    for (int64_t i = 0; i < K; i++) {
      const double step = xq[i / 256].d;
      exact += (double)wd[i] * x[i];
      exact_float_w += (double)wf[i] * x[i];
      var += (double)wd[i] * wd[i] * step * step / 12.0;
      bound += fabs(wd[i]) * step * (0.5 + 1e-4);
      abs_sum += fabs((double)wd[i] * x[i]);
    }
    const double got = azk_dot(t, K, w, xq), err = got - exact;
    ASSERT_MSG(fabs(err) <= bound + 1e-5 * abs_sum, "row %d: error %g beyond the bound %g", row,
               err, bound);
    z2 += err * err / var;
    rel_sum += fabs(err) / abs_sum;
    err2 += err * err;
    dot2 += exact * exact;
    werr2 += (got - exact_float_w) * (got - exact_float_w);
  }
  const double rms_z = sqrt(z2 / rows);
  fprintf(stderr,
          "     Q4_K x Q8_K vs float activations, %d rows of K=%lld: RMS error / predicted "
          "sigma = %.3f, mean |error| / sum|w x| = %.2e, RMS error / RMS dot = %.2e; vs the "
          "unquantized weights too: RMS error / RMS dot = %.2e\n",
          rows, (long long)K, rms_z, rel_sum / rows, sqrt(err2 / dot2), sqrt(werr2 / dot2));
  /* chi-square with 64 degrees of freedom: RMS of z is 1 +- 0.09 */
  ASSERT_MSG(rms_z > 0.6 && rms_z < 1.4, "RMS of error / sigma = %.3f", rms_z);
  free(wf), free(wd), free(x), free(w), free(xq);
}

/* ---- float helpers ---- */

static void test_float_helpers(void) {
  test_rng_t g = {8};
  for (int64_t n = 0; n < 80; n += 7) {
    float a[80], b[80], y[80], y0[80];
    double want = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; i++) {
      a[i] = test_rng_normal(&g), b[i] = test_rng_normal(&g), y[i] = y0[i] = test_rng_normal(&g);
      want += (double)a[i] * b[i];
      abs_sum += fabs((double)a[i] * b[i]);
    }
    ASSERT(close_to(azk_vec_dot_f32(a, b, n), want, abs_sum, 1e-6));
    azk_vec_axpy_f32(n, 0.5f, a, y);
    for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], y0[i] + 0.5 * a[i], 1e-6 * (1 + fabs(y[i])));
  }
}

/* The float prefill tile (two weight rows x four activation rows) equals
 * azk_dot_rows on each weight row, partial vectors at the end of K included. */
static void test_float_pairs(void) {
  test_rng_t g = {91};
  const azc_dtype_t types[] = {AZC_DTYPE_F32, AZC_DTYPE_F16, AZC_DTYPE_BF16};
  const int64_t ks[] = {1, 7, 8, 33, 64, 2048, 2053};
  for (int ti = 0; ti < 3; ti++)
    for (int ki = 0; ki < 7; ki++) {
      const azc_dtype_t t = types[ti];
      const int64_t K = ks[ki];
      const size_t row = azc_dtype_row_size(t, K), stride = azk_xq_row_size(t, K);
      uint8_t *w = alloc64(2 * row), *xq = alloc64(4 * stride);
      float *x = malloc((size_t)K * sizeof(float));
      make_weights(&g, t, K, w);
      make_weights(&g, t, K, w + row);
      for (int r = 0; r < 4; r++) {
        fill_x(&g, x, K, magnitudes[r % 3], r % 2);
        azk_quantize_x(t, x, xq + r * stride, K);
      }
      float o0[4], o1[4], r0[4], r1[4];
      azk_dot_pair(t, K, w, w + row, xq, stride, o0, o1);
      azk_dot_rows(t, K, w, xq, stride, 4, r0);
      azk_dot_rows(t, K, w + row, xq, stride, 4, r1);
      for (int r = 0; r < 4; r++) {
        const ref_t a = reference_dot(t, w, xq + r * stride, K);
        const ref_t b = reference_dot(t, w + row, xq + r * stride, K);
        ASSERT_MSG(close_to(o0[r], r0[r], a.abs, 1e-6) && close_to(o1[r], r1[r], b.abs, 1e-6),
                   "%s pair K=%lld row %d: %.9g %.9g vs %.9g %.9g", azc_dtype_name(t), (long long)K,
                   r, o0[r], o1[r], r0[r], r1[r]);
      }
      free(w);
      free(xq);
      free(x);
    }
}

/* x8 groups (layout 2): 16 rows of Q4_0 / Q5_0 / Q8_0 / Q4_K interleaved by eights give,
 * for R = 1..4 activation rows, what azk_dot gives per GGUF row (within
 * float rounding: the order of the sums differs), and the SIMD path what the
 * portable one gives. Weights from the quantizer and random blocks. */
static void test_x8_groups(void) {
  test_rng_t g = {77};
  const azc_dtype_t types[] = {AZC_DTYPE_Q4_0, AZC_DTYPE_Q5_0, AZC_DTYPE_Q8_0, AZC_DTYPE_Q4_K};
  const int64_t ks[] = {32, 96, 256, 2048};
  for (int ti = 0; ti < 4; ti++)
    for (int ki = 0; ki < 4; ki++)
      for (int random_blocks = 0; random_blocks < 2; random_blocks++) {
        const azc_dtype_t t = types[ti];
        const int64_t K = ks[ki];
        const int wt = azk_wtype_for(t, 2);
        if (K % azk_wtype_block_values(t)) continue;
        const size_t row = azc_dtype_row_size(t, K);
        const size_t xrow = (size_t)(K / azk_wtype_block_values(wt)) * azk_wtype_block_bytes(wt);
        ASSERT_EQ_INT((long long)xrow,
                      (long long)(t == AZC_DTYPE_Q4_K ? row + 4 * (K / 256) : row));
        uint8_t *w = alloc64(16 * row), *wx = alloc64(16 * xrow);
        for (int r = 0; r < 16; r++) {
          if (random_blocks)
            make_random_blocks(&g, t, K, w + r * row);
          else
            make_weights(&g, t, K, w + r * row);
        }
        for (int grp = 0; grp < 2; grp++)
          azk_x8_pack(t, w + grp * 8 * row, K / azk_wtype_block_values(t), wx + grp * 8 * xrow);
        const size_t stride = azk_xq_row_size(t, K);
        uint8_t *xq = alloc64(stride * 4);
        float *x = malloc((size_t)K * sizeof(float));
        for (int r = 0; r < 4; r++) {
          fill_x(&g, x, K, magnitudes[r % 3], r);
          azk_quantize_x(t, x, xq + r * stride, K);
        }
        for (int R = 1; R <= 4; R++)
          for (int grp = 0; grp < 2; grp++) {
            float out[32], ref_out[32];
            azk_dot_x8(wt, K, wx + grp * 8 * xrow, xq, stride, R, out);
            azk_scalar_x8(wt, K, wx + grp * 8 * xrow, xq, stride, R, ref_out);
            for (int r = 0; r < R; r++)
              for (int l = 0; l < 8; l++) {
                const uint8_t *wrow = w + (grp * 8 + l) * row;
                const ref_t ref = reference_dot(t, wrow, xq + r * stride, K);
                const float one = azk_dot(t, K, wrow, xq + r * stride);
                ASSERT_MSG(close_to(out[8 * r + l], one, ref.abs, 1e-5),
                           "%s x8 K=%lld R=%d row %d.%d: %.9g vs %.9g per row", azc_dtype_name(t),
                           (long long)K, R, grp * 8 + l, r, out[8 * r + l], one);
                ASSERT_MSG(close_to(ref_out[8 * r + l], ref.dot, ref.abs, 1e-5),
                           "%s x8 scalar K=%lld: %.9g vs %.9g", azc_dtype_name(t), (long long)K,
                           ref_out[8 * r + l], ref.dot);
              }
          }
        free(w);
        free(wx);
        free(xq);
        free(x);
      }
}

#define DOT_TESTS(X)                                                                               \
  X(test_path_selected)                                                                            \
  X(test_row_sizes)                                                                                \
  X(test_quantize_activations)                                                                     \
  X(test_dot_quantized_weights)                                                                    \
  X(test_dot_random_blocks)                                                                        \
  X(test_dot_rows_counts)                                                                          \
  X(test_zero_rows)                                                                                \
  X(test_half_weights)                                                                             \
  X(test_q4_k_end_to_end)                                                                          \
  X(test_x8_groups)                                                                                \
  X(test_float_pairs)                                                                              \
  X(test_float_helpers)

/* Without the CPU features of this build no test function may even start:
 * the compiler is free to use those instructions anywhere, prologues
 * included (ASan poisons stack frames with vector stores). */
#define SKIP_TEST(fn)                                                                              \
  fprintf(stderr, "SKIPPED %s: this build uses the %s path; the host CPU lacks %s\n", #fn,         \
          AZK_DOT_PATH, host_missing);                                                             \
  test_skipped_count++;
#define RUN_TEST(fn) RUN(fn);

int main(void) {
  host_missing = missing_feature();
  if (host_missing) {
    DOT_TESTS(SKIP_TEST)
  } else {
    DOT_TESTS(RUN_TEST)
  }
  return test_summary();
}
