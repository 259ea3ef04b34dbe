/* Modelfiles, in Ollama's grammar exactly (Ollama's parser/parser.go):
 *
 *   # a comment: '#' at the start of a line (after spaces) only
 *   FROM ./model.gguf             a path relative to the Modelfile, or a model in the store
 *   PARAMETER num_ctx 4096        any option of Ollama's API (runtime/model_options.h)
 *   PARAMETER stop "<|eot_id|>"   repeatable
 *   TEMPLATE """{{ .Prompt }}"""  "..." and """...""" quotes; both may span lines
 *   SYSTEM You are terse.
 *   MESSAGE user Hello            role system, user or assistant
 *   LICENSE """..."""             repeatable
 *   DRAFT ./small.gguf            the draft model for speculative decoding (stored)
 *   REQUIRES 0.1.0                a semver, checked against azc's version
 *
 * Instructions are case-insensitive. A value runs to the end of the line
 * (inner and trailing spaces included, leading and trailing spaces trimmed;
 * a '#' inside a value is part of it) unless it opens a quote, which then
 * runs to its closing quote across lines; the quotes are removed and what
 * they enclose is kept as is. The file may be UTF-8 (with or without BOM) or
 * UTF-16 with a BOM. Characters Go does not consider printable are dropped
 * outside quotes' line breaks, as Ollama's reader does (its test for that is
 * strconv.IsPrint; azc's approximation treats unassigned code points as
 * printable).
 *
 * Everything wrong is one status whose message is "FILE:LINE: ..." naming
 * the offending word: an unknown instruction, a bad parameter name or value,
 * a bad message role, an unclosed quote (the line it opened on), a missing
 * value, no FROM line, ADAPTER/RENDERER/PARSER (not supported by azc), a
 * REQUIRES azc does not meet, a TEMPLATE that does not parse. Deprecated
 * parameters are warnings, as in Ollama. */
#ifndef AZC_FRONTEND_MODELFILE_H
#define AZC_FRONTEND_MODELFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/base/status.h"
#include "runtime/chat_info.h"
#include "runtime/model_options.h"

typedef enum azc_mf_kind {
  AZC_MF_FROM,
  AZC_MF_PARAMETER,
  AZC_MF_TEMPLATE,
  AZC_MF_SYSTEM,
  AZC_MF_MESSAGE,
  AZC_MF_LICENSE,
  AZC_MF_DRAFT,
  AZC_MF_REQUIRES,
  AZC_MF_ADAPTER,
  AZC_MF_RENDERER,
  AZC_MF_PARSER,
} azc_mf_kind_t;

typedef struct azc_mf_command {
  azc_mf_kind_t kind;
  char *name; /* PARAMETER: the parameter; MESSAGE: the role; else NULL */
  char *args; /* the value, unquoted */
  int line;   /* where the instruction starts */
} azc_mf_command_t;

typedef struct azc_modelfile {
  char *path; /* as given, for messages */
  char *text; /* the file as UTF-8 (what `azc show --modelfile` prints) */
  size_t text_len;
  azc_mf_command_t *cmds;
  size_t n_cmds;
} azc_modelfile_t;

/* Parses Modelfile bytes (grammar only: names, quotes, roles, FROM
 * present). `path` names the file in messages. */
azc_status_t azc_modelfile_parse(const char *path, const void *data, size_t len,
                                 azc_modelfile_t **out);
azc_status_t azc_modelfile_read(const char *path, azc_modelfile_t **out);
void azc_modelfile_free(azc_modelfile_t *mf);

/* Modelfile text as Ollama's `show --modelfile` writes commands back
 * (Command.String): one instruction per line, values quoted when they need
 * it. Parsing the result gives the same commands. malloc'd. */
azc_status_t azc_modelfile_format(const azc_modelfile_t *mf, char **out);

typedef void (*azc_mf_warn_fn)(void *user, const char *message);

/* Checks what the grammar cannot (parameter names and values, REQUIRES
 * against azc's version, TEMPLATE syntax, the unsupported instructions, one
 * FROM) and records the result: the options set by PARAMETER lines into
 * *opts (on top of what it holds), and TEMPLATE, SYSTEM, MESSAGEs, LICENSEs,
 * DRAFT (as written), REQUIRES, FROM (as written), the PARAMETER lines and
 * the text into ci. Values given replace those in ci (a base model's);
 * MESSAGEs, if any, replace the base's; LICENSEs are added. Deprecated
 * parameters are reported through warn ("FILE:LINE: parameter mirostat is
 * deprecated ..."). */
azc_status_t azc_modelfile_apply(const azc_modelfile_t *mf, azc_options_t *opts,
                                 azc_chat_info_t *ci, azc_mf_warn_fn warn, void *user);

/* The FROM value (the first FROM command), or NULL. */
const azc_mf_command_t *azc_modelfile_from(const azc_modelfile_t *mf);

/* Compares semantic versions ("0.1.0", "v1.2", "1.2.3-rc1"); false when
 * `version` is not one (Go's golang.org/x/mod/semver after Ollama adds the v). */
bool azc_semver_valid(const char *version);
int azc_semver_compare(const char *a, const char *b);

#endif
