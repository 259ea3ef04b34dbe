/* Tokenizers: SentencePiece-style (GGUF tokenizer.ggml.model = "llama") and
 * GPT-2 byte-level BPE ("gpt2"), encode and decode, with the special tokens
 * and BOS/EOS policy taken from the model's metadata.
 *
 * A tokenizer is built from a description of plain arrays (what a GGUF file
 * stores under tokenizer.ggml.*), so the runtime never needs the GGUF reader;
 * it copies what it needs and does not borrow the description afterwards.
 * The same description can be serialized into a bundle and read back. */
#ifndef AZC_RUNTIME_TOKENIZER_H
#define AZC_RUNTIME_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/base/util.h"

typedef enum azc_tokenizer_kind {
  AZC_TOKENIZER_SPM = 0, /* "llama": score-based merges, byte fallback, leading space */
  AZC_TOKENIZER_BPE = 1, /* "gpt2": byte-level BPE with ranked merges */
} azc_tokenizer_kind_t;

/* GGUF token types (tokenizer.ggml.token_type) */
enum {
  AZC_TOKEN_NORMAL = 1,
  AZC_TOKEN_UNKNOWN = 2,
  AZC_TOKEN_CONTROL = 3,
  AZC_TOKEN_USER_DEFINED = 4,
  AZC_TOKEN_UNUSED = 5,
  AZC_TOKEN_BYTE = 6,
};

typedef struct azc_tokenizer_desc {
  azc_tokenizer_kind_t kind;
  azc_strview_t pre; /* tokenizer.ggml.pre ("default", "gpt-2", ...); may be empty */
  int32_t n_vocab;
  const azc_strview_t *tokens; /* n_vocab */
  const float *scores;         /* n_vocab, or NULL (all 0) */
  const int32_t *token_types;  /* n_vocab, or NULL (all NORMAL) */
  int32_t n_merges;
  const azc_strview_t *merges;                    /* "left right", rank = index; BPE only */
  int32_t bos_id, eos_id, unk_id, pad_id, eot_id; /* -1 when absent */
  int add_bos;          /* 1, 0, or -1 = the model kind's default (SPM: 1, BPE: 0) */
  int add_eos;          /* 1, 0, or -1 = 0 */
  int add_space_prefix; /* 1, 0, or -1 = the kind's default (SPM: 1, BPE: 0) */
} azc_tokenizer_desc_t;

typedef struct azc_tokenizer azc_tokenizer_t;

azc_status_t azc_tokenizer_create(const azc_tokenizer_desc_t *desc, azc_tokenizer_t **out);
void azc_tokenizer_destroy(azc_tokenizer_t *tok);

/* Encodes text[0..len). add_special: add BOS/EOS as the metadata says.
 * parse_special: text like "<s>" that spells a control token becomes that
 * token. *out_ids is malloc'd (free it); *out_n its length. */
azc_status_t azc_tokenizer_encode(const azc_tokenizer_t *tok, const char *text, size_t len,
                                  bool add_special, bool parse_special, int32_t **out_ids,
                                  size_t *out_n);

/* The bytes that token `id` stands for when printed (SPM "▁" becomes a space,
 * byte tokens become their byte, GPT-2 byte symbols become bytes, control
 * tokens become ""). Returns the number of bytes, which may exceed cap (then
 * only cap bytes are written). */
size_t azc_tokenizer_token_to_piece(const azc_tokenizer_t *tok, int32_t id, char *buf, size_t cap);

/* Decodes ids into a malloc'd, NUL-terminated string (SPM: the leading space
 * that encode added is removed, as llama.cpp does). */
azc_status_t azc_tokenizer_decode(const azc_tokenizer_t *tok, const int32_t *ids, size_t n,
                                  char **out, size_t *out_len);

int32_t azc_tokenizer_n_vocab(const azc_tokenizer_t *tok);
int32_t azc_tokenizer_bos(const azc_tokenizer_t *tok); /* -1 when none */
int32_t azc_tokenizer_eos(const azc_tokenizer_t *tok);
bool azc_tokenizer_adds_bos(const azc_tokenizer_t *tok);
/* true for EOS, EOT and other end-of-generation tokens */
bool azc_tokenizer_is_eog(const azc_tokenizer_t *tok, int32_t id);
azc_tokenizer_kind_t azc_tokenizer_kind(const azc_tokenizer_t *tok);
/* The stored text of a token (not decoded); borrowed. */
azc_strview_t azc_tokenizer_token_text(const azc_tokenizer_t *tok, int32_t id);

/* Serialization for bundles: a self-describing little-endian blob
 * (docs/bundle-format.md, "tokenizer section"). */
azc_status_t azc_tokenizer_serialize(const azc_tokenizer_t *tok, uint8_t **out, size_t *out_size);
azc_status_t azc_tokenizer_deserialize(const uint8_t *data, size_t size, azc_tokenizer_t **out);

#endif
