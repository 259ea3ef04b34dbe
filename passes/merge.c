/* Sibling matmul merging (see merge.h). The merged node reads x once and
 * computes all segments; SLICE nodes hand each former user its columns, and
 * the epilogue passes later consume those slices. */
#include "passes/merge.h"

#include "passes/match.h"

bool merge_is_plain(const azc_ir_node_t *n) {
  return n->op == AZC_OP_MATMUL_FUSED && !n->dead && n->iattr[AZC_MF_NSEG] == 1 &&
         n->iattr[AZC_MF_PROLOGUE] == AZC_PRO_NONE && n->iattr[AZC_MF_EPILOGUE] == AZC_EPI_NONE;
}

azc_status_t merge_siblings(azc_ir_graph_t *g, azc_ir_node_t **parts, int n) {
  mf_parts_t p = {0};
  p.iattr[AZC_MF_NSEG] = n;
  p.iattr[AZC_MF_BIAS] = parts[0]->iattr[AZC_MF_BIAS];
  p.x = parts[0]->inputs[0];
  for (int i = 0; i < n; i++) {
    mf_parts_t q;
    mf_parts_from(parts[i], &q);
    p.w[i] = q.w[0];
    p.bias[i] = q.bias[0];
  }
  azc_ir_node_t *f = mf_build(g, &p, parts[0]);
  if (!f) return azc_ir_graph_status(g);
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    int64_t width = parts[i]->shape[1].c;
    int32_t saved = g->cur_layer;
    g->cur_layer = parts[i]->layer;
    azc_ir_node_t *sl = azc_ir_slice(g, f, off, width);
    g->cur_layer = saved;
    if (!sl) return azc_ir_graph_status(g);
    sl->name = parts[i]->name;
    match_replace(g, parts[i], sl);
    off += width;
  }
  return NULL;
}
