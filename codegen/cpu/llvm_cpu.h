/* CPU code generation through the LLVM C API: one kernel spec in, one ELF
 * relocatable object out.
 *
 * The kernel library (codegen/cpu/kernels, compiled to bitcode at build
 * time for each target variant and embedded in azc) is parsed into a fresh
 * module; the spec's parameter block becomes a constant global; a wrapper
 * `void <symbol>(const azk_call_t *, int ith, int nth)` calling the template
 * with it is built with the IR builder; every other function is made
 * internal and always-inline, the module gets the target's CPU and features
 * and runs through LLVM's O3 pipeline (new pass manager; without the loop and
 * SLP vectorizers, which find nothing in the hand-vectorized library) before
 * the target machine emits an object. Everything the template does with the spec's
 * constants is specialized: loop trip counts, quant type dispatch, epilogues. */
#ifndef AZC_CODEGEN_CPU_LLVM_CPU_H
#define AZC_CODEGEN_CPU_LLVM_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/cpu/target.h"
#include "codegen/spec.h"

/* Names what azc_cpu_compile_kernel does to a module (pipeline, stubs), for
 * the cache key: change it whenever the same spec would give other code. */
#define AZC_CPU_CODEGEN_PIPELINE "O3-novec-tiles"

/* obj is malloc'd. */
azc_status_t azc_cpu_compile_kernel(const azc_cpu_target_t *target, const azc_kernel_spec_t *spec,
                                    const char *symbol, uint8_t **obj, size_t *obj_size);

/* XXH3-64 of the kernel library bitcode for a variant (part of cache keys, so
 * that a changed template invalidates cached kernels); 0 if not built. */
uint64_t azc_cpu_library_hash(const char *variant);
/* "llvm 19.1.7" */
const char *azc_cpu_llvm_version(void);

#endif
