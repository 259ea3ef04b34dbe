/* The execution plan of a compiled model: what the thin runtime runs.
 *
 * A plan is a list of steps, each on one device (AZC_DEVICE_*). A kernel
 * step is one kernel call: which compiled kernel,
 * where its output and inputs live (an offset in the activation arena, a
 * weight, or a batch input such as the token ids), how many rows it has
 * (T tokens, or O logits rows) and which layer's KV cache it touches. It also
 * lists the kernels (symbol, cache key, description), the weights (name,
 * type, layout, shape, place in the weights section) and the sizes the
 * runtime allocates (arena, scratch, KV cache geometry). A copy step marks
 * where an activation crosses devices: it makes the value that another
 * device computed valid on the step's device (each device keeps its own
 * arena with the same offsets, so a copy moves bytes at one offset from one
 * arena to the other). With one device a plan has no copy steps. The
 * compiler makes the plan from the fused, memory-planned graph; it is stored
 * in the bundle's "plan" section (docs/bundle-format.md) and validated when
 * read. */
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

/* step kinds */
enum { AZC_STEP_KERNEL = 0, AZC_STEP_COPY = 1 };

typedef struct azc_plan_step {
  int32_t op;            /* AZC_STEP_KERNEL or AZC_STEP_COPY */
  int32_t device;        /* AZC_DEVICE_*: where it runs (a copy: the device receiving the value) */
  int32_t from_device;   /* a copy: the device holding the value; a kernel step: = device */
  int32_t kernel;        /* index into kernels; -1 for a copy */
  int32_t node;          /* id of the IR node it came from (for inspection) */
  int32_t m_sym;         /* rows: 0 = T, 2 = O */
  int32_t layer;         /* KV cache layer, -1 for none */
  int32_t n_in;          /* a copy: 1, in[0] = the value, out = the same value */
  double work_per_row;   /* flops per row, to pick the thread count */
  int64_t out_row_bytes; /* bytes per row of an arena output (0: not fixed); what a copy moves */
  int64_t reserved;
  azc_plan_value_t out;
  azc_plan_value_t in[AZK_MAX_IN];
} azc_plan_step_t;

typedef struct azc_plan_kernel {
  char symbol[48];
  char desc[128];
  uint8_t key[16]; /* XXH3-128 cache key */
  int32_t device;  /* AZC_DEVICE_*: the back end whose code section holds it */
  int32_t reserved[3];
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
/* Marks where activations cross devices: given each kernel step's device,
 * inserts a copy step before every step that reads an arena value last
 * written on another device, and at the end when the logits are not on the
 * CPU. With every step on one device the plan is unchanged. Fails if a value
 * that must cross has no fixed row size. */
azc_status_t azc_plan_insert_copies(azc_plan_t *plan);
/* Bit (1 << device) for every device a step of the plan runs on. */
uint32_t azc_plan_devices(const azc_plan_t *plan);
/* Whether a step of n_tokens rows and n_out outputs fits the sizes the plan
 * was compiled for (plan_T, plan_O); every plan executor checks this. */
azc_status_t azc_plan_check_batch(const azc_plan_t *plan, int32_t n_tokens, int32_t n_out);
/* Little-endian blob with a magic and version; *out is malloc'd. */
azc_status_t azc_plan_serialize(const azc_plan_t *plan, uint8_t **out, size_t *out_size);
/* Checks every count, index and offset; never trusts the blob. */
azc_status_t azc_plan_deserialize(const uint8_t *data, size_t size, azc_plan_t **out);

#endif
