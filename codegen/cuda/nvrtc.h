/* NVRTC: a CUDA C module (codegen/cuda/cuda_gen.h) to device code.
 *
 * One program per model: the whole module is compiled once per listed arch
 * (a cubin each), and the PTX of the lowest arch is kept too, so a newer GPU
 * can JIT it. NVRTC is optional at build time (CMake looks for it under
 * /usr/local/cuda); without it every call here fails with AZC_UNSUPPORTED
 * saying GPU code generation is not built in. Compiler warnings are errors:
 * generated code is expected to compile cleanly, and the log says where. */
#ifndef AZC_CODEGEN_CUDA_NVRTC_H
#define AZC_CODEGEN_CUDA_NVRTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

enum { AZC_CUDA_MAX_ARCHS = 8 };

typedef struct azc_cuda_image {
  int32_t sm;     /* 80 for sm_80 */
  int32_t is_ptx; /* 1: PTX text (NUL included), 0: cubin (ELF) */
  uint8_t *data;
  size_t size;
} azc_cuda_image_t;

typedef struct azc_cuda_images {
  int n;
  azc_cuda_image_t img[AZC_CUDA_MAX_ARCHS + 1];
  double ms; /* compile time, all archs */
} azc_cuda_images_t;

/* Whether this azc was built with NVRTC, and its version ("13.0"). */
bool azc_nvrtc_available(void);
const char *azc_nvrtc_version(void);

/* "sm_80,sm_90" -> {80, 90}, sorted, each supported (sm_75 and newer). */
azc_status_t azc_cuda_parse_archs(const char *list, int32_t *sms, int *n);

/* Compiles `src` (name: for messages) for every arch in sms: one cubin per
 * arch, then the PTX of the lowest. On failure the status carries NVRTC's
 * log. */
azc_status_t azc_nvrtc_compile(const char *src, const char *name, const int32_t *sms, int n_sms,
                               azc_cuda_images_t *out);
void azc_cuda_images_free(azc_cuda_images_t *imgs);

#endif
