/* The executor factory (see exec_factory.h). One entry per device: a device
 * whose executor is built into this runtime names its create function here;
 * the CPU executor is the one for plans that use only the CPU. */
#include "runtime/exec_factory.h"

#include <stdlib.h>

#include "runtime/cpu_exec.h"
#include "runtime/cuda_exec.h"
#include "runtime/kernel_symbols.h"

typedef azc_status_t (*create_fn_t)(const azc_plan_code_t *code,
                                    const azc_executor_params_t *params, azc_executor_t **out);

static azc_status_t create_cpu(const azc_plan_code_t *code, const azc_executor_params_t *params,
                               azc_executor_t **out) {
  return azc_cpu_exec_create(code->plan, code->cpu_kernels, code->weights, params, out);
}

/* the CUDA executor places the layers (-ngl), or falls back to the CPU */
static azc_status_t create_cuda(const azc_plan_code_t *code, const azc_executor_params_t *params,
                                azc_executor_t **out) {
  if (!code->code[AZC_DEVICE_CUDA])
    return AZC_ERR(AZC_CORRUPT, "the plan runs steps on CUDA but there is no CUDA code");
  return azc_cuda_executor_create_for_section(code->plan, code->weights, code->cpu_kernels,
                                              code->code[AZC_DEVICE_CUDA],
                                              code->code_size[AZC_DEVICE_CUDA], params, out);
}

/* the executor that runs a plan whose most capable device is the index */
static const create_fn_t executors[AZC_DEVICE_COUNT] = {
    [AZC_DEVICE_CPU] = create_cpu,
    [AZC_DEVICE_CUDA] = create_cuda,
};

azc_status_t azc_executor_create_for_plan(const azc_plan_code_t *code,
                                          const azc_executor_params_t *params,
                                          azc_executor_t **out) {
  *out = NULL;
  uint32_t devices = azc_plan_devices(code->plan);
  /* the executor of the highest device used runs the whole plan */
  int32_t pick = AZC_DEVICE_CPU;
  for (int32_t d = 0; d < AZC_DEVICE_COUNT; d++)
    if (devices & (1u << d)) pick = d;
  /* a bundle with GPU code may be placed on the GPU at run time (-ngl) */
  if (code->code[AZC_DEVICE_CUDA] && params->gpu_layers_set && params->n_gpu_layers != 0)
    pick = AZC_DEVICE_CUDA;
  if (!executors[pick])
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the plan runs steps on the %s, and this runtime has no %s executor built in",
                   azc_device_name(pick), azc_device_name(pick));
  return executors[pick](code, params, out);
}

azc_status_t azc_cpu_kernels_load(const azc_plan_t *p, const void *const *objects,
                                  const size_t *sizes, azc_code_image_t **image,
                                  azk_fn_t **kernels) {
  *image = NULL;
  *kernels = NULL;
  int n = 0;
  const void **objs = calloc((size_t)p->n_kernels + 1, sizeof(void *));
  size_t *objs_size = calloc((size_t)p->n_kernels + 1, sizeof(size_t));
  azk_fn_t *fns = calloc((size_t)p->n_kernels + 1, sizeof(azk_fn_t));
  azc_status_t st = objs && objs_size && fns ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "kernel table");
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CPU) continue;
    if (!objects[k]) st = AZC_ERR(AZC_CORRUPT, "kernel %s has no code", p->kernels[k].symbol);
    objs[n] = objects[k];
    objs_size[n++] = sizes[k];
  }
  if (!st && n) st = azc_code_image_load(objs, objs_size, n, azc_kernel_resolve, NULL, image);
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CPU) continue;
    void *f = azc_code_image_symbol(*image, p->kernels[k].symbol);
    if (!f) st = AZC_ERR(AZC_CORRUPT, "kernel %s is missing from its code", p->kernels[k].symbol);
    *(void **)&fns[k] = f;
  }
  free(objs);
  free(objs_size);
  if (st) {
    free(fns);
    azc_code_image_free(*image);
    *image = NULL;
    return st;
  }
  *kernels = fns;
  return NULL;
}
