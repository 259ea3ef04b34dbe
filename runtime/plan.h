/* The execution plan of a compiled model: what the thin runtime runs.
 *
 * A plan is a list of steps, each one kernel call: which compiled kernel,
 * where its output and inputs live (an offset in the activation arena, a
 * weight, or a batch input such as the token ids), how many rows it has
 * (T tokens, or O logits rows) and which layer's KV cache it touches. It also
 * lists the kernels (symbol, cache key, description), the weights (name,
 * type, layout, shape, place in the weights section) and the sizes the
 * runtime allocates (arena, scratch, KV cache geometry). The compiler makes
 * it from the fused, memory-planned graph; it is stored in the bundle's
 * "plan" section (docs/bundle-format.md) and validated when read. */
#ifndef AZC_RUNTIME_PLAN_H
#define AZC_RUNTIME_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/kernel_abi.h"

/* Devices a step can run on (the executor factory picks an executor for each). */
enum { AZC_DEVICE_CPU = 0, AZC_DEVICE_CUDA = 1, AZC_DEVICE_COUNT };
/* "cpu", "cuda"; "?" for another value. */
const char *azc_device_name(int32_t device);

enum { AZC_VAL_NONE = 0, AZC_VAL_ARENA = 1, AZC_VAL_WEIGHT = 2, AZC_VAL_INPUT = 3 };

typedef struct azc_plan_value {
  int32_t kind;   /* AZC_VAL_* */
  int32_t index;  /* weight index, or input kind (0 tokens, 1 positions, 2 seq ids, 3 out rows) */
  int64_t offset; /* arena byte offset */
} azc_plan_value_t;

typedef struct azc_plan_step {
  int32_t kernel; /* index into kernels */
  int32_t node;   /* id of the IR node it came from (for inspection) */
  int32_t m_sym;  /* rows: 0 = T, 2 = O */
  int32_t layer;  /* KV cache layer, -1 for none */
  int32_t n_in;
  int32_t reserved;
  double work_per_row; /* flops per row, to pick the thread count */
  azc_plan_value_t out;
  azc_plan_value_t in[AZK_MAX_IN];
} azc_plan_step_t;

typedef struct azc_plan_kernel {
  char symbol[48];
  char desc[128];
  uint8_t key[16]; /* XXH3-128 cache key */
} azc_plan_kernel_t;

typedef struct azc_plan_weight {
  char name[96];
  int32_t dtype, layout, rank, reserved;
  int64_t shape[4];
  uint64_t offset; /* in the weights section */
  uint64_t nbytes;
} azc_plan_weight_t;

typedef struct azc_plan {
  int32_t n_vocab;
  int32_t n_layer;
  int32_t n_ctx_train;
  int32_t learned_positions;       /* 1: the context cannot exceed n_ctx_train (gpt2's learned
                                      positions, LongRoPE's short factors) */
  int32_t *kv_heads, *kv_head_dim; /* per layer */
  int64_t arena_bytes;
  int64_t plan_T, plan_O;  /* the arena holds a step of up to plan_T tokens */
  int64_t shared_bytes;    /* scratch shared by a step's threads */
  int64_t thread_bytes;    /* scratch per thread */
  azc_plan_value_t logits; /* (O, n_vocab) f32 */
  int32_t n_steps, n_kernels, n_weights;
  azc_plan_step_t *steps;
  azc_plan_kernel_t *kernels;
  azc_plan_weight_t *weights;
} azc_plan_t;

azc_status_t azc_plan_alloc(int32_t n_layer, int32_t n_steps, int32_t n_kernels, int32_t n_weights,
                            azc_plan_t **out);
void azc_plan_free(azc_plan_t *plan);
/* Little-endian blob with a magic and version; *out is malloc'd. */
azc_status_t azc_plan_serialize(const azc_plan_t *plan, uint8_t **out, size_t *out_size);
/* Checks every count, index and offset; never trusts the blob. */
azc_status_t azc_plan_deserialize(const uint8_t *data, size_t size, azc_plan_t **out);

#endif
