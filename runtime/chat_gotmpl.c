/* Go templates for Modelfile TEMPLATEs, executed as Ollama executes them
 * (Ollama's template/template.go over Go's text/template).
 *
 * The language: text and {{ actions }} with {{- and -}} trimming (the dash
 * must be followed, resp. preceded, by a space), comment actions (slash-star
 * ... star-slash inside the braces),
 * pipelines (cmd | cmd passes the value as the last argument), fields
 * (.Messages, .Role, $.System, $m.Content, (pipe).Field), variables
 * ($x := pipe, $x = pipe, range $i, $m := pipe), literals (strings with Go
 * escapes, raw `strings`, numbers, true/false/nil), if/else if/else, range
 * (with else, break, continue), with (with else), and the functions and, or,
 * not, eq, ne, lt, le, gt, ge, len, index, slice, print, println, printf
 * (%s %d %v %q %%) and Ollama's json. Missing keys of the data print as
 * "<no value>" (Go's behaviour for map[string]any even with
 * missingkey=zero); an unknown field of a message is an error, as in Go.
 * define/template/block are refused at parse time.
 *
 * Ollama's execution: a template that mentions neither .Messages nor
 * .Response gets {{ .Response }} appended; consecutive messages of one role
 * are merged with "\n\n" and the system messages joined into .System; a
 * template that uses .Messages runs once; otherwise it runs once per turn
 * (system/prompt/response triples) and the last run is cut after its
 * {{ .Response }}. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/base/arena.h"
#include "runtime/base/util.h"
#include "runtime/chat_internal.h"

enum { G_MAX_DEPTH = 64, G_MAX_STEPS = 1000000, G_MAX_OUTPUT = 1 << 20 };

/* ---- tree ---- */

typedef enum gnode_kind {
  G_TEXT,
  G_ACTION,
  G_IF,
  G_RANGE,
  G_WITH,
  G_BREAK,
  G_CONTINUE,
  /* in pipelines */
  G_FIELD, /* .A.B (name: "A.B" split into idents) on dot */
  G_VAR,   /* $x.A.B */
  G_FUNC,  /* identifier */
  G_STRING,
  G_NUMBER,
  G_BOOL,
  G_NIL,
  G_PIPE, /* parenthesized pipeline, optionally followed by fields */
} gnode_kind_t;

typedef struct gnode gnode_t;

typedef struct gcmd {
  gnode_t **args;
  size_t n;
} gcmd_t;

typedef struct gpipe {
  const char *decl[2]; /* variables declared (:=) or assigned (=), with '$' */
  int n_decl;
  bool assign; /* '=' rather than ':=' */
  gcmd_t *cmds;
  size_t n_cmds;
} gpipe_t;

struct gnode {
  gnode_kind_t kind;
  int line;
  int seq;          /* position in document order (pre-order over the bodies), from 1 */
  const char *text; /* G_TEXT; G_STRING value; G_FUNC/G_VAR name */
  size_t text_n;
  const char **idents; /* G_FIELD / G_VAR / G_PIPE: the field chain */
  size_t n_idents;
  double num;
  bool is_int, b;
  gpipe_t *pipe;  /* G_ACTION, G_IF, G_RANGE, G_WITH, G_PIPE */
  gnode_t **list; /* body */
  size_t n_list;
  gnode_t **else_list;
  size_t n_else;
  bool has_else;
};

struct azc_gotmpl {
  azc_arena_t arena;
  gnode_t **root;
  size_t n_root;
  bool uses_messages, uses_response; /* identifiers .Messages / .Response appear */
  int cut_seq; /* the first action printing .Response: Ollama's last turn stops after it */
};

/* ---- parsing ---- */

typedef struct gparse {
  azc_arena_t *arena;
  const char *src;
  size_t len, pos;
  int line;
  char err[200];
  bool failed;
  const char *act_end; /* end of the current action's inside */
  bool trim_next;
  int depth;
  struct azc_gotmpl *t;
} gparse_t;

static void gfail(gparse_t *P, const char *fmt, ...) {
  if (P->failed) return;
  P->failed = true;
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(P->err, sizeof(P->err), "line %d: ", P->line);
  vsnprintf(P->err + k, sizeof(P->err) - (size_t)k, fmt, ap);
  va_end(ap);
}

static void *galloc(gparse_t *P, size_t n) {
  void *p = azc_arena_alloc(P->arena, n ? n : 1, 8);
  if (!p)
    gfail(P, "out of memory");
  else
    memset(p, 0, n ? n : 1);
  return p;
}

static gnode_t *gnew(gparse_t *P, gnode_kind_t k) {
  gnode_t *n = galloc(P, sizeof(*n));
  if (n) n->kind = k, n->line = P->line;
  return n;
}

typedef struct gvec {
  void **v;
  size_t n, cap;
} gvec_t;

static void gpush(gparse_t *P, gvec_t *a, void *x) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    void **v = galloc(P, cap * sizeof(*v));
    if (!v) return;
    if (a->n) memcpy(v, a->v, a->n * sizeof(*v));
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = x;
}

/* inside an action: */
static void skip_space(gparse_t *P) {
  while (P->src + P->pos < P->act_end && isspace((unsigned char)P->src[P->pos])) {
    if (P->src[P->pos] == '\n') P->line++;
    P->pos++;
  }
}

static bool at_end(gparse_t *P) {
  skip_space(P);
  return P->src + P->pos >= P->act_end;
}

static bool peek_char(gparse_t *P, char c) { return !at_end(P) && P->src[P->pos] == c; }

static bool is_ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* a word at the cursor (without consuming) */
static size_t word_len(gparse_t *P) {
  size_t n = 0;
  while (P->src + P->pos + n < P->act_end && is_ident_char(P->src[P->pos + n])) n++;
  return n;
}

static bool peek_word(gparse_t *P, const char *w) {
  if (at_end(P)) return false;
  size_t n = word_len(P);
  return n == strlen(w) && !memcmp(P->src + P->pos, w, n);
}

static char *gdup(gparse_t *P, const char *s, size_t n) {
  char *d = galloc(P, n + 1);
  if (d) memcpy(d, s, n);
  return d;
}

/* .A.B.C after a term: the idents */
static void parse_field_chain(gparse_t *P, gvec_t *ids) {
  while (P->src + P->pos < P->act_end && P->src[P->pos] == '.') {
    P->pos++;
    size_t n = word_len(P);
    if (!n) {
      gfail(P, "expected a field name after '.'");
      return;
    }
    char *id = gdup(P, P->src + P->pos, n);
    gpush(P, ids, id);
    if (id && !strcasecmp(id, "messages")) P->t->uses_messages = true;
    if (id && !strcasecmp(id, "response")) P->t->uses_response = true;
    P->pos += n;
  }
}

static gpipe_t *parse_pipeline(gparse_t *P, bool allow_decl, bool allow_two);

static gnode_t *parse_operand(gparse_t *P) {
  if (at_end(P)) {
    gfail(P, "missing value");
    return NULL;
  }
  const char *s = P->src + P->pos;
  char c = *s;
  gnode_t *n = NULL;
  gvec_t ids = {0};
  if (c == '.') {
    n = gnew(P, G_FIELD);
    if (P->src + P->pos + 1 >= P->act_end || !is_ident_char(s[1]))
      P->pos++; /* lone dot */
    else
      parse_field_chain(P, &ids);
  } else if (c == '$') {
    n = gnew(P, G_VAR);
    P->pos++;
    size_t w = word_len(P);
    if (n) n->text = gdup(P, s, w + 1), n->text_n = w + 1;
    P->pos += w;
    parse_field_chain(P, &ids);
  } else if (c == '(') {
    P->pos++;
    const char *saved_end = P->act_end;
    /* find the matching ')' within the action */
    int depth = 1;
    size_t q = P->pos;
    char quote = 0;
    for (; P->src + q < saved_end; q++) {
      char d = P->src[q];
      if (quote) {
        if (d == '\\' && quote == '"')
          q++;
        else if (d == quote)
          quote = 0;
      } else if (d == '"' || d == '`' || d == '\'')
        quote = d;
      else if (d == '(')
        depth++;
      else if (d == ')' && --depth == 0)
        break;
    }
    if (P->src + q >= saved_end) {
      gfail(P, "unclosed '('");
      return NULL;
    }
    P->act_end = P->src + q;
    n = gnew(P, G_PIPE);
    if (n) n->pipe = parse_pipeline(P, false, false);
    if (!at_end(P)) gfail(P, "unexpected text in parentheses");
    P->act_end = saved_end;
    P->pos = q + 1;
    parse_field_chain(P, &ids);
  } else if (c == '"' || c == '`') {
    P->pos++;
    char *out = galloc(P, (size_t)(P->act_end - s) + 1);
    size_t k = 0;
    while (out && P->src + P->pos < P->act_end && P->src[P->pos] != c) {
      char d = P->src[P->pos++];
      if (c == '"' && d == '\n') {
        gfail(P, "newline in a string");
        return NULL;
      }
      if (c == '"' && d == '\\' && P->src + P->pos < P->act_end) {
        char e = P->src[P->pos++];
        switch (e) {
        case 'n': d = '\n'; break;
        case 't': d = '\t'; break;
        case 'r': d = '\r'; break;
        case '\\': d = '\\'; break;
        case '"': d = '"'; break;
        case '\'': d = '\''; break;
        default: gfail(P, "string escape '\\%c' is not supported", e); return NULL;
        }
      }
      if (d == '\n') P->line++;
      out[k++] = d;
    }
    if (P->src + P->pos >= P->act_end) {
      gfail(P, "unterminated string");
      return NULL;
    }
    P->pos++;
    n = gnew(P, G_STRING);
    if (n) n->text = out, n->text_n = k;
  } else if (isdigit((unsigned char)c) ||
             ((c == '-' || c == '+') && P->src + P->pos + 1 < P->act_end &&
              isdigit((unsigned char)s[1]))) {
    char *end;
    double v = strtod(s, &end);
    if (end > P->act_end || end == s) {
      gfail(P, "bad number");
      return NULL;
    }
    n = gnew(P, G_NUMBER);
    if (n) {
      n->num = v;
      /* an integer that does not fit int64 is a float constant, as in Go */
      n->is_int = !memchr(s, '.', (size_t)(end - s)) && !memchr(s, 'e', (size_t)(end - s)) &&
                  !memchr(s, 'E', (size_t)(end - s)) && v >= -9223372036854775808.0 &&
                  v < 9223372036854775808.0;
    }
    P->pos = (size_t)(end - P->src);
  } else if (is_ident_char(c)) {
    size_t w = word_len(P);
    if (w == 4 && !memcmp(s, "true", 4)) {
      n = gnew(P, G_BOOL);
      if (n) n->b = true;
    } else if (w == 5 && !memcmp(s, "false", 5)) {
      n = gnew(P, G_BOOL);
    } else if (w == 3 && !memcmp(s, "nil", 3)) {
      n = gnew(P, G_NIL);
    } else {
      static const char *const funcs[] = {"and",   "or",     "not",     "eq",   "ne",    "lt",
                                          "le",    "gt",     "ge",      "len",  "index", "slice",
                                          "print", "printf", "println", "json", NULL};
      bool known = false;
      for (int i = 0; funcs[i] && !known; i++)
        known = w == strlen(funcs[i]) && !memcmp(s, funcs[i], w);
      if (!known) { /* Go's parser refuses an unknown function */
        gfail(P, "function \"%.*s\" not defined", (int)w, s);
        return NULL;
      }
      n = gnew(P, G_FUNC);
      if (n) n->text = gdup(P, s, w), n->text_n = w;
    }
    P->pos += w;
  } else {
    gfail(P, "unexpected '%c'", c);
    return NULL;
  }
  if (n) {
    n->idents = (const char **)ids.v;
    n->n_idents = ids.n;
  }
  return n;
}

static gpipe_t *parse_pipeline(gparse_t *P, bool allow_decl, bool allow_two) {
  gpipe_t *p = galloc(P, sizeof(*p));
  if (!p) return NULL;
  /* declarations: $x := / $x = / $i, $m := */
  if (allow_decl && peek_char(P, '$')) {
    size_t save = P->pos;
    const char *names[2];
    int n = 0;
    for (;;) {
      if (!peek_char(P, '$')) break;
      size_t st = P->pos;
      P->pos++;
      size_t w = word_len(P);
      P->pos += w;
      if (n < 2) names[n++] = gdup(P, P->src + st, w + 1);
      skip_space(P);
      if (allow_two && n == 1 && peek_char(P, ',')) {
        P->pos++;
        continue;
      }
      break;
    }
    skip_space(P);
    const char *q = P->src + P->pos;
    if (q + 1 < P->act_end && q[0] == ':' && q[1] == '=') {
      P->pos += 2;
      p->n_decl = n;
      memcpy(p->decl, names, sizeof(names));
    } else if (q < P->act_end && q[0] == '=' && n == 1) {
      P->pos += 1;
      p->n_decl = 1;
      p->assign = true;
      p->decl[0] = names[0];
    } else {
      P->pos = save;
    }
  }
  gvec_t cmds = {0};
  for (;;) {
    gvec_t args = {0};
    while (!P->failed && !at_end(P) && !peek_char(P, '|')) gpush(P, &args, parse_operand(P));
    if (!args.n) {
      gfail(P, "missing command");
      return p;
    }
    gcmd_t *c = galloc(P, sizeof(*c));
    if (!c) return p;
    c->args = (gnode_t **)args.v;
    c->n = args.n;
    gpush(P, &cmds, c);
    if (P->failed || !peek_char(P, '|')) break;
    P->pos++;
  }
  p->n_cmds = cmds.n;
  p->cmds = galloc(P, cmds.n * sizeof(gcmd_t));
  for (size_t i = 0; p->cmds && i < cmds.n; i++) p->cmds[i] = *(gcmd_t *)cmds.v[i];
  return p;
}

/* The next action or text. Returns the action's keyword in *kw (NULL for a
 * plain pipeline or text), leaving P->pos inside the action after it. */
typedef struct item {
  enum { I_EOF, I_TEXT, I_ACTION } kind;
  const char *text;
  size_t n;
  const char *kw;    /* "if", "else", "end", "range", "with", "break", "continue", or NULL */
  const char *close; /* where the action's closing delimiter starts */
  bool trim_after;
} item_t;

static item_t next_item(gparse_t *P) {
  item_t it = {I_EOF};
  if (P->failed || P->pos >= P->len) return it;
  const char *s = P->src + P->pos, *end = P->src + P->len;
  const char *open = NULL;
  for (const char *q = s; q + 1 < end; q++)
    if (q[0] == '{' && q[1] == '{') {
      open = q;
      break;
    }
  if (open != s) { /* text up to the next action, trimmed as the actions say */
    const char *stop = open ? open : end;
    const char *a = s, *b = stop;
    if (P->trim_next)
      while (a < b && isspace((unsigned char)*a)) a++;
    if (open && open + 3 < end && open[2] == '-' && isspace((unsigned char)open[3]))
      while (b > a && isspace((unsigned char)b[-1])) b--;
    P->trim_next = false;
    P->line += 0;
    for (const char *q = s; q < stop; q++) P->line += *q == '\n';
    P->pos = (size_t)(stop - P->src);
    it.kind = I_TEXT;
    it.text = a;
    it.n = (size_t)(b - a);
    return it;
  }
  P->trim_next = false;
  const char *in = open + 2;
  if (in + 1 < end && in[0] == '-' && isspace((unsigned char)in[1])) in += 2;
  /* the closing delimiter: outside strings */
  const char *close = NULL;
  char quote = 0;
  bool comment = false;
  {
    const char *q = in;
    while (q < end && isspace((unsigned char)*q)) q++;
    comment = q + 1 < end && q[0] == '/' && q[1] == '*';
    if (comment) {
      const char *e = NULL;
      for (const char *r = q + 2; r + 1 < end; r++)
        if (r[0] == '*' && r[1] == '/') {
          e = r + 2;
          break;
        }
      if (!e) {
        gfail(P, "unclosed comment");
        return it;
      }
      in = e;
    }
  }
  for (const char *q = in; q + 1 < end; q++) {
    if (quote) {
      if (*q == '\\' && quote == '"')
        q++;
      else if (*q == quote)
        quote = 0;
      continue;
    }
    if (*q == '"' || *q == '`' || *q == '\'')
      quote = *q;
    else if (q[0] == '}' && q[1] == '}') {
      close = q;
      break;
    }
  }
  if (!close) {
    gfail(P, "unclosed action");
    return it;
  }
  it.kind = I_ACTION;
  it.close = close;
  if (close - 2 >= in && close[-1] == '-' && isspace((unsigned char)close[-2])) {
    it.trim_after = true;
    close -= 1;
  }
  P->act_end = close;
  for (const char *q = open; q < in; q++) P->line += *q == '\n';
  P->pos = (size_t)(in - P->src);
  if (comment) {
    if (!at_end(P)) gfail(P, "text after a comment in the same action");
    it.kw = "comment";
  } else {
    static const char *const kws[] = {"if",       "else",   "end",      "range", "with", "break",
                                      "continue", "define", "template", "block", NULL};
    for (int i = 0; kws[i]; i++)
      if (peek_word(P, kws[i])) {
        it.kw = kws[i];
        P->pos += strlen(kws[i]);
        break;
      }
  }
  return it;
}

/* after an action: */
static void finish_action(gparse_t *P, const item_t *it) {
  if (P->failed) return;
  if (!at_end(P)) gfail(P, "unexpected text in the action");
  P->pos = (size_t)(it->close - P->src) + 2;
  for (const char *q = P->act_end; q < it->close; q++) P->line += *q == '\n';
  P->trim_next = it->trim_after;
}

static const char *parse_list(gparse_t *P, gvec_t *out, bool in_range, item_t *term);

/* if / range / with, from after its keyword: the pipeline, the body, an
 * optional {{ else }} (or {{ else if }} / {{ else with }}, which is a nested
 * node owning the rest) and the {{ end }}. */
static gnode_t *parse_control(gparse_t *P, gnode_kind_t k, const item_t *it, bool in_range) {
  gnode_t *n = gnew(P, k);
  if (!n) return NULL;
  if (++P->depth > G_MAX_DEPTH) {
    gfail(P, "nested too deeply");
    return n;
  }
  n->pipe = parse_pipeline(P, true, k == G_RANGE);
  finish_action(P, it);
  gvec_t body = {0}, els = {0};
  item_t term;
  const char *w = parse_list(P, &body, in_range || k == G_RANGE, &term);
  n->list = (gnode_t **)body.v;
  n->n_list = body.n;
  if (w && !strcmp(w, "else")) {
    n->has_else = true;
    bool chain_if = peek_word(P, "if"), chain_with = peek_word(P, "with");
    if (chain_if || chain_with) {
      P->pos += chain_if ? 2 : 4;
      gpush(P, &els, parse_control(P, chain_if ? G_IF : G_WITH, &term, in_range));
      w = "end"; /* the nested node consumed it */
    } else {
      finish_action(P, &term);
      w = parse_list(P, &els, in_range, &term);
      if (w && !strcmp(w, "else"))
        gfail(P, "a second {{ else }}");
      else if (w)
        finish_action(P, &term);
    }
    n->else_list = (gnode_t **)els.v;
    n->n_else = els.n;
  } else if (w && !strcmp(w, "end")) {
    finish_action(P, &term);
  }
  if (!w || strcmp(w, "end")) gfail(P, "missing {{ end }}");
  P->depth--;
  return n;
}

/* Items up to {{ else }} or {{ end }} (returned, with *term describing it;
 * the caller finishes that action) or the end of the template (NULL). */
static const char *parse_list(gparse_t *P, gvec_t *out, bool in_range, item_t *term) {
  while (!P->failed) {
    item_t it = next_item(P);
    if (it.kind == I_EOF) return NULL;
    if (it.kind == I_TEXT) {
      if (!it.n) continue;
      gnode_t *n = gnew(P, G_TEXT);
      if (n) n->text = it.text, n->text_n = it.n;
      gpush(P, out, n);
      continue;
    }
    if (it.kw && (!strcmp(it.kw, "else") || !strcmp(it.kw, "end"))) {
      *term = it;
      return it.kw;
    }
    if (it.kw && !strcmp(it.kw, "comment")) {
      finish_action(P, &it);
      continue;
    }
    gnode_t *n = NULL;
    if (!it.kw) {
      n = gnew(P, G_ACTION);
      if (n) n->pipe = parse_pipeline(P, true, false);
      finish_action(P, &it);
    } else if (!strcmp(it.kw, "if")) {
      n = parse_control(P, G_IF, &it, in_range);
    } else if (!strcmp(it.kw, "range")) {
      n = parse_control(P, G_RANGE, &it, in_range);
    } else if (!strcmp(it.kw, "with")) {
      n = parse_control(P, G_WITH, &it, in_range);
    } else if (!strcmp(it.kw, "break") || !strcmp(it.kw, "continue")) {
      if (!in_range) gfail(P, "{{ %s }} outside {{ range }}", it.kw);
      n = gnew(P, it.kw[0] == 'b' ? G_BREAK : G_CONTINUE);
      finish_action(P, &it);
    } else {
      gfail(P, "{{ %s }} is not supported", it.kw);
    }
    gpush(P, out, n);
  }
  return NULL;
}

/* true when a pipeline prints .Response as Ollama's deleteNode finds it: a
 * dot field (not $.Response) among a command's arguments, nested pipelines
 * included */
static bool prints_response(const gpipe_t *p) {
  for (size_t c = 0; p && c < p->n_cmds; c++)
    for (size_t a = 0; a < p->cmds[c].n; a++) {
      const gnode_t *x = p->cmds[c].args[a];
      if (!x) continue;
      if (x->kind == G_FIELD)
        for (size_t i = 0; i < x->n_idents; i++)
          if (!strcmp(x->idents[i], "Response")) return true;
      if (x->kind == G_PIPE && !x->n_idents && prints_response(x->pipe)) return true;
    }
  return false;
}

/* Numbers nodes in document order and finds the cut (Ollama walks bodies
 * and action pipelines, not the conditions of if/range/with). */
static void number(gnode_t **list, size_t n, int *seq, int *cut) {
  for (size_t i = 0; i < n; i++) {
    gnode_t *x = list[i];
    if (!x) continue;
    x->seq = ++*seq;
    if (x->kind == G_ACTION && !*cut && prints_response(x->pipe)) *cut = x->seq;
    number(x->list, x->n_list, seq, cut);
    number(x->else_list, x->n_else, seq, cut);
  }
}

azc_status_t azc_gotmpl_parse(const char *src, size_t len, azc_gotmpl_t **out) {
  *out = NULL;
  azc_gotmpl_t *t = calloc(1, sizeof(*t));
  if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "template");
  azc_arena_init(&t->arena, 1 << 14);
  gparse_t P = {.arena = &t->arena, .src = src, .len = len, .line = 1, .t = t};
  if (memchr(src, 0, len)) gfail(&P, "the template holds a NUL byte");
  gvec_t root = {0};
  item_t term;
  const char *w = P.failed ? NULL : parse_list(&P, &root, false, &term);
  if (w) gfail(&P, "unexpected {{ %s }}", w);
  if (P.failed) {
    azc_gotmpl_free(t);
    return AZC_ERR(AZC_INVALID_ARGUMENT, "template: %s", P.err);
  }
  t->root = (gnode_t **)root.v;
  t->n_root = root.n;
  if (!t->uses_messages && !t->uses_response) { /* Ollama appends {{ .Response }} */
    gnode_t *resp = gnew(&P, G_ACTION);
    gpipe_t *p = galloc(&P, sizeof(*p));
    gcmd_t *c = galloc(&P, sizeof(*c));
    gnode_t *f = gnew(&P, G_FIELD);
    const char **ids = galloc(&P, sizeof(char *));
    gnode_t **nr = galloc(&P, (t->n_root + 1) * sizeof(gnode_t *));
    gnode_t **args = galloc(&P, sizeof(gnode_t *));
    if (P.failed) {
      azc_gotmpl_free(t);
      return AZC_ERR(AZC_OUT_OF_MEMORY, "template");
    }
    ids[0] = "Response";
    f->idents = ids;
    f->n_idents = 1;
    args[0] = f;
    c->args = args;
    c->n = 1;
    p->cmds = c;
    p->n_cmds = 1;
    resp->pipe = p;
    if (t->n_root) memcpy(nr, t->root, t->n_root * sizeof(gnode_t *));
    nr[t->n_root] = resp;
    t->root = nr;
    t->n_root++;
    t->uses_response = true;
  }
  int seq = 0;
  t->cut_seq = 0;
  number(t->root, t->n_root, &seq, &t->cut_seq);
  *out = t;
  return NULL;
}

void azc_gotmpl_free(azc_gotmpl_t *t) {
  if (!t) return;
  azc_arena_free(&t->arena);
  free(t);
}

/* ---- execution ---- */

typedef enum gvkind {
  GV_NIL,
  GV_NOVALUE, /* a missing key of the data map: prints "<no value>" */
  GV_BOOL,
  GV_INT,
  GV_FLOAT,
  GV_STRING,
  GV_MESSAGES, /* a slice of messages */
  GV_MESSAGE,
  GV_EMPTY, /* an empty slice (Tools, ToolCalls, Images) */
  GV_DATA,  /* the data map */
} gvkind_t;

typedef struct gval {
  gvkind_t k;
  bool b;
  int64_t i;
  double f;
  const char *s;
  size_t n;                    /* string length, slice length */
  const azc_chat_message_t *m; /* GV_MESSAGE: the message; GV_MESSAGES: the first */
} gval_t;

typedef struct gdata {
  const char *system, *prompt, *response;
  const azc_chat_message_t *msgs;
  size_t n_msgs;
  bool with_messages; /* the map has Messages and Tools */
} gdata_t;

typedef struct gvar {
  const char *name;
  gval_t v;
} gvar_t;

typedef struct gexec {
  const gdata_t *data;
  azc_arena_t *arena; /* strings made while running (print, printf, json) */
  azc_buf_t *out;
  gvar_t vars[64];
  int n_vars;
  long steps;
  int depth, cut; /* cut: nodes after this seq are not run (0: none) */
  char err[200];
  bool failed;
  int flow; /* 0, 1 break, 2 continue */
} gexec_t;

static void xfail(gexec_t *X, const gnode_t *n, const char *fmt, ...) {
  if (X->failed) return;
  X->failed = true;
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(X->err, sizeof(X->err), "line %d: ", n ? n->line : 0);
  vsnprintf(X->err + k, sizeof(X->err) - (size_t)k, fmt, ap);
  va_end(ap);
}

static gval_t gstr(const char *s, size_t n) { return (gval_t){.k = GV_STRING, .s = s, .n = n}; }
static gval_t gcstr(const char *s) { return gstr(s ? s : "", s ? strlen(s) : 0); }
static gval_t gbool(bool b) { return (gval_t){.k = GV_BOOL, .b = b}; }

static bool gtruth(gval_t v) {
  switch (v.k) {
  case GV_NIL:
  case GV_NOVALUE:
  case GV_EMPTY: return false;
  case GV_BOOL: return v.b;
  case GV_INT: return v.i != 0;
  case GV_FLOAT: return v.f != 0;
  case GV_STRING: return v.n != 0;
  case GV_MESSAGES: return v.n != 0;
  case GV_MESSAGE:
  case GV_DATA: return true;
  }
  return false;
}

static gval_t field_of(gexec_t *X, const gnode_t *at, gval_t v, const char *name) {
  if (v.k == GV_DATA) {
    const gdata_t *d = X->data;
    if (!strcmp(name, "System")) return gcstr(d->system);
    if (!strcmp(name, "Prompt") && !d->with_messages) return gcstr(d->prompt);
    if (!strcmp(name, "Response")) return gcstr(d->response);
    if (!strcmp(name, "Think") || !strcmp(name, "IsThinkSet")) return gbool(false);
    if (d->with_messages && !strcmp(name, "Messages"))
      return (gval_t){.k = GV_MESSAGES, .m = d->msgs, .n = d->n_msgs};
    if (d->with_messages && !strcmp(name, "Tools")) return (gval_t){.k = GV_EMPTY};
    return (gval_t){.k = GV_NOVALUE};
  }
  if (v.k == GV_MESSAGE) {
    if (!strcmp(name, "Role")) return gcstr(v.m->role);
    if (!strcmp(name, "Content")) return gcstr(v.m->content);
    if (!strcmp(name, "Thinking") || !strcmp(name, "ToolName")) return gstr("", 0);
    if (!strcmp(name, "Images") || !strcmp(name, "ToolCalls")) return (gval_t){.k = GV_EMPTY};
    xfail(X, at, "can't evaluate field %s in type *api.Message", name);
    return (gval_t){.k = GV_NIL};
  }
  if (v.k == GV_NOVALUE || v.k == GV_NIL) {
    xfail(X, at, "nil pointer evaluating .%s", name);
    return v;
  }
  xfail(X, at, "can't evaluate field %s in a %s", name,
        v.k == GV_STRING ? "string"
        : v.k == GV_BOOL ? "bool"
                         : "value");
  return (gval_t){.k = GV_NIL};
}

static gval_t fields(gexec_t *X, const gnode_t *at, gval_t v, const char *const *ids, size_t n) {
  for (size_t i = 0; i < n && !X->failed; i++) v = field_of(X, at, v, ids[i]);
  return v;
}

static void put_gval(gexec_t *X, const gnode_t *at, azc_buf_t *b, gval_t v) {
  char num[40];
  switch (v.k) {
  case GV_NIL: azc_buf_puts(b, "<nil>"); break;
  case GV_NOVALUE: azc_buf_puts(b, "<no value>"); break;
  case GV_BOOL: azc_buf_puts(b, v.b ? "true" : "false"); break;
  case GV_INT:
    snprintf(num, sizeof(num), "%lld", (long long)v.i);
    azc_buf_puts(b, num);
    break;
  case GV_FLOAT:
    snprintf(num, sizeof(num), "%.17g", v.f);
    for (int p = 1; p <= 17; p++) { /* Go's %v: the shortest form that reads back */
      char t[40];
      snprintf(t, sizeof(t), "%.*g", p, v.f);
      if (strtod(t, NULL) == v.f) {
        memcpy(num, t, sizeof(t));
        break;
      }
    }
    azc_buf_puts(b, num);
    break;
  case GV_STRING: azc_buf_put(b, v.s, v.n); break;
  case GV_EMPTY: azc_buf_puts(b, "[]"); break;
  default: xfail(X, at, "printing a message or a list of messages is not supported"); break;
  }
}

static bool gv_equal(gexec_t *X, const gnode_t *at, gval_t a, gval_t b) {
  if (a.k == GV_STRING && b.k == GV_STRING) return a.n == b.n && !memcmp(a.s, b.s, a.n);
  if (a.k == GV_INT && b.k == GV_INT) return a.i == b.i;
  if ((a.k == GV_INT || a.k == GV_FLOAT) && (b.k == GV_INT || b.k == GV_FLOAT)) {
    if (a.k != b.k) xfail(X, at, "incompatible types for comparison");
    return (a.k == GV_INT ? (double)a.i : a.f) == (b.k == GV_INT ? (double)b.i : b.f);
  }
  if (a.k == GV_BOOL && b.k == GV_BOOL) return a.b == b.b;
  if (a.k == GV_NIL && b.k == GV_NIL) return true;
  xfail(X, at, "incompatible types for comparison");
  return false;
}

static int gv_order(gexec_t *X, const gnode_t *at, gval_t a, gval_t b) {
  if (a.k == GV_STRING && b.k == GV_STRING) {
    int c = memcmp(a.s, b.s, AZC_MIN(a.n, b.n));
    return c ? c : (a.n > b.n) - (a.n < b.n);
  }
  if (a.k == GV_INT && b.k == GV_INT) return (a.i > b.i) - (a.i < b.i);
  if (a.k == GV_FLOAT && b.k == GV_FLOAT) return (a.f > b.f) - (a.f < b.f);
  xfail(X, at, "incompatible types for comparison");
  return 0;
}

static gval_t run_pipe(gexec_t *X, const gpipe_t *p, gval_t dot);

/* One operand's value (a function name alone is a call with no args). */
static gval_t operand(gexec_t *X, const gnode_t *a, gval_t dot) {
  switch (a->kind) {
  case G_FIELD: return a->n_idents ? fields(X, a, dot, a->idents, a->n_idents) : dot;
  case G_VAR:
    for (int i = X->n_vars - 1; i >= 0; i--)
      if (!strcmp(X->vars[i].name, a->text))
        return fields(X, a, X->vars[i].v, a->idents, a->n_idents);
    xfail(X, a, "undefined variable: %s", a->text);
    return (gval_t){.k = GV_NIL};
  case G_STRING: return gstr(a->text, a->text_n);
  case G_NUMBER:
    return a->is_int ? (gval_t){.k = GV_INT, .i = (int64_t)a->num}
                     : (gval_t){.k = GV_FLOAT, .f = a->num};
  case G_BOOL: return gbool(a->b);
  case G_NIL: return (gval_t){.k = GV_NIL};
  case G_PIPE: return fields(X, a, run_pipe(X, a->pipe, dot), a->idents, a->n_idents);
  default: xfail(X, a, "unexpected operand"); return (gval_t){.k = GV_NIL};
  }
}

static int64_t gint(gexec_t *X, const gnode_t *at, gval_t v) {
  if (v.k != GV_INT) xfail(X, at, "expected an integer");
  return v.i;
}

static gval_t call(gexec_t *X, const gnode_t *fn, const gcmd_t *c, gval_t dot,
                   const gval_t *extra) {
  const char *f = fn->text;
  gval_t av[16];
  size_t n = 0;
  bool lazy = !strcmp(f, "and") || !strcmp(f, "or");
  size_t total = c->n - 1 + (extra ? 1 : 0);
  if (total > 15) {
    xfail(X, fn, "too many arguments");
    return (gval_t){.k = GV_NIL};
  }
  if (lazy) { /* and/or evaluate their arguments only as far as needed */
    if (!total) xfail(X, fn, "wrong number of args for %s", f);
    gval_t v = {.k = GV_NIL};
    for (size_t i = 0; i < total && !X->failed; i++) {
      v = i < c->n - 1 ? operand(X, c->args[i + 1], dot) : *extra;
      if (f[0] == 'a' ? !gtruth(v) : gtruth(v)) return v;
    }
    return v;
  }
  for (size_t i = 1; i < c->n && !X->failed; i++) av[n++] = operand(X, c->args[i], dot);
  if (extra) av[n++] = *extra;
  if (X->failed) return (gval_t){.k = GV_NIL};
  if (!strcmp(f, "not")) {
    if (n != 1) xfail(X, fn, "wrong number of args for not");
    return gbool(n == 1 && !gtruth(av[0]));
  }
  if (!strcmp(f, "eq")) {
    if (n < 2) xfail(X, fn, "missing argument for comparison");
    for (size_t i = 1; i < n && !X->failed; i++)
      if (gv_equal(X, fn, av[0], av[i])) return gbool(true);
    return gbool(false);
  }
  if (!strcmp(f, "ne") || !strcmp(f, "lt") || !strcmp(f, "le") || !strcmp(f, "gt") ||
      !strcmp(f, "ge")) {
    if (n != 2) {
      xfail(X, fn, "wrong number of args for %s", f);
      return gbool(false);
    }
    if (f[0] == 'n') return gbool(!gv_equal(X, fn, av[0], av[1]));
    int o = gv_order(X, fn, av[0], av[1]);
    return gbool(f[0] == 'l' ? (f[1] == 't' ? o < 0 : o <= 0) : (f[1] == 't' ? o > 0 : o >= 0));
  }
  if (!strcmp(f, "len")) {
    if (n != 1)
      xfail(X, fn, "wrong number of args for len");
    else if (av[0].k == GV_STRING || av[0].k == GV_MESSAGES || av[0].k == GV_EMPTY)
      return (gval_t){.k = GV_INT, .i = (int64_t)av[0].n};
    else
      xfail(X, fn, "len of a value that has no length");
    return (gval_t){.k = GV_INT};
  }
  if (!strcmp(f, "index")) {
    gval_t v = n ? av[0] : (gval_t){.k = GV_NIL};
    for (size_t i = 1; i < n && !X->failed; i++) {
      int64_t k = gint(X, fn, av[i]);
      if (v.k != GV_MESSAGES || k < 0 || (size_t)k >= v.n) {
        xfail(X, fn, "index out of range: %lld", (long long)k);
        break;
      }
      v = (gval_t){.k = GV_MESSAGE, .m = v.m + k};
    }
    return v;
  }
  if (!strcmp(f, "slice")) {
    if (!n) {
      xfail(X, fn, "wrong number of args for slice");
      return (gval_t){.k = GV_NIL};
    }
    gval_t v = av[0];
    int64_t lo = n > 1 ? gint(X, fn, av[1]) : 0, hi = n > 2 ? gint(X, fn, av[2]) : (int64_t)v.n;
    if (n > 3 || (v.k != GV_MESSAGES && v.k != GV_STRING) || lo < 0 || hi < lo ||
        (size_t)hi > v.n) {
      xfail(X, fn, "slice out of range or of a value that cannot be sliced");
      return (gval_t){.k = GV_NIL};
    }
    if (v.k == GV_STRING) return gstr(v.s + lo, (size_t)(hi - lo));
    return (gval_t){.k = GV_MESSAGES, .m = v.m + lo, .n = (size_t)(hi - lo)};
  }
  if (!strcmp(f, "print") || !strcmp(f, "println") || !strcmp(f, "printf") || !strcmp(f, "json")) {
    azc_buf_t b = {0};
    if (!strcmp(f, "json")) {
      if (n != 1 || av[0].k != GV_STRING) {
        xfail(X, fn, "json of a value other than a string is not supported");
        return (gval_t){.k = GV_NIL};
      }
      azc_buf_puts(&b, "\"");
      for (size_t i = 0; i < av[0].n; i++) {
        unsigned char ch = (unsigned char)av[0].s[i];
        char e[8];
        if (ch == '"' || ch == '\\') {
          e[0] = '\\', e[1] = (char)ch, e[2] = 0;
          azc_buf_puts(&b, e);
        } else if (ch == '\n')
          azc_buf_puts(&b, "\\n");
        else if (ch == '\r')
          azc_buf_puts(&b, "\\r");
        else if (ch == '\t')
          azc_buf_puts(&b, "\\t");
        else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') { /* Go escapes HTML too */
          snprintf(e, sizeof(e), "\\u%04x", ch);
          azc_buf_puts(&b, e);
        } else
          azc_buf_put(&b, (const char *)&ch, 1);
      }
      azc_buf_puts(&b, "\"");
    } else if (!strcmp(f, "printf")) {
      if (!n || av[0].k != GV_STRING) xfail(X, fn, "printf needs a format string");
      size_t ai = 1;
      for (size_t i = 0; !X->failed && n && i < av[0].n; i++) {
        char ch = av[0].s[i];
        if (ch != '%' || i + 1 >= av[0].n) {
          azc_buf_put(&b, &ch, 1);
          continue;
        }
        char verb = av[0].s[++i];
        if (verb == '%') {
          azc_buf_puts(&b, "%");
          continue;
        }
        if (!strchr("sdvq", verb)) {
          xfail(X, fn, "printf verb %%%c is not supported", verb);
          break;
        }
        if (ai >= n) {
          azc_buf_puts(&b, "%!");
          azc_buf_put(&b, &verb, 1);
          azc_buf_puts(&b, "(MISSING)");
          continue;
        }
        if (verb == 'q' && av[ai].k == GV_STRING) {
          azc_buf_puts(&b, "\"");
          azc_buf_put(&b, av[ai].s, av[ai].n);
          azc_buf_puts(&b, "\"");
          ai++;
        } else {
          put_gval(X, fn, &b, av[ai++]);
        }
      }
    } else {
      bool ln = f[5] == 'l';
      for (size_t i = 0; i < n && !X->failed; i++) {
        if (i && (ln || (av[i - 1].k != GV_STRING && av[i].k != GV_STRING))) azc_buf_puts(&b, " ");
        put_gval(X, fn, &b, av[i]);
      }
      if (ln) azc_buf_puts(&b, "\n");
    }
    char *copy = b.oom ? NULL : azc_arena_strndup(X->arena, b.data ? b.data : "", b.len);
    size_t len = b.len;
    azc_buf_free(&b);
    if (!copy) {
      xfail(X, fn, "out of memory");
      return (gval_t){.k = GV_NIL};
    }
    return gstr(copy, len);
  }
  xfail(X, fn, "function \"%s\" not defined", f);
  return (gval_t){.k = GV_NIL};
}

static gval_t run_cmd(gexec_t *X, const gcmd_t *c, gval_t dot, const gval_t *prev) {
  const gnode_t *first = c->args[0];
  if (first->kind == G_FUNC) return call(X, first, c, dot, prev);
  if (c->n > 1 || prev) {
    xfail(X, first, "can't give arguments to a non-function");
    return (gval_t){.k = GV_NIL};
  }
  return operand(X, first, dot);
}

static gval_t run_pipe(gexec_t *X, const gpipe_t *p, gval_t dot) {
  gval_t v = {.k = GV_NIL};
  for (size_t i = 0; p && i < p->n_cmds && !X->failed; i++)
    v = run_cmd(X, &p->cmds[i], dot, i ? &v : NULL);
  return v;
}

static void set_var_g(gexec_t *X, const gnode_t *at, const char *name, gval_t v, bool assign) {
  if (assign) {
    for (int i = X->n_vars - 1; i >= 0; i--)
      if (!strcmp(X->vars[i].name, name)) {
        X->vars[i].v = v;
        return;
      }
    xfail(X, at, "undefined variable: %s", name);
    return;
  }
  if (X->n_vars == 64) {
    xfail(X, at, "too many variables");
    return;
  }
  X->vars[X->n_vars++] = (gvar_t){name, v};
}

static void exec_list(gexec_t *X, gnode_t *const *list, size_t n, gval_t dot);

static void exec_gnode(gexec_t *X, const gnode_t *x, gval_t dot) {
  if (X->failed || X->flow || !x || (X->cut && x->seq > X->cut)) return;
  if (++X->steps > G_MAX_STEPS) {
    xfail(X, x, "the template runs too long");
    return;
  }
  if (X->out->len > G_MAX_OUTPUT) {
    xfail(X, x, "the output exceeds %d bytes", G_MAX_OUTPUT);
    return;
  }
  int scope = X->n_vars;
  switch (x->kind) {
  case G_TEXT: azc_buf_put(X->out, x->text, x->text_n); break;
  case G_ACTION: {
    gval_t v = run_pipe(X, x->pipe, dot);
    if (x->pipe->n_decl) {
      set_var_g(X, x, x->pipe->decl[0], v, x->pipe->assign);
      return; /* a declaration prints nothing and lives to the end of the enclosing block */
    }
    if (!X->failed) put_gval(X, x, X->out, v);
    break;
  }
  case G_IF:
  case G_WITH: {
    gval_t v = run_pipe(X, x->pipe, dot);
    if (x->pipe->n_decl) set_var_g(X, x, x->pipe->decl[0], v, x->pipe->assign);
    if (X->failed) break;
    if (gtruth(v))
      exec_list(X, x->list, x->n_list, x->kind == G_WITH ? v : dot);
    else
      exec_list(X, x->else_list, x->n_else, dot);
    break;
  }
  case G_RANGE: {
    gval_t v = run_pipe(X, x->pipe, dot);
    if (X->failed) break;
    size_t count = v.k == GV_MESSAGES || v.k == GV_EMPTY ? v.n
                   : v.k == GV_INT && v.i > 0            ? (size_t)v.i
                                                         : 0;
    if (v.k != GV_MESSAGES && v.k != GV_EMPTY && v.k != GV_INT && v.k != GV_NIL &&
        v.k != GV_NOVALUE) {
      xfail(X, x, "range can't iterate over this value");
      break;
    }
    if (!count) {
      exec_list(X, x->else_list, x->n_else, dot);
      break;
    }
    for (size_t i = 0; i < count && !X->failed; i++) {
      gval_t elem = v.k == GV_MESSAGES ? (gval_t){.k = GV_MESSAGE, .m = v.m + i}
                                       : (gval_t){.k = GV_INT, .i = (int64_t)i};
      int inner = X->n_vars;
      if (x->pipe->n_decl == 1)
        set_var_g(X, x, x->pipe->decl[0], elem, false);
      else if (x->pipe->n_decl == 2) {
        set_var_g(X, x, x->pipe->decl[0], (gval_t){.k = GV_INT, .i = (int64_t)i}, false);
        set_var_g(X, x, x->pipe->decl[1], elem, false);
      }
      exec_list(X, x->list, x->n_list, elem);
      X->n_vars = inner;
      if (X->flow == 1) {
        X->flow = 0;
        break;
      }
      X->flow = 0;
    }
    break;
  }
  case G_BREAK: X->flow = 1; break;
  case G_CONTINUE: X->flow = 2; break;
  default: xfail(X, x, "unexpected node"); break;
  }
  X->n_vars = scope;
}

static void exec_list(gexec_t *X, gnode_t *const *list, size_t n, gval_t dot) {
  if (++X->depth > G_MAX_DEPTH) {
    xfail(X, NULL, "nested too deeply");
    return;
  }
  int scope = X->n_vars;
  for (size_t i = 0; i < n && !X->failed && !X->flow; i++) {
    const gnode_t *x = list[i];
    if (x && x->kind == G_ACTION && x->pipe->n_decl && (!X->cut || x->seq <= X->cut)) {
      gval_t v = run_pipe(X, x->pipe, dot); /* declarations stay visible to the block's end */
      set_var_g(X, x, x->pipe->decl[0], v, x->pipe->assign);
      continue;
    }
    exec_gnode(X, x, dot);
  }
  X->n_vars = scope;
  X->depth--;
}

static azc_status_t execute(const azc_gotmpl_t *t, const gdata_t *d, bool cut, azc_buf_t *out) {
  gexec_t X;
  memset(&X, 0, sizeof(X));
  azc_arena_t arena;
  azc_arena_init(&arena, 1 << 12);
  X.arena = &arena;
  X.data = d;
  X.out = out;
  X.cut = cut ? t->cut_seq : 0;
  X.vars[X.n_vars++] = (gvar_t){"$", (gval_t){.k = GV_DATA}};
  exec_list(&X, t->root, t->n_root, (gval_t){.k = GV_DATA});
  azc_arena_free(&arena);
  if (X.failed) return AZC_ERR(AZC_INVALID_ARGUMENT, "template: %s", X.err);
  if (out->oom) return AZC_ERR(AZC_OUT_OF_MEMORY, "template output");
  return NULL;
}

azc_status_t azc_gotmpl_execute_chat(const azc_gotmpl_t *t, const azc_chat_message_t *msgs,
                                     size_t n, bool add_generation_prompt, azc_buf_t *out) {
  (void)add_generation_prompt; /* a Go template decides that itself, as in Ollama */
  /* collate: consecutive messages of one role merge with "\n\n"; system
   * messages are also joined into .System */
  azc_chat_message_t *col = calloc(n ? n : 1, sizeof(*col));
  char **owned = calloc(n ? n : 1, sizeof(*owned));
  azc_buf_t system = {0};
  size_t nc = 0;
  azc_status_t st = (!col || !owned) ? AZC_ERR(AZC_OUT_OF_MEMORY, "template") : NULL;
  for (size_t i = 0; !st && i < n; i++) {
    if (!strcmp(msgs[i].role, "system")) {
      if (system.len || system.data) azc_buf_puts(&system, "\n\n");
      azc_buf_puts(&system, msgs[i].content);
      if (!system.data) system.data = calloc(1, 1), system.cap = 1;
    }
    if (nc && !strcmp(col[nc - 1].role, msgs[i].role) && strcmp(msgs[i].role, "tool")) {
      azc_buf_t m = {0};
      azc_buf_puts(&m, col[nc - 1].content);
      azc_buf_puts(&m, "\n\n");
      azc_buf_puts(&m, msgs[i].content);
      if (m.oom || !m.data) {
        azc_buf_free(&m);
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "template");
        break;
      }
      free(owned[nc - 1]);
      owned[nc - 1] = m.data;
      col[nc - 1].content = m.data;
    } else {
      col[nc++] = msgs[i];
    }
  }
  if (!st && system.oom) st = AZC_ERR(AZC_OUT_OF_MEMORY, "template");
  if (!st && t->uses_messages) {
    gdata_t d = {.system = system.data ? system.data : "",
                 .response = "",
                 .msgs = col,
                 .n_msgs = nc,
                 .with_messages = true};
    st = execute(t, &d, false, out);
  } else if (!st) { /* one run per turn; the last cut after {{ .Response }} */
    const char *sys = "", *prompt = "", *resp = "";
    for (size_t i = 0; !st && i < nc; i++) {
      const char *role = col[i].role;
      bool run =
          (!strcmp(role, "system") && (*prompt || *resp)) || (!strcmp(role, "user") && *resp);
      if (run) {
        gdata_t d = {.system = sys, .prompt = prompt, .response = resp};
        st = execute(t, &d, false, out);
        sys = prompt = resp = "";
      }
      if (!strcmp(role, "system"))
        sys = col[i].content;
      else if (!strcmp(role, "user"))
        prompt = col[i].content;
      else if (!strcmp(role, "assistant"))
        resp = col[i].content;
    }
    if (!st) {
      gdata_t d = {.system = sys, .prompt = prompt, .response = resp};
      st = execute(t, &d, true, out);
    }
  }
  for (size_t i = 0; owned && i < n; i++) free(owned[i]);
  free(owned);
  free(col);
  azc_buf_free(&system);
  return st;
}
