/* Tensor element types and GGUF's block quantization formats.
 *
 * The type ids are ggml's (they are what GGUF files store). A quantized row of
 * n values is n / block_size blocks of type_size bytes each; the block layouts
 * are facts of the format (GGUF spec, llama.cpp's ggml-common.h) and are
 * implemented here from scratch: reference dequantization for every type,
 * reference quantization for the types azc writes, and a dot product of one
 * stored row with a float vector for the eager interpreter. Everything here is
 * plain C and is the reference that compiled kernels are tested against. */
#ifndef AZC_RUNTIME_QUANT_H
#define AZC_RUNTIME_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum azc_dtype {
  AZC_DTYPE_F32 = 0,
  AZC_DTYPE_F16 = 1,
  AZC_DTYPE_Q4_0 = 2,
  AZC_DTYPE_Q4_1 = 3,
  AZC_DTYPE_Q5_0 = 6,
  AZC_DTYPE_Q5_1 = 7,
  AZC_DTYPE_Q8_0 = 8,
  AZC_DTYPE_Q8_1 = 9,
  AZC_DTYPE_Q2_K = 10,
  AZC_DTYPE_Q3_K = 11,
  AZC_DTYPE_Q4_K = 12,
  AZC_DTYPE_Q5_K = 13,
  AZC_DTYPE_Q6_K = 14,
  AZC_DTYPE_Q8_K = 15,
  AZC_DTYPE_I8 = 24,
  AZC_DTYPE_I16 = 25,
  AZC_DTYPE_I32 = 26,
  AZC_DTYPE_I64 = 27,
  AZC_DTYPE_F64 = 28,
  AZC_DTYPE_BF16 = 30,
  AZC_DTYPE_COUNT = 40 /* ids are < this */
} azc_dtype_t;

enum { AZC_QK = 32, AZC_QK_K = 256, AZC_K_SCALE_SIZE = 12 };

typedef struct azc_dtype_info {
  const char *name;   /* "Q4_K", "F32", ... */
  int32_t block_size; /* values per block (1 for plain types) */
  int32_t type_size;  /* bytes per block */
  bool is_quantized;
  bool can_dequantize; /* azc reads it (dequantize_row, vec_dot) */
  bool can_quantize;   /* azc writes it (quantize_row) */
} azc_dtype_info_t;

/* NULL for an id that is not a known type. */
const azc_dtype_info_t *azc_dtype_info(uint32_t type_id);
const char *azc_dtype_name(uint32_t type_id); /* "unknown" for bad ids */
/* Parses "q4_k", "Q8_0", "f16", ... (case-insensitive); -1 if unknown. */
int azc_dtype_from_name(const char *name);
/* Bytes of a row of n values; 0 if n is not a multiple of the block size. */
size_t azc_dtype_row_size(azc_dtype_t type, int64_t n);

/* dst[0..n) = values of the row at src. n is a multiple of the block size. */
void azc_dequantize_row(azc_dtype_t type, const void *src, float *dst, int64_t n);
/* Writes azc_dtype_row_size(type, n) bytes to dst; returns that size, or 0 if
 * the type cannot be quantized. */
size_t azc_quantize_row(azc_dtype_t type, const float *src, void *dst, int64_t n);
/* sum_i row[i] * x[i] over n values of a stored row. */
float azc_vec_dot_row(azc_dtype_t type, const void *row, const float *x, int64_t n);

#endif
