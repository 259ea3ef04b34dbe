/* NVRTC driver (see nvrtc.h). */
#include "codegen/cuda/nvrtc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef AZC_HAVE_NVRTC
#include <nvrtc.h>
#endif

void azc_cuda_images_free(azc_cuda_images_t *imgs) {
  if (!imgs) return;
  for (int i = 0; i < imgs->n; i++) free(imgs->img[i].data);
  memset(imgs, 0, sizeof(*imgs));
}

azc_status_t azc_cuda_parse_archs(const char *list, int32_t *sms, int *n) {
  *n = 0;
  if (!list || !*list) list = "sm_80,sm_90";
  const char *p = list;
  while (*p) {
    int sm = 0, used = 0;
    if (sscanf(p, "sm_%d%n", &sm, &used) != 1 || used == 0)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "--gpu-arch %s: expected a list like sm_80,sm_90", list);
    if (sm < 75)
      return AZC_ERR(AZC_UNSUPPORTED, "--gpu-arch sm_%d: CUDA 13 supports sm_75 and newer", sm);
    p += used;
    if (*p == ',')
      p++;
    else if (*p)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "--gpu-arch %s: expected a list like sm_80,sm_90", list);
    bool dup = false;
    for (int i = 0; i < *n; i++) dup |= sms[i] == sm;
    if (dup) continue;
    if (*n == AZC_CUDA_MAX_ARCHS)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "--gpu-arch %s: at most %d archs", list,
                     AZC_CUDA_MAX_ARCHS);
    sms[(*n)++] = sm;
  }
  for (int i = 1; i < *n; i++) /* insertion sort: few entries */
    for (int j = i; j > 0 && sms[j - 1] > sms[j]; j--) {
      int32_t t = sms[j];
      sms[j] = sms[j - 1];
      sms[j - 1] = t;
    }
  return NULL;
}

#ifndef AZC_HAVE_NVRTC
bool azc_nvrtc_available(void) { return false; }
const char *azc_nvrtc_version(void) { return "none"; }
azc_status_t azc_nvrtc_compile(const char *src, const char *name, const int32_t *sms, int n_sms,
                               azc_cuda_images_t *out) {
  memset(out, 0, sizeof(*out));
  return AZC_ERR(AZC_UNSUPPORTED,
                 "GPU code generation is not built in: this azc was configured without NVRTC "
                 "(CUDA toolkit not found under /usr/local/cuda)");
}
#else
bool azc_nvrtc_available(void) { return true; }

const char *azc_nvrtc_version(void) {
  static char buf[32];
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "unknown";
  snprintf(buf, sizeof(buf), "%d.%d", major, minor);
  return buf;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static azc_status_t one_arch(const char *src, const char *name, int sm, bool want_ptx,
                             azc_cuda_images_t *out) {
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
  if (r != NVRTC_SUCCESS)
    return AZC_ERR(AZC_INTERNAL, "NVRTC: creating program %s: %s", name, nvrtcGetErrorString(r));
  char arch[32];
  snprintf(arch, sizeof(arch), "-arch=sm_%d", sm);
  const char *opts[] = {arch, "--std=c++17", "-default-device", "--fmad=false"};
  r = nvrtcCompileProgram(prog, (int)(sizeof(opts) / sizeof(opts[0])), opts);
  size_t log_size = 0;
  nvrtcGetProgramLogSize(prog, &log_size);
  char *log = malloc(log_size + 1);
  if (!log) {
    nvrtcDestroyProgram(&prog);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "NVRTC log");
  }
  log[0] = 0;
  if (log_size) nvrtcGetProgramLog(prog, log);
  log[log_size] = 0;
  /* a log with text is a warning at least: generated code compiles cleanly */
  size_t len = strlen(log);
  while (len && (log[len - 1] == '\n' || log[len - 1] == ' ')) log[--len] = 0;
  if (r != NVRTC_SUCCESS || len) {
    azc_status_t st =
        AZC_ERR(AZC_INTERNAL, "NVRTC sm_%d, %s: %s%s%.4000s", sm, name,
                r != NVRTC_SUCCESS ? nvrtcGetErrorString(r) : "warnings", len ? ":\n" : "", log);
    free(log);
    nvrtcDestroyProgram(&prog);
    return st;
  }
  free(log);
  azc_status_t st = NULL;
  for (int pass = 0; pass < (want_ptx ? 2 : 1) && !st; pass++) {
    size_t size = 0;
    r = pass == 0 ? nvrtcGetCUBINSize(prog, &size) : nvrtcGetPTXSize(prog, &size);
    uint8_t *data = r == NVRTC_SUCCESS && size ? malloc(size) : NULL;
    if (data) r = pass == 0 ? nvrtcGetCUBIN(prog, (char *)data) : nvrtcGetPTX(prog, (char *)data);
    if (!data || r != NVRTC_SUCCESS) {
      free(data);
      st = AZC_ERR(AZC_INTERNAL, "NVRTC sm_%d, %s: no %s (%s)", sm, name, pass ? "PTX" : "cubin",
                   nvrtcGetErrorString(r));
      break;
    }
    azc_cuda_image_t *img = &out->img[out->n++];
    img->sm = sm;
    img->is_ptx = pass;
    img->data = data;
    img->size = size;
  }
  nvrtcDestroyProgram(&prog);
  return st;
}

azc_status_t azc_nvrtc_compile(const char *src, const char *name, const int32_t *sms, int n_sms,
                               azc_cuda_images_t *out) {
  memset(out, 0, sizeof(*out));
  if (n_sms < 1 || n_sms > AZC_CUDA_MAX_ARCHS)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "NVRTC: %d archs", n_sms);
  double t0 = now_ms();
  for (int i = 0; i < n_sms; i++) {
    azc_status_t st = one_arch(src, name, sms[i], i == 0, out);
    if (st) {
      azc_cuda_images_free(out);
      return st;
    }
  }
  out->ms = now_ms() - t0;
  return NULL;
}
#endif
