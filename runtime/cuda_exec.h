/* The CUDA executor: runs a plan whose steps are on the GPU and the CPU
 * (partial offload, -ngl N) through the driver API (runtime/cuda_driver.h,
 * dlopen: no link-time CUDA dependency).
 *
 * At creation it picks the device's image (the cubin of its arch, else the
 * PTX, JIT-compiled by the driver), loads the module, uploads the weights
 * the GPU steps read (once), allocates the device arena, scratch, the KV
 * cache of the GPU layers and the per-step values (azk_gpu_dyn_t, tokens,
 * positions, sequence ids, output rows), and prints the placement and the
 * bytes on each device. A forward call writes the per-step values, runs
 * every GPU step's launch records (runtime/cuda_abi.h) on one stream, the
 * CPU steps through the CPU executor (runtime/cpu_exec.h) and the copy
 * steps as device <-> host copies of the rows of one value. A one-token,
 * one-output step (decode) is captured as a CUDA graph per run of GPU steps
 * the first time and replayed at every later one: every pointer is fixed
 * and the per-step values are read from device memory, so the same graph
 * is right at every position (AZC_CUDA_GRAPHS=0 turns this off).
 *
 * azc_cuda_executor_create_offload is the entry the executor factory uses:
 * it decides how many layers go to the GPU (the request, else the bundle's
 * default; fewer when GPU memory is short, saying so; as many as fit for
 * AZC_GPU_LAYERS_AUTO) and falls back to the CPU, with one line saying why,
 * when there is no driver, no device, a driver too old, or no image for the
 * device. */
#ifndef AZC_RUNTIME_CUDA_EXEC_H
#define AZC_RUNTIME_CUDA_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/cuda_abi.h"
#include "runtime/cuda_driver.h"
#include "runtime/executor.h"
#include "runtime/kernel_abi.h"
#include "runtime/plan.h"

typedef struct azc_cuda_image_ref {
  int32_t sm;     /* 80 for sm_80 */
  int32_t is_ptx; /* 1: PTX text (NUL-terminated), 0: cubin */
  const void *data;
  size_t size;
} azc_cuda_image_ref_t;

/* The GPU code of a model, borrowed. */
typedef struct azc_cuda_program {
  int n_images;
  const azc_cuda_image_ref_t *images; /* cubins by ascending arch, then the PTX of the lowest */
  int32_t built_version;              /* CUDA version the code was built with (13000) */
  /* per plan kernel: for CUDA kernels, the function name prefix (launch i
   * runs prefix + info.launch[i].suffix) and the launch records */
  const char *const *prefix;
  const azc_cuda_kernel_info_t *info;
} azc_cuda_program_t;

/* The image for a device of compute capability sm (86 for 8.6): the cubin
 * of the highest arch of the same major version not above sm, else the
 * PTX when its arch is not above sm; NULL if none fits. */
const azc_cuda_image_ref_t *azc_cuda_program_pick(const azc_cuda_program_t *p, int32_t sm);

/* Device bytes the plan's GPU steps need at these parameters: weights,
 * KV cache of the GPU layers, arena, scratch, per-step values. */
int64_t azc_cuda_plan_device_bytes(const azc_plan_t *plan, const azc_cuda_program_t *prog,
                                   const azc_executor_params_t *params);

/* Creates the executor of a plan placed as it is. own_plan: the executor
 * frees the plan. Fails (nothing printed) when the device cannot be used. */
azc_status_t azc_cuda_exec_create(const azc_plan_t *plan, bool own_plan, const void *const *weights,
                                  const azk_fn_t *cpu_kernels, const azc_cuda_program_t *prog,
                                  const azc_executor_params_t *params, azc_executor_t **out);

/* Gives a copy of the plan with layers [0, n) on the GPU (n = 0: all on
 * the CPU; n >= n_layer: all on the GPU). */
typedef azc_status_t (*azc_plan_place_fn)(void *ctx, int32_t n_gpu_layers, azc_plan_t **out);

typedef struct azc_cuda_offload {
  const azc_plan_t *plan; /* as compiled (the bundle's default placement) */
  int32_t n_layer;        /* placement groups */
  int32_t default_layers; /* the layers the compiled plan has on the GPU */
  azc_plan_place_fn place;
  void *place_ctx;
  const void *const *weights;
  const azk_fn_t *cpu_kernels; /* every kernel's CPU twin is loaded */
  /* no kernel has a CPU twin (a bundle of an azc without a CPU back end):
   * all layers on the GPU or an error, never the CPU */
  bool gpu_only;
  azc_cuda_program_t prog; /* copied; its arrays are borrowed */
  /* called with release_ctx when the executor is destroyed (or creation
   * fails): frees what place_ctx and prog point into; may be NULL */
  void (*release)(void *ctx);
  void *release_ctx;
} azc_cuda_offload_t;

azc_status_t azc_cuda_executor_create_offload(const azc_cuda_offload_t *o,
                                              const azc_executor_params_t *params,
                                              azc_executor_t **out);

/* The placement a CUDA executor runs (azc bench reports it): the layers on
 * the GPU, and the offload line it printed ("22/22 layers on cuda0 (NVIDIA
 * H200, sm_90, ...)"); 0 and "" for any other executor. */
int32_t azc_cuda_executor_placement(const azc_executor_t *ex, char *buf, size_t cap);
/* The bytes a CUDA executor holds (azc serve's /api/ps size_vram): every
 * device allocation (weights, KV cache, activations, scratch, per-step
 * values), and on the host the weights and KV cache of its CPU steps;
 * false (and 0, 0) for any other executor. */
bool azc_cuda_executor_bytes(const azc_executor_t *ex, int64_t *device, int64_t *host);

/* The same for a bundle: its plan (kernels for both devices, the compiled
 * default placement), the CPU kernels, weights, and the "cuda.code" section
 * (runtime/cuda_code.h) as it is; all borrowed. */
azc_status_t azc_cuda_executor_create_for_section(const azc_plan_t *plan,
                                                  const void *const *weights,
                                                  const azk_fn_t *cpu_kernels, const void *section,
                                                  size_t section_size,
                                                  const azc_executor_params_t *params,
                                                  azc_executor_t **out);

#endif
