/* A small test harness: plain C, one executable per module.
 *
 *   static void test_something(void) { ASSERT(x == 1); ASSERT_OK(call()); }
 *   int main(void) { RUN(test_something); return test_summary(); }
 *
 * A failed ASSERT prints file:line and the expression and leaves the current
 * test function. TEST_SKIP("why") marks the current test skipped with a visible
 * message; an executable whose every test skipped exits 77, which CTest shows
 * as "Skipped". Paths to ../shared and to the azc binary come from the
 * environment that tests/CMakeLists.txt sets. */
#ifndef AZC_TESTS_TEST_H
#define AZC_TESTS_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/base/file.h"
#include "runtime/base/status.h"

__attribute__((unused)) static int test_failed_count, test_passed_count, test_skipped_count;
__attribute__((unused)) static int test_current_failed, test_current_skipped;
__attribute__((unused)) static const char *test_current_name;

#define ASSERT(cond)                                                                               \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: %s: ASSERT(%s) failed\n", __FILE__, __LINE__, test_current_name,     \
              #cond);                                                                              \
      test_current_failed = 1;                                                                     \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

#define ASSERT_MSG(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: %s: ASSERT(%s) failed: ", __FILE__, __LINE__, test_current_name,     \
              #cond);                                                                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
      test_current_failed = 1;                                                                     \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    ASSERT_MSG(a_ == b_, "%lld != %lld", a_, b_);                                                  \
  } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
  do {                                                                                             \
    double a_ = (double)(a), b_ = (double)(b);                                                     \
    ASSERT_MSG(fabs(a_ - b_) <= (tol), "%.9g vs %.9g (tolerance %g)", a_, b_, (double)(tol));      \
  } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    ASSERT_MSG(a_ &&b_ &&strcmp(a_, b_) == 0, "\"%s\" != \"%s\"", a_ ? a_ : "(null)",              \
               b_ ? b_ : "(null)");                                                                \
  } while (0)

/* The status must be OK; otherwise its message is printed. */
#define ASSERT_OK(expr)                                                                            \
  do {                                                                                             \
    azc_status_t st_ = (expr);                                                                     \
    if (st_) {                                                                                     \
      fprintf(stderr, "%s:%d: %s: %s returned: %s [%s]\n", __FILE__, __LINE__, test_current_name,  \
              #expr, azc_status_message(st_), azc_status_where(st_));                              \
      azc_status_free(st_);                                                                        \
      test_current_failed = 1;                                                                     \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/* The status must be a failure with this code; its message must contain `needle`
 * (NULL: any message). */
#define ASSERT_ERR(expr, code, needle)                                                             \
  do {                                                                                             \
    azc_status_t st_ = (expr);                                                                     \
    ASSERT_MSG(st_ != NULL, "%s succeeded, expected an error", #expr);                             \
    int ok_ = azc_status_code(st_) == (code) && test_msg_has(azc_status_message(st_), (needle));   \
    if (!ok_)                                                                                      \
      fprintf(stderr, "%s:%d: %s: got %s: %s\n", __FILE__, __LINE__, test_current_name,            \
              azc_code_name(azc_status_code(st_)), azc_status_message(st_));                       \
    azc_status_free(st_);                                                                          \
    ASSERT(ok_);                                                                                   \
  } while (0)

static inline int test_msg_has(const char *msg, const char *needle) {
  return !needle || strstr(msg, needle) != NULL;
}

#define TEST_SKIP(...)                                                                             \
  do {                                                                                             \
    fprintf(stderr, "SKIPPED %s: ", test_current_name);                                            \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fprintf(stderr, "\n");                                                                         \
    test_current_skipped = 1;                                                                      \
    return;                                                                                        \
  } while (0)

#define RUN(fn)                                                                                    \
  do {                                                                                             \
    test_current_name = #fn;                                                                       \
    test_current_failed = test_current_skipped = 0;                                                \
    fn();                                                                                          \
    if (test_current_failed) {                                                                     \
      test_failed_count++;                                                                         \
      fprintf(stderr, "FAIL %s\n", #fn);                                                           \
    } else if (test_current_skipped) {                                                             \
      test_skipped_count++;                                                                        \
    } else {                                                                                       \
      test_passed_count++;                                                                         \
      fprintf(stderr, "ok   %s\n", #fn);                                                           \
    }                                                                                              \
  } while (0)

static inline int test_summary(void) {
  fprintf(stderr, "%d passed, %d failed, %d skipped\n", test_passed_count, test_failed_count,
          test_skipped_count);
  if (test_failed_count) return 1;
  if (test_skipped_count && !test_passed_count) return 77;
  return 0;
}

/* ../shared (from AZC_SHARED_DIR), or NULL when it is absent. */
static inline const char *test_shared_dir(void) {
  const char *d = getenv("AZC_SHARED_DIR");
  struct stat sb;
  if (!d || stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
  return d;
}

/* Joins the shared dir and a relative path into buf; NULL when absent. */
static inline const char *test_shared_path(char *buf, size_t cap, const char *rel) {
  const char *d = test_shared_dir();
  if (!d) return NULL;
  int n = snprintf(buf, cap, "%s/%s", d, rel);
  if (n < 0 || (size_t)n >= cap) return NULL;
  struct stat sb;
  if (stat(buf, &sb) != 0) return NULL;
  return buf;
}

/* A per-test scratch directory (from AZC_TEST_TMP), created if needed. */
static inline const char *test_tmp_dir(void) {
  const char *d = getenv("AZC_TEST_TMP");
  if (!d) d = "/tmp";
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", d);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0755);
      *p = '/';
    }
  mkdir(buf, 0755);
  return d;
}

/* A small seeded generator for test data (splitmix64). */
typedef struct test_rng {
  uint64_t s;
} test_rng_t;

static inline uint64_t test_rng_next(test_rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline int test_rng_int(test_rng_t *r, int n) {
  return (int)(test_rng_next(r) % (uint64_t)n);
}
static inline double test_rng_uniform(test_rng_t *r) {
  return (double)(test_rng_next(r) >> 11) / 9007199254740992.0;
}
static inline float test_rng_normal(test_rng_t *r) {
  double u = test_rng_uniform(r), v = test_rng_uniform(r);
  return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

/* A whole file, malloc'd (NULL if it cannot be read). */
static inline uint8_t *test_read_file(const char *path, size_t *size) {
  char *buf = NULL;
  azc_status_t st = azc_file_read_all(path, &buf, size);
  if (st) {
    azc_status_free(st);
    return NULL;
  }
  return (uint8_t *)buf;
}

#endif
