/* Gemma 2 (general.architecture = "gemma2"): embeddings x sqrt(n_embd),
 * sandwich norms (post_attention_norm, post_ffw_norm), GeGLU with the tanh
 * GELU, NEOX RoPE, tied output; attention logits soft-capped
 * (attn_logit_softcapping, default 50) and so are the final logits
 * (final_logit_softcapping, default 30); even layers see a sliding window
 * (attention.sliding_window, default 4096), odd layers everything. The
 * GGUF conversion already stores the norms as 1 + w. */
#include <math.h>

#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .ffn = AZC_FFN_GEGLU,
    .biases = AZC_BIAS_OPTIONAL,
    .sandwich_norms = true,
    .embed_scale = true,
    .swa_pattern = 2,
    .swa_default = 4096,
    .softcaps = true,
};

/* q is scaled by 1/sqrt(head_dim), except in the 27B model (46 layers),
 * which uses 1/sqrt(n_embd / n_head), as llama.cpp does */
static azc_status_t read_hparams(const azc_gguf_t *g, azc_hparams_t *hp) {
  (void)g;
  if (hp->n_layer == 46) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
  return NULL;
}

const azc_arch_t azc_arch_gemma2 = {"gemma2", &variant, read_hparams, NULL};
