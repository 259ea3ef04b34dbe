/* Test support: a compiled model's kernels as CUDA C (codegen/cuda), built
 * as C++ with tests/gpu/cuda_emu.h into a shared object, and an executor
 * that runs the model's plan through it on the CPU: arena, KV cache and
 * scratch in host memory, each plan step as its kernel's launches, every
 * block on fibers (tests/gpu/cuda_emu.h). The eager interpreter is the
 * reference it is compared with. */
#ifndef AZC_TESTS_GPU_GPU_HARNESS_H
#define AZC_TESTS_GPU_GPU_HARNESS_H

#include "codegen/cuda/cuda_gen.h"
#include "runtime/base/buf.h"
#include "runtime/executor.h"
#include "tests/codegen/compiled.h"

typedef struct gpu_module {
  char *source; /* the CUDA C module */
  size_t source_len;
  int n_kernels;
  azc_cuda_kernel_info_t *info; /* per plan kernel */
  void *so;                     /* dlopen handle of the host build */
} gpu_module_t;

/* The CUDA C of every kernel of a compiled model (compiled with layouts
 * the CUDA kernels read: target cpu x86-64). */
azc_status_t gpu_module_generate(const compiled_model_t *c, gpu_module_t **out);
/* Builds the module's source (or `source` when not NULL: a planted
 * variant) with clang++ and cuda_emu.h, and loads it. */
azc_status_t gpu_module_build(gpu_module_t *m, const char *source, const char *tag);
void gpu_module_free(gpu_module_t *m);

/* An executor running the plan on the emulated GPU; seed orders the fibers. */
azc_status_t gpu_emu_executor(const compiled_model_t *c, const gpu_module_t *m,
                              const azc_executor_params_t *p, uint64_t seed, azc_executor_t **out);

#endif
