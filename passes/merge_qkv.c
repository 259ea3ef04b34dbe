/* QKV merge: the q, k and v projections of one normalized input become one
 * matmul with three segments (q, k, v in that order), so the input is read
 * once and one kernel runs instead of three. A projection's role is read off
 * what consumes it: k and v reach kv_write (K and V cache), q reaches
 * attention (through reshapes, q/k norms and rope). Weights may have different types (Q4_K_M files often store v
 * in Q6_K): each segment keeps its own. */
#include "passes/merge.h"
#include "passes/match.h"
#include "passes/passes.h"

/* Follows reshape, rope and per-head norm (rms_norm, then mul by a weight
 * row: Qwen3's and Gemma 3's q/k norms) chains to the first other consumer. */
static const azc_ir_node_t *consumer(const azc_ir_graph_t *g, const azc_ir_node_t *n) {
  for (int hops = 0; hops < 6 && n; hops++) {
    azc_ir_node_t *u = match_single_user(g, n);
    if (!u) return NULL;
    bool norm_weight = u->op == AZC_OP_MUL && u->inputs[0] == n && match_is_vector_weight(u->inputs[1]);
    if (u->op != AZC_OP_RESHAPE && u->op != AZC_OP_ROPE && u->op != AZC_OP_RMS_NORM && !norm_weight)
      return u;
    n = u;
  }
  return NULL;
}

/* 0 = q, 1 = k, 2 = v, -1 = not an attention projection */
static int role(const azc_ir_graph_t *g, const azc_ir_node_t *n) {
  const azc_ir_node_t *c = consumer(g, n);
  if (!c) return -1;
  if (c->op == AZC_OP_KV_WRITE) return c->inputs[0]->iattr[1] == AZC_KV_K ? 1 : 2;
  if ((c->op == AZC_OP_ATTN_SCORES || c->op == AZC_OP_FLASH_ATTN)) return 0;
  return -1;
}

azc_status_t azc_pass_merge_qkv(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                azc_pass_stats_t *s) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *a = g->nodes[i];
    if (!merge_is_plain(a)) continue;
    azc_ir_node_t *qkv[3] = {0};
    for (int32_t j = i; j < n; j++) {
      azc_ir_node_t *b = g->nodes[j];
      if (!merge_is_plain(b) || b->inputs[0] != a->inputs[0] ||
          b->iattr[AZC_MF_BIAS] != a->iattr[AZC_MF_BIAS])
        continue;
      int r = role(g, b);
      if (r >= 0 && !qkv[r]) qkv[r] = b;
    }
    if (!qkv[0] || !qkv[1] || !qkv[2]) continue;
    AZC_RETURN_IF_ERROR(merge_siblings(g, qkv, 3));
    s->rewrites++;
  }
  return NULL;
}
