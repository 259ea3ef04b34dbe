/* Synthetic models: GGUF files with random weights in a real architecture
 * and shape, written with azc's own GGUF writer. The tests make their
 * fixtures with it, the README's first command runs one end to end, and the
 * benchmarks make TinyLlama-sized models with it (then `azc quantize`).
 *
 * Weights are drawn from a seeded generator (the same parameters always give
 * the same file); norms are 1 and biases small. The tokenizer is either
 * copied from another GGUF (every tokenizer.* key) or a built-in one: for
 * llama a SentencePiece vocabulary with the 256 byte tokens (so any text
 * encodes) plus generated pieces, for gpt2 a byte-level BPE vocabulary with
 * generated merges. */
#ifndef AZC_FRONTEND_SYNTH_H
#define AZC_FRONTEND_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/quant.h"

typedef struct azc_synth_params {
  const char *arch; /* "llama" or "gpt2" */
  const char *name; /* general.name */
  int32_t n_vocab;  /* ignored when vocab_from is set */
  int32_t n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff;
  float rope_freq_base;
  azc_dtype_t wtype; /* 2-D weight matrices; norms and biases are F32 */
  bool tied;         /* no output.weight: the output reuses token_embd */
  uint64_t seed;
  const char *vocab_from;    /* GGUF to copy the tokenizer from, or NULL */
  const char *chat_template; /* tokenizer.chat_template to write (Jinja text), or NULL */
} azc_synth_params_t;

/* Presets: tiny-llama, tiny-gpt2 (tests), llama-160m, tinyllama-1.1b, gpt2-124m. */
azc_status_t azc_synth_preset(const char *shape, azc_synth_params_t *out);
const char *azc_synth_preset_names(void);

/* Writes the model to path atomically. progress (may be NULL) is called after
 * each tensor with (done, total). */
azc_status_t azc_synth_write(const azc_synth_params_t *p, const char *path,
                             void (*progress)(void *user, int done, int total), void *user);

#endif
