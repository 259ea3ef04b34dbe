/* The compile side of the CUDA back end, through the azc binary (issue 9):
 *
 *   model NAME  (a shared model, or SHAPE:TYPE written with azc mkmodel)
 *               azc compile NAME --gpu-arch sm_80,sm_90 -ngl 99 succeeds
 *               (NVRTC's warnings are errors: success means none), the
 *               bundle's cuda.code holds a cubin for sm_80 and sm_90 and the
 *               PTX of sm_80, ptxas assembles that PTX for sm_80 and sm_90,
 *               every kernel step runs on CUDA with one copy (the logits),
 *               and azc inspect lists the CUDA code and the placement
 *   placement   -ngl 1 and half the layers put exactly one copy at the layer
 *               boundary, the same steps the runtime's azc_cuda_code_place
 *               makes from the -ngl 99 bundle; -ngl 0 and auto; a plain
 *               compile has no CUDA code; a warm recompile is byte-identical
 *   modelfile   PARAMETER num_gpu 99 in a Modelfile sets the same default and
 *               makes azc compile emit CUDA code
 *
 * In a build without NVRTC every case instead checks that asking for GPU
 * code fails with one line saying GPU code generation is not built in.
 * Cases skip, saying why, only when ../shared or its model is absent. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/cuda_code.h"
#include "runtime/plan.h"
#include "tests/test.h"

#ifndef AZC_PTXAS
#define AZC_PTXAS ""
#endif

static const char *case_model; /* argv[2] */

/* Runs cmd (stdout and stderr together into *out, malloc'd); its exit status. */
static int run(const char *cmd, char **out) {
  char full[16384];
  snprintf(full, sizeof(full), "%s 2>&1", cmd);
  FILE *f = popen(full, "r");
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!f || !buf) {
    if (f) pclose(f);
    free(buf);
    *out = NULL;
    return -1;
  }
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 4096) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) break;
      buf = nb;
    }
  }
  buf[n] = 0;
  int rc = pclose(f);
  *out = buf;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const char *azc(void) {
  const char *b = getenv("AZC_BIN");
  return b ? b : "azc";
}

/* azc compile MODEL -o OUT ARGS; its exit status and output */
static int compile(const char *model, const char *out, const char *args, char **log) {
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "'%s' compile '%s' -o '%s' -b 16 -c 64 %s", azc(), model, out, args);
  return run(cmd, log);
}

typedef struct gpu_bundle {
  azc_bundle_t *b;
  azc_plan_t *plan;
  azc_cuda_code_t *cc; /* NULL: no cuda.code */
  azc_bundle_defaults_t def;
} gpu_bundle_t;

static void gpu_bundle_close(gpu_bundle_t *g) {
  azc_cuda_code_free(g->cc);
  azc_plan_free(g->plan);
  azc_bundle_close(g->b);
  memset(g, 0, sizeof(*g));
}

static azc_status_t gpu_bundle_open(const char *path, gpu_bundle_t *g) {
  memset(g, 0, sizeof(*g));
  const void *d;
  uint64_t n;
  AZC_RETURN_IF_ERROR(azc_bundle_open(path, 0, &g->b));
  azc_status_t st = azc_bundle_section(g->b, AZC_SECTION_PLAN, &d, &n);
  if (!st) st = azc_plan_deserialize(d, (size_t)n, &g->plan);
  if (!st) st = azc_bundle_section(g->b, AZC_SECTION_DEFAULTS, &d, &n);
  if (!st && n == sizeof(g->def)) memcpy(&g->def, d, sizeof(g->def));
  if (!st && azc_bundle_has_section(g->b, AZC_SECTION_CUDA_CODE)) {
    st = azc_bundle_section(g->b, AZC_SECTION_CUDA_CODE, &d, &n);
    if (!st) st = azc_cuda_code_read(d, (size_t)n, &g->cc);
    if (!st) st = azc_cuda_code_check_plan(g->cc, g->plan);
  }
  if (st) gpu_bundle_close(g);
  return st;
}

static int count_copies(const azc_plan_t *p) {
  int n = 0;
  for (int32_t i = 0; i < p->n_steps; i++) n += p->steps[i].op == AZC_STEP_COPY;
  return n;
}

/* A shared model by file name, or SHAPE:TYPE (tiny-gemma3:q4_k), written
 * here with azc mkmodel; NULL when the shared model is absent */
static const char *model_path(char *buf, size_t cap, const char *name) {
  const char *colon = strchr(name, ':');
  if (!colon) {
    char rel[512];
    snprintf(rel, sizeof(rel), "models/%s", name);
    return test_shared_path(buf, cap, rel);
  }
  char cmd[4096], *log = NULL;
  snprintf(buf, cap, "%s/%.*s-%s.gguf", test_tmp_dir(), (int)(colon - name), name, colon + 1);
  snprintf(cmd, sizeof(cmd), "'%s' mkmodel --shape '%.*s' --type '%s' -o '%s'", azc(),
           (int)(colon - name), name, colon + 1, buf);
  int rc = run(cmd, &log);
  if (rc != 0) {
    fprintf(stderr, "%s failed: %s\n", cmd, log ? log : "");
    test_current_failed = 1;
  }
  free(log);
  return rc == 0 ? buf : NULL;
}

/* Without NVRTC: the one clear line, for --gpu-arch and for -ngl. */
static void expect_not_built_in(const char *model) {
  char out[1024];
  snprintf(out, sizeof(out), "%s/x.bundle", test_tmp_dir());
  const char *ask[] = {"--gpu-arch sm_80,sm_90", "-ngl 1", "--gpu-layers 99", "-ngl auto"};
  for (int i = 0; i < 4; i++) {
    char *log;
    int rc = compile(model, out, ask[i], &log);
    ASSERT_MSG(rc != 0, "azc compile %s succeeded without NVRTC", ask[i]);
    ASSERT_MSG(log && strstr(log, "GPU code generation is not built in"), "%s: %s", ask[i],
               log ? log : "");
    int lines = 0;
    for (const char *l = log; (l = strstr(l, "azc: error")); l++) lines++;
    ASSERT_MSG(lines == 1, "%s: %d error lines: %s", ask[i], lines, log);
    free(log);
  }
}

static void test_model(void) {
  char model[1024];
  if (!model_path(model, sizeof(model), case_model)) {
    if (test_current_failed) return; /* mkmodel failed */
    TEST_SKIP("../shared/models/%s is absent", case_model);
  }
  if (!AZC_HAVE_NVRTC) {
    expect_not_built_in(model);
    return;
  }
  char out[1024], cmd[8192];
  snprintf(out, sizeof(out), "%s/gpu.bundle", test_tmp_dir());
  char *log;
  int rc = compile(model, out, "--gpu-arch sm_80,sm_90 -ngl 99", &log);
  ASSERT_MSG(rc == 0, "azc compile --gpu-arch sm_80,sm_90 -ngl 99 %s failed: %s", case_model,
             log ? log : "");
  ASSERT(strstr(log, "CUDA module:") && strstr(log, "azc: nvrtc"));
  free(log);
  gpu_bundle_t g;
  ASSERT_OK(gpu_bundle_open(out, &g));
  ASSERT_MSG(g.cc != NULL, "%s: no cuda.code section", out);
  const azc_cuda_code_t *cc = g.cc;
  ASSERT_EQ_INT(cc->n_images, 3);
  ASSERT_EQ_INT(cc->images[0].sm, 80);
  ASSERT_EQ_INT(cc->images[1].sm, 90);
  for (int i = 0; i < 2; i++)
    ASSERT(!cc->images[i].is_ptx && !memcmp(cc->images[i].data, "\177ELF", 4));
  ASSERT(cc->images[2].is_ptx && cc->images[2].sm == 80);
  ASSERT_EQ_INT(g.def.n_gpu_layers, 99);
  /* every kernel step on CUDA, its functions in the module source; one copy: the logits */
  for (int32_t i = 0; i < g.plan->n_steps; i++) {
    const azc_plan_step_t *s = &g.plan->steps[i];
    if (s->op == AZC_STEP_COPY) continue;
    ASSERT_EQ_INT(s->device, AZC_DEVICE_CUDA);
  }
  for (int32_t k = 0; k < cc->n_kernels; k++)
    for (int32_t l = 0; l < cc->kernels[k].info.n_launch; l++) {
      char fn[80];
      snprintf(fn, sizeof(fn), "void %s%s(", cc->kernels[k].symbol,
               cc->kernels[k].info.launch[l].suffix);
      ASSERT_MSG(strstr(cc->source, fn), "%s: '%s' is not in the module source", case_model, fn);
    }
  ASSERT_EQ_INT(count_copies(g.plan), 1);
  ASSERT_EQ_INT(g.plan->steps[g.plan->n_steps - 1].op, AZC_STEP_COPY);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(g.plan, cc), g.plan->n_layer);
  /* ptxas assembles the PTX for sm_80 and sm_90 */
  char ptx[1024];
  snprintf(ptx, sizeof(ptx), "%s/module.ptx", test_tmp_dir());
  FILE *f = fopen(ptx, "wb");
  ASSERT(f != NULL);
  size_t len = strlen((const char *)cc->images[2].data);
  ASSERT(fwrite(cc->images[2].data, 1, len, f) == len);
  ASSERT(fclose(f) == 0);
  for (int sm = 80; sm <= 90; sm += 10) {
    snprintf(cmd, sizeof(cmd), "'%s' -arch=sm_%d '%s' -o '%s.sm_%d.cubin'", AZC_PTXAS, sm, ptx, ptx,
             sm);
    rc = run(cmd, &log);
    ASSERT_MSG(rc == 0 && log && !log[0], "ptxas sm_%d (exit %d): %s", sm, rc, log ? log : "");
    free(log);
  }
  /* azc inspect lists the CUDA code and the placement */
  snprintf(cmd, sizeof(cmd), "'%s' inspect '%s'", azc(), out);
  rc = run(cmd, &log);
  ASSERT_MSG(rc == 0, "azc inspect: %s", log ? log : "");
  char want[256];
  snprintf(want, sizeof(want), "cuda code: %d kernels, CUDA C source %zu bytes", cc->n_kernels,
           cc->source_size);
  const char *lines[] = {
      want,      "sm_80 cubin", "sm_90 cubin", "sm_80 PTX", "placement (default -ngl 99)",
      "on cuda", "cuda x"};
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    ASSERT_MSG(strstr(log, lines[i]), "azc inspect lacks '%s':\n%s", lines[i], log);
  snprintf(want, sizeof(want), "layers 0-%d: cuda\n", g.plan->n_layer - 1);
  ASSERT_MSG(strstr(log, want), "azc inspect lacks '%s':\n%s", want, log);
  free(log);
  gpu_bundle_close(&g);
}

/* the -ngl N bundle: layers [0, N) on CUDA, one copy down at the boundary */
static void check_boundary(const gpu_bundle_t *g, int32_t N) {
  const azc_plan_t *p = g->plan;
  ASSERT_EQ_INT(count_copies(p), 1);
  int32_t j = 0, copy_at = -1, first_cpu_group = -1;
  for (int32_t i = 0; i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op == AZC_STEP_COPY) {
      copy_at = i;
      ASSERT_EQ_INT(s->from_device, AZC_DEVICE_CUDA);
      ASSERT_EQ_INT(s->device, AZC_DEVICE_CPU);
      continue;
    }
    int32_t grp = g->cc->groups[j++];
    ASSERT_EQ_INT(s->device, grp < N ? AZC_DEVICE_CUDA : AZC_DEVICE_CPU);
    ASSERT_EQ_INT(p->kernels[s->kernel].device, s->device);
    ASSERT_MSG((copy_at < 0) == (grp < N), "step %d of layer %d lies on the wrong side of the copy",
               i, grp);
    if (grp >= N && first_cpu_group < 0) {
      first_cpu_group = grp;
      ASSERT_EQ_INT(copy_at, i - 1); /* the copy comes right before layer N's first step */
      bool reads = false;
      for (int k = 0; k < s->n_in; k++)
        reads |= s->in[k].kind == AZC_VAL_ARENA && s->in[k].offset == p->steps[i - 1].out.offset;
      ASSERT_MSG(reads, "the first CPU step does not read the copied value");
    }
  }
  ASSERT_EQ_INT(first_cpu_group, N);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(p, g->cc), N);
}

static bool same_steps(const azc_plan_t *a, const azc_plan_t *b) {
  if (a->n_steps != b->n_steps) return false;
  for (int32_t i = 0; i < a->n_steps; i++) {
    const azc_plan_step_t *x = &a->steps[i], *y = &b->steps[i];
    if (x->op != y->op || x->device != y->device || x->from_device != y->from_device ||
        x->kernel != y->kernel || x->out.offset != y->out.offset || x->n_in != y->n_in)
      return false;
  }
  return true;
}

static bool same_file(const char *a, const char *b) {
  char cmd[8192], *log;
  snprintf(cmd, sizeof(cmd), "cmp '%s' '%s'", a, b);
  int rc = run(cmd, &log);
  free(log);
  return rc == 0;
}

static void test_placement(void) {
  char model[1024];
  if (!model_path(model, sizeof(model), case_model))
    TEST_SKIP("../shared/models/%s is absent", case_model);
  if (!AZC_HAVE_NVRTC) {
    expect_not_built_in(model);
    return;
  }
  const char *tmp = test_tmp_dir();
  char all[1024], out[1024], again[1024];
  snprintf(all, sizeof(all), "%s/all.bundle", tmp);
  char *log;
  int rc = compile(model, all, "-ngl 99", &log); /* --gpu-arch defaults to sm_80,sm_90 */
  ASSERT_MSG(rc == 0, "-ngl 99: %s", log ? log : "");
  free(log);
  gpu_bundle_t g99, g;
  ASSERT_OK(gpu_bundle_open(all, &g99));
  ASSERT(g99.cc != NULL);
  ASSERT_EQ_INT(g99.cc->n_images, 3);
  const int32_t n_layer = g99.plan->n_layer;
  ASSERT_MSG(n_layer >= 2, "%s has %d layers: no boundary to check", case_model, n_layer);
  const int32_t counts[2] = {1, n_layer / 2};
  for (int c = 0; c < 2; c++) {
    char args[64];
    snprintf(args, sizeof(args), "--gpu-arch sm_80,sm_90 --gpu-layers %d", counts[c]);
    snprintf(out, sizeof(out), "%s/ngl%d.bundle", tmp, counts[c]);
    rc = compile(model, out, args, &log);
    ASSERT_MSG(rc == 0, "%s: %s", args, log ? log : "");
    char want[128];
    snprintf(want, sizeof(want), "placement: layers [0, %d) on cuda, [%d, %d) on cpu", counts[c],
             counts[c], n_layer);
    ASSERT_MSG(strstr(log, want), "%s: the compile does not print '%s':\n%s", args, want, log);
    free(log);
    ASSERT_OK(gpu_bundle_open(out, &g));
    ASSERT_EQ_INT(g.def.n_gpu_layers, counts[c]);
    check_boundary(&g, counts[c]);
    /* the runtime's re-placement of the -ngl 99 bundle gives the same steps */
    azc_plan_t *q;
    ASSERT_OK(azc_cuda_code_place(g99.plan, g99.cc, counts[c], &q));
    ASSERT_MSG(same_steps(q, g.plan), "azc_cuda_code_place(-ngl %d) differs from the compile's",
               counts[c]);
    azc_plan_free(q);
    gpu_bundle_close(&g);
  }
  /* a warm recompile (every kernel and the module from the cache) is byte-identical */
  snprintf(out, sizeof(out), "%s/ngl1.bundle", tmp);
  snprintf(again, sizeof(again), "%s/ngl1-again.bundle", tmp);
  rc = compile(model, again, "-ngl 1", &log);
  ASSERT_MSG(rc == 0 && strstr(log, "from the cache"), "warm -ngl 1: %s", log ? log : "");
  free(log);
  ASSERT_MSG(same_file(out, again), "%s and %s differ", out, again);
  /* -ngl 0 with --gpu-arch: CUDA code, every step on the CPU, no copies */
  snprintf(out, sizeof(out), "%s/ngl0.bundle", tmp);
  rc = compile(model, out, "--gpu-arch sm_80 -ngl 0", &log);
  ASSERT_MSG(rc == 0, "--gpu-arch sm_80 -ngl 0: %s", log ? log : "");
  free(log);
  ASSERT_OK(gpu_bundle_open(out, &g));
  ASSERT(g.cc && g.cc->n_images == 2 && g.cc->images[0].sm == 80 && g.cc->images[1].is_ptx);
  ASSERT_EQ_INT(count_copies(g.plan), 0);
  ASSERT_EQ_INT(azc_plan_devices(g.plan), 1u << AZC_DEVICE_CPU);
  gpu_bundle_close(&g);
  /* -ngl auto: stored as -1, every layer placed on the GPU by default */
  snprintf(out, sizeof(out), "%s/auto.bundle", tmp);
  rc = compile(model, out, "-ngl auto", &log);
  ASSERT_MSG(rc == 0, "-ngl auto: %s", log ? log : "");
  free(log);
  ASSERT_OK(gpu_bundle_open(out, &g));
  ASSERT_EQ_INT(g.def.n_gpu_layers, -1);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(g.plan, g.cc), n_layer);
  gpu_bundle_close(&g);
  /* a plain compile: no CUDA code, no NVRTC */
  snprintf(out, sizeof(out), "%s/cpu.bundle", tmp);
  rc = compile(model, out, "", &log);
  ASSERT_MSG(rc == 0 && !strstr(log, "nvrtc") && !strstr(log, "CUDA"), "plain compile: %s",
             log ? log : "");
  free(log);
  ASSERT_OK(gpu_bundle_open(out, &g));
  ASSERT(g.cc == NULL);
  for (int32_t k = 0; k < g.plan->n_kernels; k++)
    ASSERT_EQ_INT(g.plan->kernels[k].device, AZC_DEVICE_CPU);
  gpu_bundle_close(&g);
  gpu_bundle_close(&g99);
}

static void test_modelfile(void) {
  char model[1024];
  if (!model_path(model, sizeof(model), case_model))
    TEST_SKIP("../shared/models/%s is absent", case_model);
  const char *tmp = test_tmp_dir();
  char mf[1024], out[1024], cmd[8192];
  snprintf(mf, sizeof(mf), "%s/Modelfile", tmp);
  snprintf(out, sizeof(out), "%s/mf.bundle", tmp);
  FILE *f = fopen(mf, "w");
  ASSERT(f != NULL);
  fprintf(f, "FROM %s\nPARAMETER num_gpu 99\nPARAMETER num_batch 16\n", model);
  ASSERT(fclose(f) == 0);
  snprintf(cmd, sizeof(cmd), "'%s' compile '%s' -o '%s'", azc(), mf, out);
  char *log;
  int rc = run(cmd, &log);
  ASSERT_MSG(rc == 0, "azc compile Modelfile (num_gpu 99): %s", log ? log : "");
  if (!AZC_HAVE_NVRTC) {
    /* a Modelfile's num_gpu is kept as the default; the bundle is CPU-only */
    ASSERT_MSG(log && strstr(log, "azc: warning: num_gpu 99: GPU code generation is not built in"),
               "%s", log ? log : "");
    free(log);
    gpu_bundle_t g;
    ASSERT_OK(gpu_bundle_open(out, &g));
    ASSERT_MSG(g.cc == NULL, "a CUDA section without NVRTC");
    ASSERT_EQ_INT(g.def.n_gpu_layers, 99);
    gpu_bundle_close(&g);
    return;
  }
  free(log);
  gpu_bundle_t g;
  ASSERT_OK(gpu_bundle_open(out, &g));
  ASSERT_MSG(g.cc != NULL, "num_gpu 99 wrote no CUDA code");
  ASSERT_EQ_INT(g.def.n_gpu_layers, 99);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(g.plan, g.cc), g.plan->n_layer);
  gpu_bundle_close(&g);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_gpu_compile (model | placement | modelfile) MODEL.gguf\n");
    return 2;
  }
  case_model = argv[2];
  if (AZC_HAVE_NVRTC && !AZC_PTXAS[0]) {
    fprintf(stderr, "SKIPPED: NVRTC is built in but ptxas was not found at configure time\n");
    return 77;
  }
  if (!strcmp(argv[1], "model"))
    RUN(test_model);
  else if (!strcmp(argv[1], "placement"))
    RUN(test_placement);
  else if (!strcmp(argv[1], "modelfile"))
    RUN(test_modelfile);
  else
    return 2;
  return test_summary();
}
