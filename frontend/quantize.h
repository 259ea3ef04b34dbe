/* azc quantize: rewrite a GGUF model with its weights in another type, with
 * llama.cpp's mixing rules so that a "Q4_K_M" file from azc has the same
 * tensor types as one from llama-quantize (output and tied embeddings in
 * Q6_K, attn_v and ffn_down in Q6_K on the layers use_more_bits picks, gpt2's
 * attn_qkv in Q5_K, fallbacks for rows that do not split into 256-value
 * blocks). Norms, biases and position embeddings stay as they are. */
#ifndef AZC_FRONTEND_QUANTIZE_H
#define AZC_FRONTEND_QUANTIZE_H

#include "runtime/base/status.h"
#include "runtime/quant.h"

/* llama.cpp's file types (general.file_type) */
typedef enum azc_ftype {
  AZC_FTYPE_F32 = 0,
  AZC_FTYPE_F16 = 1,
  AZC_FTYPE_Q4_0 = 2,
  AZC_FTYPE_Q4_1 = 3,
  AZC_FTYPE_Q8_0 = 7,
  AZC_FTYPE_Q5_0 = 8,
  AZC_FTYPE_Q5_1 = 9,
  AZC_FTYPE_Q4_K_S = 14,
  AZC_FTYPE_Q4_K_M = 15,
  AZC_FTYPE_Q5_K_S = 16,
  AZC_FTYPE_Q5_K_M = 17,
  AZC_FTYPE_Q6_K = 18,
  AZC_FTYPE_BF16 = 32,
} azc_ftype_t;

/* "q4_k_m" -> AZC_FTYPE_Q4_K_M; -1 when unknown */
int azc_ftype_from_name(const char *name);
const char *azc_ftype_names(void);

typedef struct azc_quantize_stats {
  uint64_t bytes_in, bytes_out;
  int n_tensors, n_quantized, n_fallback;
} azc_quantize_stats_t;

/* progress(user, tensor index, n_tensors, name, new type); may be NULL. */
azc_status_t azc_quantize_file(const char *in, const char *out, azc_ftype_t ftype, int n_threads,
                               void (*progress)(void *user, int i, int n, const char *name,
                                                azc_dtype_t from, azc_dtype_t to),
                               void *user, azc_quantize_stats_t *stats);

#endif
