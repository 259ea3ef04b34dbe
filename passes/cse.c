/* Common-subexpression elimination: two live nodes with the same op, inputs,
 * attributes, shape and dtype compute the same value, so later ones are
 * replaced by the first. Weights are the same when they point at the same
 * bytes. Side-effecting nodes and kv caches are never merged. Uses a hash of
 * each node's identity so the pass is linear in the graph size. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "runtime/base/hash.h"

typedef struct key {
  int32_t op, dtype, rank, n_inputs;
  azc_dim_t shape[AZC_IR_MAX_RANK];
  int32_t inputs[AZC_IR_MAX_INPUTS];
  int64_t iattr[AZC_IR_MAX_ATTRS];
  float fattr[AZC_IR_MAX_ATTRS];
  const void *data;
} key_t_;

static void make_key(const azc_ir_node_t *n, key_t_ *k) {
  memset(k, 0, sizeof(*k));
  k->op = n->op;
  k->dtype = n->dtype;
  k->rank = n->rank;
  k->n_inputs = n->n_inputs;
  memcpy(k->shape, n->shape, sizeof(azc_dim_t) * (size_t)n->rank);
  for (int i = 0; i < n->n_inputs; i++) k->inputs[i] = n->inputs[i]->id;
  memcpy(k->iattr, n->iattr, sizeof(k->iattr));
  memcpy(k->fattr, n->fattr, sizeof(k->fattr));
  k->data = n->op == AZC_OP_WEIGHT ? n->data : NULL;
}

azc_status_t azc_pass_cse(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  size_t cap = 16;
  while (cap < (size_t)n * 2) cap *= 2;
  int32_t *table = malloc(cap * sizeof(int32_t));
  if (!table) return AZC_ERR(AZC_OUT_OF_MEMORY, "cse");
  memset(table, -1, cap * sizeof(int32_t));
  for (int32_t i = 0; i < n; i++) g->nodes[i]->id = i;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *x = g->nodes[i];
    if (x->dead || x->op == AZC_OP_KV_CACHE || (azc_op_info(x->op)->flags & AZC_OPF_SIDE_EFFECT) ||
        x->op == AZC_OP_MATMUL_FUSED)
      continue;
    key_t_ kx, ky;
    make_key(x, &kx);
    size_t h = (size_t)azc_hash64(&kx, sizeof(kx)) & (cap - 1);
    for (;;) {
      if (table[h] < 0) {
        table[h] = i;
        break;
      }
      azc_ir_node_t *y = g->nodes[table[h]];
      make_key(y, &ky);
      if (!memcmp(&kx, &ky, sizeof(kx))) {
        azc_ir_replace_uses(g, x, y);
        x->dead = true;
        s->rewrites++;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
  }
  free(table);
  azc_ir_graph_compact(g);
  return NULL;
}
