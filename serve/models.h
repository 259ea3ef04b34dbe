/* The models a server serves, by name: the bundles named on the command line
 * (served under their file name without the extension) and every model in
 * the store (looked up again at each request, so `azc create` adds models
 * to a running server). A model is loaded at its first request (bundle
 * opened, executor with one KV-cache sequence per slot, chat template,
 * stored options, engine) and unloaded as Ollama's keep_alive says: 5
 * minutes after its last request by default, at once for 0, never for a
 * negative value; a request's keep_alive becomes the model's. */
#ifndef AZC_SERVE_MODELS_H
#define AZC_SERVE_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/chat_template.h"
#include "runtime/model_bundle.h"
#include "runtime/model_options.h"
#include "runtime/model_store.h"
#include "serve/engine.h"

#define SERVE_KEEP_ALIVE_DEFAULT_NS (5LL * 60 * 1000000000)

typedef struct serve_model {
  char name[AZC_MODEL_NAME_MAX];
  char *path;
  bool from_store;
  uint64_t size;
  int64_t modified_unix;
  char digest[17];
  /* while loaded */
  azc_bundle_model_t *bundle;
  azc_executor_t *ex;
  serve_engine_t *engine;
  azc_chat_template_t *tmpl; /* NULL: template_error says why */
  char template_error[512];
  azc_options_t stored;
  int32_t n_ctx;       /* positions per slot of the loaded executor */
  int32_t default_ctx; /* a request without num_ctx: -c, else the stored num_ctx, else min(trained, 4096) */
  int32_t max_ctx;     /* a request's num_ctx is clamped to this: max(trained, default_ctx) */
  int64_t loaded_unix;
  /* registry state (under the registry's lock) */
  bool loading, unloading;
  int active; /* requests holding the model */
  int64_t keep_alive_ns;
  int64_t expires_ns; /* monotonic; valid when loaded, idle and keep_alive >= 0 */
} serve_model_t;

typedef struct serve_models_params {
  const char *store_dir; /* NULL: from the environment */
  const char *const *paths;
  int n_paths;
  int32_t n_slots, queue_depth, n_ctx, n_threads; /* n_ctx, n_threads 0: the model's */
  serve_metrics_t *metrics;
  int32_t kv_type; /* an azc_kv_type_t or AZC_KV_TYPE_AUTO */
  int64_t batch_window_ns; /* serve_engine_params_t.batch_window_ns */
} serve_models_params_t;

typedef struct serve_models serve_models_t;

azc_status_t serve_models_create(const serve_models_params_t *p, serve_models_t **out);
void serve_models_destroy(serve_models_t *m);

/* The model called `name`, loaded, held until serve_models_release.
 * *load_ns: time this call spent loading (0 when it was loaded). Unknown
 * names are NOT_FOUND naming the model. */
azc_status_t serve_models_acquire(serve_models_t *m, const char *name, serve_model_t **out,
                                  int64_t *load_ns);
/* A request (holding x) whose num_ctx is more than the loaded context:
 * waits until no other request holds the model (new ones wait), then
 * replaces its executor and engine with ones of n_ctx positions per slot
 * (the bundle stays open; the slots' cached prompts are lost). On failure
 * the old context is restored and the error names the size. *load_ns: the
 * time it took. */
azc_status_t serve_models_grow_context(serve_models_t *m, serve_model_t *x, int32_t n_ctx,
                                       int64_t *load_ns);
/* keep_alive_set: the request gave keep_alive_ns (< 0: forever). */
void serve_models_release(serve_models_t *m, serve_model_t *model, bool keep_alive_set,
                          int64_t keep_alive_ns);
/* Unloads a model now if no request holds it (keep_alive 0 with no prompt);
 * NOT_FOUND for an unknown name. */
azc_status_t serve_models_unload(serve_models_t *m, const char *name);

/* Calls fn for every model (loaded_only: only those loaded), sorted by
 * name, with the registry locked (fn must not call back into it). The
 * store is scanned again first. */
void serve_models_each(serve_models_t *m, bool loaded_only,
                       void (*fn)(void *user, const serve_model_t *model, int64_t expires_unix_ns),
                       void *user);
int serve_models_loaded_count(serve_models_t *m);

#endif
