/* Special tokens: which tokens they are, what they do, and cutting them out
 * of the text before BPE or SPM sees it, all as llama.cpp's vocabulary does
 * (src/llama-vocab.cpp of the llama.cpp snapshot).
 *
 * Derivation (only when the description does not carry resolved attributes,
 * i.e. when reading a GGUF file, not a bundle):
 *   - EOT, EOM and the six FIM ids that the metadata does not name are found
 *     by their texts; a token found so, or spelled like one of the
 *     end-of-generation texts, becomes CONTROL if it is not;
 *   - end of generation: EOS, EOT, EOM, FIM pad/repo/separator and every
 *     token spelled <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>,
 *     <|endoftext|>, <|eom_id|>, <EOT> or _<EOT>;
 *   - phi-3 (general.name contains "phi-3" or "phi3"): whitespace after every
 *     special token but <unk>, <s> and <|endoftext|> is dropped (rstrip), and
 *     after </s>; jina-v2 de/es/code: whitespace before <mask> (lstrip).
 *
 * Cutting: the special tokens are taken longest text first (ties: lower id
 * first); every occurrence of a token that lies wholly inside text not yet
 * cut becomes that token, left to right, and its lstrip/rstrip whitespace is
 * dropped. Control and unknown tokens take part only with parse_special;
 * user-defined tokens always. llama.cpp searches the text once per special
 * token; here one pass over the text with a trie of all the special texts
 * first finds which of them occur at all, and only those are searched for,
 * so the cost does not grow with the number of special tokens (a 256k Gemma
 * vocabulary has 6,400 of them) and memory stays linear in the text. */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer_internal.h"

/* ---- derivation ---- */

static const char *const eot_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "_<EOT>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
};
static const char *const eom_texts[] = {"<|eom_id|>"};
static const char *const fim_pre_texts[] = {"<|fim_prefix|>",
                                            "<fim-prefix>",
                                            "<fim_prefix>",
                                            "<\xef\xbd\x9c"
                                            "fim\xe2\x96\x81"
                                            "begin\xef\xbd\x9c>",
                                            "<PRE>",
                                            "\xe2\x96\x81<PRE>"};
static const char *const fim_suf_texts[] = {"<|fim_suffix|>",
                                            "<fim-suffix>",
                                            "<fim_suffix>",
                                            "<\xef\xbd\x9c"
                                            "fim\xe2\x96\x81"
                                            "hole\xef\xbd\x9c>",
                                            "<SUF>",
                                            "\xe2\x96\x81<SUF>"};
static const char *const fim_mid_texts[] = {"<|fim_middle|>",
                                            "<fim-middle>",
                                            "<fim_middle>",
                                            "<\xef\xbd\x9c"
                                            "fim\xe2\x96\x81"
                                            "end\xef\xbd\x9c>",
                                            "<MID>",
                                            "\xe2\x96\x81<MID>"};
static const char *const fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"};
static const char *const fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                            "<reponame>"};
static const char *const fim_sep_texts[] = {"<|file_sep|>"};
static const char *const eog_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>",   "_<EOT>"};

/* The tokens that could be spelled like a listed text: every text in the
 * lists (and <mask>, </s>, <unk>, <s>) starts with '<', '_' or "\u2581<". */
typedef struct {
  const azc_tokenizer_t *tok;
  int32_t *ids;
  int32_t n;
} candidates_t;

static bool may_be_listed(azc_strview_t t) {
  if (t.size < 3) return false;
  if (t.data[0] == '<' || t.data[0] == '_') return true;
  return t.size >= 4 && !memcmp(t.data, "\xe2\x96\x81<", 4);
}

/* The token spelled `text`: the last one, as in llama.cpp's text -> id map. */
static int32_t find_text(const candidates_t *c, const char *text) {
  for (int32_t k = c->n - 1; k >= 0; k--)
    if (azc_strview_eq(c->tok->tokens[c->ids[k]], text)) return c->ids[k];
  return -1;
}

static void make_control(azc_tokenizer_t *tok, int32_t id) {
  if (tok->types[id] != AZC_TOKEN_CONTROL) tok->types[id] = AZC_TOKEN_CONTROL;
}

/* When *id names no token yet: the token spelled like the first text of the
 * list that one is spelled like (llama.cpp takes whichever its hash map
 * yields first; the list order picks <|end|> for phi-3 as it does). */
static void find_by_text(azc_tokenizer_t *tok, const candidates_t *c, int32_t *id,
                         const char *const *list, size_t n) {
  if (*id >= 0) return;
  for (size_t k = 0; k < n; k++) {
    int32_t found = find_text(c, list[k]);
    if (found >= 0) {
      *id = found;
      make_control(tok, found);
      return;
    }
  }
}

static bool is_special_type(int t) {
  return t == AZC_TOKEN_CONTROL || t == AZC_TOKEN_USER_DEFINED || t == AZC_TOKEN_UNKNOWN;
}

/* s contains needle, comparing s in ASCII lowercase (needle is lowercase) */
static bool contains_lower(azc_strview_t s, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= s.size; i++) {
    size_t k = 0;
    while (k < n) {
      char ch = s.data[i + k];
      if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
      if (ch != needle[k]) break;
      k++;
    }
    if (k == n) return true;
  }
  return false;
}

static azc_status_t derive(azc_tokenizer_t *tok) {
  candidates_t c = {tok, malloc((size_t)tok->n_vocab * sizeof(int32_t)), 0};
  if (!c.ids) return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  for (int32_t i = 0; i < tok->n_vocab; i++)
    if (may_be_listed(tok->tokens[i])) c.ids[c.n++] = i;
#define FIND(id, list) find_by_text(tok, &c, &tok->id, list, AZC_ARRAY_SIZE(list))
  FIND(eot, eot_texts);
  FIND(eom, eom_texts);
  FIND(fim_pre, fim_pre_texts);
  FIND(fim_suf, fim_suf_texts);
  FIND(fim_mid, fim_mid_texts);
  FIND(fim_pad, fim_pad_texts);
  FIND(fim_rep, fim_rep_texts);
  FIND(fim_sep, fim_sep_texts);
#undef FIND
  const int32_t eog_ids[] = {tok->fim_pad, tok->fim_rep, tok->fim_sep,
                             tok->eos,     tok->eot,     tok->eom};
  for (size_t k = 0; k < AZC_ARRAY_SIZE(eog_ids); k++)
    if (eog_ids[k] >= 0) tok->attrs[eog_ids[k]] |= AZC_TOKEN_ATTR_EOG;
  for (size_t k = 0; k < AZC_ARRAY_SIZE(eog_texts); k++) {
    int32_t id = find_text(&c, eog_texts[k]);
    if (id < 0) continue;
    tok->attrs[id] |= AZC_TOKEN_ATTR_EOG;
    make_control(tok, id);
  }
  if (contains_lower(tok->pre, "jina-v2-de") || contains_lower(tok->pre, "jina-v2-es") ||
      contains_lower(tok->pre, "jina-v2-code")) {
    int32_t mask = find_text(&c, "<mask>");
    if (mask >= 0) tok->attrs[mask] |= AZC_TOKEN_ATTR_LSTRIP;
  } else if (contains_lower(tok->model_name, "phi-3") || contains_lower(tok->model_name, "phi3")) {
    for (int32_t i = 0; i < tok->n_vocab; i++)
      if (is_special_type(tok->types[i])) tok->attrs[i] |= AZC_TOKEN_ATTR_RSTRIP;
    int32_t eos = find_text(&c, "</s>");
    if (eos >= 0) tok->attrs[eos] |= AZC_TOKEN_ATTR_RSTRIP;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t k = 0; k < AZC_ARRAY_SIZE(keep); k++) {
      int32_t id = find_text(&c, keep[k]);
      if (id >= 0) tok->attrs[id] &= (uint8_t)~AZC_TOKEN_ATTR_RSTRIP;
    }
  }
  free(c.ids);
  return NULL;
}

/* ---- the special token list and its trie ---- */

typedef struct {
  size_t len;
  int32_t id;
} special_t;

static int special_cmp(const void *a, const void *b) {
  const special_t *x = a, *y = b;
  if (x->len != y->len) return x->len > y->len ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static azc_status_t oom(void) {
  return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for the special tokens");
}

static int32_t trie_child(const azc_tokenizer_t *tok, int32_t node, uint8_t byte) {
  if (node == 0) return tok->trie_root[byte];
  for (int32_t c = tok->trie[node].child; c >= 0; c = tok->trie[c].sibling)
    if (tok->trie[c].byte == byte) return c;
  return -1;
}

static azc_status_t trie_insert(azc_tokenizer_t *tok, int32_t *cap, azc_strview_t text,
                                int32_t rank, bool user) {
  int32_t node = 0;
  for (size_t i = 0; i < text.size; i++) {
    uint8_t b = (uint8_t)text.data[i];
    int32_t c = tok->trie[node].child; /* the root table is filled in at the end */
    while (c >= 0 && tok->trie[c].byte != b) c = tok->trie[c].sibling;
    if (c < 0) {
      if (tok->n_trie == *cap) {
        if (*cap > INT32_MAX / 2) return oom();
        azc_tok_trie_node_t *t = realloc(tok->trie, (size_t)*cap * 2 * sizeof(*t));
        if (!t) return oom();
        tok->trie = t;
        *cap *= 2;
      }
      c = tok->n_trie++;
      tok->trie[c] = (azc_tok_trie_node_t){-1, tok->trie[node].child, -1, -1, b};
      tok->trie[node].child = c;
    }
    node = c;
  }
  if (tok->trie[node].rank_any < 0) tok->trie[node].rank_any = rank;
  if (user && tok->trie[node].rank_user < 0) tok->trie[node].rank_user = rank;
  return NULL;
}

azc_status_t azc_tok_specials_build(azc_tokenizer_t *tok, bool derive_attrs) {
  if (derive_attrs) AZC_RETURN_IF_ERROR(derive(tok));
  special_t *s = malloc((size_t)tok->n_vocab * sizeof(*s));
  if (!s) return oom();
  int32_t n = 0;
  for (int32_t i = 0; i < tok->n_vocab; i++)
    if (is_special_type(tok->types[i]) && tok->tokens[i].size > 0)
      s[n++] = (special_t){tok->tokens[i].size, i};
  qsort(s, (size_t)n, sizeof(*s), special_cmp);
  tok->specials = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
  int32_t cap = 64;
  tok->trie = malloc((size_t)cap * sizeof(*tok->trie));
  if (!tok->specials || !tok->trie) {
    free(s);
    return oom();
  }
  tok->trie[0] = (azc_tok_trie_node_t){-1, -1, -1, -1, 0};
  tok->n_trie = 1;
  azc_status_t st = NULL;
  tok->n_user_specials = 0;
  for (int32_t i = 0; i < n && !st; i++) {
    bool user = tok->types[s[i].id] == AZC_TOKEN_USER_DEFINED;
    tok->specials[i] = s[i].id;
    tok->n_user_specials += user;
    st = trie_insert(tok, &cap, tok->tokens[s[i].id], i, user);
  }
  tok->n_specials = n;
  free(s);
  for (int b = 0; b < 256; b++) tok->trie_root[b] = -1;
  for (int32_t c = tok->trie[0].child; c >= 0; c = tok->trie[c].sibling)
    tok->trie_root[tok->trie[c].byte] = c;
  return st;
}

/* ---- cutting the text ---- */

azc_status_t azc_tok_fragments_push(azc_tok_fragments_t *v, size_t start, size_t len,
                                    int32_t token) {
  if (!azc_tok_grow((void **)&v->f, &v->cap, v->n + 1, sizeof(azc_tok_fragment_t)))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  v->f[v->n++] = (azc_tok_fragment_t){start, len, token};
  return NULL;
}

void azc_tok_fragments_free(azc_tok_fragments_t *v) {
  free(v->f);
  free(v->occ);
  free(v->state);
  free(v->seen);
  memset(v, 0, sizeof(*v));
}

static bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int occ_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

enum { FREE = 0, TAKEN = 1, DROPPED = 2 };

azc_status_t azc_tok_partition(const azc_tokenizer_t *tok, const char *text, size_t len,
                               bool parse_special, azc_tok_fragments_t *v) {
  v->n = 0;
  v->n_occ = 0;
  if (!len) return NULL;
  /* which eligible special texts occur at all (one trie walk from each byte) */
  const uint8_t *u = (const uint8_t *)text;
  bool any = parse_special ? tok->n_specials > 0 : tok->n_user_specials > 0;
  if (any && !azc_tok_grow((void **)&v->seen, &v->cap_seen, (size_t)tok->n_specials, 1))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
  if (any) memset(v->seen, 0, (size_t)tok->n_specials);
  int32_t first = INT32_MAX, last = -1;
  for (size_t i = 0; i < len && any; i++) {
    int32_t node = trie_child(tok, 0, u[i]);
    for (size_t j = i; node >= 0;) {
      int32_t r = parse_special ? tok->trie[node].rank_any : tok->trie[node].rank_user;
      if (r >= 0) {
        v->seen[r] = 1;
        first = r < first ? r : first;
        last = r > last ? r : last;
      }
      if (++j >= len) break;
      node = trie_child(tok, node, u[j]);
    }
  }
  if (last < 0) return azc_tok_fragments_push(v, 0, len, -1);

  /* take them longest token first; each one's occurrences left to right, where
   * the text is still free (not taken by a longer token nor stripped) */
  if (!azc_tok_grow((void **)&v->state, &v->cap_state, len, 1))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory for %zu bytes", len);
  memset(v->state, FREE, len);
  uint8_t *state = v->state;
  for (int32_t r = first; r <= last; r++) {
    if (!v->seen[r]) continue;
    int32_t id = tok->specials[r];
    azc_strview_t t = tok->tokens[id];
    for (size_t s = 0; s + t.size <= len;) {
      const char *m = memmem(text + s, len - s, t.data, t.size);
      if (!m) break;
      size_t at = (size_t)(m - text), busy = at + t.size;
      while (busy > at && state[busy - 1] == FREE) busy--;
      if (busy > at) { /* not free: no occurrence can start before the last busy byte */
        s = busy;
        continue;
      }
      if (!azc_tok_grow((void **)&v->occ, &v->cap_occ, v->n_occ + 1, sizeof(uint64_t)))
        return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory");
      v->occ[v->n_occ++] = ((uint64_t)at << 32) | (uint32_t)id;
      memset(state + at, TAKEN, t.size);
      if (tok->attrs[id] & AZC_TOKEN_ATTR_LSTRIP)
        for (size_t i = at; i > 0 && state[i - 1] == FREE && c_isspace(text[i - 1]); i--)
          state[i - 1] = DROPPED;
      if (tok->attrs[id] & AZC_TOKEN_ATTR_RSTRIP)
        for (size_t i = at + t.size; i < len && state[i] == FREE && c_isspace(text[i]); i++)
          state[i] = DROPPED;
      s = at + t.size;
    }
  }
  size_t n_taken = v->n_occ;
  qsort(v->occ, n_taken, sizeof(uint64_t), occ_cmp); /* by start */

  /* fragments in text order: the free runs between the tokens taken */
  size_t pos = 0;
  for (size_t k = 0; k <= n_taken; k++) {
    size_t stop = k < n_taken ? (size_t)(v->occ[k] >> 32) : len;
    while (pos < stop) {
      while (pos < stop && state[pos] == DROPPED) pos++;
      size_t a = pos;
      while (pos < stop && state[pos] == FREE) pos++;
      if (pos > a) AZC_RETURN_IF_ERROR(azc_tok_fragments_push(v, a, pos - a, -1));
    }
    if (k == n_taken) break;
    int32_t id = (int32_t)(uint32_t)v->occ[k];
    AZC_RETURN_IF_ERROR(azc_tok_fragments_push(v, stop, tok->tokens[id].size, id));
    pos = stop + tok->tokens[id].size;
  }
  return NULL;
}
