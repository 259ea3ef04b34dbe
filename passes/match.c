/* Pattern helpers for the passes (see match.h). */
#include "passes/match.h"

#include <string.h>

azc_ir_node_t *match_single_user(const azc_ir_graph_t *g, const azc_ir_node_t *n) {
  azc_ir_node_t *u[2];
  int k = azc_ir_users(g, n, u, 2);
  if (k != 1) return NULL;
  /* a user that reads n twice is still one user, but is not a simple chain */
  int reads = 0;
  for (int i = 0; i < u[0]->n_inputs; i++) reads += u[0]->inputs[i] == n;
  return reads == 1 ? u[0] : NULL;
}

bool match_is_vector_weight(const azc_ir_node_t *n) {
  return n->op == AZC_OP_WEIGHT && n->dtype == AZC_DTYPE_F32 && n->rank == 1;
}

void mf_parts_from(const azc_ir_node_t *n, mf_parts_t *p) {
  memset(p, 0, sizeof(*p));
  memcpy(p->iattr, n->iattr, sizeof(p->iattr));
  memcpy(p->fattr, n->fattr, sizeof(p->fattr));
  azc_mf_layout_t l = azc_mf_layout_of(n);
  azc_ir_node_t *const *in = n->inputs;
  p->x = in[l.x];
  if (l.norm_w >= 0) p->norm_w = in[l.norm_w];
  if (l.norm_b >= 0) p->norm_b = in[l.norm_b];
  for (int s = 0; s < l.n_seg; s++) {
    p->w[s] = in[l.w + s];
    if (l.bias >= 0) p->bias[s] = in[l.bias + s];
  }
  if (l.residual >= 0) p->residual = in[l.residual];
  if (l.pos >= 0) {
    p->pos = in[l.pos];
    p->seq = in[l.seq];
    p->k_cache = in[l.k_cache];
    p->v_cache = in[l.v_cache];
  }
  if (l.factors >= 0) p->factors = in[l.factors];
  if (l.q_norm >= 0) {
    p->q_norm = in[l.q_norm];
    p->k_norm = in[l.k_norm];
  }
}

azc_ir_node_t *mf_build(azc_ir_graph_t *g, const mf_parts_t *p, const azc_ir_node_t *like) {
  azc_mf_layout_t l = azc_mf_layout(p->iattr, p->factors != NULL);
  azc_ir_node_t *in[AZC_IR_MAX_INPUTS] = {0};
  in[l.x] = p->x;
  if (l.norm_w >= 0) in[l.norm_w] = p->norm_w;
  if (l.norm_b >= 0) in[l.norm_b] = p->norm_b;
  for (int s = 0; s < l.n_seg; s++) {
    in[l.w + s] = p->w[s];
    if (l.bias >= 0) in[l.bias + s] = p->bias[s];
  }
  if (l.residual >= 0) in[l.residual] = p->residual;
  if (l.pos >= 0) {
    in[l.pos] = p->pos;
    in[l.seq] = p->seq;
    in[l.k_cache] = p->k_cache;
    in[l.v_cache] = p->v_cache;
  }
  if (l.factors >= 0) in[l.factors] = p->factors;
  if (l.q_norm >= 0) {
    in[l.q_norm] = p->q_norm;
    in[l.k_norm] = p->k_norm;
  }
  int32_t saved = g->cur_layer;
  g->cur_layer = like->layer;
  azc_ir_node_t *n = azc_ir_add(g, AZC_OP_MATMUL_FUSED, l.n_inputs, in, p->iattr, p->fattr);
  g->cur_layer = saved;
  if (n) n->name = like->name;
  return n;
}

void match_replace(azc_ir_graph_t *g, azc_ir_node_t *old, azc_ir_node_t *new_node) {
  azc_ir_replace_uses(g, old, new_node);
  old->dead = true;
}
