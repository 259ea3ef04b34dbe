/* GGUF chat templates (a model's tokenizer.chat_template: untrusted bytes)
 * through what azc does with one: detection (runtime/chat_template.c: the
 * heuristics, the verification renders, the jinja kind's check and probes;
 * the Jinja lexer, parser, name check and evaluator, chat_jinja*.c), then
 * the jinja kind's constructor and its renders of fixed conversations.
 * Promises: detection never fails (a template it cannot use is a reason,
 * one line); a template is at most one of builtin and jinja; one detected
 * as jinja is accepted by azc_chat_template_jinja and renders the probe
 * "Hello" conversation; the constructor refuses only with UNSUPPORTED, and
 * a render fails only with INVALID_ARGUMENT (the template's
 * raise_exception, a Jinja error) or UNSUPPORTED, one line each; a
 * rendering is NUL-terminated text of the length returned. Anything else
 * traps.
 *
 * Seeds (tests/fuzz/seeds.c): chat templates in the styles real ones use
 * (ChatML, Llama 3 with a date line, Gemma's raise_exception, macros,
 * namespaces, block set and filter blocks, tool branches).
 * Run: tests/fuzz/run.sh fuzz_chat_jinja SECONDS. */
#include <stdlib.h>
#include <string.h>

#include "runtime/chat_template.h"
#include "tests/fuzz/fuzz.h"

#define CHECK FUZZ_CHECK

static const azc_chat_message_t conv[] = {
    {"system", "Be brief."}, {"user", " Salam "}, {"assistant", "Salam!\n"}, {"user", "Necesen?"}};

static void apply(const azc_chat_template_t *t, const azc_chat_message_t *m, size_t n, bool gen,
                  bool must_render) {
  char *out = NULL;
  size_t len = 0;
  azc_status_t st = azc_chat_template_apply(t, m, n, gen, &out, &len);
  if (must_render) CHECK(!st);
  if (fuzz_failed(st, FUZZ_CODE(AZC_INVALID_ARGUMENT) | FUZZ_CODE(AZC_UNSUPPORTED))) {
    CHECK(!out);
    return;
  }
  CHECK(out && strlen(out) == len);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *src = (const char *)data;
  azc_chat_detection_t d;
  azc_status_t st = azc_chat_template_detect(src, size, "<s>", "</s>", &d);
  CHECK(!st);
  CHECK(!(d.name[0] && d.jinja));
  CHECK(d.name[0] || d.reason[0]);
  CHECK(!strchr(d.reason, '\n'));
  azc_chat_template_t *t = NULL;
  st = azc_chat_template_jinja(src, size, "<s>", "</s>", true, &t);
  if (d.jinja) CHECK(!st);
  if (fuzz_failed(st, FUZZ_CODE(AZC_UNSUPPORTED))) {
    CHECK(!t);
    return 0;
  }
  static const azc_chat_message_t hello[] = {{"user", "Hello"}};
  apply(t, hello, 1, true, d.jinja); /* a probe detection rendered (today's date, as it did) */
  azc_chat_template_set_time(t, 1721952000);
  for (int gen = 0; gen < 2; gen++) {
    apply(t, conv, 4, gen, false);
    apply(t, conv + 1, 3, gen, false);
    apply(t, conv, 0, gen, false);
  }
  CHECK(!strcmp(azc_chat_template_name(t), "jinja"));
  azc_chat_template_destroy(t);
  return 0;
}
