/* The element types a KV cache row can be stored in, and the reference
 * conversions between them and f32. Header-only and freestanding (no libc
 * calls) so that the eager interpreter (through runtime/kv_cache.h) and the
 * compiled CPU kernels (codegen/cpu/kernels) store exactly the same bytes.
 *
 *   AZC_KV_F32   4 bytes a value
 *   AZC_KV_F16   IEEE half, rounded to nearest even (as F16C and ggml do)
 *   AZC_KV_Q8_0  llama.cpp's block_q8_0: per 32 values an fp16 scale
 *                d = amax / 127 and 32 int8 q = round-half-even(x * 127 / amax),
 *                as ggml's x86/ARM quantize_row_q8_0 computes them; value = d * q.
 *
 * A row is n_head_kv * head_dim values; kernels address one head's slice of
 * it, so for q8_0 head_dim must be a multiple of 32 (azc_kv_cache_create
 * refuses others) and a slice at value offset off starts at byte
 * azc_kv_bytes(type, off). */
#ifndef AZC_RUNTIME_KV_ROW_H
#define AZC_RUNTIME_KV_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/half.h"

typedef enum azc_kv_type { AZC_KV_F32 = 0, AZC_KV_F16 = 1, AZC_KV_Q8_0 = 2 } azc_kv_type_t;

enum { AZC_KV_TYPE_COUNT = 3, AZC_KV_QBLOCK = 32, AZC_KV_QBLOCK_BYTES = 34 };

/* a non-f32 cache holds head_dim <= this (readers convert one head at a time
 * into a stack buffer) */
enum { AZC_KV_MAX_HEAD_DIM = 1024 };

/* bytes of n values (n a multiple of 32 for q8_0) */
static inline size_t azc_kv_bytes(int type, int64_t n) {
  return type == AZC_KV_F32   ? (size_t)n * 4
         : type == AZC_KV_F16 ? (size_t)n * 2
                              : (size_t)(n / AZC_KV_QBLOCK) * AZC_KV_QBLOCK_BYTES;
}

/* one q8_0 block of 32 values */
static inline void azc_kv_quantize_block(const float *x, uint8_t *blk) {
  float amax = 0;
  for (int j = 0; j < AZC_KV_QBLOCK; j++) amax = __builtin_fmaxf(amax, __builtin_fabsf(x[j]));
  float id = amax > 0.0f ? 127.0f / amax : 0.0f;
  uint16_t d = azc_f32_to_fp16(amax / 127.0f);
  blk[0] = (uint8_t)(d & 0xff);
  blk[1] = (uint8_t)(d >> 8);
  for (int j = 0; j < AZC_KV_QBLOCK; j++) blk[2 + j] = (uint8_t)(int8_t)__builtin_rintf(x[j] * id);
}

static inline void azc_kv_dequantize_block(const uint8_t *blk, float *y) {
  float d = azc_fp16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
  for (int j = 0; j < AZC_KV_QBLOCK; j++) y[j] = d * (float)(int8_t)blk[2 + j];
}

/* n values from src into dst, stored as type */
static inline void azc_kv_store_ref(int type, void *dst, const float *src, int64_t n) {
  if (type == AZC_KV_F32) {
    __builtin_memcpy(dst, src, (size_t)n * 4);
  } else if (type == AZC_KV_F16) {
    uint8_t *h = dst;
    for (int64_t i = 0; i < n; i++) {
      uint16_t v = azc_f32_to_fp16(src[i]);
      __builtin_memcpy(h + 2 * i, &v, 2);
    }
  } else {
    for (int64_t i = 0; i < n; i += AZC_KV_QBLOCK)
      azc_kv_quantize_block(src + i, (uint8_t *)dst + (i / AZC_KV_QBLOCK) * AZC_KV_QBLOCK_BYTES);
  }
}

/* n values stored as type at src, as f32 into dst */
static inline void azc_kv_load_ref(int type, const void *src, float *dst, int64_t n) {
  if (type == AZC_KV_F32) {
    __builtin_memcpy(dst, src, (size_t)n * 4);
  } else if (type == AZC_KV_F16) {
    const uint8_t *h = src;
    for (int64_t i = 0; i < n; i++) {
      uint16_t v;
      __builtin_memcpy(&v, h + 2 * i, 2);
      dst[i] = azc_fp16_to_f32(v);
    }
  } else {
    for (int64_t i = 0; i < n; i += AZC_KV_QBLOCK)
      azc_kv_dequantize_block((const uint8_t *)src + (i / AZC_KV_QBLOCK) * AZC_KV_QBLOCK_BYTES,
                              dst + i);
  }
}

#endif
