/* Graph storage and the builder (see ir.h). Nodes live in the graph's arena;
 * the node array only grows (dead nodes are dropped by compact), so node
 * pointers stay valid for the life of the graph. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static const azc_op_info_t op_infos[AZC_OP_COUNT] = {
#define X(id, name, min_in, max_in, flags, iattrs, fattrs)                                         \
  [AZC_OP_##id] = {name, min_in, max_in, flags, iattrs, fattrs},
#include "ir/ops.def"
#undef X
};

const azc_op_info_t *azc_op_info(azc_op_t op) {
  return (unsigned)op < AZC_OP_COUNT ? &op_infos[op] : NULL;
}

static const char *const prologue_names[AZC_PRO_COUNT] = {
#define PROLOGUE(id, value, name) [AZC_PRO_##id] = name,
#include "ir/fused.def"
#undef PROLOGUE
};
static const char *const epilogue_names[AZC_EPI_COUNT] = {
#define EPILOGUE(id, value, name) [AZC_EPI_##id] = name,
#include "ir/fused.def"
#undef EPILOGUE
};
static const char *const layout_names[AZC_LAYOUT_COUNT][2] = {
#define LAYOUT(id, value, name, suffix) [AZC_LAYOUT_##id] = {name, suffix},
#include "ir/fused.def"
#undef LAYOUT
};

const char *azc_prologue_name(int v) {
  return v >= 0 && v < AZC_PRO_COUNT ? prologue_names[v] : "?";
}
const char *azc_epilogue_name(int v) {
  return v >= 0 && v < AZC_EPI_COUNT ? epilogue_names[v] : "?";
}
const char *azc_layout_name(int v) {
  return v >= 0 && v < AZC_LAYOUT_COUNT ? layout_names[v][0] : "?";
}
const char *azc_layout_suffix(int v) {
  return v >= 0 && v < AZC_LAYOUT_COUNT ? layout_names[v][1] : "/?";
}

int azc_op_from_name(const char *name) {
  for (int i = 0; i < AZC_OP_COUNT; i++)
    if (!strcmp(op_infos[i].name, name)) return i;
  return -1;
}

/* ---- dims ---- */
azc_dim_t azc_dim_const(int64_t c) {
  azc_dim_t d = {c, {0}};
  return d;
}

azc_dim_t azc_dim_sym(int sym) {
  azc_dim_t d = {0, {0}};
  d.k[sym] = 1;
  return d;
}

azc_dim_t azc_dim_add(azc_dim_t a, azc_dim_t b) {
  a.c += b.c;
  for (int s = 0; s < AZC_SYM_COUNT; s++) a.k[s] += b.k[s];
  return a;
}

bool azc_dim_eq(azc_dim_t a, azc_dim_t b) {
  if (a.c != b.c) return false;
  for (int s = 0; s < AZC_SYM_COUNT; s++)
    if (a.k[s] != b.k[s]) return false;
  return true;
}

bool azc_dim_is_const(azc_dim_t d) {
  for (int s = 0; s < AZC_SYM_COUNT; s++)
    if (d.k[s]) return false;
  return true;
}

int64_t azc_dim_eval(azc_dim_t d, const int64_t *syms) {
  int64_t v = d.c;
  for (int s = 0; s < AZC_SYM_COUNT; s++) v += (int64_t)d.k[s] * (syms ? syms[s] : 0);
  return v;
}

void azc_dim_format(azc_dim_t d, char *buf, size_t cap) {
  static const char names[AZC_SYM_COUNT] = {'T', 'P', 'O'};
  /* print P before T so the key length reads "P+T" */
  static const int order[AZC_SYM_COUNT] = {AZC_SYM_P, AZC_SYM_T, AZC_SYM_O};
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < AZC_SYM_COUNT; i++) {
    int s = order[i];
    if (!d.k[s]) continue;
    const char *plus = n && d.k[s] > 0 ? "+" : "";
    if (d.k[s] == 1)
      n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "%s%c", plus, names[s]);
    else if (d.k[s] == -1)
      n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "-%c", names[s]);
    else
      n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "%s%d%c", plus, d.k[s], names[s]);
  }
  if (d.c || !n)
    snprintf(buf + n, cap > n ? cap - n : 0, n && d.c > 0 ? "+%lld" : "%lld", (long long)d.c);
}

/* ---- graph ---- */
azc_status_t azc_ir_graph_create(azc_ir_graph_t **out) {
  azc_ir_graph_t *g = calloc(1, sizeof(*g));
  *out = NULL;
  if (!g) return AZC_ERR(AZC_OUT_OF_MEMORY, "graph");
  azc_arena_init(&g->arena, 256 * 1024);
  g->cur_layer = -1;
  *out = g;
  return NULL;
}

void azc_ir_graph_destroy(azc_ir_graph_t *g) {
  if (!g) return;
  azc_status_free(g->error);
  free(g->nodes);
  azc_arena_free(&g->arena);
  free(g);
}

azc_status_t azc_ir_graph_status(azc_ir_graph_t *g) {
  azc_status_t st = g->error;
  g->error = NULL;
  return st;
}

static void set_error(azc_ir_graph_t *g, azc_status_t st) {
  if (g->error)
    azc_status_free(st);
  else
    g->error = st;
}

void azc_ir_graph_compact(azc_ir_graph_t *g) {
  int32_t j = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i]->dead) continue;
    g->nodes[j] = g->nodes[i];
    g->nodes[j]->id = j;
    j++;
  }
  g->n_nodes = j;
}

void azc_ir_replace_uses(azc_ir_graph_t *g, azc_ir_node_t *from, azc_ir_node_t *to) {
  for (int32_t i = 0; i < g->n_nodes; i++) {
    azc_ir_node_t *n = g->nodes[i];
    if (n->dead || n == to) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == from) n->inputs[k] = to;
  }
}

int azc_ir_count_uses(const azc_ir_graph_t *g, const azc_ir_node_t *x) {
  int uses = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++) uses += n->inputs[k] == x;
  }
  return uses;
}

int64_t azc_ir_node_numel(const azc_ir_node_t *n, const int64_t *syms) {
  int64_t v = 1;
  for (int i = 0; i < n->rank; i++) v *= azc_dim_eval(n->shape[i], syms);
  return v;
}

static azc_ir_node_t *new_node(azc_ir_graph_t *g, azc_op_t op) {
  if (g->n_nodes == g->cap_nodes) {
    int32_t cap = g->cap_nodes ? g->cap_nodes * 2 : 256;
    azc_ir_node_t **nodes = realloc(g->nodes, (size_t)cap * sizeof(*nodes));
    if (!nodes) {
      set_error(g, AZC_ERR(AZC_OUT_OF_MEMORY, "graph: out of memory"));
      return NULL;
    }
    g->nodes = nodes;
    g->cap_nodes = cap;
  }
  azc_ir_node_t *n = azc_arena_alloc(&g->arena, sizeof(*n), 8);
  if (!n) {
    set_error(g, AZC_ERR(AZC_OUT_OF_MEMORY, "graph: out of memory"));
    return NULL;
  }
  n->op = op;
  n->mem_offset = -1;
  n->layer = g->cur_layer;
  n->dtype = AZC_DTYPE_F32;
  n->id = g->n_nodes;
  g->nodes[g->n_nodes++] = n;
  return n;
}

azc_ir_node_t *azc_ir_add(azc_ir_graph_t *g, azc_op_t op, int n_inputs,
                          azc_ir_node_t *const *inputs, const int64_t *iattr, const float *fattr) {
  if (g->error) return NULL;
  const azc_op_info_t *info = azc_op_info(op);
  if (!info || n_inputs < info->min_inputs || n_inputs > info->max_inputs) {
    set_error(g,
              AZC_ERR(AZC_INTERNAL, "op %s: %d inputs given", info ? info->name : "?", n_inputs));
    return NULL;
  }
  for (int i = 0; i < n_inputs; i++)
    if (!inputs[i]) return NULL;
  azc_ir_node_t *n = new_node(g, op);
  if (!n) return NULL;
  n->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++) n->inputs[i] = inputs[i];
  if (iattr) memcpy(n->iattr, iattr, sizeof(n->iattr));
  if (fattr) memcpy(n->fattr, fattr, sizeof(n->fattr));
  if (info->flags & AZC_OPF_LEAF) return n; /* leaf shapes are set by their builders */
  azc_status_t st = azc_ir_infer(n, &n->rank, n->shape, &n->dtype);
  if (st) {
    set_error(g, st);
    n->dead = true;
    return NULL;
  }
  return n;
}

azc_ir_node_t *azc_ir_input(azc_ir_graph_t *g, int kind) {
  int64_t ia[AZC_IR_MAX_ATTRS] = {kind};
  azc_ir_node_t *n = azc_ir_add(g, AZC_OP_INPUT, 0, NULL, ia, NULL);
  if (!n) return NULL;
  n->layer = -1;
  n->dtype = AZC_DTYPE_I32;
  n->rank = 1;
  n->shape[0] = azc_dim_sym(kind == AZC_INPUT_OUT_ROWS ? AZC_SYM_O : AZC_SYM_T);
  static const char *names[] = {"tokens", "positions", "seq_ids", "out_rows"};
  n->name = kind >= 0 && kind < 4 ? names[kind] : "input";
  return n;
}

azc_ir_node_t *azc_ir_weight(azc_ir_graph_t *g, const char *name, azc_dtype_t dtype, int rank,
                             const int64_t *shape, const void *data, uint64_t nbytes) {
  if (rank < 1 || rank > AZC_IR_MAX_RANK) {
    set_error(g, AZC_ERR(AZC_INTERNAL, "weight %s: rank %d", name, rank));
    return NULL;
  }
  azc_ir_node_t *n = azc_ir_add(g, AZC_OP_WEIGHT, 0, NULL, NULL, NULL);
  if (!n) return NULL;
  n->dtype = dtype;
  n->rank = rank;
  for (int i = 0; i < rank; i++) n->shape[i] = azc_dim_const(shape[i]);
  n->name = azc_arena_strdup(&g->arena, name);
  n->data = data;
  n->nbytes = nbytes;
  return n;
}

azc_ir_node_t *azc_ir_kv_cache(azc_ir_graph_t *g, int layer, int kind, int64_t n_head_kv,
                               int64_t head_dim) {
  int64_t ia[AZC_IR_MAX_ATTRS] = {layer, kind};
  azc_ir_node_t *n = azc_ir_add(g, AZC_OP_KV_CACHE, 0, NULL, ia, NULL);
  if (!n) return NULL;
  n->rank = 2;
  n->shape[0] = azc_dim_const(n_head_kv);
  n->shape[1] = azc_dim_const(head_dim);
  n->layer = layer;
  return n;
}

azc_ir_node_t *azc_ir_unary(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *x) {
  return azc_ir_add(g, op, 1, &x, NULL, NULL);
}

azc_ir_node_t *azc_ir_binary(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *a, azc_ir_node_t *b) {
  azc_ir_node_t *in[2] = {a, b};
  return azc_ir_add(g, op, 2, in, NULL, NULL);
}

azc_ir_node_t *azc_ir_scale(azc_ir_graph_t *g, azc_ir_node_t *x, float s) {
  float fa[AZC_IR_MAX_ATTRS] = {s};
  return azc_ir_add(g, AZC_OP_SCALE, 1, &x, NULL, fa);
}

azc_ir_node_t *azc_ir_norm(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *x, float eps) {
  float fa[AZC_IR_MAX_ATTRS] = {eps};
  return azc_ir_add(g, op, 1, &x, NULL, fa);
}

azc_ir_node_t *azc_ir_matmul(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *w) {
  return azc_ir_binary(g, AZC_OP_MATMUL, x, w);
}

azc_ir_node_t *azc_ir_get_rows(azc_ir_graph_t *g, azc_ir_node_t *table, azc_ir_node_t *idx) {
  return azc_ir_binary(g, AZC_OP_GET_ROWS, table, idx);
}

azc_ir_node_t *azc_ir_reshape(azc_ir_graph_t *g, azc_ir_node_t *x, int rank,
                              const azc_dim_t *shape) {
  if (!x || g->error) return NULL;
  if (rank < 1 || rank > AZC_IR_MAX_RANK) {
    set_error(g, AZC_ERR(AZC_INTERNAL, "reshape: rank %d", rank));
    return NULL;
  }
  /* the target shape travels in the node; inference checks element counts */
  azc_ir_node_t *n = new_node(g, AZC_OP_RESHAPE);
  if (!n) return NULL;
  n->n_inputs = 1;
  n->inputs[0] = x;
  n->rank = rank;
  for (int i = 0; i < rank; i++) n->shape[i] = shape[i];
  int32_t r;
  azc_dim_t s[AZC_IR_MAX_RANK];
  azc_status_t st = azc_ir_infer(n, &r, s, &n->dtype);
  if (st) {
    set_error(g, st);
    n->dead = true;
    return NULL;
  }
  return n;
}

azc_ir_node_t *azc_ir_slice(azc_ir_graph_t *g, azc_ir_node_t *x, int64_t start, int64_t len) {
  int64_t ia[AZC_IR_MAX_ATTRS] = {start, len};
  return azc_ir_add(g, AZC_OP_SLICE, 1, &x, ia, NULL);
}

azc_ir_node_t *azc_ir_rope(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *pos,
                           azc_ir_node_t *freq_factors, int n_rot, int mode, float freq_base,
                           float freq_scale) {
  return azc_ir_rope_ext(g, x, pos, freq_factors, n_rot, mode, freq_base, freq_scale, 1.0f);
}

azc_ir_node_t *azc_ir_rope_ext(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *pos,
                               azc_ir_node_t *freq_factors, int n_rot, int mode, float freq_base,
                               float freq_scale, float attn_factor) {
  int64_t ia[AZC_IR_MAX_ATTRS] = {n_rot, mode};
  float fa[AZC_IR_MAX_ATTRS] = {freq_base, freq_scale, attn_factor};
  azc_ir_node_t *in[3] = {x, pos, freq_factors};
  return azc_ir_add(g, AZC_OP_ROPE, freq_factors ? 3 : 2, in, ia, fa);
}

azc_ir_node_t *azc_ir_softcap(azc_ir_graph_t *g, azc_ir_node_t *x, float cap) {
  float fa[AZC_IR_MAX_ATTRS] = {cap};
  return azc_ir_add(g, AZC_OP_SOFTCAP, 1, &x, NULL, fa);
}

azc_ir_node_t *azc_ir_causal_mask(azc_ir_graph_t *g, azc_ir_node_t *scores, azc_ir_node_t *pos,
                                  int64_t window) {
  int64_t ia[AZC_IR_MAX_ATTRS] = {window};
  azc_ir_node_t *in[2] = {scores, pos};
  return azc_ir_add(g, AZC_OP_CAUSAL_MASK, 2, in, ia, NULL);
}

azc_ir_node_t *azc_ir_kv_write(azc_ir_graph_t *g, azc_ir_node_t *cache, azc_ir_node_t *x,
                               azc_ir_node_t *pos, azc_ir_node_t *seq) {
  azc_ir_node_t *in[4] = {cache, x, pos, seq};
  return azc_ir_add(g, AZC_OP_KV_WRITE, 4, in, NULL, NULL);
}

azc_ir_node_t *azc_ir_output(azc_ir_graph_t *g, azc_ir_node_t *x) {
  return azc_ir_add(g, AZC_OP_OUTPUT, 1, &x, NULL, NULL);
}

azc_ir_node_t *azc_ir_set_name(azc_ir_graph_t *g, azc_ir_node_t *n, const char *fmt, ...) {
  if (!n) return NULL;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  n->name = azc_arena_strdup(&g->arena, buf);
  return n;
}

azc_mf_layout_t azc_mf_layout(const int64_t *ia, bool has_factors) {
  azc_mf_layout_t l;
  memset(&l, -1, sizeof(l));
  int i = 0;
  l.x = i++;
  if (ia[AZC_MF_PROLOGUE] >= AZC_PRO_RMS) l.norm_w = i++;
  if (ia[AZC_MF_PROLOGUE] == AZC_PRO_LAYER) l.norm_b = i++;
  l.n_seg = (int)ia[AZC_MF_NSEG];
  l.w = i;
  i += l.n_seg > 0 ? l.n_seg : 0;
  if (ia[AZC_MF_BIAS]) {
    l.bias = i;
    i += l.n_seg > 0 ? l.n_seg : 0;
  }
  if (ia[AZC_MF_EPILOGUE] == AZC_EPI_RESIDUAL) l.residual = i++;
  if (ia[AZC_MF_EPILOGUE] == AZC_EPI_ROPE_KV) {
    l.pos = i++;
    l.seq = i++;
    l.k_cache = i++;
    l.v_cache = i++;
    if (has_factors) l.factors = i++;
    if (ia[AZC_MF_QK_NORM]) {
      l.q_norm = i++;
      l.k_norm = i++;
    }
  }
  l.n_inputs = i;
  return l;
}

azc_mf_layout_t azc_mf_layout_of(const azc_ir_node_t *n) {
  azc_mf_layout_t l = azc_mf_layout(n->iattr, false);
  if (n->iattr[AZC_MF_EPILOGUE] == AZC_EPI_ROPE_KV && n->n_inputs == l.n_inputs + 1)
    l = azc_mf_layout(n->iattr, true);
  return l;
}

int azc_ir_users(const azc_ir_graph_t *g, const azc_ir_node_t *x, azc_ir_node_t **out, int cap) {
  int count = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    azc_ir_node_t *n = g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == x) {
        if (count < cap) out[count] = n;
        count++;
        break;
      }
  }
  return count;
}

void azc_ir_graph_toposort(azc_ir_graph_t *g) {
  /* iterative depth-first post-order over the current order: a node is
   * placed once all its inputs are */
  int32_t n = g->n_nodes;
  if (n == 0) return;
  for (int32_t i = 0; i < n; i++) g->nodes[i]->id = i;
  uint8_t *state = calloc((size_t)n, 1); /* 0 new, 1 on stack, 2 placed */
  azc_ir_node_t **order = malloc(sizeof(*order) * (size_t)n);
  int32_t *stack = malloc(sizeof(int32_t) * (size_t)n), *next = malloc(sizeof(int32_t) * (size_t)n);
  if (!state || !order || !stack || !next) {
    free(state), free(order), free(stack), free(next);
    return; /* keep the old order; the verifier will complain if it is wrong */
  }
  int32_t placed = 0;
  for (int32_t root = 0; root < n; root++) {
    if (state[root] || g->nodes[root]->dead) continue;
    int32_t sp = 0;
    stack[sp] = root;
    next[sp++] = 0;
    state[root] = 1;
    while (sp) {
      azc_ir_node_t *top = g->nodes[stack[sp - 1]];
      if (next[sp - 1] < top->n_inputs) {
        int32_t in = top->inputs[next[sp - 1]++]->id;
        if (!state[in]) {
          state[in] = 1;
          stack[sp] = in;
          next[sp++] = 0;
        }
      } else {
        state[top->id] = 2;
        order[placed++] = top;
        sp--;
      }
    }
  }
  for (int32_t i = 0; i < placed; i++) {
    g->nodes[i] = order[i];
    g->nodes[i]->id = i;
  }
  g->n_nodes = placed;
  free(state), free(order), free(stack), free(next);
}
