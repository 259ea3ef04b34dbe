/* Ollama's run options (see model_options.h): one table with each option's
 * type, accepted range, azc's and Ollama's defaults, and what azc does with
 * it; parsing with Go's strconv rules; the defaults record and the chat
 * section's parameters as the model's stored values; and the resolution
 * order request > stored > azc. */
#include "runtime/model_options.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/util.h"

#define I32 2147483647.0
static const azc_option_info_t table[] = {
    {"num_ctx", AZC_OPT_INT, AZC_OPT_NUM_CTX, 0, 16777216, "0 (the model's, at most 4096)", "4096",
     "context size (positions per sequence); 0: the model's, at most 4096"},
    {"num_batch", AZC_OPT_INT, AZC_OPT_NUM_BATCH, 1, 65536, "512", "512",
     "most tokens per forward call (the compiled plan is sized for it)"},
    {"num_gpu", AZC_OPT_INT, AZC_OPT_NUM_GPU, -1, I32, "0", "-1 (as many as fit)",
     "layers to run on the GPU (stored; CPU-only builds run every layer on the CPU)"},
    {"main_gpu", AZC_OPT_INT, AZC_OPT_MAIN_GPU, 0, 1024, "0", "0", "the GPU used (stored)"},
    {"use_mmap", AZC_OPT_BOOL, AZC_OPT_USE_MMAP, 0, 1, "true", "unset (true)",
     "bundles are always mapped; stored and reported"},
    {"num_thread", AZC_OPT_INT, AZC_OPT_NUM_THREAD, 0, 1024, "0 (all cores)", "0 (runtime decides)",
     "CPU threads; 0: all cores"},
    {"num_keep", AZC_OPT_INT, AZC_OPT_NUM_KEEP, -1, I32, "4", "4",
     "tokens kept from the start when a chat outgrows the context (stored)"},
    {"seed", AZC_OPT_INT, AZC_OPT_SEED, -9.2233720368547758e18, 9.2233720368547758e18,
     "-1 (random)", "-1 (random)", "sampling seed; negative: random"},
    {"num_predict", AZC_OPT_INT, AZC_OPT_NUM_PREDICT, -2, I32, "-1 (until end of turn)", "-1",
     "most tokens to generate; -1 (and -2): until an end-of-generation token or a full context"},
    {"top_k", AZC_OPT_INT, AZC_OPT_TOP_K, 0, I32, "50", "40", "keep the k most likely; 0: off"},
    {"top_p", AZC_OPT_FLOAT, AZC_OPT_TOP_P, 0, 1, "0.9", "0.9", "nucleus sampling; 1: off"},
    {"min_p", AZC_OPT_FLOAT, AZC_OPT_MIN_P, 0, 1, "0", "0",
     "keep tokens at least min_p times as likely as the best; 0: off"},
    {"typical_p", AZC_OPT_FLOAT, AZC_OPT_TYPICAL_P, 0, 1, "1", "1",
     "locally typical sampling; 1: off"},
    {"repeat_last_n", AZC_OPT_INT, AZC_OPT_REPEAT_LAST_N, -1, 1048576, "64", "64",
     "tokens the penalties look back over; 0: off, -1: the whole context"},
    {"temperature", AZC_OPT_FLOAT, AZC_OPT_TEMPERATURE, 0, 100, "0.8", "0.8", "0: greedy"},
    {"repeat_penalty", AZC_OPT_FLOAT, AZC_OPT_REPEAT_PENALTY, 1e-6, 100, "1 (off)", "1.1",
     "divides positive logits of recent tokens (multiplies negative ones)"},
    {"presence_penalty", AZC_OPT_FLOAT, AZC_OPT_PRESENCE_PENALTY, -100, 100, "0", "0",
     "subtracted from the logit of each token seen in the window"},
    {"frequency_penalty", AZC_OPT_FLOAT, AZC_OPT_FREQUENCY_PENALTY, -100, 100, "0", "0",
     "subtracted once per occurrence in the window"},
    {"stop", AZC_OPT_STRING_LIST, AZC_OPT_STOP, 0, 0, "none (the template's)", "none",
     "text that ends a turn; repeatable"},
    /* deprecated by Ollama: accepted with a warning, ignored */
    {"mirostat", AZC_OPT_INT, -1, 0, 0, "", "0", "deprecated"},
    {"mirostat_tau", AZC_OPT_FLOAT, -1, 0, 0, "", "5.0", "deprecated"},
    {"mirostat_eta", AZC_OPT_FLOAT, -1, 0, 0, "", "0.1", "deprecated"},
    {"penalize_newline", AZC_OPT_BOOL, -1, 0, 0, "", "true", "deprecated"},
    {"low_vram", AZC_OPT_BOOL, -1, 0, 0, "", "false", "deprecated"},
    {"f16_kv", AZC_OPT_BOOL, -1, 0, 0, "", "true", "deprecated"},
    {"logits_all", AZC_OPT_BOOL, -1, 0, 0, "", "false", "deprecated"},
    {"vocab_only", AZC_OPT_BOOL, -1, 0, 0, "", "false", "deprecated"},
    {"use_mlock", AZC_OPT_BOOL, -1, 0, 0, "", "false", "deprecated"},
    {"numa", AZC_OPT_BOOL, -1, 0, 0, "", "false", "deprecated"},
};
#undef I32

_Static_assert(AZC_OPT_COUNT <= 32, "azc_options_t.set is 32 bits");

const azc_option_info_t *azc_option_table(size_t *n) {
  *n = AZC_ARRAY_SIZE(table);
  return table;
}

const azc_option_info_t *azc_option_find(const char *name) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(table); i++)
    if (!strcmp(table[i].name, name)) return &table[i];
  return NULL;
}

static const azc_option_info_t *info_of(azc_option_id_t id) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(table); i++)
    if (table[i].id == (int)id) return &table[i];
  return NULL;
}

azc_options_t azc_options_default(void) {
  azc_options_t o;
  memset(&o, 0, sizeof(o));
  azc_sampler_params_t sp = azc_sampler_params_default();
  o.v[AZC_OPT_NUM_CTX].i = 0;
  o.v[AZC_OPT_NUM_BATCH].i = 512;
  o.v[AZC_OPT_NUM_GPU].i = 0;
  o.v[AZC_OPT_MAIN_GPU].i = 0;
  o.v[AZC_OPT_USE_MMAP].b = true;
  o.v[AZC_OPT_NUM_THREAD].i = 0;
  o.v[AZC_OPT_NUM_KEEP].i = 4;
  o.v[AZC_OPT_SEED].i = -1;
  o.v[AZC_OPT_NUM_PREDICT].i = -1;
  o.v[AZC_OPT_TOP_K].i = sp.top_k;
  o.v[AZC_OPT_TOP_P].f = sp.top_p;
  o.v[AZC_OPT_MIN_P].f = sp.min_p;
  o.v[AZC_OPT_TYPICAL_P].f = sp.typical_p;
  o.v[AZC_OPT_REPEAT_LAST_N].i = sp.repeat_last_n;
  o.v[AZC_OPT_TEMPERATURE].f = sp.temperature;
  o.v[AZC_OPT_REPEAT_PENALTY].f = sp.repeat_penalty;
  o.v[AZC_OPT_PRESENCE_PENALTY].f = sp.presence_penalty;
  o.v[AZC_OPT_FREQUENCY_PENALTY].f = sp.frequency_penalty;
  o.set = (1u << AZC_OPT_COUNT) - 1;
  return o;
}

/* ---- Go's strconv rules ---- */

static bool parse_int(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return false;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end) return false;
  *out = v;
  return true;
}

/* ParseFloat(s, 32): decimal or exponent notation, "inf"/"infinity"/"nan" in
 * any case with an optional sign; the value must fit a float32. Hex floats
 * and underscores (which Go also takes) are refused: no Modelfile uses them. */
static bool parse_float(const char *s, double *out) {
  if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
    return false;
  const char *p = s + (*s == '+' || *s == '-');
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return false;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (*end || end == s) return false;
  if (isfinite(v) && fabs(v) > FLT_MAX) return false; /* out of float32 range */
  *out = (double)(float)v;
  return true;
}

static bool parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; i < AZC_ARRAY_SIZE(yes); i++) {
    if (!strcmp(s, yes[i])) return *out = true, true;
    if (!strcmp(s, no[i])) return *out = false, true;
  }
  return false;
}

static const char *type_name(azc_option_type_t t) {
  switch (t) {
  case AZC_OPT_INT: return "int";
  case AZC_OPT_FLOAT: return "float";
  case AZC_OPT_BOOL: return "bool";
  default: return "string";
  }
}

static const azc_option_info_t *lookup(const char *name, bool *deprecated, azc_status_t *st) {
  if (deprecated) *deprecated = false;
  *st = NULL;
  const azc_option_info_t *o = azc_option_find(name);
  if (!o) {
    *st = AZC_ERR(AZC_INVALID_ARGUMENT, "unknown parameter '%s'", name);
    return NULL;
  }
  if (o->id < 0) {
    if (deprecated) *deprecated = true;
    return NULL;
  }
  return o;
}

static azc_status_t store_number(azc_options_t *o, const azc_option_info_t *inf, double v,
                                 const char *text) {
  if (isnan(v) || v < inf->min || v > inf->max)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s %s is out of range (%g to %g)", inf->name, text,
                   inf->min, inf->max);
  if (inf->type == AZC_OPT_INT)
    o->v[inf->id].i = (int64_t)v;
  else
    o->v[inf->id].f = v;
  o->set |= 1u << inf->id;
  return NULL;
}

azc_status_t azc_options_add_stop(azc_options_t *o, const char *text, size_t len) {
  if (len == 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "stop: an empty stop string");
  if (len >= AZC_OPT_MAX_STOP_LEN)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "stop: a stop string of %zu bytes (at most %d)", len,
                   AZC_OPT_MAX_STOP_LEN - 1);
  if (memchr(text, 0, len)) return AZC_ERR(AZC_INVALID_ARGUMENT, "stop: a stop string holds NUL");
  for (int i = 0; i < o->n_stop; i++)
    if (strlen(o->stop[i]) == len && !memcmp(o->stop[i], text, len)) return NULL; /* once */
  if (o->n_stop == AZC_OPT_MAX_STOP)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "stop: more than %d stop strings", AZC_OPT_MAX_STOP);
  memcpy(o->stop[o->n_stop], text, len);
  o->stop[o->n_stop++][len] = 0;
  o->set |= 1u << AZC_OPT_STOP;
  return NULL;
}

void azc_options_clear_stop(azc_options_t *o) {
  o->n_stop = 0;
  o->set &= ~(1u << AZC_OPT_STOP);
}

azc_status_t azc_options_set_text(azc_options_t *o, const char *name, const char *text,
                                  bool *deprecated) {
  azc_status_t st;
  const azc_option_info_t *inf = lookup(name, deprecated, &st);
  if (!inf) return st;
  int64_t iv;
  double fv;
  bool bv;
  switch (inf->type) {
  case AZC_OPT_INT:
    if (!parse_int(text, &iv))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "invalid int value '%s' for %s", text, name);
    return store_number(o, inf, (double)iv, text);
  case AZC_OPT_FLOAT:
    if (!parse_float(text, &fv))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "invalid float value '%s' for %s", text, name);
    return store_number(o, inf, fv, text);
  case AZC_OPT_BOOL:
    if (!parse_bool(text, &bv))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "invalid bool value '%s' for %s (true or false)", text,
                     name);
    o->v[inf->id].b = bv;
    o->set |= 1u << inf->id;
    return NULL;
  case AZC_OPT_STRING_LIST: return azc_options_add_stop(o, text, strlen(text));
  }
  return AZC_ERR(AZC_INTERNAL, "option %s", name);
}

azc_status_t azc_options_set_number(azc_options_t *o, const char *name, double value,
                                    bool *deprecated) {
  azc_status_t st;
  const azc_option_info_t *inf = lookup(name, deprecated, &st);
  if (!inf) return st;
  char text[64];
  snprintf(text, sizeof(text), "%.17g", value);
  if (inf->type == AZC_OPT_INT) {
    if (value != floor(value))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "%s takes a whole number, not %s", name, text);
  } else if (inf->type != AZC_OPT_FLOAT) {
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s takes a %s, not a number", name, type_name(inf->type));
  }
  return store_number(o, inf, value, text);
}

azc_status_t azc_options_set_bool(azc_options_t *o, const char *name, bool value,
                                  bool *deprecated) {
  azc_status_t st;
  const azc_option_info_t *inf = lookup(name, deprecated, &st);
  if (!inf) return st;
  if (inf->type != AZC_OPT_BOOL)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s takes a %s, not a bool", name, type_name(inf->type));
  o->v[inf->id].b = value;
  o->set |= 1u << inf->id;
  return NULL;
}

void azc_options_format(const azc_options_t *o, azc_option_id_t id, int stop_index, char *buf,
                        size_t cap) {
  const azc_option_info_t *inf = info_of(id);
  if (!inf || cap == 0) return;
  switch (inf->type) {
  case AZC_OPT_INT: snprintf(buf, cap, "%lld", (long long)o->v[id].i); break;
  case AZC_OPT_FLOAT: snprintf(buf, cap, "%g", (double)(float)o->v[id].f); break;
  case AZC_OPT_BOOL: snprintf(buf, cap, "%s", o->v[id].b ? "true" : "false"); break;
  case AZC_OPT_STRING_LIST:
    snprintf(buf, cap, "%s", stop_index >= 0 && stop_index < o->n_stop ? o->stop[stop_index] : "");
    break;
  }
}

/* ---- stored values and resolution ---- */

azc_status_t azc_options_from_stored(const azc_bundle_defaults_t *d, const char *const *names,
                                     const char *const *values, size_t n, azc_options_t *out) {
  *out = azc_options_default();
  if (d) {
    out->v[AZC_OPT_NUM_CTX].i = d->n_ctx;
    out->v[AZC_OPT_NUM_GPU].i = d->n_gpu_layers;
    out->v[AZC_OPT_NUM_THREAD].i = d->n_threads;
    out->v[AZC_OPT_SEED].i = d->seed == AZC_SEED_RANDOM ? -1 : (int64_t)d->seed;
    out->v[AZC_OPT_NUM_PREDICT].i = d->n_predict;
    out->v[AZC_OPT_TOP_K].i = d->top_k;
    out->v[AZC_OPT_TOP_P].f = d->top_p;
    out->v[AZC_OPT_MIN_P].f = d->min_p;
    out->v[AZC_OPT_TYPICAL_P].f = d->typical_p;
    out->v[AZC_OPT_REPEAT_LAST_N].i = d->repeat_last_n;
    out->v[AZC_OPT_TEMPERATURE].f = d->temperature;
    out->v[AZC_OPT_REPEAT_PENALTY].f = d->repeat_penalty;
    out->v[AZC_OPT_PRESENCE_PENALTY].f = d->presence_penalty;
    out->v[AZC_OPT_FREQUENCY_PENALTY].f = d->frequency_penalty;
  }
  /* the chat section's parameters: those the record has no field for */
  for (size_t i = 0; i < n; i++) {
    const azc_option_info_t *inf = azc_option_find(names[i]);
    if (!inf || inf->id < 0) continue; /* written by a newer azc, or deprecated: ignored */
    if (inf->id != AZC_OPT_NUM_BATCH && inf->id != AZC_OPT_MAIN_GPU &&
        inf->id != AZC_OPT_USE_MMAP && inf->id != AZC_OPT_NUM_KEEP && inf->id != AZC_OPT_STOP)
      continue; /* the defaults record holds it */
    AZC_RETURN_IF_ERROR_CTX(azc_options_set_text(out, names[i], values[i], NULL),
                            "the bundle's stored parameters");
  }
  out->set = (1u << AZC_OPT_COUNT) - 1;
  if (!out->n_stop) out->set &= ~(1u << AZC_OPT_STOP);
  return NULL;
}

void azc_options_to_defaults(const azc_options_t *o, azc_bundle_defaults_t *d) {
#define TAKE(id, field, val)                                                                       \
  if (azc_options_has(o, id)) d->field = val
  TAKE(AZC_OPT_NUM_CTX, n_ctx, (int32_t)o->v[AZC_OPT_NUM_CTX].i);
  TAKE(AZC_OPT_NUM_GPU, n_gpu_layers, (int32_t)o->v[AZC_OPT_NUM_GPU].i);
  TAKE(AZC_OPT_NUM_THREAD, n_threads, (int32_t)o->v[AZC_OPT_NUM_THREAD].i);
  TAKE(AZC_OPT_SEED, seed,
       o->v[AZC_OPT_SEED].i < 0 ? AZC_SEED_RANDOM : (uint64_t)o->v[AZC_OPT_SEED].i);
  TAKE(AZC_OPT_NUM_PREDICT, n_predict,
       o->v[AZC_OPT_NUM_PREDICT].i < 0 ? -1 : (int32_t)o->v[AZC_OPT_NUM_PREDICT].i);
  TAKE(AZC_OPT_TOP_K, top_k, (int32_t)o->v[AZC_OPT_TOP_K].i);
  TAKE(AZC_OPT_TOP_P, top_p, (float)o->v[AZC_OPT_TOP_P].f);
  TAKE(AZC_OPT_MIN_P, min_p, (float)o->v[AZC_OPT_MIN_P].f);
  TAKE(AZC_OPT_TYPICAL_P, typical_p, (float)o->v[AZC_OPT_TYPICAL_P].f);
  TAKE(AZC_OPT_REPEAT_LAST_N, repeat_last_n, (int32_t)o->v[AZC_OPT_REPEAT_LAST_N].i);
  TAKE(AZC_OPT_TEMPERATURE, temperature, (float)o->v[AZC_OPT_TEMPERATURE].f);
  TAKE(AZC_OPT_REPEAT_PENALTY, repeat_penalty, (float)o->v[AZC_OPT_REPEAT_PENALTY].f);
  TAKE(AZC_OPT_PRESENCE_PENALTY, presence_penalty, (float)o->v[AZC_OPT_PRESENCE_PENALTY].f);
  TAKE(AZC_OPT_FREQUENCY_PENALTY, frequency_penalty, (float)o->v[AZC_OPT_FREQUENCY_PENALTY].f);
#undef TAKE
}

void azc_options_resolve(const azc_options_t *request, const azc_options_t *stored,
                         azc_options_t *out) {
  *out = stored ? *stored : azc_options_default();
  if (!stored) azc_options_clear_stop(out);
  if (!request) return;
  for (int id = 0; id < AZC_OPT_COUNT; id++)
    if (id != AZC_OPT_STOP && azc_options_has(request, (azc_option_id_t)id))
      out->v[id] = request->v[id];
  if (azc_options_has(request, AZC_OPT_STOP)) { /* a request's stop list replaces the model's */
    out->n_stop = request->n_stop;
    memcpy(out->stop, request->stop, sizeof(out->stop));
    out->set |= 1u << AZC_OPT_STOP;
  }
}

azc_sampler_params_t azc_options_sampler_params(const azc_options_t *o, int32_t n_ctx) {
  azc_sampler_params_t p = azc_sampler_params_default();
  p.temperature = (float)o->v[AZC_OPT_TEMPERATURE].f;
  p.top_k = (int32_t)o->v[AZC_OPT_TOP_K].i;
  p.top_p = (float)o->v[AZC_OPT_TOP_P].f;
  p.min_p = (float)o->v[AZC_OPT_MIN_P].f;
  p.typical_p = (float)o->v[AZC_OPT_TYPICAL_P].f;
  p.repeat_penalty = (float)o->v[AZC_OPT_REPEAT_PENALTY].f;
  p.presence_penalty = (float)o->v[AZC_OPT_PRESENCE_PENALTY].f;
  p.frequency_penalty = (float)o->v[AZC_OPT_FREQUENCY_PENALTY].f;
  int64_t last_n = o->v[AZC_OPT_REPEAT_LAST_N].i;
  p.repeat_last_n = (int32_t)(last_n < 0 ? AZC_MAX(n_ctx, 0) : last_n);
  int64_t seed = o->v[AZC_OPT_SEED].i;
  p.seed = seed < 0 ? AZC_SEED_RANDOM : (uint64_t)seed;
  return p;
}
