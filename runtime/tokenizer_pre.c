/* BPE pre-tokenizers: cutting text into the words that byte-level BPE merges
 * within, chosen from GGUF's tokenizer.ggml.pre the way llama.cpp chooses them
 * (src/llama-vocab.cpp and src/unicode.cpp of the llama.cpp snapshot), with
 * the same results.
 *
 * llama.cpp runs a list of regexes, each over every chunk the previous ones
 * left: a regex's matches and the unmatched gaps between them all become
 * chunks, so each regex refines the cut and none sees across a chunk's edge.
 * Two regexes have hand-written matchers there (GPT-2's and Llama 3's); the
 * rest go through std::regex, with \p{..} classes rewritten over a text in
 * which every code point beyond ASCII is collapsed to one byte for its class.
 * azc writes each regex of the supported families out by hand instead (no
 * regex engine): a step is one of a few matcher shapes with a character set,
 * and a pre-tokenizer is a list of steps (`pre_table`). The std::regex
 * semantics that matter are kept: leftmost match, alternatives in order,
 * greedy quantifiers with backtracking, and the classes as std::regex sees
 * them (where \p{P} is only ASCII's listed punctuation plus collapsed
 * non-ASCII punctuation, and \s is White_Space, the code points beyond ASCII
 * being rewritten to \v first).
 *
 * Text is decoded into code points first; a byte that does not start a
 * well-formed sequence is one code point of its own, classed as llama.cpp
 * classes its U+FFFD replacement, and keeps its byte (see tokenizer.c). */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer_internal.h"

/* ---- the pre-tokenizers llama.cpp knows, by name ---- */

typedef struct {
  const char *name;
  int kind;           /* azc_pre_kind_t, or -1: known to llama.cpp, not implemented here */
  bool ignore_merges; /* a word that is a token is not merged (llama3, tekken) */
  int8_t add_bos;     /* the add_bos default for this pre-tokenizer */
  bool no_bos;        /* BOS id defaults to none (glm4) */
} pre_name_t;

static const pre_name_t pre_names[] = {
    {"default", AZC_PRE_DEFAULT, false, 0, false},
    {"llama3", AZC_PRE_LLAMA3, true, 1, false},
    {"llama-v3", AZC_PRE_LLAMA3, true, 1, false},
    {"llama-bpe", AZC_PRE_LLAMA3, true, 1, false},
    {"falcon3", AZC_PRE_LLAMA3, true, 1, false},
    {"pixtral", AZC_PRE_LLAMA3, true, 1, false},
    {"deepseek-llm", AZC_PRE_DEEPSEEK_LLM, false, 0, false},
    {"deepseek-coder", AZC_PRE_DEEPSEEK_CODER, false, 0, false},
    {"deepseek-v3", -1, false, 0, false},
    {"falcon", AZC_PRE_FALCON, false, 0, false},
    {"mpt", AZC_PRE_GPT2, false, 0, false},
    {"starcoder", AZC_PRE_STARCODER, false, 0, false},
    {"gpt-2", AZC_PRE_GPT2, false, 0, false},
    {"phi-2", AZC_PRE_GPT2, false, 0, false},
    {"jina-es", AZC_PRE_GPT2, false, 0, false},
    {"jina-de", AZC_PRE_GPT2, false, 0, false},
    {"gigachat", AZC_PRE_GPT2, false, 0, false},
    {"jina-v1-en", AZC_PRE_GPT2, false, 0, false},
    {"jina-v2-es", AZC_PRE_GPT2, false, 0, false},
    {"jina-v2-de", AZC_PRE_GPT2, false, 0, false},
    {"jina-v2-code", AZC_PRE_GPT2, false, 0, false},
    {"roberta-bpe", AZC_PRE_GPT2, false, 0, false},
    {"refact", AZC_PRE_STARCODER, false, 0, false},
    {"command-r", AZC_PRE_STARCODER, false, 0, false},
    {"qwen2", AZC_PRE_QWEN2, false, 0, false},
    {"deepseek-r1-qwen", AZC_PRE_QWEN2, false, 0, false},
    {"stablelm2", AZC_PRE_QWEN2, false, 0, false},
    {"olmo", AZC_PRE_GPT2, false, 0, false},
    {"dbrx", AZC_PRE_LLAMA3, false, 0, false},
    {"smaug-bpe", AZC_PRE_LLAMA3, false, 0, false},
    {"poro-chat", AZC_PRE_PORO, false, 0, false},
    {"glm4", AZC_PRE_LLAMA3, false, 0, true},
    {"chatglm-bpe", AZC_PRE_LLAMA3, false, 0, true},
    {"viking", AZC_PRE_VIKING, false, 0, false},
    {"jais", AZC_PRE_GPT2, false, 0, false},
    {"tekken", -1, true, 1, false},
    {"smollm", AZC_PRE_STARCODER, false, 0, false},
    {"codeshell", AZC_PRE_STARCODER, false, 0, false},
    {"bloom", AZC_PRE_PORO, false, 0, false},
    {"gpt3-finnish", AZC_PRE_PORO, false, 0, false},
    {"exaone", AZC_PRE_STARCODER, false, 0, false},
    {"chameleon", -1, false, 1, false},
    {"minerva-7b", AZC_PRE_STARCODER, false, 0, false},
    {"megrez", AZC_PRE_QWEN2, false, 0, false},
    {"gpt-4o", -1, false, 0, false},
    {"llama4", -1, false, 0, false},
    {"superbpe", -1, false, 0, false},
    {"trillion", AZC_PRE_GPT2, false, 0, false},
    {"bailingmoe", -1, false, 0, false},
    {"seed-coder", -1, false, 0, false},
};

const char *azc_pre_supported_names(void) {
  return "llama3/llama-bpe, qwen2, deepseek-r1-qwen, smollm, starcoder, refact, gpt-2, mpt, "
         "falcon, deepseek-llm, deepseek-coder, default and their aliases";
}

azc_status_t azc_pre_resolve(azc_strview_t name, azc_pre_info_t *out) {
  *out = (azc_pre_info_t){AZC_PRE_DEFAULT, false, 0, false};
  if (name.size == 0) return NULL; /* llama.cpp: missing pre-tokenizer, use "default" */
  for (size_t i = 0; i < AZC_ARRAY_SIZE(pre_names); i++) {
    const pre_name_t *p = &pre_names[i];
    if (!azc_strview_eq(name, p->name)) continue;
    if (p->kind < 0)
      return AZC_ERR(AZC_UNSUPPORTED,
                     "tokenizer: pre-tokenizer type '%s' is known to llama.cpp but not "
                     "implemented by azc (azc implements %s)",
                     p->name, azc_pre_supported_names());
    *out = (azc_pre_info_t){(azc_pre_kind_t)p->kind, p->ignore_merges, p->add_bos, p->no_bos};
    return NULL;
  }
  return AZC_ERR(AZC_UNSUPPORTED, "tokenizer: unknown pre-tokenizer type: '%.*s'",
                 (int)AZC_MIN(name.size, 64), name.data);
}

/* ---- character sets, as the regexes see code points ---- */

typedef enum {
  SET_CRLF,            /* [\r\n] */
  SET_ASCII_DIGIT,     /* [0-9] */
  SET_NUMBER,          /* \p{N} (collapsed: ASCII 0-9 and non-ASCII numbers) */
  SET_LETTER,          /* \p{L} (collapsed: ASCII A-Za-z and non-ASCII letters) */
  SET_PUNCT,           /* \p{P} (collapsed: llama.cpp's ASCII list, non-ASCII punctuation) */
  SET_FALCON_PUNCT,    /* [\p{P}\$\+<=>\^~\|`] */
  SET_DEFAULT_PUNCT,   /* [\p{P}\$\+<=>\^~\|] */
  SET_CJK,             /* [一-龥ࠀ-一가-퟿] */
  SET_DEEPSEEK_LETTER, /* deepseek-llm's explicit letter ranges */
  SET_DEEPSEEK_PUNCT,  /* [!-/:-~！-／：-～‘-‟　-。] */
  SET_PORO,            /* [^(\s|.,!?…。，、।۔،)] */
} set_t;

typedef struct {
  uint32_t lo, hi;
} range_t;

/* the letter class of llama.cpp's deepseek-llm regex, written out */
static const range_t deepseek_letters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static const range_t deepseek_punct[] = {
    {0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
    {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

static bool in_ranges(const range_t *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].lo)
      hi = mid;
    else if (cp > r[mid].hi)
      lo = mid + 1;
    else
      return true;
  }
  return false;
}

static inline bool is_ws(uint8_t f) { return (f & AZC_UNICODE_WHITESPACE) != 0; }
static inline int cat(uint8_t f) { return f & AZC_UNICODE_CAT_MASK; }

/* Whether the code point (with its flags) is in the set. std::regex sees a
 * non-ASCII White_Space code point as \v (not in any set but \s), and, where
 * the regex uses \p{..}, any other one as a byte standing for its category. */
static bool in_set(set_t s, uint32_t cp, uint8_t f) {
  if (cp >= 0x80 && is_ws(f)) return false;
  switch (s) {
  case SET_CRLF: return cp == '\r' || cp == '\n';
  case SET_ASCII_DIGIT: return cp >= '0' && cp <= '9';
  case SET_NUMBER: return cp < 0x80 ? (cp >= '0' && cp <= '9') : cat(f) == AZC_UCAT_NUMBER;
  case SET_LETTER:
    return cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') : cat(f) == AZC_UCAT_LETTER;
  case SET_PUNCT:
    return cp < 0x80 ? (cp && strchr("!\"#%&'()*,-./:;?@[\\]_{}", (int)cp) != NULL)
                     : cat(f) == AZC_UCAT_PUNCTUATION;
  case SET_FALCON_PUNCT:
  case SET_DEFAULT_PUNCT:
    if (cp >= 0x80) return cat(f) == AZC_UCAT_PUNCTUATION;
    if (s == SET_DEFAULT_PUNCT && cp == '`') return false;
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E); /* all of ASCII's punctuation and symbols */
  case SET_CJK: return (cp >= 0x800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF);
  case SET_DEEPSEEK_LETTER:
    return in_ranges(deepseek_letters, AZC_ARRAY_SIZE(deepseek_letters), cp);
  case SET_DEEPSEEK_PUNCT: return in_ranges(deepseek_punct, AZC_ARRAY_SIZE(deepseek_punct), cp);
  case SET_PORO:
    if (cp < 0x80) return !is_ws(f) && !strchr("(|.,!?)", (int)cp);
    return cp != 0x2026 && cp != 0x3002 && cp != 0xFF0C && cp != 0x3001 && cp != 0x0964 &&
           cp != 0x06D4 && cp != 0x060C;
  }
  return false;
}

/* ---- steps: one regex each ---- */

typedef enum {
  STEP_NONE = 0,
  STEP_GPT2,       /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
  STEP_LLAMA3,     /* (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|
                      \s*[\r\n]+|\s+(?!\S)|\s+   (n = arg) */
  STEP_RUN,        /* [set]{arg_min, arg} (arg 0: unbounded) */
  STEP_OPT_WS_RUN, /* \s?[set]+ */
  STEP_OPT_SP_RUN, /*  ?[set]+ */
  STEP_TRAILING_WS /* \s+$ */
} step_kind_t;

typedef struct {
  step_kind_t kind;
  set_t set;
  uint32_t min, max;
} step_t;

#define MAX_STEPS 6
static const step_t pre_table[][MAX_STEPS] = {
    [AZC_PRE_DEFAULT] = {{STEP_RUN, SET_DEFAULT_PUNCT, 1, 0},
                         {STEP_GPT2, 0, 0, 0},
                         {STEP_RUN, SET_NUMBER, 1, 0},
                         {STEP_RUN, SET_ASCII_DIGIT, 3, 3}},
    [AZC_PRE_GPT2] = {{STEP_GPT2, 0, 0, 0}},
    [AZC_PRE_LLAMA3] = {{STEP_LLAMA3, 0, 0, 3}},
    [AZC_PRE_QWEN2] = {{STEP_LLAMA3, 0, 0, 1}},
    [AZC_PRE_STARCODER] = {{STEP_RUN, SET_NUMBER, 1, 1}, {STEP_GPT2, 0, 0, 0}},
    [AZC_PRE_FALCON] = {{STEP_RUN, SET_FALCON_PUNCT, 1, 0},
                        {STEP_GPT2, 0, 0, 0},
                        {STEP_RUN, SET_ASCII_DIGIT, 3, 3}},
    [AZC_PRE_DEEPSEEK_LLM] = {{STEP_RUN, SET_CRLF, 1, 1},
                              {STEP_OPT_WS_RUN, SET_DEEPSEEK_LETTER, 0, 0},
                              {STEP_OPT_WS_RUN, SET_DEEPSEEK_PUNCT, 0, 0},
                              {STEP_TRAILING_WS, 0, 0, 0},
                              {STEP_RUN, SET_CJK, 1, 0},
                              {STEP_RUN, SET_NUMBER, 1, 0}},
    [AZC_PRE_DEEPSEEK_CODER] = {{STEP_RUN, SET_CRLF, 1, 1},
                                {STEP_OPT_WS_RUN, SET_LETTER, 0, 0},
                                {STEP_OPT_WS_RUN, SET_PUNCT, 0, 0},
                                {STEP_RUN, SET_CJK, 1, 0},
                                {STEP_RUN, SET_NUMBER, 1, 1}},
    [AZC_PRE_PORO] = {{STEP_OPT_SP_RUN, SET_PORO, 0, 0}},
    [AZC_PRE_VIKING] = {{STEP_OPT_SP_RUN, SET_PORO, 0, 0}, {STEP_RUN, SET_NUMBER, 1, 1}},
};

/* One chunk [start, end) of the decoded text, and where the step's output goes. */
typedef struct {
  const uint32_t *cp;
  const uint8_t *fl;
  uint32_t start, end;
  azc_tok_work_t *w;
  uint32_t prev; /* end of the last piece emitted */
  bool oom;
} chunk_t;

#define OUTSIDE 0xFF /* flags "past the chunk's edge": no class at all */

static inline uint8_t flags_at(const chunk_t *c, uint32_t i) {
  return i < c->end ? c->fl[i] : OUTSIDE;
}
static inline bool letter(uint8_t f) { return f != OUTSIDE && cat(f) == AZC_UCAT_LETTER; }
static inline bool number(uint8_t f) { return f != OUTSIDE && cat(f) == AZC_UCAT_NUMBER; }
static inline bool space(uint8_t f) { return f != OUTSIDE && is_ws(f); }
static inline bool other(uint8_t f) {
  return f != OUTSIDE && !is_ws(f) && !letter(f) && !number(f);
}

/* Appends the piece [c->prev, end) to the next chunk list (nothing if empty). */
static void emit(chunk_t *c, uint32_t end) {
  if (end <= c->prev) return;
  azc_tok_work_t *w = c->w;
  if (!azc_tok_grow((void **)&w->next, &w->cap_next, w->n_next + 1, sizeof(*w->next))) {
    c->oom = true;
    return;
  }
  w->next[w->n_next++] = (azc_tok_chunk_t){c->prev, end};
  c->prev = end;
}

static bool contraction1(uint32_t a, bool fold) {
  if (fold && a < 0x80) a |= 0x20 * (a >= 'A' && a <= 'Z');
  return a == 's' || a == 't' || a == 'm' || a == 'd';
}
static bool contraction2(uint32_t a, uint32_t b, bool fold) {
  if (fold) {
    if (a >= 'A' && a <= 'Z') a |= 0x20;
    if (b >= 'A' && b <= 'Z') b |= 0x20;
  }
  return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l');
}

/* 's 't 're 've 'm 'll 'd at pos: the end of the contraction, or 0 */
static uint32_t contraction(const chunk_t *c, uint32_t pos, bool fold) {
  if (c->cp[pos] != '\'' || pos + 1 >= c->end) return 0;
  if (contraction1(c->cp[pos + 1], fold)) return pos + 2;
  if (pos + 2 < c->end && contraction2(c->cp[pos + 1], c->cp[pos + 2], fold)) return pos + 3;
  return 0;
}

static void step_gpt2(chunk_t *c) {
  for (uint32_t pos = c->start; pos < c->end;) {
    uint32_t e = contraction(c, pos, false);
    if (e) {
      emit(c, pos = e);
      continue;
    }
    uint32_t cp = c->cp[pos];
    uint8_t f2 = cp == ' ' ? flags_at(c, pos + 1) : c->fl[pos];
    if (letter(f2) || number(f2) || other(f2)) { /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' */
      bool (*same)(uint8_t) = letter(f2) ? letter : number(f2) ? number : other;
      pos += cp == ' ';
      while (same(flags_at(c, pos))) pos++;
      emit(c, pos);
      continue;
    }
    uint32_t n_ws = 0;
    while (space(flags_at(c, pos + n_ws))) n_ws++;
    if (n_ws > 1 && pos + n_ws < c->end)
      pos += n_ws - 1; /* \s+(?!\S) */
    else if (n_ws > 0)
      pos += n_ws; /* \s+ */
    else
      pos++; /* no branch matches */
    emit(c, pos);
  }
}

static void step_llama3(chunk_t *c, uint32_t max_digits) {
  for (uint32_t pos = c->start; pos < c->end;) {
    uint32_t e = contraction(c, pos, true);
    if (e) {
      emit(c, pos = e);
      continue;
    }
    uint32_t cp = c->cp[pos];
    uint8_t f = c->fl[pos];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (!(cp == '\r' || cp == '\n' || number(f)) && (letter(f) || letter(flags_at(c, pos + 1)))) {
      pos++;
      while (letter(flags_at(c, pos))) pos++;
      emit(c, pos);
      continue;
    }
    if (number(f)) { /* \p{N}{1,n} */
      uint32_t start = pos;
      while (number(flags_at(c, pos))) {
        if (++pos - start >= max_digits) {
          emit(c, pos);
          start = pos;
        }
      }
      emit(c, pos);
      continue;
    }
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' (llama.cpp also takes a lone final space here) */
    uint8_t f2 = cp == ' ' ? flags_at(c, pos + 1) : f;
    if (!space(f2) && !letter(f2) && !number(f2)) {
      pos += cp == ' ';
      while (other(flags_at(c, pos))) pos++;
      while (pos < c->end && (c->cp[pos] == '\r' || c->cp[pos] == '\n')) pos++;
      emit(c, pos);
      continue;
    }
    uint32_t n_ws = 0, crlf_end = 0;
    for (; space(flags_at(c, pos + n_ws)); n_ws++) {
      uint32_t x = c->cp[pos + n_ws];
      if (x == '\r' || x == '\n') crlf_end = pos + n_ws + 1;
    }
    if (crlf_end)
      pos = crlf_end; /* \s*[\r\n]+ */
    else if (n_ws > 1 && pos + n_ws < c->end)
      pos += n_ws - 1; /* \s+(?!\S) */
    else if (n_ws > 0)
      pos += n_ws; /* \s+ */
    else
      pos++;
    emit(c, pos);
  }
}

static inline bool set_at(const chunk_t *c, set_t s, uint32_t i) {
  return i < c->end && in_set(s, c->cp[i], c->fl[i]);
}

/* The regex steps: find each leftmost match from `pos`, emit the gap before
 * it and the match. */
static void step_regex(chunk_t *c, const step_t *st) {
  uint32_t pos = c->start;
  while (pos < c->end) {
    uint32_t m = pos, end = 0; /* a match [m, end) */
    for (; m < c->end && !end; m++) {
      switch (st->kind) {
      case STEP_RUN: {
        if (!set_at(c, st->set, m)) break;
        uint32_t k = m;
        while (set_at(c, st->set, k) && (!st->max || k - m < st->max)) k++;
        if (k - m >= st->min) {
          end = k;
          break;
        }
        while (set_at(c, st->set, m + 1)) m++; /* no shorter tail of this run matches */
        break;
      }
      case STEP_OPT_WS_RUN:
      case STEP_OPT_SP_RUN: {
        bool opt = st->kind == STEP_OPT_WS_RUN ? space(c->fl[m]) : c->cp[m] == ' ';
        uint32_t k = m + (opt && set_at(c, st->set, m + 1)); /* greedy optional, else backtrack */
        if (!set_at(c, st->set, k)) break;
        while (set_at(c, st->set, k)) k++;
        end = k;
        break;
      }
      case STEP_TRAILING_WS: {
        uint32_t k = m;
        while (space(flags_at(c, k))) k++;
        if (k > m && k == c->end)
          end = k;
        else if (k > m)
          m = k - 1; /* a run that stops before the end: none of it matches */
        break;
      }
      default: break;
      }
      if (end) break;
    }
    if (!end) break;
    emit(c, m);
    emit(c, end);
    pos = end;
  }
  emit(c, c->end);
}

/* ---- driver ---- */

static azc_status_t oom(size_t len) {
  return AZC_ERR(AZC_OUT_OF_MEMORY, "tokenizer: out of memory pre-tokenizing %zu bytes", len);
}

/* Decodes one code point as llama.cpp does: a lead byte with the right number
 * of continuation bytes is accepted as it is (no overlong or surrogate
 * checks); anything else is one invalid byte, classed like U+FFFD. */
static size_t decode_cpt(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t b = s[0];
  size_t len = 0;
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  if ((b & 0x40) == 0)
    len = 0;
  else if ((b & 0x20) == 0)
    len = 2;
  else if ((b & 0x10) == 0)
    len = 3;
  else if ((b & 0x08) == 0)
    len = 4;
  bool ok = len && len <= n;
  for (size_t i = 1; ok && i < len; i++) ok = (s[i] & 0xC0) == 0x80;
  if (!ok) {
    *cp = 0xFFFD;
    return 1;
  }
  uint32_t v = b & (0x7F >> len);
  for (size_t i = 1; i < len; i++) v = (v << 6) | (s[i] & 0x3F);
  *cp = v;
  return len;
}

azc_status_t azc_pre_split(azc_pre_kind_t kind, azc_tok_work_t *w, const char *text, size_t len,
                           azc_status_t (*word)(void *ctx, const char *s, size_t n), void *ctx) {
  if ((unsigned)kind >= AZC_ARRAY_SIZE(pre_table))
    return AZC_ERR(AZC_INTERNAL, "tokenizer: pre-tokenizer kind %d", (int)kind);
  if (len == 0) return NULL;
  if (len + 1 > w->cap_cpts) {
    size_t cap = len + 1;
    uint32_t *cp = realloc(w->cpts, cap * sizeof(uint32_t));
    if (cp) w->cpts = cp;
    uint8_t *fl = realloc(w->uflags, cap);
    if (fl) w->uflags = fl;
    uint32_t *off = realloc(w->offsets, cap * sizeof(uint32_t));
    if (off) w->offsets = off;
    if (!cp || !fl || !off) return oom(len);
    w->cap_cpts = cap;
  }
  const uint8_t *u = (const uint8_t *)text;
  uint32_t n = 0;
  for (size_t i = 0; i < len; n++) {
    w->offsets[n] = (uint32_t)i;
    i += decode_cpt(u + i, len - i, &w->cpts[n]);
    w->uflags[n] = azc_unicode_flags(w->cpts[n]);
  }
  w->offsets[n] = (uint32_t)len;

  /* chunks: start as the whole text, refined by each step */
  w->n_next = 0;
  chunk_t c = {w->cpts, w->uflags, 0, n, w, 0, false};
  emit(&c, n);
  if (c.oom) return oom(len);
  for (int s = 0; s < MAX_STEPS && pre_table[kind][s].kind != STEP_NONE; s++) {
    const step_t *st = &pre_table[kind][s];
    azc_tok_chunk_t *cur = w->next;
    size_t n_cur = w->n_next, cap_cur = w->cap_next;
    w->next = w->spare;
    w->cap_next = w->cap_spare;
    w->n_next = 0;
    for (size_t i = 0; i < n_cur && !c.oom; i++) {
      c.start = c.prev = cur[i].start;
      c.end = cur[i].end;
      if (st->kind == STEP_GPT2)
        step_gpt2(&c);
      else if (st->kind == STEP_LLAMA3)
        step_llama3(&c, st->max);
      else
        step_regex(&c, st);
    }
    w->spare = cur;
    w->cap_spare = cap_cur;
    if (c.oom) return oom(len);
  }
  for (size_t i = 0; i < w->n_next; i++) {
    uint32_t a = w->offsets[w->next[i].start], b = w->offsets[w->next[i].end];
    AZC_RETURN_IF_ERROR(word(ctx, text + a, b - a));
  }
  return NULL;
}
