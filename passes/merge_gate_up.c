/* Gate/up merge: in a gated FFN, act(gate . n) * (up . n) (act: silu for
 * SwiGLU, gelu for Gemma's GeGLU) reads n twice through two matmuls; they
 * become one matmul with two segments (gate, up), which the activation pass
 * then turns into a SwiGLU or GeGLU epilogue. */
#include "passes/merge.h"
#include "passes/match.h"
#include "passes/passes.h"

azc_status_t azc_pass_merge_gate_up(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                    azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *mul = g->nodes[i];
    if (mul->dead || mul->op != AZC_OP_MUL ||
        (mul->inputs[0]->op != AZC_OP_SILU && mul->inputs[0]->op != AZC_OP_GELU))
      continue;
    azc_ir_node_t *gate = mul->inputs[0]->inputs[0], *up = mul->inputs[1];
    if (!merge_is_plain(gate) || !merge_is_plain(up) || gate->inputs[0] != up->inputs[0] ||
        gate->iattr[AZC_MF_BIAS] != up->iattr[AZC_MF_BIAS] ||
        gate->shape[1].c != up->shape[1].c || match_single_user(g, gate) != mul->inputs[0] ||
        match_single_user(g, up) != mul)
      continue;
    azc_ir_node_t *pair[2] = {gate, up};
    AZC_RETURN_IF_ERROR(merge_siblings(g, pair, 2));
    s->rewrites++;
  }
  return NULL;
}
