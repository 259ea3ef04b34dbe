/* The pass pipeline: one pass per file, run as one flat list, top to bottom.
 *
 * Every pass takes the graph and rewrites it in place: pattern passes build
 * the fused node, point the old node's users at it and mark the replaced
 * nodes dead; the driver then restores topological order, drops dead nodes
 * and (when verify is set, the default in debug builds) runs the verifier, so
 * a pass that breaks the graph is named right away. The IR after any pass
 * can be dumped by name (--dump-after=NAME, or "all").
 *
 * The fused ops (matmul_fused, flash_attn) are interpreted by the eager
 * executor too, so every stage of the pipeline runs and can be compared with
 * the unfused graph; the code generators read the same fused nodes. */
#ifndef AZC_PASSES_PASSES_H
#define AZC_PASSES_PASSES_H

#include <stdbool.h>
#include <stdio.h>

#include "ir/ir.h"

typedef struct azc_pass_options {
  int64_t n_batch;        /* most tokens per forward call: sizes the memory plan */
  int64_t n_out;          /* most logits rows per call */
  int64_t n_ctx;          /* positions per sequence (bounds unfused attention scores) */
  bool verify;            /* run the verifier after every pass */
  const char *stop_after; /* stop the pipeline after this pass (NULL: run all) */
  const char *dump_after; /* print the IR after this pass ("all": after each) */
  FILE *dump_out;
  bool fuse; /* false: run only the cleanup and planning passes */
  /* the weight layouts the target's kernels read fastest, AZC_LAYOUT_BIT()s
   * (the code generator's back end says which; 0: every weight as in GGUF) */
  uint32_t layouts;
} azc_pass_options_t;

azc_pass_options_t azc_pass_options_default(void);

typedef struct azc_pass_stats {
  int rewrites; /* patterns rewritten / nodes removed */
} azc_pass_stats_t;

typedef azc_status_t (*azc_pass_fn_t)(azc_ir_graph_t *g, const azc_pass_options_t *opt,
                                      azc_pass_stats_t *stats);

typedef struct azc_pass {
  const char *name;
  azc_pass_fn_t run;
  bool fusion; /* skipped when options.fuse is false */
  const char *doc;
} azc_pass_t;

/* The pipeline, in order. */
const azc_pass_t *azc_pass_list(int *count);
const azc_pass_t *azc_pass_find(const char *name);

/* Runs the pipeline. Reports one line per pass through log (may be NULL). */
azc_status_t azc_passes_run(azc_ir_graph_t *g, const azc_pass_options_t *opt,
                            void (*log)(void *user, const azc_pass_t *pass,
                                        const azc_pass_stats_t *stats, double ms),
                            void *user);

/* The passes (one file each). */
azc_status_t azc_pass_infer_shapes(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *s);
azc_status_t azc_pass_dce(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s);
azc_status_t azc_pass_cse(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s);
azc_status_t azc_pass_lower_matmul(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *s);
azc_status_t azc_pass_merge_qkv(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                azc_pass_stats_t *s);
azc_status_t azc_pass_merge_gate_up(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                    azc_pass_stats_t *s);
azc_status_t azc_pass_fuse_norm(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                azc_pass_stats_t *s);
azc_status_t azc_pass_fuse_attention(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                     azc_pass_stats_t *s);
azc_status_t azc_pass_fuse_rope_kv(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *s);
azc_status_t azc_pass_fuse_activation(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                      azc_pass_stats_t *s);
azc_status_t azc_pass_fuse_residual(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                    azc_pass_stats_t *s);
azc_status_t azc_pass_layout(azc_ir_graph_t *g, const azc_pass_options_t *o, azc_pass_stats_t *s);
azc_status_t azc_pass_memory_plan(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                  azc_pass_stats_t *s);

#endif
