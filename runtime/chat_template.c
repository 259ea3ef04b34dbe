/* Chat templates (see chat_template.h): llama.cpp's builtin formats, its
 * detection heuristics, the verification of a detected GGUF template against
 * azc's own rendering of it, the GGUF templates azc applies by evaluating
 * them (the jinja kind), and the Go templates of Modelfiles.
 *
 * The builtins follow llama.cpp's llm_chat_apply_template (src/llama-chat.cpp)
 * case by case, including its quirks (gemma folds the system message into the
 * first user turn, llama2 skips the first BOS, command-r and llama3 trim
 * contents, mistral v3 trims only assistant contents); detection follows
 * llm_chat_detect_template in the same order of substring tests. The probe
 * conversations that gate a detection are below (probes[]). */
#include "runtime/chat_template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/util.h"
#include "runtime/chat_internal.h"

/* ---- the builtin formats ---- */

typedef enum fmt {
  F_CHATML,
  F_LLAMA2,
  F_LLAMA2_SYS,
  F_LLAMA2_SYS_BOS,
  F_LLAMA2_SYS_STRIP,
  F_MISTRAL_V1,
  F_MISTRAL_V3,
  F_MISTRAL_V3_TEKKEN,
  F_MISTRAL_V7,
  F_MISTRAL_V7_TEKKEN,
  F_PHI3,
  F_PHI4,
  F_FALCON3,
  F_ZEPHYR,
  F_MONARCH,
  F_GEMMA,
  F_ORION,
  F_OPENCHAT,
  F_VICUNA,
  F_VICUNA_ORCA,
  F_DEEPSEEK,
  F_DEEPSEEK2,
  F_DEEPSEEK3,
  F_COMMAND_R,
  F_LLAMA3,
  F_CHATGLM3,
  F_CHATGLM4,
  F_GLMEDGE,
  F_MINICPM,
  F_EXAONE3,
  F_RWKV_WORLD,
  F_GRANITE,
  F_GIGACHAT,
  F_MEGREZ,
  F_YANDEX,
  F_BAILING,
  F_LLAMA4,
  F_SMOLVLM,
  F_COUNT,
  F_GO = F_COUNT, /* a Modelfile TEMPLATE */
  F_JINJA         /* a GGUF template azc evaluates */
} fmt_t;

typedef struct builtin {
  const char *name;
  const char *stops[4];
} builtin_t;

/* llama.cpp's LLM_CHAT_TEMPLATES names, with the stop strings of each format
 * (its turn markers, as Ollama's templates list them). */
static const builtin_t builtins[F_COUNT] = {
    [F_CHATML] = {"chatml", {"<|im_start|>", "<|im_end|>"}},
    [F_LLAMA2] = {"llama2", {"[INST]", "[/INST]"}},
    [F_LLAMA2_SYS] = {"llama2-sys", {"[INST]", "[/INST]", "<<SYS>>"}},
    [F_LLAMA2_SYS_BOS] = {"llama2-sys-bos", {"[INST]", "[/INST]", "<<SYS>>"}},
    [F_LLAMA2_SYS_STRIP] = {"llama2-sys-strip", {"[INST]", "[/INST]", "<<SYS>>"}},
    [F_MISTRAL_V1] = {"mistral-v1", {"[INST]", "[/INST]"}},
    [F_MISTRAL_V3] = {"mistral-v3", {"[INST]", "[/INST]"}},
    [F_MISTRAL_V3_TEKKEN] = {"mistral-v3-tekken", {"[INST]", "[/INST]"}},
    [F_MISTRAL_V7] = {"mistral-v7", {"[INST]", "[/INST]", "[SYSTEM_PROMPT]"}},
    [F_MISTRAL_V7_TEKKEN] = {"mistral-v7-tekken", {"[INST]", "[/INST]", "[SYSTEM_PROMPT]"}},
    [F_PHI3] = {"phi3", {"<|end|>", "<|user|>", "<|assistant|>"}},
    [F_PHI4] = {"phi4", {"<|im_start|>", "<|im_end|>", "<|im_sep|>"}},
    [F_FALCON3] = {"falcon3", {"<|user|>", "<|system|>", "<|assistant|>"}},
    [F_ZEPHYR] = {"zephyr", {"<|user|>", "<|system|>", "<|endoftext|>"}},
    [F_MONARCH] = {"monarch", {"</s>", "<s>"}},
    [F_GEMMA] = {"gemma", {"<start_of_turn>", "<end_of_turn>"}},
    [F_ORION] = {"orion", {"</s>", "Human: "}},
    [F_OPENCHAT] = {"openchat", {"<|end_of_turn|>", "GPT4 Correct User:"}},
    [F_VICUNA] = {"vicuna", {"USER: ", "</s>"}},
    [F_VICUNA_ORCA] = {"vicuna-orca", {"USER: ", "SYSTEM: ", "</s>"}},
    [F_DEEPSEEK] = {"deepseek", {"### Instruction:", "### Response:", "<|EOT|>"}},
    [F_DEEPSEEK2] = {"deepseek2", {"User: ", "<｜end▁of▁sentence｜>"}},
    [F_DEEPSEEK3] = {"deepseek3", {"<｜User｜>", "<｜end▁of▁sentence｜>"}},
    [F_COMMAND_R] = {"command-r", {"<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"}},
    [F_LLAMA3] = {"llama3", {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}},
    [F_CHATGLM3] = {"chatglm3", {"<|user|>", "<|observation|>"}},
    [F_CHATGLM4] = {"chatglm4", {"<|user|>", "<|observation|>"}},
    [F_GLMEDGE] = {"glmedge", {"<|user|>", "<|observation|>"}},
    [F_MINICPM] = {"minicpm", {"<用户>"}},
    [F_EXAONE3] = {"exaone3", {"[|endofturn|]", "[|user|]"}},
    [F_RWKV_WORLD] = {"rwkv-world", {"\n\nUser: "}},
    [F_GRANITE] = {"granite", {"<|start_of_role|>", "<|end_of_text|>"}},
    [F_GIGACHAT] = {"gigachat", {"<|message_sep|>"}},
    [F_MEGREZ] = {"megrez", {"<|turn_end|>", "<|role_start|>"}},
    [F_YANDEX] = {"yandex", {" Пользователь:"}},
    [F_BAILING] = {"bailing", {"<role>HUMAN</role>"}},
    [F_LLAMA4] = {"llama4", {"<|eot|>", "<|header_start|>"}},
    [F_SMOLVLM] = {"smolvlm", {"<end_of_utterance>", "User:"}},
};

struct azc_chat_template {
  fmt_t fmt;
  bool system_error; /* the template raises for system messages (gemma's official one) */
  char eos[64];      /* the model's EOS text: one trailing copy is cut from renderings */
  azc_gotmpl_t *go;
  /* F_JINJA */
  azc_jinja_t *jinja;
  char *jsrc;        /* the template's text (the tree points into it) */
  char *jbos, *jeos; /* bos_token, eos_token */
  bool strip_bos;
  bool extra; /* llama.cpp gives the template variables of its own (azc_chat_jinja_extra) */
  int64_t now;
  const char *stops[4];
  size_t n_stops;
};

size_t azc_chat_template_builtin_names(const char *const **names) {
  static const char *list[F_COUNT];
  for (int i = 0; i < F_COUNT; i++) list[i] = builtins[i].name;
  *names = list;
  return F_COUNT;
}

static int fmt_by_name(const char *name) {
  for (int i = 0; i < F_COUNT; i++)
    if (!strcmp(builtins[i].name, name)) return i;
  return -1;
}

static azc_status_t make(fmt_t f, azc_chat_template_t **out) {
  azc_chat_template_t *t = calloc(1, sizeof(*t));
  if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  t->fmt = f;
  if (f < F_COUNT)
    for (int i = 0; i < 4 && builtins[f].stops[i]; i++)
      t->stops[t->n_stops++] = builtins[f].stops[i];
  *out = t;
  return NULL;
}

azc_status_t azc_chat_template_builtin(const char *name, azc_chat_template_t **out) {
  *out = NULL;
  int f = fmt_by_name(name);
  if (f < 0) {
    char list[1024] = "";
    for (int i = 0; i < F_COUNT; i++)
      snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
               builtins[i].name);
    return AZC_ERR(AZC_NOT_FOUND, "no builtin chat template '%s' (there are: %s)", name, list);
  }
  return make((fmt_t)f, out);
}

azc_status_t azc_chat_template_go(const char *src, size_t len, azc_chat_template_t **out) {
  *out = NULL;
  azc_gotmpl_t *g;
  AZC_RETURN_IF_ERROR_CTX(azc_gotmpl_parse(src, len, &g), "TEMPLATE");
  azc_status_t st = make(F_GO, out);
  if (st) {
    azc_gotmpl_free(g);
    return st;
  }
  (*out)->go = g;
  return NULL;
}

void azc_chat_template_destroy(azc_chat_template_t *t) {
  if (!t) return;
  azc_gotmpl_free(t->go);
  azc_jinja_free(t->jinja);
  free(t->jsrc);
  free(t->jbos);
  free(t->jeos);
  free(t);
}

const char *azc_chat_template_name(const azc_chat_template_t *t) {
  return t->fmt == F_GO ? "modelfile" : t->fmt == F_JINJA ? "jinja" : builtins[t->fmt].name;
}

void azc_chat_template_set_time(azc_chat_template_t *t, int64_t now) { t->now = now; }

size_t azc_chat_template_stops(const azc_chat_template_t *t, const char *const **stops) {
  *stops = t->stops;
  return t->n_stops;
}

/* llama.cpp's trim(): isspace from both ends */
static void put_trimmed(azc_buf_t *b, const char *s) {
  size_t n = strlen(s), start = 0;
  while (start < n && isspace((unsigned char)s[start])) start++;
  while (n > start && isspace((unsigned char)s[n - 1])) n--;
  azc_buf_put(b, s + start, n - start);
}

#define IS(r) (!strcmp(role, (r)))

static void render_mistral(azc_buf_t *b, fmt_t f, const azc_chat_message_t *m, size_t n) {
  const char *lead = f == F_MISTRAL_V1 ? " " : "", *trail = f == F_MISTRAL_V3_TEKKEN ? "" : " ";
  bool inside = false;
  for (size_t i = 0; i < n; i++) {
    const char *role = m[i].role;
    if (!inside) {
      azc_buf_puts(b, lead);
      azc_buf_puts(b, "[INST]");
      azc_buf_puts(b, trail);
      inside = true;
    }
    if (IS("system")) {
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "\n\n");
    } else if (IS("user")) {
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, lead);
      azc_buf_puts(b, "[/INST]");
    } else {
      azc_buf_puts(b, trail);
      if (f == F_MISTRAL_V3)
        put_trimmed(b, m[i].content);
      else
        azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "</s>");
      inside = false;
    }
  }
}

static void render_llama2(azc_buf_t *b, fmt_t f, const azc_chat_message_t *m, size_t n) {
  bool sys_ok = f != F_LLAMA2, bos_inside = f == F_LLAMA2_SYS_BOS, strip = f == F_LLAMA2_SYS_STRIP;
  bool inside = true; /* llama.cpp skips the BOS at the beginning */
  azc_buf_puts(b, "[INST] ");
  for (size_t i = 0; i < n; i++) {
    const char *role = m[i].role;
    azc_buf_t c = {0};
    if (strip)
      put_trimmed(&c, m[i].content);
    else
      azc_buf_puts(&c, m[i].content);
    const char *content = c.data ? c.data : "";
    if (!inside) {
      inside = true;
      azc_buf_puts(b, bos_inside ? "<s>[INST] " : "[INST] ");
    }
    if (IS("system")) {
      if (sys_ok) {
        azc_buf_puts(b, "<<SYS>>\n");
        azc_buf_puts(b, content);
        azc_buf_puts(b, "\n<</SYS>>\n\n");
      } else {
        azc_buf_puts(b, content);
        azc_buf_puts(b, "\n");
      }
    } else if (IS("user")) {
      azc_buf_puts(b, content);
      azc_buf_puts(b, " [/INST]");
    } else {
      azc_buf_puts(b, content);
      azc_buf_puts(b, "</s>");
      inside = false;
    }
    if (c.oom) b->oom = true;
    azc_buf_free(&c);
  }
}

/* "<pre>role<mid>content<post>" for every message, then the assistant header */
static void render_simple(azc_buf_t *b, const azc_chat_message_t *m, size_t n, const char *pre,
                          const char *mid, const char *post, bool trim, bool add_ass,
                          const char *ass) {
  for (size_t i = 0; i < n; i++) {
    azc_buf_puts(b, pre);
    azc_buf_puts(b, m[i].role);
    azc_buf_puts(b, mid);
    if (trim)
      put_trimmed(b, m[i].content);
    else
      azc_buf_puts(b, m[i].content);
    azc_buf_puts(b, post);
  }
  if (add_ass) azc_buf_puts(b, ass);
}

static void render_gemma(azc_buf_t *b, const azc_chat_message_t *m, size_t n, bool add_ass) {
  azc_buf_t sys = {0};
  for (size_t i = 0; i < n; i++) {
    const char *role = m[i].role;
    if (IS("system")) { /* no system role: folded into the next user turn */
      azc_buf_free(&sys);
      put_trimmed(&sys, m[i].content);
      continue;
    }
    bool model = IS("assistant");
    azc_buf_puts(b, "<start_of_turn>");
    azc_buf_puts(b, model ? "model" : role);
    azc_buf_puts(b, "\n");
    if (sys.len && !model) {
      azc_buf_put(b, sys.data, sys.len);
      azc_buf_puts(b, "\n\n");
      sys.len = 0;
    }
    put_trimmed(b, m[i].content);
    azc_buf_puts(b, "<end_of_turn>\n");
  }
  if (sys.oom) b->oom = true;
  azc_buf_free(&sys);
  if (add_ass) azc_buf_puts(b, "<start_of_turn>model\n");
}

/* Per-role prefix/suffix formats: role text for system, user, assistant. */
static void render_roles(azc_buf_t *b, const azc_chat_message_t *m, size_t n, const char *sys_pre,
                         const char *sys_post, const char *user_pre, const char *user_post,
                         const char *ass_pre, const char *ass_post, bool trim, bool add_ass,
                         const char *ass) {
  for (size_t i = 0; i < n; i++) {
    const char *role = m[i].role, *pre, *post;
    if (IS("system"))
      pre = sys_pre, post = sys_post;
    else if (IS("user"))
      pre = user_pre, post = user_post;
    else if (IS("assistant"))
      pre = ass_pre, post = ass_post;
    else
      continue;
    azc_buf_puts(b, pre);
    if (trim)
      put_trimmed(b, m[i].content);
    else
      azc_buf_puts(b, m[i].content);
    azc_buf_puts(b, post);
  }
  if (add_ass) azc_buf_puts(b, ass);
}

#define U_USER "<｜User｜>"
#define U_ASSISTANT "<｜Assistant｜>"
#define U_EOS "<｜end▁of▁sentence｜>"

static void render_builtin(azc_buf_t *b, fmt_t f, const azc_chat_message_t *m, size_t n,
                           bool add_ass) {
  switch (f) {
  case F_CHATML:
    render_simple(b, m, n, "<|im_start|>", "\n", "<|im_end|>\n", false, add_ass,
                  "<|im_start|>assistant\n");
    break;
  case F_MISTRAL_V7:
  case F_MISTRAL_V7_TEKKEN: {
    const char *sp = f == F_MISTRAL_V7 ? " " : "";
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      if (IS("system"))
        azc_buf_puts(b, "[SYSTEM_PROMPT]");
      else if (IS("user"))
        azc_buf_puts(b, "[INST]");
      azc_buf_puts(b, sp);
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, IS("system") ? "[/SYSTEM_PROMPT]" : IS("user") ? "[/INST]" : "</s>");
    }
    break;
  }
  case F_MISTRAL_V1:
  case F_MISTRAL_V3:
  case F_MISTRAL_V3_TEKKEN: render_mistral(b, f, m, n); break;
  case F_LLAMA2:
  case F_LLAMA2_SYS:
  case F_LLAMA2_SYS_BOS:
  case F_LLAMA2_SYS_STRIP: render_llama2(b, f, m, n); break;
  case F_PHI3:
    render_simple(b, m, n, "<|", "|>\n", "<|end|>\n", false, add_ass, "<|assistant|>\n");
    break;
  case F_PHI4:
    render_simple(b, m, n, "<|im_start|>", "<|im_sep|>", "<|im_end|>", false, add_ass,
                  "<|im_start|>assistant<|im_sep|>");
    break;
  case F_FALCON3:
    render_simple(b, m, n, "<|", "|>\n", "\n", false, add_ass, "<|assistant|>\n");
    break;
  case F_ZEPHYR:
    render_simple(b, m, n, "<|", "|>\n", "<|endoftext|>\n", false, add_ass, "<|assistant|>\n");
    break;
  case F_MONARCH:
    for (size_t i = 0; i < n; i++) {
      if (i) azc_buf_puts(b, "<s>"); /* no BOS before the first message */
      azc_buf_puts(b, m[i].role);
      azc_buf_puts(b, "\n");
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "</s>\n");
    }
    if (add_ass) azc_buf_puts(b, "<s>assistant\n");
    break;
  case F_GEMMA: render_gemma(b, m, n, add_ass); break;
  case F_ORION: {
    const char *sys = NULL;
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      if (IS("system")) {
        sys = m[i].content;
      } else if (IS("user")) {
        azc_buf_puts(b, "Human: ");
        if (sys && *sys) {
          azc_buf_puts(b, sys);
          azc_buf_puts(b, "\n\n");
          sys = NULL;
        }
        azc_buf_puts(b, m[i].content);
        azc_buf_puts(b, "\n\nAssistant: </s>");
      } else {
        azc_buf_puts(b, m[i].content);
        azc_buf_puts(b, "</s>");
      }
    }
    break;
  }
  case F_OPENCHAT:
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      if (!IS("system")) {
        char first = (char)toupper((unsigned char)role[0]);
        azc_buf_puts(b, "GPT4 Correct ");
        azc_buf_put(b, &first, role[0] ? 1 : 0);
        azc_buf_puts(b, role[0] ? role + 1 : "");
        azc_buf_puts(b, ": ");
      }
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "<|end_of_turn|>");
    }
    if (add_ass) azc_buf_puts(b, "GPT4 Correct Assistant:");
    break;
  case F_VICUNA:
  case F_VICUNA_ORCA:
    render_roles(b, m, n, f == F_VICUNA_ORCA ? "SYSTEM: " : "", f == F_VICUNA_ORCA ? "\n" : "\n\n",
                 "USER: ", "\n", "ASSISTANT: ", "</s>\n", false, add_ass, "ASSISTANT:");
    break;
  case F_DEEPSEEK:
    render_roles(b, m, n, "", "", "### Instruction:\n", "\n", "### Response:\n", "\n<|EOT|>\n",
                 false, add_ass, "### Response:\n");
    break;
  case F_COMMAND_R:
    render_roles(b, m, n, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|END_OF_TURN_TOKEN|>",
                 "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|END_OF_TURN_TOKEN|>",
                 "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", "<|END_OF_TURN_TOKEN|>", true, add_ass,
                 "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
    break;
  case F_LLAMA3:
    render_simple(b, m, n, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", true,
                  add_ass, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    break;
  case F_CHATGLM3:
    azc_buf_puts(b, "[gMASK]sop");
    render_simple(b, m, n, "<|", "|>\n ", "", false, add_ass, "<|assistant|>");
    break;
  case F_CHATGLM4:
    azc_buf_puts(b, "[gMASK]<sop>");
    render_simple(b, m, n, "<|", "|>\n", "", false, add_ass, "<|assistant|>\n");
    break;
  case F_GLMEDGE: render_simple(b, m, n, "<|", "|>\n", "", false, add_ass, "<|assistant|>"); break;
  case F_MINICPM:
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      if (IS("user")) azc_buf_puts(b, "<用户>");
      put_trimmed(b, m[i].content);
      if (IS("user")) azc_buf_puts(b, "<AI>");
    }
    break;
  case F_DEEPSEEK2:
    render_roles(b, m, n, "", "\n\n", "User: ", "\n\n", "Assistant: ", U_EOS, false, add_ass,
                 "Assistant:");
    break;
  case F_DEEPSEEK3:
    render_roles(b, m, n, "", "\n\n", U_USER, "", U_ASSISTANT, U_EOS, false, add_ass, U_ASSISTANT);
    break;
  case F_EXAONE3:
    render_roles(b, m, n, "[|system|]", "[|endofturn|]\n", "[|user|]", "\n", "[|assistant|]",
                 "[|endofturn|]\n", true, add_ass, "[|assistant|]");
    break;
  case F_RWKV_WORLD:
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      azc_buf_puts(b, IS("user") ? "User: " : "");
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, IS("user") ? "\n\nAssistant:" : "\n\n");
    }
    break;
  case F_GRANITE:
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      azc_buf_puts(b, "<|start_of_role|>");
      azc_buf_puts(b, role);
      azc_buf_puts(b, "<|end_of_role|>");
      if (IS("assistant_tool_call")) azc_buf_puts(b, "<|tool_call|>");
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "<|end_of_text|>\n");
    }
    if (add_ass) azc_buf_puts(b, "<|start_of_role|>assistant<|end_of_role|>\n");
    break;
  case F_GIGACHAT: {
    bool has_sys = n > 0 && !strcmp(m[0].role, "system");
    azc_buf_puts(b, "<s>");
    if (has_sys) {
      azc_buf_puts(b, m[0].content);
      azc_buf_puts(b, "<|message_sep|>");
    }
    for (size_t i = has_sys ? 1 : 0; i < n; i++) {
      const char *role = m[i].role;
      if (IS("user")) {
        azc_buf_puts(b, "user<|role_sep|>");
        azc_buf_puts(b, m[i].content);
        azc_buf_puts(b, "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>");
      } else if (IS("assistant")) {
        azc_buf_puts(b, "assistant<|role_sep|>");
        azc_buf_puts(b, m[i].content);
        azc_buf_puts(b, "<|message_sep|>");
      }
    }
    if (add_ass) azc_buf_puts(b, "assistant<|role_sep|>");
    break;
  }
  case F_MEGREZ:
    render_simple(b, m, n, "<|role_start|>", "<|role_end|>", "<|turn_end|>", false, add_ass,
                  "<|role_start|>assistant<|role_end|>");
    break;
  case F_YANDEX: /* system messages are not written at all */
    azc_buf_puts(b, "<s>");
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      if (!IS("user") && !IS("assistant")) continue;
      azc_buf_puts(b, IS("user") ? " Пользователь: " : " Ассистент: ");
      azc_buf_puts(b, m[i].content);
      azc_buf_puts(b, "\n\n");
    }
    if (add_ass) azc_buf_puts(b, " Ассистент:[SEP]");
    break;
  case F_BAILING:
    for (size_t i = 0; i < n; i++) {
      const char *role = m[i].role;
      azc_buf_puts(b, "<role>");
      if (IS("user")) {
        azc_buf_puts(b, "HUMAN");
      } else {
        for (const char *p = role; *p; p++) {
          char u = (char)toupper((unsigned char)*p);
          azc_buf_put(b, &u, 1);
        }
      }
      azc_buf_puts(b, "</role>");
      azc_buf_puts(b, m[i].content);
    }
    if (add_ass) azc_buf_puts(b, "<role>ASSISTANT</role>");
    break;
  case F_LLAMA4:
    render_simple(b, m, n, "<|header_start|>", "<|header_end|>\n\n", "<|eot|>", true, add_ass,
                  "<|header_start|>assistant<|header_end|>\n\n");
    break;
  case F_SMOLVLM:
    azc_buf_puts(b, "<|im_start|>");
    render_roles(b, m, n, "", "\n\n", "User: ", "<end_of_utterance>\n",
                 "Assistant: ", "<end_of_utterance>\n", false, add_ass, "Assistant:");
    break;
  case F_COUNT:        /* F_GO */
  case F_JINJA: break; /* not builtins: render() does these */
  }
}

/* ---- rendering ---- */

bool azc_chat_jinja_extra(const char *src, int64_t now, char date[64], const char *extra[5]) {
  extra[0] = NULL;
  date[0] = 0;
  if (!strstr(src, " functools[")) return false;
  /* common_chat_params_init_firefunction_v2: its template needs both */
  struct tm tm;
  time_t t = now ? (time_t)now : time(NULL);
  if (now)
    gmtime_r(&t, &tm);
  else
    localtime_r(&t, &tm); /* llama.cpp's format_time: std::localtime */
  strftime(date, 64, "%b %d %Y %H:%M:%S GMT", &tm);
  extra[0] = "datetime";
  extra[1] = date;
  extra[2] = "functions";
  extra[3] = "";
  extra[4] = NULL;
  return true;
}

/* Control characters (a template's own text in a message: its
 * raise_exception argument, a key) become spaces: statuses are one line. */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

/* Removes s from the start (or the end) of b when it is there. */
static void cut(azc_buf_t *b, const char *s, bool at_end) {
  size_t k = strlen(s);
  if (!k || b->len < k) return;
  if (at_end ? memcmp(b->data + b->len - k, s, k) : memcmp(b->data, s, k)) return;
  if (!at_end) memmove(b->data, b->data + k, b->len - k);
  b->data[b->len -= k] = 0;
}

/* The jinja kind: the template evaluated on the conversation, then
 * llama.cpp's normalisation (common/chat.cpp: a leading bos_token when the
 * tokenizer adds one, a trailing eos_token). */
static azc_status_t render_jinja(const azc_chat_template_t *t, const azc_chat_message_t *m,
                                 size_t n, bool add_ass, azc_buf_t *b) {
  char err[256], date[64];
  const char *extra[5] = {NULL};
  if (t->extra) azc_chat_jinja_extra(t->jsrc, t->now, date, extra);
  azc_jinja_result_t r = azc_jinja_render(t->jinja, m, n, add_ass, t->jbos, t->jeos, t->now, extra,
                                          b, err, sizeof(err));
  one_line(err);
  switch (r) {
  case AZC_JINJA_OK: break;
  case AZC_JINJA_RAISED:
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "the model's chat template rejects this conversation: \"%s\" (its "
                   "raise_exception)",
                   err);
  case AZC_JINJA_ERROR:
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "the model's chat template fails on this conversation (as Jinja would): %s",
                   err);
  case AZC_JINJA_UNSUPPORTED:
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the model's chat template needs what azc's Jinja evaluator does not have for "
                   "this conversation: %s",
                   err);
  case AZC_JINJA_NOMEM: return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  }
  if (b->oom) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  if (t->strip_bos) cut(b, t->jbos, false);
  cut(b, t->jeos, true);
  return NULL;
}

static azc_status_t render(const azc_chat_template_t *t, const azc_chat_message_t *m, size_t n,
                           bool add_ass, azc_buf_t *b) {
  for (size_t i = 0; i < n; i++)
    if (!m[i].role || !m[i].content)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "chat message %zu has no role or content", i);
  if (t->fmt == F_GO) return azc_gotmpl_execute_chat(t->go, m, n, add_ass, b);
  if (t->fmt == F_JINJA) return render_jinja(t, m, n, add_ass, b);
  if (t->system_error)
    for (size_t i = 0; i < n; i++)
      if (!strcmp(m[i].role, "system"))
        return AZC_ERR(AZC_UNSUPPORTED,
                       "the model's chat template (%s) does not accept a system message (its own "
                       "template raises an error for one)",
                       builtins[t->fmt].name);
  render_builtin(b, t->fmt, m, n, add_ass);
  if (t->eos[0] && b->len >= strlen(t->eos) &&
      !memcmp(b->data + b->len - strlen(t->eos), t->eos, strlen(t->eos)))
    b->data[b->len -= strlen(t->eos)] = 0;
  return NULL;
}

azc_status_t azc_chat_template_apply(const azc_chat_template_t *t, const azc_chat_message_t *msgs,
                                     size_t n, bool add_generation_prompt, char **out,
                                     size_t *out_len) {
  *out = NULL;
  if (out_len) *out_len = 0;
  azc_buf_t b = {0};
  azc_status_t st = render(t, msgs, n, add_generation_prompt, &b);
  if (st) {
    azc_buf_free(&b);
    return st;
  }
  return azc_buf_take(&b, "chat template output", out, out_len);
}

azc_status_t azc_chat_template_for_model(const char *name, bool system_error, const char *eos,
                                         azc_chat_template_t **out) {
  AZC_RETURN_IF_ERROR(azc_chat_template_builtin(name, out));
  (*out)->system_error = system_error;
  snprintf((*out)->eos, sizeof((*out)->eos), "%s",
           eos && strlen(eos) < sizeof((*out)->eos) ? eos : "");
  return NULL;
}

/* ---- detection: llama.cpp's llm_chat_detect_template, then verification ---- */

static int detect_heuristic(const char *t) {
#define C(s) (strstr(t, (s)) != NULL)
  if (C("<|im_start|>"))
    return C("<|im_sep|>") ? F_PHI4 : C("<end_of_utterance>") ? F_SMOLVLM : F_CHATML;
  if (!strncmp(t, "mistral", 7) || C("[INST]")) {
    if (C("[SYSTEM_PROMPT]")) return F_MISTRAL_V7;
    if (C("' [INST] ' + system_message") || C("[AVAILABLE_TOOLS]")) {
      if (C(" [INST]")) return F_MISTRAL_V1;
      if (C("\"[INST]\"")) return F_MISTRAL_V3_TEKKEN;
      return F_MISTRAL_V3;
    }
    if (C("content.strip()")) return F_LLAMA2_SYS_STRIP;
    if (C("bos_token + '[INST]")) return F_LLAMA2_SYS_BOS;
    if (C("<<SYS>>")) return F_LLAMA2_SYS;
    return F_LLAMA2;
  }
  if (C("<|assistant|>") && C("<|end|>")) return F_PHI3;
  if (C("[gMASK]<sop>")) return F_CHATGLM4;
  if (C("<|assistant|>") && C("<|user|>")) return C("</s>") ? F_FALCON3 : F_GLMEDGE;
  if (C("<|{{ item['role'] }}|>") && C("<|begin_of_image|>")) return F_GLMEDGE;
  if (C("<|user|>") && C("<|endoftext|>")) return F_ZEPHYR;
  if (C("bos_token + message['role']")) return F_MONARCH;
  if (C("<start_of_turn>")) return F_GEMMA;
  if (C("'\\n\\nAssistant: ' + eos_token")) return F_ORION;
  if (C("GPT4 Correct ")) return F_OPENCHAT;
  if (C("USER: ") && C("ASSISTANT: ")) return C("SYSTEM: ") ? F_VICUNA_ORCA : F_VICUNA;
  if (C("### Instruction:") && C("<|EOT|>")) return F_DEEPSEEK;
  if (C("<|START_OF_TURN_TOKEN|>") && C("<|USER_TOKEN|>")) return F_COMMAND_R;
  if (C("<|start_header_id|>") && C("<|end_header_id|>")) return F_LLAMA3;
  if (C("[gMASK]sop")) return F_CHATGLM3;
  if (C("<用户>")) return F_MINICPM;
  if (C("'Assistant: ' + message['content'] + eos_token")) return F_DEEPSEEK2;
  if (C(U_ASSISTANT) && C(U_USER) && C(U_EOS)) return F_DEEPSEEK3;
  if (C("[|system|]") && C("[|assistant|]") && C("[|endofturn|]")) return F_EXAONE3;
  if (C("rwkv-world")) return F_RWKV_WORLD;
  if (C("<|start_of_role|>")) return F_GRANITE;
  if (C("message['role'] + additional_special_tokens[0] + message['content'] + "
        "additional_special_tokens[1]"))
    return F_GIGACHAT;
  if (C("<|role_start|>")) return F_MEGREZ;
  if (C(" Ассистент:")) return F_YANDEX;
  if (C("<role>ASSISTANT</role>") && C("'HUMAN'")) return F_BAILING;
  if (C("<|header_start|>") && C("<|header_end|>")) return F_LLAMA4;
  return -1;
#undef C
}

/* The probe conversations a detected template must render exactly as the
 * builtin does: with and without a system message, one and several turns,
 * with and without the generation prompt, contents with surrounding spaces
 * and newlines (which separates the formats that trim from those that do
 * not). */
typedef struct probe {
  azc_chat_message_t msgs[6];
  size_t n;
  bool gen;
} probe_t;

static const probe_t probes[] = {
    {{{"user", "Hello"}}, 1, true},
    {{{"system", "You are a helpful assistant."}, {"user", "Hello"}}, 2, true},
    {{{"system", "You are a helpful assistant."},
      {"user", "Hi"},
      {"assistant", "Hello! How can I help?"},
      {"user", "Tell me a joke."}},
     4,
     true},
    {{{"user", " What is 2+2? "}, {"assistant", "  4  "}, {"user", "And 3+3?\n"}}, 3, true},
    {{{"system", "  Be brief.\n"},
      {"user", "Line one\nline two"},
      {"assistant", "A\nB"},
      {"user", "C"}},
     4,
     true},
    {{{"system", "You are a helpful assistant."}, {"user", "Hello"}, {"assistant", "Hi there"}},
     3,
     false},
    {{{"user", "Hello"}, {"assistant", "Hi there"}}, 2, false},
    {{{"user", "One"}}, 1, false},
};

static bool has_system(const probe_t *p) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->msgs[i].role, "system")) return true;
  return false;
}

/* Appends `s` to `out` with newlines and quotes escaped, at most `max` bytes. */
static void quote_into(char *out, size_t cap, const char *s, size_t n, size_t max) {
  size_t at = strlen(out);
  if (n > max) { /* end on a character boundary */
    n = max;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  for (size_t i = 0; i < n && at + 4 < cap; i++) {
    char c = s[i];
    if (c == '\n')
      out[at++] = '\\', out[at++] = 'n';
    else if (c == '"')
      out[at++] = '\\', out[at++] = '"';
    else
      out[at++] = c;
  }
  out[at] = 0;
}

/* Drops an incomplete UTF-8 sequence that truncation left at the end. */
static void trim_partial_utf8(char *s) {
  size_t n = strlen(s), k = n;
  while (k && ((unsigned char)s[k - 1] & 0xC0) == 0x80 && n - k < 3) k--;
  if (!k || (unsigned char)s[k - 1] < 0xC0) return; /* ASCII or nothing to check */
  unsigned char lead = (unsigned char)s[k - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if (n - (k - 1) < need) s[k - 1] = 0;
}

static void describe_difference(azc_chat_detection_t *d, const probe_t *p, const char *ref,
                                size_t ref_n, const char *mine, size_t mine_n) {
  size_t k = 0;
  while (k < ref_n && k < mine_n && ref[k] == mine[k]) k++;
  size_t from = k > 12 ? k - 12 : 0;
  while (from &&
         (((unsigned char)ref[from] & 0xC0) == 0x80 || ((unsigned char)mine[from] & 0xC0) == 0x80))
    from--; /* quote whole UTF-8 characters */
  snprintf(d->reason, sizeof(d->reason),
           "the template renders differently from llama.cpp's %s format (conversation of %zu "
           "messages%s%s, byte %zu): template \"",
           d->guess, p->n, has_system(p) ? " with a system message" : "",
           p->gen ? "" : ", no generation prompt", k);
  quote_into(d->reason, sizeof(d->reason), ref + from, ref_n - from, 40);
  snprintf(d->reason + strlen(d->reason), sizeof(d->reason) - strlen(d->reason), "\", %s \"",
           d->guess);
  quote_into(d->reason, sizeof(d->reason), mine + from, mine_n - from, 40);
  snprintf(d->reason + strlen(d->reason), sizeof(d->reason) - strlen(d->reason), "\"");
  trim_partial_utf8(d->reason);
}

typedef enum verdict {
  V_SAME,      /* every probe renders as the builtin: d->name is filled */
  V_DIFFERENT, /* a probe renders differently (d->reason says where) */
  V_FAILED     /* azc cannot render the template, or it fails (d->reason says why) */
} verdict_t;

/* Renders every probe with the Jinja template and with the builtin; fills
 * d->name when all agree. */
static azc_status_t verify(const char *src, size_t len, fmt_t f, const char *bos, const char *eos,
                           azc_chat_detection_t *d, verdict_t *verdict) {
  *verdict = V_FAILED;
  char err[200] = "";
  azc_jinja_t *j = NULL;
  azc_jinja_result_t r = azc_jinja_parse(src, len, &j, err, sizeof(err));
  if (r == AZC_JINJA_NOMEM) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  if (r != AZC_JINJA_OK) {
    snprintf(d->reason, sizeof(d->reason),
             "looks like llama.cpp's %s format, but azc cannot evaluate the template to check: %s",
             d->guess, err);
    return NULL;
  }
  bool different = false;
  azc_chat_template_t t = {.fmt = f};
  snprintf(t.eos, sizeof(t.eos), "%s", strlen(eos) < sizeof(t.eos) ? eos : "");
  bool system_raises = false, ok = true;
  size_t bos_n = strlen(bos), eos_n = strlen(eos);
  azc_status_t st = NULL;
  char date[64];
  const char *extra[5];
  azc_chat_jinja_extra(src, 0, date, extra);
  for (size_t i = 0; ok && !st && i < AZC_ARRAY_SIZE(probes); i++) {
    const probe_t *p = &probes[i];
    azc_buf_t ref = {0}, mine = {0};
    err[0] = 0;
    r = azc_jinja_render(j, p->msgs, p->n, p->gen, bos, eos, 0, extra, &ref, err, sizeof(err));
    if (r == AZC_JINJA_NOMEM || ref.oom) {
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
    } else if (r == AZC_JINJA_RAISED && has_system(p)) {
      system_raises = true;
    } else if (r != AZC_JINJA_OK) {
      snprintf(d->reason, sizeof(d->reason), "looks like llama.cpp's %s format, but %s: %s",
               d->guess,
               r == AZC_JINJA_UNSUPPORTED ? "azc cannot evaluate the template to check"
               : r == AZC_JINJA_RAISED    ? "the template raises an error for a plain conversation"
                                          : "the template fails on a plain conversation",
               err);
      ok = false;
    } else {
      /* what llama.cpp hands its tokenizer: no leading BOS, no trailing EOS */
      const char *rs = ref.data ? ref.data : "";
      size_t rn = ref.len;
      if (bos_n && rn >= bos_n && !memcmp(rs, bos, bos_n)) rs += bos_n, rn -= bos_n;
      if (eos_n && rn >= eos_n && !memcmp(rs + rn - eos_n, eos, eos_n)) rn -= eos_n;
      st = render(&t, p->msgs, p->n, p->gen, &mine);
      if (!st && mine.oom) st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
      const char *ms = mine.data ? mine.data : "";
      if (!st && (mine.len != rn || memcmp(ms, rs, rn))) {
        describe_difference(d, p, rs, rn, ms, mine.len);
        ok = false;
        different = true;
      }
    }
    azc_buf_free(&ref);
    azc_buf_free(&mine);
  }
  azc_jinja_free(j);
  if (!st && ok) {
    snprintf(d->name, sizeof(d->name), "%s", builtins[f].name);
    d->system_error = system_raises;
    *verdict = V_SAME;
  } else if (different) {
    *verdict = V_DIFFERENT;
  }
  return st;
}

/* ---- the jinja kind ---- */

static azc_status_t jinja_parse(const char *src, size_t len, azc_jinja_t **out, char *err,
                                size_t err_cap) {
  *out = NULL;
  azc_jinja_result_t r = azc_jinja_parse(src, len, out, err, err_cap);
  if (r == AZC_JINJA_OK) {
    r = azc_jinja_check(*out, err, err_cap);
    if (r != AZC_JINJA_OK) {
      azc_jinja_free(*out);
      *out = NULL;
    }
  }
  if (r == AZC_JINJA_NOMEM) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  one_line(err);
  return r == AZC_JINJA_OK ? NULL : AZC_ERR(AZC_UNSUPPORTED, "%s", err);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "");
  char *d = malloc(n + 1);
  if (d) memcpy(d, s ? s : "", n + 1);
  return d;
}

azc_status_t azc_chat_template_jinja(const char *src, size_t len, const char *bos, const char *eos,
                                     bool strip_bos, azc_chat_template_t **out) {
  *out = NULL;
  char *text = malloc(len + 1);
  if (!text) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  memcpy(text, src, len);
  text[len] = 0;
  azc_jinja_t *j = NULL;
  char err[256] = "";
  azc_status_t st =
      strlen(text) != len ? AZC_ERR(AZC_UNSUPPORTED, "the template holds a NUL byte") : NULL;
  if (!st) st = jinja_parse(text, len, &j, err, sizeof(err));
  if (st) {
    free(text);
    return azc_status_wrap(st, "the model's chat template cannot be evaluated by azc");
  }
  int guess = detect_heuristic(text);
  azc_chat_template_t *t = NULL;
  st = make(F_JINJA, &t);
  if (st) {
    azc_jinja_free(j);
    free(text);
    return st;
  }
  t->jinja = j;
  t->jsrc = text;
  char date[64];
  const char *extra[5];
  t->extra = azc_chat_jinja_extra(text, 0, date, extra);
  if (!(t->jbos = dup_str(bos)) || !(t->jeos = dup_str(eos))) {
    azc_chat_template_destroy(t);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  }
  t->strip_bos = strip_bos;
  /* the turn markers of the format llama.cpp's heuristic names, if any */
  for (int i = 0; guess >= 0 && i < 4 && builtins[guess].stops[i]; i++)
    t->stops[t->n_stops++] = builtins[guess].stops[i];
  *out = t;
  return NULL;
}

/* Whether text holds s without its surrounding whitespace. */
static bool contains_trimmed(const char *text, size_t n, const char *s) {
  size_t a = 0, b = strlen(s);
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && isspace((unsigned char)s[b - 1])) b--;
  if (a == b) return true;
  for (size_t i = 0; i + (b - a) <= n; i++)
    if (!memcmp(text + i, s + a, b - a)) return true;
  return false;
}

/* Whether azc can apply the template by evaluating it: it parses, the
 * evaluator has everything it names, and every probe conversation renders
 * and keeps its user messages (a probe with a system message may raise:
 * the template then rejects system messages). Fills d->jinja, or puts why
 * not into `why`. */
static azc_status_t try_jinja(const char *src, size_t len, const char *bos, const char *eos,
                              azc_chat_detection_t *d, char *why, size_t why_cap) {
  char err[256] = "";
  azc_jinja_t *j = NULL;
  azc_status_t st = jinja_parse(src, len, &j, err, sizeof(err));
  if (st) {
    bool nomem = azc_status_code(st) == AZC_OUT_OF_MEMORY;
    if (!nomem) snprintf(why, why_cap, "azc cannot evaluate the template: %s", err);
    azc_status_free(st);
    return nomem ? AZC_ERR(AZC_OUT_OF_MEMORY, "chat template") : NULL;
  }
  bool ok = true, system_raises = false;
  char date[64];
  const char *extra[5];
  azc_chat_jinja_extra(src, 0, date, extra);
  for (size_t i = 0; ok && !st && i < AZC_ARRAY_SIZE(probes); i++) {
    const probe_t *p = &probes[i];
    azc_buf_t b = {0};
    err[0] = 0;
    azc_jinja_result_t r =
        azc_jinja_render(j, p->msgs, p->n, p->gen, bos, eos, 0, extra, &b, err, sizeof(err));
    if (r == AZC_JINJA_NOMEM || b.oom) {
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
    } else if (r == AZC_JINJA_RAISED && has_system(p)) {
      system_raises = true;
    } else if (r != AZC_JINJA_OK) {
      snprintf(why, why_cap, "%s: %s",
               r == AZC_JINJA_UNSUPPORTED ? "azc cannot evaluate the template"
               : r == AZC_JINJA_RAISED    ? "the template raises an error for a plain conversation"
                                          : "the template fails on a plain conversation",
               err);
      ok = false;
    } else {
      /* (contents with a line break inside are left out: a template may
       * rewrite those, e.g. join the lines) */
      for (size_t k = 0; ok && k < p->n; k++)
        if (!strcmp(p->msgs[k].role, "user") && !strpbrk(p->msgs[k].content, "\n\t") &&
            !contains_trimmed(b.data ? b.data : "", b.len, p->msgs[k].content)) {
          snprintf(why, why_cap,
                   "the template does not write the user's message (\"%s\", conversation of %zu "
                   "messages)",
                   p->msgs[k].content, p->n);
          ok = false;
        }
    }
    azc_buf_free(&b);
  }
  azc_jinja_free(j);
  if (!st && ok) {
    d->jinja = true;
    d->system_error = system_raises;
  }
  return st;
}

azc_status_t azc_chat_template_detect(const char *jinja, size_t len, const char *bos,
                                      const char *eos, azc_chat_detection_t *out) {
  memset(out, 0, sizeof(*out));
  char *src = malloc(len + 1);
  if (!src) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat template");
  memcpy(src, jinja, len);
  src[len] = 0;
  azc_status_t st = NULL;
  int by_name = strlen(src) == len ? fmt_by_name(src) : -1;
  if (by_name >= 0) { /* the template is a builtin's name, as llama.cpp allows */
    snprintf(out->name, sizeof(out->name), "%s", builtins[by_name].name);
    snprintf(out->guess, sizeof(out->guess), "%s", builtins[by_name].name);
  } else if (strlen(src) != len) {
    snprintf(out->reason, sizeof(out->reason), "the template holds a NUL byte");
  } else {
    int f = detect_heuristic(src);
    verdict_t v = V_DIFFERENT;
    if (f < 0) {
      snprintf(out->reason, sizeof(out->reason), "not a format llama.cpp recognises");
    } else {
      snprintf(out->guess, sizeof(out->guess), "%s", builtins[f].name);
      st = verify(src, len, (fmt_t)f, bos ? bos : "", eos ? eos : "", out, &v);
    }
    /* not a builtin: applied by evaluating it, if azc can (a template that
     * failed the verification's renders is refused with that reason) */
    char why[256] = "";
    if (!st && v == V_DIFFERENT)
      st = try_jinja(src, len, bos ? bos : "", eos ? eos : "", out, why, sizeof(why));
    if (!st && v == V_DIFFERENT && !out->jinja) {
      size_t k = strlen(out->reason);
      snprintf(out->reason + k, sizeof(out->reason) - k, ", and %s", why);
      trim_partial_utf8(out->reason);
    }
  }
  one_line(out->reason);
  free(src);
  return st;
}
