/* The executor interface: forward(tokens, positions) -> logits. The eager
 * interpreter (ir/interp.c) and the compiled plan (runtime/cpu backend)
 * implement it; the tokenizer, sampler, KV-cache policy and the generate loop
 * are shared, so eager and compiled runs differ only in execution.
 *
 * A batch is a list of tokens, each with its position and sequence id (so
 * several prompts can share one pass over the weights), and the rows whose
 * logits are wanted. An executor owns its KV cache, sized at creation for
 * n_seq sequences of n_ctx positions. */
#ifndef AZC_RUNTIME_EXECUTOR_H
#define AZC_RUNTIME_EXECUTOR_H

#include <stdint.h>

#include "runtime/base/status.h"

typedef struct azc_batch {
  int32_t n_tokens;
  const int32_t *tokens; /* (T) */
  const int32_t *pos;    /* (T) position of each token in its sequence */
  const int32_t *seq;    /* (T) sequence id in [0, n_seq) */
  int32_t n_out;
  const int32_t *out_rows; /* (O) indices into the batch whose logits are wanted */
} azc_batch_t;

typedef struct azc_executor_params {
  int32_t n_threads; /* <= 0: all cores */
  int32_t n_ctx;     /* positions per sequence */
  int32_t n_seq;     /* sequences that can be live at once */
  int32_t n_batch;   /* most tokens per forward call */
  /* GPU offload (-ngl): with gpu_layers_set 0, the placement the bundle was
   * compiled with; else n_gpu_layers layers on the GPU (AZC_GPU_LAYERS_AUTO:
   * as many as fit; >= the layer count: all) */
  int32_t gpu_layers_set;
  int32_t n_gpu_layers;
  /* the KV cache's element type, an azc_kv_type_t (runtime/kv_row.h), or
   * AZC_KV_TYPE_AUTO: AZC_KV_TYPE_CPU_DEFAULT on the CPU, f32 on the GPU (whose
   * kernels keep f32 rows only) */
  int32_t kv_type;
} azc_executor_params_t;

#define AZC_KV_TYPE_AUTO (-1)
#define AZC_KV_TYPE_CPU_DEFAULT 1 /* AZC_KV_F16, as llama.cpp */

#define AZC_GPU_LAYERS_AUTO (-1)

azc_executor_params_t azc_executor_params_default(void);

typedef struct azc_executor azc_executor_t;

typedef struct azc_executor_ops {
  const char *name; /* "eager", "compiled" */
  /* logits: (n_out, n_vocab), row i for batch->out_rows[i] */
  azc_status_t (*forward)(azc_executor_t *ex, const azc_batch_t *batch, float *logits);
  void (*destroy)(azc_executor_t *ex);
} azc_executor_ops_t;

struct azc_executor {
  const azc_executor_ops_t *ops;
  int32_t n_vocab, n_ctx, n_seq, n_batch;
  int32_t n_threads;
};

/* Checks the batch against the executor's limits, then runs it. */
azc_status_t azc_executor_forward(azc_executor_t *ex, const azc_batch_t *batch, float *logits);
void azc_executor_destroy(azc_executor_t *ex);

#endif
