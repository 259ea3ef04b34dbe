/* The calling convention between the runtime and generated CUDA kernels
 * (codegen/cuda): the one kernel parameter, the per-step values the kernels
 * read from device memory, and the launch records the generator writes
 * beside each kernel. codegen/cuda/azk_cuda.cu repeats azk_gpu_args_t in
 * CUDA C (the generated source includes no headers) and checks its size.
 *
 * A plan kernel runs as one to four launches (say, activation quantization
 * then the mat-vec, or flash-attention splits then their merge); each launch
 * record says when it runs (always, or only for one-row or many-row steps),
 * its block size, grid (x fixed, y = ceil(M / rows_per_block), M the step's
 * rows) and dynamic shared memory. Per-step values (T, O, L, positions,
 * sequence ids) are read from device memory, so a decode step captured as a
 * CUDA graph replays unchanged at the next position. */
#ifndef AZC_RUNTIME_CUDA_ABI_H
#define AZC_RUNTIME_CUDA_ABI_H

#include <stdint.h>

#define AZC_CUDA_ABI_VERSION 1

/* device memory, written before each step */
typedef struct azk_gpu_dyn {
  int32_t T, O, L, reserved;
} azk_gpu_dyn_t;

/* the kernel parameter (by value) */
typedef struct azk_gpu_args {
  void *out;
  const void *in[16];
  const azk_gpu_dyn_t *dyn;
  const int32_t *pos, *seq; /* (T) */
  float *k_cache, *v_cache; /* this layer's, (n_seq, n_ctx, kv_dim) */
  int64_t kv_seq_stride;    /* floats from one sequence to the next */
  uint8_t *scratch;         /* device scratch for this step */
  int32_t m_sym;            /* rows: 0 = T, 2 = O */
  int32_t reserved;
} azk_gpu_args_t;
_Static_assert(sizeof(azk_gpu_args_t) == 200, "codegen/cuda/azk_cuda.cu checks this size too");

enum { AZC_CUDA_WHEN_ALWAYS = 0, AZC_CUDA_WHEN_ONE_ROW = 1, AZC_CUDA_WHEN_MANY_ROWS = 2 };
enum { AZC_CUDA_MAX_LAUNCH = 4 };

typedef struct azc_cuda_launch {
  char suffix[12];        /* function = kernel symbol + suffix */
  int32_t when;           /* AZC_CUDA_WHEN_* */
  int32_t block;          /* threads per block (a multiple of 32) */
  int32_t grid_x;         /* blocks along x */
  int32_t rows_per_block; /* grid y = ceil(M / rows_per_block) */
  int32_t smem;           /* dynamic shared memory, bytes */
} azc_cuda_launch_t;

typedef struct azc_cuda_kernel_info {
  int32_t n_launch;
  int32_t reserved;
  int64_t scratch_per_row; /* device scratch bytes per row of M */
  azc_cuda_launch_t launch[AZC_CUDA_MAX_LAUNCH];
} azc_cuda_kernel_info_t;

/* grid y of a launch at M rows */
static inline int64_t azc_cuda_grid_y(const azc_cuda_launch_t *l, int64_t M) {
  return (M + l->rows_per_block - 1) / l->rows_per_block;
}
/* whether a launch runs for a step of M rows */
static inline int azc_cuda_launch_runs(const azc_cuda_launch_t *l, int64_t M) {
  return M > 0 &&
         (l->when == AZC_CUDA_WHEN_ALWAYS || (l->when == AZC_CUDA_WHEN_ONE_ROW && M == 1) ||
          (l->when == AZC_CUDA_WHEN_MANY_ROWS && M > 1));
}

#endif
