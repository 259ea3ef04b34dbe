/* The serving engine of one loaded model: N slots, each a sequence of the
 * executor's KV cache, and one scheduler thread that runs continuous
 * batching. A job (a tokenized prompt with its sampling options) waits in a
 * bounded queue until a slot is free; at the next step it joins the running
 * batch: every step is one forward call that carries one decode token for
 * each generating slot plus prompt chunks of the slots still prefilling, so
 * all active sequences share one pass over the weights. The compiled kernels
 * are batch-invariant (tests/serve/test_batch_invariance), so a sequence's
 * tokens do not depend on what else shares its steps.
 *
 * A slot keeps its KV cache after its job (prompt reuse): a job goes to the
 * free slot whose tokens share the longest prefix with its prompt and
 * prefills only the rest; job->n_cached says how many it reused.
 *
 * A job's generated text is handed over through the job itself (a mutex, a
 * condition variable and a text buffer the HTTP thread drains), already cut
 * at stop strings and repaired to valid UTF-8. Cancelling a job (its client
 * went away) frees its slot at the next step.
 *
 * Requests that arrive together at an idle engine (a burst of clients) are
 * gathered for up to params.batch_window_ns before the first step, so they
 * prefill in one step and then decode in lockstep; without the window the
 * first one prefills alone and the others' prefill step stalls its decoding. */
#ifndef AZC_SERVE_ENGINE_H
#define AZC_SERVE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/buf.h"
#include "runtime/base/status.h"
#include "runtime/base/utf8.h"
#include "runtime/executor.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"

/* Counters for /metrics, shared by every engine of a server. */
typedef struct serve_metrics {
  atomic_llong steps, step_sequences_sum, steps_multi; /* steps with > 1 sequence */
  atomic_llong step_seq_hist[6]; /* sequences per step <= 1, 2, 4, 8, 16, +Inf */
  atomic_llong joins;            /* jobs admitted while another sequence was generating */
  atomic_llong prompt_tokens, generated_tokens;
  atomic_llong prompt_tokens_reused; /* prompt tokens found in a slot's KV cache, not evaluated */
  atomic_llong jobs_done, jobs_cancelled, rejected_queue_full;
  atomic_llong queue_depth, slots_busy;
  atomic_llong step_ns_sum;
} serve_metrics_t;

typedef struct serve_job {
  /* set before azc_serve_engine_submit, read-only afterwards */
  int32_t *prompt; /* owned */
  int32_t n_prompt;
  int32_t n_predict; /* < 0: until end of generation or a full context */
  int32_t n_ctx;     /* the request's context (num_ctx), at most the executor's; 0: its */
  bool no_cache;     /* cache_prompt false: prefill the whole prompt */
  azc_sampler_params_t sampling;
  bool ignore_eos;
  int n_stop;
  char **stop; /* owned */

  /* shared with the engine, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  azc_buf_t out; /* generated text not yet taken by the HTTP thread (valid UTF-8) */
  bool finished;
  const char *done_reason; /* "stop", "length" */
  char *error;             /* an engine failure (finished too) */
  int32_t n_generated;
  int32_t n_cached; /* prompt tokens reused from the slot's KV cache (set at admission) */
  int64_t t_submit_ns, t_admit_ns, t_first_ns, t_end_ns;
  int64_t prompt_ns, eval_ns; /* wall time of the steps it took part in, per phase */
  bool joined;                /* admitted while another sequence was generating */
  atomic_bool cancel;
  int refs; /* owner + engine */
  struct serve_job *next;
} serve_job_t;

typedef struct serve_engine_params {
  int32_t n_slots, queue_depth;
  serve_metrics_t *metrics;
  /* When a job reaches an idle engine, the first step waits up to this long
   * after the job's arrival (or until every slot has a job) so that requests
   * sent together prefill in one step, as `azc run --batch` does; 0: none. */
  int64_t batch_window_ns;
} serve_engine_params_t;

typedef struct serve_engine serve_engine_t;

/* Starts the scheduler thread; borrows ex and tok (they outlive the engine). */
azc_status_t azc_serve_engine_create(azc_executor_t *ex, const azc_tokenizer_t *tok,
                                     const serve_engine_params_t *params, serve_engine_t **out);
/* Stops the thread; jobs still queued or running finish with an error. */
void azc_serve_engine_destroy(serve_engine_t *e);

/* A job with refs = 1 (the caller's), empty output. */
serve_job_t *azc_serve_job_create(void);
/* Drops one reference; the last frees the job. */
void azc_serve_job_release(serve_job_t *j);

/* Queues the job (the engine takes a reference). AZC_OUT_OF_RANGE when the
 * queue is full (the message names its depth): the server answers 503. */
azc_status_t azc_serve_engine_submit(serve_engine_t *e, serve_job_t *j);
/* Jobs queued or running. */
int32_t azc_serve_engine_busy(serve_engine_t *e);
int64_t azc_serve_now_ns(void);

#endif
