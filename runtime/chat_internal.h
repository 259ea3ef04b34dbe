/* Pieces shared by the chat template files (not public): a growable byte
 * buffer, the Jinja evaluator that verifies detected templates and applies
 * the others (chat_jinja.c, chat_jinja_eval.c, chat_jinja_check.c) and the
 * Go-template engine for Modelfile TEMPLATEs (chat_gotmpl.c). */
#ifndef AZC_RUNTIME_CHAT_INTERNAL_H
#define AZC_RUNTIME_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/buf.h"
#include "runtime/base/status.h"
#include "runtime/chat_template.h"

/* ---- Jinja (chat_jinja.c) ---- */

typedef enum azc_jinja_result {
  AZC_JINJA_OK = 0,
  AZC_JINJA_RAISED, /* the template called raise_exception(...) */
  AZC_JINJA_ERROR,  /* what Jinja reports as an error (undefined attribute of undefined, ...) */
  AZC_JINJA_UNSUPPORTED, /* a construct azc's evaluator does not implement */
  AZC_JINJA_NOMEM,
} azc_jinja_result_t;

typedef struct azc_jinja azc_jinja_t;

/* Parses a template as Hugging Face's chat templating configures Jinja
 * (trim_blocks, lstrip_blocks). err receives a message on failure. The
 * tree's text nodes point into src: it must outlive the tree. */
azc_jinja_result_t azc_jinja_parse(const char *src, size_t len, azc_jinja_t **out, char *err,
                                   size_t err_cap);
/* Renders with messages, add_generation_prompt, bos_token, eos_token,
 * raise_exception and strftime_now defined (as llama.cpp's minja does; tools
 * undefined), and the string variables of `extra` (name, value, ...,
 * NULL; may be NULL). now: the time strftime_now formats, in Unix seconds
 * read as UTC (tests fix it), or 0 for the current local time. The tree is
 * only read, so renders of one template may run in several threads at
 * once. */
azc_jinja_result_t azc_jinja_render(const azc_jinja_t *t, const azc_chat_message_t *msgs, size_t n,
                                    bool add_generation_prompt, const char *bos, const char *eos,
                                    int64_t now, const char *const *extra, azc_buf_t *out,
                                    char *err, size_t err_cap);

/* The variables llama.cpp's --jinja mode gives a template beyond the ones
 * above (common/chat.cpp, its handlers without tools): Firefunction v2's
 * (" functools[" in the template) datetime, now as "%b %d %Y %H:%M:%S GMT",
 * and functions, "". extra receives name/value pairs and a NULL (at most 5
 * entries); date holds the date's text; now as for azc_jinja_render.
 * Returns whether the template gets any. */
bool azc_chat_jinja_extra(const char *src, int64_t now, char date[64], const char *extra[5]);
void azc_jinja_free(azc_jinja_t *t);

/* Looks up every filter, test, method and function a parsed template names,
 * in every branch: UNSUPPORTED with err naming the first the evaluator does
 * not have ("line 3: the filter 'wordwrap'"), else OK (chat_jinja_check.c). */
azc_jinja_result_t azc_jinja_check(const azc_jinja_t *t, char *err, size_t err_cap);

enum {
  AZC_JINJA_KNOWN_FILTERS,
  AZC_JINJA_KNOWN_TESTS,
  AZC_JINJA_KNOWN_METHODS,
  AZC_JINJA_KNOWN_FUNCTIONS
};
/* The names azc_jinja_check accepts, of one kind (borrowed). */
size_t azc_jinja_known(int kind, const char *const **names);

/* ---- Go templates (chat_gotmpl.c) ---- */

typedef struct azc_gotmpl azc_gotmpl_t;

azc_status_t azc_gotmpl_parse(const char *src, size_t len, azc_gotmpl_t **out);
/* Ollama's Template.Execute for a chat (no tools), with the result appended
 * to out. */
azc_status_t azc_gotmpl_execute_chat(const azc_gotmpl_t *t, const azc_chat_message_t *msgs,
                                     size_t n, bool add_generation_prompt, azc_buf_t *out);
void azc_gotmpl_free(azc_gotmpl_t *t);

#endif
