/* Token sampling, in llama.cpp's order: penalties over the last N tokens
 * (repeat, frequency, presence), top-k, typical-p, top-p, min-p,
 * temperature, then a draw from the remaining distribution with a seeded
 * generator (same seed, same tokens). Temperature <= 0 means greedy (argmax
 * after penalties). */
#ifndef AZC_RUNTIME_SAMPLER_H
#define AZC_RUNTIME_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/status.h"

typedef struct azc_sampler_params {
  float temperature;       /* 0.8; <= 0: greedy */
  int32_t top_k;           /* 50; <= 0: off */
  float top_p;             /* 0.9; >= 1: off */
  float min_p;             /* 0.0; <= 0: off */
  float repeat_penalty;    /* 1.0 = off */
  int32_t repeat_last_n;   /* 64 */
  float typical_p;         /* 1.0; >= 1: off */
  float presence_penalty;  /* 0.0: subtracted once from each token in the window */
  float frequency_penalty; /* 0.0: subtracted once per occurrence in the window */
  uint64_t seed;           /* AZC_SEED_RANDOM: pick one from the clock */
} azc_sampler_params_t;

#define AZC_SEED_RANDOM UINT64_MAX

azc_sampler_params_t azc_sampler_params_default(void);

typedef struct azc_sampler azc_sampler_t;

azc_status_t azc_sampler_create(const azc_sampler_params_t *params, int32_t n_vocab,
                                azc_sampler_t **out);
void azc_sampler_destroy(azc_sampler_t *s);
/* Picks a token from logits[0..n_vocab). Does not modify logits and does not
 * record the token: call azc_sampler_accept for that. */
int32_t azc_sampler_sample(azc_sampler_t *s, const float *logits);
/* Speculative decoding's acceptance rule (Leviathan et al. 2023; Chen et al.
 * 2023). logits are the target model's at a position whose token a drafter
 * proposed as `draft`, drawn from draft_probs (n_vocab floats; NULL: the
 * drafter is deterministic, its distribution is all on `draft`). With p the
 * distribution azc_sampler_sample draws from (penalties, filters,
 * temperature), the draft is accepted with probability min(1, p/q); if not,
 * the token is drawn from max(0, p - q), renormalized. Either way the token
 * returned is distributed as p, so drafting changes no distribution (it does
 * change which random numbers are used: the same seed gives other tokens
 * than plain sampling). Greedy: the argmax, accepted when it is the draft.
 * Like azc_sampler_sample, records nothing. */
int32_t azc_sampler_verify(azc_sampler_t *s, const float *logits, int32_t draft,
                           const float *draft_probs, bool *accepted);
/* Records a token (prompt or generated) in the repeat-penalty history. */
void azc_sampler_accept(azc_sampler_t *s, int32_t token);
void azc_sampler_reset(azc_sampler_t *s);
/* The seed actually used (resolved when AZC_SEED_RANDOM was asked for). */
uint64_t azc_sampler_seed(const azc_sampler_t *s);

#endif
