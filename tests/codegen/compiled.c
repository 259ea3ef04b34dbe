/* In-process compile for tests (see compiled.h). */
#include "tests/codegen/compiled.h"

#include <stdlib.h>

#include "runtime/cpu_exec.h"
#include "runtime/kernel_symbols.h"

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
  const azc_plan_t *p = c->compiled ? c->compiled->plan : NULL;
  if (!st)
    st = azc_code_image_load((const void *const *)c->compiled->objects, c->compiled->object_sizes,
                             p->n_kernels, azc_kernel_resolve, NULL, &c->code);
  if (!st) {
    c->kernels = calloc((size_t)p->n_kernels + 1, sizeof(azk_fn_t));
    if (!c->kernels) st = AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  }
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    void *f = azc_code_image_symbol(c->code, p->kernels[k].symbol);
    if (!f) st = AZC_ERR(AZC_INTERNAL, "kernel %s missing", p->kernels[k].symbol);
    *(void **)&c->kernels[k] = f;
  }
  if (st) {
    compiled_model_free(c);
    return st;
  }
  *out = c;
  return NULL;
}

azc_status_t compiled_model_executor(compiled_model_t *c, const azc_executor_params_t *p,
                                     azc_executor_t **out) {
  return azc_cpu_exec_create(c->compiled->plan, c->kernels, c->compiled->weight_data, p, out);
}
