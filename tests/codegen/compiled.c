/* In-process compile for tests (see compiled.h). */
#include "tests/codegen/compiled.h"

#include <stdlib.h>

#include "runtime/exec_factory.h"

void compiled_model_free(compiled_model_t *c) {
  if (!c) return;
  free(c->kernels);
  azc_code_image_free(c->code);
  azc_compiled_free(c->compiled);
  azc_ir_graph_destroy(c->graph);
  free(c);
}

azc_status_t compiled_model_create(azc_model_t *m, const azc_compile_options_t *opt,
                                   compiled_model_t **out) {
  *out = NULL;
  compiled_model_t *c = calloc(1, sizeof(*c));
  if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  azc_status_t st = azc_model_lower(m, &c->graph);
  if (!st) st = azc_compile_graph(c->graph, m->hp.n_vocab, m->hp.n_ctx_train, opt, &c->compiled);
  if (!st)
    st = azc_cpu_kernels_load(c->compiled->plan, (const void *const *)c->compiled->objects,
                              c->compiled->object_sizes, &c->code, &c->kernels);
  if (st) {
    compiled_model_free(c);
    return st;
  }
  *out = c;
  return NULL;
}

azc_status_t compiled_model_executor(compiled_model_t *c, const azc_executor_params_t *p,
                                     azc_executor_t **out) {
  azc_plan_code_t code = {
      .plan = c->compiled->plan, .weights = c->compiled->weight_data, .cpu_kernels = c->kernels};
  return azc_executor_create_for_plan(&code, p, out);
}
