/* The Jinja evaluator (see chat_jinja.c for what is supported and why it
 * exists): values with Python's semantics, scopes as Jinja makes them (a
 * loop iteration is a scope of its own, namespaces carry values out of it),
 * expressions, filters, tests, methods and statements. Every failure leaves
 * through one longjmp to azc_jinja_render with its kind and message; the
 * render's values all live in one arena freed at the end, so nothing leaks
 * whatever the template does. */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/chat_jinja_eval.h"

/* ================================================================ values */

static const value_t UNDEF = {.k = V_UNDEF};

void azc_jinja_fail(ctx_t *C, azc_jinja_result_t r, const char *fmt, ...) {
  C->fail = r;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(C->err, C->err_cap, fmt, ap);
  va_end(ap);
  longjmp(C->jump, 1);
}

static void step(ctx_t *C) {
  if (++C->steps > MAX_STEPS) UNSUP("the template runs too long");
}

static dict_t *new_dict(ctx_t *C) {
  dict_t *d = alloc(C, sizeof(*d));
  memset(d, 0, sizeof(*d));
  return d;
}

static value_t *dict_get(const dict_t *d, const char *k, size_t n) {
  for (size_t i = 0; i < d->n; i++)
    if (d->keys[i]->n == n && !memcmp(d->keys[i]->s, k, n)) return &d->vals[i];
  return NULL;
}

static void dict_set(ctx_t *C, dict_t *d, const char *k, size_t n, value_t v) {
  value_t *have = dict_get(d, k, n);
  if (have) {
    *have = v;
    return;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    str_t **keys = alloc(C, cap * sizeof(*keys));
    value_t *vals = alloc(C, cap * sizeof(*vals));
    if (d->n) {
      memcpy(keys, d->keys, d->n * sizeof(*keys));
      memcpy(vals, d->vals, d->n * sizeof(*vals));
    }
    d->keys = keys;
    d->vals = vals;
    d->cap = cap;
  }
  d->keys[d->n] = mk_str(C, k, n).s;
  d->vals[d->n++] = v;
}

static bool truthy(value_t v) {
  switch (v.k) {
  case V_UNDEF:
  case V_NONE: return false;
  case V_BOOL: return v.b;
  case V_INT: return v.i != 0;
  case V_FLOAT: return v.f != 0;
  case V_STR: return v.s->n != 0;
  case V_LIST: return v.l->n != 0;
  case V_DICT: return v.d->n != 0 || v.d->ns;
  case V_FUNC: return true;
  }
  return false;
}

static const char *kind_name(value_t v) {
  static const char *const names[] = {"undefined", "NoneType", "bool", "int",     "float",
                                      "str",       "list",     "dict", "function"};
  return v.k == V_LIST && v.l->tuple ? "tuple" : names[v.k];
}

static bool equal(value_t a, value_t b) {
  if ((a.k == V_INT || a.k == V_FLOAT || a.k == V_BOOL) &&
      (b.k == V_INT || b.k == V_FLOAT || b.k == V_BOOL)) {
    double x = a.k == V_FLOAT ? a.f : a.k == V_INT ? (double)a.i : a.b;
    double y = b.k == V_FLOAT ? b.f : b.k == V_INT ? (double)b.i : b.b;
    if (a.k != V_FLOAT && b.k != V_FLOAT) {
      int64_t xi = a.k == V_INT ? a.i : a.b, yi = b.k == V_INT ? b.i : b.b;
      return xi == yi;
    }
    return x == y;
  }
  if (a.k != b.k) return false;
  switch (a.k) {
  case V_UNDEF:
  case V_NONE: return true;
  case V_STR: return a.s->n == b.s->n && !memcmp(a.s->s, b.s->s, a.s->n);
  case V_LIST:
    if (a.l->n != b.l->n || a.l->tuple != b.l->tuple) return false;
    for (size_t i = 0; i < a.l->n; i++)
      if (!equal(a.l->items[i], b.l->items[i])) return false;
    return true;
  case V_DICT:
    if (a.d->n != b.d->n) return false;
    for (size_t i = 0; i < a.d->n; i++) {
      value_t *o = dict_get(b.d, a.d->keys[i]->s, a.d->keys[i]->n);
      if (!o || !equal(a.d->vals[i], *o)) return false;
    }
    return a.d == b.d || !a.d->ns;
  default: return a.d == b.d;
  }
}

/* ---- text of values: str() and repr() as Python writes them ---- */

static void put_float(azc_buf_t *b, double f) {
  if (isnan(f)) {
    azc_buf_puts(b, "nan");
    return;
  }
  if (isinf(f)) {
    azc_buf_puts(b, f < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  int prec = 1;
  for (; prec <= 17; prec++) { /* the shortest text that reads back as f */
    snprintf(buf, sizeof(buf), "%.*e", prec - 1, f);
    if (strtod(buf, NULL) == f) break;
  }
  /* Python's repr: exponent form when the exponent is < -4 or >= 16 */
  int exp10 = atoi(strchr(buf, 'e') + 1);
  if (exp10 < -4 || exp10 >= 16) {
    char mant[24];
    const char *e = strchr(buf, 'e');
    snprintf(mant, sizeof(mant), "%.*s", (int)AZC_MIN(e - buf, 23), buf);
    snprintf(buf, sizeof(buf), "%se%c%02d", mant, exp10 < 0 ? '-' : '+', abs(exp10));
  } else {
    int decimals = prec - 1 - exp10;
    snprintf(buf, sizeof(buf), "%.*f", decimals > 0 ? decimals : 0, f);
    if (!strchr(buf, '.')) strcat(buf, ".0");
  }
  azc_buf_puts(b, buf);
}

static void put_value(ctx_t *C, azc_buf_t *b, value_t v, bool repr);

static void put_repr_str(azc_buf_t *b, const str_t *s) {
  bool dq = memchr(s->s, '\'', s->n) && !memchr(s->s, '"', s->n);
  char q = dq ? '"' : '\'';
  azc_buf_put(b, &q, 1);
  for (size_t i = 0; i < s->n; i++) {
    unsigned char c = (unsigned char)s->s[i];
    char esc[8];
    if (c == '\\')
      azc_buf_puts(b, "\\\\");
    else if (c == (unsigned char)q)
      azc_buf_puts(b, q == '\'' ? "\\'" : "\\\"");
    else if (c == '\n')
      azc_buf_puts(b, "\\n");
    else if (c == '\t')
      azc_buf_puts(b, "\\t");
    else if (c == '\r')
      azc_buf_puts(b, "\\r");
    else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof(esc), "\\x%02x", c);
      azc_buf_puts(b, esc);
    } else {
      azc_buf_put(b, (const char *)&c, 1);
    }
  }
  azc_buf_put(b, &q, 1);
}

static void put_value(ctx_t *C, azc_buf_t *b, value_t v, bool repr) {
  char buf[32];
  switch (v.k) {
  case V_UNDEF: break;
  case V_NONE: azc_buf_puts(b, "None"); break;
  case V_BOOL: azc_buf_puts(b, v.b ? "True" : "False"); break;
  case V_INT:
    snprintf(buf, sizeof(buf), "%lld", (long long)v.i);
    azc_buf_puts(b, buf);
    break;
  case V_FLOAT: put_float(b, v.f); break;
  case V_STR:
    if (repr)
      put_repr_str(b, v.s);
    else
      azc_buf_put(b, v.s->s, v.s->n);
    break;
  case V_LIST:
    azc_buf_puts(b, v.l->tuple ? "(" : "[");
    for (size_t i = 0; i < v.l->n; i++) {
      if (i) azc_buf_puts(b, ", ");
      put_value(C, b, v.l->items[i], true);
    }
    azc_buf_puts(b, v.l->tuple ? (v.l->n == 1 ? ",)" : ")") : "]");
    break;
  case V_DICT:
    if (v.d->ns) UNSUP("printing a namespace");
    azc_buf_puts(b, "{");
    for (size_t i = 0; i < v.d->n; i++) {
      if (i) azc_buf_puts(b, ", ");
      put_repr_str(b, v.d->keys[i]);
      azc_buf_puts(b, ": ");
      put_value(C, b, v.d->vals[i], true);
    }
    azc_buf_puts(b, "}");
    break;
  case V_FUNC: UNSUP("printing a function");
  }
  if (b->oom) azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
}

static value_t to_str(ctx_t *C, value_t v) {
  if (v.k == V_STR) return v;
  azc_buf_t b = {0};
  put_value(C, &b, v, false);
  value_t s = mk_str(C, b.data ? b.data : "", b.len);
  azc_buf_free(&b);
  return s;
}

/* JSON as Python's json.dumps(ensure_ascii=False) writes it */
static void put_json(ctx_t *C, azc_buf_t *b, value_t v, int indent, int level) {
  switch (v.k) {
  case V_UNDEF: ERROR("Object of type Undefined is not JSON serializable");
  case V_NONE: azc_buf_puts(b, "null"); return;
  case V_BOOL: azc_buf_puts(b, v.b ? "true" : "false"); return;
  case V_INT:
  case V_FLOAT:
    if (v.k == V_FLOAT && !isfinite(v.f)) UNSUP("JSON of a non-finite float");
    put_value(C, b, v, false);
    return;
  case V_STR:
    azc_buf_puts(b, "\"");
    for (size_t i = 0; i < v.s->n; i++) {
      unsigned char c = (unsigned char)v.s->s[i];
      char esc[8];
      if (c == '"')
        azc_buf_puts(b, "\\\"");
      else if (c == '\\')
        azc_buf_puts(b, "\\\\");
      else if (c == '\n')
        azc_buf_puts(b, "\\n");
      else if (c == '\r')
        azc_buf_puts(b, "\\r");
      else if (c == '\t')
        azc_buf_puts(b, "\\t");
      else if (c == '\b')
        azc_buf_puts(b, "\\b");
      else if (c == '\f')
        azc_buf_puts(b, "\\f");
      else if (c < 0x20) {
        snprintf(esc, sizeof(esc), "\\u%04x", c);
        azc_buf_puts(b, esc);
      } else {
        azc_buf_put(b, (const char *)&c, 1);
      }
    }
    azc_buf_puts(b, "\"");
    return;
  case V_LIST:
  case V_DICT: {
    bool is_list = v.k == V_LIST;
    if (!is_list && v.d->ns) UNSUP("JSON of a namespace");
    size_t n = is_list ? v.l->n : v.d->n;
    azc_buf_puts(b, is_list ? "[" : "{");
    for (size_t i = 0; i < n; i++) {
      if (i) azc_buf_puts(b, indent >= 0 ? "," : ", ");
      if (indent >= 0) {
        azc_buf_puts(b, "\n");
        for (int k = 0; k < indent * (level + 1); k++) azc_buf_puts(b, " ");
      }
      if (is_list) {
        put_json(C, b, v.l->items[i], indent, level + 1);
      } else {
        put_json(C, b, (value_t){.k = V_STR, .s = v.d->keys[i]}, indent, level + 1);
        azc_buf_puts(b, ": ");
        put_json(C, b, v.d->vals[i], indent, level + 1);
      }
    }
    if (indent >= 0 && n) {
      azc_buf_puts(b, "\n");
      for (int k = 0; k < indent * level; k++) azc_buf_puts(b, " ");
    }
    azc_buf_puts(b, is_list ? "]" : "}");
    return;
  }
  case V_FUNC: UNSUP("JSON of a function");
  }
}

/* ================================================================ scopes */

static value_t *lookup_var(ctx_t *C, const char *name) {
  for (scope_t *s = C->scope; s; s = s->parent)
    for (size_t i = s->n; i-- > 0;)
      if (!strcmp(s->names[i], name)) return &s->vals[i];
  return NULL;
}

static void set_var(ctx_t *C, const char *name, value_t v) {
  scope_t *s = C->scope;
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->names[i], name)) {
      s->vals[i] = v;
      return;
    }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    const char **names = alloc(C, cap * sizeof(*names));
    value_t *vals = alloc(C, cap * sizeof(*vals));
    if (s->n) {
      memcpy(names, s->names, s->n * sizeof(*names));
      memcpy(vals, s->vals, s->n * sizeof(*vals));
    }
    s->names = names;
    s->vals = vals;
    s->cap = cap;
  }
  s->names[s->n] = name;
  s->vals[s->n++] = v;
}

static void push_scope(ctx_t *C, scope_t *s) {
  memset(s, 0, sizeof(*s));
  s->parent = C->scope;
  C->scope = s;
}

static void pop_scope(ctx_t *C) { C->scope = C->scope->parent; }

/* ================================================================ evaluation */

static value_t eval(ctx_t *C, const node_t *n);

static int64_t want_int(ctx_t *C, value_t v, const char *what) {
  if (v.k == V_INT) return v.i;
  if (v.k == V_BOOL) return v.b;
  ERROR("%s must be an integer, not %s", what, kind_name(v));
}

static value_t get_attr(ctx_t *C, value_t obj, const char *name, size_t n, bool item_first);

static value_t bound(ctx_t *C, value_t self, const char *name) {
  value_t *s = alloc(C, sizeof(*s));
  *s = self;
  value_t f = {.k = V_FUNC};
  f.fn.id = FN_METHOD;
  f.fn.method = name;
  f.fn.self = s;
  return f;
}

static bool is_str_method(const char *n) {
  static const char *const m[] = {"strip",   "lstrip",  "rstrip",  "startswith", "endswith",
                                  "split",   "upper",   "lower",   "title",      "capitalize",
                                  "replace", "find",    "count",   "join",       "format",
                                  "rsplit",  "isdigit", "isalpha", "isspace",    NULL};
  for (int i = 0; m[i]; i++)
    if (!strcmp(m[i], n)) return true;
  return false;
}

static bool is_dict_method(const char *n) {
  static const char *const m[] = {"items", "keys",       "values", "get",     "pop", "update",
                                  "copy",  "setdefault", "clear",  "popitem", NULL};
  for (int i = 0; m[i]; i++)
    if (!strcmp(m[i], n)) return true;
  return false;
}

static value_t get_item_value(ctx_t *C, value_t obj, value_t key) {
  if (obj.k == V_UNDEF) ERROR("undefined value has no item");
  if (obj.k == V_LIST || obj.k == V_STR) {
    if (key.k != V_INT && key.k != V_BOOL) {
      if (key.k == V_STR) return get_attr(C, obj, key.s->s, key.s->n, false);
      return UNDEF;
    }
    size_t n = obj.k == V_LIST ? obj.l->n : obj.s->n, at;
    if (obj.k == V_STR && !azc_jinja_ascii_only(obj.s)) UNSUP("indexing non-ASCII text");
    if (!azc_jinja_norm_index(key.k == V_INT ? key.i : key.b, n, &at)) return UNDEF;
    return obj.k == V_LIST ? obj.l->items[at] : mk_str(C, obj.s->s + at, 1);
  }
  if (obj.k == V_DICT) {
    if (key.k != V_STR) return UNDEF;
    value_t *v = dict_get(obj.d, key.s->s, key.s->n);
    if (v) return *v;
    return get_attr(C, obj, key.s->s, key.s->n, false);
  }
  return UNDEF;
}

/* x.name (item_first false) or x['name'] (true), as Jinja's environment
 * getattr/getitem do: the other lookup is tried when the first finds
 * nothing; nothing found is undefined (an error only on undefined itself). */
static value_t get_attr(ctx_t *C, value_t obj, const char *name, size_t n, bool item_first) {
  if (obj.k == V_UNDEF) ERROR("'%.*s' of an undefined value", (int)n, name);
  char *nm = alloc(C, n + 1);
  memcpy(nm, name, n);
  nm[n] = 0;
  if (obj.k == V_DICT) {
    value_t *v = dict_get(obj.d, name, n);
    if (obj.d->ns) return v ? *v : UNDEF;
    if (item_first && v) return *v;
    if (is_dict_method(nm)) return bound(C, obj, nm);
    return v ? *v : UNDEF;
  }
  if (obj.k == V_STR && is_str_method(nm)) return bound(C, obj, nm);
  if (obj.k == V_LIST && (!strcmp(nm, "append") || !strcmp(nm, "pop") || !strcmp(nm, "index")))
    return bound(C, obj, nm);
  return UNDEF;
}

typedef struct args {
  value_t pos[8];
  size_t n_pos;
  const char *kw[8];
  value_t kwv[8];
  size_t n_kw;
} args_t;

static void eval_args(ctx_t *C, const node_t *n, size_t skip, args_t *a) {
  memset(a, 0, sizeof(*a));
  for (size_t i = skip; i < n->n_args; i++) {
    value_t v = eval(C, n->args[i]);
    if (n->kw && n->kw[i]) {
      if (a->n_kw == 8) UNSUP("too many keyword arguments");
      a->kw[a->n_kw] = n->kw[i];
      a->kwv[a->n_kw++] = v;
    } else {
      if (a->n_pos == 8) UNSUP("too many arguments");
      a->pos[a->n_pos++] = v;
    }
  }
}

/* argument i by position or keyword `name`; UNDEF when absent */
static value_t arg(const args_t *a, size_t i, const char *name) {
  if (i < a->n_pos) return a->pos[i];
  for (size_t k = 0; k < a->n_kw; k++)
    if (name && !strcmp(a->kw[k], name)) return a->kwv[k];
  return UNDEF;
}

static void no_kwargs(ctx_t *C, const args_t *a, const char *what) {
  if (a->n_kw) UNSUP("keyword argument '%s' to %s", a->kw[0], what);
}

static value_t call_method(ctx_t *C, value_t self, const char *m, const args_t *a) {
  if (self.k == V_STR) {
    value_t a0 = arg(a, 0, NULL);
    no_kwargs(C, a, m);
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
      const str_t *chars = a0.k == V_STR ? a0.s : NULL;
      if (a0.k != V_UNDEF && a0.k != V_NONE && !chars) ERROR("%s arg must be None or str", m);
      return azc_jinja_strip(C, self, chars, m[0] != 'r', m[0] != 'l');
    }
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
      bool starts = m[0] == 's';
      if (a0.k == V_STR)
        return mk_bool(starts ? azc_jinja_str_starts(self.s, a0.s)
                              : azc_jinja_str_ends(self.s, a0.s));
      if (a0.k == V_LIST && a0.l->tuple) {
        for (size_t i = 0; i < a0.l->n; i++) {
          if (a0.l->items[i].k != V_STR) ERROR("%s: tuple of non-strings", m);
          if (starts ? azc_jinja_str_starts(self.s, a0.l->items[i].s)
                     : azc_jinja_str_ends(self.s, a0.l->items[i].s))
            return mk_bool(true);
        }
        return mk_bool(false);
      }
      ERROR("%s first arg must be str or a tuple of str", m);
    }
    if (!strcmp(m, "split")) {
      value_t a1 = arg(a, 1, NULL);
      return azc_jinja_split(C, self, a0, a1.k == V_UNDEF ? -1 : want_int(C, a1, "maxsplit"));
    }
    if (!strcmp(m, "upper")) return azc_jinja_change_case(C, self, 0);
    if (!strcmp(m, "lower")) return azc_jinja_change_case(C, self, 1);
    if (!strcmp(m, "title")) return azc_jinja_change_case(C, self, 2);
    if (!strcmp(m, "capitalize")) return azc_jinja_change_case(C, self, 3);
    if (!strcmp(m, "replace")) {
      value_t a2 = arg(a, 2, NULL);
      return azc_jinja_replace(C, self, a0, arg(a, 1, NULL),
                               a2.k == V_UNDEF ? -1 : want_int(C, a2, "count"));
    }
    if (!strcmp(m, "join")) {
      if (a0.k != V_LIST) UNSUP("join() of a %s", kind_name(a0));
      azc_buf_t b = {0};
      for (size_t i = 0; i < a0.l->n; i++) {
        if (a0.l->items[i].k != V_STR) {
          azc_buf_free(&b);
          ERROR("sequence item %zu: expected str instance", i);
        }
        if (i) azc_buf_put(&b, self.s->s, self.s->n);
        azc_buf_put(&b, a0.l->items[i].s->s, a0.l->items[i].s->n);
      }
      value_t r = mk_str(C, b.data ? b.data : "", b.len);
      azc_buf_free(&b);
      return r;
    }
    if (!strcmp(m, "find") || !strcmp(m, "count")) {
      if (a0.k != V_STR) ERROR("%s() takes a string", m);
      if (!azc_jinja_ascii_only(self.s)) UNSUP("%s() in non-ASCII text", m);
      if (m[0] == 'f') {
        const char *hit = azc_jinja_memmem(self.s->s, self.s->n, a0.s->s, a0.s->n);
        return mk_int(hit ? (int64_t)(hit - self.s->s) : -1);
      }
      if (a0.s->n == 0) return mk_int((int64_t)self.s->n + 1);
      int64_t c = 0;
      for (size_t i = 0; i + a0.s->n <= self.s->n;)
        if (!memcmp(self.s->s + i, a0.s->s, a0.s->n))
          c++, i += a0.s->n;
        else
          i++;
      return mk_int(c);
    }
    UNSUP("string method %s()", m);
  }
  if (self.k == V_DICT) {
    no_kwargs(C, a, m);
    if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
      list_t *l = new_list(C, self.d->n);
      for (size_t i = 0; i < self.d->n; i++) {
        value_t key = {.k = V_STR, .s = self.d->keys[i]};
        if (m[0] == 'k')
          list_push(C, l, key);
        else if (m[0] == 'v')
          list_push(C, l, self.d->vals[i]);
        else {
          list_t *pair = new_list(C, 2);
          pair->tuple = true;
          list_push(C, pair, key);
          list_push(C, pair, self.d->vals[i]);
          list_push(C, l, (value_t){.k = V_LIST, .l = pair});
        }
      }
      return (value_t){.k = V_LIST, .l = l};
    }
    if (!strcmp(m, "get")) {
      value_t k = arg(a, 0, NULL), d = arg(a, 1, NULL);
      value_t *v = k.k == V_STR ? dict_get(self.d, k.s->s, k.s->n) : NULL;
      return v ? *v : d.k == V_UNDEF ? (value_t){.k = V_NONE} : d;
    }
  }
  UNSUP("method %s() of %s (the sandbox forbids changing values)", m, kind_name(self));
}

/* ---- macros and block sets: statements rendered into a string ---- */

static int exec_body(ctx_t *C, node_t *const *body, size_t n);

static value_t capture_body(ctx_t *C, node_t *const *body, size_t n) {
  capture_t *cap = alloc(C, sizeof(*cap));
  memset(cap, 0, sizeof(*cap));
  cap->next = C->captures;
  C->captures = cap;
  azc_buf_t *saved = C->out;
  C->out = &cap->buf;
  exec_body(C, body, n);
  C->out = saved;
  if (cap->buf.oom) azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
  value_t s = mk_str(C, cap->buf.data ? cap->buf.data : "", cap->buf.len);
  azc_buf_free(&cap->buf);
  return s;
}

static value_t run_filter(ctx_t *C, const char *name, value_t v, const args_t *a);

/* The filters of a {% filter %} block applied to its body's text: the
 * chain's innermost operand (NULL) stands for that text. */
static value_t filter_chain(ctx_t *C, const node_t *f, value_t body) {
  if (!f) return body;
  if (f->kind != N_FILTER) UNSUP("a test in a 'filter' block");
  value_t v = filter_chain(C, f->a, body);
  args_t a;
  eval_args(C, f, 0, &a);
  return run_filter(C, f->name, v, &a);
}

/* A call of a macro, as jinja2.runtime.Macro binds it: positional
 * arguments first, then keywords by parameter name, then defaults
 * (evaluated in the macro's scope, at the call); a parameter without any
 * is undefined. The body runs in a scope of its own under the template's
 * top level (not the caller's), and its output is the call's value. */
static value_t call_macro(ctx_t *C, const node_t *m, const args_t *a) {
  if (a->n_pos > m->n_targets)
    ERROR("macro '%s' takes not more than %zu argument(s)", m->name, m->n_targets);
  for (size_t k = 0; k < a->n_kw; k++) {
    bool known = false;
    for (size_t i = a->n_pos; i < m->n_targets && !known; i++)
      known = !strcmp(m->targets[i]->name, a->kw[k]);
    if (!known) ERROR("macro '%s' takes no keyword argument '%s'", m->name, a->kw[k]);
  }
  scope_t *caller = C->scope;
  C->scope = C->top;
  scope_t s;
  push_scope(C, &s);
  for (size_t i = 0; i < m->n_targets; i++) {
    const char *name = m->targets[i]->name;
    value_t v = UNDEF;
    bool given = i < a->n_pos;
    if (given) v = a->pos[i];
    for (size_t k = 0; !given && k < a->n_kw; k++)
      if (!strcmp(a->kw[k], name)) v = a->kwv[k], given = true;
    if (!given && m->args[i]) v = eval(C, m->args[i]);
    set_var(C, name, v);
  }
  value_t r = capture_body(C, m->body, m->n_body);
  C->scope = caller;
  return r;
}

static value_t call_func(ctx_t *C, value_t f, const args_t *a) {
  switch (f.fn.id) {
  case FN_RANGE: {
    no_kwargs(C, a, "range");
    int64_t lo = 0, hi, st = 1;
    if (a->n_pos == 1)
      hi = want_int(C, a->pos[0], "range()");
    else if (a->n_pos == 2 || a->n_pos == 3) {
      lo = want_int(C, a->pos[0], "range()");
      hi = want_int(C, a->pos[1], "range()");
      if (a->n_pos == 3) st = want_int(C, a->pos[2], "range()");
    } else
      ERROR("range expected 1 to 3 arguments");
    if (st == 0) ERROR("range() arg 3 must not be zero");
    list_t *l = new_list(C, 8);
    for (int64_t i = lo; st > 0 ? i < hi : i > hi;) {
      if (l->n >= MAX_RANGE) UNSUP("a range of more than %d numbers", MAX_RANGE);
      list_push(C, l, mk_int(i));
      if (__builtin_add_overflow(i, st, &i)) break; /* past any bound */
    }
    return (value_t){.k = V_LIST, .l = l};
  }
  case FN_NAMESPACE:
  case FN_DICT: {
    if (a->n_pos)
      UNSUP("%s() with positional arguments", f.fn.id == FN_DICT ? "dict" : "namespace");
    dict_t *d = new_dict(C);
    d->ns = f.fn.id == FN_NAMESPACE;
    for (size_t i = 0; i < a->n_kw; i++) dict_set(C, d, a->kw[i], strlen(a->kw[i]), a->kwv[i]);
    return (value_t){.k = V_DICT, .d = d};
  }
  case FN_RAISE: {
    value_t m = arg(a, 0, NULL);
    value_t s = to_str(C, m);
    azc_jinja_fail(C, AZC_JINJA_RAISED, "%.*s", (int)AZC_MIN(s.s->n, 150), s.s->s);
  }
  case FN_STRFTIME: {
    value_t fmt = arg(a, 0, NULL);
    if (fmt.k != V_STR) ERROR("strftime_now() takes a format string");
    struct tm tm;
    if (C->now) { /* a fixed date (tests): read as UTC */
      time_t t = (time_t)C->now;
      gmtime_r(&t, &tm);
    } else { /* today, as llama.cpp's minja (std::localtime) and Python's datetime.now() */
      time_t t = time(NULL);
      localtime_r(&t, &tm);
    }
    char buf[256];
    size_t n = strftime(buf, sizeof(buf), fmt.s->s, &tm);
    return mk_str(C, buf, n);
  }
  case FN_METHOD: return call_method(C, *f.fn.self, f.fn.method, a);
  case FN_MACRO: return call_macro(C, f.fn.macro, a);
  }
  UNSUP("call");
}

/* ---- iteration: the items of a value a for loop (or a filter) walks ---- */

static list_t *iter_items(ctx_t *C, value_t v) {
  if (v.k == V_LIST) return v.l;
  list_t *l = new_list(C, 8);
  if (v.k == V_UNDEF) return l;
  if (v.k == V_DICT && !v.d->ns) {
    for (size_t i = 0; i < v.d->n; i++) list_push(C, l, (value_t){.k = V_STR, .s = v.d->keys[i]});
    return l;
  }
  if (v.k == V_STR) { /* code points */
    for (size_t i = 0; i < v.s->n;) {
      size_t k = 1;
      while (i + k < v.s->n && ((unsigned char)v.s->s[i + k] & 0xC0) == 0x80) k++;
      list_push(C, l, mk_str(C, v.s->s + i, k));
      i += k;
    }
    return l;
  }
  ERROR("'%s' object is not iterable", kind_name(v));
}

/* ---- tests ---- */

static bool is_number(value_t v) { return v.k == V_INT || v.k == V_FLOAT || v.k == V_BOOL; }

static int compare_order(ctx_t *C, value_t a, value_t b, const char *op);

static bool run_test(ctx_t *C, const char *name, value_t v, const args_t *a) {
  value_t a0 = arg(a, 0, NULL);
  if (!strcmp(name, "defined")) return v.k != V_UNDEF;
  if (!strcmp(name, "undefined")) return v.k == V_UNDEF;
  if (!strcmp(name, "none")) return v.k == V_NONE;
  if (!strcmp(name, "string")) return v.k == V_STR;
  if (!strcmp(name, "number")) return is_number(v);
  if (!strcmp(name, "integer")) return v.k == V_INT;
  if (!strcmp(name, "float")) return v.k == V_FLOAT;
  if (!strcmp(name, "boolean")) return v.k == V_BOOL;
  if (!strcmp(name, "true")) return v.k == V_BOOL && v.b;
  if (!strcmp(name, "false")) return v.k == V_BOOL && !v.b;
  if (!strcmp(name, "mapping")) return v.k == V_DICT;
  if (!strcmp(name, "sequence"))
    return v.k == V_LIST || v.k == V_STR || (v.k == V_DICT && !v.d->ns);
  if (!strcmp(name, "iterable"))
    return v.k == V_LIST || v.k == V_STR || (v.k == V_DICT && !v.d->ns) || v.k == V_UNDEF;
  if (!strcmp(name, "callable")) return v.k == V_FUNC;
  if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==")) return equal(v, a0);
  if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !equal(v, a0);
  if (!strcmp(name, "sameas"))
    return (v.k == V_NONE && a0.k == V_NONE) || (v.k == V_BOOL && a0.k == V_BOOL && v.b == a0.b);
  static const char *const ord[][2] = {{"lt", "<"},  {"le", "<="},      {"gt", ">"},
                                       {"ge", ">="}, {"lessthan", "<"}, {"greaterthan", ">"}};
  for (size_t i = 0; i < sizeof(ord) / sizeof(*ord); i++)
    if (!strcmp(name, ord[i][0]) || !strcmp(name, ord[i][1]))
      return compare_order(C, v, a0, ord[i][1]);
  if (!strcmp(name, "divisibleby")) {
    int64_t d = want_int(C, a0, "divisibleby"), x = want_int(C, v, "divisibleby");
    if (d == 0) ERROR("integer division or modulo by zero");
    return x % d == 0;
  }
  if (!strcmp(name, "even")) return want_int(C, v, "even") % 2 == 0;
  if (!strcmp(name, "odd")) return want_int(C, v, "odd") % 2 != 0;
  if (!strcmp(name, "in")) {
    if (a0.k == V_LIST) {
      for (size_t i = 0; i < a0.l->n; i++)
        if (equal(v, a0.l->items[i])) return true;
      return false;
    }
    if (a0.k == V_STR && v.k == V_STR)
      return azc_jinja_memmem(a0.s->s, a0.s->n, v.s->s, v.s->n) != NULL;
    if (a0.k == V_DICT && v.k == V_STR) return dict_get(a0.d, v.s->s, v.s->n) != NULL;
    ERROR("'in' test of a %s", kind_name(a0));
  }
  UNSUP("the test '%s'", name);
}

/* ---- filters ---- */

static value_t attribute_of(ctx_t *C, value_t item, value_t attr) {
  if (attr.k != V_STR) ERROR("attribute must be a string");
  /* Jinja's attribute=: dotted paths, each part an item lookup first */
  value_t v = item;
  const char *p = attr.s->s, *end = p + attr.s->n;
  while (p <= end) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
    if (v.k == V_UNDEF) return UNDEF;
    v = get_attr(C, v, p, n, true);
    if (!dot) break;
    p = dot + 1;
  }
  return v;
}

static value_t run_filter(ctx_t *C, const char *name, value_t v, const args_t *a) {
  value_t a0 = arg(a, 0, NULL);
  if (!strcmp(name, "trim")) {
    value_t s = to_str(C, v);
    const str_t *chars = a0.k == V_STR ? a0.s : NULL;
    return azc_jinja_strip(C, s, chars, true, true);
  }
  if (!strcmp(name, "length") || !strcmp(name, "count")) {
    if (v.k == V_STR) return mk_int((int64_t)azc_jinja_utf8_len(v.s));
    if (v.k == V_LIST) return mk_int((int64_t)v.l->n);
    if (v.k == V_DICT) return mk_int((int64_t)v.d->n);
    if (v.k == V_UNDEF) return mk_int(0);
    ERROR("object of type '%s' has no len()", kind_name(v));
  }
  if (!strcmp(name, "upper")) return azc_jinja_change_case(C, to_str(C, v), 0);
  if (!strcmp(name, "lower")) return azc_jinja_change_case(C, to_str(C, v), 1);
  if (!strcmp(name, "title")) return azc_jinja_change_case(C, to_str(C, v), 2);
  if (!strcmp(name, "capitalize")) return azc_jinja_change_case(C, to_str(C, v), 3);
  if (!strcmp(name, "default") || !strcmp(name, "d")) {
    value_t dflt = a0.k == V_UNDEF ? mk_str(C, "", 0) : a0;
    bool boolean = truthy(arg(a, 1, "boolean"));
    return v.k == V_UNDEF || (boolean && !truthy(v)) ? dflt : v;
  }
  if (!strcmp(name, "string")) return to_str(C, v);
  if (!strcmp(name, "safe")) return v;
  if (!strcmp(name, "int")) {
    if (v.k == V_INT) return v;
    if (v.k == V_BOOL) return mk_int(v.b);
    if (v.k == V_FLOAT && isfinite(v.f) && fabs(v.f) < 9.2e18) return mk_int((int64_t)v.f);
    UNSUP("int() of a %s", kind_name(v));
  }
  if (!strcmp(name, "float")) {
    if (v.k == V_FLOAT) return v;
    if (v.k == V_INT || v.k == V_BOOL)
      return (value_t){.k = V_FLOAT, .f = v.k == V_INT ? (double)v.i : v.b};
    UNSUP("float() of a %s", kind_name(v));
  }
  if (!strcmp(name, "list")) {
    list_t *src = iter_items(C, v), *l = new_list(C, src->n);
    for (size_t i = 0; i < src->n; i++) list_push(C, l, src->items[i]);
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(name, "first") || !strcmp(name, "last")) {
    list_t *l = iter_items(C, v);
    if (!l->n) return UNDEF;
    return name[0] == 'f' ? l->items[0] : l->items[l->n - 1];
  }
  if (!strcmp(name, "reverse")) {
    if (v.k == V_STR && !azc_jinja_ascii_only(v.s)) UNSUP("reverse of non-ASCII text");
    list_t *src = iter_items(C, v), *l = new_list(C, src->n);
    for (size_t i = src->n; i-- > 0;) list_push(C, l, src->items[i]);
    if (v.k == V_STR) {
      azc_buf_t b = {0};
      for (size_t i = 0; i < l->n; i++) azc_buf_put(&b, l->items[i].s->s, l->items[i].s->n);
      value_t r = mk_str(C, b.data ? b.data : "", b.len);
      azc_buf_free(&b);
      return r;
    }
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(name, "join")) {
    value_t sep = a0.k == V_UNDEF ? mk_str(C, "", 0) : to_str(C, a0), attr = arg(a, 1, "attribute");
    list_t *l = iter_items(C, v);
    azc_buf_t b = {0};
    for (size_t i = 0; i < l->n; i++) {
      if (i) azc_buf_put(&b, sep.s->s, sep.s->n);
      value_t item = attr.k == V_UNDEF ? l->items[i] : attribute_of(C, l->items[i], attr);
      value_t s = to_str(C, item);
      azc_buf_put(&b, s.s->s, s.s->n);
    }
    value_t r = mk_str(C, b.data ? b.data : "", b.len);
    azc_buf_free(&b);
    return r;
  }
  if (!strcmp(name, "tojson")) {
    value_t ind = arg(a, 0, "indent");
    int64_t indent = ind.k == V_UNDEF || ind.k == V_NONE ? -1 : want_int(C, ind, "indent");
    if (indent > 64 || (indent < 0 && ind.k != V_UNDEF && ind.k != V_NONE))
      UNSUP("tojson with an indent of %lld", (long long)indent);
    azc_buf_t b = {0};
    put_json(C, &b, v, (int)indent, 0);
    value_t r = mk_str(C, b.data ? b.data : "", b.len);
    azc_buf_free(&b);
    return r;
  }
  if (!strcmp(name, "items")) {
    if (v.k == V_UNDEF) return (value_t){.k = V_LIST, .l = new_list(C, 1)};
    if (v.k != V_DICT) ERROR("items of a %s", kind_name(v));
    args_t none = {0};
    return call_method(C, v, "items", &none);
  }
  if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr") || !strcmp(name, "select") ||
      !strcmp(name, "reject")) {
    bool attr_mode = name[strlen(name) - 4] == 'a', keep_true = name[0] == 's';
    size_t ti = attr_mode ? 1 : 0;
    value_t test = arg(a, ti, NULL);
    args_t targs = {0};
    for (size_t i = ti + 1; i < a->n_pos; i++) targs.pos[targs.n_pos++] = a->pos[i];
    /* jinja2's select_or_reject: a falsy value (none, []) selects nothing */
    list_t *src = truthy(v) ? iter_items(C, v) : new_list(C, 1), *l = new_list(C, src->n);
    for (size_t i = 0; i < src->n; i++) {
      step(C);
      value_t x = attr_mode ? attribute_of(C, src->items[i], a0) : src->items[i];
      bool r = test.k == V_UNDEF ? truthy(x)
               : test.k == V_STR ? run_test(C, test.s->s, x, &targs)
                                 : (ERROR("test name must be a string"), false);
      if (r == keep_true) list_push(C, l, src->items[i]);
    }
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(name, "map")) {
    value_t attr = arg(a, 99, "attribute");
    list_t *src = truthy(v) ? iter_items(C, v) : new_list(C, 1), *l = new_list(C, src->n);
    if (attr.k != V_UNDEF) {
      value_t dflt = arg(a, 99, "default");
      for (size_t i = 0; i < src->n; i++) {
        value_t x = attribute_of(C, src->items[i], attr);
        list_push(C, l, x.k == V_UNDEF && dflt.k != V_UNDEF ? dflt : x);
      }
      return (value_t){.k = V_LIST, .l = l};
    }
    if (a0.k != V_STR) UNSUP("map() without a filter name or attribute");
    args_t fargs = {0};
    for (size_t i = 1; i < a->n_pos; i++) fargs.pos[fargs.n_pos++] = a->pos[i];
    for (size_t i = 0; i < src->n; i++)
      list_push(C, l, run_filter(C, a0.s->s, src->items[i], &fargs));
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(name, "replace")) {
    value_t a2 = arg(a, 2, "count");
    return azc_jinja_replace(C, to_str(C, v), a0, arg(a, 1, NULL),
                             a2.k == V_UNDEF ? -1 : want_int(C, a2, "count"));
  }
  if (!strcmp(name, "indent")) {
    value_t w = arg(a, 0, "width"), first = arg(a, 1, "first"), blank = arg(a, 2, "blank");
    if (v.k != V_STR) ERROR("indent of a %s (it takes a string)", kind_name(v));
    const str_t *ind = w.k == V_STR ? w.s : NULL;
    if (!ind) { /* a number of spaces (Python's " " * width) */
      int64_t k = w.k == V_UNDEF ? 4 : want_int(C, w, "indent width");
      if (k > 256) UNSUP("an indent of %lld spaces", (long long)k);
      str_t *sp = alloc(C, sizeof(str_t) + (size_t)AZC_MAX(k, 0) + 1);
      sp->n = (size_t)AZC_MAX(k, 0);
      memset(sp->s, ' ', sp->n);
      sp->s[sp->n] = 0;
      ind = sp;
    }
    return azc_jinja_indent(C, v, ind, truthy(first), truthy(blank));
  }
  if (!strcmp(name, "unique")) {
    /* jinja2's do_unique: first occurrences, keyed by the item (or its
     * attribute), strings compared lower-cased unless case_sensitive */
    bool case_sensitive = truthy(arg(a, 0, "case_sensitive"));
    value_t attr = arg(a, 1, "attribute");
    list_t *src = iter_items(C, v), *l = new_list(C, src->n), *keys = new_list(C, src->n);
    for (size_t i = 0; i < src->n; i++) {
      step(C);
      value_t key = attr.k == V_UNDEF ? src->items[i] : attribute_of(C, src->items[i], attr);
      if (key.k == V_LIST && !key.l->tuple) ERROR("unhashable type: 'list'");
      if (key.k == V_DICT) ERROR("unhashable type: 'dict'");
      if (key.k == V_STR && !case_sensitive) key = azc_jinja_change_case(C, key, 1);
      bool seen = false;
      for (size_t k = 0; k < keys->n && !seen; k++) seen = equal(keys->items[k], key);
      if (seen) continue;
      list_push(C, keys, key);
      list_push(C, l, src->items[i]);
    }
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(name, "abs")) {
    if (v.k == V_INT && v.i == INT64_MIN) UNSUP("integer overflow");
    if (v.k == V_INT) return mk_int(v.i < 0 ? -v.i : v.i);
    if (v.k == V_FLOAT) return (value_t){.k = V_FLOAT, .f = fabs(v.f)};
    ERROR("bad operand type for abs()");
  }
  UNSUP("the filter '%s'", name);
}

/* ---- operators ---- */

static double as_double(value_t v) {
  return v.k == V_FLOAT ? v.f : v.k == V_INT ? (double)v.i : v.b;
}

static int compare_order(ctx_t *C, value_t a, value_t b, const char *op) {
  int c;
  if (is_number(a) && is_number(b)) {
    if (a.k != V_FLOAT && b.k != V_FLOAT) {
      int64_t x = a.k == V_INT ? a.i : a.b, y = b.k == V_INT ? b.i : b.b;
      c = x < y ? -1 : x > y;
    } else {
      double x = as_double(a), y = as_double(b);
      if (isnan(x) || isnan(y)) return false;
      c = x < y ? -1 : x > y;
    }
  } else if (a.k == V_STR && b.k == V_STR) {
    size_t n = AZC_MIN(a.s->n, b.s->n);
    c = memcmp(a.s->s, b.s->s, n);
    if (!c) c = a.s->n < b.s->n ? -1 : a.s->n > b.s->n;
  } else {
    ERROR("'%s' not supported between instances of '%s' and '%s'", op, kind_name(a), kind_name(b));
  }
  if (!strcmp(op, "<")) return c < 0;
  if (!strcmp(op, "<=")) return c <= 0;
  if (!strcmp(op, ">")) return c > 0;
  return c >= 0;
}

static bool contains(ctx_t *C, value_t hay, value_t needle) {
  if (hay.k == V_STR) {
    if (needle.k != V_STR) ERROR("'in <string>' requires string as left operand");
    return azc_jinja_memmem(hay.s->s, hay.s->n, needle.s->s, needle.s->n) != NULL;
  }
  if (hay.k == V_LIST) {
    for (size_t i = 0; i < hay.l->n; i++)
      if (equal(needle, hay.l->items[i])) return true;
    return false;
  }
  if (hay.k == V_DICT && !hay.d->ns)
    return needle.k == V_STR && dict_get(hay.d, needle.s->s, needle.s->n) != NULL;
  ERROR("argument of type '%s' is not iterable", kind_name(hay));
}

static value_t arith(ctx_t *C, const char *op, value_t a, value_t b) {
  if (!strcmp(op, "~")) {
    value_t x = to_str(C, a), y = to_str(C, b);
    value_t r = mk_str(C, NULL, 0);
    str_t *s = alloc(C, sizeof(str_t) + x.s->n + y.s->n + 1);
    memcpy(s->s, x.s->s, x.s->n);
    memcpy(s->s + x.s->n, y.s->s, y.s->n);
    s->n = x.s->n + y.s->n;
    s->s[s->n] = 0;
    r.s = s;
    return r;
  }
  if (a.k == V_UNDEF || b.k == V_UNDEF) ERROR("an undefined value in '%s'", op);
  if (!strcmp(op, "+") && a.k == V_STR && b.k == V_STR) {
    str_t *s = alloc(C, sizeof(str_t) + a.s->n + b.s->n + 1);
    memcpy(s->s, a.s->s, a.s->n);
    memcpy(s->s + a.s->n, b.s->s, b.s->n);
    s->n = a.s->n + b.s->n;
    s->s[s->n] = 0;
    return (value_t){.k = V_STR, .s = s};
  }
  if (!strcmp(op, "+") && a.k == V_LIST && b.k == V_LIST) {
    list_t *l = new_list(C, a.l->n + b.l->n);
    for (size_t i = 0; i < a.l->n; i++) list_push(C, l, a.l->items[i]);
    for (size_t i = 0; i < b.l->n; i++) list_push(C, l, b.l->items[i]);
    l->tuple = a.l->tuple && b.l->tuple;
    return (value_t){.k = V_LIST, .l = l};
  }
  if (!strcmp(op, "*") && ((a.k == V_STR && b.k == V_INT) || (a.k == V_INT && b.k == V_STR))) {
    value_t s = a.k == V_STR ? a : b;
    int64_t times = a.k == V_INT ? a.i : b.i;
    if (times > 0 && s.s->n * (uint64_t)times > MAX_OUTPUT) UNSUP("a string too long");
    azc_buf_t buf = {0};
    for (int64_t i = 0; i < times; i++) azc_buf_put(&buf, s.s->s, s.s->n);
    value_t r = mk_str(C, buf.data ? buf.data : "", buf.len);
    azc_buf_free(&buf);
    return r;
  }
  if (!is_number(a) || !is_number(b))
    ERROR("unsupported operand type(s) for %s: '%s' and '%s'", op, kind_name(a), kind_name(b));
  bool ints = a.k != V_FLOAT && b.k != V_FLOAT;
  /* the integer values (read only when both are ints or bools) */
  int64_t x = a.k == V_INT ? a.i : a.k == V_BOOL ? a.b : 0;
  int64_t y = b.k == V_INT ? b.i : b.k == V_BOOL ? b.b : 0;
  double fx = as_double(a), fy = as_double(b);
  if (!strcmp(op, "/")) {
    if (fy == 0) ERROR("division by zero");
    return (value_t){.k = V_FLOAT, .f = fx / fy};
  }
  if (!strcmp(op, "//") || !strcmp(op, "%")) {
    if (ints) {
      if (y == 0) ERROR("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) UNSUP("integer overflow");
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) q--, r += y;
      return mk_int(op[0] == '%' ? r : q);
    }
    if (fy == 0) ERROR("float division by zero");
    double q = floor(fx / fy), r = fx - q * fy;
    return (value_t){.k = V_FLOAT, .f = op[0] == '%' ? r : q};
  }
  if (!strcmp(op, "**")) {
    if (ints && y >= 0) { /* Python's ints do not overflow: a result beyond int64 is refused */
      if (x == 0 || x == 1) return mk_int(y == 0 ? 1 : x);
      if (x == -1) return mk_int(y % 2 ? -1 : 1);
      int64_t r = 1;
      for (int64_t i = 0; i < y; i++)
        if (__builtin_mul_overflow(r, x, &r)) UNSUP("integer overflow");
      return mk_int(r);
    }
    return (value_t){.k = V_FLOAT, .f = pow(fx, fy)};
  }
  if (ints) {
    int64_t r;
    bool over = !strcmp(op, "+")   ? __builtin_add_overflow(x, y, &r)
                : !strcmp(op, "-") ? __builtin_sub_overflow(x, y, &r)
                                   : __builtin_mul_overflow(x, y, &r);
    if (over) UNSUP("integer overflow");
    return mk_int(r);
  }
  double r = !strcmp(op, "+") ? fx + fy : !strcmp(op, "-") ? fx - fy : fx * fy;
  return (value_t){.k = V_FLOAT, .f = r};
}

static value_t slice(ctx_t *C, value_t obj, value_t lo, value_t hi, value_t st) {
  if (obj.k != V_LIST && obj.k != V_STR) ERROR("'%s' object is not subscriptable", kind_name(obj));
  if (obj.k == V_STR && !azc_jinja_ascii_only(obj.s)) UNSUP("slicing non-ASCII text");
  int64_t n = obj.k == V_LIST ? (int64_t)obj.l->n : (int64_t)obj.s->n;
  int64_t step_ = st.k == V_UNDEF || st.k == V_NONE ? 1 : want_int(C, st, "slice step");
  if (step_ == 0) ERROR("slice step cannot be zero");
  int64_t a, b;
  bool has_a = lo.k != V_UNDEF && lo.k != V_NONE, has_b = hi.k != V_UNDEF && hi.k != V_NONE;
  if (step_ > 0) {
    a = has_a ? want_int(C, lo, "slice") : 0;
    b = has_b ? want_int(C, hi, "slice") : n;
    if (a < 0) a = AZC_MAX(a + n, 0);
    if (b < 0) b = AZC_MAX(b + n, 0);
    a = AZC_MIN(a, n);
    b = AZC_MIN(b, n);
  } else {
    a = has_a ? want_int(C, lo, "slice") : n - 1;
    b = has_b ? want_int(C, hi, "slice") : -n - 1;
    if (a < 0) a += n;
    if (b < 0) b += n;
    a = AZC_MIN(a, n - 1);
    if (b < -1) b = -1;
  }
  list_t *l = new_list(C, 8);
  azc_buf_t buf = {0};
  for (int64_t i = a; step_ > 0 ? i < b : i > b;) {
    if (obj.k == V_LIST)
      list_push(C, l, obj.l->items[i]);
    else
      azc_buf_put(&buf, obj.s->s + i, 1);
    if (__builtin_add_overflow(i, step_, &i)) break; /* past either end */
  }
  if (obj.k == V_STR) {
    value_t r = mk_str(C, buf.data ? buf.data : "", buf.len);
    azc_buf_free(&buf);
    return r;
  }
  l->tuple = obj.l->tuple;
  return (value_t){.k = V_LIST, .l = l};
}

static value_t eval(ctx_t *C, const node_t *n) {
  step(C);
  if (!n) UNSUP("an empty expression");
  if (++C->depth > MAX_DEPTH) UNSUP("expressions nested too deeply");
  value_t r = UNDEF;
  switch (n->kind) {
  case N_CONST: r = n->v; break;
  case N_NAME: {
    value_t *v = lookup_var(C, n->name);
    r = v ? *v : UNDEF;
    break;
  }
  case N_ATTR: r = get_attr(C, eval(C, n->a), n->name, n->name_n, false); break;
  case N_ITEM: {
    value_t obj = eval(C, n->a), key = eval(C, n->b);
    if (obj.k == V_UNDEF) ERROR("an item of an undefined value");
    r = get_item_value(C, obj, key);
    break;
  }
  case N_SLICE: {
    value_t obj = eval(C, n->a);
    value_t lo = n->b ? eval(C, n->b) : UNDEF, hi = n->c ? eval(C, n->c) : UNDEF;
    value_t st = n->n_args && n->args[0] ? eval(C, n->args[0]) : UNDEF;
    r = slice(C, obj, lo, hi, st);
    break;
  }
  case N_CALL: {
    value_t f = eval(C, n->a);
    if (f.k != V_FUNC) {
      if (f.k == V_UNDEF) ERROR("calling an undefined value");
      ERROR("'%s' object is not callable", kind_name(f));
    }
    args_t a;
    eval_args(C, n, 0, &a);
    r = call_func(C, f, &a);
    break;
  }
  case N_FILTER: {
    value_t v = eval(C, n->a);
    args_t a;
    eval_args(C, n, 0, &a);
    r = run_filter(C, n->name, v, &a);
    break;
  }
  case N_TEST: {
    value_t v = eval(C, n->a);
    args_t a;
    eval_args(C, n, 0, &a);
    r = mk_bool(run_test(C, n->name, v, &a) != n->negate);
    break;
  }
  case N_UNARY: {
    value_t v = eval(C, n->a);
    if (n->name[0] == '-') {
      if (v.k == V_INT && v.i == INT64_MIN)
        UNSUP("integer overflow");
      else if (v.k == V_INT)
        r = mk_int(-v.i);
      else if (v.k == V_FLOAT)
        r = (value_t){.k = V_FLOAT, .f = -v.f};
      else if (v.k == V_BOOL)
        r = mk_int(-(int64_t)v.b);
      else
        ERROR("bad operand type for unary -: '%s'", kind_name(v));
    } else {
      if (!is_number(v)) ERROR("bad operand type for unary +: '%s'", kind_name(v));
      r = v.k == V_BOOL ? mk_int(v.b) : v;
    }
    break;
  }
  case N_BINARY: r = arith(C, n->name, eval(C, n->a), eval(C, n->b)); break;
  case N_AND: {
    value_t a = eval(C, n->a);
    r = truthy(a) ? eval(C, n->b) : a;
    break;
  }
  case N_OR: {
    value_t a = eval(C, n->a);
    r = truthy(a) ? a : eval(C, n->b);
    break;
  }
  case N_NOT: r = mk_bool(!truthy(eval(C, n->a))); break;
  case N_COMPARE: {
    value_t left = eval(C, n->a);
    bool ok = true;
    for (size_t i = 0; ok && i < n->n_args; i++) {
      value_t right = eval(C, n->args[i]);
      const char *op = n->ops[i];
      if (!strcmp(op, "=="))
        ok = equal(left, right);
      else if (!strcmp(op, "!="))
        ok = !equal(left, right);
      else if (!strcmp(op, "in"))
        ok = contains(C, right, left);
      else if (!strcmp(op, "not in"))
        ok = !contains(C, right, left);
      else
        ok = compare_order(C, left, right, op);
      left = right;
    }
    r = mk_bool(ok);
    break;
  }
  case N_COND: r = truthy(eval(C, n->b)) ? eval(C, n->a) : n->c ? eval(C, n->c) : UNDEF; break;
  case N_LIST:
  case N_TUPLE: {
    list_t *l = new_list(C, n->n_args);
    l->tuple = n->kind == N_TUPLE;
    for (size_t i = 0; i < n->n_args; i++) list_push(C, l, eval(C, n->args[i]));
    r = (value_t){.k = V_LIST, .l = l};
    break;
  }
  case N_DICT: {
    dict_t *d = new_dict(C);
    for (size_t i = 0; i + 1 < n->n_args; i += 2) {
      value_t k = eval(C, n->args[i]), v = eval(C, n->args[i + 1]);
      if (k.k != V_STR) UNSUP("dict keys other than strings");
      dict_set(C, d, k.s->s, k.s->n, v);
    }
    r = (value_t){.k = V_DICT, .d = d};
    break;
  }
  default: UNSUP("statement in an expression");
  }
  C->depth--;
  return r;
}

/* ================================================================ statements */

enum { FLOW_NEXT = 0, FLOW_BREAK, FLOW_CONTINUE };

static void assign(ctx_t *C, node_t *const *targets, size_t n, value_t v) {
  if (n == 1) {
    const node_t *t = targets[0];
    if (t->kind == N_ATTR) { /* ns.attr = v */
      value_t ns = eval(C, t->a);
      if (ns.k != V_DICT || !ns.d->ns) ERROR("cannot assign attribute on non-namespace object");
      dict_set(C, ns.d, t->name, t->name_n, v);
    } else {
      set_var(C, t->name, v);
    }
    return;
  }
  if (v.k != V_LIST || v.l->n != n) ERROR("cannot unpack a %s into %zu names", kind_name(v), n);
  for (size_t i = 0; i < n; i++) assign(C, &targets[i], 1, v.l->items[i]);
}

static int exec_for(ctx_t *C, const node_t *n) {
  list_t *src = iter_items(C, eval(C, n->a));
  list_t *items = src;
  if (n->b) { /* for x in xs if cond: filtered before the loop variables are known */
    items = new_list(C, src->n);
    for (size_t i = 0; i < src->n; i++) {
      scope_t s;
      push_scope(C, &s);
      assign(C, n->targets, n->n_targets, src->items[i]);
      bool keep = truthy(eval(C, n->b));
      pop_scope(C);
      if (keep) list_push(C, items, src->items[i]);
    }
  }
  if (!items->n) return exec_body(C, n->orelse, n->n_orelse);
  for (size_t i = 0; i < items->n; i++) {
    step(C);
    scope_t s;
    push_scope(C, &s);
    dict_t *loop = new_dict(C);
    int64_t len = (int64_t)items->n, k = (int64_t)i;
    dict_set(C, loop, "index", 5, mk_int(k + 1));
    dict_set(C, loop, "index0", 6, mk_int(k));
    dict_set(C, loop, "revindex", 8, mk_int(len - k));
    dict_set(C, loop, "revindex0", 9, mk_int(len - k - 1));
    dict_set(C, loop, "first", 5, mk_bool(i == 0));
    dict_set(C, loop, "last", 4, mk_bool(i + 1 == items->n));
    dict_set(C, loop, "length", 6, mk_int(len));
    dict_set(C, loop, "previtem", 8, i ? items->items[i - 1] : UNDEF);
    dict_set(C, loop, "nextitem", 8, i + 1 < items->n ? items->items[i + 1] : UNDEF);
    loop->ns = true; /* attribute access only, like Jinja's LoopContext */
    set_var(C, "loop", (value_t){.k = V_DICT, .d = loop});
    assign(C, n->targets, n->n_targets, items->items[i]);
    int flow = exec_body(C, n->body, n->n_body);
    pop_scope(C);
    if (flow == FLOW_BREAK) break;
  }
  return FLOW_NEXT;
}

static int exec_node(ctx_t *C, const node_t *n) {
  step(C);
  switch (n->kind) {
  case N_TEXT: azc_buf_put(C->out, n->text, n->text_n); break;
  case N_OUTPUT: put_value(C, C->out, eval(C, n->a), false); break;
  case N_IF:
    if (truthy(eval(C, n->a))) return exec_body(C, n->body, n->n_body);
    return exec_body(C, n->orelse, n->n_orelse);
  case N_FOR: return exec_for(C, n);
  case N_SET:
    if (n->a) {
      assign(C, n->targets, n->n_targets, eval(C, n->a));
    } else { /* {% set x %}...{% endset %}: the body's own assignments stay inside */
      scope_t s;
      push_scope(C, &s);
      value_t v = capture_body(C, n->body, n->n_body);
      pop_scope(C);
      assign(C, n->targets, n->n_targets, v);
    }
    break;
  case N_FILTER_BLOCK: {
    value_t v = capture_body(C, n->body, n->n_body);
    put_value(C, C->out, filter_chain(C, n->b, v), false);
    break;
  }
  case N_MACRO: {
    if (C->scope != C->top) UNSUP("a macro defined inside a loop or a macro");
    value_t f = {.k = V_FUNC};
    f.fn.id = FN_MACRO;
    f.fn.macro = n;
    set_var(C, n->name, f);
    break;
  }
  case N_BREAK: return FLOW_BREAK;
  case N_CONTINUE: return FLOW_CONTINUE;
  case N_BLOCK: return exec_body(C, n->body, n->n_body);
  default: UNSUP("an expression as a statement");
  }
  if (C->out->oom) azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
  if (C->out->len > MAX_OUTPUT) UNSUP("the output exceeds %d bytes", MAX_OUTPUT);
  return FLOW_NEXT;
}

static int exec_body(ctx_t *C, node_t *const *body, size_t n) {
  if (++C->depth > MAX_DEPTH) UNSUP("statements nested too deeply");
  for (size_t i = 0; i < n; i++) {
    int flow = exec_node(C, body[i]);
    if (flow != FLOW_NEXT) {
      C->depth--;
      return flow;
    }
  }
  C->depth--;
  return FLOW_NEXT;
}

/* ================================================================ entry point */

static value_t func(func_id_t id) {
  value_t f = {.k = V_FUNC};
  f.fn.id = id;
  return f;
}

azc_jinja_result_t azc_jinja_render(const azc_jinja_t *t, const azc_chat_message_t *msgs, size_t n,
                                    bool add_generation_prompt, const char *bos, const char *eos,
                                    int64_t now, const char *const *extra, azc_buf_t *out,
                                    char *err, size_t err_cap) {
  if (err_cap) err[0] = 0;
  azc_arena_t arena;
  azc_arena_init(&arena, 1 << 16);
  ctx_t C = {.arena = &arena, .out = out, .err = err, .err_cap = err_cap, .now = now};
  scope_t globals;
  azc_jinja_result_t r = AZC_JINJA_OK;
  if (setjmp(C.jump)) {
    r = C.fail;
  } else {
    push_scope(&C, &globals);
    list_t *l = new_list(&C, n);
    for (size_t i = 0; i < n; i++) {
      dict_t *m = new_dict(&C);
      dict_set(&C, m, "role", 4, mk_cstr(&C, msgs[i].role));
      dict_set(&C, m, "content", 7, mk_cstr(&C, msgs[i].content));
      list_push(&C, l, (value_t){.k = V_DICT, .d = m});
    }
    set_var(&C, "messages", (value_t){.k = V_LIST, .l = l});
    set_var(&C, "add_generation_prompt", mk_bool(add_generation_prompt));
    set_var(&C, "bos_token", mk_cstr(&C, bos ? bos : ""));
    set_var(&C, "eos_token", mk_cstr(&C, eos ? eos : ""));
    set_var(&C, "raise_exception", func(FN_RAISE));
    set_var(&C, "strftime_now", func(FN_STRFTIME));
    set_var(&C, "range", func(FN_RANGE));
    set_var(&C, "namespace", func(FN_NAMESPACE));
    set_var(&C, "dict", func(FN_DICT));
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
      set_var(&C, extra[i], mk_cstr(&C, extra[i + 1]));
    scope_t top; /* the template's own assignments */
    push_scope(&C, &top);
    C.top = &top;
    exec_body(&C, t->body, t->n_body);
  }
  for (capture_t *c = C.captures; c; c = c->next) azc_buf_free(&c->buf);
  azc_arena_free(&arena);
  if (out->oom && r == AZC_JINJA_OK) r = AZC_JINJA_NOMEM;
  return r;
}
