/* The compile driver: a lowered graph in, a plan and kernel code out. It is
 * the one place that knows the whole pipeline, top to bottom:
 *
 *   back end resolves the target -> passes (fusion, layouts the back end
 *   reads, memory plan) -> kernel specs per node -> distinct kernels (by
 *   cache key: spec bytes + the back end's salt) -> cache hit, or the back
 *   end compiles it + cache put -> plan -> weights repacked (or mapped from the
 *   cache, keyed by their source bytes and layout)
 *
 * The driver layer sits above frontend/, passes/ and codegen/ (codegen knows
 * neither of the first two). Kernels are compiled on the thread pool. The
 * result can run in-process (azc run model.gguf) or be written into a bundle
 * (driver/bundle_emit.h, azc compile). */
#ifndef AZC_DRIVER_COMPILE_H
#define AZC_DRIVER_COMPILE_H

#include <stdbool.h>
#include <stdio.h>

#include "codegen/backend.h"
#include "codegen/cache.h"
#include "ir/ir.h"
#include "runtime/plan.h"

typedef struct azc_compile_options {
  const char *backend;       /* the code generator ("cpu", the default when NULL) */
  const char *target_triple; /* NULL: host */
  const char *target_cpu;    /* NULL: host (or the triple's default) */
  /* GPU code: wanted when gpu_arch is set or n_gpu_layers != 0 (or backend
   * is "cuda": all layers). Every kernel then gets CPU code and CUDA code
   * (the bundle runs on either), the weights keep GGUF's layout, and the
   * plan places layers [0, n_gpu_layers) on CUDA (-1, 'auto': all, the
   * runtime places fewer when they do not fit; >= the layer count: all). */
  const char *gpu_arch; /* "sm_80,sm_90" (NULL: that default) */
  int32_t n_gpu_layers;
  int64_t n_batch;        /* most tokens per forward call (default 512) */
  int64_t n_ctx;          /* bounds unfused attention in the memory plan */
  bool use_cache;         /* false: --no-cache (compile everything, store nothing) */
  const char *cache_dir;  /* NULL: from the environment */
  bool fuse;              /* false: run the unfused graph (debugging) */
  const char *dump_after; /* pass name or "all" */
  FILE *dump_out;
  int jobs; /* parallel kernel compiles (<= 0: one per core) */
  /* progress: called after each kernel is ready */
  void (*progress)(void *user, int done, int total, bool hit, double ms, const char *desc);
  void *user;
} azc_compile_options_t;

azc_compile_options_t azc_compile_options_default(void);

typedef struct azc_compile_stats {
  int ops_before[AZC_OP_COUNT], ops_after[AZC_OP_COUNT];
  int nodes_before, nodes_after;
  int steps, kernels, cache_hits, cache_misses;
  int cache_rebuilt; /* damaged cache entries (kernels and repacked weights) found and rebuilt */
  double ms_passes, ms_specs, ms_codegen, ms_cache; /* ms_codegen: back-end time summed over jobs */
  double ms_kernels_wall;                           /* wall time of the kernel phase */
  double ms_repack;                                 /* weights the layout pass repacked */
  int64_t repacked_bytes;
  int repack_cache_hits,
      repack_cache_misses; /* repacked weights mapped from the cache / repacked */
  int64_t arena_bytes;
  int gpu_layers;         /* layers placed on the GPU by default (0: no GPU code) */
  double ms_link;         /* linking back ends' modules (NVRTC), wall time */
  bool link_cache_hit;    /* the GPU module's images came from the cache */
  char link_summary[256]; /* "CUDA module: ..." (empty: nothing linked) */
} azc_compile_stats_t;

typedef struct azc_compiled {
  /* the code generator of each device the plan uses (NULL: unused) and its
   * target (owned) */
  const azc_codegen_backend_t *backends[AZC_DEVICE_COUNT];
  azc_codegen_target_t *targets[AZC_DEVICE_COUNT];
  int32_t primary; /* the device of opt->backend: where the steps run (with GPU code: the CPU,
                      and the GPU layers on CUDA) */
  azc_plan_t *plan;
  /* per device whose back end links: its "<name>.code" section (owned) */
  uint8_t *sections[AZC_DEVICE_COUNT];
  size_t section_sizes[AZC_DEVICE_COUNT];
  uint8_t **objects; /* per plan kernel: its code (CPU: an ELF relocatable object), made by
                        the back end of plan->kernels[k].device */
  size_t *object_sizes;
  const void **weight_data; /* per plan weight: the bytes in the model file (borrowed), or
                               a repacked copy (owned: in repacked[], or mapped from the
                               cache in cached[]) */
  void **repacked;
  azc_cache_mapped_t *cached; /* per plan weight: its repacked bytes' cache entry (fd -1: none) */
  azc_compile_stats_t stats;
} azc_compiled_t;

/* Runs the passes on g (in place) and compiles it. The weights stay where the
 * graph points (the model file), so the model must outlive the result. */
azc_status_t azc_compile_graph(azc_ir_graph_t *g, int32_t n_vocab, int32_t n_ctx_train,
                               const azc_compile_options_t *opt, azc_compiled_t **out);
void azc_compiled_free(azc_compiled_t *c);

/* Each back end's target: "x86_64-pc-linux-gnu, cpu znver3, kernel variant x86_64-avx2" */
void azc_compiled_describe_target(const azc_compiled_t *c, char *buf, size_t cap);

#endif
