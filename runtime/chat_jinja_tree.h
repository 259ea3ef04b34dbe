/* The tree of a parsed Jinja template and the values the evaluator computes
 * with (shared by chat_jinja.c, the lexer and parser, and
 * chat_jinja_eval.c, the evaluator; not public). */
#ifndef AZC_RUNTIME_CHAT_JINJA_TREE_H
#define AZC_RUNTIME_CHAT_JINJA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/arena.h"
#include "runtime/chat_internal.h"

/* bounds for untrusted templates */
enum { MAX_DEPTH = 64, MAX_STEPS = 2000000, MAX_OUTPUT = 1 << 20, MAX_RANGE = 100000 };

typedef enum node_kind {
  /* statements */
  N_TEXT,
  N_OUTPUT,
  N_IF,
  N_FOR,
  N_SET, /* a = expr; or block set (a NULL, body the captured statements) */
  N_BREAK,
  N_CONTINUE,
  N_BLOCK,
  N_FILTER_BLOCK, /* {% filter f | g %}: b the filter chain (its innermost a NULL: the body) */
  N_MACRO,        /* {% macro name(params) %}: targets are the parameters, args their defaults */
  /* expressions */
  N_CONST,
  N_NAME,
  N_ATTR,
  N_ITEM,
  N_SLICE,
  N_CALL,
  N_FILTER,
  N_TEST,
  N_UNARY,
  N_BINARY,
  N_AND,
  N_OR,
  N_NOT,
  N_COMPARE,
  N_COND,
  N_LIST,
  N_TUPLE,
  N_DICT
} node_kind_t;

typedef struct value value_t;
typedef struct node node_t;

typedef enum vkind {
  V_UNDEF,
  V_NONE,
  V_BOOL,
  V_INT,
  V_FLOAT,
  V_STR,
  V_LIST,
  V_DICT,
  V_FUNC
} vkind_t;

typedef struct str {
  size_t n;
  char s[];
} str_t;

typedef struct list {
  size_t n, cap;
  value_t *items;
  bool tuple;
} list_t;

typedef struct dict dict_t;

typedef enum func_id {
  FN_RANGE,
  FN_NAMESPACE,
  FN_RAISE,
  FN_STRFTIME,
  FN_DICT,
  FN_METHOD,
  FN_MACRO
} func_id_t;

struct value {
  vkind_t k;
  union {
    bool b;
    int64_t i;
    double f;
    str_t *s;
    list_t *l;
    dict_t *d;
    struct {
      func_id_t id;
      const char *method; /* FN_METHOD: bound method name */
      value_t *self;
      const node_t *macro; /* FN_MACRO: its N_MACRO node */
    } fn;
  };
};

struct dict {
  size_t n, cap;
  str_t **keys;
  value_t *vals;
  bool ns; /* a namespace(): attributes may be set */
};

struct node {
  node_kind_t kind;
  int line;
  const char *name; /* N_NAME, N_ATTR, N_FILTER, N_TEST, N_SET target, N_UNARY/N_BINARY op */
  size_t name_n;
  node_t *a, *b, *c; /* operands / children */
  node_t **args;     /* call/filter/test/list args; N_IF: conditions */
  char **kw;         /* keyword names of args (NULL entries: positional) */
  size_t n_args;
  node_t **body; /* statements */
  size_t n_body;
  node_t **orelse;
  size_t n_orelse;
  node_t **targets; /* N_FOR / N_SET: names; N_SET attr target uses name */
  size_t n_targets;
  value_t v;        /* N_CONST */
  const char *text; /* N_TEXT */
  size_t text_n;
  bool negate;      /* N_TEST: is not; N_COMPARE: per op in name */
  const char **ops; /* N_COMPARE: operators */
};

struct azc_jinja {
  azc_arena_t arena;
  node_t **body; /* the template's statements */
  size_t n_body;
};

#endif
