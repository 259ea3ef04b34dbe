/* Phi-3 / Phi-4-mini (general.architecture = "phi3"): one attn_qkv matrix
 * (q | k | v) and one ffn_up matrix (gate | up, SwiGLU), NEOX RoPE over
 * rope.dimension_count dims (partial rotary in Phi-4-mini), LongRoPE's
 * rope_factors_short with rope.scaling.attn_factor (contexts past
 * rope.scaling.original_context_length would need rope_factors_long:
 * refused), optional output bias. llama.cpp disables Phi's sliding window,
 * and so does azc. */
#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .ffn = AZC_FFN_SWIGLU,
    .biases = AZC_BIAS_OPTIONAL,
    .fused_qkv = true,
    .fused_gate_up = true,
    .rope_factors_long_short = true,
};

const azc_arch_t azc_arch_phi3 = {"phi3", &variant, NULL, NULL};
