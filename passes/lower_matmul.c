/* matmul -> matmul_fused: every matmul becomes a one-segment matmul_fused,
 * taking a following bias add (a constant f32 row of the output's width)
 * into it. The later fusion passes only ever grow matmul_fused nodes, so one
 * kernel family covers every projection. */
#include "passes/match.h"
#include "passes/passes.h"

azc_status_t azc_pass_lower_matmul(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *m = g->nodes[i];
    if (m->dead || m->op != AZC_OP_MATMUL) continue;
    mf_parts_t p = {0};
    p.iattr[AZC_MF_NSEG] = 1;
    p.x = m->inputs[0];
    p.w[0] = m->inputs[1];
    azc_ir_node_t *replaced = m, *u = match_single_user(g, m);
    if (u && u->op == AZC_OP_ADD && u->inputs[0] == m && match_is_vector_weight(u->inputs[1])) {
      p.iattr[AZC_MF_BIAS] = 1;
      p.bias[0] = u->inputs[1];
      replaced = u;
    }
    azc_ir_node_t *f = mf_build(g, &p, replaced);
    if (!f) return azc_ir_graph_status(g);
    match_replace(g, replaced, f);
    if (replaced != m) m->dead = true;
    s->rewrites++;
  }
  return NULL;
}
