/* Writing a compiled model into one bundle file: model metadata, plan,
 * tokenizer, CPU target and kernel objects, run defaults and the weights
 * (copied from the GGUF mapping into a page-aligned section so the runtime
 * maps them zero-copy). The file appears atomically or not at all. */
#ifndef AZC_DRIVER_BUNDLE_EMIT_H
#define AZC_DRIVER_BUNDLE_EMIT_H

#include "driver/compile.h"
#include "frontend/model.h"
#include "runtime/bundle_sections.h"
#include "runtime/chat_info.h"

azc_bundle_defaults_t azc_bundle_defaults_default(void);

/* chat (may be NULL): the optional "chat" section (template, Modelfile).
 * progress (may be NULL): weight bytes written so far, of total. */
azc_status_t azc_bundle_emit(const char *path, const azc_model_t *model, azc_compiled_t *c,
                             const azc_bundle_defaults_t *defaults, const azc_chat_info_t *chat,
                             void (*progress)(void *user, uint64_t done, uint64_t total),
                             void *user);

#endif
