/* Chat templates: llama.cpp's builtin formats and detection heuristics
 * against llama.cpp's own test vectors (tests/chat/llama_cpp_chat_cases.json,
 * from its tests/test-chat-template.cpp), the verification that gates a
 * detection (accepted, refused with a reason, system messages refused), the
 * jinja kind (a template azc applies by evaluating it: the renders,
 * BOS/EOS, raise_exception, strftime_now, a construct azc lacks refused by
 * name, every name the check accepts really evaluated), Ollama's Go templates (per-turn execution,
 * .Messages, trimming, control flow, functions, errors), and the chat section of a bundle (round
 * trip, damaged bytes, Ollama's message order). The comparison with python3-jinja2 on real
 * templates is tests/chat/compare_templates.py. */
#include <cjson/cJSON.h>
#include <time.h>

#include "runtime/chat_info.h"
#include "runtime/chat_internal.h"
#include "runtime/chat_template.h"
#include "tests/test.h"

static char *render(azc_chat_template_t *t, const azc_chat_message_t *m, size_t n, bool gen) {
  char *out = NULL;
  azc_status_t st = azc_chat_template_apply(t, m, n, gen, &out, NULL);
  if (st) {
    fprintf(stderr, "  render: %s\n", azc_status_message(st));
    azc_status_free(st);
    return NULL;
  }
  return out;
}

/* ---- llama.cpp's vectors ---- */

static void test_llama_cpp_vectors(void) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/tests/chat/llama_cpp_chat_cases.json", AZC_SOURCE_DIR);
  size_t size;
  char *text = (char *)test_read_file(path, &size);
  ASSERT_MSG(text, "cannot read %s", path);
  cJSON *doc = cJSON_Parse(text);
  free(text);
  ASSERT(doc);
  cJSON *conv = cJSON_GetObjectItem(doc, "conversation"),
        *cases = cJSON_GetObjectItem(doc, "cases");
  azc_chat_message_t msgs[16];
  size_t n = 0;
  cJSON *m;
  cJSON_ArrayForEach(m, conv) {
    msgs[n].role = cJSON_GetArrayItem(m, 0)->valuestring;
    msgs[n++].content = cJSON_GetArrayItem(m, 1)->valuestring;
  }
  int checked = 0, failed = 0;
  cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *tmpl = cJSON_GetObjectItem(c, "template")->valuestring;
    const char *want = cJSON_GetObjectItem(c, "expected")->valuestring;
    azc_chat_detection_t d;
    azc_status_t st = azc_chat_template_detect(tmpl, strlen(tmpl), "<s>", "</s>", &d);
    ASSERT_OK(st);
    if (!d.guess[0]) {
      fprintf(stderr, "  %s: no heuristic match\n", name);
      failed++;
      continue;
    }
    azc_chat_template_t *t;
    ASSERT_OK(azc_chat_template_builtin(d.guess, &t));
    char *got = render(t, msgs, n, true);
    if (!got || strcmp(got, want)) {
      fprintf(stderr, "  %s (%s):\n    got  %s\n    want %s\n", name, d.guess,
              got ? got : "(error)", want);
      failed++;
    }
    free(got);
    azc_chat_template_destroy(t);
    checked++;
  }
  cJSON_Delete(doc);
  fprintf(stderr, "  %d of llama.cpp's template cases rendered as llama.cpp renders them\n",
          checked - failed);
  ASSERT_EQ_INT(failed, 0);
  ASSERT(checked >= 30);
}

static void test_builtin_names(void) {
  const char *const *names;
  size_t n = azc_chat_template_builtin_names(&names);
  ASSERT_EQ_INT(n, 38); /* llama.cpp's LLM_CHAT_TEMPLATES */
  static const char *const required[] = {
      "chatml",    "llama2",     "llama2-sys", "llama2-sys-bos", "llama2-sys-strip",
      "llama3",    "mistral-v1", "mistral-v3", "mistral-v7",     "phi3",
      "phi4",      "gemma",      "zephyr",     "deepseek",       "deepseek3",
      "command-r", "falcon3",    "granite"};
  for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++) {
    azc_chat_template_t *t;
    ASSERT_OK(azc_chat_template_builtin(required[i], &t));
    ASSERT_STREQ(azc_chat_template_name(t), required[i]);
    const char *const *stops;
    ASSERT(azc_chat_template_stops(t, &stops) >= 1);
    azc_chat_template_destroy(t);
  }
  azc_chat_template_t *t;
  ASSERT_ERR(azc_chat_template_builtin("nope", &t), AZC_NOT_FOUND, "there are: chatml");
}

/* ---- detection with verification ---- */

static const char CHATML_JINJA[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' "
    "}}{% endif %}";

static void test_detect_accepts_exact(void) {
  azc_chat_detection_t d;
  ASSERT_OK(azc_chat_template_detect(CHATML_JINJA, strlen(CHATML_JINJA), "", "<|im_end|>", &d));
  ASSERT_STREQ(d.name, "chatml");
  ASSERT_STREQ(d.reason, "");
  /* a builtin's name is a template too, as in llama.cpp */
  ASSERT_OK(azc_chat_template_detect("llama3", 6, "", "", &d));
  ASSERT_STREQ(d.name, "llama3");
  /* a Llama 3 template without the date line, with lstrip/trim and '-' markers */
  static const char l3[] =
      "{{- bos_token }}\n{%- for message in messages %}\n    {{- '<|start_header_id|>' + "
      "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' "
      "}}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- "
      "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n";
  ASSERT_OK(azc_chat_template_detect(l3, strlen(l3), "<|begin_of_text|>", "<|eot_id|>", &d));
  ASSERT_MSG(!strcmp(d.name, "llama3"), "refused: %s", d.reason);
}

static void test_detect_refuses(void) {
  azc_chat_detection_t d;
  /* chatml with a default system prompt: llama.cpp's heuristic says chatml, the renderings differ
   */
  static const char qwenish[] =
      "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
      "helpful.<|im_end|>\\n' "
      "}}{% endif %}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
      "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|im_start|>assistant\\n' }}{% endif %}";
  ASSERT_OK(azc_chat_template_detect(qwenish, strlen(qwenish), "", "", &d));
  ASSERT_STREQ(d.name, "");
  ASSERT_STREQ(d.guess, "chatml");
  ASSERT_MSG(strstr(d.reason, "renders differently") && strstr(d.reason, "You are helpful"), "%s",
             d.reason);
  ASSERT(d.jinja); /* not a builtin: applied by evaluating it (test_jinja_kind) */
  /* a construct azc's evaluator does not have */
  static const char call[] =
      "{% macro x() %}{{ caller() }}{% endmacro %}{% call x() %}<|im_start|>{% endcall %}";
  ASSERT_OK(azc_chat_template_detect(call, strlen(call), "", "", &d));
  ASSERT_STREQ(d.name, "");
  ASSERT(!d.jinja);
  ASSERT_MSG(strstr(d.reason, "cannot evaluate") && strstr(d.reason, "caller"), "%s", d.reason);
  /* not a format llama.cpp knows, and it drops the user's message when a
   * system message comes first: not applied either */
  ASSERT_OK(azc_chat_template_detect("{{ messages[0].content }}", 25, "", "", &d));
  ASSERT_STREQ(d.name, "");
  ASSERT_STREQ(d.guess, "");
  ASSERT(!d.jinja);
  ASSERT_MSG(strstr(d.reason, "not a format llama.cpp recognises") &&
                 strstr(d.reason, "does not write the user's message"),
             "%s", d.reason);
  /* a syntax error */
  ASSERT_OK(azc_chat_template_detect("<|im_start|>{% if %}", 20, "", "", &d));
  ASSERT_STREQ(d.name, "");
  ASSERT(!d.jinja);
  /* a template that raises on a plain conversation */
  static const char raises[] = "<|im_start|>{{ raise_exception('no') }}";
  ASSERT_OK(azc_chat_template_detect(raises, strlen(raises), "", "", &d));
  ASSERT(strstr(d.reason, "raises an error"));
  ASSERT(!d.jinja);
}

static void test_detect_system_error(void) {
  /* gemma's official template raises for a system message: accepted, and
   * azc refuses system messages as the template would */
  static const char gemma[] =
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
      "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
      "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}{% endif "
      "%}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
      "message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | "
      "trim "
      "+ '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt "
      "%}{{'<start_of_turn>model\\n'}}"
      "{% endif %}";
  azc_chat_detection_t d;
  ASSERT_OK(azc_chat_template_detect(gemma, strlen(gemma), "<bos>", "<eos>", &d));
  ASSERT_MSG(!strcmp(d.name, "gemma"), "%s", d.reason);
  ASSERT(d.system_error);
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_for_model(d.name, d.system_error, "<eos>", &t));
  azc_chat_message_t m[] = {{"system", "S"}, {"user", "Hi"}};
  char *out = NULL;
  ASSERT_ERR(azc_chat_template_apply(t, m, 2, true, &out, NULL), AZC_UNSUPPORTED,
             "does not accept a system message");
  out = render(t, m + 1, 1, true);
  ASSERT_STREQ(out, "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
  free(out);
  azc_chat_template_destroy(t);
}

static void test_trailing_eos_removed(void) {
  /* a conversation that ends with an assistant message and no generation
   * prompt continues it: one trailing EOS text is cut, as llama.cpp does */
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_for_model("mistral-v3-tekken", false, "</s>", &t));
  azc_chat_message_t m[] = {{"user", "Hi"}, {"assistant", "Hello"}};
  char *out = render(t, m, 2, false);
  ASSERT_STREQ(out, "[INST]Hi[/INST]Hello");
  free(out);
  azc_chat_template_destroy(t);
  ASSERT_OK(azc_chat_template_builtin("mistral-v3-tekken", &t)); /* no model: nothing cut */
  out = render(t, m, 2, false);
  ASSERT_STREQ(out, "[INST]Hi[/INST]Hello</s>");
  free(out);
  azc_chat_template_destroy(t);
}

/* ---- Go templates ---- */

static char *go(const char *src, const azc_chat_message_t *m, size_t n) {
  azc_chat_template_t *t;
  azc_status_t st = azc_chat_template_go(src, strlen(src), &t);
  if (st) {
    fprintf(stderr, "  parse: %s\n", azc_status_message(st));
    azc_status_free(st);
    return NULL;
  }
  char *out = render(t, m, n, true);
  azc_chat_template_destroy(t);
  return out;
}

static void test_go_legacy_turns(void) {
  /* no .Messages: run once per turn; the last run stops after {{ .Response }} */
  static const char tmpl[] = "{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}{{ if "
                             ".Prompt }}<|user|>\n{{ .Prompt }}<|end|>\n{{ end }}<|assistant|>\n{{ "
                             ".Response }}<|end|>\n";
  azc_chat_message_t m[] = {
      {"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};
  char *out = go(tmpl, m, 4);
  ASSERT_STREQ(out,
               "<|system|>\nBe kind.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
               "<|user|>\nBye<|end|>\n<|assistant|>\n");
  free(out);
  /* a template without .Response gets it appended (Ollama's Parse) */
  azc_chat_message_t one[] = {{"user", "x"}};
  out = go("Q: {{ .Prompt }} A:", one, 1);
  ASSERT_STREQ(out, "Q: x A:");
  free(out);
  out = go("{{ .Prompt }}", m, 4); /* Ollama's default template */
  ASSERT_STREQ(out, "HiHello!Bye");
  free(out);
}

static void test_go_messages(void) {
  /* Ollama's llama3.2 template, without the tool branches */
  static const char tmpl[] =
      "<|start_header_id|>system<|end_header_id|>\n\n{{ if .System }}{{ .System }}\n"
      "{{- end }}<|eot_id|>\n"
      "{{- range $i, $_ := .Messages }}\n"
      "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
      "{{- if eq .Role \"user\" }}<|start_header_id|>user<|end_header_id|>\n\n"
      "{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>\n\n"
      "{{ end }}\n"
      "{{- else if eq .Role \"assistant\" }}<|start_header_id|>assistant<|end_header_id|>\n"
      "{{- if .ToolCalls }}{{ range .ToolCalls }}{{ .Function.Name }}{{ end }}\n"
      "{{- else }}\n\n{{ .Content }}\n{{- end }}{{ if not $last }}<|eot_id|>{{ end }}\n"
      "{{- end }}\n{{- end }}";
  azc_chat_message_t m[] = {
      {"system", "S"}, {"user", "A"}, {"user", "B"}, {"assistant", "C"}, {"user", "D"}};
  char *out = go(tmpl, m, 5);
  ASSERT_STREQ(out, "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nA\n\nB<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\nC<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nD<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n");
  free(out);
}

static void test_go_language(void) {
  azc_chat_message_t m[] = {{"user", "a<b"}, {"assistant", "c"}};
  struct {
    const char *tmpl, *want;
  } cases[] = {
      {"{{- /* a comment */ -}} x {{- \" y \" -}} z{{ .Messages | len }}", "x y z2"},
      {"{{ range .Messages }}[{{ .Role }}]{{ else }}none{{ end }}", "[user][assistant]"},
      {"{{ range $m := .Messages }}{{ if eq $m.Role \"assistant\" }}{{ break }}{{ end }}{{ "
       "$m.Content }}{{ end }}",
       "a<b"},
      {"{{ range .Messages }}{{ if ne .Role \"user\" }}{{ continue }}{{ end }}U{{ end }}", "U"},
      /* no .Messages: Ollama's per-turn run, {{ .Response }} appended */
      {"{{ $x := \"1\" }}{{ if true }}{{ $x = \"2\" }}{{ end }}{{ $x }}", "2c"},
      {"{{ with .System }}has{{ else }}no system{{ end }}{{ .Messages }}", ""},
      {"{{ printf \"%s-%d-%q\" \"a\" 3 \"b\" }}|{{ print 1 2 \"x\" }}|{{ json (index .Messages "
       "0).Content }}",
       "a-3-\"b\"|1 2x|\"a\\u003cb\""},
      {"{{ if and .Messages (not .System) }}yes{{ end }}{{ or \"\" \"z\" }}{{ .Missing }}",
       "yesz<no value>"},
      {"{{ if lt (len .Messages) 1 }}few{{ else if gt (len .Messages) 1 }}many{{ else }}one{{ "
       "end }}",
       "many"},
      {"{{ (index .Messages 1).Role }}{{ slice \"abcdef\" 1 3 }}{{ `raw\\n` }}",
       "assistantbcraw\\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    char *out = go(cases[i].tmpl, m, 2);
    if (i == 5) { /* printing the list of messages is refused, not guessed */
      ASSERT(!out);
      continue;
    }
    ASSERT_MSG(out && !strcmp(out, cases[i].want), "case %zu: got \"%s\", want \"%s\"", i,
               out ? out : "(error)", cases[i].want);
    free(out);
  }
}

#define GO(src, t) azc_chat_template_go((src), strlen(src), (t))

static void test_go_errors(void) {
  azc_chat_template_t *t;
  ASSERT_ERR(GO("a\n{{ if .System }}", &t), AZC_INVALID_ARGUMENT, "missing {{ end }}");
  ASSERT_ERR(GO("{{ .Prompt", &t), AZC_INVALID_ARGUMENT, "unclosed action");
  ASSERT_ERR(GO("x\n\n{{ define \"t\" }}{{ end }}", &t), AZC_INVALID_ARGUMENT, "line 3");
  ASSERT_ERR(GO("{{ end }}", &t), AZC_INVALID_ARGUMENT, "unexpected");
  ASSERT_ERR(GO("{{ break }}", &t), AZC_INVALID_ARGUMENT, "outside");
  ASSERT_OK(GO("{{ range .Messages }}{{ .Nope }}{{ end }}", &t));
  azc_chat_message_t m[] = {{"user", "x"}};
  char *out = NULL;
  ASSERT_ERR(azc_chat_template_apply(t, m, 1, true, &out, NULL), AZC_INVALID_ARGUMENT,
             "can't evaluate field Nope");
  azc_chat_template_destroy(t);
  ASSERT_ERR(GO("{{ frob 1 }}", &t), AZC_INVALID_ARGUMENT,
             "function \"frob\" not defined"); /* at parse time, as Go */
}

/* ---- the bundle's chat section ---- */

static void test_chat_info_roundtrip(void) {
  azc_chat_info_t *ci = azc_chat_info_create();
  ASSERT(ci);
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE, "{{ .Prompt }}", 13));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_SYSTEM, "Be brief.", 9));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_NAME, "chatml", 6));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_NO_SYSTEM, "", 0));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_JINJA, "why not", 7));
  ASSERT_OK(azc_chat_info_add_message(ci, "user", "Hi"));
  ASSERT_OK(azc_chat_info_add_message(ci, "assistant", "Hello"));
  ASSERT_OK(azc_chat_info_add_param(ci, "stop", "<|end|>"));
  ASSERT_OK(azc_chat_info_add_param(ci, "temperature", "0.5"));
  ASSERT_OK(azc_chat_info_add_license(ci, "MIT"));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_MODELFILE, "FROM x\n", 7));
  uint8_t *blob;
  size_t n;
  ASSERT_OK(azc_chat_info_serialize(ci, &blob, &n));
  azc_chat_info_t *back;
  ASSERT_OK(azc_chat_info_parse(blob, n, &back));
  ASSERT_STREQ(back->template_src, "{{ .Prompt }}");
  ASSERT_STREQ(back->system, "Be brief.");
  ASSERT_STREQ(back->template_name, "chatml");
  ASSERT_STREQ(back->template_jinja, "why not");
  ASSERT(back->no_system);
  ASSERT_EQ_INT(back->n_messages, 2);
  ASSERT_STREQ(back->msg_content[1], "Hello");
  ASSERT_EQ_INT(back->n_params, 2);
  ASSERT_STREQ(back->param_value[0], "<|end|>");
  ASSERT_STREQ(back->licenses[0], "MIT");
  ASSERT_STREQ(back->modelfile, "FROM x\n");
  ASSERT(!back->draft);
  /* Ollama's order: SYSTEM (the conversation has none), MESSAGEs, the conversation */
  azc_chat_message_t conv[] = {{"user", "Q"}}, *all;
  size_t n_all;
  ASSERT_OK(azc_chat_info_messages(back, conv, 1, &all, &n_all));
  ASSERT_EQ_INT(n_all, 4);
  ASSERT_STREQ(all[0].role, "system");
  ASSERT_STREQ(all[1].content, "Hi");
  ASSERT_STREQ(all[3].content, "Q");
  free(all);
  azc_chat_message_t conv2[] = {{"system", "mine"}, {"user", "Q"}};
  ASSERT_OK(azc_chat_info_messages(back, conv2, 2, &all, &n_all));
  ASSERT_EQ_INT(n_all, 4);
  ASSERT_STREQ(all[2].content, "mine");
  free(all);
  /* every truncation and every single-byte change either parses or is CORRUPT */
  int corrupt = 0;
  for (size_t cut = 0; cut < n; cut++) {
    azc_chat_info_t *x = NULL;
    azc_status_t st = azc_chat_info_parse(blob, cut, &x);
    ASSERT(st && azc_status_code(st) == AZC_CORRUPT && !x);
    azc_status_free(st);
    corrupt++;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t save = blob[i];
    blob[i] ^= 0x5a;
    azc_chat_info_t *x = NULL;
    azc_status_t st = azc_chat_info_parse(blob, n, &x);
    ASSERT(!st == !!x);
    if (st) ASSERT_EQ_INT(azc_status_code(st), AZC_CORRUPT);
    azc_status_free(st);
    azc_chat_info_destroy(x);
    blob[i] = save;
  }
  fprintf(stderr, "  %d truncations refused\n", corrupt);
  free(blob);
  azc_chat_info_destroy(back);
  azc_chat_info_destroy(ci);
}

static void test_chat_info_template_choice(void) {
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_info_template(NULL, NULL, &t)); /* no chat data: Ollama's {{ .Prompt }} */
  ASSERT_STREQ(azc_chat_template_name(t), "modelfile");
  azc_chat_template_destroy(t);
  azc_chat_info_t *ci = azc_chat_info_create();
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_GGUF_TEMPLATE, "{{ x }}", 7));
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_REFUSAL, "not recognised here", 19));
  ASSERT_ERR(azc_chat_info_template(ci, NULL, &t), AZC_UNSUPPORTED, "not recognised here");
  /* the jinja kind: the GGUF template itself */
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_JINJA, "not a builtin", 13));
  ASSERT_OK(azc_chat_info_template(ci, NULL, &t));
  ASSERT_STREQ(azc_chat_template_name(t), "jinja");
  azc_chat_message_t m[] = {{"user", "Q"}};
  char *out = render(t, m, 1, true);
  ASSERT_STREQ(out, "");
  free(out);
  azc_chat_template_destroy(t);
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_NAME, "phi3", 4)); /* a builtin wins */
  ASSERT_OK(azc_chat_info_template(ci, NULL, &t));
  ASSERT_STREQ(azc_chat_template_name(t), "phi3");
  azc_chat_template_destroy(t);
  ASSERT_OK(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE, "{{ .Prompt }}", 13)); /* TEMPLATE wins */
  ASSERT_OK(azc_chat_info_template(ci, NULL, &t));
  ASSERT_STREQ(azc_chat_template_name(t), "modelfile");
  azc_chat_template_destroy(t);
  azc_chat_info_destroy(ci);
}

/* ---- the Jinja evaluator: macros, block set, filter blocks, strftime_now ---- */

/* Renders src with azc's evaluator (messages: a system and a user message,
 * strftime_now at 2024-07-26 00:00 UTC); the expected texts are what
 * python3-jinja2 renders in Hugging Face's environment. */
static azc_jinja_result_t jinja(const char *src, azc_buf_t *out, char *err, size_t cap) {
  static const azc_chat_message_t msgs[] = {{"system", "S"}, {"user", "Hi"}};
  azc_jinja_t *j = NULL;
  azc_jinja_result_t r = azc_jinja_parse(src, strlen(src), &j, err, cap);
  if (r == AZC_JINJA_OK)
    r = azc_jinja_render(j, msgs, 2, false, "", "", 1721952000, NULL, out, err, cap);
  azc_jinja_free(j);
  return r;
}

static void test_jinja_macros(void) {
  static const char *const cases[][2] = {
      /* positional, keyword, defaults (one from an earlier parameter) */
      {"{% macro greet(name, punct='!', sep=punct ~ ' ') %}Hello {{ name }}{{ sep }}{% endmacro %}"
       "{{ greet('a') }}|{{ greet('b', '?') }}|{{ greet(name='c', sep='; ') }}|"
       "{{ greet('d', punct='.') }}",
       "Hello a! |Hello b? |Hello c; |Hello d. "},
      /* a macro's set stays inside; it sees the top level, not the caller's loop */
      {"{% macro m(x) %}{% set y = x * 2 %}[{{ y }}]{% endmacro %}{% set y = 1 %}{{ m(3) }}{{ y }}",
       "[6]1"},
      {"{% set top = 'T' %}{% macro m() %}{{ top }}{{ item is defined }}{% endmacro %}"
       "{% for item in [1] %}{{ m() }}{% endfor %}",
       "TFalse"},
      {"{% macro m(a, b) %}<{{ a }}|{{ b }}>{% endmacro %}{{ m(1) }}", "<1|>"},
      {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}"
       "{% endmacro %}{{ fact(4) }}",
       "4*3*2*1"},
      /* trim_blocks, lstrip_blocks and '-' around macro tags */
      {"{%- macro line(m) -%}\n  {{ m.role }}: {{ m.content }}\n{%- endmacro -%}\n"
       "{% for m in messages %}\n{{ line(m) }}\n{% endfor %}",
       "system: S\nuser: Hi\n"},
      {"{% macro m() %}x{% endmacro %}{{ m() ~ m() }}{{ m() | length }}{{ m is callable }}",
       "xx1True"},
      /* block set: captures, keeps its own assignments inside, sets namespace attributes */
      {"{% set x %}\n  block {{ messages[1].content }}\n{% endset %}[{{ x }}]{{ x | length }}",
       "[  block Hi\n]11"},
      {"{% set ns = namespace(t='') %}{% for m in messages %}{% set ns.t %}{{ ns.t }}"
       "{{ m.role[0] }}{% endset %}{% endfor %}{{ ns.t }}",
       "su"},
      {"{% set x %}{% set inner = 1 %}a{% endset %}{{ inner is defined }}{{ x }}", "Falsea"},
      {"{%- filter upper -%}\n  hi {{ messages[0].content }}\n{%- endfilter %}|"
       "{% filter trim | replace('a', 'b') %}  aa  {% endfilter %}",
       "HI S|bb"},
      {"{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}", "26 Jul 2024|2024-07-26"},
      /* indent and unique (command-r-plus's and functionary v3.2's tool branches) */
      {"{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, first=true) }}|"
       "{{ 'x\\n\\ny\\n' | indent(1, blank=true) }}|{{ 'p\\r\\nq\\r' | indent('> ') }}|"
       "{{ '' | indent(first=true) }}",
       "a\n    b\n\n    c|  a\n  b|x\n \n y\n |p\n> q|    "},
      {"{{ ['foo', 'bar', 'foobar', 'FooBar'] | unique | list }}|"
       "{{ ['a', 'A'] | unique(case_sensitive=true) | list }}|{{ [1, 1.0, True, 2] | unique | list "
       "}}|"
       "{{ [{'t': 'x'}, {'t': 'X'}, {'t': 'y'}] | map(attribute='t') | unique | join(',') }}|"
       "{{ [{'t': 'x', 'i': 1}, {'t': 'x', 'i': 2}] | unique(attribute='t') | map(attribute='i') "
       "| list }}",
       "['foo', 'bar', 'foobar']|['a', 'A']|[1, 2]|x,y|[1]"},
      /* mixed int/float arithmetic and int64 edges (fuzz_chat_jinja found the first) */
      {"{{ 2.5 + 1 }}|{{ 7 // 2.0 }}|{{ 7.5 % 2 }}|{{ (-1) ** 65 }}|{{ 2 ** 62 }}|"
       "{{ range(1, 9223372036854775807, 9223372036854775807) | list }}|"
       "{{ [1, 2, 3][1::9223372036854775807] }}|{{ -2.5 | abs }}|{{ 3.9 | int }}",
       "3.5|3.0|1.5|-1|4611686018427387904|[1]|[2]|2.5|3"},
  };
  char err[256];
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    azc_buf_t b = {0};
    azc_jinja_result_t r = jinja(cases[i][0], &b, err, sizeof(err));
    ASSERT_MSG(r == AZC_JINJA_OK, "case %zu: result %d: %s", i, (int)r, err);
    ASSERT_MSG(!strcmp(b.data ? b.data : "", cases[i][1]), "case %zu: got '%s', want '%s'", i,
               b.data ? b.data : "", cases[i][1]);
    azc_buf_free(&b);
  }
  /* calls Jinja rejects, and what azc does not implement */
  static const char *const errors[][2] = {
      {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", "takes not more than 1 argument"},
      {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}", "takes no keyword argument 'b'"},
  };
  for (size_t i = 0; i < sizeof(errors) / sizeof(*errors); i++) {
    azc_buf_t b = {0};
    ASSERT_MSG(jinja(errors[i][0], &b, err, sizeof(err)) == AZC_JINJA_ERROR, "error case %zu", i);
    ASSERT_MSG(strstr(err, errors[i][1]), "error case %zu: '%s'", i, err);
    azc_buf_free(&b);
  }
  azc_buf_t b = {0};
  ASSERT(jinja("{% macro m() %}{{ varargs }}{% endmacro %}{{ m(1) }}", &b, err, sizeof(err)) ==
         AZC_JINJA_UNSUPPORTED);
  ASSERT_MSG(strstr(err, "'varargs' in a macro"), "%s", err);
  ASSERT(jinja("{% for i in [1] %}{% macro m() %}{% endmacro %}{% endfor %}", &b, err,
               sizeof(err)) == AZC_JINJA_UNSUPPORTED);
  ASSERT(jinja("{% macro m(a=1, b) %}{% endmacro %}", &b, err, sizeof(err)) ==
         AZC_JINJA_UNSUPPORTED); /* a syntax error in Jinja; azc refuses the template */
  ASSERT(jinja("{% set x %}never closed", &b, err, sizeof(err)) == AZC_JINJA_UNSUPPORTED);
  /* beyond int64 (Python's ints would not overflow): refused, not wrapped */
  ASSERT(jinja("{{ 2 ** 64 }}", &b, err, sizeof(err)) == AZC_JINJA_UNSUPPORTED);
  ASSERT(jinja("{{ 9223372036854775807 + 1 }}", &b, err, sizeof(err)) == AZC_JINJA_UNSUPPORTED);
  ASSERT(jinja("{{ (-9223372036854775807 - 1) // -1 }}", &b, err, sizeof(err)) ==
         AZC_JINJA_UNSUPPORTED);
  /* a failure inside a macro frees what the macro had rendered (ASan checks) */
  ASSERT(jinja("{% macro m() %}partial output{{ raise_exception('stop') }}{% endmacro %}{{ m() }}",
               &b, err, sizeof(err)) == AZC_JINJA_RAISED);
  azc_buf_free(&b);
}

/* ---- the jinja kind: GGUF templates azc applies by evaluating them ---- */

/* chatml with a default system prompt and a date line: llama.cpp's heuristic
 * says chatml, the renderings differ, so azc evaluates it */
static const char QWENISH[] =
    "{{ bos_token }}{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
    "helpful. Today is ' + strftime_now('%d %b %Y') + '.<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' }}{% endif %}";

static void test_jinja_kind(void) {
  azc_chat_detection_t d;
  ASSERT_OK(azc_chat_template_detect(QWENISH, strlen(QWENISH), "<s>", "<|im_end|>", &d));
  ASSERT_STREQ(d.name, "");
  ASSERT_MSG(d.jinja, "refused: %s", d.reason);
  ASSERT_MSG(strstr(d.reason, "renders differently from llama.cpp's chatml format"), "%s",
             d.reason);
  ASSERT(!d.system_error);
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_jinja(QWENISH, strlen(QWENISH), "<s>", "<|im_end|>", true, &t));
  ASSERT_STREQ(azc_chat_template_name(t), "jinja");
  const char *const *stops;
  ASSERT_EQ_INT(azc_chat_template_stops(t, &stops), 2); /* chatml's, the heuristic's format */
  ASSERT_STREQ(stops[1], "<|im_end|>");
  azc_chat_template_set_time(t, 1721952000); /* 2024-07-26 */
  azc_chat_message_t m[] = {{"user", "Hi"}, {"assistant", "Hello"}};
  /* the leading bos_token is cut (the tokenizer adds the BOS) */
  char *out = render(t, m, 1, true);
  ASSERT_STREQ(out, "<|im_start|>system\nYou are helpful. Today is 26 Jul 2024.<|im_end|>\n"
                    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  free(out);
  /* no generation prompt: the conversation ends "<|im_end|>\n", nothing cut */
  out = render(t, m, 2, false);
  ASSERT(out && !strncmp(out, "<|im_start|>system", 18) &&
         strstr(out, "<|im_start|>assistant\nHello<|im_end|>\n"));
  free(out);
  azc_chat_template_destroy(t);
  /* a tokenizer that adds no BOS: the template's own bos_token stays */
  ASSERT_OK(azc_chat_template_jinja(QWENISH, strlen(QWENISH), "<s>", "<|im_end|>", false, &t));
  out = render(t, m, 1, true);
  ASSERT(out && !strncmp(out, "<s><|im_start|>system", 21));
  free(out);
  /* strftime_now, not fixed: today's local date */
  char today[64];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(today, sizeof(today), "Today is %d %b %Y.", &tm);
  out = render(t, m, 1, true);
  ASSERT_MSG(out && strstr(out, today), "'%s' lacks '%s'", out ? out : "(error)", today);
  free(out);
  azc_chat_template_destroy(t);
  /* one trailing eos_token is cut, as for the builtins */
  static const char eos_end[] = "{% for m in messages %}[{{ m.role }}] {{ m.content }}"
                                "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[a] "
                                "{% endif %}";
  ASSERT_OK(azc_chat_template_detect(eos_end, strlen(eos_end), "", "</s>", &d));
  ASSERT_MSG(d.jinja && strstr(d.reason, "not a format llama.cpp recognises"), "%s", d.reason);
  ASSERT_OK(azc_chat_template_jinja(eos_end, strlen(eos_end), "", "</s>", true, &t));
  ASSERT_EQ_INT(azc_chat_template_stops(t, &stops), 0); /* no heuristic format: EOG tokens only */
  out = render(t, m, 2, false);
  ASSERT_STREQ(out, "[user] Hi</s>[assistant] Hello");
  free(out);
  azc_chat_template_destroy(t);
}

static void test_jinja_raise(void) {
  /* a template that rejects system messages (and is no builtin): applying
   * it to one is an error carrying the template's message, not a crash */
  static const char nosys[] =
      "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not "
      "supported by this model') }}{% endif %}<|user|>{{ m.content }}<|end|>{% endfor %}"
      "{% if add_generation_prompt %}<|bot|>{% endif %}";
  azc_chat_detection_t d;
  ASSERT_OK(azc_chat_template_detect(nosys, strlen(nosys), "", "", &d));
  ASSERT_MSG(d.jinja, "refused: %s", d.reason);
  ASSERT(d.system_error);
  azc_chat_template_t *t;
  ASSERT_OK(azc_chat_template_jinja(nosys, strlen(nosys), "", "", true, &t));
  azc_chat_message_t m[] = {{"system", "S"}, {"user", "Hi"}};
  char *out = NULL;
  ASSERT_ERR(azc_chat_template_apply(t, m, 2, true, &out, NULL), AZC_INVALID_ARGUMENT,
             "rejects this conversation: \"System role not supported by this model\"");
  ASSERT(!out);
  out = render(t, m + 1, 1, true);
  ASSERT_STREQ(out, "<|user|>Hi<|end|><|bot|>");
  free(out);
  /* a Jinja error on the data (an item of an undefined value) is an error too */
  static const char bad[] = "{{ messages[0].content }}{{ messages[5].content.x }}";
  azc_chat_template_destroy(t);
  ASSERT_OK(azc_chat_template_jinja(bad, strlen(bad), "", "", true, &t));
  ASSERT_ERR(azc_chat_template_apply(t, m, 2, true, &out, NULL), AZC_INVALID_ARGUMENT,
             "fails on this conversation");
  azc_chat_template_destroy(t);
  /* what the evaluator lacks for this data (non-ASCII upper-casing) names it */
  static const char up[] = "{% for m in messages %}{{ m.content | upper }}{% endfor %}";
  ASSERT_OK(azc_chat_template_jinja(up, strlen(up), "", "", true, &t));
  azc_chat_message_t u[] = {{"user", "Привет"}};
  ASSERT_ERR(azc_chat_template_apply(t, u, 1, true, &out, NULL), AZC_UNSUPPORTED,
             "changing the case of non-ASCII text");
  out = render(t, (azc_chat_message_t[]){{"user", "hi"}}, 1, true);
  ASSERT_STREQ(out, "HI");
  free(out);
  azc_chat_template_destroy(t);
}

static void test_jinja_refuses(void) {
  /* a construct azc's evaluator lacks, planted where no conversation
   * reaches (a tools branch): refused by name, by detection and by the
   * constructor, never applied */
#define LOOP                                                                                       \
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
  static const char *const cases[][2] = {
      {"{% if tools %}{{ tools | wordwrap(40) }}{% endif %}" LOOP, "line 1: the filter 'wordwrap'"},
      {"{% if tools is iterable_thing %}x{% endif %}" LOOP, "the test 'iterable_thing'"},
      {LOOP "{% if tools %}{{ tools[0].name.zfill(3) }}{% endif %}", "the method 'zfill'"},
      {LOOP "{% if tools %}{% set c = cycler('a', 'b') %}{% endif %}", "the function 'cycler'"},
      {LOOP "{{ messages | map('wordcount') | list }}", "the filter 'wordcount'"},
      {LOOP "{{ messages | selectattr('role', 'matching', 'x') | list }}", "the test 'matching'"},
      {LOOP "{% if tools %}{{ tools.append(1) }}{% endif %}", "the method 'append'"},
      {"{% for m in messages %}{{ m.content }}{% endfor %}{% include 'x' %}", "'include'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    const char *src = cases[i][0];
    azc_chat_detection_t d;
    ASSERT_OK(azc_chat_template_detect(src, strlen(src), "", "", &d));
    ASSERT_MSG(!d.jinja && !d.name[0], "case %zu applied", i);
    ASSERT_MSG(strstr(d.reason, "cannot evaluate") && strstr(d.reason, cases[i][1]), "case %zu: %s",
               i, d.reason);
    azc_chat_template_t *t = NULL;
    ASSERT_ERR(azc_chat_template_jinja(src, strlen(src), "", "", true, &t), AZC_UNSUPPORTED,
               cases[i][1]);
    ASSERT(!t);
  }
#undef LOOP
  /* untrusted nesting: refused, not a stack overflow (parser, check and evaluator recurse) */
  {
    size_t depth = 100000, len = 0;
    char *deep = malloc(depth * 24 + 1);
    ASSERT(deep);
    for (size_t i = 0; i < depth; i++) len += (size_t)sprintf(deep + len, "{%% if x %%}");
    for (size_t i = 0; i < depth; i++) len += (size_t)sprintf(deep + len, "{%% endif %%}");
    azc_chat_detection_t dd;
    ASSERT_OK(azc_chat_template_detect(deep, len, "", "", &dd));
    ASSERT_MSG(!dd.jinja && strstr(dd.reason, "statements nested too deeply"), "%s", dd.reason);
    free(deep);
  }
  /* a macro the template defines is a function it may call */
  static const char macro[] = "{% macro turn(m) %}<{{ m.role }}>{{ m.content }}{% endmacro %}"
                              "{% for m in messages %}{{ turn(m) }}{% endfor %}";
  azc_chat_detection_t d;
  ASSERT_OK(azc_chat_template_detect(macro, strlen(macro), "", "", &d));
  ASSERT_MSG(d.jinja, "%s", d.reason);
  /* one that rewrites multi-line contents still writes the user's messages */
  static const char joins[] = "{% for m in messages %}[{{ m.role }}] {{ m.content | replace('\\n', "
                              "' ') }}\n{% endfor %}";
  ASSERT_OK(azc_chat_template_detect(joins, strlen(joins), "", "", &d));
  ASSERT_MSG(d.jinja, "%s", d.reason);
}

/* Whether the evaluator has method `name` on the receiver (a string or a
 * dict literal): the call may fail on its argument, but not as an unknown
 * or unimplemented method. */
static bool has_method(const char *receiver, const char *name) {
  char src[128], err[256];
  snprintf(src, sizeof(src), "{{ %s.%s('a') }}", receiver, name);
  azc_buf_t b = {0};
  azc_jinja_result_t r = jinja(src, &b, err, sizeof(err));
  azc_buf_free(&b);
  return !(r == AZC_JINJA_ERROR && strstr(err, "calling an undefined value")) &&
         !(r == AZC_JINJA_UNSUPPORTED && strstr(err, "method"));
}

/* Every name the up-front check accepts is one the evaluator has: its
 * rendering may fail on these arguments, but not as an unknown name. */
static void test_jinja_known_names(void) {
  static const char *const fmt[] = {
      [AZC_JINJA_KNOWN_FILTERS] = "{{ [1, 2] | %s }}",
      [AZC_JINJA_KNOWN_TESTS] = "{{ [1, 2] | select('%s', 1) | list }}",
      [AZC_JINJA_KNOWN_FUNCTIONS] = "{{ %s(1) }}",
  };
  static const char *const unknown[] = {"the filter '", "the test '", "", "call"};
  int checked = 0;
  for (int k = 0; k < 4; k++) {
    const char *const *names;
    size_t n = azc_jinja_known(k, &names);
    ASSERT(n >= 5);
    for (size_t i = 0; i < n; i++, checked++) {
      if (k == AZC_JINJA_KNOWN_METHODS) {
        ASSERT_MSG(has_method("'a b'", names[i]) || has_method("{'a': 1}", names[i]), "method %s",
                   names[i]);
        continue;
      }
      char src[256], err[256];
      snprintf(src, sizeof(src), fmt[k], names[i]);
      azc_buf_t b = {0};
      azc_jinja_result_t r = jinja(src, &b, err, sizeof(err));
      ASSERT_MSG(r != AZC_JINJA_UNSUPPORTED || !strstr(err, unknown[k]), "%s: %s", src, err);
      azc_buf_free(&b);
    }
  }
  /* and the check itself: names the evaluator lacks are not accepted */
  ASSERT(!has_method("'a b'", "zfill") && !has_method("{'a': 1}", "update"));
  fprintf(stderr, "  %d filter, test, method and function names evaluated\n", checked);
}

int main(void) {
  RUN(test_llama_cpp_vectors);
  RUN(test_builtin_names);
  RUN(test_detect_accepts_exact);
  RUN(test_detect_refuses);
  RUN(test_detect_system_error);
  RUN(test_trailing_eos_removed);
  RUN(test_go_legacy_turns);
  RUN(test_go_messages);
  RUN(test_go_language);
  RUN(test_go_errors);
  RUN(test_chat_info_roundtrip);
  RUN(test_chat_info_template_choice);
  RUN(test_jinja_macros);
  RUN(test_jinja_kind);
  RUN(test_jinja_raise);
  RUN(test_jinja_refuses);
  RUN(test_jinja_known_names);
  return test_summary();
}
