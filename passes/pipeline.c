/* The pass list and its driver (see passes.h). After each pass the driver
 * removes what became unreachable, restores topological order and, when
 * asked, verifies and dumps the graph. */
#include <string.h>

#include "passes/passes.h"
#include "runtime/base/util.h"

static const azc_pass_t pass_list[] = {
    {"infer-shapes", azc_pass_infer_shapes, false, "recompute every shape and dtype"},
    {"dce", azc_pass_dce, false, "drop nodes that reach no output or side effect"},
    {"cse", azc_pass_cse, false, "merge identical nodes"},
    {"lower-matmul", azc_pass_lower_matmul, true, "matmul (+ bias) -> matmul_fused"},
    {"merge-qkv", azc_pass_merge_qkv, true, "q, k, v projections of one input -> one matmul"},
    {"merge-gate-up", azc_pass_merge_gate_up, true, "gate and up projections -> one matmul"},
    {"fuse-norm", azc_pass_fuse_norm, true, "rmsnorm/layernorm -> prologue of the matmul"},
    {"fuse-attention", azc_pass_fuse_attention, true, "scores..softmax..values -> flash_attn"},
    {"fuse-rope-kv", azc_pass_fuse_rope_kv, true, "rope + kv cache write -> qkv epilogue"},
    {"fuse-activation", azc_pass_fuse_activation, true, "swiglu / gelu -> matmul epilogue"},
    {"fuse-residual", azc_pass_fuse_residual, true, "residual add -> matmul epilogue"},
    {"layout", azc_pass_layout, false, "choose each weight's storage layout for the target"},
    {"memory-plan", azc_pass_memory_plan, false, "liveness -> one arena with offsets"},
};

azc_pass_options_t azc_pass_options_default(void) {
  azc_pass_options_t o;
  memset(&o, 0, sizeof(o));
  o.n_batch = 512;
  o.n_out = 512;
  o.n_ctx = 2048;
#ifdef NDEBUG
  o.verify = false;
#else
  o.verify = true;
#endif
  o.fuse = true;
  return o;
}

const azc_pass_t *azc_pass_list(int *count) {
  *count = (int)AZC_ARRAY_SIZE(pass_list);
  return pass_list;
}

const azc_pass_t *azc_pass_find(const char *name) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(pass_list); i++)
    if (!strcmp(pass_list[i].name, name)) return &pass_list[i];
  return NULL;
}

azc_status_t azc_passes_run(azc_ir_graph_t *g, const azc_pass_options_t *opt,
                            void (*log)(void *user, const azc_pass_t *pass,
                                        const azc_pass_stats_t *stats, double ms),
                            void *user) {
  if (opt->dump_after && strcmp(opt->dump_after, "all") && !azc_pass_find(opt->dump_after))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "no pass named '%s' (see azc inspect --passes)",
                   opt->dump_after);
  if (opt->stop_after && !azc_pass_find(opt->stop_after))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "no pass named '%s'", opt->stop_after);
  for (size_t i = 0; i < AZC_ARRAY_SIZE(pass_list); i++) {
    const azc_pass_t *p = &pass_list[i];
    if (p->fusion && !opt->fuse) continue;
    azc_pass_stats_t stats = {0};
    double t0 = azc_time_ms();
    azc_status_t st = p->run(g, opt, &stats);
    if (!st) st = azc_ir_graph_status(g);
    if (st) return azc_status_wrap(st, "pass %s", p->name);
    if (strcmp(p->name, "memory-plan")) {
      /* leftovers of rewritten patterns become unreachable: drop them */
      azc_pass_stats_t dce_stats = {0};
      AZC_RETURN_IF_ERROR_CTX(azc_pass_dce(g, opt, &dce_stats), "cleanup after %s", p->name);
      azc_ir_graph_toposort(g);
    }
    if (opt->verify) AZC_RETURN_IF_ERROR_CTX(azc_ir_verify(g), "after pass %s", p->name);
    if (log) log(user, p, &stats, azc_time_ms() - t0);
    if (opt->dump_after && (!strcmp(opt->dump_after, "all") || !strcmp(opt->dump_after, p->name))) {
      FILE *out = opt->dump_out ? opt->dump_out : stdout;
      fprintf(out, "// IR after %s (%d nodes)\n", p->name, g->n_nodes);
      azc_ir_print(g, out);
    }
    if (opt->stop_after && !strcmp(opt->stop_after, p->name)) break;
  }
  return NULL;
}
