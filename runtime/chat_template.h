/* Chat templates: how a conversation (system, user and assistant messages)
 * becomes the one prompt text a model was trained on.
 *
 * Four kinds:
 *   - builtin: llama.cpp's hand-written formats (chatml, llama2 and its
 *     system variants, llama3, mistral v1/v3/v3-tekken/v7, phi3, phi4,
 *     gemma, zephyr, deepseek, deepseek2, deepseek3, command-r, falcon3,
 *     granite, ... - the list of llm_chat_apply_template), each rendered
 *     byte for byte as llama.cpp renders it.
 *   - a GGUF's tokenizer.chat_template (Jinja) that is a builtin:
 *     recognised as llama.cpp's llm_chat_detect_template recognises it (its
 *     name, or the same substring heuristics in the same order), and then
 *     verified: azc renders the template itself, with its own small Jinja
 *     evaluator (chat_jinja.c), on a fixed set of probe conversations (with
 *     and without a system message, several turns, with and without the
 *     generation prompt, padded contents) and accepts the builtin only if
 *     every rendering is the same (the fast path: no evaluation per turn).
 *     A template that raises an error for system messages (gemma's) is
 *     accepted with that restriction: rendering a system message then fails
 *     as the template would.
 *   - jinja: a GGUF template that is not a builtin (a default system prompt,
 *     a date line, a format llama.cpp does not know) is applied by
 *     evaluating it, as llama.cpp's --jinja mode does with its minja engine:
 *     messages (role, content), add_generation_prompt, bos_token, eos_token,
 *     raise_exception (an error status carrying the template's message) and
 *     strftime_now (today's date; a fixed one in tests) are defined, tools
 *     are not. It is accepted only when azc's evaluator has every filter,
 *     test, method and function the template names (in every branch) and
 *     renders the probe conversations (a system message may raise); any
 *     other template is refused with the reason, naming the construct:
 *     azc never applies a format the model's own template would not
 *     produce.
 *   - a Modelfile TEMPLATE in Ollama's Go-template subset (chat_gotmpl.c):
 *     {{ .System }}, {{ .Prompt }}, {{ .Response }}, {{ if }}/{{ else }}/
 *     {{ else if }}/{{ end }}, {{ range .Messages }} with .Role and .Content,
 *     {{ with }}, $variables, eq/ne/and/or/not/len/index/slice, and {{- -}}
 *     trimming, executed as Ollama executes it (a template without .Messages
 *     runs once per turn, the last one cut after {{ .Response }}).
 *
 * Rendered prompts follow llama.cpp's convention for what a tokenizer then
 * sees: no leading BOS (the tokenizer adds it when the model says so) and no
 * trailing EOS text (a conversation that ends with an assistant message and
 * no generation prompt continues that message).
 *
 * Every template also names its stop strings (the text that ends a turn):
 * a builtin's turn markers; for the jinja kind those of the builtin
 * llama.cpp's heuristic names for the template, if any; the model's
 * end-of-generation tokens end a turn too (generate.c). */
#ifndef AZC_RUNTIME_CHAT_TEMPLATE_H
#define AZC_RUNTIME_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

typedef struct azc_chat_message {
  const char *role; /* "system", "user", "assistant" (others pass through to the template) */
  const char *content;
} azc_chat_message_t;

typedef struct azc_chat_template azc_chat_template_t;

/* A builtin by llama.cpp's name ("chatml", "llama3", ...). NOT_FOUND lists
 * the names. */
azc_status_t azc_chat_template_builtin(const char *name, azc_chat_template_t **out);
/* A Modelfile TEMPLATE (Go template syntax); a syntax error names the line
 * and column. */
azc_status_t azc_chat_template_go(const char *src, size_t len, azc_chat_template_t **out);
void azc_chat_template_destroy(azc_chat_template_t *t);

/* What detection found for a GGUF template: a builtin (name), the jinja kind
 * (jinja), or neither (refused). */
typedef struct azc_chat_detection {
  char name[32];     /* the builtin it is, or "" when it is not one */
  char guess[32];    /* llama.cpp's heuristic answer ("" when it has none) */
  bool jinja;        /* not a builtin; applied by evaluating it (azc_chat_template_jinja) */
  char reason[512];  /* jinja: why it is not a builtin; refused: why azc cannot apply it */
  bool system_error; /* accepted, but the template rejects system messages */
} azc_chat_detection_t;

/* Detects and verifies a GGUF chat template (see above). bos/eos are the
 * model's BOS and EOS token texts (what llama.cpp passes as bos_token and
 * eos_token; "" when the model has none). Never fails for a template it
 * cannot use: that is a detection with an empty name, jinja false and a
 * reason. Fails only for out-of-memory. */
azc_status_t azc_chat_template_detect(const char *jinja, size_t len, const char *bos,
                                      const char *eos, azc_chat_detection_t *out);

/* The template for a model whose GGUF template was accepted as builtin
 * `name`: system_error as detection said, eos the model's EOS text (one
 * trailing copy is removed from renderings, as llama.cpp does). */
azc_status_t azc_chat_template_for_model(const char *name, bool system_error, const char *eos,
                                         azc_chat_template_t **out);

/* The jinja kind: a GGUF template applied by evaluating it (see above). The
 * template is parsed and checked (every filter, test, method and function
 * it names must be one azc's evaluator has); UNSUPPORTED names the first
 * that is not. bos/eos: the model's BOS and EOS texts, given to the
 * template as bos_token and eos_token; a rendering that starts with bos
 * loses it when strip_bos (the tokenizer adds the BOS: llama.cpp's add_bos),
 * and one trailing eos is cut, as for the builtins. Rendering a
 * conversation the template rejects (raise_exception) is an
 * INVALID_ARGUMENT error carrying the template's message; one that uses
 * what the evaluator lacks on that data is UNSUPPORTED naming it. */
azc_status_t azc_chat_template_jinja(const char *src, size_t len, const char *bos, const char *eos,
                                     bool strip_bos, azc_chat_template_t **out);
/* The time strftime_now formats for a jinja template, in Unix seconds read
 * as UTC (tests fix it); 0, the default: the current local time, as
 * llama.cpp's minja. No effect on other kinds. */
void azc_chat_template_set_time(azc_chat_template_t *t, int64_t now);

/* Renders a conversation. add_generation_prompt: end with the start of an
 * assistant turn. The result is malloc'd and NUL-terminated. */
azc_status_t azc_chat_template_apply(const azc_chat_template_t *t, const azc_chat_message_t *msgs,
                                     size_t n, bool add_generation_prompt, char **out,
                                     size_t *out_len);

/* "chatml", ... for a builtin, "jinja" for a template azc evaluates, or
 * "modelfile" for a Go template. */
const char *azc_chat_template_name(const azc_chat_template_t *t);
/* The template's stop strings (borrowed; may be none). */
size_t azc_chat_template_stops(const azc_chat_template_t *t, const char *const **stops);

/* llama.cpp's builtin names, in its table's order. */
size_t azc_chat_template_builtin_names(const char *const **names);

#endif
