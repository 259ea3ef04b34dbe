/* Modelfile parser (see modelfile.h). The grammar is Ollama's state machine
 * (parser.go ParseFile) rune by rune, so that every file Ollama accepts
 * parses to the same commands and every file it refuses is refused: states
 * nil (between instructions), name, value, parameter name, message role and
 * comment; a value ends at a line break only once its trimmed text is a
 * complete quote (or no quote at all), which is how """ spans lines. Where
 * Ollama's messages are terse ("unexpected EOF", "(line 3): command must be
 * one of ..."), azc names the file, the line of the instruction and the
 * word. */
#include "frontend/modelfile.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/base/buf.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"
#include "runtime/chat_template.h"

/* ---- decoding: UTF-8 (BOM optional) or UTF-16 with a BOM, invalid -> U+FFFD ---- */

typedef struct runes {
  uint32_t *v;
  size_t n;
} runes_t;

static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t c = s[0];
  size_t need = c < 0x80             ? 1
                : (c & 0xE0) == 0xC0 ? 2
                : (c & 0xF0) == 0xE0 ? 3
                : (c & 0xF8) == 0xF0 ? 4
                                     : 0;
  if (!need || need > n) {
    *cp = 0xFFFD;
    return 1;
  }
  uint32_t v = need == 1 ? c : need == 2 ? c & 0x1Fu : need == 3 ? c & 0x0Fu : c & 0x07u;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    v = v << 6 | (s[i] & 0x3Fu);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[need] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = v;
  return need;
}

static azc_status_t decode(const uint8_t *s, size_t n, runes_t *out) {
  out->v = malloc((n + 1) * sizeof(uint32_t));
  out->n = 0;
  if (!out->v) return AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
  bool le = n >= 2 && s[0] == 0xFF && s[1] == 0xFE, be = n >= 2 && s[0] == 0xFE && s[1] == 0xFF;
  if (le || be) {
    for (size_t i = 2; i + 1 < n;) {
      uint32_t u = le ? (uint32_t)(s[i] | s[i + 1] << 8) : (uint32_t)(s[i] << 8 | s[i + 1]);
      i += 2;
      if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
        uint32_t w = le ? (uint32_t)(s[i] | s[i + 1] << 8) : (uint32_t)(s[i] << 8 | s[i + 1]);
        if (w >= 0xDC00 && w <= 0xDFFF) {
          u = 0x10000 + ((u - 0xD800) << 10) + (w - 0xDC00);
          i += 2;
        } else {
          u = 0xFFFD;
        }
      } else if (u >= 0xD800 && u <= 0xDFFF) {
        u = 0xFFFD;
      }
      out->v[out->n++] = u;
    }
    if (n % 2) out->v[out->n++] = 0xFFFD; /* a dangling byte */
    return NULL;
  }
  size_t i = n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF ? 3 : 0;
  while (i < n) {
    uint32_t cp;
    i += utf8_decode(s + i, n - i, &cp);
    out->v[out->n++] = cp;
  }
  return NULL;
}

static size_t utf8_encode(uint32_t cp, char *out) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Go's strconv.IsPrint: graphic characters and the ASCII space. Controls,
 * the other spaces, separators, format characters, surrogates, private use
 * and noncharacters are not printable; unassigned code points are taken as
 * printable (Go's tables would say no). */
static bool is_print(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return false;
  if (c == 0xA0 || c == 0xAD || c == 0x1680 || (c >= 0x2000 && c <= 0x200F) ||
      (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x2064) ||
      (c >= 0x2066 && c <= 0x206F) || c == 0x3000 || c == 0xFEFF || c == 0x061C || c == 0x180E ||
      (c >= 0xFFF9 && c <= 0xFFFB))
    return false;
  if ((c >= 0xD800 && c <= 0xDFFF) || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000) return false;
  if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE) return false;
  if (c == 0x110BD || c == 0x110CD || (c >= 0x1BCA0 && c <= 0x1BCA3) ||
      (c >= 0x1D173 && c <= 0x1D17A) || c == 0xE0001 || (c >= 0xE0020 && c <= 0xE007F))
    return false;
  return true;
}

static bool is_alpha(uint32_t r) { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
static bool is_digit(uint32_t r) { return r >= '0' && r <= '9'; }
static bool is_space(uint32_t r) { return r == ' ' || r == '\t'; }
static bool is_newline(uint32_t r) { return r == '\r' || r == '\n'; }

/* Go's unicode.IsSpace, for strings.TrimSpace */
static bool go_space(uint32_t r) {
  return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0 || r == 0x1680 ||
         (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F ||
         r == 0x3000;
}

/* ---- the buffer of runes being collected ---- */

typedef struct rbuf {
  uint32_t *v;
  size_t n, cap;
} rbuf_t;

static bool rbuf_put(rbuf_t *b, uint32_t r) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    uint32_t *v = realloc(b->v, cap * sizeof(*v));
    if (!v) return false;
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = r;
  return true;
}

static char *to_utf8(const uint32_t *v, size_t n) {
  char *s = malloc(n * 4 + 1);
  if (!s) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += utf8_encode(v[i], s + k);
  s[k] = 0;
  return s;
}

/* unquote(strings.TrimSpace(b)): the value, or NULL with *complete false
 * when the quote is not closed yet */
static char *unquote_value(const rbuf_t *b, bool *complete) {
  size_t a = 0, e = b->n;
  while (a < e && go_space(b->v[a])) a++;
  while (e > a && go_space(b->v[e - 1])) e--;
  const uint32_t *s = b->v + a;
  size_t n = e - a;
  *complete = true;
  if (n >= 3 && s[0] == '"' && s[1] == '"' && s[2] == '"') {
    if (n >= 6 && s[n - 1] == '"' && s[n - 2] == '"' && s[n - 3] == '"')
      return to_utf8(s + 3, n - 6);
    *complete = false;
    return NULL;
  }
  if (n >= 1 && s[0] == '"') {
    if (n >= 2 && s[n - 1] == '"') return to_utf8(s + 1, n - 2);
    *complete = false;
    return NULL;
  }
  return to_utf8(s, n);
}

/* ---- parsing ---- */

enum { S_NIL, S_NAME, S_VALUE, S_PARAMETER, S_MESSAGE, S_COMMENT };

static const struct {
  const char *word;
  azc_mf_kind_t kind;
} instructions[] = {
    {"from", AZC_MF_FROM},         {"parameter", AZC_MF_PARAMETER}, {"template", AZC_MF_TEMPLATE},
    {"system", AZC_MF_SYSTEM},     {"message", AZC_MF_MESSAGE},     {"license", AZC_MF_LICENSE},
    {"draft", AZC_MF_DRAFT},       {"requires", AZC_MF_REQUIRES},   {"adapter", AZC_MF_ADAPTER},
    {"renderer", AZC_MF_RENDERER}, {"parser", AZC_MF_PARSER},
};

static const char *kind_word(azc_mf_kind_t k) {
  static const char *const w[] = {"FROM",    "PARAMETER", "TEMPLATE", "SYSTEM",
                                  "MESSAGE", "LICENSE",   "DRAFT",    "REQUIRES",
                                  "ADAPTER", "RENDERER",  "PARSER"};
  return w[k];
}

typedef struct parser {
  const char *path;
  const runes_t *in;
  size_t pos;
  int line, cmd_line;
  azc_modelfile_t *mf;
} parser_t;

static azc_status_t perr(const parser_t *P, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static azc_status_t perr(const parser_t *P, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return AZC_ERR(AZC_INVALID_ARGUMENT, "%s:%d: %s", P->path, line, msg);
}

/* the word at [start, ...) up to whitespace, for messages (at most 40 runes) */
static char *word_at(const parser_t *P, size_t start) {
  size_t e = start;
  while (e < P->in->n && !go_space(P->in->v[e]) && e - start < 40) e++;
  return to_utf8(P->in->v + start, e - start);
}

static bool valid_role(const char *r) {
  return !strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant");
}

static int find_instruction(const char *w) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(instructions); i++)
    if (!strcasecmp(instructions[i].word, w)) return (int)i;
  return -1;
}

#define INSTRUCTIONS_LIST "FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE, DRAFT or REQUIRES"

static azc_status_t add_command(parser_t *P, azc_mf_kind_t kind, char *name, char *args) {
  azc_modelfile_t *mf = P->mf;
  azc_mf_command_t *c = realloc(mf->cmds, (mf->n_cmds + 1) * sizeof(*c));
  if (!c) {
    free(name);
    free(args);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
  }
  mf->cmds = c;
  c[mf->n_cmds++] = (azc_mf_command_t){kind, name, args, P->cmd_line};
  return NULL;
}

static azc_status_t run(parser_t *P) {
  int state = S_NIL, kind = -1;
  rbuf_t b = {0};
  char *name = NULL; /* parameter name or message role */
  size_t word_start = 0;
  azc_status_t st = NULL;
  bool prev_cr = false;
  for (P->pos = 0; !st && P->pos < P->in->n; P->pos++) {
    uint32_t r = P->in->v[P->pos];
    int line = P->line;
    if (r == '\n' ? !prev_cr : r == '\r') P->line++; /* CRLF is one line break */
    prev_cr = r == '\r';
    int next = state;
    uint32_t keep = 0; /* the rune the transition hands on (Go's returned rune) */
    switch (state) {
    case S_NIL:
      if (r == '#')
        next = S_COMMENT;
      else if (is_space(r) || is_newline(r))
        next = S_NIL;
      else
        next = S_NAME, keep = r, word_start = P->pos, P->cmd_line = line;
      break;
    case S_NAME:
      if (is_alpha(r))
        keep = r;
      else if (is_space(r))
        next = S_VALUE;
      else {
        char *w = to_utf8(b.v, b.n), *whole = word_at(P, word_start);
        if (w && find_instruction(w) >= 0 && (is_newline(r)))
          st = perr(P, line, "%s needs a value", w);
        else
          st = perr(P, line, "unknown instruction '%s' (expected " INSTRUCTIONS_LIST ")",
                    whole ? whole : "?");
        free(w);
        free(whole);
        continue;
      }
      break;
    case S_VALUE:
      next = is_newline(r) || is_space(r) ? S_NIL : S_VALUE;
      keep = r;
      break;
    case S_PARAMETER:
      if (is_alpha(r) || is_digit(r) || r == '_')
        keep = r;
      else if (is_space(r))
        next = S_VALUE;
      else {
        char *w = to_utf8(b.v, b.n), *whole = word_at(P, P->pos - b.n);
        if (is_newline(r))
          st = perr(P, line, "PARAMETER %s needs a value", w ? w : "");
        else
          st = perr(P, line, "bad parameter name '%s'", whole ? whole : "?");
        free(w);
        free(whole);
        continue;
      }
      break;
    case S_MESSAGE:
      if (is_alpha(r))
        keep = r;
      else if (is_space(r))
        next = S_VALUE;
      else {
        char *w = to_utf8(b.v, b.n), *whole = word_at(P, P->pos - b.n);
        if (is_newline(r))
          st = perr(P, line, "MESSAGE %s needs a message", w ? w : "");
        else
          st = perr(P, line, "bad message role '%s' (system, user or assistant)",
                    whole ? whole : "?");
        free(w);
        free(whole);
        continue;
      }
      break;
    case S_COMMENT: next = is_newline(r) ? S_NIL : S_COMMENT; break;
    }
    if (next != state) {
      if (state == S_NAME) {
        char *w = to_utf8(b.v, b.n);
        int idx = w ? find_instruction(w) : -1;
        if (idx < 0) {
          st = w ? perr(P, P->cmd_line, "unknown instruction '%s' (expected " INSTRUCTIONS_LIST ")",
                        w)
                 : AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
          free(w);
          continue;
        }
        free(w);
        kind = (int)instructions[idx].kind;
        if (kind == AZC_MF_PARAMETER) next = S_PARAMETER;
        if (kind == AZC_MF_MESSAGE) next = S_MESSAGE;
      } else if (state == S_PARAMETER || state == S_MESSAGE) {
        free(name);
        name = to_utf8(b.v, b.n);
        if (!name) {
          st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
          continue;
        }
        if (state == S_MESSAGE && !valid_role(name)) {
          st = perr(P, P->cmd_line, "message role '%s' must be one of system, user or assistant",
                    name);
          continue;
        }
      } else if (state == S_VALUE) {
        bool complete;
        char *v = unquote_value(&b, &complete);
        if (!complete || is_space(keep)) { /* the value goes on */
          free(v);
          if (!rbuf_put(&b, keep)) st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
          continue;
        }
        if (!v) {
          st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
          continue;
        }
        st = add_command(P, (azc_mf_kind_t)kind, name, v);
        name = NULL;
      }
      b.n = 0;
      state = next;
    }
    if (keep && is_print(keep) && !rbuf_put(&b, keep)) st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
  }
  if (!st) { /* the end of the file */
    if (state == S_VALUE) {
      bool complete;
      char *v = unquote_value(&b, &complete);
      if (complete && v) {
        st = add_command(P, (azc_mf_kind_t)kind, name, v);
        name = NULL;
      } else if (!complete) {
        size_t a = 0;
        while (a < b.n && go_space(b.v[a])) a++;
        bool triple = b.n - a >= 3 && b.v[a + 1] == '"' && b.v[a + 2] == '"';
        st = perr(P, P->cmd_line, "unclosed %s quote in %s (the file ends before it closes)",
                  triple ? "\"\"\"" : "\"", kind_word((azc_mf_kind_t)kind));
      } else {
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
      }
    } else if (state == S_NAME) {
      char *w = to_utf8(b.v, b.n);
      if (w && find_instruction(w) >= 0)
        st = perr(P, P->line, "%s needs a value", w);
      else
        st = perr(P, P->line, "unknown instruction '%s' (expected " INSTRUCTIONS_LIST ")",
                  w ? w : "?");
      free(w);
    } else if (state == S_PARAMETER || state == S_MESSAGE) {
      char *w = to_utf8(b.v, b.n);
      st = perr(P, P->line, "%s %s needs a %s", state == S_PARAMETER ? "PARAMETER" : "MESSAGE",
                w ? w : "", state == S_PARAMETER ? "value" : "message");
      free(w);
    }
  }
  free(name);
  free(b.v);
  if (!st && !azc_modelfile_from(P->mf))
    st = perr(P, P->line, "no FROM line (a Modelfile names its model with FROM)");
  return st;
}

void azc_modelfile_free(azc_modelfile_t *mf) {
  if (!mf) return;
  for (size_t i = 0; i < mf->n_cmds; i++) {
    free(mf->cmds[i].name);
    free(mf->cmds[i].args);
  }
  free(mf->cmds);
  free(mf->path);
  free(mf->text);
  free(mf);
}

azc_status_t azc_modelfile_parse(const char *path, const void *data, size_t len,
                                 azc_modelfile_t **out) {
  *out = NULL;
  azc_modelfile_t *mf = calloc(1, sizeof(*mf));
  runes_t in = {0};
  azc_status_t st = mf ? decode(data, len, &in) : AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
  if (!st) {
    mf->path = strdup(path ? path : "Modelfile");
    mf->text = to_utf8(in.v, in.n);
    if (!mf->path || !mf->text)
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
    else
      mf->text_len = strlen(mf->text);
  }
  if (!st) {
    parser_t P = {.path = mf->path, .in = &in, .line = 1, .mf = mf};
    st = run(&P);
  }
  free(in.v);
  if (st) {
    azc_modelfile_free(mf);
    return st;
  }
  *out = mf;
  return NULL;
}

azc_status_t azc_modelfile_read(const char *path, azc_modelfile_t **out) {
  *out = NULL;
  char *data;
  size_t len;
  AZC_RETURN_IF_ERROR(azc_file_read_all(path, &data, &len));
  azc_status_t st = azc_modelfile_parse(path, data, len, out);
  free(data);
  return st;
}

const azc_mf_command_t *azc_modelfile_from(const azc_modelfile_t *mf) {
  for (size_t i = 0; i < mf->n_cmds; i++)
    if (mf->cmds[i].kind == AZC_MF_FROM) return &mf->cmds[i];
  return NULL;
}

/* ---- writing commands back (Ollama's Command.String) ---- */

static void put_quoted(azc_buf_t *b, const char *s) {
  size_t n = strlen(s);
  /* Ollama's quote() quotes a value with a line break or an outer space; azc
   * also quotes what would not read back otherwise: an empty value, an outer
   * tab, a '\r', a value that starts with a quote (`"x"` bare reads back as
   * x). A value with a line that ends in three quotes cannot be written at
   * all (the grammar would end it there). */
  bool needs = !n || strchr(s, '\n') || strchr(s, '\r') || s[0] == ' ' || s[0] == '\t' ||
               s[n - 1] == ' ' || s[n - 1] == '\t' || s[0] == '"';
  const char *q = !needs ? "" : strchr(s, '"') ? "\"\"\"" : "\"";
  azc_buf_puts(b, q);
  azc_buf_puts(b, s);
  azc_buf_puts(b, q);
}

azc_status_t azc_modelfile_format(const azc_modelfile_t *mf, char **out) {
  azc_buf_t b = {0};
  for (size_t i = 0; i < mf->n_cmds; i++) {
    const azc_mf_command_t *c = &mf->cmds[i];
    azc_buf_puts(&b, kind_word(c->kind));
    azc_buf_puts(&b, " ");
    if (c->kind == AZC_MF_FROM) {
      put_quoted(&b, c->args); /* bare in Ollama; quoted here when it must be to read back */
    } else {
      if (c->name) {
        azc_buf_puts(&b, c->name);
        azc_buf_puts(&b, " ");
      }
      put_quoted(&b, c->args);
    }
    azc_buf_puts(&b, "\n");
  }
  return azc_buf_take(&b, "Modelfile text", out, NULL);
}

/* ---- semantic versions (golang.org/x/mod/semver, after Ollama's "v" prefix) ---- */

typedef struct semver {
  long long part[3];
  const char *pre; /* prerelease without '-', or NULL */
  size_t pre_n;
} semver_t;

/* a number without leading zeros */
static const char *parse_num(const char *s, long long *out) {
  if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1]))) return NULL;
  long long v = 0;
  while (isdigit((unsigned char)*s)) {
    if (v > 1000000000000LL) return NULL;
    v = v * 10 + (*s++ - '0');
  }
  *out = v;
  return s;
}

static bool ident_ok(const char *s, size_t n, bool numeric_no_zero) {
  if (!n) return false;
  bool all_digits = true;
  for (size_t i = 0; i < n; i++) {
    if (!isalnum((unsigned char)s[i]) && s[i] != '-') return false;
    if (!isdigit((unsigned char)s[i])) all_digits = false;
  }
  return !(numeric_no_zero && all_digits && n > 1 && s[0] == '0');
}

static bool semver_parse(const char *v, semver_t *out) {
  memset(out, 0, sizeof(*out));
  const char *s = v && (v[0] == 'v') ? v + 1 : v; /* Ollama adds the v when it is missing */
  if (!s || !*s) return false;
  int parts = 0;
  for (; parts < 3;) {
    s = parse_num(s, &out->part[parts]);
    if (!s) return false;
    parts++;
    if (*s != '.') break;
    s++;
  }
  if (parts < 3 && (*s == '-' || *s == '+')) return false; /* v1.2-pre: shorthand takes no suffix */
  if (*s == '-') {
    const char *p = ++s, *e = p;
    while (*e && *e != '+') e++;
    for (const char *a = p; a <= e;) {
      const char *dot = memchr(a, '.', (size_t)(e - a));
      const char *end = dot ? dot : e;
      if (!ident_ok(a, (size_t)(end - a), true)) return false;
      a = end + 1;
      if (!dot) break;
    }
    out->pre = p;
    out->pre_n = (size_t)(e - p);
    s = e;
  }
  if (*s == '+') {
    const char *p = ++s;
    size_t n = strlen(p);
    for (const char *a = p; a <= p + n;) {
      const char *dot = memchr(a, '.', (size_t)(p + n - a));
      const char *end = dot ? dot : p + n;
      if (!ident_ok(a, (size_t)(end - a), false)) return false;
      a = end + 1;
      if (!dot) break;
    }
    s = p + n;
  }
  return *s == 0;
}

bool azc_semver_valid(const char *version) {
  semver_t v;
  return semver_parse(version, &v);
}

static int cmp_ident(const char *a, size_t an, const char *b, size_t bn) {
  bool da = true, db = true;
  for (size_t i = 0; i < an; i++) da = da && isdigit((unsigned char)a[i]);
  for (size_t i = 0; i < bn; i++) db = db && isdigit((unsigned char)b[i]);
  if (da && db) return an != bn ? (an < bn ? -1 : 1) : memcmp(a, b, an);
  if (da != db) return da ? -1 : 1; /* numbers sort before words */
  int c = memcmp(a, b, AZC_MIN(an, bn));
  return c ? c : (an > bn) - (an < bn);
}

int azc_semver_compare(const char *a, const char *b) {
  semver_t x, y;
  if (!semver_parse(a, &x) || !semver_parse(b, &y)) return 0;
  for (int i = 0; i < 3; i++)
    if (x.part[i] != y.part[i]) return x.part[i] < y.part[i] ? -1 : 1;
  if (!x.pre || !y.pre) return x.pre ? -1 : y.pre ? 1 : 0; /* a prerelease comes first */
  const char *p = x.pre, *q = y.pre, *pe = x.pre + x.pre_n, *qe = y.pre + y.pre_n;
  while (p < pe && q < qe) {
    const char *pd = memchr(p, '.', (size_t)(pe - p)), *qd = memchr(q, '.', (size_t)(qe - q));
    size_t pn = (size_t)((pd ? pd : pe) - p), qn = (size_t)((qd ? qd : qe) - q);
    int c = cmp_ident(p, pn, q, qn);
    if (c) return c < 0 ? -1 : 1;
    p += pn + 1;
    q += qn + 1;
  }
  return p < pe ? 1 : q < qe ? -1 : 0;
}

/* ---- applying a Modelfile ---- */

static azc_status_t cerr(const azc_modelfile_t *mf, const azc_mf_command_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static azc_status_t cerr(const azc_modelfile_t *mf, const azc_mf_command_t *c, const char *fmt,
                         ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return AZC_ERR(AZC_INVALID_ARGUMENT, "%s:%d: %s", mf->path, c->line, msg);
}

azc_status_t azc_modelfile_apply(const azc_modelfile_t *mf, azc_options_t *opts,
                                 azc_chat_info_t *ci, azc_mf_warn_fn warn, void *user) {
  const azc_mf_command_t *from = NULL;
  bool messages_seen = false;
  /* parameters named in this file replace a base model's, once */
  uint64_t replaced = 0;
  for (size_t i = 0; i < mf->n_cmds; i++) {
    const azc_mf_command_t *c = &mf->cmds[i];
    switch (c->kind) {
    case AZC_MF_FROM:
      if (from)
        return cerr(mf, c, "a second FROM '%s' (azc builds from one model; the first is '%s')",
                    c->args, from->args);
      if (!*c->args) return cerr(mf, c, "FROM needs a model (a GGUF path, a bundle or a name)");
      from = c;
      AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_FROM, c->args, strlen(c->args)));
      break;
    case AZC_MF_PARAMETER: {
      bool deprecated = false;
      const azc_option_info_t *inf = azc_option_find(c->name);
      if (inf && inf->id >= 0 && !(replaced >> inf->id & 1)) {
        replaced |= 1ull << inf->id;
        azc_chat_info_remove_params(ci, c->name);
        if (inf->id == AZC_OPT_STOP) azc_options_clear_stop(opts);
      }
      azc_status_t st = azc_options_set_text(opts, c->name, c->args, &deprecated);
      if (st) {
        azc_status_t w = cerr(mf, c, "PARAMETER %s: %s", c->name, azc_status_message(st));
        azc_status_free(st);
        return w;
      }
      if (deprecated) {
        if (warn) {
          char m[400];
          snprintf(m, sizeof(m), "%s:%d: parameter %s is deprecated (ignored, as in Ollama)",
                   mf->path, c->line, c->name);
          warn(user, m);
        }
        break;
      }
      if (inf->id != AZC_OPT_STOP) azc_chat_info_remove_params(ci, c->name); /* the last one wins */
      AZC_RETURN_IF_ERROR(azc_chat_info_add_param(ci, c->name, c->args));
      break;
    }
    case AZC_MF_TEMPLATE: {
      azc_chat_template_t *t;
      azc_status_t st = azc_chat_template_go(c->args, strlen(c->args), &t);
      if (st) {
        azc_status_t w = cerr(mf, c, "%s", azc_status_message(st));
        azc_status_free(st);
        return w;
      }
      azc_chat_template_destroy(t);
      AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE, c->args, strlen(c->args)));
      break;
    }
    case AZC_MF_SYSTEM:
      AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_SYSTEM, c->args, strlen(c->args)));
      break;
    case AZC_MF_MESSAGE:
      if (!messages_seen) { /* this file's MESSAGEs replace a base model's */
        for (size_t k = 0; k < ci->n_messages; k++) {
          free(ci->msg_role[k]);
          free(ci->msg_content[k]);
        }
        ci->n_messages = 0;
        messages_seen = true;
      }
      AZC_RETURN_IF_ERROR(azc_chat_info_add_message(ci, c->name, c->args));
      break;
    case AZC_MF_LICENSE: AZC_RETURN_IF_ERROR(azc_chat_info_add_license(ci, c->args)); break;
    case AZC_MF_DRAFT:
      if (!*c->args) return cerr(mf, c, "DRAFT needs a model");
      AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_DRAFT, c->args, strlen(c->args)));
      break;
    case AZC_MF_REQUIRES:
      if (!azc_semver_valid(c->args))
        return cerr(mf, c, "REQUIRES '%s': requires must be a valid semver (e.g. 0.14.0)", c->args);
      if (azc_semver_compare(AZC_VERSION_STRING, c->args) < 0)
        return cerr(mf, c, "REQUIRES %s: this model requires azc %s or later; this is azc %s",
                    c->args, c->args[0] == 'v' ? c->args + 1 : c->args, AZC_VERSION_STRING);
      AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_REQUIRES, c->args, strlen(c->args)));
      break;
    case AZC_MF_ADAPTER:
      return cerr(mf, c, "ADAPTER '%s' is not supported by azc (LoRA adapters are not implemented)",
                  c->args);
    case AZC_MF_RENDERER:
    case AZC_MF_PARSER:
      return cerr(mf, c,
                  "%s '%s' is not supported by azc (Ollama's built-in %ss; azc renders prompts "
                  "with the chat template and returns text as generated)",
                  kind_word(c->kind), c->args, c->kind == AZC_MF_RENDERER ? "renderer" : "parser");
    }
  }
  if (!from) return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: no FROM line", mf->path);
  return azc_chat_info_set(ci, AZC_CHAT_MODELFILE, mf->text, mf->text_len);
}
