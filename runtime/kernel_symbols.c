/* Kernel symbol resolution (see kernel_symbols.h): a fixed table, then the
 * ELF loader's default list. Kernels never reach anything else. */
#include "runtime/kernel_symbols.h"

#include <math.h>
#include <string.h>

#include "runtime/elf_loader.h"

static void call_sincos(double x, double *s, double *c) {
  *s = sin(x);
  *c = cos(x);
}
static void call_sincosf(float x, float *s, float *c) {
  *s = sinf(x);
  *c = cosf(x);
}

void *azc_kernel_resolve(void *user, const char *name) {
  static const struct {
    const char *name;
    void *fn;
  } table[] = {
      {"sin", (void *)sin},       {"cos", (void *)cos},   {"sincos", (void *)call_sincos},
      {"sincosf", (void *)call_sincosf}, {"pow", (void *)pow}, {"exp", (void *)exp},
      {"sqrt", (void *)sqrt},     {"tanh", (void *)tanh},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (!strcmp(table[i].name, name)) return table[i].fn;
  return azc_elf_default_resolve(user, name);
}
