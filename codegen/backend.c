/* The registry of code-generator back ends built into azc (see backend.h):
 * a new back end adds its table here. */
#include "codegen/backend.h"

#include <stdio.h>
#include <string.h>

extern const azc_codegen_backend_t azc_codegen_cpu_backend; /* codegen/cpu/backend_cpu.c */

#ifdef AZC_HAVE_NVRTC
extern const azc_codegen_backend_t azc_codegen_cuda_backend; /* codegen/cuda/cuda_backend.c */
static const azc_codegen_backend_t *const backends[] = {&azc_codegen_cpu_backend,
                                                        &azc_codegen_cuda_backend};
const azc_codegen_backend_t *azc_codegen_backend_cuda(void) { return &azc_codegen_cuda_backend; }
#else
/* without NVRTC the CUDA back end is compiled (so it keeps building) but not registered */
static const azc_codegen_backend_t *const backends[] = {&azc_codegen_cpu_backend};
const azc_codegen_backend_t *azc_codegen_backend_cuda(void) { return NULL; }
#endif

static const azc_codegen_backend_t *const *list(int *count) {
  *count = (int)(sizeof(backends) / sizeof(backends[0]));
  return backends;
}

const azc_codegen_backend_t *const *azc_codegen_backends(int *count) { return list(count); }

const azc_codegen_backend_t *azc_codegen_backend_find(const char *name) {
  int n;
  const azc_codegen_backend_t *const *b = list(&n);
  for (int i = 0; i < n; i++)
    if (!strcmp(name, b[i]->name)) return b[i];
  return NULL;
}

const char *azc_codegen_backend_names(void) {
  static char buf[128];
  int n;
  const azc_codegen_backend_t *const *b = list(&n);
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < n && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", i ? ", " : "", b[i]->name);
  return buf;
}
