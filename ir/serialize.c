/* Canonical serialization of a graph: the bytes that cache keys are computed
 * from. Everything that changes what the graph computes is written (op, dtype,
 * shape, attributes, input ids, weight names, types and shapes) in a fixed
 * little-endian layout; nothing that does not (pointers, weight bytes, the
 * arena) is. Floats are written as their bit patterns. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct out {
  uint8_t *data;
  size_t size, cap;
  int oom;
} out_t;

static void put(out_t *o, const void *p, size_t n) {
  if (o->oom) return;
  if (o->size + n > o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 4096;
    while (cap < o->size + n) cap *= 2;
    uint8_t *d = realloc(o->data, cap);
    if (!d) {
      o->oom = 1;
      return;
    }
    o->data = d;
    o->cap = cap;
  }
  memcpy(o->data + o->size, p, n);
  o->size += n;
}
static void put_i64(out_t *o, int64_t v) { put(o, &v, 8); }
static void put_i32(out_t *o, int32_t v) { put(o, &v, 4); }

azc_status_t azc_ir_serialize(const azc_ir_graph_t *g, uint8_t **out, size_t *out_size) {
  out_t o = {0};
  put(&o, "AZCIR001", 8);
  put_i32(&o, g->n_nodes);
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    put_i32(&o, (int32_t)n->op);
    put_i32(&o, (int32_t)n->dtype);
    put_i32(&o, n->rank);
    for (int d = 0; d < n->rank; d++) {
      put_i64(&o, n->shape[d].c);
      for (int s = 0; s < AZC_SYM_COUNT; s++) put_i32(&o, n->shape[d].k[s]);
    }
    put_i32(&o, n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++) put_i32(&o, n->inputs[k]->id);
    for (int k = 0; k < AZC_IR_MAX_ATTRS; k++) put_i64(&o, n->iattr[k]);
    for (int k = 0; k < AZC_IR_MAX_ATTRS; k++) {
      uint32_t bits;
      memcpy(&bits, &n->fattr[k], 4);
      put_i32(&o, (int32_t)bits);
    }
    if (n->op == AZC_OP_WEIGHT) {
      size_t len = strlen(n->name);
      put_i32(&o, (int32_t)len);
      put(&o, n->name, len);
    }
  }
  if (o.oom) {
    free(o.data);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "serializing graph");
  }
  *out = o.data;
  *out_size = o.size;
  return NULL;
}
