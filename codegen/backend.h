/* The code-generator back-end interface: what the compile driver asks of a
 * code generator, as a struct of function pointers (as ggml's backends are).
 * The driver (driver/compile.c) knows kernel specs, the cache and the plan;
 * everything about a machine -- which one, how its kernels read weights,
 * how much scratch they need, how a kernel becomes code, what makes cached
 * code stale -- comes through this table. codegen/cpu (LLVM, ELF objects)
 * is the first implementation; a GPU generator is another table beside it.
 *
 * A back end resolves a target from the user's request (a CPU name, a GPU
 * arch list) into an opaque azc_codegen_target_t it owns; every other entry
 * takes that target. All entries but target_resolve/target_free must be
 * safe to call from several threads at once (kernels compile in parallel).
 *
 * Ownership: target_resolve gives the caller a target to target_free;
 * compile_kernel gives a malloc'd code blob (what the cache stores and,
 * unless the back end links, the bundle's code section for this back end
 * carries, one blob per kernel).
 *
 * A back end whose kernels are not final code on their own links them: the
 * CUDA back end's per-kernel code is its CUDA C text and launch records, and
 * link builds the whole model's module once, compiles it once (NVRTC: one
 * program per model, not per kernel), caches the images under a key of the
 * module text and its own salt, and gives the "<name>.code" section. */
#ifndef AZC_CODEGEN_BACKEND_H
#define AZC_CODEGEN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/spec.h"
#include "runtime/base/status.h"
#include "runtime/plan.h"

/* What the user asked for; each back end reads the fields it knows. */
typedef struct azc_target_request {
  const char *triple;   /* CPU: LLVM triple (NULL: the host) */
  const char *cpu;      /* CPU: CPU name (NULL: the host, or the triple's default) */
  const char *gpu_arch; /* GPU: "sm_80,sm_90" (NULL: the back end's default) */
} azc_target_request_t;

typedef struct azc_codegen_target azc_codegen_target_t; /* per back end */

/* What link gets: the plan (its kernels of this back end's device are the
 * ones to link, in plan order) and every kernel's code; borrowed. */
typedef struct azc_codegen_link_input {
  const azc_plan_t *plan;
  const uint8_t *const *code; /* per plan kernel: compile_kernel's blob (or the cache's) */
  const size_t *code_sizes;
  const int32_t *twin;   /* per plan kernel: the same spec's kernel on the CPU, or -1 */
  const int32_t *groups; /* per kernel step: the layer whose placement it follows */
  int32_t n_groups, n_layer;
  bool use_cache;
  const char *cache_dir; /* NULL: from the environment */
} azc_codegen_link_input_t;

typedef struct azc_codegen_link_output {
  uint8_t *section; /* malloc'd: the bundle's "<name>.code" section */
  size_t section_size;
  bool cache_hit;    /* the module's code came from the cache */
  double ms;         /* linking and compiling the module */
  char summary[256]; /* one line for humans */
} azc_codegen_link_output_t;

typedef struct azc_codegen_backend {
  const char *name; /* "cpu": names its bundle sections ("cpu.target", "cpu.code") */
  int32_t device;   /* AZC_DEVICE_* (runtime/plan.h): where its kernels run */

  /* ---- target resolution ---- */
  azc_status_t (*target_resolve)(const azc_target_request_t *request, azc_codegen_target_t **out);
  void (*target_free)(azc_codegen_target_t *target);
  /* One line for humans: "x86_64-pc-linux-gnu, cpu znver3, kernel variant x86_64-avx2". */
  void (*target_describe)(const azc_codegen_target_t *target, char *buf, size_t cap);
  /* The bundle's "<name>.target" record: writes it when it fits in cap bytes
   * (buf may be NULL to ask the size) and returns its size (0: the back end
   * stores none). */
  size_t (*target_record)(const azc_codegen_target_t *target, void *buf, size_t cap);

  /* ---- layout choice ---- */
  /* The weight layouts its kernels read fastest, as AZC_LAYOUT_BIT()s (the
   * layout pass picks among them; 0: GGUF's own everywhere). */
  uint32_t (*layouts)(const azc_codegen_target_t *target);

  /* ---- scratch sizing ---- */
  /* Scratch a step of kernel `spec` needs at M rows: shared by the step's
   * threads, and per thread. */
  void (*scratch)(const azc_codegen_target_t *target, const azc_kernel_spec_t *spec, int64_t M,
                  int64_t *shared, int64_t *per_thread);

  /* ---- compiling a kernel ---- */
  /* The code of one kernel whose entry point is `symbol`; *code is malloc'd. */
  azc_status_t (*compile_kernel)(const azc_codegen_target_t *target, const azc_kernel_spec_t *spec,
                                 const char *symbol, uint8_t **code, size_t *code_size);

  /* ---- cache-key salt ---- */
  /* Everything besides the spec that decides the code (target, compiler and
   * kernel library versions, options, the ABI), starting with something that
   * tells this back end's salts from every other's (the CPU's: the LLVM
   * triple): appended to the spec bytes under the cache key. Writes at most
   * cap bytes, returns the length. */
  size_t (*key_salt)(const azc_codegen_target_t *target, char *buf, size_t cap);

  /* ---- linking (NULL: the code section is the per-kernel blobs) ---- */
  azc_status_t (*link)(const azc_codegen_target_t *target, const azc_codegen_link_input_t *in,
                       azc_codegen_link_output_t *out);
} azc_codegen_backend_t;

/* The back ends built into this azc. */
const azc_codegen_backend_t *azc_codegen_backend_cpu(void);
/* The CUDA back end (codegen/cuda/cuda_backend.c): NULL when this azc was
 * built without NVRTC. */
const azc_codegen_backend_t *azc_codegen_backend_cuda(void);
/* By name ("cpu", "cuda"); NULL if not built in. */
const azc_codegen_backend_t *azc_codegen_backend_find(const char *name);
/* The back ends the compiled-vs-eager matrix runs, in a fixed order (CUDA
 * not yet: see codegen/backend.c). */
const azc_codegen_backend_t *const *azc_codegen_backends(int *count);
/* "cpu" (comma-separated) */
const char *azc_codegen_backend_names(void);

#endif
