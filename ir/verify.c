/* The verifier: run after lowering and after every pass in debug builds. It
 * checks structure (ids, topological order, arity, no dead inputs), re-infers
 * every shape and dtype and compares with what the node holds, and checks
 * weights (data present, byte size matching type and shape) and kv caches
 * (one per layer and kind). */
#include <string.h>

#include "ir/ir.h"

static bool shape_eq(const azc_ir_node_t *n, int32_t rank, const azc_dim_t *shape) {
  if (n->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (!azc_dim_eq(n->shape[i], shape[i])) return false;
  return true;
}

azc_status_t azc_ir_verify(const azc_ir_graph_t *g) {
  int n_outputs = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    const azc_op_info_t *info = azc_op_info(n->op);
    if (!info) return AZC_ERR(AZC_INTERNAL, "verify: node %d has unknown op %d", i, (int)n->op);
    if (n->id != i) return AZC_ERR(AZC_INTERNAL, "verify: node at %d has id %d", i, n->id);
    if (n->dead) return AZC_ERR(AZC_INTERNAL, "verify: dead node %%%d still in the graph", i);
    if (n->n_inputs < info->min_inputs || n->n_inputs > info->max_inputs)
      return AZC_ERR(AZC_INTERNAL, "verify: %%%d %s has %d inputs, expected %d..%d", i, info->name,
                     n->n_inputs, info->min_inputs, info->max_inputs);
    for (int k = 0; k < n->n_inputs; k++) {
      const azc_ir_node_t *in = n->inputs[k];
      if (!in || in->dead || in->id >= i || g->nodes[in->id] != in)
        return AZC_ERR(AZC_INTERNAL, "verify: %%%d %s input %d is not an earlier live node", i,
                       info->name, k);
    }
    int32_t rank;
    azc_dim_t shape[AZC_IR_MAX_RANK];
    azc_dtype_t dtype;
    AZC_RETURN_IF_ERROR_CTX(azc_ir_infer(n, &rank, shape, &dtype), "verify");
    if (!shape_eq(n, rank, shape) || dtype != n->dtype)
      return AZC_ERR(AZC_INTERNAL, "verify: %%%d %s holds a shape or dtype that its inputs do not give",
                     i, info->name);
    if (n->op == AZC_OP_WEIGHT) {
      const azc_dtype_info_t *ti = azc_dtype_info(n->dtype);
      uint64_t rows = 1;
      for (int d = 0; d + 1 < n->rank; d++) rows *= (uint64_t)n->shape[d].c;
      uint64_t want = ti ? rows * azc_dtype_row_size(n->dtype, n->shape[n->rank - 1].c) : 0;
      if (!n->name || !n->data || !ti || n->nbytes != want)
        return AZC_ERR(AZC_INTERNAL, "verify: weight %%%d %s: %llu bytes, type and shape need %llu",
                       i, n->name ? n->name : "?", (unsigned long long)n->nbytes,
                       (unsigned long long)want);
    }
    if (n->op == AZC_OP_KV_CACHE)
      for (int32_t j = 0; j < i; j++) {
        const azc_ir_node_t *m = g->nodes[j];
        if (m->op == AZC_OP_KV_CACHE && m->iattr[0] == n->iattr[0] && m->iattr[1] == n->iattr[1])
          return AZC_ERR(AZC_INTERNAL, "verify: two kv caches for layer %lld kind %lld",
                         (long long)n->iattr[0], (long long)n->iattr[1]);
      }
    if (n->op == AZC_OP_OUTPUT) n_outputs++;
  }
  if (n_outputs == 0) return AZC_ERR(AZC_INTERNAL, "verify: graph has no output");
  return NULL;
}
