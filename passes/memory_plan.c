/* Memory planning: every activation lives in one arena at a fixed offset.
 * Sizes are evaluated at the largest step the plan serves (T = n_batch
 * tokens, O = n_out logits rows, P + T = n_ctx keys); each value is live from
 * the node that makes it to its last reader (a reshape shares its input's
 * storage and extends its life); values are placed largest first at the
 * lowest offset that does not overlap a value live at the same time. The
 * arena's size is the peak, reported by `azc compile`. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "runtime/base/util.h"

typedef struct value {
  int32_t node, start, end;
  int64_t size, offset;
} value_t;

static bool needs_storage(const azc_ir_node_t *n) {
  switch (n->op) {
  case AZC_OP_INPUT:
  case AZC_OP_WEIGHT:
  case AZC_OP_KV_CACHE:
  case AZC_OP_KV_WRITE:
  case AZC_OP_OUTPUT:
  case AZC_OP_RESHAPE: return false;
  default: return true;
  }
}

static int by_size(const void *a, const void *b) {
  const value_t *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->start - y->start;
}

azc_status_t azc_pass_memory_plan(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                  azc_pass_stats_t *s) {
  int32_t n = g->n_nodes;
  int64_t T = o->n_batch, O = AZC_MIN(o->n_out, o->n_batch);
  int64_t syms[AZC_SYM_COUNT] = {[AZC_SYM_T] = T, [AZC_SYM_P] = o->n_ctx - T, [AZC_SYM_O] = O};
  int32_t *root = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  value_t *vals = malloc(sizeof(value_t) * (size_t)(n ? n : 1));
  int32_t *val_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!root || !vals || !val_of) {
    free(root), free(vals), free(val_of);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "memory plan");
  }
  int nv = 0;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *x = g->nodes[i];
    x->mem_offset = -1;
    root[i] = x->op == AZC_OP_RESHAPE ? root[x->inputs[0]->id] : i;
    val_of[i] = -1;
    if (needs_storage(x)) {
      int64_t bytes = azc_ir_node_numel(x, syms) * (int64_t)sizeof(float);
      vals[nv] = (value_t){i, i, i, (int64_t)azc_align_up((uint64_t)(bytes > 0 ? bytes : 0), 64), 0};
      val_of[i] = nv++;
    }
    for (int k = 0; k < x->n_inputs; k++) {
      int32_t r = root[x->inputs[k]->id];
      if (val_of[r] >= 0 && vals[val_of[r]].end < i) vals[val_of[r]].end = i;
    }
  }
  qsort(vals, (size_t)nv, sizeof(value_t), by_size);
  int64_t peak = 0;
  for (int a = 0; a < nv; a++) {
    /* lowest offset clear of every placed value whose lifetime overlaps */
    int64_t off = 0;
    bool moved = true;
    while (moved) {
      moved = false;
      for (int b = 0; b < a; b++) {
        if (vals[b].end < vals[a].start || vals[a].end < vals[b].start) continue;
        if (off < vals[b].offset + vals[b].size && vals[b].offset < off + vals[a].size) {
          off = vals[b].offset + vals[b].size;
          moved = true;
        }
      }
    }
    vals[a].offset = off;
    peak = AZC_MAX(peak, off + vals[a].size);
  }
  for (int a = 0; a < nv; a++) g->nodes[vals[a].node]->mem_offset = vals[a].offset;
  for (int32_t i = 0; i < n; i++)
    if (g->nodes[i]->op == AZC_OP_RESHAPE) g->nodes[i]->mem_offset = g->nodes[root[i]]->mem_offset;
  g->arena_bytes = peak;
  g->plan_T = T;
  g->plan_O = O;
  s->rewrites = nv;
  free(root), free(vals), free(val_of);
  return NULL;
}
