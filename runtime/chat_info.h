/* A model's chat data, as the bundle's optional "chat" section stores it:
 * what a Modelfile said (TEMPLATE, SYSTEM, MESSAGEs, PARAMETERs, LICENSEs,
 * DRAFT, REQUIRES, FROM and its whole text) and what azc found in the GGUF
 * (its tokenizer.chat_template and the builtin format that template was
 * verified to be, or that azc applies it by evaluating it and why it is not
 * a builtin, or why it was refused). `azc show`, `azc chat` and the
 * server read it; the compiler writes it.
 *
 * Section layout (docs/bundle-format.md, "chat"): magic "AZCCHAT1", u32
 * entry count, u32 reserved, then entries of u32 tag, u32 length and that
 * many bytes (UTF-8, no NUL), back to back. Tags a reader does not know are
 * skipped, so fields can be added without a new magic. */
#ifndef AZC_RUNTIME_CHAT_INFO_H
#define AZC_RUNTIME_CHAT_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/chat_template.h"
#include "runtime/tokenizer.h"

enum azc_chat_tag {
  AZC_CHAT_TEMPLATE = 1,         /* Modelfile TEMPLATE (Go template) */
  AZC_CHAT_GGUF_TEMPLATE = 2,    /* the GGUF's tokenizer.chat_template (Jinja) */
  AZC_CHAT_TEMPLATE_NAME = 3,    /* the builtin that template was verified to be */
  AZC_CHAT_TEMPLATE_REFUSAL = 4, /* why it was refused */
  AZC_CHAT_SYSTEM = 5,
  AZC_CHAT_MESSAGE = 6,         /* role, NUL, content (repeatable) */
  AZC_CHAT_PARAMETER = 7,       /* name, NUL, value as written (repeatable) */
  AZC_CHAT_LICENSE = 8,         /* repeatable */
  AZC_CHAT_DRAFT = 9,           /* the draft model: a resolved path, or a store name */
  AZC_CHAT_REQUIRES = 10,       /* the azc version the Modelfile requires */
  AZC_CHAT_MODELFILE = 11,      /* the Modelfile's text */
  AZC_CHAT_FROM = 12,           /* FROM as written */
  AZC_CHAT_NO_SYSTEM = 13,      /* empty: the verified template rejects system messages */
  AZC_CHAT_TEMPLATE_JINJA = 14, /* the GGUF template is applied by evaluating it (the jinja
                                   kind); the text: why it is not a builtin */
};

typedef struct azc_chat_info {
  char *template_src; /* NULL when none (each string below likewise) */
  char *gguf_template;
  char *template_name;
  char *template_refusal;
  char *template_jinja; /* the jinja kind: why the GGUF template is not a builtin */
  bool no_system;
  char *system;
  size_t n_messages;
  char **msg_role, **msg_content;
  size_t n_params;
  char **param_name, **param_value;
  size_t n_licenses;
  char **licenses;
  char *draft, *requires, *modelfile, *from;
} azc_chat_info_t;

/* Every field empty. */
azc_chat_info_t *azc_chat_info_create(void);
void azc_chat_info_destroy(azc_chat_info_t *ci);
/* Setters copy their arguments (s may be NULL to clear a single field). */
azc_status_t azc_chat_info_set(azc_chat_info_t *ci, int tag, const char *s, size_t len);
azc_status_t azc_chat_info_add_message(azc_chat_info_t *ci, const char *role, const char *content);
azc_status_t azc_chat_info_add_param(azc_chat_info_t *ci, const char *name, const char *value);
azc_status_t azc_chat_info_add_license(azc_chat_info_t *ci, const char *text);
/* Drops every parameter named `name` (a later PARAMETER replaces a base
 * model's; stop strings accumulate instead, as in Ollama). */
void azc_chat_info_remove_params(azc_chat_info_t *ci, const char *name);

azc_status_t azc_chat_info_serialize(const azc_chat_info_t *ci, uint8_t **out, size_t *out_size);
/* Checks every length and tag; a damaged section is CORRUPT naming the entry. */
azc_status_t azc_chat_info_parse(const uint8_t *data, size_t size, azc_chat_info_t **out);

/* Records a GGUF's tokenizer.chat_template and what detection found for it
 * (azc_chat_template_detect with the model's BOS and EOS texts): the
 * verified builtin's name, or the jinja kind and why it is not a builtin, or
 * the refusal's reason; no_system when the template rejects system
 * messages. len 0 clears them (no template). */
azc_status_t azc_chat_info_set_gguf_template(azc_chat_info_t *ci, const char *jinja, size_t len,
                                             const azc_tokenizer_t *tok);

/* The template a chat uses: the Modelfile TEMPLATE if there is one, else the
 * verified builtin of the GGUF template, else the GGUF template itself
 * evaluated (the jinja kind), else Ollama's default "{{ .Prompt }}" when the
 * model has no template at all. A GGUF template that was refused and no
 * TEMPLATE is an UNSUPPORTED error that gives the reason and says to add a
 * TEMPLATE to a Modelfile. ci may be NULL (no chat data). tok: the model's
 * tokenizer, for its BOS and EOS texts and whether it adds a BOS (see
 * azc_chat_template_for_model and azc_chat_template_jinja); NULL: none. */
azc_status_t azc_chat_info_template(const azc_chat_info_t *ci, const azc_tokenizer_t *tok,
                                    azc_chat_template_t **out);

/* The messages a chat turn renders, as Ollama builds them: the Modelfile's
 * SYSTEM first when the conversation has no system message of its own, then
 * the Modelfile's MESSAGEs, then the conversation. *out is malloc'd (the
 * strings are borrowed from ci and conv). */
azc_status_t azc_chat_info_messages(const azc_chat_info_t *ci, const azc_chat_message_t *conv,
                                    size_t n, azc_chat_message_t **out, size_t *n_out);

/* The stored text of token `id` as a NUL-terminated string (what llama.cpp
 * passes as bos_token/eos_token), "" for -1 or a text that does not fit. */
void azc_chat_token_text(const azc_tokenizer_t *tok, int32_t id, char *buf, size_t cap);

#endif
