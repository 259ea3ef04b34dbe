/* Drafters for speculative decoding. Decode reads every weight once per
 * step, so one token per step sits at the memory roofline; a drafter guesses
 * the next few tokens cheaply, the target model checks them all in one
 * batched pass (the generate loop, with azc_sampler_verify's acceptance
 * rule), and every accepted guess is a token that cost no pass of its own.
 *
 * Two drafters:
 *  - lookup (prompt lookup, n-gram): finds the latest earlier occurrence of
 *    the context's last n tokens (n = ngram_max down to ngram_min) and
 *    proposes the tokens that followed it. No model, no state; it proposes
 *    nothing when nothing matches, so text that does not repeat runs as
 *    plain decoding.
 *  - model: a smaller model with the same vocabulary, run greedily through
 *    its own executor and KV cache. It keeps, per sequence, the tokens its
 *    cache holds; before drafting it keeps only the prefix they share with
 *    the context (rolling back what the target rejected), evaluates the rest
 *    in one call, then decodes n tokens one by one.
 * Both are deterministic functions of the context (their proposal
 * distribution is all on the token they propose), which is what
 * azc_sampler_verify's draft_probs = NULL means. */
#ifndef AZC_RUNTIME_SPECULATIVE_H
#define AZC_RUNTIME_SPECULATIVE_H

#include <stdint.h>

#include "runtime/executor.h"

typedef struct azc_drafter azc_drafter_t;

typedef struct azc_drafter_ops {
  const char *name; /* "lookup", "model" */
  /* Proposes up to n_max tokens to follow ctx[0..n_ctx) of sequence seq;
   * writes them to out and their count to *n_out (0 is fine). */
  azc_status_t (*draft)(azc_drafter_t *d, int32_t seq, const int32_t *ctx, int32_t n_ctx,
                        int32_t n_max, int32_t *out, int32_t *n_out);
  void (*destroy)(azc_drafter_t *d);
} azc_drafter_ops_t;

struct azc_drafter {
  const azc_drafter_ops_t *ops;
};

typedef struct azc_lookup_params {
  int32_t ngram_max; /* 3: the longest suffix of the context looked for */
  int32_t ngram_min; /* 2: the shortest */
} azc_lookup_params_t;

azc_lookup_params_t azc_lookup_params_default(void);
azc_status_t azc_drafter_lookup_create(const azc_lookup_params_t *params, azc_drafter_t **out);

/* draft is borrowed (it must outlive the drafter) and owned by the drafter
 * while it drafts: nothing else may run it. Its n_seq and n_ctx bound the
 * sequences and context it can draft for (beyond n_ctx it proposes nothing). */
azc_status_t azc_drafter_model_create(azc_executor_t *draft, azc_drafter_t **out);

/* Calls d->ops->draft, checking the arguments and the tokens it returns. */
azc_status_t azc_drafter_draft(azc_drafter_t *d, int32_t seq, const int32_t *ctx, int32_t n_ctx,
                               int32_t n_max, int32_t *out, int32_t *n_out);
void azc_drafter_destroy(azc_drafter_t *d);

/* The lookup drafter's search, exposed for tests: proposes up to n_max tokens
 * for ctx[0..n_ctx); returns how many it wrote. */
int32_t azc_lookup_find(const azc_lookup_params_t *p, const int32_t *ctx, int32_t n_ctx,
                        int32_t n_max, int32_t *out);

#endif
