/* Kernel specs: what one compiled kernel computes, independent of any target.
 *
 * A spec is made from one node of the fused graph (its op, static shapes,
 * quant types, layouts, prologue/epilogue and constants). Its canonical bytes
 * feed the cache key, so layers with the same shapes share one kernel, and a
 * second model with the same shapes reuses the first one's kernels. The CPU
 * code generator instantiates a C template with the spec's parameter block;
 * a CUDA generator would read the same specs. */
#ifndef AZC_CODEGEN_SPEC_H
#define AZC_CODEGEN_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/cpu/kernels/azk_params.h"
#include "ir/ir.h"

typedef struct azc_kernel_spec {
  uint32_t kind; /* AZK_KIND_* */
  union {
    azk_mm_params_t mm;
    azk_fa_params_t fa;
    azk_op_params_t op;
  } p;
} azc_kernel_spec_t;

/* The spec for a node that runs as a kernel; AZC_UNSUPPORTED for ops that
 * need none (inputs, weights, caches, reshape, output). */
azc_status_t azc_kernel_spec_from_node(const azc_ir_node_t *n, azc_kernel_spec_t *out);
/* Whether a node runs as a kernel at all. */
bool azc_kernel_node_needs_kernel(const azc_ir_node_t *n);
/* Canonical bytes: a tag, the kind and the parameter block (unused fields
 * zero). Returns the size written (<= AZC_KERNEL_SPEC_MAX_BYTES). */
enum { AZC_KERNEL_SPEC_MAX_BYTES = 8 + 4 + sizeof(azk_mm_params_t) + 64 };
size_t azc_kernel_spec_bytes(const azc_kernel_spec_t *s, uint8_t *buf);
/* The template function the spec instantiates ("azk_entry_matmul"). */
const char *azc_kernel_spec_entry(const azc_kernel_spec_t *s);
/* One line for humans: "matmul K=2048 N=2048+256+256 q4_k,q4_k,q6_k rms -> rope_kv". */
void azc_kernel_spec_describe(const azc_kernel_spec_t *s, char *buf, size_t cap);
/* Scratch a step needs at M rows: shared by the threads, and per thread. */
void azc_kernel_spec_scratch(const azc_kernel_spec_t *s, int64_t M, int64_t *shared,
                             int64_t *per_thread);
/* Rough floating-point work per row, to decide how many threads a step gets. */
double azc_kernel_spec_work_per_row(const azc_kernel_spec_t *s);

#endif
