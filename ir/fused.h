/* Enums from the fused-kernel tables (ir/fused.def). Freestanding (no
 * includes), so that the kernel templates compiled to bitcode can use the
 * same names as the compiler. */
#ifndef AZC_IR_FUSED_H
#define AZC_IR_FUSED_H

/* matmul_fused prologues (iattr AZC_MF_PROLOGUE) */
typedef enum azc_prologue {
#define PROLOGUE(id, value, name) AZC_PRO_##id = value,
#include "ir/fused.def"
#undef PROLOGUE
  AZC_PRO_COUNT
} azc_prologue_t;

/* matmul_fused epilogues (iattr AZC_MF_EPILOGUE) */
typedef enum azc_epilogue {
#define EPILOGUE(id, value, name) AZC_EPI_##id = value,
#include "ir/fused.def"
#undef EPILOGUE
  AZC_EPI_COUNT
} azc_epilogue_t;

/* weight storage layouts (node->layout, plan weights, kernel parameters) */
typedef enum azc_layout {
#define LAYOUT(id, value, name, suffix) AZC_LAYOUT_##id = value,
#include "ir/fused.def"
#undef LAYOUT
  AZC_LAYOUT_COUNT
} azc_layout_t;

/* A set of layouts, one bit each (what a target's kernels can read). */
#define AZC_LAYOUT_BIT(id) (1u << AZC_LAYOUT_##id)

#endif
