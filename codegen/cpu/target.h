/* CPU targets: which machine a bundle's code is for.
 *
 * A target is an LLVM triple, a CPU name and its features, plus the kernel
 * library variant (bitcode compiled for a class of vector units) and the list
 * of CPU features the runtime must find on the host before running the code.
 * Default: the host (LLVM's host CPU name and features). --target-cpu NAME
 * and --target TRIPLE cross-compile; names come from a table so that the
 * required features are known exactly. */
#ifndef AZC_CODEGEN_CPU_TARGET_H
#define AZC_CODEGEN_CPU_TARGET_H

#include <stdint.h>

#include "runtime/base/status.h"

typedef struct azc_cpu_target {
  char triple[64];     /* "x86_64-pc-linux-gnu", "aarch64-unknown-linux-gnu" */
  char arch[16];       /* "x86_64", "aarch64" */
  char cpu[64];        /* LLVM CPU name */
  char features[2048]; /* LLVM feature string ("+avx2,+fma,..."); may be empty */
  char variant[32];    /* kernel library variant: x86_64-avx512, x86_64-avx2, x86_64-generic,
                          aarch64-dotprod, aarch64-neon */
  char required[512];  /* comma-separated features checked at load ("avx2,fma,f16c") */
  uint32_t layouts;    /* weight layouts the variant's kernels read fastest (AZC_LAYOUT_BIT) */
} azc_cpu_target_t;

/* triple/cpu NULL: the host. An unknown cpu name fails listing the known ones. */
azc_status_t azc_cpu_target_resolve(const char *triple, const char *cpu, azc_cpu_target_t *out);
/* The names --target-cpu accepts for an architecture. */
const char *azc_cpu_target_known(const char *arch);

#endif
