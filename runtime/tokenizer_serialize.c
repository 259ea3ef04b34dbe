/* The tokenizer as a bundle section: what azc_tokenizer_create needs, written
 * as one self-describing blob and read back through azc_tokenizer_create, so
 * that a bundle tokenizes exactly as the GGUF file it came from.
 *
 * Tokenizer blob, format version 2
 * --------------------------------
 * Little-endian and byte-packed (no padding, no alignment). A "string" is a u32
 * byte length followed by that many bytes (no terminator).
 *
 *   offset  size  field
 *   0       4     magic "AZTK"
 *   4       4     u32 format version (2)
 *   8       4     u32 kind: 0 = SPM (GGUF "llama"), 1 = BPE (GGUF "gpt2")
 *   12      4     u32 n_vocab, at least 1
 *   16      4     u32 n_merges
 *   20      48    12 x i32 token ids (-1 = none), as resolved (found by text
 *                 where the metadata named none): BOS, EOS, unknown, padding,
 *                 end of turn, end of message, FIM prefix, suffix, middle,
 *                 pad, repo, separator
 *   68      1     u8 add BOS (0/1, as resolved from the metadata and defaults)
 *   69      1     u8 add EOS (0/1)
 *   70      1     u8 add space prefix (0/1)
 *   71      1     u8 ignore merges (0/1)
 *   72      ...   string: pre-tokenizer name (tokenizer.ggml.pre; may be empty)
 *   ...     ...   string: model name (general.name; may be empty)
 *   ...     ...   n_vocab tokens, in id order, each:
 *                   string text (as in tokenizer.ggml.tokens), f32 score,
 *                   u8 type (GGUF token type after llama.cpp's corrections:
 *                   1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
 *                   6 byte), u8 attributes (bit 0 end of generation, bit 1
 *                   lstrip, bit 2 rstrip)
 *   ...     ...   n_merges merges, in rank order, each: string "left right"
 *                 (tokenizer.ggml.merges; BPE only, 0 for SPM)
 *
 * Version 1 (azc before the pre-tokenizers and special-token attributes) is
 * refused with a message saying the bundle must be compiled again.
 *
 * The blob ends right after the last merge. The reader checks every length
 * and count against the bytes that remain before it reads or allocates, and
 * refuses a wrong magic, an unknown version, trailing bytes and any value
 * azc_tokenizer_create refuses. Integrity of the bytes themselves is the
 * bundle's business (each section has an XXH3-64 checksum). */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer.h"
#include "runtime/tokenizer_internal.h"

#define BLOB_MAGIC "AZTK"
#define BLOB_VERSION 2u
#define BLOB_HEADER_SIZE 72
#define BLOB_N_IDS 12

typedef struct {
  uint8_t *p;
} writer_t;

static void put_u32(writer_t *w, uint32_t v) {
  for (int i = 0; i < 4; i++) *w->p++ = (uint8_t)(v >> (8 * i));
}
static void put_bytes(writer_t *w, const void *d, size_t n) {
  if (n) memcpy(w->p, d, n);
  w->p += n;
}
static void put_str(writer_t *w, azc_strview_t s) {
  put_u32(w, (uint32_t)s.size);
  put_bytes(w, s.data, s.size);
}

azc_status_t azc_tokenizer_serialize(const azc_tokenizer_t *tok, uint8_t **out, size_t *out_size) {
  if (!out || !out_size) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no output pointer");
  *out = NULL;
  *out_size = 0;
  if (!tok) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: serialize without a tokenizer");
  size_t size = BLOB_HEADER_SIZE + 4 + tok->pre.size + 4 + tok->model_name.size;
  for (int32_t i = 0; i < tok->n_vocab; i++) {
    if (tok->tokens[i].size > UINT32_MAX)
      return AZC_ERR(AZC_OUT_OF_RANGE, "tokenizer: token %d is too long to serialize", i);
    size += 4 + tok->tokens[i].size + 4 + 1 + 1;
  }
  for (int32_t i = 0; i < tok->n_merges; i++) {
    if (tok->merges[i].size > UINT32_MAX)
      return AZC_ERR(AZC_OUT_OF_RANGE, "tokenizer: merge %d is too long to serialize", i);
    size += 4 + tok->merges[i].size;
  }
  uint8_t *buf = malloc(size);
  if (!buf) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for a %zu-byte blob", size);
  writer_t w = {buf};
  put_bytes(&w, BLOB_MAGIC, 4);
  put_u32(&w, BLOB_VERSION);
  put_u32(&w, (uint32_t)tok->kind);
  put_u32(&w, (uint32_t)tok->n_vocab);
  put_u32(&w, (uint32_t)tok->n_merges);
  const int32_t ids[BLOB_N_IDS] = {tok->bos,     tok->eos,     tok->unk,     tok->pad,
                                   tok->eot,     tok->eom,     tok->fim_pre, tok->fim_suf,
                                   tok->fim_mid, tok->fim_pad, tok->fim_rep, tok->fim_sep};
  for (int i = 0; i < BLOB_N_IDS; i++) put_u32(&w, (uint32_t)ids[i]);
  uint8_t flags[4] = {tok->add_bos, tok->add_eos, tok->add_space_prefix, tok->ignore_merges};
  put_bytes(&w, flags, 4);
  put_str(&w, tok->pre);
  put_str(&w, tok->model_name);
  for (int32_t i = 0; i < tok->n_vocab; i++) {
    put_str(&w, tok->tokens[i]);
    uint32_t bits;
    memcpy(&bits, &tok->scores[i], 4);
    put_u32(&w, bits);
    *w.p++ = tok->types[i];
    *w.p++ = tok->attrs[i];
  }
  for (int32_t i = 0; i < tok->n_merges; i++) put_str(&w, tok->merges[i]);
  if ((size_t)(w.p - buf) != size) { /* the size computation above is wrong */
    free(buf);
    return AZC_ERR(AZC_INTERNAL, "tokenizer: blob size mismatch");
  }
  *out = buf;
  *out_size = size;
  return NULL;
}

typedef struct {
  const uint8_t *p, *end;
} reader_t;

static azc_status_t get_u32(reader_t *r, const char *what, uint32_t *v) {
  if (r->end - r->p < 4) return AZC_ERR(AZC_CORRUPT, "tokenizer blob: truncated in %s", what);
  *v = azc_load_u32le(r->p);
  r->p += 4;
  return NULL;
}

static azc_status_t get_str(reader_t *r, const char *what, int32_t index, azc_strview_t *s) {
  uint32_t n = 0;
  AZC_RETURN_IF_ERROR(get_u32(r, what, &n));
  if ((size_t)(r->end - r->p) < n)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %s %d is %u bytes but only %zu remain", what,
                   index, n, (size_t)(r->end - r->p));
  *s = (azc_strview_t){(const char *)r->p, n};
  r->p += n;
  return NULL;
}

static azc_status_t get_id(reader_t *r, const char *what, int32_t *id) {
  uint32_t v = 0;
  AZC_RETURN_IF_ERROR(get_u32(r, what, &v));
  *id = (int32_t)v;
  return NULL;
}

static azc_status_t read_blob(reader_t *r, azc_tokenizer_desc_t *d, azc_strview_t **tokens,
                              float **scores, int32_t **types, uint8_t **attrs,
                              azc_strview_t **merges) {
  if (r->end - r->p < 8)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %zu bytes is shorter than the header",
                   (size_t)(r->end - r->p));
  if (memcmp(r->p, BLOB_MAGIC, 4) != 0)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: bad magic (expected \"AZTK\")");
  r->p += 4;
  uint32_t version = 0, kind = 0, n_vocab = 0, n_merges = 0;
  AZC_RETURN_IF_ERROR(get_u32(r, "version", &version));
  if (version != BLOB_VERSION)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "tokenizer blob: format version %u, but this azc reads version %u (it carries "
                   "the pre-tokenizer and the special tokens' attributes); compile the bundle "
                   "again with this azc",
                   version, BLOB_VERSION);
  if (r->end - r->p < BLOB_HEADER_SIZE - 8)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %zu bytes is shorter than the %d-byte header",
                   (size_t)(r->end - r->p) + 8, BLOB_HEADER_SIZE);
  AZC_RETURN_IF_ERROR(get_u32(r, "kind", &kind));
  AZC_RETURN_IF_ERROR(get_u32(r, "n_vocab", &n_vocab));
  AZC_RETURN_IF_ERROR(get_u32(r, "n_merges", &n_merges));
  if (kind > AZC_TOKENIZER_BPE)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: kind %u (expected 0 or 1)", kind);
  int32_t *ids[BLOB_N_IDS] = {&d->bos_id,     &d->eos_id,     &d->unk_id,     &d->pad_id,
                              &d->eot_id,     &d->eom_id,     &d->fim_pre_id, &d->fim_suf_id,
                              &d->fim_mid_id, &d->fim_pad_id, &d->fim_rep_id, &d->fim_sep_id};
  for (int i = 0; i < BLOB_N_IDS; i++) AZC_RETURN_IF_ERROR(get_id(r, "token id", ids[i]));
  const uint8_t *flags = r->p;
  r->p += 4;
  if (flags[0] > 1 || flags[1] > 1 || flags[2] > 1 || flags[3] > 1)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: bad flag bytes %u %u %u %u", flags[0], flags[1],
                   flags[2], flags[3]);
  d->kind = (azc_tokenizer_kind_t)kind;
  d->add_bos = flags[0];
  d->add_eos = flags[1];
  d->add_space_prefix = flags[2];
  d->ignore_merges = flags[3];
  AZC_RETURN_IF_ERROR(get_str(r, "pre-tokenizer name", 0, &d->pre));
  AZC_RETURN_IF_ERROR(get_str(r, "model name", 0, &d->model_name));
  /* counts against what remains: a token takes at least 10 bytes, a merge 4 */
  size_t left = (size_t)(r->end - r->p);
  if (n_vocab == 0 || n_vocab > INT32_MAX || n_vocab > left / 10)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %u tokens cannot fit in the %zu bytes left",
                   n_vocab, left);
  if (n_merges > INT32_MAX || n_merges > (left - (size_t)n_vocab * 10) / 4)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %u merges cannot fit in the bytes left", n_merges);
  *tokens = malloc((size_t)n_vocab * sizeof(azc_strview_t));
  *scores = malloc((size_t)n_vocab * sizeof(float));
  *types = malloc((size_t)n_vocab * sizeof(int32_t));
  *attrs = malloc((size_t)n_vocab);
  *merges = malloc((size_t)(n_merges ? n_merges : 1) * sizeof(azc_strview_t));
  if (!*tokens || !*scores || !*types || !*attrs || !*merges)
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer blob: out of memory for %u tokens", n_vocab);
  for (uint32_t i = 0; i < n_vocab; i++) {
    AZC_RETURN_IF_ERROR(get_str(r, "token", (int32_t)i, &(*tokens)[i]));
    uint32_t bits = 0;
    AZC_RETURN_IF_ERROR(get_u32(r, "token score", &bits));
    memcpy(&(*scores)[i], &bits, 4);
    if (r->end - r->p < 2) return AZC_ERR(AZC_CORRUPT, "tokenizer blob: truncated in token %u", i);
    (*types)[i] = *r->p++;
    (*attrs)[i] = *r->p++;
  }
  for (uint32_t i = 0; i < n_merges; i++)
    AZC_RETURN_IF_ERROR(get_str(r, "merge", (int32_t)i, &(*merges)[i]));
  if (r->p != r->end)
    return AZC_ERR(AZC_CORRUPT, "tokenizer blob: %zu bytes after the last merge",
                   (size_t)(r->end - r->p));
  d->n_vocab = (int32_t)n_vocab;
  d->tokens = *tokens;
  d->scores = *scores;
  d->token_types = *types;
  d->token_attrs = *attrs;
  d->n_merges = (int32_t)n_merges;
  d->merges = *merges;
  return NULL;
}

azc_status_t azc_tokenizer_deserialize(const uint8_t *data, size_t size, azc_tokenizer_t **out) {
  if (!out) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no output pointer");
  *out = NULL;
  if (!data || !size) return AZC_ERR(AZC_CORRUPT, "tokenizer blob: empty");
  reader_t r = {data, data + size};
  azc_tokenizer_desc_t d;
  azc_tokenizer_desc_init(&d);
  azc_strview_t *tokens = NULL, *merges = NULL;
  float *scores = NULL;
  int32_t *types = NULL;
  uint8_t *attrs = NULL;
  azc_status_t st = read_blob(&r, &d, &tokens, &scores, &types, &attrs, &merges);
  if (!st) st = azc_status_wrap(azc_tokenizer_create(&d, out), "tokenizer blob");
  free(tokens);
  free(scores);
  free(types);
  free(attrs);
  free(merges);
  return st;
}
