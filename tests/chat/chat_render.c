/* A helper for tests/chat/compare_templates.py (not a test by itself): reads
 * a JSON job on stdin, {"templates": [{"file", "bos", "eos"}],
 * "conversations": [{"messages": [{"role", "content"}], "add_generation_prompt"}]},
 * and writes one JSON object per template: azc's detection (name, guess,
 * jinja_kind, reason, system_error), azc's rendering of every conversation through
 * the public chat-template API with what detection chose, the builtin or
 * the jinja kind ("renders", null where azc refuses the conversation, with
 * the error in "errors"), and
 * azc's own Jinja evaluator's rendering of the raw template ("jinja", null
 * where it cannot evaluate it), so that the script can compare both with
 * python3-jinja2. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/file.h"
#include "runtime/chat_internal.h"
#include "runtime/chat_template.h"

static char *read_stdin(void) {
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  size_t k;
  while (b && (k = fread(b + n, 1, cap - n - 1, stdin)) > 0) {
    n += k;
    if (n + 1 == cap) b = realloc(b, cap *= 2);
  }
  if (b) b[n] = 0;
  return b;
}

int main(void) {
  char *in = read_stdin();
  cJSON *job = in ? cJSON_Parse(in) : NULL;
  if (!job) {
    fprintf(stderr, "chat_render: bad JSON on stdin\n");
    return 2;
  }
  cJSON *templates = cJSON_GetObjectItem(job, "templates");
  cJSON *convs = cJSON_GetObjectItem(job, "conversations");
  cJSON *now_item = cJSON_GetObjectItem(job, "now"); /* strftime_now's fixed time */
  int64_t now = cJSON_IsNumber(now_item) ? (int64_t)now_item->valuedouble : 0;
  int n_conv = cJSON_GetArraySize(convs);
  azc_chat_message_t **msgs = calloc((size_t)n_conv + 1, sizeof(*msgs));
  size_t *n_msgs = calloc((size_t)n_conv + 1, sizeof(*n_msgs));
  bool *gen = calloc((size_t)n_conv + 1, sizeof(*gen));
  for (int c = 0; c < n_conv; c++) {
    cJSON *conv = cJSON_GetArrayItem(convs, c), *m = cJSON_GetObjectItem(conv, "messages");
    n_msgs[c] = (size_t)cJSON_GetArraySize(m);
    msgs[c] = calloc(n_msgs[c] + 1, sizeof(**msgs));
    for (size_t i = 0; i < n_msgs[c]; i++) {
      cJSON *x = cJSON_GetArrayItem(m, (int)i);
      msgs[c][i].role = cJSON_GetObjectItem(x, "role")->valuestring;
      msgs[c][i].content = cJSON_GetObjectItem(x, "content")->valuestring;
    }
    gen[c] = cJSON_IsTrue(cJSON_GetObjectItem(conv, "add_generation_prompt"));
  }
  cJSON *out = cJSON_CreateArray();
  cJSON *t;
  cJSON_ArrayForEach(t, templates) {
    const char *file = cJSON_GetObjectItem(t, "file")->valuestring;
    const char *bos = cJSON_GetObjectItem(t, "bos")->valuestring;
    const char *eos = cJSON_GetObjectItem(t, "eos")->valuestring;
    char *src = NULL;
    size_t len = 0;
    azc_status_t st = azc_file_read_all(file, &src, &len);
    if (st) {
      fprintf(stderr, "chat_render: %s\n", azc_status_message(st));
      return 2;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    azc_chat_detection_t d;
    st = azc_chat_template_detect(src, len, bos, eos, &d);
    if (st) {
      fprintf(stderr, "chat_render: %s\n", azc_status_message(st));
      return 2;
    }
    cJSON_AddStringToObject(o, "name", d.name);
    cJSON_AddStringToObject(o, "guess", d.guess);
    cJSON_AddBoolToObject(o, "jinja_kind", d.jinja);
    cJSON_AddStringToObject(o, "reason", d.reason);
    cJSON_AddBoolToObject(o, "system_error", d.system_error);
    cJSON *renders = cJSON_AddArrayToObject(o, "renders");
    cJSON *errors = cJSON_AddArrayToObject(o, "errors");
    azc_chat_template_t *tm = NULL;
    if (d.name[0] || d.jinja) {
      /* the tokenizers of these models add a BOS: a leading bos_token is cut */
      st = d.name[0] ? azc_chat_template_for_model(d.name, d.system_error, eos, &tm)
                     : azc_chat_template_jinja(src, len, bos, eos, true, &tm);
      if (st) {
        fprintf(stderr, "chat_render: %s: %s\n", file, azc_status_message(st));
        return 2;
      }
      azc_chat_template_set_time(tm, now);
      cJSON_AddStringToObject(o, "kind", azc_chat_template_name(tm));
    }
    for (int c = 0; c < n_conv; c++) {
      char *text = NULL;
      azc_status_t rs = tm ? azc_chat_template_apply(tm, msgs[c], n_msgs[c], gen[c], &text, NULL)
                           : AZC_ERR(AZC_UNSUPPORTED, "refused");
      cJSON_AddItemToArray(renders, rs ? cJSON_CreateNull() : cJSON_CreateString(text));
      cJSON_AddItemToArray(errors,
                           rs ? cJSON_CreateString(azc_status_message(rs)) : cJSON_CreateNull());
      azc_status_free(rs);
      free(text);
    }
    azc_chat_template_destroy(tm);
    /* azc's own Jinja evaluator on the raw template */
    cJSON *jin = cJSON_AddArrayToObject(o, "jinja");
    char err[256];
    azc_jinja_t *j = NULL;
    azc_jinja_result_t r = azc_jinja_parse(src, len, &j, err, sizeof(err));
    cJSON_AddStringToObject(o, "jinja_parse", r == AZC_JINJA_OK ? "" : err);
    char date[64];
    const char *extra[5];
    azc_chat_jinja_extra(src, now, date, extra); /* what llama.cpp adds, as the product does */
    for (int c = 0; c < n_conv; c++) {
      if (r != AZC_JINJA_OK) {
        cJSON_AddItemToArray(jin, cJSON_CreateNull());
        continue;
      }
      azc_buf_t b = {0};
      azc_jinja_result_t rr = azc_jinja_render(j, msgs[c], n_msgs[c], gen[c], bos, eos, now, extra,
                                               &b, err, sizeof(err));
      cJSON *x = cJSON_CreateObject();
      static const char *const kinds[] = {"ok", "raised", "error", "unsupported", "nomem"};
      cJSON_AddStringToObject(x, "result", kinds[rr]);
      cJSON_AddStringToObject(x, rr == AZC_JINJA_OK ? "text" : "message",
                              rr == AZC_JINJA_OK ? (b.data ? b.data : "") : err);
      cJSON_AddItemToArray(jin, x);
      azc_buf_free(&b);
    }
    azc_jinja_free(j);
    cJSON_AddItemToArray(out, o);
    free(src);
  }
  char *s = cJSON_PrintUnformatted(out);
  printf("%s\n", s);
  free(s);
  cJSON_Delete(out);
  cJSON_Delete(job);
  for (int c = 0; c < n_conv; c++) free(msgs[c]);
  free(msgs);
  free(n_msgs);
  free(gen);
  free(in);
  return 0;
}
