/* The public runtime API (see azrt.h) over the bundle model, the compiled
 * executor, the tokenizer and the sampler. */
#include "azrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/util.h"
#include "runtime/model_bundle.h"
#include "runtime/sampler.h"

struct azrt_model {
  azc_bundle_model_t *m;
};

struct azrt_session {
  azrt_model_t *model;
  azc_executor_t *exec;
  azc_sampler_t *sampler;
  float *logits;
  int32_t n_past;
};

static _Thread_local char last_error[1024];

const char *azrt_last_error(void) { return last_error; }
const char *azrt_version(void) { return AZC_VERSION_STRING; }

static int fail(azc_status_t st) {
  snprintf(last_error, sizeof(last_error), "%s", azc_status_message(st));
  int code;
  switch (azc_status_code(st)) {
  case AZC_INVALID_ARGUMENT: code = AZRT_EINVAL; break;
  case AZC_NOT_FOUND: code = AZRT_ENOTFOUND; break;
  case AZC_IO: code = AZRT_EIO; break;
  case AZC_CORRUPT: code = AZRT_ECORRUPT; break;
  case AZC_UNSUPPORTED: code = AZRT_EUNSUPPORTED; break;
  case AZC_OUT_OF_MEMORY: code = AZRT_ENOMEM; break;
  case AZC_OUT_OF_RANGE: code = AZRT_ERANGE; break;
  default: code = AZRT_EINTERNAL; break;
  }
  azc_status_free(st);
  return code;
}

azrt_session_params_t azrt_session_params_default(void) {
  azrt_session_params_t p = {0, 0, NAN, -1, NAN, NAN, NAN, UINT64_MAX};
  return p;
}

int azrt_model_open(const char *path, azrt_model_t **out) {
  *out = NULL;
  if (!path) return fail(AZC_ERR(AZC_INVALID_ARGUMENT, "no path"));
  azrt_model_t *m = calloc(1, sizeof(*m));
  if (!m) return fail(AZC_ERR(AZC_OUT_OF_MEMORY, "model"));
  azc_status_t st = azc_bundle_model_open(path, AZC_BUNDLE_MODEL_VERIFY_NOW, &m->m);
  if (st) {
    free(m);
    return fail(st);
  }
  *out = m;
  return AZRT_OK;
}

void azrt_model_close(azrt_model_t *m) {
  if (!m) return;
  azc_bundle_model_close(m->m);
  free(m);
}

int32_t azrt_model_n_vocab(const azrt_model_t *m) { return m->m->plan->n_vocab; }
int32_t azrt_model_n_ctx_train(const azrt_model_t *m) { return m->m->meta.n_ctx_train; }
int32_t azrt_model_bos(const azrt_model_t *m) { return azc_tokenizer_bos(m->m->tokenizer); }
int32_t azrt_model_eos(const azrt_model_t *m) { return azc_tokenizer_eos(m->m->tokenizer); }
int azrt_model_is_eog(const azrt_model_t *m, int32_t t) { return azc_tokenizer_is_eog(m->m->tokenizer, t); }
const char *azrt_model_arch(const azrt_model_t *m) { return m->m->meta.arch; }

int azrt_tokenize(const azrt_model_t *m, const char *text, int len, int add_special,
                  int32_t *tokens, int cap) {
  if (!text) return fail(AZC_ERR(AZC_INVALID_ARGUMENT, "no text"));
  int32_t *ids = NULL;
  size_t n = 0;
  azc_status_t st = azc_tokenizer_encode(m->m->tokenizer, text, len < 0 ? strlen(text) : (size_t)len,
                                         add_special != 0, false, &ids, &n);
  if (st) return fail(st);
  for (size_t i = 0; i < n && (int)i < cap; i++) tokens[i] = ids[i];
  free(ids);
  return (int)n;
}

int azrt_token_to_piece(const azrt_model_t *m, int32_t token, char *buf, int cap) {
  if (token < 0 || token >= azc_tokenizer_n_vocab(m->m->tokenizer))
    return fail(AZC_ERR(AZC_INVALID_ARGUMENT, "token %d out of range", token));
  return (int)azc_tokenizer_token_to_piece(m->m->tokenizer, token, buf, cap > 0 ? (size_t)cap : 0);
}

int azrt_detokenize(const azrt_model_t *m, const int32_t *tokens, int n, char *buf, int cap) {
  char *text = NULL;
  size_t len = 0;
  azc_status_t st = azc_tokenizer_decode(m->m->tokenizer, tokens, n > 0 ? (size_t)n : 0, &text, &len);
  if (st) return fail(st);
  if (cap > 0) {
    size_t k = AZC_MIN(len, (size_t)cap - 1);
    memcpy(buf, text, k);
    buf[k] = 0;
  }
  free(text);
  return (int)len;
}

int azrt_session_create(azrt_model_t *m, const azrt_session_params_t *params,
                        azrt_session_t **out) {
  *out = NULL;
  azrt_session_params_t p = params ? *params : azrt_session_params_default();
  const azc_bundle_defaults_t *d = &m->m->defaults;
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_threads = p.n_threads > 0 ? p.n_threads : d->n_threads;
  ep.n_ctx = p.n_ctx > 0 ? p.n_ctx : d->n_ctx > 0 ? d->n_ctx : AZC_MIN(m->m->meta.n_ctx_train, 4096);
  ep.n_batch = (int32_t)AZC_MIN(m->m->plan->plan_T, ep.n_ctx);
  azc_sampler_params_t sp = azc_sampler_params_default();
  sp.temperature = isnan(p.temperature) ? d->temperature : p.temperature;
  sp.top_k = p.top_k < 0 ? d->top_k : p.top_k;
  sp.top_p = isnan(p.top_p) ? d->top_p : p.top_p;
  sp.min_p = isnan(p.min_p) ? d->min_p : p.min_p;
  sp.repeat_penalty = isnan(p.repeat_penalty) ? d->repeat_penalty : p.repeat_penalty;
  sp.repeat_last_n = d->repeat_last_n;
  sp.typical_p = d->typical_p;
  sp.presence_penalty = d->presence_penalty;
  sp.frequency_penalty = d->frequency_penalty;
  sp.seed = p.seed != UINT64_MAX ? p.seed : d->seed;
  azrt_session_t *s = calloc(1, sizeof(*s));
  if (!s) return fail(AZC_ERR(AZC_OUT_OF_MEMORY, "session"));
  s->model = m;
  azc_status_t st = azc_bundle_model_executor(m->m, &ep, &s->exec);
  if (!st) st = azc_sampler_create(&sp, m->m->plan->n_vocab, &s->sampler);
  if (!st) {
    s->logits = malloc(sizeof(float) * (size_t)m->m->plan->n_vocab);
    if (!s->logits) st = AZC_ERR(AZC_OUT_OF_MEMORY, "logits");
  }
  if (st) {
    azrt_session_free(s);
    return fail(st);
  }
  *out = s;
  return AZRT_OK;
}

void azrt_session_free(azrt_session_t *s) {
  if (!s) return;
  azc_executor_destroy(s->exec);
  azc_sampler_destroy(s->sampler);
  free(s->logits);
  free(s);
}

int azrt_eval(azrt_session_t *s, const int32_t *tokens, int n) {
  if (n <= 0 || !tokens) return fail(AZC_ERR(AZC_INVALID_ARGUMENT, "no tokens"));
  if (s->n_past + n > s->exec->n_ctx)
    return fail(AZC_ERR(AZC_OUT_OF_RANGE, "%d tokens do not fit: %d of %d positions used", n,
                        s->n_past, s->exec->n_ctx));
  int32_t pos[512], seq[512] = {0};
  for (int done = 0; done < n;) {
    int k = AZC_MIN(n - done, AZC_MIN(s->exec->n_batch, 512));
    for (int i = 0; i < k; i++) pos[i] = s->n_past + i;
    int32_t last = k - 1;
    azc_batch_t b = {k, tokens + done, pos, seq, 1, &last};
    azc_status_t st = azc_executor_forward(s->exec, &b, s->logits);
    if (st) return fail(st);
    for (int i = 0; i < k; i++) azc_sampler_accept(s->sampler, tokens[done + i]);
    s->n_past += k;
    done += k;
  }
  return AZRT_OK;
}

const float *azrt_logits(const azrt_session_t *s) { return s->logits; }

int32_t azrt_sample(azrt_session_t *s) {
  int32_t t = azc_sampler_sample(s->sampler, s->logits);
  return t;
}

int32_t azrt_session_n_past(const azrt_session_t *s) { return s->n_past; }

void azrt_session_reset(azrt_session_t *s) {
  s->n_past = 0;
  azc_sampler_reset(s->sampler);
}
