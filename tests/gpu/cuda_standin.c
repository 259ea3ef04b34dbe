/* A CPU stand-in for the CUDA driver API: loaded in place of libcuda.so.1
 * (AZC_LIBCUDA=.../libazc_cuda_standin.so), it implements the subset that
 * runtime/cuda_driver.h resolves, so that the CUDA executor runs end to
 * end on a machine without a GPU.
 *
 *   - Device memory is host memory (malloc of exactly the bytes asked for,
 *     so ASan sees a kernel running past an allocation) with bookkeeping:
 *     every copy must lie inside one live allocation, every pointer a
 *     kernel gets in its azk_gpu_args_t must point into one (a host pointer
 *     handed to a kernel is an error), a double or foreign free is an
 *     error, and what is still allocated when the primary context is
 *     released is reported as a leak.
 *   - Kernels run through the fiber harness (tests/gpu/cuda_emu.h), and
 *     only as host builds of the module's own generated source: a module
 *     image (cubin or PTX, which the stand-in cannot run) is mapped by its
 *     XXH3-64 to $AZC_STANDIN_MODULES/<16 hex digits>.so, a host build of
 *     the CUDA source the image was compiled from, which the test builds
 *     from the bundle's cuda.code section (clang++ + cuda_emu.h). An image
 *     with no such entry is refused (CUDA_ERROR_INVALID_IMAGE). The
 *     stand-in never calls azc's CPU kernels.
 *   - Work runs at once on the calling thread (streams are ordered anyway);
 *     a stream under capture records kernel launches instead, and a graph
 *     replays them.
 *
 * Environment: AZC_STANDIN_MODULES (the module folder), AZC_STANDIN_SM
 * (compute capability, default 90), AZC_STANDIN_MEM_KB (device memory,
 * default 2 GiB), AZC_STANDIN_DRIVER (driver version, default 13000),
 * AZC_STANDIN_DEVICES (default 1), AZC_STANDIN_REPORT (a file the counters
 * are written to at context release: launches, graph launches, errors,
 * leaks), AZC_STANDIN_FAULT=drop_launch:N (a planted fault: the Nth kernel
 * launch after cuInit, counted from 1, silently does nothing),
 * AZC_STANDIN_TRACE=1 (a line per launch). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))

enum {
  OK = 0,
  E_INVALID_VALUE = 1,
  E_OUT_OF_MEMORY = 2,
  E_NOT_INITIALIZED = 3,
  E_NO_DEVICE = 100,
  E_INVALID_DEVICE = 101,
  E_INVALID_IMAGE = 200,
  E_INVALID_CONTEXT = 201,
  E_INVALID_HANDLE = 400,
  E_NOT_FOUND = 500,
  E_LAUNCH_OUT_OF_RESOURCES = 701,
  E_LAUNCH_FAILED = 719,
  E_NOT_SUPPORTED = 801,
  E_CAPTURE_UNSUPPORTED = 900,
  E_CAPTURE_INVALIDATED = 901,
  E_UNKNOWN = 999,
};

typedef int (*emu_launch_t)(void (*fn)(azk_gpu_args_t), int gx, int gy, int block, int smem,
                            const azk_gpu_args_t *args, uint64_t seed, char *err, int err_cap);

typedef struct alloc {
  uint8_t *base;
  size_t size;
} alloc_t;

typedef struct function function_t;

typedef struct module {
  void *so;
  emu_launch_t launch;
  function_t *functions; /* freed with the module */
} module_t;

struct function {
  function_t *next;
  module_t *module;
  void (*fn)(azk_gpu_args_t);
  char name[96];
  int max_dynamic_smem;
};

typedef struct launch_rec {
  function_t *f;
  unsigned gx, gy, block, smem;
  azk_gpu_args_t args;
} launch_rec_t;

typedef struct graph {
  launch_rec_t *recs;
  int n, cap;
} graph_t;

typedef struct stream {
  int capturing;
  graph_t *capture;
} stream_t;

static struct {
  int initialized, ctx_refs;
  int sm, n_devices, driver;
  size_t mem_total, mem_used;
  alloc_t *allocs;
  int n_allocs, cap_allocs;
  uint64_t launches, graph_launches, graph_kernel_launches, errors, leaks, leaked_bytes;
  uint64_t images_cubin, images_ptx, images_refused, drop_launch;
  int sticky; /* a failed kernel, as on a GPU: every later call returns it */
  char last_module[64];
} S;

static void standin_error(const char *fmt, const char *a, unsigned long long b) {
  S.errors++;
  fprintf(stderr, "cuda stand-in: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
}

static int env_int(const char *name, int def) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : def;
}

static void write_report(void) {
  const char *path = getenv("AZC_STANDIN_REPORT");
  if (!path || !*path) return;
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f,
          "launches %llu\ngraph_launches %llu\ngraph_kernel_launches %llu\nerrors %llu\n"
          "leaks %llu\nleaked_bytes %llu\nimages_cubin %llu\nimages_ptx %llu\n"
          "images_refused %llu\nlive_allocations %d\n",
          (unsigned long long)S.launches, (unsigned long long)S.graph_launches,
          (unsigned long long)S.graph_kernel_launches, (unsigned long long)S.errors,
          (unsigned long long)S.leaks, (unsigned long long)S.leaked_bytes,
          (unsigned long long)S.images_cubin, (unsigned long long)S.images_ptx,
          (unsigned long long)S.images_refused, S.n_allocs);
  fclose(f);
}

/* ---- memory bookkeeping ---- */
static alloc_t *find_alloc(const void *p, size_t n) {
  const uint8_t *q = p;
  for (int i = 0; i < S.n_allocs; i++)
    if (q >= S.allocs[i].base && q < S.allocs[i].base + S.allocs[i].size + (S.allocs[i].size == 0))
      return (size_t)(S.allocs[i].base + S.allocs[i].size - q) >= n ? &S.allocs[i] : NULL;
  return NULL;
}

static int cuInit_(unsigned flags) {
  if (flags) return E_INVALID_VALUE;
  S.sm = env_int("AZC_STANDIN_SM", 90);
  S.n_devices = env_int("AZC_STANDIN_DEVICES", 1);
  S.driver = env_int("AZC_STANDIN_DRIVER", 13000);
  S.mem_total = (size_t)env_int("AZC_STANDIN_MEM_KB", 2048 * 1024) << 10;
  const char *fault = getenv("AZC_STANDIN_FAULT");
  /* counted from this cuInit: the stand-in may stay loaded across contexts */
  S.drop_launch = 0;
  if (fault && !strncmp(fault, "drop_launch:", 12))
    S.drop_launch = S.launches + strtoull(fault + 12, NULL, 10);
  S.initialized = 1;
  return S.n_devices > 0 ? OK : E_NO_DEVICE;
}

static int cuDriverGetVersion_(int *v) {
  *v = env_int("AZC_STANDIN_DRIVER", 13000);
  return OK;
}

static int cuGetErrorString_(int r, const char **s) {
  switch (r) {
  case OK: *s = "no error"; return OK;
  case E_INVALID_VALUE: *s = "invalid argument"; return OK;
  case E_OUT_OF_MEMORY: *s = "out of memory"; return OK;
  case E_NOT_INITIALIZED: *s = "initialization error"; return OK;
  case E_NO_DEVICE: *s = "no CUDA-capable device is detected"; return OK;
  case E_INVALID_DEVICE: *s = "invalid device ordinal"; return OK;
  case E_INVALID_IMAGE: *s = "device kernel image is invalid"; return OK;
  case E_INVALID_CONTEXT: *s = "invalid device context"; return OK;
  case E_INVALID_HANDLE: *s = "invalid resource handle"; return OK;
  case E_NOT_FOUND: *s = "named symbol not found"; return OK;
  case E_LAUNCH_OUT_OF_RESOURCES: *s = "too many resources requested for launch"; return OK;
  case E_LAUNCH_FAILED: *s = "unspecified launch failure"; return OK;
  case E_CAPTURE_UNSUPPORTED: *s = "operation not permitted when stream is capturing"; return OK;
  case E_CAPTURE_INVALIDATED:
    *s = "operation failed due to a previous error during capture";
    return OK;
  default: *s = NULL; return E_INVALID_VALUE;
  }
}

#define NEED_INIT()                                                                                \
  do {                                                                                             \
    if (!S.initialized) return E_NOT_INITIALIZED;                                                  \
  } while (0)
#define NEED_CTX()                                                                                 \
  do {                                                                                             \
    NEED_INIT();                                                                                   \
    if (S.ctx_refs <= 0) return E_INVALID_CONTEXT;                                                 \
    if (S.sticky) return S.sticky;                                                                 \
  } while (0)

static int cuDeviceGetCount_(int *n) {
  NEED_INIT();
  *n = S.n_devices;
  return OK;
}
static int cuDeviceGet_(int *d, int ordinal) {
  NEED_INIT();
  if (ordinal < 0 || ordinal >= S.n_devices) return E_INVALID_DEVICE;
  *d = ordinal;
  return OK;
}
static int cuDeviceGetAttribute_(int *v, int attrib, int d) {
  NEED_INIT();
  if (d < 0 || d >= S.n_devices) return E_INVALID_DEVICE;
  switch (attrib) {
  case 75: *v = S.sm / 10; return OK;
  case 76: *v = S.sm % 10; return OK;
  case 97: *v = S.sm >= 90 ? 232448 : S.sm >= 80 ? 166912 : 65536; return OK;
  default: return E_INVALID_VALUE;
  }
}
static int cuDeviceGetName_(char *name, int len, int d) {
  NEED_INIT();
  if (d < 0 || d >= S.n_devices || len <= 0) return E_INVALID_VALUE;
  snprintf(name, (size_t)len, "azc CUDA stand-in (CPU, sm_%d)", S.sm);
  return OK;
}
static int cuDeviceTotalMem_(size_t *bytes, int d) {
  NEED_INIT();
  if (d < 0 || d >= S.n_devices) return E_INVALID_DEVICE;
  *bytes = S.mem_total;
  return OK;
}
static int cuDevicePrimaryCtxRetain_(void **ctx, int d) {
  NEED_INIT();
  if (d < 0 || d >= S.n_devices) return E_INVALID_DEVICE;
  S.ctx_refs++;
  *ctx = &S;
  return OK;
}
static int cuDevicePrimaryCtxRelease_(int d) {
  NEED_INIT();
  if (d < 0 || d >= S.n_devices || S.ctx_refs <= 0) return E_INVALID_CONTEXT;
  if (--S.ctx_refs == 0) {
    /* the context is destroyed: whatever is still allocated leaked */
    for (int i = 0; i < S.n_allocs; i++) {
      standin_error("leak: %s%llu bytes still allocated at context destroy", "",
                    (unsigned long long)S.allocs[i].size);
      S.leaks++;
      S.leaked_bytes += S.allocs[i].size;
      free(S.allocs[i].base);
    }
    S.n_allocs = 0;
    S.mem_used = 0;
    S.sticky = 0;
    write_report();
  }
  return OK;
}
static int cuCtxSetCurrent_(void *ctx) {
  NEED_INIT();
  return ctx == &S || ctx == NULL ? OK : E_INVALID_CONTEXT;
}
static int cuMemGetInfo_(size_t *free_bytes, size_t *total) {
  NEED_CTX();
  *free_bytes = S.mem_total - S.mem_used;
  *total = S.mem_total;
  return OK;
}

static int cuMemAlloc_(uint64_t *p, size_t bytes) {
  NEED_CTX();
  *p = 0;
  if (bytes == 0) return E_INVALID_VALUE;
  if (bytes > S.mem_total - S.mem_used) return E_OUT_OF_MEMORY;
  if (S.n_allocs == S.cap_allocs) {
    int cap = S.cap_allocs ? 2 * S.cap_allocs : 64;
    alloc_t *a = realloc(S.allocs, sizeof(*a) * (size_t)cap);
    if (!a) return E_OUT_OF_MEMORY;
    S.allocs = a;
    S.cap_allocs = cap;
  }
  uint8_t *b = NULL;
  /* 256-byte aligned like cudaMalloc; the size stays exact for ASan */
  if (posix_memalign((void **)&b, 256, bytes)) return E_OUT_OF_MEMORY;
  memset(b, 0xa5, bytes); /* device memory is not zeroed */
  S.allocs[S.n_allocs++] = (alloc_t){b, bytes};
  S.mem_used += bytes;
  *p = (uint64_t)(uintptr_t)b;
  return OK;
}

static int cuMemFree_(uint64_t p) {
  NEED_INIT();
  if (S.ctx_refs <= 0) return E_INVALID_CONTEXT;
  for (int i = 0; i < S.n_allocs; i++)
    if ((uint64_t)(uintptr_t)S.allocs[i].base == p) {
      free(S.allocs[i].base);
      S.mem_used -= S.allocs[i].size;
      S.allocs[i] = S.allocs[--S.n_allocs];
      return OK;
    }
  standin_error("cuMemFree of %s0x%llx: not a live allocation (double free?)", "",
                (unsigned long long)p);
  return E_INVALID_VALUE;
}

static int check_range(const char *what, uint64_t p, size_t n) {
  if (find_alloc((const void *)(uintptr_t)p, n)) return OK;
  char msg[96];
  snprintf(msg, sizeof(msg), "%s: %zu bytes at device address", what, n);
  standin_error("%s 0x%llx lie outside every live allocation", msg, (unsigned long long)p);
  return E_INVALID_VALUE;
}

static int cuMemcpyHtoDAsync_(uint64_t dst, const void *src, size_t n, void *stream) {
  NEED_CTX();
  if (stream && ((stream_t *)stream)->capturing) return E_CAPTURE_UNSUPPORTED;
  if (check_range("cuMemcpyHtoD", dst, n)) return E_INVALID_VALUE;
  if (find_alloc(src, 1)) {
    standin_error("cuMemcpyHtoD: the source %s0x%llx is device memory", "",
                  (unsigned long long)(uintptr_t)src);
    return E_INVALID_VALUE;
  }
  memcpy((void *)(uintptr_t)dst, src, n);
  return OK;
}

static int cuMemcpyDtoHAsync_(void *dst, uint64_t src, size_t n, void *stream) {
  NEED_CTX();
  if (stream && ((stream_t *)stream)->capturing) return E_CAPTURE_UNSUPPORTED;
  if (check_range("cuMemcpyDtoH", src, n)) return E_INVALID_VALUE;
  if (find_alloc(dst, 1)) {
    standin_error("cuMemcpyDtoH: the destination %s0x%llx is device memory", "",
                  (unsigned long long)(uintptr_t)dst);
    return E_INVALID_VALUE;
  }
  memcpy(dst, (const void *)(uintptr_t)src, n);
  return OK;
}

static int cuMemsetD8Async_(uint64_t dst, unsigned char v, size_t n, void *stream) {
  NEED_CTX();
  if (stream && ((stream_t *)stream)->capturing) return E_CAPTURE_UNSUPPORTED;
  if (check_range("cuMemsetD8", dst, n)) return E_INVALID_VALUE;
  memset((void *)(uintptr_t)dst, v, n);
  return OK;
}

/* ---- modules: an image runs only as the host build of its own source ---- */
static int cuModuleLoadDataEx_(void **out, const void *image, unsigned n_opts, int *opts,
                               void **values) {
  NEED_CTX();
  *out = NULL;
  /* a cubin is an ELF file whose size its headers give; PTX is NUL-terminated text */
  const uint8_t *b = image;
  size_t size;
  int is_elf = b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
  if (is_elf) {
    /* the file ends where the last of its headers and sections ends */
    uint64_t phoff, shoff, end;
    uint16_t phentsize, phnum, shentsize, shnum;
    memcpy(&phoff, b + 0x20, 8);
    memcpy(&shoff, b + 0x28, 8);
    memcpy(&phentsize, b + 0x36, 2);
    memcpy(&phnum, b + 0x38, 2);
    memcpy(&shentsize, b + 0x3a, 2);
    memcpy(&shnum, b + 0x3c, 2);
    end = 64;
    if (phoff + (uint64_t)phentsize * phnum > end) end = phoff + (uint64_t)phentsize * phnum;
    if (shoff + (uint64_t)shentsize * shnum > end) end = shoff + (uint64_t)shentsize * shnum;
    for (uint16_t i = 0; shentsize >= 0x28 && i < shnum; i++) {
      const uint8_t *sh = b + shoff + (uint64_t)i * shentsize;
      uint32_t type;
      uint64_t off, sz;
      memcpy(&type, sh + 4, 4);
      memcpy(&off, sh + 0x18, 8);
      memcpy(&sz, sh + 0x20, 8);
      if (type != 8 /* SHT_NOBITS */ && off + sz > end) end = off + sz;
    }
    size = (size_t)end;
  } else {
    size = strlen((const char *)image) + 1;
  }
  char *log = NULL;
  size_t log_cap = 0;
  for (unsigned i = 0; i < n_opts; i++) {
    if (opts[i] == 5) log = values[i];
    if (opts[i] == 6) log_cap = (size_t)(uintptr_t)values[i];
  }
  const char *dir = getenv("AZC_STANDIN_MODULES");
  char path[1200];
  snprintf(path, sizeof(path), "%s/%016llx.so", dir ? dir : ".",
           (unsigned long long)XXH3_64bits(image, size));
  void *so = dir ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  emu_launch_t launch = NULL;
  if (so) *(void **)&launch = dlsym(so, "azk_emu_launch");
  if (!so || !launch) {
    S.images_refused++;
    if (log && log_cap)
      snprintf(log, log_cap,
               "cuda stand-in: the %s image (%zu bytes) maps to no host build of its module's "
               "source (%s)",
               is_elf ? "cubin" : "PTX", size, path);
    standin_error("refused a %s image: no host build of its source at %llu", path,
                  (unsigned long long)size);
    if (so) dlclose(so);
    return E_INVALID_IMAGE;
  }
  module_t *m = calloc(1, sizeof(*m));
  if (!m) {
    dlclose(so);
    return E_OUT_OF_MEMORY;
  }
  m->so = so;
  m->launch = launch;
  if (is_elf)
    S.images_cubin++;
  else
    S.images_ptx++;
  *out = m;
  return OK;
}

static int cuModuleUnload_(void *mod) {
  NEED_INIT();
  module_t *m = mod;
  if (!m) return E_INVALID_HANDLE;
  while (m->functions) {
    function_t *f = m->functions;
    m->functions = f->next;
    free(f);
  }
  dlclose(m->so);
  free(m);
  return OK;
}

static int cuModuleGetFunction_(void **out, void *mod, const char *name) {
  NEED_CTX();
  module_t *m = mod;
  *out = NULL;
  if (!m) return E_INVALID_HANDLE;
  void *fn = dlsym(m->so, name);
  if (!fn) return E_NOT_FOUND;
  function_t *f = calloc(1, sizeof(*f));
  if (!f) return E_OUT_OF_MEMORY;
  f->module = m;
  *(void **)&f->fn = fn;
  snprintf(f->name, sizeof(f->name), "%s", name);
  f->max_dynamic_smem = 48 * 1024;
  f->next = m->functions;
  m->functions = f;
  *out = f;
  return OK;
}

static int cuFuncSetAttribute_(void *fn, int attrib, int value) {
  NEED_CTX();
  function_t *f = fn;
  if (!f) return E_INVALID_HANDLE;
  if (attrib != 8) return E_NOT_SUPPORTED;
  int optin = 0;
  cuDeviceGetAttribute_(&optin, 97, 0);
  if (value < 0 || value > optin) return E_INVALID_VALUE;
  f->max_dynamic_smem = value;
  return OK;
}

/* ---- streams, launches, graphs ---- */
static int cuStreamCreate_(void **out, unsigned flags) {
  NEED_CTX();
  (void)flags;
  stream_t *s = calloc(1, sizeof(*s));
  if (!s) return E_OUT_OF_MEMORY;
  *out = s;
  return OK;
}
static int cuStreamDestroy_(void *s) {
  NEED_INIT();
  stream_t *st = s;
  if (!st) return E_INVALID_HANDLE;
  if (st->capture) {
    free(st->capture->recs);
    free(st->capture);
  }
  free(st);
  return OK;
}
static int cuStreamSynchronize_(void *s) {
  NEED_CTX();
  (void)s;
  return OK;
}

/* every pointer a kernel is given must be device memory */
static int check_args(const function_t *f, const azk_gpu_args_t *a) {
  const void *ptrs[24];
  const char *names[24];
  int n = 0;
#define P(field, label) (ptrs[n] = (const void *)(field), names[n++] = (label))
  P(a->out, "out");
  for (int i = 0; i < 16; i++) P(a->in[i], "in[]");
  P(a->dyn, "dyn");
  P(a->pos, "pos");
  P(a->seq, "seq");
  P(a->k_cache, "k_cache");
  P(a->v_cache, "v_cache");
  P(a->scratch, "scratch");
#undef P
  for (int i = 0; i < n; i++) {
    if (!ptrs[i]) continue;
    size_t need = i == 17 ? sizeof(azk_gpu_dyn_t) : 1;
    if (!find_alloc(ptrs[i], need)) {
      char msg[160];
      snprintf(msg, sizeof(msg), "%s: argument %s = %p", f->name, names[i], ptrs[i]);
      standin_error("launch of %s is not device memory (%llu)", msg, (unsigned long long)i);
      return E_INVALID_VALUE;
    }
  }
  return OK;
}

static int run_launch(const launch_rec_t *r) {
  S.launches++;
  if (getenv("AZC_STANDIN_TRACE"))
    fprintf(stderr, "cuda stand-in: launch %llu: %s\n", (unsigned long long)S.launches, r->f->name);
  if (S.drop_launch && S.launches == S.drop_launch) return OK; /* the planted fault */
  int rc = check_args(r->f, &r->args);
  if (rc) return rc;
  char err[256];
  if (r->f->module->launch(r->f->fn, (int)r->gx, (int)r->gy, (int)r->block, (int)r->smem, &r->args,
                           0x2545f4914f6cdd1dull * S.launches, err, sizeof(err))) {
    standin_error("kernel %s failed: %llu", r->f->name, 0);
    fprintf(stderr, "cuda stand-in:   %s\n", err);
    S.sticky = E_LAUNCH_FAILED;
    return E_LAUNCH_FAILED;
  }
  return OK;
}

static int cuLaunchKernel_(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                           unsigned by, unsigned bz, unsigned smem, void *stream, void **params,
                           void **extra) {
  NEED_CTX();
  function_t *f = fn;
  if (!f) return E_INVALID_HANDLE;
  if (extra || !params || !params[0] || gz != 1 || by != 1 || bz != 1 || gx == 0 || gy == 0 ||
      gy > 65535 || bx == 0 || bx > 1024 || bx % 32)
    return E_INVALID_VALUE;
  if ((int)smem > f->max_dynamic_smem) return E_LAUNCH_OUT_OF_RESOURCES;
  launch_rec_t r = {f, gx, gy, bx, smem, {0}};
  memcpy(&r.args, params[0], sizeof(r.args));
  stream_t *s = stream;
  if (s && s->capturing) {
    graph_t *g = s->capture;
    if (g->n == g->cap) {
      int cap = g->cap ? 2 * g->cap : 64;
      launch_rec_t *recs = realloc(g->recs, sizeof(*recs) * (size_t)cap);
      if (!recs) return E_OUT_OF_MEMORY;
      g->recs = recs;
      g->cap = cap;
    }
    g->recs[g->n++] = r;
    return OK;
  }
  return run_launch(&r);
}

static int cuStreamBeginCapture_(void *stream, int mode) {
  NEED_CTX();
  (void)mode;
  stream_t *s = stream;
  if (!s) return E_CAPTURE_UNSUPPORTED; /* the legacy stream cannot be captured */
  if (s->capturing) return E_INVALID_VALUE;
  s->capture = calloc(1, sizeof(graph_t));
  if (!s->capture) return E_OUT_OF_MEMORY;
  s->capturing = 1;
  return OK;
}

static int cuStreamEndCapture_(void *stream, void **graph) {
  NEED_CTX();
  stream_t *s = stream;
  if (!s || !s->capturing) return E_INVALID_VALUE;
  *graph = s->capture;
  s->capture = NULL;
  s->capturing = 0;
  return OK;
}

static int cuGraphInstantiateWithFlags_(void **exec, void *graph, unsigned long long flags) {
  NEED_CTX();
  (void)flags;
  graph_t *g = graph, *e = calloc(1, sizeof(*e));
  if (!g || !e) {
    free(e);
    return g ? E_OUT_OF_MEMORY : E_INVALID_HANDLE;
  }
  e->recs = malloc(sizeof(launch_rec_t) * (size_t)(g->n + 1));
  if (!e->recs) {
    free(e);
    return E_OUT_OF_MEMORY;
  }
  memcpy(e->recs, g->recs, sizeof(launch_rec_t) * (size_t)g->n);
  e->n = e->cap = g->n;
  *exec = e;
  return OK;
}

static int cuGraphLaunch_(void *exec, void *stream) {
  NEED_CTX();
  graph_t *e = exec;
  stream_t *s = stream;
  if (!e) return E_INVALID_HANDLE;
  if (s && s->capturing) return E_CAPTURE_UNSUPPORTED;
  S.graph_launches++;
  for (int i = 0; i < e->n; i++) {
    S.graph_kernel_launches++;
    int rc = run_launch(&e->recs[i]);
    if (rc) return rc;
  }
  return OK;
}

static int destroy_graph(void *graph) {
  NEED_INIT();
  graph_t *g = graph;
  if (!g) return E_INVALID_HANDLE;
  free(g->recs);
  free(g);
  return OK;
}
static int cuGraphExecDestroy_(void *e) { return destroy_graph(e); }
static int cuGraphDestroy_(void *g) { return destroy_graph(g); }

/* ---- entry points ---- */
static const struct {
  const char *name;
  void *fn;
} table[] = {
#define F(name)                                                                                    \
  { #name, (void *)name##_ }
    F(cuInit),
    F(cuDriverGetVersion),
    F(cuGetErrorString),
    F(cuDeviceGetCount),
    F(cuDeviceGet),
    F(cuDeviceGetAttribute),
    F(cuDeviceGetName),
    F(cuDeviceTotalMem),
    F(cuDevicePrimaryCtxRetain),
    F(cuDevicePrimaryCtxRelease),
    F(cuCtxSetCurrent),
    F(cuMemGetInfo),
    F(cuModuleLoadDataEx),
    F(cuModuleUnload),
    F(cuModuleGetFunction),
    F(cuFuncSetAttribute),
    F(cuMemAlloc),
    F(cuMemFree),
    F(cuMemcpyHtoDAsync),
    F(cuMemcpyDtoHAsync),
    F(cuMemsetD8Async),
    F(cuStreamCreate),
    F(cuStreamDestroy),
    F(cuStreamSynchronize),
    F(cuLaunchKernel),
    F(cuStreamBeginCapture),
    F(cuStreamEndCapture),
    F(cuGraphInstantiateWithFlags),
    F(cuGraphLaunch),
    F(cuGraphExecDestroy),
    F(cuGraphDestroy),
#undef F
};

EXPORT int cuGetProcAddress_v2(const char *symbol, void **pfn, int version, uint64_t flags,
                               int *status) {
  (void)flags;
  *pfn = NULL;
  if (status) *status = 1;                 /* CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND */
  if (version < 12000) return E_NOT_FOUND; /* this stand-in speaks the 12.0 ABI */
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (!strcmp(table[i].name, symbol)) {
      *pfn = table[i].fn;
      if (status) *status = 0;
      return OK;
    }
  return E_NOT_FOUND;
}

EXPORT int cuDriverGetVersion(int *v) { return cuDriverGetVersion_(v); }

/* what the tests read back without a report file */
EXPORT void azc_cuda_standin_counters(uint64_t out[8]) {
  out[0] = S.launches;
  out[1] = S.graph_launches;
  out[2] = S.graph_kernel_launches;
  out[3] = S.errors;
  out[4] = S.leaks;
  out[5] = S.images_cubin;
  out[6] = S.images_ptx;
  out[7] = S.images_refused;
}

__attribute__((destructor)) static void at_exit(void) {
  write_report();
  free(S.allocs);
}
