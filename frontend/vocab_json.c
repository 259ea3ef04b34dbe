/* A vocab-only GGUF from a Hugging Face tokenizer.json (see vocab.h), written
 * with azc's own GGUF writer, holding what llama.cpp's convert_hf_to_gguf.py
 * would write for the same tokenizer:
 *
 *   - byte-level BPE (a ByteLevel pre-tokenizer or decoder) becomes
 *     tokenizer.ggml.model "gpt2" with the merges as "left right" strings; the
 *     pre-tokenizer is recognised by its structure and regex and named as
 *     convert's table names that behaviour (llama3's regex with ignore_merges:
 *     "llama-bpe", without: "smaug-bpe"; Qwen2's: "qwen2"; the GPT-2
 *     ByteLevel regex: "gpt-2"; individual Digits before it: "starcoder").
 *     convert recognises the pre-tokenizer by hashing the ids of a test text,
 *     which needs the tokenizer itself; the structure decides the same
 *     behaviour. Anything else is refused, as convert refuses an unknown hash;
 *   - SentencePiece turned into BPE (byte_fallback with a Sequence decoder, as
 *     Gemma's) becomes "llama" with scores: convert reads them from
 *     tokenizer.model, which a tokenizer.json lacks; the merges were ranked by
 *     those scores (Hugging Face's SentencePiece converter sorts them so), so
 *     a token's score is minus the rank of the first merge that makes it,
 *     which merges in the same order. add_space_prefix is false unless the
 *     normalizer or pre-tokenizer prepends U+2581;
 *   - ids missing from the vocabulary become "[PAD<id>]" (UNUSED); added
 *     tokens are CONTROL when special or when they look special (<|...|>,
 *     <unused...>, <pad>, <mask>, ... as convert's does_token_look_special),
 *     else USER_DEFINED (SentencePiece: with U+2581 written as a space, and
 *     score -1000); byte tokens <0xXX> of a SentencePiece vocabulary are BYTE;
 *   - BOS/EOS/unknown/separator/padding/mask and add_bos/add_eos from
 *     tokenizer_config.json beside the file (then config.json), and its chat
 *     template, as gguf-py's SpecialVocab reads them.
 *
 * The file is parsed with cJSON; a 33 MB Gemma tokenizer.json takes about a
 * second. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf.h"
#include "frontend/vocab.h"
#include "runtime/base/file.h"
#include "runtime/base/hash.h"

#define LLAMA3_REGEX                                                                               \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "                       \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_REGEX                                                                                \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                            \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct {
  const char *path;
  cJSON *root, *config, *model_config;
  int32_t n;      /* tokens: largest id + 1 */
  char **text;    /* (n) token texts, malloc'd, NULL until known */
  int32_t *type;  /* (n) GGUF token types */
  float *score;   /* (n) SentencePiece only */
  uint8_t *added; /* (n) 1: added token, 2: special added token */
  uint64_t *map;  /* text hash table over ids: (hash << 32) | (id + 1) */
  uint32_t map_mask;
  char **merges; /* "left right" */
  int32_t n_merges;
  bool spm;
  char pre[32];
  int add_space_prefix;
} conv_t;

static azc_status_t oom(const conv_t *c) {
  return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", c->path);
}

static const cJSON *get(const cJSON *o, const char *key) {
  return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}
static const char *get_str(const cJSON *o, const char *key) {
  const cJSON *v = get(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
static bool get_bool(const cJSON *o, const char *key, bool def) {
  const cJSON *v = get(o, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}
static bool str_is(const char *s, const char *z) { return s && !strcmp(s, z); }

static azc_status_t parse_file(const char *path, bool required, cJSON **out) {
  *out = NULL;
  char *buf = NULL;
  size_t size = 0;
  azc_status_t st = azc_file_read_all(path, &buf, &size);
  if (st) {
    if (!required) {
      azc_status_free(st);
      return NULL;
    }
    return st;
  }
  *out = cJSON_ParseWithLength(buf, size);
  free(buf);
  if (!*out) return AZC_ERR(AZC_CORRUPT, "%s: not valid JSON", path);
  return NULL;
}

/* ---- token text -> id ---- */

static uint32_t text_hash(const char *s) { return (uint32_t)(azc_hash64(s, strlen(s)) >> 32); }

static azc_status_t build_map(conv_t *c) {
  uint32_t cap = 16;
  while (cap < (uint64_t)c->n * 2) cap <<= 1;
  c->map = calloc(cap, sizeof(uint64_t));
  if (!c->map) return oom(c);
  c->map_mask = cap - 1;
  for (int32_t id = 0; id < c->n; id++) {
    uint32_t h = text_hash(c->text[id]);
    uint32_t i = h & c->map_mask;
    while (c->map[i]) i = (i + 1) & c->map_mask;
    c->map[i] = ((uint64_t)h << 32) | (uint32_t)(id + 1);
  }
  return NULL;
}

static int32_t find_id(const conv_t *c, const char *s) {
  uint32_t h = text_hash(s);
  for (uint32_t i = h & c->map_mask; c->map[i]; i = (i + 1) & c->map_mask) {
    int32_t id = (int32_t)(uint32_t)c->map[i] - 1;
    if ((uint32_t)(c->map[i] >> 32) == h && !strcmp(c->text[id], s)) return id;
  }
  return -1;
}

/* ---- the vocabulary ---- */

/* convert_hf_to_gguf.py's does_token_look_special */
static bool looks_special(const char *t) {
  size_t n = strlen(t);
  if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]"))
    return true;
  if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) return true;
  static const char fw_open[] = "<\xef\xbd\x9c", fw_close[] = "\xef\xbd\x9c>"; /* <｜ ... ｜> */
  if (n >= 8 && !strncmp(t, fw_open, 4) && !strcmp(t + n - 4, fw_close)) return true;
  return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

static char *dup(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* "▁" -> " " (convert pre-normalizes user-defined SentencePiece tokens so) */
static void spaces_for_u2581(char *s) {
  char *w = s;
  for (const char *r = s; *r;) {
    if (!strncmp(r, "\xe2\x96\x81", 3)) {
      *w++ = ' ';
      r += 3;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

static azc_status_t read_vocab(conv_t *c) {
  const cJSON *model = get(c->root, "model");
  const cJSON *vocab = get(model, "vocab"), *added = get(c->root, "added_tokens");
  if (!cJSON_IsObject(vocab))
    return AZC_ERR(AZC_CORRUPT, "%s: model.vocab is not an object", c->path);
  int64_t max_id = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, vocab) {
    if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (1 << 24))
      return AZC_ERR(AZC_CORRUPT, "%s: vocabulary entry '%.64s' has no valid id", c->path,
                     e->string ? e->string : "");
    if (e->valueint > max_id) max_id = e->valueint;
  }
  cJSON_ArrayForEach(e, added) {
    const cJSON *id = get(e, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) ||
        !get_str(e, "content"))
      return AZC_ERR(AZC_CORRUPT, "%s: an added token without a valid id and content", c->path);
    if (id->valueint > max_id) max_id = id->valueint;
  }
  if (max_id < 0) return AZC_ERR(AZC_CORRUPT, "%s: the vocabulary is empty", c->path);
  c->n = (int32_t)max_id + 1;
  c->text = calloc((size_t)c->n, sizeof(char *));
  c->type = calloc((size_t)c->n, sizeof(int32_t));
  c->score = calloc((size_t)c->n, sizeof(float));
  c->added = calloc((size_t)c->n, 1);
  if (!c->text || !c->type || !c->score || !c->added) return oom(c);
  cJSON_ArrayForEach(e, vocab) {
    int32_t id = e->valueint;
    free(c->text[id]);
    if (!(c->text[id] = dup(e->string))) return oom(c);
    c->type[id] = AZC_TOKEN_NORMAL;
  }
  cJSON_ArrayForEach(e, added) {
    int32_t id = get(e, "id")->valueint;
    free(c->text[id]);
    if (!(c->text[id] = dup(get_str(e, "content")))) return oom(c);
    c->added[id] = get_bool(e, "special", false) ? 2 : 1;
  }
  const char *unk = get_str(model, "unk_token");
  for (int32_t id = 0; id < c->n; id++) {
    if (!c->text[id]) { /* a hole in the ids */
      char pad[32];
      snprintf(pad, sizeof(pad), "[PAD%d]", id);
      if (!(c->text[id] = dup(pad))) return oom(c);
      c->type[id] = AZC_TOKEN_UNUSED;
      continue;
    }
    const char *t = c->text[id];
    if (c->added[id]) {
      if (c->added[id] == 2 || looks_special(t)) {
        c->type[id] = AZC_TOKEN_CONTROL;
      } else {
        c->type[id] = AZC_TOKEN_USER_DEFINED;
        if (c->spm) spaces_for_u2581(c->text[id]);
      }
      if (c->spm) c->score[id] = -1000.0f;
    } else if (c->spm && strlen(t) == 6 && !strncmp(t, "<0x", 3) && t[5] == '>') {
      c->type[id] = AZC_TOKEN_BYTE;
    } else if (c->spm && str_is(unk, t)) {
      c->type[id] = AZC_TOKEN_UNKNOWN;
    }
  }
  return NULL;
}

/* The merges as "left right", written in the vocabulary's own alphabet; a
 * space inside a part (list form) becomes U+0120 as gguf-py writes it. */
static azc_status_t read_merges(conv_t *c) {
  const cJSON *merges = get(get(c->root, "model"), "merges");
  if (!cJSON_IsArray(merges))
    return AZC_ERR(AZC_CORRUPT, "%s: model.merges is not a list", c->path);
  int n = cJSON_GetArraySize(merges);
  c->merges = calloc((size_t)(n ? n : 1), sizeof(char *));
  if (!c->merges) return oom(c);
  const cJSON *m;
  cJSON_ArrayForEach(m, merges) {
    const char *parts[2] = {NULL, NULL};
    char *s = NULL;
    if (cJSON_IsString(m)) {
      s = dup(m->valuestring);
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
               cJSON_IsString(m->child->next)) {
      parts[0] = m->child->valuestring;
      parts[1] = m->child->next->valuestring;
      size_t len = 1;
      for (int k = 0; k < 2; k++)
        for (const char *p = parts[k]; *p; p++) len += *p == ' ' ? 2 : 1;
      if ((s = malloc(len + 1))) {
        char *w = s;
        for (int k = 0; k < 2; k++) {
          if (k) *w++ = ' ';
          for (const char *p = parts[k]; *p; p++) {
            if (*p == ' ') {
              *w++ = '\xc4';
              *w++ = '\xa0';
            } else {
              *w++ = *p;
            }
          }
        }
        *w = 0;
      }
    } else {
      return AZC_ERR(AZC_CORRUPT, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", c->path,
                     c->n_merges);
    }
    if (!s) return oom(c);
    c->merges[c->n_merges++] = s;
  }
  return NULL;
}

/* SentencePiece scores from the merge ranks: the merged token of rank r gets
 * -r (its first merge counts); tokens no merge makes keep 0. */
static azc_status_t spm_scores(conv_t *c) {
  AZC_RETURN_IF_ERROR(build_map(c));
  bool *seen = calloc((size_t)c->n, 1);
  if (!seen) return oom(c);
  const cJSON *m;
  int32_t r = 0;
  azc_status_t st = NULL;
  cJSON_ArrayForEach(m, get(get(c->root, "model"), "merges")) {
    const char *l = NULL, *rt = NULL;
    size_t nl = 0;
    if (cJSON_IsString(m)) { /* "left right" */
      const char *sp = m->valuestring[0] ? strchr(m->valuestring + 1, ' ') : NULL;
      if (sp) {
        l = m->valuestring;
        nl = (size_t)(sp - l);
        rt = sp + 1;
      }
    } else { /* ["left", "right"], checked by read_merges */
      l = m->child->valuestring;
      nl = strlen(l);
      rt = m->child->next->valuestring;
    }
    if (l) {
      char *cat = malloc(nl + strlen(rt) + 1);
      if (!cat) {
        st = oom(c);
        break;
      }
      memcpy(cat, l, nl);
      strcpy(cat + nl, rt);
      int32_t id = find_id(c, cat);
      free(cat);
      if (id >= 0 && !seen[id] && !c->added[id]) {
        seen[id] = true;
        c->score[id] = -(float)r;
      }
    }
    r++;
  }
  free(seen);
  return st;
}

/* ---- what the pre-tokenizer is ---- */

static bool is_byte_level(const cJSON *pt, bool *use_regex) {
  if (str_is(get_str(pt, "type"), "ByteLevel")) {
    *use_regex = get_bool(pt, "use_regex", true);
    return !get_bool(pt, "add_prefix_space", false);
  }
  return false;
}

static azc_status_t recognise_pre(conv_t *c) {
  const cJSON *pt = get(c->root, "pre_tokenizer"), *norm = get(c->root, "normalizer");
  const char *nt = get_str(norm, "type");
  if (norm && !cJSON_IsNull(norm) && !str_is(nt, "NFC"))
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: normalizer '%s' of a byte-level BPE tokenizer has no GGUF form (llama.cpp "
                   "applies none)",
                   c->path, nt ? nt : "?");
  bool ignore_merges = get_bool(get(c->root, "model"), "ignore_merges", false), use_regex = false;
  const cJSON *seq = str_is(get_str(pt, "type"), "Sequence") ? get(pt, "pretokenizers") : NULL;
  int n = seq ? cJSON_GetArraySize(seq) : 0;
  const cJSON *first = seq ? seq->child : NULL, *second = first ? first->next : NULL;
  const char *name = NULL;
  if (is_byte_level(pt, &use_regex) && use_regex) {
    name = "gpt-2";
  } else if (n == 1 && is_byte_level(first, &use_regex) && use_regex) {
    name = "gpt-2";
  } else if (n == 2 && str_is(get_str(first, "type"), "Digits") &&
             get_bool(first, "individual_digits", false) && is_byte_level(second, &use_regex) &&
             use_regex) {
    name = "starcoder";
  } else if (n == 2 && str_is(get_str(first, "type"), "Split") &&
             str_is(get_str(first, "behavior"), "Isolated") && !get_bool(first, "invert", false) &&
             is_byte_level(second, &use_regex) && !use_regex) {
    const char *re = get_str(get(first, "pattern"), "Regex");
    if (str_is(re, LLAMA3_REGEX))
      name = ignore_merges ? "llama-bpe" : "smaug-bpe";
    else if (str_is(re, QWEN2_REGEX))
      name = "qwen2";
  }
  if (!name) {
    char *js = cJSON_PrintUnformatted(pt);
    azc_status_t st = AZC_ERR(AZC_UNSUPPORTED,
                              "%s: BPE pre-tokenizer not recognized (llama3, qwen2, gpt-2 and "
                              "starcoder digit splitting are): %.300s",
                              c->path, js ? js : "?");
    free(js);
    return st;
  }
  if (ignore_merges && strcmp(name, "llama-bpe"))
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: ignore_merges with the '%s' pre-tokenizer has no GGUF form", c->path, name);
  snprintf(c->pre, sizeof(c->pre), "%s", name);
  return NULL;
}

/* SentencePiece: does a "▁" get prepended (normalizer Prepend, Metaspace)? */
static bool prepends_space(const cJSON *o) {
  if (!o) return false;
  const char *t = get_str(o, "type");
  if (str_is(t, "Prepend")) return true;
  if (str_is(t, "Metaspace"))
    return !str_is(get_str(o, "prepend_scheme"), "never") && get_bool(o, "add_prefix_space", true);
  const cJSON *e;
  cJSON_ArrayForEach(
      e, get(o, str_is(t, "Sequence") ? "normalizers" : "-")) if (prepends_space(e)) return true;
  cJSON_ArrayForEach(
      e, get(o, str_is(t, "Sequence") ? "pretokenizers" : "-")) if (prepends_space(e)) return true;
  return false;
}

/* ---- writing ---- */

static azc_status_t special_id(const conv_t *c, const char *typ, int32_t *out) {
  *out = -1;
  char key[32];
  snprintf(key, sizeof(key), "%s_token", typ);
  const cJSON *e = get(c->config, key);
  const char *content = cJSON_IsString(e) ? e->valuestring : get_str(e, "content");
  const cJSON *a, *added = content ? get(c->root, "added_tokens") : NULL;
  cJSON_ArrayForEach(a, added) {
    if (str_is(get_str(a, "content"), content)) {
      *out = get(a, "id")->valueint;
      return NULL;
    }
  }
  snprintf(key, sizeof(key), "%s_token_id", typ); /* config.json */
  const cJSON *id = get(c->model_config, key);
  if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < c->n) *out = id->valueint;
  return NULL;
}

static azc_status_t write_gguf(conv_t *c, const char *arch, const char *name, const char *out) {
  azc_gguf_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_gguf_writer_create(&w));
  azc_strview_t *toks = malloc((size_t)c->n * sizeof(*toks));
  azc_strview_t *merges = malloc((size_t)(c->n_merges + 1) * sizeof(*merges));
  azc_status_t st = toks && merges ? NULL : oom(c);
  for (int32_t i = 0; toks && i < c->n; i++)
    toks[i] = (azc_strview_t){c->text[i], strlen(c->text[i])};
  for (int32_t i = 0; merges && i < c->n_merges; i++)
    merges[i] = (azc_strview_t){c->merges[i], strlen(c->merges[i])};
  if (!st && arch) st = azc_gguf_writer_set_str(w, "general.architecture", arch);
  if (!st && name) st = azc_gguf_writer_set_str(w, "general.name", name);
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.model", c->spm ? "llama" : "gpt2");
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.pre", c->spm ? "default" : c->pre);
  if (!st) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)c->n);
  if (!st && c->spm)
    st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.scores", AZC_GGUF_FLOAT32, c->score,
                                 (uint64_t)c->n);
  if (!st)
    st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AZC_GGUF_INT32, c->type,
                                 (uint64_t)c->n);
  if (!st && !c->spm)
    st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, (uint64_t)c->n_merges);
  static const char *const typs[][2] = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
  };
  for (size_t i = 0; !st && i < AZC_ARRAY_SIZE(typs); i++) {
    int32_t id;
    st = special_id(c, typs[i][0], &id);
    if (!st && id >= 0) st = azc_gguf_writer_set_u32(w, typs[i][1], (uint32_t)id);
  }
  const cJSON *add_bos = get(c->config, "add_bos_token"),
              *add_eos = get(c->config, "add_eos_token");
  if (!st && cJSON_IsBool(add_bos))
    st = azc_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", cJSON_IsTrue(add_bos));
  if (!st && cJSON_IsBool(add_eos))
    st = azc_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", cJSON_IsTrue(add_eos));
  if (!st && c->spm)
    st = azc_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", c->add_space_prefix);
  const char *tmpl = get_str(c->config, "chat_template");
  if (!st && tmpl) st = azc_gguf_writer_set_str(w, "tokenizer.chat_template", tmpl);
  if (!st) st = azc_gguf_writer_write(w, out);
  free(toks);
  free(merges);
  azc_gguf_writer_destroy(w);
  return st;
}

static azc_status_t convert(conv_t *c, const char *arch, const char *name, const char *out,
                            azc_vocab_json_info_t *info) {
  AZC_RETURN_IF_ERROR(parse_file(c->path, true, &c->root));
  char dir[1024], path[1100];
  snprintf(dir, sizeof(dir), "%s", c->path);
  char *slash = strrchr(dir, '/');
  if (slash)
    slash[1] = 0;
  else
    dir[0] = 0;
  snprintf(path, sizeof(path), "%stokenizer_config.json", dir);
  AZC_RETURN_IF_ERROR(parse_file(path, false, &c->config));
  snprintf(path, sizeof(path), "%sconfig.json", dir);
  AZC_RETURN_IF_ERROR(parse_file(path, false, &c->model_config));
  const cJSON *model = get(c->root, "model");
  const char *type = get_str(model, "type");
  if (!str_is(type, "BPE"))
    return AZC_ERR(AZC_UNSUPPORTED, "%s: tokenizer model '%s' is not supported (BPE)", c->path,
                   type ? type : "?");
  const cJSON *dec = get(c->root, "decoder");
  c->spm = get_bool(model, "byte_fallback", false) && str_is(get_str(dec, "type"), "Sequence");
  if (!c->spm) AZC_RETURN_IF_ERROR(recognise_pre(c)); /* byte-level BPE, or refused */
  AZC_RETURN_IF_ERROR(read_vocab(c));
  AZC_RETURN_IF_ERROR(read_merges(c));
  if (c->spm) {
    AZC_RETURN_IF_ERROR(spm_scores(c));
    c->add_space_prefix =
        prepends_space(get(c->root, "normalizer")) || prepends_space(get(c->root, "pre_tokenizer"));
  }
  if (info) {
    memset(info, 0, sizeof(*info));
    snprintf(info->model, sizeof(info->model), "%s", c->spm ? "llama" : "gpt2");
    snprintf(info->pre, sizeof(info->pre), "%s", c->spm ? "default" : c->pre);
    info->n_vocab = c->n;
    info->n_merges = c->n_merges;
    for (int32_t i = 0; i < c->n; i++) info->n_added += c->added[i] != 0;
  }
  return write_gguf(c, arch, name, out);
}

azc_status_t azc_vocab_write_from_json(const char *json_path, const char *arch, const char *name,
                                       const char *out_path, azc_vocab_json_info_t *info) {
  conv_t c;
  memset(&c, 0, sizeof(c));
  c.path = json_path;
  azc_status_t st = convert(&c, arch, name, out_path, info);
  for (int32_t i = 0; c.text && i < c.n; i++) free(c.text[i]);
  for (int32_t i = 0; i < c.n_merges; i++) free(c.merges[i]);
  free(c.text);
  free(c.type);
  free(c.score);
  free(c.added);
  free(c.map);
  free(c.merges);
  cJSON_Delete(c.root);
  cJSON_Delete(c.config);
  cJSON_Delete(c.model_config);
  return st;
}
