/* The bundle's "cuda.code" section: the GPU code of a model, and where its
 * layers may run. azc compile writes it when asked for GPU code (--gpu-arch,
 * -ngl N > 0, a Modelfile's num_gpu); the runtime reads it without NVRTC.
 *
 * A GPU bundle's plan lists every kernel twice: once for the CPU (all plan
 * kernels of device CPU, in "cpu.code", so the model can always fall back
 * to the CPU) and once for CUDA (the kernels of device CUDA, described
 * here). The plan's steps carry the compile-time default placement (layers
 * [0, n_gpu_layers) on CUDA); azc_cuda_code_place re-places a plan for
 * another layer count at run time, swapping each step's kernel for its twin
 * on the other device and re-marking the copy steps.
 *
 * Layout (little-endian; every offset from the section start, checked):
 *
 *   azc_cuda_code_header_t                        104 bytes
 *   images   [n_images]  azc_cuda_code_image_rec_t  24 bytes each, at images_offset:
 *            a cubin per listed arch (sm ascending), then the PTX of the
 *            lowest arch (is_ptx 1, NUL-terminated text); data 16-aligned
 *   kernels  [n_kernels] azc_cuda_code_kernel_t    200 bytes each, at kernels_offset:
 *            one per CUDA plan kernel, in plan order: its plan index, its CPU
 *            twin, the function prefix and the launch records (cuda_abi.h)
 *   groups   [n_groups]  int32, at groups_offset: per kernel step of the
 *            plan (copy steps not counted, plan order) the layer whose
 *            placement it follows, 0 .. n_layer - 1 (the embedding goes with
 *            layer 0, the output head with the last layer)
 *   source   source_size bytes + a NUL, at source_offset: the module's CUDA
 *            C text (kernel library + every kernel), the text NVRTC compiled;
 *            the CPU stand-in for libcuda builds this source on the host
 *
 * module_key is XXH3-128 over the source and the NVRTC salt (NVRTC version,
 * arch list, options): the key the compiled images are cached under. */
#ifndef AZC_RUNTIME_CUDA_CODE_H
#define AZC_RUNTIME_CUDA_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/cuda_abi.h"
#include "runtime/plan.h"

#define AZC_SECTION_CUDA_CODE "cuda.code"
#define AZC_CUDA_CODE_MAGIC "AZCCUDA1"

typedef struct azc_cuda_code_header {
  char magic[8];        /* "AZCCUDA1" */
  uint32_t abi_version; /* AZC_CUDA_ABI_VERSION */
  uint32_t n_images;    /* 1 .. 9 */
  uint32_t n_kernels;   /* CUDA kernels of the plan */
  uint32_t n_groups;    /* kernel steps of the plan */
  uint32_t n_layer;     /* placement groups: layers 0 .. n_layer - 1 */
  uint32_t reserved;    /* 0 */
  uint8_t module_key[16];
  char nvrtc_version[16]; /* "13.0", NUL-terminated */
  uint64_t images_offset, kernels_offset, groups_offset, source_offset, source_size;
} azc_cuda_code_header_t;
_Static_assert(sizeof(azc_cuda_code_header_t) == 104, "cuda.code header layout");

typedef struct azc_cuda_code_image_rec {
  int32_t sm;     /* 80 for sm_80 */
  int32_t is_ptx; /* 1: PTX text (size counts its NUL), 0: cubin (ELF) */
  uint64_t offset, size;
} azc_cuda_code_image_rec_t;
_Static_assert(sizeof(azc_cuda_code_image_rec_t) == 24, "cuda.code image record layout");

typedef struct azc_cuda_code_kernel {
  int32_t plan_kernel; /* index of this kernel in the plan (device CUDA) */
  int32_t cpu_kernel;  /* index of its twin (same spec, device CPU); -1: none */
  char symbol[48];     /* functions: symbol + each launch's suffix */
  azc_cuda_kernel_info_t info;
} azc_cuda_code_kernel_t;
_Static_assert(sizeof(azc_cuda_code_kernel_t) == 200, "cuda.code kernel record layout");

/* A read section: copies of the tables, borrowed image and source bytes. */
typedef struct azc_cuda_code_image {
  int32_t sm, is_ptx;
  const uint8_t *data; /* into the section */
  size_t size;
} azc_cuda_code_image_t;

typedef struct azc_cuda_code {
  azc_cuda_code_header_t header;
  int n_images;
  azc_cuda_code_image_t images[9];
  int32_t n_kernels;
  azc_cuda_code_kernel_t *kernels; /* owned copy */
  int32_t n_groups;
  int32_t *groups; /* owned copy */
  int32_t n_layer;
  const char *source; /* into the section, NUL-terminated */
  size_t source_size; /* without the NUL */
} azc_cuda_code_t;

/* Reads and checks a cuda.code section (every count, offset, size, string
 * and launch record; never trusts the bytes). The section must outlive the
 * result. Gives an object to azc_cuda_code_free. */
azc_status_t azc_cuda_code_read(const void *data, size_t size, azc_cuda_code_t **out);
void azc_cuda_code_free(azc_cuda_code_t *cc);

/* Writes a section (the compiler's side; kept here so the format lives in
 * one file): images are n_images cubins by ascending arch then the PTX of
 * the lowest; kernels, groups and source as described above. *out is
 * malloc'd. */
azc_status_t azc_cuda_code_write(const azc_cuda_code_image_t *images, int n_images,
                                 const azc_cuda_code_kernel_t *kernels, int32_t n_kernels,
                                 const int32_t *groups, int32_t n_groups, int32_t n_layer,
                                 const char *source, size_t source_size,
                                 const uint8_t module_key[16], const char *nvrtc_version,
                                 uint8_t **out, size_t *out_size);

/* Checks the section against its plan: one record per CUDA kernel in plan
 * order, each twin a CPU kernel or -1 (none: a GPU-only bundle, compiled by
 * an azc without a CPU back end), one group per kernel step, every step's
 * kernel on the step's device. */
azc_status_t azc_cuda_code_check_plan(const azc_cuda_code_t *cc, const azc_plan_t *plan);

/* The image to load for a GPU of compute capability sm (86 for 8.6): the
 * cubin of the highest listed arch of the same major version not above it,
 * else the PTX when its arch is not above sm; NULL if none fits. */
const azc_cuda_code_image_t *azc_cuda_code_pick_image(const azc_cuda_code_t *cc, int32_t sm);

/* A copy of `plan` with layers [0, n_gpu_layers) on CUDA and the rest on
 * the CPU (n_gpu_layers >= n_layer: every step on CUDA; 0: every step on the
 * CPU, cc may then be NULL), each step's kernel swapped for its twin on its
 * new device and the copy steps marked again (azc_plan_insert_copies). cc
 * must have passed azc_cuda_code_check_plan for this plan. */
azc_status_t azc_cuda_code_place(const azc_plan_t *plan, const azc_cuda_code_t *cc,
                                 int32_t n_gpu_layers, azc_plan_t **out);

/* The layers a plan runs on CUDA (the steps of groups below the first CPU
 * group), and the weight bytes each device reads (a weight read on both
 * counts for both). */
int32_t azc_cuda_code_gpu_layers(const azc_plan_t *plan, const azc_cuda_code_t *cc);
void azc_plan_device_weight_bytes(const azc_plan_t *plan, int64_t bytes[AZC_DEVICE_COUNT]);

#endif
