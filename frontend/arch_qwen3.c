/* Qwen3 (general.architecture = "qwen3"): NEOX RoPE, no biases, and a
 * per-head RMSNorm of q and k (attn_q_norm, attn_k_norm, head_dim wide)
 * before RoPE. The head dim comes from attention.key_length (128 for
 * Qwen3-0.6B, whose 16 heads x 128 exceed its 1024-wide embedding). */
#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .ffn = AZC_FFN_SWIGLU,
    .biases = AZC_BIAS_OPTIONAL,
    .qk_norm = true,
};

const azc_arch_t azc_arch_qwen3 = {"qwen3", &variant, NULL, NULL};
