/* Weight layout: chooses, per weight that matmul kernels read, the storage
 * layout its kernel reads fastest on the target; the compiler repacks the
 * weight (codegen/repack.c) and the bundle stores it that way. The layouts
 * are the table in ir/fused.def; which of them the target's kernels read
 * well is the code generator back end's answer (options->layouts), so this
 * pass decides by layout, not by target name. AZC_LAYOUT_GGUF is GGUF's own
 * block layout (zero-copy from the file).
 *
 * Where the target offers AZC_LAYOUT_X8, Q4_0, Q5_0, Q8_0 and Q4_K weights with a
 * multiple of 8 rows get it: rows interleaved by eights, so that the kernel
 * multiplies 8 rows with one broadcast of the activations and scales 8
 * results at once (the per-row, per-block reductions dominated their
 * prefill). Where it offers AZC_LAYOUT_UNPACKED, the other Q4_K weights and
 * Q5_K weights get that: their per-block 6-bit scales and mins stored as
 * plain bytes, which removes the scalar unpacking from every 256-value block
 * of the dot product. A weight that something other than a matmul also
 * reads (a tied embedding table read by get_rows) stays in AZC_LAYOUT_GGUF. */
#include "passes/passes.h"

static bool only_matmul_segments(const azc_ir_graph_t *g, const azc_ir_node_t *w) {
  int uses = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      if (n->inputs[k] != w) continue;
      uses++;
      if (n->op == AZC_OP_MATMUL && k == 1) continue;
      if (n->op != AZC_OP_MATMUL_FUSED) return false;
      azc_mf_layout_t l = azc_mf_layout_of(n);
      if (k < l.w || k >= l.w + l.n_seg) return false;
    }
  }
  return uses > 0;
}

azc_status_t azc_pass_layout(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s) {
  const bool x8 = o->layouts & AZC_LAYOUT_BIT(X8);
  const bool unpacked = o->layouts & AZC_LAYOUT_BIT(UNPACKED);
  for (int32_t i = 0; i < g->n_nodes; i++) {
    azc_ir_node_t *n = g->nodes[i];
    if (n->op != AZC_OP_WEIGHT) continue;
    n->layout = AZC_LAYOUT_GGUF;
    if (!o->layouts || n->rank != 2 || !only_matmul_segments(g, n)) continue;
    const bool by_eights = n->shape[0].c % 8 == 0;
    if (n->dtype == AZC_DTYPE_Q4_K && by_eights && x8)
      n->layout = AZC_LAYOUT_X8;
    else if ((n->dtype == AZC_DTYPE_Q4_K || n->dtype == AZC_DTYPE_Q5_K) && unpacked)
      n->layout = AZC_LAYOUT_UNPACKED;
    else if ((n->dtype == AZC_DTYPE_Q4_0 || n->dtype == AZC_DTYPE_Q5_0 ||
              n->dtype == AZC_DTYPE_Q8_0) &&
             by_eights && n->shape[1].c % 32 == 0 && x8)
      n->layout = AZC_LAYOUT_X8;
    if (n->layout != AZC_LAYOUT_GGUF) s->rewrites++;
  }
  return NULL;
}
