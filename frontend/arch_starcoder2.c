/* StarCoder2 (general.architecture = "starcoder2"): LayerNorm with biases,
 * a GELU MLP (up, gelu, down) with biases, biases on q, k, v and the
 * attention output, NEOX RoPE, output tied unless output.weight exists. */
#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .layer_norm = true,
    .ffn = AZC_FFN_GELU,
    .biases = AZC_BIAS_ALL,
};

const azc_arch_t azc_arch_starcoder2 = {"starcoder2", &variant, NULL, NULL};
