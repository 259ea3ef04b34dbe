/* Llama (general.architecture = "llama"): the plain decoder row. Llama 2
 * and 3, Mistral, Mistral Nemo (attention.key_length != dim / heads),
 * SmolLM2 and the DeepSeek-R1 Llama distills all say "llama". RoPE in
 * llama.cpp's "normal" mode (adjacent pairs; the GGUF conversion permutes
 * wq/wk for it), frequency base and linear scaling from metadata, Llama 3's
 * per-pair frequency factors from rope_freqs.weight, biases where a file
 * has them. */
#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NORMAL,
    .ffn = AZC_FFN_SWIGLU,
    .biases = AZC_BIAS_OPTIONAL,
};

const azc_arch_t azc_arch_llama = {"llama", &variant, NULL, NULL};
