/* Kernel parameters: the static facts of one kernel (shapes, quant types,
 * prologue/epilogue, constants such as eps). The code generator writes one
 * of these as a constant global next to each generated kernel and passes its
 * address to the template; after inlining every field is a constant, so loop
 * bounds, type switches and epilogue choices fold away. Plain fixed-size
 * fields only: the same bytes are read by x86_64 and aarch64 code. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_PARAMS_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_PARAMS_H

#include <stdint.h>

/* kernel kinds (the template a kernel instantiates) */
enum {
  AZK_KIND_MATMUL = 1,     /* matmul_fused (and plain matmul) */
  AZK_KIND_FLASH_ATTN = 2,
  AZK_KIND_GET_ROWS = 3,
  AZK_KIND_ELEMENTWISE = 4, /* add, mul, scale, silu, gelu */
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
enum { AZK_EW_ADD = 1, AZK_EW_MUL = 2, AZK_EW_SCALE = 3, AZK_EW_SILU = 4, AZK_EW_GELU = 5 };

typedef struct azk_mm_params {
  int32_t K, n_seg, prologue, epilogue, bias;
  int32_t n_rot, rope_mode, n_head, n_head_kv, head_dim;
  int32_t N[4], wtype[4], wlayout[4];
  /* where each input sits in azk_call_t.in (-1: absent) */
  int32_t in_x, in_norm_w, in_norm_b, in_w[4], in_bias[4], in_residual, in_factors;
  float eps, freq_base, freq_scale, unused;
} azk_mm_params_t;

typedef struct azk_fa_params {
  int32_t n_head, n_head_kv, head_dim, in_q;
  float scale;
} azk_fa_params_t;

/* every other kernel: a few integers and floats */
typedef struct azk_op_params {
  int32_t i[8];
  float f[4];
} azk_op_params_t;

#endif
