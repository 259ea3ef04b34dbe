/* The generate loop, shared by eager and compiled execution: tokenize the
 * prompts, prefill them (in chunks of the executor's batch size, several
 * prompts in one forward call when batched), then decode one token per live
 * sequence per step, sampling each, until end-of-generation, n_predict tokens
 * or a full context. Generated text can be streamed as it is produced (whole
 * UTF-8 characters only). With a drafter (speculative decoding), a decode
 * step evaluates each sequence's pending token and up to draft_max drafted
 * tokens in one batched pass, and keeps the drafts the sampler's acceptance
 * rule accepts plus one token of its own: greedy output is byte-identical to
 * plain decoding (the kernels are batch-invariant: a row's logits do not
 * depend on the other rows in its step), sampled output keeps its
 * distribution. Rejected drafts' KV rows need no rollback: they sit past the
 * sequence's length and the next pass writes over them. Timings follow llama.cpp's split: prompt
 * evaluation and generation. */
#ifndef AZC_RUNTIME_GENERATE_H
#define AZC_RUNTIME_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/executor.h"
#include "runtime/sampler.h"
#include "runtime/speculative.h"
#include "runtime/tokenizer.h"

typedef struct azc_generate_params {
  int32_t n_predict; /* tokens to generate per prompt; < 0: until EOS or the context is full */
  azc_sampler_params_t sampling;
  bool add_special;   /* add BOS/EOS as the model's metadata says (default true) */
  bool parse_special; /* spellings of control tokens in the prompt become those tokens */
  bool ignore_eos;
  /* streaming: called with the text of sequence `seq` as it is generated, as valid
     UTF-8 (runtime/base/utf8.h: an incomplete sequence is held back until it completes,
     ill-formed bytes become U+FFFD); result.text keeps the raw bytes */
  void (*on_text)(void *user, int32_t seq, const char *text, size_t len);
  void *user;
  /* speculative decoding: NULL = plain decoding; borrowed */
  azc_drafter_t *drafter;
  /* most tokens drafted per sequence per pass (default 8); each sequence's
   * draft length starts there, grows by 2 after a pass that kept every
   * draft and shrinks by 1 after one that rejected one (down to 1) */
  int32_t draft_max;
  /* when set, receives the logits at the last prompt position of prompt 0 (n_vocab floats) */
  float *prompt_logits;
} azc_generate_params_t;

azc_generate_params_t azc_generate_params_default(void);

typedef enum azc_stop_reason {
  AZC_STOP_EOS = 0,
  AZC_STOP_LENGTH = 1,  /* n_predict reached */
  AZC_STOP_CONTEXT = 2, /* the context is full */
} azc_stop_reason_t;

typedef struct azc_generate_result {
  int32_t *prompt_tokens;
  size_t n_prompt;
  int32_t *tokens; /* generated */
  size_t n_tokens;
  char *text; /* generated text, NUL-terminated */
  size_t text_len;
  azc_stop_reason_t stop;
} azc_generate_result_t;

typedef struct azc_generate_timings {
  double prompt_ms; /* prefill forward calls */
  int64_t prompt_tokens;
  double gen_ms;      /* decode forward calls and sampling */
  int64_t gen_tokens; /* tokens produced by decode forward calls */
  double sample_ms;
  /* speculative decoding */
  int64_t draft_passes;   /* decode passes over one sequence (also without a drafter) */
  double draft_ms;        /* in the drafter (part of gen_ms) */
  int64_t drafted;        /* tokens proposed */
  int64_t draft_accepted; /* of those, accepted */
} azc_generate_timings_t;

/* Runs n_prompts prompts as one batch (each its own sequence; the executor
 * must have n_seq >= n_prompts). results[i] is filled for prompt i; free each
 * with azc_generate_result_free. The sampler for prompt i is seeded with
 * seed + i. */
azc_status_t azc_generate(azc_executor_t *ex, const azc_tokenizer_t *tok,
                          const char *const *prompts, const size_t *prompt_lens, int32_t n_prompts,
                          const azc_generate_params_t *params, azc_generate_result_t *results,
                          azc_generate_timings_t *timings);
void azc_generate_result_free(azc_generate_result_t *r);

/* Length of the longest prefix of s[0..n) that does not end inside a
 * sequence still being completed (a valid start of a longer UTF-8 sequence
 * at the end is held back; ill-formed bytes are not, a repairing writer
 * turns them into U+FFFD). */
size_t azc_utf8_complete_prefix(const char *s, size_t n);

#endif
