/* Attention -> flash_attn: attn_values(softmax(causal_mask([softcap](scale(
 * attn_scores(q, k))), pos)), v) becomes one flash_attn node, the mask's
 * sliding window and the soft-cap as its attributes. Its kernels
 * keep a running maximum and sum (online softmax) and never store the
 * T x (P+T) score matrix. Every intermediate must have the chain as its only
 * user. */
#include "passes/match.h"
#include "passes/passes.h"

azc_status_t azc_pass_fuse_attention(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                     azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *av = g->nodes[i];
    if (av->dead || av->op != AZC_OP_ATTN_VALUES) continue;
    azc_ir_node_t *sm = av->inputs[0];
    if (sm->op != AZC_OP_SOFTMAX || match_single_user(g, sm) != av) continue;
    azc_ir_node_t *mask = sm->inputs[0];
    if (mask->op != AZC_OP_CAUSAL_MASK || match_single_user(g, mask) != sm) continue;
    azc_ir_node_t *sc = mask->inputs[0];
    float scale = 1.0f, softcap = 0.0f;
    if (sc->op == AZC_OP_SOFTCAP) {
      if (match_single_user(g, sc) != mask) continue;
      softcap = sc->fattr[0];
      sc = sc->inputs[0];
    }
    if (sc->op == AZC_OP_SCALE) {
      if (azc_ir_count_uses(g, sc) != 1) continue;
      scale = sc->fattr[0];
      sc = sc->inputs[0];
    }
    if (sc->op != AZC_OP_ATTN_SCORES || azc_ir_count_uses(g, sc) != 1) continue;
    if (sc->inputs[2] != av->inputs[2]) continue; /* same sequence ids */
    azc_ir_node_t *in[5] = {sc->inputs[0], sc->inputs[1], av->inputs[1], mask->inputs[1],
                            av->inputs[2]};
    int64_t ia[AZC_IR_MAX_ATTRS] = {mask->iattr[0]};
    float fa[AZC_IR_MAX_ATTRS] = {scale, softcap};
    int32_t saved = g->cur_layer;
    g->cur_layer = av->layer;
    azc_ir_node_t *f = azc_ir_add(g, AZC_OP_FLASH_ATTN, 5, in, ia, fa);
    g->cur_layer = saved;
    if (!f) return azc_ir_graph_status(g);
    match_replace(g, av, f);
    s->rewrites++;
  }
  return NULL;
}
