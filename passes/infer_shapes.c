/* Shape/dtype inference: recomputes every node's shape and dtype from its
 * inputs, in order. Lowering already inferred them; running it as a pass
 * makes every later pass start from shapes that agree with the op table
 * (a rewrite that changes an input's shape shows up here, by name). */
#include <string.h>

#include "passes/passes.h"

azc_status_t azc_pass_infer_shapes(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *s) {
  (void)o;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    azc_ir_node_t *n = g->nodes[i];
    int32_t rank;
    azc_dim_t shape[AZC_IR_MAX_RANK];
    azc_dtype_t dtype;
    AZC_RETURN_IF_ERROR(azc_ir_infer(n, &rank, shape, &dtype));
    bool changed = rank != n->rank || dtype != n->dtype;
    for (int d = 0; !changed && d < rank; d++) changed = !azc_dim_eq(shape[d], n->shape[d]);
    if (changed) {
      n->rank = rank;
      n->dtype = dtype;
      memcpy(n->shape, shape, sizeof(azc_dim_t) * (size_t)rank);
      s->rewrites++;
    }
  }
  return NULL;
}
