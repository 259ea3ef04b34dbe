/* Golden tests on the compiled path: every file in ../shared/golden, with the
 * model compiled in-process (fusion passes, LLVM kernels, the runtime's
 * loader), against llama.cpp's outputs. */
#include <string.h>

#include "tests/codegen/compiled.h"
#include "tests/golden/golden.h"
#include "tests/test.h"

static azc_status_t make_compiled(const char *path, azc_model_t *m, const azc_executor_params_t *p,
                                  azc_executor_t **out, void **state) {
  (void)path;
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 64;
  o.n_ctx = p->n_ctx;
  compiled_model_t *c;
  AZC_RETURN_IF_ERROR(compiled_model_create(m, &o, &c));
  azc_status_t st = compiled_model_executor(c, p, out);
  if (st) {
    compiled_model_free(c);
    return st;
  }
  *state = c;
  return NULL;
}

static void free_state(void *s) { compiled_model_free(s); }

int main(void) { return golden_run_all(make_compiled, free_state); }
