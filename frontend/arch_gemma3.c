/* Gemma 3 text (general.architecture = "gemma3"): Gemma 2's block plus
 * per-head q/k RMSNorms, no soft-caps; five local layers to one global
 * (layer l is local when l % 6 < 5) with attention.sliding_window
 * (required); local layers use RoPE base 10000 unscaled, global layers the
 * file's base and linear scaling factor. The vision tower lives in a
 * separate mmproj file, which azc does not read. */
#include <math.h>

#include "frontend/model.h"

static const azc_decoder_variant_t variant = {
    .rope_mode = AZC_ROPE_NEOX,
    .ffn = AZC_FFN_GEGLU,
    .biases = AZC_BIAS_OPTIONAL,
    .qk_norm = true,
    .sandwich_norms = true,
    .embed_scale = true,
    .swa_pattern = 6,
    .swa_rope_base = 10000.0f,
};

/* the 27B model (62 layers) scales q by 1/sqrt(n_embd / n_head) */
static azc_status_t read_hparams(const azc_gguf_t *g, azc_hparams_t *hp) {
  (void)g;
  if (hp->n_layer == 62) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
  return NULL;
}

const azc_arch_t azc_arch_gemma3 = {"gemma3", &variant, read_hparams, NULL};
