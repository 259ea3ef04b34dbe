/* The generate loop (see generate.h). Prefill packs the prompt tokens of all
 * sequences into forward calls of at most n_batch tokens, asking for logits
 * only at each sequence's last prompt token; decode then advances every live
 * sequence by one token per forward call, so B sequences share one pass over
 * the weights. With a drafter, each sequence's drafts ride in the same call
 * (its pending token at n_past, the drafts after it, logits for every row);
 * its rows are then checked in order and the first rejection ends its step.
 * The drafter sees the whole context (prompt and generated tokens) kept per
 * sequence in `hist`. */
#include "runtime/generate.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/base/utf8.h"
#include "runtime/base/util.h"

azc_generate_params_t azc_generate_params_default(void) {
  azc_generate_params_t p;
  memset(&p, 0, sizeof(p));
  p.n_predict = 128;
  p.sampling = azc_sampler_params_default();
  p.add_special = true;
  p.draft_max = 8;
  return p;
}

size_t azc_utf8_complete_prefix(const char *s, size_t n) {
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    size_t len;
    uint32_t cp;
    if (azc_utf8_next((const unsigned char *)s + n - back, back, &len, &cp) ==
            AZC_UTF8_INCOMPLETE &&
        len == back)
      return n - back;
  }
  return n;
}

typedef struct seq_state {
  azc_generate_result_t *res;
  azc_sampler_t *sampler;
  int32_t n_past;  /* tokens in the kv cache */
  int32_t pending; /* sampled, not yet evaluated */
  int32_t *hist;   /* prompt tokens, then generated ones (pending last) */
  size_t n_hist, cap_hist;
  int32_t draft_len; /* tokens to draft next pass (adapts, at most draft_max) */
  bool done;
  size_t cap_tokens, cap_text;
  size_t streamed;        /* bytes of res->text already given to the writer */
  azc_utf8_stream_t text; /* streams valid UTF-8 to params->on_text */
  const azc_generate_params_t *params;
  int32_t seq;
} seq_state_t;

static azc_status_t append_text(seq_state_t *s, const char *p, size_t n) {
  azc_generate_result_t *r = s->res;
  if (r->text_len + n + 1 > s->cap_text) {
    size_t cap = s->cap_text ? s->cap_text : 256;
    while (cap < r->text_len + n + 1) cap *= 2;
    char *t = realloc(r->text, cap);
    if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "generated text");
    r->text = t;
    s->cap_text = cap;
  }
  memcpy(r->text + r->text_len, p, n);
  r->text_len += n;
  r->text[r->text_len] = 0;
  return NULL;
}

static void stream_sink(void *user, const char *text, size_t n) {
  seq_state_t *s = user;
  s->params->on_text(s->params->user, s->seq, text, n);
}

/* Streams the text generated since the last call; `flush` ends the stream. */
static void stream(seq_state_t *s, const azc_generate_params_t *p, bool flush) {
  if (!p->on_text) return;
  azc_generate_result_t *r = s->res;
  azc_utf8_stream_write(&s->text, r->text + s->streamed, r->text_len - s->streamed);
  s->streamed = r->text_len;
  if (flush) azc_utf8_stream_flush(&s->text);
}

/* Records a sampled token; decides whether the sequence goes on. */
static azc_status_t accept_token(seq_state_t *s, int32_t tok, const azc_tokenizer_t *tk,
                                 const azc_generate_params_t *p, int32_t n_ctx) {
  azc_generate_result_t *r = s->res;
  if (!p->ignore_eos && azc_tokenizer_is_eog(tk, tok)) {
    s->done = true;
    r->stop = AZC_STOP_EOS;
    return NULL;
  }
  if (r->n_tokens == s->cap_tokens) {
    size_t cap = s->cap_tokens ? s->cap_tokens * 2 : 64;
    int32_t *t = realloc(r->tokens, cap * sizeof(int32_t));
    if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "generated tokens");
    r->tokens = t;
    s->cap_tokens = cap;
  }
  r->tokens[r->n_tokens++] = tok;
  if (s->n_hist == s->cap_hist) {
    size_t cap = s->cap_hist * 2 + 64;
    int32_t *h = realloc(s->hist, cap * sizeof(int32_t));
    if (!h) return AZC_ERR(AZC_OUT_OF_MEMORY, "token history");
    s->hist = h;
    s->cap_hist = cap;
  }
  s->hist[s->n_hist++] = tok;
  azc_sampler_accept(s->sampler, tok);
  char piece[256];
  size_t n = azc_tokenizer_token_to_piece(tk, tok, piece, sizeof(piece));
  if (n > sizeof(piece)) {
    char *big = malloc(n);
    if (!big) return AZC_ERR(AZC_OUT_OF_MEMORY, "token text");
    azc_tokenizer_token_to_piece(tk, tok, big, n);
    azc_status_t st = append_text(s, big, n);
    free(big);
    AZC_RETURN_IF_ERROR(st);
  } else {
    AZC_RETURN_IF_ERROR(append_text(s, piece, n));
  }
  stream(s, p, false);
  s->pending = tok;
  if (p->n_predict >= 0 && (int64_t)r->n_tokens >= p->n_predict) {
    s->done = true;
    r->stop = AZC_STOP_LENGTH;
  } else if (s->n_past >= n_ctx) {
    s->done = true;
    r->stop = AZC_STOP_CONTEXT;
  }
  return NULL;
}

static azc_status_t run(azc_executor_t *ex, const azc_tokenizer_t *tk, const char *const *prompts,
                        const size_t *lens, int32_t n_prompts, const azc_generate_params_t *p,
                        azc_generate_result_t *results, seq_state_t *st, int32_t *bt, int32_t *bp,
                        int32_t *bs, int32_t *bo, int32_t *bo_seq, float *logits,
                        azc_generate_timings_t *tm) {
  const int32_t n_vocab = ex->n_vocab;
  for (int32_t i = 0; i < n_prompts; i++) {
    azc_generate_result_t *r = &results[i];
    AZC_RETURN_IF_ERROR_CTX(azc_tokenizer_encode(tk, prompts[i], lens[i], p->add_special,
                                                 p->parse_special, &r->prompt_tokens, &r->n_prompt),
                            "tokenizing prompt %d", i);
    if (r->n_prompt == 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "prompt %d is empty", i);
    if ((int64_t)r->n_prompt >= ex->n_ctx)
      return AZC_ERR(AZC_OUT_OF_RANGE, "prompt %d has %zu tokens; the context holds %d", i,
                     r->n_prompt, ex->n_ctx);
    for (size_t k = 0; k < r->n_prompt; k++)
      if (r->prompt_tokens[k] < 0 || r->prompt_tokens[k] >= n_vocab)
        return AZC_ERR(AZC_CORRUPT, "prompt %d: token %d outside the model's vocabulary of %d", i,
                       r->prompt_tokens[k], n_vocab);
    azc_sampler_params_t sp = p->sampling;
    if (sp.seed != AZC_SEED_RANDOM) sp.seed += (uint64_t)i;
    AZC_RETURN_IF_ERROR(azc_sampler_create(&sp, n_vocab, &st[i].sampler));
    for (size_t k = 0; k < r->n_prompt; k++) azc_sampler_accept(st[i].sampler, r->prompt_tokens[k]);
    st[i].res = r;
    st[i].hist = malloc(r->n_prompt * sizeof(int32_t));
    if (!st[i].hist) return AZC_ERR(AZC_OUT_OF_MEMORY, "token history");
    memcpy(st[i].hist, r->prompt_tokens, r->n_prompt * sizeof(int32_t));
    st[i].n_hist = st[i].cap_hist = r->n_prompt;
    st[i].params = p;
    st[i].seq = i;
    azc_utf8_stream_init(&st[i].text, stream_sink, &st[i]);
    r->text = calloc(1, 1);
    if (!r->text) return AZC_ERR(AZC_OUT_OF_MEMORY, "generated text");
    st[i].cap_text = 1;
  }

  /* prefill: walk all prompt tokens, sequence by sequence, in chunks */
  int32_t seq_i = 0;
  size_t tok_i = 0;
  while (seq_i < n_prompts) {
    int32_t n = 0, n_out = 0;
    while (n < ex->n_batch && seq_i < n_prompts) {
      azc_generate_result_t *r = &results[seq_i];
      bt[n] = r->prompt_tokens[tok_i];
      bp[n] = (int32_t)tok_i;
      bs[n] = seq_i;
      if (tok_i + 1 == r->n_prompt) {
        bo[n_out] = n;
        bo_seq[n_out++] = seq_i;
      }
      n++;
      if (++tok_i == r->n_prompt) {
        seq_i++;
        tok_i = 0;
      }
    }
    azc_batch_t b = {n, bt, bp, bs, n_out, bo};
    double t0 = azc_time_ms();
    AZC_RETURN_IF_ERROR_CTX(azc_executor_forward(ex, &b, logits), "prompt evaluation");
    tm->prompt_ms += azc_time_ms() - t0;
    tm->prompt_tokens += n;
    for (int32_t o = 0; o < n_out; o++) {
      int32_t s = bo_seq[o];
      const float *row = logits + (size_t)o * (size_t)n_vocab;
      if (s == 0 && p->prompt_logits)
        memcpy(p->prompt_logits, row, (size_t)n_vocab * sizeof(float));
      st[s].n_past = (int32_t)results[s].n_prompt;
      double ts = azc_time_ms();
      int32_t tok = azc_sampler_sample(st[s].sampler, row);
      tm->sample_ms += azc_time_ms() - ts;
      if (p->n_predict == 0) {
        st[s].done = true;
        results[s].stop = AZC_STOP_LENGTH;
        continue;
      }
      AZC_RETURN_IF_ERROR(accept_token(&st[s], tok, tk, p, ex->n_ctx));
    }
  }

  /* decode: per live sequence per step, its pending token and its drafts */
  int32_t n_live = 0;
  for (int32_t s = 0; s < n_prompts; s++) {
    n_live += !st[s].done;
    st[s].draft_len = p->draft_max;
  }
  for (;;) {
    int32_t n = 0, n_seqs = 0;
    double td = azc_time_ms();
    for (int32_t s = 0; s < n_prompts; s++) {
      if (st[s].done) continue;
      int32_t first = n;
      bt[n] = st[s].pending;
      bp[n] = st[s].n_past;
      bs[n] = s;
      n++;
      if (p->drafter && p->draft_max > 0) {
        /* drafts fit the batch (a slot kept for each live sequence after
         * this one), the context and what is left to generate */
        int32_t room = ex->n_batch - n - (n_live - n_seqs - 1);
        int64_t k = AZC_MIN((int64_t)st[s].draft_len, (int64_t)room);
        k = AZC_MIN(k, (int64_t)ex->n_ctx - 1 - st[s].n_past);
        if (p->n_predict >= 0)
          k = AZC_MIN(k, (int64_t)p->n_predict - (int64_t)st[s].res->n_tokens - 1);
        int32_t nd = 0;
        AZC_RETURN_IF_ERROR(azc_drafter_draft(p->drafter, s, st[s].hist, (int32_t)st[s].n_hist,
                                              (int32_t)AZC_MAX(k, 0), bt + n, &nd));
        for (int32_t j = 0; j < nd; j++) {
          if (bt[n + j] < 0 || bt[n + j] >= n_vocab)
            return AZC_ERR(AZC_INTERNAL, "%s drafter proposed token %d; the vocabulary has %d",
                           p->drafter->ops->name, bt[n + j], n_vocab);
          bp[n + j] = st[s].n_past + 1 + j;
          bs[n + j] = s;
        }
        n += nd;
        tm->drafted += nd;
      }
      for (int32_t j = first; j < n; j++) bo[j] = j;
      bo_seq[n_seqs++] = s;
    }
    if (n == 0) break;
    azc_batch_t b = {n, bt, bp, bs, n, bo};
    double t0 = azc_time_ms();
    tm->draft_ms += t0 - td;
    AZC_RETURN_IF_ERROR_CTX(azc_executor_forward(ex, &b, logits), "generation");
    double t1 = azc_time_ms();
    int32_t row = 0;
    for (int32_t q = 0; q < n_seqs; q++) {
      int32_t s = bo_seq[q], end = row;
      while (end < n && bs[end] == s) end++;
      for (int32_t j = row; j < end; j++) { /* row j holds token bt[j]; j + 1 its successor */
        const float *lg = logits + (size_t)j * (size_t)n_vocab;
        st[s].n_past++;
        bool accepted = false;
        int32_t tok = j + 1 < end
                          ? azc_sampler_verify(st[s].sampler, lg, bt[j + 1], NULL, &accepted)
                          : azc_sampler_sample(st[s].sampler, lg);
        tm->gen_tokens++;
        tm->draft_accepted += accepted;
        AZC_RETURN_IF_ERROR(accept_token(&st[s], tok, tk, p, ex->n_ctx));
        if (st[s].done || !accepted) break;
      }
      /* draft length: +2 after a pass that kept every draft, -1 after one
       * that rejected (Hugging Face's assisted generation schedule) */
      int32_t n_drafted = end - row - 1;
      if (n_drafted > 0) {
        bool all = st[s].n_past == bp[row] + 1 + n_drafted;
        st[s].draft_len =
            all ? AZC_MIN(st[s].draft_len + 2, p->draft_max) : AZC_MAX(st[s].draft_len - 1, 1);
      }
      tm->draft_passes++;
      n_live -= st[s].done;
      row = end;
    }
    double t2 = azc_time_ms();
    tm->gen_ms += t2 - td;
    tm->sample_ms += t2 - t1;
  }
  for (int32_t s = 0; s < n_prompts; s++) stream(&st[s], p, true);
  return NULL;
}

azc_status_t azc_generate(azc_executor_t *ex, const azc_tokenizer_t *tok,
                          const char *const *prompts, const size_t *prompt_lens, int32_t n_prompts,
                          const azc_generate_params_t *params, azc_generate_result_t *results,
                          azc_generate_timings_t *timings) {
  memset(results, 0, sizeof(*results) * (size_t)(n_prompts > 0 ? n_prompts : 0));
  memset(timings, 0, sizeof(*timings));
  if (n_prompts <= 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "no prompts");
  if (n_prompts > ex->n_seq)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%d prompts, but the executor holds %d sequences",
                   n_prompts, ex->n_seq);
  if (azc_tokenizer_n_vocab(tok) > ex->n_vocab)
    return AZC_ERR(AZC_CORRUPT, "tokenizer has %d tokens, model output %d",
                   azc_tokenizer_n_vocab(tok), ex->n_vocab);
  size_t nb = (size_t)(ex->n_batch > n_prompts ? ex->n_batch : n_prompts);
  seq_state_t *st = calloc((size_t)n_prompts, sizeof(*st));
  int32_t *ints = malloc(nb * 5 * sizeof(int32_t));
  size_t rows = (size_t)n_prompts; /* logits rows: one per sequence, or its step's rows */
  if (params->drafter && params->draft_max > 0)
    rows = AZC_MIN(nb, (size_t)n_prompts * (1 + (size_t)params->draft_max));
  float *logits = malloc(rows * (size_t)ex->n_vocab * sizeof(float));
  azc_status_t s = NULL;
  if (!st || !ints || !logits) s = AZC_ERR(AZC_OUT_OF_MEMORY, "generate buffers");
  if (!s)
    s = run(ex, tok, prompts, prompt_lens, n_prompts, params, results, st, ints, ints + nb,
            ints + 2 * nb, ints + 3 * nb, ints + 4 * nb, logits, timings);
  for (int32_t i = 0; st && i < n_prompts; i++) {
    azc_sampler_destroy(st[i].sampler);
    free(st[i].hist);
  }
  free(st);
  free(ints);
  free(logits);
  if (s)
    for (int32_t i = 0; i < n_prompts; i++) azc_generate_result_free(&results[i]);
  return s;
}

void azc_generate_result_free(azc_generate_result_t *r) {
  free(r->prompt_tokens);
  free(r->tokens);
  free(r->text);
  memset(r, 0, sizeof(*r));
}
