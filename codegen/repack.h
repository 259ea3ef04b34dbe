/* Weight repacking: rewriting a weight in a layout its kernel reads faster
 * on the target (the layout pass picks them; layout 0 is GGUF's own). The
 * bundle stores the repacked bytes, so the runtime still maps them as they
 * are. Layouts:
 *   1 for Q4_K and Q5_K: the eight 6-bit scales and eight 6-bit mins of each
 *     256-value block stored as 16 plain bytes instead of 12 packed ones
 *     (148 and 180 bytes per block instead of 144 and 176), so the x86 dot
 *     products load them instead of unpacking them in every block.
 *   2 for Q4_0, Q8_0 and Q4_K with a multiple of 8 rows: rows interleaved by
 *     eights ("x8", codegen/cpu/kernels/azk_dot.h; Q4_K with unpacked scales
 *     and mins, 148 bytes per row and block); the x86 kernels multiply 8 rows
 *     per activation broadcast. */
#ifndef AZC_CODEGEN_REPACK_H
#define AZC_CODEGEN_REPACK_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/quant.h"

/* Whether a layout exists for a type (layout 0 always does). */
bool azc_layout_supported(azc_dtype_t type, int layout);
/* Bytes of one row of K values in the layout; 0 if unsupported. */
size_t azc_layout_row_size(azc_dtype_t type, int layout, int64_t K);
/* Writes rows x K values from GGUF layout at src into dst in `layout`. */
azc_status_t azc_repack(azc_dtype_t type, int layout, const void *src, void *dst, int64_t rows,
                        int64_t K);

#endif
