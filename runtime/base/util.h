/* Small helpers used everywhere: checked arithmetic, time, half floats,
 * little-endian loads. Header-only so that kernels can inline them. */
#ifndef AZC_BASE_UTIL_H
#define AZC_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* A borrowed byte string (not NUL-terminated), e.g. a string inside a mapped file. */
typedef struct azc_strview {
  const char *data;
  size_t size;
} azc_strview_t;

static inline bool azc_strview_eq(azc_strview_t s, const char *z) {
  size_t n = strlen(z);
  return s.size == n && memcmp(s.data, z, n) == 0;
}

#define AZC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AZC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define AZC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* true on overflow */
static inline bool azc_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) {
  return __builtin_mul_overflow(a, b, out);
}
static inline bool azc_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) {
  return __builtin_add_overflow(a, b, out);
}

static inline double azc_time_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline uint64_t azc_align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

#include "runtime/base/half.h"

static inline uint16_t azc_load_u16le(const void *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static inline uint32_t azc_load_u32le(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t azc_load_u64le(const void *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

#endif
