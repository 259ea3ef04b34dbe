/* Golden tests on the eager interpreter: every file in ../shared/golden. */
#include <dirent.h>
#include <string.h>

#include "ir/interp.h"
#include "tests/golden/golden.h"
#include "tests/test.h"

static azc_status_t make_eager(const char *path, azc_model_t *m, const azc_executor_params_t *p,
                               azc_executor_t **out, void **state) {
  azc_ir_graph_t *g;
  AZC_RETURN_IF_ERROR(azc_model_lower(m, &g));
  azc_status_t st = azc_ir_interp_create(g, p, out);
  if (st) {
    azc_ir_graph_destroy(g);
    return st;
  }
  *state = g;
  (void)path;
  return NULL;
}

static void free_graph(void *g) { azc_ir_graph_destroy(g); }

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
    int rc = golden_check(e->d_name, make_eager, free_graph);
    if (rc == 1) failed++, fprintf(stderr, "FAIL %s\n", e->d_name);
    else if (rc == 0) passed++, fprintf(stderr, "ok   %s\n", e->d_name);
  }
  if (d) closedir(d);
  fprintf(stderr, "%d passed, %d failed\n", passed, failed);
  return failed ? 1 : passed ? 0 : 77;
}
