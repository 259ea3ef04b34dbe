/* CUDA C from kernel specs: the GPU half of code generation.
 *
 * The same kernel specs the CPU generator reads (codegen/spec.h) become CUDA
 * C here: each spec gives a struct of constants and one to four extern "C"
 * __global__ wrappers that instantiate the templates of the CUDA kernel
 * library (codegen/cuda/azk_cuda.cu, embedded into azc), plus the launch
 * records the runtime needs (runtime/cuda_abi.h). A module is the library
 * followed by the kernels of one model: NVRTC compiles it as one program
 * (codegen/cuda/nvrtc.h), and tests/gpu compiles the same text as C++ to run
 * it on the CPU.
 *
 * Kernels: matmul_fused as activation quantization (with the RMSNorm or
 * LayerNorm prologue) and then a __dp4a mat-vec for one-row steps or a
 * shared-memory row-tile mat-mat for many rows, with the residual, SwiGLU,
 * GELU and rope + KV-write epilogues, for F32, F16, BF16 and every GGUF
 * block type azc reads in GGUF's own layout; flash attention for prefill,
 * and for decode with the keys split across blocks and merged; and the
 * unfused ops (get_rows, elementwise, norms, slice, rope, kv_write,
 * attention scores and values, causal mask, softmax). */
#ifndef AZC_CODEGEN_CUDA_CUDA_GEN_H
#define AZC_CODEGEN_CUDA_CUDA_GEN_H

#include <stddef.h>

#include "codegen/spec.h"
#include "runtime/base/buf.h"
#include "runtime/cuda_abi.h"

/* The kernel library text (prepended to every module), and its length. */
const char *azc_cuda_library(size_t *len);

/* Appends the CUDA C of one kernel whose functions are `symbol` + the
 * launch suffixes, and fills its launch records. AZC_UNSUPPORTED names what
 * the CUDA kernels cannot do (a repacked layout, a head size over 256, ...). */
azc_status_t azc_cuda_gen_kernel(const azc_kernel_spec_t *spec, const char *symbol, azc_buf_t *src,
                                 azc_cuda_kernel_info_t *info);

/* Starts a module: the library text. Kernels are appended after it. */
void azc_cuda_module_begin(azc_buf_t *src);

#endif
