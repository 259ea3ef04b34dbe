/* Norm -> matmul prologue: a matmul_fused whose input is rmsnorm(y) * w (or
 * layernorm(y) * w + b) takes y instead and normalizes each row itself, so
 * the normalized activations never go to memory. Every matmul reading the
 * same norm gets its own prologue (after the merges there is usually one). */
#include "passes/match.h"
#include "passes/passes.h"

azc_status_t azc_pass_fuse_norm(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *m = g->nodes[i];
    if (m->dead || m->op != AZC_OP_MATMUL_FUSED || m->iattr[AZC_MF_PROLOGUE] != AZC_PRO_NONE)
      continue;
    mf_parts_t p;
    mf_parts_from(m, &p);
    azc_ir_node_t *x = p.x, *bias = NULL;
    if (x->op == AZC_OP_ADD && match_is_vector_weight(x->inputs[1])) {
      bias = x->inputs[1];
      x = x->inputs[0];
    }
    if (x->op != AZC_OP_MUL || !match_is_vector_weight(x->inputs[1])) continue;
    azc_ir_node_t *norm = x->inputs[0], *w = x->inputs[1];
    if (norm->op == AZC_OP_RMS_NORM && !bias) p.iattr[AZC_MF_PROLOGUE] = AZC_PRO_RMS;
    else if (norm->op == AZC_OP_LAYER_NORM && bias) p.iattr[AZC_MF_PROLOGUE] = AZC_PRO_LAYER;
    else continue;
    p.x = norm->inputs[0];
    p.norm_w = w;
    p.norm_b = bias;
    p.fattr[AZC_MF_EPS] = norm->fattr[0];
    azc_ir_node_t *f = mf_build(g, &p, m);
    if (!f) return azc_ir_graph_status(g);
    match_replace(g, m, f);
    s->rewrites++;
  }
  return NULL;
}
