/* Element types: the table of names and block sizes, name lookup and row
 * sizes. The block formats themselves live in quant_dequantize.c (reading:
 * dequantize, dot products) and quant_quantize.c (writing: the reference
 * quantizers); this file is the one place that says which types exist and
 * what azc can do with each. */
#include "runtime/quant.h"

#include <ctype.h>
#include <string.h>

#include "runtime/base/util.h"

/* The layouts in quant.h must match the byte sizes GGUF files use. */
_Static_assert(sizeof(azc_block_q4_0_t) == 18, "Q4_0 block");
_Static_assert(sizeof(azc_block_q4_1_t) == 20, "Q4_1 block");
_Static_assert(sizeof(azc_block_q5_0_t) == 22, "Q5_0 block");
_Static_assert(sizeof(azc_block_q5_1_t) == 24, "Q5_1 block");
_Static_assert(sizeof(azc_block_q8_0_t) == 34, "Q8_0 block");
_Static_assert(sizeof(azc_block_q8_1_t) == 36, "Q8_1 block");
_Static_assert(sizeof(azc_block_q2_k_t) == 84, "Q2_K block");
_Static_assert(sizeof(azc_block_q3_k_t) == 110, "Q3_K block");
_Static_assert(sizeof(azc_block_q4_k_t) == 144, "Q4_K block");
_Static_assert(sizeof(azc_block_q5_k_t) == 176, "Q5_K block");
_Static_assert(sizeof(azc_block_q6_k_t) == 210, "Q6_K block");
_Static_assert(sizeof(azc_block_q8_k_t) == 292, "Q8_K block");

/* name, values per block, bytes per block, quantized, can dequantize, can quantize */
static const azc_dtype_info_t infos[AZC_DTYPE_COUNT] = {
    [AZC_DTYPE_F32] = {"F32", 1, 4, false, true, true},
    [AZC_DTYPE_F16] = {"F16", 1, 2, false, true, true},
    [AZC_DTYPE_BF16] = {"BF16", 1, 2, false, true, true},
    [AZC_DTYPE_Q4_0] = {"Q4_0", AZC_QK, sizeof(azc_block_q4_0_t), true, true, true},
    [AZC_DTYPE_Q4_1] = {"Q4_1", AZC_QK, sizeof(azc_block_q4_1_t), true, true, true},
    [AZC_DTYPE_Q5_0] = {"Q5_0", AZC_QK, sizeof(azc_block_q5_0_t), true, true, true},
    [AZC_DTYPE_Q5_1] = {"Q5_1", AZC_QK, sizeof(azc_block_q5_1_t), true, true, true},
    [AZC_DTYPE_Q8_0] = {"Q8_0", AZC_QK, sizeof(azc_block_q8_0_t), true, true, true},
    [AZC_DTYPE_Q8_1] = {"Q8_1", AZC_QK, sizeof(azc_block_q8_1_t), true, true, true},
    [AZC_DTYPE_Q2_K] = {"Q2_K", AZC_QK_K, sizeof(azc_block_q2_k_t), true, true, true},
    [AZC_DTYPE_Q3_K] = {"Q3_K", AZC_QK_K, sizeof(azc_block_q3_k_t), true, true, true},
    [AZC_DTYPE_Q4_K] = {"Q4_K", AZC_QK_K, sizeof(azc_block_q4_k_t), true, true, true},
    [AZC_DTYPE_Q5_K] = {"Q5_K", AZC_QK_K, sizeof(azc_block_q5_k_t), true, true, true},
    [AZC_DTYPE_Q6_K] = {"Q6_K", AZC_QK_K, sizeof(azc_block_q6_k_t), true, true, true},
    [AZC_DTYPE_Q8_K] = {"Q8_K", AZC_QK_K, sizeof(azc_block_q8_k_t), true, true, true},
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
  if (!name) return -1;
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

azc_dtype_t azc_vec_dot_type(azc_dtype_t w) {
  switch (w) {
  case AZC_DTYPE_Q4_0:
  case AZC_DTYPE_Q5_0:
  case AZC_DTYPE_Q8_0: return AZC_DTYPE_Q8_0;
  case AZC_DTYPE_Q4_1:
  case AZC_DTYPE_Q5_1: return AZC_DTYPE_Q8_1;
  case AZC_DTYPE_Q2_K:
  case AZC_DTYPE_Q3_K:
  case AZC_DTYPE_Q4_K:
  case AZC_DTYPE_Q5_K:
  case AZC_DTYPE_Q6_K: return AZC_DTYPE_Q8_K;
  case AZC_DTYPE_F16: return AZC_DTYPE_F16;
  case AZC_DTYPE_BF16: return AZC_DTYPE_BF16;
  default: return AZC_DTYPE_F32;
  }
}

/* Activations are quantized the way llama.cpp's x86 and ARM code does it at
 * run time (and azc's kernels, codegen/cpu/kernels/azk_dot.h): per block the
 * largest magnitude a, q = round-half-even(x * 127 / a), and d = a / 127,
 * which Q8_0/Q8_1 blocks store at half precision. (The reference quantizers
 * in quant_quantize.c, used for weights, round half away from zero with
 * 1 / d; on activations the two differ only on exact ties.) */
static void round_q8_block(const float *x, float *out, int n, bool half_d) {
  float amax = 0;
  for (int j = 0; j < n; j++) amax = __builtin_fmaxf(amax, __builtin_fabsf(x[j]));
  float id = amax > 0.0f ? 127.0f / amax : 0.0f, d = amax / 127.0f;
  if (half_d) d = azc_fp16_to_f32(azc_f32_to_fp16(d));
  for (int j = 0; j < n; j++) out[j] = __builtin_rintf(x[j] * id) * d;
}

void azc_round_activations(azc_dtype_t w, const float *x, float *out, int64_t n) {
  azc_dtype_t t = azc_vec_dot_type(w);
  const azc_dtype_info_t *ti = azc_dtype_info(t);
  if (t == AZC_DTYPE_F32 || n % ti->block_size) {
    if (out != x) memcpy(out, x, (size_t)n * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    if (t == AZC_DTYPE_F16) out[i] = azc_fp16_to_f32(azc_f32_to_fp16(x[i]));
    else if (t == AZC_DTYPE_BF16) out[i] = azc_bf16_to_f32(azc_f32_to_bf16(x[i]));
    else {
      round_q8_block(x + i, out + i, ti->block_size, t != AZC_DTYPE_Q8_K);
      i += ti->block_size - 1;
    }
  }
}
