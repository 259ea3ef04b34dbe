/* Dead-code elimination: keeps what reaches a graph output or a side effect
 * (kv cache writes, including matmul_fused's rope/kv epilogue) and drops the
 * rest. The driver also runs it after every pattern pass to remove the
 * leftovers of rewritten patterns. */
#include <stdlib.h>

#include "passes/passes.h"

static bool is_root(const azc_ir_node_t *n) {
  if (azc_op_info(n->op)->flags & AZC_OPF_SIDE_EFFECT) return true;
  return n->op == AZC_OP_MATMUL_FUSED && n->iattr[AZC_MF_EPILOGUE] == AZC_EPI_ROPE_KV;
}

azc_status_t azc_pass_dce(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s) {
  (void)o;
  azc_ir_graph_toposort(g); /* passes append nodes; liveness needs the order */
  int32_t n = g->n_nodes;
  if (!n) return NULL;
  bool *live = calloc((size_t)n, sizeof(bool));
  if (!live) return AZC_ERR(AZC_OUT_OF_MEMORY, "dce");
  /* nodes are in topological order (dead ones aside): walk backwards */
  for (int32_t i = n - 1; i >= 0; i--) {
    azc_ir_node_t *x = g->nodes[i];
    if (x->dead) continue;
    if (is_root(x)) live[i] = true;
    if (!live[i]) continue;
    for (int k = 0; k < x->n_inputs; k++) live[x->inputs[k]->id] = true;
  }
  for (int32_t i = 0; i < n; i++)
    if (!live[i] && !g->nodes[i]->dead) {
      g->nodes[i]->dead = true;
      s->rewrites++;
    }
  free(live);
  azc_ir_graph_compact(g);
  return NULL;
}
