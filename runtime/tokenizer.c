/* Tokenizers (see tokenizer.h): building the tables, SentencePiece-style
 * encoding, decoding and the accessors. Byte-level BPE lives in
 * tokenizer_bpe.c with its pre-tokenizers in tokenizer_pre.c, special tokens
 * in tokenizer_special.c, the bundle blob in tokenizer_serialize.c.
 *
 * Encoding follows llama.cpp so that token ids match it exactly: the text is
 * first cut at special tokens (tokenizer_special.c; control and unknown
 * tokens only when parse_special, user-defined tokens always), then each plain
 * fragment is tokenized on its own.
 *
 * SPM: spaces become U+2581 "▁", and a "▁" is prepended to a fragment at the
 * start of the text or after a special token when add_space_prefix is set.
 * Symbols start as UTF-8 characters; adjacent pairs whose concatenation is a
 * token are queued by that token's score (highest first, leftmost on ties) and
 * merged until no pair is left. A final symbol that is not a token becomes
 * byte tokens <0xXX> (or the one-byte token), else the unknown token.
 *
 * Decoding prints each token's piece, computed once at creation: "▁" becomes
 * a space, byte tokens their byte, GPT-2 byte symbols their bytes, control,
 * unknown and unused tokens nothing, user-defined tokens their text. Bytes of a
 * multi-byte character split over byte tokens come out intact once the pieces
 * are concatenated.
 *
 * Text that is not valid UTF-8 is accepted and its bytes are kept, so that
 * decode(encode(x)) == x for every x when the vocabulary has byte tokens (SPM:
 * except that a "▁" in the text comes back as a space). SPM makes each byte of
 * a broken sequence a symbol of its own, which ends up as a byte token;
 * llama.cpp lets the broken sequence swallow the next bytes instead, and can
 * so turn a following space into raw "▁" bytes. BPE pre-tokenizes each invalid
 * byte as llama.cpp does its U+FFFD replacement (a symbol character) but
 * encodes the byte itself, where llama.cpp encodes U+FFFD. Valid UTF-8 gives
 * llama.cpp's ids in both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/hash.h"
#include "runtime/tokenizer.h"
#include "runtime/tokenizer_internal.h"

/* Longest text encode accepts: symbol indices are int32 and SPM escaping can
 * triple the length. */
#define MAX_TEXT_BYTES ((size_t)1 << 28)

/* ---- string and pair tables ---- */

static uint32_t pow2_at_least(uint64_t n) {
  uint32_t c = 16;
  while (c < n && c < (1u << 31)) c <<= 1;
  return c;
}

bool azc_strmap_init(azc_strmap_t *m, uint32_t expected) {
  uint32_t cap = pow2_at_least((uint64_t)expected * 2);
  m->slots = calloc(cap, sizeof(uint64_t));
  m->mask = cap - 1;
  m->count = 0;
  return m->slots != NULL;
}

void azc_strmap_free(azc_strmap_t *m) {
  free(m->slots);
  m->slots = NULL;
}

static inline bool key_eq(azc_strview_t k, const char *s, size_t n) {
  return k.size == n && (n == 0 || memcmp(k.data, s, n) == 0);
}

int32_t azc_strmap_find(const azc_strmap_t *m, const azc_strview_t *keys, const char *s, size_t n) {
  uint64_t h = azc_hash64(s, n);
  uint32_t tag = (uint32_t)(h >> 32);
  for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
    uint64_t slot = m->slots[i];
    if (!slot) return -1;
    int32_t idx = (int32_t)(uint32_t)slot - 1;
    if ((uint32_t)(slot >> 32) == tag && key_eq(keys[idx], s, n)) return idx;
  }
}

static void strmap_insert(uint64_t *slots, uint32_t mask, uint64_t h, int32_t index) {
  uint32_t i = (uint32_t)h & mask;
  while (slots[i]) i = (i + 1) & mask;
  slots[i] = (h & 0xffffffff00000000ull) | (uint32_t)(index + 1);
}

bool azc_strmap_put(azc_strmap_t *m, const azc_strview_t *keys, int32_t index) {
  azc_strview_t k = keys[index];
  uint64_t h = azc_hash64(k.data, k.size);
  uint32_t tag = (uint32_t)(h >> 32);
  for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
    uint64_t slot = m->slots[i];
    if (!slot) break;
    int32_t idx = (int32_t)(uint32_t)slot - 1;
    if ((uint32_t)(slot >> 32) == tag && key_eq(keys[idx], k.data, k.size)) {
      m->slots[i] = (slot & 0xffffffff00000000ull) | (uint32_t)(index + 1);
      return true;
    }
  }
  if ((uint64_t)(m->count + 1) * 2 > (uint64_t)m->mask + 1) { /* grow: rehash every key */
    uint32_t cap = (m->mask + 1) * 2;
    uint64_t *slots = calloc(cap, sizeof(uint64_t));
    if (!slots) return false;
    for (uint32_t i = 0; i <= m->mask; i++) {
      uint64_t slot = m->slots[i];
      if (!slot) continue;
      int32_t idx = (int32_t)(uint32_t)slot - 1;
      uint64_t hh = azc_hash64(keys[idx].data, keys[idx].size);
      strmap_insert(slots, cap - 1, hh, idx);
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
  }
  strmap_insert(m->slots, m->mask, h, index);
  m->count++;
  return true;
}

/* ---- encode work memory and the merge queue (a binary min-heap on key) ---- */

void azc_tok_work_free(azc_tok_work_t *w) {
  free(w->syms);
  free(w->heap);
  free(w->buf);
  free(w->cpts);
  free(w->uflags);
  free(w->offsets);
  free(w->next);
  free(w->spare);
  memset(w, 0, sizeof(*w));
}

bool azc_tok_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return false;
  *p = q;
  *cap = c;
  return true;
}

azc_status_t azc_tok_work_reserve_syms(azc_tok_work_t *w, size_t n) {
  if (!azc_tok_grow((void **)&w->syms, &w->cap_syms, n, sizeof(*w->syms)))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %zu symbols", n);
  return NULL;
}

azc_status_t azc_tok_heap_push(azc_tok_work_t *w, const azc_tok_bigram_t *b) {
  if (!azc_tok_grow((void **)&w->heap, &w->cap_heap, w->n_heap + 1, sizeof(*w->heap)))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for the merge queue");
  azc_tok_bigram_t *h = w->heap;
  size_t i = w->n_heap++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h[parent].key <= b->key) break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = *b;
  return NULL;
}

azc_tok_bigram_t azc_tok_heap_pop(azc_tok_work_t *w) {
  azc_tok_bigram_t *h = w->heap;
  azc_tok_bigram_t top = h[0], last = h[--w->n_heap];
  size_t n = w->n_heap, i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1].key < h[c].key) c++;
    if (last.key <= h[c].key) break;
    h[i] = h[c];
    i = c;
  }
  if (n) h[i] = last;
  return top;
}

azc_status_t azc_tok_merge(const azc_tokenizer_t *tok, azc_tok_work_t *w, size_t n,
                           azc_tok_pair_fn pair) {
  w->n_heap = 0;
  for (size_t i = 1; i < n; i++) AZC_RETURN_IF_ERROR(pair(tok, w, (int32_t)i - 1, (int32_t)i));
  while (w->n_heap) {
    azc_tok_bigram_t bg = azc_tok_heap_pop(w);
    azc_tok_symbol_t *l = &w->syms[bg.left], *r = &w->syms[bg.right];
    if (l->len == 0 || r->len == 0 || l->len + r->len != bg.size) continue; /* stale */
    l->len += r->len;
    r->len = 0;
    l->next = r->next;
    if (r->next >= 0) w->syms[r->next].prev = bg.left;
    l->id = bg.id;
    AZC_RETURN_IF_ERROR(pair(tok, w, l->prev, bg.left));
    AZC_RETURN_IF_ERROR(pair(tok, w, bg.left, l->next));
  }
  return NULL;
}

azc_status_t azc_idvec_push(azc_idvec_t *v, int32_t id) {
  if (!azc_tok_grow((void **)&v->ids, &v->cap, v->n + 1, sizeof(int32_t)))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %zu tokens", v->n + 1);
  v->ids[v->n++] = id;
  return NULL;
}

/* ---- creation ---- */

void azc_tokenizer_desc_init(azc_tokenizer_desc_t *d) {
  memset(d, 0, sizeof(*d));
  d->bos_id = d->eos_id = d->unk_id = d->pad_id = d->eot_id = d->eom_id = -1;
  d->fim_pre_id = d->fim_suf_id = d->fim_mid_id = d->fim_pad_id = d->fim_rep_id = d->fim_sep_id =
      -1;
  d->add_bos = d->add_eos = d->add_space_prefix = d->ignore_merges = -1;
}

void azc_tokenizer_default_ids(azc_tokenizer_kind_t kind, azc_strview_t pre, int32_t n_vocab,
                               int32_t *bos, int32_t *eos, int32_t *unk) {
  int32_t b = 1, e = 2, u = 0; /* llama.cpp's defaults for "llama" (SPM) */
  if (kind == AZC_TOKENIZER_BPE) {
    azc_pre_info_t info;
    azc_status_t st = azc_pre_resolve(pre, &info);
    b = st || !info.no_bos ? 11 : -1;
    e = 11;
    u = -1;
    azc_status_free(st);
  }
  *bos = b < n_vocab ? b : -1;
  *eos = e < n_vocab ? e : -1;
  *unk = u < n_vocab ? u : -1;
}

static azc_status_t check_id(const azc_tokenizer_desc_t *d, int32_t id, const char *what) {
  if (id < -1 || id >= d->n_vocab)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "tokenizer: %s %d is outside the vocabulary of %d tokens (expected -1..%d)",
                   what, id, d->n_vocab, d->n_vocab - 1);
  return NULL;
}

static azc_status_t resolve_flag(int v, int def, const char *what, bool *out) {
  if (v < -1 || v > 1)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: %s is %d (expected -1, 0 or 1)", what, v);
  *out = v == -1 ? def : v;
  return NULL;
}

static azc_status_t validate_desc(const azc_tokenizer_desc_t *d) {
  if (d->kind != AZC_TOKENIZER_SPM && d->kind != AZC_TOKENIZER_BPE)
    return AZC_ERR(AZC_UNSUPPORTED, "tokenizer: kind %d is not SPM (0) or BPE (1)", (int)d->kind);
  if (d->n_vocab <= 0 || !d->tokens)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: the vocabulary is empty (%d tokens)",
                   d->n_vocab);
  if (d->n_merges < 0 || (d->n_merges > 0 && !d->merges))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: %d merges without a merge list", d->n_merges);
  if ((d->pre.size && !d->pre.data) || (d->model_name.size && !d->model_name.data))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: pre-tokenizer or model name has no data");
  for (int32_t i = 0; i < d->n_vocab; i++) {
    if (d->tokens[i].size && !d->tokens[i].data)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: token %d has no data", i);
    if (d->tokens[i].size > MAX_TEXT_BYTES)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: token %d is %zu bytes long", i,
                     d->tokens[i].size);
    int t = d->token_types ? d->token_types[i] : AZC_TOKEN_NORMAL;
    if (t < 0 || t > AZC_TOKEN_BYTE)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: token %d has type %d (expected 0..6)", i, t);
    if (d->token_attrs && d->token_attrs[i] > 7)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: token %d has attributes 0x%x", i,
                     d->token_attrs[i]);
  }
  for (int32_t i = 0; i < d->n_merges; i++)
    if (d->merges[i].size && !d->merges[i].data)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: merge %d has no data", i);
  const struct {
    int32_t id;
    const char *what;
  } ids[] = {
      {d->bos_id, "BOS token id"},      {d->eos_id, "EOS token id"},
      {d->unk_id, "unknown token id"},  {d->pad_id, "padding token id"},
      {d->eot_id, "EOT token id"},      {d->eom_id, "EOM token id"},
      {d->fim_pre_id, "FIM prefix id"}, {d->fim_suf_id, "FIM suffix id"},
      {d->fim_mid_id, "FIM middle id"}, {d->fim_pad_id, "FIM pad id"},
      {d->fim_rep_id, "FIM repo id"},   {d->fim_sep_id, "FIM separator id"},
  };
  for (size_t i = 0; i < AZC_ARRAY_SIZE(ids); i++)
    AZC_RETURN_IF_ERROR(check_id(d, ids[i].id, ids[i].what));
  return NULL;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The byte of an SPM byte token "<0xXX>", or -1. */
static int byte_token_value(azc_strview_t t) {
  if (t.size != 6 || memcmp(t.data, "<0x", 3) != 0 || t.data[5] != '>') return -1;
  int hi = hex_digit(t.data[3]), lo = hex_digit(t.data[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Writes what token i prints as into out (room for the text's length). */
static size_t make_piece(const azc_tokenizer_t *tok, int32_t i, char *out) {
  azc_strview_t t = tok->tokens[i];
  switch (tok->types[i]) {
  case AZC_TOKEN_CONTROL:
  case AZC_TOKEN_UNKNOWN:
  case AZC_TOKEN_UNUSED: return 0;
  case AZC_TOKEN_USER_DEFINED:
    if (t.size) memcpy(out, t.data, t.size);
    return t.size;
  default: break;
  }
  if (tok->kind == AZC_TOKENIZER_SPM) {
    int b = tok->types[i] == AZC_TOKEN_BYTE ? byte_token_value(t) : -1;
    if (b >= 0) {
      out[0] = (char)b;
      return 1;
    }
    size_t n = 0;
    for (size_t k = 0; k < t.size;) {
      if (k + 3 <= t.size && memcmp(t.data + k, "\xe2\x96\x81", 3) == 0) {
        out[n++] = ' ';
        k += 3;
      } else {
        out[n++] = t.data[k++];
      }
    }
    return n;
  }
  /* BPE: GPT-2 byte symbols back to bytes; a character outside the alphabet
   * is copied as it is */
  size_t n = 0;
  if (azc_gpt2_decode_text(t.data, t.size, out, &n)) return n;
  n = 0;
  for (size_t k = 0; k < t.size;) {
    size_t len = AZC_MIN(azc_utf8_len((uint8_t)t.data[k]), t.size - k), m;
    char b;
    if (azc_gpt2_decode_text(t.data + k, len, &b, &m) && m == 1) {
      out[n++] = b;
    } else {
      memcpy(out + n, t.data + k, len);
      n += len;
    }
    k += len;
  }
  return n;
}

static azc_status_t build_spm(azc_tokenizer_t *tok) {
  if (!azc_strmap_init(&tok->text_map, (uint32_t)tok->n_vocab))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  for (int32_t i = 0; i < tok->n_vocab; i++)
    if (!azc_strmap_put(&tok->text_map, tok->tokens, i))
      return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  static const char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; b++) {
    char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    char one = (char)b;
    int32_t id = azc_strmap_find(&tok->text_map, tok->tokens, name, 6);
    if (id < 0) id = azc_strmap_find(&tok->text_map, tok->tokens, &one, 1);
    tok->byte_token[b] = id;
  }
  return NULL;
}

/* llama.cpp's text for an empty token: "[EMPTY_<id>]" */
static size_t empty_text(int32_t id, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "[EMPTY_%d]", id);
  return n > 0 ? (size_t)n : 0;
}

static azc_status_t create(const azc_tokenizer_desc_t *d, azc_tokenizer_t *tok) {
  AZC_RETURN_IF_ERROR(validate_desc(d));
  bool spm = d->kind == AZC_TOKENIZER_SPM;
  azc_pre_info_t pre = {AZC_PRE_DEFAULT, false, 0, false};
  if (!spm) AZC_RETURN_IF_ERROR(azc_pre_resolve(d->pre, &pre)); /* SPM has no pre-tokenizer */
  tok->kind = d->kind;
  tok->pre_kind = pre.kind;
  tok->n_vocab = d->n_vocab;
  tok->bos = d->bos_id;
  tok->eos = d->eos_id;
  tok->unk = d->unk_id;
  tok->pad = d->pad_id;
  tok->eot = d->eot_id;
  tok->eom = d->eom_id;
  tok->fim_pre = d->fim_pre_id;
  tok->fim_suf = d->fim_suf_id;
  tok->fim_mid = d->fim_mid_id;
  tok->fim_pad = d->fim_pad_id;
  tok->fim_rep = d->fim_rep_id;
  tok->fim_sep = d->fim_sep_id;
  AZC_RETURN_IF_ERROR(resolve_flag(d->add_bos, spm ? 1 : pre.add_bos, "add_bos", &tok->add_bos));
  AZC_RETURN_IF_ERROR(resolve_flag(d->add_eos, 0, "add_eos", &tok->add_eos));
  AZC_RETURN_IF_ERROR(
      resolve_flag(d->add_space_prefix, spm, "add_space_prefix", &tok->add_space_prefix));
  AZC_RETURN_IF_ERROR(
      resolve_flag(d->ignore_merges, pre.ignore_merges, "ignore_merges", &tok->ignore_merges));
  if (d->add_bos == 1 && tok->bos < 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: add_bos_token is set but there is no BOS");
  if (d->add_eos == 1 && tok->eos < 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: add_eos_token is set but there is no EOS");
  tok->add_bos = tok->add_bos && tok->bos >= 0;
  tok->add_eos = tok->add_eos && tok->eos >= 0;
  tok->add_space_prefix = tok->add_space_prefix && spm; /* llama.cpp ignores it for BPE */
  tok->ignore_merges = tok->ignore_merges && !spm;

  size_t n = (size_t)d->n_vocab, text_size = 0;
  char name[32];
  for (size_t i = 0; i < n; i++)
    text_size += d->tokens[i].size ? d->tokens[i].size : empty_text((int32_t)i, name, sizeof(name));
  azc_arena_init(&tok->arena, 1 << 16);
  tok->tokens = malloc(n * sizeof(azc_strview_t));
  tok->pieces = malloc(n * sizeof(azc_strview_t));
  tok->scores = malloc(n * sizeof(float));
  tok->types = malloc(n);
  tok->attrs = calloc(n, 1);
  tok->text_buf = malloc(2 * text_size + 1); /* texts, then pieces (never longer) */
  char *pre_name = azc_arena_strndup(&tok->arena, d->pre.size ? d->pre.data : "", d->pre.size);
  char *model_name = azc_arena_strndup(&tok->arena, d->model_name.size ? d->model_name.data : "",
                                       d->model_name.size);
  if (!tok->tokens || !tok->pieces || !tok->scores || !tok->types || !tok->attrs ||
      !tok->text_buf || !pre_name || !model_name)
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %d tokens", d->n_vocab);
  tok->pre = (azc_strview_t){pre_name, d->pre.size};
  tok->model_name = (azc_strview_t){model_name, d->model_name.size};
  char *p = tok->text_buf;
  for (size_t i = 0; i < n; i++) {
    size_t len = d->tokens[i].size;
    if (len)
      memcpy(p, d->tokens[i].data, len);
    else
      len = empty_text((int32_t)i, p, 2 * text_size + 1 - (size_t)(p - tok->text_buf));
    tok->tokens[i] = (azc_strview_t){p, len};
    p += len;
    float s = d->scores ? d->scores[i] : 0.0f;
    tok->scores[i] = s == 0.0f ? 0.0f : s; /* -0 == 0 when comparing scores */
    int t = d->token_types ? d->token_types[i] : AZC_TOKEN_NORMAL;
    tok->types[i] = (uint8_t)(t == 0 ? AZC_TOKEN_NORMAL : t);
    if (d->token_attrs) tok->attrs[i] = d->token_attrs[i];
  }
  AZC_RETURN_IF_ERROR(azc_tok_specials_build(tok, d->token_attrs == NULL));
  for (size_t i = 0; i < n; i++) { /* after the specials: their types may have changed */
    size_t len = make_piece(tok, (int32_t)i, p);
    tok->pieces[i] = (azc_strview_t){p, len};
    p += len;
  }

  tok->n_merges = d->n_merges;
  tok->merges = azc_arena_alloc(&tok->arena, (size_t)(d->n_merges + 1) * sizeof(azc_strview_t), 8);
  if (!tok->merges) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for merges");
  for (int32_t i = 0; i < d->n_merges; i++) {
    char *m = azc_arena_strndup(&tok->arena, d->merges[i].size ? d->merges[i].data : "",
                                d->merges[i].size);
    if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for merges");
    tok->merges[i] = (azc_strview_t){m, d->merges[i].size};
  }
  if (spm) return build_spm(tok);
  return azc_tokenizer_bpe_init(tok);
}

azc_status_t azc_tokenizer_create(const azc_tokenizer_desc_t *desc, azc_tokenizer_t **out) {
  if (!out) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no output pointer");
  *out = NULL;
  if (!desc) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no description");
  azc_tokenizer_t *tok = calloc(1, sizeof(*tok));
  if (!tok) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  azc_status_t st = create(desc, tok);
  if (st) {
    azc_tokenizer_destroy(tok);
    return st;
  }
  *out = tok;
  return NULL;
}

void azc_tokenizer_destroy(azc_tokenizer_t *tok) {
  if (!tok) return;
  azc_tokenizer_bpe_free(tok);
  azc_strmap_free(&tok->text_map);
  free(tok->specials);
  free(tok->trie);
  free(tok->tokens);
  free(tok->pieces);
  free(tok->scores);
  free(tok->types);
  free(tok->attrs);
  free(tok->text_buf);
  azc_arena_free(&tok->arena);
  free(tok);
}

/* ---- SPM ---- */

/* The bytes of one symbol: a UTF-8 character, or a single byte where the
 * sequence is broken. (llama.cpp takes as many bytes as the lead byte
 * announces, so that a broken character swallows the first bytes of the next
 * one, e.g. of a "▁", which then comes back as raw bytes, not as a space;
 * valid text splits the same way in both.) */
static size_t utf8_symbol_len(const uint8_t *s, size_t n) {
  size_t len = azc_utf8_len(s[0]);
  if (len > n) return 1;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 1;
  return len;
}

/* Orders scores so that the highest pops first from the min-heap. */
static uint32_t score_rank(float score) {
  uint32_t u;
  memcpy(&u, &score, 4);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* increasing with the score */
  return ~u;
}

static azc_status_t spm_try_pair(const azc_tokenizer_t *tok, azc_tok_work_t *w, int32_t left,
                                 int32_t right) {
  if (left < 0 || right < 0) return NULL;
  const azc_tok_symbol_t *l = &w->syms[left], *r = &w->syms[right];
  uint32_t size = l->len + r->len;
  int32_t id = azc_strmap_find(&tok->text_map, tok->tokens, w->buf + l->start, size);
  if (id < 0) return NULL;
  azc_tok_bigram_t b = {((uint64_t)score_rank(tok->scores[id]) << 32) | (uint32_t)left, left, right,
                        id, size};
  return azc_tok_heap_push(w, &b);
}

static azc_status_t spm_encode(const azc_tokenizer_t *tok, azc_tok_work_t *w, const char *text,
                               size_t len, bool space_prefix, azc_idvec_t *out) {
  size_t n_spaces = 0;
  for (size_t i = 0; i < len; i++) n_spaces += text[i] == ' ';
  size_t blen = len + 2 * n_spaces + (space_prefix ? 3 : 0);
  if (!azc_tok_grow((void **)&w->buf, &w->cap_buf, blen + 1, 1))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %zu bytes", blen);
  char *b = w->buf;
  size_t k = 0;
  if (space_prefix) {
    memcpy(b, "\xe2\x96\x81", 3);
    k = 3;
  }
  for (size_t i = 0; i < len; i++) {
    if (text[i] == ' ') {
      memcpy(b + k, "\xe2\x96\x81", 3);
      k += 3;
    } else {
      b[k++] = text[i];
    }
  }
  if (blen == 0) return NULL;

  AZC_RETURN_IF_ERROR(azc_tok_work_reserve_syms(w, blen));
  size_t n = 0;
  for (size_t off = 0; off < blen; n++) {
    size_t l = utf8_symbol_len((const uint8_t *)b + off, blen - off);
    w->syms[n] = (azc_tok_symbol_t){(uint32_t)off, (uint32_t)l, (int32_t)n - 1, (int32_t)n + 1, -1};
    off += l;
  }
  w->syms[n - 1].next = -1;
  AZC_RETURN_IF_ERROR(azc_tok_merge(tok, w, n, spm_try_pair));
  for (int32_t i = 0; i != -1; i = w->syms[i].next) {
    const azc_tok_symbol_t *s = &w->syms[i];
    int32_t id =
        s->id >= 0 ? s->id : azc_strmap_find(&tok->text_map, tok->tokens, b + s->start, s->len);
    if (id >= 0) {
      AZC_RETURN_IF_ERROR(azc_idvec_push(out, id));
      continue;
    }
    for (uint32_t j = 0; j < s->len; j++) { /* byte fallback */
      uint8_t byte = (uint8_t)b[s->start + j];
      int32_t bt = tok->byte_token[byte] >= 0 ? tok->byte_token[byte] : tok->unk;
      if (bt < 0)
        return AZC_ERR(AZC_UNSUPPORTED,
                       "tokenizer: byte 0x%02X has no token and the vocabulary has no unknown "
                       "token",
                       byte);
      AZC_RETURN_IF_ERROR(azc_idvec_push(out, bt));
    }
  }
  return NULL;
}

/* ---- encode / decode ---- */

static azc_status_t encode(const azc_tokenizer_t *tok, const char *text, size_t len,
                           bool add_special, bool parse_special, azc_tok_work_t *w,
                           azc_tok_fragments_t *frags, azc_idvec_t *out) {
  AZC_RETURN_IF_ERROR(azc_tok_partition(tok, text, len, parse_special, frags));
  if (add_special && tok->add_bos) AZC_RETURN_IF_ERROR(azc_idvec_push(out, tok->bos));
  bool after_special = true; /* the start of the text counts as after a special token */
  for (size_t i = 0; i < frags->n; i++) {
    const azc_tok_fragment_t *f = &frags->f[i];
    if (f->token >= 0) {
      AZC_RETURN_IF_ERROR(azc_idvec_push(out, f->token));
      after_special = true;
    } else if (tok->kind == AZC_TOKENIZER_SPM) {
      AZC_RETURN_IF_ERROR(
          spm_encode(tok, w, text + f->start, f->len, tok->add_space_prefix && after_special, out));
      after_special = false;
    } else {
      AZC_RETURN_IF_ERROR(azc_tokenizer_bpe_encode(tok, w, text + f->start, f->len, out));
    }
  }
  if (add_special && tok->add_eos) AZC_RETURN_IF_ERROR(azc_idvec_push(out, tok->eos));
  return NULL;
}

azc_status_t azc_tokenizer_encode(const azc_tokenizer_t *tok, const char *text, size_t len,
                                  bool add_special, bool parse_special, int32_t **out_ids,
                                  size_t *out_n) {
  if (!out_ids || !out_n) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no output pointer");
  *out_ids = NULL;
  *out_n = 0;
  if (!tok || (!text && len))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: encode without a tokenizer or text");
  if (len > MAX_TEXT_BYTES)
    return AZC_ERR(AZC_OUT_OF_RANGE, "tokenizer: text of %zu bytes is longer than %zu", len,
                   MAX_TEXT_BYTES);
  azc_tok_work_t w = {0};
  azc_tok_fragments_t frags = {0};
  azc_idvec_t out = {0};
  azc_status_t st = azc_idvec_push(&out, 0); /* allocate, so that an empty result is not NULL */
  out.n = 0;
  if (!st) st = encode(tok, text, len, add_special, parse_special, &w, &frags, &out);
  azc_tok_work_free(&w);
  azc_tok_fragments_free(&frags);
  if (st) {
    free(out.ids);
    return st;
  }
  *out_ids = out.ids;
  *out_n = out.n;
  return NULL;
}

size_t azc_tokenizer_token_to_piece(const azc_tokenizer_t *tok, int32_t id, char *buf, size_t cap) {
  if (!tok || id < 0 || id >= tok->n_vocab) return 0;
  azc_strview_t p = tok->pieces[id];
  if (buf && cap && p.size) memcpy(buf, p.data, AZC_MIN(cap, p.size));
  return p.size;
}

azc_status_t azc_tokenizer_decode(const azc_tokenizer_t *tok, const int32_t *ids, size_t n,
                                  char **out, size_t *out_len) {
  if (!out) return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: no output pointer");
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!tok || (!ids && n))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tokenizer: decode without a tokenizer or ids");
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= tok->n_vocab)
      return AZC_ERR(AZC_INVALID_ARGUMENT,
                     "tokenizer: token %d at position %zu is outside the vocabulary of %d", ids[i],
                     i, tok->n_vocab);
    total += tok->pieces[ids[i]].size;
  }
  char *s = malloc(total + 1);
  if (!s) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %zu bytes", total);
  /* the space that encode put before the text is not part of it: it is the
   * first piece's leading space, after a BOS if the ids start with one */
  size_t strip_at = (n && tok->bos >= 0 && ids[0] == tok->bos) ? 1 : 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    azc_strview_t p = tok->pieces[ids[i]];
    if (i == strip_at && tok->add_space_prefix && p.size && p.data[0] == ' ') {
      p.data++;
      p.size--;
    }
    if (p.size) memcpy(s + k, p.data, p.size);
    k += p.size;
  }
  s[k] = 0;
  *out = s;
  if (out_len) *out_len = k;
  return NULL;
}

/* ---- accessors ---- */

int32_t azc_tokenizer_n_vocab(const azc_tokenizer_t *tok) { return tok ? tok->n_vocab : 0; }
int32_t azc_tokenizer_bos(const azc_tokenizer_t *tok) { return tok ? tok->bos : -1; }
int32_t azc_tokenizer_eos(const azc_tokenizer_t *tok) { return tok ? tok->eos : -1; }
int32_t azc_tokenizer_eot(const azc_tokenizer_t *tok) { return tok ? tok->eot : -1; }
bool azc_tokenizer_adds_bos(const azc_tokenizer_t *tok) { return tok && tok->add_bos; }
bool azc_tokenizer_adds_eos(const azc_tokenizer_t *tok) { return tok && tok->add_eos; }
int azc_tokenizer_token_type(const azc_tokenizer_t *tok, int32_t id) {
  return tok && id >= 0 && id < tok->n_vocab ? tok->types[id] : 0;
}
azc_tokenizer_kind_t azc_tokenizer_kind(const azc_tokenizer_t *tok) {
  return tok ? tok->kind : AZC_TOKENIZER_SPM;
}

bool azc_tokenizer_is_eog(const azc_tokenizer_t *tok, int32_t id) {
  return tok && id >= 0 && id < tok->n_vocab && (tok->attrs[id] & AZC_TOKEN_ATTR_EOG);
}

azc_strview_t azc_tokenizer_token_text(const azc_tokenizer_t *tok, int32_t id) {
  if (!tok || id < 0 || id >= tok->n_vocab) return (azc_strview_t){"", 0};
  return tok->tokens[id];
}
