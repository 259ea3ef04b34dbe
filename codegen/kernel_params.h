/* Kernel parameters: the static facts of one kernel (shapes, quant types,
 * layouts, prologue/epilogue, constants such as eps), one typed record per
 * kernel kind. They are what a kernel spec holds (codegen/spec.h), whatever
 * the back end: the CPU code generator writes the record as a constant
 * global next to each generated kernel and passes its address to the
 * template, so after inlining every field is a constant and loop bounds,
 * type switches and epilogue choices fold away; another generator reads the
 * same records. Plain fixed-size fields only: the same bytes are read by
 * x86_64 and aarch64 code, and they feed the cache key. Freestanding (the
 * kernel templates include it). */
#ifndef AZC_CODEGEN_KERNEL_PARAMS_H
#define AZC_CODEGEN_KERNEL_PARAMS_H

#include <stdint.h>

#include "ir/fused.h"

/* kernel kinds (the template a kernel instantiates) */
enum {
  AZK_KIND_MATMUL = 1, /* matmul_fused (and plain matmul) */
  AZK_KIND_FLASH_ATTN = 2,
  AZK_KIND_GET_ROWS = 3,
  AZK_KIND_ELEMENTWISE = 4, /* add, mul, scale, silu, gelu, softcap */
  AZK_KIND_NORM = 5,
  AZK_KIND_SLICE = 6,
  AZK_KIND_ROPE = 7,
  AZK_KIND_KV_WRITE = 8,
  AZK_KIND_ATTN_SCORES = 9,
  AZK_KIND_CAUSAL_MASK = 10,
  AZK_KIND_SOFTMAX = 11,
  AZK_KIND_ATTN_VALUES = 12,
};

/* elementwise ops */
enum {
  AZK_EW_ADD = 1,
  AZK_EW_MUL = 2,
  AZK_EW_SCALE = 3,
  AZK_EW_SILU = 4,
  AZK_EW_GELU = 5,
  AZK_EW_SOFTCAP = 6, /* scale * tanh(x / scale) */
};

/* matmul_fused: up to 4 weight segments side by side (N = sum N[s]); SwiGLU and
 * GeGLU read gate and up from segments 0 and 1, or from the halves of segment 0
 * (n_seg 1) */
typedef struct azk_mm_params {
  int32_t K, n_seg;
  int32_t prologue, epilogue;                            /* azc_prologue_t, azc_epilogue_t */
  int32_t bias;                                          /* 1: one bias per segment */
  int32_t n_rot, rope_mode, n_head, n_head_kv, head_dim; /* rope/kv epilogue */
  int32_t N[4], wtype[4];
  int32_t wlayout[4]; /* azc_layout_t of each segment's weight */
  /* where each input sits in azk_call_t.in (-1: absent) */
  int32_t in_x, in_norm_w, in_norm_b, in_w[4], in_bias[4], in_residual, in_factors;
  /* rope/kv: 1 = each q and k head rmsnorm'd (eps qk_eps) times in[in_q_norm] / in[in_k_norm] */
  int32_t qk_norm, in_q_norm, in_k_norm;
  float eps, freq_base, freq_scale;
  float attn_factor; /* rope/kv: multiplies the rotated pairs; 1 when the node has none */
  float qk_eps;
} azk_mm_params_t;

/* flash_attn: softmax(softcap(scale q.k) + causal mask) v */
typedef struct azk_fa_params {
  int32_t n_head, n_head_kv, head_dim, in_q;
  float scale;
  float softcap;  /* 0: none, else softcap * tanh(s / softcap) */
  int32_t window; /* 0: every earlier key; else only keys pos - window + 1 .. pos */
} azk_fa_params_t;

/* get_rows: rows of a (V, D) table of any stored type, by in[1]'s indices */
typedef struct azk_get_rows_params {
  int32_t D, table_type; /* row length; azc_dtype_t of the table */
} azk_get_rows_params_t;

/* add, mul (b is a whole tensor, or one row broadcast), scale, silu, gelu,
 * softcap; rows = M * rows_per_m rows of D values each */
typedef struct azk_ew_params {
  int32_t op;         /* AZK_EW_* */
  int32_t D;          /* row width; 0: the key length L (unfused attention scores) */
  int32_t broadcast;  /* 1: b is one row of b_len values repeated along every row of a */
  int32_t b_len;      /* D, or less (a divisor of D): per head of (T, H, hd) */
  float scale;        /* AZK_EW_SCALE; the cap of AZK_EW_SOFTCAP */
  int32_t rows_per_m; /* rows of D per tensor row: heads of (T, H, L) when D is 0, else 1 */
} azk_ew_params_t;

/* rms_norm, layer_norm over rows of D */
typedef struct azk_norm_params {
  int32_t D, layer_norm; /* layer_norm: 1 for layernorm, 0 for rmsnorm */
  int32_t rows_per_m;    /* rows of D per tensor row: heads of (T, H, hd), else 1 */
  float eps;
} azk_norm_params_t;

/* slice: columns [start, start + len) of rows of in_width */
typedef struct azk_slice_params {
  int32_t in_width, start, len;
} azk_slice_params_t;

/* rope on (T, n_head, head_dim): the first n_rot dims of each head */
typedef struct azk_rope_params {
  int32_t n_head, head_dim, n_rot, mode; /* mode: AZC_ROPE_NORMAL 0, NEOX 2 */
  int32_t has_factors;                   /* 1: frequency factors in in[2] */
  float freq_base, freq_scale;
  float attn_factor; /* multiplies the rotated pairs (LongRoPE); 1 otherwise */
} azk_rope_params_t;

/* kv_write: rows (T, width) from in[1] into the K or V cache at (seq, pos) */
typedef struct azk_kv_write_params {
  int32_t width; /* n_head_kv * head_dim */
  int32_t kind;  /* AZC_KV_K 0, AZC_KV_V 1 */
} azk_kv_write_params_t;

/* attn_scores, attn_values, causal_mask (which reads only n_head) */
typedef struct azk_attn_params {
  int32_t n_head, n_head_kv, head_dim;
  int32_t window; /* causal_mask: sliding window (0: none) */
} azk_attn_params_t;

/* softmax over rows of width W (0: the key length L); rows = M * rows_per_m */
typedef struct azk_softmax_params {
  int32_t W, rows_per_m;
} azk_softmax_params_t;

#endif
