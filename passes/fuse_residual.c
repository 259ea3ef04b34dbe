/* Residual add -> matmul epilogue: x + W h (attention output and FFN down
 * projections) is done as the matmul stores its result, so the projection's
 * output is never written separately. */
#include "passes/match.h"
#include "passes/passes.h"

azc_status_t azc_pass_fuse_residual(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                    azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *add = g->nodes[i];
    if (add->dead || add->op != AZC_OP_ADD || add->inputs[1]->rank != 2) continue;
    for (int side = 0; side < 2; side++) {
      azc_ir_node_t *m = add->inputs[side], *r = add->inputs[1 - side];
      if (m->op != AZC_OP_MATMUL_FUSED || m->dead || m->iattr[AZC_MF_EPILOGUE] != AZC_EPI_NONE ||
          match_single_user(g, m) != add || r == m)
        continue;
      mf_parts_t p;
      mf_parts_from(m, &p);
      p.iattr[AZC_MF_EPILOGUE] = AZC_EPI_RESIDUAL;
      p.residual = r;
      azc_ir_node_t *f = mf_build(g, &p, m);
      if (!f) return azc_ir_graph_status(g);
      m->dead = true;
      match_replace(g, add, f);
      s->rewrites++;
      break;
    }
  }
  return NULL;
}
