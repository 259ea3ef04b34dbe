/* Chat turns on one sequence of an executor: what `azc chat`, `azc run
 * --chat` and the server's chat endpoints share.
 *
 * A session holds a conversation and the tokens whose keys and values are in
 * the executor's KV cache for its sequence. Each turn renders the whole
 * conversation with the model's template (the Modelfile's SYSTEM and
 * MESSAGEs first, as Ollama does; runtime/chat_info.h), tokenizes it (BOS as
 * the model says, control-token spellings in the template parsed as tokens),
 * and keeps the longest prefix it shares with the cached tokens: only the
 * tokens after it are prefilled, so a new turn costs its new tokens, not the
 * history. Then it decodes until an end-of-generation token of the model, a
 * stop string (the template's and the options' `stop`), num_predict tokens,
 * a full context, or a cancel request; streamed text never shows a stop
 * string or a part of one, nor half a UTF-8 character.
 *
 * A conversation that no longer fits the context drops its oldest messages
 * (after the system message), as Ollama does; a last message that does not
 * fit alone is an error naming both lengths.
 *
 * With a drafter (azc_chat_session_set_drafter; runtime/speculative.h: a
 * Modelfile's DRAFT, `--draft lookup|MODEL`), each decode pass evaluates the
 * pending token and up to draft_max drafted ones in one forward call and
 * keeps the drafts the sampler's acceptance rule accepts, as azc_generate
 * does: greedy answers are byte-identical to plain decoding (the kernels are
 * batch-invariant), sampled ones keep their distribution. Rejected drafts'
 * KV rows lie past the cached tokens and are overwritten.
 *
 * The session borrows the executor, tokenizer and chat info; one session per
 * sequence (the server gives each slot its own). Not thread-safe; `cancel`
 * may be set from a signal handler or another thread. */
#ifndef AZC_RUNTIME_CHAT_SESSION_H
#define AZC_RUNTIME_CHAT_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/chat_info.h"
#include "runtime/chat_template.h"
#include "runtime/executor.h"
#include "runtime/model_options.h"
#include "runtime/speculative.h"
#include "runtime/tokenizer.h"

typedef enum azc_chat_stop {
  AZC_CHAT_STOP_EOG = 0,       /* the model's end-of-generation token */
  AZC_CHAT_STOP_STRING = 1,    /* a stop string (cut from the text) */
  AZC_CHAT_STOP_LENGTH = 2,    /* num_predict tokens */
  AZC_CHAT_STOP_CONTEXT = 3,   /* the context is full */
  AZC_CHAT_STOP_CANCELLED = 4, /* *cancel was set */
} azc_chat_stop_t;

/* "stop", "stop", "length", "length", "cancelled": Ollama's done_reason. */
const char *azc_chat_stop_name(azc_chat_stop_t s);

typedef struct azc_chat_turn {
  char *text; /* the answer (malloc'd, NUL-terminated), stop string cut */
  size_t text_len;
  char *prompt; /* the rendered conversation the model saw (malloc'd; NULL for raw prompts) */
  azc_chat_stop_t stop;
  int32_t n_prompt;    /* tokens of the rendered conversation */
  int32_t n_reused;    /* of those, already in the KV cache */
  int32_t n_prefilled; /* evaluated this turn: n_prompt - n_reused */
  int32_t n_generated; /* tokens sampled (the final EOG included) */
  int32_t n_dropped;   /* old messages left out to fit the context */
  int32_t n_passes;    /* decode forward calls (with a drafter: verify passes) */
  int32_t n_drafted, n_draft_accepted;
  double prompt_ms, gen_ms;
} azc_chat_turn_t;
void azc_chat_turn_free(azc_chat_turn_t *t);

typedef struct azc_chat_session azc_chat_session_t;

/* tmpl: from azc_chat_info_template (borrowed, may not be NULL); ci may be
 * NULL. seq: the executor sequence this session owns. */
azc_status_t azc_chat_session_create(azc_executor_t *ex, const azc_tokenizer_t *tok,
                                     const azc_chat_info_t *ci, const azc_chat_template_t *tmpl,
                                     int32_t seq, azc_chat_session_t **out);
void azc_chat_session_destroy(azc_chat_session_t *s);

/* Resolved options (azc_options_resolve): sampling, num_predict (< 0: until
 * the end of the turn or a full context), stop strings (added to the
 * template's). */
void azc_chat_session_set_options(azc_chat_session_t *s, const azc_options_t *o);
const azc_options_t *azc_chat_session_options(const azc_chat_session_t *s);

/* Streaming: text of the answer as it becomes final. */
typedef void (*azc_chat_text_fn)(void *user, const char *text, size_t len);
void azc_chat_session_set_stream(azc_chat_session_t *s, azc_chat_text_fn fn, void *user);
/* Speculative decoding: d (borrowed, may be NULL for none) drafts for this
 * session's sequence, at most draft_max tokens per pass (bounded by the
 * executor's batch); the draft length adapts as in azc_generate. */
azc_status_t azc_chat_session_set_drafter(azc_chat_session_t *s, azc_drafter_t *d,
                                          int32_t draft_max);
/* Checked before every forward call; non-zero stops the answer (the text
 * so far is kept). The session does not reset it. */
void azc_chat_session_set_cancel(azc_chat_session_t *s, volatile sig_atomic_t *cancel);

/* One turn of `azc chat`: appends the user message, answers, appends the
 * answer (also when cancelled after it began, so the history holds what the
 * user saw; cancelled before its first token, the turn leaves no trace). */
azc_status_t azc_chat_session_say(azc_chat_session_t *s, const char *user_text,
                                  azc_chat_turn_t *out);
/* The server's form: answers the conversation given (the whole history, as
 * /api/chat sends it; the Modelfile's SYSTEM and MESSAGEs are added), reusing
 * the cached prefix; the session's own history is not touched. */
azc_status_t azc_chat_session_complete(azc_chat_session_t *s, const azc_chat_message_t *conv,
                                       size_t n, azc_chat_turn_t *out);
/* Raw completion of a prompt text (no template): /api/generate with raw,
 * /v1/completions. The cached prefix is reused as for chats. */
azc_status_t azc_chat_session_complete_raw(azc_chat_session_t *s, const char *prompt, size_t len,
                                           azc_chat_turn_t *out);

/* Forgets the conversation (`/clear`); the cached tokens stay usable. */
void azc_chat_session_clear(azc_chat_session_t *s);
/* Sets or replaces the conversation's system message (`/set system`). */
azc_status_t azc_chat_session_set_system(azc_chat_session_t *s, const char *text);
/* The conversation so far (borrowed until the next call). */
size_t azc_chat_session_history(const azc_chat_session_t *s, const azc_chat_message_t **msgs);
/* Tokens of this session's sequence in the KV cache. */
int32_t azc_chat_session_cached(const azc_chat_session_t *s);

/* Where the text may be cut for streaming, given the stop strings: scans
 * text[0..len) for the first occurrence of any stop; when found, *stopped is
 * set and its offset returned; otherwise the length without a trailing part
 * that could begin a stop string or is an incomplete UTF-8 character. */
size_t azc_chat_stop_scan(const char *const *stops, size_t n_stops, const char *text, size_t len,
                          bool *stopped);

#endif
