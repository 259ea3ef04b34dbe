/* Synthetic models: GGUF files with random weights in a real architecture
 * and shape, written with azc's own GGUF writer. The tests make their
 * fixtures with it, the README's first command runs one end to end, and the
 * benchmarks make TinyLlama-sized models with it (then `azc quantize`).
 *
 * Every architecture of the frontend's table can be written: the tensors
 * come from its decoder row (frontend/decoder.h), so a new row is a new
 * mkmodel shape. Weights are drawn from a seeded generator (the same
 * parameters always give the same file); norms are near 1 and biases small.
 * The tokenizer is either copied from another GGUF (every tokenizer.* key)
 * or a built-in one: a SentencePiece vocabulary with the 256 byte tokens
 * (so any text encodes) plus generated pieces for the SentencePiece families
 * (llama, gemma, phi3), a byte-level BPE vocabulary with generated merges
 * for the others (gpt2, qwen2, qwen3, starcoder2). */
#ifndef AZC_FRONTEND_SYNTH_H
#define AZC_FRONTEND_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/quant.h"

typedef struct azc_synth_params {
  const char *arch; /* a general.architecture of the frontend's table */
  const char *name; /* general.name */
  int32_t n_vocab;  /* ignored when vocab_from is set */
  int32_t n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff;
  int32_t head_dim; /* attention.key_length; 0: n_embd / n_head */
  int32_t n_rot;    /* rope.dimension_count; 0: head_dim */
  float rope_freq_base;
  float rope_scale; /* linear rope.scaling.factor (0: none written) */
  bool rope_freqs;  /* Llama 3's rope_freqs.weight */
  bool longrope;    /* rope_factors_long/short, attn_factor, original context n_ctx / 2 */
  int32_t n_swa;    /* attention.sliding_window (archs with local layers) */
  float attn_softcap, final_softcap; /* archs with soft-caps (0: key not written) */
  float qk_std;      /* std of the q and k projections (0: 0.02, as every weight); larger
                        makes attention peaked, so RoPE, windows and caps change the output */
  azc_dtype_t wtype; /* 2-D weight matrices; norms and biases are F32 */
  bool tied;         /* no output.weight: the output reuses token_embd */
  uint64_t seed;
  const char *vocab_from;    /* GGUF to copy the tokenizer from, or NULL */
  const char *chat_template; /* tokenizer.chat_template to write (Jinja text), or NULL */
} azc_synth_params_t;

/* Presets: tiny-<arch> (tests: a few layers, 384-token vocabulary),
 * real shapes with their vocabularies (smollm2-135m, qwen2.5-0.5b,
 * qwen3-0.6b, gemma-3-270m, phi-3-mini-4l, llama-160m, tinyllama-1.1b,
 * gpt2-124m); see azc_synth_preset_names(). */
azc_status_t azc_synth_preset(const char *shape, azc_synth_params_t *out);
const char *azc_synth_preset_names(void);

/* Writes the model to path atomically. progress (may be NULL) is called after
 * each tensor with (done, total). */
azc_status_t azc_synth_write(const azc_synth_params_t *p, const char *path,
                             void (*progress)(void *user, int done, int total), void *user);

#endif
