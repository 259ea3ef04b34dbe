/* The tokenizer of a GGUF file: reading tokenizer.ggml.* (and general.name)
 * into an azc_tokenizer_desc_t the way llama.cpp's vocabulary loader reads
 * them, including its default ids where the file names none.
 *
 * Reading the vocabulary needs no architecture, so `azc tokenize` and the
 * tokenizer API work on a vocab-only GGUF of any architecture through
 * azc_vocab_open, while azc_model_open uses azc_vocab_read for the
 * architectures it can lower. */
#ifndef AZC_FRONTEND_VOCAB_H
#define AZC_FRONTEND_VOCAB_H

#include "frontend/gguf.h"
#include "runtime/tokenizer.h"

/* Fills *d (azc_tokenizer_desc_init'ed first) from g; the arrays point into g
 * or into *scores / *types, which the caller frees. A file without
 * tokenizer.ggml.model leaves d->n_vocab 0 (no tokenizer, not an error). */
azc_status_t azc_vocab_read(const azc_gguf_t *g, azc_tokenizer_desc_t *d, float **scores,
                            int32_t **types);

/* A GGUF file opened for its tokenizer only. */
typedef struct azc_vocab_file {
  azc_gguf_t *gguf;
  azc_tokenizer_desc_t desc; /* borrows gguf and the buffers below */
  azc_strview_t arch;        /* general.architecture, or empty */
  float *scores;
  int32_t *types;
} azc_vocab_file_t;

/* Fails when the file has no tokenizer. */
azc_status_t azc_vocab_open(const char *path, azc_vocab_file_t **out);
void azc_vocab_close(azc_vocab_file_t *v);

/* What azc_vocab_write_from_json wrote. */
typedef struct azc_vocab_json_info {
  char model[8]; /* tokenizer.ggml.model: "gpt2" or "llama" */
  char pre[32];  /* tokenizer.ggml.pre */
  int32_t n_vocab, n_merges, n_added;
} azc_vocab_json_info_t;

/* Writes a vocab-only GGUF (tokenizer.* keys, no tensors) from a Hugging
 * Face tokenizer.json, with tokenizer_config.json and config.json from the
 * same folder when they are there, holding what llama.cpp's
 * convert_hf_to_gguf.py would write (frontend/vocab_json.c says how). arch
 * and name (general.architecture, general.name) may be NULL. Refuses a
 * tokenizer whose pre-tokenizer or model llama.cpp has no form for. */
azc_status_t azc_vocab_write_from_json(const char *json_path, const char *arch, const char *name,
                                       const char *out_path, azc_vocab_json_info_t *info);

#endif
