/* The CUDA driver API through dlopen (see cuda_driver.h). Entry points are
 * resolved with cuGetProcAddress_v2 (CUDA 12.5+ drivers export it; older
 * CUDA 12 drivers only the 4-argument cuGetProcAddress) at the CUDA 12.0
 * ABI, so each name gives the entry point the 12.0 headers map it to
 * (cuMemAlloc -> cuMemAlloc_v2, cuStreamBeginCapture -> _v2, ...). */
#include "runtime/cuda_driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AZC_CUDA_ABI_REQUEST 12000

typedef azc_cu_result_t (*get_proc_v2_t)(const char *symbol, void **pfn, int version,
                                         uint64_t flags, int *status);
typedef azc_cu_result_t (*get_proc_v1_t)(const char *symbol, void **pfn, int version,
                                         uint64_t flags);

void azc_cuda_driver_close(azc_cuda_driver_t *d) {
  if (!d) return;
  if (d->lib) dlclose(d->lib);
  free(d);
}

azc_status_t azc_cuda_driver_open(azc_cuda_driver_t **out) {
  *out = NULL;
  const char *env = getenv("AZC_LIBCUDA");
  const char *path = env && *env ? env : "libcuda.so.1";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    return AZC_ERR(AZC_NOT_FOUND, "no CUDA driver: cannot load %s (%s)", path,
                   why ? why : "not found");
  }
  azc_cuda_driver_t *d = calloc(1, sizeof(*d));
  if (!d) {
    dlclose(lib);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA driver table");
  }
  d->lib = lib;
  snprintf(d->path, sizeof(d->path), "%s", path);
  get_proc_v2_t v2;
  get_proc_v1_t v1;
  *(void **)&v2 = dlsym(lib, "cuGetProcAddress_v2");
  *(void **)&v1 = dlsym(lib, "cuGetProcAddress");
  *(void **)&d->DriverGetVersion = dlsym(lib, "cuDriverGetVersion");
  if ((!v2 && !v1) || !d->DriverGetVersion) {
    azc_cuda_driver_close(d);
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the CUDA driver %s has no cuGetProcAddress: it is older than CUDA 12", path);
  }
  if (d->DriverGetVersion(&d->version) != 0) d->version = 0;
  static const struct {
    const char *name;
    size_t offset;
  } entries[] = {
#define E(f) {"cu" #f, offsetof(azc_cuda_driver_t, f)}
      E(Init),
      E(GetErrorString),
      E(DeviceGetCount),
      E(DeviceGet),
      E(DeviceGetAttribute),
      E(DeviceGetName),
      E(DeviceTotalMem),
      E(DevicePrimaryCtxRetain),
      E(DevicePrimaryCtxRelease),
      E(CtxSetCurrent),
      E(MemGetInfo),
      E(ModuleLoadDataEx),
      E(ModuleUnload),
      E(ModuleGetFunction),
      E(FuncSetAttribute),
      E(MemAlloc),
      E(MemFree),
      E(MemcpyHtoDAsync),
      E(MemcpyDtoHAsync),
      E(MemsetD8Async),
      E(StreamCreate),
      E(StreamDestroy),
      E(StreamSynchronize),
      E(LaunchKernel),
      E(StreamBeginCapture),
      E(StreamEndCapture),
      E(GraphInstantiateWithFlags),
      E(GraphLaunch),
      E(GraphExecDestroy),
      E(GraphDestroy),
#undef E
  };
  for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
    void *fn = NULL;
    int found = 0;
    azc_cu_result_t r = v2 ? v2(entries[i].name, &fn, AZC_CUDA_ABI_REQUEST, 0, &found)
                           : v1(entries[i].name, &fn, AZC_CUDA_ABI_REQUEST, 0);
    if (r != 0 || !fn) {
      int version = d->version;
      azc_cuda_driver_close(d);
      return AZC_ERR(AZC_UNSUPPORTED,
                     "the CUDA driver %s (version %d.%d) lacks %s (error %d): it is too old", path,
                     version / 1000, version % 1000 / 10, entries[i].name, r);
    }
    memcpy((char *)d + entries[i].offset, &fn, sizeof(fn));
  }
  *out = d;
  return NULL;
}

azc_status_t azc_cuda_check(const azc_cuda_driver_t *d, azc_cu_result_t r, const char *call) {
  if (r == 0) return NULL;
  const char *s = NULL;
  if (!d->GetErrorString || d->GetErrorString(r, &s) != 0 || !s) s = "unknown error";
  int code = r == AZC_CU_ERROR_NO_DEVICE || r == AZC_CU_ERROR_INSUFFICIENT_DRIVER ? AZC_UNSUPPORTED
             : r == AZC_CU_ERROR_OUT_OF_MEMORY ? AZC_OUT_OF_MEMORY
                                               : AZC_INTERNAL;
  return AZC_ERR(code, "%s: CUDA error %d: %s", call, r, s);
}
