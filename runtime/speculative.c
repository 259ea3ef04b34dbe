/* Drafters for speculative decoding (see speculative.h).
 *
 * The lookup search is a backwards scan for each n-gram length, O(n_ctx *
 * ngram) per draft: a few thousand comparisons against a forward pass of
 * millions of multiply-adds, so no index is kept. When the match is recent
 * (the text repeats with a period shorter than n_max) the copy runs on into
 * the tokens it has just proposed, continuing the period.
 *
 * The model drafter's rollback needs no cache surgery: the KV cache is
 * indexed by position and attention reads positions 0..pos only, so rows
 * past the shared prefix are simply written over by the next evaluation. */
#include "runtime/speculative.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/util.h"

azc_lookup_params_t azc_lookup_params_default(void) {
  return (azc_lookup_params_t){.ngram_max = 3, .ngram_min = 2};
}

int32_t azc_lookup_find(const azc_lookup_params_t *p, const int32_t *ctx, int32_t n_ctx,
                        int32_t n_max, int32_t *out) {
  if (n_max <= 0) return 0;
  for (int32_t g = p->ngram_max; g >= p->ngram_min && g >= 1; g--) {
    if (n_ctx < g + 1) continue;
    const int32_t *suffix = ctx + n_ctx - g;
    for (int32_t i = n_ctx - g - 1; i >= 0; i--) {
      if (memcmp(ctx + i, suffix, (size_t)g * sizeof(int32_t))) continue;
      /* ctx[i..i+g) matches the suffix; propose what followed it */
      for (int32_t j = 0; j < n_max; j++) {
        int32_t src = i + g + j; /* < n_ctx + j: past the context, a token just proposed */
        out[j] = src < n_ctx ? ctx[src] : out[src - n_ctx];
      }
      return n_max;
    }
  }
  return 0;
}

/* ---- lookup ---- */

typedef struct lookup {
  azc_drafter_t base;
  azc_lookup_params_t params;
} lookup_t;

static azc_status_t lookup_draft(azc_drafter_t *d, int32_t seq, const int32_t *ctx, int32_t n_ctx,
                                 int32_t n_max, int32_t *out, int32_t *n_out) {
  (void)seq;
  *n_out = azc_lookup_find(&((lookup_t *)d)->params, ctx, n_ctx, n_max, out);
  return NULL;
}

static void lookup_destroy(azc_drafter_t *d) { free(d); }

static const azc_drafter_ops_t lookup_ops = {"lookup", lookup_draft, lookup_destroy};

azc_status_t azc_drafter_lookup_create(const azc_lookup_params_t *params, azc_drafter_t **out) {
  *out = NULL;
  if (params->ngram_min < 1 || params->ngram_max < params->ngram_min || params->ngram_max > 64)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "lookup drafter: n-gram sizes %d..%d, expected 1 <= min <= max <= 64",
                   params->ngram_min, params->ngram_max);
  lookup_t *l = calloc(1, sizeof(*l));
  if (!l) return AZC_ERR(AZC_OUT_OF_MEMORY, "lookup drafter");
  l->base.ops = &lookup_ops;
  l->params = *params;
  *out = &l->base;
  return NULL;
}

/* ---- draft model ---- */

typedef struct model_seq {
  int32_t *tokens; /* (n_ctx) the tokens the draft's KV cache holds, positions 0..n */
  int32_t n;
} model_seq_t;

typedef struct model_drafter {
  azc_drafter_t base;
  azc_executor_t *ex;
  model_seq_t *seqs;        /* (n_seq) */
  float *logits;            /* (n_vocab) */
  int32_t *tok, *pos, *seq; /* (n_batch) */
} model_drafter_t;

/* The first maximum (lowest id); NaN reads as -inf. */
static int32_t argmax(const float *x, int32_t n) {
  int32_t best = 0;
  float bv = isnan(x[0]) ? -INFINITY : x[0];
  for (int32_t i = 1; i < n; i++)
    if (x[i] > bv) bv = x[i], best = i;
  return best;
}

static azc_status_t model_draft(azc_drafter_t *d, int32_t seq, const int32_t *ctx, int32_t n_ctx,
                                int32_t n_max, int32_t *out, int32_t *n_out) {
  model_drafter_t *m = (model_drafter_t *)d;
  azc_executor_t *ex = m->ex;
  model_seq_t *s = &m->seqs[seq];
  *n_out = 0;
  /* ctx at 0..n_ctx-1, then drafts 1..n_max-1 evaluated at n_ctx.. */
  n_max = AZC_MIN(n_max, ex->n_ctx - n_ctx + 1);
  if (n_max <= 0 || n_ctx <= 0) return NULL;
  int32_t keep = 0;
  while (keep < s->n && keep < n_ctx - 1 && s->tokens[keep] == ctx[keep]) keep++;
  s->n = keep; /* roll back: what follows is rewritten */
  int32_t last = 0;
  while (s->n < n_ctx) {
    int32_t n = AZC_MIN(ex->n_batch, n_ctx - s->n);
    for (int32_t i = 0; i < n; i++) {
      m->tok[i] = ctx[s->n + i];
      m->pos[i] = s->n + i;
      m->seq[i] = seq;
    }
    last = n - 1;
    azc_batch_t b = {n, m->tok, m->pos, m->seq, 1, &last};
    AZC_RETURN_IF_ERROR_CTX(azc_executor_forward(ex, &b, m->logits), "draft model: context");
    memcpy(s->tokens + s->n, ctx + s->n, (size_t)n * sizeof(int32_t));
    s->n += n;
  }
  out[0] = argmax(m->logits, ex->n_vocab);
  for (int32_t k = 1; k < n_max; k++) {
    m->tok[0] = out[k - 1];
    m->pos[0] = s->n;
    m->seq[0] = seq;
    last = 0;
    azc_batch_t b = {1, m->tok, m->pos, m->seq, 1, &last};
    AZC_RETURN_IF_ERROR_CTX(azc_executor_forward(ex, &b, m->logits), "draft model: drafting");
    s->tokens[s->n++] = out[k - 1];
    out[k] = argmax(m->logits, ex->n_vocab);
  }
  *n_out = n_max;
  return NULL;
}

static void model_destroy(azc_drafter_t *d) {
  model_drafter_t *m = (model_drafter_t *)d;
  for (int32_t i = 0; m->seqs && i < m->ex->n_seq; i++) free(m->seqs[i].tokens);
  free(m->seqs);
  free(m->logits);
  free(m->tok);
  free(m->pos);
  free(m->seq);
  free(m);
}

static const azc_drafter_ops_t model_ops = {"model", model_draft, model_destroy};

azc_status_t azc_drafter_model_create(azc_executor_t *draft, azc_drafter_t **out) {
  *out = NULL;
  model_drafter_t *m = calloc(1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "draft model");
  m->base.ops = &model_ops;
  m->ex = draft;
  size_t nb = (size_t)AZC_MAX(draft->n_batch, 1);
  m->seqs = calloc((size_t)draft->n_seq, sizeof(*m->seqs));
  m->logits = malloc((size_t)draft->n_vocab * sizeof(float));
  m->tok = malloc(nb * sizeof(int32_t));
  m->pos = malloc(nb * sizeof(int32_t));
  m->seq = malloc(nb * sizeof(int32_t));
  bool ok = m->seqs && m->logits && m->tok && m->pos && m->seq;
  for (int32_t i = 0; ok && i < draft->n_seq; i++) {
    m->seqs[i].tokens = malloc((size_t)draft->n_ctx * sizeof(int32_t));
    ok = m->seqs[i].tokens != NULL;
  }
  if (!ok) {
    model_destroy(&m->base);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "draft model: buffers for %d sequences of %d positions",
                   draft->n_seq, draft->n_ctx);
  }
  *out = &m->base;
  return NULL;
}

/* ---- common ---- */

azc_status_t azc_drafter_draft(azc_drafter_t *d, int32_t seq, const int32_t *ctx, int32_t n_ctx,
                               int32_t n_max, int32_t *out, int32_t *n_out) {
  *n_out = 0;
  if (n_max <= 0) return NULL;
  if (d->ops == &model_ops && (seq < 0 || seq >= ((model_drafter_t *)d)->ex->n_seq))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "draft model: sequence %d, the draft executor holds %d",
                   seq, ((model_drafter_t *)d)->ex->n_seq);
  int32_t n = 0;
  AZC_RETURN_IF_ERROR_CTX(d->ops->draft(d, seq, ctx, n_ctx, n_max, out, &n), "%s drafter",
                          d->ops->name);
  if (n < 0 || n > n_max)
    return AZC_ERR(AZC_INTERNAL, "%s drafter proposed %d tokens, at most %d were asked for",
                   d->ops->name, n, n_max);
  *n_out = n;
  return NULL;
}

void azc_drafter_destroy(azc_drafter_t *d) {
  if (d) d->ops->destroy(d);
}
