/* Byte-level BPE (GGUF tokenizer.ggml.model "gpt2").
 *
 * Token texts are written in GPT-2's byte alphabet: the 188 printable bytes
 * stand for themselves and the other 68 bytes for U+0100..U+0143 in order.
 * Instead of encoding the input into that alphabet, the tables are decoded
 * into plain bytes once at creation: a "piece" is a byte string (a token's
 * bytes, or the result of a merge that is not itself a token), the piece table
 * maps bytes to pieces, and the merge table maps a pair of pieces to the rank
 * (its index in tokenizer.ggml.merges) and the merged piece.
 *
 * Encoding cuts the text into words with the model's pre-tokenizer
 * (tokenizer_pre.c); a word that is a token is that token when the vocabulary
 * ignores merges (llama3's ignore_merges); otherwise each word starts as one
 * symbol per byte and the lowest-ranked adjacent pair is merged (leftmost on
 * ties) until no pair has a merge. A final piece that is not a token is
 * written as llama.cpp writes it: for each byte of its GPT-2 spelling, the
 * token whose text is that one byte, where there is one. */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer_internal.h"

/* ---- the GPT-2 byte alphabet ---- */

uint32_t azc_gpt2_byte_to_cpt(uint8_t b) {
  if (azc_gpt2_byte_is_printable(b)) return b;
  if (b <= 0x20) return 0x100 + b;                            /* 33 control bytes and space */
  if (b >= 0x7F && b <= 0xA0) return 0x100 + 33 + (b - 0x7F); /* 34 more */
  return 0x100 + 67;                                          /* 0xAD, the soft hyphen */
}

bool azc_gpt2_decode_text(const char *s, size_t n, char *out, size_t *out_n) {
  const uint8_t *u = (const uint8_t *)s;
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    if (u[i] < 0x80) {
      cp = u[i++];
    } else if ((u[i] & 0xE0) == 0xC0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
      cp = ((uint32_t)(u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
      i += 2;
    } else {
      return false; /* the alphabet ends at U+0143: two bytes at most */
    }
    int b = azc_gpt2_cpt_to_byte(cp);
    if (b < 0) return false;
    out[k++] = (char)b;
  }
  *out_n = k;
  return true;
}

/* ---- tables ---- */

static azc_status_t oom(void) {
  return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory building the BPE tables");
}

/* The piece for bytes s[0..n), added (token -1) when new. s may be scratch. */
static azc_status_t piece_get(azc_tokenizer_t *tok, const char *s, size_t n, int32_t *out) {
  int32_t p = azc_strmap_find(&tok->bpe_piece_map, tok->bpe_pieces, s, n);
  if (p >= 0) {
    *out = p;
    return NULL;
  }
  if (tok->n_bpe_pieces == tok->cap_bpe_pieces) {
    if (tok->cap_bpe_pieces > INT32_MAX / 2) return oom();
    int32_t cap = tok->cap_bpe_pieces * 2;
    azc_strview_t *pieces = realloc(tok->bpe_pieces, (size_t)cap * sizeof(*pieces));
    if (!pieces) return oom();
    tok->bpe_pieces = pieces;
    int32_t *tokens = realloc(tok->bpe_piece_token, (size_t)cap * sizeof(*tokens));
    if (!tokens) return oom();
    tok->bpe_piece_token = tokens;
    tok->cap_bpe_pieces = cap;
  }
  char *copy = azc_arena_strndup(&tok->arena, s, n);
  if (!copy) return oom();
  p = tok->n_bpe_pieces++;
  tok->bpe_pieces[p] = (azc_strview_t){copy, n};
  tok->bpe_piece_token[p] = -1;
  if (!azc_strmap_put(&tok->bpe_piece_map, tok->bpe_pieces, p)) return oom();
  *out = p;
  return NULL;
}

static uint32_t pair_hash(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return (uint32_t)(key >> 32);
}

static const azc_pairmap_slot_t *pair_find(const azc_pairmap_t *m, int32_t left, int32_t right) {
  uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
  for (uint32_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
    const azc_pairmap_slot_t *s = &m->slots[i];
    if (s->key == key) return s;
    if (s->key == UINT64_MAX) return NULL;
  }
}

/* Adds the merge unless the pair has one already: the first (lowest) rank wins. */
static void pair_put(azc_pairmap_t *m, int32_t left, int32_t right, int32_t rank, int32_t result) {
  uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
  for (uint32_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
    azc_pairmap_slot_t *s = &m->slots[i];
    if (s->key == key) return;
    if (s->key == UINT64_MAX) {
      *s = (azc_pairmap_slot_t){key, rank, result};
      m->count++;
      return;
    }
  }
}

azc_status_t azc_tokenizer_bpe_init(azc_tokenizer_t *tok) {
  int32_t n = tok->n_vocab;
  int32_t cap = n + 256 + 64;
  tok->bpe_pieces = malloc((size_t)cap * sizeof(azc_strview_t));
  tok->bpe_piece_token = malloc((size_t)cap * sizeof(int32_t));
  if (!tok->bpe_pieces || !tok->bpe_piece_token) return oom();
  tok->cap_bpe_pieces = cap;
  uint64_t expect_pieces = (uint64_t)n + 256 + (uint64_t)tok->n_merges / 8;
  if (!azc_strmap_init(&tok->bpe_piece_map, (uint32_t)AZC_MIN(expect_pieces, 1u << 30)))
    return oom();

  /* token i is piece i; its bytes are the decoded text (a text outside the
   * alphabet is never produced by merging bytes, so it stays out of the map) */
  size_t total = 0;
  for (int32_t i = 0; i < n; i++) total += tok->tokens[i].size;
  char *buf = azc_arena_alloc(&tok->arena, total + 1, 1);
  if (!buf) return oom();
  for (int32_t i = 0; i < n; i++) {
    size_t len = 0;
    bool ok = azc_gpt2_decode_text(tok->tokens[i].data, tok->tokens[i].size, buf, &len);
    tok->bpe_pieces[i] = (azc_strview_t){buf, ok ? len : 0};
    tok->bpe_piece_token[i] = i;
    tok->n_bpe_pieces = i + 1;
    if (ok && len) {
      if (!azc_strmap_put(&tok->bpe_piece_map, tok->bpe_pieces, i)) return oom();
      buf += len;
    }
  }
  for (int b = 0; b < 256; b++) {
    char c = (char)b;
    AZC_RETURN_IF_ERROR(piece_get(tok, &c, 1, &tok->bpe_byte_piece[b]));
    tok->bpe_char_token[b] = -1;
  }
  for (int32_t i = 0; i < n; i++) /* the later token wins, as in llama.cpp's text map */
    if (tok->tokens[i].size == 1) tok->bpe_char_token[(uint8_t)tok->tokens[i].data[0]] = i;

  uint32_t slots = 16;
  while (slots < (uint64_t)tok->n_merges * 2 && slots < (1u << 30)) slots <<= 1;
  tok->bpe_merge_map.slots = malloc((size_t)slots * sizeof(azc_pairmap_slot_t));
  if (!tok->bpe_merge_map.slots) return oom();
  memset(tok->bpe_merge_map.slots, 0xff, (size_t)slots * sizeof(azc_pairmap_slot_t));
  tok->bpe_merge_map.mask = slots - 1;
  size_t scratch_cap = 256;
  char *scratch = malloc(scratch_cap);
  if (!scratch) return oom();
  azc_status_t st = NULL;
  for (int32_t r = 0; r < tok->n_merges && !st; r++) {
    azc_strview_t m = tok->merges[r];
    const char *sp = m.size > 1 ? memchr(m.data + 1, ' ', m.size - 1) : NULL;
    if (!sp) {
      st = AZC_ERR(AZC_CORRUPT, "tokenizer: merge %d '%.*s' is not \"left right\"", r,
                   (int)AZC_MIN(m.size, 64), m.data);
      break;
    }
    size_t nl = (size_t)(sp - m.data), nr = m.size - nl - 1;
    if (m.size > scratch_cap) {
      char *bigger = realloc(scratch, m.size * 2);
      if (!bigger) {
        st = oom();
        break;
      }
      scratch = bigger;
      scratch_cap = m.size * 2;
    }
    /* scratch: left bytes, then right bytes, contiguous, so that their
     * concatenation is scratch[0 .. dl + dr) */
    size_t dl, dr;
    if (!azc_gpt2_decode_text(m.data, nl, scratch, &dl) ||
        !azc_gpt2_decode_text(sp + 1, nr, scratch + dl, &dr) || !dl || !dr)
      continue; /* a merge outside the alphabet can never apply */
    int32_t left, right, result;
    st = piece_get(tok, scratch, dl, &left);
    if (!st) st = piece_get(tok, scratch + dl, dr, &right);
    if (!st) st = piece_get(tok, scratch, dl + dr, &result);
    if (!st) pair_put(&tok->bpe_merge_map, left, right, r, result);
  }
  free(scratch);
  return st;
}

void azc_tokenizer_bpe_free(azc_tokenizer_t *tok) {
  free(tok->bpe_pieces);
  free(tok->bpe_piece_token);
  azc_strmap_free(&tok->bpe_piece_map);
  free(tok->bpe_merge_map.slots);
  tok->bpe_pieces = NULL;
  tok->bpe_piece_token = NULL;
  tok->bpe_merge_map.slots = NULL;
}

/* ---- merging one word ---- */

static azc_status_t try_pair(const azc_tokenizer_t *tok, azc_tok_work_t *w, int32_t left,
                             int32_t right) {
  if (left < 0 || right < 0) return NULL;
  const azc_tok_symbol_t *l = &w->syms[left], *r = &w->syms[right];
  const azc_pairmap_slot_t *m = pair_find(&tok->bpe_merge_map, l->id, r->id);
  if (!m) return NULL;
  azc_tok_bigram_t b = {((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)left, left, right,
                        m->result, l->len + r->len};
  return azc_tok_heap_push(w, &b);
}

static azc_status_t emit_piece(const azc_tokenizer_t *tok, const char *s, size_t n, int32_t piece,
                               azc_idvec_t *out) {
  int32_t t = tok->bpe_piece_token[piece];
  if (t >= 0) return azc_idvec_push(out, t);
  /* not a token: llama.cpp looks up each byte of the piece's GPT-2 spelling
   * as a one-byte token text and drops the bytes that are none */
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = azc_gpt2_byte_to_cpt((uint8_t)s[i]);
    uint8_t spelled[2] = {(uint8_t)cp, 0};
    size_t k = 1;
    if (cp >= 0x80) {
      spelled[0] = (uint8_t)(0xC0 | (cp >> 6));
      spelled[1] = (uint8_t)(0x80 | (cp & 0x3F));
      k = 2;
    }
    for (size_t j = 0; j < k; j++) {
      t = tok->bpe_char_token[spelled[j]];
      if (t >= 0) AZC_RETURN_IF_ERROR(azc_idvec_push(out, t));
    }
  }
  return NULL;
}

static azc_status_t bpe_word(const azc_tokenizer_t *tok, azc_tok_work_t *w, const char *s, size_t n,
                             azc_idvec_t *out) {
  if (n == 1) return emit_piece(tok, s, 1, tok->bpe_byte_piece[(uint8_t)s[0]], out);
  if (tok->ignore_merges) { /* a word that is a token stays whole */
    int32_t p = azc_strmap_find(&tok->bpe_piece_map, tok->bpe_pieces, s, n);
    if (p >= 0 && tok->bpe_piece_token[p] >= 0) return azc_idvec_push(out, tok->bpe_piece_token[p]);
  }
  AZC_RETURN_IF_ERROR(azc_tok_work_reserve_syms(w, n));
  for (size_t i = 0; i < n; i++)
    w->syms[i] = (azc_tok_symbol_t){(uint32_t)i, 1, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1,
                                    tok->bpe_byte_piece[(uint8_t)s[i]]};
  AZC_RETURN_IF_ERROR(azc_tok_merge(tok, w, n, try_pair));
  for (int32_t i = 0; i != -1; i = w->syms[i].next) {
    const azc_tok_symbol_t *sym = &w->syms[i];
    AZC_RETURN_IF_ERROR(emit_piece(tok, s + sym->start, sym->len, sym->id, out));
  }
  return NULL;
}

/* ---- encoding ---- */

typedef struct {
  const azc_tokenizer_t *tok;
  azc_tok_work_t *w;
  azc_idvec_t *out;
} word_ctx_t;

static azc_status_t encode_word(void *p, const char *s, size_t n) {
  word_ctx_t *c = p;
  return bpe_word(c->tok, c->w, s, n, c->out);
}

azc_status_t azc_tokenizer_bpe_encode(const azc_tokenizer_t *tok, azc_tok_work_t *w,
                                      const char *text, size_t len, azc_idvec_t *out) {
  word_ctx_t c = {tok, w, out};
  return azc_pre_split(tok->pre_kind, w, text, len, encode_word, &c);
}
