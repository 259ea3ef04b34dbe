/* The kernel cache as the compiler uses it: a second compile of the same
 * model compiles nothing; a different file with the same shapes compiles
 * nothing; a damaged entry is rebuilt (and the kernels still compute the
 * same logits); two compiles into one empty cache at once both succeed.
 * Repacked weights: a second compile maps every one from the cache, with
 * bytes equal to a compile without the cache; a file with other weights
 * finds none of them; a damaged weight entry is repacked again. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/cache.h"
#include "frontend/synth.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

static char cache_dir[512];

static const char *make_model(const char *name, uint64_t seed, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.gguf", test_tmp_dir(), name);
  azc_synth_params_t p;
  if (azc_synth_preset("tiny-llama", &p)) return NULL;
  p.seed = seed;
  p.wtype = AZC_DTYPE_Q8_0;
  azc_status_t st = azc_synth_write(&p, buf, NULL, NULL);
  if (st) {
    azc_status_free(st);
    return NULL;
  }
  return buf;
}

/* XXH3-64 over every weight's XXH3-64, in plan order. */
static uint64_t weights_hash(const azc_compiled_t *c) {
  uint64_t *h = calloc((size_t)c->plan->n_weights + 1, sizeof(uint64_t));
  if (!h) return 0;
  for (int32_t i = 0; i < c->plan->n_weights; i++)
    h[i] = azc_hash64(c->weight_data[i], (size_t)c->plan->weights[i].nbytes);
  uint64_t all = azc_hash64(h, sizeof(uint64_t) * (size_t)c->plan->n_weights);
  free(h);
  return all;
}

/* dir NULL: without the cache. weights (may be NULL): weights_hash. */
static azc_status_t compile_weights(const char *path, const char *dir, azc_compile_stats_t *stats,
                                    float *logits, uint64_t *weights) {
  azc_model_t *m;
  AZC_RETURN_IF_ERROR(azc_model_open(path, &m));
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 8;
  o.n_ctx = 16;
  o.cache_dir = dir;
  o.use_cache = dir != NULL;
  o.jobs = 1;
  compiled_model_t *c;
  azc_status_t st = compiled_model_create(m, &o, &c);
  if (!st) {
    *stats = c->compiled->stats;
    if (weights) *weights = weights_hash(c->compiled);
    if (logits) {
      azc_executor_params_t ep = azc_executor_params_default();
      ep.n_ctx = 16;
      ep.n_threads = 1;
      azc_executor_t *ex;
      st = compiled_model_executor(c, &ep, &ex);
      if (!st) {
        int32_t toks[3] = {1, 100, 200}, pos[3] = {0, 1, 2}, seq[3] = {0}, last = 2;
        azc_batch_t b = {3, toks, pos, seq, 1, &last};
        st = azc_executor_forward(ex, &b, logits);
        azc_executor_destroy(ex);
      }
    }
    compiled_model_free(c);
  }
  azc_model_close(m);
  return st;
}

static azc_status_t compile_into(const char *path, const char *dir, azc_compile_stats_t *stats,
                                 float *logits) {
  return compile_weights(path, dir, stats, logits, NULL);
}

/* The path of one cache entry whose description starts with `prefix`
 * ("weight ": a repacked weight's) or, when `want` is false, does not. */
typedef struct find_entry {
  const char *prefix;
  bool want;
  char path[1024];
} find_entry_t;

static void find_entry_fn(void *user, const azc_cache_entry_info_t *e) {
  find_entry_t *f = user;
  if (f->path[0] || !e->valid) return;
  if ((strncmp(e->description, f->prefix, strlen(f->prefix)) == 0) == f->want)
    snprintf(f->path, sizeof(f->path), "%s", e->path);
}

/* The path of one kernel's cache entry file. */
static bool first_entry(const char *dir, char *out, size_t cap) {
  find_entry_t f = {"weight ", false, ""};
  if (azc_cache_list(dir, find_entry_fn, &f) == NULL && f.path[0])
    return snprintf(out, cap, "%s", f.path) < (int)cap;
  return false;
}

static void test_second_compile_hits(void) {
  char a[512], b[512];
  ASSERT(make_model("cache-a", 1, a, sizeof(a)));
  ASSERT(make_model("cache-b", 2, b, sizeof(b))); /* other weights, same shapes */
  snprintf(cache_dir, sizeof(cache_dir), "%s/kernels", test_tmp_dir());
  ASSERT_OK(azc_cache_clear(cache_dir, NULL, NULL)); /* start empty */
  azc_compile_stats_t s1, s2, s3;
  float l1[384], l2[384];
  ASSERT_OK(compile_into(a, cache_dir, &s1, l1));
  ASSERT(s1.kernels > 0);
  ASSERT_EQ_INT(s1.cache_misses, s1.kernels);
  ASSERT_OK(compile_into(a, cache_dir, &s2, l2));
  ASSERT_EQ_INT(s2.cache_misses, 0);
  ASSERT_EQ_INT(s2.cache_hits, s1.kernels);
  ASSERT(memcmp(l1, l2, sizeof(l1)) == 0);
  ASSERT_OK(compile_into(b, cache_dir, &s3, NULL));
  ASSERT_EQ_INT(s3.cache_misses, 0);
  fprintf(stderr, "  %d kernels: first compile %d built, second %d, other file %d\n", s1.kernels,
          s1.cache_misses, s2.cache_misses, s3.cache_misses);
}

static void test_damaged_entry_rebuilt(void) {
  char a[512], entry[1024];
  ASSERT(make_model("cache-a", 1, a, sizeof(a)));
  ASSERT(cache_dir[0]);
  ASSERT(first_entry(cache_dir, entry, sizeof(entry)));
  FILE *f = fopen(entry, "r+b");
  ASSERT(f);
  fseek(f, -20, SEEK_END); /* inside the payload (the object code) */
  int c = fgetc(f);
  fseek(f, -20, SEEK_END);
  fputc(c ^ 0x5a, f);
  fclose(f);
  azc_compile_stats_t s;
  float l1[384], l2[384];
  ASSERT_OK(compile_into(a, cache_dir, &s, l1));
  ASSERT_EQ_INT(s.cache_misses, 1);
  ASSERT_EQ_INT(s.cache_rebuilt, 1);
  ASSERT_OK(compile_into(a, cache_dir, &s, l2));
  ASSERT_EQ_INT(s.cache_misses, 0);
  ASSERT(memcmp(l1, l2, sizeof(l1)) == 0);
}

static void test_concurrent_compiles(void) {
  char a[512], dir[512];
  ASSERT(make_model("cache-a", 1, a, sizeof(a)));
  snprintf(dir, sizeof(dir), "%s/concurrent", test_tmp_dir());
  ASSERT_OK(azc_cache_clear(dir, NULL, NULL));
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    ASSERT(kids[i] >= 0);
    if (kids[i] == 0) {
      azc_compile_stats_t s;
      azc_status_t st = compile_into(a, dir, &s, NULL);
      _exit(st ? 1 : 0);
    }
  }
  for (int i = 0; i < 2; i++) {
    int status = 0;
    ASSERT(waitpid(kids[i], &status, 0) == kids[i]);
    ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "compile %d failed", i);
  }
  azc_compile_stats_t s;
  ASSERT_OK(compile_into(a, dir, &s, NULL));
  ASSERT_EQ_INT(s.cache_misses, 0); /* both left whole entries */
  ASSERT_EQ_INT(s.cache_rebuilt, 0);
}

static void flip_byte_from_end(const char *path, long from_end) {
  FILE *f = fopen(path, "r+b");
  ASSERT(f);
  fseek(f, -from_end, SEEK_END);
  int c = fgetc(f);
  fseek(f, -from_end, SEEK_END);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

static void test_repacked_weights_cached(void) {
  char a[512], b[512], dir[512], entry[1024];
  ASSERT(make_model("cache-a", 1, a, sizeof(a)));
  ASSERT(make_model("cache-b", 2, b, sizeof(b)));
  snprintf(dir, sizeof(dir), "%s/repack", test_tmp_dir());
  ASSERT_OK(azc_cache_clear(dir, NULL, NULL));
  azc_compile_stats_t s0, s1, s2, s3, s4;
  uint64_t w0, w1, w2, w3, w4, wb;
  float l1[384], l2[384];
  ASSERT_OK(compile_weights(a, NULL, &s0, NULL, &w0));
  if (s0.repack_cache_misses == 0) TEST_SKIP("this target repacks no weight of the model");
  ASSERT_EQ_INT(s0.repack_cache_hits, 0);
  ASSERT_OK(compile_weights(a, dir, &s1, l1, &w1));
  ASSERT_EQ_INT(s1.repack_cache_hits, 0);
  ASSERT_EQ_INT(s1.repack_cache_misses, s0.repack_cache_misses);
  ASSERT_OK(compile_weights(a, dir, &s2, l2, &w2));
  ASSERT_EQ_INT(s2.repack_cache_hits, s0.repack_cache_misses);
  ASSERT_EQ_INT(s2.repack_cache_misses, 0);
  ASSERT(w0 == w1 && w1 == w2);
  ASSERT_EQ_INT(s2.repacked_bytes, s0.repacked_bytes);
  ASSERT(memcmp(l1, l2, sizeof(l1)) == 0);
  /* other weights, same shapes: keyed by the bytes, so nothing matches */
  ASSERT_OK(compile_weights(b, dir, &s3, NULL, &wb));
  ASSERT_EQ_INT(s3.repack_cache_hits, 0);
  ASSERT(wb != w2);
  ASSERT_OK(azc_cache_clear(dir, NULL, NULL)); /* only a's entries from here on */
  ASSERT_OK(compile_weights(a, dir, &s1, NULL, &w1));
  ASSERT_EQ_INT(s1.repack_cache_misses, s0.repack_cache_misses);
  /* a damaged entry is found by its checksum and repacked again */
  find_entry_t f = {"weight ", true, ""};
  ASSERT_OK(azc_cache_list(dir, find_entry_fn, &f));
  ASSERT(f.path[0]);
  snprintf(entry, sizeof(entry), "%s", f.path);
  flip_byte_from_end(entry, 7);
  ASSERT_OK(compile_weights(a, dir, &s4, NULL, &w4));
  ASSERT_EQ_INT(s4.repack_cache_misses, 1);
  ASSERT_EQ_INT(s4.cache_rebuilt, 1);
  ASSERT_EQ_INT(s4.repack_cache_hits, s0.repack_cache_misses - 1);
  ASSERT(w4 == w0);
  ASSERT_OK(compile_weights(a, dir, &s4, NULL, &w3));
  ASSERT_EQ_INT(s4.repack_cache_misses, 0);
  ASSERT(w3 == w0);
  fprintf(stderr, "  %d repacked weights: all mapped from the cache the second time\n",
          s0.repack_cache_misses);
}

int main(void) {
  RUN(test_second_compile_hits);
  RUN(test_damaged_entry_rebuilt);
  RUN(test_concurrent_compiles);
  RUN(test_repacked_weights_cached);
  return test_summary();
}
