/* Chat turns with the KV cache kept between them (see chat_session.h). The
 * cached tokens are exactly those whose keys and values sit at positions
 * 0..n_cached-1 of the session's sequence; a turn compares its prompt with
 * them, prefills from the first difference (positions after it are simply
 * overwritten: attention only reads positions up to the token's own), and
 * every generated token that is evaluated joins them. */
#include "runtime/chat_session.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/base/utf8.h"
#include "runtime/base/util.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"

struct azc_chat_session {
  azc_executor_t *ex;
  const azc_tokenizer_t *tok;
  const azc_chat_info_t *ci;
  const azc_chat_template_t *tmpl;
  int32_t seq;
  azc_options_t opts;
  azc_chat_text_fn on_text;
  void *user;
  volatile sig_atomic_t *cancel;
  int32_t *cached; /* (n_ctx) */
  int32_t n_cached;
  char **role, **content; /* the conversation (owned) */
  size_t n_hist, cap_hist;
  azc_chat_message_t *view; /* history() */
  float *logits;            /* (n_vocab * (1 + draft_max)) */
  azc_drafter_t *drafter;   /* borrowed; NULL: plain decoding */
  int32_t draft_max, draft_len;
  int32_t *bo;              /* (n_batch) output rows of a verify pass */
  int32_t *bt, *bp, *bs;    /* (n_batch) */
};

const char *azc_chat_stop_name(azc_chat_stop_t s) {
  switch (s) {
  case AZC_CHAT_STOP_EOG:
  case AZC_CHAT_STOP_STRING: return "stop";
  case AZC_CHAT_STOP_LENGTH:
  case AZC_CHAT_STOP_CONTEXT: return "length";
  case AZC_CHAT_STOP_CANCELLED: return "cancelled";
  }
  return "stop";
}

void azc_chat_turn_free(azc_chat_turn_t *t) {
  free(t->text);
  free(t->prompt);
  memset(t, 0, sizeof(*t));
}

azc_status_t azc_chat_session_create(azc_executor_t *ex, const azc_tokenizer_t *tok,
                                     const azc_chat_info_t *ci, const azc_chat_template_t *tmpl,
                                     int32_t seq, azc_chat_session_t **out) {
  *out = NULL;
  if (seq < 0 || seq >= ex->n_seq)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "chat: sequence %d, but the executor holds %d", seq,
                   ex->n_seq);
  if (azc_tokenizer_n_vocab(tok) > ex->n_vocab)
    return AZC_ERR(AZC_CORRUPT, "chat: tokenizer has %d tokens, model output %d",
                   azc_tokenizer_n_vocab(tok), ex->n_vocab);
  azc_chat_session_t *s = calloc(1, sizeof(*s));
  if (!s) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat session");
  s->ex = ex;
  s->tok = tok;
  s->ci = ci;
  s->tmpl = tmpl;
  s->seq = seq;
  s->opts = azc_options_default();
  azc_options_clear_stop(&s->opts);
  s->cached = malloc((size_t)ex->n_ctx * sizeof(int32_t));
  s->logits = malloc((size_t)ex->n_vocab * sizeof(float));
  s->bt = malloc((size_t)ex->n_batch * 3 * sizeof(int32_t));
  if (!s->cached || !s->logits || !s->bt) {
    azc_chat_session_destroy(s);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "chat session buffers");
  }
  s->bp = s->bt + ex->n_batch;
  s->bs = s->bp + ex->n_batch;
  *out = s;
  return NULL;
}

void azc_chat_session_clear(azc_chat_session_t *s) {
  for (size_t i = 0; i < s->n_hist; i++) {
    free(s->role[i]);
    free(s->content[i]);
  }
  s->n_hist = 0;
}

void azc_chat_session_destroy(azc_chat_session_t *s) {
  if (!s) return;
  azc_chat_session_clear(s);
  free(s->role);
  free(s->content);
  free(s->view);
  free(s->cached);
  free(s->logits);
  free(s->bt);
  free(s->bo);
  free(s);
}

void azc_chat_session_set_options(azc_chat_session_t *s, const azc_options_t *o) { s->opts = *o; }
const azc_options_t *azc_chat_session_options(const azc_chat_session_t *s) { return &s->opts; }
void azc_chat_session_set_stream(azc_chat_session_t *s, azc_chat_text_fn fn, void *user) {
  s->on_text = fn;
  s->user = user;
}
void azc_chat_session_set_cancel(azc_chat_session_t *s, volatile sig_atomic_t *cancel) {
  s->cancel = cancel;
}
int32_t azc_chat_session_cached(const azc_chat_session_t *s) { return s->n_cached; }

static azc_status_t hist_insert(azc_chat_session_t *s, size_t at, const char *role,
                                const char *content, size_t len) {
  if (s->n_hist == s->cap_hist) {
    size_t cap = s->cap_hist ? 2 * s->cap_hist : 16;
    char **r = realloc(s->role, cap * sizeof(char *));
    if (r) s->role = r;
    char **c = r ? realloc(s->content, cap * sizeof(char *)) : NULL;
    if (c) s->content = c;
    azc_chat_message_t *v = c ? realloc(s->view, cap * sizeof(*v)) : NULL;
    if (!v) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat history");
    s->view = v;
    s->cap_hist = cap;
  }
  char *r = strdup(role), *c = malloc(len + 1);
  if (!r || !c) {
    free(r);
    free(c);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "chat history");
  }
  memcpy(c, content, len);
  c[len] = 0;
  memmove(s->role + at + 1, s->role + at, (s->n_hist - at) * sizeof(char *));
  memmove(s->content + at + 1, s->content + at, (s->n_hist - at) * sizeof(char *));
  s->role[at] = r;
  s->content[at] = c;
  s->n_hist++;
  return NULL;
}

azc_status_t azc_chat_session_set_system(azc_chat_session_t *s, const char *text) {
  if (s->n_hist && !strcmp(s->role[0], "system")) {
    char *c = strdup(text);
    if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat history");
    free(s->content[0]);
    s->content[0] = c;
    return NULL;
  }
  return hist_insert(s, 0, "system", text, strlen(text));
}

size_t azc_chat_session_history(const azc_chat_session_t *s, const azc_chat_message_t **msgs) {
  for (size_t i = 0; i < s->n_hist; i++)
    s->view[i] = (azc_chat_message_t){s->role[i], s->content[i]};
  *msgs = s->view;
  return s->n_hist;
}

size_t azc_chat_stop_scan(const char *const *stops, size_t n_stops, const char *text, size_t len,
                          bool *stopped) {
  *stopped = false;
  size_t first = len, hold = 0;
  for (size_t i = 0; i < n_stops; i++) {
    size_t n = strlen(stops[i]);
    if (!n) continue;
    const char *p = memmem(text, len, stops[i], n);
    if (p && (size_t)(p - text) < first) {
      first = (size_t)(p - text);
      *stopped = true;
    }
    /* the longest proper prefix of the stop that ends the text */
    for (size_t k = AZC_MIN(n - 1, len); k > hold; k--)
      if (!memcmp(text + len - k, stops[i], k)) {
        hold = k;
        break;
      }
  }
  if (*stopped) return first;
  return azc_utf8_complete_prefix(text, len - hold);
}

typedef struct text_buf {
  char *p;
  size_t len, cap, streamed;
  azc_utf8_stream_t w; /* what is streamed is valid UTF-8 (runtime/base/utf8.h) */
} text_buf_t;

static azc_status_t text_append(text_buf_t *t, const char *p, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1) cap *= 2;
    char *q = realloc(t->p, cap);
    if (!q) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat answer");
    t->p = q;
    t->cap = cap;
  }
  memcpy(t->p + t->len, p, n);
  t->len += n;
  t->p[t->len] = 0;
  return NULL;
}

static void stream_sink(void *user, const char *text, size_t n) {
  azc_chat_session_t *s = user;
  s->on_text(s->user, text, n);
}

/* Streams t->p[streamed..upto); `final` ends the answer's stream. */
static void emit(azc_chat_session_t *s, text_buf_t *t, size_t upto, bool final) {
  if (!s->on_text) return;
  if (upto > t->streamed) azc_utf8_stream_write(&t->w, t->p + t->streamed, upto - t->streamed);
  if (upto > t->streamed) t->streamed = upto;
  if (final) azc_utf8_stream_flush(&t->w);
}

static bool cancelled(const azc_chat_session_t *s) { return s->cancel && *s->cancel; }

azc_status_t azc_chat_session_set_drafter(azc_chat_session_t *s, azc_drafter_t *d,
                                          int32_t draft_max) {
  if (!d || draft_max <= 0) {
    s->drafter = NULL;
    return NULL;
  }
  draft_max = AZC_MIN(draft_max, s->ex->n_batch - 1);
  if (draft_max <= 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "chat: drafting needs steps of 2 tokens; the executor "
                                         "takes %d", s->ex->n_batch);
  float *lg = realloc(s->logits, (size_t)s->ex->n_vocab * (size_t)(1 + draft_max) * sizeof(float));
  if (!lg) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat: logits of %d draft rows", draft_max);
  s->logits = lg;
  if (!s->bo && !(s->bo = malloc((size_t)s->ex->n_batch * sizeof(int32_t))))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "chat: draft rows");
  s->drafter = d;
  s->draft_max = s->draft_len = draft_max;
  return NULL;
}

/* Evaluates toks[from..n) at their positions; logits of the last one. */
static azc_status_t prefill(azc_chat_session_t *s, const int32_t *toks, int32_t from, int32_t n,
                            bool *stopped) {
  *stopped = false;
  for (int32_t at = from; at < n;) {
    if (cancelled(s)) {
      *stopped = true;
      return NULL;
    }
    int32_t m = AZC_MIN(n - at, s->ex->n_batch);
    for (int32_t i = 0; i < m; i++) {
      s->bt[i] = toks[at + i];
      s->bp[i] = at + i;
      s->bs[i] = s->seq;
    }
    int32_t last = m - 1;
    azc_batch_t b = {m, s->bt, s->bp, s->bs, at + m == n ? 1 : 0, &last};
    /* the cache is valid only up to `at` while this chunk is written */
    s->n_cached = at;
    AZC_RETURN_IF_ERROR_CTX(azc_executor_forward(s->ex, &b, s->logits), "chat: prompt evaluation");
    memcpy(s->cached + at, toks + at, (size_t)m * sizeof(int32_t));
    at += m;
    s->n_cached = at;
  }
  return NULL;
}

/* The answer being generated (run_tokens). */
typedef struct gen_state {
  azc_chat_session_t *s;
  text_buf_t *t;
  const char **stops;
  size_t n_stops;
  int64_t n_predict;
  azc_chat_turn_t *out;
} gen_state_t;

/* A sampled token, to be placed at s->n_cached: true when the turn ends
 * with it (out->stop says why; *st set on failure). */
static bool take_token(gen_state_t *g, azc_sampler_t *sampler, int32_t tok, azc_status_t *st) {
  azc_chat_session_t *s = g->s;
  azc_chat_turn_t *out = g->out;
  out->n_generated++;
  if (azc_tokenizer_is_eog(s->tok, tok)) {
    out->stop = AZC_CHAT_STOP_EOG;
    return true;
  }
  azc_sampler_accept(sampler, tok);
  char piece[256];
  size_t pn = azc_tokenizer_token_to_piece(s->tok, tok, piece, sizeof(piece));
  if (pn > sizeof(piece)) pn = 0; /* no token of a real vocabulary is this long */
  if ((*st = text_append(g->t, piece, pn))) return true;
  bool hit;
  size_t safe = azc_chat_stop_scan(g->stops, g->n_stops, g->t->p, g->t->len, &hit);
  if (hit) {
    g->t->len = safe;
    g->t->p[safe] = 0;
    out->stop = AZC_CHAT_STOP_STRING;
    return true;
  }
  emit(s, g->t, safe, false);
  if (g->n_predict >= 0 && out->n_generated >= g->n_predict) {
    out->stop = AZC_CHAT_STOP_LENGTH;
    return true;
  }
  if (s->n_cached >= s->ex->n_ctx) {
    out->stop = AZC_CHAT_STOP_CONTEXT;
    return true;
  }
  if (cancelled(s)) {
    out->stop = AZC_CHAT_STOP_CANCELLED;
    return true;
  }
  return false;
}

/* Prefills what is new in toks[0..n), then generates the answer. */
static azc_status_t run_tokens(azc_chat_session_t *s, const int32_t *toks, int32_t n,
                               azc_chat_turn_t *out) {
  const int32_t n_ctx = s->ex->n_ctx;
  if (n <= 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "chat: the prompt is empty");
  if (n >= n_ctx)
    return AZC_ERR(AZC_OUT_OF_RANGE, "chat: the prompt has %d tokens; the context holds %d", n,
                   n_ctx);
  int32_t common = 0;
  while (common < n && common < s->n_cached && s->cached[common] == toks[common]) common++;
  if (common == n) common = n - 1; /* the last token is evaluated again for its logits */
  out->n_prompt = n;
  out->n_reused = common;
  out->n_prefilled = n - common;
  double t0 = azc_time_ms();
  bool stop = false;
  AZC_RETURN_IF_ERROR(prefill(s, toks, common, n, &stop));
  out->prompt_ms = azc_time_ms() - t0;
  text_buf_t t = {0};
  azc_utf8_stream_init(&t.w, stream_sink, s);
  azc_status_t st = text_append(&t, "", 0);
  if (stop) {
    out->stop = AZC_CHAT_STOP_CANCELLED;
    out->text = t.p;
    return st;
  }
  /* stop strings: the template's, then the options' */
  const char *stops[AZC_OPT_MAX_STOP + 8];
  const char *const *tstops;
  size_t n_stops = azc_chat_template_stops(s->tmpl, &tstops);
  if (n_stops > 8) n_stops = 8;
  memcpy(stops, tstops, n_stops * sizeof(char *));
  for (int i = 0; i < s->opts.n_stop; i++) stops[n_stops++] = s->opts.stop[i];
  azc_sampler_params_t sp = azc_options_sampler_params(&s->opts, n_ctx);
  azc_sampler_t *sampler = NULL;
  if (!st) st = azc_sampler_create(&sp, s->ex->n_vocab, &sampler);
  for (int32_t i = 0; !st && i < n; i++) azc_sampler_accept(sampler, toks[i]);
  int64_t n_predict = s->opts.v[AZC_OPT_NUM_PREDICT].i;
  double t1 = azc_time_ms();
  out->stop = AZC_CHAT_STOP_EOG;
  gen_state_t g = {s, &t, stops, n_stops, n_predict, out};
  int32_t tok = st ? 0 : azc_sampler_sample(sampler, s->logits);
  while (!st && !take_token(&g, sampler, tok, &st)) {
    /* tok goes on: evaluate it (at s->n_cached) with the drafts that follow it */
    int32_t nd = 0, n_ctx_left = n_ctx - 1 - s->n_cached;
    s->bt[0] = tok;
    if (s->drafter) {
      int64_t k = AZC_MIN(s->draft_len, n_ctx_left);
      if (n_predict >= 0) k = AZC_MIN(k, n_predict - out->n_generated - 1);
      s->cached[s->n_cached] = tok; /* the drafter reads the context with tok */
      if (k > 0 && (st = azc_drafter_draft(s->drafter, s->seq, s->cached, s->n_cached + 1,
                                           (int32_t)k, s->bt + 1, &nd)))
        break;
      for (int32_t j = 1; j <= nd; j++)
        if (s->bt[j] < 0 || s->bt[j] >= s->ex->n_vocab) {
          st = AZC_ERR(AZC_INTERNAL, "chat: the %s drafter proposed token %d; the vocabulary has %d",
                       s->drafter->ops->name, s->bt[j], s->ex->n_vocab);
          break;
        }
      if (st) break;
    }
    int32_t n_rows = 1 + nd, row0 = 0;
    for (int32_t j = 0; j < n_rows; j++) {
      s->bp[j] = s->n_cached + j;
      s->bs[j] = s->seq;
      if (s->bo) s->bo[j] = j;
    }
    azc_batch_t b = {n_rows, s->bt, s->bp, s->bs, n_rows, s->bo ? s->bo : &row0};
    if ((st = azc_executor_forward(s->ex, &b, s->logits))) {
      st = azc_status_wrap(st, "chat: generation");
      break;
    }
    out->n_passes++;
    out->n_drafted += nd;
    s->cached[s->n_cached++] = tok;
    /* row j's logits follow bt[j]: verify draft bt[j + 1], or sample after the last */
    bool stopped = false;
    int32_t j = 0;
    for (; j < nd; j++) {
      bool accepted = false;
      const float *lg = s->logits + (size_t)j * (size_t)s->ex->n_vocab;
      int32_t next = azc_sampler_verify(sampler, lg, s->bt[j + 1], NULL, &accepted);
      if (!accepted) {
        tok = next;
        break;
      }
      out->n_draft_accepted++;
      if ((stopped = take_token(&g, sampler, next, &st))) break;
      s->cached[s->n_cached++] = next; /* evaluated in this pass */
    }
    if (nd > 0) /* +2 after a pass that kept every draft, -1 after a rejection */
      s->draft_len = j == nd ? AZC_MIN(s->draft_len + 2, s->draft_max) : AZC_MAX(s->draft_len - 1, 1);
    if (stopped || st) break;
    if (j == nd) tok = azc_sampler_sample(sampler, s->logits + (size_t)nd * (size_t)s->ex->n_vocab);
  }
  azc_sampler_destroy(sampler);
  out->gen_ms = azc_time_ms() - t1;
  if (!st) emit(s, &t, t.len, true); /* the answer is final: a held-back tail is not a stop */
  if (st) {
    free(t.p);
    return st;
  }
  out->text = t.p;
  out->text_len = t.len;
  return NULL;
}

azc_status_t azc_chat_session_complete_raw(azc_chat_session_t *s, const char *prompt, size_t len,
                                           azc_chat_turn_t *out) {
  memset(out, 0, sizeof(*out));
  int32_t *toks = NULL;
  size_t n = 0;
  AZC_RETURN_IF_ERROR_CTX(azc_tokenizer_encode(s->tok, prompt, len, true, true, &toks, &n),
                          "chat: tokenizing the prompt");
  azc_status_t st = n > (size_t)INT32_MAX ? AZC_ERR(AZC_OUT_OF_RANGE, "chat: prompt too long")
                                          : run_tokens(s, toks, (int32_t)n, out);
  free(toks);
  return st;
}

azc_status_t azc_chat_session_complete(azc_chat_session_t *s, const azc_chat_message_t *conv,
                                       size_t n, azc_chat_turn_t *out) {
  memset(out, 0, sizeof(*out));
  azc_chat_message_t *msgs = NULL;
  size_t n_msgs = 0;
  AZC_RETURN_IF_ERROR(azc_chat_info_messages(s->ci, conv, n, &msgs, &n_msgs));
  azc_chat_message_t *use = malloc((n_msgs + 1) * sizeof(*use));
  azc_status_t st = use ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "chat messages");
  size_t sys = n_msgs && !strcmp(msgs[0].role, "system") ? 1 : 0;
  int32_t *toks = NULL;
  size_t n_toks = 0;
  char *prompt = NULL;
  for (size_t drop = 0; !st; drop++) {
    size_t k = 0;
    if (sys) use[k++] = msgs[0];
    for (size_t i = sys + drop; i < n_msgs; i++) use[k++] = msgs[i];
    char *text = NULL;
    size_t text_len = 0;
    st = azc_chat_template_apply(s->tmpl, use, k, true, &text, &text_len);
    free(toks);
    toks = NULL;
    if (!st)
      st = azc_status_wrap(azc_tokenizer_encode(s->tok, text, text_len, true, true, &toks, &n_toks),
                           "chat: tokenizing the conversation");
    if (st || (int64_t)n_toks < s->ex->n_ctx) {
      out->n_dropped = (int32_t)drop;
      prompt = st ? NULL : text;
      if (st) free(text);
      break;
    }
    free(text);
    if (sys + drop + 1 >= n_msgs) /* only the last message is left, and it does not fit */
      st = AZC_ERR(AZC_OUT_OF_RANGE,
                   "chat: the last message needs %zu tokens with the template; the context holds "
                   "%d",
                   n_toks, s->ex->n_ctx);
  }
  int32_t dropped = out->n_dropped;
  if (!st) st = run_tokens(s, toks, (int32_t)n_toks, out);
  out->n_dropped = dropped;
  if (!st) out->prompt = prompt;
  else free(prompt);
  free(toks);
  free(use);
  free(msgs);
  return st;
}

azc_status_t azc_chat_session_say(azc_chat_session_t *s, const char *user_text,
                                  azc_chat_turn_t *out) {
  memset(out, 0, sizeof(*out));
  AZC_RETURN_IF_ERROR(hist_insert(s, s->n_hist, "user", user_text, strlen(user_text)));
  const azc_chat_message_t *h;
  size_t n = azc_chat_session_history(s, &h);
  azc_status_t st = azc_chat_session_complete(s, h, n, out);
  bool nothing = !st && out->stop == AZC_CHAT_STOP_CANCELLED && !out->text_len;
  if (!st && !nothing) st = hist_insert(s, s->n_hist, "assistant", out->text, out->text_len);
  if (nothing) { /* cancelled before the answer began: the turn did not happen */
    s->n_hist--;
    free(s->role[s->n_hist]);
    free(s->content[s->n_hist]);
  }
  if (st) { /* the turn did not happen: the user message goes again */
    s->n_hist--;
    free(s->role[s->n_hist]);
    free(s->content[s->n_hist]);
    azc_chat_turn_free(out);
  }
  return st;
}
