/* Qwen2 / Qwen2.5 (general.architecture = "qwen2"), and the DeepSeek-R1
 * Qwen distills: llama's block with q/k/v biases (required) and NEOX RoPE
 * (rotated halves); rope scaling keys as llama reads them. */
#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .ffn = AZC_FFN_SWIGLU,
    .biases = AZC_BIAS_QKV,
};

const azc_arch_t azc_arch_qwen2 = {"qwen2", &variant, NULL, NULL};
