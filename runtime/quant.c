/* Element types and block formats (see quant.h). */
#include "runtime/quant.h"

#include <ctype.h>
#include <string.h>

#include "runtime/base/util.h"

static const azc_dtype_info_t infos[AZC_DTYPE_COUNT] = {
    [AZC_DTYPE_F32] = {"F32", 1, 4, false, true, true},
    [AZC_DTYPE_F16] = {"F16", 1, 2, false, true, true},
    [AZC_DTYPE_BF16] = {"BF16", 1, 2, false, true, true},
    [AZC_DTYPE_Q4_0] = {"Q4_0", 32, 18, true, false, false},
    [AZC_DTYPE_Q4_1] = {"Q4_1", 32, 20, true, false, false},
    [AZC_DTYPE_Q5_0] = {"Q5_0", 32, 22, true, false, false},
    [AZC_DTYPE_Q5_1] = {"Q5_1", 32, 24, true, false, false},
    [AZC_DTYPE_Q8_0] = {"Q8_0", 32, 34, true, false, false},
    [AZC_DTYPE_Q8_1] = {"Q8_1", 32, 36, true, false, false},
    [AZC_DTYPE_Q2_K] = {"Q2_K", 256, 84, true, false, false},
    [AZC_DTYPE_Q3_K] = {"Q3_K", 256, 110, true, false, false},
    [AZC_DTYPE_Q4_K] = {"Q4_K", 256, 144, true, false, false},
    [AZC_DTYPE_Q5_K] = {"Q5_K", 256, 176, true, false, false},
    [AZC_DTYPE_Q6_K] = {"Q6_K", 256, 210, true, false, false},
    [AZC_DTYPE_Q8_K] = {"Q8_K", 256, 292, true, false, false},
    [AZC_DTYPE_I8] = {"I8", 1, 1, false, false, false},
    [AZC_DTYPE_I16] = {"I16", 1, 2, false, false, false},
    [AZC_DTYPE_I32] = {"I32", 1, 4, false, false, false},
    [AZC_DTYPE_I64] = {"I64", 1, 8, false, false, false},
    [AZC_DTYPE_F64] = {"F64", 1, 8, false, false, false},
};

const azc_dtype_info_t *azc_dtype_info(uint32_t id) {
  if (id >= AZC_DTYPE_COUNT || !infos[id].name) return NULL;
  return &infos[id];
}

const char *azc_dtype_name(uint32_t id) {
  const azc_dtype_info_t *i = azc_dtype_info(id);
  return i ? i->name : "unknown";
}

int azc_dtype_from_name(const char *name) {
  for (int i = 0; i < AZC_DTYPE_COUNT; i++) {
    if (!infos[i].name) continue;
    const char *a = infos[i].name, *b = name;
    while (*a && *b && toupper((unsigned char)*a) == toupper((unsigned char)*b)) a++, b++;
    if (!*a && !*b) return i;
  }
  return -1;
}

size_t azc_dtype_row_size(azc_dtype_t type, int64_t n) {
  const azc_dtype_info_t *i = azc_dtype_info(type);
  if (!i || n < 0 || n % i->block_size) return 0;
  return (size_t)(n / i->block_size) * (size_t)i->type_size;
}

void azc_dequantize_row(azc_dtype_t type, const void *src, float *dst, int64_t n) {
  switch (type) {
  case AZC_DTYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
  case AZC_DTYPE_F16:
    for (int64_t i = 0; i < n; i++) dst[i] = azc_fp16_to_f32(((const uint16_t *)src)[i]);
    break;
  case AZC_DTYPE_BF16:
    for (int64_t i = 0; i < n; i++) dst[i] = azc_bf16_to_f32(((const uint16_t *)src)[i]);
    break;
  default: memset(dst, 0, (size_t)n * 4); break;
  }
}

size_t azc_quantize_row(azc_dtype_t type, const float *src, void *dst, int64_t n) {
  switch (type) {
  case AZC_DTYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
  case AZC_DTYPE_F16:
    for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = azc_f32_to_fp16(src[i]);
    break;
  case AZC_DTYPE_BF16:
    for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = azc_f32_to_bf16(src[i]);
    break;
  default: return 0;
  }
  return azc_dtype_row_size(type, n);
}

float azc_vec_dot_row(azc_dtype_t type, const void *row, const float *x, int64_t n) {
  float buf[256];
  double sum = 0;
  const azc_dtype_info_t *info = azc_dtype_info(type);
  size_t bs = (size_t)azc_dtype_row_size(type, 256);
  for (int64_t i = 0; i < n; i += 256) {
    int64_t k = n - i < 256 ? n - i : 256;
    azc_dequantize_row(type, (const char *)row + (size_t)(i / 256) * bs, buf, k);
    for (int64_t j = 0; j < k; j++) sum += buf[j] * x[i + j];
  }
  (void)info;
  return (float)sum;
}
