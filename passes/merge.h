/* Merging sibling matmuls (one input, several weights) into one multi-segment
 * matmul_fused: shared by merge_qkv.c and merge_gate_up.c. Internal. */
#ifndef AZC_PASSES_MERGE_H
#define AZC_PASSES_MERGE_H

#include "ir/ir.h"

/* Replaces the one-segment matmul_fused nodes parts[0..n) (same x, no
 * prologue/epilogue, all or none with bias) by one node with n segments in
 * that order; each old node's users then read a slice of the new output. */
azc_status_t merge_siblings(azc_ir_graph_t *g, azc_ir_node_t **parts, int n);
/* A plain one-segment matmul_fused (no prologue, no epilogue). */
bool merge_is_plain(const azc_ir_node_t *n);

#endif
