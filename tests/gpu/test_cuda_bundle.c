/* A GPU bundle end to end on the CPU: `azc compile MODEL --gpu-arch
 * sm_80,sm_90 -ngl 99` (NVRTC's cubins and PTX, the module's CUDA source in
 * the cuda.code section), then the bundle run through the runtime's CUDA
 * executor over the libcuda stand-in (tests/gpu/cuda_standin.c), which maps
 * each image of the section, by its hash, to a host build of the section's
 * own source (built here with clang++-19 and cuda_emu.h).
 *
 * For the model given (a shared model, or a tiny-<arch> shape written here
 * as Q8_0 with the sliding window cut to 4): -ngl 0, 1, half and all (through the
 * executor factory, as azc run does) must give the CPU executor's greedy
 * tokens and logits within the compiled-vs-eager tolerance of the eager
 * interpreter (the second argument: cosine >= 0.9999; 0.999 for the
 * random-weight llama-small-tied files and tiny-gemma3), decode steps must
 * replay CUDA graphs, and the
 * stand-in must see no error and no leaked device memory; a planted fault
 * (the stand-in drops one launch of a replayed decode step) must fail the
 * comparison. Then azc run:
 * -ngl prints the placement, and without a driver one line says the run
 * is on the CPU. Skips (77) without ../shared or without NVRTC in azc. */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/model.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "runtime/base/hash.h"
#include "runtime/cuda_code.h"
#include "runtime/kv_row.h"
#include "runtime/model_bundle.h"
#include "tests/test.h"

#ifndef AZC_STANDIN_LIB
#error "AZC_STANDIN_LIB, AZC_BIN, AZC_EMU_CXX and AZC_SOURCE_DIR come from the build"
#endif

enum { STEPS = 4 };

static void (*standin_counters)(uint64_t out[8]);
/* the azc that compiles and runs the bundles (AZC_TEST_AZC overrides the build's) */
static const char *azc_bin = AZC_BIN;

/* runs cmd with stdout+stderr into buf; the exit status */
static int run_cmd(const char *cmd, char *buf, size_t cap) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(buf, 1, cap - 1, p);
  buf[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* the stand-in's module folder for a bundle: <image xxh3-64>.so -> a host
 * build of the section's source */
static bool build_modules(const char *bundle, const char *dir) {
  if (strlen(dir) > 1200) return false;
  azc_bundle_model_t *m = NULL;
  bool ok = false;
  azc_cuda_code_t *cc = NULL;
  azc_status_t st = azc_bundle_model_open(bundle, AZC_BUNDLE_MODEL_VERIFY_NOW, &m);
  if (!st)
    st = m->device_code[AZC_DEVICE_CUDA]
             ? azc_cuda_code_read(m->device_code[AZC_DEVICE_CUDA],
                                  (size_t)m->device_code_size[AZC_DEVICE_CUDA], &cc)
             : AZC_ERR(AZC_NOT_FOUND, "%s has no cuda.code section", bundle);
  if (st) {
    fprintf(stderr, "%s\n", azc_status_message(st));
    azc_status_free(st);
    test_current_failed = 1;
    azc_bundle_model_close(m);
    return false;
  }
  mkdir(dir, 0755);
  char key[33], cu[1400], so[1400], cmd[4096];
  azc_hash128_t k;
  memcpy(&k, cc->header.module_key, sizeof(k));
  azc_hash128_hex(k, key);
  snprintf(cu, sizeof(cu), "%s/%s.cu", dir, key);
  snprintf(so, sizeof(so), "%s/%s.so", dir, key);
  FILE *f = fopen(cu, "wb");
  if (f) {
    fwrite(cc->source, 1, cc->source_size, f);
    fclose(f);
  }
  snprintf(cmd, sizeof(cmd),
           "%s -std=c++17 -O1 -fPIC -shared -Wall -Wno-unused-function %s -I%s -include "
           "%s/tests/gpu/cuda_emu.h -x c++ %s -o %s",
           AZC_EMU_CXX, AZC_EMU_FLAGS, AZC_SOURCE_DIR, AZC_SOURCE_DIR, cu, so);
  if (!f || system(cmd) != 0) {
    fprintf(stderr, "host build of the bundle's CUDA source failed: %s\n", cmd);
    test_current_failed = 1;
  } else {
    ok = true;
    for (int i = 0; i < cc->n_images; i++) {
      char link[1400];
      snprintf(link, sizeof(link), "%s/%016llx.so", dir,
               (unsigned long long)azc_hash64(cc->images[i].data, cc->images[i].size));
      unlink(link);
      if (symlink(so, link) != 0) ok = false;
    }
  }
  azc_cuda_code_free(cc);
  azc_bundle_model_close(m);
  return ok;
}

static double cosine(const float *a, const float *b, int n) {
  double dot = 0, na = 0, nb = 0;
  for (int i = 0; i < n; i++)
    dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
  double c = dot / sqrt(na * nb);
  return c == c ? c : -1;
}

static int32_t argmax(const float *x, int n) {
  int32_t t = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[t]) t = i;
  return t;
}

/* prompt, then greedy steps; tokens[s] follows row s */
static azc_status_t run(azc_executor_t *ex, int V, const int32_t *forced, float *out,
                        int32_t *tokens) {
  int32_t toks[5] = {1, 40, 41, 300 % V, 7}, pos[5] = {0, 1, 2, 3, 4}, seq[5] = {0}, last = 4;
  azc_batch_t b = {5, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 1; s < STEPS; s++) {
    tokens[s - 1] = argmax(out + (size_t)(s - 1) * V, V);
    /* the reference's tokens are fed to every run, so rows stay comparable */
    int32_t t = forced ? forced[s - 1] : tokens[s - 1], p = 4 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)s * V));
  }
  tokens[STEPS - 1] = argmax(out + (size_t)(STEPS - 1) * V, V);
  return NULL;
}

static azc_executor_params_t params(int32_t ngl, bool set) {
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_threads = 1;
  ep.n_batch = 8;
  ep.gpu_layers_set = set;
  ep.n_gpu_layers = ngl;
  /* f32 rows everywhere (the CUDA executor's only kind; the CPU's default is
   * f16), so -ngl 0 and the eager reference see the GPU's cache values */
  ep.kv_type = AZC_KV_F32;
  return ep;
}

/* A tiny-<arch> shape as azc mkmodel writes it (frontend/synth.h), weights
 * Q8_0, the sliding window cut to 4 so that the 5-token prompt and the
 * decode steps reach past it */
static bool synth_model(const char *shape, char *path, size_t cap) {
  azc_synth_params_t p;
  azc_status_t st = azc_synth_preset(shape, &p);
  if (!st) {
    if (p.n_swa) p.n_swa = 4;
    p.wtype = AZC_DTYPE_Q8_0;
    snprintf(path, cap, "%s/%s-Q8_0.gguf", test_tmp_dir(), shape);
    st = azc_synth_write(&p, path, NULL, NULL);
  }
  if (!st) return true;
  fprintf(stderr, "%s: %s\n", shape, azc_status_message(st));
  azc_status_free(st);
  test_current_failed = 1;
  return false;
}

static void check_model(const char *rel, double min_cos) {
  char gguf[1024], bundle[1200], dir[1200], cmd[4096], out[16384];
  if (!strncmp(rel, "tiny-", 5)) {
    if (!synth_model(rel, gguf, sizeof(gguf))) return;
  } else if (!test_shared_path(gguf, sizeof(gguf), rel)) {
    TEST_SKIP("../shared/models is absent");
  }
  const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
  snprintf(bundle, sizeof(bundle), "%s/%s.bundle", test_tmp_dir(), base);
  snprintf(dir, sizeof(dir), "%s/%s.modules", test_tmp_dir(), base);
  snprintf(cmd, sizeof(cmd), "%s compile %s -o %s --gpu-arch sm_80,sm_90 -ngl 99 2>&1", azc_bin,
           gguf, bundle);
  int rc = run_cmd(cmd, out, sizeof(out));
  if (rc != 0 && strstr(out, "not built in")) TEST_SKIP("azc has no NVRTC: %s", out);
  ASSERT_MSG(rc == 0, "%s failed:\n%s", cmd, out);
  if (rc != 0 || !build_modules(bundle, dir)) return;
  setenv("AZC_LIBCUDA", AZC_STANDIN_LIB, 1);
  setenv("AZC_STANDIN_MODULES", dir, 1);

  /* the eager interpreter and the CPU executor: the references */
  azc_model_t *m;
  ASSERT_OK(azc_model_open(gguf, &m));
  const int V = m->hp.n_vocab;
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  azc_executor_params_t ep = params(0, true);
  float *eager = malloc(sizeof(float) * STEPS * (size_t)V);
  float *cpu = malloc(sizeof(float) * STEPS * (size_t)V);
  float *got = malloc(sizeof(float) * STEPS * (size_t)V);
  int32_t eager_tokens[STEPS], cpu_tokens[STEPS], tokens[STEPS];
  azc_executor_t *ex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  azc_status_t st = run(ex, V, NULL, eager, eager_tokens);
  azc_executor_destroy(ex);
  ASSERT_OK(st);
  azc_bundle_model_t *bm;
  ASSERT_OK(azc_bundle_model_open(bundle, AZC_BUNDLE_MODEL_VERIFY_NOW, &bm));
  const int32_t n_layer = bm->plan->n_layer;
  ASSERT_OK(azc_bundle_model_executor(bm, &ep, &ex));
  st = run(ex, V, eager_tokens, cpu, cpu_tokens);
  azc_executor_destroy(ex);
  ASSERT_OK(st);
  const int32_t ngls[] = {0, 1, n_layer / 2, n_layer, -2 /* the bundle's default (99) */};
  for (size_t i = 0; i < sizeof(ngls) / sizeof(ngls[0]) && !test_current_failed; i++) {
    uint64_t before[8] = {0}, after[8] = {0};
    if (standin_counters) standin_counters(before);
    azc_executor_params_t gp = params(ngls[i], ngls[i] >= 0);
    ASSERT_OK(azc_bundle_model_executor(bm, &gp, &ex));
    st = run(ex, V, eager_tokens, got, tokens);
    azc_executor_destroy(ex);
    if (standin_counters) standin_counters(after);
    ASSERT_OK(st);
    double worst_eager = 1, worst_cpu = 1;
    for (int s = 0; s < STEPS; s++) {
      worst_eager = fmin(worst_eager, cosine(got + (size_t)s * V, eager + (size_t)s * V, V));
      worst_cpu = fmin(worst_cpu, cosine(got + (size_t)s * V, cpu + (size_t)s * V, V));
    }
    int n = ngls[i] >= 0 ? ngls[i] : n_layer;
    ASSERT_MSG(!memcmp(tokens, cpu_tokens, sizeof(tokens)),
               "%s -ngl %d: greedy tokens differ from the CPU path's", base, n);
    ASSERT_MSG(worst_eager >= min_cos, "%s -ngl %d: cosine %.7f vs eager (>= %g)", base, n,
               worst_eager, min_cos);
    uint64_t d[8];
    for (int k = 0; k < 8; k++) d[k] = after[k] - before[k];
    ASSERT_MSG(d[3] == 0 && d[4] == 0, "%s -ngl %d: stand-in errors %llu, leaks %llu", base, n,
               (unsigned long long)d[3], (unsigned long long)d[4]);
    if (n > 0)
      ASSERT_MSG(d[1] >= STEPS - 1 && d[5] == 1, "%s -ngl %d: %llu graph launches, %llu cubins",
                 base, n, (unsigned long long)d[1], (unsigned long long)d[5]);
    else
      ASSERT_MSG(d[0] == 0, "%s -ngl 0: %llu launches", base, (unsigned long long)d[0]);
    fprintf(stderr,
            "  %s -ngl %d: cosine %.7f vs eager, %.7f vs cpu, tokens = cpu; %llu launches, %llu "
            "graph launches\n",
            base, n, worst_eager, worst_cpu, (unsigned long long)d[0], (unsigned long long)d[1]);
  }
  /* planted: the stand-in drops one launch of the second decode step (a
   * graph replay); the comparison must see it */
  if (!test_current_failed) {
    uint64_t before[8] = {0}, after[8] = {0};
    if (standin_counters) standin_counters(before);
    azc_executor_params_t gp = params(n_layer, true);
    ASSERT_OK(azc_bundle_model_executor(bm, &gp, &ex));
    st = run(ex, V, eager_tokens, got, tokens);
    azc_executor_destroy(ex);
    if (standin_counters) standin_counters(after);
    ASSERT_OK(st);
    /* launches of the prompt and one decode step, then one more */
    uint64_t per_decode = (after[2] - before[2]) / (STEPS - 1);
    char fault[64];
    snprintf(fault, sizeof(fault), "drop_launch:%llu",
             (unsigned long long)(after[0] - before[0] - per_decode * (STEPS - 2) + 1));
    setenv("AZC_STANDIN_FAULT", fault, 1);
    ASSERT_OK(azc_bundle_model_executor(bm, &gp, &ex));
    st = run(ex, V, eager_tokens, got, tokens);
    azc_executor_destroy(ex);
    unsetenv("AZC_STANDIN_FAULT");
    ASSERT_OK(st);
    double worst = 1;
    for (int s = 0; s < STEPS; s++)
      worst = fmin(worst, cosine(got + (size_t)s * V, eager + (size_t)s * V, V));
    ASSERT_MSG(worst < min_cos || memcmp(tokens, cpu_tokens, sizeof(tokens)),
               "%s: a dropped launch (%s) went unnoticed: cosine %.7f", base, fault, worst);
    fprintf(stderr, "  %s planted %s: cosine %.7f vs eager: caught\n", base, fault, worst);
  }
  azc_bundle_model_close(bm);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  free(eager);
  free(cpu);
  free(got);

  /* azc run: the placement, no leak or error at exit, and the fallback said once */
  char report[1400];
  snprintf(report, sizeof(report), "%s/standin-report.txt", test_tmp_dir());
  unlink(report);
  snprintf(cmd, sizeof(cmd),
           "AZC_LIBCUDA=%s AZC_STANDIN_MODULES=%s AZC_STANDIN_REPORT=%s %s run %s -p 'Once upon' "
           "-n 3 --temp 0 -ngl 1 -c 32 2>&1",
           AZC_STANDIN_LIB, dir, report, azc_bin, bundle);
  rc = run_cmd(cmd, out, sizeof(out));
  char want[64];
  snprintf(want, sizeof(want), "offload: 1/%d layers on cuda0", n_layer);
  ASSERT_MSG(rc == 0 && strstr(out, want) && strstr(out, "offload: cpu: weights"), "%s:\n%s", cmd,
             out);
  size_t rn = 0;
  char *rep = (char *)test_read_file(report, &rn);
  ASSERT_MSG(rep && strstr(rep, "\nerrors 0\n") && strstr(rep, "\nleaks 0\n") &&
                 !strstr(rep, "graph_launches 0\n") && strstr(rep, "live_allocations 0\n"),
             "azc run's stand-in report: %s", rep ? rep : "(none written)");
  free(rep);
  snprintf(cmd, sizeof(cmd),
           "AZC_LIBCUDA=/nonexistent/libcuda.so.1 %s run %s -p 'Once upon' -n 3 --temp 0 -c 32 "
           "2>&1",
           azc_bin, bundle);
  rc = run_cmd(cmd, out, sizeof(out));
  ASSERT_MSG(rc == 0 && count(out, "GPU offload off: no CUDA driver") == 1, "%s:\n%s", cmd, out);
}

static const char *model_arg = "models/stories260K.gguf";
static double min_cos_arg = 0.9999;
static void test_bundle(void) { check_model(model_arg, min_cos_arg); }

int main(int argc, char **argv) {
  void *h = dlopen(AZC_STANDIN_LIB, RTLD_NOW | RTLD_LOCAL);
  if (h) *(void **)&standin_counters = dlsym(h, "azc_cuda_standin_counters");
  if (getenv("AZC_TEST_AZC")) azc_bin = getenv("AZC_TEST_AZC");
  if (argc > 1) model_arg = argv[1];
  if (argc > 2) min_cos_arg = atof(argv[2]);
  RUN(test_bundle);
  return test_summary();
}
