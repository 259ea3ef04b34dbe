/* Chat sessions (runtime/chat_session.h):
 *  - on a scripted executor (its logits make a fixed token sequence win, and
 *    it records every batch it is given): a second turn evaluates exactly the
 *    tokens after the prefix it shares with the cache, at their positions;
 *    the model's EOG token, a stop string (never streamed, not even a part of
 *    it), num_predict and a cancel request each end a turn as they should;
 *  - on the eager interpreter over a synthetic llama: a turn answered with
 *    the history in the KV cache (only the new tokens prefilled) is the same
 *    text as a fresh session answering the whole conversation;
 *  - drafting (lookup, and the model as its own draft): the same greedy
 *    answers as plain decoding, in fewer passes;
 *  - azc_chat_stop_scan: found stops, held-back partial stops and UTF-8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "runtime/chat_session.h"
#include "tests/test.h"

/* ---- a scripted executor ---- */
typedef struct fake {
  azc_executor_t base;
  const int32_t *script; /* the token each output row makes win, in turn */
  int n_script, next;
  int calls;
  int32_t first_pos[64], n_tok[64]; /* per forward call */
  int cancel_after;                 /* set *cancel at this call (0: never) */
  volatile sig_atomic_t *cancel;
} fake_t;

static azc_status_t fake_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  fake_t *f = (fake_t *)ex;
  if (f->calls < 64) {
    f->first_pos[f->calls] = b->pos[0];
    f->n_tok[f->calls] = b->n_tokens;
  }
  for (int32_t i = 1; i < b->n_tokens; i++)
    if (b->pos[i] != b->pos[0] + i) return AZC_ERR(AZC_INTERNAL, "positions not consecutive");
  f->calls++;
  if (f->cancel_after && f->calls == f->cancel_after) *f->cancel = 1;
  for (int32_t o = 0; o < b->n_out; o++) {
    float *row = logits + (size_t)o * (size_t)ex->n_vocab;
    for (int32_t v = 0; v < ex->n_vocab; v++) row[v] = 0;
    row[f->script[f->next % f->n_script]] = 10;
    f->next++;
  }
  return NULL;
}
static void fake_destroy(azc_executor_t *ex) { (void)ex; }
static const azc_executor_ops_t fake_ops = {"fake", fake_forward, fake_destroy};

static char model_path[512];
static azc_model_t *model;
static azc_tokenizer_t *tok;

static void setup(void) {
  snprintf(model_path, sizeof(model_path), "%s/chat-tiny-llama.gguf", test_tmp_dir());
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset("tiny-llama", &p));
  ASSERT_OK(azc_synth_write(&p, model_path, NULL, NULL));
  ASSERT_OK(azc_model_open(model_path, &model));
  ASSERT_OK(azc_tokenizer_create(&model->tok, &tok));
}

static void fake_init(fake_t *f, const int32_t *script, int n) {
  memset(f, 0, sizeof(*f));
  f->base = (azc_executor_t){&fake_ops, azc_tokenizer_n_vocab(tok), 256, 1, 32, 1};
  f->script = script;
  f->n_script = n;
}

static int32_t encode1(const char *text, int32_t *out, int cap) {
  int32_t *ids;
  size_t n;
  if (azc_tokenizer_encode(tok, text, strlen(text), false, false, &ids, &n)) return -1;
  int k = (int)n < cap ? (int)n : cap;
  memcpy(out, ids, (size_t)k * sizeof(int32_t));
  free(ids);
  return k;
}

typedef struct streamed {
  char buf[4096];
  size_t len;
} streamed_t;

static void collect(void *user, const char *text, size_t len) {
  streamed_t *s = user;
  if (s->len + len < sizeof(s->buf)) memcpy(s->buf + s->len, text, len), s->len += len;
  s->buf[s->len] = 0;
}

static azc_options_t greedy(int n_predict) {
  azc_options_t o = azc_options_default();
  azc_options_clear_stop(&o);
  o.v[AZC_OPT_TEMPERATURE].f = 0;
  o.v[AZC_OPT_NUM_PREDICT].i = n_predict;
  return o;
}

/* Turn 2 evaluates only what follows the shared prefix, at its positions. */
static void test_second_turn_prefills_only_new_tokens(void) {
  int32_t script[40];
  int n = encode1("sunny day", script, 39); /* SentencePiece: " sunny day" */
  ASSERT(n > 0);
  script[n] = azc_tokenizer_eos(tok);
  fake_t f;
  fake_init(&f, script, n + 1);
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t));
  azc_chat_session_t *s;
  ASSERT_OK(azc_chat_session_create(&f.base, tok, NULL, t, 0, &s));
  azc_options_t o = greedy(-1);
  azc_chat_session_set_options(s, &o);
  azc_chat_turn_t t1, t2;
  ASSERT_OK(azc_chat_session_say(s, "Hello", &t1));
  ASSERT_EQ_INT(t1.stop, AZC_CHAT_STOP_EOG);
  ASSERT_STREQ(t1.text, " sunny day");
  ASSERT_EQ_INT(t1.n_reused, 0);
  ASSERT_EQ_INT(t1.n_prefilled, t1.n_prompt);
  ASSERT_EQ_INT(t1.n_generated, n + 1); /* the EOG token is sampled, not evaluated */
  ASSERT_EQ_INT(azc_chat_session_cached(s), t1.n_prompt + n);
  int calls1 = f.calls;
  f.next = 0;
  ASSERT_OK(azc_chat_session_say(s, "And tomorrow?", &t2));
  /* what a fresh tokenization of the whole conversation shares with the cache */
  const azc_chat_message_t *h;
  size_t nh = azc_chat_session_history(s, &h);
  ASSERT_EQ_INT((int)nh, 4);
  ASSERT_STREQ(h[1].content, " sunny day");
  char *text;
  size_t len;
  ASSERT_OK(azc_chat_template_apply(t, h, 3, true, &text, &len));
  int32_t *all;
  size_t n_all;
  ASSERT_OK(azc_tokenizer_encode(tok, text, len, true, true, &all, &n_all));
  free(text);
  ASSERT_EQ_INT(t2.n_prompt, (int)n_all);
  /* the cache: turn 1's prompt and the answer's tokens (not the EOG) */
  int32_t *p1;
  size_t n_p1;
  ASSERT_OK(azc_chat_template_apply(t, h, 1, true, &text, &len));
  ASSERT_OK(azc_tokenizer_encode(tok, text, len, true, true, &p1, &n_p1));
  free(text);
  ASSERT_EQ_INT((int)n_p1, t1.n_prompt);
  int lcp = 0;
  while (lcp < (int)n_all && lcp < (int)n_p1 + n &&
         all[lcp] == (lcp < (int)n_p1 ? p1[lcp] : script[lcp - (int)n_p1]))
    lcp++;
  free(p1);
  ASSERT(lcp >= t1.n_prompt + n); /* the answer re-tokenizes as it was generated */
  ASSERT_EQ_INT(t2.n_reused, lcp);
  ASSERT_EQ_INT(t2.n_prefilled, t2.n_prompt - t2.n_reused);
  fprintf(stderr, "  turn 2: %d prompt tokens, %d from the cache, %d prefilled\n", t2.n_prompt,
          t2.n_reused, t2.n_prefilled);
  /* the executor saw exactly those tokens, from position n_reused */
  ASSERT_EQ_INT(f.first_pos[calls1], t2.n_reused);
  int evaluated = 0;
  for (int c = calls1; c < f.calls && f.n_tok[c] > 1; c++) evaluated += f.n_tok[c];
  if (t2.n_prefilled == 1) evaluated = f.n_tok[calls1];
  ASSERT_EQ_INT(evaluated, t2.n_prefilled);
  free(all);
  azc_chat_turn_free(&t1);
  azc_chat_turn_free(&t2);
  azc_chat_session_destroy(s);
  azc_chat_template_destroy(t);
}

/* A stop string ends the turn; neither it nor a part of it is streamed. */
static void test_stop_string_cut_and_never_streamed(void) {
  int32_t script[64];
  int n = encode1("one two<|im_end|> three four five", script, 64);
  ASSERT(n > 0);
  fake_t f;
  fake_init(&f, script, n);
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t)); /* stops: <|im_start|>, <|im_end|> */
  azc_chat_session_t *s;
  ASSERT_OK(azc_chat_session_create(&f.base, tok, NULL, t, 0, &s));
  azc_options_t o = greedy(200);
  azc_chat_session_set_options(s, &o);
  streamed_t out = {{0}, 0};
  azc_chat_session_set_stream(s, collect, &out);
  azc_chat_turn_t r;
  ASSERT_OK(azc_chat_session_say(s, "Count", &r));
  ASSERT_EQ_INT(r.stop, AZC_CHAT_STOP_STRING);
  ASSERT_STREQ(r.text, " one two");
  ASSERT_STREQ(out.buf, " one two");
  azc_chat_turn_free(&r);
  /* an option's stop string, in the middle of a token run */
  o.n_stop = 0;
  ASSERT_OK(azc_options_add_stop(&o, "wo", 2));
  azc_chat_session_set_options(s, &o);
  azc_chat_session_clear(s);
  f.next = 0;
  out.len = 0;
  out.buf[0] = 0;
  ASSERT_OK(azc_chat_session_say(s, "Count", &r));
  ASSERT_EQ_INT(r.stop, AZC_CHAT_STOP_STRING);
  ASSERT_STREQ(r.text, " one t");
  ASSERT_STREQ(out.buf, " one t");
  azc_chat_turn_free(&r);
  /* num_predict */
  o = greedy(3);
  azc_chat_session_set_options(s, &o);
  f.next = 0;
  ASSERT_OK(azc_chat_session_say(s, "Count", &r));
  ASSERT_EQ_INT(r.stop, AZC_CHAT_STOP_LENGTH);
  ASSERT_EQ_INT(r.n_generated, 3);
  azc_chat_turn_free(&r);
  azc_chat_session_destroy(s);
  azc_chat_template_destroy(t);
}

/* A cancel request stops the answer; the session goes on. */
static void test_cancel_stops_the_answer_not_the_session(void) {
  int32_t script[8];
  int n = encode1("la", script, 8);
  ASSERT(n > 0);
  fake_t f;
  fake_init(&f, script, n);
  volatile sig_atomic_t cancel = 0;
  f.cancel = &cancel;
  f.cancel_after = 6; /* during decode */
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t));
  azc_chat_session_t *s;
  ASSERT_OK(azc_chat_session_create(&f.base, tok, NULL, t, 0, &s));
  azc_options_t o = greedy(-1);
  azc_chat_session_set_options(s, &o);
  azc_chat_session_set_cancel(s, &cancel);
  azc_chat_turn_t r;
  ASSERT_OK(azc_chat_session_say(s, "Sing", &r));
  ASSERT_EQ_INT(r.stop, AZC_CHAT_STOP_CANCELLED);
  ASSERT(r.text_len > 0);
  ASSERT(r.n_generated < 20);
  azc_chat_turn_free(&r);
  const azc_chat_message_t *h;
  ASSERT_EQ_INT((int)azc_chat_session_history(s, &h), 2); /* the partial answer is kept */
  cancel = 0;
  f.cancel_after = 0;
  o.v[AZC_OPT_NUM_PREDICT].i = 4;
  azc_chat_session_set_options(s, &o);
  ASSERT_OK(azc_chat_session_say(s, "Again", &r));
  ASSERT_EQ_INT(r.stop, AZC_CHAT_STOP_LENGTH);
  ASSERT(r.n_reused > 0);
  azc_chat_turn_free(&r);
  ASSERT_EQ_INT((int)azc_chat_session_history(s, &h), 4);
  azc_chat_session_destroy(s);
  azc_chat_template_destroy(t);
}

/* The conversation is dropped from the oldest message to fit the context;
 * a last message that cannot fit is an error naming both lengths. */
static void test_context_overflow(void) {
  int32_t script[1] = {azc_tokenizer_eos(tok)};
  fake_t f;
  fake_init(&f, script, 1);
  f.base.n_ctx = 160;
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t));
  azc_chat_session_t *s;
  ASSERT_OK(azc_chat_session_create(&f.base, tok, NULL, t, 0, &s));
  azc_options_t o = greedy(-1);
  azc_chat_session_set_options(s, &o);
  azc_chat_turn_t r;
  ASSERT_OK(azc_chat_session_say(s, "one two three", &r));
  azc_chat_turn_free(&r);
  ASSERT_OK(azc_chat_session_say(s, "four five six", &r));
  azc_chat_turn_free(&r);
  ASSERT_OK(azc_chat_session_say(s, "seven eight nine", &r));
  ASSERT(r.n_dropped > 0);
  ASSERT(r.n_prompt < 160);
  azc_chat_turn_free(&r);
  char big[400];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  ASSERT_ERR(azc_chat_session_say(s, big, &r), AZC_OUT_OF_RANGE, "the context holds 160");
  azc_chat_session_destroy(s);
  azc_chat_template_destroy(t);
}

/* With a real model: the answer with the history in the KV cache equals a
 * fresh session's answer to the same conversation. */
static void test_cached_history_answers_as_fresh(void) {
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(model, &g));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 256;
  ep.n_seq = 2;
  ep.n_batch = 32;
  ep.n_threads = 2;
  azc_executor_t *ex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  azc_chat_info_t *ci = azc_chat_info_create();
  ASSERT(ci);
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_SYSTEM, "Be brief.", 9));
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t));
  azc_chat_session_t *a, *b;
  ASSERT_OK(azc_chat_session_create(ex, tok, ci, t, 0, &a));
  ASSERT_OK(azc_chat_session_create(ex, tok, ci, t, 1, &b));
  azc_options_t o = greedy(12);
  azc_chat_session_set_options(a, &o);
  azc_chat_session_set_options(b, &o);
  azc_chat_turn_t r1, r2, r3, fresh;
  ASSERT_OK(azc_chat_session_say(a, "Salam", &r1));
  ASSERT_OK(azc_chat_session_say(a, "Necesen?", &r2));
  ASSERT_OK(azc_chat_session_say(a, "Sag ol", &r3));
  ASSERT(r3.n_reused > r2.n_prompt - 4);
  ASSERT_EQ_INT(r3.n_prefilled, r3.n_prompt - r3.n_reused);
  const azc_chat_message_t *h;
  size_t nh = azc_chat_session_history(a, &h);
  ASSERT_EQ_INT((int)nh, 6);
  ASSERT_OK(azc_chat_session_complete(b, h, nh - 1, &fresh));
  ASSERT_EQ_INT(fresh.n_reused, 0);
  ASSERT_EQ_INT(fresh.n_prompt, r3.n_prompt);
  ASSERT_MSG(fresh.text_len == r3.text_len && !memcmp(fresh.text, r3.text, r3.text_len),
             "cached '%s' vs fresh '%s'", r3.text, fresh.text);
  fprintf(stderr, "  turn 3: %d prompt tokens, %d from the cache, %d prefilled\n", r3.n_prompt,
          r3.n_reused, r3.n_prefilled);
  azc_chat_turn_free(&r1);
  azc_chat_turn_free(&r2);
  azc_chat_turn_free(&r3);
  azc_chat_turn_free(&fresh);
  azc_chat_session_destroy(a);
  azc_chat_session_destroy(b);
  azc_chat_template_destroy(t);
  azc_chat_info_destroy(ci);
  azc_executor_destroy(ex);
  azc_ir_graph_destroy(g);
}

/* Speculative decoding in a session: with the lookup drafter, and with the
 * model itself as its draft model (every greedy draft then accepted), three
 * greedy turns answer byte for byte as plain decoding does, in fewer passes. */
static void test_drafting_answers_as_plain(void) {
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(model, &g));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 256;
  ep.n_seq = 1;
  ep.n_batch = 32;
  ep.n_threads = 2;
  azc_executor_t *ex, *dex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  ASSERT_OK(azc_ir_interp_create(g, &ep, &dex));
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_builtin("chatml", &t));
  azc_drafter_t *lookup, *self;
  ASSERT_OK(azc_drafter_lookup_create(&(azc_lookup_params_t){3, 2}, &lookup));
  ASSERT_OK(azc_drafter_model_create(dex, &self));
  const char *turns[3] = {"Salam salam salam", "Necesen? Necesen?", "Sag ol"};
  char *plain[3] = {0};
  for (int mode = 0; mode < 3; mode++) {
    azc_chat_session_t *s;
    ASSERT_OK(azc_chat_session_create(ex, tok, NULL, t, 0, &s));
    azc_options_t o = greedy(40);
    azc_chat_session_set_options(s, &o);
    ASSERT_OK(azc_chat_session_set_drafter(s, mode == 1 ? lookup : mode == 2 ? self : NULL, 6));
    int generated = 0, passes = 0, drafted = 0, accepted = 0;
    for (int k = 0; k < 3; k++) {
      azc_chat_turn_t r;
      ASSERT_OK(azc_chat_session_say(s, turns[k], &r));
      if (mode == 0)
        plain[k] = strdup(r.text);
      else
        ASSERT_MSG(!strcmp(r.text, plain[k]), "mode %d turn %d: '%s' vs plain '%s'", mode, k,
                   r.text, plain[k]);
      generated += r.n_generated;
      passes += r.n_passes;
      drafted += r.n_drafted;
      accepted += r.n_draft_accepted;
      azc_chat_turn_free(&r);
    }
    fprintf(stderr, "  %s: %d tokens in %d passes, %d drafted, %d accepted\n",
            mode == 0 ? "plain" : mode == 1 ? "lookup" : "self-draft", generated, passes, drafted,
            accepted);
    if (mode == 0) ASSERT_EQ_INT(drafted, 0);
    if (mode > 0) ASSERT(accepted > 0 && passes < generated);
    if (mode == 2) ASSERT_EQ_INT(accepted, drafted); /* the same model drafts what it verifies */
    azc_chat_session_destroy(s);
  }
  for (int k = 0; k < 3; k++) free(plain[k]);
  azc_drafter_destroy(lookup);
  azc_drafter_destroy(self);
  azc_chat_template_destroy(t);
  azc_executor_destroy(dex);
  azc_executor_destroy(ex);
  azc_ir_graph_destroy(g);
}

static void test_stop_scan(void) {
  const char *stops[] = {"<|im_end|>", "###"};
  bool hit;
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "abc<|im_end|>x", 14, &hit), 3);
  ASSERT(hit);
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "abc<|im", 7, &hit), 3);
  ASSERT(!hit);
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "abc##", 5, &hit), 3);
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "ab#c", 4, &hit), 4);
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "x###<|im_end|>", 14, &hit), 1);
  ASSERT(hit);
  ASSERT_EQ_INT((int)azc_chat_stop_scan(stops, 2, "d\xc3", 2, &hit), 1); /* half of 'ü' */
  ASSERT_EQ_INT((int)azc_chat_stop_scan(NULL, 0, "plain", 5, &hit), 5);
}

int main(void) {
  RUN(setup);
  if (!tok) return test_summary();
  RUN(test_stop_scan);
  RUN(test_second_turn_prefills_only_new_tokens);
  RUN(test_stop_string_cut_and_never_streamed);
  RUN(test_cancel_stops_the_answer_not_the_session);
  RUN(test_context_overflow);
  RUN(test_cached_history_answers_as_fresh);
  RUN(test_drafting_answers_as_plain);
  azc_tokenizer_destroy(tok);
  azc_model_close(model);
  return test_summary();
}
