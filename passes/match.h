/* Helpers shared by the pattern passes: use counts, single users, and making
 * a matmul_fused node from parts. Internal to passes/. */
#ifndef AZC_PASSES_MATCH_H
#define AZC_PASSES_MATCH_H

#include "ir/ir.h"

/* The only user of n, or NULL when n has zero or several. */
azc_ir_node_t *match_single_user(const azc_ir_graph_t *g, const azc_ir_node_t *n);
/* n is a weight (constant) of f32 type and rank 1 */
bool match_is_vector_weight(const azc_ir_node_t *n);

/* The parts of a matmul_fused, as a pass assembles them. */
typedef struct mf_parts {
  int64_t iattr[AZC_IR_MAX_ATTRS];
  float fattr[AZC_IR_MAX_ATTRS];
  azc_ir_node_t *x, *norm_w, *norm_b, *w[4], *bias[4], *residual;
  azc_ir_node_t *pos, *seq, *k_cache, *v_cache, *factors, *q_norm, *k_norm;
} mf_parts_t;

void mf_parts_from(const azc_ir_node_t *n, mf_parts_t *p);
/* Builds the node (layer and name copied from `like`); NULL on error (graph error set). */
azc_ir_node_t *mf_build(azc_ir_graph_t *g, const mf_parts_t *p, const azc_ir_node_t *like);
/* Replaces every use of old by new_node, marks old dead. */
void match_replace(azc_ir_graph_t *g, azc_ir_node_t *old, azc_ir_node_t *new_node);

#endif
