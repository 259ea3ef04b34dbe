/* Tokenizers: SentencePiece-style (GGUF tokenizer.ggml.model = "llama") and
 * byte-level BPE ("gpt2") with the pre-tokenizers llama.cpp chooses from
 * tokenizer.ggml.pre, encode and decode, with the special tokens, the
 * BOS/EOS policy and the end-of-generation tokens taken from the model's
 * metadata the way llama.cpp takes them.
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

/* Per-token attributes beyond the type (llama.cpp's token attributes) */
enum {
  AZC_TOKEN_ATTR_EOG = 1,    /* ends generation */
  AZC_TOKEN_ATTR_LSTRIP = 2, /* whitespace before the special token is dropped */
  AZC_TOKEN_ATTR_RSTRIP = 4, /* whitespace after it is dropped */
};

typedef struct azc_tokenizer_desc {
  azc_tokenizer_kind_t kind;
  azc_strview_t pre;        /* tokenizer.ggml.pre ("default", "llama-bpe", ...); may be empty */
  azc_strview_t model_name; /* general.name: llama.cpp keys phi-3's rstrip on it; may be empty */
  int32_t n_vocab;
  const azc_strview_t *tokens; /* n_vocab */
  const float *scores;         /* n_vocab, or NULL (all 0) */
  const int32_t *token_types;  /* n_vocab, or NULL (all NORMAL) */
  int32_t n_merges;
  const azc_strview_t *merges;                    /* "left right", rank = index; BPE only */
  int32_t bos_id, eos_id, unk_id, pad_id, eot_id; /* -1 when absent */
  int32_t eom_id;                                 /* tokenizer.ggml.eom_token_id */
  int32_t fim_pre_id, fim_suf_id, fim_mid_id;     /* tokenizer.ggml.fim_*_token_id */
  int32_t fim_pad_id, fim_rep_id, fim_sep_id;
  int add_bos;          /* 1, 0, or -1 = the default (SPM: 1; BPE: per pre-tokenizer) */
  int add_eos;          /* 1, 0, or -1 = 0 */
  int add_space_prefix; /* 1, 0, or -1 = the kind's default (SPM: 1, BPE: 0) */
  int ignore_merges;    /* 1, 0, or -1 = the pre-tokenizer's default (llama3: 1) */
  /* n_vocab AZC_TOKEN_ATTR_* bits, or NULL. NULL: the attributes are derived
   * as llama.cpp derives them, which may also turn some tokens into CONTROL
   * and find the EOT/EOM/FIM ids by their text. Given (a bundle's blob): the
   * types, ids and attributes are taken as they are. */
  const uint8_t *token_attrs;
} azc_tokenizer_desc_t;

/* An empty description: every id -1, every flag -1 (default), no arrays. */
void azc_tokenizer_desc_init(azc_tokenizer_desc_t *d);

/* The special token ids llama.cpp assumes when a file names none: SPM BOS 1,
 * EOS 2, unknown 0; BPE BOS and EOS 11 (no BOS for glm4); each only when it
 * is inside a vocabulary of n_vocab tokens, else -1. */
void azc_tokenizer_default_ids(azc_tokenizer_kind_t kind, azc_strview_t pre, int32_t n_vocab,
                               int32_t *bos, int32_t *eos, int32_t *unk);

typedef struct azc_tokenizer azc_tokenizer_t;

/* Fails on anything llama.cpp would refuse, naming it: an unknown
 * tokenizer.ggml.pre, one azc does not implement, ids outside the vocabulary. */
azc_status_t azc_tokenizer_create(const azc_tokenizer_desc_t *desc, azc_tokenizer_t **out);
void azc_tokenizer_destroy(azc_tokenizer_t *tok);

/* Encodes text[0..len). add_special: add BOS/EOS as the metadata says.
 * parse_special: text that spells a control or unknown token becomes that
 * token (user-defined tokens are always split out, as in llama.cpp).
 * *out_ids is malloc'd (free it); *out_n its length. */
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
int32_t azc_tokenizer_eot(const azc_tokenizer_t *tok); /* from metadata or found by its text */
bool azc_tokenizer_adds_bos(const azc_tokenizer_t *tok);
bool azc_tokenizer_adds_eos(const azc_tokenizer_t *tok);
/* true for llama.cpp's end-of-generation tokens: EOS, EOT, EOM, the FIM
 * pad/repo/separator tokens and the tokens spelled <|eot_id|>, <|im_end|>,
 * <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>, _<EOT> */
bool azc_tokenizer_is_eog(const azc_tokenizer_t *tok, int32_t id);
azc_tokenizer_kind_t azc_tokenizer_kind(const azc_tokenizer_t *tok);
/* The GGUF type of a token after llama.cpp's corrections (0 when out of range) */
int azc_tokenizer_token_type(const azc_tokenizer_t *tok, int32_t id);
/* The stored text of a token (not decoded); borrowed. */
azc_strview_t azc_tokenizer_token_text(const azc_tokenizer_t *tok, int32_t id);

/* Serialization for bundles: a self-describing little-endian blob
 * (docs/bundle-format.md, "tokenizer section"). */
azc_status_t azc_tokenizer_serialize(const azc_tokenizer_t *tok, uint8_t **out, size_t *out_size);
azc_status_t azc_tokenizer_deserialize(const uint8_t *data, size_t size, azc_tokenizer_t **out);

#endif
