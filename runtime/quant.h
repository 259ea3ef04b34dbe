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

/* Block layouts, byte for byte as GGUF stores them (ggml-common.h). Every
 * member is a byte array, so a block has alignment 1 and any byte address in a
 * mapped file is a valid block; multi-byte fields are little-endian (fp16 "d"
 * and "m" fields: IEEE half, read with azc_fp16_to_f32(azc_load_u16le(...))).
 * Inside a 32-value block, byte j of qs holds value j in its low nibble and
 * value j + 16 in its high nibble. K-quant super-blocks hold 256 values in
 * sub-blocks of 16 or 32, each with its own scale (and min). */
typedef struct azc_block_q4_0 {
  uint8_t d[2];           /* fp16 scale */
  uint8_t qs[AZC_QK / 2]; /* x = (q - 8) * d */
} azc_block_q4_0_t;

typedef struct azc_block_q4_1 {
  uint8_t d[2], m[2];     /* fp16 scale, fp16 min */
  uint8_t qs[AZC_QK / 2]; /* x = q * d + m */
} azc_block_q4_1_t;

typedef struct azc_block_q5_0 {
  uint8_t d[2];
  uint8_t qh[4];          /* bit j (u32 LE) = 5th bit of value j */
  uint8_t qs[AZC_QK / 2]; /* x = (q - 16) * d */
} azc_block_q5_0_t;

typedef struct azc_block_q5_1 {
  uint8_t d[2], m[2];
  uint8_t qh[4];
  uint8_t qs[AZC_QK / 2]; /* x = q * d + m */
} azc_block_q5_1_t;

typedef struct azc_block_q8_0 {
  uint8_t d[2];
  int8_t qs[AZC_QK]; /* x = q * d */
} azc_block_q8_0_t;

typedef struct azc_block_q8_1 {
  uint8_t d[2], s[2]; /* fp16 scale, fp16 d * sum(q) */
  int8_t qs[AZC_QK];
} azc_block_q8_1_t;

/* Q2_K: 16 sub-blocks of 16. scales[i]: low nibble = scale, high = min, of
 * sub-block i. Value e sits in qs[32 * (e / 128) + e % 32] at bit 2 * ((e / 32) % 4).
 * x = d * sc * q - dmin * m. */
typedef struct azc_block_q2_k {
  uint8_t scales[AZC_QK_K / 16];
  uint8_t qs[AZC_QK_K / 4];
  uint8_t d[2], dmin[2];
} azc_block_q2_k_t;

/* Q3_K: 16 sub-blocks of 16 with 6-bit signed scales (stored + 32): the low
 * nibbles of sub-blocks 0..7 in scales[0..7] low, 8..15 in scales[0..7] high,
 * the top 2 bits of sub-block i in scales[8 + i % 4] at bit 2 * (i / 4). The
 * low 2 bits of value e are packed like Q2_K; its 3rd bit is hmask[e % 32] bit
 * e / 32, and a CLEAR bit subtracts 4: x = d * (sc - 32) * (q2 - (h ? 0 : 4)). */
typedef struct azc_block_q3_k {
  uint8_t hmask[AZC_QK_K / 8];
  uint8_t qs[AZC_QK_K / 4];
  uint8_t scales[12];
  uint8_t d[2];
} azc_block_q3_k_t;

/* Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes: for
 * i < 4, scale = scales[i] & 63, min = scales[i + 4] & 63; for i >= 4, scale =
 * scales[i + 4] & 15 | (scales[i - 4] >> 6) << 4, min = scales[i + 4] >> 4 |
 * (scales[i] >> 6) << 4. Value e is in qs[32 * (e / 64) + e % 32], low nibble
 * when (e / 32) is even. x = d * sc * q - dmin * m. */
typedef struct azc_block_q4_k {
  uint8_t d[2], dmin[2];
  uint8_t scales[AZC_K_SCALE_SIZE];
  uint8_t qs[AZC_QK_K / 2];
} azc_block_q4_k_t;

/* Q5_K: Q4_K plus a 5th bit per value: qh[e % 32] bit e / 32. */
typedef struct azc_block_q5_k {
  uint8_t d[2], dmin[2];
  uint8_t scales[AZC_K_SCALE_SIZE];
  uint8_t qh[AZC_QK_K / 8];
  uint8_t qs[AZC_QK_K / 2];
} azc_block_q5_k_t;

/* Q6_K: 16 sub-blocks of 16 with int8 scales. For value e, with h = e / 128,
 * r = e % 128: the low 4 bits are in ql[64 * h + r % 64], low nibble when
 * r < 64; the top 2 bits are in qh[32 * h + r % 32] at bit 2 * (r / 32).
 * x = d * sc * (q - 32). */
typedef struct azc_block_q6_k {
  uint8_t ql[AZC_QK_K / 2];
  uint8_t qh[AZC_QK_K / 4];
  int8_t scales[AZC_QK_K / 16];
  uint8_t d[2];
} azc_block_q6_k_t;

/* Q8_K: an f32 scale (not fp16), 256 int8 values, int16 sums of each 16. */
typedef struct azc_block_q8_k {
  uint8_t d[4];
  int8_t qs[AZC_QK_K];
  uint8_t bsums[AZC_QK_K / 16 * 2];
} azc_block_q8_k_t;

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
 * the type cannot be quantized or n is not a whole number of blocks. Rows are
 * independent and these functions keep no state, so threads may quantize
 * different rows at once. The bytes are those llama.cpp's reference
 * quantizers write (no importance matrix). */
size_t azc_quantize_row(azc_dtype_t type, const float *src, void *dst, int64_t n);
/* n_rows consecutive rows of n_cols values each (dst is n_rows * n_cols). */
void azc_dequantize_rows(azc_dtype_t type, const void *src, float *dst, int64_t n_rows,
                         int64_t n_cols);
/* The activation format llama.cpp pairs with weights of type w in a matmul:
 * Q8_0 (Q4_0, Q5_0, Q8_0), Q8_1 (Q4_1, Q5_1), Q8_K (K-quants), F16, BF16 or
 * F32. Quantized matmuls in azc compute dequant(w) . dequant(q(x)) with x
 * quantized to this format, as llama.cpp does. */
azc_dtype_t azc_vec_dot_type(azc_dtype_t w);
/* out = dequant(quant(x)) in azc_vec_dot_type(w) (out may equal x), with
 * llama.cpp's run-time activation rounding (see quant.c). */
void azc_round_activations(azc_dtype_t w, const float *x, float *out, int64_t n);
/* sum_i row[i] * x[i] over n values of a stored row. Equal to dequantizing the
 * row and summing the products, up to float rounding (only the order of the
 * additions differs); works one block at a time without a row buffer. */
float azc_vec_dot_row(azc_dtype_t type, const void *row, const float *x, int64_t n);

#endif
