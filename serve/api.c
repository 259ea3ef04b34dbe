/* Ollama's and OpenAI's endpoints over the model registry and the engines
 * (see api.h). A generation request is checked field by field (types,
 * options through runtime/model_options, keep_alive as Ollama parses it),
 * rendered with the model's chat template where the endpoint applies one,
 * tokenized, checked against the context, and queued as a job; its reply is
 * then produced by serve_stream_next as the job runs: NDJSON lines for
 * Ollama, SSE events ending with "data: [DONE]" for OpenAI, or one object
 * when stream is false. Ollama errors are {"error": "..."}; OpenAI errors
 * are {"error": {"message", "type", "param", "code"}}. */
#include "serve/api.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/log.h"
#include "runtime/base/utf8.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/chat_info.h"

enum kind { K_GENERATE, K_CHAT, K_OAI_CHAT, K_OAI_COMPLETION };

struct serve_stream {
  enum kind kind;
  bool stream, include_usage, ended, sent_first;
  serve_job_t *job;
  serve_model_t *model;
  bool keep_alive_set;
  int64_t keep_alive_ns;
  char model_name[AZC_MODEL_NAME_MAX];
  int64_t t_start_ns, load_ns, created;
  int32_t n_prompt;
  char id[48];
  azc_buf_t full;
};

/* ---- small helpers ---- */

static void put_json(azc_buf_t *out, cJSON *j, const char *suffix) {
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  if (s)
    azc_buf_puts(out, s);
  else
    out->oom = true;
  if (suffix) azc_buf_puts(out, suffix);
  cJSON_free(s);
  cJSON_Delete(j);
}

static bool is_openai(const char *path) { return !strncmp(path, "/v1/", 4); }

static void reply_error(serve_reply_t *r, int status, bool openai, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_error(serve_reply_t *r, int status, bool openai, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  azc_buf_t clean = {0};
  azc_utf8_repair(&clean, msg, strlen(msg)); /* names in the message came from the client */
  r->status = status;
  r->content_type = "application/json";
  cJSON *j = cJSON_CreateObject();
  if (openai) {
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(e, "message", clean.data ? clean.data : "");
    cJSON_AddStringToObject(e, "type", status >= 500 ? "server_error" : "invalid_request_error");
    cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
  } else {
    cJSON_AddStringToObject(j, "error", clean.data ? clean.data : "");
  }
  azc_buf_free(&clean);
  r->body.len = 0;
  put_json(&r->body, j, "\n");
}

static void reply_json(serve_reply_t *r, cJSON *j) {
  r->status = 200;
  r->content_type = "application/json";
  put_json(&r->body, j, "\n");
}

/* RFC 3339 with nanoseconds, UTC (Ollama's created_at) */
static void rfc3339(int64_t unix_ns, char *buf, size_t cap) {
  time_t s = (time_t)(unix_ns / 1000000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char d[32];
  strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, cap, "%s.%09lldZ", d, (long long)(unix_ns % 1000000000));
}

static int64_t unix_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A field of the wrong type is an error naming it. */
typedef struct req_err {
  int status;
  char msg[600];
} req_err_t;

static bool fail(req_err_t *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(req_err_t *e, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  va_end(ap);
  e->status = status;
  return false;
}

static const char *json_type(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "invalid";
}

/* Optional string field: *out NULL when absent or null. */
static bool get_string(const cJSON *o, const char *name, const char **out, req_err_t *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return true;
  if (!cJSON_IsString(v))
    return fail(e, 400, "field '%s' must be a string, not %s", name, json_type(v));
  *out = v->valuestring;
  return true;
}

static bool get_bool(const cJSON *o, const char *name, bool *out, req_err_t *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!v || cJSON_IsNull(v)) return true;
  if (!cJSON_IsBool(v))
    return fail(e, 400, "field '%s' must be a boolean, not %s", name, json_type(v));
  *out = cJSON_IsTrue(v);
  return true;
}

static bool get_number(const cJSON *o, const char *name, bool *present, double *out, req_err_t *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  *present = false;
  if (!v || cJSON_IsNull(v)) return true;
  if (!cJSON_IsNumber(v))
    return fail(e, 400, "field '%s' must be a number, not %s", name, json_type(v));
  *present = true;
  *out = v->valuedouble;
  return true;
}

/* Nanoseconds from a count of ns (any double): negative means forever (-1),
 * and a span past 10^18 ns (31 years) is clamped to it, so that now + span
 * fits in int64; NaN is refused. */
static bool ns_from_double(double v, int64_t *ns) {
  if (isnan(v)) return false;
  if (v < 0)
    *ns = -1;
  else if (v >= 1e18)
    *ns = (int64_t)1e18;
  else
    *ns = (int64_t)v;
  return true;
}

/* Go's time.ParseDuration, as Ollama reads a keep_alive string, plus a bare
 * number of seconds. */
static bool parse_duration(const char *s, int64_t *ns) {
  char *end;
  double v = strtod(s, &end);
  if (end != s && *end == 0) return ns_from_double(v * 1e9, ns);
  const char *p = s;
  bool neg = false;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  if (!*p) return false;
  double total = 0;
  while (*p) {
    if (!isdigit((unsigned char)*p) && *p != '.') return false;
    double x = strtod(p, &end);
    if (end == p) return false;
    p = end;
    static const struct {
      const char *u;
      double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    int best = -1;
    size_t best_len = 0;
    for (size_t u = 0; u < AZC_ARRAY_SIZE(units); u++) {
      size_t L = strlen(units[u].u);
      if (!strncmp(p, units[u].u, L) && L > best_len) best = (int)u, best_len = L;
    }
    if (best < 0) return false;
    total += x * units[best].ns;
    p += best_len;
  }
  return ns_from_double(neg ? -total : total, ns);
}

static bool get_keep_alive(const cJSON *o, bool *set, int64_t *ns, req_err_t *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "keep_alive");
  *set = false;
  if (!v || cJSON_IsNull(v)) return true;
  if (cJSON_IsNumber(v)) {
    ns_from_double(v->valuedouble * 1e9, ns); /* JSON numbers are never NaN */
  } else if (cJSON_IsString(v)) {
    if (!parse_duration(v->valuestring, ns))
      return fail(e, 400,
                  "keep_alive '%s' is not a duration (like \"5m\", \"30s\", \"0\" or \"-1\")",
                  v->valuestring);
  } else {
    return fail(e, 400,
                "field 'keep_alive' must be a number of seconds or a duration string, not %s",
                json_type(v));
  }
  *set = true;
  if (*ns < 0) *ns = -1;
  return true;
}

static bool add_stop(azc_options_t *o, const char *s, req_err_t *e) {
  azc_status_t st = azc_options_add_stop(o, s, strlen(s));
  if (!st) return true;
  fail(e, 400, "stop: %s", azc_status_message(st));
  azc_status_free(st);
  return false;
}

/* "stop": a string or an array of strings (replaces the model's) */
static bool get_stop(const cJSON *v, azc_options_t *o, req_err_t *e) {
  if (!v || cJSON_IsNull(v)) return true;
  azc_options_clear_stop(o);
  o->set |= 1u << AZC_OPT_STOP;
  if (cJSON_IsString(v)) return add_stop(o, v->valuestring, e);
  if (!cJSON_IsArray(v))
    return fail(e, 400, "field 'stop' must be a string or an array of strings, not %s",
                json_type(v));
  const cJSON *x;
  cJSON_ArrayForEach(x, v) {
    if (!cJSON_IsString(x))
      return fail(e, 400, "field 'stop' must hold strings, not %s", json_type(x));
    if (!add_stop(o, x->valuestring, e)) return false;
  }
  return true;
}

static bool set_option_number(azc_options_t *o, const char *name, double v, req_err_t *e) {
  bool deprecated = false;
  azc_status_t st = azc_options_set_number(o, name, v, &deprecated);
  if (!st) return true;
  fail(e, 400, "%s", azc_status_message(st));
  azc_status_free(st);
  return false;
}

/* Ollama's "options" object */
static bool get_options(const cJSON *req, azc_options_t *o, req_err_t *e) {
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(req, "options");
  if (!opts || cJSON_IsNull(opts)) return true;
  if (!cJSON_IsObject(opts))
    return fail(e, 400, "field 'options' must be an object, not %s", json_type(opts));
  const cJSON *v;
  cJSON_ArrayForEach(v, opts) {
    const char *name = v->string;
    const azc_option_info_t *inf = azc_option_find(name);
    if (!inf) { /* Ollama ignores unknown options, with a warning */
      azc_log_warn("serve: ignoring unknown option '%s'", name);
      continue;
    }
    if (cJSON_IsNull(v)) continue;
    if (inf->type == AZC_OPT_STRING_LIST) {
      if (!get_stop(v, o, e)) return false;
    } else if (inf->type == AZC_OPT_BOOL) {
      if (!cJSON_IsBool(v))
        return fail(e, 400, "option '%s' must be a boolean, not %s", name, json_type(v));
      bool deprecated;
      azc_status_t st = azc_options_set_bool(o, name, cJSON_IsTrue(v), &deprecated);
      if (st) {
        fail(e, 400, "%s", azc_status_message(st));
        azc_status_free(st);
        return false;
      }
    } else {
      if (!cJSON_IsNumber(v))
        return fail(e, 400, "option '%s' must be a number, not %s", name, json_type(v));
      if (!set_option_number(o, name, v->valuedouble, e)) return false;
    }
  }
  return true;
}

/* A message's content: a string, or (OpenAI) an array of {"type":"text","text"} parts. */
static bool message_content(const cJSON *m, int i, azc_buf_t *out, req_err_t *e) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
  if (!c || cJSON_IsNull(c)) return true;
  if (cJSON_IsString(c)) {
    azc_buf_puts(out, c->valuestring);
    return true;
  }
  if (!cJSON_IsArray(c))
    return fail(e, 400, "messages[%d].content must be a string, not %s", i, json_type(c));
  const cJSON *part;
  cJSON_ArrayForEach(part, c) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
      return fail(e, 400,
                  "messages[%d].content: only text parts ({\"type\": \"text\", \"text\": ...}) are "
                  "supported",
                  i);
    azc_buf_puts(out, text->valuestring);
  }
  return true;
}

/* ---- the generation request ---- */

typedef struct gen_req {
  enum kind kind;
  const char *model;
  bool stream, raw, include_usage;
  const char *prompt, *system;
  size_t n_msgs;
  azc_chat_message_t *msgs;
  azc_buf_t *contents; /* per message */
  azc_options_t opts;
  bool keep_alive_set;
  int64_t keep_alive_ns;
  bool echo;
  bool ignore_eos;   /* llama.cpp server's field: fixed lengths for benchmarks */
  bool cache_prompt; /* llama.cpp server's field (default true): reuse a slot's cached prefix */
  int32_t n_ctx;     /* the context this request runs in (num_ctx, clamped) */
} gen_req_t;

static void gen_req_free(gen_req_t *g) {
  for (size_t i = 0; i < g->n_msgs; i++) azc_buf_free(&g->contents[i]);
  free(g->contents);
  free(g->msgs);
}

static bool parse_messages(const cJSON *req, gen_req_t *g, req_err_t *e) {
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(req, "messages");
  if (!ms || cJSON_IsNull(ms)) {
    if (g->kind == K_OAI_CHAT) return fail(e, 400, "field 'messages' is required");
    return true;
  }
  if (!cJSON_IsArray(ms))
    return fail(e, 400, "field 'messages' must be an array, not %s", json_type(ms));
  size_t n = (size_t)cJSON_GetArraySize(ms);
  g->msgs = calloc(n ? n : 1, sizeof(*g->msgs));
  g->contents = calloc(n ? n : 1, sizeof(*g->contents));
  if (!g->msgs || !g->contents) return fail(e, 500, "out of memory");
  g->n_msgs = n;
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, ms) {
    if (!cJSON_IsObject(m))
      return fail(e, 400, "messages[%d] must be an object, not %s", i, json_type(m));
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(role)) return fail(e, 400, "messages[%d].role must be a string", i);
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(m, "images");
    if (cJSON_IsArray(images) && cJSON_GetArraySize(images) > 0)
      return fail(e, 400, "messages[%d]: images are not supported (azc serves text models)", i);
    if (!message_content(m, i, &g->contents[i], e)) return false;
    azc_buf_put(&g->contents[i], "", 0);
    g->msgs[i].role = role->valuestring;
    g->msgs[i].content = g->contents[i].data ? g->contents[i].data : "";
    i++;
  }
  return true;
}

static bool parse_openai_sampling(const cJSON *req, gen_req_t *g, req_err_t *e) {
  static const struct {
    const char *field, *option;
  } map[] = {{"temperature", "temperature"},
             {"top_p", "top_p"},
             {"seed", "seed"},
             {"max_tokens", "num_predict"},
             {"max_completion_tokens", "num_predict"},
             {"frequency_penalty", "frequency_penalty"},
             {"presence_penalty", "presence_penalty"}};
  for (size_t i = 0; i < AZC_ARRAY_SIZE(map); i++) {
    bool present;
    double v;
    if (!get_number(req, map[i].field, &present, &v, e)) return false;
    if (present && !set_option_number(&g->opts, map[i].option, v, e)) return false;
  }
  if (!get_stop(cJSON_GetObjectItemCaseSensitive(req, "stop"), &g->opts, e)) return false;
  bool present;
  double n;
  if (!get_number(req, "n", &present, &n, e)) return false;
  if (present && n != 1) return fail(e, 400, "n = %g: azc returns one choice per request", n);
  const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
  if (so && !cJSON_IsNull(so)) {
    if (!cJSON_IsObject(so))
      return fail(e, 400, "field 'stream_options' must be an object, not %s", json_type(so));
    if (!get_bool(so, "include_usage", &g->include_usage, e)) return false;
  }
  return true;
}

static bool parse_gen(const cJSON *req, gen_req_t *g, req_err_t *e) {
  if (!get_string(req, "model", &g->model, e)) return false;
  if (!g->model || !*g->model) return fail(e, 400, "field 'model' is required");
  g->stream = g->kind != K_OAI_CHAT && g->kind != K_OAI_COMPLETION; /* Ollama streams by default */
  if (!get_bool(req, "stream", &g->stream, e)) return false;
  if (!get_bool(req, "ignore_eos", &g->ignore_eos, e)) return false;
  g->cache_prompt = true;
  if (!get_bool(req, "cache_prompt", &g->cache_prompt, e)) return false;
  g->opts.set = 0;
  g->opts.n_stop = 0;
  if (g->kind == K_GENERATE || g->kind == K_CHAT) {
    if (!get_options(req, &g->opts, e)) return false;
    if (!get_keep_alive(req, &g->keep_alive_set, &g->keep_alive_ns, e)) return false;
    const char *format;
    if (!get_string(req, "format", &format, e)) {
      const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "format");
      if (!cJSON_IsObject(f)) return false;
      return fail(e, 400, "format: structured outputs are not supported");
    }
    if (format && *format) return fail(e, 400, "format '%s' is not supported", format);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0)
      return fail(e, 400, "tools are not supported");
  } else {
    if (!parse_openai_sampling(req, g, e)) return false;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0)
      return fail(e, 400, "tools are not supported");
  }
  if (g->kind == K_GENERATE) {
    if (!get_string(req, "prompt", &g->prompt, e)) return false;
    if (!get_string(req, "system", &g->system, e)) return false;
    if (!get_bool(req, "raw", &g->raw, e)) return false;
    const char *suffix;
    if (!get_string(req, "suffix", &suffix, e)) return false;
    if (suffix && *suffix) return fail(e, 400, "suffix (fill-in-the-middle) is not supported");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(req, "images");
    if (cJSON_IsArray(images) && cJSON_GetArraySize(images) > 0)
      return fail(e, 400, "images are not supported (azc serves text models)");
  } else if (g->kind == K_OAI_COMPLETION) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
      p = cJSON_GetArrayItem(p, 0);
    if (!p) return fail(e, 400, "field 'prompt' is required");
    if (!cJSON_IsString(p))
      return fail(e, 400, "field 'prompt' must be a string (or an array of one string), not %s",
                  json_type(p));
    g->prompt = p->valuestring;
    g->raw = true;
    if (!get_bool(req, "echo", &g->echo, e)) return false;
    if (!(g->opts.set & (1u << AZC_OPT_NUM_PREDICT)) &&
        !set_option_number(&g->opts, "num_predict", 16, e))
      return false; /* OpenAI's default max_tokens for completions */
  } else {
    if (!parse_messages(req, g, e)) return false;
  }
  return true;
}

/* The prompt text the model sees (malloc'd), or an error. */
static bool render(const serve_model_t *x, gen_req_t *g, char **text, bool *templated,
                   req_err_t *e) {
  *templated = false;
  if (g->kind == K_OAI_COMPLETION || (g->kind == K_GENERATE && g->raw)) {
    *text = strdup(g->prompt ? g->prompt : "");
    return *text ? true : fail(e, 500, "out of memory");
  }
  if (!x->tmpl)
    return fail(e, 400, "model '%s' has no chat template azc can apply: %s", x->name,
                x->template_error);
  azc_chat_message_t conv[2];
  const azc_chat_message_t *msgs = g->msgs;
  size_t n = g->n_msgs;
  if (g->kind == K_GENERATE) {
    n = 0;
    if (g->system) conv[n].role = "system", conv[n++].content = g->system;
    conv[n].role = "user", conv[n++].content = g->prompt ? g->prompt : "";
    msgs = conv;
  }
  azc_chat_message_t *all = NULL;
  size_t n_all = 0;
  azc_status_t st = azc_chat_info_messages(x->bundle->chat, msgs, n, &all, &n_all);
  size_t len;
  if (!st) st = azc_chat_template_apply(x->tmpl, all, n_all, true, text, &len);
  free(all);
  if (st) {
    fail(e, 400, "applying the chat template of '%s': %s", x->name, azc_status_message(st));
    azc_status_free(st);
    return false;
  }
  *templated = true;
  return true;
}

static bool make_job(const serve_model_t *x, gen_req_t *g, const char *text, bool templated,
                     serve_job_t *j, req_err_t *e) {
  const azc_tokenizer_t *tok = x->bundle->tokenizer;
  size_t n = 0;
  azc_status_t st = azc_tokenizer_encode(tok, text, strlen(text), true, true, &j->prompt, &n);
  if (st) {
    fail(e, 400, "tokenizing the prompt: %s", azc_status_message(st));
    azc_status_free(st);
    return false;
  }
  j->n_prompt = (int32_t)n;
  j->ignore_eos = g->ignore_eos;
  j->no_cache = !g->cache_prompt;
  j->n_ctx = g->n_ctx;
  if (n == 0) return fail(e, 400, "the prompt is empty (0 tokens)");
  if ((int64_t)n >= g->n_ctx)
    return fail(e, 400,
                "the prompt has %zu tokens but the context of model '%s' holds %d (num_ctx); "
                "the prompt is not cut",
                n, x->name, g->n_ctx);
  azc_options_t res;
  azc_options_resolve(&g->opts, &x->stored, &res);
  j->sampling = azc_options_sampler_params(&res, g->n_ctx);
  int64_t np = res.v[AZC_OPT_NUM_PREDICT].i;
  j->n_predict = np < 0 ? -1 : (int32_t)AZC_MIN(np, INT32_MAX);
  size_t n_tmpl_stops = 0;
  const char *const *tmpl_stops = NULL;
  if (templated) n_tmpl_stops = azc_chat_template_stops(x->tmpl, &tmpl_stops);
  j->stop = calloc((size_t)res.n_stop + n_tmpl_stops + 1, sizeof(char *));
  if (!j->stop) return fail(e, 500, "out of memory");
  for (int i = 0; i < res.n_stop; i++)
    if (res.stop[i][0] && !(j->stop[j->n_stop++] = strdup(res.stop[i])))
      return fail(e, 500, "out of memory");
  for (size_t i = 0; i < n_tmpl_stops; i++)
    if (tmpl_stops[i][0] && !(j->stop[j->n_stop++] = strdup(tmpl_stops[i])))
      return fail(e, 500, "out of memory");
  return true;
}

/* ---- replies produced as the job runs ---- */

static const char *finish_reason(const char *done_reason) {
  return done_reason && !strcmp(done_reason, "length") ? "length" : "stop";
}

static cJSON *oai_object(serve_stream_t *s, const char *object) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "id", s->id);
  cJSON_AddStringToObject(j, "object", object);
  cJSON_AddNumberToObject(j, "created", (double)s->created);
  cJSON_AddStringToObject(j, "model", s->model_name);
  cJSON_AddStringToObject(j, "system_fingerprint", "azc");
  return j;
}

static void add_usage(cJSON *j, const serve_job_t *job) {
  cJSON *u = cJSON_AddObjectToObject(j, "usage");
  cJSON_AddNumberToObject(u, "prompt_tokens", job->n_prompt);
  cJSON_AddNumberToObject(u, "completion_tokens", job->n_generated);
  cJSON_AddNumberToObject(u, "total_tokens", job->n_prompt + job->n_generated);
  cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
  cJSON_AddNumberToObject(d, "cached_tokens", job->n_cached);
}

static cJSON *ollama_object(serve_stream_t *s) {
  cJSON *j = cJSON_CreateObject();
  char ts[64];
  rfc3339(unix_now_ns(), ts, sizeof(ts));
  cJSON_AddStringToObject(j, "model", s->model_name);
  cJSON_AddStringToObject(j, "created_at", ts);
  return j;
}

static void ollama_text(serve_stream_t *s, cJSON *j, const char *text) {
  if (s->kind == K_CHAT) {
    cJSON *m = cJSON_AddObjectToObject(j, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", text);
  } else {
    cJSON_AddStringToObject(j, "response", text);
  }
}

/* A piece of generated text (valid UTF-8, NUL-terminated) as one stream event. */
static void emit_chunk(serve_stream_t *s, const char *text, azc_buf_t *out) {
  if (s->kind == K_GENERATE || s->kind == K_CHAT) {
    cJSON *j = ollama_object(s);
    ollama_text(s, j, text);
    cJSON_AddBoolToObject(j, "done", false);
    put_json(out, j, "\n");
    return;
  }
  bool chat = s->kind == K_OAI_CHAT;
  cJSON *j = oai_object(s, chat ? "chat.completion.chunk" : "text_completion");
  cJSON *choices = cJSON_AddArrayToObject(j, "choices");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, c);
  cJSON_AddNumberToObject(c, "index", 0);
  if (chat) {
    cJSON *d = cJSON_AddObjectToObject(c, "delta");
    if (!s->sent_first) cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", text);
  } else {
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddNullToObject(c, "logprobs");
  }
  cJSON_AddNullToObject(c, "finish_reason");
  s->sent_first = true;
  azc_buf_puts(out, "data: ");
  put_json(out, j, "\n\n");
}

static void emit_final(serve_stream_t *s, serve_job_t *job, azc_buf_t *out) {
  int64_t now = azc_serve_now_ns();
  if (job->error) {
    cJSON *j = cJSON_CreateObject();
    if (s->kind == K_OAI_CHAT || s->kind == K_OAI_COMPLETION) {
      cJSON *e = cJSON_AddObjectToObject(j, "error");
      cJSON_AddStringToObject(e, "message", job->error);
      cJSON_AddStringToObject(e, "type", "server_error");
      azc_buf_puts(out, s->stream ? "data: " : "");
      put_json(out, j, s->stream ? "\n\ndata: [DONE]\n\n" : "\n");
    } else {
      cJSON_AddStringToObject(j, "error", job->error);
      put_json(out, j, "\n");
    }
    return;
  }
  const char *text = s->stream ? "" : (s->full.data ? s->full.data : "");
  if (s->kind == K_GENERATE || s->kind == K_CHAT) {
    cJSON *j = ollama_object(s);
    ollama_text(s, j, text);
    cJSON_AddBoolToObject(j, "done", true);
    cJSON_AddStringToObject(j, "done_reason", job->done_reason ? job->done_reason : "stop");
    cJSON_AddNumberToObject(j, "total_duration", (double)(now - s->t_start_ns));
    cJSON_AddNumberToObject(j, "load_duration", (double)s->load_ns);
    cJSON_AddNumberToObject(j, "prompt_eval_count", job->n_prompt);
    cJSON_AddNumberToObject(j, "prompt_eval_cached_count", job->n_cached);
    cJSON_AddNumberToObject(j, "prompt_eval_duration", (double)job->prompt_ns);
    cJSON_AddNumberToObject(j, "eval_count", job->n_generated);
    cJSON_AddNumberToObject(j, "eval_duration", (double)job->eval_ns);
    put_json(out, j, "\n");
    return;
  }
  bool chat = s->kind == K_OAI_CHAT;
  if (s->stream) {
    cJSON *j = oai_object(s, chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(j, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    if (chat)
      cJSON_AddObjectToObject(c, "delta");
    else
      cJSON_AddStringToObject(c, "text", ""), cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", finish_reason(job->done_reason));
    add_usage(j, job);
    azc_buf_puts(out, "data: ");
    put_json(out, j, "\n\n");
    if (s->include_usage) {
      cJSON *u = oai_object(s, chat ? "chat.completion.chunk" : "text_completion");
      cJSON_AddArrayToObject(u, "choices");
      add_usage(u, job);
      azc_buf_puts(out, "data: ");
      put_json(out, u, "\n\n");
    }
    azc_buf_puts(out, "data: [DONE]\n\n");
    return;
  }
  cJSON *j = oai_object(s, chat ? "chat.completion" : "text_completion");
  cJSON *choices = cJSON_AddArrayToObject(j, "choices");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, c);
  cJSON_AddNumberToObject(c, "index", 0);
  if (chat) {
    cJSON *m = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", text);
  } else {
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddNullToObject(c, "logprobs");
  }
  cJSON_AddStringToObject(c, "finish_reason", finish_reason(job->done_reason));
  add_usage(j, job);
  put_json(out, j, "\n");
}

void serve_stream_next(serve_stream_t *s, azc_buf_t *out, int timeout_ms, bool *ended) {
  *ended = s->ended;
  if (s->ended) return;
  serve_job_t *j = s->job;
  pthread_mutex_lock(&j->mu);
  if (!j->out.len && !j->finished) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)timeout_ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
  }
  azc_buf_t text = j->out;
  memset(&j->out, 0, sizeof(j->out));
  bool finished = j->finished;
  pthread_mutex_unlock(&j->mu);
  if (text.len) {
    if (s->stream)
      emit_chunk(s, text.data, out);
    else
      azc_buf_put(&s->full, text.data, text.len);
  }
  azc_buf_free(&text);
  if (finished) {
    azc_buf_put(&s->full, "", 0);
    emit_final(s, j, out);
    s->ended = true;
    *ended = true;
  }
}

void serve_stream_cancel(serve_stream_t *s) {
  if (s->job) atomic_store(&s->job->cancel, true);
}

void serve_stream_free(serve_ctx_t *c, serve_stream_t *s) {
  if (!s) return;
  if (s->job) {
    atomic_store(&s->job->cancel, true); /* nobody reads it any more */
    azc_serve_job_release(s->job);
  }
  if (s->model) serve_models_release(c->models, s->model, s->keep_alive_set, s->keep_alive_ns);
  azc_buf_free(&s->full);
  free(s);
}

/* ---- endpoints ---- */

static atomic_llong next_id;

/* A reply to a request without a prompt: Ollama loads (or, with keep_alive
 * 0, unloads) the model and answers done. */
static void reply_load(serve_ctx_t *c, gen_req_t *g, serve_reply_t *r, serve_model_t *x,
                       int64_t load_ns) {
  bool unload = g->keep_alive_set && g->keep_alive_ns == 0;
  serve_models_release(c->models, x, g->keep_alive_set, g->keep_alive_ns);
  serve_stream_t tmp = {.kind = g->kind};
  snprintf(tmp.model_name, sizeof(tmp.model_name), "%s", g->model);
  cJSON *j = ollama_object(&tmp);
  ollama_text(&tmp, j, "");
  cJSON_AddBoolToObject(j, "done", true);
  cJSON_AddStringToObject(j, "done_reason", unload ? "unload" : "load");
  cJSON_AddNumberToObject(j, "load_duration", (double)load_ns);
  reply_json(r, j);
}

static void handle_generation(serve_ctx_t *c, enum kind kind, const char *path, const cJSON *req,
                              serve_reply_t *r) {
  bool openai = is_openai(path);
  int64_t t_start = azc_serve_now_ns();
  gen_req_t g;
  memset(&g, 0, sizeof(g));
  g.kind = kind;
  req_err_t e = {0};
  char *text = NULL;
  serve_job_t *job = NULL;
  serve_model_t *x = NULL;
  if (!parse_gen(req, &g, &e)) goto fail;
  int64_t load_ns = 0;
  bool num_gpu_set = g.opts.set & (1u << AZC_OPT_NUM_GPU);
  azc_status_t st = serve_models_acquire(c->models, g.model, num_gpu_set,
                                         g.opts.v[AZC_OPT_NUM_GPU].i, &x, &load_ns);
  if (st) {
    fail(&e, azc_status_code(st) == AZC_NOT_FOUND ? 404 : 500, "%s", azc_status_message(st));
    azc_status_free(st);
    goto fail;
  }
  bool no_prompt =
      (kind == K_GENERATE && (!g.prompt || !*g.prompt)) || (kind == K_CHAT && g.n_msgs == 0);
  /* the request's num_gpu, else -ngl, else the model's stored default; a
   * placement other than the loaded one reloads it, as a larger num_ctx does
   * (below); a request without a prompt (Ollama's preload) places it too */
  int32_t gpu_want = serve_models_gpu_want(c->models, x, num_gpu_set, g.opts.v[AZC_OPT_NUM_GPU].i);
  if (no_prompt && gpu_want != x->gpu_want) {
    int64_t reload_ns = 0;
    st = serve_models_reload(c->models, x, 0, gpu_want, &reload_ns);
    load_ns += reload_ns;
    if (st) {
      fail(&e, 500, "%s", azc_status_message(st));
      azc_status_free(st);
      goto fail;
    }
  }
  if (no_prompt) {
    reply_load(c, &g, r, x, load_ns);
    gen_req_free(&g);
    return;
  }
  /* the request's num_ctx, else -c, else the model's stored one (x->default_ctx),
   * clamped to the trained context as Ollama does; a larger one than loaded
   * reloads the executor once the model is idle */
  g.n_ctx = x->default_ctx;
  if ((g.opts.set & (1u << AZC_OPT_NUM_CTX)) && g.opts.v[AZC_OPT_NUM_CTX].i > 0)
    g.n_ctx = (int32_t)AZC_MIN(g.opts.v[AZC_OPT_NUM_CTX].i, INT32_MAX);
  if (g.n_ctx > x->max_ctx) {
    azc_log_info("serve: %s: num_ctx %d is more than the model's trained context; using %d",
                 x->name, g.n_ctx, x->max_ctx);
    g.n_ctx = x->max_ctx;
  }
  if (g.n_ctx > x->n_ctx || gpu_want != x->gpu_want) {
    int64_t grow_ns = 0;
    st = serve_models_reload(c->models, x, g.n_ctx, gpu_want, &grow_ns);
    load_ns += grow_ns;
    if (st) {
      fail(&e, 500, "%s", azc_status_message(st));
      azc_status_free(st);
      goto fail;
    }
  }
  bool templated;
  if (!render(x, &g, &text, &templated, &e)) goto fail;
  job = azc_serve_job_create();
  if (!job) {
    fail(&e, 500, "out of memory");
    goto fail;
  }
  if (!make_job(x, &g, text, templated, job, &e)) goto fail;
  free(text);
  text = NULL;
  serve_stream_t *s = calloc(1, sizeof(*s));
  if (!s) {
    fail(&e, 500, "out of memory");
    goto fail;
  }
  st = azc_serve_engine_submit(x->engine, job);
  if (st) {
    free(s);
    fail(&e, 503, "%s", azc_status_message(st));
    azc_status_free(st);
    goto fail;
  }
  s->kind = kind;
  s->stream = g.stream;
  s->include_usage = g.include_usage;
  s->job = job;
  s->model = x;
  s->keep_alive_set = g.keep_alive_set;
  s->keep_alive_ns = g.keep_alive_ns;
  snprintf(s->model_name, sizeof(s->model_name), "%s", g.model);
  s->t_start_ns = t_start;
  s->load_ns = load_ns;
  s->created = unix_now_ns() / 1000000000;
  s->n_prompt = job->n_prompt;
  snprintf(s->id, sizeof(s->id), "%s-%lld", kind == K_OAI_CHAT ? "chatcmpl" : "cmpl",
           (long long)atomic_fetch_add(&next_id, 1));
  if (g.echo && g.prompt) azc_buf_puts(&s->full, g.prompt);
  r->status = 200;
  r->content_type = !g.stream ? "application/json"
                    : openai  ? "text/event-stream"
                              : "application/x-ndjson";
  r->stream = s;
  gen_req_free(&g);
  return;
fail:
  if (x) serve_models_release(c->models, x, g.keep_alive_set, g.keep_alive_ns);
  azc_serve_job_release(job);
  free(text);
  gen_req_free(&g);
  reply_error(r, e.status ? e.status : 500, openai, "%s", e.msg);
}

static const char *ftype_name(int32_t t) {
  static const char *names[] = {
      "F32",  "F16",    "Q4_0",   "Q4_1",   "",       "",       "",       "Q8_0",   "Q5_0", "Q5_1",
      "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"};
  if (t >= 0 && t < (int32_t)AZC_ARRAY_SIZE(names) && names[t][0]) return names[t];
  if (t == 32) return "BF16";
  return "unknown";
}

/* The meta record of a bundle file, without loading the model. */
static bool read_meta(const char *path, azc_bundle_meta_t *meta, azc_chat_info_t **chat) {
  azc_bundle_t *b = NULL;
  memset(meta, 0, sizeof(*meta));
  if (chat) *chat = NULL;
  azc_status_t st = azc_bundle_open(path, 0, &b);
  const void *data = NULL;
  size_t size = 0;
  if (!st) st = azc_bundle_section(b, AZC_SECTION_META, &data, &size);
  bool ok = !st && size >= sizeof(*meta);
  if (ok) memcpy(meta, data, sizeof(*meta));
  meta->arch[sizeof(meta->arch) - 1] = 0;
  meta->name[sizeof(meta->name) - 1] = 0;
  azc_status_free(st);
  if (ok && chat && azc_bundle_has_section(b, AZC_SECTION_CHAT)) {
    st = azc_bundle_section(b, AZC_SECTION_CHAT, &data, &size);
    if (!st) st = azc_chat_info_parse(data, size, chat);
    azc_status_free(st);
  }
  azc_bundle_close(b);
  return ok;
}

static void add_details(cJSON *j, const azc_bundle_meta_t *m) {
  cJSON *d = cJSON_AddObjectToObject(j, "details");
  cJSON_AddStringToObject(d, "parent_model", "");
  cJSON_AddStringToObject(d, "format", "azc-bundle");
  cJSON_AddStringToObject(d, "family", m->arch);
  cJSON *fam = cJSON_AddArrayToObject(d, "families");
  cJSON_AddItemToArray(fam, cJSON_CreateString(m->arch));
  /* parameters from the shapes: embeddings, output, attention and MLP */
  double e = m->n_embd, kv = m->n_head > 0 ? e * m->n_head_kv / m->n_head : e;
  double params = 2.0 * m->n_vocab * e + m->n_layer * (2 * e * e + 2 * e * kv + 3 * e * m->n_ff);
  char ps[32];
  if (params >= 1e9)
    snprintf(ps, sizeof(ps), "%.1fB", params / 1e9);
  else if (params >= 1e6)
    snprintf(ps, sizeof(ps), "%.1fM", params / 1e6);
  else
    snprintf(ps, sizeof(ps), "%.0fK", params / 1e3);
  cJSON_AddStringToObject(d, "parameter_size", ps);
  cJSON_AddStringToObject(d, "quantization_level", ftype_name(m->file_type));
}

typedef struct list_ctx {
  cJSON *arr;
  bool ps, openai;
} list_ctx_t;

static void list_one(void *user, const serve_model_t *x, int64_t expires_unix_ns) {
  list_ctx_t *l = user;
  cJSON *j = cJSON_CreateObject();
  cJSON_AddItemToArray(l->arr, j);
  if (l->openai) {
    cJSON_AddStringToObject(j, "id", x->name);
    cJSON_AddStringToObject(j, "object", "model");
    cJSON_AddNumberToObject(j, "created", (double)x->modified_unix);
    cJSON_AddStringToObject(j, "owned_by", "azc");
    return;
  }
  char ts[64];
  cJSON_AddStringToObject(j, "name", x->name);
  cJSON_AddStringToObject(j, "model", x->name);
  if (!l->ps) {
    rfc3339(x->modified_unix * 1000000000, ts, sizeof(ts));
    cJSON_AddStringToObject(j, "modified_at", ts);
  }
  /* /api/ps: the bytes the loaded model holds, as Ollama's size (all) and
   * size_vram (on the GPU) */
  cJSON_AddNumberToObject(j, "size", (double)(l->ps ? x->size_loaded : (int64_t)x->size));
  cJSON_AddStringToObject(j, "digest", x->digest);
  azc_bundle_meta_t meta;
  if (x->bundle)
    meta = x->bundle->meta;
  else
    read_meta(x->path, &meta, NULL);
  add_details(j, &meta);
  if (l->ps) {
    if (expires_unix_ns)
      rfc3339(expires_unix_ns, ts, sizeof(ts));
    else
      snprintf(ts, sizeof(ts), "2318-01-01T00:00:00.000000000Z"); /* forever, as Ollama writes it */
    cJSON_AddStringToObject(j, "expires_at", ts);
    cJSON_AddNumberToObject(j, "size_vram", (double)x->size_vram);
    cJSON_AddNumberToObject(j, "context_length", x->n_ctx);
  }
}

static void handle_list(serve_ctx_t *c, bool ps, bool openai, serve_reply_t *r) {
  cJSON *j = cJSON_CreateObject();
  list_ctx_t l = {NULL, ps, openai};
  if (openai) cJSON_AddStringToObject(j, "object", "list");
  l.arr = cJSON_AddArrayToObject(j, openai ? "data" : "models");
  serve_models_each(c->models, ps, list_one, &l);
  reply_json(r, j);
}

typedef struct find_ctx {
  const char *want;
  char name[AZC_MODEL_NAME_MAX];
  char *path;
  int64_t modified;
} find_ctx_t;

static void find_one(void *user, const serve_model_t *x, int64_t exp) {
  find_ctx_t *f = user;
  size_t n = strlen(f->want);
  if (f->path) return;
  if (!strcasecmp(x->name, f->want) ||
      (!strncasecmp(x->name, f->want, n) && !strcasecmp(x->name + n, ":latest"))) {
    snprintf(f->name, sizeof(f->name), "%s", x->name);
    f->path = strdup(x->path);
    f->modified = x->modified_unix;
  }
}

static void handle_show(serve_ctx_t *c, const cJSON *req, serve_reply_t *r) {
  req_err_t e = {0};
  const char *model = NULL;
  if (!get_string(req, "model", &model, &e)) goto fail;
  if (!model && !get_string(req, "name", &model, &e)) goto fail;
  if (!model || !*model) {
    fail(&e, 400, "field 'model' is required");
    goto fail;
  }
  find_ctx_t f = {model, "", NULL, 0};
  serve_models_each(c->models, false, find_one, &f);
  if (!f.path) {
    fail(&e, 404, "model '%s' not found", model);
    goto fail;
  }
  azc_bundle_meta_t meta;
  azc_chat_info_t *ci = NULL;
  bool ok = read_meta(f.path, &meta, &ci);
  free(f.path);
  if (!ok) {
    fail(&e, 500, "model '%s': its bundle cannot be read", model);
    goto fail;
  }
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "modelfile", ci && ci->modelfile ? ci->modelfile : "");
  azc_buf_t params = {0};
  for (size_t i = 0; ci && i < ci->n_params; i++) {
    char line[600];
    snprintf(line, sizeof(line), "%-30s %s\n", ci->param_name[i], ci->param_value[i]);
    azc_buf_puts(&params, line);
  }
  cJSON_AddStringToObject(j, "parameters", params.data ? params.data : "");
  azc_buf_free(&params);
  const char *tmpl = ci && ci->template_src    ? ci->template_src
                     : ci && ci->gguf_template ? ci->gguf_template
                                               : "{{ .Prompt }}";
  cJSON_AddStringToObject(j, "template", tmpl);
  if (ci && ci->system) cJSON_AddStringToObject(j, "system", ci->system);
  add_details(j, &meta);
  cJSON *mi = cJSON_AddObjectToObject(j, "model_info");
  char key[96];
  cJSON_AddStringToObject(mi, "general.architecture", meta.arch);
  snprintf(key, sizeof(key), "%s.context_length", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_ctx_train);
  snprintf(key, sizeof(key), "%s.embedding_length", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_embd);
  snprintf(key, sizeof(key), "%s.block_count", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_layer);
  snprintf(key, sizeof(key), "%s.attention.head_count", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_head);
  snprintf(key, sizeof(key), "%s.attention.head_count_kv", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_head_kv);
  snprintf(key, sizeof(key), "%s.feed_forward_length", meta.arch);
  cJSON_AddNumberToObject(mi, key, meta.n_ff);
  cJSON_AddNumberToObject(mi, "tokenizer.ggml.vocab_size", meta.n_vocab);
  cJSON *caps = cJSON_AddArrayToObject(j, "capabilities");
  cJSON_AddItemToArray(caps, cJSON_CreateString("completion"));
  char ts[64];
  rfc3339(f.modified * 1000000000, ts, sizeof(ts));
  cJSON_AddStringToObject(j, "modified_at", ts);
  azc_chat_info_destroy(ci);
  reply_json(r, j);
  return;
fail:
  reply_error(r, e.status, false, "%s", e.msg);
}

static void handle_model_get(serve_ctx_t *c, const char *id, serve_reply_t *r) {
  find_ctx_t f = {id, "", NULL, 0};
  serve_models_each(c->models, false, find_one, &f);
  if (!f.path) {
    reply_error(r, 404, true, "The model '%s' does not exist", id);
    return;
  }
  free(f.path);
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "id", f.name);
  cJSON_AddStringToObject(j, "object", "model");
  cJSON_AddNumberToObject(j, "created", (double)f.modified);
  cJSON_AddStringToObject(j, "owned_by", "azc");
  reply_json(r, j);
}

static void reply_text(serve_reply_t *r, int status, const char *text) {
  r->status = status;
  r->content_type = "text/plain; charset=utf-8";
  azc_buf_puts(&r->body, text);
}

void serve_api_metrics(serve_ctx_t *c, azc_buf_t *o) {
  serve_metrics_t *m = c->metrics;
  char line[256];
#define METRIC(name, type, help, value)                                                            \
  do {                                                                                             \
    snprintf(line, sizeof(line),                                                                   \
             "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %lld\n",                \
             (long long)(value));                                                                  \
    azc_buf_puts(o, line);                                                                         \
  } while (0)
  METRIC("azc_steps_total", "counter", "Forward steps run by the engines.", atomic_load(&m->steps));
  METRIC("azc_steps_multi_sequence_total", "counter", "Steps that ran more than one sequence.",
         atomic_load(&m->steps_multi));
  azc_buf_puts(o, "# HELP azc_step_sequences Sequences in each step (one pass over the weights).\n"
                  "# TYPE azc_step_sequences histogram\n");
  static const char *le[6] = {"1", "2", "4", "8", "16", "+Inf"};
  long long cum = 0;
  for (int i = 0; i < 6; i++) {
    cum += atomic_load(&m->step_seq_hist[i]);
    snprintf(line, sizeof(line), "azc_step_sequences_bucket{le=\"%s\"} %lld\n", le[i], cum);
    azc_buf_puts(o, line);
  }
  snprintf(line, sizeof(line), "azc_step_sequences_sum %lld\nazc_step_sequences_count %lld\n",
           (long long)atomic_load(&m->step_sequences_sum), (long long)atomic_load(&m->steps));
  azc_buf_puts(o, line);
  METRIC("azc_step_seconds_total", "counter", "Wall time of the forward steps, in seconds.",
         atomic_load(&m->step_ns_sum) / 1000000000);
  METRIC("azc_batch_joins_total", "counter",
         "Requests that joined a running batch (admitted while another sequence was generating).",
         atomic_load(&m->joins));
  METRIC("azc_prompt_tokens_total", "counter",
         "Prompt tokens of the requests (cached or evaluated).", atomic_load(&m->prompt_tokens));
  METRIC(
      "azc_prompt_tokens_reused_total", "counter",
      "Prompt tokens found in a slot's KV cache (a prefix of an earlier request), not evaluated.",
      atomic_load(&m->prompt_tokens_reused));
  METRIC("azc_generated_tokens_total", "counter", "Tokens generated.",
         atomic_load(&m->generated_tokens));
  METRIC("azc_jobs_finished_total", "counter", "Generation jobs finished.",
         atomic_load(&m->jobs_done));
  METRIC("azc_jobs_cancelled_total", "counter", "Jobs stopped because their client went away.",
         atomic_load(&m->jobs_cancelled));
  METRIC("azc_rejected_queue_full_total", "counter", "Requests answered 503: the queue was full.",
         atomic_load(&m->rejected_queue_full));
  METRIC("azc_queue_depth", "gauge", "Jobs waiting for a slot.", atomic_load(&m->queue_depth));
  METRIC("azc_slots_busy", "gauge", "Slots generating.", atomic_load(&m->slots_busy));
  METRIC("azc_slots_per_model", "gauge", "Slots (KV-cache sequences) per loaded model.",
         c->params->parallel);
  METRIC("azc_models_loaded", "gauge", "Models loaded.", serve_models_loaded_count(c->models));
  azc_buf_puts(o, "# HELP azc_http_requests_total HTTP requests answered, by status class.\n"
                  "# TYPE azc_http_requests_total counter\n");
  for (int k = 2; k <= 5; k++) {
    snprintf(line, sizeof(line), "azc_http_requests_total{code=\"%dxx\"} %lld\n", k,
             (long long)atomic_load(&c->requests[k]));
    azc_buf_puts(o, line);
  }
#undef METRIC
}

void serve_api_handle(serve_ctx_t *c, const char *method, const char *path, const char *body,
                      size_t len, bool body_too_big, serve_reply_t *r) {
  memset(r, 0, sizeof(*r));
  bool openai = is_openai(path);
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  bool post = !strcmp(method, "POST");
  if (!strcmp(path, "/") && get) return reply_text(r, 200, "Ollama is running");
  if (!strcmp(path, "/health") && get) {
    r->status = 200;
    r->content_type = "application/json";
    azc_buf_puts(&r->body, "{\"status\":\"ok\"}\n");
    return;
  }
  if (!strcmp(path, "/metrics") && get) {
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    serve_api_metrics(c, &r->body);
    return;
  }
  if (!strcmp(path, "/api/version") && get) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "version", AZC_VERSION_STRING);
    return reply_json(r, j);
  }
  if (!strcmp(path, "/api/tags") && get) return handle_list(c, false, false, r);
  if (!strcmp(path, "/api/ps") && get) return handle_list(c, true, false, r);
  if (!strcmp(path, "/v1/models") && get) return handle_list(c, false, true, r);
  if (!strncmp(path, "/v1/models/", 11) && get) return handle_model_get(c, path + 11, r);
  enum kind kind;
  bool show = false;
  if (!strcmp(path, "/api/generate"))
    kind = K_GENERATE;
  else if (!strcmp(path, "/api/chat"))
    kind = K_CHAT;
  else if (!strcmp(path, "/v1/chat/completions"))
    kind = K_OAI_CHAT;
  else if (!strcmp(path, "/v1/completions"))
    kind = K_OAI_COMPLETION;
  else if (!strcmp(path, "/api/show"))
    show = true;
  else {
    static const char *known[] = {"/",         "/health", "/metrics",  "/api/version",
                                  "/api/tags", "/api/ps", "/v1/models"};
    for (size_t i = 0; i < AZC_ARRAY_SIZE(known); i++)
      if (!strcmp(path, known[i]))
        return reply_error(r, 405, openai, "%s %s: use GET", method, path);
    return reply_error(r, 404, openai, "%s %s: no such endpoint", method, path);
  }
  if (!post) return reply_error(r, 405, openai, "%s %s: use POST", method, path);
  if (body_too_big)
    return reply_error(r, 413, openai, "request body is larger than the limit of %zu bytes",
                       c->params->max_body);
  if (!azc_utf8_valid(body, len)) {
    size_t off = 0;
    while (off < len) {
      size_t step;
      uint32_t cp;
      if (azc_utf8_next((const unsigned char *)body + off, len - off, &step, &cp) != AZC_UTF8_OK)
        break;
      off += step;
    }
    return reply_error(r, 400, openai, "request body is not valid UTF-8 (at byte %zu)", off);
  }
  const char *end = NULL;
  cJSON *req = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!req) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    if (!len)
      return reply_error(r, 400, openai, "the request body is empty (a JSON object is expected)");
    return reply_error(r, 400, openai, "malformed JSON at byte %zu", at);
  }
  if (!cJSON_IsObject(req)) {
    reply_error(r, 400, openai, "the request body must be a JSON object, not %s", json_type(req));
  } else if (show) {
    handle_show(c, req, r);
  } else {
    handle_generation(c, kind, path, req, r);
  }
  cJSON_Delete(req);
}
