/* The CUDA runtime (runtime/cuda_driver, runtime/cuda_exec) end to end on
 * the CPU: the driver API is tests/gpu's stand-in (libazc_cuda_standin.so,
 * loaded through AZC_LIBCUDA), which runs the module's own generated CUDA
 * source built for the host with cuda_emu.h.
 *
 * In-process: a 4-layer llama (Q8_0) is compiled (CPU kernels), its CUDA
 * module generated and built for the host, and registered with the
 * stand-in under three images (a cubin for sm_80 and sm_90, the PTX of
 * sm_80; here stand-in images keyed by the module text, since NVRTC takes
 * minutes per model on these machines; the bundle test uses NVRTC's). The
 * plan is placed with layers [0, N) on the GPU (every kernel gets a CUDA
 * twin, copy steps where activations cross) for N = 0, 1, 2 and 4, and each
 * run must give the CPU executor's greedy tokens and logits within the
 * compiled-vs-eager tolerance, with decode steps replayed as CUDA graphs,
 * no stand-in error and no leaked device memory. Also: the arch picks the
 * image (sm_86 -> the sm_80 cubin, sm_120 -> the PTX), no driver / no device
 * / an old driver / an arch without code fall back to the CPU saying so
 * once, GPU memory short places fewer layers, -ngl auto places all that
 * fit, an image with no host build is refused. Planted errors must fail:
 * the stand-in dropping one launch, and a copy step moving half its rows. */
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/synth.h"
#include "runtime/base/hash.h"
#include "runtime/cuda_exec.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/test.h"

#ifndef AZC_STANDIN_LIB
#error "AZC_STANDIN_LIB must be defined by the build"
#endif

enum { N_LAYER = 4, STEPS = 5 };

/* ASSERT_OK for functions that return a bool */
#define ASSERT_OK_RET(expr, ret)                                                                   \
  do {                                                                                             \
    azc_status_t st_ = (expr);                                                                     \
    if (st_) {                                                                                     \
      fprintf(stderr, "%s:%d: %s: %s returned: %s\n", __FILE__, __LINE__, test_current_name,       \
              #expr, azc_status_message(st_));                                                     \
      azc_status_free(st_);                                                                        \
      test_current_failed = 1;                                                                     \
      return ret;                                                                                  \
    }                                                                                              \
  } while (0)

typedef struct fixture {
  azc_model_t *m;
  compiled_model_t *c;
  gpu_module_t *g;
  int32_t n_kernels; /* CPU kernels of the compiled plan */
  int32_t *group;    /* per plan step: the layer its placement follows */
  char **prefix;     /* per placed kernel */
  azc_cuda_kernel_info_t *info;
  azk_fn_t *cpu_kernels;
  azc_cuda_image_ref_t images[3];
  uint8_t cubin[2][64];
  char modules[1024];
  float *ref; /* CPU executor logits, STEPS rows */
  int32_t ref_tokens[STEPS];
  int V;
} fixture_t;

static fixture_t F;
static void (*standin_counters)(uint64_t out[8]);

/* prompt of 6 tokens then greedy decode steps; logits of every step */
static azc_status_t run(azc_executor_t *ex, float *out, int32_t *tokens) {
  int32_t toks[6] = {1, 40, 41, 300, 7, 8}, pos[6] = {0, 1, 2, 3, 4, 5}, seq[6] = {0};
  int32_t last = 5;
  azc_batch_t b = {6, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 1; s < STEPS; s++) {
    const float *prev = out + (size_t)(s - 1) * F.V;
    int32_t t = 0;
    for (int i = 1; i < F.V; i++)
      if (prev[i] > prev[t]) t = i;
    tokens[s - 1] = t;
    int32_t p = 5 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)s * F.V));
  }
  const float *lastl = out + (size_t)(STEPS - 1) * F.V;
  int32_t t = 0;
  for (int i = 1; i < F.V; i++)
    if (lastl[i] > lastl[t]) t = i;
  tokens[STEPS - 1] = t;
  return NULL;
}

static double worst_cosine(const float *got, const float *ref) {
  double worst = 1;
  for (int r = 0; r < STEPS; r++) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < F.V; i++) {
      const double a = got[(size_t)r * F.V + i], b = ref[(size_t)r * F.V + i];
      dot += a * b, na += a * a, nb += b * b;
    }
    double c = dot / sqrt(na * nb);
    if (!(c == c)) c = -1;
    if (c < worst) worst = c;
  }
  return worst;
}

/* ---- placement: every kernel gets a CUDA twin; layers [0, n) use them ---- */
typedef struct place_ctx {
  int32_t halve_first_copy; /* planted: the first copy step moves half its rows */
} place_ctx_t;

static azc_status_t place(void *ctx, int32_t n, azc_plan_t **out) {
  const place_ctx_t *pc = ctx;
  const azc_plan_t *p = F.c->compiled->plan;
  azc_plan_t *q;
  AZC_RETURN_IF_ERROR(azc_plan_alloc(p->n_layer, p->n_steps, 2 * p->n_kernels, p->n_weights, &q));
  uint8_t *blob;
  size_t size;
  azc_plan_t *copy;
  AZC_RETURN_IF_ERROR(azc_plan_serialize(p, &blob, &size));
  azc_status_t st = azc_plan_deserialize(blob, size, &copy);
  free(blob);
  if (st) {
    azc_plan_free(q);
    return st;
  }
  azc_plan_t tmp = *q;
  *q = *copy;
  q->kernels = tmp.kernels;
  q->n_kernels = tmp.n_kernels;
  memcpy(q->kernels, copy->kernels, sizeof(azc_plan_kernel_t) * (size_t)p->n_kernels);
  for (int32_t k = 0; k < p->n_kernels; k++) {
    q->kernels[p->n_kernels + k] = p->kernels[k];
    q->kernels[p->n_kernels + k].device = AZC_DEVICE_CUDA;
  }
  free(copy->kernels);
  free(tmp.kv_heads);
  free(tmp.kv_head_dim);
  free(tmp.steps);
  free(tmp.weights);
  free(copy);
  for (int32_t i = 0; i < q->n_steps; i++) {
    azc_plan_step_t *s = &q->steps[i];
    if (F.group[i] < n) {
      s->device = s->from_device = AZC_DEVICE_CUDA;
      s->kernel += p->n_kernels;
    }
  }
  st = azc_plan_insert_copies(q);
  for (int32_t i = 0; !st && pc && pc->halve_first_copy && i < q->n_steps; i++)
    if (q->steps[i].op == AZC_STEP_COPY) {
      q->steps[i].out_row_bytes /= 2;
      break;
    }
  if (st) {
    azc_plan_free(q);
    return st;
  }
  *out = q;
  return NULL;
}

static void offload_of(azc_cuda_offload_t *o, place_ctx_t *pc) {
  memset(o, 0, sizeof(*o));
  o->plan = F.c->compiled->plan;
  o->n_layer = N_LAYER;
  o->default_layers = N_LAYER;
  o->place = place;
  o->place_ctx = pc;
  o->weights = (const void *const *)F.c->compiled->weight_data;
  o->cpu_kernels = F.cpu_kernels;
  o->prog.n_images = 3;
  o->prog.images = F.images;
  o->prog.built_version = 13000;
  o->prog.prefix = (const char *const *)F.prefix;
  o->prog.info = F.info;
}

static azc_executor_params_t params(int32_t ngl) {
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_seq = 1;
  ep.n_threads = 1;
  ep.gpu_layers_set = 1;
  ep.n_gpu_layers = ngl;
  return ep;
}

/* an image the stand-in maps to the module's host build */
static void register_image(const void *data, size_t size, const char *so) {
  char link[1200];
  snprintf(link, sizeof(link), "%s/%016llx.so", F.modules,
           (unsigned long long)azc_hash64(data, size));
  unlink(link);
  if (symlink(so, link) != 0) {
    fprintf(stderr, "symlink %s failed\n", link);
    test_current_failed = 1;
  }
}

static bool setup(void) {
  char path[1024];
  azc_synth_params_t sp;
  ASSERT_OK_RET(azc_synth_preset("tiny-llama", &sp), false);
  sp.n_embd = 96;
  sp.n_head = 3;
  sp.n_head_kv = 1;
  sp.n_ff = 160;
  sp.n_vocab = 389;
  sp.n_layer = N_LAYER;
  sp.wtype = AZC_DTYPE_Q8_0;
  sp.seed = 11;
  snprintf(path, sizeof(path), "%s/llama4-Q8_0.gguf", test_tmp_dir());
  ASSERT_OK_RET(azc_synth_write(&sp, path, NULL, NULL), false);
  ASSERT_OK_RET(azc_model_open(path, &F.m), false);
  F.V = F.m->hp.n_vocab;
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 8;
  o.n_ctx = 32;
  o.target_triple = "x86_64-pc-linux-gnu";
  o.target_cpu = "x86-64"; /* GGUF layouts: the CUDA kernels read those */
  ASSERT_OK_RET(compiled_model_create(F.m, &o, &F.c), false);
  ASSERT_OK_RET(gpu_module_generate(F.c, &F.g), false);
  ASSERT_OK_RET(gpu_module_build(F.g, NULL, "llama4"), false);
  const azc_plan_t *p = F.c->compiled->plan;
  F.n_kernels = p->n_kernels;
  /* placement groups: a step follows the last KV layer seen (the embedding
   * goes with layer 0, the output head with the last layer) */
  F.group = calloc((size_t)p->n_steps, sizeof(int32_t));
  int32_t layer = 0;
  for (int32_t i = 0; i < p->n_steps; i++) {
    if (p->steps[i].layer > layer) layer = p->steps[i].layer;
    F.group[i] = layer;
  }
  F.prefix = calloc(2 * (size_t)p->n_kernels, sizeof(char *));
  F.info = calloc(2 * (size_t)p->n_kernels, sizeof(*F.info));
  F.cpu_kernels = calloc(2 * (size_t)p->n_kernels, sizeof(azk_fn_t));
  for (int32_t k = 0; k < p->n_kernels; k++) {
    F.prefix[p->n_kernels + k] = p->kernels[k].symbol;
    F.info[p->n_kernels + k] = F.g->info[k];
    F.cpu_kernels[k] = F.c->kernels[k];
  }
  /* the stand-in's module folder: three images of this module */
  snprintf(F.modules, sizeof(F.modules), "%s/standin-modules", test_tmp_dir());
  mkdir(F.modules, 0755);
  char so[1100];
  snprintf(so, sizeof(so), "%s/llama4.so", test_tmp_dir());
  azc_hash128_t key = azc_hash128(F.g->source, F.g->source_len);
  for (int i = 0; i < 2; i++) {
    uint8_t *c = F.cubin[i];
    memset(c, 0, 64);
    memcpy(c,
           "\x7f"
           "ELF",
           4);
    uint64_t shoff = 64; /* no sections: the "file" is its 64-byte header */
    memcpy(c + 0x28, &shoff, 8);
    memcpy(c + 0x10, &key, sizeof(key));
    c[0x30] = (uint8_t)(i ? 90 : 80); /* e_flags (a real cubin keeps its arch there), not e_phoff */
    F.images[i] = (azc_cuda_image_ref_t){i ? 90 : 80, 0, c, 64};
    register_image(c, 64, so);
  }
  F.images[2] = (azc_cuda_image_ref_t){80, 1, F.g->source, F.g->source_len + 1};
  register_image(F.g->source, F.g->source_len + 1, so);
  setenv("AZC_LIBCUDA", AZC_STANDIN_LIB, 1);
  setenv("AZC_STANDIN_MODULES", F.modules, 1);
  void *h = dlopen(AZC_STANDIN_LIB, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", AZC_STANDIN_LIB, dlerror());
    test_current_failed = 1;
    return false;
  }
  *(void **)&standin_counters = dlsym(h, "azc_cuda_standin_counters");
  /* the reference: the CPU executor on the plan as compiled */
  azc_executor_params_t ep = params(0);
  azc_executor_t *cpu;
  ASSERT_OK_RET(compiled_model_executor(F.c, &ep, &cpu), false);
  F.ref = malloc(sizeof(float) * STEPS * (size_t)F.V);
  azc_status_t st = run(cpu, F.ref, F.ref_tokens);
  azc_executor_destroy(cpu);
  ASSERT_OK_RET(st, false);
  return true;
}

/* stderr of fn into a buffer */
static char captured[16384];
static void capture_begin(int *saved, char *path, size_t cap) {
  snprintf(path, cap, "%s/stderr.txt", test_tmp_dir());
  fflush(stderr);
  *saved = dup(2);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, 2);
  close(fd);
}
static void capture_end(int saved, const char *path) {
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(captured, 1, sizeof(captured) - 1, f) : 0;
  captured[n] = 0;
  if (f) fclose(f);
  fputs(captured, stderr);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

typedef struct outcome {
  bool ok;   /* ran */
  bool same; /* greedy tokens and logits within tolerance */
  double cosine;
  uint64_t delta[8]; /* stand-in counters over the run */
  char why[512];
} outcome_t;

static outcome_t run_case(int32_t ngl, place_ctx_t *pc) {
  outcome_t r;
  memset(&r, 0, sizeof(r));
  uint64_t before[8] = {0}, after[8] = {0};
  if (standin_counters) standin_counters(before);
  azc_cuda_offload_t o;
  offload_of(&o, pc);
  azc_executor_params_t ep = params(ngl);
  azc_executor_t *ex = NULL;
  float *got = malloc(sizeof(float) * STEPS * (size_t)F.V);
  int32_t tokens[STEPS];
  azc_status_t st = azc_cuda_executor_create_offload(&o, &ep, &ex);
  if (!st) st = run(ex, got, tokens);
  azc_executor_destroy(ex);
  if (standin_counters) standin_counters(after);
  for (int i = 0; i < 8; i++) r.delta[i] = after[i] - before[i];
  if (st) {
    snprintf(r.why, sizeof(r.why), "%s", azc_status_message(st));
    azc_status_free(st);
    free(got);
    return r;
  }
  r.ok = true;
  r.cosine = worst_cosine(got, F.ref);
  r.same = r.cosine >= 0.9999 && !memcmp(tokens, F.ref_tokens, sizeof(tokens));
  snprintf(r.why, sizeof(r.why), "cosine %.7f, tokens %s", r.cosine,
           memcmp(tokens, F.ref_tokens, sizeof(tokens)) ? "differ" : "equal");
  free(got);
  return r;
}

static void test_placements(void) {
  const int32_t ngls[] = {0, 1, N_LAYER / 2, N_LAYER};
  for (size_t i = 0; i < sizeof(ngls) / sizeof(ngls[0]); i++) {
    char path[1100];
    int saved;
    capture_begin(&saved, path, sizeof(path));
    outcome_t r = run_case(ngls[i], NULL);
    capture_end(saved, path);
    ASSERT_MSG(r.ok && r.same, "-ngl %d: %s", ngls[i], r.why);
    char want[64];
    snprintf(want, sizeof(want), "offload: %d/%d layers", ngls[i], N_LAYER);
    ASSERT_MSG(count(captured, want) == 1 || (ngls[i] == 0 && strstr(captured, "0/4 layers")),
               "-ngl %d: the placement line '%s' is missing", ngls[i], want);
    ASSERT_MSG(strstr(captured, "offload: cpu: weights") != NULL, "-ngl %d: no CPU bytes line",
               ngls[i]);
    /* errors, leaks */
    ASSERT_MSG(r.delta[3] == 0 && r.delta[4] == 0, "-ngl %d: stand-in errors %llu, leaks %llu",
               ngls[i], (unsigned long long)r.delta[3], (unsigned long long)r.delta[4]);
    if (ngls[i] > 0) {
      /* STEPS - 1 decode steps: the first captures each segment, the others replay it */
      ASSERT_MSG(r.delta[1] >= STEPS - 1 && r.delta[2] > 0,
                 "-ngl %d: %llu graph launches (%llu kernels replayed)", ngls[i],
                 (unsigned long long)r.delta[1], (unsigned long long)r.delta[2]);
      ASSERT_MSG(r.delta[5] == 1 && r.delta[6] == 0, "-ngl %d: %llu cubins, %llu PTX loaded",
                 ngls[i], (unsigned long long)r.delta[5], (unsigned long long)r.delta[6]);
    } else {
      ASSERT_MSG(r.delta[0] == 0, "-ngl 0 launched %llu kernels", (unsigned long long)r.delta[0]);
    }
    fprintf(stderr, "  -ngl %d: %s; %llu launches, %llu graph launches\n", ngls[i], r.why,
            (unsigned long long)r.delta[0], (unsigned long long)r.delta[1]);
  }
  /* graphs off: same numbers, no graph launched */
  setenv("AZC_CUDA_GRAPHS", "0", 1);
  outcome_t r = run_case(N_LAYER, NULL);
  unsetenv("AZC_CUDA_GRAPHS");
  ASSERT_MSG(r.ok && r.same && r.delta[1] == 0, "graphs off: %s, %llu graph launches", r.why,
             (unsigned long long)r.delta[1]);
}

static void test_arch_pick(void) {
  azc_cuda_offload_t o;
  offload_of(&o, NULL);
  ASSERT(azc_cuda_program_pick(&o.prog, 86) == &F.images[0]);
  ASSERT(azc_cuda_program_pick(&o.prog, 90) == &F.images[1]);
  ASSERT(azc_cuda_program_pick(&o.prog, 100) == &F.images[2]);
  ASSERT(azc_cuda_program_pick(&o.prog, 75) == NULL);
  /* sm_120: the PTX, JIT-compiled */
  setenv("AZC_STANDIN_SM", "120", 1);
  outcome_t r = run_case(N_LAYER, NULL);
  unsetenv("AZC_STANDIN_SM");
  ASSERT_MSG(r.ok && r.same && r.delta[6] == 1 && r.delta[5] == 0, "sm_120: %s, %llu PTX", r.why,
             (unsigned long long)r.delta[6]);
}

/* no driver, no device, an old driver, no code for the arch: one line, then the CPU */
static void test_fallback(void) {
  static const struct {
    const char *var, *value, *says;
  } cases[] = {
      {"AZC_LIBCUDA", "/nonexistent/libcuda.so.1", "no CUDA driver"},
      {"AZC_STANDIN_DEVICES", "0", "no CUDA-capable device"},
      {"AZC_STANDIN_DRIVER", "12040", "older than the CUDA 13.0"},
      {"AZC_STANDIN_SM", "75", "none of this GPU's arch (sm_75)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    /* the line is said once per process: run each case in a child */
    fflush(stderr);
    char path[1100];
    snprintf(path, sizeof(path), "%s/fallback%zu.txt", test_tmp_dir(), i);
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      close(fd);
      setenv(cases[i].var, cases[i].value, 1);
      outcome_t a = run_case(N_LAYER, NULL), b = run_case(2, NULL);
      fflush(stderr);
      /* a second executor: the line is not said again */
      _exit(a.ok && a.same && b.ok && b.same && a.delta[0] == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(captured, 1, sizeof(captured) - 1, f) : 0;
    captured[n] = 0;
    if (f) fclose(f);
    ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s=%s: the CPU run failed:\n%s",
               cases[i].var, cases[i].value, captured);
    ASSERT_MSG(count(captured, "GPU offload off") == 1 && strstr(captured, cases[i].says),
               "%s=%s: expected one line saying '%s', got:\n%s", cases[i].var, cases[i].value,
               cases[i].says, captured);
    char *line = strstr(captured, "GPU offload off");
    fprintf(stderr, "  %s=%s: %.*s\n", cases[i].var, cases[i].value, (int)strcspn(line, "\n"),
            line);
  }
}

static void test_memory(void) {
  /* device memory between what 2 and 3 GPU layers need (an eighth is kept
   * for the driver): 2 layers are placed, and a line says so */
  azc_executor_params_t ep = params(0);
  azc_plan_t *two, *three;
  azc_cuda_offload_t o;
  offload_of(&o, NULL);
  ASSERT_OK(place(NULL, 2, &two));
  ASSERT_OK(place(NULL, 3, &three));
  int64_t need2 = azc_cuda_plan_device_bytes(two, &o.prog, &ep);
  int64_t need3 = azc_cuda_plan_device_bytes(three, &o.prog, &ep);
  azc_plan_free(two);
  azc_plan_free(three);
  ASSERT_MSG(need2 < need3, "2 layers need %lld bytes, 3 need %lld", (long long)need2,
             (long long)need3);
  char kb[32];
  snprintf(kb, sizeof(kb), "%lld", (long long)((need2 + need3) / 2 * 8 / 7 / 1024));
  char path[1100];
  int saved;
  capture_begin(&saved, path, sizeof(path));
  setenv("AZC_STANDIN_MEM_KB", kb, 1);
  outcome_t r = run_case(N_LAYER, NULL);
  outcome_t a = run_case(AZC_GPU_LAYERS_AUTO, NULL);
  unsetenv("AZC_STANDIN_MEM_KB");
  capture_end(saved, path);
  ASSERT_MSG(r.ok && r.same, "short memory: %s", r.why);
  ASSERT_MSG(strstr(captured, "GPU memory is short") && strstr(captured, "placing 2 of 4") &&
                 strstr(captured, "offload: 2/4 layers"),
             "short memory: no message saying 2 layers are placed:\n%s", captured);
  ASSERT_MSG(a.ok && a.same && strstr(captured, "-ngl auto: 2 of 4"), "auto: %s\n%s", a.why,
             captured);
  ASSERT_MSG(count(captured, "GPU memory is short") == 1, "auto must not call memory short");
}

static void test_refused_image(void) {
  char empty[1100];
  snprintf(empty, sizeof(empty), "%s/no-modules", test_tmp_dir());
  mkdir(empty, 0755);
  setenv("AZC_STANDIN_MODULES", empty, 1);
  outcome_t r = run_case(N_LAYER, NULL);
  setenv("AZC_STANDIN_MODULES", F.modules, 1);
  ASSERT_MSG(!r.ok && strstr(r.why, "maps to no host build"), "an unmapped image: %s", r.why);
  ASSERT_MSG(r.delta[4] == 0, "leaks after a refused image: %llu", (unsigned long long)r.delta[4]);
}

static void test_planted(void) {
  /* the stand-in drops one launch of a decode step (a graph replay) */
  setenv("AZC_STANDIN_FAULT", "drop_launch:100", 1);
  outcome_t r = run_case(N_LAYER, NULL);
  unsetenv("AZC_STANDIN_FAULT");
  ASSERT_MSG(r.ok && !r.same, "a dropped launch went unnoticed: %s", r.why);
  fprintf(stderr, "  planted dropped launch: %s\n", r.why);
  place_ctx_t pc = {1};
  r = run_case(2, &pc);
  ASSERT_MSG(!r.same, "a copy step moving half its rows went unnoticed: %s", r.why);
  fprintf(stderr, "  planted half copy: %s\n", r.why);
}

int main(int argc, char **argv) {
  /* an argument runs only the tests whose name contains it */
  const char *only = argc > 1 ? argv[1] : "";
#define RUN_IF(fn)                                                                                 \
  if (strstr(#fn, only)) RUN(fn)
  if (setup()) {
    RUN_IF(test_placements);
    RUN_IF(test_arch_pick);
    RUN_IF(test_fallback);
    RUN_IF(test_memory);
    RUN_IF(test_refused_image);
    RUN_IF(test_planted);
  }
  free(F.ref);
  free(F.group);
  free(F.prefix);
  free(F.info);
  free(F.cpu_kernels);
  gpu_module_free(F.g);
  compiled_model_free(F.c);
  if (F.m) azc_model_close(F.m);
  return test_summary();
}
