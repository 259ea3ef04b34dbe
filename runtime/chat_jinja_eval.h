/* Internal to the Jinja evaluator (chat_jinja_eval.c, chat_jinja_str.c):
 * the evaluation context, the one failure exit, value constructors over the
 * render's arena, and the string helpers behind the str methods and filters.
 * Not part of the runtime's API. */
#ifndef AZC_RUNTIME_CHAT_JINJA_EVAL_H
#define AZC_RUNTIME_CHAT_JINJA_EVAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime/base/arena.h"
#include "runtime/base/util.h"
#include "runtime/chat_internal.h"
#include "runtime/chat_jinja_tree.h"

typedef struct scope {
  struct scope *parent;
  size_t n, cap;
  const char **names;
  value_t *vals;
} scope_t;

/* the output of a macro call or a block set while it is rendered; every one
 * is freed when the render ends, even one a failure left behind */
typedef struct capture {
  azc_buf_t buf;
  struct capture *next;
} capture_t;

typedef struct ctx {
  azc_arena_t *arena;
  azc_buf_t *out;
  scope_t *scope;
  scope_t *top; /* the template's own assignments: where macros are defined and run */
  capture_t *captures;
  int64_t now; /* strftime_now's time (Unix seconds), 0: the current local time */
  char *err;
  size_t err_cap;
  azc_jinja_result_t fail; /* first failure */
  jmp_buf jump;
  long steps;
  int depth;
} ctx_t;

/* Ends the render with kind r and a message (longjmp to azc_jinja_render). */
__attribute__((noreturn)) void azc_jinja_fail(ctx_t *C, azc_jinja_result_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define UNSUP(...) azc_jinja_fail(C, AZC_JINJA_UNSUPPORTED, __VA_ARGS__)
#define ERROR(...) azc_jinja_fail(C, AZC_JINJA_ERROR, __VA_ARGS__)

static inline void *alloc(ctx_t *C, size_t n) {
  void *p = azc_arena_alloc(C->arena, n ? n : 1, 8);
  if (!p) azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
  return p;
}
static inline value_t mk_str(ctx_t *C, const char *s, size_t n) {
  str_t *x = alloc(C, sizeof(str_t) + n + 1);
  x->n = n;
  if (n) memcpy(x->s, s, n);
  x->s[n] = 0;
  return (value_t){.k = V_STR, .s = x};
}

static inline value_t mk_cstr(ctx_t *C, const char *s) { return mk_str(C, s, strlen(s)); }
static inline value_t mk_bool(bool b) { return (value_t){.k = V_BOOL, .b = b}; }
static inline value_t mk_int(int64_t i) { return (value_t){.k = V_INT, .i = i}; }

static inline list_t *new_list(ctx_t *C, size_t cap) {
  list_t *l = alloc(C, sizeof(*l));
  l->n = 0;
  l->cap = cap ? cap : 4;
  l->items = alloc(C, l->cap * sizeof(value_t));
  l->tuple = false;
  return l;
}

static inline void list_push(ctx_t *C, list_t *l, value_t v) {
  if (l->n == l->cap) {
    value_t *it = alloc(C, l->cap * 2 * sizeof(value_t));
    memcpy(it, l->items, l->n * sizeof(value_t));
    l->items = it;
    l->cap *= 2;
  }
  l->items[l->n++] = v;
}

/* strings (chat_jinja_str.c) */
size_t azc_jinja_utf8_len(const str_t *s);
bool azc_jinja_ascii_only(const str_t *s);
value_t azc_jinja_strip(ctx_t *C, value_t v, const str_t *chars, bool left, bool right);
value_t azc_jinja_change_case(ctx_t *C, value_t v,
                              int mode /* 0 upper 1 lower 2 title 3 capitalize */);
bool azc_jinja_str_starts(const str_t *s, const str_t *p);
bool azc_jinja_str_ends(const str_t *s, const str_t *p);
const char *azc_jinja_memmem(const char *h, size_t hn, const char *n, size_t nn);
value_t azc_jinja_split(ctx_t *C, value_t v, value_t sep, int64_t maxsplit);
value_t azc_jinja_replace(ctx_t *C, value_t v, value_t old, value_t new_, int64_t count);
/* jinja2's indent filter on a string: the lines after the first (and the
 * first too when `first`) start with `indention`; blank lines only when
 * `blank` */
value_t azc_jinja_indent(ctx_t *C, value_t v, const str_t *indention, bool first, bool blank);
/* Python-style index normalization; false when out of range */
bool azc_jinja_norm_index(int64_t i, size_t n, size_t *out);

#endif
