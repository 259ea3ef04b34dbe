/* Golden tests on the eager interpreter: every file in ../shared/golden. */
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

int main(void) { return golden_run_all(make_eager, free_graph); }
