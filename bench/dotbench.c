/* azc-dotbench: single-threaded throughput of azk_dot.h's weight-row dot
 * products, in GB/s of weight bytes, for every weight type and every code
 * path the host can run.
 *
 * A decode step is a matrix-vector product: N weight rows against one
 * activation row, each weight byte read once, so the kernel should run at
 * memory speed. The table gives, per type, the rate with the weights in L2
 * (about 256 KiB: the kernel's own speed), for the decode shapes K = 2048 and
 * 4096 with N = 4096 rows, and with weights far beyond the L3 cache (256 MiB:
 * the DRAM rate); each for one activation row ("1r") and for four ("4r", the
 * prefill building block: weight bytes still counted once). A kernel that is
 * not compute-bound shows an L2 rate well above its DRAM rate.
 *
 * This one file is compiled several times (bench/CMakeLists.txt): with
 * DOTBENCH_VARIANT=name and that variant's target flags it defines only that
 * variant's matrix-vector loop; without it, the driver (main). */
#include <stdint.h>
#include <stdio.h>

#include "runtime/quant.h"

typedef void (*dotbench_matvec_fn)(int wtype, int64_t K, int64_t N, const uint8_t *w,
                                   size_t row_bytes, const void *xq, size_t xq_stride, int R,
                                   float *out);
typedef void (*dotbench_quantize_fn)(int wtype, const float *x, void *xq, int64_t K);
typedef size_t (*dotbench_xq_size_fn)(int wtype, int64_t K);

#if defined(DOTBENCH_VARIANT)

#include "codegen/cpu/kernels/azk_dot.h"

#define DOTBENCH_CAT2(a, b) a##b
#define DOTBENCH_CAT(a, b) DOTBENCH_CAT2(a, b)
#define DOTBENCH_FN(name) DOTBENCH_CAT(DOTBENCH_CAT(dotbench_, DOTBENCH_VARIANT), name)

void DOTBENCH_FN(_matvec)(int wtype, int64_t K, int64_t N, const uint8_t *w, size_t row_bytes,
                          const void *xq, size_t xq_stride, int R, float *out);
void DOTBENCH_FN(_quantize)(int wtype, const float *x, void *xq, int64_t K);
size_t DOTBENCH_FN(_xq_size)(int wtype, int64_t K);
const char *DOTBENCH_FN(_path)(void);

/* N rows with the type and R constant, as in a generated kernel. */
#define DOTBENCH_LOOP(T, RC)                                                                       \
  for (int64_t n = 0; n < N; n++)                                                                  \
  azk_dot_rows(T, K, w + (size_t)n * row_bytes, xq, xq_stride, RC, out + n * (RC))

#define DOTBENCH_CASE(T)                                                                           \
  case T:                                                                                          \
    if (R == 1)                                                                                    \
      DOTBENCH_LOOP(T, 1);                                                                         \
    else                                                                                           \
      DOTBENCH_LOOP(T, 4);                                                                         \
    break

void DOTBENCH_FN(_matvec)(int wtype, int64_t K, int64_t N, const uint8_t *w, size_t row_bytes,
                          const void *xq, size_t xq_stride, int R, float *out) {
  switch (wtype) {
    DOTBENCH_CASE(AZC_DTYPE_F32);
    DOTBENCH_CASE(AZC_DTYPE_F16);
    DOTBENCH_CASE(AZC_DTYPE_BF16);
    DOTBENCH_CASE(AZC_DTYPE_Q4_0);
    DOTBENCH_CASE(AZC_DTYPE_Q4_1);
    DOTBENCH_CASE(AZC_DTYPE_Q5_0);
    DOTBENCH_CASE(AZC_DTYPE_Q5_1);
    DOTBENCH_CASE(AZC_DTYPE_Q8_0);
    DOTBENCH_CASE(AZC_DTYPE_Q2_K);
    DOTBENCH_CASE(AZC_DTYPE_Q3_K);
    DOTBENCH_CASE(AZC_DTYPE_Q4_K);
    DOTBENCH_CASE(AZC_DTYPE_Q5_K);
    DOTBENCH_CASE(AZC_DTYPE_Q6_K);
  default: break;
  }
}

void DOTBENCH_FN(_quantize)(int wtype, const float *x, void *xq, int64_t K) {
  azk_quantize_x(wtype, x, xq, K);
}

size_t DOTBENCH_FN(_xq_size)(int wtype, int64_t K) { return azk_xq_row_size(wtype, K); }

const char *DOTBENCH_FN(_path)(void) { return AZK_DOT_PATH; }

#else /* the driver */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/util.h"

#define DOTBENCH_DECLARE(v)                                                                        \
  void dotbench_##v##_matvec(int wtype, int64_t K, int64_t N, const uint8_t *w, size_t row_bytes,  \
                             const void *xq, size_t xq_stride, int R, float *out);                 \
  void dotbench_##v##_quantize(int wtype, const float *x, void *xq, int64_t K);                    \
  size_t dotbench_##v##_xq_size(int wtype, int64_t K);                                             \
  const char *dotbench_##v##_path(void);

DOTBENCH_DECLARE(scalar)
#if defined(__x86_64__)
DOTBENCH_DECLARE(avx2)
DOTBENCH_DECLARE(avx512)
#elif defined(__aarch64__)
#include <sys/auxv.h>
DOTBENCH_DECLARE(neon)
DOTBENCH_DECLARE(dotprod)
#endif

typedef struct variant {
  const char *name;
  dotbench_matvec_fn matvec;
  dotbench_quantize_fn quantize;
  dotbench_xq_size_fn xq_size;
  const char *(*path)(void);
  bool (*supported)(void);
} variant_t;

static bool always(void) { return true; }

#if defined(__x86_64__)
static bool has_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
}
static bool has_avx512(void) {
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16");
}
#elif defined(__aarch64__)
static bool has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#endif

#define DOTBENCH_VARIANT_ENTRY(v, check)                                                           \
  {                                                                                                \
#v, dotbench_##v##_matvec, dotbench_##v##_quantize, dotbench_##v##_xq_size,                    \
        dotbench_##v##_path, check                                                                 \
  }

static const variant_t variants[] = {
    DOTBENCH_VARIANT_ENTRY(scalar, always),
#if defined(__x86_64__)
    DOTBENCH_VARIANT_ENTRY(avx2, has_avx2),
    DOTBENCH_VARIANT_ENTRY(avx512, has_avx512),
#elif defined(__aarch64__)
    DOTBENCH_VARIANT_ENTRY(neon, always),
    DOTBENCH_VARIANT_ENTRY(dotprod, has_dotprod),
#endif
};

static const azc_dtype_t types[] = {AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16, AZC_DTYPE_Q4_0,
                                    AZC_DTYPE_Q4_1, AZC_DTYPE_Q5_0, AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0,
                                    AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K, AZC_DTYPE_Q4_K, AZC_DTYPE_Q5_K,
                                    AZC_DTYPE_Q6_K};

enum { SEED_ROWS = 256, MAX_R = 4, KMAX = 4096, N_CASES = 4 };
static const size_t L2_BYTES = 256u << 10, DRAM_BYTES = 256u << 20;

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static float rng_normal(void) { /* sum of uniforms: shape does not matter for speed */
  float s = -2.0f;
  for (int i = 0; i < 4; i++) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    s += (float)(rng_state >> 40) / 16777216.0f;
  }
  return s;
}

/* The weights for one type and K: SEED_ROWS quantized rows repeated to fill
 * `bytes` (the content does not change the speed). */
static void fill_weights(azc_dtype_t t, int64_t K, uint8_t *buf, size_t bytes) {
  const size_t row = azc_dtype_row_size(t, K), seed = row * SEED_ROWS;
  float *f = malloc((size_t)K * sizeof(float));
  for (int r = 0; r < SEED_ROWS && (size_t)r * row < bytes; r++) {
    for (int64_t i = 0; i < K; i++) f[i] = rng_normal() * 0.05f;
    azc_quantize_row(t, f, buf + (size_t)r * row, K);
  }
  free(f);
  for (size_t off = seed; off < bytes; off += seed)
    memcpy(buf + off, buf, AZC_MIN(seed, bytes - off));
}

static double sink;

/* Seconds of CPU time of this thread: the machine may be shared, and time
 * when another process has the core is not the kernel's. */
static double thread_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GB/s of weight bytes: the best of many short timings (about 2 ms each, at
 * least one pass over the weights), so that moments when another process
 * shares the core are left out. */
static double measure(const variant_t *v, azc_dtype_t t, int64_t K, int64_t N, const uint8_t *w,
                      const void *xq, size_t xq_stride, int R, float *out, double min_s) {
  const size_t row = azc_dtype_row_size(t, K);
  v->matvec(t, K, N, w, row, xq, xq_stride, R, out); /* warm up */
  double start = thread_seconds();
  v->matvec(t, K, N, w, row, xq, xq_stride, R, out);
  const double pass = thread_seconds() - start + 1e-9;
  const int reps = pass >= 2e-3 ? 1 : (int)(2e-3 / pass);
  const int trials = AZC_MAX(2, (int)(min_s / (reps * pass)));
  double best = 0;
  for (int trial = 0; trial < trials; trial++) {
    start = thread_seconds();
    for (int i = 0; i < reps; i++) v->matvec(t, K, N, w, row, xq, xq_stride, R, out);
    const double rate = (double)row * (double)N * reps / (thread_seconds() - start) / 1e9;
    if (rate > best) best = rate;
  }
  sink += out[0];
  return best;
}

static void usage(void) {
  fprintf(stderr, "usage: azc-dotbench [--quick] [--type NAME] [--variant NAME]\n"
                  "  --quick     shorter timings\n"
                  "  --type      one weight type (q4_0, q4_k, f16, ...)\n"
                  "  --variant   one code path (scalar, avx2, avx512, neon, dotprod)\n");
}

int main(int argc, char **argv) {
  double min_s = 0.15;
  int only_type = -1;
  const char *only_variant = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      min_s = 0.03;
    } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
      only_type = azc_dtype_from_name(argv[++i]);
      if (only_type < 0) {
        fprintf(stderr, "azc-dotbench: unknown type '%s'\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--variant") && i + 1 < argc) {
      only_variant = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  uint8_t *w = aligned_alloc(64, DRAM_BYTES);
  uint8_t *xq = aligned_alloc(64, MAX_R * (KMAX * sizeof(float) + 64));
  float *x = malloc(MAX_R * KMAX * sizeof(float));
  float *out = malloc(MAX_R * (DRAM_BYTES / 1024) * sizeof(float)); /* rows are > 1 KiB */
  if (!w || !xq || !x || !out) {
    fprintf(stderr, "azc-dotbench: out of memory\n");
    return 1;
  }
  for (int i = 0; i < MAX_R * KMAX; i++) x[i] = rng_normal();
  printf("azc-dotbench: single thread (CPU time), GB/s of weight bytes; 1r = one activation row, "
         "4r = four\n"
         "  L2: K=4096, ~%zu KiB of weights; N=4096: decode shape; DRAM: K=4096, %zu MiB\n",
         L2_BYTES >> 10, DRAM_BYTES >> 20);
  enum {
    N_VARIANTS = sizeof(variants) / sizeof(variants[0]),
    N_TYPES = sizeof(types) / sizeof(types[0])
  };
  struct {
    int64_t K;
    size_t bytes; /* 0: N = 4096 rows */
  } cases[N_CASES] = {{4096, L2_BYTES}, {2048, 0}, {4096, 0}, {4096, DRAM_BYTES}};
  static double rate[N_VARIANTS][N_TYPES][N_CASES][2];
  bool run[N_VARIANTS];
  for (int vi = 0; vi < N_VARIANTS; vi++)
    run[vi] =
        (!only_variant || !strcmp(only_variant, variants[vi].name)) && variants[vi].supported();
  /* type by type, so that each weight matrix is made once for every variant */
  for (int ti = 0; ti < N_TYPES; ti++) {
    const azc_dtype_t t = types[ti];
    if (only_type >= 0 && (int)t != only_type) continue;
    for (int ci = 0; ci < N_CASES; ci++) {
      const int64_t K = cases[ci].K;
      const size_t row = azc_dtype_row_size(t, K);
      const int64_t N = cases[ci].bytes ? AZC_MAX(1, (int64_t)(cases[ci].bytes / row)) : 4096;
      fill_weights(t, K, w, (size_t)N * row);
      for (int vi = 0; vi < N_VARIANTS; vi++) {
        if (!run[vi]) continue;
        const variant_t *v = &variants[vi];
        const size_t stride = (v->xq_size(t, K) + 63) / 64 * 64;
        for (int r = 0; r < MAX_R; r++) v->quantize(t, x + r * KMAX, xq + r * stride, K);
        rate[vi][ti][ci][0] = measure(v, t, K, N, w, xq, stride, 1, out, min_s);
        rate[vi][ti][ci][1] = measure(v, t, K, N, w, xq, stride, 4, out, min_s);
      }
    }
  }
  for (int vi = 0; vi < N_VARIANTS; vi++) {
    const variant_t *v = &variants[vi];
    if (only_variant && strcmp(only_variant, v->name)) continue;
    if (!run[vi]) {
      printf("\n[%s] not supported by this CPU: skipped\n", v->name);
      continue;
    }
    printf("\n[%s] (azk_dot path: %s)\n", v->name, v->path());
    printf("%-5s  %13s  %13s  %13s  %13s\n", "type", "L2 1r/4r", "K=2048 1r/4r", "K=4096 1r/4r",
           "DRAM 1r/4r");
    for (int ti = 0; ti < N_TYPES; ti++) {
      if (only_type >= 0 && (int)types[ti] != only_type) continue;
      printf("%-5s", azc_dtype_name(types[ti]));
      for (int ci = 0; ci < N_CASES; ci++)
        printf("  %6.1f/%6.1f", rate[vi][ti][ci][0], rate[vi][ti][ci][1]);
      printf("\n");
    }
  }
  printf("\n(checksum %g)\n", sink);
  free(w);
  free(xq);
  free(x);
  free(out);
  return 0;
}

#endif
