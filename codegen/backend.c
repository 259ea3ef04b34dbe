/* The registry of code-generator back ends built into azc (see backend.h):
 * a new back end adds its table here. */
#include "codegen/backend.h"

#include <stdio.h>
#include <string.h>

extern const azc_codegen_backend_t azc_codegen_cpu_backend; /* codegen/cpu/backend_cpu.c */

static const azc_codegen_backend_t *const backends[] = {&azc_codegen_cpu_backend};

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
