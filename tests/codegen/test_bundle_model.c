/* Bundles end to end: compile, write, open with the thin runtime, run (the
 * same logits as the in-process compile); a truncated bundle, a flipped byte
 * in any section, another format version, code for a CPU this host is not
 * (AVX-512 on a host without it, aarch64 here) are refused with a message
 * that says which and why. A haswell bundle runs on this (AVX2) host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/bundle_emit.h"
#include "frontend/synth.h"
#include "runtime/base/file.h"
#include "runtime/cpu_features.h"
#include "runtime/model_bundle.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

static char model_path[512];

static azc_status_t write_bundle(const char *out, const char *triple, const char *cpu) {
  azc_model_t *m;
  AZC_RETURN_IF_ERROR(azc_model_open(model_path, &m));
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 8;
  o.n_ctx = 16;
  o.target_triple = triple;
  o.target_cpu = cpu;
  azc_status_t st = azc_model_lower(m, &g);
  if (!st) st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, &o, &c);
  azc_bundle_defaults_t d = azc_bundle_defaults_default();
  d.n_ctx = 16;
  if (!st) st = azc_bundle_emit(out, m, c, &d, NULL, NULL, NULL);
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  return st;
}

static azc_status_t run_bundle(const char *path, float *logits) {
  azc_bundle_model_t *b;
  AZC_RETURN_IF_ERROR(azc_bundle_model_open(path, 0, &b));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 16;
  ep.n_threads = 2;
  azc_executor_t *ex;
  azc_status_t st = azc_bundle_model_executor(b, &ep, &ex);
  if (!st) {
    int32_t toks[3] = {1, 100, 200}, pos[3] = {0, 1, 2}, seq[3] = {0}, last = 2;
    azc_batch_t batch = {3, toks, pos, seq, 1, &last};
    st = azc_executor_forward(ex, &batch, logits);
    azc_executor_destroy(ex);
  }
  azc_bundle_model_close(b);
  return st;
}

static void setup(void) {
  if (model_path[0]) return;
  snprintf(model_path, sizeof(model_path), "%s/bundle-model.gguf", test_tmp_dir());
  azc_synth_params_t p;
  azc_status_t st = azc_synth_preset("tiny-llama", &p);
  if (!st) {
    p.wtype = AZC_DTYPE_Q4_0;
    st = azc_synth_write(&p, model_path, NULL, NULL);
  }
  if (st) {
    fprintf(stderr, "setup: %s\n", azc_status_message(st));
    azc_status_free(st);
  }
}

static void test_bundle_runs_like_in_process(void) {
  setup();
  char path[600];
  snprintf(path, sizeof(path), "%s/host.bundle", test_tmp_dir());
  ASSERT_OK(write_bundle(path, NULL, NULL));
  float a[384], b[384];
  ASSERT_OK(run_bundle(path, a));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(model_path, &m));
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 8;
  o.n_ctx = 16;
  compiled_model_t *c;
  ASSERT_OK(compiled_model_create(m, &o, &c));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 16;
  ep.n_threads = 2;
  azc_executor_t *ex;
  ASSERT_OK(compiled_model_executor(c, &ep, &ex));
  int32_t toks[3] = {1, 100, 200}, pos[3] = {0, 1, 2}, seq[3] = {0}, last = 2;
  azc_batch_t batch = {3, toks, pos, seq, 1, &last};
  ASSERT_OK(azc_executor_forward(ex, &batch, b));
  ASSERT(memcmp(a, b, sizeof(a)) == 0);
  azc_executor_destroy(ex);
  compiled_model_free(c);
  azc_model_close(m);
}

static azc_status_t open_only(const char *path) {
  azc_bundle_model_t *b;
  azc_status_t st = azc_bundle_model_open(path, 0, &b);
  if (!st) {
    st = azc_bundle_model_wait_verified(b); /* the weights are checked on a thread */
    azc_bundle_model_close(b);
  }
  return st;
}

static void test_damaged_bundles_refused(void) {
  setup();
  char path[600], bad[600];
  snprintf(path, sizeof(path), "%s/host.bundle", test_tmp_dir());
  snprintf(bad, sizeof(bad), "%s/damaged.bundle", test_tmp_dir());
  if (access(path, F_OK)) ASSERT_OK(write_bundle(path, NULL, NULL));
  char *data;
  size_t size;
  ASSERT_OK(azc_file_read_all(path, &data, &size));
  /* truncations */
  for (size_t cut = 0; cut < size; cut += cut < 256 ? 1 : size / 97 + 1) {
    FILE *f = fopen(bad, "wb");
    fwrite(data, 1, cut, f);
    fclose(f);
    azc_status_t st = open_only(bad);
    ASSERT_MSG(st != NULL, "truncated at %zu of %zu bytes but accepted", cut, size);
    azc_status_free(st);
  }
  /* one flipped byte in each section: refused, naming the section */
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(path, 0, &b));
  size_t n = azc_bundle_section_count(b);
  for (size_t i = 0; i < n; i++) {
    azc_bundle_section_info_t info;
    ASSERT_OK(azc_bundle_section_info(b, i, &info));
    if (!info.size) continue;
    char name[32];
    snprintf(name, sizeof(name), "%s", info.name);
    uint64_t at = info.offset + info.size / 2;
    data[at] ^= 0x10;
    FILE *f = fopen(bad, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
    data[at] ^= 0x10;
    azc_status_t st = open_only(bad);
    ASSERT_MSG(st && strstr(azc_status_message(st), name), "flip in section %s: %s", name,
               st ? azc_status_message(st) : "accepted");
    azc_status_free(st);
  }
  azc_bundle_close(b);
  /* another format version */
  uint32_t version;
  memcpy(&version, data + 8, 4);
  version += 1;
  memcpy(data + 8, &version, 4);
  FILE *f = fopen(bad, "wb");
  fwrite(data, 1, size, f);
  fclose(f);
  ASSERT_ERR(open_only(bad), AZC_UNSUPPORTED, "format version");
  free(data);
}

static void test_targets(void) {
  setup();
  char path[600];
  float a[384], b[384];
  char missing[128];
  /* an AVX2-only CPU: runs here */
  if (!azc_host_has_features("avx2,fma,f16c,bmi2", missing, sizeof(missing)))
    TEST_SKIP("this CPU lacks %s (cpuid), which a haswell bundle needs", missing);
  snprintf(path, sizeof(path), "%s/haswell.bundle", test_tmp_dir());
  ASSERT_OK(write_bundle(path, NULL, "haswell"));
  ASSERT_OK(run_bundle(path, a));
  snprintf(path, sizeof(path), "%s/host.bundle", test_tmp_dir());
  if (access(path, F_OK)) ASSERT_OK(write_bundle(path, NULL, NULL));
  ASSERT_OK(run_bundle(path, b));
  for (int i = 0; i < 384; i++) ASSERT_NEAR(a[i], b[i], 1e-3);
  /* AVX-512: refused on a host without it, naming what is missing */
  snprintf(path, sizeof(path), "%s/cascadelake.bundle", test_tmp_dir());
  ASSERT_OK(write_bundle(path, NULL, "cascadelake"));
  if (azc_host_has_features("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni", NULL, 0)) {
    float c[384]; /* an AVX-512 host runs it, with the same results */
    ASSERT_OK(run_bundle(path, c));
    for (int i = 0; i < 384; i++) ASSERT_NEAR(a[i], c[i], 1e-3);
  } else {
    ASSERT_ERR(open_only(path), AZC_UNSUPPORTED, "avx512");
  }
  /* aarch64: produced here (objects for EM_AARCH64), refused here */
  snprintf(path, sizeof(path), "%s/arm.bundle", test_tmp_dir());
  ASSERT_OK(write_bundle(path, "aarch64-unknown-linux-gnu", "neoverse-n1"));
  azc_bundle_t *bd;
  ASSERT_OK(azc_bundle_open(path, 0, &bd));
  const uint8_t *code;
  uint64_t size;
  ASSERT_OK(azc_bundle_section(bd, "cpu.code", (const void **)&code, &size));
  uint64_t off;
  memcpy(&off, code + 16, 8);
  ASSERT(memcmp(code + off,
                "\x7f"
                "ELF",
                4) == 0);
  ASSERT_EQ_INT(code[off + 18] | code[off + 19] << 8, 183); /* EM_AARCH64 */
  azc_bundle_close(bd);
  if (strcmp(azc_host_arch(), "aarch64")) ASSERT_ERR(open_only(path), AZC_UNSUPPORTED, "aarch64");
}

int main(void) {
  RUN(test_bundle_runs_like_in_process);
  RUN(test_damaged_bundles_refused);
  RUN(test_targets);
  return test_summary();
}
