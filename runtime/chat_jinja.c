/* A small Jinja evaluator, enough to render real chat templates: a detected
 * template is checked against the builtin format it claims to be, and a
 * template that is no builtin is applied by evaluating it (the jinja kind,
 * chat_template.c). Anything it cannot evaluate exactly is
 * AZC_JINJA_UNSUPPORTED, never a guess, so the caller refuses the template
 * (chat_jinja_check.c looks up every name up front) or the conversation.
 *
 * Environment as Hugging Face's chat templating sets it up (trim_blocks,
 * lstrip_blocks, loop controls, raise_exception, strftime_now, tojson with
 * ensure_ascii off). Supported: text, {{ }}, {% %}, {# #} with '-' trimming;
 * if/elif/else, for (tuple targets, loop filters, else, loop.*), set (names,
 * namespace attributes; block set ... endset), macro (positional and
 * keyword arguments, defaults; no varargs/kwargs/caller), filter blocks,
 * break/continue, generation; expressions with
 * Python's operators and Jinja's precedence (tests and filters bind tightest),
 * literals, lists, tuples, dicts, attribute/subscript/slice access, the
 * common filters (indent and unique among them), tests, string and dict
 * methods. Values follow Python's semantics (truthiness, equality, repr of
 * lists and floats); undefined follows jinja2.Undefined (prints empty,
 * iterates empty, errors on attribute access).
 *
 * Input is untrusted (a GGUF's metadata): every loop, the output size and
 * the nesting depth are bounded, and all memory comes from one arena freed
 * after each render. Layout: lexer (source -> tokens), parser (tokens -> a
 * tree of nodes), evaluator (tree x context -> text). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/arena.h"
#include "runtime/chat_internal.h"
#include "runtime/chat_jinja_tree.h"

/* ================================================================ lexer */

typedef enum tok_kind {
  T_TEXT,     /* literal template text */
  T_EXPR_BEG, /* {{ */
  T_STMT_BEG, /* {% */
  T_END,      /* }} or %} */
  T_NAME,
  T_INT,
  T_FLOAT,
  T_STRING,
  T_OP,
  T_EOF
} tok_kind_t;

typedef struct token {
  tok_kind_t kind;
  const char *s; /* text (for T_STRING: the unescaped value) */
  size_t n;
  int64_t i;
  double f;
  int line;
} token_t;

typedef struct lexer {
  azc_arena_t *arena;
  const char *src;
  size_t len, pos;
  int line;
  token_t *toks;
  size_t n, cap;
  char *err;
  size_t err_cap;
  bool failed, nomem;
} lexer_t;

static void lex_fail(lexer_t *L, const char *fmt, ...) {
  if (L->failed) return;
  L->failed = true;
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(L->err, L->err_cap, "line %d: ", L->line);
  if (k > 0 && (size_t)k < L->err_cap) vsnprintf(L->err + k, L->err_cap - (size_t)k, fmt, ap);
  va_end(ap);
}

static token_t *push_tok(lexer_t *L, tok_kind_t k, const char *s, size_t n) {
  if (L->n == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 256;
    token_t *t = realloc(L->toks, cap * sizeof(*t));
    if (!t) {
      L->nomem = L->failed = true;
      return NULL;
    }
    L->toks = t;
    L->cap = cap;
  }
  token_t *t = &L->toks[L->n++];
  memset(t, 0, sizeof(*t));
  t->kind = k;
  t->s = s;
  t->n = n;
  t->line = L->line;
  return t;
}

static int count_lines(const char *s, size_t n) {
  int c = 0;
  for (size_t i = 0; i < n; i++) c += s[i] == '\n';
  return c;
}

/* Reads a quoted string at L->pos (Python escapes) into the arena. */
static void lex_string(lexer_t *L) {
  char q = L->src[L->pos++];
  char *out = azc_arena_alloc(L->arena, L->len - L->pos + 1, 1);
  if (!out) {
    L->nomem = L->failed = true;
    return;
  }
  size_t n = 0;
  while (L->pos < L->len && L->src[L->pos] != q) {
    char c = L->src[L->pos++];
    if (c == '\n') L->line++;
    if (c == '\\' && L->pos < L->len) {
      char e = L->src[L->pos++];
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case '\\': c = '\\'; break;
      case '\'': c = '\''; break;
      case '"': c = '"'; break;
      case '\n': continue; /* line continuation */
      default:
        /* \u, \x, octal ...: rare in chat templates; refuse rather than guess */
        lex_fail(L, "string escape '\\%c' is not supported", e);
        return;
      }
    }
    out[n++] = c;
  }
  if (L->pos >= L->len) {
    lex_fail(L, "unterminated string");
    return;
  }
  L->pos++;
  out[n] = 0;
  token_t *t = push_tok(L, T_STRING, out, n);
  (void)t;
}

/* Tokenizes the inside of {{ }} or {% %} up to and including its closing
 * delimiter; *trim_after says whether that delimiter had '-'. */
static void lex_tag(lexer_t *L, char close, bool *trim_after) {
  *trim_after = false;
  while (!L->failed) {
    while (L->pos < L->len && isspace((unsigned char)L->src[L->pos])) {
      if (L->src[L->pos] == '\n') L->line++;
      L->pos++;
    }
    if (L->pos >= L->len) {
      lex_fail(L, "unclosed tag");
      return;
    }
    const char *p = L->src + L->pos;
    size_t left = L->len - L->pos;
    if (left >= 3 && (p[0] == '-' || p[0] == '+') && p[1] == close && p[2] == '}') {
      *trim_after = p[0] == '-';
      L->pos += 3;
      push_tok(L, T_END, p, 3);
      return;
    }
    if (left >= 2 && p[0] == close && p[1] == '}') {
      L->pos += 2;
      push_tok(L, T_END, p, 2);
      return;
    }
    char c = p[0];
    if (isalpha((unsigned char)c) || c == '_') {
      size_t n = 1;
      while (n < left && (isalnum((unsigned char)p[n]) || p[n] == '_')) n++;
      push_tok(L, T_NAME, p, n);
      L->pos += n;
    } else if (isdigit((unsigned char)c)) {
      size_t n = 0;
      bool is_float = false;
      while (n < left && (isdigit((unsigned char)p[n]) || p[n] == '_')) n++;
      if (n + 1 < left && p[n] == '.' && isdigit((unsigned char)p[n + 1])) {
        is_float = true;
        n++;
        while (n < left && isdigit((unsigned char)p[n])) n++;
      }
      if (n < left && (p[n] == 'e' || p[n] == 'E')) {
        size_t m = n + 1;
        if (m < left && (p[m] == '+' || p[m] == '-')) m++;
        if (m < left && isdigit((unsigned char)p[m])) {
          is_float = true;
          n = m;
          while (n < left && isdigit((unsigned char)p[n])) n++;
        }
      }
      char buf[64];
      size_t k = 0;
      for (size_t j = 0; j < n && k + 1 < sizeof(buf); j++)
        if (p[j] != '_') buf[k++] = p[j];
      buf[k] = 0;
      token_t *t = push_tok(L, is_float ? T_FLOAT : T_INT, p, n);
      if (t) {
        if (is_float)
          t->f = strtod(buf, NULL);
        else
          t->i = strtoll(buf, NULL, 10);
      }
      L->pos += n;
    } else if (c == '\'' || c == '"') {
      lex_string(L);
    } else {
      static const char *const ops2[] = {"==", "!=", "<=", ">=", "//", "**"};
      size_t n = 1;
      for (size_t j = 0; j < sizeof(ops2) / sizeof(*ops2); j++)
        if (left >= 2 && p[0] == ops2[j][0] && p[1] == ops2[j][1]) n = 2;
      if (n == 1 && !strchr("+-*/%~<>=()[]{},.:|", c)) {
        lex_fail(L, "unexpected character '%c'", c);
        return;
      }
      push_tok(L, T_OP, p, n);
      L->pos += n;
    }
  }
}

/* Splits the source into text and tags, applying '-' trimming,
 * lstrip_blocks (spaces and tabs before a block or comment tag that starts
 * its line) and trim_blocks (the newline after a block or comment tag). */
static void lex(lexer_t *L) {
  bool trim_next = false, newline_next = false;
  while (!L->failed && L->pos < L->len) {
    const char *p = L->src + L->pos;
    size_t left = L->len - L->pos, k = 0;
    while (k + 1 < left &&
           !(p[k] == '{' && (p[k + 1] == '{' || p[k + 1] == '%' || p[k + 1] == '#')))
      k++;
    if (k + 1 >= left) k = left; /* no more tags */
    const char *text = p;
    size_t tn = k;
    if (trim_next)
      while (tn && isspace((unsigned char)*text)) text++, tn--;
    else if (newline_next && tn && *text == '\n')
      text++, tn--;
    trim_next = newline_next = false;
    char kind = k < left ? p[k + 1] : 0;
    char mod = k + 2 < left ? p[k + 2] : 0;
    if (kind) {
      if (mod == '-') {
        while (tn && isspace((unsigned char)text[tn - 1])) tn--;
      } else if ((kind == '%' || kind == '#') && mod != '+') { /* lstrip_blocks */
        size_t j = tn;
        while (j && (text[j - 1] == ' ' || text[j - 1] == '\t')) j--;
        bool line_start = j == 0 ? (text == L->src || text[-1] == '\n') : text[j - 1] == '\n';
        if (line_start) tn = j;
      }
    }
    if (tn) push_tok(L, T_TEXT, text, tn);
    L->line += count_lines(p, k);
    L->pos += k;
    if (!kind) break;
    L->pos += 2 + (mod == '-' || mod == '+');
    if (kind == '#') {
      const char *end = NULL;
      for (size_t j = L->pos; j + 1 < L->len; j++)
        if (L->src[j] == '#' && L->src[j + 1] == '}') {
          end = L->src + j;
          break;
        }
      if (!end) {
        lex_fail(L, "unclosed comment");
        return;
      }
      bool dash = end > L->src + L->pos && end[-1] == '-';
      L->line += count_lines(L->src + L->pos, (size_t)(end - L->src) - L->pos);
      L->pos = (size_t)(end - L->src) + 2;
      trim_next = dash;
      newline_next = !dash;
      continue;
    }
    push_tok(L, kind == '{' ? T_EXPR_BEG : T_STMT_BEG, p + k, 2);
    bool dash;
    lex_tag(L, kind == '{' ? '}' : '%', &dash);
    trim_next = dash;
    newline_next = !dash && kind == '%' && L->toks[L->n - 1].n == 2;
  }
  push_tok(L, T_EOF, L->src + L->len, 0);
}

/* ================================================================ parser */

typedef struct parser {
  azc_arena_t *arena;
  token_t *t;
  size_t n, pos;
  char *err;
  size_t err_cap;
  bool failed, unsupported, nomem;
  int depth, stmt_depth;
  int in_macro; /* inside a macro body: its implicit varargs/kwargs/caller are refused */
} parser_t;

static token_t *cur(parser_t *P) { return &P->t[P->pos]; }

static void p_fail(parser_t *P, bool unsupported, const char *fmt, ...) {
  if (P->failed) return;
  P->failed = true;
  P->unsupported = unsupported;
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(P->err, P->err_cap, "line %d: ", cur(P)->line);
  if (k > 0 && (size_t)k < P->err_cap) vsnprintf(P->err + k, P->err_cap - (size_t)k, fmt, ap);
  va_end(ap);
}

static bool is_op(parser_t *P, const char *op) {
  token_t *t = cur(P);
  return t->kind == T_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}

static bool is_name(parser_t *P, const char *name) {
  token_t *t = cur(P);
  return t->kind == T_NAME && t->n == strlen(name) && !memcmp(t->s, name, t->n);
}

static bool accept_op(parser_t *P, const char *op) {
  if (!is_op(P, op)) return false;
  P->pos++;
  return true;
}

static bool accept_name(parser_t *P, const char *name) {
  if (!is_name(P, name)) return false;
  P->pos++;
  return true;
}

static void expect_op(parser_t *P, const char *op) {
  if (!accept_op(P, op)) p_fail(P, false, "expected '%s'", op);
}

static node_t *new_node(parser_t *P, node_kind_t k) {
  node_t *n = azc_arena_alloc(P->arena, sizeof(*n), 8);
  if (!n) {
    P->failed = P->nomem = true;
    return NULL;
  }
  memset(n, 0, sizeof(*n));
  n->kind = k;
  n->line = cur(P)->line;
  return n;
}

/* A growable array of node pointers, copied into the arena when done. */
typedef struct nodes {
  node_t **v;
  size_t n, cap;
} nodes_t;

static void nodes_push(parser_t *P, nodes_t *a, node_t *x) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    node_t **v = azc_arena_alloc(P->arena, cap * sizeof(*v), 8);
    if (!v) {
      P->failed = P->nomem = true;
      return;
    }
    if (a->n) memcpy(v, a->v, a->n * sizeof(*v));
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = x;
}

static node_t *parse_expr(parser_t *P);
static node_t *parse_unary(parser_t *P, bool with_filter);

static char *tok_str(parser_t *P, token_t *t) {
  char *s = azc_arena_strndup(P->arena, t->s, t->n);
  if (!s) P->failed = P->nomem = true;
  return s;
}

/* call arguments after '(' : positional and keyword */
static void parse_args(parser_t *P, node_t *n) {
  nodes_t args = {0};
  char **kw = NULL;
  size_t kw_cap = 0;
  while (!P->failed && !is_op(P, ")")) {
    char *key = NULL;
    if (cur(P)->kind == T_NAME && P->t[P->pos + 1].kind == T_OP && P->t[P->pos + 1].n == 1 &&
        P->t[P->pos + 1].s[0] == '=') {
      key = tok_str(P, cur(P));
      P->pos += 2;
    }
    node_t *e = parse_expr(P);
    if (args.n == kw_cap) {
      size_t cap = kw_cap ? kw_cap * 2 : 8;
      char **k2 = azc_arena_alloc(P->arena, cap * sizeof(*k2), 8);
      if (!k2) {
        P->failed = P->nomem = true;
        return;
      }
      if (args.n) memcpy(k2, kw, args.n * sizeof(*k2));
      kw = k2;
      kw_cap = cap;
    }
    kw[args.n] = key;
    nodes_push(P, &args, e);
    if (!accept_op(P, ",")) break;
  }
  expect_op(P, ")");
  n->args = args.v;
  n->kw = kw;
  n->n_args = args.n;
}

static node_t *parse_primary(parser_t *P) {
  token_t *t = cur(P);
  node_t *n = NULL;
  if (t->kind == T_NAME) {
    static const struct {
      const char *w;
      vkind_t k;
      bool b;
    } consts[] = {{"true", V_BOOL, true},   {"True", V_BOOL, true},  {"false", V_BOOL, false},
                  {"False", V_BOOL, false}, {"none", V_NONE, false}, {"None", V_NONE, false}};
    for (size_t i = 0; i < sizeof(consts) / sizeof(*consts); i++)
      if (t->n == strlen(consts[i].w) && !memcmp(t->s, consts[i].w, t->n)) {
        n = new_node(P, N_CONST);
        if (n) n->v = (value_t){.k = consts[i].k, .b = consts[i].b};
        P->pos++;
        return n;
      }
    n = new_node(P, N_NAME);
    if (n) {
      n->name = tok_str(P, t);
      n->name_n = t->n;
      if (P->in_macro && n->name &&
          (!strcmp(n->name, "varargs") || !strcmp(n->name, "kwargs") || !strcmp(n->name, "caller")))
        p_fail(P, true, "'%s' in a macro is not supported", n->name);
    }
    P->pos++;
    return n;
  }
  if (t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_STRING) {
    n = new_node(P, N_CONST);
    if (!n) return NULL;
    if (t->kind == T_INT)
      n->v = (value_t){.k = V_INT, .i = t->i};
    else if (t->kind == T_FLOAT)
      n->v = (value_t){.k = V_FLOAT, .f = t->f};
    else {
      /* adjacent string literals concatenate, as in Python */
      size_t total = 0, j = P->pos;
      while (P->t[j].kind == T_STRING) total += P->t[j++].n;
      str_t *s = azc_arena_alloc(P->arena, sizeof(str_t) + total + 1, 8);
      if (!s) {
        P->failed = P->nomem = true;
        return NULL;
      }
      s->n = 0;
      while (cur(P)->kind == T_STRING) {
        memcpy(s->s + s->n, cur(P)->s, cur(P)->n);
        s->n += cur(P)->n;
        P->pos++;
      }
      s->s[s->n] = 0;
      n->v = (value_t){.k = V_STR, .s = s};
      return n;
    }
    P->pos++;
    return n;
  }
  if (accept_op(P, "(")) {
    if (accept_op(P, ")")) return new_node(P, N_TUPLE);
    node_t *e = parse_expr(P);
    if (is_op(P, ",")) {
      node_t *tup = new_node(P, N_TUPLE);
      nodes_t items = {0};
      nodes_push(P, &items, e);
      while (!P->failed && accept_op(P, ",") && !is_op(P, ")"))
        nodes_push(P, &items, parse_expr(P));
      if (tup) {
        tup->args = items.v;
        tup->n_args = items.n;
      }
      e = tup;
    }
    expect_op(P, ")");
    return e;
  }
  if (accept_op(P, "[")) {
    node_t *l = new_node(P, N_LIST);
    nodes_t items = {0};
    while (!P->failed && !is_op(P, "]")) {
      nodes_push(P, &items, parse_expr(P));
      if (!accept_op(P, ",")) break;
    }
    expect_op(P, "]");
    if (l) {
      l->args = items.v;
      l->n_args = items.n;
    }
    return l;
  }
  if (accept_op(P, "{")) {
    node_t *d = new_node(P, N_DICT);
    nodes_t items = {0};
    while (!P->failed && !is_op(P, "}")) {
      nodes_push(P, &items, parse_expr(P));
      expect_op(P, ":");
      nodes_push(P, &items, parse_expr(P));
      if (!accept_op(P, ",")) break;
    }
    expect_op(P, "}");
    if (d) {
      d->args = items.v;
      d->n_args = items.n;
    }
    return d;
  }
  p_fail(P, false, "unexpected '%.*s'", (int)(t->n ? t->n : 3), t->n ? t->s : "end");
  return NULL;
}

static node_t *parse_postfix(parser_t *P, node_t *n) {
  while (!P->failed) {
    if (accept_op(P, ".")) {
      token_t *t = cur(P);
      if (t->kind != T_NAME && t->kind != T_INT) {
        p_fail(P, false, "expected an attribute name after '.'");
        return n;
      }
      node_t *a = new_node(P, N_ATTR);
      if (!a) return n;
      a->a = n;
      a->name = tok_str(P, t);
      a->name_n = t->n;
      P->pos++;
      n = a;
    } else if (accept_op(P, "[")) {
      node_t *lo = NULL, *hi = NULL, *step = NULL;
      bool slice = false;
      if (!is_op(P, ":")) lo = parse_expr(P);
      if (accept_op(P, ":")) {
        slice = true;
        if (!is_op(P, "]") && !is_op(P, ":")) hi = parse_expr(P);
        if (accept_op(P, ":") && !is_op(P, "]")) step = parse_expr(P);
      }
      expect_op(P, "]");
      node_t *s = new_node(P, slice ? N_SLICE : N_ITEM);
      if (!s) return n;
      s->a = n;
      s->b = lo;
      s->c = hi;
      if (slice) s->args = azc_arena_alloc(P->arena, sizeof(node_t *), 8);
      if (slice && s->args) s->args[0] = step, s->n_args = 1;
      n = s;
    } else if (is_op(P, "(")) {
      P->pos++;
      node_t *c = new_node(P, N_CALL);
      if (!c) return n;
      c->a = n;
      parse_args(P, c);
      n = c;
    } else {
      break;
    }
  }
  return n;
}

/* filters (|name(args)) and tests (is [not] name [arg]) */
static node_t *parse_filter_expr(parser_t *P, node_t *n) {
  while (!P->failed) {
    if (accept_op(P, "|")) {
      token_t *t = cur(P);
      if (t->kind != T_NAME) {
        p_fail(P, false, "expected a filter name");
        return n;
      }
      node_t *f = new_node(P, N_FILTER);
      if (!f) return n;
      f->a = n;
      f->name = tok_str(P, t);
      f->name_n = t->n;
      P->pos++;
      if (accept_op(P, "(")) parse_args(P, f);
      n = f;
    } else if (is_name(P, "is")) {
      P->pos++;
      node_t *te = new_node(P, N_TEST);
      if (!te) return n;
      te->negate = accept_name(P, "not");
      token_t *t = cur(P);
      if (t->kind != T_NAME) {
        p_fail(P, false, "expected a test name after 'is'");
        return n;
      }
      te->a = n;
      te->name = tok_str(P, t);
      te->name_n = t->n;
      P->pos++;
      if (accept_op(P, "(")) {
        parse_args(P, te);
      } else {
        token_t *u = cur(P);
        bool arg =
            (u->kind == T_NAME && !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and") &&
             !is_name(P, "if") && !is_name(P, "is") && !is_name(P, "in") && !is_name(P, "not")) ||
            u->kind == T_INT || u->kind == T_FLOAT || u->kind == T_STRING ||
            (u->kind == T_OP && (u->s[0] == '[' || u->s[0] == '{'));
        if (arg) {
          te->args = azc_arena_alloc(P->arena, sizeof(node_t *), 8);
          if (te->args) te->args[0] = parse_postfix(P, parse_primary(P)), te->n_args = 1;
        }
      }
      n = te;
    } else if (is_op(P, "(")) {
      n = parse_postfix(P, n);
    } else {
      break;
    }
  }
  return n;
}

static node_t *parse_unary(parser_t *P, bool with_filter) {
  if (++P->depth > MAX_DEPTH) {
    p_fail(P, true, "expression nested too deeply");
    return NULL;
  }
  node_t *n;
  if (is_op(P, "-") || is_op(P, "+")) {
    node_t *u = new_node(P, N_UNARY);
    if (u) u->name = cur(P)->s[0] == '-' ? "-" : "+";
    P->pos++;
    if (u) u->a = parse_unary(P, false);
    n = u;
  } else {
    n = parse_postfix(P, parse_primary(P));
  }
  if (with_filter) n = parse_filter_expr(P, n);
  P->depth--;
  return n;
}

static node_t *binary(parser_t *P, const char *op, node_t *l, node_t *r) {
  node_t *b = new_node(P, N_BINARY);
  if (!b) return l;
  b->name = op;
  b->a = l;
  b->b = r;
  return b;
}

static node_t *parse_pow(parser_t *P) {
  node_t *l = parse_unary(P, true);
  while (!P->failed && accept_op(P, "**")) l = binary(P, "**", l, parse_unary(P, true));
  return l;
}

static node_t *parse_math2(parser_t *P) {
  node_t *l = parse_pow(P);
  for (;;) {
    const char *op = is_op(P, "*")    ? "*"
                     : is_op(P, "/")  ? "/"
                     : is_op(P, "//") ? "//"
                     : is_op(P, "%")  ? "%"
                                      : NULL;
    if (!op || P->failed) return l;
    P->pos++;
    l = binary(P, op, l, parse_pow(P));
  }
}

static node_t *parse_concat(parser_t *P) {
  node_t *l = parse_math2(P);
  while (!P->failed && accept_op(P, "~")) l = binary(P, "~", l, parse_math2(P));
  return l;
}

static node_t *parse_math1(parser_t *P) {
  node_t *l = parse_concat(P);
  for (;;) {
    const char *op = is_op(P, "+") ? "+" : is_op(P, "-") ? "-" : NULL;
    if (!op || P->failed) return l;
    P->pos++;
    l = binary(P, op, l, parse_concat(P));
  }
}

static node_t *parse_compare(parser_t *P) {
  node_t *l = parse_math1(P);
  nodes_t rhs = {0};
  const char *ops[16];
  size_t n_ops = 0;
  for (;;) {
    const char *op = NULL;
    static const char *const cmp[] = {"==", "!=", "<=", ">=", "<", ">"};
    for (size_t i = 0; i < 6 && !op; i++)
      if (is_op(P, cmp[i])) op = cmp[i];
    if (op) {
      P->pos++;
    } else if (is_name(P, "in")) {
      P->pos++;
      op = "in";
    } else if (is_name(P, "not") && P->t[P->pos + 1].kind == T_NAME && P->t[P->pos + 1].n == 2 &&
               !memcmp(P->t[P->pos + 1].s, "in", 2)) {
      P->pos += 2;
      op = "not in";
    }
    if (!op || P->failed) break;
    if (n_ops == 16) {
      p_fail(P, true, "too many comparisons in a row");
      break;
    }
    ops[n_ops++] = op;
    nodes_push(P, &rhs, parse_math1(P));
  }
  if (!n_ops) return l;
  node_t *c = new_node(P, N_COMPARE);
  if (!c) return l;
  c->a = l;
  c->args = rhs.v;
  c->n_args = rhs.n;
  c->ops = azc_arena_alloc(P->arena, n_ops * sizeof(char *), 8);
  if (c->ops) memcpy(c->ops, ops, n_ops * sizeof(char *));
  return c;
}

static node_t *parse_not(parser_t *P) {
  if (is_name(P, "not")) {
    P->pos++;
    node_t *n = new_node(P, N_NOT);
    if (n) n->a = parse_not(P);
    return n;
  }
  return parse_compare(P);
}

static node_t *parse_and(parser_t *P) {
  node_t *l = parse_not(P);
  while (!P->failed && accept_name(P, "and")) {
    node_t *n = new_node(P, N_AND);
    if (!n) return l;
    n->a = l;
    n->b = parse_not(P);
    l = n;
  }
  return l;
}

static node_t *parse_or(parser_t *P) {
  node_t *l = parse_and(P);
  while (!P->failed && accept_name(P, "or")) {
    node_t *n = new_node(P, N_OR);
    if (!n) return l;
    n->a = l;
    n->b = parse_and(P);
    l = n;
  }
  return l;
}

/* conditional expressions: a if cond else b */
static node_t *parse_expr(parser_t *P) {
  if (++P->depth > MAX_DEPTH) {
    p_fail(P, true, "expression nested too deeply");
    return NULL;
  }
  node_t *e = parse_or(P);
  while (!P->failed && accept_name(P, "if")) {
    node_t *c = new_node(P, N_COND);
    if (!c) break;
    c->a = e;
    c->b = parse_or(P);
    if (accept_name(P, "else")) c->c = parse_expr(P);
    e = c;
  }
  P->depth--;
  return e;
}

/* a tuple without parentheses, for 'for a, b in' and 'set a, b =' */
static node_t *parse_target_list(parser_t *P, nodes_t *names) {
  do {
    token_t *t = cur(P);
    if (t->kind != T_NAME) {
      p_fail(P, false, "expected a name");
      return NULL;
    }
    node_t *n = new_node(P, N_NAME);
    if (!n) return NULL;
    n->name = tok_str(P, t);
    n->name_n = t->n;
    P->pos++;
    if (is_op(P, ".")) { /* ns.attr */
      P->pos++;
      if (cur(P)->kind != T_NAME) {
        p_fail(P, false, "expected an attribute name");
        return NULL;
      }
      node_t *a = new_node(P, N_ATTR);
      if (!a) return NULL;
      a->a = n;
      a->name = tok_str(P, cur(P));
      a->name_n = cur(P)->n;
      P->pos++;
      n = a;
    }
    nodes_push(P, names, n);
  } while (!P->failed && accept_op(P, ","));
  return names->n ? names->v[0] : NULL;
}

static void expect_end(parser_t *P) {
  if (cur(P)->kind != T_END)
    p_fail(P, false, "expected the end of the tag");
  else
    P->pos++;
}

/* Parses statements until a {% name %} in `stops` (returned, not consumed
 * beyond its name) or the end. */
static const char *parse_body(parser_t *P, nodes_t *out, const char *const *stops);

static bool at_stmt(parser_t *P, const char *const *names, const char **which) {
  if (cur(P)->kind != T_STMT_BEG) return false;
  token_t *t = &P->t[P->pos + 1];
  for (size_t i = 0; names && names[i]; i++)
    if (t->kind == T_NAME && t->n == strlen(names[i]) && !memcmp(t->s, names[i], t->n)) {
      *which = names[i];
      return true;
    }
  return false;
}

/* {% macro name(a, b=default, ...) %} body {% endmacro %}; the parameters
 * are the node's targets, their defaults its args (NULL: none) */
static node_t *parse_macro(parser_t *P) {
  token_t *t = cur(P);
  if (t->kind != T_NAME) {
    p_fail(P, false, "expected a macro name");
    return NULL;
  }
  node_t *n = new_node(P, N_MACRO);
  if (!n) return NULL;
  n->name = tok_str(P, t);
  n->name_n = t->n;
  P->pos++;
  nodes_t params = {0}, defaults = {0};
  expect_op(P, "(");
  while (!P->failed && !is_op(P, ")")) {
    token_t *pt = cur(P);
    if (pt->kind != T_NAME) {
      p_fail(P, false, "expected a parameter name");
      return NULL;
    }
    node_t *pn = new_node(P, N_NAME);
    if (!pn) return NULL;
    pn->name = tok_str(P, pt);
    pn->name_n = pt->n;
    P->pos++;
    node_t *dflt = NULL;
    if (accept_op(P, "="))
      dflt = parse_expr(P);
    else if (defaults.n && defaults.v[defaults.n - 1])
      p_fail(P, false, "non-default argument follows default argument");
    nodes_push(P, &params, pn);
    nodes_push(P, &defaults, dflt);
    if (!accept_op(P, ",")) break;
  }
  expect_op(P, ")");
  expect_end(P);
  static const char *const stops[] = {"endmacro", NULL};
  nodes_t body = {0};
  P->in_macro++;
  const char *w = parse_body(P, &body, stops);
  P->in_macro--;
  if (!w) {
    p_fail(P, false, "'macro' without 'endmacro'");
    return NULL;
  }
  P->pos += 2;
  expect_end(P);
  n->targets = params.v;
  n->n_targets = params.n;
  n->args = defaults.v;
  n->n_args = defaults.n;
  n->body = body.v;
  n->n_body = body.n;
  return n;
}

static node_t *parse_stmt_inner(parser_t *P);

/* one statement; blocks nest at most MAX_DEPTH deep (the parser and the
 * evaluator recurse on them, and the template is untrusted) */
static node_t *parse_stmt(parser_t *P) {
  if (++P->stmt_depth > MAX_DEPTH) {
    p_fail(P, true, "statements nested too deeply");
    return NULL;
  }
  node_t *n = parse_stmt_inner(P);
  P->stmt_depth--;
  return n;
}

static node_t *parse_stmt_inner(parser_t *P) {
  P->pos++; /* {% */
  token_t *t = cur(P);
  if (t->kind != T_NAME) {
    p_fail(P, false, "expected a statement");
    return NULL;
  }
  if (accept_name(P, "if")) {
    node_t *n = new_node(P, N_IF);
    nodes_t conds = {0}, bodies = {0};
    node_t *cur_if = n;
    nodes_push(P, &conds, parse_expr(P));
    expect_end(P);
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    (void)bodies;
    for (;;) {
      nodes_t body = {0};
      const char *w = parse_body(P, &body, stops);
      if (!cur_if) return NULL;
      cur_if->body = body.v;
      cur_if->n_body = body.n;
      if (!w) {
        p_fail(P, false, "'if' without 'endif'");
        return NULL;
      }
      P->pos += 2;              /* {% name */
      if (!strcmp(w, "elif")) { /* an elif is an if in the else branch */
        node_t *e = new_node(P, N_IF);
        if (!e) return NULL;
        e->a = parse_expr(P);
        expect_end(P);
        cur_if->orelse = azc_arena_alloc(P->arena, sizeof(node_t *), 8);
        if (!cur_if->orelse) {
          P->failed = P->nomem = true;
          return NULL;
        }
        cur_if->orelse[0] = e;
        cur_if->n_orelse = 1;
        cur_if = e;
        continue;
      }
      expect_end(P);
      if (!strcmp(w, "else")) {
        static const char *const end_only[] = {"endif", NULL};
        nodes_t els = {0};
        if (!parse_body(P, &els, end_only)) {
          p_fail(P, false, "'if' without 'endif'");
          return NULL;
        }
        cur_if->orelse = els.v;
        cur_if->n_orelse = els.n;
        P->pos += 2;
        expect_end(P);
      }
      break;
    }
    if (n) n->a = conds.v ? conds.v[0] : NULL;
    return n;
  }
  if (accept_name(P, "for")) {
    node_t *n = new_node(P, N_FOR);
    nodes_t targets = {0};
    parse_target_list(P, &targets);
    if (!accept_name(P, "in")) {
      p_fail(P, false, "expected 'in'");
      return NULL;
    }
    node_t *iter = parse_or(P); /* not parse_expr: 'if' filters the loop */
    node_t *filter = NULL;
    if (accept_name(P, "if")) filter = parse_or(P);
    if (accept_name(P, "recursive")) {
      p_fail(P, true, "recursive loops are not supported");
      return NULL;
    }
    expect_end(P);
    static const char *const stops[] = {"else", "endfor", NULL};
    nodes_t body = {0}, els = {0};
    const char *w = parse_body(P, &body, stops);
    if (!w) {
      p_fail(P, false, "'for' without 'endfor'");
      return NULL;
    }
    P->pos += 2;
    expect_end(P);
    if (!strcmp(w, "else")) {
      static const char *const end_only[] = {"endfor", NULL};
      if (!parse_body(P, &els, end_only)) {
        p_fail(P, false, "'for' without 'endfor'");
        return NULL;
      }
      P->pos += 2;
      expect_end(P);
    }
    if (!n) return NULL;
    n->targets = targets.v;
    n->n_targets = targets.n;
    n->a = iter;
    n->b = filter;
    n->body = body.v;
    n->n_body = body.n;
    n->orelse = els.v;
    n->n_orelse = els.n;
    return n;
  }
  if (accept_name(P, "set")) {
    node_t *n = new_node(P, N_SET);
    nodes_t targets = {0};
    parse_target_list(P, &targets);
    if (!P->failed && cur(P)->kind == T_END) { /* {% set x %}...{% endset %}: captures */
      if (targets.n != 1) {
        p_fail(P, true, "a block 'set' of several names is not supported");
        return NULL;
      }
      P->pos++;
      static const char *const stops[] = {"endset", NULL};
      nodes_t body = {0};
      if (!parse_body(P, &body, stops)) {
        p_fail(P, false, "'set' without 'endset'");
        return NULL;
      }
      P->pos += 2;
      expect_end(P);
      if (!n) return NULL;
      n->targets = targets.v;
      n->n_targets = targets.n;
      n->body = body.v;
      n->n_body = body.n;
      return n;
    }
    if (!accept_op(P, "=")) {
      p_fail(P, true, "a block 'set' with a filter is not supported");
      return NULL;
    }
    node_t *e = parse_expr(P);
    if (is_op(P, ",")) { /* set a = 1, 2: a tuple */
      node_t *tup = new_node(P, N_TUPLE);
      nodes_t items = {0};
      nodes_push(P, &items, e);
      while (!P->failed && accept_op(P, ",")) nodes_push(P, &items, parse_expr(P));
      if (tup) tup->args = items.v, tup->n_args = items.n;
      e = tup;
    }
    expect_end(P);
    if (!n) return NULL;
    n->targets = targets.v;
    n->n_targets = targets.n;
    n->a = e;
    return n;
  }
  if (accept_name(P, "macro")) return parse_macro(P);
  if (accept_name(P, "filter")) { /* {% filter name(args) | ... %} body {% endfilter %} */
    node_t *n = new_node(P, N_FILTER_BLOCK), *f = new_node(P, N_FILTER);
    token_t *ft = cur(P);
    if (ft->kind != T_NAME) {
      p_fail(P, false, "expected a filter name");
      return NULL;
    }
    if (!n || !f) return NULL;
    f->name = tok_str(P, ft);
    f->name_n = ft->n;
    P->pos++;
    if (accept_op(P, "(")) parse_args(P, f);
    n->b = parse_filter_expr(P, f);
    expect_end(P);
    static const char *const stops[] = {"endfilter", NULL};
    nodes_t body = {0};
    if (!parse_body(P, &body, stops)) {
      p_fail(P, false, "'filter' without 'endfilter'");
      return NULL;
    }
    P->pos += 2;
    expect_end(P);
    n->body = body.v;
    n->n_body = body.n;
    return n;
  }
  if (accept_name(P, "break") || accept_name(P, "continue")) {
    node_t *n = new_node(P, P->t[P->pos - 1].s[0] == 'b' ? N_BREAK : N_CONTINUE);
    expect_end(P);
    return n;
  }
  if (accept_name(P, "generation")) { /* Hugging Face's assistant-mask marker: renders its body */
    expect_end(P);
    node_t *n = new_node(P, N_BLOCK);
    static const char *const stops[] = {"endgeneration", NULL};
    nodes_t body = {0};
    if (!parse_body(P, &body, stops)) {
      p_fail(P, false, "'generation' without 'endgeneration'");
      return NULL;
    }
    P->pos += 2;
    expect_end(P);
    if (n) n->body = body.v, n->n_body = body.n;
    return n;
  }
  p_fail(P, true, "'%.*s' statements are not supported", (int)t->n, t->s);
  return NULL;
}

static const char *parse_body(parser_t *P, nodes_t *out, const char *const *stops) {
  while (!P->failed) {
    token_t *t = cur(P);
    const char *which = NULL;
    if (t->kind == T_EOF) return NULL;
    if (at_stmt(P, stops, &which)) return which;
    if (t->kind == T_TEXT) {
      node_t *n = new_node(P, N_TEXT);
      if (n) n->text = t->s, n->text_n = t->n;
      nodes_push(P, out, n);
      P->pos++;
    } else if (t->kind == T_EXPR_BEG) {
      P->pos++;
      node_t *n = new_node(P, N_OUTPUT);
      if (n) n->a = parse_expr(P);
      if (cur(P)->kind != T_END)
        p_fail(P, false, "expected '}}'");
      else
        P->pos++;
      nodes_push(P, out, n);
    } else if (t->kind == T_STMT_BEG) {
      token_t *w = &P->t[P->pos + 1];
      if (w->kind == T_NAME && (w->n >= 3 && !memcmp(w->s, "end", 3))) {
        p_fail(P, false, "unexpected '%.*s'", (int)w->n, w->s);
        return NULL;
      }
      if (w->kind == T_NAME &&
          ((w->n == 4 && !memcmp(w->s, "elif", 4)) || (w->n == 4 && !memcmp(w->s, "else", 4)))) {
        p_fail(P, false, "unexpected '%.*s'", (int)w->n, w->s);
        return NULL;
      }
      nodes_push(P, out, parse_stmt(P));
    } else {
      p_fail(P, false, "unexpected token");
    }
  }
  return NULL;
}

/* ================================================================ entry points */

azc_jinja_result_t azc_jinja_parse(const char *src, size_t len, azc_jinja_t **out, char *err,
                                   size_t err_cap) {
  *out = NULL;
  if (err_cap) err[0] = 0;
  azc_jinja_t *j = calloc(1, sizeof(*j));
  if (!j) return AZC_JINJA_NOMEM;
  azc_arena_init(&j->arena, 1 << 16);
  lexer_t L = {
      .arena = &j->arena, .src = src, .len = len, .line = 1, .err = err, .err_cap = err_cap};
  lex(&L);
  azc_jinja_result_t r = AZC_JINJA_OK;
  if (L.failed) {
    r = L.nomem ? AZC_JINJA_NOMEM : AZC_JINJA_UNSUPPORTED;
  } else {
    parser_t P = {.arena = &j->arena, .t = L.toks, .n = L.n, .err = err, .err_cap = err_cap};
    nodes_t body = {0};
    parse_body(&P, &body, NULL);
    if (!P.failed && cur(&P)->kind != T_EOF) p_fail(&P, false, "unexpected tag");
    if (P.failed) {
      /* a template Jinja itself would reject is as unusable as one azc cannot read */
      r = P.nomem ? AZC_JINJA_NOMEM : AZC_JINJA_UNSUPPORTED;
    } else {
      j->body = body.v;
      j->n_body = body.n;
    }
  }
  free(L.toks); /* the tree keeps arena copies of names; its text nodes point into src */
  if (r != AZC_JINJA_OK) {
    azc_jinja_free(j);
    return r;
  }
  *out = j;
  return AZC_JINJA_OK;
}

void azc_jinja_free(azc_jinja_t *t) {
  if (!t) return;
  azc_arena_free(&t->arena);
  free(t);
}
