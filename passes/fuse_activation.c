/* Activation -> matmul epilogue: act(gate) * up, where gate and up are the
 * two segments of a merged gate/up matmul or the two halves of one matmul
 * (Phi-3 stores gate|up as one tensor), becomes a SwiGLU (act = silu) or
 * GeGLU (act = gelu, Gemma) epilogue: the matmul returns the product, half
 * the columns. gelu(matmul) becomes a GELU epilogue. Either way the wide FFN
 * intermediate is written once instead of three times. */
#include "passes/match.h"
#include "passes/passes.h"

static bool is_open(const azc_ir_node_t *m) {
  return m->op == AZC_OP_MATMUL_FUSED && !m->dead && m->iattr[AZC_MF_EPILOGUE] == AZC_EPI_NONE;
}

azc_status_t azc_pass_fuse_activation(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                      azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *x = g->nodes[i];
    if (x->dead) continue;
    if (x->op == AZC_OP_GELU && is_open(x->inputs[0]) && match_single_user(g, x->inputs[0]) == x) {
      mf_parts_t p;
      mf_parts_from(x->inputs[0], &p);
      p.iattr[AZC_MF_EPILOGUE] = AZC_EPI_GELU;
      azc_ir_node_t *f = mf_build(g, &p, x->inputs[0]);
      if (!f) return azc_ir_graph_status(g);
      x->inputs[0]->dead = true;
      match_replace(g, x, f);
      s->rewrites++;
      continue;
    }
    if (x->op != AZC_OP_MUL || (x->inputs[0]->op != AZC_OP_SILU && x->inputs[0]->op != AZC_OP_GELU))
      continue;
    azc_ir_node_t *act = x->inputs[0], *gs = act->inputs[0], *us = x->inputs[1];
    if (gs->op != AZC_OP_SLICE || us->op != AZC_OP_SLICE || gs->inputs[0] != us->inputs[0]) continue;
    azc_ir_node_t *m = gs->inputs[0];
    /* two segments of one width (merged gate, up), or one segment's halves */
    const int64_t nseg = m->iattr[AZC_MF_NSEG], half = m->shape[1].c / 2;
    if (!is_open(m) || nseg > 2 || m->shape[1].c % 2 || azc_ir_count_uses(g, m) != 2) continue;
    if (nseg == 2 && m->inputs[azc_mf_layout_of(m).w]->shape[0].c != half) continue;
    if (gs->iattr[0] != 0 || gs->iattr[1] != half || us->iattr[0] != half || us->iattr[1] != half)
      continue;
    if (match_single_user(g, act) != x || match_single_user(g, gs) != act ||
        match_single_user(g, us) != x)
      continue;
    mf_parts_t p;
    mf_parts_from(m, &p);
    p.iattr[AZC_MF_EPILOGUE] = act->op == AZC_OP_GELU ? AZC_EPI_GEGLU : AZC_EPI_SWIGLU;
    azc_ir_node_t *f = mf_build(g, &p, m);
    if (!f) return azc_ir_graph_status(g);
    m->dead = true;
    match_replace(g, x, f);
    s->rewrites++;
  }
  return NULL;
}
