/* Golden tests on the compiled path: every file in ../shared/golden, with the
 * model compiled in-process (fusion passes, LLVM kernels, the runtime's
 * loader), against llama.cpp's outputs. */
#include <dirent.h>
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

int main(void) {
  char dir[1024];
  if (!test_shared_path(dir, sizeof(dir), "golden")) {
    fprintf(stderr, "SKIPPED golden tests: ../shared/golden is absent\n");
    return 77;
  }
  DIR *d = opendir(dir);
  struct dirent *e;
  int failed = 0, passed = 0;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".json")) continue;
    int rc = golden_check(e->d_name, make_compiled, free_state);
    if (rc == 1) failed++, fprintf(stderr, "FAIL %s\n", e->d_name);
    else if (rc == 0) passed++, fprintf(stderr, "ok   %s\n", e->d_name);
  }
  if (d) closedir(d);
  fprintf(stderr, "%d passed, %d failed\n", passed, failed);
  return failed ? 1 : passed ? 0 : 77;
}
