/* The registry of code-generator back ends built into azc (see backend.h):
 * a new back end adds its table here. */
#include "codegen/backend.h"

#include <stdio.h>
#include <string.h>

#ifdef AZC_HAVE_LLVM
extern const azc_codegen_backend_t azc_codegen_cpu_backend; /* codegen/cpu/backend_cpu.c */
#else
/* configured with AZC_WITH_LLVM=OFF: no CPU code generator (GPU-only bundles) */
const azc_codegen_backend_t *azc_codegen_backend_cpu(void) { return NULL; }
#endif

#ifdef AZC_HAVE_NVRTC
extern const azc_codegen_backend_t azc_codegen_cuda_backend; /* codegen/cuda/cuda_backend.c */
const azc_codegen_backend_t *azc_codegen_backend_cuda(void) { return &azc_codegen_cuda_backend; }
#else
/* without NVRTC the CUDA back end is compiled (so it keeps building) but not registered */
const azc_codegen_backend_t *azc_codegen_backend_cuda(void) { return NULL; }
#endif

/* The back ends the compiled-vs-eager matrix runs (azc_codegen_backends).
 * CUDA is found by name when NVRTC is built in (azc compile --gpu-arch,
 * -ngl), but joins this list only once the executor factory has a CUDA
 * executor the matrix can run (runtime/exec_factory.c): until then each of
 * its cells would cost an NVRTC compile and end as "no executor"; tests/gpu
 * (test_gpu_compile, test_gpu_nvrtc) cover it meanwhile. */
#ifdef AZC_HAVE_LLVM
static const azc_codegen_backend_t *const backends[] = {&azc_codegen_cpu_backend};
#define N_BACKENDS ((int)(sizeof(backends) / sizeof(backends[0])))
#else
static const azc_codegen_backend_t *const backends[1] = {NULL};
#define N_BACKENDS 0
#endif

static const azc_codegen_backend_t *const *list(int *count) {
  *count = N_BACKENDS;
  return backends;
}

const azc_codegen_backend_t *const *azc_codegen_backends(int *count) { return list(count); }

const azc_codegen_backend_t *azc_codegen_backend_find(const char *name) {
  int n;
  const azc_codegen_backend_t *const *b = list(&n);
  for (int i = 0; i < n; i++)
    if (!strcmp(name, b[i]->name)) return b[i];
  const azc_codegen_backend_t *cuda = azc_codegen_backend_cuda();
  return cuda && !strcmp(name, cuda->name) ? cuda : NULL;
}

const char *azc_codegen_backend_names(void) {
  static char buf[128];
  int n;
  const azc_codegen_backend_t *const *b = list(&n);
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < n && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", i ? ", " : "", b[i]->name);
  if (azc_codegen_backend_cuda() && k < sizeof(buf))
    snprintf(buf + k, sizeof(buf) - k, "%s%s", k ? ", " : "", azc_codegen_backend_cuda()->name);
  if (!buf[0]) snprintf(buf, sizeof(buf), "none");
  return buf;
}
