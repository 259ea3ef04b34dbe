/* Kernel specs: what one compiled kernel computes, independent of any target.
 *
 * A spec is made from one node of the fused graph (its op, static shapes,
 * quant types, layouts, prologue/epilogue and constants). Its canonical bytes
 * feed the cache key, so layers with the same shapes share one kernel, and a
 * second model with the same shapes reuses the first one's kernels. The
 * parameters are one typed record per kernel kind (codegen/kernel_params.h);
 * the CPU code generator instantiates a C template with the record, and
 * every other code generator reads the same specs. */
#ifndef AZC_CODEGEN_SPEC_H
#define AZC_CODEGEN_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/kernel_params.h"
#include "ir/ir.h"

typedef struct azc_kernel_spec {
  uint32_t kind; /* AZK_KIND_*: which member of p */
  union {
    azk_mm_params_t mm;             /* MATMUL */
    azk_fa_params_t fa;             /* FLASH_ATTN */
    azk_get_rows_params_t get_rows; /* GET_ROWS */
    azk_ew_params_t ew;             /* ELEMENTWISE */
    azk_norm_params_t norm;         /* NORM */
    azk_slice_params_t slice;       /* SLICE */
    azk_rope_params_t rope;         /* ROPE */
    azk_kv_write_params_t kv_write; /* KV_WRITE */
    azk_attn_params_t attn;         /* ATTN_SCORES, ATTN_VALUES, CAUSAL_MASK */
    azk_softmax_params_t softmax;   /* SOFTMAX */
  } p;
} azc_kernel_spec_t;

/* The spec for a node that runs as a kernel; AZC_UNSUPPORTED for ops that
 * need none (inputs, weights, caches, reshape, output). */
azc_status_t azc_kernel_spec_from_node(const azc_ir_node_t *n, azc_kernel_spec_t *out);
/* Whether a node runs as a kernel at all. */
bool azc_kernel_node_needs_kernel(const azc_ir_node_t *n);
/* Bytes of the parameter record of a kernel kind; 0 for an unknown kind. */
size_t azc_kernel_params_size(uint32_t kind);
/* Canonical bytes: a tag, the kind and the kind's parameter record (unused
 * fields zero). Returns the size written (<= AZC_KERNEL_SPEC_MAX_BYTES). */
enum { AZC_KERNEL_SPEC_MAX_BYTES = 8 + 4 + sizeof(azk_mm_params_t) + 64 };
size_t azc_kernel_spec_bytes(const azc_kernel_spec_t *s, uint8_t *buf);
/* The template function the spec instantiates ("azk_entry_matmul"). */
const char *azc_kernel_spec_entry(const azc_kernel_spec_t *s);
/* One line for humans: "matmul K=2048 N=2048+256+256 q4_k,q4_k,q6_k rms -> rope_kv". */
void azc_kernel_spec_describe(const azc_kernel_spec_t *s, char *buf, size_t cap);
/* Rough floating-point work per row, to decide how many threads a step gets. */
double azc_kernel_spec_work_per_row(const azc_kernel_spec_t *s);

#endif
