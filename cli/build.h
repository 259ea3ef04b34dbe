/* Building bundles from GGUF files and Modelfiles: what `azc compile` and
 * `azc create` share. A Modelfile's FROM names a GGUF file (compiled), a
 * bundle file or a model in the store (its sections are copied and only the
 * defaults and the chat section are rewritten, as Ollama layers a Modelfile
 * over a base model: the base's template, system prompt, messages and
 * parameters carry over unless the Modelfile replaces them). PARAMETER
 * values become the bundle's defaults record (num_ctx the context, num_gpu
 * the GPU-layer default, num_thread, sampling, seed, num_predict) and the
 * chat section's parameter list; num_batch also sets the compiled batch.
 * Every error is one status naming the Modelfile and line; nothing is
 * written unless the whole build succeeds (the bundle writer is atomic). */
#ifndef AZC_CLI_BUILD_H
#define AZC_CLI_BUILD_H

#include <stdbool.h>

#include "driver/bundle_emit.h"
#include "driver/compile.h"
#include "runtime/chat_info.h"

/* True when `path` is neither a GGUF file nor a bundle (by its first bytes):
 * `azc compile` then reads it as a Modelfile. */
bool cli_is_modelfile(const char *path);

/* Compiles a GGUF into a bundle at `out`, printing each phase and a timing
 * summary. chat (may be NULL) is the chat section to write; the GGUF's chat
 * template and its detection are added to it. */
azc_status_t cli_compile_gguf(const char *gguf_path, const char *out, azc_compile_options_t *opt,
                              const azc_bundle_defaults_t *defaults, azc_chat_info_t *chat);

/* Builds the Modelfile at `mf_path` into a bundle at `out`. opt carries the
 * command line's compile options (target, jobs, cache). */
azc_status_t cli_build_modelfile(const char *mf_path, const char *out, azc_compile_options_t *opt);

#endif
