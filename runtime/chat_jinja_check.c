/* Before azc applies a GGUF template by evaluating it (the "jinja" kind of
 * chat_template.c), every filter, test, method and function the template
 * names is looked up here, in every branch, including those no probe
 * conversation reaches (tool calls, documents): a template that names one
 * the evaluator does not have is refused up front, by that name, instead of
 * failing on the first conversation that reaches it. What depends on the
 * data (non-ASCII text where only ASCII is handled, a value of an unexpected
 * type) is still found at render time, as an UNSUPPORTED error naming the
 * construct, never a guessed rendering.
 *
 * The lists below are the evaluator's (chat_jinja_eval.c): run_filter,
 * run_test, call_method and the globals of azc_jinja_render.
 * tests/chat/test_chat_template.c renders every listed name to check that
 * the evaluator really has it. */
#include <stdio.h>
#include <string.h>

#include "runtime/base/util.h"
#include "runtime/chat_internal.h"
#include "runtime/chat_jinja_tree.h"

static const char *const FILTERS[] = {
    "trim",    "length",  "count",  "upper",  "lower",      "title",      "capitalize", "default",
    "d",       "string",  "safe",   "int",    "float",      "list",       "first",      "last",
    "reverse", "join",    "tojson", "items",  "selectattr", "rejectattr", "select",     "reject",
    "map",     "replace", "abs",    "indent", "unique"};
static const char *const TESTS[] = {
    "defined", "undefined", "none",        "string",   "number",      "integer",  "float",
    "boolean", "true",      "false",       "mapping",  "sequence",    "iterable", "callable",
    "equalto", "eq",        "==",          "ne",       "!=",          "sameas",   "lt",
    "le",      "gt",        "ge",          "lessthan", "greaterthan", "<",        "<=",
    ">",       ">=",        "divisibleby", "even",     "odd",         "in"};
/* string methods, then dict methods (call_method) */
static const char *const METHODS[] = {"strip",   "lstrip", "rstrip", "startswith", "endswith",
                                      "split",   "upper",  "lower",  "title",      "capitalize",
                                      "replace", "join",   "find",   "count",      "items",
                                      "keys",    "values", "get"};
/* the globals a render defines that can be called */
static const char *const FUNCS[] = {"range", "namespace", "dict", "raise_exception",
                                    "strftime_now"};

size_t azc_jinja_known(int kind, const char *const **names) {
  switch (kind) {
  case AZC_JINJA_KNOWN_FILTERS: *names = FILTERS; return AZC_ARRAY_SIZE(FILTERS);
  case AZC_JINJA_KNOWN_TESTS: *names = TESTS; return AZC_ARRAY_SIZE(TESTS);
  case AZC_JINJA_KNOWN_METHODS: *names = METHODS; return AZC_ARRAY_SIZE(METHODS);
  default: *names = FUNCS; return AZC_ARRAY_SIZE(FUNCS);
  }
}

static bool listed(const char *const *list, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(list[i], name)) return true;
  return false;
}

typedef struct check {
  const char **macros; /* the names the template defines with {% macro %} */
  size_t n_macros, cap_macros;
  char *err;
  size_t err_cap;
  bool failed;
} check_t;

static void refuse(check_t *K, const node_t *n, const char *what, const char *name) {
  if (K->failed) return;
  K->failed = true;
  snprintf(K->err, K->err_cap, "line %d: %s '%s'", n->line, what, name);
}

typedef void (*visit_fn)(check_t *K, const node_t *n);

/* every node under n, n first (depth is bounded by the parser) */
static void walk(check_t *K, const node_t *n, visit_fn f) {
  if (!n || K->failed) return;
  f(K, n);
  walk(K, n->a, f);
  walk(K, n->b, f);
  walk(K, n->c, f);
  for (size_t i = 0; i < n->n_args && n->args; i++) walk(K, n->args[i], f);
  for (size_t i = 0; i < n->n_body; i++) walk(K, n->body[i], f);
  for (size_t i = 0; i < n->n_orelse; i++) walk(K, n->orelse[i], f);
  for (size_t i = 0; i < n->n_targets; i++) walk(K, n->targets[i], f);
}

static void collect_macros(check_t *K, const node_t *n) {
  if (n->kind != N_MACRO || K->n_macros == K->cap_macros) return;
  K->macros[K->n_macros++] = n->name;
}

/* a constant string argument that names a filter or a test: map('tojson'),
 * select('defined'), selectattr('role', 'equalto', 'system') */
static void check_named_arg(check_t *K, const node_t *f, size_t i, bool filter) {
  if (i >= f->n_args || !f->args[i] || (f->kw && f->kw[i])) return;
  const node_t *a = f->args[i];
  if (a->kind != N_CONST || a->v.k != V_STR) return;
  const char *name = a->v.s->s;
  if (filter ? !listed(FILTERS, AZC_ARRAY_SIZE(FILTERS), name)
             : !listed(TESTS, AZC_ARRAY_SIZE(TESTS), name))
    refuse(K, f, filter ? "the filter" : "the test", name);
}

static bool has_keyword(const node_t *f, const char *kw) {
  for (size_t i = 0; f->kw && i < f->n_args; i++)
    if (f->kw[i] && !strcmp(f->kw[i], kw)) return true;
  return false;
}

static void check_node(check_t *K, const node_t *n) {
  switch (n->kind) {
  case N_FILTER:
    if (!listed(FILTERS, AZC_ARRAY_SIZE(FILTERS), n->name)) {
      refuse(K, n, "the filter", n->name);
    } else if (!strcmp(n->name, "select") || !strcmp(n->name, "reject")) {
      check_named_arg(K, n, 0, false);
    } else if (!strcmp(n->name, "selectattr") || !strcmp(n->name, "rejectattr")) {
      check_named_arg(K, n, 1, false);
    } else if (!strcmp(n->name, "map") && !has_keyword(n, "attribute")) {
      check_named_arg(K, n, 0, true);
    }
    break;
  case N_TEST:
    if (!listed(TESTS, AZC_ARRAY_SIZE(TESTS), n->name)) refuse(K, n, "the test", n->name);
    break;
  case N_FILTER_BLOCK:
    for (const node_t *f = n->b; f && !K->failed; f = f->a)
      if (f->kind != N_FILTER) refuse(K, n, "a test in", "filter");
    break;
  case N_CALL: {
    const node_t *callee = n->a;
    if (!callee) break;
    if (callee->kind == N_ATTR) {
      if (!listed(METHODS, AZC_ARRAY_SIZE(METHODS), callee->name))
        refuse(K, n, "the method", callee->name);
    } else if (callee->kind == N_NAME) {
      if (!listed(FUNCS, AZC_ARRAY_SIZE(FUNCS), callee->name) &&
          !listed(K->macros, K->n_macros, callee->name))
        refuse(K, n, "the function", callee->name);
    } else {
      refuse(K, n, "a call of", "an expression");
    }
    break;
  }
  default: break;
  }
}

azc_jinja_result_t azc_jinja_check(const azc_jinja_t *t, char *err, size_t err_cap) {
  if (err_cap) err[0] = 0;
  const char *macros[256];
  check_t K = {
      .macros = macros, .cap_macros = AZC_ARRAY_SIZE(macros), .err = err, .err_cap = err_cap};
  for (size_t i = 0; i < t->n_body; i++) walk(&K, t->body[i], collect_macros);
  for (size_t i = 0; i < t->n_body; i++) walk(&K, t->body[i], check_node);
  return K.failed ? AZC_JINJA_UNSUPPORTED : AZC_JINJA_OK;
}
