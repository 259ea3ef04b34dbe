/* The azc IR: a typed tensor graph.
 *
 * One graph owns all its nodes in one arena. Nodes are kept in an array in
 * topological order (a node's inputs come before it), which is the order the
 * interpreter runs them and the order printers list them. Ops come from one
 * table (ir/ops.def). Shapes are row-major with at most four dims; a dim is a
 * constant plus a linear combination of the symbols T (tokens this step),
 * P (positions already cached) and O (rows whose logits are wanted), so one
 * graph serves prefill and decode. Weights are constants that point into the
 * model file (borrowed; the graph never copies them).
 *
 * Builder functions never fail loudly: on a bad request they record the first
 * error in the graph and return NULL, and every builder given a NULL input
 * returns NULL, so lowering code reads straight and checks
 * azc_ir_graph_status() once at the end. */
#ifndef AZC_IR_IR_H
#define AZC_IR_IR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/fused.h"
#include "runtime/base/arena.h"
#include "runtime/base/status.h"
#include "runtime/quant.h"

typedef enum azc_op {
#define X(id, name, min_in, max_in, flags, iattrs, fattrs) AZC_OP_##id,
#include "ir/ops.def"
#undef X
  AZC_OP_COUNT
} azc_op_t;

enum {
  AZC_OPF_LEAF = 1,        /* no inputs: input, weight, state */
  AZC_OPF_ELEMENTWISE = 2, /* output element i depends on input element i */
  AZC_OPF_VIEW = 4,        /* output aliases its input's storage */
  AZC_OPF_SIDE_EFFECT = 8, /* kept by DCE even if unused */
};

typedef struct azc_op_info {
  const char *name;
  int min_inputs, max_inputs;
  unsigned flags;
  const char *int_attrs; /* comma-separated names, "" for none */
  const char *float_attrs;
} azc_op_info_t;

const azc_op_info_t *azc_op_info(azc_op_t op);
/* -1 when unknown */
int azc_op_from_name(const char *name);

/* input kinds */
enum { AZC_INPUT_TOKENS = 0, AZC_INPUT_POSITIONS = 1, AZC_INPUT_SEQ = 2, AZC_INPUT_OUT_ROWS = 3 };
/* kv_cache kinds */
enum { AZC_KV_K = 0, AZC_KV_V = 1 };
/* rope modes (ggml's numbering) */
enum { AZC_ROPE_NORMAL = 0, AZC_ROPE_NEOX = 2 };

/* ---- symbolic dims ---- */
enum { AZC_SYM_T = 0, AZC_SYM_P = 1, AZC_SYM_O = 2, AZC_SYM_COUNT = 3 };

typedef struct azc_dim {
  int64_t c;
  int32_t k[AZC_SYM_COUNT]; /* value = c + sum k[s] * sym[s] */
} azc_dim_t;

azc_dim_t azc_dim_const(int64_t c);
azc_dim_t azc_dim_sym(int sym);
azc_dim_t azc_dim_add(azc_dim_t a, azc_dim_t b);
bool azc_dim_eq(azc_dim_t a, azc_dim_t b);
bool azc_dim_is_const(azc_dim_t d);
int64_t azc_dim_eval(azc_dim_t d, const int64_t *syms);
/* "T", "P+T", "256", "2T+1" */
void azc_dim_format(azc_dim_t d, char *buf, size_t cap);

enum { AZC_IR_MAX_RANK = 4, AZC_IR_MAX_ATTRS = 12, AZC_IR_MAX_INPUTS = 16 };

typedef struct azc_ir_node azc_ir_node_t;
struct azc_ir_node {
  int32_t id; /* position in graph->nodes; re-numbered by azc_ir_graph_compact */
  azc_op_t op;
  azc_dtype_t dtype;
  int32_t rank;
  azc_dim_t shape[AZC_IR_MAX_RANK];
  int32_t n_inputs;
  azc_ir_node_t *inputs[AZC_IR_MAX_INPUTS];
  int64_t iattr[AZC_IR_MAX_ATTRS];
  float fattr[AZC_IR_MAX_ATTRS];
  const char *name; /* weight: tensor name; else an optional label ("blk.3.attn_q") */
  int32_t layer;    /* the block it belongs to, -1 outside blocks */
  const void *data; /* weight bytes (borrowed from the model file) */
  uint64_t nbytes;
  bool dead;          /* removed; dropped by azc_ir_graph_compact */
  int32_t layout;     /* weights: azc_layout_t chosen by the layout pass (GGUF: as in the file) */
  int64_t mem_offset; /* activations: byte offset in the arena (memory plan), -1 if none */
};

/* Prologue, epilogue and layout names from ir/fused.def ("rmsnorm",
 * "rope/kv", "x8"); "?" for a value outside the table. */
const char *azc_prologue_name(int prologue);
const char *azc_epilogue_name(int epilogue);
const char *azc_layout_name(int layout);
/* The short suffix a layout adds to a type in kernel descriptions ("/x8"). */
const char *azc_layout_suffix(int layout);

/* matmul_fused attribute slots */
enum {
  AZC_MF_PROLOGUE = 0,
  AZC_MF_NSEG = 1,
  AZC_MF_EPILOGUE = 2,
  AZC_MF_BIAS = 3,
  AZC_MF_NROT = 4,
  AZC_MF_ROPE_MODE = 5,
  AZC_MF_NHEAD = 6,
  AZC_MF_NHEAD_KV = 7,
  AZC_MF_QK_NORM = 8, /* rope/kv: 1 = RMSNorm of each q and k head (times q_norm, k_norm) first */
};
/* attn_factor: rope/kv's factor on the rotated pairs (0 or 1: none); qk_eps: the q/k norms' eps */
enum {
  AZC_MF_EPS = 0,
  AZC_MF_FREQ_BASE = 1,
  AZC_MF_FREQ_SCALE = 2,
  AZC_MF_ATTN_FACTOR = 3,
  AZC_MF_QK_EPS = 4,
};

/* Where each input of a matmul_fused sits (-1 when absent). */
typedef struct azc_mf_layout {
  int x, norm_w, norm_b, w, bias, residual, pos, seq, k_cache, v_cache, factors, q_norm, k_norm;
  int n_seg, n_inputs;
} azc_mf_layout_t;
/* From the attributes; n_inputs is what the node must have. */
azc_mf_layout_t azc_mf_layout(const int64_t *iattr, bool has_factors);
/* The layout of an existing node. */
azc_mf_layout_t azc_mf_layout_of(const azc_ir_node_t *n);

typedef struct azc_ir_graph {
  azc_arena_t arena;
  azc_ir_node_t **nodes;
  int32_t n_nodes, cap_nodes;
  azc_status_t error; /* first builder error, owned */
  int32_t cur_layer;  /* stamped on new nodes */
  char arch[32];      /* "llama", "gpt2" (informational: no code branches on it) */
  /* the longest context the lowering is valid for (0: no limit), and why */
  int64_t max_ctx;
  char max_ctx_reason[96];
  /* memory plan (passes/memory_plan.c): arena bytes for up to plan_T tokens */
  int64_t arena_bytes;
  int64_t plan_T, plan_O;
} azc_ir_graph_t;

azc_status_t azc_ir_graph_create(azc_ir_graph_t **out);
void azc_ir_graph_destroy(azc_ir_graph_t *g);
/* The first builder error (NULL if none). Ownership passes to the caller. */
azc_status_t azc_ir_graph_status(azc_ir_graph_t *g);
/* Reorders nodes so that every node comes after its inputs, keeping the
 * existing order where it already is (passes append new nodes at the end),
 * then drops dead nodes and renumbers ids. */
void azc_ir_graph_toposort(azc_ir_graph_t *g);
/* The live nodes that use n; writes up to cap of them, returns the count. */
int azc_ir_users(const azc_ir_graph_t *g, const azc_ir_node_t *n, azc_ir_node_t **out, int cap);
/* Drops dead nodes and renumbers ids (keeps topological order). */
void azc_ir_graph_compact(azc_ir_graph_t *g);
/* Points every use of `from` at `to` (to must come before all those uses). */
void azc_ir_replace_uses(azc_ir_graph_t *g, azc_ir_node_t *from, azc_ir_node_t *to);
/* Number of live nodes using `n` as an input. */
int azc_ir_count_uses(const azc_ir_graph_t *g, const azc_ir_node_t *n);

/* Elements of a node's value for the given symbol values. */
int64_t azc_ir_node_numel(const azc_ir_node_t *n, const int64_t *syms);

/* ---- builder ---- */
/* Generic: creates a node and infers its shape and dtype. iattr/fattr may be NULL. */
azc_ir_node_t *azc_ir_add(azc_ir_graph_t *g, azc_op_t op, int n_inputs,
                          azc_ir_node_t *const *inputs, const int64_t *iattr, const float *fattr);
azc_ir_node_t *azc_ir_input(azc_ir_graph_t *g, int kind);
/* shape outermost first, e.g. {N, K} for a matmul weight. */
azc_ir_node_t *azc_ir_weight(azc_ir_graph_t *g, const char *name, azc_dtype_t dtype, int rank,
                             const int64_t *shape, const void *data, uint64_t nbytes);
azc_ir_node_t *azc_ir_kv_cache(azc_ir_graph_t *g, int layer, int kind, int64_t n_head_kv,
                               int64_t head_dim);
azc_ir_node_t *azc_ir_unary(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *x);
azc_ir_node_t *azc_ir_binary(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *a, azc_ir_node_t *b);
azc_ir_node_t *azc_ir_scale(azc_ir_graph_t *g, azc_ir_node_t *x, float s);
azc_ir_node_t *azc_ir_norm(azc_ir_graph_t *g, azc_op_t op, azc_ir_node_t *x, float eps);
azc_ir_node_t *azc_ir_matmul(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *w);
azc_ir_node_t *azc_ir_get_rows(azc_ir_graph_t *g, azc_ir_node_t *table, azc_ir_node_t *idx);
azc_ir_node_t *azc_ir_reshape(azc_ir_graph_t *g, azc_ir_node_t *x, int rank,
                              const azc_dim_t *shape);
azc_ir_node_t *azc_ir_slice(azc_ir_graph_t *g, azc_ir_node_t *x, int64_t start, int64_t len);
azc_ir_node_t *azc_ir_rope(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *pos,
                           azc_ir_node_t *freq_factors, int n_rot, int mode, float freq_base,
                           float freq_scale);
/* attn_factor multiplies the rotated pairs (1: plain RoPE) */
azc_ir_node_t *azc_ir_rope_ext(azc_ir_graph_t *g, azc_ir_node_t *x, azc_ir_node_t *pos,
                               azc_ir_node_t *freq_factors, int n_rot, int mode, float freq_base,
                               float freq_scale, float attn_factor);
/* cap * tanh(x / cap) */
azc_ir_node_t *azc_ir_softcap(azc_ir_graph_t *g, azc_ir_node_t *x, float cap);
/* window 0: plain causal; > 0: also hides keys pos - window and older */
azc_ir_node_t *azc_ir_causal_mask(azc_ir_graph_t *g, azc_ir_node_t *scores, azc_ir_node_t *pos,
                                  int64_t window);
azc_ir_node_t *azc_ir_kv_write(azc_ir_graph_t *g, azc_ir_node_t *cache, azc_ir_node_t *x,
                               azc_ir_node_t *pos, azc_ir_node_t *seq);
azc_ir_node_t *azc_ir_output(azc_ir_graph_t *g, azc_ir_node_t *x);
/* Sets node->name to a formatted label in the graph's arena; returns n. */
azc_ir_node_t *azc_ir_set_name(azc_ir_graph_t *g, azc_ir_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shape and dtype inference for one node from its op, inputs and attributes.
 * The builder uses it; the verifier checks stored shapes against it. */
azc_status_t azc_ir_infer(const azc_ir_node_t *n, int32_t *rank, azc_dim_t *shape,
                          azc_dtype_t *dtype);

/* ---- checking, printing, serialization ---- */
/* Checks arity, input order, dtypes, shapes (via azc_ir_infer) and attributes. */
azc_status_t azc_ir_verify(const azc_ir_graph_t *g);
/* One line per node: "%12 = matmul(%10, %3) : f32[T, 256]  # blk.0.attn_q". */
void azc_ir_print(const azc_ir_graph_t *g, FILE *out);
void azc_ir_print_node(const azc_ir_node_t *n, FILE *out);
/* Node counts per op, "matmul 29, add 10, ..." into buf. */
void azc_ir_op_counts(const azc_ir_graph_t *g, int *counts /* AZC_OP_COUNT */);
/* Canonical bytes of the graph (ops, types, shapes, attributes, weight names
 * and types, not weight data); the same graph always gives the same bytes.
 * *out is malloc'd. */
azc_status_t azc_ir_serialize(const azc_ir_graph_t *g, uint8_t **out, size_t *out_size);

#endif
