/* The CUDA driver API, loaded at run time: no link-time CUDA dependency.
 *
 * azc_cuda_driver_open dlopens libcuda.so.1 (or the library $AZC_LIBCUDA
 * names: tests/gpu's CPU stand-in) and resolves the subset the CUDA
 * executor uses through cuGetProcAddress, asking for the CUDA 12.0 ABI: a
 * plain dlsym("cuMemAlloc") would give the legacy entry point, not the
 * _v2 one the headers map it to. The types are the driver's own, declared
 * here as opaque pointers and integers so that the runtime includes no CUDA
 * header and builds where no toolkit is installed. */
#ifndef AZC_RUNTIME_CUDA_DRIVER_H
#define AZC_RUNTIME_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

typedef int azc_cu_result_t; /* CUresult: 0 = CUDA_SUCCESS */
typedef int azc_cu_device_t;
typedef uint64_t azc_cu_ptr_t; /* CUdeviceptr */
typedef struct azc_cu_ctx *azc_cu_ctx_t;
typedef struct azc_cu_module *azc_cu_module_t;
typedef struct azc_cu_function *azc_cu_function_t;
typedef struct azc_cu_stream *azc_cu_stream_t;
typedef struct azc_cu_graph *azc_cu_graph_t;
typedef struct azc_cu_graph_exec *azc_cu_graph_exec_t;

/* the driver's enum values this runtime uses */
enum {
  AZC_CU_ATTR_CC_MAJOR = 75,             /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
  AZC_CU_ATTR_CC_MINOR = 76,             /* ..._MINOR */
  AZC_CU_ATTR_SMEM_OPTIN = 97,           /* ..._MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
  AZC_CU_FUNC_MAX_DYNAMIC_SMEM = 8,      /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
  AZC_CU_JIT_ERROR_LOG_BUFFER = 5,       /* CU_JIT_ERROR_LOG_BUFFER */
  AZC_CU_JIT_ERROR_LOG_BUFFER_SIZE = 6,  /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */
  AZC_CU_STREAM_NON_BLOCKING = 1,        /* CU_STREAM_NON_BLOCKING */
  AZC_CU_CAPTURE_MODE_THREAD_LOCAL = 1,  /* CU_STREAM_CAPTURE_MODE_THREAD_LOCAL */
  AZC_CU_ERROR_NO_DEVICE = 100,          /* CUDA_ERROR_NO_DEVICE */
  AZC_CU_ERROR_INSUFFICIENT_DRIVER = 35, /* CUDA_ERROR_INSUFFICIENT_DRIVER */
  AZC_CU_ERROR_OUT_OF_MEMORY = 2,        /* CUDA_ERROR_OUT_OF_MEMORY */
};

typedef struct azc_cuda_driver {
  void *lib;
  char path[256]; /* what was dlopened */
  int version;    /* cuDriverGetVersion: 13000 for CUDA 13.0 */
  azc_cu_result_t (*Init)(unsigned flags);
  azc_cu_result_t (*DriverGetVersion)(int *version);
  azc_cu_result_t (*GetErrorString)(azc_cu_result_t r, const char **s);
  azc_cu_result_t (*DeviceGetCount)(int *n);
  azc_cu_result_t (*DeviceGet)(azc_cu_device_t *d, int ordinal);
  azc_cu_result_t (*DeviceGetAttribute)(int *v, int attrib, azc_cu_device_t d);
  azc_cu_result_t (*DeviceGetName)(char *name, int len, azc_cu_device_t d);
  azc_cu_result_t (*DeviceTotalMem)(size_t *bytes, azc_cu_device_t d);
  azc_cu_result_t (*DevicePrimaryCtxRetain)(azc_cu_ctx_t *ctx, azc_cu_device_t d);
  azc_cu_result_t (*DevicePrimaryCtxRelease)(azc_cu_device_t d);
  azc_cu_result_t (*CtxSetCurrent)(azc_cu_ctx_t ctx);
  azc_cu_result_t (*MemGetInfo)(size_t *free_bytes, size_t *total_bytes);
  azc_cu_result_t (*ModuleLoadDataEx)(azc_cu_module_t *m, const void *image, unsigned n_opts,
                                      int *opts, void **values);
  azc_cu_result_t (*ModuleUnload)(azc_cu_module_t m);
  azc_cu_result_t (*ModuleGetFunction)(azc_cu_function_t *f, azc_cu_module_t m, const char *name);
  azc_cu_result_t (*FuncSetAttribute)(azc_cu_function_t f, int attrib, int value);
  azc_cu_result_t (*MemAlloc)(azc_cu_ptr_t *p, size_t bytes);
  azc_cu_result_t (*MemFree)(azc_cu_ptr_t p);
  azc_cu_result_t (*MemcpyHtoDAsync)(azc_cu_ptr_t dst, const void *src, size_t n,
                                     azc_cu_stream_t s);
  azc_cu_result_t (*MemcpyDtoHAsync)(void *dst, azc_cu_ptr_t src, size_t n, azc_cu_stream_t s);
  azc_cu_result_t (*MemsetD8Async)(azc_cu_ptr_t dst, unsigned char v, size_t n, azc_cu_stream_t s);
  azc_cu_result_t (*StreamCreate)(azc_cu_stream_t *s, unsigned flags);
  azc_cu_result_t (*StreamDestroy)(azc_cu_stream_t s);
  azc_cu_result_t (*StreamSynchronize)(azc_cu_stream_t s);
  azc_cu_result_t (*LaunchKernel)(azc_cu_function_t f, unsigned gx, unsigned gy, unsigned gz,
                                  unsigned bx, unsigned by, unsigned bz, unsigned smem,
                                  azc_cu_stream_t s, void **params, void **extra);
  azc_cu_result_t (*StreamBeginCapture)(azc_cu_stream_t s, int mode);
  azc_cu_result_t (*StreamEndCapture)(azc_cu_stream_t s, azc_cu_graph_t *g);
  azc_cu_result_t (*GraphInstantiateWithFlags)(azc_cu_graph_exec_t *e, azc_cu_graph_t g,
                                               unsigned long long flags);
  azc_cu_result_t (*GraphLaunch)(azc_cu_graph_exec_t e, azc_cu_stream_t s);
  azc_cu_result_t (*GraphExecDestroy)(azc_cu_graph_exec_t e);
  azc_cu_result_t (*GraphDestroy)(azc_cu_graph_t g);
} azc_cuda_driver_t;

/* Loads the driver and resolves every entry point above. AZC_NOT_FOUND
 * when there is no driver library (the message says which path was tried),
 * AZC_UNSUPPORTED when it lacks cuGetProcAddress or an entry point (a driver
 * older than CUDA 12). Does not call cuInit. */
azc_status_t azc_cuda_driver_open(azc_cuda_driver_t **out);
void azc_cuda_driver_close(azc_cuda_driver_t *d);

/* "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory" as a status
 * (AZC_UNSUPPORTED for a missing device or an old driver, AZC_OUT_OF_MEMORY,
 * else AZC_INTERNAL);
 * NULL for success. */
azc_status_t azc_cuda_check(const azc_cuda_driver_t *d, azc_cu_result_t r, const char *call);

#endif
