/* Weight repacking (see repack.h). */
#include "codegen/repack.h"

#include <string.h>

#include "codegen/cpu/kernels/azk_dot.h"
#include "ir/ir.h"

bool azc_layout_supported(azc_dtype_t type, int layout) {
  return layout == AZC_LAYOUT_GGUF ||
         (layout == AZC_LAYOUT_UNPACKED && (type == AZC_DTYPE_Q4_K || type == AZC_DTYPE_Q5_K)) ||
         (layout == AZC_LAYOUT_X8 && (type == AZC_DTYPE_Q4_0 || type == AZC_DTYPE_Q5_0 ||
                                      type == AZC_DTYPE_Q8_0 || type == AZC_DTYPE_Q4_K));
}

size_t azc_layout_row_size(azc_dtype_t type, int layout, int64_t K) {
  if (!azc_layout_supported(type, layout)) return 0;
  if (layout == AZC_LAYOUT_GGUF) return azc_dtype_row_size(type, K);
  int t = azk_wtype_for((int)type, layout);
  if (K % azk_wtype_block_values(t)) return 0;
  return (size_t)(K / azk_wtype_block_values(t)) * azk_wtype_block_bytes(t);
}

azc_status_t azc_repack(azc_dtype_t type, int layout, const void *src, void *dst, int64_t rows,
                        int64_t K) {
  if (layout == AZC_LAYOUT_X8 && azc_layout_supported(type, layout)) {
    const int64_t bv = type == AZC_DTYPE_Q4_K ? AZC_QK_K : AZC_QK;
    if (K % bv || rows % 8)
      return AZC_ERR(AZC_UNSUPPORTED,
                     "layout x8 needs rows %% 8 == 0 and K %% %lld == 0, not %lld x %lld",
                     (long long)bv, (long long)rows, (long long)K);
    const size_t row = azc_dtype_row_size(type, K),
                 out_row = azc_layout_row_size(type, AZC_LAYOUT_X8, K);
    for (int64_t g = 0; g < rows / 8; g++)
      azk_x8_pack((int)type, (const uint8_t *)src + (size_t)g * 8 * row, K / bv,
                  (uint8_t *)dst + (size_t)g * 8 * out_row);
    return NULL;
  }
  if (!azc_layout_supported(type, layout) || K % AZC_QK_K)
    return AZC_ERR(AZC_UNSUPPORTED, "no layout %s for %s rows of %lld", azc_layout_name(layout),
                   azc_dtype_name(type), (long long)K);
  int64_t blocks = rows * (K / AZC_QK_K);
  if (layout == AZC_LAYOUT_GGUF) {
    memcpy(dst, src, (size_t)blocks * azc_dtype_row_size(type, AZC_QK_K));
    return NULL;
  }
  for (int64_t b = 0; b < blocks; b++) {
    uint32_t s32[4];
    if (type == AZC_DTYPE_Q4_K) {
      const azc_block_q4_k_t *in = (const azc_block_q4_k_t *)src + b;
      azk_block_q4_k_u_t *out = (azk_block_q4_k_u_t *)dst + b;
      memcpy(out->d, in->d, 2);
      memcpy(out->dmin, in->dmin, 2);
      azk_k4_scales(in->scales, s32);
      memcpy(out->sm, s32, 16);
      memcpy(out->qs, in->qs, sizeof(out->qs));
    } else {
      const azc_block_q5_k_t *in = (const azc_block_q5_k_t *)src + b;
      azk_block_q5_k_u_t *out = (azk_block_q5_k_u_t *)dst + b;
      memcpy(out->d, in->d, 2);
      memcpy(out->dmin, in->dmin, 2);
      azk_k4_scales(in->scales, s32);
      memcpy(out->sm, s32, 16);
      memcpy(out->qh, in->qh, sizeof(out->qh));
      memcpy(out->qs, in->qs, sizeof(out->qs));
    }
  }
  return NULL;
}
