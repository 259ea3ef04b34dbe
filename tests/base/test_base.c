/* runtime/base: status messages, arena, half floats, atomic files, thread pool. */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/arena.h"
#include "runtime/base/file.h"
#include "runtime/base/hash.h"
#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"
#include "tests/test.h"

static azc_status_t failing(void) { return AZC_ERR(AZC_CORRUPT, "bad byte %d", 7); }
static azc_status_t caller(void) {
  AZC_RETURN_IF_ERROR_CTX(failing(), "reading %s", "x.gguf");
  return NULL;
}

static void test_status(void) {
  azc_status_t st = caller();
  ASSERT(st != NULL);
  ASSERT_EQ_INT(azc_status_code(st), AZC_CORRUPT);
  ASSERT_STREQ(azc_status_message(st), "reading x.gguf: bad byte 7");
  ASSERT(strstr(azc_status_where(st), "test_base.c:") != NULL);
  azc_status_free(st);
  ASSERT_STREQ(azc_status_message(NULL), "OK");
}

/* Wrapping adds each context once. */
static void test_status_wrap_once(void) {
  azc_status_t st = AZC_ERR(AZC_NOT_FOUND, "kernel cache: no directory");
  st = azc_status_wrap(st, "kernel cache");
  ASSERT_STREQ(azc_status_message(st), "kernel cache: no directory");
  st = azc_status_wrap(st, "compiling %s", "m.gguf");
  st = azc_status_wrap(st, "compiling m.gguf");
  st = azc_status_wrap(st, "kernel cache");
  ASSERT_STREQ(azc_status_message(st), "compiling m.gguf: kernel cache: no directory");
  azc_status_free(st);
  st = AZC_ERR(AZC_IO, "/d/m.gguf: cannot create /d/m.gguf.tmp.1.0: No such file or directory");
  st = azc_status_wrap(st, "writing model %s", "/d/m.gguf");
  ASSERT_STREQ(azc_status_message(st),
               "writing model /d/m.gguf: cannot create /d/m.gguf.tmp.1.0: No such file or directory");
  azc_status_free(st);
  st = azc_status_wrap(AZC_ERR(AZC_CORRUPT, "tokenizer: bad merge"), "x.gguf");
  st = azc_status_wrap(st, "x.gguf: tokenizer"); /* a run of parts already there */
  ASSERT_STREQ(azc_status_message(st), "x.gguf: tokenizer: bad merge");
  azc_status_free(st);
  st = azc_status_wrap(AZC_ERR(AZC_CORRUPT, "tokenizers: bad"), "tokenizer"); /* a part, not a prefix */
  ASSERT_STREQ(azc_status_message(st), "tokenizer: tokenizers: bad");
  azc_status_free(st);
  ASSERT(azc_status_has_context("a: b: c", "b"));
  ASSERT(azc_status_has_context("a: b: c", "b: c"));
  ASSERT(!azc_status_has_context("a: bb: c", "b"));
  ASSERT(!azc_status_has_context("a: b c", "b"));
}

static void test_arena(void) {
  azc_arena_t a;
  azc_arena_init(&a, 128);
  char *p = azc_arena_alloc(&a, 100, 8);
  char *q = azc_arena_alloc(&a, 1000, 64); /* bigger than a chunk */
  ASSERT(p && q);
  ASSERT(((uintptr_t)q & 63) == 0);
  memset(p, 1, 100);
  memset(q, 2, 1000);
  ASSERT_STREQ(azc_arena_strdup(&a, "blk.0"), "blk.0");
  azc_arena_free(&a);
}

/* Addresses are aligned, whatever sizes came before (sizes that are not
 * multiples of 16 included), in small and in own-chunk allocations; blocks
 * are zeroed and do not overlap. */
static void test_arena_alignment(void) {
  azc_arena_t a;
  azc_arena_init(&a, 256);
  enum { N = 2000 };
  unsigned char *p[N];
  size_t sz[N];
  test_rng_t rng = {3};
  for (int i = 0; i < N; i++) {
    size_t align = (size_t)1 << test_rng_int(&rng, 13); /* 1 .. 4096 */
    sz[i] = (size_t)(i % 7 == 0 ? 300 + test_rng_int(&rng, 700) : 1 + test_rng_int(&rng, 47));
    p[i] = azc_arena_alloc(&a, sz[i], align);
    ASSERT(p[i]);
    size_t want = align < 8 ? 8 : align;
    ASSERT_MSG(((uintptr_t)p[i] & (want - 1)) == 0, "allocation %d (%zu bytes, align %zu) at %p", i,
               sz[i], align, (void *)p[i]);
    for (size_t k = 0; k < sz[i]; k++) ASSERT(p[i][k] == 0);
    memset(p[i], (i % 250) + 1, sz[i]);
  }
  for (int i = 0; i < N; i++)
    for (size_t k = 0; k < sz[i]; k++)
      ASSERT_MSG(p[i][k] == (i % 250) + 1, "allocation %d overwritten", i);
  ASSERT(azc_arena_alloc(&a, 8, 24) == NULL); /* not a power of two */
  azc_arena_free(&a);
}

static void test_fp16_exhaustive(void) {
  /* every half converts to float and back to itself (NaNs stay NaN) */
  for (uint32_t h = 0; h < 65536; h++) {
    float f = azc_fp16_to_f32((uint16_t)h);
    uint16_t back = azc_f32_to_fp16(f);
    if (isnan(f)) {
      ASSERT(isnan(azc_fp16_to_f32(back)));
      continue;
    }
    ASSERT_MSG(back == h, "half 0x%04x -> %g -> 0x%04x", h, f, back);
  }
  ASSERT_NEAR(azc_fp16_to_f32(azc_f32_to_fp16(1.0f / 3.0f)), 0.333251953125, 0);
  ASSERT_EQ_INT(azc_f32_to_fp16(1e6f), 0x7c00);
  ASSERT_EQ_INT(azc_f32_to_fp16(-1e-9f), 0x8000);
  ASSERT_EQ_INT(azc_f32_to_fp16(5.96046448e-08f), 0x0001); /* smallest denormal */
  ASSERT_EQ_INT(azc_f32_to_fp16(2.98023224e-08f), 0x0000); /* half of it: ties to even */
  ASSERT_NEAR(azc_bf16_to_f32(azc_f32_to_bf16(3.140625f)), 3.140625, 0);
}

static void test_atomic_file(void) {
  char path[512];
  snprintf(path, sizeof(path), "%s/atomic.bin", test_tmp_dir());
  unlink(path);
  azc_atomic_file_t f;
  ASSERT_OK(azc_atomic_file_open(path, &f));
  ASSERT_OK(azc_atomic_file_write(&f, "abc", 3));
  azc_atomic_file_abort(&f);
  ASSERT(access(path, F_OK) != 0); /* abort leaves nothing */
  ASSERT_OK(azc_atomic_file_open(path, &f));
  ASSERT_OK(azc_atomic_file_write(&f, "abc", 3));
  ASSERT_OK(azc_atomic_file_pad(&f, 16));
  ASSERT_OK(azc_atomic_file_commit(&f));
  azc_file_map_t m;
  ASSERT_OK(azc_file_map_open(path, &m));
  ASSERT_EQ_INT(m.size, 16);
  ASSERT(memcmp(m.data, "abc\0", 4) == 0);
  azc_file_map_close(&m);
  ASSERT_ERR(azc_file_map_open("/nonexistent/x", &m), AZC_NOT_FOUND, "/nonexistent/x");
}

typedef struct {
  atomic_long sum;
  long n;
} sum_ctx_t;

static void add_range(void *p, int ith, int nth) {
  sum_ctx_t *c = p;
  long b, e, s = 0;
  azc_split_range(c->n, ith, nth, &b, &e);
  for (long i = b; i < e; i++) s += i;
  atomic_fetch_add(&c->sum, s);
}

static void test_threadpool(void) {
  azc_threadpool_t *pool;
  ASSERT_OK(azc_threadpool_create(3, &pool));
  for (int rep = 0; rep < 2000; rep++) {
    sum_ctx_t c = {0, 1000 + rep};
    azc_threadpool_run(pool, add_range, &c);
    ASSERT_EQ_INT(atomic_load(&c.sum), (long)(c.n * (c.n - 1) / 2));
  }
  azc_threadpool_destroy(pool);
}

/* azc_threadpool_for: every task exactly once, on several threads; tasks
 * that last longer than the caller spins make it sleep until the last one
 * finishes (the region returns only after all of them). */
typedef struct {
  atomic_int runs[64];
  atomic_int finished;
  int sleep_us;
} tasks_ctx_t;

static void count_task(void *p, int i) {
  tasks_ctx_t *c = p;
  if (c->sleep_us && i % 7 == 0) usleep((useconds_t)c->sleep_us);
  atomic_fetch_add(&c->runs[i], 1);
  atomic_fetch_add(&c->finished, 1);
}

static void test_threadpool_for(void) {
  azc_threadpool_t *pool;
  ASSERT_OK(azc_threadpool_create(3, &pool));
  for (int rep = 0; rep < 200; rep++) {
    static tasks_ctx_t c;
    memset(&c, 0, sizeof(c));
    int n = 1 + rep % 64;
    c.sleep_us = rep % 20 == 0 ? 30000 : 0; /* 30 ms: well past the spinning */
    azc_threadpool_for(pool, n, count_task, &c);
    ASSERT_EQ_INT(atomic_load(&c.finished), n);
    for (int i = 0; i < n; i++) ASSERT_EQ_INT(atomic_load(&c.runs[i]), 1);
  }
  azc_threadpool_destroy(pool);
  tasks_ctx_t one = {0};
  azc_threadpool_for(NULL, 5, count_task, &one); /* no pool: on the caller */
  ASSERT_EQ_INT(atomic_load(&one.finished), 5);
}

static void test_hash(void) {
  char hex[33];
  azc_hash128_t h = azc_hash128("azc", 3), h2 = azc_hash128("azd", 3);
  ASSERT(h.lo != h2.lo || h.hi != h2.hi);
  azc_hash128_hex(h, hex);
  ASSERT_EQ_INT(strlen(hex), 32);
  ASSERT(azc_hash64("", 0) == azc_hash64("", 0));
}

int main(void) {
  RUN(test_status);
  RUN(test_status_wrap_once);
  RUN(test_arena);
  RUN(test_arena_alignment);
  RUN(test_fp16_exhaustive);
  RUN(test_atomic_file);
  RUN(test_threadpool);
  RUN(test_threadpool_for);
  RUN(test_hash);
  return test_summary();
}
