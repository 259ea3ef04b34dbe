/* Weight layout: chooses, per weight that a matmul_fused reads, the storage
 * layout its kernel wants on the target. The bundle writer repacks weights
 * into the chosen layout; kernels are generated for it. Layout 0 is GGUF's
 * own block layout (what the file holds, zero-copy from the bundle). */
#include <string.h>

#include "passes/passes.h"

azc_status_t azc_pass_layout(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s) {
  (void)o;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    azc_ir_node_t *n = g->nodes[i];
    if (n->op == AZC_OP_WEIGHT) n->layout = 0;
  }
  (void)s;
  return NULL;
}
