/* The calling convention between the runtime and compiled kernels.
 *
 * Every generated kernel is `void azk_<key>(const azk_call_t *call, int ith,
 * int nth)`: the runtime fills one azk_call_t per plan step (pointers into
 * the arena, the weights and the KV cache, and this step's sizes) and calls
 * the kernel on every thread of the pool, thread ith of nth doing its share.
 * Shapes that are static (K, N, head counts, quant types) are not here: they
 * are constants compiled into the kernel. This header is included by the
 * kernel templates (compiled to LLVM bitcode) and by the runtime, so it uses
 * only fixed-size C types and no functions. */
#ifndef AZC_RUNTIME_KERNEL_ABI_H
#define AZC_RUNTIME_KERNEL_ABI_H

#include <stdint.h>

#define AZK_MAX_IN 16
#define AZK_ABI_VERSION 2

typedef struct azk_call {
  void *out;                   /* the step's result (arena) */
  const void *in[AZK_MAX_IN];  /* inputs, in the IR node's input order */
  int64_t M;                   /* rows of this step (T, or O for logits) */
  int64_t T;                   /* tokens in the batch */
  int64_t L;                   /* longest visible key length in the batch (P + T) */
  const int32_t *pos, *seq;    /* per token (T) */
  uint8_t *k_cache, *v_cache;  /* this layer's caches: (n_seq, n_ctx, kv_dim) values of kv_type */
  int64_t kv_seq_stride;       /* bytes from one sequence to the next (n_ctx rows) */
  int32_t kv_type;             /* azc_kv_type_t (runtime/kv_row.h): f32, f16 or q8_0 */
  uint8_t *shared;             /* scratch shared by all threads of this step */
  uint8_t *scratch;            /* thread ith may use scratch + ith * scratch_stride */
  int64_t scratch_stride;
  /* waits until every thread of the step has reached it (phases inside a kernel) */
  void (*barrier)(void *ctx);
  void *barrier_ctx;
} azk_call_t;

typedef void (*azk_fn_t)(const azk_call_t *call, int ith, int nth);

#endif
