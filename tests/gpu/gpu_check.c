/* azc_gpu_check: the helper of tests/gpu/check.sh (the device check, issue 9
 * item 5). It links the runtime, the frontend and the IR interpreter, never
 * LLVM, so it builds in the configuration without LLVM the GPU machine
 * builds.
 *
 *   azc_gpu_check compare MODEL.gguf MODEL.bundle [--min-cos C] [--prompt P] [--steps S]
 *                         [-ngl N] [-t THREADS]
 *     The eager interpreter runs a prompt of P tokens, then S - 1 greedy decode
 *     steps; the bundle's executor (its placement: the GPU) runs the same
 *     tokens (eager's greedy choices are fed to both, so every row stays
 *     comparable). Prints per model the worst cosine over the S logit rows,
 *     the largest |difference| relative to the largest |eager logit|, and how
 *     many greedy tokens agree; exits 1 when the worst cosine is below C
 *     (default 0.999) or a run fails.
 *
 *   azc_gpu_check modules MODEL.bundle DIR CXX SOURCE_DIR [FLAGS...]
 *     The libcuda stand-in's module folder (tests/gpu/cuda_standin.c) for a
 *     bundle: the bundle's CUDA source built for the host with CXX and
 *     tests/gpu/cuda_emu.h as DIR/<module key>.so, linked as
 *     DIR/<XXH3-64 of each image>.so. Only for the stand-in (--standin). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/model.h"
#include "ir/interp.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/cuda_code.h"
#include "runtime/model_bundle.h"

static int fail(azc_status_t st, const char *what) {
  fprintf(stderr, "azc_gpu_check: %s: %s\n", what, azc_status_message(st));
  azc_status_free(st);
  return 1;
}

static double cosine(const float *a, const float *b, int n) {
  double dot = 0, na = 0, nb = 0;
  for (int i = 0; i < n; i++)
    dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
  double c = dot / sqrt(na * nb);
  return c == c ? c : -1; /* NaN (a row of NaN or zeros) fails */
}

static int32_t argmax(const float *x, int n) {
  int32_t t = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[t]) t = i;
  return t;
}

/* a prompt of P tokens, then S - 1 one-token steps; row s of out follows
 * step s. forced: the tokens fed after each row (NULL: this run's own greedy
 * choices, written to tokens). */
static azc_status_t run(azc_executor_t *ex, int V, int P, int S, const int32_t *forced, float *out,
                        int32_t *tokens, double *ms) {
  int32_t *tok = malloc(sizeof(int32_t) * (size_t)P), *pos = malloc(sizeof(int32_t) * (size_t)P);
  int32_t *seq = calloc((size_t)P, sizeof(int32_t)), last = P - 1;
  azc_status_t st = tok && pos && seq ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "prompt");
  for (int i = 0; !st && i < P; i++) tok[i] = (int32_t)((i * 7919 + 1) % V), pos[i] = i;
  double t0 = azc_time_ms();
  if (!st) {
    azc_batch_t b = {P, tok, pos, seq, 1, &last};
    st = azc_executor_forward(ex, &b, out);
  }
  for (int s = 1; !st && s < S; s++) {
    tokens[s - 1] = argmax(out + (size_t)(s - 1) * V, V);
    int32_t t = forced ? forced[s - 1] : tokens[s - 1], p = P - 1 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    st = azc_executor_forward(ex, &one, out + (size_t)s * V);
  }
  if (!st) tokens[S - 1] = argmax(out + (size_t)(S - 1) * V, V);
  *ms = azc_time_ms() - t0;
  free(tok), free(pos), free(seq);
  return st;
}

static int cmd_compare(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: azc_gpu_check compare MODEL.gguf MODEL.bundle [--min-cos C] "
                    "[--prompt P] [--steps S] [-ngl N] [-t THREADS]\n");
    return 2;
  }
  const char *gguf = argv[1], *bundle = argv[2];
  double min_cos = 0.999;
  int P = 16, S = 8, ngl = -2, threads = 0;
  for (int i = 3; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "azc_gpu_check: %s needs a value\n", argv[i]);
      return 2;
    }
    if (!strcmp(argv[i], "--min-cos")) min_cos = atof(v);
    else if (!strcmp(argv[i], "--prompt")) P = atoi(v);
    else if (!strcmp(argv[i], "--steps")) S = atoi(v);
    else if (!strcmp(argv[i], "-ngl")) ngl = atoi(v);
    else if (!strcmp(argv[i], "-t")) threads = atoi(v);
    else {
      fprintf(stderr, "azc_gpu_check: unknown option %s\n", argv[i]);
      return 2;
    }
    i++;
  }
  if (P < 1 || P > 512 || S < 1 || S > 256) {
    fprintf(stderr, "azc_gpu_check: --prompt 1..512, --steps 1..256\n");
    return 2;
  }
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_status_t st = azc_model_open(gguf, &m);
  if (!st) st = azc_model_lower(m, &g);
  if (st) return fail(st, gguf);
  const int V = m->hp.n_vocab;
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = P + S + 8;
  ep.n_batch = P;
  ep.n_threads = threads;
  float *eager = malloc(sizeof(float) * (size_t)S * (size_t)V);
  float *got = malloc(sizeof(float) * (size_t)S * (size_t)V);
  int32_t *eager_tokens = malloc(sizeof(int32_t) * (size_t)S);
  int32_t *tokens = malloc(sizeof(int32_t) * (size_t)S);
  if (!eager || !got || !eager_tokens || !tokens) return fail(AZC_ERR(AZC_OUT_OF_MEMORY, "logits"), gguf);
  azc_executor_t *ex = NULL;
  double eager_ms = 0, gpu_ms = 0, open_ms = 0;
  st = azc_ir_interp_create(g, &ep, &ex);
  if (!st) st = run(ex, V, P, S, NULL, eager, eager_tokens, &eager_ms);
  azc_executor_destroy(ex);
  ex = NULL;
  if (st) return fail(st, "eager interpreter");
  double t0 = azc_time_ms();
  azc_bundle_model_t *bm = NULL;
  st = azc_bundle_model_open(bundle, AZC_BUNDLE_MODEL_VERIFY_NOW, &bm);
  azc_executor_params_t gp = ep;
  gp.gpu_layers_set = ngl >= -1;
  gp.n_gpu_layers = ngl >= -1 ? ngl : 0;
  if (!st) st = azc_bundle_model_executor(bm, &gp, &ex);
  open_ms = azc_time_ms() - t0;
  if (!st) st = run(ex, V, P, S, eager_tokens, got, tokens, &gpu_ms);
  const char *exec_name = ex ? ex->ops->name : "";
  if (st) return fail(st, bundle);
  double worst = 1, worst_rel = 0;
  int agree = 0, worst_row = 0;
  for (int s = 0; s < S; s++) {
    const float *a = got + (size_t)s * V, *e = eager + (size_t)s * V;
    double c = cosine(a, e, V), maxe = 0, maxd = 0;
    for (int i = 0; i < V; i++) {
      maxe = fmax(maxe, fabs(e[i]));
      maxd = fmax(maxd, fabs((double)a[i] - e[i]));
    }
    if (c < worst) worst = c, worst_row = s;
    worst_rel = fmax(worst_rel, maxe > 0 ? maxd / maxe : maxd);
    agree += tokens[s] == eager_tokens[s];
  }
  bool ok = worst >= min_cos;
  printf("%s: %s executor vs eager: cosine %.7f (worst row %d of %d: prompt %d + %d decode), max "
         "|diff| %.2e of max |logit|, greedy tokens agree %d/%d; bundle open %.1f ms, eager %.1f "
         "ms, bundle %.1f ms: %s\n",
         bundle, exec_name, worst, worst_row, S, P, S - 1, worst_rel, agree, S, open_ms, eager_ms,
         gpu_ms, ok ? "ok" : "MISMATCH");
  if (!ok) fprintf(stderr, "azc_gpu_check: %s: cosine %.7f < %g\n", bundle, worst, min_cos);
  azc_executor_destroy(ex);
  azc_bundle_model_close(bm);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  free(eager), free(got), free(eager_tokens), free(tokens);
  return ok ? 0 : 1;
}

static int cmd_modules(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: azc_gpu_check modules MODEL.bundle DIR CXX SOURCE_DIR [FLAGS...]\n");
    return 2;
  }
  const char *bundle = argv[1], *dir = argv[2], *cxx = argv[3], *src = argv[4];
  azc_bundle_model_t *m = NULL;
  azc_cuda_code_t *cc = NULL;
  azc_status_t st = azc_bundle_model_open(bundle, AZC_BUNDLE_MODEL_VERIFY_NOW, &m);
  if (!st)
    st = m->device_code[AZC_DEVICE_CUDA]
             ? azc_cuda_code_read(m->device_code[AZC_DEVICE_CUDA],
                                  (size_t)m->device_code_size[AZC_DEVICE_CUDA], &cc)
             : AZC_ERR(AZC_NOT_FOUND, "%s has no cuda.code section", bundle);
  if (st) {
    azc_bundle_model_close(m);
    return fail(st, bundle);
  }
  mkdir(dir, 0755);
  char key[33];
  azc_hash128_t k;
  memcpy(&k, cc->header.module_key, sizeof(k));
  azc_hash128_hex(k, key);
  size_t cap = strlen(dir) + 64, cmd_cap = 4 * cap + strlen(cxx) + 2 * strlen(src) + 512;
  for (int i = 5; i < argc; i++) cmd_cap += strlen(argv[i]) + 1;
  char *cu = malloc(cap), *so = malloc(cap), *link = malloc(cap), *cmd = malloc(cmd_cap);
  int rc = 1;
  FILE *f = cu && so && link && cmd ? (snprintf(cu, cap, "%s/%s.cu", dir, key), fopen(cu, "wb"))
                                    : NULL;
  if (f) {
    bool wrote = fwrite(cc->source, 1, cc->source_size, f) == cc->source_size;
    if (fclose(f) == 0 && wrote) {
      snprintf(so, cap, "%s/%s.so", dir, key);
      int n = snprintf(cmd, cmd_cap,
                       "%s -std=c++17 -O1 -fPIC -shared -Wall -Wno-unused-function -I%s -include "
                       "%s/tests/gpu/cuda_emu.h",
                       cxx, src, src);
      for (int i = 5; i < argc; i++) n += snprintf(cmd + n, cmd_cap - (size_t)n, " %s", argv[i]);
      snprintf(cmd + n, cmd_cap - (size_t)n, " -x c++ %s -o %s", cu, so);
      if (system(cmd) != 0) {
        fprintf(stderr, "azc_gpu_check: the host build of the bundle's CUDA source failed: %s\n",
                cmd);
      } else {
        rc = 0;
        for (int i = 0; i < cc->n_images; i++) {
          snprintf(link, cap, "%s/%016llx.so", dir,
                   (unsigned long long)azc_hash64(cc->images[i].data, cc->images[i].size));
          unlink(link);
          if (symlink(strrchr(so, '/') + 1, link) != 0) { /* relative: next to it */
            fprintf(stderr, "azc_gpu_check: cannot link %s\n", link);
            rc = 1;
          }
        }
        printf("%s: %d images -> %s\n", bundle, cc->n_images, so);
      }
    }
  } else {
    fprintf(stderr, "azc_gpu_check: cannot write the module source under %s\n", dir);
  }
  free(cu), free(so), free(link), free(cmd);
  azc_cuda_code_free(cc);
  azc_bundle_model_close(m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "compare")) return cmd_compare(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "modules")) return cmd_modules(argc - 1, argv + 1);
  fprintf(stderr, "usage: azc_gpu_check compare MODEL.gguf MODEL.bundle [options]\n"
                  "       azc_gpu_check modules MODEL.bundle DIR CXX SOURCE_DIR [FLAGS...]\n");
  return 2;
}
