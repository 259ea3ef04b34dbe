/* Modelfiles (frontend/modelfile.c) and what a Modelfile's text reaches: the
 * run options' parsers (runtime/model_options.c), the Go-template parser and
 * executor (runtime/chat_gotmpl.c), the chat section's writer and reader
 * (runtime/chat_info.c). Any input must either be refused with an
 * INVALID_ARGUMENT (or, for odd encodings, UNSUPPORTED) status whose one-line
 * message starts with the file's name, or parse into commands that
 * azc_modelfile_format writes back as text that parses into the same
 * commands. The parsed file is then applied (the same refusal rule, file and
 * line named); an applied file's chat section must serialize and parse back
 * to the same bytes, and its template must render a fixed conversation or
 * refuse it with a status. Anything else traps.
 *
 * Seeds (tests/fuzz/seeds.c): Modelfiles of every instruction, quoting style,
 * comment placement, parameter type and template construct.
 * Run: tests/fuzz/run.sh fuzz_modelfile SECONDS. */
#include <stdlib.h>
#include <string.h>

#include "frontend/modelfile.h"
#include "runtime/chat_info.h"
#include "runtime/chat_template.h"
#include "tests/fuzz/fuzz.h"

#define CHECK FUZZ_CHECK
#define NAME "fuzz.Modelfile"

static void refused_by_name(azc_status_t st) {
  CHECK(!strncmp(azc_status_message(st), NAME, strlen(NAME)));
  CHECK(fuzz_failed(st, FUZZ_CODE(AZC_INVALID_ARGUMENT) | FUZZ_CODE(AZC_UNSUPPORTED)));
}

/* A value with a line ending in three quotes has no spelling in the grammar. */
static bool writable(const azc_modelfile_t *mf) {
  for (size_t i = 0; i < mf->n_cmds; i++)
    if (strstr(mf->cmds[i].args, "\"\"\"\n") || strstr(mf->cmds[i].args, "\"\"\"\r")) return false;
  return true;
}

static void same_commands(const azc_modelfile_t *a, const azc_modelfile_t *b) {
  CHECK(a->n_cmds == b->n_cmds);
  for (size_t i = 0; i < a->n_cmds; i++) {
    const azc_mf_command_t *x = &a->cmds[i], *y = &b->cmds[i];
    CHECK(x->kind == y->kind);
    CHECK(!x->name == !y->name && (!x->name || !strcmp(x->name, y->name)));
    CHECK(!strcmp(x->args, y->args));
  }
}

static void warn(void *user, const char *message) {
  (void)user;
  CHECK(!strncmp(message, NAME, strlen(NAME)) && !strchr(message, '\n'));
}

static void render(const azc_chat_info_t *ci) {
  azc_chat_template_t *t = NULL;
  azc_status_t st = azc_chat_info_template(ci, NULL, &t);
  if (fuzz_failed(st, FUZZ_CODE(AZC_INVALID_ARGUMENT) | FUZZ_CODE(AZC_UNSUPPORTED))) return;
  const azc_chat_message_t conv[] = {
      {"user", "Salam"}, {"assistant", "Salam!"}, {"user", "Necesen?"}};
  azc_chat_message_t *msgs = NULL;
  size_t n = 0;
  CHECK(!azc_chat_info_messages(ci, conv, 3, &msgs, &n));
  for (int gen = 0; gen < 2; gen++) {
    char *text = NULL;
    size_t len = 0;
    st = azc_chat_template_apply(t, msgs, n, gen, &text, &len);
    if (!fuzz_failed(st, FUZZ_CODE(AZC_INVALID_ARGUMENT) | FUZZ_CODE(AZC_UNSUPPORTED) |
                             FUZZ_CODE(AZC_OUT_OF_RANGE))) {
      CHECK(text && strlen(text) == len);
      fuzz_touch(text, len);
    }
    free(text);
  }
  free(msgs);
  azc_chat_template_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  azc_modelfile_t *mf = NULL;
  azc_status_t st = azc_modelfile_parse(NAME, data, size, &mf);
  if (st) {
    CHECK(!mf);
    refused_by_name(st);
    return 0;
  }
  fuzz_touch(mf->text, mf->text_len);
  char *text = NULL;
  CHECK(!azc_modelfile_format(mf, &text));
  if (writable(mf)) {
    azc_modelfile_t *again = NULL;
    st = azc_modelfile_parse(NAME, text, strlen(text), &again);
    if (st)
      fprintf(stderr, "formatted text does not parse: %s\n---\n%s---\n", azc_status_message(st),
              text);
    CHECK(!st);
    same_commands(mf, again);
    azc_modelfile_free(again);
  }
  free(text);

  azc_options_t opts;
  memset(&opts, 0, sizeof(opts));
  azc_chat_info_t *ci = azc_chat_info_create();
  CHECK(ci);
  st = azc_modelfile_apply(mf, &opts, ci, warn, NULL);
  if (st) {
    refused_by_name(st);
  } else {
    uint8_t *blob = NULL, *blob2 = NULL;
    size_t n = 0, n2 = 0;
    CHECK(!azc_chat_info_serialize(ci, &blob, &n));
    azc_chat_info_t *back = NULL;
    CHECK(!azc_chat_info_parse(blob, n, &back));
    CHECK(!azc_chat_info_serialize(back, &blob2, &n2));
    CHECK(n == n2 && !memcmp(blob, blob2, n));
    render(back);
    azc_chat_info_destroy(back);
    free(blob);
    free(blob2);
  }
  azc_chat_info_destroy(ci);
  azc_modelfile_free(mf);
  return 0;
}
