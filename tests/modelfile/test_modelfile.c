/* The Modelfile parser against the cases of Ollama's parser tests
 * (parser/parser_test.go: TestParseFile*, TestParseMultiByte,
 * TestCreateRequest), translated one by one, plus azc's own: error messages
 * that name the file, the line and the word; what azc_modelfile_apply checks
 * (parameter names, types and ranges, deprecated parameters, ADAPTER /
 * RENDERER / PARSER, REQUIRES, TEMPLATE syntax, one FROM) and records;
 * writing commands back; semantic versions. */
#include "frontend/modelfile.h"
#include "tests/test.h"

typedef struct want {
  azc_mf_kind_t kind;
  const char *name, *args;
} want_t;

#define END                                                                                        \
  { AZC_MF_FROM, "END", NULL }
#define F(a)                                                                                       \
  { AZC_MF_FROM, NULL, a }
#define P(n, a)                                                                                    \
  { AZC_MF_PARAMETER, n, a }
#define M(n, a)                                                                                    \
  { AZC_MF_MESSAGE, n, a }
#define K(k, a)                                                                                    \
  { k, NULL, a }

static int cases_run;

/* Parses `in`; checks the commands, or that it fails with `err` in the message. */
static int check(const char *in, size_t len, const want_t *want, const char *err) {
  cases_run++;
  azc_modelfile_t *mf = NULL;
  azc_status_t st = azc_modelfile_parse("Modelfile", in, len, &mf);
  if (err) {
    int ok = st && strstr(azc_status_message(st), err) && !mf;
    if (!ok)
      fprintf(stderr, "  case %d: expected an error with \"%s\", got %s\n", cases_run, err,
              st ? azc_status_message(st) : "success");
    azc_status_free(st);
    azc_modelfile_free(mf);
    return ok;
  }
  if (st) {
    fprintf(stderr, "  case %d: %s\n", cases_run, azc_status_message(st));
    azc_status_free(st);
    return 0;
  }
  size_t n = 0;
  while (want[n].args) n++;
  int ok = mf->n_cmds == n;
  for (size_t i = 0; ok && i < n; i++) {
    const azc_mf_command_t *c = &mf->cmds[i];
    ok = c->kind == want[i].kind && !strcmp(c->args, want[i].args) &&
         (!want[i].name ? !c->name : c->name && !strcmp(c->name, want[i].name));
    if (!ok)
      fprintf(stderr, "  case %d, command %zu: got kind %d name %s args \"%s\", want \"%s\"\n",
              cases_run, i, c->kind, c->name ? c->name : "-", c->args, want[i].args);
  }
  if (mf->n_cmds != n)
    fprintf(stderr, "  case %d: %zu commands, want %zu\n", cases_run, mf->n_cmds, n);
  azc_modelfile_free(mf);
  return ok;
}

#define CHECK(in, ...)                                                                             \
  do {                                                                                             \
    const want_t w_[] = {__VA_ARGS__, END};                                                        \
    ASSERT(check((in), strlen(in), w_, NULL));                                                     \
  } while (0)
#define CHECK_ERR(in, err) ASSERT(check((in), strlen(in), NULL, (err)))

static const char LLAMA3_TEMPLATE[] =
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end "
    "}}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end "
    "}}<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>";

static void
test_ollama_file(void) { /* TestParseFileFile, TestParseFileTrimSpace, TestParseFileDraft */
  char in[2048], in2[2048], tmpl2[1024];
  snprintf(in, sizeof(in),
           "\nFROM model1\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER "
           "param2 value2\nTEMPLATE \"\"\"%s\"\"\"    \n",
           LLAMA3_TEMPLATE);
  CHECK(in, F("model1"), K(AZC_MF_ADAPTER, "adapter1"), K(AZC_MF_LICENSE, "MIT"),
        P("param1", "value1"), P("param2", "value2"), K(AZC_MF_TEMPLATE, LLAMA3_TEMPLATE));
  snprintf(
      in2, sizeof(in2),
      "\nFROM \"     model 1\"\nADAPTER      adapter3\nLICENSE \"MIT       \"\nPARAMETER param1  "
      "      value1\nPARAMETER param2    value2\nTEMPLATE \"\"\"   %s   \"\"\"    \n",
      LLAMA3_TEMPLATE);
  snprintf(tmpl2, sizeof(tmpl2), "   %s   ", LLAMA3_TEMPLATE);
  CHECK(in2, F("     model 1"), K(AZC_MF_ADAPTER, "adapter3"), K(AZC_MF_LICENSE, "MIT       "),
        P("param1", "value1"), P("param2", "value2"), K(AZC_MF_TEMPLATE, tmpl2));
  CHECK("\nFROM base\nDRAFT ./assistant\n", F("base"), K(AZC_MF_DRAFT, "./assistant"));
  CHECK("\nFROM foo\nRENDERER renderer1\n", F("foo"), K(AZC_MF_RENDERER, "renderer1"));
  CHECK("\nFROM foo\nPARSER parser1\n", F("foo"), K(AZC_MF_PARSER, "parser1"));
}

static void test_ollama_from(void) { /* TestParseFileFrom */
  CHECK("FROM \"FOO  BAR  \"", F("FOO  BAR  "));
  CHECK("FROM \"FOO BAR\"\nPARAMETER param1 value1", F("FOO BAR"), P("param1", "value1"));
  CHECK("FROM     FOOO BAR    ", F("FOOO BAR"));
  CHECK("FROM /what/is/the path ", F("/what/is/the path"));
  CHECK("FROM foo", F("foo"));
  CHECK("FROM /path/to/model", F("/path/to/model"));
  CHECK("FROM /path/to/model/fp16.bin", F("/path/to/model/fp16.bin"));
  CHECK("FROM llama3:latest", F("llama3:latest"));
  CHECK("FROM llama3:7b-instruct-q4_K_M", F("llama3:7b-instruct-q4_K_M"));
  CHECK_ERR("", "no FROM line");
  CHECK_ERR("PARAMETER param1 value1", "no FROM line");
  CHECK("PARAMETER param1 value1\nFROM foo", P("param1", "value1"), F("foo"));
  CHECK("PARAMETER what the \nFROM lemons make lemonade ", P("what", "the"),
        F("lemons make lemonade"));
}

static void test_ollama_errors(void) {
  CHECK_ERR("\nFROM foo\nPARAMETER param1\n", "Modelfile:3: PARAMETER param1 needs a value");
  CHECK_ERR("\nFROM foo\nBADCOMMAND param1 value1\n",
            "Modelfile:3: unknown instruction 'BADCOMMAND'");
}

static void test_ollama_messages(void) { /* TestParseFileMessages */
  CHECK("\nFROM foo\nMESSAGE system You are a file parser. Always parse things.\n", F("foo"),
        M("system", "You are a file parser. Always parse things."));
  CHECK("\nFROM foo\nMESSAGE system You are a file parser. Always parse things.", F("foo"),
        M("system", "You are a file parser. Always parse things."));
  CHECK("\nFROM foo\nMESSAGE system You are a file parser. Always parse things.\nMESSAGE user Hey "
        "there!\nMESSAGE assistant Hello, I want to parse all the things!\n",
        F("foo"), M("system", "You are a file parser. Always parse things."),
        M("user", "Hey there!"), M("assistant", "Hello, I want to parse all the things!"));
  CHECK("\nFROM foo\nMESSAGE system \"\"\"\nYou are a multiline file parser. Always parse "
        "things.\n\"\"\"\n\t\t\t",
        F("foo"), M("system", "\nYou are a multiline file parser. Always parse things.\n"));
  CHECK_ERR("\nFROM foo\nMESSAGE badguy I'm a bad guy!\n",
            "Modelfile:3: message role 'badguy' must be one of system, user or assistant");
  CHECK_ERR("\nFROM foo\nMESSAGE system\n", "Modelfile:3: MESSAGE system needs a message");
  CHECK_ERR("\nFROM foo\nMESSAGE system", "MESSAGE system needs a message");
}

static void test_ollama_quoted(void) { /* TestParseFileQuoted */
  CHECK("\nFROM foo\nSYSTEM \"\"\"\nThis is a\nmultiline system.\n\"\"\"\n\t\t\t", F("foo"),
        K(AZC_MF_SYSTEM, "\nThis is a\nmultiline system.\n"));
  CHECK("\nFROM foo\nSYSTEM \"\"\"\nThis is a\nmultiline system.\"\"\"\n\t\t\t", F("foo"),
        K(AZC_MF_SYSTEM, "\nThis is a\nmultiline system."));
  CHECK("\nFROM foo\nSYSTEM \"\"\"This is a\nmultiline system.\"\"\"\n\t\t\t", F("foo"),
        K(AZC_MF_SYSTEM, "This is a\nmultiline system."));
  CHECK("\nFROM foo\nSYSTEM \"\"\"This is a multiline system.\"\"\"\n\t\t\t", F("foo"),
        K(AZC_MF_SYSTEM, "This is a multiline system."));
  CHECK_ERR("\nFROM foo\nSYSTEM \"\"\"This is a multiline system.\"\"\n\t\t\t",
            "Modelfile:3: unclosed \"\"\" quote in SYSTEM");
  CHECK_ERR("\nFROM foo\nSYSTEM \"\n\t\t\t", "Modelfile:3: unclosed \" quote in SYSTEM");
  CHECK("\nFROM foo\nSYSTEM \"\"\"\nThis is a multiline system with \"quotes\".\n\"\"\"\n",
        F("foo"), K(AZC_MF_SYSTEM, "\nThis is a multiline system with \"quotes\".\n"));
  CHECK("\nFROM foo\nSYSTEM \"\"\"\"\"\"\n", F("foo"), K(AZC_MF_SYSTEM, ""));
  CHECK("\nFROM foo\nSYSTEM \"\"\n", F("foo"), K(AZC_MF_SYSTEM, ""));
  CHECK("\nFROM foo\nSYSTEM \"'\"\n", F("foo"), K(AZC_MF_SYSTEM, "'"));
  CHECK("\nFROM foo\nSYSTEM \"\"\"''\"'\"\"'\"\"'\"'''''\"\"'\"\"'\"\"\"\n", F("foo"),
        K(AZC_MF_SYSTEM, "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'"));
  CHECK("\nFROM foo\nTEMPLATE \"\"\"\n{{ .Prompt }}\n\"\"\"", F("foo"),
        K(AZC_MF_TEMPLATE, "\n{{ .Prompt }}\n"));
}

static void test_ollama_parameters(void) { /* TestParseFileParameters */
  static const struct {
    const char *line, *name, *value;
  } cases[] = {
      {"numa true", "numa", "true"},
      {"num_ctx 1", "num_ctx", "1"},
      {"num_batch 1", "num_batch", "1"},
      {"num_gqa 1", "num_gqa", "1"},
      {"num_gpu 1", "num_gpu", "1"},
      {"main_gpu 1", "main_gpu", "1"},
      {"use_mmap true", "use_mmap", "true"},
      {"num_thread 1", "num_thread", "1"},
      {"num_keep 1", "num_keep", "1"},
      {"seed 1", "seed", "1"},
      {"num_predict 1", "num_predict", "1"},
      {"top_k 1", "top_k", "1"},
      {"top_p 1.0", "top_p", "1.0"},
      {"min_p 0.05", "min_p", "0.05"},
      {"typical_p 1.0", "typical_p", "1.0"},
      {"repeat_last_n 1", "repeat_last_n", "1"},
      {"temperature 1.0", "temperature", "1.0"},
      {"repeat_penalty 1.0", "repeat_penalty", "1.0"},
      {"presence_penalty 1.0", "presence_penalty", "1.0"},
      {"frequency_penalty 1.0", "frequency_penalty", "1.0"},
      {"penalize_newline true", "penalize_newline", "true"},
      {"stop ### User:", "stop", "### User:"},
      {"stop ### User: ", "stop", "### User:"},
      {"stop \"### User:\"", "stop", "### User:"},
      {"stop \"### User: \"", "stop", "### User: "},
      {"stop \"\"\"### User:\"\"\"", "stop", "### User:"},
      {"stop \"\"\"### User:\n\"\"\"", "stop", "### User:\n"},
      {"stop <|endoftext|>", "stop", "<|endoftext|>"},
      {"stop <|eot_id|>", "stop", "<|eot_id|>"},
      {"stop </s>", "stop", "</s>"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    char in[256];
    snprintf(in, sizeof(in), "FROM foo\nPARAMETER %s\n", cases[i].line);
    CHECK(in, F("foo"), P(cases[i].name, cases[i].value));
  }
}

static void test_ollama_comments_and_encodings(void) {
  CHECK("\n# comment\nFROM foo\n\t", F("foo")); /* TestParseFileComments */
  /* TestParseFileUTF16ParseFile: little and big endian with a BOM */
  const char *data =
      "FROM bob\nPARAMETER param1 1\nPARAMETER param2 4096\nSYSTEM You are a utf16 file.\n";
  for (int be = 0; be < 2; be++) {
    uint8_t buf[512];
    size_t n = 0;
    buf[n++] = be ? 0xFE : 0xFF;
    buf[n++] = be ? 0xFF : 0xFE;
    for (const char *p = data; *p; p++) {
      buf[n++] = be ? 0 : (uint8_t)*p;
      buf[n++] = be ? (uint8_t)*p : 0;
    }
    const want_t w[] = {F("bob"), P("param1", "1"), P("param2", "4096"),
                        K(AZC_MF_SYSTEM, "You are a utf16 file."), END};
    ASSERT(check((const char *)buf, n, w, NULL));
  }
  /* TestParseMultiByte: UTF-8, and UTF-16 LE/BE with a BOM (a surrogate pair for the emoji) */
  const want_t mb[] = {F("test"), K(AZC_MF_SYSTEM, "你好👋"), END};
  const char *utf8 = "FROM test\n\tSYSTEM 你好👋";
  ASSERT(check(utf8, strlen(utf8), mb, NULL));
  static const uint16_t u16[] = {'F', 'R', 'O', 'M', ' ', 't', 'e', 's',    't',    '\n',   '\t',
                                 'S', 'Y', 'S', 'T', 'E', 'M', ' ', 0x4F60, 0x597D, 0xD83D, 0xDC4B};
  for (int be = 0; be < 2; be++) {
    uint8_t buf[128];
    size_t n = 0;
    buf[n++] = be ? 0xFE : 0xFF;
    buf[n++] = be ? 0xFF : 0xFE;
    for (size_t i = 0; i < sizeof(u16) / sizeof(*u16); i++) {
      buf[n++] = (uint8_t)(be ? u16[i] >> 8 : u16[i]);
      buf[n++] = (uint8_t)(be ? u16[i] : u16[i] >> 8);
    }
    ASSERT(check((const char *)buf, n, mb, NULL));
  }
  /* a UTF-8 BOM, CRLF line ends, invalid UTF-8 (becomes U+FFFD, as Go's reader) */
  const char bom[] = "\xEF\xBB\xBF"
                     "FROM x\r\nSYSTEM a\xFF"
                     "b\r\n";
  const want_t w2[] = {F("x"),
                       K(AZC_MF_SYSTEM, "a\xEF\xBF\xBD"
                                        "b"),
                       END};
  ASSERT(check(bom, strlen(bom), w2, NULL));
}

static void test_ollama_format_roundtrip(void) { /* TestParseFileFormatParseFile */
  static const char *const cases[] = {
      "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 "
      "value2\nTEMPLATE template1\nMESSAGE system You are a file parser. Always parse "
      "things.\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the "
      "things!\n",
      "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 "
      "value2\nTEMPLATE template1\nMESSAGE system \"\"\"\nYou are a store greeter. Always respond "
      "with \"Hello!\".\n\"\"\"\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse "
      "all the things!\n",
      "\nFROM foo\nADAPTER adapter1\nLICENSE \"\"\"\nVery long and boring legal text.\nBlah blah "
      "blah.\n\"Oh look, a quote!\"\n\"\"\"\n\nPARAMETER param1 value1\nPARAMETER param2 "
      "value2\nTEMPLATE template1\nMESSAGE system \"\"\"\nYou are a store greeter. Always respond "
      "with \"Hello!\".\n\"\"\"\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse "
      "all the things!\n",
      "\nFROM foo\nSYSTEM \"\"\n",
      /* what Ollama's quote() would write bare and so lose (found by fuzz_modelfile) */
      "FROM m\nTEMPLATE \"\"x\"\"\nSYSTEM \"\tindented\"\nLICENSE \"a\rb\"\n",
      "FROM \"\"\"two\nlines\"\"\"\n",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    cases_run++;
    azc_modelfile_t *a, *b;
    ASSERT_OK(azc_modelfile_parse("Modelfile", cases[i], strlen(cases[i]), &a));
    char *text;
    ASSERT_OK(azc_modelfile_format(a, &text));
    ASSERT_OK(azc_modelfile_parse("Modelfile", text, strlen(text), &b));
    ASSERT_EQ_INT(a->n_cmds, b->n_cmds);
    for (size_t k = 0; k < a->n_cmds; k++) {
      ASSERT(a->cmds[k].kind == b->cmds[k].kind);
      ASSERT_STREQ(a->cmds[k].args, b->cmds[k].args);
      ASSERT(!a->cmds[k].name == !b->cmds[k].name);
      if (a->cmds[k].name) ASSERT_STREQ(a->cmds[k].name, b->cmds[k].name);
    }
    free(text);
    azc_modelfile_free(a);
    azc_modelfile_free(b);
  }
}

/* ---- azc's own cases ---- */

static void test_grammar_edges(void) {
  CHECK("from x\nsystem hi # not a comment", F("x"), K(AZC_MF_SYSTEM, "hi # not a comment"));
  CHECK("  # indented comment\nFrOm x", F("x"));
  CHECK_ERR("FROM x\nSYSTEM\n", "Modelfile:2: SYSTEM needs a value");
  CHECK_ERR("FROM x\nTEMPLATE", "Modelfile:2: TEMPLATE needs a value");
  CHECK_ERR("FR0M x", "Modelfile:1: unknown instruction 'FR0M'");
  CHECK_ERR("FROM x\n\n\nfoo: bar", "Modelfile:4: unknown instruction 'foo:'");
  CHECK_ERR("FROM x\nPARAMETER num-ctx 4", "Modelfile:2: bad parameter name 'num-ctx'");
  CHECK_ERR("FROM x\nMESSAGE User hi", "message role 'User' must be one of");
  CHECK_ERR("FROM x\nMESSAGE us3r hi", "bad message role 'us3r'");
  CHECK_ERR("FROM x\nTEMPLATE \"\"\"{{ .Prompt }}\nmore\n",
            "Modelfile:2: unclosed \"\"\" quote in TEMPLATE");
  CHECK_ERR("FROM x\r\nSYSTEM \"a\r\n", "Modelfile:2: unclosed");
  /* a value may span lines inside single quotes too, and keep its line breaks */
  CHECK("FROM x\nSYSTEM \"a\nb\"", F("x"), K(AZC_MF_SYSTEM, "a\nb"));
  /* characters Go does not print are dropped outside quoted line breaks */
  CHECK("FROM x\nSYSTEM a\x01"
        "b\xe2\x80\x8b"
        "c",
        F("x"), K(AZC_MF_SYSTEM, "abc"));
}

typedef struct warnings {
  int n;
  char last[400];
} warnings_t;

static void on_warn(void *user, const char *m) {
  warnings_t *w = user;
  w->n++;
  snprintf(w->last, sizeof(w->last), "%s", m);
}

static azc_status_t apply_text(const char *text, azc_options_t *o, azc_chat_info_t *ci,
                               warnings_t *w) {
  azc_modelfile_t *mf;
  AZC_RETURN_IF_ERROR(azc_modelfile_parse("Modelfile", text, strlen(text), &mf));
  azc_status_t st = azc_modelfile_apply(mf, o, ci, on_warn, w);
  azc_modelfile_free(mf);
  return st;
}

static void test_apply(void) {
  azc_options_t o;
  memset(&o, 0, sizeof(o));
  azc_chat_info_t *ci = azc_chat_info_create();
  warnings_t w = {0};
  ASSERT_OK(
      apply_text("FROM ./m.gguf\nPARAMETER num_ctx 2048\nPARAMETER temperature 0.5\n"
                 "PARAMETER temperature 0.25\nPARAMETER stop <|a|>\nPARAMETER stop \"<|b|>\"\n"
                 "PARAMETER mirostat 2\nPARAMETER num_gpu 99\nSYSTEM \"\"\"Be terse.\"\"\"\n"
                 "TEMPLATE {{ .Prompt }}\nMESSAGE user Hi\nMESSAGE assistant Hello\n"
                 "LICENSE MIT\nLICENSE Apache\nDRAFT ./small.gguf\nREQUIRES 0.0.9\n",
                 &o, ci, &w));
  ASSERT_EQ_INT(o.v[AZC_OPT_NUM_CTX].i, 2048);
  ASSERT_NEAR(o.v[AZC_OPT_TEMPERATURE].f, 0.25, 1e-7); /* the last one wins */
  ASSERT_EQ_INT(o.n_stop, 2);
  ASSERT_EQ_INT(o.v[AZC_OPT_NUM_GPU].i, 99);
  ASSERT_EQ_INT(w.n, 1);
  ASSERT(strstr(w.last, "Modelfile:7: parameter mirostat is deprecated"));
  ASSERT_STREQ(ci->from, "./m.gguf");
  ASSERT_STREQ(ci->system, "Be terse.");
  ASSERT_STREQ(ci->template_src, "{{ .Prompt }}");
  ASSERT_EQ_INT(ci->n_messages, 2);
  ASSERT_EQ_INT(ci->n_licenses, 2);
  ASSERT_STREQ(ci->draft, "./small.gguf");
  ASSERT_STREQ(ci->requires, "0.0.9");
  ASSERT(ci->modelfile && strstr(ci->modelfile, "REQUIRES 0.0.9"));
  /* the PARAMETER lines as given, one temperature */
  int temps = 0, stops = 0;
  for (size_t i = 0; i < ci->n_params; i++) {
    temps += !strcmp(ci->param_name[i], "temperature");
    stops += !strcmp(ci->param_name[i], "stop");
  }
  ASSERT_EQ_INT(temps, 1);
  ASSERT_EQ_INT(stops, 2);
  /* a derived model: its MESSAGEs and stop list replace the base's, other parameters merge */
  ASSERT_OK(apply_text("FROM base\nPARAMETER stop X\nMESSAGE user Only", &o, ci, &w));
  ASSERT_EQ_INT(o.n_stop, 1);
  ASSERT_EQ_INT(ci->n_messages, 1);
  ASSERT_EQ_INT(o.v[AZC_OPT_NUM_CTX].i, 2048);
  ASSERT_STREQ(ci->system, "Be terse.");
  azc_chat_info_destroy(ci);

  static const struct {
    const char *text, *err;
  } bad[] = {
      {"FROM x\nPARAMETER what the", "Modelfile:2: PARAMETER what: unknown parameter 'what'"},
      {"FROM x\nPARAMETER num_ctx big", "Modelfile:2: PARAMETER num_ctx: invalid int value 'big'"},
      {"FROM x\n\nPARAMETER top_p 2", "Modelfile:3: PARAMETER top_p: top_p 2 is out of range"},
      {"FROM x\nPARAMETER use_mmap maybe", "invalid bool value 'maybe'"},
      {"FROM x\nADAPTER ./lora.gguf", "Modelfile:2: ADAPTER './lora.gguf' is not supported"},
      {"FROM x\nRENDERER qwen3", "Modelfile:2: RENDERER 'qwen3' is not supported"},
      {"FROM x\nPARSER qwen3", "PARSER 'qwen3' is not supported"},
      {"FROM x\nREQUIRES 99.0.0", "Modelfile:2: REQUIRES 99.0.0: this model requires azc 99.0.0"},
      {"FROM x\nREQUIRES one", "REQUIRES 'one': requires must be a valid semver"},
      {"FROM x\nTEMPLATE {{ if .Prompt }}",
       "Modelfile:2: TEMPLATE: template: line 1: missing {{ end }}"},
      {"FROM x\nFROM y", "Modelfile:2: a second FROM 'y'"},
      {"FROM \"\"", "Modelfile:1: FROM needs a model"},
      {"FROM x\nPARAMETER  num_ctx 5", "unknown parameter ''"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    cases_run++;
    azc_options_t o2;
    memset(&o2, 0, sizeof(o2));
    azc_chat_info_t *c2 = azc_chat_info_create();
    warnings_t w2 = {0};
    azc_status_t st = apply_text(bad[i].text, &o2, c2, &w2);
    ASSERT_MSG(st && strstr(azc_status_message(st), bad[i].err), "case %zu: got %s", i,
               st ? azc_status_message(st) : "success");
    azc_status_free(st);
    azc_chat_info_destroy(c2);
  }
}

static void test_semver(void) {
  ASSERT(azc_semver_valid("0.1.0") && azc_semver_valid("v0.14.0") && azc_semver_valid("1"));
  ASSERT(azc_semver_valid("1.2") && azc_semver_valid("1.2.3-rc.1+build.5"));
  ASSERT(!azc_semver_valid("") && !azc_semver_valid("01.2.3") && !azc_semver_valid("1.2.3.4"));
  ASSERT(!azc_semver_valid("1.2-rc1") && !azc_semver_valid("1.2.3-") && !azc_semver_valid("x"));
  ASSERT(azc_semver_compare("0.1.0", "0.1.0") == 0);
  ASSERT(azc_semver_compare("0.1.0", "v0.2") < 0);
  ASSERT(azc_semver_compare("1.0.0-rc1", "1.0.0") < 0);
  ASSERT(azc_semver_compare("1.0.0-rc.2", "1.0.0-rc.10") < 0);
  ASSERT(azc_semver_compare("1.0.0-alpha", "1.0.0-1") > 0);
  ASSERT(azc_semver_compare("2", "1.9.9") > 0);
}

int main(void) {
  RUN(test_ollama_file);
  RUN(test_ollama_from);
  RUN(test_ollama_errors);
  RUN(test_ollama_messages);
  RUN(test_ollama_quoted);
  RUN(test_ollama_parameters);
  RUN(test_ollama_comments_and_encodings);
  RUN(test_ollama_format_roundtrip);
  RUN(test_grammar_edges);
  RUN(test_apply);
  RUN(test_semver);
  fprintf(stderr, "%d Modelfile cases\n", cases_run);
  return test_summary();
}
